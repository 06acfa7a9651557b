#!/usr/bin/env bash
# Forwarding benchmark: the kernel's own forwarding between namespaces beside vpclab's,
# in one run on one machine, with the same tools and the same MTUs.
#
#   sudo bench/forwarding.sh [--seconds N] [--runs N] [--io "MODE…"] [--ipv6] [--markdown FILE]
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
# vpclab/kernel. vpclab is measured once per packet I/O mode in --io (default: "epoll
# io_uring busy-poll", busy-poll being io_uring with `--busy-poll=20000`: 20 ms, longer
# than the pings' 10 ms spacing, so that the workers never sleep), on a fresh lab each,
# right after the kernel in the same run. With --runs N the whole set runs N times, a
# table each, then the medians of the ratios and their spread (min–max). With --ipv6
# every measure is taken over IPv6 too, right after the IPv4 one, and reported in
# tables of its own: the kernel's namespaces get IPv6 addresses and forwarding, the lab
# is dual-stack, and the NAT path's IPv6 counterpart is the way out through an
# egress-only internet gateway (IPv6 has no NAT: the kernel's router just forwards) to
# the internet's 2001:db8:ffff::1. Everything it makes is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

seconds=5
runs=1
modes="epoll io_uring busy-poll"
markdown=""
ipv6=0
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --io) modes=$2; shift 2 ;;
    --ipv6) ipv6=1; shift ;;
    --markdown) markdown=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--runs N] [--io \"MODE…\"] [--ipv6] [--markdown FILE]" >&2; exit 2 ;;
  esac
done
((runs >= 1 && runs <= 20 && seconds >= 1 && seconds <= 60)) ||
  { echo "forwarding.sh: --runs 1..20, --seconds 1..60" >&2; exit 2; }
for mode in $modes; do
  case "$mode" in epoll | io_uring | busy-poll) ;; *) echo "forwarding.sh: unknown mode $mode" >&2; exit 2 ;; esac
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
# IPv6 beside it (documentation addresses; no duplicate address detection to wait for).
ip -n vpclab-bench-a addr add 2001:db8:10:1::10/64 dev eth0 nodad
ip -n vpclab-bench-b addr add 2001:db8:10:2::10/64 dev eth0 nodad
ip -n vpclab-bench-i addr add 2001:db8:ffff::1/64 dev eth0 nodad
ip -n vpclab-bench-r addr add 2001:db8:10:1::1/64 dev ra nodad
ip -n vpclab-bench-r addr add 2001:db8:10:2::1/64 dev rb nodad
ip -n vpclab-bench-r addr add 2001:db8:ffff::fe/64 dev ri nodad
ip netns exec vpclab-bench-r sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n vpclab-bench-a -6 route add default via 2001:db8:10:1::1
ip -n vpclab-bench-b -6 route add default via 2001:db8:10:2::1
ip -n vpclab-bench-i -6 route add default via 2001:db8:ffff::fe
ip netns exec vpclab-bench-r nft -f - <<'NFT'
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "ri" masquerade
  }
}
NFT

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

# cpu_seconds <pid>: user + system CPU time the process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# measure <a-ns> <b-ns> <b-ip> <nat-client-ns> <internet-ns> <internet-ip>
# [forwarder-pid]: the figures, one line: RTT p50, p99, TCP 1 and 4 streams routed, 1
# and 4 through NAT (or, over IPv6, out to the internet), UDP 64 B, and the share of a
# CPU the forwarder used during the pings (nan without).
measure() {
  local a=$1 b=$2 bip=$3 natc=$4 inet=$5 iip=$6 pid=${7:-} p50 p99 before after started ended
  ip netns exec "$a" ping -c 3 -i 0.2 -q "$bip" >/dev/null
  ip netns exec "$natc" ping -c 3 -i 0.2 -q "$iip" >/dev/null
  [[ -n $pid ]] && before=$(cpu_seconds "$pid") && started=$(date +%s.%N)
  read -r p50 p99 < <(rtt "$a" "$bip")
  local cpu=nan
  if [[ -n $pid ]]; then
    after=$(cpu_seconds "$pid")
    ended=$(date +%s.%N)
    cpu=$(python3 -c "import sys; print(round(100 * (float(sys.argv[2]) - float(sys.argv[1])) / (float(sys.argv[4]) - float(sys.argv[3]))))" "$before" "$after" "$started" "$ended")
  fi
  echo "$p50 $p99 $(tcp "$a" "$b" "$bip" 1) $(tcp "$a" "$b" "$bip" 4)" \
    "$(tcp "$natc" "$inet" "$iip" 1) $(tcp "$natc" "$inet" "$iip" 4) $(udp "$a" "$b" "$bip") $cpu"
}

# ---- vpclab ------------------------------------------------------------------------
# lab_up <mode>: a fresh lab whose daemon uses that packet I/O; sets va, vb, vc.
lab_up() {
  "$vpclab" --state-dir "$state" down >/dev/null 2>&1 || true
  local io=$1 spin=""
  [[ $1 == busy-poll ]] && io=io_uring spin=20000
  env VPCLAB_PACKET_IO="$io" ${spin:+VPCLAB_BUSY_POLL=$spin} \
    "$vpclab" --state-dir "$state" up bench/forwarding-lab.yaml >/dev/null
  grep -q "forwarder:" "$state/daemon.log" 2>/dev/null && grep -m1 "forwarder:" "$state/daemon.log" >&2 || true
  va=$(id_of a)
  vb=$(id_of b)
  vc=$(id_of c)
  vb6=$(ipv6_of b)
}

