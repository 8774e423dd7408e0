/**
 * Typed records, sealed, under one kind of storage key: the mechanism under the session store, the token store and
 * the login transactions. A value goes in as JSON and comes out as the same value; a record that does not open (an
 * old key, tampering) reads as absent.
 *
 * Opened values are remembered by their ciphertext for the next read: on the proxy's hot path every call reads the
 * same session record and token set, and opening them (AES-GCM) was a measurable share of its CPU. Keyed by the
 * sealed value itself, the memory can never be stale — any write seals anew under a fresh IV, so a changed record
 * is a miss — and it is bound to the storage key it was opened under, so a value copied to another key still has
 * to open there (the AAD check). Each read still gets its own freshly parsed object.
 */
import type { KeyValueBackend } from './backend.ts';
import { type Sealer, storageKey } from './crypto.ts';

/** Opened values remembered per store: enough for the sessions active in the last moments, bounded. */
const OPENED_MEMORY = 2_000;

export class SealedRecords<T> {
  readonly #backend: KeyValueBackend;
  readonly #sealer: Sealer;
  readonly #kind: Parameters<typeof storageKey>[0];
  /** sealed value → [storage key, plaintext JSON], oldest first. */
  readonly #opened = new Map<string, [string, string]>();

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
    if (sealed === undefined) return undefined;
    const json = this.#open(key, sealed);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  #open(key: string, sealed: string): string | undefined {
    const remembered = this.#opened.get(sealed);
    if (remembered !== undefined && remembered[0] === key) return remembered[1];
    const json = this.#sealer.open(sealed, key);
    if (json === undefined) return undefined;
    if (this.#opened.size >= OPENED_MEMORY) this.#opened.delete(this.#opened.keys().next().value!);
    this.#opened.set(sealed, [key, json]);
    return json;
  }
}
