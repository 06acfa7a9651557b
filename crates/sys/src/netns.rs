//! Named network namespaces, as `ip netns` keeps them (`/run/netns/<name>`).
//!
//! A named namespace is an empty file under `/run/netns` with the namespace's nsfs
//! file bind-mounted on it, `/run/netns` itself being a mount point with shared
//! propagation. [`create`] and [`delete_all`] make and remove exactly that, in this
//! process (a thread that `unshare`s a new network namespace and bind-mounts its own
//! `/proc/thread-self/ns/net`; `umount2(MNT_DETACH)` and `unlink`), so `ip netns exec`,
//! `list`, `pids` and `del` work on them as on their own.
//!
//! Why not `ip`: every `ip -n <name>` and `ip netns exec` unshares a mount namespace,
//! which copies the whole mount table — one mount per named namespace — and tears the
//! copy down when it exits: O(namespaces) per call, O(n²) for a lab. Devices, addresses
//! and routes are still set by iproute2 ([`configure`], one `ip -batch -` per call), but
//! started from a thread already inside the namespace, so it neither switches
//! namespaces nor copies mounts. Code of this process runs inside a namespace with
//! [`run_in`]: `setns(2)` on a thread of its own.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
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

/// Whether the name at `target` (under `/run/netns`) has a namespace mounted on it: an
/// nsfs file, on another device than the directory's.
fn mounted(target: &Path) -> bool {
    match (std::fs::metadata(target), std::fs::metadata(NETNS_DIR)) {
        (Ok(name), Ok(dir)) => name.dev() != dir.dev(),
        _ => false,
    }
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

/// A path as a C string (paths here are built from checked names).
fn c_path(path: &Path) -> Result<CString, NetnsError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        NetnsError::Sys("path", io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a path"))
    })
}

