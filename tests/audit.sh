#!/usr/bin/env bash
# tests/audit.sh: the transaction registry of the demo SP under a real crash. Starts the
# demo (debug build) with --audit-dir on a free loopback port trusting a test IdP key,
# drives a bounded load run (examples/load.rs, 300 logins), kills the demo with SIGKILL
# while Responses are being recorded, and checks with the real `spid-sp audit verify`
# that every complete record verifies and the unsealed (or torn) tail is reported as
# such. Then restarts the demo on the same directory (a new writer: chains are never
# resumed), completes a few logins, stops it cleanly (final checkpoint) and verifies
# both chains; finally a flipped byte in a copy must be named.
#
# Closing line: "audit: N passed, M failed". Work files: target/audit-suite/ (removed at
# the end unless KEEP=1).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/audit-suite"
IDP="https://idp.audit.test"
passed=0
failed=0
log() { echo "audit.sh: $*" >&2; }
check() { # name, then the command
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); log "ok: $name"; else failed=$((failed + 1)); log "FAILED: $name"; fi
}
finish() {
  echo "audit: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
  [ "$failed" -eq 0 ]
  exit $?
}

for tool in python3; do
  command -v "$tool" >/dev/null || { log "$tool missing"; failed=1; finish; }
done

log "building (debug, all features)"
if ! cargo build -q --all-features --example demo-sp --example load --example sign-response --bin spid-sp; then
  log "cargo build failed"; failed=1; finish
fi
BIN="$ROOT/target/debug"
rm -rf "$WORK"; mkdir -p "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { log "process $2 exited"; return 1; }
    sleep 0.1
  done
  return 1
}
responses() { cat "$WORK"/audit/*.jsonl 2>/dev/null | grep -c '"kind":"response-received"'; }

"$BIN/examples/sign-response" keygen "$WORK/idp" >/dev/null
"$BIN/examples/sign-response" metadata "$WORK/idp" "$IDP" "http://127.0.0.1:9/idp" > "$WORK/idp.xml"

start_demo() { # label
  port=$(free_port)
  base="http://127.0.0.1:$port"
  "$BIN/examples/demo-sp" --bind "127.0.0.1:$port" --base-url "$base" --idp-metadata "$WORK/idp.xml" \
    --key-dir "$WORK/sp-key" --audit-dir "$WORK/audit" --pending-per-client 1000 >"$WORK/demo-$1.log" 2>&1 &
  SP_PID=$!; PIDS+=("$SP_PID")
  wait_port "$port" "$SP_PID"
}
load() { # logins label [max-secs]
  "$BIN/examples/load" --sp "127.0.0.1:$port" --base-url "$base" --idp-dir "$WORK/idp" \
    --idp-entity-id "$IDP" --logins "$1" --concurrency 8 --max-secs "${3:-120}" --label "$2"
}

# 1. SIGKILL during a bounded load run.
start_demo crash || { failed=$((failed + 1)); finish; }
# Far more logins than are recorded before the kill: the run is still going when the demo
# dies, however fast or slow the machine.
load 900 crash 300 >"$WORK/load-crash.out" 2>&1 &
LOAD_PID=$!; PIDS+=("$LOAD_PID")
for _ in $(seq 1 1200); do
  [ "$(responses)" -ge 100 ] && break
  kill -0 "$LOAD_PID" 2>/dev/null || break
  sleep 0.1
done
recorded_before=$(responses)
load_running=0; kill -0 "$LOAD_PID" 2>/dev/null && load_running=1
kill -9 "$SP_PID"; wait "$SP_PID" 2>/dev/null
wait "$LOAD_PID" 2>/dev/null
log "killed the demo with $recorded_before Response records written"
check "the demo was killed in the middle of the Responses" test "$recorded_before" -ge 100 -a "$load_running" = 1
[ "$recorded_before" -ge 100 ] || { log "load output:"; cat "$WORK/load-crash.out" >&2; tail -20 "$WORK/demo-crash.log" >&2; }
"$BIN/spid-sp" audit verify --checkpoint-key "$WORK/sp-key/audit-checkpoint.pub.pem" "$WORK/audit" >"$WORK/verify-crash.out" 2>&1
rc=$?
cat "$WORK/verify-crash.out" >&2
check "after SIGKILL every complete record verifies (exit 0)" test "$rc" = 0
check "the unsealed or torn tail is reported as such" grep -qE "unsigned tail: seq|torn tail: " "$WORK/verify-crash.out"
# Complete (newline-terminated) record lines only: a line torn by the kill is the tail.
lines=$(python3 - "$WORK"/audit/*.jsonl <<'PY'
import sys
n = 0
for p in sys.argv[1:]:
    data = open(p, "rb").read()
    n += sum(1 for l in data.split(b"\n")[:-1] if b'"body":{"record"' in l)
print(n)
PY
)
check "every complete record line was verified ($lines)" grep -q " $lines records" "$WORK/verify-crash.out"

# 2. Restart on the same directory: a new writer; a clean stop seals its chain.
start_demo restart || { failed=$((failed + 1)); finish; }
load 20 restart 120 >"$WORK/load-restart.out" 2>&1
check "logins complete after the restart" grep -q "errors=0" "$WORK/load-restart.out"
kill -TERM "$SP_PID"; wait "$SP_PID" 2>/dev/null
"$BIN/spid-sp" audit verify --checkpoint-key "$WORK/sp-key/audit-checkpoint.pub.pem" "$WORK/audit" >"$WORK/verify-restart.out" 2>&1
rc=$?
cat "$WORK/verify-restart.out" >&2
check "both chains verify (exit 0)" test "$rc" = 0
check "two writers" test "$(grep -c '^writer ' "$WORK/verify-restart.out")" = 2
check "the clean stop left no unsigned tail on the new writer" test "$(grep -c 'unsigned tail' "$WORK/verify-restart.out")" -le 1

# 3. A flipped byte in a complete record is named.
cp -r "$WORK/audit" "$WORK/tampered"
f=$(ls "$WORK"/tampered/*.jsonl | tail -1)
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
i = 5
at = lines[i].index(b"IssueInstant")
lines[i] = lines[i][:at] + b"i" + lines[i][at + 1:]
open(p, "wb").write(b"\n".join(lines))
PY
"$BIN/spid-sp" audit verify --checkpoint-key "$WORK/sp-key/audit-checkpoint.pub.pem" "$WORK/tampered" >"$WORK/verify-tampered.out" 2>&1
rc=$?
check "a flipped byte: exit 1" test "$rc" = 1
check "a flipped byte: the record is named" grep -q "first bad record: altered: $(basename "$f"):6 " "$WORK/verify-tampered.out"
finish
