/**
 * Exploratory QA of the doctor, /diagnostics and `npm run redirect-urls` against misconfigurations: each case pins
 * what the report must say — the right status, the root cause named once (follow-on checks skipped with the reason)
 * and an exact fix — never a stack trace or a secret.
 */
import { execFile } from 'node:child_process';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, DiagnosticsReport } from '../../qa/check-result.ts';
import { runDoctor } from '../../qa/doctor.ts';
import { loadRedirectUrlsSettings, runRedirectUrls } from '../../qa/redirect-urls/commands.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { type Config, type Env, loadConfig } from '../../server/config.ts';
import { sandboxEnv } from '../support/harness.ts';
import { freePort } from '../support/ports.ts';

const APP_URL = 'http://localhost:3999';
const CALLBACK = `${APP_URL}/auth/callback`;

let sandbox: Sandbox;
let baseEnv: Env;
const servers: Server[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl: APP_URL });
  baseEnv = {
    ...sandboxEnv(sandbox, APP_URL),
    SESSION_SECRET: 'a-session-secret-of-forty-characters-xx',
    SESSION_STORE: 'memory',
  };
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await sandbox.close();
});
afterEach(() => {
  const { registry } = sandbox;
  const client = registry.get(sandbox.bffClient.clientId)!;
  for (const { id } of [...client.redirectUrls]) registry.deleteRedirectUrl(id);
  registry.addRedirectUrls(sandbox.bffClient.clientId, [CALLBACK]);
  registry.update(sandbox.bffClient.clientId, { active: true });
});

const configWith = (env: Env): Config => loadConfig({ ...baseEnv, ...env });
const doctor = (env: Env): Promise<DiagnosticsReport> => runDoctor(configWith(env));

function check(report: DiagnosticsReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report`);
  return found;
}

async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('IDENTITY_SERVICE_URL mistakes', () => {
  it('https:// to a plain-http port says so and names the http URL, not "could not be reached"', async () => {
    const https = sandbox.identityServiceUrl.replace(/^http:/, 'https:');
    const report = await doctor({ IDENTITY_SERVICE_URL: https });
    const host = new URL(https).host;
    expect(check(report, 'discovery')).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining(`the URL says https:// but the server at ${host} speaks http`),
      fix: expect.stringContaining(`Use http://${host}`),
    });
  });

  it('when the Identity Service does not answer, the clock check says that, not "no Date header"', async () => {
    const report = await doctor({ IDENTITY_SERVICE_URL: `http://127.0.0.1:${await freePort()}` });
    expect(check(report, 'clock-skew')).toMatchObject({
      status: 'skip',
      summary: 'Skipped: the Identity Service did not answer (see "Discovery document").',
    });
  });

  it('a path (…/identity) in front of a discovery document served at the origin: the exact URL to set', async () => {
    const report = await doctor({ IDENTITY_SERVICE_URL: `${sandbox.identityServiceUrl}/identity` });
    expect(check(report, 'discovery')).toMatchObject({
      status: 'fail',
      fix: `Set IDENTITY_SERVICE_URL=${sandbox.identityServiceUrl}`,
    });
  });

  it('HTTP 500 is the Identity Service failing, not a wrong URL', async () => {
    const url = await serve((_req, res) => res.writeHead(500).end('boom'));
    const result = check(await doctor({ IDENTITY_SERVICE_URL: url }), 'discovery');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('answered HTTP 500: the server there is failing');
    expect(result.fix).toContain('administrator must read its log');
  });

  it('malformed JSON is called malformed JSON (not an "application/json" page of a proxy)', async () => {
    const url = await serve((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer": '),
    );
    const result = check(await doctor({ IDENTITY_SERVICE_URL: url }), 'discovery');
    expect(result.summary).toContain('answered malformed JSON ("{"issuer":…")');
    expect(result.fix).not.toContain('sign-in page');
  });

  it('a redirect to the real discovery document names the URL to set', async () => {
    const url = await serve((_req, res) =>
      res
        .writeHead(301, { location: `${sandbox.identityServiceUrl}/.well-known/openid-configuration` })
        .end(),
    );
    const result = check(await doctor({ IDENTITY_SERVICE_URL: url }), 'discovery');
    expect(result).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining(`redirects to ${sandbox.identityServiceUrl}/.well-known/`),
      fix: `Set IDENTITY_SERVICE_URL=${sandbox.identityServiceUrl}`,
    });
  });

  it('the Creatio site as Identity Service: discovery itself names the root cause', async () => {
    const result = check(await doctor({ IDENTITY_SERVICE_URL: sandbox.creatioUrl }), 'discovery');
    expect(result.summary).toContain('IDENTITY_SERVICE_URL is the Creatio site (CREATIO_URL)');
  });
});

