/**
 * The browser's request body on its way to Creatio, bounded in size and in patience (SECURITY.md, finding 1 and 2):
 *
 * - a declared Content-Length over PROXY_MAX_BODY_BYTES is refused before anything is read or sent;
 * - a body without a declared length (chunked) is counted while it streams and cut at the limit: the upstream
 *   request is aborted and the browser gets 413;
 * - a body that stops arriving for PROXY_TIMEOUT_MS is cut the same way (408), so a stalled upload cannot hold a
 *   connection to Creatio until Node's own five-minute request timeout;
 * - a client that goes away mid-body is a 499 (its doing), not a 500.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Request } from 'express';
import { BffError, ErrorCode } from '../errors.ts';

export interface BodyLimits {
  readonly maxBytes: number;
  /** The longest pause between two pieces of the body. */
  readonly idleMs: number;
}

/** A body up to this size is read into memory first, so the request can be sent again after a token refresh. */
export const REPLAYABLE_BODY_LIMIT = 64 * 1024;

export function tooLarge(maxBytes: number, logDetail: string): BffError {
  return new BffError(ErrorCode.PayloadTooLarge, {
    message: `The request body is larger than the proxy passes on (${maxBytes} bytes).`,
    logDetail,
  });
}

function stalled(idleMs: number): BffError {
  return new BffError(ErrorCode.RequestTimeout, { logDetail: `request body idle for ${idleMs} ms` });
}

export function clientClosed(logDetail = 'client closed the request'): BffError {
  return new BffError(ErrorCode.ClientClosedRequest, { logDetail });
}

/** Throws 413 for a declared Content-Length over the limit: nothing has been read or sent yet. */
export function refuseDeclaredOversize(req: Request, maxBytes: number): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw tooLarge(maxBytes, `declared Content-Length ${declared} over ${maxBytes}`);
  }
}

/** What goes upstream: nothing, a small body held for a possible retry, or a guarded stream sent once. */
export type UpstreamBody = Buffer | GuardedBody | null;

export function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export function isReplayableSize(req: Request): boolean {
  return (
    req.headers['transfer-encoding'] === undefined &&
    Number(req.headers['content-length'] ?? 0) <= REPLAYABLE_BODY_LIMIT
  );
}

/**
 * Reads a small body whole (its declared length is at most REPLAYABLE_BODY_LIMIT; Node's parser delivers no more
 * than declared), giving up after `idleMs` without a byte.
 */
export function readSmallBody(req: Request, idleMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const settle = (error: BffError | undefined) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => settle(stalled(idleMs)), idleMs);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      timer.refresh();
    };
    const onEnd = () => settle(undefined);
    const onError = () => settle(clientClosed('client aborted the request body'));
    const onClose = () => settle(clientClosed('client aborted the request body'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * A pass-through for a body streamed to Creatio: counts bytes and watches for stalls. When it cuts the body it is
 * destroyed with the reason (`failure`), which makes undici abort the upstream request; the proxy then answers with
 * that reason if the status line has not gone out yet.
 */
export class GuardedBody extends Transform {
  failure: BffError | undefined;
  readonly #limits: BodyLimits;
  readonly #source: Request;
  readonly #timer: NodeJS.Timeout;
  #received = 0;

  constructor(source: Request, limits: BodyLimits) {
    super();
    this.#limits = limits;
    this.#source = source;
    this.#timer = setTimeout(() => this.#cut(stalled(limits.idleMs)), limits.idleMs);
    source.once('error', () => this.#cut(clientClosed('client aborted the request body')));
    source.once('close', () => {
      if (!source.complete) this.#cut(clientClosed('client aborted the request body'));
    });
    source.pipe(this);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#received += chunk.length;
    if (this.#received > this.#limits.maxBytes) {
      this.#cut(tooLarge(this.#limits.maxBytes, `streamed body passed ${this.#limits.maxBytes} bytes`));
      callback();
      return;
    }
    this.#timer.refresh();
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    clearTimeout(this.#timer);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#source.unpipe(this);
    callback(error);
  }

  #cut(reason: BffError): void {
    if (this.failure || this.destroyed) return;
    this.failure = reason;
    this.destroy(reason);
  }
}
