/**
 * The Accounts page: a table over `GET /api/odata/Account` with search, sorting and paging done by Creatio
 * ($filter, $orderby, $top/$skip, $count=true), and create / edit / delete through POST, PATCH and DELETE.
 * Several selected accounts are deleted in one `$batch`; each row then says whether its delete worked.
 * The view's state lives in the address bar (?q=&sort=&dir=&page=&size=), so "sign in again" comes back to it.
 */
import { ApiError, apiJson, clearError, showError } from './api.js';
import { runBatch } from './batch.js';
import { byId, debounce, h } from './dom.js';
import { entityPath, toODataString, toQueryString } from './odata.js';

const columns = ['Id', 'Name', 'Code', 'Phone', 'Web', 'City', 'Notes', 'ModifiedOn'];
const editableFields = ['Name', 'Code', 'City', 'Phone', 'Web', 'Notes'];
const sortableFields = new Set(['Name', 'Code', 'City', 'Phone', 'Web', 'ModifiedOn']);
const pageSizes = new Set([10, 20, 50]);
const defaults = Object.freeze({ q: '', sort: 'Name', dir: 'asc', page: 1, size: 20 });
const searchDelayMs = 300;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

const ui = {
  search: byId('account-search'),
  filters: byId('account-filters'),
  pageSize: byId('page-size'),
  region: byId('accounts-region'),
  loading: byId('accounts-loading'),
  table: byId('accounts-table'),
  body: byId('accounts-body'),
  empty: byId('accounts-empty'),
  emptyTitle: byId('accounts-empty-title'),
  emptyText: byId('accounts-empty-text'),
  error: byId('accounts-error'),
  notice: byId('accounts-notice'),
  summary: byId('accounts-summary'),
  announcer: byId('accounts-announcer'),
  pagination: byId('accounts-pagination'),
  pageIndicator: byId('page-indicator'),
  previous: byId('previous-page'),
  next: byId('next-page'),
  newAccount: byId('new-account'),
  accountDialog: byId('account-dialog'),
  accountForm: byId('account-form'),
  accountTitle: byId('account-dialog-title'),
  accountError: byId('account-form-error'),
  accountSubmit: byId('account-submit'),
  deleteDialog: byId('delete-dialog'),
  deleteForm: byId('delete-form'),
  deleteName: byId('delete-account-name'),
  deleteError: byId('delete-error'),
  deleteSubmit: byId('delete-submit'),
  selectPage: byId('select-page'),
  selectionBar: byId('selection-bar'),
  selectionCount: byId('selection-count'),
  clearSelection: byId('clear-selection'),
  deleteSelected: byId('delete-selected'),
  bulkResults: byId('bulk-results'),
  bulkDialog: byId('bulk-delete-dialog'),
  bulkForm: byId('bulk-delete-form'),
  bulkTitle: byId('bulk-delete-title'),
  bulkList: byId('bulk-delete-list'),
  bulkError: byId('bulk-delete-error'),
  bulkSubmit: byId('bulk-delete-submit'),
};

// ---- state <-> address bar ----

function readState() {
  const params = new URLSearchParams(location.search);
  const sort = params.get('sort');
  const size = Number(params.get('size'));
  const page = Number(params.get('page'));
  return {
    q: params.get('q') ?? defaults.q,
    sort: sortableFields.has(sort) ? sort : defaults.sort,
    dir: params.get('dir') === 'desc' ? 'desc' : 'asc',
    page: Number.isInteger(page) && page > 0 ? page : defaults.page,
    size: pageSizes.has(size) ? size : defaults.size,
  };
}

function writeState() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value !== defaults[key]) params.set(key, String(value));
  }
  const query = params.toString();
  history.replaceState(null, '', query ? `${location.pathname}?${query}` : location.pathname);
}

const state = readState();

// ---- loading ----

function buildListUrl() {
  const filter = state.q.trim() ? `contains(Name,${toODataString(state.q.trim())})` : '';
  // A second key keeps paging stable when many rows share the first one (e.g. the same city).
  const orderBy = state.sort === 'Name' ? `Name ${state.dir}` : `${state.sort} ${state.dir},Name asc`;
  return `/api/odata/Account${toQueryString([
    ['$select', columns.join(',')],
    ['$filter', filter],
    ['$orderby', orderBy],
    ['$top', state.size],
    ['$skip', (state.page - 1) * state.size],
    ['$count', 'true'],
  ])}`;
}

