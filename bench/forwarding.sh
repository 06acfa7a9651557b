#!/usr/bin/env bash
# Forwarding benchmark: the kernel's own forwarding between namespaces beside vpclab's,
# in one run on one machine, with the same tools and the same MTUs.
#
#   sudo bench/forwarding.sh [--seconds N] [--markdown FILE]
#
# Kernel: namespaces vpclab-bench-a and -b joined through a router namespace
# vpclab-bench-r (ip_forward=1) by veth pairs with MTU 9001, like a VPC's; the router
# also reaches vpclab-bench-i ("the internet", 198.51.100.1) over a 1500-byte veth,
# with nftables masquerading everything that leaves that way (the NAT case).
# vpclab: bench/forwarding-lab.yaml — instances a and b in two subnets of one VPC
# (TUN eth0, MTU 9001) routed by the local route, and c in a private subnet going out
# through a NAT gateway to the emulated internet's 198.51.100.1.
#
# Measures ping RTT (500 pings, 10 ms apart: p50 and p99), iperf3 TCP throughput with
# 1 and 4 streams on the routed and the NAT path, and UDP 64-byte packets delivered per
# second (iperf3 -u -l 64 -b 0) on the routed path; prints a table with the ratio
# vpclab/kernel. Everything it makes is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5
markdown=""
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --markdown) markdown=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--markdown FILE]" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "forwarding.sh: needs root (namespaces)" >&2; exit 1; }
scripts/deps.sh
cargo build --release --locked -q -p vpclab
vpclab=target/release/vpclab
state=$(mktemp -d /tmp/vpclab-bench-state.XXXXXX)
kernel_ns=(vpclab-bench-a vpclab-bench-r vpclab-bench-b vpclab-bench-i)

cleanup() {
  for ns in "${kernel_ns[@]}"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  "$vpclab" --state-dir "$state" down >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

# ---- kernel baseline ---------------------------------------------------------------
for ns in "${kernel_ns[@]}"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
veth() { # veth <ns> <dev> <peer-ns> <peer-dev> <mtu>
  ip -n "$1" link add "$2" mtu "$5" type veth peer name "$4" mtu "$5" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}
veth vpclab-bench-a eth0 vpclab-bench-r ra 9001
veth vpclab-bench-b eth0 vpclab-bench-r rb 9001
veth vpclab-bench-i eth0 vpclab-bench-r ri 1500
ip -n vpclab-bench-a addr add 10.10.1.10/24 dev eth0
ip -n vpclab-bench-b addr add 10.10.2.10/24 dev eth0
ip -n vpclab-bench-i addr add 198.51.100.1/24 dev eth0
ip -n vpclab-bench-r addr add 10.10.1.1/24 dev ra
ip -n vpclab-bench-r addr add 10.10.2.1/24 dev rb
ip -n vpclab-bench-r addr add 198.51.100.254/24 dev ri
ip netns exec vpclab-bench-r sysctl -qw net.ipv4.ip_forward=1
ip -n vpclab-bench-a route add default via 10.10.1.1
ip -n vpclab-bench-b route add default via 10.10.2.1
ip netns exec vpclab-bench-r nft -f - <<'NFT'
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "ri" masquerade
  }
}
NFT

