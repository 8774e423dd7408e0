/**
 * Creatio 8.3+ as its documentation describes it, against the sandbox's switches: the Identity Service on its own
 * host or below `<CREATIO_URL>/0`, with and without ID tokens (the application may not have `openid`), public
 * clients, the `ApplicationAccess_<id>` scope, "Permitted users" and IdentityServer's redirect-URI matching.
 * Sign-in, the UI, the API and sign-out run in all four layout × ID-token combinations.
 */
import * as oidc from 'openid-client';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BFF_APPLICATION_ACCESS_SCOPE, type SandboxLayout, startSandbox } from '../../sandbox/index.ts';
import { findUserByUsername } from '../../sandbox/users.ts';
import { createApp } from '../../server/app.ts';
import { findIdentityService, identityServiceCandidates } from '../../server/auth/find-identity-service.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';
import { completeSandboxLogin } from '../support/sandbox-login.ts';

const alice = findUserByUsername('alice')!;
const bob = findUserByUsername('bob')!;

/** A second app on the harness's sandbox, with some variables changed; closed by the caller. */
async function appWith(h: Harness, env: Record<string, string>) {
  return createApp(loadConfig({ ...h.env, ...env }, { sandbox: true }), { logger: createLogger('silent') });
}

/** Login → the sandbox's sign-in as `user` → the callback, answered by `agent`'s app. */
async function signInThrough(agent: Agent, user = alice) {
  const login = await agent.get('/auth/login').expect(302);
  const callback = await completeSandboxLogin(login.headers.location as string, user);
  return agent.get(`${callback.pathname}${callback.search}`);
}

describe.each([
  ['identity-service-host', false],
  ['identity-service-host', true],
  ['creatio-hosted', false],
  ['creatio-hosted', true],
] as Array<[SandboxLayout, boolean]>)('layout %s, openid refused: %s', (layout, refuseOpenId) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sandbox: { layout, refuseOpenId } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('discovers the endpoints where this layout puts them', async () => {
    const metadata = (await h.bff.oidc.getConfiguration()).serverMetadata();
    const base = layout === 'creatio-hosted' ? `${h.sandbox.creatioUrl}/0` : h.sandbox.identityServiceUrl;
    expect(h.config.identityServiceUrl).toBe(base);
    expect(metadata.issuer).toBe(base);
    expect(metadata.authorization_endpoint).toBe(`${base}/connect/authorize`);
    expect(metadata.token_endpoint).toBe(`${base}/connect/token`);
  });

  it('signs in, names the user, shows them in the UI, reaches OData, and signs out', async () => {
    const agent = h.agent();
    const login = await agent.get('/auth/login').expect(302);
    const authorize = new URL(login.headers.location as string);
    const scope = authorize.searchParams.get('scope')!.split(' ');
    expect(scope).toContain(BFF_APPLICATION_ACCESS_SCOPE);
    expect(scope.includes('openid')).toBe(!refuseOpenId);
    // The nonce binds an ID token; without openid there is none to bind, and OpenID providers refuse a nonce.
    expect(authorize.searchParams.has('nonce')).toBe(!refuseOpenId);

    const callback = await completeSandboxLogin(authorize.href, alice);
    await agent.get(`${callback.pathname}${callback.search}`).expect(302);
    const session = await agent.get('/auth/session').expect(200);
    expect(session.body.user).toEqual({ sub: alice.sub, name: alice.name, email: alice.email });
    // Without an ID token or userinfo, Creatio itself named her; with them, Creatio was not asked.
    const askedCreatio = h.sandbox.stats.creatioRequests.some((r) => r.url.includes('GetCurrentUserInfo'));
    expect(askedCreatio).toBe(refuseOpenId);

    const home = await agent.get('/').expect(200);
    expect(home.text).toContain(alice.name);
    expect(home.text).toContain(alice.email);

    const accounts = await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
    expect(Array.isArray(accounts.body.value)).toBe(true);

    const logout = await agent.post('/auth/logout').set('X-CSRF', '1').expect(200);
    const logoutUrl = new URL(logout.body.logoutUrl);
    const metadata = (await h.bff.oidc.getConfiguration()).serverMetadata();
    expect(`${logoutUrl.origin}${logoutUrl.pathname}`).toBe(metadata.end_session_endpoint);
    // RP-Initiated Logout 1.0: without an ID token to hint with, client_id names the application.
    expect(logoutUrl.searchParams.get('client_id')).toBe(h.config.clientId);
    expect(logoutUrl.searchParams.has('id_token_hint')).toBe(!refuseOpenId);
    const endSession = await fetch(logoutUrl, { redirect: 'manual' });
    expect(endSession.status).toBe(200);
    expect(await endSession.text()).not.toMatch(/invalid_request|invalid_client/);
    await agent.get('/auth/session').expect(200, { authenticated: false });
  });

  it('passes Creatio’s refusal on when the token lacks the ApplicationAccess scope', async () => {
    const scopes = h.sandbox.defaultScopes.filter((s) => s !== BFF_APPLICATION_ACCESS_SCOPE);
    const app = await appWith(h, { OAUTH_SCOPES: scopes.join(' ') });
    try {
      const agent = supertest.agent(app.app);
      expect((await signInThrough(agent)).status).toBe(302);
      const refused = await agent.get('/api/odata/Account').set('X-CSRF', '1').expect(403);
      expect(JSON.stringify(refused.body)).toContain(BFF_APPLICATION_ACCESS_SCOPE);
    } finally {
      await app.close();
    }
  });
});

