#!/usr/bin/env bash
# Runs every test vpclab has: formatting and lints, unit and property tests (no root),
# the benchmarks' compilation, and the root-only namespace tests in netns-tests/.
#
#   sudo scripts/test.sh            # everything
#   scripts/test.sh --no-root       # everything that does not need root
#
# Installs what it needs from the package registries (scripts/deps.sh). CI runs
# exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

root=1
for arg in "$@"; do
  case "$arg" in
    --no-root) root=0 ;;
    *) echo "usage: $0 [--no-root]" >&2; exit 2 ;;
  esac
done
if ((root)) && [[ $EUID -ne 0 ]]; then
  echo "test.sh: the namespace tests need root; run with sudo, or pass --no-root" >&2
  exit 1
fi

# Each step says how long the run has taken so far (CI's budget is 30 minutes).
started=$SECONDS
step() { printf '\n==> [%d s] %s\n' "$((SECONDS - started))" "$*"; }

# Property tests explore from a fixed seed here, so a run is repeatable; set
# PROPTEST_RNG_SEED (or PROPTEST_CASES) yourself to explore further.
export PROPTEST_RNG_SEED=${PROPTEST_RNG_SEED:-20261126}

# A run builds each crate once, so incremental caches only cost disk (several GB across
# the test, bench and fuzz builds) and time; set CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

if ((root)); then
  step "installing test dependencies (packages; geckodriver from crates.io into target/tools)"
  scripts/deps.sh --tests
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit, property and doc tests (no root)"
cargo test --workspace --locked

step "benchmarks compile (unoptimised: CI only checks that they build; bench/README runs them)"
CARGO_PROFILE_BENCH_OPT_LEVEL=0 CARGO_PROFILE_BENCH_DEBUG=false \
  cargo bench --workspace --locked --no-run

# The fuzz targets run in the background while the namespace tests, which mostly wait on
# daemons and timers, run in the foreground: the slowest steps overlap instead of adding
# up. Their output is shown at the end, and a failure fails the run.
fuzz_pid=
if ((root)); then
  step "fuzz targets, 10 s each, quick builds, in the background (nightly; cargo-fuzz from crates.io into target/tools)"
  fuzz_log=$(mktemp)
  # Its own process group, so that a failing run stops it and everything it started.
  setsid scripts/fuzz.sh 10 --quick >"$fuzz_log" 2>&1 &
  fuzz_pid=$!
  trap 'kill -- -"$fuzz_pid" 2>/dev/null || true; rm -f "$fuzz_log"' EXIT
fi

if ((root)); then
  step "Python environment for the aws CLI and boto3 tests (PyPI, target/pyenv)"
  if [[ ! -x target/pyenv/bin/aws ]]; then
    python3 -m venv target/pyenv
    target/pyenv/bin/pip install --quiet --disable-pip-version-check \
      "awscli==1.46.3" boto3
  fi
  target/pyenv/bin/aws --version

  step "real clients: Ansible (PyPI, target/pyenv), the AWS SDK for JavaScript (npm, target/clients/js)"
  scripts/clients.sh

  step "namespace and API tests (root; several at once, each in a process of its own: scripts/netns-tests.sh)"
  scripts/netns-tests.sh

  step "fuzz targets (started in the background)"
  if ! wait "$fuzz_pid"; then
    cat "$fuzz_log"
    echo "test.sh: a fuzz target failed" >&2
    exit 1
  fi
  grep -E '^fuzz: ' "$fuzz_log" || cat "$fuzz_log"
fi

step "all tests passed"
