//! `vpclab trace`: one synthetic packet through the real pipeline, every decision shown,
//! and its answer back — ovn-trace for a VPC, with Reachability Analyzer's codes.
//!
//! The snapshot is compiled from the lab's model with the forwarder's own `compile`, and
//! the packet goes through the forwarder's own `Snapshot::process`; the steps are what
//! that code noted on the way. Connection tracking starts empty: the packet is the
//! first of its flow, and its answer is judged with the state it left.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};
use vpclab_dataplane::snapshot::ENDPOINT_TARGET;
use vpclab_dataplane::trace::{Probe, SgDecision, Step, Trace, answer, probe, probe6};
use vpclab_dataplane::{
    DropReason, INTERNET, Port, PortMap, REPLY_BUFFER, Snapshot, Tracking, Verdict, compile,
};
use vpclab_model::{InstanceId, Model};

use crate::lab::{self, Result};

/// Where a trace starts or ends.
#[derive(Clone, Debug)]
pub(crate) enum End {
    /// An instance: its id and the address used (IPv4 or IPv6).
    Instance(InstanceId, IpAddr),
    /// A host on the emulated internet.
    Internet(IpAddr),
}

/// `vpclab trace`.
pub(crate) fn run(
    state: &Path,
    from: &str,
    to: &str,
    protocol: Option<&str>,
    port: Option<u16>,
    ipv6: bool,
    json: bool,
) -> Result<ExitCode> {
    let model = lab::running_model(state)?;
    let traced = explain(&model, from, to, protocol, port, ipv6)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&traced.json).map_err(|e| e.to_string())?);
    } else {
        print!("{}", traced.text);
    }
    Ok(if traced.reachable { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// One traced path, for people (`text`) and for scripts (`json`).
pub(crate) struct Traced {
    pub(crate) reachable: bool,
    pub(crate) text: String,
    pub(crate) json: Value,
}

/// Traces a first packet from `from` to `to` and its answer through `model`'s rules.
pub(crate) fn explain(
    model: &Model,
    from: &str,
    to: &str,
    protocol: Option<&str>,
    port: Option<u16>,
    ipv6: bool,
) -> Result<Traced> {
    let what = match (protocol.unwrap_or(if port.is_some() { "tcp" } else { "icmp" }), port) {
        ("icmp", None) => Probe::Ping,
        ("icmp", Some(_)) => return Err("--port does not go with --proto icmp".into()),
        ("tcp", p) => Probe::Tcp(p.unwrap_or(80)),
        ("udp", p) => Probe::Udp(p.unwrap_or(53)),
        (other, _) => return Err(format!("--proto {other:?}: expected tcp, udp or icmp")),
    };
    // An IPv6 address at either end makes the trace IPv6: the instance at the other
    // end is then its IPv6 address.
    let ipv6 = ipv6 || [from, to].iter().any(|end| end.parse::<std::net::Ipv6Addr>().is_ok());
    let source = resolve(model, from, None, ipv6)?;
    let target = resolve(model, to, Some(&source), ipv6)?;
    let (src, dst) = (address(&source), address(&target));

    let mut ports = PortMap::new();
    for instance in model.instances() {
        ports.assign(&instance.id);
    }
    for connection in model.vpn_connections() {
        ports.assign_vpn(&connection.id);
    }
    let snapshot = compile(model, &mut ports, 1);
    let mut tracking = Tracking::new(1024);
    tracking.sync(&snapshot);
    let port_of = |end: &End| match end {
        End::Instance(id, _) => ports.get(id).unwrap_or(INTERNET),
        End::Internet(_) => INTERNET,
    };
    let names = Names { model, ports: &ports };

    let mut packet = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => probe(s, d, what),
        (IpAddr::V6(s), IpAddr::V6(d)) => probe6(s, d, what),
        _ => {
            return Err(format!(
                "{src} and {dst} are of different families: give both ends IPv4 or both \
                 IPv6 (with -6, instances are traced by their IPv6 addresses)"
            ));
        }
    };
    let forward = pass(&snapshot, &mut tracking, port_of(&source), &mut packet);
    let back = match forward.verdict {
        Verdict::Forward { port, len } => {
            let mut reply = answer(&packet[..len]);
            Some((port, pass(&snapshot, &mut tracking, port, &mut reply)))
        }
        // Translated (NAT64): the far end answers what arrived, in its own family.
        Verdict::Translated { port, len, .. } => {
            let mut reply = answer(&forward.built[..len]);
            Some((port, pass(&snapshot, &mut tracking, port, &mut reply)))
        }
        _ => None,
    };
    let reachable = back.as_ref().is_some_and(|(_, b)| {
        matches!(b.verdict, Verdict::Forward { .. } | Verdict::Translated { .. })
    });

    let json = json!({
        "source": src.to_string(),
        "destination": dst.to_string(),
        "protocol": describe(what),
        "reachable": reachable,
        "forward": names.pass_json(&forward, port_of(&source)),
        "return": back.as_ref().map(|(from, b)| names.pass_json(b, *from)),
    });
    let mut text = String::new();
    let _ =
        writeln!(text, "trace {src} -> {dst} ({}), first packet of a new flow\n", describe(what));
    let _ = writeln!(text, "forward, from {}:", names.port(port_of(&source)));
    names.print(&forward, &mut text);
    match &back {
        Some((from, b)) => {
            let _ = writeln!(text, "\nreturn, from {}:", names.port(*from));
            names.print(b, &mut text);
        }
        None => text.push_str("\nreturn: not tried (the packet did not get through)\n"),
    }
    let _ = writeln!(text, "\n{}", if reachable { "reachable" } else { "NOT reachable" });
    Ok(Traced { reachable, text, json })
}

fn describe(what: Probe) -> String {
    match what {
        Probe::Ping => "icmp echo".into(),
        Probe::Tcp(port) => format!("tcp/{port}"),
        Probe::Udp(port) => format!("udp/{port}"),
    }
}

/// One packet through the pipeline.
struct Pass {
    trace: Trace,
    verdict: Verdict,
    /// What the pipeline built beside the packet: an error, or the packet translated.
    built: Vec<u8>,
}

fn pass(snapshot: &Snapshot, tracking: &mut Tracking, from: Port, packet: &mut [u8]) -> Pass {
    let mut built = vec![0u8; REPLY_BUFFER];
    tracking.start_trace();
    let verdict = snapshot.process(tracking, from, packet, &mut built, 0);
    Pass { trace: tracking.finish_trace(), verdict, built }
}

pub(crate) fn address(end: &End) -> IpAddr {
    match end {
        End::Instance(_, ip) | End::Internet(ip) => *ip,
    }
}

/// An instance (by Name or id), an instance's address, or an internet host. A
/// destination instance is addressed privately, or by its public address when the
/// source is on the internet. Over IPv6 — `ipv6`, or an IPv6 address at the other end —
/// an instance is its first IPv6 address, the same from anywhere (IPv6 is not
/// translated).
pub(crate) fn resolve(model: &Model, what: &str, source: Option<&End>, ipv6: bool) -> Result<End> {
    let six = ipv6 || source.is_some_and(|s| address(s).is_ipv6());
    let from_internet = matches!(source, Some(End::Internet(_)));
    if let Some(instance) = model.find_instance(what) {
        let ip = if six {
            IpAddr::V6(*instance.ipv6_addresses.first().ok_or_else(|| {
                format!("{what} has no IPv6 address (launch it with --ipv6-address-count)")
            })?)
        } else if from_internet {
            IpAddr::V4(instance.public_ip.as_ref().map(|(ip, _)| *ip).ok_or_else(|| {
                format!("{what} has no public address: nothing on the internet can reach it")
            })?)
        } else {
            IpAddr::V4(instance.private_ip.ok_or_else(|| {
                format!("{what} has no IPv4 address (it is in an IPv6-only subnet): trace with -6")
            })?)
        };
        return Ok(End::Instance(instance.id.clone(), ip));
    }
    let ip: IpAddr = what.parse().map_err(|_| {
        format!("{what:?} is neither an instance (Name or id) nor an IPv4 or IPv6 address")
    })?;
    if source.is_none() {
        let holder = model.instances().find(|i| match ip {
            IpAddr::V4(a) => i.private_ip == Some(a),
            IpAddr::V6(a) => i.ipv6_addresses.contains(&a),
        });
        let in_a_vpc = model.vpcs().any(|v| match ip {
            IpAddr::V4(a) => v.contains(a),
            IpAddr::V6(a) => v.ipv6_cidrs().any(|c| c.contains(&a)),
        });
        return Ok(match holder {
            Some(i) => End::Instance(i.id.clone(), ip),
            None if in_a_vpc => return Err(format!("no instance holds {ip}")),
            None => End::Internet(ip),
        });
    }
    Ok(End::Internet(ip))
}

/// Turns snapshot indexes back into the model's ids.
struct Names<'a> {
    model: &'a Model,
    ports: &'a PortMap,
}

