/**
 * An https APP_URL behind a TLS proxy (finding 4 of issue 11): the Secure session cookie can only be set on a
 * request the app sees as https, which behind a proxy needs TRUST_PROXY. Without it, say so at start-up, and at the
 * callback refuse before any code is exchanged, so no session or token set is left behind that nobody holds.
 * RFC 10017 (BFF cookie: Secure, `__Host-`), ASVS v5.0.0-3.3.1.
 */
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type BffApp, createApp } from '../../server/app.ts';
import { loginBindingCookieName } from '../../server/auth/login-binding.ts';
import { type Config, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { completeSandboxLogin } from '../support/sandbox-login.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const alice = findUserByUsername('alice')!;

/** The BFF as deployed behind a TLS proxy: APP_URL https; the sandbox still calls back to the test's address. */
function behindProxy(env: Record<string, string> = {}): Config {
  return loadConfig(
    {
      ...h.env,
      APP_URL: 'https://bff.example.com',
      OAUTH_REDIRECT_URI: `${h.baseUrl}/auth/callback`,
      ...env,
    },
    { sandbox: true },
  );
}

/** Runs a sign-in against `bff`, sending `headers` as the proxy would; returns the callback's response. */
async function signInThrough(bff: BffApp, config: Config, headers: Record<string, string>) {
  const login = await supertest(bff.app).get('/auth/login').set(headers).expect(302);
  // The binding cookie is Secure; pass it on by hand as the browser would over https.
  const binding = ([] as string[])
    .concat(login.headers['set-cookie'] ?? [])
    .find((c) => c.startsWith(`${loginBindingCookieName(config)}=`))!
    .split(';')[0]!;
  const callback = await completeSandboxLogin(login.headers.location as string, alice);
  return supertest(bff.app)
    .get(`${callback.pathname}${callback.search}`)
    .set(headers)
    .set('Cookie', binding)
    .set('Accept', 'text/html');
}

function sessionCookies(res: { headers: Record<string, unknown> }, config: Config): string[] {
  return ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    .filter((c) => c.startsWith(`${config.cookie.name}=`));
}

describe('https APP_URL with TRUST_PROXY off', () => {
  it('is reported at start-up with the fix', () => {
    expect(behindProxy().warnings).toContainEqual(
      expect.stringMatching(/^TRUST_PROXY: APP_URL is https .*TRUST_PROXY=10\.0\.0\.5.*X-Forwarded-Proto/),
    );
    expect(behindProxy({ TRUST_PROXY: 'loopback' }).warnings).toEqual([]);
  });

  it('refuses the callback with a page naming the cause, and exchanges, stores and sets nothing', async () => {
    const config = behindProxy();
    const bff = await createApp(config, { logger: createLogger('silent') });
    try {
      const exchangesBefore = h.sandbox.stats.tokenRequests.authorization_code;
      const res = await signInThrough(bff, config, { 'X-Forwarded-Proto': 'https' });
      expect(res.status).toBe(500);
      expect(res.text).toMatch(/cannot set its session cookie/);
      expect(res.text).toMatch(/TRUST_PROXY/);
      expect(res.text).toMatch(/X-Forwarded-Proto/);
      expect(sessionCookies(res, config)).toEqual([]);
      // No code was exchanged: no token set exists anywhere, so there is nothing to revoke.
      expect(h.sandbox.stats.tokenRequests.authorization_code).toBe(exchangesBefore);
    } finally {
      await bff.close();
    }
  });

  it('signs in once TRUST_PROXY names the proxy, and trusts X-Forwarded-Proto from no one else', async () => {
    const trusted = behindProxy({ TRUST_PROXY: 'loopback' });
    const bff = await createApp(trusted, { logger: createLogger('silent') });
    try {
      const res = await signInThrough(bff, trusted, { 'X-Forwarded-Proto': 'https' });
      expect(res.status).toBe(302);
      expect(sessionCookies(res, trusted)).toEqual([expect.stringMatching(/^__Host-bff=.*; Secure/)]);
    } finally {
      await bff.close();
    }

    // The test client is on loopback; a proxy elsewhere is not the client, so its header must not count.
    const elsewhere = behindProxy({ TRUST_PROXY: '10.0.0.5' });
    const other = await createApp(elsewhere, { logger: createLogger('silent') });
    try {
      const res = await signInThrough(other, elsewhere, { 'X-Forwarded-Proto': 'https' });
      expect(res.status).toBe(500);
      expect(sessionCookies(res, elsewhere)).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
