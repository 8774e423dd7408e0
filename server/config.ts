/**
 * The one place that reads configuration. Every variable of ../shared/contract.md is parsed here with zod,
 * every problem is reported at once (one line each: variable, what is wrong, an example), and the result is a
 * frozen object that the rest of the app receives as an argument. No other module reads process.env.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';

/** API families the proxy can reach; each is an allowlisted base path below CREATIO_URL. */
export const ApiFamilies = ['odata4', 'odata3', 'dataservice', 'rest'] as const;
export type ApiFamily = (typeof ApiFamilies)[number];

export type SessionStoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string /** SESSION_REDIS_PREFIX: every key starts with it. */; prefix: string }
  | { kind: 'memory' };

export interface Config {
  /** true when IDENTITY_SERVICE_URL was unset and the built-in sandbox supplies the Identity Service and Creatio. */
  readonly sandbox: boolean;
  readonly production: boolean;
  /** As configured (trailing slash kept: the diagnostics compare it with the discovered issuer). */
  readonly identityServiceUrl: string;
  /** OAUTH_ISSUER when the provider's issuer is not its URL (Creatio samples show "creatio.com"). */
  readonly expectedIssuer: string | undefined;
  /** http: Identity Service allowed (loopback, or the sandbox); decided here, shown on /diagnostics. */
  readonly allowInsecureRequests: boolean;
  /** Without a trailing slash. */
  readonly creatioUrl: string;
  /** Starts with "/", no trailing slash, e.g. "/0/odata". */
  readonly odataPath: string;
  readonly proxyAllow: readonly ApiFamily[];
  readonly clientId: string;
  /** Undefined for a public client: token requests then carry only client_id (PKCE protects the code). */
  readonly clientSecret: string | undefined;
  readonly scopes: readonly string[];
  /** Without a trailing slash. */
  readonly appUrl: string;
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;
  readonly port: number;
  readonly host: string;
  /** First signs and encrypts; the others are still accepted (rotation). */
  readonly sessionSecrets: readonly string[];
  readonly sessionStore: SessionStoreConfig;
  readonly sessionIdleMinutes: number;
  readonly sessionMaxHours: number;
  readonly cookie: { readonly name: string; readonly secure: boolean };
  readonly trustProxy: boolean | number | string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Timeout for calls to the Identity Service (discovery, token, revocation). */
  readonly httpTimeoutMs: number;
  /**
   * /diagnostics shows the configuration's shape (URLs, client id; secrets masked) to anyone: on by default in
   * development and the sandbox, off in production unless asked for.
   */
  readonly diagnosticsEnabled: boolean;
  /** How long the proxy waits for Creatio's response headers, and between pieces of its body (both ways). */
  readonly proxyTimeoutMs: number;
  /** Largest request body the proxy passes on; a larger one is refused with 413 (before sending, when declared). */
  readonly proxyMaxBodyBytes: number;
  /** Upstream requests one session may have in flight at once (per instance); beyond it, 429. */
  readonly proxyMaxConcurrentPerSession: number;
  /** How long a request may wait for a free connection to Creatio before 503 upstream_busy. */
  readonly proxyPoolWaitMs: number;
  /** Sign-ins a client address may start per minute (each stores a login transaction). */
  readonly loginRateLimit: number;
  /** Login transactions (sign-ins started, not finished) one instance keeps at most; beyond it /auth/login is 503. */
  readonly loginMaxPending: number;
  /** Serve GET /metrics (Prometheus). Off by default: it describes traffic, so it is opted into. */
  readonly metricsEnabled: boolean;
  /** Also serve GET /metrics, and nothing else, on this port of HOST: scraped there, it need not be public. */
  readonly metricsPort: number | undefined;
  /** On SIGTERM, how long in-flight requests (streams included) may take to finish before they are cut. */
  readonly shutdownTimeoutMs: number;
  /** Problems that do not stop the start (printed once by index.ts). */
  readonly warnings: readonly string[];
}

export type Env = Record<string, string | undefined>;

/** Thrown by loadConfig with every problem found; index.ts prints `issues` one per line and exits 1. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n${issues.join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_SCOPES = 'openid profile email offline_access';
/**
 * Creatio's own upload limit, the "Max. file size" system setting (MaxFileSize, 10 MB by default), plus 2 MiB for
 * the framing a file carries inside a `$batch` or multipart body. A body Creatio would refuse anyway is refused
 * here, before it holds a connection.
 */
