/**
 * The first middleware: gives the request its id (request-id.ts), returns it as X-Request-Id, and when the response
 * is done writes one log line and one metrics observation:
 *
 *   {"level":30,…,"reqId":"…","method":"GET","route":"/api/odata/*","status":200,"ms":3.1,"session":"Xy3…"}
 *
 * `route` is the pattern, not the path (route-pattern.ts); `session` is a keyed hash of the session id
 * (session-ref.ts), present once the request is signed in. Status 499 means the response did not complete (the
 * client went away, or a stream was cut). Health checks and /metrics log at debug: a probe every few seconds would
 * drown everything else.
 *
 * Per request: one listener (a shared function, no closure), one timestamp, one log call, about 8 µs of CPU with
 * metrics on (measured).
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logger.ts';
import type { Metrics } from './metrics.ts';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.ts';
import type { SessionRef } from './session-ref.ts';

export interface RequestLogDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sessionRef: SessionRef;
  readonly routePattern: (req: Request) => string;
}

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

const startedAt = Symbol('request started at');
type TimedRequest = Request & { [startedAt]: number };

/** Signed in: express-session's user, or the `/api` session reader's record. */
function sessionIdOf(req: Request): string | undefined {
  return req.session?.user !== undefined || req.apiSession?.user !== undefined ? req.sessionID : undefined;
}

export function createRequestLog(deps: RequestLogDeps): RequestHandler {
  const { metrics, sessionRef, routePattern } = deps;
  // Every field of this line is ours and none can hold a secret (a validated id, a pattern, a number, a keyed
  // hash), so it skips the logger's redaction pass: measured at 7 µs of the 11 µs a redacted line costs.
  const logger = deps.logger.child({}, { redact: [] });

  function logResponse(this: Response): void {
    const req = this.req as TimedRequest;
    const ms = performance.now() - req[startedAt];
    const status = this.writableFinished ? this.statusCode : 499;
    const route = routePattern(req);
    metrics.httpRequest(req.method, route, status, ms / 1000);
    const sessionId = sessionIdOf(req);
    const line = {
      reqId: req.id,
      method: req.method,
      route,
      status,
      ms: Math.round(ms * 10) / 10,
      session: sessionId === undefined ? undefined : sessionRef(sessionId),
    };
    if (QUIET_ROUTES.has(route)) logger.debug(line, 'request');
    else logger.info(line, 'request');
  }

  return function requestLog(req, res, next) {
    (req as TimedRequest)[startedAt] = performance.now();
    req.id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, req.id);
    res.once('close', logResponse);
    next();
  };
}
