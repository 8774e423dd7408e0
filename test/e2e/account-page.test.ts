/**
 * The account page and several-at-once deletion in a real Chromium against the sandbox: an account with its
 * contacts (one `$expand` request), its logo read through the proxy and shown from a blob: URL, the logo replaced
 * through the SysImage stream column, selected accounts deleted in one `$batch` with a result for each, and a user
 * without "Access to OData" told exactly that.
 *
 * Tests in this file run in order and share one signed-in page.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { launchBrowser, screenshotBothWidths, signInOnSandboxPage, VIEWPORTS } from '../support/browser.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const alice = findUserByUsername('alice')!;
const dave = findUserByUsername('dave')!;

let harness: Harness;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/**
 * Script errors and CSP violations (a blob: image the CSP refused would show up here). "Failed to load resource"
 * is Chromium noting a 4xx answer, which several tests ask for on purpose.
 */
const pageProblems: string[] = [];

function watch(target: Page): void {
  target.on('pageerror', (error) => pageProblems.push(`${target.url()}: ${error.message}`));
  target.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageProblems.push(`${target.url()}: ${message.text()}`);
    }
  });
}

beforeAll(async () => {
  [harness, browser] = await Promise.all([startHarness(), launchBrowser()]);
  context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  page = await context.newPage();
  watch(page);
  await page.goto(`${harness.baseUrl}/accounts`);
  await signInOnSandboxPage(page, alice, harness.baseUrl);
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
});

