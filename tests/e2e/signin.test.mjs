// Sign-in end to end: the app opens the system browser (the stand-in) through
// tauri-plugin-opener, the stand-in signs in at the real IdP and hands the
// custom-scheme redirect to `gio open`, the link reaches the app (warm through
// single-instance, or by a cold start), the code is exchanged natively and the
// refresh token lands in the real keychain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, CLIENT_ID, providerToml } from './lib/idp.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('signin');
  desktop.writeProviders(providerToml(idp, { id: 'local-demo', name: 'Local demo' }));
  wd = await desktop.startApp();
  await waitReachable();
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

async function waitReachable() {
  await wd.waitFor(() => wd.execute('return document.querySelector(".provider[data-id=\'local-demo\']")?.dataset.status === "reachable"'), {
    what: 'local-demo to be reachable',
  });
}

const accounts = () =>
  wd.execute(`return [...document.querySelectorAll('#accounts .account')].map(a => ({
    id: a.dataset.id, status: a.dataset.status, name: a.querySelector('.who').textContent,
    email: a.querySelector('.email').textContent, provider: a.querySelector('.provider-badge').textContent }))`);
// Repeats are shown as one notice "×n" (data-count): counted n times.
const notices = () => wd.execute('return [...document.querySelectorAll("#notices .notice")].flatMap(n => Array(Number(n.dataset.count || 1)).fill({ code: n.dataset.code, level: n.dataset.level, text: n.querySelector(".message").firstChild.textContent }))');
const ourItems = () => desktop.keychainItems().filter((i) => i['attribute.username']?.startsWith('acct-'));

async function startSignIn() {
  await wd.click('#add-account');
  await wd.waitFor(() => wd.execute('return document.getElementById("provider-picker").open'), { what: 'the provider picker' });
  await desktop.screenshot('picker');
  await wd.click('.pick[data-id="local-demo"]');
}

async function waitNotice(code, { after = 0 } = {}) {
  return wd.waitFor(async () => (await notices()).filter((n) => n.code === code).length > after, { what: `a ${code} notice`, timeoutMs: 45_000 });
}

const countNotices = async (code) => (await notices()).filter((n) => n.code === code).length;

test('warm sign-in: the account appears and its refresh token is in the keychain', async () => {
  desktop.configureBrowser({ login: 'alice', action: 'consent', holdFile: 'release-alice' });
  await startSignIn();
  // While the browser is "open" the window says so, with Cancel and Open again.
  await wd.waitFor(() => wd.execute('return document.querySelectorAll("#pending .pending-card").length === 1'), { what: 'the pending card' });
  assert.equal(await wd.text('#pending .pending-card strong'), 'Continue in your browser…');
  assert.ok(await wd.execute('return !!document.querySelector("#pending .cancel") && !!document.querySelector("#pending .open-again")'));
  assert.ok(desktop.keychainSecret('pending-authorizations'), 'the pending request (verifier, nonce) is in the keychain');
  await wd.waitFor(() => desktop.browserRedirects().length === 1, { what: 'the stand-in to reach the redirect' });
  await desktop.screenshot('waiting-for-browser');
  desktop.releaseBrowser('release-alice');

  const [alice] = await wd.waitFor(async () => {
    const list = await accounts();
    return list.length === 1 ? list : null;
  }, { what: 'the account to appear', timeoutMs: 45_000 });
  assert.equal(alice.name, 'Alice');
  assert.equal(alice.email, 'alice@example.test');
  assert.equal(alice.provider, 'Local demo');
  assert.equal(alice.status, 'ready');
  assert.equal(desktop.browserLaunches().length, 1);
  assert.ok(desktop.browserLaunches()[0].url.startsWith(`${idp.issuer}/auth?`));
  assert.equal(await wd.execute('return document.querySelectorAll("#pending .pending-card").length'), 0);
  await desktop.screenshot('signed-in');

  // Keychain: one item for the account, the pending request gone.
  const items = ourItems();
  assert.equal(items.length, 1);
  assert.equal(items[0]['attribute.username'], alice.id);
  assert.equal(desktop.keychainSecret('pending-authorizations'), null);
  // Metadata file: no secret in it.
  const registry = desktop.registry();
  assert.equal(registry.version, 1);
  assert.equal(registry.accounts[0].subject, 'alice');
  const rt = refreshTokenOf(desktop, alice.id);
  assert.ok(rt && rt.length > 20);
  assert.ok(!JSON.stringify(registry).includes(rt), 'the registry never holds the refresh token');
  assert.ok(!desktop.appLogText().includes(rt), 'the log never holds the refresh token');
  assert.match(desktop.appLogText(), /sign-in completed.*exchange_ms=\d+.*id_token_ms=\d+.*keychain_ms=\d+.*total_ms=\d+/);
  assert.deepEqual(idp.grants(), ['authorization_code']);
});

