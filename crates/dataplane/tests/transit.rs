//! A transit gateway on packets, without root: the forwarder's own pipeline over a
//! compiled snapshot of three VPCs (A 10.0.0.0/16, B 10.1.0.0/16, C 10.2.0.0/16), each
//! with one instance at .1.10 in us-east-1a, routing 10.0.0.0/8 to one transit gateway.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_dataplane::trace::{Probe, probe};
use vpclab_dataplane::{DropReason, Port, PortMap, REPLY_BUFFER, Tracking, Verdict, compile};
use vpclab_model::{
    AclEntry, Model, Peer, Protocol, RouteSpec, RouteTarget, RunInstance, SgRule, SubnetId, Tags,
    TgwAttachmentId, TgwOptions, TransitGatewayId, VpcAttachmentOptions, VpcId,
};

fn cidr(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

struct Lab {
    model: Model,
    ports: PortMap,
    tgw: TransitGatewayId,
    vpcs: Vec<VpcId>,
    subnets: Vec<SubnetId>,
    attachments: Vec<TgwAttachmentId>,
    /// The instance of each VPC.
    hosts: Vec<Port>,
}

impl Lab {
    /// The three VPCs attached to one transit gateway with default association and
    /// propagation: everything reaches everything.
    fn new() -> Self {
        let mut model = Model::new(17);
        let tgw = model
            .create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0)
            .unwrap();
        let mut lab = Lab {
            model,
            ports: PortMap::new(),
            tgw,
            vpcs: Vec::new(),
            subnets: Vec::new(),
            attachments: Vec::new(),
            hosts: Vec::new(),
        };
        for n in 0..3 {
            lab.add_vpc(n);
        }
        lab
    }

    fn add_vpc(&mut self, n: u8) {
        let m = &mut self.model;
        let vpc = m.create_vpc(cidr(&format!("10.{n}.0.0/16")), Tags::new()).unwrap();
        let subnet = m
            .create_subnet(&vpc, cidr(&format!("10.{n}.1.0/24")), Some("us-east-1a"), Tags::new())
            .unwrap();
        let attachment = m
            .create_tgw_vpc_attachment(
                &self.tgw,
                &vpc,
                std::slice::from_ref(&subnet),
                VpcAttachmentOptions::default(),
                Tags::new(),
                0,
            )
            .unwrap();
        let main = m.vpc(&vpc).unwrap().main_route_table.clone();
        let to_tgw = RouteSpec {
            destination: cidr("10.0.0.0/8"),
            target: RouteTarget::TransitGateway(self.tgw.clone()),
        };
        m.create_route(&main, to_tgw).unwrap();
        let sg = m.vpc(&vpc).unwrap().default_security_group.clone().unwrap();
        let all = SgRule::new(Protocol::All, -1, -1, Peer::Cidr(cidr("10.0.0.0/8")), None);
        m.authorize(&sg, false, vec![all.unwrap()]).unwrap();
        let instance = m
            .run_instance(RunInstance {
                subnet: Some(subnet.clone()),
                private_ip: Some(ip(&format!("10.{n}.1.10"))),
                ..Default::default()
            })
            .unwrap();
        self.hosts.push(self.ports.assign(&instance));
        self.vpcs.push(vpc);
        self.subnets.push(subnet);
        self.attachments.push(attachment);
    }

    /// A ping from VPC `from`'s instance to `dst` (and its reply, when forwarded): the
    /// verdicts and the TTL the request arrived with.
    fn ping(&mut self, from: usize, dst: &str) -> (Verdict, Option<Verdict>, u8) {
        self.send(from, dst, Probe::Ping, 2000)
    }

    fn send(
        &mut self,
        from: usize,
        dst: &str,
        what: Probe,
        size: usize,
    ) -> (Verdict, Option<Verdict>, u8) {
        let snapshot = compile(&self.model, &mut self.ports, 1);
        let mut tracking = Tracking::new(1024);
        tracking.sync(&snapshot);
        let src = ip(&format!("10.{from}.1.10"));
        let mut packet = probe(src, ip(dst), what);
        if size > packet.len() {
            // Pad an echo request to `size` bytes (header checksum redone, ICMP's too).
            packet.resize(size, 0);
            let len = (size as u16).to_be_bytes();
            packet[2..4].copy_from_slice(&len);
            fix_checksums(&mut packet);
        }
        let mut reply = vec![0u8; REPLY_BUFFER];
        let verdict = snapshot.process(&mut tracking, self.hosts[from], &mut packet, &mut reply, 0);
        let ttl = packet[8];
        let answer = match verdict {
            Verdict::Forward { port, len } => {
                let mut back = vpclab_dataplane::trace::answer(&packet[..len]);
                Some(snapshot.process(&mut tracking, port, &mut back, &mut reply, 1))
            }
            _ => None,
        };
        (verdict, answer, ttl)
    }

    /// A VPN connection to the hub (static routing or BGP), from a customer gateway.
    fn vpn_to_hub(&mut self, static_routes_only: bool) -> vpclab_model::VpnConnectionId {
        let m = &mut self.model;
        let cgw = vpclab_model::CustomerGatewaySpec::new(ip("198.51.100.2"), None, None, None);
        let cgw = m.create_customer_gateway(cgw.unwrap(), Tags::new(), 0);
        let spec = vpclab_model::VpnConnectionSpec {
            customer_gateway: cgw,
            end: Some(vpclab_model::VpnEnd::TransitGateway(self.tgw.clone())),
            static_routes_only,
            tunnel_bandwidth: None,
            tunnels: Default::default(),
        };
        m.create_vpn_connection(spec, Tags::new(), 0).unwrap()
    }

    fn default_table(&self) -> vpclab_model::TgwRouteTableId {
        let tgw = self.model.transit_gateway(&self.tgw).unwrap();
        tgw.options.association_default_route_table.clone().unwrap()
    }
}

