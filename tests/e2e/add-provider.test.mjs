// Add provider through the real window: preset → fields → live check (the
// real oidc-provider IdP, the GitHub-shaped server) → saved to the providers
// file with the person's comment kept → listed, pickable, and a sign-in
// through it works. A bad issuer shows the check's error and writes nothing;
// a client secret ends up in the keychain only; Remove signs the accounts out
// first when asked. The file edited by hand while the app runs is taken at
// once; a broken one changes nothing until it is fixed.
//
// The test IdP is plain http on 127.0.0.1: the dialog shows its
// "Development server: allow plain http" box for such an address, and the
// test ticks it (nothing sets insecure_http_loopback by itself).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Desktop, freePort } from './lib/desktop.mjs';
import { startIdp, CLIENT_ID, providerToml } from './lib/idp.mjs';
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, startGithub } from './lib/github.mjs';
import * as ui from './lib/ui.mjs';

const COMMENT = '# My providers, written by hand. This comment must survive the window.';
let idp;
let github;
let desktop;
let wd;
let original;
const providersFile = () => join(desktop.configHome, 'dev.latchkey.app', 'providers.toml');
const fileText = () => readFileSync(providersFile(), 'utf8');

before(async () => {
  idp = await startIdp();
  github = await startGithub('oauth-app');
  desktop = new Desktop('add-provider');
  original = `${COMMENT}\n\n${providerToml(idp, { id: 'first', name: 'First IdP' })}`;
  desktop.writeProviders(original);
  wd = await desktop.startApp();
  await ui.waitProvidersChecked(wd);
});

after(async () => {
  await desktop?.screenshot('final');
  await desktop?.stopApp();
  await idp?.stop();
  await github?.stop();
});

const dialogOpen = () => wd.execute('return document.getElementById("provider-dialog").open');
const result = () => wd.execute(`const r = document.getElementById('provider-result');
  return r.hidden ? null : { outcome: r.dataset.outcome, text: r.textContent }`);
const saveDisabled = () => wd.execute('return document.getElementById("provider-save").disabled');

/** Add provider → the preset → the fields typed as a person would. */
async function fillDialog(preset, fields, { insecure = false, secret = null } = {}) {
  if (!(await dialogOpen())) {
    await wd.click('#add-provider');
    await wd.waitFor(dialogOpen, { what: 'the Add provider dialog' });
  }
  await wd.execute(`const s = document.getElementById('provider-preset'); s.value = arguments[0];
    s.dispatchEvent(new Event('change', { bubbles: true }))`, preset);
  for (const [selector, text] of Object.entries(fields)) {
    await wd.execute('document.querySelector(arguments[0]).value = ""', selector);
    await wd.sendKeys(selector, text);
  }
  if (secret !== null) await wd.sendKeys('#provider-client-secret', secret);
  if (insecure && !(await wd.execute('return document.getElementById("provider-insecure").checked'))) {
    await wd.click('#provider-insecure');
  }
}

async function check(outcome) {
  await wd.click('#provider-check');
  return wd.waitFor(async () => {
    const r = await result();
    return r?.outcome === outcome ? r : null;
  }, { what: `a check that ends ${outcome}`, timeoutMs: 30_000 });
}

test('a bad issuer: the check shows why, Save stays off and the file is not touched', async () => {
  await fillDialog('oidc', {
    '#provider-id': 'lab', '#provider-client-id': CLIENT_ID, '#provider-issuer': `${idp.issuer}/nope`,
  }, { insecure: true });
  let found = await check('error');
  assert.match(found.text, /Check failed: the discovery document at http:\/\/127\.0\.0\.1:\d+\/\.well-known\/\S+\/nope returned HTTP 404 \(discovery_http_status\)/, found.text);
  assert.equal(await saveDisabled(), true);
  await desktop.screenshot('bad-issuer');

  const dead = await freePort();
  await fillDialog('oidc', { '#provider-issuer': `http://127.0.0.1:${dead}` }, { insecure: true });
  found = await check('error');
  assert.match(found.text, new RegExp(`127\\.0\\.0\\.1:${dead}.*network_unreachable`, 's'), found.text);
  assert.equal(await saveDisabled(), true);
  // Escape closes the dialog; nothing was written.
  await wd.keys('\uE00C');
  await wd.waitFor(async () => !(await dialogOpen()), { what: 'the dialog to close' });
  assert.equal(fileText(), original, 'the providers file is byte-identical');
  assert.ok(!desktop.appLogText().includes('providers file written'));
});

test('Add provider: checked, saved beside the comment, listed, pickable, and a sign-in through it works', async () => {
  await fillDialog('oidc', {
    '#provider-id': 'lab',
    '#provider-name': 'Lab IdP',
    '#provider-client-id': CLIENT_ID,
    '#provider-issuer': idp.issuer,
    '#provider-scopes': 'openid profile email offline_access',
  }, { insecure: true });
  const found = await check('ok');
  assert.match(found.text, new RegExp(`Issuer ${idp.issuer.replace(/[.:/]/g, '\\$&')} confirmed`));
  assert.match(found.text, /dev\.latchkey:\/oauth\/callback/);
  assert.equal(await saveDisabled(), false);
  await desktop.screenshot('add-provider');
  await wd.click('#provider-save');
  await wd.waitFor(async () => !(await dialogOpen()), { what: 'the dialog to close after saving' });

  const text = fileText();
  assert.ok(text.startsWith(original), `the earlier text, comment included, is kept as it was:\n${text}`);
  assert.match(text, new RegExp(`\\[\\[provider\\]\\]\\nid = "lab"\\nname = "Lab IdP"\\npreset = "oidc"\\nclient_id = "${CLIENT_ID}"\\nissuer = "${idp.issuer}"`));
  assert.match(text, /insecure_http_loopback = true/);
  await wd.waitFor(
    () => wd.execute('return document.querySelector(".provider[data-id=\'lab\']")?.dataset.status === "reachable"'),
    { what: 'lab listed and reachable' },
  );
  const card = await ui.signIn(desktop, wd, 'lab', 'carol');
  assert.equal(card.provider, 'Lab IdP');
  assert.ok(desktop.registry().accounts.some((a) => a.provider_id === 'lab' && a.email === 'carol@example.test'));
});

