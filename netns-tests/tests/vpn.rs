//! Site-to-Site VPN end to end: a VPN connection made through the EC2 API, its AWS side
//! run by vpclab, and a customer gateway configured from nothing but the connection's
//! `CustomerGatewayConfiguration` — real IKE, ESP and BGP over the emulated internet —
//! then instances and on-premises addresses reaching each other through the forwarder.

use std::path::PathBuf;
use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{Netns, internet, lab_prefix, require_root, wait_until};
use vpclab_vpn::Running;

const TOPOLOGY: &str = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    subnets:
      - name: app
        cidr: 10.0.1.0/24
    security_groups:
      - name: from-site
        description: everything from the data centre
        ingress:
          - protocol: all
            cidr: 172.16.0.0/16
instances:
  - name: app
    subnet: app
    private_ip: 10.0.1.10
    security_groups: [default, from-site]
";

/// The customer gateway's public address and the site's network behind it.
const CGW: &str = "198.51.100.10";
const SITE_HOST: &str = "172.16.0.1";

/// A customer gateway's namespace on the lab's internet: `wan` holding [`CGW`], the site
/// as an address on `lo`. (The lab's own on-premises sites do this for a user.)
fn customer_gateway() -> Netns {
    let cgw = Netns::new("cgw");
    // Named as vpclab names a site router's link, which the internet forwards.
    let link = "onprem210";
    let run = |args: &[&str]| vpclab_netns_tests::run_ok("ip", args);
    run(&[
        "-n",
        internet(),
        "link",
        "add",
        link,
        "type",
        "veth",
        "peer",
        "name",
        "wan",
        "netns",
        cgw.name(),
    ]);
    run(&["-n", internet(), "link", "set", link, "up"]);
    run(&["-n", internet(), "route", "replace", &format!("{CGW}/32"), "dev", link]);
    vpclab_netns_tests::run_ok(
        "ip",
        &[
            "netns",
            "exec",
            internet(),
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{link}.proxy_arp=1"),
        ],
    );
    cgw.run_ok("ip", &["addr", "add", &format!("{CGW}/32"), "dev", "wan"]);
    cgw.run_ok("ip", &["link", "set", "wan", "up"]);
    cgw.run_ok("ip", &["route", "add", "default", "dev", "wan"]);
    cgw.run_ok("ip", &["addr", "add", &format!("{SITE_HOST}/32"), "dev", "lo"]);
    cgw
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A lab from [`TOPOLOGY`] through the API as a user would build it: a virtual private
/// gateway attached to its VPC and propagating into its main route table, a customer
/// gateway at [`CGW`], and a VPN connection between them (`options`: more
/// `create-vpn-connection` arguments).
struct VgwLab {
    lab: Lab,
    table: String,
    vgw: String,
    vpn: String,
    document: String,
}

fn vgw_lab(options: &[&str]) -> VgwLab {
    let lab = Lab::up(TOPOLOGY);
    let text = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--output", "text"]);
        lab.aws(&args)
    };
    let vpc = text(&[
        "describe-vpcs",
        "--filters",
        "Name=tag:Name,Values=lab",
        "--query",
        "Vpcs[0].VpcId",
    ]);
    let filter = format!("Name=vpc-id,Values={vpc}");
    let table = text(&[
        "describe-route-tables",
        "--filters",
        &filter,
        "--query",
        "RouteTables[0].RouteTableId",
    ]);
    let cgw = text(&[
        "create-customer-gateway",
        "--type",
        "ipsec.1",
        "--ip-address",
        CGW,
        "--bgp-asn",
        "65000",
        "--query",
        "CustomerGateway.CustomerGatewayId",
    ]);
    let vgw =
        text(&["create-vpn-gateway", "--type", "ipsec.1", "--query", "VpnGateway.VpnGatewayId"]);
    lab.aws(&["attach-vpn-gateway", "--vpn-gateway-id", &vgw, "--vpc-id", &vpc]);
    lab.aws(&["enable-vgw-route-propagation", "--gateway-id", &vgw, "--route-table-id", &table]);
    let mut create = vec![
        "create-vpn-connection",
        "--type",
        "ipsec.1",
        "--customer-gateway-id",
        &cgw,
        "--vpn-gateway-id",
        &vgw,
    ];
    create.extend_from_slice(options);
    let made = json(&lab.aws(&create));
    let vpn = made["VpnConnection"]["VpnConnectionId"].as_str().unwrap().to_owned();
    let document =
        made["VpnConnection"]["CustomerGatewayConfiguration"].as_str().unwrap().to_owned();
    VgwLab { lab, table, vgw, vpn, document }
}

