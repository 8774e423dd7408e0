/**
 * Ends a session everywhere the BFF keeps it: the session record and its token set. For code that has only the
 * session id at hand — a refresh that failed for good (it runs below the request), back-channel logout (no browser
 * at all) and "your sessions" (another browser's session; user-sessions.ts). Sign-out destroys through req.session instead, which also detaches the request
 * (auth/logout.ts).
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
