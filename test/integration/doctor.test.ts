/**
 * The doctor's checks against the real sandbox, each with its pass and its fail case, and the QA story: a
 * misconfigured redirect URL is reported, `redirect-urls add` fixes it, the doctor passes and a real sign-in works.
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, DiagnosticsReport } from '../../qa/check-result.ts';
import { checkAuthorizationCodeFlow } from '../../qa/checks/creatio.ts';
import { checkEndpoints, checkIdentityServiceHost, checkIssuer } from '../../qa/checks/identity-service.ts';
import { httpOf, runDoctor } from '../../qa/doctor.ts';
import { loadRedirectUrlsSettings, runRedirectUrls } from '../../qa/redirect-urls/commands.ts';
import { formatReport } from '../../qa/report/terminal.ts';
import { BFF_APPLICATION_ACCESS_SCOPE, startSandbox } from '../../sandbox/index.ts';
import type { Config } from '../../server/config.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const run = promisify(execFile);

function check(report: DiagnosticsReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report`);
  return found;
}

let harness: Harness;
let config: Config;
let originalRedirectUrls: string[];

beforeAll(async () => {
  harness = await startHarness();
  config = harness.config;
  originalRedirectUrls = harness.sandbox.registry.get(config.clientId)!.redirectUrls.map((r) => r.url);
});
afterAll(() => harness.close());
afterEach(() => {
  // Every test starts from the sandbox's own, correct registration.
  const { registry } = harness.sandbox;
  const client = registry.get(config.clientId)!;
  for (const { id } of [...client.redirectUrls]) registry.deleteRedirectUrl(id);
  registry.addRedirectUrls(config.clientId, originalRedirectUrls);
  registry.update(config.clientId, { active: true });
});

/** Registers exactly `urls` for the app's client, as a QA engineer editing the application in Creatio would. */
function registerOnly(...urls: string[]): void {
  const { registry } = harness.sandbox;
  for (const { id } of [...registry.get(config.clientId)!.redirectUrls]) registry.deleteRedirectUrl(id);
  if (urls.length > 0) registry.addRedirectUrls(config.clientId, urls);
}

describe('doctor against a correctly configured app', () => {
  it('passes every check and says so', async () => {
    const report = await runDoctor(config);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['configuration', 'pass'],
      ['discovery', 'pass'],
      ['issuer', 'pass'],
      ['endpoints', 'pass'],
      ['redirect-uri', 'pass'],
      ['client-credentials', 'pass'],
      ['identity-service-host', 'pass'],
      ['authorization-code-flow', 'pass'],
      ['clock-skew', 'pass'],
      ['creatio', 'pass'],
      ['creatio-oauth-health', 'pass'],
    ]);
    expect(report.ok).toBe(true);
    expect(check(report, 'redirect-uri').summary).toContain(config.redirectUri);
    expect(formatReport(report)).toMatch(/^✅ Configuration/);
  });

  it('masks the secrets in the configuration check', async () => {
    const report = await runDoctor(config);
    const text = JSON.stringify(report);
    const secret = config.clientSecret!;
    expect(text).not.toContain(secret);
    for (const secret of config.sessionSecrets) expect(text).not.toContain(secret);
    const row = check(report, 'configuration').details?.find((d) => d.label === 'OAUTH_CLIENT_SECRET');
    const fingerprint = createHash('sha256').update(secret).digest('hex').slice(0, 8);
    expect(row?.value).toBe(`set (${secret.length} characters, SHA-256 ${fingerprint})`);
  });
});

