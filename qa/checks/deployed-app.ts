/**
 * `npm run doctor -- --app <url>`: a deployed app checked from the outside, as a browser meets it, with no
 * configuration and no secret. /auth/login shows what the app really sends to the Identity Service (client id,
 * redirect URI, scope, PKCE, state, nonce) and which cookies it sets; its health endpoints and security headers
 * show how it is deployed. The Identity Service it points at is then checked with the checks that need no secret
 * (see runAppDoctor in qa/doctor.ts).
 */
import { parseSetCookie } from 'set-cookie-parser';
import { isLoopbackHost } from '../../server/config.ts';
import { type CheckResult, capitalise, type DetailRow, skipped } from '../check-result.ts';
import { type Http, type HttpOutcome, isRecord, parseJson, send } from '../http.ts';
import type { Discovery } from './identity-service.ts';

/** What GET /auth/login redirected to: the authorization request as the app builds it. */
export interface LoginRedirect {
  /** The authorization endpoint (the redirect without its query). */
  readonly authorizationEndpoint: string;
  readonly params: URLSearchParams;
  readonly clientId: string | undefined;
  readonly redirectUri: string | undefined;
}

export interface AppLogin {
  readonly check: CheckResult;
  /** undefined when /auth/login did not redirect to an authorization endpoint. */
  readonly redirect: LoginRedirect | undefined;
  /** The answer, for the cookie check. */
  readonly outcome: HttpOutcome;
}

const LOGIN_TITLE = 'Sign-in redirect (GET /auth/login)';

/** The app's URL as given, without a trailing slash, so `${app}/auth/login` is one slash. */
export function normaliseAppUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

function isHttps(url: string): boolean {
  return new URL(url).protocol === 'https:';
}

/** Why /auth/login did not redirect, and what to look at. */
function loginStatusProblem(app: string, status: number): { summary: string; fix: string } {
  if (status === 404) {
    return {
      summary: `${app}/auth/login answered 404: there is no creatio-oauth-bff at ${app}.`,
      fix: 'Check the URL (scheme, host, port and the path prefix if a proxy mounts the app under one).',
    };
  }
  if (status >= 500) {
    return {
      summary: `${app}/auth/login answered HTTP ${status}: the app cannot start a sign-in (usually it cannot load its Identity Service's discovery document; see "Health endpoints").`,
      fix: 'Read the app’s log; run npm run doctor with its configuration (--env-file) to see which setting is wrong.',
    };
  }
  return {
    summary: `${app}/auth/login answered HTTP ${status} instead of redirecting to the Identity Service.`,
    fix: 'Check that the URL is the app itself, not a proxy or sign-in page in front of it.',
  };
}

/** The parameters the authorization request must carry: the defences the app promises (PKCE S256, state, nonce). */
function requestProblems(params: URLSearchParams): string[] {
  const problems: string[] = [];
  if (params.get('response_type') !== 'code') {
    problems.push(`response_type is ${params.get('response_type') ?? 'missing'}, not code`);
  }
  if (!params.get('client_id')) problems.push('client_id is missing');
  if (!params.get('code_challenge')) problems.push('there is no PKCE code_challenge');
  else if (params.get('code_challenge_method') !== 'S256') {
    problems.push(`code_challenge_method is ${params.get('code_challenge_method') ?? 'missing'}, not S256`);
  }
  if (!params.get('state')) problems.push('there is no state');
  // A nonce binds the ID token to this sign-in; without openid (Creatio's ApplicationAccess scope alone) there is none.
  const openid = (params.get('scope') ?? '').split(' ').includes('openid');
  if (openid && !params.get('nonce')) problems.push('there is no nonce');
  return problems;
}

