/**
 * `npm start` as a user runs it: the real entry point in a child process. With no Identity Service configured it
 * brings up the sandbox and prints the demo users; a bad configuration stops it with one line per problem.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSetCookie } from 'cookie';
import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { demoUsers } from '../../sandbox/users.ts';
import { sandboxEnv } from '../support/harness.ts';
import { freePort } from '../support/ports.ts';
import { completeSandboxLogin } from '../support/sandbox-login.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** The environment a user's shell would have, minus anything of ours that would change the mode. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

function start(env: Record<string, string>): {
  child: ChildProcess;
  output: () => { out: string; err: string };
} {
  // Same as `npm start` (node --import tsx server/index.ts) without npm's own start-up cost.
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: root,
    env: cleanEnv(env),
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return { child, output: () => ({ out, err }) };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm start', () => {
  it('runs against the sandbox with no configuration, prints the demo users, and stops cleanly', async () => {
    const [port, identityPort, creatioPort, metricsPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const { child, output } = start({
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      SANDBOX_IDENTITY_PORT: String(identityPort),
      SANDBOX_CREATIO_PORT: String(creatioPort),
      SESSION_STORE: 'memory',
      SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
      LOG_LEVEL: 'warn',
    });
    await waitFor(() => output().out.includes('listening on'), 'the start banner');
    const { out } = output();
    expect(out).toContain(`http://localhost:${port}`);
    expect(out).toMatch(/alice\s+\/\s+alice-demo/);
    expect(out).toMatch(/bob\s+\/\s+bob-demo/);
    // The sandbox's application and the scopes it needs, ApplicationAccess_<id> included: what a .env would copy.
    expect(out).toMatch(
      /Sandbox application: creatio-oauth-bff-sandbox, scopes openid .*ApplicationAccess_[0-9a-f]{32}/,
    );

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // METRICS_PORT alone: /metrics on its own port, not on the app's.
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(
      /^bff_http_requests_total\{method="GET",route="\/readyz",status="200"\} 1$/m,
    );
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    const login = await fetch(`${base}/auth/login`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${identityPort}/connect/authorize\\?`),
    );

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });

  it('warns on stderr, with the fix, when APP_URL is https but TRUST_PROXY is off', async () => {
    const [port, nobody] = await Promise.all([freePort(), freePort()]);
    const { child, output } = start({
      IDENTITY_SERVICE_URL: `http://127.0.0.1:${nobody}`, // discovery may fail: the warning comes first
      CREATIO_URL: 'https://example.creatio.com',
      OAUTH_CLIENT_ID: 'client',
      OAUTH_CLIENT_SECRET: 'a-client-secret',
      APP_URL: 'https://bff.example.com',
      PORT: String(port),
      SESSION_STORE: 'memory',
      SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
      LOG_LEVEL: 'silent',
    });
    await waitFor(() => output().out.includes('listening on'), 'the start banner');
    expect(output().err).toMatch(
      /^Warning: TRUST_PROXY: APP_URL is https .*Set TRUST_PROXY to the proxy's address, e\.g\. TRUST_PROXY=10\.0\.0\.5/m,
    );
    child.kill('SIGTERM');
    await exitOf(child);
  });

  it('refuses a bad configuration with one line per problem, exit code 1 and no stack trace', async () => {
    const { child, output } = start({
      IDENTITY_SERVICE_URL: 'not a url',
      CREATIO_URL: 'https://example.creatio.com',
      OAUTH_CLIENT_ID: 'client',
      OAUTH_CLIENT_SECRET: 'a-client-secret-that-must-not-be-printed',
      PORT: '99999',
      SESSION_STORE: 'mongodb://nope',
    });
    expect(await exitOf(child)).toBe(1);
    const { out, err } = output();
    const lines = err.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^IDENTITY_SERVICE_URL: .*e\.g\. https:\/\//),
      expect.stringMatching(/^PORT: .*e\.g\. 3000/),
      expect.stringMatching(/^SESSION_STORE: .*e\.g\. sqlite:/),
      expect.stringMatching(/^SESSION_SECRET: is required/),
    ]);
    expect(err).not.toMatch(/\n\s+at /);
    expect(err + out).not.toContain('a-client-secret-that-must-not-be-printed');
  });

  it('a SQLite session file that cannot be opened is one SESSION_STORE line and exit 1, not a stack trace', async () => {
    const notADatabase = join(mkdtempSync(join(tmpdir(), 'start-sqlite-')), 'notes.txt');
    writeFileSync(notADatabase, 'not a database, and a file where a directory is expected\n'.repeat(100));
    for (const path of [notADatabase, `${notADatabase}/sessions.db`]) {
      const { child, output } = start({
        PORT: String(await freePort()),
        IDENTITY_SERVICE_URL: 'http://127.0.0.1:9',
        CREATIO_URL: 'http://127.0.0.1:9',
        OAUTH_CLIENT_ID: 'client',
        OAUTH_SCOPES: 'openid offline_access ApplicationAccess_0',
        SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
        SESSION_STORE: `sqlite:${path}`,
      });
      expect(await exitOf(child)).toBe(1);
      const { err } = output();
      expect(err.trim().split('\n')).toEqual([
        expect.stringMatching(
          new RegExp(`^SESSION_STORE: cannot open the SQLite file ${path} \\(.+\\); .*e\\.g\\. `),
        ),
      ]);
      expect(err).not.toMatch(/\n\s+at /);
    }
  });

  it('refuses a back-channel logout token that is not a JWT with 400 even while the Identity Service is unreachable', async () => {
    const port = await freePort();
    const { output } = start({
      PORT: String(port),
      IDENTITY_SERVICE_URL: 'http://127.0.0.1:9',
      CREATIO_URL: 'http://127.0.0.1:9',
      OAUTH_CLIENT_ID: 'client',
      OAUTH_SCOPES: 'openid offline_access ApplicationAccess_0',
      SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
      SESSION_STORE: 'memory',
    });
    await waitFor(() => output().out.includes('listening on'), 'the start banner');
    const post = (token: string) =>
      fetch(`http://127.0.0.1:${port}/auth/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });
    // Not a token at all: invalid whatever the keys are (it was 503 "Identity Service unavailable" here).
    expect((await post('not-a-jwt')).status).toBe(400);
    // A well-formed JWT needs the Identity Service's keys: 503, so the Identity Service delivers it again later.
    const header = Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url');
    const claims = Buffer.from('{"sub":"alice","jti":"1"}').toString('base64url');
    expect((await post(`${header}.${claims}.c2ln`)).status).toBe(503);
  });

  it('names the sandbox port that is taken, as configured, in one line and exit 1', async () => {
    const taken = createServer();
    const takenPort = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as AddressInfo).port)),
    );
    try {
      const [port, creatioPort] = await Promise.all([freePort(), freePort()]);
      const { child, output } = start({
        PORT: String(port),
        SANDBOX_IDENTITY_PORT: String(takenPort),
        SANDBOX_CREATIO_PORT: String(creatioPort),
        SESSION_STORE: 'memory',
      });
      expect(await exitOf(child)).toBe(1);
      // It named the defaults 5000/5001 whatever was configured: the user looked at the wrong port.
      expect(output().err.trim().split('\n').at(-1)).toBe(
        `The sandbox could not start (SANDBOX_IDENTITY_PORT ${takenPort} / SANDBOX_CREATIO_PORT ${creatioPort}): the port is in use by another program; stop it or choose another port.`,
      );
    } finally {
      taken.close();
    }
  });

  it('never starts the sandbox in production: neither IDENTITY_SERVICE_URL nor CREATIO_URL is one clear line', async () => {
    const [identityPort, creatioPort] = await Promise.all([freePort(), freePort()]);
    const { child, output } = start({
      NODE_ENV: 'production',
      SANDBOX_IDENTITY_PORT: String(identityPort),
      SANDBOX_CREATIO_PORT: String(creatioPort),
    });
    expect(await exitOf(child)).toBe(1);
    const { out, err } = output();
    expect(err.trim().split('\n')).toEqual([
      expect.stringMatching(/^IDENTITY_SERVICE_URL, CREATIO_URL: neither is set and NODE_ENV=production/),
    ]);
    expect(out).not.toMatch(/sandbox|alice/i);
  });

  it('with CREATIO_URL alone finds the Identity Service on the Creatio host (8.3+) and starts no sandbox', async () => {
    const port = await freePort();
    const appUrl = `http://localhost:${port}`;
    const sandbox = await startSandbox({ creatioPort: 0, layout: 'creatio-hosted', appUrl });
    try {
      const { child, output } = start({
        PORT: String(port),
        CREATIO_URL: sandbox.creatioUrl,
        OAUTH_CLIENT_ID: sandbox.bffClient.clientId,
        OAUTH_CLIENT_SECRET: sandbox.bffClient.clientSecret!,
        OAUTH_SCOPES: sandbox.defaultScopes.join(' '),
        SESSION_STORE: 'memory',
        SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
      });
      await waitFor(() => output().out.includes('listening on'), 'the start banner');
      const { out } = output();
      expect(out).toContain(
        `using the Identity Service found on the Creatio host (Creatio 8.3+) at ${sandbox.creatioUrl}/0`,
      );
      expect(out).not.toMatch(/Demo users|alice/);
      const login = await fetch(`http://127.0.0.1:${port}/auth/login`, { redirect: 'manual' });
      expect(login.status).toBe(302);
      expect(login.headers.get('location')?.startsWith(`${sandbox.creatioUrl}/0/connect/authorize?`)).toBe(
        true,
      );
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
    } finally {
      await sandbox.close();
    }
  });
});

/** Cookie header value from a response's Set-Cookie lines (name=value; …). */
function cookiesOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((line) => parseSetCookie(line))
    .map(({ name, value }) => `${name}=${value}`)
    .join('; ');
}

