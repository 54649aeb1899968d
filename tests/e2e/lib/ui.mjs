// Helpers that read and drive the accounts window through WebDriver.
export const accounts = (wd) =>
  wd.execute(`return [...document.querySelectorAll('#accounts .account')].map(a => ({
    id: a.dataset.id, status: a.dataset.status, isDefault: a.dataset.default === 'true',
    name: a.querySelector('.who').textContent, email: a.querySelector('.email').textContent,
    label: a.querySelector('.badge.label')?.textContent ?? null,
    provider: a.querySelector('.provider-badge').textContent }))`);

/** The notices shown, oldest first; repeats shown as one notice "×n" (data-count) count n times. */
export const notices = (wd) =>
  wd.execute(
    'return [...document.querySelectorAll("#notices .notice")].flatMap(n => Array(Number(n.dataset.count || 1)).fill({ code: n.dataset.code, level: n.dataset.level, text: n.querySelector(".message").firstChild.textContent }))',
  );

export async function waitNotice(wd, code, { after = 0, timeoutMs = 45_000 } = {}) {
  return wd.waitFor(async () => (await notices(wd)).filter((n) => n.code === code).length > after, {
    what: `a ${code} notice`,
    timeoutMs,
  });
}

export const countNotices = async (wd, code) => (await notices(wd)).filter((n) => n.code === code).length;

export async function waitProvidersChecked(wd) {
  await wd.waitFor(
    () => wd.execute('const p = [...document.querySelectorAll(".provider")]; return p.length > 0 && p.every(x => x.dataset.status !== "checking")'),
    { what: 'provider discovery' },
  );
}

/** Add account → pick the provider. */
export async function startSignIn(wd, providerId) {
  await wd.click('#add-account');
  await wd.waitFor(() => wd.execute('return document.getElementById("provider-picker").open'), { what: 'the provider picker' });
  await wd.click(`.pick[data-id="${providerId}"]`);
}

/** Waits until an account with this email is listed (and optionally in a status). */
export async function waitAccount(wd, email, { status, timeoutMs = 45_000 } = {}) {
  return wd.waitFor(
    async () => (await accounts(wd)).find((a) => a.email === email && (!status || a.status === status)),
    { what: `${email}${status ? ` (${status})` : ''} in the list`, timeoutMs },
  );
}

/** Signs in `login` at `providerId` through the browser stand-in. */
export async function signIn(desktop, wd, providerId, login) {
  desktop.configureBrowser({ login, action: 'consent' });
  await startSignIn(wd, providerId);
  return waitAccount(wd, `${login}@example.test`);
}

/** Refresh-token grant straight at the IdP, as a third party would. */
export async function refreshAtIdp(issuer, clientId, refreshToken) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  });
  return { status: res.status, body: await res.json() };
}

/** The refresh token inside one of Latchkey's keychain items. */
export function refreshTokenOf(desktop, accountId) {
  const raw = desktop.keychainSecret(accountId);
  if (!raw) return null;
  const [, , json] = raw.match(/^lk1:(\d+):([\s\S]*)$/) ?? [];
  return json ? JSON.parse(json).refresh_token : null;
}
