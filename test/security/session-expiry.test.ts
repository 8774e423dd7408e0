/**
 * A token set lives exactly as long as its session, and a session that ends by expiry has its refresh token
 * revoked (finding 5 of issue 11): with a one-minute idle timeout, an idle session's grant must not stay behind in
 * the store, live, for the session's maximum lifetime.
 * RFC 9700 §4.14 (refresh tokens), RFC 10017 (BFF: tokens tied to the session), ASVS v5.0.0-7.3.1, v5.0.0-7.4.1,
 * v5.0.0-10.4.x via RFC 7009 revocation.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../server/session/backend.ts';
import { storageKey } from '../../server/session/crypto.ts';
import { createSqliteBackend } from '../../server/session/sqlite-backend.ts';
import { type Harness, startHarness } from '../support/harness.ts';

/** The store's clock runs ahead of the wall clock by `skewMs`: expiry without waiting for it. */
let skewMs = 0;
const storeClock = () => Date.now() + skewMs;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    env: { SESSION_IDLE_MINUTES: '1' },
    deps: { backend: createMemoryBackend(storeClock) },
  });
});
afterAll(async () => {
  await h?.close();
});

async function expiresAt(kind: 'sess' | 'tokens', sessionId: string): Promise<number | undefined> {
  return h.bff.storage.backend.expiresAt(storageKey(kind, sessionId));
}

/** The token set expires when its session does (to the few ms between two writes). */
async function expectSameLifetime(sessionId: string): Promise<void> {
  const session = await expiresAt('sess', sessionId);
  expect(session).toBeDefined();
  expect(Math.abs((await expiresAt('tokens', sessionId))! - session!)).toBeLessThan(1_000);
}

describe('token sets expire with their sessions', () => {
  // First, while the store's clock still agrees with the wall clock the session store computes lifetimes with.
  it("a refreshed token set keeps its session's lifetime instead of starting a longer one", async () => {
    const agent = h.agent();
    const { sessionId } = await h.signIn(agent);
    const before = await h.bff.storage.tokens.get(sessionId);
    h.sandbox.faults.reject401Count = 1; // Creatio refuses the token once: the proxy refreshes and retries
    await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
    const after = await h.bff.storage.tokens.get(sessionId);
    expect(after?.accessToken).not.toBe(before?.accessToken);
    await expectSameLifetime(sessionId);
  });

  it('an idle session takes its token set with it, and the sweep revokes its refresh token', async () => {
    const agent = h.agent();
    const { sessionId } = await h.signIn(agent);
    const tokens = await h.bff.storage.tokens.get(sessionId);
    expect(tokens?.refreshToken).toBeDefined();
    await expectSameLifetime(sessionId);

    skewMs += 61_000; // one idle minute later
    expect((await agent.get('/auth/session').expect(200)).body).toEqual({ authenticated: false });
    expect(await h.bff.storage.tokens.get(sessionId)).toBeUndefined();

    const revocations = h.sandbox.stats.revocations.length;
    // This session's, and those of the sessions of earlier tests that the same idle minute ended.
    const swept = await h.bff.expirySweep.runOnce();
    expect(swept).toBeGreaterThanOrEqual(1);
    expect(h.sandbox.stats.revocations.slice(revocations)).toEqual(
      Array.from({ length: swept }, () => ({ clientId: h.config.clientId, tokenTypeHint: 'refresh_token' })),
    );
    expect(await h.bff.expirySweep.runOnce()).toBe(0); // taken once

    // The grant is gone at the Identity Service too: the old refresh token no longer works.
    const configuration = await h.bff.oidc.getConfiguration();
    await expect(oidc.refreshTokenGrant(configuration, tokens!.refreshToken!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('activity keeps the session and its token set alive together', async () => {
    const agent = h.agent();
    const { sessionId } = await h.signIn(agent);
    skewMs += 40_000;
    await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
    await expectSameLifetime(sessionId);
    skewMs += 40_000; // 80 s after sign-in, 40 s after the last request
    expect(await h.bff.storage.tokens.get(sessionId)).toBeDefined();
    await agent.get('/api/odata/Account?$top=1').set('X-CSRF', '1').expect(200);
  });
});

describe('the SQLite store keeps expired token sets for the sweep', () => {
  it('hands each expired entry out once, and never as a live read', async () => {
    let t = Date.now();
    const backend = createSqliteBackend(':memory:', () => t);
    try {
      await backend.set('tokens:a', 'sealed-a', 1_000);
      await backend.set('tokens:b', 'sealed-b', 60_000);
      await backend.set('sess:a', 'sealed-session', 1_000);
      t += 1_000;
      expect(await backend.get('tokens:a')).toBeUndefined();
      expect(await backend.takeExpired!('tokens:', 10)).toEqual([{ key: 'tokens:a', value: 'sealed-a' }]);
      expect(await backend.takeExpired!('tokens:', 10)).toEqual([]);
      expect(await backend.get('tokens:b')).toBe('sealed-b');
    } finally {
      await backend.close();
    }
  });
});
