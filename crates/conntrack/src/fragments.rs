//! Fragments of a datagram, made to look alike: only the first fragment carries the
//! ports (or ICMP type and identifier) every decision about the datagram reads, so the
//! first one's [`Head`] is remembered by the datagram's identity ([`DatagramKey`]: the
//! addresses, the protocol and the IP identification) for the later ones to use.
//!
//! Bounded and short-lived: a fixed set-associative table (no allocation after
//! [`Fragments::new`]); a datagram is remembered for [`Fragments::TIMEOUT_MS`] (the
//! kernel's reassembly timeout) or until newer datagrams need its slot. A later fragment
//! whose first one was not seen — lost, still to come out of order, or forgotten — finds
//! nothing; the caller counts it and drops it (reordering within a datagram is rare on
//! a path without parallel links, and the sender's stack retries the datagram).

use crate::flow::{FlowAddress, FlowKey, mum};

/// A datagram's identity: what its fragments share — the port they came in on among
/// it, so that a packet from one interface, whatever addresses it claims, cannot stand
/// in for another interface's first fragment.
///
/// Either family, as flows are ([`FlowAddress`]): IPv4's identification is 16 bits,
/// IPv6's (in its Fragment header) 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramKey<A: FlowAddress = u32> {
    /// Where the fragments come in (an interface's port, or the internet's).
    pub zone: u32,
    /// Source address.
    pub src: A,
    /// Destination address.
    pub dst: A,
    /// IP protocol.
    pub protocol: u8,
    /// IP identification.
    pub id: u32,
}

impl<A: FlowAddress> Default for DatagramKey<A> {
    fn default() -> Self {
        Self { zone: 0, src: A::ZERO, dst: A::ZERO, protocol: 0, id: 0 }
    }
}

impl<A: FlowAddress> DatagramKey<A> {
    /// The key's hash under `seed`, through the flow key's (the identification in the
    /// place of the ports).
    #[inline]
    pub fn hash(&self, seed: u64) -> u32 {
        FlowKey {
            zone: self.zone,
            protocol: self.protocol,
            local: self.src,
            local_port: (self.id >> 16) as u16,
            remote: self.dst,
            remote_port: self.id as u16,
        }
        .hash(seed)
    }
}

/// What the first fragment's L4 header says: for TCP and UDP the ports, for ICMP the
/// type and code and, for echo, the identifier (as `sport`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// Source port (ICMP: the echo identifier, or 0).
    pub sport: u16,
    /// Destination port (ICMP: 0).
    pub dport: u16,
    /// ICMP type (0 for other protocols).
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
}

#[derive(Clone, Copy, Debug)]
struct Slot<A: FlowAddress> {
    key: DatagramKey<A>,
    head: Head,
    /// When it is forgotten; 0: empty.
    expires: u64,
}

impl<A: FlowAddress> Default for Slot<A> {
    fn default() -> Self {
        Self { key: DatagramKey::default(), head: Head::default(), expires: 0 }
    }
}

/// How long a datagram's head is kept: Linux's `ipfrag_time`, 30 s.
const TIMEOUT_MS: u64 = 30_000;

/// Slots per set: a new datagram takes the set's empty or oldest slot.
const WAYS: usize = 4;

/// See the module documentation.
#[derive(Debug)]
pub struct Fragments<A: FlowAddress = u32> {
    slots: Box<[Slot<A>]>,
    sets: usize,
    seed: u64,
}

impl Fragments {
    /// How long a datagram's head is kept: Linux's `ipfrag_time`, 30 s.
    pub const TIMEOUT_MS: u64 = TIMEOUT_MS;
}

impl<A: FlowAddress> Fragments<A> {
    /// Room for `capacity` datagrams (rounded up to a power of two, at least 4).
    pub fn new(capacity: usize, seed: u64) -> Self {
        let sets = (capacity.max(WAYS) / WAYS).next_power_of_two();
        Self { slots: vec![Slot::default(); sets * WAYS].into_boxed_slice(), sets, seed }
    }

