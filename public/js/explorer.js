/**
 * The OData explorer: builds `/api/odata/<collection>?$select…` from the form, shows the URL as it is typed, and on
 * "Run query" shows the status, the time and the JSON exactly as Creatio answered — errors included, because the
 * point is to see what Creatio says. Everything is written with textContent.
 */
import { apiRequest, clearError, showError, toApiError } from './api.js';
import { byId, h } from './dom.js';
import { toQueryString } from './odata.js';

const form = byId('query-form');
const requestUrl = byId('request-url');
const status = byId('response-status');
const time = byId('response-time');
const rows = byId('response-rows');
const output = byId('response-body');
const errorArea = byId('explorer-error');
const announcer = byId('explorer-announcer');
const runButton = byId('run-query');

/** Each collection's starting $select: columns it has, so switching collection does not start with an error. */
const defaultSelect = Object.freeze({ Account: 'Id,Name,City', Contact: 'Id,Name,Email,JobTitle' });
const collections = new Set(Object.keys(defaultSelect));
const queryOptions = ['$select', '$filter', '$orderby', '$top'];
const defaultTop = '10';

function buildUrl() {
  const fields = form.elements;
  const collection = collections.has(fields.collection.value) ? fields.collection.value : 'Account';
  const options = queryOptions.map((name) => [name, fields[name].value]);
  if (fields.$count.checked) options.push(['$count', 'true']);
  return `/api/odata/${collection}${toQueryString(options)}`;
}

function showUrl() {
  requestUrl.textContent = `GET ${buildUrl()}`;
}

/** Pretty JSON with keys, strings, numbers and literals in their own spans (coloured by app.css), as text nodes. */
function renderJson(value) {
  const text = JSON.stringify(value, null, 2);
  const tokens = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(tokens)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    const [whole, string, colon, literal, number] = match;
    if (string !== undefined) {
      nodes.push(h('span', { className: colon ? 'json-key' : 'json-string' }, string));
      if (colon) nodes.push(colon);
    } else if (literal !== undefined) {
      nodes.push(h('span', { className: 'json-literal' }, literal));
    } else if (number !== undefined) {
      nodes.push(h('span', { className: 'json-number' }, number));
    }
    last = match.index + whole.length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

function showStatus(result) {
  status.replaceChildren(
    h(
      'span',
      { className: `status-pill ${result.ok ? 'status-ok' : 'status-error'}` },
      `${result.status} ${result.statusText}`.trim(),
    ),
  );
  time.textContent = `${result.durationMs} ms`;
  const data = result.data;
  const count = data && typeof data === 'object' ? data['@odata.count'] : undefined;
  const shown = Array.isArray(data?.value) ? data.value.length : undefined;
  rows.textContent = shown === undefined ? '—' : count === undefined ? String(shown) : `${shown} of ${count}`;
}

async function runQuery(event) {
  event.preventDefault();
  const url = buildUrl();
  runButton.disabled = true;
  output.setAttribute('aria-busy', 'true');
  clearError(errorArea);
  try {
    const result = await apiRequest(url);
    showStatus(result);
    output.replaceChildren(
      ...(typeof result.data === 'string' || result.data === null
        ? [result.data ?? '(empty body)']
        : renderJson(result.data)),
    );
    // The raw JSON stays visible below; above it, Creatio's message (or the sign-in link when the session ended).
    if (result.ok) {
      announcer.textContent = `${status.textContent}: ${rows.textContent} rows in ${time.textContent}.`;
    } else {
      const error = toApiError(result.status, result.data);
      showError(errorArea, error);
      announcer.textContent = `${status.textContent}.`;
    }
  } catch (err) {
    announcer.textContent = '';
    status.textContent = '—';
    time.textContent = '—';
    output.replaceChildren();
    showError(errorArea, err);
  } finally {
    runButton.disabled = false;
    output.removeAttribute('aria-busy');
  }
}

let collection = form.elements.collection.value;

/** A $select still at the old collection's default becomes the new one's; one the person wrote stays. */
function switchCollection() {
  const select = form.elements.$select;
  const next = form.elements.collection.value;
  if (select.value === defaultSelect[collection]) select.value = defaultSelect[next];
  collection = next;
}

form.addEventListener('input', showUrl);
form.addEventListener('change', (event) => {
  if (event.target === form.elements.collection) switchCollection();
  showUrl();
});
form.addEventListener('reset', () =>
  setTimeout(() => {
    collection = form.elements.collection.value;
    showUrl();
  }),
);
form.addEventListener('submit', runQuery);
// Enter in a text box runs the query already; Ctrl+Enter (⌘+Enter) does it from the $filter box as well.
form.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit(runButton);
  }
});
// Default values, not just values: "Reset" comes back to them.
form.elements.$select.defaultValue = defaultSelect[collection];
form.elements.$top.defaultValue = defaultTop;
showUrl();
