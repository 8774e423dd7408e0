/**
 * The backend methods under the session index and the logout-token replay cache (setIfAbsent, groups, expiresAt),
 * one contract for memory, SQLite and a real Redis; then the index itself: sealed at rest, stale entries dropped,
 * bounded per user.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type session from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend, type KeyValueBackend } from '../../server/session/backend.ts';
import { storageKey } from '../../server/session/crypto.ts';
import { endSession } from '../../server/session/end-session.ts';
import { createRedisBackend } from '../../server/session/redis-backend.ts';
import { createSqliteBackend } from '../../server/session/sqlite-backend.ts';
import { openSessionStorage, type SessionStorage } from '../../server/session/storage.ts';
import { liveSessionsOf, MAX_SESSIONS_PER_USER, recordSignIn } from '../../server/session/user-sessions.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';

const TTL = 200;
const LONG_TTL = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let redis: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bff-index-'));
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

describe.each(backends)('%s backend: index primitives', (_name, open) => {
  let backend: KeyValueBackend;
  const key = (name: string) => `${name}:${randomUUID()}`;

  beforeAll(async () => {
    backend = await open();
    return () => backend.close();
  });

  it('setIfAbsent stores once; of twenty concurrent claims exactly one wins; an expired key is free again', async () => {
    const k = key('jti');
    const claims = await Promise.all(Array.from({ length: 20 }, () => backend.setIfAbsent(k, '1', TTL)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await backend.setIfAbsent(k, '1', TTL)).toBe(false);
    await sleep(TTL + 60);
    expect(await backend.setIfAbsent(k, '1', LONG_TTL)).toBe(true);
  });

  it('groups keep members apart, replace on put, forget removed and expired members', async () => {
    const g = key('group');
    await backend.putMember(g, 'a', 'one', LONG_TTL);
    await backend.putMember(g, 'b', 'two', TTL);
    await backend.putMember(g, 'a', 'uno', LONG_TTL);
    expect(await backend.members(g)).toEqual(
      new Map([
        ['a', 'uno'],
        ['b', 'two'],
      ]),
    );
    await sleep(TTL + 60);
    expect(await backend.members(g)).toEqual(new Map([['a', 'uno']]));
    await backend.removeMember(g, 'a');
    expect(await backend.members(g)).toEqual(new Map());
    expect(await backend.members(key('never-written'))).toEqual(new Map());
  });

  it('a short-lived member does not shorten a long-lived one', async () => {
    const g = key('group');
    await backend.putMember(g, 'long', 'l', LONG_TTL);
    await backend.putMember(g, 'short', 's', TTL);
    await sleep(TTL + 60);
    expect(await backend.members(g)).toEqual(new Map([['long', 'l']]));
  });

  it('expiresAt reports when a key expires, follows touch, and is undefined for an absent key', async () => {
    const k = key('sess');
    const before = Date.now();
    await backend.set(k, 'v', LONG_TTL);
    const first = await backend.expiresAt(k);
    expect(first).toBeGreaterThanOrEqual(before + LONG_TTL - 50);
    expect(first).toBeLessThanOrEqual(Date.now() + LONG_TTL + 50);
    await backend.touch(k, 2 * LONG_TTL);
    expect(await backend.expiresAt(k)).toBeGreaterThan((first ?? 0) + LONG_TTL / 2);
    expect(await backend.expiresAt(key('absent'))).toBeUndefined();
  });
});

describe('session index', () => {
  const file = () => join(dir, `${randomUUID()}.db`);
  const settings = (path: string) =>
    ({
      sessionIdleMinutes: 30,
      sessionMaxHours: 8,
      sessionStore: { kind: 'sqlite', path },
      sessionSecrets: ['index-test-secret-index-test-secret-0000'],
    }) as const;

  async function signedIn(storage: SessionStorage, sessionId: string, sub: string, sid?: string) {
    const data = {
      cookie: { originalMaxAge: null },
      user: { sub, name: 'Alice Andersen', email: 'alice@example.com' },
      signedInAt: Date.now(),
      idpSessionId: sid,
    } as unknown as session.SessionData;
    await new Promise<void>((resolve, reject) =>
      storage.sessions.set(sessionId, data, (err) => (err ? reject(err) : resolve())),
    );
    const req = {
      session: data,
      sessionID: sessionId,
      get: (name: string) =>
        name === 'user-agent' ? 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0' : undefined,
    };
    await recordSignIn(storage, req as never);
  }

  it('files a session under its user and Identity Service session, readable only with the secret', async () => {
    const path = file();
    const storage = await openSessionStorage(settings(path));
    try {
      await signedIn(storage, 'session-id-alice-1', 'alice-sub', 'idp-sid-1');
      const [entry] = await storage.index.ofIdpSession('idp-sid-1');
      expect(entry).toMatchObject({ sessionId: 'session-id-alice-1', sub: 'alice-sub' });
      expect(entry?.handle).toMatch(/^[\w-]{22}$/);
      expect((await storage.index.ofUser('alice-sub')).map((e) => e.handle)).toEqual([entry?.handle]);
    } finally {
      await storage.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT grp, member, value FROM kv_member').all();
      expect(rows).toHaveLength(2);
      const raw = JSON.stringify(rows);
      for (const secret of ['session-id-alice-1', 'alice-sub', 'idp-sid-1', 'Chrome', 'alice@example.com']) {
        expect(raw).not.toContain(secret);
      }
    } finally {
      db.close();
    }
  });

  it('lists only live sessions: an ended or expired session is dropped from the index', async () => {
    const storage = await openSessionStorage(settings(file()));
    try {
      await signedIn(storage, 'ended-by-sign-out', 'bob-sub');
      await signedIn(storage, 'still-here', 'bob-sub');
      await signedIn(storage, 'expired', 'bob-sub');
      await endSession(storage, 'ended-by-sign-out');
      await storage.backend.delete(storageKey('sess', 'expired')); // what expiry does
      const live = await liveSessionsOf(storage, 'bob-sub');
      expect(live.map((s) => s.entry.sessionId)).toEqual(['still-here']);
      expect((await storage.index.ofUser('bob-sub')).map((e) => e.sessionId)).toEqual(['still-here']);
      expect(live[0]?.lastUsedAt).toBeLessThanOrEqual(Date.now());
      expect(live[0]?.lastUsedAt).toBeGreaterThan(Date.now() - 5_000);
    } finally {
      await storage.close();
    }
  });

  it(`is bounded: past ${MAX_SESSIONS_PER_USER} live sessions the least recently used is signed out`, async () => {
    const storage = await openSessionStorage(settings(file()));
    try {
      for (let i = 0; i <= MAX_SESSIONS_PER_USER; i++) await signedIn(storage, `many-${i}`, 'carol-sub');
      const live = await liveSessionsOf(storage, 'carol-sub');
      expect(live).toHaveLength(MAX_SESSIONS_PER_USER);
      expect((await storage.index.ofUser('carol-sub')).length).toBe(MAX_SESSIONS_PER_USER);
      expect(live.map((s) => s.entry.sessionId)).toContain(`many-${MAX_SESSIONS_PER_USER}`);
    } finally {
      await storage.close();
    }
  });
});
