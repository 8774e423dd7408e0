/**
 * A second, independent OpenID provider for the interop suite: Debian's glewlwyd (C, sqlite), started on a free
 * loopback port in a temporary directory and configured through its admin API — an OIDC plugin with one-time
 * refresh tokens and PKCE, the scopes the BFF asks for, the sandbox's demo users, and a confidential client for the
 * BFF. Set-up notes: ../../../shared/interop-glewlwyd.md (the steering repo's shared/).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type { DemoUser } from '../../sandbox/users.ts';
import { freePort } from './ports.ts';

export const GLEWLWYD_PATH = '/usr/bin/glewlwyd';
const PACKAGED_WEBAPP = '/usr/share/glewlwyd/webapp';
const PACKAGED_SCHEMA = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const MODULES = '/usr/lib/glewlwyd';
/** The packaged database's administrator (init.sqlite3.sql); only ever on loopback, in a throw-away directory. */
const ADMIN = { username: 'admin', password: 'password' };
const PLUGIN = 'oidc';
/** glewlwyd's code for access tokens issued by the refresh_token grant (gpo_access_token.gpoa_authorization_type). */
const REFRESH_TOKEN_GRANT = 6;

export interface GlewlwydOptions {
  /** The BFF's public base URL: its redirect and post-logout URLs are registered for the client. */
  readonly appUrl: string;
  readonly users: readonly DemoUser[];
  readonly accessTokenTtlSeconds?: number;
}

export interface Glewlwyd {
  /** What IDENTITY_SERVICE_URL is set to: discovery is at `<this>/.well-known/openid-configuration`. */
  readonly identityServiceUrl: string;
  readonly jwksUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** refresh_token grants glewlwyd answered with new tokens, read from its own database. */
  refreshGrants(): number;
  /** RFC 7009 revocation at glewlwyd itself, as an administrator or the user would end the grant there. */
  revoke(refreshToken: string): Promise<void>;
  close(): Promise<void>;
}

/** Libconfig, as glewlwyd reads it. No TLS lines at all: glewlwyd demands certificate paths once they appear. */
function configFile(dir: string, port: number): string {
  const mime = [
    ['.html', 'text/html'],
    ['.css', 'text/css'],
    ['.js', 'application/javascript'],
    ['.json', 'application/json'],
    ['.png', 'image/png'],
    ['.ico', 'image/x-icon'],
    ['.woff', 'font/woff'],
    ['.woff2', 'font/woff2'],
    ['.ttf', 'font/ttf'],
  ];
  return `port=${port}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:${port}"
login_url="login.html"
static_files_path="${join(dir, 'webapp')}/"
api_prefix="api"
allow_origin="*"
log_mode="console"
log_level="ERROR"
cookie_secure=0
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="${MODULES}/user"
user_middleware_module_path="${MODULES}/user"
client_module_path="${MODULES}/client"
user_auth_scheme_module_path="${MODULES}/scheme"
plugin_module_path="${MODULES}/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "${join(dir, 'glewlwyd.db')}" };
static_files_mime_types = (
${mime.map(([extension, type]) => `  { extension = "${extension}" mime_type = "${type}" }`).join(',\n')}
)
`;
}

/** The packaged webapp's config.json is a link to a directory; the login page needs a real file. */
function copyWebapp(dir: string): void {
  const target = join(dir, 'webapp');
  cpSync(PACKAGED_WEBAPP, target, { recursive: true, dereference: true });
  const config = join(target, 'config.json');
  if (statSync(config).isDirectory()) {
    const content = readFileSync(join(config, 'config.json'));
    rmSync(config, { recursive: true });
    writeFileSync(config, content);
  }
}

function createDatabase(dir: string): string {
  const path = join(dir, 'glewlwyd.db');
  const db = new Database(path);
  db.exec(gunzipSync(readFileSync(PACKAGED_SCHEMA)).toString('utf8'));
  db.close();
  return path;
}

async function waitUntilListening(base: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`glewlwyd exited (${child.exitCode}): ${output()}`);
    try {
      await fetch(`${base}/api/scope/`, { signal: AbortSignal.timeout(500) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`glewlwyd did not start listening within 15 s: ${output()}`);
}

/** A cookie-holding client of glewlwyd's admin API that fails loudly on any error answer. */
function adminApi(base: string) {
  let cookie = '';
  return async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${base}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', cookie },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = response.headers.getSetCookie();
    if (setCookie.length > 0) cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
    if (!response.ok) {
      throw new Error(
        `glewlwyd admin API ${method} ${path} answered ${response.status}: ${await response.text()}`,
      );
    }
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  };
}

