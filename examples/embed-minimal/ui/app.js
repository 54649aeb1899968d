// One Sign in button, one list of accounts (email + state) kept current by onChange.
import { signIn, accounts, onChange } from './latchkey.js';

const button = document.getElementById('sign-in');
const list = document.getElementById('accounts');
const status = document.getElementById('status');

// Errors are `{code, message}` (never a secret); the permission system rejects with a string.
const show = (err) => {
  status.dataset.code = err?.code ?? (err ? 'error' : '');
  status.textContent = err ? (err.code ? `${err.code}: ${err.message}` : String(err)) : '';
};

async function render() {
  const items = await accounts();
  list.replaceChildren(
    ...items.map((a) => {
      const li = document.createElement('li');
      Object.assign(li.dataset, { id: a.id, state: a.state });
      li.append(Object.assign(document.createElement('span'), { className: 'email', textContent: a.email ?? a.name ?? a.id }));
      li.append(' — ', Object.assign(document.createElement('span'), { className: 'state', textContent: a.state }));
      return li;
    }),
  );
}

button.onclick = () => signIn(button.dataset.provider).then(() => show(null), show);
await onChange((event) => {
  if (event.kind === 'sign_in_failed') show(event);
  render().catch(show);
});
await render().catch(show);
document.body.dataset.ready = 'true';
