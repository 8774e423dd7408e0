/**
 * The Identity Service as the app will meet it: its discovery document (reachable, TLS, really a discovery
 * document), the issuer it names, its endpoints with PKCE and the scopes, the "-is" host of Creatio cloud, and the
 * clock skew read from its Date header. None of these checks needs the client secret.
 */
import { discoveryUrl } from '../../server/auth/client.ts';
import { APPLICATION_ACCESS_SCOPE, type Config, isLoopbackHost } from '../../server/config.ts';
import { type CheckResult, capitalise, type DetailRow, skipped } from '../check-result.ts';
import { describeBody, type Http, type HttpOutcome, isRecord, parseJson, send } from '../http.ts';
import { creatioRoutePrefix } from './creatio.ts';

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

export const DISCOVERY_NEEDED = 'Skipped: needs the discovery document (see "Discovery document").';

/** A string member of the discovery document; undefined when absent or not a string. */
export function metadataString(
  metadata: Record<string, unknown> | undefined,
  key: string,
): string | undefined {
  const value = metadata?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** A list-of-strings member of the discovery document (non-strings dropped); undefined when absent. */
export function metadataStrings(
  metadata: Record<string, unknown> | undefined,
  key: string,
): string[] | undefined {
  const value = metadata?.[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

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
  const tokenEndpoint = isRecord(document) ? metadataString(document, 'token_endpoint') : undefined;
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
  return isRecord(document) && metadataString(document, 'issuer') ? origin : undefined;
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
  const issuer = metadataString(metadata, 'issuer');
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

export function checkEndpoints(
  config: Pick<Config, 'scopes' | 'identityServiceUrl'>,
  metadata: Record<string, unknown> | undefined,
): CheckResult {
  const base = { id: 'endpoints', title: 'Endpoints, PKCE and scopes' };
  if (!metadata) return skipped(base.id, base.title, DISCOVERY_NEEDED);
  const details: DetailRow[] = [...REQUIRED_ENDPOINTS, ...WANTED_ENDPOINTS].map((key) => ({
    label: key,
    value: metadataString(metadata, key) ?? '(missing)',
  }));
  const problems: string[] = [];
  const fixes: string[] = [];
  const warnings: string[] = [];

  const missing = REQUIRED_ENDPOINTS.filter((key) => !metadataString(metadata, key));
  if (missing.length > 0) {
    problems.push(`the discovery document lacks ${missing.join(', ')}`);
    fixes.push('Point IDENTITY_SERVICE_URL at an OpenID Connect provider (Creatio’s Identity Service).');
  }
  const missingWanted = WANTED_ENDPOINTS.filter((key) => !metadataString(metadata, key));
  if (missingWanted.length > 0) {
    warnings.push(
      `no ${missingWanted.join(' or ')}: sign-out cannot revoke tokens or end the Identity Service session`,
    );
  }

  const backchannel = backchannelLogoutSupport(metadata);
  details.push({ label: 'backchannel_logout_supported', value: backchannel.detail });

  const methods = metadataStrings(metadata, 'code_challenge_methods_supported');
  details.push({ label: 'code_challenge_methods_supported', value: methods?.join(' ') ?? '(not listed)' });
  if (methods && !methods.includes('S256')) {
    problems.push('PKCE with S256 is not supported');
    fixes.push('Update the Identity Service: the app always sends a PKCE S256 challenge.');
  } else if (!methods) {
    warnings.push('the document does not list PKCE methods (the app sends S256 anyway)');
  }

  const supported = metadataStrings(metadata, 'scopes_supported');
  details.push({ label: 'scopes_supported', value: supported?.join(' ') ?? '(not listed)' });
  const unsupported = supported ? config.scopes.filter((s) => !supported.includes(s)) : [];
  if (unsupported.length > 0) {
    problems.push(`scope(s) ${unsupported.join(', ')} of OAUTH_SCOPES are not offered`);
    fixes.push(
      `Set OAUTH_SCOPES=${config.scopes.filter((s) => !unsupported.includes(s)).join(' ')} or enable the scope(s) at the Identity Service.`,
    );
  }
  // A Creatio Identity Service (it offers ApplicationAccess_* scopes) gives Creatio's APIs only to user tokens with
  // the integrated application's ApplicationAccess_<id>: without it sign-in works and every OData call is refused.
  const applicationAccess = supported?.filter((s) => APPLICATION_ACCESS_SCOPE.test(s)) ?? [];
  if (applicationAccess.length > 0 && !config.scopes.some((s) => APPLICATION_ACCESS_SCOPE.test(s))) {
    const wanted = applicationAccess.length === 1 ? applicationAccess[0] : 'ApplicationAccess_<id>';
    problems.push(
      `OAUTH_SCOPES has no ApplicationAccess_<id> scope, so Creatio refuses its APIs to the tokens (this Identity Service offers ${applicationAccess.join(', ')})`,
    );
    fixes.push(
      `Set OAUTH_SCOPES=${[...config.scopes.filter((s) => !unsupported.includes(s)), wanted].join(' ')}${applicationAccess.length > 1 ? ' with the id of this application’s resource (System Designer → Lookups → "OAuth resources")' : ''}.`,
    );
  }

  const authorization = metadataString(metadata, 'authorization_endpoint');
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
      summary: `${capitalise(warnings.join('; '))}. ${backchannel.sentence}`,
      fix: 'Check the Identity Service’s public origin setting (the URLs it publishes) and its enabled endpoints.',
      details,
    };
  }
  return {
    ...base,
    status: 'pass',
    summary: `All endpoints present; PKCE S256 and the scopes ${config.scopes.join(' ')} are supported. ${backchannel.sentence}`,
    details,
  };
}

/**
 * Back-channel logout is optional for sign-in, so it never fails the check; the report says what it means for the
 * people using the app, and where the logout URI goes.
 */
function backchannelLogoutSupport(metadata: Record<string, unknown>): { detail: string; sentence: string } {
  if (metadata.backchannel_logout_supported !== true) {
    return {
      detail: 'no',
      sentence:
        'No back-channel logout advertised: signing out at the Identity Service leaves people signed in here until their session times out.',
    };
  }
  const withSid = metadata.backchannel_logout_session_supported === true;
  return {
    detail: withSid ? 'yes (with sid)' : 'yes',
    sentence:
      'Back-channel logout advertised: set the application’s back-channel logout URI to <APP_URL>/auth/backchannel-logout.',
  };
}

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

  // Creatio 8.3+ serves the Identity Service itself, below /0 of its own site.
  const creatioHosted = `${creatio.origin}${creatio.pathname.replace(/\/+$/, '')}/0`;
  if (config.identityServiceUrl.replace(/\/+$/, '') === creatioHosted) {
    return {
      ...base,
      status: 'pass',
      summary: metadata
        ? `Found the Creatio-hosted layout (Creatio 8.3+): the Identity Service answers at ${creatioHosted}, on the Creatio site.`
        : `IDENTITY_SERVICE_URL names the Creatio-hosted layout (Creatio 8.3+) at ${creatioHosted}; see "Discovery document" for whether it answers.`,
      details: [...details, { label: 'layout', value: 'Creatio-hosted (/0/connect/*, Creatio 8.3+)' }],
    };
  }
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
        'IDENTITY_SERVICE_URL points at the Creatio site itself, where no Identity Service answers: on 8.3+ it is below /0 of that site, before 8.3 a separate site.',
      fix: cloudIdentityHost
        ? `On Creatio 8.3+ set IDENTITY_SERVICE_URL=${creatioHosted} (or leave it unset); before 8.3 set IDENTITY_SERVICE_URL=https://${cloudIdentityHost}`
        : `On Creatio 8.3+ set IDENTITY_SERVICE_URL=${creatioHosted} (or leave it unset); before 8.3 set it to the Creatio system setting OAuth20IdentityServerUrl.`,
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
    summary:
      'Found the separate-host layout: the Identity Service is its own site (Creatio cloud’s "-is" host, or Creatio before 8.3).',
    details: [...details, { label: 'layout', value: 'separate Identity Service host' }],
  };
}

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
