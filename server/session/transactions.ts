/**
 * Per-login state, kept server-side and keyed by `state`, so several tabs can sign in at once without clobbering
 * each other, and a callback can be used once only.
 */
import type { KeyValueBackend } from './backend.ts';
import type { Sealer } from './crypto.ts';
import { SealedRecords } from './sealed-records.ts';

export interface LoginTransaction {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** A validated local path. */
  readonly returnTo: string;
  /** SHA-256 of the browser's login-binding cookie: only that browser may finish this login (auth/login-binding.ts). */
  readonly browserBinding: string;
  readonly createdAt: number;
}

export const LOGIN_TRANSACTION_TTL_MS = 10 * 60_000;

export class LoginTransactions {
  readonly #records: SealedRecords<LoginTransaction>;

  constructor(backend: KeyValueBackend, sealer: Sealer) {
    this.#records = new SealedRecords(backend, sealer, 'tx');
  }

  async save(tx: LoginTransaction): Promise<void> {
    await this.#records.set(tx.state, tx, LOGIN_TRANSACTION_TTL_MS);
  }

  /** Reads without consuming: the callback checks the browser binding before it takes. */
  peek(state: string): Promise<LoginTransaction | undefined> {
    return this.#records.get(state);
  }

  /** Returns the transaction and deletes it in the same step; undefined when unknown, used or expired. */
  take(state: string): Promise<LoginTransaction | undefined> {
    return this.#records.take(state);
  }
}
