/**
 * Per-login state, kept server-side and keyed by `state`, so several tabs can sign in at once without clobbering
 * each other, and a callback can be used once only.
 */
import type { KeyValueBackend } from './backend.ts';
import { type Sealer, storageKey } from './crypto.ts';

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
  readonly #backend: KeyValueBackend;
  readonly #sealer: Sealer;

  constructor(backend: KeyValueBackend, sealer: Sealer) {
    this.#backend = backend;
    this.#sealer = sealer;
  }

  async save(tx: LoginTransaction): Promise<void> {
    const key = storageKey('tx', tx.state);
    await this.#backend.set(key, this.#sealer.seal(JSON.stringify(tx), key), LOGIN_TRANSACTION_TTL_MS);
  }

  /** Returns the transaction and deletes it in the same step; undefined when unknown, used or expired. */
  async take(state: string): Promise<LoginTransaction | undefined> {
    const key = storageKey('tx', state);
    const sealed = await this.#backend.take(key);
    const json = sealed === undefined ? undefined : this.#sealer.open(sealed, key);
    return json === undefined ? undefined : (JSON.parse(json) as LoginTransaction);
  }
}
