// UI-only tests of the window while the backend changes under it: state events
// pushed by the fake backend (window.__latchkeyFake) must not move the keyboard
// focus or the scroll position, nor close an open "Details"; the countdown
// writes only when its text changes and sleeps while the window is hidden.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.close();
});

const open = (scenario, options) => openPage(browser, server.base, scenario, options);
const ID = (n) => `acct-${String(n).padStart(20, '0')}`;
const card = (n) => `#accounts .account[data-id="${ID(n)}"]`;

/** Pushes a state change from the fake backend and waits until the window shows it. */
async function push(page, edit, shown, arg) {
  await page.evaluate(edit, arg);
  await page.waitForFunction(shown, arg);
}

/** The control focused at the start of the test is still the focused element (the very same node). */
const stillFocused = (page) => page.evaluate(() => document.activeElement === window.__focused && window.__focused.isConnected);

test('the focused button keeps the focus across state events (Rename of account 2)', async () => {
  const { page, errors } = await open('accounts');
  await page.focus(`${card(2)} .rename`);
  await page.evaluate(() => (window.__focused = document.activeElement));
  const events = [
    // 1. The account holding the focus finishes refreshing: its chip, detail and buttons change.
    [
      (id) => window.__latchkeyFake.change((s) => Object.assign(s.accounts.find((a) => a.id === id), { status: 'ready', accessExpiresAtMs: Date.now() + 30 * 60_000 })),
      (id) => document.querySelector(`.account[data-id="${id}"]`).dataset.status === 'ready',
    ],
    // 2. A notice arrives above the list.
    [() => window.__latchkeyFake.notify('info', 'signed_in', 'Signed in as kim@example.test at Example Work.'), () => !!document.querySelector('#notices .notice')],
    // 3. It becomes the default account: "Make default" beside the focused button goes away.
    [
      (id) => window.__latchkeyFake.change((s) => s.accounts.forEach((a) => (a.isDefault = a.id === id))),
      (id) => !document.querySelector(`.account[data-id="${id}"] .make-default`),
    ],
    // 4. An account is added above it, 5. the first account is signed out elsewhere.
    [
      () => window.__latchkeyFake.change((s) => s.accounts.splice(1, 0, window.__latchkeyFake.account(5, { name: 'New', email: 'new@work.example.com' }))),
      () => document.querySelectorAll('#accounts .account').length === 5,
    ],
    [() => window.__latchkeyFake.change((s) => s.accounts.shift()), () => document.querySelectorAll('#accounts .account').length === 4],
    // 6. A sign-in starts (a card appears above everything).
    [() => window.__latchkeyFake.change((s) => s.pending.push({ handle: 'feedfeedfeedfeed', providerId: 'work', providerName: 'Example Work', expiresAtMs: Date.now() + 600_000 })), () => !!document.querySelector('#pending .pending-card')],
  ];
  for (const [i, [edit, shown]] of events.entries()) {
    await push(page, edit, shown, ID(2));
    assert.ok(await stillFocused(page), `the focus is still on Rename after event ${i + 1}: ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 90))}`);
  }
  // And it still works from the keyboard, for the right account.
  await page.keyboard.press('Enter');
  assert.match(await page.textContent('#rename-who'), /^Alice M\. · Home Mail$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('"Retry now" keeps the focus while its retry runs; when it goes, the focus stays in its card', async () => {
  const { page, errors } = await open('accounts');
  const retry = `${card(3)} .retry`;
  await page.focus(retry);
  await page.evaluate(() => (window.__focused = document.activeElement));
  const set = (fields) => (arg) => window.__latchkeyFake.change((s) => Object.assign(s.accounts.find((a) => a.id === arg.id), arg.fields));
  const showsStatus = ({ id, fields }) => document.querySelector(`.account[data-id="${id}"]`).dataset.status === fields.status;
  const steps = [
    { status: 'offline', retryAtMs: Date.now() + 50_000, problem: 'still cannot reach the provider' },
    { status: 'refreshing', retryAtMs: null },
    { status: 'offline', retryAtMs: Date.now() + 90_000 },
  ];
  for (const fields of steps) {
    await push(page, set(fields), showsStatus, { id: ID(3), fields });
    // Something else changes too, in another card.
    await push(page, set({ label: fields.status }), ({ id, fields: f }) => document.querySelector(`.account[data-id="${id}"] .badge.label`)?.textContent === f.label, { id: ID(4), fields: { label: fields.status } });
    assert.ok(await stillFocused(page), `the focus is still on Retry now (${fields.status})`);
  }
  // While the retry runs the button stays, inactive: a click does nothing.
  await push(page, set({ status: 'refreshing' }), showsStatus, { id: ID(3), fields: { status: 'refreshing' } });
  assert.equal(await page.getAttribute(retry, 'aria-disabled'), 'true');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => window.__latchkeyFakeCalls.filter((c) => c.command === 'retry_account').length), 0);
  // Ready: the button goes, the focus moves to the next control of the same account.
  await push(page, set({ status: 'ready', accessExpiresAtMs: Date.now() + 3_600_000 }), showsStatus, { id: ID(3), fields: { status: 'ready' } });
  assert.equal(await page.evaluate(() => document.activeElement.closest('.account')?.dataset.id), ID(3));
  assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'make-default');
  assert.deepEqual(errors, []);
  await page.close();
});

