// The accounts window: the store holds the state, each view renders its part
// from it and updates in place. Backend events only reload the store.
import * as backend from './backend.js';
import * as store from './store.js';
import { mountBanners } from './views/banners.js';
import { mountNotices } from './views/notices.js';
import { mountPending } from './views/pending.js';
import { mountAccounts } from './views/accounts.js';
import { mountProviders } from './views/providers.js';
import { mountProviderEditor } from './views/provider-editor.js';
import { mountDialogs } from './views/dialogs.js';
import { mountAbout } from './views/about.js';

mountBanners();
mountNotices();
mountPending();
mountAccounts();
mountProviders();
mountProviderEditor();
mountDialogs();
mountAbout();
store.subscribe(() => {
  document.body.dataset.ready = 'true';
});

backend.subscribe(() => store.reload()).catch((err) => console.error('subscribe failed', err?.code ?? err));
store.reload();
