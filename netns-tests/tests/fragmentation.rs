//! The 1500-byte internet edge with real packets: a datagram larger than the edge and
//! without DF is fragmented by the forwarder and arrives whole (the receiver
//! reassembles it); with DF, the sender learns the edge's MTU instead.

use std::process::{Command, Stdio};
use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{require_root, run, wait_until};

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");

#[test]
#[ignore = "needs root"]
fn an_oversize_datagram_is_fragmented_at_the_edge_and_arrives_whole() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    // A UDP listener on the internet's check-ip host: prints the size of what arrives.
    let listener = Command::new("ip")
        .args(["netns", "exec", vpclab_netns_tests::internet(), "python3", "-c"])
        .arg(
            "import socket\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('198.51.100.1', 9999)); s.settimeout(20)\n\
             print(len(s.recv(65535)), flush=True)",
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("listener");
    wait_until("the listener", Duration::from_secs(10), Duration::from_millis(100), || {
        let out = run("ip", &["netns", "exec", vpclab_netns_tests::internet(), "ss", "-lun"]);
        String::from_utf8_lossy(&out.stdout).contains("198.51.100.1:9999").then_some(())
    });
    let reassembled = || {
        let out =
            run("ip", &["netns", "exec", vpclab_netns_tests::internet(), "cat", "/proc/net/snmp"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut ip = text.lines().filter(|l| l.starts_with("Ip:"));
        let (names, values) = (ip.next().unwrap_or_default(), ip.next().unwrap_or_default());
        let at = names.split_whitespace().position(|n| n == "ReasmOKs").expect("ReasmOKs");
        values.split_whitespace().nth(at).and_then(|v| v.parse::<u64>().ok()).expect("a count")
    };
    let before = reassembled();
    // 3,000 bytes from web with DF off (IP_PMTUDISC_DONT), well over the edge.
    let send = "import socket\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.setsockopt(socket.IPPROTO_IP, 10, 0)\n\
        s.sendto(b'x' * 3000, ('198.51.100.1', 9999))";
    assert!(lab.exec("web", &["python3", "-c", send]).status.success());
    let out = listener.wait_with_output().expect("the listener ends");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3000", "arrived whole");
    assert_eq!(reassembled() - before, 1, "from fragments: the forwarder cut it");

    // With DF, no fragments: the sender is told the edge's MTU (ping reports an error).
    let df =
        lab.exec("web", &["ping", "-c", "1", "-W", "2", "-M", "do", "-s", "3000", "198.51.100.1"]);
    assert!(!df.status.success());
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("too_big 1"), "one DF packet refused");
    lab.down();
}

/// A public instance with an open UDP port and ping, and a private one behind a NAT
/// gateway.
const INBOUND: &str = r#"
vpcs:
  - name: frag
    cidr: 10.0.0.0/16
    internet_gateway: true
    subnets:
      - name: public
        cidr: 10.0.1.0/24
        route_table: public
      - name: private
        cidr: 10.0.2.0/24
        route_table: private
    nat_gateways:
      - name: nat
        subnet: public
        elastic_ip: nat-ip
    route_tables:
      - name: public
        routes:
          - destination: 0.0.0.0/0
            target: internet-gateway
      - name: private
        routes:
          - destination: 0.0.0.0/0
            target: nat
    security_groups:
      - name: open
        ingress:
          - protocol: udp
            ports: 5000
            cidr: 0.0.0.0/0
          - protocol: icmp
            ports: 8
            cidr: 0.0.0.0/0
elastic_ips:
  - name: web-ip
  - name: nat-ip
instances:
  - name: web
    subnet: public
    private_ip: 10.0.1.10
    elastic_ip: web-ip
    security_groups: [default, open]
  - name: app
    subnet: private
    private_ip: 10.0.2.10
"#;

/// Bytes the internet's answers carry: two fragments at the 1500-byte edge.
const BIG: usize = 3000;

/// A process killed when dropped (also when the test fails).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Python program, in the namespace `netns`, that answers every datagram to `addr`
/// with `BIG` bytes, for `seconds` at most.
fn big_answers(netns: &str, addr: (&str, u16), seconds: u32) -> Killed {
    let program = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('{}', {})); s.settimeout(1)\n\
         end = time.time() + {seconds}\n\
         while time.time() < end:\n\
         \x20   try: data, peer = s.recvfrom(2048)\n\
         \x20   except socket.timeout: continue\n\
         \x20   s.sendto(b'a' * {BIG}, peer)\n",
        addr.0, addr.1
    );
    Killed(
        Command::new("ip")
            .args(["netns", "exec", netns, "python3", "-c", &program])
            .spawn()
            .expect("the answering server"),
    )
}

