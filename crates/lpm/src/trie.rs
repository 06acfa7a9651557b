//! The frozen table: a Poptrie with a direct-pointing root.
//!
//! Layout (Asai and Ohara, "Poptrie", SIGCOMM 2015, with our own code):
//!
//! * `direct` is indexed by the top `direct_bits` bits of the address. Each entry is either
//!   a leaf (top bit set; the low 31 bits are the value) or the index of a node.
//! * A node covers the next [`STRIDE`] (6) bits, i.e. 64 slots. Bit `v` of `vector` says
//!   slot `v` continues in a child node; children of a node are contiguous in `nodes`
//!   from `child_base`, so the child of slot `v` is `child_base + popcount(vector below v)`.
//! * Slots that end in a leaf share runs: bit `v` of `leafvec` is set where a run of equal
//!   leaves starts, so the leaf of slot `v` is run number `popcount(leafvec up to v) - 1`.
//!   The first [`INLINE`] (10) runs are stored in the node itself, which fills it to one
//!   64-byte cache line; further runs are contiguous in `leaves` from `leaf_base`.
//!
//! A lookup is one load from `direct` and, for prefixes longer than `direct_bits`, one
//! cache line per further 6 bits, each followed by a popcount; only nodes with more than
//! ten leaf runs cost one more load. Nothing is allocated and nothing is written.
//! Inline leaves cost memory (64-byte nodes instead of 24) and bought 25–35 % on tables
//! that do not fit in cache (`docs/performance.md`).
//!
//! A table of at most [`Address::SHORT_MAX`] prefixes (IPv6: 8) is also kept as a list,
//! longest prefix first, and looked up by scanning it: a VPC's IPv6 table is a few
//! prefixes of 56 bits and more, eight trie levels deep below a 12-bit root, where a
//! handful of masked compares is a third of the time. The trie is built too, for batch
//! lookups and the table's statistics.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::addr::{Address, Key};

/// Bits consumed per node: 64 slots, so a node's bitmaps are `u64`s.
const STRIDE: u32 = 6;
const FANOUT: usize = 1 << STRIDE;

/// Direct-table entry flag: the entry is a leaf, not a node index.
const LEAF: u32 = 1 << 31;
/// Leaf payload meaning "no route covers this address".
const NO_ROUTE: u32 = LEAF - 1;

/// The largest value a route may carry. Values are handles into a next-hop array the
/// caller owns; 31 bits of them leave room for the leaf flag.
pub const MAX_VALUE: u32 = NO_ROUTE - 1;

/// Tables with at most this many prefixes get a 12-bit direct table (16 KiB); larger
/// ones an 18-bit (IPv4, 1 MiB) or 16-bit (IPv6, 256 KiB) one. See `docs/performance.md`
/// for the measurements behind the choice.
const SMALL_TABLE: usize = 1 << 14;
const SMALL_DIRECT_BITS: u32 = 12;
const LARGE_DIRECT_BITS_V4: u32 = 18;
const LARGE_DIRECT_BITS_V6: u32 = 16;

/// The largest direct table a builder accepts (2^24 entries, 64 MiB: DIR-24-8's first level).
pub const MAX_DIRECT_BITS: u32 = 24;

/// Leaves stored in the node itself, filling it to one cache line.
const INLINE: usize = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
struct Node {
    vector: u64,
    leafvec: u64,
    leaf_base: u32,
    child_base: u32,
    inline: [u32; INLINE],
}

#[inline(always)]
fn decode(leaf: u32) -> Option<u32> {
    if leaf == NO_ROUTE { None } else { Some(leaf) }
}

/// A value given to [`Builder::insert`] was larger than [`MAX_VALUE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueOutOfRange(pub u32);

impl fmt::Display for ValueOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "route value {} is larger than the maximum {MAX_VALUE}", self.0)
    }
}

impl std::error::Error for ValueOutOfRange {}

