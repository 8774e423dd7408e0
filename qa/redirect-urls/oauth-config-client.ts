/**
 * A client for Creatio's OAuthConfigService (seed 004): the web service behind the "OAuth 2.0 integrated
 * applications" section. It authenticates as a technical user with a client-credentials token from the Identity
 * Service (seeds 000/002): an integrated application of the server-to-server kind whose technical user is a system
 * administrator. Used by `npm run redirect-urls`; the app itself never holds these credentials.
 */
import * as oidc from 'openid-client';
import { discoveryUrl } from '../../server/auth/client.ts';
import { describeNetworkError, type Fetch, isRecord, parseJson } from '../http.ts';

export interface AdminSettings {
  readonly identityServiceUrl: string;
  readonly creatioUrl: string;
  /** "/0" on .NET Framework instances, "" on .NET 8 ones. */
  readonly routePrefix: string;
  readonly adminClientId: string;
  readonly adminClientSecret: string;
  readonly allowInsecureRequests: boolean;
  readonly timeoutMs: number;
}

export interface RedirectUrl {
  readonly id: string;
  readonly url: string;
}

export interface NewClient {
  readonly name: string;
  readonly applicationUrl: string;
  readonly grantType: 'authorization_code' | 'client_credentials';
  readonly redirectUrl?: string;
  readonly systemUserId?: string;
}

/** Every failure as one sentence and the change to make; `status` is Creatio's HTTP status when it answered. */
export class OAuthConfigServiceError extends Error {
  constructor(
    message: string,
    readonly fix: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OAuthConfigServiceError';
  }
}

export interface OAuthConfigClient {
  addClient(client: NewClient): Promise<{ clientId?: string; clientSecret?: string }>;
  addRedirectUrls(clientId: string, urls: readonly string[]): Promise<RedirectUrl[]>;
  updateRedirectUrl(redirectUrlId: string, url: string): Promise<void>;
  deleteRedirectUrl(redirectUrlId: string): Promise<void>;
  /** undefined when Creatio has no GetRedirectUrls (it is a sandbox extension, not in seed 004). */
  getRedirectUrls(clientId: string): Promise<RedirectUrl[] | undefined>;
}

function redirectUrlsOf(value: unknown): RedirectUrl[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (r): r is RedirectUrl => isRecord(r) && typeof r.id === 'string' && typeof r.url === 'string',
  );
}

