import type { Cookie, SessionData } from 'express-session';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryBackend, type KeyValueBackend } from '../../server/session/backend.ts';
import { createSealer, storageKey } from '../../server/session/crypto.ts';
import { SealedSessionStore } from '../../server/session/store.ts';
import { type TokenSet, TokenStore } from '../../server/session/token-store.ts';
import { LOGIN_TRANSACTION_TTL_MS, LoginTransactions } from '../../server/session/transactions.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const SECRET = 'unit-test-secret-unit-test-secret-unit-test';
const lifetime = { idleMs: 30 * MINUTE, maxMs: 8 * HOUR };

/** A clock the test moves by hand; the backend and the store read the same one. */
function manualClock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

let clock: ReturnType<typeof manualClock>;
let backend: KeyValueBackend;
let store: SealedSessionStore;

beforeEach(() => {
  clock = manualClock();
  backend = createMemoryBackend(clock.now);
  store = new SealedSessionStore(backend, createSealer([SECRET]), lifetime, clock.now);
});

afterEach(async () => {
  await backend.close();
});

function sessionData(signedInAt = clock.now()): SessionData {
  return {
    cookie: { originalMaxAge: null } as Cookie,
    user: { sub: 'user-1', name: 'Alice Anderson', email: 'alice@example.com' },
    signedInAt,
    idpSessionId: 'idp-sid-1',
    csrfToken: 'csrf-token-1',
  };
}

function tokenSet(refreshToken: string): TokenSet {
  return {
    accessToken: 'access',
    refreshToken,
    idToken: undefined,
    expiresAt: clock.now() + HOUR,
    receivedAt: clock.now(),
    scope: undefined,
  };
}

// express-session's Store speaks callbacks; the tests speak promises.
const get = (sid: string) =>
  new Promise<SessionData | null | undefined>((resolve, reject) =>
    store.get(sid, (err, value) => (err ? reject(err) : resolve(value))),
  );
const set = (sid: string, data: SessionData) =>
  new Promise<void>((resolve, reject) => store.set(sid, data, (err) => (err ? reject(err) : resolve())));
const touch = (sid: string, data: SessionData) =>
  new Promise<void>((resolve, reject) => store.touch(sid, data, (err) => (err ? reject(err) : resolve())));
const destroy = (sid: string) =>
  new Promise<void>((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve())));

describe('SealedSessionStore', () => {
  it('returns what was set', async () => {
    const data = sessionData();
    await set('sid-1', data);
    expect(await get('sid-1')).toEqual(data);
    expect(await get('sid-unknown')).toBeNull();
  });

  it('stores an opaque value under a hashed key', async () => {
    await set('sid-1', sessionData());
    const stored = await backend.get(storageKey('sess', 'sid-1'));
    expect(stored).toBeTypeOf('string');
    for (const plain of ['Alice', 'alice@example.com', 'user-1', 'csrf-token-1', 'idp-sid-1', 'sid-1']) {
      expect(stored).not.toContain(plain);
    }
    expect(await backend.get('sid-1')).toBeUndefined();
  });

  it('treats a record that does not open (wrong secret) as absent', async () => {
    await set('sid-1', sessionData());
    const otherSecret = new SealedSessionStore(
      backend,
      createSealer([`${SECRET}-other`]),
      lifetime,
      clock.now,
    );
    const found = await new Promise((resolve) => otherSecret.get('sid-1', (_err, value) => resolve(value)));
    expect(found).toBeNull();
  });

  it('expires after the idle timeout', async () => {
    await set('sid-1', sessionData());
    clock.advance(lifetime.idleMs - 1);
    expect(await get('sid-1')).not.toBeNull();
    clock.advance(1);
    expect(await get('sid-1')).toBeNull();
  });

  it('restarts the idle timeout on touch', async () => {
    const data = sessionData();
    await set('sid-1', data);
    clock.advance(20 * MINUTE);
    await touch('sid-1', data);
    clock.advance(20 * MINUTE);
    expect(await get('sid-1')).toEqual(data);
  });

  it('ends at signedInAt + SESSION_MAX_HOURS however often it is touched', async () => {
    const data = sessionData();
    await set('sid-1', data);
    // an active user: a request every 10 minutes, never idle
    while (clock.now() + 10 * MINUTE < data.signedInAt + lifetime.maxMs) {
      clock.advance(10 * MINUTE);
      await touch('sid-1', data);
      expect(await get('sid-1')).not.toBeNull();
    }
    clock.advance(data.signedInAt + lifetime.maxMs - clock.now());
    expect(await get('sid-1')).toBeNull();
  });

  it('cuts the idle timeout short near the absolute end', async () => {
    const data = sessionData();
    clock.advance(lifetime.maxMs - 5 * MINUTE);
    expect(store.ttlMs(data)).toBe(5 * MINUTE);
    expect(store.ttlMs({})).toBe(lifetime.idleMs);
  });

  it('does not store a session whose absolute lifetime is over', async () => {
    await set('sid-1', sessionData(clock.now() - lifetime.maxMs));
    expect(await backend.get(storageKey('sess', 'sid-1'))).toBeUndefined();
  });

  it('drops a stored record once its absolute lifetime is over, even if the backend still has it', async () => {
    const data = sessionData();
    await set('sid-1', data);
    // the backend keeps it longer than the store allows (e.g. written under a longer SESSION_MAX_HOURS)
    const key = storageKey('sess', 'sid-1');
    await backend.touch(key, 10 * HOUR);
    clock.advance(lifetime.maxMs);
    expect(await get('sid-1')).toBeNull();
    expect(await backend.get(key)).toBeUndefined();
  });

  it('leaves the token set expired, not deleted, when the absolute lifetime ends it (for the expiry sweep)', async () => {
    const tokenStore = new TokenStore(backend, createSealer([SECRET]));
    const data = sessionData();
    await tokenStore.set('sid-1', tokenSet('refresh-to-revoke'), lifetime.idleMs);
    await set('sid-1', data);
    await backend.touch(storageKey('sess', 'sid-1'), 10 * HOUR);
    await backend.touch(storageKey('tokens', 'sid-1'), 10 * HOUR);
    clock.advance(lifetime.maxMs);
    expect(await get('sid-1')).toBeNull();
    expect(await tokenStore.get('sid-1')).toBeUndefined();
    expect((await tokenStore.takeExpired(10)).map((t) => t.refreshToken)).toEqual(['refresh-to-revoke']);
  });

  it('takes the token set with it when destroyed on purpose (sign-out revokes it itself)', async () => {
    const tokenStore = new TokenStore(backend, createSealer([SECRET]));
    await tokenStore.set('sid-1', tokenSet('refresh-1'), lifetime.idleMs);
    await set('sid-1', sessionData());
    await destroy('sid-1');
    expect(await tokenStore.get('sid-1')).toBeUndefined();
    expect(await tokenStore.takeExpired(10)).toEqual([]);
  });

  it('keeps the session and its token set on one lifetime through set and touch', async () => {
    const tokenStore = new TokenStore(backend, createSealer([SECRET]));
    const data = sessionData();
    await tokenStore.set('sid-1', tokenSet('refresh-1'), 8 * HOUR);
    await set('sid-1', data);
    clock.advance(20 * MINUTE);
    await touch('sid-1', data);
    const sess = await backend.expiresAt(storageKey('sess', 'sid-1'));
    expect(sess).toBe(clock.now() + lifetime.idleMs);
    expect(await backend.expiresAt(storageKey('tokens', 'sid-1'))).toBe(sess);
  });

  it('forgets a destroyed session', async () => {
    await set('sid-1', sessionData());
    await set('sid-2', sessionData());
    await destroy('sid-1');
    expect(await get('sid-1')).toBeNull();
    expect(await get('sid-2')).not.toBeNull();
  });
});

