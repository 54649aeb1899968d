// The providers panel (with Add, Edit and Remove) and the provider picker
// ("Add account"), both keyed by provider id and patched in place; the picker
// follows the state while open.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $, el, setText, setAttr, setData, setClass, setHidden, syncList, optional } from '../dom.js';
import { PROVIDER_STATUS, statusOf } from './format.js';
import { openProviderEditor } from './provider-editor.js';

function createProvider(p) {
  // An entry without a readable id (`#n`) can only be fixed by hand.
  const editable = !p.id.startsWith('#');
  return el('li', { className: 'provider' },
    el('span', { className: 'name' }),
    el('span', { className: 'issuer' }),
    el('span', { className: 'chip status', role: 'status' }),
    editable && el('div', { className: 'actions' },
      el('button', { 'aria-label': `Edit ${p.name}`, type: 'button', className: 'edit', dataset: { action: 'edit' }, 'aria-haspopup': 'dialog' }, 'Edit'),
      el('button', { 'aria-label': `Remove ${p.name}`, type: 'button', className: 'remove', dataset: { action: 'remove' }, 'aria-haspopup': 'dialog' }, 'Remove')));
}

function updateProvider(node, p) {
  const [label, chip] = statusOf(PROVIDER_STATUS, p.status);
  setData(node, { id: p.id, status: p.status });
  setText(node.querySelector('.name'), p.name);
  setText(node.querySelector('.issuer'), p.issuer ?? p.id);
  const status = node.querySelector('.chip.status');
  setClass(status, `chip status ${chip}`);
  setAttr(status, 'aria-label', `${p.name}: ${label}`);
  setText(status, label);
  for (const button of node.querySelectorAll('.actions button')) {
    setAttr(button, 'aria-label', `${button.textContent} ${p.name}`);
  }
  const reason = optional(node, '.reason', Boolean(p.error), () => el('span', { className: 'reason' }), node.querySelector(':scope > .actions'));
  if (reason) {
    setData(reason, { code: p.error.code });
    setText(reason, p.error.message);
  }
}

function renderPicker(providers) {
  const usable = providers.filter((p) => p.status !== 'invalid');
  const list = $('picker-list');
  syncList(list, usable.length ? usable : [null], {
    key: (p) => p?.id ?? '',
    create: (p) =>
      p
        ? el('li', {}, el('button', { type: 'button', className: 'pick', dataset: { id: p.id } },
            el('span', { className: 'name' }), el('span', { className: 'issuer' }), el('span', { className: 'chip' })))
        : el('li', { className: 'muted' }, 'No providers are configured.'),
    update: (li, p) => {
      if (!p) return;
      const [label, chip] = statusOf(PROVIDER_STATUS, p.status);
      const button = li.firstElementChild;
      button.disabled = p.status === 'unreachable';
      setText(button.querySelector('.name'), p.name);
      setText(button.querySelector('.issuer'), p.issuer ?? '');
      const status = button.querySelector('.chip');
      setClass(status, `chip ${chip}`);
      setText(status, label);
    },
  });
}

function openPicker(focusId = null) {
  const { app } = store.getState();
  if (!app) return;
  renderPicker(app.providers);
  $('provider-picker').showModal();
  const list = $('picker-list');
  (list.querySelector(`button.pick[data-id="${focusId}"]`) ?? list.querySelector('button:not([disabled])'))?.focus();
}

let removing = null;
function confirmRemove(p) {
  const { app } = store.getState();
  const count = app.accounts.filter((a) => a.providerId === p.id).length;
  removing = p.id;
  setText($('remove-provider-title'), `Remove ${p.name}?`);
  const uses = count === 1 ? 'One account uses it' : `${count} accounts use it`;
  setText($('remove-provider-text'), `Latchkey deletes its entry from the providers file and its client secret, if any, from the keychain.${count ? ` ${uses}: signed out, ${count === 1 ? 'it is' : 'they are'} revoked at the provider and deleted from your keychain; kept, ${count === 1 ? 'it stops' : 'they stop'} refreshing until the provider is added again.` : ''}`);
  setHidden($('remove-provider-sign-out-row'), count === 0);
  $('remove-provider-sign-out').checked = count > 0;
  setText($('remove-provider-sign-out-label'), count === 1 ? 'Sign out its account first' : `Sign out its ${count} accounts first`);
  $('remove-provider-dialog').returnValue = '';
  $('remove-provider-dialog').showModal();
  $('remove-provider-cancel').focus();
}

async function pick(providerId) {
  const onAnotherDevice = $('picker-device').checked;
  $('provider-picker').close();
  try {
    await (onAnotherDevice ? backend.startDeviceSignIn(providerId) : backend.startSignIn(providerId));
  } catch (err) {
    store.showError(err);
  }
  store.reload();
}

export function mountProviders() {
  $('add-account').addEventListener('click', () => openPicker());
  $('empty-add').addEventListener('click', () => openPicker());
  $('add-provider').addEventListener('click', () => openProviderEditor());
  // From the picker: add one, then pick it.
  $('picker-add-provider').addEventListener('click', () => {
    $('provider-picker').close();
    openProviderEditor({ then: (id) => openPicker(id) });
  });
  $('providers').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    const id = button?.closest('.provider')?.dataset.id;
    const p = store.getState().app?.providers.find((x) => x.id === id);
    if (!p) return;
    if (button.dataset.action === 'edit') openProviderEditor({ id });
    else if (button.dataset.action === 'remove') confirmRemove(p);
  });
  $('remove-provider-dialog').addEventListener('close', () => {
    if ($('remove-provider-dialog').returnValue === 'confirm' && removing) {
      store.run(backend.removeProvider(removing, $('remove-provider-sign-out').checked));
    }
    removing = null;
  });
  $('picker-list').addEventListener('click', (event) => {
    const button = event.target.closest('button.pick');
    if (button && !button.disabled) pick(button.dataset.id);
  });
  store.subscribe(({ app }) => {
    setText($('providers-file'), app.providersFile ?? '(no configuration folder)');
    syncList($('providers'), app.providers, { key: (p) => p.id, create: createProvider, update: updateProvider });
    setHidden($('providers-empty'), app.providers.length > 0 || Boolean(app.providersFileError));
    if ($('provider-picker').open) renderPicker(app.providers);
  });
}
