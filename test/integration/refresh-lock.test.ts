/**
 * The Redis refresh lock on a real redis-server, between two "instances" (two backends, two locks): the lease is
 * renewed while a slow refresh runs, so nobody else gets in; the in-process single flight in front means one Redis
 * lock attempt for fifty callers; and a waiter that cannot get the lock gives up after lease + refresh, not never.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BffError } from '../../server/errors.ts';
import { createRedisBackend, type RedisBackend } from '../../server/session/redis-backend.ts';
import { createRedisRefreshLock, refreshLockKey } from '../../server/tokens/refresh-lock.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';

let redis: RedisServer;
let one: RedisBackend;
let two: RedisBackend;

beforeAll(async () => {
  redis = await startRedis();
  [one, two] = await Promise.all([createRedisBackend(redis.url), createRedisBackend(redis.url)]);
});
afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
  await redis?.stop();
});

/** SET calls Redis has served so far (INFO commandstats). */
async function setCalls(): Promise<number> {
  const info = await one.client.info('commandstats');
  return Number(/cmdstat_set:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe('Redis refresh lock', () => {
  it('renews the lease while a slow refresh runs, so the other instance waits for it', async () => {
    const leaseMs = 300;
    const a = createRedisRefreshLock({ redis: one, leaseMs, refreshTimeoutMs: 5_000 });
    const b = createRedisRefreshLock({ redis: two, leaseMs, refreshTimeoutMs: 5_000 });
    let running = 0;
    let most = 0;
    const spans: Array<[number, number]> = [];
    const refresh = (ms: number) => async () => {
      const start = Date.now();
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
      spans.push([start, Date.now()]);
      return start;
    };

    const first = a.run('session-slow', refresh(4 * leaseMs)); // four leases long
    await sleep(50);
    const second = b.run('session-slow', refresh(10));

    const [firstStart, secondStart] = await Promise.all([first, second]);
    expect(most).toBe(1);
    expect(secondStart).toBeGreaterThanOrEqual(firstStart + 4 * leaseMs);
    expect(await one.client.exists(refreshLockKey(one.prefix, 'session-slow'))).toBe(0); // released
  });

  it('makes one Redis lock attempt for fifty concurrent callers on one instance, and gives all of them its result', async () => {
    const lock = createRedisRefreshLock({ redis: one, refreshTimeoutMs: 5_000 });
    const before = await setCalls();
    let tasks = 0;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        lock.run('session-fifty', async () => {
          tasks++;
          await sleep(20);
          return 'new-access-token';
        }),
      ),
    );
    expect(results).toEqual(Array(50).fill('new-access-token'));
    expect(tasks).toBe(1);
    expect((await setCalls()) - before).toBe(1);
  });

  it('gives up after lease + refresh when the lock never frees, with a 503 and not a hang', async () => {
    const lock = createRedisRefreshLock({ redis: two, leaseMs: 200, refreshTimeoutMs: 300 });
    const key = refreshLockKey(two.prefix, 'session-stuck');
    await one.client.set(key, 'someone-else', { expiration: { type: 'PX', value: 60_000 } });
    const started = Date.now();
    const error = await lock.run('session-stuck', async () => 'never').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BffError);
    expect((error as BffError).status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(await one.client.get(key)).toBe('someone-else'); // not ours: left alone
  });
});
