//! The forwarder: worker threads that wait on TUN devices with epoll and run the
//! pipeline on what they send.
//!
//! Every device is a multiqueue TUN with one queue per worker; each worker reads and
//! writes its own queues and keeps its own connection state ([`Tracking`]), counters
//! and flow records, so workers share nothing on the packet path but the read-only
//! snapshot. A flow's state lives with one worker, its owner ([`crate::steer`]): a
//! packet read by another worker is handed to the owner through a bounded channel of
//! preallocated frames (rare: the kernel keeps a flow on the queue that last wrote it,
//! which is the owner's).
//!
//! The control plane talks to the workers through [`Forwarder`]: it attaches and
//! detaches devices (rare; a mutex-protected command queue per worker and an eventfd
//! wake-up) and publishes snapshots (an atomic pointer swap). The packet loop takes no
//! lock and allocates nothing: the buffers are made once, the snapshot is loaded once
//! per wake-up, and each device gives at most [`BATCH`] packets per wake-up so that one
//! busy device cannot starve the others.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use vpclab_sys::bpf::SteeringProgram;
use vpclab_sys::epoll::{Epoll, EventFd, empty_event, token};
use vpclab_sys::tun::{Tun, VNET_HDR_LEN};
use vpclab_sys::uring::{Event, PacketRing, Stop};

use crate::capture::{Captured, Point, Tap};
use crate::counters::{CounterSnapshot, Counters, DropReason};
use crate::engine::{Device, Engine, H, PACKET_BUFFER, Tick};
use crate::flowlog::FlowRecord;
use crate::handoff::Handoff;
use crate::nat::{FLOWS_PER_GATEWAY, Tracking};
use crate::services::{self, SERVICE_QUEUE, ServiceData, ServiceMsg};
use crate::snapshot::{INTERNET, Port, Snapshot};
use crate::steer;

/// Packets read from one device per wake-up.
pub const BATCH: usize = 64;
/// Most workers a forwarder runs.
pub const MAX_WORKERS: usize = 64;
// The engine's frames are the TUN devices' frames.
const _: () = assert!(H == VNET_HDR_LEN);
/// The epoll token of a worker's wake-up eventfd; device tokens are their ports.
const WAKE: u64 = u64::MAX;

/// A device's queue as a worker holds it. The first is shared: the service thread
/// writes its answers through it, and so do the workers of an io_uring forwarder for
/// what they write from outside their rings (any queue of a TUN takes writes for the
/// whole device).
#[derive(Clone, Debug)]
pub struct Queue(Arc<Tun>);

impl Queue {
    fn new(tun: Tun) -> Self {
        Self(Arc::new(tun))
    }
}

impl std::ops::Deref for Queue {
    type Target = Tun;

    fn deref(&self) -> &Tun {
        &self.0
    }
}

/// A TUN queue is the engine's device: one frame per `read` and per `write`.
impl Device for Queue {
    #[inline]
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize> {
        self.0.recv(frame)
    }

    #[inline]
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.0.send(frame).map(drop)
    }
}

/// Where a detached queue is handed back (`None`: the worker did not hold one).
type Detached = mpsc::Sender<Option<Queue>>;

enum Command {
    /// Port, the worker's own queue (to read), the device's first queue (to write).
    Attach(Port, Queue, Queue, mpsc::Sender<io::Result<()>>),
    Detach(Port, Detached),
    FlushFlows(mpsc::Sender<Vec<FlowRecord>>),
}

/// What the control plane and the other workers reach a worker through. Aligned so two
/// workers' counters never share a cache line.
#[repr(align(128))]
struct Mailbox {
    commands: Mutex<Vec<Command>>,
    wake: EventFd,
    counters: Counters,
}

struct Shared {
    snapshot: ArcSwap<Snapshot>,
    /// What the VPC's own services answer.
    services: ArcSwap<ServiceData>,
    workers: Vec<Mailbox>,
    stop: AtomicBool,
    tap: Tap,
    /// Where flow records go at the end of each aggregation interval.
    flow_sink: Mutex<Option<mpsc::Sender<Vec<FlowRecord>>>>,
    /// Which worker each fragmented datagram's first fragment went to.
    fragment_owners: steer::FragmentOwners,
}

