/**
 * One person's whole visit in a real Chromium: open /accounts, sign in on the sandbox Identity Service's page, land
 * back on /accounts, browse, search, sort and page, create / edit / delete an account, keep working after the access
 * token expired (the BFF refreshes silently), then sign out — and through all of it no token reaches the browser.
 *
 * Tests in this file run in order and share one signed-in page, like a person's session.
 */
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import {
  JWT_PATTERN,
  launchBrowser,
  readBrowserVisibleState,
  screenshotBothWidths,
  signInOnSandboxPage,
  VIEWPORTS,
} from '../support/browser.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const ACCESS_TOKEN_TTL_SECONDS = 5;
const alice = findUserByUsername('alice')!;

let harness: Harness;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every response body the BFF sent this browser: none may carry a token. */
const bodiesFromBff: string[] = [];
/** Script errors and CSP violations on our pages (the CSP forbids inline script and style). */
const pageProblems: string[] = [];

beforeAll(async () => {
  [harness, browser] = await Promise.all([
    startHarness({ accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS }),
    launchBrowser(),
  ]);
  context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  page = await context.newPage();
  page.on('pageerror', (error) => pageProblems.push(`${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && page.url().startsWith(harness.baseUrl)) {
      pageProblems.push(`${page.url()}: ${message.text()}`);
    }
  });
  page.on('response', async (response) => {
    if (!response.url().startsWith(harness.baseUrl)) return;
    bodiesFromBff.push(
      `${JSON.stringify(await response.allHeaders())}\n${await response.text().catch(() => '')}`,
    );
  });
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
});

const rows = () => page.locator('#accounts-body tr');
const accountNames = () => page.locator('#accounts-body .account-name').allTextContents();
const summary = () => page.locator('#accounts-summary');

/** Runs `action` and returns the account-list requests the page sent meanwhile, once the table has settled. */
async function listRequestsDuring(action: () => Promise<void>): Promise<URL[]> {
  const sent: URL[] = [];
  const record = (request: Request) => {
    const url = new URL(request.url());
    if (url.pathname === '/api/odata/Account' && request.method() === 'GET') sent.push(url);
  };
  page.on('request', record);
  try {
    const settled = page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/api/odata/Account' && r.request().method() === 'GET',
    );
    await Promise.all([settled, action()]);
    await expect.poll(() => page.locator('#accounts-region').getAttribute('aria-busy')).toBe('false');
  } finally {
    page.off('request', record);
  }
  return sent;
}

function sessionIdFromCookie(value: string): string {
  // express-session's cookie is "s:<session id>.<signature>", URL-encoded.
  return decodeURIComponent(value).slice(2).split('.')[0]!;
}

describe('a signed-in person on the Accounts page', () => {
  it('shows the signed-out home page with a "Sign in with Creatio" button', async () => {
    await page.goto(`${harness.baseUrl}/`);
    const signIn = page.getByRole('link', { name: 'Sign in with Creatio' });
    await expect.poll(() => signIn.getAttribute('href')).toBe('/auth/login');
    await screenshotBothWidths(page, 'home-signed-out');
  });

  it('opening /accounts signs in through the sandbox login page and lands back on /accounts', async () => {
    await page.goto(`${harness.baseUrl}/accounts`);
    expect(new URL(page.url()).origin).toBe(new URL(harness.sandbox.identityServiceUrl).origin);

    await signInOnSandboxPage(page, alice, harness.baseUrl);

    expect(new URL(page.url()).pathname).toBe('/accounts');
    expect(await page.getByTestId('header-user-name').textContent()).toBe(alice.name);
  });

  it("lists the user's accounts 20 to a page with the total from $count", async () => {
    await expect.poll(() => rows().count()).toBe(20);
    const text = await summary().textContent();
    const total = Number(/^Showing 1–20 of (\d+) accounts$/.exec(text ?? '')?.[1]);
    expect(total).toBeGreaterThan(20);
    expect(await page.getByTestId('loading').isHidden()).toBe(true);
    await screenshotBothWidths(page, 'accounts');
  });

  it('sorts by a column header, asking Creatio with $orderby', async () => {
    const sent = await listRequestsDuring(() =>
      page.getByRole('button', { name: 'Name', exact: true }).click(),
    );

    expect(sent.at(-1)?.searchParams.get('$orderby')).toBe('Name desc');
    expect(await page.locator('th[data-sort="Name"]').getAttribute('aria-sort')).toBe('descending');
    const names = await accountNames();
    expect(names[0]!.localeCompare(names.at(-1)!)).toBeGreaterThan(0);

    await listRequestsDuring(() => page.getByRole('button', { name: 'Name', exact: true }).click());
    expect(await page.locator('th[data-sort="Name"]').getAttribute('aria-sort')).toBe('ascending');
  });

  it('pages with $top and $skip, and keeps the page in the address bar', async () => {
    const firstPage = await accountNames();
    const sent = await listRequestsDuring(() => page.getByRole('button', { name: 'Next →' }).click());

    expect(sent.at(-1)?.searchParams.get('$skip')).toBe('20');
    expect(sent.at(-1)?.searchParams.get('$top')).toBe('20');
    expect(sent.at(-1)?.searchParams.get('$count')).toBe('true');
    expect(await summary().textContent()).toMatch(/^Showing 21–40 of \d+ accounts$/);
    expect(new URL(page.url()).searchParams.get('page')).toBe('2');
    const secondPage = await accountNames();
    expect(secondPage.filter((name) => firstPage.includes(name))).toEqual([]);
  });

  it('searches by name after typing pauses, with one request for the whole word', async () => {
    const sent = await listRequestsDuring(() =>
      page.getByLabel('Search by name').pressSequentially('north', { delay: 40 }),
    );

    expect(sent.map((url) => url.searchParams.get('$filter'))).toEqual(["contains(Name,'north')"]);
    expect(sent[0]?.searchParams.get('$skip')).toBe('0');
    const names = await accountNames();
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name.toLowerCase()).toContain('north');
  });

  it('escapes quotes in the search as OData expects and shows an empty state', async () => {
    const sent = await listRequestsDuring(() => page.getByLabel('Search by name').fill("O'Brien"));

    expect(sent.at(-1)?.searchParams.get('$filter')).toBe("contains(Name,'O''Brien')");
    expect(await page.locator('#accounts-empty-title').textContent()).toBe("No accounts match “O'Brien”");
    expect(await page.locator('#accounts-error').textContent()).toBe('');
    expect(await rows().count()).toBe(0);
  });

  it('creates, edits and deletes an account, asking before the delete', async () => {
    const name = `E2E Fjord Analytics ${Date.now()}`;
    await listRequestsDuring(() => page.getByLabel('Search by name').fill(name));

    // Create
    await page.getByRole('button', { name: 'New account' }).click();
    const form = page.locator('#account-dialog');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('City').fill('Oslo');
    await form.getByLabel('Web').fill('https://fjord.example.com');
    await listRequestsDuring(() => form.getByRole('button', { name: 'Create account' }).click());
    expect(await page.locator('#accounts-notice').textContent()).toContain(`Created account “${name}”`);
    await expect.poll(() => rows().count()).toBe(1);
    expect(await rows().first().locator('[data-label="City"]').textContent()).toBe('Oslo');

    // Edit: only the changed column is sent
    await page.getByRole('button', { name: `Edit ${name}` }).click();
    expect(await form.getByLabel('Name').inputValue()).toBe(name);
    await form.getByLabel('City').fill('Bergen');
    await listRequestsDuring(() => form.getByRole('button', { name: 'Save changes' }).click());
    expect(await rows().first().locator('[data-label="City"]').textContent()).toBe('Bergen');
    const patch = harness.sandbox.stats.creatioRequests.findLast((r) => r.method === 'PATCH');
    expect(patch?.url).toMatch(/^\/0\/odata\/Account\([0-9a-f-]{36}\)$/);

    // Delete: Cancel keeps it, confirming removes it
    await page.getByRole('button', { name: `Delete ${name}` }).click();
    const confirm = page.locator('#delete-dialog');
    expect(await confirm.locator('#delete-account-name').textContent()).toBe(name);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await confirm.isVisible()).toBe(false);
    expect(await rows().count()).toBe(1);

    await page.getByRole('button', { name: `Delete ${name}` }).click();
    await listRequestsDuring(() => confirm.getByRole('button', { name: 'Delete account' }).click());
    expect(await page.locator('#accounts-notice').textContent()).toContain(`Deleted account “${name}”`);
    expect(await rows().count()).toBe(0);
    const methods = harness.sandbox.stats.creatioRequests.map((r) => r.method);
    expect(methods).toEqual(expect.arrayContaining(['POST', 'PATCH', 'DELETE']));
  });

  it('keeps working after the access token expired: the BFF refreshes it silently', async () => {
    await listRequestsDuring(() => page.getByLabel('Search by name').fill(''));
    const refreshesBefore = harness.sandbox.stats.tokenRequests.refresh_token;

    await page.waitForTimeout((ACCESS_TOKEN_TTL_SECONDS + 1) * 1000);
    await listRequestsDuring(() => page.getByRole('button', { name: 'Next →' }).click());

    expect(harness.sandbox.stats.tokenRequests.refresh_token).toBeGreaterThan(refreshesBefore);
    expect(await rows().count()).toBe(20);
    expect(await page.locator('#accounts-error').textContent()).toBe('');
  });

  it('shows name, e-mail and a session countdown on the signed-in home page', async () => {
    await page.goto(`${harness.baseUrl}/`);
    expect(await page.getByTestId('user-name').textContent()).toBe(alice.name);
    expect(await page.getByTestId('user-email').textContent()).toBe(alice.email);
    // SESSION_IDLE_MINUTES defaults to 30: the countdown starts just under 30:00.
    await expect.poll(() => page.getByTestId('session-countdown').textContent()).toMatch(/^(29|30):\d\d$/);
    await screenshotBothWidths(page, 'home-signed-in');
  });

  it('never lets a token reach the browser: not in cookies, storage, the page or any response', async () => {
    const cookies = await context.cookies(harness.baseUrl);
    const sessionCookie = cookies.find((cookie) => cookie.name === harness.config.cookie.name);
    expect(sessionCookie?.httpOnly).toBe(true);
    expect(sessionCookie?.sameSite).toBe('Lax');

    const tokens = await harness.bff.storage.tokens.get(sessionIdFromCookie(sessionCookie!.value));
    const secrets = [tokens?.accessToken, tokens?.refreshToken, tokens?.idToken];
    expect(secrets.every((secret) => typeof secret === 'string' && secret.length > 10)).toBe(true);

    for (const target of [
      `${harness.baseUrl}/`,
      `${harness.baseUrl}/accounts`,
      `${harness.baseUrl}/explorer`,
    ]) {
      await page.goto(target);
      await page.waitForLoadState('networkidle');
      const visible = await readBrowserVisibleState(page);
      for (const [where, text] of Object.entries(visible)) {
        expect(text, `${where} on ${target}`).not.toMatch(JWT_PATTERN);
        for (const secret of secrets) expect(text.includes(secret!), `${where} on ${target}`).toBe(false);
      }
    }
    for (const cookie of cookies) expect(cookie.value).not.toMatch(JWT_PATTERN);
    expect(bodiesFromBff.length).toBeGreaterThan(10);
    for (const body of bodiesFromBff) {
      expect(body).not.toMatch(JWT_PATTERN);
      for (const secret of secrets) expect(body.includes(secret!)).toBe(false);
    }
  });

  it('ran every page without a script error or a Content-Security-Policy violation', () => {
    expect(pageProblems).toEqual([]);
  });

  it('signs out with the header button; afterwards the API answers 401, even to the old cookie', async () => {
    const oldCookie = (await context.cookies(harness.baseUrl)).find(
      (c) => c.name === harness.config.cookie.name,
    )!;
    await page.goto(`${harness.baseUrl}/accounts`);

    await page.getByRole('button', { name: 'Sign out' }).click();
    // The Identity Service sends the browser back to "/" with the end-session `state` (06a01a7) in the query.
    await page.waitForURL((url) => url.origin === harness.baseUrl && url.pathname === '/');

    expect(await page.getByRole('link', { name: 'Sign in with Creatio' }).isVisible()).toBe(true);
    const fromPage = await page.evaluate(async () => {
      const response = await fetch('/api/odata/Account?$top=1', { headers: { 'X-CSRF': '1' } });
      return { status: response.status, body: await response.json() };
    });
    expect(fromPage).toEqual({
      status: 401,
      body: { error: 'unauthenticated', message: expect.any(String) },
    });

    const replayed = await fetch(`${harness.baseUrl}/api/odata/Account?$top=1`, {
      headers: { 'X-CSRF': '1', cookie: `${oldCookie.name}=${oldCookie.value}` },
    });
    expect(replayed.status).toBe(401);
    expect(harness.sandbox.stats.revocations.length).toBeGreaterThan(0);
  });
});
