/**
 * Opens the backend named by SESSION_STORE once at start-up and builds the sealed stores and the session index on it.
 */
import type { Config } from '../config.ts';
import { createMemoryBackend, type KeyValueBackend } from './backend.ts';
import { createSealer } from './crypto.ts';
import { createRedisBackend } from './redis-backend.ts';
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
      return createRedisBackend(store.url);
  }
}

export async function openSessionStorage(
  config: Pick<Config, 'sessionStore' | 'sessionSecrets' | 'sessionIdleMinutes' | 'sessionMaxHours'>,
  backend?: KeyValueBackend,
): Promise<SessionStorage> {
  const kv = backend ?? (await openBackend(config));
  const sealer = createSealer(config.sessionSecrets);
  const lifetime = { idleMs: config.sessionIdleMinutes * 60_000, maxMs: config.sessionMaxHours * 3_600_000 };
  return {
    backend: kv,
    sessions: new SealedSessionStore(kv, sealer, lifetime),
    tokens: new TokenStore(kv, sealer),
    transactions: new LoginTransactions(kv, sealer),
    index: new SessionIndex(kv, sealer, lifetime.maxMs),
    lifetime,
    close: () => kv.close(),
  };
}
