//! `vpclab capture`: a pcap that tcpdump reads, with both sides of the internet
//! gateway's translation at `igw`.

use std::process::{Child, Stdio};
use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{require_root, run, wait_until};

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");

/// Kills the capture if the test fails before it ends.
struct Capture(Child);

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn capture(lab: &Lab, point: &str, file: &std::path::Path, count: u32) -> Capture {
    let child = vpclab_netns_tests::vpclab_command()
        .args(["--state-dir", lab.state().to_str().expect("utf-8")])
        .args(["capture", point, "-c", &count.to_string(), "-w", file.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vpclab capture");
    // Armed once the pcap header (24 bytes) is there.
    wait_until("the capture to start", Duration::from_secs(10), Duration::from_millis(50), || {
        (std::fs::metadata(file).map_or(0, |m| m.len()) >= 24).then_some(())
    });
    Capture(child)
}

fn finish(mut capture: Capture) {
    let status = wait_until(
        "the capture to end",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || capture.0.try_wait().ok().flatten(),
    );
    assert!(status.success(), "vpclab capture: {status}");
}

fn tcpdump(file: &std::path::Path) -> String {
    let out = run("tcpdump", &["-nr", file.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root"]
fn captures_are_pcaps_tcpdump_reads_with_both_sides_of_the_nat() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let at_web = lab.state().join("web.pcap");
    let cap = capture(&lab, "web", &at_web, 2);
    assert!(lab.pings("web", "198.51.100.1", Duration::from_secs(5)));
    finish(cap);
    let text = tcpdump(&at_web);
    assert!(text.contains("IP 10.0.1.10 > 198.51.100.1: ICMP echo request"), "{text}");
    assert!(text.contains("IP 198.51.100.1 > 10.0.1.10: ICMP echo reply"), "{text}");

    let at_edge = lab.state().join("igw.pcap");
    let cap = capture(&lab, "igw", &at_edge, 4);
    assert!(lab.pings("web", "198.51.100.1", Duration::from_secs(5)));
    finish(cap);
    let text = tcpdump(&at_edge);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, expected) in lines.iter().zip([
        "IP 10.0.1.10 > 198.51.100.1: ICMP echo request",
        "IP 203.0.113.10 > 198.51.100.1: ICMP echo request",
        "IP 198.51.100.1 > 203.0.113.10: ICMP echo reply",
        "IP 198.51.100.1 > 10.0.1.10: ICMP echo reply",
    ]) {
        assert!(line.contains(expected), "{line:?} should show {expected:?}:\n{text}");
    }

    // Bad points are refused, not hung on.
    let out = lab.vpclab(&["capture", "nosuch", "-c", "1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no instance, ENI, NAT gateway or peering")
    );
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_nat_gateway_capture_shows_only_its_flows_from_both_sides() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/nat-gateway.yaml"));
    let file = lab.state().join("nat.pcap");
    let cap = capture(&lab, "nat", &file, 4);
    // The bastion's own public address goes through the internet gateway, not the NAT.
    assert!(lab.pings("bastion", "198.51.100.1", Duration::from_secs(5)));
    assert!(lab.pings("app", "198.51.100.1", Duration::from_secs(5)));
    finish(cap);
    let text = tcpdump(&file);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, expected) in lines.iter().zip([
        "IP 10.0.2.10 > 198.51.100.1: ICMP echo request",
        "IP 203.0.113.10 > 198.51.100.1: ICMP echo request",
        "IP 198.51.100.1 > 203.0.113.10: ICMP echo reply",
        "IP 198.51.100.1 > 10.0.2.10: ICMP echo reply",
    ]) {
        assert!(line.contains(expected), "{line:?} should show {expected:?}:\n{text}");
    }
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_peering_capture_shows_what_crosses_it_and_nothing_else() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/peering.yaml"));
    let file = lab.state().join("pcx.pcap");
    let cap = capture(&lab, "a-b", &file, 2);
    assert!(lab.pings("b", "10.3.1.10", Duration::from_secs(5)), "over b-c: not captured");
    assert!(lab.pings("a", "10.2.1.10", Duration::from_secs(5)));
    finish(cap);
    let text = tcpdump(&file);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("IP 10.1.1.10 > 10.2.1.10: ICMP echo request"), "{text}");
    assert!(lines[1].contains("IP 10.2.1.10 > 10.1.1.10: ICMP echo reply"), "{text}");
    lab.down();
}
