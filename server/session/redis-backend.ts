/**
 * The backend for several instances: every instance sees the same sessions, token sets and login transactions.
 * Values are sealed before they reach Redis, so a Redis dump holds no readable token.
 */
import { createClient } from 'redis';
import type { KeyValueBackend } from './backend.ts';

const PREFIX = 'creatio-bff:';

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

export async function createRedisBackend(url: string): Promise<KeyValueBackend> {
  const client = createClient({
    url,
    socket: { connectTimeout: 5_000, reconnectStrategy: (retries) => Math.min(retries * 200, 5_000) },
  });
  // Without a listener node-redis throws on connection errors; readiness reports them through ping().
  client.on('error', () => {});
  await client.connect();

  return {
    async get(key) {
      return (await client.get(PREFIX + key)) ?? undefined;
    },
    async set(key, value, ttlMs) {
      await client.set(PREFIX + key, value, {
        expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) },
      });
    },
    async take(key) {
      return (await client.getDel(PREFIX + key)) ?? undefined;
    },
    async delete(key) {
      await client.del(PREFIX + key);
    },
    async touch(key, ttlMs) {
      await client.pExpire(PREFIX + key, Math.max(1, Math.ceil(ttlMs)));
    },
    async expiresAt(key) {
      // PTTL: -2 when the key is absent, -1 when it has no expiry (never written so by this backend).
      const remaining = await client.pTTL(PREFIX + key);
      return remaining >= 0 ? Date.now() + remaining : undefined;
    },
    async setIfAbsent(key, value, ttlMs) {
      const reply = await client.set(PREFIX + key, value, {
        condition: 'NX',
        expiration: { type: 'PX', value: ttlOf(ttlMs) },
      });
      return reply === 'OK';
    },
    async putMember(group, member, value, ttlMs) {
      await client.eval(PUT_MEMBER, {
        keys: [PREFIX + group],
        arguments: [member, `${Date.now() + ttlOf(ttlMs)}|${value}`, String(ttlOf(ttlMs))],
      });
    },
    async members(group) {
      const now = Date.now();
      const live = new Map<string, string>();
      const expired: string[] = [];
      for (const [member, stored] of Object.entries(await client.hGetAll(PREFIX + group))) {
        const bar = stored.indexOf('|');
        if (Number(stored.slice(0, bar)) > now) live.set(member, stored.slice(bar + 1));
        else expired.push(member);
      }
      if (expired.length > 0) await client.hDel(PREFIX + group, expired);
      return live;
    },
    async removeMember(group, member) {
      await client.hDel(PREFIX + group, member);
    },
    async ping() {
      await client.ping();
    },
    async close() {
      client.destroy();
    },
  };
}