test('GitHub preset with a client secret: the secret is in the keychain, not in the file, the log or the window', async () => {
  await fillDialog('github', {
    '#provider-id': 'gh', '#provider-name': 'GitHub (local)', '#provider-client-id': GITHUB_CLIENT_ID, '#provider-base-url': github.base,
  }, { insecure: true, secret: GITHUB_CLIENT_SECRET });
  const found = await check('ok');
  assert.match(found.text, /endpoints answered/);
  assert.match(found.text, /http:\/\/127\.0\.0\.1\/oauth\/callback/);
  await wd.click('#provider-save');
  await wd.waitFor(async () => !(await dialogOpen()), { what: 'the dialog to close after saving' });
  const raw = desktop.keychainSecret('client-secret.gh');
  assert.ok(raw?.endsWith(GITHUB_CLIENT_SECRET), 'the client secret is in the keychain');
  assert.match(fileText(), /preset = "github"/);
  // The stored secret works: a sign-in through the GitHub-shaped server.
  desktop.configureBrowser({ login: 'octocat', action: 'consent' });
  await ui.startSignIn(wd, 'gh');
  await wd.waitFor(async () => (await ui.accounts(wd)).find((a) => a.provider === 'GitHub (local)' && a.status === 'ready'), {
    what: 'the GitHub account',
  });
  assert.deepEqual(github.grants(), ['authorization_code']);
  const dom = await wd.execute('return document.documentElement.outerHTML + [...document.querySelectorAll("input")].map(i => i.value).join("|")');
  for (const [where, text] of [['the file', fileText()], ['the log', desktop.appLogText()], ['the window', dom]]) {
    assert.ok(!text.includes(GITHUB_CLIENT_SECRET), `the client secret leaked into ${where}`);
  }
});

test('Remove: asks about the accounts, signs them out, removes the entry; the comment stays', async () => {
  await wd.click('.provider[data-id="lab"] [data-action=remove]');
  await wd.waitFor(() => wd.execute('return document.getElementById("remove-provider-dialog").open'), { what: 'the remove dialog' });
  assert.match(await wd.text('#remove-provider-text'), /One account uses it/);
  assert.equal(await wd.execute('return document.getElementById("remove-provider-sign-out").checked'), true);
  await wd.click('#remove-provider-ok');
  await wd.waitFor(() => wd.execute('return !document.querySelector(".provider[data-id=\'lab\']")'), { what: 'lab to go' });
  await wd.waitFor(async () => !(await ui.accounts(wd)).some((a) => a.email === 'carol@example.test'), { what: 'carol signed out' });
  const text = fileText();
  assert.ok(!text.includes('id = "lab"'));
  assert.ok(text.startsWith(original), 'the comment and the first provider are as they were');
  assert.ok(!desktop.registry().accounts.some((a) => a.provider_id === 'lab'));
  // The picker no longer offers it; the GitHub one goes with its client secret.
  await wd.click('.provider[data-id="gh"] [data-action=remove]');
  await wd.waitFor(() => wd.execute('return document.getElementById("remove-provider-dialog").open'), { what: 'the remove dialog' });
  await wd.click('#remove-provider-ok');
  await wd.waitFor(() => wd.execute('return !document.querySelector(".provider[data-id=\'gh\']")'), { what: 'gh to go' });
  assert.equal(desktop.keychainSecret('client-secret.gh'), null, 'its client secret is deleted');
  assert.equal(fileText(), original, 'back to the hand-written file, byte for byte');
});

test('edited by hand while the app runs: a new entry works at once; a broken file changes nothing until it is fixed', async () => {
  const hasProvider = (id) => wd.execute('return document.querySelector(`.provider[data-id="${arguments[0]}"]`)?.dataset.status ?? null', id);
  const banner = () => wd.execute('const b = document.getElementById("config-banner"); return b.hidden ? null : b.textContent');
  desktop.writeProviders(`${original}\n${providerToml(idp, { id: 'handmade', name: 'Handmade IdP' })}`);
  await wd.waitFor(async () => (await hasProvider('handmade')) === 'reachable', {
    what: 'the hand-written provider listed and checked, without a restart',
  });
  // Saved half-way (not TOML): the window says why, and the providers in use stay.
  desktop.writeProviders(`${original}\n[[provider]\nid = `);
  const said = await wd.waitFor(banner, { what: 'the providers file banner' });
  assert.match(said, /The providers file could not be used: .*\(the providers read before stay in use\)/s, said);
  assert.equal(await hasProvider('first'), 'reachable');
  assert.equal(await hasProvider('handmade'), 'reachable');
  // ...and they work: a sign-in through the hand-written provider.
  const card = await ui.signIn(desktop, wd, 'handmade', 'erin');
  assert.equal(card.provider, 'Handmade IdP');
  // Fixed (the entry taken out again): the banner goes, and so does the provider.
  desktop.writeProviders(original);
  await wd.waitFor(async () => (await banner()) === null && (await hasProvider('handmade')) === null, {
    what: 'the banner and the hand-written provider gone',
  });
  assert.equal(await hasProvider('first'), 'reachable');
  assert.match(desktop.appLogText(), /the providers file changed/);
});
