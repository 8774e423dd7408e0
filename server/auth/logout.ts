/**
 * POST /auth/logout — revoke the refresh token, end the session here, then send the browser to the Identity
 * Service's end-session endpoint (RP-initiated logout) so the single sign-on session ends too.
 * A form post gets a 303 redirect; a fetch (X-CSRF: 1) gets {logoutUrl} and navigates itself.
 */
import type { RequestHandler } from 'express';
import * as oidc from 'openid-client';
import { CSRF_HEADER } from '../security/csrf.ts';
import type { AuthDeps } from './deps.ts';

/** Nothing to end: a stale page's sign-out button still lands somewhere sensible, without a CSRF error. */
export const skipWhenSignedOut: RequestHandler = (req, res, next) => {
  if (req.session.user) return next();
  res.set('Cache-Control', 'no-store');
  if (req.get(CSRF_HEADER)) res.json({ logoutUrl: '/' });
  else res.redirect(303, '/');
};

export function handleLogout({ config, storage, oidc: client, logger }: AuthDeps): RequestHandler {
  return async (req, res) => {
    const sessionId = req.sessionID;
    const tokens = req.session.user ? await storage.tokens.get(sessionId) : undefined;
    let logoutUrl = '/';

    try {
      const configuration = await client.getConfiguration();
      if (tokens?.refreshToken) {
        await oidc.tokenRevocation(configuration, tokens.refreshToken, { token_type_hint: 'refresh_token' });
      }
      if (configuration.serverMetadata().end_session_endpoint) {
        // state is optional in RP-Initiated Logout 1.0, but some Identity Services (glewlwyd) only honour
        // post_logout_redirect_uri when it is present. Nothing reads it back: the landing page needs no state.
        const params: Record<string, string> = {
          post_logout_redirect_uri: config.postLogoutRedirectUri,
          state: oidc.randomState(),
        };
        if (tokens?.idToken) params.id_token_hint = tokens.idToken;
        logoutUrl = oidc.buildEndSessionUrl(configuration, params).href;
      }
    } catch (err) {
      // The local session ends whatever the Identity Service says; the refresh token then expires on its own.
      logger.warn(
        { reqId: req.id, detail: (err as Error).message },
        'revocation or end-session lookup failed',
      );
    }

    if (req.session.user) logger.info({ reqId: req.id, sub: req.session.user.sub }, 'signed out');
    // The token set, then the session record through this request's own session: destroying it via req.session
    // (not only in the store) detaches the request, so express-session (rolling cookies) neither sends the old
    // cookie again after the clearCookie below nor writes the record back.
    await storage.tokens.delete(sessionId);
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((err) => (err ? reject(err) : resolve())),
    );
    res.clearCookie(config.cookie.name, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: config.cookie.secure,
    });
    res.set('Cache-Control', 'no-store');
    if (req.get(CSRF_HEADER)) {
      res.json({ logoutUrl });
      return;
    }
    res.redirect(303, logoutUrl);
  };
}
