//! VPC peering with real packets: the seed's Part 6.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = include_str!("../../examples/peering.yaml");
const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(3);

#[test]
#[ignore = "needs root"]
fn peers_reach_each_other_but_nothing_transits() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert!(lab.pings("a", "10.2.1.10", T), "A -> B");
    assert!(lab.pings("b", "10.1.1.10", T), "B -> A");
    assert!(lab.pings("b", "10.3.1.10", T), "B -> C");
    assert!(!lab.pings("a", "10.3.1.10", NEGATIVE), "A -> C through B: no transitive peering");
    assert!(!lab.pings("c", "10.1.1.10", NEGATIVE), "C -> A through B: no transitive peering");
    assert!(lab.curl("a", "http://198.51.100.1/", T).is_some(), "A has its own internet");
    assert_eq!(lab.curl("b", "http://198.51.100.1/", NEGATIVE), None, "B may not use A's gateway");
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("peering_transit"));

    // Through the API: overlapping CIDRs fail, and a pending peering routes nothing.
    let aws = |args: &[&str]| lab.aws(args);
    let vpc_a = aws(&[
        "describe-vpcs",
        "--filters",
        "Name=tag:Name,Values=A",
        "--query",
        "Vpcs[0].VpcId",
        "--output",
        "text",
    ]);
    let twin = aws(&[
        "create-vpc",
        "--cidr-block",
        "10.1.0.0/16",
        "--query",
        "Vpc.VpcId",
        "--output",
        "text",
    ]);
    let status = aws(&[
        "create-vpc-peering-connection",
        "--vpc-id",
        &vpc_a,
        "--peer-vpc-id",
        &twin,
        "--query",
        "VpcPeeringConnection.Status.Code",
        "--output",
        "text",
    ]);
    assert_eq!(status, "failed", "overlapping CIDRs");

    // A–C peered directly: nothing while pending, nothing until both sides route to it.
    let vpc = |name: &str| {
        aws(&[
            "describe-vpcs",
            "--filters",
            &format!("Name=tag:Name,Values={name}"),
            "--query",
            "Vpcs[0].VpcId",
            "--output",
            "text",
        ])
    };
    let main_table = |vpc: &str| {
        aws(&[
            "describe-route-tables",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
            "Name=association.main,Values=true",
            "--query",
            "RouteTables[0].RouteTableId",
            "--output",
            "text",
        ])
    };
    let vpc_c = vpc("C");
    let (table_a, table_c) = (main_table(&vpc_a), main_table(&vpc_c));
    let created = aws(&[
        "create-vpc-peering-connection",
        "--vpc-id",
        &vpc_a,
        "--peer-vpc-id",
        &vpc_c,
        "--peer-owner-id",
        "123456789012",
        "--peer-region",
        "us-east-1",
        "--query",
        "VpcPeeringConnection.[VpcPeeringConnectionId,Status.Code,AccepterVpcInfo.Region]",
        "--output",
        "text",
    ]);
    let fields: Vec<&str> = created.split_whitespace().collect();
    assert_eq!(fields[1..], ["pending-acceptance", "us-east-1"], "{created}");
    let a_c = fields[0];
    let route = |table: &str, cidr: &str| {
        aws(&[
            "replace-route",
            "--route-table-id",
            table,
            "--destination-cidr-block",
            cidr,
            "--vpc-peering-connection-id",
            a_c,
        ]);
    };
    route(&table_a, "10.3.0.0/16");
    assert!(!lab.pings("a", "10.3.1.10", NEGATIVE), "pending: the route is a blackhole");
    aws(&["accept-vpc-peering-connection", "--vpc-peering-connection-id", a_c]);
    assert!(!lab.pings("a", "10.3.1.10", NEGATIVE), "C's way back still goes to B");
    route(&table_c, "10.1.0.0/16");
    assert!(lab.pings("a", "10.3.1.10", T), "A -> C once both sides route to a-c");
    assert!(lab.pings("c", "10.1.1.10", T), "C -> A");
    lab.down();
}