// (A replay of a link that completed a moment ago is a quiet no-op: links.test.mjs.)
test('a forged link is ignored while a sign-in is in progress, which then completes', async () => {
  const before = await countNotices('unknown_state');
  desktop.configureBrowser({ login: 'dave', action: 'consent', holdFile: 'release-dave' });
  await startSignIn();
  await wd.waitFor(() => desktop.browserRedirects().length === 2, { what: 'dave\'s redirect to be captured' });
  desktop.gioOpen('dev.latchkey:/oauth/callback?code=forged&state=forged-state');
  await waitNotice('unknown_state', { after: before });
  const [forged] = (await notices()).filter((n) => n.code === 'unknown_state');
  assert.equal(forged.level, 'warning');
  assert.match(forged.text, /matches no sign-in in progress/);
  assert.equal((await accounts()).length, 1, 'nothing changed');
  assert.equal(await wd.execute('return document.querySelectorAll("#pending .pending-card").length'), 1, 'dave is still pending');
  desktop.releaseBrowser('release-dave');
  await wd.waitFor(async () => (await accounts()).some((a) => a.email === 'dave@example.test'), { what: 'dave to be signed in', timeoutMs: 45_000 });
  assert.equal(ourItems().length, 2);
  assert.doesNotMatch(desktop.appLogText(), /forged-state|code=forged/, 'link values are not logged');
});

test('the person denies at the provider: "Sign-in cancelled", nothing stored, a new attempt works', async () => {
  const itemsBefore = ourItems().length;
  const accountsBefore = (await accounts()).length;
  desktop.configureBrowser({ action: 'deny' });
  await startSignIn();
  await waitNotice('sign_in_cancelled');
  const [cancelled] = (await notices()).filter((n) => n.code === 'sign_in_cancelled');
  assert.match(cancelled.text, /^Sign-in cancelled at Local demo/);
  await desktop.screenshot('cancelled');
  assert.equal((await accounts()).length, accountsBefore);
  assert.equal(ourItems().length, itemsBefore);
  assert.equal(desktop.keychainSecret('pending-authorizations'), null);

  desktop.configureBrowser({ login: 'carol', action: 'consent' });
  await startSignIn();
  await wd.waitFor(async () => (await accounts()).some((a) => a.email === 'carol@example.test'), { what: 'carol to be signed in', timeoutMs: 45_000 });
  assert.equal(ourItems().length, itemsBefore + 1);
});

test('a response whose iss is not the provider is rejected (mix-up defense)', async () => {
  const itemsBefore = ourItems().length;
  const accountsBefore = (await accounts()).length;
  desktop.configureBrowser({ login: 'mallory', action: 'consent', setParams: { iss: 'http://127.0.0.1:1/evil' } });
  await startSignIn();
  await waitNotice('issuer_mismatch');
  const [mismatch] = (await notices()).filter((n) => n.code === 'issuer_mismatch');
  assert.equal(mismatch.level, 'error');
  assert.match(mismatch.text, /came from "http:\/\/127\.0\.0\.1:1\/evil", not from/);
  assert.match(mismatch.text, /nothing was stored/);
  await desktop.screenshot('issuer-mismatch');
  assert.equal((await accounts()).length, accountsBefore);
  assert.equal(ourItems().length, itemsBefore);
  assert.equal(idp.grants().filter((g) => g === 'authorization_code').length, 3, 'the code was never exchanged');
});

