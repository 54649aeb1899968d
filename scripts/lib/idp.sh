# Sourced (needs ROOT). start_idp DIR [PORT]: starts the local OpenID Provider
# (tests/idp/server.mjs) on 127.0.0.1 (PORT, default a free one), its output in
# DIR/idp.json and DIR/idp.log; sets IDP_PID and ISSUER. The caller stops it.
start_idp() {
  local dir="$1" port="${2:-0}"
  node "$ROOT/tests/idp/server.mjs" --port "$port" >"$dir/idp.json" 2>"$dir/idp.log" &
  IDP_PID=$!
  # Its first line (a whole line: ends with a newline) says where it listens.
  # Give a loaded machine a minute; say why when it does not come.
  local waited=0
  until (($(wc -l 2>/dev/null <"$dir/idp.json" || echo 0) >= 1)); do
    if ! kill -0 "$IDP_PID" 2>/dev/null; then
      echo "the demo IdP (tests/idp/server.mjs) exited before it was ready; its log:" >&2
      tail -n 20 "$dir/idp.log" >&2
      return 1
    fi
    if ((waited >= 600)); then
      echo "the demo IdP did not start within 60 s; its log:" >&2
      tail -n 20 "$dir/idp.log" >&2
      kill "$IDP_PID" 2>/dev/null
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  ISSUER="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").split("\n")[0]).issuer)' "$dir/idp.json")"
}
