// UI-only tests of Add / Edit / Remove provider with the fake backend: only
// the preset's fields, Save only after a passed check of exactly these
// values, the client secret write-only, Escape, and the picker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RESULTS_DIR } from '../e2e/lib/paths.mjs';
import { startServer, launchBrowser, openPage } from './harness.mjs';

let server;
let browser;
const shots = join(RESULTS_DIR, 'ui-fake');

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await mkdir(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

const open = (scenario) => openPage(browser, server.base, scenario);
const calls = (page, command) => page.evaluate((c) => window.__latchkeyFakeCalls.filter((x) => x.command === c).map((x) => x.args), command);
/** The fields shown in the dialog (their data-field), in order. */
const shownFields = (page) => page.$$eval('#provider-form .field[data-field]', (n) => n.filter((f) => !f.hidden).map((f) => f.dataset.field));

async function openEditor(page) {
  await page.click('#add-provider');
  await page.waitForSelector('#provider-dialog[open]');
}

test('a preset shows only the fields it asks for, with its help', async () => {
  const { page, errors } = await open('empty');
  await openEditor(page);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'provider-preset', 'the preset has the focus');
  await page.selectOption('#provider-preset', 'oidc');
  assert.deepEqual(await shownFields(page), ['id', 'name', 'client_id', 'issuer', 'scopes']);
  await page.selectOption('#provider-preset', 'keycloak');
  assert.deepEqual(await shownFields(page), ['id', 'name', 'client_id', 'base_url', 'realm', 'scopes']);
  assert.match(await page.textContent('#provider-help'), /base URL without \/realms/);
  await page.selectOption('#provider-preset', 'google');
  assert.deepEqual(await shownFields(page), ['id', 'name', 'client_id', 'client_secret', 'scopes']);
  assert.equal(await page.getAttribute('#provider-scopes', 'placeholder'), 'default: openid profile email');
  assert.equal(await page.getAttribute('#provider-client-secret', 'type'), 'password');
  assert.equal(await page.getAttribute('#provider-client-secret', 'autocomplete'), 'off');
  await page.selectOption('#provider-preset', 'oauth2');
  assert.deepEqual(await shownFields(page), ['id', 'name', 'client_id', 'issuer', 'endpoints', 'scopes']);
  // Every input shown has a label.
  const unlabelled = await page.$$eval('#provider-form input', (n) => n.filter((i) => !i.closest('[hidden]') && !i.labels?.length).map((i) => i.id));
  assert.deepEqual(unlabelled, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Check, then Save: the provider is listed and pickable; a change after the check needs another', async () => {
  const { page, errors } = await open('empty');
  await openEditor(page);
  await page.selectOption('#provider-preset', 'oidc');
  await page.fill('#provider-id', 'corp');
  await page.fill('#provider-name', 'Corp SSO');
  await page.fill('#provider-client-id', 'latchkey-desktop');
  await page.fill('#provider-issuer', 'https://sso.corp.example');
  assert.equal(await page.isDisabled('#provider-save'), true, 'no Save before a check');
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  assert.match(await page.textContent('#provider-result'), /Issuer https:\/\/sso\.corp\.example confirmed.*dev\.latchkey:\/oauth\/callback\/corp/);
  assert.equal(await page.isDisabled('#provider-save'), false);
  await page.screenshot({ path: join(shots, 'add-provider.png') });
  // Changed after the check: Save is off until checked again.
  await page.fill('#provider-issuer', 'https://sso2.corp.example');
  assert.equal(await page.isDisabled('#provider-save'), true);
  assert.equal(await page.isVisible('#provider-result'), false);
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  await page.click('#provider-save');
  await page.waitForSelector('#provider-dialog', { state: 'hidden' });
  await page.waitForSelector('#providers .provider[data-id="corp"]');
  const [saved] = await calls(page, 'save_provider');
  assert.deepEqual(
    { preset: saved.draft.preset, id: saved.draft.id, issuer: saved.draft.issuer, client_id: saved.draft.client_id, secret: saved.clientSecret },
    { preset: 'oidc', id: 'corp', issuer: 'https://sso2.corp.example', client_id: 'latchkey-desktop', secret: null },
  );
  assert.equal(saved.draft.realm, null, 'fields of other presets are not sent');
  assert.equal(saved.draft.scopes, null, 'no scopes typed: the preset\'s');
  await page.click('#add-account');
  assert.deepEqual(await page.$$eval('.pick .name', (n) => n.map((x) => x.textContent)), ['Example Work', 'Home Mail', 'Corp SSO']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a failed check shows its error and keeps Save off; the form says what is missing first', async () => {
  const { page, errors } = await open('empty');
  await openEditor(page);
  await page.selectOption('#provider-preset', 'oidc');
  await page.click('#provider-check');
  assert.deepEqual(await calls(page, 'check_provider'), [], 'an empty id is not sent');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'provider-id');
  await page.fill('#provider-id', 'corp');
  await page.fill('#provider-client-id', 'c');
  await page.fill('#provider-issuer', 'https://sso.corp.example/nope');
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=error]');
  assert.equal(await page.getAttribute('#provider-result', 'role'), 'alert');
  assert.match(await page.textContent('#provider-result'), /Check failed: the discovery document at .*returned HTTP 404 \(discovery_http_status\)/);
  assert.equal(await page.isDisabled('#provider-save'), true);
  // Plain http: the development box appears, and the check passes with it.
  await page.fill('#provider-issuer', 'http://127.0.0.1:9010');
  assert.equal(await page.isVisible('#provider-insecure'), true);
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=error]');
  assert.match(await page.textContent('#provider-result'), /insecure_http_loopback/);
  await page.check('#provider-insecure');
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the client secret is sent once and never stays in the page; Escape closes without saving', async () => {
  const { page, errors } = await open('empty');
  const secret = 'gh-secret-never-in-the-dom-93ab';
  await openEditor(page);
  await page.selectOption('#provider-preset', 'github');
  await page.fill('#provider-id', 'gh');
  await page.fill('#provider-client-id', 'Iv1.abc');
  await page.fill('#provider-client-secret', secret);
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#provider-dialog', { state: 'hidden' });
  assert.deepEqual(await calls(page, 'save_provider'), [], 'Escape saves nothing');
  assert.equal(await page.inputValue('#provider-client-secret'), '', 'cleared on close');
  // Again, saved this time.
  await openEditor(page);
  await page.selectOption('#provider-preset', 'github');
  await page.fill('#provider-id', 'gh');
  await page.fill('#provider-client-id', 'Iv1.abc');
  await page.fill('#provider-client-secret', secret);
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  await page.click('#provider-save');
  await page.waitForSelector('#providers .provider[data-id="gh"]');
  assert.equal((await calls(page, 'save_provider'))[0].clientSecret, secret);
  assert.equal(await page.inputValue('#provider-client-secret'), '');
  assert.ok(!(await page.content()).includes(secret), 'the secret is nowhere in the DOM');
  // Editing: the secret is not read back, only whether one is stored.
  await page.click('#providers .provider[data-id="gh"] [data-action=edit]');
  await page.waitForSelector('#provider-dialog[open]');
  assert.equal(await page.inputValue('#provider-client-secret'), '');
  assert.match(await page.getAttribute('#provider-client-secret', 'placeholder'), /Stored in the keychain/);
  assert.equal(await page.evaluate(() => document.getElementById('provider-id').readOnly), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Edit saves in place; Remove asks whether to sign out the provider\'s accounts', async () => {
  const { page, errors } = await open('accounts');
  await page.click('#providers .provider[data-id="work"] [data-action=edit]');
  await page.waitForSelector('#provider-dialog[open]');
  assert.equal(await page.textContent('#provider-dialog-title'), 'Edit provider');
  assert.equal(await page.inputValue('#provider-issuer'), 'https://work.example.com');
  assert.equal(await page.inputValue('#provider-scopes'), 'openid email');
  await page.fill('#provider-name', 'Example Work (new)');
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  await page.click('#provider-save');
  await page.waitForSelector('#providers .provider[data-id="work"] .name:text("Example Work (new)")');
  const [saved] = await calls(page, 'save_provider');
  assert.equal(saved.replace, 'work');
  assert.deepEqual(saved.draft.scopes, ['openid', 'email'], 'keys the dialog does not show are kept');

  await page.click('#providers .provider[data-id="work"] [data-action=remove]');
  await page.waitForSelector('#remove-provider-dialog[open]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'remove-provider-cancel', 'Cancel has the focus');
  assert.match(await page.textContent('#remove-provider-text'), /3 accounts use it/);
  assert.equal(await page.isChecked('#remove-provider-sign-out'), true);
  assert.equal(await page.textContent('#remove-provider-sign-out-label'), 'Sign out its 3 accounts first');
  await page.click('#remove-provider-ok');
  await page.waitForSelector('#providers .provider[data-id="work"]', { state: 'detached' });
  assert.deepEqual(await calls(page, 'remove_provider'), [{ id: 'work', signOutAccounts: true }]);
  assert.deepEqual(await page.$$eval('#accounts .account', (n) => n.map((a) => a.dataset.provider)), ['home']);
  // One account: said so; Cancel removes nothing.
  await page.click('#providers .provider[data-id="home"] [data-action=remove]');
  assert.match(await page.textContent('#remove-provider-text'), /One account uses it/);
  assert.equal(await page.textContent('#remove-provider-sign-out-label'), 'Sign out its account first');
  await page.click('#remove-provider-cancel');
  assert.equal(await page.isVisible('#providers .provider[data-id="home"]'), true);
  assert.equal((await calls(page, 'remove_provider')).length, 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Add provider from the picker comes back to the picker with the new provider', async () => {
  const { page, errors } = await open('empty');
  await page.click('#add-account');
  await page.click('#picker-add-provider');
  await page.waitForSelector('#provider-dialog[open]');
  assert.equal(await page.isVisible('#provider-picker'), false);
  await page.selectOption('#provider-preset', 'oidc');
  await page.fill('#provider-id', 'lab');
  await page.fill('#provider-client-id', 'c');
  await page.fill('#provider-issuer', 'https://lab.example');
  await page.click('#provider-check');
  await page.waitForSelector('#provider-result[data-outcome=ok]');
  await page.click('#provider-save');
  await page.waitForSelector('#provider-picker[open]');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.id), 'lab', 'the new provider has the focus');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#pending .pending-card');
  assert.deepEqual((await calls(page, 'start_sign_in')).map((a) => a.providerId), ['lab']);
  assert.deepEqual(errors, []);
  await page.close();
});
