#!/usr/bin/env bash
# vpclab's main job: bring up a sample lab, show what reaches what with real packets,
# and take it down again.
#
#   sudo scripts/lab.sh          # up, check, down
#   sudo scripts/lab.sh --keep   # leave the lab up to explore (`vpclab down` ends it)
#
# Part 1 is examples/two-tier.yaml: VPC "lab" with a public subnet (route to an
# internet gateway) and a private one, a second VPC "isolated", and four instances.
# Part 2 is examples/nat-gateway.yaml: the private subnet reaches the internet through
# a NAT gateway (the seed tutorial's Part 5). Part 3 is examples/peering.yaml (Part 6:
# peering is not transitive). Part 4 is examples/gateway-endpoint.yaml (the tutorial's
# VPC endpoints: a private subnet reaches S3 without any internet path). With --keep,
# part 4 is left up.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
  esac
done
if [[ $EUID -ne 0 ]]; then
  echo "lab.sh: vpclab creates network namespaces; run it with sudo" >&2
  exit 1
fi

scripts/deps.sh
echo "==> building vpclab (release)"
cargo build --release --locked -q -p vpclab
vpclab=target/release/vpclab
state=${VPCLAB_STATE:-/var/lib/vpclab}
v() { "$vpclab" --state-dir "$state" "$@"; }
# Each part's picture (vpclab graph, SVG through Graphviz), for where a terminal can't
# show one.
pictures=target/lab
mkdir -p "$pictures"
picture() { # part-name
  if v graph -o "$pictures/$1.svg" 2>/dev/null; then
    echo "picture of this lab: $pictures/$1.svg"
  fi
}

trap 'v down >/dev/null 2>&1 || true' EXIT
echo "==> vpclab up examples/two-tier.yaml"
v up examples/two-tier.yaml

# A server inside web, on its private address, for the internet to reach.
web=$(v status --json | python3 -c 'import json,sys; m=json.load(sys.stdin)["model"]["instances"]; print(next(i["id"] for i in m.values() if i["tags"].get("Name")=="web"))')
ip netns exec "$web" "$vpclab" internet-host --listen 10.0.1.10:8080 >/dev/null 2>&1 &
disown
for _ in $(seq 50); do
  ip netns exec "$web" bash -c 'exec 3<>/dev/tcp/10.0.1.10/8080' 2>/dev/null && break
  sleep 0.1
done

failures=0
printf '\n%-44s %-9s %-9s %s\n' "CHECK" "EXPECTED" "GOT" "WHY"
check() { # description expected(yes|no) why command...
  local what=$1 expected=$2 why=$3; shift 3
  local got=no
  if "$@" >/dev/null 2>&1; then got=yes; fi
  local mark="ok"
  if [[ $got != "$expected" ]]; then mark="WRONG"; failures=$((failures + 1)); fi
  printf '%-44s %-9s %-9s %s%s\n' "$what" "$expected" "$got" "$why" "$([[ $mark == ok ]] || echo "  <-- $mark")"
}
ping1() { v exec "$1" -- ping -c 1 -W 1 "$2"; }

check "app (private) -> web (public subnet)" yes "local route 10.0.0.0/16" ping1 app 10.0.1.10
check "web -> app" yes "local route" ping1 web 10.0.2.4
check "worker -> web (same subnet)" yes "same subnet, no routing" ping1 worker 10.0.1.10
check "web -> internet 198.51.100.1" yes "0.0.0.0/0 -> igw, has public IP" ping1 web 198.51.100.1
check "worker -> internet" no "route to igw but no public IP" ping1 worker 198.51.100.1
check "app -> internet" no "private subnet: no route" ping1 app 198.51.100.1
check "loner (VPC isolated) -> web" no "another VPC, no peering" ping1 loner 10.0.1.10
check "internet -> web:8080 via 203.0.113.10" yes "1:1 NAT at the gateway" \
  ip netns exec vpclab-internet curl -s -m 3 http://203.0.113.10:8080/
check "web -> metadata service: its instance id" yes "169.254.169.254, answered by the VPC" \
  v exec web -- curl -sf -m 3 http://169.254.169.254/latest/meta-data/instance-id
check "app resolves ip-10-0-1-10.ec2.internal" yes "Amazon DNS at the VPC's base + 2" \
  v exec app -- getent hosts ip-10-0-1-10.ec2.internal
