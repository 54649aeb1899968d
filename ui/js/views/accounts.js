// The accounts list, updated in place: one card per account id, made once and
// patched on every state event, so the focused button, an open "Details" and
// the scroll position stay where they are.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $, el, setText, setAttr, setData, setClass, setHidden, syncList, optional } from '../dom.js';
import { countdown } from './countdown.js';
import { openRename, confirmSignOut } from './dialogs.js';
import { ACCOUNT_STATUS, statusOf, accountTitle, initials } from './format.js';

const ACTIONS = {
  reauth: (a) => store.run(backend.reauthenticateAccount(a.id)),
  retry: (a) => store.run(backend.retryAccount(a.id)),
  'make-default': (a) => store.run(backend.makeDefaultAccount(a.id)),
  rename: (a) => openRename(a),
  'sign-out': (a) => confirmSignOut(a),
};

/** The buttons an account offers, in order. */
function actionsOf(a, card) {
  // "Retry now" stays (inactive) while the retry it started runs, so it is not pulled from under the focus.
  const retrying = a.status === 'refreshing' && card.querySelector('.actions [data-action=retry]');
  return [
    a.status === 'needs_sign_in' && { action: 'reauth', className: 'reauth primary', text: 'Sign in again' },
    (a.status === 'offline' || a.status === 'refused' || retrying) && { action: 'retry', className: 'retry primary', text: 'Retry now', busy: a.status === 'refreshing' },
    !a.isDefault && { action: 'make-default', className: 'make-default', text: 'Make default' },
    // The provider gave no name, user name or email: offer a label at once.
    a.unnamed && !a.label
      ? { action: 'rename', className: 'rename primary', text: 'Name this account' }
      : { action: 'rename', className: 'rename', text: 'Rename' },
    a.status !== 'needs_sign_in' && { action: 'reauth', className: 'reauth', text: 'Sign in again' },
    { action: 'sign-out', className: 'sign-out', text: 'Sign out' },
  ].filter(Boolean);
}

function badgesOf(a, who) {
  const [label, chip] = statusOf(ACCOUNT_STATUS, a.status);
  return [
    a.label && { key: 'label', className: 'badge label', text: a.label },
    a.isDefault && { key: 'default', className: 'badge default', text: 'Default', title: 'Default account' },
    { key: 'provider', className: 'badge provider-badge', text: a.providerName },
    { key: 'status', className: `chip status ${chip}`, text: label, role: 'status', ariaLabel: `${who}: ${label}`, spinner: a.status === 'refreshing' },
  ].filter(Boolean);
}

function updateBadge(node, b) {
  setClass(node, b.className);
  setAttr(node, 'title', b.title);
  setAttr(node, 'role', b.role);
  setAttr(node, 'aria-label', b.ariaLabel);
  if (b.key !== 'status') return setText(node, b.text);
  // The chip: an optional spinner, then its own text node.
  optional(node, '.spinner', b.spinner, () => el('span', { className: 'spinner small', 'aria-hidden': 'true' }), node.firstChild);
  if (!node.lastChild || node.lastChild.nodeType !== Node.TEXT_NODE) node.append(document.createTextNode(''));
  if (node.lastChild.data !== b.text) node.lastChild.data = b.text;
}

function updateAvatar(card, a) {
  const current = card.firstElementChild;
  const wantPicture = Boolean(a.picture);
  if (current.classList.contains('picture') !== wantPicture) {
    const next = wantPicture
      ? el('img', { className: 'avatar picture', alt: '', 'aria-hidden': 'true' })
      : el('span', { className: 'avatar', 'aria-hidden': 'true' });
    current.replaceWith(next);
  }
  const avatar = card.firstElementChild;
  if (wantPicture) setAttr(avatar, 'src', a.picture);
  else setText(avatar, initials(a));
}

/** The provider refused Latchkey's request (tokens kept): what to check, the reason under Details. */
function updateRefusal(card, a) {
  const refusal = optional(card, '.refusal', a.status === 'refused', () =>
    el('div', { className: 'refusal', role: 'note' },
      el('span', {}, 'The provider refused Latchkey\'s request — check the provider settings. Nothing was deleted; Latchkey tries again when you choose Retry now.'),
      el('details', {}, el('summary', {}, 'Details'), el('span', { className: 'reason' }))),
  card.querySelector(':scope > .actions'));
  if (!refusal) return;
  setAttr(refusal.querySelector('summary'), 'aria-label', `Details: ${a.email ?? accountTitle(a)}`);
  setText(refusal.querySelector('.reason'), a.problem ?? '');
  const code = optional(refusal.querySelector('details'), 'code', Boolean(a.problemCode), () => el('code'));
  if (code) setText(code, a.problemCode);
}

function createCard() {
  return el('li', { className: 'account' },
    el('span', { className: 'avatar', 'aria-hidden': 'true' }),
    el('span', { className: 'who' }),
    el('span', { className: 'email' }),
    el('span', { className: 'badges' }),
    el('span', { className: 'detail muted' }),
    el('div', { className: 'actions' }));
}

function updateCard(card, a, lastAdded) {
  const who = accountTitle(a);
  setClass(card, `account${lastAdded === a.id ? ' highlight' : ''}`);
  setData(card, {
    id: a.id, status: a.status, provider: a.providerId, default: String(a.isDefault),
    // The expiry the countdown shows (ms), for the exact value.
    expiresAt: a.status === 'ready' && a.accessExpiresAtMs ? String(a.accessExpiresAtMs) : '',
  });
  setAttr(card, 'aria-label', `${who}${a.isDefault ? ', default account' : ''}`);
  updateAvatar(card, a);
  setText(card.querySelector('.who'), who);
  setText(card.querySelector('.email'), a.email ?? '');
  syncList(card.querySelector('.badges'), badgesOf(a, who), {
    key: (b) => b.key,
    create: () => el('span'),
    update: updateBadge,
  });
  const detail = card.querySelector('.detail');
  setData(detail, { liveDetail: a.id });
  setAttr(detail, 'title', a.problem ?? '');
  updateRefusal(card, a);
  const label = (b) => `${b.text}: ${a.email ?? who}`;
  syncList(card.querySelector('.actions'), actionsOf(a, card), {
    key: (b) => b.action,
    create: (b) => el('button', { type: 'button', className: b.className, 'aria-label': label(b), dataset: { action: b.action } }),
    update: (button, b) => {
      setClass(button, b.className);
      setText(button, b.text);
      setAttr(button, 'aria-label', label(b));
      setAttr(button, 'aria-disabled', b.busy ? 'true' : null);
    },
  });
}

export function mountAccounts() {
  const list = $('accounts');
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    const card = button?.closest('.account');
    if (!card || button.getAttribute('aria-disabled') === 'true') return;
    const account = store.account(card.dataset.id);
    if (account) ACTIONS[button.dataset.action]?.(account);
  });
  const live = countdown(() =>
    (store.getState().app?.accounts ?? []).map((a) => [list.querySelector(`.account[data-id="${a.id}"] .detail`), a]).filter(([node]) => node));
  store.subscribe(({ app }) => {
    syncList(list, app.accounts, { key: (a) => a.id, create: createCard, update: (card, a) => updateCard(card, a, app.lastAdded) });
    live.refresh();
    // An unreadable accounts file is not "no accounts yet": the banner says what is wrong.
    setHidden($('accounts-empty'), app.accounts.length > 0 || Boolean(app.registryError));
  });
}
