//! Resources that are gone but that AWS still lists for a while, in a final state
//! (`deleted`, `rejected`, …). They are kept apart from the live ones, so that nothing
//! but the Describe calls ever sees them: they route nothing, hold no address and block
//! nothing, and their ids are never handed out again.
//!
//! On disk a [`Departed`] is a map from id to `[resource, when]` (the form deleted NAT
//! gateways were stored in before they moved onto it: state files did not change).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Resources gone from the model, each with when it went (Unix seconds), listed for
/// `LISTED_S` seconds after that.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "K: Serialize, T: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, T: Deserialize<'de>"
))]
pub(crate) struct Departed<K, T, const LISTED_S: u64> {
    went: BTreeMap<K, (T, u64)>,
}

impl<K, T, const LISTED_S: u64> Default for Departed<K, T, LISTED_S> {
    fn default() -> Self {
        Self { went: BTreeMap::new() }
    }
}

impl<K: Ord, T, const LISTED_S: u64> Departed<K, T, LISTED_S> {
    /// Remembers `item`, gone at `at`; forgets those no longer listed at `at`.
    pub(crate) fn insert(&mut self, id: K, item: T, at: u64) {
        self.went.retain(|_, (_, when)| at.saturating_sub(*when) < LISTED_S);
        self.went.insert(id, (item, at));
    }

    /// Those still listed at `now`, by id, each with when it went.
    pub(crate) fn listed(&self, now: u64) -> impl Iterator<Item = (&T, u64)> {
        self.went
            .values()
            .filter(move |(_, at)| now.saturating_sub(*at) < LISTED_S)
            .map(|(item, at)| (item, *at))
    }

    /// `id`, if it went and is still listed at `now`, with when it went.
    pub(crate) fn get(&self, id: &K, now: u64) -> Option<(&T, u64)> {
        self.went
            .get(id)
            .filter(|(_, at)| now.saturating_sub(*at) < LISTED_S)
            .map(|(item, at)| (item, *at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_for_the_period_then_forgotten() {
        let mut d: Departed<String, u8, 10> = Departed::default();
        d.insert("a".into(), 1, 100);
        assert_eq!(d.get(&"a".into(), 109), Some((&1, 100)));
        assert_eq!(d.get(&"a".into(), 110), None);
        assert_eq!(d.listed(105).count(), 1);
        d.insert("b".into(), 2, 120);
        assert_eq!(d.went.len(), 1, "a is forgotten once b goes, past a's period");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"b":[2,120]}"#, "the form deleted NAT gateways were stored in");
        let back: Departed<String, u8, 10> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.get(&"b".into(), 120), Some((&2, 120)));
    }
}
