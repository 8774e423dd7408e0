/**
 * Creatio's OAuthConfigService (seed 004): the web service that manages "OAuth 2.0 integrated applications" and
 * their redirect URLs. Backed by the sandbox's ClientRegistry, which the Identity Service reads on every request,
 * so a redirect URL added here is accepted by the authorize endpoint at once.
 *
 * Every method is `POST /0/rest/OAuthConfigService/<Method>` with the request wrapped in one named property
 * (`{"addClientRequest": {…}}`), and answers in the configuration-service style:
 * `{"success": true, "errorInfo": null, …result}` or `{"success": false, "errorInfo": {"errorCode", "message"}}`.
 * Only a system administrator may call it; mount it after `requireBearerToken`.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { ClientRegistry, GrantType, RedirectUrl, RegisteredClient } from './client-registry.ts';
import { principalOf } from './odata/bearer.ts';
import { isGuid } from './odata/entities.ts';

export class ConfigServiceError extends Error {
  readonly status: number;
  readonly errorCode: string;

  constructor(status: number, errorCode: string, message: string) {
    super(message);
    this.name = 'ConfigServiceError';
    this.status = status;
    this.errorCode = errorCode;
  }
}

type Fields = Record<string, unknown>;

/** The object under the method's request property, e.g. `body.addClientRequest`. */
function requestObject(body: unknown, property: string): Fields {
  const value = (body as Fields | undefined)?.[property];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigServiceError(
      400,
      'ArgumentNullOrEmptyException',
      `The request body must be a JSON object with the property '${property}'.`,
    );
  }
  return value as Fields;
}

function requiredString(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigServiceError(400, 'ArgumentNullOrEmptyException', `The parameter '${name}' is required.`);
  }
  return value.trim();
}

function optionalString(fields: Fields, name: string): string | undefined {
  return fields[name] === undefined || fields[name] === null ? undefined : requiredString(fields, name);
}

/** A redirect URL must be absolute http(s) without a fragment (RFC 6749 §3.1.2); it is matched exactly later. */
function requireRedirectUrl(url: string, parameter: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigServiceError(
      400,
      'ArgumentException',
      `The ${parameter} '${url}' is not an absolute URL.`,
    );
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.hash !== '') {
    throw new ConfigServiceError(
      400,
      'ArgumentException',
      `The ${parameter} '${url}' must be an http or https URL without a fragment.`,
    );
  }
  return url;
}

function findClient(registry: ClientRegistry, clientId: string): RegisteredClient {
  const client =
    registry.get(clientId) ??
    registry.list().find((c) => c.clientId.toUpperCase() === clientId.toUpperCase());
  if (!client) {
    throw new ConfigServiceError(
      404,
      'ItemNotFoundException',
      `No integrated application has the client id '${clientId}'.`,
    );
  }
  return client;
}

function findRedirectUrl(registry: ClientRegistry, redirectUrlId: string): RedirectUrl {
  for (const client of registry.list()) {
    const found = client.redirectUrls.find((r) => r.id.toUpperCase() === redirectUrlId.toUpperCase());
    if (found) return found;
  }
  throw new ConfigServiceError(
    404,
    'ItemNotFoundException',
    `No redirect URL has the id '${redirectUrlId}'.`,
  );
}

function succeed(res: Response, result: Record<string, unknown>): void {
  res.json({ success: true, errorInfo: null, ...result });
}

