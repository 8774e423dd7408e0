/**
 * The one way our pages call the BFF's API. Every call sends `X-CSRF: 1` (the proxy refuses calls without it) and
 * the session cookie; no token is ever handled here. Errors become ApiError with a message meant for the person:
 * Creatio's own OData message when Creatio sent one, the BFF's message otherwise.
 */
import { h } from './dom.js';

/** The BFF's codes for "no usable session": the person must sign in again. */
const sessionEndedCodes = new Set(['login_required', 'unauthenticated']);

export class ApiError extends Error {
  constructor(message, { status = 0, code = undefined, fromCreatio = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    /** Creatio's own refusal (passed through by the proxy), not the BFF's. */
    this.fromCreatio = fromCreatio;
  }

  /** Creatio's "Access to OData" refusal: the user may sign in but not use OData at all. */
  get noODataAccess() {
    return (
      this.fromCreatio &&
      this.status === 403 &&
      /permission/i.test(this.message) &&
      /OData/.test(this.message)
    );
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
 * The error in a response body, in every shape we receive:
 * - the BFF's own `{ error: 'upstream_unavailable', message: '…' }`
 * - Creatio's OData `{ error: { code: '', message: '…' } }` (Creatio leaves the code empty)
 * - Creatio's ASP.NET `{ Message, ExceptionMessage, ExceptionType, StackTrace }` (e.g. no "Access to OData"):
 *   the ExceptionMessage says what happened; the stack trace is Creatio's business and is never shown
 * - Creatio's routing 404 `{ Message, MessageDetail }` (an entity set that does not exist)
 */
export function toApiError(status, body) {
  const error = body && typeof body === 'object' ? body.error : undefined;
  if (typeof error === 'string') {
    return new ApiError(body.message || `The request failed (HTTP ${status}).`, { status, code: error });
  }
  if (error && typeof error === 'object' && typeof error.message === 'string') {
    return new ApiError(error.message, { status, code: error.code || undefined, fromCreatio: true });
  }
  if (body && typeof body === 'object' && typeof body.ExceptionMessage === 'string') {
    return new ApiError(body.ExceptionMessage, { status, fromCreatio: true });
  }
  if (body && typeof body === 'object' && typeof body.Message === 'string') {
    const detail = typeof body.MessageDetail === 'string' ? ` ${body.MessageDetail}` : '';
    return new ApiError(`${body.Message}${detail}`, { status, fromCreatio: true });
  }
  return new ApiError(`Creatio answered with HTTP ${status}.`, { status });
}

/**
 * Sends one request and reports what came back, success or not (the explorer shows failures as they are).
 * Only a network failure (the BFF itself unreachable) throws.
 */
export async function apiRequest(
  path,
  { method = 'GET', body = undefined, signal = undefined, headers: extraHeaders = {} } = {},
) {
  const headers = { ...extraHeaders, 'X-CSRF': '1', Accept: 'application/json' };
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

/**
 * Binary content through the proxy (stream columns such as `SysImage(<id>)/Data`): a Blob, or undefined when the
 * column is empty (204). `X-CSRF` is needed here too, which is why an `<img src>` cannot point at the proxy and the
 * page shows a blob: URL instead.
 */
export async function apiBlob(path, { signal = undefined } = {}) {
  const response = await send(path, { headers: { 'X-CSRF': '1' }, signal });
  if (response.status === 204) return undefined;
  if (!response.ok) throw toApiError(response.status, await readBody(response));
  return response.blob();
}

/** Uploads a file to a stream column as Creatio takes it: PUT, `Content-Type: application/octet-stream`. */
export async function apiUpload(path, file) {
  const response = await send(path, {
    method: 'PUT',
    headers: { 'X-CSRF': '1', 'Content-Type': 'application/octet-stream' },
    body: file,
  });
  if (!response.ok) throw toApiError(response.status, await readBody(response));
}

async function send(path, init) {
  try {
    return await fetch(path, { ...init, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError('This app could not be reached. Check your connection and try again.');
  }
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
    if (error instanceof ApiError && error.noODataAccess) {
      alert.append(
        h(
          'p',
          {},
          'Creatio refused this for your user: it lacks the “Access to OData” system operation ' +
            '(CanUseODataService). Ask your Creatio administrator to grant it to you or to one of your roles; ' +
            'you can stay signed in meanwhile.',
        ),
      );
    }
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
