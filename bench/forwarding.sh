#!/usr/bin/env bash
# Forwarding benchmark: the kernel's own routing between namespaces beside vpclab's,
# in one run on one machine, with the same tools.
#
#   sudo bench/forwarding.sh [--seconds N]
#
# Kernel: namespaces vpclab-bench-a and -b joined through a router namespace
# vpclab-bench-r (ip_forward=1) by veth pairs (default MTU 1500, with the kernel's
# TSO/GSO/GRO). vpclab: bench/forwarding-lab.yaml, two instances in two subnets of one
# VPC (TUN eth0, MTU 9001), routed by the local route.
#
# Measures ping RTT (500 pings, 10 ms apart: p50 and p99), and iperf3 TCP throughput
# with 1 and 4 streams; prints a table with the ratio vpclab/kernel. Everything it
# makes is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "forwarding.sh: needs root (namespaces)" >&2; exit 1; }
scripts/deps.sh
cargo build --release --locked -q -p vpclab
vpclab=target/release/vpclab
state=$(mktemp -d /tmp/vpclab-bench-state.XXXXXX)

cleanup() {
  for ns in vpclab-bench-a vpclab-bench-r vpclab-bench-b; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  "$vpclab" --state-dir "$state" down >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

# ---- kernel baseline ---------------------------------------------------------------
for ns in vpclab-bench-a vpclab-bench-r vpclab-bench-b; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip -n vpclab-bench-a link add eth0 type veth peer name ra netns vpclab-bench-r
ip -n vpclab-bench-b link add eth0 type veth peer name rb netns vpclab-bench-r
ip -n vpclab-bench-a addr add 10.10.1.10/24 dev eth0
ip -n vpclab-bench-b addr add 10.10.2.10/24 dev eth0
ip -n vpclab-bench-r addr add 10.10.1.1/24 dev ra
ip -n vpclab-bench-r addr add 10.10.2.1/24 dev rb
for pair in "vpclab-bench-a eth0" "vpclab-bench-b eth0" "vpclab-bench-r ra" "vpclab-bench-r rb"; do
  set -- $pair
  ip -n "$1" link set "$2" up
done
ip netns exec vpclab-bench-r sysctl -qw net.ipv4.ip_forward=1
ip -n vpclab-bench-a route add default via 10.10.1.1
ip -n vpclab-bench-b route add default via 10.10.2.1

# ---- vpclab ------------------------------------------------------------------------
"$vpclab" --state-dir "$state" up bench/forwarding-lab.yaml >/dev/null
id_of() {
  "$vpclab" --state-dir "$state" status --json | python3 -c \
    'import json,sys; m=json.load(sys.stdin)["model"]["instances"]; print(next(i["id"] for i in m.values() if i["tags"].get("Name")==sys.argv[1]))' "$1"
}
va=$(id_of a)
vb=$(id_of b)

# ---- measurements ------------------------------------------------------------------
# rtt <client-ns> <server-ip>: "p50 p99" in microseconds
rtt() {
  ip netns exec "$1" ping -c 500 -i 0.01 -W 1 "$2" | python3 -c '
import re, sys
t = sorted(float(m.group(1)) * 1000 for m in re.finditer(r"time=([0-9.]+) ms", sys.stdin.read()))
if not t: print("nan nan"); sys.exit()
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print(f"{q(0.50):.0f} {q(0.99):.0f}")'
}
# tcp <client-ns> <server-ns> <server-ip> <streams>: Gbit/s received
tcp() {
  ip netns exec "$2" iperf3 -s -B "$3" >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 50); do
    ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$3/5201" 2>/dev/null && break
    sleep 0.1
  done
  # The readiness probe above is a connection iperf3's server has to give up on first;
  # a client that meets it busy ("server is busy") fails fast: try again, three times.
  local result=""
  for _ in 1 2 3; do
    result=$(ip netns exec "$1" iperf3 -c "$3" -t "$seconds" -P "$4" -J 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(round(d["end"]["sum_received"]["bits_per_second"] / 1e9, 2))
except (ValueError, KeyError):
    pass' || true)
    [[ -n $result ]] && break
    sleep 0.5
  done
  echo "${result:-nan}"
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}

echo "==> warming up"
ip netns exec vpclab-bench-a ping -c 3 -i 0.2 -q 10.10.2.10 >/dev/null
ip netns exec "$va" ping -c 3 -i 0.2 -q 10.20.2.10 >/dev/null

echo "==> ping RTT (500 pings each)"
read -r k50 k99 < <(rtt vpclab-bench-a 10.10.2.10)
read -r v50 v99 < <(rtt "$va" 10.20.2.10)
echo "==> iperf3 TCP, ${seconds}s each"
k1=$(tcp vpclab-bench-a vpclab-bench-b 10.10.2.10 1)
v1=$(tcp "$va" "$vb" 10.20.2.10 1)
k4=$(tcp vpclab-bench-a vpclab-bench-b 10.10.2.10 4)
v4=$(tcp "$va" "$vb" 10.20.2.10 4)

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}')" "$1" "$2"; }
echo
echo "| measure | kernel router | vpclab | vpclab/kernel |"
echo "| --- | ---: | ---: | ---: |"
echo "| ping RTT p50 | ${k50} µs | ${v50} µs | $(ratio "$v50" "$k50") |"
echo "| ping RTT p99 | ${k99} µs | ${v99} µs | $(ratio "$v99" "$k99") |"
echo "| TCP, 1 stream | ${k1} Gbit/s | ${v1} Gbit/s | $(ratio "$v1" "$k1") |"
echo "| TCP, 4 streams | ${k4} Gbit/s | ${v4} Gbit/s | $(ratio "$v4" "$k4") |"
echo
echo "(RTT: lower is better, so a ratio above 1 means vpclab is slower; throughput:"
echo " higher is better.) $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%d)"
