#!/usr/bin/env bash
# tests/spid-sp-test.sh: run AgID's SP conformance tool spid-sp-test (pinned, in a venv
# under target/) against SP metadata and, optionally, a running SP, and print a closing
# line "conformance: N passed, M failed". Reused by tests/conformance-metadata.sh and by
# the demo-SP conformance run; needs nothing outside the repository (python3, and xmlsec1
# which it installs with apt-get when run as root).
#
# Usage:
#   tests/spid-sp-test.sh [run] --metadata-url URL [--authn-url URL] [options] [-- extra spid_sp_test args]
#   tests/spid-sp-test.sh idp-metadata [OUT_FILE]   # print/write the IdP metadata the SP must trust
#   tests/spid-sp-test.sh install                   # only create/refresh the venv
#
# Options (each has an env var; flags win over env):
#   --metadata-url URL     SPID_SP_TEST_METADATA_URL  SP metadata (http(s)://... or file://path)
#   --authn-url URL        SPID_SP_TEST_AUTHN_URL     URL that makes the SP emit an AuthnRequest
#                                                     towards spid-sp-test's IdP (200 + POST form, or 302)
#   --profile NAME         SPID_SP_TEST_PROFILE       default spid-sp-public (see README.md)
#   --responses/--no-responses SPID_SP_TEST_RESPONSES=1|0
#                                                     send the crafted SAML Responses (-tr) to the ACS;
#                                                     default 1 when an authn URL is given
#   --test-names "1 2 xsw1" SPID_SP_TEST_NAMES        only these response tests
#   --extra/--no-extra     SPID_SP_TEST_EXTRA=1|0     run the extra checks (default 1)
#   --report PATH          SPID_SP_TEST_REPORT        JSON report (default <repo>/target/spid-sp-test-report.json)
#   --html-dumps DIR       SPID_SP_TEST_HTML_DUMPS    save the SP's HTML answer to every response test
#   --wait SECONDS         SPID_SP_TEST_WAIT          wait up to SECONDS for the metadata URL (default 30)
#   --debug LEVEL          SPID_SP_TEST_DEBUG         spid_sp_test log level (default ERROR)
#   --idp-cert-path DIR    IDP_CERT_PATH              IdP private.key/public.cert to sign responses with
#   --idp-entityid URL     IDP_ENTITYID               IdP entityID (default https://localhost:8443)
#   --exit-zero                                       exit 0 even when checks fail
#
# Other env: SPID_SP_TEST_VENV (default <repo>/target/spid-sp-test-venv),
#            SPID_SP_TEST_VERSION (default 1.2.18), PYTHON (default python3).
# Exit status: 0 when no check failed, 1 otherwise (or always 0 with --exit-zero), 2 on usage errors.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VERSION="${SPID_SP_TEST_VERSION:-1.2.18}"
VENV="${SPID_SP_TEST_VENV:-$ROOT/target/spid-sp-test-venv}"
PYTHON="${PYTHON:-python3}"
CONSTRAINTS="$HERE/spid-sp-test-constraints.txt"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"

log() { echo "spid-sp-test.sh: $*" >&2; }
die() { log "$*"; echo "conformance: 0 passed, 1 failed"; exit 1; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  if [ -z "${_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_system_tools() {
  local missing=()
  command -v xmlsec1 >/dev/null 2>&1 || missing+=(xmlsec1)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}" || die "need ${missing[*]} (apt-get install -y ${missing[*]}, as root)"
  fi
}

venv_ready() {
  local bin="$VENV/bin/spid_sp_test"
  [ -x "$bin" ] && [ "$("$VENV/bin/python" "$bin" --version 2>/dev/null | tail -1)" = "$VERSION" ]
}

ensure_venv() {
  ensure_system_tools
  venv_ready && return 0
  mkdir -p "$(dirname "$VENV")"
  # Serialize concurrent first runs (several scripts may share the venv).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV.lock"
    flock 9
  fi
  create_venv
  if command -v flock >/dev/null 2>&1; then
    flock -u 9
    exec 9>&-
  fi
}

