#!/usr/bin/env bash
# Gateway benchmark (not a test, not in scripts/test-all.sh): authenticated requests per
# second and latency through nginx → spid-sp gateway → upstream, against nginx → upstream
# directly, in the same run on the same machine. Figures go to docs/performance.md.
#
#   bash benches/gateway.sh                     # 10 s per run, concurrency 32 and 8
#   DURATION=20 CONCURRENCY="32" ROUNDS=3 bash benches/gateway.sh
#   PROFILE=1 bash benches/gateway.sh           # and a perf profile of the gateway
#   SYSCALLS=1 bash benches/gateway.sh          # and its system calls per request (strace -c)
#   INSTRUCTIONS=1 bash benches/gateway.sh      # and its CPU (and instructions, where the
#                                               # CPU exposes counters) per request (perf stat)
#   GATEWAY_BIN=/tmp/spid-sp-before bash benches/gateway.sh   # another build (no cargo)
#   ACCESS_LOG=on bash benches/gateway.sh       # both proxies log every request (default: off)
#   UPSTREAM=shared bash benches/gateway.sh     # the upstream served by the front nginx itself
#
# The upstream is an nginx `return 200` server (the fastest upstream there is, so the
# figures show the gateway's own cost) in its own process, as a portal's application
# server is (UPSTREAM=shared: a server block of the front nginx, the layout of the runs
# before 2026-12-06). Three paths, alternated ROUNDS times: nginx → upstream; nginx →
# gateway → upstream; wrk → gateway → upstream, i.e. the gateway in nginx's place (both
# proxies keep-alive to the upstream). The `result` line gives both ratios to the direct
# path: `ratio` (nginx in front of the gateway) and `in_place_ratio`. Access logs: both
# off by default (`access_log off` in nginx, `access_log = false` in the gateway, whose
# refusals and warnings are still logged), both on with ACCESS_LOG=on (nginx buffered to
# a file, the gateway's INFO line per request to its buffered stderr). The gateway
# (release build, in-memory store, ES256 JWT) is logged into once through its local test
# IdP; every request then carries that session cookie, so each one is a session lookup,
# the policy, the identity headers and the JWT, and a proxied request. Load: wrk (apt), 2
# threads, C connections. Installs nginx-light and wrk when missing (as root). Bounded:
# every run lasts DURATION seconds; everything stops at exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/gateway-bench"
DURATION="${DURATION:-10}"
CONCURRENCY="${CONCURRENCY:-32 8}"
ROUNDS="${ROUNDS:-2}"
UPSTREAM="${UPSTREAM:-own}"
ACCESS_LOG="${ACCESS_LOG:-off}"