/// Collects `(prefix, value)` pairs and compiles them into an [`Lpm`].
///
/// Host bits of a prefix are ignored (`10.0.0.7/8` is `10.0.0.0/8`). When the same prefix
/// is inserted twice, the **last write wins**, as in a map: the compiled table is a
/// function of the final route set, and rejecting duplicates (AWS's
/// `RouteAlreadyExists`) is the control plane's job, which knows the route's origin.
pub struct Builder<A: Address> {
    routes: Vec<(A::Key, u8, u32)>,
    direct_bits: Option<u32>,
}

impl<A: Address> fmt::Debug for Builder<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("routes", &self.routes.len())
            .field("direct_bits", &self.direct_bits)
            .finish()
    }
}

impl<A: Address> Default for Builder<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Address> Builder<A> {
    /// An empty builder.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty builder with room for `routes` inserts.
    pub fn with_capacity(routes: usize) -> Self {
        Self { routes: Vec::with_capacity(routes), direct_bits: None }
    }

    /// Overrides the size of the direct-pointing root table: `2^bits` entries of 4 bytes.
    /// The default depends on the number of prefixes (see the crate docs).
    ///
    /// # Panics
    /// If `bits` is 0 or larger than [`MAX_DIRECT_BITS`] or the address width.
    pub fn direct_bits(mut self, bits: u32) -> Self {
        assert!(
            (1..=MAX_DIRECT_BITS.min(<A::Key as Key>::BITS)).contains(&bits),
            "direct_bits must be between 1 and {MAX_DIRECT_BITS}"
        );
        self.direct_bits = Some(bits);
        self
    }

    /// Adds a route. Replaces the value of an equal prefix inserted earlier.
    pub fn insert(&mut self, prefix: A::Net, value: u32) -> Result<(), ValueOutOfRange> {
        if value > MAX_VALUE {
            return Err(ValueOutOfRange(value));
        }
        let (key, len) = A::net_parts(&prefix);
        self.routes.push((key, len, value));
        Ok(())
    }

    /// Number of inserts so far (duplicates included).
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Compiles the routes into a frozen table.
    pub fn build(mut self) -> Lpm<A> {
        // Sort by (network, length): a prefix sorts before every prefix nested in it, so
        // writing the slots of each prefix in this order leaves every slot holding its
        // longest match. The sort is stable, so among equal prefixes the last insert is
        // last; `dedup_by` keeps the first of a run, so move the last value into it.
        self.routes.sort_by_key(|&(key, len, _)| (key, len));
        self.routes.dedup_by(|later, kept| {
            let same = later.0 == kept.0 && later.1 == kept.1;
            if same {
                kept.2 = later.2;
            }
            same
        });

        let direct_bits = self.direct_bits.unwrap_or(match self.routes.len() {
            n if n <= SMALL_TABLE => SMALL_DIRECT_BITS,
            _ if <A::Key as Key>::BITS == 32 => LARGE_DIRECT_BITS_V4,
            _ => LARGE_DIRECT_BITS_V6,
        });
        let nodes = node_count(&self.routes, direct_bits);
        let table =
            Compiler { routes: &self.routes, nodes: Vec::with_capacity(nodes), leaves: Vec::new() }
                .compile(direct_bits);
        debug_assert_eq!(table.nodes.len(), nodes, "node_count is exact");
        table
    }
}

/// The list of a short table's `routes` (no duplicates), longest prefix first (nested
/// prefixes then come inner first, and equal lengths do not overlap); empty for a longer
/// table.
fn short<A: Address>(routes: &[(A::Key, u8, u32)]) -> Arc<[Short<A::Key>]> {
    if routes.len() > A::SHORT_MAX {
        return Arc::from([]);
    }
    let mut list: Vec<Short<A::Key>> = routes
        .iter()
        .map(|&(network, len, value)| Short { network, mask: A::Key::mask(len), value })
        .collect();
    list.sort_by_key(|s| std::cmp::Reverse(s.mask));
    list.into()
}

