/**
 * `npm start` as a user runs it: the real entry point in a child process. With no Identity Service configured it
 * brings up the sandbox and prints the demo users; a bad configuration stops it with one line per problem.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.ts';

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
  // Same as `npm start` (tsx server/index.ts) without npm's own start-up cost.
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
    const [port, identityPort, creatioPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const { child, output } = start({
      PORT: String(port),
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

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const login = await fetch(`${base}/auth/login`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${identityPort}/connect/authorize\\?`),
    );

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
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
});
