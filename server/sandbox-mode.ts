/**
 * `npm start` without IDENTITY_SERVICE_URL and CREATIO_URL: start the built-in sandbox and point the app at it. The
 * configuration is validated before the sandbox starts (a bad PORT should not leave two servers running), then
 * completed with the sandbox's URLs, its freshly generated client secret and its application's scopes.
 *
 * SANDBOX_LAYOUT, SANDBOX_REFUSE_OPENID and SANDBOX_PUBLIC_CLIENT turn on what Creatio's documentation leaves open
 * (README, "Creatio versions"), so a partner can try the app against each before meeting it in a real instance.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  BFF_CLIENT_ID,
  type Sandbox,
  type SandboxLayout,
  SandboxLayouts,
  startSandbox,
} from '../sandbox/index.ts';
import { type Config, ConfigError, type Env, loadConfig } from './config.ts';

const DEV_SECRET_FILE = './data/.sandbox-session-secret';

/**
 * The sandbox needs no SESSION_SECRET from the user, but sessions in the SQLite file should survive a restart, so a
 * random secret is made once and kept next to them (never a secret written in code).
 */
function sandboxSessionSecret(): string {
  if (existsSync(DEV_SECRET_FILE)) return readFileSync(DEV_SECRET_FILE, 'utf8').trim();
  const secret = randomBytes(48).toString('base64url');
  mkdirSync(dirname(DEV_SECRET_FILE), { recursive: true });
  writeFileSync(DEV_SECRET_FILE, secret, { mode: 0o600 });
  return secret;
}

function portFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    throw new ConfigError([`${name}: must be a port number from 0 to 65535, e.g. ${name}=${fallback}`]);
  }
  return Number(raw);
}

function ttlFrom(env: Env): number | undefined {
  const raw = env.SANDBOX_ACCESS_TOKEN_TTL;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new ConfigError([
      'SANDBOX_ACCESS_TOKEN_TTL: must be a whole number of seconds, e.g. SANDBOX_ACCESS_TOKEN_TTL=3600',
    ]);
  }
  return Number(raw);
}

function layoutFrom(env: Env): SandboxLayout {
  const raw = env.SANDBOX_LAYOUT;
  if (raw === undefined || raw === '') return 'identity-service-host';
  if ((SandboxLayouts as readonly string[]).includes(raw)) return raw as SandboxLayout;
  throw new ConfigError([
    `SANDBOX_LAYOUT: must be ${SandboxLayouts.join(' or ')}, e.g. SANDBOX_LAYOUT=creatio-hosted (Creatio 8.3+: the Identity Service at <CREATIO_URL>/0)`,
  ]);
}

function switchFrom(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError([`${name}: must be true or false, e.g. ${name}=true`]);
}

export async function startSandboxMode(env: Env): Promise<{ config: Config; sandbox: Sandbox }> {
  const identityPort = portFrom(env, 'SANDBOX_IDENTITY_PORT', 5000);
  const creatioPort = portFrom(env, 'SANDBOX_CREATIO_PORT', 5001);
  const accessTokenTtlSeconds = ttlFrom(env);
  const layout = layoutFrom(env);
  const refuseOpenId = switchFrom(env, 'SANDBOX_REFUSE_OPENID');
  const publicClient = switchFrom(env, 'SANDBOX_PUBLIC_CLIENT');
  const sandboxEnv: Env = {
    ...env,
    IDENTITY_SERVICE_URL: `http://127.0.0.1:${identityPort}`,
    CREATIO_URL: `http://127.0.0.1:${creatioPort}`,
    OAUTH_CLIENT_ID: BFF_CLIENT_ID,
    OAUTH_CLIENT_SECRET: undefined,
    SESSION_SECRET: env.SESSION_SECRET || sandboxSessionSecret(),
  };
  const draft = loadConfig(sandboxEnv, { sandbox: true });
  const sandbox = await startSandbox({
    identityPort,
    creatioPort,
    appUrl: draft.appUrl,
    accessTokenTtlSeconds,
    layout,
    refuseOpenId,
    publicClient,
  });
  const config = loadConfig(
    {
      ...sandboxEnv,
      IDENTITY_SERVICE_URL: sandbox.identityServiceUrl,
      CREATIO_URL: sandbox.creatioUrl,
      OAUTH_CLIENT_SECRET: sandbox.bffClient.clientSecret,
      // The sandbox's application and its OAuth resource are known, so its scopes are the default.
      OAUTH_SCOPES: env.OAUTH_SCOPES || sandbox.defaultScopes.join(' '),
    },
    { sandbox: true },
  );
  return { config, sandbox };
}
