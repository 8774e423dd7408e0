/**
 * The seam for "only one refresh per session at a time". In one process a map of in-flight promises is enough:
 * whoever comes while a refresh runs waits for it and gets its result. Several processes behind a load balancer
 * need a shared lock as well; on Redis that is `SET <prefix>lock:<hash> <random> NX PX <lease>`, renewed while the
 * holder works and released with compare-and-delete. The task run under the lock (refresh.ts) re-reads the stored
 * token set first, so whoever gets the lock after the winner finds the winner's new set and uses it as is: a loser
 * never refreshes, it only reads. docs/architecture.md has the design and its failure cases.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BffError, ErrorCode } from '../errors.ts';
import type { RedisBackend } from '../session/redis-backend.ts';

export interface RefreshLock {
  /** Runs `task` for `key` unless a run for `key` is in flight; then returns that run's promise. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
}

export function createInProcessRefreshLock(): RefreshLock {
  const inFlight = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const running = inFlight.get(key);
      if (running) return running as Promise<T>;
      const promise = task().finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      return promise;
    },
  };
}

export interface RedisRefreshLockOptions {
  /** The session store's Redis: the lock lives next to the token sets it guards, under the same prefix. */
  readonly redis: RedisBackend;
  /**
   * How long a holder that stops renewing (crashed, frozen, cut off) blocks the others. The holder renews every third
   * of it, so it only has to outlast a pause, not a refresh.
   */
  readonly leaseMs?: number;
  /** The longest one refresh may take (discovery + token request): a waiter gives up after lease + this. */
  readonly refreshTimeoutMs: number;
  /** How often a waiter tries to take the lock. */
  readonly pollMs?: number;
}

export const DEFAULT_LEASE_MS = 5_000;
const DEFAULT_POLL_MS = 25;

/** Deletes the key only while it still holds our token: a holder whose lease ran out must not free a successor's. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
/** Extends the lease only while it is still ours. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** The lock key of a session: hashed like its storage keys (crypto.ts), so no session id is ever a Redis key. */
export function refreshLockKey(prefix: string, sessionId: string): string {
  return `${prefix}lock:${createHash('sha256').update(sessionId).digest('base64url')}`;
}

/**
 * The in-process single flight stays in front: fifty requests on one instance make one Redis lock attempt, and all
 * fifty get its result.
 *
 * Waiters poll with `SET NX` rather than subscribe: a refresh takes a fraction of a second and happens about once an
 * access-token lifetime per session, so a few 25 ms polls cost Redis almost nothing, need no subscriber connection
 * per instance, and cannot miss a wake-up — a pub/sub message is lost when the holder dies or Redis fails over, and
 * then the waiter would have to poll for the lease to run out anyway.
 */
export function createRedisRefreshLock(options: RedisRefreshLockOptions): RefreshLock {
  const { redis, refreshTimeoutMs } = options;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const local = createInProcessRefreshLock();

  async function acquire(lockKey: string, token: string): Promise<boolean> {
    const reply = await redis.command((client) =>
      client.set(lockKey, token, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } }),
    );
    return reply === 'OK';
  }

  async function runLocked<T>(sessionId: string, task: () => Promise<T>): Promise<T> {
    const lockKey = refreshLockKey(redis.prefix, sessionId);
    const token = randomBytes(16).toString('base64url');
    // Nobody waits longer than one lease (a dead holder's) plus one refresh (the holder's, or the successor's).
    const deadline = Date.now() + leaseMs + refreshTimeoutMs;
    while (!(await acquire(lockKey, token))) {
      if (Date.now() >= deadline) {
        throw new BffError(ErrorCode.IdentityServiceUnavailable, {
          logDetail: `waited ${leaseMs + refreshTimeoutMs} ms for another instance's token refresh`,
        });
      }
      await sleep(pollMs);
    }

    // Renewal only extends a lease that is still ours (a stall longer than the lease, or a failover, may have let a
    // successor in; docs/architecture.md says what that costs). If Redis is unreachable the lease simply runs out.
    const renew = setInterval(() => {
      redis
        .command((client) => client.eval(RENEW, { keys: [lockKey], arguments: [token, String(leaseMs)] }))
        .catch(() => {});
    }, leaseMs / 3);
    try {
      return await task();
    } finally {
      clearInterval(renew);
      // If Redis is unreachable now, the lease frees the lock by itself; the task's result still stands.
      await redis
        .command((client) => client.eval(RELEASE, { keys: [lockKey], arguments: [token] }))
        .catch(() => {});
    }
  }

  return {
    run: (sessionId, task) => local.run(sessionId, () => runLocked(sessionId, task)),
  };
}
