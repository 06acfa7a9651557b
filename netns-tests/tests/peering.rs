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
    let endpoint = "http://127.0.0.1:4566";
    let aws = |args: &[&str]| {
        let out = vpclab_netns_tests::api::aws(endpoint, args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
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
    lab.down();
}
