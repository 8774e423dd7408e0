/**
 * /healthz: the process answers. /readyz: whether a load balancer should send this instance traffic, and what is
 * wrong when something is. Load balancers poll these; they carry no secrets.
 *
 * The session store decides readiness: without it no request that needs a session can be served, so 503 takes the
 * instance out of rotation until the store is back. The Identity Service does not: when it is down, every instance
 * is equally cut off from it, and signed-in users' calls still work while their access tokens are valid — taking
 * every instance out would turn an Identity Service outage into a full outage. So it is reported (200 "degraded",
 * `identityService: "unreachable"`) but does not fail readiness. It is probed with a short timeout at most every few
 * seconds, whatever the polling rate, so a struggling Identity Service is not hammered by health checks.
 */
import { Router } from 'express';
import { discoveryUrl, type OidcClient } from '../auth/client.ts';
import type { Config } from '../config.ts';
import type { SessionStorage } from '../session/storage.ts';

export interface HealthDeps {
  readonly storage: SessionStorage;
  readonly oidc: OidcClient;
  readonly config: Pick<Config, 'identityServiceUrl'>;
  /** How long a probe result of the Identity Service is reused. */
  readonly probeIntervalMs?: number;
  /** How long a probe may take before the Identity Service counts as unreachable. */
  readonly probeTimeoutMs?: number;
}

export type IdentityServiceCheck = 'ok' | 'unreachable';

const DEFAULT_PROBE_INTERVAL_MS = 5_000;
const DEFAULT_PROBE_TIMEOUT_MS = 1_500;

/**
 * Answers from the last probe while it is younger than the interval; concurrent callers share one probe. Both
 * outcomes are cached, so a failing Identity Service costs one request per interval, not one per poll.
 */
export function createIdentityServiceProbe(deps: HealthDeps): () => Promise<IdentityServiceCheck> {
  const interval = deps.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const timeout = deps.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  let last: { result: Promise<IdentityServiceCheck>; until: number } | undefined;

  async function probe(): Promise<IdentityServiceCheck> {
    try {
      // The discovery document answering now: the cached configuration alone would say "ok" during an outage.
      const response = await fetch(discoveryUrl(deps.config), {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(timeout),
      });
      await response.body?.cancel();
      if (!response.ok) return 'unreachable';
      // Reachable: make sure sign-in can use it too (loads discovery if start-up could not).
      await deps.oidc.getConfiguration();
      return 'ok';
    } catch {
      return 'unreachable';
    }
  }

  return () => {
    if (last && Date.now() < last.until) return last.result;
    const result = probe().finally(() => {
      if (last?.result === result) last = { result, until: Date.now() + interval };
    });
    last = { result, until: Number.POSITIVE_INFINITY }; // in flight: everyone shares it
    return result;
  };
}

export function createHealthRouter(deps: HealthDeps): Router {
  const router = Router();
  const identityService = createIdentityServiceProbe(deps);

  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [store, idp] = await Promise.all([
      deps.storage.backend.ping().then(
        () => 'ok' as const,
        () => 'unavailable' as const,
      ),
      identityService(),
    ]);
    const checks = { sessionStore: store, identityService: idp };
    const status = store !== 'ok' ? 'not_ready' : idp !== 'ok' ? 'degraded' : 'ready';
    res
      .status(status === 'not_ready' ? 503 : 200)
      .set('Cache-Control', 'no-store')
      .json({ status, checks });
  });
  return router;
}
