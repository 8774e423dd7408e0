/**
 * The sandbox's stand-in for Creatio's Identity Service (an IdentityServer site), built on oidc-provider.
 *
 * What an app sees is what it would see from the real one: IdentityServer's paths under /connect, PKCE (S256),
 * redirect URIs matched like IdentityServer (case-insensitively at /authorize, exactly at /token), JWT access tokens
 * for the Creatio resource that carry the application's `ApplicationAccess_<id>` scope when it was asked for, refresh
 * tokens that are rotated on every use, clients read from the "OAuth 2.0 integrated applications" registry on every
 * request (public clients and "Permitted users" included), back-channel logout.
 *
 * Two switches model what Creatio's documentation leaves open: `basePath` serves everything below the Creatio host
 * (8.3+: `<CREATIO_URL>/0/connect/*`), and `refuseOpenId` makes the application's allowed scopes lack `openid` (an
 * authorization request with it then comes back with invalid_scope, and a sign-in without it has no ID token).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestListener } from 'node:http';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify } from 'jose';
import Provider, {
  type ClientMetadata,
  type Configuration,
  errors,
  type Grant,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import type { ClientRegistry, RegisteredClient } from './client-registry.ts';
import {
  PAGE_SECURITY_HEADERS,
  renderErrorPage,
  renderLoggedOutPage,
  renderLoginPage,
  renderLogoutPage,
} from './login-page.ts';
import { createProviderStorage } from './provider-storage.ts';
import type { SandboxStats } from './stats.ts';
import { type DemoUser, demoUsers, findUserBySub, findUserByUsername } from './users.ts';

export interface IdentityServiceOptions {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:5000 */
  readonly issuer: string;
  /** The Creatio stand-in's base URL: the audience (resource) of every access token. */
  readonly creatioUrl: string;
  readonly registry: ClientRegistry;
  readonly stats: SandboxStats;
  readonly accessTokenTtlSeconds: number;
  /** An RS256 private key (JWK with kid) instead of a fresh one: for tests that sign tokens as this service would. */
  readonly signingKey?: JWK;
  /** The OAuth resources' scopes (Creatio: `ApplicationAccess_<id>`), granted on request like the OpenID ones. */
  readonly resourceScopes: readonly string[];
  /** Where the service is mounted below its host: '' (own host, the `-is` layout) or '/0' (on the Creatio host). */
  readonly basePath: string;
  /** The integrated applications may not have the openid scope (Creatio does not document that they do). */
  readonly refuseOpenId: boolean;
}

export interface IdentityService {
  /** The request listener of the Identity Service's http server. */
  readonly callback: RequestListener;
  readonly provider: Provider;
}

/** IdentityServer's endpoint paths; discovery itself is always /.well-known/openid-configuration. */
const ROUTES = Object.freeze({
  authorization: '/connect/authorize',
  token: '/connect/token',
  userinfo: '/connect/userinfo',
  revocation: '/connect/revocation',
  end_session: '/connect/endsession',
  introspection: '/connect/introspect',
  jwks: '/.well-known/openid-configuration/jwks',
});

/** The claims each scope releases, in ID tokens and at the userinfo endpoint alike. */
const CLAIMS_BY_SCOPE = Object.freeze({
  openid: ['sub'],
  profile: ['name', 'preferred_username'],
  email: ['email', 'email_verified'],
});
const OPENID_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

const INTERACTION_PATH = '/interaction';
const REFRESH_TOKEN_TTL_SECONDS = 14 * 24 * 3600;
const SESSION_TTL_SECONDS = 8 * 3600;

