// Latchkey's app against a hello-world Tauri app with the same plugins
// (benches/hello-app), run by scripts/bench-app.sh inside one Xvfb display,
// one D-Bus session and one unlocked gnome-keyring.
//
// Each round launches both apps once, in alternating order, each with fresh
// config/data folders; Latchkey with 3 signed-in accounts at the local IdP
// (real grants: tests/idp/seed.mjs). Per launch, from the exec:
//   - the window mapped: the first MapNotify on the root window after the
//     exec (an X event, read from `xev -root`; no polling);
//   - Latchkey's first account refreshed: the first "access token refreshed"
//     line of its log (its timestamps against the exec's clock);
//   - CPU (user + system, all processes of the app: WebKit's web and network
//     processes included) in the first 5 s and over the 60 s after them;
//   - PSS and RSS of all those processes at 5 s and at 65 s (/proc).
// The app is stopped by its process group, never by name.
//
// Usage: node tests/bench/app-bench.mjs --hello BIN --latchkey BIN [--rounds N] [--idle SECONDS]
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startIdp, providerToml } from '../e2e/lib/idp.mjs';
import { seedAccounts } from '../e2e/lib/seed.mjs';

const { values: args } = parseArgs({
  options: {
    hello: { type: 'string' }, latchkey: { type: 'string' }, rounds: { type: 'string', default: '3' },
    // Shorter idle windows only to try the script itself.
    idle: { type: 'string', default: '60' },
  },
});
const ROUNDS = Number(args.rounds);
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const FIRST = 5_000;
const IDLE = Number(args.idle) * 1000;
const ACCOUNTS = 3;

// ── X: MapNotify events on the root window, with their arrival time.
const maps = [];
const xev = spawn('stdbuf', ['-oL', 'xev', '-root', '-event', 'substructure'], { stdio: ['ignore', 'pipe', 'ignore'] });
createInterface({ input: xev.stdout }).on('line', (line) => {
  if (line.startsWith('MapNotify event')) maps.push(performance.timeOrigin + performance.now());
});

// ── /proc: an app's processes and what they cost.
function children() {
  const byParent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (!byParent.has(ppid)) byParent.set(ppid, []);
      byParent.get(ppid).push(Number(name));
    } catch { /* gone */ }
  }
  return byParent;
}

function tree(root) {
  const byParent = children();
  const all = [root];
  for (let i = 0; i < all.length; i++) all.push(...(byParent.get(all[i]) ?? []));
  return all;
}

/** CPU seconds of the app's processes (reaped children included, through the root's cutime/cstime). */
function cpu(root) {
  let ticks = 0;
  for (const pid of tree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime are fields 14–17 (index 11–14 after the name).
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch { /* gone */ }
  }
  return ticks / TICK;
}

/** PSS and RSS (MiB) of the app's processes. */
function memory(root) {
  let pss = 0;
  let rss = 0;
  for (const pid of tree(root)) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return { pss: pss / 1024, rss: rss / 1024 };
}

const at = (t) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));