describe('the QA story', () => {
  it('doctor reports the mismatch → redirect-urls add fixes it → doctor passes → sign-in works', async () => {
    // Someone registered the callback with a trailing slash.
    registerOnly(`${config.redirectUri}/`);
    const agent = harness.agent();
    await expect(harness.signIn(agent)).rejects.toThrow();

    const before = await runDoctor(config);
    expect(before.ok).toBe(false);
    const redirect = check(before, 'redirect-uri');
    expect(redirect.status).toBe('fail');
    expect(redirect.summary).toContain(`rejects ${config.redirectUri} but accepts ${config.redirectUri}/`);
    expect(redirect.summary).toContain('the registered URL ends with "/", the app sends it without');
    expect(redirect.fix).toContain(`npm run redirect-urls -- add ${config.redirectUri}`);

    const lines: string[] = [];
    const settings = loadRedirectUrlsSettings({
      IDENTITY_SERVICE_URL: harness.sandbox.identityServiceUrl,
      CREATIO_URL: harness.sandbox.creatioUrl,
      CREATIO_ADMIN_CLIENT_ID: harness.sandbox.serviceClient.clientId,
      CREATIO_ADMIN_CLIENT_SECRET: harness.sandbox.serviceClient.clientSecret,
      OAUTH_CLIENT_ID: config.clientId,
      APP_URL: config.appUrl,
    });
    const out = { line: (t: string) => lines.push(t), error: (t: string) => lines.push(t) };
    expect(await runRedirectUrls(['add', config.redirectUri], settings, out)).toBe(0);
    expect(lines.join('\n')).toContain(`Added to ${config.clientId}:\n  + ${config.redirectUri}  (id `);

    const after = await runDoctor(config);
    expect(check(after, 'redirect-uri').status).toBe('pass');
    expect(after.ok).toBe(true);

    await harness.signIn(agent);
    const session = await agent.get('/auth/session');
    expect(session.body).toMatchObject({ authenticated: true, user: { name: 'Alice Andersen' } });
  });
});

describe('redirect URI', () => {
  it('fails when no redirect URL is registered, and says how to add it', async () => {
    registerOnly();
    const result = check(await runDoctor(config), 'redirect-uri');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain(`rejects the redirect URI ${config.redirectUri}`);
    expect(result.summary).toContain('invalid_redirect_uri');
    expect(result.fix).toContain(`npm run redirect-urls -- add ${config.redirectUri}`);
  });

  it('names http vs https and suggests APP_URL when only the https URL is registered', async () => {
    const https = config.redirectUri.replace(/^http:/, 'https:');
    registerOnly(https);
    const result = check(await runDoctor(config), 'redirect-uri');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain(`accepts ${https} (the registered URL uses https, the app sends http)`);
    expect(result.fix).toContain(`set APP_URL=${new URL(https).origin}`);
  });

  it('finds the application URL registered in place of the callback', async () => {
    registerOnly(config.appUrl);
    const result = check(await runDoctor(config), 'redirect-uri');
    expect(result.summary).toContain(`accepts ${config.appUrl} (the registered path is "/"`);
  });

  it('reports an unknown or inactive client as such, and skips the redirect URI, which belongs to a client', async () => {
    harness.sandbox.registry.update(config.clientId, { active: false });
    const report = await runDoctor(config);
    expect(check(report, 'client-credentials')).toMatchObject({ status: 'fail' });
    expect(check(report, 'client-credentials').summary).toContain('or its application is not Active');
    expect(check(report, 'redirect-uri')).toMatchObject({ status: 'skip' });
    expect(check(report, 'redirect-uri').summary).toContain('see "Client id and secret"');
  });
});

describe('client id and secret', () => {
  it('fails with invalid_client for a wrong secret, while the redirect URI still passes', async () => {
    const report = await runDoctor({ ...config, clientSecret: 'not-the-secret-of-this-client' });
    const result = check(report, 'client-credentials');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain(
      `knows client ${config.clientId} but refuses this client secret (invalid_client)`,
    );
    expect(result.fix).toContain('OAUTH_CLIENT_SECRET');
    expect(check(report, 'redirect-uri').status).toBe('pass');
    expect(JSON.stringify(report)).not.toContain('not-the-secret-of-this-client');
  });

  it('fails for a server-to-server client that may not use the authorization code grant', async () => {
    const { clientId, clientSecret } = harness.sandbox.serviceClient;
    const result = check(await runDoctor({ ...config, clientId, clientSecret }), 'client-credentials');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('may not use the authorization code grant');
  });
});

