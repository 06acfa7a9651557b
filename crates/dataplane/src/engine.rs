//! The per-packet work of one forwarder worker, without I/O of its own.
//!
//! A worker's event loop ([`crate::worker`]: epoll or io_uring over TUN queues) reads a
//! frame — a virtio-net header, then the packet — and hands it to [`Engine::forward`],
//! which runs the pipeline and does everything the verdict asks for: capture, flow
//! records, cutting a packet too large for its way out into fragments, ICMP errors and
//! resets, handing a packet to the VPC's services. What it makes it writes through the
//! ports' [`Device`]s. The common case, a packet forwarded whole, goes back to the loop
//! instead, to be written from where it lies (an io_uring worker writes it from the
//! buffer it was read into).
//!
//! Nothing here makes a system call. Devices are behind the [`Device`] trait: its TUN
//! implementation lives beside the event loops, and its in-memory one, [`Loopback`]
//! (smoltcp's `phy::Loopback`, in spirit), lets forwarding, fragmentation, capture, flow
//! logs and the services' hand-off be tested without root (the tests below).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use crate::capture::{Direction, Tap};
use crate::counters::{Counters, DropReason};
use crate::flowlog::{FlowRecords, RecordKey, five_tuple};
use crate::nat::Tracking;
use crate::pipeline::{REPLY_BUFFER, Verdict};
use crate::services::{SERVICE_MTU, ServiceMsg};
use crate::snapshot::{INTERNET, Port, PortEntry, Snapshot, VPC_MTU};
use crate::{vnet, wire};

/// Where a packet starts in a frame: after its virtio-net header.
pub(crate) const H: usize = vnet::HEADER_LEN;
/// Room for a packet behind the virtio-net header: the largest IPv4 packet, which is
/// also the largest GSO super-packet.
pub(crate) const PACKET_BUFFER: usize = 65_536;

/// A port's device as a worker reads and writes it: frames of a virtio-net header and a
/// packet, one per call.
pub trait Device {
    /// Reads one frame into `frame`; its length. `WouldBlock` when none is waiting.
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize>;
    /// Writes one frame.
    fn send(&self, frame: &[u8]) -> io::Result<()>;
}

impl<D: Device + ?Sized> Device for Arc<D> {
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize> {
        (**self).recv(frame)
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        (**self).send(frame)
    }
}

/// An in-memory device: frames pushed into it are read back in order, frames written to
/// it are kept in order for the caller to take. For tests and benches: it allocates per
/// frame.
#[derive(Debug, Default)]
pub struct Loopback {
    incoming: RefCell<VecDeque<Vec<u8>>>,
    written: RefCell<VecDeque<Vec<u8>>>,
}

impl Loopback {
    /// Queues `frame` to be read.
    pub fn push(&self, frame: &[u8]) {
        self.incoming.borrow_mut().push_back(frame.to_vec());
    }

    /// Takes the frames written so far, oldest first.
    pub fn take(&self) -> Vec<Vec<u8>> {
        self.written.borrow_mut().drain(..).collect()
    }
}

impl Device for Loopback {
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize> {
        let next = self.incoming.borrow_mut().pop_front();
        let Some(next) = next else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // A frame longer than the buffer is cut, as a datagram read is.
        let n = next.len().min(frame.len());
        frame[..n].copy_from_slice(&next[..n]);
        Ok(n)
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.written.borrow_mut().push_back(frame.to_vec());
        Ok(())
    }
}

/// What one wake-up of a worker forwards with: the snapshot it loaded and the clocks it
/// read, carried to every packet of the wake-up as one value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tick<'s> {
    pub(crate) snapshot: &'s Snapshot,
    /// Milliseconds since the worker started (connection tracking's clock).
    pub(crate) now: u64,
    /// Seconds since the Unix epoch (flow records' clock).
    pub(crate) wall: u64,
}

/// One worker's per-packet state and work: its connection tracking, flow records and
/// scratch buffers, and the ports' devices as it writes them.
pub(crate) struct Engine<'a, D> {
    counters: &'a Counters,
    tap: &'a Tap,
    /// Each port's device as this worker writes it outside its loop's own I/O
    /// (indexed by port).
    pub(crate) devices: Vec<Option<D>>,
    /// ICMP errors, resets and NAT64 translations: a virtio-net header, then the packet.
    reply: Vec<u8>,
    /// Fragments being sent: a plain header, then one fragment.
    fragment: Vec<u8>,
    /// The untranslated header of a packet at a watched internet edge.
    before: Vec<u8>,
    pub(crate) nats: Tracking,
    pub(crate) records: FlowRecords,
    /// The service thread's queue.
    to_services: SyncSender<ServiceMsg>,
}

