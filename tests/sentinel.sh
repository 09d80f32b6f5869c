#!/usr/bin/env bash
# Redis Sentinel failover under load (docs/scale-out.md, "Redis Sentinel"): one primary,
# one replica and three sentinels (Debian's redis-server and redis-sentinel) on free
# loopback ports, the demo SP with `--store redis+sentinel://…/spidtest`, and
# examples/failover-load.rs running complete logins on 4 threads for LOAD_SECS (default
# 16) seconds. After KILL_AFTER (default 4) seconds the primary is killed (SIGKILL); once
# the sentinels have promoted the replica, the old primary is started again as a replica
# of the new one (what its supervisor would do). Checks: the failover happened, logins
# continue afterwards, every accepted Response replayed after the failover is refused
# (nothing accepted twice), and the outage is measured (printed in seconds).
#
#   bash tests/sentinel.sh
#
# Installs redis-server / redis-sentinel with apt-get when missing (as root). Prints
# `sentinel: N passed, M failed` and exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/sentinel-test"
FEATURES="demo,redis"
LOAD_SECS="${LOAD_SECS:-16}"
KILL_AFTER="${KILL_AFTER:-4}"
IDP="https://idp.sentinel.test"
SERVICE=spidtest

log() { echo "sentinel.sh: $*" >&2; }
passed=0; failed=0
ok() { passed=$((passed + 1)); log "ok: $*"; }
ko() { failed=$((failed + 1)); log "FAILED: $*"; }
finish() { echo "sentinel: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

if ! command -v redis-server >/dev/null || ! command -v redis-sentinel >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        log "installing redis-server redis-sentinel"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server redis-sentinel >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server redis-sentinel >/dev/null; }
    fi
fi
for tool in redis-server redis-sentinel redis-cli; do
    if ! command -v "$tool" >/dev/null; then
        ko "$tool not found and not installable (apt-get install redis-server redis-sentinel)"
        finish
    fi
done

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
now_ms() { date +%s%3N; }

log "building the demo SP and the load driver"
cargo build -q --features "$FEATURES" --example demo-sp --example failover-load --example sign-response
BIN="$ROOT/target/debug/examples"

# --- Redis: primary, replica, three sentinels --------------------------------------------
P1=$(free_port); P2=$(free_port)
start_redis() { # port [replicaof-port]
    local extra=()
    [ -n "${2:-}" ] && extra=(--replicaof 127.0.0.1 "$2")
    redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no --repl-diskless-sync-delay 0 \
        --dir "$WORK" --logfile "$WORK/redis-$1.log" "${extra[@]}" >/dev/null 2>&1 &
    echo $!
}
R1=$(start_redis "$P1"); PIDS+=("$R1")
R2=$(start_redis "$P2" "$P1"); PIDS+=("$R2")
wait_port "$P1" "$R1"; wait_port "$P2" "$R2"
SPORTS=()
for i in 1 2 3; do
    sp=$(free_port); SPORTS+=("$sp")
    cat >"$WORK/sentinel-$i.conf" <<EOF
bind 127.0.0.1
port $sp
daemonize no
dir $WORK
logfile $WORK/sentinel-$i.log
sentinel monitor $SERVICE 127.0.0.1 $P1 2
sentinel down-after-milliseconds $SERVICE 1000
sentinel failover-timeout $SERVICE 10000
sentinel parallel-syncs $SERVICE 1
EOF
    redis-sentinel "$WORK/sentinel-$i.conf" >/dev/null 2>&1 &
    PIDS+=($!)
    wait_port "$sp" "$!"
done
S1=${SPORTS[0]}
ready=""
for _ in $(seq 1 150); do
    info=$(redis-cli -p "$S1" sentinel master "$SERVICE" 2>/dev/null | tr '\n' ' ')
    if [[ "$info" == *"num-slaves 1 "* && "$info" == *"num-other-sentinels 2 "* ]]; then
        ready=1; break
    fi
    sleep 0.2
done
if [ -n "$ready" ]; then
    ok "primary :$P1, replica :$P2, sentinels :${SPORTS[*]} see each other and the replica ($(redis-server --version | cut -d' ' -f3))"
else
    ko "sentinels did not converge: $info"; finish
fi
master_port() { redis-cli -p "$S1" sentinel get-master-addr-by-name "$SERVICE" 2>/dev/null | sed -n 2p; }