/// A running forwarder and the handle to steer it.
pub struct Forwarder {
    shared: Arc<Shared>,
    /// Puts each packet a device sends on its owner's queue (none with one worker, or
    /// where the kernel refuses it: the workers then hand packets over).
    steering: Option<SteeringProgram>,
    /// The packet I/O of the workers: never `Auto` once started.
    io: PacketIo,
    threads: Vec<JoinHandle<io::Result<()>>>,
    /// The service thread's queue (the workers hold clones) and the thread.
    services: Option<SyncSender<ServiceMsg<Queue>>>,
    services_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("workers", &self.shared.workers.len())
            .field("io", &self.io)
            .field("generation", &self.shared.snapshot.load().generation)
            .finish()
    }
}

/// How the workers move packets between the devices and themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PacketIo {
    /// io_uring where the kernel has what it needs (Linux 6.7 and later), else epoll.
    #[default]
    Auto,
    /// Readiness by epoll, then one `read` and one `write` system call per packet.
    Epoll,
    /// io_uring: multishot reads into provided buffers, writes from the same buffers,
    /// one system call per batch.
    Uring,
}

impl std::fmt::Display for PacketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PacketIo::Auto => "auto",
            PacketIo::Epoll => "epoll",
            PacketIo::Uring => "io_uring",
        })
    }
}

/// How a forwarder runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Worker threads, 1 to [`MAX_WORKERS`].
    pub workers: usize,
    pub io: PacketIo,
    /// With io_uring, how long a worker spins after its last packet before it sleeps:
    /// lower latency for a core's worth of CPU while traffic flows. Off by default.
    pub busy_poll: Option<Duration>,
}

impl Options {
    /// `workers` workers, the packet I/O the kernel allows best, no busy-polling.
    pub fn new(workers: usize) -> Self {
        Self { workers, io: PacketIo::Auto, busy_poll: None }
    }
}

/// Provided buffers of an io_uring worker: the header and the largest packet.
const URING_BUFFER_LEN: usize = H + PACKET_BUFFER;

/// Slots for devices in an io_uring worker's file table (ports must be below it; the
/// ring takes fewer if the process may open fewer files).
const URING_FILES: u32 = 1 << 17;

/// Which packet I/O `wanted` is here: io_uring when asked for or when `Auto` finds the
/// kernel has it, epoll otherwise.
fn choose_io(wanted: PacketIo) -> io::Result<PacketIo> {
    // With the sizes the workers' rings will have: a kernel that has io_uring but not
    // the memory for them falls back too.
    let probe = || PacketRing::new(URING_BUFFERS, URING_BUFFER_LEN, URING_FILES).map(drop);
    match wanted {
        PacketIo::Epoll => Ok(PacketIo::Epoll),
        PacketIo::Uring => probe().map(|()| PacketIo::Uring),
        PacketIo::Auto => Ok(if probe().is_ok() { PacketIo::Uring } else { PacketIo::Epoll }),
    }
}

impl Forwarder {
    /// Starts `workers` worker threads (1 to [`MAX_WORKERS`]) with an empty snapshot,
    /// on the packet I/O the kernel allows best.
    pub fn start(workers: usize) -> io::Result<Self> {
        Self::start_with(Options::new(workers))
    }

