// `latchkey sign-in` at a provider whose redirect is the app's dev.latchkey:
// scheme: the CLI hands the sign-in to the real app (`latchkey-app --sign-in
// local`, found beside the `latchkey` binary), which opens the browser
// stand-in; the IdP redirects to dev.latchkey:, `gio open` hands it to the app
// through the desktop's handler; the CLI sees the account and prints it.
// Cold (the CLI starts the app) and warm (the app runs under WebDriver, and
// single-instance forwards the arguments). A dev.latchkey: link that carries
// "--sign-in" text starts nothing, cold or warm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCli } from './lib/cli.mjs';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { APP_BINARY } from './lib/paths.mjs';
import * as ui from './lib/ui.mjs';

let idp;
let desktop;
let wd;
const transcript = [];

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('cli-handoff');
  // The preset default: redirect = "scheme" (dev.latchkey:/oauth/callback).
  desktop.writeProviders(providerToml(idp));
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
  if (desktop) writeFileSync(join(desktop.resultsDir, 'transcript.txt'), transcript.join('\n'));
});

const start = (args, env = {}) => startCli(desktop, args, {
  env,
  timeoutMs: 180_000,
  onClose: (_, { code, signal, stdout, stderr }) => {
    transcript.push(`$ latchkey ${args.join(' ')}\n${stdout}[stderr]\n${stderr}[exit ${code ?? signal}]\n`);
  },
});
const latchkey = (args, env) => start(args, env).done;
const appLog = () => (existsSync(desktop.logFilePath()) ? readFileSync(desktop.logFilePath(), 'utf8') : '');

/** Waits until `check()` is truthy (polling), or fails saying `what`. */
async function until(check, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test('an unknown provider, --no-browser, or LATCHKEY_APP naming nothing: exit 2, no app started', async () => {
  const unknown = await latchkey(['sign-in', 'nowhere']);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /no provider "nowhere" is configured \(configured: local\)/);
  const noBrowser = await latchkey(['sign-in', 'local', '--no-browser']);
  assert.equal(noBrowser.code, 2, noBrowser.stderr);
  assert.match(noBrowser.stderr, /--no-browser does not apply to Local IdP.*the app opens the browser.*--device/s);
  const missing = await latchkey(['sign-in', 'local'], { LATCHKEY_APP: '/nonexistent/latchkey-app' });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /LATCHKEY_APP=\/nonexistent\/latchkey-app is not an executable/);
  assert.deepEqual(desktop.appPids(), [], 'no app was started');
  assert.deepEqual(desktop.browserLaunches(), [], 'no browser was opened');
});

test('cold: no app running → the CLI starts it with --sign-in, the sign-in completes in the browser, the CLI prints the account', async () => {
  assert.deepEqual(desktop.appPids(), []);
  desktop.configureBrowser({ login: 'cole', action: 'consent' });
  const run = start(['sign-in', 'local', '--json']);
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /Handed the sign-in to the Latchkey app \(.*latchkey-app\); finish it in your browser/);
  assert.match(stderr, /The Latchkey app started the sign-in at Local IdP/);
  assert.match(stderr, /✓ Signed in as cole@example\.test at Local IdP \(acct-[0-9a-f]+\)\./);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'only the account on stdout');
  const account = JSON.parse(lines[0]);
  assert.equal(account.email, 'cole@example.test');
  assert.equal(account.provider, 'local');
  // Through the app: its launch by the CLI, the scheme redirect, the code exchange.
  const launches = desktop.browserLaunches();
  assert.equal(launches.length, 1, 'the app opened the browser once');
  assert.ok(launches[0].url.startsWith(`${idp.issuer}/`), launches[0].url);
  assert.match(desktop.browserRedirects()[0], /^dev\.latchkey:\/oauth\/callback\?/);
  assert.deepEqual(idp.grants(), ['authorization_code']);
  assert.ok(ui.refreshTokenOf(desktop, account.id), 'the refresh token is in the keychain');
  assert.match(appLog(), /sign-in handed over by the command line provider=local/);
  // The app the CLI started keeps running (the CLI did not wait for it): stop it.
  const pids = desktop.appPids();
  assert.equal(pids.length, 1, `one app running (${pids})`);
  await desktop.stopApp();
  assert.deepEqual(desktop.appPids(), []);
});

