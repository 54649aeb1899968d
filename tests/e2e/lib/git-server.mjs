// A git smart-HTTP server for tests: `git http-backend` (CGI) behind HTTP
// Basic authentication whose password must be an access token the test IdP
// accepts (checked at its UserInfo endpoint), as a forge that takes OAuth
// tokens does.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';

/**
 * Serves the bare repositories under `root` on 127.0.0.1.
 * `authorize(username, password)` resolves to who it is (a string) or null.
 * Resolves to { url, users: [who per authorized request], refused(), errors, stop() }.
 */
export function startGitServer({ root, authorize }) {
  const users = [];
  const errors = [];
  let refused = 0;
  const server = createServer((req, res) => {
    serve(req, res).catch((err) => {
      // Never leave git waiting for an answer.
      errors.push(String(err?.stack ?? err));
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  async function serve(req, res) {
    const [, basic] = (req.headers.authorization ?? '').match(/^Basic (\S+)$/) ?? [];
    const [username, ...rest] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
    const who = username ? await authorize(username, rest.join(':')) : null;
    if (!who) {
      if (basic) refused += 1;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="latchkey-test"' }).end();
      return;
    }
    users.push(who);
    const body = [];
    for await (const chunk of req) body.push(chunk);
    const url = new URL(req.url, 'http://localhost');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: String(Buffer.concat(body).length),
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        HTTP_GIT_PROTOCOL: req.headers['git-protocol'] ?? '',
        REMOTE_USER: who,
        REMOTE_ADDR: '127.0.0.1',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cgi.stdin.on('error', () => {}); // http-backend may answer without reading all of it
    cgi.stdin.end(Buffer.concat(body));
    const out = [];
    for await (const chunk of cgi.stdout) out.push(chunk);
    const all = Buffer.concat(out);
    const split = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
    const gap = all[split] === 13 ? 4 : 2;
    const headers = {};
    let status = 200;
    for (const line of all.subarray(0, split).toString('latin1').split(/\r?\n/)) {
      const [k, ...v] = line.split(':');
      if (k.toLowerCase() === 'status') status = Number.parseInt(v.join(':').trim(), 10);
      else if (k) headers[k.trim()] = v.join(':').trim();
    }
    res.writeHead(status, headers).end(all.subarray(split + gap));
  }
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        users,
        refused: () => refused,
        /** Exceptions while serving (each answered 500). */
        errors,
        stop: () => new Promise((done) => {
          server.close(done);
          server.closeAllConnections();
        }),
      });
    });
  });
}