    /// Starts a forwarder as `options` say, with an empty snapshot.
    pub fn start_with(options: Options) -> io::Result<Self> {
        let workers = options.workers;
        if !(1..=MAX_WORKERS).contains(&workers) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{workers} workers: from 1 to {MAX_WORKERS}"),
            ));
        }
        let io = choose_io(options.io)?;
        if options.busy_poll.is_some() && io != PacketIo::Uring {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "busy-polling needs io_uring packet I/O, which this kernel lacks",
            ));
        }
        let mailboxes = (0..workers)
            .map(|_| {
                Ok(Mailbox {
                    commands: Mutex::new(Vec::new()),
                    wake: EventFd::new()?,
                    counters: Counters::default(),
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            snapshot: ArcSwap::from_pointee(Snapshot::empty()),
            services: ArcSwap::from_pointee(ServiceData::default()),
            workers: mailboxes,
            stop: AtomicBool::new(false),
            tap: Tap::default(),
            flow_sink: Mutex::new(None),
            fragment_owners: steer::FragmentOwners::default(),
        });
        let (to_services, service_queue) = mpsc::sync_channel(SERVICE_QUEUE);
        let steering = (workers > 1)
            .then(|| match SteeringProgram::load(&crate::bpf::steering_program(workers)) {
                Ok(program) => Some(program),
                Err(e) => {
                    eprintln!("vpclab: no queue steering ({e}); workers hand packets over");
                    None
                }
            })
            .flatten();
        let mut forwarder = Forwarder {
            shared,
            steering,
            io,
            threads: Vec::new(),
            services: Some(to_services.clone()),
            services_thread: None,
        };
        let data = Arc::clone(&forwarder.shared);
        forwarder.services_thread = Some(
            std::thread::Builder::new()
                .name("vpclab-services".into())
                .spawn(move || services::run(&service_queue, &data.services))?,
        );
        let spawned = forwarder.spawn_workers(io, options.busy_poll, &to_services);
        // The service thread ends once every sender is gone: the workers' and the
        // forwarder's, which `halt` drops, so not this one (also if a worker failed).
        drop(to_services);
        spawned.map(|()| forwarder)
    }

    /// Starts the workers, each on its own packet I/O, and waits until each is ready.
    fn spawn_workers(
        &mut self,
        io: PacketIo,
        busy_poll: Option<Duration>,
        to_services: &SyncSender<ServiceMsg<Queue>>,
    ) -> io::Result<()> {
        for (index, handoff) in
            Handoff::for_workers(self.shared.workers.len()).into_iter().enumerate()
        {
            let shared = Arc::clone(&self.shared);
            let to_services = to_services.clone();
            // The ring is made on the thread that uses it (it is single-issuer); the
            // thread reports whether that worked before the forwarder counts on it.
            let (ready, started) = mpsc::channel();
            let thread = std::thread::Builder::new().name(format!("vpclab-fwd-{index}")).spawn(
                move || {
                    let worker = Worker::new(index, &shared, handoff, to_services);
                    if io == PacketIo::Uring {
                        match PacketRing::new(URING_BUFFERS, URING_BUFFER_LEN, URING_FILES) {
                            Ok(ring) => {
                                let _ = ready.send(Ok(()));
                                return worker.run_uring(ring, busy_poll).inspect_err(|e| {
                                    // Its queues go unread from now on: say so, once.
                                    eprintln!("vpclab: forwarder worker {index} stopped: {e}");
                                });
                            }
                            Err(e) => {
                                let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
                                return Err(e);
                            }
                        }
                    }
                    match Epoll::new() {
                        Ok(epoll) => {
                            let _ = ready.send(Ok(()));
                            worker.run_epoll(epoll).inspect_err(|e| {
                                eprintln!("vpclab: forwarder worker {index} stopped: {e}");
                            })
                        }
                        Err(e) => {
                            let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
                            Err(e)
                        }
                    }
                },
            )?;
            self.threads.push(thread);
            started.recv().unwrap_or_else(|_| Err(io::Error::other("worker died")))?;
        }
        Ok(())
    }

    /// The packet I/O the workers use.
    pub fn io(&self) -> PacketIo {
        self.io
    }

    /// How many workers run.
    pub fn workers(&self) -> usize {
        self.shared.workers.len()
    }

    fn command(&self, worker: usize, command: Command) -> io::Result<()> {
        let mailbox = &self.shared.workers[worker];
        mailbox.commands.lock().unwrap_or_else(|e| e.into_inner()).push(command);
        mailbox.wake.wake()
    }

    /// Hands the queues of a device to the forwarder as `port`, one per worker (as many
    /// as [`Forwarder::workers`]); returns once every worker reads its queue.
    pub fn attach(&self, port: Port, queues: Vec<Tun>) -> io::Result<()> {
        if queues.len() != self.workers() {
            return Err(io::Error::other(format!(
                "{} queues for {} workers",
                queues.len(),
                self.workers()
            )));
        }
        // Every device but the internet's steers its packets to their owners' queues
        // (the internet's packets are owned by the translation they undo, which only
        // the workers know).
        if let (Some(program), Some(first)) = (&self.steering, queues.first()) {
            if port != INTERNET {
                if let Err(e) = first.set_steering(program) {
                    // Correctness never depends on it: the workers hand packets over.
                    eprintln!("vpclab: port {port}: no queue steering ({e})");
                }
            }
        }
        // The service thread writes its answers through the first queue, shared (not a
        // duplicate: an fd per instance fewer, which 10,000 instances need).
        let queues: Vec<Queue> = queues.into_iter().map(Queue::new).collect();
        let Some(first) = queues.first().cloned() else { return Ok(()) };
        if let Some(services) = &self.services {
            let _ = services.send(ServiceMsg::Attach(port, first.clone()));
        }
        let mut replies = Vec::new();
        for (worker, queue) in queues.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel();
            self.command(worker, Command::Attach(port, queue, first.clone(), tx))?;
            replies.push(rx);
        }
        for rx in replies {
            rx.recv_timeout(Duration::from_secs(5))
                .map_err(|_| io::Error::other("forwarder gone"))??;
        }
        Ok(())
    }

    /// Takes the queues of `port`'s device back from the workers.
    pub fn detach(&self, port: Port) -> io::Result<Vec<Queue>> {
        if let Some(services) = &self.services {
            // Its share of the queue is dropped before this returns: a namespace whose
            // device is still open somewhere would outlive its deletion.
            let (tx, rx) = mpsc::channel();
            if services.send(ServiceMsg::Detach(port, tx)).is_ok() {
                let _ = rx.recv_timeout(Duration::from_secs(5));
            }
        }
        let mut replies = Vec::new();
        for worker in 0..self.workers() {
            let (tx, rx) = mpsc::channel();
            self.command(worker, Command::Detach(port, tx))?;
            replies.push(rx);
        }
        let mut queues = Vec::new();
        for rx in replies {
            let queue = rx
                .recv_timeout(Duration::from_secs(5))
                .map_err(|_| io::Error::other("forwarder gone"))?;
            queues.extend(queue);
        }
        Ok(queues)
    }

    /// Makes `snapshot` the one every following packet sees.
    pub fn publish(&self, snapshot: Snapshot) {
        self.shared.snapshot.store(Arc::new(snapshot));
    }

    /// Makes `data` what the VPC's own services answer from now on.
    pub fn publish_services(&self, data: ServiceData) {
        self.shared.services.store(Arc::new(data));
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// The flow records the workers write out at the end of each aggregation interval
    /// (the snapshot's `flow_interval_ms`), one batch per worker; replaces an earlier
    /// receiver.
    pub fn flow_records(&self) -> mpsc::Receiver<Vec<FlowRecord>> {
        let (tx, rx) = mpsc::channel();
        *self.shared.flow_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    /// The flow records counted so far, taken now rather than at the interval's end.
    pub fn flush_flows(&self) -> io::Result<Vec<FlowRecord>> {
        let mut replies = Vec::new();
        for worker in 0..self.workers() {
            let (tx, rx) = mpsc::channel();
            self.command(worker, Command::FlushFlows(tx))?;
            replies.push(rx);
        }
        let mut all = Vec::new();
        for rx in replies {
            all.extend(
                rx.recv_timeout(Duration::from_secs(5))
                    .map_err(|_| io::Error::other("forwarder gone"))?,
            );
        }
        Ok(all)
    }

    /// A handle to capture packets with, usable from any thread.
    pub fn capture(&self) -> Capture {
        Capture { shared: Arc::clone(&self.shared) }
    }

    /// Port `port`'s counters now, all workers together.
    pub fn port_counters(&self, port: Port) -> crate::PortCounters {
        let mut total = crate::PortCounters::default();
        for mailbox in &self.shared.workers {
            total.add(mailbox.counters.port(port));
        }
        total
    }

    /// The NAT gateway with connection-table slot `slot`: its packets, all workers
    /// together.
    pub fn nat_gateway_counters(&self, slot: u32) -> crate::GatewayCounters {
        let mut total = crate::GatewayCounters::default();
        for mailbox in &self.shared.workers {
            total.add(mailbox.counters.nat_gateway(slot));
        }
        total
    }

    /// The transit gateway with index `index` in the snapshot: its packets, all workers
    /// together.
    pub fn transit_gateway_counters(&self, index: u32) -> crate::GatewayCounters {
        let mut total = crate::GatewayCounters::default();
        for mailbox in &self.shared.workers {
            total.add(mailbox.counters.transit_gateway(index));
        }
        total
    }

    /// The counters now, all workers together.
    pub fn counters(&self) -> CounterSnapshot {
        let mut total = CounterSnapshot::default();
        for mailbox in &self.shared.workers {
            total.add(&mailbox.counters.snapshot());
        }
        total
    }

    /// Stops the workers and closes every device queue they hold (persistent devices
    /// stay).
    pub fn stop(mut self) -> io::Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> io::Result<()> {
        self.shared.stop.store(true, Ordering::Release);
        for mailbox in &self.shared.workers {
            mailbox.wake.wake()?;
        }
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            let outcome = thread.join().map_err(|_| io::Error::other("forwarder panicked"));
            if result.is_ok() {
                result = outcome.and_then(|r| r);
            }
        }
        // The workers are gone with their senders; this one goes now, and the service
        // thread ends when its queue disconnects.
        self.services = None;
        if let Some(thread) = self.services_thread.take() {
            if thread.join().is_err() && result.is_ok() {
                result = Err(io::Error::other("service thread panicked"));
            }
        }
        result
    }
}

