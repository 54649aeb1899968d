// An in-page stand-in for the Rust backend, for UI-only tests in plain
// Chromium and for design work: `index.html?fake=<scenario>` served by
// ./harness.mjs (at /test-support/fake-backend.js; not in the app bundle). It
// answers the same commands with the same shapes as src-tauri/src/dto.rs, and
// changes its state the way the app would.
const now = Date.now();
const min = 60_000;

const provider = (id, name, status = 'reachable', error = null) => ({
  id, name, issuer: `https://${id}.example.com`, status, error,
});

const account = (n, fields) => ({
  id: `acct-${String(n).padStart(20, '0')}`,
  providerId: 'work',
  providerName: 'Example Work',
  issuer: 'https://work.example.com',
  name: null,
  email: null,
  label: null,
  isDefault: false,
  status: 'ready',
  accessExpiresAtMs: now + 42 * min,
  retryAtMs: null,
  problem: null,
  problemCode: null,
  createdAtMs: now - n * 86_400_000,
  ...fields,
});

const base = () => ({
  version: '0.1.0',
  accountsFile: '/home/you/.local/share/dev.latchkey.app/accounts.json',
  logFile: '/home/you/.local/share/dev.latchkey.app/logs/latchkey.log',
  providersFile: '/home/you/.config/dev.latchkey.app/providers.toml',
  providersFileError: null,
  providers: [provider('work', 'Example Work'), provider('home', 'Home Mail')],
  keychain: { vault: 'keychain', status: 'ok', error: null },
  notices: [],
  accounts: [],
  registryError: null,
  registryQuarantined: null,
  pending: [],
  lastAdded: null,
});

const SCENARIOS = {
  empty: () => base(),
  accounts: () => ({
    ...base(),
    accounts: [
      account(1, { name: 'Alice Martin', email: 'alice@work.example.com', label: 'Work', isDefault: true }),
      account(2, { name: 'Alice M.', email: 'alice@home.example.org', providerId: 'home', providerName: 'Home Mail', status: 'refreshing', accessExpiresAtMs: null }),
      account(3, { name: 'Build bot', email: 'bot@work.example.com', status: 'offline', accessExpiresAtMs: null, retryAtMs: now + 25_000, problem: 'cannot reach the provider' }),
      account(4, { name: 'Old project', email: 'alice@old.example.net', status: 'needs_sign_in', accessExpiresAtMs: null, problem: 'the provider refused the refresh token (invalid_grant)' }),
    ],
  }),
  refused: () => ({
    ...base(),
    accounts: [
      account(1, { name: 'Alice Martin', email: 'alice@work.example.com', isDefault: true }),
      account(2, {
        name: 'Build bot', email: 'bot@work.example.com', status: 'refused', accessExpiresAtMs: null,
        problem: 'Example Work refused the request: invalid_client (client authentication failed)', problemCode: 'invalid_client',
      }),
    ],
  }),
  unnamed: () => ({
    ...base(),
    providers: [provider('gh', 'GitHub')],
    accounts: [
      account(1, {
        providerId: 'gh', providerName: 'GitHub', issuer: 'https://github.com', title: 'GitHub account 583231',
        unnamed: true, neverExpires: true, accessExpiresAtMs: null, isDefault: true,
      }),
    ],
  }),
  pending: () => ({
    ...base(),
    pending: [{ handle: '9a2a07ec663ed4c4', providerId: 'work', providerName: 'Example Work', expiresAtMs: now + 10 * min }],
  }),
  keychain: () => ({
    ...base(),
    keychain: { vault: 'keychain', status: 'unavailable', error: { code: 'keychain_unavailable', message: 'the system keychain is not available: no Secret Service on the session bus' } },
  }),
  'file-vault': () => ({
    ...base(),
    keychain: { vault: 'file', status: 'ok', error: null },
  }),
  'file-vault-locked': () => ({
    ...base(),
    keychain: { vault: 'file', status: 'unavailable', error: { code: 'vault_wrong_passphrase', message: 'the passphrase does not open the encrypted file vault: wrong passphrase (or the file was altered on purpose); nothing was read or changed' } },
  }),
  errors: () => ({
    ...base(),
    providers: [provider('work', 'Example Work'), provider('down', 'Down Corp', 'unreachable', { code: 'network_unreachable', message: 'cannot reach the provider: could not connect to down.example.com' })],
    registryQuarantined: { code: 'registry_quarantined', message: 'The accounts file was damaged (line 1 column 9: not valid JSON). It was kept as accounts.json.corrupt-1764460000 and Latchkey started with an empty list; your keychain items were left untouched.' },
    notices: [
      { id: 1, level: 'error', code: 'issuer_mismatch', message: 'The sign-in response came from "https://evil.example", not from "https://work.example.com" — possible mix-up attack; nothing was stored.', atMs: now },
      { id: 2, level: 'warning', code: 'unknown_state', message: 'A sign-in link arrived that matches no sign-in in progress (it may be forged or already used); it was ignored.', atMs: now },
    ],
  }),
};

