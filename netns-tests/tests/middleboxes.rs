//! Middleboxes with real packets: a NAT instance masquerading with iptables, and an
//! inspection VPC whose firewall instance (nftables) sits between two spokes of a
//! transit gateway in appliance mode — and the source/destination check that keeps
//! both from working until it is turned off; a route to the firewall's network
//! interface; and, in two zones, appliance mode keeping both directions of a connection
//! on one stateful firewall (without it, each zone's firewall sees half the flow).

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(3);

/// Runs `command` inside instance `name` and asserts it succeeded.
fn inside(lab: &Lab, name: &str, command: &[&str]) {
    let out = lab.exec(name, command);
    assert!(
        out.status.success(),
        "{command:?} in {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn public_ip(lab: &Lab, name: &str) -> String {
    lab.aws(&[
        "describe-instances",
        "--instance-ids",
        lab.id(name),
        "--query",
        "Reservations[0].Instances[0].PublicIpAddress",
        "--output",
        "text",
    ])
}

#[test]
#[ignore = "needs root"]
fn a_nat_instance_masquerades_for_the_private_subnet() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/nat-instance.yaml"));
    let check = "http://198.51.100.1/";
    assert_eq!(lab.curl("app", check, NEGATIVE), None, "nat-box neither forwards nor translates");
    inside(&lab, "nat-box", &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    inside(
        &lab,
        "nat-box",
        &["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"],
    );
    let seen = lab.curl("app", check, T);
    let nat_public = public_ip(&lab, "nat-box");
    assert_eq!(seen, Some(format!("{nat_public}\n")), "the internet sees nat-box's public IP");

    // The check back on: nat-box may no longer receive for, or send from, app's flows.
    lab.aws(&[
        "modify-instance-attribute",
        "--instance-id",
        lab.id("nat-box"),
        "--source-dest-check",
    ]);
    let attribute = lab.aws(&[
        "describe-instance-attribute",
        "--instance-id",
        lab.id("nat-box"),
        "--attribute",
        "sourceDestCheck",
        "--query",
        "SourceDestCheck.Value",
    ]);
    assert_eq!(attribute, "true");
    assert_eq!(lab.curl("app", check, NEGATIVE), None, "the check drops app's packets at nat-box");
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("destination_check"));
    lab.aws(&[
        "modify-instance-attribute",
        "--instance-id",
        lab.id("nat-box"),
        "--no-source-dest-check",
    ]);
    assert_eq!(lab.curl("app", check, T), Some(format!("{nat_public}\n")), "and off again");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn an_inspection_vpc_firewall_sees_and_filters_traffic_between_spokes() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/inspection.yaml"));
    let _open = lab.serve("b", "10.2.1.10:8081");
    let _closed = lab.serve("b", "10.2.1.10:8080");
    assert!(!lab.pings("a", "10.2.1.10", NEGATIVE), "the firewall does not forward yet");

    // A flow log on the firewall's interface records what passes through it.
    let eni = lab.aws(&[
        "describe-instances",
        "--instance-ids",
        lab.id("firewall"),
        "--query",
        "Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId",
        "--output",
        "text",
    ]);
    lab.aws(&[
        "create-flow-logs",
        "--resource-type",
        "NetworkInterface",
        "--resource-ids",
        &eni,
        "--traffic-type",
        "ALL",
        "--log-destination-type",
        "s3",
        "--log-destination",
        "arn:aws:s3:::lab-bucket/inspection",
    ]);
    inside(&lab, "firewall", &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    inside(&lab, "firewall", &["nft", "add", "table", "inet", "fw"]);
    inside(
        &lab,
        "firewall",
        &[
            "nft",
            "add",
            "chain",
            "inet",
            "fw",
            "forward",
            "{ type filter hook forward priority 0; }",
        ],
    );
    inside(
        &lab,
        "firewall",
        &["nft", "add", "rule", "inet", "fw", "forward", "tcp", "dport", "8080", "counter", "drop"],
    );
    assert!(lab.pings("a", "10.2.1.10", T), "a -> b through the firewall");
    assert!(lab.pings("b", "10.1.1.10", T), "b -> a through the firewall");
    let body = lab.curl("a", "http://10.2.1.10:8081/", T);
    assert_eq!(body.as_deref(), Some("10.1.1.10\n"), "allowed, and nothing translated");
    assert_eq!(lab.curl("a", "http://10.2.1.10:8080/", NEGATIVE), None, "the firewall drops 8080");
    // The firewall's interface logged a's request on its way in and out, both ways.
    let flows = lab.vpclab(&["flows"]);
    let flows = String::from_utf8_lossy(&flows.stdout);
    let through = |src: &str, dst: &str, port: &str| {
        flows.lines().filter(|l| l.contains(&eni)).any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() == 15 && (f[4], f[5], f[13]) == (src, dst, "ACCEPT") && f[7] == port
        })
    };
    assert!(through("10.1.1.10", "10.2.1.10", "8081"), "a's request, at the firewall:\n{flows}");
    // The firewall saw (and counted) what it dropped: the path really goes through it.
    let rules = lab.exec("firewall", &["nft", "list", "chain", "inet", "fw", "forward"]);
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(!rules.contains("packets 0 "), "the drop rule matched:\n{rules}");
    lab.down();
}

