// Words and chip colours the views share.

export const PROVIDER_STATUS = {
  checking: ['Checking…', 'chip-muted'],
  reachable: ['Reachable', 'chip-ok'],
  unreachable: ['Unreachable', 'chip-err'],
  invalid: ['Invalid configuration', 'chip-err'],
};

export const ACCOUNT_STATUS = {
  ready: ['Ready', 'chip-ok'],
  signed_in: ['Signed in', 'chip-ok'],
  refreshing: ['Refreshing…', 'chip-muted'],
  offline: ['Offline', 'chip-warn'],
  refused: ['Refused', 'chip-refused'],
  needs_sign_in: ['Needs sign-in', 'chip-err'],
};

/** [label, chip class] of a status, for a table above. */
export const statusOf = (table, status) => table[status] ?? [status, 'chip-muted'];

export const accountTitle = (a) => a.title ?? a.name ?? a.email ?? a.id;

export function initials(account) {
  const source = account.name || account.username || account.email || account.title || '?';
  const parts = source.split(/[\s@._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[1][0] : '')).toUpperCase();
}
