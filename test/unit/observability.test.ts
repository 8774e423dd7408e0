/**
 * The pieces of the operations surface that need no sandbox: route patterns on a real Express app (including the
 * error path, where Express has already forgotten the router's mount), and session-store failures being counted.
 */
import express, { Router } from 'express';
import supertest from 'supertest';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { createPrometheusMetrics } from '../../server/observability/metrics.ts';
import { createRoutePatterns } from '../../server/observability/route-pattern.ts';
import { countStoreErrors } from '../../server/observability/store-errors.ts';
import { createMemoryBackend } from '../../server/session/backend.ts';

describe('route patterns', () => {
  const seen: string[] = [];
  const app = express();
  const routePattern = createRoutePatterns(app, ['/api/odata', '/api']);
  app.use((req, res, next) => {
    res.once('close', () => seen.push(routePattern(req)));
    next();
  });
  const auth = Router();
  auth.get('/sessions/:handle', (_req, res) => void res.send('ok'));
  auth.get('/callback', async () => {
    throw new Error('refused');
  });
  app.use('/auth', auth);
  app.use('/api/odata', (_req, res) => void res.send('proxied'));
  app.get('/', (_req, res) => void res.send('home'));
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).send('error');
  });

  it.each([
    ['/auth/sessions/4f2a9c', '/auth/sessions/:handle'],
    ['/auth/callback?code=secret-code&state=s', '/auth/callback'],
    ["/api/odata/Account(guid'1')?$filter=Name eq 'x'", '/api/odata/*'],
    ['/api/other', '/api/*'],
    ['/', '/'],
    ['/etc/passwd', '(unmatched)'],
  ])('%s → %s', async (path, pattern) => {
    seen.length = 0;
    await supertest(app).get(path);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([pattern]);
  });
});

describe('countStoreErrors', () => {
  it('passes calls through and counts failures by operation', async () => {
    const metrics = createPrometheusMetrics();
    const memory = createMemoryBackend();
    const failing = { ...memory, ping: () => Promise.reject(new Error('ECONNREFUSED')) };
    const backend = countStoreErrors(failing, metrics);
    await backend.set('k', 'v', 1000);
    expect(await backend.get('k')).toBe('v');
    await expect(backend.ping()).rejects.toThrow('ECONNREFUSED');
    await expect(backend.ping()).rejects.toThrow('ECONNREFUSED');
    const text = await metrics.render();
    expect(text).toMatch(/^bff_session_store_errors_total\{operation="ping"\} 2$/m);
    expect(text).not.toMatch(/operation="(get|set)"/);
    await backend.close();
  });
});

describe('METRICS_PORT', () => {
  const env = {
    IDENTITY_SERVICE_URL: 'https://example-is.creatio.com',
    CREATIO_URL: 'https://example.creatio.com',
    OAUTH_CLIENT_ID: 'client',
    OAUTH_CLIENT_SECRET: 'secret',
    SESSION_SECRET: 'a'.repeat(40),
    PORT: '8080',
  };

  it('is refused when it is the app port', () => {
    expect(() => loadConfig({ ...env, METRICS_PORT: '8080' })).toThrow(/METRICS_PORT: 8080 is PORT too/);
  });

  it('is a port number', () => {
    expect(() => loadConfig({ ...env, METRICS_PORT: 'ninety' })).toThrow(
      /METRICS_PORT: must be a whole number/,
    );
    expect(loadConfig({ ...env, METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadConfig(env).metricsPort).toBeUndefined();
  });
});
