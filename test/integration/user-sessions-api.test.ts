/**
 * GET /auth/sessions and DELETE /auth/sessions/:handle without a browser: what the JSON says (and never says), what
 * ending another session does at the Identity Service and in storage, and every refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type SignedIn, startHarness } from '../support/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

describe('GET /auth/sessions', () => {
  it('answers 401 JSON when not signed in, and refuses a DELETE without X-CSRF', async () => {
    const res = await h.agent().get('/auth/sessions');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthenticated');
    const agent = h.agent();
    await h.signIn(agent, 'alice');
    const del = await agent.delete('/auth/sessions/anything');
    expect(del.status).toBe(403);
    expect(del.body.error).toBe('csrf_header_missing');
  });

  it('lists the user’s sessions with handles, times and the parsed User-Agent, never a session id', async () => {
    const laptop = h.agent();
    const other = h.agent().set('User-Agent', FIREFOX);
    const mine: SignedIn = await h.signIn(laptop, 'dave');
    const theirs = await h.signIn(other, 'dave');
    const res = await laptop.get('/auth/sessions');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const { sessions } = res.body as { sessions: Array<Record<string, unknown>> };
    expect(sessions).toHaveLength(2);
    expect(sessions[0]?.current).toBe(true);
    expect(sessions[1]).toMatchObject({ current: false, browser: 'Firefox 133', os: 'Windows 10' });
    for (const session of sessions) {
      // only these fields: nothing that could be a session id or a token
      const allowed = ['browser', 'current', 'deviceType', 'handle', 'lastUsedAt', 'os', 'startedAt'];
      expect(Object.keys(session).filter((key) => !allowed.includes(key))).toEqual([]);
      expect(session.handle).toMatch(/^[\w-]{22}$/);
      expect(session.startedAt).toBeLessThanOrEqual(Date.now());
      expect(session.lastUsedAt).toBeGreaterThanOrEqual(session.startedAt as number);
    }
    for (const id of [mine.sessionId, theirs.sessionId]) expect(res.text).not.toContain(id);
  });
});

describe('DELETE /auth/sessions/:handle', () => {
  it('ends the other session: its refresh token is revoked, its token set deleted, its next call 401', async () => {
    const laptop = h.agent();
    const phone = h.agent();
    await h.signIn(laptop, 'carol');
    const target = await h.signIn(phone, 'carol');
    expect((await phone.get('/api/odata/Account?$top=1').set('X-CSRF', '1')).status).toBe(200);
    const handle = (await laptop.get('/auth/sessions')).body.sessions.find(
      (s: { current: boolean }) => !s.current,
    ).handle as string;
    const revocations = h.sandbox.stats.revocations.length;

    const res = await laptop.delete(`/auth/sessions/${handle}`).set('X-CSRF', '1');
    expect(res.status).toBe(204);

    expect(h.sandbox.stats.revocations.slice(revocations)).toEqual([
      { clientId: h.config.clientId, tokenTypeHint: 'refresh_token' },
    ]);
    expect(await h.bff.storage.tokens.get(target.sessionId)).toBeUndefined();
    expect((await phone.get('/api/odata/Account?$top=1').set('X-CSRF', '1')).status).toBe(401);
    expect((await laptop.get('/api/odata/Account?$top=1').set('X-CSRF', '1')).status).toBe(200);
    expect((await laptop.get('/auth/sessions')).body.sessions).toHaveLength(1);
    // the same handle again: already ended
    const again = await laptop.delete(`/auth/sessions/${handle}`).set('X-CSRF', '1');
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('not_found');
  });

  it('refuses to end the current session (that is what Sign out is for) and another user’s', async () => {
    const alice = h.agent();
    const bob = h.agent();
    await h.signIn(alice, 'alice');
    await h.signIn(bob, 'bob');
    const own = (await alice.get('/auth/sessions')).body.sessions.find(
      (s: { current: boolean }) => s.current,
    );
    const self = await alice.delete(`/auth/sessions/${own.handle}`).set('X-CSRF', '1');
    expect(self.status).toBe(400);
    expect(self.body.message).toContain('Sign out');
    const cross = await bob.delete(`/auth/sessions/${own.handle}`).set('X-CSRF', '1');
    expect(cross.status).toBe(404);
    expect((await alice.get('/auth/session')).body.authenticated).toBe(true);
  });
});
