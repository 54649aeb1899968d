// A throwaway desktop for one test: its own HOME and XDG folders, the app
// registered as the handler of its scheme (dev.latchkey: for Latchkey), the
// browser stand-in registered as the default web browser, tauri-driver and a
// WebDriver session on the real app (Latchkey, or another app given by `app`).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { APP_BINARY, RESULTS_DIR, STANDIN } from './paths.mjs';
import { WebDriver } from './webdriver.mjs';

export const APP_ID = 'dev.latchkey.app';
/** The app a Desktop runs unless told otherwise: Latchkey itself. */
export const LATCHKEY = { binary: APP_BINARY, id: APP_ID, scheme: 'dev.latchkey', name: 'Latchkey', desktopFile: 'latchkey-e2e.desktop' };
const WEBDRIVER_VARS = ['WEBKIT_INSPECTOR_SERVER', 'TAURI_AUTOMATION', 'TAURI_WEBVIEW_AUTOMATION'];

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function requireSessionServices(binary = APP_BINARY) {
  const missing = [];
  if (!process.env.DISPLAY) missing.push('DISPLAY (run under Xvfb)');
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) missing.push('DBUS_SESSION_BUS_ADDRESS (run under dbus-run-session)');
  for (const bin of ['/usr/bin/chromium', '/usr/bin/WebKitWebDriver', '/usr/bin/gio', '/usr/bin/xdg-mime', '/usr/bin/secret-tool']) {
    if (!existsSync(bin)) missing.push(bin);
  }
  if (!existsSync(binary)) missing.push(`${binary} (build the app first)`);
  if (spawnSync('tauri-driver', ['--help']).error) missing.push('tauri-driver (cargo install tauri-driver --locked)');
  if (missing.length) throw new Error(`the E2E environment is incomplete: ${missing.join(', ')}`);
}

export class Desktop {
  /**
   * @param {string} name results folder name
   * @param {{ env?: Record<string,string>, appEnv?: Record<string,string> }} [options]
   *   `env`: extra environment for tauri-driver, WebKitWebDriver and the app;
   *   `appEnv`: extra environment for the app process alone (and what it starts), set by a
   *   wrapper script that WebDriver launches in place of the binary (it execs the binary).
   * @param {{ binary: string, id: string, scheme: string, name: string, desktopFile: string,
   *   installed?: boolean, launcher?: string }} [options.app]
   *   the app under test (default LATCHKEY): its binary, identifier (config and data folder,
   *   keychain service), redirect scheme (it is registered as that scheme's handler), its name and
   *   its .desktop file. `installed`: the app brings its own handler for the scheme (a package's
   *   desktop entry, or an AppImage's registration at run time): nothing is registered for it
   *   here, and its processes are found however they were started (`latchkey-app …` from PATH,
   *   as a desktop's Exec line runs it).
   *   `launcher`: what WebDriver starts in place of the binary (a script that execs it).
   */
  constructor(name, options = {}) {
    this.app = options.app ?? LATCHKEY;
    requireSessionServices(this.app.binary);
    this.name = name;
    this.root = mkdtempSync(join(tmpdir(), `latchkey-e2e-${name}-`));
    const dir = (...p) => {
      const d = join(this.root, ...p);
      mkdirSync(d, { recursive: true });
      return d;
    };
    this.home = dir('home');
    this.configHome = dir('config');
    this.dataHome = dir('data');
    this.cacheHome = dir('cache');
    this.runtimeDir = dir('runtime');
    chmodSync(this.runtimeDir, 0o700);
    this.standinDir = dir('standin');
    this.resultsDir = join(RESULTS_DIR, name);
    mkdirSync(this.resultsDir, { recursive: true });
    this.appLog = join(this.resultsDir, 'app.log');

    const env = { ...process.env };
    for (const v of ['XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION', 'BROWSER', 'LATCHKEY_PROVIDERS', ...WEBDRIVER_VARS]) delete env[v];
    Object.assign(env, {
      HOME: this.home,
      XDG_CONFIG_HOME: this.configHome,
      XDG_DATA_HOME: this.dataHome,
      XDG_CACHE_HOME: this.cacheHome,
      XDG_RUNTIME_DIR: this.runtimeDir,
      LATCHKEY_LOG: process.env.LATCHKEY_LOG ?? 'info',
      NO_AT_BRIDGE: '1',
    });
    Object.assign(env, options.env ?? {});
    this.env = env;
    this.application = options.appEnv ? this.#wrapper(options.appEnv) : (this.app.launcher ?? this.app.binary);
    this.#registerHandlers();
  }