let inFlight;

async function loadAccounts() {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  writeState();
  setBusy(true);
  try {
    const data = await apiJson(buildListUrl(), { signal: controller.signal });
    const rows = Array.isArray(data?.value) ? data.value : [];
    const total = typeof data?.['@odata.count'] === 'number' ? data['@odata.count'] : rows.length;
    // A delete or a narrower search can leave us past the last page: step back to it.
    const lastPage = Math.max(1, Math.ceil(total / state.size));
    if (rows.length === 0 && state.page > lastPage) {
      state.page = lastPage;
      return loadAccounts();
    }
    const focus = rememberFocus();
    clearError(ui.error);
    renderRows(rows);
    renderPaging(total, rows.length);
    restoreFocus(focus);
    announce(total === 0 ? ui.emptyTitle.textContent : ui.summary.textContent);
  } catch (err) {
    if (err?.name === 'AbortError') return;
    const retrying = ui.error.contains(document.activeElement);
    renderRows([], { failed: true });
    renderPaging(0, 0);
    showError(ui.error, err, { retry: loadAccounts });
    // "Try again" failed again: its successor keeps the focus.
    if (retrying) ui.error.querySelector('button')?.focus();
  } finally {
    if (inFlight === controller) setBusy(false);
  }
}

/** Whether a page of accounts is on its way: paging clicks wait for it, so a double click moves one page. */
function isLoading() {
  return ui.region.getAttribute('aria-busy') === 'true';
}

function setBusy(busy) {
  ui.region.setAttribute('aria-busy', String(busy));
  if (busy) ui.region.hidden = false;
  ui.loading.hidden = !busy;
}

// ---- rendering ----

function placeholder() {
  return h('span', { className: 'muted', 'aria-label': 'empty' }, '—');
}

