// Loopback redirects (RFC 8252 §7.3) through the real app: a provider with
// `redirect = "loopback"`, the IdP's native client registered with
// http://127.0.0.1/oauth/callback (oidc-provider lets any port match for a
// native client), the browser stand-in navigating to the app's listener as any
// browser would. The listener lives only while its sign-in is pending.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { closedWithin, listening } from './lib/net.mjs';
import * as ui from './lib/ui.mjs';

let idp;
let desktop;
let wd;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('loopback');
  desktop.writeProviders(providerToml(idp, { id: 'lb', name: 'Loopback IdP', redirect: 'loopback' }));
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
});

/** The redirect URI the newest browser launch was sent (the app's listener). */
function launchedRedirectUri() {
  const url = new URL(desktop.browserLaunches().at(-1).url);
  return new URL(url.searchParams.get('redirect_uri'));
}

const pendingCards = () => wd.execute('return document.querySelectorAll("#pending .pending-card").length');

/** Add account → lb, with the stand-in only recording the launch; resolves to the listener's URI. */
async function startIgnoredSignIn() {
  const launches = desktop.browserLaunches().length;
  desktop.configureBrowser({ action: 'ignore' });
  await ui.startSignIn(wd, 'lb');
  await wd.waitFor(() => desktop.browserLaunches().length === launches + 1, { what: 'the browser launch' });
  await wd.waitFor(async () => (await pendingCards()) === 1, { what: 'the pending card' });
  return launchedRedirectUri();
}

test('a loopback sign-in completes through the browser; the listener closes after it', async () => {
  const started = Date.now();
  desktop.configureBrowser({ login: 'lena', action: 'consent' });
  await ui.startSignIn(wd, 'lb');
  const lena = await ui.waitAccount(wd, 'lena@example.test', { status: 'ready' });
  const signInMs = Date.now() - started;
  // The stand-in records what it saw once its browser is done.
  await wd.waitFor(() => desktop.loopbackAnswers().length === 1 && desktop.browserRedirects().length === 1, { what: 'the stand-in to finish' });
  const uri = launchedRedirectUri();
  assert.equal(uri.hostname, '127.0.0.1', 'the IP literal, never localhost');
  assert.match(uri.port, /^\d+$/);
  assert.equal(uri.pathname, '/oauth/callback');
  assert.ok(desktop.browserRedirects()[0].startsWith(`${uri.href}?`), 'the browser went to the listener');
  // The page the browser got: says so, names the app, carries no secret, loads nothing.
  const [answer] = desktop.loopbackAnswers();
  assert.equal(answer.status, 200);
  assert.match(answer.text, /You are signed in\. You can close this tab and return to Latchkey\./);
  const redirect = new URL(desktop.browserRedirects()[0]);
  for (const name of ['code', 'state', 'iss']) {
    assert.ok(!answer.html.includes(redirect.searchParams.get(name)), `no ${name} in the page`);
  }
  assert.equal(answer.headers['Cache-Control'] ?? answer.headers['cache-control'], 'no-store');
  assert.match(answer.headers['Content-Security-Policy'] ?? answer.headers['content-security-policy'], /^default-src 'none';/);
  // The account: refresh token in the keychain, nothing pending, the port closed.
  const rt = ui.refreshTokenOf(desktop, lena.id);
  assert.ok(rt && rt.length > 20, 'the refresh token is in the keychain');
  // The used request leaves the keychain right after the account is stored.
  await wd.waitFor(() => desktop.keychainSecret('pending-authorizations') === null, { what: 'the used request to leave the keychain' });
  assert.equal(await pendingCards(), 0);
  assert.equal(await listening(Number(uri.port)), false, 'the listener is closed after completion');
  assert.ok(!desktop.appLogText().includes(rt) && !desktop.appLogText().includes(redirect.searchParams.get('code')));
  assert.deepEqual(idp.grants(), ['authorization_code']);
  assert.ok((await ui.notices(wd)).some((n) => n.code === 'signed_in'), 'the same "Signed in" notice as a deep link');
  console.log(`loopback sign-in, click to ready: ${signInMs} ms`);
  await desktop.screenshot('signed-in');
});

