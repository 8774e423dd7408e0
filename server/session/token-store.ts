/**
 * The token set of a session, sealed, under its own key. Written only by sign-in, refresh and sign-out; read by the
 * proxy. Never serialised into anything that leaves the server.
 */
import type { KeyValueBackend } from './backend.ts';
import { type Sealer, storageKey } from './crypto.ts';

export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
  /** Epoch ms, computed once from `expires_in` when the token was received. */
  readonly expiresAt: number;
  /** Epoch ms of receipt: with expiresAt it gives the lifetime, which sets how early to refresh. */
  readonly receivedAt: number;
  readonly scope: string | undefined;
}

export class TokenStore {
  readonly #backend: KeyValueBackend;
  readonly #sealer: Sealer;

  constructor(backend: KeyValueBackend, sealer: Sealer) {
    this.#backend = backend;
    this.#sealer = sealer;
  }

  async get(sessionId: string): Promise<TokenSet | undefined> {
    const key = storageKey('tokens', sessionId);
    const sealed = await this.#backend.get(key);
    const json = sealed === undefined ? undefined : this.#sealer.open(sealed, key);
    return json === undefined ? undefined : (JSON.parse(json) as TokenSet);
  }

  /** ttlMs: how long the record may outlive its last write (the session's absolute lifetime). */
  async set(sessionId: string, tokens: TokenSet, ttlMs: number): Promise<void> {
    const key = storageKey('tokens', sessionId);
    await this.#backend.set(key, this.#sealer.seal(JSON.stringify(tokens), key), ttlMs);
  }

  async delete(sessionId: string): Promise<void> {
    await this.#backend.delete(storageKey('tokens', sessionId));
  }
}

/** The fields of a token-endpoint response that the BFF keeps (openid-client's response, structurally). */
export interface TokenEndpointResult {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
  expiresIn(): number | undefined;
}

/** Access tokens without `expires_in` are assumed to live Creatio's default hour. */
const DEFAULT_LIFETIME_SECONDS = 3600;

/**
 * Builds the stored set from a token response. A refresh response may omit the refresh token (no rotation) or the
 * ID token; then the previous ones are kept.
 */
export function toTokenSet(
  response: TokenEndpointResult,
  previous?: TokenSet,
  now: number = Date.now(),
): TokenSet {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token ?? previous?.refreshToken,
    idToken: response.id_token ?? previous?.idToken,
    expiresAt: now + (response.expiresIn() ?? DEFAULT_LIFETIME_SECONDS) * 1000,
    receivedAt: now,
    scope: response.scope ?? previous?.scope,
  };
}
