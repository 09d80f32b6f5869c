#!/usr/bin/env bash
# tests/oidc.sh: the SPID/CIE OpenID Connect relying party end to end, against the local
# test federation (trust anchor, OP, trust-mark issuer; TEST ONLY) that the demo SP runs
# under /test-federation with its test IdP on:
#   1. the Rust flow suites (tests/oidc_flow.rs, tests/oidc_axum.rs): a login and every
#      negative case (expired/broken chain, wrong trust mark, bad signature, wrong
#      audience, nonce/state mismatch, replayed code/callback, low acr, plain userinfo);
#   2. over HTTP with curl: the Entity Configuration, a login to /me with the fiscal
#      code, a replayed callback, a callback from another browser, a forged state, logout
#      with token revocation;
#   3. headless Chromium: home → "Entra con CIE (OpenID Connect)" → test OP → back with
#      the fiscal code → logout.
# Against Italy's reference package (spid-cie-oidc 1.6.3 on PyPI): tests/oidc-interop.sh (docs/oidc.md §7).
# Installs what is missing (apt-get as root; playwright-core via npm ci into target/).
# Closing line: "oidc: N passed, M failed".
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/oidc"
NODE_DIR="$ROOT/target/browser-node"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
mkdir -p "$OUT"
PASSED=0
FAILED=0

log() { echo "oidc.sh: $*" >&2; }
die() { log "$*"; echo "oidc: $PASSED passed, $((FAILED + 1)) failed"; exit 1; }
check() { # check NAME RC
  if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "ok   $1"; else FAILED=$((FAILED + 1)); echo "FAIL $1"; fi
}

# shellcheck source=browser/setup.sh
. "$HERE/browser/setup.sh"
ensure_tools node=nodejs npm=npm curl=curl python3=python3
ensure_playwright

# 1. The Rust suites (their own pass/fail counts are added).
log "cargo test oidc_flow + oidc_axum"
cargo test -q --features axum,oidc,test-idp,audit --test oidc_flow --test oidc_axum >"$OUT/cargo-test.log" 2>&1
rc=$?
p=$(grep -Eo '[0-9]+ passed' "$OUT/cargo-test.log" | awk '{s+=$1} END {print s+0}')
f=$(grep -Eo '[0-9]+ failed' "$OUT/cargo-test.log" | awk '{s+=$1} END {print s+0}')
PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
[ $rc = 0 ] || { [ "$f" -gt 0 ] || FAILED=$((FAILED + 1)); log "cargo test failed: $OUT/cargo-test.log"; }
echo "rust: $p passed, $f failed"

# 2. The demo SP with its test IdP and test federation on a free loopback port.
cargo build -q --features demo --example demo-sp || die "cargo build failed"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
"$ROOT/target/debug/examples/demo-sp" --bind "127.0.0.1:$PORT" --key-dir "$OUT/keys" \
  --profile spid-public --level 2 --no-audit >"$OUT/demo.log" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$BASE/.well-known/openid-federation" && break
  kill -0 "$DEMO_PID" 2>/dev/null || { cat "$OUT/demo.log" >&2; die "demo SP did not start"; }
  sleep 0.2
done

