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

export async function checkDiscovery(config: Config, discovery: Discovery, http: Http): Promise<CheckResult> {
  const base = { id: 'discovery', title: 'Discovery document' };
  const details = [{ label: 'URL', value: discovery.url }];
  let failure: { summary: string; fix: string } | undefined;
  const { outcome } = discovery;
  if (!outcome.ok) {
    failure = { summary: outcome.problem.message, fix: outcome.problem.fix };
  } else if (outcome.response.status !== 200) {
    failure = {
      summary: `${discovery.url} answered HTTP ${outcome.response.status}, not the discovery document.`,
      fix: 'Set IDENTITY_SERVICE_URL to the Identity Service site (the value of the Creatio system setting OAuth20IdentityServerUrl).',
    };
  } else if (!discovery.metadata) {
    failure = {
      summary: `${discovery.url} answered ${describeBody(outcome.response, outcome.body)}, not a JSON discovery document.`,
      fix: 'Set IDENTITY_SERVICE_URL to the Identity Service site (the value of the Creatio system setting OAuth20IdentityServerUrl), not a proxy or sign-in page.',
    };
  }

  if (failure) {
    const named = await identityServiceNamedByCreatio(config, http);
    if (named && named !== config.identityServiceUrl.replace(/\/+$/, '')) {
      details.push({ label: 'Identity Service named by Creatio', value: named });
      failure = {
        summary: `${failure.summary} Creatio's own discovery document names the Identity Service ${named}.`,
        fix: `Set IDENTITY_SERVICE_URL=${named}`,
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
    return issuer === config.expectedIssuer
      ? { ...base, status: 'pass', summary: `The issuer "${issuer}" equals OAUTH_ISSUER.`, details }
      : {
          ...base,
          status: 'fail',
          summary: `The Identity Service calls itself "${issuer}", OAUTH_ISSUER says "${config.expectedIssuer}": every sign-in would be refused.`,
          fix: `Set OAUTH_ISSUER=${issuer}`,
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
  const register = `register ${config.redirectUri} exactly: npm run redirect-urls -- add ${config.redirectUri} (or in "OAuth 2.0 integrated applications" → Authorized redirect URIs)`;
  const originDiffers = miss.differences.some(
    (d) => d.kind === 'scheme' || d.kind === 'host' || d.kind === 'port',
  );
  if (originDiffers && URL.canParse(miss.uri)) {
    const origin = new URL(miss.uri).origin;
    return `If browsers reach this app at ${origin}, set APP_URL=${origin}; otherwise ${register}.`;
  }
  return capitalise(`${register}.`);
}

export async function checkRedirectUri(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
): Promise<CheckResult> {
  const base = { id: 'redirect-uri', title: 'Redirect URI' };
  const details: DetailRow[] = [{ label: 'sent by the app', value: config.redirectUri }];
  const endpoint = text(metadata, 'authorization_endpoint');
  if (!endpoint || !URL.canParse(endpoint)) return skipped(base.id, base.title, DISCOVERY_NEEDED);

  const probe = await probeAuthorize(http, endpoint, config.clientId, config.redirectUri);
  details.push({ label: 'Identity Service answer', value: probe.answer });
  const onApp = config.redirectUri.startsWith(`${config.appUrl}/`);

  if (probe.verdict === 'unreachable') {
    return { ...base, status: 'fail', summary: probe.answer, fix: probe.problem?.fix, details };
  }
  if (probe.verdict === 'accepted') {
    if (!onApp) {
      return {
        ...base,
        status: 'warn',
        summary: `The Identity Service accepts ${config.redirectUri}, but it is not on APP_URL (${config.appUrl}), so the sign-in may never come back to this app.`,
        fix: `Unset OAUTH_REDIRECT_URI (the app then sends ${config.appUrl}/auth/callback) unless a proxy maps it here.`,
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

export async function checkClientCredentials(
  config: Config,
  metadata: Record<string, unknown> | undefined,
  http: Http,
): Promise<CheckResult> {
  const base = { id: 'client-credentials', title: 'Client id and secret' };
  const endpoint = text(metadata, 'token_endpoint');
  if (!endpoint || !URL.canParse(endpoint)) return skipped(base.id, base.title, DISCOVERY_NEEDED);
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
  if (!outcome.ok)
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix, details };
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
      ...base,
      status: 'pass',
      summary:
        'The Identity Service accepts the client id and secret (it refused only the made-up authorization code, as expected).',
      details,
    };
  }
  if (error === 'invalid_client') {
    return {
      ...base,
      status: 'fail',
      summary: `The Identity Service refuses client ${config.clientId} with this secret (invalid_client): wrong id or secret, or the application is not Active.`,
      fix: 'Copy Client Id and Client secret again from "OAuth 2.0 integrated applications" into OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET and make sure the application’s Active checkbox is selected.',
      details,
    };
  }
  if (error === 'unauthorized_client' || /grant type/i.test(description)) {
    return {
      ...base,
      status: 'fail',
      summary: `Client ${config.clientId} is known but may not use the authorization code grant (${error}).`,
      fix: 'Use an integrated application of the "authorization code" type (npm run redirect-urls -- create-client …), not a server-to-server one.',
      details,
    };
  }
  if (!isRecord(body)) {
    return {
      ...base,
      status: 'fail',
      summary: `The token endpoint answered ${describeBody(outcome.response, outcome.body)} (HTTP ${outcome.response.status}), not an OAuth error.`,
      fix: 'Check that the discovery document’s token_endpoint is the Identity Service’s /connect/token.',
      details,
    };
  }
  return {
    ...base,
    status: 'warn',
    summary: `Unexpected answer from the token endpoint: HTTP ${outcome.response.status} ${error ?? ''}.`,
    fix: 'Sign in once by hand and read the Identity Service log for this client.',
    details,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Creatio-specific mistakes

const CLOUD_SUFFIX = '.creatio.com';

export function checkIdentityServiceHost(config: Config): CheckResult {
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
    return {
      ...base,
      status: 'fail',
      summary: `There is no OData 4 service at ${url} (404).`,
      fix:
        config.odataPath === '/0/odata'
          ? 'On Creatio .NET 8 instances set CREATIO_ODATA_PATH=/odata; otherwise check CREATIO_URL.'
          : 'Check CREATIO_URL and CREATIO_ODATA_PATH (default /0/odata).',
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
