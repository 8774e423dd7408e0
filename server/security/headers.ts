/**
 * helmet with a CSP for pages that load only our own scripts and styles (no inline script anywhere). form-action
 * must name the Identity Service: the sign-out form posts to us and we redirect it to the end-session endpoint, and
 * browsers apply form-action to that redirect too.
 */
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config.ts';

export function createSecurityHeaders(config: Config): RequestHandler {
  const identityServiceOrigin = new URL(config.identityServiceUrl).origin;
  const https = new URL(config.appUrl).protocol === 'https:';
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // blob: for images read through the proxy (it needs X-CSRF, so an <img src> cannot point at it).
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'", identityServiceOrigin],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        // On plain http (the sandbox, localhost) upgrading would break every request.
        upgradeInsecureRequests: https ? [] : null,
      },
    },
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // DENY agrees with frame-ancestors 'none' (SAMEORIGIN, helmet's default, would contradict it).
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });
}

/**
 * The header set for /api, which is mounted before helmet: its answers are JSON or Creatio's bytes, never a page,
 * so a handful of fixed headers says all that helmet's sixteen would. Computed once; set without allocating.
 */
export function createApiSecurityHeaders(config: Config): RequestHandler {
  const headers: [string, string][] = [
    // A proxied body is Creatio's; nothing in it may run or be framed as a document of ours.
    ['content-security-policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"],
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['referrer-policy', 'no-referrer'],
    ['cross-origin-resource-policy', 'same-origin'],
  ];
  if (new URL(config.appUrl).protocol === 'https:') {
    headers.push(['strict-transport-security', 'max-age=31536000; includeSubDomains']);
  }
  return function apiSecurityHeaders(_req, res, next) {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
