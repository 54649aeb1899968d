// Many accounts at once: a launch with a dozen accounts (more than run at
// once per issuer, and more than the keychain's call slots) refreshes every
// one of them silently, without any showing "offline" on the way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { IDP_SEED } from './lib/paths.mjs';
import * as ui from './lib/ui.mjs';

const COUNT = 12;
let idp;
let desktop;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('many');
  desktop.writeProviders(providerToml(idp));
});

after(async () => {
  await desktop?.stopApp();
  await idp?.stop();
});

test(`a launch with ${COUNT} accounts refreshes them all, none ever offline`, async () => {
  // Real grants at the IdP (one browser-less session each), stored as the app stores them.
  const seeded = JSON.parse(execFileSync(process.execPath, [IDP_SEED, idp.issuer, String(COUNT), 'many'], { encoding: 'utf8' }));
  assert.equal(seeded.length, COUNT);
  const accounts = seeded.map(({ login }) => ({
    id: `acct-${createHash('sha256').update(`${idp.issuer}\n${login}`).digest('hex').slice(0, 20)}`,
    provider_id: 'local', issuer: idp.issuer, subject: login, name: login, email: `${login}@example.test`,
    scopes: ['openid', 'profile', 'email', 'offline_access'], created_at: 1_790_000_000, last_refreshed_at: null, status: 'active',
  }));
  mkdirSync(dirname(desktop.registryPath()), { recursive: true });
  writeFileSync(desktop.registryPath(), JSON.stringify({ version: 1, default_account: accounts[0].id, accounts }));
  seeded.forEach(({ refresh_token }, i) => {
    desktop.storeKeychainItem(accounts[i].id, `lk1:1:${JSON.stringify({ v: 1, refresh_token })}`);
  });
  const grantsBefore = idp.grants().filter((g) => g === 'refresh_token').length;

  const wd = await desktop.startApp();
  const seen = new Map();
  const list = await wd.waitFor(async () => {
    const l = await ui.accounts(wd);
    for (const a of l) seen.set(a.email, new Set([...(seen.get(a.email) ?? []), a.status]));
    return l.length === COUNT && l.every((a) => a.status === 'ready') ? l : null;
  }, { what: `all ${COUNT} accounts ready`, timeoutMs: 60_000 });
  await desktop.screenshot('many-ready');
  assert.equal(list.length, COUNT);
  const wasOffline = [...seen].filter(([, statuses]) => statuses.has('offline') || statuses.has('needs_sign_in'));
  assert.deepEqual(wasOffline, [], 'no account was offline or lost on the way');
  assert.equal(idp.grants().filter((g) => g === 'refresh_token').length - grantsBefore, COUNT, 'one refresh grant each');
  assert.deepEqual(idp.grantErrors(), []);
  seeded.forEach(({ refresh_token }, i) => {
    const now = ui.refreshTokenOf(desktop, accounts[i].id);
    assert.ok(now && now !== refresh_token, `${accounts[i].email}: the rotated token is stored`);
  });
  assert.equal(desktop.browserLaunches().length, 0, 'no browser');
});
