// `latchkey sign-in` for a provider with `redirect = "loopback"`: the CLI binds
// the core's listener on 127.0.0.1 itself, opens the system browser (the
// stand-in, registered as the desktop's browser) and waits for the redirect,
// against the real IdP and keychain. No app running. `--no-browser` prints the
// URL for a person to open; Ctrl-C cancels the pending sign-in; `--device`
// still forces the device grant.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCli } from './lib/cli.mjs';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { closedWithin, listening } from './lib/net.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

let idp;
let desktop;
const transcript = [];
const outputs = []; // every stdout and stderr of a sign-in

before(async () => {
  idp = await startIdp({ deviceInterval: 1 });
  desktop = new Desktop('cli-signin');
  desktop.writeProviders(providerToml(idp, { id: 'lb', name: 'Loopback IdP', redirect: 'loopback' }));
});

after(async () => {
  await idp?.stop();
  if (desktop) writeFileSync(join(desktop.resultsDir, 'transcript.txt'), transcript.join('\n'));
});

const start = (args) => startCli(desktop, args, {
  onClose: (_, { code, signal, stdout, stderr }) => {
    const printed = args[0] === 'token' ? '<token>\n' : stdout;
    if (args[0] === 'sign-in') outputs.push(stdout, stderr);
    transcript.push(`$ latchkey ${args.join(' ')}\n${printed}[stderr]\n${stderr}[exit ${code ?? signal}]\n`);
  },
});
const latchkey = (args) => start(args).done;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const grants = (type) => idp.grants().filter((g) => g === type).length;
const accounts = async () => JSON.parse((await latchkey(['accounts', '--json'])).stdout);

/** The listener's port, from the request's redirect_uri. */
function listenerOf(authorizationUrl) {
  const uri = new URL(new URL(authorizationUrl).searchParams.get('redirect_uri'));
  assert.equal(uri.protocol, 'http:');
  assert.equal(uri.hostname, '127.0.0.1', 'the IP literal, never localhost');
  assert.equal(uri.pathname, '/oauth/callback');
  return Number(uri.port);
}

/** Lock files of loopback listeners left in the desktop's runtime folder. */
function listenerLocks(dir = desktop.runtimeDir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listenerLocks(join(dir, e.name)) : (e.name.startsWith('loopback-') ? [e.name] : []));
}

/** Waits until `check()` is truthy (polling), or fails saying `what`. */
async function until(check, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('sign-in --json at a loopback provider: the system browser signs in, back to the CLI\'s listener; account, keychain, cached token; the port closed', async () => {
  desktop.configureBrowser({ login: 'lena', action: 'consent' });
  const launches = desktop.browserLaunches().length;
  const run = start(['sign-in', 'lb', '--json']);
  const { authorization_url: url, ...rest } = await run.prompt;
  assert.deepEqual(rest, {}, 'the first line is {authorization_url} alone');
  assert.ok(url.startsWith(`${idp.issuer}/`), url);
  const port = listenerOf(url);
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 0, stderr);
  assert.ok(stderr.includes(`Open this URL in your browser: ${url}\nOpening it in your browser.`), stderr);
  assert.match(stderr, /✓ Signed in as lena@example\.test at Loopback IdP \(acct-[0-9a-f]+\)\./);
  assert.deepEqual(desktop.browserLaunches().slice(launches).map((l) => l.url), [url], 'the system browser was opened once, on that URL');
  // The stand-in records the page it got once its browser is done (after the CLI may have exited).
  await until(() => desktop.loopbackAnswers().length === 1, 'the stand-in to finish');
  const [answer] = desktop.loopbackAnswers();
  assert.equal(answer.status, 200, 'the browser reached the CLI\'s listener');
  assert.match(answer.text, /You are signed in/);

  const [, accountLine, ...more] = stdout.trim().split('\n');
  assert.deepEqual(more, [], 'two JSON lines on stdout');
  const account = JSON.parse(accountLine);
  assert.equal(account.email, 'lena@example.test');
  assert.equal(account.provider, 'lb');
  assert.deepEqual((await accounts()).map((a) => [a.id, a.email]), [[account.id, 'lena@example.test']]);
  const refreshToken = refreshTokenOf(desktop, account.id);
  assert.ok(refreshToken, 'the refresh token is in the keychain');
  assert.equal((await idp.refreshTokenState(refreshToken)).active, true);
  assert.deepEqual(idp.grants(), ['authorization_code'], 'one code exchange');

  const token = await latchkey(['token', account.id, '--min-valid', '5m']);
  assert.equal(token.code, 0, token.stderr);
  assert.deepEqual(await idp.userinfo(token.stdout.trim()), { status: 200, sub: 'lena' });
  assert.equal(grants('refresh_token'), 0, 'the sign-in cached its access token: no refresh');

  assert.equal(await listening(port), false, 'no listener after the exit');
  assert.equal(desktop.keychainSecret('pending-authorizations'), null, 'nothing pending');
  assert.deepEqual(listenerLocks(), [], 'no listener lock file left');
});

