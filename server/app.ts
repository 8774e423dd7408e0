/**
 * createApp(config) → the Express app, with everything it holds open behind close(). Used by server/index.ts and by
 * every integration and browser test, so the tests run exactly what production runs.
 *
 * Order matters: the request id first; then /api, the hot path, with its own guards, its own small header set and
 * its own session reader (it never runs helmet, the static files or express-session: docs/benchmarks.md shows what
 * that saves); then security headers and health; the session only where it is needed; body parsers per route,
 * never before the streaming proxy; the error handler last.
 */
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { createOidcClient, type OidcClient } from './auth/client.ts';
import { createAuthRouter } from './auth/routes.ts';
import type { Config } from './config.ts';
import { createHealthRouter } from './diagnostics/health.ts';
import { createDiagnosticsRouter } from './diagnostics/page.ts';
import { BffError, createErrorHandler, ErrorCode } from './errors.ts';
import { createLogger, type Logger } from './logger.ts';
import { createPrometheusMetrics, type Metrics, noopMetrics } from './observability/metrics.ts';
import { createMetricsApp, createMetricsRouter } from './observability/metrics-route.ts';
import { createRequestLog } from './observability/request-log.ts';
import { createRoutePatterns } from './observability/route-pattern.ts';
import { createSessionRef } from './observability/session-ref.ts';
import { countStoreErrors } from './observability/store-errors.ts';
import { resolveCreatioBase } from './proxy/creatio-url.ts';
import { createApiRouter } from './proxy/routes.ts';
import { createSecurityHeaders } from './security/headers.ts';
import type { KeyValueBackend } from './session/backend.ts';
import { type ExpirySweep, startExpirySweep } from './session/expiry-sweep.ts';
import { createSessionMiddleware } from './session/middleware.ts';
import { openBackend, openSessionStorage, type SessionStorage } from './session/storage.ts';
import { createUiRouter } from './ui/routes.ts';

export interface AppDeps {
  logger?: Logger;
  /** A backend shared by several app instances in one test (stands in for Redis). */
  backend?: KeyValueBackend;
  /** Replaces what METRICS_ENABLED chooses (Prometheus, or nothing). */
  metrics?: Metrics;
  /** How often /readyz may probe the Identity Service (default a few seconds; tests use less). */
  readinessProbeIntervalMs?: number;
}

export interface BffApp {
  readonly app: Express;
  readonly storage: SessionStorage;
  readonly oidc: OidcClient;
  readonly logger: Logger;
  /** What the app counts; noopMetrics unless METRICS_ENABLED=true or METRICS_PORT is set. */
  readonly metrics: Metrics;
  /** With METRICS_PORT: the app that serves GET /metrics there (index.ts listens). */
  readonly metricsApp: Express | undefined;
  /** Revokes the refresh tokens of sessions that ended by expiry; runs every minute (session/expiry-sweep.ts). */
  readonly expirySweep: ExpirySweep;
  close(): Promise<void>;
}

const viewsDir = fileURLToPath(new URL('../views', import.meta.url));
const publicDir = fileURLToPath(new URL('../public', import.meta.url));

export async function createApp(config: Config, deps: AppDeps = {}): Promise<BffApp> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const counting = config.metricsEnabled || config.metricsPort !== undefined;
  const prometheus = counting && !deps.metrics ? createPrometheusMetrics() : undefined;
  const metrics = deps.metrics ?? prometheus ?? noopMetrics;
  const backend = deps.backend ?? (await openBackend(config));
  const storage = await openSessionStorage(
    config,
    metrics === noopMetrics ? backend : countStoreErrors(backend, metrics),
  );
  const oidc = createOidcClient(config);
  // Fetch discovery in the background now, so the first sign-in does not wait; a failure is retried lazily.
  oidc
    .getConfiguration()
    .catch((err: BffError) =>
      logger.warn({ detail: err.logDetail }, 'Identity Service discovery failed; will retry'),
    );
  const expirySweep = startExpirySweep({ storage, oidc, logger });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('view engine', 'ejs');
  app.set('views', viewsDir);
  app.locals.appName = 'Creatio OAuth BFF';
  app.locals.sandbox = config.sandbox;

  const sessionRef = createSessionRef(config.sessionSecrets[0]!);
  // First: every request gets its id and its one log line, whatever answers it.
  const proxyMounts = config.proxyAllow.map((family) => resolveCreatioBase(config, family).publicPath);
  app.use(
    createRequestLog({
      logger,
      metrics,
      sessionRef,
      routePattern: createRoutePatterns(app, [...proxyMounts, '/api', '/static']),
    }),
  );
  // Then /api, the hot path: its own guards, headers and session reader; helmet, static and express-session below
  // never run for it.
  const api = createApiRouter({ config, storage, oidc, logger, metrics, sessionRef });
  app.use('/api', api);

  app.use(createSecurityHeaders(config));
  app.use('/static', express.static(publicDir, { index: false, maxAge: config.production ? '1h' : 0 }));
  app.use(createHealthRouter({ storage, oidc, config, probeIntervalMs: deps.readinessProbeIntervalMs }));
  if (prometheus && config.metricsEnabled) app.use(createMetricsRouter(prometheus));

  const session = createSessionMiddleware(config, storage);
  app.use(session);

  // Routes. Body parsers are per route, never global: the OData proxy streams request bodies.
  // (mount points: /auth sign-in, diagnostics, pages; /api is above)
  app.use('/auth', createAuthRouter({ config, storage, oidc, logger, metrics }));
  if (config.diagnosticsEnabled) app.use(createDiagnosticsRouter({ config, storage }));
  app.use(createUiRouter({ config }));

  app.use((req, _res, next) =>
    next(new BffError(ErrorCode.NotFound, { logDetail: `${req.method} ${req.path}` })),
  );
  app.use(createErrorHandler(logger));

  return {
    app,
    storage,
    oidc,
    logger,
    metrics,
    metricsApp: prometheus && config.metricsPort !== undefined ? createMetricsApp(prometheus) : undefined,
    expirySweep,
    async close() {
      expirySweep.stop();
      await api.close();
      await storage.close();
    },
  };
}
