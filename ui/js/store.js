// The window's state in one place. Views subscribe and render from it; they
// never fetch or keep their own copy. Only this module calls get_state.
import * as backend from './backend.js';

const state = {
  /** The backend's state (get_state), without the notices dismissed here. Null until loaded. */
  app: null,
  /** Errors of commands started from this window, shown like notices: {id, level, code, message}. */
  errors: [],
  /** Pending sign-ins whose link was copied (by handle). */
  copiedLinks: new Set(),
  /** Pending sign-ins whose link is shown for copying by hand (handle → link). */
  shownLinks: new Map(),
};

const subscribers = new Set();
// Notices dismissed here: a get_state already under way must not bring them back.
const dismissed = new Set();
let nextError = 1;

export const getState = () => state;

/** Calls `render(state)` now (if loaded) and after every change. Returns an unsubscribe function. */
export function subscribe(render) {
  subscribers.add(render);
  if (state.app) render(state);
  return () => subscribers.delete(render);
}

function changed() {
  if (!state.app) return;
  for (const render of subscribers) {
    try {
      render(state);
    } catch (err) {
      console.error('render failed', err);
    }
  }
}

/** Changes the window-side state (`change(state)`) and lets every view know. */
export function update(change) {
  change(state);
  changed();
}

export const account = (id) => state.app?.accounts.find((a) => a.id === id) ?? null;

function apply(app) {
  app.notices = app.notices.filter((n) => !dismissed.has(n.id));
  const handles = new Set(app.pending.map((p) => p.handle));
  for (const handle of state.copiedLinks) if (!handles.has(handle)) state.copiedLinks.delete(handle);
  for (const handle of state.shownLinks.keys()) if (!handles.has(handle)) state.shownLinks.delete(handle);
  state.app = app;
  changed();
}

let loading = null;
let again = false;

/** Fetches the backend's state; bursts of calls share one fetch at a time (and one more after it). */
export function reload() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      try {
        apply(await backend.getState());
      } catch (err) {
        console.error('get_state failed', err?.code ?? err);
      }
    } while (again);
    loading = null;
  })();
  return loading;
}

/** Shows a command's `{code, message}` error in the window. */
export function showError(err) {
  const error = { id: `local-${nextError++}`, level: 'error', code: err?.code ?? 'error', message: err?.message ?? String(err) };
  update((s) => s.errors.push(error));
}

/** Runs a backend command, then reloads; a failure is shown. */
export function run(promise) {
  return Promise.resolve(promise).then(reload).catch(showError);
}

/** Dismisses backend notices: gone here at once, and the backend forgets them too. */
export function dismissNotices(ids) {
  for (const id of ids) dismissed.add(id);
  update((s) => {
    s.app.notices = s.app.notices.filter((n) => !dismissed.has(n.id));
  });
  return Promise.all(ids.map((id) => backend.dismissNotice(id).catch(() => {}))).then(reload);
}

/** Dismisses errors shown by this window. */
export function dismissErrors(ids) {
  const gone = new Set(ids);
  update((s) => {
    s.errors = s.errors.filter((e) => !gone.has(e.id));
  });
}
