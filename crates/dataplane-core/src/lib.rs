//! vpclab's data plane without I/O: everything a packet meets between being read and
//! being written, testable without root and linking no system-call crate
//! (`vpclab-sys`). `vpclab-dataplane` drives it from TUN devices and re-exports it.
//!
//! * [`wire`]: checked views over IPv4 packets, in-place rewrites with incremental
//!   checksums (finished or partial), ICMP errors.
//! * [`wire6`]: the same for IPv6: the extension-header chain walked once, address
//!   rewrites with incremental checksums, ICMPv6 errors and echo replies.
//! * [`nat64`]: stateless IPv6/IPv4 header translation (RFC 7915) and the addresses of
//!   RFC 6052, for the NAT gateway's NAT64.
//! * [`vnet`]: the virtio-net header of TUN offloads (partial checksums, GSO).
//! * [`snapshot`]: the model compiled into read-only tables (a route-table trie per
//!   table, who holds which address), swapped atomically on every change.
//! * [`pipeline`]: the per-packet decision, a pure function of packet, port and
//!   snapshot — testable with golden packets and no root; [`pipeline6`] for IPv6.
//! * [`nat`]: the NAT gateways' connection tables (`crates/conntrack`), owned by the
//!   forwarder thread.
//! * [`counters`]: packets and drops by reason.
//! * [`services`]: what the VPC answers itself: instance metadata and Amazon DNS.
//! * [`steer`]: which worker owns a packet's flow.
//! * [`engine`]: a worker's per-packet work over the pipeline, with no I/O of its own:
//!   what it writes goes through a [`engine::Device`] (a TUN queue, or in memory).
//! * [`handoff`]: a packet read by one worker passed to the worker that owns its flow.
//! * [`capture`], [`flowlog`], [`trace`]: seeing packets — a capture ring, flow-log
//!   records, synthetic probes and the steps a packet took.

#![forbid(unsafe_code)]

mod ascending;
pub mod capture;
pub mod counters;
pub mod engine;
pub mod flowlog;
pub mod handoff;
mod kept;
pub mod nat;
pub mod nat64;
pub mod pipeline;
pub mod pipeline6;
pub mod security;
pub mod services;
pub mod snapshot;
pub mod steer;
pub mod trace;
pub mod vnet;
pub mod wire;
pub mod wire6;

pub use counters::{CounterSnapshot, Counters, DropReason, GatewayCounters, PortCounters};
pub use nat::Tracking;
pub use pipeline::{REPLY_BUFFER, Verdict};
pub use snapshot::{INTERNET, Port, PortEntry, PortMap, Snapshot, compile, compile_prepared};
