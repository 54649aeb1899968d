// Deep links from anywhere: any web page can fire dev.latchkey:/… at the app.
// Each hostile link is ignored or rejected with a notice, nothing changes,
// and a legitimate sign-in in progress still completes afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('links');
  desktop.writeProviders(providerToml(idp));
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

test('hostile links while a sign-in is pending: each refused with a notice, then the sign-in completes', async () => {
  desktop.configureBrowser({ login: 'nina', action: 'consent', holdFile: 'release' });
  await ui.startSignIn(wd, 'local');
  await wd.waitFor(() => desktop.browserRedirects().length === 1, { what: 'the held redirect' });
  const real = desktop.browserRedirects()[0];
  const realState = new URL(real.replace('dev.latchkey:', 'https://x')).searchParams.get('state');
  const registryBefore = JSON.stringify(desktop.registry());
  const cases = [
    ['unknown_state', 'dev.latchkey:/oauth/callback?code=abc&state=not-a-pending-state'],
    ['unknown_state', 'dev.latchkey:/oauth/callback?code=abc&state=x&foo=bar&utm_source=evil'],
    ['link_too_long', `dev.latchkey:/oauth/callback?code=${'A'.repeat(9000)}&state=${realState}`],
    ['link_malformed', `dev.latchkey:/oauth/callback?code=%ff%fe%fd&state=${realState}`],
    ['link_malformed', `dev.latchkey:/oauth/callback?code=%zz&state=${realState}`],
    ['link_not_callback', `dev.latchkey:/settings/export?state=${realState}`],
    ['link_duplicate_parameter', `dev.latchkey:/oauth/callback?code=a&state=${realState}&state=${realState}`],
  ];
  for (const [code, url] of cases) {
    const before = await ui.countNotices(wd, code);
    desktop.gioOpen(url);
    await ui.waitNotice(wd, code, { after: before, timeoutMs: 15_000 });
  }
  await desktop.screenshot('hostile-links');
  const notices = await ui.notices(wd);
  for (const n of notices) assert.ok(!n.text.includes(realState), 'no notice shows the state');
  assert.equal(JSON.stringify(desktop.registry()), registryBefore);
  assert.equal(await wd.execute('return document.querySelectorAll("#pending .pending-card").length'), 1, 'still pending');
  const log = desktop.appLogText();
  assert.ok(!log.includes(realState), 'the log never shows the state');
  assert.ok(!log.includes('AAAAAAAAAA'), 'the log never echoes link values');
  desktop.releaseBrowser('release');
  await ui.waitAccount(wd, 'nina@example.test', { status: 'ready' });
  // The redirect, delivered again just after (a double click on the browser's
  // "open Latchkey?" prompt), is a quiet no-op: no "may be forged" alarm.
  // (The newest notice id, not a count: the "Signed in" confirmation may fade meanwhile.)
  const newest = () => wd.execute('return Math.max(0, ...[...document.querySelectorAll("#notices .notice")].map(n => Number(n.dataset.id)))');
  const noticesBefore = await newest();
  desktop.gioOpen(real);
  await wd.waitFor(() => /a repeat of a sign-in link that just completed/.test(desktop.appLogText()),
    { what: 'the repeated link to be handled' });
  assert.ok((await newest()) <= noticesBefore, 'no notice for a repeated link');
  assert.equal((await ui.accounts(wd)).length, 1);
});

test('a sign-in link that arrives while the app is quitting starts a new instance, which completes it', async () => {
  const nina = await ui.waitAccount(wd, 'nina@example.test', { status: 'ready' });
  desktop.configureBrowser({ login: 'quinn', action: 'consent', holdFile: 'release-while-quitting' });
  await ui.startSignIn(wd, 'local');
  await wd.waitFor(() => desktop.browserRedirects().length === 2, { what: 'the held redirect' });
  const [oldPid] = desktop.appPids();
  // Keep the app busy quitting: a refresh in flight against a slow IdP (3 s per
  // token request) holds it in its shutdown grace.
  idp.toggleSlow();
  try {
    const held = idp.heldRequests();
    await wd.execute('window.__TAURI__.core.invoke("refresh_account", { id: arguments[0] }).catch(() => {}); return true', nina.id);
    await wd.waitFor(() => idp.heldRequests() > held, { what: 'the refresh to reach the slow IdP' });
    process.kill(oldPid, 'SIGTERM');
    await sleep(200);
    assert.ok(desktop.appPids().includes(oldPid), 'the old instance is still finishing its refresh');
    desktop.releaseBrowser('release-while-quitting');
    // The link's launch must not be handed to the instance that is going away.
    const newPid = await wd.waitFor(() => desktop.appPids().find((pid) => pid !== oldPid), { what: 'a new instance', timeoutMs: 20_000 });
    await wd.waitFor(() => !desktop.appPids().includes(oldPid), { what: 'the old instance to exit', timeoutMs: 15_000 });
    const quinn = await wd.waitFor(() => desktop.registry()?.accounts.find((a) => a.email === 'quinn@example.test'), {
      what: 'quinn in the registry',
      timeoutMs: 30_000,
    });
    assert.ok(ui.refreshTokenOf(desktop, quinn.id), "quinn's refresh token is in the keychain");
    assert.ok(desktop.appPids().includes(newPid), 'the new instance keeps running');
    assert.match(readFileSync(desktop.logFilePath(), 'utf8'), new RegExp(`Latchkey started .*pid=${newPid}`));
  } finally {
    idp.toggleSlow();
  }
});
