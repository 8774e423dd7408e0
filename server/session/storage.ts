/**
 * Opens the backend named by SESSION_STORE once at start-up and builds on it the sealed stores, the session index,
 * and the lock that keeps token refreshes to one per session: across instances when the backend is shared (Redis),
 * in-process otherwise.
 */
import type { Config } from '../config.ts';
import {
  createInProcessRefreshLock,
  createRedisRefreshLock,
  type RefreshLock,
} from '../tokens/refresh-lock.ts';
import { createMemoryBackend, type KeyValueBackend } from './backend.ts';
import { createSealer } from './crypto.ts';
import { createRedisBackend, isRedisBackend } from './redis-backend.ts';
import { SessionIndex } from './session-index.ts';
import { createSqliteBackend } from './sqlite-backend.ts';
import { SealedSessionStore, type SessionLifetime } from './store.ts';
import { TokenStore } from './token-store.ts';
import { LoginTransactions } from './transactions.ts';

export interface SessionStorage {
  readonly backend: KeyValueBackend;
  readonly sessions: SealedSessionStore;
  readonly tokens: TokenStore;
  readonly transactions: LoginTransactions;
  /** Which sessions belong to a user and to an Identity Service session (back-channel logout, "your sessions"). */
  readonly index: SessionIndex;
  readonly lifetime: SessionLifetime;
  /** One refresh per session at a time, on every instance that shares this storage. */
  readonly refreshLock: RefreshLock;
  close(): Promise<void>;
}

export async function openBackend(config: Pick<Config, 'sessionStore'>): Promise<KeyValueBackend> {
  const store = config.sessionStore;
  switch (store.kind) {
    case 'memory':
      return createMemoryBackend();
    case 'sqlite':
      return createSqliteBackend(store.path);
    case 'redis':
      return createRedisBackend(store.url, store.prefix);
  }
}

export async function openSessionStorage(
  config: Pick<Config, 'sessionStore' | 'sessionSecrets' | 'sessionIdleMinutes' | 'sessionMaxHours'> &
    Partial<Pick<Config, 'httpTimeoutMs' | 'loginMaxPending'>>,
  backend?: KeyValueBackend,
): Promise<SessionStorage> {
  const kv = backend ?? (await openBackend(config));
  // A refresh is at most a discovery and a token request, each bounded by HTTP_TIMEOUT_MS.
  const refreshTimeoutMs = 2 * (config.httpTimeoutMs ?? 10_000);
  const sealer = createSealer(config.sessionSecrets);
  const lifetime = { idleMs: config.sessionIdleMinutes * 60_000, maxMs: config.sessionMaxHours * 3_600_000 };
  return {
    backend: kv,
    sessions: new SealedSessionStore(kv, sealer, lifetime),
    tokens: new TokenStore(kv, sealer),
    transactions: new LoginTransactions(kv, sealer, config.loginMaxPending),
    index: new SessionIndex(kv, sealer, lifetime.maxMs),
    lifetime,
    refreshLock: isRedisBackend(kv)
      ? createRedisRefreshLock({ redis: kv, refreshTimeoutMs })
      : createInProcessRefreshLock(),
    close: () => kv.close(),
  };
}