describe('issuer', () => {
  const metadata = (issuer: string) => ({ issuer });

  it('passes OAUTH_ISSUER that matches and fails one that does not, naming the value to set', async () => {
    const issuer = harness.sandbox.identityServiceUrl;
    expect(check(await runDoctor({ ...config, expectedIssuer: issuer }), 'issuer').status).toBe('pass');
    const wrong = check(await runDoctor({ ...config, expectedIssuer: 'creatio.com' }), 'issuer');
    // The sandbox's issuer is its URL, so the override is not needed at all.
    expect(wrong).toMatchObject({
      status: 'fail',
      fix: `Remove OAUTH_ISSUER: the issuer is IDENTITY_SERVICE_URL itself (or set OAUTH_ISSUER=${issuer}).`,
    });
    const elsewhere = checkIssuer({ ...config, expectedIssuer: 'creatio.com' }, { issuer: 'is.creatio.com' });
    expect(elsewhere).toMatchObject({ status: 'fail', fix: 'Set OAUTH_ISSUER=is.creatio.com' });
  });

  it('suggests OAUTH_ISSUER for an issuer that is not a URL (Creatio samples: "creatio.com")', () => {
    const result = checkIssuer(config, metadata('creatio.com'));
    expect(result).toMatchObject({ status: 'fail', fix: 'Set OAUTH_ISSUER=creatio.com' });
  });

  it('treats a trailing slash on a path as a mismatch, on a bare host as the same URL', () => {
    const onPath = { ...config, identityServiceUrl: 'https://ids.example.com/identity' };
    expect(checkIssuer(onPath, metadata('https://ids.example.com/identity/'))).toMatchObject({
      status: 'fail',
      fix: 'Set IDENTITY_SERVICE_URL=https://ids.example.com/identity/',
    });
    const bare = { ...config, identityServiceUrl: 'https://ids.example.com' };
    expect(checkIssuer(bare, metadata('https://ids.example.com/')).status).toBe('pass');
  });
});

describe('endpoints, PKCE and scopes', () => {
  const complete = {
    issuer: 'https://ids.example.com',
    authorization_endpoint: 'https://ids.example.com/connect/authorize',
    token_endpoint: 'https://ids.example.com/connect/token',
    jwks_uri: 'https://ids.example.com/.well-known/openid-configuration/jwks',
    end_session_endpoint: 'https://ids.example.com/connect/endsession',
    revocation_endpoint: 'https://ids.example.com/connect/revocation',
    code_challenge_methods_supported: ['plain', 'S256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access', BFF_APPLICATION_ACCESS_SCOPE],
  };
  const ids = () => ({ ...config, identityServiceUrl: 'https://ids.example.com' });

  it('passes a complete document', () => {
    expect(checkEndpoints(ids(), complete).status).toBe('pass');
  });

  it('warns without end-session and revocation endpoints', () => {
    const { end_session_endpoint: _e, revocation_endpoint: _r, ...rest } = complete;
    expect(checkEndpoints(ids(), rest)).toMatchObject({ status: 'warn' });
  });

  it('fails without S256, and for a scope the Identity Service does not offer', () => {
    expect(checkEndpoints(ids(), { ...complete, code_challenge_methods_supported: ['plain'] }).status).toBe(
      'fail',
    );
    const scopes = checkEndpoints(ids(), { ...complete, scopes_supported: ['openid', 'profile', 'email'] });
    expect(scopes).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('OAUTH_SCOPES=openid profile email'),
    });
  });
});

describe('Creatio-specific mistakes', () => {
  it('IDENTITY_SERVICE_URL pointing at the Creatio site fails discovery and the host check', async () => {
    const report = await runDoctor({ ...config, identityServiceUrl: config.creatioUrl });
    expect(check(report, 'discovery')).toMatchObject({ status: 'fail' });
    expect(check(report, 'discovery').summary).toContain('answered HTTP 404');
    expect(check(report, 'identity-service-host').status).toBe('fail');
    expect(check(report, 'redirect-uri').status).toBe('skip');
    expect(report.ok).toBe(false);
  });

  it('for Creatio cloud names the Creatio-hosted place (8.3+) and the -is host (before)', () => {
    const cloud = 'https://123456-crm-bundle.creatio.com';
    const same = checkIdentityServiceHost({ ...config, creatioUrl: cloud, identityServiceUrl: cloud });
    expect(same).toMatchObject({
      status: 'fail',
      fix: `On Creatio 8.3+ set IDENTITY_SERVICE_URL=${cloud}/0 (or leave it unset); before 8.3 set IDENTITY_SERVICE_URL=https://123456-crm-bundle-is.creatio.com`,
    });
    const other = checkIdentityServiceHost({
      ...config,
      creatioUrl: cloud,
      identityServiceUrl: 'https://ids.example.com',
    });
    expect(other.status).toBe('warn');
  });

  it('fails when Creatio says the authorization code grant cannot be used', async () => {
    const off = await startSandbox({ identityPort: 0, creatioPort: 0, canUseAuthorizationCodeFlow: false });
    try {
      const result = await checkAuthorizationCodeFlow(
        { ...config, creatioUrl: off.creatioUrl },
        httpOf(config),
      );
      expect(result).toMatchObject({ status: 'fail', fix: expect.stringContaining('OAuth20Integration') });
    } finally {
      await off.close();
    }
  });
});

