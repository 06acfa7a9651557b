//! TUN devices opened inside a network namespace by a process that stays outside it.
//!
//! The namespace of a TUN device is fixed when `/dev/net/tun` is *opened*, so the open
//! and the `TUNSETIFF` run on a thread switched into the namespace
//! ([`crate::netns::run_in`]); afterwards the file descriptor works from any thread.
//! Devices are made persistent, so they keep their addresses and routes — and the
//! processes using them keep running — while the forwarder restarts; a restart opens
//! the same device again by name.
//!
//! Every device carries a virtio-net header ([`VNET_HDR_LEN`] bytes) in front of each
//! packet, both ways, and has checksum and segmentation offloads on: the kernel hands
//! over TCP and UDP packets with partial checksums and GSO super-packets of up to 64 KiB
//! instead of cutting them into MTU-sized segments, and accepts them the same way. A
//! read buffer must hold the header and 64 KiB, or the kernel silently truncates.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::netns::{self, NetnsError};

const CLONE_DEVICE: &str = "/dev/net/tun";

/// Most queues a device can have (the kernel's `MAX_TAP_QUEUES`).
pub const MAX_QUEUES: usize = 256;

/// `_IOR('T', 224, int)`: not in `libc`.
const TUNSETSTEERINGEBPF: libc::Ioctl = 0x8004_54e0;

/// Length of the virtio-net header in front of every packet read or written.
pub const VNET_HDR_LEN: usize = 10;

/// Offloads asked for: checksums, TCP segmentation (with ECN) for both families, and
/// UDP segmentation (kernels from 6.2 on; without it, UDP arrives in datagrams).
const OFFLOADS: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
const OFFLOADS_UDP: libc::c_uint = libc::TUN_F_USO4 | libc::TUN_F_USO6;

/// One open queue of a TUN device: `IFF_TUN | IFF_NO_PI | IFF_VNET_HDR |
/// IFF_MULTI_QUEUE` with offloads, non-blocking, close-on-exec.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
}

/// Flags of every queue: a multiqueue TUN without packet info, with virtio-net headers.
const FLAGS: libc::c_int =
    libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_VNET_HDR | libc::IFF_MULTI_QUEUE;

impl Tun {
    /// Opens `queues` queues (at least one) of the multiqueue TUN device `ifname` inside
    /// the namespace `netns`, creating it (and making it persistent) if it does not
    /// exist yet. The kernel spreads the device's flows over the queues, keeping each
    /// flow on the queue that last wrote packets of it.
    pub fn open_queues_in(
        netns: &str,
        ifname: &str,
        queues: usize,
    ) -> Result<Vec<Tun>, NetnsError> {
        if ifname.is_empty() || ifname.len() >= libc::IFNAMSIZ || ifname.contains(['/', ' ']) {
            return Err(NetnsError::BadName(ifname.to_owned()));
        }
        if !(1..=MAX_QUEUES).contains(&queues) {
            return Err(NetnsError::Sys(
                "open TUN device",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{queues} queues (1 to {MAX_QUEUES})"),
                ),
            ));
        }
        let name = ifname.to_owned();
        netns::run_in(netns, move || Tun::open_here(&name, queues))?
            .map_err(|e| NetnsError::Sys("open TUN device", e))
    }

    /// Opens the queues in the calling thread's namespace.
    fn open_here(ifname: &str, queues: usize) -> io::Result<Vec<Tun>> {
        let first = match Tun::attach(ifname, FLAGS) {
            // A device an older vpclab made without IFF_MULTI_QUEUE: delete it (its
            // addresses and routes go with it; the caller configures the new one).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                let old = Tun::attach(ifname, FLAGS & !libc::IFF_MULTI_QUEUE)?;
                old.set_persist(false)?;
                drop(old);
                Tun::attach(ifname, FLAGS)?
            }
            other => other?,
        };
        first.set_offloads()?;
        first.set_persist(true)?;
        let mut all = vec![first];
        for _ in 1..queues {
            all.push(Tun::attach(ifname, FLAGS)?);
        }
        Ok(all)
    }

    /// Opens `/dev/net/tun` and attaches the fd to `ifname` (creating the device).
    fn attach(ifname: &str, flags: libc::c_int) -> io::Result<Tun> {
        // O_CLOEXEC: a child that inherited the fd would keep the device up after the
        // forwarder exits, and traffic would vanish into it.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(CLONE_DEVICE)?;

        // SAFETY: `ifreq` is a plain C struct for which all-zero bytes are a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, &src) in req.ifr_name.iter_mut().zip(ifname.as_bytes()) {
            *dst = src as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is, for the
        // duration of the call; the fd is open.
        if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tun { file, name: ifname.to_owned() })
    }

    /// Sets the header length and turns the offloads on. The order matters: offloads
    /// without the header would leave TCP with unfinished checksums.
    fn set_offloads(&self) -> io::Result<()> {
        let len = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one `int` through the pointer, which points to
        // `len` for the duration of the call; the fd is an attached TUN.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), libc::TUNSETVNETHDRSZ, &len) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let set = |flags: libc::c_uint| {
            // SAFETY: TUNSETOFFLOAD takes its argument by value; the fd is an attached
            // TUN with IFF_VNET_HDR.
            let rc = unsafe {
                libc::ioctl(self.file.as_raw_fd(), libc::TUNSETOFFLOAD, libc::c_ulong::from(flags))
            };
            if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
        };
        // Kernels before 6.2 refuse USO with EINVAL: fall back to TCP offloads only.
        set(OFFLOADS | OFFLOADS_UDP).or_else(|_| set(OFFLOADS))
    }

    /// Another handle on the same queue (a duplicated fd, close-on-exec): for a second
    /// thread that only writes.
    pub fn try_clone(&self) -> io::Result<Tun> {
        Ok(Tun { file: self.file.try_clone()?, name: self.name.clone() })
    }

    /// The device's name inside its namespace.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the device outlives this file descriptor. A persistent device is deleted
    /// with its namespace, or by clearing this and closing the fd.
    pub fn set_persist(&self, persist: bool) -> io::Result<()> {
        // SAFETY: TUNSETPERSIST takes its argument by value; the fd is an attached TUN.
        let rc = unsafe {
            libc::ioctl(self.file.as_raw_fd(), libc::TUNSETPERSIST, libc::c_ulong::from(persist))
        };
        if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Lets `program` choose the queue of each packet the device sends (all its queues:
    /// the setting is the device's). See [`crate::bpf`].
    pub fn set_steering(&self, program: &crate::bpf::SteeringProgram) -> io::Result<()> {
        let fd: libc::c_int = program.as_raw_fd();
        // SAFETY: TUNSETSTEERINGEBPF reads one `int` (a program fd, or -1) through the
        // pointer, which points to `fd` for the duration of the call.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), TUNSETSTEERINGEBPF, &fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads one packet behind its virtio-net header. `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the kernel writes at
        // most that many.
        let n = unsafe { libc::read(self.file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    }

    /// Writes one packet behind its virtio-net header. Never blocks: when the device's
    /// queue is full the kernel drops the packet.
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        // SAFETY: `packet` is valid for reads of `packet.len()` bytes.
        let n = unsafe { libc::write(self.file.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    }
}

impl AsFd for Tun {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}
