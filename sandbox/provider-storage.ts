/**
 * Where the sandbox Identity Service keeps its state: an oidc-provider adapter.
 *
 * Clients are not stored here: the Client model is answered from the ClientRegistry on every lookup, so what
 * OAuthConfigService changes (a new redirect URL, a cleared "Active" box) counts at once. oidc-provider caches a
 * built client by a hash of its metadata, so a changed client is rebuilt and an unchanged one is reused.
 *
 * Everything else (sessions, interactions, grants, codes, refresh tokens) lives in memory and is gone on restart,
 * which is what a sandbox wants. oidc-provider ships a memory adapter too, but not as a public export.
 */
import type { Adapter, AdapterFactory, AdapterPayload, ClientMetadata } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  /** Epoch ms; Infinity when oidc-provider gave no lifetime. */
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

/** One store shared by all models, with the two indexes oidc-provider looks things up by. */
class MemoryStore {
  readonly #entries = new Map<string, Entry>();
  /** Session uid → entry key (Session.findByUid). */
  readonly #sessionsByUid = new Map<string, string>();
  /** Grant id → keys of the codes and tokens issued under it (revokeByGrantId: logout, refresh-token reuse). */
  readonly #keysByGrant = new Map<string, Set<string>>();
  #lastSweepAt = Date.now();

  get(key: string): AdapterPayload | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(key: string, payload: AdapterPayload, expiresInSeconds: number | undefined): void {
    this.#sweepNowAndThen();
    this.delete(key);
    const expiresAt =
      expiresInSeconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + expiresInSeconds * 1000;
    this.#entries.set(key, { payload, expiresAt });
    if (key.startsWith('Session:') && payload.uid) this.#sessionsByUid.set(payload.uid, key);
    if (payload.grantId) {
      const keys = this.#keysByGrant.get(payload.grantId) ?? new Set<string>();
      keys.add(key);
      this.#keysByGrant.set(payload.grantId, keys);
    }
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    const { uid, grantId } = entry.payload;
    if (uid && this.#sessionsByUid.get(uid) === key) this.#sessionsByUid.delete(uid);
    if (grantId) this.#keysByGrant.get(grantId)?.delete(key);
  }

  keyOfSession(uid: string): string | undefined {
    return this.#sessionsByUid.get(uid);
  }

  deleteGrant(grantId: string): void {
    for (const key of this.#keysByGrant.get(grantId) ?? []) this.delete(key);
    this.#keysByGrant.delete(grantId);
  }

  /** Expired entries are dropped when read; this drops the ones nobody reads again, at most once a minute. */
  #sweepNowAndThen(): void {
    const now = Date.now();
    if (now - this.#lastSweepAt < SWEEP_INTERVAL_MS) return;
    this.#lastSweepAt = now;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.delete(key);
    }
  }
}

class MemoryAdapter implements Adapter {
  readonly #model: string;
  readonly #store: MemoryStore;

  constructor(model: string, store: MemoryStore) {
    this.#model = model;
    this.#store = store;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.#store.set(this.#key(id), payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.#store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const key = this.#store.keyOfSession(uid);
    return key === undefined ? undefined : this.#store.get(key);
  }

  async findByUserCode(): Promise<undefined> {
    return undefined; // the device flow is off
  }

  async consume(id: string): Promise<void> {
    const payload = this.#store.get(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#store.deleteGrant(grantId);
  }
}

/** Read-only: clients are managed in the registry, never by oidc-provider. */
class RegistryClientAdapter implements Adapter {
  readonly #findClient: (clientId: string) => ClientMetadata | undefined;

  constructor(findClient: (clientId: string) => ClientMetadata | undefined) {
    this.#findClient = findClient;
  }

  async find(clientId: string): Promise<AdapterPayload | undefined> {
    return this.#findClient(clientId);
  }

  async upsert(): Promise<void> {
    throw new Error('clients are managed in the ClientRegistry');
  }

  async destroy(): Promise<void> {
    throw new Error('clients are managed in the ClientRegistry');
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {}

  async revokeByGrantId(): Promise<void> {}
}

/**
 * An oidc-provider `adapter` option: the Client model from `findClient`, every other model from one fresh in-memory
 * store (one per Identity Service, so two sandboxes in one test process never share state).
 */
export function createProviderStorage(
  findClient: (clientId: string) => ClientMetadata | undefined,
): AdapterFactory {
  const store = new MemoryStore();
  const clients = new RegistryClientAdapter(findClient);
  return (model) => (model === 'Client' ? clients : new MemoryAdapter(model, store));
}
