// Renders the accounts window from the backend's state.
import * as backend from './backend.js';

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2).toLowerCase(), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const PROVIDER_STATUS = {
  checking: ['Checking…', 'chip-muted'],
  reachable: ['Reachable', 'chip-ok'],
  unreachable: ['Unreachable', 'chip-err'],
  invalid: ['Invalid configuration', 'chip-err'],
};

function renderProviders(state) {
  $('providers-file').textContent = state.providersFile ?? '(no configuration folder)';
  const list = $('providers');
  list.replaceChildren(
    ...state.providers.map((p) => {
      const [label, chip] = PROVIDER_STATUS[p.status] ?? [p.status, 'chip-muted'];
      return el(
        'li',
        { className: 'provider', dataset: { id: p.id, status: p.status } },
        el('span', { className: 'name' }, p.name),
        el('span', { className: 'issuer' }, p.issuer ?? p.id),
        el('span', { className: `chip status ${chip}`, role: 'status', 'aria-label': `${p.name}: ${label}` }, label),
        p.error ? el('span', { className: 'reason', dataset: { code: p.error.code } }, p.error.message) : null,
      );
    }),
  );
  $('providers-empty').hidden = state.providers.length > 0 || Boolean(state.providersFileError);
  const configBanner = $('config-banner');
  configBanner.hidden = !state.providersFileError;
  configBanner.textContent = state.providersFileError
    ? `The providers file could not be used: ${state.providersFileError.message}`
    : '';
}

function renderKeychain(state) {
  const { status, error } = state.keychain;
  const chip = $('keychain-status');
  chip.dataset.status = status;
  chip.textContent = { checking: 'checking…', ok: 'OK', unavailable: 'unavailable' }[status] ?? status;
  chip.className = `chip ${status === 'ok' ? 'chip-ok' : status === 'unavailable' ? 'chip-err' : 'chip-muted'}`;
  $('keychain-banner').hidden = status !== 'unavailable';
  $('keychain-banner').dataset.code = error?.code ?? '';
  // The banner's title already says it; show the reason only.
  $('keychain-message').textContent = (error?.message ?? '').replace(/^the system keychain is not available: /, '');
}

function renderNotices(state) {
  $('notices').replaceChildren(
    ...state.notices.map((n) =>
      el(
        'div',
        { className: 'notice', role: n.level === 'error' ? 'alert' : 'status', dataset: { level: n.level, code: n.code, id: n.id } },
        el('div', { className: 'message' }, n.message, el('details', {}, el('summary', {}, 'Details'), el('code', {}, n.code))),
        el('button', { className: 'icon-button', 'aria-label': 'Dismiss', title: 'Dismiss', onClick: () => backend.dismissNotice(n.id).then(refresh) }, '×'),
      ),
    ),
  );
}

function initials(account) {
  const source = account.name || account.email || '?';
  const parts = source.split(/[\s@._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[1][0] : '')).toUpperCase();
}

const ACCOUNT_STATUS = {
  ready: ['Ready', 'chip-ok'],
  signed_in: ['Signed in', 'chip-ok'],
  refreshing: ['Refreshing…', 'chip-muted'],
  offline: ['Offline', 'chip-warn'],
  refused: ['Refused', 'chip-refused'],
  needs_sign_in: ['Needs sign-in', 'chip-err'],
};

/** The provider refused Latchkey's request (tokens kept): say what to check, reason under Details. */
function refusal(a) {
  if (a.status !== 'refused') return null;
  return el('div', { className: 'refusal', role: 'note' },
    el('span', {}, 'The provider refused Latchkey\'s request — check the provider settings. Nothing was deleted; Latchkey tries again when you choose Retry now.'),
    el('details', {},
      el('summary', { 'aria-label': `Details: ${a.email ?? accountTitle(a)}` }, 'Details'),
      el('span', { className: 'reason' }, a.problem ?? ''),
      a.problemCode ? el('code', {}, a.problemCode) : null));
}

