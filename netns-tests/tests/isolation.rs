//! Labs that lose their state, and labs that tests must not touch.

use std::time::Duration;

use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{Netns, namespaces, require_root, run, vpclab_command, wait_until};

const TOPOLOGY: &str = r#"
vpcs:
  - name: iso
    cidr: 10.6.0.0/16
    subnets:
      - name: one
        cidr: 10.6.1.0/24
instances:
  - name: a
    subnet: one
    private_ip: 10.6.1.10
  - name: b
    subnet: one
    private_ip: 10.6.1.11
"#;

fn daemon_pid(lab: &Lab) -> u32 {
    let out = lab.vpclab(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    status["daemon"]["pid"].as_u64().expect("a running daemon") as u32
}

fn gc(args: &[&str]) -> String {
    let out = vpclab_command().arg("gc").args(args).output().expect("vpclab gc");
    assert!(out.status.success(), "vpclab gc: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root"]
fn a_lab_whose_state_is_lost_is_collected_and_nothing_unmarked_is_touched() {
    require_root();
    let bystander = Netns::new("bystander");
    let lab = Lab::up(TOPOLOGY);
    let ids = lab.ids();
    // The daemon dies and the state directory goes: the namespaces are orphans.
    // (A killed process takes a moment to exit — closing its queues, its threads — and
    // `gc` rightly keeps the namespaces of a lab whose daemon still runs.)
    let pid = daemon_pid(&lab);
    run("kill", &["-KILL", &pid.to_string()]);
    wait_until(
        "the killed daemon to exit",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // `pid (comm) state …`; gone, a zombie or dead all mean it no longer runs.
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            matches!(state, None | Some("Z" | "X")).then_some(())
        },
    );
    let state = lab.state().to_path_buf();
    std::fs::remove_dir_all(&state).expect("remove the state directory");
    let state_arg = state.to_str().expect("utf-8 path");

    let listed = gc(&["--dry-run", "--lab", state_arg]);
    for id in &ids {
        assert!(listed.contains(&format!("would remove {id} ")), "{listed}");
    }
    assert!(!listed.contains(bystander.name()), "{listed}");
    assert!(ids.iter().all(|id| namespaces().contains(id)), "a dry run removes nothing");

    let removed = gc(&["--lab", state_arg]);
    assert!(
        removed.contains(&format!("{} orphaned namespaces removed", ids.len() + 1)),
        "{removed}"
    );
    let left = namespaces();
    for id in &ids {
        assert!(!left.contains(id), "{id} left: {removed}");
    }
    assert!(!left.iter().any(|n| n == vpclab_netns_tests::internet()), "{removed}");
    assert!(left.iter().any(|n| n == bystander.name()), "an unmarked namespace was touched");
    // Nothing of that lab is left to collect.
    assert!(gc(&["--lab", state_arg]).contains("0 orphaned namespaces removed"));
}

/// What a test run does to a lab that is up beside it: nothing. A "user's" lab runs
/// with an internet namespace and port of its own (as a real one has `vpclab-internet`
/// and 4566, which tests never use); the fixtures every test uses then come and go —
/// a lab brought up and down, a lab dropped on failure, an API with a data plane — and
/// the user's lab still has its namespaces, its daemon, its API and its packets.
#[test]
#[ignore = "needs root"]
fn test_fixtures_leave_a_running_lab_untouched() {
    require_root();
    let user_internet = format!("{}userlab-internet", vpclab_netns_tests::lab_prefix());
    let user_internet = user_internet.as_str();
    let user = Lab::up_with_internet(TOPOLOGY, user_internet);
    let pid = daemon_pid(&user);
    let before = namespaces();
    assert!(before.iter().any(|n| n == user_internet));
    let pings = |lab: &Lab| lab.pings("a", "10.6.1.11", Duration::from_secs(10));
    assert!(pings(&user));

    // The fixtures, as tests use them.
    let other = Lab::up(TOPOLOGY);
    assert!(pings(&other));
    other.down();
    {
        let dropped = Lab::up(TOPOLOGY);
        assert!(pings(&dropped));
        // Dropped without `down`, as when a test fails.
    }
    {
        let api = Api::start(true);
        let out = api.aws(&["describe-vpcs"]);
        assert!(out.status.success());
    }

    let after = namespaces();
    for name in before.iter().filter(|n| user.ids().contains(n) || *n == user_internet) {
        assert!(after.contains(name), "{name} of the running lab is gone");
    }
    assert_eq!(daemon_pid(&user), pid, "the running lab's daemon was replaced");
    let out = vpclab_netns_tests::api::aws(user.endpoint(), &["describe-instances"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(pings(&user), "the running lab's packets still flow");
    user.down();
    assert!(!namespaces().iter().any(|n| n == user_internet));
}
