/**
 * The proxy handler: the browser's request goes to Creatio with the session's access token, and Creatio's answer
 * comes back — both streamed, never buffered whole (except a small request body kept for one retry).
 *
 * refuse a bad path or a declared oversize body (nothing is read or sent) → a slot of the session's (its turn, if
 * it already has PROXY_MAX_CONCURRENT_PER_SESSION running; released when the response closes) → the body,
 * bounded (request-body.ts) → a fresh access token → a pool connection, waited for at most PROXY_POOL_WAIT_MS →
 * undici dispatch → on 401 invalid_token: a new token and one retry when the body can be sent again (one forced
 * refresh per session per 30 s) → status, allowlisted headers and body written straight to the response.
 *
 * Creatio's own answers, errors included (`{"error":{"code","message"}}`, e.g. a missing "Access to OData"
 * permission), pass through unchanged with their status; only the BFF's own failures use `{error, message}`.
 *
 * Why a dispatch handler and not `pool.request` + `pipeline`: one object per request receives undici's callbacks and
 * writes to the response directly, with backpressure, and cancels Creatio's work when the browser goes away —
 * without the Readable, the promise pipeline and the AbortController (and its DOMException) that each request
 * otherwise allocates. On the hot path that was about a tenth of the proxy's CPU (docs/benchmarks.md).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type Dispatcher, errors } from 'undici';
import type { ApiFamily } from '../config.ts';
import { BffError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { TokenRefresher } from '../tokens/refresh.ts';
import type { ConnectionSlots, ForcedRefreshThrottle, SessionSlots } from './admission.ts';
import { buildCreatioUrl, type CreatioBase } from './creatio-url.ts';
import { type OutgoingHeaders, pickRequestHeaders, pickResponseHeaders } from './headers.ts';
import {
  clientClosed,
  GuardedBody,
  hasBody,
  isReplayableSize,
  readSmallBody,
  refuseDeclaredOversize,
  type UpstreamBody,
} from './request-body.ts';

/** Re-exported for the proxy's tests: the size up to which a body is kept for a retry. */
export { REPLAYABLE_BODY_LIMIT } from './request-body.ts';

/** The seam for metrics (issue 14's operations side): told once per upstream exchange. */
export interface ProxyObserver {
  /** `status` is 0 when no response came (timeout, unreachable, aborted). */
  upstream(family: ApiFamily, method: string, status: number, seconds: number): void;
}

export interface ODataProxyDeps {
  readonly base: CreatioBase;
  /** One keep-alive pool per app, connected to the origin of CREATIO_URL. */
  readonly pool: Dispatcher;
  readonly tokens: TokenRefresher;
  readonly logger: Logger;
  /** Waiting for Creatio's response headers, for each next piece of its body, and for each piece of the request's. */
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly sessionSlots: SessionSlots;
  readonly connections: ConnectionSlots;
  readonly forcedRefresh: ForcedRefreshThrottle;
  readonly observer?: ProxyObserver | undefined;
}

const METHODS = new Set<string>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** Creatio says the token is no good (or says nothing more precise): worth one refresh and retry. */
function isInvalidTokenChallenge(challenge: string | string[] | undefined): boolean {
  if (challenge === undefined) return true;
  const text = Array.isArray(challenge) ? challenge.join(', ') : challenge;
  return !/\berror=/i.test(text) || /\berror="?invalid_token\b/i.test(text);
}

function upstreamError(cause: unknown, base: CreatioBase): BffError {
  if (cause instanceof BffError) return cause;
  const { code, message } = (cause ?? {}) as { code?: string; message?: string };
  const logDetail = `${base.family} upstream ${base.origin}: ${code ?? 'error'} ${message ?? ''}`.trim();
  const timedOut =
    cause instanceof errors.HeadersTimeoutError ||
    cause instanceof errors.BodyTimeoutError ||
    cause instanceof errors.ConnectTimeoutError;
  return new BffError(timedOut ? ErrorCode.UpstreamTimeout : ErrorCode.UpstreamUnavailable, { logDetail });
}

