# Sourced (needs ROOT). start_idp DIR [PORT]: starts the local OpenID Provider
# (tests/idp/server.mjs) on 127.0.0.1 (PORT, default a free one), its output in
# DIR/idp.json and DIR/idp.log; sets IDP_PID and ISSUER. The caller stops it.
start_idp() {
  local dir="$1" port="${2:-0}"
  node "$ROOT/tests/idp/server.mjs" --port "$port" >"$dir/idp.json" 2>"$dir/idp.log" &
  IDP_PID=$!
  for _ in $(seq 1 100); do
    [[ -s "$dir/idp.json" ]] && break
    sleep 0.1
  done
  ISSUER="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).issuer)' "$dir/idp.json")"
}
