//! BGP-shaped route tables and lookup streams, generated from a fixed seed.
//!
//! How the tables are made is described in `bench/README.md`; in short: prefix lengths
//! follow the shape of the public IPv4/IPv6 routing tables, a third of the prefixes are
//! more-specifics of a prefix already in the table (real tables nest), the rest are
//! spread over the unicast space, and every prefix is distinct.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use crate::rng::SplitMix64;

/// The seed every published number was measured with.
pub const SEED: u64 = 0x7670_636c_6162; // "vpclab"

/// Relative frequency of IPv4 prefix lengths, per 100,000 routes: roughly the public
/// table of the mid-2020s (/24 about 60 %, /22 and /23 about 10 % each, little shorter
/// than /16), plus a few more-specifics past /24 as private route tables carry.
const V4_LENGTHS: [(u8, u32); 25] = [
    (8, 2),
    (9, 4),
    (10, 8),
    (11, 15),
    (12, 25),
    (13, 45),
    (14, 85),
    (15, 110),
    (16, 1_300),
    (17, 750),
    (18, 1_200),
    (19, 2_300),
    (20, 4_000),
    (21, 4_300),
    (22, 11_500),
    (23, 10_000),
    (24, 59_500),
    (25, 150),
    (26, 100),
    (27, 80),
    (28, 60),
    (29, 50),
    (30, 40),
    (31, 10),
    (32, 60),
];

/// Relative frequency of IPv6 prefix lengths, per 10,000 routes: /48 about half, /32
/// about a fifth, the rest between /28 and /64 plus a few host routes.
const V6_LENGTHS: [(u8, u32); 17] = [
    (28, 150),
    (29, 400),
    (30, 100),
    (31, 80),
    (32, 2_000),
    (33, 60),
    (34, 100),
    (36, 350),
    (40, 650),
    (42, 100),
    (44, 850),
    (46, 250),
    (47, 250),
    (48, 4_450),
    (56, 80),
    (64, 100),
    (128, 30),
];

/// Share of prefixes made as more-specifics of an earlier, shorter prefix, in percent.
const NESTED_PERCENT: u64 = 33;

/// `n` distinct IPv4 prefixes with values `0..n`, in generation order.
pub fn bgp_like_v4(n: usize, seed: u64) -> Vec<(Ipv4Net, u32)> {
    let mut rng = SplitMix64::new(seed);
    let weights: Vec<u32> = V4_LENGTHS.iter().map(|&(_, w)| w).collect();
    let mut seen = HashSet::with_capacity(n);
    let mut nets: Vec<(u32, u8)> = Vec::with_capacity(n);
    while nets.len() < n {
        let len = V4_LENGTHS[rng.weighted(&weights)].0;
        let addr = match nested_under(&mut rng, &nets, len) {
            Some((parent, parent_len)) => parent | (rng.next_u32() >> parent_len),
            // Unicast space, 1.0.0.0 to 223.255.255.255.
            None => 0x0100_0000 + rng.below(0xDF00_0000) as u32,
        };
        let net = Ipv4Net::new_assert(Ipv4Addr::from(addr), len).trunc();
        let key = (u32::from(net.network()), len);
        if seen.insert(key) {
            nets.push(key);
        }
    }
    nets.iter()
        .zip(0u32..)
        .map(|(&(addr, len), value)| (Ipv4Net::new_assert(Ipv4Addr::from(addr), len), value))
        .collect()
}

/// `n` distinct IPv6 prefixes in 2000::/3 with values `0..n`, in generation order.
pub fn bgp_like_v6(n: usize, seed: u64) -> Vec<(Ipv6Net, u32)> {
    let mut rng = SplitMix64::new(seed);
    let weights: Vec<u32> = V6_LENGTHS.iter().map(|&(_, w)| w).collect();
    let mut seen = HashSet::with_capacity(n);
    let mut nets: Vec<(u128, u8)> = Vec::with_capacity(n);
    while nets.len() < n {
        let len = V6_LENGTHS[rng.weighted(&weights)].0;
        let addr = match nested_under(&mut rng, &nets, len) {
            Some((parent, parent_len)) => parent | (rng.next_u128() >> parent_len),
            None => (0b001 << 125) | (rng.next_u128() >> 3),
        };
        let net = Ipv6Net::new_assert(Ipv6Addr::from(addr), len).trunc();
        let key = (u128::from(net.network()), len);
        if seen.insert(key) {
            nets.push(key);
        }
    }
    nets.iter()
        .zip(0u32..)
        .map(|(&(addr, len), value)| (Ipv6Net::new_assert(Ipv6Addr::from(addr), len), value))
        .collect()
}

