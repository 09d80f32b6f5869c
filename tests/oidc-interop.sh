#!/usr/bin/env bash
# tests/oidc-interop.sh: our OpenID Connect relying party (the demo SP, production back
# channel `HttpBackChannel`) against Italy's reference implementation, spid-cie-oidc
# 1.6.3 from PyPI (Django), run on loopback as the trust anchor and a CIE-profile OP.
#
# The wheel ships no Django project: tests/oidc-interop/ is ours (settings.py, urls.py,
# a stand-in base template, onboard.py, drive.py). Keys are generated at run time.
#   1. venv under target/oidc-interop (pip install, pinned by the constraints file;
#      cached: later runs skip it), migrate a fresh sqlite database;
#   2. onboard.py federation: the trust anchor, the OP (with the anchor's trust mark)
#      and a user with a fiscal number; start Django (runserver, threaded);
#   3. the demo SP with three fresh RSA keys and the anchor's JWKS pinned, without a
#      trust mark: onboard.py rp registers it from its published Entity Configuration
#      (self-signature verified) and has the anchor issue its trust mark; the reference
#      OP must refuse this RP while its configuration lacks the mark;
#   4. the demo SP restarted with the trust mark: a full login (request object, OP
#      login form and consent, token with private_key_jwt + PKCE, ID token, encrypted
#      userinfo, our identity with the fiscal code), replays and forgeries, a tampered
#      request object, logout with revocation at the OP;
#      then a nonce mismatch (B's code with A's state; B re-signed with A's PKCE challenge)
#      and a code redeemed twice at the OP's token endpoint (the suite signs as our RP);
#   4b. a second RP (the demo on another port, own entity ID and keys) onboarded: its
#      codes delivered to the first RP's callback (refused by the OP on PKCE; re-signed
#      with the first RP's challenge, redeemed by the OP and refused by our RP on `aud`);
#   4c. `spid-sp gateway` with [gateway.oidc] as the RP, in front of the echo upstream:
#      onboarded, then a login through it (the OIDC button of its login page, the OP, the
#      callback; the fiscal code and the JWT at the upstream, spoofed headers stripped),
#      logout with revocation;
#   5. the demo SP pinning the wrong anchor keys: the chain is refused;
#   6. statements with exp before iat (the OP's default_exp < 0), then the whole
#      federation's clock 3 days behind (OIDC_INTEROP_CLOCK_OFFSET, urls.py): an expired
#      chain, refused by a freshly started RP.
# Closing line: "oidc-interop: N passed, M failed".
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/oidc-interop"
VENV="$OUT/venv"
RUN="$OUT/run"
PASSED=0
FAILED=0
PIDS=()

