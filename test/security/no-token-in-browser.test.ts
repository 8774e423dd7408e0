/**
 * No access or refresh token reaches the browser, in any response, header, cookie or redirect of the whole flow;
 * the ID token only as id_token_hint to the end-session endpoint (RFC 10017 BFF, ASVS v5.0.0-10.1.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { type Harness, sessionIdFromCookie, startHarness } from '../support/harness.ts';
import { completeSandboxLogin, setCookies } from '../support/sandbox-login.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const alice = findUserByUsername('alice')!;

describe('no token in the browser', () => {
  it('keeps no token in any response, header or cookie of the whole flow', async () => {
    const agent = h.agent();
    const seen: string[] = [];
    const record = (res: { text?: string; headers: Record<string, unknown> }) =>
      seen.push(res.text ?? '', JSON.stringify(res.headers));
    const login = await agent.get('/auth/login').query({ returnTo: '/' });
    record(login);
    const callback = await completeSandboxLogin(login.headers.location as string, alice);
    const done = await agent.get(`${callback.pathname}${callback.search}`);
    record(done);
    const cookie = setCookies(done).find((c) => c.startsWith(`${h.config.cookie.name}=`))!;
    const tokens = await h.bff.storage.tokens.get(sessionIdFromCookie(cookie.split(';')[0]!));
    record(await agent.get('/auth/session'));
    const logout = await agent.post('/auth/logout').set('X-CSRF', '1');
    // The contract's one exception: the ID token as id_token_hint in the end-session URL.
    const logoutUrl = new URL(logout.body.logoutUrl);
    expect(logoutUrl.searchParams.get('id_token_hint')).toBe(tokens?.idToken);
    logoutUrl.searchParams.delete('id_token_hint');
    seen.push(logoutUrl.href, JSON.stringify(logout.headers));

    const all = seen.join('\n');
    expect(tokens?.accessToken).toBeTruthy();
    expect(all).not.toContain(tokens?.accessToken);
    expect(all).not.toContain(tokens?.refreshToken);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // no JWT of any kind
    expect(all).not.toContain(h.config.clientSecret);
  });
});