const DEFAULT_MAX_BODY_BYTES = 12 * 1024 * 1024;
/** Creatio 8.3+: the integrated application's OAuth resource, which user tokens need for Creatio's APIs. */
export const APPLICATION_ACCESS_SCOPE = /^ApplicationAccess_\S+$/;
const MIN_SECRET_LENGTH = 32;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return (
    LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname)
  );
}

/** Empty strings in .env files mean "not set". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

function httpUrl(example: string) {
  return z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { message: `must be an absolute http(s) URL without credentials, e.g. ${example}` },
  );
}

function integer(min: number, max: number, example: string) {
  return z
    .string()
    .regex(/^\d+$/, { message: `must be a whole number from ${min} to ${max}, e.g. ${example}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, {
      message: `must be a whole number from ${min} to ${max}, e.g. ${example}`,
    });
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  NODE_ENV: optional(z.string()),
  IDENTITY_SERVICE_URL: optional(httpUrl('https://123456-crm-bundle-is.creatio.com')),
  CREATIO_URL: optional(httpUrl('https://123456-crm-bundle.creatio.com')),
  CREATIO_ODATA_PATH: optional(
    z.string().regex(/^\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-]$/, {
      message:
        'must be a path starting with "/" and without a trailing slash, e.g. /0/odata (or /odata on .NET 8)',
    }),
  ),
  OAUTH_ISSUER: optional(z.string().min(1)),
  OAUTH_CLIENT_ID: optional(z.string().min(1)),
  OAUTH_CLIENT_SECRET: optional(z.string().min(1)),
  OAUTH_SCOPES: optional(
    z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, {
      message: 'must be scope names separated by single spaces, e.g. "openid profile offline_access"',
    }),
  ),
  APP_URL: optional(httpUrl('https://bff.example.com')),
  OAUTH_REDIRECT_URI: optional(httpUrl('https://bff.example.com/auth/callback')),
  PORT: optional(integer(1, 65535, '3000')),
  HOST: optional(z.string().min(1)),
  SESSION_SECRET: optional(z.string()),
  SESSION_STORE: optional(
    z
      .string()
      .regex(/^(sqlite:.+|rediss?:\/\/.+|memory)$/, {
        message:
          'must be sqlite:<path>, redis://host:port, rediss://host:port (TLS) or memory, e.g. sqlite:./data/sessions.db',
      })
      // The Redis client would throw (printing the URL, password included) at start-up; the value is not echoed.
      .refine((value) => !/^rediss?:/.test(value) || URL.canParse(value), {
        message:
          'is not a valid URL (value not shown: it may hold a password), e.g. redis://redis.internal:6379',
      }),
  ),
  SESSION_REDIS_PREFIX: optional(
    z.string().regex(/^[\x21-\x7E]{1,64}$/, {
      message: 'must be 1 to 64 printable characters without spaces, e.g. creatio-bff:',
    }),
  ),
  SESSION_IDLE_MINUTES: optional(integer(1, 24 * 60, '30')),
  SESSION_MAX_HOURS: optional(integer(1, 24 * 30, '8')),
  TRUST_PROXY: optional(
    z.string().refine(isTrustProxyValue, {
      message:
        'must be true, false, a hop count or addresses/subnets separated by commas, e.g. TRUST_PROXY=loopback or TRUST_PROXY=10.0.0.0/8',
    }),
  ),
  LOG_LEVEL: optional(z.enum(logLevels, { message: `must be one of ${logLevels.join(', ')}, e.g. info` })),
  PROXY_ALLOW: optional(
    z.string().regex(new RegExp(`^(${ApiFamilies.join('|')})(,(${ApiFamilies.join('|')}))*$`), {
      message: `must be a comma-separated list of ${ApiFamilies.join(', ')}, e.g. odata4,dataservice`,
    }),
  ),
  HTTP_TIMEOUT_MS: optional(integer(500, 120_000, '10000')),
  LOGIN_RATE_LIMIT: optional(integer(1, 1_000_000, '120')),
  LOGIN_MAX_PENDING: optional(integer(1, 10_000_000, '10000')),
  PROXY_TIMEOUT_MS: optional(integer(500, 600_000, '30000')),
  PROXY_MAX_BODY_BYTES: optional(integer(1, 2 ** 40, '12582912')),
  PROXY_MAX_CONCURRENT_PER_SESSION: optional(integer(1, 10_000, '8')),
  PROXY_POOL_WAIT_MS: optional(integer(0, 600_000, '5000')),
  DIAGNOSTICS_ENABLED: optional(
    z.enum(['true', 'false'], { message: 'must be true or false, e.g. DIAGNOSTICS_ENABLED=false' }),
  ),
  METRICS_ENABLED: optional(
    z.enum(['true', 'false'], { message: 'must be true or false, e.g. METRICS_ENABLED=true' }),
  ),
  METRICS_PORT: optional(integer(1, 65535, '9464')),
  SHUTDOWN_TIMEOUT_MS: optional(integer(0, 600_000, '5000')),
});

/** Every variable the app reads (NODE_ENV aside): `.env.example` documents each one (test/unit/config.test.ts). */
export const configVariables: readonly string[] = Object.keys(envSchema.shape).filter(
  (name) => name !== 'NODE_ENV',
);

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** What express's trust-proxy (proxy-addr) accepts; anything else would throw from inside express at start-up. */
function isTrustProxyValue(raw: string): boolean {
  if (/^(true|false|on|off|\d+)$/.test(raw)) return true;
  return raw.split(',').every((part) => {
    const entry = part.trim();
    if (TRUST_PROXY_NAMES.has(entry)) return true;
    const [address = '', range, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (range === undefined) return true;
    if (/^\d+$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
    return family === 4 && isIP(range) === 4; // a netmask, e.g. 10.0.0.0/255.0.0.0
  });
}

function parseTrustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw === 'false' || raw === 'off' || raw === '0') return false;
  if (raw === 'true' || raw === 'on') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw; // express understands "loopback", "10.0.0.0/8, 127.0.0.1" and so on
}

