/**
 * The sign-in surface in one table, mounted at /auth.
 */
import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { BffError, ErrorCode } from '../errors.ts';
import { requireCsrfHeader, requireCsrfHeaderOrFormToken } from '../security/csrf.ts';
import { requireSession } from '../security/require-session.ts';
import { requireSameOrigin } from '../security/same-origin.ts';
import { handleBackchannelLogout } from './backchannel-logout.ts';
import { handleCallback } from './callback.ts';
import type { AuthDeps } from './deps.ts';
import { handleLogin } from './login.ts';
import { handleLogout, skipWhenSignedOut } from './logout.ts';
import { handleSessionInfo } from './session-info.ts';
import { handleEndSession, handleListSessions } from './user-sessions-api.ts';

export function createAuthRouter(deps: AuthDeps): Router {
  const router = Router();
  // Each login stores a transaction server-side; a cap per client address keeps a flood from filling the store
  // (and LoginTransactions caps them all). The address is req.ip: behind a proxy, TRUST_PROXY must name the proxy,
  // or a client could choose its own address with X-Forwarded-For.
  const loginLimit = rateLimit({
    windowMs: 60_000,
    limit: deps.config.loginRateLimit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // config.ts warns about TRUST_PROXY=true once at start-up; no need for a second warning per request.
    validate: { trustProxy: false },
    handler: (_req, _res, next) => next(new BffError(ErrorCode.RateLimited)),
  });
  const formBody = express.urlencoded({ extended: false, limit: '4kb' });

  router.get('/login', loginLimit, handleLogin(deps));
  // No per-address limit on the callback: it does work only for a login this browser started (a rate-limited
  // /auth/login), and a shared budget let users behind one NAT lock each other out of finishing their sign-ins.
  router.get('/callback', handleCallback(deps));
  const sameOrigin = requireSameOrigin(deps.config);
  router.post(
    '/logout',
    sameOrigin,
    formBody,
    skipWhenSignedOut,
    requireCsrfHeaderOrFormToken,
    handleLogout(deps),
  );
  router.get('/session', handleSessionInfo(deps));
  // Server to server from the Identity Service: no cookie, no CSRF header; parses its own small form body.
  router.post('/backchannel-logout', handleBackchannelLogout(deps));
  // "Your sessions": the signed-in user's own sessions, named by opaque handles.
  router.get('/sessions', requireSession, handleListSessions(deps));
  router.delete('/sessions/:handle', sameOrigin, requireCsrfHeader, requireSession, handleEndSession(deps));
  return router;
}
