/**
 * Requests from other origins: no CORS grant anywhere, and — defence in depth behind X-CSRF and the form token —
 * a state-changing request or a proxy call is refused when the browser says it came from another site
 * (Sec-Fetch-Site other than same-origin/none, or a foreign Origin). Nothing reaches Creatio.
 * RFC 10017 (BFF: CSRF protection, no CORS), RFC 9700 §4.7, ASVS v5.0.0-3.5.1, v5.0.0-3.5.2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';

let h: Harness;
let signedIn: Agent;
beforeAll(async () => {
  h = await startHarness();
  signedIn = h.agent();
  await h.signIn(signedIn);
});
afterAll(async () => {
  await h?.close();
});

async function whoIs(agent: Agent): Promise<string | undefined> {
  const res = await agent.get('/auth/session').expect(200);
  return res.body.authenticated ? res.body.user.sub : undefined;
}

describe('CORS', () => {
  it('grants no cross-origin access anywhere: preflights get no Access-Control-Allow-* header', async () => {
    const responses = [
      await signedIn
        .options('/api/odata/Account')
        .set('Origin', 'https://evil.example')
        .set('Access-Control-Request-Method', 'DELETE')
        .set('Access-Control-Request-Headers', 'x-csrf'),
      await signedIn
        .options('/auth/logout')
        .set('Origin', 'https://evil.example')
        .set('Access-Control-Request-Method', 'POST'),
      await signedIn.get('/auth/session').set('Origin', 'https://evil.example'),
    ];
    // The API preflight is refused outright, so the real request is never sent and nothing reaches Creatio.
    expect(responses[0]!.status).toBe(403);
    for (const res of responses) {
      expect(Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    }
  });
});

describe('Sec-Fetch-Site and Origin on the proxy and on state-changing routes', () => {
  const foreign: Array<[string, Record<string, string>]> = [
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site' }],
    ['a foreign Origin without Fetch Metadata', { Origin: 'https://evil.example' }],
    ['Origin: null (a sandboxed frame)', { Origin: 'null' }],
  ];

  it.each(foreign)(
    'refuses a proxy call with %s, even with X-CSRF, and sends nothing upstream',
    async (_, headers) => {
      const before = h.sandbox.stats.creatioRequests.length;
      const res = await signedIn.get('/api/odata/Account?$top=1').set('X-CSRF', '1').set(headers);
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('cross_origin_request');
      expect(h.sandbox.stats.creatioRequests.length).toBe(before);
    },
  );

  it.each(foreign)('refuses a sign-out with %s and keeps the session', async (_, headers) => {
    const res = await signedIn.post('/auth/logout').set('X-CSRF', '1').set(headers);
    expect(res.status).toBe(403);
    expect(await whoIs(signedIn)).toBeDefined();
  });

  it('lets same-origin requests, address-bar navigations and header-less clients through', async () => {
    const own = new URL(h.config.appUrl).origin;
    for (const headers of [
      { 'Sec-Fetch-Site': 'same-origin', Origin: own },
      { 'Sec-Fetch-Site': 'none' },
      { Origin: own },
      {},
    ]) {
      const res = await signedIn.get('/api/odata/Account?$top=1').set('X-CSRF', '1').set(headers);
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
  });
});
