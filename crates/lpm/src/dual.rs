//! One table per address family, as a VPC route table holds both.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::trie::{Builder, Lpm, ValueOutOfRange};

/// Builds an [`IpLpm`] from prefixes of either family.
#[derive(Debug, Default)]
pub struct IpBuilder {
    v4: Builder<Ipv4Addr>,
    v6: Builder<Ipv6Addr>,
}

impl IpBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route to the table of its family; see [`Builder::insert`].
    pub fn insert(&mut self, prefix: IpNet, value: u32) -> Result<(), ValueOutOfRange> {
        match prefix {
            IpNet::V4(net) => self.v4.insert(net, value),
            IpNet::V6(net) => self.v6.insert(net, value),
        }
    }

    /// Compiles both tables.
    pub fn build(self) -> IpLpm {
        IpLpm { v4: self.v4.build(), v6: self.v6.build() }
    }
}

/// An IPv4 and an IPv6 [`Lpm`] behind one lookup.
#[derive(Clone, Debug, Default)]
pub struct IpLpm {
    /// The IPv4 routes.
    pub v4: Lpm<Ipv4Addr>,
    /// The IPv6 routes.
    pub v6: Lpm<Ipv6Addr>,
}

impl IpLpm {
    /// Compiles `routes`; see [`Builder`] for the rules.
    pub fn from_routes(
        routes: impl IntoIterator<Item = (IpNet, u32)>,
    ) -> Result<Self, ValueOutOfRange> {
        let mut builder = IpBuilder::new();
        for (prefix, value) in routes {
            builder.insert(prefix, value)?;
        }
        Ok(builder.build())
    }

    /// The value of the longest prefix of `addr`'s family containing it.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<u32> {
        match addr {
            IpAddr::V4(a) => self.v4.lookup(a),
            IpAddr::V6(a) => self.v6.lookup(a),
        }
    }

    /// Number of prefixes in both tables.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether both tables are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held by both tables.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes() + self.v6.memory_bytes()
    }
}
