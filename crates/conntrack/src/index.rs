//! An open-addressing index from a hashed key to a flow's slot number.
//!
//! Linear probing over a power-of-two array kept at most half full, so probes stay
//! short. Each entry packs the key's 32-bit hash beside the slot number: a probe
//! compares hashes before it looks at a flow, and deletion (backward shift, no
//! tombstones) knows every entry's home without rehashing.

const EMPTY: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct Index {
    entries: Box<[u64]>,
    mask: usize,
}

#[inline(always)]
fn pack(hash: u32, value: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(value)
}

impl Index {
    /// An index for up to `capacity` keys.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let size = (capacity.max(8) * 2).next_power_of_two();
        Self { entries: vec![EMPTY; size].into_boxed_slice(), mask: size - 1 }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        size_of_val(&*self.entries)
    }

    /// The value stored under `hash` for which `is` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut at = hash as usize & self.mask;
        loop {
            let entry = self.entries[at];
            if entry == EMPTY {
                return None;
            }
            if (entry >> 32) as u32 == hash && is(entry as u32) {
                return Some(entry as u32);
            }
            at = (at + 1) & self.mask;
        }
    }

    /// Adds `value` under `hash`. The caller keeps the index at most half full.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u32, value: u32) {
        let mut at = hash as usize & self.mask;
        while self.entries[at] != EMPTY {
            at = (at + 1) & self.mask;
        }
        self.entries[at] = pack(hash, value);
    }

    /// Removes `value` (stored under `hash`), shifting later entries of the probe run
    /// back so no tombstone is left.
    pub(crate) fn remove(&mut self, hash: u32, value: u32) {
        let target = pack(hash, value);
        let mut hole = hash as usize & self.mask;
        loop {
            match self.entries[hole] {
                EMPTY => return, // Not present.
                entry if entry == target => break,
                _ => hole = (hole + 1) & self.mask,
            }
        }
        let mut at = hole;
        loop {
            at = (at + 1) & self.mask;
            let entry = self.entries[at];
            if entry == EMPTY {
                break;
            }
            let home = (entry >> 32) as usize & self.mask;
            // Move the entry into the hole unless its home lies in (hole, at].
            let stays =
                if hole <= at { hole < home && home <= at } else { hole < home || home <= at };
            if !stays {
                self.entries[hole] = entry;
                hole = at;
            }
        }
        self.entries[hole] = EMPTY;
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
                // wrap-around.
                let hash = 120 + hash_class;
                if insert && !model.contains_key(&value) && model.len() < 64 {
                    index.insert(hash, value);
                    model.insert(value, hash);
                } else if let Some(h) = model.remove(&value) {
                    index.remove(h, value);
                }
                for (&v, &h) in &model {
                    prop_assert_eq!(index.find(h, |x| x == v), Some(v));
                }
                prop_assert_eq!(index.find(hash, |x| !model.contains_key(&x)), None);
            }
        }
    }
}