export async function checkAppLogin(appUrl: string, http: Http): Promise<AppLogin> {
  const app = normaliseAppUrl(appUrl);
  const base = { id: 'app-login', title: LOGIN_TITLE };
  const outcome = await send(http, `${app}/auth/login`);
  if (!outcome.ok) {
    const check: CheckResult = {
      ...base,
      status: 'fail',
      summary: outcome.problem.message,
      fix: outcome.problem.fix,
    };
    return { check, redirect: undefined, outcome };
  }
  const { response } = outcome;
  const location = response.headers.get('location');
  if (response.status < 300 || response.status >= 400 || !location || !URL.canParse(location, app)) {
    const check: CheckResult = { ...base, status: 'fail', ...loginStatusProblem(app, response.status) };
    return { check, redirect: undefined, outcome };
  }

  const target = new URL(location, app);
  const params = target.searchParams;
  const redirect: LoginRedirect = {
    authorizationEndpoint: `${target.origin}${target.pathname}`,
    params,
    clientId: params.get('client_id') ?? undefined,
    redirectUri: params.get('redirect_uri') ?? undefined,
  };
  const present = (name: string) => (params.get(name) ? 'present' : '(missing)');
  const details: DetailRow[] = [
    { label: 'Identity Service', value: target.origin },
    { label: 'authorization endpoint', value: redirect.authorizationEndpoint },
    { label: 'client_id', value: redirect.clientId ?? '(missing)' },
    { label: 'redirect_uri', value: redirect.redirectUri ?? '(missing)' },
    { label: 'scope', value: params.get('scope') ?? '(missing)' },
    { label: 'response_type', value: params.get('response_type') ?? '(missing)' },
    { label: 'code_challenge_method', value: params.get('code_challenge_method') ?? '(missing)' },
    { label: 'state, nonce', value: `${present('state')}, ${present('nonce')}` },
  ];

  const problems = requestProblems(params);
  const fixes: string[] = [];
  if (problems.length > 0) {
    fixes.push(
      'The app must send response_type=code, PKCE S256, state and (with openid) a nonce: deploy creatio-oauth-bff unmodified.',
    );
  }
  const appOrigin = new URL(app).origin;
  if (isHttps(app) && target.protocol === 'http:' && !isLoopbackHost(target.hostname)) {
    problems.push(`the Identity Service is called over plain http (${target.origin})`);
    fixes.push(`Set IDENTITY_SERVICE_URL=https://${target.host} on the app.`);
  }
  const sent = redirect.redirectUri;
  if (sent && !URL.canParse(sent)) {
    problems.push(`redirect_uri "${sent}" is not an absolute URL`);
    fixes.push(`Set APP_URL=${appOrigin} on the app and remove OAUTH_REDIRECT_URI.`);
  } else if (sent) {
    const sentUrl = new URL(sent);
    if (sentUrl.origin !== appOrigin) {
      const httpBehindTls =
        sentUrl.protocol === 'http:' && isHttps(app) && sentUrl.host === new URL(app).host;
      problems.push(
        httpBehindTls
          ? `the app is reached at ${appOrigin} but sends the http redirect_uri ${sent}: it does not know it is served over https (a TLS proxy in front hides it), so after sign-in the browser comes back over plain http and the Secure cookies are gone`
          : `redirect_uri ${sent} is not on ${appOrigin}, where the app was reached: after sign-in the browser is sent elsewhere`,
      );
      fixes.push(
        httpBehindTls
          ? `Set APP_URL=${appOrigin} on the app (and TRUST_PROXY=1 behind the proxy), and register ${appOrigin}${sentUrl.pathname}.`
          : `Set APP_URL=${appOrigin} on the app (or open the app at ${sentUrl.origin}).`,
      );
    }
  } else {
    problems.push('redirect_uri is missing');
  }

  if (problems.length > 0) {
    const check: CheckResult = {
      ...base,
      status: 'fail',
      summary: `${capitalise(problems.join('; '))}.`,
      fix: fixes.join(' ') || 'Deploy creatio-oauth-bff unmodified.',
      details,
    };
    return { check, redirect, outcome };
  }
  const { hostname } = new URL(app);
  if (!isHttps(app) && !isLoopbackHost(hostname)) {
    const check: CheckResult = {
      ...base,
      status: 'warn',
      summary: `The app is served over plain http at ${appOrigin}: the authorization code and the session cookie travel unencrypted.`,
      fix: `Serve it over https (a TLS proxy in front is fine) and set APP_URL=https://${new URL(app).host} on the app.`,
      details,
    };
    return { check, redirect, outcome };
  }
  const check: CheckResult = {
    ...base,
    status: 'pass',
    summary: `Redirects to ${redirect.authorizationEndpoint} for client ${redirect.clientId} with redirect_uri ${sent}, PKCE S256, state and nonce.`,
    details,
  };
  return { check, redirect, outcome };
}

