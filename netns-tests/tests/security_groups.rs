//! Security groups on real packets: a rule decides whether a connection is made.

use std::time::Duration;

use vpclab_netns_tests::lab::{Lab, curl_from_internet};
use vpclab_netns_tests::{require_root, run};

const TOPOLOGY: &str = r#"
vpcs:
  - name: sg
    cidr: 10.8.0.0/16
    internet_gateway: true
    route_tables:
      - name: main
        routes:
          - destination: 0.0.0.0/0
            target: internet-gateway
    subnets:
      - name: one
        cidr: 10.8.1.0/24
    security_groups:
      - name: web
        ingress:
          - protocol: tcp
            ports: 8080
            cidr: 0.0.0.0/0
      - name: quiet
        ingress:
          - protocol: tcp
            ports: 8080
            cidr: 0.0.0.0/0
        egress: []
      - name: app
      - name: db
        ingress:
          - protocol: tcp
            ports: 5432
            group: app
elastic_ips:
  - name: web-ip
  - name: quiet-ip
instances:
  - name: quiet
    subnet: one
    private_ip: 10.8.1.20
    elastic_ip: quiet-ip
    security_groups: [quiet]
  - name: web
    subnet: one
    private_ip: 10.8.1.10
    elastic_ip: web-ip
    security_groups: [web]
  - name: app
    subnet: one
    private_ip: 10.8.1.11
    security_groups: [app]
  - name: db
    subnet: one
    private_ip: 10.8.1.12
    security_groups: [db]
  - name: stranger
    subnet: one
    private_ip: 10.8.1.13
"#;

const T: Duration = Duration::from_secs(10);

#[test]
#[ignore = "needs root"]
fn rules_decide_and_replies_come_back() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let _web8080 = lab.serve("web", "10.8.1.10:8080");
    let _web9090 = lab.serve("web", "10.8.1.10:9090");
    let _db = lab.serve("db", "10.8.1.12:5432");

    // An ingress rule opens 8080 to the internet, and only 8080.
    assert_eq!(curl_from_internet("http://203.0.113.10:8080/"), "198.51.100.1\n");
    assert_eq!(curl_from_internet("http://203.0.113.10:9090/"), "");
    // No ICMP rule: no ping.
    let ping = run(
        "ip",
        &[
            "netns",
            "exec",
            vpclab_netns_tests::internet(),
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "203.0.113.10",
        ],
    );
    assert!(!ping.status.success(), "ping needs an ICMP rule");
    // Outbound is open and replies are tracked back in.
    assert_eq!(lab.curl("web", "http://198.51.100.1/", T).as_deref(), Some("203.0.113.10\n"));

    // A group reference admits its members only — inside one subnet too.
    assert_eq!(lab.curl("app", "http://10.8.1.12:5432/", T).as_deref(), Some("10.8.1.11\n"));
    let stranger = lab.exec("stranger", &["curl", "-s", "-m", "2", "http://10.8.1.12:5432/"]);
    assert!(!stranger.status.success(), "stranger is not in group app");
    // The default group admits its own members: stranger is in it, db is not.
    assert!(!lab.pings("stranger", "10.8.1.12", Duration::from_secs(2)));

    let status = lab.vpclab(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("sg_ingress"), "drops are counted: {text}");

    // No egress rules: replies to allowed inbound flows still leave; nothing else does.
    let _quiet = lab.serve("quiet", "10.8.1.20:8080");
    assert_eq!(curl_from_internet("http://203.0.113.11:8080/"), "198.51.100.1\n");
    let out = lab.exec("quiet", &["curl", "-s", "-m", "2", "http://198.51.100.1/"]);
    assert!(!out.status.success(), "quiet may not start connections");

    // A rule added through the API opens 9090 at once, with nothing restarted.
    let endpoint = lab.endpoint();
    let group = vpclab_netns_tests::api::aws(
        endpoint,
        &[
            "describe-security-groups",
            "--filters",
            "Name=group-name,Values=web",
            "--query",
            "SecurityGroups[0].GroupId",
            "--output",
            "text",
        ],
    );
    let group = String::from_utf8_lossy(&group.stdout).trim().to_owned();
    assert!(group.starts_with("sg-"), "{group}");
    let opened = vpclab_netns_tests::api::aws(
        endpoint,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &group,
            "--protocol",
            "tcp",
            "--port",
            "9090",
            "--cidr",
            "0.0.0.0/0",
        ],
    );
    assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
    let answer =
        vpclab_netns_tests::wait_until("9090 to open", T, Duration::from_millis(200), || {
            Some(curl_from_internet("http://203.0.113.10:9090/")).filter(|a| !a.is_empty())
        });
    assert_eq!(answer, "198.51.100.1\n");
    // And an ICMP rule makes web answer ping.
    let icmp = vpclab_netns_tests::api::aws(
        endpoint,
        &[
            "authorize-security-group-ingress",
            "--group-id",
            &group,
            "--ip-permissions",
            "IpProtocol=icmp,FromPort=8,ToPort=-1,IpRanges=[{CidrIp=0.0.0.0/0}]",
        ],
    );
    assert!(icmp.status.success(), "{}", String::from_utf8_lossy(&icmp.stderr));
    let pinged = (0..10).any(|_| {
        run(
            "ip",
            &[
                "netns",
                "exec",
                vpclab_netns_tests::internet(),
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "203.0.113.10",
            ],
        )
        .status
        .success()
    });
    assert!(pinged, "ping with an ICMP rule");
    lab.down();
}
