/**
 * GET /auth/callback — finishes the authorization-code flow.
 * find the transaction by `state` → only in the browser that started it (login-binding.ts) → take it (once) →
 * `error=` → a cookie this request can carry back → authorizationCodeGrant (state, PKCE, iss; nonce and ID-token
 * checks whenever an ID token comes back) → who signed in (identity.ts: from the ID token, userinfo, the access
 * token or Creatio) → a new session id (no fixation) → tokens stored server-side → 302 to the validated returnTo.
 * Every failure ends on a page that says what happened and what to check, and creates no session.
 *
 * The binding is checked before anything is consumed: a stranger who opens someone's callback URL — or just
 * `?error=access_denied&state=<theirs>` — must not be able to spoil that person's sign-in.
 */
import type { Request, RequestHandler, Response } from 'express';
import * as oidc from 'openid-client';
import { BffError, ErrorCode } from '../errors.ts';
import { noopMetrics, signInOutcome } from '../observability/metrics.ts';
import type { SessionUser } from '../session/store.ts';
import { toTokenSet } from '../session/token-store.ts';
import type { LoginTransaction } from '../session/transactions.ts';
import { recordSignIn } from '../session/user-sessions.ts';
import type { AuthDeps } from './deps.ts';
import { identifyUser } from './identity.ts';
import { createLoginBinding } from './login-binding.ts';
import { describeAnswer, isRefusal, tokenEndpointAnswer } from './token-endpoint-answer.ts';

/**
 * The authorization-response error codes of RFC 6749 §4.1.2.1, plus OpenID Connect Core §3.1.2.6's. Only these are
 * named on the page; anything else is shown generically, so a crafted link cannot put its own words ("your account
 * is locked, call …") on our page.
 */
const OAUTH_ERROR_CODES = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'interaction_required',
  'login_required',
  'account_selection_required',
  'consent_required',
  'invalid_request_uri',
  'invalid_request_object',
  'request_not_supported',
  'request_uri_not_supported',
  'registration_not_supported',
]);

/** What an `error=` in the callback means for the person, and what to check. */
function authorizationError(error: string, description: string | undefined, deps: AuthDeps): BffError {
  const logDetail = `authorization response error=${error}${description ? ` (${description})` : ''}`;
  switch (error) {
    case 'access_denied':
      // Creatio answers this both to "Cancel" and to a user who is not one of the application's permitted users.
      return new BffError(ErrorCode.AccessDenied, {
        message:
          'Creatio denied access: the sign-in was cancelled, or your user is not one of the permitted users of this application.',
        hint: `Sign in again if you cancelled. Otherwise ask your Creatio administrator to add your user to "Permitted users" of the integrated application with Client Id ${deps.config.clientId} (System Designer → OAuth 2.0 integrated applications) and to check that the application is Active.`,
        logDetail,
      });
    case 'invalid_client':
    case 'unauthorized_client':
      return new BffError(ErrorCode.IdentityServiceError, {
        status: 401,
        message: 'The Identity Service does not accept this application as a client.',
        hint: `Check OAUTH_CLIENT_ID (${deps.config.clientId}) against the integrated application in Creatio, that the application is Active, and that it allows the authorization code grant.`,
        logDetail,
      });
    case 'invalid_request':
    case 'invalid_redirect_uri':
      return new BffError(ErrorCode.InvalidCallback, {
        message: 'The Identity Service rejected the sign-in request.',
        hint: `Check that the redirect URL ${deps.config.redirectUri} is listed exactly (scheme, host, port, path, trailing slash) in the integrated application's "Authorized redirect URIs". /diagnostics checks it.`,
        logDetail,
      });
    case 'invalid_scope':
      return new BffError(ErrorCode.InvalidCallback, {
        message: 'The Identity Service does not allow the requested scopes.',
        hint: deps.config.scopes.includes('openid')
          ? `Creatio may not grant openid to this application: remove openid from OAUTH_SCOPES (${deps.config.scopes.join(' ')}); sign-in works without an ID token. Otherwise check the other scopes against the integrated application's ApplicationAccess_<id> resource (see /diagnostics).`
          : `Check OAUTH_SCOPES (${deps.config.scopes.join(' ')}) against the scopes the Identity Service supports and the integrated application's ApplicationAccess_<id> resource (see /diagnostics).`,
        logDetail,
      });
    default:
      return new BffError(ErrorCode.InvalidCallback, {
        message: OAUTH_ERROR_CODES.has(error)
          ? `The Identity Service answered the sign-in with "${error}".`
          : 'The Identity Service answered the sign-in with an error.',
        hint: 'Start the sign-in again. If it keeps failing, /diagnostics checks the configuration.',
        logDetail,
      });
  }
}

/**
 * Failures of the code exchange and of the ID-token checks. A refusal says what the Identity Service answered and
 * what each of its possible causes would need; only no answer (or a 5xx) is an outage.
 */
