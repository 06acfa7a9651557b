//! Named network namespaces, as `ip netns` keeps them (`/run/netns/<name>`).
//!
//! Creating, deleting and configuring namespaces is control-plane work done a few
//! times per instance, so it goes through iproute2's `ip`, the reference tool whose
//! bind-mount handling under `/run/netns` every other tool agrees with. Only what `ip`
//! cannot do for us — running code of this process *inside* a namespace, to open a TUN
//! there — is done here with `setns(2)`, on a thread of its own.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Where `ip netns exec <name>` finds files it bind-mounts over `/etc` for the command
/// (`/etc/netns/<name>/resolv.conf`, …).
pub const ETC_DIR: &str = "/etc/netns";

/// Writes `/etc/netns/<name>/<file>`: what a command run with `ip netns exec <name>`
/// sees as `/etc/<file>`. Removed with the namespace by [`delete`].
pub fn write_etc(name: &str, file: &str, contents: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    if file.is_empty() || file.contains('/') || file.starts_with('.') {
        return Err(NetnsError::BadName(file.to_owned()));
    }
    let dir = PathBuf::from(ETC_DIR).join(name);
    std::fs::create_dir_all(&dir).map_err(|e| NetnsError::Sys("create /etc/netns entry", e))?;
    std::fs::write(dir.join(file), contents)
        .map_err(|e| NetnsError::Sys("write /etc/netns entry", e))
}