/**
 * The Identity Service's discovery document, found from the authorization endpoint the app uses: its issuer is one
 * of the endpoint's path prefixes (IdentityServer: <issuer>/connect/authorize), tried longest first.
 */
export async function findDiscovery(
  authorizationEndpoint: string,
  http: Http,
  now: () => number,
): Promise<{ discovery: Discovery; tried: string[] }> {
  const endpoint = new URL(authorizationEndpoint);
  const segments = endpoint.pathname.split('/').filter(Boolean);
  const tried: string[] = [];
  let last: Discovery | undefined;
  for (let keep = segments.length - 1; keep >= 0; keep--) {
    const prefix = segments
      .slice(0, keep)
      .map((s) => `/${s}`)
      .join('');
    const url = `${endpoint.origin}${prefix}/.well-known/openid-configuration`;
    tried.push(url);
    const sentAt = now();
    const outcome = await send(http, url, { headers: { accept: 'application/json' } });
    const localTimeMs = Math.round((sentAt + now()) / 2);
    const parsed = outcome.ok && outcome.response.status === 200 ? parseJson(outcome.body) : undefined;
    last = { url, outcome, metadata: isRecord(parsed) ? parsed : undefined, localTimeMs };
    if (last.metadata || !outcome.ok) break;
  }
  return { discovery: last!, tried };
}

const CLOUD_SUFFIX = /\.creatio\.com$/i;

