#!/usr/bin/env bash
# Load benchmark (not a test): completed logins per second at the demo SP's ACS, on
# loopback, with the in-memory store and with Redis. Figures go to docs/scale-out.md.
#
#   bash benches/load.sh                    # both stores, 20000 logins each
#   LOGINS=50000 CONCURRENCY=32 STORES="redis" bash benches/load.sh
#
# Per store: start redis-server (Redis run only) and the demo SP (release build), let
# examples/load.rs start N logins, pre-sign N Responses with a test IdP key, post them
# to the ACS over C keep-alive connections (timed), then replay each (all must be
# refused). Bounded: N logins, every phase at most MAX_SECS, everything stops by itself.
# Installs redis-server with apt-get when missing (as root). Exits non-zero on any error
# or double acceptance.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
LOGINS="${LOGINS:-20000}"
CONCURRENCY="${CONCURRENCY:-16}"
MAX_SECS="${MAX_SECS:-300}"
STORES="${STORES:-memory redis}"
WORK="$ROOT/target/load"
IDP="https://idp.load.test"

log() { echo "load.sh: $*" >&2; }

if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        log "installing redis-server"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
    else
        log "redis-server missing (apt-get install redis-server)"; exit 1
    fi
fi

log "building (release)"
cargo build --release -q --features axum,redis,test-idp,config \
    --example demo-sp --example load --example sign-response
BIN="$ROOT/target/release/examples"

rm -rf "$WORK"; mkdir -p "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || { log "process $2 exited"; return 1; }
        sleep 0.1
    done
    log "nothing listening on $1"; return 1
}

"$BIN/sign-response" keygen "$WORK/idp"
"$BIN/sign-response" metadata "$WORK/idp" "$IDP" "http://127.0.0.1:9/idp" > "$WORK/idp.xml"

RESULTS=()
status=0
for store in $STORES; do
    REDIS_PID=""
    STORE_ARG=memory
    if [ "$store" = redis ]; then
        rport=$(free_port)
        redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no \
            --dir "$WORK" --logfile "$WORK/redis.log" &
        REDIS_PID=$!; PIDS+=("$REDIS_PID")
        wait_port "$rport" "$REDIS_PID"
        STORE_ARG="redis://127.0.0.1:$rport"
    fi
    port=$(free_port)
    base="http://127.0.0.1:$port"
    "$BIN/demo-sp" --bind "127.0.0.1:$port" --base-url "$base" --idp-metadata "$WORK/idp.xml" \
        --key-dir "$WORK/sp-key" --store "$STORE_ARG" >"$WORK/sp-$store.out" 2>"$WORK/sp-$store.err" &
    SP_PID=$!; PIDS+=("$SP_PID")
    wait_port "$port" "$SP_PID"
    log "store $store: SP pid $SP_PID${REDIS_PID:+, redis pid $REDIS_PID}, $LOGINS logins, concurrency $CONCURRENCY"
    args=(--sp "127.0.0.1:$port" --base-url "$base" --idp-dir "$WORK/idp" --idp-entity-id "$IDP"
          --logins "$LOGINS" --concurrency "$CONCURRENCY" --max-secs "$MAX_SECS"
          --sp-pid "$SP_PID" --label "$store")
    [ -n "$REDIS_PID" ] && args+=(--redis-pid "$REDIS_PID")
    if line=$("$BIN/load" "${args[@]}"); then :; else status=1; fi
    echo "$line"
    RESULTS+=("$line")
    kill "$SP_PID" 2>/dev/null || true; wait "$SP_PID" 2>/dev/null || true
    [ -n "$REDIS_PID" ] && { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for r in "${RESULTS[@]}"; do echo "$r"; done
[ "$status" = 0 ] && echo "load: done, 0 errors" || echo "load: ERRORS (see above)"
exit "$status"