/// Asks `addr` from instance `name` a few times; the size of the first answer.
fn ask(lab: &Lab, name: &str, addr: &str) -> String {
    let program = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)\n\
         size = 'none'\n\
         for _ in range(8):\n\
         \x20   s.sendto(b'?', ('{}', {}))\n\
         \x20   try: size = len(s.recv(65535)); break\n\
         \x20   except socket.timeout: pass\n\
         print(size)",
        addr.split(':').next().unwrap_or_default(),
        addr.split(':').nth(1).unwrap_or_default()
    );
    let out = lab.exec(name, &["python3", "-c", &program]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// From the internet, sends `BIG`-byte datagrams to `addr` while instance `name` listens
/// on `port`; the size of what it received, or `none`.
fn unsolicited(lab: &Lab, name: &str, port: u16, addr: &str) -> String {
    let listen = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('0.0.0.0', {port})); s.settimeout(6)\n\
         try: print(len(s.recv(65535)))\n\
         except socket.timeout: print('none')",
    );
    let listener = Command::new("ip")
        .args(["netns", "exec", lab.id(name), "python3", "-c", &listen])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the listener");
    wait_until("the listener", Duration::from_secs(10), Duration::from_millis(100), || {
        let out = lab.exec(name, &["ss", "-lun"]);
        String::from_utf8_lossy(&out.stdout).contains(&format!(":{port}")).then_some(())
    });
    let send = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for _ in range(5):\n\
         \x20   s.sendto(b'u' * {BIG}, ('{}', {})); time.sleep(0.5)",
        addr.split(':').next().unwrap_or_default(),
        addr.split(':').nth(1).unwrap_or_default()
    );
    run("ip", &["netns", "exec", vpclab_netns_tests::internet(), "python3", "-c", &send]);
    let out = listener.wait_with_output().expect("the listener ends");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
#[ignore = "needs root"]
fn fragments_get_in_by_tracking_or_by_rule_as_their_first() {
    require_root();
    let lab = Lab::up(INBOUND);
    let _server = big_answers(vpclab_netns_tests::internet(), ("198.51.100.1", 9998), 60);
    wait_until("the server", Duration::from_secs(10), Duration::from_millis(100), || {
        let out = run("ip", &["netns", "exec", vpclab_netns_tests::internet(), "ss", "-lun"]);
        String::from_utf8_lossy(&out.stdout).contains("198.51.100.1:9998").then_some(())
    });
    // A small request, a fragmented answer, admitted by tracking alone: through the
    // internet gateway, and through the NAT gateway.
    assert_eq!(ask(&lab, "web", "198.51.100.1:9998"), BIG.to_string(), "through the IGW");
    assert_eq!(ask(&lab, "app", "198.51.100.1:9998"), BIG.to_string(), "through the NAT");
    // Unsolicited and fragmented: in only where a rule opens the port.
    assert_eq!(unsolicited(&lab, "web", 5000, "203.0.113.10:5000"), BIG.to_string());
    assert_eq!(unsolicited(&lab, "web", 5001, "203.0.113.10:5001"), "none");
    // Pings of 3,000 bytes both ways (fragmented on the internet's side of the edge;
    // on the way out, by the forwarder or by web after it learns the edge's MTU).
    let pings = |netns: &str, to: &str| {
        let every = Duration::from_millis(100);
        wait_until(&format!("ping -s 3000 {to}"), Duration::from_secs(15), every, || {
            let out = run(
                "ip",
                &["netns", "exec", netns, "ping", "-c", "1", "-W", "2", "-s", "3000", to],
            );
            out.status.success().then_some(())
        })
    };
    pings(lab.id("web"), "198.51.100.1");
    pings(vpclab_netns_tests::internet(), "203.0.113.10");
    let status = lab.vpclab(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains("fragment_untracked"), "{text}");
    lab.down();
}