create_venv() {
  local bin="$VENV/bin/spid_sp_test"
  if [ -x "$bin" ] && [ "$("$VENV/bin/python" "$bin" --version 2>/dev/null | tail -1)" = "$VERSION" ]; then
    return 0
  fi
  log "creating venv $VENV with spid-sp-test==$VERSION"
  mkdir -p "$(dirname "$VENV")"
  if ! "$PYTHON" -m venv "$VENV" >&2; then
    apt_install python3-venv || die "cannot create a venv (python3 -m venv failed)"
    "$PYTHON" -m venv "$VENV" >&2 || die "cannot create a venv"
  fi
  local cons=()
  [ -f "$CONSTRAINTS" ] && cons=(-c "$CONSTRAINTS")
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "spid-sp-test==$VERSION" "${cons[@]}" >&2 \
    || die "pip install spid-sp-test==$VERSION failed"
  [ "$("$VENV/bin/python" "$bin" --version 2>/dev/null | tail -1)" = "$VERSION" ] \
    || die "spid_sp_test --version does not report $VERSION"
}

cmd="run"
case "${1:-}" in
  run|install|idp-metadata) cmd="$1"; shift ;;
esac

if [ "$cmd" = install ]; then
  ensure_venv
  log "spid_sp_test $VERSION ready in $VENV"
  exit 0
fi

if [ "$cmd" = idp-metadata ]; then
  ensure_venv
  if [ -n "${1:-}" ]; then
    "$VENV/bin/python" "$VENV/bin/spid_sp_test" --idp-metadata > "$1"
    log "IdP metadata written to $1"
  else
    "$VENV/bin/python" "$VENV/bin/spid_sp_test" --idp-metadata
  fi
  exit 0
fi

METADATA_URL="${SPID_SP_TEST_METADATA_URL:-}"
AUTHN_URL="${SPID_SP_TEST_AUTHN_URL:-}"
PROFILE="${SPID_SP_TEST_PROFILE:-spid-sp-public}"
RESPONSES="${SPID_SP_TEST_RESPONSES:-}"
TEST_NAMES="${SPID_SP_TEST_NAMES:-}"
EXTRA="${SPID_SP_TEST_EXTRA:-1}"
REPORT="${SPID_SP_TEST_REPORT:-$ROOT/target/spid-sp-test-report.json}"
HTML_DUMPS="${SPID_SP_TEST_HTML_DUMPS:-}"
WAIT="${SPID_SP_TEST_WAIT:-30}"
DEBUG="${SPID_SP_TEST_DEBUG:-ERROR}"
EXIT_ZERO=0
PASSTHRU=()

need_arg() { [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --metadata-url) need_arg "$@"; METADATA_URL="$2"; shift 2 ;;
    --authn-url) need_arg "$@"; AUTHN_URL="$2"; shift 2 ;;
    --profile|-pr) need_arg "$@"; PROFILE="$2"; shift 2 ;;
    --responses|-tr) RESPONSES=1; shift ;;
    --no-responses) RESPONSES=0; shift ;;
    --test-names|-tn) need_arg "$@"; TEST_NAMES="$2"; shift 2 ;;
    --extra) EXTRA=1; shift ;;
    --no-extra) EXTRA=0; shift ;;
    --report|-o) need_arg "$@"; REPORT="$2"; shift 2 ;;
    --html-dumps) need_arg "$@"; HTML_DUMPS="$2"; shift 2 ;;
    --wait) need_arg "$@"; WAIT="$2"; shift 2 ;;
    --debug|-d) need_arg "$@"; DEBUG="$2"; shift 2 ;;
    --idp-cert-path) need_arg "$@"; export IDP_CERT_PATH="$2"; shift 2 ;;
    --idp-entityid) need_arg "$@"; export IDP_ENTITYID="$2"; shift 2 ;;
    --exit-zero) EXIT_ZERO=1; shift ;;
    -h|--help) sed -n '2,34p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; PASSTHRU=("$@"); break ;;
    *) log "unknown option $1 (use -- to pass options to spid_sp_test)"; exit 2 ;;
  esac
done

[ -n "$METADATA_URL" ] || { log "--metadata-url (or SPID_SP_TEST_METADATA_URL) is required"; exit 2; }
if [ -z "$RESPONSES" ]; then
  if [ -n "$AUTHN_URL" ]; then RESPONSES=1; else RESPONSES=0; fi
