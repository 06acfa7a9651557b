//! Stateful filtering's memory: which flows were allowed, so their packets pass both
//! ways until they end or idle out. Security groups track flows per interface; the
//! gateway endpoints track flows to find the instance a reply belongs to.

use crate::flow::{FlowAddress, FlowKey};
use crate::table::Table;
use crate::tcp::{TcpState, flags};
use crate::timeouts::Timeouts;

/// Expired flows looked at, oldest first in each list, when a full table needs a slot.
const RECLAIM_SCAN: usize = 8;

/// Counters of a [`Tracker`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Flows tracked since the start.
    pub created: u64,
    /// Flows that idled out (or closed and drained).
    pub expired: u64,
    /// New flows refused because the table was full of live flows (AWS's
    /// `conntrack_allowance_exceeded`).
    pub full: u64,
}

/// A bounded table of tracked flows, each with a `u32` value. See the crate
/// documentation for the table and its eviction policy.
#[derive(Debug)]
pub struct Tracker<A: FlowAddress = u32> {
    table: Table<A>,
    created: u64,
    full: u64,
}

impl<A: FlowAddress> Tracker<A> {
    /// Room for `capacity` flows, all allocated now; `seed` keys the hash (pick it at
    /// random: [`crate::random_seed`]).
    ///
    /// # Panics
    /// If the capacity is 0 or above 2^31.
    pub fn new(capacity: usize, seed: u64) -> Self {
        Self { table: Table::new(capacity, seed, false), created: 0, full: 0 }
    }

    /// The value of `key` if it is a live flow, which the packet — from the key's local
    /// end (`from_local`) or to it, with `tcp_flags` — moves on and refreshes.
    ///
    /// A closed TCP connection (reset, or both FINs seen) that sees a new SYN is gone:
    /// `None`, and the caller decides about the new connection afresh.
    #[inline(always)]
    pub fn hit(
        &mut self,
        key: &FlowKey<A>,
        from_local: bool,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now: u64,
    ) -> Option<u32> {
        if self.table.len() == 0 {
            // Nothing tracked (a worker that only denies, say): no hash, no memory read.
            return None;
        }
        let i = self.table.find(key)?;
        if self.table.is_expired(i, now) {
            self.table.remove_expired(i);
            return None;
        }
        let entry = self.table.entry(i);
        if key.protocol == 6
            && tcp_flags & (flags::SYN | flags::ACK) == flags::SYN
            && TcpState::from_u8(entry.state).is_closed()
        {
            self.table.remove(i);
            return None;
        }
        let from_originator = entry.orig_local == from_local;
        self.table.advance(i, from_originator, tcp_flags, timeouts, now);
        Some(self.table.entry(i).value)
    }

    /// The value of `key` if it is a live flow, leaving the flow as it is (for ICMP
    /// errors about it).
    #[inline(always)]
    pub fn peek(&self, key: &FlowKey<A>, now: u64) -> Option<u32> {
        let i = self.table.find(key)?;
        (!self.table.is_expired(i, now)).then(|| self.table.entry(i).value)
    }

    /// Tracks `key` with `value`, opened by the packet from the local end (`from_local`)
    /// or to it, with `tcp_flags`; a flow already tracked is refreshed and takes the
    /// value. False when the table is full of live flows.
    pub fn track(
        &mut self,
        key: FlowKey<A>,
        value: u32,
        from_local: bool,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now: u64,
    ) -> bool {
        if let Some(i) = self.table.find(&key) {
            if !self.table.is_expired(i, now) {
                let from_originator = self.table.entry(i).orig_local == from_local;
                self.table.advance(i, from_originator, tcp_flags, timeouts, now);
                self.table.entry_mut(i).value = value;
                return true;
            }
            self.table.remove_expired(i);
        }
        let Some(slot) = self.table.take_slot(now, RECLAIM_SCAN) else {
            self.full += 1;
            return false;
        };
        self.table.fill(slot, key, value, None, from_local, tcp_flags, timeouts, now);
        self.created += 1;
        true
    }

    /// Removes expired flows, oldest first in each timeout class, looking at no more
    /// than `budget` flows of each. Returns how many were removed.
    pub fn sweep(&mut self, now: u64, budget: usize) -> usize {
        self.table.reclaim(now, budget, usize::MAX)
    }

    /// The TCP state of flow `key`, if tracked (live or not yet swept).
    pub fn tcp_state(&self, key: &FlowKey<A>) -> Option<TcpState> {
        self.table.tcp_state(key)
    }

    /// Flows held now (live, or expired and not yet swept).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Most flows held at once.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Heap bytes held (all of it allocated by [`Tracker::new`]).
    pub fn memory_bytes(&self) -> usize {
        self.table.memory_bytes()
    }

