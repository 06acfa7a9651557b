//! Flow logs from real traffic: an accepted curl and one the security group rejects,
//! in AWS's version-2 format, on the instance's interface, with its private address.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");

/// The fields of one record line (after the flow log id `vpclab flows` puts first).
struct Record<'a> {
    fields: Vec<&'a str>,
}

impl Record<'_> {
    fn get(&self, name: &str) -> &str {
        let names = [
            "version",
            "account-id",
            "interface-id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "action",
            "log-status",
        ];
        let at = names.iter().position(|n| *n == name).expect("a v2 field");
        self.fields[at]
    }
}

#[test]
#[ignore = "needs root"]
fn accepted_and_rejected_flows_are_recorded_on_the_interface() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let aws = |args: &[&str]| lab.aws(args);
    let eni = aws(&[
        "describe-instances",
        "--filters",
        "Name=tag:Name,Values=web",
        "--query",
        "Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId",
        "--output",
        "text",
    ]);
    let created = aws(&[
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
        "arn:aws:s3:::lab-bucket/flows",
        "--max-aggregation-interval",
        "60",
        "--query",
        "FlowLogIds[0]",
        "--output",
        "text",
    ]);
    assert!(created.starts_with("fl-"), "{created}");

    // Accepted: web fetches from the internet. Rejected: the internet tries web's port 22.
    assert!(lab.curl("web", "http://198.51.100.1/", Duration::from_secs(6)).is_some());
    let out = vpclab_netns_tests::run(
        "ip",
        &[
            "netns",
            "exec",
            vpclab_netns_tests::internet(),
            "curl",
            "-s",
            "-m",
            "2",
            "http://203.0.113.10:22/",
        ],
    );
    assert!(!out.status.success(), "port 22 is closed by web's security group");

    let out = lab.vpclab(&["flows"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let records: Vec<Record> = text
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split(' ').collect();
            assert_eq!(fields.remove(0), created, "{l}");
            assert_eq!(fields.len(), 14, "{l}");
            Record { fields }
        })
        .collect();
    let find = |action: &str, dport: &str| {
        records
            .iter()
            .find(|r| r.get("action") == action && r.get("dstport") == dport)
            .unwrap_or_else(|| panic!("no {action} record to port {dport}:\n{text}"))
    };
    let accepted = find("ACCEPT", "80");
    assert_eq!(accepted.get("srcaddr"), "10.0.1.10", "the private address, not the public one");
    assert_eq!(accepted.get("dstaddr"), "198.51.100.1");
    let rejected = find("REJECT", "22");
    assert_eq!(rejected.get("srcaddr"), "198.51.100.1");
    assert_eq!(rejected.get("dstaddr"), "10.0.1.10", "after the gateway's translation");
    for r in [accepted, rejected] {
        assert_eq!(
            (r.get("version"), r.get("account-id"), r.get("interface-id")),
            ("2", "123456789012", eni.as_str())
        );
        assert_eq!((r.get("protocol"), r.get("log-status")), ("6", "OK"));
        assert!(r.get("packets").parse::<u64>().unwrap() >= 1);
        assert!(r.get("start") <= r.get("end"));
    }
    lab.down();
}
