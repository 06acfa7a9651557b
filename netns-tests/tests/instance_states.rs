//! Stopping and starting instances through the aws CLI, with real packets: a stopped
//! instance has no namespace and gets nothing; started again, it is back with its
//! private address and Elastic IP.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{namespaces, require_root};

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");
const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(2);

#[test]
#[ignore = "needs root"]
fn a_stopped_instance_gets_nothing_until_it_starts_again() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let web = lab.id("web").to_owned();
    let state = |lab: &Lab| {
        lab.aws(&[
            "describe-instances",
            "--instance-ids",
            &web,
            "--query",
            "Reservations[0].Instances[0].[State.Name,PrivateIpAddress,PublicIpAddress]",
            "--output",
            "text",
        ])
    };
    assert!(lab.pings("app", "10.0.1.10", T), "app reaches web while it runs");

    let stopping = lab.aws(&[
        "stop-instances",
        "--instance-ids",
        &web,
        "--query",
        "StoppingInstances[0].CurrentState.Name",
        "--output",
        "text",
    ]);
    assert_eq!(stopping, "stopping");
    lab.aws(&["wait", "instance-stopped", "--instance-ids", &web]);
    assert_eq!(
        state(&lab).split_whitespace().collect::<Vec<_>>(),
        ["stopped", "10.0.1.10", "203.0.113.10"]
    );
    assert!(!namespaces().contains(&web), "no namespace while stopped");
    assert!(!lab.pings("app", "10.0.1.10", NEGATIVE), "nothing reaches a stopped instance");
    let out = lab.exec("web", &["true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is stopped"));

    lab.aws(&["start-instances", "--instance-ids", &web]);
    lab.aws(&["wait", "instance-running", "--instance-ids", &web]);
    assert_eq!(
        state(&lab).split_whitespace().collect::<Vec<_>>(),
        ["running", "10.0.1.10", "203.0.113.10"]
    );
    assert!(lab.pings("app", "10.0.1.10", T), "back after the start");
    assert_eq!(lab.curl("web", "http://198.51.100.1/", T).as_deref(), Some("203.0.113.10\n"));
    lab.down();
}
