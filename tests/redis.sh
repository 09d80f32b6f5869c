#!/usr/bin/env bash
# The Redis stores against a real redis-server, and demo SP instances sharing one Redis
# (tests/redis_store.rs): a login started on A finishes on B; the same Response posted
# to A and B at the same time is accepted exactly once (many rounds); a restarted
# instance keeps logins in flight; Redis killed mid-login gives 503 and logins work
# again once it is back, without restarting the SP.
#
#   bash tests/redis.sh
#
# Installs redis-server with apt-get when missing (as root), starts it on a free
# loopback port (no persistence) and FAILS if it cannot. Prints `N passed, M failed`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/redis-test"
FEATURES="demo,redis"

log() { echo "redis.sh: $*" >&2; }

if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        log "installing redis-server"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }
    fi
fi
REDIS_SERVER="$(command -v redis-server || true)"
if [ -z "$REDIS_SERVER" ]; then
    log "redis-server not found and not installable (apt-get install redis-server)"
    echo "0 passed, 1 failed"
    exit 1
fi

rm -rf "$WORK"; mkdir -p "$WORK"
REDIS_PID=""
cleanup() { [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
ready=""
for _ in $(seq 1 100); do
    if ! kill -0 "$REDIS_PID" 2>/dev/null; then break; fi
    if command -v redis-cli >/dev/null; then
        [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && { ready=1; break; }
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        ready=1; break
    fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    log "redis-server did not start on port $port:"; tail -5 "$WORK/redis.log" >&2 || true
    echo "0 passed, 1 failed"
    exit 1
fi
log "$("$REDIS_SERVER" --version | cut -d' ' -f1-3) on 127.0.0.1:$port"

log "building the demo SP and the tests"
cargo build -q --features "$FEATURES" --example demo-sp
cargo test -q --features "$FEATURES" --test redis_store --no-run 2>/dev/null || true

export SPID_SP_REDIS_URL="redis://127.0.0.1:$port"
export SPID_SP_DEMO_SP="$ROOT/target/debug/examples/demo-sp"
export SPID_SP_REDIS_SERVER="$REDIS_SERVER"
set +e
cargo test --features "$FEATURES" --test redis_store -- --test-threads 4 --show-output \
    >"$WORK/test.log" 2>&1
rc=$?
set -e
grep -E "^test |concurrent replays|replay cache:|panicked|assert" "$WORK/test.log" || true
passed=$(grep -cE "^test .* \.\.\. ok$" "$WORK/test.log" || true)
failed=$(grep -cE "^test .* \.\.\. FAILED$" "$WORK/test.log" || true)
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
    tail -30 "$WORK/test.log"
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
