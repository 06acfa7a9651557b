//! On-premises sites with real namespaces: a site's hosts reach their router, the
//! emulated internet as the router's public address, and instances by their public
//! addresses; `vpclab onprem` adds and removes sites on a running lab.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{internet, lab_prefix, namespaces, require_root, run};

const TOPOLOGY: &str = include_str!("../../examples/onprem-site.yaml");
const T: Duration = Duration::from_secs(10);
/// Every site namespace this test process's labs make starts with this.
fn site_prefix() -> String {
    format!("{}onprem-", lab_prefix())
}

/// The namespaces of site `site` and its `hosts`, as this process's labs name them.
fn site_names(site: &str, hosts: &[&str]) -> Vec<String> {
    let router = format!("{}{site}", site_prefix());
    let mut names: Vec<String> = hosts.iter().map(|h| format!("{router}-{h}")).collect();
    names.insert(0, router);
    names
}

/// Removes whatever site namespace a failed test left (its lab's `down` normally does),
/// so that the next test starts clean.
struct Sweep;

impl Drop for Sweep {
    fn drop(&mut self) {
        for ns in namespaces().iter().filter(|n| n.starts_with(&site_prefix())) {
            let pids = run("ip", &["netns", "pids", ns]).stdout;
            for pid in String::from_utf8_lossy(&pids).split_whitespace() {
                run("kill", &["-KILL", pid]);
            }
            run("ip", &["netns", "del", ns]);
        }
    }
}

fn site_namespaces() -> Vec<String> {
    let mut names: Vec<String> =
        namespaces().into_iter().filter(|n| n.starts_with(&site_prefix())).collect();
    names.sort();
    names
}

