/**
 * The redirect-URI check: is the redirect URI the app sends registered for its client? The probe and the
 * near-miss classifier are in redirect-uri-probe.ts; this turns their answer into a verdict and the exact fix.
 * The page adds checkBrowserOrigin: APP_URL against the origin the browser really used.
 */
import type { Config } from '../../server/config.ts';
import { type CheckResult, capitalise, type DetailRow, skipped } from '../check-result.ts';
import type { Http } from '../http.ts';
import type { ClientVerdict } from './client.ts';
import { DISCOVERY_NEEDED, metadataString } from './identity-service.ts';
import {
  compareAppUrlWithRequest,
  findNearMisses,
  type NearMiss,
  probeAuthorize,
  type RequestView,
  splitUri,
} from './redirect-uri-probe.ts';

/** What the redirect-URI check needs: from the configuration, or read off a deployed app's sign-in redirect. */
/** `scopes` when known: without openid in them, the probe asks for them instead (see buildProbeUrl). */
export type RedirectSetup = Pick<Config, 'clientId' | 'redirectUri' | 'appUrl'> &
  Partial<Pick<Config, 'scopes'>>;

function describeNearMiss(miss: NearMiss): string {
  return `${miss.uri} (${miss.differences.map((d) => d.description).join('; ')})`;
}

