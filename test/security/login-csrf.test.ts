/**
 * Security review against the real sandbox: login CSRF (RFC 9700 §4.7, the BFF section of "OAuth 2.0 for
 * Browser-Based Applications"), the cookie after sign-out, what a crafted callback can make the error page say,
 * CORS, and the sign-in rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { loginBindingCookieName } from '../../server/auth/login-binding.ts';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';
import { completeSandboxLogin, setCookies } from '../support/sandbox-login.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const alice = findUserByUsername('alice')!;
const mallory = findUserByUsername('bob')!; // plays the attacker: a legitimate user of the same Creatio

/** Starts a login in `agent` and signs in at the Identity Service; returns the callback, not yet opened. */
async function callbackFor(agent: Agent, user: typeof alice, returnTo = '/'): Promise<string> {
  const login = await agent.get('/auth/login').query({ returnTo }).expect(302);
  const callback = await completeSandboxLogin(login.headers.location as string, user);
  return `${callback.pathname}${callback.search}`;
}

async function whoIs(agent: Agent): Promise<string | undefined> {
  const res = await agent.get('/auth/session').expect(200);
  return res.body.authenticated ? res.body.user.sub : undefined;
}

describe('login CSRF: a callback is accepted only in the browser that started the login', () => {
  it("refuses the attacker's callback URL opened in a victim's browser, signed out or signed in", async () => {
    // Mallory starts a login in her own browser, signs in as herself, and stops at the redirect back to us.
    const attacker = h.agent();
    const forged = await callbackFor(attacker, mallory, '/accounts');

    // A signed-out victim opens the link Mallory sent: no session, certainly not Mallory's.
    const victim = h.agent();
    const res = await victim.get(forged).set('Accept', 'text/html');
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/started in another browser/);
    expect(setCookies(res).filter((c) => c.startsWith(`${h.config.cookie.name}=`))).toEqual([]);
    expect(await whoIs(victim)).toBeUndefined();

    // A signed-in victim stays signed in as herself.
    const signedIn = h.agent();
    await h.signIn(signedIn, 'alice');
    const second = await callbackFor(h.agent(), mallory);
    expect((await signedIn.get(second).set('Accept', 'text/html')).status).toBe(400);
    expect(await whoIs(signedIn)).toBe(alice.sub);
  });

  it('refuses a callback whose binding cookie was forged or dropped', async () => {
    const agent = h.agent();
    const forged = await callbackFor(agent, alice);
    const res = await h
      .agent()
      .get(forged)
      .set('Cookie', `${loginBindingCookieName(h.config)}=${'A'.repeat(43)}`)
      .set('Accept', 'application/json');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_callback');
  });

  it("lets no stranger spoil someone's sign-in: the rightful browser finishes after another browser tried its URL", async () => {
    // RFC 9700 §4.7.1: the binding is checked before the transaction is consumed, and `error=` only after that.
    const victim = h.agent();
    const callback = await callbackFor(victim, alice, '/accounts');
    const state = new URL(`http://x${callback}`).searchParams.get('state')!;

    const stranger = h.agent();
    const stolen = await stranger.get(callback).set('Accept', 'application/json');
    expect(stolen.status).toBe(400);
    expect(stolen.body.message).toMatch(/started in another browser/);
    const cancelled = await stranger
      .get('/auth/callback')
      .query({ error: 'access_denied', state })
      .set('Accept', 'application/json');
    expect(cancelled.status).toBe(400);
    expect(cancelled.body.message).toMatch(/started in another browser/);
    expect(await whoIs(stranger)).toBeUndefined();

    await victim.get(callback).expect(302).expect('location', '/accounts');
    expect(await whoIs(victim)).toBe(alice.sub);
  });

  it('still lets two tabs of one browser sign in at once', async () => {
    const browser = h.agent();
    const first = await browser.get('/auth/login').query({ returnTo: '/first' }).expect(302);
    const second = await browser.get('/auth/login').query({ returnTo: '/second' }).expect(302);
    const secondCallback = await completeSandboxLogin(second.headers.location as string, alice);
    const firstCallback = await completeSandboxLogin(first.headers.location as string, alice);
    await browser
      .get(`${secondCallback.pathname}${secondCallback.search}`)
      .expect(302)
      .expect('location', '/second');
    await browser
      .get(`${firstCallback.pathname}${firstCallback.search}`)
      .expect(302)
      .expect('location', '/first');
    expect(await whoIs(browser)).toBe(alice.sub);
  });

  it('binds with one short-lived HttpOnly SameSite=Lax cookie per browser, reused by every tab', async () => {
    const browser = h.agent();
    const first = setCookies(await browser.get('/auth/login').expect(302));
    const second = setCookies(await browser.get('/auth/login').expect(302));
    for (const cookies of [first, second]) {
      // Only the binding: the session itself is still created only at the callback.
      expect(cookies).toHaveLength(1);
      expect(cookies[0]).toMatch(new RegExp(`^${loginBindingCookieName(h.config)}=[A-Za-z0-9_-]{43};`));
      expect(cookies[0]).toMatch(/; Max-Age=600;/);
      expect(cookies[0]).toMatch(/; Path=\/;/);
      expect(cookies[0]).toMatch(/; HttpOnly/);
      expect(cookies[0]).toMatch(/; SameSite=Lax/);
    }
    expect(first[0]!.split(';')[0]).toBe(second[0]!.split(';')[0]);
  });
});

