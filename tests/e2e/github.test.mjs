// The `github` preset against a GitHub-shaped server (tests/idp/github.mjs:
// GitHub cannot be reached from here; the server reproduces its documented
// quirks — no discovery or ID token, identity from GET /user, errors with
// HTTP 200, comma scopes, a client secret for the web flow). Two servers: an
// OAuth App (tokens never expire, no refresh token) and a GitHub App (8 h
// tokens, single-use rotating refresh tokens, `bad_refresh_token`). Sign-in
// through the real app's window and through the CLI, the loopback redirect,
// the real keychain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_BINARY } from './lib/paths.mjs';
import { startCli } from './lib/cli.mjs';
import { Desktop, sleep } from './lib/desktop.mjs';
import { GITHUB_CLIENT_SECRET, githubToml, startGithub } from './lib/github.mjs';
import * as ui from './lib/ui.mjs';

let oauthApp;
let githubApp;
let desktop;
let wd;
const transcript = [];

before(async () => {
  oauthApp = await startGithub('oauth-app');
  githubApp = await startGithub('github-app');
  desktop = new Desktop('github');
  desktop.writeProviders(`# GitHub, modelled locally\n${githubToml(oauthApp, { id: 'gh', name: 'GitHub' })}\n${githubToml(githubApp, { id: 'ghapp', name: 'GitHub App' })}`);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await oauthApp?.stop();
  await githubApp?.stop();
  if (desktop) writeFileSync(join(desktop.resultsDir, 'transcript.txt'), transcript.join('\n'));
});

