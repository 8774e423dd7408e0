/**
 * A session reference for log lines: a short keyed hash of the session id, the same for every request of one
 * session and on every instance sharing SESSION_SECRET. It identifies the session in the logs without being it:
 * the id cannot be recovered from it, and without the secret it cannot be matched to a storage key either.
 */
import { createHmac, hkdfSync } from 'node:crypto';

export type SessionRef = (sessionId: string) => string;

/** Sessions remembered at once; past that the memo starts afresh (simpler than LRU, as good for a working set). */
const MEMO_SIZE = 10_000;

export function createSessionRef(secret: string): SessionRef {
  const key = Buffer.from(hkdfSync('sha256', secret, '', 'creatio-bff log session reference', 32));
  // An HMAC costs more than the rest of the log line; a session makes many requests, so each is hashed once.
  const memo = new Map<string, string>();
  return (sessionId) => {
    let ref = memo.get(sessionId);
    if (ref === undefined) {
      if (memo.size >= MEMO_SIZE) memo.clear();
      ref = createHmac('sha256', key).update(sessionId).digest('base64url').slice(0, 12);
      memo.set(sessionId, ref);
    }
    return ref;
  };
}
