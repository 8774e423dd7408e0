/**
 * The proxy handler: the browser's request goes to Creatio with the session's access token, and Creatio's answer
 * comes back — both streamed, never buffered whole (except a small request body kept for one retry).
 *
 * buildCreatioUrl (refuse before anything is sent) → a fresh access token → undici pool → on 401 invalid_token:
 * a new token and one retry when the body can be sent again → status, allowlisted headers and body piped back.
 *
 * Creatio's own answers, errors included (`{"error":{"code","message"}}`, e.g. a missing "Access to OData"
 * permission), pass through unchanged with their status; only the BFF's own failures use `{error, message}`.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import { type Dispatcher, errors } from 'undici';
import { BffError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { TokenRefresher } from '../tokens/refresh.ts';
import { buildCreatioUrl, type CreatioBase } from './creatio-url.ts';
import { pickRequestHeaders, pickResponseHeaders } from './headers.ts';

export interface ODataProxyDeps {
  readonly base: CreatioBase;
  /** One keep-alive pool per app, connected to the origin of CREATIO_URL. */
  readonly pool: Dispatcher;
  readonly tokens: TokenRefresher;
  readonly logger: Logger;
  /** Waiting for Creatio's response headers, and for each next piece of its body. */
  readonly timeoutMs: number;
}

/** A body up to this size is read into memory first, so the request can be sent again after a token refresh. */
export const REPLAYABLE_BODY_LIMIT = 64 * 1024;

const METHODS = new Set<string>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** nginx's 499: logged as the client's doing, not as an upstream failure; nobody is listening for the answer. */
const CLIENT_CLOSED = new BffError(ErrorCode.BadRequest, {
  status: 499,
  logDetail: 'client closed the request',
});

type UpstreamBody = Buffer | Readable | undefined;

/**
 * No body, or a small one read into memory: the request can be sent twice. A large or chunked body is passed on
 * as a stream and can be sent once.
 */
async function readRequestBody(req: Request): Promise<UpstreamBody> {
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = Number(req.headers['content-length'] ?? 0);
  if (!chunked && length === 0) return undefined;
  if (chunked || length > REPLAYABLE_BODY_LIMIT) return req;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Creatio says the token is no good (or says nothing more precise): worth one refresh and retry. */
function isInvalidTokenChallenge(challenge: string | string[] | undefined): boolean {
  if (challenge === undefined) return true;
  const text = Array.isArray(challenge) ? challenge.join(', ') : challenge;
  return !/\berror=/i.test(text) || /\berror="?invalid_token\b/i.test(text);
}

function upstreamError(cause: unknown, base: CreatioBase): BffError {
  const { code, message } = (cause ?? {}) as { code?: string; message?: string };
  const logDetail = `${base.family} upstream ${base.origin}: ${code ?? 'error'} ${message ?? ''}`.trim();
  const timedOut =
    cause instanceof errors.HeadersTimeoutError ||
    cause instanceof errors.BodyTimeoutError ||
    cause instanceof errors.ConnectTimeoutError;
  return new BffError(timedOut ? ErrorCode.UpstreamTimeout : ErrorCode.UpstreamUnavailable, { logDetail });
}

/** Handles ALL methods below one API family's mount; the family is fixed by `deps.base`. */
export function handleODataProxy(deps: ODataProxyDeps): RequestHandler {
  const { base, pool, tokens, logger, timeoutMs } = deps;

  return async (req: Request, res: Response) => {
    if (!METHODS.has(req.method)) {
      throw new BffError(ErrorCode.BadRequest, { status: 405, message: `${req.method} is not proxied.` });
    }
    // Refuse a bad path before reading the body or touching a token: nothing leaves for a refused request.
    const path = buildCreatioUrl(base, req.url);
    const body = await readRequestBody(req);
    const replayable = !(body instanceof Readable);
    const headers = pickRequestHeaders(req.headers, Buffer.isBuffer(body) ? body.length : undefined);

    // The browser gave up (closed the tab, aborted the fetch): stop Creatio's work too.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    const send = async (accessToken: string): Promise<Dispatcher.ResponseData> => {
      try {
        return await pool.request({
          path,
          method: req.method as Dispatcher.HttpMethod,
          headers: { ...headers, authorization: `Bearer ${accessToken}` },
          body,
          signal: abort.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
      } catch (cause) {
        if (abort.signal.aborted) throw CLIENT_CLOSED;
        throw upstreamError(cause, base);
      }
    };

    let accessToken = await tokens.getFreshAccessToken(req.sessionID);
    let upstream = await send(accessToken);
    if (
      upstream.statusCode === 401 &&
      replayable &&
      isInvalidTokenChallenge(upstream.headers['www-authenticate'])
    ) {
      await upstream.body.dump(); // frees the connection for reuse
      accessToken = await tokens.getFreshAccessToken(req.sessionID, { rejectedAccessToken: accessToken });
      upstream = await send(accessToken);
    }

    // writeHead, not res.set: Express would append "; charset=utf-8" to Creatio's Content-Type.
    res.writeHead(upstream.statusCode, pickResponseHeaders(upstream.headers, base));
    try {
      await pipeline(upstream.body, res);
    } catch (cause) {
      // The status line is out; all that is left is to cut the response short (pipeline did) and say why.
      if (abort.signal.aborted) {
        logger.debug({ reqId: req.id, family: base.family }, 'client went away; upstream request aborted');
      } else {
        const error = upstreamError(cause, base);
        logger.warn(
          { reqId: req.id, code: error.code, detail: error.logDetail },
          'upstream body failed mid-stream',
        );
      }
    }
  };
}
