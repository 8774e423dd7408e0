/**
 * Attacks on DELETE /auth/sessions/:handle: each is refused and the targeted session goes on. A handle is a random
 * name known only to the session's own user; a session id (a bearer credential) is not accepted in its place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, type Harness, type SignedIn, startHarness } from '../support/harness.ts';

let h: Harness;
let alice: Agent;
let aliceElsewhere: Agent;
let target: SignedIn;
let handle: string;

beforeAll(async () => {
  h = await startHarness();
  alice = h.agent();
  aliceElsewhere = h.agent();
  await h.signIn(alice, 'alice');
  target = await h.signIn(aliceElsewhere, 'alice');
  const { sessions } = (await alice.get('/auth/sessions')).body as {
    sessions: Array<{ handle: string; current: boolean }>;
  };
  handle = sessions.find((s) => !s.current)?.handle ?? '';
});

afterAll(async () => {
  await h?.close();
});

async function expectTargetAlive(): Promise<void> {
  expect((await aliceElsewhere.get('/api/odata/Account?$top=1').set('X-CSRF', '1')).status).toBe(200);
}

describe('DELETE /auth/sessions/:handle refuses', () => {
  it('a cross-site request, even with X-CSRF (Sec-Fetch-Site: cross-site)', async () => {
    const res = await alice
      .delete(`/auth/sessions/${handle}`)
      .set('X-CSRF', '1')
      .set('Sec-Fetch-Site', 'cross-site')
      .set('Origin', 'https://evil.example.com');
    expect(res.status).toBe(403);
    await expectTargetAlive();
  });

  it('a request without X-CSRF (a plain form or link from another page)', async () => {
    const res = await alice.delete(`/auth/sessions/${handle}`);
    expect(res.status).toBe(403);
    await expectTargetAlive();
  });

  it('the session id in place of the handle, and guessed handles', async () => {
    for (const guess of [target.sessionId, 'AAAAAAAAAAAAAAAAAAAAAA', '..%2F..%2Fsess', '*']) {
      const res = await alice.delete(`/auth/sessions/${encodeURIComponent(guess)}`).set('X-CSRF', '1');
      expect(res.status).toBe(404);
    }
    await expectTargetAlive();
  });

  it('someone else’s handle, from their own signed-in session', async () => {
    const bob = h.agent();
    await h.signIn(bob, 'bob');
    const res = await bob.delete(`/auth/sessions/${handle}`).set('X-CSRF', '1');
    expect(res.status).toBe(404);
    await expectTargetAlive();
  });

  it('nobody signed in', async () => {
    const res = await h.agent().delete(`/auth/sessions/${handle}`).set('X-CSRF', '1');
    expect(res.status).toBe(401);
    await expectTargetAlive();
  });
});
