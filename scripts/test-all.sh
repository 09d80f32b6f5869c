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
  for f in "" axum redis cli test-idp config refresh audit postgres gateway tenants "tenants axum" cns-tls oidc; do
    cargo clippy --quiet --lib --no-default-features --features "$f" -- -D warnings || return 1
  done
}
step "cargo clippy (library alone and per feature)" feature_sets
step "cargo test (all features)" cargo test --all-features
step "doc examples and docs build" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features -q

# The crate as published (Cargo.toml `include`): only the library, the CLI, the embedded
# pins and the documents are packaged (no tests/, vectors, target/), and the package
# builds on its own with every feature. About 10 s with a warm target/ (it reuses the
# dependencies built above).
package_check() {
  local list f
  list=$(cargo package --list --all-features --allow-dirty 2>/dev/null) || return 1
  if grep -Ev '^(src/.+\.rs|metadata/(SOURCES\.md|[a-z-]+\.pem)|examples/tenants/[a-z.-]+\.toml|docs/[a-z-]+\.md|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|README\.md|LICENSE|SECURITY\.md|CHANGELOG\.md|\.cargo_vcs_info\.json)$' <<<"$list"; then
    echo "unexpected files in the package (above): adjust include in Cargo.toml"
    return 1
  fi
  for f in LICENSE SECURITY.md README.md CHANGELOG.md; do
    [ "$f" = CHANGELOG.md ] && [ ! -f CHANGELOG.md ] && continue
    grep -qx "$f" <<<"$list" || { echo "$f missing from the package"; return 1; }
  done
  grep -q "EUROPEAN UNION PUBLIC LICENCE v. 1.2" LICENSE || { echo "LICENSE is not the EUPL-1.2 text"; return 1; }
  cargo publish --dry-run --all-features --allow-dirty --quiet
}
step "cargo publish --dry-run (all features) and the package list" package_check

# MSRV: `rust-version` must be at least every normal dependency's own (Cargo.lock), and
# proven by a build: either it is this toolchain's version (every step above builds with
# it), or that toolchain is installed and checks the crate with every feature.
msrv_check() {
  local msrv rustc_v floor
  msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
  rustc_v=$(rustc --version | awk '{split($2, v, "."); print v[1] "." v[2]}')
  floor=$(cargo metadata --format-version 1 --all-features --locked 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin)
pkgs = {p["id"]: p for p in m["packages"]}
nodes = {n["id"]: n for n in m["resolve"]["nodes"]}
seen, todo = set(), [m["resolve"]["root"]]
while todo:
    i = todo.pop()
    if i in seen:
        continue
    seen.add(i)
    for d in nodes[i]["deps"]:
        if any(k["kind"] in (None, "build") for k in d["dep_kinds"]):
            todo.append(d["pkg"])
key = lambda v: tuple(int(x) for x in v.split(".")[:2])
print(max((pkgs[i].get("rust_version") or "1.0" for i in seen if i != m["resolve"]["root"]), key=key))
') || return 1
  ver() { awk -F. '{printf "%d%04d\n", $1, $2}' <<<"$1"; }
  echo "rust-version $msrv, dependencies need $floor, toolchain $rustc_v"
  if [ "$(ver "$msrv")" -lt "$(ver "$floor")" ]; then
    echo "rust-version $msrv is below what the dependencies need ($floor)"
    return 1
  fi
  if [ "$msrv" = "$rustc_v" ]; then
    return 0
  elif rustup toolchain list 2>/dev/null | grep -q "^$msrv"; then
    cargo "+$msrv" check --quiet --locked --all-features --lib --bins
  else
    echo "rust-version $msrv is not tested: install toolchain $msrv (rustup toolchain install $msrv)"
    [ "${CI:-}" != true ]
  fi
}
step "MSRV (rust-version) proven by a build" msrv_check

# The public API against its committed snapshot (what `cargo semver-checks` would compare
# with a published baseline): a change fails until the snapshot is regenerated with
# `python3 scripts/public-api.py --update` and the change has a CHANGELOG.md entry.
step "public API unchanged (docs/public-api.txt)" python3 scripts/public-api.py --check

# Suites driving external tools (each prints its own "N passed, M failed"). Listed
# explicitly: tests/spid-sp-test.sh is a helper the suites call, not a suite.
SUITES=(
  tests/conformance-metadata.sh   # SP metadata, 5 profiles, AgID's spid-sp-test
  tests/cert-validator.sh         # keygen output vs AgID's spid-compliant-certificates
  tests/conformance.sh            # demo SP end to end, 4 profiles x 2 bindings, spid-sp-test
  tests/browser.sh                # headless Chromium through the demo
  tests/e2e.sh                    # headless Chromium: full login with the local test IdP
  tests/button.sh                 # headless Chromium + axe-core: the login buttons
  tests/redis.sh                  # two demo instances on a real redis-server
  tests/sentinel.sh               # Redis Sentinel: primary SIGKILLed under load, failover, no replay
  tests/gateway.sh                # spid-sp gateway behind real nginx: Chromium, auth_request, PyJWT, HA, Sentinel
  tests/audit.sh                  # transaction registry: SIGKILL under load, verify, restart
  tests/postgres.sh               # registry in PostgreSQL: two writers, outage 503, verify
  tests/cns.sh                    # Entra con CNS: our TLS listener, nginx, Chromium + NSS
  tests/oidc.sh                   # CIE over OpenID Connect: test federation, curl cases, Chromium
  tests/oidc-interop.sh           # our RP vs the reference spid-cie-oidc 1.6.3 (Django TA + OP) on loopback
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
