//! Network ACLs on real packets: numbered, stateless, at subnet edges only.

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = r#"
vpcs:
  - name: acl
    cidr: 10.9.0.0/16
    subnets:
      - name: clients
        cidr: 10.9.1.0/24
      - name: ordered
        cidr: 10.9.2.0/24
      - name: closed
        cidr: 10.9.3.0/24
      - name: no-ephemeral
        cidr: 10.9.4.0/24
    security_groups:
      - name: open
        ingress:
          - protocol: all
            cidr: 10.9.0.0/16
    network_acls:
      - name: ordered
        subnets: [ordered]
        entries:
          - { rule: 90, direction: inbound, protocol: tcp, ports: 8080, cidr: 10.9.1.10/32, action: deny }
          - { rule: 100, direction: inbound, protocol: tcp, ports: 8080, cidr: 10.9.0.0/16, action: allow }
          - { rule: 110, direction: inbound, protocol: tcp, ports: 8080, cidr: 10.9.1.11/32, action: deny }
          - { rule: 100, direction: outbound, protocol: all, cidr: 0.0.0.0/0, action: allow }
      - name: closed
        subnets: [closed]
      - name: no-ephemeral
        subnets: [no-ephemeral]
        entries:
          - { rule: 100, direction: inbound, protocol: tcp, ports: 8080, cidr: 0.0.0.0/0, action: allow }
          - { rule: 100, direction: outbound, protocol: tcp, ports: "0-1023", cidr: 0.0.0.0/0, action: allow }
      - name: clients
        subnets: [clients]
        entries:
          - { rule: 100, direction: inbound, protocol: all, cidr: 10.9.2.0/24, action: allow }
          - { rule: 110, direction: inbound, protocol: all, cidr: 10.9.4.0/24, action: allow }
          - { rule: 100, direction: outbound, protocol: all, cidr: 10.9.2.0/24, action: allow }
          - { rule: 110, direction: outbound, protocol: all, cidr: 10.9.3.0/24, action: allow }
          - { rule: 120, direction: outbound, protocol: all, cidr: 10.9.4.0/24, action: allow }
instances:
  - { name: x, subnet: clients, private_ip: 10.9.1.10, security_groups: [open] }
  - { name: y, subnet: clients, private_ip: 10.9.1.11, security_groups: [open] }
  - { name: z, subnet: clients, private_ip: 10.9.1.12, security_groups: [open] }
  - { name: b, subnet: ordered, private_ip: 10.9.2.10, security_groups: [open] }
  - { name: c, subnet: closed, private_ip: 10.9.3.10, security_groups: [open] }
  - { name: d, subnet: no-ephemeral, private_ip: 10.9.4.10, security_groups: [open] }
"#;

fn reaches(lab: &Lab, from: &str, url: &str) -> bool {
    lab.curl(from, url, std::time::Duration::from_secs(2)).is_some()
}

#[test]
#[ignore = "needs root"]
fn numbered_rules_stateless_replies_and_subnet_edges() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let _b = lab.serve("b", "10.9.2.10:8080");
    let _c = lab.serve("c", "10.9.3.10:8080");
    let _d = lab.serve("d", "10.9.4.10:8080");
    let _z = lab.serve("z", "10.9.1.12:8080");

    // Rule 100 allows y before rule 110 could deny it; rule 90 denies x before 100.
    assert!(reaches(&lab, "y", "http://10.9.2.10:8080/"), "allow 100 comes before deny 110");
    assert!(!reaches(&lab, "x", "http://10.9.2.10:8080/"), "deny 90 comes before allow 100");
    // A custom ACL with no rules blocks both ways.
    assert!(!reaches(&lab, "x", "http://10.9.3.10:8080/"));
    assert!(!lab.pings("c", "10.9.1.10", std::time::Duration::from_secs(2)));
    // Stateless: without the ephemeral ports outbound, the server's replies never leave.
    assert!(!reaches(&lab, "x", "http://10.9.4.10:8080/"));
    // Inside a subnet the ACL does not apply (clients' ACL allows nothing from 10.9.1.0/24).
    assert!(reaches(&lab, "x", "http://10.9.1.12:8080/"));

    let status = lab.vpclab(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("nacl_in") && text.contains("nacl_out"), "drops are counted: {text}");
    lab.down();
}
