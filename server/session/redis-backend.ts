/**
 * The backend for several instances: every instance sees the same sessions, token sets and login transactions.
 * Values are sealed before they reach Redis, so a Redis dump holds no readable token.
 *
 * Fail fast: node-redis would queue commands while it reconnects and answer them when Redis is back, which turns a
 * Redis outage into requests that hang for as long as the outage lasts. Here the offline queue is off and every
 * command gets an answer within a short timeout, so a request that needs Redis while it is unreachable fails within about a second
 * with `session_store_unavailable` (503) — never a hang, and never "no session", which would sign the user out.
 * The client keeps reconnecting with backoff in the background; the first command after Redis is back succeeds.
 */
import { createClient } from 'redis';
import { BffError, ErrorCode } from '../errors.ts';
import type { KeyValueBackend } from './backend.ts';

export type RedisClient = ReturnType<typeof createClient>;

/**
 * A group is one Redis hash; each field's value is `<expiresAt ms>|<value>`, since per-field expiry (HPEXPIRE) needs
 * Redis 7.4. The hash itself lives as long as its longest-lived member: PEXPIRE only ever extends it here.
 */
const PUT_MEMBER = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

function ttlOf(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

/** A KeyValueBackend on Redis that also lends its connection to the cross-instance refresh lock. */
export interface RedisBackend extends KeyValueBackend {
  readonly kind: 'redis';
  readonly client: RedisClient;
  /** SESSION_REDIS_PREFIX: every key this app writes starts with it. */
  readonly prefix: string;
  /** Runs a command with the same bound as every backend call: an answer within the timeout, or a 503 BffError. */
  command<T>(run: (client: RedisClient) => Promise<T>): Promise<T>;
}

export interface RedisBackendOptions {
  /** How long a command or a connection attempt may take before it fails; about a second. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
/** No answer at all for this long (three command timeouts): the connection is taken for dead and replaced. */
const SILENT_CONNECTION_MS = (timeoutMs: number) => 3 * timeoutMs;

/**
 * The error every Redis failure becomes: the error handler answers it with 503 JSON for API calls and the error page
 * for pages. The cause goes to the log only.
 */
export function sessionStoreUnavailable(cause: unknown): BffError {
  return new BffError(ErrorCode.SessionStoreUnavailable, {
    cause,
    message: 'The session store is not available. Try again in a moment; you are still signed in.',
    logDetail: `Redis: ${(cause as Error)?.message ?? String(cause)}`,
  });
}

export function isRedisBackend(backend: KeyValueBackend): backend is RedisBackend {
  return (backend as Partial<RedisBackend>).kind === 'redis';
}

export async function createRedisBackend(
  url: string,
  prefix = 'creatio-bff:',
  options: RedisBackendOptions = {},
): Promise<RedisBackend> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const open = () => {
    const client = createClient({
      url, // rediss:// turns TLS on; NODE_EXTRA_CA_CERTS adds a private CA (docs/deploy.md)
      disableOfflineQueue: true,
      commandOptions: { timeout: timeoutMs },
      // While Redis hangs, unanswered commands stay queued on the connection; this bounds them (and the memory).
      commandsQueueMaxLength: 10_000,
      pingInterval: 5_000,
      socket: {
        connectTimeout: timeoutMs,
        // Exponential backoff with jitter, so instances that lost Redis together do not reconnect in lockstep.
        reconnectStrategy: (retries) =>
          Math.min(100 * 2 ** retries, MAX_RECONNECT_DELAY_MS) * (0.75 + Math.random() / 2),
      },
    });
    // Without a listener node-redis throws on connection errors; readiness reports them through ping().
    client.on('error', () => {});
    const connected = client.connect().then(
      () => true,
      () => false,
    );
    return { client, connected };
  };

  let { client, connected } = open();
  // Start even while Redis is down (the instance reports not-ready and recovers by itself), but give a reachable
  // Redis the time to connect, so the first requests after start-up do not fail.
  await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);

  /**
   * A connection that has answered nothing for a while although commands were sent is given up and a new one opened.
   * After a network partition the old connection may be half-open — alive to us, gone at Redis — and TCP would take
   * many minutes to say so; a new connection works as soon as Redis can be reached again.
   */
  let silentSince: number | undefined;
  function noteSilence(): void {
    silentSince ??= Date.now();
    if (Date.now() - silentSince < SILENT_CONNECTION_MS(timeoutMs) || !client.isReady) return;
    const stale = client;
    ({ client } = open());
    silentSince = undefined;
    stale.destroy();
  }

  /**
   * node-redis's command timeout covers only the wait to be written; a command already sent to a Redis that stopped
   * answering (hung, partitioned) would wait for its reply indefinitely. So the answer is raced against our own timer:
   * the request gets its 503 on time, and the late reply, if any, is dropped.
   */
  async function call<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Error(`no answer within ${timeoutMs} ms`);
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(timedOut), timeoutMs);
    });
    try {
      const answer = await Promise.race([command(), late]);
      silentSince = undefined;
      return answer;
    } catch (cause) {
      if (cause === timedOut) noteSilence();
      throw sessionStoreUnavailable(cause);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    kind: 'redis',
    get client() {
      return client;
    },
    prefix,
    command: (run) => call(() => run(client)),
    async get(key) {
      return (await call(() => client.get(prefix + key))) ?? undefined;
    },
    async set(key, value, ttlMs) {
      await call(() => client.set(prefix + key, value, { expiration: { type: 'PX', value: ttlOf(ttlMs) } }));
    },
    async take(key) {
      return (await call(() => client.getDel(prefix + key))) ?? undefined;
    },
    async delete(key) {
      await call(() => client.del(prefix + key));
    },
    async touch(key, ttlMs) {
      await call(() => client.pExpire(prefix + key, ttlOf(ttlMs)));
    },
    async expiresAt(key) {
      // PTTL: -2 when the key is absent, -1 when it has no expiry (never written so by this backend).
      const remaining = await call(() => client.pTTL(prefix + key));
      return remaining >= 0 ? Date.now() + remaining : undefined;
    },
    async setIfAbsent(key, value, ttlMs) {
      const reply = await call(() =>
        client.set(prefix + key, value, { condition: 'NX', expiration: { type: 'PX', value: ttlOf(ttlMs) } }),
      );
      return reply === 'OK';
    },
    async putMember(group, member, value, ttlMs) {
      await call(() =>
        client.eval(PUT_MEMBER, {
          keys: [prefix + group],
          arguments: [member, `${Date.now() + ttlOf(ttlMs)}|${value}`, String(ttlOf(ttlMs))],
        }),
      );
    },
    async members(group) {
      const now = Date.now();
      const live = new Map<string, string>();
      const expired: string[] = [];
      for (const [member, stored] of Object.entries(await call(() => client.hGetAll(prefix + group)))) {
        const bar = stored.indexOf('|');
        if (Number(stored.slice(0, bar)) > now) live.set(member, stored.slice(bar + 1));
        else expired.push(member);
      }
      if (expired.length > 0) await call(() => client.hDel(prefix + group, expired));
      return live;
    },
    async removeMember(group, member) {
      await call(() => client.hDel(prefix + group, member));
    },
    async ping() {
      await call(() => client.ping());
    },
    async close() {
      client.destroy();
    },
  };
}
