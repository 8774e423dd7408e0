/**
 * Sign-in against the sandbox Identity Service, read like openid-client's example: authorization request →
 * login → callback → session, and what the person sees when a sign-in is refused. The attacks (forged and replayed
 * callbacks, fixation, open redirects, tokens in the browser, CSRF) are in test/security/, the proof behind
 * SECURITY.md.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { createApp } from '../../server/app.ts';
import { loginBindingCookieName } from '../../server/auth/login-binding.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';
import {
  completeSandboxLogin,
  expectSignedOut,
  freshCallback,
  setCookies,
  startLogin,
} from '../support/sandbox-login.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const alice = findUserByUsername('alice')!;

describe('authorization request', () => {
  it('uses the authorization-code flow with PKCE S256, state, nonce and the configured redirect URI', async () => {
    const url = await startLogin(h.agent());
    const discovered = (await h.bff.oidc.getConfiguration()).serverMetadata();
    expect(`${url.origin}${url.pathname}`).toBe(discovered.authorization_endpoint);
    const p = url.searchParams;
    expect(p.get('response_type')).toBe('code');
    expect(p.get('client_id')).toBe(h.config.clientId);
    expect(p.get('redirect_uri')).toBe(`${h.baseUrl}/auth/callback`);
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('state')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(p.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(p.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'offline_access']));
  });

  it('sets no session cookie before sign-in completes: the login transaction lives server-side', async () => {
    const res = await h.agent().get('/auth/login').expect(302);
    // Only the login-binding cookie (security-sign-in.test.ts), which ties the transaction to this browser.
    expect(setCookies(res).map((c) => c.slice(0, c.indexOf('=')))).toEqual([
      loginBindingCookieName(h.config),
    ]);
  });
});

describe('callback', () => {
  it('signs the user in, returns to the page asked for, and shows who they are, never a token', async () => {
    const agent = h.agent();
    const callback = await freshCallback(agent, '/accounts?page=2');
    const res = await agent.get(callback).expect(302);
    expect(res.headers.location).toBe('/accounts?page=2');
    const cookie = setCookies(res).find((c) => c.startsWith(`${h.config.cookie.name}=`));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);

    const session = await agent.get('/auth/session').expect(200);
    expect(session.body).toMatchObject({
      authenticated: true,
      user: { sub: alice.sub, name: 'Alice Andersen', email: 'alice@example.com' },
    });
    expect(session.body.expiresAt).toBeGreaterThan(Date.now());
    expect(Object.keys(session.body).sort()).toEqual(['authenticated', 'expiresAt', 'user']);
  });

  it('lets two logins run in parallel in one browser without clobbering each other', async () => {
    const agent = h.agent();
    const first = await startLogin(agent, '/first');
    const second = await startLogin(agent, '/second');
    const secondCallback = await completeSandboxLogin(second.href, alice);
    const firstCallback = await completeSandboxLogin(first.href, alice);
    const a = await agent.get(`${secondCallback.pathname}${secondCallback.search}`).expect(302);
    expect(a.headers.location).toBe('/second');
    const b = await agent.get(`${firstCallback.pathname}${firstCallback.search}`).expect(302);
    expect(b.headers.location).toBe('/first');
    await agent.get('/auth/session').expect(200, /"authenticated":true/);
  });
});

describe('forged, replayed and refused callbacks', () => {
  async function expectRejected(agent: Agent, path: string, status: number, text: RegExp): Promise<void> {
    const res = await agent.get(path).set('Accept', 'text/html');
    expect(res.status, path).toBe(status);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toMatch(text);
    expect(res.text).not.toMatch(/\n\s+at [\w.<]+ \(/); // no stack trace
    expect(setCookies(res).filter((c) => c.startsWith(`${h.config.cookie.name}=`))).toEqual([]);
    await expectSignedOut(agent);
  }

  it('explains a cancelled sign-in (access_denied)', async () => {
    const agent = h.agent();
    const state = (await startLogin(agent)).searchParams.get('state')!;
    await expectRejected(agent, `/auth/callback?error=access_denied&state=${state}`, 401, /cancelled/);
  });

  it('offers "Sign in again" back to the page the cancelled sign-in was going to', async () => {
    const agent = h.agent();
    const state = (await startLogin(agent, '/accounts?q=north')).searchParams.get('state')!;
    const res = await agent
      .get(`/auth/callback?error=access_denied&state=${state}`)
      .set('Accept', 'text/html');
    expect(res.status).toBe(401);
    expect(res.text).toContain('href="/auth/login?returnTo=%2Faccounts%3Fq%3Dnorth"');
  });

  it('offers a plain "Sign in again" when the transaction belongs to another browser', async () => {
    const state = (await startLogin(h.agent(), '/accounts')).searchParams.get('state')!;
    const res = await h
      .agent()
      .get(`/auth/callback?error=access_denied&state=${state}`)
      .set('Accept', 'text/html');
    expect(res.text).toContain('href="/auth/login"');
    expect(res.text).not.toContain('returnTo=');
  });

  it('explains a refused client (invalid_client)', async () => {
    const agent = h.agent();
    const state = (await startLogin(agent)).searchParams.get('state')!;
    await expectRejected(agent, `/auth/callback?error=invalid_client&state=${state}`, 401, /OAUTH_CLIENT_ID/);
  });

  it('explains a wrong client secret at the code exchange', async () => {
    const config = loadConfig({
      ...h.env,
      OAUTH_CLIENT_SECRET: 'this-is-not-the-secret',
    });
    const wrong = await createApp(config, { logger: createLogger('silent') });
    try {
      const agent = supertest.agent(wrong.app);
      const login = await agent.get('/auth/login').expect(302);
      const callback = await completeSandboxLogin(login.headers.location as string, alice);
      await expectRejected(agent, `${callback.pathname}${callback.search}`, 401, /OAUTH_CLIENT_SECRET/);
    } finally {
      await wrong.close();
    }
  });
});

describe('sign-out', () => {
  it('revokes the refresh token, ends the session and points at the end-session endpoint', async () => {
    const agent = h.agent();
    const { sessionId } = await h.signIn(agent);
    const tokens = await h.bff.storage.tokens.get(sessionId);
    expect(tokens?.refreshToken).toBeTruthy();
    const revocationsBefore = h.sandbox.stats.revocations.length;

    const res = await agent.post('/auth/logout').set('X-CSRF', '1').expect(200);
    const logoutUrl = new URL(res.body.logoutUrl);
    const discovered = (await h.bff.oidc.getConfiguration()).serverMetadata();
    expect(`${logoutUrl.origin}${logoutUrl.pathname}`).toBe(discovered.end_session_endpoint);
    expect(logoutUrl.searchParams.get('post_logout_redirect_uri')).toBe(`${h.baseUrl}/`);
    expect(logoutUrl.searchParams.get('id_token_hint')).toBe(tokens?.idToken);
    // A fresh random state each time: glewlwyd honours post_logout_redirect_uri only with one.
    expect(logoutUrl.searchParams.get('state')).toMatch(/^[\w-]{32,}$/);

    expect(h.sandbox.stats.revocations.length).toBe(revocationsBefore + 1);
    expect(h.sandbox.stats.revocations.at(-1)).toMatchObject({ tokenTypeHint: 'refresh_token' });
    await expectSignedOut(agent);
    expect(await h.bff.storage.tokens.get(sessionId)).toBeUndefined();

    // The Identity Service no longer honours the refresh token.
    const configuration = await h.bff.oidc.getConfiguration();
    await expect(oidc.refreshTokenGrant(configuration, tokens!.refreshToken!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('answers the page form (with its CSRF token) with a redirect to the end-session endpoint', async () => {
    const agent = h.agent();
    await h.signIn(agent);
    const page = await agent.get('/').expect(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    expect(csrf).toBeTruthy();
    const res = await agent.post('/auth/logout').type('form').send({ _csrf: csrf });
    expect(res.status).toBe(303);
    const discovered = (await h.bff.oidc.getConfiguration()).serverMetadata();
    expect(res.headers.location).toMatch(new RegExp(`^${discovered.end_session_endpoint}\\?`));
    await expectSignedOut(agent);
  });

  it('sends a signed-out browser home without an error', async () => {
    const res = await h.agent().post('/auth/logout').type('form').send({});
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
  });
});

describe('session storage across restarts and key rotation', () => {
  const oldSecret = 'old-secret-'.padEnd(40, 'o');
  const newSecret = 'new-secret-'.padEnd(40, 'n');

  function configWith(secret: string, file: string) {
    return loadConfig({
      ...h.env,
      SESSION_SECRET: secret,
      SESSION_STORE: `sqlite:${file}`,
    });
  }

  it('keeps a session in SQLite across an app restart and after SESSION_SECRET rotation', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bff-sessions-')), 'sessions.db');
    const logger = createLogger('silent');

    const first = await createApp(configWith(oldSecret, file), { logger });
    const agent = supertest.agent(first.app);
    const login = await agent.get('/auth/login').expect(302);
    const callback = await completeSandboxLogin(login.headers.location as string, alice);
    const done = await agent.get(`${callback.pathname}${callback.search}`).expect(302);
    const cookie = setCookies(done)
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('bff.sid='))!;
    await first.close();

    const restarted = await createApp(configWith(oldSecret, file), { logger });
    await supertest(restarted.app)
      .get('/auth/session')
      .set('Cookie', cookie)
      .expect(200, /"authenticated":true/);
    await restarted.close();

    const rotated = await createApp(configWith(`${newSecret},${oldSecret}`, file), { logger });
    await supertest(rotated.app)
      .get('/auth/session')
      .set('Cookie', cookie)
      .expect(200, /"authenticated":true/);
    await rotated.close();

    const oldKeyDropped = await createApp(configWith(newSecret, file), { logger });
    await supertest(oldKeyDropped.app)
      .get('/auth/session')
      .set('Cookie', cookie)
      .expect(200, { authenticated: false });
    await oldKeyDropped.close();
  });
});
