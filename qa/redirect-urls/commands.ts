/**
 * The commands of `npm run redirect-urls`: list, add, update and delete the redirect URLs of an integrated
 * application, and create an application — through Creatio's OAuthConfigService. URLs are checked before anything
 * is sent, and every command prints what changed. Kept apart from cli.ts so tests run the very
 * same code in-process.
 */
import { ConfigError, type Env, isLoopbackHost, maskSecret } from '../../server/config.ts';
import { compareRedirectUris, isNearMiss } from '../checks/redirect-uri-probe.ts';
import { type Fetch, send } from '../http.ts';
import {
  type AdminSettings,
  createOAuthConfigClient,
  OAuthConfigServiceError,
  type RedirectUrl,
} from './oauth-config-client.ts';

export interface RedirectUrlsSettings extends AdminSettings {
  /** The application whose redirect URLs are managed when --client is not given (OAUTH_CLIENT_ID). */
  readonly clientId: string | undefined;
  /** The redirect URI the app sends (OAUTH_REDIRECT_URI or APP_URL + /auth/callback), marked in `list`. */
  readonly appRedirectUri: string | undefined;
}

export interface Output {
  line(text: string): void;
  error(text: string): void;
}

export const USAGE = `Usage: npm run redirect-urls -- <command>

  list [--client <clientId>]                   the application's redirect URLs (sandbox; see below)
  add <url>… [--client <clientId>]             register one or more redirect URLs
  update <redirectUrlId> <url>                 replace one redirect URL
  delete <redirectUrlId>                       remove one redirect URL
  create-client --name <name> --application-url <url> --redirect-url <url>
                                               a new authorization-code application
  create-client --name <name> --application-url <url> --system-user-id <guid> --grant-type client_credentials
                                               a new server-to-server application
                [--show-secret]                print the new client secret in full (masked otherwise)

Reads IDENTITY_SERVICE_URL, CREATIO_URL, CREATIO_ODATA_PATH, OAUTH_CLIENT_ID (default --client) and
CREATIO_ADMIN_CLIENT_ID / CREATIO_ADMIN_CLIENT_SECRET: a server-to-server integrated application whose technical
user is a system administrator (its client-credentials token calls Creatio's OAuthConfigService).`;

const NO_LIST_IN_CREATIO =
  'This Creatio has no GetRedirectUrls method (it is an extension of the sandbox). In Creatio open System Designer → "OAuth 2.0 integrated applications" → the application: the "Authorized redirect URIs" list shows each URL with its Id, which update and delete need.';

/** Why `url` cannot be a redirect URL, or undefined when it can. Mirrors what the Identity Service accepts. */
export function redirectUrlProblem(url: string): string | undefined {
  if (url !== url.trim() || /\s/.test(url)) return `"${url}" contains white space`;
  if (url.includes('*'))
    return `"${url}" contains "*": redirect URLs are matched exactly, wildcards do not work`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not an absolute URL (e.g. https://bff.example.com/auth/callback)`;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    return `"${url}" must start with https:// or http://`;
  if (parsed.hash || url.includes('#')) return `"${url}" must not contain a fragment (#…)`;
  if (parsed.username || parsed.password) return `"${url}" must not contain a user name or password`;
  return undefined;
}

/** Things worth a second look that are not errors: plain http, or a near miss of what the app sends. */
function redirectUrlNotes(url: string, settings: RedirectUrlsSettings): string[] {
  const notes: string[] = [];
  const { protocol, hostname } = new URL(url);
  if (protocol === 'http:' && !isLoopbackHost(hostname)) {
    notes.push(`${url} uses plain http outside localhost: authorization codes would travel unencrypted.`);
  }
  if (settings.appRedirectUri && url !== settings.appRedirectUri) {
    const differences = compareRedirectUris(settings.appRedirectUri, url);
    if (isNearMiss(differences)) {
      notes.push(
        `The app sends ${settings.appRedirectUri}; ${url} differs: ${differences.map((d) => d.description).join('; ')}.`,
      );
    }
  }
  return notes;
}

interface Parsed {
  readonly positional: string[];
  readonly options: Map<string, string | true>;
}

function parseArgs(args: readonly string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--')) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const next = args[i + 1];
      if (inline !== undefined) options.set(name, inline);
      else if (next !== undefined && !next.startsWith('--') && name !== 'show-secret')
        options.set(name, args[++i]!);
      else options.set(name, true);
    } else {
      positional.push(arg);
    }
  }
  return { positional, options };
}

