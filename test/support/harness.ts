/**
 * The integration-test harness: the sandbox (Identity Service + Creatio stand-in) and a real BFF listening on
 * 127.0.0.1, wired exactly as `npm start` wires them. Tests talk to it with supertest agents (one cookie jar each)
 * or with a browser at `baseUrl`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import supertest from 'supertest';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../sandbox/index.ts';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type AppDeps, type BffApp, createApp } from '../../server/app.ts';
import { type Config, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { completeSandboxLogin } from './sandbox-login.ts';

export type Agent = ReturnType<typeof supertest.agent>;

export interface Harness {
  readonly sandbox: Sandbox;
  readonly config: Config;
  /** The environment the BFF was configured from: a base for tests that build a second app on the same sandbox. */
  readonly env: Readonly<Record<string, string>>;
  readonly bff: BffApp;
  /** The BFF's URL (= APP_URL): http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** A client with a cookie jar of its own: one browser. */
  agent(): Agent;
  /** The whole authorization-code flow through the sandbox's login form; leaves the agent signed in. */
  signIn(agent: Agent, username?: string): Promise<SignedIn>;
  close(): Promise<void>;
}

export interface SignedIn {
  /** `name=value` of the session cookie, for a Cookie header. */
  readonly cookie: string;
  /** The express-session id behind the cookie: the key of the session's token set in storage.tokens. */
  readonly sessionId: string;
}

/** express-session's cookie value is `s:<id>.<signature>`, URL-encoded. */
export function sessionIdFromCookie(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}

/** The variables that point the BFF at a running sandbox: what `npm start` derives in sandbox mode. */
export function sandboxEnv(sandbox: Sandbox, appUrl: string): Record<string, string> {
  return {
    IDENTITY_SERVICE_URL: sandbox.identityServiceUrl,
    CREATIO_URL: sandbox.creatioUrl,
    OAUTH_CLIENT_ID: sandbox.bffClient.clientId,
    ...(sandbox.bffClient.clientSecret !== undefined && {
      OAUTH_CLIENT_SECRET: sandbox.bffClient.clientSecret,
    }),
    OAUTH_SCOPES: sandbox.defaultScopes.join(' '),
    APP_URL: appUrl,
  };
}

/** The sandbox switches a harness can turn: endpoint layout, ID tokens refused, a public client. */
export type SandboxSwitches = Pick<SandboxOptions, 'layout' | 'refuseOpenId' | 'publicClient'>;

export interface HarnessOptions {
  accessTokenTtlSeconds?: number;
  /** How the sandbox behaves; the app's environment follows (no secret for a public client, no openid if refused). */
  sandbox?: SandboxSwitches;
  /** Extra or overriding environment variables for loadConfig. */
  env?: Record<string, string>;
  deps?: AppDeps;
  /** The sandbox Identity Service's signing key, for tests that forge tokens signed as it would sign them. */
  signingKey?: JWK;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  // Listen first so the BFF's URL is known when the sandbox registers its redirect URL.
  const server = createServer();
  const port = await listen(server);
  const baseUrl = `http://127.0.0.1:${port}`;
  const sandbox = await startSandbox({
    identityPort: 0,
    creatioPort: 0,
    appUrl: baseUrl,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    signingKey: options.signingKey,
    ...options.sandbox,
  });
  const env = {
    ...sandboxEnv(sandbox, baseUrl),
    PORT: String(port),
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_STORE: 'memory',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HTTP_TIMEOUT_MS: '5000',
    // Every test signs in from 127.0.0.1; the production default would throttle the suite.
    LOGIN_RATE_LIMIT: '100000',
    ...options.env,
  };
  const config = loadConfig(env, { sandbox: true });
  const bff = await createApp(config, { logger: createLogger(config.logLevel), ...options.deps });
  server.on('request', bff.app);

  return {
    sandbox,
    config,
    env,
    bff,
    baseUrl,
    agent: () => supertest.agent(bff.app),
    async signIn(agent, username = 'alice') {
      const user = findUserByUsername(username);
      if (!user) throw new Error(`no demo user ${username}`);
      const login = await agent.get('/auth/login');
      if (login.status !== 302) throw new Error(`GET /auth/login answered ${login.status}: ${login.text}`);
      const callback = await completeSandboxLogin(login.headers.location as string, user);
      const done = await agent.get(`${callback.pathname}${callback.search}`);
      if (done.status !== 302) throw new Error(`GET /auth/callback answered ${done.status}: ${done.text}`);
      const setCookie = ([] as string[]).concat(done.headers['set-cookie'] ?? []);
      const cookie = setCookie
        .map((c) => c.split(';')[0]!)
        .find((c) => c.startsWith(`${config.cookie.name}=`));
      if (!cookie) throw new Error('the callback set no session cookie');
      return { cookie, sessionId: sessionIdFromCookie(cookie) };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await bff.close();
      await sandbox.close();
    },
  };
}
