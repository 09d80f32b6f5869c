#!/usr/bin/env bash
# tests/e2e.sh: the demo SP with its local test IdP, end to end in headless Chromium
# (Debian's chromium through playwright-core, no network beyond 127.0.0.1):
#   home → "Entra con SPID" → Test IdP (local) → citizen at SpidL2 → the demo shows the
#   fiscal code and level → /area-l3 steps up to SpidL3 → logout through SLO (the test
#   IdP answers the LogoutRequest) → the protected page is refused again; a refusal
#   (nr22) shows the courtesy text with an HTTP error status; a login with the
#   HTTP-Redirect binding; an IdP-initiated logout over HTTP-POST; forged requests
#   refused by the test IdP; /area-l3 without a session → /?next=/area-l3 → login →
#   back on /area-l3; the courtesy page in Italian (it-IT browser) or English (en-GB),
#   never both. Then, without a browser, the eIDAS button (absent in the default
#   profile, present and working with --profile eidas) and the demo's guards: no test IdP
#   with --idp-metadata, a public base URL or a listener off loopback (--bind 0.0.0.0),
#   --test-idp refused off loopback.
# Screenshots: target/e2e/NN-step.png.
#
# Installs what is missing: chromium, nodejs/npm, curl (apt-get, as root) and
# playwright-core (npm ci into target/browser-node from tests/browser/package-lock.json).
# Closing line: "e2e: N passed, M failed". Env: CHROMIUM (default /usr/bin/chromium).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/e2e"
NODE_DIR="$ROOT/target/browser-node"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
mkdir -p "$OUT"
rm -f "$OUT"/*.png

log() { echo "e2e.sh: $*" >&2; }
die() { log "$*"; echo "e2e: 0 passed, 1 failed"; exit 1; }

# shellcheck source=browser/setup.sh
. "$HERE/browser/setup.sh"
ensure_tools node=nodejs npm=npm curl=curl python3=python3
ensure_playwright

log "building the demo SP (all features: the same build as tests/browser.sh)"
cargo build -q --all-features --example demo-sp || die "cargo build failed"
DEMO="$ROOT/target/debug/examples/demo-sp"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# start_demo LOG ARGS...: starts the demo on a free port; sets PORT, BASE, DEMO_PID.
start_demo() {
  local logf="$1"; shift
  PORT="$(free_port)"
  BASE="http://127.0.0.1:$PORT"
  "$DEMO" --bind "127.0.0.1:$PORT" --key-dir "$OUT/keys" "$@" >"$logf" 2>&1 &
  DEMO_PID=$!
  PIDS+=("$DEMO_PID")
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "$BASE/spid/metadata" && return 0
    kill -0 "$DEMO_PID" 2>/dev/null || { cat "$logf" >&2; return 1; }
    sleep 0.2
  done
  return 1
}

# 1. The browser run, on the embedded defaults (what `cargo run` gives).
start_demo "$OUT/demo.log" --profile spid-public --level 2 --binding post || die "demo SP did not start"
DEMO_URL="$BASE" OUT="$OUT" CHROMIUM="$CHROMIUM" NODE_PATH="$NODE_DIR/node_modules" \
  node "$HERE/browser/e2e.cjs" | tee "$OUT/browser.txt"
tail -n 1 "$OUT/browser.txt" | grep -q '^e2e-browser: ' || die "the browser run did not finish (see $OUT/demo.log)"
read -r browser_passed browser_failed < <(tail -n 1 "$OUT/browser.txt" | sed -E 's/^e2e-browser: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

# 2. The demo's guards (no browser needed).
passed=0
failed=0
check() {
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
status_of() { curl -s -o /dev/null -w '%{http_code}' "$1"; }

"$ROOT/target/debug/examples/demo-sp" --help | grep -q -- '--no-test-idp'; check "--help documents --test-idp / --no-test-idp" $?

start_demo "$OUT/demo-idp-metadata.log" --idp-metadata "$ROOT/metadata/testing/spid-sp-test-idp.xml" \
  || die "demo SP (--idp-metadata) did not start"
[ "$(status_of "$BASE/test-idp/metadata")" = 404 ]; check "--idp-metadata: no test IdP mounted" $?
! curl -s "$BASE/" | grep -q 'Test IdP (local)'; check "--idp-metadata: no test IdP listed" $?
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

start_demo "$OUT/demo-public.log" --base-url https://demo.example.it || die "demo SP (public base URL) did not start"
[ "$(status_of "$BASE/test-idp/metadata")" = 404 ]; check "public --base-url: no test IdP mounted" $?
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

start_demo "$OUT/demo-no-test-idp.log" --no-test-idp || die "demo SP (--no-test-idp) did not start"
[ "$(status_of "$BASE/test-idp/metadata")" = 404 ]; check "--no-test-idp: no test IdP mounted" $?
# The default profile (spid-public) has no attribute service 99/100: the eIDAS node's
# login could only fail, so its button is not offered (CIE's is).
home="$(curl -s "$BASE/")"
! grep -q 'Login with eIDAS' <<<"$home" && grep -q 'Entra con CIE' <<<"$home"
check "default profile: no eIDAS button (the node needs the eidas profile), CIE button shown" $?
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

start_demo "$OUT/demo-eidas.log" --profile eidas --no-test-idp || die "demo SP (--profile eidas) did not start"
home="$(curl -s "$BASE/")"
eidas_link="$(grep -o 'href="/spid/login?idp=https%3A%2F%2Fsp-proxy.eid.gov.it[^"]*"' <<<"$home" | head -n 1 | sed -e 's/^href="//' -e 's/"$//' -e 's/&amp;/\&/g')"
grep -q 'Login with eIDAS' <<<"$home" && [ -n "$eidas_link" ] && [ "$(status_of "$BASE$eidas_link")" = 200 ]
check "--profile eidas: eIDAS button shown, and its login starts (200, signed request)" $?
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

start_demo "$OUT/demo-forced.log" --test-idp --idp-metadata "$ROOT/metadata/testing/spid-sp-test-idp.xml" \
  || die "demo SP (--test-idp) did not start"
[ "$(status_of "$BASE/test-idp/metadata")" = 200 ]; check "--test-idp with --idp-metadata: test IdP mounted" $?
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

"$DEMO" --bind 127.0.0.1:0 --key-dir "$OUT/keys" --test-idp --base-url https://demo.example.it \
  >"$OUT/demo-refused.log" 2>&1
rc=$?
[ $rc = 2 ] && grep -q 'loopback' "$OUT/demo-refused.log"; check "--test-idp with a public base URL: refused (exit 2)" $?

# A listener off loopback (--bind 0.0.0.0): no test IdP by default (and the demo says
# why); --test-idp is refused with exit 2.
"$DEMO" --bind 0.0.0.0:0 --key-dir "$OUT/keys" --test-idp >"$OUT/demo-refused-bind.log" 2>&1
rc=$?
[ $rc = 2 ] && grep -q 'loopback listener' "$OUT/demo-refused-bind.log"; check "--test-idp with --bind 0.0.0.0: refused (exit 2)" $?
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
"$DEMO" --bind "0.0.0.0:$PORT" --key-dir "$OUT/keys" >"$OUT/demo-any.log" 2>&1 &
DEMO_PID=$!
PIDS+=("$DEMO_PID")
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$BASE/spid/metadata" && break
  sleep 0.2
done
[ "$(status_of "$BASE/test-idp/metadata")" = 404 ] && grep -q 'no local test IdP: listening on 0.0.0.0' "$OUT/demo-any.log"
check "--bind 0.0.0.0: no test IdP mounted, and the demo says why" $?
kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null

total_passed=$((browser_passed + passed))
total_failed=$((browser_failed + failed))
[ "$total_failed" = 0 ] || log "logs and screenshots in $OUT"
echo "e2e: $total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