export function checkAppDiscovery(
  redirect: LoginRedirect,
  found: { discovery: Discovery; tried: readonly string[] },
): CheckResult {
  const base = { id: 'discovery', title: 'Discovery document' };
  const { discovery, tried } = found;
  const details: DetailRow[] = tried.map((url) => ({ label: 'tried', value: url }));
  if (!discovery.outcome.ok) {
    return {
      ...base,
      status: 'fail',
      summary: discovery.outcome.problem.message,
      fix: discovery.outcome.problem.fix,
      details,
    };
  }
  const { metadata } = discovery;
  const host = new URL(redirect.authorizationEndpoint).hostname;
  if (!metadata) {
    const cloudSite = CLOUD_SUFFIX.test(host) && !/-is\.creatio\.com$/i.test(host);
    return {
      ...base,
      status: 'fail',
      summary: `No discovery document found for the authorization endpoint ${redirect.authorizationEndpoint}${cloudSite ? `; ${host} is a Creatio site, not its Identity Service` : ''}.`,
      fix: cloudSite
        ? `Set IDENTITY_SERVICE_URL=https://${host.replace(CLOUD_SUFFIX, '-is.creatio.com')} on the app (the system setting OAuth20IdentityServerUrl).`
        : 'Set IDENTITY_SERVICE_URL on the app to the Identity Service (the Creatio system setting OAuth20IdentityServerUrl).',
      details,
    };
  }
  const issuer = typeof metadata.issuer === 'string' ? metadata.issuer : '(missing)';
  const published =
    typeof metadata.authorization_endpoint === 'string' ? metadata.authorization_endpoint : '';
  details.splice(
    0,
    details.length,
    { label: 'URL', value: discovery.url },
    { label: 'issuer', value: issuer },
  );
  const issuerBase = discovery.url.replace(/\/\.well-known\/openid-configuration$/, '');
  if (published && published !== redirect.authorizationEndpoint) {
    details.push({ label: 'authorization_endpoint (discovery)', value: published });
    return {
      ...base,
      status: 'warn',
      summary: `The discovery document at ${discovery.url} publishes the authorization endpoint ${published}, but the app sends browsers to ${redirect.authorizationEndpoint}.`,
      fix: 'Restart the app (it caches the document) or correct its IDENTITY_SERVICE_URL / OAUTH_ISSUER.',
      details,
    };
  }
  if (!URL.canParse(issuer) || new URL(issuer).href !== new URL(issuerBase).href) {
    return {
      ...base,
      status: 'warn',
      summary: `The Identity Service calls itself "${issuer}", not ${issuerBase}: the app signs people in only if it sets OAUTH_ISSUER=${issuer}.`,
      fix: `Check OAUTH_ISSUER=${issuer} on the app, or run the doctor with its configuration (--env-file).`,
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `Loaded from ${discovery.url}${discovery.url.startsWith('https:') ? ' (TLS certificate valid)' : ''}; the issuer is ${issuer}.`,
    details,
  };
}

/** /healthz answers 200; /readyz 200 with every dependency ok (its JSON names those that are not). */
export async function checkAppHealth(appUrl: string, http: Http): Promise<CheckResult> {
  const app = normaliseAppUrl(appUrl);
  const base = { id: 'app-health', title: 'Health endpoints (/healthz, /readyz)' };
  const [health, ready] = await Promise.all([send(http, `${app}/healthz`), send(http, `${app}/readyz`)]);
  const answer = (outcome: HttpOutcome) =>
    outcome.ok
      ? `HTTP ${outcome.response.status} ${outcome.body.slice(0, 120).trim()}`
      : outcome.problem.message;
  const details = [
    { label: '/healthz', value: answer(health) },
    { label: '/readyz', value: answer(ready) },
  ];
  if (health.ok && (health.response.status === 403 || health.response.status === 404)) {
    // The app itself always serves /healthz: a proxy keeps it for the load balancer's eyes only. Nothing is broken.
    return {
      ...base,
      status: 'warn',
      summary: `${app}/healthz answered HTTP ${health.response.status}: a proxy in front of the app hides its health endpoints, so readiness cannot be checked from here.`,
      fix: 'Nothing to fix if that is deliberate; check readiness where the load balancer does (GET /readyz on each instance).',
      details,
    };
  }
  if (!health.ok || health.response.status !== 200) {
    return {
      ...base,
      status: 'fail',
      summary: `${app}/healthz does not answer 200: the app is not running there, or a proxy does not pass /healthz through.`,
      fix: 'Check the app’s process and the proxy routes (every path must reach the app).',
      details,
    };
  }
  const body = ready.ok ? parseJson(ready.body) : undefined;
  const checks = isRecord(body) && isRecord(body.checks) ? body.checks : {};
  const down = Object.entries(checks)
    .filter(([, value]) => value !== 'ok')
    .map(([name]) => name);
  const fix = down.includes('sessionStore')
    ? 'The app cannot reach its session store: check SESSION_STORE (Redis URL, password) and the store itself.'
    : down.includes('identityService')
      ? 'The app cannot load its Identity Service’s discovery document: check IDENTITY_SERVICE_URL and that the app’s host can reach it.'
      : 'Read the app’s log.';
  if (!ready.ok || ready.response.status !== 200) {
    return {
      ...base,
      status: 'fail',
      summary: `The app runs but is not ready${down.length > 0 ? `: ${down.join(', ')} unavailable` : ''} (/readyz answered ${ready.ok ? `HTTP ${ready.response.status}` : 'nothing'}).`,
      fix,
      details,
    };
  }
  // Ready but degraded: it serves signed-in users, but new sign-ins fail until the named dependency is back.
  if (down.length > 0) {
    return {
      ...base,
      status: 'warn',
      summary: `The app is ready but degraded: ${down.join(', ')} ${down.length > 1 ? 'are' : 'is'} unreachable from it, so new sign-ins fail.`,
      fix,
      details,
    };
  }
  return { ...base, status: 'pass', summary: 'The app is up (/healthz) and ready (/readyz).', details };
}

/** The cookies /auth/login sets: HttpOnly, SameSite, and on https Secure with the __Host- prefix. */
export function checkAppCookies(appUrl: string, login: HttpOutcome): CheckResult {
  const base = { id: 'app-cookies', title: 'Cookies set at sign-in' };
  if (!login.ok) return skipped(base.id, base.title, `Skipped: ${LOGIN_TITLE} got no answer.`);
  const https = isHttps(appUrl);
  const cookies = parseSetCookie(login.response.headers.getSetCookie(), { decodeValues: false });
  if (cookies.length === 0) {
    return {
      ...base,
      status: 'warn',
      summary:
        '/auth/login sets no cookie, so nothing ties a sign-in to the browser that started it (login CSRF).',
      fix: 'Deploy creatio-oauth-bff unmodified; check that no proxy strips Set-Cookie.',
    };
  }
  const failures: string[] = [];
  const warnings: string[] = [];
  const details: DetailRow[] = [];
  for (const cookie of cookies) {
    const flags = [
      cookie.httpOnly ? 'HttpOnly' : undefined,
      cookie.secure ? 'Secure' : undefined,
      cookie.sameSite ? `SameSite=${cookie.sameSite}` : undefined,
      cookie.path ? `Path=${cookie.path}` : undefined,
      cookie.domain ? `Domain=${cookie.domain}` : undefined,
    ].filter(Boolean);
    details.push({ label: cookie.name, value: flags.join('; ') || '(no attributes)' });
    if (!cookie.httpOnly) failures.push(`${cookie.name} is not HttpOnly (page scripts can read it)`);
    const sameSite = cookie.sameSite?.toLowerCase();
    if (sameSite === 'none') failures.push(`${cookie.name} is SameSite=None (sent on cross-site requests)`);
    else if (!sameSite) warnings.push(`${cookie.name} has no SameSite attribute`);
    if (https && !cookie.secure) failures.push(`${cookie.name} is not Secure on an https app`);
    else if (https && !cookie.name.startsWith('__Host-')) {
      warnings.push(`${cookie.name} lacks the __Host- prefix (a sibling subdomain could set it)`);
    }
  }
  if (failures.length > 0) {
    return {
      ...base,
      status: 'fail',
      summary: `${capitalise(failures.join('; '))}.`,
      fix: https
        ? 'Deploy creatio-oauth-bff unmodified with an https APP_URL (it then sets __Host- cookies with Secure).'
        : 'Deploy creatio-oauth-bff unmodified.',
      details,
    };
  }
  if (warnings.length > 0) {
    return {
      ...base,
      status: 'warn',
      summary: `${capitalise(warnings.join('; '))}.`,
      fix: 'Set APP_URL to the https address the browser uses: the app then names its cookies __Host-.',
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `${cookies.map((c) => c.name).join(', ')}: HttpOnly, SameSite${https ? ', Secure and __Host-' : ''}.`,
    details,
  };
}

/** The headers the app's page is served with: CSP with frame-ancestors, nosniff, and HSTS on https. */
export async function checkAppSecurityHeaders(appUrl: string, http: Http): Promise<CheckResult> {
  const app = normaliseAppUrl(appUrl);
  const base = { id: 'app-security-headers', title: 'Security headers' };
  const outcome = await send(http, `${app}/`);
  if (!outcome.ok) {
    return { ...base, status: 'fail', summary: outcome.problem.message, fix: outcome.problem.fix };
  }
  const headers = outcome.response.headers;
  const csp = headers.get('content-security-policy');
  const hsts = headers.get('strict-transport-security');
  const details: DetailRow[] = [
    { label: 'URL', value: `${app}/ (HTTP ${outcome.response.status})` },
    { label: 'Content-Security-Policy', value: csp ?? '(missing)' },
    { label: 'X-Content-Type-Options', value: headers.get('x-content-type-options') ?? '(missing)' },
    { label: 'X-Frame-Options', value: headers.get('x-frame-options') ?? '(missing)' },
    { label: 'Strict-Transport-Security', value: hsts ?? '(missing)' },
  ];
  const failures: string[] = [];
  const warnings: string[] = [];
  if (!csp) failures.push('there is no Content-Security-Policy');
  else if (!/(^|;)\s*frame-ancestors\s/i.test(csp) && !headers.get('x-frame-options')) {
    failures.push('nothing forbids framing (no CSP frame-ancestors, no X-Frame-Options): clickjacking');
  }
  if (headers.get('x-content-type-options')?.toLowerCase() !== 'nosniff') {
    warnings.push('X-Content-Type-Options: nosniff is missing');
  }
  if (isHttps(app) && !/max-age=[1-9]/i.test(hsts ?? '')) {
    warnings.push('there is no Strict-Transport-Security (HSTS) on https');
  }
  if (failures.length > 0 || warnings.length > 0) {
    return {
      ...base,
      status: failures.length > 0 ? 'fail' : 'warn',
      summary: `${capitalise([...failures, ...warnings].join('; '))}.`,
      fix: 'Check that no proxy in front of the app strips or overrides its headers (the app sets them all).',
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `Content-Security-Policy with frame-ancestors, nosniff${isHttps(app) ? ' and HSTS' : ''}.`,
    details,
  };
}
