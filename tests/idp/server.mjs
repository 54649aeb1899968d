// Local OpenID Provider for Latchkey's demo and end-to-end tests.
//
// panva/oidc-provider with one native public client, `latchkey-desktop`:
// PKCE (S256) required, `offline_access` with refresh-token rotation,
// RFC 7009 revocation, RFC 9207 `iss` in every authorization response, the
// device authorization grant (RFC 8628: `/device/auth`, the verification page
// `/device`) and the development login/consent pages (any login name signs
// in; `sub`, `name` and `email` are derived from it).
//
// Usage: node server.mjs [--port 0] [--access-ttl 3600] [--id-token-ttl 3600]
//                         [--id-token-claims full|minimal] [--test-control]
//                         [--device-interval S] [--device-ttl 600]
// --device-interval adds `interval` (seconds) to device authorization
// responses (without it none is sent: clients wait the RFC's default 5 s);
// --device-ttl is how long a device code lives.
// Prints one JSON line on stdout once listening: {"issuer": "...", "port": N}.
// Logs each grant on stderr ("grant <type>", "grant-error <error>"), and each
// device-code token request as "device-poll <epoch ms> <grant|error code>".
// SIGUSR1 takes it "down" (every connection is reset, as when a server is
// unreachable) and SIGUSR2 brings it back, keeping all grants in memory.
//
// Test-only controls (only with --test-control; the demo never passes it), as
// JSON over HTTP under /__test/ on the same server:
//   POST /__test/token-mode {"mode": M}   how the token endpoint answers
//        refresh-token grants (other grants are untouched); the refresh token
//        is not looked at, so it stays valid. M is one of
//        normal | html-403 (a WAF/CDN challenge page) | html-200 (a portal page
//        with status 200) | redirect-302 (to /__test/elsewhere) |
//        invalid-client (400 {"error":"invalid_client"})
//   POST /__test/jwks-mode {"mode": "normal" | "unavailable"}   the JWKS
//        endpoint answers 503 with an HTML page while "unavailable".
//   POST /__test/revocation-mode {"mode": "normal" | "current-only"}   while
//        "current-only", revoking a refresh token that was already rotated away
//        does nothing (200, as providers that know only the current token do);
//        oidc-provider itself revokes the whole grant then.
//   POST /__test/hold-refreshes {"hold": H}   H = off | response (each refresh
//        grant is processed at once — the token rotates — but its response is
//        held) | request (the request is held unprocessed). Logs "held-refresh".
//   POST /__test/release-refreshes   sends every held refresh on its way;
//        answers {"released": n}. Turning the hold off does not release.
//   GET  /__test/held-refreshes   {"held": n (waiting now), "total": n (ever held)}
//   POST /__test/refresh-token {"token": T}   the IdP's own view of a refresh
//        token, without redeeming it: {found, active, consumed, grantId, accountId}
//   GET  /__test/grant?id=G   {grantId, accountId, exists, refreshTokens, active}:
//        every refresh token issued for the grant, and how many are still active
//   GET  /__test/grants?account=LOGIN   the same for each grant of an account,
//        oldest first.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { appendFileSync, readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'access-ttl': { type: 'string', default: '3600' },
    // ID token lifetime (Keycloak's default is 300 s).
    'id-token-ttl': { type: 'string', default: '3600' },
    'id-token-claims': { type: 'string', default: 'full' }, // full | minimal
    'device-interval': { type: 'string' },
    'device-ttl': { type: 'string', default: '600' },
    // Test-only: append every token request and response body to this file
    // (secret-hygiene tests look for these values where they must never be).
    'secret-log': { type: 'string' },
    // Test-only: enable the /__test/ controls described above.
    'test-control': { type: 'boolean', default: false },
  },
});

export const CLIENT_ID = 'latchkey-desktop';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function displayName(login) {
  return login
    .split(/[._-]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join(' ');
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
}

const accessTtl = Number(args['access-ttl']);
const idTokenTtl = Number(args['id-token-ttl']);

function configuration(issuer) {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
        response_types: ['code'],
        // Latchkey's, examples/embed-minimal's (its own scheme), loopback ones: for a
        // native client oidc-provider matches a loopback http redirect URI on any port
        // (lib/models/client.js, stripLoopbackPort), as RFC 8252 §7.3 asks.
        redirect_uris: ['dev.latchkey:/oauth/callback', 'dev.latchkey.example.embed:/oauth/callback', 'http://127.0.0.1/callback',
          'http://127.0.0.1/oauth/callback'],
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'picture'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: args['id-token-claims'] === 'minimal',
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      // The default user-code, confirmation and success pages are fine for tests.
      deviceFlow: { enabled: true },
    },
    rotateRefreshToken: true,
    // `code` is the authorization code, the device code or the refresh token
    // being redeemed: each carries the granted scopes.
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      AccessToken: accessTtl,
      IdToken: idTokenTtl,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      DeviceCode: Number(args['device-ttl']),
    },
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            name: displayName(id),
            // Logins starting with "pic" get a picture (served by this server).
            ...(id.startsWith('pic') ? { picture: `${issuer}/avatar.png` } : {}),
            email: `${id}@example.test`,
            email_verified: true,
          };
        },
      };
    },
  };
}

