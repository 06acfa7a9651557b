//! Workloads and comparison adapters for vpclab's benchmarks.
//!
//! * [`rng::SplitMix64`]: the seeded generator every workload uses, written out here so
//!   a seed means the same table on every machine and every version of every crate.
//! * [`workload`]: BGP-shaped IPv4 and IPv6 route tables and lookup address streams (see
//!   `bench/README.md` for how the tables are made).
//! * [`lpm`]: one trait, [`lpm::LpmTable`], with an adapter for vpclab's table and each
//!   structure it is compared against, so every contender runs the same workload.

pub mod lpm;
pub mod rng;
pub mod workload;
