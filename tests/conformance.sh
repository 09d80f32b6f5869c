#!/usr/bin/env bash
# tests/conformance.sh: the demo SP (examples/demo-sp) end to end against AgID's
# spid-sp-test 1.2.18: metadata, AuthnRequest and all 111 response cases (--extra), for the
# profiles spid-sp-public, spid-sp-private, cie-sp-public and ficep-eidas-sp, each with
# HTTP-POST and HTTP-Redirect AuthnRequests (8 runs), and one tenant of the demo's
# aggregator mode (spid-sp-public, HTTP-POST: the 9th run). Each run starts the demo on a free
# loopback port trusting spid-sp-test's IdP (metadata/testing/spid-sp-test-idp.xml) and
# runs tests/spid-sp-test.sh against it (venv under target/, installs what it needs).
#
# Gate: 0 failed checks in every run. Closing line: "conformance: N passed, M failed"
# (checks, summed over the runs). Logs and JSON reports: target/conformance/.
#
# Env: CONFORMANCE_PROFILES (default "spid-public cie eidas spid-private", demo names),
#      CONFORMANCE_BINDINGS (default "post redirect"),
#      CONFORMANCE_TEST_NAMES (only these response cases, e.g. "1 2 xsw1"; default all),
#      CONFORMANCE_TENANT (default 1; 0 skips the tenant run),
#      CONFORMANCE_AUDIT_RUN (default spid-public-post): after this run, the transaction
#      registry must verify (`spid-sp audit verify`) and hold exactly one Response record
#      per response case, with the outcome the SP answered (one more check).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/conformance"
mkdir -p "$OUT"
PROFILES="${CONFORMANCE_PROFILES:-spid-public cie eidas spid-private}"
BINDINGS="${CONFORMANCE_BINDINGS:-post redirect}"
IDP_METADATA="$ROOT/metadata/testing/spid-sp-test-idp.xml"

log() { echo "conformance.sh: $*" >&2; }

tool_profile() {
  case "$1" in
    spid-public) echo spid-sp-public ;;
    spid-private) echo spid-sp-private ;;
    cie) echo cie-sp-public ;;
    eidas) echo ficep-eidas-sp ;;
    *) return 1 ;;
  esac
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Same features as the test suite's `cargo test --all-features`, so the build is shared.
log "building the demo SP"
if ! cargo build -q --all-features --example demo-sp --bin spid-sp; then
  log "cargo build failed"
  echo "conformance: 0 passed, 1 failed"
  exit 1
fi
DEMO="$ROOT/target/debug/examples/demo-sp"
SPID_SP="$ROOT/target/debug/spid-sp"
AUDIT_RUN="${CONFORMANCE_AUDIT_RUN:-spid-public-post}"

