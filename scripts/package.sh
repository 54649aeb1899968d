#!/usr/bin/env bash
# Builds Latchkey's Linux packages with the Tauri CLI pinned in package-lock.json
# (npm ci, never an unpinned npx): the app, its .desktop file (the dev.latchkey:
# handler) and icons, plus the `latchkey` command at /usr/bin/latchkey in the
# .deb and .rpm.
#
#   scripts/package.sh                      release build (strip + fat LTO, ~12 min
#                                           on 2 cores), bundles deb,rpm,appimage
#   scripts/package.sh --bundles deb,rpm    only these bundles
#   scripts/package.sh --debug              bundles the debug build that
#                                           scripts/test.sh already made (no
#                                           recompilation; what CI tests)
#
# Prints the path and size of each package. The AppImage needs linuxdeploy and
# its plugins, which the Tauri CLI downloads from GitHub on first use (into
# ~/.cache/tauri): without network access that bundle fails and the others are kept.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

profile=release
bundles=deb,rpm,appimage
while (($#)); do
  case "$1" in
    --debug) profile=debug ;;
    --bundles) bundles="$2"; shift ;;
    --bundles=*) bundles="${1#--bundles=}" ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

apt_install "${BUILD_PACKAGES[@]}"
need_rust
tauri=("$(tauri_cli)")

bundle_dir="$CARGO_TARGET_DIR/$profile/bundle"
# Nothing from an earlier run may pass for this one's output.
rm -rf "$bundle_dir"

# The CLI goes into the .deb and .rpm through `files` (common.sh, cli_overlay).
overlay="$(cli_overlay "$profile")"
trap 'rm -f "$overlay"' EXIT

if [[ $profile == debug ]]; then
  # The very build the E2E tests run (same packages, so the same features:
  # nothing is recompiled after scripts/test.sh); `tauri bundle` packs it.
  build_app
else
  log "cargo build --release -p latchkey-cli"
  cargo build --locked --release -p latchkey-cli
  # `tauri build` compiles the app the way the CLI releases it (with tauri's
  # custom-protocol feature); `--` hands --locked on to cargo.
  log "tauri build --no-bundle (release)"
  "${tauri[@]}" build --ci --no-bundle -- --locked
fi
debug_flag=()
# --debug: leave the binaries the E2E tests run byte for byte as cargo built
# them (bundling otherwise writes the bundle type into the app binary in place,
# which only Tauri's updater reads).
[[ $profile == debug ]] && debug_flag=(--debug --no-binary-patching)

# One bundle kind at a time: an AppImage that cannot be made (no network for
# linuxdeploy) does not take the .deb and .rpm down with it.
failed=()
IFS=, read -ra kinds <<<"$bundles"
for kind in "${kinds[@]}"; do
  log "tauri bundle --bundles $kind ($profile)"
  "${tauri[@]}" bundle "${debug_flag[@]}" --ci --bundles "$kind" --config "$overlay" || failed+=("$kind")
done

log "packages ($profile)"
find "$bundle_dir" -maxdepth 2 -type f \( -name '*.deb' -o -name '*.rpm' -o -name '*.AppImage' \) -printf '%s\t%p\n' 2>/dev/null |
  sort -k2 | awk -F'\t' '{ printf "%8.2f MiB  %s\n", $1 / 1048576, $2 }'
if ((${#failed[@]})); then
  log "FAILED: ${failed[*]} (see the output above)"
  exit 1
fi
