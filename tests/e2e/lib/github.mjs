// Starts the GitHub-shaped OAuth server (tests/idp/github.mjs) on a free port.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { GITHUB_SERVER } from './paths.mjs';

export const GITHUB_CLIENT_ID = 'Iv1.latchkeytest';
export const GITHUB_CLIENT_SECRET = 'github-client-secret-4f1c9e';

/** A providers-file entry for it: the `github` preset with a (loopback) base URL, as for GitHub Enterprise Server. */
export function githubToml(server, { id, name }) {
  return `[[provider]]
id = "${id}"
name = "${name}"
preset = "github"
base_url = "${server.base}"
client_id = "${GITHUB_CLIENT_ID}"
insecure_http_loopback = true
`;
}

/** Starts it in `mode` (oauth-app | github-app); resolves to { base, grants(), grantErrors(), userCalls(), stop() }. */
export function startGithub(mode) {
  const child = spawn(process.execPath, [GITHUB_SERVER, '--mode', mode, '--client-id', GITHUB_CLIENT_ID,
    '--client-secret', GITHUB_CLIENT_SECRET], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const lines = (prefix) => stderr.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`github server exited with ${code}: ${stderr.join('\n')}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const { base } = JSON.parse(line);
      resolve({
        base,
        grants: () => lines('grant '),
        grantErrors: () => lines('grant-error '),
        userCalls: () => lines('user '),
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    });
  });
}