    /// Counters.
    pub fn stats(&self) -> TrackerStats {
        TrackerStats { created: self.created, expired: self.table.expired, full: self.full }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::flags::*;

    const UDP_MS: u64 = 30_000;

    fn key(remote_port: u16) -> FlowKey {
        FlowKey { zone: 3, protocol: 17, local: 1, local_port: 2, remote: 3, remote_port }
    }

    #[test]
    fn tracked_flows_are_found_both_ways_until_idle() {
        let t = Timeouts::INTERFACE;
        let mut flows = Tracker::new(2, 1);
        assert!(flows.track(key(4), 7, true, 0, &t, 0));
        assert_eq!(flows.hit(&key(4), false, 0, &t, UDP_MS - 1), Some(7));
        assert_eq!(flows.hit(&key(4), true, 0, &t, 3 * UDP_MS), None, "idle past its timeout");
        assert!(flows.track(key(4), 7, true, 0, &t, 3 * UDP_MS));
        assert!(flows.track(key(5), 8, true, 0, &t, 3 * UDP_MS));
        assert!(!flows.track(key(6), 9, true, 0, &t, 3 * UDP_MS + 1), "full of live flows");
        assert_eq!(flows.stats().full, 1);
        assert!(flows.track(key(6), 9, true, 0, &t, 5 * UDP_MS), "expired ones make room");
        assert_eq!(flows.len(), 2);
    }

    /// IPv6 flows live in a table of their own kind: keys that share an IPv4-sized part
    /// (the low 32 bits, or a whole half) are still different flows.
    #[test]
    fn ipv6_flows_differ_in_every_bit_of_their_addresses() {
        let t = Timeouts::INTERFACE;
        let mut flows: Tracker<u128> = Tracker::new(64, 9);
        let base: u128 = 0x2001_0db8_0000_0001_0000_0000_0000_0010;
        let near = [base, base ^ 1 << 127, base ^ 1 << 64, base ^ 1 << 63, base ^ 1];
        let k = |local: u128, remote: u128| FlowKey {
            zone: 1,
            protocol: 58,
            local,
            local_port: 7,
            remote,
            remote_port: 0,
        };
        for (i, &a) in near.iter().enumerate() {
            assert!(flows.track(k(a, !a), i as u32, true, 0, &t, 0));
        }
        for (i, &a) in near.iter().enumerate() {
            assert_eq!(flows.hit(&k(a, !a), false, 0, &t, 1), Some(i as u32));
            assert_eq!(flows.peek(&k(!a, a), 1), None, "the ends are not interchangeable");
        }
        assert_eq!(flows.len(), near.len());
    }

    #[test]
    fn a_udp_stream_lives_longer_than_one_exchange() {
        let t = Timeouts::INTERFACE;
        let mut flows = Tracker::new(4, 1);
        flows.track(key(53), 0, true, 0, &t, 0);
        assert!(flows.hit(&key(53), false, 0, &t, 1).is_some());
        assert!(flows.hit(&key(53), true, 0, &t, 2).is_some());
        assert!(flows.hit(&key(53), false, 0, &t, 3).is_some());
        // Two exchanges: a stream, 180 s.
        assert!(flows.peek(&key(53), 3 + 179_000).is_some());
        assert!(flows.peek(&key(53), 3 + 180_000).is_none());
        // One exchange: 30 s.
        flows.track(key(54), 0, true, 0, &t, 0);
        flows.hit(&key(54), false, 0, &t, 1);
        assert!(flows.peek(&key(54), 1 + UDP_MS).is_none());
    }

    #[test]
    fn closed_connections_drain_in_seconds_and_a_new_syn_starts_afresh() {
        let t = Timeouts::INTERFACE;
        let mut flows = Tracker::new(4, 1);
        let k = FlowKey { protocol: 6, ..key(80) };
        // Seen from the server: the client's SYN arrives (not from the local end).
        assert!(flows.track(k, 0, false, SYN, &t, 0));
        assert_eq!(flows.tcp_state(&k), Some(TcpState::SynSent));
        flows.hit(&k, true, SYN | ACK, &t, 1).unwrap();
        assert_eq!(flows.tcp_state(&k), Some(TcpState::Established));
        flows.hit(&k, false, FIN | ACK, &t, 2).unwrap();
        flows.hit(&k, true, FIN | ACK, &t, 3).unwrap();
        flows.hit(&k, false, ACK, &t, 4).unwrap();
        assert_eq!(flows.tcp_state(&k), Some(TcpState::TimeWait));
        assert!(flows.peek(&k, 4 + 9_999).is_some());
        assert_eq!(flows.sweep(4 + 10_000, 8), 1, "closed: gone after 10 s");
        // A new SYN on a closed connection is a new connection.
        assert!(flows.track(k, 0, false, SYN, &t, 20_000));
        flows.hit(&k, false, RST, &t, 20_001).unwrap();
        assert_eq!(flows.hit(&k, false, SYN, &t, 20_002), None);
        assert!(flows.is_empty());
    }

    #[test]
    fn interfaces_with_short_timeouts_are_not_starved_by_long_ones() {
        // One table for all interfaces: 5-day established flows in front of those of an
        // interface whose TcpEstablishedTimeout is 60 s must not hide them.
        let long = Timeouts::INTERFACE;
        let short = Timeouts::interface(60, 180, 30);
        let mut flows = Tracker::new(100, 1);
        for p in 0..70 {
            let k = FlowKey { protocol: 6, ..key(p) };
            assert!(flows.track(k, 0, true, ACK, &long, 0));
        }
        for p in 100..130 {
            let k = FlowKey { protocol: 6, zone: 9, ..key(p) };
            assert!(flows.track(k, 0, true, ACK, &short, 1_000));
        }
        assert_eq!(flows.sweep(200_000, 64), 30, "the short ones went, from the heads");
        assert!(flows.track(key(500), 0, true, 0, &long, 200_000));
    }

    #[test]
    fn long_lived_flows_do_not_hide_expired_ones() {
        // The oldest flows are established TCP (5 days); newer UDP ones expired: a full
        // table still finds them, because each timeout class has its own list.
        let t = Timeouts::INTERFACE;
        let mut flows = Tracker::new(24, 1);
        for p in 0..16 {
            let k = FlowKey { protocol: 6, ..key(p) };
            assert!(flows.track(k, 0, true, ACK, &t, 0));
        }
        for p in 100..108 {
            assert!(flows.track(key(p), 0, true, 0, &t, 1));
        }
        assert!(flows.track(key(200), 0, true, 0, &t, 1 + UDP_MS));
        assert_eq!(flows.stats().expired, 1);
    }
}
