/**
 * The one way our pages call the BFF's API. Every call sends `X-CSRF: 1` (the proxy refuses calls without it) and
 * the session cookie; no token is ever handled here. Errors become ApiError with a message meant for the person:
 * Creatio's own OData message when Creatio sent one, the BFF's message otherwise.
 */
import { h } from './dom.js';

/** The BFF's codes for "no usable session": the person must sign in again. */
const sessionEndedCodes = new Set(['login_required', 'unauthenticated']);

export class ApiError extends Error {
  constructor(message, { status = 0, code = undefined } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }

  get sessionEnded() {
    return this.status === 401 && sessionEndedCodes.has(this.code);
  }
}

async function readBody(response) {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The error in a response body, in either shape we receive:
 * - the BFF's own `{ error: 'upstream_unavailable', message: '…' }`
 * - Creatio's OData `{ error: { code: '', message: '…' } }` (Creatio leaves the code empty)
 */
export function toApiError(status, body) {
  const error = body && typeof body === 'object' ? body.error : undefined;
  if (typeof error === 'string') {
    return new ApiError(body.message || `The request failed (HTTP ${status}).`, { status, code: error });
  }
  if (error && typeof error === 'object' && typeof error.message === 'string') {
    return new ApiError(error.message, { status, code: error.code || undefined });
  }
  return new ApiError(`Creatio answered with HTTP ${status}.`, { status });
}

/**
 * Sends one request and reports what came back, success or not (the explorer shows failures as they are).
 * Only a network failure (the BFF itself unreachable) throws.
 */
export async function apiRequest(path, { method = 'GET', body = undefined, signal = undefined } = {}) {
  const headers = { 'X-CSRF': '1', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const started = performance.now();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError('This app could not be reached. Check your connection and try again.');
  }
  const data = await readBody(response);
  return {
    ok: response.ok,
    status: response.status,
    statusText: response.statusText,
    data,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Like apiRequest, but answers only the body of a successful response and throws ApiError otherwise. */
export async function apiJson(path, options) {
  const result = await apiRequest(path, options);
  if (!result.ok) throw toApiError(result.status, result.data);
  return result.data;
}

/** Where "sign in again" leads: the sign-in, then back to this very page (with its query). */
export function signInAgainUrl() {
  const here = `${location.pathname}${location.search}`;
  return `/auth/login?returnTo=${encodeURIComponent(here)}`;
}

/**
 * Shows an error in `container` (an alert the screen reader announces). A session that ended gets a link that signs
 * in and returns here; other errors may offer "Try again".
 */
export function showError(container, error, { retry = undefined } = {}) {
  const alert = h('div', { className: 'alert alert-error', role: 'alert' });
  if (error instanceof ApiError && error.sessionEnded) {
    alert.append(
      h(
        'p',
        { className: 'alert-title' },
        'Your session ended — ',
        h('a', { href: signInAgainUrl() }, 'sign in again'),
      ),
      h('p', {}, 'Sign in and you will come back to this page.'),
    );
  } else {
    const message = error instanceof ApiError ? error.message : 'Something went wrong in this page.';
    alert.append(h('p', { className: 'alert-title' }, message));
    if (error instanceof ApiError && error.status >= 500) {
      alert.append(h('p', {}, describeServerFailure(error)));
    }
    if (retry) {
      alert.append(
        h(
          'p',
          {},
          h(
            'button',
            { type: 'button', className: 'button button-secondary button-small', onclick: retry },
            'Try again',
          ),
        ),
      );
    }
  }
  container.replaceChildren(alert);
}

function describeServerFailure(error) {
  if (error.code === 'upstream_unavailable' || error.code === 'upstream_timeout') {
    return 'Creatio is not answering right now. Your session is fine; try again in a moment.';
  }
  if (error.code === 'identity_service_unavailable' || error.code === 'identity_service_error') {
    return 'The Identity Service is not answering right now. Try again in a moment.';
  }
  return `HTTP ${error.status}${error.code ? ` · ${error.code}` : ''}`;
}

export function clearError(container) {
  container.replaceChildren();
}
