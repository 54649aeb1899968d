// Crash consistency: the app is killed with SIGKILL at random moments during
// sign-in and during launch refresh, many times (LATCHKEY_CRASH_ITERATIONS,
// 20 in CI; 200 for the report). After every kill the registry must parse;
// at the end, startup reconciliation must leave no orphan keychain item and
// every account must be working or "needs sign-in". Prints the counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import { APP_BINARY } from './lib/paths.mjs';
import * as ui from './lib/ui.mjs';

const ITERATIONS = Number(process.env.LATCHKEY_CRASH_ITERATIONS ?? 20);
let idp;
let desktop;

before(async () => {
  idp = await startIdp();
  desktop = new Desktop('crash');
  desktop.writeProviders(providerToml(idp));
});

after(async () => {
  await desktop?.stopApp();
  await idp?.stop();
});

/** Waits until no browser stand-in of this desktop runs (a late one would start the app). */
async function standinsDone() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = spawnSync('pgrep', ['-f', `standin.mjs --dir ${desktop.standinDir}`]);
    if (r.status !== 0) return;
    await sleep(200);
  }
  throw new Error('a browser stand-in never finished');
}

function registryParses() {
  if (!existsSync(desktop.registryPath())) return true;
  const parsed = JSON.parse(readFileSync(desktop.registryPath(), 'utf8'));
  return parsed.version === 1 && Array.isArray(parsed.accounts);
}

const random = (min, max) => min + Math.random() * (max - min);

test(`SIGKILL at random moments, ${ITERATIONS} times: the registry always parses, no orphans, every account working or needs sign-in`, async () => {
  const counts = { iterations: 0, signInKills: 0, refreshKills: 0, registryParsed: 0 };
  // One account from the start, so every launch-refresh kill interrupts a real refresh.
  {
    const wd = await desktop.startApp();
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'steady');
    await desktop.stopApp();
  }
  for (let i = 0; i < ITERATIONS; i += 1) {
    counts.iterations += 1;
    if (i % 2 === 0) {
      // During a sign-in: click Add account, then kill somewhere between the
      // browser, the deep link, the exchange and the stores.
      const wd = await desktop.startApp();
      desktop.configureBrowser({ login: `crash-${i}`, action: 'consent' });
      await ui.startSignIn(wd, 'local');
      await sleep(random(0, 3500));
      await desktop.signalAndWait('SIGKILL', 3000);
      await desktop.stopApp();
      counts.signInKills += 1;
      // The stand-in may still deliver the link: that cold-starts the app, which we
      // kill too, at a random moment of its start.
      await sleep(random(0, 1500));
      await desktop.signalAndWait('SIGKILL', 3000);
      await standinsDone();
      await sleep(random(0, 800));
      await desktop.signalAndWait('SIGKILL', 3000);
    } else {
      // During launch refresh.
      const app = spawn(APP_BINARY, [], { env: desktop.env, stdio: 'ignore' });
      await sleep(random(100, 1800));
      app.kill('SIGKILL');
      await desktop.signalAndWait('SIGKILL', 3000);
      counts.refreshKills += 1;
    }
    await sleep(200);
    assert.ok(registryParses(), `the registry parses after kill ${i}`);
    counts.registryParsed += 1;
  }
  // Let any stand-in finish, then start normally.
  await standinsDone();
  await sleep(500);
  await desktop.signalAndWait('SIGKILL', 3000);
  const wd = await desktop.startApp();
  const accounts = await wd.waitFor(async () => {
    const list = await ui.accounts(wd);
    return list.every((a) => a.status === 'ready' || a.status === 'needs_sign_in') ? list : null;
  }, { what: 'every account settled', timeoutMs: 60_000 });
  const registry = desktop.registry() ?? { accounts: [] };
  const ids = new Set(registry.accounts.map((a) => a.id));
  await wd.waitFor(() => desktop.keychainItems().filter((k) => k['attribute.username']?.startsWith('acct-')).every((k) => ids.has(k['attribute.username'].split('.part')[0])), {
    what: 'no orphan keychain item',
  });
  const ready = accounts.filter((a) => a.status === 'ready').length;
  const needs = accounts.filter((a) => a.status === 'needs_sign_in').length;
  for (const a of accounts.filter((x) => x.status === 'ready')) {
    assert.ok(ui.refreshTokenOf(desktop, a.id), `${a.email} has its token`);
  }
  const orphanLog = (desktop.appLogText().match(/belongs to no account/g) ?? []).length;
  console.log(`# crash report: ${JSON.stringify({ ...counts, accounts: accounts.length, ready, needsSignIn: needs, orphansDeletedAtStartups: orphanLog })}`);
  assert.equal(ready + needs, accounts.length);
  assert.ok(accounts.some((a) => a.email === 'steady@example.test'), 'the first account is still listed');
});
