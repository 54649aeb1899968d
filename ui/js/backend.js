// The only module that talks to Tauri. Everything else imports these functions.
// The webview is granted Latchkey's own commands and nothing else; no command
// returns a token, code or verifier.

const tauri = window.__TAURI__;
// Outside the app (plain Chromium: the UI-only tests and design work, see
// tests/ui/harness.mjs), `?fake=<scenario>` swaps in an in-page fake with the same
// commands. It is not part of this bundle: only the tests' server has that path.
const fake = !tauri && new URLSearchParams(location.search).has('fake') ? await loadFake() : null;

async function loadFake() {
  try {
    return await import('../test-support/fake-backend.js');
  } catch {
    console.warn('no fake backend here: serve the window with `node tests/ui/serve.mjs`');
    return null;
  }
}

function invoke(command, args) {
  if (fake) return fake.invoke(command, args);
  if (!tauri?.core) return Promise.reject({ code: 'no_backend', message: 'The Latchkey backend is not available.' });
  return tauri.core.invoke(command, args);
}

/** The window state: providers, keychain, notices. */
export const getState = () => invoke('get_state');

/** Dismisses a notice by id. */
export const dismissNotice = (id) => invoke('dismiss_notice', { id });

/** Calls `onChange()` whenever the backend's state changes. */
export function subscribe(onChange) {
  if (fake) return fake.subscribe(onChange);
  const channel = new tauri.core.Channel();
  channel.onmessage = (event) => {
    if (event?.kind === 'state_changed') onChange();
  };
  return invoke('subscribe', { onEvent: channel });
}

/** Starts a sign-in: the backend opens the system browser. Resolves to the pending sign-in. */
export const startSignIn = (providerId) => invoke('start_sign_in', { providerId });

/** Starts a sign-in on another device: resolves to the pending sign-in with its code. */
export const startDeviceSignIn = (providerId) => invoke('start_device_sign_in', { providerId });

/** Opens the system browser again for a pending sign-in. */
export const openSignInAgain = (handle) => invoke('open_sign_in_again', { handle });

/** Cancels a pending sign-in. */
export const cancelSignIn = (handle) => invoke('cancel_sign_in', { handle });

/** Sets (or clears with null) an account's label. */
export const renameAccount = (id, label) => invoke('rename_account', { id, label });

/** Makes an account the default one. */
export const makeDefaultAccount = (id) => invoke('make_default_account', { id });

/** Signs in again to an account in the system browser. */
export const reauthenticateAccount = (id) => invoke('reauthenticate_account', { id });

/** Signs an account out (revoke at the provider, delete keychain item and metadata). */
export const signOutAccount = (id) => invoke('sign_out_account', { id });

/** "Retry now" for an offline account. */
export const retryAccount = (id) => invoke('retry_account', { id });

/** The authorization URL of a pending sign-in, to open in another browser. */
export const signInLink = (handle) => invoke('sign_in_link', { handle });

/** Opens one of Latchkey's folders (config, data, logs) in the file manager. */
export const openFolder = (folder) => invoke('open_folder', { folder });

/** The provider presets (catalogue): [{ key, title, fields, help, clientSecret, redirect, scopes }]. */
export const providerPresets = () => invoke('provider_presets');

/** A providers-file entry to edit: { draft, clientSecretStored } (never the secret). */
export const providerDraft = (id) => invoke('provider_draft', { id });

/** Live check of a draft (nothing written): { id, issuer, discovery, authorizationEndpoint, redirectUri, clientSecret }. */
export const checkProvider = (draft, replace = null) => invoke('check_provider', { draft, replace });

/** Checks again, writes the providers file; the client secret (write-only) goes to the keychain. */
export const saveProvider = (draft, clientSecret, replace = null) => invoke('save_provider', { draft, clientSecret, replace });

/** Removes a provider's entry (and, when asked, signs its accounts out first). */
export const removeProvider = (id, signOutAccounts) => invoke('remove_provider', { id, signOutAccounts });
