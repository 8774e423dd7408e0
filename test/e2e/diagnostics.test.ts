/**
 * The QA engineers' /diagnostics page in a real Chromium: signed out and signed in it shows every check with its
 * status, the redirect URI it verified, and nothing secret (no client secret, session secret or token); with the
 * redirect URL registered with a trailing slash it shows the failure, the near miss and the fix.
 *
 * The page reuses one run of the shared checks for a few seconds, so the broken set-up gets a harness of its own,
 * broken before its first request, instead of waiting for that reuse to end.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import {
  JWT_PATTERN,
  launchBrowser,
  readBrowserVisibleState,
  SCREENSHOT_DIR,
  screenshotBothWidths,
  signInOnSandboxPage,
  VIEWPORTS,
} from '../support/browser.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const alice = findUserByUsername('alice')!;

let harness: Harness;
/** Its Identity Service knows the BFF's redirect URI only with a trailing slash: the classic near miss. */
let broken: Harness;
let browser: Browser;
/** Script errors and CSP violations (the CSP forbids inline script and style). */
const pageProblems: string[] = [];

/** Replaces the BFF client's registered redirect URL, as an administrator editing it in Creatio would. */
function registerWithTrailingSlash(target: Harness): void {
  const client = target.sandbox.registry.get(target.sandbox.bffClient.clientId);
  const registered = client?.redirectUrls.find((r) => r.url === target.config.redirectUri);
  if (!registered) throw new Error(`the sandbox has no redirect URL ${target.config.redirectUri}`);
  target.sandbox.registry.updateRedirectUrl(registered.id, `${target.config.redirectUri}/`);
}

beforeAll(async () => {
  [harness, broken, browser] = await Promise.all([startHarness(), startHarness(), launchBrowser()]);
  registerWithTrailingSlash(broken);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([harness?.close(), broken?.close()]);
});

/** A fresh browser context (own cookies) per visit; browser.close() ends them all. */
async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageProblems.push(`${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    // Only the BFF's pages: the sandbox's login page is not ours to judge.
    const onBff = [harness.baseUrl, broken.baseUrl].some((url) => page.url().startsWith(url));
    if (message.type() === 'error' && onBff) pageProblems.push(`${page.url()}: ${message.text()}`);
  });
  return page;
}

const check = (page: Page, id: string) => page.getByTestId(`check-${id}`);

/** The value of one label/value row of a check's details (present in the page whether the list is open or not). */
function detail(page: Page, id: string, label: string) {
  return check(page, id)
    .locator('dl > div')
    .filter({ has: page.locator('dt').getByText(label, { exact: true }) })
    .locator('dd')
    .textContent();
}

/** The whole HTML, cookies and storages: none may hold a secret or a token. */
async function expectNothingSecret(page: Page, target: Harness): Promise<void> {
  const visible = Object.values(await readBrowserVisibleState(page)).join('\n');
  for (const secret of [target.config.clientSecret, ...target.config.sessionSecrets]) {
    expect(visible).not.toContain(secret);
  }
  expect(visible).not.toContain('eyJ');
  expect(visible).not.toMatch(JWT_PATTERN);
}

describe('/diagnostics', () => {
  it('signed out: shows the redirect URI check passed with the exact URI, and nothing secret', async () => {
    const page = await newPage();
    const response = await page.goto(`${harness.baseUrl}/diagnostics`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['cache-control']).toBe('no-store');

    expect(await page.getByTestId('diagnostics-summary').getAttribute('data-ok')).toBe('true');
    const redirectUri = check(page, 'redirect-uri');
    expect(await redirectUri.getAttribute('data-status')).toBe('pass');
    expect(await redirectUri.locator('.check-summary').textContent()).toContain(
      `The Identity Service accepts ${harness.config.redirectUri} for client ${harness.config.clientId}`,
    );
    expect(await detail(page, 'redirect-uri', 'sent by the app')).toBe(harness.config.redirectUri);
    // A passing check needs no fix.
    expect(await redirectUri.locator('.check-fix').count()).toBe(0);
    // The check that needs a signed-in user says so instead of failing.
    expect(await check(page, 'creatio-as-user').getAttribute('data-status')).toBe('skip');
    await expectNothingSecret(page, harness);

    await screenshotBothWidths(page, 'diagnostics-signed-out');
  });

  it("signed in: also calls Creatio with the user's own token, which it never shows", async () => {
    const page = await newPage();
    await page.goto(`${harness.baseUrl}/auth/login?returnTo=/diagnostics`);
    await signInOnSandboxPage(page, alice, harness.baseUrl);
    expect(new URL(page.url()).pathname).toBe('/diagnostics');

    expect(await page.getByTestId('header-user-name').textContent()).toContain('Alice');
    expect(await check(page, 'redirect-uri').getAttribute('data-status')).toBe('pass');
    expect(await detail(page, 'redirect-uri', 'sent by the app')).toBe(harness.config.redirectUri);
    expect(await check(page, 'creatio-as-user').getAttribute('data-status')).toBe('pass');
    const summary = page.getByTestId('diagnostics-summary');
    expect(await summary.getAttribute('data-ok')).toBe('true');
    expect(await summary.textContent()).toContain('All 13 checks passed');
    await expectNothingSecret(page, harness);

    await screenshotBothWidths(page, 'diagnostics-signed-in');
  });

  it('redirect URL registered with a trailing slash: shows the failure, the near miss and the fix', async () => {
    const page = await newPage();
    await page.goto(`${broken.baseUrl}/diagnostics`);
    const { redirectUri } = broken.config;

    const summary = page.getByTestId('diagnostics-summary');
    expect(await summary.getAttribute('data-ok')).toBe('false');
    expect(await summary.textContent()).toContain('1 check failed');
    // The banner links straight to the failed check.
    expect(await summary.getByRole('link', { name: 'Redirect URI' }).getAttribute('href')).toBe(
      '#check-redirect-uri',
    );

    const failed = check(page, 'redirect-uri');
    expect(await failed.getAttribute('data-status')).toBe('fail');
    expect(await failed.locator('.check-summary').textContent()).toContain(
      `The Identity Service rejects ${redirectUri} but accepts ${redirectUri}/ (`,
    );
    expect(await failed.locator('.check-fix').textContent()).toContain(
      `Register ${redirectUri} exactly: npm run redirect-urls -- add ${redirectUri}`,
    );
    expect(await detail(page, 'redirect-uri', 'accepted instead')).toContain(`${redirectUri}/ (`);
    await expectNothingSecret(page, broken);

    await screenshotBothWidths(page, 'diagnostics-failing');
    // The dark palette once, at the width where the most colour is on screen.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${SCREENSHOT_DIR}diagnostics-failing-dark-desktop.png`, fullPage: true });
  });

  it('runs no inline script or style (the CSP would block them) and no script fails', () => {
    expect(pageProblems).toEqual([]);
  });
});
