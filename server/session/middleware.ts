/**
 * express-session configured for a BFF: an HttpOnly cookie of our own name, SameSite=Lax (the callback is a
 * top-level cross-site navigation, so Strict would drop the cookie there), Secure and `__Host-` on https, a sliding
 * idle timeout, and nothing saved for visitors who have not signed in.
 */
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { Config } from '../config.ts';
import type { SessionStorage } from './storage.ts';

export function createSessionMiddleware(config: Config, storage: SessionStorage): RequestHandler {
  return session({
    name: config.cookie.name,
    secret: [...config.sessionSecrets],
    store: storage.sessions,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    // No `proxy` option: express-session then asks req.secure, which honours X-Forwarded-Proto only from the
    // addresses TRUST_PROXY names. `proxy: true` would believe the header from anyone.
    // Not `unset: 'destroy'`: when the store cannot be read (Redis down or hung), express-session has no req.session
    // and would then delete the record at the end of the 503 — signing the user out once the store is back. Sessions
    // end through req.session.destroy() (sign-out) or the store's own expiry.
    unset: 'keep',
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.cookie.secure,
      path: '/',
      maxAge: storage.lifetime.idleMs,
    },
  });
}
