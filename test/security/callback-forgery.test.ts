/**
 * Forged, replayed and mixed-up callbacks are refused without creating a session: state (RFC 6749 §10.12), PKCE
 * (RFC 7636, RFC 9700 §2.1.1), the issuer (RFC 9207, RFC 9700 §4.4 mix-up), one use per code and login; and a
 * sign-in always gets a new session id (no fixation, ASVS v5.0.0-7.2.4) and revokes the grant it replaces.
 */
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';
import { expectSignedOut, freshCallback, setCookies, startLogin } from '../support/sandbox-login.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function expectRejected(agent: Agent, path: string, status: number, text: RegExp): Promise<void> {
  const res = await agent.get(path).set('Accept', 'text/html');
  expect(res.status, path).toBe(status);
  expect(res.headers['content-type']).toMatch(/text\/html/);
  expect(res.text).toMatch(text);
  expect(res.text).not.toMatch(/\n\s+at [\w.<]+ \(/); // no stack trace
  expect(setCookies(res).filter((c) => c.startsWith(`${h.config.cookie.name}=`))).toEqual([]);
  await expectSignedOut(agent);
}

describe('forged and replayed callbacks', () => {
  it('rejects a callback without state', async () => {
    await expectRejected(h.agent(), '/auth/callback?code=abc', 400, /no state/);
  });

  it('rejects an unknown state', async () => {
    await expectRejected(
      h.agent(),
      '/auth/callback?code=abc&state=forged',
      400,
      /already used or has expired/,
    );
  });

  it('rejects a replayed callback', async () => {
    const agent = h.agent();
    const callback = await freshCallback(agent);
    // The first use signs in; the replay, from the same browser after it signed out, is refused.
    await agent.get(callback).expect(302);
    await agent.post('/auth/logout').set('X-CSRF', '1').expect(200);
    await expectRejected(agent, callback, 400, /already used or has expired/);
  });

  it('rejects a forged code with a valid state', async () => {
    const agent = h.agent();
    const state = (await startLogin(agent)).searchParams.get('state')!;
    await expectRejected(
      agent,
      `/auth/callback?code=forged&state=${state}&iss=${encodeURIComponent(h.sandbox.identityServiceUrl)}`,
      400,
      /could not be exchanged/,
    );
  });

  it("rejects a code paired with another login's state (PKCE binds the code to its verifier)", async () => {
    const agent = h.agent();
    const attacker = new URL(`http://x${await freshCallback(h.agent())}`);
    const state = (await startLogin(agent)).searchParams.get('state')!;
    attacker.searchParams.set('state', state);
    await expectRejected(agent, `${attacker.pathname}${attacker.search}`, 400, /could not be exchanged/);
  });

  it('rejects a response from another issuer (RFC 9207 iss)', async () => {
    const agent = h.agent();
    const callback = new URL(`http://x${await freshCallback(agent)}`);
    callback.searchParams.set('iss', 'https://evil.example');
    await expectRejected(agent, `${callback.pathname}${callback.search}`, 400, /security check/);
  });
});

describe('session fixation', () => {
  it('issues a new session id at sign-in (no session fixation)', async () => {
    const agent = h.agent();
    const before = await h.signIn(agent);
    const after = await h.signIn(agent);
    expect(after.sessionId).not.toBe(before.sessionId);
    expect(await h.bff.storage.tokens.get(before.sessionId)).toBeUndefined();
    expect(await h.bff.storage.tokens.get(after.sessionId)).toBeDefined();
  });

  it('revokes the previous grant when someone signs in over a live session', async () => {
    const agent = h.agent();
    const before = await h.signIn(agent, 'alice');
    const previous = await h.bff.storage.tokens.get(before.sessionId);
    const revocations = h.sandbox.stats.revocations.length;
    await h.signIn(agent, 'bob');
    expect(h.sandbox.stats.revocations.length).toBe(revocations + 1);
    await expect(
      oidc.refreshTokenGrant(await h.bff.oidc.getConfiguration(), previous!.refreshToken!),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    await agent.get('/auth/session').expect(200, /Bob Brennan/);
  });
});
