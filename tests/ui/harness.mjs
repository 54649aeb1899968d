// The UI-only tests' static server and browser. The server serves the app's
// own files from ui/ and, beside them, the fake backend of this folder under
// /test-support/ — a path that exists only here, so the shipped bundle never
// contains the fake. `node tests/ui/serve.mjs` runs the same server for design work.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join, normalize } from 'node:path';
import { ROOT } from '../e2e/lib/paths.mjs';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const SUPPORT = '/test-support/';

/** The ui/ folder to serve: $LATCHKEY_UI_ROOT (e.g. another checkout's ui/, to compare) or this one's. */
export const UI_ROOT = process.env.LATCHKEY_UI_ROOT || join(ROOT, 'ui');

/** Starts the static server on a free loopback port; resolves to { base, close() }. */
export async function startServer() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = path.startsWith(SUPPORT)
      ? join(ROOT, 'tests/ui', path.slice(SUPPORT.length))
      : join(UI_ROOT, path === '/' ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Headless Debian chromium through playwright-core (never a downloaded browser). */
export function launchBrowser() {
  const require = createRequire(join(ROOT, 'tests/idp/package.json'));
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Opens `index.html?fake=<scenario>` in a new page; resolves once the window has rendered. */
export async function openPage(browser, base, scenario, { colorScheme = 'light', viewport = { width: 880, height: 640 }, clock = false } = {}) {
  const page = await browser.newPage({ colorScheme, viewport });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  if (clock) await page.clock.install();
  await page.goto(`${base}/index.html?fake=${scenario}`);
  await page.waitForSelector('body[data-ready=true]');
  return { page, errors };
}
