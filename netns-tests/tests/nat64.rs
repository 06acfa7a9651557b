//! NAT64 and DNS64 on real packets, built with the real `aws` CLI: an instance whose
//! subnet routes `64:ff9b::/96` to a public NAT gateway reaches the IPv4 internet over
//! IPv6 — `curl -6` to check-ip by its `64:ff9b::` address and, with the subnet's
//! `EnableDns64`, by name; `ping -6`; TCP in bulk both ways (`iperf3`, whose segments
//! the kernel hands over as offloaded super-packets) — and is seen as the gateway's
//! Elastic IP. Without the route, nothing gets through.

use std::time::Duration;

use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::lab::Server;
use vpclab_netns_tests::{in_ns, internet, require_root, wait_until};

const T: Duration = Duration::from_secs(10);
/// The check-ip host, 198.51.100.1, as NAT64 reaches it.
const CHECK_IP64: &str = "64:ff9b::c633:6401";

/// What `url` answers `ns` over IPv6 (`curl -6`), if it answers within two seconds.
fn curl6(ns: &str, url: &str) -> Option<String> {
    let out = in_ns(ns, &["curl", "-6", "-s", "-m", "2", url]);
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
#[ignore = "needs root and the test Python environment"]
fn an_ipv6_instance_reaches_ipv4_hosts_through_nat64_and_dns64() {
    require_root();
    let api = Api::start(true);
    let (vpc, block) = api.dual_stack_vpc("10.0.0.0/16");
    // The VPC's /56 starts with the /64 the app subnet takes.
    let (network, _) = block.split_once('/').expect("a CIDR");
    let app_block = format!("{network}/64");
    let public = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.1.0/24"],
        "Subnet.SubnetId",
    );
    let app = api.text(
        &[
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.2.0/24",
            "--ipv6-cidr-block",
            &app_block,
        ],
        "Subnet.SubnetId",
    );
    let igw = api.text(&["create-internet-gateway"], "InternetGateway.InternetGatewayId");
    api.text(&["attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc], "@");
    let route_table = |subnet: &str| {
        let rtb = api.text(&["create-route-table", "--vpc-id", &vpc], "RouteTable.RouteTableId");
        api.text(
            &["associate-route-table", "--route-table-id", &rtb, "--subnet-id", subnet],
            "AssociationId",
        );
        rtb
    };
    let public_rtb = route_table(&public);
    api.text(
        &[
            "create-route",
            "--route-table-id",
            &public_rtb,
            "--destination-cidr-block",
            "0.0.0.0/0",
            "--gateway-id",
            &igw,
        ],
        "Return",
    );
    let (allocation, eip) = {
        let out = api.text(&["allocate-address", "--domain", "vpc"], "[AllocationId,PublicIp]");
        let mut parts = out.split_whitespace().map(str::to_owned);
        (parts.next().expect("an allocation"), parts.next().expect("an address"))
    };
    let nat = api.text(
        &["create-nat-gateway", "--subnet-id", &public, "--allocation-id", &allocation],
        "NatGateway.NatGatewayId",
    );
    wait_until("the NAT gateway to be available", T, Duration::from_millis(200), || {
        let state =
            api.text(&["describe-nat-gateways", "--nat-gateway-ids", &nat], "NatGateways[0].State");
        (state == "available").then_some(())
    });
    let app_rtb = route_table(&app);
    let nat64_route = |verb: &str| {
        let mut args = vec![
            verb,
            "--route-table-id",
            &app_rtb,
            "--destination-ipv6-cidr-block",
            "64:ff9b::/96",
        ];
        if verb == "create-route" {
            args.extend(["--nat-gateway-id", &nat]);
        }
        api.text(&args, "@");
    };
    nat64_route("create-route");
    let instance = api.text(
        &[
            "run-instances",
            "--image-id",
            "ami-12345678",
            "--count",
            "1",
            "--subnet-id",
            &app,
            "--ipv6-address-count",
            "1",
        ],
        "Instances[0].InstanceId",
    );

    // By the IPv4 host's 64:ff9b:: address: the host sees the gateway's Elastic IP.
    let url = format!("http://[{CHECK_IP64}]/");
    let seen = wait_until("check-ip through NAT64", T, Duration::from_millis(200), || {
        curl6(&instance, &url)
    });
    assert_eq!(seen, eip, "the IPv4 host sees the NAT gateway's Elastic IP");
    let ping = in_ns(&instance, &["ping", "-6", "-c", "1", "-W", "2", CHECK_IP64]);
    assert!(
        ping.status.success(),
        "ping -6 through NAT64: {}",
        String::from_utf8_lossy(&ping.stdout)
    );

    // By name: with DNS64 off, Amazon DNS has no AAAA record for an IPv4-only name, so an
    // IPv6-only client finds nothing; with it on, the synthesized 64:ff9b:: address.
    let by_name = "http://checkip.amazonaws.com/";
    assert_eq!(curl6(&instance, by_name), None, "no AAAA record without DNS64");
    api.text(&["modify-subnet-attribute", "--subnet-id", &app, "--enable-dns64"], "@");
    let seen = wait_until("check-ip by name through DNS64", T, Duration::from_millis(200), || {
        curl6(&instance, by_name)
    });
    assert_eq!(seen, eip, "DNS64 and NAT64 together");

    // TCP in bulk, both ways: the kernel hands the forwarder offloaded super-packets,
    // which cross the translation whole.
    let server = std::process::Command::new("ip")
        .args(["netns", "exec", internet(), "iperf3", "-s", "-B", "198.51.100.1", "-p", "5301"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start iperf3 on the internet");
    let _server = Server::new(server);
    for reverse in [false, true] {
        let mut args = vec!["iperf3", "-6", "-c", CHECK_IP64, "-p", "5301", "-t", "2", "-J"];
        if reverse {
            args.push("-R");
        }
        // iperf3 3.12 exits 0 with -J when it cannot connect (the server not listening
        // yet): its report's "error" says so, and the run is tried again.
        let received = wait_until("iperf3 through NAT64", T, Duration::from_millis(300), || {
            let out = in_ns(&instance, &args);
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            if !out.status.success() || report.get("error").is_some() {
                return None;
            }
            report["end"]["sum_received"]["bytes"].as_u64()
        });
        assert!(received > 1_000_000, "reverse {reverse}: {received} bytes arrived");
    }

    // Without the route, nothing reaches the IPv4 world over IPv6.
    nat64_route("delete-route");
    wait_until("the route's removal to apply", T, Duration::from_millis(200), || {
        curl6(&instance, &url).is_none().then_some(())
    });
}
