// Keyboard only, in the real app: a person Tabs to a button of an account and
// the backend keeps refreshing accounts under it. Every state event re-renders
// the window; none may take the focus away from that button.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Desktop, sleep } from './lib/desktop.mjs';
import { startIdp, providerToml } from './lib/idp.mjs';
import * as ui from './lib/ui.mjs';

const ENTER = '\uE007';
const ESCAPE = '\uE00C';
const EVENTS = 4;

// In the page: note every change of an account's status the window shows, and
// whether the focus was still on the control Tabbed to at that moment.
const WATCH = `
  const watch = { target: document.activeElement, events: [] };
  const statuses = () => [...document.querySelectorAll('#accounts .account')].map((a) => a.dataset.status).join(',');
  let last = statuses();
  new MutationObserver(() => {
    const now = statuses();
    if (now === last) return;
    last = now;
    watch.events.push({ statuses: now, focused: document.activeElement === watch.target, active: document.activeElement?.outerHTML.slice(0, 100) ?? null });
  }).observe(document.getElementById('accounts'), { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  window.__focusWatch = watch;
  return true;`;

test('keyboard only: the focus stays on "Rename" of the second account while accounts refresh', async () => {
  // 30-s access tokens: the app refreshes each account by itself every ~15 s.
  const idp = await startIdp({ accessTtl: 30 });
  const desktop = new Desktop('focus');
  desktop.writeProviders(providerToml(idp));
  const wd = await desktop.startApp();
  let slow = false;
  try {
    await ui.waitProvidersChecked(wd);
    await ui.signIn(desktop, wd, 'local', 'ann');
    const ben = await ui.signIn(desktop, wd, 'local', 'ben');
    const rename = `.account[data-id="${ben.id}"] .rename`;
    // From the top of the window, Tab by Tab.
    await wd.execute('document.activeElement?.blur()');
    const tabs = await wd.tabTo(rename);
    assert.ok(tabs > 0, 'reached with Tab');
    await wd.execute(WATCH);
    // Each token request takes 3 s: every refresh shows "Refreshing…", then "Ready" — two events.
    idp.toggleSlow();
    slow = true;
    let seen = 0;
    const deadline = Date.now() + 75_000;
    while (seen < EVENTS) {
      assert.ok(Date.now() < deadline, `only ${seen} of ${EVENTS} refresh events in 75 s`);
      const events = await wd.execute('return window.__focusWatch.events');
      for (; seen < events.length; seen += 1) {
        assert.ok(events[seen].focused, `event ${seen + 1} (${events[seen].statuses}) took the focus to ${events[seen].active}`);
      }
      // Checked from outside as well, after every poll.
      assert.ok(await wd.execute('return document.activeElement === window.__focusWatch.target && document.activeElement.isConnected'),
        `the focus is on ${await wd.execute('return document.activeElement?.outerHTML.slice(0, 100)')}`);
      await sleep(150);
    }
    const events = await wd.execute('return window.__focusWatch.events');
    assert.ok(events.some((e) => e.statuses.includes('refreshing')), 'the list showed refreshes');
    console.log(`# ${events.length} status changes, focus kept through each: ${events.map((e) => e.statuses).join(' → ')}`);
    await desktop.screenshot('focus-kept');
    // Still ben's Rename, and it still works from the keyboard.
    await wd.keys(ENTER);
    await wd.waitFor(() => wd.execute('return document.getElementById("rename-dialog").open'), { what: 'the rename dialog' });
    assert.match(await wd.text('#rename-who'), /^Ben · Local IdP$/);
    await wd.keys(ESCAPE);
    await wd.waitFor(() => wd.execute('return !document.getElementById("rename-dialog").open'), { what: 'the dialog to close' });
    assert.ok(await wd.execute('return document.activeElement === window.__focusWatch.target'), 'back on Rename after the dialog');
  } finally {
    if (slow) idp.toggleSlow();
    await desktop.stopApp();
    await idp.stop();
  }
});
