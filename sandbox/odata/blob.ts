/**
 * A test-only large answer, `GET /0/odata/$sandbox/blob?bytes=N`: a valid JSON document of exactly N bytes, written
 * in chunks as the client reads them, so the proxy's streaming test can send hundreds of megabytes through without
 * either side holding them in memory. Real Creatio has no such endpoint.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { ODataError, odataJsonContentType } from './errors.ts';

export const maxBlobBytes = 200 * 1024 * 1024;

const prefix = Buffer.from('{"value":"');
const suffix = Buffer.from('"}');
const minBlobBytes = prefix.length + suffix.length;
/** One filler chunk, sliced for every write: the only memory the answer needs, whatever its size. */
const filler = Buffer.alloc(64 * 1024, 'x');

export function parseBlobSize(text: string | null): number {
  const bytes = text !== null && /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(bytes >= minBlobBytes && bytes <= maxBlobBytes)) {
    throw new ODataError(
      400,
      `The query option 'bytes' must be a whole number from ${minBlobBytes} to ${maxBlobBytes}.`,
    );
  }
  return bytes;
}

function* blobChunks(bytes: number): Generator<Buffer> {
  yield prefix;
  for (let remaining = bytes - minBlobBytes; remaining > 0; remaining -= filler.length) {
    yield remaining >= filler.length ? filler : filler.subarray(0, remaining);
  }
  yield suffix;
}

/** Streams the document; pipeline waits for 'drain' between chunks and stops when the client goes away. */
export async function sendBlob(res: Response, bytes: number): Promise<void> {
  res.status(200).set('OData-Version', '4.0').type(odataJsonContentType);
  try {
    await pipeline(Readable.from(blobChunks(bytes), { objectMode: false }), res);
  } catch {
    // The client closed the connection early (the proxy test may do so on purpose); nothing is left to answer.
  }
}
