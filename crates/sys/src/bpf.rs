//! eBPF programs that steer a multiqueue TUN device's packets to its queues.
//!
//! The kernel picks the queue a packet a TUN device sends goes to — which forwarder
//! worker reads it. Without help it hashes the flow with a key of its own, so a flow's
//! packets can land on a worker that does not own the flow and have to be handed over.
//! `TUNSETSTEERINGEBPF` lets a socket-filter program decide instead: the kernel runs it
//! on each packet and takes its return value (modulo the queue count) as the queue.
//! What the program computes is the data plane's business (`dataplane::steer`); loading
//! and attaching it is this module's.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One eBPF instruction, as the kernel reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low four bits, source register in the high four.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// Most instructions a steering program may have (far below the kernel's limit).
pub const MAX_INSNS: usize = 4096;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// The `bpf_attr` fields of `BPF_PROG_LOAD` up to `prog_flags`: the rest of the union
/// must be zero, and is, by not being passed. No padding: every byte the kernel reads is
/// a field this code sets (padding would reach the kernel as garbage flags).
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

// Eight fields, no padding in between or after.
const _: () = assert!(std::mem::size_of::<ProgLoad>() == 48);

/// A loaded steering program. Devices it is attached to keep their own reference, so
/// it may be dropped once attached.
#[derive(Debug)]
pub struct SteeringProgram {
    fd: OwnedFd,
}

impl SteeringProgram {
    /// Loads `insns` as a socket-filter program; the verifier's complaint, if any, is
    /// the error's message.
    pub fn load(insns: &[Insn]) -> io::Result<Self> {
        if insns.is_empty() || insns.len() > MAX_INSNS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} instructions (1 to {MAX_INSNS})", insns.len()),
            ));
        }
        // Without a log first: a log buffer too small for what the verifier says fails
        // a valid program. Only a refused one is loaded again, for the reason.
        let fd = match load(insns, None) {
            Ok(fd) => fd,
            Err(error) => {
                let mut log = vec![0u8; 64 * 1024];
                let _ = load(insns, Some(&mut log));
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let log = String::from_utf8_lossy(&log[..end]);
                let last = log.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
                return Err(io::Error::new(error.kind(), format!("{error}: {last}")));
            }
        };
        // SAFETY: a non-negative result of BPF_PROG_LOAD is a new fd that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(Self { fd })
    }
}

/// One `BPF_PROG_LOAD` of `insns`, with the verifier's log in `log` if given.
fn load(insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<libc::c_long> {
    let license = c"GPL";
    let (log_level, log_size, log_buf) = match log {
        Some(log) => (1, log.len() as u32, log.as_mut_ptr() as u64),
        None => (0, 0, 0),
    };
    let attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: `attr` is a valid prefix of `bpf_attr` for BPF_PROG_LOAD, of the size
    // passed; the instructions, the license and the log buffer it points to outlive the
    // call, and the kernel writes at most `log_size` bytes of log.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoad,
            std::mem::size_of::<ProgLoad>(),
        )
    };
    if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(fd) }
}

impl AsRawFd for SteeringProgram {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
