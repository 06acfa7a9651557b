//! What a packet's verdict costs.
//!
//! * `verdict`: the pipeline from the internet to an instance whose security groups hold
//!   1,000 rules and whose subnet's ACL holds 20, against the same pipeline with the
//!   default group and ACL, in one run.
//! * `paths`: established TCP flows on every path a packet takes — subnet to subnet
//!   (the local route), out through the internet gateway (1:1 NAT) and back, out
//!   through a NAT gateway and back, out through a gateway endpoint and back; and over
//!   IPv6 (`-v6`): subnet to subnet, through the internet gateway (untranslated) and
//!   through an egress-only gateway, both ways — in one run, so that each IPv6 path
//!   stands beside its IPv4 one; criterion's throughput is packets per second on one
//!   core.
//!
//! `cargo bench -p vpclab-dataplane --bench verdict`

use std::hint::black_box;

use std::net::Ipv6Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpclab_dataplane::wire::ipv4_packet;
use vpclab_dataplane::wire6::ipv6_packet;
use vpclab_dataplane::{INTERNET, PortMap, REPLY_BUFFER, Snapshot, Tracking, Verdict, compile};
use vpclab_model::{
    AclEntry, Model, Peer, Protocol, Quotas, RouteSpec, RouteTableId, RouteTarget, RunInstance,
    SgRule, SubnetId, Tags, VpcId,
};

const PACKETS: usize = 1024;

fn rng(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// VPC 10.0.0.0/16 with an internet gateway, subnet 10.0.1.0/24, and its main table
/// routing 0.0.0.0/0 to the gateway.
fn public_vpc() -> (Model, VpcId, SubnetId, RouteTableId) {
    let mut m = Model::new(3);
    let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let subnet = m.create_subnet(&vpc, "10.0.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    let default =
        RouteSpec { destination: "0.0.0.0/0".parse().unwrap(), target: RouteTarget::Gateway(igw) };
    m.create_route(&main, default).unwrap();
    (m, vpc, subnet, main)
}

/// A lab whose one public instance has `rules` ingress rules and its subnet `acl_rules`
/// inbound ACL rules (0: the defaults).
fn lab(rules: usize, acl_rules: u16) -> (Snapshot, Tracking) {
    let (mut m, vpc, subnet, _) = public_vpc();
    // Past AWS's default quotas, as an account may raise them: the verdict's cost at scale.
    m.set_quotas(Quotas {
        rules_per_group: rules.max(60),
        acl_entries: usize::from(acl_rules).max(20),
        ..Quotas::default()
    });
    let mut groups = Vec::new();
    if rules > 0 {
        let group = m.create_security_group(&vpc, "big", "big", Tags::new()).unwrap();
        let mut state = 7;
        let mut list = Vec::new();
        while list.len() < rules {
            let r = rng(&mut state);
            let len = 16 + (r % 17) as u8;
            let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::from((r >> 32) as u32), len)
                .unwrap()
                .trunc();
            let port = 1024 + (r >> 8) as u16 % 60_000;
            let rule = SgRule::new(
                Protocol::Tcp,
                i32::from(port),
                i32::from(port) + 10,
                Peer::Cidr(net),
                None,
            )
            .unwrap();
            if !list.contains(&rule) {
                list.push(rule);
            }
        }
        m.authorize(&group, false, list).unwrap();
        groups.push(group);
    }
    if acl_rules > 0 {
        let acl = m.create_network_acl(&vpc, Tags::new()).unwrap();
        for n in 1..=acl_rules {
            let allow = n == acl_rules;
            let cidr = if allow { "0.0.0.0/0".to_owned() } else { format!("100.{n}.0.0/16") };
            let entry = AclEntry {
                rule_number: n * 10,
                egress: false,
                protocol: Protocol::Tcp,
                allow,
                cidr: cidr.parse().unwrap(),
                ports: Some((0, 65535)),
                icmp: None,
            };
            m.create_network_acl_entry(&acl, entry).unwrap();
        }
        let association = m.network_acl_of(&subnet).unwrap().associations[0].0.clone();
        m.replace_network_acl_association(&association, &acl).unwrap();
    }
    let instance = RunInstance {
        subnet: Some(subnet),
        public_ip: Some(true),
        security_groups: groups,
        ..Default::default()
    };
    let instance = m.run_instance(instance).unwrap();
    let mut ports = PortMap::new();
    ports.assign(&instance);
    let snapshot = compile(&m, &mut ports, 1);
    let mut tracking = Tracking::new(16);
    tracking.sync(&snapshot);
    (snapshot, tracking)
}

/// TCP SYNs from random internet addresses to the instance's public IP, port 9 (which
/// no rule opens: every packet goes through every check, and none gets tracked).
fn packets() -> Vec<Vec<u8>> {
    let mut state = 11;
    (0..PACKETS)
        .map(|_| {
            let src = (rng(&mut state) as u32).to_be_bytes();
            let mut p = segment(src, [203, 0, 113, 10], 40000, 9);
            p[33] = 0x02; // SYN
            p
        })
        .collect()
}

fn verdicts(c: &mut Criterion) {
    let packets = packets();
    let mut group = c.benchmark_group("verdict");
    group.throughput(Throughput::Elements(PACKETS as u64));
    for (name, rules, acl) in
        [("default-group-and-acl", 0, 0), ("1000-rules-20-acl-rules", 1000, 20)]
    {
        let (snapshot, mut tracking) = lab(rules, acl);
        let mut buffer = [0u8; 64];
        let mut reply = vec![0u8; REPLY_BUFFER];
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut dropped = 0u32;
                for p in &packets {
                    buffer[..p.len()].copy_from_slice(p);
                    let verdict = snapshot.process(
                        &mut tracking,
                        INTERNET,
                        &mut buffer[..p.len()],
                        &mut reply,
                        0,
                    );
                    dropped += u32::from(matches!(verdict, vpclab_dataplane::Verdict::Drop(_)));
                }
                black_box(dropped)
            })
        });
    }
    group.finish();
}