/** Several apps can share one Redis: each keeps its keys under its own prefix. */
const DEFAULT_REDIS_PREFIX = 'creatio-bff:';

function parseSessionStore(raw: string, redisPrefix: string | undefined): SessionStoreConfig {
  if (raw === 'memory') return { kind: 'memory' };
  if (raw.startsWith('sqlite:')) return { kind: 'sqlite', path: raw.slice('sqlite:'.length) };
  return { kind: 'redis', url: raw, prefix: redisPrefix ?? DEFAULT_REDIS_PREFIX };
}

/**
 * Parses the environment into a Config. Throws ConfigError listing every problem.
 * In sandbox mode the caller passes the sandbox's URLs and client in `env` (see sandbox/index.ts).
 */
export function loadConfig(env: Env, options: { sandbox?: boolean } = {}): Config {
  const parsed = envSchema.safeParse(env);
  const issues: string[] = [];
  // A malformed variable is reported once and then treated as unset, so the checks below still run and every
  // problem is listed in one go (a bad PORT must not hide a missing SESSION_SECRET).
  const invalid = new Set<string>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      if (invalid.has(name)) continue;
      invalid.add(name);
      issues.push(`${name}: ${issue.message}`);
    }
  }
  const e = parsed.success
    ? parsed.data
    : envSchema.parse(Object.fromEntries(Object.entries(env).filter(([name]) => !invalid.has(name))));
  const warnings: string[] = [];
  const sandbox = options.sandbox ?? false;
  const production = e.NODE_ENV === 'production';

  const required = (name: keyof typeof e, example: string): string => {
    const value = e[name];
    if (typeof value === 'string') return value;
    if (!invalid.has(name))
      issues.push(
        `${name}: is required outside the sandbox (when IDENTITY_SERVICE_URL or CREATIO_URL is set), e.g. ${name}=${example}`,
      );
    return '';
  };

  const identityServiceUrl = required('IDENTITY_SERVICE_URL', 'https://123456-crm-bundle-is.creatio.com');
  const creatioUrl = withoutTrailingSlash(required('CREATIO_URL', 'https://123456-crm-bundle.creatio.com'));
  const clientId = required('OAUTH_CLIENT_ID', '<Client Id from the integrated application>');
  // No secret = a public client (Creatio lets an integrated application be one): PKCE alone protects the code.
  const clientSecret = e.OAUTH_CLIENT_SECRET;

  let allowInsecureRequests = sandbox;
  if (identityServiceUrl) {
    const { protocol, hostname } = new URL(identityServiceUrl);
    if (protocol === 'http:') {
      if (isLoopbackHost(hostname)) {
        allowInsecureRequests = true;
      } else if (production) {
        issues.push(
          `IDENTITY_SERVICE_URL: must use https outside localhost when NODE_ENV=production (got ${protocol}//${hostname}), e.g. https://${hostname}`,
        );
      } else {
        allowInsecureRequests = true;
        warnings.push(
          `IDENTITY_SERVICE_URL: plain http to ${hostname} sends the client secret and tokens unencrypted; use https outside development`,
        );
      }
    }
  }

  const port = e.PORT ?? 3000;
  const appUrl = withoutTrailingSlash(e.APP_URL ?? `http://localhost:${port}`);
  const appIsHttps = new URL(appUrl).protocol === 'https:';
  if (production && !appIsHttps && !isLoopbackHost(new URL(appUrl).hostname)) {
    issues.push(
      'APP_URL: must be https when NODE_ENV=production (session cookies need Secure), e.g. https://bff.example.com',
    );
  }

  const sessionSecrets = (e.SESSION_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (sessionSecrets.length === 0) {
    issues.push(
      `SESSION_SECRET: is required outside the sandbox; set at least ${MIN_SECRET_LENGTH} random characters, e.g. SESSION_SECRET=$(openssl rand -base64 48)`,
    );
  }
  sessionSecrets.forEach((secret, i) => {
    if (secret.length < MIN_SECRET_LENGTH) {
      issues.push(
        `SESSION_SECRET: secret #${i + 1} is ${secret.length} characters; use at least ${MIN_SECRET_LENGTH}, e.g. SESSION_SECRET=$(openssl rand -base64 48)`,
      );
    }
  });

  const idle = e.SESSION_IDLE_MINUTES ?? 30;
  const maxHours = e.SESSION_MAX_HOURS ?? 8;
  if (idle > maxHours * 60 && !invalid.has('SESSION_MAX_HOURS')) {
    issues.push(
      `SESSION_IDLE_MINUTES: ${idle} is longer than SESSION_MAX_HOURS (${maxHours} h); the absolute lifetime always wins, e.g. SESSION_IDLE_MINUTES=30`,
    );
  }

  // openid is optional: whether Creatio grants it to user applications is not documented, and sign-in works
  // without an ID token (auth/identity.ts).
  const scopes = (e.OAUTH_SCOPES ?? DEFAULT_SCOPES).split(' ');
  if (!sandbox && !scopes.some((scope) => APPLICATION_ACCESS_SCOPE.test(scope))) {
    warnings.push(
      `OAUTH_SCOPES: no ApplicationAccess_<id> scope; Creatio 8.3+ refuses its APIs to tokens without the integrated application's one (System Designer → Lookups → "OAuth resources"), e.g. OAUTH_SCOPES=${scopes.join(' ')} ApplicationAccess_<id>`,
    );
  }
  if (!scopes.includes('offline_access')) {
    warnings.push(
      'OAUTH_SCOPES: without "offline_access" there is no refresh token; users sign in again when the access token expires',
    );
  }

  if (e.TRUST_PROXY === 'true' || e.TRUST_PROXY === 'on') {
    warnings.push(
      'TRUST_PROXY: true believes any client-supplied X-Forwarded-For, so per-address limits can be bypassed; name the hop count or the proxy addresses instead, e.g. TRUST_PROXY=1 or TRUST_PROXY=loopback',
    );
  }

  if (appIsHttps && parseTrustProxy(e.TRUST_PROXY) === false) {
    // The app itself speaks http; an https APP_URL means a TLS proxy in front. Without TRUST_PROXY every request
    // looks like http, the Secure session cookie is never set, and every sign-in ends signed out.
    warnings.push(
      `TRUST_PROXY: APP_URL is https (${appUrl}) but TRUST_PROXY is off, so requests arriving through the TLS proxy look like http and the Secure session cookie cannot be set (sign-ins will fail). Set TRUST_PROXY to the proxy's address, e.g. TRUST_PROXY=10.0.0.5 or TRUST_PROXY=loopback, and have the proxy send X-Forwarded-Proto: https`,
    );
  }

  if (e.METRICS_PORT !== undefined && e.METRICS_PORT === port) {
    issues.push(
      `METRICS_PORT: ${e.METRICS_PORT} is PORT too; choose a port of its own (or leave it unset and use METRICS_ENABLED=true), e.g. METRICS_PORT=9464`,
    );
  }

  if (issues.length > 0) throw new ConfigError(issues);

  const redirectUri = e.OAUTH_REDIRECT_URI ?? `${appUrl}/auth/callback`;
  return Object.freeze({
    sandbox,
    production,
    identityServiceUrl,
    expectedIssuer: e.OAUTH_ISSUER,
    allowInsecureRequests,
    creatioUrl,
    odataPath: e.CREATIO_ODATA_PATH ?? '/0/odata',
    proxyAllow: Object.freeze(
      e.PROXY_ALLOW ? [...new Set(e.PROXY_ALLOW.split(',') as ApiFamily[])] : (['odata4'] as ApiFamily[]),
    ),
    clientId,
    clientSecret,
    scopes: Object.freeze(scopes),
    appUrl,
    redirectUri,
    postLogoutRedirectUri: `${appUrl}/`,
    port,
    host: e.HOST ?? '127.0.0.1',
    sessionSecrets: Object.freeze(sessionSecrets),
    sessionStore: parseSessionStore(e.SESSION_STORE ?? 'sqlite:./data/sessions.db', e.SESSION_REDIS_PREFIX),
    sessionIdleMinutes: idle,
    sessionMaxHours: maxHours,
    // __Host- needs Secure, path=/ and no Domain: the strongest cookie a browser offers, so take it whenever https.
    cookie: Object.freeze({ name: appIsHttps ? '__Host-bff' : 'bff.sid', secure: appIsHttps }),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    logLevel: e.LOG_LEVEL ?? 'info',
    httpTimeoutMs: e.HTTP_TIMEOUT_MS ?? 10_000,
    loginRateLimit: e.LOGIN_RATE_LIMIT ?? 120,
    loginMaxPending: e.LOGIN_MAX_PENDING ?? 10_000,
    proxyTimeoutMs: e.PROXY_TIMEOUT_MS ?? 30_000,
    proxyMaxBodyBytes: e.PROXY_MAX_BODY_BYTES ?? DEFAULT_MAX_BODY_BYTES,
    proxyMaxConcurrentPerSession: e.PROXY_MAX_CONCURRENT_PER_SESSION ?? 8,
    proxyPoolWaitMs: e.PROXY_POOL_WAIT_MS ?? 5_000,
    diagnosticsEnabled: e.DIAGNOSTICS_ENABLED === undefined ? !production : e.DIAGNOSTICS_ENABLED === 'true',
    metricsEnabled: e.METRICS_ENABLED === 'true',
    metricsPort: e.METRICS_PORT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS ?? 5_000,
    warnings: Object.freeze(warnings),
  });
}