/// `aws ec2 <args> --output text --query <query>` against the lab.
fn text(lab: &Lab, args: &[&str], query: &str) -> String {
    let mut full = args.to_vec();
    full.extend_from_slice(&["--output", "text", "--query", query]);
    lab.aws(&full)
}

/// The id of instance `name`'s (primary) network interface.
fn interface(lab: &Lab, name: &str) -> String {
    let query = "Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId";
    text(lab, &["describe-instances", "--instance-ids", lab.id(name)], query)
}

/// Loads an nftables ruleset into instance `name` (replacing what it had).
fn nft(lab: &Lab, name: &str, ruleset: &str) {
    let file = lab.state().join(format!("{name}.nft"));
    std::fs::write(&file, ruleset).expect("ruleset file");
    inside(lab, name, &["nft", "-f", file.to_str().expect("utf-8 path")]);
}

/// The packets counted so far by the named counter `counter` of table `inet fw` in `name`.
fn counted(lab: &Lab, name: &str, counter: &str) -> u64 {
    let out = lab.exec(name, &["nft", "list", "counter", "inet", "fw", counter]);
    let listing = String::from_utf8_lossy(&out.stdout);
    listing
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter {counter} in {name}: {listing}"))
}

#[test]
#[ignore = "needs root"]
fn a_route_to_the_firewalls_network_interface_carries_packets() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/inspection.yaml"));
    let _server = lab.serve("b", "10.2.1.10:8081");
    inside(&lab, "firewall", &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    nft(
        &lab,
        "firewall",
        "flush ruleset\n\
         table inet fw {\n\
           counter seen {}\n\
           chain forward { type filter hook forward priority 0; counter name seen accept; }\n\
         }\n",
    );
    let filter = "Name=tag:Name,Values=to-firewall";
    let table =
        text(&lab, &["describe-route-tables", "--filters", filter], "RouteTables[0].RouteTableId");
    let eni = interface(&lab, "firewall");
    assert!(
        lab.pings("a", "10.2.1.10", T),
        "through the firewall, by the topology's instance route"
    );

    // The hub subnet's route to the firewall replaced by one to its interface.
    let route = ["--route-table-id", table.as_str(), "--destination-cidr-block", "0.0.0.0/0"];
    lab.aws(&[&["delete-route"][..], &route].concat());
    assert!(!lab.pings("a", "10.2.1.10", NEGATIVE), "no route in the hub's subnet");
    lab.aws(&[&["create-route"][..], &route, &["--network-interface-id", &eni]].concat());
    let target = text(
        &lab,
        &["describe-route-tables", "--route-table-ids", &table],
        "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].NetworkInterfaceId | [0]",
    );
    assert_eq!(target, eni, "the route names the interface");
    let before = counted(&lab, "firewall", "seen");
    let body = lab.curl("a", "http://10.2.1.10:8081/", T);
    assert_eq!(body.as_deref(), Some("10.1.1.10\n"), "TCP by the interface route");
    assert!(lab.pings("b", "10.1.1.10", T), "and the other way");
    assert!(counted(&lab, "firewall", "seen") > before, "the firewall forwarded them");
    lab.down();
}

