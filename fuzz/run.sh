#!/usr/bin/env bash
# Runs every fuzz target (or those named) one after another for SECONDS each (default
# 600), nice'd, on stable Rust via RUSTC_BOOTSTRAP (cargo-fuzz needs nightly flags).
# New inputs go to fuzz/corpus-work/<target> (not committed); the committed corpus in
# fuzz/corpus/<target> is read as seeds; crashes land in fuzz/artifacts/<target>/.
# Prints one summary line per target: execs, execs/s, crashes.
#
#   cargo install cargo-fuzz          # once
#   fuzz/run.sh                       # all targets, 600 s each
#   SECONDS_PER_TARGET=3600 fuzz/run.sh response c14n
set -uo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
secs="${SECONDS_PER_TARGET:-600}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(response xml c14n signature redirect metadata inspect reader)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
nice -n 10 cargo fuzz build -s none -a || exit 1
mkdir -p fuzz/target/logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus-work/$t" "fuzz/artifacts/$t"
  log="fuzz/target/logs/$t.log"
  nice -n 10 cargo fuzz build -s none -a "$t" >"$log" 2>&1 || { status=1; continue; }
  start=$(date +%s)
  nice -n 10 cargo fuzz run -s none -a "$t" "fuzz/corpus-work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 >>"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  echo "$t: ${execs:-?} execs, ${speed:-?} execs/s, ${elapsed}s, exit $rc, $crashes artifacts"
  [ "$rc" -eq 0 ] || status=1
done
exit $status