/// Errors from namespace operations.
#[derive(Debug)]
pub enum NetnsError {
    /// The name is empty, too long, or has characters a namespace name cannot have.
    BadName(String),
    /// Running `ip` failed to start.
    Spawn(io::Error),
    /// `ip` ran and failed.
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A system call failed.
    Sys(&'static str, io::Error),
}

impl std::fmt::Display for NetnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsError::BadName(name) => write!(f, "invalid namespace name {name:?}"),
            NetnsError::Spawn(e) => write!(f, "cannot run `ip` (is iproute2 installed?): {e}"),
            NetnsError::Command { command, stderr } => write!(f, "`{command}` failed: {stderr}"),
            NetnsError::Sys(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for NetnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NetnsError::Spawn(e) | NetnsError::Sys(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Checks a namespace name: 1 to 64 characters of `[A-Za-z0-9._-]`, not starting with a
/// dot. Names become paths under `/run/netns`, so nothing else is let through.
pub fn check_name(name: &str) -> Result<(), NetnsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(NetnsError::BadName(name.to_owned())) }
}

/// The path of a named namespace.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

/// Whether a named namespace exists.
pub fn exists(name: &str) -> bool {
    check_name(name).is_ok() && path(name).exists()
}

/// Names of all named namespaces.
pub fn list() -> io::Result<Vec<String>> {
    match std::fs::read_dir(NETNS_DIR) {
        Ok(dir) => {
            let mut names: Vec<String> =
                dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
            names.sort();
            Ok(names)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Runs `ip <args>`, failing with its stderr if it fails.
pub fn ip(args: &[&str]) -> Result<Output, NetnsError> {
    let out =
        Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(NetnsError::Spawn)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(NetnsError::Command {
            command: format!("ip {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Where vpclab notes which lab made each namespace: one file per namespace, named
/// after it, holding the lab's state directory. On tmpfs, like `/run/netns`, so both go
/// at reboot together.
pub const OWNERS_DIR: &str = "/run/vpclab/owners";

/// Marks the namespace `name` as made by the lab whose state directory is `owner`, run
/// by this process, so that `vpclab gc` can find it if that state is lost. Namespaces
/// without a mark are never anyone's to remove.
pub fn mark(name: &str, owner: &Path) -> Result<(), NetnsError> {
    check_name(name)?;
    let owner = std::fs::canonicalize(owner).unwrap_or_else(|_| owner.to_path_buf());
    let Some(owner) = owner.to_str() else {
        return Err(NetnsError::Sys(
            "write owner mark",
            io::Error::new(io::ErrorKind::InvalidInput, "a state directory that is not UTF-8"),
        ));
    };
    std::fs::create_dir_all(OWNERS_DIR).map_err(|e| NetnsError::Sys("create owners dir", e))?;
    let text = format!("{owner}\n{}\n", std::process::id());
    std::fs::write(PathBuf::from(OWNERS_DIR).join(name), text)
        .map_err(|e| NetnsError::Sys("write owner mark", e))
}

/// A namespace's mark: the state directory of the lab that made it, and the process
/// that made it (its daemon then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The namespace.
    pub name: String,
    /// The lab's state directory.
    pub owner: PathBuf,
    /// The daemon that made it, if the mark says.
    pub pid: Option<u32>,
}

/// Every marked namespace, by name (marks whose namespace is gone included).
pub fn marked() -> Vec<Mark> {
    let Ok(dir) = std::fs::read_dir(OWNERS_DIR) else { return Vec::new() };
    let mut marks: Vec<Mark> = dir
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            check_name(&name).ok()?;
            let text = std::fs::read_to_string(entry.path()).ok()?;
            let mut lines = text.lines();
            let owner = PathBuf::from(lines.next()?);
            let pid = lines.next().and_then(|p| p.trim().parse().ok());
            Some(Mark { name, owner, pid })
        })
        .collect();
    marks.sort_by(|a, b| a.name.cmp(&b.name));
    marks
}

/// Removes the mark of `name`, if any.
pub fn unmark(name: &str) {
    if check_name(name).is_ok() {
        let _ = std::fs::remove_file(PathBuf::from(OWNERS_DIR).join(name));
    }
}

/// Creates a named namespace. An existing one is left as it is; bring `lo` up with
/// [`configure`].
pub fn create(name: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    if !exists(name) {
        ip(&["netns", "add", name])?;
    }
    Ok(())
}

/// Runs `commands` — each the arguments of one `ip` command — inside the namespace
/// `name`, with one `ip -n <name> -batch -` (one process for all of them: creating a
/// thousand instances is dominated by process starts). Stops at the first that fails.
pub fn configure(name: &str, commands: &[&[&str]]) -> Result<(), NetnsError> {
    check_name(name)?;
    let mut script = String::new();
    for command in commands {
        script.push_str(&command.join(" "));
        script.push('\n');
    }
    let shown = || format!("ip -n {name} -batch - <<< {script:?}");
    let mut child = Command::new("ip")
        .args(["-n", name, "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NetnsError::Spawn)?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().map_err(NetnsError::Spawn)?;
    if out.status.success() && matches!(written, Some(Ok(()))) {
        Ok(())
    } else {
        Err(NetnsError::Command {
            command: shown(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Runs `program args…` inside the namespace `name` (with `ip netns exec`), `input` on
/// its standard input; fails with its stderr if it fails. For the few tools besides `ip`
/// that configure a namespace (`nft` for an on-premises router's NAT).
pub fn exec(name: &str, program: &str, args: &[&str], input: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    let shown = || format!("ip netns exec {name} {program} {}", args.join(" "));
    let mut child = Command::new("ip")
        .args(["netns", "exec", name, program])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NetnsError::Spawn)?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(NetnsError::Spawn)?;
    if out.status.success() && matches!(written, Some(Ok(()))) {
        Ok(())
    } else {
        Err(NetnsError::Command {
            command: shown(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Whether the namespace `name` has a link named `link`.
pub fn has_link(name: &str, link: &str) -> bool {
    check_name(name).is_ok() && ip(&["-n", name, "link", "show", "dev", link]).is_ok()
}

/// Sets `sysctl`s (`net.ipv6.conf.all.disable_ipv6`, …) of the namespace `name`, from a
/// thread inside it: `/proc/sys/net` shows the namespace of the thread that opens it.
pub fn sysctls(name: &str, settings: &[(&str, &str)]) -> Result<(), NetnsError> {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(key, value)| (format!("/proc/sys/{}", key.replace('.', "/")), (*value).to_owned()))
        .collect();
    run_in(name, move || {
        for (path, value) in &settings {
            std::fs::write(path, value).map_err(|e| NetnsError::Sys("write sysctl", e))?;
        }
        Ok(())
    })?
}

/// Kills every process in the namespace, then deletes it. Deleting a missing one is
/// not an error.
///
/// Devices in the namespace go with it, provided nothing else (such as a forwarder
/// holding a TUN fd) keeps the namespace alive: close those first.
pub fn delete(name: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    if !exists(name) {
        remove_etc(name);
        unmark(name);
        return Ok(());
    }
    if let Ok(out) = ip(&["netns", "pids", name]) {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<libc::pid_t>() {
                kill(pid);
            }
        }
    }
    ip(&["netns", "del", name])?;
    remove_etc(name);
    unmark(name);
    Ok(())
}

/// Removes `/etc/netns/<name>` (what [`write_etc`] wrote), if there is one.
fn remove_etc(name: &str) {
    let _ = std::fs::remove_dir_all(PathBuf::from(ETC_DIR).join(name));
}

fn kill(pid: libc::pid_t) {
    // SAFETY: kill(2) takes plain integers and has no memory effects; a stale pid at
    // worst fails with ESRCH, which is ignored.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Runs `f` on a new thread switched into the namespace `name`, and returns its result.
///
/// `setns(2)` moves only the calling thread, and everything that thread creates
/// (sockets, devices, threads, processes) belongs to the namespace it is in. So `f`
/// runs on a thread of its own that is never switched back: it ends when `f` returns.
/// The caller's threads never leave the root namespace.
pub fn run_in<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, NetnsError> {
    check_name(name)?;
    let ns = File::open(path(name)).map_err(|e| NetnsError::Sys("open namespace", e))?;
    let thread = std::thread::Builder::new()
        .name(format!("netns-{name}"))
        .spawn(move || -> Result<T, NetnsError> {
            // SAFETY: `ns` is an open namespace file we own for the duration of the call;
            // setns only changes this thread's network namespace.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(NetnsError::Sys("setns", io::Error::last_os_error()));
            }
            drop(ns);
            Ok(f())
        })
        .map_err(|e| NetnsError::Sys("spawn namespace thread", e))?;
    thread.join().map_err(|_| {
        NetnsError::Sys("namespace thread", io::Error::other("panicked inside the namespace"))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("i-0abc").is_ok());
        assert!(check_name("vpclab-internet").is_ok());
        for bad in ["", ".hidden", "a/b", "../etc", "with space", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(!exists("../etc"));
    }
}
