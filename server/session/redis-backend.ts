/**
 * The backend for several instances: every instance sees the same sessions, token sets and login transactions.
 * Values are sealed before they reach Redis, so a Redis dump holds no readable token.
 */
import { createClient } from 'redis';
import type { KeyValueBackend } from './backend.ts';

const PREFIX = 'creatio-bff:';

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
    async ping() {
      await client.ping();
    },
    async close() {
      client.destroy();
    },
  };
}
