/**
 * GET /auth/session — who is signed in, for the browser UI. The response type has no field for a token, so none
 * can slip in.
 */
import type { RequestHandler } from 'express';
import type { SessionUser } from '../session/store.ts';
import type { AuthDeps } from './deps.ts';

export type SessionInfo =
  | { authenticated: false }
  | { authenticated: true; user: SessionUser; expiresAt: number };

export function handleSessionInfo({ storage }: AuthDeps): RequestHandler {
  return (req, res) => {
    res.set('Cache-Control', 'no-store');
    const user = req.session.user;
    if (!user) {
      res.json({ authenticated: false } satisfies SessionInfo);
      return;
    }
    const expiresAt = Date.now() + storage.sessions.ttlMs(req.session);
    res.json({
      authenticated: true,
      user: { sub: user.sub, name: user.name, email: user.email },
      expiresAt,
    } satisfies SessionInfo);
  };
}
