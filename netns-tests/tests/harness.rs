//! The fixtures themselves: namespaces appear, carry packets and always disappear.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use vpclab_netns_tests::{Netns, namespaces, require_root, wait_until};

#[test]
#[ignore = "needs root"]
fn namespace_exists_while_held_and_is_removed_on_drop() {
    require_root();
    let ns = Netns::new("life");
    let name = ns.name().to_owned();
    assert!(namespaces().contains(&name), "{name} listed while held");
    let links = ns.run_ok("ip", &["-o", "link", "show", "lo"]);
    assert!(String::from_utf8_lossy(&links.stdout).contains("UP"), "lo is up inside");
    drop(ns);
    assert!(!namespaces().contains(&name), "{name} removed after drop");
}

#[test]
#[ignore = "needs root"]
fn namespace_is_removed_when_the_test_panics() {
    require_root();
    let mut seen = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let ns = Netns::new("panic");
        seen = Some(ns.name().to_owned());
        panic!("a failing test");
    }));
    assert!(result.is_err());
    let name = seen.expect("the namespace was made before the panic");
    assert!(!namespaces().contains(&name), "{name} removed although the test panicked");
}

#[test]
#[ignore = "needs root"]
fn two_namespaces_joined_by_veth_ping_each_other() {
    require_root();
    let a = Netns::new("a");
    let b = Netns::new("b");
    // The veth pair is created inside `a` with its peer moved straight into `b`: nothing
    // touches the root namespace.
    a.run_ok("ip", &["link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", b.name()]);
    a.run_ok("ip", &["addr", "add", "10.255.0.1/24", "dev", "v0"]);
    b.run_ok("ip", &["addr", "add", "10.255.0.2/24", "dev", "v1"]);
    a.run_ok("ip", &["link", "set", "v0", "up"]);
    b.run_ok("ip", &["link", "set", "v1", "up"]);

    let out = wait_until(
        "ping across the veth",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let out = a.run("ping", &["-c", "1", "-W", "1", "10.255.0.2"]);
            out.status.success().then_some(out)
        },
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 received"));

    // And nothing answers for an address no namespace has.
    let out = a.run("ping", &["-c", "1", "-W", "1", "10.255.0.9"]);
    assert!(!out.status.success(), "no reply from an address nobody holds");
}
