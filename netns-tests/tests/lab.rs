//! The lab front-end with real namespaces and real packets: `vpclab up`, `ping`, `curl`,
//! `vpclab down`.

use std::time::Duration;

use vpclab_netns_tests::lab::{Lab, assert_nothing_left, curl_from_internet};
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");
const T: Duration = Duration::from_secs(10);
/// For "cannot reach" checks: long enough that a working path would have answered.
const NEGATIVE: Duration = Duration::from_secs(3);

#[test]
#[ignore = "needs root"]
fn two_subnets_of_one_vpc_reach_each_other() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert!(lab.pings("app", "10.0.1.10", T), "private -> public subnet");
    assert!(lab.pings("web", "10.0.2.4", T), "public -> private subnet");
    assert!(lab.pings("worker", "10.0.1.10", T), "within the public subnet");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_public_instance_reaches_check_ip_and_is_seen_by_its_public_ip() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert!(lab.pings("web", "198.51.100.1", T));
    let seen = lab.curl("web", "http://198.51.100.1/", T).expect("check-ip answers");
    // web holds the Elastic IP, the first address handed out.
    assert_eq!(seen, "203.0.113.10\n");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn routes_to_the_gateway_without_a_public_ip_get_nothing() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    // Prove the path works for web first, so the negative result means something.
    assert!(lab.pings("web", "198.51.100.1", T));
    assert!(!lab.pings("worker", "198.51.100.1", NEGATIVE), "worker has no public IP");
    assert_eq!(lab.curl("worker", "http://198.51.100.1/", NEGATIVE), None);
    // The private subnet has no route at all.
    assert!(!lab.pings("app", "198.51.100.1", NEGATIVE));
    let status = lab.vpclab(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("no_public_ip"), "the drop is counted: {text}");
    assert!(text.contains("no_route"), "the drop is counted: {text}");
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn the_internet_reaches_a_server_in_a_public_instance_by_its_public_ip() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    // vpclab's own check-ip server, run inside web on port 8080: it answers with the
    // address it sees, which must be the internet host's own (no SNAT inbound).
    let server = lab.serve("web", "10.0.1.10:8080");
    assert_eq!(curl_from_internet("http://203.0.113.10:8080/"), "198.51.100.1\n");
    drop(server);
    // An address nobody is mapped to answers nothing.
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            vpclab_netns_tests::internet(),
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "203.0.113.99",
        ])
        .output()
        .expect("ping from the internet");
    assert!(!out.status.success());
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn two_vpcs_cannot_reach_each_other() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    assert!(lab.pings("app", "10.0.1.10", T), "the lab works");
    assert!(!lab.pings("loner", "10.0.1.10", NEGATIVE));
    assert!(!lab.pings("web", "10.1.1.4", NEGATIVE));
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_failed_test_leaves_nothing_behind() {
    require_root();
    let mut seen = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::up(TOPOLOGY);
        seen = Some((lab.ids(), lab.state().to_owned()));
        panic!("the test fails with the lab up");
    }));
    assert!(result.is_err());
    let (ids, state) = seen.expect("the lab came up");
    assert_eq!(ids.len(), 4);
    assert_nothing_left(&ids, &state);
}

#[test]
#[ignore = "needs root"]
fn a_malformed_topology_creates_nothing() {
    require_root();
    let before = vpclab_netns_tests::namespaces();
    let bad = TOPOLOGY.replace("10.0.2.0/24", "10.9.2.0/24");
    let state = std::env::temp_dir().join(format!("vpclab-test-bad-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let file = state.join("bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let listen = format!("127.0.0.1:{}", vpclab_netns_tests::free_port());
    let out = vpclab_netns_tests::vpclab_command()
        .args(["--state-dir", state.to_str().unwrap(), "up", "--listen", &listen])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&state);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("InvalidSubnet.Range"), "{stderr}");
    assert!(stderr.contains("line 29"), "points at the line: {stderr}");
    // Other test processes may make namespaces meanwhile: none that appeared is this
    // lab's internet, and none is marked as this lab's (vpclab marks every namespace it
    // makes with the lab's state directory).
    let made: Vec<String> =
        vpclab_netns_tests::namespaces().into_iter().filter(|n| !before.contains(n)).collect();
    assert!(!made.iter().any(|n| n == vpclab_netns_tests::internet()), "{made:?}");
    let marked = vpclab_sys::netns::marked();
    assert!(!marked.iter().any(|m| m.owner.starts_with(&state)), "no namespace was created");
}

#[test]
#[ignore = "needs root"]
fn a_forwarder_restart_keeps_instances_and_their_processes() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let mut server = lab.serve("web", "10.0.1.10:8080");
    assert_eq!(curl_from_internet("http://203.0.113.10:8080/"), "198.51.100.1\n");

    let out = lab.vpclab(&["restart"]);
    assert!(out.status.success(), "restart: {}", String::from_utf8_lossy(&out.stderr));
    assert!(server.is_running(), "the server in web survived");
    let answer = vpclab_netns_tests::wait_until(
        "the internet to reach web again",
        T,
        Duration::from_millis(200),
        || Some(curl_from_internet("http://203.0.113.10:8080/")).filter(|a| !a.is_empty()),
    );
    assert_eq!(answer, "198.51.100.1\n");
    assert!(lab.pings("app", "10.0.1.10", T));
    assert_eq!(lab.curl("web", "http://198.51.100.1/", T).as_deref(), Some("203.0.113.10\n"));
    drop(server);
    lab.down();
}
