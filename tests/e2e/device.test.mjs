// `latchkey sign-in` with the device grant (RFC 8628) against the real IdP,
// keychain and browser stand-in: the CLI shows a code, the stand-in approves it
// on the IdP's verification page (as a person on another device would), the CLI
// stores the account as the app does. No app running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startCli } from './lib/cli.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const INTERVAL_S = 2; // what the IdP advertises (its default would be none: 5 s)
let idp; // interval 2 s, codes live 10 min
let shortIdp; // codes live 4 s
let desktop;
let secretLog; // every token request and response at `idp` (device codes, tokens)
const outputs = []; // every stderr the CLI wrote, and every stdout but `token`'s (a token is its answer)
const transcript = [];

before(async () => {
  secretLog = join(mkdtempSync(join(tmpdir(), 'latchkey-device-secrets-')), 'token-requests.jsonl');
  idp = await startIdp({ deviceInterval: INTERVAL_S, secretLog });
  shortIdp = await startIdp({ deviceInterval: 1, deviceTtl: 4 });
  desktop = new Desktop('device');
  desktop.writeProviders(`${providerToml(idp)}\n${providerToml(shortIdp, { id: 'short', name: 'Short IdP' })}`);
});

after(async () => {
  await idp?.stop();
  await shortIdp?.stop();
  if (desktop) writeFileSync(join(desktop.resultsDir, 'transcript.txt'), transcript.join('\n'));
});

/**
 * Starts `latchkey ARGS`: { prompt (the first stdout line, parsed), done ({ code, signal, stdout, stderr }), child }.
 */
const start = (args) => startCli(desktop, args, {
  onClose: (_, { code, signal, stdout, stderr }) => {
    const printed = args[0] === 'token' ? '<token>\n' : stdout;
    outputs.push(printed, stderr);
    transcript.push(`$ latchkey ${args.join(' ')}\n${printed}[stderr]\n${stderr}[exit ${code ?? signal}]\n`);
  },
});

/** Runs `latchkey ARGS` to its end. */
const latchkey = (args) => start(args).done;