fn vpclab_ok(lab: &Lab, args: &[&str]) -> String {
    let out = lab.vpclab(args);
    assert!(
        out.status.success(),
        "vpclab {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs root"]
fn a_site_reaches_its_router_the_internet_and_an_instance_and_survives_a_restart() {
    require_root();
    let _sweep = Sweep;
    let lab = Lab::up(TOPOLOGY);
    assert_eq!(site_namespaces(), site_names("hq", &["laptop", "server"]));
    for ns in site_namespaces() {
        let mark = std::path::Path::new(vpclab_sys::netns::OWNERS_DIR).join(&ns);
        assert!(mark.exists(), "{ns} is marked as the lab's, for `vpclab gc`");
    }
    assert!(lab.pings("hq/laptop", "172.16.0.1", T), "a host reaches its router");
    assert!(lab.pings("hq/laptop", "198.51.100.1", T), "and the internet through it");
    // Masqueraded: check-ip sees the router's public address, from a host or the router.
    let seen = "198.51.100.10\n";
    assert_eq!(lab.curl("hq/laptop", "http://198.51.100.1/", T).as_deref(), Some(seen));
    assert_eq!(lab.curl("hq", "http://198.51.100.1/", T).as_deref(), Some(seen));
    assert_eq!(lab.curl("hq/router", "http://198.51.100.1/", T).as_deref(), Some(seen));
    // The internet reaches the router's public address.
    let ping =
        run("ip", &["netns", "exec", internet(), "ping", "-c", "1", "-W", "2", "198.51.100.10"]);
    assert!(ping.status.success(), "the internet pings the router");

    // An instance by its public address, through the internet and the internet gateway:
    // it sees the site as the router's public address.
    let server = lab.serve("web", "10.0.1.4:80");
    assert!(lab.pings("hq/server", "203.0.113.10", T));
    assert_eq!(lab.curl("hq/server", "http://203.0.113.10/", T).as_deref(), Some(seen));

    let status: serde_json::Value =
        serde_json::from_str(&vpclab_ok(&lab, &["status", "--json"])).expect("JSON");
    let site = &status["onprem_sites"][0];
    assert_eq!(site["name"], "hq");
    assert_eq!(site["public_ip"], "198.51.100.10");
    assert_eq!(site["hosts"][1]["namespace"], format!("{}onprem-hq-server", lab_prefix()));
    assert!(vpclab_ok(&lab, &["status"]).contains("laptop 172.16.0.10"));

    // A new daemon re-attaches: the site keeps working.
    vpclab_ok(&lab, &["restart"]);
    assert_eq!(lab.curl("hq/server", "http://203.0.113.10/", T).as_deref(), Some(seen));
    assert_eq!(lab.curl("hq/laptop", "http://198.51.100.1/", T).as_deref(), Some(seen));
    drop(server);

    lab.down();
    assert_eq!(site_namespaces(), Vec::<String>::new(), "down removes the site");
}

#[test]
#[ignore = "needs root"]
fn vpclab_onprem_adds_and_removes_sites_on_a_running_lab_overlapping_a_vpc_or_not() {
    require_root();
    let _sweep = Sweep;
    let lab = Lab::up(TOPOLOGY);
    // 10.0.0.0/16 is the VPC's CIDR too: allowed.
    let created = vpclab_ok(
        &lab,
        &[
            "onprem",
            "create",
            "branch",
            "--cidr",
            "10.0.0.0/16",
            "--host",
            "a",
            "--host",
            "b=10.0.3.3",
        ],
    );
    assert!(created.contains("198.51.100.11"), "the next free public address: {created}");
    let branch = site_names("branch", &["a", "b"]);
    let names = site_namespaces();
    assert!(branch.iter().all(|b| names.iter().any(|n| n == b)), "{names:?}");
    assert_eq!(lab.curl("branch/b", "http://198.51.100.1/", T).as_deref(), Some("198.51.100.11\n"));
    assert!(lab.pings("branch/a", "10.0.3.3", T), "hosts of one site reach each other");
    assert!(lab.pings("branch/a", "198.51.100.10", T), "and another site's router");
    let out = lab.exec("branch/nope", &["true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("branch/a"), "the error lists hosts");

    // A refused site changes nothing.
    let before = site_namespaces();
    let out = lab.vpclab(&["onprem", "create", "bad", "--cidr", "203.0.113.0/24", "--host", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidParameterValue"));
    assert_eq!(site_namespaces(), before);
    let listed: serde_json::Value =
        serde_json::from_str(&vpclab_ok(&lab, &["onprem", "list", "--json"])).expect("JSON");
    let names: Vec<&str> =
        listed.as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["branch", "hq"]);

    vpclab_ok(&lab, &["onprem", "delete", "branch"]);
    assert_eq!(site_namespaces(), site_names("hq", &["laptop", "server"]));
    // Its public address and its name are free again.
    vpclab_ok(&lab, &["onprem", "create", "branch", "--cidr", "10.50.0.0/24", "--host", "c"]);
    assert_eq!(lab.curl("branch/c", "http://198.51.100.1/", T).as_deref(), Some("198.51.100.11\n"));
    lab.down();
    assert_eq!(site_namespaces(), Vec::<String>::new());
}

#[test]
#[ignore = "needs root"]
fn gc_collects_the_sites_of_a_lab_whose_state_is_lost() {
    require_root();
    let _sweep = Sweep;
    let lab = Lab::up(TOPOLOGY);
    let status: serde_json::Value =
        serde_json::from_str(&vpclab_ok(&lab, &["status", "--json"])).expect("JSON");
    let pid = status["daemon"]["pid"].as_u64().expect("a running daemon").to_string();
    run("kill", &["-KILL", &pid]);
    vpclab_netns_tests::wait_until(
        "the killed daemon to exit",
        T,
        Duration::from_millis(20),
        || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            matches!(state, None | Some("Z" | "X")).then_some(())
        },
    );
    let state = lab.state().to_path_buf();
    std::fs::remove_dir_all(&state).expect("remove the state directory");
    let out = vpclab_netns_tests::vpclab_command()
        .args(["gc", "--lab", state.to_str().expect("utf-8 path")])
        .output()
        .expect("vpclab gc");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains(&format!("removed {}onprem-hq-laptop ", lab_prefix())), "{said}");
    assert_eq!(site_namespaces(), Vec::<String>::new(), "{said}");
}
