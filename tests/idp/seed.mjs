// Seeds refresh tokens at the local IdP without a browser: for each account,
// a fresh cookie jar (= a fresh browser session, so one grant per account)
// walks the authorization code flow with PKCE through the dev login and
// consent forms (authorize.mjs), then redeems the code. Used by the benchmark.
//
// Usage: node seed.mjs <issuer> <count> [prefix]  → JSON [{login, refresh_token}] on stdout.
import { createHash, randomBytes } from 'node:crypto';
import { authorize } from './authorize.mjs';

const [issuer, countText, prefix = 'bench'] = process.argv.slice(2);
const CLIENT_ID = 'latchkey-desktop';
const REDIRECT = 'dev.latchkey:/oauth/callback';

async function signIn(login) {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: CLIENT_ID, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid profile email offline_access',
    prompt: 'consent', state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  const location = await authorize(auth.href, login, { issuer, redirect: REDIRECT });
  const code = new URL(location.replace(REDIRECT, 'https://cb.invalid/cb')).searchParams.get('code');
  const token = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT_ID, code_verifier: verifier }),
  }).then((r) => r.json());
  if (!token.refresh_token) throw new Error(`no refresh token for ${login}: ${JSON.stringify(token.error)}`);
  return token.refresh_token;
}

const count = Number(countText);
const out = [];
const batch = 10;
for (let i = 0; i < count; i += batch) {
  const logins = Array.from({ length: Math.min(batch, count - i) }, (_, j) => `${prefix}-${i + j}`);
  const tokens = await Promise.all(logins.map(signIn));
  logins.forEach((login, j) => out.push({ login, refresh_token: tokens[j] }));
}
console.log(JSON.stringify(out));