describe('an application without openid', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sandbox: { refuseOpenId: true } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('says to remove openid from OAUTH_SCOPES when the Identity Service refuses it', async () => {
    const app = await appWith(h, { OAUTH_SCOPES: `openid ${h.sandbox.defaultScopes.join(' ')}` });
    try {
      const agent = supertest.agent(app.app);
      const login = await agent.get('/auth/login').expect(302);
      const callback = await completeSandboxLogin(login.headers.location as string, alice);
      expect(callback.searchParams.get('error')).toBe('invalid_scope');
      const page = await agent.get(`${callback.pathname}${callback.search}`).expect(400);
      expect(page.text).toContain('remove openid from OAUTH_SCOPES');
    } finally {
      await app.close();
    }
  });
});

describe('a public client (no secret, PKCE only)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ sandbox: { publicClient: true } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('signs in with no OAUTH_CLIENT_SECRET, and the token endpoint sees none', async () => {
    expect(h.env.OAUTH_CLIENT_SECRET).toBeUndefined();
    expect(h.config.clientSecret).toBeUndefined();
    const agent = h.agent();
    await h.signIn(agent);
    expect(h.sandbox.stats.tokenRequests.authorization_code).toBeGreaterThan(0);
    await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
  });

  it('is refused when it pretends to be confidential', async () => {
    const app = await appWith(h, { OAUTH_CLIENT_SECRET: 'a-secret-this-public-client-does-not-have' });
    try {
      const page = await signInThrough(supertest.agent(app.app));
      expect(page.status).toBe(401);
      expect(page.text).toContain('OAUTH_CLIENT_SECRET');
    } finally {
      await app.close();
    }
  });
});