function oidcPluginParameters(issuer: string, accessTokenTtlSeconds: number) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    iss: issuer,
    'jwt-type': 'rsa',
    'jwt-key-size': '256',
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    cert: publicKey.export({ type: 'spki', format: 'pem' }),
    'access-token-duration': accessTokenTtlSeconds,
    'refresh-token-duration': 3600,
    'code-duration': 600,
    'refresh-token-rolling': false,
    // Rotation like Creatio's IdentityServer: a refresh token works once.
    'refresh-token-one-use': 'always',
    'client-refresh-token-one-use-parameter': 'refresh-token-one-use',
    'allow-non-oidc': false,
    'auth-type-code-enabled': true,
    'auth-type-code-revoke-replayed': false,
    'auth-type-token-enabled': false,
    'auth-type-id-token-enabled': true,
    'auth-type-none-enabled': false,
    'auth-type-password-enabled': false,
    'auth-type-client-enabled': false,
    'auth-type-device-enabled': false,
    'auth-type-refresh-enabled': true,
    scope: [],
    'additional-parameters': [],
    claims: [],
    'subject-type': 'public',
    'secret-type': 'pairwise',
    'name-claim': 'mandatory',
    'name-claim-scope': [],
    'email-claim': 'mandatory',
    'email-claim-scope': [],
    'scope-claim': 'no',
    'scope-claim-scope': [],
    'address-claim': {
      type: 'no',
      formatted: '',
      street_address: '',
      locality: '',
      region: '',
      postal_code: '',
      country: '',
      mandatory: false,
    },
    'allowed-scope': ['openid', 'profile', 'email', 'offline_access'],
    'pkce-allowed': true,
    'pkce-method-plain-allowed': false,
    'introspection-revocation-allowed': true,
    'introspection-revocation-auth-scope': [],
    'introspection-revocation-allow-target-client': true,
    'session-management-allowed': true,
    'session-cookie-name': 'GLEWLWYD2_OIDC_SID',
    'session-cookie-expiration': 3600,
    // RP-initiated logout; glewlwyd then redirects to post_logout_redirect_uri only when `state` is sent too.
    'front-channel-logout-allowed': true,
    'back-channel-logout-allowed': false,
    'jwks-show': true,
    'request-parameter-allow': false,
  };
}

export async function startGlewlwyd(options: GlewlwydOptions): Promise<Glewlwyd> {
  if (!existsSync(GLEWLWYD_PATH)) {
    throw new Error(
      `glewlwyd is not installed at ${GLEWLWYD_PATH}. Run scripts/install-system-deps.sh (it installs Debian's ` +
        'glewlwyd package), then run the tests again.',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'glewlwyd-'));
  copyWebapp(dir);
  const databasePath = createDatabase(dir);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'glewlwyd.conf');
  writeFileSync(configPath, configFile(dir, port));

  let output = '';
  const child = spawn(GLEWLWYD_PATH, [`--config-file=${configPath}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntilListening(base, child, () => output);
    const identityServiceUrl = `${base}/api/${PLUGIN}`;
    const clientId = 'creatio-oauth-bff-interop';
    const clientSecret = randomBytes(24).toString('base64url');
    const appUrl = options.appUrl.replace(/\/+$/, '');
    const call = adminApi(base);

    await call('POST', '/auth/', ADMIN);
    for (const name of ['profile', 'email', 'offline_access']) {
      await call('POST', '/scope/', {
        name,
        display_name: name,
        description: name,
        password_required: true,
        password_max_age: 0,
        scheme: {},
      });
    }
    await call('PUT', '/scope/openid', {
      name: 'openid',
      display_name: 'Open ID',
      description: 'Open ID Connect scope',
      password_required: true,
      password_max_age: 0,
      scheme: {},
    });
    for (const user of options.users) {
      await call('POST', '/user/?source=database', {
        username: user.username,
        password: user.password,
        name: user.name,
        email: user.email,
        scope: ['openid', 'profile', 'email', 'offline_access'],
        enabled: true,
      });
    }
    // The packaged client backend stores one post_logout_redirect_uri; the OIDC plugin reads the list
    // post_logout_redirect_uris, which the backend must be told to keep.
    const clientModule = (await call('GET', '/mod/client/database')) as {
      parameters: Record<string, unknown>;
    };
    const dataFormat = clientModule.parameters['data-format'] as Record<string, unknown>;
    dataFormat.post_logout_redirect_uris = { multiple: true, read: true, write: true };
    await call('PUT', '/mod/client/database', clientModule);
    await call('PUT', '/mod/client/database/reset');
    await call('POST', '/client/?source=database', {
      client_id: clientId,
      name: 'creatio-oauth-bff (interop)',
      confidential: true,
      password: clientSecret,
      redirect_uri: [`${appUrl}/auth/callback`],
      authorization_type: ['code', 'refresh_token', 'delete_token'],
      token_endpoint_auth_method: ['client_secret_post', 'client_secret_basic'],
      post_logout_redirect_uris: [`${appUrl}/`],
      scope: [],
      enabled: true,
    });
    await call('POST', '/mod/plugin/', {
      module: 'oidc',
      name: PLUGIN,
      display_name: 'OpenID Connect',
      order_rank: 0,
      parameters: oidcPluginParameters(identityServiceUrl, options.accessTokenTtlSeconds ?? 3600),
    });

    const database = new Database(databasePath, { readonly: true, fileMustExist: true });
    return {
      identityServiceUrl,
      jwksUrl: `${identityServiceUrl}/jwks`,
      clientId,
      clientSecret,
      refreshGrants() {
        const row = database
          .prepare('SELECT COUNT(*) AS n FROM gpo_access_token WHERE gpoa_authorization_type = ?')
          .get(REFRESH_TOKEN_GRANT) as { n: number };
        return row.n;
      },
      async revoke(refreshToken) {
        const response = await fetch(`${identityServiceUrl}/revoke`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
        });
        if (!response.ok) throw new Error(`glewlwyd revocation answered ${response.status}`);
      },
      async close() {
        database.close();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