results=$state/results
results6=$state/results6
: >"$results"
: >"$results6"
for run in $(seq "$runs"); do
  echo "==> run $run/$runs: kernel"
  echo "kernel $run $(measure vpclab-bench-a vpclab-bench-b 10.10.2.10 vpclab-bench-a vpclab-bench-i 198.51.100.1)" >>"$results"
  if ((ipv6)); then
    echo "==> run $run/$runs: kernel, IPv6"
    echo "kernel $run $(measure vpclab-bench-a vpclab-bench-b 2001:db8:10:2::10 vpclab-bench-a vpclab-bench-i 2001:db8:ffff::1)" >>"$results6"
  fi
  for mode in $modes; do
    echo "==> run $run/$runs: vpclab, $mode"
    lab_up "$mode"
    pid=$(cat "$state/daemon.pid")
    echo "$mode $run $(measure "$va" "$vb" 10.20.2.10 "$vc" vpclab-internet 198.51.100.1 "$pid")" >>"$results"
    if ((ipv6)); then
      echo "==> run $run/$runs: vpclab, $mode, IPv6"
      echo "$mode $run $(measure "$va" "$vb" "$vb6" "$vc" vpclab-internet 2001:db8:ffff::1 "$pid")" >>"$results6"
    fi
  done
done

# report <results> <the NAT rows' name>: the tables of one family.
report() {
  python3 - "$1" "$runs" "$seconds" "$2" <<'PY'
import statistics, sys

rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
runs, seconds, nat = int(sys.argv[2]), sys.argv[3], sys.argv[4]
modes = []
for r in rows:
    if r[0] != "kernel" and r[0] not in modes:
        modes.append(r[0])
measures = [
    ("ping RTT p50", "µs", False), ("ping RTT p99", "µs", False),
    ("TCP, 1 stream, subnet to subnet", "Gbit/s", True),
    ("TCP, 4 streams, subnet to subnet", "Gbit/s", True),
    (f"TCP, 1 stream, {nat}", "Gbit/s", True),
    (f"TCP, 4 streams, {nat}", "Gbit/s", True),
    ("UDP 64 B delivered, subnet to subnet", "kpps", True),
    ("forwarder CPU during the pings", "%", False),
]
def value(x):
    try:
        return float(x)
    except ValueError:
        return float("nan")
by = {(r[0], int(r[1])): [value(x) for x in r[2:]] for r in rows}
def ratio(a, k):
    return a / k if k and k == k and a == a else float("nan")
for run in range(1, runs + 1):
    print(f"Run {run} of {runs}:\n")
    print("| measure | kernel | " + " | ".join(f"vpclab {m} | ratio" for m in modes) + " |")
    print("| --- | ---: | " + " | ".join("---: | ---:" for _ in modes) + " |")
    k = by.get(("kernel", run), [float("nan")] * 8)
    for i, (name, unit, _) in enumerate(measures):
        if i == 7:  # The forwarder's own CPU: nothing to compare with.
            cells = ["—"] + [c for m in modes for c in (f"{by.get((m, run), [float('nan')] * 8)[i]:g} {unit}", "")]
        else:
            cells = [f"{k[i]:g} {unit}"]
            for m in modes:
                v = by.get((m, run), [float("nan")] * 8)[i]
                cells += [f"{v:g} {unit}", f"{ratio(v, k[i]):.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
if runs > 1:
    print(f"Over {runs} runs, median (min–max): ratios vpclab/kernel; RTT as µs over the kernel; the forwarder's CPU as is:\n")
    print("| measure | " + " | ".join(modes) + " |")
    print("| --- | " + " | ".join("---:" for _ in modes) + " |")
    for i, (name, unit, _) in enumerate(measures):
        cells = []
        for m in modes:
            if i < 2:
                xs = [by[(m, r)][i] - by[("kernel", r)][i] for r in range(1, runs + 1)]
                fmt = lambda x: f"{x:+.0f} µs"
            elif i == 7:
                xs = [by[(m, r)][i] for r in range(1, runs + 1)]
                fmt = lambda x: f"{x:.0f} %"
            else:
                xs = [ratio(by[(m, r)][i], by[("kernel", r)][i]) for r in range(1, runs + 1)]
                fmt = lambda x: f"{x:.2f}"
            xs = [x for x in xs if x == x]
            cells.append(f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})" if xs else "nan")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
PY
  echo "Kernel: router namespace (ip_forward; nftables masquerade for NAT). RTT: lower is"
  echo "better (a ratio above 1 means vpclab is slower); the rest: higher is better."
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r), iperf $(iperf3 --version | head -1 | awk '{print $2}'), ${seconds} s per run, $(date -u +%Y-%m-%d)"
}
reports() {
  echo "IPv4:"
  echo
  report "$results" "through NAT"
  if ((ipv6)); then
    echo
    echo "IPv6 (the lab's out path: an egress-only internet gateway; the kernel's: forwarding):"
    echo
    report "$results6" "out to the internet"
  fi
}
echo
reports
if [[ -n $markdown ]]; then
  reports >"$markdown"
fi
