#!/usr/bin/env bash
# The binary-size floor (issue: the app against a Tauri hello-world). Builds, with the
# workspace's release profile, benches/size-floor's two binaries — floor-base (tokio,
# serde_json, url: what a Tauri app links anyway) and floor-deps (the same plus the
# libraries Latchkey cannot do without: reqwest on rustls with the system's trust store,
# openidconnect's ID token verification, keyring-core over the Secret Service) — and
# the hello-world and Latchkey, then reports what those libraries add and how far
# Latchkey's own code is above the hello-world plus them. floor-required adds the
# libraries Latchkey's other features ask for (oauth2's grants, toml + toml_edit for
# the providers file, argon2 + chacha20poly1305 for the file vault, tracing-subscriber).
# hello-floor is the hello-world with all of them used in it, one Tauri app, so what it
# shares with Tauri is counted once: what is left between it and Latchkey is Latchkey's
# own code.
#   scripts/size-floor.sh     (then the .deb of each app alone, packed the same way)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
apt_install "${BUILD_PACKAGES[@]}"
need_rust
log "cargo build --release -p size-floor -p hello-app (+ hello-floor) -p latchkey-app"
cargo build --release --locked -p size-floor -p hello-app -p latchkey-app --features hello-app/floor
bin="$CARGO_TARGET_DIR/release"
size() { stat -c %s "$bin/$1"; }
base=$(size floor-base) deps=$(size floor-deps) required=$(size floor-required)
hello=$(size hello-app) hello_floor=$(size hello-floor) app=$(size latchkey-app)
awk -v base="$base" -v deps="$deps" -v required="$required" -v hello="$hello" -v hfloor="$hello_floor" -v app="$app" 'BEGIN {
  mib = 1048576; libs = deps - base; floor = hello + libs; all = required - base; full = hello + all
  printf "| binary (stripped, release profile) | MiB | vs hello-world |\n|---|---:|---:|\n"
  printf "| floor-base (tokio, serde_json, url) | %.2f | |\n", base / mib
  printf "| floor-deps (+ reqwest/rustls, openidconnect, keyring/Secret Service) | %.2f | |\n", deps / mib
  printf "| what those libraries add | %.2f | |\n", libs / mib
  printf "| hello-world (Tauri, same plugins) | %.2f | 1.00 |\n", hello / mib
  printf "| floor: hello-world + those libraries | %.2f | %.2f |\n", floor / mib, floor / hello
  printf "| floor-required (+ oauth2 grants, toml/toml_edit, argon2/chacha20poly1305, tracing-subscriber) | %.2f | |\n", required / mib
  printf "| what all those libraries add | %.2f | |\n", all / mib
  printf "| floor with them: hello-world + all those libraries | %.2f | %.2f |\n", full / mib, full / hello
  printf "| hello-floor: the hello-world with all those libraries used in it | %.2f | %.2f |\n", hfloor / mib, hfloor / hello
  printf "| Latchkey | %.2f | %.2f |\n", app / mib, app / hello
  printf "| Latchkey above the floor (its own code, its other libraries) | %.2f | |\n", (app - floor) / mib
  printf "| Latchkey above hello-floor (its own code) | %.2f | |\n", (app - hfloor) / mib
}'

# The same floor for the .deb: each app packed alone (no latchkey command), from the
# binaries above (tauri bundle --no-binary-patching; hello-floor under hello-app's
# config with its own name).
log ".deb packages (tauri bundle)"
tauri="$(tauri_cli)"
debs="$CARGO_TARGET_DIR/release/bundle/deb"
rm -rf "$debs"
floor_conf="$(mktemp --suffix=.json)"
trap 'rm -f "$floor_conf"' EXIT
echo '{"productName": "HelloFloor", "mainBinaryName": "hello-floor"}' >"$floor_conf"
(cd benches/hello-app && "$tauri" bundle --ci --bundles deb --no-binary-patching >&2 &&
  "$tauri" bundle --ci --bundles deb --no-binary-patching --config "$floor_conf" >&2)
"$tauri" bundle --ci --bundles deb --no-binary-patching >&2
awk -v hello="$(stat -c %s "$debs"/Hello_*.deb)" -v hfloor="$(stat -c %s "$debs"/HelloFloor_*.deb)" \
  -v app="$(stat -c %s "$debs"/Latchkey_*.deb)" 'BEGIN {
  mib = 1048576
  printf "\n| .deb (the app alone) | MiB | vs hello-world |\n|---|---:|---:|\n"
  printf "| hello-world | %.2f | 1.00 |\n", hello / mib
  printf "| hello-floor | %.2f | %.2f |\n", hfloor / mib, hfloor / hello
  printf "| Latchkey | %.2f | %.2f |\n", app / mib, app / hello
}'
