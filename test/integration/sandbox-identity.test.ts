/**
 * The sandbox Identity Service behaves like Creatio's (IdentityServer): its paths, PKCE, exact redirect URIs,
 * JWT access tokens for Creatio, rotating refresh tokens, clients read live from the registry.
 * Reads like openid-client's examples/oidc.ts: discovery → PKCE → authorization URL → sign-in → code grant.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BFF_APPLICATION_ACCESS_SCOPE, type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { technicalUser } from '../../sandbox/users.ts';
import { completeSandboxLogin, type SandboxCookieJar } from '../support/sandbox-login.ts';

const APP_URL = 'http://localhost:3999';
const REDIRECT_URI = `${APP_URL}/auth/callback`;
const SCOPE = `openid profile email offline_access ${BFF_APPLICATION_ACCESS_SCOPE}`;

let sandbox: Sandbox;
let bff: client.Configuration;

beforeAll(async () => {
  sandbox = await startSandbox({
    identityPort: 0,
    creatioPort: 0,
    accessTokenTtlSeconds: 5,
    appUrl: APP_URL,
  });
  bff = await discover(sandbox.bffClient, client.ClientSecretPost(sandbox.bffClient.clientSecret));
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(() => {
  sandbox.stats.reset();
});

function discover(credentials: { clientId: string }, auth: client.ClientAuth): Promise<client.Configuration> {
  return client.discovery(new URL(sandbox.identityServiceUrl), credentials.clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
}

interface AuthorizationRequest {
  readonly url: URL;
  readonly codeVerifier: string;
  readonly state: string;
}

async function authorizationRequest(
  extra: Record<string, string> = {},
  config: client.Configuration = bff,
): Promise<AuthorizationRequest> {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url, codeVerifier, state };
}

async function signIn(cookies: SandboxCookieJar = new Map()) {
  const request = await authorizationRequest();
  const alice = sandbox.users[0]!;
  const callback = await completeSandboxLogin(request.url.href, alice, cookies);
  const tokens = await client.authorizationCodeGrant(bff, callback, {
    pkceCodeVerifier: request.codeVerifier,
    expectedState: request.state,
  });
  return { tokens, callback, user: alice };
}

/** The authorization endpoint's first answer, not followed. */
function fetchManually(url: URL | string): Promise<Response> {
  return fetch(url, { redirect: 'manual' });
}

function verifyAccessToken(accessToken: string) {
  const jwks = createRemoteJWKSet(
    new URL(`${sandbox.identityServiceUrl}/.well-known/openid-configuration/jwks`),
  );
  return jwtVerify(accessToken, jwks, {
    issuer: sandbox.identityServiceUrl,
    audience: sandbox.creatioUrl,
    typ: 'at+jwt',
  });
}

async function expectOAuthError(promise: Promise<unknown>, error: string): Promise<void> {
  await expect(promise).rejects.toSatisfy(
    (e: unknown) => e instanceof client.ResponseBodyError && e.error === error,
    `an OAuth error answer "${error}"`,
  );
}