  #wrapper(appEnv) {
    const quote = (v) => `'${String(v).replaceAll("'", "'\\''")}'`;
    const file = join(this.root, 'latchkey-app-wrapper.sh');
    const assignments = Object.entries(appEnv).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
    writeFileSync(file, `#!/bin/sh\n# The app with extra environment for it alone.\nexec env ${assignments} ${quote(this.app.binary)} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  #registerHandlers() {
    const apps = join(this.dataHome, 'applications');
    mkdirSync(apps, { recursive: true });
    if (!this.app.installed) {
      writeFileSync(
        join(apps, this.app.desktopFile),
        ['[Desktop Entry]', 'Type=Application', `Name=${this.app.name} (test)`, `Exec=${this.app.binary} %u`, 'Terminal=false',
          `MimeType=x-scheme-handler/${this.app.scheme};`, 'NoDisplay=true', ''].join('\n'),
      );
    }
    writeFileSync(
      join(apps, 'standin-browser.desktop'),
      ['[Desktop Entry]', 'Type=Application', 'Name=Stand-in browser', `Exec=${process.execPath} ${STANDIN} --dir ${this.standinDir} %u`,
        'Terminal=false', 'MimeType=x-scheme-handler/http;x-scheme-handler/https;text/html;', 'NoDisplay=true', ''].join('\n'),
    );
    // A stand-in file manager: records the folders it is asked to open.
    const recorder = join(this.standinDir, 'file-manager.sh');
    writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${join(this.standinDir, 'opened-folders.txt')}'\n`);
    chmodSync(recorder, 0o755);
    writeFileSync(
      join(apps, 'standin-files.desktop'),
      ['[Desktop Entry]', 'Type=Application', 'Name=Stand-in file manager', `Exec=${recorder} %f`, 'Terminal=false',
        'MimeType=inode/directory;', 'NoDisplay=true', ''].join('\n'),
    );
    const xdgMime = (...args) => execFileSync('xdg-mime', args, { env: this.env, stdio: 'pipe' });
    xdgMime('default', 'standin-files.desktop', 'inode/directory');
    if (!this.app.installed) xdgMime('default', this.app.desktopFile, `x-scheme-handler/${this.app.scheme}`);
    xdgMime('default', 'standin-browser.desktop', 'x-scheme-handler/http', 'x-scheme-handler/https', 'text/html');
  }

  /** Writes the providers file at the default location of the app (or of the app `id`). */
  writeProviders(toml, id = this.app.id) {
    const dir = join(this.configHome, id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'providers.toml'), toml);
  }

  /** Configures the browser stand-in for its next launches. */
  configureBrowser(config) {
    writeFileSync(join(this.standinDir, 'config.json'), JSON.stringify(config));
  }

  /**
   * Runs the browser stand-in on `url` as a person would (by hand, not through
   * the desktop's handler); resolves to its exit code.
   */
  runBrowser(url) {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [STANDIN, '--dir', this.standinDir, url], { env: this.env, stdio: 'ignore' });
      child.once('exit', (code) => resolve(code));
    });
  }

  /** Every launch of the browser stand-in so far. */
  browserLaunches() {
    const file = join(this.standinDir, 'launches.jsonl');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  }

  /** Redirect URLs the stand-in captured, in order. */
  browserRedirects() {
    const file = join(this.standinDir, 'redirects.jsonl');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).url) : [];
  }

  /** Pages the stand-in got from a loopback redirect: { at, url, status, headers, text, html }. */
  loopbackAnswers() {
    const file = join(this.standinDir, 'loopback-answers.jsonl');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  }

  /** Folders the stand-in file manager was asked to open, in order. */
  openedFolders() {
    const file = join(this.standinDir, 'opened-folders.txt');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** Lets a held stand-in deliver its redirect. */
  releaseBrowser(holdFile) {
    writeFileSync(join(this.standinDir, holdFile), '');
  }

  /** The account registry file of the app (or of the app `id`), parsed (null when absent). */
  registry(id = this.app.id) {
    const file = this.registryPath(id);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  }

  /** The secret of one of our keychain items (null when absent). */
  keychainSecret(username, service = this.app.id) {
    const out = spawnSync('secret-tool', ['lookup', 'service', service, 'username', username], { encoding: 'utf8', env: this.env });
    return out.status === 0 ? out.stdout : null;
  }

  /** Deletes one of our keychain items by hand. */
  deleteKeychainItem(username, service = this.app.id) {
    spawnSync('secret-tool', ['clear', 'service', service, 'username', username], { env: this.env });
  }

  /** Creates a keychain item by hand. */
  storeKeychainItem(username, secret, service = this.app.id) {
    const r = spawnSync('secret-tool', ['store', '--label=planted by a test', 'service', service, 'username', username], {
      env: this.env,
      input: secret,
    });
    if (r.status !== 0) throw new Error(`secret-tool store failed: ${r.stderr}`);
  }

  /** Path of the registry file of the app (or of the app `id`). */
  registryPath(id = this.app.id) {
    return join(this.dataHome, id, 'accounts.json');
  }

  /** The app's own log file (all instances of this desktop append to it). */
  logFilePath() {
    return join(this.dataHome, this.app.id, 'logs', 'latchkey.log');
  }

  /** Hands a URL to the OS exactly as a browser would: `gio open`. */
  gioOpen(url) {
    // gio's output goes to a file, not to pipes: an app that gio starts (a cold
    // start) inherits them, and spawnSync would wait for the app to close its
    // copies, that is, to exit (it used to wait out its 30-s timeout).
    const errors = join(this.resultsDir, 'gio-open.stderr');
    const fd = openSync(errors, 'w');
    let result;
    try {
      result = spawnSync('gio', ['open', url], { env: this.env, stdio: ['ignore', fd, fd], timeout: 30_000 });
    } finally {
      closeSync(fd);
    }
    if (result.status !== 0) {
      throw new Error(`gio open failed (${result.status ?? result.error?.code}): ${readFileSync(errors, 'utf8')}`);
    }
  }

  /**
   * Switches this desktop to a private session bus that has no Secret Service
   * (no service files: nothing can be activated). Call before startApp().
   */
  async withoutKeychain() {
    const config = join(this.root, 'bare-bus.conf');
    writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:tmpdir=${this.runtimeDir}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`);
    this.bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const address = await new Promise((resolve, reject) => {
      this.bus.stdout.once('data', (d) => resolve(String(d).trim()));
      this.bus.once('exit', (code) => reject(new Error(`dbus-daemon exited ${code}`)));
    });
    this.env.DBUS_SESSION_BUS_ADDRESS = address;
  }

  /** pgrep -f -x pattern of the app's command line (an installed app also by its bare name, from PATH). */
  #processPattern() {
    const escaped = this.app.binary.replace(/[.+]/g, '\\$&');
    return this.app.installed ? `(${escaped}|${basename(this.app.binary).replace(/[.+]/g, '\\$&')})( .*)?` : `${escaped}( .*)?`;
  }

  /** Pids of running app processes started for this desktop. */
  appPids() {
    const out = spawnSync('pgrep', ['-f', '-x', this.#processPattern()], { encoding: 'utf8' }).stdout;
    return out.split('\n').filter(Boolean).map(Number).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`HOME=${this.home}`);
      } catch {
        return false;
      }
    });
  }

  /** Visible top-level windows titled "Latchkey". */
  visibleAppWindows() {
    const out = spawnSync('xdotool', ['search', '--onlyvisible', '--name', '^Latchkey$'], { encoding: 'utf8' }).stdout;
    return out.split('\n').filter(Boolean).length;
  }

  /** Attributes of our keychain items (`secret-tool search --all service <id>`). */
  keychainItems(service = this.app.id) {
    return this.keychainSearch('service', service);
  }

  /** Attributes of every keychain item, of any app, whose `attribute` is `value`. */
  keychainSearch(attribute, value) {
    // secret-tool prints the secret on stdout and the rest on stderr: merge them in order.
    const out = spawnSync('sh', ['-c', 'secret-tool search --all "$1" "$2" 2>&1', 'sh', attribute, value], { encoding: 'utf8', env: this.env });
    const items = [];
    let current = null;
    for (const line of out.stdout.split('\n')) {
      if (line.startsWith('[/')) {
        current = { path: line.trim() };
        items.push(current);
      } else if (current && line.includes(' = ')) {
        const [k, ...v] = line.split(' = ');
        current[k.trim()] = v.join(' = ').trim();
      }
    }
    return items;
  }

  /** Starts tauri-driver and opens a WebDriver session on the app. */
  async startApp() {
    // single-instance: another app on this session bus would swallow the launch. (One
    // on another bus — a person's own Latchkey beside the suite — does not matter.)
    const bus = `DBUS_SESSION_BUS_ADDRESS=${this.env.DBUS_SESSION_BUS_ADDRESS}`;
    const others = spawnSync('pgrep', ['-f', '-x', this.#processPattern()], { encoding: 'utf8' }).stdout
      .split('\n').filter(Boolean).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(bus);
        } catch {
          return false;
        }
      });
    if (others.length) throw new Error(`another ${this.app.id} instance is running on this session (pids ${others.join(', ')})`);
    const port = await freePort();
    const nativePort = await freePort();
    const log = createWriteStream(this.appLog, { flags: 'a' });
    this.driver = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.driver.stdout.pipe(log);
    this.driver.stderr.pipe(log);
    this.webdriver = await WebDriver.connect(`http://127.0.0.1:${port}`, this.application);
    await this.webdriver.waitFor(() => this.webdriver.execute('return document.body.dataset.ready === "true"'), {
      what: 'the window to render its first state',
    });
    return this.webdriver;
  }

  /** Ends the WebDriver session (closing the app) and tauri-driver. */
  async stopApp() {
    if (this.webdriver) await this.webdriver.close();
    this.webdriver = null;
    if (this.driver && this.driver.exitCode === null) {
      const exited = new Promise((r) => this.driver.once('exit', r));
      this.driver.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
    }
    this.driver = null;
    // Wait for the app itself to finish (it flushes and exits within its 3 s grace), so the
    // next startApp never meets a process that is still on its way out.
    await this.signalAndWait('SIGTERM', 8000);
    await this.signalAndWait('SIGKILL', 3000);
    this.bus?.kill();
    this.bus = null;
  }

  /** Sends `signal` to this desktop's app processes and waits (up to `timeoutMs`) until they are gone. */
  async signalAndWait(signal, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let pids = this.appPids();
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {}
    }
    while (pids.length && Date.now() < deadline) {
      await sleep(100);
      pids = this.appPids();
    }
  }

  async screenshot(label) {
    if (!this.webdriver) return;
    try {
      // Let the last DOM change paint before the snapshot.
      await this.webdriver.execute('return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))');
      await sleep(300);
      // The X screen as a person sees it (ImageMagick's `import`), not WebDriver's
      // snapshot: WebKit takes that from its composited layers, and the app draws in
      // software (src-tauri/src/rendering.rs), where the snapshot never comes.
      const window = this.appPids()
        .flatMap((pid) => spawnSync('xdotool', ['search', '--onlyvisible', '--pid', String(pid)], { env: this.env, encoding: 'utf8' }).stdout.split('\n'))
        .find(Boolean) ?? 'root';
      const shot = spawnSync('import', ['-window', window, join(this.resultsDir, `${label}.png`)], {
        env: this.env,
        encoding: 'utf8',
        timeout: 15_000,
      });
      if (shot.status !== 0) throw new Error(`import failed (${shot.status}): ${shot.stderr}`);
    } catch (err) {
      writeFileSync(join(this.resultsDir, `${label}.screenshot-error.txt`), String(err));
    }
  }

  appLogText() {
    return existsSync(this.appLog) ? readFileSync(this.appLog, 'utf8') : '';
  }
}

export { sleep };
