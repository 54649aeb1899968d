// Notices from the backend (#notices) and errors of this window's own
// commands (#local-errors), keyed by notice id and patched in place.
import * as store from '../store.js';
import { $, el, setText, setData, syncList } from '../dom.js';

function createNotice() {
  return el('div', { className: 'notice' },
    el('div', { className: 'message' }, '', el('details', {}, el('summary', {}, 'Details'), el('code'))),
    el('button', { className: 'icon-button', 'aria-label': 'Dismiss', title: 'Dismiss', dataset: { action: 'dismiss' } }, '×'));
}

function updateNotice(node, n) {
  node.setAttribute('role', n.level === 'error' ? 'alert' : 'status');
  setData(node, { level: n.level, code: n.code, id: String(n.id) });
  const message = node.querySelector('.message');
  if (message.firstChild.data !== n.message) message.firstChild.data = n.message;
  setText(message.querySelector('code'), n.code);
}

function mountList(section, dismiss) {
  section.addEventListener('click', (event) => {
    const notice = event.target.closest('[data-action=dismiss]')?.closest('.notice');
    if (notice) dismiss([notice.dataset.id]);
  });
  return (notices) => syncList(section, notices, { key: (n) => n.id, create: createNotice, update: updateNotice });
}

export function mountNotices() {
  const renderNotices = mountList($('notices'), (ids) => store.dismissNotices(ids.map(Number)));
  const renderErrors = mountList($('local-errors'), (ids) => store.dismissErrors(ids));
  store.subscribe(({ app, errors }) => {
    renderNotices(app.notices);
    renderErrors(errors);
  });
}