class UsageError extends Error {}

const KNOWN_OPTIONS = new Set([
  'client',
  'name',
  'application-url',
  'redirect-url',
  'system-user-id',
  'grant-type',
  'show-secret',
]);

/** A mistyped option (--clinet) must not silently fall back to OAUTH_CLIENT_ID's application. */
function refuseUnknownOptions(parsed: Parsed): void {
  const unknown = [...parsed.options.keys()].filter((name) => !KNOWN_OPTIONS.has(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `--${n}`).join(', ')}`,
    );
  }
}

function option(parsed: Parsed, name: string): string | undefined {
  const value = parsed.options.get(name);
  if (value === true) throw new UsageError(`--${name} needs a value`);
  return value;
}

function requireClientId(parsed: Parsed, settings: RedirectUrlsSettings): string {
  const clientId = option(parsed, 'client') ?? settings.clientId;
  if (!clientId) throw new UsageError('name the application: --client <clientId> (or set OAUTH_CLIENT_ID)');
  return clientId;
}

function printList(
  out: Output,
  clientId: string,
  urls: readonly RedirectUrl[],
  settings: RedirectUrlsSettings,
): void {
  out.line(`Redirect URLs of ${clientId} (${urls.length}):`);
  for (const { id, url } of urls) {
    const marker = url === settings.appRedirectUri ? '   ← the app sends this' : '';
    out.line(`  ${id}  ${url}${marker}`);
  }
  if (settings.appRedirectUri && !urls.some((r) => r.url === settings.appRedirectUri)) {
    out.line(`The redirect URI the app sends, ${settings.appRedirectUri}, is not in the list.`);
    for (const { url } of urls) {
      const differences = compareRedirectUris(settings.appRedirectUri, url);
      if (isNearMiss(differences)) {
        out.line(`  near miss: ${url} (${differences.map((d) => d.description).join('; ')})`);
      }
    }
    out.line(`  fix: npm run redirect-urls -- add ${settings.appRedirectUri}`);
  }
}

/**
 * The settings from the environment (the caller passes process.env after reading .env). Throws ConfigError with
 * every problem, one line each, like loadConfig.
 */
export function loadRedirectUrlsSettings(env: Env): RedirectUrlsSettings {
  const issues: string[] = [];
  const value = (name: string) => (env[name]?.trim() ? env[name]!.trim() : undefined);
  const url = (name: string, example: string): string => {
    const raw = value(name);
    if (!raw) {
      issues.push(`${name}: is required, e.g. ${name}=${example}`);
      return '';
    }
    if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
      issues.push(`${name}: must be an absolute http(s) URL, e.g. ${name}=${example}`);
      return '';
    }
    return raw.replace(/\/+$/, '');
  };
  if (!value('IDENTITY_SERVICE_URL')) {
    issues.push(
      'IDENTITY_SERVICE_URL: is required: redirect-urls manages the integrated applications of a Creatio. For the sandbox, run `npm run sandbox` and set IDENTITY_SERVICE_URL, CREATIO_URL, CREATIO_ADMIN_CLIENT_ID and CREATIO_ADMIN_CLIENT_SECRET to the values it prints (its client-credentials application).',
    );
  }
  const identityServiceUrl = value('IDENTITY_SERVICE_URL')
    ? url('IDENTITY_SERVICE_URL', 'https://123456-crm-bundle-is.creatio.com')
    : '';
  const creatioUrl = url('CREATIO_URL', 'https://123456-crm-bundle.creatio.com');
  const adminClientId = value('CREATIO_ADMIN_CLIENT_ID');
  const adminClientSecret = value('CREATIO_ADMIN_CLIENT_SECRET');
  if (!adminClientId || !adminClientSecret) {
    issues.push(
      'CREATIO_ADMIN_CLIENT_ID, CREATIO_ADMIN_CLIENT_SECRET: are required: Client Id and Client secret of a server-to-server integrated application whose technical user is a system administrator.',
    );
  }
  const timeout = value('HTTP_TIMEOUT_MS');
  if (timeout !== undefined && !/^\d+$/.test(timeout))
    issues.push('HTTP_TIMEOUT_MS: must be a whole number, e.g. 10000');
  if (issues.length > 0) throw new ConfigError(issues);

  const appUrl = (value('APP_URL') ?? `http://localhost:${value('PORT') ?? '3000'}`).replace(/\/+$/, '');
  return {
    identityServiceUrl,
    creatioUrl,
    routePrefix: (value('CREATIO_ODATA_PATH') ?? '/0/odata').replace(/\/odata$/i, ''),
    adminClientId: adminClientId!,
    adminClientSecret: adminClientSecret!,
    allowInsecureRequests: new URL(identityServiceUrl).protocol === 'http:',
    timeoutMs: timeout === undefined ? 10_000 : Number(timeout),
    clientId: value('OAUTH_CLIENT_ID'),
    appRedirectUri: value('OAUTH_REDIRECT_URI') ?? `${appUrl}/auth/callback`,
  };
}

