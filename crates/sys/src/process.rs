//! Processes: a helper's tie to its parent, and signals to the daemons vpclab runs.

use std::io;

/// Asks the kernel to send this process SIGTERM when the thread that started it exits,
/// so that a helper process (the emulated internet's hosts) never outlives the daemon
/// that started it, not even one killed with SIGKILL. If that parent is already gone
/// (`parent` is no longer the parent), returns an error: the caller should exit.
pub fn die_with_parent(parent: u32) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes plain integers, reads and writes no
    // memory of ours, and only sets a signal to be delivered to this process.
    let set = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) };
    if set != 0 {
        return Err(io::Error::last_os_error());
    }
    // The parent may have died before the request: then no signal will come.
    if std::os::unix::process::parent_id() != parent {
        return Err(io::Error::other("the parent process is gone"));
    }
    Ok(())
}

/// Sends `pid` SIGTERM (or, with `force`, SIGKILL). A process that is already gone is
/// not an error.
pub fn signal(pid: u32, force: bool) -> io::Result<()> {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    if pid <= 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let sig = if force { libc::SIGKILL } else { libc::SIGTERM };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; `pid` is
    // positive, so it names one process, never a group.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) { Ok(()) } else { Err(error) }
}

/// How many open files `vpclab serve` asks for: each instance holds one fd per
/// forwarder worker and one more for the VPC's services, so 10,000 instances with 8
/// workers need 90,000, and 262,144 leaves room for 25,000 of them.
pub const OPEN_FILES_WANTED: u64 = 1 << 18;

/// Raises this process's open-file limit (`RLIMIT_NOFILE`) to at least `wanted`, as far
/// as the system allows (`fs.nr_open`): the hard limit too when the process may
/// (`CAP_SYS_RESOURCE`), else the soft limit up to the hard one. Never lowers either.
/// Returns the soft limit now in force.
pub fn raise_open_files(wanted: u64) -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one `rlimit` into the valid, exclusively borrowed `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(limit.rlim_max);
    let target = wanted.min(ceiling).max(limit.rlim_cur);
    if target <= limit.rlim_cur {
        return Ok(limit.rlim_cur);
    }
    let raised = libc::rlimit { rlim_cur: target, rlim_max: target.max(limit.rlim_max) };
    // SAFETY: setrlimit reads one `rlimit` from the valid `raised`; it fails with EPERM,
    // changing nothing, when the hard limit may not be raised.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return Ok(raised.rlim_cur);
    }
    let soft = libc::rlimit { rlim_cur: target.min(limit.rlim_max), rlim_max: limit.rlim_max };
    // SAFETY: as above; a soft limit up to the hard one is always allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(soft.rlim_cur)
}
