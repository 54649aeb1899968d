#!/usr/bin/env bash
# Benchmark: Latchkey's app against a hello-world Tauri app with the same
# plugins (benches/hello-app), both release builds of this workspace's profile,
# launched in alternating order in one Xvfb display, one D-Bus session and one
# unlocked gnome-keyring (throwaway folders), Latchkey with 3 accounts at the
# local IdP. Reports the window map time, Latchkey's first refreshed account,
# CPU in the first 5 s and over 60 idle seconds, PSS/RSS at 5 s and 65 s, and
# the binary sizes: median (min–max) per app, the ratio of the medians and the
# per-round pair ratios. See tests/bench/app-bench.mjs for how each is taken.
# Then packs each app's .deb from the very binaries measured (`tauri bundle
# --no-binary-patching`) and reports their sizes; Latchkey's carries the
# `latchkey` command too, as the one it ships does.
#
#   scripts/bench-app.sh [rounds=3]     (~2.2 min per round after the build;
#                                       the release build takes ~15 min on 2 cores)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}" x11-utils coreutils
need_rust
npm_ci
ROUNDS="${1:-3}"
log "cargo build --release -p latchkey-app -p hello-app; -p latchkey-cli"
cargo build --release --locked -p latchkey-app -p hello-app
# Apart, as scripts/package.sh builds it: one build would unify the features
# of the libraries the three share, and change the app measured.
cargo build --release --locked -p latchkey-cli
tauri="$(tauri_cli)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home"
export BENCH_LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
log "$ROUNDS rounds; load average $BENCH_LOADAVG"
env HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" \
  xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
  source "$1/scripts/lib/keyring.sh"; unlock_keyring bench
  node "$1/tests/bench/app-bench.mjs" --hello "$2/release/hello-app" --latchkey "$2/release/latchkey-app" --rounds "$3"' \
  bash "$ROOT" "$CARGO_TARGET_DIR" "$ROUNDS" 2>&1 | grep -v 'Failed to set fd limit'

log ".deb packages of the binaries measured (tauri bundle)"
bundle_dir="$CARGO_TARGET_DIR/release/bundle/deb"
rm -rf "$bundle_dir"
overlay="$(cli_overlay release)"
trap 'rm -rf "$WORK" "$overlay"' EXIT
(cd benches/hello-app && "$tauri" bundle --ci --bundles deb --no-binary-patching >&2)
hello_deb=$(stat -c %s "$bundle_dir"/Hello_*.deb)
# The app alone (what the hello-world's .deb is to compare with), then as shipped.
"$tauri" bundle --ci --bundles deb --no-binary-patching >&2
app_only=$(stat -c %s "$bundle_dir"/Latchkey_*.deb)
"$tauri" bundle --ci --bundles deb --no-binary-patching --config "$overlay" >&2
app_deb=$(stat -c %s "$bundle_dir"/Latchkey_*.deb)
awk -v hello="$hello_deb" -v only="$app_only" -v app="$app_deb" 'BEGIN {
  mib = 1048576
  printf "| .deb, the app alone (MiB) | %.2f | %.2f | %.2fx | — |\n", hello / mib, only / mib, only / hello
  printf "| .deb as shipped, with the latchkey command (MiB) | %.2f | %.2f | %.2fx | — |\n", hello / mib, app / mib, app / hello
}'
