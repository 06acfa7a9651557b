//! The only crate in vpclab allowed to contain `unsafe` code.
//!
//! Everything that needs it lives here behind a safe API, each block with a
//! `// SAFETY:` comment (enforced by `clippy::undocumented_unsafe_blocks`):
//!
//! * [`alloc`]: a counting global allocator, so tests and benchmarks can prove that the
//!   hot path allocates nothing and measure how much memory a structure holds.
//! * [`netns`]: named network namespaces (through iproute2) and running code inside one.
//! * [`rtnl`]: route netlink, to set a device's MTU, address, default route and
//!   qdisc inside a namespace without starting `ip` and `tc`.
//! * [`tun`]: TUN devices opened inside a namespace by a process that stays outside.
//! * [`uring`]: the forwarder's packet I/O on io_uring: multishot reads into provided
//!   buffers, writes from the same buffers, many packets per system call.
//! * [`bpf`]: loading the eBPF program that steers a TUN device's packets to the queue
//!   of the worker that owns their flow.
//! * [`epoll`]: the forwarder's readiness loop (where io_uring is not available) and
//!   its wake-up eventfd.
//! * [`process`]: a helper process's tie to the daemon that started it, and signals to
//!   the daemons vpclab runs (strongSwan, BIRD).
//!
//! Safety rules the API keeps: nothing here touches the root namespace's links,
//! addresses, routes or firewall; a namespace switch happens only on a thread made for
//! it; every fd is close-on-exec.

#![allow(unsafe_code)] // The workspace denies it; this crate is the exception.

pub mod alloc;
pub mod bpf;
pub mod epoll;
pub mod netns;
pub mod process;
pub mod rtnl;
pub mod tun;
pub mod uring;
