/**
 * Limits on sign-in (finding 7 of issue 11): a per-address budget on starting sign-ins that a spoofed
 * X-Forwarded-For cannot dodge or spend for someone else (with TRUST_PROXY naming the proxy), a callback that does
 * not share it (users behind one NAT must not lock each other out), and a cap on all sign-ins in progress.
 * ASVS v5.0.0-2.4.1 (anti-automation), RFC 9700 §4.7 (login CSRF needs a transaction per login: keep them bounded).
 */
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type BffApp, createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
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

/** A second BFF on the harness's sandbox with its own limits. */
async function withApp(env: Record<string, string>, run: (bff: BffApp) => Promise<void>): Promise<void> {
  const bff = await createApp(loadConfig({ ...h.env, ...env }, { sandbox: true }), {
    logger: createLogger('silent'),
  });
  try {
    await run(bff);
  } finally {
    await bff.close();
  }
}

describe('sign-in rate limit per address', () => {
  it('refuses logins beyond LOGIN_RATE_LIMIT per address and stores no transaction for them', async () => {
    await withApp({ LOGIN_RATE_LIMIT: '3' }, async (limited) => {
      const states: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await supertest(limited.app).get('/auth/login').expect(302);
        states.push(new URL(res.headers.location as string).searchParams.get('state')!);
      }
      const refused = await supertest(limited.app).get('/auth/login').set('Accept', 'application/json');
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('rate_limited');
      expect(refused.headers.location).toBeUndefined();
      expect(await limited.storage.transactions.take(states[0]!)).toBeDefined();
    });
  });

  it('does not spend the sign-in budget on callbacks: users behind one address all finish', async () => {
    await withApp({ LOGIN_RATE_LIMIT: '2' }, async (limited) => {
      const browsers = [supertest.agent(limited.app), supertest.agent(limited.app)];
      const logins = [];
      for (const browser of browsers) logins.push(await browser.get('/auth/login').expect(302));
      for (const [i, browser] of browsers.entries()) {
        const callback = await completeSandboxLogin(logins[i]!.headers.location as string, alice);
        await browser.get(`${callback.pathname}${callback.search}`).expect(302);
      }
      await browsers[0]!.get('/auth/login').expect(429); // the budget is for starting sign-ins
    });
  });

  it('with TRUST_PROXY naming the proxy, a spoofed X-Forwarded-For neither dodges the limit nor spends another address’s budget', async () => {
    // The proxy is on loopback (this test); it appends the address it saw to whatever the client sent.
    await withApp({ LOGIN_RATE_LIMIT: '2', TRUST_PROXY: 'loopback' }, async (limited) => {
      const viaProxy = (claimed: string, real: string) =>
        supertest(limited.app)
          .get('/auth/login')
          .set('X-Forwarded-For', claimed ? `${claimed}, ${real}` : real)
          .set('Accept', 'application/json');

      const attacker = '203.0.113.7';
      const victim = '198.51.100.9';
      expect((await viaProxy('10.1.1.1', attacker)).status).toBe(302);
      expect((await viaProxy(victim, attacker)).status).toBe(302);
      // A new claimed address each time changes nothing: the limit counts the address the proxy saw.
      expect((await viaProxy('10.2.2.2', attacker)).status).toBe(429);
      expect((await viaProxy(victim, attacker)).status).toBe(429);
      // The victim's own budget is untouched.
      expect((await viaProxy('', victim)).status).toBe(302);
      expect((await viaProxy('', victim)).status).toBe(302);
    });
  });

  it('warns at start-up that TRUST_PROXY=true believes any X-Forwarded-For', () => {
    expect(loadConfig({ ...h.env, TRUST_PROXY: 'true' }, { sandbox: true }).warnings).toContainEqual(
      expect.stringMatching(/^TRUST_PROXY: true believes any client-supplied X-Forwarded-For/),
    );
  });
});

describe('sign-ins in progress', () => {
  it('are capped by LOGIN_MAX_PENDING: beyond it /auth/login answers 503 with a clear page, until one finishes', async () => {
    await withApp({ LOGIN_MAX_PENDING: '2' }, async (capped) => {
      const first = supertest.agent(capped.app);
      const login = await first.get('/auth/login').expect(302);
      await supertest(capped.app).get('/auth/login').expect(302);

      const refused = await supertest(capped.app).get('/auth/login').set('Accept', 'text/html');
      expect(refused.status).toBe(503);
      expect(refused.text).toMatch(/Too many sign-ins are in progress/);
      expect(refused.headers.location).toBeUndefined();

      const callback = await completeSandboxLogin(login.headers.location as string, alice);
      await first.get(`${callback.pathname}${callback.search}`).expect(302);
      await supertest(capped.app).get('/auth/login').expect(302);
    });
  });
});
