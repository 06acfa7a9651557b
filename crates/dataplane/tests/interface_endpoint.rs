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
