#!/usr/bin/env bash
# vpclab's main job: build it and show what it does.
#
#   sudo scripts/lab.sh
#
# Today vpclab has its route-table engine (crates/lpm): this compiles the seed lab's
# route tables, shows which target each destination takes, and prints how fast and how
# small the compiled tables are next to other LPM crates. As the data plane lands, this
# grows into bringing up the seed lab with real namespaces and packets.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $EUID -eq 0 ]]; then
  scripts/deps.sh
fi

echo "==> building (release)"
cargo build --release --locked -p vpclab-lpm -p vpclab-bench --examples --bins

echo
echo "==> the seed lab's route tables, compiled and looked up"
cargo run --release --locked -q -p vpclab-lpm --example route_tables

echo
echo "==> memory per prefix on BGP-shaped tables (vpclab-lpm against other crates)"
cargo run --release --locked -q -p vpclab-bench --bin lpm-report
