/**
 * Per-login state, kept server-side and keyed by `state`, so several tabs can sign in at once without clobbering
 * each other, and a callback can be used once only.
 */
import { BffError, ErrorCode } from '../errors.ts';
import type { KeyValueBackend } from './backend.ts';
import type { Sealer } from './crypto.ts';
import { SealedRecords } from './sealed-records.ts';

export interface LoginTransaction {
  readonly state: string;
  /** Only when the openid scope is asked for: then the ID token must carry it. */
  readonly nonce: string | undefined;
  readonly codeVerifier: string;
  /** A validated local path. */
  readonly returnTo: string;
  /** SHA-256 of the browser's login-binding cookie: only that browser may finish this login (auth/login-binding.ts). */
  readonly browserBinding: string;
  readonly createdAt: number;
}

export const LOGIN_TRANSACTION_TTL_MS = 10 * 60_000;

/**
 * Besides the per-address rate limit, a cap on all the sign-ins in progress: addresses are cheap for an attacker
 * with a botnet or IPv6, and every started login is a record in the store for ten minutes.
 */
export const DEFAULT_MAX_PENDING = 10_000;

export class LoginTransactions {
  readonly #records: SealedRecords<LoginTransaction>;
  readonly #maxPending: number;
  readonly #now: () => number;
  /**
   * state → expiry of the logins this instance started and has not seen finish, oldest first (one TTL for all, so
   * insertion order is expiry order). Per instance: with N instances the store holds at most N × the cap.
   */
  readonly #pending = new Map<string, number>();

  constructor(
    backend: KeyValueBackend,
    sealer: Sealer,
    maxPending: number = DEFAULT_MAX_PENDING,
    now: () => number = Date.now,
  ) {
    this.#records = new SealedRecords(backend, sealer, 'tx');
    this.#maxPending = maxPending;
    this.#now = now;
  }

  /** Throws BffError sign_ins_busy (503) when LOGIN_MAX_PENDING sign-ins are already in progress. */
  async save(tx: LoginTransaction): Promise<void> {
    const now = this.#now();
    for (const [state, expiresAt] of this.#pending) {
      if (expiresAt > now) break;
      this.#pending.delete(state);
    }
    if (this.#pending.size >= this.#maxPending) {
      throw new BffError(ErrorCode.SignInsBusy, {
        hint: 'Sign-ins are refused until some of those in progress finish or expire (10 minutes). If this happens without a flood of sign-ins, raise LOGIN_MAX_PENDING.',
        logDetail: `${this.#pending.size} login transactions in progress (LOGIN_MAX_PENDING)`,
      });
    }
    this.#pending.set(tx.state, now + LOGIN_TRANSACTION_TTL_MS);
    await this.#records.set(tx.state, tx, LOGIN_TRANSACTION_TTL_MS);
  }

  /** Reads without consuming: the callback checks the browser binding before it takes. */
  peek(state: string): Promise<LoginTransaction | undefined> {
    return this.#records.get(state);
  }

  /** Returns the transaction and deletes it in the same step; undefined when unknown, used or expired. */
  take(state: string): Promise<LoginTransaction | undefined> {
    this.#pending.delete(state);
    return this.#records.take(state);
  }
}
