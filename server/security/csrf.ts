/**
 * Cross-site request forgery defences.
 * - API calls (fetch from our pages) must carry `X-CSRF: 1`. A cross-site form cannot set a custom header, and a
 *   cross-site fetch that sets one needs a CORS preflight we never answer, so the header proves same-origin.
 * - The UI's plain form posts (sign out) carry a per-session synchroniser token instead.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { BffError, ErrorCode } from '../errors.ts';

export const CSRF_HEADER = 'x-csrf';
export const CSRF_FORM_FIELD = '_csrf';

export const requireCsrfHeader: RequestHandler = (req, _res, next) => {
  if (req.get(CSRF_HEADER) === '1') return next();
  next(
    new BffError(ErrorCode.CsrfHeaderMissing, { logDetail: `${req.method} ${req.path} without X-CSRF: 1` }),
  );
};

/** The session's synchroniser token, created on first use. Only signed-in sessions have one. */
export function ensureCsrfToken(req: Request): string | undefined {
  if (!req.session?.user) return undefined;
  req.session.csrfToken ??= randomBytes(32).toString('base64url');
  return req.session.csrfToken;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Accepts either the header (fetch) or the form token (a plain form post); needs a body parser before it. */
export const requireCsrfHeaderOrFormToken: RequestHandler = (req, _res, next) => {
  if (req.get(CSRF_HEADER) === '1') return next();
  const sent = (req.body as Record<string, unknown> | undefined)?.[CSRF_FORM_FIELD];
  const expected = req.session?.csrfToken;
  if (typeof sent === 'string' && expected && sameToken(sent, expected)) return next();
  next(
    new BffError(ErrorCode.CsrfTokenInvalid, {
      logDetail: `${req.method} ${req.path} without a valid CSRF token`,
    }),
  );
};
