/**
 * The session reader for /api: what express-session does for a page request, cut down to what a proxied API call
 * needs. express-session re-signs and re-sends the cookie and touches the store on every response and hashes the
 * session id three times; on the proxy's hot path that was the largest single cost (docs/benchmarks.md). This
 * reader keeps every property that matters and drops the repetition:
 *
 * - the same cookie (express-session's `s:<id>.<signature>`), checked against every SESSION_SECRET (rotation);
 * - the same sealed record, read through the same store (`storage.sessions`), so expiry, the absolute lifetime and
 *   store failures behave exactly as they do for pages;
 * - sliding idle expiry: the record, its token set (`keepAlive`) and the cookie are renewed at most once a minute
 *   per session (or a quarter of the idle timeout when that is shorter), instead of on every call;
 * - nothing is ever created or saved here: a request without a signed-in session leaves `req.apiSession` unset and
 *   the route's guard answers 401.
 *
 * Sign-in, sign-out and pages keep using express-session (middleware.ts); both read and write the same records.
 */
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import signature from 'cookie-signature';
import type { RequestHandler, Response } from 'express';
import type { SessionData } from 'express-session';
import type { Config } from '../config.ts';
import type { SessionStorage } from './storage.ts';

const MAX_TOUCH_INTERVAL_MS = 60_000;
/** Remembered touch times; past this many, the stale ones are dropped (a forgotten one costs one extra touch). */
const TOUCH_MEMORY = 10_000;
/** Cookie values whose signature was checked; past this many, the oldest is forgotten (and checked again). */
const VERIFIED_MEMORY = 10_000;

/** express-session's signed value: `s:` + cookie-signature's `<id>.<base64 HMAC-SHA256>`. */
export function unsignSessionCookie(value: string, secrets: readonly string[]): string | undefined {
  if (!value.startsWith('s:')) return undefined;
  const signed = value.slice(2);
  for (const secret of secrets) {
    const id = signature.unsign(signed, secret);
    if (id !== false) return id;
  }
  return undefined;
}

export function createApiSessionReader(
  config: Pick<Config, 'cookie' | 'sessionSecrets'>,
  storage: SessionStorage,
  now: () => number = Date.now,
): RequestHandler {
  const cookieName = config.cookie.name;
  const secrets = config.sessionSecrets;
  const idleMs = storage.lifetime.idleMs;
  const touchEveryMs = Math.min(MAX_TOUCH_INTERVAL_MS, idleMs / 4);
  const lastTouched = new Map<string, number>();
  /** Signed cookie value → session id, for values that verified: the HMAC is computed once per cookie, not per call. */
  const verified = new Map<string, string>();

  function sessionIdOf(raw: string): string | undefined {
    const known = verified.get(raw);
    if (known !== undefined) return known;
    const id = unsignSessionCookie(raw, secrets);
    if (id === undefined) return undefined;
    if (verified.size >= VERIFIED_MEMORY) verified.delete(verified.keys().next().value!);
    verified.set(raw, id);
    return id;
  }

  function load(sessionId: string): Promise<SessionData | null | undefined> {
    return new Promise((resolve, reject) =>
      storage.sessions.get(sessionId, (err, data) => (err ? reject(err) : resolve(data))),
    );
  }

  function forgetStaleTouches(t: number): void {
    // Insertion order is touch order (entries are deleted before being set again), so the stale ones come first.
    for (const [sessionId, at] of lastTouched) {
      if (t - at < touchEveryMs) break;
      lastTouched.delete(sessionId);
    }
  }

  /** The same cookie express-session's `rolling` would send: signed with the current secret, idle expiry. */
  function renewCookie(res: Response, sessionId: string, t: number): void {
    const value = `s:${signature.sign(sessionId, secrets[0]!)}`;
    res.setHeader(
      'set-cookie',
      serializeCookie(cookieName, value, {
        path: '/',
        expires: new Date(t + idleMs),
        httpOnly: true,
        secure: config.cookie.secure,
        sameSite: 'lax',
      }),
    );
  }

  return async function readApiSession(req, res, next) {
    const header = req.headers.cookie;
    if (header === undefined) return next();
    const raw = parseCookies(header)[cookieName];
    const sessionId = raw === undefined ? undefined : sessionIdOf(raw);
    if (sessionId === undefined) return next();

    const data = await load(sessionId); // a store failure goes to the error handler as the store reported it
    if (!data?.user) return next();
    req.sessionID = sessionId;
    req.apiSession = data;

    const t = now();
    const touchedAt = lastTouched.get(sessionId);
    if (touchedAt === undefined || t - touchedAt >= touchEveryMs) {
      await storage.sessions.keepAlive(sessionId, data); // the session and its token set, one TTL
      lastTouched.delete(sessionId);
      lastTouched.set(sessionId, t);
      if (lastTouched.size > TOUCH_MEMORY) forgetStaleTouches(t);
      renewCookie(res, sessionId, t);
    }
    next();
  };
}