function inWords(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** The live part of a status: "expires in 12 min", "retrying in 8 s". */
function statusDetail(a) {
  const now = Date.now();
  if (a.status === 'ready' && a.accessExpiresAtMs) return `expires in ${inWords(a.accessExpiresAtMs - now)}`;
  if (a.status === 'offline' && a.retryAtMs) return `retrying in ${inWords(a.retryAtMs - now)}`;
  return '';
}

setInterval(() => {
  for (const node of document.querySelectorAll('[data-live-detail]')) {
    const account = lastState?.accounts.find((a) => a.id === node.dataset.liveDetail);
    if (account) node.textContent = statusDetail(account);
  }
}, 1000);

function accountTitle(a) {
  return a.name ?? a.email ?? a.id;
}

function renderAccounts(state) {
  $('accounts').replaceChildren(
    ...state.accounts.map((a) => {
      const [label, chip] = ACCOUNT_STATUS[a.status] ?? [a.status, 'chip-muted'];
      const who = accountTitle(a);
      const action = (cls, text, onClick, extra = {}) =>
        el('button', { type: 'button', className: cls, onClick, 'aria-label': `${text}: ${a.email ?? who}`, ...extra }, text);
      return el(
        'li',
        {
          className: `account${state.lastAdded === a.id ? ' highlight' : ''}`,
          dataset: { id: a.id, status: a.status, provider: a.providerId, default: String(a.isDefault) },
          'aria-label': `${who}${a.isDefault ? ', default account' : ''}`,
        },
        a.picture
          ? el('img', { className: 'avatar picture', src: a.picture, alt: '', 'aria-hidden': 'true' })
          : el('span', { className: 'avatar', 'aria-hidden': 'true' }, initials(a)),
        el('span', { className: 'who' }, who),
        el('span', { className: 'email' }, a.email ?? ''),
        el('span', { className: 'badges' },
          a.label ? el('span', { className: 'badge label' }, a.label) : null,
          a.isDefault ? el('span', { className: 'badge default', title: 'Default account' }, 'Default') : null,
          el('span', { className: 'badge provider-badge' }, a.providerName),
          el('span', { className: `chip status ${chip}`, role: 'status', 'aria-label': `${who}: ${label}` },
            a.status === 'refreshing' ? el('span', { className: 'spinner small', 'aria-hidden': 'true' }) : null, label)),
        el('span', { className: 'detail muted', dataset: { liveDetail: a.id }, title: a.problem ?? '' }, statusDetail(a)),
        refusal(a),
        el('div', { className: 'actions' },
          a.status === 'needs_sign_in' ? action('reauth primary', 'Sign in again', () => reauth(a)) : null,
          a.status === 'offline' || a.status === 'refused'
            ? action('retry primary', 'Retry now', () => run(backend.retryAccount(a.id)))
            : null,
          a.isDefault ? null : action('make-default', 'Make default', () => run(backend.makeDefaultAccount(a.id))),
          action('rename', 'Rename', () => openRename(a)),
          a.status === 'needs_sign_in' ? null : action('reauth', 'Sign in again', () => reauth(a)),
          action('sign-out', 'Sign out', () => confirmSignOut(a))),
      );
    }),
  );
  // An unreadable accounts file is not "no accounts yet": the banner says what is wrong.
  $('accounts-empty').hidden = state.accounts.length > 0 || !!state.registryError;
  const registry = $('registry-banner');
  const problem = state.registryQuarantined ?? state.registryError;
  registry.hidden = !problem;
  registry.dataset.code = problem?.code ?? '';
  registry.textContent = problem ? problem.message.charAt(0).toUpperCase() + problem.message.slice(1) : '';
}

function run(promise) {
  return promise.then(refresh).catch(showError);
}

function reauth(account) {
  return run(backend.reauthenticateAccount(account.id));
}

let renaming = null;
function openRename(account) {
  renaming = account;
  $('rename-who').textContent = `${accountTitle(account)} · ${account.providerName}`;
  $('rename-input').value = account.label ?? '';
  $('rename-dialog').showModal();
  $('rename-input').focus();
}

$('rename-dialog').addEventListener('close', () => {
  if ($('rename-dialog').returnValue === 'save' && renaming) {
    const value = $('rename-input').value.trim();
    run(backend.renameAccount(renaming.id, value || null));
  }
  renaming = null;
});

let signingOut = null;
function confirmSignOut(account) {
  signingOut = account;
  $('confirm-text').textContent = `Sign out ${account.email ?? accountTitle(account)} (${account.providerName})? Latchkey asks the provider to revoke its sign-in and deletes it from your keychain.`;
  $('confirm-dialog').returnValue = '';
  $('confirm-dialog').showModal();
  $('confirm-cancel').focus();
}

$('confirm-dialog').addEventListener('close', () => {
  if ($('confirm-dialog').returnValue === 'confirm' && signingOut) run(backend.signOutAccount(signingOut.id));
  signingOut = null;
});

function renderPending(state) {
  $('pending').replaceChildren(
    ...state.pending.map((p) =>
      el(
        'div',
        { className: 'pending-card', role: 'status', dataset: { handle: p.handle, provider: p.providerId } },
        el('span', { className: 'spinner', 'aria-hidden': 'true' }),
        el('div', { className: 'text' },
          el('strong', {}, 'Continue in your browser…'),
          el('div', { className: 'muted small-text' }, `Signing in to ${p.providerName}. Latchkey finishes by itself when you are done.`),
          shownLinks.has(p.handle)
            ? el('input', { className: 'link-fallback', readonly: 'readonly', 'aria-label': 'Sign-in link', value: shownLinks.get(p.handle) })
            : null),
        el('div', { className: 'actions' },
          el('button', { className: 'open-again', type: 'button', onClick: () => backend.openSignInAgain(p.handle).catch(showError) }, 'Open the browser again'),
          el('button', { className: 'copy-link', type: 'button', onClick: () => copyLink(p.handle) }, copiedLinks.has(p.handle) ? 'Link copied' : 'Copy sign-in link'),
          el('button', { className: 'cancel', type: 'button', onClick: () => backend.cancelSignIn(p.handle).then(refresh).catch(showError) }, 'Cancel')),
      ),
    ),
  );
}

let lastState = null;

function renderAddButton(state) {
  const keychainOk = state.keychain.status !== 'unavailable';
  // A file this version must not write (a newer Latchkey's) could not take a new account.
  const registryOk = state.registryError?.code !== 'registry_newer';
  for (const button of [$('add-account'), $('empty-add')]) {
    button.disabled = !keychainOk || !registryOk;
    button.title = !keychainOk
      ? 'Signing in needs a working system keychain'
      : !registryOk
        ? 'This version of Latchkey cannot add accounts to the accounts file of a newer version'
        : 'Sign in to another account';
  }
}

function openPicker() {
  const state = lastState;
  if (!state) return;
  const usable = state.providers.filter((p) => p.status !== 'invalid');
  $('picker-list').replaceChildren(
    ...(usable.length
      ? usable.map((p) => {
          const [label, chip] = PROVIDER_STATUS[p.status] ?? [p.status, 'chip-muted'];
          return el('li', {},
            el('button', { type: 'button', className: 'pick', dataset: { id: p.id }, disabled: p.status === 'unreachable' ? 'disabled' : null, onClick: () => pick(p.id) },
              el('span', { className: 'name' }, p.name),
              el('span', { className: 'issuer' }, p.issuer ?? ''),
              el('span', { className: `chip ${chip}` }, label)));
        })
      : [el('li', { className: 'muted' }, 'No providers are configured.')]),
  );
  $('provider-picker').showModal();
  $('picker-list').querySelector('button:not([disabled])')?.focus();
}

async function pick(providerId) {
  $('provider-picker').close();
  try {
    await backend.startSignIn(providerId);
  } catch (err) {
    showError(err);
  }
  refresh();
}

function showError(err) {
  // Errors from commands are {code, message}; show them like backend notices.
  const notice = el('div', { className: 'notice', role: 'alert', dataset: { level: 'error', code: err?.code ?? 'error' } },
    el('div', { className: 'message' }, err?.message ?? String(err), el('details', {}, el('summary', {}, 'Details'), el('code', {}, err?.code ?? 'error'))),
    el('button', { className: 'icon-button', 'aria-label': 'Dismiss', title: 'Dismiss', onClick: (e) => e.currentTarget.parentElement.remove() }, '×'));
  $('local-errors').append(notice);
}

$('add-account').addEventListener('click', openPicker);
$('empty-add').addEventListener('click', openPicker);

// Remembered across re-renders: which links were copied, which are shown for copying by hand.
const copiedLinks = new Set();
const shownLinks = new Map();

async function copyLink(handle) {
  try {
    const link = await backend.signInLink(handle);
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('clipboard timeout')), 1500));
    try {
      await Promise.race([navigator.clipboard.writeText(link), timeout]);
      copiedLinks.add(handle);
    } catch {
      // No clipboard access: show the link to copy by hand.
      shownLinks.set(handle, link);
    }
    if (lastState) renderPending(lastState);
    document.querySelector(`#pending [data-handle="${handle}"] .link-fallback`)?.select();
  } catch (err) {
    showError(err);
  }
}

