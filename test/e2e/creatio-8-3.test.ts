/**
 * Creatio 8.3+ at its least certain, in a real Chromium: the Identity Service on the Creatio host (`/0/connect/*`)
 * and an integrated application that may not ask for `openid`, so no ID token ever arrives. A person signs in on the
 * Creatio-hosted page, sees their name and their accounts, and signs out through the end-session endpoint, which
 * gets `client_id` instead of an `id_token_hint`.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { launchBrowser, signInOnSandboxPage, VIEWPORTS } from '../support/browser.ts';
import { type Harness, startHarness } from '../support/harness.ts';

const alice = findUserByUsername('alice')!;

let harness: Harness;
let browser: Browser;

beforeAll(async () => {
  [harness, browser] = await Promise.all([
    startHarness({ sandbox: { layout: 'creatio-hosted', refuseOpenId: true } }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
});

describe('Creatio-hosted Identity Service, no ID token', () => {
  it('signs in on the Creatio host, shows the user and their accounts, and signs out', async () => {
    expect(harness.config.scopes).not.toContain('openid');
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const page = await context.newPage();
    try {
      const endSessionUrls: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/0/connect/endsession')) endSessionUrls.push(request.url());
      });

      await page.goto(`${harness.baseUrl}/accounts`);
      expect(page.url().startsWith(`${harness.sandbox.creatioUrl}/0/`)).toBe(true);
      await signInOnSandboxPage(page, alice, harness.baseUrl);

      await page.locator('#accounts-region[aria-busy="false"]').waitFor({ state: 'attached' });
      expect(await page.locator('#accounts-region tbody tr').count()).toBeGreaterThan(0);
      // No ID token: the name came from Creatio (GetCurrentUserInfo), and the page shows it.
      expect(await page.content()).toContain(alice.name);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((url) => url.origin === harness.baseUrl && url.pathname === '/');
      expect(await page.getByRole('link', { name: 'Sign in with Creatio' }).isVisible()).toBe(true);

      const [first] = endSessionUrls;
      expect(first).toBeDefined();
      const params = new URL(first!).searchParams;
      expect(params.get('client_id')).toBe(harness.config.clientId);
      expect(params.has('id_token_hint')).toBe(false);
    } finally {
      await context.close();
    }
  });
});
