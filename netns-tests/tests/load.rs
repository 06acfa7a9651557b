//! Load on the connection tracker: many short connections between two instances, every
//! one tracked by both instances' security groups, none refused.

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = r#"
vpcs:
  - name: load
    cidr: 10.9.0.0/16
    subnets:
      - name: front
        cidr: 10.9.1.0/24
      - name: back
        cidr: 10.9.2.0/24
    security_groups:
      - name: client
      - name: server
        ingress:
          - protocol: tcp
            ports: 80
            cidr: 10.9.0.0/16
instances:
  - name: client
    subnet: front
    private_ip: 10.9.1.10
    security_groups: [client]
  - name: server
    subnet: back
    private_ip: 10.9.2.10
    security_groups: [server]
"#;

/// Connections made; AWS-like tracking holds each at both ends, and a closed connection
/// drains in 10 s, so this is several times what the table holds if closed connections
/// stayed tracked (the old tracker refused new flows after about 40,000).
const CONNECTIONS: u64 = 200_000;

fn counters(lab: &Lab) -> serde_json::Value {
    let out = lab.vpclab(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    status["daemon"]["counters"].clone()
}

fn dropped(counters: &serde_json::Value, reason: &str) -> u64 {
    counters["drops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d[0] == reason)
        .and_then(|d| d[1].as_u64())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs root"]
fn two_hundred_thousand_short_connections_are_all_tracked_and_none_refused() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let _server = lab.serve("server", "10.9.2.10:80");
    let client = env!("CARGO_BIN_EXE_conns");
    let out = lab.exec("client", &[client, "10.9.2.10:80", &CONNECTIONS.to_string(), "4", "600"]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{report}");
    assert!(report.starts_with(&format!("ok {CONNECTIONS} failed 0 ")), "{report}");

    let c = counters(&lab);
    assert_eq!(dropped(&c, "conntrack_allowance_exceeded"), 0, "{c}");
    assert_eq!(dropped(&c, "sg_ingress"), 0, "{c}");
    // Each connection was tracked at both interfaces (the counters are published each
    // time a worker wakes; the last connections may not be in yet).
    let created = c["tracked_created"].as_u64().unwrap_or(0);
    assert!(created >= 2 * CONNECTIONS * 9 / 10, "tracked {created}: {c}");
    lab.down();
}
