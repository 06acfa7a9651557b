//! One NAT gateway's flow table and port allocator.
//!
//! A gateway translates IPv4 inside flows (NAT44, `Nat<u32>`) and IPv6 ones to IPv4
//! destinations (NAT64, `Nat<u128>`, the destination as its `64:ff9b::/96` form) onto
//! one outside address. Its two tables share that address's ports: a new flow's port is
//! one neither table holds for the same outside tuple ([`Nat::outbound_beside`]).

use std::ops::RangeInclusive;

use crate::flow::{FlowAddress, FlowKey, mum};
use crate::table::Table;
use crate::tcp::{TcpState, flags};
use crate::timeouts::Timeouts;

/// The protocols a NAT gateway translates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Proto {
    /// ICMP echo (request from the inside, reply from the outside).
    Icmp = 1,
    /// TCP.
    Tcp = 6,
    /// UDP.
    Udp = 17,
}

/// A flow as the inside sees it: addresses and ports in host order. For ICMP echo,
/// `sport` is the echo identifier and `dport` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple<A: FlowAddress = u32> {
    /// Protocol.
    pub proto: Proto,
    /// The inside address (the instance's private address).
    pub src: A,
    /// The outside address (for NAT64, its IPv4-embedding IPv6 form).
    pub dst: A,
    /// The inside port (or ICMP identifier).
    pub sport: u16,
    /// The outside port (0 for ICMP).
    pub dport: u16,
}

/// What happened to a packet, for counters and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new flow was created.
    Created,
    /// An existing flow matched.
    Matched,
    /// The matching flow had timed out (it is gone now).
    Expired,
    /// No source port free for this destination (AWS's `ErrorPortAllocation`).
    PortExhausted,
    /// The table is full of live flows.
    TableFull,
    /// No flow matches (unsolicited inbound, or a stray TCP segment).
    NoFlow,
    /// A TCP segment from the inside continues a flow the gateway does not have: an RST
    /// goes back.
    Reset,
}

/// The verdict for a packet from the inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// Rewrite the source to the gateway's address and `port`.
    Translate {
        /// The public source port (or ICMP identifier).
        port: u16,
        /// [`Outcome::Created`] or [`Outcome::Matched`].
        outcome: Outcome,
    },
    /// Drop it and answer the inside with a TCP RST.
    Reset,
    /// Drop it.
    Drop(Outcome),
}

/// The verdict for a packet from the outside to the gateway's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound<A: FlowAddress = u32> {
    /// Rewrite the destination to `addr` and `port`.
    Translate {
        /// The inside address.
        addr: A,
        /// The inside port (or ICMP identifier).
        port: u16,
    },
    /// Drop it ([`Outcome::NoFlow`] or [`Outcome::Expired`]).
    Drop(Outcome),
}

/// Counters of every outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Flows created.
    pub created: u64,
    /// Packets that matched a flow.
    pub matched: u64,
    /// Flows found expired (and removed) or swept.
    pub expired: u64,
    /// New flows refused for want of a port.
    pub port_exhausted: u64,
    /// New flows refused because the table is full.
    pub table_full: u64,
    /// Packets that matched no flow.
    pub no_flow: u64,
    /// RSTs owed to the inside.
    pub resets: u64,
}

/// Table size and timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Most flows held at once.
    pub capacity: usize,
    /// Idle timeouts ([`Timeouts::nat_gateway`]).
    pub timeouts: Timeouts,
    /// Public source ports to hand out (AWS: 1024–65535).
    pub ports: RangeInclusive<u16>,
    /// Of those, only the ports `p` with `p % share.1 == share.0`: the share of one of
    /// `share.1` tables that translate for the same address side by side (one per
    /// forwarder worker), so that a reply's port tells which table holds its flow.
    /// `(0, 1)`: every port.
    pub share: (u16, u16),
    /// Hash seed (pick it at random per gateway: flooding a table with colliding flows
    /// then needs knowing it).
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            capacity: 1 << 16,
            timeouts: Timeouts::nat_gateway(350_000),
            ports: 1024..=65535,
            share: (0, 1),
            seed: 0x005e_ed0f_7a61_c0de,
        }
    }
}

/// The lowest port of the range in the table's share (may lie past the range's end).
fn first_of_share(config: &Config) -> u32 {
    let (index, of) = (u32::from(config.share.0), u32::from(config.share.1));
    let low = u32::from(*config.ports.start());
    low + (index + of - low % of) % of
}

/// Expired flows looked at, oldest first in each list, when a full table needs a slot.
const RECLAIM_SCAN: usize = 8;

/// One NAT gateway's state: a [`Table`] of flows keyed by their inside tuple, with a
/// second index by their public side, and the port each was given.
#[derive(Debug)]
pub struct Nat<A: FlowAddress = u32> {
    table: Table<A>,
    config: Config,
    stats: Stats,
}