fi
if [ "$RESPONSES" = 1 ] && [ -z "$AUTHN_URL" ]; then
  log "response tests need --authn-url"; exit 2
fi

ensure_venv

# Wait for the SP to answer on its metadata URL (http/https only).
case "$METADATA_URL" in
  http://*|https://*)
    "$VENV/bin/python" - "$METADATA_URL" "$WAIT" <<'PY' || die "SP metadata not reachable at $METADATA_URL"
import sys, time, requests
url, wait = sys.argv[1], float(sys.argv[2])
deadline = time.time() + wait
while True:
    try:
        if requests.get(url, verify=False, timeout=5).status_code == 200:
            sys.exit(0)
    except Exception:
        pass
    if time.time() >= deadline:
        sys.exit(1)
    time.sleep(0.5)
PY
    ;;
esac

args=(--metadata-url "$METADATA_URL" --profile "$PROFILE" --debug "$DEBUG"
      --report_format json --report-output-file "$REPORT" --exit-zero)
[ "$EXTRA" = 1 ] && args+=(--extra)
[ -n "$AUTHN_URL" ] && args+=(--authn-url "$AUTHN_URL")
if [ "$RESPONSES" = 1 ]; then
  args+=(--test-response)
  if [ -n "$TEST_NAMES" ]; then
    # shellcheck disable=SC2206
    names=($TEST_NAMES)
    args+=(--test-names "${names[@]}")
  fi
  [ -n "$HTML_DUMPS" ] && args+=(--response-html-dumps "$HTML_DUMPS")
fi
args+=("${PASSTHRU[@]}")

mkdir -p "$(dirname "$REPORT")"
rm -f "$REPORT"
log "spid_sp_test ${args[*]}"
set +e
"$VENV/bin/python" "$VENV/bin/spid_sp_test" "${args[@]}"
tool_rc=$?
set -e
[ $tool_rc = 0 ] || log "spid_sp_test exited with $tool_rc"

# Count checks. Every entry of the report is one check: "success" and "warning"
# count as passed, "failure" as failed. A stage that was asked for but produced no
# entry (the tool logs CRITICAL, skips it and still exits 0) counts as one failure,
# and so does a run that left no report at all.
set +e
"$VENV/bin/python" - "$REPORT" "$AUTHN_URL" "$RESPONSES" "$tool_rc" <<'PY'
import json, os, sys

report, authn_url, responses, tool_rc = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
passed = failed = warnings = 0
problems = []
if not os.path.exists(report):
    problems.append(f"no report written (spid_sp_test exit status {tool_rc}; see its output above)")
    sp = {}
else:
    sp = json.load(open(report)).get("test", {}).get("sp", {})

def stage(prefix):
    return {k: v for k, v in sp.items() if k.startswith(prefix)}

wanted = ["metadata"]
if authn_url:
    wanted.append("authnrequest")
if responses:
    wanted.append("response")
if sp:
    for w in wanted:
        entries = [r for cat in stage(w).values() for res in cat.values() for r in res]
        if not entries:
            problems.append(f"stage '{w}' did not run (see the CRITICAL line in the output above)")

print("\nspid-sp-test results by category:")
for cat, classes in sp.items():
    for cls, res in classes.items():
        f = [r for r in res if r.get("result") == "failure"]
        w = [r for r in res if r.get("result") == "warning"]
        p = len(res) - len(f)
        passed += p
        failed += len(f)
        warnings += len(w)
        print(f"  {cat:22} {p:4} passed {len(f):4} failed {len(w):3} warnings")
        for r in f[:60]:
            print(f"    FAIL [{cat}] {r.get('test')} :: {str(r.get('value'))[:160]}")
        if len(f) > 60:
            print(f"    ... {len(f) - 60} more failures in {cat}, see the JSON report")
for p in problems:
    print(f"  FAIL {p}")
failed += len(problems)
if warnings:
    print(f"  ({warnings} warnings counted as passed)")
print(f"conformance: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
rc=$?
set -e
[ "$EXIT_ZERO" = 1 ] && exit 0
exit $rc
