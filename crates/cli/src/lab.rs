//! The lab front-end: `up`, `down`, `status`, `exec`, and the daemon behind them.
//!
//! `vpclab up` validates the topology into a model, saves it in the state directory and
//! starts `vpclab daemon` in the background, which makes the model real (namespaces,
//! devices, the emulated internet) and runs the forwarder. The two talk over a Unix
//! socket in the state directory (`control.sock`): one line in, one JSON line out.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vpclab_dataplane::host::{self, CHECK_IP, CHECK_IP6, S3, internet_netns};
use vpclab_dataplane::{CounterSnapshot, DropReason};
use vpclab_model::Model;

use crate::topology;

/// The model as JSON: written by `vpclab serve` after every change, read by `status`
/// and `exec` (the database itself stays with the daemon).
pub(crate) const MODEL_FILE: &str = "model.json";
pub(crate) const SOCKET_FILE: &str = "control.sock";
/// Where the daemon's API listens, as `up` started it (for `restart`).
const LISTEN_FILE: &str = "api.addr";
const LOG_FILE: &str = "daemon.log";
pub(crate) const PID_FILE: &str = "daemon.pid";

/// How long `up` waits for the daemon to come up, and `down` for it to go.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `vpclab up` says how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

pub(crate) type Result<T> = std::result::Result<T, String>;

/// The daemon's answer to `status`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DaemonStatus {
    /// The daemon's process id.
    pub(crate) pid: u32,
    /// Generation of the published snapshot.
    pub(crate) generation: u64,
    /// Forwarder counters.
    pub(crate) counters: CounterSnapshot,
    /// Forwarder worker threads (0 from daemons older than workers).
    #[serde(default)]
    pub(crate) workers: usize,
}

pub(crate) fn require_root() -> Result<()> {
    let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if uid == 0 {
        Ok(())
    } else {
        Err("vpclab creates network namespaces and needs root: run it with sudo".into())
    }
}

/// What to say when a command needs a lab and none is up.
pub(crate) const NO_LAB: &str = "no lab is up here: start one with `sudo vpclab up <topology.yaml>` \
     (or `sudo vpclab up` for an empty lab to build through the API), or point at another \
     with --state-dir";

/// The lab's model, or [`NO_LAB`].
pub(crate) fn running_model(state: &Path) -> Result<Model> {
    current_model(state)?.ok_or_else(|| NO_LAB.to_owned())
}

/// The lab's model as of now: its daemon's, when one answers (the mirror may lag it by
/// a moment, see `vpclab_api`'s mirror), else the mirror's.
pub(crate) fn current_model(state: &Path) -> Result<Option<Model>> {
    if state.join(SOCKET_FILE).exists() {
        let answer = ask_within(state, "model", Duration::from_secs(60));
        if let Ok(Ok(model)) = answer.map(|line| serde_json::from_str::<Model>(&line)) {
            return Ok(Some(model));
        }
    }
    load_model(state)
}

/// The model in the state's mirror (see [`current_model`] for the daemon's own).
pub(crate) fn load_model(state: &Path) -> Result<Option<Model>> {
    let path = state.join(MODEL_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: corrupt state ({e})", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn save_model(state: &Path, model: &Model) -> Result<()> {
    fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let text = serde_json::to_string_pretty(model).map_err(|e| e.to_string())?;
    let tmp = state.join(format!("{MODEL_FILE}.tmp"));
    fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, state.join(MODEL_FILE)).map_err(|e| format!("saving the model: {e}"))
}

/// Sends one command to the daemon and reads its one-line answer.
pub(crate) fn ask(state: &Path, command: &str) -> io::Result<String> {
    ask_within(state, command, Duration::from_secs(5))
}

/// [`ask`], waiting up to `timeout` for the answer.
pub(crate) fn ask_within(state: &Path, command: &str, timeout: Duration) -> io::Result<String> {
    let mut stream = UnixStream::connect(state.join(SOCKET_FILE))?;
    stream.set_read_timeout(Some(timeout))?;
    writeln!(stream, "{command}")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}

fn daemon_status(state: &Path) -> Option<DaemonStatus> {
    serde_json::from_str(&ask(state, "status").ok()?).ok()
}

