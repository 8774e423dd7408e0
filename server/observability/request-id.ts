/**
 * The request id: taken from the caller's X-Request-Id when it looks like one (a load balancer or the browser
 * app set it, so its logs and ours join up), otherwise a fresh UUID. Returned in the response and sent on to
 * Creatio by the proxy, so Creatio's log can be joined too.
 *
 * Only short ids of URL-safe and base64 characters are taken: the value goes into our log lines and into a header
 * to Creatio, so nothing long, no spaces, quotes or control characters.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:=+/-]{1,128}$/;

export function requestIdFrom(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
