// Starts the local OpenID Provider (tests/idp/server.mjs) on a free port.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { IDP_SERVER } from './paths.mjs';

export const CLIENT_ID = 'latchkey-desktop';

/** A providers-file entry for a local test IdP (development loopback issuer). */
export function providerToml(idp, { id = 'local', name = 'Local IdP', redirect = null } = {}) {
  return `[[provider]]
id = "${id}"
name = "${name}"
issuer = "${idp.issuer}"
client_id = "${CLIENT_ID}"
scopes = ["openid", "profile", "email", "offline_access"]
insecure_http_loopback = true
${redirect ? `redirect = "${redirect}"\n` : ''}`;
}

/**
 * Starts an IdP (with its test-only controls on); resolves to { issuer, port, grants(), stop(), ... }.
 * It starts in well under a second; one that has not said where it listens after 30 s is
 * stopped, described on stderr (its process state and CPU time, and how late the check ran:
 * a late check means this test's own event loop was blocked) and started once more — it is
 * the test's scenery, not what is under test. (Seen once in CI on 2026-12-03: an IdP that
 * had printed nothing after 60 s; eight starts on the same machine took 0.4–0.7 s.)
 */
export async function startIdp(options = {}) {
  try {
    return await startIdpOnce(options, 30_000);
  } catch (err) {
    if (!err.stalled) throw err;
    console.error(`IdP start stalled, starting it again: ${err.message}`);
    return startIdpOnce(options, 60_000);
  }
}

/** What /proc says of a process: its state and CPU seconds so far. */
function processState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return `state ${fields[0]}, CPU ${(ticks / 100).toFixed(2)} s`;
  } catch {
    return 'no /proc entry';
  }
}

