/**
 * Bearer-token authentication for the Creatio stand-in, as a resource server does it (RFC 6750): the access token
 * is a JWT from the Identity Service, checked against its JWKS for signature (RS256), issuer, audience (Creatio's
 * URL) and expiry. A missing token is a 401 with a bare `Bearer` challenge; a bad one adds
 * `error="invalid_token"` and a description, so a client can tell "sign in" from "refresh and retry".
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import type { ClientRegistry } from '../client-registry.ts';
import type { CreatioFaults } from '../stats.ts';
import { technicalUser } from '../users.ts';
import { sendODataError } from './errors.ts';
import type { Principal } from './records.ts';

export interface BearerOptions {
  /** Issuer base URL without a trailing slash; the JWKS is at `<url>/.well-known/openid-configuration/jwks`. */
  readonly identityServiceUrl: string;
  /** Creatio's base URL: the audience the tokens are issued for. */
  readonly creatioUrl: string;
  readonly registry: ClientRegistry;
  readonly faults: CreatioFaults;
  /**
   * Another Identity Service whose tokens this stand-in accepts instead of the sandbox's (the interop tests run the
   * BFF against glewlwyd). Its audience is not checked: such providers put the client id or the scopes there, not
   * Creatio's URL.
   */
  readonly tokenIssuer?: TokenIssuer;
  /**
   * Creatio 8.3+: a user's token reaches the APIs only with its application's `ApplicationAccess_<id>` scope
   * (client id → scope). Tokens of other clients and client-credentials tokens are not checked.
   */
  readonly requiredScopes?: Readonly<Record<string, string>>;
}

export interface TokenIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
}

/** The principal of a request that passed `requireBearerToken`. */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Why a token was refused, in words safe to show: no claim values, nothing from the token itself. */
function describeRejection(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'The audience is invalid';
    if (error.claim === 'iss') return 'The issuer is invalid';
    return `The token claim ${error.claim} is invalid`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The signature is invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'The signature key was not found';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The signing algorithm is not allowed';
  if (error instanceof errors.JWKSTimeout)
    return 'The signing keys of the Identity Service could not be fetched';
  return 'The access token is invalid';
}

function rejectToken(res: Response, description: string): void {
  res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${description}"`);
  sendODataError(res, 401, `Authentication failed: ${description}.`);
}

/**
 * Returns the middleware that admits a request only with a valid bearer token and sets its principal. The JWKS is
 * fetched lazily, once, and cached by jose (refetched when a token names an unknown key), not per request.
 */
/** The ApplicationAccess scope a user's token lacks, if its client has one (see BearerOptions.requiredScopes). */
function missingApplicationAccess(
  claims: JWTPayload,
  requiredScopes: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : undefined;
  const required = clientId ? requiredScopes?.[clientId] : undefined;
  if (!required || !claims.sub || claims.sub === clientId) return undefined;
  const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  return granted.includes(required) ? undefined : required;
}

export function createBearerAuthentication(options: BearerOptions): RequestHandler {
  const issuer = withoutTrailingSlash(options.identityServiceUrl);
  const creatioUrl = withoutTrailingSlash(options.creatioUrl);
  const { tokenIssuer } = options;
  const jwks = createRemoteJWKSet(
    new URL(tokenIssuer?.jwksUrl ?? `${issuer}/.well-known/openid-configuration/jwks`),
  );
  const verifyOptions = tokenIssuer
    ? { issuer: tokenIssuer.issuer, algorithms: ['RS256'] }
    : { issuer, audience: [creatioUrl, `${creatioUrl}/`], algorithms: ['RS256'] };

  /**
   * A user's token names the user in `sub`. A client-credentials token acts as the client's technical user (the
   * integrated application's "System user"), so `sub` is absent or the client id and the registry says who it is.
   */
  function toPrincipal(claims: JWTPayload): Principal | undefined {
    const clientId = typeof claims.client_id === 'string' ? claims.client_id : undefined;
    const userId =
      claims.sub && claims.sub !== clientId
        ? claims.sub
        : clientId
          ? options.registry.get(clientId)?.systemUserId
          : undefined;
    if (!userId) return undefined;
    return { userId, isSystemAdministrator: userId.toLowerCase() === technicalUser.sub.toLowerCase() };
  }

  return async function requireBearerToken(req: Request, res: Response, next: NextFunction): Promise<void> {
    const match = /^Bearer +(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      sendODataError(
        res,
        401,
        'Authentication required: send an access token as "Authorization: Bearer <token>".',
      );
      return;
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(match[1] as string, jwks, verifyOptions));
    } catch (error) {
      rejectToken(res, describeRejection(error));
      return;
    }
    const principal = toPrincipal(claims);
    if (!principal) {
      rejectToken(res, 'The token names no user and no known client');
      return;
    }
    const missingScope = missingApplicationAccess(claims, options.requiredScopes);
    if (missingScope) {
      res.set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${missingScope}"`);
      sendODataError(
        res,
        403,
        `The access token does not grant access to this application's data: request the scope ${missingScope}.`,
      );
      return;
    }
    res.locals.principal = principal;
    if (options.faults.reject401Count > 0) {
      options.faults.reject401Count--;
      rejectToken(res, 'The access token is invalid (sandbox fault injection)');
      return;
    }
    next();
  };
}
