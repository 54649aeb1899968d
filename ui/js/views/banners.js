// Persistent banners (keychain, providers file, accounts file), the keychain
// chip in the status line, and whether "Add account" can be used.
import * as store from '../store.js';
import { $, setText, setAttr, setData, setClass, setHidden } from '../dom.js';

const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function renderKeychain({ vault = 'keychain', status, error }) {
  const file = vault === 'file';
  setText($('vault-name'), file ? 'Vault: encrypted file' : 'Keychain');
  setText($('keychain-title'), file ? 'The encrypted file vault is not usable.' : 'The system keychain is not usable.');
  setText($('keychain-hint'), `Latchkey keeps refresh tokens only in ${file ? 'the encrypted file vault' : 'the keychain'}, so signing in is disabled until it works.`);
  // The explicit choice, offered only when no keychain answers at all.
  setHidden($('file-vault-hint'), file || error?.code !== 'keychain_unavailable');
  const chip = $('keychain-status');
  setData(chip, { status, vault });
  setText(chip, { checking: 'checking…', ok: 'OK', unavailable: 'unavailable' }[status] ?? status);
  setClass(chip, `chip ${status === 'ok' ? 'chip-ok' : status === 'unavailable' ? 'chip-err' : 'chip-muted'}`);
  const banner = $('keychain-banner');
  setHidden(banner, status !== 'unavailable');
  setData(banner, { code: error?.code ?? '' });
  // The banner's title already says it; show the reason only.
  setText($('keychain-message'), (error?.message ?? '').replace(/^the system keychain is not available: /, ''));
}

function renderFiles(app) {
  const config = $('config-banner');
  setHidden(config, !app.providersFileError);
  setText(config, app.providersFileError ? `The providers file could not be used: ${app.providersFileError.message}` : '');
  const registry = $('registry-banner');
  const problem = app.registryQuarantined ?? app.registryError;
  setHidden(registry, !problem);
  setData(registry, { code: problem?.code ?? '' });
  setText(registry, problem ? capitalized(problem.message) : '');
}

function renderAddButtons(app) {
  const keychainOk = app.keychain.status !== 'unavailable';
  // A file this version must not write (a newer Latchkey's) could not take a new account.
  const registryOk = app.registryError?.code !== 'registry_newer';
  const title = !keychainOk
    ? `Signing in needs a working ${app.keychain.vault === 'file' ? 'encrypted file vault' : 'system keychain'}`
    : !registryOk
      ? 'This version of Latchkey cannot add accounts to the accounts file of a newer version'
      : 'Sign in to another account';
  for (const button of [$('add-account'), $('empty-add')]) {
    if (button.disabled !== (!keychainOk || !registryOk)) button.disabled = !keychainOk || !registryOk;
    setAttr(button, 'title', title);
  }
}

export function mountBanners() {
  store.subscribe(({ app }) => {
    renderKeychain(app.keychain);
    renderFiles(app);
    renderAddButtons(app);
  });
}
