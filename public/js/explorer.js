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
const runButton = byId('run-query');

const collections = new Set(['Account', 'Contact']);
const queryOptions = ['$select', '$filter', '$orderby', '$top'];

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
    // The raw JSON stays visible; a session that ended also gets the sign-in link.
    if (!result.ok) {
      const error = toApiError(result.status, result.data);
      if (error.sessionEnded) showError(errorArea, error);
    }
  } catch (err) {
    status.textContent = '—';
    time.textContent = '—';
    output.replaceChildren();
    showError(errorArea, err);
  } finally {
    runButton.disabled = false;
    output.removeAttribute('aria-busy');
  }
}

form.addEventListener('input', showUrl);
form.addEventListener('change', showUrl);
form.addEventListener('reset', () => setTimeout(showUrl));
form.addEventListener('submit', runQuery);
form.elements.$select.value = 'Id,Name,City';
form.elements.$top.value = '10';
showUrl();
