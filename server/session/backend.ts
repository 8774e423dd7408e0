/**
 * The storage interface under sessions, token sets and login transactions. Values are sealed strings (see
 * crypto.ts); a backend never sees plaintext. Implemented in memory (tests, `SESSION_STORE=memory`), on SQLite (the
 * default, one instance) and on Redis (several instances).
 */
export interface KeyValueBackend {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Reads and deletes in one step: login transactions are take-once, also across instances. */
  take(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
  /** Extends the expiry without rewriting the value. */
  touch(key: string, ttlMs: number): Promise<void>;
  /** Throws when the backend cannot serve requests (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  value: string;
  expiresAt: number;
}

export function createMemoryBackend(now: () => number = Date.now): KeyValueBackend {
  const entries = new Map<string, Entry>();

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  // Expired entries are dropped when read and swept now and then, so memory stays bounded.
  const sweep = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }, 60_000);
  sweep.unref();

  return {
    async get(key) {
      return live(key)?.value;
    },
    async set(key, value, ttlMs) {
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },
    async take(key) {
      const entry = live(key);
      entries.delete(key);
      return entry?.value;
    },
    async delete(key) {
      entries.delete(key);
    },
    async touch(key, ttlMs) {
      const entry = live(key);
      if (entry) entry.expiresAt = now() + ttlMs;
    },
    async ping() {},
    async close() {
      clearInterval(sweep);
      entries.clear();
    },
  };
}
