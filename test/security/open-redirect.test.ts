/**
 * returnTo cannot send a browser anywhere but a local path (RFC 9700 §4.11 open redirectors, ASVS v5.0.0-3.7.2 /
 * v5.0.0-10.x): the parser on every payload, then the whole sign-in with the worst of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { toSafeReturnTo } from '../../server/security/return-to.ts';
import { type Agent, type Harness, startHarness } from '../support/harness.ts';
import { completeSandboxLogin } from '../support/sandbox-login.ts';

const APP = 'https://app.example';

/** Whatever comes out, a browser resolving it against the app must stay on the app. */
function expectStaysLocal(result: string): void {
  expect(result.startsWith('/')).toBe(true);
  expect(new URL(result, APP).origin).toBe(APP);
}

/** Open-redirect payloads: each must become "/". */
const ATTACKS: ReadonlyArray<readonly [string, unknown]> = [
  ['protocol-relative', '//evil.com'],
  ['protocol-relative with path', '//evil.com/path?x=1'],
  ['slash backslash', '/\\evil.com'],
  ['two backslashes', '\\\\evil.com'],
  ['slash two backslashes', '/\\\\evil'],
  ['three slashes', '///evil'],
  ['four slashes', '////evil.com'],
  ['absolute https', 'https://evil.com'],
  ['absolute http, one slash', 'http:/evil'],
  ['scheme without slashes', 'http:evil.com'],
  ['javascript URL', 'javascript:alert(1)'],
  ['data URL', 'data:text/html,<script>alert(1)</script>'],
  ['encoded dot-dot after host', '//evil.com/%2f..'],
  ['encoded slashes', '/%2f%2fevil.com'],
  ['encoded slashes, upper case', '/%2F%2Fevil.com'],
  ['encoded backslash', '/%5cevil.com'],
  ['encoded slashes without a leading slash', '%2f%2fevil.com'],
  ['encoded tab', '/%09/evil.com'],
  ['tab inside', '/\t/evil.com'],
  ['tab after slash', '/\tevil'],
  ['CR LF then slashes', '/\r\n//evil'],
  ['LF then slash', '/\n/evil.com'],
  ['NUL', '/\u0000'],
  ['NUL before slash', '/\u0000/evil.com'],
  ['DEL', '/\u007f/evil.com'],
  ['leading space', ' //evil'],
  ['leading tab', '\t//evil'],
  ['dot segment collapsing into //', '/.//evil'],
  ['dot-dot segment collapsing into //', '/..//evil'],
  ['dot-dot after a segment', '/a/..//evil'],
  ['encoded dot segment', '/.%2e//evil'],
  ['fully encoded dot segment', '/%2e%2e//evil.com'],
  ['sign-in route (would loop)', '/auth/login'],
  ['sign-in route with a query', '/auth/login?returnTo=/auth/login'],
  ['callback route', '/auth/callback?code=x&state=y'],
  ['sign-in route in capitals (Express ignores case)', '/AUTH/Login'],
  ['sign-in route reached through dot-dot', '/x/../auth/login'],
  ['bare /auth', '/auth'],
  ['relative path', 'accounts'],
  ['dot-relative path', './accounts'],
  ['empty string', ''],
  ['overlong', `/${'a'.repeat(2048)}`],
  ['array (?returnTo=a&returnTo=b)', ['/accounts', '//evil.com']],
  ['object (?returnTo[x]=y)', { x: '/accounts' }],
  ['number', 42],
  ['undefined', undefined],
  ['null', null],
];

describe('toSafeReturnTo: payloads that could leave the site become "/"', () => {
  it('covers a broad set of payloads', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(ATTACKS)('%s', (_name, payload) => {
    const result = toSafeReturnTo(payload);
    expect(result).toBe('/');
    expectStaysLocal(result);
  });
});

describe('toSafeReturnTo: look-alike characters', () => {
  it.each([
    ['fullwidth solidus', '/\uFF0F\uFF0Fevil.com'],
    ['fraction slash', '/\u2044\u2044evil.com'],
    ['division slash', '/\u2215\u2215evil.com'],
    ['fullwidth reverse solidus', '/\uFF3C\uFF3Cevil.com'],
  ])('%s may stay, percent-encoded in the path, but never leaves the origin', (_name, payload) => {
    const result = toSafeReturnTo(payload);
    expectStaysLocal(result);
    expect(result.startsWith('//')).toBe(false);
  });
});

describe('toSafeReturnTo: local paths are kept', () => {
  it.each([
    '/',
    '/accounts',
    '/accounts?page=2#x',
    '/explorer?entity=Account&$top=5',
    '/accounts/0a1b2c3d-0000-4000-8000-000000000001',
    '/authors',
    '/search?q=%C3%A9t%C3%A9',
  ])('%s', (path) => {
    const result = toSafeReturnTo(path);
    expect(result).toBe(path);
    expectStaysLocal(result);
  });

  it('normalises harmless dot segments instead of refusing them', () => {
    expect(toSafeReturnTo('/a/./b/../accounts')).toBe('/a/accounts');
  });

  it('accepts exactly 2048 characters and refuses one more', () => {
    const longest = `/${'a'.repeat(2047)}`;
    expect(toSafeReturnTo(longest)).toBe(longest);
    expect(toSafeReturnTo(`${longest}a`)).toBe('/');
  });
});

describe('returnTo through a real sign-in', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  const alice = findUserByUsername('alice')!;

  async function freshCallback(agent: Agent, returnTo: string): Promise<string> {
    const login = await agent.get('/auth/login').query({ returnTo }).expect(302);
    const callback = await completeSandboxLogin(login.headers.location as string, alice);
    return `${callback.pathname}${callback.search}`;
  }

  it('sends only local return paths back', async () => {
    for (const [returnTo, expected] of [
      ['//evil.example', '/'],
      ['/\\evil.example', '/'],
      ['https://evil.example/', '/'],
      ['/%2f%2fevil.example', '/'],
      ['/explorer?entity=Contact', '/explorer?entity=Contact'],
    ] as const) {
      const agent = h.agent();
      const res = await agent.get(await freshCallback(agent, returnTo)).expect(302);
      expect(res.headers.location, returnTo).toBe(expected);
    }
  });
});
