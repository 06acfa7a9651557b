//! `vpclab check`: declared reachability against real packets, and the trace of a path
//! that does not behave as declared.

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");
const EXPECT: &str = include_str!("../../examples/two-tier.expect.yaml");

#[test]
#[ignore = "needs root"]
fn expectations_pass_and_a_wrong_one_fails_with_its_trace() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let good = lab.state().join("good.yaml");
    std::fs::write(&good, EXPECT).expect("expectations");
    let out = lab.vpclab(&["check", good.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("6 of 6 as expected"), "{text}");

    // Claim the worker reaches the internet, and that web is seen under another address.
    let wrong = EXPECT
        .replace(
            "worker, to: 198.51.100.1, reachable: false",
            "worker, to: 198.51.100.1, reachable: true",
        )
        .replace("seen_as: 203.0.113.10", "seen_as: 203.0.113.99");
    let bad = lab.state().join("bad.yaml");
    std::fs::write(&bad, wrong).expect("expectations");
    let out = lab.vpclab(&["check", bad.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("4 of 6 as expected"), "{text}");
    assert!(text.contains("(seen as 203.0.113.10, expected 203.0.113.99)"), "{text}");
    assert!(
        text.contains("dropped: no_public_ip (IGW_PRIVATE_IP_ASSOCIATION_FOR_INGRESS)"),
        "{text}"
    );

    // The same for scripts: JSON, the same exit code, each failure with its trace.
    let out = lab.vpclab(&["check", "--json", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((report["passed"].as_u64(), report["total"].as_u64()), (Some(4), Some(6)));
    let results = report["results"].as_array().expect("results");
    let worker = results
        .iter()
        .find(|r| r["from"] == "worker" && r["to"] == "198.51.100.1")
        .expect("the worker's result");
    assert_eq!(worker["pass"], false);
    assert_eq!(worker["trace"]["forward"]["drop_reason"], "no_public_ip");
    let web = results.iter().find(|r| r["expected_seen_as"] == "203.0.113.99").expect("web's");
    assert_eq!(web["seen_as"], "203.0.113.10");
    assert!(results.iter().filter(|r| r["pass"] == true).all(|r| r["trace"].is_null()));
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn a_dual_stack_lab_from_a_topology_file_passes_its_ipv6_expectations() {
    require_root();
    let lab = Lab::up(include_str!("../../examples/dual-stack.yaml"));
    let expect = lab.state().join("dual-stack.expect.yaml");
    std::fs::write(&expect, include_str!("../../examples/dual-stack.expect.yaml"))
        .expect("expectations");
    let out = lab.vpclab(&["check", expect.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("7 of 7 as expected"), "{text}");
    // What the far end saw over IPv6 is the instance's own address: nothing translated.
    let out = lab.vpclab(&["check", "--json", expect.to_str().expect("utf-8")]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let results = report["results"].as_array().expect("results");
    let web_out = results
        .iter()
        .find(|r| r["from"] == "web" && r["to"] == "2001:db8:ffff::1")
        .expect("web's IPv6 result");
    let seen = web_out["seen_as"].as_str().expect("an answer");
    assert!(seen.starts_with("2001:db8:") && !seen.starts_with("2001:db8:ffff:"), "{seen}");
    lab.down();
}
