//! Memory per prefix of every LPM contender, and a sweep of vpclab's root-table width.
//!
//! `cargo run --release -p vpclab-bench --bin lpm-report [-- --sweep]`
//!
//! Memory is measured with a counting allocator: the live heap bytes a table holds after
//! its build, with the input routes allocated beforehand. Timings printed by `--sweep`
//! are a quick guide for choosing the root width (best of 5 passes over 1M lookups);
//! the published lookup numbers come from the criterion suite (`--bench lpm`).

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use ipnet::{Ipv4Net, Ipv6Net};
use vpclab_bench::lpm::{LpmTable, NetworkTable, PrefixTrie};
use vpclab_bench::workload::{SEED, bgp_like_v4, bgp_like_v6, hits_v4, random_v4};
use vpclab_lpm::{Address, Builder, Lpm};
use vpclab_sys::alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

fn footprint<A: Address, T: LpmTable<A>>(routes: &[(A::Net, u32)]) -> (usize, f64) {
    let before = ALLOC.snapshot();
    let started = Instant::now();
    let table = T::build(routes);
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let bytes = ALLOC.snapshot().since(&before).live_bytes;
    drop(black_box(table));
    (usize::try_from(bytes).unwrap_or(0), build_ms)
}

fn row<A: Address, T: LpmTable<A>>(family: &str, routes: &[(A::Net, u32)]) {
    let (bytes, build_ms) = footprint::<A, T>(routes);
    println!(
        "| {family} | {} | {} | {:.1} MiB | {:.1} | {build_ms:.2} ms |",
        routes.len(),
        T::NAME,
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / routes.len() as f64,
    );
}

fn memory() {
    println!("| family | prefixes | contender | memory | bytes/prefix | one cold build |");
    println!("| --- | ---: | --- | ---: | ---: | ---: |");
    for size in [16, 1_000, 100_000, 1_000_000] {
        let routes = bgp_like_v4(size, SEED);
        row::<Ipv4Addr, Lpm<Ipv4Addr>>("IPv4", &routes);
        row::<Ipv4Addr, PrefixTrie<Ipv4Net>>("IPv4", &routes);
        row::<Ipv4Addr, NetworkTable>("IPv4", &routes);
    }
    for size in [1_000, 100_000] {
        let routes = bgp_like_v6(size, SEED);
        row::<Ipv6Addr, Lpm<Ipv6Addr>>("IPv6", &routes);
        row::<Ipv6Addr, PrefixTrie<Ipv6Net>>("IPv6", &routes);
        row::<Ipv6Addr, NetworkTable>("IPv6", &routes);
    }
}

fn best_ns_per_lookup(table: &Lpm<Ipv4Addr>, keys: &[u32]) -> f64 {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut sum = 0u32;
            for &key in keys {
                sum = sum.wrapping_add(table.lookup_key(black_box(key)).unwrap_or(0));
            }
            black_box(sum);
            started.elapsed().as_nanos() as f64 / keys.len() as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn sweep() {
    println!("| prefixes | direct bits | memory | build | random ns/lookup | hit ns/lookup |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in [1_000, 1_000_000] {
        let routes = bgp_like_v4(size, SEED);
        let random: Vec<u32> = random_v4(1 << 20, 1).into_iter().map(u32::from).collect();
        let hits: Vec<u32> = hits_v4(&routes, 1 << 20, 2).into_iter().map(u32::from).collect();
        for bits in [8, 12, 16, 18, 20, 24] {
            let started = Instant::now();
            let mut builder = Builder::with_capacity(routes.len()).direct_bits(bits);
            for &(net, value) in &routes {
                builder.insert(net, value).expect("small values");
            }
            let table = builder.build();
            let build = started.elapsed();
            println!(
                "| {size} | {bits} | {:.2} MiB | {build:.1?} | {:.2} | {:.2} |",
                table.memory_bytes() as f64 / (1 << 20) as f64,
                best_ns_per_lookup(&table, &random),
                best_ns_per_lookup(&table, &hits),
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--sweep") {
        sweep();
    } else {
        memory();
    }
}
