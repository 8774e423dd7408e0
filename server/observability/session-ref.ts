/**
 * A session reference for log lines: a short keyed hash of the session id, the same for every request of one
 * session and on every instance sharing SESSION_SECRET. It identifies the session in the logs without being it:
 * the id cannot be recovered from it, and without the secret it cannot be matched to a storage key either.
 */
import { createHmac, hkdfSync } from 'node:crypto';

export type SessionRef = (sessionId: string) => string;

export function createSessionRef(secret: string): SessionRef {
  const key = Buffer.from(hkdfSync('sha256', secret, '', 'creatio-bff log session reference', 32));
  return (sessionId) => createHmac('sha256', key).update(sessionId).digest('base64url').slice(0, 12);
}
