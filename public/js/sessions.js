/**
 * "Your sessions": lists the signed-in user's sessions from GET /auth/sessions and ends others with
 * DELETE /auth/sessions/<handle>. A handle is an opaque name for a session, never the session id; this page never
 * sees a session id or a token.
 */
import { ApiError, apiJson, apiRequest, clearError, showError, toApiError } from './api.js';
import { byId, h } from './dom.js';

const region = byId('sessions-region');
const list = byId('session-list');
const loading = byId('sessions-loading');
const errorArea = byId('sessions-error');
const notice = byId('sessions-notice');
const signOutOthers = byId('sign-out-others');
const heading = byId('sessions-title');

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "just now", "5 minutes ago", "3 hours ago", "yesterday". */
function ago(epochMs) {
  const seconds = Math.round((epochMs - Date.now()) / 1000);
  if (seconds > -60) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes > -60) return relative.format(minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours > -24) return relative.format(hours, 'hour');
  return relative.format(Math.round(hours / 24), 'day');
}

function describe(session) {
  const browser = session.browser ?? 'Unknown browser';
  return session.os ? `${browser} on ${session.os}` : browser;
}

function deviceIcon(deviceType) {
  const phone = deviceType === 'mobile' || deviceType === 'tablet';
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const shape = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  shape.setAttribute(
    'd',
    phone
      ? 'M8 2.5h8a1.5 1.5 0 0 1 1.5 1.5v16a1.5 1.5 0 0 1-1.5 1.5H8A1.5 1.5 0 0 1 6.5 20V4A1.5 1.5 0 0 1 8 2.5zM11 18.5h2'
      : 'M4 5.5h16a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1zM9 20.5h6M12 16.5v4',
  );
  svg.append(shape);
  return h('span', { className: 'session-icon' }, svg);
}

function timeNode(epochMs, text) {
  return h('time', { datetime: new Date(epochMs).toISOString(), title: dateTime.format(epochMs) }, text);
}

function renderSession(session) {
  const name = describe(session);
  const item = h('li', { className: 'session-item', dataset: { handle: session.handle } });
  const title = h(
    'p',
    { className: 'session-title' },
    h('span', { className: 'session-name' }, name),
    session.current ? h('span', { className: 'badge badge-current' }, 'This device') : undefined,
  );
  const lastUsed = session.current
    ? 'Active now'
    : ['Last used ', timeNode(session.lastUsedAt, ago(session.lastUsedAt))];
  const meta = h(
    'p',
    { className: 'session-meta muted' },
    'Signed in ',
    timeNode(session.startedAt, dateTime.format(session.startedAt)),
    h('span', { className: 'session-meta-separator', 'aria-hidden': 'true' }, ' · '),
    h('span', { className: 'session-last-used' }, lastUsed),
  );
  item.append(deviceIcon(session.deviceType), h('div', { className: 'session-text' }, title, meta));
  if (!session.current) {
    const button = h(
      'button',
      {
        type: 'button',
        className: 'button button-secondary button-small session-sign-out',
        'aria-label': `Sign out ${name}, last used ${ago(session.lastUsedAt)}`,
      },
      'Sign out',
    );
    button.addEventListener('click', () => signOutOne(session, item, button));
    item.append(button);
  }
  return item;
}

function otherItems() {
  return [...list.querySelectorAll('.session-item')].filter((item) =>
    item.querySelector('.session-sign-out'),
  );
}

function updateSignOutOthers() {
  const others = otherItems().length;
  signOutOthers.hidden = others === 0;
  signOutOthers.disabled = false;
  if (others === 0 && !list.querySelector('.session-only')) {
    list.append(
      h(
        'li',
        { className: 'session-only muted' },
        'You are signed in nowhere else. Other browsers and devices you sign in with appear here.',
      ),
    );
  }
}

/** Ends one other session. 404 means it had ended already (expired, signed out elsewhere): the outcome wanted. */
async function endSession(session) {
  const result = await apiRequest(`/auth/sessions/${encodeURIComponent(session.handle)}`, {
    method: 'DELETE',
  });
  if (!result.ok && result.status !== 404) throw toApiError(result.status, result.data);
}

/** Where focus goes when a row disappears: the next row's button, else the previous one's, else the heading. */
function focusAfterRemoving(item) {
  const items = otherItems();
  const index = items.indexOf(item);
  const next = items[index + 1] ?? items[index - 1];
  if (next) next.querySelector('.session-sign-out')?.focus();
  else {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

async function signOutOne(session, item, button) {
  clearError(errorArea);
  button.disabled = true;
  button.textContent = 'Signing out…';
  try {
    await endSession(session);
    focusAfterRemoving(item);
    item.remove();
    showNotice(`Signed out ${describe(session)}.`);
    updateSignOutOthers();
  } catch (error) {
    button.disabled = false;
    button.textContent = 'Sign out';
    showError(errorArea, error);
  }
}

function showNotice(text) {
  notice.replaceChildren(h('div', { className: 'alert alert-success' }, h('p', {}, text)));
}

let sessions = [];

signOutOthers.addEventListener('click', async () => {
  clearError(errorArea);
  signOutOthers.disabled = true;
  signOutOthers.textContent = 'Signing out…';
  let ended = 0;
  try {
    for (const session of sessions.filter((s) => !s.current)) {
      const item = list.querySelector(`[data-handle="${CSS.escape(session.handle)}"]`);
      if (!item) continue;
      await endSession(session);
      item.remove();
      ended += 1;
    }
    showNotice(ended === 1 ? 'Signed out 1 other session.' : `Signed out ${ended} other sessions.`);
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  } catch (error) {
    showError(errorArea, error);
  } finally {
    signOutOthers.textContent = 'Sign out all other sessions';
    updateSignOutOthers();
  }
});

async function load() {
  clearError(errorArea);
  region.setAttribute('aria-busy', 'true');
  loading.hidden = false;
  try {
    ({ sessions } = await apiJson('/auth/sessions'));
    list.replaceChildren(...sessions.map(renderSession));
    updateSignOutOthers();
  } catch (error) {
    list.replaceChildren();
    showError(
      errorArea,
      error instanceof ApiError ? error : new ApiError('Your sessions could not be loaded.'),
      {
        retry: load,
      },
    );
  } finally {
    loading.hidden = true;
    region.setAttribute('aria-busy', 'false');
  }
}

load();