/// Makes `/run/netns` what `ip netns add` makes it: a directory that is a mount point
/// with shared propagation, so that a namespace named later is seen by the mount
/// namespaces `ip netns exec` made earlier (they are its slaves). The propagation is
/// set on the mount point alone, not recursively: a recursive change would walk every
/// namespace's mount, each time.
fn prepare_dir() -> Result<(), NetnsError> {
    match std::fs::DirBuilder::new().mode(0o755).create(NETNS_DIR) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(NetnsError::Sys("create /run/netns", e)),
    }
    let dir = c_path(Path::new(NETNS_DIR))?;
    let mut bound = false;
    loop {
        // SAFETY: `dir` and the literal are NUL-terminated strings that outlive the call;
        // a propagation change takes no source, file system type or data.
        let rc = unsafe {
            libc::mount(
                c"none".as_ptr(),
                dir.as_ptr(),
                c"none".as_ptr(),
                libc::MS_SHARED,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point yet. Make it one by binding it onto itself, once.
        if e.raw_os_error() != Some(libc::EINVAL) || bound {
            return Err(NetnsError::Sys("make /run/netns a shared mount", e));
        }
        // SAFETY: as above; a bind mount of the directory onto itself, no data.
        let rc = unsafe {
            libc::mount(
                dir.as_ptr(),
                dir.as_ptr(),
                c"none".as_ptr(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(NetnsError::Sys("bind /run/netns", io::Error::last_os_error()));
        }
        bound = true;
    }
}

/// Creates a named namespace (with `lo` down: bring it up with [`configure`]), as
/// `ip netns add` does, in this process: an empty file `/run/netns/<name>`, and a
/// thread that unshares a new network namespace and bind-mounts it there, then ends
/// (the mount keeps the namespace). An existing one is left as it is.
pub fn create(name: &str) -> Result<(), NetnsError> {
    check_name(name)?;
    let target = path(name);
    if mounted(&target) {
        return Ok(());
    }
    if target.exists() {
        // A name without a namespace: left by a create that failed half-way. Made
        // again. (`ip netns add` mounts within microseconds of making its file.)
        let _ = std::fs::remove_file(&target);
    }
    prepare_dir()?;
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(&target)
    {
        Ok(_) => {}
        // Made meanwhile by someone else (`ip netns add`): theirs, as it is.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(NetnsError::Sys("create the namespace's file", e)),
    }
    let c_target = c_path(&target)?;
    let made = std::thread::Builder::new()
        .name(format!("netns-add-{name}"))
        .spawn(move || -> Result<(), NetnsError> {
            // SAFETY: unshare(2) takes a flag and touches no memory of ours; it moves
            // only this thread, made for it and ending right after, into a new network
            // namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(NetnsError::Sys("unshare", io::Error::last_os_error()));
            }
            // SAFETY: both paths are NUL-terminated strings that outlive the call; a bind
            // mount reads no file system type or data. The source is this thread's own
            // namespace (`thread-self`: the process's other threads are elsewhere).
            let rc = unsafe {
                libc::mount(
                    c"/proc/thread-self/ns/net".as_ptr(),
                    c_target.as_ptr(),
                    c"none".as_ptr(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                return Err(NetnsError::Sys(
                    "bind-mount the namespace",
                    io::Error::last_os_error(),
                ));
            }
            Ok(())
        })
        .map_err(|e| NetnsError::Sys("spawn namespace thread", e))
        .and_then(|thread| {
            thread.join().unwrap_or_else(|_| {
                Err(NetnsError::Sys("namespace thread", io::Error::other("panicked")))
            })
        });
    if made.is_err() {
        let _ = std::fs::remove_file(&target);
    }
    made
}

/// Runs `commands` — each the arguments of one `ip` command — inside the namespace
/// `name`, with one `ip -batch -` (one process for all of them). The process is
/// started from a thread inside the namespace (see [`run_in`]), so it is born there: no
/// `ip -n`, which would copy the mount table. Stops at the first command that fails.
pub fn configure(name: &str, commands: &[&[&str]]) -> Result<(), NetnsError> {
    check_name(name)?;
    let mut script = String::new();
    for command in commands {
        script.push_str(&command.join(" "));
        script.push('\n');
    }
    let shown = format!("ip -batch - (in {name}) <<< {script:?}");
    run_in(name, move || {
        let mut child = Command::new("ip")
            .args(["-batch", "-"])
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
                command: shown,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    })?
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

/// Whether the namespace `name` has a link named `link` (asked from a thread inside it).
pub fn has_link(name: &str, link: &str) -> bool {
    let Ok(link) = CString::new(link) else { return false };
    run_in(name, move || {
        // SAFETY: `link` is a NUL-terminated string that outlives the call, which only
        // reads it; the answer is an index, 0 when there is no such link.
        unsafe { libc::if_nametoindex(link.as_ptr()) != 0 }
    })
    .unwrap_or(false)
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
    delete_all(&[name])
}

/// [`delete`] of many namespaces at once: one pass over `/proc` finds the processes in
/// any of them (as `ip netns pids` does: the process's `ns/net` is the same file as the
/// name's), then each name is detached from its namespace and removed, as `ip netns del`
/// does. Carries on past a failure and returns the first.
pub fn delete_all<S: AsRef<str>>(names: &[S]) -> Result<(), NetnsError> {
    for name in names {
        check_name(name.as_ref())?;
    }
    // The namespaces by their nsfs identity (device, inode).
    let mut ids = HashMap::new();
    for name in names {
        let target = path(name.as_ref());
        // Only a mounted name is a namespace (an empty file is a name being made).
        if let (true, Ok(meta)) = (mounted(&target), std::fs::metadata(&target)) {
            ids.insert((meta.dev(), meta.ino()), ());
        }
    }
    if !ids.is_empty() {
        kill_members(|id| ids.contains_key(&id));
    }
    let mut first_error = None;
    for name in names {
        let name = name.as_ref();
        if let Err(e) = unlink_name(name) {
            first_error.get_or_insert(e);
        }
        remove_etc(name);
        unmark(name);
    }
    first_error.map_or(Ok(()), Err)
}

/// SIGKILLs every process (but this one) whose network namespace `member` picks.
fn kill_members(member: impl Fn((u64, u64)) -> bool) {
    let Ok(proc) = std::fs::read_dir("/proc") else { return };
    let me = std::process::id();
    for entry in proc.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(ns) = std::fs::metadata(entry.path().join("ns/net")) else { continue };
        if member((ns.dev(), ns.ino())) {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                kill(pid);
            }
        }
    }
}

/// Detaches the name from its namespace and removes it (`ip netns del`); a missing name
/// is not an error.
fn unlink_name(name: &str) -> Result<(), NetnsError> {
    let target = path(name);
    let c_target = c_path(&target)?;
    // SAFETY: `c_target` is a NUL-terminated string that outlives the call; a lazy
    // unmount of the name's bind mount only (a name not mounted fails with EINVAL).
    let rc = unsafe { libc::umount2(c_target.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) {
            return Err(NetnsError::Sys("unmount the namespace's name", e));
        }
    }
    match std::fs::remove_file(&target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetnsError::Sys("remove the namespace's name", e)),
    }
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
