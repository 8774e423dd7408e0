/**
 * GET /diagnostics and /diagnostics.json on the real app: readable without signing in, nothing secret in them,
 * the browser-origin check from this very request, and one Creatio call with the signed-in user's own token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, DiagnosticsReport } from '../../qa/check-result.ts';
import { type Harness, startHarness } from '../support/harness.ts';

function check(report: DiagnosticsReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found;
}

describe('/diagnostics on a correctly configured app', () => {
  let harness: Harness;
  let host: string;
  beforeAll(async () => {
    harness = await startHarness();
    host = new URL(harness.baseUrl).host;
  });
  afterAll(() => harness.close());

  it('answers JSON without sign-in: every check passes, the signed-in check is skipped', async () => {
    const response = await harness.agent().get('/diagnostics.json').set('Host', host);
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const report = response.body as DiagnosticsReport;
    expect(report.ok).toBe(true);
    expect(check(report, 'redirect-uri').status).toBe('pass');
    expect(check(report, 'browser-origin')).toMatchObject({
      status: 'pass',
      summary: expect.stringContaining(harness.baseUrl),
    });
    expect(check(report, 'creatio-as-user')).toMatchObject({
      status: 'skip',
      summary: expect.stringContaining('sign in'),
    });
  });

  it('renders a page with one card per check, masked secrets and no inline script', async () => {
    const response = await harness.agent().get('/diagnostics').set('Host', host);
    expect(response.status).toBe(200);
    expect(response.type).toBe('text/html');
    expect(response.text).toContain('data-testid="diagnostics-summary" data-ok="true"');
    expect(response.text).toMatch(/data-testid="check-redirect-uri" data-status="pass"/);
    expect(response.text).toContain('✅');
    expect(response.text).toContain(harness.config.redirectUri);
    expect(response.text).not.toContain(harness.config.clientSecret);
    for (const secret of harness.config.sessionSecrets) expect(response.text).not.toContain(secret);
    expect(response.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it('flags APP_URL when the browser came through a proxy the app does not trust', async () => {
    const response = await harness
      .agent()
      .get('/diagnostics.json')
      .set('Host', host)
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Host', 'bff.example.com');
    const result = check(response.body, 'browser-origin');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('TRUST_PROXY is off');
    expect(result.fix).toBe(
      'If that proxy is yours, set TRUST_PROXY=1 (one hop) and APP_URL=https://bff.example.com.',
    );
  });

  it('for a signed-in user calls Creatio with their token and never shows it', async () => {
    const agent = harness.agent();
    await harness.signIn(agent);
    harness.sandbox.stats.reset();
    const response = await agent.get('/diagnostics').set('Host', host);
    expect(response.text).toMatch(/data-testid="check-creatio-as-user" data-status="pass"/);
    expect(response.text).toContain('Alice Andersen');

    const call = harness.sandbox.stats.creatioRequests.find((r) =>
      r.url.startsWith('/0/odata/Account?$top=1'),
    );
    expect(call?.sub).toBe(harness.sandbox.users[0]!.sub);
    const token = String(call?.headers.authorization).replace(/^Bearer /, '');
    expect(token.length).toBeGreaterThan(20);
    expect(response.text).not.toContain(token);
  });
});

describe('/diagnostics on a misconfigured app', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ env: { OAUTH_REDIRECT_URI: 'http://localhost:1/auth/callback/' } });
  });
  afterAll(() => harness.close());

  it('shows the failed redirect-URI check with its fix', async () => {
    const response = await harness.agent().get('/diagnostics').set('Host', new URL(harness.baseUrl).host);
    expect(response.status).toBe(200);
    expect(response.text).toContain('data-ok="false"');
    expect(response.text).toMatch(/data-testid="check-redirect-uri" data-status="fail"/);
    expect(response.text).toContain('❌');
    expect(response.text).toContain('npm run redirect-urls -- add http://localhost:1/auth/callback/');
  });
});

describe('DIAGNOSTICS_ENABLED', () => {
  it('hides /diagnostics when switched off (the production default)', async () => {
    const off = await startHarness({ env: { DIAGNOSTICS_ENABLED: 'false' } });
    try {
      await off.agent().get('/diagnostics.json').expect(404);
      await off.agent().get('/diagnostics').expect(404);
    } finally {
      await off.close();
    }
  });
});
