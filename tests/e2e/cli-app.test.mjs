// The app and the `latchkey` command side by side, on one keychain and one
// accounts file: what the CLI does while the window is open shows in the
// window without a restart (the plugin follows the accounts file).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { CLI_BINARY, STANDIN } from './lib/paths.mjs';
import { seedAccounts } from './lib/seed.mjs';
import * as ui from './lib/ui.mjs';

let idp;
let desktop;
let wd;
let seeded;

before(async () => {
  idp = await startIdp({ deviceInterval: 1 });
  desktop = new Desktop('cli-app');
  desktop.writeProviders(providerToml(idp));
  seeded = seedAccounts(desktop, idp, { prefix: 'ann', count: 1 });
  wd = await desktop.startApp();
  await ui.waitAccount(wd, seeded[0].email, { status: 'ready' });
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

/** Runs `latchkey ARGS` to its end: { code, stdout, stderr }. */
const latchkey = (args) =>
  new Promise((resolve) => {
    execFile(CLI_BINARY, args, { env: desktop.env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });

test('an account the CLI signs in appears in the open window, ready with the CLI\'s token: no second trip to the IdP', async () => {
  const refreshesBefore = idp.grants().filter((g) => g === 'refresh_token').length;
  const cli = spawn(CLI_BINARY, ['sign-in', 'local', '--device', '--json'], { env: desktop.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => cli.once('close', resolve));
  const prompt = JSON.parse(await new Promise((resolve) => createInterface({ input: cli.stdout }).once('line', resolve)));
  desktop.configureBrowser({ device: true, login: 'dora', action: 'consent' });
  const approved = await new Promise((resolve) => {
    spawn(process.execPath, [STANDIN, '--dir', desktop.standinDir, prompt.verification_uri_complete], { env: desktop.env, stdio: 'ignore' })
      .once('exit', resolve);
  });
  assert.equal(approved, 0, 'the stand-in approved the code');
  assert.equal(await exited, 0, 'latchkey sign-in succeeded');
  // The window shows dora without a restart or any click.
  await ui.waitAccount(wd, 'dora@example.test', { timeoutMs: 15_000 });
  await desktop.screenshot('cli-signed-in');
  // And runs her lifecycle, starting from the access token the CLI just
  // cached in her keychain item (the CLI has just been to the IdP).
  await ui.waitAccount(wd, 'dora@example.test', { status: 'ready', timeoutMs: 15_000 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal(idp.grants().filter((g) => g === 'refresh_token').length, refreshesBefore, 'no refresh for an account signed in a moment ago');
});

test('an account the CLI signs out leaves the open window', async () => {
  const out = await latchkey(['sign-out', seeded[0].id]);
  assert.equal(out.code, 0, out.stderr);
  await wd.waitFor(async () => !(await ui.accounts(wd)).some((a) => a.email === seeded[0].email), {
    what: `${seeded[0].email} to leave the window`,
    timeoutMs: 15_000,
  });
  const left = (await ui.accounts(wd)).map((a) => a.email);
  assert.deepEqual(left, ['dora@example.test']);
});
