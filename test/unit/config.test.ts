import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  configVariables,
  type Env,
  loadConfig,
  maskSecret,
  startModeOf,
} from '../../server/config.ts';

const SECRET_A = `${'a'.repeat(32)}first-rotation-secret`;
const SECRET_B = `${'b'.repeat(32)}second-rotation-secret`;
const CLIENT_SECRET = 'client-secret-that-must-never-be-printed';
const APPLICATION_ACCESS = 'ApplicationAccess_0f1e2d3c4b5a69788796a5b4c3d2e1f0';

/** A complete, valid configuration for a real Creatio; each test changes only what it is about. */
const GOOD: Env = {
  IDENTITY_SERVICE_URL: 'https://123456-crm-bundle-is.creatio.com/',
  CREATIO_URL: 'https://123456-crm-bundle.creatio.com/',
  OAUTH_CLIENT_ID: 'bff-client',
  OAUTH_CLIENT_SECRET: CLIENT_SECRET,
  OAUTH_SCOPES: `openid profile email offline_access ${APPLICATION_ACCESS}`,
  SESSION_SECRET: SECRET_A,
};

function load(overrides: Env = {}, options: { sandbox?: boolean } = {}) {
  return loadConfig({ ...GOOD, ...overrides }, options);
}

/** The issue lines of a configuration that must be refused. */
function issuesOf(overrides: Env): readonly string[] {
  try {
    load(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(overrides)}`);
}

/** Exactly one line, in the documented shape: "VARIABLE: what is wrong, e.g. example". */
function expectOneIssue(overrides: Env, variable: string, wrong: RegExp): string {
  const issues = issuesOf(overrides);
  expect(issues).toHaveLength(1);
  const [line] = issues as [string];
  expect(line.startsWith(`${variable}: `)).toBe(true);
  expect(line).toMatch(wrong);
  expect(line).toMatch(/e\.g\. \S+/);
  return line;
}

describe('loadConfig: a good configuration', () => {
  it('parses the minimal real-Creatio configuration with the documented defaults', () => {
    const config = load({ OAUTH_SCOPES: undefined });
    expect(config.sandbox).toBe(false);
    expect(config.production).toBe(false);
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.odataPath).toBe('/0/odata');
    expect(config.proxyAllow).toEqual(['odata4']);
    expect(config.scopes).toEqual(['openid', 'profile', 'email', 'offline_access']);
    expect(config.sessionStore).toEqual({ kind: 'sqlite', path: './data/sessions.db' });
    expect(config.sessionIdleMinutes).toBe(30);
    expect(config.sessionMaxHours).toBe(8);
    expect(config.allowInsecureRequests).toBe(false);
    // The application's ApplicationAccess_<id> cannot be guessed; without it Creatio 8.3+ refuses OData.
    expect(config.warnings).toEqual([
      expect.stringMatching(/^OAUTH_SCOPES: no ApplicationAccess_<id> scope.*"OAuth resources".*e\.g\. /),
    ]);
    expect(load().warnings).toEqual([]);
  });

  it('takes a public client: no OAUTH_CLIENT_SECRET means no secret, not an error', () => {
    expect(load({ OAUTH_CLIENT_SECRET: undefined }).clientSecret).toBeUndefined();
    expect(load({ OAUTH_CLIENT_SECRET: '' }).clientSecret).toBeUndefined();
  });

  it('removes the trailing slash from CREATIO_URL and APP_URL but keeps it in identityServiceUrl', () => {
    const config = load({ APP_URL: 'https://bff.example.com/' });
    expect(config.creatioUrl).toBe('https://123456-crm-bundle.creatio.com');
    expect(config.appUrl).toBe('https://bff.example.com');
    // kept as configured: the diagnostics compare it with the issuer that discovery reports
    expect(config.identityServiceUrl).toBe('https://123456-crm-bundle-is.creatio.com/');
  });

  it('derives the redirect URI from APP_URL, and OAUTH_REDIRECT_URI overrides it', () => {
    const derived = load({ APP_URL: 'https://bff.example.com/' });
    expect(derived.redirectUri).toBe('https://bff.example.com/auth/callback');
    expect(derived.postLogoutRedirectUri).toBe('https://bff.example.com/');

    const overridden = load({
      APP_URL: 'https://bff.example.com',
      OAUTH_REDIRECT_URI: 'https://login.example.com/bff/callback',
    });
    expect(overridden.redirectUri).toBe('https://login.example.com/bff/callback');
  });

  it('defaults APP_URL to localhost on PORT', () => {
    const config = load({ PORT: '8080' });
    expect(config.port).toBe(8080);
    expect(config.appUrl).toBe('http://localhost:8080');
    expect(config.redirectUri).toBe('http://localhost:8080/auth/callback');
  });

  it('takes the strongest cookie (__Host-, Secure) when APP_URL is https', () => {
    expect(load({ APP_URL: 'https://bff.example.com' }).cookie).toEqual({ name: '__Host-bff', secure: true });
    // a __Host- cookie without Secure would be dropped by the browser, so plain http gets an ordinary name
    expect(load({ APP_URL: 'http://localhost:3000' }).cookie).toEqual({ name: 'bff.sid', secure: false });
  });

  it('reads a rotation list "new,old" in order: the first seals, the others still open', () => {
    const config = load({ SESSION_SECRET: `${SECRET_A}, ${SECRET_B}` });
    expect(config.sessionSecrets).toEqual([SECRET_A, SECRET_B]);
  });

  it.each([
    ['sqlite:./var/s.db', { kind: 'sqlite', path: './var/s.db' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['memory', { kind: 'memory' }],
    [
      'redis://cache.internal:6379/2',
      { kind: 'redis', url: 'redis://cache.internal:6379/2', prefix: 'creatio-bff:' },
    ],
    [
      'rediss://cache.internal:6380',
      { kind: 'redis', url: 'rediss://cache.internal:6380', prefix: 'creatio-bff:' },
    ],
  ])('parses SESSION_STORE=%s', (raw, expected) => {
    expect(load({ SESSION_STORE: raw }).sessionStore).toEqual(expected);
  });

  it('keys Redis under SESSION_REDIS_PREFIX, and refuses a prefix with spaces', () => {
    expect(
      load({ SESSION_STORE: 'redis://cache:6379', SESSION_REDIS_PREFIX: 'crm-eu:' }).sessionStore,
    ).toEqual({ kind: 'redis', url: 'redis://cache:6379', prefix: 'crm-eu:' });
    expect(() => load({ SESSION_STORE: 'redis://cache:6379', SESSION_REDIS_PREFIX: 'my app' })).toThrow(
      /SESSION_REDIS_PREFIX: must be 1 to 64 printable characters/,
    );
  });

  it('allows plain http to a loopback Identity Service, even in production, and says so', () => {
    const config = load({
      NODE_ENV: 'production',
      IDENTITY_SERVICE_URL: 'http://localhost:5000',
      APP_URL: 'https://bff.example.com',
      TRUST_PROXY: 'loopback',
    });
    expect(config.allowInsecureRequests).toBe(true);
    expect(config.warnings).toEqual([]);
    expect(load({ IDENTITY_SERVICE_URL: 'http://127.0.0.1:5000' }).allowInsecureRequests).toBe(true);
  });

  it('only warns about http to another host in development', () => {
    const config = load({ IDENTITY_SERVICE_URL: 'http://is.example.com' });
    expect(config.allowInsecureRequests).toBe(true);
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(/^IDENTITY_SERVICE_URL: .*is\.example\.com.*https/);
  });

  it('treats empty strings (as .env files write them) as unset', () => {
    const config = load({
      PORT: '',
      APP_URL: '',
      OAUTH_SCOPES: '  ',
      SESSION_STORE: '',
      CREATIO_ODATA_PATH: '',
      PROXY_ALLOW: '',
      LOG_LEVEL: '',
      OAUTH_ISSUER: '',
    });
    expect(config.port).toBe(3000);
    expect(config.appUrl).toBe('http://localhost:3000');
    expect(config.scopes).toContain('openid');
    expect(config.sessionStore.kind).toBe('sqlite');
    expect(config.odataPath).toBe('/0/odata');
    expect(config.proxyAllow).toEqual(['odata4']);
    expect(config.logLevel).toBe('info');
    expect(config.expectedIssuer).toBeUndefined();

    // and an empty required value is as missing as an absent one
    expect(issuesOf({ SESSION_SECRET: '' })).toEqual([expect.stringMatching(/^SESSION_SECRET: is required/)]);
  });

  it('parses PROXY_ALLOW into distinct families', () => {
    expect(load({ PROXY_ALLOW: 'odata4,dataservice,odata4' }).proxyAllow).toEqual(['odata4', 'dataservice']);
  });

  it('returns a frozen object, nested parts included', () => {
    const config = load();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.cookie)).toBe(true);
    expect(Object.isFrozen(config.scopes)).toBe(true);
    expect(Object.isFrozen(config.sessionSecrets)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});

describe('loadConfig: each bad value gives one line naming the variable, the problem and an example', () => {
  it('IDENTITY_SERVICE_URL that is not a URL', () => {
    expectOneIssue(
      { IDENTITY_SERVICE_URL: 'is.creatio.com' },
      'IDENTITY_SERVICE_URL',
      /absolute http\(s\) URL/,
    );
  });

  it('IDENTITY_SERVICE_URL over plain http to another host in production', () => {
    const line = expectOneIssue(
      {
        NODE_ENV: 'production',
        IDENTITY_SERVICE_URL: 'http://is.example.com',
        APP_URL: 'https://bff.example.com',
      },
      'IDENTITY_SERVICE_URL',
      /must use https/,
    );
    expect(line).toContain('e.g. https://is.example.com');
  });

  it('SESSION_SECRET missing outside the sandbox', () => {
    const config = { ...GOOD };
    delete config.SESSION_SECRET;
    let issues: readonly string[] = [];
    try {
      loadConfig(config);
    } catch (error) {
      issues = (error as ConfigError).issues;
    }
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^SESSION_SECRET: is required outside the sandbox.*e\.g\. SESSION_SECRET=/);
  });

  it('SESSION_SECRET too short, also as the second secret of a rotation list', () => {
    expectOneIssue({ SESSION_SECRET: 'short' }, 'SESSION_SECRET', /is 5 characters; use at least 32/);
    expectOneIssue({ SESSION_SECRET: `${SECRET_A},short` }, 'SESSION_SECRET', /secret #2 is 5 characters/);
  });

  it('SESSION_STORE with an unknown scheme', () => {
    expectOneIssue(
      { SESSION_STORE: 'mongodb://x' },
      'SESSION_STORE',
      /must be sqlite:<path>, redis:\/\/host:port, rediss:\/\/host:port \(TLS\) or memory/,
    );
    expectOneIssue({ SESSION_STORE: 'sqlite:' }, 'SESSION_STORE', /must be sqlite:<path>/);
  });

  it('SESSION_STORE with a malformed Redis URL: one line, without the URL (it may hold a password)', () => {
    const line = expectOneIssue(
      { SESSION_STORE: 'redis://user:hunter2-redis-password@[not-a-host' },
      'SESSION_STORE',
      /not a valid URL/,
    );
    expect(line).not.toContain('hunter2');
    expect(load({ SESSION_STORE: 'rediss://:pw@redis.example.com:6380/0' }).sessionStore).toMatchObject({
      kind: 'redis',
    });
  });

  it.each(['nonsense!!', '10.0.0.0/99', 'loopback, 300.1.1.1'])(
    'TRUST_PROXY=%s that express would throw on at start-up',
    (value) => {
      expectOneIssue({ TRUST_PROXY: value }, 'TRUST_PROXY', /must be true, false, a hop count or addresses/);
    },
  );

  it.each(['0', '70000', 'abc', '-1', '3000.5'])('PORT=%s', (port) => {
    expectOneIssue({ PORT: port }, 'PORT', /must be a whole number from 1 to 65535/);
  });

  it('SESSION_IDLE_MINUTES longer than SESSION_MAX_HOURS', () => {
    expectOneIssue(
      { SESSION_IDLE_MINUTES: '121', SESSION_MAX_HOURS: '2' },
      'SESSION_IDLE_MINUTES',
      /121 is longer than SESSION_MAX_HOURS \(2 h\)/,
    );
    expect(load({ SESSION_IDLE_MINUTES: '120', SESSION_MAX_HOURS: '2' }).sessionIdleMinutes).toBe(120);
  });

  it('OAUTH_SCOPES without openid is fine: sign-in works without an ID token', () => {
    const config = load({ OAUTH_SCOPES: `profile offline_access ${APPLICATION_ACCESS}` });
    expect(config.scopes).toEqual(['profile', 'offline_access', APPLICATION_ACCESS]);
    expect(config.warnings).toEqual([]);
  });

  it('OAUTH_SCOPES without offline_access is only a warning', () => {
    const config = load({ OAUTH_SCOPES: `openid profile ${APPLICATION_ACCESS}` });
    expect(config.scopes).toEqual(['openid', 'profile', APPLICATION_ACCESS]);
    expect(config.warnings).toEqual([expect.stringMatching(/^OAUTH_SCOPES: .*refresh token/)]);
  });

  it.each(['/0/odata/', '0/odata', 'odata', '/'])('CREATIO_ODATA_PATH=%s', (path) => {
    expectOneIssue(
      { CREATIO_ODATA_PATH: path },
      'CREATIO_ODATA_PATH',
      /starting with "\/" and without a trailing slash/,
    );
  });

  it('PROXY_ALLOW with an unknown family', () => {
    expectOneIssue(
      { PROXY_ALLOW: 'odata4,graphql' },
      'PROXY_ALLOW',
      /comma-separated list of odata4, odata3/,
    );
  });

  it('APP_URL over plain http to another host in production', () => {
    expectOneIssue({ NODE_ENV: 'production', APP_URL: 'http://bff.example.com' }, 'APP_URL', /must be https/);
  });
});

describe('loadConfig: several problems', () => {
  it('reports every problem at once, one line each, malformed values and failed checks alike', () => {
    const issues = issuesOf({
      IDENTITY_SERVICE_URL: 'not a url',
      PORT: 'abc',
      SESSION_STORE: 'mongodb://x',
      PROXY_ALLOW: 'soap',
      SESSION_SECRET: '',
      OAUTH_SCOPES: 'profile  email',
    });
    const variables = issues.map((line) => line.slice(0, line.indexOf(':'))).sort();
    expect(variables).toEqual([
      'IDENTITY_SERVICE_URL',
      'OAUTH_SCOPES',
      'PORT',
      'PROXY_ALLOW',
      'SESSION_SECRET',
      'SESSION_STORE',
    ]);
    for (const line of issues) expect(line).toMatch(/^[A-Z_]+: .+e\.g\. \S+/);
  });

  it('puts every line into the error message, so an uncaught ConfigError is still readable', () => {
    try {
      load({ PORT: '0', SESSION_SECRET: 'short' });
      expect.unreachable();
    } catch (error) {
      const { message, issues } = error as ConfigError;
      expect(issues).toHaveLength(2);
      for (const line of issues) expect(message).toContain(line);
    }
  });

  it('never puts a secret value into an issue or the message', () => {
    const shortSecret = 'tooShortButSecret';
    const env: Env = {
      ...GOOD,
      OAUTH_CLIENT_SECRET: CLIENT_SECRET,
      SESSION_SECRET: `${SECRET_A},${shortSecret}`,
      IDENTITY_SERVICE_URL: `https://user:${CLIENT_SECRET}@is.example.com`,
      OAUTH_SCOPES: 'profile  email',
      PORT: '0',
    };
    try {
      loadConfig(env);
      expect.unreachable();
    } catch (error) {
      const { message, issues } = error as ConfigError;
      expect(issues.length).toBeGreaterThanOrEqual(4);
      for (const text of [message, ...issues]) {
        expect(text).not.toContain(CLIENT_SECRET);
        expect(text).not.toContain(SECRET_A);
        expect(text).not.toContain(shortSecret);
      }
    }
  });
});

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

