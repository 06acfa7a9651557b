//! One NAT gateway's flow table and port allocator.

use std::ops::RangeInclusive;

use crate::index::Index;
use crate::tcp::{TcpState, Timeouts, flags};

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
pub struct Tuple {
    /// Protocol.
    pub proto: Proto,
    /// The inside address (the instance's private address).
    pub src: u32,
    /// The outside address.
    pub dst: u32,
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
pub enum Inbound {
    /// Rewrite the destination to `addr` and `port`.
    Translate {
        /// The inside address.
        addr: u32,
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
    /// Idle timeouts.
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
            timeouts: Timeouts::default(),
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

const NIL: u32 = u32::MAX;
/// Expired flows looked at, oldest first, when a full table needs a slot.
const RECLAIM_SCAN: usize = 8;

/// A flow slot. `proto == 0` marks a free slot, whose `next` links the free list.
#[derive(Clone, Copy, Debug)]
struct Flow {
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    nat_port: u16,
    proto: u8,
    state: u8,
    last_seen: u64,
    /// The second (`now / 1000`) the flow last moved to the newest end of the LRU list.
    linked_at: u32,
    prev: u32,
    next: u32,
}

const FREE: Flow = Flow {
    src: 0,
    dst: 0,
    sport: 0,
    dport: 0,
    nat_port: 0,
    proto: 0,
    state: 0,
    last_seen: 0,
    linked_at: 0,
    prev: NIL,
    next: NIL,
};

/// The LRU list's granularity: whole seconds of `now` (milliseconds).
#[inline(always)]
fn second(now: u64) -> u32 {
    (now / 1000) as u32
}

/// A 64×64→128-bit multiply folded to 64 bits: a fast, well-mixing step.
#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// One NAT gateway's state.
#[derive(Debug)]
pub struct Nat {
    flows: Box<[Flow]>,
    inside: Index,
    outside: Index,
    free: u32,
    /// Least recently used flow.
    oldest: u32,
    /// Most recently used flow.
    newest: u32,
    len: usize,
    config: Config,
    stats: Stats,
}

impl Nat {
    /// A gateway with room for `config.capacity` flows, all allocated now.
    ///
    /// # Panics
    /// If the capacity is 0 or above 2^31, or the port range holds no port of the share.
    pub fn new(config: Config) -> Self {
        assert!(config.capacity > 0 && config.capacity < 1 << 31, "capacity out of range");
        let (index, of) = config.share;
        assert!(of > 0 && index < of, "share {index} of {of}");
        assert!(first_of_share(&config) <= u32::from(*config.ports.end()), "no ports to allocate");
        let mut flows = vec![FREE; config.capacity].into_boxed_slice();
        for (i, flow) in flows.iter_mut().enumerate() {
            flow.next = if i + 1 < config.capacity { (i + 1) as u32 } else { NIL };
        }
        Self {
            flows,
            inside: Index::with_capacity(config.capacity),
            outside: Index::with_capacity(config.capacity),
            free: 0,
            oldest: NIL,
            newest: NIL,
            len: 0,
            config,
            stats: Stats::default(),
        }
    }

    /// Live (and not yet swept) flows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most flows held at once.
    pub fn capacity(&self) -> usize {
        self.flows.len()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Heap bytes held (all of it allocated by [`Nat::new`]).
    pub fn memory_bytes(&self) -> usize {
        size_of_val(&*self.flows) + self.inside.memory_bytes() + self.outside.memory_bytes()
    }

    #[inline(always)]
    fn inside_hash(&self, t: &Tuple) -> u32 {
        let a = (u64::from(t.src) << 32) | u64::from(t.dst);
        let b = (u64::from(t.sport) << 32) | (u64::from(t.dport) << 16) | t.proto as u64;
        mum(a ^ self.config.seed, b ^ 0x9E37_79B9_7F4A_7C15) as u32
    }

    #[inline(always)]
    fn outside_hash(&self, proto: u8, remote: u32, rport: u16, port: u16) -> u32 {
        let b = (u64::from(rport) << 32) | (u64::from(port) << 16) | u64::from(proto);
        mum(u64::from(remote) ^ self.config.seed.rotate_left(17), b ^ 0xD6E8_FEB8_6659_FD93) as u32
    }

    fn timeout(&self, flow: &Flow) -> u64 {
        let t = &self.config.timeouts;
        match flow.proto {
            6 => t.tcp(TcpState::from_u8(flow.state)),
            1 => t.icmp_ms.min(t.idle_ms),
            _ => t.idle_ms,
        }
    }

    fn expired(&self, flow: &Flow, now: u64) -> bool {
        now.saturating_sub(flow.last_seen) >= self.timeout(flow)
    }

    // ---- the LRU list ----------------------------------------------------------------

    fn unlink(&mut self, i: u32) {
        let Flow { prev, next, .. } = self.flows[i as usize];
        match prev {
            NIL => self.oldest = next,
            p => self.flows[p as usize].next = next,
        }
        match next {
            NIL => self.newest = prev,
            n => self.flows[n as usize].prev = prev,
        }
    }

    fn push_newest(&mut self, i: u32) {
        let flow = &mut self.flows[i as usize];
        flow.prev = self.newest;
        flow.next = NIL;
        match self.newest {
            NIL => self.oldest = i,
            n => self.flows[n as usize].next = i,
        }
        self.newest = i;
    }

    /// Records use of flow `i`. The LRU list is kept at one-second granularity: a flow
    /// moves to the newest end at most once per second, so the packets of a busy flow
    /// do not each rewrite two neighbours' links (the oldest-first order is off by under
    /// a second, and expiry itself always reads `last_seen`).
    fn touch(&mut self, i: u32, now: u64) {
        let second = second(now);
        let flow = &mut self.flows[i as usize];
        flow.last_seen = now;
        if flow.linked_at != second && self.newest != i {
            flow.linked_at = second;
            self.unlink(i);
            self.push_newest(i);
        }
    }

    // ---- lookups ---------------------------------------------------------------------

    fn find_inside(&self, t: &Tuple) -> Option<u32> {
        let hash = self.inside_hash(t);
        let proto = t.proto as u8;
        self.inside.find(hash, |i| {
            let f = &self.flows[i as usize];
            f.src == t.src
                && f.dst == t.dst
                && f.sport == t.sport
                && f.dport == t.dport
                && f.proto == proto
        })
    }

    fn find_outside(&self, proto: u8, remote: u32, rport: u16, port: u16) -> Option<u32> {
        let hash = self.outside_hash(proto, remote, rport, port);
        self.outside.find(hash, |i| {
            let f = &self.flows[i as usize];
            f.dst == remote && f.dport == rport && f.nat_port == port && f.proto == proto
        })
    }

    /// Removes flow `i` from both indexes and the LRU list, and frees its slot.
    fn remove(&mut self, i: u32) {
        let f = self.flows[i as usize];
        let tuple = Tuple {
            proto: match f.proto {
                1 => Proto::Icmp,
                6 => Proto::Tcp,
                _ => Proto::Udp,
            },
            src: f.src,
            dst: f.dst,
            sport: f.sport,
            dport: f.dport,
        };
        let inside = self.inside_hash(&tuple);
        let outside = self.outside_hash(f.proto, f.dst, f.dport, f.nat_port);
        self.inside.remove(inside, i);
        self.outside.remove(outside, i);
        self.unlink(i);
        self.flows[i as usize] = Flow { next: self.free, ..FREE };
        self.free = i;
        self.len -= 1;
    }

    /// A free slot: from the free list, or the oldest few flows if expired.
    fn take_slot(&mut self, now: u64) -> Option<u32> {
        if self.free == NIL {
            self.reclaim(now, RECLAIM_SCAN, 1);
        }
        match self.free {
            NIL => None,
            i => {
                self.free = self.flows[i as usize].next;
                Some(i)
            }
        }
    }

    /// A public port free for this destination, reclaiming an expired holder.
    fn allocate_port(&mut self, t: &Tuple, now: u64) -> Option<u16> {
        // The candidates: first, first + of, first + 2·of, … up to the range's end, where
        // `first` is the range's lowest port of this table's share.
        let of = u32::from(self.config.share.1);
        let first = first_of_share(&self.config);
        let span = (u32::from(*self.config.ports.end()) - first) / of + 1;
        // Start at a point that depends on the flow, then probe linearly. Near
        // exhaustion this scans the whole range: only then is it slow.
        let start = mum(u64::from(self.inside_hash(t)), 0xA076_1D64_78BD_642F) as u32 % span;
        let proto = t.proto as u8;
        for k in 0..span {
            let port = (first + (start + k) % span * of) as u16;
            match self.find_outside(proto, t.dst, t.dport, port) {
                None => return Some(port),
                Some(holder) if self.expired(&self.flows[holder as usize], now) => {
                    self.remove(holder);
                    self.stats.expired += 1;
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
    pub fn outbound(&mut self, t: Tuple, tcp_flags: u8, now: u64) -> Outbound {
        if let Some(i) = self.find_inside(&t) {
            if !self.expired(&self.flows[i as usize], now) {
                let flow = &mut self.flows[i as usize];
                if t.proto == Proto::Tcp {
                    flow.state = TcpState::from_u8(flow.state).next(tcp_flags, true) as u8;
                }
                let port = flow.nat_port;
                self.touch(i, now);
                self.stats.matched += 1;
                return Outbound::Translate { port, outcome: Outcome::Matched };
            }
            self.remove(i);
            self.stats.expired += 1;
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

        let Some(slot) = self.take_slot(now) else {
            self.stats.table_full += 1;
            return Outbound::Drop(Outcome::TableFull);
        };
        let Some(port) = self.allocate_port(&t, now) else {
            self.flows[slot as usize].next = self.free;
            self.free = slot;
            self.stats.port_exhausted += 1;
            return Outbound::Drop(Outcome::PortExhausted);
        };
        let state = match t.proto {
            Proto::Tcp => TcpState::SynSent as u8,
            _ => 0,
        };
        self.flows[slot as usize] = Flow {
            src: t.src,
            dst: t.dst,
            sport: t.sport,
            dport: t.dport,
            nat_port: port,
            proto: t.proto as u8,
            state,
            last_seen: now,
            linked_at: second(now),
            prev: NIL,
            next: NIL,
        };
        let inside = self.inside_hash(&t);
        let outside = self.outside_hash(t.proto as u8, t.dst, t.dport, port);
        self.inside.insert(inside, slot);
        self.outside.insert(outside, slot);
        self.push_newest(slot);
        self.len += 1;
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
    pub fn outbound_batch(&mut self, packets: &[(Tuple, u8)], now: u64, out: &mut [Outbound]) {
        const GROUP: usize = 16;
        assert!(out.len() >= packets.len(), "one verdict per packet");
        for (group, verdicts) in packets.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
            for (t, _) in group {
                std::hint::black_box(self.find_inside(t));
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
        remote: u32,
        rport: u16,
        port: u16,
        tcp_flags: u8,
        now: u64,
    ) -> Inbound {
        let Some(i) = self.find_outside(proto as u8, remote, rport, port) else {
            self.stats.no_flow += 1;
            return Inbound::Drop(Outcome::NoFlow);
        };
        if self.expired(&self.flows[i as usize], now) {
            self.remove(i);
            self.stats.expired += 1;
            return Inbound::Drop(Outcome::Expired);
        }
        let flow = &mut self.flows[i as usize];
        if proto == Proto::Tcp {
            flow.state = TcpState::from_u8(flow.state).next(tcp_flags, false) as u8;
        }
        let (addr, inside_port) = (flow.src, flow.sport);
        self.touch(i, now);
        self.stats.matched += 1;
        Inbound::Translate { addr, port: inside_port }
    }

    /// The inside end of a flow an ICMP error from the outside is about, without
    /// touching the flow: the quoted packet went from the gateway's `port` to
    /// `remote:rport`.
    pub fn peek_outside(
        &self,
        proto: Proto,
        remote: u32,
        rport: u16,
        port: u16,
        now: u64,
    ) -> Option<(u32, u16)> {
        let i = self.find_outside(proto as u8, remote, rport, port)?;
        let f = &self.flows[i as usize];
        (!self.expired(f, now)).then_some((f.src, f.sport))
    }

    /// The TCP state of the flow `t`, if tracked.
    pub fn tcp_state(&self, t: &Tuple) -> Option<TcpState> {
        let i = self.find_inside(t)?;
        (t.proto == Proto::Tcp).then(|| TcpState::from_u8(self.flows[i as usize].state))
    }

    /// Removes expired flows, oldest first, looking at no more than `budget` flows.
    /// Returns how many were removed.
    pub fn sweep(&mut self, now: u64, budget: usize) -> usize {
        self.reclaim(now, budget, usize::MAX)
    }

    /// Removes expired flows, oldest first, looking at no more than `budget` flows and
    /// stopping after `enough`. Returns how many were removed.
    fn reclaim(&mut self, now: u64, budget: usize, enough: usize) -> usize {
        let mut removed = 0;
        let mut at = self.oldest;
        for _ in 0..budget {
            if at == NIL || removed == enough {
                break;
            }
            let next = self.flows[at as usize].next;
            if self.expired(&self.flows[at as usize], now) {
                self.remove(at);
                self.stats.expired += 1;
                removed += 1;
            }
            at = next;
        }
        removed
    }
}
