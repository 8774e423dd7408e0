/**
 * The browser for end-to-end tests: Debian's Chromium driven by playwright-core (no bundled browser download).
 * One browser per test file, a fresh context (own cookies and storage) per simulated person.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Screenshots are test artifacts (git-ignored), looked at by people reviewing the UI. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../e2e/screenshots/', import.meta.url));

/** The two widths the UI is designed for: a laptop and a phone. */
export const VIEWPORTS = Object.freeze({
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
});

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    // A missing browser is a broken test machine, not a reason to skip: say how to fix it.
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}. Run scripts/install-system-deps.sh (it installs Debian's ` +
        'chromium package), then run the tests again.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** Saves `<name>-desktop.png` and `<name>-phone.png`, full page, after the page has settled at each width. */
export async function screenshotBothWidths(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize();
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    // From the top, so the sticky header is where a person sees it.
    await page.evaluate(async () => {
      window.scrollTo(0, 0);
      await document.fonts.ready;
    });
    await page.screenshot({
      path: `${SCREENSHOT_DIR}${name}-${label}.png`,
      fullPage: true,
      animations: 'disabled',
    });
  }
  if (original) await page.setViewportSize(original);
}

/** Back at the BFF past its sign-in routes: where a successful sign-in lands. */
export function backAtApp(bffUrl: string): (url: URL) => boolean {
  const { origin } = new URL(bffUrl);
  return (url) => url.origin === origin && !url.pathname.startsWith('/auth/');
}

/**
 * Signs in on the sandbox Identity Service's own login page, as a person would: the page must already be there
 * (after following "Sign in" or opening a protected page). Resolves once the browser is back at the BFF (or, for a
 * sign-in expected to fail, wherever `until` says).
 */
export async function signInOnSandboxPage(
  page: Page,
  user: { readonly username: string; readonly password: string },
  bffUrl: string,
  until: (url: URL) => boolean = backAtApp(bffUrl),
): Promise<void> {
  await page.getByLabel('User name').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(until);
}

/** Looks like a JWT (header.payload.signature, base64url, starting with `{"`): what an access or ID token is. */
export const JWT_PATTERN = /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/;

/** Everything script on the page could read or a person could see: cookies, both storages, the whole HTML. */
export async function readBrowserVisibleState(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => ({
    documentCookie: document.cookie,
    localStorage: JSON.stringify({ ...localStorage }),
    sessionStorage: JSON.stringify({ ...sessionStorage }),
    html: document.documentElement.outerHTML,
  }));
}

/** Calls the BFF's API from inside the page, as the page's own scripts do (same cookies, X-CSRF: 1). */
export function callApiFromPage(page: Page, path: string, init: { method?: string; body?: unknown } = {}) {
  return page.evaluate(
    async ({ path, method, body }) => {
      const response = await fetch(path, {
        method,
        headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    { path, method: init.method ?? 'GET', body: init.body },
  );
}
