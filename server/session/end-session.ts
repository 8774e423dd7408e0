/**
 * Ends a session everywhere the BFF keeps it: the session record and its token set. Used by sign-out, by a refresh
 * that failed for good, and (later) by back-channel logout.
 */
import type { SessionStorage } from './storage.ts';

export async function endSession(storage: SessionStorage, sessionId: string): Promise<void> {
  await Promise.all([
    storage.tokens.delete(sessionId),
    new Promise<void>((resolve, reject) =>
      storage.sessions.destroy(sessionId, (err) => (err ? reject(err) : resolve())),
    ),
  ]);
}
