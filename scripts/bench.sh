#!/usr/bin/env bash
# Benchmark: launch refresh of 100 accounts (crates/latchkey-core/benches/launch_refresh.rs).
# Starts the local IdP, seeds 100 refresh tokens (one session per account), and
# runs the bench inside a D-Bus session with a throwaway unlocked gnome-keyring.
#   scripts/bench.sh [accounts=100] [rounds=5]
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
need_rust
npm_ci
COUNT="${1:-100}"
ROUNDS="${2:-5}"
cargo bench --locked -p latchkey-core --features testing --bench launch_refresh --no-run
WORK="$(mktemp -d)"
trap 'kill $IDP_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
start_idp "$WORK"
log "seeding $COUNT refresh tokens at $ISSUER"
node tests/idp/seed.mjs "$ISSUER" "$COUNT" >"$WORK/tokens.json"
mkdir -p "$WORK/home"
env HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" dbus-run-session -- bash -c '
  source "$3/scripts/lib/keyring.sh"; unlock_keyring bench
  cargo bench --locked -p latchkey-core --features testing --bench launch_refresh -- "$0" "$1" "$2"' "$ISSUER" "$WORK/tokens.json" "$ROUNDS" "$ROOT" 2>&1 \
  | grep -v 'Failed to set fd limit'
