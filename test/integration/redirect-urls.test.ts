/**
 * `npm run redirect-urls` against the sandbox's OAuthConfigService: every command changes the registry the sandbox
 * Identity Service reads, URLs are checked before anything is sent, and failures say what to do.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  loadRedirectUrlsSettings,
  type RedirectUrlsSettings,
  redirectUrlProblem,
  runRedirectUrls,
} from '../../qa/redirect-urls/commands.ts';
import { type Sandbox, startSandbox } from '../../sandbox/index.ts';
import { demoUsers } from '../../sandbox/users.ts';

const APP_URL = 'http://localhost:3000';
const CALLBACK = `${APP_URL}/auth/callback`;

let sandbox: Sandbox;
let env: Record<string, string>;
let settings: RedirectUrlsSettings;

beforeAll(async () => {
  sandbox = await startSandbox({ identityPort: 0, creatioPort: 0, appUrl: APP_URL });
  env = {
    IDENTITY_SERVICE_URL: sandbox.identityServiceUrl,
    CREATIO_URL: sandbox.creatioUrl,
    CREATIO_ADMIN_CLIENT_ID: sandbox.serviceClient.clientId,
    CREATIO_ADMIN_CLIENT_SECRET: sandbox.serviceClient.clientSecret,
    OAUTH_CLIENT_ID: sandbox.bffClient.clientId,
    APP_URL,
  };
  settings = loadRedirectUrlsSettings(env);
});
afterAll(() => sandbox.close());

beforeEach(() => {
  const client = sandbox.registry.get(sandbox.bffClient.clientId)!;
  for (const { id } of [...client.redirectUrls]) sandbox.registry.deleteRedirectUrl(id);
  sandbox.registry.addRedirectUrls(client.clientId, [CALLBACK]);
});

const registered = () => sandbox.registry.get(sandbox.bffClient.clientId)!.redirectUrls;

async function redirectUrls(
  args: string[],
  withSettings = settings,
): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const out = { line: (t: string) => lines.push(t), error: (t: string) => lines.push(t) };
  const code = await runRedirectUrls(args, withSettings, out);
  return { code, text: lines.join('\n') };
}

describe('commands', () => {
  it('list shows each URL with its id and marks the one the app sends', async () => {
    const [callback] = registered();
    const { code, text } = await redirectUrls(['list']);
    expect(code).toBe(0);
    expect(text).toBe(
      `Redirect URLs of ${sandbox.bffClient.clientId} (1):\n  ${callback!.id}  ${CALLBACK}   ← the app sends this`,
    );
  });

  it('list points out a near miss when the app’s URI is not registered', async () => {
    sandbox.registry.updateRedirectUrl(registered()[0]!.id, `${CALLBACK}/`);
    const { text } = await redirectUrls(['list']);
    expect(text).toContain(`The redirect URI the app sends, ${CALLBACK}, is not in the list.`);
    expect(text).toContain(
      `near miss: ${CALLBACK}/ (the registered URL ends with "/", the app sends it without)`,
    );
    expect(text).toContain(`fix: npm run redirect-urls -- add ${CALLBACK}`);
  });

  it('add registers URLs, prints them with their ids and warns about near misses of the app’s URI', async () => {
    const { code, text } = await redirectUrls([
      'add',
      'https://bff.example.com/auth/callback',
      `${CALLBACK}/`,
    ]);
    expect(code).toBe(0);
    const added = registered().slice(1);
    expect(added.map((r) => r.url)).toEqual(['https://bff.example.com/auth/callback', `${CALLBACK}/`]);
    expect(text).toContain(
      `⚠ The app sends ${CALLBACK}; ${CALLBACK}/ differs: the registered URL ends with "/"`,
    );
    expect(text).toContain(`  + https://bff.example.com/auth/callback  (id ${added[0]!.id})`);
  });

  it('add refuses invalid URLs before sending anything', async () => {
    for (const url of ['/auth/callback', 'https://*.example.com/cb', `${CALLBACK}#x`, 'ftp://x/cb']) {
      const { code, text } = await redirectUrls(['add', url]);
      expect(code).toBe(1);
      expect(text).toContain('nothing was sent');
    }
    expect(registered()).toHaveLength(1);
  });

  it('update prints the old and the new value', async () => {
    const { id } = registered()[0]!;
    const { code, text } = await redirectUrls(['update', id, 'https://bff.example.com/auth/callback']);
    expect(code).toBe(0);
    expect(text).toBe(
      `Updated redirect URL ${id}:\n  - ${CALLBACK}\n  + https://bff.example.com/auth/callback`,
    );
    expect(registered()).toEqual([{ id, url: 'https://bff.example.com/auth/callback' }]);
  });

  it('delete prints what was removed; an unknown id is refused with Creatio’s message', async () => {
    const { id } = registered()[0]!;
    expect(await redirectUrls(['delete', id])).toEqual({
      code: 0,
      text: `Deleted redirect URL ${id}:\n  - ${CALLBACK}`,
    });
    expect(registered()).toEqual([]);
    const again = await redirectUrls(['delete', id]);
    expect(again.code).toBe(1);
    expect(again.text).toContain(`No redirect URL has the id '${id}'`);
  });

  it('create-client adds an authorization-code application and masks its secret', async () => {
    const { code, text } = await redirectUrls([
      'create-client',
      '--name',
      'QA app',
      '--application-url',
      'https://qa.example.com',
      '--redirect-url',
      'https://qa.example.com/auth/callback',
    ]);
    expect(code).toBe(0);
    const created = sandbox.registry.list().find((c) => c.name === 'QA app')!;
    expect(created.redirectUrls.map((r) => r.url)).toEqual(['https://qa.example.com/auth/callback']);
    expect(text).toContain(`client id      ${created.clientId}`);
    expect(text).not.toContain(created.clientSecret);
    expect(text).toContain('--show-secret prints it');
  });

  it('wrong usage exits 2 with the usage text', async () => {
    const { code, text } = await redirectUrls(['update', 'only-an-id']);
    expect(code).toBe(2);
    expect(text).toContain('update needs <redirectUrlId> <url>');
    expect(text).toContain('Usage: npm run redirect-urls');
  });
});

describe('credentials and Creatio versions', () => {
  it('a wrong admin secret is reported as such', async () => {
    const { code, text } = await redirectUrls(['list'], {
      ...settings,
      adminClientSecret: 'wrong-admin-secret',
    });
    expect(code).toBe(1);
    expect(text).toContain('refused CREATIO_ADMIN_CLIENT_ID / CREATIO_ADMIN_CLIENT_SECRET (invalid_client)');
    expect(text).not.toContain('wrong-admin-secret');
  });

  it('a technical user who is not a system administrator gets the 403 and the fix', async () => {
    const notAdmin = sandbox.registry.add({
      name: 'Reporting integration',
      applicationUrl: '',
      grantTypes: ['client_credentials'],
      postLogoutRedirectUris: [],
      backchannelLogoutUri: undefined,
      active: true,
      systemUserId: demoUsers[1]!.sub,
    });
    const { code, text } = await redirectUrls(['add', 'https://x.example.com/cb'], {
      ...settings,
      adminClientId: notAdmin.clientId,
      adminClientSecret: notAdmin.clientSecret!,
    });
    expect(code).toBe(1);
    expect(text).toContain('(403)');
    expect(text).toContain('system administrator');
  });

  it('list on a Creatio without GetRedirectUrls says where to look instead', async () => {
    // A Creatio that has only seed 004's methods: everything else is 404, and its OData root asks for a token.
    const creatio: Server = createServer((req, res) =>
      res.writeHead(req.url === '/0/odata/' ? 401 : 404).end(),
    );
    await new Promise<void>((resolve) => creatio.listen(0, '127.0.0.1', resolve));
    try {
      const creatioUrl = `http://127.0.0.1:${(creatio.address() as AddressInfo).port}`;
      const { code, text } = await redirectUrls(['list'], { ...settings, creatioUrl });
      expect(code).toBe(1);
      expect(text).toContain('"OAuth 2.0 integrated applications"');
    } finally {
      creatio.close();
    }
  });

  it('names the missing variables, and the sandbox way to get them', () => {
    expect(() => loadRedirectUrlsSettings({})).toThrow(
      /IDENTITY_SERVICE_URL: is required[\s\S]*npm run sandbox/,
    );
    expect(() => loadRedirectUrlsSettings({ ...env, CREATIO_ADMIN_CLIENT_SECRET: '' })).toThrow(
      /CREATIO_ADMIN_CLIENT_SECRET: are required/,
    );
  });

  it('redirectUrlProblem accepts exact http(s) URLs only', () => {
    expect(redirectUrlProblem('https://bff.example.com/auth/callback')).toBeUndefined();
    expect(redirectUrlProblem(' https://bff.example.com/cb')).toContain('white space');
    expect(redirectUrlProblem('https://user:pw@bff.example.com/cb')).toContain('user name or password');
  });
});

describe('npm run redirect-urls', () => {
  it('runs as a command: add, exit code 0, the change printed', async () => {
    const child = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/redirect-urls.ts', 'add', 'https://cli.example.com/auth/callback'],
      { env: { PATH: process.env.PATH, ...env } },
    );
    expect(child.stdout).toMatch(
      /^Added to creatio-oauth-bff-sandbox:\n {2}\+ https:\/\/cli\.example\.com\/auth\/callback {2}\(id [0-9A-F-]{36}\)\n$/,
    );
    expect(registered().map((r) => r.url)).toContain('https://cli.example.com/auth/callback');
  });
});