/// The connection's `VgwTelemetry`.
fn vgw_telemetry(lab: &Lab, vpn: &str) -> serde_json::Value {
    json(&lab.aws(&[
        "describe-vpn-connections",
        "--vpn-connection-ids",
        vpn,
        "--query",
        "VpnConnections[0].VgwTelemetry",
    ]))
}

#[test]
#[ignore = "needs root"]
fn a_customer_gateway_configured_from_the_document_brings_both_tunnels_up_and_packets_cross() {
    require_root();
    let VgwLab { lab, table, vgw, vpn, document } = vgw_lab(&[]);

    // The customer's side, from the document alone.
    let cgw = customer_gateway();
    let doc = vpclab_vpn::document::parse(&document).expect("the document reads");
    let end = vpclab_vpn::document::customer_end(
        cgw.name(),
        &[(doc, vec![])],
        vec!["172.16.0.0/16".parse().unwrap()],
    );
    let dir = PathBuf::from("/run/vpclab").join(cgw.name());
    let customer = Running::start(end, &dir).expect("the customer gateway starts");

    // Both tunnels up, each with the site's one route, as AWS reports them.
    let telemetry = wait_until(
        "both tunnels UP in VgwTelemetry",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let t = vgw_telemetry(&lab, &vpn);
            let up = t.as_array()?.iter().all(|x| x["Status"] == "UP");
            up.then_some(t)
        },
    );
    for t in telemetry.as_array().unwrap() {
        assert_eq!(t["StatusMessage"], "1 BGP ROUTES", "{telemetry}");
        assert_eq!(t["AcceptedRouteCount"], 1, "{telemetry}");
    }
    // The route propagated, as AWS shows it.
    let routes = json(&lab.aws(&[
        "describe-route-tables",
        "--route-table-ids",
        &table,
        "--query",
        "RouteTables[0].Routes",
    ]));
    let propagated = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["DestinationCidrBlock"] == "172.16.0.0/16")
        .unwrap_or_else(|| panic!("no propagated route: {routes}"));
    assert_eq!(propagated["GatewayId"], vgw.as_str());
    assert_eq!(propagated["Origin"], "EnableVgwRoutePropagation");

    // Packets both ways, through the forwarder and the tunnels.
    assert!(lab.pings("app", SITE_HOST, Duration::from_secs(10)), "app cannot reach the site");
    wait_until(
        "the site reaching app",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            cgw.run("ping", &["-c", "1", "-W", "1", "-I", SITE_HOST, "10.0.1.10"])
                .status
                .success()
                .then_some(())
        },
    );

    // AWS's side of tunnel 1 crashes: vpclab starts its daemons again, and the tunnels
    // come back.
    let ns = format!("{}vpn-{}", lab_prefix(), vpn.trim_start_matches("vpn-"));
    let pid_file = format!("/run/vpclab/{ns}/t1/charon.pid");
    let crashed = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
    vpclab_netns_tests::run_ok("kill", &["-KILL", &crashed]);
    wait_until(
        "AWS's side restarted, both tunnels UP",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || {
            let pid = std::fs::read_to_string(&pid_file).ok()?;
            let t = vgw_telemetry(&lab, &vpn);
            let up = t.as_array()?.iter().all(|x| x["Status"] == "UP");
            (pid.trim() != crashed && up).then_some(())
        },
    );

    // The customer gateway goes away: the tunnels go down and the route is withdrawn.
    drop(customer);
    wait_until("both tunnels DOWN", Duration::from_secs(60), Duration::from_millis(500), || {
        let t = vgw_telemetry(&lab, &vpn);
        t.as_array()?.iter().all(|x| x["Status"] == "DOWN").then_some(())
    });
    wait_until(
        "the propagated route withdrawn",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || {
            let routes = lab.aws(&[
                "describe-route-tables",
                "--route-table-ids",
                &table,
                "--query",
                "RouteTables[0].Routes[].DestinationCidrBlock",
                "--output",
                "text",
            ]);
            (!routes.contains("172.16.0.0/16")).then_some(())
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    // Deleting the connection removes its namespace.
    assert!(vpclab_netns_tests::namespaces().contains(&ns), "{ns} missing");
    lab.aws(&["delete-vpn-connection", "--vpn-connection-id", &vpn]);
    assert!(!vpclab_netns_tests::namespaces().contains(&ns), "{ns} left behind");
    drop(cgw);
    lab.down();
}

const SITE_TOPOLOGY: &str = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    subnets: [{ name: app, cidr: 10.0.1.0/24, zone: us-east-1a }]
    route_tables:
      - name: main
        routes: [{ destination: 172.16.0.0/12, target: hub }]
    security_groups:
      - name: from-site
        description: everything from the data centre
        ingress:
          - protocol: all
            cidr: 172.16.0.0/16
transit_gateways:
  - name: hub
    attachments:
      - { name: lab-att, vpc: lab, subnets: [app] }
instances:
  - name: app
    subnet: app
    private_ip: 10.0.1.10
    security_groups: [default, from-site]
onprem_sites:
  - name: dc
    cidr: 172.16.0.0/16
    public_ip: 198.51.100.20
    asn: 65020
    hosts:
      - name: server
        ip: 172.16.1.10
";

/// Runs `command` in site `dc`'s host `server`.
fn on_server(lab: &Lab, command: &[&str]) -> std::process::Output {
    let mut args = vec!["exec", "dc/server", "--"];
    args.extend_from_slice(command);
    lab.vpclab(&args)
}

#[test]
#[ignore = "needs root"]
fn a_sites_router_joins_a_transit_gateway_over_a_vpn_attachment() {
    require_root();
    let lab = Lab::up(SITE_TOPOLOGY);
    let tgw = lab.aws(&[
        "describe-transit-gateways",
        "--query",
        "TransitGateways[0].TransitGatewayId",
        "--output",
        "text",
    ]);
    let cgw = lab.aws(&[
        "create-customer-gateway",
        "--type",
        "ipsec.1",
        "--ip-address",
        "198.51.100.20",
        "--bgp-asn",
        "65020",
        "--query",
        "CustomerGateway.CustomerGatewayId",
        "--output",
        "text",
    ]);
    // To the hub: the connection brings its own attachment, associated with the hub's
    // default table and propagating into it (the gateway's defaults).
    let vpn = lab.aws(&[
        "create-vpn-connection",
        "--type",
        "ipsec.1",
        "--customer-gateway-id",
        &cgw,
        "--transit-gateway-id",
        &tgw,
        "--query",
        "VpnConnection.VpnConnectionId",
        "--output",
        "text",
    ]);
    let telemetry = || vgw_telemetry(&lab, &vpn);
    wait_until("both tunnels UP", Duration::from_secs(60), Duration::from_millis(500), || {
        telemetry().as_array()?.iter().all(|x| x["Status"] == "UP").then_some(())
    });
    // The site's route in the hub's table, propagated by the VPN attachment.
    let table = lab.aws(&[
        "describe-transit-gateways",
        "--query",
        "TransitGateways[0].Options.AssociationDefaultRouteTableId",
        "--output",
        "text",
    ]);
    let routes = json(&lab.aws(&[
        "search-transit-gateway-routes",
        "--transit-gateway-route-table-id",
        &table,
        "--filters",
        "Name=type,Values=propagated",
    ]));
    let site = routes["Routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["DestinationCidrBlock"] == "172.16.0.0/16")
        .unwrap_or_else(|| panic!("the site's route is not in the hub's table: {routes}"));
    assert_eq!(site["TransitGatewayAttachments"][0]["ResourceType"], "vpn", "{site}");

    // Both ways, through the hub and the tunnels; the site learned the VPC from the hub.
    assert!(lab.pings("app", "172.16.1.10", Duration::from_secs(15)), "app cannot reach the site");
    let out = on_server(&lab, &["ping", "-c", "1", "-W", "2", "10.0.1.10"]);
    assert!(
        out.status.success(),
        "the server cannot reach app: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let trace = lab.vpclab(&["trace", "--from", "app", "--to", "172.16.1.10"]);
    let shown = String::from_utf8_lossy(&trace.stdout).into_owned();
    assert!(shown.contains("transit-gateway"), "{shown}");
    lab.down();
    assert!(
        !vpclab_netns_tests::namespaces()
            .iter()
            .any(|n| n.starts_with(&format!("{}vpn-", lab_prefix()))
                || n.starts_with(&format!("{}onprem-", lab_prefix()))),
        "namespaces left behind"
    );
}

#[test]
#[ignore = "needs root"]
fn a_customer_gateway_with_a_wrong_pre_shared_key_keeps_that_tunnel_down() {
    require_root();
    let VgwLab { lab, vpn, document, .. } = vgw_lab(&[]);

    // The administrator mistyped tunnel 1's key.
    let cgw = customer_gateway();
    let mut doc = vpclab_vpn::document::parse(&document).expect("the document reads");
    doc.tunnels[0].pre_shared_key = "mistyped.key_123".into();
    let end = vpclab_vpn::document::customer_end(
        cgw.name(),
        &[(doc, vec![])],
        vec!["172.16.0.0/16".parse().unwrap()],
    );
    let dir = PathBuf::from("/run/vpclab").join(cgw.name());
    let customer = Running::start(end, &dir).expect("the customer gateway starts");

    let telemetry = || vgw_telemetry(&lab, &vpn);
    wait_until("tunnel 2 UP", Duration::from_secs(60), Duration::from_millis(500), || {
        (telemetry()[1]["Status"] == "UP").then_some(())
    });
    // Tunnel 1's authentication was refused (a positive sign rather than a timeout) …
    let log = dir.join(format!("{vpn}-t1/charon.log"));
    wait_until(
        "AUTHENTICATION_FAILED in the router's log",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|l| l.contains("AUTHENTICATION_FAILED"))
                .map(drop)
        },
    );
    // … and AWS reports it down, with nothing learned over it.
    let t = telemetry();
    assert_eq!(t[0]["Status"], "DOWN", "{t}");
    assert_eq!(t[0]["StatusMessage"], "IPSEC IS DOWN", "{t}");
    assert_eq!(t[0]["AcceptedRouteCount"], 0, "{t}");
    // The other tunnel carries the traffic.
    assert!(lab.pings("app", SITE_HOST, Duration::from_secs(20)), "tunnel 2 carries nothing");
    drop(customer);
    let _ = std::fs::remove_dir_all(&dir);
    drop(cgw);
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_static_connection_carries_its_routes_and_takes_new_ones_without_a_restart() {
    require_root();
    let VgwLab { lab, table, vpn, document, .. } = vgw_lab(&["--options", "StaticRoutesOnly=true"]);
    lab.aws(&[
        "create-vpn-connection-route",
        "--vpn-connection-id",
        &vpn,
        "--destination-cidr-block",
        "172.16.0.0/16",
    ]);

    // The customer routes the VPC into its tunnels, as a static device is configured.
    let cgw = customer_gateway();
    let doc = vpclab_vpn::document::parse(&document).expect("the document reads");
    assert!(doc.tunnels.iter().all(|t| t.bgp.is_none()), "no BGP in a static document");
    let end = vpclab_vpn::document::customer_end(
        cgw.name(),
        &[(doc, vec!["10.0.0.0/16".parse().unwrap()])],
        vec![],
    );
    let dir = PathBuf::from("/run/vpclab").join(cgw.name());
    let mut customer = Running::start(end, &dir).expect("the customer gateway starts");

    let telemetry = || vgw_telemetry(&lab, &vpn);
    wait_until("both tunnels UP", Duration::from_secs(60), Duration::from_millis(500), || {
        telemetry().as_array()?.iter().all(|x| x["Status"] == "UP").then_some(())
    });
    assert_eq!(telemetry()[0]["StatusMessage"], "IPSEC IS UP");
    wait_until("a ping across", Duration::from_secs(20), Duration::from_millis(300), || {
        customer.poll();
        lab.pings("app", SITE_HOST, Duration::from_secs(1)).then_some(())
    });

    // Another route: taken in place, the tunnels stay as they were.
    let ns = format!("{}vpn-{}", lab_prefix(), vpn.trim_start_matches("vpn-"));
    let pid = || std::fs::read_to_string(format!("/run/vpclab/{ns}/t1/charon.pid")).unwrap();
    let (before, since) = (pid(), telemetry()[0]["LastStatusChange"].clone());
    lab.aws(&[
        "create-vpn-connection-route",
        "--vpn-connection-id",
        &vpn,
        "--destination-cidr-block",
        "172.17.0.0/16",
    ]);
    let routes = lab.aws(&[
        "describe-route-tables",
        "--route-table-ids",
        &table,
        "--query",
        "RouteTables[0].Routes[].DestinationCidrBlock",
        "--output",
        "text",
    ]);
    assert!(routes.contains("172.17.0.0/16"), "{routes}");
    // Routed into a tunnel by the next poll of the daemons (once a second).
    wait_until(
        "172.17.0.0/16 into a tunnel",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            let route =
                vpclab_netns_tests::run_ok("ip", &["-n", &ns, "route", "show", "172.17.0.0/16"]);
            String::from_utf8_lossy(&route.stdout).contains("ipsec").then_some(())
        },
    );
    assert_eq!(pid(), before, "the tunnel's charon was restarted");
    assert_eq!(telemetry()[0]["LastStatusChange"], since);
    assert!(lab.pings("app", SITE_HOST, Duration::from_secs(5)));
    drop(customer);
    let _ = std::fs::remove_dir_all(&dir);
    drop(cgw);
    lab.down();
}
