// The account dialogs: label (rename) and the sign-out confirmation. Each
// remembers the account id it was opened for and acts on that id on close.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $ } from '../dom.js';
import { accountTitle as title } from './format.js';

let renaming = null;
export function openRename(account) {
  renaming = account.id;
  $('rename-who').textContent = `${title(account)} · ${account.providerName}`;
  $('rename-input').value = account.label ?? '';
  $('rename-dialog').showModal();
  $('rename-input').focus();
}

let signingOut = null;
export function confirmSignOut(account) {
  signingOut = account.id;
  $('confirm-text').textContent = `Sign out ${account.email ?? title(account)} (${account.providerName})? Latchkey asks the provider to revoke its sign-in and deletes it from your keychain.`;
  $('confirm-dialog').returnValue = '';
  $('confirm-dialog').showModal();
  $('confirm-cancel').focus();
}

export function mountDialogs() {
  $('rename-dialog').addEventListener('close', () => {
    if ($('rename-dialog').returnValue === 'save' && renaming) {
      const value = $('rename-input').value.trim();
      store.run(backend.renameAccount(renaming, value || null));
    }
    renaming = null;
  });
  $('confirm-dialog').addEventListener('close', () => {
    if ($('confirm-dialog').returnValue === 'confirm' && signingOut) store.run(backend.signOutAccount(signingOut));
    signingOut = null;
  });
}
