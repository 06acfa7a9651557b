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
        .args(["netns", "exec", vpclab_netns_tests::INTERNET, "python3", "-c"])
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
        let out = run("ip", &["netns", "exec", vpclab_netns_tests::INTERNET, "ss", "-lun"]);
        String::from_utf8_lossy(&out.stdout).contains("198.51.100.1:9999").then_some(())
    });
    let reassembled = || {
        let out =
            run("ip", &["netns", "exec", vpclab_netns_tests::INTERNET, "cat", "/proc/net/snmp"]);
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