/// A TCP segment `src:sport → dst:dport` with the ACK flag.
fn segment(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x10;
    ipv4_packet(src.into(), dst.into(), 64, 6, &tcp)
}

/// [`segment`] over IPv6.
fn segment6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x10;
    ipv6_packet(src, dst, 64, 6, &tcp)
}

/// Makes `vpc` dual-stack: its block, a /64 for each of `subnets` (the `n`th the
/// block's `n + 1`th), `::/0` to `igw` in `main` and to a new egress-only gateway in
/// `private_table`.
fn dual_stack(
    m: &mut Model,
    vpc: &VpcId,
    subnets: &[&SubnetId],
    main: &RouteTableId,
    private_table: &RouteTableId,
) {
    let (_, block) = m.associate_vpc_ipv6(vpc).unwrap();
    for (n, subnet) in (1u128..).zip(subnets) {
        let six = Ipv6Addr::from(u128::from(block.network()) | n << 64);
        m.associate_subnet_ipv6(subnet, ipnet::Ipv6Net::new(six, 64).unwrap()).unwrap();
    }
    let igw = m.gateway_of(vpc).unwrap().id.clone();
    let eigw = m.create_egress_only_gateway(vpc, Tags::new()).unwrap();
    for (table, target) in
        [(main, RouteTarget::Gateway(igw)), (private_table, RouteTarget::EgressOnlyGateway(eigw))]
    {
        let default = RouteSpec { destination: "::/0".parse().unwrap(), target };
        m.create_ipv6_route(table, default).unwrap();
    }
}

