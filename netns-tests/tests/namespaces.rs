//! Namespaces made and removed by vpclab itself (`vpclab_sys::netns::create`,
//! `delete_all`: a thread's own namespace bind-mounted under `/run/netns`, no `ip`
//! process) are what `ip netns` makes and removes: `ip netns list`, `exec`, `pids` and
//! `del` work on vpclab's, and vpclab's `delete_all` removes those `ip netns add` made,
//! killing what runs inside.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vpclab_netns_tests::{PREFIX, namespaces, require_root, run, run_ok, wait_until};
use vpclab_sys::netns;

/// The test's namespaces and processes, removed also when it fails.
struct Made {
    names: Vec<String>,
    children: Vec<Child>,
}

impl Made {
    fn name(&mut self, tag: &str) -> String {
        let name = format!("{PREFIX}{}-inproc-{tag}", std::process::id());
        self.names.push(name.clone());
        name
    }

    /// Starts `sleep` inside `ns` with `ip netns exec`.
    fn sleeper(&mut self, ns: &str) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "sleep", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip netns exec");
        let pid = child.id();
        self.children.push(child);
        pid
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for name in &self.names {
            if std::path::Path::new(netns::NETNS_DIR).join(name).exists() {
                run("ip", &["netns", "del", name]);
            }
        }
    }
}

fn pids(ns: &str) -> Vec<u32> {
    let out = run_ok("ip", &["netns", "pids", ns]);
    String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

#[test]
#[ignore = "needs root"]
fn namespaces_made_in_process_are_ip_netns_namespaces() {
    require_root();
    let root_links = run_ok("ip", &["-o", "link", "show"]).stdout;
    let mut made = Made { names: Vec::new(), children: Vec::new() };
    let ours = made.name("ours");
    let theirs = made.name("theirs");

    // Made here: listed, entered and configured by `ip`, and a namespace of its own.
    netns::create(&ours).expect("create");
    assert!(namespaces().contains(&ours), "`ip netns list` shows {ours}");
    let own = std::fs::metadata("/proc/self/ns/net").expect("own namespace");
    let made_ns = std::fs::metadata(netns::path(&ours)).expect("its name");
    use std::os::unix::fs::MetadataExt;
    assert_ne!((own.dev(), own.ino()), (made_ns.dev(), made_ns.ino()), "a new namespace");
    let lo = run_ok("ip", &["netns", "exec", &ours, "ip", "-o", "link", "show", "lo"]).stdout;
    assert!(String::from_utf8_lossy(&lo).contains("state DOWN"), "a fresh namespace's lo is down");
    netns::configure(
        &ours,
        &[&["link", "set", "lo", "up"], &["addr", "add", "10.99.0.1/32", "dev", "lo"]],
    )
    .expect("configure");
    let addrs = run_ok("ip", &["netns", "exec", &ours, "ip", "-o", "addr", "show", "lo"]).stdout;
    assert!(String::from_utf8_lossy(&addrs).contains("10.99.0.1/32"), "configured inside");
    assert!(netns::has_link(&ours, "lo") && !netns::has_link(&ours, "eth9"));
    run_ok("ip", &["netns", "exec", &ours, "ping", "-c", "1", "-W", "2", "10.99.0.1"]);
    // Creating it again keeps it as it is.
    netns::create(&ours).expect("create again");
    let again = run_ok("ip", &["netns", "exec", &ours, "ip", "-o", "addr", "show", "lo"]).stdout;
    assert!(String::from_utf8_lossy(&again).contains("10.99.0.1/32"), "the same namespace");
    // `ip netns pids` and `ip netns del` work on it.
    let pid = made.sleeper(&ours);
    wait_until(
        "the sleeper in its namespace",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || pids(&ours).contains(&pid).then_some(()),
    );
    made.children.pop().map(|mut c| (c.kill(), c.wait()));
    run_ok("ip", &["netns", "del", &ours]);
    assert!(!netns::exists(&ours) && !namespaces().contains(&ours), "`ip netns del` removed it");

    // Made here again and by `ip netns add`, each with a process inside: `delete_all`
    // removes both names and kills both processes.
    netns::create(&ours).expect("create after del");
    run_ok("ip", &["netns", "add", &theirs]);
    let ours_pid = made.sleeper(&ours);
    let theirs_pid = made.sleeper(&theirs);
    wait_until("both sleepers", Duration::from_secs(5), Duration::from_millis(20), || {
        (pids(&ours).contains(&ours_pid) && pids(&theirs).contains(&theirs_pid)).then_some(())
    });
    netns::delete_all(&[ours.as_str(), theirs.as_str()]).expect("delete_all");
    let listed = namespaces();
    assert!(!listed.contains(&ours) && !listed.contains(&theirs), "both names gone: {listed:?}");
    for child in &mut made.children {
        let status = wait_until(
            "a killed sleeper",
            Duration::from_secs(5),
            Duration::from_millis(20),
            || child.try_wait().ok().flatten(),
        );
        assert!(!status.success(), "killed, not finished");
    }
    // Deleting what is gone is no error.
    netns::delete_all(&[ours.as_str()]).expect("delete a missing one");
    assert_eq!(run_ok("ip", &["-o", "link", "show"]).stdout, root_links, "root links untouched");
}

/// A name left without a namespace (an empty file under `/run/netns`, as a create that
/// failed half-way leaves it) is neither taken for a namespace nor in the way: `create`
/// makes the namespace on it.
#[test]
#[ignore = "needs root"]
fn a_half_made_name_is_made_again() {
    require_root();
    let mut made = Made { names: Vec::new(), children: Vec::new() };
    let name = made.name("half");
    std::fs::create_dir_all(netns::NETNS_DIR).expect("/run/netns");
    std::fs::write(netns::path(&name), b"").expect("an empty name");
    netns::create(&name).expect("create over a half-made name");
    let shown = run("ip", &["netns", "exec", &name, "ip", "-o", "link", "show", "lo"]);
    assert!(shown.status.success(), "a namespace is mounted on it");
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::metadata("/proc/self/ns/net").expect("own namespace");
    let its = std::fs::metadata(netns::path(&name)).expect("its name");
    assert_ne!((own.dev(), own.ino()), (its.dev(), its.ino()), "a namespace of its own");
    netns::delete_all(&[name.as_str()]).expect("delete_all");
    assert!(!netns::path(&name).exists());
}
