/**
 * Ends a session everywhere the BFF keeps it: the session record and its token set. For code that ends a session
 * other than the one of the request at hand's own express-session — a refresh that failed for good, and (later)
 * back-channel logout. Sign-out destroys through req.session instead, which also detaches the request
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
