//! Packet I/O through io_uring: many packets per system call, none copied between the
//! read and the write.
//!
//! A [`PacketRing`] belongs to the one thread that made it. The ring is set up
//! single-issuer with deferred task work, so the kernel reads packets when that thread
//! asks for completions, never by interrupting it. Each watched device has one
//! multishot read armed on it: for every packet that arrives the kernel takes a buffer
//! from a ring of provided buffers, reads the packet into it and posts one completion.
//! The thread runs the packet and then either gives the buffer back or queues it to be
//! written to another device straight from where it was read. Queued writes reach the
//! kernel with the next [`PacketRing::wait`], in the same system call that collects the
//! next packets.
//!
//! Devices are registered files: the ring holds its own reference to each, so a write
//! queued for a device that is then unwatched fails cleanly (`EBADF`) instead of going
//! to whatever file reused its number.
//!
//! Who owns a buffer is a moved token, [`Buffer`]: the kernel's (in the provided ring,
//! or being read into), the caller's (from its [`Event::Packet`] until
//! [`PacketRing::write`] or [`PacketRing::release`]), or a device's (from `write` until
//! its [`Event::Written`]). The buffers' memory lives as long as the ring; dropping the
//! ring cancels every request and waits for them before unmapping it.

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use io_uring::types::{BufRingEntry, CancelBuilder, Fixed, SubmitArgs, Timespec};
use io_uring::{IoUring, Probe, cqueue, opcode, squeue};

/// The provided-buffer group of every ring (one group per ring).
const GROUP: u16 = 0;
/// Submission queue entries; the completion queue is [`CQ_ENTRIES`].
const SQ_ENTRIES: u32 = 256;
const CQ_ENTRIES: u32 = 4096;
/// How long dropping a ring waits for the kernel to give its requests up.
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// What a completion is, in the top bits of its user data: `kind << 62 | buffer << 32
/// | token`.
const KIND_SHIFT: u32 = 62;
const KIND_CANCEL: u64 = 0;
const KIND_READ: u64 = 1;
const KIND_WRITE: u64 = 2;
const KIND_WAKE: u64 = 3;

fn user_data(kind: u64, token: u32, buffer: u16) -> u64 {
    kind << KIND_SHIFT | u64::from(buffer) << 32 | u64::from(token)
}

/// A buffer of the ring that the caller holds: the packet of an [`Event::Packet`]. It
/// goes back by [`PacketRing::write`] or [`PacketRing::release`]; one that is dropped
/// instead is lost to the ring until the ring is dropped.
#[must_use = "a buffer goes back to the ring by `write` or `release`"]
#[derive(Debug, PartialEq, Eq)]
pub struct Buffer {
    id: u16,
    /// The ring it belongs to: a token of another ring is refused, not trusted.
    ring: u32,
}

/// Each ring's identity, for its buffers' tokens.
static RINGS: AtomicU32 = AtomicU32::new(0);

/// What happened: one completion of the ring.
#[derive(Debug)]
pub enum Event {
    /// A packet of `len` bytes read from the device watched as `token`, at the start of
    /// `buffer` ([`PacketRing::packet`]).
    Packet { token: u32, buffer: Buffer, len: usize },
    /// The read on `token` stopped, for the reason given.
    Stopped { token: u32, why: Stop },
    /// A write queued with [`PacketRing::write`] to `token` completed; its buffer is
    /// back in the ring.
    Written { token: u32, result: io::Result<usize> },
    /// The wake-up file given to [`PacketRing::wake_on`] became readable.
    Woken,
}

/// Why a device's read stopped.
#[derive(Debug)]
pub enum Stop {
    /// [`PacketRing::unwatch`] cancelled it.
    Cancelled,
    /// It found no free buffer, or the kernel's completion queue was full:
    /// [`PacketRing::rearm`] it once buffers are back.
    Starved,
    /// The device failed (its namespace went, say).
    Failed(io::Error),
}

