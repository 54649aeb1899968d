// The keychain daemon restarts while the app runs (gnome-keyring-daemon --replace,
// as after a crash or an update): Latchkey reconnects instead of failing every
// keychain call until it is restarted. Its own file: keychain.test.mjs locks the
// collection for the rest of its session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

let idp;
before(async () => {
  idp = await startIdp();
});
after(async () => idp?.stop());

const providers = () => providerToml(idp);

// gnome-keyring-daemon --replace, as a desktop session does after a crash or an
// update: the app's Secret Service session is gone. The new daemon reads the same
// keyring file (same HOME as the one session.sh started), unlocked the same way.
async function replaceKeychainDaemon(wd, desktop) {
  const replaced = spawnSync('gnome-keyring-daemon', ['--replace', '--unlock', '--components=secrets'], {
    input: 'latchkey-test', env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: desktop.env.DBUS_SESSION_BUS_ADDRESS }, encoding: 'utf8', timeout: 15_000,
  });
  assert.equal(replaced.status, 0, replaced.stderr);
  // Wait until the new daemon really stores an item (as scripts/lib/keyring.sh
  // does): it answers on the bus before its unlocked "login" collection is
  // loaded, and a write in that moment asks for a password prompt nobody can
  // answer here. (The second test is about the app meeting that moment.)
  await wd.waitFor(() => {
    const stored = spawnSync('timeout', ['2', 'secret-tool', 'store', '--label=keyring ready', 'service', 'latchkey-keyring-ready'],
      { env: desktop.env, input: 'ready' }).status === 0;
    if (stored) spawnSync('timeout', ['2', 'secret-tool', 'clear', 'service', 'latchkey-keyring-ready'], { env: desktop.env });
    return stored;
  }, { what: 'the new keychain daemon to store an item' });
}

const bannerShown = (wd) => wd.execute('return getComputedStyle(document.getElementById("keychain-banner")).display !== "none"');

test('the keychain daemon restarts while the app runs: Latchkey reconnects and keeps working', async () => {
  const desktop = new Desktop('keychain-restart');
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'olga');
    await replaceKeychainDaemon(wd, desktop);
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

test('a keychain call stuck on the old daemon\'s prompt does not hold up the new daemon', async () => {
  const desktop = new Desktop('keychain-stuck');
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'olga');
    // Locked, with no prompter on this machine: the app's next keychain call (the
    // sign-in's pending request) waits for good on the daemon's unlock prompt,
    // holding the connection's one turn.
    const lock = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets',
      'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login'], { env: desktop.env, encoding: 'utf8' });
    assert.equal(lock.status, 0, lock.stderr);
    await ui.startSignIn(wd, 'local');
    await wd.waitFor(() => bannerShown(wd), { what: 'the keychain banner' });
    // The daemon is replaced (unlocked); the stuck call never returns.
    await replaceKeychainDaemon(wd, desktop);
    // Nobody touches the app: its recheck finds the keychain working again.
    await wd.waitFor(async () => !(await bannerShown(wd)), { what: 'the keychain banner to go', timeoutMs: 30_000 });
    await ui.signIn(desktop, wd, 'local', 'pia');
    const pia = (await ui.accounts(wd)).find((a) => a.email === 'pia@example.test');
    assert.ok(desktop.keychainSecret(pia.id), 'the new account is in the keychain');
    assert.match(desktop.appLogText(), /stuck on a keychain daemon that was replaced; reconnecting/);
  } finally {
    await desktop.stopApp();
  }
});
