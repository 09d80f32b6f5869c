#!/usr/bin/env bash
# The whole test suite (README's test command; .ci/run calls it).
# Installs what the tests need when missing (apt as root; Python and Node tools go under
# target/), then: format and lint gates, cargo tests (all features), and the suites that
# drive real tools: AgID's spid-sp-test, spid-compliant-certificates, xmlsec1/xmllint,
# redis-server and headless Chromium.
set -uo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
APT_PACKAGES=(pkg-config libssl-dev openssl curl xmlsec1 libxml2-utils python3-venv chromium nodejs npm redis-server)

log() { echo "== $*" >&2; }

install_system_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 && continue
    # NodeSource's nodejs bundles npm and conflicts with Debian's npm package: a working
    # command is enough for these two (asking apt for both would fail the whole install).
    case "$p" in nodejs | npm) command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue ;; esac
    missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    log "missing packages: ${missing[*]} (run as root, or install them)"
  fi
}

passed=0
failed=0
failures=()
step() {
  local name="$1"; shift
  log "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

install_system_packages

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy (all targets, all features)" cargo clippy --all-targets --all-features -- -D warnings
# Library users pay only for what they use: each feature set alone must build clean.
feature_sets() {
  local f
  for f in "" axum redis cli test-idp config; do
    cargo clippy --quiet --lib --no-default-features --features "$f" -- -D warnings || return 1
  done
}
step "cargo clippy (library alone and per feature)" feature_sets
step "cargo test (all features)" cargo test --all-features
step "doc examples and docs build" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features -q

# Suites driving external tools (each prints its own "N passed, M failed"). Listed
# explicitly: tests/spid-sp-test.sh is a helper the suites call, not a suite.
SUITES=(
  tests/conformance-metadata.sh   # SP metadata, 5 profiles, AgID's spid-sp-test
  tests/cert-validator.sh         # keygen output vs AgID's spid-compliant-certificates
  tests/conformance.sh            # demo SP end to end, 4 profiles x 2 bindings, spid-sp-test
  tests/browser.sh                # headless Chromium through the demo
  tests/e2e.sh                    # headless Chromium: full login with the local test IdP
  tests/redis.sh                  # two demo instances on a real redis-server
  tests/audit.sh                  # transaction registry: SIGKILL under load, verify, restart
)
for suite in "${SUITES[@]}"; do
  if [ -x "$suite" ]; then
    step "$suite" "$suite"
  else
    log "$suite not present"
  fi
done

echo
log "suites: $passed passed, $failed failed"
for f in "${failures[@]}"; do echo "   FAILED: $f"; done
echo "test-all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