pub(crate) fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// `vpclab up <topology>`.
pub(crate) fn up(file: Option<&Path>, state: &Path, listen: SocketAddr) -> Result<()> {
    let model = match file {
        Some(file) => {
            let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            topology::parse(&text)
                .and_then(|t| topology::build(&t, seed()))
                .map_err(|e| format!("{}: {e}", file.display()))?
        }
        None => Model::new(seed()),
    };
    require_root()?;
    if daemon_status(state).is_some()
        || load_model(state)?.is_some()
        || state.join(vpclab_api::store::FILE).exists()
    {
        return Err(format!(
            "a lab is already up (state in {}); run `vpclab down` first",
            state.display()
        ));
    }
    // The topology's model goes into the same store the API uses; the daemon is
    // `vpclab serve` on it.
    vpclab_api::Store::open(state)?.0.save(&model)?;
    save_model(state, &model)?;
    fs::write(state.join(LISTEN_FILE), listen.to_string()).map_err(|e| e.to_string())?;

    if let Err(e) = start_daemon_showing(state, Some(&model)) {
        let _ = host::teardown(&model);
        let _ = remove_state(state);
        return Err(e);
    }
    print_lab(&model, daemon_status(state).as_ref());
    if file.is_none() {
        println!("\nan empty lab is up: build it through the EC2 API, for example");
        println!("  export AWS_ENDPOINT_URL=http://{listen} AWS_DEFAULT_REGION=us-east-1");
        println!("  aws ec2 create-vpc --cidr-block 10.0.0.0/16");
    }
    println!("\nthe lab is up: `vpclab exec <name> -- <command>` runs a command in an instance;");
    println!(
        "the EC2 API for it answers on http://{listen} (aws --endpoint-url http://{listen} ec2 …)"
    );
    Ok(())
}

/// Starts `vpclab daemon` on the saved model and waits until it answers. A lab of more
/// than a few instances takes a moment: every two seconds, how many of `model`'s
/// instances have their namespace yet.
fn start_daemon(state: &Path) -> Result<()> {
    start_daemon_showing(state, None)
}

