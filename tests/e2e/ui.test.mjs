// The accounts window in the real app (WebKitGTK through tauri-driver): each
// state gets a screenshot under tests/results/ui*/, plus the keyboard-only
// path, the About view, the dark theme and an unusable keychain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Desktop } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

const TAB = '\uE004';
const ENTER = '\uE007';

let idp;
const providers = () => providerToml(idp);

before(async () => {
  idp = await startIdp();
});
after(async () => idp?.stop());

const visible = (wd, selector) =>
  wd.execute('const n = document.querySelector(arguments[0]); return !!n && getComputedStyle(n).display !== "none" && n.getClientRects().length > 0', selector);

test('empty state, About view, keyboard-only sign-in and sign-out', async () => {
  const desktop = new Desktop('ui');
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    assert.ok(await visible(wd, '#accounts-empty'), 'the empty state is shown');
    assert.match(await wd.text('#accounts-empty p'), /work and personal accounts/);
    assert.ok(await visible(wd, '#empty-add'));
    await desktop.screenshot('empty');

    // About & settings: version, files, providers.
    await wd.click('#open-about');
    await wd.waitFor(() => wd.execute('return document.getElementById("about-dialog").open'), { what: 'the About view' });
    assert.match(await wd.text('#about-version'), /^\d+\.\d+\.\d+$/);
    assert.match(await wd.text('#about-providers-file'), /dev\.latchkey\.app\/providers\.toml$/);
    assert.match(await wd.text('#about-log-file'), /logs\/latchkey\.log$/);
    assert.match(await wd.text('#about-providers li'), /Local IdP/);
    await desktop.screenshot('about');
    // "Open folder" hands the folder to the desktop's file manager (from Rust).
    await wd.click('.open-folder[data-folder="config"]');
    const [opened] = await wd.waitFor(() => (desktop.openedFolders().length ? desktop.openedFolders() : null), {
      what: 'the file manager to be asked',
    });
    assert.equal(opened, `${desktop.configHome}/dev.latchkey.app`);
    await wd.keys('\uE00C'); // Escape closes it
    await wd.waitFor(() => wd.execute('return !document.getElementById("about-dialog").open'), { what: 'the About view to close' });

    // Keyboard only: Tab to "Add account", Enter, Enter on the provider.
    desktop.configureBrowser({ login: 'kim', action: 'consent' });
    await wd.execute('document.activeElement?.blur()');
    await wd.tabTo('#add-account');
    assert.ok(await wd.execute('return getComputedStyle(document.activeElement).outlineStyle !== "none"'), 'focus is visible');
    await desktop.screenshot('focus-visible');
    await wd.keys(ENTER);
    await wd.waitFor(() => wd.execute('return document.getElementById("provider-picker").open'), { what: 'the picker' });
    assert.ok(await wd.execute('return document.activeElement?.matches(".pick")'), 'the first provider has the focus');
    await desktop.screenshot('picking-provider');
    await wd.keys(ENTER);
    const kim = await ui.waitAccount(wd, 'kim@example.test', { status: 'ready' });
    assert.ok(await wd.execute('return document.querySelector(".account.highlight")?.dataset.id === arguments[0]', kim.id), 'the new account is highlighted');
    await desktop.screenshot('ready');

    // The notice about it: "Details" shows its code; Dismiss removes it for good.
    const notice = '#notices .notice[data-code="signed_in"]';
    await wd.click(`${notice} summary`);
    assert.ok(await wd.execute('return document.querySelector(arguments[0] + " details").open', notice));
    assert.equal(await wd.text(`${notice} details code`), 'signed_in');
    await desktop.screenshot('notice-details');
    await wd.click(`${notice} button[aria-label="Dismiss"]`);
    await wd.waitFor(() => wd.execute('return !document.querySelector(arguments[0])', notice), { what: 'the notice to go' });
    const state = await wd.execute('return window.__TAURI__.core.invoke("get_state")');
    assert.ok(!state.notices.some((n) => n.code === 'signed_in'), 'dismissed in the backend too');

    // Keyboard only: Tab to kim's "Sign out", Enter, Tab to the confirm button, Enter.
    await wd.tabTo(`.account[data-id="${kim.id}"] .sign-out`);
    await wd.keys(ENTER);
    await wd.waitFor(() => wd.execute('return document.getElementById("confirm-dialog").open'), { what: 'the confirmation' });
    assert.ok(await wd.execute('return document.activeElement?.id === "confirm-cancel"'), 'Cancel is the safe default');
    await wd.keys(TAB);
    assert.ok(await wd.execute('return document.activeElement?.id === "confirm-ok"'));
    await wd.keys(ENTER);
    await ui.waitNotice(wd, 'signed_out');
    assert.equal((await ui.accounts(wd)).length, 0);
    assert.equal(desktop.keychainSecret(kim.id), null);
  } finally {
    await desktop.stopApp();
  }
});

