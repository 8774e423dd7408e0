/**
 * "Your sessions" in a real Chromium: alice signs in from a laptop and a phone (two browser contexts), sees both
 * with "This device" on the right one, signs the phone out from the laptop with the keyboard, and the phone's next
 * API call is 401; bob sees only his own session and cannot end hers. Screenshots at 1280 and 390 px, light and
 * dark, are written to test/e2e/screenshots/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoUser, findUserByUsername } from '../../sandbox/users.ts';
import {
  callApiFromPage,
  launchBrowser,
  readBrowserVisibleState,
  screenshotBothWidths,
  signInOnSandboxPage,
  VIEWPORTS,
} from '../support/browser.ts';
import { type Harness, sessionIdFromCookie, startHarness } from '../support/harness.ts';

const alice = findUserByUsername('alice')!;
const bob = findUserByUsername('bob')!;
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

let harness: Harness;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [harness, browser] = await Promise.all([startHarness(), launchBrowser()]);
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await harness?.close();
});

async function openSessionsAs(
  user: DemoUser,
  options: { userAgent?: string; phone?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: options.phone ? VIEWPORTS.phone : VIEWPORTS.desktop,
    userAgent: options.userAgent,
  });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${harness.baseUrl}/account/sessions`);
  await signInOnSandboxPage(page, user, harness.baseUrl);
  await waitForList(page);
  return { context, page };
}

async function waitForList(page: Page): Promise<void> {
  await page.locator('#sessions-region[aria-busy="false"]').waitFor({ state: 'attached' });
}

describe('your sessions', () => {
  it('alice sees both her sessions, signs the other one out, and that browser is signed out', async () => {
    const laptop = await openSessionsAs(alice);
    const phone = await openSessionsAs(alice, { userAgent: IPHONE_SAFARI, phone: true });
    await laptop.page.reload();
    await waitForList(laptop.page);

    const rows = laptop.page.locator('.session-item');
    await expect.poll(() => rows.count()).toBe(2);
    const current = laptop.page.locator('.session-item', { hasText: 'This device' });
    expect(await current.count()).toBe(1);
    expect(await current.locator('.session-name').textContent()).toMatch(/^Chrome \d+ on Linux$/);
    const other = laptop.page.locator('.session-item', { hasNotText: 'This device' });
    expect(await other.locator('.session-name').textContent()).toBe('Safari 17 on iOS 17.5');
    expect(await current.getByRole('button').count()).toBe(0); // this device signs out with the header's button
    expect(await laptop.page.getByRole('link', { name: /Your sessions/ }).getAttribute('aria-current')).toBe(
      'page',
    );

    // The phone sees the same two, with "This device" on itself.
    const phoneCurrent = phone.page.locator('.session-item', { hasText: 'This device' });
    expect(await phoneCurrent.locator('.session-name').textContent()).toBe('Safari 17 on iOS 17.5');

    // No session id anywhere the page can read: handles only.
    const cookies = await laptop.context.cookies();
    const sessionCookie = cookies.find((c) => c.name === harness.config.cookie.name);
    const sessionId = sessionIdFromCookie(`${sessionCookie?.name}=${sessionCookie?.value}`);
    const visible = await readBrowserVisibleState(laptop.page);
    const listed = await callApiFromPage(laptop.page, '/auth/sessions');
    expect(JSON.stringify(visible)).not.toContain(sessionId);
    expect(JSON.stringify(listed.body)).not.toContain(sessionId);

    await screenshotBothWidths(laptop.page, 'sessions');
    await phone.page.emulateMedia({ colorScheme: 'dark' });
    await screenshotBothWidths(phone.page, 'sessions-dark');

    // Signed out from the laptop, by keyboard.
    const signOut = laptop.page.getByRole('button', { name: /^Sign out Safari 17 on iOS 17\.5, last used/ });
    await signOut.focus();
    await laptop.page.keyboard.press('Enter');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await laptop.page.locator('#sessions-notice').textContent()).toBe(
      'Signed out Safari 17 on iOS 17.5.',
    );
    expect(await laptop.page.evaluate(() => document.activeElement?.id)).toBe('sessions-title');
    expect(await laptop.page.locator('#sign-out-others').isHidden()).toBe(true);
    await screenshotBothWidths(laptop.page, 'sessions-alone');

    // The phone's next API call: 401; it is signed out (a page would send it through sign-in again).
    expect((await callApiFromPage(phone.page, '/api/odata/Account?$top=1')).status).toBe(401);
    expect((await callApiFromPage(phone.page, '/auth/session')).body.authenticated).toBe(false);
    // The laptop is still signed in.
    expect((await callApiFromPage(laptop.page, '/api/odata/Account?$top=1')).status).toBe(200);
  });

  it('bob sees only his own session and cannot end alice’s', async () => {
    const aliceLaptop = await openSessionsAs(alice);
    const aliceHandles = (await callApiFromPage(aliceLaptop.page, '/auth/sessions')).body.sessions.map(
      (s: { handle: string }) => s.handle,
    );
    const asBob = await openSessionsAs(bob);
    const listed = await callApiFromPage(asBob.page, '/auth/sessions');
    expect(listed.body.sessions).toHaveLength(1);
    expect(listed.body.sessions[0].current).toBe(true);
    expect(await asBob.page.locator('.session-item').count()).toBe(1);
    expect(await asBob.page.locator('.session-only').textContent()).toContain('signed in nowhere else');

    for (const handle of aliceHandles) {
      const res = await callApiFromPage(asBob.page, `/auth/sessions/${encodeURIComponent(handle)}`, {
        method: 'DELETE',
      });
      expect(res.status).toBe(404);
    }
    expect((await callApiFromPage(aliceLaptop.page, '/api/odata/Account?$top=1')).status).toBe(200);
  });

  it('"Sign out all other sessions" ends every other session and keeps this one', async () => {
    const first = await openSessionsAs(alice);
    const second = await openSessionsAs(alice, { userAgent: IPHONE_SAFARI });
    await first.page.reload();
    await waitForList(first.page);
    expect(await first.page.locator('.session-item').count()).toBeGreaterThanOrEqual(2);

    await first.page.getByRole('button', { name: 'Sign out all other sessions' }).click();
    await expect.poll(() => first.page.locator('.session-item').count()).toBe(1);
    expect(await first.page.locator('#sessions-notice').textContent()).toMatch(
      /^Signed out \d+ other sessions?\.$/,
    );
    expect((await callApiFromPage(second.page, '/api/odata/Account?$top=1')).status).toBe(401);
    expect((await callApiFromPage(first.page, '/auth/sessions')).body.sessions).toHaveLength(1);
  });
});
