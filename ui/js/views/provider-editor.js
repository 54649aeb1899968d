// "Add provider" / "Edit provider": choose a preset → only the fields it asks
// for (from the backend's catalogue) → Check (the live check, nothing
// written) → Save (enabled once the check passed for exactly these values).
// The client secret is a password field that is only ever sent, never read
// back: it is cleared whenever the dialog closes.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $, el, setText, setHidden } from '../dom.js';

/** Inputs of the draft's text keys, besides the preset's own fields. */
const ALWAYS = ['id', 'name', 'client_id'];
/** Draft keys each catalogue field stands for. */
const FIELD_KEYS = {
  tenant: ['tenant'],
  domain: ['domain'],
  authorization_server: ['authorization_server'],
  base_url: ['base_url'],
  realm: ['realm'],
  issuer: ['issuer'],
  endpoints: ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint'],
};
const ALL_KEYS = Object.values(FIELD_KEYS).flat();
/** What the base URL field means for each preset that has one. */
const BASE_URL_HINTS = {
  github: 'https://github.com (GitHub Enterprise Server: its URL)',
  gitlab: 'https://gitlab.com (or your instance)',
  keycloak: 'https://sso.example.com (without /realms)',
};

let presets = [];
/** The open dialog: { replace: id | null, base: the loaded draft, secretStored, then: fn after saving }. */
let session = null;
/** The values the last passed check was for (Save needs the same). */
let checkedFor = null;

const input = (key) => document.querySelector(`#provider-form [data-key="${key}"]`);
const preset = () => presets.find((p) => p.key === $('provider-preset').value) ?? presets[0];

async function loadPresets() {
  if (presets.length) return presets;
  presets = await backend.providerPresets();
  const select = $('provider-preset');
  select.replaceChildren(...presets.map((p) => el('option', { value: p.key }, p.title)));
  return presets;
}

/** Shows the fields of the chosen preset, hides the others. */
function showFields() {
  const p = preset();
  if (!p) return;
  setText($('provider-help'), p.help);
  for (const node of document.querySelectorAll('#provider-form .field[data-field]')) {
    const field = node.dataset.field;
    setHidden(node, !(ALWAYS.includes(field) || field === 'scopes' || p.fields.includes(field)));
  }
  $('provider-base-url').placeholder = BASE_URL_HINTS[p.key] ?? 'https://sso.example.com';
  $('provider-scopes').placeholder = p.scopes.length ? `default: ${p.scopes.join(' ')}` : 'none by default';
  const secret = $('provider-client-secret');
  secret.required = p.clientSecret && !session?.secretStored;
  secret.placeholder = session?.secretStored ? 'Stored in the keychain — leave empty to keep it' : '';
  showInsecure();
}

