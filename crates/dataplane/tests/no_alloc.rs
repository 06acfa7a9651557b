//! The per-packet path allocates nothing: proven with a counting allocator over many
//! packets of every kind the pipeline handles. (One test in its own binary, so no other
//! test allocates meanwhile.)

use vpclab_dataplane::wire::{Offload, ipv4_packet};
use vpclab_dataplane::wire6::ipv6_packet;
use vpclab_dataplane::{INTERNET, PortMap, REPLY_BUFFER, Tracking, Verdict, compile};
use vpclab_model::{Model, RouteSpec, RouteTarget, RunInstance, Tags, TgwOptions};
use vpclab_sys::alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

fn ipv4(src: [u8; 4], dst: [u8; 4], ttl: u8, protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_packet(src.into(), dst.into(), ttl, protocol, payload)
}

#[test]
fn forwarding_allocates_nothing() {
    let mut m = Model::new(1);
    let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let public = m.create_subnet(&vpc, "10.0.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let private = m.create_subnet(&vpc, "10.0.2.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let route = |target| RouteSpec { destination: "0.0.0.0/0".parse().unwrap(), target };
    let public_table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&public_table, &public).unwrap();
    m.create_route(&public_table, route(RouteTarget::Gateway(igw))).unwrap();
    let web =
        RunInstance { subnet: Some(public.clone()), public_ip: Some(true), ..Default::default() };
    let web = m.run_instance(web).unwrap();
    let app = m.run_instance(RunInstance { subnet: Some(private.clone()), ..Default::default() });
    let app = app.unwrap();
    // The private subnet is dual-stack too, with `six`, which reaches IPv4 hosts through
    // the NAT gateway's NAT64.
    let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
    let block6: ipnet::Ipv6Net = format!("{}/64", block.network()).parse().unwrap();
    m.associate_subnet_ipv6(&private, block6).unwrap();
    let six = RunInstance {
        subnet: Some(private.clone()),
        ipv6: vpclab_model::Ipv6Request::Count(1),
        ..Default::default()
    };
    let six = m.run_instance(six).unwrap();
    let six_address = m.instance(&six).unwrap().ipv6_addresses[0];
    // The private subnet goes out through a NAT gateway in the public one.
    let eip = m.allocate_address(Tags::new()).unwrap();
    let nat = m
        .create_nat_gateway(vpclab_model::NatGatewaySpec::public(&public, &eip), Tags::new(), 0)
        .unwrap();
    let nat_table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&nat_table, &private).unwrap();
    m.create_route(&nat_table, route(RouteTarget::NatGateway(nat.clone()))).unwrap();
    let nat64 = RouteSpec {
        destination: "64:ff9b::/96".parse().unwrap(),
        target: RouteTarget::NatGateway(nat),
    };
    m.create_ipv6_route(&nat_table, nat64).unwrap();
    // Another VPC, 10.1.0.0/16, whose `far` 10.1.1.4 the public subnet reaches through a
    // transit gateway.
    let tgw = m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0);
    let tgw = tgw.unwrap();
    let far_vpc = m.create_vpc("10.1.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let far_subnet =
        m.create_subnet(&far_vpc, "10.1.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let far = RunInstance { subnet: Some(far_subnet.clone()), ..Default::default() };
    let far = m.run_instance(far).unwrap();
    for (vpc, subnet) in [(&vpc, &public), (&far_vpc, &far_subnet)] {
        let options = vpclab_model::VpcAttachmentOptions::default();
        let only = std::slice::from_ref(subnet);
        m.create_tgw_vpc_attachment(&tgw, vpc, only, options, Tags::new(), 0).unwrap();
    }
    let far_main = m.vpc(&far_vpc).unwrap().main_route_table.clone();
    for (table, to) in [(&public_table, "10.1.0.0/16"), (&far_main, "10.0.0.0/16")] {
        let spec = RouteSpec {
            destination: to.parse().unwrap(),
            target: RouteTarget::TransitGateway(tgw.clone()),
        };
        m.create_route(table, spec).unwrap();
    }
    let mut ports = PortMap::new();
    let web = ports.assign(&web);
    let app = ports.assign(&app);
    ports.assign(&far);
    let six = ports.assign(&six);
    let snapshot = compile(&m, &mut ports, 1);
    let mut nats = Tracking::new(1 << 16);
    nats.sync(&snapshot);

    // 8 bytes of UDP (checksum 0: none) plus a payload; source port 5000, to port 53.
    let udp = [0x13, 0x88, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, b'v', b'p', b'c', b'!'];
    let templates = [
        (web, ipv4([10, 0, 1, 4], [10, 0, 2, 4], 64, 17, &udp)),
        (web, ipv4([10, 0, 1, 4], [198, 51, 100, 1], 64, 17, &udp)),
        (INTERNET, ipv4([198, 51, 100, 1], [203, 0, 113, 10], 64, 17, &udp)),
        (web, ipv4([10, 0, 1, 4], [10, 0, 2, 4], 1, 17, &udp)),
        (web, ipv4([10, 9, 9, 9], [10, 0, 2, 4], 64, 17, &udp)),
        // Through the NAT gateway: a new flow every time (the source port changes).
        (app, ipv4([10, 0, 2, 4], [198, 51, 100, 1], 64, 17, &udp)),
        // Unsolicited, to the NAT gateway's address.
        (INTERNET, ipv4([198, 51, 100, 1], [203, 0, 113, 11], 64, 17, &udp)),
        // To the VPC's DNS server: handed to the services.
        (web, ipv4([10, 0, 1, 4], [10, 0, 0, 2], 64, 17, &udp)),
        // Through the transit gateway, all the way to far's security groups (which
        // refuse it: web is not in far's default group).
        (web, ipv4([10, 0, 1, 4], [10, 1, 1, 4], 64, 17, &udp)),
        // NAT64 out to 198.51.100.1: a new flow every time, translated to IPv4.
        (six, ipv6_packet(six_address, "64:ff9b::c633:6401".parse().unwrap(), 64, 17, &udp)),
    ];
    let mut probe = templates[8].1.clone();
    let mut scratch = vec![0u8; REPLY_BUFFER];
    let verdict = snapshot.process(&mut nats, web, &mut probe, &mut scratch, 0);
    assert_eq!(verdict, Verdict::Drop(vpclab_dataplane::DropReason::SgIngress), "through the hub");
    let mut buffer = vec![0u8; 65_536];
    let mut reply = vec![0u8; REPLY_BUFFER];
    let mut outcomes = [0usize; 5];

    let before = ALLOC.snapshot();
    for i in 0..90_000u32 {
        let (from, template) = &templates[i as usize % templates.len()];
        let packet = &mut buffer[..template.len()];
        packet.copy_from_slice(template);
        let l4 = if template[0] >> 4 == 6 { 40 } else { 20 };
        packet[l4..l4 + 2].copy_from_slice(&(1024 + (i / 10) as u16).to_be_bytes());
        // Every other packet as a TUN with offloads hands it over: a partial checksum.
        let offload = Offload { partial_checksum: i % 2 == 0, gso_size: 0 };
        let now = u64::from(i);
        match snapshot.process_offloaded(&mut nats, *from, packet, offload, &mut reply, now) {
            Verdict::Forward { .. } => outcomes[0] += 1,
            Verdict::Reply { .. } => outcomes[1] += 1,
            Verdict::Drop(_) => outcomes[2] += 1,
            Verdict::Service { .. } => outcomes[3] += 1,
            Verdict::Translated { .. } => outcomes[4] += 1,
        }
    }
    let delta = ALLOC.snapshot().since(&before);

    assert_eq!(delta.allocations, 0, "the pipeline allocated");
    // Unsolicited UDP from the internet to web is refused by web's (default) security
    // group, like the spoofed and the unsolicited-to-NAT packets.
    assert_eq!(
        outcomes,
        [27_000, 9_000, 36_000, 9_000, 9_000],
        "every kind of verdict was exercised"
    );
    assert_eq!(nats.flows(), 18_000, "one NAT44 and one NAT64 flow per distinct source port");
}
