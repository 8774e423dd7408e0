/**
 * Guards for signed-in routes. APIs answer 401 JSON; pages send the person to sign in and back.
 */
import type { RequestHandler } from 'express';
import { BffError, ErrorCode } from '../errors.ts';

export const requireSession: RequestHandler = (req, _res, next) => {
  if (req.session?.user) return next();
  next(new BffError(ErrorCode.Unauthenticated));
};

export const requireSessionOrSignIn: RequestHandler = (req, res, next) => {
  if (req.session?.user) return next();
  res.redirect(302, `/auth/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
};

/** The /api guard: the session found by session/api-session.ts, which only sets it for a signed-in session. */
export const requireApiSession: RequestHandler = (req, _res, next) => {
  if (req.apiSession?.user) return next();
  next(new BffError(ErrorCode.Unauthenticated));
};
