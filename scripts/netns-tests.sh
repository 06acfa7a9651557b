#!/usr/bin/env bash
# Runs the root-only tests in netns-tests/, several at once: each test in a process of its
# own, so that each has its own internet namespace and its own prefix for the namespaces
# its labs make (netns-tests/src/lib.rs), and none meets another or a user's lab.
#
#   sudo scripts/netns-tests.sh                  # every test, $VPCLAB_TEST_LANES at a time
#   sudo scripts/netns-tests.sh --lanes 1 vpn    # the tests whose file or name has "vpn"
#
# Most of these tests wait (on daemons, timers, a browser, the aws CLI's start-up), so
# running more of them than there are CPUs keeps the CPUs busy; the default is one
# more lane than CPUs. The slowest files start first (see `first` below), so that no lane
# is left with a long test at the end. Each test's output goes to
# target/netns-tests/<file>.<test>.log; a failing test's is printed, and any failure
# fails the run (after every test has run).
set -euo pipefail
cd "$(dirname "$0")/.."

# One test, run by a lane: `--one <log directory> <binary> <file> <test>`.
if [[ ${1:-} == --one ]]; then
  logs=$2 exe=$3 file=$4 test=$5
  log="$logs/$file.$test.log"
  started=$SECONDS
  status=0
  # A test bounds its own waits; this bound is for a test that hangs regardless. The
  # tests run from their package directory, as `cargo test` runs them.
  (cd netns-tests && timeout --kill-after=10 1200 "$exe" --ignored --exact "$test" \
    --test-threads=1 --nocapture) >"$log" 2>&1 || status=$?
  took=$((SECONDS - started))
  if ((status == 0)); then
    printf 'ok      %4d s  %s::%s\n' "$took" "$file" "$test"
  else
    ((status == 124)) && echo "(killed after 1200 s)" >>"$log"
    printf 'FAILED  %4d s  %s::%s (exit %d; log: %s)\n' "$took" "$file" "$test" "$status" "$log"
    echo "$file::$test" >>"$logs/failed"
  fi
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  echo "netns-tests.sh: these tests make network namespaces; run with sudo" >&2
  exit 1
fi

lanes=${VPCLAB_TEST_LANES:-$(($(nproc) + 1))}
filters=()
while (($#)); do
  case "$1" in
    --lanes) lanes=$2; shift 2 ;;
    -*) echo "usage: $0 [--lanes N] [filter...]" >&2; exit 2 ;;
    *) filters+=("$1"); shift ;;
  esac
done
[[ $lanes =~ ^[1-9][0-9]*$ ]] || { echo "netns-tests.sh: --lanes takes a positive number" >&2; exit 2; }

# The files that take longest, longest first; every other file follows, by name.
first=(labs clients console load services vpn aws_cli interface_endpoints transit_gateway
  ipv6_packets middleboxes aws_cli_lab peering vpn_tunnels check)

# The vpclab binary and the test binaries, built for the whole workspace as
# `cargo test --workspace` (scripts/test.sh's unit tests) builds: `-p` would resolve
# the dependencies' features for one package and build them all again.
cargo build --workspace --bins --tests --locked
# Every test binary of netns-tests (its library, binaries and test files), by name.
declare -A binary=()
while IFS=$'\t' read -r name exe; do
  binary[$name]=$exe
done < <(cargo test --workspace --locked --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    ours = m.get("manifest_path", "").endswith("/netns-tests/Cargo.toml")
    if m.get("reason") == "compiler-artifact" and ours and m.get("executable") and m["profile"]["test"]:
        kind = m["target"]["kind"][0]
        name = m["target"]["name"].replace("-", "_")
        print(("lib_" + name if kind == "lib" else name) + "\t" + m["executable"])
')
((${#binary[@]} > 0)) || { echo "netns-tests.sh: no test binaries were built" >&2; exit 1; }

order=()
for name in "${first[@]}"; do
  [[ -n ${binary[$name]:-} ]] && order+=("$name")
done
while read -r name; do
  [[ " ${first[*]} " == *" $name "* ]] || order+=("$name")
done < <(printf '%s\n' "${!binary[@]}" | sort)

logs=target/netns-tests
rm -rf "$logs"
mkdir -p "$logs"
queue="$logs/queue"
: >"$queue"
for name in "${order[@]}"; do
  while read -r test; do
    if ((${#filters[@]})); then
      match=0
      for f in "${filters[@]}"; do [[ "$name::$test" == *"$f"* ]] && match=1; done
      ((match)) || continue
    fi
    printf '%s\t%s\t%s\n' "${binary[$name]}" "$name" "$test" >>"$queue"
  done < <("${binary[$name]}" --list --ignored --format terse 2>/dev/null | sed -n 's/: test$//p')
done
count=$(wc -l <"$queue")
((count > 0)) || { echo "netns-tests.sh: no test matches ${filters[*]}" >&2; exit 1; }

echo "netns-tests.sh: $count tests, $lanes at a time; logs in $logs/"
started=$SECONDS
# xargs hands each line (binary, file, test) to a lane, at most $lanes at once.
tr '\t' '\n' <"$queue" |
  xargs -d '\n' -n 3 -P "$lanes" "$0" --one "$PWD/$logs" || true
echo "netns-tests.sh: $count tests in $((SECONDS - started)) s"

if [[ -s "$logs/failed" ]]; then
  while read -r failed; do
    echo
    echo "==== $failed ===="
    cat "$logs/${failed//::/.}.log"
  done <"$logs/failed"
  echo
  echo "netns-tests.sh: $(wc -l <"$logs/failed") of $count tests failed:" >&2
  sed 's/^/  /' "$logs/failed" >&2
  exit 1
fi
