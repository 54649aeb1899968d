// examples/embed-minimal, a second Tauri app that embeds tauri-plugin-latchkey,
// signs in end to end under its OWN identity (dev.latchkey.example.embed): its
// Sign in button → the plugin opens the system browser (the stand-in) → the real
// IdP → the redirect on the example's own scheme through `gio open` and its
// .desktop handler → the account in its list. Its refresh token is in the
// keychain under its own service, its accounts file in its own data folder;
// nothing lands in Latchkey's. Its webview cannot read access tokens (the
// example does not grant latchkey:allow-access-token). Latchkey running beside
// it changes nothing; a cold start from the link completes the sign-in too. The
// plugin follows the providers file while the example runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_ID, Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { APP_BINARY, EMBED_BINARY } from './lib/paths.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

const EMBED_ID = 'dev.latchkey.example.embed';
const EMBED = { binary: EMBED_BINARY, id: EMBED_ID, scheme: EMBED_ID, name: 'Embed minimal', desktopFile: 'embed-minimal-e2e.desktop' };
const REDIRECT_URI = `${EMBED_ID}:/oauth/callback`;

let idp;
let desktop;
let wd;
let latchkey; // the real Latchkey app, started beside the example by one test

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('embed', { app: EMBED });
  // The page's one button signs in with the provider whose id is "demo".
  desktop.writeProviders(providerToml(idp, { id: 'demo', name: 'Demo' }));
  wd = await desktop.startApp();
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  if (latchkey && latchkey.exitCode === null) {
    const exited = new Promise((r) => latchkey.once('exit', r));
    latchkey.kill('SIGKILL');
    await exited;
  }
  await idp?.stop();
});

/** The example's list: one `li` per account, with its id, email and state. */
const accounts = () =>
  wd.execute(`return [...document.querySelectorAll('#accounts li')].map(li => ({
    id: li.dataset.id, state: li.dataset.state, email: li.querySelector('.email').textContent }))`);

async function signIn(login) {
  desktop.configureBrowser({ login, action: 'consent' });
  await wd.click('#sign-in');
  return wd.waitFor(async () => (await accounts()).find((a) => a.email === `${login}@example.test` && ['ready', 'signed_in'].includes(a.state)), {
    what: `${login} in the example's list, ready`,
    timeoutMs: 45_000,
  });
}

/** Every keychain item holding this account, whatever app's service it is under. */
const itemsOf = (accountId) => desktop.keychainSearch('username', accountId);
const accountItems = (service) => desktop.keychainItems(service).filter((i) => i['attribute.username']?.startsWith('acct-'));

/**
 * Invokes a plugin command from the page exactly as guest-js does and returns how it
 * ended, never the value itself (an access token must not reach the test's output). (Not
 * `error`: the WebDriver client takes a result with an `error` key for a WebDriver error.)
 */
async function invokeFromPage(command, args) {
  await wd.execute(
    `window.__probe = null;
     window.__TAURI__.core.invoke(arguments[0], arguments[1]).then(
       (v) => { window.__probe = { ok: true, count: Array.isArray(v) ? v.length : null }; },
       (e) => { window.__probe = { ok: false, reason: typeof e === 'string' ? e : JSON.stringify(e) }; });
     return true;`,
    `plugin:latchkey|${command}`,
    args,
  );
  return wd.waitFor(() => wd.execute('return window.__probe'), { what: `${command} to settle` });
}

test('sign-in through the example: the account is listed, its token is under the example\'s identity only', async () => {
  assert.deepEqual(await accounts(), [], 'no account yet');
  const alice = await signIn('alice');
  await desktop.screenshot('signed-in');

  // The plugin opened the browser on the IdP with the example's redirect URI, and the
  // response came back on the example's scheme.
  const launches = desktop.browserLaunches();
  assert.equal(launches.length, 1);
  const authorization = new URL(launches[0].url);
  assert.equal(`${authorization.origin}${authorization.pathname}`, `${idp.issuer}/auth`);
  assert.equal(authorization.searchParams.get('redirect_uri'), REDIRECT_URI);
  assert.equal(authorization.searchParams.get('code_challenge_method'), 'S256');
  const redirects = desktop.browserRedirects();
  assert.equal(redirects.length, 1);
  assert.ok(redirects[0].startsWith(`${REDIRECT_URI}?`), 'the redirect is on the example\'s scheme');
  assert.deepEqual(idp.grants(), ['authorization_code']);

  // Keychain: the account's one item is under the example's service, none under Latchkey's.
  const items = itemsOf(alice.id);
  assert.equal(items.length, 1, 'one keychain item for the account, in any service');
  assert.equal(items[0]['attribute.service'], EMBED_ID);
  assert.deepEqual(desktop.keychainItems(APP_ID), [], 'nothing under Latchkey\'s service (dev.latchkey.app)');
  const rt = refreshTokenOf(desktop, alice.id);
  assert.ok(rt && rt.length > 20, 'the refresh token is in the example\'s keychain item');

  // Files: the example's accounts file in its own data folder; Latchkey's never created.
  const registry = desktop.registry();
  assert.equal(desktop.registryPath(), join(desktop.dataHome, EMBED_ID, 'accounts.json'));
  assert.deepEqual(registry.accounts.map((a) => [a.id, a.subject]), [[alice.id, 'alice']]);
  assert.equal(desktop.registry(APP_ID), null, 'no accounts file in Latchkey\'s data folder');
  assert.ok(!existsSync(join(desktop.dataHome, APP_ID)), 'Latchkey\'s data folder does not exist');
  assert.ok(!existsSync(join(desktop.configHome, APP_ID)), 'Latchkey\'s config folder does not exist');

  // No secret in the accounts file, the page or the app's log.
  assert.ok(!JSON.stringify(registry).includes(rt), 'the accounts file never holds the refresh token');
  assert.ok(!(await wd.execute('return document.documentElement.outerHTML')).includes(rt));
  assert.ok(!desktop.appLogText().includes(rt), 'the log never holds the refresh token');
  assert.match(desktop.appLogText(), /providers file loaded/, 'the example logs to app.log (so the check above means something)');
});

