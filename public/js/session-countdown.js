/**
 * The home page's "Session ends in mm:ss": reads the session's end from GET /auth/session (never a token) and counts
 * down locally. The idle timeout slides with every request, so the countdown re-reads the session when the tab is
 * shown again, and when it reaches zero asks the server whether the session really ended.
 */
import { signInAgainUrl } from './api.js';
import { byId, h } from './dom.js';

const countdown = byId('session-countdown');
const statusLine = byId('session-status');

let expiresAt;
let timer;

function format(ms) {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const mmss = `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}`;
  return hours > 0 ? `${hours}:${mmss}` : mmss;
}

function showEnded() {
  clearInterval(timer);
  countdown.textContent = 'ended';
  statusLine.replaceChildren('Your session ended — ', h('a', { href: signInAgainUrl() }, 'sign in again'));
}

async function readSession() {
  const response = await fetch('/auth/session', {
    headers: { Accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(`GET /auth/session answered ${response.status}`);
  return response.json();
}

async function refresh() {
  try {
    const session = await readSession();
    if (!session.authenticated || !(session.expiresAt > Date.now())) return showEnded();
    expiresAt = session.expiresAt;
    tick();
    clearInterval(timer);
    timer = setInterval(tick, 1000);
  } catch {
    countdown.textContent = 'unknown';
  }
}

function tick() {
  const left = expiresAt - Date.now();
  if (left <= 0) {
    clearInterval(timer);
    refresh();
    return;
  }
  countdown.textContent = format(left);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refresh();
});
refresh();
