//! An interface endpoint on packets, without root: to its interface's address, through
//! its security groups, on to the service with the caller's own address, and the
//! service's answers back from the interface's address.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_dataplane::trace::{Probe, answer, probe};
use vpclab_dataplane::{
    DropReason, INTERNET, Port, PortMap, REPLY_BUFFER, Snapshot, Tracking, Verdict, compile,
};
use vpclab_model::{Model, Peer, Protocol, RunInstance, SgRule, Tags};

fn cidr(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// VPC 10.0.0.0/16 without any way out: `app` 10.0.2.10, `near` 10.0.3.10 in the
/// endpoint's subnet, and an ssm endpoint in 10.0.3.0/24 whose group admits TCP 80 from
/// the VPC. Returns the snapshot, the two ports and the endpoint's address.
fn lab() -> (Snapshot, Port, Port, Ipv4Addr) {
    let mut m = Model::new(31);
    let vpc = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
    let app_subnet = m.create_subnet(&vpc, cidr("10.0.2.0/24"), None, Tags::new()).unwrap();
    let ep_subnet = m.create_subnet(&vpc, cidr("10.0.3.0/24"), None, Tags::new()).unwrap();
    let group = m.create_security_group(&vpc, "endpoints", "e", Tags::new()).unwrap();
    let http = SgRule::new(Protocol::Tcp, 80, 80, Peer::Cidr(cidr("10.0.0.0/16")), None).unwrap();
    m.authorize(&group, false, vec![http]).unwrap();
    let service = "com.amazonaws.us-east-1.ssm";
    let subnets = [ep_subnet.clone()];
    m.create_interface_endpoint(&vpc, service, &subnets, &[group], Some(false), Tags::new(), 0)
        .unwrap();
    let address =
        m.vpc_endpoints().next().unwrap().interface.as_ref().unwrap().interfaces[0].private_ip;
    let mut ports = PortMap::new();
    let mut run = |m: &mut Model, subnet, at: &str| {
        let spec =
            RunInstance { subnet: Some(subnet), private_ip: Some(ip(at)), ..Default::default() };
        ports.assign(&m.run_instance(spec).unwrap())
    };
    let app = run(&mut m, app_subnet, "10.0.2.10");
    let near = run(&mut m, ep_subnet, "10.0.3.10");
    (compile(&m, &mut ports, 1), app, near, address)
}

fn process(snapshot: &Snapshot, tracking: &mut Tracking, from: Port, packet: &mut [u8]) -> Verdict {
    let mut reply = vec![0u8; REPLY_BUFFER];
    snapshot.process(tracking, from, packet, &mut reply, 0)
}

#[test]
fn a_flow_to_the_endpoint_reaches_the_service_with_the_callers_address_and_comes_back() {
    let (snapshot, app, near, endpoint) = lab();
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let ssm = ip("198.51.100.136");
    for (from, caller, routed) in [(app, "10.0.2.10", true), (near, "10.0.3.10", false)] {
        let mut syn = probe(ip(caller), endpoint, Probe::Tcp(80));
        let verdict = process(&snapshot, &mut tracking, from, &mut syn);
        assert!(matches!(verdict, Verdict::Forward { port: INTERNET, .. }), "{verdict:?}");
        assert_eq!(&syn[12..16], &ip(caller).octets(), "the service sees the caller");
        assert_eq!(&syn[16..20], &ssm.octets(), "at its own address");
        assert_eq!(syn[8], if routed { 63 } else { 64 }, "the router counts between subnets");
        let mut back = answer(&syn);
        let verdict = process(&snapshot, &mut tracking, INTERNET, &mut back);
        assert!(matches!(verdict, Verdict::Forward { port, .. } if port == from), "{verdict:?}");
        assert_eq!(&back[12..16], &endpoint.octets(), "from the endpoint's address");
    }
    // Its security group admits port 80 only; the service never calls in.
    let mut other = probe(ip("10.0.2.10"), endpoint, Probe::Tcp(443));
    let verdict = process(&snapshot, &mut tracking, app, &mut other);
    assert_eq!(verdict, Verdict::Drop(DropReason::SgIngress));
    let mut unsolicited = probe(ssm, ip("10.0.2.10"), Probe::Tcp(8080));
    let verdict = process(&snapshot, &mut tracking, INTERNET, &mut unsolicited);
    assert_eq!(verdict, Verdict::Drop(DropReason::NoPublicMapping));
}

#[test]
fn both_ways_of_an_endpoint_flow_have_one_owner() {
    let (snapshot, app, _, endpoint) = lab();
    let owners = vpclab_dataplane::steer::FragmentOwners::default();
    for sport in 1000..1200u16 {
        let mut syn = probe(ip("10.0.2.10"), endpoint, Probe::Tcp(80));
        syn[20..22].copy_from_slice(&sport.to_be_bytes());
        let there = vpclab_dataplane::steer::owner(&snapshot, app, &syn, 4, &owners);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        let _ = process(&snapshot, &mut tracking, app, &mut syn);
        let back = answer(&syn);
        let returning = vpclab_dataplane::steer::owner(&snapshot, INTERNET, &back, 4, &owners);
        assert_eq!(there, returning, "source port {sport}");
    }
}

/// A VPC 10.0.0.0/16 with subnets in three zones and a group open to TCP.
fn three_zones(
    m: &mut Model,
) -> (vpclab_model::VpcId, [vpclab_model::SubnetId; 3], vpclab_model::SecurityGroupId) {
    let vpc = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
    let subnet = |m: &mut Model, third: u8, zone: &str| {
        m.create_subnet(&vpc, cidr(&format!("10.0.{third}.0/24")), Some(zone), Tags::new()).unwrap()
    };
    let subnets =
        [subnet(m, 2, "us-east-1a"), subnet(m, 3, "us-east-1b"), subnet(m, 4, "us-east-1c")];
    let group = m.create_security_group(&vpc, "open", "o", Tags::new()).unwrap();
    let tcp = SgRule::new(Protocol::Tcp, 0, 65535, Peer::Cidr(cidr("0.0.0.0/0")), None).unwrap();
    m.authorize(&group, false, vec![tcp]).unwrap();
    (vpc, subnets, group)
}

#[test]
fn a_live_flow_keeps_its_interface_while_other_endpoints_change() {
    let mut m = Model::new(7);
    let (vpc, [a, b, c], group) = three_zones(&mut m);
    let ssm = "com.amazonaws.us-east-1.ssm";
    let groups = [group.clone()];
    let endpoint = |m: &mut Model, subnet: &vpclab_model::SubnetId| {
        let only = std::slice::from_ref(subnet);
        m.create_interface_endpoint(&vpc, ssm, only, &groups, Some(false), Tags::new(), 0).unwrap()
    };
    let (first, second) = (endpoint(&mut m, &b), endpoint(&mut m, &c));
    let mut ports = PortMap::new();
    let spec = RunInstance {
        subnet: Some(a.clone()),
        private_ip: Some(ip("10.0.2.10")),
        ..Default::default()
    };
    let caller = ports.assign(&m.run_instance(spec).unwrap());
    let address = |m: &Model, e| {
        m.vpc_endpoint(e).unwrap().interface.as_ref().unwrap().interfaces[0].private_ip
    };
    // A flow through each endpoint, then the other ones change under them.
    let snapshot = compile(&m, &mut ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let mut syns: Vec<(Ipv4Addr, Vec<u8>)> = Vec::new();
    for e in [&first, &second] {
        let to = address(&m, e);
        let mut syn = probe(ip("10.0.2.10"), to, Probe::Tcp(80));
        let verdict = process(&snapshot, &mut tracking, caller, &mut syn);
        assert!(matches!(verdict, Verdict::Forward { port: INTERNET, .. }), "{verdict:?}");
        syns.push((to, syn));
    }
    m.modify_interface_endpoint(&first, std::slice::from_ref(&a), &[], &[], &[], None, 0).unwrap();
    m.delete_vpc_endpoint(&first).unwrap();
    let snapshot = compile(&m, &mut ports, 2);
    tracking.sync(&snapshot);
    let (to, syn) = &syns[1];
    let mut back = answer(syn);
    let verdict = process(&snapshot, &mut tracking, INTERNET, &mut back);
    assert!(matches!(verdict, Verdict::Forward { port, .. } if port == caller), "{verdict:?}");
    assert_eq!(&back[12..16], &to.octets(), "from the interface the flow began at");
}

#[test]
fn endpoints_carry_tcp_and_answer_a_peered_caller_by_their_subnets_routes() {
    let mut m = Model::new(9);
    let (vpc, [a, b, _], group) = three_zones(&mut m);
    let ssm = "com.amazonaws.us-east-1.ssm";
    let e = m
        .create_interface_endpoint(
            &vpc,
            ssm,
            std::slice::from_ref(&b),
            &[group],
            Some(false),
            Tags::new(),
            0,
        )
        .unwrap();
    let to = m.vpc_endpoint(&e).unwrap().interface.as_ref().unwrap().interfaces[0].private_ip;
    let other = m.create_vpc(cidr("10.1.0.0/16"), Tags::new()).unwrap();
    let far = m.create_subnet(&other, cidr("10.1.2.0/24"), None, Tags::new()).unwrap();
    let pcx = m.create_vpc_peering_connection(&other, &vpc, Tags::new()).unwrap();
    m.accept_vpc_peering_connection(&pcx).unwrap();
    for (vpc, to_other) in [(&other, "10.0.0.0/16"), (&vpc, "10.1.0.0/16")] {
        let main = m.vpc(vpc).unwrap().main_route_table.clone();
        let spec = vpclab_model::RouteSpec {
            destination: cidr(to_other),
            target: vpclab_model::RouteTarget::Peering(pcx.clone()),
        };
        m.create_route(&main, spec).unwrap();
    }
    let mut ports = PortMap::new();
    let mut run = |m: &mut Model, subnet: &vpclab_model::SubnetId, at: &str| {
        let spec = RunInstance {
            subnet: Some(subnet.clone()),
            private_ip: Some(ip(at)),
            ..Default::default()
        };
        ports.assign(&m.run_instance(spec).unwrap())
    };
    let (near, remote) = (run(&mut m, &a, "10.0.2.10"), run(&mut m, &far, "10.1.2.10"));
    let snapshot = compile(&m, &mut ports, 1);
    let mut tracking = Tracking::new(64);
    tracking.sync(&snapshot);
    let mut udp = probe(ip("10.0.2.10"), to, Probe::Udp(53));
    let verdict = process(&snapshot, &mut tracking, near, &mut udp);
    assert_eq!(verdict, Verdict::Drop(DropReason::EndpointNotTcp));

    // Both ways of a peered caller's flow meet one worker.
    let owners = vpclab_dataplane::steer::FragmentOwners::default();
    for sport in 1000..1100u16 {
        let mut syn = probe(ip("10.1.2.10"), to, Probe::Tcp(443));
        syn[20..22].copy_from_slice(&sport.to_be_bytes());
        let there = vpclab_dataplane::steer::owner(&snapshot, remote, &syn, 4, &owners);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        let _ = process(&snapshot, &mut tracking, remote, &mut syn);
        let back = answer(&syn);
        let returning = vpclab_dataplane::steer::owner(&snapshot, INTERNET, &back, 4, &owners);
        assert_eq!(there, returning, "source port {sport}");
    }

    // From the peer: to the service as itself, and back from the interface's address by
    // the endpoint subnet's route to the peering.
    let mut from_peer = probe(ip("10.1.2.10"), to, Probe::Tcp(443));
    let verdict = process(&snapshot, &mut tracking, remote, &mut from_peer);
    assert!(matches!(verdict, Verdict::Forward { port: INTERNET, .. }), "{verdict:?}");
    assert_eq!(&from_peer[12..16], &ip("10.1.2.10").octets(), "the service sees the caller");
    let mut back = answer(&from_peer);
    let verdict = process(&snapshot, &mut tracking, INTERNET, &mut back);
    assert!(matches!(verdict, Verdict::Forward { port, .. } if port == remote), "{verdict:?}");
    assert_eq!(&back[12..16], &to.octets(), "from the endpoint's address");
    assert_eq!(back[8], 63, "one router, as between any two peered subnets");

    // Without that route, the answer has no way back.
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    m.delete_route(&main, cidr("10.1.0.0/16")).unwrap();
    let snapshot = compile(&m, &mut ports, 2);
    tracking.sync(&snapshot);
    let mut again = probe(ip("10.1.2.10"), to, Probe::Tcp(443));
    let verdict = process(&snapshot, &mut tracking, remote, &mut again);
    assert!(matches!(verdict, Verdict::Forward { port: INTERNET, .. }), "{verdict:?}");
    let mut back = answer(&again);
    let verdict = process(&snapshot, &mut tracking, INTERNET, &mut back);
    assert_eq!(verdict, Verdict::Drop(DropReason::NoRoute));
}

#[test]
fn an_icmp_error_about_an_endpoint_flow_reaches_the_caller_from_the_interface() {
    let (snapshot, app, _, endpoint) = lab();
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let ssm = ip("198.51.100.136");
    let mut syn = probe(ip("10.0.2.10"), endpoint, Probe::Tcp(80));
    let verdict = process(&snapshot, &mut tracking, app, &mut syn);
    assert!(matches!(verdict, Verdict::Forward { port: INTERNET, .. }), "{verdict:?}");
    // The service's host says the path needs smaller packets, quoting what it got.
    let mut error = vec![0u8; REPLY_BUFFER];
    let quoted = vpclab_dataplane::wire::Ipv4::new_checked(&syn[..]).unwrap();
    let (unreachable, needs_fragmentation, mtu) = (3, 4, 1400);
    let len = vpclab_dataplane::wire::icmp_error(
        &mut error,
        ssm,
        &quoted,
        unreachable,
        needs_fragmentation,
        mtu,
    )
    .unwrap();
    let mut error = error[..len].to_vec();
    let owners = vpclab_dataplane::steer::FragmentOwners::default();
    for workers in 2..6 {
        let flow = vpclab_dataplane::steer::owner(&snapshot, app, &syn, workers, &owners);
        let about = vpclab_dataplane::steer::owner(&snapshot, INTERNET, &error, workers, &owners);
        assert_eq!(flow, about, "the error meets its flow's worker ({workers} workers)");
    }
    let verdict = process(&snapshot, &mut tracking, INTERNET, &mut error);
    assert!(matches!(verdict, Verdict::Forward { port, .. } if port == app), "{verdict:?}");
    assert_eq!(&error[12..16], &endpoint.octets(), "from the endpoint's address");
    assert_eq!(&error[28 + 16..28 + 20], &endpoint.octets(), "about the flow app sees");
}
