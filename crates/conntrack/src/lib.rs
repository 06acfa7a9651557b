//! Connection tracking and NAT-gateway translation for vpclab.
//!
//! A [`Nat`] is the state of one NAT gateway: a bounded table of flows from the inside,
//! each with the source port it was given on the gateway's public address. It does no
//! I/O and reads no clock — every call takes `now` in milliseconds — so it is
//! deterministic and tested with explicit time.
//!
//! AWS semantics (NAT gateway, as documented):
//!
//! * TCP, UDP and ICMP echo only; flows start from the inside; nothing unsolicited comes
//!   in.
//! * Source ports 1024–65535, allocated per destination (address, port, protocol): up to
//!   64,512 concurrent flows to one destination — AWS promises 55,000 — and more
//!   destinations get more. No free port: the flow is refused
//!   ([`Outcome::PortExhausted`], AWS's `ErrorPortAllocation`).
//! * A flow idle for 350 s ([`Timeouts::idle_ms`]) times out; a TCP packet from the
//!   inside that continues a flow the gateway no longer has gets an RST back
//!   ([`Outbound::Reset`]).
//!
//! Table: flows live in a preallocated slab; two open-addressing indexes (inside tuple →
//! flow, and public side → flow) find them; a doubly linked list in last-use order lets
//! the table reclaim expired flows oldest first. **Eviction policy:** when the table is
//! full, a new flow may take the slot of an *expired* flow (the oldest few are checked);
//! live flows are never evicted, so a full table of live flows refuses new ones
//! ([`Outcome::TableFull`]). Nothing allocates after [`Nat::new`].

#![forbid(unsafe_code)]

mod index;
mod nat;
mod tcp;

pub use nat::{Config, Inbound, Nat, Outbound, Outcome, Proto, Stats, Tuple};
pub use tcp::{TcpState, Timeouts, flags};