# ---- vpclab ------------------------------------------------------------------------
"$vpclab" --state-dir "$state" up bench/forwarding-lab.yaml >/dev/null
id_of() {
  "$vpclab" --state-dir "$state" status --json | python3 -c \
    'import json,sys; m=json.load(sys.stdin)["model"]["instances"]; print(next(i["id"] for i in m.values() if i["tags"].get("Name")==sys.argv[1]))' "$1"
}
va=$(id_of a)
vb=$(id_of b)
vc=$(id_of c)

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
# iperf <client-ns> <server-ns> <server-ip> <python expression over d> <iperf3 args…>:
# runs an iperf3 server and client, prints the expression evaluated on the client's JSON.
iperf() {
  local client=$1 server_ns=$2 ip=$3 expr=$4
  shift 4
  ip netns exec "$server_ns" iperf3 -s -B "$ip" >/dev/null 2>&1 &
  local server=$!
  for _ in $(seq 50); do
    ip netns exec "$client" bash -c "exec 3<>/dev/tcp/$ip/5201" 2>/dev/null && break
    sleep 0.1
  done
  # The readiness probe above is a connection iperf3's server has to give up on first;
  # a client that meets it busy ("server is busy") fails fast: try again, three times.
  local result=""
  for _ in 1 2 3; do
    result=$(ip netns exec "$client" iperf3 -c "$ip" -t "$seconds" -J "$@" 2>/dev/null |
      python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except (ValueError, KeyError, ZeroDivisionError):
    pass' "$expr" || true)
    [[ -n $result ]] && break
    sleep 0.5
  done
  echo "${result:-nan}"
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
gbits='round(d["end"]["sum_received"]["bits_per_second"] / 1e9, 2)'
kpps='round((d["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]) / d["end"]["sum"]["seconds"] / 1e3)'
tcp() { iperf "$1" "$2" "$3" "$gbits" -P "$4"; }
udp() { iperf "$1" "$2" "$3" "$kpps" -u -l 64 -b 0; }

echo "==> warming up"
ip netns exec vpclab-bench-a ping -c 3 -i 0.2 -q 10.10.2.10 >/dev/null
ip netns exec vpclab-bench-a ping -c 3 -i 0.2 -q 198.51.100.1 >/dev/null
ip netns exec "$va" ping -c 3 -i 0.2 -q 10.20.2.10 >/dev/null
ip netns exec "$vc" ping -c 3 -i 0.2 -q 198.51.100.1 >/dev/null

echo "==> ping RTT (500 pings each)"
read -r k50 k99 < <(rtt vpclab-bench-a 10.10.2.10)
read -r v50 v99 < <(rtt "$va" 10.20.2.10)
echo "==> iperf3, ${seconds}s each"
k1=$(tcp vpclab-bench-a vpclab-bench-b 10.10.2.10 1)
v1=$(tcp "$va" "$vb" 10.20.2.10 1)
k4=$(tcp vpclab-bench-a vpclab-bench-b 10.10.2.10 4)
v4=$(tcp "$va" "$vb" 10.20.2.10 4)
kn1=$(tcp vpclab-bench-a vpclab-bench-i 198.51.100.1 1)
vn1=$(tcp "$vc" vpclab-internet 198.51.100.1 1)
kn4=$(tcp vpclab-bench-a vpclab-bench-i 198.51.100.1 4)
vn4=$(tcp "$vc" vpclab-internet 198.51.100.1 4)
ku=$(udp vpclab-bench-a vpclab-bench-b 10.10.2.10)
vu=$(udp "$va" "$vb" 10.20.2.10)

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}')" "$1" "$2" 2>/dev/null || echo nan; }
table() {
  echo "| measure | kernel | vpclab | vpclab/kernel |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| ping RTT p50 | ${k50} µs | ${v50} µs | $(ratio "$v50" "$k50") |"
  echo "| ping RTT p99 | ${k99} µs | ${v99} µs | $(ratio "$v99" "$k99") |"
  echo "| TCP, 1 stream, subnet to subnet | ${k1} Gbit/s | ${v1} Gbit/s | $(ratio "$v1" "$k1") |"
  echo "| TCP, 4 streams, subnet to subnet | ${k4} Gbit/s | ${v4} Gbit/s | $(ratio "$v4" "$k4") |"
  echo "| TCP, 1 stream, through NAT | ${kn1} Gbit/s | ${vn1} Gbit/s | $(ratio "$vn1" "$kn1") |"
  echo "| TCP, 4 streams, through NAT | ${kn4} Gbit/s | ${vn4} Gbit/s | $(ratio "$vn4" "$kn4") |"
  echo "| UDP 64 B delivered, subnet to subnet | ${ku} kpps | ${vu} kpps | $(ratio "$vu" "$ku") |"
  echo
  echo "Kernel: router namespace (ip_forward; nftables masquerade for NAT). RTT: lower is"
  echo "better (a ratio above 1 means vpclab is slower); the rest: higher is better."
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r), iperf $(iperf3 --version | head -1 | awk '{print $2}'), ${seconds} s per run, $(date -u +%Y-%m-%d)"
}
echo
table
if [[ -n $markdown ]]; then
  table >"$markdown"
fi
