/**
 * `rediss://` as managed Redis services require it: the real entry point (`npm start`'s server/index.ts in a child
 * process) on a redis-server that speaks TLS only on the port it is given, with a throw-away certificate trusted
 * through NODE_EXTRA_CA_CERTS (as docs/deploy.md says), and SESSION_REDIS_PREFIX keying what it writes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../support/ports.ts';
import { type RedisServer, startRedis } from '../support/redis.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let redis: RedisServer;
let tlsPort: number;
let app: ChildProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bff-redis-tls-'));
  const made = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...[
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
    ],
    { encoding: 'utf8' },
  );
  if (made.error || made.status !== 0) {
    throw new Error(
      `openssl could not make a test certificate (scripts/install-system-deps.sh installs it): ${made.stderr}`,
    );
  }
  tlsPort = await freePort();
  redis = await startRedis({
    args: [
      ...['--tls-port', String(tlsPort), '--tls-auth-clients', 'no'],
      ...['--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem')],
    ],
  });
});

afterAll(async () => {
  app?.kill('SIGKILL');
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SESSION_STORE=rediss://', () => {
  it('connects over TLS, is ready, and keeps sign-ins under SESSION_REDIS_PREFIX', async () => {
    const [port, identityPort, creatioPort] = await Promise.all([freePort(), freePort(), freePort()]);
    app = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'),
        PORT: String(port),
        SANDBOX_IDENTITY_PORT: String(identityPort),
        SANDBOX_CREATIO_PORT: String(creatioPort),
        SESSION_STORE: `rediss://127.0.0.1:${tlsPort}`,
        SESSION_REDIS_PREFIX: 'tls-test:',
        SESSION_SECRET: 'redis-tls-test-secret-'.padEnd(40, 'x'),
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    const base = `http://127.0.0.1:${port}`;
    await vi.waitFor(
      async () => {
        const ready = await fetch(`${base}/readyz`);
        expect(await ready.json()).toMatchObject({ checks: { sessionStore: 'ok' } });
      },
      { timeout: 20_000, interval: 100 },
    );

    // A sign-in stores its login transaction in Redis, over TLS, under the prefix.
    expect((await fetch(`${base}/auth/login`, { redirect: 'manual' })).status).toBe(302);
    const client = createClient({
      url: `rediss://127.0.0.1:${tlsPort}`,
      socket: { tls: true, ca: [readFileSync(join(dir, 'cert.pem'), 'utf8')] },
    });
    await client.connect();
    try {
      const keys = await client.keys('*');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.every((key) => key.startsWith('tls-test:'))).toBe(true);
    } finally {
      client.destroy();
    }
  });
});