test('requests with another state or path neither complete nor end the sign-in, which then completes', async () => {
  const uri = await startIgnoredSignIn();
  const port = Number(uri.port);
  assert.ok(await listening(port), 'the listener is open while the sign-in is pending');
  const forged = await fetch(`${uri.href}?code=forged-code&state=forged-state`);
  assert.equal(forged.status, 400);
  assert.ok(!(await forged.text()).includes('forged'), 'nothing echoed');
  assert.equal((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status, 404);
  assert.ok(await listening(port), 'still listening');
  assert.equal(await pendingCards(), 1, 'still pending');
  assert.equal((await ui.accounts(wd)).length, 1);
  assert.ok(!desktop.appLogText().includes('forged-state'), 'request values are not logged');
  // "Open the browser again": the same request, the same listener, signed in.
  desktop.configureBrowser({ login: 'mia', action: 'consent' });
  await wd.click('#pending .open-again');
  await ui.waitAccount(wd, 'mia@example.test', { status: 'ready' });
  assert.equal(launchedRedirectUri().href, uri.href, 'opened again on the same listener');
  assert.equal(await listening(port), false);
});

test('Cancel closes the listener', async () => {
  const uri = await startIgnoredSignIn();
  assert.ok(await listening(Number(uri.port)));
  await wd.click('#pending .cancel');
  await wd.waitFor(async () => (await pendingCards()) === 0, { what: 'the card to go' });
  await wd.waitFor(async () => !(await listening(Number(uri.port))), { what: 'the port to close' });
  assert.equal(desktop.keychainSecret('pending-authorizations'), null);
});

test('quitting closes the listener; the sign-in is reported cancelled once at the next start, and accounts refresh silently', async () => {
  const uri = await startIgnoredSignIn();
  const refreshesBefore = idp.grants().filter((g) => g === 'refresh_token').length;
  const lenaId = (await ui.accounts(wd)).find((a) => a.email === 'lena@example.test').id;
  const lenaToken = ui.refreshTokenOf(desktop, lenaId);
  await desktop.stopApp();
  // (An exiting process leaves /proc's view of it, which stopApp goes by, a moment
  // before its sockets close: give that moment.)
  assert.ok(await closedWithin(Number(uri.port), 5000), 'no listener outlives the app');
  assert.ok(desktop.keychainSecret('pending-authorizations'), 'the sign-in was still pending');

  const restarted = Date.now();
  wd = await desktop.startApp();
  await ui.waitNotice(wd, 'sign_in_cancelled');
  const [notice] = (await ui.notices(wd)).filter((n) => n.code === 'sign_in_cancelled');
  assert.equal(notice.level, 'warning');
  assert.match(notice.text, /^The sign-in with Loopback IdP was cancelled because the app was closed while it waited for the browser/);
  assert.equal(await pendingCards(), 0);
  assert.equal(desktop.keychainSecret('pending-authorizations'), null);
  // Silent refresh at launch works for accounts signed in through the listener.
  const list = await wd.waitFor(async () => {
    const l = await ui.accounts(wd);
    return l.length === 2 && l.every((a) => a.status === 'ready') ? l : null;
  }, { what: 'both accounts ready after the launch refresh' });
  console.log(`restart to both accounts refreshed: ${Date.now() - restarted} ms`);
  assert.deepEqual(list.map((a) => a.email).sort(), ['lena@example.test', 'mia@example.test']);
  assert.equal(idp.grants().filter((g) => g === 'refresh_token').length, refreshesBefore + 2);
  assert.notEqual(ui.refreshTokenOf(desktop, lenaId), lenaToken, 'the rotated refresh token was stored');
  await desktop.screenshot('after-restart');

  // Shown once: the start after that has nothing to say.
  await desktop.stopApp();
  wd = await desktop.startApp();
  await wd.waitFor(async () => (await ui.accounts(wd)).every((a) => a.status === 'ready'), { what: 'the launch to settle' });
  assert.equal(await ui.countNotices(wd, 'sign_in_cancelled'), 0);
});
