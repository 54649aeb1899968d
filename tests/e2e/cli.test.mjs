// The `latchkey` command as scripts, git and kubectl run it: real processes
// over the app's accounts file and keychain items (seeded as real grants at
// the real test IdP, stored in the real gnome-keyring), no app running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Desktop, APP_ID } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { CLI_BINARY } from './lib/paths.mjs';
import { seedAccounts } from './lib/seed.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

let idp;
let desktop;
let accounts; // [{ id, login, email, refreshToken }]
const stderrs = []; // every stderr the CLI wrote
const transcript = []; // every run: { file, args, code, stdout, stderr }
const tokensSeen = new Set(); // every access token the CLI printed

before(async () => {
  if (!existsSync(CLI_BINARY)) throw new Error(`${CLI_BINARY} is missing: cargo build -p latchkey-cli`);
  idp = await startIdp();
  desktop = new Desktop('cli');
  desktop.writeProviders(`${providerToml(idp)}
[[git]]
host = "git.example.test"
account = "cli-1@example.test"
`);
  accounts = seedAccounts(desktop, idp, { prefix: 'cli', count: 4 });
  // Two accounts share a label: the label alone is ambiguous.
  const registry = desktop.registry();
  registry.accounts[1].label = 'Shared';
  registry.accounts[2].label = 'Shared';
  writeFileSync(desktop.registryPath(), JSON.stringify(registry));
});

after(async () => {
  await idp?.stop();
  // What each command printed, tokens replaced, for people reading the results.
  const secrets = [...tokensSeen, ...(accounts ?? []).map((a) => a.refreshToken)].filter(Boolean);
  const redact = (text) => secrets.reduce((t, s) => t.replaceAll(s, '<token>'), text);
  const text = transcript.map(({ file, args, code, stdout, stderr }) =>
    `$ ${file === CLI_BINARY ? 'latchkey' : file} ${args.join(' ')}\n${redact(stdout)}[stderr]\n${redact(stderr)}[exit ${code}]\n`);
  if (desktop) writeFileSync(join(desktop.resultsDir, 'transcript.txt'), text.join('\n'));
});

/** Runs `latchkey ARGS` with the desktop's environment; resolves to { code, stdout, stderr }. */
function latchkey(args, { input = '', env = {} } = {}) {
  return run(CLI_BINARY, args, { input, env });
}

