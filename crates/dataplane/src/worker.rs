//! The forwarder: one thread that waits on every TUN device with epoll and runs the
//! pipeline on what they send.
//!
//! The control plane talks to it through [`Forwarder`]: it attaches and detaches
//! devices (rare; a mutex-protected command queue and an eventfd wake-up) and publishes
//! snapshots (an atomic pointer swap). The packet loop itself takes no lock and
//! allocates nothing: the buffers are made once, the snapshot is loaded once per
//! wake-up, and each device gives at most [`BATCH`] packets per wake-up so that one busy
//! device cannot starve the others.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use vpclab_sys::epoll::{Epoll, EventFd, empty_event, token};
use vpclab_sys::tun::{Tun, VNET_HDR_LEN};

use crate::capture::{Captured, Direction, Point, Tap};
use crate::counters::{CounterSnapshot, Counters, DropReason};
use crate::flowlog::{FlowRecord, FlowRecords, RecordKey, five_tuple};
use crate::nat::{FLOWS_PER_GATEWAY, Tracking};
use crate::pipeline::{REPLY_BUFFER, Verdict};
use crate::snapshot::{EDGE_MTU, INTERNET, Port, PortEntry, Snapshot};
use crate::vnet;
use crate::wire;

/// Packets read from one device per wake-up.
pub const BATCH: usize = 64;
/// Read buffer behind the virtio-net header: the largest IPv4 packet, which is also the
/// largest GSO super-packet.
const PACKET_BUFFER: usize = 65_536;
/// Where a packet starts in a frame: after its virtio-net header.
const H: usize = VNET_HDR_LEN;
/// The epoll token of the wake-up eventfd; device tokens are their ports.
const WAKE: u64 = u64::MAX;

enum Command {
    Attach(Port, Tun, mpsc::Sender<io::Result<()>>),
    Detach(Port, mpsc::Sender<Option<Tun>>),
    FlushFlows(mpsc::Sender<Vec<FlowRecord>>),
}

struct Shared {
    snapshot: ArcSwap<Snapshot>,
    counters: Counters,
    commands: Mutex<Vec<Command>>,
    wake: EventFd,
    stop: AtomicBool,
    tap: Tap,
    /// Where flow records go at the end of each aggregation interval.
    flow_sink: Mutex<Option<mpsc::Sender<Vec<FlowRecord>>>>,
}

/// A running forwarder thread and the handle to steer it.
pub struct Forwarder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("generation", &self.shared.snapshot.load().generation)
            .finish()
    }
}

impl Forwarder {
    /// Starts the forwarder thread with an empty snapshot.
    pub fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared {
            snapshot: ArcSwap::from_pointee(Snapshot::empty()),
            counters: Counters::default(),
            commands: Mutex::new(Vec::new()),
            wake: EventFd::new()?,
            stop: AtomicBool::new(false),
            tap: Tap::default(),
            flow_sink: Mutex::new(None),
        });
        let epoll = Epoll::new()?;
        epoll.add(shared.wake.as_raw_fd(), WAKE)?;
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("vpclab-forwarder".into())
            .spawn(move || run(&worker, &epoll))?;
        Ok(Self { shared, thread: Some(thread) })
    }

    fn command(&self, command: Command) -> io::Result<()> {
        self.shared.commands.lock().unwrap_or_else(|e| e.into_inner()).push(command);
        self.shared.wake.wake()
    }

    /// Hands `tun` to the forwarder as `port`; returns once the forwarder reads it.
    pub fn attach(&self, port: Port, tun: Tun) -> io::Result<()> {
        let (tx, rx) = mpsc::channel();
        self.command(Command::Attach(port, tun, tx))?;
        rx.recv_timeout(Duration::from_secs(5)).map_err(|_| io::Error::other("forwarder gone"))?
    }

    /// Takes the device of `port` back from the forwarder.
    pub fn detach(&self, port: Port) -> io::Result<Option<Tun>> {
        let (tx, rx) = mpsc::channel();
        self.command(Command::Detach(port, tx))?;
        rx.recv_timeout(Duration::from_secs(5)).map_err(|_| io::Error::other("forwarder gone"))
    }

    /// Makes `snapshot` the one every following packet sees.
    pub fn publish(&self, snapshot: Snapshot) {
        self.shared.snapshot.store(Arc::new(snapshot));
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    /// The flow records the forwarder writes out at the end of each aggregation
    /// interval (the snapshot's `flow_interval_ms`); replaces an earlier receiver.
    pub fn flow_records(&self) -> mpsc::Receiver<Vec<FlowRecord>> {
        let (tx, rx) = mpsc::channel();
        *self.shared.flow_sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    /// The flow records counted so far, taken now rather than at the interval's end.
    pub fn flush_flows(&self) -> io::Result<Vec<FlowRecord>> {
        let (tx, rx) = mpsc::channel();
        self.command(Command::FlushFlows(tx))?;
        rx.recv_timeout(Duration::from_secs(5)).map_err(|_| io::Error::other("forwarder gone"))
    }

    /// A handle to capture packets with, usable from any thread.
    pub fn capture(&self) -> Capture {
        Capture { shared: Arc::clone(&self.shared) }
    }

    /// The counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.shared.counters.snapshot()
    }

    /// Stops the thread and closes every device it holds (persistent devices stay).
    pub fn stop(mut self) -> io::Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> io::Result<()> {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.wake()?;
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| io::Error::other("forwarder panicked"))?,
            None => Ok(()),
        }
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

