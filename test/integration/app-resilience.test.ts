/**
 * The app outside the happy path: an Identity Service that is down at start-up, the response headers that protect
 * every page, and the cookie a deployment behind a TLS proxy gets.
 */
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startSandbox } from '../../sandbox/index.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { freePort } from '../support/ports.ts';

describe('Identity Service down at start-up', () => {
  it('starts anyway, reports degraded, explains sign-in failures, and recovers by itself', async () => {
    const identityPort = await freePort();
    const creatioPort = await freePort();
    const config = loadConfig({
      IDENTITY_SERVICE_URL: `http://127.0.0.1:${identityPort}`,
      CREATIO_URL: `http://127.0.0.1:${creatioPort}`,
      OAUTH_CLIENT_ID: 'creatio-oauth-bff-sandbox',
      OAUTH_CLIENT_SECRET: 'not-used-before-the-sandbox-starts',
      SESSION_SECRET: 's'.repeat(40),
      SESSION_STORE: 'memory',
      HTTP_TIMEOUT_MS: '1000',
    });
    const bff = await createApp(config, { logger: createLogger('silent'), readinessProbeIntervalMs: 100 });
    const agent = supertest(bff.app);
    try {
      await agent.get('/healthz').expect(200, { status: 'ok' });
      // Still in service (signed-in users' calls do not need the Identity Service), but saying what is wrong.
      const degraded = await agent.get('/readyz').expect(200);
      expect(degraded.body).toEqual({
        status: 'degraded',
        checks: { sessionStore: 'ok', identityService: 'unreachable' },
      });

      const login = await agent.get('/auth/login').set('Accept', 'text/html').expect(503);
      expect(login.text).toContain('IDENTITY_SERVICE_URL');
      expect(login.text).not.toMatch(/\n\s+at [\w.<]+ \(/);

      // The Identity Service comes up on the configured port: the next request discovers it, no restart needed.
      const sandbox = await startSandbox({ identityPort, creatioPort, appUrl: config.appUrl });
      try {
        await agent.get('/auth/login').expect(302);
        await vi.waitFor(
          async () => expect((await agent.get('/readyz').expect(200)).body.status).toBe('ready'),
          { timeout: 3_000, interval: 100 },
        );
      } finally {
        await sandbox.close();
      }
    } finally {
      await bff.close();
    }
  });
});

describe('response headers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends a CSP without inline script that lets the sign-out form reach the end-session endpoint', async () => {
    const res = await h.agent().get('/').expect(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain(`form-action 'self' ${new URL(h.sandbox.identityServiceUrl).origin}`);
    expect(csp).toContain("frame-ancestors 'none'");
    // Plain http (the sandbox, localhost): upgrading would break every request.
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('marks pages and session answers as not cacheable', async () => {
    const agent = h.agent();
    await h.signIn(agent);
    for (const path of ['/', '/accounts', '/auth/session']) {
      const res = await agent.get(path).expect(200);
      expect(res.headers['cache-control'], path).toBe('no-store');
    }
  });
});

describe('behind a TLS-terminating proxy', () => {
  it('uses a __Host- cookie with Secure when APP_URL is https', async () => {
    const h = await startHarness({ env: { APP_URL: 'https://bff.example.com', TRUST_PROXY: 'true' } });
    try {
      expect(h.config.cookie).toEqual({ name: '__Host-bff', secure: true });
      const csp = String(
        (await h.agent().get('/').set('X-Forwarded-Proto', 'https')).headers['content-security-policy'],
      );
      expect(csp).toContain('upgrade-insecure-requests');

      // The redirect URL registered for this deployment is the https one the browser sees.
      h.sandbox.registry.addRedirectUrls(h.config.clientId, ['https://bff.example.com/auth/callback']);
      const agent = h.agent();
      const login = await agent.get('/auth/login').set('X-Forwarded-Proto', 'https').expect(302);
      expect(new URL(login.headers.location as string).searchParams.get('redirect_uri')).toBe(
        'https://bff.example.com/auth/callback',
      );
    } finally {
      await h.close();
    }
  });
});
