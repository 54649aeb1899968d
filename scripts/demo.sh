#!/usr/bin/env bash
# Starts Latchkey against the bundled local demo IdP ("Local demo", any login
# name signs in). Installs what is missing first (apt, npm ci) and builds the app.
#
# Uses your desktop session (DISPLAY, D-Bus, keychain, default browser) when
# there is one; on a headless machine it starts Xvfb, a D-Bus session and a
# throwaway unlocked gnome-keyring, and saves a screenshot to latchkey-demo.png.
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
  export LATCHKEY_DEMO_SCREENSHOT="$ROOT/latchkey-demo.png"
  xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- bash -c '
    source "$1/scripts/lib/keyring.sh"; unlock_keyring demo "$(mktemp -d)"
    "$0" & APP_PID=$!
    # Say it runs only once its window is mapped, and the process still lives.
    if ! timeout 90 xdotool search --sync --onlyvisible --name "^Latchkey$" >/dev/null 2>&1 ||
      ! kill -0 "$APP_PID" 2>/dev/null; then
      echo "Latchkey did not open its window (see ~/.local/share/dev.latchkey.app/logs/latchkey.log)" >&2
      kill "$APP_PID" 2>/dev/null
      exit 1
    fi
    sleep 4; import -window root "$LATCHKEY_DEMO_SCREENSHOT" && echo "screenshot: $LATCHKEY_DEMO_SCREENSHOT" >&2
    echo "Latchkey runs headless (pid $APP_PID); press Ctrl-C to stop." >&2
    wait $APP_PID' "$APP" "$ROOT"
fi
