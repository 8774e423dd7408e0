/**
 * Redis behind a network partition (a TCP relay that goes silent, test/support/tcp-relay.ts): requests get their 503
 * within about a second while it lasts, and once Redis can be reached again the backend works again by itself —
 * although the connection it had is half-open and would stay stuck until TCP gave up on it, many minutes later.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BffError } from '../../server/errors.ts';
import { createRedisBackend, type RedisBackend } from '../../server/session/redis-backend.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.ts';

let redis: RedisServer;
let relay: TcpRelay;
let backend: RedisBackend;

beforeAll(async () => {
  redis = await startRedis();
  relay = await startTcpRelay(redis.port);
  backend = await createRedisBackend(`redis://127.0.0.1:${relay.port}`);
});
afterAll(async () => {
  await backend?.close();
  await relay?.close();
  await redis?.stop();
});

describe('a network partition between an instance and Redis', () => {
  it('answers 503 within about a second during it, and works again soon after it heals', async () => {
    await backend.set('partition-test', 'before', 60_000);
    relay.cut();

    // Requests keep coming during the partition; each fails on time.
    const partitionEnds = Date.now() + 3_500;
    while (Date.now() < partitionEnds) {
      const started = Date.now();
      const error = await backend.get('partition-test').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BffError);
      expect((error as BffError).code).toBe('session_store_unavailable');
      expect(Date.now() - started).toBeLessThan(2_000);
    }

    relay.heal();
    await vi.waitFor(async () => expect(await backend.get('partition-test')).toBe('before'), {
      timeout: 5_000,
      interval: 100,
    });
  });
});
