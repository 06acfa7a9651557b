//! An open-addressing index from a hashed key to a flow's slot number.
//!
//! Linear probing over a power-of-two table kept at most half full, so probes stay
//! short. Each position has a one-byte tag (0: empty; otherwise 7 bits of the key's
//! hash with the top bit set) in one array and the slot number in another: a lookup
//! reads tags until an empty one and looks at a slot, and then a flow, only when a tag
//! matches. A miss — the common case for new flows and floods of them — usually touches
//! one byte of the tag array, which stays cache-resident far longer than the slots.
//! Deletion shifts later entries of the probe run back (no tombstones); it asks the
//! caller for the hash of a slot it moves, which the caller keeps with the flow.

#[derive(Debug)]
pub(crate) struct Index {
    tags: Box<[u8]>,
    slots: Box<[u32]>,
    mask: usize,
}

#[inline(always)]
fn tag(hash: u32) -> u8 {
    (hash >> 25) as u8 | 0x80
}

impl Index {
    /// An index for up to `capacity` keys.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let size = (capacity.max(8) * 2).next_power_of_two();
        // Written once here, so that lookups read memory of this table's own rather than
        // the kernel's shared zero page of never-written memory (measured slower: every
        // miss then stalls on it; see docs/performance.md).
        let mut tags = vec![u8::MAX; size].into_boxed_slice();
        tags.fill(0);
        Self { tags, slots: vec![0; size].into_boxed_slice(), mask: size - 1 }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        size_of_val(&*self.tags) + size_of_val(&*self.slots)
    }

    /// The value stored under `hash` for which `is` holds.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = tag(hash);
        let mut at = hash as usize & self.mask;
        loop {
            match self.tags[at] {
                0 => return None,
                t if t == tag && is(self.slots[at]) => return Some(self.slots[at]),
                _ => at = (at + 1) & self.mask,
            }
        }
    }

    /// Adds `value` under `hash`. The caller keeps the index at most half full.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u32, value: u32) {
        let mut at = hash as usize & self.mask;
        while self.tags[at] != 0 {
            at = (at + 1) & self.mask;
        }
        self.tags[at] = tag(hash);
        self.slots[at] = value;
    }

    /// Removes `value` (stored under `hash`), shifting later entries of the probe run
    /// back so no tombstone is left; `hash_of` gives the hash a stored value was
    /// inserted under.
    pub(crate) fn remove(&mut self, hash: u32, value: u32, hash_of: impl Fn(u32) -> u32) {
        let tag = tag(hash);
        let mut hole = hash as usize & self.mask;
        loop {
            match self.tags[hole] {
                0 => return, // Not present.
                t if t == tag && self.slots[hole] == value => break,
                _ => hole = (hole + 1) & self.mask,
            }
        }
        let mut at = hole;
        loop {
            at = (at + 1) & self.mask;
            if self.tags[at] == 0 {
                break;
            }
            let home = hash_of(self.slots[at]) as usize & self.mask;
            // Move the entry into the hole unless its home lies in (hole, at].
            let stays =
                if hole <= at { hole < home && home <= at } else { hole < home || home <= at };
            if !stays {
                self.tags[hole] = self.tags[at];
                self.slots[hole] = self.slots[at];
                hole = at;
            }
        }
        self.tags[hole] = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Against a HashMap: inserts and removes in any order, with colliding hashes
        /// and wrap-around, leave exactly the live entries findable.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec((any::<bool>(), 0u32..64, 0u32..8), 1..300)) {
            let mut index = Index::with_capacity(64);
            let mut model: HashMap<u32, u32> = HashMap::new(); // value -> hash
            for (insert, value, hash_class) in ops {
                // Few distinct hashes, near the top of the table, to force collisions and
                // wrap-around; some share a tag, some do not.
                let hash = 120 + hash_class + (hash_class << 28);
                if insert && !model.contains_key(&value) && model.len() < 64 {
                    index.insert(hash, value);
                    model.insert(value, hash);
                } else if let Some(h) = model.remove(&value) {
                    let hashes = model.clone();
                    index.remove(h, value, |v| hashes.get(&v).copied().unwrap_or(h));
                }
                for (&v, &h) in &model {
                    prop_assert_eq!(index.find(h, |x| x == v), Some(v));
                }
                prop_assert_eq!(index.find(hash, |x| !model.contains_key(&x)), None);
            }
        }
    }
}
