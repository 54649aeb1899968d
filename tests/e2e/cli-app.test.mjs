// The app and the `latchkey` command side by side, on one keychain and one
// accounts file: what the CLI does while the window is open shows in the
// window without a restart (the plugin follows the accounts file), and the
// app and twenty CLI processes refreshing one account at once rotate its
// refresh token at most twice, with no reuse the IdP would punish.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startCli } from './lib/cli.mjs';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { CLI_BINARY } from './lib/paths.mjs';
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
    execFile(CLI_BINARY, args, { env: desktop.env, timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });

const refreshGrants = () => idp.grants().filter((g) => g === 'refresh_token').length;
const invalidGrants = () => idp.grantErrors().filter((e) => e.includes('invalid_grant')).length;

/** The access-token expiry the window shows for an account (whole seconds), or null. */
async function shownExpiry(id) {
  const ms = await wd.execute('return document.querySelector(`.account[data-id="${arguments[0]}"]`)?.dataset.expiresAt || null', id);
  return ms ? Math.floor(Number(ms) / 1000) : null;
}

/** The account's cached token and its expiry (whole seconds) as `latchkey token --format json` prints them. */
async function cachedToken(id) {
  const r = await latchkey(['token', id, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const { access_token: token, expires_at: at } = JSON.parse(r.stdout);
  return { token, expires: Date.parse(at) / 1000 };
}

test('an account the CLI signs in appears in the open window, ready with the CLI\'s token: no second trip to the IdP', async () => {
  const refreshesBefore = idp.grants().filter((g) => g === 'refresh_token').length;
  const cli = startCli(desktop, ['sign-in', 'local', '--device', '--json']);
  const prompt = await cli.prompt;
  desktop.configureBrowser({ device: true, login: 'dora', action: 'consent' });
  assert.equal(await desktop.runBrowser(prompt.verification_uri_complete), 0, 'the stand-in approved the code');
  const signedIn = await cli.done;
  assert.equal(signedIn.code, 0, `latchkey sign-in succeeded: ${signedIn.stderr}`);
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

test('a refresh the CLI makes shows in the open window: its expiry, without a refresh by the app', async () => {
  const dora = (await ui.accounts(wd)).find((a) => a.email === 'dora@example.test');
  // The app refreshes (the window's refresh command), and shows that token's expiry.
  const mine = await wd.execute('return window.__TAURI__.core.invoke("refresh_account", { id: arguments[0] })', dora.id);
  await wd.waitFor(async () => (await shownExpiry(dora.id)) === (await cachedToken(dora.id)).expires, { what: 'the app\'s own expiry shown' });
  const appsExpiry = await shownExpiry(dora.id);
  await sleep(2100);
  // 59 min 59 s of 1 h tokens that have 59 min 57 s left: the CLI refreshes.
  const before = refreshGrants();
  const cli = await latchkey(['token', dora.id, '--min-valid', '59m59s']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(refreshGrants() - before, 1, 'the CLI refreshed');
  const final = await cachedToken(dora.id);
  assert.ok(final.expires >= appsExpiry + 2, `a later expiry (${appsExpiry} → ${final.expires}; app ${mine})`);
  await wd.waitFor(async () => (await shownExpiry(dora.id)) === final.expires, {
    what: 'the window to show the expiry of the CLI\'s refresh', timeoutMs: 10_000,
  });
  await desktop.screenshot('cli-refresh-shown');
  assert.equal(refreshGrants() - before, 1, 'the app took the CLI\'s token without a refresh of its own');
  assert.equal((await ui.accounts(wd)).find((a) => a.id === dora.id).status, 'ready');
});

test('20 latchkey token processes and the app refresh one account at once: at most 2 refresh grants, no invalid_grant', async () => {
  const dora = (await ui.accounts(wd)).find((a) => a.email === 'dora@example.test');
  // No cached access token in the item (as an item from before the cache): the CLI processes
  // have to refresh — once, the others share it (one refreshed less than 30 s ago would do).
  desktop.storeKeychainItem(dora.id, `lk1:1:${JSON.stringify({ v: 1, refresh_token: ui.refreshTokenOf(desktop, dora.id) })}`);
  const before = refreshGrants();
  const invalidBefore = invalidGrants();
  const errorsBefore = idp.grantErrors().length;
  // --min-valid 2h: longer than the IdP's 1 h tokens, so no cached token meets it.
  const runs = Array.from({ length: 20 }, () => latchkey(['token', dora.id, '--min-valid', '2h', '--format', 'json']));
  // The app's refresh as soon as the first CLI refresh reached the IdP, while the others wait for the account's lock.
  const app = (async () => {
    await wd.waitFor(() => refreshGrants() > before, { what: 'the first CLI refresh', timeoutMs: 60_000 });
    return wd.execute('return window.__TAURI__.core.invoke("refresh_account", { id: arguments[0] }).then(() => "ok", e => e.code ?? String(e))', dora.id);
  })();
  const [results, appResult] = await Promise.all([Promise.all(runs), app]);
  assert.equal(appResult, 'ok', 'the app\'s refresh succeeded');
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const tokens = results.map((r) => JSON.parse(r.stdout).access_token);
  assert.ok(tokens.every((t) => typeof t === 'string' && t.length > 20), 'every process printed a token');
  const grants = refreshGrants() - before;
  console.log(`# refresh grants at the IdP for 20 CLI processes + the app's refresh: ${grants}; distinct tokens printed: ${new Set(tokens).size}`);
  assert.ok(grants >= 1 && grants <= 2, `${grants} refresh grants`);
  // Every CLI process printed the token of one of those refreshes (no other was made).
  assert.ok(new Set(tokens).size <= grants);
  assert.equal(invalidGrants(), invalidBefore, 'no invalid_grant');
  assert.deepEqual(idp.grantErrors().slice(errorsBefore), []);
  for (const t of new Set(tokens)) assert.equal((await idp.userinfo(t)).status, 200, 'each printed token works');
  // The window shows the expiry of the last refresh, whoever made it.
  const final = await cachedToken(dora.id);
  await wd.waitFor(async () => (await shownExpiry(dora.id)) === final.expires, {
    what: `the window to show the final expiry ${final.expires}`, timeoutMs: 10_000,
  });
  assert.equal(refreshGrants() - before, grants, 'no refresh since');
  await desktop.screenshot('after-20-cli-and-app');
});
