// git itself with `latchkey git-credential` as its credential helper: clone,
// commit, push and ls-remote over smart HTTP against `git http-backend` behind
// HTTP Basic authentication that takes only one account's access token (the
// test IdP's UserInfo decides). git's configuration lives in the test's
// throwaway HOME (GIT_CONFIG_GLOBAL, no system file): the developer's own git
// configuration is never read or touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startGitServer } from './lib/git-server.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { CLI_BINARY } from './lib/paths.mjs';
import { seedAccounts } from './lib/seed.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

let idp;
let desktop;
let accounts; // [0] the default, [1] the repository's owner, [2] revoked later
let server; // accepts only accounts[1]'s token
let other; // a second server on another port: a host nobody mapped at first
let root;
let env;
const tokensSeen = new Set();

/** Runs a program in the test's git environment: { code, stdout, stderr }. */
function run(file, args, { input = '' } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
    // A program that exits without reading its stdin (git) closes the pipe first: EPIPE is no failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

const git = (...args) => run('git', args);
const latchkey = (...args) => run(CLI_BINARY, args);

async function must(...args) {
  const r = await git(...args);
  assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r;
}

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('git');
  desktop.writeProviders(providerToml(idp));
  accounts = seedAccounts(desktop, idp, { prefix: 'git', count: 3 });
  root = join(desktop.root, 'git-server');
  mkdirSync(root, { recursive: true });
  env = { ...desktop.env };
  for (const v of ['GIT_ASKPASS', 'SSH_ASKPASS', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS']) delete env[v];
  Object.assign(env, {
    // `latchkey` by name, as people configure it.
    PATH: `${dirname(CLI_BINARY)}${delimiter}${desktop.env.PATH}`,
    GIT_CONFIG_GLOBAL: join(desktop.home, '.gitconfig'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    // A stalled transfer fails within seconds instead of hanging the suite.
    GIT_HTTP_LOW_SPEED_LIMIT: '1',
    GIT_HTTP_LOW_SPEED_TIME: '15',
  });
  await must('config', '--global', 'credential.helper', '!latchkey git-credential');
  await must('config', '--global', 'user.name', 'Test');
  await must('config', '--global', 'user.email', 'test@example.test');
  await must('config', '--global', 'init.defaultBranch', 'main');
  const work = join(root, 'seed');
  await must('init', '-q', work);
  writeFileSync(join(work, 'README'), 'served by git http-backend\n');
  await must('-C', work, 'add', 'README');
  await must('-C', work, 'commit', '-q', '-m', 'first');
  await must('clone', '-q', '--bare', work, join(root, 'repo.git'));
  const onlyOwner = async (username, password) => {
    const { status, sub } = await idp.userinfo(password);
    return username === 'oauth2' && status === 200 && sub === accounts[1].login ? sub : null;
  };
  server = await startGitServer({ root, authorize: onlyOwner });
  other = await startGitServer({ root, authorize: onlyOwner });
});

after(async () => {
  await server?.stop();
  await other?.stop();
  await idp?.stop();
});

test('clone, commit and push through the helper: the server takes the mapped account\'s token', async () => {
  const configured = await latchkey('git-credential', 'configure', server.url, accounts[1].email);
  assert.equal(configured.code, 0, configured.stderr);
  const clone = join(desktop.root, 'clone');
  await must('clone', '-q', `${server.url}/repo.git`, clone);
  assert.equal(readFileSync(join(clone, 'README'), 'utf8'), 'served by git http-backend\n');
  writeFileSync(join(clone, 'CHANGES'), 'pushed through latchkey\n');
  await must('-C', clone, 'add', 'CHANGES');
  await must('-C', clone, 'commit', '-q', '-m', 'second');
  const push = await must('-C', clone, 'push', '-q', 'origin', 'main');
  assert.doesNotMatch(push.stderr, /latchkey:/, 'the helper had nothing to say');
  const head = (await must('-C', clone, 'rev-parse', 'HEAD')).stdout.trim();
  // The push reached the server's repository, and a fetch over HTTP sees it.
  assert.equal((await must('--git-dir', join(root, 'repo.git'), 'rev-parse', 'main')).stdout.trim(), head);
  const remote = await must('-C', clone, 'ls-remote', 'origin', 'refs/heads/main');
  assert.equal(remote.stdout.split('\t')[0], head);
  await must('-C', clone, 'fetch', '-q', 'origin');

  assert.deepEqual(server.errors, []);
  assert.equal(server.refused(), 0, 'the first token offered was accepted every time');
  assert.ok(server.users.length >= 4, `clone, push, ls-remote and fetch authorized (${server.users.length})`);
  assert.ok(server.users.every((u) => u === accounts[1].login), `${server.users}`);
  const token = await latchkey('token', accounts[1].email);
  assert.equal(token.code, 0, token.stderr);
  tokensSeen.add(token.stdout.trim());
});

test('after the successes git called store: no credential file, nothing in git\'s configuration', async () => {
  for (const file of ['.git-credentials', '.config/git/credentials', '.git-credential-cache']) {
    assert.equal(existsSync(join(desktop.home, file)), false, `~/${file}`);
  }
  assert.equal(existsSync(join(desktop.configHome, 'git', 'credentials')), false, '$XDG_CONFIG_HOME/git/credentials');
  const config = readFileSync(env.GIT_CONFIG_GLOBAL, 'utf8');
  assert.doesNotMatch(config, /password|oauth2/);
  assert.equal(desktop.keychainItems().length, accounts.length, 'one keychain item per account, nothing added');
});

test('a host mapped to an account the server refuses: git fails, Latchkey names the account and the fix', async () => {
  // The same server under another host name, mapped to the default account.
  const url = server.url.replace('127.0.0.1', 'localhost');
  const configured = await latchkey('git-credential', 'configure', url, accounts[0].email);
  assert.equal(configured.code, 0, configured.stderr);
  const refusedBefore = server.refused();
  const clone = await git('clone', '-q', `${url}/repo.git`, join(desktop.root, 'wrong'));
  assert.notEqual(clone.code, 0);
  assert.ok(server.refused() > refusedBefore, 'the server saw and refused the token');
  assert.match(clone.stderr, /Authentication failed/);
  assert.match(clone.stderr, new RegExp(`latchkey: http://localhost:\\d+ refused the token of ${accounts[0].email.replace('.', '\\.')}`));
  assert.match(clone.stderr, /latchkey git-credential configure localhost:\d+ ACCOUNT/);
  assert.doesNotMatch(clone.stderr, /terminal prompts disabled/, 'git did not try to ask for a password');
  // git's erase after the refusal signed nobody out.
  const still = await latchkey('token', accounts[0].email);
  assert.equal(still.code, 0, still.stderr);
  tokensSeen.add(still.stdout.trim());
});

test('an unmapped host: Latchkey answers nothing and git fails without a prompt', async () => {
  const clone = await git('clone', '-q', `${other.url}/repo.git`, join(desktop.root, 'unmapped'));
  assert.notEqual(clone.code, 0);
  assert.match(clone.stderr, /could not read Username for 'http:\/\/127\.0\.0\.1:\d+': terminal prompts disabled/);
  assert.doesNotMatch(clone.stderr, /latchkey:/);
  assert.deepEqual(other.users, []);
  assert.equal(other.refused(), 0, 'no credential was sent');
});

test('a revoked account: git stops with Latchkey\'s "sign in again", no prompt, no token sent', async () => {
  const victim = accounts[2];
  const configured = await latchkey('git-credential', 'configure', other.url, victim.email);
  assert.equal(configured.code, 0, configured.stderr);
  await idp.revoke(refreshTokenOf(desktop, victim.id));
  const clone = await git('clone', '-q', `${other.url}/repo.git`, join(desktop.root, 'revoked'));
  assert.notEqual(clone.code, 0);
  assert.match(clone.stderr, /sign in again/i);
  assert.match(clone.stderr, new RegExp(`no git credential for 127\\.0\\.0\\.1:\\d+ \\(${victim.email.replace('.', '\\.')}\\)`));
  assert.doesNotMatch(clone.stderr, /terminal prompts disabled/, 'quit=1 stopped git before any prompt');
  assert.deepEqual(other.users, []);
  assert.equal(other.refused(), 0, 'no credential was sent');
});

test('no token in any file of the desktop but the keychain', () => {
  const secrets = [...tokensSeen, ...accounts.map((a) => a.refreshToken)];
  assert.ok(tokensSeen.size >= 2);
  const walk = (dir) => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) return path.includes('keyrings') ? [] : walk(path);
    return st?.isFile() ? [path] : [];
  });
  for (const file of walk(desktop.root)) {
    const text = readFileSync(file, 'latin1');
    for (const s of secrets) assert.ok(!text.includes(s), `a token in ${file}`);
  }
});
