// "About & settings": version, Latchkey's files (with "Open folder") and the
// providers; kept current while it is open.
import * as backend from '../backend.js';
import * as store from '../store.js';
import { $, el, setText, setClass, syncList } from '../dom.js';
import { PROVIDER_STATUS, statusOf } from './format.js';

function render(app) {
  setText($('about-version'), app.version);
  setText($('about-providers-file'), app.providersFile ?? '(none)');
  setText($('about-accounts-file'), app.accountsFile ?? '(none)');
  setText($('about-log-file'), app.logFile ?? '(not written)');
  syncList($('about-providers'), app.providers, {
    key: (p) => p.id,
    create: (p) => el('li', { dataset: { id: p.id } }, el('span'), el('span')),
    update: (li, p) => {
      const [label, chip] = statusOf(PROVIDER_STATUS, p.status);
      setText(li.firstElementChild, `${p.name} — ${p.issuer ?? p.id}`);
      setClass(li.lastElementChild, `chip ${chip}`);
      setText(li.lastElementChild, label);
    },
  });
}

export function mountAbout() {
  $('open-about').addEventListener('click', () => {
    const { app } = store.getState();
    if (!app) return;
    render(app);
    $('about-dialog').showModal();
    $('about-close').focus();
  });
  for (const button of document.querySelectorAll('.open-folder')) {
    button.addEventListener('click', () => backend.openFolder(button.dataset.folder).catch(store.showError));
  }
  store.subscribe(({ app }) => {
    if ($('about-dialog').open) render(app);
  });
}
