// UI-only tests: the accounts window in plain headless Chromium with the
// in-page fake backend (./fake-backend.js, served by ./harness.mjs). Fast
// checks of every state and interaction; the real app is covered by tests/e2e
// through WebKitWebDriver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, RESULTS_DIR } from '../e2e/lib/paths.mjs';
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

const open = (scenario, options) => openPage(browser, server.base, scenario, options);

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });

test('empty state offers Add account', async () => {
  const { page, errors } = await open('empty');
  assert.ok(await page.isVisible('#accounts-empty'));
  await page.click('#empty-add');
  assert.ok(await page.isVisible('#provider-picker'));
  assert.deepEqual(await page.$$eval('.pick .name', (n) => n.map((x) => x.textContent)), ['Example Work', 'Home Mail']);
  await shot(page, 'picker');
  await page.click('.pick[data-id="home"]');
  await page.waitForSelector('#pending .pending-card');
  assert.match(await page.textContent('#pending .pending-card'), /Continue in your browser…Signing in to Home Mail/);
  await shot(page, 'waiting');
  await page.click('#pending .cancel');
  await page.waitForSelector('#pending .pending-card', { state: 'detached' });
  assert.deepEqual(errors, []);
  await page.close();
});

test('sign-in on another device shows the code and the page, and cancels like any sign-in', async () => {
  const { page, errors } = await open('empty');
  await page.click('#empty-add');
  await page.check('#picker-device');
  await page.click('.pick[data-id="work"]');
  const card = '#pending .pending-card[data-device="true"]';
  await page.waitForSelector(card);
  assert.equal(await page.textContent(`${card} .user-code`), 'WDJB-MJHT');
  assert.match(await page.textContent(card), /Enter this code on another device/);
  assert.match(await page.textContent(card), /Open https:\/\/work\.example\.com\/device\?user_code=WDJB-MJHT on any device/);
  assert.equal(await page.textContent(`${card} .copy-link`), 'Copy code');
  await shot(page, 'device-code');
  // The next sign-in from the picker is an ordinary one again unless asked.
  await page.click('#pending .cancel');
  await page.waitForSelector('#pending .pending-card', { state: 'detached' });
  await page.click('#empty-add');
  assert.equal(await page.isChecked('#picker-device'), true, 'the choice is remembered while the window is open');
  await page.uncheck('#picker-device');
  await page.click('.pick[data-id="work"]');
  await page.waitForSelector('#pending .pending-card[data-device="false"]');
  assert.match(await page.textContent('#pending .pending-card'), /Continue in your browser…/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('every account status renders with its action', async () => {
  const { page, errors } = await open('accounts');
  const cards = await page.$$eval('#accounts .account', (n) =>
    n.map((a) => ({
      status: a.dataset.status,
      chip: a.querySelector('.chip.status').textContent,
      detail: a.querySelector('.detail').textContent,
      actions: [...a.querySelectorAll('.actions button')].map((b) => b.textContent),
      initials: a.querySelector('.avatar').textContent,
    })),
  );
  assert.deepEqual(cards.map((c) => c.chip), ['Ready', 'Refreshing…', 'Offline', 'Needs sign-in']);
  assert.match(cards[0].detail, /^expires in 4[12] min$/);
  assert.match(cards[2].detail, /^retrying in 2\d s$/);
  assert.ok(cards[2].actions.includes('Retry now'));
  assert.equal(cards[3].actions[0], 'Sign in again');
  assert.equal(cards[0].initials, 'AM');
  assert.ok(!cards[0].actions.includes('Make default'), 'the default account has no Make default');
  await shot(page, 'accounts');
  // Retry now turns the offline account ready.
  await page.click('#accounts .account[data-status=offline] .retry');
  await page.waitForSelector('#accounts .account[data-status=offline]', { state: 'detached' });
  // Make default moves the marker.
  await page.click('#accounts .account:nth-child(2) .make-default');
  await page.waitForFunction(() => document.querySelector('#accounts .account:nth-child(2)').dataset.default === 'true');
  assert.equal(await page.$$eval('#accounts .badge.default', (n) => n.length), 1);
  // Rename through the dialog.
  await page.click('#accounts .account:nth-child(3) .rename');
  await page.fill('#rename-input', 'CI robot');
  await page.click('#rename-save');
  await page.waitForFunction(() => document.querySelector('#accounts .account:nth-child(3) .badge.label')?.textContent === 'CI robot');
  // Sign out asks first; Cancel keeps the account.
  await page.click('#accounts .account:nth-child(4) .sign-out');
  assert.match(await page.textContent('#confirm-text'), /alice@old\.example\.net/);
  await page.click('#confirm-cancel');
  assert.equal(await page.$$eval('#accounts .account', (n) => n.length), 4);
  await page.click('#accounts .account:nth-child(4) .sign-out');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.querySelectorAll('#accounts .account').length === 3);
  assert.match(await page.textContent('#notices .notice[data-code=signed_out]'), /Signed out alice@old\.example\.net/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('an account the provider named no one offers a name at once; a token that never expires says so', async () => {
  const { page, errors } = await open('unnamed');
  const card = '#accounts .account';
  assert.equal(await page.textContent(`${card} .who`), 'GitHub account 583231', 'never the internal id');
  assert.equal(await page.textContent(`${card} .detail`), 'token does not expire');
  assert.equal(await page.textContent(`${card} .actions .rename.primary`), 'Name this account');
  await page.click(`${card} .rename`);
  await page.fill('#rename-input', 'Work GitHub');
  await page.click('#rename-save');
  await page.waitForFunction(() => document.querySelector('#accounts .account .badge.label')?.textContent === 'Work GitHub');
  assert.equal(await page.textContent(`${card} .actions .rename`), 'Rename', 'labelled: the usual Rename');
  assert.deepEqual(errors, []);
  await page.close();
});

test('refused: its own state, the reason under Details, Retry now by keyboard', async () => {
  const { page, errors } = await open('refused');
  const card = '#accounts .account[data-status=refused]';
  assert.equal(await page.textContent(`${card} .chip.status`), 'Refused');
  assert.equal(await page.getAttribute(`${card} .chip.status`, 'aria-label'), 'Build bot: Refused');
  assert.match(await page.textContent(`${card} .refusal`), /The provider refused Latchkey's request — check the provider settings/);
  // The reason is under Details, closed at first.
  assert.equal(await page.isVisible(`${card} .refusal .reason`), false);
  await page.click(`${card} .refusal summary`);
  assert.match(await page.textContent(`${card} .refusal .reason`), /invalid_client/);
  assert.equal(await page.textContent(`${card} .refusal details code`), 'invalid_client');
  assert.deepEqual(
    await page.$$eval(`${card} .actions button`, (n) => n.map((b) => b.textContent)),
    ['Retry now', 'Make default', 'Rename', 'Sign in again', 'Sign out'],
  );
  await shot(page, 'refused');
  // Retry now is reachable and works from the keyboard, like offline's.
  await page.focus(`${card} .retry`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(card, { state: 'detached' });
  const calls = await page.evaluate(() => window.__latchkeyFakeCalls.filter((c) => c.command === 'retry_account'));
  assert.deepEqual(calls.map((c) => c.args.id), ['acct-00000000000000000002']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('errors: dismissible notices with details, persistent banners', async () => {
  const { page } = await open('errors');
  assert.equal(await page.$$eval('#notices .notice', (n) => n.length), 2);
  assert.ok(await page.isVisible('#registry-banner'));
  assert.match(await page.textContent('#registry-banner'), /kept as accounts\.json\.corrupt-/);
  await page.click('#notices .notice[data-code=issuer_mismatch] summary');
  assert.equal(await page.textContent('#notices .notice[data-code=issuer_mismatch] details code'), 'issuer_mismatch');
  await shot(page, 'errors');
  await page.click('#notices .notice[data-code=issuer_mismatch] .icon-button');
  await page.waitForFunction(() => !document.querySelector('#notices .notice[data-code=issuer_mismatch]'));
  assert.ok(await page.isVisible('#registry-banner'), 'the registry banner is not dismissible');
  assert.equal(await page.getAttribute('.provider[data-id=down]', 'data-status'), 'unreachable');
  await page.close();
});

test('keychain unavailable: banner and sign-in disabled', async () => {
  const { page } = await open('keychain');
  assert.ok(await page.isVisible('#keychain-banner'));
  assert.equal(await page.isDisabled('#add-account'), true);
  assert.equal(await page.isDisabled('#empty-add'), true);
  assert.match(await page.textContent('#keychain-message'), /^no Secret Service/);
  // The explicit alternative is offered, never taken by itself.
  assert.ok(await page.isVisible('#file-vault-hint'));
  assert.match(await page.textContent('#file-vault-hint'), /LATCHKEY_VAULT=file/);
  assert.equal(await page.textContent('#vault-name'), 'Keychain');
  await shot(page, 'keychain');
  await page.close();
});

test('the footer says which vault is in use; a wrong passphrase shows in the banner', async () => {
  const { page } = await open('empty');
  assert.equal(await page.textContent('#vault-name'), 'Keychain');
  assert.equal(await page.isVisible('#keychain-banner'), false);
  await page.close();
  const file = (await open('file-vault')).page;
  assert.equal(await file.textContent('#vault-name'), 'Vault: encrypted file');
  assert.equal(await file.getAttribute('#keychain-status', 'data-vault'), 'file');
  assert.equal(await file.textContent('#keychain-status'), 'OK');
  await file.close();
  const locked = (await open('file-vault-locked')).page;
  assert.ok(await locked.isVisible('#keychain-banner'));
  assert.equal(await locked.textContent('#keychain-title'), 'The encrypted file vault is not usable.');
  assert.match(await locked.textContent('#keychain-message'), /passphrase does not open/);
  assert.equal(await locked.isVisible('#file-vault-hint'), false);
  assert.equal(await locked.isDisabled('#add-account'), true);
  await shot(locked, 'file-vault-locked');
  await locked.close();
});

test('dark theme and a narrow window', async () => {
  const { page } = await open('accounts', { colorScheme: 'dark', viewport: { width: 520, height: 600 } });
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(22, 24, 29)');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at the minimum width (${overflow}px)`);
  await shot(page, 'dark-narrow');
  await page.close();
});

test('every control has an accessible name and Tab reaches every action', async () => {
  const { page } = await open('accounts');
  const unnamed = await page.$$eval('button, input', (nodes) =>
    nodes
      .filter((n) => n.offsetParent !== null)
      .filter((n) => !(n.getAttribute('aria-label') || n.textContent.trim() || n.labels?.length))
      .map((n) => n.outerHTML),
  );
  assert.deepEqual(unnamed, []);
  const visibleButtons = await page.$$eval('button', (n) => n.filter((b) => b.offsetParent !== null && !b.disabled).length);
  const reached = new Set();
  for (let i = 0; i < visibleButtons + 5; i += 1) {
    await page.keyboard.press('Tab');
    reached.add(await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80)));
  }
  assert.ok(reached.size >= visibleButtons, `Tab reached ${reached.size} of ${visibleButtons} buttons`);
  await page.close();
});

test('the fake backend is not part of the app bundle', async () => {
  const files = await readdir(join(ROOT, 'ui'), { recursive: true });
  assert.deepEqual(files.filter((f) => /fake/i.test(f)), []);
});

test('the page draws its own scrollbars (the native overlay one animates for seconds at each start)', async () => {
  const { page, errors } = await open('empty');
  const rules = await page.evaluate(() => [...document.styleSheets].flatMap((s) => [...s.cssRules]).map((r) => r.selectorText ?? ''));
  assert.ok(rules.some((r) => r.includes('::-webkit-scrollbar-thumb')), 'a styled scrollbar thumb');
  assert.ok(rules.some((r) => /(^|,\s*)::-webkit-scrollbar$/.test(r)), 'a styled scrollbar');
  assert.deepEqual(errors, []);
});
