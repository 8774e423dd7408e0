/**
 * OData 4's multipart `$batch` format (OData 4.0 Protocol §11.7): a `multipart/mixed` body whose parts are either
 * one request (`Content-Type: application/http`, the HTTP request written out: request line, headers, blank line,
 * body) or a change set (a nested `multipart/mixed` of such requests, applied all or nothing).
 *
 * Splitting MIME parts is generic and done by @remix-run/multipart-parser; reading and writing the `application/http`
 * messages inside them and the change-set rules are OData's own and written here.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { getMultipartBoundary, MultipartParseError, parseMultipart } from '@remix-run/multipart-parser';
import {
  type BatchRequest,
  type BatchResult,
  type BatchStep,
  checkBatchSize,
  maxBatchRequests,
  type StepResult,
} from './batch.ts';
import { ODataError } from './errors.ts';
import { mediaTypeOf } from './service.ts';

const CRLF = '\r\n';
const headerEnd = /\r?\n\r?\n/;

/** Limits for the MIME parser: a file in a batch may be as large as a stream column allows. */
export interface MultipartLimits {
  readonly maxPartBytes: number;
}

function boundaryOf(contentType: string | undefined, what: string): string {
  const boundary = contentType ? getMultipartBoundary(contentType) : null;
  if (!boundary) throw new ODataError(400, `The ${what} has no multipart boundary in its Content-Type.`);
  return boundary;
}

function parseParts(body: Uint8Array, boundary: string, limits: MultipartLimits) {
  try {
    return [
      ...parseMultipart(body, {
        boundary,
        maxFileSize: limits.maxPartBytes,
        maxTotalSize: limits.maxPartBytes * 2,
        // Generous: the batch's own limit (100 requests, change sets included) is checked after, with a clear message.
        maxParts: maxBatchRequests * 2,
      }),
    ];
  } catch (error) {
    if (error instanceof MultipartParseError) {
      throw new ODataError(400, `The multipart batch could not be read: ${error.message}`);
    }
    throw error;
  }
}

/** `GET Account?$top=1 HTTP/1.1` + headers + blank line + body, as bytes (the body may be binary). */
function parseHttpRequest(bytes: Uint8Array, contentId: string | undefined): BatchRequest {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString('latin1'); // one char per byte, so indexes found in the text are byte offsets
  const end = headerEnd.exec(text);
  const head = end ? text.slice(0, end.index) : text.trimEnd();
  const body = end ? buffer.subarray(end.index + end[0].length) : Buffer.alloc(0);
  const [requestLine = '', ...headerLines] = head.split(/\r?\n/);
  const match = /^([A-Z]+) (\S+)(?: HTTP\/1\.[01])?$/.exec(requestLine.trim());
  if (!match)
    throw new ODataError(400, `The batch part '${requestLine}' does not start with a request line.`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    id: contentId ?? headers['content-id'],
    method: match[1] as string,
    url: match[2] as string,
    headers,
    body,
  };
}

function requestOf(part: { headers: Record<string, string | undefined>; bytes: Uint8Array }): BatchRequest {
  if (mediaTypeOf(part.headers['content-type']) !== 'application/http') {
    throw new ODataError(400, 'Each part of a multipart batch must be "Content-Type: application/http".');
  }
  return parseHttpRequest(part.bytes, part.headers['content-id']);
}

export function parseMultipartBatch(
  body: Buffer,
  contentType: string | undefined,
  limits: MultipartLimits,
): BatchStep[] {
  const steps: BatchStep[] = [];
  for (const part of parseParts(body, boundaryOf(contentType, 'batch request'), limits)) {
    const partType = part.headers['content-type'];
    if (mediaTypeOf(partType) !== 'multipart/mixed') {
      steps.push({ kind: 'request', request: requestOf(part) });
      continue;
    }
    const boundary = boundaryOf(partType, 'change set');
    const requests = parseParts(part.bytes, boundary, limits).map(requestOf);
    for (const request of requests) {
      if (request.method === 'GET') {
        throw new ODataError(400, 'A change set may contain only POST, PATCH, PUT and DELETE requests.');
      }
    }
    steps.push({ kind: 'group', groupId: boundary, requests });
  }
  checkBatchSize(steps);
  return steps;
}

// ---- the response ----

function writeHttpResponse(result: BatchResult): Buffer {
  const { answer, request } = result;
  const head = [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    ...(request.id === undefined ? [] : [`Content-ID: ${request.id}`]),
    '',
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`.trimEnd(),
    ...Object.entries({ ...answer.headers, 'Content-Length': String(answer.body.length) }).map(
      ([name, value]) => `${name}: ${value}`,
    ),
    '',
    '',
  ].join(CRLF);
  return Buffer.concat([Buffer.from(head, 'latin1'), answer.body]);
}

function writeMultipart(boundary: string, parts: readonly Buffer[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) chunks.push(Buffer.from(`--${boundary}${CRLF}`), part, Buffer.from(CRLF));
  chunks.push(Buffer.from(`--${boundary}--${CRLF}`));
  return Buffer.concat(chunks);
}

/**
 * The answer body and its Content-Type. A change set that applied answers a nested multipart of its responses; one
 * that failed answers a single response, the failure's, as OData says.
 */
export function writeMultipartBatch(results: readonly StepResult[]): { body: Buffer; contentType: string } {
  const boundary = `batchresponse_${randomUUID()}`;
  const parts = results.map((step) => {
    if (step.kind === 'request') return writeHttpResponse(step.result);
    if (step.failed) return writeHttpResponse(step.results.at(-1) as BatchResult);
    const changeset = `changesetresponse_${randomUUID()}`;
    const nested = writeMultipart(changeset, step.results.map(writeHttpResponse));
    return Buffer.concat([
      Buffer.from(`Content-Type: multipart/mixed; boundary=${changeset}${CRLF}${CRLF}`),
      nested,
    ]);
  });
  return { body: writeMultipart(boundary, parts), contentType: `multipart/mixed; boundary=${boundary}` };
}