/** Resolves with the error code once a new connection to the port is refused (the server stopped listening). */
async function refused(port: number): Promise<string | undefined> {
  for (;;) {
    const code = await new Promise<string | undefined>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    });
    if (code) return code;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The real entry point against a sandbox of the test's own (so the test can turn its fault switches), signed in. */
async function startSignedIn(env: Record<string, string>) {
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl });
  sandboxes.push(sandbox);
  const app = start({
    ...sandboxEnv(sandbox, appUrl),
    PORT: String(port),
    SESSION_STORE: 'memory',
    SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
    LOG_LEVEL: 'info',
    ...env,
  });
  await waitFor(() => app.output().out.includes('listening on'), 'the start banner');
  // Sign in as a browser would: the binding cookie from /auth/login goes back with the callback.
  const login = await fetch(`${appUrl}/auth/login`, { redirect: 'manual' });
  const callback = await completeSandboxLogin(login.headers.get('location')!, demoUsers[0]!);
  const signedIn = await fetch(callback, { redirect: 'manual', headers: { cookie: cookiesOf(login) } });
  expect(signedIn.status).toBe(302);
  const download = () =>
    fetch(`${appUrl}/api/odata/Account?$top=5`, { headers: { cookie: cookiesOf(signedIn), 'x-csrf': '1' } });
  return { ...app, port, sandbox, download };
}

const sandboxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
});

describe('SIGTERM', () => {
  it('stops accepting, lets a download in flight finish, closes everything and exits 0', async () => {
    const app = await startSignedIn({ SHUTDOWN_TIMEOUT_MS: '20000' });
    // Creatio sends the first half of the answer now and the rest 1.5 s later: a download in progress.
    app.sandbox.faults.slowBodyMs = 1500;
    const download = await app.download();
    expect(download.status).toBe(200);

    app.child.kill('SIGTERM');
    const exited = exitOf(app.child);
    expect(await refused(app.port)).toBe('ECONNREFUSED');
    const body = JSON.parse(await download.text()) as { value: unknown[] };
    expect(body.value).toHaveLength(5);
    expect(await exited).toBe(0);
    expect(app.output().out).toContain('shutting down');
    expect(app.output().out).toContain('"msg":"shut down"');
  });

  it('cuts a request still running after SHUTDOWN_TIMEOUT_MS and exits 0 (in about 1 s, not 20 s)', async () => {
    const app = await startSignedIn({ SHUTDOWN_TIMEOUT_MS: '300' });
    app.sandbox.faults.slowBodyMs = 20_000;
    const download = await app.download();
    const started = Date.now();
    app.child.kill('SIGTERM');
    await expect(download.text()).rejects.toThrow();
    expect(await exitOf(app.child)).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(app.output().out).toContain('cutting requests still in flight');
  });
});

describe('SIGTERM to npm itself', () => {
  it('reaches the app: `npm start` stopped by an orchestrator or a test harness leaves nothing listening', async () => {
    const [port, identityPort, creatioPort] = await Promise.all([freePort(), freePort(), freePort()]);
    // Its own process group, so whatever npm leaves behind can be killed by the group's id after the test.
    const npm = spawn('npm', ['start'], {
      cwd: root,
      detached: true,
      env: cleanEnv({
        PORT: String(port),
        SANDBOX_IDENTITY_PORT: String(identityPort),
        SANDBOX_CREATIO_PORT: String(creatioPort),
        SESSION_STORE: 'memory',
        SESSION_SECRET: 'start-test-secret-'.padEnd(40, 'x'),
      }),
    });
    let out = '';
    npm.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    try {
      await waitFor(() => out.includes('listening on'), 'the start banner', 60_000);
      npm.kill('SIGTERM');
      await exitOf(npm);
      // npm runs the script through sh; without `exec` there, sh died and the app kept running, orphaned. And not
      // through tsx's CLI: it relays SIGTERM but sends SIGKILL when the child has not reported it within 30 ms, so
      // on a busy machine the graceful shutdown (and the "shut down" line below) never happened.
      const stillListening = new Promise<string>((resolve) =>
        setTimeout(() => resolve('still listening'), 15_000),
      );
      expect(await Promise.race([refused(port), stillListening])).toBe('ECONNREFUSED');
      await waitFor(() => out.includes('"msg":"shut down"'), 'the shutdown log line');
    } finally {
      if (npm.pid) {
        try {
          process.kill(-npm.pid, 'SIGKILL');
        } catch {} // the group is already gone: the good case
      }
    }
  }, 90_000);
});
