#!/usr/bin/env bash
# Runs each E2E test file in its own D-Bus session with its own throwaway,
# unlocked gnome-keyring (so keychain contents and single-instance never leak
# between files), under the caller's X display. Prints one total at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
status=0
# `timeout` runs each file in its own process group, out of reach of Ctrl-C: stop it by hand.
stop_all() {
  pkill -f "dbus-run-session -- tests/e2e/session.sh" 2>/dev/null
  pkill -f "node --test --test-concurrency=1" 2>/dev/null
  pkill -f "tests/browser/standin.mjs" 2>/dev/null
  pkill -x tauri-driver 2>/dev/null
  pkill -x latchkey-app 2>/dev/null
  exit 130
}
trap stop_all INT TERM
for file in "$@"; do
  keyring_home="$(mktemp -d)"
  log="$(mktemp)"
  echo "── $file"
  env HOME="$keyring_home" XDG_DATA_HOME="$keyring_home/.local/share" XDG_CONFIG_HOME="$keyring_home/.config" \
    timeout --kill-after=30 "${LATCHKEY_E2E_FILE_TIMEOUT:-900}" dbus-run-session -- tests/e2e/session.sh "$file" 2>&1 | grep -v 'Failed to set fd limit' | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [[ $rc -ne 0 ]]; then
    status=1
    [[ $rc -eq 124 || $rc -eq 137 ]] && echo "✖ $file: killed after ${LATCHKEY_E2E_FILE_TIMEOUT:-900} s"
    [[ -z "$f" || "$f" == 0 ]] && failed=$((failed + 1))
  fi
  rm -rf "$keyring_home" "$log"
  # Nothing of one file may outlive it (a held browser stand-in, a cold-started app).
  pkill -f "tests/browser/standin.mjs" 2>/dev/null || true
  pkill -x latchkey-app 2>/dev/null || true
done
echo
echo "e2e: $passed passed, $failed failed"
exit $status