/// With probability [`NESTED_PERCENT`], an earlier prefix shorter than `len` to nest the
/// next one under (a few random tries; `None` if none is found).
fn nested_under<K: Copy>(rng: &mut SplitMix64, nets: &[(K, u8)], len: u8) -> Option<(K, u8)> {
    if nets.is_empty() || rng.below(100) >= NESTED_PERCENT {
        return None;
    }
    (0..8)
        .map(|_| nets[rng.below(nets.len() as u64) as usize])
        .find(|&(_, parent_len)| parent_len < len)
}

/// `n` addresses drawn uniformly from the whole IPv4 space.
pub fn random_v4(n: usize, seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| Ipv4Addr::from(rng.next_u32())).collect()
}

/// `n` addresses drawn uniformly from 2000::/3.
pub fn random_v6(n: usize, seed: u64) -> Vec<Ipv6Addr> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| Ipv6Addr::from((0b001 << 125) | (rng.next_u128() >> 3))).collect()
}

/// `n` addresses that each fall inside a random route of `routes` (non-empty).
pub fn hits_v4(routes: &[(Ipv4Net, u32)], n: usize, seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let (net, _) = routes[rng.below(routes.len() as u64) as usize];
            let host = rng.next_u32().checked_shr(u32::from(net.prefix_len())).unwrap_or(0);
            Ipv4Addr::from(u32::from(net.network()) | host)
        })
        .collect()
}

/// `n` addresses that each fall inside a random route of `routes` (non-empty).
pub fn hits_v6(routes: &[(Ipv6Net, u32)], n: usize, seed: u64) -> Vec<Ipv6Addr> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let (net, _) = routes[rng.below(routes.len() as u64) as usize];
            let host = rng.next_u128().checked_shr(u32::from(net.prefix_len())).unwrap_or(0);
            Ipv6Addr::from(u128::from(net.network()) | host)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_distinct_and_deterministic() {
        let a = bgp_like_v4(5_000, SEED);
        let b = bgp_like_v4(5_000, SEED);
        assert_eq!(a, b);
        let distinct: HashSet<_> = a.iter().map(|(net, _)| *net).collect();
        assert_eq!(distinct.len(), a.len());
        assert_ne!(a, bgp_like_v4(5_000, SEED + 1));
        let v6 = bgp_like_v6(2_000, SEED);
        let distinct: HashSet<_> = v6.iter().map(|(net, _)| *net).collect();
        assert_eq!(distinct.len(), v6.len());
    }

    #[test]
    fn v4_shape_is_bgp_like() {
        let routes = bgp_like_v4(20_000, SEED);
        let share = |len| routes.iter().filter(|(n, _)| n.prefix_len() == len).count() * 100;
        let slash24 = share(24) / routes.len();
        assert!((50..=65).contains(&slash24), "/24 share {slash24}%");
        let nested = routes
            .iter()
            .filter(|(net, _)| routes.iter().any(|(p, _)| p != net && p.contains(net)))
            .take(500)
            .count();
        assert!(nested >= 500, "some prefixes nest");
    }

    #[test]
    fn hits_fall_inside_their_tables() {
        let routes = bgp_like_v4(1_000, SEED);
        for addr in hits_v4(&routes, 200, 1) {
            assert!(routes.iter().any(|(net, _)| net.contains(&addr)), "{addr}");
        }
        let routes = bgp_like_v6(1_000, SEED);
        for addr in hits_v6(&routes, 200, 1) {
            assert!(routes.iter().any(|(net, _)| net.contains(&addr)), "{addr}");
        }
    }
}
