// The .deb as a person gets it: `apt-get install ./Latchkey_….deb` on this
// machine, the app started the way a desktop starts it (its installed desktop
// entry), a sign-in whose redirect comes back through the handler the package
// registered (gio open → Latchkey.desktop → `latchkey-app %u` → single-instance),
// the package's own `latchkey` command seeing the account, then `apt-get purge`
// and the machine as it was before. The .deb is the one `scripts/package.sh
// --debug --bundles deb` made from the binaries the other E2E tests ran
// ($LATCHKEY_DEB to test another). A `latchkey` package this test did not
// install is never touched: the test is skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { APP_ID, Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as pkg from './lib/package.mjs';
import * as ui from './lib/ui.mjs';

const DESKTOP_ENTRY = '/usr/share/applications/Latchkey.desktop';
const INSTALLED = {
  binary: '/usr/bin/latchkey-app',
  id: APP_ID,
  scheme: 'dev.latchkey',
  name: 'Latchkey',
  desktopFile: 'Latchkey.desktop',
  installed: true,
};
const CLI = '/usr/bin/latchkey';

const deb = pkg.builtDeb();
pkg.purgeLeftover();
const skip = pkg.cannotInstall(deb) ?? false;
const files = pkg.debFiles(deb);

let machineBefore;
let idp;
let desktop;
let wd;

before(async () => {
  if (skip) return;
  machineBefore = { files: files.filter((f) => existsSync(f)), registration: pkg.schemeRegistration('dev.latchkey') };
  pkg.install(deb);
  idp = await startIdp();
  desktop = new Desktop('installed-deb', { app: INSTALLED });
  desktop.writeProviders(providerToml(idp, { id: 'local-demo', name: 'Local demo' }));
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
  // A failed test never leaves the package behind.
  if (!skip && pkg.installedVersion()) pkg.purge();
});

const xdgMimeDefault = () =>
  spawnSync('xdg-mime', ['query', 'default', 'x-scheme-handler/dev.latchkey'], { env: desktop.env, encoding: 'utf8' }).stdout.trim();

const latchkey = (args) =>
  new Promise((resolve) => {
    execFile(CLI, args, { env: desktop.env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });

test('the package installs the app, the latchkey command, a desktop entry that handles dev.latchkey: links, and its icons', { skip }, () => {
  assert.equal(pkg.installedVersion(), '0.1.0');
  for (const f of ['/usr/bin/latchkey-app', CLI, DESKTOP_ENTRY, '/usr/share/icons/hicolor/256x256/apps/latchkey-app.png']) {
    assert.ok(existsSync(f), `${f} is installed`);
  }
  assert.deepEqual(files.filter((f) => f.includes('@2')), [], 'no icon in a HiDPI (@2) slot it does not fit');
  assert.deepEqual(
    files.filter((f) => f.startsWith('/usr/share/icons/')).map((f) => f.split('/')[5]).sort(),
    ['128x128', '256x256', '32x32', '512x512'],
  );
  const entry = readFileSync(DESKTOP_ENTRY, 'utf8');
  assert.match(entry, /^Exec=latchkey-app %u$/m, 'the link reaches the app as its argument');
  assert.match(entry, /^MimeType=x-scheme-handler\/dev\.latchkey;$/m);
  const validate = spawnSync('desktop-file-validate', [DESKTOP_ENTRY], { encoding: 'utf8' });
  assert.equal(validate.status, 0, validate.stdout + validate.stderr);
  // The package's postinst updated the desktop database: the handler is found machine-wide.
  assert.match(pkg.schemeRegistration('dev.latchkey').cacheLine ?? '', /Latchkey\.desktop/);
  assert.equal(xdgMimeDefault(), 'Latchkey.desktop');
});

test('started from its desktop entry (gio launch), the installed app opens its window', { skip }, async () => {
  // (Not piped: the app inherits gio's stdio, and spawnSync would wait for the app to close it.)
  const launched = spawnSync('gio', ['launch', DESKTOP_ENTRY], { env: desktop.env, stdio: 'ignore', timeout: 30_000 });
  assert.equal(launched.status, 0, 'gio launch succeeded');
  const [pid] = await waitUntil(() => (desktop.appPids().length === 1 && desktop.visibleAppWindows() === 1 ? desktop.appPids() : null),
    'the installed app to show its window');
  assert.equal(readlinkSync(`/proc/${pid}/exe`), INSTALLED.binary);
  await desktop.signalAndWait('SIGTERM', 8000);
  assert.deepEqual(desktop.appPids(), [], 'it quit on SIGTERM');
});

test('sign-in with the installed app: the redirect comes back through the package\'s handler', { skip }, async () => {
  // WebDriver starts the app exactly as the desktop entry's Exec line says.
  desktop.application = pkg.launcherFromDesktopEntry(DESKTOP_ENTRY, desktop.root);
  wd = await desktop.startApp();
  const [pid] = desktop.appPids();
  assert.equal(readlinkSync(`/proc/${pid}/exe`), INSTALLED.binary);
  await ui.waitProvidersChecked(wd);
  desktop.configureBrowser({ login: 'alice', action: 'consent' });
  await ui.startSignIn(wd, 'local-demo');
  const alice = await ui.waitAccount(wd, 'alice@example.test', { status: 'ready' });
  await desktop.screenshot('signed-in');
  assert.equal(desktop.browserRedirects().length, 1);
  assert.ok(desktop.browserRedirects()[0].startsWith('dev.latchkey:/oauth/callback?'));
  // The stand-in's `gio open` started a second latchkey-app (from the installed entry), which
  // handed the link to the window's process and exited.
  await waitUntil(() => /second instance forwarded its arguments/.test(readFileSync(desktop.logFilePath(), 'utf8')),
    'the second instance in the app log');
  assert.deepEqual(desktop.appPids(), [pid]);
  assert.ok(!existsSync(`${desktop.dataHome}/applications/latchkey-app-handler.desktop`), 'only an AppImage registers itself');
  assert.equal(desktop.keychainItems().filter((i) => i['attribute.username']?.startsWith('acct-')).length, 1);
  assert.deepEqual(idp.grants(), ['authorization_code']);

  // The package's `latchkey` command sees the account the installed app stored.
  const status = await latchkey(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const listed = JSON.parse(status.stdout);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].keychain, 'present');
  assert.equal(listed[0].usable, true);
  assert.equal(listed[0].id, alice.id, 'the account the window shows');
});

test('apt-get purge removes every file of the package and its handler: the machine is as before', { skip }, async () => {
  await desktop.stopApp();
  wd = null;
  pkg.purge();
  assert.equal(pkg.installedVersion(), null);
  assert.deepEqual(files.filter((f) => existsSync(f)), machineBefore.files, 'no file of the package is left');
  assert.deepEqual(pkg.schemeRegistration('dev.latchkey'), machineBefore.registration, 'the desktop database is as before');
  assert.equal(xdgMimeDefault(), '', 'no handler for dev.latchkey: links');
});

async function waitUntil(probe, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}`);
}