const latchkey = async (args, { input } = {}) => {
  if (input !== undefined) {
    const r = spawnSync(CLI_BINARY, args, { env: desktop.env, input, encoding: 'utf8' });
    transcript.push(`$ latchkey ${args.join(' ')} <<< <secret>\n${r.stdout}[stderr]\n${r.stderr}[exit ${r.status}]\n`);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const result = await startCli(desktop, args).done;
  transcript.push(`$ latchkey ${args.join(' ')}\n${args[0] === 'token' ? '<token>\n' : result.stdout}[stderr]\n${result.stderr}[exit ${result.code}]\n`);
  return result;
};

/** The text of one of our (unchunked) keychain items, without the vault's `lk1:<parts>:` head. */
function vaultText(key) {
  const raw = desktop.keychainSecret(key);
  const [, , text] = raw?.match(/^lk1:(\d+):([\s\S]*)$/) ?? [];
  return text ?? null;
}

/** The JSON of an account's keychain item. */
const itemOf = (accountId) => JSON.parse(vaultText(accountId) ?? 'null');

test('without its client secret a sign-in stops before the browser and says how to add it', async () => {
  const launches = desktop.browserLaunches().length;
  const { code, stderr } = await latchkey(['sign-in', 'gh', '--no-browser']);
  assert.notEqual(code, 0);
  assert.match(stderr, /needs its client secret.*latchkey client-secret gh/s, stderr);
  assert.equal(desktop.browserLaunches().length, launches, 'no browser opened');
});

test('client-secret stores the secret in the keychain only', async () => {
  for (const id of ['gh', 'ghapp']) {
    const { code, stderr } = await latchkey(['client-secret', id], { input: `${GITHUB_CLIENT_SECRET}\n` });
    assert.equal(code, 0, stderr);
    assert.equal(vaultText(`client-secret.${id}`), GITHUB_CLIENT_SECRET);
    assert.ok(!stderr.includes(GITHUB_CLIENT_SECRET));
  }
});

test('OAuth App: signed in through the window, named from /user, ready with a token that does not expire', async () => {
  wd = await desktop.startApp();
  desktop.configureBrowser({ login: 'octocat', action: 'consent' });
  await ui.startSignIn(wd, 'gh');
  const card = await wd.waitFor(async () => (await ui.accounts(wd)).find((a) => a.provider === 'GitHub' && a.status === 'ready'), {
    what: 'the GitHub account',
  });
  assert.equal(card.name, 'The Octocat', 'named from GET /user, not by its id');
  const notice = (await ui.notices(wd)).find((n) => n.code === 'signed_in');
  assert.match(notice.text, /Signed in as The Octocat at GitHub/);
  const detail = await wd.execute(`return document.querySelector('.account[data-id="${card.id}"] .detail').textContent`);
  assert.match(detail, /token does not expire/);
  assert.deepEqual(oauthApp.grants(), ['authorization_code'], 'one code exchange');
  assert.deepEqual(oauthApp.grantErrors(), []);

  // The key is GitHub's numeric id; the grant is the access token itself.
  const [account] = desktop.registry().accounts.filter((a) => a.provider_id === 'gh');
  assert.equal(account.subject, '583231');
  assert.equal(account.username, 'octocat');
  assert.equal(account.never_expires, true);
  const item = itemOf(account.id);
  assert.match(item.access_token, /^gho_/);
  assert.equal(item.refresh_token, undefined, 'no refresh token was issued');
  assert.equal(item.access_expires_at, undefined);

  // The CLI hands out that token with no request at all.
  const calls = oauthApp.userCalls().length;
  const token = await latchkey(['token', 'gh:octocat', '--min-valid', '24h']);
  assert.equal(token.code, 0, token.stderr);
  assert.equal(token.stdout.trim(), item.access_token);
  assert.equal(oauthApp.userCalls().length, calls);
  const status = await latchkey(['status']);
  assert.match(status.stdout, /ready, token does not expire/);
});

test('OAuth App: a restart refreshes nothing and schedules nothing', async () => {
  await desktop.stopApp();
  wd = await desktop.startApp();
  await wd.waitFor(async () => (await ui.accounts(wd)).some((a) => a.provider === 'GitHub' && a.status === 'ready'), { what: 'the account ready again' });
  await sleep(3000);
  assert.deepEqual(oauthApp.grants(), ['authorization_code'], 'no token request after the restart');
});

test('GitHub App: CLI sign-in through the loopback redirect; refresh rotates the single-use token; the old one is dead', async () => {
  desktop.configureBrowser({ login: 'hubot', action: 'consent' });
  const signIn = await latchkey(['sign-in', 'ghapp']);
  assert.equal(signIn.code, 0, signIn.stderr);
  // No name and no email: the user name names it.
  assert.match(signIn.stderr, /✓ Signed in as hubot at GitHub App/);
  const account = desktop.registry().accounts.find((a) => a.provider_id === 'ghapp');
  assert.equal(account.subject, '7');
  assert.ok(!account.never_expires);
  assert.deepEqual(account.scopes, ['read:user'], 'comma-separated scopes read back');
  const first = itemOf(account.id).refresh_token;
  assert.match(first, /^ghr_/);

  // 8 h tokens: asking for 9 h refreshes once, with the client secret. (A
  // token obtained in the last 30 s counts as fresh as a refresh would make
  // it — the parallel-processes rule — so the cache goes first.)
  const { access_token: _a, access_expires_at: _e, access_obtained_at_ms: _o, ...noCache } = itemOf(account.id);
  desktop.storeKeychainItem(account.id, `lk1:1:${JSON.stringify(noCache)}`);
  const token = await latchkey(['token', 'ghapp:hubot', '--min-valid', '9h']);
  assert.equal(token.code, 0, token.stderr);
  assert.deepEqual(githubApp.grants(), ['authorization_code', 'refresh_token']);
  const second = itemOf(account.id).refresh_token;
  assert.ok(second && second !== first, 'the rotated refresh token was stored');
  assert.equal(itemOf(account.id).access_token, token.stdout.trim());

  // The window shows the account named by its user name.
  await wd.waitFor(async () => (await ui.accounts(wd)).some((a) => a.provider === 'GitHub App' && a.name === 'hubot'), {
    what: 'hubot in the window',
  });

  // Again: the stored (rotated) token works; the first one was single-use.
  const { access_token: _b, access_expires_at: _f, access_obtained_at_ms: _p, ...noCache2 } = itemOf(account.id);
  desktop.storeKeychainItem(account.id, `lk1:1:${JSON.stringify(noCache2)}`);
  const again = await latchkey(['token', 'ghapp:hubot', '--min-valid', '9h']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(githubApp.grantErrors(), [], 'never a reused refresh token');
  const reuse = await fetch(`${githubApp.base}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first, client_id: 'Iv1.latchkeytest', client_secret: GITHUB_CLIENT_SECRET }),
  });
  assert.equal(reuse.status, 200, 'GitHub answers errors with 200');
  assert.equal((await reuse.json()).error, 'bad_refresh_token');
});

test('GitHub App: bad_refresh_token is GitHub\'s invalid_grant: the account needs sign-in, nothing else is touched', async () => {
  const account = desktop.registry().accounts.find((a) => a.provider_id === 'ghapp');
  const item = itemOf(account.id);
  // A refresh token the server never issued (as after a revocation on github.com).
  const planted = JSON.stringify({ ...item, refresh_token: 'ghr_revoked', access_expires_at: 1 });
  desktop.storeKeychainItem(account.id, `lk1:1:${planted}`);
  const dead = await latchkey(['token', 'ghapp:hubot']);
  assert.equal(dead.code, 3, `exit 3 = needs sign-in: ${dead.stderr}`);
  assert.match(dead.stderr, /needs to sign in again/);
  assert.ok(!dead.stderr.includes('missing from the keychain'), dead.stderr);
  assert.ok(githubApp.grantErrors().includes('bad_refresh_token'));
  const other = await latchkey(['token', 'gh:octocat']);
  assert.equal(other.code, 0, 'the OAuth App account is untouched');
});

test('the client secret appears in no log, file or window', async () => {
  const texts = [desktop.appLogText(), transcript.join('\n'), await wd.execute('return document.documentElement.outerHTML')];
  for (const file of [desktop.registryPath(), join(desktop.configHome, 'dev.latchkey.app', 'providers.toml')]) {
    if (existsSync(file)) texts.push(readFileSync(file, 'utf8'));
  }
  for (const text of texts) assert.ok(!text.includes(GITHUB_CLIENT_SECRET), 'secret leaked');
});