/** The API as the page calls it (same cookie, X-CSRF): for setting the scene and checking what Creatio holds. */
async function callApi(path: string, init: { method?: string; body?: unknown } = {}) {
  return page.evaluate(
    async ({ path, init }) => {
      const response = await fetch(path, {
        method: init.method ?? 'GET',
        headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    { path, init },
  );
}

/** The bytes of a stream column, read through the proxy, as base64. */
async function readStream(path: string): Promise<{ status: number; base64: string }> {
  return page.evaluate(async (path) => {
    const response = await fetch(path, { headers: { 'X-CSRF': '1' } });
    const bytes = new Uint8Array(await response.arrayBuffer());
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return { status: response.status, base64: btoa(binary) };
  }, path);
}

/** A 96×96 PNG drawn by the browser itself: a real image file to upload. */
async function drawPng(): Promise<Buffer> {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 96;
    canvas.height = 96;
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#f59e0b';
    g.fillRect(0, 0, 96, 96);
    g.fillStyle = '#1e293b';
    g.beginPath();
    g.arc(48, 48, 28, 0, Math.PI * 2);
    g.fill();
    return canvas.toDataURL('image/png');
  });
  return Buffer.from(dataUrl.split(',')[1]!, 'base64');
}

let accountId: string;

describe('the account page', () => {
  it('opens from the account’s name in the list', async () => {
    await expect.poll(() => page.locator('#accounts-body tr').count()).toBeGreaterThan(0);
    // The first account with a seeded logo, by name.
    const withLogo = await callApi(
      '/api/odata/Account?$select=Id,Name&$filter=AccountLogoId ne null&$orderby=Name&$top=1',
    );
    const account = withLogo.body.value[0] as { Id: string; Name: string };
    accountId = account.Id;
    await page.getByLabel('Search by name').fill(account.Name);
    await expect.poll(() => page.locator('#accounts-body tr').count()).toBe(1);
    await page.getByRole('link', { name: account.Name }).click();
    await page.waitForURL(`${harness.baseUrl}/accounts/${accountId}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(account.Name);
  });

  it('shows the account’s details and its contacts, from one $expand request', async () => {
    const expected = await callApi(
      `/api/odata/Account(${accountId})?$expand=PrimaryContact,ContactCollectionByAccount`,
    );
    const contacts = expected.body.ContactCollectionByAccount as Array<{ Name: string }>;
    await expect.poll(() => page.locator('#contacts-body tr').count()).toBe(contacts.length);
    expect(await page.locator('#fact-primary').textContent()).toBe(expected.body.PrimaryContact.Name);
    expect(await page.locator('#contacts-body .badge-primary').count()).toBe(1);
    expect(await page.locator('#contacts-count').textContent()).toBe(String(contacts.length));
    expect(await page.locator('#account-region').getAttribute('aria-busy')).toBe('false');
  });

  it('shows the logo, read through the proxy with X-CSRF, from a blob: URL', async () => {
    const logo = page.getByRole('img', { name: /^Logo of / });
    await expect.poll(() => logo.isVisible()).toBe(true);
    expect(await logo.getAttribute('src')).toMatch(/^blob:/);
    await expect.poll(() => logo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await screenshotBothWidths(page, 'account');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshotBothWidths(page, 'account-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('replaces the logo through the SysImage stream column, and the new bytes are what Creatio holds', async () => {
    const before = await callApi(`/api/odata/Account(${accountId})?$select=AccountLogoId`);
    const oldLogoId = before.body.AccountLogoId as string;
    const oldSrc = await page.locator('#account-logo').getAttribute('src');
    const png = await drawPng();

    await page
      .locator('#logo-file')
      .setInputFiles({ name: 'new-logo.png', mimeType: 'image/png', buffer: png });

    await expect.poll(() => page.locator('#logo-status').textContent()).toBe('Logo replaced.');
    const src = await page.locator('#account-logo').getAttribute('src');
    expect(src).toMatch(/^blob:/);
    expect(src).not.toBe(oldSrc);
    const after = await callApi(`/api/odata/Account(${accountId})?$select=AccountLogoId`);
    const newLogoId = after.body.AccountLogoId as string;
    expect(newLogoId).not.toBe(oldLogoId);
    const stored = await readStream(`/api/odata/SysImage(${newLogoId})/Data`);
    expect(Buffer.from(stored.base64, 'base64').equals(png)).toBe(true);
    // The old image is gone with it, not left behind.
    await expect.poll(async () => (await callApi(`/api/odata/SysImage(${oldLogoId})`)).status).toBe(404);

    await page.reload();
    await expect
      .poll(() => page.locator('#account-logo').evaluate((img: HTMLImageElement) => img.naturalWidth))
      .toBe(96);
  });

  it('refuses a file that is not an image, and the logo stays', async () => {
    const logoBefore = (await callApi(`/api/odata/Account(${accountId})?$select=AccountLogoId`)).body
      .AccountLogoId;
    await page
      .locator('#logo-file')
      .setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await expect
      .poll(() => page.locator('#logo-error [role="alert"]').textContent())
      .toContain('is not an image');
    const logoAfter = (await callApi(`/api/odata/Account(${accountId})?$select=AccountLogoId`)).body
      .AccountLogoId;
    expect(logoAfter).toBe(logoBefore);
  });

  it('says so when the account does not exist or is not yours', async () => {
    await page.goto(`${harness.baseUrl}/accounts/00000000-0000-4000-8000-000000000000`);
    await expect
      .poll(() => page.locator('#account-error [role="alert"]').textContent())
      .toContain('does not exist in Creatio, or you may not see it');
    const notAGuid = await page.goto(`${harness.baseUrl}/accounts/not-a-guid`);
    expect(notAGuid?.status()).toBe(404);
  });
});

describe('deleting several accounts in one $batch', () => {
  it('deletes the selected accounts and says, for each, what happened', async () => {
    const names = ['Batch Delete One', 'Batch Delete Two', 'Batch Delete Three'];
    const ids: string[] = [];
    for (const Name of names)
      ids.push((await callApi('/api/odata/Account', { method: 'POST', body: { Name } })).body.Id);

    await page.goto(`${harness.baseUrl}/accounts?q=Batch%20Delete`);
    await expect.poll(() => page.locator('#accounts-body tr').count()).toBe(3);
    await page.getByRole('checkbox', { name: 'Select every account on this page' }).check();
    expect(await page.locator('#selection-count').textContent()).toBe('3 accounts selected');
    await screenshotBothWidths(page, 'accounts-selected');

    // Meanwhile, in another tab, one of them goes.
    expect((await callApi(`/api/odata/Account(${ids[1]})`, { method: 'DELETE' })).status).toBe(204);

    const before = harness.sandbox.stats.creatioRequests.length;
    await page.getByRole('button', { name: 'Delete selected' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete 3 accounts?' });
    await dialog.getByRole('button', { name: 'Delete 3' }).click();

    await expect
      .poll(() => page.locator('#bulk-results .alert-success').textContent())
      .toBe('Deleted 2 accounts.');
    const failure = page.locator('#bulk-results .alert-error');
    expect(await failure.textContent()).toContain('Batch Delete Two');
    expect(await failure.textContent()).toContain(
      'no longer in Creatio (deleted meanwhile, or no longer yours)',
    );
    const batchCalls = harness.sandbox.stats.creatioRequests
      .slice(before)
      .filter((r) => r.url === '/0/odata/$batch');
    expect(batchCalls).toHaveLength(1);
    expect(batchCalls[0]!.headers.prefer).toBe('continue-on-error');

    await expect.poll(() => page.locator('#accounts-empty').isVisible()).toBe(true);
    expect(await page.locator('#selection-bar').isHidden()).toBe(true);
    await screenshotBothWidths(page, 'accounts-batch-delete');
  });

  it('ran without a script error or a Content-Security-Policy violation', () => {
    expect(pageProblems).toEqual([]);
  });
});

describe('a user without "Access to OData"', () => {
  it('sees Creatio’s message as such, with what to ask the administrator for', async () => {
    const daveContext = await browser.newContext({ viewport: VIEWPORTS.desktop });
    try {
      const davePage = await daveContext.newPage();
      await davePage.goto(`${harness.baseUrl}/accounts`);
      await signInOnSandboxPage(davePage, dave, harness.baseUrl);
      const alert = davePage.locator('#accounts-error [role="alert"]');
      await expect
        .poll(() => alert.locator('.alert-title').textContent())
        .toBe('Current user does not have sufficient permissions to use OData');
      expect(await alert.textContent()).toContain('“Access to OData”');
      expect(await alert.textContent()).not.toContain('Terrasoft.');
      await screenshotBothWidths(davePage, 'accounts-no-odata-access');
    } finally {
      await daveContext.close();
    }
  });
});
