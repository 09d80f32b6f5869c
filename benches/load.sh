#!/usr/bin/env bash
# Load benchmark (not a test): completed logins per second at the demo SP's ACS, on
# loopback, with the in-memory store and with Redis. Figures go to docs/scale-out.md.
#
#   bash benches/load.sh                    # both stores, 20000 logins each
#   LOGINS=50000 CONCURRENCY=32 STORES="redis" bash benches/load.sh
#   CONCURRENCY=32 STORES=memory bash benches/load.sh --audit-dir target/load-audit
#   SPID_SP_AUDIT_POSTGRES=postgresql://u:p@127.0.0.1:5432/db CONCURRENCY=32 STORES=memory \
#       bash benches/load.sh --audit-dir target/load-audit --audit-postgres
#   LOAD_BIN=target/baseline-bin ...       # prebuilt demo-sp/load/sign-response (no build)
#   ROUNDS=3 ... --audit-dir DIR           # every run N times, alternated; median ratio
#
# With --audit-dir DIR, each store is run twice in the same invocation: without the
# transaction registry (--no-audit) and with the file registry in DIR (wiped first and
# removed at the end unless KEEP_AUDIT=1), and the ratio of the two throughputs is
# printed (docs/audit.md). Without it the demo runs with --no-audit. With --audit-postgres
# (the URL in SPID_SP_AUDIT_POSTGRES, kept off the command line; a running server, e.g.
# the one tests/postgres.sh shows how to start), one more run per store writes the
# registry to PostgreSQL (a new writer in the same tables) and is verified the same way:
# use an empty database, each invocation makes a new checkpoint key (older writers in the
# tables would fail with bad-signature).
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
ROUNDS="${ROUNDS:-1}"
WORK="$ROOT/target/load"
IDP="https://idp.load.test"
AUDIT_DIR=""
AUDIT_PG=""
while [ $# -gt 0 ]; do
    case "$1" in
        --audit-dir) AUDIT_DIR="$2"; shift 2 ;;
        --audit-dir=*) AUDIT_DIR="${1#*=}"; shift ;;
        --audit-postgres)
            [ -n "${SPID_SP_AUDIT_POSTGRES:-}" ] || { echo "load.sh: --audit-postgres needs SPID_SP_AUDIT_POSTGRES" >&2; exit 2; }
            AUDIT_PG=1; shift ;;
        *) echo "load.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

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

if [ -n "${LOAD_BIN:-}" ]; then
    # Prebuilt demo-sp, load and sign-response (e.g. another commit's, to compare).
    BIN="$(cd "$LOAD_BIN" && pwd)"
    log "using the binaries in $BIN"
else
    log "building (release)"
    cargo build --release -q --features demo,redis \
        --example demo-sp --example load --example sign-response
    BIN="$ROOT/target/release/examples"
fi
if [ -n "$AUDIT_DIR$AUDIT_PG" ]; then
    # The verifier (debug build, shared with `cargo test --all-features`).
    cargo build -q --all-features --bin spid-sp
fi

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
RUNS=()
# With ROUNDS=N every run is repeated N times, alternated (none, file, none, file, …):
# on a shared host one pair says little; the ratio printed at the end is the median.
for _ in $(seq 1 "$ROUNDS"); do
    for store in $STORES; do
        RUNS+=("$store:none")
        [ -n "$AUDIT_DIR" ] && RUNS+=("$store:file")
        [ -n "$AUDIT_PG" ] && RUNS+=("$store:pg")
    done