describe('client id and secret: one root cause, follow-ons skipped with the reason', () => {
  it('an unknown client id is told apart from a wrong secret; the redirect URI is skipped', async () => {
    const report = await doctor({ OAUTH_CLIENT_ID: 'no-such-client' });
    expect(check(report, 'client-credentials')).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('does not know client id no-such-client'),
    });
    expect(check(report, 'redirect-uri')).toMatchObject({
      status: 'skip',
      summary: expect.stringContaining('client no-such-client is unknown or not Active'),
    });
    expect(report.checks.filter((c) => c.status === 'fail')).toHaveLength(1);
  });

  it('a wrong secret is named as the secret, and the redirect URI still checks out', async () => {
    const report = await doctor({ OAUTH_CLIENT_SECRET: 'wrong-secret-value-123' });
    expect(check(report, 'client-credentials').summary).toContain('refuses this client secret');
    expect(check(report, 'redirect-uri').status).toBe('pass');
  });

  it('a server-to-server client: the grant type is the cause, not a missing redirect URL', async () => {
    const report = await doctor({
      OAUTH_CLIENT_ID: sandbox.serviceClient.clientId,
      OAUTH_CLIENT_SECRET: sandbox.serviceClient.clientSecret,
    });
    expect(check(report, 'client-credentials').status).toBe('fail');
    // The probe still runs (it needs no secret), and names the grant type as what to fix first.
    const redirect = check(report, 'redirect-uri');
    expect(redirect.status).toBe('fail');
    expect(redirect.summary).toContain('may not use the authorization code grant');
    expect(redirect.details?.some((row) => row.label === 'Identity Service answer')).toBe(true);
    expect(JSON.stringify(report)).not.toContain(sandbox.serviceClient.clientSecret);
  });
});

describe('issuer', () => {
  it('OAUTH_ISSUER with a trailing slash the issuer lacks: remove the override', async () => {
    const result = check(await doctor({ OAUTH_ISSUER: `${sandbox.identityServiceUrl}/` }), 'issuer');
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('they differ by a trailing slash');
    expect(result.fix).toMatch(/^Remove OAUTH_ISSUER/);
  });
});

describe('redirect URI near misses', () => {
  it('OAUTH_REDIRECT_URI with a trailing slash: remove the override, the default is registered', async () => {
    const result = check(await doctor({ OAUTH_REDIRECT_URI: `${CALLBACK}/` }), 'redirect-uri');
    expect(result).toMatchObject({
      status: 'fail',
      fix: `Remove OAUTH_REDIRECT_URI: the app then sends ${CALLBACK}, which is registered.`,
    });
  });

  it('a registered OAUTH_REDIRECT_URI the app does not serve is a warning, not a pass', async () => {
    sandbox.registry.addRedirectUrls(sandbox.bffClient.clientId, [`${APP_URL}/callback`]);
    const result = check(await doctor({ OAUTH_REDIRECT_URI: `${APP_URL}/callback` }), 'redirect-uri');
    expect(result.status).toBe('warn');
    expect(result.summary).toContain(`the app receives sign-ins at ${CALLBACK}`);
  });

  it('APP_URL with an upper-case host: accepted at /authorize (case-insensitive), flagged for the code exchange', async () => {
    const result = check(await doctor({ APP_URL: 'http://LOCALHOST:3999' }), 'redirect-uri');
    expect(result.status).toBe('warn');
    expect(result.summary).toContain('the host is written "LOCALHOST"');
    expect(result.summary).toContain('invalid_grant');
    expect(result.fix).toContain(`set APP_URL=${APP_URL}, and register exactly ${CALLBACK}`);
  });

  it('another port: a usual development port is found', async () => {
    sandbox.registry.addRedirectUrls(sandbox.bffClient.clientId, ['http://localhost:8080/auth/callback']);
    const result = check(await doctor({ APP_URL: 'http://localhost:4000' }), 'redirect-uri');
    expect(result.summary).toContain(
      'accepts http://localhost:8080/auth/callback (the registered URL uses port 8080',
    );
  });
});

