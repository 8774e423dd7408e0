/**
 * The deployment example, run as shipped: deploy/nginx/creatio-bff.conf in Debian's nginx, in front of two instances
 * on one Redis, no sticky sessions. A person signs in through nginx in Chromium; their calls land on both instances;
 * a storm of calls after the access token expired makes exactly one refresh.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findUserByUsername } from '../../sandbox/users.ts';
import { launchBrowser, signInOnSandboxPage } from '../support/browser.ts';
import { sessionIdFromCookie } from '../support/harness.ts';
import { type Instances, startInstances } from '../support/instances.ts';
import { type Nginx, startNginx } from '../support/nginx.ts';
import { freePort } from '../support/ports.ts';

const SITE_FILE = fileURLToPath(new URL('../../deploy/nginx/creatio-bff.conf', import.meta.url));
const TTL_SECONDS = 3;

let cluster: Instances;
let nginx: Nginx;
let browser: Browser;

beforeAll(async () => {
  const port = await freePort();
  cluster = await startInstances({
    count: 2,
    accessTokenTtlSeconds: TTL_SECONDS,
    appUrl: () => `http://127.0.0.1:${port}`,
    // nginx runs on this host: trust exactly its hop, as docs/deploy.md says.
    env: { TRUST_PROXY: 'loopback' },
  });
  [nginx, browser] = await Promise.all([
    startNginx({ siteFile: SITE_FILE, upstreamPorts: cluster.instances.map((i) => i.port), port }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await nginx?.stop();
  await cluster?.close();
});

/** n calls to the API from inside the page, all at once, as the page's own scripts make them. */
function callApi(page: Page, n: number): Promise<number[]> {
  return page.evaluate(
    (count) =>
      Promise.all(
        Array.from({ length: count }, () =>
          fetch('/api/odata/Account?$top=1', { headers: { 'X-CSRF': '1' } }).then((r) => r.status),
        ),
      ),
    n,
  );
}

describe('two instances behind nginx', () => {
  it('signs in through nginx, spreads calls over both instances, and refreshes once for a storm', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${nginx.url}/accounts`);
    await signInOnSandboxPage(page, findUserByUsername('alice')!, nginx.url);
    expect(new URL(page.url()).origin).toBe(nginx.url);

    const before = cluster.instances.map((i) => i.requestCount());
    expect(await callApi(page, 10)).toEqual(Array(10).fill(200));
    const landed = cluster.instances.map((i, n) => i.requestCount() - before[n]!);
    expect(landed.every((count) => count > 0)).toBe(true); // no sticky sessions: both instances served the user

    const cookie = (await context.cookies()).find((c) => c.name === cluster.config.cookie.name)!;
    const sessionId = sessionIdFromCookie(`${cookie.name}=${cookie.value}`);
    const tokens = await cluster.instances[0]!.bff.storage.tokens.get(sessionId);
    await sleep(Math.max(0, tokens!.expiresAt - Date.now()) + 50);
    const refreshes = cluster.sandbox.stats.tokenRequests.refresh_token;

    expect(await callApi(page, 40)).toEqual(Array(40).fill(200));
    expect(cluster.sandbox.stats.tokenRequests.refresh_token).toBe(refreshes + 1);
    expect(cluster.sandbox.stats.tokenErrors.invalid_grant ?? 0).toBe(0);
    await context.close();
  });
});
