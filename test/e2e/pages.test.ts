/**
 * The rest of the UI in a real Chromium: two people in two browser contexts see only their own accounts; the OData
 * explorer shows URL, status, timing and Creatio's JSON (errors as Creatio wrote them) and never renders data as
 * markup; a cancelled sign-in and an ended session explain themselves; a Creatio that does not answer gets a clear
 * message and "Try again".
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoUser, findUserByUsername } from '../../sandbox/users.ts';
import {
  callApiFromPage,
  launchBrowser,
  screenshotBothWidths,
  signInOnSandboxPage,
  VIEWPORTS,
} from '../support/browser.ts';
import { type Harness, startHarness } from '../support/harness.ts';

/** Short, so the "Creatio does not answer" test needs to wait only briefly. */
const PROXY_TIMEOUT_MS = 1500;
const alice = findUserByUsername('alice')!;
const bob = findUserByUsername('bob')!;

let harness: Harness;
let browser: Browser;

beforeAll(async () => {
  [harness, browser] = await Promise.all([
    startHarness({ env: { PROXY_TIMEOUT_MS: String(PROXY_TIMEOUT_MS) } }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
});

/** A fresh browser context (own cookies), signed in as `user`, showing /accounts with its first page loaded. */
async function openAccountsAs(user: DemoUser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await context.newPage();
  await page.goto(`${harness.baseUrl}/accounts`);
  await signInOnSandboxPage(page, user, harness.baseUrl);
  await waitForTable(page);
  return { context, page };
}

async function waitForTable(page: Page): Promise<void> {
  await page.locator('#accounts-region[aria-busy="false"]').waitFor({ state: 'attached' });
}

describe('two people in two browser contexts', () => {
  it('each sees only their own accounts, and cannot change the other one’s', async () => {
    const [asAlice, asBob] = await Promise.all([openAccountsAs(alice), openAccountsAs(bob)]);
    try {
      const namesOn = (page: Page) => page.locator('#accounts-body .account-name').allTextContents();
      const [aliceNames, bobNames] = await Promise.all([namesOn(asAlice.page), namesOn(asBob.page)]);
      expect(aliceNames.length).toBeGreaterThan(0);
      expect(bobNames.length).toBeGreaterThan(0);
      expect(aliceNames.filter((name) => bobNames.includes(name))).toEqual([]);
      expect(await asAlice.page.getByTestId('header-user-name').textContent()).toBe(alice.name);
      expect(await asBob.page.getByTestId('header-user-name').textContent()).toBe(bob.name);

      const owners = await callApiFromPage(asAlice.page, '/api/odata/Account?$select=OwnerId&$top=1000');
      expect(new Set(owners.body.value.map((row: { OwnerId: string }) => row.OwnerId))).toEqual(
        new Set([alice.sub]),
      );

      const created = await callApiFromPage(asAlice.page, '/api/odata/Account', {
        method: 'POST',
        body: { Name: `Alice private ${Date.now()}` },
      });
      expect(created.status).toBe(201);
      const id: string = created.body.Id;

      await asBob.page.getByLabel('Search by name').fill(created.body.Name);
      await expect.poll(() => asBob.page.locator('#accounts-empty').isVisible()).toBe(true);
      const bobPatch = await callApiFromPage(asBob.page, `/api/odata/Account(${id})`, {
        method: 'PATCH',
        body: { Name: 'Taken over by Bob' },
      });
      expect(bobPatch.status).toBe(404);
      const stillAlices = await callApiFromPage(asAlice.page, `/api/odata/Account(${id})?$select=Name`);
      expect(stillAlices.body.Name).toBe(created.body.Name);
    } finally {
      await Promise.all([asAlice.context.close(), asBob.context.close()]);
    }
  });
});

describe('the OData explorer', () => {
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    ({ context, page } = await openAccountsAs(alice));
    await page.getByRole('link', { name: 'OData explorer' }).click();
    await page.waitForURL(`${harness.baseUrl}/explorer`);
  });

  afterAll(() => context?.close());

  it('shows the request URL as it is typed, then status, timing and the pretty JSON', async () => {
    await page.getByLabel('Collection').selectOption('Contact');
    await page.getByLabel('$select').fill('Name,Email');
    await page.getByLabel('$filter').fill("contains(Name,'a')");
    await page.getByLabel('$orderby').fill('Name desc');
    await page.getByLabel('$top').fill('3');
    await page.getByLabel('$count=true').check();

    expect(await page.getByTestId('request-url').textContent()).toBe(
      "GET /api/odata/Contact?$select=Name,Email&$filter=contains(Name,'a')&$orderby=Name%20desc&$top=3&$count=true",
    );
    await page.getByRole('button', { name: 'Run query' }).click();

    await expect.poll(() => page.getByTestId('response-status').textContent()).toBe('200 OK');
    expect(await page.getByTestId('response-time').textContent()).toMatch(/^\d+ ms$/);
    const shown = (await page.getByTestId('response-body').textContent()) ?? '';
    expect(shown).toContain('\n  "value": [');
    const json = JSON.parse(shown);
    expect(json.value).toHaveLength(3);
    expect(Object.keys(json.value[0]).filter((key) => !key.startsWith('@'))).toEqual(['Name', 'Email']);
    expect(json['@odata.count']).toBeGreaterThan(3);
    await screenshotBothWidths(page, 'explorer');
  });

  it("shows Creatio's own error message for a bad query", async () => {
    await page.getByLabel('$filter').fill('NoSuchColumn eq 1');
    await page.getByRole('button', { name: 'Run query' }).click();

    await expect.poll(() => page.getByTestId('response-status').textContent()).toBe('400 Bad Request');
    const json = JSON.parse((await page.getByTestId('response-body').textContent()) ?? '');
    expect(json.error.message).toContain('NoSuchColumn');
  });

  it('renders data from Creatio as text, never as markup', async () => {
    const payload = '<img src=x onerror="window.__injected=1">Evil & Co';
    const created = await callApiFromPage(page, '/api/odata/Account', {
      method: 'POST',
      body: { Name: payload },
    });
    expect(created.status).toBe(201);

    await page.getByLabel('Collection').selectOption('Account');
    await page.getByLabel('$select').fill('Id,Name');
    await page.getByLabel('$filter').fill(`Id eq ${created.body.Id}`);
    await page.getByRole('button', { name: 'Run query' }).click();
    await expect.poll(() => page.getByTestId('response-status').textContent()).toBe('200 OK');
    expect(await page.getByTestId('response-body').textContent()).toContain(JSON.stringify(payload));

    await page.goto(`${harness.baseUrl}/accounts?q=${encodeURIComponent('Evil & Co')}`);
    await waitForTable(page);
    expect(await page.locator('#accounts-body .account-name').allTextContents()).toEqual([payload]);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __injected?: number }).__injected)).toBeUndefined();
  });
});

