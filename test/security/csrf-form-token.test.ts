/**
 * Cross-site request forgery on the one form the UI posts (sign-out): without the session's synchroniser token it
 * is refused and the session stays (RFC 10017 BFF CSRF, ASVS v5.0.0-3.5.1). The API's X-CSRF header is proven in
 * test/integration/proxy.test.ts ("answers 403 without X-CSRF …") and cross-origin-requests.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('CSRF on the sign-out form', () => {
  it('refuses a cross-site form post without the CSRF token and keeps the session', async () => {
    const agent = h.agent();
    await h.signIn(agent);
    const res = await agent
      .post('/auth/logout')
      .type('form')
      .send({ _csrf: 'guess' })
      .set('Accept', 'text/html');
    expect(res.status).toBe(403);
    await agent.get('/auth/session').expect(200, /"authenticated":true/);
  });
});
