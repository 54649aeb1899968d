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
  $('keychain-message').textContent = error?.message ?? '';
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
