/**
 * What an exploratory usability review found, kept from coming back: text of any length stays inside the page at
 * both widths, Creatio's validation message appears next to the form, a double click while Creatio is slow moves one
 * page, keyboard focus survives a re-render, screen readers hear about empty results and explorer answers, and the
 * explorer's Reset, collection switch and Ctrl+Enter do what a person expects.
 *
 * One signed-in page for the whole file; each test leaves it on /accounts or /explorer as it found it.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { launchBrowser, signInOnSandboxPage, VIEWPORTS } from '../support/browser.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const alice = findUserByUsername('alice')!;

let harness: Harness;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  [harness, browser] = await Promise.all([startHarness(), launchBrowser()]);
  context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  page = await context.newPage();
  await page.goto(`${harness.baseUrl}/accounts`);
  await signInOnSandboxPage(page, alice, harness.baseUrl);
  await page.locator('#accounts-region[aria-busy="false"]').waitFor({ state: 'attached' });
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
});

/** The accounts table has finished loading. */
async function settled(): Promise<void> {
  await expect.poll(() => page.locator('#accounts-region').getAttribute('aria-busy')).toBe('false');
}

async function search(text: string): Promise<void> {
  await page.getByLabel('Search by name').fill(text);
  await expect.poll(() => new URL(page.url()).searchParams.get('q') ?? '').toBe(text);
  await settled();
}

/** How far the page (or one element) is wider than its box: 0 when nothing sticks out. */
function overflow(selector = 'html'): Promise<number> {
  return page
    .locator(selector)
    .evaluate((node) =>
      node === document.documentElement
        ? node.scrollWidth - window.innerWidth
        : node.scrollWidth - node.clientWidth,
    );
}

const focused = () =>
  page.evaluate(() => {
    const node = document.activeElement as HTMLElement;
    return node.id || node.getAttribute('aria-label') || node.tagName;
  });

