/**
 * express-session's Store over a KeyValueBackend, sealing every record. The session data says who the user is;
 * their tokens live in token-store.ts (docs/architecture.md says why).
 */
import session from 'express-session';
import type { KeyValueBackend } from './backend.ts';
import type { Sealer } from './crypto.ts';
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

export class SealedSessionStore extends session.Store {
  readonly #records: SealedRecords<session.SessionData>;
  readonly #lifetime: SessionLifetime;
  readonly #now: () => number;

  constructor(
    backend: KeyValueBackend,
    sealer: Sealer,
    lifetime: SessionLifetime,
    now: () => number = Date.now,
  ) {
    super();
    this.#records = new SealedRecords(backend, sealer, 'sess');
    this.#lifetime = lifetime;
    this.#now = now;
  }

  /** Remaining time: the idle timeout, cut short by the absolute lifetime. */
  ttlMs(data: Partial<session.SessionData>): number {
    const idle = this.#lifetime.idleMs;
    if (!data.signedInAt) return idle;
    return Math.min(idle, data.signedInAt + this.#lifetime.maxMs - this.#now());
  }

  override get(sid: string, callback: Callback<session.SessionData | null>): void {
    this.#records.get(sid).then((data) => {
      if (data === undefined) return callback(undefined, null);
      if (this.ttlMs(data) <= 0) return this.destroy(sid, (err) => callback(err, null));
      callback(undefined, data);
    }, callback);
  }

  override set(sid: string, data: session.SessionData, callback: Callback = () => {}): void {
    const ttl = this.ttlMs(data);
    if (ttl <= 0) {
      this.destroy(sid, callback);
      return;
    }
    this.#records.set(sid, data, ttl).then(() => callback(), callback);
  }

  override touch(sid: string, data: session.SessionData, callback: Callback = () => {}): void {
    const ttl = this.ttlMs(data);
    if (ttl <= 0) {
      this.destroy(sid, callback);
      return;
    }
    this.#records.touch(sid, ttl).then(() => callback(), callback);
  }

  override destroy(sid: string, callback: Callback = () => {}): void {
    this.#records.delete(sid).then(() => callback(), callback);
  }
}