function run(file, args, { input = '', env = {} } = {}) {
  return new Promise((resolve) => {
    // Debug logs on: the hygiene test checks that none of them carries a token.
    const child = execFile(file, args, { env: { ...desktop.env, LATCHKEY_LOG: 'debug', ...env }, encoding: 'utf8', timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        stderrs.push(stderr);
        transcript.push({ file, args, code, stdout, stderr });
        resolve({ code, stdout, stderr });
      });
    // A program that exits without reading its stdin closes the pipe first: EPIPE is no failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** The IdP's UserInfo answer for an access token: { status, sub }. */
async function userinfo(token, attempt = 1) {
  try {
    const discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    const res = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, sub: res.status === 200 ? (await res.json()).sub : null };
  } catch (err) {
    // A pooled connection the IdP closed meanwhile ("other side closed"): once more on a new one.
    if (attempt > 1) throw err;
    return userinfo(token, attempt + 1);
  }
}

/**
 * Leaves only the refresh token in an account's keychain item (no cached access token), as an
 * item written before the cache existed: the next `token` refreshes (a token refreshed less than
 * 30 s ago would otherwise be shared with a --min-valid beyond the tokens' lifetime).
 */
function dropCachedToken(id) {
  desktop.storeKeychainItem(id, `lk1:1:${JSON.stringify({ v: 1, refresh_token: refreshTokenOf(desktop, id) })}`);
}

const refreshGrants = () => idp.grants().filter((g) => g === 'refresh_token').length;
const invalidGrants = () => idp.grantErrors().filter((e) => e.includes('invalid_grant')).length;

test('accounts --json lists the seeded accounts; status exits 0 when all are usable', async () => {
  const { code, stdout } = await latchkey(['accounts', '--json']);
  assert.equal(code, 0);
  const list = JSON.parse(stdout);
  assert.deepEqual(list.map((a) => a.id), accounts.map((a) => a.id));
  assert.deepEqual(list.map((a) => a.email), accounts.map((a) => a.email));
  assert.deepEqual(list.map((a) => a.default), [true, false, false, false]);
  assert.ok(list.every((a) => a.provider === 'local' && a.provider_name === 'Local IdP' && a.state === 'signed_in'));
  assert.equal(list[1].label, 'Shared');

  const human = await latchkey(['accounts']);
  assert.equal(human.code, 0);
  for (const a of accounts) assert.match(human.stdout, new RegExp(a.email.replace('.', '\\.')));
  assert.match(human.stdout, /^\* cli-0@example\.test/m, 'the default account is marked');

  const status = await latchkey(['status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.ok(JSON.parse(status.stdout).every((a) => a.keychain === 'present' && a.usable === true));
});

test('token prints an access token the IdP accepts, in each format, and stores the rotated refresh token', async () => {
  const grantsBefore = refreshGrants();
  const raw = await latchkey(['token']);
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(raw.stdout, /^[^\s]+\n$/, 'the token and a newline, nothing else');
  const token = raw.stdout.trim();
  tokensSeen.add(token);
  assert.deepEqual(await userinfo(token), { status: 200, sub: accounts[0].login }, 'the default account');
  assert.ok(refreshGrants() > grantsBefore, 'a refresh at the IdP');
  const stored = refreshTokenOf(desktop, accounts[0].id);
  assert.notEqual(stored, accounts[0].refreshToken, 'the rotated refresh token is in the keychain');
  assert.equal((await idp.refreshTokenState(stored)).active, true);

  const json = await latchkey(['token', 'cli-1@example.test', '--format', 'json', '--min-valid', '5m']);
  assert.equal(json.code, 0, json.stderr);
  const body = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(body).sort(), ['access_token', 'account', 'expires_at', 'token_type']);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.account, accounts[1].id);
  const left = Date.parse(body.expires_at) - Date.now();
  assert.ok(left > 50 * 60_000 && left <= 3600_000 + 5000, `expires in about an hour (${left} ms)`);
  tokensSeen.add(body.access_token);
  assert.deepEqual(await userinfo(body.access_token), { status: 200, sub: accounts[1].login });

  const header = await latchkey(['token', `local:${accounts[0].login}`, '--format', 'header']);
  assert.equal(header.code, 0, header.stderr);
  const [, headerToken] = header.stdout.match(/^Authorization: Bearer (\S+)\n$/) ?? [];
  assert.ok(headerToken, header.stdout);
  tokensSeen.add(headerToken);
  assert.equal((await userinfo(headerToken)).status, 200);
});

test('an unknown or ambiguous ACCOUNT exits 2 and lists the accounts or candidates', async () => {
  const unknown = await latchkey(['token', 'nobody@example.test']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  for (const a of accounts) assert.ok(unknown.stderr.includes(a.id) && unknown.stderr.includes(a.email), unknown.stderr);

  const ambiguous = await latchkey(['token', 'shared']);
  assert.equal(ambiguous.code, 2);
  assert.equal(ambiguous.stdout, '');
  assert.match(ambiguous.stderr, /matches 2 accounts/);
  for (const a of accounts.slice(1, 3)) assert.ok(ambiguous.stderr.includes(a.id) && ambiguous.stderr.includes(a.email));
  assert.ok(ambiguous.stderr.includes('provider local'));
  assert.ok(!ambiguous.stderr.includes(accounts[0].id) && !ambiguous.stderr.includes(accounts[3].id));

  const usage = await latchkey(['token', '--min-valid', 'soon']);
  assert.equal(usage.code, 2, 'a bad duration is a usage error');
});

test('exec-credential writes the ExecCredential kubectl asks for', async () => {
  const { code, stdout, stderr } = await latchkey(['exec-credential', 'cli-1@example.test']);
  assert.equal(code, 0, stderr);
  const credential = JSON.parse(stdout);
  assert.equal(credential.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(credential.kind, 'ExecCredential');
  assert.deepEqual(Object.keys(credential.status).sort(), ['expirationTimestamp', 'token']);
  assert.match(credential.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339');
  assert.ok(Date.parse(credential.status.expirationTimestamp) > Date.now() + 50 * 60_000);
  tokensSeen.add(credential.status.token);
  assert.deepEqual(await userinfo(credential.status.token), { status: 200, sub: accounts[1].login });

  const execInfo = (apiVersion) => JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
  const beta = await latchkey(['exec-credential', 'cli-1@example.test'],
    { env: { KUBERNETES_EXEC_INFO: execInfo('client.authentication.k8s.io/v1beta1') } });
  assert.equal(beta.code, 0, beta.stderr);
  assert.equal(JSON.parse(beta.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1', 'the version asked for');
  tokensSeen.add(JSON.parse(beta.stdout).status.token);

  const grantsBefore = refreshGrants();
  const alpha = await latchkey(['exec-credential', 'cli-1@example.test'],
    { env: { KUBERNETES_EXEC_INFO: execInfo('client.authentication.k8s.io/v1alpha1') } });
  assert.equal(alpha.code, 2);
  assert.equal(alpha.stdout, '');
  assert.match(alpha.stderr, /v1alpha1.*apiVersion: client\.authentication\.k8s\.io\/v1/s);
  assert.equal(refreshGrants(), grantsBefore, 'refused before any refresh');
});

test('git credential fill gets the mapped account\'s token from the helper; unmapped hosts and store/erase get nothing', async () => {
  const git = (args, input, env = {}) => run('git', args, {
    input, env: { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', ...env },
  });
  const helper = ['-c', 'credential.helper=', '-c', `credential.helper=${CLI_BINARY} git-credential`];

  // Mapped in the providers file's [[git]] table.
  const filled = await git([...helper, 'credential', 'fill'], 'protocol=https\nhost=git.example.test\npath=team/repo.git\n\n');
  assert.equal(filled.code, 0, filled.stderr);
  const answer = Object.fromEntries(filled.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  assert.equal(answer.username, 'oauth2');
  tokensSeen.add(answer.password);
  assert.deepEqual(await userinfo(answer.password), { status: 200, sub: accounts[1].login });
  const expiry = Number(answer.password_expiry_utc) * 1000;
  assert.ok(expiry > Date.now() + 50 * 60_000, `password_expiry_utc ${answer.password_expiry_utc}`);

  // Mapped by `configure` (git.toml), used through the `!` form.
  const configured = await latchkey(['git-credential', 'configure', 'code.example.test', `local:${accounts[2].login}`, '--username', 'x-token']);
  assert.equal(configured.code, 0, configured.stderr);
  const gitToml = join(desktop.configHome, APP_ID, 'git.toml');
  assert.match(readFileSync(gitToml, 'utf8'), /host = "code\.example\.test"/);
  const bang = ['-c', 'credential.helper=', '-c', `credential.helper=!${CLI_BINARY} git-credential`];
  const second = await git([...bang, 'credential', 'fill'], 'url=https://code.example.test/x.git\n\n');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^username=x-token$/m);
  const password = second.stdout.match(/^password=(.*)$/m)[1];
  tokensSeen.add(password);
  assert.deepEqual(await userinfo(password), { status: 200, sub: accounts[2].login });

  // Not ours: no answer, exit 0 (git goes on to its next helper).
  const unmapped = await latchkey(['git-credential', 'get'], { input: 'protocol=https\nhost=elsewhere.example.test\n\n' });
  assert.deepEqual([unmapped.code, unmapped.stdout], [0, '']);
  // store and erase keep nothing and answer nothing.
  const keychainBefore = desktop.keychainItems().length;
  const gitTomlBefore = readFileSync(gitToml, 'utf8');
  for (const op of ['store', 'erase']) {
    const r = await latchkey(['git-credential', op], { input: `protocol=https\nhost=git.example.test\nusername=oauth2\npassword=${answer.password}\n\n` });
    assert.deepEqual([r.code, r.stdout], [0, ''], op);
  }
  assert.equal(desktop.keychainItems().length, keychainBefore);
  assert.equal(readFileSync(gitToml, 'utf8'), gitTomlBefore);
  const stillThere = await latchkey(['token', accounts[1].id]);
  assert.equal(stillThere.code, 0, 'erase signed nobody out');
  tokensSeen.add(stillThere.stdout.trim());
});

test('a revoked grant: token exits 3 naming sign-in, git stops without a prompt, status exits 3', async () => {
  const victim = accounts[2];
  await idp.revoke(refreshTokenOf(desktop, victim.id));
  dropCachedToken(victim.id);
  const r = await latchkey(['token', victim.email, '--min-valid', '2h']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /sign in again/i);
  assert.match(r.stderr, /Latchkey app/);
  assert.ok(invalidGrants() >= 1, 'the IdP answered invalid_grant');
  assert.equal(desktop.keychainSecret(victim.id), null, 'the dead refresh token is deleted');
  assert.equal(desktop.registry().accounts.find((a) => a.id === victim.id).status, 'needs_sign_in');

  // code.example.test maps to this account: git is told to quit; the next helper is never asked.
  const second = '!f() { echo username=second; echo password=from-the-second-helper; }; f';
  const git = await run('git', ['-c', 'credential.helper=', '-c', `credential.helper=${CLI_BINARY} git-credential`,
    '-c', `credential.helper=${second}`, 'credential', 'fill'], {
    input: 'protocol=https\nhost=code.example.test\n\n', env: { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
  });
  assert.notEqual(git.code, 0);
  assert.ok(!git.stdout.includes('from-the-second-helper'), 'quit=1 stopped git');
  assert.match(git.stderr, /sign in again/i);

  const status = await latchkey(['status']);
  assert.equal(status.code, 3);
  assert.match(status.stderr, /1 of 4 accounts need to sign in again/);
});

test('the IdP unreachable or answering a non-OAuth page: token exits 4 and the refresh token is kept', async () => {
  const account = accounts[0];
  dropCachedToken(account.id);
  const before = refreshTokenOf(desktop, account.id);
  idp.down();
  try {
    const r = await latchkey(['token', account.email, '--min-valid', '2h']);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /kept/);
    assert.match(r.stderr, /try again/);
  } finally {
    idp.up();
  }
  assert.equal(refreshTokenOf(desktop, account.id), before, 'the refresh token is still in the keychain');
  await idp.setTokenMode('html-403');
  try {
    const r = await latchkey(['token', account.email, '--min-valid', '2h']);
    assert.equal(r.code, 4, r.stderr);
  } finally {
    await idp.setTokenMode('normal');
  }
  assert.equal(refreshTokenOf(desktop, account.id), before);
  assert.equal((await idp.refreshTokenState(before)).active, true, 'and still valid at the IdP');
  const again = await latchkey(['token', account.email]);
  assert.equal(again.code, 0, again.stderr);
  tokensSeen.add(again.stdout.trim());
});

test('no usable keychain: token and status exit 5 and say to unlock it', async () => {
  const noBus = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(desktop.root, 'no-such-bus')}` };
  const grantsBefore = refreshGrants();
  for (const args of [['token', accounts[0].email], ['status']]) {
    const r = await latchkey(args, { env: noBus });
    assert.equal(r.code, 5, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /keychain is not available.*unlock the system keychain/s);
    assert.match(r.stderr, /set LATCHKEY_VAULT=file to use an encrypted file vault/, 'the explicit alternative');
  }
  assert.equal(refreshGrants(), grantsBefore, 'no refresh without the refresh token');
});

test('the access-token cache in the keychain item: a second token run makes no token request at the IdP', async () => {
  const account = accounts[1];
  // Longer than the IdP's 1 h tokens: this run refreshes whatever the cache holds.
  const first = await latchkey(['token', account.email, '--min-valid', '2h']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /expires sooner than --min-valid/, 'said on stderr, token still printed');
  const grantsBefore = refreshGrants();
  const second = await latchkey(['token', account.email, '--min-valid', '5m']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(refreshGrants(), grantsBefore, 'no refresh grant for the second run');
  assert.equal(second.stdout, first.stdout, 'the token the first run cached');
  const json = JSON.parse((await latchkey(['token', account.email, '--format', 'json'])).stdout);
  assert.equal(json.access_token, first.stdout.trim());
  assert.ok(Date.parse(json.expires_at) > Date.now() + 50 * 60_000, 'with its expiry');
  assert.equal(refreshGrants(), grantsBefore);
  tokensSeen.add(second.stdout.trim());
  assert.equal((await userinfo(second.stdout.trim())).status, 200);
});

test('20 parallel token processes asking for longer than tokens live share one refresh: no invalid_grant, the refresh token still works', async () => {
  const account = accounts[0];
  dropCachedToken(account.id);
  const invalidBefore = invalidGrants();
  const grantsBefore = refreshGrants();
  // --min-valid longer than the IdP's 1 h tokens: no cached token meets it, and no refresh
  // can either: the first process to hold the account's lock refreshes, the others take its token.
  const runs = await Promise.all(Array.from({ length: 20 }, () => latchkey(['token', account.email, '--min-valid', '2h'])));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const served = refreshGrants() - grantsBefore;
  console.log(`# refresh grants for 20 parallel latchkey token --min-valid 2h: ${served}`);
  assert.equal(served, 1, 'one rotation for 20 processes');
  for (const r of runs) tokensSeen.add(r.stdout.trim());
  assert.equal(new Set(runs.map((r) => r.stdout)).size, 1, 'every process printed the same token');
  assert.equal(invalidGrants(), invalidBefore, 'no refresh token was presented twice');
  const stored = refreshTokenOf(desktop, account.id);
  assert.equal((await idp.refreshTokenState(stored)).active, true);
  const after = await latchkey(['token', account.email, '--min-valid', '2h']);
  assert.equal(after.code, 0, after.stderr);
  assert.equal((await userinfo(after.stdout.trim())).status, 200);
});

test('default and sign-out change the accounts as the app would', async () => {
  const made = await latchkey(['default', accounts[1].email]);
  assert.equal(made.code, 0, made.stderr);
  const t = await latchkey(['token']);
  assert.equal(t.code, 0, t.stderr);
  tokensSeen.add(t.stdout.trim());
  assert.equal((await userinfo(t.stdout.trim())).sub, accounts[1].login, 'the new default account');

  const leaving = accounts[3];
  const stored = refreshTokenOf(desktop, leaving.id);
  const out = await latchkey(['sign-out', leaving.id]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /revoked/);
  assert.equal(desktop.keychainSecret(leaving.id), null);
  assert.equal((await idp.refreshTokenState(stored)).active, false, 'revoked at the IdP');
  const list = JSON.parse((await latchkey(['accounts', '--json'])).stdout);
  assert.ok(!list.some((a) => a.id === leaving.id));
});

test('no token in any log line, and none in any file of the desktop', () => {
  const secrets = [...tokensSeen, ...accounts.map((a) => a.refreshToken)].filter(Boolean);
  assert.ok(tokensSeen.size > 3, `${tokensSeen.size} tokens to look for`);
  for (const stderr of stderrs) {
    for (const s of secrets) assert.ok(!stderr.includes(s), 'a token reached stderr');
  }
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(path);
      else if (st?.isFile() && !path.includes('keyrings')) files.push(path);
    }
  };
  walk(desktop.root);
  for (const file of files) {
    const text = readFileSync(file, 'latin1');
    for (const s of secrets) assert.ok(!text.includes(s), `a token in ${file}`);
  }
});
