/**
 * Defence in depth behind the CSRF checks (csrf.ts): a request that changes state, or goes through the proxy, must
 * come from our own pages or from no page at all. Browsers say where a request comes from in `Sec-Fetch-Site`
 * (Fetch Metadata) and, for non-GET requests and CORS, in `Origin`; only `same-origin` and `none` (typed in the
 * address bar, a bookmark) pass. `same-site` does not: a sibling subdomain is another application. A request with
 * neither header (curl, scripts, old browsers) is left to the CSRF check, which still applies.
 * RFC 10017 (BFF: CSRF protection), ASVS v5.0.0-3.5.1.
 */
import type { RequestHandler } from 'express';
import type { Config } from '../config.ts';
import { BffError, ErrorCode } from '../errors.ts';

const ALLOWED_FETCH_SITES = new Set(['same-origin', 'none']);

export function requireSameOrigin(config: Pick<Config, 'appUrl'>): RequestHandler {
  const ownOrigin = new URL(config.appUrl).origin;
  return (req, _res, next) => {
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    if (site !== undefined ? ALLOWED_FETCH_SITES.has(site) : origin === undefined || origin === ownOrigin) {
      return next();
    }
    next(
      new BffError(ErrorCode.CrossOriginRequest, {
        logDetail: `${req.method} ${req.path} refused: Sec-Fetch-Site ${site ?? '(none)'}, Origin ${origin ?? '(none)'}`,
      }),
    );
  };
}