const scenario = new URLSearchParams(location.search).get('fake') || 'empty';
let state = (SCENARIOS[scenario] ?? SCENARIOS.empty)();
const listeners = [];
let nextId = 100;
const changed = () => setTimeout(() => listeners.forEach((l) => l()), 0);
const calls = [];
/** Every command the UI sent, for tests: `window.__latchkeyFakeCalls`. */
window.__latchkeyFakeCalls = calls;

const find = (id) => state.accounts.find((a) => a.id === id);

/** The backend's preset catalogue (crates/latchkey-core/src/config/preset.rs), as provider_presets sends it. */
const PRESETS = [
  { key: 'google', title: 'Google', fields: ['client_secret'], help: 'A "Desktop app" OAuth client from the Google Cloud console; its secret is required (Google does not treat it as secret).', clientSecret: true, redirect: 'loopback', scopes: ['openid', 'profile', 'email'] },
  { key: 'microsoft', title: 'Microsoft (Entra ID, personal accounts)', fields: ['tenant'], help: 'A "Mobile and desktop applications" platform; tenant common, organizations, consumers, or your tenant.', clientSecret: false, redirect: 'scheme', scopes: ['openid', 'profile', 'email', 'offline_access'] },
  { key: 'github', title: 'GitHub', fields: ['base_url', 'client_secret'], help: 'An OAuth App or GitHub App; base URL only for GitHub Enterprise Server.', clientSecret: true, redirect: 'loopback', scopes: ['read:user'] },
  { key: 'keycloak', title: 'Keycloak', fields: ['base_url', 'realm'], help: 'A public OpenID Connect client; base URL without /realms.', clientSecret: false, redirect: 'scheme', scopes: ['openid', 'profile', 'email', 'offline_access'] },
  { key: 'oidc', title: 'Other OpenID Connect provider', fields: ['issuer'], help: 'Any provider that publishes OpenID Connect discovery for its issuer.', clientSecret: false, redirect: 'scheme', scopes: ['openid', 'offline_access'] },
  { key: 'oauth2', title: 'Other OAuth 2.0 server', fields: ['issuer', 'endpoints'], help: 'A server without discovery: its authorization, token and user endpoints.', clientSecret: false, redirect: 'scheme', scopes: [] },
];
/** Entries saved here (the providers file), by id; and which ids have a client secret stored (never the value). */
const drafts = new Map();
const secretStored = new Set();

/** The checks the real backend makes that the UI shows: the parser's, then the live check's. */
function checkDraft(draft, replace) {
  if (!/^[a-z0-9_-]{1,64}$/.test(draft.id)) return { code: 'config_invalid_value', message: `id is not valid: "${draft.id}" must be 1-64 lowercase letters, digits, '-' or '_'` };
  if (draft.id !== replace && state.providers.some((p) => p.id === draft.id)) return { code: 'provider_id_taken', message: `a provider with the id "${draft.id}" already exists: choose another id` };
  const address = draft.issuer ?? draft.base_url ?? draft.authorization_endpoint ?? null;
  if (address?.startsWith('http://') && !draft.insecure_http_loopback) return { code: 'config_insecure_issuer', message: `issuer ${address} must use https (for a local development server set insecure_http_loopback = true)` };
  if (address?.includes('nope')) return { code: 'discovery_http_status', message: `the discovery document at ${address}/.well-known/openid-configuration returned HTTP 404` };
  return null;
}

const checked = (draft) => ({
  id: draft.id,
  issuer: draft.issuer ?? draft.base_url ?? 'https://accounts.google.com',
  discovery: draft.preset !== 'oauth2' && draft.preset !== 'github',
  authorizationEndpoint: `${draft.issuer ?? 'https://accounts.google.com'}/authorize`,
  redirectUri: PRESETS.find((p) => p.key === draft.preset)?.redirect === 'loopback' ? `http://127.0.0.1/oauth/callback/${draft.id}` : `dev.latchkey:/oauth/callback/${draft.id}`,
  clientSecret: Boolean(PRESETS.find((p) => p.key === draft.preset)?.clientSecret),
});
const fail = (code, message) => Promise.reject({ code, message });

