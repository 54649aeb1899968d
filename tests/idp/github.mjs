#!/usr/bin/env node
// A GitHub-shaped OAuth 2.0 server for Latchkey's tests. GitHub itself cannot
// be reached from here; this reproduces the behaviour its documentation gives
// ("Authorizing OAuth apps", "Refreshing user access tokens", REST "Get the
// authenticated user") that breaks a strict OAuth/OIDC client:
// - no discovery, no ID token: identity from `GET /user` (here also under
//   /api/v3/user, the GitHub Enterprise Server path Latchkey uses for a
//   `base_url`), which refuses requests without a User-Agent (403);
// - the token endpoint answers form-encoded unless `Accept: application/json`;
// - every token error comes with HTTP 200 (`bad_verification_code`,
//   `incorrect_client_credentials`, `bad_refresh_token`, …);
// - scopes come back comma-separated;
// - the web flow needs the client secret (PKCE S256 is checked when sent);
// - mode "oauth-app": access tokens never expire, no refresh token;
//   mode "github-app": 8 h access tokens (`expires_in` as a string, as some
//   clients have met) and single-use refresh tokens that rotate; a reused
//   one is `bad_refresh_token` and ends the chain.
//
// Usage: github.mjs --port 0 --mode oauth-app|github-app --client-id ID --client-secret S
// Prints {"base":"http://127.0.0.1:PORT"} on stdout once listening. One stderr
// line per token request: `grant <type>` or `grant-error <error>`, and
// `user <status>` per /user call. The authorize page is a small form (login,
// password, submit) that the browser stand-in fills like any login page.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    mode: { type: 'string', default: 'oauth-app' },
    'client-id': { type: 'string', default: 'Iv1.latchkeytest' },
    'client-secret': { type: 'string', default: 'test-client-secret' },
  },
});
const mode = values.mode;
if (!['oauth-app', 'github-app'].includes(mode)) throw new Error(`unknown mode ${mode}`);
const clientId = values['client-id'];
const clientSecret = values['client-secret'];

const users = new Map([
  ['octocat', { login: 'octocat', id: 583231, name: 'The Octocat', email: null }],
  ['hubot', { login: 'hubot', id: 7, name: null, email: null }],
]);
const codes = new Map(); // code -> { login, redirectUri, challenge, scope }
const accessTokens = new Map(); // token -> login
const refreshTokens = new Map(); // token -> { login, scope, used }
const token = (prefix) => `${prefix}_${randomBytes(18).toString('base64url')}`;

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** GitHub's token endpoint answer: JSON when asked for, else form-encoded; always 200. */
function answer(req, res, fields) {
  const json = (req.headers.accept ?? '').includes('application/json');
  const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  res.writeHead(200, { 'content-type': json ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded; charset=utf-8' });
  res.end(json ? JSON.stringify(clean) : new URLSearchParams(clean).toString());
}

function fail(req, res, error, description) {
  process.stderr.write(`grant-error ${error}\n`);
  answer(req, res, { error, error_description: description, error_uri: 'https://docs.github.com/apps/troubleshooting' });
}

function issue(req, res, login, scope) {
  const access = token(mode === 'oauth-app' ? 'gho' : 'ghu');
  accessTokens.set(access, login);
  if (mode === 'oauth-app') {
    return answer(req, res, { access_token: access, token_type: 'bearer', scope });
  }
  const refresh = token('ghr');
  refreshTokens.set(refresh, { login, scope, used: false });
  return answer(req, res, {
    access_token: access,
    token_type: 'bearer',
    scope,
    expires_in: '28800',
    refresh_token: refresh,
    refresh_token_expires_in: '15897600',
  });
}

async function tokenEndpoint(req, res) {
  const form = new URLSearchParams(await readBody(req));
  const type = form.get('grant_type') ?? 'authorization_code';
  if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
    return fail(req, res, 'incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
  }
  if (type === 'authorization_code') {
    const grant = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    if (!grant) return fail(req, res, 'bad_verification_code', 'The code passed is incorrect or expired.');
    if (form.get('redirect_uri') !== grant.redirectUri) {
      return fail(req, res, 'redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    }
    if (grant.challenge) {
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
        return fail(req, res, 'bad_verification_code', 'The code_verifier does not match the code_challenge.');
      }
    }
    process.stderr.write('grant authorization_code\n');
    return issue(req, res, grant.login, grant.scope);
  }
  if (type === 'refresh_token' && mode === 'github-app') {
    const kept = refreshTokens.get(form.get('refresh_token'));
    if (!kept || kept.used) {
      // A reused refresh token: GitHub's name for invalid_grant.
      return fail(req, res, 'bad_refresh_token', 'The refresh token passed is incorrect or expired.');
    }
    kept.used = true;
    process.stderr.write('grant refresh_token\n');
    return issue(req, res, kept.login, kept.scope);
  }
  return fail(req, res, 'unsupported_grant_type', `${type} is not supported`);
}

function authorizePage(url, res) {
  const q = url.searchParams;
  const redirect = q.get('redirect_uri') ?? '';
  if (q.get('client_id') !== clientId || !/^http:\/\/127\.0\.0\.1(:\d+)?\//.test(redirect)) {
    res.writeHead(400, { 'content-type': 'text/html' });
    return res.end('<p>The redirect_uri is not associated with this application.</p>');
  }
  const hidden = [...q.entries()].map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('');
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Authorize Latchkey</title><form method="post" action="/login/oauth/authorize">${hidden}
<input name="login"><input name="password" type="password"><button type="submit">Authorize</button></form>`);
}

async function authorizeSubmit(req, res) {
  const form = new URLSearchParams(await readBody(req));
  const login = form.get('login');
  if (!users.has(login)) {
    res.writeHead(403, { 'content-type': 'text/html' });
    return res.end('<p>Unknown user.</p>');
  }
  const code = randomBytes(10).toString('hex');
  const method = form.get('code_challenge_method');
  codes.set(code, {
    login,
    redirectUri: form.get('redirect_uri'),
    challenge: method === 'S256' ? form.get('code_challenge') : null,
    // GitHub lists granted scopes with commas.
    scope: (form.get('scope') ?? '').split(/[ ,]+/).filter(Boolean).join(','),
  });
  const target = new URL(form.get('redirect_uri'));
  target.searchParams.set('code', code);
  if (form.get('state')) target.searchParams.set('state', form.get('state'));
  res.writeHead(302, { location: target.toString() });
  res.end();
}

function user(req, res) {
  if (!req.headers['user-agent']) {
    process.stderr.write('user 403\n');
    res.writeHead(403, { 'content-type': 'text/plain' });
    return res.end('Request forbidden by administrative rules. Please make sure your request has a User-Agent header.');
  }
  const auth = req.headers.authorization ?? '';
  const login = accessTokens.get(auth.replace(/^(Bearer|token) /i, ''));
  if (!login) {
    process.stderr.write('user 401\n');
    res.writeHead(401, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }));
  }
  process.stderr.write('user 200\n');
  const u = users.get(login);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ...u, avatar_url: null, type: 'User' }));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  try {
    if (url.pathname === '/login/oauth/authorize' && req.method === 'GET') return authorizePage(url, res);
    if (url.pathname === '/login/oauth/authorize' && req.method === 'POST') return await authorizeSubmit(req, res);
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') return await tokenEndpoint(req, res);
    if ((url.pathname === '/user' || url.pathname === '/api/v3/user') && req.method === 'GET') return user(req, res);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Not Found' }));
  } catch (err) {
    res.writeHead(500);
    res.end(String(err));
  }
});
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ base: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
