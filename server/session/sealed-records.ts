/**
 * Typed records, sealed, under one kind of storage key: the mechanism under the session store, the token store and
 * the login transactions. A value goes in as JSON and comes out as the same value; a record that does not open (an
 * old key, tampering) reads as absent.
 */
import type { KeyValueBackend } from './backend.ts';
import { type Sealer, storageKey } from './crypto.ts';

export class SealedRecords<T> {
  readonly #backend: KeyValueBackend;
  readonly #sealer: Sealer;
  readonly #kind: Parameters<typeof storageKey>[0];

  constructor(backend: KeyValueBackend, sealer: Sealer, kind: Parameters<typeof storageKey>[0]) {
    this.#backend = backend;
    this.#sealer = sealer;
    this.#kind = kind;
  }

  async get(id: string): Promise<T | undefined> {
    const key = storageKey(this.#kind, id);
    return this.#decode(key, await this.#backend.get(key));
  }

  /** ttlMs: how long the record may outlive this write. */
  async set(id: string, value: T, ttlMs: number): Promise<void> {
    const key = storageKey(this.#kind, id);
    await this.#backend.set(key, this.#sealer.seal(JSON.stringify(value), key), ttlMs);
  }

  /** Reads and deletes in one step; undefined when unknown, already taken or expired. */
  async take(id: string): Promise<T | undefined> {
    const key = storageKey(this.#kind, id);
    return this.#decode(key, await this.#backend.take(key));
  }

  async touch(id: string, ttlMs: number): Promise<void> {
    await this.#backend.touch(storageKey(this.#kind, id), ttlMs);
  }

  async delete(id: string): Promise<void> {
    await this.#backend.delete(storageKey(this.#kind, id));
  }

  /** Expired records, deleted as they are read; empty when the backend drops expired entries itself (Redis). */
  async takeExpired(limit: number): Promise<T[]> {
    const rows = (await this.#backend.takeExpired?.(`${this.#kind}:`, limit)) ?? [];
    return rows.flatMap(({ key, value }) => this.#decode(key, value) ?? []);
  }

  #decode(key: string, sealed: string | undefined): T | undefined {
    const json = sealed === undefined ? undefined : this.#sealer.open(sealed, key);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }
}
