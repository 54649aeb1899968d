// UI-only tests of the notices: repeats collapse into one with a count,
// confirmations fade on their own, warnings and errors stay until dismissed,
// and however many there are, the accounts stay on screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RESULTS_DIR } from '../e2e/lib/paths.mjs';
import { startServer, launchBrowser, openPage } from './harness.mjs';

let server;
let browser;
const shots = join(RESULTS_DIR, 'ui-fake');

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await mkdir(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

const open = (scenario, options) => openPage(browser, server.base, scenario, options);
const notify = (page, level, code, message) => page.evaluate((a) => window.__latchkeyFake.notify(...a), [level, code, message]);
const shown = (page) =>
  page.$$eval('#notices .notice', (nodes) =>
    nodes.map((n) => ({ code: n.dataset.code, count: n.dataset.count, visible: !n.hidden, badge: n.querySelector('.count')?.textContent ?? null })));
const dismissed = (page) => page.evaluate(() => window.__latchkeyFakeCalls.filter((c) => c.command === 'dismiss_notice').map((c) => c.args.id));
const FORGED = 'A sign-in link arrived that matches no sign-in in progress (it may be forged or already used); it was ignored.';

test('repeats collapse into one notice with a count; Dismiss dismisses every one of them', async () => {
  const { page, errors } = await open('empty');
  const ids = [];
  for (let i = 0; i < 3; i += 1) {
    ids.push(await notify(page, 'warning', 'unknown_state', FORGED));
    await page.waitForFunction((n) => document.querySelector('#notices .notice')?.dataset.count === String(n), i + 1);
  }
  await notify(page, 'warning', 'unknown_state', 'Another text, the same code.');
  await page.waitForFunction(() => document.querySelectorAll('#notices .notice').length === 2);
  assert.deepEqual(await shown(page), [
    { code: 'unknown_state', count: '3', visible: true, badge: '×3' },
    { code: 'unknown_state', count: '1', visible: true, badge: null },
  ]);
  // A fourth repeat: still one notice, now the latest one (shown last).
  ids.push(await notify(page, 'warning', 'unknown_state', FORGED));
  await page.waitForFunction(() => document.querySelector('#notices .notice:last-child')?.dataset.count === '4');
  assert.equal(await page.$$eval('#notices .notice', (n) => n.length), 2);
  await shot(page, 'notices-repeated');
  await page.click('#notices .notice[data-count="4"] button[aria-label="Dismiss"]');
  await page.waitForFunction(() => document.querySelectorAll('#notices .notice').length === 1);
  assert.deepEqual((await dismissed(page)).sort(), ids.sort(), 'the backend forgets every repeat');
  assert.deepEqual(errors, []);
  await page.close();
});

test('confirmations fade on their own (not while being read); warnings and errors stay', async () => {
  const { page, errors } = await open('accounts', { clock: true });
  const signedIn = await notify(page, 'info', 'signed_in', 'Signed in as kim@example.test at Example Work.');
  await notify(page, 'warning', 'unknown_state', FORGED);
  await notify(page, 'error', 'issuer_mismatch', 'The sign-in response came from another issuer; nothing was stored.');
  await page.waitForFunction(() => document.querySelectorAll('#notices .notice').length === 3);
  await page.clock.runFor(3000);
  assert.equal((await shown(page)).length, 3, 'a confirmation stays long enough to be read');
  await page.clock.runFor(10_000);
  await page.waitForFunction(() => !document.querySelector('#notices .notice[data-code=signed_in]'));
  assert.deepEqual(await dismissed(page), [signedIn], 'faded, and dismissed in the backend');
  // One being read (its Details open) does not fade until closed.
  await notify(page, 'info', 'signed_out', 'Signed out alice@old.example.net.');
  await page.waitForSelector('#notices .notice[data-code=signed_out]');
  await page.click('#notices .notice[data-code=signed_out] summary');
  await page.clock.runFor(30_000);
  assert.ok(await page.isVisible('#notices .notice[data-code=signed_out]'), 'not while its Details are open');
  await page.click('#notices .notice[data-code=signed_out] summary');
  await page.clock.runFor(30_000);
  assert.ok(await page.isVisible('#notices .notice[data-code=signed_out]'), 'not while the focus is in it');
  await page.mouse.click(1, 600); // elsewhere: the focus and the pointer leave it
  await page.clock.runFor(10_000);
  await page.waitForFunction(() => !document.querySelector('#notices .notice[data-code=signed_out]'));
  // Warnings and errors stay.
  await page.clock.runFor(10 * 60_000);
  assert.deepEqual((await shown(page)).map((n) => n.code), ['unknown_state', 'issuer_mismatch']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('however many notices there are, the accounts stay on screen', async () => {
  const { page, errors } = await open('accounts');
  for (let i = 1; i <= 8; i += 1) await notify(page, 'warning', 'unknown_state', `${FORGED} (${i})`);
  await page.waitForFunction(() => document.querySelectorAll('#notices .notice').length === 8);
  const firstAccountOnScreen = () => page.evaluate(() => document.querySelector('#accounts .account').getBoundingClientRect().bottom <= window.innerHeight);
  assert.deepEqual((await shown(page)).map((n) => n.visible), [false, false, false, false, false, true, true, true], 'the latest three');
  assert.equal(await page.textContent('#notices .notices-more'), '5 earlier notices');
  assert.ok(await firstAccountOnScreen(), 'the first account is on screen');
  await shot(page, 'notices-many');
  // Opened, all are there, in a list that scrolls.
  await page.click('#notices .notices-more');
  assert.ok((await shown(page)).every((n) => n.visible));
  assert.equal(await page.getAttribute('#notices .notices-more', 'aria-expanded'), 'true');
  assert.ok(await firstAccountOnScreen(), 'the first account is still on screen');
  assert.equal(await page.evaluate(() => document.activeElement.classList.contains('notices-more')), true, 'the focus stays on the toggle');
  assert.deepEqual(errors, []);
  await page.close();
});

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });
