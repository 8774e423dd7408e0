/**
 * Sessions that end by expiry (idle or absolute lifetime) leave their token sets expired in the store; this sweep
 * takes them out and revokes their refresh tokens (RFC 7009), so a grant does not outlive the session it was made
 * for (RFC 9700 §4.14). A refresh token nobody holds any more is still a credential: in a copy of the store or a
 * backup, it would work until its own lifetime ran out.
 *
 * Runs every minute on SQLite and in memory. On Redis expired keys are gone at once, so there is nothing to sweep:
 * the token set still expires with its session, and its refresh token lives on only at the Identity Service, until
 * its own lifetime ends (SECURITY.md says so).
 */
import * as oidc from 'openid-client';
import type { OidcClient } from '../auth/client.ts';
import type { Logger } from '../logger.ts';
import type { SessionStorage } from './storage.ts';

const SWEEP_INTERVAL_MS = 60_000;
/** Revocations per round; the rest wait for the next round, so a mass expiry cannot flood the Identity Service. */
const BATCH = 100;

export interface ExpirySweep {
  /** One round now; resolves to the number of refresh tokens it asked the Identity Service to revoke. */
  runOnce(): Promise<number>;
  stop(): void;
}

export function startExpirySweep(deps: {
  storage: SessionStorage;
  oidc: OidcClient;
  logger: Logger;
  intervalMs?: number;
}): ExpirySweep {
  const { storage, logger } = deps;
  let running: Promise<number> | undefined;

  async function sweep(): Promise<number> {
    // Discovery first (cached once it succeeded): while the Identity Service is unreachable, nothing is taken out
    // of the store, so those token sets wait for a later round instead of being dropped unrevoked.
    const configuration = await deps.oidc.getConfiguration();
    const expired = await storage.tokens.takeExpired(BATCH);
    const refreshTokens = expired.flatMap((set) => (set.refreshToken ? [set.refreshToken] : []));
    if (refreshTokens.length === 0) return 0;
    let failed = 0;
    for (const token of refreshTokens) {
      // One at a time: the sweep is background work and must not compete with sign-ins for the Identity Service.
      await oidc.tokenRevocation(configuration, token, { token_type_hint: 'refresh_token' }).catch(() => {
        failed++;
      });
    }
    logger.info(
      { revoked: refreshTokens.length - failed, failed },
      'revoked the refresh tokens of expired sessions',
    );
    return refreshTokens.length;
  }

  function runOnce(): Promise<number> {
    running ??= sweep()
      .catch((err: Error) => {
        logger.warn({ detail: err.message }, 'expiry sweep failed; will retry');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  const timer = setInterval(() => void runOnce(), deps.intervalMs ?? SWEEP_INTERVAL_MS);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