/// The number of nodes the trie of `routes` (sorted, no duplicates) will have: one per
/// distinct stride-aligned prefix, past the root table, that some route extends beyond.
/// Sizing the node array exactly up front saves the copies of a growing vector.
fn node_count<K: Key>(routes: &[(K, u8, u32)], direct_bits: u32) -> usize {
    let mut count = 0;
    let mut boundary = direct_bits;
    while boundary < K::BITS {
        let len = u8::try_from(boundary).expect("boundary below 128");
        let mut last = None;
        for &(key, route_len, _) in routes {
            if route_len > len {
                let stem = key.prefix(len);
                if last != Some(stem) {
                    count += 1;
                    last = Some(stem);
                }
            }
        }
        boundary += STRIDE;
    }
    count
}

struct Compiler<'r, K> {
    /// Sorted by (key, len), no duplicates.
    routes: &'r [(K, u8, u32)],
    nodes: Vec<Node>,
    leaves: Vec<u32>,
}

impl<K: Key> Compiler<'_, K> {
    fn compile<A: Address<Key = K>>(mut self, direct_bits: u32) -> Lpm<A> {
        let mut direct = vec![LEAF | NO_ROUTE; 1 << direct_bits];
        // Routes that end within the direct table: expand them into its slots.
        for &(key, len, value) in self.routes {
            let len = u32::from(len);
            if len <= direct_bits {
                let first = key.chunk(0, direct_bits);
                direct[first..first + (1 << (direct_bits - len))].fill(LEAF | value);
            }
        }
        // Routes that go deeper: one subtree per direct slot they pass through.
        for (slot, lo, hi) in Groups::new(self.routes, 0, self.routes.len(), 0, direct_bits) {
            let inherited = direct[slot] & !LEAF;
            let at = self.alloc(1);
            self.fill(at, lo, hi, direct_bits, inherited);
            direct[slot] = u32::try_from(at).expect("fewer than 2^31 nodes");
        }
        Lpm {
            direct: direct.into(),
            nodes: self.nodes.into(),
            leaves: self.leaves.into(),
            short: short::<A>(self.routes),
            direct_bits,
            routes: self.routes.len(),
            family: PhantomData,
        }
    }

    fn alloc(&mut self, count: usize) -> usize {
        let at = self.nodes.len();
        self.nodes.resize(at + count, Node::default());
        at
    }

    /// Fills node `at`, which covers bits `[offset, offset + STRIDE)` of the routes in
    /// `routes[lo..hi]` (all of which agree on the bits before `offset`). Routes not longer
    /// than `offset` are already accounted for in `inherited`, the longest match of the
    /// node's whole range among shorter prefixes.
    fn fill(&mut self, at: usize, lo: usize, hi: usize, offset: u32, inherited: u32) {
        let end = offset + STRIDE;
        let mut slots = [inherited; FANOUT];
        for &(key, len, value) in &self.routes[lo..hi] {
            let len = u32::from(len);
            if len > offset && len <= end {
                let first = key.chunk(offset, STRIDE);
                slots[first..first + (1 << (end - len))].fill(value);
            }
        }

        let mut vector = 0u64;
        for (slot, _, _) in Groups::new(self.routes, lo, hi, offset, STRIDE) {
            vector |= 1 << slot;
        }

        // Leaf runs. A slot with a child never starts a run: give it the value of the
        // slot before it (or, for slot 0, of the first leaf slot) and the runs fall out
        // of a branch-free comparison of neighbours.
        let mut leaves = slots;
        let mut internal = vector;
        while internal != 0 {
            let slot = internal.trailing_zeros() as usize;
            internal &= internal - 1;
            leaves[slot] = match slot {
                0 => slots[(!vector).trailing_zeros() as usize % FANOUT],
                _ => leaves[slot - 1],
            };
        }
        // Runs can only start at slot 0, where a route's range starts or ends, or just
        // after a child; test those candidates.
        let mut candidates = 1 | (vector << 1);
        for &(key, len, _) in &self.routes[lo..hi] {
            let len = u32::from(len);
            if len > offset && len <= end {
                let first = key.chunk(offset, STRIDE);
                let past = u32::try_from(first).expect("slot below 64") + (1 << (end - len));
                candidates |= (1 << first) | 1u64.checked_shl(past).unwrap_or(0);
            }
        }
        let mut leafvec = 0u64;
        while candidates != 0 {
            let slot = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if slot == 0 || leaves[slot] != leaves[slot - 1] {
                leafvec |= 1 << slot;
            }
        }
        if vector == u64::MAX {
            leafvec = 0;
        }
        let leaf_base = self.leaves.len();
        let mut inline = [NO_ROUTE; INLINE];
        let mut runs = leafvec;
        let mut run = 0;
        while runs != 0 {
            let leaf = leaves[runs.trailing_zeros() as usize];
            runs &= runs - 1;
            match inline.get_mut(run) {
                Some(place) => *place = leaf,
                None => self.leaves.push(leaf),
            }
            run += 1;
        }

        let child_base = self.alloc(vector.count_ones() as usize);
        self.nodes[at] = Node {
            vector,
            leafvec,
            leaf_base: u32::try_from(leaf_base).expect("fewer than 2^32 leaves"),
            child_base: u32::try_from(child_base).expect("fewer than 2^31 nodes"),
            inline,
        };
        let groups = Groups::new(self.routes, lo, hi, offset, STRIDE);
        for (child, (slot, lo, hi)) in (child_base..).zip(groups) {
            self.fill(child, lo, hi, end, slots[slot]);
        }
    }
}