test('"Open the browser again" relaunches the browser; Cancel forgets the sign-in and its late redirect is ignored', async () => {
  const before = await countNotices('unknown_state');
  desktop.configureBrowser({ login: 'erin', action: 'consent', holdFile: 'release-erin' });
  await startSignIn();
  await wd.waitFor(() => wd.execute('return document.querySelectorAll("#pending .pending-card").length === 1'), { what: 'the pending card' });
  await wd.waitFor(() => desktop.browserRedirects().length === 6, { what: 'erin\'s redirect to be captured' });
  const launches = desktop.browserLaunches();
  desktop.configureBrowser({ action: 'ignore' });
  await wd.click('#pending .open-again');
  await wd.waitFor(() => desktop.browserLaunches().length === launches.length + 1, { what: 'a second browser launch' });
  assert.equal(desktop.browserLaunches().at(-1).url, launches.at(-1).url, 'the same authorization request is opened again');
  await wd.click('#pending .cancel');
  await wd.waitFor(() => wd.execute('return document.querySelectorAll("#pending .pending-card").length === 0'), { what: 'the card to go' });
  desktop.releaseBrowser('release-erin');
  await waitNotice('unknown_state', { after: before });
  assert.ok(!(await accounts()).some((a) => a.email === 'erin@example.test'));
});

test('cold start: the app is closed while the browser is open and starts from the link', async () => {
  desktop.configureBrowser({ login: 'bob', action: 'consent', holdFile: 'release-bob' });
  await startSignIn();
  const redirects = desktop.browserRedirects().length;
  await wd.waitFor(() => desktop.browserRedirects().length === redirects + 1, { what: 'bob\'s redirect to be captured' });
  await desktop.stopApp();
  await wd.waitFor(async () => desktop.appPids().length === 0, { what: 'the app to exit' }).catch(() => {});
  assert.deepEqual(desktop.appPids(), [], 'the app is not running');
  desktop.releaseBrowser('release-bob');
  // gio starts the app from the .desktop handler with the link as its argument.
  const bob = await wd.waitFor(() => desktop.registry()?.accounts.find((a) => a.subject === 'bob'), { what: 'bob in the registry', timeoutMs: 45_000 });
  assert.ok(desktop.keychainSecret(bob.id), 'bob\'s refresh token is in the keychain');
  assert.equal(desktop.appPids().length, 1, 'the app was started by the link');
  for (const pid of desktop.appPids()) process.kill(pid, 'SIGTERM');
  await wd.waitFor(async () => desktop.appPids().length === 0, { what: 'the cold-started app to exit' });

  wd = await desktop.startApp();
  const list = await wd.waitFor(async () => {
    const l = await accounts();
    return l.length === 4 ? l : null;
  }, { what: 'four accounts after restart' });
  assert.deepEqual(list.map((a) => a.email).sort(), ['alice@example.test', 'bob@example.test', 'carol@example.test', 'dave@example.test']);
  await desktop.screenshot('after-cold-start');
});

test('the stored refresh token works at the IdP token endpoint', async () => {
  // The restarted app refreshes every account at launch: let it finish first.
  await wd.waitFor(async () => (await accounts()).every((a) => a.status === 'ready'), { what: 'launch refresh to settle' });
  await desktop.stopApp();
  const alice = desktop.registry().accounts.find((a) => a.subject === 'alice');
  const rt = refreshTokenOf(desktop, alice.id);
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: CLIENT_ID }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body.error));
  assert.ok(body.access_token);
  assert.ok(body.refresh_token && body.refresh_token !== rt, 'rotated');
  await sleep(10);
});
