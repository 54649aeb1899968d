// Foundation smoke test: the real IdP, the built app under Xvfb through
// tauri-driver + WebKitWebDriver, the real keychain (gnome-keyring on the
// session bus), the browser stand-in, gio and single-instance forwarding.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, CLIENT_ID, providerToml } from './lib/idp.mjs';

let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('smoke');
  desktop.writeProviders(providerToml(idp, { id: 'local-demo', name: 'Local demo' }));
  wd = await desktop.startApp();
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

// Repeats are shown as one notice "×n" (data-count): counted n times.
const noticeCodes = () => wd.execute('return [...document.querySelectorAll("#notices .notice")].flatMap(n => Array(Number(n.dataset.count || 1)).fill(n.dataset.code))');

test('the provider is discovered on the Rust side and shown reachable', async () => {
  const status = await wd.waitFor(
    async () => {
      const s = await wd.execute('return document.querySelector(".provider[data-id=\'local-demo\']")?.dataset.status');
      return s && s !== 'checking' ? s : null;
    },
    { what: 'discovery of local-demo' },
  );
  assert.equal(status, 'reachable');
  assert.equal(await wd.text('.provider[data-id="local-demo"] .name'), 'Local demo');
  assert.equal(await wd.text('.provider[data-id="local-demo"] .issuer'), idp.issuer);
  await desktop.screenshot('provider-reachable');
});

test('the keychain check passes and leaves no probe item behind', async () => {
  const status = await wd.waitFor(
    async () => {
      const s = await wd.execute('return document.getElementById("keychain-status").dataset.status');
      return s && s !== 'checking' ? s : null;
    },
    { what: 'the keychain check' },
  );
  assert.equal(status, 'ok');
  assert.equal(await wd.execute('return getComputedStyle(document.getElementById("keychain-banner")).display'), 'none');
  assert.match(desktop.appLogText(), /keychain usable/);
  assert.deepEqual(desktop.keychainItems(), [], 'the probe item is deleted again');
});

test('a forged callback link reaches the running app through gio and single-instance', async () => {
  const pidsBefore = desktop.appPids();
  assert.equal(pidsBefore.length, 1, 'exactly one app process before the link');
  desktop.gioOpen('dev.latchkey:/oauth/callback?code=x&state=unknown');
  await wd.waitFor(async () => (await noticeCodes()).includes('unknown_state'), { what: 'the unknown-state notice' });
  const message = await wd.text('#notices .notice[data-code="unknown_state"] .message');
  assert.match(message, /matches no sign-in in progress/);
  // The second process handed the link over and exited: still one process, one window.
  await sleep(1000);
  assert.deepEqual(desktop.appPids(), pidsBefore);
  assert.equal(desktop.visibleAppWindows(), 1);
  assert.match(desktop.appLogText(), /second instance forwarded its arguments/);
  // The code never appears in the log.
  assert.doesNotMatch(desktop.appLogText(), /code=x/);
  await desktop.screenshot('unexpected-link');
});

test('the browser stand-in signs in at the real IdP and delivers the redirect through the desktop', async () => {
  const before = (await noticeCodes()).filter((c) => c === 'unknown_state').length;
  desktop.configureBrowser({ login: 'smoke-user', action: 'consent' });
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${idp.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: 'dev.latchkey:/oauth/callback',
    scope: 'openid',
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  // Exactly what the app does later: hand the URL to the OS's default browser.
  desktop.gioOpen(url.toString());
  await wd.waitFor(
    async () => (await noticeCodes()).filter((c) => c === 'unknown_state').length > before,
    { what: 'the redirect to arrive in the app', timeoutMs: 45_000 },
  );
  const launches = desktop.browserLaunches();
  assert.equal(launches.length, 1);
  assert.ok(launches[0].url.startsWith(`${idp.issuer}/auth?`));
  assert.deepEqual(idp.grants(), [], 'nothing was exchanged: no sign-in was in progress');
});