impl Names<'_> {
    fn port(&self, port: Port) -> String {
        if port == INTERNET {
            return "the internet".into();
        }
        if port >= ENDPOINT_TARGET {
            let slot = port - ENDPOINT_TARGET;
            let eni = self.ports.endpoint_interface(slot);
            let endpoint = eni.and_then(|eni| {
                self.model.vpc_endpoints().find(|e| {
                    e.interface
                        .as_ref()
                        .is_some_and(|x| x.interfaces.iter().any(|i| &i.interface == eni))
                })
            });
            return match (eni, endpoint) {
                (Some(eni), Some(e)) => format!("{eni} of {} ({})", e.id, e.service),
                _ => format!("endpoint interface {slot}"),
            };
        }
        if let Some(vpn) = self.ports.vpn_at(port) {
            return format!("VPN connection {vpn}");
        }
        let Some((id, _)) = self.ports.iter().find(|(_, p)| *p == port) else {
            return format!("port {port}");
        };
        match self.model.instance(id).ok().and_then(|i| i.name()) {
            Some(name) => format!("{id} ({name})"),
            None => id.to_string(),
        }
    }

    fn acl(&self, index: u32) -> String {
        self.model.network_acls().nth(index as usize).map_or("?".into(), |a| a.id.to_string())
    }

    fn route(&self, table: u32, route: Option<u32>, ipv6: bool) -> (String, String) {
        let Some(t) = self.model.route_tables().nth(table as usize) else {
            return ("?".into(), "?".into());
        };
        let text = if ipv6 {
            // The table's IPv6 routes, as the snapshot numbers them.
            route
                .and_then(|r| t.ipv6_routes.get(r as usize))
                .map(|r| format!("{} -> {}", r.destination, r.target))
        } else {
            let routes = self.model.routes_in_force(t);
            route
                .and_then(|r| routes.get(r as usize))
                .map(|r| format!("{} -> {}", r.destination_name(), r.target))
        };
        (t.id.to_string(), text.unwrap_or_else(|| "no route matches".into()))
    }

    fn attachment(&self, index: u32) -> String {
        self.model.tgw_attachments().nth(index as usize).map_or("?".into(), |a| {
            format!("{} ({} {}, {})", a.id, a.resource_type(), a.resource_id(), a.tgw)
        })
    }

    fn tgw_route(&self, table: Option<u32>, route: Option<u32>) -> String {
        let Some(t) = table.and_then(|t| self.model.tgw_route_tables().nth(t as usize)) else {
            return "associated with no route table".into();
        };
        let routes = self.model.tgw_routes(t);
        let text = match route.and_then(|r| routes.get(r as usize)) {
            Some(r) => format!(
                "{} -> {} ({}, {})",
                r.destination,
                r.attachment.as_ref().map_or("blackhole".into(), ToString::to_string),
                r.kind.as_str(),
                r.state()
            ),
            None => "no route matches".into(),
        };
        format!("{}: {text}", t.id)
    }

    /// The NAT gateway the snapshot numbers `index`: the working ones, in order.
    fn nat(&self, index: u32) -> String {
        let mut working = self.model.working_nat_gateways();
        working.nth(index as usize).map_or("?".into(), |n| n.id.to_string())
    }

    /// A step as (what, detail).
    fn step(&self, step: &Step) -> (&'static str, String) {
        match *step {
            Step::SecurityGroups { port, egress, decision } => {
                let way = if egress { "egress" } else { "ingress" };
                let said = match decision {
                    SgDecision::Tracked => "allowed: a tracked flow",
                    SgDecision::Allowed => "allowed by a rule; flow tracked",
                    SgDecision::AllowedUntracked => "allowed by a rule (untracked)",
                    SgDecision::Denied => "no rule allows it",
                    SgDecision::TableFull => "allowed, but the connection table is full",
                };
                ("security-groups", format!("{} {way}: {said}", self.port(port)))
            }
            Step::NetworkAcl { acl, egress, rule, allowed } => {
                let way = if egress { "outbound" } else { "inbound" };
                let rule = rule.map_or("*".into(), |n| n.to_string());
                let action = if allowed { "allow" } else { "deny" };
                ("network-acl", format!("{} {way}: rule {rule} {action}", self.acl(acl)))
            }
            Step::SameSubnet => ("same-subnet", "delivered without routing".into()),
            Step::Service => (
                "vpc-service",
                "the instance metadata service or the Amazon DNS server: answered by the VPC, \
                 no security group or network ACL applies"
                    .into(),
            ),
            Step::Route { table, route, ipv6, .. } => {
                let (table, text) = self.route(table, route, ipv6);
                ("route", format!("{table}: {text}"))
            }
            Step::Translate { source, from, to } => {
                let which = if source { "source" } else { "destination" };
                ("translate", format!("{which} {from} -> {to}"))
            }
            Step::Translate6 { inside, outside, port } => {
                ("translate", format!("NAT64 {inside} <-> {outside} port {port}"))
            }
            Step::NatGateway { index } => ("nat-gateway", self.nat(index)),
            Step::EndpointFlow { port } => (
                "endpoint-flow",
                format!("a flow of {} through a gateway endpoint", self.port(port)),
            ),
            Step::TransitGateway { attachment, table, route, .. } => (
                "transit-gateway",
                format!(
                    "in through {}; {}",
                    self.attachment(attachment),
                    self.tgw_route(table, route)
                ),
            ),
            Step::TgwAttachment { attachment, zone } => (
                "tgw-attachment",
                format!(
                    "out through {} in {}",
                    self.attachment(attachment),
                    vpclab_model::ZONES.get(usize::from(zone)).unwrap_or(&"?")
                ),
            ),
            Step::VpnGateway { index, port } => {
                let vgw = self.model.vpn_gateways().nth(index as usize);
                let vgw = vgw.map_or("?".into(), |g| g.id.to_string());
                ("vpn-gateway", format!("{vgw}: into the tunnels of {}", self.port(port)))
            }
        }
    }

    fn outcome(&self, verdict: &Verdict) -> (String, Option<&'static str>) {
        match *verdict {
            Verdict::Forward { port, .. } if port == INTERNET => {
                ("forwarded to the internet".into(), None)
            }
            Verdict::Forward { port, .. } => (format!("delivered to {}", self.port(port)), None),
            Verdict::Translated { port, .. } if port == INTERNET => {
                ("forwarded to the internet, translated (NAT64)".into(), None)
            }
            Verdict::Translated { port, .. } => {
                (format!("delivered to {}, translated (NAT64)", self.port(port)), None)
            }
            Verdict::Service { .. } => ("answered by the VPC's own service".into(), None),
            Verdict::Reply { reason, .. } | Verdict::Drop(reason) => {
                (format!("dropped: {}", reason.name()), explanation_code(reason))
            }
        }
    }

    fn print(&self, pass: &Pass, out: &mut String) {
        for (i, step) in pass.trace.steps.iter().enumerate() {
            let (what, detail) = self.step(step);
            let _ = writeln!(out, "  {:>2}. {what:<16} {detail}", i + 1);
        }
        let (outcome, code) = self.outcome(&pass.verdict);
        let _ = match code {
            Some(code) => writeln!(out, "  => {outcome} ({code})"),
            None => writeln!(out, "  => {outcome}"),
        };
    }

    fn pass_json(&self, pass: &Pass, from: Port) -> Value {
        let steps: Vec<Value> = pass
            .trace
            .steps
            .iter()
            .map(|s| {
                let (what, detail) = self.step(s);
                json!({ "step": what, "detail": detail })
            })
            .collect();
        let (outcome, code) = self.outcome(&pass.verdict);
        let drop = match pass.verdict {
            Verdict::Reply { reason, .. } | Verdict::Drop(reason) => Some(reason.name()),
            Verdict::Forward { .. } | Verdict::Translated { .. } | Verdict::Service { .. } => None,
        };
        json!({
            "from": self.port(from),
            "steps": steps,
            "outcome": outcome,
            "forwarded": drop.is_none(),
            "drop_reason": drop,
            "explanation_code": code,
        })
    }
}

