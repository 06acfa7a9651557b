//! vpclab's data plane on real devices: the forwarder's worker threads that drive the
//! I/O-free core (`vpclab-dataplane-core`, re-exported here whole) from TUN devices,
//! and the host the model is made real on.
//!
//! * [`worker`]: the forwarder's worker threads: epoll or io_uring over multiqueue TUN
//!   devices, each running the core's [`engine`] on what it reads.
//! * [`bpf`]: the queue-steering eBPF program that puts a flow on its owner's queue.
//! * [`host`]: the model made real: namespaces, devices, the emulated internet.
//! * [`tunnels`], [`onprem`]: Site-to-Site VPN tunnels and the on-premises sites they
//!   reach.
//! * Re-exported from the core: [`wire`], [`wire6`], [`nat64`], [`vnet`], [`snapshot`],
//!   [`pipeline`], [`pipeline6`], [`nat`], [`counters`], [`services`], [`steer`],
//!   [`engine`], [`capture`], [`flowlog`], [`trace`], [`security`].

#![forbid(unsafe_code)]

pub mod bpf;
pub mod host;
pub mod onprem;
pub mod tunnels;
pub mod worker;

pub use vpclab_dataplane_core::{
    CounterSnapshot, Counters, DropReason, GatewayCounters, INTERNET, Port, PortCounters,
    PortEntry, PortMap, REPLY_BUFFER, Snapshot, Tracking, Verdict, capture, compile,
    compile_prepared, counters, engine, flowlog, handoff, nat, nat64, pipeline, pipeline6,
    security, services, snapshot, steer, trace, vnet, wire, wire6,
};