/** Runs one command; returns the exit code (0 done, 1 refused or failed, 2 usage). */
export async function runRedirectUrls(
  args: readonly string[],
  settings: RedirectUrlsSettings,
  out: Output,
  fetchImpl?: Fetch,
): Promise<number> {
  const parsed = parseArgs(args);
  const [command, ...rest] = parsed.positional;
  const client = createOAuthConfigClient(settings, fetchImpl);
  try {
    refuseUnknownOptions(parsed);
    switch (command) {
      case 'list': {
        const clientId = requireClientId(parsed, settings);
        const urls = await client.getRedirectUrls(clientId);
        if (!urls) {
          // Only a real Creatio lacks the method; anything else at CREATIO_URL answers 404 as well.
          const notCreatio = await whyNotCreatio(settings, fetchImpl);
          out.error(notCreatio ? `❌ ${notCreatio.message}\n   fix: ${notCreatio.fix}` : NO_LIST_IN_CREATIO);
          return 1;
        }
        printList(out, clientId, urls, settings);
        return 0;
      }
      case 'add': {
        const clientId = requireClientId(parsed, settings);
        if (rest.length === 0) throw new UsageError('add needs at least one URL');
        const problems = rest.map(redirectUrlProblem).filter((p): p is string => p !== undefined);
        if (problems.length > 0) {
          for (const problem of problems) out.error(`❌ ${problem}; nothing was sent.`);
          return 1;
        }
        for (const note of rest.flatMap((url) => redirectUrlNotes(url, settings))) out.line(`⚠ ${note}`);
        const added = await client.addRedirectUrls(clientId, rest);
        out.line(`Added to ${clientId}:`);
        for (const url of rest) {
          const id = added.find((r) => r.url === url)?.id;
          out.line(`  + ${url}${id ? `  (id ${id})` : ''}`);
        }
        return 0;
      }
      case 'update': {
        const [id, url] = rest;
        if (!id || !url || rest.length !== 2) throw new UsageError('update needs <redirectUrlId> <url>');
        const problem = redirectUrlProblem(url);
        if (problem) {
          out.error(`❌ ${problem}; nothing was sent.`);
          return 1;
        }
        for (const note of redirectUrlNotes(url, settings)) out.line(`⚠ ${note}`);
        const before = await currentUrl(client, parsed, settings, id);
        await client.updateRedirectUrl(id, url);
        out.line(`Updated redirect URL ${id}:`);
        if (before) out.line(`  - ${before}`);
        out.line(`  + ${url}`);
        return 0;
      }
      case 'delete': {
        const [id] = rest;
        if (!id || rest.length !== 1) throw new UsageError('delete needs <redirectUrlId>');
        const before = await currentUrl(client, parsed, settings, id);
        await client.deleteRedirectUrl(id);
        out.line(`Deleted redirect URL ${id}${before ? `:\n  - ${before}` : '.'}`);
        return 0;
      }
      case 'create-client':
        return await createClient(client, parsed, out);
      case undefined:
      case 'help':
        out.line(USAGE);
        return command === 'help' ? 0 : 2;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof OAuthConfigServiceError) {
      const notCreatio = error.status === 404 ? await whyNotCreatio(settings, fetchImpl) : undefined;
      out.error(`❌ ${notCreatio?.message ?? error.message}\n   fix: ${notCreatio?.fix ?? error.fix}`);
      return 1;
    }
    throw error;
  }
}

/**
 * After a 404 from OAuthConfigService: is CREATIO_URL (with CREATIO_ODATA_PATH's prefix) Creatio at all? Creatio
 * answers its OData root with 401 without a token; undefined when it does, so the 404 is Creatio's own.
 */
