/**
 * Binds each login to the browser that started it, so a callback URL only works in that browser (login CSRF,
 * RFC 9700 §4.7.1 and §2.1; the BFF section of "OAuth 2.0 for Browser-Based Applications").
 *
 * `state` alone is not enough here: the transaction is found by `state` on the server, and any browser may present
 * it. Mallory could start a login, sign in at the Identity Service as herself, stop at the redirect back to us and
 * send that URL to Alice, whose browser would then be signed in to Mallory's account — and whatever Alice typed
 * into Creatio would land there.
 *
 * So /auth/login gives the browser a random value in a short-lived cookie and each transaction keeps a SHA-256 of
 * it; /auth/callback accepts a transaction only from a browser whose cookie hashes to it. One value per browser,
 * reused by every login started while the cookie lives, so several tabs can sign in at once. The cookie is
 * HttpOnly and SameSite=Lax (the callback is a top-level navigation from the Identity Service, which Lax lets
 * through), and `__Host-` with Secure on https, so no sibling subdomain can plant one. It grants nothing by
 * itself: it only proves "this browser started that login".
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';
import type { Config } from '../config.ts';
import { LOGIN_TRANSACTION_TTL_MS } from '../session/transactions.ts';

const VALUE_BYTES = 32;
/** 32 random bytes in base64url: anything else in the cookie is not ours. */
const VALUE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export function loginBindingCookieName(config: Pick<Config, 'cookie'>): string {
  return config.cookie.secure ? '__Host-bff-login' : 'bff.login';
}

export interface LoginBinding {
  /** At /auth/login: (re)sets this browser's cookie and returns the hash to keep in the login transaction. */
  bind(req: Request, res: Response): string;
  /** At /auth/callback: true when this browser's cookie hashes to the transaction's binding. */
  isBound(req: Request, binding: string | undefined): boolean;
}

function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function createLoginBinding(config: Pick<Config, 'cookie'>): LoginBinding {
  const name = loginBindingCookieName(config);
  const options: CookieOptions = {
    httpOnly: true,
    sameSite: 'lax',
    secure: config.cookie.secure,
    path: '/', // required by __Host-
    maxAge: LOGIN_TRANSACTION_TTL_MS, // it need not outlive the transactions it binds
  };
  const current = (req: Request): string | undefined => {
    // No cookie parser runs before the sign-in routes; this is the one cookie they read.
    const value = parseCookies(req.headers.cookie ?? '')[name];
    return value !== undefined && VALUE_FORMAT.test(value) ? value : undefined;
  };

  return {
    bind(req, res) {
      const value = current(req) ?? randomBytes(VALUE_BYTES).toString('base64url');
      res.cookie(name, value, options);
      return hashOf(value);
    },
    isBound(req, binding) {
      const value = current(req);
      if (value === undefined || binding === undefined) return false;
      const sent = Buffer.from(hashOf(value));
      const expected = Buffer.from(binding);
      return sent.length === expected.length && timingSafeEqual(sent, expected);
    },
  };
}
