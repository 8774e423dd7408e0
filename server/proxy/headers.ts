/**
 * What crosses the proxy in each direction: allowlists, nothing else passes. The browser's cookies, its X-CSRF
 * header, any Authorization it sends and hop-by-hop headers never reach Creatio; Creatio's cookies and
 * authentication challenges never reach the browser.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CreatioBase } from './creatio-url.ts';

/** What OData (and the other Creatio APIs) need from the browser's request. */
export const REQUEST_HEADERS: readonly string[] = Object.freeze([
  'accept',
  'accept-language',
  'content-type',
  'prefer',
  'if-match',
  'if-none-match',
  'odata-version',
  'odata-maxversion',
  // W3C Trace Context: a trace the caller started goes on into Creatio's logs (X-Request-Id is set by the proxy).
  'traceparent',
  'tracestate',
]);

/**
 * What the browser needs from Creatio's answer: the content and its description, OData's version and preferences,
 * the ETag for optimistic concurrency, and Retry-After on 429/503. Location is rewritten (see rewriteLocation).
 */
export const RESPONSE_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-length',
  'content-encoding', // the body is passed on byte for byte, so its encoding must travel with it
  'content-language',
  'content-disposition',
  'odata-version',
  'preference-applied',
  'etag',
  'retry-after',
]);

export type OutgoingHeaders = Record<string, string>;

/**
 * The headers to send upstream, without Authorization (the caller adds the session's token). Content-Length is
 * kept only when the body is passed on as received (`bodyLength` undefined); a buffered body states its own length.
 */
export function pickRequestHeaders(incoming: IncomingHttpHeaders, bodyLength?: number): OutgoingHeaders {
  const picked: OutgoingHeaders = {};
  for (const name of REQUEST_HEADERS) {
    const value = incoming[name];
    if (typeof value === 'string') picked[name] = value;
  }
  if (bodyLength !== undefined) {
    picked['content-length'] = String(bodyLength);
  } else if (typeof incoming['content-length'] === 'string') {
    picked['content-length'] = incoming['content-length'];
  }
  return picked;
}

/**
 * Location from Creatio (201 Created) names the new entity at Creatio's URL; the browser can only reach it through
 * us, so a location below the family's base is rewritten to our public path and any other location is dropped
 * rather than leaking an upstream address the browser cannot use. Bodies are not rewritten (they are streamed):
 * `@odata.context` and `@odata.id` keep Creatio's URLs, which are informational.
 */
export function rewriteLocation(location: string, base: CreatioBase): string | undefined {
  const upstream = location.startsWith(base.origin) ? location.slice(base.origin.length) : location;
  if (
    upstream === base.path ||
    upstream.startsWith(`${base.path}/`) ||
    upstream.startsWith(`${base.path}?`)
  ) {
    return base.publicPath + upstream.slice(base.path.length);
  }
  return undefined;
}

/** The headers to pass back to the browser. Never Set-Cookie or WWW-Authenticate; always Cache-Control: no-store. */
export function pickResponseHeaders(upstream: IncomingHttpHeaders, base: CreatioBase): OutgoingHeaders {
  const picked: OutgoingHeaders = { 'cache-control': 'no-store' };
  for (const name of RESPONSE_HEADERS) {
    const value = upstream[name];
    if (typeof value === 'string') picked[name] = value;
  }
  const location = upstream.location;
  if (typeof location === 'string') {
    const rewritten = rewriteLocation(location, base);
    if (rewritten !== undefined) picked.location = rewritten;
  }
  return picked;
}