test('a profile picture is fetched by the backend and shown as a data URL', async () => {
  const desktop = new Desktop('ui-picture');
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'pic-lee');
    const src = await wd.waitFor(() => wd.execute('return document.querySelector("#accounts .account img.avatar")?.getAttribute("src")'), {
      what: 'the picture',
    });
    assert.match(src, /^data:image\/png;base64,iVBORw0KGgo/);
    await desktop.screenshot('picture');
  } finally {
    await desktop.stopApp();
  }
});

test('waiting for the browser: Copy sign-in link, then Cancel', async () => {
  const desktop = new Desktop('ui-waiting');
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    desktop.configureBrowser({ action: 'ignore' });
    await ui.startSignIn(wd, 'local');
    await wd.waitFor(() => visible(wd, '#pending .pending-card'), { what: 'the waiting panel' });
    await wd.click('#pending .copy-link');
    const copied = await wd.waitFor(
      () => wd.execute('const b = document.querySelector("#pending .copy-link"); const f = document.querySelector("#pending .link-fallback"); return b.textContent === "Link copied" ? "clipboard" : (f?.value || null)'),
      { what: 'the link to be copied or shown' },
    );
    if (copied !== 'clipboard') {
      assert.ok(copied.startsWith(`${idp.issuer}/auth?`), copied);
      assert.equal(new URL(copied).searchParams.get('code_challenge_method'), 'S256');
    }
    await desktop.screenshot('waiting-for-browser');
    await wd.click('#pending .cancel');
    await wd.waitFor(async () => !(await visible(wd, '#pending .pending-card')), { what: 'the panel to close' });
  } finally {
    await desktop.stopApp();
  }
});

test('dark theme follows the system preference', async () => {
  const desktop = new Desktop('ui-dark', { env: { GTK_THEME: 'Adwaita:dark' } });
  desktop.writeProviders(providers());
  const wd = await desktop.startApp();
  try {
    await ui.waitProvidersChecked(wd);
    const dark = await wd.execute('return matchMedia("(prefers-color-scheme: dark)").matches');
    const bg = await wd.execute('return getComputedStyle(document.body).backgroundColor');
    await desktop.screenshot('dark');
    assert.equal(dark, true, 'WebKitGTK reports a dark preference under a dark GTK theme');
    assert.equal(bg, 'rgb(22, 24, 29)');
  } finally {
    await desktop.stopApp();
  }
});

test('the window comes back at the size the person left it', async () => {
  const desktop = new Desktop('ui-window-size');
  desktop.writeProviders(providers());
  let wd = await desktop.startApp();
  const size = () => wd.execute('return [window.innerWidth, window.innerHeight]');
  try {
    await ui.waitProvidersChecked(wd);
    assert.deepEqual(await size(), [880, 640], 'the default size at first start');
    // Resize it as a window manager would.
    const resized = spawnSync('xdotool', ['search', '--onlyvisible', '--name', '^Latchkey$', 'windowsize', '%@', '700', '520'], { env: desktop.env });
    assert.equal(resized.status, 0, String(resized.stderr));
    await wd.waitFor(async () => (await size())[0] === 700, { what: 'the window to be 700 px wide' });
    // Quit the way a session logout does (closing the WebDriver session kills the app instead).
    await desktop.signalAndWait('SIGTERM', 8000);
    assert.match(desktop.appLogText(), /termination requested/);
    await desktop.stopApp();
    wd = await desktop.startApp();
    await ui.waitProvidersChecked(wd);
    assert.deepEqual(await size(), [700, 520]);
    await desktop.screenshot('remembered-size');
  } finally {
    await desktop.stopApp();
  }
});

test('no Secret Service: the app starts quickly, says why, and refuses to sign in', async () => {
  const desktop = new Desktop('ui-no-keychain');
  desktop.writeProviders(providers());
  await desktop.withoutKeychain();
  const started = Date.now();
  const wd = await desktop.startApp();
  try {
    const banner = await wd.waitFor(() => wd.execute('const b = document.getElementById("keychain-banner"); return getComputedStyle(b).display !== "none" && b.textContent'), {
      what: 'the keychain banner',
      timeoutMs: 10_000,
    });
    assert.ok(Date.now() - started < 5_000 + 3_000, 'banner within ~5 s of launch (WebDriver start included)');
    assert.match(banner, /keychain is not usable/);
    assert.equal(await wd.execute('return document.getElementById("keychain-banner").dataset.code'), 'keychain_unavailable');
    assert.equal(await wd.execute('return document.getElementById("add-account").disabled'), true, 'sign-in is refused');
    await desktop.screenshot('keychain-unavailable');
  } finally {
    await desktop.stopApp();
  }
});