impl<'a, D: Device> Engine<'a, D> {
    pub(crate) fn new(
        counters: &'a Counters,
        tap: &'a Tap,
        nats: Tracking,
        to_services: SyncSender<ServiceMsg>,
    ) -> Self {
        Self {
            counters,
            tap,
            devices: Vec::new(),
            // Room for any packet translated to IPv6 (its header 20 bytes longer, 28
            // with a Fragment header): NAT64 builds its translations here.
            reply: vec![0u8; H + PACKET_BUFFER.max(REPLY_BUFFER) + 32],
            fragment: vec![0u8; H + VPC_MTU],
            before: vec![0u8; crate::capture::SNAP_LEN],
            nats,
            records: FlowRecords::default(),
            to_services,
        }
    }

    /// Runs the pipeline on the `len`-byte frame read from `port`, and sends what it
    /// decides — except the common case, a packet forwarded whole: then it returns the
    /// port and the frame's new length, for the caller to write the frame from where it
    /// lies.
    #[must_use]
    pub(crate) fn forward(
        &mut self,
        tick: Tick<'_>,
        port: Port,
        frame: &mut [u8],
        len: usize,
    ) -> Option<(Port, usize)> {
        let Tick { snapshot, now, wall } = tick;
        let counters = self.counters;
        let tap = self.tap;
        let len = len - H;
        counters.rx();
        counters.port_sent(port);
        let offload = vnet::offload(&frame[..H]);
        tap.offer(port, Direction::Sent, &frame[H..H + len]);
        // At the internet edge a capture shows both sides of the translation: keep the
        // untranslated header until the verdict is known.
        let edge = tap.watches(INTERNET);
        let packet = &mut frame[H..];
        // The sender's side of a flow record: the packet as it left the instance.
        // (Measured only for a logged interface: most packets pay nothing for flow logs.)
        let sent = logged(snapshot, port)
            .then(|| five_tuple(&packet[..len]))
            .flatten()
            .map(|t| (t, wire::on_the_wire(&packet[..len], offload)));
        if edge {
            let kept = len.min(self.before.len());
            self.before[..kept].copy_from_slice(&packet[..kept]);
        }
        let verdict = snapshot.process_offloaded(
            &mut self.nats,
            port,
            &mut packet[..len],
            offload,
            &mut self.reply[H..],
            now,
        );
        match verdict {
            Verdict::Forward { port: out, len: out_len } => {
                // The far side decides (a NAT gateway's Elastic IP, say).
                let far_out = edge && out == INTERNET && port != INTERNET;
                if far_out && tap.wants(&packet[..out_len], true) {
                    let kept = len.min(self.before.len());
                    tap.record(Direction::Sent, &self.before[..kept], len);
                } else if edge && port == INTERNET && tap.wants(&self.before, false) {
                    tap.record(Direction::Received, &packet[..out_len], out_len);
                }
                if let Some((a, b)) = tap.peering() {
                    if crosses(snapshot, port, out, a, b) {
                        tap.record(Direction::Sent, &packet[..out_len], out_len);
                    }
                }
                if let Some((t, on_wire)) = sent {
                    self.records.count(record(port, t, true), on_wire, wall);
                }
                if logged(snapshot, out) {
                    if let Some(t) = five_tuple(&packet[..out_len]) {
                        let on_wire = wire::on_the_wire(&packet[..out_len], offload);
                        self.records.count(record(out, t, true), on_wire, wall);
                    }
                }
                let mtu = snapshot.mtu(out);
                if out_len > mtu && offload.gso_size == 0 {
                    // Larger than the device it goes to takes, without DF (the pipeline
                    // let it through for this): cut in software, checksum finished first.
                    let packet = &mut packet[..out_len];
                    if offload.partial_checksum {
                        wire::finish_checksum(packet);
                    }
                    self.fragment[..H].copy_from_slice(&vnet::PLAIN);
                    let mut made = 0;
                    while let Some(n) = wire::fragment(packet, mtu, made, &mut self.fragment[H..]) {
                        self.send(out, &self.fragment[..H + n]);
                        made += 1;
                    }
                    if made == 0 {
                        counters.drop(DropReason::TooBig);
                        counters.port_dropped(port, DropReason::TooBig);
                    }
                } else {
                    return Some((out, H + out_len));
                }
            }
            Verdict::Translated { port: out, len: out_len, shift } => {
                // NAT64: the translation lies in the reply buffer; its offloads are the
                // packet's, with the upper-layer header moved.
                let to_ipv4 = self.reply.get(H).is_some_and(|b| b >> 4 == 4);
                self.reply[..H].copy_from_slice(&vnet::translated(&frame[..H], shift, to_ipv4));
                if let Some((t, on_wire)) = sent {
                    self.records.count(record(port, t, true), on_wire, wall);
                }
                let translated = &self.reply[H..H + out_len];
                // (Through a private NAT gateway and a transit gateway, a translation
                // goes from one VPC to another.)
                if let Some((a, b)) = tap.peering() {
                    if crosses(snapshot, port, out, a, b) {
                        tap.record(Direction::Sent, translated, out_len);
                    }
                }
                if logged(snapshot, out) {
                    if let Some(t) = five_tuple(translated) {
                        let on_wire = wire::on_the_wire(translated, offload);
                        self.records.count(record(out, t, true), on_wire, wall);
                    }
                }
                self.send(out, &self.reply[..H + out_len]);
                // The errors built here later go out as plain packets.
                self.reply[..H].copy_from_slice(&vnet::PLAIN);
            }
            Verdict::Reply { port: out, len, reason } => {
                counters.drop(reason);
                counters.port_dropped(port, reason);
                counters.icmp();
                self.send(out, &self.reply[..H + len]);
            }
            Verdict::Service { len } => {
                // Copied into the message itself: the queue's slots are preallocated.
                let mut bytes = [0u8; SERVICE_MTU];
                let sent = len <= SERVICE_MTU && {
                    bytes[..len].copy_from_slice(&packet[..len]);
                    let msg = ServiceMsg::Packet { port, len: len as u16, bytes };
                    self.to_services.try_send(msg).is_ok()
                };
                if sent {
                    counters.to_services();
                } else {
                    counters.drop(DropReason::ServiceBusy);
                    counters.port_dropped(port, DropReason::ServiceBusy);
                }
            }
            Verdict::Drop(reason) => {
                counters.drop(reason);
                counters.port_dropped(port, reason);
                match reason {
                    DropReason::SgEgress | DropReason::NaclOut => {
                        if let Some((t, on_wire)) = sent {
                            self.records.count(record(port, t, false), on_wire, wall);
                        }
                    }
                    DropReason::SgIngress | DropReason::NaclIn => {
                        let at = self.nats.receiver().filter(|&r| logged(snapshot, r));
                        if let (Some(at), Some(t)) = (at, five_tuple(&packet[..len])) {
                            let on_wire = wire::on_the_wire(&packet[..len], offload);
                            self.records.count(record(at, t, false), on_wire, wall);
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }

    /// Writes `frame` — a virtio-net header and a packet — to `port`'s device.
    pub(crate) fn send(&self, port: Port, frame: &[u8]) {
        self.tap.offer(port, Direction::Received, &frame[H..]);
        let device = self.devices.get(port as usize).and_then(Option::as_ref);
        self.delivered(port, device.is_some_and(|d| d.send(frame).is_ok()));
    }

    /// Counts a packet written to `port`'s device, or one that could not be.
    pub(crate) fn delivered(&self, port: Port, written: bool) {
        if written {
            self.counters.tx();
            self.counters.port_received(port);
        } else {
            self.counters.drop(DropReason::TxFailed);
        }
    }

    /// Puts `device` at `port`, returning the one it replaces.
    pub(crate) fn attach(&mut self, port: Port, device: D) -> Option<D> {
        let slot = port as usize;
        if self.devices.len() <= slot {
            self.devices.resize_with(slot + 1, || None);
        }
        self.devices[slot].replace(device)
    }

    /// Takes `port`'s device away.
    pub(crate) fn detach(&mut self, port: Port) -> Option<D> {
        self.devices.get_mut(port as usize).and_then(Option::take)
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
    (src, dst, sport, dport, protocol): (IpAddr, IpAddr, u16, u16, u8),
    accepted: bool,
) -> RecordKey {
    RecordKey { port, src, dst, sport, dport, protocol, accepted }
}

