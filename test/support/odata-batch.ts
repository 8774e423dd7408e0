/**
 * Writing and reading OData multipart batches in tests, by hand on purpose: the bytes on the wire are what the
 * tests are about. Parts are split with the same MIME parser the sandbox uses.
 */
import { parseMultipart } from '@remix-run/multipart-parser';

export type PartAnswer = { status: number; body: string };

/** Splits a multipart/mixed batch answer into its parts' HTTP status lines and bodies (change sets nested). */
export function readMultipartAnswer(body: Buffer, contentType: string): Array<PartAnswer | PartAnswer[]> {
  const boundary = /boundary=([^;]+)/.exec(contentType)![1]!;
  return [...parseMultipart(body, { boundary })].map((part) => {
    const type = part.headers['content-type'] ?? '';
    if (type.startsWith('multipart/mixed')) {
      return readMultipartAnswer(Buffer.from(part.bytes), type) as PartAnswer[];
    }
    const text = part.text;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)![1]);
    return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
  });
}

export function multipartBatch(boundary: string, parts: string[]): string {
  return `${parts.map((part) => `--${boundary}\r\n${part}\r\n`).join('')}--${boundary}--\r\n`;
}

export function httpPart(request: string, contentId?: string): string {
  return `Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n${contentId ? `Content-ID: ${contentId}\r\n` : ''}\r\n${request}`;
}
