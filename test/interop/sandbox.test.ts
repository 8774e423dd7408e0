/**
 * The interop scenarios against the sandbox's Identity Service (oidc-provider with Creatio's IdentityServer paths),
 * the provider every other suite uses: the reference run for glewlwyd.test.ts.
 */
import { startSandbox } from '../../sandbox/index.ts';
import { signInOnSandboxPage } from '../support/browser.ts';
import { sandboxEnv } from '../support/harness.ts';
import { describeInteropScenarios } from './scenarios.ts';

describeInteropScenarios('the sandbox (oidc-provider)', async (appUrl) => {
  const sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl });
  const { clientId } = sandbox.bffClient;
  const clientSecret = sandbox.bffClient.clientSecret!;
  return {
    env: sandboxEnv(sandbox, appUrl),
    async signInOnPage(page, user, bffUrl, until) {
      // Still signed in at the Identity Service (its session outlives the app's): it answers at once, no form.
      if (until(new URL(page.url()))) return;
      await signInOnSandboxPage(page, user, bffUrl, until);
    },
    // The sandbox's end-session page submits itself and returns to post_logout_redirect_uri.
    finishSignOut: (page, bffUrl) => page.waitForURL((url) => url.origin === bffUrl),
    refreshGrants: () =>
      sandbox.stats.tokenRequests.refresh_token - (sandbox.stats.tokenErrors.invalid_grant ?? 0),
    async revoke(refreshToken) {
      const response = await fetch(`${sandbox.identityServiceUrl}/connect/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: refreshToken,
          token_type_hint: 'refresh_token',
          client_id: clientId,
          client_secret: clientSecret,
        }),
      });
      if (!response.ok) throw new Error(`sandbox revocation answered ${response.status}`);
    },
    close: () => sandbox.close(),
  };
});
