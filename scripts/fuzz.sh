#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, libFuzzer through cargo-fuzz) for a bounded time each.
#
#   scripts/fuzz.sh              # 20 s per target
#   scripts/fuzz.sh 600          # longer, by hand
#   scripts/fuzz.sh 10 --quick   # as CI does: built unoptimised and without AddressSanitizer
#                                # (panics, overflow and debug assertions still caught; the
#                                # build is several times cheaper, the run slower per input)
#
# Needs the nightly toolchain (libFuzzer's instrumentation); installs cargo-fuzz from
# crates.io into target/tools on first use. A crash stops the run and leaves the input
# under fuzz/artifacts/<target>/ (replay: cd fuzz && cargo +nightly fuzz run <target> <file>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
flags=()
if [[ ${2:-} == --quick ]]; then
  flags=(--dev --sanitizer none)
elif [[ -n ${2:-} ]]; then
  echo "usage: $0 [seconds] [--quick]" >&2
  exit 2
fi

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
fi
if [[ ! -x target/tools/bin/cargo-fuzz ]]; then
  cargo install --quiet --locked --root target/tools cargo-fuzz@0.13.1
fi
export PATH="$PWD/target/tools/bin:$PATH"

cd fuzz
targets=$(cargo +nightly fuzz list)
# Build once, then run each target against its corpus for the time given.
cargo +nightly fuzz build "${flags[@]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $targets; do
  if ! cargo +nightly fuzz run "${flags[@]}" "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $target failed; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
  echo "fuzz: $target: $runs inputs in ${seconds} s, no failure"
done