log() { echo "gateway-bench: $*" >&2; }
for pair in nginx=nginx-light wrk=wrk curl=curl; do
    cmd="${pair%%=*}"; pkg="${pair#*=}"
    if ! command -v "$cmd" >/dev/null; then
        [ "$(id -u)" = 0 ] || { log "$cmd missing (apt-get install $pkg)"; exit 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null
    fi
done

if [ -n "${GATEWAY_BIN:-}" ]; then   # GATEWAY_BIN=path: measure that build (e.g. a before/after pair)
    BIN="$GATEWAY_BIN"
else
    log "building spid-sp (release, features gateway,test-idp)"
    cargo build -q --release --features gateway,test-idp --bin spid-sp
    BIN="$ROOT/target/release/spid-sp"
fi

rm -rf "$WORK"; mkdir -p "$WORK/nginx/tmp"; chmod 777 "$WORK/nginx/tmp"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url pid
    for _ in $(seq 1 300); do
        curl -fs -o /dev/null "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

U=$(free_port); ND=$(free_port); NG=$(free_port); G=$(free_port)
cat >"$WORK/gateway.toml" <<EOF
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
attributes = ["fiscalNumber", "name", "familyName", "email"]

[metadata]
profile = "spid-sp-public"

[metadata.organization]
name = "Gateway bench"
display_name = "Gateway bench"
url = "{base_url}/"

[metadata.contact]
email = "gw@example.it"
ipa_code = "c_h501"
municipality = "H501"

[gateway]
bind = "127.0.0.1:$G"
base_url = "http://127.0.0.1:$NG"
level = 2
store = "memory"
key_dir = "$WORK/keys"
trusted_proxy_header = "x-forwarded-for"
access_log = $([ "$ACCESS_LOG" = on ] && echo true || echo false)

[gateway.audit]
dir = "$WORK/audit"

[[gateway.upstreams]]
url = "http://127.0.0.1:$U"
EOF
"$BIN" gateway --config "$WORK/gateway.toml" --test-idp >"$WORK/gateway.log" 2>&1 &
GW_PID=$!; PIDS+=("$GW_PID")
wait_http "http://127.0.0.1:$G/healthz" "$GW_PID" || { tail "$WORK/gateway.log"; exit 1; }

# The lines both nginx configurations share: temp paths under DIR, long keep-alive.
nginx_common() {
    local t
    for t in body proxy fastcgi uwsgi scgi; do
        [ "$t" = body ] && echo "    client_body_temp_path $1/tmp/body;" || echo "    ${t}_temp_path $1/tmp/$t;"
    done
    echo "    keepalive_requests 100000;"
}
NGX="$WORK/nginx"
cat >"$NGX/nginx.conf" <<EOF
worker_processes 2;
error_log $NGX/error.log warn;
pid $NGX/nginx.pid;
events { worker_connections 1024; }
http {
    $([ "$ACCESS_LOG" = on ] && echo "access_log $NGX/access.log combined buffer=64k flush=1s;" || echo "access_log off;")
$(nginx_common "$NGX")
    upstream app { server 127.0.0.1:$U; keepalive 64; }
    upstream gw  { server 127.0.0.1:$G; keepalive 64; }
$(if [ "$UPSTREAM" = shared ]; then echo "    server { listen 127.0.0.1:$U; location / { return 200 \"ok\\n\"; } }"; fi)
    # nginx → upstream.
    server {
        listen 127.0.0.1:$ND;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    # nginx → gateway → upstream.
    server {
        listen 127.0.0.1:$NG;
        location / {
            proxy_pass http://gw;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
nginx -p "$NGX" -c "$NGX/nginx.conf" -g 'daemon off;' 2>"$NGX/stderr.log" &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
if [ "$UPSTREAM" != shared ]; then
    # The upstream application in its own process, as a portal's application server is:
    # an nginx `return 200` (the fastest there is), UPSTREAM_WORKERS worker processes.
    APP="$WORK/app"; mkdir -p "$APP/tmp"; chmod 777 "$APP/tmp"
    cat >"$APP/nginx.conf" <<EOF2
worker_processes ${UPSTREAM_WORKERS:-2};
error_log $APP/error.log warn;
pid $APP/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
$(nginx_common "$APP")
    server { listen 127.0.0.1:$U; location / { return 200 "ok\n"; } }
}
EOF2
    nginx -p "$APP" -c "$APP/nginx.conf" -g 'daemon off;' 2>"$APP/stderr.log" &
    APP_PID=$!; PIDS+=("$APP_PID")
    wait_http "http://127.0.0.1:$U/" "$APP_PID"
fi
wait_http "http://127.0.0.1:$ND/" "$NGINX_PID"
wait_http "http://127.0.0.1:$NG/healthz" "$NGINX_PID"

# One login through nginx and the gateway's test IdP: the session cookie.
COOKIE=$(python3 - "http://127.0.0.1:$NG" <<'PY'
import sys
sys.path.insert(0, "tests")
import gateway_client as c
jar = c.login(sys.argv[1], "/")
print("; ".join("%s=%s" % kv for kv in jar.items()))
PY
)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$NG/bench")
[ "$code" = 200 ] || { log "the logged-in request answers $code, not 200"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NG/bench")
[ "$code" = 303 ] || { log "without the cookie the gateway answers $code, not 303"; exit 1; }
log "logged in; upstream :$U, nginx direct :$ND, nginx→gateway :$NG, gateway :$G"

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, clock ticks
# run LABEL URL C → "rps p50_ms p99_ms non2xx gateway_cpu_us_per_request load1"
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}' <<<"$1"; }
run() {
    local out rps p50 p99 bad c0 c1
    c0=$(cpu "$GW_PID")
    out=$(wrk -t2 -c"$3" -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "$2/bench" 2>&1)
    echo "$out" >"$WORK/wrk-$1-c$3-$(date +%s%N).txt"
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
    bad=$(awk '/Non-2xx/ {print $5}' <<<"$out"); bad=${bad:-0}
    c1=$(cpu "$GW_PID")
    echo "$rps $p50 $p99 $bad $(awk -v a="$c0" -v b="$c1" -v r="$rps" -v d="$DURATION" 'BEGIN{ if (r > 0) printf "%.0f", (b-a)*10000/(r*d); else print 0 }') $(cut -d' ' -f1 /proc/loadavg)"
}

echo "| concurrency | path | requests/s | p50 | p99 | non-2xx | gateway CPU per request | load avg (1 min) |"
echo "|---|---|---|---|---|---|---|---|"
declare -A SUM
for c in $CONCURRENCY; do
    for r in $(seq 1 "$ROUNDS"); do
        for path in direct gateway alone; do
            case $path in
                direct) url="http://127.0.0.1:$ND"; name="nginx → upstream" ;;
                gateway) url="http://127.0.0.1:$NG"; name="nginx → gateway → upstream" ;;
                alone) url="http://127.0.0.1:$G"; name="gateway → upstream (no nginx in front)" ;;
            esac
            read -r rps p50 p99 bad gcpu load < <(run "$path" "$url" "$c")
            [ "$path" = direct ] && gcpu="–" || gcpu="$gcpu µs"
            printf '| %s | %s | %.0f | %.2f ms | %.2f ms | %s | %s | %s |\n' "$c" "$name" "$rps" "$p50" "$p99" "$bad" "$gcpu" "$load"
            SUM[$c,$path,rps]=$(awk -v a="${SUM[$c,$path,rps]:-0}" -v b="$rps" 'BEGIN{print a+b}')
            SUM[$c,$path,p50]=$(awk -v a="${SUM[$c,$path,p50]:-0}" -v b="$p50" 'BEGIN{print a+b}')
            SUM[$c,$path,p99]=$(awk -v a="${SUM[$c,$path,p99]:-0}" -v b="$p99" 'BEGIN{print a+b}')
        done
    done
done
echo
for c in $CONCURRENCY; do
    awk -v c="$c" -v n="$ROUNDS" -v dr="${SUM[$c,direct,rps]}" -v gr="${SUM[$c,gateway,rps]}" \
        -v d50="${SUM[$c,direct,p50]}" -v g50="${SUM[$c,gateway,p50]}" \
        -v d99="${SUM[$c,direct,p99]}" -v g99="${SUM[$c,gateway,p99]}" \
        -v ar="${SUM[$c,alone,rps]}" -v a50="${SUM[$c,alone,p50]}" -v a99="${SUM[$c,alone,p99]}" 'BEGIN {
        printf "result concurrency=%s direct_rps=%.0f gateway_rps=%.0f ratio=%.2f added_p50_ms=%.2f added_p99_ms=%.2f in_place_rps=%.0f in_place_ratio=%.2f in_place_added_p50_ms=%.2f in_place_added_p99_ms=%.2f\n",
            c, dr/n, gr/n, gr/dr, (g50-d50)/n, (g99-d99)/n, ar/n, ar/dr, (a50-d50)/n, (a99-d99)/n }'
