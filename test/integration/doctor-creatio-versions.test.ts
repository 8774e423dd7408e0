/**
 * The doctor against Creatio 8.3+ as documented (the sandbox's switches): the Creatio-hosted endpoint layout passes
 * and is named, a missing ApplicationAccess_<id> scope fails with the scope to add, a public client passes without a
 * secret, Creatio's own OAuthHealthCheck is read and shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, DiagnosticsReport } from '../../qa/check-result.ts';
import { runDoctor } from '../../qa/doctor.ts';
import {
  BFF_APPLICATION_ACCESS_SCOPE,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from '../../sandbox/index.ts';
import { type Env, loadConfig } from '../../server/config.ts';
import { sandboxEnv } from '../support/harness.ts';

const APP_URL = 'http://localhost:3999';

function check(report: DiagnosticsReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report`);
  return found;
}

/** One sandbox per switch set, closed at the end. */
const sandboxes: Sandbox[] = [];
async function sandboxWith(options: SandboxOptions): Promise<Sandbox> {
  const sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl: APP_URL, ...options });
  sandboxes.push(sandbox);
  return sandbox;
}
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
});

function doctor(sandbox: Sandbox, env: Env = {}): Promise<DiagnosticsReport> {
  return runDoctor(
    loadConfig({
      ...sandboxEnv(sandbox, APP_URL),
      SESSION_SECRET: 'a-session-secret-of-forty-characters-xx',
      SESSION_STORE: 'memory',
      ...env,
    }),
  );
}

describe('the Creatio-hosted layout (8.3+)', () => {
  let sandbox: Sandbox;
  let report: DiagnosticsReport;
  beforeAll(async () => {
    sandbox = await sandboxWith({ layout: 'creatio-hosted' });
    report = await doctor(sandbox);
  });

  it('passes the Identity Service host check and says which layout it found', () => {
    expect(sandbox.identityServiceUrl).toBe(`${sandbox.creatioUrl}/0`);
    expect(check(report, 'identity-service-host')).toMatchObject({
      status: 'pass',
      summary: expect.stringContaining('Found the Creatio-hosted layout (Creatio 8.3+)'),
    });
    expect(report.ok).toBe(true);
  });

  it('still blames IDENTITY_SERVICE_URL when it names the bare Creatio site, with both right values', async () => {
    const wrong = await doctor(sandbox, { IDENTITY_SERVICE_URL: sandbox.creatioUrl });
    expect(check(wrong, 'identity-service-host')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining(`IDENTITY_SERVICE_URL=${sandbox.creatioUrl}/0`),
    });
  });
});

describe('a separate Identity Service host', () => {
  it('passes and says so', async () => {
    const report = await doctor(await sandboxWith({}));
    expect(check(report, 'identity-service-host')).toMatchObject({
      status: 'pass',
      summary: expect.stringContaining('Found the separate-host layout'),
    });
  });
});

describe('scopes against a Creatio Identity Service', () => {
  it('fails without an ApplicationAccess_<id> scope and names the one to add', async () => {
    const sandbox = await sandboxWith({});
    const report = await doctor(sandbox, { OAUTH_SCOPES: 'openid profile email offline_access' });
    expect(check(report, 'endpoints')).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('OAUTH_SCOPES has no ApplicationAccess_<id> scope'),
      fix: `Set OAUTH_SCOPES=openid profile email offline_access ${BFF_APPLICATION_ACCESS_SCOPE}.`,
    });
    expect(check(await doctor(sandbox), 'endpoints').status).toBe('pass');
  });
});

describe('a public client', () => {
  it('passes the client check without a secret, and a confidential one without its secret fails', async () => {
    const publicOne = await sandboxWith({ publicClient: true });
    expect(check(await doctor(publicOne), 'client-credentials')).toMatchObject({
      status: 'pass',
      summary: expect.stringContaining('as a public client, without a secret'),
    });

    const confidential = await sandboxWith({});
    const withoutSecret = await doctor(confidential, { OAUTH_CLIENT_SECRET: '' });
    expect(check(withoutSecret, 'client-credentials')).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('the application is confidential, not public'),
      fix: 'Copy the Client secret of this application into OAUTH_CLIENT_SECRET.',
    });
  });
});

describe('an application without openid', () => {
  it('probes the redirect URI with the configured scopes, so the whole report passes', async () => {
    const sandbox = await sandboxWith({ refuseOpenId: true });
    const report = await doctor(sandbox);
    expect(check(report, 'redirect-uri').status).toBe('pass');
    expect(report.ok).toBe(true);
  });
});

describe('redirect-URI case', () => {
  it('warns that a path in another case passes /authorize and fails at the code exchange', async () => {
    const sandbox = await sandboxWith({});
    const report = await doctor(sandbox, { OAUTH_REDIRECT_URI: `${APP_URL}/Auth/Callback` });
    expect(check(report, 'redirect-uri')).toMatchObject({
      status: 'warn',
      summary: expect.stringContaining('the path is written "/Auth/Callback"'),
      fix: `Make the registered URI identical to ${APP_URL}/Auth/Callback, character by character and case included.`,
    });
  });
});

describe('Creatio’s OAuthHealthCheck', () => {
  it('shows Creatio’s findings when all is well', async () => {
    const result = check(await doctor(await sandboxWith({})), 'creatio-oauth-health');
    expect(result.status).toBe('pass');
    expect(result.details).toEqual(
      expect.arrayContaining([
        { label: 'IsIdentityServiceAvailable', value: 'true' },
        { label: 'IsSystemSettingsFilledIn', value: 'true' },
      ]),
    );
  });

  it('fails with Creatio’s own message and the setting to fill in when it reports a problem', async () => {
    const sandbox = await sandboxWith({ canUseAuthorizationCodeFlow: false });
    const result = check(await doctor(sandbox), 'creatio-oauth-health');
    expect(result).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('the OAuth system settings are not filled in'),
      fix: expect.stringContaining('OAuth20IdentityServerUrl'),
    });
    expect(result.summary).toContain('Creatio says: “OAuth 2.0 is not set up');
  });

  it('is skipped, not failed, where Creatio does not have it', async () => {
    const sandbox = await sandboxWith({});
    // CREATIO_ODATA_PATH=/odata (.NET 8) makes the doctor ask /api/OAuthHealthCheck, which this stand-in lacks.
    const result = check(await doctor(sandbox, { CREATIO_ODATA_PATH: '/odata' }), 'creatio-oauth-health');
    expect(result.status).toBe('skip');
  });
});