/// Iterates over the slots of a stride `[offset, offset + width)` that routes longer than
/// the stride pass through, yielding `(slot, lo, hi)`: the slot and the range of routes
/// whose key falls in it. Keys are sorted, so each slot's routes are contiguous; the range
/// may include shorter routes that start in the slot, which the child skips.
struct Groups<'r, K> {
    routes: &'r [(K, u8, u32)],
    next: usize,
    end: usize,
    offset: u32,
    width: u32,
}

impl<'r, K: Key> Groups<'r, K> {
    fn new(routes: &'r [(K, u8, u32)], lo: usize, hi: usize, offset: u32, width: u32) -> Self {
        Self { routes, next: lo, end: hi, offset, width }
    }
}

impl<K: Key> Iterator for Groups<'_, K> {
    type Item = (usize, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let deeper = self.offset + self.width;
        // Skip to the next route that continues past this stride.
        let lo = self.next
            + self.routes[self.next..self.end].iter().position(|r| u32::from(r.1) > deeper)?;
        let slot = self.routes[lo].0.chunk(self.offset, self.width);
        let hi = lo
            + self.routes[lo..self.end]
                .iter()
                .position(|r| r.0.chunk(self.offset, self.width) != slot)
                .unwrap_or(self.end - lo);
        self.next = hi;
        Some((slot, lo, hi))
    }
}

/// A frozen longest-prefix-match table for one address family.
///
/// Build it with [`Builder`]; look addresses up with [`Lpm::lookup`] or, many at a time,
/// [`Lpm::lookup_batch`]. Lookups take `&self`, allocate nothing and never fail: an
/// address no route covers gives `None`.
///
/// Frozen, its arrays are shared: a clone costs three reference counts, not a copy, so
/// that a forwarding snapshot can keep the tables that did not change from the one
/// before. A lookup reads them as it would boxed ones (no load more).
pub struct Lpm<A: Address> {
    direct: Arc<[u32]>,
    nodes: Arc<[Node]>,
    leaves: Arc<[u32]>,
    /// The prefixes of a short table, longest first; empty otherwise.
    short: Arc<[Short<A::Key>]>,
    direct_bits: u32,
    routes: usize,
    family: PhantomData<fn() -> A>,
}

