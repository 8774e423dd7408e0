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
  /** Epoch ms at which the key expires; undefined when it is absent. (A session's expiry says when it was last used.) */
  expiresAt(key: string): Promise<number | undefined>;
  /**
   * Stores the value only when the key is free (absent or expired), in one step across instances; true when this
   * call stored it. The replay cache of back-channel logout tokens (`jti`) rests on it.
   */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Groups: a few members under one key, each with a value and an expiry of its own; the session index (the
   * sessions of one user, of one Identity Service session) rests on them. Adding an existing member replaces it.
   */
  putMember(group: string, member: string, value: string, ttlMs: number): Promise<void>;
  /** The group's live members, member → value; expired members are left out (and dropped). */
  members(group: string): Promise<Map<string, string>>;
  removeMember(group: string, member: string): Promise<void>;
  /**
   * Expired entries under `prefix`, at most `limit`, deleted in the same step: the expiry sweep revokes the refresh
   * tokens of token sets whose sessions ended by expiry (session/expiry-sweep.ts). Backends that drop expired
   * entries at once (Redis) do not offer it. Expired entries are kept for EXPIRED_RETENTION_MS for this.
   */
  takeExpired?(prefix: string, limit: number): Promise<Array<{ key: string; value: string }>>;
  /** Throws when the backend cannot serve requests (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long an expired entry stays (unreadable) for takeExpired before it is purged. Long enough that a sweep
 * running every minute sees every expiry, even across a restart; short enough that a flood of expired login
 * transactions does not pile up.
 */
export const EXPIRED_RETENTION_MS = 3_600_000;

interface Entry {
  value: string;
  expiresAt: number;
}

export function createMemoryBackend(now: () => number = Date.now): KeyValueBackend {
  const entries = new Map<string, Entry>();
  const groups = new Map<string, Map<string, Entry>>();

  const live = (key: string): Entry | undefined => {
    // An expired entry reads as absent but stays until the sweep below, for takeExpired.
    const entry = entries.get(key);
    return entry && entry.expiresAt > now() ? entry : undefined;
  };

  // Expired entries are swept once EXPIRED_RETENTION_MS has passed, so memory stays bounded.
  const sweep = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t - EXPIRED_RETENTION_MS) entries.delete(key);
    for (const [group, members] of groups) {
      for (const [member, entry] of members) if (entry.expiresAt <= t) members.delete(member);
      if (members.size === 0) groups.delete(group);
    }
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
    async expiresAt(key) {
      return live(key)?.expiresAt;
    },
    async setIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return true;
    },
    async putMember(group, member, value, ttlMs) {
      const members = groups.get(group) ?? new Map<string, Entry>();
      members.set(member, { value, expiresAt: now() + ttlMs });
      groups.set(group, members);
    },
    async members(group) {
      const t = now();
      const found = new Map<string, string>();
      for (const [member, entry] of groups.get(group) ?? []) {
        if (entry.expiresAt > t) found.set(member, entry.value);
        else groups.get(group)?.delete(member);
      }
      return found;
    },
    async removeMember(group, member) {
      const members = groups.get(group);
      members?.delete(member);
      if (members?.size === 0) groups.delete(group);
    },
    async takeExpired(prefix, limit) {
      const t = now();
      const taken: Array<{ key: string; value: string }> = [];
      for (const [key, entry] of entries) {
        if (taken.length >= limit) break;
        if (entry.expiresAt <= t && key.startsWith(prefix)) {
          entries.delete(key);
          taken.push({ key, value: entry.value });
        }
      }
      return taken;
    },
    async ping() {},
    async close() {
      clearInterval(sweep);
      entries.clear();
      groups.clear();
    },
  };
}