fn fix_checksums(p: &mut [u8]) {
    let sum = |bytes: &[u8]| {
        let mut s: u32 = bytes
            .chunks(2)
            .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    };
    p[10..12].fill(0);
    let c = sum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[22..24].fill(0);
    let c = sum(&p[20..]);
    p[22..24].copy_from_slice(&c.to_be_bytes());
}

fn delivered_to(verdict: Verdict, port: Port) -> bool {
    matches!(verdict, Verdict::Forward { port: p, .. } if p == port)
}

#[test]
fn every_vpc_reaches_every_other_through_the_hub_and_two_routers_count() {
    let mut lab = Lab::new();
    for (from, to) in [(0, 1), (1, 2), (2, 0), (0, 2)] {
        let (verdict, answer, ttl) = lab.ping(from, &format!("10.{to}.1.10"));
        assert!(delivered_to(verdict, lab.hosts[to]), "{from} -> {to}: {verdict:?}");
        assert!(delivered_to(answer.unwrap(), lab.hosts[from]), "{to} -> {from} answers");
        assert_eq!(ttl, 62, "the VPC router and the transit gateway each take one");
    }
    let (verdict, ..) = lab.ping(0, "10.1.1.99");
    assert_eq!(verdict, Verdict::Drop(DropReason::NoHost), "routed, but nobody holds it");
}

