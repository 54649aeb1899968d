// kubectl itself with `latchkey exec-credential` as its exec credential
// plugin, against a stand-in Kubernetes API server that takes only tokens the
// test IdP accepts: the accounts seeded as real grants, the real keychain, no
// app running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { startKubeServer, POD_NAME } from './lib/kube-server.mjs';
import { CLI_BINARY } from './lib/paths.mjs';
import { seedAccounts } from './lib/seed.mjs';
import { refreshTokenOf } from './lib/ui.mjs';

// scripts/common.sh installs Debian's kubernetes-client when no kubectl is on PATH.
const KUBECTL = process.env.LATCHKEY_KUBECTL || 'kubectl';

let idp;
let desktop;
let kube;
let accounts;
let apiVersion;
let kubeconfig;

/** The exec apiVersion this kubectl speaks: v1 from 1.22 on, v1beta1 before (Debian 12 ships 1.20). */
function execApiVersion() {
  const { clientVersion } = JSON.parse(execFileSync(KUBECTL, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }));
  const minor = Number.parseInt(clientVersion.minor, 10);
  console.log(`# ${KUBECTL}: ${clientVersion.gitVersion}`);
  return minor >= 22 ? 'client.authentication.k8s.io/v1' : 'client.authentication.k8s.io/v1beta1';
}

/** A kubeconfig whose users get their token from `latchkey exec-credential ACCOUNT` (found on PATH). */
function writeKubeconfig(file, server, ca, users) {
  const interactive = apiVersion.endsWith('/v1') ? '      interactiveMode: Never\n' : '';
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${server}
    certificate-authority-data: ${Buffer.from(ca).toString('base64')}
contexts:
${users.map(({ name }) => `- name: ${name}
  context:
    cluster: test
    user: ${name}
    namespace: default`).join('\n')}
current-context: ${users[0].name}
users:
${users.map(({ name, account }) => `- name: ${name}
  user:
    exec:
      apiVersion: ${apiVersion}
      command: latchkey
      args: [exec-credential, "${account}"]
${interactive}`).join('')}`;
  writeFileSync(file, yaml);
}

before(async () => {
  apiVersion = execApiVersion();
  idp = await startIdp();
  desktop = new Desktop('kubectl');
  desktop.writeProviders(providerToml(idp));
  accounts = seedAccounts(desktop, idp, { prefix: 'kube', count: 3 });
  // The seed's code grants reach the IdP's log asynchronously: count from after them.
  while (idp.grants().length < 3) await new Promise((r) => setTimeout(r, 50));
  kube = await startKubeServer({ dir: desktop.root, authorize: async (token) => (await idp.userinfo(token)).status === 200 });
  kubeconfig = join(desktop.root, 'kubeconfig');
  writeKubeconfig(kubeconfig, kube.url, kube.ca, [
    { name: 'second', account: accounts[1].email },
    { name: 'revoked', account: accounts[2].email },
  ]);
});

after(async () => {
  await kube?.stop();
  await idp?.stop();
});

/** Runs a program with the desktop's environment, the CLI's folder first on PATH. */
function run(file, args) {
  const env = { ...desktop.env, KUBECONFIG: kubeconfig, PATH: `${dirname(CLI_BINARY)}${delimiter}${desktop.env.PATH}` };
  return new Promise((resolve) => {
    execFile(file, args, { env, encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

/** Every grant the IdP served so far (authorization code, refresh, device). */
const grants = () => idp.grants().length;
const bearers = (from) => kube.requests.slice(from).map((r) => r.authorization);

test('kubectl get pods authenticates with the account\'s current access token from latchkey exec-credential', async () => {
  const grantsBefore = grants();
  const get = await run(KUBECTL, ['--context', 'second', 'get', 'pods']);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, new RegExp(`^${POD_NAME}\\s+Running$`, 'm'), get.stdout);
  assert.equal(grants() - grantsBefore, 1, 'one refresh: the seeded account had no cached access token');

  // The account's current token, from the cache the plugin filled (no request at the IdP).
  const token = await run(CLI_BINARY, ['token', accounts[1].email]);
  assert.equal(token.code, 0, token.stderr);
  assert.equal(grants() - grantsBefore, 1, 'latchkey token used the cache');
  const seen = bearers(0);
  assert.ok(seen.length >= 2, `kubectl made its discovery and list requests (${seen.length})`);
  assert.deepEqual(new Set(seen), new Set([`Bearer ${token.stdout.trim()}`]), 'every request carried that token');
  assert.equal(kube.refused(), 0);
  assert.deepEqual(await idp.userinfo(token.stdout.trim()), { status: 200, sub: accounts[1].login }, 'the second account\'s');
});

test('a second kubectl run within the token\'s validity makes no request at the IdP\'s token endpoint', async () => {
  const grantsBefore = grants();
  const from = kube.requests.length;
  const version = await run(KUBECTL, ['--context', 'second', 'version', '-o', 'json']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(JSON.parse(version.stdout).serverVersion.gitVersion, 'v1.32.0-latchkey-test');
  const get = await run(KUBECTL, ['--context', 'second', 'get', 'pods', '-o', 'name']);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout, `pod/${POD_NAME}\n`);
  assert.equal(grants(), grantsBefore, 'both runs took the token from Latchkey\'s cache in the keychain item');
  const current = (await run(CLI_BINARY, ['token', accounts[1].email])).stdout.trim();
  assert.ok(bearers(from).length >= 2);
  assert.deepEqual(new Set(bearers(from)), new Set([`Bearer ${current}`]));
  assert.equal(kube.refused(), 0);
});

test('a revoked grant: kubectl fails with Latchkey\'s message and the API server sees no token', async () => {
  const victim = accounts[2];
  await idp.revoke(refreshTokenOf(desktop, victim.id));
  const from = kube.requests.length;
  const get = await run(KUBECTL, ['--context', 'revoked', 'get', 'pods']);
  assert.notEqual(get.code, 0);
  assert.equal(get.stdout, '');
  assert.match(get.stderr, /sign in again/i, 'the plugin\'s own message reaches the terminal');
  assert.match(get.stderr, /latchkey/);
  assert.ok(bearers(from).every((b) => b === null), 'no bearer token was sent');
});
