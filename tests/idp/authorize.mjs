// Walks an authorization request through the local IdP's dev login and consent
// forms without a browser, with a fresh cookie jar (= a fresh browser session),
// and returns the redirect it ends on: `<redirect_uri>?code=…&state=…&iss=…`.
// Used by seed.mjs and by the sign-in benchmark.
//
// As a program: reads lines `<login> <authorization URL>` on stdin and writes
// each one's redirect URL on its own line of stdout.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

/** The redirect `authorization` ends on at `issuer` once `login` signs in and consents. */
export async function authorize(authorization, login, { issuer = new URL(authorization).origin, redirect } = {}) {
  const redirectUri = redirect ?? new URL(authorization).searchParams.get('redirect_uri');
  const cookies = new Map();
  const request = async (url, init = {}) => {
    const headers = { ...(init.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, ...v] = pair.split('=');
      cookies.set(k.trim(), v.join('='));
    }
    return res;
  };
  let res = await request(authorization);
  for (let step = 0; step < 12; step += 1) {
    const location = res.headers.get('location');
    if (location?.startsWith(redirectUri)) return location;
    if (location) {
      res = await request(new URL(location, issuer));
      continue;
    }
    const html = await res.text();
    const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1];
    if (!action) throw new Error(`no form at step ${step} for ${login}`);
    const body = new URLSearchParams([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (html.includes('name="login"')) {
      body.set('login', login);
      body.set('password', 'any-password');
    }
    res = await request(new URL(action, issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
  throw new Error(`sign-in of ${login} did not finish`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  for await (const line of createInterface({ input: process.stdin })) {
    const [login, url] = line.trim().split(/\s+/);
    if (!url) continue;
    process.stdout.write(`${await authorize(url, login)}\n`);
  }
}
