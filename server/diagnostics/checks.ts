/**
 * The checks behind /diagnostics and `npm run doctor`. Each is one function from its inputs (the Config, the
 * discovery document, an Http seam) to a CheckResult: a status, one sentence on what was found and, when something
 * is wrong, the exact change to make. No check throws and none shows a secret; server/diagnostics/doctor.ts runs
 * them in order.
 */
import { randomBytes } from 'node:crypto';
import { discoveryUrl } from '../auth/client.ts';
import { type Config, isLoopbackHost, maskSecret } from '../config.ts';
import type { TokenSet } from '../session/token-store.ts';
import { describeBody, type Http, type HttpOutcome, isRecord, parseJson, send } from './http.ts';
import {
  compareAppUrlWithRequest,
  findNearMisses,
  type NearMiss,
  probeAuthorize,
  type RequestView,
} from './redirect-uri.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface DetailRow {
  readonly label: string;
  readonly value: string;
}

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** One line: what was found. */
  readonly summary: string;
  /** The change to make, when status is warn or fail. */
  readonly fix?: string;
  readonly details?: readonly DetailRow[];
}

/** The discovery document as fetched once and shared by the checks that need it. */
export interface Discovery {
  readonly url: string;
  readonly outcome: HttpOutcome;
  /** The parsed document, when the answer was a 200 with a JSON object. */
  readonly metadata: Record<string, unknown> | undefined;
  /** This machine's clock (epoch ms) halfway through the request: what the Date header is compared with. */
  readonly localTimeMs: number;
}

const CLOCK_SKEW_WARN_SECONDS = 30;
const REQUIRED_ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const;
/** Without these the app still signs people in, but cannot revoke tokens or end the Identity Service session. */
const WANTED_ENDPOINTS = ['end_session_endpoint', 'revocation_endpoint'] as const;

const skipped = (id: string, title: string, summary: string): CheckResult => ({
  id,
  title,
  status: 'skip',
  summary,
});
const DISCOVERY_NEEDED = 'Skipped: needs the discovery document (see "Discovery document").';

/** "/0" on .NET Framework instances, "" on .NET 8 ones: derived from CREATIO_ODATA_PATH ("/0/odata" or "/odata"). */
export function creatioRoutePrefix(config: Pick<Config, 'odataPath'>): string {
  return config.odataPath.replace(/\/odata$/i, '');
}

/** The OData path of the other Creatio runtime (.NET Framework "/0/odata", .NET 8 "/odata"), if the path is one. */
function otherOdataPath(config: Pick<Config, 'odataPath'>): string | undefined {
  if (config.odataPath === '/0/odata') return '/odata';
  if (config.odataPath === '/odata') return '/0/odata';
  return undefined;
}

function text(metadata: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = metadata?.[key];
  return typeof value === 'string' ? value : undefined;
}

