#!/usr/bin/env bash
# Starts Latchkey against the bundled local demo IdP ("Local demo", any login
# name signs in). Installs what is missing first (apt, npm ci) and builds the app.
#
# Uses your desktop session (DISPLAY, D-Bus, keychain, default browser) when
# there is one; on a headless machine it starts Xvfb, a D-Bus session and a
# throwaway unlocked gnome-keyring in throwaway folders, signs the demo user in
# (the CLI's device grant, approved by the tests' browser stand-in), saves a
# screenshot of the signed-in window to latchkey-demo.png and prints
# `latchkey status`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

apt_install "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
need_rust
npm_ci
build_app

STATE="${XDG_STATE_HOME:-$HOME/.local/state}/latchkey-demo"
mkdir -p "$STATE"
APP="$CARGO_TARGET_DIR/debug/latchkey-app"

log "starting the demo IdP"
start_idp "$STATE" "${LATCHKEY_DEMO_PORT:-0}"
trap 'kill $IDP_PID 2>/dev/null || true' EXIT
cat >"$STATE/providers.toml" <<TOML
# Written by scripts/demo.sh: the bundled local demo IdP (tests/idp/server.mjs).
[[provider]]
id = "local-demo"
name = "Local demo"
issuer = "$ISSUER"
client_id = "latchkey-desktop"
scopes = ["openid", "profile", "email", "offline_access"]
insecure_http_loopback = true
TOML
export LATCHKEY_PROVIDERS="$STATE/providers.toml"
log "demo IdP at $ISSUER (log in with any name and password)"

# Register the app as the handler of dev.latchkey: links (RFC 8252 private-use scheme).
APPS="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$APPS"
cat >"$APPS/latchkey-demo.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Latchkey (demo)
Exec=env LATCHKEY_PROVIDERS=$STATE/providers.toml $APP %u
Icon=$ROOT/icons/128x128.png
Terminal=false
MimeType=x-scheme-handler/dev.latchkey;
DESKTOP
xdg-mime default latchkey-demo.desktop x-scheme-handler/dev.latchkey || true
update-desktop-database "$APPS" 2>/dev/null || true

run_app() { "$APP"; }

if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]] && [[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
  log "starting Latchkey (close the window to stop)"
  run_app
else
  log "no desktop session: starting Xvfb, D-Bus and a throwaway keychain"
  # Headless, the demo shows the main job: the demo user signed in (through
  # the browser stand-in the tests use), the account in the window, and
  # `latchkey status`. Everything lives in throwaway folders: no person's
  # keychain, browser setting or account is touched.
  apt_install chromium
  export LATCHKEY_DEMO_SCREENSHOT="$ROOT/latchkey-demo.png"
  HEADLESS="$(mktemp -d "$STATE/headless.XXXXXX")"
  export XDG_DATA_HOME="$HEADLESS/data" XDG_CONFIG_HOME="$HEADLESS/config"
  mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$HEADLESS/standin" "$HEADLESS/keyring"
  printf '{"login":"demo","action":"consent","device":true}' >"$HEADLESS/standin/config.json"
  CLI="$CARGO_TARGET_DIR/debug/latchkey"
  xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash "$ROOT/scripts/lib/headless-demo.sh" \
    "$APP" "$CLI" "$HEADLESS"
fi