let down = false;
let slow = false;
// SIGHUP toggles "slow": token requests wait 3 s (to see the app's refreshing state).
process.on('SIGHUP', () => {
  slow = !slow;
  console.error(`state slow=${slow}`);
});
process.on('SIGUSR1', () => {
  down = true;
  console.error('state down');
});
process.on('SIGUSR2', () => {
  down = false;
  console.error('state up');
});

// ---- Test-only controls (--test-control) ----------------------------------
const TOKEN_MODES = new Set(['normal', 'html-403', 'html-200', 'redirect-302', 'invalid-client']);
let tokenMode = 'normal';
let jwksMode = 'normal';
let revocationMode = 'normal';
let hold = 'off'; // off | response | request
const held = []; // functions that send a held refresh on its way
let heldTotal = 0;
// Every refresh token issued, by grant (the provider's adapter cannot list them).
const grants = new Map(); // grantId -> { accountId, tokens: [jti] }

const page = (title, text) =>
  `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;

function sendHtml(res, status, html, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(html);
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Answers a refresh-token grant as the current token mode says (never reaching the provider). */
function answerRefreshAsMode(res, issuer) {
  console.error(`refused-refresh ${tokenMode}`);
  switch (tokenMode) {
    case 'html-403':
      return sendHtml(res, 403, page('Just a moment…', 'Checking your browser before accessing this site. Enable JavaScript and cookies to continue.'));
    case 'html-200':
      return sendHtml(res, 200, page('Corporate portal', 'Please sign in to the corporate network to continue.'));
    case 'redirect-302':
      return sendHtml(res, 302, page('Found', 'Redirecting…'), { location: `${issuer}/__test/elsewhere` });
    case 'invalid-client':
      return sendJson(res, 400, { error: 'invalid_client', error_description: 'client authentication failed' });
    default:
      throw new Error(`no answer for token mode ${tokenMode}`);
  }
}

/** The provider's own view of one refresh token (nothing is redeemed or changed). */
async function refreshTokenState(provider, value) {
  const token = await provider.RefreshToken.find(value);
  if (!token) return { found: false, active: false, consumed: false, grantId: null, accountId: null };
  const grant = await provider.Grant.find(token.grantId);
  const consumed = Boolean(token.consumed);
  return { found: true, active: !consumed && !!grant, consumed, grantId: token.grantId, accountId: token.accountId };
}

async function grantState(provider, grantId) {
  const known = grants.get(grantId);
  const grant = await provider.Grant.find(grantId);
  const refreshTokens = [];
  for (const jti of known?.tokens ?? []) refreshTokens.push(await refreshTokenState(provider, jti));
  return {
    grantId,
    accountId: known?.accountId ?? grant?.accountId ?? null,
    exists: !!grant,
    refreshTokens: refreshTokens.map(({ found, active, consumed }) => ({ found, active, consumed })),
    active: refreshTokens.filter((t) => t.active).length,
  };
}

async function control(req, res, provider, issuer) {
  const url = new URL(req.url, issuer);
  const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
  const json = body.length ? JSON.parse(body.toString()) : {};
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /__test/token-mode':
      if (!TOKEN_MODES.has(json.mode)) return sendJson(res, 400, { error: `unknown token mode ${json.mode}` });
      tokenMode = json.mode;
      console.error(`state token-mode=${tokenMode}`);
      return sendJson(res, 200, { mode: tokenMode });
    case 'POST /__test/jwks-mode':
      if (!['normal', 'unavailable'].includes(json.mode)) return sendJson(res, 400, { error: `unknown JWKS mode ${json.mode}` });
      jwksMode = json.mode;
      console.error(`state jwks-mode=${jwksMode}`);
      return sendJson(res, 200, { mode: jwksMode });
    case 'POST /__test/revocation-mode':
      if (!['normal', 'current-only'].includes(json.mode)) return sendJson(res, 400, { error: `unknown revocation mode ${json.mode}` });
      revocationMode = json.mode;
      console.error(`state revocation-mode=${revocationMode}`);
      return sendJson(res, 200, { mode: revocationMode });
    case 'POST /__test/hold-refreshes':
      if (!['off', 'response', 'request'].includes(json.hold)) return sendJson(res, 400, { error: `unknown hold ${json.hold}` });
      hold = json.hold;
      console.error(`state hold=${hold}`);
      return sendJson(res, 200, { hold });
    case 'POST /__test/release-refreshes': {
      const waiting = held.splice(0);
      for (const send of waiting) send();
      console.error(`released ${waiting.length}`);
      return sendJson(res, 200, { released: waiting.length });
    }
    case 'GET /__test/held-refreshes':
      return sendJson(res, 200, { held: held.length, total: heldTotal });
    case 'POST /__test/refresh-token':
      return sendJson(res, 200, await refreshTokenState(provider, json.token));
    case 'GET /__test/grant':
      return sendJson(res, 200, await grantState(provider, url.searchParams.get('id')));
    case 'GET /__test/grants': {
      const account = url.searchParams.get('account');
      const ids = [...grants].filter(([, g]) => g.accountId === account).map(([id]) => id);
      return sendJson(res, 200, await Promise.all(ids.map((id) => grantState(provider, id))));
    }
    case 'GET /__test/elsewhere':
      return sendHtml(res, 200, page('Elsewhere', 'The page a token request was redirected to.'));
    default:
      return sendJson(res, 404, { error: `no test control ${route}` });
  }
}

/** A revocation while "current-only": a rotated-away refresh token is acknowledged and left alone. */
async function revocationRequest(req, res, handler, provider) {
  const body = await readBody(req);
  req.body = body;
  const token = await provider.RefreshToken.find(new URLSearchParams(body.toString()).get('token') ?? '');
  if (token?.consumed) {
    console.error('revocation-ignored');
    res.writeHead(200, { 'cache-control': 'no-store' });
    res.end();
    return undefined;
  }
  return handler(req, res);
}

/**
 * A POST /token while a token mode or a hold is set: the body is read here to
 * see the grant type, then handed to the provider as an already-read body
 * (oidc-provider accepts `req.body` when the stream has been consumed).
 */
async function tokenRequest(req, res, handler, issuer) {
  const body = await readBody(req);
  req.body = body;
  if (new URLSearchParams(body.toString()).get('grant_type') !== 'refresh_token') return handler(req, res);
  if (tokenMode !== 'normal') return answerRefreshAsMode(res, issuer);
  if (hold === 'request') {
    heldTotal += 1;
    console.error('held-refresh');
    held.push(() => handler(req, res));
    return undefined;
  }
  if (hold === 'response') {
    const { end } = res;
    res.end = function endLater(...rest) {
      heldTotal += 1;
      console.error('held-refresh');
      held.push(() => end.apply(res, rest));
      return res;
    };
  }
  return handler(req, res);
}

const server = createServer({ keepAlive: false });
server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  const issuer = `http://${args.host}:${port}`;
  const provider = new Provider(issuer, configuration(issuer));
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  provider.on('grant.success', (ctx) => {
    const grant = ctx.oidc.params?.grant_type ?? 'unknown';
    console.error(`grant ${grant}`);
    if (grant === DEVICE_GRANT) console.error(`device-poll ${Date.now()} grant`);
  });
  provider.on('grant.error', (ctx, err) => {
    console.error(`grant-error ${err.error ?? err.message}`);
    if (ctx.oidc?.params?.grant_type === DEVICE_GRANT) console.error(`device-poll ${Date.now()} ${err.error ?? err.message}`);
  });
  // The provider sends no `interval`; with --device-interval, one is added.
  provider.on('device_authorization.success', (_ctx, body) => {
    if (args['device-interval'] !== undefined) body.interval = Number(args['device-interval']);
  });
  const handler = provider.callback();
  const avatar = readFileSync(new URL('../../icons/128x128.png', import.meta.url));
  if (args['test-control']) {
    provider.on('refresh_token.saved', (token) => {
      const entry = grants.get(token.grantId) ?? { accountId: token.accountId, tokens: [] };
      entry.tokens.push(token.jti);
      grants.set(token.grantId, entry);
    });
  }
  server.on('request', (req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    if (args['test-control']) {
      const path = req.url.split('?')[0];
      const fail = (err) => {
        console.error('test-control error', err);
        if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      };
      if (path.startsWith('/__test/')) {
        control(req, res, provider, issuer).catch(fail);
        return;
      }
      if (path === '/jwks' && jwksMode === 'unavailable') {
        console.error('refused-jwks');
        sendHtml(res, 503, page('503 Service Unavailable', 'The server is temporarily unable to service your request.'));
        return;
      }
      if (req.method === 'POST' && path === '/token/revocation' && revocationMode === 'current-only') {
        revocationRequest(req, res, handler, provider).catch(fail);
        return;
      }
      if (req.method === 'POST' && path === '/token' && (tokenMode !== 'normal' || hold !== 'off')) {
        tokenRequest(req, res, handler, issuer).catch(fail);
        return;
      }
    }
    if (req.url === '/avatar.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': avatar.length });
      res.end(avatar);
      return;
    }
    if (args['secret-log'] && req.url.startsWith('/token')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      const { write, end } = res;
      const out = [];
      res.write = function (chunk, ...rest) {
        if (chunk) out.push(Buffer.from(chunk));
        return write.call(this, chunk, ...rest);
      };
      res.end = function (chunk, ...rest) {
        if (chunk && typeof chunk !== 'function') out.push(Buffer.from(chunk));
        appendFileSync(args['secret-log'], `${JSON.stringify({ request: Buffer.concat(chunks).toString(), response: Buffer.concat(out).toString() })}\n`);
        return end.call(this, chunk, ...rest);
      };
    }
    if (slow && req.url.startsWith('/token')) {
      console.error('held-token-request');
      setTimeout(() => handler(req, res), 3000);
      return;
    }
    handler(req, res);
  });
  console.log(JSON.stringify({ issuer, port }));
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
