// The providers panel and the provider picker ("Add account"), both keyed by
// provider id and patched in place; the picker follows the state while open.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $, el, setText, setAttr, setData, setClass, setHidden, syncList, optional } from '../dom.js';
import { PROVIDER_STATUS, statusOf } from './format.js';

function createProvider() {
  return el('li', { className: 'provider' },
    el('span', { className: 'name' }),
    el('span', { className: 'issuer' }),
    el('span', { className: 'chip status', role: 'status' }));
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
  const reason = optional(node, '.reason', Boolean(p.error), () => el('span', { className: 'reason' }));
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

function openPicker() {
  const { app } = store.getState();
  if (!app) return;
  renderPicker(app.providers);
  $('provider-picker').showModal();
  $('picker-list').querySelector('button:not([disabled])')?.focus();
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
  $('add-account').addEventListener('click', openPicker);
  $('empty-add').addEventListener('click', openPicker);
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
