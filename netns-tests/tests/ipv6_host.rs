//! The host side of IPv6: an instance launched with an IPv6 address holds it on `eth0`
//! with the IPv6 default route; addresses assigned and unassigned through the API reach
//! `eth0` (and an attached `eth1`); a restarted server takes away an address the model
//! no longer has; and the emulated internet answers check-ip over IPv6.

use std::time::Duration;

use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::{internet, require_root, run, wait_until};

const T: Duration = Duration::from_secs(15);
const EVERY: Duration = Duration::from_millis(100);

/// `ip <args>` inside namespace `ns`; its stdout (empty if it failed).
fn ip_in(ns: &str, args: &[&str]) -> String {
    let mut full = vec!["netns", "exec", ns, "ip"];
    full.extend_from_slice(args);
    String::from_utf8_lossy(&run("ip", &full).stdout).into_owned()
}

/// The IPv6 addresses (`address/prefix`) of `device` in `ns`.
fn addresses6(ns: &str, device: &str) -> Vec<String> {
    ip_in(ns, &["-o", "-6", "addr", "show", "dev", device])
        .lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet6").nth(1))
        .map(str::to_owned)
        .collect()
}

/// Waits until `device` in `ns` holds exactly `wanted` (in any order).
fn wait_for_addresses(ns: &str, device: &str, wanted: &[String]) {
    let mut wanted = wanted.to_vec();
    wanted.sort();
    wait_until(&format!("{device} of {ns} to hold {wanted:?}"), T, EVERY, || {
        let mut held = addresses6(ns, device);
        held.sort();
        (held == wanted).then_some(())
    });
}

fn default_route6(ns: &str) -> String {
    ip_in(ns, &["-6", "route", "show", "default"]).trim().to_owned()
}

/// UnassignIpv6Addresses of `address` (`address/64`) from `eni`.
fn unassign(api: &Api, eni: &str, address: &str) {
    let address = address.trim_end_matches("/64");
    let args = ["unassign-ipv6-addresses", "--network-interface-id", eni, "--ipv6-addresses"];
    api.ok(&[&args[..], &[address]].concat());
}

