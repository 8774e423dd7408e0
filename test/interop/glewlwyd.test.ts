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

/** The password form on a first visit; the consent page (tick every scope) or "Continue" on later ones. */
async function signInOnGlewlwydPages(
  page: Page,
  user: { username: string; password: string },
  _bffUrl: string,
  until: (url: URL) => boolean,
): Promise<void> {
  const username = page.locator('#username');
  const grant = page.getByRole('button', { name: 'Grant access' });
  const proceed = page.getByRole('button', { name: 'Continue' });
  await username.or(grant).or(proceed).first().waitFor();
  if (await username.isVisible()) {
    await username.fill(user.username);
    await page.locator('#password').fill(user.password);
    await page.locator('#loginbut').click();
    await grant.or(proceed).first().waitFor();
  }
  if (await grant.isVisible()) {
    for (const box of await page.locator('input[id^="grant-"]').all()) await box.check();
    await grant.click();
  }
  await proceed.click();
  await page.waitForURL(until);
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
