#!/usr/bin/env bash
# The binary-size floor (issue: the app against a Tauri hello-world). Builds, with the
# workspace's release profile, benches/size-floor's two binaries — floor-base (tokio,
# serde_json, url: what a Tauri app links anyway) and floor-deps (the same plus the
# libraries Latchkey cannot do without: reqwest on rustls with the system's trust store,
# openidconnect's ID token verification, keyring-core over the Secret Service) — and
# the hello-world and Latchkey, then reports what those libraries add and how far
# Latchkey's own code is above the hello-world plus them.
#   scripts/size-floor.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install "${BUILD_PACKAGES[@]}"
need_rust
log "cargo build --release -p size-floor -p hello-app -p latchkey-app"
cargo build --release --locked -p size-floor -p hello-app -p latchkey-app
bin="$CARGO_TARGET_DIR/release"
size() { stat -c %s "$bin/$1"; }
base=$(size floor-base) deps=$(size floor-deps) hello=$(size hello-app) app=$(size latchkey-app)
awk -v base="$base" -v deps="$deps" -v hello="$hello" -v app="$app" 'BEGIN {
  mib = 1048576; libs = deps - base; floor = hello + libs
  printf "| binary (stripped, release profile) | MiB | vs hello-world |\n|---|---:|---:|\n"
  printf "| floor-base (tokio, serde_json, url) | %.2f | |\n", base / mib
  printf "| floor-deps (+ reqwest/rustls, openidconnect, keyring/Secret Service) | %.2f | |\n", deps / mib
  printf "| what those libraries add | %.2f | |\n", libs / mib
  printf "| hello-world (Tauri, same plugins) | %.2f | 1.00 |\n", hello / mib
  printf "| floor: hello-world + those libraries | %.2f | %.2f |\n", floor / mib, floor / hello
  printf "| Latchkey | %.2f | %.2f |\n", app / mib, app / hello
  printf "| Latchkey above the floor (its own code, its other libraries) | %.2f | |\n", (app - floor) / mib
}'