function startIdpOnce({ accessTtl = 3600, idTokenTtl = 3600, idTokenClaims = 'full', port = 0, secretLog = null,
  deviceInterval = null, deviceTtl = 600 } = {}, timeoutMs) {
  const extra = secretLog ? ['--secret-log', secretLog] : [];
  if (deviceInterval !== null) extra.push('--device-interval', String(deviceInterval));
  extra.push('--device-ttl', String(deviceTtl));
  const child = spawn(
    process.execPath,
    [IDP_SERVER, '--port', String(port), '--access-ttl', String(accessTtl), '--id-token-ttl', String(idTokenTtl),
      '--id-token-claims', idTokenClaims, '--test-control', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  return new Promise((resolve, reject) => {
    // One that does not start is stopped, so it cannot keep the test file's process alive.
    const started = Date.now();
    const timer = setTimeout(() => {
      const late = Date.now() - started - timeoutMs;
      const state = processState(child.pid);
      child.kill('SIGKILL');
      const err = new Error(
        `IdP did not start within ${timeoutMs / 1000} s (${state}; this check ran ${late} ms late): ${stderr.join('\n')}`,
      );
      err.stalled = true;
      reject(err);
    }, timeoutMs);
    child.once('exit', (code) => reject(new Error(`IdP exited with ${code}: ${stderr.join('\n')}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const { issuer, port: actual } = JSON.parse(line);
      // The /__test/ controls of tests/idp/server.mjs (see its header).
      const control = async (method, path, body) => {
        const res = await fetch(`${issuer}/__test/${path}`, {
          method,
          headers: body ? { 'content-type': 'application/json' } : {},
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(10_000),
        });
        const json = await res.json();
        if (res.status !== 200) throw new Error(`IdP control ${path} answered ${res.status}: ${JSON.stringify(json)}`);
        return json;
      };
      const userinfo = async (token, attempt = 1) => {
        try {
          const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
          const res = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
          return { status: res.status, sub: res.status === 200 ? (await res.json()).sub : null };
        } catch (err) {
          // A pooled connection the IdP closed meanwhile ("other side closed"): once more on a new one.
          if (attempt > 1) throw err;
          return userinfo(token, attempt + 1);
        }
      };
      resolve({
        issuer,
        port: actual,
        /** Grant types served so far (authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code). */
        grants: () => stderr.filter((l) => l.startsWith('grant ')).map((l) => l.slice(6)),
        /** Every device-code token request so far: [{ at: epoch ms, outcome: 'grant' | 'authorization_pending' | ... }]. */
        devicePolls: () => stderr.filter((l) => l.startsWith('device-poll ')).map((l) => {
          const [, at, outcome] = l.split(' ');
          return { at: Number(at), outcome };
        }),
        /** Errors of refused grants so far (invalid_grant, ...). */
        grantErrors: () => stderr.filter((l) => l.startsWith('grant-error ')).map((l) => l.slice(12)),
        /** Refresh grants answered by a token mode so far (never processed by the provider). */
        refusedRefreshes: () => stderr.filter((l) => l.startsWith('refused-refresh ')).length,
        /** JWKS requests answered 503 so far. */
        refusedJwks: () => stderr.filter((l) => l === 'refused-jwks').length,
        /** Every connection is reset until up(). */
        down: () => child.kill('SIGUSR1'),
        up: () => child.kill('SIGUSR2'),
        /** Toggles a 3 s delay on token requests. */
        toggleSlow: () => child.kill('SIGHUP'),
        /** How many token requests the slow mode has held so far. */
        heldRequests: () => stderr.filter((l) => l === 'held-token-request').length,
        /**
         * How the token endpoint answers refresh-token grants: 'normal', 'html-403', 'html-200',
         * 'redirect-302' or 'invalid-client' (the refresh token itself is never looked at).
         */
        setTokenMode: (mode) => control('POST', 'token-mode', { mode }),
        /** 'unavailable': the JWKS endpoint answers 503 (HTML); 'normal' again after. */
        setJwksMode: (mode) => control('POST', 'jwks-mode', { mode }),
        /**
         * 'current-only': revoking a refresh token that was already rotated away does nothing (as
         * providers that know only the current token do); 'normal': oidc-provider revokes the grant.
         */
        setRevocationMode: (mode) => control('POST', 'revocation-mode', { mode }),
        /** Revocations of rotated-away refresh tokens that 'current-only' ignored so far. */
        ignoredRevocations: () => stderr.filter((l) => l === 'revocation-ignored').length,
        /**
         * Holds refresh-token grants: 'response' (processed at once, so the token rotates, but the
         * answer waits), 'request' (not processed until released), or 'off' (held ones stay held).
         */
        holdRefreshes: (hold = 'response') => control('POST', 'hold-refreshes', { hold }),
        /** Sends every held refresh on its way; resolves to how many. */
        releaseRefreshes: async () => (await control('POST', 'release-refreshes')).released,
        /** { held: waiting now, total: ever held }. */
        heldRefreshes: () => control('GET', 'held-refreshes'),
        /** The IdP's view of a refresh token, not redeemed: { found, active, consumed, grantId, accountId }. */
        refreshTokenState: (token) => control('POST', 'refresh-token', { token }),
        /** A grant: { grantId, accountId, exists, refreshTokens: [{ active, consumed }], active: count }. */
        grantState: (grantId) => control('GET', `grant?id=${encodeURIComponent(grantId)}`),
        /** Every grant of an account (the login name at this IdP), oldest first. */
        grantsOf: (login) => control('GET', `grants?account=${encodeURIComponent(login)}`),
        /** The UserInfo endpoint's answer to an access token: { status, sub }. */
        userinfo,
        /** Revokes a token at the RFC 7009 endpoint. */
        revoke: async (token) => {
          const res = await fetch(`${issuer}/token/revocation`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token, client_id: CLIENT_ID, token_type_hint: 'refresh_token' }),
          });
          if (res.status !== 200) throw new Error(`revocation answered ${res.status}`);
        },
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', done);
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