test('the webview cannot read an access token: the example does not grant latchkey:allow-access-token', async () => {
  const [alice] = await accounts();
  // The same path works for a command of latchkey:default...
  assert.deepEqual(await invokeFromPage('accounts', {}), { ok: true, count: 1 });
  // ...and is refused for access_token by Tauri's permission system, before the plugin runs.
  const refused = await invokeFromPage('access_token', { account: alice.id });
  assert.equal(refused.ok, false, 'access_token must be refused');
  assert.match(refused.reason, /access_token not allowed/);
  assert.match(refused.reason, /latchkey:allow-access-token/);
  // A command the plugin does not have at all is refused as well (not a quirk of one name).
  const unknown = await invokeFromPage('no_such_command', {});
  assert.equal(unknown.ok, false);
  assert.doesNotMatch(unknown.reason, /access_token/);
});

test('the plugin follows the providers file: an entry taken out is gone at once, and back when it is put back', async () => {
  const replaced = () => (desktop.appLogText().match(/providers replaced/g) ?? []).length;
  const status = () => wd.execute('return document.getElementById("status").dataset.code ?? ""');
  const file = providerToml(idp, { id: 'demo', name: 'Demo' });
  let before = replaced();
  desktop.writeProviders('# no providers for now\n');
  await wd.waitFor(() => replaced() > before, { what: 'the plugin to take the edited file' });
  const launches = desktop.browserLaunches().length;
  await wd.click('#sign-in');
  await wd.waitFor(async () => (await status()) === 'unknown_provider', { what: 'the sign-in refused: no such provider' });
  assert.equal(desktop.browserLaunches().length, launches, 'no browser was opened');
  before = replaced();
  desktop.writeProviders(file);
  await wd.waitFor(() => replaced() > before, { what: 'the plugin to take the restored file' });
  // The next test signs in through "demo" again.
});

test('with Latchkey running beside it, the example signs in again and Latchkey sees nothing', async () => {
  desktop.writeProviders(providerToml(idp, { id: 'local', name: 'Local IdP' }), APP_ID);
  const log = createWriteStream(join(desktop.resultsDir, 'latchkey-beside.log'));
  latchkey = spawn(APP_BINARY, [], { env: desktop.env, stdio: ['ignore', 'pipe', 'pipe'] });
  latchkey.stdout.pipe(log);
  latchkey.stderr.pipe(log);
  const latchkeyLog = join(desktop.dataHome, APP_ID, 'logs', 'latchkey.log');
  await wd.waitFor(() => existsSync(latchkeyLog) && /providers file loaded/.test(readFileSync(latchkeyLog, 'utf8')), {
    what: 'Latchkey to start beside the example',
  });

  const bob = await signIn('bob');
  assert.equal(latchkey.exitCode, null, 'Latchkey is still running');
  assert.equal(desktop.appPids().length, 1, 'one example process: the link\'s second process handed over and exited');
  const items = itemsOf(bob.id);
  assert.equal(items.length, 1);
  assert.equal(items[0]['attribute.service'], EMBED_ID);
  assert.deepEqual(accountItems(APP_ID), [], 'no account item under Latchkey\'s service');
  assert.deepEqual(desktop.registry().accounts.map((a) => a.subject).sort(), ['alice', 'bob']);
  assert.deepEqual(desktop.registry(APP_ID)?.accounts ?? [], [], 'Latchkey has no account');
  assert.doesNotMatch(readFileSync(latchkeyLog, 'utf8'), /second instance forwarded|sign-in completed/, 'no link reached Latchkey');
  await desktop.screenshot('beside-latchkey');

  const exited = new Promise((r) => latchkey.once('exit', r));
  latchkey.kill('SIGTERM');
  await Promise.race([exited, sleep(8000)]);
  assert.notEqual(latchkey.exitCode ?? latchkey.signalCode, null, 'Latchkey quit on SIGTERM');
});

test('cold start: the example is closed while the browser is open and starts from its link', async () => {
  desktop.configureBrowser({ login: 'carol', action: 'consent', holdFile: 'release-carol' });
  await wd.click('#sign-in');
  const redirects = desktop.browserRedirects().length;
  await wd.waitFor(() => desktop.browserRedirects().length === redirects + 1, { what: 'carol\'s redirect to be captured' });
  await desktop.stopApp();
  assert.deepEqual(desktop.appPids(), [], 'the example is not running');
  desktop.releaseBrowser('release-carol');
  // gio starts the example from its .desktop handler with the link as its argument.
  const carol = await wd.waitFor(() => desktop.registry()?.accounts.find((a) => a.subject === 'carol'), {
    what: 'carol in the example\'s accounts file',
    timeoutMs: 45_000,
  });
  assert.equal(itemsOf(carol.id)[0]?.['attribute.service'], EMBED_ID);
  assert.ok(refreshTokenOf(desktop, carol.id), 'carol\'s refresh token is in the example\'s keychain item');
  assert.equal(desktop.appPids().length, 1, 'the example was started by the link');
  assert.deepEqual(accountItems(APP_ID), []);
});
