//! IPv6 on real packets, in a dual-stack VPC built with the real `aws` CLI: `ping -6`
//! between subnets, `curl -6` to the internet's check-ip through the internet gateway
//! (no translation: the instance is seen by its own address) and through the
//! egress-only gateway; Amazon DNS and the metadata service at their IPv6 addresses;
//! and what must fail: the internet opening a connection through the egress-only
//! gateway, a subnet without an IPv6 route, a group without `::/0` egress, the internet
//! reaching an instance its group does not admit, metadata over IPv6 not enabled.

use std::net::Ipv6Addr;
use std::time::Duration;

use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::{in_ns, internet, require_root, wait_until};

const T: Duration = Duration::from_secs(10);
const CHECK_IP6: &str = "2001:db8:ffff::1";

/// What check-ip answers `ns` over IPv6, once it answers (within the deadline).
fn check_ip6(ns: &str) -> String {
    wait_until("check-ip over IPv6", T, Duration::from_millis(200), || {
        let url = format!("http://[{CHECK_IP6}]/");
        let out = in_ns(ns, &["curl", "-6", "-s", "-m", "2", &url]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    })
}

/// Whether `ns` gets an answer from `to` over IPv6 within two seconds (`curl` to port
/// 80 of check-ip, or one `ping -6`).
fn reaches(ns: &str, to: &str) -> bool {
    if to == CHECK_IP6 {
        let url = format!("http://[{CHECK_IP6}]/");
        return in_ns(ns, &["curl", "-6", "-s", "-m", "2", &url]).status.success();
    }
    in_ns(ns, &["ping", "-6", "-c", "1", "-W", "2", to]).status.success()
}

/// The first A record Amazon DNS gives `ns` for `name`, asked over IPv6 at
/// `[fd00:ec2::253]:53` (a query in Python's standard library: no DNS tools needed).
fn dns6(ns: &str, name: &str) -> String {
    let script = format!(
        "import socket,struct\n\
         q=struct.pack('>HHHHHH',0x1234,0x0100,1,0,0,0)\n\
         q+=b''.join(bytes([len(p)])+p.encode() for p in '{name}'.split('.'))+b'\\0'\n\
         q+=struct.pack('>HH',1,1)\n\
         s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n\
         s.settimeout(2)\n\
         s.sendto(q,('fd00:ec2::253',53))\n\
         r=s.recv(512)\n\
         print('.'.join(str(b) for b in r[-4:]))\n"
    );
    wait_until("Amazon DNS over IPv6", T, Duration::from_millis(200), || {
        let out = in_ns(ns, &["python3", "-c", &script]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    })
}

/// The `index`th /64 of the VPC's /56.
fn subnet_block(vpc_block: &str, index: u8) -> String {
    let (address, _) = vpc_block.split_once('/').expect("a CIDR");
    let network: Ipv6Addr = address.parse().expect("an IPv6 address");
    format!("{}/64", Ipv6Addr::from(u128::from(network) | u128::from(index) << 64))
}

#[test]
#[ignore = "needs root and the test Python environment"]
fn dual_stack_subnets_reach_each_other_and_the_internet_as_their_gateways_allow() {
    require_root();
    let api = Api::start(true);
    let (vpc, block) = api.dual_stack_vpc("10.0.0.0/16");
    let subnet = |n: u8| {
        let cidr = format!("10.0.{n}.0/24");
        api.text(
            &[
                "create-subnet",
                "--vpc-id",
                &vpc,
                "--cidr-block",
                &cidr,
                "--ipv6-cidr-block",
                &subnet_block(&block, n),
            ],
            "Subnet.SubnetId",
        )
    };
    let (public, private, isolated) = (subnet(1), subnet(2), subnet(3));
    let table_with_default = |subnet: &str, target: Option<(&str, &str)>| {
        let rtb = api.text(&["create-route-table", "--vpc-id", &vpc], "RouteTable.RouteTableId");
        if let Some((kind, id)) = target {
            api.text(
                &[
                    "create-route",
                    "--route-table-id",
                    &rtb,
                    "--destination-ipv6-cidr-block",
                    "::/0",
                    kind,
                    id,
                ],
                "Return",
            );
        }
        api.text(
            &["associate-route-table", "--route-table-id", &rtb, "--subnet-id", subnet],
            "AssociationId",
        );
    };
    let igw = api.text(&["create-internet-gateway"], "InternetGateway.InternetGatewayId");
    api.text(&["attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc], "@");
    let eigw = api.text(
        &["create-egress-only-internet-gateway", "--vpc-id", &vpc],
        "EgressOnlyInternetGateway.EgressOnlyInternetGatewayId",
    );
    table_with_default(&public, Some(("--gateway-id", &igw)));
    table_with_default(&private, Some(("--egress-only-internet-gateway-id", &eigw)));
    table_with_default(&isolated, None);

    let launch = |subnet: &str| {
        let out = api.text(
            &[
                "run-instances",
                "--image-id",
                "ami-12345678",
                "--count",
                "1",
                "--subnet-id",
                subnet,
                "--ipv6-address-count",
                "1",
            ],
            "Instances[0].[InstanceId,Ipv6Address]",
        );
        let mut parts = out.split_whitespace().map(str::to_owned);
        (parts.next().expect("an id"), parts.next().expect("an IPv6 address"))
    };
    let (web, web6) = launch(&public);
    let (app, app6) = launch(&private);
    let (vault, _) = launch(&isolated);

    // Inside the VPC, by the local route (the default group admits its members).
    wait_until("web to reach app over IPv6", T, Duration::from_millis(200), || {
        reaches(&web, &app6).then_some(())
    });
    assert!(reaches(&app, &web6), "app -> web");

    // Out through the internet gateway and the egress-only one: seen by their own
    // addresses, untranslated.
    assert_eq!(check_ip6(&web), web6, "web is seen by its own IPv6 address");
    assert_eq!(check_ip6(&app), app6, "app goes out through the egress-only gateway");
    assert!(!reaches(&vault, CHECK_IP6), "no IPv6 route, no internet");

    // The VPC's own services at their IPv6 addresses: Amazon DNS always, the metadata
    // service once the instance enables it (`HttpProtocolIpv6`).
    assert_eq!(dns6(&app, "checkip.amazonaws.com"), "198.51.100.1", "Amazon DNS over IPv6");
    let metadata = || {
        let url = "http://[fd00:ec2::254]/latest/meta-data/ipv6";
        let out = in_ns(&web, &["curl", "-6", "-s", "-m", "2", url]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    assert_eq!(metadata(), None, "HttpProtocolIpv6 is disabled by default");
    api.text(
        &[
            "modify-instance-metadata-options",
            "--instance-id",
            &web,
            "--http-protocol-ipv6",
            "enabled",
        ],
        "InstanceMetadataOptions.HttpProtocolIpv6",
    );
    let answer =
        wait_until("the metadata service over IPv6", T, Duration::from_millis(200), metadata);
    assert_eq!(answer, web6, "meta-data/ipv6 is the instance's address");

    // From the internet: nothing the groups do not admit; with ICMPv6 admitted, web
    // answers, while app, behind the egress-only gateway, still cannot be reached.
    assert!(!reaches(internet(), &web6), "the default group admits nothing from outside");
    let group = api.text(
        &["describe-security-groups", "--filters", &format!("Name=vpc-id,Values={vpc}")],
        "SecurityGroups[?GroupName=='default'].GroupId | [0]",
    );
    api.text(
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &group,
            "--ip-permissions",
            "IpProtocol=icmpv6,FromPort=-1,ToPort=-1,Ipv6Ranges=[{CidrIpv6=::/0}]",
        ],
        "Return",
    );
    wait_until("the internet to reach web", T, Duration::from_millis(200), || {
        reaches(internet(), &web6).then_some(())
    });
    // With the internet gateway attached, the internet may start flows to any IPv6
    // address of the VPC (a subnet's routes decide only what leaves it). Without it, the
    // egress-only gateway still carries app's flows out and their answers back, and
    // lets nothing in unasked, whatever the groups admit.
    assert!(reaches(internet(), &app6), "in through the attached internet gateway");
    api.text(&["detach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc], "@");
    wait_until("the internet gateway to be gone", T, Duration::from_millis(200), || {
        (!reaches(internet(), &app6)).then_some(())
    });
    assert_eq!(check_ip6(&app), app6, "app still goes out through the egress-only gateway");
    assert!(!reaches(internet(), &app6), "the egress-only gateway lets nothing in unasked");
    api.text(&["attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc], "@");
    assert_eq!(check_ip6(&web), web6, "web's route leads out again");

    // Without the group's ::/0 egress rule, nothing new leaves over IPv6.
    api.text(
        &[
            "revoke-security-group-egress",
            "--group-id",
            &group,
            "--ip-permissions",
            "IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]",
        ],
        "Return",
    );
    wait_until("the egress rule's removal to apply", T, Duration::from_millis(200), || {
        (!reaches(&web, CHECK_IP6)).then_some(())
    });
    assert!(!reaches(&app, CHECK_IP6), "app neither");
}