#[test]
fn the_table_associated_with_the_ingress_attachment_decides() {
    // Segmentation: A (prod) and B (dev) each on their own table, which holds only C's
    // (shared services) routes; C's table holds both. A and B cannot talk, both reach C.
    let mut lab = Lab::new();
    let default = lab.default_table();
    let [a, b, c] = [0, 1, 2].map(|i| lab.attachments[i].clone());
    let m = &mut lab.model;
    let spokes = m.create_tgw_route_table(&lab.tgw, Tags::new(), 0).unwrap();
    let shared = m.create_tgw_route_table(&lab.tgw, Tags::new(), 0).unwrap();
    for attachment in [&a, &b, &c] {
        m.disassociate_tgw_route_table(&default, attachment).unwrap();
    }
    for spoke in [&a, &b] {
        m.associate_tgw_route_table(&spokes, spoke).unwrap();
        m.enable_tgw_propagation(&shared, spoke).unwrap();
    }
    m.associate_tgw_route_table(&shared, &c).unwrap();
    m.enable_tgw_propagation(&spokes, &c).unwrap();

    let (verdict, ..) = lab.ping(0, "10.1.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwNoRoute), "prod cannot reach dev");
    let (verdict, ..) = lab.ping(1, "10.0.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwNoRoute), "nor dev prod");
    for spoke in [0, 1] {
        let (verdict, answer, _) = lab.ping(spoke, "10.2.1.10");
        assert!(delivered_to(verdict, lab.hosts[2]), "{spoke} reaches shared: {verdict:?}");
        assert!(delivered_to(answer.unwrap(), lab.hosts[spoke]), "and shared answers");
    }

    // An attachment associated with no table has no routes at all.
    lab.model.disassociate_tgw_route_table(&spokes, &a).unwrap();
    let (verdict, ..) = lab.ping(0, "10.2.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwNoRoute));
}

#[test]
fn static_routes_beat_propagated_ones_and_blackholes_drop() {
    let mut lab = Lab::new();
    let table = lab.default_table();
    let b = lab.attachments[1].clone();
    // A /24 inside C's CIDR, sent to B's attachment: B's subnet table routes it by
    // 10.0.0.0/8 back to the transit gateway, which the forwarder does not carry on.
    lab.model.put_tgw_route(&table, cidr("10.2.1.0/24"), Some(&b), false).unwrap();
    let (verdict, ..) = lab.ping(0, "10.2.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwOnwardUnsupported));

    // The same prefix as C's propagated CIDR, as a blackhole: the static route wins.
    lab.model.delete_tgw_route(&table, cidr("10.2.1.0/24")).unwrap();
    lab.model.put_tgw_route(&table, cidr("10.2.0.0/16"), None, false).unwrap();
    let (verdict, ..) = lab.ping(0, "10.2.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwBlackhole));
    let (verdict, ..) = lab.ping(0, "10.1.1.10");
    assert!(delivered_to(verdict, lab.hosts[1]), "other routes untouched: {verdict:?}");

    // Deleting the static route brings the propagated one back.
    lab.model.delete_tgw_route(&table, cidr("10.2.0.0/16")).unwrap();
    let (verdict, ..) = lab.ping(0, "10.2.1.10");
    assert!(delivered_to(verdict, lab.hosts[2]), "{verdict:?}");

    // A static route to an attachment that is then deleted becomes a blackhole.
    lab.model.put_tgw_route(&table, cidr("10.9.0.0/16"), Some(&lab.attachments[2]), false).unwrap();
    let c = lab.attachments[2].clone();
    lab.model.delete_tgw_attachment(&c).unwrap();
    let (verdict, ..) = lab.ping(0, "10.9.0.1");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwBlackhole));
    let routes = lab.model.tgw_routes(lab.model.tgw_route_table(&table).unwrap());
    let gone = routes.iter().find(|r| r.destination == cidr("10.9.0.0/16")).unwrap();
    assert_eq!(gone.state(), "blackhole");
    assert!(routes.iter().all(|r| r.destination != cidr("10.2.0.0/16")), "C's CIDR went with it");
}

#[test]
fn only_zones_the_attachment_has_are_served() {
    let mut lab = Lab::new();
    let m = &mut lab.model;
    let other_zone = m
        .create_subnet(&lab.vpcs[0], cidr("10.0.2.0/24"), Some("us-east-1b"), Tags::new())
        .unwrap();
    let instance = m
        .run_instance(RunInstance {
            subnet: Some(other_zone.clone()),
            private_ip: Some(ip("10.0.2.10")),
            ..Default::default()
        })
        .unwrap();
    let port = lab.ports.assign(&instance);
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    let mut tracking = Tracking::new(64);
    tracking.sync(&snapshot);
    let mut reply = vec![0u8; REPLY_BUFFER];
    let mut packet = probe(ip("10.0.2.10"), ip("10.1.1.10"), Probe::Ping);
    let verdict = snapshot.process(&mut tracking, port, &mut packet, &mut reply, 0);
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwZoneNotAttached));

    // Adding that zone's subnet to the attachment opens it.
    let a = lab.attachments[0].clone();
    lab.model.modify_tgw_vpc_attachment(&a, &[other_zone], &[], |_| {}).unwrap();
    let snapshot = compile(&lab.model, &mut lab.ports, 2);
    let mut packet = probe(ip("10.0.2.10"), ip("10.1.1.10"), Probe::Ping);
    let verdict = snapshot.process(&mut tracking, port, &mut packet, &mut reply, 0);
    assert!(delivered_to(verdict, lab.hosts[1]), "{verdict:?}");
}

#[test]
fn more_than_8500_bytes_are_dropped_without_an_error() {
    let mut lab = Lab::new();
    let (verdict, ..) = lab.send(0, "10.1.1.10", Probe::Ping, 8500);
    assert!(delivered_to(verdict, lab.hosts[1]), "8500 bytes pass: {verdict:?}");
    let (verdict, ..) = lab.send(0, "10.1.1.10", Probe::Ping, 8501);
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwMtuExceeded), "no ICMP error comes back");
}

