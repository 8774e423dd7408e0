/**
 * A user's sessions as the index knows them, checked against the session store: recorded at sign-in, listed for
 * "your sessions", ended by back-channel logout and by the user. An index entry counts only while its session record
 * exists and belongs to the same user; anything else is stale and is dropped on the way.
 */
import type { Request } from 'express';
import type session from 'express-session';
import { storageKey } from './crypto.ts';
import { endSession } from './end-session.ts';
import type { IndexEntry } from './session-index.ts';
import type { SessionStorage } from './storage.ts';

/**
 * More live sessions than this per user and the least recently used ones are signed out: the index stays bounded
 * however a client (or a script signing in in a loop) behaves.
 */
export const MAX_SESSIONS_PER_USER = 50;

export interface LiveSession {
  readonly entry: IndexEntry;
  /** Epoch ms of the session's last request (to the idle timeout's precision). */
  readonly lastUsedAt: number;
}

function readSession(storage: SessionStorage, sessionId: string): Promise<session.SessionData | null> {
  return new Promise((resolve, reject) =>
    storage.sessions.get(sessionId, (err, data) => (err ? reject(err) : resolve(data ?? null))),
  );
}

/**
 * The store slides a session's expiry to "last use + idle timeout" on every request (capped by the absolute
 * lifetime), so the expiry says when it was last used without writing anything per request.
 */
async function lastUsedAt(storage: SessionStorage, entry: IndexEntry): Promise<number | undefined> {
  const expiresAt = await storage.backend.expiresAt(storageKey('sess', entry.sessionId));
  if (expiresAt === undefined) return undefined;
  return Math.min(Date.now(), Math.max(entry.startedAt, expiresAt - storage.lifetime.idleMs));
}

/** The user's live sessions, most recently used first. */
export async function liveSessionsOf(storage: SessionStorage, sub: string): Promise<LiveSession[]> {
  // Checked side by side: on Redis the reads share round trips instead of queueing one after the other.
  const checked = await Promise.all(
    (await storage.index.ofUser(sub)).map(async (entry) => {
      const data = await readSession(storage, entry.sessionId);
      const usedAt = data?.user?.sub === entry.sub ? await lastUsedAt(storage, entry) : undefined;
      if (usedAt === undefined) await storage.index.remove(entry);
      return usedAt === undefined ? [] : [{ entry, lastUsedAt: usedAt }];
    }),
  );
  return checked.flat().sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/** Ends the session (its record and token set, on every instance) and drops it from the index. */
export async function endIndexedSession(storage: SessionStorage, entry: IndexEntry): Promise<void> {
  await endSession(storage, entry.sessionId);
  await storage.index.remove(entry);
}

/**
 * Called by the callback once the new session is saved: files it under its user and its Identity Service session.
 * Over the per-user bound, the least recently used sessions are ended.
 */
export async function recordSignIn(storage: SessionStorage, req: Request): Promise<void> {
  const { user, signedInAt, idpSessionId } = req.session;
  if (!user) return;
  await storage.index.add({
    sessionId: req.sessionID,
    sub: user.sub,
    idpSessionId,
    startedAt: signedInAt ?? Date.now(),
    userAgent: req.get('user-agent'),
  });
  const others = (await liveSessionsOf(storage, user.sub)).filter((s) => s.entry.sessionId !== req.sessionID);
  for (const { entry } of others.slice(MAX_SESSIONS_PER_USER - 1)) await endIndexedSession(storage, entry);
}
