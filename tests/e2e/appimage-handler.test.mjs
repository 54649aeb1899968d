// An AppImage registers the dev.latchkey: handler itself at start (it has no
// install step): the app, started with APPIMAGE set as the AppImage runtime
// sets it, writes its own desktop entry (Exec="$APPIMAGE" %u) and makes it the
// default handler; a sign-in's redirect then comes back through it. No real
// AppImage could be built on this machine (linuxdeploy is downloaded from
// GitHub), so APPIMAGE names a launcher that execs the debug binary, as an
// AppImage's AppRun does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Desktop, LATCHKEY } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

const HANDLER = 'latchkey-app-handler.desktop';
const appimage = join(mkdtempSync(join(tmpdir(), 'latchkey-appimage-')), 'Latchkey_0.1.0_amd64.AppImage');
writeFileSync(appimage, `#!/bin/sh\n# Stands in for the AppImage: its AppRun execs the app with the arguments.\nexec '${LATCHKEY.binary}' "$@"\n`);
chmodSync(appimage, 0o755);

let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp();
  // No handler registered for the app by the harness: the app must do it.
  desktop = new Desktop('appimage-handler', { app: { ...LATCHKEY, installed: true }, appEnv: { APPIMAGE: appimage } });
  desktop.writeProviders(providerToml(idp, { id: 'local-demo', name: 'Local demo' }));
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

const xdgMimeDefault = () =>
  spawnSync('xdg-mime', ['query', 'default', 'x-scheme-handler/dev.latchkey'], { env: desktop.env, encoding: 'utf8' }).stdout.trim();

test('started as an AppImage, the app makes itself the dev.latchkey: handler', async () => {
  assert.equal(xdgMimeDefault(), '', 'no handler before the first start');
  wd = await desktop.startApp();
  const entry = join(desktop.dataHome, 'applications', HANDLER);
  await wd.waitFor(() => existsSync(entry) && xdgMimeDefault() === HANDLER, { what: 'the handler registration' });
  const text = readFileSync(entry, 'utf8');
  assert.match(text, new RegExp(`^Exec="${appimage.replace(/[.]/g, '\\.')}" %u$`, 'm'), 'the AppImage, not the binary inside it');
  // (The plugin writes the list without its closing ';', which desktops accept.)
  assert.match(text, /^MimeType=(.*;)?x-scheme-handler\/dev\.latchkey;?$/m);
  assert.match(readFileSync(desktop.logFilePath(), 'utf8'), /registered as the dev\.latchkey: handler \(AppImage\)/);
});

test('the sign-in redirect comes back through the handler the AppImage registered', async () => {
  await ui.waitProvidersChecked(wd);
  desktop.configureBrowser({ login: 'alice', action: 'consent' });
  await ui.startSignIn(wd, 'local-demo');
  await ui.waitAccount(wd, 'alice@example.test', { status: 'ready' });
  assert.equal(desktop.browserRedirects().length, 1);
  assert.match(readFileSync(desktop.logFilePath(), 'utf8'), /second instance forwarded its arguments/);
  assert.deepEqual(idp.grants(), ['authorization_code']);
});