function webCell(value) {
  if (!value) return placeholder();
  // Only http(s) becomes a link: a stored "javascript:" URL must stay text.
  if (!/^https?:\/\//i.test(value)) return value;
  return h(
    'a',
    { href: value, target: '_blank', rel: 'noopener noreferrer', title: value },
    value.replace(/^https?:\/\//i, ''),
  );
}

function dateCell(value) {
  const date = value ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) return placeholder();
  return h('time', { datetime: value }, dateFormat.format(date));
}

function renderRow(account) {
  const name = account.Name || '(no name)';
  const failure = failedDeletes.get(account.Id);
  return h(
    'tr',
    { dataset: { id: account.Id }, className: failure ? 'row-failed' : undefined },
    h(
      'td',
      { className: 'cell-select' },
      h('input', {
        type: 'checkbox',
        'aria-label': `Select ${name}`,
        checked: selection.has(account.Id),
        dataset: { action: 'select' },
        onchange: (event) => toggleSelection(account, event.target.checked),
      }),
    ),
    h(
      'td',
      { className: 'cell-name', 'data-label': 'Name' },
      h('a', { className: 'account-name', href: `/accounts/${encodeURIComponent(account.Id)}` }, name),
      account.Notes ? h('span', { className: 'cell-sub' }, account.Notes) : undefined,
      failure ? h('span', { className: 'row-error' }, `Not deleted: ${failure}`) : undefined,
    ),
    h('td', { 'data-label': 'Code' }, account.Code || placeholder()),
    h('td', { 'data-label': 'City' }, account.City || placeholder()),
    h('td', { 'data-label': 'Phone', className: 'nowrap' }, account.Phone || placeholder()),
    h('td', { 'data-label': 'Web', className: 'cell-web' }, webCell(account.Web)),
    h('td', { 'data-label': 'Modified', className: 'nowrap' }, dateCell(account.ModifiedOn)),
    h(
      'td',
      { className: 'cell-actions' },
      h(
        'button',
        {
          type: 'button',
          className: 'button button-ghost button-small',
          'aria-label': `Edit ${name}`,
          dataset: { action: 'edit' },
          onclick: () => openAccountDialog(account),
        },
        'Edit',
      ),
      h(
        'button',
        {
          type: 'button',
          className: 'button button-ghost button-small button-danger-text',
          'aria-label': `Delete ${name}`,
          dataset: { action: 'delete' },
          onclick: () => openDeleteDialog(account),
        },
        'Delete',
      ),
    ),
  );
}

function renderRows(rows, { failed = false } = {}) {
  shownRows = rows;
  ui.body.replaceChildren(...rows.map(renderRow));
  renderSelection();
  // After a failure the alert says it all; an empty frame below it would only look broken.
  ui.region.hidden = failed;
  const empty = rows.length === 0 && !failed;
  ui.empty.hidden = !empty;
  ui.table.hidden = rows.length === 0;
  if (empty) {
    const searching = state.q.trim() !== '';
    ui.emptyTitle.textContent = searching ? `No accounts match “${state.q.trim()}”` : 'No accounts yet';
    ui.emptyText.textContent = searching
      ? 'Check the spelling or search for part of the name.'
      : 'Accounts you own in Creatio appear here. Create the first one with “New account”.';
  }
}

function renderPaging(total, shown) {
  const pages = Math.max(1, Math.ceil(total / state.size));
  const first = total === 0 ? 0 : (state.page - 1) * state.size + 1;
  ui.summary.textContent =
    total === 0 ? '' : `Showing ${first}–${first + shown - 1} of ${total} account${total === 1 ? '' : 's'}`;
  ui.pageIndicator.textContent = total === 0 ? '' : `Page ${state.page} of ${pages}`;
  // Nothing to page through (no rows, or an error above): two disabled buttons would only be noise.
  ui.pagination.hidden = total === 0;
  ui.previous.disabled = state.page <= 1;
  ui.next.disabled = state.page >= pages;
}

function renderSortHeaders() {
  for (const th of ui.table.querySelectorAll('th[data-sort]')) {
    if (th.dataset.sort === state.sort) {
      th.setAttribute('aria-sort', state.dir === 'asc' ? 'ascending' : 'descending');
    } else {
      th.removeAttribute('aria-sort');
    }
  }
}

/**
 * Re-rendering replaces the rows, and with them the Edit or Delete button that had the focus (it gets it back when
 * a dialog closes), or the "Try again" button goes away: without help the focus would fall back to the top of the
 * document. Put it on the same button of the same row, or on the table when that row is gone.
 */
function rememberFocus() {
  const active = document.activeElement;
  if (ui.body.contains(active)) {
    return { rowId: active.closest('tr')?.dataset.id, action: active.dataset.action };
  }
  return { lost: ui.error.contains(active) };
}

function restoreFocus({ rowId, action, lost }) {
  if (rowId === undefined && !lost) return;
  const row = [...ui.body.rows].find((tr) => tr.dataset.id === rowId);
  const button = row?.querySelector(`[data-action="${action}"]`);
  (button ?? ui.region).focus();
}

/** Says what the table now shows, for screen readers: the rows appear silently otherwise. */
function announce(text) {
  ui.announcer.textContent = text;
}

let noticeTimer;

function showNotice(text) {
  ui.notice.replaceChildren(h('div', { className: 'alert alert-success' }, h('p', {}, text)));
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => ui.notice.replaceChildren(), 6000);
}

// ---- create / edit ----

let editing;

function openAccountDialog(account) {
  editing = account;
  ui.accountForm.reset();
  clearAccountFormError();
  ui.accountTitle.textContent = account ? 'Edit account' : 'New account';
  ui.accountSubmit.textContent = account ? 'Save changes' : 'Create account';
  for (const field of editableFields) {
    ui.accountForm.elements[field].value = account?.[field] ?? '';
  }
  ui.accountDialog.showModal();
  ui.accountForm.elements.Name.focus();
}

function readAccountForm() {
  const values = {};
  for (const field of editableFields) values[field] = ui.accountForm.elements[field].value.trim();
  return values;
}

/** For a new account: the filled-in fields. For an edit: only what changed, so PATCH touches nothing else. */
function toRequestBody(values) {
  const entries = Object.entries(values).filter(([field, value]) =>
    editing ? value !== (editing[field] ?? '') : value !== '',
  );
  return Object.fromEntries(entries);
}

