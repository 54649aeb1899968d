// The live part of an account's status ("expires in 12 min", "retrying in 8 s"),
// kept current at the granularity it shows: once a minute while minutes are
// shown, once a second only in the last minute. A text is written only when it
// changes (texts that change within a quarter second in one go), and nothing
// runs while the window is hidden.
import { setText } from '../dom.js';

/** How late a text may change so that it is written with another (ms). */
const MERGE_MS = 250;

export function inWords(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** How long until `inWords(ms)` reads differently as `ms` runs down; null when it never will. */
export function nextChangeIn(ms) {
  const s = Math.round(ms / 1000);
  if (s <= 0) return null;
  // Seconds: the text changes when ms drops below (s - 0.5) s.
  if (s < 60) return ms - (s - 0.5) * 1000 + 1;
  // Minutes (also in "h min"): round(s / 60) drops below m once s < 60m - 30;
  // "1 min" turns into seconds below 60 s.
  const m = Math.round(s / 60);
  return ms - Math.max((60 * m - 30.5) * 1000, 59_500) + 1;
}

/** The moment the live detail counts down to, if any. */
function target(a) {
  if (a.status === 'ready' && a.accessExpiresAtMs) return { at: a.accessExpiresAtMs, words: 'expires in' };
  if (a.status === 'offline' && a.retryAtMs) return { at: a.retryAtMs, words: 'retrying in' };
  return null;
}

export function statusDetail(a, now = Date.now()) {
  if (a.status === 'ready' && a.neverExpires) return 'token does not expire';
  const t = target(a);
  return t ? `${t.words} ${inWords(t.at - now)}` : '';
}

/**
 * Keeps the detail nodes current. `details()` lists [node, account] pairs;
 * call `refresh()` after each render (writes what changed, plans the next tick).
 */
export function countdown(details) {
  let timer = null;
  function tick() {
    clearTimeout(timer);
    timer = null;
    if (document.visibilityState === 'hidden') return;
    const now = Date.now();
    const changes = [];
    for (const [node, account] of details()) {
      setText(node, statusDetail(account, now));
      const t = target(account);
      const next = t ? nextChangeIn(t.at - now) : null;
      if (next !== null) changes.push(next);
    }
    if (!changes.length) return;
    // Texts that change within MERGE_MS of the first one are written together:
    // accounts refreshed together change together, one repaint, not one each.
    const soonest = Math.min(...changes);
    const wake = Math.max(...changes.filter((c) => c <= soonest + MERGE_MS));
    timer = setTimeout(tick, Math.max(wake, 16));
  }
  // Hidden: stop; shown again: catch up at once.
  document.addEventListener('visibilitychange', tick);
  return { refresh: tick };
}
