/**
 * GET /metrics in Prometheus text format, mounted only when METRICS_ENABLED=true. It carries counts and timings
 * by route pattern and outcome, never a token, a session id or a user identifier (metrics.ts keeps labels to fixed
 * sets). It is not secret but it is not for the public either: keep it off the internet at the reverse proxy.
 */
import { Router } from 'express';
import type { PrometheusMetrics } from './metrics.ts';

export function createMetricsRouter(metrics: PrometheusMetrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await metrics.render();
    res.set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(body);
  });
  return router;
}
