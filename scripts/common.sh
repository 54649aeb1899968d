# Shared by scripts/demo.sh and scripts/test.sh: install what is missing.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A target dir outside the clone survives between CI runs on the same machine.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latchkey-target}"
export PATH="$CARGO_HOME/bin:$PATH"
# Build scripts that write this checkout's absolute paths into the shared
# target dir run again when another checkout builds there (see their build.rs).
export LATCHKEY_CHECKOUT="$ROOT"

BUILD_PACKAGES=(libwebkit2gtk-4.1-dev build-essential libssl-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev pkg-config libdbus-1-dev curl)
RUN_PACKAGES=(xvfb xdotool imagemagick dbus dbus-x11 xdg-utils desktop-file-utils libglib2.0-bin
  gnome-keyring libsecret-tools)
TEST_PACKAGES=(webkit2gtk-driver chromium procps faketime git openssl)

# shellcheck source=lib/idp.sh
source "$ROOT/scripts/lib/idp.sh"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# apt-install PKG...: installs the packages that are not installed yet.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
      --no-install-recommends "${missing[@]}"
  fi
}

# Rust (workspace MSRV 1.95): rustup's installer when there is no cargo at all;
# an older toolchain is updated through rustup.
need_rust() {
  if ! command -v cargo >/dev/null; then
    log "installing Rust (rustup: stable, minimal profile + rustfmt, clippy)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --no-modify-path \
      --profile minimal -c rustfmt -c clippy
  fi
  local minor
  minor="$(rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\).*/\1/p' || true)"
  if [[ -n "$minor" && "$minor" -lt 95 ]]; then
    if command -v rustup >/dev/null; then
      log "Rust 1.$minor is older than 1.95: rustup update stable && rustup default stable"
      rustup update stable && rustup default stable
    else
      log "Rust 1.$minor is older than the 1.95 this workspace needs; please update it"
      exit 1
    fi
  fi
}

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
}

npm_ci() {
  need_node
  local dir="$ROOT/tests/idp"
  if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    log "npm ci (tests/idp)"
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

# The Tauri CLI pinned in the root package-lock.json (npm ci when missing or
# older than the lock, never an unpinned npx); prints its path.
tauri_cli() {
  need_node
  if [[ ! -d "$ROOT/node_modules/@tauri-apps/cli" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
    log "npm ci (the Tauri CLI)"
    (cd "$ROOT" && npm ci --no-audit --no-fund >&2) || return 1
  fi
  echo "$ROOT/node_modules/.bin/tauri"
}

# Writes the tauri.conf.json overlay that puts the `latchkey` command of PROFILE
# (release|debug) at /usr/bin/latchkey in the .deb and .rpm, and prints its path
# (the caller removes it). Its absolute path depends on CARGO_TARGET_DIR, so it is
# merged in at bundle time, not kept in tauri.conf.json.
cli_overlay() {
  local overlay cli_binary="$CARGO_TARGET_DIR/$1/latchkey"
  overlay="$(mktemp --suffix=.json)"
  cat >"$overlay" <<EOF
{"bundle": {"linux": {
  "deb": {"files": {"/usr/bin/latchkey": "$cli_binary"}},
  "rpm": {"files": {"/usr/bin/latchkey": "$cli_binary"}}
}}}
EOF
  echo "$overlay"
}

# kubectl for tests/e2e/kubectl.test.mjs: any kubectl already on PATH (a newer one
# speaks client.authentication.k8s.io/v1), else Debian's `kubernetes-client`
# (kubectl 1.20: exec plugins with v1beta1; the test asks each kubectl for its
# version and writes the kubeconfig to match). Not in TEST_PACKAGES: it would
# conflict with a `kubectl` package from another repository.
need_kubectl() {
  command -v kubectl >/dev/null || apt_install kubernetes-client
}

need_tauri_driver() {
  if ! command -v tauri-driver >/dev/null; then
    log "cargo install tauri-driver"
    cargo install tauri-driver --version 2.1.0 --locked
  fi
}

build_app() {
  log "cargo build -p latchkey-app -p latchkey-cli (and embed-minimal, refresh_hammer)"
  (cd "$ROOT" && cargo build --locked -p latchkey-app -p latchkey-cli -p embed-minimal &&
    cargo build --locked -p latchkey-core --example refresh_hammer)
}
