#!/usr/bin/env bash
# tests/cns.sh: "Entra con CNS" end to end with real TLS (docs/cns.md "Login flow").
#   1. The demo generates the TEST PKI (--cns-test-pki: CA, cards good and bad, CRL, signed
#      test trust list) and starts its dedicated TLS listener (--cns-listen). curl with the
#      valid card's client certificate: home → /spid/cns → the listener → /spid/complete →
#      the demo page with the fiscal code and "CNS"; every bad card refused with its code;
#      no certificate refused; the certificate header sent straight to the demo ignored.
#   2. Real nginx (Debian nginx-light, own prefix under target/cns, free loopback port)
#      with `ssl_verify_client optional_no_ca` forwarding `$ssl_client_escaped_cert` from
#      127.0.0.2 (proxy_bind) to a demo that trusts only that address: the same login,
#      bad cards refused, a header forged by the client through nginx overwritten, the
#      same header straight to the demo (from 127.0.0.1) ignored.
#   3. Headless Chromium with the card in an NSS database (pk12util) and the
#      AutoSelectCertificateForUrls policy (/etc/chromium/policies/managed/, removed
#      afterwards; needs root): the login lands on the demo page with the fiscal code.
# Installs what is missing (apt-get, as root): curl, nginx-light, libnss3-tools, chromium,
# nodejs/npm (+ playwright-core into target/browser-node, as tests/e2e.sh).
# Closing line: "cns: N passed, M failed". Env: CHROMIUM (default /usr/bin/chromium).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/cns"
NODE_DIR="$ROOT/target/browser-node"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
POLICY_DIR=/etc/chromium/policies/managed
POLICY_FILE="$POLICY_DIR/spid-sp-cns-test.json"
rm -rf "$OUT"
mkdir -p "$OUT"
POLICY_DIR_CREATED=""
[ -d "$POLICY_DIR" ] || POLICY_DIR_CREATED=1

log() { echo "cns.sh: $*" >&2; }
die() { log "$*"; echo "cns: $passed passed, $((failed + 1)) failed"; exit 1; }
passed=0
failed=0
ok() { passed=$((passed + 1)); log "ok: $*"; }
ko() { failed=$((failed + 1)); log "FAILED: $*"; }

# shellcheck source=browser/setup.sh
. "$HERE/browser/setup.sh"
ensure_tools curl=curl python3=python3 nginx=nginx-light pk12util=libnss3-tools node=nodejs npm=npm

log "building the demo SP (all features: the same build as tests/e2e.sh)"
cargo build -q --all-features --example demo-sp || die "cargo build failed"
DEMO="$ROOT/target/debug/examples/demo-sp"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -f "$OUT/nginx/nginx.pid" ] && kill "$(cat "$OUT/nginx/nginx.pid")" 2>/dev/null
  rm -f "$POLICY_FILE"
  # Leave /etc as found: remove the policy directories this run created (if empty).
  [ -n "$POLICY_DIR_CREATED" ] && rmdir -p "$POLICY_DIR" 2>/dev/null
  true
}
trap cleanup EXIT

# start_demo NAME ARGS...: the demo on a free port (keys and PKI under $OUT); sets BASE.
start_demo() {
  local name="$1"; shift
  local port
  port="$(free_port)"
  BASE="http://127.0.0.1:$port"
  "$DEMO" --bind "127.0.0.1:$port" --key-dir "$OUT/keys" --no-audit \
    --cns-test-pki "$OUT/pki" "$@" >"$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 150); do
    curl -fs -o /dev/null "$BASE/spid/metadata" && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$OUT/$name.log" >&2; return 1; }
    sleep 0.2
  done
  return 1
}

# login BASE CARD: the whole flow with curl (cookie jar per call), the client certificate
# of CARD (or none for "none"); prints the final status, URL and page.
login() {
  local base="$1" card="$2" jar
  jar="$(mktemp -p "$OUT")"
  local cert=()
  [ "$card" != none ] && cert=(--cert "$OUT/pki/card-$card.pem" --key "$OUT/pki/card.key.pem")
  curl -s -k -L --max-redirs 5 -b "$jar" -c "$jar" "${cert[@]}" \
    -w '\n%{http_code} %{url_effective}\n' "$base/spid/cns?next=/me"
  rm -f "$jar"
}