describe('clock and Creatio', () => {
  it('warns when this machine is two minutes off', async () => {
    const report = await runDoctor(config, { now: () => Date.now() - 120_000 });
    expect(check(report, 'clock-skew').status).toBe('warn');
    expect(check(report, 'clock-skew').summary).toMatch(/clock is 1[12]\d s behind/);
    expect(report.ok).toBe(true);
  });

  it('fails when there is no OData 4 at CREATIO_ODATA_PATH, and suggests the .NET 8 path', async () => {
    const report = await runDoctor({ ...config, odataPath: '/1/odata' });
    expect(check(report, 'creatio')).toMatchObject({ status: 'fail' });
    expect(check(report, 'creatio').summary).toContain('/1/odata/ (404)');
  });
});

describe('network failures become one sentence', () => {
  const servers: Server[] = [];
  const listen = async (server: Server): Promise<string> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  afterAll(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });
  const discoveryOf = async (identityServiceUrl: string, httpTimeoutMs = config.httpTimeoutMs) =>
    check(await runDoctor({ ...config, identityServiceUrl, httpTimeoutMs }), 'discovery');

  it('connection refused', async () => {
    const host = await listen(createHttpServer());
    servers.pop()?.close();
    const result = await discoveryOf(`http://${host}`);
    expect(result).toMatchObject({
      status: 'fail',
      summary: `Nothing accepts connections at http://${host} (connection refused).`,
    });
  });

  it('a self-signed TLS certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-tls-'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const tls = createHttpsServer({
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(join(dir, 'cert.pem')),
    });
    const host = await listen(tls as unknown as Server);
    const result = await discoveryOf(`https://${host}`);
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('self-signed');
    expect(result.fix).toContain('NODE_EXTRA_CA_CERTS');
  });

  it('an HTML page instead of the discovery document', async () => {
    const host = await listen(
      createHttpServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>'),
      ),
    );
    const result = await discoveryOf(`http://${host}`);
    expect(result.summary).toContain('answered an HTML page, not a JSON discovery document');
  });

  it('a timeout', async () => {
    const host = await listen(createHttpServer(() => {}));
    const result = await discoveryOf(`http://${host}`, 500);
    expect(result.summary).toBe(`http://${host} did not answer within 500 ms.`);
  });
});

describe('npm run doctor', () => {
  it('prints JSON and exits 1 when a check fails, without a secret or a stack trace', async () => {
    const wrongSecret = 'wrong-secret-for-the-doctor-cli';
    const child = await run(process.execPath, ['--import', 'tsx', 'scripts/doctor.ts', '--json'], {
      env: {
        PATH: process.env.PATH,
        IDENTITY_SERVICE_URL: harness.sandbox.identityServiceUrl,
        CREATIO_URL: harness.sandbox.creatioUrl,
        OAUTH_CLIENT_ID: config.clientId,
        OAUTH_CLIENT_SECRET: wrongSecret,
        APP_URL: config.appUrl,
        SESSION_SECRET: config.sessionSecrets[0],
        SESSION_STORE: 'memory',
      },
    }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(child.code).toBe(1);
    const report = JSON.parse(child.stdout) as DiagnosticsReport;
    expect(report.ok).toBe(false);
    expect(check(report, 'client-credentials').status).toBe('fail');
    expect(check(report, 'redirect-uri').status).toBe('pass');
    expect(child.stdout).not.toContain(wrongSecret);
    expect(child.stderr).not.toMatch(/\n\s+at /);
  });
});