export function createOAuthConfigClient(
  settings: AdminSettings,
  fetchImpl: Fetch = fetch,
): OAuthConfigClient {
  let token: Promise<string> | undefined;

  /**
   * Discovery from the document's own URL: openid-client then skips the issuer comparison, which the admin tool does
   * not need (it only fetches a token for Creatio) and which a "creatio.com" issuer would fail.
   */
  async function fetchToken(): Promise<string> {
    try {
      const configuration = await oidc.discovery(
        discoveryUrl(settings),
        settings.adminClientId,
        undefined,
        oidc.ClientSecretPost(settings.adminClientSecret),
        {
          execute: settings.allowInsecureRequests ? [oidc.allowInsecureRequests] : [],
          timeout: Math.ceil(settings.timeoutMs / 1000),
          [oidc.customFetch]: fetchImpl as oidc.CustomFetch,
        },
      );
      const response = await oidc.clientCredentialsGrant(configuration);
      return response.access_token;
    } catch (error) {
      if (error instanceof oidc.ResponseBodyError && error.error === 'invalid_client') {
        throw new OAuthConfigServiceError(
          'The Identity Service refused CREATIO_ADMIN_CLIENT_ID / CREATIO_ADMIN_CLIENT_SECRET (invalid_client).',
          'Copy Client Id and Client secret of a server-to-server integrated application (Active) whose technical user is a system administrator.',
        );
      }
      if (error instanceof oidc.ResponseBodyError) {
        throw new OAuthConfigServiceError(
          `The Identity Service refused the client-credentials token (${error.error}).`,
          'Use a server-to-server (client credentials) integrated application for CREATIO_ADMIN_CLIENT_ID.',
        );
      }
      if (error instanceof oidc.ClientError && error.cause instanceof Response) {
        // It answered, but not as an Identity Service does: most often IDENTITY_SERVICE_URL is the Creatio site.
        const answer = error.cause;
        throw new OAuthConfigServiceError(
          `${answer.url || discoveryUrl(settings).href} answered HTTP ${answer.status}${answer.status === 200 ? ' without JSON' : ''}, not the Identity Service's discovery document or token.`,
          'Set IDENTITY_SERVICE_URL to the Identity Service site (the value of the Creatio system setting OAuth20IdentityServerUrl), not the Creatio site; npm run doctor says more.',
        );
      }
      const problem = describeNetworkError(error, discoveryUrl(settings), settings.timeoutMs);
      if (problem.kind === 'network' && !(error as { cause?: unknown })?.cause) {
        throw new OAuthConfigServiceError(
          `No token from the Identity Service at ${settings.identityServiceUrl}: ${(error as Error).message}.`,
          'Check IDENTITY_SERVICE_URL (run npm run doctor for details).',
        );
      }
      throw new OAuthConfigServiceError(problem.message, problem.fix);
    }
  }

  async function call(method: string, body: unknown): Promise<Record<string, unknown>> {
    token ??= fetchToken();
    const accessToken = await token;
    const url = new URL(`${settings.creatioUrl}${settings.routePrefix}/rest/OAuthConfigService/${method}`);
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const problem = describeNetworkError(error, url, settings.timeoutMs);
      throw new OAuthConfigServiceError(problem.message, problem.fix);
    }
    const answer = parseJson(text);
    const errorInfo = isRecord(answer) && isRecord(answer.errorInfo) ? answer.errorInfo : undefined;
    if (response.ok && isRecord(answer) && answer.success !== false) return answer;

    if (response.status === 401) {
      throw new OAuthConfigServiceError(
        'Creatio refused the token (401).',
        'Check that the Creatio system setting OAuth20IdentityServerUrl names this Identity Service and that the feature OAuth20Integration is on.',
        401,
      );
    }
    if (response.status === 403) {
      throw new OAuthConfigServiceError(
        `Creatio refused ${method} (403): ${typeof errorInfo?.message === 'string' ? errorInfo.message : 'insufficient permissions'}`,
        'Make the technical user of CREATIO_ADMIN_CLIENT_ID a system administrator (it must manage OAuth 2.0 integrated applications).',
        403,
      );
    }
    if (errorInfo) {
      const code = typeof errorInfo.errorCode === 'string' ? ` (${errorInfo.errorCode})` : '';
      throw new OAuthConfigServiceError(
        `Creatio refused ${method}: ${String(errorInfo.message ?? 'no message')}${code}`,
        'Correct the value named in the message and run the command again.',
        response.status,
      );
    }
    throw new OAuthConfigServiceError(
      `${url.origin}${url.pathname} answered HTTP ${response.status}${answer === undefined ? ' with a body that is not JSON' : ''}.`,
      response.status === 404
        ? 'This Creatio has no OAuthConfigService at that path: use Creatio 8.3 or later; on .NET 8 instances set CREATIO_ODATA_PATH=/odata.'
        : 'Check CREATIO_URL.',
      response.status,
    );
  }

  return {
    async addClient(client) {
      const answer = await call('AddClient', { addClientRequest: client });
      return {
        clientId: typeof answer.clientId === 'string' ? answer.clientId : undefined,
        clientSecret: typeof answer.clientSecret === 'string' ? answer.clientSecret : undefined,
      };
    },
    async addRedirectUrls(clientId, urls) {
      const answer = await call('AddRedirectUrls', { redirectUrlsRequest: { clientId, redirectUrls: urls } });
      return redirectUrlsOf(answer.redirectUrls);
    },
    async updateRedirectUrl(redirectUrlId, url) {
      await call('UpdateRedirectUrl', { updateRedirectUrlRequest: { redirectUrlId, redirectUrl: url } });
    },
    async deleteRedirectUrl(redirectUrlId) {
      await call('DeleteRedirectUrl', { deleteRedirectUrlRequest: { redirectUrlId } });
    },
    async getRedirectUrls(clientId) {
      try {
        const answer = await call('GetRedirectUrls', { getRedirectUrlsRequest: { clientId } });
        return redirectUrlsOf(answer.redirectUrls);
      } catch (error) {
        // Real Creatio has no such method: 404 from the service, or its generic "method not found".
        if (error instanceof OAuthConfigServiceError && (error.status === 404 || error.status === 405)) {
          if (!/ItemNotFound/.test(error.message)) return undefined;
        }
        throw error;
      }
    },
  };
}
