// Accounts seeded straight at the IdP, stored as the app stores them: real
// grants (tests/idp/seed.mjs walks the code flow, one session per account),
// the registry written with their metadata and one keychain item each.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { IDP_SEED } from './paths.mjs';

/** The app's account id for (issuer, sub). */
// (AccountId::derive in crates/latchkey-core/src/accounts.rs: sha256(issuer, NUL, sub), first 10 bytes.)
export const accountId = (issuer, sub) => `acct-${createHash('sha256').update(`${issuer}\0${sub}`).digest('hex').slice(0, 20)}`;

/**
 * Seeds `count` accounts `<prefix>-0` … at `idp` for `desktop` (provider id `providerId`).
 * Resolves to [{ id, login, email, refreshToken }] in registry order.
 */
export function seedAccounts(desktop, idp, { prefix, count, providerId = 'local' }) {
  const seeded = JSON.parse(execFileSync(process.execPath, [IDP_SEED, idp.issuer, String(count), prefix], { encoding: 'utf8' }));
  const accounts = seeded.map(({ login }) => ({
    id: accountId(idp.issuer, login),
    provider_id: providerId, issuer: idp.issuer, subject: login, name: login, email: `${login}@example.test`,
    scopes: ['openid', 'profile', 'email', 'offline_access'], created_at: 1_790_000_000, last_refreshed_at: null, status: 'active',
  }));
  mkdirSync(dirname(desktop.registryPath()), { recursive: true });
  writeFileSync(desktop.registryPath(), JSON.stringify({ version: 1, default_account: accounts[0].id, accounts }));
  seeded.forEach(({ refresh_token }, i) => {
    desktop.storeKeychainItem(accounts[i].id, `lk1:1:${JSON.stringify({ v: 1, refresh_token })}`);
  });
  return seeded.map(({ login, refresh_token }, i) => ({ id: accounts[i].id, login, email: accounts[i].email, refreshToken: refresh_token }));
}