describe('CREATIO_URL and CREATIO_ODATA_PATH', () => {
  it('CREATIO_URL pointing at the Identity Service blames CREATIO_URL, not IDENTITY_SERVICE_URL', async () => {
    const report = await doctor({ CREATIO_URL: sandbox.identityServiceUrl });
    expect(check(report, 'identity-service-host')).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('CREATIO_URL points at the Identity Service'),
    });
    expect(check(report, 'creatio').fix).toContain('CREATIO_URL is the Identity Service’s address');
    expect(check(report, 'authorization-code-flow').summary).not.toContain('older than 8.3');
  });

  it('CREATIO_ODATA_PATH=/odata on a "/0" Creatio: the exact value to set', async () => {
    const report = await doctor({ CREATIO_ODATA_PATH: '/odata' });
    expect(check(report, 'creatio')).toMatchObject({
      status: 'fail',
      fix: 'Set CREATIO_ODATA_PATH=/0/odata',
    });
    expect(check(report, 'authorization-code-flow').fix).toBe('Set CREATIO_ODATA_PATH=/0/odata');
  });
});

describe('npm run redirect-urls against misconfigurations', () => {
  const adminEnv = (): Env => ({
    IDENTITY_SERVICE_URL: sandbox.identityServiceUrl,
    CREATIO_URL: sandbox.creatioUrl,
    CREATIO_ADMIN_CLIENT_ID: sandbox.serviceClient.clientId,
    CREATIO_ADMIN_CLIENT_SECRET: sandbox.serviceClient.clientSecret,
    OAUTH_CLIENT_ID: sandbox.bffClient.clientId,
    APP_URL,
  });
  async function redirectUrls(args: string[], env: Env = {}) {
    const lines: string[] = [];
    const out = { line: (t: string) => lines.push(t), error: (t: string) => lines.push(t) };
    const code = await runRedirectUrls(args, loadRedirectUrlsSettings({ ...adminEnv(), ...env }), out);
    return { code, text: lines.join('\n') };
  }

  it('a mistyped option is a usage error, not silently the default application', async () => {
    const { code, text } = await redirectUrls(['add', `${APP_URL}/x`, '--clinet', 'other']);
    expect(code).toBe(2);
    expect(text).toContain('unknown option --clinet');
    expect(sandbox.registry.get(sandbox.bffClient.clientId)!.redirectUrls.map((r) => r.url)).toEqual([
      CALLBACK,
    ]);
  });

  it('create-client refuses an --application-url that is not a URL before sending', async () => {
    const before = sandbox.stats.creatioRequests.length;
    const { code, text } = await redirectUrls([
      'create-client',
      '--name',
      'x',
      '--application-url',
      'not-a-url',
      '--redirect-url',
      `${APP_URL}/cb`,
    ]);
    expect(code).toBe(1);
    expect(text).toContain('--application-url "not-a-url" is not an absolute http(s) URL');
    expect(sandbox.stats.creatioRequests.length).toBe(before);
  });

  it('CREATIO_URL at the Identity Service: "list" blames CREATIO_URL, not a missing GetRedirectUrls', async () => {
    const { code, text } = await redirectUrls(['list'], { CREATIO_URL: sandbox.identityServiceUrl });
    expect(code).toBe(1);
    expect(text).toContain('does not answer like Creatio');
    expect(text).not.toContain('GetRedirectUrls');
  });

  it('CREATIO_ODATA_PATH=/odata on a "/0" Creatio: the exact value to set', async () => {
    const { code, text } = await redirectUrls(['add', `${APP_URL}/y`], { CREATIO_ODATA_PATH: '/odata' });
    expect(code).toBe(1);
    expect(text).toContain('fix: Set CREATIO_ODATA_PATH=/0/odata');
  });

  it('IDENTITY_SERVICE_URL at the Creatio site: an HTTP 404, not "could not be reached"', async () => {
    const { code, text } = await redirectUrls(['list'], { IDENTITY_SERVICE_URL: sandbox.creatioUrl });
    expect(code).toBe(1);
    expect(text).toContain('answered HTTP 404');
    expect(text).not.toContain('could not be reached');
  });
});

describe('npm run doctor with a problem only the running app cares about', () => {
  it('still runs every check, fails the configuration, exits 1 and prints no stack trace', async () => {
    const { SESSION_SECRET: _omitted, ...env } = baseEnv;
    const child = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/doctor.ts', '--json'],
      { env: { PATH: process.env.PATH, ...env } },
    ).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(child.code).toBe(1);
    const report = JSON.parse(child.stdout) as DiagnosticsReport;
    expect(check(report, 'configuration')).toMatchObject({
      status: 'fail',
      details: [expect.objectContaining({ label: 'SESSION_SECRET' })],
    });
    expect(check(report, 'redirect-uri').status).toBe('pass');
    expect(check(report, 'client-credentials').status).toBe('pass');
    expect(child.stdout).not.toContain(sandbox.bffClient.clientSecret);
    expect(child.stderr).not.toMatch(/\n\s+at /);
  });
});
