//! Connection tracking for vpclab: the one tracker the data plane keeps flows in.
//!
//! Every stateful thing in the forwarder — a NAT gateway's translations ([`Nat`]), the
//! security groups' allowed flows and the gateway endpoints' flows ([`Tracker`]) — is a
//! table of the same kind, keyed by the same flow identity ([`FlowKey`]):
//!
//! * **Bounded and allocation-free.** Flows live in a slab allocated up front; an
//!   open-addressing index (linear probing, kept at most half full, backward-shift
//!   deletion) finds them. Nothing allocates after construction, and no call walks the
//!   table: every call is O(1) apart from probing.
//! * **State and timeouts.** TCP flows follow SYN → established → FIN → closed (RST
//!   closes at once); UDP flows become a "stream" after a second request-response
//!   exchange. Each [`Class`] of state has its idle timeout ([`Timeouts`]: AWS's
//!   per-interface `ConnectionTrackingConfiguration`, or a NAT gateway's 350 s).
//! * **LRU per class.** Each class keeps its flows in last-use order (at one-second
//!   granularity), so its oldest flow is the next to expire. **Eviction policy:** live
//!   flows are never evicted. When the table is full, a new flow takes the slot of an
//!   *expired* flow, found among the oldest few of each list; a table truly full of live
//!   flows refuses new ones (AWS's `conntrack_allowance_exceeded`, or
//!   [`Outcome::TableFull`] for a NAT gateway). A periodic [`Tracker::sweep`] /
//!   [`Nat::sweep`] drains expired flows from the heads of the lists.
//!
//! Fragments of a datagram are made to look like their first one ([`Fragments`]): its
//! ports are remembered by the datagram's identity for the later fragments, so every
//! tracker and rule decides the same about all of them.
//!
//! It does no I/O and reads no clock — every call takes `now` in milliseconds — so it
//! is deterministic and tested with explicit time.
//!
//! AWS semantics of the NAT gateway, as documented:
//!
//! * TCP, UDP and ICMP echo only; flows start from the inside; nothing unsolicited comes
//!   in.
//! * Source ports 1024–65535, allocated per destination (address, port, protocol): up to
//!   64,512 concurrent flows to one destination — AWS promises 55,000 — and more
//!   destinations get more. No free port: the flow is refused
//!   ([`Outcome::PortExhausted`], AWS's `ErrorPortAllocation`).
//! * A flow idle for 350 s times out; a TCP packet from the inside that continues a flow
//!   the gateway no longer has gets an RST back ([`Outbound::Reset`]).

#![forbid(unsafe_code)]

mod flow;
mod fragments;
mod index;
mod nat;
mod table;
mod tcp;
mod timeouts;
mod tracker;

pub use flow::{FlowAddress, FlowKey, random_seed};
pub use fragments::{DatagramKey, Fragments, Head};
pub use nat::{Config, Inbound, Nat, Outbound, Outcome, Proto, Stats, Tuple};
pub use tcp::{TcpState, flags};
pub use timeouts::{CLASSES, Class, Timeouts};
pub use tracker::{Tracker, TrackerStats};
