// Secret hygiene: during sign-in, launch refresh and on-demand refresh, every
// token, code and verifier the IdP issued or received is collected, and none
// may appear in the app's log lines, its log file, the registry file, any IPC
// payload the webview received, or the window's DOM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

let idp;
let desktop;
let secretLog;

before(async () => {
  desktop = new Desktop('hygiene');
  secretLog = join(desktop.root, 'idp-secrets.jsonl');
  idp = await startIdp({ secretLog });
  desktop.writeProviders(providerToml(idp));
});

after(async () => {
  await desktop?.stopApp();
  await idp?.stop();
});

// Everything the webview can read: the state (every command returns a part of
// it or nothing) and the sign-in links. (Wrapping the IPC layer from a test is
// not possible: Tauri freezes window.__TAURI_INTERNALS__.)
const READ_ALL = `
  const core = window.__TAURI__.core;
  const state = await core.invoke('get_state');
  const links = await Promise.all(state.pending.map((p) => core.invoke('sign_in_link', { handle: p.handle })));
  return 'explicit ' + JSON.stringify(state) + JSON.stringify(links);`;

function secrets() {
  const values = new Set();
  for (const line of readFileSync(secretLog, 'utf8').trim().split('\n')) {
    const { request, response } = JSON.parse(line);
    const form = new URLSearchParams(request);
    for (const k of ['code', 'code_verifier', 'refresh_token']) if (form.get(k)) values.add(form.get(k));
    try {
      const body = JSON.parse(response);
      for (const k of ['access_token', 'refresh_token', 'id_token']) if (body[k]) values.add(body[k]);
    } catch {}
  }
  for (const url of desktop.browserRedirects()) {
    const code = new URL(url.replace('dev.latchkey:', 'https://x')).searchParams.get('code');
    if (code) values.add(code);
  }
  return [...values].filter((v) => v.length >= 16);
}

test('no token, code or verifier in logs, registry, IPC payloads or the DOM', async () => {
  const haystacks = {};
  let wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
  await ui.signIn(desktop, wd, 'local', 'uma');
  await ui.signIn(desktop, wd, 'local', 'vic');
  // While a sign-in waits in the browser (its link is readable by the webview).
  desktop.configureBrowser({ login: 'wes', action: 'consent', holdFile: 'never' });
  await ui.startSignIn(wd, 'local');
  await wd.waitFor(() => desktop.browserRedirects().length === 3, { what: 'the held redirect' });
  haystacks['ipc (pending)'] = await wd.execute(`return (async () => { ${READ_ALL} })()`);
  await wd.click('#pending .cancel');
  desktop.releaseBrowser('never');
  await ui.waitNotice(wd, 'unknown_state');
  const uma = (await ui.accounts(wd)).find((a) => a.email === 'uma@example.test');
  await wd.execute('return window.__TAURI__.core.invoke("refresh_account", { id: arguments[0] })', uma.id);
  haystacks['ipc (sign-in)'] = await wd.execute(`return (async () => { ${READ_ALL} })()`);
  haystacks['dom (sign-in)'] = await wd.execute('return document.documentElement.outerHTML');
  await desktop.stopApp();

  // Launch refresh, then an on-demand refresh.
  wd = await desktop.startApp();
  await wd.waitFor(async () => (await ui.accounts(wd)).every((a) => a.status === 'ready'), { what: 'launch refresh' });
  await wd.execute('return window.__TAURI__.core.invoke("refresh_account", { id: arguments[0] })', uma.id);
  haystacks['ipc (refresh)'] = await wd.execute(`return (async () => { ${READ_ALL} })()`);
  haystacks['dom (refresh)'] = await wd.execute('return document.documentElement.outerHTML');
  await desktop.stopApp();

  haystacks['app stderr'] = desktop.appLogText();
  const logFile = join(desktop.dataHome, 'dev.latchkey.app/logs/latchkey.log');
  assert.ok(existsSync(logFile), 'the app writes a log file');
  haystacks['log file'] = readFileSync(logFile, 'utf8');
  haystacks.registry = readFileSync(desktop.registryPath(), 'utf8');

  const values = secrets();
  const grants = idp.grants();
  assert.ok(grants.filter((g) => g === 'authorization_code').length === 2, 'two sign-ins');
  assert.ok(grants.filter((g) => g === 'refresh_token').length >= 4, 'launch and on-demand refreshes');
  assert.ok(values.length >= 15, `collected ${values.length} secret values`);
  for (const [where, text] of Object.entries(haystacks)) {
    assert.ok(text.length > 100, `${where} was captured`);
    for (const value of values) {
      assert.ok(!text.includes(value), `a secret (${value.slice(0, 6)}…) appears in ${where}`);
    }
  }
  assert.match(haystacks['ipc (pending)'], /\/auth\?/, 'the pending sign-in link was captured');
});
