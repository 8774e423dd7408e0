/**
 * The default backend: one SQLite file, so sessions survive a restart of a single instance. better-sqlite3 is
 * synchronous; each statement is a few microseconds on a local file, less than an async hop would cost.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { KeyValueBackend } from './backend.ts';

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
  const purge = db.prepare<[number]>('DELETE FROM kv WHERE expires_at <= ?');

  purge.run(now());
  const purgeTimer = setInterval(() => purge.run(now()), PURGE_INTERVAL_MS);
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
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      clearInterval(purgeTimer);
      db.close();
    },
  };
}
