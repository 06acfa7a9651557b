//! Fixtures for vpclab's root-only end-to-end tests.
//!
//! Every test here runs real commands in real network namespaces, so every test is
//! `#[ignore = "needs root"]`; `scripts/netns-tests.sh` runs them with `--ignored`, each
//! test in a process of its own, several processes at once. (`cargo test -- --ignored
//! --test-threads=1` runs a file's tests one after another in one process, which works
//! too: a process's labs come and go one at a time.) The fixtures make the safety rules
//! hard to break:
//!
//! * [`Netns`] names each namespace `vpclab-test-<pid>-<tag>` and deletes it on drop, so
//!   a failing (panicking) test cleans up too; nothing is ever created in, or changed in,
//!   the root namespace.
//! * Every name a test process's labs make is its own: their internet is
//!   `vpclab-test-<pid>-internet` ([`internet`]) and their sites' and tunnels' namespaces
//!   start with `vpclab-test-<pid>-` ([`lab_prefix`]), so test processes can run side by
//!   side (`scripts/test.sh` runs several at once) as well as beside a user's lab.
//! * [`wait_until`] polls with a deadline instead of sleeping a guessed time, and every
//!   loop in it is bounded.

use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Prefix of every namespace a test makes.
pub const PREFIX: &str = "vpclab-test-";

/// The prefix of the namespaces this test process's labs make besides their instances'
/// (on-premises sites, VPN connections): `vpclab-test-<pid>-`. Instances are named after
/// their ids, which differ from lab to lab.
pub fn lab_prefix() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| format!("{PREFIX}{}-", std::process::id()))
}

/// The emulated internet's namespace of this test process's labs,
/// `vpclab-test-<pid>-internet`: not a user's lab's `vpclab-internet`, nor another test
/// process's. Every `vpclab` a test starts is told it through `VPCLAB_INTERNET_NETNS`,
/// and vpclab derives the names of the lab's other namespaces from it ([`lab_prefix`]).
pub fn internet() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| format!("{}internet", lab_prefix()))
}

/// A `vpclab` command of this build that keeps off a user's lab and other test
/// processes' labs: its own internet namespace (the state directory and the API port
/// are the caller's to give).
pub fn vpclab_command() -> Command {
    let mut command = Command::new(lab::binary());
    command.env("VPCLAB_INTERNET_NETNS", internet());
    command
}

/// Panics with a clear message unless the process can create namespaces.
pub fn require_root() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
        })
        .unwrap_or_default();
    assert_eq!(uid, "0", "namespace tests need root: run `sudo scripts/test.sh`");
}

/// A free port on 127.0.0.1 (for a test's own API; never the 4566 a user's lab uses).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a command to completion, panicking with its output if it cannot be started.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs a command and panics with its stderr unless it succeeds.
pub fn run_ok(program: &str, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Runs a command inside the named namespace `ns` (`ip netns exec`), which the caller
/// does not own as a [`Netns`]: an instance's, the lab's internet.
pub fn in_ns(ns: &str, args: &[&str]) -> Output {
    let mut full = vec!["netns", "exec", ns];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// Names of all named network namespaces.
pub fn namespaces() -> Vec<String> {
    let out = run_ok("ip", &["netns", "list"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// A network namespace owned by a test, deleted when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `vpclab-test-<pid>-<n>-<tag>` with `lo` up.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{tag}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        let ns = Self { name };
        ns.run_ok("ip", &["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs a command inside the namespace and panics unless it succeeds.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill whatever a test left running inside, then remove the namespace. Errors
        // are reported, not raised: a panic in drop during a panic would abort.
        let pids = run("ip", &["netns", "pids", &self.name]).stdout;
        for pid in String::from_utf8_lossy(&pids).split_whitespace() {
            run("kill", &["-KILL", pid]);
        }
        let out = run("ip", &["netns", "del", &self.name]);
        if !out.status.success() {
            eprintln!(
                "warning: could not delete namespace {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
}

/// Polls `check` every `every` until it returns `Some`, or panics with `what` after
/// `timeout`. The number of polls is bounded by `timeout / every + 1`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    let max_polls = timeout.as_millis() / every.as_millis().max(1) + 1;
    for _ in 0..max_polls {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(every);
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

pub mod api;
pub mod lab;
