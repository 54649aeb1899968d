// Where things are: the repository, the built app, the IdP and the stand-in.
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { homedir } from 'node:os';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TARGET_DIR = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache/latchkey-target');
export const APP_BINARY = process.env.LATCHKEY_APP_BINARY || join(TARGET_DIR, 'debug/latchkey-app');
// examples/embed-minimal: a second app that embeds tauri-plugin-latchkey.
export const EMBED_BINARY = process.env.LATCHKEY_EMBED_BINARY || join(TARGET_DIR, 'debug/embed-minimal');
// The `latchkey` command (crates/latchkey-cli).
export const CLI_BINARY = process.env.LATCHKEY_CLI_BINARY || join(TARGET_DIR, 'debug/latchkey');
export const IDP_SERVER = join(ROOT, 'tests/idp/server.mjs');
export const GITHUB_SERVER = join(ROOT, 'tests/idp/github.mjs');
export const STANDIN = join(ROOT, 'tests/browser/standin.mjs');
export const RESULTS_DIR = process.env.LATCHKEY_RESULTS_DIR || join(ROOT, 'tests/results');
export const HAMMER_BINARY = join(TARGET_DIR, 'debug/examples/refresh_hammer');
export const IDP_SEED = join(ROOT, 'tests/idp/seed.mjs');
