#!/usr/bin/env bash
# Benchmark (not a test): what `latchkey token` costs next to the keychain
# work it stands for. Starts the local IdP, a throwaway D-Bus session with an
# unlocked gnome-keyring, seeds one account (a real grant, stored as the app
# stores it: registry + keychain item), then times, interleaved, RUNS of each:
#
#  (a) cached token:  `latchkey token ID`  (the keychain item holds a token
#      valid for ~1 h: no network)
#      vs  `secret-tool lookup service dev.latchkey.app username ID`
#      (one read of the same item). Goal: ≤ 1.5×.
#  (b) forced refresh:  `latchkey token ID --min-valid 2h`  (the IdP's tokens
#      live 1 h, so every run refreshes: a refresh grant, the rotated refresh
#      token and the new access token stored in the item)
#      vs the baseline  `curl` POST grant_type=refresh_token (the current
#      refresh token, client_id) to the token endpoint, the rotated refresh
#      token cut out of the JSON with a bash regex, and `secret-tool store` of
#      the item in the format the app reads (`lk1:1:{"v":1,"refresh_token":…}`),
#      which keeps the account usable for the next CLI run. The current refresh
#      token is read from the keychain before the baseline's clock starts.
#      Goal: ≤ 1.3×.
#
# For scale, (a) also times `latchkey --version` (the process start-up alone).
# Each run is timed with bash's $EPOCHREALTIME around the one command (a
# pipeline for the baseline), output to /dev/null. Prints median, p90 and the
# ratio of medians.
#   scripts/bench-token.sh [runs=30] [release|debug]   (default release)
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

SERVICE=dev.latchkey.app
CLIENT_ID=latchkey-desktop

now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

# stats NAME FILE: "median p90" in ms of the microsecond values in FILE.
stats() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    p = int(NR * 0.9); if (p < NR * 0.9) p++
    printf "%.1f %.1f\n", m / 1000, v[p] / 1000 }'
}