# expect_login NAME BASE: the valid card lands on /me with the fiscal code, as a CNS login.
expect_login() {
  local out
  out="$(login "$2" valid)"
  if tail -n 1 <<<"$out" | grep -q "^200 $2/me$" \
     && grep -q 'id="codice-fiscale">RSSMRA80A01H501U<' <<<"$out" \
     && grep -q 'id="credenziale">CNS (smart card)<' <<<"$out"; then
    ok "$1: valid card → demo page with the fiscal code"
  else
    ko "$1: valid card: $(tail -n 1 <<<"$out")"
  fi
}

# expect_refused NAME BASE CARD CODE: an error page (403) with the code.
expect_refused() {
  local out
  out="$(login "$2" "$3")"
  if tail -n 1 <<<"$out" | grep -q '^403 ' && grep -q "id=\"error-code\">$4<" <<<"$out" \
     && ! grep -q RSSMRA80A01H501U <<<"$out"; then
    ok "$1: $3 refused with $4"
  else
    ko "$1: $3: expected 403 $4, got $(tail -n 1 <<<"$out") $(grep -o 'id="error-code">[^<]*' <<<"$out")"
  fi
}

BAD_CARDS=(
  expired:cns-expired not-yet-valid:cns-not-yet-valid revoked:cns-revoked
  wrong-policy:cns-policy wrong-key-usage:cns-key-usage no-client-auth:cns-extended-key-usage
  unknown-ca:cns-untrusted-issuer cie:cns-policy no-fiscal-code:cns-subject
  none:cns-no-certificate
)

# 1. Our own TLS listener.
TLS_PORT="$(free_port)"
start_demo demo-tls --cns-listen "127.0.0.1:$TLS_PORT" || die "demo SP (TLS listener) did not start"
TLS_BASE="$BASE"
expect_login "tls" "$TLS_BASE"
for c in "${BAD_CARDS[@]}"; do expect_refused tls "$TLS_BASE" "${c%%:*}" "${c#*:}"; done
# The header straight to the demo: no proxy configured, ignored.
state_url="$(curl -s -o /dev/null -w '%{redirect_url}' "$TLS_BASE/spid/cns")"
state="${state_url##*state=}"
escaped="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' "$OUT/pki/card-valid.pem")"
out="$(curl -s -w '\n%{http_code}' -H "X-SSL-Client-Cert: $escaped" "$TLS_BASE/spid/cns/certificate?state=$state")"
if tail -n 1 <<<"$out" | grep -q '^403$' && grep -q 'id="error-code">cns-no-certificate<' <<<"$out"; then
  ok "tls: certificate header sent straight to the demo ignored"
else
  ko "tls: header straight to the demo: $(tail -n 1 <<<"$out")"
fi

# 2. nginx in front, forwarding the certificate from 127.0.0.2.
NGINX_PORT="$(free_port)"
start_demo demo-proxy --cns-proxy 127.0.0.2 \
  --cns-endpoint "https://127.0.0.1:$NGINX_PORT/spid/cns/certificate" || die "demo SP (proxy) did not start"
PROXY_BASE="$BASE"
mkdir -p "$OUT/nginx/logs" "$OUT/nginx/tmp"
NGINX_USER=""
[ "$(id -u)" = 0 ] && NGINX_USER="user root;"
cat >"$OUT/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log $OUT/nginx/logs/access.log;
  client_body_temp_path $OUT/nginx/tmp/body;
  proxy_temp_path $OUT/nginx/tmp/proxy;
  fastcgi_temp_path $OUT/nginx/tmp/fastcgi;
  uwsgi_temp_path $OUT/nginx/tmp/uwsgi;
  scgi_temp_path $OUT/nginx/tmp/scgi;
  # --- the snippet of docs/cns.md ---
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate     $OUT/keys/cns-proxy.crt;
    ssl_certificate_key $OUT/keys/cns-proxy.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # Ask for the card, accept any: the SP verifies it against the trust list and CRLs.
    ssl_verify_client optional_no_ca;
    location = /spid/cns/certificate {
      proxy_pass http://127.0.0.1:${PROXY_BASE##*:};
      # The SP trusts the header from this address only.
      proxy_bind 127.0.0.2;
      # Always set (empty without a certificate): a client's own header never passes.
      proxy_set_header X-SSL-Client-Cert \$ssl_client_escaped_cert;
      proxy_set_header Host \$host;
      # The SP's redirect goes back to the application's origin: keep it as is.
      proxy_redirect off;
    }
    location / { return 404; }
  }
}
EOF
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1/O=spid-sp cns.sh test proxy" \
  -keyout "$OUT/keys/cns-proxy.key" -out "$OUT/keys/cns-proxy.crt" 2>/dev/null || die "openssl req failed"
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -t 2>"$OUT/nginx/test.log" || { cat "$OUT/nginx/test.log" >&2; die "nginx -t failed"; }
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" 2>>"$OUT/nginx/logs/error.log" || die "nginx did not start"
for _ in $(seq 1 50); do
  curl -sk -o /dev/null "https://127.0.0.1:$NGINX_PORT/" && break
  sleep 0.1
done
expect_login "nginx" "$PROXY_BASE"
for c in revoked:cns-revoked unknown-ca:cns-untrusted-issuer wrong-key-usage:cns-key-usage none:cns-no-certificate; do
  expect_refused nginx "$PROXY_BASE" "${c%%:*}" "${c#*:}"
done
# A client forging the header through nginx (no certificate): nginx overwrites it.
state_url="$(curl -s -o /dev/null -w '%{redirect_url}' "$PROXY_BASE/spid/cns")"
out="$(curl -sk -w '\n%{http_code}' -H "X-SSL-Client-Cert: $escaped" "$state_url")"
if grep -q 'id="error-code">cns-no-certificate<' <<<"$out"; then
  ok "nginx: a header forged by the client through nginx is overwritten"
else
  ko "nginx: forged header through nginx: $(tail -n 1 <<<"$out")"
fi
# The same header straight to the demo, from 127.0.0.1 (not the proxy's address).
state_url="$(curl -s -o /dev/null -w '%{redirect_url}' "$PROXY_BASE/spid/cns")"
out="$(curl -s -w '\n%{http_code}' -H "X-SSL-Client-Cert: $escaped" "$PROXY_BASE/spid/cns/certificate?state=${state_url##*state=}")"
if tail -n 1 <<<"$out" | grep -q '^403$' && grep -q 'id="error-code">cns-no-certificate<' <<<"$out"; then
  ok "nginx: spoofed header straight to the demo from a non-proxy address ignored"
else
  ko "nginx: spoofed header straight to the demo: $(tail -n 1 <<<"$out")"
fi
# ...and from the proxy's address it is what the demo accepts (the address is the trust).
state_url="$(curl -s -o /dev/null -w '%{redirect_url}' "$PROXY_BASE/spid/cns")"
out="$(curl -s --interface 127.0.0.2 -o /dev/null -w '%{http_code} %{redirect_url}' -H "X-SSL-Client-Cert: $escaped" "$PROXY_BASE/spid/cns/certificate?state=${state_url##*state=}")"
if grep -q "^303 $PROXY_BASE/spid/complete?handoff=" <<<"$out"; then
  ok "nginx: the header from the proxy's address is accepted"
else
  ko "nginx: header from 127.0.0.2: $out"
fi

# 3. Headless Chromium, the card chosen automatically.
chromium_case() {
  if [ "$(id -u)" != 0 ]; then
    log "Chromium case needs root (the managed policy lives in $POLICY_DIR)"
    return 1
  fi
  ensure_playwright
  local home="$OUT/chromium-home"
  mkdir -p "$home/.pki/nssdb"
  certutil -d "sql:$home/.pki/nssdb" -N --empty-password || return 1
  pk12util -d "sql:$home/.pki/nssdb" -i "$OUT/pki/card-valid.p12" -W test >&2 || return 1
  mkdir -p "$POLICY_DIR"
  cat >"$POLICY_FILE" <<EOF
{ "AutoSelectCertificateForUrls": ["{\"pattern\":\"https://127.0.0.1:$TLS_PORT\",\"filter\":{\"ISSUER\":{\"CN\":\"SPID-SP TEST CNS CA - NOT FOR PRODUCTION\"}}}"] }
EOF
  HOME="$home" DEMO_URL="$TLS_BASE" OUT="$OUT" CHROMIUM="$CHROMIUM" \
    NODE_PATH="$NODE_DIR/node_modules" node "$HERE/browser/cns.cjs"
}
if out="$(chromium_case)" && grep -q '^cns-browser: ok' <<<"$out"; then
  ok "chromium: card selected automatically → demo page with the fiscal code"
else
  ko "chromium: $(tail -n 3 <<<"$out")"
fi
rm -f "$POLICY_FILE"

echo "cns: $passed passed, $failed failed"
[ "$failed" = 0 ]