done
for run in "${RUNS[@]}"; do
    store="${run%%:*}"
    audit="${run##*:}"
    AUDIT_ARGS=(--no-audit)
    label="$store"
    if [ "$audit" = file ]; then
        rm -rf "$AUDIT_DIR"; mkdir -p "$AUDIT_DIR"
        AUDIT_ARGS=(--audit-dir "$AUDIT_DIR")
        label="$store+audit-file"
    elif [ "$audit" = pg ]; then
        AUDIT_ARGS=(--audit-dir "$WORK/unused-audit")   # DEMO_SP_AUDIT_POSTGRES takes over
        label="$store+audit-pg"
    fi
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
    pg_env=()
    [ "$audit" = pg ] && pg_env=(env "DEMO_SP_AUDIT_POSTGRES=$SPID_SP_AUDIT_POSTGRES")
    "${pg_env[@]}" "$BIN/demo-sp" --bind "127.0.0.1:$port" --base-url "$base" --idp-metadata "$WORK/idp.xml" \
        --key-dir "$WORK/sp-key" --store "$STORE_ARG" "${AUDIT_ARGS[@]}" \
        --pending-per-client "$((LOGINS + 1))" >"$WORK/sp-$label.out" 2>"$WORK/sp-$label.err" &
    SP_PID=$!; PIDS+=("$SP_PID")
    wait_port "$port" "$SP_PID"
    log "store $store, registry $audit: SP pid $SP_PID${REDIS_PID:+, redis pid $REDIS_PID}, $LOGINS logins, concurrency $CONCURRENCY"
    args=(--sp "127.0.0.1:$port" --base-url "$base" --idp-dir "$WORK/idp" --idp-entity-id "$IDP"
          --logins "$LOGINS" --concurrency "$CONCURRENCY" --max-secs "$MAX_SECS"
          --sp-pid "$SP_PID" --label "$label")
    [ -n "$REDIS_PID" ] && args+=(--redis-pid "$REDIS_PID")
    if line=$("$BIN/load" "${args[@]}"); then :; else status=1; fi
    echo "$line"
    RESULTS+=("$line")
    kill "$SP_PID" 2>/dev/null || true; wait "$SP_PID" 2>/dev/null || true
    [ -n "$REDIS_PID" ] && { kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; }
    if [ "$audit" = file ]; then
        log "registry: $(du -sh "$AUDIT_DIR" | cut -f1) in $AUDIT_DIR"
        env -u SPID_SP_AUDIT_POSTGRES "$ROOT/target/debug/spid-sp" audit verify \
            --checkpoint-key "$WORK/sp-key/audit-checkpoint.pub.pem" "$AUDIT_DIR" | tail -1 >&2 || status=1
        [ "${KEEP_AUDIT:-0}" = 1 ] || rm -rf "$AUDIT_DIR"
    fi
    if [ "$audit" = pg ]; then
        "$ROOT/target/debug/spid-sp" audit verify --checkpoint-key "$WORK/sp-key/audit-checkpoint.pub.pem" \
            | tail -1 >&2 || status=1
    fi
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for r in "${RESULTS[@]}"; do echo "$r"; done
if [ -n "$AUDIT_DIR$AUDIT_PG" ]; then
    for store in $STORES; do
        printf '%s\n' "${RESULTS[@]}" | python3 -c '
import re, statistics, sys
store = sys.argv[1]
rates = {}
for line in sys.stdin:
    m = re.search(r"label=(\S+) .*logins_per_sec=(\d+)", line)
    if m:
        rates.setdefault(m.group(1), []).append(int(m.group(2)))
base = rates.get(store, [])
for kind, name in (("file", "file"), ("pg", "PostgreSQL")):
    runs = rates.get(store + "+audit-" + kind, [])
    # Each round: the registry run against the run without it just before.
    kept = [100 * b / a for a, b in zip(base, runs) if a]
    if not kept:
        continue
    if len(kept) == 1:
        print(f"audit: store {store}: {name} registry keeps {kept[0]:.1f}% of the no-registry throughput ({runs[0]} vs {base[0]} logins/s)")
    else:
        spread = ", ".join(f"{k:.1f}" for k in kept)
        print(f"audit: store {store}: {name} registry keeps {statistics.median(kept):.1f}% of the no-registry throughput (median of {len(kept)} alternated rounds: {spread} %; logins/s {statistics.median(runs):.0f} vs {statistics.median(base):.0f})")
' "$store"
    done
fi
[ "$status" = 0 ] && echo "load: done, 0 errors" || echo "load: ERRORS (see above)"
exit "$status"
