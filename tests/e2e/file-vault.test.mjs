// The encrypted file vault from the command line, on a session bus with no
// Secret Service at all (a server, a container, SSH): without LATCHKEY_VAULT
// the CLI refuses and names the option; with LATCHKEY_VAULT=file and a
// passphrase file, `latchkey sign-in --device` stores the account in
// vault.bin and `latchkey token` works from it; a wrong passphrase exits 5
// and changes nothing; vault.bin holds no token in plaintext.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from './lib/cli.mjs';
import { Desktop, APP_ID } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { STANDIN } from './lib/paths.mjs';

let idp;
let desktop;
let secretLog; // every token request and response at the IdP
let vaultFile;
let passphraseFile;
const transcript = [];

before(async () => {
  secretLog = join(mkdtempSync(join(tmpdir(), 'latchkey-file-vault-secrets-')), 'token-requests.jsonl');
  idp = await startIdp({ deviceInterval: 1, secretLog });
  desktop = new Desktop('file-vault');
  desktop.writeProviders(providerToml(idp));
  // No Secret Service can answer: the bus address leads nowhere.
  desktop.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${join(desktop.root, 'no-such-bus')}`;
  vaultFile = join(desktop.dataHome, APP_ID, 'vault.bin');
  passphraseFile = join(desktop.root, 'vault-passphrase');
  writeFileSync(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
});

after(async () => {
  await idp?.stop();
  if (desktop) writeFileSync(join(desktop.resultsDir, 'transcript.txt'), transcript.join('\n'));
});

const fileVault = (passphrase = passphraseFile) => ({ LATCHKEY_VAULT: 'file', LATCHKEY_VAULT_PASSPHRASE_FILE: passphrase });

/** Starts `latchkey ARGS` with `env` on top: { prompt (the first stdout line, as JSON), done ({ code, stdout, stderr }) }. */
function start(args, env = {}) {
  return startCli(desktop, args, {
    // The desktop's log level, not startCli's debug: what a person running it sees.
    env: { LATCHKEY_LOG: desktop.env.LATCHKEY_LOG, ...env },
    timeoutMs: 90_000,
    onClose: (_, { code, stdout, stderr }) => {
      const shown = args.includes('token') ? '<token>\n' : stdout;
      transcript.push(`$ ${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}latchkey ${args.join(' ')}\n${shown}[stderr]\n${stderr}[exit ${code}]\n`);
    },
  });
}

const latchkey = (args, env) => start(args, env).done;

/** The browser stand-in approves the device code at `url`; resolves to its exit code. */
function approve(url, config) {
  desktop.configureBrowser({ device: true, ...config });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [STANDIN, '--dir', desktop.standinDir, url], { env: desktop.env, stdio: 'ignore' });
    child.once('exit', (code) => resolve(code));
  });
}

async function userinfo(token) {
  const discovery = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  const res = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, sub: res.status === 200 ? (await res.json()).sub : null };
}

test('without LATCHKEY_VAULT: sign-in exits 5 naming the file vault, and no file is made', async () => {
  const r = await latchkey(['sign-in', 'local', '--device']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /keychain is not available/);
  assert.match(r.stderr, /set LATCHKEY_VAULT=file to use an encrypted file vault/);
  assert.equal(existsSync(vaultFile), false, 'no silent fallback to a file');
});

test('LATCHKEY_VAULT=file: sign-in --device stores the account in vault.bin; token works from it', async () => {
  const run = start(['sign-in', 'local', '--device', '--json'], fileVault());
  const prompt = await run.prompt;
  assert.equal(await approve(prompt.verification_uri_complete, { login: 'gina' }), 0, 'the stand-in approved');
  const signedIn = await run.done;
  assert.equal(signedIn.code, 0, signedIn.stderr);
  assert.match(signedIn.stderr, /created the encrypted file vault .*vault\.bin/);
  assert.match(signedIn.stderr, /Signed in as gina@example\.test/);
  assert.equal(statSync(vaultFile).mode & 0o777, 0o600);

  const cached = await latchkey(['token', 'gina@example.test'], fileVault());
  assert.equal(cached.code, 0, cached.stderr);
  assert.deepEqual(await userinfo(cached.stdout.trim()), { status: 200, sub: 'gina' });
  // Longer than the IdP's 1 h tokens: the sign-in's token (obtained less than
  // 30 s ago) is as fresh as a refresh would make it, and is shared; then the
  // same again, with the flag instead.
  const refreshed = await latchkey(['token', 'gina@example.test', '--min-valid', '2h'], fileVault());
  assert.equal(refreshed.code, 0, refreshed.stderr);
  const byFlag = await latchkey(['--vault', 'file', 'token', '--min-valid', '2h'], { LATCHKEY_VAULT_PASSPHRASE_FILE: passphraseFile });
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.deepEqual(await userinfo(byFlag.stdout.trim()), { status: 200, sub: 'gina' });
  const status = await latchkey(['status'], fileVault());
  assert.equal(status.code, 0, status.stderr);
});

test('an account in the file vault, LATCHKEY_VAULT unset: token and status exit 5 naming the option', async () => {
  const before = readFileSync(vaultFile);
  for (const args of [['token', 'gina@example.test'], ['status']]) {
    const r = await latchkey(args);
    assert.equal(r.code, 5, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /keychain is not available.*unlock the system keychain/s);
    assert.match(r.stderr, /set LATCHKEY_VAULT=file to use an encrypted file vault/);
  }
  assert.deepEqual(readFileSync(vaultFile), before);
});

test('a wrong passphrase: exit 5 saying so, and vault.bin is unchanged', async () => {
  const before = readFileSync(vaultFile);
  const wrong = join(desktop.root, 'wrong-passphrase');
  writeFileSync(wrong, 'not the passphrase\n', { mode: 0o600 });
  for (const args of [['token'], ['sign-out', 'gina@example.test']]) {
    const r = await latchkey(args, fileVault(wrong));
    assert.equal(r.code, 5, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /the passphrase does not open the encrypted file vault/);
    assert.match(r.stderr, /vault_wrong_passphrase/);
    assert.match(r.stderr, /check the passphrase/);
  }
  assert.deepEqual(readFileSync(vaultFile), before, 'nothing overwritten');
  const missing = await latchkey(['token'], fileVault(join(desktop.root, 'absent')));
  assert.equal(missing.code, 5, missing.stderr);
  assert.match(missing.stderr, /cannot read the passphrase file/);
  // No terminal and no passphrase file: it says how to give one.
  const noSource = await latchkey(['token'], { LATCHKEY_VAULT: 'file' });
  assert.equal(noSource.code, 5, noSource.stderr);
  assert.match(noSource.stderr, /set LATCHKEY_VAULT_PASSPHRASE_FILE/);
  // And the right one still opens it.
  assert.equal((await latchkey(['token'], fileVault())).code, 0);
});

test('vault.bin holds neither a refresh token nor an access token in plaintext', () => {
  const tokens = new Set();
  for (const line of readFileSync(secretLog, 'utf8').trim().split('\n')) {
    try {
      const body = JSON.parse(JSON.parse(line).response);
      for (const k of ['access_token', 'refresh_token']) if (body[k]) tokens.add(body[k]);
    } catch { /* not a JSON token response */ }
  }
  assert.ok(tokens.size >= 2, `${tokens.size} tokens issued (sign-in and any refresh)`);
  const bytes = readFileSync(vaultFile);
  for (const token of tokens) {
    assert.equal(bytes.includes(Buffer.from(token)), false, 'a token is in vault.bin in plaintext');
    assert.equal(bytes.includes(Buffer.from(token.slice(0, 16))), false, 'a token prefix is in vault.bin');
  }
  assert.equal(bytes.includes(Buffer.from('refresh_token')), false, 'the item structure is not readable either');
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'LKVAULT\0');
});
