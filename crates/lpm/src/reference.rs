//! A linear scan over the routes: the obviously correct model the compiled table is
//! tested against, and the floor in the benchmarks. Not for the data plane.

use std::fmt;

use crate::addr::{Address, Key};

/// Routes in insertion order; a lookup checks every one.
pub struct LinearScan<A: Address> {
    routes: Vec<(A::Key, u8, u32)>,
}

impl<A: Address> fmt::Debug for LinearScan<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinearScan").field("routes", &self.routes.len()).finish()
    }
}

impl<A: Address> Default for LinearScan<A> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

impl<A: Address> LinearScan<A> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route; an equal prefix inserted later wins, as in [`crate::Builder`].
    pub fn insert(&mut self, prefix: A::Net, value: u32) {
        let (key, len) = A::net_parts(&prefix);
        self.routes.push((key, len, value));
    }

    /// The value of the longest prefix containing `addr`; among equal prefixes, the one
    /// inserted last.
    pub fn lookup(&self, addr: A) -> Option<u32> {
        let key = addr.to_key();
        let mut best: Option<(u8, u32)> = None;
        for &(net, len, value) in &self.routes {
            if key.prefix(len) == net && best.is_none_or(|(l, _)| len >= l) {
                best = Some((len, value));
            }
        }
        best.map(|(_, value)| value)
    }

    /// Number of inserts.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}
