/**
 * QA at scale against the real sandbox and running apps: `--app` checks a deployed app from the outside (a good
 * one passes; a trailing-slash registration and an https proxy in front of an http APP_URL fail, naming the cause
 * and the near miss); several environments in one run with JUnit, Markdown and JSON reports; `--redirect-uri`;
 * the command line's usage errors; and the documented `npm run --silent doctor -- --json` printing only JSON.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, DiagnosticsReport } from '../../qa/check-result.ts';
import { runAppDoctor, runDoctor } from '../../qa/doctor.ts';
import type { RunReport } from '../../qa/environments.ts';
import type { Fetch } from '../../qa/http.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const run = promisify(execFile);

function check(report: DiagnosticsReport, id: string): CheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report: ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
}

/** Runs a command to its end; a non-zero exit is a result here, not an exception. */
async function spawn(
  file: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(file, args, { env: { PATH: process.env.PATH, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

let harness: Harness;
let callback: string;
let originalRedirectUrls: string[];
const servers: Server[] = [];
const closers: (() => Promise<void>)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'doctor-qa-'));

beforeAll(async () => {
  harness = await startHarness();
  callback = `${harness.baseUrl}/auth/callback`;
  originalRedirectUrls = harness.sandbox.registry
    .get(harness.config.clientId)!
    .redirectUrls.map((r) => r.url);
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  for (const close of closers) await close();
  await harness.close();
});
afterEach(() => registerOnly(...originalRedirectUrls));

/** Registers exactly `urls` for the app's client, as a QA engineer editing the application in Creatio would. */
function registerOnly(...urls: string[]): void {
  const { registry } = harness.sandbox;
  const { clientId } = harness.config;
  for (const { id } of [...registry.get(clientId)!.redirectUrls]) registry.deleteRedirectUrl(id);
  if (urls.length > 0) registry.addRedirectUrls(clientId, urls);
}

describe('npm run doctor -- --app <url>', () => {
  it('passes a correctly configured app, reporting what it sends, with no configuration or secret', async () => {
    const report = await runAppDoctor(harness.baseUrl);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['app-login', 'pass'],
      ['discovery', 'pass'],
      ['endpoints', 'pass'],
      ['redirect-uri', 'pass'],
      ['clock-skew', 'pass'],
      ['app-cookies', 'pass'],
      ['app-health', 'pass'],
      ['app-security-headers', 'pass'],
    ]);
    expect(report.ok).toBe(true);
    const sent = Object.fromEntries(check(report, 'app-login').details!.map((d) => [d.label, d.value]));
    expect(sent).toMatchObject({
      'Identity Service': harness.sandbox.identityServiceUrl,
      client_id: harness.config.clientId,
      redirect_uri: callback,
      response_type: 'code',
      code_challenge_method: 'S256',
      'state, nonce': 'present, present',
    });
    expect(JSON.stringify(report)).not.toContain(harness.config.clientSecret);
  });

  it('fails an app whose redirect URL is registered with a trailing slash, naming the near miss', async () => {
    registerOnly(`${callback}/`);
    const report = await runAppDoctor(harness.baseUrl);
    expect(report.ok).toBe(false);
    const redirect = check(report, 'redirect-uri');
    expect(redirect.status).toBe('fail');
    expect(redirect.summary).toBe(
      `The Identity Service rejects ${callback} but accepts ${callback}/ (the registered URL ends with "/", the app sends it without).`,
    );
    expect(redirect.fix).toContain(`npm run redirect-urls -- add ${callback}`);
    expect(check(report, 'app-login').status).toBe('pass');
  });

  it('fails an app behind an https proxy that sends an http redirect_uri, naming APP_URL and the near miss', async () => {
    // The proxy terminates TLS on its port; the app was configured with APP_URL=http://localhost:<that port>.
    const certificate = await selfSignedCertificate();
    const proxy = createHttpsServer(certificate);
    servers.push(proxy as unknown as Server);
    const port = await listen(proxy as unknown as Server);
    const app = await startSecondApp({ APP_URL: `http://localhost:${port}` });
    proxy.on('request', (req, res) => forward(req, res, app.port));
    const publicUrl = `https://localhost:${port}`;
    registerOnly(`${publicUrl}/auth/callback`);

    const report = await runAppDoctor(publicUrl, { fetch: trusting(certificate.cert) });
    expect(report.ok).toBe(false);
    const login = check(report, 'app-login');
    expect(login.status).toBe('fail');
    expect(login.summary).toContain(
      `The app is reached at ${publicUrl} but sends the http redirect_uri http://localhost:${port}/auth/callback`,
    );
    expect(login.fix).toContain(`Set APP_URL=${publicUrl} on the app (and TRUST_PROXY=1 behind the proxy)`);
    const redirect = check(report, 'redirect-uri');
    expect(redirect).toMatchObject({ status: 'fail' });
    expect(redirect.summary).toContain(
      `accepts ${publicUrl}/auth/callback (the registered URL uses https, the app sends http)`,
    );
    expect(redirect.fix).toContain(`If browsers reach this app at ${publicUrl}, set APP_URL=${publicUrl}`);
    // What follows from it, seen from the browser: cookies without Secure, no HSTS.
    expect(check(report, 'app-cookies')).toMatchObject({ status: 'fail' });
    expect(check(report, 'app-cookies').summary).toContain('is not Secure on an https app');
    expect(check(report, 'app-security-headers').summary).toContain('no Strict-Transport-Security');
  });

  it('an app that cannot reach its Identity Service: sign-in fails, /readyz says degraded', async () => {
    const nowhere = createServer();
    servers.push(nowhere);
    const deadPort = await listen(nowhere);
    nowhere.close();
    const app = await startSecondApp({ IDENTITY_SERVICE_URL: `http://127.0.0.1:${deadPort}` });
    const url = `http://127.0.0.1:${app.port}`;
    const report = await runAppDoctor(url);
    const login = check(report, 'app-login');
    expect(login.status).toBe('fail');
    expect(login.summary).toMatch(/answered HTTP 5\d\d: the app cannot start a sign-in/);
    expect(check(report, 'app-health')).toMatchObject({
      status: 'warn',
      summary: 'The app is ready but degraded: identityService is unreachable from it, so new sign-ins fail.',
    });
  });

  it('warns about an app served over plain http on a host that is not this machine', async () => {
    const publicUrl = 'http://bff.example.test';
    const app = await startSecondApp({ APP_URL: publicUrl });
    // DNS for the made-up host: its requests go to the app, everything else (the sandbox) as usual.
    const resolving: Fetch = (input, init) =>
      fetch(String(input).replace(publicUrl, `http://127.0.0.1:${app.port}`), init);
    const report = await runAppDoctor(publicUrl, { fetch: resolving });
    expect(check(report, 'app-login')).toMatchObject({
      status: 'warn',
      summary: `The app is served over plain http at ${publicUrl}: the authorization code and the session cookie travel unencrypted.`,
      fix: 'Serve it over https (a TLS proxy in front is fine) and set APP_URL=https://bff.example.test on the app.',
    });
  });

  it('an app whose proxy hides /healthz and /readyz is a warning, not a failure', async () => {
    const proxy = createServer((req, res) => {
      if (req.url === '/healthz' || req.url === '/readyz') res.writeHead(404).end('Not Found');
      else forward(req, res, Number(new URL(harness.baseUrl).port));
    });
    servers.push(proxy);
    const report = await runAppDoctor(`http://127.0.0.1:${await listen(proxy)}`);
    expect(check(report, 'app-health')).toMatchObject({
      status: 'warn',
      summary: expect.stringContaining('a proxy in front of the app hides its health endpoints'),
    });
  });

  it('reports a URL where no app answers, and skips what depends on it', async () => {
    const closed = createServer((_req, res) => res.writeHead(404).end('not here'));
    servers.push(closed);
    const url = `http://127.0.0.1:${await listen(closed)}`;
    const report = await runAppDoctor(url);
    expect(check(report, 'app-login')).toMatchObject({
      status: 'fail',
      summary: `${url}/auth/login answered 404: there is no creatio-oauth-bff at ${url}.`,
    });
    expect(check(report, 'redirect-uri').status).toBe('skip');
  });
});

