//! What a change costs the control plane as a lab grows: the work every API call that
//! changes something does on the whole model, at 1,000 and 10,000 instances (VPCs of
//! ten instances with a subnet each).
//!
//! * `clone`: copying the model (a call changes a copy, kept only if it succeeds) and
//!   dropping the copy;
//! * `serialize`: the model as JSON, as the state database stores it;
//! * `snapshot`: compiling the forwarder's snapshot from scratch;
//! * `snapshot-kept`: compiling it again when nothing changed, as the daemon does, with
//!   what the last compile built kept (`snapshot::Compiler`);
//! * `snapshot-one-more`: compiling it, so kept, after a change of one VPC (an instance
//!   more in it, a different VPC each time): what a RunInstances costs;
//! * `services`: compiling what the VPC's services answer when nothing they are made
//!   of changed (the common case: one instance more).
//!
//! `cargo bench -p vpclab-dataplane --bench control`

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use vpclab_dataplane::services::Compiler;
use vpclab_dataplane::snapshot::Compiler as SnapshotCompiler;
use vpclab_dataplane::{PortMap, compile};
use vpclab_model::{Model, RunInstance, Tags};

/// `vpcs` VPCs of ten instances, every instance given a port.
fn lab(vpcs: usize) -> (Model, PortMap) {
    let mut m = Model::new(11);
    let mut ports = PortMap::new();
    for v in 0..vpcs {
        let cidr = format!("10.{}.0.0/16", v % 256).parse().unwrap();
        let vpc = m.create_vpc(cidr, Tags::new()).unwrap();
        let subnet = m.create_subnet(&vpc, cidr, None, Tags::new()).unwrap();
        for _ in 0..10 {
            let spec = RunInstance { subnet: Some(subnet.clone()), ..Default::default() };
            ports.assign(&m.run_instance(spec).unwrap());
        }
    }
    (m, ports)
}

fn control(c: &mut Criterion) {
    let mut group = c.benchmark_group("control");
    group.sample_size(10);
    for vpcs in [100, 1000] {
        let (model, mut ports) = lab(vpcs);
        let instances = vpcs * 10;
        group.bench_with_input(BenchmarkId::new("clone", instances), &model, |b, m| {
            b.iter(|| drop(black_box(m.clone())));
        });
        group.bench_with_input(BenchmarkId::new("serialize", instances), &model, |b, m| {
            b.iter(|| serde_json::to_vec(black_box(m)).unwrap());
        });
        group.bench_function(BenchmarkId::new("snapshot", instances), |b| {
            b.iter(|| compile(black_box(&model), &mut ports, 1));
        });
        let mut snapshots = SnapshotCompiler::default();
        snapshots.compile_prepared(&model, &ports, 1);
        group.bench_function(BenchmarkId::new("snapshot-kept", instances), |b| {
            b.iter(|| snapshots.compile_prepared(black_box(&model), &ports, 1));
        });
        let subnets: Vec<_> = model.subnets().map(|s| s.id.clone()).collect();
        let mut next = 0;
        group.bench_function(BenchmarkId::new("snapshot-one-more", instances), |b| {
            b.iter_batched(
                || {
                    let (mut m, mut ports) = (model.clone(), ports.clone());
                    let subnet = subnets[next % subnets.len()].clone();
                    next += 1;
                    let spec = RunInstance { subnet: Some(subnet), ..Default::default() };
                    ports.assign(&m.run_instance(spec).unwrap());
                    (m, ports)
                },
                |(m, ports)| snapshots.compile_prepared(&m, &ports, 1),
                BatchSize::LargeInput,
            );
        });
        let mut services = Compiler::default();
        services.compile(&model, &ports);
        group.bench_function(BenchmarkId::new("services", instances), |b| {
            b.iter(|| services.compile(black_box(&model), &ports));
        });
    }
    group.finish();
}

criterion_group!(benches, control);
criterion_main!(benches);