#[test]
#[ignore = "needs root"]
fn ipv6_addresses_reach_the_devices_and_the_internet_answers_over_ipv6() {
    require_root();
    let mut api = Api::start(true);
    let (vpc, block) = api.dual_stack_vpc("10.6.0.0/16");
    // The /56's first /64.
    let subnet_block = block.replace("/56", "/64");
    let subnet = api.text(
        &[
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.6.1.0/24",
            "--ipv6-cidr-block",
            &subnet_block,
        ],
        "Subnet.SubnetId",
    );
    let launched = api.text(
        &[
            "run-instances",
            "--image-id",
            "ami-1",
            "--subnet-id",
            &subnet,
            "--ipv6-address-count",
            "1",
        ],
        "Instances[0].[InstanceId, NetworkInterfaces[0].NetworkInterfaceId, \
         NetworkInterfaces[0].Ipv6Addresses[0].Ipv6Address]",
    );
    let [id, eni, first] = <[&str; 3]>::try_from(launched.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_else(|w| panic!("an instance, its interface and its address: {w:?}"));
    let first = format!("{first}/64");

    // eth0 holds the address with the subnet's prefix, and nothing else of IPv6: no
    // link-local address (addrgenmode none).
    wait_for_addresses(id, "eth0", std::slice::from_ref(&first));
    let route = default_route6(id);
    assert!(route.starts_with("default dev eth0 metric 1024"), "IPv6 default route: {route}");
    let connected = ip_in(id, &["-6", "route", "show", &subnet_block]);
    assert!(connected.contains("dev eth0"), "the subnet's /64 is on-link: {connected}");

    // Assigned, then the first unassigned: eth0 follows.
    let second = api.text(
        &["assign-ipv6-addresses", "--network-interface-id", eni, "--ipv6-address-count", "1"],
        "AssignedIpv6Addresses[0]",
    );
    let second = format!("{second}/64");
    wait_for_addresses(id, "eth0", &[first.clone(), second.clone()]);
    unassign(&api, eni, &first);
    wait_for_addresses(id, "eth0", std::slice::from_ref(&second));
    assert!(default_route6(id).starts_with("default dev eth0"), "the route stays");

    // An attached interface gets its addresses too, but no default route.
    let other = api.text(
        &["create-network-interface", "--subnet-id", &subnet, "--ipv6-address-count", "1"],
        "NetworkInterface.[NetworkInterfaceId, Ipv6Addresses[0].Ipv6Address]",
    );
    let [other, third] = <[&str; 2]>::try_from(other.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_else(|w| panic!("an interface and its address: {w:?}"));
    api.text(
        &[
            "attach-network-interface",
            "--network-interface-id",
            other,
            "--instance-id",
            id,
            "--device-index",
            "1",
        ],
        "AttachmentId",
    );
    wait_for_addresses(id, "eth1", &[format!("{third}/64")]);
    let route = default_route6(id);
    assert!(!route.contains("eth1"), "no default route through eth1: {route}");

    // An address the model no longer has, left on eth0 (as if unassigned while no
    // server ran): a restarted server finds it and takes it away, and keeps the rest.
    let net: ipnet::Ipv6Net = subnet_block.parse().expect("a /64");
    let stray = format!("{}/64", std::net::Ipv6Addr::from(u128::from(net.network()) | 0x99));
    let added = run(
        "ip",
        &["netns", "exec", id, "ip", "-6", "addr", "add", &stray, "dev", "eth0", "nodad"],
    );
    assert!(added.status.success(), "{stray}: {}", String::from_utf8_lossy(&added.stderr));
    api.restart();
    wait_for_addresses(id, "eth0", std::slice::from_ref(&second));

    // The last one unassigned: no IPv6 address, no IPv6 default route.
    unassign(&api, eni, &second);
    wait_for_addresses(id, "eth0", &[]);
    wait_until("the IPv6 default route to go", T, EVERY, || {
        default_route6(id).is_empty().then_some(())
    });

    // The emulated internet: its /48 (no link-local address), the Amazon pool behind the
    // forwarder, and check-ip answering over IPv6 with the caller's address.
    assert_eq!(addresses6(internet(), "eth0"), ["2001:db8:ffff::1/48"]);
    let pool = ip_in(internet(), &["-6", "route", "show", "2001:db8::/32"]);
    assert!(pool.contains("dev eth0"), "the Amazon pool's route: {pool}");
    let body = wait_until("check-ip over IPv6", T, Duration::from_millis(200), || {
        let out = run(
            "ip",
            &[
                "netns",
                "exec",
                internet(),
                "curl",
                "-6",
                "-s",
                "-m",
                "2",
                "http://[2001:db8:ffff::1]/",
            ],
        );
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert_eq!(body, "2001:db8:ffff::1\n");
}

/// One DNS query of type `qtype` (1: A, 28: AAAA) for `host`, from namespace `ns` to the
/// VPC's DNS server `server`, with Python's sockets: the answers' addresses, one per
/// line; "NXDOMAIN"; or "no data".
fn dns(ns: &str, server: &str, host: &str, qtype: u16) -> String {
    let program = format!(
        r#"
import socket, struct
q = struct.pack(">HHHHHH", 0x2b2b, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "{host}".split(".")) + b"\0"
q += struct.pack(">HH", {qtype}, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("{server}", 53))
r = s.recv(512)
if r[3] & 15 == 3:
    print("NXDOMAIN"); raise SystemExit
def skip(at):  # past a name: labels to the root, or a compression pointer
    while r[at] != 0 and r[at] & 0xC0 != 0xC0:
        at += 1 + r[at]
    return at + (1 if r[at] == 0 else 2)
count, at = struct.unpack(">H", r[6:8])[0], len(q)
if count == 0:
    print("no data")
for _ in range(count):
    at = skip(at)
    kind, _, _, size = struct.unpack(">HHIH", r[at:at + 10])
    data = r[at + 10:at + 10 + size]
    print(socket.inet_ntop(socket.AF_INET if kind == 1 else socket.AF_INET6, data))
    at += 10 + size
"#
    );
    let out = run("ip", &["netns", "exec", ns, "python3", "-c", &program]);
    match out.status.success() {
        true => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        false => format!("failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
    }
}

#[test]
#[ignore = "needs root"]
fn resource_names_answer_a_and_aaaa_records_as_each_instance_enables_them() {
    require_root();
    let api = Api::start(true);
    let (vpc, block) = api.dual_stack_vpc("10.7.0.0/16");
    let subnet = api.text(
        &[
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.7.1.0/24",
            "--ipv6-cidr-block",
            &block.replace("/56", "/64"),
        ],
        "Subnet.SubnetId",
    );
    // Instances launched here from now on: named by id, with both records.
    for option in [
        "--private-dns-hostname-type-on-launch=resource-name",
        "--enable-resource-name-dns-a-record-on-launch",
        "--enable-resource-name-dns-aaaa-record-on-launch",
    ] {
        api.ok(&["modify-subnet-attribute", "--subnet-id", &subnet, option]);
    }
    let launch = || {
        let args = ["run-instances", "--image-id", "ami-1", "--subnet-id", &subnet];
        let fields = "Instances[0].[InstanceId, PrivateDnsName, PrivateIpAddress, \
                      NetworkInterfaces[0].Ipv6Addresses[0].Ipv6Address]";
        let text = api.text(&[&args[..], &["--ipv6-address-count", "1"]].concat(), fields);
        let words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        <[String; 4]>::try_from(words).unwrap_or_else(|w| panic!("an instance: {w:?}"))
    };
    let [asker, ..] = launch();
    let [target, name, ipv4, ipv6] = launch();
    assert_eq!(name, format!("{target}.ec2.internal"));
    let ask = |qtype| {
        // The instance's namespace comes up with the call; its DNS answers once the
        // services have its data: poll until it does.
        let mut last = String::new();
        wait_until(&format!("{name} (type {qtype}) from {asker}"), T, EVERY, || {
            last = dns(&asker, "10.7.0.2", &name, qtype);
            (!last.is_empty()).then_some(())
        });
        last
    };
    assert_eq!(ask(1), ipv4);
    assert_eq!(ask(28), ipv6);

    let switch_off = |record: &str| {
        let flag = format!("--no-enable-resource-name-dns-{record}-record");
        api.ok(&["modify-private-dns-name-options", "--instance-id", &target, &flag]);
    };
    // Its AAAA record switched off: A still answers, AAAA is no data.
    switch_off("aaaa");
    assert_eq!(ask(28), "no data");
    assert_eq!(ask(1), ipv4);
    // Both off: the name does not exist; its IP name still answers.
    switch_off("a");
    assert_eq!(ask(1), "NXDOMAIN");
    let ip_name = format!("ip-{}.ec2.internal", ipv4.replace('.', "-"));
    assert_eq!(dns(&asker, "10.7.0.2", &ip_name, 1), ipv4);
}

#[test]
#[ignore = "needs root"]
fn an_ipv6_only_subnets_instances_and_interfaces_have_no_ipv4() {
    require_root();
    let api = Api::start(true);
    let (vpc, block) = api.dual_stack_vpc("10.8.0.0/16");
    // The /56's second /64 (the block is `…00::/56`).
    let only_block = block.replace("00::/56", "01::/64");
    let only = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--ipv6-native", "--ipv6-cidr-block", &only_block],
        "Subnet.SubnetId",
    );
    let launched = api.text(
        &["run-instances", "--image-id", "ami-1", "--subnet-id", &only],
        "Instances[0].[InstanceId, PrivateIpAddress, Ipv6Address]",
    );
    let [id, private, address] =
        <[&str; 3]>::try_from(launched.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|w| panic!("an instance, no IPv4 address, an IPv6 one: {w:?}"));
    assert_eq!(private, "None", "no private IPv4 address");

    // eth0: its IPv6 address and default route, no IPv4 address or route at all; names
    // resolved by Amazon DNS's IPv6 address.
    wait_for_addresses(id, "eth0", &[format!("{address}/64")]);
    assert!(default_route6(id).starts_with("default dev eth0"), "{}", default_route6(id));
    assert_eq!(ip_in(id, &["-4", "addr", "show", "dev", "eth0"]).trim(), "");
    assert_eq!(ip_in(id, &["-4", "route"]).trim(), "");
    let resolv = run("ip", &["netns", "exec", id, "cat", "/etc/resolv.conf"]);
    let resolv = String::from_utf8_lossy(&resolv.stdout);
    assert!(resolv.contains("nameserver fd00:ec2::253\n"), "{resolv}");

    // An interface of one's own in it, attached: an eth1 with only IPv6.
    let eni = api.text(
        &["create-network-interface", "--subnet-id", &only],
        "NetworkInterface.[NetworkInterfaceId, PrivateIpAddress, Ipv6Addresses[0].Ipv6Address]",
    );
    let [eni, private, second] = <[&str; 3]>::try_from(eni.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_else(|w| panic!("an interface, no IPv4 address, an IPv6 one: {w:?}"));
    assert_eq!(private, "None", "no private IPv4 address");
    let attach = [
        "attach-network-interface",
        "--network-interface-id",
        eni,
        "--instance-id",
        id,
        "--device-index",
        "1",
    ];
    api.text(&attach, "AttachmentId");
    wait_for_addresses(id, "eth1", &[format!("{second}/64")]);
    assert_eq!(ip_in(id, &["-4", "addr", "show", "dev", "eth1"]).trim(), "");
}
