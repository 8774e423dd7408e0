/**
 * POST /auth/backchannel-logout — OpenID Connect Back-Channel Logout 1.0. The Identity Service calls it server to
 * server when a user signs out there (or an administrator ends their sessions): no cookie, no CSRF header, a form
 * with one `logout_token`. The token is validated as §2.6 says; then every session of that Identity Service session
 * (`sid`) — or, with only `sub`, every session of that user — ends on every instance, because the session records
 * live in the shared store. Nothing is revoked: the Identity Service has already ended the grant.
 *
 * 200 with Cache-Control: no-store, or 400 {error: "invalid_request"}; why a token was refused goes to the log only
 * (§2.8), so the answer teaches a forger nothing.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { BffError, ErrorCode } from '../errors.ts';
import { storageKey } from '../session/crypto.ts';
import type { IndexEntry } from '../session/session-index.ts';
import { endIndexedSession } from '../session/user-sessions.ts';
import type { AuthDeps } from './deps.ts';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Clocks of the Identity Service and this server may disagree a little; no more. */
const CLOCK_SKEW_SECONDS = 60;
/** A logout token is sent the moment the user signs out; an older one is a replay, whatever its `exp` says. */
const MAX_TOKEN_AGE_SECONDS = 10 * 60;
/** A logout token is about 1 kB; the body limit leaves room and no more. */
const BODY_LIMIT = '16kb';

const parseForm = express.urlencoded({ extended: false, limit: BODY_LIMIT });

class InvalidLogoutToken extends Error {}

export function handleBackchannelLogout({ config, storage, oidc: client, logger }: AuthDeps): RequestHandler {
  let jwks: { uri: string; keys: ReturnType<typeof createRemoteJWKSet> } | undefined;

  /** The Identity Service's keys from the jwks_uri discovery found; jose refetches when a token names a new `kid`. */
  function keysAt(uri: string) {
    if (jwks?.uri !== uri) {
      jwks = { uri, keys: createRemoteJWKSet(new URL(uri), { timeoutDuration: config.httpTimeoutMs }) };
    }
    return jwks.keys;
  }

  async function validate(logoutToken: string): Promise<JWTPayload> {
    // Something that is not a signed JWT is invalid whatever the keys are: refused before the Identity Service is
    // asked, so an unreachable one does not turn a bad request into 503 (which tells the sender to try again).
    try {
      decodeProtectedHeader(logoutToken);
      decodeJwt(logoutToken);
    } catch {
      throw new InvalidLogoutToken('not a JWT: the header or the claims do not decode');
    }
    const metadata = (await client.getConfiguration()).serverMetadata();
    if (!metadata.jwks_uri) throw new InvalidLogoutToken('the Identity Service advertises no jwks_uri');
    // Only what the Identity Service says it signs ID tokens with (OIDC's default: RS256); never `none`, and no
    // HMAC either (a shared-secret signature would need the client secret, and the secret is not a key set).
    const algorithms = (metadata.id_token_signing_alg_values_supported ?? ['RS256']).filter(
      (alg) => alg !== 'none' && !alg.startsWith('HS'),
    );
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(logoutToken, keysAt(metadata.jwks_uri), {
        algorithms,
        // discovery already matched the issuer against OAUTH_ISSUER when it is set (auth/client.ts)
        issuer: metadata.issuer,
        audience: config.clientId,
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        clockTolerance: CLOCK_SKEW_SECONDS,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) throw err;
      throw new InvalidLogoutToken(`${err.code}: ${err.message}`);
    }

    const events = payload.events as Record<string, unknown> | undefined;
    const event = events?.[BACKCHANNEL_LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new InvalidLogoutToken(`events has no ${BACKCHANNEL_LOGOUT_EVENT} object`);
    }
    if (payload.nonce !== undefined) {
      throw new InvalidLogoutToken('a logout token must not contain a nonce (is this an ID token?)');
    }
    if (!isText(payload.sid) && !isText(payload.sub)) throw new InvalidLogoutToken('neither sid nor sub');
    if (!isText(payload.jti)) throw new InvalidLogoutToken('jti is not a string');
    return payload;
  }

  /** true the first time this `jti` is seen by any instance, for as long as the token could be accepted. */
  async function firstUse(payload: JWTPayload): Promise<boolean> {
    const iat = payload.iat as number;
    const acceptableUntil = Math.min(payload.exp ?? Number.POSITIVE_INFINITY, iat + MAX_TOKEN_AGE_SECONDS);
    const ttlMs = Math.max(1_000, (acceptableUntil + CLOCK_SKEW_SECONDS) * 1000 - Date.now());
    return storage.backend.setIfAbsent(storageKey('logout-jti', `${payload.iss} ${payload.jti}`), '1', ttlMs);
  }

  /**
   * With a `sid`: the sessions signed in through that Identity Service session (and of that `sub`, when given). A
   * session whose ID token carried no `sid` cannot be told apart, so a token naming its user ends it too: leaving
   * it signed in after its user signed out would be the worse mistake. With only `sub`: all of that user's.
   */
  async function sessionsToEnd({ sid, sub }: JWTPayload): Promise<IndexEntry[]> {
    if (!isText(sid)) return storage.index.ofUser(sub as string);
    const bySid = (await storage.index.ofIdpSession(sid)).filter(
      (entry) => !isText(sub) || entry.sub === sub,
    );
    const withoutSid = isText(sub)
      ? (await storage.index.ofUser(sub)).filter((entry) => entry.idpSessionId === undefined)
      : [];
    return [...bySid, ...withoutSid];
  }

  function refuse(req: Request, res: Response, reason: string): void {
    logger.warn({ reqId: req.id, detail: reason }, 'back-channel logout refused');
    res.set('Cache-Control', 'no-store');
    res.status(400).json({ error: 'invalid_request', message: 'The logout token was not accepted.' });
  }

  async function handle(req: Request, res: Response): Promise<void> {
    if (!req.is('application/x-www-form-urlencoded')) return refuse(req, res, 'body is not a form');
    const logoutToken = (req.body as Record<string, unknown> | undefined)?.logout_token;
    if (!isText(logoutToken)) return refuse(req, res, 'no logout_token in the form');

    let payload: JWTPayload;
    try {
      payload = await validate(logoutToken);
    } catch (err) {
      if (err instanceof InvalidLogoutToken) return refuse(req, res, err.message);
      if (err instanceof BffError) throw err;
      throw new BffError(ErrorCode.IdentityServiceUnavailable, {
        cause: err,
        logDetail: `back-channel logout: the Identity Service's keys could not be fetched: ${(err as Error).message}`,
      });
    }
    if (!(await firstUse(payload))) return refuse(req, res, 'jti already used (replay)');

    const entries = await sessionsToEnd(payload);
    for (const entry of entries) await endIndexedSession(storage, entry);
    logger.info(
      { reqId: req.id, sub: payload.sub, by: isText(payload.sid) ? 'sid' : 'sub', sessions: entries.length },
      'back-channel logout',
    );
    res.set('Cache-Control', 'no-store');
    res.status(200).end();
  }

  return (req, res, next) => {
    parseForm(req, res, (err?: unknown) => {
      if (err) return refuse(req, res, `unreadable body: ${(err as Error).message}`);
      handle(req, res).catch(next);
    });
  };
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
