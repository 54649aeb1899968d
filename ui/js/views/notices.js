// Notices from the backend (#notices) and errors of this window's own commands
// (#local-errors). They do not pile up above the accounts:
// - repeats (same level, code and text) are one notice with a count ("×3"),
//   shown where the latest one arrived; Dismiss dismisses them all;
// - confirmations (info) fade on their own once they have been in view for a
//   while (not while hovered, focused, opened, or the window is in the background);
//   warnings and errors stay until dismissed;
// - the latest few are shown, older ones behind "n earlier notices", and the
//   list's height is capped (it scrolls) so the accounts stay on screen.
// Each notice element keeps data-id (its latest id), data-code, data-level and
// data-count (how many it stands for).
import * as store from '../store.js';
import { $, el, setText, setAttr, setData, setHidden, syncList } from '../dom.js';

const SHOWN = 3;
const FADE_MS = 8000;
const FADE_OUT_MS = 400;

/** Notices (oldest first) → groups of repeats, ordered by their latest arrival. */
function groupRepeats(notices) {
  const groups = new Map();
  for (const n of notices) {
    const key = `${n.level}\n${n.code}\n${n.message}`;
    const group = groups.get(key) ?? { key, ids: [] };
    groups.delete(key);
    group.ids.push(n.id);
    group.latest = n;
    groups.set(key, group);
  }
  return [...groups.values()];
}

function createNotice() {
  return el('div', { className: 'notice' },
    el('div', { className: 'message' }, '', el('details', {}, el('summary', {}, 'Details'), el('code'))),
    el('button', { className: 'icon-button', 'aria-label': 'Dismiss', title: 'Dismiss', dataset: { action: 'dismiss' } }, '×'));
}

function updateNotice(node, { latest: n, ids }, hidden) {
  setAttr(node, 'role', n.level === 'error' ? 'alert' : 'status');
  setData(node, { level: n.level, code: n.code, id: String(n.id), count: String(ids.length), ids: ids.join(' ') });
  const message = node.querySelector('.message');
  if (message.firstChild.data !== n.message) message.firstChild.data = n.message;
  setText(message.querySelector('code'), n.code);
  let count = node.querySelector(':scope > .count');
  if (ids.length > 1 && !count) count = node.insertBefore(el('span', { className: 'count' }), node.lastElementChild);
  if (count && ids.length < 2) count.remove();
  else if (count) {
    setText(count, `×${ids.length}`);
    setAttr(count, 'title', `${ids.length} times`);
  }
  setHidden(node, hidden);
}

/** Fades confirmations: each is dismissed after FADE_MS in view, counted only while it could be read. */
function fader(section, dismiss) {
  const timers = new Map(); // node → { left, since, timer, count }
  const readable = (node) =>
    document.visibilityState === 'visible' && document.hasFocus() && node.isConnected && !node.hidden &&
    !node.matches(':hover') && !node.contains(document.activeElement) && !node.querySelector('details').open;
  function check(node) {
    const t = timers.get(node);
    if (!t || t.fading) return;
    const run = readable(node);
    if (run && !t.timer) {
      t.since = Date.now();
      t.timer = setTimeout(() => {
        node.classList.add('fading');
        t.fading = setTimeout(() => dismiss(node.dataset.ids.split(' ')), FADE_OUT_MS);
      }, t.left);
    } else if (!run && t.timer) {
      clearTimeout(t.timer);
      t.timer = null;
      t.left = Math.max(t.left - (Date.now() - t.since), 1000);
    }
  }
  const stop = (node) => {
    const t = timers.get(node);
    clearTimeout(t?.timer);
    clearTimeout(t?.fading);
    node.classList.remove('fading');
    timers.delete(node);
  };
  const checkAll = () => setTimeout(() => timers.forEach((_, node) => check(node)), 0);
  for (const type of ['pointerover', 'pointerout', 'focusin', 'focusout']) section.addEventListener(type, checkAll);
  section.addEventListener('toggle', checkAll, true);
  document.addEventListener('visibilitychange', checkAll);
  window.addEventListener('focus', checkAll);
  window.addEventListener('blur', checkAll);
  /** After a render: the notices shown now, with their groups. */
  return (nodes, groups) => {
    const shown = new Set(nodes);
    for (const node of timers.keys()) if (!shown.has(node)) stop(node);
    groups.forEach((group, i) => {
      const node = nodes[i];
      if (group.latest.level !== 'info') return;
      // New, or repeated since: the full time again.
      if (timers.get(node)?.count !== group.ids.length) {
        stop(node);
        timers.set(node, { left: FADE_MS, timer: null, fading: null, count: group.ids.length });
      }
      check(node);
    });
  };
}

function noticeList(section, { dismiss, fades }) {
  const more = el('button', { type: 'button', className: 'notices-more', 'aria-expanded': 'false', hidden: 'hidden' });
  // The notices scroll in a list of their own, under the toggle.
  const list = el('div', { className: 'notice-list' });
  section.append(more, list);
  let expanded = false;
  let last = [];
  const fade = fades ? fader(section, dismiss) : () => {};
  const render = (groups) => {
    const older = Math.max(0, groups.length - SHOWN);
    if (!older) expanded = false;
    const before = new Set(last.map((g) => g.key));
    const nodes = syncList(list, groups, {
      key: (g) => g.key,
      create: createNotice,
      update: (node, g) => updateNotice(node, g, !expanded && groups.indexOf(g) < older),
    });
    fade(nodes, groups);
    setHidden(more, older === 0);
    setText(more, expanded ? 'Show fewer notices' : `${older} earlier notice${older === 1 ? '' : 's'}`);
    setAttr(more, 'aria-expanded', String(expanded));
    setHidden(section, groups.length === 0);
    // A notice that is new here is shown, unless the person is busy in the list.
    if (groups.some((g) => !before.has(g.key)) && !list.matches(':hover') && !list.contains(document.activeElement)) {
      list.scrollTop = list.scrollHeight;
    }
    last = groups;
  };
  more.addEventListener('click', () => {
    expanded = !expanded;
    render(last);
  });
  section.addEventListener('click', (event) => {
    const notice = event.target.closest('[data-action=dismiss]')?.closest('.notice');
    if (notice) dismiss(notice.dataset.ids.split(' '));
  });
  return (notices) => render(groupRepeats(notices));
}

export function mountNotices() {
  const renderNotices = noticeList($('notices'), { dismiss: (ids) => store.dismissNotices(ids.map(Number)), fades: true });
  const renderErrors = noticeList($('local-errors'), { dismiss: (ids) => store.dismissErrors(ids), fades: false });
  store.subscribe(({ app, errors }) => {
    renderNotices(app.notices);
    renderErrors(errors);
  });
}