done
if [ -n "${PROFILE:-}" ]; then   # PROFILE=1: perf call graphs of the gateway under load
    perf record -F 2000 -g -p "$GW_PID" -o "$WORK/perf.data" -- sleep 5 >/dev/null 2>&1 &
    PERF_PID=$!
    wrk -t2 -c32 -d6s -H "Cookie: $COOKIE" "http://127.0.0.1:$G/bench" >/dev/null
    wait "$PERF_PID"   # not a bare `wait`: the gateway and nginx are children too
    log "profile: perf report -i $WORK/perf.data --no-children"
fi
if [ -n "${INSTRUCTIONS:-}" ]; then   # INSTRUCTIONS=1: the gateway's instructions per request (perf stat), gateway alone
    perf stat -x, -e instructions:u,instructions:k,task-clock -p "$GW_PID" -o "$WORK/perfstat.txt" -- sleep 5 &
    PS_PID=$!
    out=$(wrk -t2 -c32 -d6s -H "Cookie: $COOKIE" "http://127.0.0.1:$G/bench")
    wait "$PS_PID" || true
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -F, -v n="$n" -v d=6 '$3 ~ /instructions:u/ {u=$1} $3 ~ /instructions:k/ {k=$1} $3 ~ /task-clock/ {t=$1}
        END { r = n * 5 / d; iu = (u ~ /^[0-9.]+$/) ? sprintf("%.0f", u/r) : "n/a"; ik = (k ~ /^[0-9.]+$/) ? sprintf("%.0f", k/r) : "n/a"
              printf "result instructions_user_per_request=%s instructions_kernel_per_request=%s cpu_us_per_request=%.1f\n", iu, ik, t*1000/r }' "$WORK/perfstat.txt"
fi
if [ -n "${SYSCALLS:-}" ]; then   # SYSCALLS=1: system calls per request (strace -c), gateway alone
    command -v strace >/dev/null || { log "strace missing (apt-get install strace)"; exit 1; }
    strace -c -f -p "$GW_PID" -o "$WORK/strace.txt" &
    ST_PID=$!; sleep 1
    out=$(wrk -t1 -c8 -d3s -H "Cookie: $COOKIE" "http://127.0.0.1:$G/bench")
    kill -INT "$ST_PID"; wait "$ST_PID" || true
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    log "system calls of the gateway for $n requests (wrk alone, C = 8): $WORK/strace.txt"
    awk -v n="$n" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && n > 0 { printf "  %-16s %6.2f per request\n", $NF, $4 / n }' "$WORK/strace.txt" >&2
fi
log "gateway RSS: $(awk '/VmHWM/ {print $2/1024 " MiB"}' /proc/$GW_PID/status)"