test('state events keep the scroll position and an open "Details"', async () => {
  const { page, errors } = await open('refused', { viewport: { width: 880, height: 420 } });
  await push(page, () => window.__latchkeyFake.change((s) => {
    for (let n = 3; n <= 14; n += 1) s.accounts.push(window.__latchkeyFake.account(n, { name: `Account ${n}`, email: `a${n}@work.example.com` }));
  }), () => document.querySelectorAll('#accounts .account').length === 14);
  await page.click(`${card(2)} .refusal summary`);
  await page.evaluate(() => window.scrollTo(0, 400));
  const where = () => page.evaluate(() => ({ y: window.scrollY, top: Math.round(document.querySelector('#accounts .account:nth-child(6)').getBoundingClientRect().top) }));
  const before = await where();
  assert.equal(before.y, 400);
  for (const n of [5, 6, 7]) {
    await push(page, (id) => window.__latchkeyFake.change((s) => Object.assign(s.accounts.find((a) => a.id === id), { status: 'offline', accessExpiresAtMs: null, retryAtMs: Date.now() + 20_000 })),
      (id) => document.querySelector(`.account[data-id="${id}"]`).dataset.status === 'offline', ID(n));
    assert.deepEqual(await where(), before, `scrolled nowhere after event ${n - 4}`);
  }
  assert.equal(await page.evaluate((sel) => document.querySelector(`${sel} .refusal details`).open, card(2)), true, 'Details stays open');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the countdown writes once a minute while minutes are shown, and not at all while hidden', async () => {
  const { page, errors } = await open('accounts', { clock: true });
  // Count the writes to each detail (a write that changes nothing is still a mutation).
  await page.evaluate(() => {
    window.__writes = {};
    for (const node of document.querySelectorAll('#accounts .detail')) {
      const id = node.dataset.liveDetail;
      window.__writes[id] = 0;
      new MutationObserver((records) => (window.__writes[id] += records.length)).observe(node, { childList: true, characterData: true, subtree: true });
    }
  });
  const writes = () => page.evaluate(() => ({ ...window.__writes }));
  const detail = (n) => page.textContent(`${card(n)} .detail`);
  assert.match(await detail(1), /^expires in 42 min$/);
  await page.clock.runFor(5 * 60_000);
  let w = await writes();
  assert.match(await detail(1), /^expires in 37 min$/);
  assert.ok(w[ID(1)] >= 5 && w[ID(1)] <= 6, `5 minutes of "expires in … min": ${w[ID(1)]} writes`);
  // "retrying in 25 s" counts down by the second, then rests at 0 s.
  assert.equal(await detail(3), 'retrying in 0 s');
  assert.ok(w[ID(3)] <= 27, `the retry countdown: ${w[ID(3)]} writes`);
  assert.equal(w[ID(2)], 0, 'nothing to count down: never written');

  // Hidden: nothing is written; shown again: the text catches up at once.
  const visibility = (state) =>
    page.evaluate((s) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
  await visibility('hidden');
  const hiddenFrom = await writes();
  await page.clock.runFor(10 * 60_000);
  w = await writes();
  assert.equal(w[ID(1)], hiddenFrom[ID(1)], 'no write while hidden');
  await visibility('visible');
  assert.match(await detail(1), /^expires in 27 min$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('accounts refreshed together count down together: one write a minute for all of them', async () => {
  const { page, errors } = await open('accounts', { clock: true });
  // Accounts 1 and 2 ready, their tokens 40 ms apart (refreshed together at launch).
  await push(page, () => window.__latchkeyFake.change((s) => {
    const at = s.accounts[0].accessExpiresAtMs;
    Object.assign(s.accounts[1], { status: 'ready', accessExpiresAtMs: at + 40 });
  }), () => document.querySelectorAll('#accounts .account[data-status="ready"]').length === 2);
  await page.evaluate(() => {
    window.__batches = 0;
    const details = [...document.querySelectorAll('#accounts .account[data-status="ready"] .detail')];
    const seen = new MutationObserver(() => (window.__batches += 1));
    for (const node of details) seen.observe(node, { childList: true, characterData: true, subtree: true });
  });
  await page.clock.runFor(5 * 60_000);
  const batches = await page.evaluate(() => window.__batches);
  assert.ok(batches >= 5 && batches <= 6, `5 minutes, both texts written in the same tick: ${batches} batches`);
  assert.equal(await page.textContent(`${card(1)} .detail`), await page.textContent(`${card(2)} .detail`));
  assert.deepEqual(errors, []);
  await page.close();
});
