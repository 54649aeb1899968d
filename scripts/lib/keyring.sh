# Sourced. unlock_keyring PASSWORD: starts (or replaces) gnome-keyring's Secret
# Service on the current session bus — run inside `dbus-run-session`, with a
# throwaway HOME — unlocked with PASSWORD, and waits until its collection answers.
unlock_keyring() {
  eval "$(printf '%s' "$1" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK 2>/dev/null || true
  # The daemon needs a moment before its collection answers.
  for _ in $(seq 1 50); do
    if secret-tool search --all service latchkey-keyring-ready >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  sleep 0.5
}
