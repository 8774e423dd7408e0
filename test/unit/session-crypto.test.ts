import { describe, expect, it } from 'vitest';
import { createSealer, storageKey } from '../../server/session/crypto.ts';

const OLD = 'old-secret-old-secret-old-secret-old-secret';
const NEW = 'new-secret-new-secret-new-secret-new-secret';
const KEY = storageKey('sess', 'the-session-id');
const PLAINTEXT = JSON.stringify({ user: { sub: 'u-1', name: 'Alice Example', email: 'alice@example.com' } });

/** Re-encodes the sealed bytes after `change`: tampering with the bytes, not with base64 spelling. */
function editBytes(sealed: string, change: (bytes: Buffer) => Buffer): string {
  return change(Buffer.from(sealed, 'base64url')).toString('base64url');
}

describe('createSealer', () => {
  it('opens what it sealed', () => {
    const sealer = createSealer([NEW]);
    expect(sealer.open(sealer.seal(PLAINTEXT, KEY), KEY)).toBe(PLAINTEXT);
    expect(sealer.open(sealer.seal('', KEY), KEY)).toBe('');
    expect(sealer.open(sealer.seal('ünïcødé ✓', KEY), KEY)).toBe('ünïcødé ✓');
  });

  it('produces opaque output that differs every time (fresh IV)', () => {
    const sealer = createSealer([NEW]);
    const first = sealer.seal(PLAINTEXT, KEY);
    const second = sealer.seal(PLAINTEXT, KEY);
    expect(first).not.toBe(second);
    expect(first).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first).not.toContain('Alice');
    expect(Buffer.from(first, 'base64url').toString('latin1')).not.toContain('alice@example.com');
  });

  it('refuses to work without a secret', () => {
    expect(() => createSealer([])).toThrow(/at least one secret/);
  });

  it('binds a value to its storage key: copied under another key it does not open', () => {
    const sealer = createSealer([NEW]);
    const sealed = sealer.seal(PLAINTEXT, storageKey('sess', 'session-a'));
    expect(sealer.open(sealed, storageKey('sess', 'session-b'))).toBeUndefined();
    // nor under the same id in another store (a session record is no token set)
    expect(sealer.open(sealed, storageKey('tokens', 'session-a'))).toBeUndefined();
    expect(sealer.open(sealed, storageKey('sess', 'session-a'))).toBe(PLAINTEXT);
  });

  it('returns undefined when any single byte was changed', () => {
    const sealer = createSealer([NEW]);
    const sealed = sealer.seal(PLAINTEXT, KEY);
    const length = Buffer.from(sealed, 'base64url').length;
    // every position: version, key id, IV, ciphertext and tag
    for (let i = 0; i < length; i++) {
      const tampered = editBytes(sealed, (bytes) => {
        const copy = Buffer.from(bytes);
        copy[i] = (copy[i] ?? 0) ^ 0x01;
        return copy;
      });
      expect(sealer.open(tampered, KEY), `byte ${i}`).toBeUndefined();
    }
  });

  it('returns undefined for truncated, extended, garbage and empty input', () => {
    const sealer = createSealer([NEW]);
    const sealed = sealer.seal(PLAINTEXT, KEY);
    const bytes = Buffer.from(sealed, 'base64url');
    for (const cut of [0, 1, 5, 17, 33, bytes.length - 16, bytes.length - 1]) {
      expect(
        sealer.open(bytes.subarray(0, cut).toString('base64url'), KEY),
        `first ${cut} bytes`,
      ).toBeUndefined();
    }
    expect(sealer.open(Buffer.concat([bytes, Buffer.of(0)]).toString('base64url'), KEY)).toBeUndefined();
    expect(sealer.open('', KEY)).toBeUndefined();
    expect(sealer.open('not sealed at all', KEY)).toBeUndefined();
    expect(sealer.open('{"user":"alice"}', KEY)).toBeUndefined();
    expect(sealer.open('A'.repeat(200), KEY)).toBeUndefined();
  });

  it('returns undefined for another format version', () => {
    const sealer = createSealer([NEW]);
    const sealed = sealer.seal(PLAINTEXT, KEY);
    for (const version of [0, 2, 255]) {
      const other = editBytes(sealed, (bytes) => Buffer.concat([Buffer.of(version), bytes.subarray(1)]));
      expect(sealer.open(other, KEY)).toBeUndefined();
    }
  });

  it('does not open values sealed under an unrelated secret', () => {
    const sealed = createSealer([OLD]).seal(PLAINTEXT, KEY);
    expect(createSealer([NEW]).open(sealed, KEY)).toBeUndefined();
  });
});

describe('createSealer: rotation (SESSION_SECRET=new,old)', () => {
  it('opens values sealed under the old secret', () => {
    const sealed = createSealer([OLD]).seal(PLAINTEXT, KEY);
    expect(createSealer([NEW, OLD]).open(sealed, KEY)).toBe(PLAINTEXT);
  });

  it('seals new values with the first secret only', () => {
    const sealed = createSealer([NEW, OLD]).seal(PLAINTEXT, KEY);
    expect(createSealer([OLD]).open(sealed, KEY)).toBeUndefined();
    expect(createSealer([NEW]).open(sealed, KEY)).toBe(PLAINTEXT);
  });

  it('no longer opens values of a secret that was removed from the list', () => {
    const sealed = createSealer([OLD]).seal(PLAINTEXT, KEY);
    expect(createSealer([NEW, OLD]).open(sealed, KEY)).toBe(PLAINTEXT);
    expect(createSealer([NEW]).open(sealed, KEY)).toBeUndefined();
  });

  it('does not depend on the order of the secrets for opening', () => {
    const sealedOld = createSealer([OLD]).seal('o', KEY);
    const sealedNew = createSealer([NEW]).seal('n', KEY);
    const sealer = createSealer([NEW, OLD]);
    expect(sealer.open(sealedOld, KEY)).toBe('o');
    expect(sealer.open(sealedNew, KEY)).toBe('n');
  });
});

describe('storageKey', () => {
  it('names the kind and hashes the id, so a copy of the store hands out no usable session id', () => {
    const id = 'S3ss10n-Id_that.is-secret';
    const key = storageKey('sess', id);
    expect(key).toMatch(/^sess:[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain(id);
    expect(key).not.toContain('S3ss10n');
  });

  it('is stable for one id and distinct across ids and kinds', () => {
    expect(storageKey('tokens', 'abc')).toBe(storageKey('tokens', 'abc'));
    expect(storageKey('tokens', 'abc')).not.toBe(storageKey('tokens', 'abd'));
    const keys = (['sess', 'tokens', 'tx'] as const).map((kind) => storageKey(kind, 'abc'));
    expect(new Set(keys).size).toBe(3);
  });
});
