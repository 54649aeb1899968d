#!/usr/bin/env bash
# Runs inside `xvfb-run ... dbus-run-session`: unlocks a throwaway
# gnome-keyring Secret Service on this session bus, then runs the E2E tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(echo -n latchkey-test | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK 2>/dev/null || true
# The daemon needs a moment before its collection answers.
for _ in $(seq 1 50); do
  if secret-tool search --all service latchkey-e2e-ready >/dev/null 2>&1; then break; fi
  sleep 0.1
done
sleep 0.5
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