async function saveAccount(event) {
  event.preventDefault();
  const values = readAccountForm();
  // No check of our own for an empty name: Creatio decides what a valid account is, and its message is shown here.
  const body = toRequestBody(values);
  if (editing && Object.keys(body).length === 0) {
    ui.accountDialog.close();
    return;
  }
  clearAccountFormError();
  ui.accountSubmit.disabled = true;
  try {
    if (editing) {
      await apiJson(entityPath('Account', editing.Id), { method: 'PATCH', body });
    } else {
      await apiJson('/api/odata/Account', { method: 'POST', body });
    }
    ui.accountDialog.close();
    showNotice(editing ? `Saved changes to “${values.Name}”.` : `Created account “${values.Name}”.`);
    await loadAccounts();
  } catch (err) {
    showAccountFormError(err);
  } finally {
    ui.accountSubmit.disabled = false;
  }
}

/** Creatio's message goes next to the form; when it is about a field (Creatio names it in quotes), so does focus. */
function showAccountFormError(err) {
  showError(ui.accountError, err);
  const field = editableFields.find((name) => err instanceof ApiError && err.message.includes(`'${name}'`));
  if (!field) return;
  const input = ui.accountForm.elements[field];
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', ui.accountError.id);
  input.focus();
}

function clearAccountFormError() {
  clearError(ui.accountError);
  for (const field of editableFields) {
    ui.accountForm.elements[field].removeAttribute('aria-invalid');
    ui.accountForm.elements[field].removeAttribute('aria-describedby');
  }
}

// ---- delete ----

let deleting;

function openDeleteDialog(account) {
  deleting = account;
  clearError(ui.deleteError);
  ui.deleteName.textContent = account.Name || '(no name)';
  ui.deleteDialog.showModal();
}

async function deleteAccount(event) {
  event.preventDefault();
  ui.deleteSubmit.disabled = true;
  try {
    await apiJson(entityPath('Account', deleting.Id), { method: 'DELETE' });
    ui.deleteDialog.close();
    showNotice(`Deleted account “${deleting.Name}”.`);
    await loadAccounts();
  } catch (err) {
    showError(ui.deleteError, err);
  } finally {
    ui.deleteSubmit.disabled = false;
  }
}

// ---- selecting and deleting several (one $batch) ----

/** Selected accounts by id (kept across pages and searches until deleted or cleared): id → name. */
const selection = new Map();
/** After a batch delete, why each account that is still there was not deleted: id → Creatio's message. */
const failedDeletes = new Map();
let shownRows = [];

function toggleSelection(account, selected) {
  if (selected) selection.set(account.Id, account.Name || '(no name)');
  else selection.delete(account.Id);
  renderSelection();
}

function renderSelection() {
  const count = selection.size;
  ui.selectionBar.hidden = count === 0;
  ui.selectionCount.textContent = `${count} account${count === 1 ? '' : 's'} selected`;
  const onPage = shownRows.filter((row) => selection.has(row.Id)).length;
  ui.selectPage.checked = shownRows.length > 0 && onPage === shownRows.length;
  ui.selectPage.indeterminate = onPage > 0 && onPage < shownRows.length;
  ui.selectPage.disabled = shownRows.length === 0;
}

function selectPage(selected) {
  for (const row of shownRows) {
    if (selected) selection.set(row.Id, row.Name || '(no name)');
    else selection.delete(row.Id);
  }
  for (const box of ui.body.querySelectorAll('input[data-action="select"]')) box.checked = selected;
  renderSelection();
}

function openBulkDeleteDialog() {
  const names = [...selection.values()];
  clearError(ui.bulkError);
  ui.bulkTitle.textContent = `Delete ${names.length} account${names.length === 1 ? '' : 's'}?`;
  const shown = names.slice(0, 8).map((name) => h('li', {}, name));
  if (names.length > shown.length)
    shown.push(h('li', { className: 'muted' }, `and ${names.length - shown.length} more`));
  ui.bulkList.replaceChildren(...shown);
  ui.bulkSubmit.textContent = `Delete ${names.length}`;
  ui.bulkDialog.showModal();
}