fn paths(c: &mut Criterion) {
    const FLOWS: u16 = 64;
    let (mut m, vpc, subnet, main) = public_vpc();
    m.create_vpc_endpoint(
        &vpc,
        "com.amazonaws.us-east-1.s3",
        std::slice::from_ref(&main),
        Tags::new(),
        0,
    )
    .unwrap();
    let other = m.create_subnet(&vpc, "10.0.2.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let private = m.create_subnet(&vpc, "10.0.3.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let eip = m.allocate_address(Tags::new()).unwrap();
    let nat = m
        .create_nat_gateway(vpclab_model::NatGatewaySpec::public(&subnet, &eip), Tags::new(), 0)
        .unwrap();
    let nat_table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&nat_table, &private).unwrap();
    let default = RouteSpec {
        destination: "0.0.0.0/0".parse().unwrap(),
        target: RouteTarget::NatGateway(nat),
    };
    m.create_route(&nat_table, default).unwrap();
    dual_stack(&mut m, &vpc, &[&subnet, &other, &private], &main, &nat_table);
    let mut run_in = |subnet: &SubnetId, ip: &str, public: bool| {
        let instance = RunInstance {
            subnet: Some(subnet.clone()),
            public_ip: Some(public),
            private_ip: Some(ip.parse().unwrap()),
            ipv6: vpclab_model::Ipv6Request::Count(1),
            ..Default::default()
        };
        m.run_instance(instance).unwrap()
    };
    let web = run_in(&subnet, "10.0.1.20", true);
    let peer = run_in(&other, "10.0.2.4", false);
    let inner = run_in(&private, "10.0.3.4", false);
    let mut ports = PortMap::new();
    let [port, peer_port, inner_port] = [&web, &peer, &inner].map(|i| ports.assign(i));
    let snapshot = compile(&m, &mut ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let public = match snapshot.port(port) {
        vpclab_dataplane::PortEntry::Instance(i) => i.public.unwrap().octets(),
        _ => unreachable!("web is an instance"),
    };
    let nat_public = m.elastic_ip(&eip).unwrap().public_ip.octets();

    let (me, them, inside) = ([10, 0, 1, 20], [10, 0, 2, 4], [10, 0, 3, 4]);
    let (check_ip, s3) = ([198, 51, 100, 1], [192, 0, 2, 1]);
    let flows = |f: &dyn Fn(u16) -> Vec<u8>| -> Vec<Vec<u8>> {
        (0..PACKETS as u16).map(|i| f(40_000 + i % FLOWS)).collect()
    };
    let mut buffer = [0u8; 80];
    let mut reply = vec![0u8; REPLY_BUFFER];
    // The NAT gateway's flows exist before anything is timed; its replies go to the
    // ports it chose, learnt from the translated packets.
    let nat_out = flows(&|sport| segment(inside, check_ip, sport, 80));
    let mut nat_ports = Vec::new();
    for p in &nat_out {
        let mut syn = p.clone();
        syn[33] = 0x02;
        let len = syn.len();
        buffer[..len].copy_from_slice(&syn);
        let verdict =
            snapshot.process(&mut tracking, inner_port, &mut buffer[..len], &mut reply, 0);
        assert!(matches!(verdict, Verdict::Forward { .. }), "NAT flow set up");
        nat_ports.push(u16::from_be_bytes([buffer[20], buffer[21]]));
    }
    let nat_in: Vec<Vec<u8>> =
        nat_ports.iter().map(|&port| segment(check_ip, nat_public, 80, port)).collect();
    let six = |id: &vpclab_model::InstanceId| m.instance(id).unwrap().ipv6_addresses[0];
    let (me6, them6, inside6) = (six(&web), six(&peer), six(&inner));
    let check_ip6: Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();

    let cases = [
        ("local", port, flows(&|sport| segment(me, them, sport, 80))),
        ("local-reply", peer_port, flows(&|sport| segment(them, me, 80, sport))),
        ("internet-gateway-out", port, flows(&|sport| segment(me, check_ip, sport, 80))),
        ("internet-gateway-in", INTERNET, flows(&|sport| segment(check_ip, public, 80, sport))),
        ("nat-gateway-out", inner_port, nat_out),
        ("nat-gateway-in", INTERNET, nat_in),
        ("endpoint-out", port, flows(&|sport| segment(me, s3, sport, 80))),
        ("endpoint-reply-in", INTERNET, flows(&|sport| segment(s3, me, 80, sport))),
        ("local-v6", port, flows(&|sport| segment6(me6, them6, sport, 80))),
        ("local-reply-v6", peer_port, flows(&|sport| segment6(them6, me6, 80, sport))),
        ("internet-gateway-out-v6", port, flows(&|sport| segment6(me6, check_ip6, sport, 80))),
        ("internet-gateway-in-v6", INTERNET, flows(&|sport| segment6(check_ip6, me6, 80, sport))),
        ("egress-only-out-v6", inner_port, flows(&|sport| segment6(inside6, check_ip6, sport, 80))),
        ("egress-only-in-v6", INTERNET, flows(&|sport| segment6(check_ip6, inside6, 80, sport))),
    ];
    let mut group = c.benchmark_group("paths");
    group.throughput(Throughput::Elements(PACKETS as u64));
    for (name, from, packets) in &cases {
        let mut run = |tracking: &mut Tracking| {
            let mut forwarded = 0u32;
            for p in packets {
                buffer[..p.len()].copy_from_slice(p);
                let verdict =
                    snapshot.process(tracking, *from, &mut buffer[..p.len()], &mut reply, 0);
                forwarded += u32::from(matches!(verdict, Verdict::Forward { .. }));
            }
            forwarded
        };
        // The flows exist before anything is timed (the replies need them).
        assert_eq!(run(&mut tracking) as usize, PACKETS, "{name}: every packet forwarded");
        group.bench_function(*name, |b| b.iter(|| black_box(run(&mut tracking))));
    }
    group.finish();
}

criterion_group!(benches, verdicts, paths);
criterion_main!(benches);
