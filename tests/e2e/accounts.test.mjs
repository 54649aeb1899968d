// Many accounts at two providers: registry, keychain layout, default account,
// labels, sign-in again, re-authentication, sign-out with revocation,
// startup reconciliation and a damaged registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, CLIENT_ID, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

let idpA;
let idpB;
let desktop;
let wd;

const providers = () => `
${providerToml(idpA, { id: 'work', name: 'Work IdP' })}

${providerToml(idpB, { id: 'home', name: 'Home IdP' })}
`;

before(async () => {
  [idpA, idpB] = await Promise.all([startIdp(), startIdp()]);
  desktop = new Desktop('accounts');
  desktop.writeProviders(providers());
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await Promise.all([idpA?.stop(), idpB?.stop()]);
});

const ourItems = () => desktop.keychainItems().filter((i) => i['attribute.username']?.startsWith('acct-'));
const byEmail = async (email) => (await ui.accounts(wd)).find((a) => a.email === email);

async function restart() {
  await desktop.stopApp();
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
}

test('alice and bob at provider A, carol at provider B: three accounts, three keychain items', async () => {
  await ui.signIn(desktop, wd, 'work', 'alice');
  await ui.signIn(desktop, wd, 'work', 'bob');
  await ui.signIn(desktop, wd, 'home', 'carol');
  const list = await ui.accounts(wd);
  assert.deepEqual(list.map((a) => [a.email, a.provider]), [
    ['alice@example.test', 'Work IdP'],
    ['bob@example.test', 'Work IdP'],
    ['carol@example.test', 'Home IdP'],
  ]);
  assert.deepEqual(list.map((a) => a.isDefault), [true, false, false], 'the first account is the default');
  const items = ourItems();
  assert.equal(items.length, 3);
  assert.deepEqual(items.map((i) => i['attribute.username']).sort(), list.map((a) => a.id).sort());
  assert.ok(items.every((i) => i['attribute.service'] === 'dev.latchkey.app'));
  const registry = desktop.registry();
  assert.equal(registry.version, 1);
  for (const account of registry.accounts) {
    const rt = ui.refreshTokenOf(desktop, account.id);
    assert.ok(rt, `a refresh token for ${account.subject}`);
    assert.ok(!readFileSync(desktop.registryPath(), 'utf8').includes(rt), 'no secret in the registry');
  }
  await desktop.screenshot('three-accounts');
});

test('labels and the default account survive a restart, in a stable order', async () => {
  const bob = await byEmail('bob@example.test');
  await wd.click(`.account[data-id="${bob.id}"] .rename`);
  await wd.waitFor(() => wd.execute('return document.getElementById("rename-dialog").open'), { what: 'the rename dialog' });
  await wd.execute('document.getElementById("rename-input").value = ""');
  await wd.sendKeys('#rename-input', 'Work laptop');
  await wd.click('#rename-save');
  await wd.waitFor(async () => (await byEmail('bob@example.test')).label === 'Work laptop', { what: 'the label' });
  const carol = await byEmail('carol@example.test');
  await wd.click(`.account[data-id="${carol.id}"] .make-default`);
  await wd.waitFor(async () => (await byEmail('carol@example.test')).isDefault, { what: 'carol to be default' });
  assert.equal((await ui.accounts(wd)).filter((a) => a.isDefault).length, 1, 'exactly one default');

  await restart();
  const list = await wd.waitFor(async () => {
    const l = await ui.accounts(wd);
    return l.length === 3 ? l : null;
  }, { what: 'three accounts after restart' });
  assert.deepEqual(list.map((a) => a.email), ['alice@example.test', 'bob@example.test', 'carol@example.test']);
  assert.deepEqual(list.map((a) => a.isDefault), [false, false, true]);
  assert.equal(list[1].label, 'Work laptop');
  await desktop.screenshot('after-restart');
});