# The registry of run $1 against its report and the demo's log: `spid-sp audit verify`
# passes, and the Response records, counted by outcome (accepted, refused, rejected by
# code), are exactly the answers the demo gave (its log), one per response case.
audit_check() {
  local name="$1" dir="$OUT/audit-$1"
  "$SPID_SP" audit verify "$dir" >"$OUT/audit-verify-$name.log" 2>&1 || { log "audit verify failed: $OUT/audit-verify-$name.log"; return 1; }
  python3 - "$dir" "$OUT/report-$name.json" "$OUT/demo-$name.log" <<'PY'
import collections, glob, json, re, sys
d, report, demo = sys.argv[1:4]
records = collections.Counter()
for f in sorted(glob.glob(d + "/*.jsonl")):
    for line in open(f):
        body = json.loads(line)["body"]
        r = body.get("record", {}).get("record")
        if r and r["kind"] == "response-received":
            o = r["outcome"]
            records["rejected:" + o["code"] if o["result"] == "rejected" else o["result"]] += 1
answers = collections.Counter()
for line in open(demo):
    line = line.strip()
    if line.startswith("demo-sp: login at "):
        answers["accepted"] += 1
    m = re.match(r"demo-sp: ([a-z0-9-]+) \((\d+)\)$", line)
    if m:
        answers["refused" if m.group(1) == "idp-refused" else "rejected:" + m.group(1)] += 1
cases = json.load(open(report))["test"]["sp"]["response"]["SpidSpResponseCheck"]
ok200 = sum(1 for c in cases if "status_code: 200" in c["value"])
total = sum(records.values())
print(f"audit: {total} Response records for {len(cases)} response cases; {dict(records)}", file=sys.stderr)
bad = total != len(cases) or records != answers or records["accepted"] != ok200
if bad:
    print(f"audit: MISMATCH records {dict(records)} vs answers {dict(answers)} (cases {len(cases)}, status 200: {ok200})", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# Prepare the tool once (venv + xmlsec1), outside the timed runs.
"$HERE/spid-sp-test.sh" install >&2 || { echo "conformance: 0 passed, 1 failed"; exit 1; }

total_passed=0
total_failed=0
runs_failed=0
summary=()
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill "$demo_pid" 2>/dev/null
    wait "$demo_pid" 2>/dev/null
  fi
}
trap cleanup EXIT

# One run: $1 name, $2 spid-sp-test profile, $3 path of the SP endpoints (/spid, or a
# tenant's), then the demo's arguments. Adds to the totals and the summary.
one_run() {
  local name="$1" tprofile="$2" spid="$3"
  shift 3
  local port base rc line p f cats
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  rm -rf "$OUT/audit-$name"
  "$DEMO" --bind "127.0.0.1:$port" "$@" \
    --idp-metadata "$IDP_METADATA" --key-dir "$OUT/keys" --audit-dir "$OUT/audit-$name" \
    >"$OUT/demo-$name.log" 2>&1 &
  demo_pid=$!
  local args=(--metadata-url "$base$spid/metadata"
        --authn-url "$base$spid/login?idp=https://localhost:8443"
        --profile "$tprofile" --extra --wait 60
        --report "$OUT/report-$name.json")
  [ -n "${CONFORMANCE_TEST_NAMES:-}" ] && args+=(--test-names "$CONFORMANCE_TEST_NAMES")
  log "run $name: spid-sp-test --profile $tprofile against $base$spid"
  "$HERE/spid-sp-test.sh" "${args[@]}" >"$OUT/spid-sp-test-$name.log" 2>&1
  rc=$?
  cleanup
  demo_pid=""
  line="$(grep -E '^conformance: [0-9]+ passed, [0-9]+ failed$' "$OUT/spid-sp-test-$name.log" | tail -1)"
  p="$(echo "$line" | sed -nE 's/^conformance: ([0-9]+) passed.*/\1/p')"
  f="$(echo "$line" | sed -nE 's/.* ([0-9]+) failed$/\1/p')"
  if [ -z "$p" ] || [ -z "$f" ]; then
    p=0
    f=1
  fi
  [ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
  if [ "$name" = "$AUDIT_RUN" ] && [ -z "${CONFORMANCE_TEST_NAMES:-}" ]; then
    if audit_check "$name"; then p=$((p + 1)); else f=$((f + 1)); fi
  fi
  cats="$(grep -E '^  (metadata|authnrequest|response)' "$OUT/spid-sp-test-$name.log" \
    | awk '{printf "%s%s %s", (n++ ? ", " : ""), $1, $2}')"
  summary+=("$(printf '%-22s %-16s %4s passed %3s failed  (%s)' "$name" "$tprofile" "$p" "$f" "$cats")")
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  if [ "$f" != 0 ]; then
    runs_failed=$((runs_failed + 1))
    log "run $name FAILED; tool output: $OUT/spid-sp-test-$name.log, demo log: $OUT/demo-$name.log"
    grep -E '^\s+FAIL' "$OUT/spid-sp-test-$name.log" | head -40 >&2
  fi
}

for profile in $PROFILES; do
  tprofile="$(tool_profile "$profile")" || { log "unknown profile $profile"; exit 2; }
  for binding in $BINDINGS; do
    one_run "$profile-$binding" "$tprofile" /spid --profile "$profile" --binding "$binding"
  done
done

# One tenant of the demo's aggregator mode (docs/tenants.md): the comune routed by path
# (/t/comune-forli), HTTP-POST, every response case. CONFORMANCE_TENANT=0 skips it.
if [ "${CONFORMANCE_TENANT:-1}" = 1 ]; then
  one_run tenant-comune-post spid-sp-public /t/comune-forli/spid --aggregator --binding post
fi

echo
echo "spid-sp-test 1.2.18 against examples/demo-sp (checks per run):"
for s in "${summary[@]}"; do echo "  $s"; done
echo "runs with failures: $runs_failed"
echo "conformance: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
