#!/usr/bin/env bash
# Benchmarks of the core against a real local IdP and the real Secret Service
# (a throwaway unlocked gnome-keyring in its own D-Bus session):
# - launch refresh of 100 accounts (crates/latchkey-core/benches/launch_refresh.rs),
#   with 100 refresh tokens seeded first (one session per account);
# - the sign-in's critical path, link → account stored
#   (crates/latchkey-core/benches/sign_in.rs).
#   scripts/bench.sh [accounts=100] [rounds=5] [sign-in rounds=15]
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
need_rust
npm_ci
COUNT="${1:-100}"
ROUNDS="${2:-5}"
SIGN_IN_ROUNDS="${3:-15}"
cargo bench --locked -p latchkey-core --features testing --bench launch_refresh --bench sign_in --no-run
WORK="$(mktemp -d)"
trap 'kill $IDP_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
start_idp "$WORK"
log "seeding $COUNT refresh tokens at $ISSUER"
node tests/idp/seed.mjs "$ISSUER" "$COUNT" >"$WORK/tokens.json"
mkdir -p "$WORK/home"
env HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" dbus-run-session -- bash -c '
  source "$3/scripts/lib/keyring.sh"; unlock_keyring bench
  cargo bench --locked -p latchkey-core --features testing --bench launch_refresh -- "$0" "$1" "$2"
  cargo bench --locked -p latchkey-core --features testing --bench sign_in -- "$0" "$3/tests/idp/authorize.mjs" "$4"' \
  "$ISSUER" "$WORK/tokens.json" "$ROUNDS" "$ROOT" "$SIGN_IN_ROUNDS" 2>&1 \
  | grep -v 'Failed to set fd limit'
