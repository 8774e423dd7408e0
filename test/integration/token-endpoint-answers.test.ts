/**
 * A refresh is classified by what the token endpoint answered, not by one provider's error shape. The Identity
 * Service here is a small real HTTP server that answers the refresh_token grant the ways providers do (oidc-provider
 * and IdentityServer: 400 JSON invalid_grant; glewlwyd: 400 with an empty body, 403 unauthorized_client; a proxy in
 * front of any of them: 502/503 HTML, 429). test/interop/ shows the glewlwyd cases against glewlwyd itself.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOidcClient } from '../../server/auth/client.ts';
import { loadConfig } from '../../server/config.ts';
import { BffError, ErrorCode } from '../../server/errors.ts';
import { createLogger } from '../../server/logger.ts';
import { openSessionStorage, type SessionStorage } from '../../server/session/storage.ts';
import { createTokenRefresher, type TokenRefresher } from '../../server/tokens/refresh.ts';

interface ScriptedAnswer {
  /** Runs before the answer is sent: what happens elsewhere while this refresh is in flight. */
  meanwhile?: () => Promise<void>;
  status: number;
  contentType?: string;
  body: string;
  headers?: Record<string, string>;
}

let answer: ScriptedAnswer;
let refreshGrants = 0;
let server: Server;
let storage: SessionStorage;
let refresher: TokenRefresher;

beforeAll(async () => {
  server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          issuer: base,
          authorization_endpoint: `${base}/authorize`,
          token_endpoint: `${base}/token`,
          jwks_uri: `${base}/jwks`,
          response_types_supported: ['code'],
        }),
      );
      return;
    }
    if (req.url === '/token') {
      refreshGrants++;
      req.resume();
      req.on('end', async () => {
        await answer.meanwhile?.();
        res.writeHead(answer.status, {
          ...(answer.contentType ? { 'content-type': answer.contentType } : {}),
          ...answer.headers,
        });
        res.end(answer.body);
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const identityServiceUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({
    IDENTITY_SERVICE_URL: identityServiceUrl,
    CREATIO_URL: 'http://127.0.0.1:9',
    OAUTH_CLIENT_ID: 'bff',
    OAUTH_CLIENT_SECRET: 'secret',
    APP_URL: 'http://127.0.0.1:3000',
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_STORE: 'memory',
    HTTP_TIMEOUT_MS: '2000',
  });
  storage = await openSessionStorage(config);
  refresher = createTokenRefresher({
    storage,
    oidc: createOidcClient(config),
    logger: createLogger('silent'),
  });
});

afterAll(async () => {
  await storage?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

/** A session whose access token has expired and whose refresh token the scripted answer decides on. */
async function expiredSession(): Promise<string> {
  const sessionId = randomBytes(16).toString('base64url');
  const now = Date.now();
  await storage.tokens.set(
    sessionId,
    {
      accessToken: 'expired-access-token',
      refreshToken: 'refresh-token',
      idToken: undefined,
      expiresAt: now - 1000,
      receivedAt: now - 3_600_000,
      scope: undefined,
    },
    60_000,
  );
  return sessionId;
}

async function refreshOutcome(scripted: ScriptedAnswer): Promise<{ code: string; kept: boolean }> {
  answer = scripted;
  const sessionId = await expiredSession();
  const grantsBefore = refreshGrants;
  const error = await refresher.getFreshAccessToken(sessionId).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(refreshGrants).toBe(grantsBefore + 1);
  expect(error).toBeInstanceOf(BffError);
  return { code: (error as BffError).code, kept: (await storage.tokens.get(sessionId)) !== undefined };
}

const json = 'application/json';

describe('a refused refresh token ends the session (login_required), whatever the body looks like', () => {
  it.each<[string, ScriptedAnswer]>([
    [
      '400 invalid_grant (oidc-provider, IdentityServer)',
      { status: 400, contentType: json, body: '{"error":"invalid_grant"}' },
    ],
    ['400 with an empty body (glewlwyd: revoked, expired or replayed)', { status: 400, body: '' }],
    ['400 with an HTML body', { status: 400, contentType: 'text/html', body: '<h1>Bad Request</h1>' }],
    [
      '401 invalid_client with WWW-Authenticate',
      {
        status: 401,
        contentType: json,
        body: '{"error":"invalid_client"}',
        headers: { 'www-authenticate': 'Basic realm="token", error="invalid_client"' },
      },
    ],
    [
      '403 unauthorized_client (glewlwyd: wrong secret)',
      { status: 403, contentType: json, body: '{"error":"unauthorized_client"}' },
    ],
  ])('%s', async (_name, scripted) => {
    expect(await refreshOutcome(scripted)).toEqual({ code: ErrorCode.LoginRequired, kept: false });
  });
});

describe('an Identity Service that did not really answer keeps the session (identity_service_unavailable)', () => {
  it.each<[string, ScriptedAnswer]>([
    ['500 server_error', { status: 500, contentType: json, body: '{"error":"server_error"}' }],
    ['502 from a proxy, HTML', { status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>' }],
    ['503 with an empty body', { status: 503, body: '' }],
    ['429 rate limited', { status: 429, contentType: json, body: '{"error":"slow_down"}' }],
  ])('%s', async (_name, scripted) => {
    expect(await refreshOutcome(scripted)).toEqual({
      code: ErrorCode.IdentityServiceUnavailable,
      kept: true,
    });
  });
});

describe('a refusal after another refresh already stored a new set (the lock could not keep it out)', () => {
  it('uses the new set instead of signing the user out', async () => {
    const sessionId = await expiredSession();
    const now = Date.now();
    const theirs = {
      accessToken: 'access-token-from-the-other-instance',
      refreshToken: 'rotated-refresh-token',
      idToken: undefined,
      expiresAt: now + 3_600_000,
      receivedAt: now,
      scope: undefined,
    };
    answer = {
      // Another instance (its lease lost in a Redis failover) refreshed first and stored its set; ours is refused.
      meanwhile: () => storage.tokens.set(sessionId, theirs, 60_000),
      status: 400,
      contentType: json,
      body: '{"error":"invalid_grant"}',
    };
    expect(await refresher.getFreshAccessToken(sessionId)).toBe(theirs.accessToken);
    expect(await storage.tokens.get(sessionId)).toEqual(theirs);
  });
});
