#!/usr/bin/env bash
# tests/postgres.sh: the transaction registry's PostgreSQL backend against a real server.
# Installs Debian's postgresql when missing (apt-get, as root; with CI=true a missing
# server is a failure), starts a throwaway cluster (initdb + pg_ctl, SCRAM password auth,
# 127.0.0.1 on a free port, data in a temp dir owned by the `postgres` user when run as
# root: the server refuses to run as root), then:
#   1. two demo SPs (debug build) write concurrently to the same database under load:
#      every record of every login is present, both chains verify with
#      `spid-sp audit verify --postgres` (and `search --postgres` finds by request ID);
#   2. a demo started, a login begun, PostgreSQL stopped: the ACS answers 503, no
#      session, `/spid/login` answers 503; PostgreSQL started again: logins work without
#      restarting the demo, and all three chains still verify;
#   3. retention: `spid-sp audit prune --postgres` deletes the days older than the
#      retention (records dated by a test clock, tests/audit.rs
#      postgres_retention_prunes_old_days_and_leaves_a_signed_statement, run here against
#      this server), leaves a signed "pruned up to" statement, verify still passes, newer
#      records intact, a record altered after the prune is still named;
#   4. a row altered in the database is named by the verifier.
# Closing line: "postgres: N passed, M failed". Stops the cluster and removes its dir.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/target/postgres-suite"
IDP="https://idp.pg.test"
passed=0
failed=0
PGDIR=""
PGBIN=""
log() { echo "postgres.sh: $*" >&2; }
check() { # name, then the command
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); log "ok: $name"; else failed=$((failed + 1)); log "FAILED: $name"; fi
}
PIDS=()
as_pg() { if [ -n "${PGUSER_RUN:-}" ]; then runuser -u "$PGUSER_RUN" -- "$@"; else "$@"; fi; }
pg_stop() { [ -n "$PGDIR" ] && [ -d "$PGDIR/data" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1; }
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  pg_stop || true
  [ -n "$PGDIR" ] && rm -rf "$PGDIR"
}
trap cleanup EXIT
finish() {
  echo "postgres: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$WORK"
  [ "$failed" -eq 0 ]
  exit $?
}

find_pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
PGBIN="$(find_pgbin)"
if [ -z "$PGBIN" ] && [ "$(id -u)" = 0 ]; then
  log "installing postgresql"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
  PGBIN="$(find_pgbin)"
fi
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  log "PostgreSQL not found and not installable (apt-get install postgresql)"
  failed=1; finish
fi
for tool in python3 runuser; do
  command -v "$tool" >/dev/null || { log "$tool missing"; failed=1; finish; }
done

log "building (debug, all features)"
if ! cargo build -q --all-features --example demo-sp --example load --example sign-response --bin spid-sp; then
  log "cargo build failed"; failed=1; finish
fi
BIN="$ROOT/target/debug"
rm -rf "$WORK"; mkdir -p "$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { log "process $2 exited"; return 1; }
    sleep 0.1
  done
  return 1
}

# The throwaway cluster: owned by `postgres` when we are root.
PGDIR="$(mktemp -d /tmp/spid-pg.XXXXXX)"
PGUSER_RUN=""
if [ "$(id -u)" = 0 ]; then
  PGUSER_RUN=postgres
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$PGDIR"
fi
chmod 700 "$PGDIR"
PASS="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
echo "$PASS" > "$PGDIR/pw"; [ -n "$PGUSER_RUN" ] && chown "$PGUSER_RUN" "$PGDIR/pw"
PGPORT="$(free_port)"
if ! as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U spid --pwfile="$PGDIR/pw" \
     --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1; then
  tail -5 "$WORK/initdb.log" >&2; log "initdb failed"; failed=1; finish