/// An inspection VPC in two zones: one firewall per zone, each zone's hub subnet routing
/// to its own zone's firewall; spoke `a` in us-east-1a, spoke `b` in us-east-1b. Without
/// appliance mode the hub leaves for the inspection VPC in the sender's zone, so a's
/// packets meet fw-a and b's answers fw-b.
const TWO_ZONES: &str = "
vpcs:
  - name: spoke-a
    cidr: 10.1.0.0/16
    subnets: [{ name: a, cidr: 10.1.1.0/24, zone: us-east-1a }]
    route_tables:
      - name: main
        routes: [{ destination: 10.0.0.0/8, target: hub }]
    security_groups:
      - name: internal
        ingress: [{ protocol: all, cidr: 10.0.0.0/8 }]
  - name: spoke-b
    cidr: 10.2.0.0/16
    subnets: [{ name: b, cidr: 10.2.1.0/24, zone: us-east-1b }]
    route_tables:
      - name: main
        routes: [{ destination: 10.0.0.0/8, target: hub }]
    security_groups:
      - name: internal
        ingress: [{ protocol: all, cidr: 10.0.0.0/8 }]
  - name: inspection
    cidr: 10.9.0.0/16
    subnets:
      - { name: tgw-a, cidr: 10.9.0.0/28, zone: us-east-1a, route_table: to-fw-a }
      - { name: tgw-b, cidr: 10.9.0.16/28, zone: us-east-1b, route_table: to-fw-b }
      - { name: fw-subnet-a, cidr: 10.9.1.0/24, zone: us-east-1a, route_table: from-firewall }
      - { name: fw-subnet-b, cidr: 10.9.2.0/24, zone: us-east-1b, route_table: from-firewall }
    route_tables:
      - name: to-fw-a
        routes: [{ destination: 0.0.0.0/0, target: fw-a }]
      - name: to-fw-b
        routes: [{ destination: 0.0.0.0/0, target: fw-b }]
      - name: from-firewall
        routes: [{ destination: 10.0.0.0/8, target: hub }]
    security_groups:
      - name: inspected
        ingress: [{ protocol: all, cidr: 10.0.0.0/8 }]
transit_gateways:
  - name: hub
    default_association: false
    default_propagation: false
    attachments:
      - { name: a-att, vpc: spoke-a, subnets: [a] }
      - { name: b-att, vpc: spoke-b, subnets: [b] }
      - { name: inspection-att, vpc: inspection, subnets: [tgw-a, tgw-b] }
    route_tables:
      - name: spokes
        associations: [a-att, b-att]
        routes: [{ destination: 0.0.0.0/0, target: inspection-att }]
      - name: firewall
        associations: [inspection-att]
        propagations: [a-att, b-att]
instances:
  - { name: a, subnet: a, private_ip: 10.1.1.10, security_groups: [default, internal] }
  - { name: b, subnet: b, private_ip: 10.2.1.10, security_groups: [default, internal] }
  - { name: fw-a, subnet: fw-subnet-a, private_ip: 10.9.1.10, source_dest_check: false, security_groups: [inspected] }
  - { name: fw-b, subnet: fw-subnet-b, private_ip: 10.9.2.10, source_dest_check: false, security_groups: [inspected] }
";