describe('permitted users and redirect-URI case', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends a user outside "Permitted users" back with access_denied and says what an administrator changes', async () => {
    const { clientId } = h.sandbox.bffClient;
    const before = h.sandbox.registry.get(clientId)!.permittedUsers;
    h.sandbox.registry.update(clientId, { permittedUsers: [bob.sub] });
    try {
      const agent = h.agent();
      const login = await agent.get('/auth/login').expect(302);
      const callback = await completeSandboxLogin(login.headers.location as string, alice);
      expect(callback.searchParams.get('error')).toBe('access_denied');
      const page = await agent.get(`${callback.pathname}${callback.search}`).expect(401);
      expect(page.text).toContain('not one of the permitted users of this application');
      expect(page.text).toContain('Permitted users');
      expect(page.text).toContain(clientId);
      await agent.get('/auth/session').expect(200, { authenticated: false });
      // Bob is on the list.
      await h.signIn(h.agent(), 'bob');
    } finally {
      h.sandbox.registry.update(clientId, { permittedUsers: before });
    }
  });

  it('checks the nonce whenever an ID token comes back: one issued for another nonce is refused', async () => {
    const agent = h.agent();
    const login = await agent.get('/auth/login').expect(302);
    const authorize = new URL(login.headers.location as string);
    // The same request with another nonce: state and PKCE still match this browser's transaction.
    authorize.searchParams.set('nonce', 'a-nonce-this-login-never-sent-xxxxxxxx');
    const callback = await completeSandboxLogin(authorize.href, alice);
    const page = await agent.get(`${callback.pathname}${callback.search}`).expect(400);
    expect(page.text).toContain('failed a security check');
    await agent.get('/auth/session').expect(200, { authenticated: false });
  });

  it('says to remove openid when it was asked for and the token response brings no ID token', async () => {
    const app = await appWith(h, {});
    try {
      // An Identity Service that grants openid's absence silently: the sandbox's answer without its id_token.
      const configuration = await app.oidc.getConfiguration();
      const tokenEndpoint = configuration.serverMetadata().token_endpoint;
      configuration[oidc.customFetch] = async (url, options) => {
        const response = await fetch(url, options as RequestInit);
        if (url !== tokenEndpoint || !response.ok) return response;
        const { id_token: _dropped, ...rest } = (await response.json()) as Record<string, unknown>;
        return Response.json(rest, { status: response.status, headers: response.headers });
      };
      const page = await signInThrough(supertest.agent(app.app));
      expect(page.status).toBe(400);
      expect(page.text).toContain('sent no ID token although the openid scope was requested');
      expect(page.text).toContain('Remove openid from OAUTH_SCOPES');
    } finally {
      await app.close();
    }
  });

  it('explains invalid_grant after a redirect URI that differs from the registered one only in case', async () => {
    const app = await appWith(h, { OAUTH_REDIRECT_URI: `${h.baseUrl}/Auth/Callback` });
    try {
      const agent = supertest.agent(app.app);
      const login = await agent.get('/auth/login').expect(302);
      // Like IdentityServer, the sandbox lets the sign-in start (case-insensitive at /authorize)…
      const callback = await completeSandboxLogin(login.headers.location as string, alice);
      expect(callback.pathname).toBe('/Auth/Callback');
      expect(callback.searchParams.get('code')).toBeTruthy();
      // …and refuses the code exchange (exact at /token).
      const before = h.sandbox.stats.tokenErrors.invalid_grant ?? 0;
      const page = await agent.get(`${callback.pathname}${callback.search}`).expect(400);
      expect(h.sandbox.stats.tokenErrors.invalid_grant).toBe(before + 1);
      expect(page.text).toContain('upper and lower case');
      expect(page.text).toContain(`${h.baseUrl}/Auth/Callback`);
    } finally {
      await app.close();
    }
  });
});

describe('finding the Identity Service from CREATIO_URL', () => {
  it('tries the Creatio host first, then in Creatio cloud the -is host', () => {
    expect(identityServiceCandidates('https://123456-crm-bundle.creatio.com/')).toEqual([
      { url: 'https://123456-crm-bundle.creatio.com/0', layout: 'creatio-hosted' },
      { url: 'https://123456-crm-bundle-is.creatio.com', layout: 'identity-service-host' },
    ]);
    expect(identityServiceCandidates('https://crm.example.com/creatio')).toEqual([
      { url: 'https://crm.example.com/creatio/0', layout: 'creatio-hosted' },
    ]);
  });

  it('finds a Creatio-hosted one, and says when nothing answered', async () => {
    const hosted = await startSandbox({ creatioPort: 0, layout: 'creatio-hosted' });
    const separate = await startSandbox({ identityPort: 0, creatioPort: 0 });
    try {
      expect(await findIdentityService(hosted.creatioUrl, { timeoutMs: 5000 })).toEqual({
        url: `${hosted.creatioUrl}/0`,
        layout: 'creatio-hosted',
        confirmed: true,
      });
      // Not Creatio cloud, so no -is guess: the 8.3+ place is assumed, and the start-up log says so.
      expect(await findIdentityService(separate.creatioUrl, { timeoutMs: 5000 })).toEqual({
        url: `${separate.creatioUrl}/0`,
        layout: 'creatio-hosted',
        confirmed: false,
      });
    } finally {
      await Promise.all([hosted.close(), separate.close()]);
    }
  });
});