#[test]
fn the_attachment_subnets_acl_applies_where_aws_applies_it() {
    // A's attachment gets its own subnet 10.0.0.0/28 (in the same zone); its ACL denies
    // inbound from A's instance subnet: A cannot send through it, B's packets still
    // reach A, since coming out of the transit gateway in a subnet other than the
    // receiver's applies that subnet's *outbound* rules and the receiver's inbound ones.
    let mut lab = Lab::new();
    let m = &mut lab.model;
    let vpc = lab.vpcs[0].clone();
    let tgw_subnet =
        m.create_subnet(&vpc, cidr("10.0.0.0/28"), Some("us-east-1a"), Tags::new()).unwrap();
    let a = lab.attachments[0].clone();
    let old = lab.subnets[0].clone();
    let err = m.modify_tgw_vpc_attachment(&a, &[], &[old], |_| {}).unwrap_err();
    assert_eq!(err.code, "InsufficientSubnetsException", "one subnet must stay");
    // One subnet per zone: a swap removes first.
    m.modify_tgw_vpc_attachment(
        &a,
        std::slice::from_ref(&tgw_subnet),
        &[lab.subnets[0].clone()],
        |_| {},
    )
    .unwrap();
    let acl = m.create_network_acl(&vpc, Tags::new()).unwrap();
    let association = m
        .network_acls()
        .flat_map(|a| &a.associations)
        .find(|(_, subnet)| subnet == &tgw_subnet)
        .map(|(id, _)| id.clone())
        .unwrap();
    m.replace_network_acl_association(&association, &acl).unwrap();
    let entry = |egress, from: &str| {
        AclEntry::new(100, egress, Protocol::All, true, cidr(from), None, None).unwrap()
    };
    m.create_network_acl_entry(&acl, entry(true, "0.0.0.0/0")).unwrap();
    m.create_network_acl_entry(&acl, entry(false, "10.1.0.0/16")).unwrap();

    let (verdict, ..) = lab.ping(0, "10.1.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::NaclIn), "A -> TGW subnet inbound denies");
    let (verdict, ..) = lab.ping(1, "10.0.1.10");
    assert!(delivered_to(verdict, lab.hosts[0]), "B -> A: TGW subnet outbound allows: {verdict:?}");
}

#[test]
fn a_peering_carries_static_routes_between_two_hubs_once_accepted() {
    // The lab's hub (A, B, C) peers with a second hub, `west`, which has VPC D
    // 10.7.0.0/16. Each side routes the other's CIDRs to the peering by static routes.
    let mut lab = Lab::new();
    let m = &mut lab.model;
    let west = m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0);
    let west = west.unwrap();
    let vpc = m.create_vpc(cidr("10.7.0.0/16"), Tags::new()).unwrap();
    let subnet =
        m.create_subnet(&vpc, cidr("10.7.1.0/24"), Some("us-east-1a"), Tags::new()).unwrap();
    let only = std::slice::from_ref(&subnet);
    let options = VpcAttachmentOptions::default();
    m.create_tgw_vpc_attachment(&west, &vpc, only, options, Tags::new(), 0).unwrap();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    let to_west = RouteSpec {
        destination: cidr("10.0.0.0/8"),
        target: RouteTarget::TransitGateway(west.clone()),
    };
    m.create_route(&main, to_west).unwrap();
    let sg = m.vpc(&vpc).unwrap().default_security_group.clone().unwrap();
    let all = SgRule::new(Protocol::All, -1, -1, Peer::Cidr(cidr("10.0.0.0/8")), None).unwrap();
    m.authorize(&sg, false, vec![all]).unwrap();
    let spec = RunInstance {
        subnet: Some(subnet),
        private_ip: Some(ip("10.7.1.10")),
        ..Default::default()
    };
    let d = m.run_instance(spec).unwrap();
    let d = lab.ports.assign(&d);

    let peering = lab
        .model
        .create_tgw_peering_attachment(
            &lab.tgw,
            &west,
            "123456789012".into(),
            "us-east-1".into(),
            Tags::new(),
            0,
        )
        .unwrap();
    let east_table = lab.default_table();
    let west_table = lab
        .model
        .transit_gateway(&west)
        .unwrap()
        .options
        .association_default_route_table
        .clone()
        .unwrap();
    lab.model.put_tgw_route(&east_table, cidr("10.7.0.0/16"), Some(&peering), false).unwrap();
    lab.model.put_tgw_route(&west_table, cidr("10.0.0.0/14"), Some(&peering), false).unwrap();
    let (verdict, ..) = lab.ping(0, "10.7.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwBlackhole), "not accepted yet");

    lab.model.answer_tgw_peering(&peering, true).unwrap();
    let (verdict, answer, ttl) = lab.ping(0, "10.7.1.10");
    assert!(delivered_to(verdict, d), "A -> east -> west -> D: {verdict:?}");
    assert!(delivered_to(answer.unwrap(), lab.hosts[0]), "and back");
    assert_eq!(ttl, 61, "the VPC router and both hubs");
    // Each side routes by its own table: a blackhole for B's /16 on west's side cuts B's
    // answers alone.
    lab.model.put_tgw_route(&west_table, cidr("10.1.0.0/16"), None, false).unwrap();
    let (verdict, answer, _) = lab.ping(1, "10.7.1.10");
    assert!(delivered_to(verdict, d), "B's request still goes east -> west");
    assert_eq!(answer, Some(Verdict::Drop(DropReason::TgwBlackhole)), "west has no way back");

    // A third hub beyond west: a packet crosses one peering at most.
    let north = lab
        .model
        .create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0)
        .unwrap();
    let onward = lab
        .model
        .create_tgw_peering_attachment(
            &west,
            &north,
            "123456789012".into(),
            "us-east-1".into(),
            Tags::new(),
            0,
        )
        .unwrap();
    lab.model.answer_tgw_peering(&onward, true).unwrap();
    lab.model.put_tgw_route(&east_table, cidr("10.8.0.0/16"), Some(&peering), false).unwrap();
    lab.model.put_tgw_route(&west_table, cidr("10.8.0.0/16"), Some(&onward), false).unwrap();
    let (verdict, ..) = lab.ping(0, "10.8.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwOnwardUnsupported));
}

/// The one's-complement checksum of `bytes`.
fn ones(bytes: &[u8], mut acc: u32) -> u16 {
    for pair in bytes.chunks(2) {
        acc += u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The TCP pseudo-header's sum for a 24-byte segment in `p`.
fn pseudo_header(p: &[u8]) -> u32 {
    p[12..20].chunks(2).map(|c| u32::from(c[0]) << 8 | u32::from(c[1])).sum::<u32>() + 6 + 24
}

/// A TCP SYN from `src` to `dst`:80 announcing `mss`, with valid checksums.
fn syn(src: &str, dst: &str, mss: u16) -> Vec<u8> {
    let mut tcp = vec![0u8; 24];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
    tcp[12] = 6 << 4;
    tcp[13] = 0x02;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    tcp[20..24].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
    let mut p = vpclab_dataplane::wire::ipv4_packet(ip(src), ip(dst), 64, 6, &tcp);
    let pseudo = pseudo_header(&p);
    let check = ones(&p[20..], pseudo);
    p[36..38].copy_from_slice(&check.to_be_bytes());
    p
}

#[test]
fn the_hub_clamps_the_mss_so_full_segments_fit_its_mtu() {
    let mut lab = Lab::new();
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    let mut tracking = Tracking::new(64);
    tracking.sync(&snapshot);
    let mut reply = vec![0u8; REPLY_BUFFER];
    // 9001-byte VPCs announce 8961; through the hub, 8460 arrives.
    let mut packet = syn("10.0.1.10", "10.1.1.10", 8961);
    let verdict = snapshot.process(&mut tracking, lab.hosts[0], &mut packet, &mut reply, 0);
    assert!(delivered_to(verdict, lab.hosts[1]), "{verdict:?}");
    assert_eq!(&packet[42..44], &8460u16.to_be_bytes(), "clamped to 8500 - 40");
    assert_eq!(ones(&packet[20..], pseudo_header(&packet)), 0, "the TCP checksum still holds");
}

#[test]
fn an_interface_endpoint_serves_callers_behind_the_hub() {
    let mut lab = Lab::new();
    // An ssm endpoint in B's attached subnet, its group open to the other VPCs on 443.
    let m = &mut lab.model;
    let group = m.create_security_group(&lab.vpcs[1], "endpoints", "e", Tags::new()).unwrap();
    let https = SgRule::new(Protocol::Tcp, 443, 443, Peer::Cidr(cidr("10.0.0.0/8")), None);
    m.authorize(&group, false, vec![https.unwrap()]).unwrap();
    let subnets = [lab.subnets[1].clone()];
    let service = "com.amazonaws.us-east-1.ssm";
    let endpoint = m
        .create_interface_endpoint(
            &lab.vpcs[1],
            service,
            &subnets,
            &[group],
            Some(false),
            Tags::new(),
            0,
        )
        .unwrap();
    let interface =
        m.vpc_endpoint(&endpoint).unwrap().interface.as_ref().unwrap().interfaces[0].clone();
    let address = interface.private_ip.to_string();

    // Both ways of a flow from behind the hub meet one worker.
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    let owners = vpclab_dataplane::steer::FragmentOwners::default();
    for sport in 1000..1100u16 {
        let mut syn = probe(ip("10.0.1.10"), interface.private_ip, Probe::Tcp(443));
        syn[20..22].copy_from_slice(&sport.to_be_bytes());
        let there = vpclab_dataplane::steer::owner(&snapshot, lab.hosts[0], &syn, 4, &owners);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        let mut reply = vec![0u8; REPLY_BUFFER];
        let _ = snapshot.process(&mut tracking, lab.hosts[0], &mut syn, &mut reply, 0);
        let back = vpclab_dataplane::trace::answer(&syn);
        let returning = vpclab_dataplane::steer::owner(
            &snapshot,
            vpclab_dataplane::INTERNET,
            &back,
            4,
            &owners,
        );
        assert_eq!(there, returning, "source port {sport}");
    }

    let (verdict, answer, ttl) = lab.send(0, &address, Probe::Tcp(443), 0);
    assert!(
        delivered_to(verdict, vpclab_dataplane::INTERNET),
        "A reaches the service through B's endpoint: {verdict:?}"
    );
    assert_eq!(ttl, 62, "the VPC router and the transit gateway each take one");
    assert!(delivered_to(answer.unwrap(), lab.hosts[0]), "and the answer comes back over the hub");
    let (verdict, ..) = lab.send(2, &address, Probe::Tcp(22), 0);
    assert_eq!(verdict, Verdict::Drop(DropReason::SgIngress), "the endpoint's group decides");
}

/// VPC A's instance subnet routes B's CIDR to a private NAT gateway in a subnet of its
/// own (10.0.2.0/24), whose table sends the rest of 10.0.0.0/8 to the hub.
fn private_nat_lab() -> (Lab, vpclab_model::NatGatewayId, SubnetId) {
    let mut lab = Lab::new();
    let m = &mut lab.model;
    let vpc = lab.vpcs[0].clone();
    let nat_subnet =
        m.create_subnet(&vpc, cidr("10.0.2.0/24"), Some("us-east-1a"), Tags::new()).unwrap();
    let nat = vpclab_model::NatGatewaySpec::private(&nat_subnet);
    let nat = m.create_nat_gateway(nat, Tags::new(), 0).unwrap();
    let nat_table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&nat_table, &nat_subnet).unwrap();
    let tgw = RouteTarget::TransitGateway(lab.tgw.clone());
    m.create_route(&nat_table, RouteSpec { destination: cidr("10.0.0.0/8"), target: tgw }).unwrap();
    let app_table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&app_table, &lab.subnets[0]).unwrap();
    for (destination, target) in [
        ("10.0.0.0/8", RouteTarget::TransitGateway(lab.tgw.clone())),
        ("10.1.0.0/16", RouteTarget::NatGateway(nat.clone())),
    ] {
        m.create_route(&app_table, RouteSpec { destination: cidr(destination), target }).unwrap();
    }
    (lab, nat, nat_subnet)
}

#[test]
fn a_private_nat_gateway_translates_to_its_own_address_through_the_hub_and_back() {
    let (mut lab, nat, _) = private_nat_lab();
    let nat_ip = lab.model.nat_gateway(&nat).unwrap().private_ip;
    assert_eq!(nat_ip, ip("10.0.2.4"));
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let mut reply = vec![0u8; REPLY_BUFFER];
    for what in [Probe::Ping, Probe::Tcp(80), Probe::Udp(53)] {
        let mut packet = probe(ip("10.0.1.10"), ip("10.1.1.10"), what);
        let verdict = snapshot.process(&mut tracking, lab.hosts[0], &mut packet, &mut reply, 0);
        let Verdict::Forward { port, len } = verdict else { panic!("{what:?}: {verdict:?}") };
        assert_eq!(port, lab.hosts[1], "{what:?} reaches B");
        assert_eq!(&packet[12..16], &nat_ip.octets(), "B sees the NAT gateway's address");
        let mut back = vpclab_dataplane::trace::answer(&packet[..len]);
        let verdict = snapshot.process(&mut tracking, lab.hosts[1], &mut back, &mut reply, 1);
        assert!(
            delivered_to(verdict, lab.hosts[0]),
            "{what:?}: the answer comes back: {verdict:?}"
        );
        assert_eq!(&back[16..20], &[10, 0, 1, 10], "to A's own address again");
        if let Probe::Tcp(port) | Probe::Udp(port) = what {
            assert_eq!(u16::from_be_bytes([back[20], back[21]]), port);
            assert_eq!(
                u16::from_be_bytes([back[22], back[23]]),
                vpclab_dataplane::trace::PROBE_PORT
            );
        }
    }
    // Nothing gets in unsolicited, and B sees none of A's own addresses.
    let mut packet = probe(ip("10.1.1.10"), nat_ip, Probe::Tcp(22));
    let verdict = snapshot.process(&mut tracking, lab.hosts[1], &mut packet, &mut reply, 2);
    assert_eq!(verdict, Verdict::Drop(DropReason::NatNoFlow));
}

#[test]
fn a_private_nat_gateway_needs_the_hub_and_the_internet_gateway_drops_what_it_sends() {
    let (mut lab, _, nat_subnet) = private_nat_lab();
    let m = &mut lab.model;
    let vpc = lab.vpcs[0].clone();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let nat_table = m.route_table_of(&nat_subnet).unwrap().id.clone();
    let to_igw = RouteSpec { destination: cidr("10.1.0.0/16"), target: RouteTarget::Gateway(igw) };
    m.create_route(&nat_table, to_igw).unwrap();
    let (verdict, ..) = lab.ping(0, "10.1.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::NatPrivateToInternet));

    let m = &mut lab.model;
    m.delete_route(&nat_table, cidr("10.1.0.0/16")).unwrap();
    m.delete_route(&nat_table, cidr("10.0.0.0/8")).unwrap();
    let (verdict, ..) = lab.ping(0, "10.1.1.10");
    assert_eq!(verdict, Verdict::Drop(DropReason::NoRoute), "no route on from its subnet");
}

#[test]
fn both_ways_of_a_private_nat_flow_have_one_owner() {
    let (mut lab, ..) = private_nat_lab();
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    let owners = vpclab_dataplane::steer::FragmentOwners::default();
    let mut reply = vec![0u8; REPLY_BUFFER];
    for workers in 2..5 {
        for sport in 0..64u16 {
            let mut syn = probe(ip("10.0.1.10"), ip("10.1.1.10"), Probe::Tcp(80 + sport));
            let there =
                vpclab_dataplane::steer::owner(&snapshot, lab.hosts[0], &syn, workers, &owners);
            let mut tracking = Tracking::for_worker(1024, there, workers);
            tracking.sync(&snapshot);
            let verdict = snapshot.process(&mut tracking, lab.hosts[0], &mut syn, &mut reply, 0);
            let Verdict::Forward { len, .. } = verdict else { panic!("{verdict:?}") };
            let back = vpclab_dataplane::trace::answer(&syn[..len]);
            let returning =
                vpclab_dataplane::steer::owner(&snapshot, lab.hosts[1], &back, workers, &owners);
            assert_eq!(returning, there, "{workers} workers, port {}", 80 + sport);
        }
    }
}

#[test]
fn the_hub_and_a_private_nat_gateway_count_what_they_carry_and_drop() {
    let (mut lab, _, _) = private_nat_lab();
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    assert_eq!(snapshot.transit_gateways, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let mut reply = vec![0u8; REPLY_BUFFER];
    // A ping and its answer: the hub carries both, the gateway translates both.
    let mut packet = probe(ip("10.0.1.10"), ip("10.1.1.10"), Probe::Ping);
    let verdict = snapshot.process(&mut tracking, lab.hosts[0], &mut packet, &mut reply, 0);
    let Verdict::Forward { len, .. } = verdict else { panic!("{verdict:?}") };
    let mut back = vpclab_dataplane::trace::answer(&packet[..len]);
    snapshot.process(&mut tracking, lab.hosts[1], &mut back, &mut reply, 1);
    // C to an address no route in the hub covers: dropped there.
    let mut lost = probe(ip("10.2.1.10"), ip("10.9.0.1"), Probe::Ping);
    let verdict = snapshot.process(&mut tracking, lab.hosts[2], &mut lost, &mut reply, 2);
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwNoRoute));
    let hub = tracking.transit_gateways()[0];
    assert_eq!((hub.carried, hub.dropped), (2, 1));
    let nats: Vec<_> = tracking.nat_gateways().collect();
    assert_eq!(nats.len(), 1);
    assert_eq!((nats[0].1.carried, nats[0].1.dropped), (2, 0), "the new flow and its answer");
    // Unsolicited, to the gateway's address: its drop.
    let mut knock = probe(ip("10.1.1.10"), ip("10.0.2.4"), Probe::Tcp(22));
    snapshot.process(&mut tracking, lab.hosts[1], &mut knock, &mut reply, 3);
    let nats: Vec<_> = tracking.nat_gateways().collect();
    assert_eq!(nats[0].1.dropped, 1);
}

#[test]
fn routes_learned_over_bgp_propagate_into_the_hubs_table_while_their_tunnel_is_up() {
    let mut lab = Lab::new();
    let vpn = lab.vpn_to_hub(false);
    let m = &mut lab.model;
    let main = m.vpc(&lab.vpcs[0]).unwrap().main_route_table.clone();
    let to_site = RouteSpec {
        destination: cidr("172.16.0.0/12"),
        target: RouteTarget::TransitGateway(lab.tgw.clone()),
    };
    m.create_route(&main, to_site).unwrap();
    let tunnels = lab.ports.assign_vpn(&vpn);
    assert_eq!(lab.ping(0, "172.16.0.1").0, Verdict::Drop(DropReason::TgwNoRoute));
    let learned = vpclab_model::TunnelLive {
        ipsec_up: true,
        bgp_up: true,
        routes: vec![cidr("172.16.0.0/16")],
        since: 0,
    };
    assert!(lab.model.report_vpn_tunnels(&vpn, [learned.clone(), learned], 7));
    let (verdict, answer, _) = lab.ping(0, "172.16.0.1");
    assert_eq!(verdict, Verdict::Forward { port: tunnels, len: 2000 });
    assert!(delivered_to(answer.unwrap(), lab.hosts[0]));
    // A site advertising a supernet of the VPCs takes no VPC's place, whatever the order
    // propagation was enabled in (VPC 1's is now after the VPN attachment's).
    let table = lab.default_table();
    lab.model.disable_tgw_propagation(&table, &lab.attachments[1]).unwrap();
    lab.model.enable_tgw_propagation(&table, &lab.attachments[1]).unwrap();
    let supernet = vpclab_model::TunnelLive {
        ipsec_up: true,
        bgp_up: true,
        routes: vec![cidr("172.16.0.0/16"), cidr("10.0.0.0/8"), cidr("10.1.0.0/16")],
        since: 0,
    };
    lab.model.report_vpn_tunnels(&vpn, [supernet.clone(), supernet], 8);
    assert_eq!(lab.ping(0, "10.1.1.10").0, Verdict::Forward { port: lab.hosts[1], len: 2000 });
    assert_eq!(lab.ping(0, "10.9.0.1").0, Verdict::Forward { port: tunnels, len: 2000 });
    // Both tunnels down: withdrawn.
    assert!(lab.model.report_vpn_tunnels(&vpn, Default::default(), 9));
    assert_eq!(lab.ping(0, "172.16.0.1").0, Verdict::Drop(DropReason::TgwNoRoute));
}

#[test]
fn a_route_to_a_vpn_attachment_ends_as_vpn_down() {
    let mut lab = Lab::new();
    let vpn = lab.vpn_to_hub(true);
    let m = &mut lab.model;
    let attachment = m.vpn_connection(&vpn).unwrap().tgw_attachment.clone().unwrap();
    let table = lab.default_table();
    let m = &mut lab.model;
    m.put_tgw_route(&table, cidr("10.9.0.0/16"), Some(&attachment), false).unwrap();
    let (verdict, _, _) = lab.ping(0, "10.9.0.1");
    assert_eq!(verdict, Verdict::Drop(DropReason::VpnDown), "the tunnels are down");
    assert_eq!(lab.ping(0, "10.1.1.10").0, Verdict::Forward { port: lab.hosts[1], len: 2000 });
    // With its tunnels' device, the hub sends into them, and what comes out of them is
    // routed by the table associated with the VPN attachment, back into the VPC.
    let tunnels = lab.ports.assign_vpn(&vpn);
    let (verdict, answer, ttl) = lab.ping(0, "10.9.0.1");
    assert_eq!(verdict, Verdict::Forward { port: tunnels, len: 2000 });
    assert_eq!(ttl, 62, "the VPC router and the hub each take one");
    assert!(delivered_to(answer.unwrap(), lab.hosts[0]), "{answer:?}");
    lab.model.delete_vpn_connection(&vpn, 0).unwrap();
    let (verdict, _, _) = lab.ping(0, "10.9.0.1");
    assert_eq!(verdict, Verdict::Drop(DropReason::TgwBlackhole), "its attachment is gone");
}

#[test]
fn an_ipv6_only_instance_reaches_another_vpc_through_a_private_nat_gateways_nat64() {
    let (mut lab, nat, _) = private_nat_lab();
    let nat_ip = lab.model.nat_gateway(&nat).unwrap().private_ip;
    // An IPv6-only subnet in A, whose `64:ff9b::/96` goes to the private gateway.
    let m = &mut lab.model;
    let vpc = lab.vpcs[0].clone();
    let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
    let block = ipnet::Ipv6Net::new(block.network(), 64).unwrap();
    let only = m.create_ipv6_native_subnet(&vpc, block, Some("us-east-1a"), Tags::new()).unwrap();
    let table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&table, &only).unwrap();
    let nat64 = RouteSpec {
        destination: "64:ff9b::/96".parse().unwrap(),
        target: RouteTarget::NatGateway(nat.clone()),
    };
    m.create_ipv6_route(&table, nat64).unwrap();
    let id = m.run_instance(RunInstance { subnet: Some(only), ..Default::default() }).unwrap();
    let me = m.instance(&id).unwrap().ipv6_addresses[0];
    let port = lab.ports.assign(&id);
    let snapshot = compile(&lab.model, &mut lab.ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let mut built = vec![0u8; 1 << 16];
    let b = ip("10.1.1.10");
    let b6: std::net::Ipv6Addr = "64:ff9b::10.1.1.10".parse().unwrap();
    // The TTL an IPv4 flow of the gateway's arrives with, for comparison.
    let mut v4 = probe(ip("10.0.1.10"), b, Probe::Udp(53));
    let verdict = snapshot.process(&mut tracking, lab.hosts[0], &mut v4, &mut built, 0);
    assert!(delivered_to(verdict, lab.hosts[1]), "{verdict:?}");
    for what in [Probe::Ping, Probe::Tcp(80), Probe::Udp(53)] {
        // Out: translated, on through the hub to B, from the gateway's own address.
        let mut packet = vpclab_dataplane::trace::probe6(me, b6, what);
        let verdict = snapshot.process(&mut tracking, port, &mut packet, &mut built, 0);
        let Verdict::Translated { port: to, len, .. } = verdict else {
            panic!("{what:?}: {verdict:?}")
        };
        assert_eq!(to, lab.hosts[1], "{what:?} reaches B");
        let four = built[..len].to_vec();
        assert_eq!((&four[12..16], &four[16..20]), (&nat_ip.octets()[..], &b.octets()[..]));
        assert_eq!(four[8], v4[8], "the hops of a private gateway's IPv4 flows");
        // Back: B's answer to the gateway's address comes to the instance as IPv6.
        let mut back = vpclab_dataplane::trace::answer(&four);
        let verdict = snapshot.process(&mut tracking, lab.hosts[1], &mut back, &mut built, 1);
        let Verdict::Translated { port: to, len, .. } = verdict else {
            panic!("{what:?} back: {verdict:?}")
        };
        assert_eq!(to, port, "{what:?}: the answer comes back");
        let six = &built[..len];
        assert_eq!(six[0] >> 4, 6);
        assert_eq!((&six[8..24], &six[24..40]), (&b6.octets()[..], &me.octets()[..]));
    }
    // A private gateway's NAT64 goes by the hub only: toward the internet gateway, the
    // drop of its IPv4 flows.
    let m = &mut lab.model;
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let nat_subnet = m.nat_gateway(&nat).unwrap().subnet.clone();
    let nat_table = m.route_table_of(&nat_subnet).unwrap().id.clone();
    let to_igw = RouteSpec { destination: cidr("10.1.0.0/16"), target: RouteTarget::Gateway(igw) };
    m.create_route(&nat_table, to_igw).unwrap();
    let snapshot = compile(&lab.model, &mut lab.ports, 2);
    tracking.sync(&snapshot);
    let mut packet = vpclab_dataplane::trace::probe6(me, b6, Probe::Udp(53));
    let verdict = snapshot.process(&mut tracking, port, &mut packet, &mut built, 2);
    assert_eq!(verdict, Verdict::Drop(DropReason::NatPrivateToInternet));
}
