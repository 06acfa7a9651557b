//! Middleboxes with real packets: a NAT instance masquerading with iptables, and an
//! inspection VPC whose firewall instance (nftables) sits between two spokes of a
//! transit gateway in appliance mode — and the source/destination check that keeps
//! both from working until it is turned off.

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