/// A prefix of a short table and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Short<K> {
    network: K,
    mask: K,
    value: u32,
}

impl<A: Address> Clone for Lpm<A> {
    fn clone(&self) -> Self {
        Self {
            direct: Arc::clone(&self.direct),
            nodes: Arc::clone(&self.nodes),
            leaves: Arc::clone(&self.leaves),
            short: Arc::clone(&self.short),
            direct_bits: self.direct_bits,
            routes: self.routes,
            family: PhantomData,
        }
    }
}

/// Equal tables answer every lookup alike: built from the same routes, they hold the
/// same arrays.
impl<A: Address> PartialEq for Lpm<A> {
    fn eq(&self, other: &Self) -> bool {
        self.direct_bits == other.direct_bits
            && self.routes == other.routes
            && self.direct == other.direct
            && self.nodes == other.nodes
            && self.leaves == other.leaves
    }
}

impl<A: Address> Eq for Lpm<A> {}

impl<A: Address> fmt::Debug for Lpm<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lpm")
            .field("routes", &self.routes)
            .field("direct_bits", &self.direct_bits)
            .field("nodes", &self.nodes.len())
            .field("leaves", &self.leaves.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

impl<A: Address> Default for Lpm<A> {
    /// The empty table: every lookup gives `None`.
    fn default() -> Self {
        Builder::new().direct_bits(1).build()
    }
}

impl<A: Address> Lpm<A> {
    /// Compiles `routes`; see [`Builder`] for the rules (host bits ignored, last write wins).
    pub fn from_routes(
        routes: impl IntoIterator<Item = (A::Net, u32)>,
    ) -> Result<Self, ValueOutOfRange> {
        let mut builder = Builder::new();
        for (prefix, value) in routes {
            builder.insert(prefix, value)?;
        }
        Ok(builder.build())
    }

    /// The value of the longest prefix containing `addr`.
    #[inline(always)]
    pub fn lookup(&self, addr: A) -> Option<u32> {
        self.lookup_key(addr.to_key())
    }

    /// [`Lpm::lookup`] on the address as an integer, as read from a packet with
    /// `from_be_bytes`.
    #[inline(always)]
    pub fn lookup_key(&self, key: A::Key) -> Option<u32> {
        if A::SHORT_MAX > 0 && !self.short.is_empty() {
            return self.scan(key);
        }
        self.resolve(key, self.direct[key.chunk(0, self.direct_bits)])
    }

    /// A short table's lookup: its first (longest) prefix holding `key`.
    #[inline(always)]
    fn scan(&self, key: A::Key) -> Option<u32> {
        self.short.iter().find(|s| key.within(s.network, s.mask)).map(|s| s.value)
    }

    /// Looks up every key in `keys`, writing the results to the same positions of `out`.
    ///
    /// Faster than a loop over [`Lpm::lookup_key`] on tables that do not fit in cache:
    /// the direct-table loads of a group of keys are issued together, so their cache
    /// misses overlap.
    ///
    /// # Panics
    /// If `keys` and `out` differ in length.
    pub fn lookup_batch(&self, keys: &[A::Key], out: &mut [Option<u32>]) {
        const GROUP: usize = 8;
        assert_eq!(keys.len(), out.len(), "lookup_batch needs one output per key");
        let mut keys = keys.chunks_exact(GROUP);
        let mut outs = out.chunks_exact_mut(GROUP);
        for (keys, out) in (&mut keys).zip(&mut outs) {
            let mut entries = [0u32; GROUP];
            for (entry, &key) in entries.iter_mut().zip(keys) {
                *entry = self.direct[key.chunk(0, self.direct_bits)];
            }
            for ((out, &key), &entry) in out.iter_mut().zip(keys).zip(&entries) {
                *out = self.resolve(key, entry);
            }
        }
        for (out, &key) in outs.into_remainder().iter_mut().zip(keys.remainder()) {
            *out = self.lookup_key(key);
        }
    }

    #[inline(always)]
    fn resolve(&self, key: A::Key, entry: u32) -> Option<u32> {
        if entry & LEAF != 0 {
            return decode(entry & !LEAF);
        }
        let mut node = &self.nodes[entry as usize];
        let mut offset = self.direct_bits;
        loop {
            let bit = 1u64 << key.chunk(offset, STRIDE);
            if node.vector & bit == 0 {
                return self.leaf(node, bit);
            }
            let child = (node.vector & (bit - 1)).count_ones() as usize;
            node = &self.nodes[node.child_base as usize + child];
            offset += STRIDE;
        }
    }

    /// The leaf of the slot `bit` of `node`, which has no child there.
    #[inline(always)]
    fn leaf(&self, node: &Node, bit: u64) -> Option<u32> {
        let run = (node.leafvec & (bit | (bit - 1))).count_ones() as usize - 1;
        decode(match node.inline.get(run) {
            Some(&leaf) => leaf,
            None => self.leaves[node.leaf_base as usize + run - INLINE],
        })
    }

    /// Number of distinct prefixes in the table.
    pub fn len(&self) -> usize {
        self.routes
    }

    /// Whether the table has no routes.
    pub fn is_empty(&self) -> bool {
        self.routes == 0
    }

    /// Heap bytes held by the table.
    pub fn memory_bytes(&self) -> usize {
        size_of_val(&*self.direct)
            + size_of_val(&*self.nodes)
            + size_of_val(&*self.leaves)
            + size_of_val(&*self.short)
    }

    /// Size of the direct-pointing root table, in address bits.
    pub fn direct_bits(&self) -> u32 {
        self.direct_bits
    }

    /// Number of 64-slot nodes below the root table.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Whether `other` is a clone of this table (they share their arrays).
    pub fn shares(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.direct, &other.direct)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::{Lpm4, Lpm6};

    fn v4(routes: &[(&str, u32)]) -> Lpm4 {
        Lpm4::from_routes(routes.iter().map(|&(p, v)| (p.parse().unwrap(), v))).unwrap()
    }

    fn v6(routes: &[(&str, u32)]) -> Lpm6 {
        Lpm6::from_routes(routes.iter().map(|&(p, v)| (p.parse().unwrap(), v))).unwrap()
    }

    fn at(table: &Lpm4, addr: &str) -> Option<u32> {
        table.lookup(addr.parse().unwrap())
    }

    fn at6(table: &Lpm6, addr: &str) -> Option<u32> {
        table.lookup(addr.parse().unwrap())
    }

    #[test]
    fn empty_table_matches_nothing() {
        let table = Lpm4::default();
        assert!(table.is_empty());
        assert_eq!(at(&table, "0.0.0.0"), None);
        assert_eq!(at(&table, "255.255.255.255"), None);
        let built = Builder::<Ipv6Addr>::new().build();
        assert_eq!(at6(&built, "::"), None);
        assert_eq!(at6(&built, "ffff::1"), None);
    }

    #[test]
    fn default_route_matches_everything() {
        let table = v4(&[("0.0.0.0/0", 7)]);
        for addr in ["0.0.0.0", "10.1.2.3", "255.255.255.255"] {
            assert_eq!(at(&table, addr), Some(7), "{addr}");
        }
        let table = v6(&[("::/0", 9)]);
        assert_eq!(at6(&table, "::"), Some(9));
        assert_eq!(at6(&table, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(9));
    }

    #[test]
    fn host_routes_match_one_address() {
        let table = v4(&[("10.0.0.5/32", 1), ("255.255.255.255/32", 2), ("0.0.0.0/32", 3)]);
        assert_eq!(at(&table, "10.0.0.5"), Some(1));
        assert_eq!(at(&table, "10.0.0.4"), None);
        assert_eq!(at(&table, "10.0.0.6"), None);
        assert_eq!(at(&table, "255.255.255.255"), Some(2));
        assert_eq!(at(&table, "255.255.255.254"), None);
        assert_eq!(at(&table, "0.0.0.0"), Some(3));
        assert_eq!(at(&table, "0.0.0.1"), None);

        let table = v6(&[("2001:db8::1/128", 1), ("::/128", 2)]);
        assert_eq!(at6(&table, "2001:db8::1"), Some(1));
        assert_eq!(at6(&table, "2001:db8::"), None);
        assert_eq!(at6(&table, "2001:db8::2"), None);
        assert_eq!(at6(&table, "::"), Some(2));
        assert_eq!(at6(&table, "::1"), None);
    }

    #[test]
    fn nested_prefixes_pick_the_longest() {
        let table = v4(&[
            ("0.0.0.0/0", 0),
            ("10.0.0.0/8", 1),
            ("10.0.0.0/16", 2),
            ("10.0.1.0/24", 3),
            ("10.0.1.128/25", 4),
            ("10.0.1.129/32", 5),
        ]);
        assert_eq!(at(&table, "11.0.0.0"), Some(0));
        assert_eq!(at(&table, "10.200.0.0"), Some(1));
        assert_eq!(at(&table, "10.0.200.1"), Some(2));
        assert_eq!(at(&table, "10.0.1.1"), Some(3));
        assert_eq!(at(&table, "10.0.1.128"), Some(4));
        assert_eq!(at(&table, "10.0.1.129"), Some(5));
        assert_eq!(at(&table, "10.0.1.130"), Some(4));
        assert_eq!(at(&table, "10.0.1.255"), Some(4));
        assert_eq!(at(&table, "10.0.2.0"), Some(2));
    }

    #[test]
    fn insertion_order_does_not_matter_for_distinct_prefixes() {
        let a = v4(&[("10.0.1.0/24", 3), ("10.0.0.0/8", 1), ("10.0.0.0/16", 2)]);
        let b = v4(&[("10.0.0.0/16", 2), ("10.0.1.0/24", 3), ("10.0.0.0/8", 1)]);
        for addr in ["10.0.1.7", "10.0.9.9", "10.9.9.9", "11.0.0.0"] {
            assert_eq!(at(&a, addr), at(&b, addr), "{addr}");
        }
    }

    #[test]
    fn overlapping_siblings_and_gaps() {
        // Two /17s under a /16 with a hole between the /24s of the second.
        let table = v4(&[
            ("172.16.0.0/16", 1),
            ("172.16.0.0/17", 2),
            ("172.16.128.0/24", 3),
            ("172.16.130.0/24", 4),
        ]);
        assert_eq!(at(&table, "172.16.127.255"), Some(2));
        assert_eq!(at(&table, "172.16.128.10"), Some(3));
        assert_eq!(at(&table, "172.16.129.10"), Some(1));
        assert_eq!(at(&table, "172.16.130.10"), Some(4));
        assert_eq!(at(&table, "172.17.0.0"), None);
    }

    #[test]
    fn duplicate_prefix_last_write_wins() {
        let table = v4(&[("10.0.0.0/16", 1), ("10.0.0.0/24", 5), ("10.0.0.0/16", 2)]);
        assert_eq!(table.len(), 2);
        assert_eq!(at(&table, "10.0.9.1"), Some(2));
        assert_eq!(at(&table, "10.0.0.1"), Some(5));
        // Host bits are ignored, so these are the same prefix too.
        let table = v4(&[("10.0.0.0/8", 1), ("10.9.9.9/8", 2)]);
        assert_eq!(table.len(), 1);
        assert_eq!(at(&table, "10.0.0.1"), Some(2));
    }

    #[test]
    fn values_above_max_are_rejected() {
        let mut builder = Builder::<Ipv4Addr>::new();
        let net = "10.0.0.0/8".parse().unwrap();
        assert_eq!(builder.insert(net, MAX_VALUE + 1), Err(ValueOutOfRange(MAX_VALUE + 1)));
        assert_eq!(builder.insert(net, u32::MAX), Err(ValueOutOfRange(u32::MAX)));
        builder.insert(net, MAX_VALUE).unwrap();
        let table = builder.build();
        assert_eq!(at(&table, "10.1.1.1"), Some(MAX_VALUE));
    }

    #[test]
    fn every_direct_width_gives_the_same_answers() {
        let routes = [
            ("0.0.0.0/0", 0),
            ("128.0.0.0/1", 1),
            ("10.0.0.0/7", 2),
            ("10.64.0.0/10", 3),
            ("10.64.3.0/24", 4),
            ("10.64.3.3/32", 5),
            ("10.64.3.2/31", 6),
            ("192.168.0.0/18", 7),
            ("192.168.0.0/19", 8),
        ];
        let probes = [
            "0.0.0.0",
            "9.255.255.255",
            "10.0.0.0",
            "11.255.255.255",
            "10.64.0.0",
            "10.127.0.1",
            "10.64.3.1",
            "10.64.3.2",
            "10.64.3.3",
            "10.64.3.4",
            "192.168.31.255",
            "192.168.32.0",
            "192.168.64.0",
            "255.255.255.255",
        ];
        let reference = v4(&routes);
        for bits in 1..=MAX_DIRECT_BITS {
            let mut builder = Builder::new().direct_bits(bits);
            for (p, v) in routes {
                builder.insert(p.parse().unwrap(), v).unwrap();
            }
            let table = builder.build();
            assert_eq!(table.direct_bits(), bits);
            for probe in probes {
                assert_eq!(at(&table, probe), at(&reference, probe), "{probe} at {bits} bits");
            }
        }
    }

    #[test]
    fn deep_ipv6_prefixes() {
        let table = v6(&[
            ("2001:db8::/32", 1),
            ("2001:db8:0:1::/64", 2),
            ("2001:db8:0:1::ab00/120", 3),
            ("2001:db8:0:1::abcd/127", 4),
            ("fe80::/10", 5),
        ]);
        assert_eq!(at6(&table, "2001:db8:ffff::1"), Some(1));
        assert_eq!(at6(&table, "2001:db8:0:1:ffff::1"), Some(2));
        assert_eq!(at6(&table, "2001:db8:0:1::ab01"), Some(3));
        assert_eq!(at6(&table, "2001:db8:0:1::abcb"), Some(3));
        // The /127 covers abcc and abcd.
        assert_eq!(at6(&table, "2001:db8:0:1::abcc"), Some(4));
        assert_eq!(at6(&table, "2001:db8:0:1::abcd"), Some(4));
        assert_eq!(at6(&table, "2001:db8:0:1::abce"), Some(3));
        assert_eq!(at6(&table, "fe80::1"), Some(5));
        assert_eq!(at6(&table, "2001:db9::"), None);
    }

    #[test]
    fn batch_lookup_agrees_with_single_lookups() {
        let table = v4(&[("10.0.0.0/8", 1), ("10.1.0.0/16", 2), ("10.1.1.1/32", 3)]);
        let keys: Vec<u32> = (0..37u32).map(|i| 0x0A01_0100 + i * 0x0000_7F01).collect();
        let mut out = vec![None; keys.len()];
        table.lookup_batch(&keys, &mut out);
        for (key, got) in keys.iter().zip(&out) {
            assert_eq!(*got, table.lookup_key(*key), "{}", Ipv4Addr::from(*key));
        }
    }

    #[test]
    fn memory_accounts_for_every_array() {
        let table = v4(&[("10.0.0.0/8", 1), ("10.1.1.1/32", 3)]);
        assert_eq!(table.direct_bits(), SMALL_DIRECT_BITS);
        // The /32 needs nodes at bits 12, 18, 24 and 30.
        assert_eq!(table.node_count(), 4);
        assert!(table.memory_bytes() >= (4 << SMALL_DIRECT_BITS) + 4 * size_of::<Node>());
    }
}