export function createOAuthConfigServiceRouter(options: { readonly registry: ClientRegistry }): Router {
  const { registry } = options;

  function requireSystemAdministrator(_req: Request, res: Response, next: NextFunction): void {
    if (!principalOf(res)?.isSystemAdministrator) {
      throw new ConfigServiceError(
        403,
        'SecurityException',
        'Insufficient permissions: only a system administrator may manage OAuth 2.0 integrated applications.',
      );
    }
    next();
  }

  function handleAddClient(req: Request, res: Response): void {
    const request = requestObject(req.body, 'addClientRequest');
    const name = requiredString(request, 'name');
    const applicationUrl = requiredString(request, 'applicationUrl');
    const grantType = requiredString(request, 'grantType');
    const redirectUrl = optionalString(request, 'redirectUrl');
    const systemUserId = optionalString(request, 'systemUserId');
    let grantTypes: GrantType[];
    if (grantType === 'authorization_code') {
      if (!redirectUrl) {
        throw new ConfigServiceError(
          400,
          'ArgumentNullOrEmptyException',
          "The parameter 'redirectUrl' is required with grantType 'authorization_code'.",
        );
      }
      if (systemUserId) {
        throw new ConfigServiceError(
          400,
          'ArgumentException',
          "The parameter 'systemUserId' is used only with grantType 'client_credentials'.",
        );
      }
      requireRedirectUrl(redirectUrl, 'redirectUrl');
      grantTypes = ['authorization_code', 'refresh_token'];
    } else if (grantType === 'client_credentials') {
      if (!systemUserId || !isGuid(systemUserId)) {
        throw new ConfigServiceError(
          400,
          'ArgumentNullOrEmptyException',
          "The parameter 'systemUserId' (the technical user's id, a GUID) is required with grantType 'client_credentials'.",
        );
      }
      if (redirectUrl) {
        throw new ConfigServiceError(
          400,
          'ArgumentException',
          "The parameter 'redirectUrl' is used only with grantType 'authorization_code'.",
        );
      }
      grantTypes = ['client_credentials'];
    } else {
      throw new ConfigServiceError(
        400,
        'ArgumentException',
        `The grantType '${grantType}' is not supported; use 'authorization_code' or 'client_credentials'.`,
      );
    }
    const client = registry.add({
      name,
      applicationUrl,
      grantTypes,
      redirectUrls: redirectUrl ? [redirectUrl] : [],
      postLogoutRedirectUris: [],
      backchannelLogoutUri: undefined,
      active: true,
      systemUserId,
    });
    succeed(res, { clientId: client.clientId, clientSecret: client.clientSecret });
  }

  function handleAddRedirectUrls(req: Request, res: Response): void {
    const request = requestObject(req.body, 'redirectUrlsRequest');
    const client = findClient(registry, requiredString(request, 'clientId'));
    const urls = request.redirectUrls;
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) {
      throw new ConfigServiceError(
        400,
        'ArgumentNullOrEmptyException',
        "The parameter 'redirectUrls' must be a non-empty list of URLs.",
      );
    }
    if (!client.grantTypes.includes('authorization_code')) {
      throw new ConfigServiceError(
        400,
        'ArgumentException',
        'Redirect URLs apply only to an application with the authorization_code grant.',
      );
    }
    for (const url of urls) {
      requireRedirectUrl(url, 'redirect URL');
      if (client.redirectUrls.some((r) => r.url === url)) {
        throw new ConfigServiceError(
          400,
          'ArgumentException',
          `The redirect URL '${url}' is registered already.`,
        );
      }
    }
    succeed(res, { redirectUrls: registry.addRedirectUrls(client.clientId, urls) });
  }

  function handleUpdateRedirectUrl(req: Request, res: Response): void {
    const request = requestObject(req.body, 'updateRedirectUrlRequest');
    const redirectUrlId = requiredString(request, 'redirectUrlId');
    const url = requireRedirectUrl(requiredString(request, 'redirectUrl'), 'redirectUrl');
    const { id } = findRedirectUrl(registry, redirectUrlId);
    registry.updateRedirectUrl(id, url);
    succeed(res, { redirectUrl: { id, url } });
  }

  function handleDeleteRedirectUrl(req: Request, res: Response): void {
    const request = requestObject(req.body, 'deleteRedirectUrlRequest');
    const redirectUrl = findRedirectUrl(registry, requiredString(request, 'redirectUrlId'));
    registry.deleteRedirectUrl(redirectUrl.id);
    succeed(res, { redirectUrl });
  }

  /**
   * Sandbox extension, not part of Creatio's documented OAuthConfigService: lists a client's redirect URLs (with
   * their ids, which Update/Delete need) so the QA command line can show them. In Creatio, read them on the
   * integration's page in the "OAuth 2.0 integrated applications" section.
   */
  function handleGetRedirectUrls(req: Request, res: Response): void {
    const request = requestObject(req.body, 'getRedirectUrlsRequest');
    const client = findClient(registry, requiredString(request, 'clientId'));
    succeed(res, { clientId: client.clientId, redirectUrls: client.redirectUrls });
  }

  function handleUnknownMethod(req: Request): never {
    throw new ConfigServiceError(404, 'NotFound', `OAuthConfigService has no method '${req.path.slice(1)}'.`);
  }

  /** Errors of this service keep its own answer shape; body-parser's 4xx become ArgumentException. */
  function handleConfigServiceError(error: unknown, _req: Request, res: Response, next: NextFunction): void {
    const status = (error as { status?: unknown }).status;
    if (error instanceof ConfigServiceError) {
      res
        .status(error.status)
        .json({ success: false, errorInfo: { errorCode: error.errorCode, message: error.message } });
    } else if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({
        success: false,
        errorInfo: { errorCode: 'ArgumentException', message: 'The request body is not valid JSON.' },
      });
    } else {
      next(error);
    }
  }

  const router = express.Router();
  router.use(requireSystemAdministrator);
  router.use(express.json({ limit: '100kb' }));
  router.post('/AddClient', handleAddClient);
  router.post('/AddRedirectUrls', handleAddRedirectUrls);
  router.post('/UpdateRedirectUrl', handleUpdateRedirectUrl);
  router.post('/DeleteRedirectUrl', handleDeleteRedirectUrl);
  router.post('/GetRedirectUrls', handleGetRedirectUrls);
  router.use(handleUnknownMethod);
  router.use(handleConfigServiceError);
  return router;
}
