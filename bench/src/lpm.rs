//! One trait over every longest-prefix-match structure the benchmarks compare.

use std::net::{Ipv4Addr, Ipv6Addr};

use ip_network::{Ipv4Network, Ipv6Network};
use ip_network_table::IpNetworkTable;
use ipnet::{Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use vpclab_lpm::reference::LinearScan;
use vpclab_lpm::{Address, Lpm};

/// A table built from `(prefix, value)` pairs that answers longest-prefix lookups.
pub trait LpmTable<A: Address>: Sized {
    /// Name in benchmark ids and result tables.
    const NAME: &'static str;

    /// A table holding `routes`.
    fn build(routes: &[(A::Net, u32)]) -> Self;

    /// The value of the longest prefix containing `addr`.
    fn lookup(&self, addr: A) -> Option<u32>;
}

impl<A: Address> LpmTable<A> for Lpm<A> {
    const NAME: &'static str = "vpclab-lpm";

    fn build(routes: &[(A::Net, u32)]) -> Self {
        Lpm::from_routes(routes.iter().copied()).expect("benchmark values fit in 31 bits")
    }

    fn lookup(&self, addr: A) -> Option<u32> {
        Lpm::lookup(self, addr)
    }
}

impl<A: Address> LpmTable<A> for LinearScan<A> {
    const NAME: &'static str = "linear-scan";

    fn build(routes: &[(A::Net, u32)]) -> Self {
        let mut table = LinearScan::new();
        for &(net, value) in routes {
            table.insert(net, value);
        }
        table
    }

    fn lookup(&self, addr: A) -> Option<u32> {
        LinearScan::lookup(self, addr)
    }
}

/// `prefix-trie`'s `PrefixMap`: a tree bitmap with stride 5.
#[allow(missing_debug_implementations)]
pub struct PrefixTrie<P>(pub PrefixMap<P, u32>);

impl LpmTable<Ipv4Addr> for PrefixTrie<Ipv4Net> {
    const NAME: &'static str = "prefix-trie";

    fn build(routes: &[(Ipv4Net, u32)]) -> Self {
        Self(routes.iter().copied().collect())
    }

    fn lookup(&self, addr: Ipv4Addr) -> Option<u32> {
        self.0.get_lpm(&Ipv4Net::from(addr)).map(|(_, &v)| v)
    }
}

impl LpmTable<Ipv6Addr> for PrefixTrie<Ipv6Net> {
    const NAME: &'static str = "prefix-trie";

    fn build(routes: &[(Ipv6Net, u32)]) -> Self {
        Self(routes.iter().copied().collect())
    }

    fn lookup(&self, addr: Ipv6Addr) -> Option<u32> {
        self.0.get_lpm(&Ipv6Net::from(addr)).map(|(_, &v)| v)
    }
}

/// `ip_network_table`'s `IpNetworkTable`: a tree bitmap (the `treebitmap` crate's).
#[allow(missing_debug_implementations)]
pub struct NetworkTable(pub IpNetworkTable<u32>);

impl LpmTable<Ipv4Addr> for NetworkTable {
    const NAME: &'static str = "ip_network_table";

    fn build(routes: &[(Ipv4Net, u32)]) -> Self {
        let mut table = IpNetworkTable::with_capacity(routes.len(), 0);
        for &(net, value) in routes {
            let net = Ipv4Network::new(net.network(), net.prefix_len()).expect("canonical");
            table.insert(net, value);
        }
        Self(table)
    }

    fn lookup(&self, addr: Ipv4Addr) -> Option<u32> {
        self.0.longest_match_ipv4(addr).map(|(_, &v)| v)
    }
}

impl LpmTable<Ipv6Addr> for NetworkTable {
    const NAME: &'static str = "ip_network_table";

    fn build(routes: &[(Ipv6Net, u32)]) -> Self {
        let mut table = IpNetworkTable::with_capacity(0, routes.len());
        for &(net, value) in routes {
            let net = Ipv6Network::new(net.network(), net.prefix_len()).expect("canonical");
            table.insert(net, value);
        }
        Self(table)
    }

    fn lookup(&self, addr: Ipv6Addr) -> Option<u32> {
        self.0.longest_match_ipv6(addr).map(|(_, &v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{SEED, bgp_like_v4, bgp_like_v6, hits_v4, random_v4, random_v6};

    /// The adapters must agree, or the benchmark compares different work.
    #[test]
    fn every_adapter_gives_the_same_answers() {
        let routes = bgp_like_v4(2_000, SEED);
        let ours = <Lpm<Ipv4Addr> as LpmTable<Ipv4Addr>>::build(&routes);
        let scan = <LinearScan<Ipv4Addr> as LpmTable<Ipv4Addr>>::build(&routes);
        let trie = <PrefixTrie<Ipv4Net> as LpmTable<Ipv4Addr>>::build(&routes);
        let table = <NetworkTable as LpmTable<Ipv4Addr>>::build(&routes);
        let mut probes = random_v4(500, 1);
        probes.extend(hits_v4(&routes, 500, 2));
        for addr in probes {
            let want = LpmTable::lookup(&scan, addr);
            assert_eq!(LpmTable::lookup(&ours, addr), want, "{addr}");
            assert_eq!(LpmTable::lookup(&trie, addr), want, "{addr}");
            assert_eq!(LpmTable::lookup(&table, addr), want, "{addr}");
        }

        let routes = bgp_like_v6(2_000, SEED);
        let ours = <Lpm<Ipv6Addr> as LpmTable<Ipv6Addr>>::build(&routes);
        let scan = <LinearScan<Ipv6Addr> as LpmTable<Ipv6Addr>>::build(&routes);
        let trie = <PrefixTrie<Ipv6Net> as LpmTable<Ipv6Addr>>::build(&routes);
        let table = <NetworkTable as LpmTable<Ipv6Addr>>::build(&routes);
        let mut probes = random_v6(500, 1);
        probes.extend(crate::workload::hits_v6(&routes, 500, 2));
        for addr in probes {
            let want = LpmTable::lookup(&scan, addr);
            assert_eq!(LpmTable::lookup(&ours, addr), want, "{addr}");
            assert_eq!(LpmTable::lookup(&trie, addr), want, "{addr}");
            assert_eq!(LpmTable::lookup(&table, addr), want, "{addr}");
        }
    }
}
