//! A lab brought up with the real `vpclab` binary for one test, and taken down when the
//! test ends — also when it fails.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{free_port, internet, namespaces, run, vpclab_command, wait_until};

/// The `vpclab` binary of this build (`target/<profile>/vpclab`), which
/// `scripts/test.sh` builds before the namespace tests.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/vpclab
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let binary = dir.join("vpclab");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build -p vpclab`, as scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// A running lab with its own state directory.
#[derive(Debug)]
pub struct Lab {
    state: PathBuf,
    /// `http://127.0.0.1:<port>`: the lab's own API (a free port, never 4566).
    endpoint: String,
    /// Instance ids by name, read from `vpclab status --json` after `up`.
    instances: Vec<(String, String)>,
    /// Its emulated internet's namespace.
    internet: String,
}

impl Lab {
    /// Writes `topology` to a fresh state directory and runs `vpclab up` on it.
    pub fn up(topology: &str) -> Self {
        Self::up_with_internet(topology, internet())
    }

    /// [`Lab::up`] with its emulated internet in the namespace `internet` (which must
    /// start with `vpclab-test-`), for a test that runs two labs side by side.
    pub fn up_with_internet(topology: &str, internet: &str) -> Self {
        assert!(internet.starts_with(crate::PREFIX), "{internet} is not a test's name");
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let state = std::env::temp_dir().join(format!("vpclab-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).expect("state dir");
        let file = state.join("topology.yaml");
        std::fs::write(&file, topology).expect("topology file");
        let listen = format!("127.0.0.1:{}", free_port());
        let endpoint = format!("http://{listen}");
        let mut lab = Lab { state, endpoint, instances: Vec::new(), internet: internet.to_owned() };
        let out = lab.vpclab(&["up", "--listen", &listen, file.to_str().expect("utf-8 path")]);
        assert!(
            out.status.success(),
            "vpclab up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        lab.instances = lab.read_instances();
        lab
    }

    /// Runs `vpclab --state-dir <this lab's> <args>`.
    pub fn vpclab(&self, args: &[&str]) -> Output {
        vpclab_command()
            .env("VPCLAB_INTERNET_NETNS", &self.internet)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .output()
            .expect("run vpclab")
    }

    /// The lab's EC2 API: `http://127.0.0.1:<its port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn read_instances(&self) -> Vec<(String, String)> {
        let out = self.vpclab(&["status", "--json"]);
        let status: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("vpclab status --json prints JSON");
        let instances = status["model"]["instances"].as_object().expect("an instances map");
        instances
            .values()
            .map(|i| {
                let name = i["tags"]["Name"].as_str().unwrap_or_default().to_owned();
                (name, i["id"].as_str().expect("an id").to_owned())
            })
            .collect()
    }

    /// The instance id of `name`.
    pub fn id(&self, name: &str) -> &str {
        self.instances
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.as_str())
            .unwrap_or_else(|| panic!("no instance named {name} in {:?}", self.instances))
    }

    /// The lab's state directory.
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// Every instance id of the lab.
    pub fn ids(&self) -> Vec<String> {
        self.instances.iter().map(|(_, id)| id.clone()).collect()
    }

    /// Runs a command inside instance `name` through `vpclab exec`.
    pub fn exec(&self, name: &str, command: &[&str]) -> Output {
        let mut args = vec!["exec", name, "--"];
        args.extend_from_slice(command);
        self.vpclab(&args)
    }

    /// Runs `aws ec2 <args>` against the lab's API, asserts it succeeded, and returns
    /// its trimmed output.
    pub fn aws(&self, args: &[&str]) -> String {
        let out = crate::api::aws(&self.endpoint, args);
        assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Pings `addr` from `name` until one reply arrives (true) or `timeout` passes.
    pub fn pings(&self, name: &str, addr: &str, timeout: Duration) -> bool {
        let attempts = timeout.as_secs().max(1);
        (0..attempts)
            .any(|_| self.exec(name, &["ping", "-c", "1", "-W", "1", addr]).status.success())
    }

    /// `curl` from `name`, retried until it answers or `timeout` passes; the body.
    pub fn curl(&self, name: &str, url: &str, timeout: Duration) -> Option<String> {
        let attempts = (timeout.as_secs() / 2).max(1);
        (0..attempts).find_map(|_| {
            let out = self.exec(name, &["curl", "-s", "-m", "2", url]);
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        })
    }

    /// Runs `vpclab down` and checks that nothing of the lab is left.
    pub fn down(mut self) {
        let ids = self.ids();
        let out = self.vpclab(&["down"]);
        assert!(out.status.success(), "vpclab down: {}", String::from_utf8_lossy(&out.stderr));
        assert_nothing_left(&ids, &self.state);
        assert!(!namespaces().contains(&self.internet), "{} left behind", self.internet);
        self.instances.clear();
    }
}

/// Asserts that no namespace, daemon or device of a lab remains.
pub fn assert_nothing_left(ids: &[String], state: &Path) {
    let left = namespaces();
    for id in ids {
        assert!(!left.contains(id), "namespace {id} left behind");
    }
    assert!(!left.iter().any(|n| n == internet()), "{} left behind", internet());
    let state = state.to_string_lossy().into_owned();
    let daemons = run("pgrep", &["-f", &format!("vpclab --state-dir {state} serve")]);
    assert!(!daemons.status.success(), "a daemon of {state} is still running");
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.instances.is_empty() && !self.state.join("model.json").exists() {
            let _ = std::fs::remove_dir_all(&self.state);
            return;
        }
        // The test failed before `down`: take everything away regardless.
        let out = self.vpclab(&["down"]);
        if !out.status.success() {
            eprintln!("cleanup: vpclab down failed: {}", String::from_utf8_lossy(&out.stderr));
            for id in self.ids() {
                let _ = run("ip", &["netns", "del", &id]);
            }
            let _ = run("ip", &["netns", "del", &self.internet]);
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// A server process inside a namespace, killed when dropped.
#[derive(Debug)]
pub struct Server(std::process::Child);

impl Server {
    /// Takes charge of `child`: it is killed when this is dropped.
    pub fn new(child: std::process::Child) -> Self {
        Self(child)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.0.try_wait().map(|status| status.is_none()).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Lab {
    /// Starts vpclab's echo-the-caller HTTP server (the check-ip server) inside instance
    /// `name` on `addr` (`ip:port`), and waits until it accepts connections.
    pub fn serve(&self, name: &str, addr: &str) -> Server {
        let server = std::process::Command::new("ip")
            .args(["netns", "exec", self.id(name)])
            .arg(binary())
            .args(["internet-host", "--listen", addr])
            .spawn()
            .expect("start a server in the instance");
        let server = Server(server);
        wait_for_listener(self, name, addr);
        server
    }
}

/// `curl` run on the emulated internet; the body, empty if nothing answered.
pub fn curl_from_internet(url: &str) -> String {
    let out = run("ip", &["netns", "exec", internet(), "curl", "-s", "-m", "2", url]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `name` accepts TCP connections on `port` (probed from inside).
pub fn wait_for_listener(lab: &Lab, name: &str, addr: &str) {
    wait_until(
        &format!("a listener on {addr} in {name}"),
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let script =
                format!("exec 3<>/dev/tcp/{}/{}", addr.split(':').next()?, addr.split(':').nth(1)?);
            lab.exec(name, &["bash", "-c", &script]).status.success().then_some(())
        },
    );
}
