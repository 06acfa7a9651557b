//! A transit gateway with real packets: hub and spoke, segmented route tables, a
//! blackhole, the 8500-byte MTU, and the hub changed through the API while packets flow.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

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
