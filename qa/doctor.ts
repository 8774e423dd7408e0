/**
 * runDoctor(config): every check that needs no browser, in order, as one report. `npm run doctor` prints it,
 * /diagnostics renders it (adding the checks that need the browser's request or a signed-in user).
 * runAppDoctor(url): a deployed app checked from outside, with no configuration (`npm run doctor -- --app <url>`).
 */
import type { Config } from '../server/config.ts';
import { type DiagnosticsReport, skipped, toReport } from './check-result.ts';
import { assessClient } from './checks/client.ts';
import { checkConfiguration } from './checks/configuration.ts';
import { checkAuthorizationCodeFlow, checkCreatio } from './checks/creatio.ts';
import {
  checkAppCookies,
  checkAppDiscovery,
  checkAppHealth,
  checkAppLogin,
  checkAppSecurityHeaders,
  findDiscovery,
  normaliseAppUrl,
} from './checks/deployed-app.ts';
import {
  checkClockSkew,
  checkDiscovery,
  checkEndpoints,
  checkIdentityServiceHost,
  checkIssuer,
  fetchDiscovery,
} from './checks/identity-service.ts';
import { checkOAuthHealth } from './checks/oauth-health.ts';
import { checkAnotherRedirectUri, checkRedirectUri } from './checks/redirect-uri.ts';
import type { Fetch, Http } from './http.ts';

export interface DoctorOptions {
  /** The HTTP seam; the global fetch by default. */
  readonly fetch?: Fetch;
  /** This machine's clock; Date.now by default (the clock-skew check compares it with the Identity Service's). */
  readonly now?: () => number;
  /** More redirect URIs to probe for the same client (`--redirect-uri`): other environments of one application. */
  readonly redirectUris?: readonly string[];
}

export function httpOf(config: Pick<Config, 'httpTimeoutMs'>, options: DoctorOptions = {}): Http {
  return { fetch: options.fetch ?? fetch, timeoutMs: config.httpTimeoutMs };
}

export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DiagnosticsReport> {
  const http = httpOf(config, options);
  const now = options.now ?? Date.now;
  // Discovery first: most checks read the endpoints from it, and its Date header gives the clock skew.
  const discovery = await fetchDiscovery(config, http, now);
  const { metadata } = discovery;
  // The redirect-URI check waits for the client's verdict: with a wrong client its answer is only a consequence.
  const client = assessClient(config, metadata, http);
  const checks = await Promise.all([
    checkDiscovery(config, discovery, http),
    checkIssuer(config, metadata),
    checkEndpoints(config, metadata),
    client.then(({ verdict }) => checkRedirectUri(config, metadata, http, verdict)),
    client.then(({ check }) => check),
    checkIdentityServiceHost(config, metadata),
    checkAuthorizationCodeFlow(config, http),
    checkClockSkew(discovery),
    checkCreatio(config, http),
    checkOAuthHealth(config, http),
    ...(options.redirectUris ?? []).map((uri) =>
      checkAnotherRedirectUri(config.clientId, metadata, http, uri),
    ),
  ]);
  return toReport([checkConfiguration(config), ...checks]);
}

/** The checks a browser's view allows: no configuration, no secret. */
export async function runAppDoctor(
  appUrl: string,
  options: DoctorOptions & { readonly timeoutMs?: number } = {},
): Promise<DiagnosticsReport> {
  const app = normaliseAppUrl(appUrl);
  const http: Http = { fetch: options.fetch ?? fetch, timeoutMs: options.timeoutMs ?? 10_000 };
  const now = options.now ?? Date.now;
  const login = await checkAppLogin(app, http);
  const { redirect } = login;
  if (!login.outcome.ok) {
    // Nothing answers at that URL: one failure says it; the checks of the app's other paths would only repeat it.
    const noAnswer = `Skipped: nothing answered at ${app} (see "${login.check.title}").`;
    return toReport([
      login.check,
      ...(
        [
          ['discovery', 'Discovery document'],
          ['redirect-uri', 'Redirect URI'],
          ['app-cookies', 'Cookies set at sign-in'],
          ['app-health', 'Health endpoints (/healthz, /readyz)'],
          ['app-security-headers', 'Security headers'],
        ] as const
      ).map(([id, title]) => skipped(id, title, noAnswer)),
    ]);
  }
  const [health, headers] = await Promise.all([
    checkAppHealth(app, http),
    checkAppSecurityHeaders(app, http),
  ]);
  const cookies = checkAppCookies(app, login.outcome);
  if (!redirect) {
    const needsLogin = `Skipped: needs the sign-in redirect (see "${login.check.title}").`;
    return toReport([
      login.check,
      skipped('discovery', 'Discovery document', needsLogin),
      skipped('redirect-uri', 'Redirect URI', needsLogin),
      cookies,
      health,
      headers,
    ]);
  }
  const found = await findDiscovery(redirect.authorizationEndpoint, http, now);
  const { metadata } = found.discovery;
  const scopes = (redirect.params.get('scope') ?? '').split(' ').filter(Boolean);
  const identityServiceUrl = found.discovery.url.replace(/\/\.well-known\/openid-configuration$/, '');
  // The app's own authorization endpoint, even when discovery failed: the probe needs only that.
  const authorization = { ...metadata, authorization_endpoint: redirect.authorizationEndpoint };
  const clientId = redirect.clientId ?? '';
  const sent = redirect.redirectUri ?? '';
  const checks = await Promise.all([
    checkAppDiscovery(redirect, found),
    metadata ? checkEndpoints({ scopes, identityServiceUrl }, metadata) : undefined,
    checkRedirectUri(
      // The app's APP_URL as its redirect URI shows it: the near-miss fix then names the right variable.
      { clientId, redirectUri: sent, appUrl: sent.replace(/\/auth\/callback$/, '') || app },
      authorization,
      http,
    ),
    ...(options.redirectUris ?? []).map((uri) => checkAnotherRedirectUri(clientId, authorization, http, uri)),
    checkClockSkew(found.discovery),
  ]);
  return toReport([login.check, ...checks.filter((check) => check !== undefined), cookies, health, headers]);
}