async function deleteSelected(event) {
  event.preventDefault();
  const targets = [...selection.entries()].map(([id, name]) => ({ id, name }));
  ui.bulkSubmit.disabled = true;
  ui.bulkSubmit.textContent = 'Deleting…';
  let outcomes;
  try {
    outcomes = await runBatch(targets.map(({ id }) => ({ method: 'DELETE', url: `Account(${id})` })));
  } catch (err) {
    showError(ui.bulkError, err);
    ui.bulkSubmit.disabled = false;
    ui.bulkSubmit.textContent = `Delete ${targets.length}`;
    return;
  }
  ui.bulkSubmit.disabled = false;
  ui.bulkDialog.close();
  failedDeletes.clear();
  const failures = [];
  targets.forEach((target, index) => {
    const outcome = outcomes[index];
    if (outcome.ok) {
      selection.delete(target.id);
      return;
    }
    // 404: deleted meanwhile (another tab, a colleague) or no longer yours — either way not on the list any more.
    if (outcome.status === 404) {
      selection.delete(target.id);
      failures.push({
        ...target,
        message: 'it is no longer in Creatio (deleted meanwhile, or no longer yours).',
      });
    } else {
      failedDeletes.set(target.id, outcome.error.message);
      failures.push({ ...target, message: outcome.error.message });
    }
  });
  showBulkResults(targets.length - failures.length, failures);
  await loadAccounts();
  ui.bulkResults.focus();
}

function showBulkResults(deleted, failures) {
  const parts = [];
  if (deleted > 0) {
    parts.push(
      h(
        'div',
        { className: 'alert alert-success', role: 'status' },
        h('p', {}, `Deleted ${deleted} account${deleted === 1 ? '' : 's'}.`),
      ),
    );
  }
  if (failures.length > 0) {
    parts.push(
      h(
        'div',
        { className: 'alert alert-error', role: 'alert' },
        h(
          'p',
          { className: 'alert-title' },
          `${failures.length} account${failures.length === 1 ? ' was' : 's were'} not deleted:`,
        ),
        h(
          'ul',
          { className: 'bulk-list' },
          failures.map((failure) => h('li', {}, h('strong', {}, failure.name), ` — ${failure.message}`)),
        ),
        failedDeletes.size > 0
          ? h('p', {}, 'Those still on the list stay selected, so you can try again.')
          : undefined,
      ),
    );
  }
  ui.bulkResults.replaceChildren(...parts);
}

// ---- wiring ----

function searchNow() {
  if (ui.search.value === state.q) return;
  state.q = ui.search.value;
  state.page = 1;
  loadAccounts();
}

const searchSoon = debounce(searchNow, searchDelayMs);

ui.search.value = state.q;
ui.pageSize.value = String(state.size);
ui.search.addEventListener('input', searchSoon);
// Enter searches at once rather than after the pause.
ui.filters.addEventListener('submit', (event) => {
  event.preventDefault();
  searchNow();
});
ui.pageSize.addEventListener('change', () => {
  state.size = Number(ui.pageSize.value);
  state.page = 1;
  loadAccounts();
});
ui.table.querySelector('thead').addEventListener('click', (event) => {
  const th = event.target.closest('th[data-sort]');
  if (!th || !event.target.closest('button')) return;
  const field = th.dataset.sort;
  state.dir = state.sort === field && state.dir === 'asc' ? 'desc' : 'asc';
  state.sort = field;
  state.page = 1;
  renderSortHeaders();
  loadAccounts();
});
ui.previous.addEventListener('click', () => {
  if (isLoading()) return;
  state.page = Math.max(1, state.page - 1);
  loadAccounts();
});
ui.next.addEventListener('click', () => {
  if (isLoading()) return;
  state.page += 1;
  loadAccounts();
});
ui.newAccount.addEventListener('click', () => openAccountDialog(undefined));
ui.accountForm.addEventListener('submit', saveAccount);
ui.deleteForm.addEventListener('submit', deleteAccount);
ui.selectPage.addEventListener('change', () => selectPage(ui.selectPage.checked));
ui.clearSelection.addEventListener('click', () => {
  selection.clear();
  failedDeletes.clear();
  selectPage(false);
});
ui.deleteSelected.addEventListener('click', openBulkDeleteDialog);
ui.bulkForm.addEventListener('submit', deleteSelected);
for (const button of document.querySelectorAll('[data-close-dialog]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
}

renderSortHeaders();
loadAccounts();
