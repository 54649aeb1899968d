// Silent refresh at launch and the token lifecycle, through the real app,
// IdP and keychain: rotation, offline tolerance, a revoked grant, and two
// processes refreshing the same account at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, CLIENT_ID, providerToml } from './lib/idp.mjs';
import { HAMMER_BINARY } from './lib/paths.mjs';
import * as ui from './lib/ui.mjs';

let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('refresh');
  desktop.writeProviders(providerToml(idp));
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
  for (const login of ['alice', 'bob', 'carol']) await ui.signIn(desktop, wd, 'local', login);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

const tokens = () => Object.fromEntries(desktop.registry().accounts.map((a) => [a.subject, ui.refreshTokenOf(desktop, a.id)]));
const statuses = async () => Object.fromEntries((await ui.accounts(wd)).map((a) => [a.email.split('@')[0], a.status]));

async function waitStatuses(expected, what, timeoutMs = 60_000) {
  return wd.waitFor(async () => {
    const s = await statuses();
    return Object.entries(expected).every(([k, v]) => s[k] === v) ? s : null;
  }, { what, timeoutMs });
}

test('at launch every account is refreshed silently: one grant each, rotated tokens stored, no browser', async () => {
  await desktop.stopApp();
  const before = tokens();
  const grantsBefore = idp.grants().filter((g) => g === 'refresh_token').length;
  const launchesBefore = desktop.browserLaunches().length;
  wd = await desktop.startApp();
  await waitStatuses({ alice: 'ready', bob: 'ready', carol: 'ready' }, 'all three ready');
  await desktop.screenshot('refreshed-at-launch');
  assert.equal(idp.grants().filter((g) => g === 'refresh_token').length - grantsBefore, 3, 'three refresh grants');
  const after = tokens();
  for (const who of ['alice', 'bob', 'carol']) {
    assert.ok(after[who], `${who} has a token`);
    assert.notEqual(after[who], before[who], `${who}'s token was rotated`);
  }
  assert.equal(new Set(Object.values(after)).size, 3);
  assert.equal(desktop.browserLaunches().length, launchesBefore, 'no browser was opened');
  assert.deepEqual(idp.grantErrors(), []);
  const detail = await wd.waitFor(() => wd.text('#accounts .account .detail'), { what: 'the expiry detail' });
  assert.match(detail, /^expires in \d+ (s|min|h)/);
});

test('IdP down at launch: accounts offline, nothing removed; IdP back: recovered without user action', async () => {
  await desktop.stopApp();
  const before = tokens();
  const registryBefore = JSON.stringify(desktop.registry());
  idp.down();
  wd = await desktop.startApp();
  await waitStatuses({ alice: 'offline', bob: 'offline', carol: 'offline' }, 'all offline');
  await desktop.screenshot('offline');
  assert.ok(await wd.execute('return document.querySelectorAll("#accounts .retry").length === 3'), 'Retry now is offered');
  assert.match(await wd.text('#accounts .account .detail'), /^retrying in/);
  assert.deepEqual(tokens(), before, 'nothing removed or changed in the keychain');
  assert.equal(JSON.stringify(desktop.registry()), registryBefore, 'nothing changed in the registry');
  idp.up();
  await waitStatuses({ alice: 'ready', bob: 'ready', carol: 'ready' }, 'recovery without user action', 90_000);
  assert.deepEqual(idp.grantErrors(), []);
});

test('"Retry now" does not wait for the backoff', async () => {
  idp.down();
  const alice = (await ui.accounts(wd)).find((a) => a.email === 'alice@example.test');
  await wd.execute('return window.__TAURI__.core.invoke("retry_account", { id: arguments[0] })', alice.id);
  await waitStatuses({ alice: 'offline' }, 'alice offline');
  idp.up();
  const t0 = Date.now();
  await wd.click(`.account[data-id="${alice.id}"] .retry`);
  await waitStatuses({ alice: 'ready' }, 'alice ready after Retry now', 10_000);
  assert.ok(Date.now() - t0 < 10_000);
});

test('while a refresh runs the account shows "Refreshing…"', async () => {
  const bob = (await ui.accounts(wd)).find((a) => a.email === 'bob@example.test');
  idp.toggleSlow();
  try {
    await wd.execute('return window.__TAURI__.core.invoke("retry_account", { id: arguments[0] })', bob.id);
    await waitStatuses({ bob: 'refreshing' }, 'bob refreshing', 5_000);
    assert.ok(await wd.execute('return !!document.querySelector(`.account[data-status=refreshing] .spinner`)'));
    await desktop.screenshot('refreshing');
  } finally {
    idp.toggleSlow();
  }
  await waitStatuses({ bob: 'ready' }, 'bob ready again', 15_000);
});