# --- The demo SP on the sentinel URL ------------------------------------------------------
"$BIN/sign-response" keygen "$WORK/idp" >/dev/null
"$BIN/sign-response" metadata "$WORK/idp" "$IDP" "http://127.0.0.1:9/idp" >"$WORK/idp.xml"
port=$(free_port)
base="http://127.0.0.1:$port"
URL="redis+sentinel://127.0.0.1:${SPORTS[0]},127.0.0.1:${SPORTS[1]},127.0.0.1:${SPORTS[2]}/$SERVICE"
"$BIN/demo-sp" --bind "127.0.0.1:$port" --base-url "$base" --idp-metadata "$WORK/idp.xml" \
    --key-dir "$WORK/sp-key" --store "$URL" --no-audit --pending-per-client 1000 \
    >"$WORK/sp.out" 2>"$WORK/sp.err" &
SP_PID=$!; PIDS+=("$SP_PID")
wait_port "$port" "$SP_PID"
for _ in $(seq 1 50); do grep -q "in redis (sentinel)" "$WORK/sp.err" && break; sleep 0.1; done
if grep -q "in redis (sentinel)" "$WORK/sp.err"; then
    ok "demo SP on $URL"
else
    ko "demo SP did not reach the primary through the sentinels"; tail -5 "$WORK/sp.err" >&2
fi

# --- Load, kill the primary, rejoin it as a replica ---------------------------------------
log "logins for ${LOAD_SECS}s on 4 threads; SIGKILL of the primary after ${KILL_AFTER}s"
"$BIN/failover-load" --sp "127.0.0.1:$port" --base-url "$base" --idp-dir "$WORK/idp" \
    --idp-entity-id "$IDP" --concurrency 4 --secs "$LOAD_SECS" >"$WORK/load.out" 2>"$WORK/load.err" &
LOAD_PID=$!; PIDS+=("$LOAD_PID")
sleep "$KILL_AFTER"
before=$(redis-cli -p "$P1" dbsize 2>/dev/null || echo 0)
kill -9 "$R1"
t_kill=$(now_ms)
log "primary :$P1 killed (SIGKILL) with $before keys"
new=""
for _ in $(seq 1 300); do
    m=$(master_port)
    [ -n "$m" ] && [ "$m" != "$P1" ] && { new=$m; break; }
    sleep 0.1
done
t_switch=$(now_ms)
if [ "$new" = "$P2" ]; then
    ok "failover: the sentinels promoted :$P2 after $(( (t_switch - t_kill) )) ms"
    R1=$(start_redis "$P1" "$P2"); PIDS+=("$R1")
    wait_port "$P1" "$R1"
    log "old primary :$P1 back as a replica of :$P2"
else
    ko "no failover within 30 s (master port: ${m:-none})"
fi
wait "$LOAD_PID" || true
cat "$WORK/load.err" >&2 || true
result=$(grep '^result ' "$WORK/load.out" || true)
log "$result"
val() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$result"; }
accepted=$(val accepted); after=$(val accepted_after_outage); double=$(val double_acceptances)
refused=$(val replays_refused); replayed=$(val replayed); outage=$(val outage_ms)
o_start=$(val outage_start_ms); o_end=$(val outage_end_ms)
if [ -z "$result" ]; then
    ko "the load driver printed no result"; finish
fi
if [ "${o_start:-0}" -le "$t_kill" ] && [ "${o_end:-0}" -ge "$t_kill" ]; then
    ok "outage around the kill: $(awk "BEGIN{printf \"%.1f\", $outage/1000}") s without a completed login (kill → first login on the new primary: $(awk "BEGIN{printf \"%.1f\", (${o_end}-$t_kill)/1000}") s; $(val failed) attempts refused meanwhile, 503)"
else
    ko "the longest gap between logins ($outage ms) does not span the kill"
fi
if [ "${after:-0}" -ge 20 ]; then
    ok "logins continue after the failover: $after accepted afterwards ($accepted in all)"
else
    ko "only ${after:-0} logins accepted after the failover"
fi
if [ "${double:-1}" = 0 ] && [ "${refused:-0}" = "${replayed:-x}" ] && [ "${replayed:-0}" -gt 0 ]; then
    ok "every accepted Response replayed after the failover is refused: $refused/$replayed, 0 double acceptances"
else
    ko "replays: $refused of $replayed refused, $double accepted twice"
fi
if [ "$(master_port)" = "$P2" ] && redis-cli -p "$P1" role 2>/dev/null | head -1 | grep -q slave; then
    ok "topology after: primary :$P2, replica :$P1"
else
    ko "topology after the failover is not primary :$P2 + replica :$P1"
fi
finish