/// Packet capture on a running forwarder (see [`crate::capture`]).
#[derive(Clone)]
pub struct Capture {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

impl Capture {
    /// Starts capturing at `point`; false if a capture runs.
    pub fn start(&self, point: Point) -> bool {
        match point {
            Point::Port(port, address) => self.shared.tap.start(port, address),
            Point::Peering(a, b) => self.shared.tap.start_peering(a, b),
        }
    }

    /// Moves what was captured since the last call into `out`; the total missed.
    pub fn drain(&self, out: &mut Vec<Captured>) -> u64 {
        self.shared.tap.drain(out)
    }

    /// Stops capturing.
    pub fn stop(&self) {
        self.shared.tap.stop();
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// Expired flows looked at per list of each connection table per sweep (one a
/// millisecond at most).
const SWEEP_BUDGET: usize = 256;

/// One worker thread's state: everything the packet path writes.
struct Worker<'a> {
    index: usize,
    shared: &'a Shared,
    counters: &'a Counters,
    handoff: Handoff,
    /// The per-packet work, with each port's device as this worker reads and writes it
    /// outside a ring: its own queue (epoll), or the device's first queue (io_uring,
    /// whose ring holds its own).
    engine: Engine<'a, Queue>,
    /// Workers this one handed packets to since it last woke them.
    to_wake: u64,
}

impl<'a> Worker<'a> {
    fn new(
        index: usize,
        shared: &'a Shared,
        handoff: Handoff,
        to_services: SyncSender<ServiceMsg<Queue>>,
    ) -> Self {
        let workers = shared.workers.len();
        let counters = &shared.workers[index].counters;
        let nats = Tracking::for_worker(FLOWS_PER_GATEWAY, index, workers);
        Self {
            index,
            shared,
            counters,
            handoff,
            engine: Engine::new(counters, &shared.tap, nats, to_services),
            to_wake: 0,
        }
    }

