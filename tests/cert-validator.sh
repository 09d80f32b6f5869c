#!/usr/bin/env bash
# AgID's own certificate validator on what `spid-sp keygen` writes.
#
# Installs spid-compliant-certificates 0.5.5 (PyPI, pinned with the constraints used for
# spid-sp-test) into a venv under target/, generates keys with certificates (public
# sector) and CSRs (private sector) with the CLI, and runs:
#   - the validator's command line (`spid-compliant-certificates validator --sector S
#     --crt-file F`) on every certificate: it must log "matches the S sector
#     specifications" (it exits 0 even when a check fails, so its log is what counts);
#   - the validator's check functions one by one on every certificate and CSR (the
#     command line only reads certificates): every check must succeed;
#   - two negative controls that must FAIL (a public certificate checked as private, and
#     spid-sp-test's IdP certificate), so a validator that accepts everything is noticed.
# Each validator check and each control counts as one test. Closing line: N passed, M failed.
#
# Environment: CERT_VALIDATOR_VENV (default target/cert-validator-venv), PYTHON (python3).
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="${CERT_VALIDATOR_VENV:-$root/target/cert-validator-venv}"
work="$root/target/cert-validator"
python="${PYTHON:-python3}"
constraints="$root/tests/spid-sp-test-constraints.txt"

die() { echo "cert-validator: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

# --- tools -------------------------------------------------------------------------------
if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null \
            || die "apt-get install python3-venv failed"
        python=python3
    else
        die "python3 with venv is required (apt-get install python3-venv)"
    fi
fi
if [ ! -x "$venv/bin/spid-compliant-certificates" ]; then
    echo "cert-validator: installing spid-compliant-certificates==0.5.5 into $venv"
    "$python" -m venv "$venv" || die "cannot create $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
        spid-compliant-certificates==0.5.5 -c "$constraints" \
        || die "pip install spid-compliant-certificates failed"
fi
"$venv/bin/python" -c 'import spid_compliant_certificates' || die "validator not importable"

cargo build -q --features cli --bin spid-sp || die "cargo build --features cli failed"
bin="$root/target/debug/spid-sp"

# --- generate ----------------------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work"
gen() { # name sector extra-args...
    local name=$1 sector=$2
    shift 2
    "$bin" keygen --sector "$sector" --out "$work/$name" "$@" >"$work/$name.log" 2>&1 \
        || { cat "$work/$name.log" >&2; die "spid-sp keygen $name failed"; }
}
gen public-2048 public --common-name "Comune di Forlì" --org-name "Comune di Forlì" \
    --entity-id https://servizi.comune.forli.fc.it/spid --org-id PA:IT-c_d704 --locality Forlì \
    --key-bits 2048
gen public-3072 public --common-name AgID --org-name "Agenzia per l'Italia Digitale" \
    --entity-id https://sp.agid.gov.it/spid --org-id PA:IT-agid --locality Roma
gen public-4096 public --common-name "Comune di Roma" --org-name "Roma Capitale" \
    --entity-id https://spid.comune.roma.it --org-id PA:IT-c_h501 --locality Roma \
    --key-bits 4096 --days 365
gen private-vat private --common-name ACME --org-name "A Company Making Everything S.p.A." \
    --entity-id https://spid.acme.example/sp --org-id VATIT-12345678901 --locality Milano \
    --key-bits 2048 --self-signed
gen private-cf private --common-name "Studio Rossi" --org-name "Studio Rossi di Mario Rossi" \
    --entity-id https://spid.studiorossi.example --org-id CF:IT-RSSMRA80A01H501U --locality Torino

# --- validate ----------------------------------------------------------------------------
passed=0
failed=0

# 1. The validator's command line on every certificate.
for cert in "$work"/public-2048/crt.pem "$work"/public-3072/crt.pem "$work"/public-4096/crt.pem \
            "$work"/private-vat/crt.pem; do
    case "$cert" in *public*) sector=public ;; *) sector=private ;; esac
    log="$cert.validator.log"
    (cd "$work" && PYTHONWARNINGS=ignore "$venv/bin/spid-compliant-certificates" validator \
        --sector "$sector" --crt-file "$cert") >"$log" 2>&1
    if sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -q "matches the $sector sector specifications"; then
        echo "ok   validator cli: ${cert#"$work"/} ($sector)"
        passed=$((passed + 1))
    else
        echo "FAIL validator cli: ${cert#"$work"/} ($sector)"
        sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '\[E\]' | sed 's/^/     /'
        failed=$((failed + 1))
    fi
done

# 2. Every check, on certificates and CSRs, plus the negative controls.
counts=$("$venv/bin/python" - "$work" "$root/metadata/testing/spid-sp-test-idp.crt" <<'PY'
import sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from cryptography import x509
from spid_compliant_certificates.validator import checks

work, idp_cert = Path(sys.argv[1]), Path(sys.argv[2])

def run(obj, sector, is_csr):
    out = []
    out += checks.key_type_and_size(obj)
    out += checks.digest_algorithm(obj.signature_hash_algorithm.name)
    out += checks.subject_dn(obj.subject, sector)
    if not is_csr:
        out += checks.not_expired(obj)
    try:
        out += checks.basic_constraints(obj.extensions)
        out += checks.key_usage(obj.extensions)
        out += checks.certificate_policies(obj.extensions, sector)
    except ValueError as e:
        out.append((False, f"extensions do not parse: {e}", None))
    return out

passed = failed = 0
targets = []
for d in sorted(work.iterdir()):
    if not d.is_dir():
        continue
    sector = "public" if d.name.startswith("public") else "private"
    if (d / "crt.pem").exists():
        targets.append((d / "crt.pem", sector, False))
    if (d / "csr.pem").exists():
        targets.append((d / "csr.pem", sector, True))
for path, sector, is_csr in targets:
    data = path.read_bytes()
    obj = x509.load_pem_x509_csr(data) if is_csr else x509.load_pem_x509_certificate(data)
    results = run(obj, sector, is_csr)
    bad = [(msg, val) for ok, msg, val in results if not ok]
    passed += len(results) - len(bad)
    failed += len(bad)
    name = f"{path.parent.name}/{path.name}"
    print(f"{'ok  ' if not bad else 'FAIL'} validator checks: {name} ({sector}): {len(results) - len(bad)}/{len(results)}", file=sys.stderr)
    for msg, val in bad:
        print(f"     {msg} (now: {val})", file=sys.stderr)

# Negative controls: the validator must refuse these.
controls = [
    ("public certificate checked as private", work / "public-2048" / "crt.pem", "private"),
    ("spid-sp-test IdP certificate (not an SP certificate)", idp_cert, "public"),
]
for label, path, sector in controls:
    obj = x509.load_pem_x509_certificate(path.read_bytes())
    refused = any(not ok for ok, _, _ in run(obj, sector, False))
    print(f"{'ok  ' if refused else 'FAIL'} negative control refused: {label}", file=sys.stderr)
    if refused:
        passed += 1
    else:
        failed += 1
print(passed, failed)
PY
) || die "validator checks could not run"
read -r p f <<<"$counts"
passed=$((passed + p))
failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