/** The development checkbox, only when some address is plain http. */
function showInsecure() {
  const http = [...document.querySelectorAll('#provider-form input[type=url]')]
    .some((i) => !i.closest('[hidden]') && /^http:\/\//i.test(i.value.trim()));
  setHidden($('provider-insecure-row'), !http && !$('provider-insecure').checked);
}

/** The draft the form describes (the providers file's keys). */
function draft() {
  const p = preset();
  const value = (key) => input(key).value.trim() || null;
  const d = { ...(session?.base ?? {}), preset: p.key, id: input('id').value.trim(), name: value('name'), client_id: input('client_id').value.trim() };
  for (const key of ALL_KEYS) d[key] = null;
  for (const field of p.fields) for (const key of FIELD_KEYS[field] ?? []) d[key] = value(key);
  const scopes = $('provider-scopes').value.trim();
  d.scopes = scopes ? scopes.split(/\s+/) : null;
  d.insecure_http_loopback = $('provider-insecure').checked;
  return d;
}

function showResult(outcome, ...content) {
  const result = $('provider-result');
  result.dataset.outcome = outcome;
  result.setAttribute('role', outcome === 'error' ? 'alert' : 'status');
  result.replaceChildren(...content);
  setHidden(result, false);
}

function clearResult() {
  checkedFor = null;
  $('provider-save').disabled = true;
  setHidden($('provider-result'), true);
  $('provider-result').replaceChildren();
}

function showError(err) {
  showResult('error', el('strong', {}, 'Check failed: '), err?.message ?? String(err), err?.code ? el('code', { className: 'code' }, ` (${err.code})`) : null);
}

/** The form's own checks first (required fields, the id's syntax): the browser says what is missing. */
function formValid() {
  const form = $('provider-form');
  for (const node of form.querySelectorAll('input')) {
    if (!node.closest('[hidden]') && !node.checkValidity()) {
      node.reportValidity();
      node.focus();
      return false;
    }
  }
  return true;
}

async function check() {
  if (!formValid()) return;
  const d = draft();
  const key = JSON.stringify(d);
  const button = $('provider-check');
  button.disabled = true;
  showResult('busy', el('span', { className: 'spinner small', 'aria-hidden': 'true' }), `Checking ${d.issuer ?? d.base_url ?? d.domain ?? preset().title}…`);
  try {
    const found = await backend.checkProvider(d, session?.replace ?? null);
    checkedFor = key;
    showResult('ok',
      el('strong', {}, 'The provider answered. '),
      found.discovery ? `Issuer ${found.issuer} confirmed by its discovery document. ` : `Its endpoints answered (${found.authorizationEndpoint}, …). `,
      'Register this redirect URI with the client: ', el('code', { className: 'redirect-uri' }, found.redirectUri));
    $('provider-save').disabled = false;
  } catch (err) {
    checkedFor = null;
    showError(err);
  } finally {
    button.disabled = false;
  }
}

async function save(event) {
  event.preventDefault();
  const d = draft();
  if (checkedFor !== JSON.stringify(d)) return clearResult();
  const secret = $('provider-client-secret').value;
  const save = $('provider-save');
  save.disabled = true;
  try {
    await backend.saveProvider(d, preset().clientSecret && secret ? secret : null, session?.replace ?? null);
    const then = session?.then;
    $('provider-dialog').close('saved');
    await store.reload();
    then?.(d.id);
  } catch (err) {
    showError(err);
    save.disabled = false;
  }
}

function reset() {
  const form = $('provider-form');
  for (const node of form.querySelectorAll('input')) {
    if (node.type === 'checkbox') node.checked = false;
    else node.value = '';
    node.readOnly = false;
  }
  clearResult();
}

/**
 * Opens the dialog: to add a provider (`id` null; `then(id)` runs after a save,
 * e.g. to show it in the picker), or to edit the entry `id`.
 */
export async function openProviderEditor({ id = null, then = null } = {}) {
  try {
    await loadPresets();
    const loaded = id ? await backend.providerDraft(id) : null;
    reset();
    session = { replace: id, base: loaded?.draft ?? {}, secretStored: Boolean(loaded?.clientSecretStored), then };
    setText($('provider-dialog-title'), id ? 'Edit provider' : 'Add provider');
    $('provider-preset').value = loaded?.draft.preset ?? presets[0].key;
    if (loaded) {
      for (const key of [...ALWAYS, ...ALL_KEYS]) input(key).value = loaded.draft[key] ?? '';
      $('provider-scopes').value = (loaded.draft.scopes ?? []).join(' ');
      $('provider-insecure').checked = Boolean(loaded.draft.insecure_http_loopback);
      input('id').readOnly = true;
    }
    showFields();
    $('provider-dialog').showModal();
    (id ? input('client_id') : $('provider-preset')).focus();
  } catch (err) {
    store.showError(err);
  }
}

export function mountProviderEditor() {
  const form = $('provider-form');
  $('provider-preset').addEventListener('change', () => {
    clearResult();
    showFields();
  });
  // Any change after a check: check again before saving.
  form.addEventListener('input', (event) => {
    if (event.target.id === 'provider-preset') return;
    if (checkedFor !== null && checkedFor !== JSON.stringify(draft())) clearResult();
    showInsecure();
  });
  $('provider-check').addEventListener('click', check);
  form.addEventListener('submit', save);
  $('provider-cancel').addEventListener('click', () => $('provider-dialog').close('cancel'));
  // Escape, Cancel or Save: the secret never stays in the page.
  $('provider-dialog').addEventListener('close', () => {
    $('provider-client-secret').value = '';
    session = null;
    clearResult();
  });
}
