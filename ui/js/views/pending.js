// Sign-ins waiting for the browser: one card per pending handle, patched in place.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $, el, setText, setData, syncList, optional } from '../dom.js';

function createCard() {
  return el('div', { className: 'pending-card', role: 'status' },
    el('span', { className: 'spinner', 'aria-hidden': 'true' }),
    el('div', { className: 'text' },
      el('strong', {}, 'Continue in your browser…'),
      el('div', { className: 'muted small-text' })),
    el('div', { className: 'actions' },
      el('button', { className: 'open-again', type: 'button', dataset: { action: 'open-again' } }, 'Open the browser again'),
      el('button', { className: 'copy-link', type: 'button', dataset: { action: 'copy-link' } }),
      el('button', { className: 'cancel', type: 'button', dataset: { action: 'cancel' } }, 'Cancel')));
}

function updateCard(card, p, { copiedLinks, shownLinks }) {
  setData(card, { handle: p.handle, provider: p.providerId, device: p.device ? 'true' : 'false' });
  const code = optional(card.querySelector('.text'), '.user-code', Boolean(p.device), () =>
    el('div', { className: 'user-code', 'aria-label': 'Code to enter' }), card.querySelector('.small-text'));
  if (p.device) {
    // Sign-in on another device: the code and the page are what the person needs.
    setText(card.querySelector('strong'), 'Enter this code on another device');
    setText(code, p.device.userCode);
    setText(card.querySelector('.small-text'), `Open ${p.device.verificationUri} on any device and sign in to ${p.providerName}. Latchkey finishes by itself when you are done.`);
    setText(card.querySelector('.open-again'), 'Open the page here');
    setText(card.querySelector('.copy-link'), copiedLinks.has(p.handle) ? 'Code copied' : 'Copy code');
    return;
  }
  setText(card.querySelector('strong'), 'Continue in your browser…');
  setText(card.querySelector('.small-text'), `Signing in to ${p.providerName}. Latchkey finishes by itself when you are done.`);
  setText(card.querySelector('.open-again'), 'Open the browser again');
  const link = optional(card.querySelector('.text'), '.link-fallback', shownLinks.has(p.handle), () =>
    el('input', { className: 'link-fallback', readonly: 'readonly', 'aria-label': 'Sign-in link' }));
  if (link && link.value !== shownLinks.get(p.handle)) link.value = shownLinks.get(p.handle);
  setText(card.querySelector('.copy-link'), copiedLinks.has(p.handle) ? 'Link copied' : 'Copy sign-in link');
}

async function copyLink(handle) {
  try {
    const link = await backend.signInLink(handle);
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('clipboard timeout')), 1500));
    try {
      await Promise.race([navigator.clipboard.writeText(link), timeout]);
      store.update((s) => s.copiedLinks.add(handle));
    } catch {
      // No clipboard access: show the link to copy by hand.
      store.update((s) => s.shownLinks.set(handle, link));
      document.querySelector(`#pending [data-handle="${handle}"] .link-fallback`)?.select();
    }
  } catch (err) {
    store.showError(err);
  }
}

const ACTIONS = {
  'open-again': (handle) => backend.openSignInAgain(handle).catch(store.showError),
  'copy-link': copyLink,
  cancel: (handle) => store.run(backend.cancelSignIn(handle)),
};

export function mountPending() {
  const list = $('pending');
  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    const handle = button?.closest('.pending-card')?.dataset.handle;
    if (handle) ACTIONS[button.dataset.action](handle);
  });
  store.subscribe((state) => {
    syncList(list, state.app.pending, { key: (p) => p.handle, create: createCard, update: (card, p) => updateCard(card, p, state) });
  });
}