    /// The work of every wake-up before its packets: a new snapshot's NAT gateways,
    /// flow records at the end of their interval, expired flows. Returns the clocks the
    /// wake-up's packets are stamped with (milliseconds since start, wall seconds).
    fn housekeeping<'s>(&mut self, snapshot: &'s Snapshot, clock: &mut Clock) -> Tick<'s> {
        if clock.generation != Some(snapshot.generation) {
            // A new snapshot: NAT gateways may have come or gone (off the packet path).
            self.engine.nats.sync(snapshot);
            clock.generation = Some(snapshot.generation);
        }
        // One clock read per wake-up (the wall clock follows from the monotonic one).
        let now = clock.started.elapsed().as_millis() as u64;
        let wall = clock.wall_start + now / 1000;
        let interval = snapshot.flow_interval_ms;
        if interval > 0 && now.saturating_sub(clock.last_flush) >= interval {
            clock.last_flush = now;
            self.write_out_flows();
        }
        // Expiry has millisecond resolution: once per millisecond is enough (a busy
        // worker wakes far more often than that).
        if clock.last_sweep != Some(now) {
            clock.last_sweep = Some(now);
            self.engine.nats.sweep(now, SWEEP_BUDGET);
            self.counters.set_tracking(&self.engine.nats);
        }
        Tick { snapshot, now, wall }
    }

    /// The wake-up eventfd fired: commands from the control plane, packets from other
    /// workers.
    fn woken(&mut self, tick: Tick<'_>, io: &mut dyn Watch) {
        self.shared.workers[self.index].wake.drain();
        self.apply_commands(io);
        self.handoff.deliver(&mut self.engine, tick);
    }

    /// The loop on epoll: wait for readiness, then one `read` and one `write` per
    /// packet.
    fn run_epoll(mut self, mut epoll: Epoll) -> io::Result<()> {
        let shared = self.shared;
        epoll.add(shared.workers[self.index].wake.as_raw_fd(), WAKE)?;
        let mut frame = vec![0u8; H + PACKET_BUFFER];
        let mut events = [empty_event(); 64];
        let mut clock = Clock::new();

        while !shared.stop.load(Ordering::Acquire) {
            let ready = epoll.wait(&mut events, Duration::from_secs(1))?;
            let snapshot = shared.snapshot.load();
            let tick = self.housekeeping(&snapshot, &mut clock);
            for event in &events[..ready] {
                let token = token(event);
                if token == WAKE {
                    self.woken(tick, &mut epoll);
                    continue;
                }
                let port = token as Port;
                for _ in 0..BATCH {
                    let Some(Some(device)) = self.engine.devices.get(port as usize) else {
                        break;
                    };
                    let len = match device.recv(&mut frame) {
                        Ok(n) if n >= H => n,
                        Ok(_) => {
                            self.counters.drop(DropReason::Malformed);
                            continue;
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                            ) =>
                        {
                            break; // Drained (or a signal): the next wake-up reads on.
                        }
                        Err(e) => {
                            if let Some(tun) = self.engine.detach(port) {
                                epoll.unwatch(&tun, port);
                            }
                            device_lost(port, &e);
                            break;
                        }
                    };
                    let owner = self.owner(&snapshot, port, &frame[H..len]);
                    if owner == self.index {
                        self.engine.forward_and_send(tick, port, &mut frame, len);
                    } else {
                        self.hand_off(owner, port, &frame[..len]);
                    }
                }
            }
            self.wake_owners();
        }
        Ok(())
    }

