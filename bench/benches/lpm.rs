//! Longest-prefix match: vpclab's compiled table against `prefix-trie`,
//! `ip_network_table` and a linear scan, on the same BGP-shaped tables and address
//! streams in one run.
//!
//! `cargo bench -p vpclab-bench --bench lpm` runs everything (several minutes; the
//! 1M-prefix tables dominate); pass a filter such as `lookup-v4/1000/` to run a part.
//! `cargo run --release -p vpclab-bench --bin lpm-report` prints memory per prefix and a
//! summary table for `docs/performance.md`.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use ipnet::{Ipv4Net, Ipv6Net};
use vpclab_bench::lpm::{LpmTable, NetworkTable, PrefixTrie};
use vpclab_bench::workload::{
    SEED, bgp_like_v4, bgp_like_v6, hits_v4, hits_v6, random_v4, random_v6,
};
use vpclab_lpm::reference::LinearScan;
use vpclab_lpm::{Address, Lpm};

/// Addresses looked up per iteration; the stream is far longer than a branch predictor
/// or prefetcher can learn, and short enough to stay in L1 itself.
const LOOKUPS: usize = 4096;
/// Linear scans above this many prefixes would take minutes to say what we know.
const LINEAR_SCAN_MAX: usize = 1_000;

const V4_SIZES: [usize; 4] = [16, 1_000, 100_000, 1_000_000];
const V6_SIZES: [usize; 2] = [1_000, 100_000];

fn lookups<A: Address, T: LpmTable<A>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    routes: &[(A::Net, u32)],
    addrs: &[A],
) {
    let table = T::build(routes);
    group.bench_function(T::NAME, |b| {
        b.iter(|| {
            let mut sum = 0u32;
            for &addr in addrs {
                sum = sum.wrapping_add(table.lookup(black_box(addr)).unwrap_or(0));
            }
            sum
        })
    });
}

fn batch_lookups<A: Address>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    routes: &[(A::Net, u32)],
    addrs: &[A],
) {
    let table = <Lpm<A> as LpmTable<A>>::build(routes);
    let keys: Vec<A::Key> = addrs.iter().map(|a| a.to_key()).collect();
    let mut out = vec![None; keys.len()];
    group.bench_function("vpclab-lpm-batch", |b| {
        b.iter(|| {
            table.lookup_batch(black_box(&keys), &mut out);
            out.iter().fold(0u32, |sum, v| sum.wrapping_add(v.unwrap_or(0)))
        })
    });
}

fn lookup_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    routes: usize,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(LOOKUPS as u64));
    if routes >= 100_000 {
        group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    }
    group
}

fn lookup_v4(c: &mut Criterion) {
    for size in V4_SIZES {
        let routes = bgp_like_v4(size, SEED);
        let streams = [("random", random_v4(LOOKUPS, 1)), ("hit", hits_v4(&routes, LOOKUPS, 2))];
        for (kind, addrs) in &streams {
            let mut group = lookup_group(c, &format!("lookup-v4/{size}/{kind}"), size);
            lookups::<Ipv4Addr, Lpm<Ipv4Addr>>(&mut group, &routes, addrs);
            batch_lookups::<Ipv4Addr>(&mut group, &routes, addrs);
            lookups::<Ipv4Addr, PrefixTrie<Ipv4Net>>(&mut group, &routes, addrs);
            lookups::<Ipv4Addr, NetworkTable>(&mut group, &routes, addrs);
            if size <= LINEAR_SCAN_MAX {
                lookups::<Ipv4Addr, LinearScan<Ipv4Addr>>(&mut group, &routes, addrs);
            }
            group.finish();
        }
    }
}

fn lookup_v6(c: &mut Criterion) {
    for size in V6_SIZES {
        let routes = bgp_like_v6(size, SEED);
        let streams = [("random", random_v6(LOOKUPS, 1)), ("hit", hits_v6(&routes, LOOKUPS, 2))];
        for (kind, addrs) in &streams {
            let mut group = lookup_group(c, &format!("lookup-v6/{size}/{kind}"), size);
            lookups::<Ipv6Addr, Lpm<Ipv6Addr>>(&mut group, &routes, addrs);
            batch_lookups::<Ipv6Addr>(&mut group, &routes, addrs);
            lookups::<Ipv6Addr, PrefixTrie<Ipv6Net>>(&mut group, &routes, addrs);
            lookups::<Ipv6Addr, NetworkTable>(&mut group, &routes, addrs);
            if size <= LINEAR_SCAN_MAX {
                lookups::<Ipv6Addr, LinearScan<Ipv6Addr>>(&mut group, &routes, addrs);
            }
            group.finish();
        }
    }
}

fn builds<A: Address, T: LpmTable<A>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    size: usize,
    routes: &[(A::Net, u32)],
) {
    group.bench_with_input(BenchmarkId::new(T::NAME, size), routes, |b, routes| {
        b.iter(|| T::build(black_box(routes)))
    });
}

fn build(c: &mut Criterion) {
    for size in [1_000, 100_000, 1_000_000] {
        let routes = bgp_like_v4(size, SEED);
        let mut group = c.benchmark_group("build-v4");
        group.throughput(Throughput::Elements(size as u64));
        if size >= 100_000 {
            group.sample_size(10).warm_up_time(Duration::from_secs(1));
        }
        builds::<Ipv4Addr, Lpm<Ipv4Addr>>(&mut group, size, &routes);
        builds::<Ipv4Addr, PrefixTrie<Ipv4Net>>(&mut group, size, &routes);
        builds::<Ipv4Addr, NetworkTable>(&mut group, size, &routes);
        group.finish();
    }
    let routes = bgp_like_v6(100_000, SEED);
    let mut group = c.benchmark_group("build-v6");
    group.throughput(Throughput::Elements(routes.len() as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    builds::<Ipv6Addr, Lpm<Ipv6Addr>>(&mut group, routes.len(), &routes);
    builds::<Ipv6Addr, PrefixTrie<Ipv6Net>>(&mut group, routes.len(), &routes);
    builds::<Ipv6Addr, NetworkTable>(&mut group, routes.len(), &routes);
    group.finish();
}

criterion_group!(benches, lookup_v4, lookup_v6, build);
criterion_main!(benches);
