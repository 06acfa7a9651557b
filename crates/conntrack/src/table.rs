//! The one connection table every tracker in vpclab is built on: a preallocated slab of
//! flows, an open-addressing index by [`FlowKey`] (and optionally a second one, by
//! whatever else a user looks flows up by), TCP and UDP state, and least-recently-used
//! lists by timeout.
//!
//! A flow is on the list of its timeout [`Class`] *and* its timeout's magnitude (the
//! power of two of its seconds): interfaces may set their own timeouts, and one list
//! holding 5-day flows in front of 60-second ones would hide the short ones from the
//! reclaiming and sweeping that look at the heads of the lists only. Within a list
//! timeouts differ by less than 2×, so an expired flow waits behind live ones for at
//! most its own timeout again. Nothing here allocates after [`Table::new`], and nothing
//! walks the table.

use crate::flow::{FlowAddress, FlowKey};
use crate::index::Index;
use crate::tcp::{TcpState, UDP_SENT, flags, udp_next};
use crate::timeouts::{CLASSES, Class, Timeouts};

pub(crate) const NIL: u32 = u32::MAX;
/// `class` of a free slot.
const FREE_CLASS: u8 = u8::MAX;
/// Timeout magnitudes a class's lists are split by: powers of two of seconds, up to
/// 2^19 s (AWS's longest, 432,000 s, is under 2^19).
const MAGNITUDES: usize = 20;
/// LRU lists in a table.
const LISTS: usize = CLASSES * MAGNITUDES;

/// The list of a flow of `class` with a timeout of `timeout_ms`.
#[inline(always)]
fn list_of(class: Class, timeout_ms: u64) -> u8 {
    let seconds = timeout_ms / 1000;
    let magnitude = (u64::BITS - seconds.leading_zeros()) as usize;
    (class as usize * MAGNITUDES + magnitude.min(MAGNITUDES - 1)) as u8
}

/// One tracked flow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<A: FlowAddress> {
    pub(crate) key: FlowKey<A>,
    /// What the table's user stores with the flow (a NAT port, an interface).
    pub(crate) value: u32,
    /// [`FlowKey::hash`], kept so removal need not recompute it.
    hash: u32,
    /// The second index's hash, if the flow is in it.
    alt_hash: u32,
    /// When it expires unless seen again (milliseconds of the caller's clock).
    deadline: u64,
    /// The second (`now / 1000`) the flow last moved to the newest end of its list.
    linked_at: u32,
    prev: u32,
    next: u32,
    /// TCP: a [`TcpState`]; UDP: its exchange state.
    pub(crate) state: u8,
    /// Its [`Class`], or [`FREE_CLASS`].
    class: u8,
    /// The LRU list it is on (see [`list_of`]).
    list: u8,
    /// Whether the local end of the key opened the flow.
    pub(crate) orig_local: bool,
}

impl<A: FlowAddress> Entry<A> {
    const FREE: Self = Entry {
        key: FlowKey {
            zone: 0,
            protocol: 0,
            local: A::ZERO,
            local_port: 0,
            remote: A::ZERO,
            remote_port: 0,
        },
        value: 0,
        hash: 0,
        alt_hash: 0,
        deadline: 0,
        linked_at: 0,
        prev: NIL,
        next: NIL,
        state: 0,
        class: FREE_CLASS,
        list: 0,
        orig_local: false,
    };
}

#[derive(Clone, Copy, Debug)]
struct List {
    oldest: u32,
    newest: u32,
}

