//! Tries one compile of the snapshot built, kept for the next: a route table's, a VPC's
//! hosts. With a thousand VPCs, building every one of them again was a fifth of each
//! compile, though a call changes one VPC's at most.

use std::collections::HashMap;
use std::hash::Hash;

use vpclab_lpm::{Address, Builder, Lpm};

use crate::security::FlowHashing;

/// Tries by what they are of (`K`: a route table, a VPC), each with the routes it was
/// built from. A trie asked for again with the same routes is the one kept: a clone,
/// which shares its arrays.
#[derive(Debug)]
pub(crate) struct Tries<K, A: Address> {
    kept: HashMap<K, Kept<A>, FlowHashing>,
    /// Its tries' root size, in bits (`None`: the builder's choice by size).
    direct_bits: Option<u32>,
}

/// A trie and what it was built from: `routes`, inserted in this order.
#[derive(Debug)]
struct Kept<A: Address> {
    routes: Vec<(A::Net, u32)>,
    lpm: Lpm<A>,
    /// The last compile that asked for it.
    round: u64,
}

impl<K: Eq + Hash + Clone, A: Address> Tries<K, A>
where
    A::Net: PartialEq,
{
    /// No tries yet; those built will have roots of `direct_bits` (`None`: by size).
    pub(crate) fn new(direct_bits: Option<u32>) -> Self {
        Self { kept: HashMap::default(), direct_bits }
    }

    /// The trie of `of` with `routes` (inserted in order: among equal prefixes, the
    /// last wins): the one kept for `of` if its routes were the same, a new one if not.
    pub(crate) fn trie(&mut self, of: &K, routes: Vec<(A::Net, u32)>, round: u64) -> Lpm<A> {
        match self.kept.get_mut(of) {
            Some(kept) if kept.routes == routes => {
                kept.round = round;
                kept.lpm.clone()
            }
            _ => {
                let lpm = build(&routes, self.direct_bits);
                self.kept.insert(of.clone(), Kept { routes, lpm: lpm.clone(), round });
                lpm
            }
        }
    }

    /// Forgets the tries compile `round` did not ask for.
    pub(crate) fn retain(&mut self, round: u64) {
        self.kept.retain(|_, kept| kept.round == round);
    }

    /// How many tries are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept.len()
    }
}

/// The trie of `routes`, inserted in order, with a root of `direct_bits` (`None`: the
/// builder's choice, and for no routes at all the smallest root, as most route tables
/// have no IPv6 routes).
fn build<A: Address>(routes: &[(A::Net, u32)], direct_bits: Option<u32>) -> Lpm<A> {
    if routes.is_empty() && direct_bits.is_none() {
        return Lpm::default();
    }
    let mut builder = Builder::with_capacity(routes.len());
    if let Some(bits) = direct_bits {
        builder = builder.direct_bits(bits);
    }
    for &(prefix, value) in routes {
        builder.insert(prefix, value).expect("snapshot values fit in 31 bits");
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use ipnet::Ipv4Net;

    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn a_trie_is_kept_while_its_routes_are_the_same_and_forgotten_once_unasked() {
        let mut tries: Tries<&str, Ipv4Addr> = Tries::new(Some(8));
        let routes = vec![(net("10.0.0.0/16"), 1), (net("10.0.1.0/24"), 2)];
        let first = tries.trie(&"a", routes.clone(), 1);
        let other = tries.trie(&"b", routes.clone(), 1);
        assert!(!first.shares(&other), "each of its own");
        let again = tries.trie(&"a", routes.clone(), 2);
        assert!(again.shares(&first));
        assert_eq!(again.lookup(Ipv4Addr::new(10, 0, 1, 9)), Some(2));
        assert_eq!(again.direct_bits(), 8);
        // A route more, or the same routes in another order (the last of equal
        // prefixes wins): built again, as from scratch.
        let more = [routes.clone(), vec![(net("10.0.2.0/24"), 3)]].concat();
        let changed = tries.trie(&"a", more.clone(), 3);
        assert!(!changed.shares(&first));
        assert_eq!(changed, build(&more, Some(8)));
        let reordered = vec![(net("10.0.0.0/16"), 5), (net("10.0.0.0/16"), 1)];
        assert_eq!(tries.trie(&"a", reordered, 4).lookup(Ipv4Addr::new(10, 0, 0, 1)), Some(1));
        // Round 4 did not ask for "b".
        tries.retain(4);
        assert_eq!(tries.len(), 1);
    }
}