/** The browser stand-in, in device mode, on `url`; resolves to its exit code. */
function approve(url, config) {
  desktop.configureBrowser({ device: true, ...config });
  return desktop.runBrowser(url);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deviceGrants = (at = idp) => at.grants().filter((g) => g === DEVICE_GRANT).length;
const refreshGrants = () => idp.grants().filter((g) => g === 'refresh_token').length;

test('sign-in --device --json: code on stdout, approval in a browser, account stored with its refresh token and a cached access token', async () => {
  const pollsBefore = idp.devicePolls().length;
  const started = Date.now();
  const run = start(['sign-in', 'local', '--device', '--json']);
  const prompt = await run.prompt;
  assert.deepEqual(Object.keys(prompt).sort(), ['expires_at', 'user_code', 'verification_uri', 'verification_uri_complete']);
  assert.equal(prompt.verification_uri, `${idp.issuer}/device`);
  assert.equal(prompt.verification_uri_complete, `${idp.issuer}/device?user_code=${encodeURIComponent(prompt.user_code)}`);
  assert.match(prompt.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  const left = Date.parse(prompt.expires_at) - started;
  assert.ok(left > 590_000 && left <= 601_000, `the code lives the IdP's 10 minutes (${left} ms)`);

  assert.equal(await approve(prompt.verification_uri_complete, { login: 'dora' }), 0, 'the stand-in saw the success page');
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 0, stderr);
  assert.ok(stderr.includes(`! First copy your one-time code: ${prompt.user_code}`), stderr);
  assert.ok(stderr.includes(`Open ${prompt.verification_uri} in a browser`), stderr);
  assert.match(stderr, /The code expires in 10m \(/);
  assert.match(stderr, /Signed in as dora@example\.test at Local IdP/);

  const [, accountLine, ...rest] = stdout.trim().split('\n');
  assert.deepEqual(rest, [], 'two JSON lines on stdout');
  const account = JSON.parse(accountLine);
  assert.equal(account.email, 'dora@example.test');
  assert.equal(account.provider, 'local');
  assert.equal(account.default, true, 'the first account is the default one');
  const list = JSON.parse((await latchkey(['accounts', '--json'])).stdout);
  assert.deepEqual(list.map((a) => [a.id, a.email]), [[account.id, 'dora@example.test']]);
  const expiresIn = Date.parse(list[0].expires_at) - Date.now();
  assert.ok(expiresIn > 55 * 60_000 && expiresIn <= 3600_000, `accounts shows the cached token's expiry (${list[0].expires_at})`);
  assert.match((await latchkey(['accounts'])).stdout, /dora@example\.test +local +signed in, token expires in (59|60)m/);

  const refreshToken = refreshTokenOf(desktop, account.id);
  assert.ok(refreshToken, 'the refresh token is in the keychain (service dev.latchkey.app)');
  assert.equal((await idp.refreshTokenState(refreshToken)).active, true);
  assert.equal(deviceGrants(), 1, 'the IdP issued exactly one device-code grant');

  const refreshesBefore = refreshGrants();
  const token = await latchkey(['token', account.id, '--min-valid', '5m']);
  assert.equal(token.code, 0, token.stderr);
  assert.deepEqual(await idp.userinfo(token.stdout.trim()), { status: 200, sub: 'dora' });
  assert.equal(refreshGrants(), refreshesBefore, 'the sign-in cached its access token: no refresh');

  // Polite polling: every poll at least the advertised interval after the one before.
  const polls = idp.devicePolls().slice(pollsBefore);
  assert.ok(polls.length >= 2, `${polls.length} polls`);
  assert.deepEqual(polls.map((p) => p.outcome), [...Array(polls.length - 1).fill('authorization_pending'), 'grant']);
  const gaps = polls.slice(1).map((p, i) => p.at - polls[i].at);
  for (const gap of gaps) {
    assert.ok(gap >= INTERVAL_S * 1000 - 150, `polled ${gap} ms after the previous poll (interval ${INTERVAL_S} s)`);
    assert.ok(gap <= INTERVAL_S * 2000 + 1500, `and not much later (${gap} ms)`);
  }
});

test('a denied approval: exit 1 saying so, nothing stored', async () => {
  const keychainBefore = desktop.keychainItems().length;
  const registryBefore = readFileSync(desktop.registryPath(), 'utf8');
  const run = start(['sign-in', 'local', '--device', '--json']);
  const prompt = await run.prompt;
  assert.equal(await approve(prompt.verification_uri, { login: 'eve', action: 'deny', userCode: prompt.user_code }), 0,
    'the stand-in typed the code and aborted');
  const { code, stdout, stderr } = await run.done;
  assert.equal(code, 1, stderr);
  assert.match(stderr, /the sign-in was denied at Local IdP.*nothing was stored/);
  assert.equal(stdout.trim().split('\n').length, 1, 'only the prompt on stdout');
  assert.equal(desktop.keychainItems().length, keychainBefore);
  assert.equal(readFileSync(desktop.registryPath(), 'utf8'), registryBefore);
  assert.equal(deviceGrants(), 1, 'no second grant');
});

test('Ctrl-C stops the polling: exit 130, nothing stored, no poll after it', async () => {
  const run = start(['sign-in', 'local', '--device']);
  const pollsBefore = idp.devicePolls().length;
  await sleep(500);
  const until = Date.now() + 15_000;
  while (idp.devicePolls().length === pollsBefore && Date.now() < until) await sleep(100);
  assert.ok(idp.devicePolls().length > pollsBefore, 'it polled');
  run.child.kill('SIGINT');
  const { code, stderr } = await run.done;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /sign-in cancelled \(Ctrl-C\)/);
  const polls = idp.devicePolls().length;
  await sleep(INTERVAL_S * 1000 + 1000);
  assert.equal(idp.devicePolls().length, polls, 'no poll after the exit');
  assert.equal(JSON.parse((await latchkey(['accounts', '--json'])).stdout).length, 1);
});

test('an expired code exits 1 saying to run again; an unreachable provider exits 4', async () => {
  const started = Date.now();
  const expired = await latchkey(['sign-in', 'short', '--device']);
  assert.equal(expired.code, 1, expired.stderr);
  assert.match(expired.stderr, /the code expired before the sign-in at Short IdP was approved.*run the command again/);
  assert.ok(Date.now() - started < 20_000, 'gave up at the code\'s expiry');
  assert.ok(shortIdp.devicePolls().length >= 2, 'it polled until then');
  assert.equal(deviceGrants(shortIdp), 0);

  idp.down();
  try {
    const down = await latchkey(['sign-in', 'local', '--device']);
    assert.equal(down.code, 4, down.stderr);
    assert.match(down.stderr, /check the connection and run the command again/);
  } finally {
    idp.up();
  }
  const unknown = await latchkey(['sign-in', 'nowhere']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no provider "nowhere" is configured \(configured: local, short\)/);
});

test('sign-in --open (no --device: implied) opens the complete URI in the system browser', async () => {
  desktop.configureBrowser({ login: 'frank' });
  const launchesBefore = desktop.browserLaunches().length;
  const { code, stderr } = await latchkey(['sign-in', 'local', '--open']);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /Opening http:\/\/127\.0\.0\.1:\d+\/device in a browser/);
  assert.match(stderr, /Signed in as frank@example\.test at Local IdP/);
  const launches = desktop.browserLaunches().slice(launchesBefore);
  assert.equal(launches.length, 1, 'one browser launch');
  assert.match(launches[0].url, new RegExp(`^${idp.issuer}/device\\?user_code=[A-Z]{4}-[A-Z]{4}$`));
  const list = JSON.parse((await latchkey(['accounts', '--json'])).stdout);
  assert.deepEqual(list.map((a) => a.email), ['dora@example.test', 'frank@example.test']);
  assert.equal(deviceGrants(), 2);
});

test('no device code, access or refresh token in any output, log or file', () => {
  const secrets = new Set();
  for (const line of readFileSync(secretLog, 'utf8').trim().split('\n')) {
    const { request, response } = JSON.parse(line);
    const code = new URLSearchParams(request).get('device_code');
    if (code) secrets.add(code);
    try {
      const body = JSON.parse(response);
      for (const k of ['access_token', 'refresh_token', 'device_code']) if (body[k]) secrets.add(body[k]);
    } catch { /* not JSON */ }
  }
  assert.ok(secrets.size >= 6, `${secrets.size} secrets seen`);
  for (const text of outputs) for (const s of secrets) assert.ok(!text.includes(s), 'a secret reached the CLI\'s output');
  const walk = (dir) => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) return walk(path);
    return st?.isFile() && !path.includes('keyrings') ? [path] : [];
  });
  for (const file of [...walk(desktop.root), ...walk(desktop.resultsDir)]) {
    const text = readFileSync(file, 'latin1');
    for (const s of secrets) assert.ok(!text.includes(s), `a secret in ${file}`);
  }
});
