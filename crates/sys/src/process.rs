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
