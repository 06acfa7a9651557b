//! Running an [`End`]: its daemons started inside its namespace, read, and stopped.
//!
//! Control-plane work, a few times per tunnel change and once a second per end when
//! polled: it goes through the daemons' own tools (`swanctl` over vici, `birdc`) and
//! iproute2, as an operator would.

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use vpclab_sys::netns;
use vpclab_sys::process::signal;

use crate::end::End;
use crate::render;
use crate::status::{self, EndStatus, TunnelStatus};

/// How long a charon has to open its control socket and its TUN device.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// How long a daemon has to exit after SIGTERM before it gets SIGKILL.
const STOP_DEADLINE: Duration = Duration::from_secs(3);
/// How often the start-up waits look again.
const POLL: Duration = Duration::from_millis(20);
/// How long a control tool (`swanctl`, `birdc`, `nft`) may take: a hung daemon must not
/// hang whoever asked.
const TOOL_DEADLINE: Duration = Duration::from_secs(3);

/// Why an end could not be started.
#[derive(Debug)]
pub enum VpnError {
    /// A file could not be written or a program not started.
    Io(&'static str, io::Error),
    /// A namespace operation failed.
    Netns(netns::NetnsError),
    /// A daemon or tool failed; what it said.
    Daemon(String),
}

impl std::fmt::Display for VpnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VpnError::Io(what, e) => write!(f, "{what}: {e}"),
            VpnError::Netns(e) => e.fmt(f),
            VpnError::Daemon(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for VpnError {}

impl From<netns::NetnsError> for VpnError {
    fn from(e: netns::NetnsError) -> Self {
        VpnError::Netns(e)
    }
}

/// An end whose daemons run: one charon per tunnel, and BIRD when it speaks BGP.
#[derive(Debug)]
pub struct Running {
    end: End,
    dir: PathBuf,
    charons: Vec<Child>,
    /// Each tunnel's interface, the TUN its charon made (`ipsecN`).
    devices: Vec<String>,
    /// The tunnel each static route goes through now (`Some(None)`: none of its tunnels
    /// is up, and it is unreachable rather than leaking out of the outside interface;
    /// `None`: not set yet).
    static_via: Vec<Option<Option<usize>>>,
    /// When it started (a crashed end is restarted, but not more often than
    /// [`Running::RESTART_AFTER`]).
    started: Instant,
}

impl Running {
    /// Starts `end`'s daemons, with their files in `dir` (made afresh; daemons a former
    /// run left there are stopped first). The namespace must exist with the outside
    /// addresses on it.
    pub fn start(end: End, dir: &Path) -> Result<Self, VpnError> {
        if end.tunnels.len() > End::MAX_TUNNELS {
            return Err(VpnError::Daemon(format!(
                "{} tunnels in one namespace; at most {}",
                end.tunnels.len(),
                End::MAX_TUNNELS
            )));
        }
        stop_leftovers(dir);
        match fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(VpnError::Io("clear the tunnels' directory", e)),
        }
        fs::create_dir_all(dir).map_err(|e| VpnError::Io("make the tunnels' directory", e))?;
        netns::sysctls(
            &end.netns,
            &[
                ("net.ipv4.ip_forward", "1"),
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
                // The tunnels carry IPv4 (no link-local addresses or solicitations on them).
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
            ],
        )?;
        let nft = dir.join("vpn.nft");
        write(&nft, &render::nftables(&end))?;
        run_in_netns(&end.netns, &["nft", "-f"], &[nft.as_os_str()])?;

        let mut running = Running {
            end,
            dir: dir.to_path_buf(),
            charons: Vec::new(),
            devices: Vec::new(),
            static_via: Vec::new(),
            started: Instant::now(),
        };
        for index in 0..running.end.tunnels.len() {
            if let Err(e) = running.start_charon(index) {
                running.stop();
                return Err(e);
            }
        }
        if let Some(conf) = render::bird_conf(&running.end, dir) {
            let conf_path = dir.join("bird.conf");
            write(&conf_path, &conf)?;
            let (socket, pid) = (dir.join("bird.ctl"), dir.join("bird.pid"));
            let started = run_in_netns(
                &running.end.netns,
                &[crate::BIRD, "-c"],
                &[
                    conf_path.as_os_str(),
                    "-s".as_ref(),
                    socket.as_os_str(),
                    "-P".as_ref(),
                    pid.as_os_str(),
                ],
            );
            if let Err(e) = started {
                running.stop();
                return Err(e);
            }
        }
        Ok(running)
    }

    /// How long an end whose daemon died waits, from its start, before it is restarted.
    pub const RESTART_AFTER: Duration = Duration::from_secs(10);

    /// Which of its daemons has exited, if one has: the end needs restarting.
    pub fn exited(&mut self) -> Option<String> {
        for (t, child) in self.end.tunnels.iter().zip(&mut self.charons) {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(format!("the charon of tunnel {} exited ({status})", t.name));
            }
        }
        if self.end.bgp.is_some() {
            let alive = read_pid(&self.dir.join("bird.pid")).is_some_and(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "bird")
            });
            if !alive {
                return Some("bird is not running".to_owned());
            }
        }
        None
    }

    /// Whether it has run long enough to be restarted if a daemon died.
    pub fn may_restart(&self) -> bool {
        self.started.elapsed() >= Self::RESTART_AFTER
    }

    /// The end as started.
    pub fn end(&self) -> &End {
        &self.end
    }

    /// Where its files are: configuration, control sockets, logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Tunnel `index`'s interface in the namespace (`ipsecN`).
    pub fn device(&self, index: usize) -> Option<&str> {
        self.devices.get(index).map(String::as_str)
    }

    /// Starts the charon of tunnel `index` and waits for its control socket and TUN.
    fn start_charon(&mut self, index: usize) -> Result<(), VpnError> {
        let tunnel = &self.end.tunnels[index];
        let dir = self.dir.join(&tunnel.name);
        fs::create_dir_all(&dir).map_err(|e| VpnError::Io("make a tunnel's directory", e))?;
        let conf = dir.join("strongswan.conf");
        write(&conf, &render::strongswan_conf(&dir, index))?;
        write(&dir.join("swanctl.conf"), &render::swanctl_conf(tunnel))?;
        let before = ipsec_devices(&self.end.netns)?;
        let log = fs::File::create(dir.join("charon.out"))
            .map_err(|e| VpnError::Io("create charon's output file", e))?;
        let err = log.try_clone().map_err(|e| VpnError::Io("charon's output file", e))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.end.netns, crate::CHARON])
            .env("STRONGSWAN_CONF", &conf)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // Its own process group: a Ctrl-C meant for vpclab does not reach it; vpclab
            // stops it.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                VpnError::Io("start charon (is strongswan installed? scripts/deps.sh)", e)
            })?;
        write(&dir.join("charon.pid"), &child.id().to_string())?;
        self.charons.push(child);

        let socket = dir.join("charon.vici");
        let deadline = Instant::now() + START_DEADLINE;
        let device = loop {
            if socket.exists() {
                let after = ipsec_devices(&self.end.netns)?;
                if let Some(new) = after.into_iter().find(|d| !before.contains(d)) {
                    break new;
                }
            }
            if let Some(Ok(Some(exit))) = self.charons.last_mut().map(Child::try_wait) {
                return Err(VpnError::Daemon(format!(
                    "charon for tunnel {} exited ({exit}); see {}",
                    tunnel.name,
                    dir.join("charon.out").display()
                )));
            }
            if Instant::now() > deadline {
                return Err(VpnError::Daemon(format!(
                    "charon for tunnel {} did not start within {START_DEADLINE:?}; see {}",
                    tunnel.name,
                    dir.join("charon.log").display()
                )));
            }
            std::thread::sleep(POLL);
        };
        let (mtu, inside) = (tunnel.mtu.to_string(), tunnel.local_inside.to_string());
        netns::configure(
            &self.end.netns,
            &[
                &["link", "set", "dev", &device, "alias", &format!("vpn-{}", tunnel.name)],
                &["link", "set", "dev", &device, "mtu", &mtu, "up"],
                &["addr", "replace", &inside, "dev", &device],
            ],
        )?;
        self.devices.push(device);
        swanctl(&dir, &["--load-all", "--file"], &[dir.join("swanctl.conf").as_os_str()])?;
        Ok(())
    }

    /// Takes `end`'s static routes and advertised prefixes in place of the running
    /// end's, without restarting a tunnel (see [`End::same_tunnels`], which the caller
    /// checks): static routes that went are removed, the new ones routed at the next
    /// [`Running::poll`]; BIRD reloads its configuration (`birdc configure`).
    pub fn reroute(&mut self, end: End) -> Result<(), VpnError> {
        debug_assert!(self.end.same_tunnels(&end));
        for gone in self.end.static_routes.iter().filter(|r| !end.static_routes.contains(r)) {
            let prefix = gone.prefix.to_string();
            let _ = netns::configure(&self.end.netns, &[&["route", "del", &prefix]]);
        }
        self.static_via.clear();
        let advertise = |e: &End| e.bgp.as_ref().map(|b| b.advertise.clone());
        let reload = advertise(&self.end) != advertise(&end);
        self.end = end;
        if reload {
            if let Some(conf) = render::bird_conf(&self.end, &self.dir) {
                write(&self.dir.join("bird.conf"), &conf)?;
                let said = self.birdc(&["configure"]);
                if !said.contains("Reconfigured") && !said.contains("Reconfiguration in progress") {
                    return Err(VpnError::Daemon(format!("birdc configure: {}", said.trim())));
                }
            }
        }
        Ok(())
    }

    /// Reads every tunnel's state, and moves the static routes to the first tunnel that
    /// is up.
    pub fn poll(&mut self) -> EndStatus {
        let bgp = self.end.bgp.is_some();
        let protocols = if bgp { self.birdc(&["show", "protocols"]) } else { String::new() };
        let mut tunnels = Vec::with_capacity(self.end.tunnels.len());
        for t in &self.end.tunnels {
            let dir = self.dir.join(&t.name);
            let sas = swanctl(&dir, &["--list-sas", "--raw"], &[]).unwrap_or_default();
            let mut s =
                TunnelStatus { ipsec_up: status::child_sa_installed(&sas), ..Default::default() };
            if bgp && t.remote_asn.is_some() {
                let protocol = render::bird_protocol(&t.name);
                s.bgp_established = status::bgp_established(&protocols, &protocol);
                if s.bgp_established {
                    s.routes =
                        status::routes(&self.birdc(&["show", "route", "protocol", &protocol]));
                }
            }
            tunnels.push(s);
        }
        self.static_via.resize(self.end.static_routes.len(), None);
        for index in 0..self.end.static_routes.len() {
            let route = &self.end.static_routes[index];
            let via =
                route.tunnels.iter().copied().find(|&t| tunnels.get(t).is_some_and(|s| s.ipsec_up));
            if self.static_via[index] != Some(via) && self.route_static(route.prefix, via).is_ok() {
                self.static_via[index] = Some(via);
            }
        }
        EndStatus { tunnels }
    }

    /// Points static route `prefix` at tunnel `via`'s interface, or makes it unreachable.
    fn route_static(&self, prefix: Ipv4Net, via: Option<usize>) -> Result<(), VpnError> {
        let prefix = prefix.to_string();
        match via.and_then(|i| self.devices.get(i)) {
            Some(device) => {
                netns::configure(&self.end.netns, &[&["route", "replace", &prefix, "dev", device]])?
            }
            None => {
                netns::configure(&self.end.netns, &[&["route", "replace", "unreachable", &prefix]])?
            }
        }
        Ok(())
    }

    /// `birdc` on this end's control socket; empty when it does not answer.
    fn birdc(&self, args: &[&str]) -> String {
        let socket = self.dir.join("bird.ctl");
        let mut birdc = Command::new(crate::BIRDC);
        birdc.arg("-s").arg(&socket).args(args);
        output_within(birdc)
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Stops the daemons (SIGTERM, then SIGKILL after a grace period). Their files stay,
    /// for the logs.
    pub fn stop(&mut self) {
        if let Some(pid) = read_pid(&self.dir.join("bird.pid")) {
            stop_pid(pid, "bird");
        }
        for child in &mut self.charons {
            let _ = signal(child.id(), false);
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        for child in &mut self.charons {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        self.charons.clear();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops daemons a former run left in `dir` (a restarted vpclab finds them running).
fn stop_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if let Some(pid) = read_pid(&entry.path().join("charon.pid")) {
            stop_pid(pid, "charon-systemd");
        }
    }
    if let Some(pid) = read_pid(&dir.join("bird.pid")) {
        stop_pid(pid, "bird");
    }
}

/// Stops process `pid` if it is still the program `name` (a pid can be reused).
fn stop_pid(pid: u32, name: &str) {
    let is_it =
        || fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name);
    if !is_it() {
        return;
    }
    let _ = signal(pid, false);
    let deadline = Instant::now() + STOP_DEADLINE;
    while is_it() && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    if is_it() {
        let _ = signal(pid, true);
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn write(path: &Path, contents: &str) -> Result<(), VpnError> {
    fs::write(path, contents).map_err(|e| VpnError::Io("write a tunnel's configuration", e))
}

/// The `ipsecN` devices in namespace `ns`.
fn ipsec_devices(ns: &str) -> Result<Vec<String>, VpnError> {
    let out = netns::ip(&["-n", ns, "-o", "link", "show"])?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name))
        .filter(|name| name.starts_with("ipsec"))
        .map(str::to_owned)
        .collect())
}

