/**
 * GET /auth/login?returnTo=/local/path — starts the authorization-code flow.
 * A fresh state, nonce and PKCE verifier for every redirect, kept server-side under the state (so parallel
 * sign-ins in several tabs do not clobber each other); the browser carries the state and a cookie that binds the
 * login to it (login-binding.ts), so only this browser can finish it. The nonce goes out only with the openid
 * scope: it binds the ID token, and without openid there is none (OpenID providers refuse a nonce then).
 */
import type { RequestHandler } from 'express';
import * as oidc from 'openid-client';
import { toSafeReturnTo } from '../security/return-to.ts';
import type { AuthDeps } from './deps.ts';
import { createLoginBinding } from './login-binding.ts';

export function handleLogin({ config, storage, oidc: client }: AuthDeps): RequestHandler {
  const scope = config.scopes.join(' ');
  const openid = config.scopes.includes('openid');
  const binding = createLoginBinding(config);
  return async (req, res) => {
    const configuration = await client.getConfiguration();
    const state = oidc.randomState();
    const nonce = openid ? oidc.randomNonce() : undefined;
    const codeVerifier = oidc.randomPKCECodeVerifier();
    await storage.transactions.save({
      state,
      nonce,
      codeVerifier,
      returnTo: toSafeReturnTo(req.query.returnTo),
      browserBinding: binding.bind(req, res),
      createdAt: Date.now(),
    });
    const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: config.redirectUri,
      response_type: 'code',
      scope,
      state,
      ...(nonce && { nonce }),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    res.set('Cache-Control', 'no-store');
    res.redirect(302, authorizationUrl.href);
  };
}