describe('TokenStore', () => {
  const tokens: TokenSet = {
    accessToken: 'eyJ.access-token.sig',
    refreshToken: 'refresh-token-1',
    idToken: 'eyJ.id-token.sig',
    expiresAt: Date.UTC(2025, 0, 1, 1),
    receivedAt: Date.UTC(2025, 0, 1),
    scope: 'openid offline_access',
  };

  it('round-trips a token set, sealed, and deletes it', async () => {
    const tokenStore = new TokenStore(backend, createSealer([SECRET]));
    await tokenStore.set('sid-1', tokens, HOUR);
    expect(await tokenStore.get('sid-1')).toEqual(tokens);
    expect(await tokenStore.get('sid-2')).toBeUndefined();

    const stored = await backend.get(storageKey('tokens', 'sid-1'));
    for (const secret of ['access-token', 'refresh-token-1', 'id-token'])
      expect(stored).not.toContain(secret);

    await tokenStore.delete('sid-1');
    expect(await tokenStore.get('sid-1')).toBeUndefined();
  });

  it('keeps the token set only for the given time', async () => {
    const tokenStore = new TokenStore(backend, createSealer([SECRET]));
    await tokenStore.set('sid-1', tokens, HOUR);
    clock.advance(HOUR);
    expect(await tokenStore.get('sid-1')).toBeUndefined();
  });
});

describe('LoginTransactions', () => {
  const tx = {
    state: 'state-1',
    nonce: 'nonce-1',
    codeVerifier: 'verifier-1',
    returnTo: '/accounts',
    browserBinding: 'binding-1',
    createdAt: Date.UTC(2025, 0, 1),
  };

  it('gives a transaction back once only', async () => {
    const transactions = new LoginTransactions(backend, createSealer([SECRET]));
    await transactions.save(tx);
    const stored = await backend.get(storageKey('tx', 'state-1'));
    expect(stored).not.toContain('verifier-1');

    expect(await transactions.take('state-1')).toEqual(tx);
    expect(await transactions.take('state-1')).toBeUndefined();
    expect(await transactions.take('state-unknown')).toBeUndefined();
  });

  it('keeps several sign-ins (tabs) apart', async () => {
    const transactions = new LoginTransactions(backend, createSealer([SECRET]));
    await transactions.save(tx);
    await transactions.save({ ...tx, state: 'state-2', returnTo: '/contacts' });
    expect((await transactions.take('state-2'))?.returnTo).toBe('/contacts');
    expect((await transactions.take('state-1'))?.returnTo).toBe('/accounts');
  });

  it('expires after 10 minutes', async () => {
    expect(LOGIN_TRANSACTION_TTL_MS).toBe(10 * MINUTE);
    const transactions = new LoginTransactions(backend, createSealer([SECRET]));
    await transactions.save(tx);
    await transactions.save({ ...tx, state: 'state-2' });
    clock.advance(10 * MINUTE - 1);
    expect(await transactions.take('state-1')).toEqual(tx);
    clock.advance(1);
    expect(await transactions.take('state-2')).toBeUndefined();
  });
});