fi
rm -f "$PGDIR/pw"
pg_start() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1" start >/dev/null
}
if ! pg_start; then tail -5 "$PGDIR/server.log" >&2; log "pg_ctl start failed"; failed=1; finish; fi
log "$("$PGBIN/postgres" --version) on 127.0.0.1:$PGPORT"
export PGPASSWORD="$PASS"
psql() { "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U spid -d registry -X -q -At "$@"; }
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U spid registry || { failed=1; finish; }
URL="postgresql://spid:$PASS@127.0.0.1:$PGPORT/registry"
export SPID_SP_AUDIT_POSTGRES="$URL"   # the CLI reads it: no password on a command line
PUB="$WORK/sp-key/audit-checkpoint.pub.pem"

"$BIN/examples/sign-response" keygen "$WORK/idp" >/dev/null
"$BIN/examples/sign-response" metadata "$WORK/idp" "$IDP" "http://127.0.0.1:9/idp" > "$WORK/idp.xml"

start_demo() { # label -> SP_PID, port, base
  port=$(free_port)
  base="http://127.0.0.1:$port"
  DEMO_SP_AUDIT_POSTGRES="$URL" "$BIN/examples/demo-sp" --bind "127.0.0.1:$port" --base-url "$base" \
    --idp-metadata "$WORK/idp.xml" --key-dir "$WORK/sp-key" --pending-per-client 1000 \
    >"$WORK/demo-$1.log" 2>&1 &
  SP_PID=$!; PIDS+=("$SP_PID")
  wait_port "$port" "$SP_PID"
}
load() { # port base logins label
  "$BIN/examples/load" --sp "127.0.0.1:$1" --base-url "$2" --idp-dir "$WORK/idp" \
    --idp-entity-id "$IDP" --logins "$3" --concurrency 8 --max-secs 120 --label "$4"
}
verify() { "$BIN/spid-sp" audit verify --checkpoint-key "$PUB" "$@"; }  # --postgres from SPID_SP_AUDIT_POSTGRES

# 1. Two instances writing concurrently.
N=150
start_demo a || { failed=$((failed + 1)); finish; }
A_PID=$SP_PID; A_PORT=$port; A_BASE=$base
start_demo b || { failed=$((failed + 1)); finish; }
B_PID=$SP_PID; B_PORT=$port; B_BASE=$base
load "$A_PORT" "$A_BASE" "$N" a >"$WORK/load-a.out" 2>&1 &
LA=$!
load "$B_PORT" "$B_BASE" "$N" b >"$WORK/load-b.out" 2>&1 &
LB=$!
wait "$LA"; wait "$LB"
cat "$WORK/load-a.out" "$WORK/load-b.out" | grep '^result' >&2
check "instance A: $N logins, no error" grep -q "errors=0 double_acceptances=0 replay_errors=0" "$WORK/load-a.out"
check "instance B: $N logins, no error" grep -q "errors=0 double_acceptances=0 replay_errors=0" "$WORK/load-b.out"
kill -TERM "$A_PID" "$B_PID"; wait "$A_PID" 2>/dev/null; wait "$B_PID" 2>/dev/null
counts="$(psql -c "SELECT writer, kind, outcome, count(*) FROM spid_audit WHERE kind <> 'checkpoint'
                   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")"
echo "$counts" >&2
every_record() { # per writer: N requests sent, N accepted, N replays rejected
  python3 - "$N" "$counts" <<'PY'
import sys, collections
n, rows = int(sys.argv[1]), [r.split("|") for r in sys.argv[2].splitlines() if r]
w = collections.defaultdict(dict)
for writer, kind, outcome, c in rows:
    w[writer][(kind, outcome)] = int(c)
want = {("authn-request-sent", "sent"): n, ("response-received", "accepted"): n,
        ("response-received", "rejected"): n}
sys.exit(0 if len(w) == 2 and all(v == want for v in w.values()) else 1)
PY
}
check "every record of both instances is present (2 writers x $N x 3)" every_record
verify >"$WORK/verify-two.out" 2>&1
rc=$?
cat "$WORK/verify-two.out" >&2
check "both chains verify (exit 0)" test "$rc" = 0
check "two writers, $((6 * N)) records" grep -q "audit verify: ok (2 writers, $((6 * N)) records)" "$WORK/verify-two.out"
check "a clean stop sealed both chains (no unsigned tail)" test "$(grep -c 'unsigned tail' "$WORK/verify-two.out")" = 0
rid="$(psql -c "SELECT authn_req_id FROM spid_audit WHERE outcome = 'accepted' LIMIT 1")"
"$BIN/spid-sp" audit search --request-id "$rid" >"$WORK/search.out" 2>&1
check "search --postgres finds the request's records" test "$(grep -c "\"AuthnReq_ID\":\"$rid\"" "$WORK/search.out")" -ge 2

# 2. PostgreSQL stopped mid-login: 503, nothing accepted; started again: logins work.
start_demo fault || { failed=$((failed + 1)); finish; }
F_PID=$SP_PID
python3 - "$port" "$base" "$IDP" "$BIN/examples/sign-response" "$WORK/idp" >"$WORK/begin.json" <<'PY' || log "begin failed"
import base64, html, http.client, json, re, subprocess, sys, urllib.parse
port, base, idp, sign, idp_dir = sys.argv[1:6]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
c.request("GET", "/spid/login?idp=" + urllib.parse.quote(idp, safe=""))
r = c.getresponse(); body = r.read().decode()
assert r.status == 200, r.status
field = lambda n: html.unescape(re.search(r'name="%s" value="([^"]*)"' % n, body).group(1))
xml = base64.b64decode(field("SAMLRequest")).decode()
rid = re.search(r' ID="([^"]+)"', xml).group(1)
cookie = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("spid_browser=")][0]
resp = subprocess.run([sign, "response", idp_dir, idp, rid, base + "/spid/acs", base, "2",
                       "fiscalNumber=TINIT-RSSMRA85T10A562S", "name=Mario", "familyName=Rossi"],
                      check=True, capture_output=True, text=True).stdout.strip()
