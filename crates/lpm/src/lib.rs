//! Compiled longest-prefix-match tables for vpclab's route tables.
//!
//! A VPC route table is written rarely (by the control plane) and read for every packet
//! (by the data plane). This crate splits the two: a [`Builder`] collects
//! `(prefix, value)` pairs, and [`Builder::build`] freezes them into an [`Lpm`], a
//! [Poptrie](https://doi.org/10.1145/2785956.2787474) with a direct-pointing root — flat
//! arrays indexed by `u32`, no pointers — that answers lookups without allocating.
//! Values are small handles (`u32` up to [`MAX_VALUE`]) into a next-hop array the caller
//! owns. [`IpLpm`] holds one table per address family, as a route table holding both
//! IPv4 and IPv6 routes needs.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use vpclab_lpm::Lpm4;
//!
//! let targets = ["local", "igw-1", "nat-1"];
//! let table = Lpm4::from_routes([
//!     ("10.0.0.0/16".parse().unwrap(), 0),
//!     ("0.0.0.0/0".parse().unwrap(), 1),
//!     ("10.0.128.0/17".parse().unwrap(), 2),
//! ])
//! .unwrap();
//! let hop = |a: Ipv4Addr| table.lookup(a).map(|v| targets[v as usize]);
//! assert_eq!(hop(Ipv4Addr::new(10, 0, 1, 9)), Some("local"));
//! assert_eq!(hop(Ipv4Addr::new(10, 0, 200, 1)), Some("nat-1"));
//! assert_eq!(hop(Ipv4Addr::new(198, 51, 100, 1)), Some("igw-1"));
//! ```
//!
//! # Semantics
//!
//! * Host bits of a prefix are ignored: `10.0.0.7/8` is `10.0.0.0/8`.
//! * Inserting an equal prefix twice: the last write wins (see [`Builder`]).
//! * `/0` matches everything; `/32` (`/128`) matches one address.
//!
//! # Cost
//!
//! | operation | cost |
//! | --- | --- |
//! | build | `O(n log n)` sort, plus `O(2^d)` for the root table and `O(64)` per node |
//! | lookup | 1 root load, then 1 node load + 2 popcounts per 6 bits past `d` |
//! | memory | `4 · 2^d` bytes + 24 bytes per node + 4 bytes per leaf run |
//!
//! `d`, the root table's width, is 12 bits for tables of up to 16,384 prefixes and 18
//! (IPv4) or 16 (IPv6) above; [`Builder::direct_bits`] overrides it.
//! `docs/performance.md` in the repository has measured numbers.

#![forbid(unsafe_code)]

mod addr;
mod dual;
pub mod reference;
mod trie;

pub use addr::{Address, Key};
pub use dual::{IpBuilder, IpLpm};
pub use trie::{Builder, Lpm, MAX_DIRECT_BITS, MAX_VALUE, ValueOutOfRange};

/// A table of IPv4 routes.
pub type Lpm4 = Lpm<std::net::Ipv4Addr>;
/// A table of IPv6 routes.
pub type Lpm6 = Lpm<std::net::Ipv6Addr>;
