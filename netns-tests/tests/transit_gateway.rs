//! A transit gateway with real packets: hub and spoke, segmented route tables, a
//! blackhole, the 8500-byte MTU, zones an attachment does and does not reach, the
//! attachment subnet's network ACL, an attachment without a table, and the hub changed
//! through the API while packets flow.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{require_root, wait_until};

const TOPOLOGY: &str = include_str!("../../examples/transit-gateway.yaml");
const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(3);

/// A ping of `size` payload bytes with DF set: one packet of `size + 28` bytes.
fn pings_whole(lab: &Lab, from: &str, addr: &str, size: usize) -> bool {
    let size = size.to_string();
    (0..3).any(|_| {
        let ping = ["ping", "-c", "1", "-W", "1", "-M", "do", "-s", size.as_str(), addr];
        lab.exec(from, &ping).status.success()
    })
}

#[test]
#[ignore = "needs root"]
fn the_hub_routes_by_the_table_of_the_attachment_a_packet_came_from() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert!(lab.pings("prod", "10.3.1.10", T), "prod -> shared through the hub");
    assert!(lab.pings("dev", "10.3.1.10", T), "dev -> shared");
    assert!(lab.pings("shared", "10.1.1.10", T), "shared -> prod (its own table)");
    assert!(!lab.pings("prod", "10.2.1.10", NEGATIVE), "prod -> dev: `spokes` has no route");
    assert!(!lab.pings("dev", "10.1.1.10", NEGATIVE), "dev -> prod: neither");
    assert!(!lab.pings("prod", "10.3.9.10", NEGATIVE), "prod -> quarantine: blackhole");
    assert!(lab.pings("shared", "10.3.9.10", T), "inside shared, the local route");
    let _server = lab.serve("shared", "10.3.1.10:8080");
    let body = lab.curl("prod", "http://10.3.1.10:8080/", T);
    assert_eq!(body.as_deref(), Some("10.1.1.10\n"), "TCP through the hub, nothing translated");

    // Bulk TCP: the hub clamps the MSS, so full-sized segments fit its 8500 bytes.
    let server = lab.exec("shared", &["iperf3", "-s", "-D", "-B", "10.3.1.10"]);
    assert!(server.status.success(), "{}", String::from_utf8_lossy(&server.stderr));
    vpclab_netns_tests::lab::wait_for_listener(&lab, "shared", "10.3.1.10:5201");
    let bulk = lab.exec("prod", &["timeout", "30", "iperf3", "-c", "10.3.1.10", "-n", "8M"]);
    assert!(
        bulk.status.success(),
        "8 MB through the hub: {}",
        String::from_utf8_lossy(&bulk.stdout)
    );

    // The transit gateway carries 8500 bytes; more is dropped, with no ICMP error.
    assert!(pings_whole(&lab, "prod", "10.3.1.10", 8500 - 28), "8500 bytes cross the hub");
    assert!(!pings_whole(&lab, "prod", "10.3.1.10", 8501 - 28), "8501 bytes do not");

    let status = lab.vpclab(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    for reason in ["tgw_no_route", "tgw_blackhole", "tgw_mtu_exceeded"] {
        assert!(status.contains(reason), "{reason} counted:\n{status}");
    }
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn two_hubs_peered_carry_traffic_once_the_peering_is_accepted() {
    require_root();
    let topology = include_str!("../../examples/transit-peering.yaml");
    let lab = Lab::up(&topology.replace("accept: true", "accept: false"));
    assert!(!lab.pings("a", "10.2.1.10", NEGATIVE), "pending acceptance: a blackhole");
    let peering = lab.aws(&[
        "describe-transit-gateway-peering-attachments",
        "--filters",
        "Name=state,Values=pendingAcceptance",
        "--query",
        "TransitGatewayPeeringAttachments[0].TransitGatewayAttachmentId",
        "--output",
        "text",
    ]);
    assert!(peering.starts_with("tgw-attach-"), "{peering}");
    lab.aws(&[
        "accept-transit-gateway-peering-attachment",
        "--transit-gateway-attachment-id",
        &peering,
    ]);
    assert!(lab.pings("a", "10.2.1.10", T), "a -> east -> west -> b");
    assert!(lab.pings("b", "10.1.1.10", T), "and back the other way");
    lab.down();
}

/// Two zones of `prod`, attached to the hub in us-east-1a only, through small subnets of
/// their own (as AWS recommends) whose network ACL `hub-acl` is separate from the
/// instances' subnets'. The hub uses its default table: both attachments are associated
/// with it and propagate into it.
const ZONES: &str = "
vpcs:
  - name: prod
    cidr: 10.1.0.0/16
    subnets:
      - { name: prod-hub-a, cidr: 10.1.0.0/28, zone: us-east-1a }
      - { name: prod-hub-b, cidr: 10.1.0.16/28, zone: us-east-1b }
      - { name: prod-a, cidr: 10.1.1.0/24, zone: us-east-1a }
      - { name: prod-b, cidr: 10.1.2.0/24, zone: us-east-1b }
    route_tables:
      - name: main
        routes: [{ destination: 10.0.0.0/8, target: hub }]
    security_groups:
      - name: internal
        ingress: [{ protocol: all, cidr: 10.0.0.0/8 }]
    network_acls:
      - name: hub-acl
        subnets: [prod-hub-a, prod-hub-b]
        entries:
          - { rule: 100, direction: inbound, protocol: all, cidr: 0.0.0.0/0, action: allow }
          - { rule: 100, direction: outbound, protocol: all, cidr: 0.0.0.0/0, action: allow }
  - name: shared
    cidr: 10.3.0.0/16
    subnets: [{ name: shared-a, cidr: 10.3.1.0/24, zone: us-east-1a }]
    route_tables:
      - name: main
        routes: [{ destination: 10.0.0.0/8, target: hub }]
    security_groups:
      - name: internal
        ingress: [{ protocol: all, cidr: 10.0.0.0/8 }]
transit_gateways:
  - name: hub
    attachments:
      - { name: prod-att, vpc: prod, subnets: [prod-hub-a] }
      - { name: shared-att, vpc: shared, subnets: [shared-a] }
instances:
  - { name: prod-a, subnet: prod-a, private_ip: 10.1.1.10, security_groups: [default, internal] }
  - { name: prod-b, subnet: prod-b, private_ip: 10.1.2.10, security_groups: [default, internal] }
  - { name: shared, subnet: shared-a, private_ip: 10.3.1.10, security_groups: [default, internal] }
";

/// How many packets the forwarder dropped for `reason` (`vpclab status`).
fn drops(lab: &Lab, reason: &str) -> u64 {
    let out = lab.vpclab(&["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    status
        .lines()
        .find_map(|l| l.strip_prefix("drops: "))
        .and_then(|d| {
            d.split(", ").find_map(|e| e.strip_prefix(reason)?.strip_prefix(' ')?.parse().ok())
        })
        .unwrap_or(0)
}

/// `vpclab trace --from <from> --to <to>`: its output (it fails when the path does).
fn trace(lab: &Lab, from: &str, to: &str) -> String {
    let out = lab.vpclab(&["trace", "--from", from, "--to", to]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `aws ec2 <args> --output text --query <query>` against the lab.
fn text(lab: &Lab, args: &[&str], query: &str) -> String {
    let mut full = args.to_vec();
    full.extend_from_slice(&["--output", "text", "--query", query]);
    lab.aws(&full)
}

fn subnet(lab: &Lab, name: &str) -> String {
    let filter = format!("Name=tag:Name,Values={name}");
    text(lab, &["describe-subnets", "--filters", &filter], "Subnets[0].SubnetId")
}

fn attachment(lab: &Lab, name: &str) -> String {
    let filter = format!("Name=tag:Name,Values={name}");
    let args = ["describe-transit-gateway-attachments", "--filters", &filter];
    text(lab, &args, "TransitGatewayAttachments[0].TransitGatewayAttachmentId")
}

/// A process inside an instance that runs on while the test changes the lab; killed
/// when dropped.
struct Background(Child);

impl Background {
    fn start(lab: &Lab, name: &str, command: &[&str]) -> Self {
        let child = Command::new("ip")
            .args(["netns", "exec", lab.id(name)])
            .args(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a process in the instance");
        Background(child)
    }

    /// Waits (at most `timeout`) for it to end: whether it succeeded, and its output.
    fn finish(mut self, timeout: Duration) -> (bool, String) {
        let status = wait_until("the process to end", timeout, Duration::from_millis(100), || {
            self.0.try_wait().expect("wait")
        });
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut out).expect("its output");
        }
        (status.success(), out)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs root"]
fn a_zone_reaches_the_hub_once_the_attachment_has_a_subnet_there_added_while_packets_flow() {
    require_root();
    let lab = Lab::up(ZONES);
    assert!(lab.pings("prod-a", "10.3.1.10", T), "prod-a's zone is attached");
    assert!(!lab.pings("prod-b", "10.3.1.10", NEGATIVE), "prod-b's zone is not");
    assert!(!lab.pings("shared", "10.1.2.10", NEGATIVE), "nor can prod-b answer shared");
    let why = trace(&lab, "prod-b", "10.3.1.10");
    assert!(why.contains("dropped: tgw_zone_not_attached"), "{why}");
    let before = drops(&lab, "tgw_zone_not_attached");
    assert!(before > 0, "counted");

    // A ping that runs on while the attachment changes: its first echoes are dropped
    // (and counted), and it ends once three have come back.
    let ping = Background::start(
        &lab,
        "prod-b",
        &["ping", "-n", "-i", "0.2", "-c", "3", "-w", "60", "10.3.1.10"],
    );
    wait_until("prod-b's echoes dropped in flight", T, Duration::from_millis(100), || {
        (drops(&lab, "tgw_zone_not_attached") >= before + 3).then_some(())
    });
    let add = subnet(&lab, "prod-hub-b");
    let att = attachment(&lab, "prod-att");
    let subnets = text(
        &lab,
        &[
            "modify-transit-gateway-vpc-attachment",
            "--transit-gateway-attachment-id",
            &att,
            "--add-subnet-ids",
            &add,
        ],
        "length(TransitGatewayVpcAttachment.SubnetIds)",
    );
    assert_eq!(subnets, "2", "a subnet per zone now");
    let (ok, out) = ping.finish(Duration::from_secs(70));
    assert!(ok, "the running ping got its answers once the zone was attached:\n{out}");
    let summary = out.lines().find(|l| l.contains("packets transmitted")).unwrap_or_default();
    let sent: u32 = summary.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(sent > 3, "some of the same ping's echoes were lost before: {summary}");
    assert!(lab.pings("shared", "10.1.2.10", T), "and shared reaches prod-b");
    let why = trace(&lab, "prod-b", "10.3.1.10");
    assert!(!why.contains("dropped"), "{why}");

    // And the other way: prod-a's zone taken off, prod-a is cut off.
    let remove = subnet(&lab, "prod-hub-a");
    lab.aws(&[
        "modify-transit-gateway-vpc-attachment",
        "--transit-gateway-attachment-id",
        &att,
        "--remove-subnet-ids",
        &remove,
    ]);
    assert!(!lab.pings("prod-a", "10.3.1.10", NEGATIVE), "us-east-1a is no longer attached");
    assert!(lab.pings("prod-b", "10.3.1.10", T), "us-east-1b still is");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn the_attachment_subnets_network_acl_applies_to_traffic_through_the_hub() {
    require_root();
    let lab = Lab::up(ZONES);
    let filter = "Name=tag:Name,Values=hub-acl";
    let acl =
        text(&lab, &["describe-network-acls", "--filters", filter], "NetworkAcls[0].NetworkAclId");
    assert!(lab.pings("prod-a", "10.3.1.10", T), "open to begin with");
    let entry = |direction: &str, action: &str| {
        let mut args = vec![
            if action == "create" {
                "create-network-acl-entry"
            } else {
                "delete-network-acl-entry"
            },
            "--network-acl-id",
            &acl,
            "--rule-number",
            "50",
            direction,
        ];
        if action == "create" {
            args.extend_from_slice(&[
                "--protocol",
                "-1",
                "--rule-action",
                "deny",
                "--cidr-block",
                "10.1.1.0/24",
            ]);
        }
        lab.aws(&args);
    };

    // Into the hub: the attachment subnet's inbound rules (prod-a's own subnet keeps the
    // default ACL, which allows everything).
    entry("--ingress", "create");
    assert!(!lab.pings("prod-a", "10.3.1.10", NEGATIVE), "denied on the way into the hub");
    let why = trace(&lab, "prod-a", "10.3.1.10");
    assert!(why.contains("dropped: nacl_in"), "{why}");
    assert!(drops(&lab, "nacl_in") > 0);
    assert!(lab.pings("prod-a", "10.1.2.10", T), "the local route passes no hub subnet");
    entry("--ingress", "delete");
    assert!(lab.pings("prod-a", "10.3.1.10", T), "the deny removed, the hub carries it again");

    // Out of the hub: the attachment subnet's outbound rules, for shared's answers to
    // prod-a as for its own requests.
    entry("--egress", "create");
    assert!(!lab.pings("prod-a", "10.3.1.10", NEGATIVE), "the answers are denied");
    assert!(!lab.pings("shared", "10.1.1.10", NEGATIVE), "and shared's requests");
    assert!(drops(&lab, "nacl_out") > 0);
    entry("--egress", "delete");
    assert!(lab.pings("shared", "10.1.1.10", T), "open again");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn an_attachment_without_an_associated_table_has_no_route() {
    require_root();
    let lab = Lab::up(ZONES);
    let att = attachment(&lab, "prod-att");
    let args = ["describe-transit-gateway-attachments", "--transit-gateway-attachment-ids", &att];
    let table =
        text(&lab, &args, "TransitGatewayAttachments[0].Association.TransitGatewayRouteTableId");
    assert!(table.starts_with("tgw-rtb-"), "{table}");
    assert!(lab.pings("prod-a", "10.3.1.10", T), "associated with the default table");
    let change = |action: &str| {
        lab.aws(&[
            action,
            "--transit-gateway-route-table-id",
            &table,
            "--transit-gateway-attachment-id",
            &att,
        ]);
    };
    change("disassociate-transit-gateway-route-table");
    let association =
        text(&lab, &args, "TransitGatewayAttachments[0].Association.TransitGatewayRouteTableId");
    assert_eq!(association, "None", "no table");
    let no_route = drops(&lab, "tgw_no_route");
    assert!(!lab.pings("prod-a", "10.3.1.10", NEGATIVE), "nothing routes what prod sends");
    assert!(!lab.pings("shared", "10.1.1.10", NEGATIVE), "nor prod's answers to shared");
    assert!(drops(&lab, "tgw_no_route") > no_route, "counted as tgw_no_route");
    let why = trace(&lab, "prod-a", "10.3.1.10");
    assert!(why.contains("dropped: tgw_no_route"), "{why}");

    change("associate-transit-gateway-route-table");
    assert!(lab.pings("prod-a", "10.3.1.10", T), "associated again");
    assert!(lab.pings("shared", "10.1.1.10", T), "both ways");
    lab.down();
}
