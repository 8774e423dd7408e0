/**
 * Is the redirect URI the app sends registered at the Identity Service, and if not, what almost matches?
 *
 * IdentityServer (Creatio's Identity Service) compares redirect URIs as whole strings: scheme, host, port, path and
 * trailing slash all count (case only at the code exchange: /authorize ignores it, see redirect-uri.ts), and it
 * never redirects to a URI it does not know — it shows its own error page instead. So the probe sends a real authorization request with `prompt=none` (no one has to sign in) and looks
 * at where the answer points. Near misses are found by probing variants of the URI (trailing slash, http/https,
 * localhost/127.0.0.1 …) and described part by part.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Http, type HttpProblem, send } from '../http.ts';

// ---------------------------------------------------------------------------------------------------------------
// Comparing two URIs the way the Identity Service does: as strings, part by part

/** The parts of a URI as written: nothing is normalised, because the Identity Service does not normalise either. */
export interface UriParts {
  readonly scheme: string;
  readonly host: string;
  /** As written, '' when absent. */
  readonly port: string;
  readonly path: string;
  /** With its '?', '' when absent. */
  readonly query: string;
  readonly fragment: string;
}

const URI_PATTERN =
  /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[^\]]*\]|[^/?#:]*)(?::(\d*))?([^?#]*)(\?[^#]*)?(#.*)?$/;

export function splitUri(raw: string): UriParts | undefined {
  const match = URI_PATTERN.exec(raw.trim());
  if (!match) return undefined;
  const [, scheme = '', host = '', port = '', path = '', query = '', fragment = ''] = match;
  return { scheme, host, port, path, query, fragment };
}

export type DifferenceKind = 'scheme' | 'host' | 'port' | 'trailing-slash' | 'case' | 'path' | 'query';

export interface Difference {
  readonly kind: DifferenceKind;
  /** e.g. 'the registered URL uses https, the app sends http' */
  readonly description: string;
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };

function effectivePort(parts: UriParts): string {
  return parts.port || DEFAULT_PORTS[parts.scheme.toLowerCase()] || '';
}

/**
 * How `registered` differs from `sent`, part by part; [] when the two are the same string.
 * The near-miss classifier: it names every difference that makes an exact-match Identity Service refuse `sent`.
 */
export function compareRedirectUris(sent: string, registered: string): Difference[] {
  if (sent === registered) return [];
  const a = splitUri(sent);
  const b = splitUri(registered);
  if (!a || !b) return [{ kind: 'path', description: `"${registered}" is not an absolute URL` }];
  const differences: Difference[] = [];
  const add = (kind: DifferenceKind, description: string) => differences.push({ kind, description });

  if (a.scheme.toLowerCase() !== b.scheme.toLowerCase()) {
    add('scheme', `the registered URL uses ${b.scheme}, the app sends ${a.scheme}`);
  } else if (a.scheme !== b.scheme) {
    add('case', `the scheme is written "${b.scheme}" in the registered URL, "${a.scheme}" by the app`);
  }

  if (a.host.toLowerCase() !== b.host.toLowerCase()) {
    add('host', `the registered URL is for host ${b.host}, the app sends ${a.host}`);
  } else if (a.host !== b.host) {
    add('case', `the host is written "${b.host}" in the registered URL, "${a.host}" by the app`);
  }

  if (a.port === '' && b.port === '') {
    // Both use their scheme's default port: a scheme difference says it all.
  } else if (effectivePort(a) !== effectivePort(b)) {
    add(
      'port',
      `the registered URL uses port ${effectivePort(b) || '(none)'}, the app sends ${effectivePort(a)}`,
    );
  } else if (a.port !== b.port) {
    add(
      'port',
      `one of the two writes the default port :${effectivePort(a)} explicitly (registered "${b.port ? `:${b.port}` : 'no port'}", sent "${a.port ? `:${a.port}` : 'no port'}")`,
    );
  }

  if (a.path !== b.path) {
    const trimmedA = a.path.replace(/\/$/, '');
    const trimmedB = b.path.replace(/\/$/, '');
    if (a.path.endsWith('/') !== b.path.endsWith('/')) {
      add(
        'trailing-slash',
        b.path.endsWith('/')
          ? 'the registered URL ends with "/", the app sends it without'
          : 'the app sends a trailing "/", the registered URL has none',
      );
    }
    if (trimmedA !== trimmedB) {
      if (trimmedA.toLowerCase() === trimmedB.toLowerCase()) {
        add('case', `the path is written "${b.path}" in the registered URL, "${a.path}" by the app`);
      } else {
        add('path', `the registered path is "${b.path || '/'}", the app sends "${a.path || '/'}"`);
      }
    }
  }

  if (a.query !== b.query || a.fragment !== b.fragment) {
    add(
      'query',
      `the query or fragment differs ("${b.query}${b.fragment}" registered, "${a.query}${a.fragment}" sent)`,
    );
  }
  return differences;
}

/**
 * A slip rather than another address: the same host and path, apart from at most two of scheme, port, trailing
 * slash, case and query. Another host or path is most likely another deployment, registered on purpose.
 */
export function isNearMiss(differences: readonly Difference[]): boolean {
  return (
    differences.length > 0 &&
    differences.length <= 2 &&
    differences.every((d) => d.kind !== 'host' && d.kind !== 'path')
  );
}

const COMMON_PORTS = ['3000', '8080', '8443', '5000', '8000'];

/** The URIs a person may have registered instead of `sent`: the usual slips, alone and combined. */
export function redirectUriVariants(sent: string): string[] {
  const parts = splitUri(sent);
  if (!parts) return [];
  const join = (p: UriParts) => `${p.scheme}://${p.host}${p.port ? `:${p.port}` : ''}${p.path}${p.query}`;
  const toggleSlash = (path: string) => (path.endsWith('/') ? path.slice(0, -1) : `${path}/`);
  const otherScheme = parts.scheme.toLowerCase() === 'https' ? 'http' : 'https';
  const loopbackAliases: Record<string, string> = { localhost: '127.0.0.1', '127.0.0.1': 'localhost' };
  const otherHost = loopbackAliases[parts.host.toLowerCase()];

  const variants = new Set<string>();
  for (const scheme of [parts.scheme, otherScheme]) {
    for (const host of otherHost ? [parts.host, otherHost] : [parts.host]) {
      for (const path of [parts.path, toggleSlash(parts.path)]) {
        variants.add(join({ ...parts, scheme, host, path }));
      }
    }
  }
  variants.add(join({ ...parts, path: parts.path.toLowerCase() }));
  variants.add(join({ ...parts, scheme: parts.scheme.toLowerCase(), host: parts.host.toLowerCase() }));
  if (parts.port) variants.add(join({ ...parts, port: '' }));
  else if (DEFAULT_PORTS[parts.scheme]) variants.add(join({ ...parts, port: DEFAULT_PORTS[parts.scheme]! }));
  // Another port is usually the development port, or the app's port behind a proxy that APP_URL does not show.
  for (const port of COMMON_PORTS) if (port !== parts.port) variants.add(join({ ...parts, port }));
  // The application's own URL registered as the redirect URL, and the callback paths of other frameworks.
  for (const path of ['', '/', '/callback', '/signin-oidc', '/auth/callback']) {
    variants.add(join({ ...parts, path, query: '' }));
  }
  variants.delete(sent);
  return [...variants];
}

// ---------------------------------------------------------------------------------------------------------------
// Probing the authorization endpoint

export type ProbeVerdict = 'accepted' | 'rejected' | 'inconclusive' | 'unreachable';

export interface ProbeResult {
  readonly verdict: ProbeVerdict;
  /** One sentence on what the Identity Service answered. */
  readonly answer: string;
  /** The OAuth error code seen (in the redirect or on the error page), if any. */
  readonly error: string | undefined;
  readonly problem?: HttpProblem;
}

/** Errors a redirect back to the app carries when the client and redirect URI are fine but no one is signed in. */
const NO_SESSION_ERRORS = new Set([
  'login_required',
  'interaction_required',
  'consent_required',
  'account_selection_required',
]);

/** OAuth error codes an error page may name, most specific first. */
const ERROR_PAGE_CODES = [
  'invalid_redirect_uri',
  'invalid_client',
  'unauthorized_client',
  'invalid_scope',
  'unsupported_response_type',
  'invalid_request',
];

function errorCodeInPage(body: string): string | undefined {
  const text = body.toLowerCase();
  if (text.includes('invalid redirect_uri') || text.includes('invalid redirect uri'))
    return 'invalid_redirect_uri';
  return ERROR_PAGE_CODES.find((code) => text.includes(code));
}

/** Is `location` our redirect URI with a query or fragment appended (or exactly it)? */
function pointsAt(location: string, redirectUri: string): boolean {
  if (!location.startsWith(redirectUri)) return false;
  const rest = location.slice(redirectUri.length);
  return (
    rest === '' ||
    rest.startsWith('?') ||
    rest.startsWith('#') ||
    (rest.startsWith('&') && redirectUri.includes('?'))
  );
}

/**
 * `scope` defaults to openid; an application that may not ask for openid (Creatio does not document that user
 * applications may) would answer invalid_scope to that, so the redirect-URI check sends the configured scopes then.
 */
export function buildProbeUrl(
  authorizationEndpoint: string,
  clientId: string,
  redirectUri: string,
  scope = 'openid',
): URL {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(authorizationEndpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('scope', scope);
  url.searchParams.set('prompt', 'none');
  url.searchParams.set('state', randomBytes(16).toString('base64url'));
  url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
  url.searchParams.set('code_challenge_method', 'S256');
  return url;
}

/**
 * One authorization request without cookies. Accepted: the answer redirects to `redirectUri` (with
 * error=login_required, since no one is signed in) or on to the Identity Service's own sign-in page. Rejected: an
 * error page, either directly (oidc-provider, the sandbox) or after a redirect to it (IdentityServer's
 * /home/error?errorId=…, which is fetched once to read the error code).
 */
export async function probeAuthorize(
  http: Http,
  authorizationEndpoint: string,
  clientId: string,
  redirectUri: string,
  scope?: string,
): Promise<ProbeResult> {
  const outcome = await send(http, buildProbeUrl(authorizationEndpoint, clientId, redirectUri, scope));
  if (!outcome.ok) {
    return {
      verdict: 'unreachable',
      answer: outcome.problem.message,
      error: undefined,
      problem: outcome.problem,
    };
  }
  const { response, body } = outcome;
  const location = response.headers.get('location');

  if (response.status >= 300 && response.status < 400 && location) {
    const target = new URL(location, authorizationEndpoint);
    // Compared as written and as URLs: "https://app" comes back as "https://app/?error=…".
    const normalised = URL.canParse(redirectUri) ? new URL(redirectUri).href : redirectUri;
    if (pointsAt(location, redirectUri) || pointsAt(target.href, normalised)) {
      const params = new URLSearchParams(target.search || target.hash.slice(1));
      const error = params.get('error') ?? undefined;
      const verdict = error === undefined || NO_SESSION_ERRORS.has(error) ? 'accepted' : 'inconclusive';
      return {
        verdict,
        answer: `redirected back to the redirect URI${error ? ` with error=${error}` : ''}${verdict === 'accepted' && error ? ' (expected: no one is signed in)' : ''}`,
        error,
      };
    }
    if (target.origin === new URL(authorizationEndpoint).origin) {
      if (/error/i.test(target.pathname)) {
        const page = await send(http, target);
        const error = page.ok ? errorCodeInPage(page.body) : undefined;
        return {
          verdict: 'rejected',
          answer: `redirected to its error page ${target.pathname}${error ? ` (${error})` : ''}`,
          error,
        };
      }
      // IdentityServer checks the client and the redirect URI before it sends anyone to its sign-in page.
      return {
        verdict: 'accepted',
        answer: `redirected to its own page ${target.pathname} (sign-in)`,
        error: undefined,
      };
    }
    return {
      verdict: 'inconclusive',
      answer: `redirected to ${target.origin}${target.pathname}`,
      error: undefined,
    };
  }

  if (response.status >= 400 || (response.headers.get('content-type') ?? '').includes('html')) {
    const error = errorCodeInPage(body);
    return {
      verdict: 'rejected',
      answer: `showed an error page (HTTP ${response.status}${error ? `, ${error}` : ''})`,
      error,
    };
  }
  return { verdict: 'inconclusive', answer: `answered HTTP ${response.status}`, error: undefined };
}

export interface NearMiss {
  readonly uri: string;
  readonly differences: readonly Difference[];
}

/** Probes the variants of `redirectUri` in parallel and returns those the Identity Service accepts. */
export async function findNearMisses(
  http: Http,
  authorizationEndpoint: string,
  clientId: string,
  redirectUri: string,
): Promise<NearMiss[]> {
  const variants = redirectUriVariants(redirectUri);
  const results = await Promise.all(
    variants.map((uri) => probeAuthorize(http, authorizationEndpoint, clientId, uri)),
  );
  return variants
    .filter((_uri, i) => results[i]?.verdict === 'accepted')
    .map((uri) => ({ uri, differences: compareRedirectUris(redirectUri, uri) }));
}

// ---------------------------------------------------------------------------------------------------------------
// APP_URL against what the browser sees

export interface RequestView {
  /** req.protocol and req.host as Express computed them (honouring X-Forwarded-* only when TRUST_PROXY is on). */
  readonly protocol: string;
  readonly host: string | undefined;
  readonly forwardedProto: string | undefined;
  readonly forwardedHost: string | undefined;
  readonly trustProxy: boolean;
}

export interface OriginComparison {
  readonly status: 'pass' | 'warn' | 'fail';
  readonly browserOrigin: string | undefined;
  readonly summary: string;
  readonly fix?: string;
}

/**
 * The redirect URI is built from APP_URL; if the browser reaches the app at another origin (a TLS proxy in front,
 * another host name), the Identity Service sends the user back to the wrong place and the session cookie is not there.
 */
export function compareAppUrlWithRequest(appUrl: string, view: RequestView): OriginComparison {
  const configured = new URL(appUrl).origin;
  const forwarded = Boolean(view.forwardedProto || view.forwardedHost);
  const first = (value: string | undefined) => value?.split(',')[0]?.trim();
  const protocol = view.trustProxy ? view.protocol : (first(view.forwardedProto) ?? view.protocol);
  const host = view.trustProxy ? view.host : (first(view.forwardedHost) ?? view.host);
  if (!host) {
    return {
      status: 'warn',
      browserOrigin: undefined,
      summary: 'The request carried no Host header; cannot compare.',
    };
  }
  let browserOrigin: string;
  try {
    browserOrigin = new URL(`${protocol}://${host}`).origin;
  } catch {
    return {
      status: 'warn',
      browserOrigin: undefined,
      summary: `The browser's origin (${protocol}://${host}) is not a URL.`,
    };
  }

  if (forwarded && !view.trustProxy) {
    return {
      status: browserOrigin === configured ? 'warn' : 'fail',
      browserOrigin,
      summary: `A proxy sends X-Forwarded-Proto/Host (browser at ${browserOrigin}) but TRUST_PROXY is off, so the app ignores them.`,
      fix: `If that proxy is yours, set TRUST_PROXY=1 (one hop)${browserOrigin === configured ? '' : ` and APP_URL=${browserOrigin}`}.`,
    };
  }
  if (browserOrigin !== configured) {
    return {
      status: 'fail',
      browserOrigin,
      summary: `This page was opened at ${browserOrigin}, but APP_URL is ${configured}: after sign-in the browser is sent to ${configured}.`,
      fix: `Set APP_URL=${browserOrigin} (and register ${browserOrigin}/auth/callback), or open the app at ${configured}.`,
    };
  }
  return {
    status: 'pass',
    browserOrigin,
    summary: `The browser reaches the app at ${browserOrigin}, as APP_URL says.`,
  };
}
