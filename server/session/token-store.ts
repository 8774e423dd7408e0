/**
 * The token set of a session, sealed, under its own key. Written only by sign-in, refresh and sign-out; read by the
 * proxy. Never serialised into anything that leaves the server.
 */
import type { KeyValueBackend } from './backend.ts';
import type { Sealer } from './crypto.ts';
import { SealedRecords } from './sealed-records.ts';

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

/** Keyed by the express-session id. set's ttlMs is the session's absolute lifetime. */
export class TokenStore extends SealedRecords<TokenSet> {
  constructor(backend: KeyValueBackend, sealer: Sealer) {
    super(backend, sealer, 'tokens');
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