export async function createIdentityService(options: IdentityServiceOptions): Promise<IdentityService> {
  const { issuer, creatioUrl, registry, stats, accessTokenTtlSeconds, basePath, refuseOpenId } = options;
  const scopes = [...OPENID_SCOPES, ...options.resourceScopes];
  // A fresh signing key per start: nothing outlives the sandbox, and oidc-provider's development keys are public.
  const signingKey = options.signingKey ?? (await newSigningKey());
  const publicKey = await importJWK({ kty: 'RSA', n: signingKey.n, e: signingKey.e }, 'RS256');

  const configuration: Configuration = {
    adapter: createProviderStorage((clientId) =>
      toClientMetadata(registry.get(clientId), refuseOpenId ? scopes.filter((s) => s !== 'openid') : scopes),
    ),
    jwks: { keys: [signingKey] },
    cookies: {
      // Browsers share cookies across ports; these names cannot collide with the app's on the same host.
      names: {
        session: 'sandbox_is_session',
        interaction: 'sandbox_is_interaction',
        resume: 'sandbox_is_resume',
      },
      keys: [randomBytes(32).toString('base64url')],
    },
    routes: ROUTES,
    responseTypes: ['code'],
    pkce: { required: () => true },
    // IdentityServer insists on redirect_uri in every authorization request.
    allowOmittingSingleRegisteredRedirectUri: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    scopes,
    claims: CLAIMS_BY_SCOPE,
    findAccount: (_ctx, sub) => {
      const user = findUserBySub(sub);
      return user && { accountId: user.sub, claims: () => allClaimsOf(user) };
    },
    // First-party applications: whatever they ask for is granted, so there is never a consent screen.
    loadExistingGrant: grantEverythingRequested,
    // IdentityServer issues a refresh token when offline_access is requested. oidc-provider drops offline_access
    // from requests without prompt=consent (which apps do not send), so the sandbox issues one to every client, public
    // ones too, that may use the refresh_token grant, and keeps it valid past the sign-in session like IdentityServer.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: () => false,
    // Every refresh answers a new refresh token and consumes the old one; presenting the old one again fails
    // with invalid_grant (and ends the grant). This is what catches BFFs that lose a rotated token.
    rotateRefreshToken: true,
    clientBasedCORS: () => false,
    interactions: { url: (_ctx, interaction) => `${basePath}${INTERACTION_PATH}/${interaction.uid}` },
    ttl: {
      AccessToken: accessTokenTtlSeconds,
      ClientCredentials: accessTokenTtlSeconds,
      IdToken: 3600,
      RefreshToken: REFRESH_TOKEN_TTL_SECONDS,
      Interaction: 600,
      Session: SESSION_TTL_SECONDS,
      Grant: REFRESH_TOKEN_TTL_SECONDS,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: isOwnToken },
      revocation: { enabled: true, allowedPolicy: isOwnToken },
      pushedAuthorizationRequests: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.body = renderLogoutPage(form);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.type = 'html';
          ctx.body = renderLoggedOutPage(ctx.oidc.client?.clientName);
        },
      },
      resourceIndicators: {
        enabled: true,
        // Requests without `resource` (all of them, from a Creatio client) are for Creatio, at the token endpoint too.
        defaultResource: () => creatioUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== creatioUrl) throw new errors.InvalidTarget();
          return {
            scope: scopes.join(' '),
            audience: creatioUrl,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtlSeconds,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        // A client-credentials token acts as the application's technical user (Creatio's "System user" field).
        jwt: (_ctx, token, { payload }) => {
          if (token.kind !== 'ClientCredentials') return;
          const systemUserId = registry.get(String(token.clientId))?.systemUserId;
          if (systemUserId) payload.sub = systemUserId;
        },
      },
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = renderErrorPage({ error: out.error, error_description: out.error_description });
    },
    // Back-channel logout tokens go to the app, which in the sandbox listens on loopback; oidc-provider's fetch
    // refuses loopback addresses (SSRF protection), so the sandbox sends them with the plain dispatcher.
    fetch: (url, init) => fetch(url, { ...init, dispatcher: undefined } as RequestInit),
  };

  const provider = new Provider(issuer, configuration);
  matchRedirectUrisLikeIdentityServer(provider);
  provider.use(createStatsRecorder(stats));
  provider.use(requireRegisteredRedirectUriAtToken);
  provider.on('backchannel.error', (_ctx, error, client) => {
    console.warn(
      `sandbox identity service: back-channel logout to ${client.clientId} failed: ${error.message}`,
    );
  });
  provider.on('server_error', (_ctx, error) => {
    console.error('sandbox identity service: server error', error);
  });

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set(PAGE_SECURITY_HEADERS);
    next();
  });
  app.get(`${INTERACTION_PATH}/:uid`, handleShowLogin(provider, registry, basePath));
  app.post(
    `${INTERACTION_PATH}/:uid/login`,
    express.urlencoded({ extended: false, limit: '10kb' }),
    handleLogin(provider, registry, basePath),
  );
  app.post(`${INTERACTION_PATH}/:uid/abort`, handleAbort(provider));
  app.all(ROUTES.userinfo, handleUserinfo({ issuer, creatioUrl, publicKey }));
  app.use(provider.callback());
  app.use(handleInteractionError);

  return { callback: app, provider };
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

/**
 * A registry entry as oidc-provider client metadata; inactive clients do not exist for the Identity Service.
 * `allowedScopes` is what the application may ask for: more is invalid_scope, as at IdentityServer.
 */