async function whyNotCreatio(
  settings: RedirectUrlsSettings,
  fetchImpl: Fetch = fetch,
): Promise<{ message: string; fix: string } | undefined> {
  const http = { fetch: fetchImpl, timeoutMs: settings.timeoutMs };
  const odataRoot = (prefix: string) => `${settings.creatioUrl}${prefix}/odata/`;
  const answer = await send(http, odataRoot(settings.routePrefix));
  if (!answer.ok) return { message: answer.problem.message, fix: answer.problem.fix };
  if (answer.response.status === 401) return undefined;
  const otherPrefix = settings.routePrefix === '/0' ? '' : settings.routePrefix === '' ? '/0' : undefined;
  if (otherPrefix !== undefined) {
    const other = await send(http, odataRoot(otherPrefix));
    if (other.ok && other.response.status === 401) {
      return {
        message: `Creatio at ${settings.creatioUrl} serves its routes ${otherPrefix ? 'with' : 'without'} the "/0" prefix; CREATIO_ODATA_PATH says otherwise.`,
        fix: `Set CREATIO_ODATA_PATH=${otherPrefix}/odata`,
      };
    }
  }
  return {
    message: `${settings.creatioUrl} does not answer like Creatio: ${odataRoot(settings.routePrefix)} gave HTTP ${answer.response.status} (Creatio answers 401 without a token).`,
    fix:
      settings.creatioUrl === settings.identityServiceUrl
        ? 'CREATIO_URL is the Identity Service’s address: set it to the Creatio site itself.'
        : 'Set CREATIO_URL to the Creatio site (the address users open it at); npm run doctor checks it.',
  };
}

/** The URL behind a redirect-URL id, to print "- old / + new"; undefined where Creatio cannot list them. */
async function currentUrl(
  client: ReturnType<typeof createOAuthConfigClient>,
  parsed: Parsed,
  settings: RedirectUrlsSettings,
  id: string,
): Promise<string | undefined> {
  const clientId = option(parsed, 'client') ?? settings.clientId;
  if (!clientId) return undefined;
  const urls = await client.getRedirectUrls(clientId).catch(() => undefined);
  return urls?.find((r) => r.id.toUpperCase() === id.toUpperCase())?.url;
}

async function createClient(
  client: ReturnType<typeof createOAuthConfigClient>,
  parsed: Parsed,
  out: Output,
): Promise<number> {
  const name = option(parsed, 'name');
  const applicationUrl = option(parsed, 'application-url');
  const redirectUrl = option(parsed, 'redirect-url');
  const systemUserId = option(parsed, 'system-user-id');
  const grantType =
    option(parsed, 'grant-type') ?? (systemUserId ? 'client_credentials' : 'authorization_code');
  if (!name || !applicationUrl) throw new UsageError('create-client needs --name and --application-url');
  if (!URL.canParse(applicationUrl) || !/^https?:$/.test(new URL(applicationUrl).protocol)) {
    out.error(
      `❌ --application-url "${applicationUrl}" is not an absolute http(s) URL (e.g. https://bff.example.com); nothing was sent.`,
    );
    return 1;
  }
  if (grantType !== 'authorization_code' && grantType !== 'client_credentials') {
    throw new UsageError('--grant-type is authorization_code or client_credentials');
  }
  if (grantType === 'authorization_code') {
    if (!redirectUrl) throw new UsageError('an authorization-code application needs --redirect-url');
    const problem = redirectUrlProblem(redirectUrl);
    if (problem) {
      out.error(`❌ ${problem}; nothing was sent.`);
      return 1;
    }
  } else if (!systemUserId) {
    throw new UsageError('a client-credentials application needs --system-user-id <technical user id>');
  }
  const created = await client.addClient({
    name,
    applicationUrl,
    grantType,
    ...(grantType === 'authorization_code' ? { redirectUrl } : { systemUserId }),
  });
  out.line(`Created integrated application "${name}" (${grantType}):`);
  if (created.clientId) out.line(`  client id      ${created.clientId}`);
  if (created.clientSecret) {
    const show = parsed.options.get('show-secret') === true;
    out.line(
      `  client secret  ${show ? created.clientSecret : `${maskSecret(created.clientSecret)}  (masked: --show-secret prints it; Creatio shows it on the application's page)`}`,
    );
  }
  if (redirectUrl) out.line(`  + ${redirectUrl}`);
  if (!created.clientId) out.line('Read Client Id and Client secret in "OAuth 2.0 integrated applications".');
  return 0;
}