test('signing in as alice again updates her account and revokes the old refresh token', async () => {
  // Her launch refresh must be over, or its rotation alone would retire the token read here.
  const alice = await ui.waitAccount(wd, 'alice@example.test', { status: 'ready' });
  const oldToken = ui.refreshTokenOf(desktop, alice.id);
  const before = await ui.countNotices(wd, 'signed_in');
  desktop.configureBrowser({ login: 'alice', action: 'consent' });
  await ui.startSignIn(wd, 'work');
  await ui.waitNotice(wd, 'signed_in', { after: before });
  const list = await ui.accounts(wd);
  assert.equal(list.length, 3, 'no duplicate');
  assert.equal(ourItems().length, 3);
  const newToken = ui.refreshTokenOf(desktop, alice.id);
  assert.notEqual(newToken, oldToken);
  assert.match((await ui.notices(wd)).filter((n) => n.code === 'signed_in').at(-1).text, /^Signed in again as alice@example.test/);
  assert.equal(await ui.countNotices(wd, 'old_token_not_revoked'), 0);
  const refused = await ui.refreshAtIdp(idpA.issuer, CLIENT_ID, oldToken);
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, 'invalid_grant');
});

test('a keychain item deleted by hand: "needs sign-in", and signing in again brings the account back; orphans are removed', async () => {
  const carol = await byEmail('carol@example.test');
  await desktop.stopApp();
  desktop.deleteKeychainItem(carol.id);
  desktop.storeKeychainItem('acct-00000000000000000000', 'lk1:1:{"v":1,"refresh_token":"planted"}');
  assert.equal(desktop.keychainItems().filter((i) => i['attribute.username'] === 'acct-00000000000000000000').length, 1);
  wd = await desktop.startApp();
  await ui.waitAccount(wd, 'carol@example.test', { status: 'needs_sign_in' });
  await wd.waitFor(() => desktop.keychainItems().every((i) => i['attribute.username'] !== 'acct-00000000000000000000'), {
    what: 'the orphan item to be deleted',
  });
  assert.match(desktop.appLogText(), /deleted a keychain item that belongs to no account item=acct-00000000000000000000/);
  await desktop.screenshot('needs-sign-in');
  assert.equal((await byEmail('carol@example.test')).isDefault, true, 'still the default');

  desktop.configureBrowser({ login: 'carol', action: 'consent' });
  await wd.click(`.account[data-id="${carol.id}"] .reauth`);
  await ui.waitAccount(wd, 'carol@example.test', { status: 'ready' });
  const launch = desktop.browserLaunches().at(-1).url;
  const params = new URL(launch).searchParams;
  assert.equal(params.get('login_hint'), 'carol@example.test');
  assert.equal(params.get('prompt'), 'login consent');
  assert.ok(ui.refreshTokenOf(desktop, carol.id));
  assert.equal((await ui.accounts(wd)).length, 3);
});

test('re-authenticating as a different person adds that account and leaves the old one needing sign-in', async () => {
  const bob = await byEmail('bob@example.test');
  desktop.deleteKeychainItem(bob.id);
  await restart();
  await ui.waitAccount(wd, 'bob@example.test', { status: 'needs_sign_in' });
  desktop.configureBrowser({ login: 'dave', action: 'consent' });
  await wd.click(`.account[data-id="${bob.id}"] .reauth`);
  await ui.waitAccount(wd, 'dave@example.test');
  await ui.waitNotice(wd, 'reauth_other_account');
  assert.equal((await byEmail('bob@example.test')).status, 'needs_sign_in', 'bob is left as he was');
  assert.equal((await ui.accounts(wd)).length, 4);
});

test('sign out revokes at the provider, deletes the keychain item and the metadata; the others still work', async () => {
  const dave = await byEmail('dave@example.test');
  const token = ui.refreshTokenOf(desktop, dave.id);
  await wd.click(`.account[data-id="${dave.id}"] .sign-out`);
  await wd.waitFor(() => wd.execute('return document.getElementById("confirm-dialog").open'), { what: 'the confirmation' });
  await desktop.screenshot('confirm-sign-out');
  await wd.click('#confirm-ok');
  await ui.waitNotice(wd, 'signed_out');
  assert.equal(await byEmail('dave@example.test'), undefined);
  assert.equal(desktop.keychainSecret(dave.id), null);
  assert.ok(!desktop.registry().accounts.some((a) => a.id === dave.id));
  const refused = await ui.refreshAtIdp(idpA.issuer, CLIENT_ID, token);
  assert.equal(refused.body.error, 'invalid_grant');

  // bob (needs sign-in, no token) signs out without asking the provider.
  const bob = await byEmail('bob@example.test');
  await wd.click(`.account[data-id="${bob.id}"] .sign-out`);
  await wd.waitFor(() => wd.execute('return document.getElementById("confirm-dialog").open'), { what: 'the confirmation' });
  await wd.click('#confirm-ok');
  await wd.waitFor(async () => (await byEmail('bob@example.test')) === undefined, { what: 'bob to go' });

  for (const email of ['alice@example.test', 'carol@example.test']) {
    const account = await byEmail(email);
    const before = ui.refreshTokenOf(desktop, account.id);
    const expiresAt = await wd.execute('return window.__TAURI__.core.invoke("refresh_account", { id: arguments[0] })', account.id);
    assert.ok(expiresAt > Date.now(), `${email} still refreshes`);
    assert.notEqual(ui.refreshTokenOf(desktop, account.id), before, `${email}'s token was rotated and stored`);
  }
  assert.equal(ourItems().length, 2);
});