function toClientMetadata(
  client: RegisteredClient | undefined,
  allowedScopes: readonly string[],
): ClientMetadata | undefined {
  if (!client?.active) return undefined;
  const usesCodeFlow = client.grantTypes.includes('authorization_code');
  return {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    client_name: client.name,
    grant_types: [...client.grantTypes],
    response_types: usesCodeFlow ? ['code'] : [],
    // One malformed URL saved through OAuthConfigService must not make the whole client unusable.
    redirect_uris: usesCodeFlow
      ? client.redirectUrls.map((r) => r.url).filter((url) => URL.canParse(url))
      : [],
    post_logout_redirect_uris: client.postLogoutRedirectUris.filter((url) => URL.canParse(url)),
    ...(client.backchannelLogoutUri && {
      backchannel_logout_uri: client.backchannelLogoutUri,
      backchannel_logout_session_required: true,
    }),
    scope: allowedScopes.join(' '),
    // A confidential client may use post or basic (oidc-provider accepts both for either registration); a public
    // client (no secret, PKCE only) authenticates with nothing but its client_id.
    token_endpoint_auth_method: client.clientSecret === undefined ? 'none' : 'client_secret_post',
  };
}

function allClaimsOf(user: DemoUser): Record<string, unknown> & { sub: string } {
  return {
    sub: user.sub,
    name: user.name,
    preferred_username: user.username,
    email: user.email,
    email_verified: true,
  };
}

/**
 * oidc-provider's `loadExistingGrant`: the session's grant for this client (or a new one) extended by everything
 * the request asks for, for the OpenID scopes and for the Creatio resource alike.
 */
async function grantEverythingRequested(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { client, session, provider, resourceServers } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;

  const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  const grant =
    (grantId ? await provider.Grant.find(grantId) : undefined) ??
    new provider.Grant({ clientId: client.clientId, accountId: session.accountId });

  const scope = typeof ctx.oidc.params?.scope === 'string' ? ctx.oidc.params.scope : '';
  grant.addOIDCScope(scope);
  grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
  for (const resource of Object.keys(resourceServers ?? {})) {
    grant.addResourceScope(resource, scope);
  }
  await grant.save();
  return grant;
}

/** Revocation and introspection: a client may act on its own tokens only. */
function isOwnToken(
  _ctx: KoaContextWithOIDC,
  client: { clientId: string },
  token: { clientId?: string },
): boolean {
  return token.clientId === client.clientId;
}

/** Counts token-endpoint calls (by grant_type), their error answers (by code) and revocation calls for tests. */
/**
 * IdentityServer compares the redirect_uri of an authorization request with the registered ones ignoring case, so
 * a URL that differs only in case passes /authorize (oidc-provider compares exactly). This provider's own Client
 * class gets that comparison; the token endpoint stays exact (requireRegisteredRedirectUriAtToken).
 */
function matchRedirectUrisLikeIdentityServer(provider: Provider): void {
  const Client = (provider as unknown as { Client: { prototype: { redirectUris?: string[] } } }).Client;
  Object.defineProperty(Client.prototype, 'redirectUriAllowed', {
    value(this: { redirectUris?: string[] }, value: string): boolean {
      const wanted = value.toLowerCase();
      return (this.redirectUris ?? []).some((registered) => registered.toLowerCase() === wanted);
    },
  });
}

/**
 * The code exchange of a sign-in whose redirect_uri matched only case-insensitively fails with invalid_grant, as at
 * IdentityServer: /authorize let it through, /token compares exactly. Checked once oidc-provider has parsed the
 * request (the code is spent either way, as it would be there); the tokens it made are never sent.
 */
async function requireRegisteredRedirectUriAtToken(
  ctx: KoaContextWithOIDC,
  next: () => Promise<unknown>,
): Promise<void> {
  await next();
  if (ctx.method !== 'POST' || ctx.status !== 200 || ctx.oidc?.params?.grant_type !== 'authorization_code')
    return;
  const sent = ctx.oidc.params.redirect_uri;
  const registered = ctx.oidc.client?.redirectUris ?? [];
  if (typeof sent === 'string' && !registered.includes(sent)) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_grant', error_description: 'Invalid redirect_uri' };
  }
}

function createStatsRecorder(stats: SandboxStats) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> => {
    await next();
    if (ctx.method !== 'POST') return;
    const params = ctx.oidc?.params ?? {};

    if (ctx.path === ROUTES.token) {
      const grantType = params.grant_type;
      if (
        grantType === 'authorization_code' ||
        grantType === 'refresh_token' ||
        grantType === 'client_credentials'
      ) {
        stats.tokenRequests[grantType]++;
      }
      const error = errorCodeOf(ctx.body);
      if (ctx.status >= 400 && error) stats.tokenErrors[error] = (stats.tokenErrors[error] ?? 0) + 1;
    } else if (ctx.path === ROUTES.revocation) {
      stats.revocations.push({
        clientId: ctx.oidc?.client?.clientId,
        tokenTypeHint: typeof params.token_type_hint === 'string' ? params.token_type_hint : undefined,
      });
    }
  };
}

function errorCodeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  return typeof body.error === 'string' ? body.error : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The login interaction

function clientNameOf(registry: ClientRegistry, clientId: unknown): string {
  const client = typeof clientId === 'string' ? registry.get(clientId) : undefined;
  return client?.name ?? 'Creatio';
}

function sendLoginPage(
  res: Response,
  registry: ClientRegistry,
  basePath: string,
  interaction: { uid: string; params: Record<string, unknown> },
  form: { username?: string; error?: string } = {},
): void {
  res.status(200).type('html').set('cache-control', 'no-store');
  const path = `${basePath}${INTERACTION_PATH}/${encodeURIComponent(interaction.uid)}`;
  res.send(
    renderLoginPage({
      action: `${path}/login`,
      abortAction: `${path}/abort`,
      clientName: clientNameOf(registry, interaction.params.client_id),
      demoUsers,
      ...form,
    }),
  );
}

function handleShowLogin(provider: Provider, registry: ClientRegistry, basePath: string): RequestHandler {
  return async (req, res) => {
    const interaction = await provider.interactionDetails(req, res);
    if (interaction.prompt.name !== 'login') {
      // Grants are made in loadExistingGrant, so only the login prompt ever reaches this page.
      throw new errors.InvalidRequest(`unexpected interaction prompt ${interaction.prompt.name}`);
    }
    sendLoginPage(res, registry, basePath, interaction);
  };
}

function handleLogin(provider: Provider, registry: ClientRegistry, basePath: string): RequestHandler {
  return async (req, res) => {
    const interaction = await provider.interactionDetails(req, res);
    const username = typeof req.body?.username === 'string' ? req.body.username : '';
    const password = typeof req.body?.password === 'string' ? req.body.password : '';
    const user = findUserByUsername(username);
    if (!user || !samePassword(password, user.password)) {
      sendLoginPage(res, registry, basePath, interaction, {
        username,
        error: 'Invalid user name or password.',
      });
      return;
    }
    const client = registry.get(String(interaction.params.client_id));
    if (client?.permittedUsers && !client.permittedUsers.includes(user.sub)) {
      // Creatio: only the application's "Permitted users" may authorize it; the others go back to the app.
      await provider.interactionFinished(
        req,
        res,
        {
          error: 'access_denied',
          error_description: 'The user is not among the permitted users of this application.',
        },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.sub } },
      { mergeWithLastSubmission: false },
    );
  };
}

function handleAbort(provider: Provider): RequestHandler {
  return async (req, res) => {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
      { mergeWithLastSubmission: false },
    );
  };
}

/** Compares digests so the time taken does not depend on how much of the password matched. */
function samePassword(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** An expired or foreign interaction (no cookie, wrong uid) gets the Identity Service's error page, not a stack. */
const handleInteractionError: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) {
    next(error);
    return;
  }
  const known = error instanceof errors.OIDCProviderError;
  if (!known) console.error('sandbox identity service: interaction failed', error);
  res.status(known ? error.statusCode : 500).type('html');
  res.send(
    renderErrorPage(
      known
        ? { error: error.error, error_description: error.error_description }
        : { error: 'server_error', error_description: 'The sign-in could not be completed.' },
    ),
  );
};

// ---------------------------------------------------------------------------------------------------------------
// The userinfo endpoint

/**
 * IdentityServer answers userinfo for any of its access tokens that carries the openid scope. oidc-provider's own
 * endpoint accepts only tokens without an audience, and every token here is for Creatio, so the sandbox answers
 * userinfo itself from the verified JWT.
 */
function handleUserinfo(keys: { issuer: string; creatioUrl: string; publicKey: CryptoKey }): RequestHandler {
  return async (req: Request, res: Response) => {
    res.set('cache-control', 'no-store');
    const match = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match?.[1]) {
      res.status(401).set('www-authenticate', 'Bearer').end();
      return;
    }
    let claims: { sub?: string; scope?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(match[1], keys.publicKey, {
        issuer: keys.issuer,
        audience: keys.creatioUrl,
        typ: 'at+jwt',
      }));
    } catch {
      res.status(401).set('www-authenticate', 'Bearer error="invalid_token"').end();
      return;
    }
    const scopes = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ') : []);
    const user = claims.sub ? findUserBySub(claims.sub) : undefined;
    if (!scopes.has('openid') || !user) {
      res.status(403).set('www-authenticate', 'Bearer error="insufficient_scope", scope="openid"').end();
      return;
    }
    const all = allClaimsOf(user);
    const released: Record<string, unknown> = {};
    for (const [scope, names] of Object.entries(CLAIMS_BY_SCOPE)) {
      if (!scopes.has(scope)) continue;
      for (const name of names) released[name] = all[name];
    }
    res.json(released);
  };
}
