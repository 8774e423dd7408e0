/**
 * One behaviour contract for the three KeyValueBackends (memory, SQLite, Redis), run against the real thing: a
 * SQLite file in a temp directory and a real redis-server. Expiry uses short TTLs and real waits.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryBackend,
  EXPIRED_RETENTION_MS,
  type KeyValueBackend,
} from '../../server/session/backend.ts';
import { storageKey } from '../../server/session/crypto.ts';
import { createRedisBackend } from '../../server/session/redis-backend.ts';
import { createSqliteBackend } from '../../server/session/sqlite-backend.ts';
import { openSessionStorage } from '../../server/session/storage.ts';
import type { TokenSet } from '../../server/session/token-store.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';

const TTL = 200;
const LONG_TTL = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let redis: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bff-sessions-'));
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const backends: ReadonlyArray<readonly [string, () => Promise<KeyValueBackend>]> = [
  ['memory', async () => createMemoryBackend()],
  ['sqlite', async () => createSqliteBackend(join(dir, `${randomUUID()}.db`))],
  ['redis', () => createRedisBackend(redis.url)],
];

describe.each(backends)('%s backend', (_name, open) => {
  let backend: KeyValueBackend;
  const opened: KeyValueBackend[] = [];
  // Redis is shared by all tests: every test uses keys of its own.
  const key = (name: string) => `${name}:${randomUUID()}`;

  beforeAll(async () => {
    backend = await open();
    opened.push(backend);
  });

  afterAll(async () => {
    for (const b of opened) await b.close();
  });

  it('answers ping', async () => {
    await expect(backend.ping()).resolves.toBeUndefined();
  });

  it('gets what was set, overwrites, and forgets deleted keys', async () => {
    const k = key('a');
    expect(await backend.get(k)).toBeUndefined();
    await backend.set(k, 'one', LONG_TTL);
    expect(await backend.get(k)).toBe('one');
    await backend.set(k, 'two', LONG_TTL);
    expect(await backend.get(k)).toBe('two');
    await backend.delete(k);
    expect(await backend.get(k)).toBeUndefined();
    await expect(backend.delete(k)).resolves.toBeUndefined();
  });

  it('take returns a value once and removes it', async () => {
    const k = key('tx');
    await backend.set(k, 'sealed-transaction', LONG_TTL);
    expect(await backend.take(k)).toBe('sealed-transaction');
    expect(await backend.take(k)).toBeUndefined();
    expect(await backend.get(k)).toBeUndefined();
  });

  it('two concurrent takes: exactly one gets the value', async () => {
    const keys = Array.from({ length: 20 }, () => key('race'));
    await Promise.all(keys.map((k) => backend.set(k, `v-${k}`, LONG_TTL)));
    const results = await Promise.all(keys.map((k) => Promise.all([backend.take(k), backend.take(k)])));
    results.forEach(([first, second], i) => {
      const got = [first, second].filter((v) => v !== undefined);
      expect(got).toEqual([`v-${keys[i]}`]);
    });
  });

  it('expires values, touch extends them, and touch never creates one', async () => {
    const expiring = key('expiring');
    const touched = key('touched');
    const takenLate = key('taken-late');
    const longLived = key('long');
    const missing = key('missing');
    await backend.set(expiring, 'e', TTL);
    await backend.set(touched, 't', TTL);
    await backend.set(takenLate, 'x', TTL);
    await backend.set(longLived, 'l', LONG_TTL);

    await sleep(TTL / 2);
    await backend.touch(touched, 3 * TTL);
    await backend.touch(missing, 3 * TTL);

    await sleep(TTL / 2 + 60); // past the first TTL, well within the touched one
    expect(await backend.get(expiring)).toBeUndefined();
    expect(await backend.take(takenLate)).toBeUndefined();
    expect(await backend.get(touched)).toBe('t');
    expect(await backend.get(longLived)).toBe('l');
    expect(await backend.get(missing)).toBeUndefined();
  });
});

describe('sqlite backend on a file', () => {
  const tokens: TokenSet = {
    accessToken: 'access-token-value',
    refreshToken: 'refresh-token-value',
    idToken: undefined,
    expiresAt: Date.now() + 3_600_000,
    receivedAt: Date.now(),
    scope: 'openid offline_access',
  };

  it('keeps data across close and reopen (sessions survive an app restart)', async () => {
    const file = join(dir, 'restart.db');
    const before = createSqliteBackend(file);
    await before.set('sess:kept', 'sealed-session', LONG_TTL);
    await before.close();

    const after = createSqliteBackend(file);
    try {
      expect(await after.get('sess:kept')).toBe('sealed-session');
    } finally {
      await after.close();
    }
  });

  it('creates the directory of the file', async () => {
    const nested = createSqliteBackend(join(dir, 'nested', 'deeper', 'sessions.db'));
    await nested.set('k', 'v', LONG_TTL);
    expect(await nested.get('k')).toBe('v');
    await nested.close();
  });

  it('does not return expired rows, and purges them when opened after the sweep could take them', async () => {
    const file = join(dir, 'expired.db');
    let t = Date.now();
    const now = () => t;
    const backend = createSqliteBackend(file, now);
    await backend.set('old', 'expired-value', 1_000);
    await backend.set('fresh', 'fresh-value', LONG_TTL);
    t += 1_000;
    expect(await backend.get('old')).toBeUndefined();
    expect(await backend.take('old')).toBeUndefined();
    await backend.touch('old', LONG_TTL); // an expired row is not revived
    expect(await backend.get('old')).toBeUndefined();
    await backend.close();

    // Within EXPIRED_RETENTION_MS an expired row stays (unreadable) for the expiry sweep's takeExpired.
    t += EXPIRED_RETENTION_MS;
    const reopened = createSqliteBackend(file, now);
    await reopened.close();
    const db = new Database(file, { readonly: true });
    try {
      const keys = db.prepare<[], { key: string }>('SELECT key FROM kv ORDER BY key').all();
      expect(keys.map((row) => row.key)).toEqual(['fresh']);
    } finally {
      db.close();
    }
  });

  it('reads records sealed under the old secret after rotation to SESSION_SECRET=new,old', async () => {
    const oldSecret = 'old-session-secret-old-session-secret-0000';
    const newSecret = 'new-session-secret-new-session-secret-1111';
    const file = join(dir, 'rotation.db');
    const settings = {
      sessionIdleMinutes: 30,
      sessionMaxHours: 8,
      sessionStore: { kind: 'sqlite', path: file },
    } as const;

    const before = await openSessionStorage({ ...settings, sessionSecrets: [oldSecret] });
    await before.tokens.set('session-1', tokens, LONG_TTL);
    await before.transactions.save({
      state: 'state-1',
      nonce: 'n',
      codeVerifier: 'v',
      returnTo: '/accounts',
      browserBinding: 'b',
      createdAt: Date.now(),
    });
    await before.close();

    const rotated = await openSessionStorage({ ...settings, sessionSecrets: [newSecret, oldSecret] });
    try {
      expect(await rotated.tokens.get('session-1')).toEqual(tokens);
      expect((await rotated.transactions.take('state-1'))?.returnTo).toBe('/accounts');
      // what is written now is sealed under the new secret
      await rotated.tokens.set('session-2', tokens, LONG_TTL);
      const raw = await rotated.backend.get(storageKey('tokens', 'session-2'));
      expect(raw).toBeTypeOf('string');
      expect(raw).not.toContain('access-token-value');
    } finally {
      await rotated.close();
    }

    const oldOnly = await openSessionStorage({ ...settings, sessionSecrets: [oldSecret] });
    try {
      expect(await oldOnly.tokens.get('session-1')).toEqual(tokens);
      expect(await oldOnly.tokens.get('session-2')).toBeUndefined();
    } finally {
      await oldOnly.close();
    }

    const newOnly = await openSessionStorage({ ...settings, sessionSecrets: [newSecret] });
    try {
      // the old secret was dropped from the list: its records are gone for good
      expect(await newOnly.tokens.get('session-1')).toBeUndefined();
      expect(await newOnly.tokens.get('session-2')).toEqual(tokens);
    } finally {
      await newOnly.close();
    }
  });
});

describe('redis backend shared by several instances', () => {
  const instances: KeyValueBackend[] = [];

  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.close();
  });

  it('lets one instance read what another wrote, and a transaction is taken by exactly one', async () => {
    const [a, b] = await Promise.all([createRedisBackend(redis.url), createRedisBackend(redis.url)]);
    instances.push(a, b);
    const k = `tx:${randomUUID()}`;
    await a.set(k, 'sealed', LONG_TTL);
    expect(await b.get(k)).toBe('sealed');

    const taken = await Promise.all([a.take(k), b.take(k)]);
    expect(taken.filter((v) => v !== undefined)).toEqual(['sealed']);
  });

  it('keeps data in Redis across a restart of the app (a new client)', async () => {
    const first = await createRedisBackend(redis.url);
    const k = `sess:${randomUUID()}`;
    await first.set(k, 'sealed-session', LONG_TTL);
    await first.close();
    const second = await createRedisBackend(redis.url);
    instances.push(second);
    expect(await second.get(k)).toBe('sealed-session');
  });
});