test('cold: a dev.latchkey: link with "--sign-in local" in it starts the app as a link, and no sign-in', async () => {
  const launches = desktop.browserLaunches().length;
  const logBefore = appLog().length;
  desktop.gioOpen('dev.latchkey:/oauth/callback?code=x&state=y&--sign-in=local&a=--sign-in%20local');
  await until(() => /deep link received/.test(appLog().slice(logBefore)), 'the app to receive the link');
  await sleep(3000);
  const log = appLog().slice(logBefore);
  assert.doesNotMatch(log, /sign-in handed over/);
  assert.equal(desktop.browserLaunches().length, launches, 'no browser opened');
  assert.equal(desktop.keychainSecret('pending-authorizations'), null, 'nothing pending');
  await desktop.stopApp();
});

test('warm: app running → the CLI hands over, the window shows the pending card then the account, the CLI exits 0', async () => {
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
  const [appPid] = desktop.appPids();
  desktop.configureBrowser({ login: 'wes', action: 'consent', holdFile: 'release-warm' });
  const run = start(['sign-in', 'local']);
  await wd.waitFor(() => wd.execute('return document.querySelectorAll("#pending .pending-card").length === 1'), {
    what: 'the pending card in the window',
    timeoutMs: 30_000,
  });
  await desktop.screenshot('warm-pending');
  // The CLI's own launch handed its arguments to the running app and exited.
  await until(() => desktop.appPids().length === 1, 'the second launch to exit', 10_000);
  assert.deepEqual(desktop.appPids(), [appPid]);
  assert.match(run.stderr(), /Handed the sign-in to the Latchkey app/);
  await until(() => desktop.browserRedirects().length === 2, 'the held redirect');
  desktop.releaseBrowser('release-warm');
  const { code, stderr } = await run.done;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /✓ Signed in as wes@example\.test at Local IdP/);
  await ui.waitAccount(wd, 'wes@example.test', { status: 'ready' });
  assert.equal(await wd.execute('return document.querySelectorAll("#pending .pending-card").length'), 0);
  await desktop.screenshot('warm-signed-in');
});

test('warm: a link carrying --sign-in is handled as a link (refused), and --sign-in at a provider the app lacks is a notice; neither starts a sign-in', async () => {
  const launches = desktop.browserLaunches().length;
  const registryBefore = JSON.stringify(desktop.registry());
  const before = await ui.countNotices(wd, 'link_not_callback');
  desktop.gioOpen('dev.latchkey:/--sign-in%20local?--sign-in=local');
  await ui.waitNotice(wd, 'link_not_callback', { after: before, timeoutMs: 15_000 });
  // A local process passing the flag for a provider the app does not have.
  const direct = spawnSync(APP_BINARY, ['--sign-in', 'nowhere'], { env: desktop.env, timeout: 30_000 });
  assert.equal(direct.status, 0, 'forwarded to the running app');
  await ui.waitNotice(wd, 'handoff_unknown_provider', { timeoutMs: 15_000 });
  await sleep(1500);
  assert.equal(desktop.browserLaunches().length, launches, 'no browser opened');
  assert.equal(await wd.execute('return document.querySelectorAll("#pending .pending-card").length'), 0, 'nothing pending');
  assert.equal(JSON.stringify(desktop.registry()), registryBefore);
  await desktop.screenshot('refused-hand-offs');
});

test('Ctrl-C stops the waiting only: exit 130 saying the sign-in goes on, and it does finish in the window', async () => {
  desktop.configureBrowser({ login: 'cara', action: 'consent', holdFile: 'release-ctrl-c' });
  const redirects = desktop.browserRedirects().length;
  const run = start(['sign-in', 'local']);
  await until(() => /The Latchkey app started the sign-in at Local IdP/.test(run.stderr()), 'the app to start the sign-in');
  run.child.kill('SIGINT');
  const { code, stderr } = await run.done;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /stopped waiting \(Ctrl-C\): the sign-in goes on in the Latchkey app's window/);
  // The CLI saw the app's pending request in the keychain; the window shows it
  // once it has rendered the app's state event (not necessarily by now).
  const cards = () => wd.execute('return document.querySelectorAll("#pending .pending-card").length');
  await wd.waitFor(async () => (await cards()) > 0, { what: 'the pending card in the window' });
  assert.equal(await cards(), 1, 'still pending in the app');
  await until(() => desktop.browserRedirects().length === redirects + 1, 'the held redirect');
  desktop.releaseBrowser('release-ctrl-c');
  await ui.waitAccount(wd, 'cara@example.test', { status: 'ready' });
});