/// Reachability Analyzer's explanation code for a drop, where one fits.
fn explanation_code(reason: DropReason) -> Option<&'static str> {
    Some(match reason {
        DropReason::SgEgress | DropReason::SgIngress => "ENI_SG_RULES_MISMATCH",
        DropReason::NaclIn | DropReason::NaclOut => "SUBNET_ACL_RESTRICTION",
        DropReason::NoRoute | DropReason::PeeringTransit | DropReason::NoHost => "CANNOT_ROUTE",
        DropReason::Blackhole => "BAD_STATE_ROUTE",
        // Reachability Analyzer's codes for a transit gateway route table that has no
        // route or a blackhole route.
        DropReason::TgwNoRoute | DropReason::TgwOnwardUnsupported => "CANNOT_ROUTE",
        DropReason::TgwBlackhole => "BAD_STATE_ROUTE",
        DropReason::TgwZoneNotAttached => "CANNOT_ROUTE",
        DropReason::NoPublicIp | DropReason::NoPublicMapping => {
            "IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn model() -> Model {
        let text = include_str!("../../../examples/two-tier.yaml");
        crate::topology::build(&crate::topology::parse(text).unwrap(), 1).unwrap()
    }

    #[test]
    fn ends_resolve_as_a_user_means_them() {
        let m = model();
        let web = resolve(&m, "web", None, false).unwrap();
        assert!(matches!(web, End::Instance(_, ip) if ip == Ipv4Addr::new(10, 0, 1, 10)));
        let by_address = resolve(&m, "10.0.1.10", None, false).unwrap();
        assert!(matches!(by_address, End::Instance(..)), "an instance's address is the instance");
        let internet = resolve(&m, "198.51.100.9", None, false).unwrap();
        assert!(matches!(internet, End::Internet(_)));
        // From the internet, an instance is its public address, if it has one.
        let public = resolve(&m, "web", Some(&internet), false).unwrap();
        assert!(matches!(public, End::Instance(_, ip) if ip == Ipv4Addr::new(203, 0, 113, 10)));
        let err = resolve(&m, "worker", Some(&internet), false).unwrap_err();
        assert!(err.contains("no public address"), "{err}");
        let err = resolve(&m, "10.0.9.9", None, false).unwrap_err();
        assert!(err.contains("no instance holds"), "{err}");
        let err = resolve(&m, "wbe", None, false).unwrap_err();
        assert!(err.contains("neither an instance"), "{err}");
        // Over IPv6 an instance needs an IPv6 address (the topology gives none).
        let err = resolve(&m, "web", None, true).unwrap_err();
        assert!(err.contains("no IPv6 address"), "{err}");
        let far6 = resolve(&m, "2001:db8:ffff::1", None, false).unwrap();
        assert!(matches!(far6, End::Internet(IpAddr::V6(_))));
    }

    #[test]
    fn a_transit_gateway_hop_names_its_attachment_table_and_route() {
        let text = include_str!("../../../examples/transit-gateway.yaml");
        let m = crate::topology::build(&crate::topology::parse(text).unwrap(), 1).unwrap();
        let traced = explain(&m, "prod", "10.3.1.10", None, None, false).unwrap();
        assert!(traced.reachable, "{}", traced.text);
        for seen in
            ["transit-gateway", "tgw-attachment", "10.3.0.0/16 -> tgw-attach-", "propagated"]
        {
            assert!(traced.text.contains(seen), "{seen}:\n{}", traced.text);
        }
        let traced = explain(&m, "prod", "10.2.1.10", None, None, false).unwrap();
        assert!(!traced.reachable);
        assert!(traced.text.contains("dropped: tgw_no_route (CANNOT_ROUTE)"), "{}", traced.text);
        let traced = explain(&m, "prod", "10.3.9.10", None, None, false).unwrap();
        assert!(traced.text.contains("blackhole (static, blackhole)"), "{}", traced.text);
        assert!(
            traced.text.contains("dropped: tgw_blackhole (BAD_STATE_ROUTE)"),
            "{}",
            traced.text
        );
        // Two hubs, peered: both tables on the way, two hubs' TTL.
        let text = include_str!("../../../examples/transit-peering.yaml");
        let peered = crate::topology::build(&crate::topology::parse(text).unwrap(), 1).unwrap();
        let traced = explain(&peered, "a", "10.2.1.10", None, None, false).unwrap();
        assert!(traced.reachable, "{}", traced.text);
        assert_eq!(traced.text.matches("transit-gateway ").count(), 4, "{}", traced.text);
        assert!(traced.text.contains("(peering tgw-"), "{}", traced.text);
        let pending = text.replace("accept: true", "accept: false");
        let pending = crate::topology::build(&crate::topology::parse(&pending).unwrap(), 1);
        let traced = explain(&pending.unwrap(), "a", "10.2.1.10", None, None, false).unwrap();
        assert!(traced.text.contains("dropped: tgw_blackhole"), "{}", traced.text);
        // The way back from shared goes through its own table, `services`.
        let traced = explain(&m, "shared", "10.2.1.10", None, None, false).unwrap();
        assert!(traced.reachable, "{}", traced.text);
    }

    #[test]
    fn a_trace_goes_through_an_interface_endpoint_to_its_service_and_back() {
        let text = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    dns_hostnames: true
    subnets: [{ name: private, cidr: 10.0.2.0/24 }]
    security_groups:
      - name: endpoints
        ingress: [{ protocol: tcp, ports: 80, cidr: 10.0.0.0/16 }]
    endpoints:
      - { service: ssm, type: interface, subnets: [private], security_groups: [endpoints] }
instances:
  - { name: app, subnet: private, private_ip: 10.0.2.10 }
";
        let m = crate::topology::build(&crate::topology::parse(text).unwrap(), 1).unwrap();
        let traced = explain(&m, "app", "10.0.2.4", Some("tcp"), Some(80), false).unwrap();
        assert!(traced.reachable, "{}", traced.text);
        assert!(traced.text.contains("destination 10.0.2.4 -> 198.51.100.136"), "{}", traced.text);
        assert!(traced.text.contains("(com.amazonaws.us-east-1.ssm) ingress"), "{}", traced.text);
        let traced = explain(&m, "app", "10.0.2.4", Some("tcp"), Some(443), false).unwrap();
        assert!(!traced.reachable);
        assert!(
            traced.text.contains("dropped: sg_ingress (ENI_SG_RULES_MISMATCH)"),
            "{}",
            traced.text
        );
    }

    /// A dual-stack VPC: `web` in a subnet whose `::/0` goes to the internet gateway,
    /// `app` in one whose `::/0` goes to the egress-only gateway.
    fn dual_stack() -> Model {
        use ipnet::Ipv6Net;
        use vpclab_model::{Ipv6Request, RouteSpec, RouteTarget, RunInstance, Tags};
        let mut m = Model::new(3);
        let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let eigw = m.create_egress_only_gateway(&vpc, Tags::new()).unwrap();
        for (n, name, target) in [
            (1u8, "web", RouteTarget::Gateway(igw)),
            (2, "app", RouteTarget::EgressOnlyGateway(eigw)),
        ] {
            let subnet = m
                .create_subnet(&vpc, format!("10.0.{n}.0/24").parse().unwrap(), None, Tags::new())
                .unwrap();
            let six = u128::from(block.network()) | u128::from(n) << 64;
            m.associate_subnet_ipv6(&subnet, Ipv6Net::new(six.into(), 64).unwrap()).unwrap();
            let table = m.create_route_table(&vpc, Tags::new()).unwrap();
            let default = RouteSpec { destination: "::/0".parse().unwrap(), target };
            m.create_ipv6_route(&table, default).unwrap();
            m.associate_route_table(&table, &subnet).unwrap();
            let mut tags = Tags::new();
            tags.insert("Name".into(), name.into());
            m.run_instance(RunInstance {
                subnet: Some(subnet),
                ipv6: Ipv6Request::Count(1),
                tags,
                ..Default::default()
            })
            .unwrap();
        }
        m
    }

    #[test]
    fn ipv6_traces_show_the_gateways_and_what_the_egress_only_one_keeps_out() {
        let m = dual_stack();
        let out = explain(&m, "web", "2001:db8:ffff::1", None, None, false).unwrap();
        assert!(out.reachable, "{}", out.text);
        assert!(out.text.contains(": ::/0 -> igw-"), "the IPv6 route named: {}", out.text);
        let out = explain(&m, "app", "2001:db8:ffff::1", Some("tcp"), Some(80), false).unwrap();
        assert!(out.reachable, "out through the egress-only gateway and back: {}", out.text);
        assert!(out.text.contains(": ::/0 -> eigw-"), "{}", out.text);
        // With the internet gateway attached, the internet may open flows to any IPv6
        // address of the VPC (routes are for what leaves): app's groups decide.
        let out = explain(&m, "2001:db8:ffff::1", "app", None, None, false).unwrap();
        assert!(out.text.contains("sg_ingress"), "{}", out.text);
        // Without it, the egress-only gateway lets nothing in unasked.
        let mut alone = m.clone();
        let vpc = alone.vpcs().next().unwrap().id.clone();
        let igw = alone.gateway_of(&vpc).unwrap().id.clone();
        alone.detach_internet_gateway(&igw, &vpc).unwrap();
        let out = explain(&alone, "2001:db8:ffff::1", "app", None, None, false).unwrap();
        assert!(!out.reachable);
        assert!(out.text.contains("egress_only_inbound"), "{}", out.text);
        // Both ends by name, over IPv6: the local route.
        let out = explain(&m, "web", "app", None, None, true).unwrap();
        assert_eq!(
            out.json["destination"],
            m.find_instance("app").unwrap().ipv6_addresses[0].to_string()
        );
        assert!(out.reachable, "{}", out.text);
        let err = explain(&m, "10.0.1.4", "2001:db8:ffff::1", None, None, false);
        assert!(err.is_err_and(|e| e.contains("different families")));
    }

    #[test]
    fn a_nat64_trace_shows_the_translation_both_ways() {
        let text = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    ipv6: true
    internet_gateway: true
    subnets:
      - { name: public, cidr: 10.0.1.0/24, route_table: public }
      - { name: app, cidr: 10.0.2.0/24, ipv6_block: 2, route_table: app }
    nat_gateways:
      - { name: nat, subnet: public, elastic_ip: nat-ip }
    route_tables:
      - name: public
        routes:
          - { destination: 0.0.0.0/0, target: internet-gateway }
      - name: app
        routes:
          - { destination: \"64:ff9b::/96\", target: nat }
elastic_ips:
  - name: nat-ip
instances:
  - { name: app, subnet: app, ipv6_address_count: 1 }
";
        let m = crate::topology::build(&crate::topology::parse(text).unwrap(), 1).unwrap();
        let eip = m.elastic_ips().next().unwrap().public_ip;
        let out = explain(&m, "app", "64:ff9b::198.51.100.1", Some("tcp"), Some(80), false);
        let out = out.unwrap();
        assert!(out.reachable, "{}", out.text);
        assert!(out.text.contains(": 64:ff9b::/96 -> nat-"), "the route: {}", out.text);
        let app6 = m.find_instance("app").unwrap().ipv6_addresses[0];
        assert!(out.text.contains(&format!("NAT64 {app6} <-> {eip} port ")), "{}", out.text);
        assert!(out.text.contains("forwarded to the internet, translated (NAT64)"), "{}", out.text);
        assert!(out.text.contains("translated (NAT64)\n"), "{}", out.text);
        // Another IPv6 destination has no route; an IPv4 one is another family.
        let out = explain(&m, "app", "2001:db8:ffff::1", None, None, false).unwrap();
        assert!(!out.reachable && out.text.contains("no_route"), "{}", out.text);
    }

    #[test]
    fn every_sg_and_acl_drop_has_its_reachability_code() {
        assert_eq!(explanation_code(DropReason::SgIngress), Some("ENI_SG_RULES_MISMATCH"));
        assert_eq!(explanation_code(DropReason::NaclOut), Some("SUBNET_ACL_RESTRICTION"));
        assert_eq!(explanation_code(DropReason::NoRoute), Some("CANNOT_ROUTE"));
        assert_eq!(explanation_code(DropReason::TtlExceeded), None);
    }
}
