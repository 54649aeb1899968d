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
  if (command !== 'get_state' && command !== 'sign_in_link') changed();
  return result;
}

export function subscribe(onChange) {
  listeners.push(onChange);
  return Promise.resolve();
}
