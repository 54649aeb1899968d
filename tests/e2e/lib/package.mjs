// The built .deb, installed on this machine and purged again: apt-get (with
// sudo -n when not root), what the package owns, and the machine's state
// around it (for the "as it was before" check).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGET_DIR } from './paths.mjs';

export const PACKAGE = 'latchkey';
/**
 * Holds the pid of the test process that installed the package, removed when it purged it:
 * tells this suite's own leftover (its process is gone) from a person's install (no marker)
 * and from another run of the suite beside this one (its process lives).
 */
const MARKER = '/var/tmp/latchkey-e2e-installed-deb';

/** The pid of the run that installed the package, if its process still lives; else null. */
function liveOwner() {
  let pid;
  try {
    pid = Number(readFileSync(MARKER, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return err.code === 'EPERM' ? pid : null;
  }
}

/** The .deb to test: $LATCHKEY_DEB, else the one `scripts/package.sh --debug` made. */
export function builtDeb() {
  if (process.env.LATCHKEY_DEB) return process.env.LATCHKEY_DEB;
  const dir = join(TARGET_DIR, 'debug/bundle/deb');
  const debs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.deb')) : [];
  if (debs.length !== 1) throw new Error(`expected one .deb in ${dir} (scripts/package.sh --debug --bundles deb), found ${debs.length}`);
  return join(dir, debs[0]);
}

const asRoot = (args, options = {}) => {
  const argv = process.getuid() === 0 ? args : ['sudo', '-n', ...args];
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 900_000, ...options });
};

const apt = (...args) =>
  asRoot(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-o', 'DPkg::Lock::Timeout=900', '-y', '-q', ...args]);

/** The version of the package installed now, or null. */
export function installedVersion() {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', PACKAGE], { encoding: 'utf8' });
  const m = r.status === 0 ? r.stdout.match(/^install ok installed (\S+)/) : null;
  return m ? m[1] : null;
}

/** Paths of the regular files inside a .deb (`dpkg-deb -c`), absolute. */
export function debFiles(deb) {
  const r = spawnSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dpkg-deb -c failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('-')).map((l) => `/${l.split(/\s+/).slice(5).join(' ').replace(/^\.?\//, '')}`);
}

/**
 * Why this machine cannot run the test (a string), or null. A `latchkey` package this
 * suite did not install (a person's own) is never replaced or removed.
 */
export function cannotInstall(deb) {
  if (process.getuid() !== 0 && spawnSync('sudo', ['-n', 'true']).status !== 0) return 'not root and sudo needs a password';
  const owner = liveOwner();
  if (owner && owner !== process.pid) return `another run of this test (pid ${owner}) has the ${PACKAGE} package installed`;
  const version = installedVersion();
  if (version && !existsSync(MARKER)) return `the ${PACKAGE} package ${version} is installed on this machine (not by this test): left alone`;
  const taken = debFiles(deb).filter((f) => existsSync(f));
  if (!version && taken.length) return `files the package would install already exist: ${taken.join(', ')}`;
  return null;
}

/** Purges the package an interrupted earlier run left behind (marked, and its process is gone). */
export function purgeLeftover() {
  if (installedVersion() && existsSync(MARKER) && !liveOwner()) purge();
}

/** `apt-get install ./x.deb`; throws with apt's output when it fails. */
export function install(deb) {
  // apt reads a local .deb as the _apt user: give it a copy it can read.
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-deb-'));
  chmodSync(dir, 0o755);
  const copy = join(dir, deb.split('/').pop());
  copyFileSync(deb, copy);
  chmodSync(copy, 0o644);
  asRoot(['sh', '-c', `echo ${process.pid} > ${MARKER}`]);
  const r = apt('install', '--no-install-recommends', copy);
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`apt-get install failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** `apt-get purge -y latchkey`; throws with apt's output when it fails. */
export function purge() {
  const r = apt('purge', PACKAGE);
  if (r.status !== 0) throw new Error(`apt-get purge failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  asRoot(['rm', '-f', MARKER]);
  return r;
}

/** What a machine-wide handler lookup sees of the scheme: the mimeinfo.cache line and the desktop files naming it. */
export function schemeRegistration(scheme) {
  const mime = `x-scheme-handler/${scheme}`;
  const cache = '/usr/share/applications/mimeinfo.cache';
  const cacheLine = existsSync(cache) ? readFileSync(cache, 'utf8').split('\n').find((l) => l.startsWith(`${mime}=`)) ?? null : null;
  const desktopFiles = readdirSync('/usr/share/applications')
    .filter((f) => f.endsWith('.desktop'))
    .filter((f) => {
      try {
        return statSync(join('/usr/share/applications', f)).isFile() &&
          readFileSync(join('/usr/share/applications', f), 'utf8').split('\n').some((l) => l.startsWith('MimeType=') && l.includes(mime));
      } catch {
        return false;
      }
    });
  return { cacheLine, desktopFiles };
}

/**
 * A launcher for WebDriver that runs the app the way the desktop entry says: its Exec line
 * with the field codes (%u …) dropped and WebDriver's own arguments appended.
 */
export function launcherFromDesktopEntry(desktopFile, dir) {
  const exec = desktopExec(desktopFile);
  const command = exec.replace(/\s+%[fFuUdDnNickvm]/g, '');
  const file = join(dir, 'launch-from-desktop-entry.sh');
  writeFileSync(file, `#!/bin/sh\n# ${desktopFile}: Exec=${exec}\nexec ${command} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

/** The Exec= value of a desktop entry's [Desktop Entry] group. */
export function desktopExec(desktopFile) {
  const line = readFileSync(desktopFile, 'utf8').split('\n').find((l) => l.startsWith('Exec='));
  if (!line) throw new Error(`${desktopFile} has no Exec line`);
  return line.slice('Exec='.length).trim();
}
