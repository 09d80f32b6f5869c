#!/usr/bin/env bash
# tests/browser.sh: drives headless Chromium (Debian's chromium, through playwright-core
# from npm) through the demo SP: the SPID button and IdP list, the signed AuthnRequest
# that leaves for the chosen IdP (both bindings; intercepted, there is no internet), a
# login whose Response comes back as a cross-site POST from a local test IdP (the session
# must be created and survive with Chromium's default cookie settings), a step-up to
# SpidL3, a forged RelayState and off-site `next` values (must never leave the SP), and
# logout. Screenshots: target/browser/*.png.
#
# Installs what is missing: chromium, nodejs/npm, xmlsec1 (apt-get, as root) and
# playwright-core (npm ci into target/browser-node from tests/browser/package-lock.json).
# Closing line: "browser: N passed, M failed". Env: CHROMIUM (default /usr/bin/chromium).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/browser"
NODE_DIR="$ROOT/target/browser-node"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
TEST_IDP="https://idp.browser.test"
TEST_IDP_HOST="http://idp.browser.test"
mkdir -p "$OUT"

log() { echo "browser.sh: $*" >&2; }
die() { log "$*"; echo "browser: 0 passed, 1 failed"; exit 1; }

# shellcheck source=browser/setup.sh
. "$HERE/browser/setup.sh"
ensure_tools node=nodejs npm=npm xmlsec1=xmlsec1 openssl=openssl curl=curl
ensure_playwright

log "building the demo SP and the test IdP signer"
cargo build -q --all-features --example demo-sp --example sign-response || die "cargo build failed"
DEMO="$ROOT/target/debug/examples/demo-sp"
SIGNER="$ROOT/target/debug/examples/sign-response"

# A test IdP whose key we hold, trusted by the demo on top of the registry snapshot.
[ -f "$OUT/idp/idp.key.pem" ] || "$SIGNER" keygen "$OUT/idp" || die "keygen failed"
"$SIGNER" metadata "$OUT/idp" "$TEST_IDP" "$TEST_IDP_HOST" > "$OUT/idp-metadata.xml" || die "metadata failed"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
"$DEMO" --bind "127.0.0.1:$PORT" --idp-metadata "$OUT/idp-metadata.xml" --key-dir "$OUT/sp-keys" \
  --profile spid-public --level 2 --binding post >"$OUT/demo.log" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$BASE/spid/metadata" && break
  kill -0 "$DEMO_PID" 2>/dev/null || { cat "$OUT/demo.log" >&2; die "demo SP did not start"; }
  sleep 0.2
done

DEMO_URL="$BASE" SIGNER="$SIGNER" IDP_DIR="$OUT/idp" TEST_IDP="$TEST_IDP" TEST_IDP_HOST="$TEST_IDP_HOST" \
  SP_CERT="$OUT/sp-keys/sp.crt.pem" OUT="$OUT" CHROMIUM="$CHROMIUM" NODE_PATH="$NODE_DIR/node_modules" \
  node "$HERE/browser/run.cjs"
rc=$?
[ $rc = 0 ] || log "demo SP log: $OUT/demo.log"
exit $rc
