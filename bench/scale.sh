#!/usr/bin/env bash
# Scale: VPCs and running instances brought up through the EC2 API (boto3), every
# instance proven reachable with real packets, then the lab torn down.
#
#   sudo bench/scale.sh [INSTANCES] [--vpcs N] [--per-vpc M] [--teardown api|down]
#                       [--markdown FILE]
#
# INSTANCES (default 1000) is split into VPCs of 10: `bench/scale.sh 10000` is 1,000 VPCs
# of 10 instances (fewer than 10 make one VPC). --vpcs and --per-vpc set the shape
# instead. VPC v is 10.(v mod 256).0.0/16 with one subnet covering it: past 256 VPCs the
# ranges overlap, as AWS allows between VPCs. Instances are launched with RunInstances
# calls of at most 64 (vpclab's instance limit per call).
#
# Measures:
# * the time from the first API call until every instance is running with its
#   namespace and device (RunInstances answers once they are);
# * the memory of `vpclab serve` (VmRSS and its peak VmHWM) — the forwarder is threads
#   of that process, so this is the forwarder's memory too;
# * reachability: in each VPC the first instance pings every other one (one echo each,
#   2 s deadline, 8 at a time; the pings enter the namespaces with nsenter, which does
#   not copy the mount table as `ip netns exec` does);
# * teardown: with --teardown api (default), TerminateInstances (1,000 ids a call) until
#   no namespace of the lab's instances is left, then stopping the daemon and
#   `vpclab down`; with --teardown down, stopping the daemon and `vpclab down` alone.
#
# Every wait is bounded; everything is removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

instances=1000
vpcs=""
per_vpc=""
teardown=api
markdown=""
usage() {
  echo "usage: $0 [INSTANCES] [--vpcs N] [--per-vpc M] [--teardown api|down] [--markdown FILE]" >&2
  exit 2
}
while (($#)); do
  case "$1" in
    --vpcs) vpcs=$2; shift 2 ;;
    --per-vpc) per_vpc=$2; shift 2 ;;
    --teardown) teardown=$2; shift 2 ;;
    --markdown) markdown=$2; shift 2 ;;
    [0-9]*) instances=$1; shift ;;
    *) usage ;;
  esac
done
[[ $instances =~ ^[0-9]+$ ]] && ((instances >= 1)) || usage
[[ $teardown == api || $teardown == down ]] || usage
if [[ -z $vpcs && -z $per_vpc ]]; then
  per_vpc=$((instances < 10 ? instances : 10))
  vpcs=$(((instances + per_vpc - 1) / per_vpc))
fi
vpcs=${vpcs:-100}
per_vpc=${per_vpc:-10}
((vpcs >= 1 && vpcs <= 65536 && per_vpc >= 1 && per_vpc <= 65000)) ||
  { echo "scale.sh: --vpcs must be 1..65536 and --per-vpc 1..65000" >&2; exit 2; }
total=$((vpcs * per_vpc))
[[ $EUID -eq 0 ]] || { echo "scale.sh: needs root (namespaces)" >&2; exit 1; }
command -v nsenter >/dev/null || { echo "scale.sh: needs nsenter (util-linux)" >&2; exit 1; }
scripts/deps.sh
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked -q -p vpclab
vpclab=$target/release/vpclab
if [[ ! -x target/pyenv/bin/python ]] || ! target/pyenv/bin/python -c 'import boto3' 2>/dev/null; then
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install --quiet --disable-pip-version-check boto3
fi
state=$(mktemp -d /tmp/vpclab-scale.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve=""

# The lab's instance namespaces still there (ids from the launch log).
left() {
  local n=0 id
  while read -r _ id _; do
    if [[ -e /run/netns/$id ]]; then n=$((n + 1)); fi
  done <"$state/ids"
  echo "$n"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
stop_serve() {
  if [[ -n $serve ]]; then
    kill -TERM "$serve" 2>/dev/null || true
    # Bounded: 120 s, then SIGKILL.
    for _ in $(seq 1200); do kill -0 "$serve" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$serve" 2>/dev/null || true
    wait "$serve" 2>/dev/null || true
    serve=""
  fi
}
cleanup() {
  stop_serve
  timeout 300 "$vpclab" --state-dir "$state" down >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

"$vpclab" serve --state-dir "$state" --listen "127.0.0.1:$port" >"$state/serve.log" 2>&1 &
serve=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$serve" 2>/dev/null || { cat "$state/serve.log" >&2; exit 1; }
  sleep 0.1
done

echo "==> launching $vpcs VPCs x $per_vpc instances through the API"
export AWS_ACCESS_KEY_ID=scale AWS_SECRET_ACCESS_KEY=scale AWS_DEFAULT_REGION=us-east-1
python=$PWD/target/pyenv/bin/python
"$python" - "$port" "$vpcs" "$per_vpc" >"$state/launch" <<'PY'
import sys, time
import boto3
from botocore.config import Config

port, vpcs, per_vpc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{port}",
                   config=Config(read_timeout=300, retries={"max_attempts": 1}))
start = time.monotonic()
step = max(1, vpcs // 10)
for v in range(vpcs):
    cidr = f"10.{v % 256}.0.0/16"
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
    left = per_vpc
    while left:
        count = min(left, 64)
        launched = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.micro",
                                     MinCount=count, MaxCount=count, SubnetId=subnet)
        for i in launched["Instances"]:
            print(v, i["InstanceId"], i["PrivateIpAddress"])
        left -= count
    if (v + 1) % step == 0 or v + 1 == vpcs:
        print(f"    {v + 1}/{vpcs} VPCs, {(v + 1) * per_vpc} instances, "
              f"{time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
up = time.monotonic() - start
running = 0
for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}]):
    running += sum(len(r["Instances"]) for r in page["Reservations"])
