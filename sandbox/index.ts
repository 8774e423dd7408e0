/**
 * startSandbox(): the sandbox Identity Service and the Creatio stand-in sharing one client registry, either each on
 * its own port (the `-is` host layout of Creatio cloud and older versions) or both on the Creatio host, the Identity
 * Service below `/0` (Creatio 8.3+). Used by `npm start` (no IDENTITY_SERVICE_URL), `npm run sandbox` and the tests
 * (port 0). No side effect on import.
 */
import { randomBytes } from 'node:crypto';
import http, { type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { ClientRegistry } from './client-registry.ts';
import { createCreatioStandIn } from './creatio.ts';
import { createIdentityService } from './identity-service.ts';
import { type CreatioFaults, createCreatioFaults, createSandboxStats, type SandboxStats } from './stats.ts';
import { type DemoUser, demoUsers, technicalUser } from './users.ts';

export interface SandboxOptions {
  /** Listen address of both services; default 127.0.0.1. */
  readonly host?: string;
  /** Default 5000; 0 = any free port. */
  readonly identityPort?: number;
  /** Default 5001; 0 = any free port. */
  readonly creatioPort?: number;
  /** Lifetime of access tokens; default 3600 s like Creatio's AccessTokenLifetime. Tests use a few seconds. */
  readonly accessTokenTtlSeconds?: number;
  /** The app's public base URL, for its client's redirect, post-logout and back-channel URLs. */
  readonly appUrl?: string;
  /** What Creatio's /0/identityServiceInfo/canUseAuthorizationCodeFlow answers; default true. */
  readonly canUseAuthorizationCodeFlow?: boolean;
  /** The Identity Service's RS256 signing key (private JWK with kid); default a fresh one per start. */
  readonly signingKey?: JWK;
  /**
   * Where the Identity Service is: 'identity-service-host' (own port; discovery at its root) or 'creatio-hosted'
   * (Creatio 8.3+: `<creatioUrl>/0/.well-known/openid-configuration`, `identityPort` unused). Default: own host.
   */
  readonly layout?: SandboxLayout;
  /** The app's integrated application may not have the openid scope: no ID tokens, no userinfo. Default false. */
  readonly refuseOpenId?: boolean;
  /** The app's integrated application is public (PKCE only, no client secret). Default false. */
  readonly publicClient?: boolean;
}

export const SandboxLayouts = ['identity-service-host', 'creatio-hosted'] as const;
export type SandboxLayout = (typeof SandboxLayouts)[number];

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface AppClient {
  readonly clientId: string;
  /** Undefined for a public client. */
  readonly clientSecret: string | undefined;
  /** Its OAuth resource's scope, which user tokens need for Creatio's APIs. */
  readonly applicationAccessScope: string;
}

export interface Sandbox {
  readonly identityServiceUrl: string;
  readonly creatioUrl: string;
  readonly layout: SandboxLayout;
  /** The app's integrated application (authorization code + refresh token). */
  readonly bffClient: AppClient;
  /** The scopes the app asks for by default against this sandbox. */
  readonly defaultScopes: readonly string[];
  /** A server-to-server application (client credentials) acting as the technical user. */
  readonly serviceClient: ClientCredentials;
  readonly registry: ClientRegistry;
  readonly users: readonly DemoUser[];
  readonly stats: SandboxStats;
  readonly faults: CreatioFaults;
  /** Test-only: the Identity Service stops listening (connections refused) and later listens again on its port. */
  readonly identityOutage: { begin(): Promise<void>; end(): Promise<void> };
  close(): Promise<void>;
}

export const BFF_CLIENT_ID = 'creatio-oauth-bff-sandbox';
/**
 * The app's OAuth resource in Creatio ("OAuth resources" lookup; each integrated application has one). Fixed, so a
 * `.env` written against the sandbox keeps working across restarts.
 */
export const BFF_APPLICATION_ACCESS_SCOPE = 'ApplicationAccess_8c1f4c2ee5a64b0f9d3a7b6e2f1d0c95';
export const SERVICE_CLIENT_ID = 'sandbox-service-client';

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const appUrl = (options.appUrl ?? 'http://localhost:3000').replace(/\/+$/, '');
  const stats = createSandboxStats();
  const faults = createCreatioFaults();
  const registry = new ClientRegistry();
  const layout = options.layout ?? 'identity-service-host';
  const refuseOpenId = options.refuseOpenId ?? false;

  // The servers listen first, so that port 0 has become a real port before the services are built with their URLs.
  const identity =
    layout === 'identity-service-host'
      ? await listenBeforeServing(host, options.identityPort ?? 5000)
      : undefined;
  let creatio: ListeningServer;
  try {
    creatio = await listenBeforeServing(host, options.creatioPort ?? 5001);
  } catch (error) {
    await identity?.close();
    throw error;
  }
  const identityServiceUrl = identity ? identity.url : `${creatio.url}${CREATIO_HOSTED_PATH}`;

  const bffClient = registry.add({
    clientId: BFF_CLIENT_ID,
    clientSecret: options.publicClient ? null : randomBytes(24).toString('base64url'),
    name: 'creatio-oauth-bff (sandbox)',
    applicationUrl: appUrl,
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUrls: [`${appUrl}/auth/callback`],
    postLogoutRedirectUris: [`${appUrl}/`],
    backchannelLogoutUri: `${appUrl}/auth/backchannel-logout`,
    active: true,
    systemUserId: undefined,
    permittedUsers: demoUsers.map((user) => user.sub),
  });
  const serviceClient = registry.add({
    clientId: SERVICE_CLIENT_ID,
    name: 'Sandbox server-to-server integration',
    applicationUrl: '',
    grantTypes: ['client_credentials'],
    postLogoutRedirectUris: [],
    backchannelLogoutUri: undefined,
    active: true,
    systemUserId: technicalUser.sub,
  });

  try {
    const identityService = await createIdentityService({
      issuer: identityServiceUrl,
      creatioUrl: creatio.url,
      registry,
      stats,
      accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
      signingKey: options.signingKey,
      resourceScopes: [BFF_APPLICATION_ACCESS_SCOPE],
      basePath: identity ? '' : CREATIO_HOSTED_PATH,
      refuseOpenId,
    });
    const creatioStandIn = createCreatioStandIn({
      identityServiceUrl,
      creatioUrl: creatio.url,
      registry,
      stats,
      faults,
      canUseAuthorizationCodeFlow: options.canUseAuthorizationCodeFlow ?? true,
      requiredScopes: { [BFF_CLIENT_ID]: BFF_APPLICATION_ACCESS_SCOPE },
      identityService: identity ? undefined : identityService.callback,
    });
    identity?.serve(identityService.callback);
    creatio.serve(creatioStandIn);
  } catch (error) {
    await Promise.all([identity?.close(), creatio.close()]);
    throw error;
  }

  return {
    identityServiceUrl,
    creatioUrl: creatio.url,
    layout,
    bffClient: {
      clientId: bffClient.clientId,
      clientSecret: bffClient.clientSecret,
      applicationAccessScope: BFF_APPLICATION_ACCESS_SCOPE,
    },
    defaultScopes: [
      ...(refuseOpenId ? [] : ['openid']),
      'profile',
      'email',
      'offline_access',
      BFF_APPLICATION_ACCESS_SCOPE,
    ],
    serviceClient: { clientId: serviceClient.clientId, clientSecret: serviceClient.clientSecret as string },
    registry,
    users: demoUsers,
    stats,
    faults,
    // On the Creatio host the Identity Service cannot be down alone; only its own host can go away.
    identityOutage: identity
      ? { begin: () => identity.close(), end: () => identity.relisten() }
      : {
          begin: () => Promise.reject(new Error('identityOutage needs the identity-service-host layout')),
          end: async () => {},
        },
    async close() {
      await Promise.all([identity?.close(), creatio.close()]);
    },
  };
}

/** Creatio 8.3+ serves its Identity Service below this path of its own host. */
const CREATIO_HOSTED_PATH = '/0';

interface ListeningServer {
  /** http://host:port without a trailing slash. */
  readonly url: string;
  /** Starts answering requests with `listener` (until then: 503). */
  serve(listener: RequestListener): void;
  /** Stops listening and drops keep-alive connections, so a test run ends at once. */
  close(): Promise<void>;
  /** Listens again on the same port after close(). */
  relisten(): Promise<void>;
}

/** Rejects with Node's own error (code EADDRINUSE, port) when the port is taken. */
async function listenBeforeServing(host: string, port: number): Promise<ListeningServer> {
  let listener: RequestListener = (_req, res) => {
    res.writeHead(503, { 'retry-after': '1' }).end();
  };
  const server = http.createServer((req, res) => listener(req, res));
  const listen = (onPort: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(port);
  const { port: actualPort } = server.address() as AddressInfo;
  return {
    url: `http://${urlHost(host)}:${actualPort}`,
    serve(next) {
      listener = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
    relisten: () => listen(actualPort),
  };
}

/** The host as it goes into a URL: a wildcard address is reached through loopback, IPv6 needs brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
