/**
 * The interop scenarios against Debian's glewlwyd: an OpenID provider written independently of oidc-provider (C,
 * its own login and consent pages in JavaScript), which answers errors its own way — a dead refresh token is 400
 * with an empty body, a wrong secret 403 unauthorized_client. The Creatio stand-in trusts glewlwyd's tokens here.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { ClientRegistry } from '../../sandbox/client-registry.ts';
import { createCreatioStandIn } from '../../sandbox/creatio.ts';
import { createCreatioFaults, createSandboxStats } from '../../sandbox/stats.ts';
import { demoUsers } from '../../sandbox/users.ts';
import { startGlewlwyd } from '../support/glewlwyd.ts';
import { describeInteropScenarios } from './scenarios.ts';

/**
 * glewlwyd's login is one JavaScript app that re-renders as it learns the session's state — the password form, then
 * the consent page (scopes not granted yet) or "Continue" (granted before), sometimes one briefly before the other.
 * So act on whatever is showing until the browser has left for the app, rather than assume an order it does not
 * promise (a click on a button that a re-render removed would wait for it forever).
 */
async function signInOnGlewlwydPages(
  page: Page,
  user: { username: string; password: string },
  _bffUrl: string,
  until: (url: URL) => boolean,
): Promise<void> {
  const username = page.locator('#username');
  const ungranted = page.locator('input[id^="grant-"]:not(:checked)');
  const grant = page.getByRole('button', { name: 'Grant access' });
  const proceed = page.getByRole('button', { name: 'Continue' });
  const deadline = Date.now() + 30_000;
  let passwordSent = false;
  while (!until(new URL(page.url()))) {
    if (Date.now() > deadline)
      throw new Error(`glewlwyd sign-in did not finish; the browser is at ${page.url()}`);
    const act = { timeout: 2000 };
    if (!passwordSent && (await username.isVisible())) {
      await username.fill(user.username, act);
      await page.locator('#password').fill(user.password, act);
      await page.locator('#loginbut').click(act);
      passwordSent = true;
    } else if ((await grant.isVisible()) && (await ungranted.count()) > 0) {
      for (const box of await ungranted.all()) await box.check(act).catch(() => undefined);
      await grant.click(act).catch(() => undefined);
    } else if (await proceed.isVisible()) {
      await proceed.click(act).catch(() => undefined);
    }
    await page.waitForURL(until, { timeout: 500 }).catch(() => undefined);
  }
}

describeInteropScenarios('glewlwyd', async (appUrl) => {
  const glewlwyd = await startGlewlwyd({ appUrl, users: demoUsers });
  const creatio = createServer();
  await new Promise<void>((resolve) => creatio.listen(0, '127.0.0.1', resolve));
  const creatioUrl = `http://127.0.0.1:${(creatio.address() as AddressInfo).port}`;
  creatio.on(
    'request',
    createCreatioStandIn({
      identityServiceUrl: glewlwyd.identityServiceUrl,
      creatioUrl,
      registry: new ClientRegistry(),
      stats: createSandboxStats(),
      faults: createCreatioFaults(),
      tokenIssuer: { issuer: glewlwyd.identityServiceUrl, jwksUrl: glewlwyd.jwksUrl },
    }),
  );
  return {
    env: {
      IDENTITY_SERVICE_URL: glewlwyd.identityServiceUrl,
      CREATIO_URL: creatioUrl,
      OAUTH_CLIENT_ID: glewlwyd.clientId,
      OAUTH_CLIENT_SECRET: glewlwyd.clientSecret,
      OAUTH_SCOPES: 'openid profile email offline_access',
    },
    signInOnPage: signInOnGlewlwydPages,
    // glewlwyd asks first ("End session … Logout / Stay connected"), then returns to post_logout_redirect_uri.
    async finishSignOut(page, bffUrl) {
      await page.locator('button.btn-danger', { hasText: 'Logout' }).click();
      await page.waitForURL((url) => url.origin === bffUrl);
    },
    refreshGrants: () => glewlwyd.refreshGrants(),
    revoke: (refreshToken) => glewlwyd.revoke(refreshToken),
    async close() {
      creatio.closeAllConnections();
      await new Promise<void>((resolve) => creatio.close(() => resolve()));
      await glewlwyd.close();
    },
  };
});