describe('several environments in one run', () => {
  it('two env files and an app: one section fails, the others pass, exit 1, with JUnit, Markdown and JSON reports', async () => {
    const good = join(dir, 'good.env');
    const wrong = join(dir, 'staging.env');
    const variables = Object.entries(harness.env).map(([name, value]) => `${name}=${value}`);
    writeFileSync(good, `${variables.join('\n')}\n`);
    writeFileSync(
      wrong,
      `NAME=staging (rotated secret)\n${variables.join('\n')}\nOAUTH_CLIENT_SECRET=rotated-away-secret\n`,
    );
    const junit = join(dir, 'reports', 'doctor.xml');
    const markdown = join(dir, 'reports', 'doctor.md');
    const json = join(dir, 'reports', 'doctor.json');

    const child = await spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/doctor.ts',
        '--env-file',
        good,
        '--app',
        harness.baseUrl,
        '--env-file',
        wrong,
        '--junit',
        junit,
        '--markdown',
        markdown,
        '--json',
        json,
      ],
      {},
    );
    expect(child.stderr).toBe('');
    expect(child.code).toBe(1);
    expect(child.stdout).toContain(`━━ good.env (${good}) ━━`);
    expect(child.stdout).toContain('1 of 3 environments failed: staging (rotated secret).');
    expect(child.stdout).not.toContain('rotated-away-secret');

    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.ok).toBe(false);
    expect(report.environments.map((e) => [e.name, e.ok])).toEqual([
      ['good.env', true],
      [harness.baseUrl, true],
      ['staging (rotated secret)', false],
    ]);
    const staging = report.environments[2]!;
    expect(staging.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'client-credentials',
    ]);

    // JUnit: parsed by a real XML parser, case by case.
    const xml = readFileSync(junit, 'utf8');
    const parsed = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '',
      isArray: (name) => ['testsuite', 'testcase'].includes(name),
    }).parse(xml);
    const suites = parsed.testsuites.testsuite as Record<string, unknown>[];
    expect(suites.map((s) => s.name)).toEqual(['good.env', harness.baseUrl, 'staging (rotated secret)']);
    for (const [i, suite] of suites.entries()) {
      const checks = report.environments[i]!.checks;
      const cases = suite.testcase as Record<string, unknown>[];
      expect(cases.map((c) => c.name)).toEqual(checks.map((c) => c.title));
      expect(Number(suite.tests)).toBe(checks.length);
      expect(Number(suite.failures)).toBe(checks.filter((c) => c.status === 'fail').length);
      for (const [j, testcase] of cases.entries()) {
        const result = checks[j]!;
        expect(testcase.classname).toBe(suite.name);
        if (result.status === 'fail') {
          const failure = testcase.failure as Record<string, string>;
          expect(failure.message).toContain(result.summary);
          expect(failure['#text']).toContain(`fix: ${result.fix}`);
        } else {
          expect(testcase.failure).toBeUndefined();
        }
        if (result.status === 'skip') expect(testcase.skipped).toBeDefined();
        if (result.status === 'warn') expect(String(testcase['system-out'])).toContain(result.summary);
      }
    }
    expect(xml).not.toContain('rotated-away-secret');
    await expectValidJunit(junit);

    const md = readFileSync(markdown, 'utf8');
    expect(md).toContain('## creatio-oauth-bff doctor: ❌ failed');
    expect(md).toContain('### ❌ staging (rotated secret): 1 failed');
    expect(md).toContain('| ❌ | Client id and secret | The Identity Service knows client');
  });

  it('--redirect-uri twice: the registered one passes, the other fails with its near miss', async () => {
    const other = 'https://other-environment.example.com/auth/callback';
    registerOnly(callback, other);
    const redirectUris = [other, `${other}/`];
    const reports = await Promise.all([
      runDoctor(harness.config, { redirectUris }),
      runAppDoctor(harness.baseUrl, { redirectUris }),
    ]);
    for (const report of reports) {
      expect(report.checks.filter((c) => c.status !== 'pass').map((c) => c.id)).toEqual([
        `redirect-uri:${other}/`,
      ]);
      expect(check(report, `redirect-uri:${other}`).summary).toContain(
        `Registered for client ${harness.config.clientId}`,
      );
      expect(check(report, `redirect-uri:${other}/`)).toMatchObject({
        status: 'fail',
        summary: `The Identity Service rejects ${other}/ for client ${harness.config.clientId} but accepts ${other} (the app sends a trailing "/", the registered URL has none).`,
        fix: expect.stringContaining(`npm run redirect-urls -- add ${other}/`),
      });
    }
  });
});

