// Serves the window with the fake backend for design work:
//   node tests/ui/serve.mjs   → open the printed URL in a browser (Ctrl-C stops it).
import { startServer } from './harness.mjs';

const { base } = await startServer();
for (const scenario of ['empty', 'accounts', 'refused', 'pending', 'keychain', 'file-vault', 'file-vault-locked', 'errors']) {
  console.log(`${base}/index.html?fake=${scenario}`);
}