function exchangeError(cause: unknown, deps: AuthDeps): BffError {
  if (cause instanceof BffError) return cause;
  const answer = tokenEndpointAnswer(cause);
  if (answer) {
    const said = `The Identity Service refused the code exchange (${describeAnswer(answer)}).`;
    const logDetail = `token endpoint answered ${describeAnswer(answer)}${answer.description ? ` (${answer.description})` : ''}`;
    if (!isRefusal(answer)) {
      return new BffError(ErrorCode.IdentityServiceUnavailable, {
        cause,
        hint: 'The Identity Service failed while finishing the sign-in. Try again; if it persists, /readyz and /diagnostics say more.',
        logDetail,
      });
    }
    if (answer.error === 'invalid_client') {
      return new BffError(ErrorCode.IdentityServiceError, {
        status: 401,
        cause,
        message: `${said} It does not accept this application’s client credentials.`,
        hint: 'Check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET against the integrated application in Creatio, and that it is Active.',
        logDetail,
      });
    }
    if (answer.error === 'unauthorized_client') {
      // glewlwyd answers this for a wrong secret and for a redirect_uri the client does not have; IdentityServer for
      // a client without the authorization-code grant. The answer alone cannot tell which, so name all three.
      return new BffError(ErrorCode.IdentityServiceError, {
        status: 401,
        cause,
        message: `${said} The client is not allowed to exchange this code.`,
        hint: `Check, in the integrated application in Creatio: that OAUTH_CLIENT_SECRET is its current client secret; that the redirect URL ${deps.config.redirectUri} is registered exactly for OAUTH_CLIENT_ID (${deps.config.clientId}); and that it allows the authorization code grant. npm run doctor checks the redirect URL.`,
        logDetail,
      });
    }
    if (answer.error === 'invalid_grant') {
      // IdentityServer matches the redirect URI ignoring case at /authorize but exactly at /token: a registration
      // that differs only in case lets every sign-in start and then fails every code exchange, here.
      return new BffError(ErrorCode.InvalidCallback, {
        cause,
        message: `The sign-in code could not be exchanged: it was already used, has expired, or the redirect URL does not match the registered one exactly (the Identity Service answered ${describeAnswer(answer)}).`,
        hint: `Start the sign-in again. If every sign-in ends here, compare ${deps.config.redirectUri} with the integrated application's "Authorized redirect URIs" character by character, upper and lower case included: the Identity Service accepts a case-only difference when the sign-in starts and refuses it here. Make them identical (OAUTH_REDIRECT_URI or APP_URL, or the registration); the doctor flags it.`,
        logDetail,
      });
    }
    return new BffError(ErrorCode.InvalidCallback, {
      cause,
      message: `The sign-in code could not be exchanged: it was already used, has expired, or was issued for another redirect URL (the Identity Service answered ${describeAnswer(answer)}).`,
      hint: 'Start the sign-in again.',
      logDetail,
    });
  }
  // openid-client says "invalid response encountered"; the missing property is named in its cause.
  if (
    (cause as { code?: unknown })?.code === 'OAUTH_INVALID_RESPONSE' &&
    /"id_token"/.test(`${(cause as Error).message} ${((cause as Error).cause as Error | undefined)?.message}`)
  ) {
    return new BffError(ErrorCode.InvalidCallback, {
      cause,
      message: 'The Identity Service sent no ID token although the openid scope was requested.',
      hint: 'Remove openid from OAUTH_SCOPES: sign-in works without an ID token (the user is then named by userinfo, the access token or Creatio).',
      logDetail: 'the token response has no id_token although openid was requested',
    });
  }
  if (
    cause instanceof TypeError ||
    (cause as Error)?.name === 'TimeoutError' ||
    (cause as Error)?.name === 'AbortError'
  ) {
    return new BffError(ErrorCode.IdentityServiceUnavailable, {
      cause,
      hint: 'The Identity Service did not answer the code exchange. Try again; if it persists, /readyz and /diagnostics say more.',
      logDetail: `code exchange failed: ${(cause as Error).message}`,
    });
  }
  // openid-client's own checks: iss, nonce, ID-token signature, audience, expiry.
  return new BffError(ErrorCode.InvalidCallback, {
    cause,
    message: 'The sign-in response failed a security check and was not accepted.',
    hint: 'Start the sign-in again. If it keeps failing, check the clock of this server and OAUTH_ISSUER (see /diagnostics).',
    logDetail: `callback validation failed: ${(cause as Error)?.message}`,
  });
}

