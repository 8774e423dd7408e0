/**
 * The HTML of the sandbox Identity Service: sign-in, sign-out and error pages. Plain strings, no template engine:
 * every value that comes from a request or the registry goes through `escapeHtml`.
 */
import { createHash } from 'node:crypto';
import escapeHtmlText from 'escape-html';
import type { DemoUser } from './users.ts';

/** HTML-escapes any value (the same escaping Express uses). */
export function escapeHtml(value: unknown): string {
  return escapeHtmlText(String(value));
}

const STYLE = `
  :root { color-scheme: light; --accent: #0058ef; --text: #1f2a37; --muted: #5b6776; --line: #d8dee6; }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #eef2f7;
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); }
  main { width: min(380px, calc(100vw - 32px)); background: #fff; border-radius: 12px; padding: 32px;
         box-shadow: 0 10px 30px rgba(15, 35, 70, .12); }
  .brand { font-size: 13px; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); margin: 0 0 4px; }
  h1 { font-size: 22px; margin: 0 0 20px; }
  label { display: block; font-weight: 600; margin: 14px 0 6px; }
  input { width: 100%; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; font: inherit; }
  input:focus { outline: 2px solid var(--accent); outline-offset: 1px; border-color: transparent; }
  button { width: 100%; margin-top: 22px; padding: 11px; border: 0; border-radius: 8px; background: var(--accent);
           color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
  button.secondary { margin-top: 10px; background: transparent; color: var(--muted); }
  .error { background: #fdecec; color: #8a1c1c; border-radius: 8px; padding: 10px 12px; margin: 0 0 8px; }
  .hint { margin-top: 24px; padding-top: 16px; border-top: 1px solid var(--line); color: var(--muted); font-size: 13px; }
  .hint table { width: 100%; border-collapse: collapse; }
  .hint td { padding: 2px 0; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
  dl { font-size: 13px; } dt { font-weight: 600; } dd { margin: 0 0 8px; word-break: break-word; }
`;

const SUBMIT_LOGOUT_FORM = "document.getElementById('op.logoutForm').submit();";

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/**
 * The pages' security headers: nothing loads but the one inline style and the one inline script above (by hash),
 * and no other site may frame the sign-in form (clickjacking a password form). No form-action: the login form's
 * redirect chain ends at the client's redirect URI, on another origin.
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': [
    "default-src 'none'",
    `style-src ${sha256Source(STYLE)}`,
    `script-src ${sha256Source(SUBMIT_LOGOUT_FORM)}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
});

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Sandbox Identity Service</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="brand">Creatio Identity Service · sandbox</p>
${body}
</main>
</body>
</html>`;
}

export interface LoginPageOptions {
  /** Where the form posts (the interaction's login URL). */
  readonly action: string;
  /** Where "Cancel" posts: the client then receives error=access_denied. */
  readonly abortAction: string;
  readonly clientName: string;
  readonly username?: string;
  readonly error?: string;
  /** Shown as a hint: this is a sandbox, its users are public. */
  readonly demoUsers: readonly DemoUser[];
}

export function renderLoginPage(options: LoginPageOptions): string {
  const error = options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : '';
  const users = options.demoUsers
    .map(
      (u) =>
        `<tr><td><code>${escapeHtml(u.username)}</code></td><td><code>${escapeHtml(u.password)}</code></td>` +
        `<td>${u.note ? escapeHtml(u.note) : ''}</td></tr>`,
    )
    .join('');
  return page(
    'Sign in',
    `<h1>Sign in to ${escapeHtml(options.clientName)}</h1>
${error}
<form method="post" action="${escapeHtml(options.action)}">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(options.username ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(options.abortAction)}">
  <button type="submit" class="secondary">Cancel</button>
</form>
<div class="hint">
  <p>Demo users of the sandbox:</p>
  <table>${users}</table>
</div>`,
  );
}

/**
 * The end-session page. `form` is oidc-provider's hidden form (it carries the anti-forgery value); the page adds
 * `logout=yes` and submits it at once, like IdentityServer signing out when the client sent an id_token_hint.
 */
export function renderLogoutPage(form: string): string {
  return page(
    'Signing out',
    `<h1>Signing you out…</h1>
${form}
<input type="hidden" name="logout" value="yes" form="op.logoutForm">
<button type="submit" form="op.logoutForm">Continue</button>
<script>${SUBMIT_LOGOUT_FORM}</script>`,
  );
}

export function renderLoggedOutPage(clientName: string | undefined): string {
  const from = clientName ? ` from ${escapeHtml(clientName)}` : '';
  return page('Signed out', `<h1>You are signed out${from}</h1><p>You can close this window.</p>`);
}

/** Shown instead of redirecting when the request cannot be trusted (unknown client, unregistered redirect_uri). */
export function renderErrorPage(details: Readonly<Record<string, string | undefined>>): string {
  const rows = Object.entries(details)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('');
  return page('Error', `<h1>The request cannot be completed</h1><dl>${rows}</dl>`);
}