/// The LRU lists' granularity: whole seconds of `now` (milliseconds).
#[inline(always)]
fn second(now: u64) -> u32 {
    (now / 1000) as u32
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Table<A: FlowAddress = u32> {
    entries: Box<[Entry<A>]>,
    index: Index,
    alt: Index,
    /// Whether flows are in the second index too.
    with_alt: bool,
    lists: [List; LISTS],
    /// Free slots, linked through `next`.
    free: u32,
    len: usize,
    seed: u64,
    /// Flows removed because they had expired.
    pub(crate) expired: u64,
}

impl<A: FlowAddress> Table<A> {
    /// A table of `capacity` flows, all allocated now; `alt`: with a second index.
    ///
    /// # Panics
    /// If the capacity is 0 or above 2^31.
    pub(crate) fn new(capacity: usize, seed: u64, alt: bool) -> Self {
        assert!(capacity > 0 && capacity < 1 << 31, "capacity out of range");
        let mut entries = vec![Entry::FREE; capacity].into_boxed_slice();
        for (i, entry) in entries.iter_mut().enumerate() {
            entry.next = if i + 1 < capacity { (i + 1) as u32 } else { NIL };
        }
        Self {
            entries,
            index: Index::with_capacity(capacity),
            alt: Index::with_capacity(if alt { capacity } else { 0 }),
            with_alt: alt,
            lists: [List { oldest: NIL, newest: NIL }; LISTS],
            free: 0,
            len: 0,
            seed,
            expired: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn capacity(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        size_of_val(&*self.entries) + self.index.memory_bytes() + self.alt.memory_bytes()
    }

    #[inline(always)]
    pub(crate) fn entry(&self, i: u32) -> &Entry<A> {
        &self.entries[i as usize]
    }

    #[inline(always)]
    pub(crate) fn entry_mut(&mut self, i: u32) -> &mut Entry<A> {
        &mut self.entries[i as usize]
    }

    /// The slot of flow `key`, live or expired.
    #[inline(always)]
    pub(crate) fn find(&self, key: &FlowKey<A>) -> Option<u32> {
        let hash = key.hash(self.seed);
        self.index.find(hash, |i| self.entries[i as usize].key == *key)
    }

    /// The slot in the second index under `hash` whose flow `is`.
    #[inline]
    pub(crate) fn find_alt(&self, hash: u32, is: impl Fn(&Entry<A>) -> bool) -> Option<u32> {
        self.alt.find(hash, |i| is(&self.entries[i as usize]))
    }

    /// The TCP state of flow `key`, if it is a tracked TCP flow (live or not yet swept).
    pub(crate) fn tcp_state(&self, key: &FlowKey<A>) -> Option<TcpState> {
        let i = self.find(key)?;
        (key.protocol == 6).then(|| TcpState::from_u8(self.entry(i).state))
    }

    #[inline(always)]
    pub(crate) fn is_expired(&self, i: u32, now: u64) -> bool {
        now >= self.entries[i as usize].deadline
    }

    // ---- the lists ---------------------------------------------------------------------

    fn unlink(&mut self, i: u32) {
        let Entry { prev, next, list, .. } = self.entries[i as usize];
        let list = usize::from(list);
        match prev {
            NIL => self.lists[list].oldest = next,
            p => self.entries[p as usize].next = next,
        }
        match next {
            NIL => self.lists[list].newest = prev,
            n => self.entries[n as usize].prev = prev,
        }
    }

    fn push_newest(&mut self, i: u32, list: u8) {
        let newest = self.lists[usize::from(list)].newest;
        let entry = &mut self.entries[i as usize];
        entry.list = list;
        entry.prev = newest;
        entry.next = NIL;
        match newest {
            NIL => self.lists[usize::from(list)].oldest = i,
            n => self.entries[n as usize].next = i,
        }
        self.lists[usize::from(list)].newest = i;
    }

    // ---- flows -------------------------------------------------------------------------

    /// A packet of flow `i` passed, from the end that opened it or not: its state moves
    /// on, its deadline is pushed back, and it moves to the newest end of its (maybe
    /// new) list — at most once a second if the list is unchanged, so the packets of a
    /// busy flow do not each rewrite two neighbours' links.
    #[inline]
    pub(crate) fn advance(
        &mut self,
        i: u32,
        from_originator: bool,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now: u64,
    ) {
        let entry = &mut self.entries[i as usize];
        let state = match entry.key.protocol {
            // Most segments carry no SYN, FIN or RST: they change no state.
            6 if tcp_flags & (flags::SYN | flags::FIN | flags::RST) != 0 => {
                TcpState::from_u8(entry.state).next(tcp_flags, from_originator) as u8
            }
            17 => udp_next(entry.state, from_originator),
            _ => entry.state,
        };
        let class = if state == entry.state {
            // The class the flow is in already.
            Class::ALL[usize::from(entry.class) % CLASSES]
        } else {
            entry.state = state;
            Class::of(entry.key.protocol, state)
        };
        let changed = class as u8 != entry.class;
        let timeout = timeouts.get(class);
        entry.deadline = now + timeout;
        let second = second(now);
        // The list is decided when the class changes, and at most once a second otherwise
        // (an interface's new timeouts move its flows within a second of their packets).
        if changed || entry.linked_at != second {
            entry.class = class as u8;
            entry.linked_at = second;
            let list = list_of(class, timeout);
            if entry.list != list || self.lists[usize::from(list)].newest != i {
                self.unlink(i);
                self.push_newest(i, list);
            }
        }
    }

    /// A free slot: from the free list, or the first expired flow among the oldest
    /// `scan` of each list. `None`: full of live flows (as far as that look goes).
    pub(crate) fn take_slot(&mut self, now: u64, scan: usize) -> Option<u32> {
        if self.free == NIL {
            self.reclaim(now, scan, 1);
        }
        match self.free {
            NIL => None,
            i => {
                self.free = self.entries[i as usize].next;
                Some(i)
            }
        }
    }

    /// Gives back a slot taken and not filled.
    pub(crate) fn release(&mut self, i: u32) {
        self.entries[i as usize] = Entry { next: self.free, ..Entry::FREE };
        self.free = i;
    }

    /// Fills slot `i` (from [`Table::take_slot`]) with a new flow, opened by the local end
    /// of `key` (`orig_local`) or the remote one with a packet carrying `tcp_flags`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fill(
        &mut self,
        i: u32,
        key: FlowKey<A>,
        value: u32,
        alt_hash: Option<u32>,
        orig_local: bool,
        tcp_flags: u8,
        timeouts: &Timeouts,
        now: u64,
    ) {
        let state = match key.protocol {
            6 => TcpState::initial(tcp_flags) as u8,
            _ => UDP_SENT,
        };
        let class = Class::of(key.protocol, state);
        let timeout = timeouts.get(class);
        let hash = key.hash(self.seed);
        debug_assert_eq!(alt_hash.is_some(), self.with_alt, "a second index or none, for all");
        self.entries[i as usize] = Entry {
            key,
            value,
            hash,
            alt_hash: alt_hash.unwrap_or(0),
            deadline: now + timeout,
            linked_at: second(now),
            prev: NIL,
            next: NIL,
            state,
            class: class as u8,
            list: 0,
            orig_local,
        };
        self.index.insert(hash, i);
        if let Some(alt) = alt_hash {
            self.alt.insert(alt, i);
        }
        self.push_newest(i, list_of(class, timeout));
        self.len += 1;
    }

    /// Removes flow `i` from the indexes and its list, and frees its slot.
    pub(crate) fn remove(&mut self, i: u32) {
        let e = self.entries[i as usize];
        debug_assert_ne!(e.class, FREE_CLASS, "removing a free slot");
        let entries = &self.entries;
        self.index.remove(e.hash, i, |j| entries[j as usize].hash);
        if self.with_alt {
            self.alt.remove(e.alt_hash, i, |j| entries[j as usize].alt_hash);
        }
        self.unlink(i);
        self.release(i);
        self.len -= 1;
    }

    /// [`Table::remove`] of a flow found expired.
    pub(crate) fn remove_expired(&mut self, i: u32) {
        self.remove(i);
        self.expired += 1;
    }

    /// Removes expired flows, oldest first in each list, looking at no more than
    /// `budget` flows of each list and stopping after `enough`. Returns how many went.
    pub(crate) fn reclaim(&mut self, now: u64, budget: usize, enough: usize) -> usize {
        let mut removed = 0;
        for list in 0..LISTS {
            let mut at = self.lists[list].oldest;
            for _ in 0..budget {
                if at == NIL || removed == enough {
                    break;
                }
                let next = self.entries[at as usize].next;
                if self.is_expired(at, now) {
                    self.remove_expired(at);
                    removed += 1;
                }
                at = next;
            }
        }
        removed
    }
}
