#!/usr/bin/env node
// "System browser" stand-in for Latchkey's end-to-end tests.
//
// The test environment registers this script as the default web browser
// (x-scheme-handler/http and https). When the app opens an authorization URL
// through tauri-plugin-opener, the desktop launches this script with the URL.
// It records the launch, drives headless Debian chromium through the IdP's
// login and consent pages, captures the custom-scheme redirect on a CDP
// session (Playwright's page events do not show it) and hands that URL back to
// the OS with `gio open`, so it reaches the app through the real .desktop
// handler and single-instance forwarding. A loopback redirect
// (`redirect_uri=http://127.0.0.1:PORT/…`, RFC 8252 §7.3) is left to the
// browser, which navigates to the app's listener as any browser would; the
// page the app answers is recorded in <state dir>/loopback-answers.jsonl.
//
// Device mode (RFC 8628 verification page, no redirect): on the IdP's
// verification URI it submits the user code (the complete URI carries it;
// otherwise config "userCode" is typed into the page's input), confirms (or
// aborts, for "deny"), logs in and consents with the same loop, and exits 0
// once the IdP's success page shows (or, for "deny", its "interrupted" page).
// Each outcome is appended to <state dir>/device.jsonl.
//
// Usage: standin.mjs --dir <state dir> <url>
// <state dir>/config.json (optional, read at each launch):
//   { "login": "alice",           // login name (default: login_hint or "alice")
//     "action": "consent",        // consent | deny | ignore (record only)
//     "device": true,             // device mode (default: the URL's path ends in /device)
//     "userCode": "WDJB-MJHT",    // device mode, for a verification URI without the code
//     "holdFile": "release",      // wait for <dir>/<holdFile> before delivering
//     "setParams": { "iss": "x" } } // tamper with the redirect's query (attack tests)
//   (holdFile and setParams apply to custom-scheme redirects only.)
// <state dir>/launches.jsonl gets one line per launch; <state dir>/standin.log the details.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../idp/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const { values, positionals } = parseArgs({
  options: { dir: { type: 'string' } },
  allowPositionals: true,
});
const dir = values.dir;
const target = positionals[0];
if (!dir || !target) {
  console.error('usage: standin.mjs --dir <state dir> <url>');
  process.exit(2);
}

function log(message) {
  appendFileSync(join(dir, 'standin.log'), `${new Date().toISOString()} [${process.pid}] ${message}\n`);
}