    /// The loop on io_uring: every device has a multishot read armed; one system call
    /// per wake-up submits the writes of the last batch and collects the next batch's
    /// packets, and a packet forwarded whole is written from the buffer it was read
    /// into. With `busy_poll`, the loop spins that long after its last packet before it
    /// sleeps, watching the ring's shared memory for work (no system call while idle).
    fn run_uring(mut self, ring: PacketRing, busy_poll: Option<Duration>) -> io::Result<()> {
        let shared = self.shared;
        let mut io = UringIo::new(ring);
        io.ring.wake_on(shared.workers[self.index].wake.as_fd())?;
        let mut events = Vec::with_capacity(URING_EVENTS);
        let mut clock = Clock::new();
        let mut last_packet = Instant::now();

        while !shared.stop.load(Ordering::Acquire) {
            // Busy-polling: while traffic is recent, flush the queued writes and spin
            // on the ring's shared memory instead of sleeping in the kernel. A pure
            // spin: yielding the CPU each time round (`sched_yield`) kept a sharing
            // sender or receiver from waiting, but measured ping RTT p50 ~100 µs
            // against ~70 µs spinning (same run, alternating), which undid the point.
            let spin = busy_poll.filter(|&spin| last_packet.elapsed() < spin);
            let found = match spin {
                Some(spin) => {
                    io.ring.submit()?;
                    let mut ready = io.ring.ready();
                    while !ready && last_packet.elapsed() < spin {
                        std::hint::spin_loop();
                        ready = io.ring.ready();
                    }
                    ready
                }
                None => false,
            };
            if found {
                io.ring.submit()?
            } else {
                io.ring.wait(Duration::from_secs(1))?
            }
            io.ring.reap(&mut events);
            let snapshot = shared.snapshot.load();
            let tick = self.housekeeping(&snapshot, &mut clock);
            if busy_poll.is_some() && events.iter().any(|e| matches!(e, Event::Packet { .. })) {
                last_packet = Instant::now();
            }
            for event in events.drain(..) {
                match event {
                    Event::Packet { token: port, buffer, len } => {
                        if len < H {
                            self.counters.drop(DropReason::Malformed);
                            io.ring.release(buffer);
                            continue;
                        }
                        let frame = io.ring.packet(&buffer);
                        let owner = self.owner(&snapshot, port, &frame[H..len]);
                        if owner != self.index {
                            self.hand_off(owner, port, &frame[..len]);
                            io.ring.release(buffer);
                            continue;
                        }
                        match self.engine.forward(tick, port, frame, len) {
                            Some((out, n)) => {
                                self.engine.leaving(out, &frame[H..n]);
                                // To a port without a device here, the write fails (its
                                // file slot is empty) and is counted when it completes.
                                if io.ring.write(out, buffer, n).is_err() {
                                    self.engine.delivered(out, false);
                                }
                            }
                            None => io.ring.release(buffer),
                        }
                    }
                    Event::Written { token: port, result } => {
                        self.engine.delivered(port, result.is_ok());
                    }
                    Event::Stopped { token: port, why } => self.stopped(&mut io, port, why),
                    Event::Woken => self.woken(tick, &mut io),
                }
            }
            // Reads that ran out of buffers go on now that this batch gave them back.
            while let Some(port) = io.rearm.pop() {
                if io.rearm(port).is_err() {
                    io.rearm.push(port);
                    break;
                }
            }
            self.wake_owners();
        }
        Ok(())
    }

