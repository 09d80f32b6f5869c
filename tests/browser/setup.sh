# Shared setup of the Chromium suites (sourced by tests/browser.sh and tests/e2e.sh, which
# define log, die, HERE and NODE_DIR first).

apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# ensure_tools CMD=PACKAGE...: installs the packages of missing commands (as root).
ensure_tools() {
  local missing=() pair cmd pkg
  [ -x "$CHROMIUM" ] || missing+=(chromium)
  for pair in "$@"; do
    cmd="${pair%%=*}"; pkg="${pair#*=}"
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}" || die "need ${missing[*]} (apt-get install -y ${missing[*]}, as root)"
  fi
}

# playwright-core, pinned by the committed lockfile; reinstalled when the lockfile changes.
ensure_playwright() {
  mkdir -p "$NODE_DIR"
  if ! cmp -s "$HERE/browser/package-lock.json" "$NODE_DIR/package-lock.json" \
     || [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
    log "npm ci (playwright-core) into $NODE_DIR"
    cp "$HERE/browser/package.json" "$HERE/browser/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
  fi
}