impl<A: FlowAddress> Tuple<A> {
    /// The flow's key: the inside end is the local one.
    #[inline(always)]
    fn key(&self) -> FlowKey<A> {
        FlowKey {
            zone: 0,
            protocol: self.proto as u8,
            local: self.src,
            local_port: self.sport,
            remote: self.dst,
            remote_port: self.dport,
        }
    }
}

impl<A: FlowAddress> Nat<A> {
    /// A gateway with room for `config.capacity` flows, all allocated now.
    ///
    /// # Panics
    /// If the capacity is 0 or above 2^31, or the port range holds no port of the share.
    pub fn new(config: Config) -> Self {
        let (index, of) = config.share;
        assert!(of > 0 && index < of, "share {index} of {of}");
        assert!(first_of_share(&config) <= u32::from(*config.ports.end()), "no ports to allocate");
        Self {
            table: Table::new(config.capacity, config.seed, true),
            config,
            stats: Stats::default(),
        }
    }

    /// Live (and not yet swept) flows.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Most flows held at once.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats { expired: self.table.expired, ..self.stats }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Heap bytes held (all of it allocated by [`Nat::new`]).
    pub fn memory_bytes(&self) -> usize {
        self.table.memory_bytes()
    }

    #[inline(always)]
    fn outside_hash(&self, proto: u8, remote: A, rport: u16, port: u16) -> u32 {
        let b = (u64::from(rport) << 32) | (u64::from(port) << 16) | u64::from(proto);
        mum(remote.fold() ^ self.table.seed().rotate_left(17), b ^ 0xD6E8_FEB8_6659_FD93) as u32
    }

    fn find_outside(&self, proto: u8, remote: A, rport: u16, port: u16) -> Option<u32> {
        let hash = self.outside_hash(proto, remote, rport, port);
        self.table.find_alt(hash, |e| {
            e.key.remote == remote
                && e.key.remote_port == rport
                && e.value == u32::from(port)
                && e.key.protocol == proto
        })
    }

    /// Whether a live flow of this table holds the outside tuple: `port` of the
    /// gateway's address towards `remote:rport` (for the other table of the same
    /// gateway, whose new flows must not take it).
    pub fn holds_outside(&self, proto: Proto, remote: A, rport: u16, port: u16, now: u64) -> bool {
        self.find_outside(proto as u8, remote, rport, port)
            .is_some_and(|i| !self.table.is_expired(i, now))
    }

    /// A public port free for this destination (in this table, and by `taken`, in the
    /// gateway's other one), reclaiming an expired holder.
    fn allocate_port(
        &mut self,
        t: &Tuple<A>,
        now: u64,
        taken: impl Fn(Proto, u16) -> bool,
    ) -> Option<u16> {
        // The candidates: first, first + of, first + 2·of, … up to the range's end, where
        // `first` is the range's lowest port of this table's share.
        let of = u32::from(self.config.share.1);
        let first = first_of_share(&self.config);
        let span = (u32::from(*self.config.ports.end()) - first) / of + 1;
        // Start at a point that depends on the flow, then probe linearly. Near
        // exhaustion this scans the whole range: only then is it slow.
        let start =
            mum(u64::from(t.key().hash(self.table.seed())), 0xA076_1D64_78BD_642F) as u32 % span;
        let proto = t.proto as u8;
        for k in 0..span {
            let port = (first + (start + k) % span * of) as u16;
            if taken(t.proto, port) {
                continue;
            }
            match self.find_outside(proto, t.dst, t.dport, port) {
                None => return Some(port),
                Some(holder) if self.table.is_expired(holder, now) => {
                    self.table.remove_expired(holder);
                    return Some(port);
                }
                Some(_) => {}
            }
        }
        None
    }

    // ---- the packet calls ------------------------------------------------------------

    /// A packet from the inside. `tcp_flags` is the TCP flags byte (ignored for UDP and
    /// ICMP).
    pub fn outbound(&mut self, t: Tuple<A>, tcp_flags: u8, now: u64) -> Outbound {
        self.outbound_beside(t, tcp_flags, now, |_, _| false)
    }

