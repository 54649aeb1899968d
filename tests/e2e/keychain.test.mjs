// Keychain failures: no session bus, no Secret Service (see ui.test.mjs), and
// a locked collection. The app starts quickly, names the problem, refuses to
// sign in rather than store anything elsewhere, and leaves metadata untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

let idp;
before(async () => {
  idp = await startIdp();
});
after(async () => idp?.stop());

const providers = () => providerToml(idp);

async function bannerWithin(wd, ms) {
  const started = Date.now();
  const banner = await wd.waitFor(
    () => wd.execute('const b = document.getElementById("keychain-banner"); return getComputedStyle(b).display !== "none" && { text: b.textContent, code: b.dataset.code }'),
    { what: 'the keychain banner', timeoutMs: ms },
  );
  return { ...banner, ms: Date.now() - started };
}

test('a locked collection: banner, sign-in refused, account and metadata kept', async () => {
  const desktop = new Desktop('keychain-locked');
  desktop.writeProviders(providers());
  let wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'olga');
    await desktop.stopApp();
    const registry = readFileSync(desktop.registryPath());
    // Lock every collection of the Secret Service.
    const lock = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login'], { env: desktop.env, encoding: 'utf8' });
    assert.equal(lock.status, 0, lock.stderr);
    wd = await desktop.startApp();
    const banner = await bannerWithin(wd, 15_000);
    await desktop.screenshot('locked');
    assert.ok(['keychain_locked', 'keychain_timeout'].includes(banner.code), banner.code);
    assert.match(banner.text, /locked|did not answer/);
    assert.equal(await wd.execute('return document.getElementById("add-account").disabled'), true);
    const list = await wd.waitFor(async () => {
      const l = await ui.accounts(wd);
      return l.length ? l : null;
    }, { what: 'the account list' });
    assert.equal(list.length, 1, 'the account is still listed');
    assert.ok(list[0].status !== 'needs_sign_in', `not marked as needing sign-in (${list[0].status})`);
    assert.deepEqual(readFileSync(desktop.registryPath()), registry, 'the registry is untouched');
    // Once the keychain is locked with nobody to answer its prompt, gnome-keyring stays stuck
    // for this session: the app keeps timing out (fast, without piling up threads) until it
    // is unlocked from the desktop. Nothing was lost: the item is still there.
    await desktop.stopApp();
  } finally {
    await desktop.stopApp();
  }
});

test('no session bus at all: the app starts, says why, and keeps the metadata', async () => {
  const desktop = new Desktop('keychain-no-bus', { env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' } });
  desktop.writeProviders(providers());
  // An account from an earlier session, whose token is out of reach now.
  const registry = `${JSON.stringify({
    version: 1,
    default_account: 'acct-00112233445566778899',
    accounts: [{ id: 'acct-00112233445566778899', provider_id: 'local', issuer: idp.issuer, subject: 'olga', name: 'Olga',
      email: 'olga@example.test', scopes: ['openid', 'offline_access'], created_at: 1_790_000_000, last_refreshed_at: null, status: 'active' }],
  }, null, 2)}\n`;
  mkdirSync(dirname(desktop.registryPath()), { recursive: true });
  writeFileSync(desktop.registryPath(), registry);
  const wd = await desktop.startApp();
  try {
    const banner = await bannerWithin(wd, 10_000);
    assert.equal(banner.code, 'keychain_unavailable');
    assert.equal(await wd.execute('return document.getElementById("add-account").disabled'), true);
    const [olga] = await wd.waitFor(async () => {
      const l = await ui.accounts(wd);
      return l.length ? l : null;
    }, { what: 'the account list' });
    assert.equal(olga.email, 'olga@example.test');
    assert.notEqual(olga.status, 'needs_sign_in', 'an unreachable keychain does not mean a lost token');
    await desktop.screenshot('no-bus');
    assert.equal(readFileSync(desktop.registryPath(), 'utf8'), registry, 'the metadata is untouched');
  } finally {
    await desktop.stopApp();
  }
});

test('the keychain daemon restarts while the app runs: Latchkey reconnects and keeps working', async () => {
  const desktop = new Desktop('keychain-restart');
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'olga');
    // gnome-keyring-daemon --replace, as a desktop session does after a crash or an
    // update: the app's Secret Service session is gone. The new daemon reads the same
    // keyring file (same HOME as the one session.sh started), unlocked the same way.
    const replaced = spawnSync('gnome-keyring-daemon', ['--replace', '--unlock', '--components=secrets'], {
      input: 'latchkey-test', env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: desktop.env.DBUS_SESSION_BUS_ADDRESS }, encoding: 'utf8', timeout: 15_000,
    });
    assert.equal(replaced.status, 0, replaced.stderr);
    await wd.waitFor(() => spawnSync('secret-tool', ['search', '--all', 'service', 'latchkey-e2e-ready'], { env: desktop.env }).status === 0
      || spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets',
        'org.freedesktop.DBus.Peer.Ping'], { env: desktop.env }).status === 0, { what: 'the new keychain daemon' });
    // The next keychain calls (a second sign-in stores its token) work without a restart.
    await ui.signIn(desktop, wd, 'local', 'pia');
    const pia = (await ui.accounts(wd)).find((a) => a.email === 'pia@example.test');
    assert.ok(desktop.keychainSecret(pia.id), 'the new account is in the keychain');
    assert.match(desktop.appLogText(), /keychain connection is stale; reconnecting/);
    assert.equal(await wd.execute('return getComputedStyle(document.getElementById("keychain-banner")).display'), 'none',
      'no keychain banner once calls work');
    assert.equal(await ui.countNotices(wd, 'keychain_error'), 0);
  } finally {
    await desktop.stopApp();
  }
});
