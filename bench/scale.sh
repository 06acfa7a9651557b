#!/usr/bin/env bash
# Scale: VPCs and running instances brought up through the EC2 API (boto3), then every
# instance proven reachable with real packets.
#
#   sudo bench/scale.sh [--vpcs N] [--per-vpc M] [--markdown FILE]
#
# Defaults: 100 VPCs (10.V.0.0/16, one subnet 10.V.1.0/24 each) with 10 instances each,
# launched with one RunInstances call per VPC. Measures the time from the first API
# call until every instance is running with its namespace and device, and the
# forwarder's memory (the `vpclab serve` process: VmRSS and its peak VmHWM). Then, in
# each VPC, the first instance pings every other one (one echo each, 2 s deadline): an
# instance is reachable when its reply comes back. Everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

vpcs=100
per_vpc=10
markdown=""
while (($#)); do
  case "$1" in
    --vpcs) vpcs=$2; shift 2 ;;
    --per-vpc) per_vpc=$2; shift 2 ;;
    --markdown) markdown=$2; shift 2 ;;
    *) echo "usage: $0 [--vpcs N] [--per-vpc M] [--markdown FILE]" >&2; exit 2 ;;
  esac
done
((vpcs >= 1 && vpcs <= 250 && per_vpc >= 1 && per_vpc <= 250)) ||
  { echo "scale.sh: --vpcs and --per-vpc must be 1..250" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "scale.sh: needs root (namespaces)" >&2; exit 1; }
scripts/deps.sh
cargo build --release --locked -q -p vpclab
vpclab=$PWD/target/release/vpclab
if [[ ! -x target/pyenv/bin/python ]] || ! target/pyenv/bin/python -c 'import boto3' 2>/dev/null; then
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install --quiet --disable-pip-version-check boto3
fi
state=$(mktemp -d /tmp/vpclab-scale.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve=""

cleanup() {
  if [[ -n $serve ]]; then
    kill -TERM "$serve" 2>/dev/null || true
    wait "$serve" 2>/dev/null || true
  fi
  "$vpclab" --state-dir "$state" down >/dev/null 2>&1 || true
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
target/pyenv/bin/python - "$port" "$vpcs" "$per_vpc" >"$state/instances" <<'PY'
import sys, time
import boto3

port, vpcs, per_vpc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{port}")
start = time.monotonic()
for v in range(vpcs):
    vpc = ec2.create_vpc(CidrBlock=f"10.{v}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{v}.1.0/24")["Subnet"]["SubnetId"]
    launched = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.micro",
                                 MinCount=per_vpc, MaxCount=per_vpc, SubnetId=subnet)
    for i in launched["Instances"]:
        print(v, i["InstanceId"], i["PrivateIpAddress"])
    if (v + 1) % 10 == 0 or v + 1 == vpcs:
        print(f"    {v + 1}/{vpcs} VPCs, {(v + 1) * per_vpc} instances, "
              f"{time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
running = sum(len(r["Instances"]) for r in ec2.describe_instances(
    Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"])
print(f"up {time.monotonic() - start:.2f} {running}", file=sys.stderr)
print(f"up {time.monotonic() - start:.2f} {running}")
PY
read -r _ up_seconds running < <(grep '^up ' "$state/instances")
mem() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$serve/status"; }
rss=$(mem VmRSS)
hwm=$(mem VmHWM)
namespaces=$(ip netns list | grep -c '^i-' || true)

echo "==> reachability: in each VPC the first instance pings the others"
grep -v '^up ' "$state/instances" | awk '
  BEGIN { vpc = -1 }
  $1 != vpc { vpc = $1; first = $2; next }
  { print first, $3 }' >"$state/pairs"
pairs=$(wc -l <"$state/pairs")
reached=$(xargs -P 4 -L 1 sh -c 'ip netns exec "$0" ping -c 1 -W 2 -q "$1" >/dev/null 2>&1 && echo ok' \
  <"$state/pairs" | grep -c ok || true)

table() {
  echo "| measure | value |"
  echo "| --- | ---: |"
  echo "| VPCs x instances | $vpcs x $per_vpc |"
  echo "| instances running (API) / namespaces | $running / $namespaces |"
  echo "| time to bring them up through the API | ${up_seconds} s |"
  echo "| forwarder process memory (RSS / peak) | ${rss} MiB / ${hwm} MiB |"
  echo "| instances reached by ping | $reached / $pairs (+ $vpcs that sent the pings) |"
  echo
  echo "$(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%d)"
}
echo
table
if [[ -n $markdown ]]; then
  table >"$markdown"
fi
((reached == pairs && running == vpcs * per_vpc)) || { echo "scale.sh: not every instance is up and reachable" >&2; exit 1; }
