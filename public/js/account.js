/**
 * One account: its details and its contacts in one request (`$expand=PrimaryContact,ContactCollectionByAccount`),
 * and its logo, which Creatio keeps as a SysImage record whose `Data` stream column holds the image.
 *
 * Showing the logo: `GET SysImage(<id>)/Data` through the proxy with X-CSRF (so not as an <img src>), shown from a
 * blob: URL. Replacing it: a new SysImage record (POST), its content (PUT application/octet-stream), the account
 * pointed at it (PATCH AccountLogoId), then the old image deleted — each step Creatio's own, so nothing is lost if
 * one fails: the account keeps its old logo until the PATCH.
 */
import { ApiError, apiBlob, apiJson, apiUpload, clearError, showError } from './api.js';
import { byId, h } from './dom.js';
import { entityPath } from './odata.js';

const emptyGuid = '00000000-0000-0000-0000-000000000000';
const accountColumns = [
  'Id',
  'Name',
  'Code',
  'Phone',
  'Web',
  'City',
  'Notes',
  'PrimaryContactId',
  'AccountLogoId',
  'ModifiedOn',
];
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

const ui = {
  page: byId('account-page'),
  crumb: byId('breadcrumb-name'),
  error: byId('account-error'),
  region: byId('account-region'),
  loading: byId('account-loading'),
  name: byId('account-name'),
  subtitle: byId('account-subtitle'),
  logo: byId('account-logo'),
  placeholder: byId('logo-placeholder'),
  logoBusy: byId('logo-busy'),
  logoFile: byId('logo-file'),
  replaceLogo: byId('replace-logo'),
  logoStatus: byId('logo-status'),
  logoError: byId('logo-error'),
  code: byId('fact-code'),
  city: byId('fact-city'),
  phone: byId('fact-phone'),
  web: byId('fact-web'),
  primary: byId('fact-primary'),
  modified: byId('fact-modified'),
  notes: byId('account-notes'),
  contactsCount: byId('contacts-count'),
  contactsTable: byId('contacts-table'),
  contactsBody: byId('contacts-body'),
  contactsEmpty: byId('contacts-empty'),
};

const accountId = ui.page.dataset.accountId;
let account;
let logoUrl;

function placeholder() {
  return h('span', { className: 'muted', 'aria-label': 'empty' }, '—');
}

function initialsOf(name) {
  return (
    String(name)
      .split(/\s+/)
      .slice(0, 2)
      .map((word) => word[0]?.toUpperCase() ?? '')
      .join('') || '?'
  );
}

function hasLookup(value) {
  return Boolean(value) && value !== emptyGuid;
}