// ── One launch.
async function launch(kind, binary, idp, round) {
  const dir = mkdtempSync(join(tmpdir(), `lk-bench-${kind}-`));
  const env = {
    ...process.env,
    HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'),
    XDG_CACHE_HOME: join(dir, 'cache'), LATCHKEY_LOG: 'info',
  };
  mkdirSync(env.HOME, { recursive: true });
  const items = [];
  if (kind === 'latchkey') {
    mkdirSync(join(env.XDG_CONFIG_HOME, 'dev.latchkey.app'), { recursive: true });
    writeFileSync(join(env.XDG_CONFIG_HOME, 'dev.latchkey.app/providers.toml'), providerToml(idp));
    // Seeded as the E2E tests seed them (registry + one keychain item each).
    const seeded = seedAccounts({
      registryPath: () => join(env.XDG_DATA_HOME, 'dev.latchkey.app/accounts.json'),
      storeKeychainItem: (username, secret) => {
        const stored = spawnSync('secret-tool', ['store', '--label=bench', 'service', 'dev.latchkey.app', 'username', username], { input: secret });
        if (stored.status !== 0) throw new Error(`secret-tool store failed: ${stored.stderr}`);
      },
    }, idp, { prefix: `b${round}`, count: ACCOUNTS });
    items.push(...seeded.map((a) => a.id));
  }
  const mapsBefore = maps.length;
  const started = performance.timeOrigin + performance.now();
  const app = spawn(binary, [], { env, detached: true, stdio: 'ignore' });
  const exited = new Promise((resolve) => app.once('exit', resolve));
  await at(started + FIRST);
  const cpu5 = cpu(app.pid);
  const mem5 = memory(app.pid);
  await at(started + FIRST + IDLE);
  const cpu65 = cpu(app.pid);
  const mem65 = memory(app.pid);
  try { process.kill(-app.pid, 'SIGTERM'); } catch { /* gone */ }
  const stopped = await Promise.race([exited.then(() => true), at(Date.now() + 10_000).then(() => false)]);
  if (!stopped) try { process.kill(-app.pid, 'SIGKILL'); } catch { /* gone */ }
  const mapped = maps.length > mapsBefore ? maps[mapsBefore] - started : null;
  let ready = null;
  const log = join(env.XDG_DATA_HOME, 'dev.latchkey.app/logs/latchkey.log');
  if (kind === 'latchkey' && existsSync(log)) {
    const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('access token refreshed'));
    if (line) ready = Date.parse(line.slice(0, line.indexOf('Z') + 1)) - started;
  }
  for (const id of items) spawnSync('secret-tool', ['clear', 'service', 'dev.latchkey.app', 'username', id]);
  rmSync(dir, { recursive: true, force: true });
  return { mapped, ready, cpuFirst: cpu5, cpuIdle: cpu65 - cpu5, pss5: mem5.pss, pss65: mem65.pss, rss5: mem5.rss, rss65: mem65.rss };
}

// ── Rounds, then the table.
const idp = await startIdp();
const runs = { hello: [], latchkey: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['hello', 'latchkey'] : ['latchkey', 'hello'];
    for (const kind of order) {
      const run = await launch(kind, kind === 'hello' ? args.hello : args.latchkey, idp, round);
      runs[kind].push(run);
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${kind}: ${JSON.stringify(run, (k, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}\n`);
    }
  }
} finally {
  xev.kill();
  await idp.stop();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => (xs.length ? `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '—');
function fmt(x) {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}
const rows = [
  ['exec → window mapped (ms)', 'mapped', 'mapped'],
  ['exec → first account refreshed (ms) vs hello mapped', 'mapped', 'ready'],
  ['CPU in the first 5 s (s)', 'cpuFirst', 'cpuFirst'],
  [`CPU over the next ${IDLE / 1000} s, idle (s)`, 'cpuIdle', 'cpuIdle'],
  ['PSS at 5 s (MiB)', 'pss5', 'pss5'],
  [`PSS at ${(FIRST + IDLE) / 1000} s (MiB)`, 'pss65', 'pss65'],
  ['RSS at 5 s (MiB)', 'rss5', 'rss5'],
  [`RSS at ${(FIRST + IDLE) / 1000} s (MiB)`, 'rss65', 'rss65'],
];
const sizes = [['release binary (MiB)', statSync(args.hello).size / 2 ** 20, statSync(args.latchkey).size / 2 ** 20]];
console.log(`| what | hello-world | Latchkey | ratio of medians | pair ratios min / median / max |`);
console.log('|---|---:|---:|---:|---:|');
for (const [what, h, l] of rows) {
  const hs = runs.hello.map((r) => r[h]).filter((x) => x !== null);
  const ls = runs.latchkey.map((r) => r[l]).filter((x) => x !== null);
  const pairs = runs.hello.map((r, i) => (r[h] && runs.latchkey[i][l] !== null ? runs.latchkey[i][l] / r[h] : null)).filter((x) => x !== null);
  const ratio = hs.length && ls.length && median(hs) > 0 ? `${fmt(median(ls) / median(hs))}×` : '—';
  const pairText = pairs.length ? `${fmt(Math.min(...pairs))} / ${fmt(median(pairs))} / ${fmt(Math.max(...pairs))}` : '—';
  console.log(`| ${what} | ${spread(hs)} | ${spread(ls)} | ${ratio} | ${pairText} |`);
}
for (const [what, h, l] of sizes) console.log(`| ${what} | ${fmt(h)} | ${fmt(l)} | ${fmt(l / h)}× | — |`);
console.log(`\n${ROUNDS} rounds (alternating order), ${ACCOUNTS} accounts; load average before: ${process.env.BENCH_LOADAVG ?? '?'}`);
process.exit(0);