function openAbout() {
  const state = lastState;
  if (!state) return;
  $('about-version').textContent = state.version;
  $('about-providers-file').textContent = state.providersFile ?? '(none)';
  $('about-accounts-file').textContent = state.accountsFile ?? '(none)';
  $('about-log-file').textContent = state.logFile ?? '(not written)';
  $('about-providers').replaceChildren(
    ...state.providers.map((p) => {
      const [label, chip] = PROVIDER_STATUS[p.status] ?? [p.status, 'chip-muted'];
      return el('li', { dataset: { id: p.id } }, el('span', {}, `${p.name} — ${p.issuer ?? p.id}`), el('span', { className: `chip ${chip}` }, label));
    }),
  );
  $('about-dialog').showModal();
  $('about-close').focus();
}

$('open-about').addEventListener('click', openAbout);
for (const button of document.querySelectorAll('.open-folder')) {
  button.addEventListener('click', () => backend.openFolder(button.dataset.folder).catch(showError));
}

let refreshing = null;
async function refresh() {
  // Coalesce bursts of change events into one fetch at a time.
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const state = await backend.getState();
      renderProviders(state);
      renderKeychain(state);
      renderNotices(state);
      renderAccounts(state);
      renderPending(state);
      renderAddButton(state);
      lastState = state;
      document.body.dataset.ready = 'true';
    } catch (err) {
      console.error('get_state failed', err?.code ?? err);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let again = false;
function onChange() {
  if (refreshing) {
    again = true;
    refreshing.then(() => {
      if (again) {
        again = false;
        refresh();
      }
    });
  } else {
    refresh();
  }
}

backend.subscribe(onChange).catch((err) => console.error('subscribe failed', err?.code ?? err));
refresh();