test('an unreachable provider: sign out happens locally and says so', async () => {
  const alice = await byEmail('alice@example.test');
  await desktop.stopApp();
  await idpA.stop();
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
  await wd.click(`.account[data-id="${alice.id}"] .sign-out`);
  await wd.waitFor(() => wd.execute('return document.getElementById("confirm-dialog").open'), { what: 'the confirmation' });
  await wd.click('#confirm-ok');
  await ui.waitNotice(wd, 'signed_out_locally');
  const [notice] = (await ui.notices(wd)).filter((n) => n.code === 'signed_out_locally');
  assert.match(notice.text, /could not be told/);
  assert.equal(desktop.keychainSecret(alice.id), null);
  assert.equal(await byEmail('alice@example.test'), undefined);
  await desktop.screenshot('signed-out-locally');
});

test('a damaged registry is reported and kept aside; the keychain is left alone', async () => {
  await desktop.stopApp();
  const itemsBefore = ourItems().length;
  assert.ok(itemsBefore > 0);
  const damaged = '{"version": 1, "accounts": [ {"id": "acct-trunc';
  writeFileSync(desktop.registryPath(), damaged);
  wd = await desktop.startApp();
  const banner = await wd.waitFor(
    () => wd.execute('const b = document.getElementById("registry-banner"); return getComputedStyle(b).display !== "none" && b.dataset.code === "registry_quarantined" && b.textContent'),
    { what: 'the registry banner' },
  );
  assert.match(banner, /damaged/);
  await desktop.screenshot('registry-damaged');
  const dir = dirname(desktop.registryPath());
  const aside = readdirSync(dir).filter((f) => f.startsWith('accounts.json.corrupt-'));
  assert.equal(aside.length, 1);
  assert.equal(readFileSync(join(dir, aside[0]), 'utf8'), damaged, 'the damaged file is kept as it was');
  assert.match(banner, new RegExp(aside[0].replace(/[.]/g, '\\.')));
  assert.equal(ourItems().length, itemsBefore, 'keychain items are not treated as orphans');
  assert.equal((await ui.accounts(wd)).length, 0);
});

test('an accounts file from a newer Latchkey is reported and left exactly as it is', async () => {
  await desktop.stopApp();
  const itemsBefore = ourItems().length;
  const dir = dirname(desktop.registryPath());
  const asideBefore = readdirSync(dir).filter((f) => f.startsWith('accounts.json.corrupt-')).length;
  const newer = JSON.stringify({ version: 2, accounts: [], profiles: { future: true } });
  writeFileSync(desktop.registryPath(), newer);
  wd = await desktop.startApp();
  const banner = await wd.waitFor(
    () => wd.execute('const b = document.getElementById("registry-banner"); return getComputedStyle(b).display !== "none" && b.dataset.code === "registry_newer" && b.textContent'),
    { what: 'the registry banner' },
  );
  assert.match(banner, /newer version of Latchkey/);
  await desktop.screenshot('registry-newer');
  // Actions that would write the file are refused; nothing is moved, rewritten or deleted.
  assert.equal(await wd.execute('return document.getElementById("add-account").disabled'), true);
  assert.equal(readFileSync(desktop.registryPath(), 'utf8'), newer);
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('accounts.json.corrupt-')).length, asideBefore);
  assert.equal(ourItems().length, itemsBefore, 'keychain items are not treated as orphans');
});