check "loner resolves ip-10-0-1-10.ec2.internal" no "private names stay in their VPC" \
  v exec loner -- getent hosts ip-10-0-1-10.ec2.internal

seen=$(v exec web -- curl -s -m 3 http://198.51.100.1/ || true)
echo
echo "web asks check-ip who it is: ${seen:-<no answer>} (its Elastic IP; inside, web only knows 10.0.1.10)"
[[ $seen == 203.0.113.10 ]] || failures=$((failures + 1))

echo
v status | tail -n 2
picture part1-two-tier

echo
echo "==> vpclab down; vpclab up examples/nat-gateway.yaml"
v down
v up examples/nat-gateway.yaml
printf '\n%-44s %-9s %-9s %s\n' "CHECK" "EXPECTED" "GOT" "WHY"
check "app (private) -> internet" yes "0.0.0.0/0 -> NAT gateway -> igw" ping1 app 198.51.100.1
check "internet -> the NAT's Elastic IP" no "a NAT gateway lets nothing in" \
  ip netns exec vpclab-internet ping -c 1 -W 1 203.0.113.10
seen=$(v exec app -- curl -s -m 3 http://198.51.100.1/ || true)
echo
echo "app asks check-ip who it is: ${seen:-<no answer>} (the NAT gateway's Elastic IP)"
[[ $seen == 203.0.113.10 ]] || failures=$((failures + 1))
echo
v status | tail -n 3
picture part2-nat-gateway

echo
echo "==> vpclab down; vpclab up examples/peering.yaml"
v down
v up examples/peering.yaml
printf '\n%-44s %-9s %-9s %s\n' "CHECK" "EXPECTED" "GOT" "WHY"
check "a -> b over the peering a-b" yes "10.2.0.0/16 -> pcx, SG allows 10/8" ping1 a 10.2.1.10
check "b -> c over the peering b-c" yes "10.3.0.0/16 -> pcx" ping1 b 10.3.1.10
check "a -> c through b" no "peering is not transitive" ping1 a 10.3.1.10
check "b -> internet through a's gateway" no "no edge-to-edge routing" \
  v exec b -- curl -s -m 2 http://198.51.100.1/
echo
v status | grep -E "peering_transit" || true
picture part3-peering

echo
echo "==> vpclab down; vpclab up examples/gateway-endpoint.yaml"
v down
v up examples/gateway-endpoint.yaml
printf '\n%-44s %-9s %-9s %s\n' "CHECK" "EXPECTED" "GOT" "WHY"
check "app (private) -> S3 192.0.2.1" yes "pl-63a5400a -> vpce, main table" \
  v exec app -- curl -s -m 3 http://192.0.2.1/
check "app (private) -> internet" no "no igw or NAT route" ping1 app 198.51.100.1
seen=$(v exec app -- curl -s -m 3 http://192.0.2.1/ || true)
echo
echo "S3 sees app as: ${seen:-<no answer>} (its private address: the endpoint translates nothing)"
[[ $seen == 10.4.2.10 ]] || failures=$((failures + 1))
seen=$(v exec web -- curl -s -m 3 http://192.0.2.1/ || true)
echo "S3 sees web as: ${seen:-<no answer>} (its public address: web's table has no endpoint route)"
[[ $seen == 203.0.113.* ]] || failures=$((failures + 1))
picture part4-gateway-endpoint

if ((keep)); then
  trap - EXIT
  echo
  echo "the gateway-endpoint lab is still up. Try:"
  echo "  sudo $vpclab --state-dir $state exec app -- curl -s http://192.0.2.1/"
  echo "  aws --endpoint-url http://127.0.0.1:4566 ec2 describe-vpc-endpoints"
  echo "  sudo $vpclab --state-dir $state exec app -- bash"
  echo "  sudo $vpclab --state-dir $state status"
  echo "  sudo $vpclab --state-dir $state down"
else
  echo
  echo "==> vpclab down"
  v down
  trap - EXIT
fi

if ((failures)); then
  echo "lab.sh: $failures check(s) did not behave as AWS would" >&2
  exit 1
fi
echo
echo "every check behaved as AWS would"
echo "next: the hands-on labs, part by part with the aws CLI, in docs/labs/README.md"
