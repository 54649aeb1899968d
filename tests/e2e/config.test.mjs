// Bad provider configuration: one clear error per provider, in the UI and the
// logs, and the app still starts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desktop, freePort } from './lib/desktop.mjs';
import { startIdp, CLIENT_ID } from './lib/idp.mjs';

const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function providerStates(wd) {
  return wd.execute(`return [...document.querySelectorAll('.provider')].map(p => ({
    id: p.dataset.id, status: p.dataset.status,
    code: p.querySelector('.reason')?.dataset.code ?? null,
    reason: p.querySelector('.reason')?.textContent ?? null }))`);
}

test('each bad provider entry gets its own error and the good one still works', async () => {
  const idp = await startIdp();
  cleanups.push(() => idp.stop());
  const deadPort = await freePort();
  const desktop = new Desktop('config-entries');
  desktop.writeProviders(`
[[provider]]
id = "typo"
issuer = "${idp.issuer}"
client_id = "${CLIENT_ID}"
insecure_http_loopback = true
scope = ["openid"]

[[provider]]
id = "bad-url"
issuer = "https//missing-colon.example"
client_id = "${CLIENT_ID}"

[[provider]]
id = "plain-http"
issuer = "http://login.example.com"
client_id = "${CLIENT_ID}"
insecure_http_loopback = true

[[provider]]
id = "unreachable"
issuer = "http://127.0.0.1:${deadPort}"
client_id = "${CLIENT_ID}"
insecure_http_loopback = true

[[provider]]
id = "mismatch"
name = "Says another issuer"
issuer = "http://localhost:${idp.port}"
client_id = "${CLIENT_ID}"
insecure_http_loopback = true

[[provider]]
id = "good"
name = "Local demo"
issuer = "${idp.issuer}"
client_id = "${CLIENT_ID}"
insecure_http_loopback = true
`);
  const wd = await desktop.startApp();
  try {
  const states = await wd.waitFor(
    async () => {
      const s = await providerStates(wd);
      return s.length === 6 && s.every((p) => p.status !== 'checking') ? s : null;
    },
    { what: 'all providers to be checked' },
  );
  await desktop.screenshot('provider-errors');
  const byId = Object.fromEntries(states.map((s) => [s.id, s]));
  assert.equal(byId.typo.status, 'invalid');
  assert.equal(byId.typo.code, 'config_entry_invalid');
  assert.match(byId.typo.reason, /unknown field `scope`/);
  assert.equal(byId['bad-url'].status, 'invalid');
  assert.equal(byId['bad-url'].code, 'config_bad_url');
  assert.equal(byId['plain-http'].status, 'invalid');
  assert.equal(byId['plain-http'].code, 'config_insecure_issuer');
  assert.equal(byId.unreachable.status, 'unreachable');
  assert.equal(byId.unreachable.code, 'network_unreachable');
  assert.match(byId.unreachable.reason, new RegExp(`127\\.0\\.0\\.1:${deadPort}`));
  assert.equal(byId.mismatch.status, 'unreachable');
  assert.equal(byId.mismatch.code, 'issuer_mismatch');
  assert.match(byId.mismatch.reason, new RegExp(idp.issuer.replace(/[.:/]/g, '\\$&')));
  assert.equal(byId.good.status, 'reachable');
  assert.equal(byId.good.code, null);
  const log = desktop.appLogText();
  for (const id of ['typo', 'bad-url', 'plain-http', 'unreachable', 'mismatch']) {
    assert.match(log, new RegExp(`provider[= ]+"?${id}`), `a log line names ${id}`);
  }
  } finally {
    await desktop.stopApp();
  }
});

test('an unparsable providers file is reported and the app still starts', async () => {
  const desktop = new Desktop('config-syntax');
  desktop.writeProviders('[[provider]\nid = "broken"\n');
  const wd = await desktop.startApp();
  try {
  const banner = await wd.waitFor(
    () => wd.execute('const b = document.getElementById("config-banner"); return getComputedStyle(b).display !== "none" && b.textContent'),
    { what: 'the config banner' },
  );
  assert.match(banner, /providers file could not be used/);
  assert.match(banner, /providers\.toml/);
  await desktop.screenshot('config-syntax');
  } finally {
    await desktop.stopApp();
  }
});