    fn set(&self, key: &DatagramKey<A>) -> usize {
        let hash = mum(u64::from(key.hash(self.seed)), self.seed | 1);
        (hash as usize & (self.sets - 1)) * WAYS
    }

    /// Remembers the head of datagram `key` (its first fragment passed) at `now`.
    pub fn remember(&mut self, key: DatagramKey<A>, head: Head, now: u64) {
        let set = self.set(&key);
        let ways = &mut self.slots[set..set + WAYS];
        let expires = now + TIMEOUT_MS;
        if let Some(slot) = ways.iter_mut().find(|s| s.expires > now && s.key == key) {
            *slot = Slot { key, head, expires };
            return;
        }
        let slot = ways.iter_mut().min_by_key(|s| s.expires).expect("WAYS > 0");
        *slot = Slot { key, head, expires };
    }

    /// The head of datagram `key`, if its first fragment passed within the timeout.
    pub fn recall(&self, key: &DatagramKey<A>, now: u64) -> Option<Head> {
        let set = self.set(key);
        self.slots[set..set + WAYS]
            .iter()
            .find(|s| s.expires > now && s.key == *key)
            .map(|s| s.head)
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        size_of_val(&*self.slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16) -> DatagramKey {
        DatagramKey { zone: 3, src: 1, dst: 2, protocol: 17, id: id.into() }
    }

    #[test]
    fn a_head_is_recalled_until_it_times_out() {
        let mut f = Fragments::new(64, 7);
        let head = Head { sport: 53, dport: 40000, ..Head::default() };
        f.remember(key(9), head, 1000);
        assert_eq!(f.recall(&key(9), 1000 + Fragments::TIMEOUT_MS - 1), Some(head));
        assert_eq!(f.recall(&key(9), 1000 + Fragments::TIMEOUT_MS), None);
        assert_eq!(f.recall(&key(10), 1000), None, "another datagram");
        assert_eq!(f.recall(&DatagramKey { protocol: 6, ..key(9) }, 1000), None);
        // The same addresses and id, come in elsewhere: another datagram (a packet of one
        // interface cannot stand in for another's first fragment).
        assert_eq!(f.recall(&DatagramKey { zone: 4, ..key(9) }, 1000), None);
        f.remember(DatagramKey { zone: 4, ..key(9) }, Head::default(), 1001);
        assert_eq!(f.recall(&key(9), 1001), Some(head));
    }

    #[test]
    fn ipv6_datagrams_differ_in_their_whole_addresses_and_identification() {
        let mut f: Fragments<u128> = Fragments::new(64, 7);
        let k = DatagramKey { zone: 1, src: 1u128 << 100, dst: 2, protocol: 17, id: 0x0001_0000 };
        let head = Head { sport: 5353, dport: 53, ..Head::default() };
        f.remember(k, head, 0);
        assert_eq!(f.recall(&k, 1), Some(head));
        assert_eq!(f.recall(&DatagramKey { src: 1u128 << 99, ..k }, 1), None);
        assert_eq!(
            f.recall(&DatagramKey { id: 0, ..k }, 1),
            None,
            "the high half of the id counts"
        );
    }

    #[test]
    fn a_full_table_forgets_the_oldest_datagrams_first() {
        let mut f = Fragments::new(4, 7); // one set of four
        for id in 0..4 {
            f.remember(key(id), Head { sport: id, ..Head::default() }, u64::from(id));
        }
        f.remember(key(99), Head::default(), 10);
        assert_eq!(f.recall(&key(0), 10), None, "the oldest made room");
        for id in 1..4 {
            assert_eq!(f.recall(&key(id), 10).map(|h| h.sport), Some(id));
        }
        // A datagram seen again (a retransmitted first fragment) keeps one slot.
        f.remember(key(3), Head { sport: 33, ..Head::default() }, 11);
        assert_eq!(f.recall(&key(3), 11).map(|h| h.sport), Some(33));
        assert_eq!(f.recall(&key(2), 11).map(|h| h.sport), Some(2));
    }
}