function callbackUrl(req: Request, redirectUri: string): URL {
  // The redirect URI comes from configuration, the query from the request: a proxy or path rewrite in front of the
  // app cannot change what is sent back to the token endpoint as redirect_uri.
  const url = new URL(redirectUri);
  const query = req.originalUrl.indexOf('?');
  url.search = query >= 0 ? req.originalUrl.slice(query) : '';
  return url;
}

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Refused before anything is consumed: the transaction stays for the browser that started it. */
function notThisBrowsersLogin(
  state: string | undefined,
  transaction: LoginTransaction | undefined,
): BffError {
  if (!state) {
    return new BffError(ErrorCode.InvalidCallback, {
      message: 'This is not a valid sign-in response: it has no state.',
      hint: 'Start the sign-in again from the home page.',
      logDetail: 'callback without state',
    });
  }
  if (!transaction) {
    return new BffError(ErrorCode.InvalidCallback, {
      message:
        'This sign-in response was already used or has expired (sign-ins must finish within 10 minutes).',
      hint: 'Start the sign-in again from the home page.',
      logDetail: 'callback with an unknown, used or expired state',
    });
  }
  return new BffError(ErrorCode.InvalidCallback, {
    message: 'This sign-in response was started in another browser, so it was not accepted.',
    hint: 'Start the sign-in again in this browser. Never follow a sign-in link someone else sent you: it could sign you in to their account.',
    logDetail:
      'callback from a browser that did not start the login (login CSRF, or the binding cookie was lost)',
  });
}

/**
 * express-session sets a Secure cookie only on a request it sees as https. Behind a TLS proxy that needs
 * TRUST_PROXY (so that X-Forwarded-Proto counts); without it the browser would come back signed out while a session
 * and a token set nobody holds stayed behind. Checked before the code is exchanged, so no token is even issued.
 */
function sessionCookieBlocked(deps: AuthDeps): BffError {
  return new BffError(ErrorCode.SessionCookieBlocked, {
    message:
      'You signed in at the Identity Service, but this server cannot set its session cookie: the request reached it as http while APP_URL is https.',
    hint: `The administrator must set TRUST_PROXY to the address of the TLS proxy in front of this server (e.g. TRUST_PROXY=10.0.0.5, or TRUST_PROXY=loopback) and have the proxy send X-Forwarded-Proto: https. APP_URL is ${deps.config.appUrl}.`,
    logDetail:
      'callback over http with a Secure session cookie: TRUST_PROXY is off or X-Forwarded-Proto is not https; nothing was exchanged or stored',
  });
}

export function handleCallback(deps: AuthDeps): RequestHandler {
  const { config, storage, oidc: client, logger, metrics = noopMetrics } = deps;
  const binding = createLoginBinding(config);
  return async (req, res) => {
    const state = text(req.query.state);
    const found = state ? await storage.transactions.peek(state) : undefined;
    if (!found || !binding.isBound(req, found.browserBinding)) {
      metrics.signIn(found ? 'wrong_browser' : 'invalid_state');
      throw notThisBrowsersLogin(state, found);
    }
    // From here on the response belongs to this browser's login: use it up, whatever it says.
    const transaction = await storage.transactions.take(found.state);
    if (!transaction) {
      metrics.signIn('invalid_state');
      throw notThisBrowsersLogin(state, undefined); // another tab of this browser was first
    }
    try {
      await finish(req, res, transaction);
      metrics.signIn('ok');
    } catch (err) {
      metrics.signIn(signInOutcome(err));
      // "Sign in again" on the error page should lead back where this browser's sign-in was going.
      if (err instanceof BffError) err.returnTo = transaction.returnTo;
      throw err;
    }
  };

  async function finish(req: Request, res: Response, transaction: LoginTransaction): Promise<void> {
    const error = text(req.query.error);
    if (error) throw authorizationError(error, text(req.query.error_description), deps);
    if (config.cookie.secure && !req.secure) throw sessionCookieBlocked(deps);

    const configuration = await client.getConfiguration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      // With openid asked for (a nonce was sent), the ID token is due and must carry the nonce. Without it, an ID
      // token that comes anyway is still checked (signature, issuer, audience, expiry, and no nonce).
      tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl(req, config.redirectUri), {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: transaction.nonce !== undefined,
      });
    } catch (cause) {
      throw exchangeError(cause, deps);
    }

    const user: SessionUser = await identifyUser({ config, configuration, tokens, logger, reqId: req.id });

    // Signing in over a live session: the previous grant must not outlive its session record. Revoking is best
    // effort (the sign-in in hand matters more); the token set goes either way.
    if (req.session.user) {
      const previous = await storage.tokens.get(req.sessionID);
      if (previous?.refreshToken) {
        await oidc
          .tokenRevocation(configuration, previous.refreshToken, { token_type_hint: 'refresh_token' })
          .catch((err: Error) =>
            logger.warn({ reqId: req.id, detail: err.message }, 'revoking the previous grant failed'),
          );
      }
      await storage.tokens.delete(req.sessionID);
    }
    await regenerate(req);
    req.session.user = user;
    req.session.signedInAt = Date.now();
    req.session.idpSessionId = text(tokens.claims()?.sid);
    // The token set lives as long as the session (store.ts keeps the two together from here on).
    await storage.tokens.set(req.sessionID, toTokenSet(tokens), storage.sessions.ttlMs(req.session));
    await save(req);
    await recordSignIn(storage, req);

    logger.info({ reqId: req.id, sub: user.sub }, 'signed in');
    res.set('Cache-Control', 'no-store');
    res.redirect(302, transaction.returnTo);
  }
}
