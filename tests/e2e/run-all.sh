#!/usr/bin/env bash
# Runs each E2E test file in its own D-Bus session with its own throwaway,
# unlocked gnome-keyring (so keychain contents and single-instance never leak
# between files), under the caller's X display. Prints one total at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
status=0
# The failure reports of failing files, printed again at the end: a CI log is
# often read from its tail, and a file's own report may be far above it.
reports="$(mktemp)"
# Every process a file starts carries LATCHKEY_E2E_RUN=<its marker> in its
# environment, also those a launcher detached into a session of their own (the
# browser stand-in, an app started by a deep link). They are stopped by PID,
# found through that marker — never by name: a person may be running Latchkey
# (or chromium, or node) beside the suite.
kill_marked() {
  local marker="LATCHKEY_E2E_RUN=$1" env pid pids=()
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}
    pid=${pid%/environ}
    [[ $pid == "$$" ]] && continue
    if { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qxF "$marker"; then pids+=("$pid"); fi
  done
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  return 0
}
marker=""
# `timeout` runs each file in its own process group, out of reach of Ctrl-C: stop it by hand.
stop_all() {
  [[ -n "$marker" ]] && kill_marked "$marker"
  exit 130
}
trap stop_all INT TERM
for file in "$@"; do
  keyring_home="$(mktemp -d)"
  log="$(mktemp)"
  marker="$$-$RANDOM-$(basename "$file")"
  echo "── $file"
  env HOME="$keyring_home" XDG_DATA_HOME="$keyring_home/.local/share" XDG_CONFIG_HOME="$keyring_home/.config" \
    LATCHKEY_E2E_RUN="$marker" \
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
    {
      echo "── $file (rc $rc)"
      if grep -q '^✖ failing tests:' "$log"; then sed -n '/^✖ failing tests:/,$p' "$log"; else tail -n 40 "$log"; fi
    } >>"$reports"
  fi
  rm -rf "$keyring_home" "$log"
  # Nothing of one file may outlive it (a held browser stand-in, a cold-started app).
  kill_marked "$marker"
done
echo
if [[ -s "$reports" ]]; then
  echo "── failures again:"
  cat "$reports"
  echo
fi
rm -f "$reports"
echo "e2e: $passed passed, $failed failed"
exit $status
