// "On another device" from the window (the device grant, RFC 8628) through
// the real app, IdP, keychain and browser stand-in: the window shows a code
// and a page; a person approves on "another device" (the stand-in, run by
// hand on that page); the account appears, refreshed and stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp({ deviceInterval: 1 });
  desktop = new Desktop('device-window');
  desktop.writeProviders(providerToml(idp));
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

const card = '#pending .pending-card[data-device="true"]';

async function startDeviceSignIn() {
  await wd.click('#add-account');
  await wd.waitFor(() => wd.execute('return document.getElementById("provider-picker").open'), { what: 'the provider picker' });
  await wd.execute('const box = document.getElementById("picker-device"); if (!box.checked) box.click();');
  await wd.click('.pick[data-id="local"]');
  await wd.waitFor(() => wd.execute(`return !!document.querySelector('${card} .user-code')`), { what: 'the device code card' });
  const code = await wd.execute(`return document.querySelector('${card} .user-code').textContent`);
  const text = await wd.execute(`return document.querySelector('${card} .small-text').textContent`);
  const page = /Open (\S+) on any device/.exec(text)?.[1];
  return { code, page };
}

test('the window shows a code; approving it elsewhere adds the account', async () => {
  const { code, page } = await startDeviceSignIn();
  assert.match(code, /^[A-Z0-9-]{4,}$/, code);
  assert.ok(page?.startsWith(`${idp.issuer}/device`), page);
  assert.equal(desktop.browserLaunches().length, 0, 'no browser opened on this machine');
  await desktop.screenshot('device-code');
  desktop.configureBrowser({ device: true, login: 'dora', action: 'consent' });
  assert.equal(await desktop.runBrowser(page), 0, 'approved on the other device');
  await ui.waitAccount(wd, 'dora@example.test', { timeoutMs: 30_000 });
  await wd.waitFor(() => wd.execute(`return !document.querySelector('${card}')`), { what: 'the code card to go' });
  await ui.waitNotice(wd, 'signed_in');
  const id = (await ui.accounts(wd)).find((a) => a.email === 'dora@example.test').id;
  assert.ok(refreshTokenOf(desktop, id), 'its refresh token is in the keychain');
  assert.equal(idp.grants().filter((g) => g === DEVICE_GRANT).length, 1);
});

test('a denied code ends the sign-in with a notice; Cancel stops asking the provider', async () => {
  const { page } = await startDeviceSignIn();
  desktop.configureBrowser({ device: true, login: 'eve', action: 'deny' });
  await desktop.runBrowser(page);
  await ui.waitNotice(wd, 'sign_in_cancelled', { timeoutMs: 30_000 });
  await wd.waitFor(() => wd.execute(`return !document.querySelector('${card}')`), { what: 'the code card to go' });
  assert.ok(!(await ui.accounts(wd)).some((a) => a.email === 'eve@example.test'));
  // Cancel: the card goes and the IdP is polled no more.
  await startDeviceSignIn();
  await wd.click(`${card} .cancel`);
  await wd.waitFor(() => wd.execute(`return !document.querySelector('${card}')`), { what: 'the cancelled card to go' });
  const polls = idp.devicePolls().length;
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(idp.devicePolls().length, polls, 'no poll after Cancel');
});
