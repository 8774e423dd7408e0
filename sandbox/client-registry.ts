/**
 * The sandbox Identity Service's client registry: what Creatio's "OAuth 2.0 integrated applications" section holds.
 * The Identity Service reads it on every request (so a redirect URL added through OAuthConfigService is accepted at
 * once) and the Creatio stand-in's OAuthConfigService writes to it.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

export interface RedirectUrl {
  /** Upper-case GUID, as Creatio shows it in the "Authorized redirect URIs" list. */
  readonly id: string;
  readonly url: string;
}

export interface RegisteredClient {
  readonly clientId: string;
  /** Undefined for a public client: PKCE only, no client authentication at the token endpoint. */
  clientSecret: string | undefined;
  name: string;
  applicationUrl: string;
  grantTypes: GrantType[];
  redirectUrls: RedirectUrl[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | undefined;
  /** Creatio's "Active" checkbox: clearing it revokes access (the token endpoint answers invalid_client). */
  active: boolean;
  /** For client_credentials: the technical user the client acts as. */
  systemUserId: string | undefined;
  /**
   * Creatio's "Permitted users" of an authorization-code application (user ids): only they may authorize it;
   * anyone else comes back with access_denied. Undefined = no list (everyone may).
   */
  permittedUsers: string[] | undefined;
}

export type NewClient = Omit<
  RegisteredClient,
  'clientId' | 'clientSecret' | 'redirectUrls' | 'permittedUsers'
> & {
  clientId?: string;
  /** null: a public client. Undefined: a generated secret. */
  clientSecret?: string | null;
  redirectUrls?: string[];
  permittedUsers?: string[];
};

function newRedirectUrlId(): string {
  return randomUUID().toUpperCase();
}

export class ClientRegistry {
  readonly #clients = new Map<string, RegisteredClient>();
  /** Bumped on every change so caches keyed on it (oidc-provider's client cache) notice. */
  version = 0;

  add(input: NewClient): RegisteredClient {
    const client: RegisteredClient = {
      ...input,
      // Creatio generates 32 hex characters for Client Id and a longer secret.
      clientId: input.clientId ?? randomBytes(16).toString('hex').toUpperCase(),
      clientSecret:
        input.clientSecret === null
          ? undefined
          : (input.clientSecret ?? randomBytes(24).toString('base64url')),
      permittedUsers: input.permittedUsers,
      redirectUrls: (input.redirectUrls ?? []).map((url) => ({ id: newRedirectUrlId(), url })),
    };
    if (this.#clients.has(client.clientId)) throw new Error(`client ${client.clientId} exists already`);
    this.#clients.set(client.clientId, client);
    this.version++;
    return client;
  }

  get(clientId: string): RegisteredClient | undefined {
    return this.#clients.get(clientId);
  }

  list(): RegisteredClient[] {
    return [...this.#clients.values()];
  }

  addRedirectUrls(clientId: string, urls: readonly string[]): RedirectUrl[] {
    const client = this.#clients.get(clientId);
    if (!client) throw new Error(`no client ${clientId}`);
    const added = urls.map((url) => ({ id: newRedirectUrlId(), url }));
    client.redirectUrls.push(...added);
    this.version++;
    return added;
  }

  /** Returns the client that held the redirect URL, or undefined when no client has that id. */
  updateRedirectUrl(redirectUrlId: string, url: string): RegisteredClient | undefined {
    for (const client of this.#clients.values()) {
      const index = client.redirectUrls.findIndex((r) => r.id.toUpperCase() === redirectUrlId.toUpperCase());
      if (index >= 0) {
        client.redirectUrls[index] = { id: client.redirectUrls[index]!.id, url };
        this.version++;
        return client;
      }
    }
    return undefined;
  }

  deleteRedirectUrl(redirectUrlId: string): RegisteredClient | undefined {
    for (const client of this.#clients.values()) {
      const before = client.redirectUrls.length;
      client.redirectUrls = client.redirectUrls.filter(
        (r) => r.id.toUpperCase() !== redirectUrlId.toUpperCase(),
      );
      if (client.redirectUrls.length !== before) {
        this.version++;
        return client;
      }
    }
    return undefined;
  }

  update(clientId: string, change: Partial<Omit<RegisteredClient, 'clientId'>>): RegisteredClient {
    const client = this.#clients.get(clientId);
    if (!client) throw new Error(`no client ${clientId}`);
    Object.assign(client, change);
    this.version++;
    return client;
  }
}
