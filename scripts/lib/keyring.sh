# Sourced. unlock_keyring PASSWORD: starts (or replaces) gnome-keyring's Secret
# Service on the current session bus — run inside `dbus-run-session`, with a
# throwaway HOME — unlocked with PASSWORD, and waits until an item can really be
# stored: the daemon answers searches before its default ("login") collection
# exists, and a write in that moment fails with "no result found".
unlock_keyring() {
  eval "$(printf '%s' "$1" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK 2>/dev/null || true
  for _ in $(seq 1 100); do
    if printf 'ready' | secret-tool store --label='keyring ready' service latchkey-keyring-ready \
      >/dev/null 2>&1; then
      secret-tool clear service latchkey-keyring-ready >/dev/null 2>&1 || true
      return 0
    fi
    sleep 0.1
  done
  echo "unlock_keyring: the keychain did not become writable" >&2
}