describe('when something goes wrong', () => {
  it('a cancelled sign-in explains what happened and offers to sign in again', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const page = await context.newPage();
    try {
      await page.goto(`${harness.baseUrl}/`);
      await page.getByRole('link', { name: 'Sign in with Creatio' }).click();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${harness.baseUrl}/auth/callback`));

      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign-in did not complete');
      expect(await page.getByTestId('error-hint').textContent()).toContain('Sign in again');
      expect(await page.getByRole('link', { name: 'Sign in again' }).getAttribute('href')).toBe(
        '/auth/login',
      );
      await screenshotBothWidths(page, 'error-sign-in-cancelled');
    } finally {
      await context.close();
    }
  });

  it('an ended session says "sign in again" with a link that returns to the same view', async () => {
    const { context, page } = await openAccountsAs(alice);
    try {
      await context.clearCookies();
      await page.getByLabel('Search by name').fill('north');

      const link = page.getByRole('link', { name: 'sign in again' });
      await link.waitFor();
      expect(await page.locator('#accounts-error').textContent()).toContain(
        'Your session ended — sign in again',
      );
      expect(await link.getAttribute('href')).toBe(
        `/auth/login?returnTo=${encodeURIComponent('/accounts?q=north')}`,
      );

      await link.click();
      await signInOnSandboxPage(page, alice, harness.baseUrl);
      expect(page.url()).toBe(`${harness.baseUrl}/accounts?q=north`);
      await waitForTable(page);
      expect(await page.getByLabel('Search by name').inputValue()).toBe('north');
      for (const name of await page.locator('#accounts-body .account-name').allTextContents()) {
        expect(name.toLowerCase()).toContain('north');
      }
    } finally {
      await context.close();
    }
  });

  it('Creatio not answering gets a clear message, and "Try again" recovers', async () => {
    const { context, page } = await openAccountsAs(alice);
    try {
      harness.sandbox.faults.latencyMs = PROXY_TIMEOUT_MS + 1000;
      await page.getByRole('button', { name: 'Next →' }).click();

      const alert = page.locator('#accounts-error [role="alert"]');
      await alert.waitFor();
      expect(await alert.textContent()).toContain('Creatio is not answering right now');
      expect(await page.locator('#accounts-region').isHidden()).toBe(true);

      harness.sandbox.faults.latencyMs = 0;
      await page.getByRole('button', { name: 'Try again' }).click();
      await waitForTable(page);
      expect(await page.locator('#accounts-body tr').count()).toBe(20);
      expect(await page.locator('#accounts-error').textContent()).toBe('');
      // "Try again" is gone with the alert; the focus goes to the table, not back to the top of the document.
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('accounts-region');
    } finally {
      harness.sandbox.faults.latencyMs = 0;
      await context.close();
    }
  });
});