print(f"up {up:.2f} {running}", file=sys.stderr)
print(f"up {up:.2f} {running}")
PY
grep -v '^up ' "$state/launch" >"$state/ids"
read -r _ up_seconds running < <(grep '^up ' "$state/launch")
mem() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$serve/status"; }
rss=$(mem VmRSS)
hwm=$(mem VmHWM)
fds=$(find "/proc/$serve/fd" -mindepth 1 -maxdepth 1 | wc -l)
namespaces=$(left)

echo "==> reachability: in each VPC the first instance pings the others"
awk 'BEGIN { vpc = -1 } $1 != vpc { vpc = $1; first = $2; next } { print first, $3 }' \
  "$state/ids" >"$state/pairs"
pairs=$(wc -l <"$state/pairs")
ping_start=$(now)
reached=$(timeout $((60 + pairs / 2)) xargs -P 8 -L 1 sh -c \
  'nsenter --net=/run/netns/"$0" ping -c 1 -W 2 -q "$1" >/dev/null 2>&1 && echo ok' \
  <"$state/pairs" | grep -c ok || true)
ping_seconds=$(since "$ping_start")

echo "==> teardown ($teardown)"
terminate_seconds="-"
if [[ $teardown == api ]]; then
  start=$(now)
  "$python" - "$port" "$state/ids" <<'PY'
import sys
import boto3
from botocore.config import Config

ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}",
                   config=Config(read_timeout=300, retries={"max_attempts": 1}))
ids = [line.split()[1] for line in open(sys.argv[2])]
for i in range(0, len(ids), 1000):
    ec2.terminate_instances(InstanceIds=ids[i:i + 1000])
PY
  for _ in $(seq 1200); do (($(left) == 0)) && break; sleep 0.1; done
  terminate_seconds=$(since "$start")
fi
start=$(now)
stop_serve
timeout 300 "$vpclab" --state-dir "$state" down >/dev/null
down_seconds=$(since "$start")
remaining=$(left)
if [[ -e /run/netns/vpclab-internet ]]; then remaining=$((remaining + 1)); fi

table() {
  echo "| measure | value |"
  echo "| --- | ---: |"
  echo "| VPCs x instances | $vpcs x $per_vpc |"
  echo "| instances running (API) / namespaces | $running / $namespaces |"
  echo "| time to bring them up through the API | ${up_seconds} s |"
  echo "| \`vpclab serve\` memory, forwarder included (RSS / peak) | ${rss} MiB / ${hwm} MiB |"
  echo "| \`vpclab serve\` open files | $fds |"
  echo "| instances reached by ping | $reached / $pairs (+ $vpcs that sent the pings), ${ping_seconds} s |"
  echo "| TerminateInstances until no instance namespace is left | ${terminate_seconds} s |"
  echo "| stopping \`vpclab serve\` + \`vpclab down\` | ${down_seconds} s |"
  echo "| namespaces of the lab left | $remaining |"
  echo
  echo "$(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%d)"
}
echo
table
if [[ -n $markdown ]]; then
  table >"$markdown"
fi
((reached == pairs && running == total && namespaces == total && remaining == 0)) ||
  { echo "scale.sh: not every instance was up, reachable and removed" >&2; exit 1; }
