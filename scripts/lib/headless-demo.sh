# Run by scripts/demo.sh inside xvfb-run + dbus-run-session on a machine
# without a desktop: APP CLI HEADLESS_DIR. Starts a throwaway keychain and the
# app, signs the demo user in with `latchkey sign-in --device` (the tests'
# browser stand-in enters the code), takes a screenshot of the window with the
# account, prints `latchkey status`, then waits for the app.
set -uo pipefail
APP="$1" CLI="$2" HEADLESS="$3"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=keyring.sh
source "$ROOT/scripts/lib/keyring.sh"
unlock_keyring demo "$HEADLESS/keyring"
"$APP" &
APP_PID=$!
SIGNIN_PID=""
fail() {
  echo "$1" >&2
  kill "$APP_PID" $SIGNIN_PID 2>/dev/null
  exit 1
}
# Say it runs only once its window is mapped, and the process still lives.
if ! timeout 90 xdotool search --sync --onlyvisible --name "^Latchkey$" >/dev/null 2>&1 ||
  ! kill -0 "$APP_PID" 2>/dev/null; then
  fail "Latchkey did not open its window (see $XDG_DATA_HOME/dev.latchkey.app/logs/latchkey.log)"
fi
echo "==> signing the demo user in (latchkey sign-in --device; the browser stand-in enters the code)" >&2
"$CLI" sign-in local-demo --device --json >"$HEADLESS/sign-in.out" 2>"$HEADLESS/sign-in.err" &
SIGNIN_PID=$!
for _ in $(seq 1 600); do
  [[ -s "$HEADLESS/sign-in.out" ]] && break
  kill -0 "$SIGNIN_PID" 2>/dev/null || break
  sleep 0.1
done
URI="$(node -e 'const [line] = require("fs").readFileSync(process.argv[1], "utf8").split("\n");
  console.log(JSON.parse(line).verification_uri_complete)' "$HEADLESS/sign-in.out" 2>/dev/null)" ||
  fail "latchkey sign-in printed no code: $(tail -n 3 "$HEADLESS/sign-in.err")"
node "$ROOT/tests/browser/standin.mjs" --dir "$HEADLESS/standin" "$URI" ||
  fail "the browser stand-in could not approve the code (see $HEADLESS/standin/standin.log)"
wait "$SIGNIN_PID" || fail "latchkey sign-in failed: $(tail -n 3 "$HEADLESS/sign-in.err")"
SIGNIN_PID=""
grep -h "Signed in" "$HEADLESS/sign-in.err" >&2
# The window picks up the account the CLI added (it watches the accounts file).
sleep 5
import -window root "$LATCHKEY_DEMO_SCREENSHOT" && echo "screenshot: $LATCHKEY_DEMO_SCREENSHOT" >&2
echo "==> latchkey status" >&2
"$CLI" status >&2
echo "Latchkey runs headless (pid $APP_PID); press Ctrl-C to stop." >&2
wait "$APP_PID"