describe('startModeOf: which Creatio npm start talks to', () => {
  it('takes IDENTITY_SERVICE_URL as given, finds it from CREATIO_URL alone, else runs the sandbox', () => {
    expect(startModeOf({ IDENTITY_SERVICE_URL: 'https://is.example.com' })).toEqual({ kind: 'configured' });
    expect(startModeOf({ CREATIO_URL: 'https://123456-crm-bundle.creatio.com' })).toEqual({
      kind: 'find-identity-service',
      creatioUrl: 'https://123456-crm-bundle.creatio.com',
    });
    expect(startModeOf({})).toEqual({ kind: 'sandbox' });
    expect(startModeOf({ IDENTITY_SERVICE_URL: ' ', CREATIO_URL: '' })).toEqual({ kind: 'sandbox' });
  });

  it('never runs the sandbox in production: neither URL there is one clear line', () => {
    expect(startModeOf({ NODE_ENV: 'production', CREATIO_URL: 'https://c.example.com' }).kind).toBe(
      'find-identity-service',
    );
    try {
      startModeOf({ NODE_ENV: 'production' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const { issues } = error as ConfigError;
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(
        /^IDENTITY_SERVICE_URL, CREATIO_URL: neither is set and NODE_ENV=production.*e\.g\. CREATIO_URL=https:/,
      );
    }
  });
});

describe('maskSecret', () => {
  it('says when nothing is set', () => {
    expect(maskSecret(undefined)).toBe('(not set)');
    expect(maskSecret('')).toBe('(not set)');
  });

  it('shows no character of the secret, only its length and a SHA-256 fingerprint to compare', () => {
    // printf %s 'AB-the-middle-is-secret-YZ' | sha256sum | cut -c1-8
    const value = 'AB-the-middle-is-secret-YZ';
    expect(maskSecret(value)).toBe(`set (26 characters, SHA-256 ${sha256Hex(value).slice(0, 8)})`);
    expect(maskSecret(value)).not.toMatch(/AB|YZ/);
  });
});

describe('TRUST_PROXY', () => {
  it('warns that true trusts any X-Forwarded-For, and not for a hop count', () => {
    expect(load({ TRUST_PROXY: 'true' }).warnings).toEqual([
      expect.stringMatching(/^TRUST_PROXY: .*TRUST_PROXY=1/),
    ]);
    expect(load({ TRUST_PROXY: '1' }).warnings).toEqual([]);
    expect(load({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(load({ TRUST_PROXY: 'loopback' }).trustProxy).toBe('loopback');
    expect(load({ TRUST_PROXY: 'loopback, 10.0.0.0/8, ::1, 192.168.0.0/255.255.0.0' }).trustProxy).toBe(
      'loopback, 10.0.0.0/8, ::1, 192.168.0.0/255.255.0.0',
    );
  });
});

describe('.env.example', () => {
  it('lists every variable the app reads', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n');
    const missing = configVariables.filter((name) => !example.some((text) => text.startsWith(`${name}=`)));
    expect(missing).toEqual([]);
  });
});