function fixForNearMiss(config: RedirectSetup, miss: NearMiss): string {
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
function reachesCallbackRoute(config: RedirectSetup): boolean {
  if (!URL.canParse(config.redirectUri)) return false;
  const uri = new URL(config.redirectUri);
  const app = new URL(config.appUrl);
  const path = uri.pathname.replace(/\/$/, '').toLowerCase();
  return (
    uri.origin === app.origin && path === `${app.pathname.replace(/\/$/, '')}/auth/callback`.toLowerCase()
  );
}

/**
 * Upper case in the redirect URI as sent. IdentityServer compares it with the registered ones ignoring case at
 * /authorize but exactly at /token, so the probe above cannot see a case-only difference, and every real sign-in
 * would then fail at the code exchange with invalid_grant. Browsers (and most people typing a registration) write
 * scheme and host in lower case; the app's own route is lower case.
 */
function caseRisks(redirectUri: string): { readonly said: string[]; readonly lowerOrigin?: string } {
  const parts = splitUri(redirectUri);
  if (!parts) return { said: [] };
  const said: string[] = [];
  if (parts.scheme !== parts.scheme.toLowerCase()) said.push(`the scheme is written "${parts.scheme}"`);
  if (parts.host !== parts.host.toLowerCase()) said.push(`the host is written "${parts.host}"`);
  if (parts.path !== parts.path.toLowerCase()) said.push(`the path is written "${parts.path}"`);
  const originSlip =
    said.length > 0 &&
    (parts.scheme !== parts.scheme.toLowerCase() || parts.host !== parts.host.toLowerCase());
  return {
    said,
    lowerOrigin: originSlip
      ? `${parts.scheme.toLowerCase()}://${parts.host.toLowerCase()}${parts.port ? `:${parts.port}` : ''}`
      : undefined,
  };
}

export async function checkRedirectUri(
  config: RedirectSetup,
  metadata: Record<string, unknown> | undefined,
  http: Http,
  client: ClientVerdict = 'undetermined',
): Promise<CheckResult> {
  const base = { id: 'redirect-uri', title: 'Redirect URI' };
  const details: DetailRow[] = [{ label: 'sent by the app', value: config.redirectUri }];
  const endpoint = metadataString(metadata, 'authorization_endpoint');
  if (!endpoint || !URL.canParse(endpoint)) return skipped(base.id, base.title, DISCOVERY_NEEDED);
  // An unknown client was already refused at this very endpoint (where no secret is sent) with this redirect URI:
  // probing again would only repeat that. Every other verdict gets the probe, which needs no secret — it is what
  // tells a redirect-URI mistake from a secret or grant one when the token endpoint's answer cannot.
  if (client === 'unknown-client') {
    return skipped(
      base.id,
      base.title,
      `Skipped: redirect URIs are registered per application, and client ${config.clientId} is unknown or not Active (see "Client id and secret").`,
    );
  }

  const probe = await probeAuthorize(
    http,
    endpoint,
    config.clientId,
    config.redirectUri,
    config.scopes && !config.scopes.includes('openid') ? config.scopes.join(' ') : undefined,
  );
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
    const risks = caseRisks(config.redirectUri);
    if (risks.said.length > 0) {
      const lower = risks.lowerOrigin
        ? `${risks.lowerOrigin}${config.redirectUri.slice(config.redirectUri.indexOf('/', config.redirectUri.indexOf('//') + 2))}`
        : undefined;
      const setting =
        risks.lowerOrigin && config.redirectUri === `${config.appUrl}/auth/callback`
          ? `set APP_URL=${risks.lowerOrigin}`
          : lower
            ? `set OAUTH_REDIRECT_URI=${lower}`
            : undefined;
      return {
        ...base,
        status: 'warn',
        summary: `The Identity Service accepts ${config.redirectUri} here, but ${risks.said.join(' and ')}: Creatio’s Identity Service ignores case when a sign-in starts and compares exactly at the code exchange, so if the registered URI is written in another case every sign-in fails there with invalid_grant.`,
        fix: setting
          ? `Write it in lower case, as browsers do: ${setting}, and register exactly ${lower}.`
          : `Make the registered URI identical to ${config.redirectUri}, character by character and case included.`,
        details,
      };
    }
    return {
      ...base,
      status: 'pass',
      summary: `The Identity Service accepts ${config.redirectUri} for client ${config.clientId}: it ${probe.answer}.${client === 'unauthorized-client' ? ' So the token endpoint’s unauthorized_client is about the client secret or the grant, not this URI.' : ''}`,
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

  if (client === 'grant-not-allowed') {
    return {
      ...base,
      status: 'fail',
      summary: `The Identity Service rejects ${config.redirectUri} for client ${config.clientId}, which may not use the authorization code grant (see "Client id and secret"): redirect URIs belong to applications of that kind, so the client is the first thing to fix.`,
      fix: 'Use an integrated application of the "authorization code" type (npm run redirect-urls -- create-client …), then register the redirect URI for it.',
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

/**
 * `npm run doctor -- --redirect-uri <uri>`: one more redirect URI of the same integrated application (another
 * environment it serves) — registered for the client or not, and if not, what is registered that almost matches.
 */
export async function checkAnotherRedirectUri(
  clientId: string,
  metadata: Record<string, unknown> | undefined,
  http: Http,
  uri: string,
): Promise<CheckResult> {
  const base = { id: `redirect-uri:${uri}`, title: `Redirect URI ${uri}` };
  const endpoint = metadataString(metadata, 'authorization_endpoint');
  if (!endpoint || !URL.canParse(endpoint)) return skipped(base.id, base.title, DISCOVERY_NEEDED);
  const probe = await probeAuthorize(http, endpoint, clientId, uri);
  const details: DetailRow[] = [
    { label: 'client id', value: clientId },
    { label: 'Identity Service answer', value: probe.answer },
  ];
  const register = `Register ${uri} for client ${clientId}: npm run redirect-urls -- add ${uri} (or in "OAuth 2.0 integrated applications" → Authorized redirect URIs).`;
  if (probe.verdict === 'unreachable') {
    return { ...base, status: 'fail', summary: probe.answer, fix: probe.problem?.fix, details };
  }
  if (probe.verdict === 'accepted') {
    return {
      ...base,
      status: 'pass',
      summary: `Registered for client ${clientId}: the Identity Service ${probe.answer}.`,
      details,
    };
  }
  if (probe.verdict === 'inconclusive') {
    return {
      ...base,
      status: 'warn',
      summary: `Could not tell whether ${uri} is registered: the Identity Service ${probe.answer}.`,
      fix: 'Sign in once by hand through this redirect URI.',
      details,
    };
  }
  const nearMisses = await findNearMisses(http, endpoint, clientId, uri);
  for (const miss of nearMisses) details.push({ label: 'accepted instead', value: describeNearMiss(miss) });
  const [closest] = nearMisses;
  return {
    ...base,
    status: 'fail',
    summary: closest
      ? `The Identity Service rejects ${uri} for client ${clientId} but accepts ${describeNearMiss(closest)}.`
      : `The Identity Service rejects ${uri} for client ${clientId}: it ${probe.answer}.`,
    fix: closest ? `${register} Or make that environment send ${closest.uri}.` : register,
    details,
  };
}
