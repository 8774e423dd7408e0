/**
 * One scenario list, run against each independent OpenID provider (sandbox.test.ts: oidc-provider, the sandbox;
 * glewlwyd.test.ts: Debian's glewlwyd). A provider adapter says only what differs between them: how its login and
 * sign-out pages are driven, how its refresh grants are counted, and how a grant is revoked at the provider itself.
 * Everything else — the BFF, the browser, the assertions — is the same code, so a difference in behaviour is a
 * difference in the provider, not in the test.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../qa/doctor.ts';
import { type DemoUser, findUserByUsername } from '../../sandbox/users.ts';
import { type BffApp, createApp } from '../../server/app.ts';
import { type Config, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import {
  backAtApp,
  callApiFromPage,
  JWT_PATTERN,
  launchBrowser,
  readBrowserVisibleState,
} from '../support/browser.ts';
import { sessionIdFromCookie } from '../support/harness.ts';

export interface InteropProvider {
  /** The variables that point the BFF at this provider and at a Creatio stand-in that trusts its tokens. */
  readonly env: Readonly<Record<string, string>>;
  /** On the provider's own login (and consent) pages, until the browser's URL satisfies `until`. */
  signInOnPage(page: Page, user: DemoUser, bffUrl: string, until: (url: URL) => boolean): Promise<void>;
  /** Whatever the provider shows after the end-session redirect, until the browser is back at the BFF. */
  finishSignOut(page: Page, bffUrl: string): Promise<void>;
  /** refresh_token grants the provider answered with new tokens so far. */
  refreshGrants(): number;
  /** Revokes a refresh token at the provider (RFC 7009), as an administrator or the user would there. */
  revoke(refreshToken: string): Promise<void>;
  close(): Promise<void>;
}

/** Called with the BFF's URL, which must be known before the provider registers its redirect URL. */
export type StartProvider = (appUrl: string) => Promise<InteropProvider>;

const alice = findUserByUsername('alice')!;

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