describe('sandbox Identity Service', () => {
  it('publishes discovery with IdentityServer paths, code only and S256 only', async () => {
    const response = await fetch(`${sandbox.identityServiceUrl}/.well-known/openid-configuration`);
    const metadata = await response.json();
    const base = sandbox.identityServiceUrl;

    expect(sandbox.identityServiceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metadata).toMatchObject({
      issuer: base,
      authorization_endpoint: `${base}/connect/authorize`,
      token_endpoint: `${base}/connect/token`,
      userinfo_endpoint: `${base}/connect/userinfo`,
      revocation_endpoint: `${base}/connect/revocation`,
      end_session_endpoint: `${base}/connect/endsession`,
      introspection_endpoint: `${base}/connect/introspect`,
      jwks_uri: `${base}/.well-known/openid-configuration/jwks`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      authorization_response_iss_parameter_supported: true,
      backchannel_logout_supported: true,
    });
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_post', 'client_secret_basic']),
    );
    const jwks = await (await fetch(metadata.jwks_uri)).json();
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig' })]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('signs a user in with code + PKCE: JWT access token for Creatio, refresh token, ID token claims', async () => {
    const { tokens, callback, user } = await signIn();

    expect(callback.searchParams.get('iss')).toBe(sandbox.identityServiceUrl);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.expires_in).toBe(5);

    const { payload } = await verifyAccessToken(tokens.access_token);
    expect(payload).toMatchObject({ sub: user.sub, client_id: sandbox.bffClient.clientId });
    expect(String(payload.scope).split(' ')).toContain('openid');
    expect(payload.exp! - payload.iat!).toBe(5);

    expect(tokens.claims()).toMatchObject({ sub: user.sub, name: user.name, email: user.email });
    expect(tokens.claims()?.sid).toEqual(expect.any(String));

    const userinfo = await client.fetchUserInfo(bff, tokens.access_token, user.sub);
    expect(userinfo).toMatchObject({ sub: user.sub, name: user.name, email: user.email });
    expect(sandbox.stats.tokenRequests.authorization_code).toBe(1);
  });

  it('rotates refresh tokens: the old one fails with invalid_grant after one use', async () => {
    const { tokens } = await signIn();
    const first = tokens.refresh_token!;

    const refreshed = await client.refreshTokenGrant(bff, first);
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(first);
    await verifyAccessToken(refreshed.access_token);

    await expectOAuthError(client.refreshTokenGrant(bff, first), 'invalid_grant');
    expect(sandbox.stats.tokenRequests.refresh_token).toBe(2);
    expect(sandbox.stats.tokenErrors).toEqual({ invalid_grant: 1 });
  });

  it('accepts client_secret_basic as well as client_secret_post', async () => {
    const { tokens } = await signIn();
    const basic = await discover(sandbox.bffClient, client.ClientSecretBasic(sandbox.bffClient.clientSecret));
    const refreshed = await client.refreshTokenGrant(basic, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  it('rejects a wrong password on the login page', async () => {
    const request = await authorizationRequest();
    await expect(
      completeSandboxLogin(request.url.href, { username: 'alice', password: 'wrong' }),
    ).rejects.toThrow(/Invalid user name or password/);
  });

  it('requires PKCE: without code_challenge the client gets invalid_request', async () => {
    const url = client.buildAuthorizationUrl(bff, {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      state: 'no-pkce',
    });
    const response = await fetchManually(url);
    const location = new URL(response.headers.get('location') ?? '');

    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('no-pkce');
  });

  it('shows an error page, and does not redirect, for an unregistered redirect_uri', async () => {
    for (const redirectUri of [
      `${APP_URL}/evil`,
      `${REDIRECT_URI}/`,
      'https://attacker.example/auth/callback',
    ]) {
      const { url } = await authorizationRequest({ redirect_uri: redirectUri });
      const response = await fetchManually(url);

      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('redirect_uri');
    }
  });

  it('accepts a redirect URL as soon as it is added to the registry', async () => {
    const added = `${APP_URL}/added/callback`;
    const before = await authorizationRequest({ redirect_uri: added });
    expect((await fetchManually(before.url)).status).toBe(400);

    sandbox.registry.addRedirectUrls(sandbox.bffClient.clientId, [added]);
    const after = await authorizationRequest({ redirect_uri: added });
    const callback = await completeSandboxLogin(after.url.href, sandbox.users[1]!);

    expect(`${callback.origin}${callback.pathname}`).toBe(added);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
  });

  it('treats an inactive client as unknown: invalid_client at the token endpoint, error page at authorize', async () => {
    const { tokens } = await signIn();
    sandbox.registry.update(sandbox.bffClient.clientId, { active: false });
    try {
      await expectOAuthError(client.refreshTokenGrant(bff, tokens.refresh_token!), 'invalid_client');
      const { url } = await authorizationRequest();
      const response = await fetchManually(url);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(sandbox.stats.tokenErrors).toEqual({ invalid_client: 1 });
    } finally {
      sandbox.registry.update(sandbox.bffClient.clientId, { active: true });
    }
    const refreshed = await client.refreshTokenGrant(bff, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  it('issues client-credentials tokens for Creatio acting as the technical user', async () => {
    const service = await discover(
      sandbox.serviceClient,
      client.ClientSecretPost(sandbox.serviceClient.clientSecret),
    );
    const tokens = await client.clientCredentialsGrant(service);

    expect(tokens.refresh_token).toBeUndefined();
    const { payload } = await verifyAccessToken(tokens.access_token);
    expect(payload).toMatchObject({ sub: technicalUser.sub, client_id: sandbox.serviceClient.clientId });
    expect(sandbox.stats.tokenRequests.client_credentials).toBe(1);
  });

  it('revokes a refresh token and records the revocation', async () => {
    const { tokens } = await signIn();
    await client.tokenRevocation(bff, tokens.refresh_token!, { token_type_hint: 'refresh_token' });

    expect(sandbox.stats.revocations).toEqual([
      { clientId: sandbox.bffClient.clientId, tokenTypeHint: 'refresh_token' },
    ]);
    await expectOAuthError(client.refreshTokenGrant(bff, tokens.refresh_token!), 'invalid_grant');
  });

  it('answers prompt=none without a session with login_required at the redirect_uri', async () => {
    const { url, state } = await authorizationRequest({ prompt: 'none' });
    const response = await fetchManually(url);
    const location = new URL(response.headers.get('location') ?? '');

    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.get('iss')).toBe(sandbox.identityServiceUrl);
  });

  it('issues tokens the Creatio stand-in accepts, for a user and for the technical user', async () => {
    const { tokens, user } = await signIn();
    const service = await discover(
      sandbox.serviceClient,
      client.ClientSecretPost(sandbox.serviceClient.clientSecret),
    );
    const serviceTokens = await client.clientCredentialsGrant(service);

    for (const accessToken of [tokens.access_token, serviceTokens.access_token]) {
      const response = await fetch(`${sandbox.creatioUrl}/0/odata/Account?$top=1`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      expect(response.status).toBe(200);
    }
    expect(sandbox.stats.creatioRequests.map((r) => r.sub)).toEqual([user.sub, technicalUser.sub]);
  });

  it('signs out at the end-session endpoint: back-channel logout token, then the post_logout_redirect_uri', async () => {
    const logoutTokens: string[] = [];
    const app = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as AddressInfo;
    const original = sandbox.registry.get(sandbox.bffClient.clientId)!.backchannelLogoutUri;
    sandbox.registry.update(sandbox.bffClient.clientId, {
      backchannelLogoutUri: `http://127.0.0.1:${port}/auth/backchannel-logout`,
    });

    try {
      const cookies: SandboxCookieJar = new Map();
      const { tokens, user } = await signIn(cookies);
      expect([...cookies.keys()].every((name) => name.startsWith('sandbox_is_'))).toBe(true);
      const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');

      const endSessionUrl = client.buildEndSessionUrl(bff, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: `${APP_URL}/`,
        state: 'bye',
      });
      const page = await fetch(endSessionUrl, { headers: { cookie } });
      const html = await page.text();
      const action = /action="([^"]+)"/.exec(html)?.[1];
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
      expect(page.status).toBe(200);
      expect(action && xsrf).toBeTruthy();

      const confirmed = await fetch(new URL(action!, endSessionUrl), {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }),
      });
      expect(confirmed.status).toBe(303);
      expect(confirmed.headers.get('location')).toBe(`${APP_URL}/?state=bye`);

      expect(logoutTokens).toHaveLength(1);
      const jwks = createRemoteJWKSet(
        new URL(`${sandbox.identityServiceUrl}/.well-known/openid-configuration/jwks`),
      );
      const { payload } = await jwtVerify(logoutTokens[0]!, jwks, {
        issuer: sandbox.identityServiceUrl,
        audience: sandbox.bffClient.clientId,
      });
      expect(payload).toMatchObject({ sub: user.sub, sid: tokens.claims()?.sid });
      expect(payload.events).toHaveProperty(['http://schemas.openid.net/event/backchannel-logout']);

      // The Identity Service session is over: a silent sign-in with the same cookies needs a login again.
      const silent = await authorizationRequest({ prompt: 'none' });
      const answer = await fetch(silent.url, { redirect: 'manual', headers: { cookie } });
      expect(new URL(answer.headers.get('location') ?? '').searchParams.get('error')).toBe('login_required');
    } finally {
      sandbox.registry.update(sandbox.bffClient.clientId, { backchannelLogoutUri: original });
      app.close();
    }
  });
});