    /// [`Nat::outbound`] for a gateway with a second table on the same address: a new
    /// flow's port is one for which `taken(proto, port)` is false — whether the other
    /// table holds `port` towards this flow's destination ([`Nat::holds_outside`]).
    /// It is asked only when a flow is created.
    pub fn outbound_beside(
        &mut self,
        t: Tuple<A>,
        tcp_flags: u8,
        now: u64,
        taken: impl Fn(Proto, u16) -> bool,
    ) -> Outbound {
        let key = t.key();
        if let Some(i) = self.table.find(&key) {
            if !self.table.is_expired(i, now) {
                self.table.advance(i, true, tcp_flags, &self.config.timeouts, now);
                self.stats.matched += 1;
                let port = self.table.entry(i).value as u16;
                return Outbound::Translate { port, outcome: Outcome::Matched };
            }
            self.table.remove_expired(i);
        }

        if t.proto == Proto::Tcp && tcp_flags & (flags::SYN | flags::ACK | flags::RST) != flags::SYN
        {
            // Not the start of a connection, and no flow to continue.
            if tcp_flags & flags::RST != 0 {
                self.stats.no_flow += 1;
                return Outbound::Drop(Outcome::NoFlow);
            }
            self.stats.resets += 1;
            return Outbound::Reset;
        }

        let Some(slot) = self.table.take_slot(now, RECLAIM_SCAN) else {
            self.stats.table_full += 1;
            return Outbound::Drop(Outcome::TableFull);
        };
        let Some(port) = self.allocate_port(&t, now, taken) else {
            self.table.release(slot);
            self.stats.port_exhausted += 1;
            return Outbound::Drop(Outcome::PortExhausted);
        };
        let outside = self.outside_hash(t.proto as u8, t.dst, t.dport, port);
        let timeouts = self.config.timeouts;
        self.table.fill(slot, key, u32::from(port), Some(outside), true, tcp_flags, &timeouts, now);
        self.stats.created += 1;
        Outbound::Translate { port, outcome: Outcome::Created }
    }

    /// [`Nat::outbound`] for a burst of packets, `out[i]` the verdict for `packets[i]`.
    ///
    /// Same verdicts as one call per packet, in order; faster on tables that do not fit
    /// in cache, because the lookups of a group are first issued together (their cache
    /// misses overlap) and then done for real from warm lines.
    ///
    /// # Panics
    /// If `out` is shorter than `packets`.
    pub fn outbound_batch(&mut self, packets: &[(Tuple<A>, u8)], now: u64, out: &mut [Outbound]) {
        const GROUP: usize = 16;
        assert!(out.len() >= packets.len(), "one verdict per packet");
        for (group, verdicts) in packets.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
            for (t, _) in group {
                std::hint::black_box(self.table.find(&t.key()));
            }
            for (&(t, tcp_flags), verdict) in group.iter().zip(verdicts) {
                *verdict = self.outbound(t, tcp_flags, now);
            }
        }
    }

    /// A packet from `remote:rport` to the gateway's address and `port`.
    pub fn inbound(
        &mut self,
        proto: Proto,
        remote: A,
        rport: u16,
        port: u16,
        tcp_flags: u8,
        now: u64,
    ) -> Inbound<A> {
        let verdict = self.try_inbound(proto, remote, rport, port, tcp_flags, now);
        if verdict == Inbound::Drop(Outcome::NoFlow) {
            self.stats.no_flow += 1;
        }
        verdict
    }

    /// [`Nat::inbound`] that does not count a packet matching no flow as dropped: for a
    /// gateway that asks its other table next ([`Nat::outbound_beside`]).
    pub fn try_inbound(
        &mut self,
        proto: Proto,
        remote: A,
        rport: u16,
        port: u16,
        tcp_flags: u8,
        now: u64,
    ) -> Inbound<A> {
        let Some(i) = self.find_outside(proto as u8, remote, rport, port) else {
            return Inbound::Drop(Outcome::NoFlow);
        };
        if self.table.is_expired(i, now) {
            self.table.remove_expired(i);
            return Inbound::Drop(Outcome::Expired);
        }
        self.table.advance(i, false, tcp_flags, &self.config.timeouts, now);
        self.stats.matched += 1;
        let key = self.table.entry(i).key;
        Inbound::Translate { addr: key.local, port: key.local_port }
    }

    /// The inside end of a flow an ICMP error from the outside is about, without
    /// touching the flow: the quoted packet went from the gateway's `port` to
    /// `remote:rport`.
    pub fn peek_outside(
        &self,
        proto: Proto,
        remote: A,
        rport: u16,
        port: u16,
        now: u64,
    ) -> Option<(A, u16)> {
        let i = self.find_outside(proto as u8, remote, rport, port)?;
        let key = self.table.entry(i).key;
        (!self.table.is_expired(i, now)).then_some((key.local, key.local_port))
    }

    /// The TCP state of the flow `t`, if tracked.
    pub fn tcp_state(&self, t: &Tuple<A>) -> Option<TcpState> {
        self.table.tcp_state(&t.key())
    }

    /// Removes expired flows, oldest first in each timeout class, looking at no more
    /// than `budget` flows of each. Returns how many were removed.
    pub fn sweep(&mut self, now: u64, budget: usize) -> usize {
        self.table.reclaim(now, budget, usize::MAX)
    }
}
