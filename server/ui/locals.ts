/**
 * What every page template may use: the signed-in user (or undefined), how to show them, and the session's CSRF
 * token for the sign-out form. Set once per request here, so templates never reach into the session themselves.
 */
import type { RequestHandler } from 'express';
import { ensureCsrfToken } from '../security/csrf.ts';
import type { SessionUser } from '../session/store.ts';

/** "Alice Andersen" → "AA"; falls back to the e-mail address, then to "?". */
export function toInitials(label: string): string {
  const words = label.split(/[\s@._-]+/).filter(Boolean);
  return (
    words
      .slice(0, 2)
      .map((word) => word[0]?.toUpperCase())
      .join('') || '?'
  );
}

function toDisplayName(user: SessionUser): string {
  return user.name || user.email || 'Signed-in user';
}

export const setPageLocals: RequestHandler = (req, res, next) => {
  const user = req.session?.user;
  res.locals.user = user;
  res.locals.userDisplayName = user ? toDisplayName(user) : undefined;
  res.locals.userInitials = user ? toInitials(toDisplayName(user)) : undefined;
  res.locals.csrfToken = ensureCsrfToken(req);
  res.locals.currentPath = req.path;
  next();
};