/**
 * One browser request's way through the proxy, and undici's handler for it. Every callback is a method of this
 * one object; the only closures are the two listeners on the response.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #deps: ODataProxyDeps;
  readonly #req: Request;
  readonly #res: Response;
  readonly #next: NextFunction;
  readonly #path: string;
  #headers: OutgoingHeaders = {};
  #body: UpstreamBody = null;
  #accessToken = '';
  #controller: Dispatcher.DispatchController | undefined;
  /** Between dispatch and the end (or failure) of Creatio's answer: holds a pool connection. */
  #upstreamActive = false;
  #startedAt = 0;
  #status = 0;
  /** A 401 is being drained so the request can be sent again with `#retryToken`. */
  #retryToken: Promise<string> | undefined;
  #retried = false;
  #clientGone = false;
  #failed = false;
  #holdsSessionSlot = false;

  constructor(deps: ODataProxyDeps, req: Request, res: Response, next: NextFunction, path: string) {
    this.#deps = deps;
    this.#req = req;
    this.#res = res;
    this.#next = next;
    this.#path = path;
    res.once('close', this.#onResponseClose);
  }

  async start(): Promise<void> {
    try {
      const req = this.#req;
      const { timeoutMs, maxBodyBytes, sessionSlots } = this.#deps;
      if (!sessionSlots.tryTake(req.sessionID)) await sessionSlots.wait(req.sessionID);
      this.#holdsSessionSlot = true;
      if (this.#clientGone) {
        this.#releaseSessionSlot();
        throw clientClosed();
      }
      if (hasBody(req)) {
        this.#body = isReplayableSize(req)
          ? await readSmallBody(req, timeoutMs)
          : new GuardedBody(req, { maxBytes: maxBodyBytes, idleMs: timeoutMs });
      }
      this.#headers = pickRequestHeaders(
        req.headers,
        Buffer.isBuffer(this.#body) ? this.#body.length : undefined,
      );
      this.#headers['x-request-id'] = req.id; // so Creatio's log line can be joined with ours
      await this.#send(await this.#deps.tokens.getFreshAccessToken(req.sessionID));
    } catch (error) {
      this.#fail(error);
    }
  }

  async #send(accessToken: string): Promise<void> {
    const { connections, pool, timeoutMs } = this.#deps;
    this.#accessToken = accessToken;
    this.#headers.authorization = `Bearer ${accessToken}`;
    if (!connections.tryTake()) await connections.wait();
    if (this.#clientGone) {
      connections.release();
      throw clientClosed();
    }
    this.#upstreamActive = true;
    this.#status = 0;
    this.#startedAt = performance.now();
    pool.dispatch(
      {
        path: this.#path,
        method: this.#req.method as Dispatcher.HttpMethod,
        headers: this.#headers,
        body: this.#body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(clientClosed());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.#status = statusCode;
    if (
      statusCode === 401 &&
      !this.#retried &&
      !(this.#body instanceof GuardedBody) &&
      isInvalidTokenChallenge(headers['www-authenticate'])
    ) {
      controller.pause(); // hold the 401 until we know whether it goes to the browser or is retried
      void this.#decideOn401(controller, headers);
      return;
    }
    this.#writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#retryToken) return; // draining a 401 that will be retried
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', this.#resumeUpstream);
    }
  }

  onResponseEnd(): void {
    this.#upstreamDone();
    const retryToken = this.#retryToken;
    if (retryToken) {
      this.#retryToken = undefined;
      retryToken.then((token) => this.#send(token)).catch((error: unknown) => this.#fail(error));
      return;
    }
    this.#res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#upstreamDone();
    const res = this.#res;
    if (res.headersSent) {
      // The status line is out; all that is left is to cut the response short and say why.
      if (!this.#clientGone) {
        const failure = upstreamError(error, this.#deps.base);
        this.#deps.logger.warn(
          { reqId: this.#req.id, code: failure.code, detail: failure.logDetail },
          'upstream body failed mid-stream',
        );
      } else {
        this.#deps.logger.debug({ reqId: this.#req.id }, 'client went away; upstream request aborted');
      }
      res.destroy();
      return;
    }
    const cut = this.#body instanceof GuardedBody ? this.#body.failure : undefined;
    this.#fail(cut ?? upstreamError(error, this.#deps.base));
  }

  /** A token refreshed meanwhile is tried for free; a forced refresh is rationed per session. */
  async #decideOn401(controller: Dispatcher.DispatchController, headers: IncomingHttpHeaders): Promise<void> {
    const { tokens, forcedRefresh } = this.#deps;
    const sessionId = this.#req.sessionID;
    const rejected = this.#accessToken;
    try {
      const current = await tokens.getFreshAccessToken(sessionId);
      if (current !== rejected) {
        this.#retryToken = Promise.resolve(current);
      } else if (forcedRefresh.tryTake(sessionId)) {
        this.#retryToken = tokens.getFreshAccessToken(sessionId, { rejectedAccessToken: rejected });
        this.#retryToken.catch(() => {}); // handled when the 401 is drained (onResponseEnd)
      } else {
        this.#deps.logger.info(
          { reqId: this.#req.id, family: this.#deps.base.family },
          'Creatio answered 401 again within the forced-refresh interval; passed on as is',
        );
        this.#writeHead(401, headers);
      }
      this.#retried = true;
      controller.resume();
    } catch (error) {
      controller.abort(error as Error); // reported back through onResponseError
    }
  }

  #writeHead(statusCode: number, headers: IncomingHttpHeaders): void {
    // writeHead, not res.set: Express would append "; charset=utf-8" to Creatio's Content-Type.
    this.#res.writeHead(statusCode, pickResponseHeaders(headers, this.#deps.base));
  }

  #upstreamDone(): void {
    if (!this.#upstreamActive) return;
    this.#upstreamActive = false;
    this.#deps.connections.release();
    this.#deps.observer?.upstream(
      this.#deps.base.family,
      this.#req.method,
      this.#status,
      (performance.now() - this.#startedAt) / 1000,
    );
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    const res = this.#res;
    if (this.#clientGone) {
      this.#next(clientClosed());
      return;
    }
    // The browser may still be sending a body we will not read: close the connection after the answer.
    if (!this.#req.complete) res.setHeader('connection', 'close');
    this.#next(error);
  }

  #releaseSessionSlot(): void {
    if (!this.#holdsSessionSlot) return;
    this.#holdsSessionSlot = false;
    this.#deps.sessionSlots.release(this.#req.sessionID);
  }

  readonly #resumeUpstream = (): void => this.#controller?.resume();

  /** Fires when the answer is complete and when the browser goes away first (closed the tab, aborted the fetch). */
  readonly #onResponseClose = (): void => {
    this.#releaseSessionSlot();
    if (this.#res.writableFinished) return;
    this.#clientGone = true;
    if (this.#upstreamActive) this.#controller?.abort(clientClosed()); // stop Creatio's work too
    if (this.#body instanceof GuardedBody) this.#body.destroy();
  };
}

/** Handles ALL methods below one API family's mount; the family is fixed by `deps.base`. */
export function handleODataProxy(deps: ODataProxyDeps): RequestHandler {
  return function proxyToCreatio(req, res, next) {
    if (!METHODS.has(req.method)) {
      throw new BffError(ErrorCode.BadRequest, { status: 405, message: `${req.method} is not proxied.` });
    }
    // Refuse a bad path or a body declared too large before reading it or touching a token: nothing leaves.
    const path = buildCreatioUrl(deps.base, req.url);
    refuseDeclaredOversize(req, deps.maxBodyBytes);
    void new Exchange(deps, req, res, next, path).start();
  };
}
