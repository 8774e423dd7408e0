/**
 * Who signed in. Whether Creatio grants `openid` to user applications is not documented, so a sign-in may bring no
 * ID token; the person is then named from the next source that answers, always about the access token just
 * received for them:
 *   1. the ID token's claims, when there is one (openid-client has checked signature, issuer, audience, expiry and
 *      nonce before this module sees it);
 *   2. the userinfo endpoint, when discovery lists one and `openid` was granted (IdentityServer answers it only then);
 *   3. the access token's own claims, when it is a JWT: it came straight from the token endpoint over TLS to this
 *      client, the channel OpenID Connect Core §3.1.3.7 accepts in place of a signature check, and only `sub`,
 *      `name` and `email` are read from it;
 *   4. Creatio itself: `POST <CREATIO_URL>/0/ServiceModel/UserInfoService.svc/GetCurrentUserInfo` with the token as
 *      bearer (the service Creatio's own UI and clio use; without `/0` on .NET 8, like OData).
 * Each source fills only what the earlier ones left open (Creatio is asked only while `sub` or the name is still
 * missing); a failing source is logged and skipped.
 */
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Config } from '../config.ts';
import { BffError, ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { SessionUser } from '../session/store.ts';

export interface IdentitySources {
  readonly config: Pick<Config, 'creatioUrl' | 'odataPath' | 'httpTimeoutMs'>;
  readonly configuration: oidc.Configuration;
  readonly tokens: {
    readonly access_token: string;
    readonly scope?: string;
    claims(): oidc.IDToken | undefined;
  };
  readonly logger: Logger;
  /** For the log lines of skipped sources. */
  readonly reqId: unknown;
}

interface Found {
  sub?: string;
  name?: string;
  email?: string;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 ? value.trim() : undefined;
}

function fill(into: Found, claims: Record<string, unknown>): void {
  into.sub ??= text(claims.sub);
  into.name ??= text(claims.name) ?? text(claims.preferred_username);
  into.email ??= text(claims.email);
}

const complete = (user: Found): boolean => Boolean(user.sub && user.name && user.email);

/** Creatio's web services live next to OData: `/0/odata` → `/0`, `/odata` (.NET 8) → ``. */
export function currentUserServiceUrl(config: Pick<Config, 'creatioUrl' | 'odataPath'>): string {
  const servicesPath = config.odataPath.replace(/\/odata$/i, '');
  return `${config.creatioUrl}${servicesPath}/ServiceModel/UserInfoService.svc/GetCurrentUserInfo`;
}

async function fromCreatio(sources: IdentitySources): Promise<Record<string, unknown>> {
  const response = await fetch(currentUserServiceUrl(sources.config), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${sources.tokens.access_token}`,
      accept: 'application/json',
      'content-type': 'application/json',
    },
    body: '{}',
    redirect: 'manual',
    signal: AbortSignal.timeout(sources.config.httpTimeoutMs),
  });
  if (!response.ok) throw new Error(`Creatio's current-user service answered HTTP ${response.status}`);
  const body = (await response.json()) as { userInfo?: Record<string, unknown> };
  const info = body.userInfo ?? {};
  return { sub: info.id, name: info.contactName, email: info.email };
}

export async function identifyUser(sources: IdentitySources): Promise<SessionUser> {
  const { configuration, tokens, logger, reqId } = sources;
  const user: Found = {};
  const skipped = (source: string) => (err: unknown) => {
    logger.warn(
      { reqId, detail: (err as Error).message },
      `${source} did not say who signed in; trying the next source`,
    );
  };

  const idToken = tokens.claims();
  if (idToken) fill(user, idToken);

  const granted = tokens.scope?.split(' ');
  const userinfoOffered =
    configuration.serverMetadata().userinfo_endpoint !== undefined && (granted?.includes('openid') ?? true);
  if (!complete(user) && userinfoOffered) {
    await oidc
      .fetchUserInfo(configuration, tokens.access_token, user.sub ?? oidc.skipSubjectCheck)
      .then((info) => fill(user, info), skipped('userinfo'));
  }

  if (!complete(user)) {
    try {
      fill(user, decodeJwt(tokens.access_token));
    } catch {
      // An opaque access token: nothing to read, which is fine.
    }
  }

  // A round trip to Creatio only when the person would otherwise be nameless: an e-mail address is nice to show,
  // not worth delaying every sign-in for.
  if (!user.sub || !user.name) {
    await fromCreatio(sources).then((info) => fill(user, info), skipped("Creatio's current-user service"));
  }

  if (!user.sub) {
    throw new BffError(ErrorCode.InvalidCallback, {
      message: 'The sign-in succeeded, but neither the Identity Service nor Creatio said who you are.',
      hint: 'Ask your administrator to check the integrated application: with the openid scope in OAUTH_SCOPES the Identity Service names the user; /diagnostics checks the scopes.',
      logDetail: 'no ID token, no userinfo, no sub in the access token and no answer from GetCurrentUserInfo',
    });
  }
  return { sub: user.sub, name: user.name, email: user.email };
}
