//! The NAT table against a naive `HashMap` tracker, same workload, same run.
//!
//! * `established`: outbound packets of 1,000,000 existing flows, in random order.
//! * `new-flows`: outbound first packets of new flows to random destinations (insert,
//!   port allocation and translation), the table emptied, untimed, before it fills.
//! * memory per flow at 1,000,000 flows, printed before the timings (counting allocator).
//!
//! `cargo bench -p vpclab-conntrack --bench conntrack`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpclab_conntrack::{Config, Nat, Outbound, Proto, Tuple, flags};
use vpclab_sys::alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

const FLOWS: usize = 1_000_000;
const BATCH: usize = 4096;

/// A fixed pseudo-random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `n` distinct TCP flows: 250 instances to random destinations on ports 80/443.
fn flows(n: usize, seed: u64) -> Vec<Tuple> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let r = rng.next();
            Tuple {
                proto: Proto::Tcp,
                src: 0x0A00_0000 | (i as u32 % 250),
                dst: 0xC000_0000 | (r as u32 & 0x00FF_FFFF),
                sport: 1024 + (i / 250 % 60_000) as u16,
                dport: if r >> 63 == 0 { 80 } else { 443 },
            }
        })
        .collect()
}

/// The naive tracker: two std `HashMap`s (SipHash) and a probing port allocator.
struct NaiveNat {
    inside: HashMap<Tuple, (u16, u64)>,
    outside: HashMap<(u8, u32, u16, u16), Tuple>,
}

impl NaiveNat {
    fn new() -> Self {
        Self { inside: HashMap::new(), outside: HashMap::new() }
    }

    fn outbound(&mut self, t: Tuple, now: u64) -> Option<u16> {
        if let Some((port, seen)) = self.inside.get_mut(&t) {
            *seen = now;
            return Some(*port);
        }
        let start = (t.sport as u32 ^ t.src) % 64_512;
        let port = (0..64_512)
            .map(|k| 1024 + ((start + k) % 64_512) as u16)
            .find(|&p| !self.outside.contains_key(&(t.proto as u8, t.dst, t.dport, p)))?;
        self.outside.insert((t.proto as u8, t.dst, t.dport, port), t);
        self.inside.insert(t, (port, now));
        Some(port)
    }
}

fn print_memory() {
    let tuples = flows(FLOWS, 1);
    let before = ALLOC.snapshot();
    let mut nat = Nat::new(Config { capacity: FLOWS, ..Config::default() });
    for &t in &tuples {
        nat.outbound(t, flags::SYN, 0);
    }
    let ours = ALLOC.snapshot().since(&before).live_bytes as f64 / nat.len() as f64;
    drop(nat);
    let before = ALLOC.snapshot();
    let mut naive = NaiveNat::new();
    for &t in &tuples {
        naive.outbound(t, 0);
    }
    let theirs = ALLOC.snapshot().since(&before).live_bytes as f64 / naive.inside.len() as f64;
    drop(naive);
    eprintln!(
        "memory per flow at {FLOWS} flows: vpclab-conntrack {ours:.1} B, naive HashMap {theirs:.1} B"
    );
}

fn established(c: &mut Criterion) {
    print_memory();
    let tuples = flows(FLOWS, 1);
    let mut nat = Nat::new(Config { capacity: FLOWS, ..Config::default() });
    let mut naive = NaiveNat::new();
    for &t in &tuples {
        nat.outbound(t, flags::SYN, 0);
        naive.outbound(t, 0);
    }
    let mut rng = Rng(2);
    let order: Vec<Tuple> = (0..BATCH).map(|_| tuples[rng.next() as usize % FLOWS]).collect();

    let mut group = c.benchmark_group("established");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("vpclab-conntrack", |b| {
        b.iter(|| {
            let mut sum = 0u32;
            for &t in &order {
                if let Outbound::Translate { port, .. } = nat.outbound(black_box(t), flags::ACK, 1)
                {
                    sum = sum.wrapping_add(u32::from(port));
                }
            }
            sum
        })
    });
    let packets: Vec<(Tuple, u8)> = order.iter().map(|&t| (t, flags::ACK)).collect();
    let mut verdicts = vec![Outbound::Reset; BATCH];
    group.bench_function("vpclab-conntrack-batch", |b| {
        b.iter(|| {
            nat.outbound_batch(black_box(&packets), 1, &mut verdicts);
            verdicts.iter().fold(0u32, |sum, v| match v {
                Outbound::Translate { port, .. } => sum.wrapping_add(u32::from(*port)),
                _ => sum,
            })
        })
    });
    group.bench_function("naive-hashmap", |b| {
        b.iter(|| {
            let mut sum = 0u32;
            for &t in &order {
                sum = sum.wrapping_add(u32::from(naive.outbound(black_box(t), 1).unwrap_or(0)));
            }
            sum
        })
    });
    group.finish();
}

fn new_flows(c: &mut Criterion) {
    let tuples = flows(FLOWS, 3);
    let mut group = c.benchmark_group("new-flows");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("vpclab-conntrack", |b| {
        let mut nat = Nat::new(Config { capacity: FLOWS, ..Config::default() });
        let mut next = 0;
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                if next + BATCH > FLOWS {
                    nat = Nat::new(Config { capacity: FLOWS, ..Config::default() });
                    next = 0;
                }
                let batch = &tuples[next..next + BATCH];
                next += BATCH;
                let started = Instant::now();
                for &t in batch {
                    black_box(nat.outbound(black_box(t), flags::SYN, 0));
                }
                spent += started.elapsed();
            }
            spent
        })
    });
    group.bench_function("naive-hashmap", |b| {
        let mut naive = NaiveNat::new();
        let mut next = 0;
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                if next + BATCH > FLOWS {
                    naive = NaiveNat::new();
                    next = 0;
                }
                let batch = &tuples[next..next + BATCH];
                next += BATCH;
                let started = Instant::now();
                for &t in batch {
                    black_box(naive.outbound(black_box(t), 0));
                }
                spent += started.elapsed();
            }
            spent
        })
    });
    group.finish();
}

criterion_group!(benches, established, new_flows);
criterion_main!(benches);