/// Runs `program args… paths…` inside namespace `ns` to completion.
fn run_in_netns(
    ns: &str,
    program: &[&str],
    paths: &[&std::ffi::OsStr],
) -> Result<Output, VpnError> {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns]).args(program).args(paths);
    let out = output_within(command).map_err(|e| VpnError::Io("run ip netns exec", e))?;
    check(out, program.first().copied().unwrap_or_default())
}

/// `swanctl` against the charon whose files are in `dir` (over its vici socket; no
/// namespace needed).
fn swanctl(dir: &Path, args: &[&str], paths: &[&std::ffi::OsStr]) -> Result<String, VpnError> {
    let uri = format!("unix://{}", dir.join("charon.vici").display());
    let mut command = Command::new(crate::SWANCTL);
    command
        .env("STRONGSWAN_CONF", dir.join("strongswan.conf"))
        .args(args)
        .args(paths)
        .args(["--uri", &uri]);
    let out = output_within(command).map_err(|e| VpnError::Io("run swanctl", e))?;
    check(out, "swanctl").map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Runs `command` to completion, or kills it after [`TOOL_DEADLINE`] (a daemon that
/// hangs must not hang its caller); its output either way.
fn output_within(mut command: Command) -> io::Result<Output> {
    use std::io::Read;
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Drained on threads of their own, so a full pipe never stalls the tool; read with a
    // deadline, since a daemon the tool started may keep the pipes open.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            let _ = send.send(bytes);
        });
        receive
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + TOOL_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let grace = Duration::from_millis(200);
    Ok(Output {
        status,
        stdout: stdout.recv_timeout(grace).unwrap_or_default(),
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
    })
}

fn check(out: Output, program: &str) -> Result<Output, VpnError> {
    if out.status.success() {
        Ok(out)
    } else {
        let mut said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if said.is_empty() {
            said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        Err(VpnError::Daemon(format!("{program} failed ({}): {said}", out.status)))
    }
}

/// The address an end's outside interface answers on for `tunnels`: used by callers to
/// set up the namespace before [`Running::start`].
pub fn outside_addresses(end: &End) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = end.tunnels.iter().map(|t| t.local_outside).collect();
    out.sort_unstable();
    out.dedup();
    out
}
