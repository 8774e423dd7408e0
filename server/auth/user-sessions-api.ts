/**
 * GET /auth/sessions and DELETE /auth/sessions/:handle — the signed-in user's own sessions, for "your sessions".
 * A session is named by its index handle (opaque, random): a session id is a bearer credential and never leaves the
 * server. Ending another session revokes its refresh token at the Identity Service and deletes its token set and
 * record, so that browser's next request, on any instance, is signed out.
 */
import Bowser from 'bowser';
import type { RequestHandler } from 'express';
import * as oidc from 'openid-client';
import { BffError, ErrorCode } from '../errors.ts';
import { endIndexedSession, type LiveSession, liveSessionsOf } from '../session/user-sessions.ts';
import type { AuthDeps } from './deps.ts';

/** What the browser learns about a session; the type has no field for a session id or a token. */
export interface SessionSummary {
  readonly handle: string;
  /** The session of the browser asking. */
  readonly current: boolean;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly lastUsedAt: number;
  /** e.g. "Chrome 140"; undefined when the User-Agent says nothing useful. */
  readonly browser: string | undefined;
  /** e.g. "Windows 11", "iOS 17.5". */
  readonly os: string | undefined;
  readonly deviceType: 'desktop' | 'mobile' | 'tablet' | 'tv' | undefined;
}

function describeUserAgent(
  userAgent: string | undefined,
): Pick<SessionSummary, 'browser' | 'os' | 'deviceType'> {
  if (!userAgent) return { browser: undefined, os: undefined, deviceType: undefined };
  const { browser, os, platform } = Bowser.parse(userAgent);
  const major = browser.version?.split('.')[0];
  return {
    browser: browser.name ? [browser.name, major].filter(Boolean).join(' ') : undefined,
    os: os.name ? [os.name, os.versionName ?? os.version].filter(Boolean).join(' ') : undefined,
    deviceType: (['desktop', 'mobile', 'tablet', 'tv'] as const).find((type) => type === platform.type),
  };
}

function summarise({ entry, lastUsedAt }: LiveSession, currentSessionId: string): SessionSummary {
  return {
    handle: entry.handle,
    current: entry.sessionId === currentSessionId,
    startedAt: entry.startedAt,
    lastUsedAt,
    ...describeUserAgent(entry.userAgent),
  };
}

export function handleListSessions({ storage }: AuthDeps): RequestHandler {
  return async (req, res) => {
    const user = req.session.user;
    if (!user) throw new BffError(ErrorCode.Unauthenticated);
    const sessions = (await liveSessionsOf(storage, user.sub)).map((s) => summarise(s, req.sessionID));
    // This device first, then the most recently used.
    sessions.sort((a, b) => Number(b.current) - Number(a.current));
    res.set('Cache-Control', 'no-store');
    res.json({ sessions });
  };
}

export function handleEndSession({ storage, oidc: client, logger }: AuthDeps): RequestHandler {
  return async (req, res) => {
    const user = req.session.user;
    if (!user) throw new BffError(ErrorCode.Unauthenticated);
    const handle = req.params.handle;
    const target = (await liveSessionsOf(storage, user.sub)).find((s) => s.entry.handle === handle)?.entry;
    if (!target) {
      throw new BffError(ErrorCode.NotFound, {
        message: 'This session has already ended.',
        logDetail: 'DELETE /auth/sessions/:handle for an unknown or ended session',
      });
    }
    if (target.sessionId === req.sessionID) {
      throw new BffError(ErrorCode.BadRequest, {
        message: 'This is the session you are using: sign out with the Sign out button instead.',
        logDetail: 'DELETE /auth/sessions/:handle for the current session',
      });
    }

    // Revoking is best effort: the session ends here whatever the Identity Service says, and a refresh token
    // that could not be revoked is no longer stored anywhere.
    const tokens = await storage.tokens.get(target.sessionId);
    if (tokens?.refreshToken) {
      try {
        const configuration = await client.getConfiguration();
        await oidc.tokenRevocation(configuration, tokens.refreshToken, { token_type_hint: 'refresh_token' });
      } catch (err) {
        logger.warn(
          { reqId: req.id, detail: (err as Error).message },
          'revoking another session’s grant failed',
        );
      }
    }
    await endIndexedSession(storage, target);
    logger.info({ reqId: req.id, sub: user.sub }, 'signed out another session');
    res.set('Cache-Control', 'no-store');
    res.status(204).end();
  };
}
