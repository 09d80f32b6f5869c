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

rm -rf "$WORK" 2>/dev/null || { sleep 1; rm -rf "$WORK"; }
mkdir -p "$WORK"
# shellcheck source=sentinel-cluster.sh
. "$ROOT/tests/sentinel-cluster.sh"
PIDS=()
# Stops every process and waits (≤ 5 s) until they are gone: a sentinel rewrites its
# config file when it stops, so a run that exits early would race the next run's rm -rf.
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        alive=""
        for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -0 "$p" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
}
trap cleanup EXIT

free_port() { cl_free_port; }
wait_port() { cl_wait_port "$@" || { log "nothing listening on $1"; return 1; }; }
now_ms() { date +%s%3N; }

log "building the demo SP and the load driver"
cargo build -q --features "$FEATURES" --example demo-sp --example failover-load --example sign-response
BIN="$ROOT/target/debug/examples"

# --- Redis: primary, replica, three sentinels (tests/sentinel-cluster.sh) -----------------
if sentinel_cluster "$SERVICE"; then
    ok "primary :$P1, replica :$P2, sentinels :${SPORTS[*]} see each other and the replica ($(redis-server --version | cut -d' ' -f3))"
else
    ko "sentinel setup failed"; finish
fi
S1=${SPORTS[0]}

# --- The demo SP on the sentinel URL ------------------------------------------------------
"$BIN/sign-response" keygen "$WORK/idp" >/dev/null
"$BIN/sign-response" metadata "$WORK/idp" "$IDP" "http://127.0.0.1:9/idp" >"$WORK/idp.xml"
port=$(free_port)
base="http://127.0.0.1:$port"
URL="$SENTINEL_URL"
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
log "killing the primary :$P1 (SIGKILL) with $before keys"
if kill_primary "$SERVICE"; then
    t_kill=$T_KILL_MS
    ok "failover: the sentinels promoted :$P2 after $FAILOVER_MS ms"
    log "old primary :$P1 back as a replica of :$P2"
else
    t_kill=$T_KILL_MS
    ko "no failover within 30 s (master port: $(master_port "$SERVICE"))"
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
# (a login answered just before the SIGKILL may be counted a few ms after it)
if [ "${o_start:-0}" -le "$((t_kill + 1000))" ] && [ "${o_end:-0}" -ge "$t_kill" ]; then
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
if settled_topology "$SERVICE"; then
    if [ "$PRIMARY" = "$P2" ]; then
        ok "topology after: primary :$PRIMARY, replica :$REPLICA"
    else
        # The sentinels failed back to the restarted server (a missed ping on a loaded
        # machine); still one primary and its replica, which is what the SP needs.
        ok "topology after: primary :$PRIMARY, replica :$REPLICA (the sentinels failed back once)"
    fi
else
    ko "no settled primary + replica within 20 s after the failover (sentinels name :$(master_port "$SERVICE"))"
    PRIMARY=$P2; REPLICA=$P1
fi

# --- A graceful failover: the primary demoted while alive (its connections answer READONLY) --
log "SENTINEL FAILOVER during 20 s of logins: :$PRIMARY demoted while alive, :$REPLICA promoted"
"$BIN/failover-load" --sp "127.0.0.1:$port" --base-url "$base" --idp-dir "$WORK/idp" \
    --idp-entity-id "$IDP" --concurrency 4 --secs 20 >"$WORK/load2.out" 2>"$WORK/load2.err" &
LOAD_PID=$!; PIDS+=("$LOAD_PID")
sleep 2
redis-cli -p "$S1" sentinel failover "$SERVICE" >/dev/null
switched=""
for _ in $(seq 1 150); do
    [ "$(master_port "$SERVICE")" = "$REPLICA" ] && { switched=1; break; }
    sleep 0.1
done
wait "$LOAD_PID" || true
result=$(grep '^result ' "$WORK/load2.out" || true)
log "$result"
# Accepted logins in each of the last 3 seconds: logins continue on the new primary.
tail3=$(sed -n 's/.* per_second=\([0-9,]*\).*/\1/p' <<<"$result" | tr ',' '\n' | tail -3 | sort -n | head -1)
if [ -n "$switched" ] && [ -n "$result" ] && [ "$(val double_acceptances)" = 0 ] \
    && [ "$(val replays_refused)" = "$(val replayed)" ] && [ "${tail3:-0}" -gt 0 ]; then
    ok "graceful failover: logins continue on :$REPLICA (longest gap $(val outage_ms) ms, $(val failed) refused meanwhile; per second: $(sed -n 's/.* per_second=\([0-9,]*\).*/\1/p' <<<"$result")), $(val replays_refused)/$(val replayed) replays refused, 0 double acceptances"
else
    ko "graceful failover: switched=${switched:-no}, $result"
fi
finish