log() { echo "oidc-interop.sh: $*" >&2; }
finish() { echo "oidc-interop: $PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; exit $?; }
die() { log "$*"; FAILED=$((FAILED + 1)); finish; }
check() { # check NAME RC
  if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "ok   $1"; else FAILED=$((FAILED + 1)); echo "FAIL $1"; fi
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  return 0
}
trap cleanup EXIT

need() { # need TOOL PACKAGE
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1
  fi
  command -v "$1" >/dev/null || die "$1 not found (package $2)"
}
need python3 python3
need openssl openssl
need curl curl
python3 -c 'import venv, ensurepip' 2>/dev/null || need_venv=1
if [ "${need_venv:-0}" = 1 ]; then
  [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1
  python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3 venv module missing (package python3-venv)"
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_url() { # wait_url URL PID
  for _ in $(seq 1 150); do
    curl -fs -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

# 1. The reference package, cached in the venv (a marker names the constraints used).
CONSTRAINTS="$HERE/oidc-interop/constraints.txt"
STAMP="$VENV/.spid-cie-oidc-$(sha256sum "$CONSTRAINTS" | cut -c1-16)"
if [ ! -e "$STAMP" ]; then
  log "installing spid-cie-oidc 1.6.3 into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "venv failed"
  "$VENV/bin/pip" install -q -c "$CONSTRAINTS" spid-cie-oidc==1.6.3 >"$OUT/pip.log" 2>&1 \
    || { tail -20 "$OUT/pip.log" >&2; die "pip install spid-cie-oidc failed"; }
  touch "$STAMP"
fi
PY="$VENV/bin/python"
"$PY" -c 'import importlib.metadata as m; assert m.version("spid-cie-oidc") == "1.6.3"'
check "spid-cie-oidc 1.6.3 installed (venv under target/)" $?

cargo build -q --features demo --example demo-sp || die "cargo build failed"
DEMO="$ROOT/target/debug/examples/demo-sp"

rm -rf "$RUN"; mkdir -p "$RUN/keys"
for k in federation core-sig core-enc; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$RUN/keys/$k.key.pem" 2>/dev/null \
    || die "openssl genpkey failed"
done
TA_PORT="$(free_port)"; RP_PORT="$(free_port)"
TA="http://127.0.0.1:$TA_PORT"; RP="http://127.0.0.1:$RP_PORT"; OP="$TA/oidc/op"
export OIDC_INTEROP_DIR="$RUN" OIDC_INTEROP_BASE="$TA" DJANGO_SETTINGS_MODULE=settings \
  PYTHONPATH="$HERE/oidc-interop" PYTHONDONTWRITEBYTECODE=1
"$PY" -m django migrate -v0 >"$RUN/migrate.log" 2>&1
check "the reference apps' migrations apply offline (sqlite)" $?

# 2. Trust anchor + OP + user, then Django.
"$PY" "$HERE/oidc-interop/onboard.py" federation "$TA" "$RUN" >"$RUN/onboard.log" 2>&1
check "onboarding: trust anchor, OP (CIE profile, trust mark) and a user with a fiscal number" $?
"$PY" -m django runserver "127.0.0.1:$TA_PORT" --noreload >"$RUN/django.log" 2>&1 &
DJANGO_PID=$!; PIDS+=($DJANGO_PID)
wait_url "$TA/.well-known/openid-federation" "$DJANGO_PID" || { tail -30 "$RUN/django.log" >&2; die "Django did not start"; }
"$PY" - "$TA" "$OP" <<'PY'
import base64, json, sys, urllib.request
ta, op = sys.argv[1:3]
dec = lambda j: json.loads(base64.urlsafe_b64decode(j.split(".")[1] + "=="))
ec = dec(urllib.request.urlopen(op + "/.well-known/openid-federation").read().decode())
ok = ec["iss"] == ec["sub"] == op and ec["authority_hints"] == [ta] and ec["trust_marks"] \
    and "openid_provider" in ec["metadata"]
sys.exit(0 if ok else 1)
PY
check "reference OP serves its Entity Configuration (authority hint, trust mark, openid_provider)" $?

start_demo() { # start_demo LOG [TRUST_MARK_FILE] [ANCHOR_JWKS]
  SPID_DEMO_OIDC_TRUST_ANCHOR="$TA" SPID_DEMO_OIDC_TRUST_ANCHOR_JWKS="${3:-$RUN/ta-jwks.json}" \
    SPID_DEMO_OIDC_PROVIDER="$OP" SPID_DEMO_OIDC_KEY_DIR="$RUN/keys" \
    SPID_DEMO_OIDC_TRUST_MARK="${2:-}" RUST_LOG="${RUST_LOG:-info}" \
    "$DEMO" --bind "127.0.0.1:$RP_PORT" --key-dir "$RUN/demo-keys" --profile spid-public \
    --level 2 --no-audit >"$RUN/$1" 2>&1 &
  DEMO_PID=$!
  PIDS+=($DEMO_PID)
  wait_url "$RP/.well-known/openid-federation" "$DEMO_PID" || { tail -20 "$RUN/$1" >&2; die "demo SP did not start"; }
}
stop_demo() { kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null; }
count() { # count the ok/FAIL lines of the last drive
  local text="$1"
  PASSED=$((PASSED + $(printf '%s\n' "$text" | grep -c '^ok ')))
  FAILED=$((FAILED + $(printf '%s\n' "$text" | grep -c '^FAIL ')))
  printf '%s\n' "$text" | grep -q '^\(ok\|FAIL\) ' || FAILED=$((FAILED + 1))
}

# 3. Our RP without a trust mark: onboarded from its Entity Configuration, refused by
# the OP until its configuration shows the mark.
start_demo demo-no-mark.log ""
curl -fs -o "$RUN/rp-ec.jwt" "$RP/.well-known/openid-federation"
check "our RP's Entity Configuration fetched" $?
"$PY" "$HERE/oidc-interop/onboard.py" rp "$TA" "$RP" "$RUN/rp-ec.jwt" "$RUN" >>"$RUN/onboard.log" 2>&1
check "onboarding of our RP at the reference anchor (self-signature verified, trust mark issued)" $?
out="$("$PY" "$HERE/oidc-interop/drive.py" no-trust-mark "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
grep -q "$RP doesn't have the trust marks claim in its Entity Configuration" "$RUN/django.log"
check "… and the reference OP's reason is the missing trust mark" $?
stop_demo

# 4. With the trust mark: the login.
start_demo demo.log "$RUN/rp-trust-mark.txt"
out="$("$PY" "$HERE/oidc-interop/drive.py" login "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
grep -q "Authz request object signature validation failed for $RP" "$RUN/django.log"
check "the reference OP's reason for the tampered request object is its signature" $?
grep -q "Starting Entity Configuration Request for $RP/.well-known/openid-federation" "$RUN/django.log"
check "the reference OP fetched our RP's Entity Configuration" $?
grep -q "Trust Mark $TA/openid_relying_party/public to $RP issued by $TA is valid" "$RUN/django.log"
check "the reference OP validated our RP's trust mark" $?
grep -q "Found a valid trust path: \['$RP', '$TA'\]" "$RUN/django.log"
check "the reference OP built a valid trust chain RP → anchor (fetch endpoint)" $?
grep -q 'oidc logout.*outcome="revoked"' "$RUN/demo.log"
check "our RP logged the revocation at the OP" $?
! grep -q 'RSSMRA80A01H501U' "$RUN/demo.log"
check "no fiscal code in our RP's log" $?
# Nonce mismatch: B's code with A's state (two logins in one browser; then B re-signed
# by the suite with A's code_challenge so that only the nonce differs).
out="$("$PY" "$HERE/oidc-interop/drive.py" nonce-mismatch "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
grep -q "PCKE validation failed" "$RUN/django.log"
check "the reference OP's reason for B's code with A's verifier is PKCE (its log: PCKE validation failed)" $?
# Replayed code at the reference OP's token endpoint (the suite signs as our RP).
out="$("$PY" "$HERE/oidc-interop/drive.py" replay-code "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
stop_demo

# 4b. A second RP (the demo again: another port, entity ID and keys), onboarded at the
# same anchor; its codes delivered to our first RP's callback.
RP2_PORT="$(free_port)"; RP2="http://127.0.0.1:$RP2_PORT"
mkdir -p "$RUN/rp2/keys"
for k in federation core-sig core-enc; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$RUN/rp2/keys/$k.key.pem" 2>/dev/null \
    || die "openssl genpkey failed"
done
start_rp2() { # start_rp2 LOG [TRUST_MARK_FILE]
  SPID_DEMO_OIDC_TRUST_ANCHOR="$TA" SPID_DEMO_OIDC_TRUST_ANCHOR_JWKS="$RUN/ta-jwks.json" \
    SPID_DEMO_OIDC_PROVIDER="$OP" SPID_DEMO_OIDC_KEY_DIR="$RUN/rp2/keys" \
    SPID_DEMO_OIDC_TRUST_MARK="${2:-}" RUST_LOG="${RUST_LOG:-info}" \
    "$DEMO" --bind "127.0.0.1:$RP2_PORT" --key-dir "$RUN/rp2/demo-keys" --profile spid-public \
    --level 2 --no-audit >"$RUN/$1" 2>&1 &
  RP2_PID=$!
  PIDS+=($RP2_PID)
  wait_url "$RP2/.well-known/openid-federation" "$RP2_PID" || { tail -20 "$RUN/$1" >&2; die "second RP did not start"; }
}
start_rp2 rp2-no-mark.log ""
curl -fs -o "$RUN/rp2/rp-ec.jwt" "$RP2/.well-known/openid-federation" \
  && "$PY" "$HERE/oidc-interop/onboard.py" rp "$TA" "$RP2" "$RUN/rp2/rp-ec.jwt" "$RUN/rp2" >>"$RUN/onboard.log" 2>&1
check "a second RP onboarded at the reference anchor (its own entity ID, keys, trust mark)" $?
kill "$RP2_PID" 2>/dev/null; wait "$RP2_PID" 2>/dev/null
start_rp2 rp2.log "$RUN/rp2/rp-trust-mark.txt"
start_demo demo-aud.log "$RUN/rp-trust-mark.txt"
out="$(OIDC_INTEROP_RP2="$RP2" "$PY" "$HERE/oidc-interop/drive.py" wrong-audience "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
[ "$(grep -c "PCKE validation failed" "$RUN/django.log")" = 2 ]
check "the reference OP's reason for RP2's code with RP1's verifier is PKCE (a second PCKE validation failed line)" $?
[ "$(grep -c 'request refused result="refused" code="oidc_wrong_audience"' "$RUN/demo-aud.log")" = 1 ]
check "our RP logged the refusal once with its code (oidc_wrong_audience)" $?
stop_demo
kill "$RP2_PID" 2>/dev/null; wait "$RP2_PID" 2>/dev/null

# 4c. `spid-sp gateway` as the RP ([gateway.oidc]: the reference anchor and OP, RP keys
# generated in its key_dir on first start) in front of examples/gateway/echo.py: onboarded
# from its Entity Configuration, restarted with its trust mark, then a login through it.
GW_PORT="$(free_port)"; GW="http://127.0.0.1:$GW_PORT"; ECHO_PORT="$(free_port)"
mkdir -p "$RUN/gw"
"$PY" "$ROOT/examples/gateway/echo.py" "$ECHO_PORT" >"$RUN/gw/echo.log" 2>&1 &
PIDS+=($!)
gw_config() { # gw_config TRUST_MARKS (a TOML array)
  cat >"$RUN/gw/gateway.toml" <<EOF
entity_id = "{base_url}"
key_file = "$ROOT/tests/data/metadata/test-only-sp.key.pem"
certificate_file = "$ROOT/tests/data/metadata/test-only-sp.crt.pem"
assertion_consumer_services = ["{base_url}/spid/acs"]

[[single_logout_services]]
binding = "redirect"
url = "{base_url}/spid/slo"

[[attribute_services]]
index = 0
name = "Servizi online"
attributes = ["fiscalNumber", "name", "familyName"]

[metadata]
profile = "spid-sp-public"

[metadata.organization]
name = "Gateway OIDC test"
display_name = "Gateway OIDC test"
url = "{base_url}/"

[metadata.contact]
email = "gw@example.it"
ipa_code = "c_h501"
municipality = "H501"

[gateway]
bind = "127.0.0.1:$GW_PORT"
base_url = "$GW"
level = 2
key_dir = "$RUN/gw/keys"

[gateway.audit]
dir = "$RUN/gw/audit"

[gateway.jwt]
alg = "ES256"
lifetime_secs = 60

[gateway.oidc]
trust_anchor = "$TA"
trust_anchor_jwks = "$RUN/ta-jwks.json"
provider = "$OP"
allow_http_loopback = true
trust_marks = $1

[[gateway.upstreams]]
url = "http://127.0.0.1:$ECHO_PORT"
EOF
}
start_gw() { # start_gw LOG
  RUST_LOG="${RUST_LOG:-info}" "$GWBIN" gateway --config "$RUN/gw/gateway.toml" >"$RUN/gw/$1" 2>&1 &
  GW_PID=$!
  PIDS+=($GW_PID)
  wait_url "$GW/.well-known/openid-federation" "$GW_PID" || { tail -20 "$RUN/gw/$1" >&2; die "gateway did not start"; }
}
cargo build -q --features gateway --bin spid-sp || die "cargo build (gateway) failed"
GWBIN="$ROOT/target/debug/spid-sp"
gw_config '[]'
start_gw gw-no-mark.log
ls "$RUN/gw/keys/oidc/federation.key.pem" "$RUN/gw/keys/oidc/core-sig.key.pem" "$RUN/gw/keys/oidc/core-enc.key.pem" >/dev/null 2>&1
check "gateway: [gateway.oidc] created the RP's three keys in key_dir/oidc on first start" $?
curl -fs -o "$RUN/gw/rp-ec.jwt" "$GW/.well-known/openid-federation" \
  && "$PY" "$HERE/oidc-interop/onboard.py" rp "$TA" "$GW" "$RUN/gw/rp-ec.jwt" "$RUN/gw" >>"$RUN/onboard.log" 2>&1
check "gateway onboarded at the reference anchor from its Entity Configuration (entity ID = base URL)" $?
kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null
gw_config "[\"$RUN/gw/rp-trust-mark.txt\"]"
start_gw gw.log
out="$("$PY" "$HERE/oidc-interop/drive.py" gateway "$GW" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
grep -q 'oidc logout.*outcome="revoked"' "$RUN/gw/gw.log"
check "the gateway logged the revocation at the OP" $?
! grep -q 'RSSMRA80A01H501U' "$RUN/gw/gw.log"
check "no fiscal code in the gateway's log" $?
kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null

# 5. Our RP pinning keys that are not the anchor's (the OP's federation keys instead).
"$PY" - "$OP" "$RUN/wrong-jwks.json" <<'PY'
import base64, json, sys, urllib.request
ec = urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-federation").read().decode()
claims = json.loads(base64.urlsafe_b64decode(ec.split(".")[1] + "=="))
json.dump(claims["jwks"], open(sys.argv[2], "w"))
PY
start_demo demo-wrong-anchor.log "$RUN/rp-trust-mark.txt" "$RUN/wrong-jwks.json"
out="$("$PY" "$HERE/oidc-interop/drive.py" wrong-anchor "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
stop_demo

# 6. Statements that have expired, from the reference federation to a freshly started RP
# (nothing cached).
# 6a. The reference OP issues its Entity Configuration with `exp` 10 minutes before its
# `iat` (its per-entity `default_exp`, in minutes, set to -10; the column's CHECK >= 0 is
# bypassed for this test).
"$PY" - "$RUN/db.sqlite3" "$OP" -10 <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA ignore_check_constraints = ON")
db.execute("UPDATE spid_cie_oidc_entity_federationentityconfiguration SET default_exp = ? WHERE sub = ?", (int(sys.argv[3]), sys.argv[2]))
db.commit()
PY
op_ec_times() { # op_ec_times PYTHON_CONDITION (on iat, exp, now)
  "$PY" - "$OP" "$1" <<'PY'
import base64, json, sys, time, urllib.request
ec = urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-federation").read().decode()
c = json.loads(base64.urlsafe_b64decode(ec.split(".")[1] + "=="))
sys.exit(0 if eval(sys.argv[2], {}, dict(iat=c["iat"], exp=c["exp"], now=time.time())) else 1)
PY
}
op_ec_times 'exp < iat - 500 and abs(iat - now) < 60'
check "the reference OP now serves an Entity Configuration whose exp is 10 minutes before its iat" $?
start_demo demo-exp-before-iat.log "$RUN/rp-trust-mark.txt"
out="$("$PY" "$HERE/oidc-interop/drive.py" exp-before-iat "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
grep -q "oidc trust chain refused entity=\"$OP\" outcome=\"oidc_invalid_claim\"" "$RUN/demo-exp-before-iat.log"
check "our RP's log names the statement and the cause (the OP's, oidc_invalid_claim: exp before iat)" $?
stop_demo
# 6b. The whole federation's clock 3 days back (OIDC_INTEROP_CLOCK_OFFSET, urls.py; the
# OP's lifetime restored to the default 2 days): every statement of the chain (the OP's
# and the anchor's Entity Configurations, the anchor's statement about the OP) expired a
# day ago.
"$PY" - "$RUN/db.sqlite3" "$OP" 2880 <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE spid_cie_oidc_entity_federationentityconfiguration SET default_exp = ? WHERE sub = ?", (int(sys.argv[3]), sys.argv[2]))
db.commit()
PY
kill "$DJANGO_PID" 2>/dev/null; wait "$DJANGO_PID" 2>/dev/null
OIDC_INTEROP_CLOCK_OFFSET=-259200 "$PY" -m django runserver "127.0.0.1:$TA_PORT" --noreload >"$RUN/django-behind.log" 2>&1 &
DJANGO_PID=$!; PIDS+=($DJANGO_PID)
wait_url "$TA/.well-known/openid-federation" "$DJANGO_PID" || { tail -30 "$RUN/django-behind.log" >&2; die "Django (clock behind) did not start"; }
op_ec_times 'abs(iat - (now - 259200)) < 60 and now - 90000 < exp < now - 80000'
check "the reference federation (clock 3 days behind) serves statements that expired a day ago" $?
start_demo demo-expired.log "$RUN/rp-trust-mark.txt"
out="$("$PY" "$HERE/oidc-interop/drive.py" expired-chain "$RP" "$TA" "$RUN" 2>&1)"; echo "$out"; count "$out"
grep -q "oidc trust chain refused entity=\"$OP\" outcome=\"oidc_expired\"" "$RUN/demo-expired.log"
check "our RP's log names the statement and the cause (the OP's Entity Configuration, oidc_expired)" $?
stop_demo

finish