# refresh_token_of ITEM: the refresh token in a keychain item's secret.
refresh_token_of() {
  [[ $1 =~ \"refresh_token\":\"([^\"]+)\" ]] || { echo "no refresh token in the item" >&2; return 1; }
  printf '%s' "${BASH_REMATCH[1]}"
}

# Inside the throwaway session: seed, warm up, measure.
measure() {
  local issuer="$1" cli="$2" runs="$3" work="$4" profile="$5"
  source "$ROOT/scripts/lib/keyring.sh"
  unlock_keyring bench "$work/keyring"
  local id
  id="$(node --input-type=module -e '
    import { spawnSync } from "node:child_process";
    import { mkdirSync, writeFileSync } from "node:fs";
    import { join } from "node:path";
    import { providerToml } from "./tests/e2e/lib/idp.mjs";
    import { seedAccounts } from "./tests/e2e/lib/seed.mjs";
    const [issuer, service] = process.argv.slice(1);
    const config = join(process.env.XDG_CONFIG_HOME, service);
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, "providers.toml"), providerToml({ issuer }));
    const desktop = {
      registryPath: () => join(process.env.XDG_DATA_HOME, service, "accounts.json"),
      storeKeychainItem: (username, secret) => {
        const r = spawnSync("secret-tool", ["store", "--label=latchkey bench", "service", service, "username", username], { input: secret });
        if (r.status !== 0) throw new Error(`secret-tool store: ${r.stderr}`);
      },
    };
    const [account] = seedAccounts(desktop, { issuer }, { prefix: "bench", count: 1 });
    console.log(account.id);' "$issuer" "$SERVICE")"
  local token_endpoint discovery
  discovery="$(curl -sS "$issuer/.well-known/openid-configuration")"
  [[ $discovery =~ \"token_endpoint\":\"([^\"]+)\" ]] && token_endpoint="${BASH_REMATCH[1]}"

  # Warm-up (untimed): the first run caches a token in the item; each
  # command once more so that page cache and daemon are warm for both.
  "$cli" token "$id" >/dev/null
  "$cli" token "$id" >/dev/null
  secret-tool lookup service "$SERVICE" username "$id" >/dev/null

  local a_cli="$work/a-cli" a_base="$work/a-base" b_cli="$work/b-cli" b_base="$work/b-base" t0 i
  local start="$work/start"
  : >"$a_cli"; : >"$a_base"; : >"$b_cli"; : >"$b_base"; : >"$start"
  log "(a) cached token: $runs × latchkey token / secret-tool lookup / latchkey --version, interleaved"
  for ((i = 0; i < runs; i++)); do
    t0=$(now_us); "$cli" token "$id" >/dev/null; echo $(($(now_us) - t0)) >>"$a_cli"
    t0=$(now_us); secret-tool lookup service "$SERVICE" username "$id" >/dev/null; echo $(($(now_us) - t0)) >>"$a_base"
    t0=$(now_us); "$cli" --version >/dev/null; echo $(($(now_us) - t0)) >>"$start"
  done

  log "(b) forced refresh: $runs × latchkey token --min-valid 2h / curl refresh grant + secret-tool store, interleaved"
  local rt response rotated refreshes_before
  refreshes_before="$(grep -c '^grant refresh_token' "$work/idp.log" || true)"
  for ((i = 0; i < runs; i++)); do
    t0=$(now_us); "$cli" token "$id" --min-valid 2h >/dev/null 2>&1; echo $(($(now_us) - t0)) >>"$b_cli"
    rt="$(refresh_token_of "$(secret-tool lookup service "$SERVICE" username "$id")")"
    t0=$(now_us)
    response="$(curl -sS -X POST "$token_endpoint" -d grant_type=refresh_token \
      --data-urlencode "refresh_token=$rt" -d "client_id=$CLIENT_ID")"
    [[ $response =~ \"refresh_token\":\"([^\"]+)\" ]] && rotated="${BASH_REMATCH[1]}"
    printf 'lk1:1:{"v":1,"refresh_token":"%s"}' "$rotated" |
      secret-tool store --label="latchkey bench" service "$SERVICE" username "$id"
    echo $(($(now_us) - t0)) >>"$b_base"
    [[ $rotated != "$rt" ]] || { echo "the baseline's refresh did not rotate: $response" >&2; return 1; }
  done

  # Every run of (b) refreshed, the account is still usable, and one item holds it.
  local items refreshes
  refreshes=$(($(grep -c '^grant refresh_token' "$work/idp.log" || true) - refreshes_before))
  [[ $refreshes == $((2 * runs)) ]] || { echo "$refreshes refresh grants for $((2 * runs)) runs" >&2; return 1; }
  "$cli" token "$id" >/dev/null
  items="$(secret-tool search --all service "$SERVICE" 2>&1 | grep -c '^\[/' || true)"
  [[ $items == 1 ]] || { echo "expected one keychain item, found $items" >&2; return 1; }
  log "checks: one refresh grant per run of (b) ($refreshes); the account still works; one keychain item"

  local sa sb sc sd se
  read -r -a se <<<"$(stats "$start")"
  read -r -a sa <<<"$(stats "$a_cli")"
  read -r -a sb <<<"$(stats "$a_base")"
  read -r -a sc <<<"$(stats "$b_cli")"
  read -r -a sd <<<"$(stats "$b_base")"
  local cpu
  cpu="$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '\n`latchkey token` (%s build), %s runs each, interleaved — %s, %s\n\n' "$profile" "$runs" "$(date -u +%Y-%m-%d)" "$cpu"
  printf '| | median | p90 | ratio (medians) |\n| --- | ---: | ---: | ---: |\n'
  printf '| (a) `secret-tool lookup` (baseline) | %s ms | %s ms | 1.00 |\n' "${sb[0]}" "${sb[1]}"
  printf '| (a) `latchkey token`, cached token | %s ms | %s ms | **%s** (goal ≤ 1.5) |\n' "${sa[0]}" "${sa[1]}" \
    "$(awk -v a="${sa[0]}" -v b="${sb[0]}" 'BEGIN { printf "%.2f", a / b }')"
  printf '| (a) `latchkey --version` (process start-up alone, for scale) | %s ms | %s ms | %s |\n' "${se[0]}" "${se[1]}" \
    "$(awk -v a="${se[0]}" -v b="${sb[0]}" 'BEGIN { printf "%.2f", a / b }')"
  printf '| (b) `curl` refresh grant + `secret-tool store` (baseline) | %s ms | %s ms | 1.00 |\n' "${sd[0]}" "${sd[1]}"
  printf '| (b) `latchkey token --min-valid 2h`, refresh | %s ms | %s ms | **%s** (goal ≤ 1.3) |\n' "${sc[0]}" "${sc[1]}" \
    "$(awk -v a="${sc[0]}" -v b="${sd[0]}" 'BEGIN { printf "%.2f", a / b }')"
}

if [[ "${1:-}" == --inside ]]; then
  shift
  measure "$@"
  exit
fi

RUNS="${1:-30}"
PROFILE="${2:-release}"
apt_install "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
need_rust
npm_ci
case "$PROFILE" in
  release) cargo build --locked --release -p latchkey-cli; CLI="$CARGO_TARGET_DIR/release/latchkey" ;;
  debug) cargo build --locked -p latchkey-cli; CLI="$CARGO_TARGET_DIR/debug/latchkey" ;;
  *) echo "usage: scripts/bench-token.sh [runs] [release|debug]" >&2; exit 2 ;;
esac
WORK="$(mktemp -d)"
trap 'kill $IDP_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
start_idp "$WORK"
mkdir -p "$WORK"/{home,config,data,runtime,keyring}
chmod 700 "$WORK/runtime"
# A session of its own: the person's keychain, accounts and providers are never touched.
env -u LATCHKEY_PROVIDERS -u LATCHKEY_LOG HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/config" \
  XDG_DATA_HOME="$WORK/data" XDG_RUNTIME_DIR="$WORK/runtime" \
  dbus-run-session -- bash "$ROOT/scripts/bench-token.sh" --inside "$ISSUER" "$CLI" "$RUNS" "$WORK" "$PROFILE" 2>&1 |
  grep -v 'Failed to set fd limit'