describe('the command line', () => {
  it('--help prints the usage and runs no check', async () => {
    const child = await spawn(process.execPath, ['--import', 'tsx', 'scripts/doctor.ts', '--help'], {});
    expect(child.code).toBe(0);
    expect(child.stdout).toMatch(/^Usage: npm run doctor -- \[options\]/);
    expect(child.stdout).toContain('--app <url>');
    expect(child.stdout).not.toContain('Configuration');
  });

  it('an unknown option is one line and exit 2', async () => {
    const child = await spawn(process.execPath, ['--import', 'tsx', 'scripts/doctor.ts', '--jsno'], {});
    expect(child).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'Unknown option --jsno. See npm run doctor -- --help\n',
    });
  });

  it('`npm run doctor -- --env-file` naming a missing file is one line and exit 2, from the doctor itself', async () => {
    const missing = join(dir, 'no-such.env');
    const child = await spawn('npm', ['run', '--silent', 'doctor', '--', '--env-file', missing], {});
    // Node 20 read --env-file anywhere on its command line, after the script name too: it exited 9 with
    // "node: … not found" before the doctor ran (and loaded an existing file into the doctor's own environment).
    expect(child).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `--env-file ${missing}: no such file. See npm run doctor -- --help\n`,
    });
  });

  it('the documented `npm run --silent doctor -- --json` prints only JSON; without --silent npm spoils it', async () => {
    const [silent, loud] = await Promise.all([
      spawn('npm', ['run', '--silent', 'doctor', '--', '--json'], harness.env),
      spawn('npm', ['run', 'doctor', '--', '--json'], harness.env),
    ]);
    expect(silent.code).toBe(0);
    const report = JSON.parse(silent.stdout) as DiagnosticsReport;
    expect(report.ok).toBe(true);
    expect(check(report, 'redirect-uri').status).toBe('pass');
    // What the README used to show: npm's "> creatio-oauth-bff@… doctor" lines come first.
    expect(loud.stdout).toMatch(/^\s*> creatio-oauth-bff@/);
    expect(() => JSON.parse(loud.stdout)).toThrow();
  });
});

