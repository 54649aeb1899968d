// Local OpenID Provider for Latchkey's demo and end-to-end tests.
//
// panva/oidc-provider with one native public client, `latchkey-desktop`:
// PKCE (S256) required, `offline_access` with refresh-token rotation,
// RFC 7009 revocation, RFC 9207 `iss` in every authorization response and the
// development login/consent pages (any login name signs in; `sub`, `name` and
// `email` are derived from it).
//
// Usage: node server.mjs [--port 0] [--access-ttl 3600] [--id-token-claims full|minimal]
// Prints one JSON line on stdout once listening: {"issuer": "...", "port": N}.
// Logs each grant on stderr ("grant <type>", "grant-error <error>").
// SIGUSR1 takes it "down" (every connection is reset, as when a server is
// unreachable) and SIGUSR2 brings it back, keeping all grants in memory.
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
    'id-token-claims': { type: 'string', default: 'full' }, // full | minimal
    // Test-only: append every token request and response body to this file
    // (secret-hygiene tests look for these values where they must never be).
    'secret-log': { type: 'string' },
  },
});

export const CLIENT_ID = 'latchkey-desktop';

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

function configuration(issuer) {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['dev.latchkey:/oauth/callback', 'http://127.0.0.1/callback'],
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
    },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      AccessToken: accessTtl,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
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

const server = createServer({ keepAlive: false });
server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  const issuer = `http://${args.host}:${port}`;
  const provider = new Provider(issuer, configuration(issuer));
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  provider.on('grant.success', (ctx) => {
    const grant = ctx.oidc.params?.grant_type ?? 'unknown';
    console.error(`grant ${grant}`);
  });
  provider.on('grant.error', (_ctx, err) => console.error(`grant-error ${err.error ?? err.message}`));
  const handler = provider.callback();
  const avatar = readFileSync(new URL('../../icons/128x128.png', import.meta.url));
  server.on('request', (req, res) => {
    if (down) {
      req.socket.destroy();
      return;
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
