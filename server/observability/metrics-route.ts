/**
 * GET /metrics in Prometheus text format: on the app's port when METRICS_ENABLED=true, on a port of its own with
 * METRICS_PORT. It carries counts and timings
 * by route pattern and outcome, never a token, a session id or a user identifier (metrics.ts keeps labels to fixed
 * sets). It is not secret but it is not for the public either: keep it off the internet at the reverse proxy.
 */
import express, { type Express, Router } from 'express';
import type { PrometheusMetrics } from './metrics.ts';

export function createMetricsRouter(metrics: PrometheusMetrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const body = await metrics.render();
    res.set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(body);
  });
  return router;
}

/** The METRICS_PORT listener's app: GET /metrics and a plain 404 for anything else. */
export function createMetricsApp(metrics: PrometheusMetrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(createMetricsRouter(metrics));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Only GET /metrics is served on this port.\n');
  });
  return app;
}