    /// A device's read ended: re-armed if it ran out of buffers, its queue handed back
    /// if it was being detached, dropped if the device failed.
    fn stopped(&mut self, io: &mut UringIo, port: Port, why: Stop) {
        let e = match why {
            Stop::Cancelled => {
                // The read of an unwatched queue (a new one may be armed on the port).
                let Some(pending) = io.cancelling.get_mut(port as usize) else { return };
                *pending = pending.saturating_sub(1);
                if *pending == 0 {
                    // Every queue of this port waiting for it goes back now.
                    while let Some(at) = io.detaching.iter().position(|d| d.0 == port) {
                        let (_, tun, done) = io.detaching.swap_remove(at);
                        let _ = done.send(Some(tun));
                    }
                }
                return;
            }
            // Read on once this batch has given buffers back.
            Stop::Starved => {
                UringIo::flag(&mut io.armed, port, false);
                io.rearm.push(port);
                return;
            }
            Stop::Failed(e) => e,
        };
        // The device failed: no longer read.
        UringIo::flag(&mut io.armed, port, false);
        if let Some(tun) = self.engine.detach(port) {
            io.unwatch(&tun, port);
            device_lost(port, &e);
        }
    }

    /// The worker owning the flow of `packet`, read from `port`.
    fn owner(&self, snapshot: &Snapshot, port: Port, packet: &[u8]) -> usize {
        let shared = self.shared;
        steer::owner(snapshot, port, packet, shared.workers.len(), &shared.fragment_owners)
    }

    /// Passes a frame read here to the worker that owns its flow.
    fn hand_off(&mut self, owner: usize, from: Port, frame: &[u8]) {
        if self.handoff.pass(owner, from, frame, self.counters) {
            self.to_wake |= 1 << owner;
        }
    }

    /// Wakes the workers handed packets since the last call: once per wake-up each.
    fn wake_owners(&mut self) {
        while self.to_wake != 0 {
            let owner = self.to_wake.trailing_zeros() as usize;
            self.to_wake &= self.to_wake - 1;
            let _ = self.shared.workers[owner].wake.wake();
        }
    }

    /// Sends the flow records counted since the last time to the sink (off the packet
    /// path: once per aggregation interval).
    fn write_out_flows(&mut self) {
        if self.engine.records.is_empty() {
            return;
        }
        let mut batch = Vec::new();
        self.engine.records.drain(&mut batch);
        let sink = self.shared.flow_sink.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = sink.as_ref() {
            let _ = sink.send(batch);
        }
    }

    fn apply_commands(&mut self, io: &mut dyn Watch) {
        let mailbox = &self.shared.workers[self.index];
        let commands =
            std::mem::take(&mut *mailbox.commands.lock().unwrap_or_else(|e| e.into_inner()));
        for command in commands {
            match command {
                Command::Attach(port, own, first, done) => {
                    if let Some(old) = self.engine.detach(port) {
                        io.unwatch(&old, port);
                    }
                    let result = io.watch(&own, port);
                    if result.is_ok() {
                        // Epoll reads through the queue's fd, so the worker keeps it. An
                        // io_uring worker reads through the file its ring registered and
                        // writes the rest through the first queue: its own fd closes here
                        // (one fd per instance, not one per worker).
                        let kept = if io.reads_by_fd() { own } else { first };
                        let replaced = self.engine.attach(port, kept);
                        debug_assert!(replaced.is_none(), "detached above");
                    }
                    let _ = done.send(result);
                }
                Command::FlushFlows(done) => {
                    let mut batch = Vec::new();
                    self.engine.records.drain(&mut batch);
                    let _ = done.send(batch);
                }
                Command::Detach(port, done) => match self.engine.detach(port) {
                    Some(tun) => io.detach(tun, port, done),
                    None => {
                        let _ = done.send(None);
                    }
                },
            }
        }
    }
}

/// The clocks of a worker's loop.
struct Clock {
    generation: Option<u64>,
    started: Instant,
    last_flush: u64,
    last_sweep: Option<u64>,
    /// Seconds since the epoch when the worker started.
    wall_start: u64,
}

impl Clock {
    fn new() -> Self {
        let wall_start = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self {
            generation: None,
            started: Instant::now(),
            last_flush: 0,
            last_sweep: None,
            wall_start,
        }
    }
}

/// A device failed under a worker (its namespace deleted, its queue detached): it is no
/// longer read. Once per device, so not a per-packet log.
fn device_lost(port: Port, error: &io::Error) {
    eprintln!("vpclab: port {port}: device lost ({error}); no longer read");
}

