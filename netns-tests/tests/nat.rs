//! The NAT gateway with real packets: the seed's Part 5.

use std::time::Duration;

use vpclab_netns_tests::lab::{Lab, curl_from_internet};
use vpclab_netns_tests::{require_root, run};

const TOPOLOGY: &str = include_str!("../../examples/nat-gateway.yaml");
const T: Duration = Duration::from_secs(10);
/// The NAT gateway's Elastic IP: the first address handed out.
const NAT_IP: &str = "203.0.113.10";

/// Runs a Python program inside instance `name`; its stdout.
fn python(lab: &Lab, name: &str, program: &str) -> String {
    let out = lab.exec(name, &["python3", "-c", program]);
    assert!(out.status.success(), "python in {name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root"]
fn a_private_instance_reaches_the_internet_as_the_nat_gateway() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert_eq!(
        lab.curl("app", "http://198.51.100.1/", T).as_deref(),
        Some(&*format!("{NAT_IP}\n"))
    );
    assert!(lab.pings("app", "198.51.100.1", T), "ping through the NAT");
    // The bastion, with its own Elastic IP, is seen by that one instead.
    assert_eq!(lab.curl("bastion", "http://198.51.100.1/", T).as_deref(), Some("203.0.113.11\n"));
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn many_connections_through_the_nat_all_translate() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert!(lab.curl("app", "http://198.51.100.1/", T).is_some(), "the path works");
    let report = python(
        &lab,
        "app",
        r#"
import concurrent.futures, urllib.request
def get(_):
    with urllib.request.urlopen("http://198.51.100.1/", timeout=5) as r:
        return r.read().decode()
with concurrent.futures.ThreadPoolExecutor(20) as pool:
    parallel = list(pool.map(get, range(20)))
sequential = [get(i) for i in range(1000)]
answers = set(parallel + sequential)
print(len(parallel), len(sequential), ",".join(sorted(a.strip() for a in answers)))
"#,
    );
    assert_eq!(report.trim(), format!("20 1000 {NAT_IP}"));
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn udp_request_and_response_through_the_nat() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let answer = python(
        &lab,
        "app",
        r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for attempt in range(10):
    s.sendto(b"who am i", ("198.51.100.1", 80))
    try:
        print(s.recvfrom(100)[0].decode(), end="")
        break
    except socket.timeout:
        pass
"#,
    );
    assert_eq!(answer, format!("{NAT_IP}\n"));
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn unsolicited_inbound_to_the_nat_goes_nowhere() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let _server = lab.serve("app", "10.0.2.10:8080");
    // The NAT works outbound...
    assert!(lab.curl("app", "http://198.51.100.1/", T).is_some());
    // ...but nothing the internet starts gets through it.
    assert_eq!(curl_from_internet(&format!("http://{NAT_IP}:8080/")), "");
    assert_eq!(curl_from_internet(&format!("http://{NAT_IP}:80/")), "");
    let ping = run(
        "ip",
        &["netns", "exec", vpclab_netns_tests::internet(), "ping", "-c", "1", "-W", "1", NAT_IP],
    );
    assert!(!ping.status.success());
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("nat_no_flow"), "counted");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn an_idle_connection_times_out_and_the_inside_sees_a_reset() {
    require_root();
    // A 2-second idle timeout instead of AWS's 350.
    let lab = Lab::up(&TOPOLOGY.replace("idle_timeout: 350", "idle_timeout: 2"));
    assert!(lab.curl("app", "http://198.51.100.1/", T).is_some(), "the path works");
    // A server on the internet that keeps its connections open and echoes.
    let mut server = std::process::Command::new("ip")
        .args(["netns", "exec", vpclab_netns_tests::internet(), "python3", "-c"])
        .arg(
            r#"
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.1", 7000)); s.listen()
def echo(c):
    while (d := c.recv(100)): c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
"#,
        )
        .spawn()
        .expect("start an echo server on the internet");
    let outcome = python(
        &lab,
        "app",
        r#"
import socket, time
for attempt in range(50):
    try:
        c = socket.create_connection(("198.51.100.1", 7000), timeout=2); break
    except OSError:
        time.sleep(0.1)
c.sendall(b"a"); assert c.recv(10) == b"a"
time.sleep(4)  # twice the idle timeout
try:
    c.sendall(b"b")
    data = c.recv(10)
    print("answered" if data else "closed")
except ConnectionResetError:
    print("reset")
"#,
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(outcome.trim(), "reset");
    let status = lab.vpclab(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("nat_reset"), "the reset is counted: {text}");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_private_nat_gateway_is_the_one_address_a_partner_sees_through_the_hub() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/private-nat-gateway.yaml"));
    let _server = lab.serve("partner", "10.2.1.10:8080");
    // The workloads reach the partner as the gateway's own address, both protocols the
    // partner admits from it.
    assert_eq!(
        lab.curl("app", "http://10.2.1.10:8080/", T).as_deref(),
        Some("10.1.9.50\n"),
        "the partner sees the private NAT gateway"
    );
    assert!(lab.pings("app", "10.2.1.10", T), "ping through the private NAT and the hub");
    // Without the gateway, the partner's group (the gateway's address only) refuses.
    assert_eq!(lab.curl("direct", "http://10.2.1.10:8080/", Duration::from_secs(2)), None);
    // Nothing gets in through it unsolicited.
    let _inside = lab.serve("app", "10.1.1.10:8080");
    assert_eq!(lab.curl("partner", "http://10.1.9.50:8080/", Duration::from_secs(2)), None);
    let stats = lab.vpclab(&["status"]);
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.contains("nat_no_flow"), "the unsolicited packets are counted: {stats}");
    lab.down();
}