function readConfig() {
  const file = join(dir, 'config.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

appendFileSync(join(dir, 'launches.jsonl'), `${JSON.stringify({ at: Date.now(), url: target, pid: process.pid })}\n`);
const config = readConfig();
const action = config.action ?? 'consent';
const login = config.login ?? new URL(target).searchParams.get('login_hint') ?? 'alice';
const device = config.device ?? /\/device$/.test(new URL(target).pathname);
log(`launched action=${action} login=${login}${device ? ' device' : ''}`);
if (action === 'ignore') process.exit(0);
// The app's loopback listener, when the request names one.
const loopbackRedirect = (() => {
  const uri = new URL(target).searchParams.get('redirect_uri') ?? '';
  return /^http:\/\/127\.0\.0\.1:\d+\//.test(uri) ? uri : null;
})();
const isLoopbackRedirect = (url) => !!loopbackRedirect && typeof url === 'string' && url.split('?')[0] === loopbackRedirect;

function isLoopback(url) {
  try {
    const { protocol, hostname } = new URL(url);
    if (protocol !== 'http:' && protocol !== 'https:') return true;
    return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
  } catch {
    return false;
  }
}

const visible = async (page, selector) => page.locator(selector).first().isVisible().catch(() => false);

/**
 * The device verification flow: resolves to 'success' (the IdP's success page),
 * 'denied' (its "interrupted" page after an abort) or null (neither in time).
 */
async function driveDevice(page) {
  await page.goto(target).catch((err) => log(`goto: ${err.message.split('\n')[0]}`));
  const deadline = Date.now() + 30_000;
  let steps = 0;
  while (Date.now() < deadline && steps < 12) {
    const text = await page.locator('body').innerText().catch(() => '');
    if ((await page.title().catch(() => '')) === 'Sign-in Success') return 'success';
    if (/interrupted/i.test(text)) return 'denied';
    if (/incorrect|expired|already/i.test(text) && (await visible(page, 'input[name=user_code]'))) {
      log(`the verification page refused the code: ${text.replace(/\s+/g, ' ').slice(0, 120)}`);
      return null;
    }
    if (await visible(page, 'input[name=user_code]')) {
      if (!config.userCode) throw new Error('a user code is asked for and config.userCode is not set');
      log('typing the user code');
      await page.fill('input[name=user_code]', config.userCode);
      await page.click('button[type=submit][form="op.deviceInputForm"]').catch((err) => log(`code: ${err.message}`));
      steps += 1;
    } else if (await visible(page, 'button[name=abort]')) {
      // The confirmation page: "Continue" or "[ Abort ]".
      log(action === 'deny' ? 'aborting at the confirmation page' : 'confirming the device');
      const button = action === 'deny' ? 'button[name=abort]' : 'button[autofocus][form="op.deviceConfirmForm"]';
      await page.click(button).catch((err) => log(`confirm: ${err.message}`));
      steps += 1;
    } else if (await visible(page, 'input[name=login]')) {
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', 'any-password');
      await page.click('button[type=submit]').catch((err) => log(`submit: ${err.message}`));
      steps += 1;
    } else if (await visible(page, 'button[type=submit]')) {
      await page.click('button[type=submit]').catch((err) => log(`consent: ${err.message}`));
      steps += 1;
    }
    await sleep(250);
  }
  return null;
}

async function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

async function newPage(browser) {
  const context = await browser.newContext();
  // The dev login page imports a web font: never leave the machine.
  await context.route('**/*', (route) => (isLoopback(route.request().url()) ? route.continue() : route.abort()));
  return { context, page: await context.newPage() };
}

async function drive() {
  const browser = await launch();
  try {
    const { context, page } = await newPage(browser);
    const cdp = await context.newCDPSession(page);
    let redirect = null;
    let answer = null;
    const capture = (url) => {
      if (!redirect && isLoopbackRedirect(url)) redirect = url;
      // Only an absolute URL in a private-use scheme (RFC 8252 §7.1) is the redirect;
      // relative Location headers and web schemes are the IdP's own navigation.
      if (!redirect && url && /^[a-z][a-z0-9+.-]*:/i.test(url) && !/^(https?|data|about|chrome|blob|devtools|ws|wss):/i.test(url)) {
        redirect = url;
      }
    };
    cdp.on('Network.requestWillBeSent', (event) => capture(event.request?.url));
    cdp.on('Network.responseReceivedExtraInfo', (event) => capture(event.headers?.location ?? event.headers?.Location));
    cdp.on('Network.responseReceived', (event) => {
      if (isLoopbackRedirect(event.response?.url)) answer = { status: event.response.status, headers: event.response.headers };
    });
    await cdp.send('Network.enable');
    await page.goto(target).catch((err) => log(`goto: ${err.message.split('\n')[0]}`));
    const deadline = Date.now() + 30_000;
    let steps = 0;
    while ((!redirect || (loopbackRedirect && !answer)) && Date.now() < deadline && steps < 10) {
      if (await page.locator('input[name=login]').count()) {
        if (action === 'deny') {
          log('denying at the login page');
          await page.locator('a[href$="/abort"]').first().click().catch((err) => log(`abort: ${err.message}`));
        } else {
          await page.fill('input[name=login]', login);
          await page.fill('input[name=password]', 'any-password');
          await page.click('button[type=submit]').catch((err) => log(`submit: ${err.message}`));
        }
        steps += 1;
      } else if (await page.locator('button[type=submit]').count()) {
        if (action === 'deny') {
          await page.locator('a[href$="/abort"]').first().click().catch((err) => log(`abort: ${err.message}`));
        } else {
          await page.click('button[type=submit]').catch((err) => log(`consent: ${err.message}`));
        }
        steps += 1;
      }
      await sleep(250);
    }
    if (loopbackRedirect && redirect) {
      // The browser went to the app's listener itself: keep what it answered.
      await page.waitForLoadState('load').catch(() => {});
      const text = await page.locator('body').innerText().catch(() => '');
      const html = await page.content().catch(() => '');
      appendFileSync(join(dir, 'loopback-answers.jsonl'), `${JSON.stringify({ at: Date.now(), url: page.url(), ...answer, text, html })}\n`);
    }
    return redirect;
  } finally {
    await browser.close();
  }
}

if (device) {
  try {
    const browser = await launch();
    let outcome;
    try {
      outcome = await driveDevice((await newPage(browser)).page);
    } finally {
      await browser.close();
    }
    log(`device flow ended: ${outcome ?? 'no success page'}`);
    appendFileSync(join(dir, 'device.jsonl'), `${JSON.stringify({ at: Date.now(), outcome })}\n`);
    process.exit(outcome === (action === 'deny' ? 'denied' : 'success') ? 0 : 1);
  } catch (err) {
    log(`error: ${err.stack}`);
    process.exit(1);
  }
}

try {
  const redirect = await drive();
  if (!redirect) {
    log('no custom-scheme redirect captured');
    process.exit(1);
  }
  log(`captured redirect ${redirect.split('?')[0]}`);
  if (loopbackRedirect) {
    appendFileSync(join(dir, 'redirects.jsonl'), `${JSON.stringify({ at: Date.now(), url: redirect })}\n`);
    log('loopback redirect: the browser delivered it to the app');
    process.exit(0);
  }
  let delivered = redirect;
  if (config.setParams) {
    const [base, query = ''] = redirect.split('?');
    const params = new URLSearchParams(query);
    for (const [k, v] of Object.entries(config.setParams)) params.set(k, v);
    delivered = `${base}?${params}`;
    log(`tampered with ${Object.keys(config.setParams).join(', ')}`);
  }
  appendFileSync(join(dir, 'redirects.jsonl'), `${JSON.stringify({ at: Date.now(), url: redirect })}\n`);
  if (config.holdFile) {
    const hold = join(dir, config.holdFile);
    log(`holding until ${hold} exists`);
    const until = Date.now() + 120_000;
    while (!existsSync(hold) && Date.now() < until) await sleep(100);
  }
  // WebDriver's variables leak through xdg-open into this process: do not hand
  // them on to the app instance that gio may start.
  const env = { ...process.env };
  for (const name of ['WEBKIT_INSPECTOR_SERVER', 'TAURI_AUTOMATION', 'TAURI_WEBVIEW_AUTOMATION']) delete env[name];
  const result = spawnSync('gio', ['open', delivered], { env, stdio: 'ignore', timeout: 30_000 });
  log(`gio open exited ${result.status}`);
  process.exit(result.status ?? 1);
} catch (err) {
  log(`error: ${err.stack}`);
  process.exit(1);
}
