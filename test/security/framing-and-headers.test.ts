/**
 * Response headers that keep our pages out of other sites' frames and scripts out of our pages, in the BFF and in
 * the sandbox Identity Service's sign-in page; and the sandbox Creatio's bounded request log.
 * ASVS v5.0.0-3.4.3 (CSP), v5.0.0-3.4.6 (frame-ancestors), RFC 10017 (BFF: XSS is the remaining threat).
 */
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RECORDED_REQUESTS } from '../../sandbox/creatio.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Harness, startHarness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('BFF pages', () => {
  it("refuse every frame: X-Frame-Options DENY agrees with CSP frame-ancestors 'none'", async () => {
    for (const path of ['/', '/auth/login', '/does-not-exist']) {
      const res = await h.agent().get(path).set('Accept', 'text/html');
      expect(res.headers['x-frame-options'], path).toBe('DENY');
      expect(res.headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
    }
  });
});

describe('BFF transport and leakage headers', () => {
  it('sends Referrer-Policy no-referrer and nosniff everywhere, and HSTS when APP_URL is https', async () => {
    const res = await h.agent().get('/');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeUndefined(); // plain http: HSTS would be ignored

    const config = loadConfig(
      { ...h.env, APP_URL: 'https://bff.example.com', TRUST_PROXY: 'loopback' },
      { sandbox: true },
    );
    const https = await createApp(config, { logger: createLogger('silent') });
    try {
      const secure = await supertest(https.app).get('/').set('X-Forwarded-Proto', 'https');
      expect(secure.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    } finally {
      await https.close();
    }
  });
});

describe('the sandbox sign-in page', () => {
  async function loginPage(): Promise<Response> {
    const login = await h.agent().get('/auth/login').expect(302);
    const authorize = await fetch(login.headers.location as string, { redirect: 'manual' });
    const cookie = authorize.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return fetch(new URL(authorize.headers.get('location')!, login.headers.location as string), {
      headers: { cookie },
    });
  }

  it('has a Content-Security-Policy that runs no foreign script, and cannot be framed', async () => {
    const page = await loginPage();
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('the sandbox Creatio request log', () => {
  it(`keeps the latest ${MAX_RECORDED_REQUESTS} requests, not every request since start`, async () => {
    const log = h.sandbox.stats.creatioRequests;
    for (let i = 0; i < MAX_RECORDED_REQUESTS + 20; i += 60) {
      await Promise.all(
        Array.from({ length: 60 }, (_, j) => fetch(`${h.sandbox.creatioUrl}/0/odata/Account?n=${i + j}`)),
      );
    }
    expect(log.length).toBe(MAX_RECORDED_REQUESTS);
    expect(log.at(-1)?.url).toMatch(/n=\d+$/);
    expect(log.some((r) => r.url.endsWith('?n=0'))).toBe(false);
  });
});
