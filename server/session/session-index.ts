/**
 * The session index: which sessions belong to a user (`sub`) and to an Identity Service session (`sid`). Back-channel
 * logout ends sessions by `sid` or `sub`; "your sessions" lists and ends a user's own. Written once per sign-in.
 *
 * Each index is a backend group (backend.ts) under a hashed key, one member per session, named by a hash of the
 * session id (like storage keys), its value sealed with the group key and member as additional data. So a copy of the
 * store shows neither who the user is nor a working session id. Entries expire with the session's absolute lifetime;
 * an entry whose session has ended earlier (sign-out, idle expiry, a new session id at sign-in) is stale, and readers
 * verify every entry against the session store (user-sessions.ts), dropping stale ones as they go.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KeyValueBackend } from './backend.ts';
import { type Sealer, storageKey } from './crypto.ts';

export interface IndexEntry {
  /** Opaque and random: how a page names a session. The session id itself never leaves the server. */
  readonly handle: string;
  readonly sessionId: string;
  readonly sub: string;
  /** The Identity Service's session id (the ID token's `sid`), when it sent one. */
  readonly idpSessionId: string | undefined;
  /** Epoch ms of sign-in. */
  readonly startedAt: number;
  /** The User-Agent that signed in, cut to a sane length. */
  readonly userAgent: string | undefined;
}

const USER_AGENT_MAX_LENGTH = 512;

function memberOf(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url');
}

export class SessionIndex {
  readonly #backend: KeyValueBackend;
  readonly #sealer: Sealer;
  readonly #maxMs: number;

  /** maxMs: the absolute session lifetime; no entry needs to outlive it. */
  constructor(backend: KeyValueBackend, sealer: Sealer, maxMs: number) {
    this.#backend = backend;
    this.#sealer = sealer;
    this.#maxMs = maxMs;
  }

  async add(session: Omit<IndexEntry, 'handle'>): Promise<IndexEntry> {
    const entry: IndexEntry = {
      ...session,
      handle: randomBytes(16).toString('base64url'),
      userAgent: session.userAgent?.slice(0, USER_AGENT_MAX_LENGTH),
    };
    const ttlMs = entry.startedAt + this.#maxMs - Date.now();
    await Promise.all(this.#groupsOf(entry).map((group) => this.#put(group, entry, ttlMs)));
    return entry;
  }

  ofUser(sub: string): Promise<IndexEntry[]> {
    return this.#read(storageKey('by-user', sub));
  }

  ofIdpSession(idpSessionId: string): Promise<IndexEntry[]> {
    return this.#read(storageKey('by-idp-session', idpSessionId));
  }

  async remove(entry: IndexEntry): Promise<void> {
    const member = memberOf(entry.sessionId);
    await Promise.all(this.#groupsOf(entry).map((group) => this.#backend.removeMember(group, member)));
  }

  #groupsOf(entry: IndexEntry): string[] {
    const groups = [storageKey('by-user', entry.sub)];
    if (entry.idpSessionId) groups.push(storageKey('by-idp-session', entry.idpSessionId));
    return groups;
  }

  async #put(group: string, entry: IndexEntry, ttlMs: number): Promise<void> {
    const member = memberOf(entry.sessionId);
    const sealed = this.#sealer.seal(JSON.stringify(entry), `${group}/${member}`);
    await this.#backend.putMember(group, member, sealed, ttlMs);
  }

  async #read(group: string): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    for (const [member, sealed] of await this.#backend.members(group)) {
      const json = this.#sealer.open(sealed, `${group}/${member}`);
      // Sealed under a retired SESSION_SECRET (its session no longer opens either) or tampered with: not ours.
      if (json === undefined) await this.#backend.removeMember(group, member);
      else entries.push(JSON.parse(json) as IndexEntry);
    }
    return entries;
  }
}
