/**
 * The /api session reader (server/session/api-session.ts) against the real sign-in: it must accept exactly what
 * express-session accepts for pages — the same signed cookie, every SESSION_SECRET of a rotation, the same sealed
 * record — and keep the session sliding (record, token set and cookie renewed) without doing it on every call.
 */

import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { storageKey } from '../../server/session/crypto.ts';
import { type Harness, type SignedIn, startHarness } from '../support/harness.ts';

const oldSecret = 'old-secret-'.padEnd(40, 'o');
const newSecret = 'new-secret-'.padEnd(40, 'n');

let h: Harness;
let alice: SignedIn;
beforeAll(async () => {
  h = await startHarness({ env: { SESSION_SECRET: oldSecret } });
  alice = await h.signIn(h.agent());
});
afterAll(async () => {
  await h?.close();
});

const odata = '/api/odata/Account?$top=1&$select=Name';

function setCookieOf(res: supertest.Response): string | undefined {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('bff.sid='));
}

describe('the /api session reader', () => {
  it('refuses a cookie whose signature does not match, before anything goes upstream', async () => {
    const [name, value] = alice.cookie.split('=') as [string, string];
    const decoded = decodeURIComponent(value);
    const forged = `${name}=${encodeURIComponent(`${decoded.slice(0, -1)}${decoded.endsWith('A') ? 'B' : 'A'}`)}`;
    const before = h.sandbox.stats.creatioRequests.length;
    const res = await supertest(h.bff.app).get(odata).set('Cookie', forged).set('X-CSRF', '1').expect(401);
    expect(res.body.error).toBe('unauthenticated');
    expect(h.sandbox.stats.creatioRequests.length).toBe(before);
  });

  it('renews the session, its token set and the cookie on the first call, not on every call', async () => {
    const session = await h.signIn(h.agent());
    const backend = h.bff.storage.backend;
    const sessionExpiry = () => backend.expiresAt(storageKey('sess', session.sessionId));
    const atSignIn = await sessionExpiry();
    await new Promise((resolve) => setTimeout(resolve, 20));

    const first = await supertest(h.bff.app)
      .get(odata)
      .set('Cookie', session.cookie)
      .set('X-CSRF', '1')
      .expect(200);
    const renewed = setCookieOf(first);
    expect(renewed).toMatch(/HttpOnly/i);
    expect(renewed).toMatch(/SameSite=Lax/i);
    expect(renewed).toMatch(/Expires=/i);
    expect(renewed!.split(';')[0]).toBe(session.cookie); // the same session, signed with the same (first) secret
    expect((await sessionExpiry())!).toBeGreaterThan(atSignIn!);
    expect(await backend.expiresAt(storageKey('tokens', session.sessionId))).toBe(await sessionExpiry());

    const second = await supertest(h.bff.app)
      .get(odata)
      .set('Cookie', session.cookie)
      .set('X-CSRF', '1')
      .expect(200);
    expect(setCookieOf(second)).toBeUndefined();
  });

  it('accepts a cookie signed with an older SESSION_SECRET and renews it under the first one', async () => {
    const rotated = await createApp(loadConfig({ ...h.env, SESSION_SECRET: `${newSecret},${oldSecret}` }), {
      logger: createLogger('silent'),
      backend: h.bff.storage.backend,
    });
    try {
      const res = await supertest(rotated.app)
        .get(odata)
        .set('Cookie', alice.cookie)
        .set('X-CSRF', '1')
        .expect(200);
      const renewed = setCookieOf(res)!.split(';')[0]!;
      expect(renewed).not.toBe(alice.cookie);
      await supertest(rotated.app).get(odata).set('Cookie', renewed).set('X-CSRF', '1').expect(200);
      // With the old secret dropped, the old cookie no longer opens the session.
      const dropped = await createApp(loadConfig({ ...h.env, SESSION_SECRET: newSecret }), {
        logger: createLogger('silent'),
        backend: h.bff.storage.backend,
      });
      try {
        await supertest(dropped.app).get(odata).set('Cookie', alice.cookie).set('X-CSRF', '1').expect(401);
      } finally {
        await dropped.close();
      }
    } finally {
      await rotated.close();
    }
  });
});