/** How `npm start` runs, decided from the environment before anything starts. */
export type StartMode =
  | { readonly kind: 'configured' }
  /** CREATIO_URL alone: the Identity Service is found from it (find-identity-service.ts). */
  | { readonly kind: 'find-identity-service'; readonly creatioUrl: string }
  | { readonly kind: 'sandbox' };

/**
 * The sandbox only when nothing points at a real Creatio, and never in production: a deployment that lost its
 * variables must stop with a clear line, not sign people in to demo users. Throws ConfigError.
 */
export function startModeOf(env: Env): StartMode {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  if (set('IDENTITY_SERVICE_URL')) return { kind: 'configured' };
  if (set('CREATIO_URL'))
    return { kind: 'find-identity-service', creatioUrl: (env.CREATIO_URL as string).trim() };
  if (env.NODE_ENV === 'production') {
    throw new ConfigError([
      'IDENTITY_SERVICE_URL, CREATIO_URL: neither is set and NODE_ENV=production, so there is no Creatio to sign in to (the demo sandbox never runs in production); set CREATIO_URL, e.g. CREATIO_URL=https://123456-crm-bundle.creatio.com',
    ]);
  }
  return { kind: 'sandbox' };
}

/**
 * How /diagnostics and the doctor show a secret: whether it is set, its length and the first 8 hex digits of its
 * SHA-256 — never any of its characters. A QA engineer compares the fingerprint with the expected secret's:
 * `printf %s "$OAUTH_CLIENT_SECRET" | sha256sum | cut -c1-8`.
 */
export function maskSecret(value: string | undefined): string {
  if (!value) return '(not set)';
  const fingerprint = createHash('sha256').update(value).digest('hex').slice(0, 8);
  return `set (${value.length} characters, SHA-256 ${fingerprint})`;
}
