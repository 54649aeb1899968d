// Latchkey sign-in for the webview: an ES module with no bundler and no npm
// dependency. It uses the global Tauri API, so the app sets
// `"app": { "withGlobalTauri": true }` in tauri.conf.json.
//
//   import { signIn, accounts, onChange } from './latchkey.js';
//
// Every call rejects with `{ code, message }` (never a secret): match on `code`.

const tauri = () => {
  const api = window.__TAURI__;
  if (!api || !api.core) {
    throw { code: 'no_tauri', message: 'window.__TAURI__ is missing: set app.withGlobalTauri' };
  }
  return api.core;
};

const call = (command, args) => tauri().invoke(`plugin:latchkey|${command}`, args);

/**
 * Starts a sign-in with a provider of the providers file. The plugin opens the
 * system browser when it can; otherwise open `authorizationUrl` yourself.
 * The sign-in completes when the browser hands the deep link back (watch
 * `onChange` for `signed_in` or `sign_in_failed`).
 * @param {string} provider provider id
 * @returns {Promise<{provider: string, authorizationUrl: string, opened: boolean, expiresAt: number}>}
 */
export const signIn = (provider) => call('sign_in', { provider });

/**
 * Every account with its state: `refreshing`, `ready`, `signed_in`,
 * `offline`, `refused`, `needs_sign_in` (or `unknown` from a newer plugin).
 * @returns {Promise<Array<{id: string, providerId: string, issuer: string, name: ?string,
 *   username: ?string, email: ?string, picture: ?string, label: ?string, scopes: string[],
 *   isDefault: boolean, state: string, expiresAt: ?number, neverExpires: boolean,
 *   retryAt: ?number, reason: ?string, reasonCode: ?string}>>}
 */
export const accounts = () => call('accounts');

/**
 * An access token valid for at least a minute (refreshed when needed).
 * Needs `latchkey:allow-access-token` in the app's capability: it is not in
 * `latchkey:default`.
 * @param {string} account account id
 * @returns {Promise<{token: string, expiresAt: ?number}>}
 */
export const accessToken = (account) => call('access_token', { account });

/**
 * Signs an account out: revokes its grant at the provider when it can and
 * forgets it here.
 * @param {string} account account id
 * @returns {Promise<{who: string, revocation: 'revoked'|'nothing_to_revoke'|'failed', reason: ?string}>}
 */
export const signOut = (account) => call('sign_out', { account });

/**
 * Calls `cb` on every change: `{kind: 'changed', account}` (account `null`:
 * reload all), `{kind: 'signed_in', account, provider, replaced, oldTokenRevoked,
 * reauthOf}`, `{kind: 'signed_out', account}`, `{kind: 'provider_checked', provider}`, `{kind: 'sign_in_failed', code,
 * message, ignoredLink}` (`ignoredLink`: a link that belonged to no sign-in,
 * which any web page can send — say nothing loud about it).
 * @param {(event: {kind: string, account?: ?string, code?: string, message?: string}) => void} cb
 * @returns {Promise<() => void>} stops calling `cb`
 */
export const onChange = async (cb) => {
  const channel = new (tauri().Channel)();
  let live = true;
  channel.onmessage = (event) => {
    if (live) cb(event);
  };
  await call('subscribe', { channel });
  return () => {
    live = false;
  };
};
