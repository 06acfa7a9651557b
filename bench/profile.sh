#!/usr/bin/env bash
# Where the time goes: a system-wide CPU profile while vpclab forwards UDP 64-byte
# packets, then one TCP stream, between instances a and b of bench/forwarding-lab.yaml.
#
#   sudo bench/profile.sh [--seconds N] [--io epoll|io_uring] [--ipv6] [--out DIR]
#
# perf samples every CPU on the cpu-clock (software) event — virtual machines like this
# project's have no hardware counters — with call graphs, for the length of one iperf3
# run. Prints, per workload, how the CPUs' time splits between the threads (sender,
# receiver, forwarder workers, softirq, idle) and the forwarder threads' top symbols,
# kernel and user space together. perf.data files stay in DIR (default: a temporary
# directory, removed on exit) for `perf report -i`. With --ipv6 the same over IPv6 (the
# lab is dual-stack: b's IPv6 address). Everything else it makes is removed on exit.
set -euo pipefail
# (The report pipelines end in `head`, which may close them early: `|| true` there.)
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

seconds=10
mode=io_uring
out=""
ipv6=0
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --io) mode=$2; shift 2 ;;
    --ipv6) ipv6=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--io epoll|io_uring] [--ipv6] [--out DIR]" >&2; exit 2 ;;
  esac
done
((seconds >= 1 && seconds <= 120)) || { echo "profile.sh: --seconds 1..120" >&2; exit 2; }
case "$mode" in epoll | io_uring) ;; *) echo "profile.sh: --io epoll or io_uring" >&2; exit 2 ;; esac
[[ $EUID -eq 0 ]] || { echo "profile.sh: needs root (namespaces, perf)" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile.sh: needs perf (Debian's linux-perf)" >&2; exit 1; }
scripts/deps.sh
cargo build --release --locked -q -p vpclab
vpclab=target/release/vpclab
state=$(mktemp -d /tmp/vpclab-profile.XXXXXX)
keep=true
if [[ -z $out ]]; then
  out=$state/perf
  keep=false
fi
mkdir -p "$out"
server=""

cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  "$vpclab" --state-dir "$state" down >/dev/null 2>&1 || true
  rm -rf "$state" # with --out, the perf data lie outside it
}
trap cleanup EXIT

VPCLAB_PACKET_IO=$mode "$vpclab" --state-dir "$state" up bench/forwarding-lab.yaml >/dev/null
a=$(id_of a)
b=$(id_of b)
to=10.20.2.10
family=IPv4
if ((ipv6)); then
  to=$(ipv6_of b)
  family=IPv6
fi
ip netns exec "$a" ping -c 3 -i 0.2 -q "$to" >/dev/null
ip netns exec "$b" iperf3 -s -B "$to" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do
  ip netns exec "$a" bash -c "exec 3<>/dev/tcp/$to/5201" 2>/dev/null && break
  sleep 0.1
done
sleep 0.5 # the server gives up on the probe above before it takes a client

# profile <name> <iperf3 client args…>: one run under perf, then the two reports.
profile() {
  local name=$1
  shift
  echo "==> $name ($mode, $family, ${seconds} s)"
  perf record -q -e cpu-clock -F 2000 -a -g -o "$out/$name.data" -- \
    ip netns exec "$a" iperf3 -c "$to" -t "$seconds" "$@" >"$out/$name.iperf" 2>&1 || true
  grep -E "receiver|sender" "$out/$name.iperf" | tail -2 || true
  echo
  echo "CPU time by thread (both CPUs; 'swapper' is idle):"
  perf report -i "$out/$name.data" --no-children --sort comm --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -8 || true
  echo
  echo "The forwarder's threads, by symbol (kernel and user):"
  perf report -i "$out/$name.data" --no-children --sort sym --stdio -g none \
    --comms "$(printf 'vpclab-fwd-%s,' 0 1 2 3)vpclab-services" 2>/dev/null |
    grep -E '^ +[0-9]' | head -15 || true
  echo
}
profile udp64 -u -l 64 -b 0
profile tcp1 -P 1
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r), $(date -u +%Y-%m-%d)"
$keep && echo "perf data: $out/{udp64,tcp1}.data"