form = urllib.parse.urlencode({"SAMLResponse": resp, "RelayState": field("RelayState")})
print(json.dumps({"form": form, "cookie": cookie, "id": rid}))
PY
before="$(psql -c "SELECT count(*) FROM spid_audit WHERE outcome = 'accepted'")"
pg_stop
post_acs() { # -> prints "STATUS SESSION-COOKIE?"
  python3 - "$port" "$WORK/begin.json" <<'PY'
import http.client, json, sys
port, b = sys.argv[1], json.load(open(sys.argv[2]))
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
c.request("POST", "/spid/acs", b["form"], {"Content-Type": "application/x-www-form-urlencoded", "Cookie": b["cookie"]})
r = c.getresponse(); body = r.read().decode()
session = any(k.lower() == "set-cookie" and v.startswith("spid_session=") for k, v in r.getheaders())
print(r.status, "session" if session else "no-session", "courtesy" if "non disponibile" in body else "-")
PY
}
acs="$(post_acs)"
log "ACS with PostgreSQL stopped: $acs"
check "PostgreSQL stopped: the ACS answers 503 with the courtesy page, no session" test "$acs" = "503 no-session courtesy"
login_status="$(curl -s -o /dev/null -w '%{http_code}' "$base/spid/login?idp=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$IDP")")"
check "PostgreSQL stopped: /spid/login answers 503 (no request leaves unrecorded)" test "$login_status" = 503
pg_start || log "restart failed"
load "$port" "$base" 20 after >"$WORK/load-after.out" 2>&1
grep '^result' "$WORK/load-after.out" >&2
check "PostgreSQL started again: logins work without restarting the demo" grep -q "errors=0 double_acceptances=0" "$WORK/load-after.out"
after="$(psql -c "SELECT count(*) FROM spid_audit WHERE outcome = 'accepted'")"
check "nothing accepted while PostgreSQL was down (accepted records: $before -> $after, +20)" test "$after" = "$((before + 20))"
kill -TERM "$F_PID"; wait "$F_PID" 2>/dev/null
verify >"$WORK/verify-three.out" 2>&1
rc=$?
cat "$WORK/verify-three.out" >&2
check "all three chains verify after the outage (exit 0)" test "$rc" = 0 -a "$(grep -c '^writer ' "$WORK/verify-three.out")" = 3

# 3. Retention: old days pruned, a signed statement left, the rest still verifies.
SPID_SP_TEST_CHECKPOINT_KEY="$WORK/sp-key/audit-checkpoint.key.pem" \
  cargo test -q --all-features --test audit -- --ignored --exact \
  postgres_retention_prunes_old_days_and_leaves_a_signed_statement >"$WORK/prune-test.out" 2>&1
rc=$?
tail -5 "$WORK/prune-test.out" >&2
check "prune --postgres: old days deleted, newer intact, signed statement verifies, tampering still named" \
  test "$rc" = 0 -a "$(grep -c 'test result: ok. 1 passed' "$WORK/prune-test.out")" = 1
verify >"$WORK/verify-pruned.out" 2>&1
rc=$?
cat "$WORK/verify-pruned.out" >&2
check "after prune --postgres: every chain verifies (4 writers, one pruned)" \
  test "$rc" = 0 -a "$(grep -c '^writer ' "$WORK/verify-pruned.out")" = 4 -a "$(grep -c 'pruned before seq 12' "$WORK/verify-pruned.out")" = 1
check "after prune --postgres: the demos' records are all kept ($after accepted)" \
  test "$(psql -c "SELECT count(*) FROM spid_audit WHERE outcome = 'accepted'")" = "$after"

# 4. A row altered in the database is named.
victim="$(psql -c "SELECT writer || '|' || seq FROM spid_audit WHERE outcome = 'accepted' ORDER BY writer, seq LIMIT 1 OFFSET 3")"
psql -c "UPDATE spid_audit SET line = replace(line, 'IssueInstant', 'IssueInstanT')
         WHERE writer = '${victim%%|*}' AND seq = ${victim##*|}" >/dev/null
verify >"$WORK/verify-tampered.out" 2>&1
rc=$?
cat "$WORK/verify-tampered.out" >&2
check "an altered row is named (exit 1, altered: spid_audit#${victim##*|})" \
  test "$rc" = 1 -a "$(grep -c "first bad record: altered: spid_audit#${victim##*|} writer ${victim%%|*}" "$WORK/verify-tampered.out")" = 1

# 4. Tenants from the spid_tenants table (tests/tenants_postgres.rs, all features as above).
SPID_SP_TENANTS_POSTGRES="$URL" cargo test -q --all-features --test tenants_postgres -- --ignored \
  >"$WORK/tenants.out" 2>&1
check "tenants from the spid_tenants table: added, broken change keeps the last good version, changed, removed, directory wins" \
  grep -q "test result: ok. 1 passed" "$WORK/tenants.out"

finish
