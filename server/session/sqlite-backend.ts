/**
 * The default backend: one SQLite file, so sessions survive a restart of a single instance. better-sqlite3 is
 * synchronous; each statement is a few microseconds on a local file, less than an async hop would cost.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { EXPIRED_RETENTION_MS, type KeyValueBackend } from './backend.ts';

const PURGE_INTERVAL_MS = 5 * 60_000;

export function createSqliteBackend(path: string, now: () => number = Date.now): KeyValueBackend {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID`);
  db.exec('CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at)');
  db.exec(`CREATE TABLE IF NOT EXISTS kv_member (
    grp TEXT NOT NULL,
    member TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (grp, member)
  ) WITHOUT ROWID`);
  db.exec('CREATE INDEX IF NOT EXISTS kv_member_expires_at ON kv_member (expires_at)');

  // Statements are prepared once, not per request.
  const select = db.prepare<[string, number], { value: string }>(
    'SELECT value FROM kv WHERE key = ? AND expires_at > ?',
  );
  const upsert = db.prepare<[string, string, number]>(
    'INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  );
  const remove = db.prepare<[string]>('DELETE FROM kv WHERE key = ?');
  const takeRow = db.prepare<[string, number], { value: string }>(
    'DELETE FROM kv WHERE key = ? AND expires_at > ? RETURNING value',
  );
  const extend = db.prepare<[number, string, number]>(
    'UPDATE kv SET expires_at = ? WHERE key = ? AND expires_at > ?',
  );
  const selectExpiry = db.prepare<[string, number], { expires_at: number }>(
    'SELECT expires_at FROM kv WHERE key = ? AND expires_at > ?',
  );
  // An expired row may be taken over; a live one may not (changes = 0).
  const insertIfAbsent = db.prepare<[string, string, number, number]>(
    'INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE kv.expires_at <= ?',
  );
  const upsertMember = db.prepare<[string, string, string, number]>(
    'INSERT INTO kv_member (grp, member, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT(grp, member) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  );
  const selectMembers = db.prepare<[string, number], { member: string; value: string }>(
    'SELECT member, value FROM kv_member WHERE grp = ? AND expires_at > ?',
  );
  const removeMember = db.prepare<[string, string]>('DELETE FROM kv_member WHERE grp = ? AND member = ?');
  const purgeEntries = db.prepare<[number]>('DELETE FROM kv WHERE expires_at <= ?');
  const purgeMembers = db.prepare<[number]>('DELETE FROM kv_member WHERE expires_at <= ?');
  const takeExpiredRows = db.prepare<[string, number, number], { key: string; value: string }>(
    "DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE key LIKE ? || '%' AND expires_at <= ? LIMIT ?) RETURNING key, value",
  );
  const purgeExpired = () => {
    const t = now();
    // Expired entries are unreadable at once (every read checks expires_at); they stay a while for takeExpired.
    purgeEntries.run(t - EXPIRED_RETENTION_MS);
    purgeMembers.run(t);
  };

  purgeExpired();
  const purgeTimer = setInterval(purgeExpired, PURGE_INTERVAL_MS);
  purgeTimer.unref();

  return {
    async get(key) {
      return select.get(key, now())?.value;
    },
    async set(key, value, ttlMs) {
      upsert.run(key, value, now() + ttlMs);
    },
    async take(key) {
      const row = takeRow.get(key, now());
      return row?.value;
    },
    async delete(key) {
      remove.run(key);
    },
    async touch(key, ttlMs) {
      const t = now();
      extend.run(t + ttlMs, key, t);
    },
    async expiresAt(key) {
      return selectExpiry.get(key, now())?.expires_at;
    },
    async setIfAbsent(key, value, ttlMs) {
      const t = now();
      return insertIfAbsent.run(key, value, t + ttlMs, t).changes === 1;
    },
    async putMember(group, member, value, ttlMs) {
      upsertMember.run(group, member, value, now() + ttlMs);
    },
    async members(group) {
      return new Map(selectMembers.all(group, now()).map((row) => [row.member, row.value]));
    },
    async removeMember(group, member) {
      removeMember.run(group, member);
    },
    async takeExpired(prefix, limit) {
      return takeExpiredRows.all(prefix, now(), limit);
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      clearInterval(purgeTimer);
      db.close();
    },
  };
}