test('sign-in --no-browser prints the URL and opens nothing; a browser on this machine opened by hand completes it', async () => {
  desktop.configureBrowser({ login: 'mia', action: 'consent' });
  const launches = desktop.browserLaunches().length;
  const run = start(['sign-in', 'lb', '--no-browser']);
  const shown = /Open this URL in your browser: (\S+)\n/;
  await until(() => shown.test(run.stderr()), 'the URL on stderr');
  const [, url] = run.stderr().match(shown);
  const port = listenerOf(url);
  assert.match(run.stderr(), new RegExp(`it comes back to http://127\\.0\\.0\\.1:${port}/oauth/callback \\(from another device, use --device\\)`));
  assert.ok(!run.stderr().includes('Opening it'), run.stderr());
  assert.ok(await listening(port), 'the listener is open while it waits');
  await sleep(1000);
  assert.equal(desktop.browserLaunches().length, launches, 'no browser was opened');

  assert.equal(await desktop.runBrowser(url), 0, 'the stand-in signed in and reached the listener');
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 0, stderr);
  assert.equal(stdout, '', 'nothing on stdout without --json');
  assert.match(stderr, /✓ Signed in as mia@example\.test at Loopback IdP/);
  assert.deepEqual((await accounts()).map((a) => a.email), ['lena@example.test', 'mia@example.test']);
  assert.equal(await listening(port), false);
  assert.equal(desktop.keychainSecret('pending-authorizations'), null);
});

test('Ctrl-C while waiting for the browser: exit 130, the listener closed, nothing pending or stored', async () => {
  desktop.configureBrowser({ action: 'ignore' }); // the browser opens and nobody signs in
  const launches = desktop.browserLaunches().length;
  const keychainBefore = desktop.keychainItems().length;
  const run = start(['sign-in', 'lb', '--json']);
  const { authorization_url: url } = await run.prompt;
  const port = listenerOf(url);
  await until(() => desktop.browserLaunches().length === launches + 1, 'the browser launch');
  assert.ok(await listening(port), 'listening');
  assert.ok(desktop.keychainSecret('pending-authorizations'), 'the sign-in is pending in the keychain');

  run.child.kill('SIGINT');
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /sign-in cancelled \(Ctrl-C\): nothing was stored/);
  assert.equal(stdout.trim().split('\n').length, 1, 'only the URL on stdout');
  assert.ok(await closedWithin(port, 2000), 'the listener is closed');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/oauth/callback?code=late&state=late`), 'a late redirect is refused');
  assert.equal(desktop.keychainSecret('pending-authorizations'), null, 'the pending request left the keychain');
  assert.equal(desktop.keychainItems().length, keychainBefore, 'no item added');
  assert.deepEqual(listenerLocks(), [], 'no listener lock file left');
  assert.equal((await accounts()).length, 2);
  assert.deepEqual(idp.grants(), ['authorization_code', 'authorization_code']);
});

test('sign-in --device at a loopback provider uses the device grant', async () => {
  const run = start(['sign-in', 'lb', '--device', '--json']);
  const prompt = await run.prompt;
  assert.deepEqual(Object.keys(prompt).sort(), ['expires_at', 'user_code', 'verification_uri', 'verification_uri_complete']);
  desktop.configureBrowser({ device: true, login: 'nina' });
  assert.equal(await desktop.runBrowser(prompt.verification_uri_complete), 0);
  const { code, stderr } = await run.done;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /! First copy your one-time code/);
  assert.match(stderr, /✓ Signed in as nina@example\.test at Loopback IdP/);
  assert.equal(grants('urn:ietf:params:oauth:grant-type:device_code'), 1);
  assert.equal(grants('authorization_code'), 2, 'no browser sign-in');
});

test('no code, access or refresh token in any sign-in output', async () => {
  const list = await accounts();
  const secrets = list.map((a) => refreshTokenOf(desktop, a.id));
  for (const a of list) secrets.push((await latchkey(['token', a.id])).stdout.trim());
  assert.equal(secrets.filter(Boolean).length, 6);
  for (const text of outputs) for (const s of secrets) assert.ok(!text.includes(s), 'a secret in the output');
  for (const text of outputs) assert.ok(!/[?&]code=/.test(text), 'no authorization code in the output');
});
