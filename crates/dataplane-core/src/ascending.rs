//! Finding entries of a sorted map for keys asked in ascending order, by walking it once.
//!
//! The compilers go through the model's instances, which it lists in id order, and look
//! each one up in maps of their own kept in id order too (its port, what was built for
//! it last time). With ten thousand instances, a search of a map per instance (a dozen
//! id comparisons, each a cache miss away) was a good part of every compile; walking the
//! map alongside is one comparison per entry, in memory order.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::iter::Peekable;

/// The entries of an iterator sorted by key (a `BTreeMap`'s), found for keys asked in
/// ascending order by walking it once. A key asked out of order is not found (the walk
/// has passed it), so a miss means "not found *this way*": callers whose keys might come
/// out of order look a missed key up the ordinary way.
pub(crate) struct Ascending<I: Iterator> {
    entries: Peekable<I>,
}

impl<K: Ord, V, I: Iterator<Item = (K, V)>> Ascending<I> {
    /// A walk over `entries`, which must be sorted by key.
    pub(crate) fn new(entries: impl IntoIterator<IntoIter = I>) -> Self {
        Self { entries: entries.into_iter().peekable() }
    }

    /// The value of `key` if the entries not yet passed hold it. The entries before it
    /// are passed; none are when `key` comes before the next entry.
    pub(crate) fn find<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        while let Some((next, _)) = self.entries.peek() {
            match next.borrow().cmp(key) {
                Ordering::Less => {
                    self.entries.next();
                }
                Ordering::Equal => return self.entries.next().map(|(_, value)| value),
                Ordering::Greater => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the order keys are asked in, what is found is the key's value, and
        /// keys asked in ascending order are all found.
        #[test]
        fn finds_only_the_keys_value_and_every_key_asked_in_order(
            map in proptest::collection::btree_map(0u16..200, any::<u32>(), 0..50),
            asked in proptest::collection::vec(0u16..200, 0..80),
        ) {
            let mut walk = Ascending::new(&map);
            for key in &asked {
                if let Some(value) = walk.find(key) {
                    prop_assert_eq!(Some(value), map.get(key));
                }
            }
            let mut sorted = asked.clone();
            sorted.sort_unstable();
            sorted.dedup();
            let mut walk = Ascending::new(&map);
            for key in &sorted {
                prop_assert_eq!(walk.find(key), map.get(key));
            }
        }
    }

    #[test]
    fn a_key_asked_out_of_order_is_missed_without_passing_anything() {
        let map = BTreeMap::from([(1, 'a'), (5, 'b'), (9, 'c')]);
        let mut walk = Ascending::new(&map);
        assert_eq!(walk.find(&5), Some(&'b'));
        assert_eq!(walk.find(&1), None, "passed");
        assert_eq!(walk.find(&9), Some(&'c'));
    }
}
