//! Middleboxes on packets, without root: routes to an instance's interface, the
//! source/destination check, a NAT instance, and an inspection VPC behind a transit
//! gateway in appliance mode.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_dataplane::trace::{Probe, answer, probe};
use vpclab_dataplane::{
    DropReason, INTERNET, Port, PortMap, REPLY_BUFFER, Snapshot, Tracking, Verdict, compile,
};
use vpclab_model::{
    InstanceId, Model, Peer, Protocol, RouteSpec, RouteTarget, RunInstance, SgRule, SubnetId, Tags,
    TgwOptions, VpcAttachmentOptions, VpcId,
};

fn cidr(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn route(m: &mut Model, subnet_or_main: Result<&SubnetId, &VpcId>, to: &str, target: RouteTarget) {
    let table = match subnet_or_main {
        Ok(subnet) => {
            let vpc = m.subnet(subnet).unwrap().vpc.clone();
            let table = m.create_route_table(&vpc, Tags::new()).unwrap();
            m.associate_route_table(&table, subnet).unwrap();
            table
        }
        Err(vpc) => m.vpc(vpc).unwrap().main_route_table.clone(),
    };
    m.create_route(&table, RouteSpec { destination: cidr(to), target }).unwrap();
}

fn open_group(m: &mut Model, vpc: &VpcId) {
    let sg = m.vpc(vpc).unwrap().default_security_group.clone().unwrap();
    let all = SgRule::new(Protocol::All, -1, -1, Peer::Cidr(cidr("0.0.0.0/0")), None).unwrap();
    m.authorize(&sg, false, vec![all]).unwrap();
}

fn run(m: &mut Model, ports: &mut PortMap, subnet: &SubnetId, addr: &str) -> (InstanceId, Port) {
    let spec = RunInstance {
        subnet: Some(subnet.clone()),
        private_ip: Some(ip(addr)),
        ..Default::default()
    };
    let id = m.run_instance(spec).unwrap();
    let port = ports.assign(&id);
    (id, port)
}

fn process(snapshot: &Snapshot, tracking: &mut Tracking, from: Port, packet: &mut [u8]) -> Verdict {
    let mut reply = vec![0u8; REPLY_BUFFER];
    snapshot.process(tracking, from, packet, &mut reply, 0)
}

fn to(port: Port) -> impl Fn(&Verdict) -> bool {
    move |v| matches!(*v, Verdict::Forward { port: p, .. } if p == port)
}

#[test]
fn a_nat_instance_works_only_with_its_check_off() {
    // VPC 10.0.0.0/16: `nat` 10.0.1.5 with a public address in the public subnet, `app`
    // 10.0.2.4 in a private subnet whose 0.0.0.0/0 goes to nat's interface.
    let mut m = Model::new(3);
    let mut ports = PortMap::new();
    let vpc = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
    open_group(&mut m, &vpc);
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let public = m.create_subnet(&vpc, cidr("10.0.1.0/24"), None, Tags::new()).unwrap();
    let private = m.create_subnet(&vpc, cidr("10.0.2.0/24"), None, Tags::new()).unwrap();
    route(&mut m, Ok(&public), "0.0.0.0/0", RouteTarget::Gateway(igw));
    let spec = RunInstance {
        subnet: Some(public.clone()),
        private_ip: Some(ip("10.0.1.5")),
        public_ip: Some(true),
        ..Default::default()
    };
    let nat_id = m.run_instance(spec).unwrap();
    let nat = ports.assign(&nat_id);
    let (_, app) = run(&mut m, &mut ports, &private, "10.0.2.4");
    let eni = m.instance_interface(&nat_id).unwrap();
    route(&mut m, Ok(&private), "0.0.0.0/0", RouteTarget::NetworkInterface(eni));

    let snapshot = compile(&m, &mut ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let out = || probe(ip("10.0.2.4"), ip("198.51.100.1"), Probe::Tcp(80));
    let verdict = process(&snapshot, &mut tracking, app, &mut out());
    assert_eq!(verdict, Verdict::Drop(DropReason::DestinationCheck), "the check is on");

    m.set_source_dest_check(&nat_id, false).unwrap();
    let snapshot = compile(&m, &mut ports, 2);
    let mut packet = out();
    let verdict = process(&snapshot, &mut tracking, app, &mut packet);
    assert!(to(nat)(&verdict), "routed to the NAT instance, untranslated: {verdict:?}");
    assert_eq!(&packet[16..20], &[198, 51, 100, 1]);

    // Forwarded as it came, its source is not nat's: no public address for it.
    let verdict = process(&snapshot, &mut tracking, nat, &mut out());
    assert_eq!(verdict, Verdict::Drop(DropReason::NoPublicIp));
    // Masqueraded (as iptables would), it leaves with nat's public address...
    let mut masqueraded = probe(ip("10.0.1.5"), ip("198.51.100.1"), Probe::Tcp(80));
    let verdict = process(&snapshot, &mut tracking, nat, &mut masqueraded);
    assert!(to(INTERNET)(&verdict), "{verdict:?}");
    // ...the answer comes back to nat, which hands the original flow's answer to app.
    let mut back = answer(&masqueraded);
    assert!(to(nat)(&process(&snapshot, &mut tracking, INTERNET, &mut back)));
    let mut forwarded = answer(&out());
    let verdict = process(&snapshot, &mut tracking, nat, &mut forwarded);
    assert!(to(app)(&verdict), "from the internet's address, by nat: {verdict:?}");

    // With the check back on, nat may not send from an address not its own.
    m.set_source_dest_check(&nat_id, true).unwrap();
    let snapshot = compile(&m, &mut ports, 3);
    let verdict = process(&snapshot, &mut tracking, nat, &mut answer(&out()));
    assert_eq!(verdict, Verdict::Drop(DropReason::SourceCheck));

    // A stopped appliance is a blackhole.
    m.stop_instance(&nat_id).unwrap();
    let snapshot = compile(&m, &mut ports, 4);
    let verdict = process(&snapshot, &mut tracking, app, &mut out());
    assert_eq!(verdict, Verdict::Drop(DropReason::Blackhole));
}

/// Spokes A (10.1.0.0/16, zone a) and B (10.2.0.0/16, zone b), and an inspection VPC
/// (10.9.0.0/16) with a transit-gateway subnet and a firewall in each zone. The spokes'
/// table sends everything to the inspection attachment; each inspection TGW subnet sends
/// everything to its zone's firewall, whose subnets send 10.0.0.0/8 back to the hub,
/// where the inspection table has the spokes' routes.
struct Inspection {
    model: Model,
    ports: PortMap,
    a: Port,
    b: Port,
    firewalls: [Port; 2],
    inspection: vpclab_model::TgwAttachmentId,
}

fn inspection() -> Inspection {
    let mut m = Model::new(9);
    let mut ports = PortMap::new();
    let options = TgwOptions {
        default_route_table_association: false,
        default_route_table_propagation: false,
        ..TgwOptions::default()
    };
    let tgw = m.create_transit_gateway(String::new(), options, Tags::new(), 0).unwrap();
    let to_tgw = || RouteTarget::TransitGateway(tgw.clone());
    let spokes = m.create_tgw_route_table(&tgw, Tags::new(), 0).unwrap();
    let after = m.create_tgw_route_table(&tgw, Tags::new(), 0).unwrap();
    let mut spoke = |m: &mut Model, n: u8, zone: &str| {
        let vpc = m.create_vpc(cidr(&format!("10.{n}.0.0/16")), Tags::new()).unwrap();
        open_group(m, &vpc);
        let subnet = m
            .create_subnet(&vpc, cidr(&format!("10.{n}.1.0/24")), Some(zone), Tags::new())
            .unwrap();
        let attachment = m
            .create_tgw_vpc_attachment(
                &tgw,
                &vpc,
                std::slice::from_ref(&subnet),
                VpcAttachmentOptions::default(),
                Tags::new(),
                0,
            )
            .unwrap();
        m.associate_tgw_route_table(&spokes, &attachment).unwrap();
        m.enable_tgw_propagation(&after, &attachment).unwrap();
        route(m, Err(&vpc), "10.0.0.0/8", RouteTarget::TransitGateway(tgw.clone()));
        run(m, &mut ports, &subnet, &format!("10.{n}.1.10")).1
    };
    let a = spoke(&mut m, 1, "us-east-1a");
    let b = spoke(&mut m, 2, "us-east-1b");

    let vpc = m.create_vpc(cidr("10.9.0.0/16"), Tags::new()).unwrap();
    open_group(&mut m, &vpc);
    let mut tgw_subnets = Vec::new();
    let mut fw_subnets = Vec::new();
    let mut firewalls = [0; 2];
    let mut interfaces = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        let tgw_subnet = m
            .create_subnet(&vpc, cidr(&format!("10.9.{i}.0/28")), Some(zone), Tags::new())
            .unwrap();
        let fw_subnet = m
            .create_subnet(&vpc, cidr(&format!("10.9.1{i}.0/24")), Some(zone), Tags::new())
            .unwrap();
        let (fw, port) = run(&mut m, &mut ports, &fw_subnet, &format!("10.9.1{i}.10"));
        m.set_source_dest_check(&fw, false).unwrap();
        interfaces.push(m.instance_interface(&fw).unwrap());
        tgw_subnets.push(tgw_subnet);
        fw_subnets.push(fw_subnet);
        firewalls[i] = port;
    }
    let inspection = m
        .create_tgw_vpc_attachment(
            &tgw,
            &vpc,
            &tgw_subnets,
            VpcAttachmentOptions::default(),
            Tags::new(),
            0,
        )
        .unwrap();
    for ((tgw_subnet, fw_subnet), eni) in tgw_subnets.iter().zip(&fw_subnets).zip(interfaces) {
        route(&mut m, Ok(tgw_subnet), "0.0.0.0/0", RouteTarget::NetworkInterface(eni));
        route(&mut m, Ok(fw_subnet), "10.0.0.0/8", to_tgw());
    }
    m.associate_tgw_route_table(&after, &inspection).unwrap();
    m.put_tgw_route(&spokes, cidr("0.0.0.0/0"), Some(&inspection), false).unwrap();
    Inspection { model: m, ports, a, b, firewalls, inspection }
}

impl Inspection {
    /// A's request to B and B's answer, each through the firewall the hub picks (the
    /// firewall passes both on as they are): the firewalls that saw them.
    fn exchange(&mut self, flow: u16) -> (Port, Port) {
        let snapshot = compile(&self.model, &mut self.ports, 1);
        let mut tracking = Tracking::new(1024);
        tracking.sync(&snapshot);
        let mut through = |from: Port, packet: &mut Vec<u8>| -> Port {
            let Verdict::Forward { port: firewall, .. } =
                process(&snapshot, &mut tracking, from, packet)
            else {
                panic!("to a firewall");
            };
            assert!(self.firewalls.contains(&firewall), "{firewall}");
            let verdict = process(&snapshot, &mut tracking, firewall, packet);
            let Verdict::Forward { port, .. } = verdict else {
                panic!("on from the firewall: {verdict:?}")
            };
            assert!(port == self.a || port == self.b);
            firewall
        };
        let mut request = probe(ip("10.1.1.10"), ip("10.2.1.10"), Probe::Udp(flow));
        let there = through(self.a, &mut request);
        let mut reply = answer(&request);
        let back = through(self.b, &mut reply);
        (there, back)
    }
}

#[test]
fn an_inspection_vpc_sees_both_ways_of_a_flow_only_in_appliance_mode() {
    let mut lab = inspection();
    // Without appliance mode, each direction stays in its sender's zone: A's request is
    // inspected in zone a, B's answer in zone b — a stateful firewall would drop it.
    for flow in 1..20 {
        let (there, back) = lab.exchange(flow);
        assert_eq!((there, back), (lab.firewalls[0], lab.firewalls[1]), "flow {flow}");
    }
    let id = lab.inspection.clone();
    lab.model
        .modify_tgw_vpc_attachment(&id, &[], &[], |o| o.appliance_mode_support = true)
        .unwrap();
    let mut seen = [false; 2];
    for flow in 1..40 {
        let (there, back) = lab.exchange(flow);
        assert_eq!(there, back, "flow {flow}: one firewall both ways");
        seen[usize::from(there == lab.firewalls[1])] = true;
    }
    assert_eq!(seen, [true, true], "flows spread over both zones' firewalls");
}

#[test]
fn a_route_for_a_whole_subnet_sends_east_west_traffic_through_an_appliance() {
    // One VPC: `a` 10.0.1.10, `b` 10.0.2.10, and a firewall 10.0.3.10; each of a's and
    // b's subnets routes the other's CIDR to the firewall's interface.
    let mut m = Model::new(4);
    let mut ports = PortMap::new();
    let vpc = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
    open_group(&mut m, &vpc);
    let subnet = |m: &mut Model, third: u8| {
        m.create_subnet(&vpc, cidr(&format!("10.0.{third}.0/24")), None, Tags::new()).unwrap()
    };
    let (sa, sb, sf) = (subnet(&mut m, 1), subnet(&mut m, 2), subnet(&mut m, 3));
    let (_, a) = run(&mut m, &mut ports, &sa, "10.0.1.10");
    let (_, b) = run(&mut m, &mut ports, &sb, "10.0.2.10");
    let (fw, firewall) = run(&mut m, &mut ports, &sf, "10.0.3.10");
    m.set_source_dest_check(&fw, false).unwrap();
    let eni = m.instance_interface(&fw).unwrap();
    // Only a whole subnet may be more specific than `local`, and only to an appliance.
    let table = m.create_route_table(&vpc, Tags::new()).unwrap();
    let part = RouteSpec {
        destination: cidr("10.0.2.0/25"),
        target: RouteTarget::NetworkInterface(eni.clone()),
    };
    assert_eq!(m.create_route(&table, part).unwrap_err().code, "InvalidParameterValue");
    route(&mut m, Ok(&sa), "10.0.2.0/24", RouteTarget::NetworkInterface(eni.clone()));
    route(&mut m, Ok(&sb), "10.0.1.0/24", RouteTarget::NetworkInterface(eni));

    let snapshot = compile(&m, &mut ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    for (from, peer, src, dst) in
        [(a, b, "10.0.1.10", "10.0.2.10"), (b, a, "10.0.2.10", "10.0.1.10")]
    {
        let mut packet = probe(ip(src), ip(dst), Probe::Udp(53));
        let verdict = process(&snapshot, &mut tracking, from, &mut packet);
        assert!(to(firewall)(&verdict), "{src} -> {dst} goes to the firewall: {verdict:?}");
        let verdict = process(&snapshot, &mut tracking, firewall, &mut packet);
        assert!(to(peer)(&verdict), "which passes it on: {verdict:?}");
    }
}