/** What a reverse proxy does: the request as it came, to the app on `port`, and its answer back. */
function forward(req: IncomingMessage, res: ServerResponse, port: number): void {
  const upstream = request(
    { host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  req.pipe(upstream);
}

/** Validates against the project's own XSD of the Jenkins/Surefire shape, with libxml2's xmllint. */
async function expectValidJunit(file: string): Promise<void> {
  const result = await spawn('xmllint', ['--noout', '--schema', 'test/support/junit.xsd', file], {});
  expect(result.stderr.trim()).toBe(`${file} validates`);
  expect(result.code).toBe(0);
}

async function selfSignedCertificate(): Promise<{ key: Buffer; cert: Buffer }> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

/** A fetch that trusts `ca` as well: what NODE_EXTRA_CA_CERTS does for the command. */
function trusting(ca: Buffer): Fetch {
  const dispatcher = new Agent({ connect: { ca } });
  closers.push(() => dispatcher.close());
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher })) as unknown as Fetch;
}

/** Another BFF on the harness's sandbox, from the harness's own environment with `env` on top. */
async function startSecondApp(env: Record<string, string>): Promise<{ port: number }> {
  const server = createServer();
  servers.push(server);
  const port = await listen(server);
  const config = loadConfig({ ...harness.env, PORT: String(port), ...env }, { sandbox: true });
  const bff = await createApp(config, { logger: createLogger(config.logLevel) });
  server.on('request', bff.app);
  closers.push(() => bff.close());
  return { port };
}
