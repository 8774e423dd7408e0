/**
 * The sandbox's stand-in for Creatio: OData 4 at `/0/odata` with seeded accounts and contacts, the OAuthConfigService
 * web service, and a few more Creatio API families (OData 3, DataService) so the BFF's proxy allowlist can be
 * tested. Everything but `canUseAuthorizationCodeFlow` needs a bearer token from the sandbox Identity Service, and
 * each user sees only the records they own, so a client that works here works against Creatio.
 *
 * Every request is recorded in `stats.creatioRequests` before it is answered, and `faults` can delay answers, slow
 * their bodies down or refuse valid tokens, for the BFF's timeout and refresh-and-retry tests.
 */

import type { RequestListener } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { ClientRegistry } from './client-registry.ts';
import { createOAuthConfigServiceRouter } from './oauth-config-service.ts';
import { createBearerAuthentication, principalOf, type TokenIssuer } from './odata/bearer.ts';
import { createDataServiceRouter } from './odata/data-service.ts';
import { ODataError, sendError, sendODataError } from './odata/errors.ts';
import { createSeedLogos } from './odata/logos.ts';
import { createOData3Router } from './odata/odata3.ts';
import { requireODataAccess } from './odata/permissions.ts';
import { RecordStore } from './odata/records.ts';
import { createODataRouter } from './odata/routes.ts';
import { createSeedRows } from './odata/seed.ts';
import type { CreatioFaults, RecordedRequest, SandboxStats } from './stats.ts';
import { findUserBySub, recordOwners } from './users.ts';

export interface CreatioStandInOptions {
  /** Issuer of the access tokens (no trailing slash); its JWKS verifies them. */
  readonly identityServiceUrl: string;
  /** This service's public base URL: the tokens' audience and the base of `@odata.context`. */
  readonly creatioUrl: string;
  readonly registry: ClientRegistry;
  readonly stats: SandboxStats;
  readonly faults: CreatioFaults;
  /** The answer of `/0/identityServiceInfo/canUseAuthorizationCodeFlow`; true unless a test says otherwise. */
  readonly canUseAuthorizationCodeFlow?: boolean;
  /** Creatio's MaxEntityRowCount system setting (20000); a test sets it low to see the cap. */
  readonly maxEntityRowCount?: number;
  /** Creatio's MaxFileSize system setting, in bytes here (10 MB). */
  readonly maxFileSizeBytes?: number;
  /** Trust another Identity Service's tokens instead (the interop tests); see BearerOptions. */
  readonly tokenIssuer?: TokenIssuer;
  /** Client id → the `ApplicationAccess_<id>` scope its users' tokens need (Creatio 8.3+). */
  readonly requiredScopes?: Readonly<Record<string, string>>;
  /**
   * Creatio 8.3+ serves its Identity Service on its own host: the service's listener, answered for `/0/connect/*`,
   * `/0/.well-known/*` and the sign-in pages below `/0`. Undefined: the Identity Service has a host of its own.
   */
  readonly identityService?: RequestListener;
}

/** The paths below `/0` that belong to a Creatio-hosted Identity Service. */
const IDENTITY_SERVICE_PATHS = /^\/0\/(connect|\.well-known|interaction)(\/|$)/;

function createSeededStore(): RecordStore {
  const rows = createSeedRows(recordOwners.map((user) => user.sub));
  const logos = createSeedLogos(rows.Account);
  return new RecordStore({ ...rows, SysImage: logos.images }, logos.streams);
}

/** Enough for any test's look-back; the oldest are dropped beyond it. */
export const MAX_RECORDED_REQUESTS = 1000;

/**
 * Records the request on arrival, so it is in the list even when authentication then fails. The token is checked
 * later in the chain, so `sub` reads the principal that `requireBearerToken` sets, whenever it is read.
 */
function recordRequests(stats: SandboxStats): RequestHandler {
  return function recordRequest(req, res, next) {
    const record: RecordedRequest = {
      method: req.method,
      url: req.originalUrl,
      headers: { ...req.headers },
      get sub() {
        return principalOf(res)?.userId;
      },
    };
    stats.creatioRequests.push(record);
    // A long-running `npm start` must not grow without bound: keep the latest requests only.
    if (stats.creatioRequests.length > MAX_RECORDED_REQUESTS) {
      stats.creatioRequests.splice(0, stats.creatioRequests.length - MAX_RECORDED_REQUESTS);
    }
    next();
  };
}

/** Reads the fault switch on every request, so a test can turn latency on and off on a running app. */
function delayAnswers(faults: CreatioFaults): RequestHandler {
  return async function delayAnswer(_req, _res, next) {
    if (faults.latencyMs > 0) await delay(faults.latencyMs);
    next();
  };
}