function list(metadata: Record<string, unknown> | undefined, key: string): string[] | undefined {
  const value = metadata?.[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Configuration

function maskStore(config: Config): string {
  const store = config.sessionStore;
  if (store.kind === 'memory') return 'memory';
  if (store.kind === 'sqlite') return `sqlite:${store.path}`;
  const url = new URL(store.url);
  if (url.password) url.password = '••••';
  return url.href;
}

export function checkConfiguration(config: Config): CheckResult {
  const details: DetailRow[] = [
    {
      label: 'mode',
      value: config.sandbox ? 'sandbox (IDENTITY_SERVICE_URL unset)' : 'real Identity Service',
    },
    { label: 'IDENTITY_SERVICE_URL', value: config.identityServiceUrl },
    {
      label: 'OAUTH_ISSUER',
      value: config.expectedIssuer ?? '(not set: the issuer must be IDENTITY_SERVICE_URL)',
    },
    { label: 'CREATIO_URL', value: config.creatioUrl },
    { label: 'CREATIO_ODATA_PATH', value: config.odataPath },
    { label: 'OAUTH_CLIENT_ID', value: config.clientId },
    { label: 'OAUTH_CLIENT_SECRET', value: maskSecret(config.clientSecret) },
    { label: 'OAUTH_SCOPES', value: config.scopes.join(' ') },
    { label: 'APP_URL', value: config.appUrl },
    { label: 'redirect URI (OAUTH_REDIRECT_URI)', value: config.redirectUri },
    { label: 'post-logout redirect URI', value: config.postLogoutRedirectUri },
    { label: 'HOST, PORT', value: `${config.host}:${config.port}` },
    { label: 'SESSION_SECRET', value: config.sessionSecrets.map(maskSecret).join(', ') },
    { label: 'SESSION_STORE', value: maskStore(config) },
    {
      label: 'SESSION_IDLE_MINUTES, SESSION_MAX_HOURS',
      value: `${config.sessionIdleMinutes} min, ${config.sessionMaxHours} h`,
    },
    { label: 'session cookie', value: `${config.cookie.name}${config.cookie.secure ? ' (Secure)' : ''}` },
    { label: 'TRUST_PROXY', value: String(config.trustProxy) },
    { label: 'PROXY_ALLOW', value: config.proxyAllow.join(',') },
    { label: 'HTTP_TIMEOUT_MS', value: String(config.httpTimeoutMs) },
    { label: 'LOG_LEVEL', value: config.logLevel },
    { label: 'NODE_ENV=production', value: String(config.production) },
    { label: 'plain-http Identity Service allowed', value: String(config.allowInsecureRequests) },
  ];
  if (config.warnings.length > 0) {
    return {
      id: 'configuration',
      title: 'Configuration',
      status: 'warn',
      summary: `Loaded with ${config.warnings.length} warning(s): ${config.warnings.join(' ')}`,
      fix: 'Change the variables named in the warning(s).',
      details,
    };
  }
  return {
    id: 'configuration',
    title: 'Configuration',
    status: 'pass',
    summary: 'All variables are valid (secrets masked below).',
    details,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Discovery, issuer, endpoints

export async function fetchDiscovery(config: Config, http: Http, now: () => number): Promise<Discovery> {
  const url = discoveryUrl(config).href;
  const sentAt = now();
  const outcome = await send(http, url, { headers: { accept: 'application/json' } });
  const localTimeMs = Math.round((sentAt + now()) / 2);
  const parsed = outcome.ok && outcome.response.status === 200 ? parseJson(outcome.body) : undefined;
  return { url, outcome, metadata: isRecord(parsed) ? parsed : undefined, localTimeMs };
}

/**
 * When discovery fails, Creatio's own copy (<CREATIO_URL>/0/.well-known/openid-configuration) names the real
 * Identity Service: the most common mistake is IDENTITY_SERVICE_URL pointing at the Creatio site.
 */
async function identityServiceNamedByCreatio(config: Config, http: Http): Promise<string | undefined> {
  const outcome = await send(
    http,
    `${config.creatioUrl}${creatioRoutePrefix(config)}/.well-known/openid-configuration`,
    {
      headers: { accept: 'application/json' },
    },
  );
  if (!outcome.ok || outcome.response.status !== 200) return undefined;
  const document = parseJson(outcome.body);
  const tokenEndpoint = isRecord(document) ? text(document, 'token_endpoint') : undefined;
  if (!tokenEndpoint || !URL.canParse(tokenEndpoint)) return undefined;
  return tokenEndpoint.replace(/\/connect\/token\/?$/i, '').replace(/\/+$/, '');
}

const SET_IDENTITY_SERVICE_URL =
  'Set IDENTITY_SERVICE_URL to the Identity Service site (the value of the Creatio system setting OAuth20IdentityServerUrl).';

/** Why the discovery answer is not a usable document, as one sentence and its fix; undefined when it is. */
function discoveryAnswerProblem(discovery: Discovery): { summary: string; fix: string } | undefined {
  const { outcome, url } = discovery;
  if (!outcome.ok) return { summary: outcome.problem.message, fix: outcome.problem.fix };
  const { response, body } = outcome;
  const { status } = response;
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    const target = location && URL.canParse(location, url) ? new URL(location, url) : undefined;
    const base = target?.href.replace(/\/\.well-known\/openid-configuration\/?$/, '');
    return {
      summary: `${url} redirects${target ? ` to ${target.href}` : ''} instead of answering with the discovery document.`,
      fix: target && base !== target.href ? `Set IDENTITY_SERVICE_URL=${base}` : SET_IDENTITY_SERVICE_URL,
    };
  }
  if (status >= 500) {
    return {
      summary: `${url} answered HTTP ${status}: the server there is failing, not refusing.`,
      fix: 'If IDENTITY_SERVICE_URL is right, the Identity Service is broken: its administrator must read its log and restart it.',
    };
  }
  if (status !== 200) {
    return {
      summary: `${url} answered HTTP ${status}, not the discovery document.`,
      fix: SET_IDENTITY_SERVICE_URL,
    };
  }
  if (discovery.metadata) return undefined;
  const parsed = parseJson(body);
  const type = response.headers.get('content-type') ?? '';
  if (parsed === undefined && type.includes('json')) {
    return {
      summary: `${url} answered malformed JSON ("${body.slice(0, 40).trim()}…"), not a discovery document.`,
      fix: 'The Identity Service, or a proxy in front of it, cuts or corrupts the document: ask its administrator to check the proxy and the Identity Service log.',
    };
  }
  return {
    summary: `${url} answered ${parsed === undefined ? describeBody(response, body) : 'JSON that is not an object'}, not a JSON discovery document.`,
    fix: `${SET_IDENTITY_SERVICE_URL.slice(0, -1)}, not a proxy or sign-in page.`,
  };
}

/** IDENTITY_SERVICE_URL with a path (".../identity") whose origin serves the discovery document: the origin is meant. */
async function discoveryAtOrigin(config: Config, http: Http): Promise<string | undefined> {
  const { origin, pathname } = new URL(config.identityServiceUrl);
  if (pathname === '/' || pathname === '') return undefined;
  const outcome = await send(http, `${origin}/.well-known/openid-configuration`, {
    headers: { accept: 'application/json' },
  });
  if (!outcome.ok || outcome.response.status !== 200) return undefined;
  const document = parseJson(outcome.body);
  return isRecord(document) && text(document, 'issuer') ? origin : undefined;
}

export async function checkDiscovery(config: Config, discovery: Discovery, http: Http): Promise<CheckResult> {
  const base = { id: 'discovery', title: 'Discovery document' };
  const details = [{ label: 'URL', value: discovery.url }];
  let failure = discoveryAnswerProblem(discovery);

  if (failure) {
    const [named, atOrigin] = await Promise.all([
      identityServiceNamedByCreatio(config, http),
      discoveryAtOrigin(config, http),
    ]);
    if (named && named !== config.identityServiceUrl.replace(/\/+$/, '')) {
      details.push({ label: 'Identity Service named by Creatio', value: named });
      failure = {
        summary: `${failure.summary} Creatio's own discovery document names the Identity Service ${named}.`,
        fix: `Set IDENTITY_SERVICE_URL=${named}`,
      };
    } else if (atOrigin) {
      failure = {
        summary: `${failure.summary} The discovery document is at ${atOrigin}/.well-known/openid-configuration: IDENTITY_SERVICE_URL must not have the path ${new URL(config.identityServiceUrl).pathname}.`,
        fix: `Set IDENTITY_SERVICE_URL=${atOrigin}`,
      };
    } else if (
      discovery.outcome.ok &&
      new URL(config.identityServiceUrl).origin === new URL(config.creatioUrl).origin
    ) {
      failure = {
        summary: `${failure.summary} IDENTITY_SERVICE_URL is the Creatio site (CREATIO_URL), not its Identity Service.`,
        fix: `${SET_IDENTITY_SERVICE_URL} In Creatio cloud it is the Creatio host with "-is" added.`,
      };
    }
    return { ...base, status: 'fail', ...failure, details };
  }

  const { protocol, hostname } = new URL(discovery.url);
  if (protocol === 'http:' && !isLoopbackHost(hostname)) {
    return {
      ...base,
      status: 'warn',
      summary: `Loaded over plain http from ${hostname}: the client secret and tokens travel unencrypted.`,
      fix: `Serve the Identity Service over https and set IDENTITY_SERVICE_URL=https://${new URL(discovery.url).host}`,
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `Loaded from ${discovery.url}${protocol === 'https:' ? ' (TLS certificate valid)' : ''}.`,
    details,
  };
}

/** Equal as openid-client compares them: "https://is.example.com" and "https://is.example.com/" are one URL. */
function sameUrl(a: string, b: string): boolean {
  return a === b || (URL.canParse(a) && URL.canParse(b) && new URL(a).href === new URL(b).href);
}

export function checkIssuer(config: Config, metadata: Record<string, unknown> | undefined): CheckResult {
  const base = { id: 'issuer', title: 'Issuer' };
  if (!metadata) return skipped(base.id, base.title, DISCOVERY_NEEDED);
  const issuer = text(metadata, 'issuer');
  if (!issuer) {
    return {
      ...base,
      status: 'fail',
      summary: 'The discovery document has no "issuer".',
      fix: 'Check IDENTITY_SERVICE_URL: this is not an OpenID Connect provider.',
    };
  }
  const details = [{ label: 'issuer (discovery)', value: issuer }];

  if (config.expectedIssuer !== undefined) {
    details.push({ label: 'OAUTH_ISSUER', value: config.expectedIssuer });
    if (issuer === config.expectedIssuer) {
      return { ...base, status: 'pass', summary: `The issuer "${issuer}" equals OAUTH_ISSUER.`, details };
    }
    const onlySlash = issuer.replace(/\/+$/, '') === config.expectedIssuer.replace(/\/+$/, '');
    // When the issuer is the Identity Service's own URL, the override is not needed at all.
    const override = !sameUrl(issuer, config.identityServiceUrl);
    return {
      ...base,
      status: 'fail',
      summary: `The Identity Service calls itself "${issuer}", OAUTH_ISSUER says "${config.expectedIssuer}"${onlySlash ? ' (they differ by a trailing slash)' : ''}: every sign-in would be refused.`,
      fix: override
        ? `Set OAUTH_ISSUER=${issuer}`
        : `Remove OAUTH_ISSUER: the issuer is IDENTITY_SERVICE_URL itself (or set OAUTH_ISSUER=${issuer}).`,
      details,
    };
  }

  details.push({ label: 'IDENTITY_SERVICE_URL', value: config.identityServiceUrl });
  if (issuer === config.identityServiceUrl) {
    return {
      ...base,
      status: 'pass',
      summary: `The issuer equals IDENTITY_SERVICE_URL (${issuer}).`,
      details,
    };
  }
  if (!URL.canParse(issuer)) {
    return {
      ...base,
      status: 'fail',
      summary: `The issuer "${issuer}" is not a URL (Creatio samples show "creatio.com"), so it cannot equal IDENTITY_SERVICE_URL and sign-in fails.`,
      fix: `Set OAUTH_ISSUER=${issuer}`,
      details,
    };
  }
  // openid-client compares the two as URLs, so "https://is.example.com" and "https://is.example.com/" are the same.
  if (new URL(issuer).href === new URL(config.identityServiceUrl).href) {
    return {
      ...base,
      status: 'pass',
      summary: `The issuer "${issuer}" and IDENTITY_SERVICE_URL "${config.identityServiceUrl}" differ only by the trailing slash of a bare host, which is the same URL.`,
      details,
    };
  }
  const onlySlash = issuer.replace(/\/+$/, '') === config.identityServiceUrl.replace(/\/+$/, '');
  return {
    ...base,
    status: 'fail',
    summary: onlySlash
      ? `The issuer "${issuer}" and IDENTITY_SERVICE_URL "${config.identityServiceUrl}" differ by a trailing slash: sign-in fails.`
      : `The Identity Service calls itself "${issuer}", not "${config.identityServiceUrl}": sign-in fails.`,
    fix: onlySlash
      ? `Set IDENTITY_SERVICE_URL=${issuer}`
      : `If ${issuer} is this Identity Service's public name, set IDENTITY_SERVICE_URL=${issuer}; if it must stay as is (an internal name behind a proxy), set OAUTH_ISSUER=${issuer}.`,
    details,
  };
}

export function checkEndpoints(config: Config, metadata: Record<string, unknown> | undefined): CheckResult {
  const base = { id: 'endpoints', title: 'Endpoints, PKCE and scopes' };
  if (!metadata) return skipped(base.id, base.title, DISCOVERY_NEEDED);
  const details: DetailRow[] = [...REQUIRED_ENDPOINTS, ...WANTED_ENDPOINTS].map((key) => ({
    label: key,
    value: text(metadata, key) ?? '(missing)',
  }));
  const problems: string[] = [];
  const fixes: string[] = [];
  const warnings: string[] = [];

  const missing = REQUIRED_ENDPOINTS.filter((key) => !text(metadata, key));
  if (missing.length > 0) {
    problems.push(`the discovery document lacks ${missing.join(', ')}`);
    fixes.push('Point IDENTITY_SERVICE_URL at an OpenID Connect provider (Creatio’s Identity Service).');
  }
  const missingWanted = WANTED_ENDPOINTS.filter((key) => !text(metadata, key));
  if (missingWanted.length > 0) {
    warnings.push(
      `no ${missingWanted.join(' or ')}: sign-out cannot revoke tokens or end the Identity Service session`,
    );
  }

  const methods = list(metadata, 'code_challenge_methods_supported');
  details.push({ label: 'code_challenge_methods_supported', value: methods?.join(' ') ?? '(not listed)' });
  if (methods && !methods.includes('S256')) {
    problems.push('PKCE with S256 is not supported');
    fixes.push('Update the Identity Service: the app always sends a PKCE S256 challenge.');
  } else if (!methods) {
    warnings.push('the document does not list PKCE methods (the app sends S256 anyway)');
  }

  const supported = list(metadata, 'scopes_supported');
  details.push({ label: 'scopes_supported', value: supported?.join(' ') ?? '(not listed)' });
  const unsupported = supported ? config.scopes.filter((s) => !supported.includes(s)) : [];
  if (unsupported.length > 0) {
    problems.push(`scope(s) ${unsupported.join(', ')} of OAUTH_SCOPES are not offered`);
    fixes.push(
      `Set OAUTH_SCOPES=${config.scopes.filter((s) => !unsupported.includes(s)).join(' ')} or enable the scope(s) at the Identity Service.`,
    );
  }

  const authorization = text(metadata, 'authorization_endpoint');
  const configuredOrigin = new URL(config.identityServiceUrl).origin;
  if (authorization && URL.canParse(authorization) && new URL(authorization).origin !== configuredOrigin) {
    warnings.push(
      `the authorization endpoint is on ${new URL(authorization).origin}, not on ${configuredOrigin}: browsers must be able to reach it`,
    );
  }

  if (problems.length > 0) {
    return {
      ...base,
      status: 'fail',
      summary: `${capitalise(problems.join('; '))}.`,
      fix: fixes.join(' '),
      details,
    };
  }
  if (warnings.length > 0) {
    return {
      ...base,
      status: 'warn',
      summary: `${capitalise(warnings.join('; '))}.`,
      fix: 'Check the Identity Service’s public origin setting (the URLs it publishes) and its enabled endpoints.',
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `All endpoints present; PKCE S256 and the scopes ${config.scopes.join(' ')} are supported.`,
    details,
  };
}

function capitalise(sentence: string): string {
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Redirect URI

function describeNearMiss(miss: NearMiss): string {
  return `${miss.uri} (${miss.differences.map((d) => d.description).join('; ')})`;
}

function fixForNearMiss(config: Config, miss: NearMiss): string {
  // OAUTH_REDIRECT_URI is the slip, and the app's own default is what was registered.
  if (miss.uri === `${config.appUrl}/auth/callback`) {
    return `Remove OAUTH_REDIRECT_URI: the app then sends ${miss.uri}, which is registered.`;
  }
  const register = `register ${config.redirectUri} exactly: npm run redirect-urls -- add ${config.redirectUri} (or in "OAuth 2.0 integrated applications" → Authorized redirect URIs)`;
  if (!URL.canParse(miss.uri)) return capitalise(`${register}.`);
  const origin = new URL(miss.uri).origin;
  // Browsers write scheme and host in lower case, so "http://LOCALHOST" in APP_URL counts as another origin too.
  const originDiffers =
    miss.differences.some((d) => d.kind === 'scheme' || d.kind === 'host' || d.kind === 'port') ||
    !config.redirectUri.startsWith(`${origin}/`);
  if (originDiffers) {
    const setting =
      config.redirectUri === `${config.appUrl}/auth/callback`
        ? `set APP_URL=${origin}`
        : `set OAUTH_REDIRECT_URI=${miss.uri}`;
    return `If browsers reach this app at ${origin}, ${setting}; otherwise ${register}.`;
  }
  return capitalise(`${register}.`);
}

/** Where the app receives the sign-in: APP_URL + /auth/callback, matched as Express matches routes. */
function reachesCallbackRoute(config: Config): boolean {
  if (!URL.canParse(config.redirectUri)) return false;
  const uri = new URL(config.redirectUri);
  const app = new URL(config.appUrl);
  const path = uri.pathname.replace(/\/$/, '').toLowerCase();
  return (
    uri.origin === app.origin && path === `${app.pathname.replace(/\/$/, '')}/auth/callback`.toLowerCase()
  );
}

export async function checkRedirectUri(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
  client: ClientVerdict = 'undetermined',
): Promise<CheckResult> {
  const base = { id: 'redirect-uri', title: 'Redirect URI' };
  const details: DetailRow[] = [{ label: 'sent by the app', value: config.redirectUri }];
  const endpoint = text(metadata, 'authorization_endpoint');
  if (!endpoint || !URL.canParse(endpoint)) return skipped(base.id, base.title, DISCOVERY_NEEDED);
  // Redirect URIs belong to an application: with the wrong one, whatever the probe says would mislead.
  if (client === 'unknown-client' || client === 'grant-not-allowed') {
    return skipped(
      base.id,
      base.title,
      `Skipped: redirect URIs are registered per application, and client ${config.clientId} ${client === 'unknown-client' ? 'is unknown or not Active' : 'may not use the authorization code grant'} (see "Client id and secret").`,
    );
  }

  const probe = await probeAuthorize(http, endpoint, config.clientId, config.redirectUri);
  details.push({ label: 'Identity Service answer', value: probe.answer });
  const onApp = reachesCallbackRoute(config);

  if (probe.verdict === 'unreachable') {
    return { ...base, status: 'fail', summary: probe.answer, fix: probe.problem?.fix, details };
  }
  if (probe.verdict === 'accepted') {
    if (!onApp) {
      return {
        ...base,
        status: 'warn',
        summary: `The Identity Service accepts ${config.redirectUri}, but the app receives sign-ins at ${config.appUrl}/auth/callback, so the sign-in may never come back to this app.`,
        fix: `Remove OAUTH_REDIRECT_URI (the app then sends ${config.appUrl}/auth/callback; register that) unless a proxy maps ${config.redirectUri} to it.`,
        details,
      };
    }
    return {
      ...base,
      status: 'pass',
      summary: `The Identity Service accepts ${config.redirectUri} for client ${config.clientId}: it ${probe.answer}.`,
      details,
    };
  }
  if (probe.verdict === 'inconclusive') {
    return {
      ...base,
      status: 'warn',
      summary: `Could not tell whether ${config.redirectUri} is registered: the Identity Service ${probe.answer}.`,
      fix: probe.error
        ? `The Identity Service reported ${probe.error}: check that the application uses the authorization code grant and that scope "openid" is allowed.`
        : 'Sign in once by hand; if the Identity Service shows an error page, register the redirect URI.',
      details,
    };
  }

  // Rejected: find what is registered instead.
  const nearMisses = await findNearMisses(http, endpoint, config.clientId, config.redirectUri);
  for (const miss of nearMisses) details.push({ label: 'accepted instead', value: describeNearMiss(miss) });
  const [closest] = nearMisses;
  if (closest) {
    return {
      ...base,
      status: 'fail',
      summary: `The Identity Service rejects ${config.redirectUri} but accepts ${describeNearMiss(closest)}.`,
      fix: fixForNearMiss(config, closest),
      details,
    };
  }
  if (probe.error === 'invalid_client' || probe.error === 'unauthorized_client') {
    return {
      ...base,
      status: 'fail',
      summary: `The Identity Service does not accept client id ${config.clientId} with redirect URI ${config.redirectUri} (${probe.error}): the client is unknown or not Active, or the URI is not registered.`,
      fix: `Check OAUTH_CLIENT_ID against "OAuth 2.0 integrated applications" (Active checked), then register ${config.redirectUri}: npm run redirect-urls -- add ${config.redirectUri}`,
      details,
    };
  }
  return {
    ...base,
    status: 'fail',
    summary: `The Identity Service rejects the redirect URI ${config.redirectUri}: it ${probe.answer}.`,
    fix: `Register ${config.redirectUri} for client ${config.clientId}: npm run redirect-urls -- add ${config.redirectUri} (or in "OAuth 2.0 integrated applications" → Authorized redirect URIs).`,
    details,
  };
}

/** Page only: APP_URL (and so the redirect URI) against the origin the browser used for this very request. */
export function checkBrowserOrigin(config: Config, view: RequestView): CheckResult {
  const result = compareAppUrlWithRequest(config.appUrl, view);
  const details: DetailRow[] = [
    { label: 'APP_URL', value: config.appUrl },
    { label: 'browser origin', value: result.browserOrigin ?? '(unknown)' },
    {
      label: 'X-Forwarded-Proto / -Host',
      value: `${view.forwardedProto ?? '-'} / ${view.forwardedHost ?? '-'}`,
    },
    { label: 'TRUST_PROXY', value: String(config.trustProxy) },
  ];
  return { id: 'browser-origin', title: 'APP_URL as the browser sees it', ...result, details };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Client id and secret

/**
 * What the Identity Service thinks of the client: the redirect-URI check needs it too, because redirect URIs are
 * registered per application — for an unknown client, or one that may not use the authorization code grant, a
 * rejected redirect URI is a consequence, not a second mistake.
 */
export type ClientVerdict =
  | 'valid'
  | 'unknown-client'
  | 'wrong-secret'
  | 'invalid-client'
  | 'grant-not-allowed'
  | 'undetermined';

export interface ClientAssessment {
  readonly verdict: ClientVerdict;
  readonly check: CheckResult;
}

export async function assessClient(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
): Promise<ClientAssessment> {
  const base = { id: 'client-credentials', title: 'Client id and secret' };
  const undetermined = (check: CheckResult): ClientAssessment => ({ verdict: 'undetermined', check });
  const endpoint = text(metadata, 'token_endpoint');
  if (!endpoint || !URL.canParse(endpoint))
    return undetermined(skipped(base.id, base.title, DISCOVERY_NEEDED));
  const details = [
    { label: 'token endpoint', value: endpoint },
    { label: 'client id', value: config.clientId },
    { label: 'client secret', value: maskSecret(config.clientSecret) },
  ];

  // A made-up code: a valid client gets invalid_grant (the code is wrong), a wrong one invalid_client.
  const outcome = await send(http, endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: `diagnostics-${randomBytes(8).toString('hex')}`,
      redirect_uri: config.redirectUri,
      code_verifier: randomBytes(32).toString('base64url'),
      client_id: config.clientId,
      client_secret: config.clientSecret,
    }),
  });
  if (!outcome.ok) {
    return undetermined({
      ...base,
      status: 'fail',
      summary: outcome.problem.message,
      fix: outcome.problem.fix,
      details,
    });
  }
  const body = parseJson(outcome.body);
  const error = isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
  const description =
    isRecord(body) && typeof body.error_description === 'string' ? body.error_description : '';
  details.push({
    label: 'answer',
    value: `HTTP ${outcome.response.status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`,
  });

  if (error === 'invalid_grant') {
    return {
      verdict: 'valid',
      check: {
        ...base,
        status: 'pass',
        summary:
          'The Identity Service accepts the client id and secret (it refused only the made-up authorization code, as expected).',
        details,
      },
    };
  }
  if (error === 'invalid_client') return whichCredentialIsWrong(config, metadata, http, details);
  if (error === 'unauthorized_client' || /grant type/i.test(description)) {
    return {
      verdict: 'grant-not-allowed',
      check: {
        ...base,
        status: 'fail',
        summary: `Client ${config.clientId} is known but may not use the authorization code grant (${error}): it is a server-to-server (client credentials) application.`,
        fix: 'Set OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET to an integrated application of the "authorization code" type (npm run redirect-urls -- create-client …), not a server-to-server one.',
        details,
      },
    };
  }
  if (!isRecord(body)) {
    return undetermined({
      ...base,
      status: 'fail',
      summary: `The token endpoint answered ${describeBody(outcome.response, outcome.body)} (HTTP ${outcome.response.status}), not an OAuth error.`,
      fix: 'Check that the discovery document’s token_endpoint is the Identity Service’s /connect/token.',
      details,
    });
  }
  return undetermined({
    ...base,
    status: 'warn',
    summary: `Unexpected answer from the token endpoint: HTTP ${outcome.response.status} ${error ?? ''}.`,
    fix: 'Sign in once by hand and read the Identity Service log for this client.',
    details,
  });
}

/**
 * invalid_client from the token endpoint means a wrong id, a wrong secret or an inactive application. The
 * authorization endpoint checks the id (and Active) without the secret, so one probe there tells them apart.
 */
async function whichCredentialIsWrong(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
  details: DetailRow[],
): Promise<ClientAssessment> {
  const base = { id: 'client-credentials', title: 'Client id and secret', status: 'fail' } as const;
  const authorization = text(metadata, 'authorization_endpoint');
  const probe =
    authorization && URL.canParse(authorization)
      ? await probeAuthorize(http, authorization, config.clientId, config.redirectUri)
      : undefined;
  if (probe) details.push({ label: 'authorization endpoint', value: probe.answer });

  if (probe?.error === 'invalid_client' || probe?.error === 'unauthorized_client') {
    return {
      verdict: 'unknown-client',
      check: {
        ...base,
        summary: `The Identity Service does not know client id ${config.clientId}, or its application is not Active (${probe.error} at the authorization endpoint too, where no secret is sent).`,
        fix: 'Copy Client Id from "OAuth 2.0 integrated applications" into OAUTH_CLIENT_ID and select the application’s Active checkbox; the secret can be checked once the id is right.',
        details,
      },
    };
  }
  if (probe && probe.verdict !== 'unreachable' && probe.verdict !== 'inconclusive') {
    return {
      verdict: 'wrong-secret',
      check: {
        ...base,
        summary: `The Identity Service knows client ${config.clientId} but refuses this client secret (invalid_client).`,
        fix: 'Copy the Client secret of this application again into OAUTH_CLIENT_SECRET (nothing around it: no quotes, no spaces).',
        details,
      },
    };
  }
  return {
    verdict: 'invalid-client',
    check: {
      ...base,
      summary: `The Identity Service refuses client ${config.clientId} with this secret (invalid_client): wrong id or secret, or the application is not Active.`,
      fix: 'Copy Client Id and Client secret again from "OAuth 2.0 integrated applications" into OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET and make sure the application’s Active checkbox is selected.',
      details,
    },
  };
}

/** The client check alone (the doctor runs assessClient once and shares the verdict with the redirect-URI check). */
export async function checkClientCredentials(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
): Promise<CheckResult> {
  return (await assessClient(config, metadata, http)).check;
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Creatio-specific mistakes

const CLOUD_SUFFIX = '.creatio.com';

export function checkIdentityServiceHost(
  config: Config,
  metadata?: Record<string, unknown> | undefined,
): CheckResult {
  const base = { id: 'identity-service-host', title: 'Identity Service host' };
  const ids = new URL(config.identityServiceUrl);
  const creatio = new URL(config.creatioUrl);
  const details = [
    { label: 'IDENTITY_SERVICE_URL', value: config.identityServiceUrl },
    { label: 'CREATIO_URL', value: config.creatioUrl },
  ];
  const cloud = creatio.hostname.toLowerCase().endsWith(CLOUD_SUFFIX);
  const cloudIdentityHost = cloud
    ? creatio.hostname.replace(new RegExp(`${CLOUD_SUFFIX.replace('.', '\\.')}$`, 'i'), `-is${CLOUD_SUFFIX}`)
    : undefined;

  if (ids.origin === creatio.origin && metadata) {
    // That origin served a discovery document, so it is the Identity Service: CREATIO_URL is the slip.
    const creatioHost = creatio.hostname.replace(/-is(\.creatio\.com)$/i, '$1');
    return {
      ...base,
      status: 'fail',
      summary:
        'CREATIO_URL points at the Identity Service (it serves the discovery document); Creatio is a separate site.',
      fix:
        creatioHost !== creatio.hostname
          ? `Set CREATIO_URL=${creatio.protocol}//${creatioHost}`
          : 'Set CREATIO_URL to the Creatio site itself (the address users open Creatio at).',
      details,
    };
  }
  if (ids.origin === creatio.origin) {
    return {
      ...base,
      status: 'fail',
      summary:
        'IDENTITY_SERVICE_URL points at the Creatio site itself; the Identity Service is a separate site.',
      fix: cloudIdentityHost
        ? `Set IDENTITY_SERVICE_URL=https://${cloudIdentityHost}`
        : 'Set IDENTITY_SERVICE_URL to the value of the Creatio system setting OAuth20IdentityServerUrl.',
      details,
    };
  }
  if (cloudIdentityHost && ids.hostname.toLowerCase() !== cloudIdentityHost.toLowerCase()) {
    return {
      ...base,
      status: 'warn',
      summary: `In Creatio cloud the Identity Service of ${creatio.hostname} is usually ${cloudIdentityHost}, not ${ids.hostname}.`,
      fix: `Compare with the system setting OAuth20IdentityServerUrl; usually IDENTITY_SERVICE_URL=https://${cloudIdentityHost}`,
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: 'The Identity Service is a separate site from Creatio, as it should be.',
    details,
  };
}

/** Creatio answers true/false, as JSON or text, depending on version. */
function readBoolean(body: string): boolean | undefined {
  const parsed = parseJson(body);
  if (typeof parsed === 'boolean') return parsed;
  if (isRecord(parsed)) {
    const values = Object.values(parsed).filter((v) => typeof v === 'boolean');
    if (values.length === 1) return values[0] as boolean;
  }
  const trimmed = body.trim().toLowerCase();
  return trimmed === 'true' ? true : trimmed === 'false' ? false : undefined;
}

export async function checkAuthorizationCodeFlow(config: Config, http: Http): Promise<CheckResult> {
  const base = { id: 'authorization-code-flow', title: 'Authorization code grant enabled in Creatio' };
  const url = `${config.creatioUrl}${creatioRoutePrefix(config)}/identityServiceInfo/canUseAuthorizationCodeFlow`;
  const details = [{ label: 'URL', value: url }];
  const outcome = await send(http, url, { headers: { accept: 'application/json' } });
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
  const { status } = outcome.response;
  details.push({ label: 'answer', value: `HTTP ${status} ${outcome.body.slice(0, 60).trim()}` });
  if (status === 401 || status === 403 || (status >= 300 && status < 400)) {
    return {
      ...base,
      status: 'warn',
      summary: `Creatio wants a signed-in user for this endpoint (HTTP ${status}); could not tell whether the feature is on.`,
      fix: 'Ask a Creatio administrator to check the feature OAuth20Integration and that Creatio is 8.3 or later.',
      details,
    };
  }
  if (status === 404) {
    const other = otherOdataPath(config);
    if (other) {
      const otherUrl = `${config.creatioUrl}${creatioRoutePrefix({ odataPath: other })}/identityServiceInfo/canUseAuthorizationCodeFlow`;
      const found = await send(http, otherUrl, { headers: { accept: 'application/json' } });
      if (found.ok && found.response.status === 200) {
        details.push({ label: 'answered instead', value: otherUrl });
        return {
          ...base,
          status: 'warn',
          summary: `Creatio serves its routes ${other === '/odata' ? 'without' : 'with'} the "/0" prefix, so CREATIO_ODATA_PATH=${config.odataPath} does not match its runtime (the OData check fails for the same reason).`,
          fix: `Set CREATIO_ODATA_PATH=${other}`,
          details,
        };
      }
    }
    if (new URL(config.creatioUrl).origin === new URL(config.identityServiceUrl).origin) {
      return {
        ...base,
        status: 'warn',
        summary:
          'Not found: CREATIO_URL is the same site as IDENTITY_SERVICE_URL, so this asked the Identity Service, not Creatio (see "Identity Service host").',
        fix: 'Set CREATIO_URL to the Creatio site and IDENTITY_SERVICE_URL to its Identity Service.',
        details,
      };
    }
    return {
      ...base,
      status: 'warn',
      summary:
        'Creatio does not know this endpoint: it is older than 8.3 (no authorization code grant) or CREATIO_ODATA_PATH does not match its runtime.',
      fix: 'Use Creatio 8.3 or later; on .NET 8 instances set CREATIO_ODATA_PATH=/odata.',
      details,
    };
  }
  const value = status === 200 ? readBoolean(outcome.body) : undefined;
  if (value === true) {
    return { ...base, status: 'pass', summary: 'Creatio allows the authorization code grant.', details };
  }
  if (value === false) {
    return {
      ...base,
      status: 'fail',
      summary: 'Creatio answers that the authorization code grant cannot be used.',
      fix: 'Turn on the feature OAuth20Integration, connect the Identity Service (system settings OAuth20IdentityServerUrl, …ClientId, …ClientSecret) and use Creatio 8.3 or later.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `Unexpected answer (HTTP ${status}, ${describeBody(outcome.response, outcome.body)}).`,
    fix: 'Check CREATIO_URL: it should be the Creatio site, e.g. https://123456-crm-bundle.creatio.com',
    details,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Clock skew

export function checkClockSkew(discovery: Discovery): CheckResult {
  const base = { id: 'clock-skew', title: 'Clock' };
  if (!discovery.outcome.ok) {
    return skipped(
      base.id,
      base.title,
      'Skipped: the Identity Service did not answer (see "Discovery document").',
    );
  }
  const date = discovery.outcome.ok ? discovery.outcome.response.headers.get('date') : null;
  const serverTime = date ? Date.parse(date) : Number.NaN;
  if (Number.isNaN(serverTime)) {
    return skipped(base.id, base.title, 'Skipped: the Identity Service sent no Date header.');
  }
  const skewSeconds = Math.round((serverTime - discovery.localTimeMs) / 1000);
  const details = [
    { label: 'Identity Service (Date header)', value: new Date(serverTime).toISOString() },
    { label: 'this machine', value: new Date(discovery.localTimeMs).toISOString() },
  ];
  const direction = skewSeconds > 0 ? 'behind' : 'ahead of';
  if (Math.abs(skewSeconds) > CLOCK_SKEW_WARN_SECONDS) {
    return {
      ...base,
      status: 'warn',
      summary: `This machine's clock is ${Math.abs(skewSeconds)} s ${direction} the Identity Service's: ID tokens may be refused as not yet valid or expired.`,
      fix: 'Synchronise the clocks of both machines with NTP (e.g. timedatectl set-ntp true).',
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `The clocks agree within ${CLOCK_SKEW_WARN_SECONDS} s (difference ${Math.abs(skewSeconds)} s).`,
    details,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 7. Creatio OData

export async function checkCreatio(config: Config, http: Http): Promise<CheckResult> {
  const base = { id: 'creatio', title: 'Creatio OData' };
  const url = `${config.creatioUrl}${config.odataPath}/`;
  const details = [{ label: 'URL', value: url }];
  const outcome = await send(http, url, { headers: { accept: 'application/json' } });
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
  const { status } = outcome.response;
  details.push({ label: 'answer without a token', value: `HTTP ${status}` });
  if (status === 401) {
    return {
      ...base,
      status: 'pass',
      summary: `Creatio answers at ${url} and asks for a token (401), as expected.`,
      details,
    };
  }
  if (status === 404) {
    // The other runtime's path answering 401 means only CREATIO_ODATA_PATH is wrong.
    const other = otherOdataPath(config);
    const answer = other
      ? await send(http, `${config.creatioUrl}${other}/`, { headers: { accept: 'application/json' } })
      : undefined;
    const atOther = answer?.ok === true && answer.response.status === 401;
    const sameAsIdentity = new URL(config.creatioUrl).origin === new URL(config.identityServiceUrl).origin;
    return {
      ...base,
      status: 'fail',
      summary: `There is no OData 4 service at ${url} (404)${atOther ? `; it is at ${config.creatioUrl}${other}/` : ''}.`,
      fix: atOther
        ? `Set CREATIO_ODATA_PATH=${other}`
        : sameAsIdentity
          ? 'CREATIO_URL is the Identity Service’s address: set it to the Creatio site itself.'
          : 'Check CREATIO_URL (the Creatio site) and CREATIO_ODATA_PATH (/0/odata on .NET Framework, /odata on .NET 8).',
      details,
    };
  }
  if (status >= 300 && status < 400) {
    return {
      ...base,
      status: 'warn',
      summary: `${url} redirects to ${outcome.response.headers.get('location') ?? '?'} instead of answering 401.`,
      fix: 'Check CREATIO_URL (scheme and host exactly as Creatio serves them) and CREATIO_ODATA_PATH.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `${url} answered HTTP ${status} without a token; Creatio answers 401.`,
    fix: 'Check that CREATIO_URL is the Creatio site, not a proxy or another service.',
    details,
  };
}

/** Page only: one `$top=1` call with the signed-in user's own access token, which is never rendered. */
export async function checkCreatioAsUser(
  config: Config,
  tokens: TokenSet | undefined,
  http: Http,
  now: () => number,
): Promise<CheckResult> {
  const base = { id: 'creatio-as-user', title: 'Creatio OData with your token' };
  if (!tokens) return skipped(base.id, base.title, 'Skipped: sign in to run this check with your own token.');
  if (tokens.expiresAt <= now()) {
    return {
      ...base,
      status: 'warn',
      summary: 'Your access token has expired; the app refreshes it on your next API call.',
      fix: 'Open the accounts page once, then reload this page.',
    };
  }
  const url = `${config.creatioUrl}${config.odataPath}/Account?$top=1&$select=Id`;
  const details = [{ label: 'URL', value: url }];
  const outcome = await send(http, url, {
    headers: { accept: 'application/json', authorization: `Bearer ${tokens.accessToken}` },
  });
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
  const { status } = outcome.response;
  details.push({ label: 'answer', value: `HTTP ${status}` });
  if (status === 200) {
    return {
      ...base,
      status: 'pass',
      summary: 'Creatio accepts your access token and returns data.',
      details,
    };
  }
  if (status === 401) {
    return {
      ...base,
      status: 'fail',
      summary:
        'Creatio refuses your access token (401): it trusts another Identity Service or the token is for another resource.',
      fix: `Check that the Creatio system setting OAuth20IdentityServerUrl is ${config.identityServiceUrl}.`,
      details,
    };
  }
  if (status === 403) {
    return {
      ...base,
      status: 'fail',
      summary: 'Creatio accepts your token but refuses the call (403): your user lacks permission.',
      fix: 'Grant your Creatio user the system operation "Access to OData" and read access to Account.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `Creatio answered HTTP ${status} to a signed-in $top=1 call.`,
    fix: 'Open the OData explorer for the full answer.',
    details,
  };
}
