/**
 * express-session's Store over a KeyValueBackend, sealing every record. The session data says who the user is;
 * their tokens live in token-store.ts (docs/architecture.md says why).
 */
import session from 'express-session';
import type { KeyValueBackend } from './backend.ts';
import { type Sealer, storageKey } from './crypto.ts';
import { SealedRecords } from './sealed-records.ts';

export interface SessionUser {
  readonly sub: string;
  readonly name: string | undefined;
  readonly email: string | undefined;
}

declare module 'express-session' {
  interface SessionData {
    user: SessionUser;
    /** Epoch ms of sign-in; with SESSION_MAX_HOURS it bounds the session however active it is. */
    signedInAt: number;
    /** The Identity Service's session id (`sid` claim), for back-channel logout. */
    idpSessionId: string | undefined;
    /** Synchroniser token for the UI's form posts (sign out). */
    csrfToken: string;
  }
}

export interface SessionLifetime {
  readonly idleMs: number;
  readonly maxMs: number;
}

type Callback<T = void> = (err?: unknown, value?: T) => void;

/**
 * A session and its token set live exactly as long as each other: one lifetime (`ttlMs`), extended together by
 * keepAlive and ended together. A session that ends by expiry leaves its token set expired, not deleted, so the
 * expiry sweep can revoke its refresh token (expiry-sweep.ts); one that is destroyed (sign-out, a new sign-in,
 * back-channel logout) takes its token set with it.
 */
export class SealedSessionStore extends session.Store {
  readonly #backend: KeyValueBackend;
  readonly #records: SealedRecords<session.SessionData>;
  /** The token sets of token-store.ts, by the same session id: touched and ended here, written there. */
  readonly #tokenSets: SealedRecords<unknown>;
  readonly #lifetime: SessionLifetime;
  readonly #now: () => number;

  constructor(
    backend: KeyValueBackend,
    sealer: Sealer,
    lifetime: SessionLifetime,
    now: () => number = Date.now,
  ) {
    super();
    this.#backend = backend;
    this.#records = new SealedRecords(backend, sealer, 'sess');
    this.#tokenSets = new SealedRecords(backend, sealer, 'tokens');
    this.#lifetime = lifetime;
    this.#now = now;
  }

  /** Remaining time: the idle timeout, cut short by the absolute lifetime. */
  ttlMs(data: Partial<session.SessionData>): number {
    const idle = this.#lifetime.idleMs;
    if (!data.signedInAt) return idle;
    return Math.min(idle, data.signedInAt + this.#lifetime.maxMs - this.#now());
  }

  /** How long the stored session has left (0 when it is gone): the lifetime a refreshed token set is written with. */
  async remainingMs(sid: string): Promise<number> {
    const expiresAt = await this.#backend.expiresAt(storageKey('sess', sid));
    return expiresAt === undefined ? 0 : Math.max(0, expiresAt - this.#now());
  }

  /**
   * The one way a session's life is extended: the session record and its token set together, with one TTL. Every
   * reader of sessions (express-session's touch and set, the /api session reader) goes through it.
   */
  async keepAlive(sid: string, data: Partial<session.SessionData>): Promise<void> {
    const ttl = this.ttlMs(data);
    if (ttl <= 0) return this.#expire(sid);
    await Promise.all([this.#records.touch(sid, ttl), this.#tokenSets.touch(sid, ttl)]);
  }

  override get(sid: string, callback: Callback<session.SessionData | null>): void {
    this.#records.get(sid).then(async (data) => {
      if (data === undefined) return callback(undefined, null);
      if (this.ttlMs(data) <= 0) return this.#expire(sid).then(() => callback(undefined, null), callback);
      callback(undefined, data);
    }, callback);
  }

  override set(sid: string, data: session.SessionData, callback: Callback = () => {}): void {
    const ttl = this.ttlMs(data);
    if (ttl <= 0) {
      this.#expire(sid).then(() => callback(), callback);
      return;
    }
    Promise.all([this.#records.set(sid, data, ttl), this.#tokenSets.touch(sid, ttl)]).then(
      () => callback(),
      callback,
    );
  }

  override touch(sid: string, data: session.SessionData, callback: Callback = () => {}): void {
    this.keepAlive(sid, data).then(() => callback(), callback);
  }

  /** Ends the session on purpose, token set and all (sign-out, a new sign-in over it, back-channel logout). */
  override destroy(sid: string, callback: Callback = () => {}): void {
    Promise.all([this.#records.delete(sid), this.#tokenSets.delete(sid)]).then(() => callback(), callback);
  }

  /** Ends the session by expiry: its token set is expired now rather than deleted, for the sweep to revoke. */
  async #expire(sid: string): Promise<void> {
    await Promise.all([this.#records.delete(sid), this.#tokenSets.touch(sid, 0)]);
  }
}
