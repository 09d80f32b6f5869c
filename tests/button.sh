#!/usr/bin/env bash
# tests/button.sh: the SDK's login buttons (spid_sp::axum::LoginButtons) in headless
# Chromium (Debian's chromium through playwright-core), on the demo SP's login page with
# the embedded registry snapshot and the local test IdP: random IdP order across loads
# with every IdP present, human names (no URL), keyboard use, JavaScript disabled (the
# chooser opens and an IdP link reaches the IdP), an axe-core accessibility check (no
# serious or critical violation), nothing fetched from another site.
# Screenshots: target/button/*.png.
#
# Installs what is missing: chromium, nodejs/npm, curl, python3 (apt-get, as root), and
# playwright-core + axe-core (npm ci into target/browser-node from
# tests/browser/package-lock.json). Closing line: "button: N passed, M failed".
# Env: CHROMIUM (default /usr/bin/chromium).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/button"
NODE_DIR="$ROOT/target/browser-node"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
mkdir -p "$OUT"
rm -f "$OUT"/*.png

log() { echo "button.sh: $*" >&2; }
die() { log "$*"; echo "button: 0 passed, 1 failed"; exit 1; }

# shellcheck source=browser/setup.sh
. "$HERE/browser/setup.sh"
ensure_tools node=nodejs npm=npm curl=curl python3=python3
ensure_playwright

log "building the demo SP (all features: the same build as tests/browser.sh)"
cargo build -q --all-features --example demo-sp || die "cargo build failed"
DEMO="$ROOT/target/debug/examples/demo-sp"

# The SPID IdPs the page must list: every entity of the committed registry snapshot.
SPID_IDPS="$(python3 -c 'import json, re, sys; print(json.dumps(sorted(set(re.findall(r"entityID=\"([^\"]+)\"", open(sys.argv[1]).read())))))' \
  "$ROOT/metadata/spid-entities-idps.xml")" || die "cannot read the registry snapshot"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
"$DEMO" --bind "127.0.0.1:$PORT" --key-dir "$OUT/keys" --profile spid-public --level 2 --binding post \
  >"$OUT/demo.log" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$BASE/spid/metadata" && break
  kill -0 "$DEMO_PID" 2>/dev/null || { cat "$OUT/demo.log" >&2; die "demo SP did not start"; }
  sleep 0.2
done
curl -fs -o /dev/null "$BASE/test-idp/metadata" || die "the demo's local test IdP is not mounted (see $OUT/demo.log)"

DEMO_URL="$BASE" OUT="$OUT" CHROMIUM="$CHROMIUM" SPID_IDPS="$SPID_IDPS" NODE_PATH="$NODE_DIR/node_modules" \
  node "$HERE/browser/button.cjs"
rc=$?
[ $rc = 0 ] || log "demo SP log: $OUT/demo.log; screenshots in $OUT"
exit $rc