/// How a worker learns that its devices have packets: epoll readiness, or io_uring
/// reads.
trait Watch {
    /// Starts watching `tun`, the worker's queue of port `port`.
    fn watch(&mut self, tun: &Tun, port: Port) -> io::Result<()>;
    /// Whether packets are read through the queue's fd, which must then stay open
    /// (otherwise the watcher holds the queue's file itself once watching).
    fn reads_by_fd(&self) -> bool;
    /// Stops watching `tun`.
    fn unwatch(&mut self, tun: &Tun, port: Port);
    /// Stops watching `tun` and sends it back through `done` once nothing of the
    /// kernel's refers to it any more.
    fn detach(&mut self, tun: Queue, port: Port, done: Detached) {
        self.unwatch(&tun, port);
        let _ = done.send(Some(tun));
    }
}

impl Watch for Epoll {
    fn watch(&mut self, tun: &Tun, port: Port) -> io::Result<()> {
        self.add(tun.as_raw_fd(), u64::from(port))
    }

    fn reads_by_fd(&self) -> bool {
        true
    }

    fn unwatch(&mut self, tun: &Tun, _port: Port) {
        let _ = self.delete(tun.as_raw_fd());
    }
}

/// Completions reaped per wake-up of an io_uring worker.
const URING_EVENTS: usize = 256;
/// Provided buffers per io_uring worker: packets in flight at once, each read into a
/// buffer of its own and written from it.
const URING_BUFFERS: u16 = 256;

/// An io_uring worker's ring and what it tracks about its reads.
struct UringIo {
    ring: PacketRing,
    /// Ports attached to this worker (indexed by port).
    watched: Vec<bool>,
    /// Ports with a read in the kernel (indexed by port).
    armed: Vec<bool>,
    /// Reads cancelled per port whose end has yet to come (indexed by port).
    cancelling: Vec<u16>,
    /// Ports whose read stopped for want of buffers, to arm again.
    rearm: Vec<Port>,
    /// Queues being detached: handed back once their read's cancellation completes.
    detaching: Vec<(Port, Queue, Detached)>,
}

impl UringIo {
    fn new(ring: PacketRing) -> Self {
        let (watched, armed, cancelling, rearm, detaching) = Default::default();
        Self { ring, watched, armed, cancelling, rearm, detaching }
    }

    fn flag(flags: &mut Vec<bool>, port: Port, value: bool) {
        let slot = port as usize;
        if flags.len() <= slot {
            flags.resize(slot + 1, false);
        }
        flags[slot] = value;
    }

    fn get(flags: &[bool], port: Port) -> bool {
        flags.get(port as usize).copied().unwrap_or(false)
    }

    /// Arms `port`'s read again if it is attached and has none in the kernel.
    fn rearm(&mut self, port: Port) -> io::Result<()> {
        if Self::get(&self.watched, port) && !Self::get(&self.armed, port) {
            self.ring.rearm(port)?;
            Self::flag(&mut self.armed, port, true);
        }
        Ok(())
    }
}

impl Watch for UringIo {
    fn watch(&mut self, tun: &Tun, port: Port) -> io::Result<()> {
        self.ring.watch(tun.as_fd(), port)?;
        Self::flag(&mut self.watched, port, true);
        Self::flag(&mut self.armed, port, true);
        // Room to re-arm every port at once, reserved here rather than on the packet
        // path.
        self.rearm.reserve(self.watched.len().saturating_sub(self.rearm.len()));
        Ok(())
    }

    fn reads_by_fd(&self) -> bool {
        false // The ring's registered file (see `PacketRing::watch`).
    }

    fn unwatch(&mut self, _tun: &Tun, port: Port) {
        Self::flag(&mut self.watched, port, false);
        // A read in the kernel ends with exactly one `Stop::Cancelled` once unwatched
        // (the ring reports any end of an unwatched read so): counted, to know when the
        // queue is the kernel's no more.
        let cancelled = self.ring.unwatch(port).is_ok();
        if Self::get(&self.armed, port) {
            Self::flag(&mut self.armed, port, false);
            if cancelled {
                let slot = port as usize;
                if self.cancelling.len() <= slot {
                    self.cancelling.resize(slot + 1, 0);
                }
                self.cancelling[slot] += 1;
            }
        }
    }

    fn detach(&mut self, tun: Queue, port: Port, done: Detached) {
        self.unwatch(&tun, port);
        if self.cancelling.get(port as usize).is_some_and(|&n| n > 0) {
            // Its read ends with a cancellation; the queue goes back then (`stopped`),
            // so a namespace deleted right after holds no reference of the ring's.
            self.detaching.push((port, tun, done));
        } else {
            let _ = done.send(Some(tun));
        }
    }
}
