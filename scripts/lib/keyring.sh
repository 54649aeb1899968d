# Sourced. unlock_keyring PASSWORD [KEYRING_HOME]: starts (or replaces)
# gnome-keyring's Secret Service on the current session bus (run it inside
# `dbus-run-session`), unlocked with PASSWORD, its keyring files under
# KEYRING_HOME (default: $HOME; give a throwaway folder when $HOME may hold a
# person's own keyring, whose password this is not), and waits until an item
# can really be stored: the daemon answers searches before its default
# ("login") collection exists, and a write in that moment fails.
unlock_keyring() {
  local home="${2:-$HOME}"
  eval "$(printf '%s' "$1" | HOME="$home" XDG_DATA_HOME="$home/.local/share" \
    gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK 2>/dev/null || true
  for _ in $(seq 1 100); do
    # A keyring that wants a prompt (another password) would block a store forever.
    if printf 'ready' | timeout 2 secret-tool store --label='keyring ready' \
      service latchkey-keyring-ready >/dev/null 2>&1; then
      timeout 2 secret-tool clear service latchkey-keyring-ready >/dev/null 2>&1 || true
      return 0
    fi
    sleep 0.1
  done
  echo "unlock_keyring: the keychain did not become writable" >&2
}