test('a grant revoked at the IdP: that account needs sign-in, the others are ready', async () => {
  await desktop.stopApp();
  const carol = desktop.registry().accounts.find((a) => a.subject === 'carol');
  await idp.revoke(ui.refreshTokenOf(desktop, carol.id));
  wd = await desktop.startApp();
  await waitStatuses({ alice: 'ready', bob: 'ready', carol: 'needs_sign_in' }, 'carol needs sign-in');
  await desktop.screenshot('revoked');
  assert.equal(desktop.keychainSecret(carol.id), null, 'the dead token is deleted');
  assert.ok(desktop.registry().accounts.some((a) => a.subject === 'carol'), 'the metadata is kept');
  assert.equal(desktop.registry().accounts.find((a) => a.subject === 'carol').status, 'needs_sign_in');
});

test('two processes refresh the same account 50 times each at once: zero invalid_grant', async () => {
  const alice = desktop.registry().accounts.find((a) => a.subject === 'alice');
  const errorsBefore = idp.grantErrors().length;
  const grantsBefore = idp.grants().filter((g) => g === 'refresh_token').length;
  const hammer = spawn(HAMMER_BINARY, [alice.id, '50', '10'], { env: desktop.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  hammer.stdout.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => hammer.on('exit', resolve));
  // Meanwhile the app refreshes the same account 50 times, all at once.
  const appResults = await wd.execute(
    `return Promise.allSettled(Array.from({ length: 50 }, () => window.__TAURI__.core.invoke('refresh_account', { id: arguments[0] })))
      .then(r => r.map(x => x.status === 'fulfilled' ? 'ok' : x.reason.code))`,
    alice.id,
  );
  const code = await exited;
  assert.equal(code, 0, `the second process failed: ${out}`);
  const report = JSON.parse(out);
  assert.equal(report.ok, 50);
  assert.deepEqual(appResults.filter((r) => r !== 'ok'), [], 'every app refresh succeeded');
  assert.deepEqual(idp.grantErrors().slice(errorsBefore), [], 'zero invalid_grant at the IdP');
  const served = idp.grants().filter((g) => g === 'refresh_token').length - grantsBefore;
  console.log(`# refresh grants served for 100 requests from two processes: ${served}`);
  assert.ok(served >= 2);
  // The account still works, in the app and at the IdP.
  await waitStatuses({ alice: 'ready' }, 'alice still ready');
  const result = await ui.refreshAtIdp(idp.issuer, CLIENT_ID, ui.refreshTokenOf(desktop, alice.id));
  assert.equal(result.status, 200, 'the stored token is the current one');
  await sleep(10);
});

test('while the app runs, short-lived access tokens are refreshed before they expire, without user action', async () => {
  await desktop.stopApp();
  // Access tokens live 30 s: refresh at half-life (60 s before expiry is already past).
  const shortIdp = await startIdp({ accessTtl: 30 });
  const short = new Desktop('refresh-proactive');
  short.writeProviders(providerToml(shortIdp));
  try {
    const app = await short.startApp();
    await ui.waitProvidersChecked(app);
    await ui.signIn(short, app, 'local', 'pat');
    const pat = short.registry().accounts.find((a) => a.subject === 'pat');
    const launches = short.browserLaunches().length;
    const refreshGrants = () => shortIdp.grants().filter((g) => g === 'refresh_token').length;
    const first = ui.refreshTokenOf(short, pat.id);
    // Two refreshes by themselves (the first may already be done), the rotated token stored.
    await app.waitFor(() => refreshGrants() >= 2, { what: 'two proactive refreshes', timeoutMs: 60_000 });
    await app.waitFor(() => ui.refreshTokenOf(short, pat.id) !== first, { what: 'a rotated token in the keychain', timeoutMs: 10_000 });
    assert.deepEqual(shortIdp.grantErrors(), []);
    assert.equal(short.browserLaunches().length, launches, 'no browser');
    // (A refresh runs every ~15 s: wait for "ready" rather than catch one moment.)
    await ui.waitAccount(app, 'pat@example.test', { status: 'ready' });
    await app.waitFor(async () => /^expires in \d+ s/.test(await app.text('#accounts .account .detail')), { what: 'the expiry countdown' });
    await short.screenshot('proactive');
    // Not a hot loop: about one refresh per 15 s.
    const grants = refreshGrants();
    await sleep(5000);
    assert.ok(refreshGrants() - grants <= 1, 'no more than one refresh in 5 s');
  } finally {
    await short.stopApp();
    await shortIdp.stop();
  }
});
