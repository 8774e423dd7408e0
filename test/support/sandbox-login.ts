/**
 * Signs a demo user in at the sandbox Identity Service without a browser: follows the authorization request,
 * posts the login form and stops at the redirect to the client's redirect_uri. Cookies are kept by hand (fetch with
 * redirect: 'manual' would drop them), by name only: every cookie here belongs to the one Identity Service host.
 */

import { parseSetCookie } from 'cookie';
import { expect } from 'vitest';
import { type DemoUser, findUserByUsername } from '../../sandbox/users.ts';
import type { Agent } from './harness.ts';

/** The Identity Service's cookies, name → value. Pass the same jar again to reuse the sign-in session. */
export type SandboxCookieJar = Map<string, string>;

const MAX_HOPS = 10;

/**
 * Returns the callback URL the Identity Service redirected to (with code, state and iss, or with error).
 * Throws when the sign-in is refused or the flow ends anywhere else.
 */
export async function completeSandboxLogin(
  authorizeUrl: string,
  user: { readonly username: string; readonly password: string },
  cookies: SandboxCookieJar = new Map(),
): Promise<URL> {
  let url = new URL(authorizeUrl);
  const redirectUri = url.searchParams.get('redirect_uri');
  if (!redirectUri) throw new Error('the authorization URL has no redirect_uri');
  const identityServiceOrigin = url.origin;
  let request: RequestInit = { method: 'GET' };

  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const response = await fetch(url, {
      ...request,
      redirect: 'manual',
      headers: { ...(request.headers as Record<string, string>), cookie: toCookieHeader(cookies) },
    });
    storeCookies(cookies, response.headers.getSetCookie());

    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url);
      if (isAt(next, redirectUri)) return next;
      if (next.origin !== identityServiceOrigin)
        throw new Error(`redirected away from the Identity Service: ${next}`);
      url = next;
      request = { method: 'GET' };
      continue;
    }

    const html = await response.text();
    const error = /<p class="error"[^>]*>([^<]*)</.exec(html)?.[1];
    if (error) throw new Error(`the sandbox refused the sign-in: ${decodeEntities(error)}`);
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (response.status !== 200 || !action) {
      throw new Error(
        `unexpected ${response.status} from ${url.pathname}: ${html.replace(/<[^>]+>/g, ' ').slice(0, 300)}`,
      );
    }
    url = new URL(decodeEntities(action), url);
    request = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: user.username, password: user.password }).toString(),
    };
  }
  throw new Error(`no redirect to ${redirectUri} after ${MAX_HOPS} requests`);
}

/** Exact match of scheme, host, port and path, as the Identity Service matches redirect URIs. */
function isAt(url: URL, redirectUri: string): boolean {
  const expected = new URL(redirectUri);
  return url.origin === expected.origin && url.pathname === expected.pathname;
}

function toCookieHeader(cookies: SandboxCookieJar): string {
  return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
}

function storeCookies(cookies: SandboxCookieJar, setCookieHeaders: readonly string[]): void {
  for (const header of setCookieHeaders) {
    const { name, value, maxAge, expires } = parseSetCookie(header);
    const expired =
      (maxAge !== undefined && maxAge <= 0) || (expires !== undefined && expires.getTime() <= Date.now());
    if (expired || !value) cookies.delete(name);
    else cookies.set(name, value);
  }
}

function decodeEntities(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

/**
 * Signs out at the sandbox Identity Service itself, as a person would there (not through the app): opens the
 * end-session page with the Identity Service's cookies and confirms it. oidc-provider sends the back-channel logout
 * tokens before it answers, so when this resolves every app has been told.
 */
export async function signOutAtSandbox(identityServiceUrl: string, cookies: SandboxCookieJar): Promise<void> {
  const start = await fetch(`${identityServiceUrl}/connect/endsession`, {
    redirect: 'manual',
    headers: { cookie: toCookieHeader(cookies) },
  });
  storeCookies(cookies, start.headers.getSetCookie());
  const html = await start.text();
  const action = /<form[^>]*id="op\.logoutForm"[^>]*action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  if (start.status !== 200 || !action || !xsrf) {
    throw new Error(`unexpected end-session page (${start.status}): ${html.slice(0, 300)}`);
  }
  const confirm = await fetch(new URL(decodeEntities(action), identityServiceUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: toCookieHeader(cookies) },
    body: new URLSearchParams({ xsrf: decodeEntities(xsrf), logout: 'yes' }).toString(),
  });
  storeCookies(cookies, confirm.headers.getSetCookie());
  if (confirm.status >= 400) throw new Error(`the end-session confirmation answered ${confirm.status}`);
}

/** Starts a login on the BFF and returns the authorization URL it redirected to. */
export async function startLogin(agent: Agent, returnTo?: string): Promise<URL> {
  const res = await agent
    .get('/auth/login')
    .query(returnTo === undefined ? {} : { returnTo })
    .expect(302);
  return new URL(res.headers.location as string);
}

/** The path + query of a callback the sandbox produced for a fresh login of `user` (alice by default). */
export async function freshCallback(
  agent: Agent,
  returnTo?: string,
  user: DemoUser = findUserByUsername('alice')!,
): Promise<string> {
  const callback = await completeSandboxLogin((await startLogin(agent, returnTo)).href, user);
  return `${callback.pathname}${callback.search}`;
}

/** Every Set-Cookie header of a response, as a list. */
export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  return ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
}

/** The BFF says this browser has no session. */
export async function expectSignedOut(agent: Agent): Promise<void> {
  const res = await agent.get('/auth/session').expect(200);
  expect(res.body).toEqual({ authenticated: false });
}
