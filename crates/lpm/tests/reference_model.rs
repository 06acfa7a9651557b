//! Differential tests: the compiled table against a linear scan, over random tables and
//! addresses, for both families and every root-table width class.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use vpclab_lpm::reference::LinearScan;
use vpclab_lpm::{Address, Builder, MAX_VALUE};

/// Prefixes drawn so that they nest and collide often: networks come from a few "bases"
/// with random low bits, lengths cover the whole range.
fn v4_routes() -> impl Strategy<Value = Vec<(Ipv4Net, u32)>> {
    let base = prop::sample::select(vec![0u32, 0x0A00_0000, 0x0A00_0100, 0xC0A8_0000, u32::MAX]);
    let route = (base, any::<u32>(), 0u8..=32, 0u8..=32, 0..=MAX_VALUE).prop_map(
        |(base, noise, noise_bits, len, value)| {
            let noise = if noise_bits == 0 { 0 } else { noise >> (32 - u32::from(noise_bits)) };
            let net = Ipv4Net::new(Ipv4Addr::from(base ^ noise), len).unwrap().trunc();
            (net, value)
        },
    );
    prop::collection::vec(route, 0..200)
}

fn v6_routes() -> impl Strategy<Value = Vec<(Ipv6Net, u32)>> {
    v6_routes_up_to(200)
}

/// [`v6_routes`], at most `max` of them (fewer than `max` routes: a short table, see
/// `Address::SHORT_MAX`).
fn v6_routes_up_to(max: usize) -> impl Strategy<Value = Vec<(Ipv6Net, u32)>> {
    let base = prop::sample::select(vec![
        0u128,
        0x2001_0db8_u128 << 96,
        (0x2001_0db8_0000_0001_u128 << 64) | 0xab00,
        u128::MAX,
    ]);
    let route = (base, any::<u128>(), 0u32..=128, 0u8..=128, 0..=MAX_VALUE).prop_map(
        |(base, noise, noise_bits, len, value)| {
            let noise = if noise_bits == 0 { 0 } else { noise >> (128 - noise_bits) };
            let net = Ipv6Net::new(Ipv6Addr::from(base ^ noise), len).unwrap().trunc();
            (net, value)
        },
    );
    prop::collection::vec(route, 0..max)
}

/// Addresses worth asking about: each prefix's first and last address and their
/// neighbours, plus random ones.
fn v4_probes(routes: &[(Ipv4Net, u32)], random: &[u32]) -> Vec<Ipv4Addr> {
    let mut probes: Vec<u32> = random.to_vec();
    for (net, _) in routes {
        let (lo, hi) = (u32::from(net.network()), u32::from(net.broadcast()));
        probes.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1), lo + (hi - lo) / 2]);
    }
    probes.into_iter().map(Ipv4Addr::from).collect()
}

fn v6_probes(routes: &[(Ipv6Net, u32)], random: &[u128]) -> Vec<Ipv6Addr> {
    let mut probes: Vec<u128> = random.to_vec();
    for (net, _) in routes {
        let (lo, hi) = (u128::from(net.network()), u128::from(net.broadcast()));
        probes.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1), lo + (hi - lo) / 2]);
    }
    probes.into_iter().map(Ipv6Addr::from).collect()
}

/// Builds `routes` (with a root of `direct_bits`, if given) and asks it every probe,
/// one by one and (with `batch`) in one batch, as the linear scan answers.
fn check<A: Address + std::fmt::Display>(
    routes: &[(A::Net, u32)],
    probes: &[A],
    direct_bits: Option<u32>,
    batch: bool,
) -> Result<(), TestCaseError> {
    let mut reference = LinearScan::new();
    let mut builder = Builder::with_capacity(routes.len());
    if let Some(bits) = direct_bits {
        builder = builder.direct_bits(bits);
    }
    for &(net, value) in routes {
        reference.insert(net, value);
        builder.insert(net, value).unwrap();
    }
    let table = builder.build();
    for &addr in probes {
        prop_assert_eq!(table.lookup(addr), reference.lookup(addr), "single lookup of {}", addr);
    }
    if batch {
        let keys: Vec<A::Key> = probes.iter().map(|a| a.to_key()).collect();
        let mut batched = vec![None; keys.len()];
        table.lookup_batch(&keys, &mut batched);
        for (&addr, batched) in probes.iter().zip(batched) {
            prop_assert_eq!(batched, reference.lookup(addr), "batch lookup of {}", addr);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ipv4_matches_linear_scan(
        routes in v4_routes(),
        random in prop::collection::vec(any::<u32>(), 64),
        direct_bits in prop::sample::select(vec![None, Some(1), Some(5), Some(12), Some(18), Some(24)]),
    ) {
        check(&routes, &v4_probes(&routes, &random), direct_bits, true)?;
    }

    #[test]
    fn ipv6_matches_linear_scan(
        routes in v6_routes(),
        random in prop::collection::vec(any::<u128>(), 64),
        direct_bits in prop::sample::select(vec![None, Some(1), Some(7), Some(16), Some(24)]),
    ) {
        check(&routes, &v6_probes(&routes, &random), direct_bits, false)?;
    }

    /// Tables on both sides of the short-table limit (a list scanned longest first, and
    /// the trie), the same answers.
    #[test]
    fn short_ipv6_tables_match_linear_scan(
        routes in v6_routes_up_to(13),
        random in prop::collection::vec(any::<u128>(), 64),
    ) {
        check(&routes, &v6_probes(&routes, &random), None, true)?;
    }
}