const COMMANDS = {
  get_state: () => structuredClone(state),
  dismiss_notice: ({ id }) => {
    state.notices = state.notices.filter((n) => n.id !== id);
  },
  start_sign_in: ({ providerId }) => {
    const p = state.providers.find((x) => x.id === providerId);
    if (!p) return fail('unknown_provider', `no usable provider "${providerId}" is configured`);
    const pending = { handle: (nextId++).toString(16).padStart(16, '0'), providerId, providerName: p.name, expiresAtMs: Date.now() + 10 * min };
    state.pending.push(pending);
    return pending;
  },
  start_device_sign_in: ({ providerId }) => {
    const p = state.providers.find((x) => x.id === providerId);
    if (!p) return fail('unknown_provider', `no usable provider "${providerId}" is configured`);
    const pending = {
      handle: 'device-WDJB-MJHT', providerId, providerName: p.name, expiresAtMs: Date.now() + 10 * min,
      device: { userCode: 'WDJB-MJHT', verificationUri: 'https://work.example.com/device?user_code=WDJB-MJHT' },
    };
    state.pending.push(pending);
    return pending;
  },
  open_sign_in_again: () => {},
  sign_in_link: ({ handle }) => (handle.startsWith('device-')
    ? state.pending.find((p) => p.handle === handle)?.device.userCode
    : `https://work.example.com/auth?client_id=latchkey-desktop&state=fake-${handle}&code_challenge_method=S256`),
  cancel_sign_in: ({ handle }) => {
    state.pending = state.pending.filter((p) => p.handle !== handle);
    return true;
  },
  rename_account: ({ id, label }) => {
    find(id).label = label;
  },
  make_default_account: ({ id }) => {
    for (const a of state.accounts) a.isDefault = a.id === id;
  },
  reauthenticate_account: ({ id }) => COMMANDS.start_sign_in({ providerId: find(id).providerId }),
  sign_out_account: ({ id }) => {
    const a = find(id);
    state.accounts = state.accounts.filter((x) => x.id !== id);
    if (a.isDefault && state.accounts[0]) state.accounts[0].isDefault = true;
    state.notices.push({ id: nextId++, level: 'info', code: 'signed_out', message: `Signed out ${a.email}.`, atMs: Date.now() });
  },
  retry_account: ({ id }) => {
    Object.assign(find(id), { status: 'ready', retryAtMs: null, problem: null, problemCode: null, accessExpiresAtMs: Date.now() + 60 * min });
  },
  refresh_account: ({ id }) => find(id).accessExpiresAtMs,
  open_folder: () => {},
  provider_presets: () => structuredClone(PRESETS),
  provider_draft: ({ id }) => {
    const p = state.providers.find((x) => x.id === id);
    if (!p) return fail('unknown_provider', `there is no provider "${id}" in the providers file`);
    const draft = drafts.get(id) ?? { preset: 'oidc', id, name: p.name, client_id: 'latchkey-desktop', issuer: p.issuer, scopes: ['openid', 'email'] };
    return { draft: structuredClone(draft), clientSecretStored: secretStored.has(id) };
  },
  check_provider: ({ draft, replace }) => {
    const err = checkDraft(draft, replace);
    return err ? fail(err.code, err.message) : checked(draft);
  },
  save_provider: ({ draft, clientSecret, replace }) => {
    const err = checkDraft(draft, replace);
    if (err) return fail(err.code, err.message);
    const preset = PRESETS.find((p) => p.key === draft.preset);
    if (preset.clientSecret && !clientSecret && !secretStored.has(draft.id)) return fail('client_secret_required', `${draft.name ?? draft.id} needs its client secret`);
    if (preset.clientSecret && clientSecret) secretStored.add(draft.id);
    drafts.set(draft.id, structuredClone(draft));
    const entry = provider(draft.id, draft.name ?? draft.id);
    entry.issuer = checked(draft).issuer;
    const at = state.providers.findIndex((p) => p.id === (replace ?? draft.id));
    if (at >= 0) state.providers[at] = entry;
    else state.providers.push(entry);
    state.notices.push({ id: nextId++, level: 'info', code: 'provider_saved', message: `${replace ? 'Saved' : 'Added'} ${entry.name}.`, atMs: Date.now() });
    return checked(draft);
  },
  remove_provider: ({ id, signOutAccounts }) => {
    const p = state.providers.find((x) => x.id === id);
    if (!p) return fail('unknown_provider', `there is no provider "${id}" in the providers file`);
    if (signOutAccounts) state.accounts = state.accounts.filter((a) => a.providerId !== id);
    state.providers = state.providers.filter((x) => x.id !== id);
    drafts.delete(id);
    secretStored.delete(id);
    state.notices.push({ id: nextId++, level: 'info', code: 'provider_removed', message: `Removed ${p.name}.`, atMs: Date.now() });
  },
};

/**
 * For tests, the backend changing by itself: `window.__latchkeyFake.change((state) => { … })`
 * changes the state and sends a state event, as a refresh or a deep link would;
 * `notify(level, code, message)` adds a notice the same way (and returns its id).
 */
window.__latchkeyFake = {
  /** A new account like the scenarios' (number n, fields overridden). */
  account,
  change(edit) {
    edit(state);
    changed();
  },
  notify(level, code, message) {
    const id = nextId++;
    state.notices.push({ id, level, code, message, atMs: Date.now() });
    changed();
    return id;
  },
};

export async function invoke(command, args = {}) {
  calls.push({ command, args });
  const handler = COMMANDS[command];
  if (!handler) return fail('unknown_command', command);
  const result = await handler(args);
  if (!['get_state', 'sign_in_link', 'provider_presets', 'provider_draft', 'check_provider'].includes(command)) changed();
  return result;
}

export function subscribe(onChange) {
  listeners.push(onChange);
  return Promise.resolve();
}
