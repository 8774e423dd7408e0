/**
 * The API surface, mounted at /api (before helmet, the static files and the pages: see app.ts): every allowlisted
 * Creatio API family behind the same guards.
 *
 *   /api/odata/*               OData 4 (always, unless PROXY_ALLOW leaves it out)
 *   /api/creatio/<family>/*    odata3, dataservice, rest — only when named in PROXY_ALLOW
 *
 * Guard order: X-CSRF first, then the session. A request without the header is refused with 403 whether or not it
 * is signed in, before the session is even read and before anything goes upstream; a request with the header but
 * no session gets 401 unauthenticated. Both answers are JSON.
 *
 * Everything that can be done once is done here: the pool, the base paths, the token refresher, the limits.
 */
import { Router as createRouter, type Router } from 'express';
import { Pool } from 'undici';
import type { OidcClient } from '../auth/client.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SessionRef } from '../observability/session-ref.ts';
import { requireCsrfHeader } from '../security/csrf.ts';
import { createApiSecurityHeaders } from '../security/headers.ts';
import { requireApiSession } from '../security/require-session.ts';
import { requireSameOrigin } from '../security/same-origin.ts';
import { createApiSessionReader } from '../session/api-session.ts';
import type { SessionStorage } from '../session/storage.ts';
import { createTokenRefresher } from '../tokens/refresh.ts';
import type { RefreshLock } from '../tokens/refresh-lock.ts';
import { ConnectionSlots, ForcedRefreshThrottle, SessionSlots } from './admission.ts';
import { resolveCreatioBase } from './creatio-url.ts';
import { handleODataProxy } from './odata.ts';

export interface ApiDeps {
  readonly config: Config;
  readonly storage: SessionStorage;
  readonly oidc: OidcClient;
  readonly logger: Logger;
  /** A distributed lock when several processes share the session store; in-process single flight otherwise. */
  readonly refreshLock?: RefreshLock;
  /** Refresh grants and upstream exchanges by outcome; nothing is counted when absent. */
  readonly metrics?: Metrics;
  /** Session references in the refresher's log lines, as in the request log. */
  readonly sessionRef?: SessionRef;
}

export type ApiRouter = Router & {
  /** Closes the connection pool to Creatio. */
  close(): Promise<void>;
};

/** Concurrent connections to Creatio per process; beyond them a request waits up to PROXY_POOL_WAIT_MS. */
const MAX_CONNECTIONS = 64;
/** At most one forced token refresh per session in this interval when Creatio answers 401. */
export const FORCED_REFRESH_INTERVAL_MS = 30_000;

export function createApiRouter(deps: ApiDeps): ApiRouter {
  const { config, logger } = deps;
  const timeoutMs = config.proxyTimeoutMs;
  const pool = new Pool(new URL(config.creatioUrl).origin, {
    connections: MAX_CONNECTIONS,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: { timeout: timeoutMs },
  });
  const tokens = createTokenRefresher({
    storage: deps.storage,
    oidc: deps.oidc,
    logger,
    lock: deps.refreshLock,
    metrics: deps.metrics,
    sessionRef: deps.sessionRef,
  });
  const shared = {
    pool,
    tokens,
    logger,
    timeoutMs,
    maxBodyBytes: config.proxyMaxBodyBytes,
    sessionSlots: new SessionSlots(config.proxyMaxConcurrentPerSession, config.proxyPoolWaitMs),
    connections: new ConnectionSlots(MAX_CONNECTIONS, config.proxyPoolWaitMs),
    forcedRefresh: new ForcedRefreshThrottle(FORCED_REFRESH_INTERVAL_MS),
    observer: deps.metrics,
  };

  const router = createRouter();
  router.use(createApiSecurityHeaders(config), requireSameOrigin(config), requireCsrfHeader);
  router.use(createApiSessionReader(config, deps.storage), requireApiSession);
  for (const family of config.proxyAllow) {
    const base = resolveCreatioBase(config, family);
    // The handler sees req.url below the mount, exactly as received: buildCreatioUrl does the decoding.
    router.use(base.publicPath.slice('/api'.length), handleODataProxy({ base, ...shared }));
  }
  return Object.assign(router, { close: () => pool.close() });
}