fn start_daemon_showing(state: &Path, model: Option<&Model>) -> Result<()> {
    let log = fs::File::create(state.join(LOG_FILE)).map_err(|e| format!("daemon log: {e}"))?;
    let err_log = log.try_clone().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let mut daemon = Command::new(exe)
        .arg("--state-dir")
        .arg(state)
        .arg("serve")
        .arg("--listen")
        .arg(listen_addr(state))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the daemon: {e}"))?;
    let started = Instant::now();
    let deadline = started + START_TIMEOUT;
    let total = model.map_or(0, |m| m.running_instances().count());
    let mut shown = started;
    let mut progress = false;
    loop {
        if daemon_status(state).is_some() {
            if progress {
                eprintln!(
                    "\r  {total} of {total} instances up in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if let Some(model) = model.filter(|_| total > 0 && shown.elapsed() >= PROGRESS_EVERY) {
            let ready = model
                .running_instances()
                .filter(|i| vpclab_sys::netns::exists(i.id.as_str()))
                .count();
            eprint!("\r  {ready} of {total} instances up…");
            progress = true;
            shown = Instant::now();
        }
        if let Ok(Some(status)) = daemon.try_wait() {
            let log = fs::read_to_string(state.join(LOG_FILE)).unwrap_or_default();
            return Err(format!("the daemon failed ({status}):\n{}", log.trim()));
        }
        if Instant::now() >= deadline {
            let _ = daemon.kill();
            let _ = daemon.wait();
            return Err(format!("the daemon did not come up within {START_TIMEOUT:?}"));
        }
        std::thread::sleep(POLL);
    }
}

/// Asks a running daemon to stop and waits until it has; kills it if it does not.
fn stop_daemon(state: &Path) {
    let pid =
        fs::read_to_string(state.join(PID_FILE)).ok().and_then(|p| p.trim().parse::<u32>().ok());
    if ask(state, "stop").is_ok() {
        let deadline = Instant::now() + STOP_TIMEOUT;
        while pid.is_some_and(pid_alive) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
    if let Some(pid) = pid.filter(|&p| pid_alive(p)) {
        // It did not stop in time: make sure no fd keeps a namespace alive.
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while pid_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
    let _ = fs::remove_file(state.join(PID_FILE));
}

/// `vpclab restart`: a new forwarder on the saved model. Devices are persistent, so the
/// instances, their addresses and the processes in them carry on.
pub(crate) fn restart(state: &Path) -> Result<()> {
    require_root()?;
    let model = running_model(state)?;
    stop_daemon(state);
    start_daemon(state)?;
    print_lab(&model, daemon_status(state).as_ref());
    Ok(())
}

fn listen_addr(state: &Path) -> String {
    fs::read_to_string(state.join(LISTEN_FILE))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "127.0.0.1:4566".to_owned())
}

fn remove_state(state: &Path) -> io::Result<()> {
    for file in [MODEL_FILE, SOCKET_FILE, PID_FILE, LISTEN_FILE, vpclab_api::store::FILE] {
        match fs::remove_file(state.join(file)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    // The emulated services' certificates (a new start makes new ones).
    match fs::remove_dir_all(state.join(crate::tls::DIR)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether process `pid` runs (a zombie, killed and not yet reaped, does not).
fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // `pid (comm) state …`: the command may hold spaces and parentheses, the state
    // follows the last `)`.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    state.is_some_and(|state| !matches!(state, "Z" | "X"))
}

/// The lab stored in `state`, its daemon stopped: the database's (the authority: the
/// mirror may lag it if the daemon died), or the mirror's when the database cannot be
/// read.
fn stored_model(state: &Path) -> Result<Option<Model>> {
    let database = state.join(vpclab_api::store::FILE);
    if database.exists() {
        match vpclab_api::Store::open(state) {
            Ok((_, Some(model))) => return Ok(Some(model)),
            Ok((_, None)) => {}
            Err(e) => eprintln!("vpclab: the state database: {e}; reading the mirror"),
        }
    }
    load_model(state)
}

/// `state` as namespace marks name it: absolute, symbolic links resolved as far as the
/// path still exists.
fn as_marked(state: &Path) -> PathBuf {
    fs::canonicalize(state)
        .unwrap_or_else(|_| std::path::absolute(state).unwrap_or_else(|_| state.to_path_buf()))
}

/// `vpclab down`.
pub(crate) fn down(state: &Path) -> Result<()> {
    require_root()?;
    stop_daemon(state);
    let model = stored_model(state)?;
    match &model {
        Some(model) => host::teardown(model).map_err(|e| e.to_string())?,
        None => {
            vpclab_sys::netns::delete(internet_netns()).map_err(|e| e.to_string())?;
        }
    }
    // Whatever else the lab marked as its own (its state may be gone or partial).
    let me = as_marked(state);
    for mark in vpclab_sys::netns::marked() {
        if mark.owner == me {
            vpclab_sys::netns::delete(&mark.name).map_err(|e| e.to_string())?;
        }
    }
    remove_state(state).map_err(|e| format!("{}: {e}", state.display()))?;
    match model {
        Some(model) => println!("the lab is down: {} instances removed", model.instances().count()),
        None => println!("no lab was up"),
    }
    Ok(())
}

/// `vpclab gc`: removes the namespaces of labs whose state is lost — namespaces
/// marked as made by a lab whose state directory no longer holds a lab, or no longer
/// that instance. Namespaces without vpclab's mark are never touched, nor those of a
/// lab whose daemon is running, nor any whose lab's state cannot be read (in doubt,
/// keep).
pub(crate) fn gc(dry_run: bool, only: Option<&Path>) -> Result<()> {
    require_root()?;
    let only = only.map(as_marked);
    let mut removed = 0;
    for vpclab_sys::netns::Mark { name, owner, pid } in vpclab_sys::netns::marked() {
        if only.as_ref().is_some_and(|only| *only != owner) {
            continue;
        }
        if !vpclab_sys::netns::exists(&name) {
            if !dry_run {
                vpclab_sys::netns::unmark(&name);
            }
            continue;
        }
        // A lab whose daemon runs is its own authority: it may be creating this very
        // namespace, marked before the model that names it is written.
        // (Its pid file, or the daemon that marked it: its state directory may be out of
        // this process's sight, in another mount namespace.)
        let daemon = fs::read_to_string(owner.join(PID_FILE))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .into_iter()
            .chain(pid)
            .find(|&pid| pid_alive(pid));
        if daemon.is_some() {
            continue;
        }
        // The database is the authority (a mirror may lag it: a daemon killed between
        // a commit and the mirror's write); the namespace stays if either names it, or
        // if either cannot be read.
        let database = owner.join(vpclab_api::store::FILE);
        let stored = [
            load_model(&owner),
            if database.exists() {
                vpclab_api::Store::open(&owner).map(|(_, model)| model)
            } else {
                Ok(None)
            },
        ];
        let mut keep = false;
        for model in stored {
            match model {
                Ok(Some(model)) => keep |= has_namespace(&model, &name),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("keeping {name}: cannot read its lab at {}: {e}", owner.display());
                    keep = true;
                }
            }
        }
        if keep {
            continue;
        }
        if dry_run {
            println!("would remove {name} (its lab at {} does not have it)", owner.display());
            continue;
        }
        vpclab_sys::netns::delete(&name).map_err(|e| format!("{name}: {e}"))?;
        println!("removed {name} (its lab at {} does not have it)", owner.display());
        removed += 1;
    }
    if !dry_run {
        println!("{removed} orphaned namespace{} removed", if removed == 1 { "" } else { "s" });
    }
    Ok(())
}

/// Whether `model` has the namespace `name`: instances by id, on-premises sites' by
/// their names (whatever the lab's prefix), and the lab's other namespaces (its
/// internet) while the lab exists at all.
fn has_namespace(model: &Model, name: &str) -> bool {
    if name.starts_with("i-") {
        return model.instances().any(|i| i.id.as_str() == name && !i.stopped);
    }
    if !name.contains("onprem-") {
        // A VPN connection's AWS side (`<prefix>vpn-<17 hex digits>`): while the
        // connection lives.
        let vpn = name.rsplit_once("-vpn-").filter(|(prefix, id)| {
            prefix.starts_with("vpclab")
                && id.len() == 17
                && id.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if let Some((_, id)) = vpn {
            return model.vpn_connections().any(|c| c.id.as_str().trim_start_matches("vpn-") == id);
        }
        return true;
    }
    model.onprem_sites().flat_map(|s| s.namespace_suffixes()).any(|suffix| {
        name.strip_suffix(suffix.as_str())
            .is_some_and(|prefix| prefix.starts_with("vpclab-") && prefix.ends_with('-'))
    })
}

/// `vpclab status`.
pub(crate) fn status(state: &Path, json: bool) -> Result<ExitCode> {
    let Some(model) = current_model(state)? else {
        println!("no lab is up");
        return Ok(ExitCode::from(3));
    };
    let daemon = daemon_status(state);
    if json {
        let value = serde_json::json!({
            "model": model,
            "daemon": daemon,
            "onprem_sites": crate::onprem::sites_json(&model),
        });
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?);
        return Ok(ExitCode::SUCCESS);
    }
    print_lab(&model, daemon.as_ref());
    Ok(if daemon.is_some() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_lab(model: &Model, daemon: Option<&DaemonStatus>) {
    println!(
        "{:<12} {:<21} {:<14} {:<15} {:<15}",
        "NAME", "INSTANCE", "SUBNET", "PRIVATE IP", "PUBLIC IP"
    );
    for i in model.instances() {
        let subnet = model
            .subnet(&i.subnet)
            .ok()
            .and_then(|s| s.tags.get("Name").cloned())
            .unwrap_or_else(|| i.subnet.to_string());
        let public = i.public_ip.as_ref().map_or("-".to_owned(), |(ip, _)| ip.to_string());
        println!(
            "{:<12} {:<21} {:<14} {:<15} {:<15}",
            i.name().unwrap_or("-"),
            i.id,
            subnet,
            i.private_ip.map_or("-".to_owned(), |ip| ip.to_string()),
            public
        );
    }
    for n in model.nat_gateways() {
        let subnet = model
            .subnet(&n.subnet)
            .ok()
            .and_then(|s| s.tags.get("Name").cloned())
            .unwrap_or_else(|| n.subnet.to_string());
        let name = n.tags.get("Name").map_or("-", String::as_str);
        let public = match (&n.public, &n.failure) {
            (_, Some(failure)) => format!("failed: {}", failure.code),
            (Some(public), None) => public.public_ip.to_string(),
            (None, None) => "private".to_owned(),
        };
        println!("{name:<12} {:<21} {subnet:<14} {:<15} {public:<15}", n.id, n.private_ip);
    }
    if model.onprem_sites().next().is_some() {
        println!();
        crate::onprem::print_sites(model);
    }
    let tunnels = crate::vpn::table(model);
    if !tunnels.is_empty() {
        println!();
        print!("{tunnels}");
    }
    if let Some(d) = daemon {
        let c = &d.counters;
        println!(
            "\nforwarder: pid {}, {} worker{}, snapshot {}, {} packets in, {} out, {} ICMP errors sent",
            d.pid,
            d.workers,
            if d.workers == 1 { "" } else { "s" },
            d.generation,
            c.rx_packets,
            c.tx_packets,
            c.icmp_sent
        );
        if c.to_services > 0 {
            println!(
                "VPC services: {} packets to the metadata service and Amazon DNS",
                c.to_services
            );
        }
        if c.handed_off > 0 {
            println!("workers: {} packets handed to the worker owning their flow", c.handed_off);
        }
        if c.nat_created > 0 {
            println!(
                "NAT gateways: {} flows tracked, {} created, {} timed out",
                c.nat_flows, c.nat_created, c.nat_expired
            );
        }
        if c.tracked_created > 0 {
            let exceeded = c.dropped(DropReason::ConntrackAllowanceExceeded);
            println!(
                "connection tracking: {} flows tracked, {} created, {} ended or timed out, {} \
                 refused for want of room (conntrack_allowance_exceeded)",
                c.tracked_flows, c.tracked_created, c.tracked_expired, exceeded
            );
        }
        let drops: Vec<String> =
            c.drops.iter().filter(|(_, n)| *n > 0).map(|(r, n)| format!("{r} {n}")).collect();
        if !drops.is_empty() {
            println!("drops: {}", drops.join(", "));
        }
    } else if model.instances().next().is_some() {
        println!("\nforwarder: not running (packets are not moving; `vpclab down` cleans up)");
    }
}

/// `vpclab exec <target> -- <command…>`: replaces this process. The target is an
/// instance (by Name tag or id), or an on-premises site's host (`SITE/HOST`) or router
/// (`SITE/router`, or `SITE`). The command trusts the emulated services' HTTPS (see
/// [`crate::tls`]).
pub(crate) fn exec(state: &Path, target: &str, command: &[String]) -> Result<()> {
    let model = running_model(state)?;
    let namespace = match model.find_instance(target) {
        Some(found) if found.stopped => {
            return Err(format!(
                "{} is stopped: nothing runs in it until `aws ec2 start-instances \
                 --instance-ids {}`",
                found.name().unwrap_or(found.id.as_str()),
                found.id
            ));
        }
        Some(found) => found.id.to_string(),
        // The emulated internet's hosts (check-ip and the rest share its namespace):
        // where a lab tries what the internet can reach.
        None if target == "internet" => internet_netns().to_owned(),
        None => crate::onprem::namespace_for(&model, target)?.ok_or_else(|| {
            let names: Vec<&str> = model.instances().filter_map(|i| i.name()).collect();
            let mut message = format!(
                "no instance {target:?} (by id or unique Name) and no on-premises site; \
                 instances: {}",
                names.join(", ")
            );
            let sites = crate::onprem::all_parts(&model);
            if !sites.is_empty() {
                message.push_str(&format!("; sites: {sites}"));
            }
            message
        })?,
    };
    require_root()?;
    let mut ip = Command::new("ip");
    ip.args(["netns", "exec", &namespace]).args(command);
    // Trust the emulated services' HTTPS: the lab's CA with the system's authorities,
    // also over a bundle the caller's environment names (inside a lab, the emulated
    // services are the only HTTPS servers there are).
    if let Some(bundle) = crate::tls::bundle(state) {
        ip.envs(crate::tls::CLIENT_VARIABLES.map(|variable| (variable, &bundle)));
    }
    let error = ip.exec();
    Err(format!("cannot run ip netns exec: {error}"))
}

/// The AWS services whose public endpoints are vpclab's own API (which answers EC2 and
/// STS `GetCallerIdentity`): `vpclab serve` listens on their addresses in the emulated
/// internet, so instances reach it as `ec2.us-east-1.amazonaws.com` — over the internet
/// path, or privately through an interface endpoint.
pub(crate) const API_SERVICES: [&str; 2] = ["ec2", "sts"];

/// Starts the emulated internet's hosts in their namespace, tied to this process: they
/// get SIGTERM when it ends, however it ends. The kernel ties them to the *thread* that
/// starts them, so call this from the daemon's main thread. With `tls` (the directory
/// [`crate::tls::write`] filled), each host also answers HTTPS on port 443.
pub(crate) fn start_internet_host(tls: Option<&Path>) -> Result<Child> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    let check_ip = SocketAddr::from((CHECK_IP, 80)).to_string();
    // The same check-ip host over IPv6 (its address is `nodad`, so it can be bound as
    // soon as the namespace is set up).
    let check_ip6 = SocketAddr::from((CHECK_IP6, 80)).to_string();
    let s3 = SocketAddr::from((S3, 80)).to_string();
    // The other AWS services' public endpoints answer as the check-ip host does, with the
    // caller's address (which, through an interface endpoint, is its private one).
    let services = vpclab_model::INTERFACE_SERVICES
        .iter()
        .filter(|s| s.address != S3 && !API_SERVICES.contains(&s.short))
        .flat_map(|s| ["--listen".to_owned(), SocketAddr::from((s.address, 80)).to_string()]);
    Command::new("ip")
        .args(["netns", "exec", internet_netns()])
        .arg(exe)
        .args(["internet-host", "--listen", &check_ip, "--listen", &check_ip6, "--listen", &s3])
        .args(services)
        .args(tls.into_iter().flat_map(|dir| [std::ffi::OsStr::new("--tls"), dir.as_os_str()]))
        .args(["--parent", &std::process::id().to_string()])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the internet hosts: {e}"))
}

/// The default state directory.
pub(crate) fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/vpclab")
}