export function describeInteropScenarios(providerName: string, startProvider: StartProvider): void {
  describe(`the BFF against ${providerName}`, () => {
    const server = createServer();
    let baseUrl: string;
    let provider: InteropProvider;
    let config: Config;
    let bff: BffApp;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      baseUrl = await listen(server);
      [provider, browser] = await Promise.all([startProvider(baseUrl), launchBrowser()]);
      config = loadConfig({
        ...provider.env,
        APP_URL: baseUrl,
        SESSION_SECRET: randomBytes(32).toString('base64url'),
        SESSION_STORE: 'memory',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
        HTTP_TIMEOUT_MS: '5000',
        LOGIN_RATE_LIMIT: '100000',
      });
      bff = await createApp(config, { logger: createLogger(config.logLevel) });
      server.on('request', bff.app);
      context = await browser.newContext();
      page = await context.newPage();
    });

    afterAll(async () => {
      await context?.close();
      await browser?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await bff?.close();
      await provider?.close();
    });

    async function sessionId(): Promise<string> {
      const cookie = (await context.cookies(baseUrl)).find((c) => c.name === config.cookie.name);
      if (!cookie) throw new Error('the browser holds no session cookie');
      return sessionIdFromCookie(`${cookie.name}=${cookie.value}`);
    }

    /** Ages the stored access token past its expiry, as an hour of waiting would. */
    async function expireAccessToken(): Promise<void> {
      const id = await sessionId();
      const tokens = await bff.storage.tokens.get(id);
      if (!tokens) throw new Error('no token set for the session');
      const now = Date.now();
      await bff.storage.tokens.set(
        id,
        { ...tokens, receivedAt: now - 3_600_000, expiresAt: now - 1000 },
        bff.storage.lifetime.maxMs,
      );
    }

    it('signs in with PKCE S256, state and nonce on the provider’s own pages; no token reaches the browser', async () => {
      const login = await fetch(`${baseUrl}/auth/login`, { redirect: 'manual' });
      expect(login.status).toBe(302);
      const authorize = new URL(login.headers.get('location')!);
      expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
        response_type: 'code',
        client_id: config.clientId,
        redirect_uri: `${baseUrl}/auth/callback`,
        code_challenge_method: 'S256',
        code_challenge: expect.stringMatching(/^[\w-]{43}$/),
        state: expect.stringMatching(/^[\w-]{32,}$/),
        nonce: expect.stringMatching(/^[\w-]{32,}$/),
      });

      await page.goto(`${baseUrl}/auth/login?returnTo=%2Fexplorer`);
      await provider.signInOnPage(page, alice, baseUrl, backAtApp(baseUrl));
      expect(new URL(page.url()).pathname).toBe('/explorer');
      const session = await callApiFromPage(page, '/auth/session');
      expect(session.body).toMatchObject({
        authenticated: true,
        user: { sub: expect.any(String), name: alice.name, email: alice.email },
      });
      const visible = await readBrowserVisibleState(page);
      for (const [where, value] of Object.entries(visible)) {
        expect(JWT_PATTERN.test(value), `a token in ${where}`).toBe(false);
      }
    });

    it('proxies OData to Creatio with the provider’s access token', async () => {
      const name = `Interop ${providerName} ${randomBytes(4).toString('hex')}`;
      const created = await callApiFromPage(page, '/api/odata/Account', {
        method: 'POST',
        body: { Name: name },
      });
      expect(created.status).toBe(201);
      const filter = encodeURIComponent(`Name eq '${name}'`);
      const read = await callApiFromPage(page, `/api/odata/Account?$filter=${filter}&$select=Name`);
      expect(read.status).toBe(200);
      expect(read.body.value).toEqual([expect.objectContaining({ Name: name })]);
    });

    it('refreshes an expired access token once for a parallel burst, with the rotated refresh token kept', async () => {
      const before = await bff.storage.tokens.get(await sessionId());
      await expireAccessToken();
      const grantsBefore = provider.refreshGrants();

      const statuses = await page.evaluate(() =>
        Promise.all(
          Array.from({ length: 8 }, () =>
            fetch('/api/odata/Account?$top=1', { headers: { 'X-CSRF': '1' } }).then((r) => r.status),
          ),
        ),
      );

      expect(statuses).toEqual(Array(8).fill(200));
      expect(provider.refreshGrants()).toBe(grantsBefore + 1);
      const after = await bff.storage.tokens.get(await sessionId());
      expect(after?.accessToken).not.toBe(before?.accessToken);
      expect(after?.refreshToken).toBeTruthy();
      expect(after?.refreshToken).not.toBe(before?.refreshToken);
    });

    it('a refresh token revoked at the provider signs the user out with login_required', async () => {
      const tokens = await bff.storage.tokens.get(await sessionId());
      await provider.revoke(tokens!.refreshToken!);
      await expireAccessToken();

      const answer = await callApiFromPage(page, '/api/odata/Account?$top=1');
      expect(answer).toEqual({ status: 401, body: { error: 'login_required', message: expect.any(String) } });
      expect((await callApiFromPage(page, '/auth/session')).body).toMatchObject({ authenticated: false });
    });

    it('signs out through the provider’s end-session endpoint and comes back to the app', async () => {
      await page.goto(`${baseUrl}/auth/login`);
      await provider.signInOnPage(page, alice, baseUrl, backAtApp(baseUrl));
      expect((await callApiFromPage(page, '/auth/session')).body).toMatchObject({ authenticated: true });
      const id = await sessionId();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await provider.finishSignOut(page, baseUrl);

      expect(new URL(page.url()).origin).toBe(baseUrl);
      expect((await callApiFromPage(page, '/auth/session')).body).toMatchObject({ authenticated: false });
      expect(await bff.storage.tokens.get(id)).toBeUndefined();
    });

    it('a wrong client secret: the callback page says what the provider answered and what to check', async () => {
      const wrong = await createApp(
        { ...config, clientSecret: 'not-the-secret-of-this-client' },
        { logger: createLogger(config.logLevel) },
      );
      server.off('request', bff.app);
      server.on('request', wrong.app);
      const stranger = await browser.newContext();
      try {
        const page = await stranger.newPage();
        await page.goto(`${baseUrl}/auth/login`);
        const atCallback = (url: URL) => url.origin === baseUrl && url.pathname === '/auth/callback';
        const answer = page.waitForResponse((response) => atCallback(new URL(response.url())));
        await provider.signInOnPage(page, alice, baseUrl, atCallback);
        expect((await answer).status()).toBe(401);
        const text = (await page.locator('main').textContent()) ?? '';
        // Whatever the provider calls it (invalid_client, unauthorized_client), the page repeats it and names the
        // secret; it never blames an "already used" code.
        expect(text).toMatch(/refused the code exchange \((401|403) (invalid_client|unauthorized_client)\)/);
        expect(text).toContain('OAUTH_CLIENT_SECRET');
        expect(text).not.toMatch(/already used/);
      } finally {
        await stranger.close();
        server.off('request', wrong.app);
        server.on('request', bff.app);
        await wrong.close();
      }
    });

    it('the doctor passes its configuration, and names the secret (still probing the redirect URI) when it is wrong', async () => {
      const good = await runDoctor(config);
      const failed = good.checks.filter((check) => check.status === 'fail');
      expect(failed.map((check) => `${check.id}: ${check.summary}`)).toEqual([]);

      const wrong = await runDoctor({ ...config, clientSecret: 'not-the-secret-of-this-client' });
      const client = wrong.checks.find((check) => check.id === 'client-credentials')!;
      expect(client.status).toBe('fail');
      expect(`${client.summary} ${client.fix}`).toMatch(/client secret/i);
      expect(wrong.checks.find((check) => check.id === 'redirect-uri')?.status).toBe('pass');
    });
  });
}