/// A stateful firewall: new TCP connections start with a SYN, everything else must
/// belong to a connection it has seen; counters `ab` (a to b) and `ba` (b to a) count
/// the packets of a's connections to b:8081 — only those from a's port `port`, if given.
fn stateful(port: Option<u16>) -> String {
    let (sport, dport) = match port {
        Some(p) => (format!("tcp sport {p}"), format!("tcp dport {p}")),
        None => (String::new(), String::new()),
    };
    format!(
        "flush ruleset
table inet fw {{
  counter ab {{}}
  counter ba {{}}
  chain forward {{
    type filter hook forward priority 0; policy drop;
    ip saddr 10.1.1.10 ip daddr 10.2.1.10 tcp dport 8081 {sport} counter name ab
    ip saddr 10.2.1.10 ip daddr 10.1.1.10 tcp sport 8081 {dport} counter name ba
    ct state established,related accept
    ct state new tcp flags & (fin | syn | rst | ack) == syn accept
  }}
}}
"
    )
}

#[test]
#[ignore = "needs root"]
fn in_appliance_mode_both_directions_of_a_connection_cross_one_firewall() {
    require_root();
    let lab = Lab::up(TWO_ZONES);
    let _server = lab.serve("b", "10.2.1.10:8081");
    let firewalls = ["fw-a", "fw-b"];
    for fw in firewalls {
        inside(&lab, fw, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        nft(&lab, fw, &stateful(None));
    }
    let url = "http://10.2.1.10:8081/";

    // Without appliance mode the flow is asymmetric: a's SYN crosses fw-a, b's SYN-ACK
    // meets fw-b, which never saw the connection open and drops it.
    assert_eq!(lab.curl("a", url, NEGATIVE), None, "two stateful firewalls, each half a flow");
    let seen = |fw: &str| (counted(&lab, fw, "ab"), counted(&lab, fw, "ba"));
    let (a_ab, a_ba) = seen("fw-a");
    let (b_ab, b_ba) = seen("fw-b");
    assert!(a_ab > 0 && a_ba == 0, "fw-a saw only a's packets: {a_ab} and {a_ba}");
    assert!(b_ab == 0 && b_ba > 0, "fw-b saw only b's answers: {b_ab} and {b_ba}");

    let filter = "Name=tag:Name,Values=inspection-att";
    let att = text(
        &lab,
        &["describe-transit-gateway-attachments", "--filters", filter],
        "TransitGatewayAttachments[0].TransitGatewayAttachmentId",
    );
    let mode = text(
        &lab,
        &[
            "modify-transit-gateway-vpc-attachment",
            "--transit-gateway-attachment-id",
            &att,
            "--options",
            "ApplianceModeSupport=enable",
        ],
        "TransitGatewayVpcAttachment.Options.ApplianceModeSupport",
    );
    assert_eq!(mode, "enable");
    let body = lab.curl("a", url, T);
    assert_eq!(body.as_deref(), Some("10.1.1.10\n"), "through one stateful firewall");

    // One connection, counted from a fixed client port: both of its directions crossed
    // the same firewall, and the other saw none of it.
    let port = 40123;
    for fw in firewalls {
        nft(&lab, fw, &stateful(Some(port)));
    }
    let curl = lab.exec("a", &["curl", "-s", "-m", "5", "--local-port", "40123", url]);
    assert!(curl.status.success(), "{}", String::from_utf8_lossy(&curl.stderr));
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "10.1.1.10\n");
    let counts = firewalls.map(seen);
    let both = |(ab, ba): (u64, u64)| ab > 0 && ba > 0;
    let none = |(ab, ba): (u64, u64)| ab == 0 && ba == 0;
    assert!(
        (both(counts[0]) && none(counts[1])) || (none(counts[0]) && both(counts[1])),
        "one firewall saw the whole connection (a->b, b->a): fw-a {:?}, fw-b {:?}",
        counts[0],
        counts[1]
    );
    lab.down();
}