describe('the Accounts page, reviewed as a demanding user', () => {
  // A test that failed half-way must not leave a modal dialog over the next one.
  beforeEach(() =>
    page.evaluate(() => {
      for (const dialog of document.querySelectorAll('dialog')) dialog.close();
    }),
  );

  it('keeps a 250-character name with markup, quotes and emoji inside the page at 1280 and 390 px', async () => {
    const name = `Ünïcödé “Quotes” 'single' <b>bold</b> & 🚀 ${'Unbrokenwordwithoutspaces'.repeat(9)}`.slice(
      0,
      250,
    );
    await search(name.slice(0, 30));
    await page.setViewportSize(VIEWPORTS.phone);
    try {
      await page.getByRole('button', { name: 'New account' }).click();
      const form = page.locator('#account-dialog');
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('Notes').fill('A long note. '.repeat(80));
      await form.getByRole('button', { name: 'Create account' }).click();
      await expect.poll(() => page.locator('#accounts-body .account-name').allTextContents()).toEqual([name]);

      expect(await page.locator('#accounts-notice').textContent()).toContain(name);
      expect(await overflow()).toBeLessThanOrEqual(0);
      // Notes on a phone card: three lines, not the whole text.
      const notesHeight = await page.locator('#accounts-body .cell-sub').evaluate((n) => n.clientHeight);
      expect(notesHeight).toBeLessThan(70);
      // Content keeps its distance from the footer on phones too.
      expect(
        await page.locator('main').evaluate((n) => Number.parseFloat(getComputedStyle(n).paddingBottom)),
      ).toBe(48);

      await page.getByRole('button', { name: `Delete ${name}` }).click();
      expect(await overflow('#delete-dialog')).toBeLessThanOrEqual(0);
      await page.keyboard.press('Escape');

      await page.setViewportSize(VIEWPORTS.desktop);
      expect(await overflow()).toBeLessThanOrEqual(0);
      expect(await overflow('#accounts-region')).toBeLessThanOrEqual(0);
      expect(await page.locator('main b').count()).toBe(0);
    } finally {
      await page.setViewportSize(VIEWPORTS.desktop);
    }
  });

  it("shows Creatio's message next to the form for an empty name, with the field marked and focused", async () => {
    await page.getByRole('button', { name: 'New account' }).click();
    const dialog = page.locator('#account-dialog');
    await dialog.getByLabel('Name').fill('   ');
    await page.keyboard.press('Enter');

    const alert = dialog.getByRole('alert');
    await expect.poll(() => alert.textContent()).toContain("The column 'Name' of 'Account' is required");
    expect(await dialog.isVisible()).toBe(true);
    expect(await focused()).toBe('account-name');
    expect(await dialog.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
    expect(harness.sandbox.stats.creatioRequests.at(-1)?.method).toBe('POST');

    await page.keyboard.press('Escape');
    expect(await dialog.isVisible()).toBe(false);
    expect(await focused()).toBe('new-account');
  });

  it('moves one page on a double click while Creatio is slow, with a visible loading state', async () => {
    await search('');
    harness.sandbox.faults.latencyMs = 600;
    try {
      await page.getByRole('button', { name: 'Next →' }).dblclick();
      expect(await page.getByTestId('loading').isVisible()).toBe(true);
      await settled();
      expect(new URL(page.url()).searchParams.get('page')).toBe('2');
      expect(await page.locator('#accounts-summary').textContent()).toMatch(/^Showing 21–40 of/);
    } finally {
      harness.sandbox.faults.latencyMs = 0;
    }
  });

  it('gives the focus back to the same row after a keyboard edit, and to the table after a delete', async () => {
    const row = page.locator('#accounts-body tr').nth(3);
    const name = (await row.locator('.account-name').textContent()) ?? '';
    await row.getByRole('button', { name: `Edit ${name}` }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#account-dialog').getByLabel('City').fill('Tromsø');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#accounts-notice').textContent()).toContain('Saved changes');
    await settled();
    expect(await focused()).toBe(`Edit ${name}`);

    const throwaway = await page.evaluate(async () => {
      const response = await fetch('/api/odata/Account', {
        method: 'POST',
        headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ Name: `Throwaway ${Date.now()}` }),
      });
      return ((await response.json()) as { Name: string }).Name;
    });
    await search(throwaway);
    await page.getByRole('button', { name: `Delete ${throwaway}` }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Delete account' }).click();
    await expect.poll(() => page.locator('#accounts-notice').textContent()).toContain('Deleted account');
    await settled();
    expect(await focused()).toBe('accounts-region');
  });

  it('announces an empty result to screen readers and hides the pager with nothing to page', async () => {
    await search('no-such-account-anywhere');

    const announcer = page.locator('#accounts-announcer[role="status"]');
    expect(await announcer.textContent({ timeout: 2000 })).toBe(
      'No accounts match “no-such-account-anywhere”',
    );
    expect(await page.locator('#accounts-pagination').isHidden()).toBe(true);

    await search('');
    expect(await announcer.textContent()).toMatch(/^Showing 1–20 of \d+ accounts$/);
    expect(await page.locator('#accounts-pagination').isVisible()).toBe(true);
  });
});

describe('the OData explorer, reviewed as a demanding user', () => {
  beforeAll(async () => {
    await page.goto(`${harness.baseUrl}/explorer`);
  });

  const requestUrl = () => page.getByTestId('request-url').textContent();

  it("shows and announces Creatio's message for an invalid $filter; Ctrl+Enter runs from the $filter box", async () => {
    // The URL preview must not be a live region: it would be read out at every keystroke.
    expect(await page.getByTestId('request-url').getAttribute('aria-live')).toBe('off');

    await page.getByLabel('$filter').fill("Name eq 'unterminated");
    await page.keyboard.press('Control+Enter');

    await expect.poll(() => page.getByTestId('response-status').textContent()).toBe('400 Bad Request');
    expect(await page.locator('#explorer-error [role="alert"]').textContent()).toContain(
      'unterminated string literal',
    );
    expect(await page.locator('#explorer-announcer').textContent()).toBe('400 Bad Request.');
    expect(await page.getByLabel('$top').evaluate((input) => input.getAttribute('aria-describedby'))).toBe(
      'top-hint',
    );
  });

  it('switches $select with the collection, and Reset comes back to the starting query', async () => {
    const initial = 'GET /api/odata/Account?$select=Id,Name,City&$top=10';
    await page.getByLabel('$filter').fill('');
    expect(await requestUrl()).toBe(initial);

    await page.getByLabel('Collection').selectOption('Contact');
    expect(await requestUrl()).toBe('GET /api/odata/Contact?$select=Id,Name,Email,JobTitle&$top=10');
    await page.getByRole('button', { name: 'Run query' }).click();
    await expect.poll(() => page.getByTestId('response-status').textContent()).toBe('200 OK');
    expect(await page.locator('#explorer-error').textContent()).toBe('');
    expect(await page.locator('#explorer-announcer').textContent()).toMatch(/^200 OK: 10 rows in \d+ ms\.$/);

    await page.getByRole('button', { name: 'Reset' }).click();
    await expect.poll(requestUrl).toBe(initial);
  });
});