/// Expired NAT flows looked at per table per wake-up.
const SWEEP_BUDGET: usize = 64;

fn run(shared: &Shared, epoll: &Epoll) -> io::Result<()> {
    let mut devices: Vec<Option<Tun>> = Vec::new();
    // Frames: a virtio-net header, then the packet. Replies and fragments are made here
    // and go out behind a plain header (finished checksums, no GSO).
    let mut frame = vec![0u8; H + PACKET_BUFFER];
    let mut reply = vec![0u8; H + REPLY_BUFFER];
    let mut fragment = vec![0u8; H + EDGE_MTU];
    let mut before = vec![0u8; crate::capture::SNAP_LEN];
    let mut events = [empty_event(); 64];
    let mut nats = Tracking::new(FLOWS_PER_GATEWAY);
    let mut generation = None;
    let started = Instant::now();
    let counters = &shared.counters;
    let mut records = FlowRecords::default();
    let mut last_flush = 0u64;

    while !shared.stop.load(Ordering::Acquire) {
        let ready = epoll.wait(&mut events, Duration::from_secs(1))?;
        let snapshot = shared.snapshot.load();
        if generation != Some(snapshot.generation) {
            // A new snapshot: NAT gateways may have come or gone (off the packet path).
            nats.sync(&snapshot);
            generation = Some(snapshot.generation);
        }
        let now = started.elapsed().as_millis() as u64;
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let interval = snapshot.flow_interval_ms;
        let peering = shared.tap.peering();
        if interval > 0 && now.saturating_sub(last_flush) >= interval {
            last_flush = now;
            if !records.is_empty() {
                let mut batch = Vec::new();
                records.drain(&mut batch);
                let sink = shared.flow_sink.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(sink) = sink.as_ref() {
                    let _ = sink.send(batch);
                }
            }
        }
        nats.sweep(now, SWEEP_BUDGET);
        counters.set_nat(nats.flows() as u64, &nats.stats());
        for event in &events[..ready] {
            let token = token(event);
            if token == WAKE {
                shared.wake.drain();
                apply_commands(shared, epoll, &mut devices, &mut records);
                continue;
            }
            let port = token as Port;
            let Some(Some(device)) = devices.get(port as usize) else {
                continue;
            };
            for _ in 0..BATCH {
                let len = match device.recv(&mut frame) {
                    Ok(n) if n >= H => n - H,
                    Ok(_) => {
                        counters.drop(DropReason::Malformed);
                        continue;
                    }
                    Err(_) => break, // WouldBlock: drained; other errors: try next wake-up.
                };
                counters.rx();
                let offload = vnet::offload(&frame[..H]);
                let packet = &mut frame[H..];
                shared.tap.offer(port, Direction::Sent, &packet[..len]);
                // At the internet edge a capture shows both sides of the translation:
                // keep the untranslated header until the verdict is known.
                let edge = shared.tap.watches(INTERNET);
                // The sender's side of a flow record: the packet as it left the instance.
                let sent = logged(&snapshot, port).then(|| five_tuple(&packet[..len])).flatten();
                let sent_wire = wire::on_the_wire(&packet[..len], offload);
                if edge {
                    let kept = len.min(before.len());
                    before[..kept].copy_from_slice(&packet[..kept]);
                }
                let verdict = snapshot.process_offloaded(
                    &mut nats,
                    port,
                    &mut packet[..len],
                    offload,
                    &mut reply[H..],
                    now,
                );
                match verdict {
                    Verdict::Forward { port: out, len: out_len } => {
                        // The far side decides (a NAT gateway's Elastic IP, say).
                        let far_out = edge && out == INTERNET && port != INTERNET;
                        if far_out && shared.tap.wants(&packet[..out_len], true) {
                            let kept = len.min(before.len());
                            shared.tap.record(Direction::Sent, &before[..kept], len);
                        } else if edge && port == INTERNET && shared.tap.wants(&before, false) {
                            shared.tap.record(Direction::Received, &packet[..out_len], out_len);
                        }
                        if let Some((a, b)) = peering {
                            if crosses(&snapshot, port, out, a, b) {
                                shared.tap.record(Direction::Sent, &packet[..out_len], out_len);
                            }
                        }
                        if let Some(t) = sent {
                            records.count(record(port, t, true), sent_wire, wall);
                        }
                        if logged(&snapshot, out) {
                            if let Some(t) = five_tuple(&packet[..out_len]) {
                                let wire = wire::on_the_wire(&packet[..out_len], offload);
                                records.count(record(out, t, true), wire, wall);
                            }
                        }
                        if out == INTERNET && out_len > EDGE_MTU && offload.gso_size == 0 {
                            // Too big for the edge without DF (the pipeline let it through
                            // for this): cut in software, checksum finished first.
                            let packet = &mut packet[..out_len];
                            if offload.partial_checksum {
                                wire::finish_checksum(packet);
                            }
                            fragment[..H].copy_from_slice(&vnet::PLAIN);
                            let mut made = 0;
                            while let Some(n) =
                                wire::fragment(packet, EDGE_MTU, made, &mut fragment[H..])
                            {
                                send(shared, &devices, out, &fragment[..H + n]);
                                made += 1;
                            }
                            if made == 0 {
                                counters.drop(DropReason::TooBig);
                            }
                        } else {
                            send(shared, &devices, out, &frame[..H + out_len]);
                        }
                    }
                    Verdict::Reply { port: out, len, reason } => {
                        counters.drop(reason);
                        counters.icmp();
                        send(shared, &devices, out, &reply[..H + len]);
                    }
                    Verdict::Drop(reason) => {
                        counters.drop(reason);
                        match reason {
                            DropReason::SgEgress | DropReason::NaclOut => {
                                if let Some(t) = sent {
                                    records.count(record(port, t, false), sent_wire, wall);
                                }
                            }
                            DropReason::SgIngress | DropReason::NaclIn => {
                                let at = nats.receiver().filter(|&r| logged(&snapshot, r));
                                if let (Some(at), Some(t)) = (at, five_tuple(&packet[..len])) {
                                    let wire = wire::on_the_wire(&packet[..len], offload);
                                    records.count(record(at, t, false), wire, wall);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Writes `frame` — a virtio-net header and a packet — to `port`.
fn send(shared: &Shared, devices: &[Option<Tun>], port: Port, frame: &[u8]) {
    shared.tap.offer(port, Direction::Received, &frame[H..]);
    match devices.get(port as usize) {
        Some(Some(device)) if device.send(frame).is_ok() => shared.counters.tx(),
        _ => shared.counters.drop(DropReason::TxFailed),
    }
}

/// Whether a packet from `from` to `to` went between VPCs `a` and `b`.
fn crosses(snapshot: &Snapshot, from: Port, to: Port, a: u32, b: u32) -> bool {
    match (snapshot.port(from), snapshot.port(to)) {
        (PortEntry::Instance(x), PortEntry::Instance(y)) => {
            (x.vpc, y.vpc) == (a, b) || (x.vpc, y.vpc) == (b, a)
        }
        _ => false,
    }
}

/// Whether a flow log records the interface behind `port`.
#[inline]
fn logged(snapshot: &Snapshot, port: Port) -> bool {
    matches!(snapshot.port(port), PortEntry::Instance(i) if i.flow_log)
}

fn record(
    port: Port,
    (src, dst, sport, dport, protocol): (Ipv4Addr, Ipv4Addr, u16, u16, u8),
    accepted: bool,
) -> RecordKey {
    RecordKey { port, src, dst, sport, dport, protocol, accepted }
}

fn apply_commands(
    shared: &Shared,
    epoll: &Epoll,
    devices: &mut Vec<Option<Tun>>,
    records: &mut FlowRecords,
) {
    let commands = std::mem::take(&mut *shared.commands.lock().unwrap_or_else(|e| e.into_inner()));
    for command in commands {
        match command {
            Command::Attach(port, tun, done) => {
                let slot = port as usize;
                if devices.len() <= slot {
                    devices.resize_with(slot + 1, || None);
                }
                if let Some(old) = devices[slot].take() {
                    let _ = epoll.delete(old.as_raw_fd());
                }
                let result = epoll.add(tun.as_raw_fd(), u64::from(port));
                if result.is_ok() {
                    devices[slot] = Some(tun);
                }
                let _ = done.send(result);
            }
            Command::FlushFlows(done) => {
                let mut batch = Vec::new();
                records.drain(&mut batch);
                let _ = done.send(batch);
            }
            Command::Detach(port, done) => {
                let tun = devices.get_mut(port as usize).and_then(Option::take);
                if let Some(tun) = &tun {
                    let _ = epoll.delete(tun.as_raw_fd());
                }
                let _ = done.send(tun);
            }
        }
    }
}