describe('sign-out', () => {
  it('clears the session cookie and does not set it again in the same response', async () => {
    const agent = h.agent();
    const { cookie } = await h.signIn(agent);
    const res = await agent.post('/auth/logout').set('X-CSRF', '1').expect(200);
    const sessionCookies = setCookies(res).filter((c) => c.startsWith(`${h.config.cookie.name}=`));
    expect(sessionCookies.length).toBeGreaterThan(0);
    // Browsers apply Set-Cookie headers in order: the last one for the name is what they keep.
    expect(sessionCookies.at(-1)).toMatch(new RegExp(`^${h.config.cookie.name}=;`));
    expect(sessionCookies.join('\n')).not.toContain(cookie.slice(cookie.indexOf('=') + 1));
  });
});

describe('callback error page', () => {
  /** An `error=` callback for a login this browser started: only then is the error handled at all. */
  async function errorCallback(error: string, description?: string) {
    const agent = h.agent();
    const login = await agent.get('/auth/login').expect(302);
    const state = new URL(login.headers.location as string).searchParams.get('state')!;
    return agent
      .get('/auth/callback')
      .query({ error, state, ...(description ? { error_description: description } : {}) })
      .set('Accept', 'text/html');
  }

  it('does not repeat text from the query: a crafted link cannot put its words on our page', async () => {
    const bait = 'Your account is locked, call +1 555 0100';
    const res = await errorCallback(bait, bait);
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('call +1 555');
    expect(res.text).toMatch(/Identity Service/);
  });

  it('names only the error codes of RFC 6749 and OpenID Connect, anything else generically', async () => {
    const known = await errorCallback('temporarily_unavailable');
    expect(known.status).toBe(400);
    expect(known.text).toContain('temporarily_unavailable');

    const made_up = await errorCallback('your_account_is_locked_call_support');
    expect(made_up.status).toBe(400);
    expect(made_up.text).not.toContain('your_account_is_locked');
    expect(made_up.text).toMatch(/answered the sign-in with an error/);
  });

  it('does not handle an error for a login this browser did not start', async () => {
    const res = await h
      .agent()
      .get('/auth/callback')
      .query({ error: 'invalid_client' })
      .set('Accept', 'text/html');
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/no state/);
    expect(res.text).not.toMatch(/OAUTH_CLIENT_ID/);
  });
});
