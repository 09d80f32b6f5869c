#!/usr/bin/env bash
# Tenants benchmark (not a test): startup time, memory per tenant, metadata render time
# per tenant, and ACS login throughput with T tenants against one, in the same run
# (examples/tenants-bench.rs). Figures go to docs/performance.md ("Tenants").
#
#   bash benches/tenants.sh                         # 3000 tenants, 3000 logins a round
#   TENANTS=10000 LOGINS=5000 CONCURRENCY=32 bash benches/tenants.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TENANTS="${TENANTS:-3000}"
LOGINS="${LOGINS:-3000}"
CONCURRENCY="${CONCURRENCY:-16}"
RENDER="${RENDER:-300}"
ROUNDS="${ROUNDS:-5}"
cargo build --release -q --features tenants,axum,test-idp --example tenants-bench
exec "$ROOT/target/release/examples/tenants-bench" --tenants "$TENANTS" --logins "$LOGINS" \
    --concurrency "$CONCURRENCY" --render "$RENDER" --rounds "$ROUNDS"
