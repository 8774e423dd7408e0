/**
 * Outbound HTTP for the diagnostics: one request with a timeout, and every way it can fail turned into one sentence a
 * QA engineer can act on (DNS, connection refused, TLS certificate problems, timeouts, answers that are not JSON).
 * The checks never see an exception from here.
 */

/** The fetch seam: the global fetch in production, the same in tests (they point it at the sandbox). */
export type Fetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface Http {
  readonly fetch: Fetch;
  readonly timeoutMs: number;
}

export interface HttpProblem {
  readonly kind: 'dns' | 'refused' | 'timeout' | 'tls' | 'network';
  /** One sentence: what went wrong, naming the URL. */
  readonly message: string;
  readonly fix: string;
}

export type HttpOutcome =
  | { readonly ok: true; readonly response: Response; readonly body: string }
  | { readonly ok: false; readonly problem: HttpProblem };

/**
 * Sends one request and reads the whole body (diagnostics answers are small). Redirects are never followed: where a
 * redirect points is often the answer we are looking for.
 */
export async function send(http: Http, url: string | URL, init: RequestInit = {}): Promise<HttpOutcome> {
  try {
    const response = await http.fetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(http.timeoutMs),
    });
    return { ok: true, response, body: await response.text() };
  } catch (error) {
    return { ok: false, problem: describeNetworkError(error, new URL(url), http.timeoutMs) };
  }
}

/** Parses a JSON body; undefined when it is not JSON (an HTML error page, a proxy's login page …). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "an HTML page", "plain text" … for messages about answers that should have been JSON. */
export function describeBody(response: Response, body: string): string {
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('html') || /^\s*</.test(body)) return 'an HTML page';
  if (body.trim() === '') return 'an empty body';
  return `"${type || 'no content type'}" content`;
}

const TLS_PROBLEMS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  CERT_NOT_YET_VALID: 'its TLS certificate is not valid yet (check this machine’s clock too)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN:
    'its TLS certificate chain ends in a self-signed certificate this machine does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate chain is incomplete or not trusted by this machine',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its TLS certificate was issued by a CA this machine does not trust',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
};

/** What OpenSSL says when a TLS client gets a plain-http answer: https:// pointed at an http port. */
const PLAIN_HTTP_ON_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'EPROTO',
]);

/** undici reports a blocked port as a bare Error('bad port') in `cause`, without a code. */
function causeMessageOf(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : undefined;
}

/** Node's fetch wraps the real reason in `cause` (sometimes an AggregateError, one per address tried). */
function errorCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const { code, errors, cause } = current as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === 'string' && code !== 'ERR_INVALID_ARG_TYPE') return code;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = cause;
  }
  return undefined;
}

export function describeNetworkError(error: unknown, url: URL, timeoutMs: number): HttpProblem {
  const where = url.origin;
  // openid-client wraps its own timeout in a ClientError whose cause is the TimeoutError.
  const names = [error, (error as { cause?: unknown })?.cause].map((e) => (e as { name?: unknown })?.name);
  if (names.includes('TimeoutError') || names.includes('AbortError')) {
    return {
      kind: 'timeout',
      message: `${where} did not answer within ${timeoutMs} ms.`,
      fix: `Check that ${url.host} is running and reachable from this machine (firewall, VPN, proxy); HTTP_TIMEOUT_MS raises the limit.`,
    };
  }
  const code = errorCodeOf(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return {
      kind: 'dns',
      message: `The host name ${url.hostname} cannot be resolved (DNS).`,
      fix: `Check the spelling of ${url.hostname} and this machine's DNS; for Creatio cloud the Identity Service is <site>-is.creatio.com.`,
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      kind: 'refused',
      message: `Nothing accepts connections at ${where} (connection refused).`,
      fix: `Start the service or correct the port in the URL (${url.host}).`,
    };
  }
  if (code && PLAIN_HTTP_ON_TLS.has(code) && url.protocol === 'https:') {
    return {
      kind: 'tls',
      message: `${where} answered in plain http, not TLS: the URL says https:// but the server at ${url.host} speaks http.`,
      fix: `Use http://${url.host} if that server really has no TLS, or the port its https listens on.`,
    };
  }
  if (code && (code in TLS_PROBLEMS || code.startsWith('ERR_TLS') || code.includes('CERT'))) {
    return {
      kind: 'tls',
      message: `${where} was reached but ${TLS_PROBLEMS[code] ?? `its TLS handshake failed (${code})`}.`,
      fix: 'Install a valid certificate for this host on the server, or add its CA to this machine with NODE_EXTRA_CA_CERTS=<ca.pem>. Never turn certificate checks off.',
    };
  }
  if (code === 'ECONNRESET' || code === 'EPROTO' || code === 'UND_ERR_SOCKET') {
    return {
      kind: 'network',
      message: `${where} closed the connection (${code}); http vs https mix-up?`,
      fix: `Check the scheme of the URL: a TLS port spoken to with http:// (or the reverse) fails like this.`,
    };
  }
  if (causeMessageOf(error) === 'bad port') {
    return {
      kind: 'network',
      message: `${where} was not called: fetch refuses port ${url.port} (one of the ports browsers block, see the Fetch standard's "bad port" list).`,
      fix: `Serve ${url.hostname} on another port and correct the URL.`,
    };
  }
  return {
    kind: 'network',
    message: `${where} could not be reached${code ? ` (${code})` : ''}.`,
    fix: `Check that ${url.host} is reachable from this machine.`,
  };
}