# Entity Configuration: the JWT, its content type and the profile's fields.
ct=$(curl -s -o "$OUT/ec.jwt" -w '%{content_type}' "$BASE/.well-known/openid-federation")
[ "$ct" = "application/entity-statement+jwt" ]; check "Entity Configuration served as application/entity-statement+jwt" $?
python3 - "$OUT/ec.jwt" "$BASE" <<'PY'
import base64, json, sys
jwt = open(sys.argv[1]).read().strip()
h, p, s = jwt.split(".")
dec = lambda x: json.loads(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
head, c = dec(h), dec(p)
rp = c["metadata"]["openid_relying_party"]
fed_kids = {k["kid"] for k in c["jwks"]["keys"]}
core_kids = {k["kid"] for k in rp["jwks"]["keys"]}
ok = (head["typ"] == "entity-statement+jwt" and head["alg"] == "RS256"
      and c["iss"] == c["sub"] == sys.argv[2] and rp["client_id"] == sys.argv[2]
      and rp["token_endpoint_auth_method"] == "private_key_jwt"
      and rp["client_registration_types"] == ["automatic"]
      and rp["response_types"] == ["code"] and c["authority_hints"] and c["trust_marks"]
      and not (fed_kids & core_kids) and len(core_kids) == 2)
sys.exit(0 if ok else 1)
PY
check "Entity Configuration: client_id, private_key_jwt, automatic, trust mark, core keys apart from the federation key" $?

J="$OUT/jar"; rm -f "$J"
# A login: /spid/oidc/login → OP (auto-approve) → callback → /complete → /me.
auth=$(curl -s -c "$J" -b "$J" -o /dev/null -w '%{redirect_url}' "$BASE/spid/oidc/login?next=/me")
case "$auth" in "$BASE/test-federation/op/authorization?"*request=*) r=0 ;; *) r=1 ;; esac
check "/spid/oidc/login sends the browser to the OP with a request object" $r
cb=$(curl -s -c "$J" -b "$J" -o /dev/null -w '%{redirect_url}' "$auth")
case "$cb" in "$BASE/spid/oidc/callback?code="*"&state="*"&iss="*) r=0 ;; *) r=1 ;; esac
check "the OP answers with code, state and iss" $r
# From another browser (no browser cookie): refused, and the state is consumed.
st=$(curl -s -o "$OUT/other.html" -w '%{http_code}' "$cb")
[ "$st" = 403 ] && grep -q 'browser-mismatch' "$OUT/other.html"; check "callback from another browser refused (403 browser-mismatch)" $?
# A second login for the same browser, finished normally.
auth=$(curl -s -c "$J" -b "$J" -o /dev/null -w '%{redirect_url}' "$BASE/spid/oidc/login?next=/me")
cb=$(curl -s -c "$J" -b "$J" -o /dev/null -w '%{redirect_url}' "$auth")
done_url=$(curl -s -c "$J" -b "$J" -o /dev/null -w '%{redirect_url}' "$cb")
case "$done_url" in "$BASE/spid/complete?handoff="*) r=0 ;; *) r=1 ;; esac
check "the callback verifies tokens and userinfo, then hands off to /spid/complete" $r
curl -s -c "$J" -b "$J" -L -o "$OUT/me.html" "$done_url"
grep -q 'RSSMRA80A01H501U' "$OUT/me.html"; check "/me shows the fiscal code from the OIDC login" $?
st=$(curl -s -c "$J" -b "$J" -o "$OUT/replay.html" -w '%{http_code}' "$cb")
[ "$st" = 403 ] && grep -q 'oidc_unknown_state' "$OUT/replay.html"; check "replayed callback refused (403 oidc_unknown_state)" $?
st=$(curl -s -c "$J" -b "$J" -o "$OUT/forged.html" -w '%{http_code}' "$BASE/spid/oidc/callback?code=x&state=forged&iss=x")
[ "$st" = 403 ] && grep -q 'oidc_unknown_state' "$OUT/forged.html"; check "forged state refused (403)" $?
st=$(curl -s -c "$J" -b "$J" -o /dev/null -w '%{http_code}' -X POST -H "Origin: $BASE" "$BASE/spid/logout")
[ "$st" = 303 ]; check "logout (303)" $?
sleep 0.3
grep -q 'oidc logout.*outcome="revoked"' "$OUT/demo.log"; check "logout revoked the access token at the OP" $?
st=$(curl -s -b "$J" -o /dev/null -w '%{http_code}' "$BASE/me")
[ "$st" != 200 ]; check "/me after logout needs a login" $?
! grep -q 'RSSMRA80A01H501U' "$OUT/demo.log"; check "no fiscal code in the demo's log" $?

# 3. Chromium end to end.
DEMO_URL="$BASE" OUT="$OUT" CHROMIUM="$CHROMIUM" NODE_PATH="$NODE_DIR/node_modules" \
  node "$HERE/browser/oidc.cjs" | tee "$OUT/browser.log"
p=$(grep -Eo '^oidc-browser: [0-9]+ passed' "$OUT/browser.log" | grep -Eo '[0-9]+' || echo 0)
f=$(grep -Eo '[0-9]+ failed' "$OUT/browser.log" | tail -1 | grep -Eo '[0-9]+' || echo 1)
PASSED=$((PASSED + p)); FAILED=$((FAILED + f))

echo "oidc: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