/** With `faults.slowBodyMs`, each answer's body arrives in two halves, the second that much later. */
function slowBodies(faults: CreatioFaults): RequestHandler {
  return function slowBody(_req, res, next) {
    const pauseMs = faults.slowBodyMs;
    if (pauseMs > 0) {
      const end = res.end.bind(res) as (chunk?: Buffer) => Response;
      res.end = ((chunk?: string | Buffer) => {
        if (chunk === undefined || typeof chunk === 'function') return end();
        const body = Buffer.from(chunk);
        res.write(body.subarray(0, body.length >> 1));
        setTimeout(() => end(body.subarray(body.length >> 1)), pauseMs);
        return res;
      }) as Response['end'];
    }
    next();
  };
}

function handleNotFound(req: Request): never {
  throw new ODataError(404, `No HTTP resource was found that matches the request URI '${req.path}'.`);
}

/** The last handler: every error becomes an OData error body; unexpected ones say nothing about the inside. */
function handleError(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = (error as { status?: unknown }).status;
  const type = (error as { type?: unknown }).type;
  if (error instanceof ODataError) {
    sendError(res, error);
  } else if (type === 'entity.parse.failed') {
    sendODataError(res, 400, 'The request body is not valid JSON.');
  } else if (type === 'entity.too.large') {
    sendODataError(res, 413, 'The request body is too large.');
  } else if (typeof status === 'number' && status >= 400 && status < 500) {
    sendODataError(res, status, 'The request could not be read.');
  } else {
    // A bug in the stand-in: say so on stderr for whoever runs the tests, never in the answer.
    console.error('Creatio stand-in: unexpected error', error);
    sendODataError(res, 500, 'An error has occurred.');
  }
}

export function createCreatioStandIn(options: CreatioStandInOptions): express.Express {
  const creatioUrl = options.creatioUrl.replace(/\/+$/, '');
  const canUseAuthorizationCodeFlow = options.canUseAuthorizationCodeFlow ?? true;
  const store = createSeededStore();
  const requireBearerToken = createBearerAuthentication(options);

  const app = express();
  app.disable('x-powered-by');
  app.use(recordRequests(options.stats));
  app.use(delayAnswers(options.faults));
  app.use(slowBodies(options.faults));
  const { identityService } = options;
  if (identityService) {
    // Mounted at /0 so that the Identity Service sees its own paths and builds its URLs with the prefix.
    const mounted = express().use('/0', identityService as RequestHandler);
    app.use((req, res, next) => (IDENTITY_SERVICE_PATHS.test(req.path) ? mounted(req, res) : next()));
  }

  // Anonymous in Creatio too: clients ask it before they have a token.
  app.get('/0/identityServiceInfo/canUseAuthorizationCodeFlow', (_req, res) => {
    res.json(canUseAuthorizationCodeFlow);
  });
  // Creatio 8.1.2+: anonymous, 500 with the same body when it finds a problem.
  app.get('/0/api/OAuthHealthCheck', (_req, res) => {
    const healthy = canUseAuthorizationCodeFlow;
    res.status(healthy ? 200 : 500).json({
      HasProblem: !healthy,
      IsSystemSettingsFilledIn: healthy,
      IsIdentityServiceAvailable: true,
      IsAccessTokenRetrievableForSystemActions: true,
      Message: healthy ? '' : 'OAuth 2.0 is not set up: fill in the OAuth20IdentityServer* system settings.',
    });
  });
  // The signed-in user, as Creatio's own UI asks for it (POST, answered for bearer tokens too).
  app.post('/0/ServiceModel/UserInfoService.svc/GetCurrentUserInfo', requireBearerToken, (_req, res) => {
    const userId = principalOf(res)?.userId;
    const user = userId ? findUserBySub(userId) : undefined;
    res.json({
      userInfo: {
        id: userId,
        contactId: userId,
        contactName: user?.name ?? 'Integration technical user',
        email: user?.email ?? '',
      },
    });
  });
  app.use(
    '/0/odata',
    requireBearerToken,
    requireODataAccess,
    createODataRouter({
      odataUrl: `${creatioUrl}/0/odata`,
      store,
      maxEntityRowCount: options.maxEntityRowCount,
      maxFileSizeBytes: options.maxFileSizeBytes,
    }),
  );
  app.use(
    '/0/ServiceModel/EntityDataService.svc',
    requireBearerToken,
    requireODataAccess,
    createOData3Router({ serviceUrl: `${creatioUrl}/0/ServiceModel/EntityDataService.svc`, store }),
  );
  app.use('/0/DataService/json/SyncReply', requireBearerToken, createDataServiceRouter({ store }));
  app.use(
    '/0/rest/OAuthConfigService',
    requireBearerToken,
    createOAuthConfigServiceRouter({ registry: options.registry }),
  );

  app.use(handleNotFound);
  app.use(handleError);
  return app;
}
