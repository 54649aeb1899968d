// The `latchkey` command as a long-running process (sign-in): its first
// stdout line (the `--json` prompt), its whole output, signals.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI_BINARY } from './paths.mjs';

/**
 * Starts `latchkey ARGS` in `desktop`'s environment (debug logs on: hygiene
 * checks read them) with `env` on top (it may set LATCHKEY_LOG too). Returns
 * { prompt, done, child, stderr() }:
 * `prompt` resolves to the first stdout line, parsed as JSON; `done` to
 * { code, signal, stdout, stderr } once it has exited; `stderr()` is what it
 * wrote there so far. `onClose(args, result)` sees every finished run.
 */
export function startCli(desktop, args, { env = {}, onClose = () => {}, timeoutMs = 120_000 } = {}) {
  const child = spawn(CLI_BINARY, args, { env: { ...desktop.env, LATCHKEY_LOG: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout });
  const prompt = new Promise((resolve, reject) => {
    lines.once('line', (line) => {
      try {
        resolve(JSON.parse(line));
      } catch (err) {
        reject(err);
      }
    });
    child.once('exit', () => reject(new Error(`latchkey exited before printing its first line: ${stderr}`)));
  });
  prompt.catch(() => {});
  lines.on('line', (line) => { stdout += `${line}\n`; });
  const done = new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, signal, stdout, stderr };
      onClose(args, result);
      resolve(result);
    });
  });
  return { prompt, done, child, stderr: () => stderr };
}
