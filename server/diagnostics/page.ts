/**
 * GET /diagnostics (a page) and GET /diagnostics.json: the doctor's checks, plus two only a browser request can
 * answer — APP_URL against the origin this request came in on, and one Creatio call with the signed-in user's own
 * token (read on the server, never rendered).
 *
 * Readable without signing in, because QA needs it before anyone can sign in; so it shows nothing secret (secrets
 * are masked) and it cannot be used to hammer the Identity Service: concurrent and repeated requests within
 * `cacheMs` share one run of the checks.
 */
import { type Request, Router } from 'express';
import { type CheckResult, type DiagnosticsReport, STATUS_ICON, toReport } from '../../qa/check-result.ts';
import { checkCreatioAsUser } from '../../qa/checks/creatio.ts';
import { checkBrowserOrigin } from '../../qa/checks/redirect-uri.ts';
import type { RequestView } from '../../qa/checks/redirect-uri-probe.ts';
import { httpOf, runDoctor } from '../../qa/doctor.ts';
import type { Fetch } from '../../qa/http.ts';
import type { Config } from '../config.ts';
import type { SessionStorage } from '../session/storage.ts';
import { setPageLocals } from '../ui/locals.ts';

export interface DiagnosticsDeps {
  readonly config: Config;
  readonly storage: SessionStorage;
  readonly fetch?: Fetch;
  /** How long one run of the checks is reused; default 5 s. Tests that change the sandbox between calls pass 0. */
  readonly cacheMs?: number;
}

const DEFAULT_CACHE_MS = 5_000;

function requestViewOf(req: Request, config: Config): RequestView {
  return {
    protocol: req.protocol,
    host: req.host,
    forwardedProto: req.get('x-forwarded-proto'),
    forwardedHost: req.get('x-forwarded-host'),
    trustProxy: config.trustProxy !== false,
  };
}

export function createDiagnosticsRouter(deps: DiagnosticsDeps): Router {
  const { config, storage } = deps;
  const http = httpOf(config, { fetch: deps.fetch });
  const cacheMs = deps.cacheMs ?? DEFAULT_CACHE_MS;
  let cached: { report: Promise<DiagnosticsReport>; until: number } | undefined;

  function sharedChecks(): Promise<DiagnosticsReport> {
    if (cached && cached.until > Date.now()) return cached.report;
    const report = runDoctor(config, { fetch: http.fetch });
    cached = { report, until: Date.now() + cacheMs };
    return report;
  }

  async function reportFor(req: Request): Promise<DiagnosticsReport> {
    const tokens = req.session?.user ? await storage.tokens.get(req.sessionID) : undefined;
    const [shared, asUser] = await Promise.all([
      sharedChecks(),
      checkCreatioAsUser(config, tokens, http, Date.now),
    ]);
    const perRequest: CheckResult[] = [checkBrowserOrigin(config, requestViewOf(req, config)), asUser];
    return toReport([...shared.checks, ...perRequest]);
  }

  const router = Router();
  router.get('/diagnostics.json', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await reportFor(req));
  });
  router.get('/diagnostics', setPageLocals, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.render('diagnostics', { title: 'Diagnostics', report: await reportFor(req), icons: STATUS_ICON });
  });
  return router;
}