function webLink(value) {
  if (!value) return placeholder();
  // Only http(s) becomes a link: a stored "javascript:" URL must stay text.
  if (!/^https?:\/\//i.test(value)) return value;
  return h(
    'a',
    { href: value, target: '_blank', rel: 'noopener noreferrer' },
    value.replace(/^https?:\/\//i, ''),
  );
}

function mailLink(value) {
  return value ? h('a', { href: `mailto:${value}`, title: value }, value) : placeholder();
}

// ---- loading ----

async function loadAccount() {
  ui.region.setAttribute('aria-busy', 'true');
  ui.loading.hidden = false;
  try {
    account = await apiJson(
      `${entityPath('Account', accountId)}?$select=${accountColumns.join(',')}&$expand=PrimaryContact,ContactCollectionByAccount`,
    );
    clearError(ui.error);
    ui.region.hidden = false;
    renderAccount();
    renderContacts(
      Array.isArray(account.ContactCollectionByAccount) ? account.ContactCollectionByAccount : [],
    );
    await showLogo();
  } catch (err) {
    ui.region.hidden = true;
    document.querySelector('.contacts-section').hidden = true;
    showError(ui.error, notFoundSaysSo(err), {
      retry: err instanceof ApiError && err.status === 404 ? undefined : loadAccount,
    });
  } finally {
    ui.region.setAttribute('aria-busy', 'false');
    ui.loading.hidden = true;
  }
}

/** Creatio answers 404 both for "no such account" and "not yours": say that, in words. */
function notFoundSaysSo(err) {
  if (err instanceof ApiError && err.status === 404 && err.fromCreatio) {
    return new ApiError('This account does not exist in Creatio, or you may not see it.', { status: 404 });
  }
  return err;
}

function renderAccount() {
  const name = account.Name || '(no name)';
  document.title = `${name} · ${document.title.split(' · ').at(-1)}`;
  ui.name.textContent = name;
  ui.crumb.textContent = name;
  ui.subtitle.textContent = [account.City, account.Code ? `Code ${account.Code}` : '']
    .filter(Boolean)
    .join(' · ');
  ui.code.replaceChildren(account.Code || placeholder());
  ui.city.replaceChildren(account.City || placeholder());
  ui.phone.replaceChildren(
    account.Phone ? h('a', { href: `tel:${account.Phone}` }, account.Phone) : placeholder(),
  );
  ui.web.replaceChildren(webLink(account.Web));
  const primary = account.PrimaryContact;
  ui.primary.replaceChildren(primary ? primary.Name || '(no name)' : placeholder());
  const modified = account.ModifiedOn ? new Date(account.ModifiedOn) : undefined;
  ui.modified.replaceChildren(
    modified && !Number.isNaN(modified.getTime())
      ? h('time', { datetime: account.ModifiedOn }, dateFormat.format(modified))
      : placeholder(),
  );
  ui.notes.hidden = !account.Notes;
  ui.notes.textContent = account.Notes ?? '';
  ui.placeholder.textContent = initialsOf(name);
  ui.replaceLogo.disabled = false;
}

function renderContacts(contacts) {
  const sorted = [...contacts].sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
  ui.contactsCount.textContent = String(sorted.length);
  ui.contactsCount.setAttribute('aria-label', `${sorted.length} contact${sorted.length === 1 ? '' : 's'}`);
  ui.contactsTable.hidden = sorted.length === 0;
  ui.contactsEmpty.hidden = sorted.length > 0;
  ui.contactsBody.replaceChildren(
    ...sorted.map((contact) =>
      h(
        'tr',
        { dataset: { id: contact.Id } },
        h(
          'td',
          { className: 'cell-name', 'data-label': 'Name' },
          h(
            'span',
            { className: 'contact-name' },
            h('span', { className: 'account-name' }, contact.Name || '(no name)'),
            contact.Id === account.PrimaryContactId
              ? h('span', { className: 'badge badge-primary' }, 'Primary')
              : undefined,
          ),
        ),
        h('td', { 'data-label': 'Job title' }, contact.JobTitle || placeholder()),
        h('td', { 'data-label': 'E-mail', className: 'cell-email' }, mailLink(contact.Email)),
        h('td', { 'data-label': 'Mobile', className: 'nowrap' }, contact.MobilePhone || placeholder()),
      ),
    ),
  );
}

// ---- the logo ----

function setLogoBusy(busy) {
  ui.logoBusy.hidden = !busy;
  ui.replaceLogo.disabled = busy;
  ui.region.querySelector('.logo-frame').setAttribute('aria-busy', String(busy));
}

/** Reads the logo through the proxy and shows it from a blob: URL; the initials stay when there is none. */
async function showLogo() {
  const name = account.Name || '(no name)';
  let blob;
  if (hasLookup(account.AccountLogoId)) {
    try {
      blob = await apiBlob(`${entityPath('SysImage', account.AccountLogoId)}/Data`);
    } catch (err) {
      showError(ui.logoError, err);
    }
  }
  if (logoUrl) URL.revokeObjectURL(logoUrl);
  logoUrl = blob ? URL.createObjectURL(blob) : undefined;
  ui.logo.hidden = !logoUrl;
  ui.placeholder.hidden = Boolean(logoUrl);
  if (logoUrl) {
    ui.logo.src = logoUrl;
    ui.logo.alt = `Logo of ${name}`;
  } else {
    ui.logo.removeAttribute('src');
  }
}

async function replaceLogo(file) {
  clearError(ui.logoError);
  if (!file.type.startsWith('image/')) {
    showError(
      ui.logoError,
      new ApiError(`“${file.name}” is not an image. Choose a PNG, JPEG, GIF, WebP or SVG file.`),
    );
    return;
  }
  setLogoBusy(true);
  ui.logoStatus.textContent = `Uploading “${file.name}”…`;
  const oldLogoId = hasLookup(account.AccountLogoId) ? account.AccountLogoId : undefined;
  let image;
  try {
    image = await apiJson('/api/odata/SysImage', {
      method: 'POST',
      body: { Name: file.name, MimeType: file.type },
    });
    await apiUpload(`${entityPath('SysImage', image.Id)}/Data`, file);
    await apiJson(entityPath('Account', accountId), { method: 'PATCH', body: { AccountLogoId: image.Id } });
  } catch (err) {
    ui.logoStatus.textContent = '';
    showError(ui.logoError, err);
    // The account still points at its old logo; the half-made image goes.
    if (image) apiJson(entityPath('SysImage', image.Id), { method: 'DELETE' }).catch(() => {});
    setLogoBusy(false);
    return;
  }
  account.AccountLogoId = image.Id;
  if (oldLogoId) apiJson(entityPath('SysImage', oldLogoId), { method: 'DELETE' }).catch(() => {});
  await showLogo();
  setLogoBusy(false);
  ui.logoStatus.textContent = 'Logo replaced.';
  ui.replaceLogo.focus();
}

ui.replaceLogo.addEventListener('click', () => ui.logoFile.click());
ui.logoFile.addEventListener('change', () => {
  const [file] = ui.logoFile.files;
  ui.logoFile.value = '';
  if (file) replaceLogo(file);
});

loadAccount();
