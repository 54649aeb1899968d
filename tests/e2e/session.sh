#!/usr/bin/env bash
# Runs inside `xvfb-run ... dbus-run-session`: unlocks a throwaway
# gnome-keyring Secret Service on this session bus, then runs the E2E tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../../scripts/lib/keyring.sh
source scripts/lib/keyring.sh
unlock_keyring latchkey-test
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
