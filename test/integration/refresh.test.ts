/**
 * Token freshness against the sandbox with 3-second access tokens: single-flight refresh, rotation written to the
 * shared store (seen by another app instance), and a refresh that fails for good ending the session.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BffApp, createApp } from '../../server/app.ts';
import { createLogger } from '../../server/logger.ts';
import { createMemoryBackend } from '../../server/session/backend.ts';
import { needsRefresh, refreshMarginMs } from '../../server/tokens/refresh.ts';
import { type Harness, type SignedIn, startHarness } from '../support/harness.ts';

const TTL_SECONDS = 3;

let h: Harness;
const backend = createMemoryBackend();

beforeAll(async () => {
  h = await startHarness({ accessTokenTtlSeconds: TTL_SECONDS, deps: { backend } });
});
afterAll(async () => {
  await h?.close();
});

async function storedTokens(session: SignedIn) {
  const tokens = await h.bff.storage.tokens.get(session.sessionId);
  if (!tokens) throw new Error('no token set stored for the session');
  return tokens;
}

/** Sleeps until the session's access token has expired (no refresh runs meanwhile: nothing is requested). */
async function waitForExpiry(session: SignedIn): Promise<void> {
  const { expiresAt } = await storedTokens(session);
  await sleep(Math.max(0, expiresAt - Date.now()) + 50);
}

describe('when to refresh', () => {
  const at = (lifetimeMs: number) => ({ accessToken: 'a', receivedAt: 0, expiresAt: lifetimeMs });

  it('refreshes a minute early, or a quarter of the lifetime for short-lived tokens', () => {
    expect(refreshMarginMs(at(3_600_000))).toBe(60_000);
    expect(refreshMarginMs(at(3_000))).toBe(750);
    expect(needsRefresh(at(3_600_000), 3_600_000 - 60_001)).toBe(false);
    expect(needsRefresh(at(3_600_000), 3_600_000 - 60_000)).toBe(true);
    expect(needsRefresh(at(3_000), 2_000)).toBe(false);
    expect(needsRefresh(at(3_000), 2_250)).toBe(true);
    expect(needsRefresh(at(3_000), 5_000)).toBe(true);
  });

  it('treats a token Creatio refused as stale, however young', () => {
    expect(needsRefresh(at(3_600_000), 0, 'a')).toBe(true);
    expect(needsRefresh(at(3_600_000), 0, 'another')).toBe(false);
  });
});

describe('single-flight refresh', () => {
  it('sends one refresh_token grant for 50 parallel requests after expiry, and all succeed', async () => {
    const agent = h.agent();
    const session = await h.signIn(agent, 'alice');
    const before = await storedTokens(session);
    await waitForExpiry(session);

    const refreshes = h.sandbox.stats.tokenRequests.refresh_token;
    const seen = h.sandbox.stats.creatioRequests.length;
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1')),
    );

    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(h.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect(h.sandbox.stats.tokenErrors.invalid_grant ?? 0).toBe(0);
    const bearers = new Set(h.sandbox.stats.creatioRequests.slice(seen).map((r) => r.headers.authorization));
    expect(bearers.size).toBe(1);
    expect(bearers.has(`Bearer ${before.accessToken}`)).toBe(false);

    // The rotated set is stored: a new access token, the new refresh token, its lifetime from expires_in.
    const after = await storedTokens(session);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).toBeDefined();
    expect(after.refreshToken).not.toBe(before.refreshToken);
    // openid-client's expiresIn() counts down whole seconds from the response's arrival, so on a loaded machine the
    // set can be built a second later and read one second less of lifetime: never more than expires_in.
    const lifetime = after.expiresAt - after.receivedAt;
    expect(lifetime).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    expect(lifetime).toBeGreaterThanOrEqual((TTL_SECONDS - 1) * 1000);
    expect(after.expiresAt).toBeGreaterThan(Date.now());
  });

  it('does not refresh a fresh token', async () => {
    const agent = h.agent();
    await h.signIn(agent, 'bob');
    const refreshes = h.sandbox.stats.tokenRequests.refresh_token;
    for (let i = 0; i < 3; i++) await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
    expect(h.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes);
  });

  it('stores the new set where another instance of the app finds it', async () => {
    const second: BffApp = await createApp(h.config, { backend, logger: createLogger('silent') });
    try {
      const agent = h.agent();
      const session = await h.signIn(agent, 'carol');
      await waitForExpiry(session);
      const refreshes = h.sandbox.stats.tokenRequests.refresh_token;

      await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200); // refreshes on instance one
      const seen = h.sandbox.stats.creatioRequests.length;
      const { default: supertest } = await import('supertest');
      await supertest(second.app)
        .get('/api/odata/Account?$top=1')
        .set('Cookie', session.cookie)
        .set('X-CSRF', '1')
        .expect(200);

      expect(h.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
      const [onSecond] = h.sandbox.stats.creatioRequests.slice(seen);
      expect(onSecond!.headers.authorization).toBe(`Bearer ${(await storedTokens(session)).accessToken}`);
    } finally {
      await second.close();
    }
  });
});

describe('a refresh that fails for good', () => {
  it('ends the session and answers 401 login_required', async () => {
    const agent = h.agent();
    const session = await h.signIn(agent, 'alice');
    const { refreshToken } = await storedTokens(session);

    // Someone else uses the refresh token first (rotation): the BFF's copy is now spent.
    const discovery = await fetch(`${h.sandbox.identityServiceUrl}/.well-known/openid-configuration`);
    const { token_endpoint } = (await discovery.json()) as { token_endpoint: string };
    const stolen = await fetch(token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken!,
        client_id: h.sandbox.bffClient.clientId,
        client_secret: h.sandbox.bffClient.clientSecret!,
      }),
    });
    expect(stolen.status).toBe(200);

    h.sandbox.faults.reject401Count = 1; // Creatio refuses the current token: the BFF must refresh now
    const res = await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(401);
    expect(res.body).toEqual({ error: 'login_required', message: expect.any(String) });
    expect(JSON.stringify(res.body)).not.toMatch(/eyJ/);

    expect(await h.bff.storage.tokens.get(session.sessionId)).toBeUndefined();
    const info = await agent.get('/auth/session').expect(200);
    expect(info.body.authenticated).toBe(false);
    await agent
      .get('/api/odata/Account')
      .set('X-CSRF', '1')
      .expect(401, /unauthenticated/);
  });
});
