/**
 * Several BFF instances on one real Redis, as a deployment behind a load balancer runs them: the same
 * SESSION_SECRET and SESSION_STORE, each with its own Redis connection, its own in-process state and its own HTTP
 * server on 127.0.0.1, in front of one sandbox. All share one APP_URL (the load balancer's address, when a test puts
 * one in front; else the first instance's), so a sign-in started on one instance can finish on another.
 *
 * Requests go over real HTTP to a chosen instance with the browser's cookie in a header, so a test decides where
 * each call lands (round-robin, "on the others"), as a load balancer without sticky sessions would.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import supertest from 'supertest';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type BffApp, createApp } from '../../server/app.ts';
import { type Config, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type SignedIn, sandboxEnv, sessionIdFromCookie } from './harness.ts';
import { type RedisServer, startRedis } from './redis.ts';
import { completeSandboxLogin, type SandboxCookieJar } from './sandbox-login.ts';

export interface Instance {
  readonly bff: BffApp;
  /** This instance's own address: http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** HTTP requests this instance has received so far (to see where a load balancer sent them). */
  requestCount(): number;
}

export interface Instances {
  readonly sandbox: Sandbox;
  readonly redis: RedisServer;
  /** The environment every instance was configured from. */
  readonly env: Readonly<Record<string, string>>;
  readonly config: Config;
  readonly instances: readonly Instance[];
  /** supertest against instance `index`'s own server (real HTTP), carrying `cookie` when given. */
  request(index: number): supertest.Agent;
  /**
   * Signs in through the sandbox's login form: /auth/login on instance `start`, the callback on instance `finish`.
   * Resolves to the session cookie (a Cookie header value) and the session id behind it.
   */
  signIn(
    username?: string,
    via?: { start?: number; finish?: number; identityServiceCookies?: SandboxCookieJar },
  ): Promise<SignedIn>;
  /** Stops the instances, the sandbox, and Redis unless the caller brought it. */
  close(): Promise<void>;
}

export interface InstancesOptions {
  /** How many instances; default 2. */
  readonly count?: number;
  /** Access-token lifetime at the sandbox Identity Service; default an hour. */
  readonly accessTokenTtlSeconds?: number;
  /** A Redis to share (left running on close); default: a new one, stopped on close. */
  readonly redis?: RedisServer;
  /**
   * The public URL every instance is configured with (APP_URL), e.g. a proxy in front of them. Called with the
   * instances' ports once they listen; default: the first instance's URL.
   */
  readonly appUrl?: (ports: readonly number[]) => string | Promise<string>;
  /** Extra or overriding environment variables. */
  readonly env?: Record<string, string>;
  /** /readyz's Identity Service probe interval; default short (250 ms) so tests see outages quickly. */
  readonly readinessProbeIntervalMs?: number;
  /** The sandbox Identity Service's signing key, for tests that sign tokens as it would (back-channel logout). */
  readonly signingKey?: JWK;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startInstances(options: InstancesOptions = {}): Promise<Instances> {
  const count = options.count ?? 2;
  const redis = options.redis ?? (await startRedis());
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(servers.map(listen));
  const appUrl = options.appUrl ? await options.appUrl(ports) : `http://127.0.0.1:${ports[0]}`;
  const sandbox = await startSandbox({
    identityPort: 0,
    creatioPort: 0,
    appUrl,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    signingKey: options.signingKey,
  });
  const env = {
    ...sandboxEnv(sandbox, appUrl),
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_STORE: redis.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HTTP_TIMEOUT_MS: '5000',
    LOGIN_RATE_LIMIT: '100000',
    ...options.env,
  };
  const config = loadConfig(env, { sandbox: true });
  const instances: Instance[] = [];
  for (const [i, server] of servers.entries()) {
    const bff = await createApp(config, {
      logger: createLogger(config.logLevel),
      readinessProbeIntervalMs: options.readinessProbeIntervalMs ?? 250,
    });
    let received = 0;
    server.on('request', (req, res) => {
      received++;
      bff.app(req, res);
    });
    instances.push({
      bff,
      url: `http://127.0.0.1:${ports[i]}`,
      port: ports[i]!,
      requestCount: () => received,
    });
  }

  const request = (index: number) => {
    const instance = instances[index];
    if (!instance) throw new Error(`there is no instance ${index} (of ${count})`);
    return supertest.agent(instance.url);
  };

  return {
    sandbox,
    redis,
    env,
    config,
    instances,
    request,
    async signIn(username = 'alice', via = {}) {
      const user = findUserByUsername(username);
      if (!user) throw new Error(`no demo user ${username}`);
      const start = via.start ?? 0;
      const finish = via.finish ?? (start + 1) % count;
      const login = await request(start).get('/auth/login');
      if (login.status !== 302) throw new Error(`GET /auth/login answered ${login.status}: ${login.text}`);
      // The login-binding cookie set by the first instance goes along to the second, as the browser would send it.
      const binding = ([] as string[])
        .concat(login.headers['set-cookie'] ?? [])
        .map((c) => c.split(';')[0]!)
        .join('; ');
      // The same Identity Service cookies again = single sign-on: the same Identity Service session (sid).
      const callback = await completeSandboxLogin(
        login.headers.location as string,
        user,
        via.identityServiceCookies,
      );
      const done = await request(finish).get(`${callback.pathname}${callback.search}`).set('Cookie', binding);
      if (done.status !== 302) throw new Error(`GET /auth/callback answered ${done.status}: ${done.text}`);
      const cookie = ([] as string[])
        .concat(done.headers['set-cookie'] ?? [])
        .map((c) => c.split(';')[0]!)
        .find((c) => c.startsWith(`${config.cookie.name}=`));
      if (!cookie) throw new Error('the callback set no session cookie');
      return { cookie, sessionId: sessionIdFromCookie(cookie) };
    },
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await Promise.allSettled(instances.map((instance) => instance.bff.close()));
      await sandbox.close();
      if (!options.redis) await redis.stop();
    },
  };
}
