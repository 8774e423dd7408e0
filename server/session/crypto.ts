/**
 * Sealing for everything the BFF stores: session data, token sets, login transactions.
 *
 * Format: base64url( version(1) ‖ keyId(4) ‖ iv(12) ‖ ciphertext ‖ tag(16) ), AES-256-GCM.
 * Keys are derived once from SESSION_SECRET with HKDF (the secrets themselves may be any long strings). The first
 * secret seals; every secret opens, so `SESSION_SECRET=new,old` rotates without signing anyone out. The record's
 * storage key is the additional authenticated data: a sealed value copied under another key does not open.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 1;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES;

interface DerivedKey {
  readonly id: Buffer;
  readonly key: Buffer;
}

function deriveKey(secret: string): DerivedKey {
  const key = Buffer.from(hkdfSync('sha256', secret, 'creatio-oauth-bff', 'session-encryption/v1', 32));
  // The id names the key without revealing it: a hash of the derived key, not of the secret.
  const id = createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
  return { id, key };
}

export interface Sealer {
  seal(plaintext: string, aad: string): string;
  /** undefined when the value is malformed, sealed under an unknown key, or was tampered with. */
  open(sealed: string, aad: string): string | undefined;
}

export function createSealer(secrets: readonly string[]): Sealer {
  if (secrets.length === 0) throw new Error('createSealer needs at least one secret');
  const keys = secrets.map(deriveKey);
  const current = keys[0]!;

  return {
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.of(VERSION), current.id, iv, ciphertext, cipher.getAuthTag()]).toString(
        'base64url',
      );
    },

    open(sealed, aad) {
      const bytes = Buffer.from(sealed, 'base64url');
      if (bytes.length < HEADER_BYTES + TAG_BYTES || bytes[0] !== VERSION) return undefined;
      const keyId = bytes.subarray(1, 1 + KEY_ID_BYTES);
      const key = keys.find((k) => k.id.equals(keyId));
      if (!key) return undefined;
      const iv = bytes.subarray(1 + KEY_ID_BYTES, HEADER_BYTES);
      const ciphertext = bytes.subarray(HEADER_BYTES, bytes.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key.key, iv);
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
      } catch {
        return undefined; // wrong key or tampered: treated as absent, the user signs in again
      }
    },
  };
}

/**
 * Storage keys hold a hash of the session id, not the id itself: a copy of the session database does not hand out
 * cookies that would still work.
 */
export function storageKey(
  kind: 'sess' | 'tokens' | 'tx' | 'by-user' | 'by-idp-session' | 'logout-jti',
  id: string,
): string {
  return `${kind}:${createHash('sha256').update(id).digest('base64url')}`;
}
