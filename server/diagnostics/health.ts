/**
 * /healthz: the process answers. /readyz: it can serve sign-ins and API calls — the session store answers and the
 * Identity Service's discovery document was loaded. Load balancers poll these; they carry no secrets.
 */
import { Router } from 'express';
import type { OidcClient } from '../auth/client.ts';
import type { SessionStorage } from '../session/storage.ts';

export function createHealthRouter(deps: { storage: SessionStorage; oidc: OidcClient }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [store, identityService] = await Promise.allSettled([
      deps.storage.backend.ping(),
      deps.oidc.getConfiguration(),
    ]);
    const checks = {
      sessionStore: store.status === 'fulfilled' ? 'ok' : 'unavailable',
      identityService: identityService.status === 'fulfilled' ? 'ok' : 'unavailable',
    };
    const ready = Object.values(checks).every((v) => v === 'ok');
    res
      .status(ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
