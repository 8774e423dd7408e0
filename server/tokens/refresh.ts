/**
 * The session's access token, refreshed with its refresh token when it is expired or about to expire: the one place
 * that sends the refresh_token grant.
 *
 * Single flight per session: the Identity Service rotates refresh tokens, so two concurrent refreshes with the same
 * one would make the second fail with invalid_grant and sign the user out. Requests that find the token stale join
 * the refresh already running for their session (refresh-lock.ts); the refresh re-reads the stored set first, so a
 * token another process refreshed meanwhile is used as is. The new set goes to the token store, where the next
 * request — on any process — reads it.
 */
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { OidcClient } from '../auth/client.ts';
import { describeAnswer, isRefusal, tokenEndpointAnswer } from '../auth/token-endpoint-answer.ts';
import { BffError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type Metrics, noopMetrics, refreshOutcome } from '../observability/metrics.ts';
import type { SessionRef } from '../observability/session-ref.ts';
import { endSession } from '../session/end-session.ts';
import type { SessionStorage } from '../session/storage.ts';
import { type TokenSet, toTokenSet } from '../session/token-store.ts';
import type { RefreshLock } from './refresh-lock.ts';

export interface TokenRefresherDeps {
  readonly storage: SessionStorage;
  readonly oidc: OidcClient;
  readonly logger: Logger;
  /** Defaults to the storage's: across instances on Redis (refresh-lock.ts), in-process otherwise. */
  readonly lock?: RefreshLock;
  readonly now?: () => number;
  /** Grants by outcome; nothing is counted when absent. */
  readonly metrics?: Metrics;
  /** The log lines' session reference, the same as the request log's (observability/session-ref.ts). */
  readonly sessionRef?: SessionRef;
}

export interface FreshTokenOptions {
  /** An access token Creatio just refused: treat it as stale even if its expiry says otherwise. */
  readonly rejectedAccessToken?: string;
}

export interface TokenRefresher {
  /** Resolves to a usable access token; rejects with BffError (login_required, identity_service_*). */
  getFreshAccessToken(sessionId: string, options?: FreshTokenOptions): Promise<string>;
}

const MAX_REFRESH_MARGIN_MS = 60_000;

/**
 * How long before expiry to refresh: a minute, but at most a quarter of the token's lifetime, so that a short-lived
 * token (seconds, in tests; minutes, on some set-ups) is not refreshed on every request.
 */
export function refreshMarginMs(tokens: Pick<TokenSet, 'expiresAt' | 'receivedAt'>): number {
  return Math.min(MAX_REFRESH_MARGIN_MS, Math.max(0, tokens.expiresAt - tokens.receivedAt) / 4);
}

export function needsRefresh(
  tokens: Pick<TokenSet, 'accessToken' | 'expiresAt' | 'receivedAt'>,
  now: number,
  rejectedAccessToken?: string,
): boolean {
  return tokens.accessToken === rejectedAccessToken || now >= tokens.expiresAt - refreshMarginMs(tokens);
}

/** A short, stable reference for log correlation; the session id itself never goes to a log. */
export function sessionRef(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url').slice(0, 10);
}

export function createTokenRefresher(deps: TokenRefresherDeps): TokenRefresher {
  const { storage, logger, metrics = noopMetrics } = deps;
  const ref = deps.sessionRef ?? sessionRef;
  const lock = deps.lock ?? storage.refreshLock;
  const now = deps.now ?? Date.now;

  async function loginRequired(sessionId: string, logDetail: string, cause?: unknown): Promise<never> {
    await endSession(storage, sessionId);
    logger.info({ session: ref(sessionId), detail: logDetail }, 'session ended: sign-in required');
    throw new BffError(ErrorCode.LoginRequired, { cause, logDetail });
  }

  /**
   * Classified by what the token endpoint said, not by one provider's error shape: any refusal (400 invalid_grant,
   * 400 with an empty body, 401, 403 …) means this refresh token will never work again, so the session ends and the
   * user signs in afresh — keeping it would re-send a dead token on every request. Only no answer, a 5xx, 408 or 429
   * is an outage worth waiting out with the session kept.
   */
  async function refreshFailed(sessionId: string, sent: TokenSet, cause: unknown): Promise<string> {
    if (cause instanceof BffError) throw cause; // discovery failed: already classified by auth/client.ts
    const answer = tokenEndpointAnswer(cause);
    if (answer && isRefusal(answer)) {
      // Refused because someone else already spent it? Only when the lock could not keep them out (a Redis
      // failover, an instance stalled past its lease) — and then their new set is in the store: use it rather
      // than sign the user out.
      const stored = await storage.tokens.get(sessionId);
      if (stored && stored.refreshToken !== sent.refreshToken && !needsRefresh(stored, now())) {
        logger.warn(
          { session: ref(sessionId), detail: describeAnswer(answer) },
          'refresh refused, but another refresh had stored a new token set: using it',
        );
        return stored.accessToken;
      }
      return loginRequired(sessionId, `refresh_token grant refused: ${describeAnswer(answer)}`, cause);
    }
    throw new BffError(ErrorCode.IdentityServiceUnavailable, {
      cause,
      logDetail: answer
        ? `refresh_token grant answered ${describeAnswer(answer)}`
        : `refresh_token grant got no answer: ${(cause as Error)?.message}`,
    });
  }

  /** Runs inside the lock: at most one per session at a time. */
  async function refresh(sessionId: string, rejectedAccessToken: string | undefined): Promise<string> {
    const current = await storage.tokens.get(sessionId);
    if (!current) return loginRequired(sessionId, 'no token set for the session');
    if (!needsRefresh(current, now(), rejectedAccessToken)) return current.accessToken; // refreshed meanwhile
    if (!current.refreshToken) {
      if (current.accessToken !== rejectedAccessToken && now() < current.expiresAt)
        return current.accessToken;
      return loginRequired(sessionId, 'access token expired and there is no refresh token (offline_access?)');
    }

    const configuration = await deps.oidc.getConfiguration();
    let response: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
    try {
      response = await oidc.refreshTokenGrant(configuration, current.refreshToken);
    } catch (cause) {
      metrics.refresh(refreshOutcome(cause));
      return refreshFailed(sessionId, current, cause);
    }
    metrics.refresh('ok');
    const next = toTokenSet(response, current, now());
    // The new set keeps its session's lifetime, not a fresh one of its own.
    const remainingMs = await storage.sessions.remainingMs(sessionId);
    if (remainingMs <= 0) return loginRequired(sessionId, 'the session ended during the refresh');
    await storage.tokens.set(sessionId, next, remainingMs);
    logger.debug(
      {
        session: ref(sessionId),
        expiresInSeconds: Math.round((next.expiresAt - next.receivedAt) / 1000),
      },
      'access token refreshed',
    );
    return next.accessToken;
  }

  return {
    async getFreshAccessToken(sessionId, options = {}) {
      const { rejectedAccessToken } = options;
      // The common case costs one store read and no lock.
      const tokens = await storage.tokens.get(sessionId);
      if (tokens && !needsRefresh(tokens, now(), rejectedAccessToken)) return tokens.accessToken;
      return lock.run(sessionId, () => refresh(sessionId, rejectedAccessToken));
    },
  };
}
