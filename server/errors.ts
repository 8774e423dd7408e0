/**
 * One error type for everything the BFF answers with on purpose. `message` is for the person reading the page or
 * the JSON; `logDetail` is for the log only. Neither ever holds a token, a secret or a session id.
 */
import type { ErrorRequestHandler, Request } from 'express';
import type { Logger } from 'pino';

export const ErrorCode = Object.freeze({
  BadRequest: 'bad_request', // 400
  InvalidCallback: 'invalid_callback', // 400
  PathNotAllowed: 'path_not_allowed', // 400
  Unauthenticated: 'unauthenticated', // 401: no session
  LoginRequired: 'login_required', // 401: the refresh failed, the grant is gone
  AccessDenied: 'access_denied', // 401: the user cancelled or was refused at the Identity Service
  CsrfHeaderMissing: 'csrf_header_missing', // 403: nothing was sent upstream
  CsrfTokenInvalid: 'csrf_token_invalid', // 403
  CrossOriginRequest: 'cross_origin_request', // 403: Sec-Fetch-Site / Origin name another site
  NotFound: 'not_found', // 404
  RequestTimeout: 'request_timeout', // 408: the request body stalled
  PayloadTooLarge: 'payload_too_large', // 413
  RateLimited: 'rate_limited', // 429
  ClientClosedRequest: 'client_closed_request', // 499 (nginx's): the client went away; nobody reads the answer
  ServerError: 'server_error', // 500
  SessionCookieBlocked: 'session_cookie_blocked', // 500: https APP_URL, but the request arrived as http
  IdentityServiceError: 'identity_service_error', // 502
  UpstreamUnavailable: 'upstream_unavailable', // 502
  IdentityServiceUnavailable: 'identity_service_unavailable', // 503
  SignInsBusy: 'sign_ins_busy', // 503: too many sign-ins in progress (LOGIN_MAX_PENDING)
  SessionStoreUnavailable: 'session_store_unavailable', // 503
  UpstreamBusy: 'upstream_busy', // 503: every connection to Creatio is taken
  UpstreamTimeout: 'upstream_timeout', // 504
});
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const statusOf: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_callback: 400,
  path_not_allowed: 400,
  unauthenticated: 401,
  login_required: 401,
  access_denied: 401,
  csrf_header_missing: 403,
  csrf_token_invalid: 403,
  cross_origin_request: 403,
  not_found: 404,
  request_timeout: 408,
  payload_too_large: 413,
  rate_limited: 429,
  client_closed_request: 499,
  server_error: 500,
  session_cookie_blocked: 500,
  identity_service_error: 502,
  upstream_unavailable: 502,
  identity_service_unavailable: 503,
  sign_ins_busy: 503,
  session_store_unavailable: 503,
  upstream_busy: 503,
  upstream_timeout: 504,
};

const defaultMessage: Record<ErrorCode, string> = {
  bad_request: 'The request is not valid.',
  invalid_callback: 'The sign-in response could not be accepted. Start the sign-in again.',
  path_not_allowed: 'This path is not allowed through the proxy.',
  unauthenticated: 'You are not signed in.',
  login_required: 'Your session ended. Sign in again.',
  access_denied: 'Sign-in was cancelled or refused.',
  csrf_header_missing: 'The request must carry the header X-CSRF: 1.',
  csrf_token_invalid: 'The form has expired. Reload the page and try again.',
  cross_origin_request: 'This request came from another site and was refused.',
  not_found: 'Not found.',
  request_timeout: 'The request body stopped arriving.',
  payload_too_large: 'The request body is too large.',
  rate_limited: 'Too many requests. Wait a moment and try again.',
  client_closed_request: 'The client closed the request.',
  server_error: 'Something went wrong on our side.',
  session_cookie_blocked: 'The session cookie could not be set (TRUST_PROXY, X-Forwarded-Proto).',
  identity_service_error: 'The Identity Service answered with an error.',
  upstream_unavailable: 'Creatio could not be reached.',
  identity_service_unavailable: 'The Identity Service could not be reached.',
  sign_ins_busy: 'Too many sign-ins are in progress right now. Wait a minute and try again.',
  session_store_unavailable: 'The session store is not available.',
  upstream_busy: 'Creatio is busy with other requests. Try again in a moment.',
  upstream_timeout: 'Creatio did not answer in time.',
};

export interface BffErrorOptions {
  message?: string;
  /** What to check or do next, shown on error pages (e.g. "Check that the redirect URL … is registered"). */
  hint?: string;
  /** For the log only. */
  logDetail?: string;
  cause?: unknown;
  status?: number;
}

export class BffError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string | undefined;
  /** Where "Sign in again" on the error page leads back to: a validated local path. */
  returnTo: string | undefined;
  readonly logDetail: string | undefined;

  constructor(code: ErrorCode, options: BffErrorOptions = {}) {
    super(options.message ?? defaultMessage[code], { cause: options.cause });
    this.name = 'BffError';
    this.code = code;
    this.status = options.status ?? statusOf[code];
    this.hint = options.hint;
    this.logDetail = options.logDetail;
  }
}

/** JSON for API callers (`/api/*`, `/auth/session`, fetch requests); a page for people elsewhere. */
export function wantsJson(req: Request): boolean {
  if (
    req.path.startsWith('/api/') ||
    req.path === '/auth/session' ||
    req.path.startsWith('/auth/sessions') ||
    req.path.startsWith('/auth/backchannel')
  ) {
    return true;
  }
  if (req.get('x-csrf')) return true;
  const accept = req.get('accept') ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

/** Body-parser and other http-errors carry a status; keep 4xx ones, hide the rest. */
function toBffError(err: unknown): BffError {
  if (err instanceof BffError) return err;
  const status =
    (err as { status?: unknown; statusCode?: unknown })?.status ??
    (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 404 ? ErrorCode.NotFound : ErrorCode.BadRequest;
    return new BffError(code, { status, cause: err, logDetail: (err as Error).message });
  }
  return new BffError(ErrorCode.ServerError, { cause: err });
}

/** The one error exit, registered last. Logs one line per error; the stack only for 5xx; never to the client. */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (caught, req, res, next) => {
    const error = toBffError(caught);
    const log = { reqId: req.id, method: req.method, path: req.path, status: error.status, code: error.code };
    if (error.code === ErrorCode.ServerError) {
      // Only the unexpected gets a stack: a bug to fix. Known failures (upstream down, timeouts) are one line.
      logger.error({ ...log, detail: error.logDetail, err: error.cause ?? error }, 'request failed');
    } else if (error.status >= 500) {
      logger.error({ ...log, detail: error.logDetail }, 'request failed');
    } else {
      logger.warn({ ...log, detail: error.logDetail }, 'request rejected');
    }
    if (res.headersSent) return next(caught);
    res.status(error.status);
    res.setHeader('Cache-Control', 'no-store');
    if (wantsJson(req)) {
      res.json({ error: error.code, message: error.message });
      return;
    }
    res.render('error', {
      title: 'Something went wrong',
      error: { code: error.code, message: error.message, hint: error.hint, status: error.status },
      signInUrl:
        error.returnTo && error.returnTo !== '/'
          ? `/auth/login?returnTo=${encodeURIComponent(error.returnTo)}`
          : '/auth/login',
    });
  };
}
