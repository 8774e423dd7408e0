/**
 * The openid-client Configuration for the Identity Service: the only module that runs discovery. The promise is
 * cached, so concurrent callers share one fetch; a failure is forgotten, so an Identity Service that was down at
 * start-up is retried by the next request (and /readyz reports it meanwhile).
 */
import * as oidc from 'openid-client';
import type { Config } from '../config.ts';
import { BffError, ErrorCode } from '../errors.ts';

export interface OidcClient {
  /** Discovery result for this client; rejects with a BffError when the Identity Service cannot be used. */
  getConfiguration(): Promise<oidc.Configuration>;
}

const DISCOVERY_MAX_AGE_MS = 60 * 60_000;

export function discoveryUrl(config: Pick<Config, 'identityServiceUrl'>): URL {
  return new URL(`${config.identityServiceUrl.replace(/\/+$/, '')}/.well-known/openid-configuration`);
}

async function discover(config: Config): Promise<oidc.Configuration> {
  // client_secret_post is what every Creatio sample uses; a public client (no secret) sends only its client_id.
  const clientAuth =
    config.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(config.clientSecret);
  const timeoutSeconds = Math.ceil(config.httpTimeoutMs / 1000);
  const execute = config.allowInsecureRequests ? [oidc.allowInsecureRequests] : [];

  if (config.expectedIssuer === undefined) {
    // openid-client checks that the discovered issuer equals the Identity Service URL.
    return oidc.discovery(new URL(config.identityServiceUrl), config.clientId, undefined, clientAuth, {
      execute,
      timeout: timeoutSeconds,
    });
  }

  // OAUTH_ISSUER: the provider's issuer is not its URL (Creatio samples show "creatio.com"), which openid-client's
  // discovery rejects by design. Fetch the document, check the issuer against the configured value ourselves, and
  // build the Configuration from it — on purpose, in this one place.
  const response = await fetch(discoveryUrl(config), {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(config.httpTimeoutMs),
  });
  if (!response.ok) throw new Error(`discovery answered HTTP ${response.status}`);
  const metadata = (await response.json()) as oidc.ServerMetadata;
  if (metadata.issuer !== config.expectedIssuer) {
    throw new Error(
      `discovery says issuer "${metadata.issuer}", OAUTH_ISSUER expects "${config.expectedIssuer}"`,
    );
  }
  const configuration = new oidc.Configuration(metadata, config.clientId, undefined, clientAuth);
  configuration.timeout = timeoutSeconds;
  for (const apply of execute) apply(configuration);
  return configuration;
}

export function createOidcClient(config: Config): OidcClient {
  let cached: { promise: Promise<oidc.Configuration>; expiresAt: number } | undefined;

  return {
    getConfiguration() {
      if (cached && cached.expiresAt > Date.now()) return cached.promise;
      const promise = discover(config).catch((cause: unknown) => {
        cached = undefined;
        throw new BffError(ErrorCode.IdentityServiceUnavailable, {
          cause,
          logDetail: `discovery at ${discoveryUrl(config).href} failed: ${(cause as Error)?.message}`,
          hint: `Check that IDENTITY_SERVICE_URL (${config.identityServiceUrl}) is the Identity Service (not the Creatio site) and that it is running; /diagnostics says more.`,
        });
      });
      cached = { promise, expiresAt: Date.now() + DISCOVERY_MAX_AGE_MS };
      return promise;
    },
  };
}