/// One thread's io_uring for packet I/O (see the module documentation).
pub struct PacketRing {
    ring: IoUring,
    /// Dropped by hand: only once the kernel has let go of every buffer.
    pool: ManuallyDrop<Pool>,
    /// Slots in the registered-file table (tokens are slots).
    files: u32,
    wake: Option<RawFd>,
    /// The wake-up poll ended and could not be armed again yet.
    wake_pending: bool,
    /// Requests the kernel holds: armed reads, writes in flight, the wake-up poll.
    in_flight: usize,
    /// This ring's identity in its buffers' tokens.
    id: u32,
    /// Each token's read generation, in the read's user data: a read that ends after
    /// its token was unwatched (whatever its result) is reported as cancelled.
    generation: Vec<u16>,
}

impl std::fmt::Debug for PacketRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketRing")
            .field("buffers", &self.pool.entries)
            .field("buffer_len", &self.pool.buffer_len)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl PacketRing {
    /// A ring with `buffers` provided buffers (a power of two, at most 32,768) of
    /// `buffer_len` bytes each, and room for devices with tokens below `files` — or
    /// below the process's limit of open files, if that is lower (the kernel's rule for
    /// a registered-file table). `Unsupported` when the kernel lacks what it needs
    /// (multishot reads: Linux 6.7).
    pub fn new(buffers: u16, buffer_len: usize, files: u32) -> io::Result<Self> {
        if !buffers.is_power_of_two() || buffers > 1 << 15 {
            return Err(invalid(format!("{buffers} buffers: a power of two up to 32768")));
        }
        if buffer_len == 0 || u32::try_from(buffer_len).is_err() {
            return Err(invalid(format!("buffers of {buffer_len} bytes")));
        }
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .setup_cqsize(CQ_ENTRIES)
            .build(SQ_ENTRIES)?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        let needed = [
            opcode::ReadMulti::CODE,
            opcode::Write::CODE,
            opcode::PollAdd::CODE,
            opcode::AsyncCancel2::CODE,
        ];
        if !needed.iter().all(|&code| probe.is_supported(code))
            || !ring.params().is_feature_ext_arg()
        {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's io_uring lacks multishot reads (Linux 6.7 and later have them)",
            ));
        }
        let files = files.min(open_files_limit()).max(1);
        ring.submitter().register_files_sparse(files)?;
        let pool = Pool::new(buffers, buffer_len)?;
        // SAFETY: the entries of `pool`'s ring stay mapped until the ring is dropped,
        // which unregisters them first (`Drop` below) or leaks them.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(pool.base as u64, buffers, GROUP, 0)?;
        }
        Ok(Self {
            ring,
            pool: ManuallyDrop::new(pool),
            files,
            wake: None,
            wake_pending: false,
            in_flight: 0,
            id: RINGS.fetch_add(1, Ordering::Relaxed),
            generation: Vec::new(),
        })
    }

    /// Bytes in each buffer.
    pub fn buffer_len(&self) -> usize {
        self.pool.buffer_len
    }

    /// Registers `fd` as `token` and arms a multishot read on it: from now on each
    /// packet read from it is an [`Event::Packet`]. The ring keeps its own reference to
    /// the file until [`PacketRing::unwatch`].
    pub fn watch(&mut self, fd: BorrowedFd<'_>, token: u32) -> io::Result<()> {
        if token >= self.files {
            return Err(invalid(format!("token {token}: the ring has {} file slots", self.files)));
        }
        self.ring.submitter().register_files_update(token, &[fd.as_raw_fd()])?;
        if self.generation.len() <= token as usize {
            self.generation.resize(token as usize + 1, 0);
        }
        self.rearm(token)
    }

    /// Arms the read on `token` again after it [stopped](Event::Stopped).
    pub fn rearm(&mut self, token: u32) -> io::Result<()> {
        let generation = self.generation.get(token as usize).copied().unwrap_or(0);
        let read = opcode::ReadMulti::new(Fixed(token), 0, GROUP)
            .build()
            .user_data(user_data(KIND_READ, token, generation));
        self.push(&read)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Stops reading `token` and drops the ring's reference to its file. A read armed
    /// on it ends with [`Stop::Cancelled`] — also one that was ending anyway, for want
    /// of buffers or by an error, and had not been reaped yet; writes to it still queued
    /// fail.
    pub fn unwatch(&mut self, token: u32) -> io::Result<()> {
        let Some(generation) = self.generation.get_mut(token as usize) else {
            return Ok(()); // Never watched.
        };
        let armed = *generation;
        *generation = generation.wrapping_add(1);
        let cancel = opcode::AsyncCancel2::new(
            CancelBuilder::user_data(user_data(KIND_READ, token, armed)).all(),
        )
        .build()
        .user_data(user_data(KIND_CANCEL, token, 0));
        self.push(&cancel)?;
        self.submit()?;
        self.ring.submitter().register_files_update(token, &[-1])?;
        Ok(())
    }

    /// Reports an [`Event::Woken`] each time `fd` (an eventfd, say) becomes readable.
    /// The caller drains it.
    pub fn wake_on(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.wake = Some(fd.as_raw_fd());
        self.arm_wake()
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        self.wake_pending = false;
        let Some(fd) = self.wake else { return Ok(()) };
        let poll = opcode::PollAdd::new(io_uring::types::Fd(fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(user_data(KIND_WAKE, 0, 0));
        if let Err(e) = self.push(&poll) {
            self.wake_pending = true; // Tried again before the next wait.
            return Err(e);
        }
        self.in_flight += 1;
        Ok(())
    }

    /// The first `len` bytes of a held buffer: the packet of its [`Event::Packet`], to
    /// read and rewrite in place.
    pub fn packet(&mut self, buffer: &Buffer) -> &mut [u8] {
        let id = self.own(buffer);
        // SAFETY: a `Buffer` token of this ring (checked) exists only for a buffer the
        // kernel handed over and that was not given back (the token is moved into
        // `write`/`release`), so the kernel neither reads nor writes it now; `&mut self`
        // makes the slice unique.
        unsafe { std::slice::from_raw_parts_mut(self.pool.buffer(id), self.pool.buffer_len) }
    }

    /// The id of `buffer`, which must be this ring's.
    fn own(&self, buffer: &Buffer) -> u16 {
        assert_eq!(buffer.ring, self.id, "a buffer of another ring");
        buffer.id
    }

    /// Gives a buffer back to the ring, for the kernel to read into again.
    pub fn release(&mut self, buffer: Buffer) {
        let id = self.own(&buffer);
        self.pool.give(id);
    }

    /// Queues the first `len` bytes of `buffer` to be written to the device watched as
    /// `token`. The buffer goes back to the ring once written ([`Event::Written`]).
    pub fn write(&mut self, token: u32, buffer: Buffer, len: usize) -> io::Result<()> {
        let len = len.min(self.pool.buffer_len) as u32;
        let id = self.own(&buffer);
        let write = opcode::Write::new(Fixed(token), self.pool.buffer(id), len)
            .build()
            .user_data(user_data(KIND_WRITE, token, id));
        // On an error the buffer goes back now: the kernel never saw it.
        if let Err(e) = self.push(&write) {
            self.pool.give(id);
            return Err(e);
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Puts `entry` on the submission queue, submitting what is there first if it is
    /// full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        for _ in 0..2 {
            // SAFETY: every entry this module builds points only at memory that outlives
            // the request: pool buffers (owned by the ring, given back only on
            // completion) or nothing.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.submit()?;
        }
        // The queue stays full (no allocation: this can be on the packet path).
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Hands the queued requests to the kernel without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        if self.wake_pending {
            let _ = self.arm_wake();
        }
        match self.ring.submit() {
            Ok(_) => Ok(()),
            // Completions to reap first (the queue is full); they are reaped next.
            // EAGAIN: the kernel could not allocate a request now; try again next time.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits what is queued and waits up to `timeout` for at least one completion.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        if self.wake_pending {
            let _ = self.arm_wake();
        }
        let ts = Timespec::from(timeout);
        let args = SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether completions are ready to reap, or work the kernel deferred to this
    /// thread waits for the next [`PacketRing::submit`] (two loads from shared memory,
    /// no system call): what a busy-polling loop spins on.
    pub fn ready(&mut self) -> bool {
        !self.ring.completion().is_empty() || self.ring.submission().taskrun()
    }

    /// Moves completions into `out` while it has room for two more events (one
    /// completion can be two: a read's last packet and its end); `out` is never grown.
    /// Returns how many events were added.
    pub fn reap(&mut self, out: &mut Vec<Event>) -> usize {
        let before = out.len();
        let mut rewake = false;
        let mut completion = self.ring.completion();
        while out.capacity() - out.len() >= 2 {
            let Some(cqe) = completion.next() else { break };
            let data = cqe.user_data();
            let token = data as u32;
            let result = cqe.result();
            let more = cqueue::more(cqe.flags());
            match data >> KIND_SHIFT {
                KIND_READ => {
                    if result >= 0 {
                        if let Some(id) = cqueue::buffer_select(cqe.flags()) {
                            let buffer = Buffer { id, ring: self.id };
                            out.push(Event::Packet { token, buffer, len: result as usize });
                        }
                    }
                    if !more {
                        self.in_flight -= 1;
                        let armed = (data >> 32) as u16;
                        let current = self.generation.get(token as usize) == Some(&armed);
                        let why = match -result {
                            // A read of an unwatched token ends as cancelled, whatever
                            // ended it: exactly one such end per cancelled read.
                            _ if !current => Stop::Cancelled,
                            libc::ECANCELED => Stop::Cancelled,
                            // 0 bytes is an end of file (a TUN never gives one): not a
                            // read to arm again.
                            0 => Stop::Failed(io::ErrorKind::UnexpectedEof.into()),
                            error if error < 0 || error == libc::ENOBUFS => Stop::Starved,
                            _ => Stop::Failed(os_error(result)),
                        };
                        out.push(Event::Stopped { token, why });
                    }
                }
                KIND_WRITE => {
                    self.in_flight -= 1;
                    self.pool.give((data >> 32) as u16);
                    let result =
                        if result < 0 { Err(os_error(result)) } else { Ok(result as usize) };
                    out.push(Event::Written { token, result });
                }
                KIND_WAKE => {
                    if !more {
                        self.in_flight -= 1;
                        rewake = true;
                    }
                    if result >= 0 {
                        out.push(Event::Woken);
                    }
                }
                _ => {} // A cancel's own completion.
            }
        }
        drop(completion);
        if rewake {
            let _ = self.arm_wake(); // On failure, retried before the next wait.
        }
        out.len() - before
    }
}

impl PacketRing {
    /// Cancels every request and collects completions until the kernel holds none (or
    /// the deadline passes). True when it holds none.
    fn quiesce(&mut self) -> bool {
        let cancel = opcode::AsyncCancel2::new(CancelBuilder::any()).build().user_data(user_data(
            KIND_CANCEL,
            0,
            0,
        ));
        self.wake = None; // A cancelled wake-up poll is not armed again.
        let deadline = Instant::now() + DRAIN_DEADLINE;
        let mut events = Vec::with_capacity(64);
        if self.push(&cancel).and_then(|()| self.submit()).is_err() {
            return self.in_flight == 0;
        }
        while self.in_flight > 0 && Instant::now() < deadline {
            if self.wait(Duration::from_millis(50)).is_err() {
                break;
            }
            self.reap(&mut events);
            for event in events.drain(..) {
                if let Event::Packet { buffer, .. } = event {
                    self.release(buffer);
                }
            }
        }
        self.in_flight == 0
    }
}

impl Drop for PacketRing {
    fn drop(&mut self) {
        // Only once the kernel holds no request is it safe to unmap the buffers it
        // reads into; otherwise they leak: better a few MiB than memory the kernel may
        // still write to.
        if self.quiesce() && self.ring.submitter().unregister_buf_ring(GROUP).is_ok() {
            // SAFETY: the kernel holds no request that could touch the buffers nor the
            // registration of their ring, and the pool is not used after this.
            unsafe { ManuallyDrop::drop(&mut self.pool) };
        }
    }
}

/// The provided buffers: one anonymous mapping with the ring of buffer entries (the
/// kernel's view: which buffers it may take) in its first page(s), then the buffers.
#[derive(Debug)]
struct Pool {
    base: *mut u8,
    map_len: usize,
    entries: u16,
    buffer_len: usize,
    /// Where the buffers start in the mapping (page-aligned).
    data: usize,
    /// The next entry to fill (the kernel reads the published copy in the ring).
    tail: u16,
}

// SAFETY: the pool is plain memory owned by its ring; the ring moves between threads
// only before it is used (it is made on the thread that uses it).
unsafe impl Send for Pool {}

impl Pool {
    fn new(entries: u16, buffer_len: usize) -> io::Result<Pool> {
        let page = 4096;
        let ring_bytes = usize::from(entries) * std::mem::size_of::<BufRingEntry>();
        let data = ring_bytes.div_ceil(page) * page;
        let map_len = data + usize::from(entries) * buffer_len;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing;
        // the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut pool = Pool { base: base.cast(), map_len, entries, buffer_len, data, tail: 0 };
        for id in 0..entries {
            pool.give(id);
        }
        Ok(pool)
    }

    /// Where buffer `id` starts.
    fn buffer(&self, id: u16) -> *mut u8 {
        assert!(id < self.entries, "buffer {id} of {}", self.entries);
        // SAFETY: `id < entries`, so the buffer lies inside the mapping.
        unsafe { self.base.add(self.data + usize::from(id) * self.buffer_len) }
    }

    /// Puts buffer `id` back in the ring and publishes it to the kernel.
    fn give(&mut self, id: u16) {
        let ring: *mut RawBuf = self.base.cast();
        let slot = usize::from(self.tail & (self.entries - 1));
        let addr = self.buffer(id) as u64;
        // SAFETY: `slot < entries`, inside the ring's pages of the mapping; the kernel
        // reads an entry only once the tail below says it is there, and never more than
        // `entries` buffers exist, so this slot is not one it has yet to consume. The
        // fields are written through raw pointers, one by one: slot 0's last field is
        // the ring's tail, which the kernel reads meanwhile and is not touched here.
        unsafe {
            let entry = ring.add(slot);
            std::ptr::addr_of_mut!((*entry).addr).write(addr);
            std::ptr::addr_of_mut!((*entry).len).write(self.buffer_len as u32);
            std::ptr::addr_of_mut!((*entry).bid).write(id);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the `resv` field of the ring's first entry, a u16 the
        // kernel reads with acquire ordering; the store publishes the entries written
        // above. The mapping is page-aligned, so the u16 is aligned.
        unsafe {
            let tail = std::ptr::addr_of_mut!((*ring).tail);
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }
}

/// One entry of the provided-buffer ring, as the kernel reads it (`io_uring_buf`); the
/// first entry's last field is the ring's tail.
#[repr(C)]
struct RawBuf {
    addr: u64,
    len: u32,
    bid: u16,
    tail: u16,
}

const _: () = assert!(std::mem::size_of::<RawBuf>() == std::mem::size_of::<BufRingEntry>());

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` are the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`), saturated to `u32`.
fn open_files_limit() -> u32 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one `rlimit`, which `limit` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn os_error(result: i32) -> io::Error {
    io::Error::from_raw_os_error(-result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};

    /// A connected pair of datagram sockets: each `send` is one read on the other end,
    /// as a TUN device gives one packet per read.
    fn pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        // SAFETY: both fds were just made and are owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn send(fd: &OwnedFd, bytes: &[u8]) {
        // SAFETY: `bytes` is valid for reads of its length.
        let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(n, bytes.len() as isize);
    }

    fn recv(fd: &OwnedFd) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        (n >= 0).then(|| buf[..n as usize].to_vec())
    }

    /// Waits (bounded) until `want` events have been reaped.
    fn collect(ring: &mut PacketRing, want: usize) -> Vec<Event> {
        let mut all = Vec::new();
        let mut events = Vec::with_capacity(16);
        let deadline = Instant::now() + Duration::from_secs(5);
        while all.len() < want && Instant::now() < deadline {
            ring.wait(Duration::from_millis(100)).unwrap();
            ring.reap(&mut events);
            all.append(&mut events);
            events.reserve(16);
        }
        all
    }

    fn ring() -> Option<PacketRing> {
        match PacketRing::new(8, 2048, 16) {
            Ok(ring) => Some(ring),
            // A kernel without multishot reads, or io_uring turned off: nothing to test.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
                ) =>
            {
                eprintln!("io_uring unavailable here: {e}");
                None
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => None,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn packets_are_read_and_written_without_a_copy() {
        let Some(mut ring) = ring() else { return };
        let (a, a_peer) = pair();
        let (b, b_peer) = pair();
        ring.watch(a.as_fd(), 1).unwrap();
        ring.watch(b.as_fd(), 2).unwrap();
        ring.submit().unwrap();
        for i in 0..3u8 {
            send(&a_peer, &[i; 100]);
        }
        let events = collect(&mut ring, 3);
        assert_eq!(events.len(), 3, "{events:?}");
        for (i, event) in events.into_iter().enumerate() {
            let Event::Packet { token: 1, buffer, len: 100 } = event else { panic!("{event:?}") };
            let packet = ring.packet(&buffer);
            assert_eq!(packet[..100], [i as u8; 100]);
            packet[0] = 0xee; // Rewritten in place, then forwarded from the same buffer.
            ring.write(2, buffer, 100).unwrap();
        }
        let written = collect(&mut ring, 3);
        assert!(
            written.iter().all(|e| matches!(e, Event::Written { token: 2, result: Ok(100) })),
            "{written:?}"
        );
        for i in 0..3u8 {
            let got = recv(&b_peer).expect("forwarded");
            assert_eq!(got[0], 0xee);
            assert_eq!(got[1..], [i; 99]);
        }
    }

    /// The forwarder closes an io_uring worker's own fd of a queue once it is watched:
    /// the ring's registered file keeps it open, for reads and writes alike.
    #[test]
    fn a_watched_file_outlives_its_fd() {
        let Some(mut ring) = ring() else { return };
        let (a, a_peer) = pair();
        ring.watch(a.as_fd(), 1).unwrap();
        ring.submit().unwrap();
        drop(a);
        send(&a_peer, &[7; 40]);
        let mut events = collect(&mut ring, 1);
        let Some(Event::Packet { token: 1, buffer, len: 40 }) = events.pop() else {
            panic!("{events:?}")
        };
        assert!(events.is_empty(), "{events:?}");
        ring.write(1, buffer, 40).unwrap();
        let written = collect(&mut ring, 1);
        assert!(
            matches!(written[..], [Event::Written { token: 1, result: Ok(40) }]),
            "{written:?}"
        );
        assert_eq!(recv(&a_peer).expect("written back through the registered file"), [7; 40]);
    }

    #[test]
    fn buffers_come_back_and_an_exhausted_read_is_rearmed() {
        let Some(mut ring) = ring() else { return };
        let (a, a_peer) = pair();
        ring.watch(a.as_fd(), 3).unwrap();
        ring.submit().unwrap();
        // Eight buffers: the ninth packet finds none, and the read stops.
        for i in 0..9u8 {
            send(&a_peer, &[i; 10]);
        }
        let events = collect(&mut ring, 9);
        let packets: Vec<_> = events
            .into_iter()
            .filter_map(|e| match e {
                Event::Packet { buffer, .. } => Some(buffer),
                Event::Stopped { token: 3, why: Stop::Starved } => None,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(packets.len(), 8);
        for buffer in packets {
            ring.release(buffer);
        }
        ring.rearm(3).unwrap();
        let events = collect(&mut ring, 1);
        let [Event::Packet { token: 3, buffer, len: 10 }] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(ring.packet(buffer)[..10], [8; 10]);
    }

    #[test]
    fn unwatching_stops_the_read_and_wakes_are_reported() {
        let Some(mut ring) = ring() else { return };
        let (a, a_peer) = pair();
        let (b, _b_peer) = pair();
        let (wake, wake_peer) = pair();
        ring.watch(a.as_fd(), 4).unwrap();
        ring.watch(b.as_fd(), 5).unwrap();
        ring.wake_on(wake.as_fd()).unwrap();
        send(&a_peer, b"first");
        let events = collect(&mut ring, 1);
        let Some(Event::Packet { token: 4, buffer, len: 5 }) = events.into_iter().next() else {
            panic!("no packet")
        };
        ring.unwatch(4).unwrap();
        ring.unwatch(5).unwrap();
        send(&wake_peer, b"x");
        // A write to an unwatched device fails instead of reaching whatever file took
        // its number; its buffer comes back all the same.
        ring.write(5, buffer, 5).unwrap();
        let events = collect(&mut ring, 4);
        assert!(events.iter().any(|e| matches!(e, Event::Woken)), "{events:?}");
        for token in [4, 5] {
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, Event::Stopped { token: t, why: Stop::Cancelled }
                    if *t == token)),
                "{events:?}"
            );
        }
        assert!(
            events.iter().any(|e| matches!(e, Event::Written { token: 5, result: Err(e) }
                if e.raw_os_error() == Some(libc::EBADF))),
            "{events:?}"
        );
        // Nothing is read any more: the packet stays in the socket.
        send(&a_peer, b"late");
        ring.wait(Duration::from_millis(50)).unwrap();
        let mut events = Vec::with_capacity(8);
        ring.reap(&mut events);
        assert!(!events.iter().any(|e| matches!(e, Event::Packet { .. })), "{events:?}");
        assert_eq!(recv(&a).as_deref(), Some(&b"late"[..]));
        assert_eq!(ring.in_flight, 1, "only the wake-up poll is left");
    }

    #[test]
    fn a_ring_with_reads_and_writes_in_flight_is_quiesced_before_it_is_unmapped() {
        let Some(mut ring) = ring() else { return };
        let (a, a_peer) = pair();
        let (b, _b_peer) = pair();
        let (wake, _wake_peer) = pair();
        ring.watch(a.as_fd(), 1).unwrap();
        ring.watch(b.as_fd(), 2).unwrap();
        ring.wake_on(wake.as_fd()).unwrap();
        send(&a_peer, b"in flight");
        let events = collect(&mut ring, 1);
        let Some(Event::Packet { buffer, .. }) = events.into_iter().next() else { panic!() };
        ring.write(2, buffer, 9).unwrap(); // Queued, not yet submitted.
        assert!(ring.in_flight >= 4, "two reads, the wake-up poll, the write");
        assert!(ring.quiesce(), "the kernel let go of everything");
        assert_eq!(ring.in_flight, 0);
    }

    #[test]
    fn a_read_that_ended_unreaped_before_its_unwatch_ends_as_cancelled() {
        let Some(mut ring) = ring() else { return };
        let (a, a_peer) = pair();
        ring.watch(a.as_fd(), 6).unwrap();
        ring.submit().unwrap();
        // Nine packets for eight buffers: the read ends for want of one...
        for i in 0..9u8 {
            send(&a_peer, &[i; 10]);
        }
        ring.wait(Duration::from_millis(100)).unwrap();
        // ...but is unwatched before that end is reaped: the end counts as the cancel's.
        ring.unwatch(6).unwrap();
        let events = collect(&mut ring, 9);
        let stops: Vec<_> = events.iter().filter(|e| matches!(e, Event::Stopped { .. })).collect();
        assert!(
            matches!(stops[..], [Event::Stopped { token: 6, why: Stop::Cancelled }]),
            "{events:?}"
        );
        for event in events {
            if let Event::Packet { buffer, .. } = event {
                ring.release(buffer);
            }
        }
        assert_eq!(ring.in_flight, 0);
    }

    #[test]
    #[should_panic(expected = "a buffer of another ring")]
    fn a_buffer_of_another_ring_is_refused() {
        let Some(mut first) = ring() else { panic!("a buffer of another ring (no io_uring)") };
        let Some(mut second) = ring() else { panic!("a buffer of another ring (no io_uring)") };
        let (a, a_peer) = pair();
        first.watch(a.as_fd(), 1).unwrap();
        send(&a_peer, b"x");
        let events = collect(&mut first, 1);
        let Some(Event::Packet { buffer, .. }) = events.into_iter().next() else { panic!() };
        second.release(buffer);
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(PacketRing::new(6, 2048, 4).is_err());
        assert!(PacketRing::new(8, 0, 4).is_err());
    }
}
