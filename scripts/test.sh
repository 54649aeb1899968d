#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian/Ubuntu machine: installs what is
# missing (apt, npm ci, tauri-driver), then fmt check, clippy -D warnings, unit
# and integration tests, and the end-to-end tests against the real IdP,
# keychain, browser stand-in, Xvfb and WebDriver.
#
#   scripts/test.sh            everything
#   scripts/test.sh e2e FILE   only the E2E tests (optionally one file), app rebuilt
#
# installed-deb.test.mjs installs the .deb that scripts/package.sh --debug makes
# (apt-get, as root or through sudo -n) and purges it again.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

apt_install "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
need_rust
npm_ci
need_kubectl
need_tauri_driver

export LATCHKEY_RESULTS_DIR="${LATCHKEY_RESULTS_DIR:-$ROOT/tests/results}"
rm -rf "$LATCHKEY_RESULTS_DIR"
mkdir -p "$LATCHKEY_RESULTS_DIR"

if [[ "${1:-}" != "e2e" ]]; then
  log "cargo fmt --check"
  cargo fmt --all --check
  log "cargo clippy -D warnings"
  cargo clippy --locked --workspace --all-targets -- -D warnings
  log "API docs of the embeddable crates (rustdoc -D warnings)"
  RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p latchkey-core -p tauri-plugin-latchkey
  log "unit and integration tests"
  cargo test --locked --workspace
  log "UI tests (headless Chromium, fake backend)"
  node --test --test-reporter=spec tests/ui/
fi
[[ "${1:-}" == "e2e" ]] && shift

build_app
files=("$@")
((${#files[@]})) || files=(tests/e2e/*.test.mjs)
# The .deb (and .rpm) of exactly these debug binaries, for installed-deb.test.mjs:
# `tauri bundle` packs them without recompiling.
if [[ " ${files[*]} " == *installed-deb* ]]; then
  "$ROOT/scripts/package.sh" --debug --bundles deb,rpm
fi
log "end-to-end tests (Xvfb; per file: D-Bus session + gnome-keyring)"
xvfb-run -a -s "-screen 0 1280x800x24" "$ROOT/tests/e2e/run-all.sh" "${files[@]}"
