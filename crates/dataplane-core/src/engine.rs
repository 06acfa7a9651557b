//! The per-packet work of one forwarder worker, without I/O of its own.
//!
//! A worker's event loop (`vpclab_dataplane::worker`: epoll or io_uring over TUN queues) reads a
//! frame — a virtio-net header, then the packet — and hands it to [`Engine::forward`],
//! which runs the pipeline and does everything the verdict asks for: capture, flow
//! records, cutting a packet too large for its way out into fragments, ICMP errors and
//! resets, NAT64 translations, handing a packet to the VPC's services. What it makes it
//! writes through the ports' [`Device`]s. The common case, a packet forwarded whole,
//! goes back to the loop instead, to be written from where it lies (an io_uring worker
//! writes it from the buffer it was read into).
//!
//! No I/O of its own: everything it writes goes through a [`Device`]; besides, it only
//! posts to the services' channel (which may wake that thread) and copies into the
//! capture ring. The TUN implementation of [`Device`] lives beside the event loops;
//! the in-memory one, [`Loopback`] (smoltcp's `phy::Loopback`, in spirit), lets
//! forwarding, fragmentation, capture, flow logs and the services' hand-off be tested
//! without root (the tests below).

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::capture::{Direction, Tap};
use crate::counters::{Counters, DropReason};
use crate::flowlog::{FlowRecords, RecordKey, five_tuple};
use crate::nat::Tracking;
use crate::pipeline::{REPLY_BUFFER, Verdict};
use crate::services::{SERVICE_MTU, ServiceMsg};
use crate::snapshot::{INTERNET, Port, PortEntry, Snapshot, VPC_MTU};
use crate::vnet;
use crate::wire::{self, Offload};

/// Where a packet starts in a frame: after its virtio-net header.
pub const H: usize = vnet::HEADER_LEN;
/// Room for a packet behind the virtio-net header: the largest IPv4 packet, which is
/// also the largest GSO super-packet.
pub const PACKET_BUFFER: usize = 65_536;

/// A port's device as a worker reads and writes it: frames of a virtio-net header and a
/// packet, one per call.
pub trait Device {
    /// Reads one frame into `frame`; its length. `WouldBlock` when none is waiting.
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize>;
    /// Writes one frame.
    fn send(&self, frame: &[u8]) -> io::Result<()>;
}

impl<D: Device + ?Sized> Device for Arc<D> {
    #[inline]
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize> {
        (**self).recv(frame)
    }

    #[inline]
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        (**self).send(frame)
    }
}

/// An in-memory device: frames pushed into it are read back in order, frames written to
/// it are kept in order for the caller to take. For tests and benches: it allocates per
/// frame, and may be shared between threads (a worker and the service thread, say).
#[derive(Debug, Default)]
pub struct Loopback {
    incoming: Mutex<VecDeque<Vec<u8>>>,
    written: Mutex<VecDeque<Vec<u8>>>,
}

impl Loopback {
    /// Queues `frame` to be read.
    pub fn push(&self, frame: &[u8]) {
        lock(&self.incoming).push_back(frame.to_vec());
    }

    /// Takes the frames written so far, oldest first.
    pub fn take(&self) -> Vec<Vec<u8>> {
        lock(&self.written).drain(..).collect()
    }
}

/// A queue of a [`Loopback`], whatever a panicking holder left in it.
fn lock(queue: &Mutex<VecDeque<Vec<u8>>>) -> MutexGuard<'_, VecDeque<Vec<u8>>> {
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

impl Device for Loopback {
    fn recv(&self, frame: &mut [u8]) -> io::Result<usize> {
        let next = lock(&self.incoming).pop_front();
        let Some(next) = next else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // A frame longer than the buffer is cut, as a datagram read is.
        let n = next.len().min(frame.len());
        frame[..n].copy_from_slice(&next[..n]);
        Ok(n)
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        lock(&self.written).push_back(frame.to_vec());
        Ok(())
    }
}

/// What one wake-up of a worker forwards with: the snapshot it loaded and the clocks it
/// read, carried to every packet of the wake-up as one value.
#[derive(Clone, Copy, Debug)]
pub struct Tick<'s> {
    pub snapshot: &'s Snapshot,
    /// Milliseconds since the worker started (connection tracking's clock).
    pub now: u64,
    /// Seconds since the Unix epoch (flow records' clock).
    pub wall: u64,
}

/// One worker's per-packet state and work: its connection tracking, flow records and
/// scratch buffers, and the ports' devices as it writes them.
pub struct Engine<'a, D> {
    counters: &'a Counters,
    tap: &'a Tap,
    /// Each port's device as this worker holds it (indexed by port): the queue it reads
    /// and writes (epoll), or the device's first queue, which it writes what is not in
    /// its ring through (io_uring).
    pub devices: Vec<Option<D>>,
    /// ICMP errors, resets and NAT64 translations: a virtio-net header, then the packet.
    reply: Vec<u8>,
    /// Fragments being sent: a plain header, then one fragment.
    fragment: Vec<u8>,
    /// The untranslated header of a packet at a watched internet edge.
    before: Vec<u8>,
    pub nats: Tracking,
    pub records: FlowRecords,
    /// The service thread's queue.
    to_services: SyncSender<ServiceMsg<D>>,
}

impl<D> std::fmt::Debug for Engine<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let devices = self.devices.iter().filter(|d| d.is_some()).count();
        f.debug_struct("Engine").field("devices", &devices).finish_non_exhaustive()
    }
}

impl<'a, D: Device> Engine<'a, D> {
    pub fn new(
        counters: &'a Counters,
        tap: &'a Tap,
        nats: Tracking,
        to_services: SyncSender<ServiceMsg<D>>,
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
    /// lies. The caller then owes what [`Engine::send`] does for it: [`Engine::leaving`]
    /// before the write, [`Engine::delivered`] with its outcome.
    #[must_use]
    pub fn forward(
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
                let passing = &packet[..out_len];
                passed(tap, &mut self.records, tick, (port, out), sent, passing, offload);
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
                // (Through a private NAT gateway and a transit gateway, a translation
                // goes from one VPC to another: a peering capture may see it.)
                let translated = &self.reply[H..H + out_len];
                passed(tap, &mut self.records, tick, (port, out), sent, translated, offload);
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

    /// [`Engine::forward`], then a packet forwarded whole written through its port's
    /// device too: for a caller with no write path of its own (the epoll loop, the
    /// hand-off between workers).
    pub fn forward_and_send(&mut self, tick: Tick<'_>, port: Port, frame: &mut [u8], len: usize) {
        if let Some((out, n)) = self.forward(tick, port, frame, len) {
            self.send(out, &frame[..n]);
        }
    }

    /// Writes `frame` — a virtio-net header and a packet — to `port`'s device.
    pub fn send(&self, port: Port, frame: &[u8]) {
        self.leaving(port, &frame[H..]);
        let device = self.devices.get(port as usize).and_then(Option::as_ref);
        self.delivered(port, device.is_some_and(|d| d.send(frame).is_ok()));
    }

    /// Shows `packet`, about to be written to `port`'s device, to a capture there.
    #[inline]
    pub fn leaving(&self, port: Port, packet: &[u8]) {
        self.tap.offer(port, Direction::Received, packet);
    }

    /// Counts a packet written to `port`'s device, or one that could not be.
    pub fn delivered(&self, port: Port, written: bool) {
        if written {
            self.counters.tx();
            self.counters.port_received(port);
        } else {
            self.counters.drop(DropReason::TxFailed);
        }
    }

    /// Puts `device` at `port`, returning the one it replaces.
    pub fn attach(&mut self, port: Port, device: D) -> Option<D> {
        let slot = port as usize;
        if self.devices.len() <= slot {
            self.devices.resize_with(slot + 1, || None);
        }
        self.devices[slot].replace(device)
    }

    /// Takes `port`'s device away.
    pub fn detach(&mut self, port: Port) -> Option<D> {
        self.devices.get_mut(port as usize).and_then(Option::take)
    }
}

/// A sender's side of a flow record, taken as the packet left it: its five-tuple and
/// what it counts on the wire (packets, bytes).
type Sent = ((IpAddr, IpAddr, u16, u16, u8), (u32, usize));

/// What a packet passing whole from `port` to `out` as `packet` leaves behind: a copy
/// for a capture of the peering it crosses, and the accepted flow records of both
/// interfaces (the sender's, `sent`, taken before the pipeline changed it).
fn passed(
    tap: &Tap,
    records: &mut FlowRecords,
    tick: Tick<'_>,
    (port, out): (Port, Port),
    sent: Option<Sent>,
    packet: &[u8],
    offload: Offload,
) {
    let Tick { snapshot, wall, .. } = tick;
    if let Some((a, b)) = tap.peering() {
        if crosses(snapshot, port, out, a, b) {
            tap.record(Direction::Sent, packet, packet.len());
        }
    }
    if let Some((t, on_wire)) = sent {
        records.count(record(port, t, true), on_wire, wall);
    }
    if logged(snapshot, out) {
        if let Some(t) = five_tuple(packet) {
            records.count(record(out, t, true), wire::on_the_wire(packet, offload), wall);
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;
    use std::sync::mpsc::{Receiver, sync_channel};

    use vpclab_model::{
        FlowLogSpec, Model, RouteSpec, RouteTarget, RunInstance, SubnetId, Tags, TrafficType,
    };

    use super::*;
    use crate::capture::Captured;
    use crate::pipeline::tests::public_private;
    use crate::snapshot::{EDGE_MTU, PortMap, compile};
    use crate::trace::{Probe, probe};
    use crate::wire::{IPV4_HEADER, ipv4_packet};

    /// VPC 10.0.0.0/16 with an internet gateway: `web` (public address) in 10.0.1.0/24,
    /// whose table routes 0.0.0.0/0 to it, `app` in 10.0.2.0/24; both in the default
    /// security group, a flow log on the VPC. Every port has an in-memory device.
    pub(crate) struct Lab {
        snapshot: Snapshot,
        pub(crate) counters: Counters,
        tap: Tap,
        pub(crate) web: (Port, Ipv4Addr, Ipv4Addr),
        pub(crate) app: (Port, Ipv4Addr),
    }

    const INTERNET_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

    impl Lab {
        pub(crate) fn new(flow_log: bool) -> Self {
            let mut m = Model::new(7);
            let (vpc, public, private) = public_private(&mut m, 0);
            let run = |m: &mut Model, subnet: &SubnetId, public_ip: bool| {
                let instance = RunInstance {
                    subnet: Some(subnet.clone()),
                    public_ip: Some(public_ip),
                    ..Default::default()
                };
                m.run_instance(instance).unwrap()
            };
            let (web, app) = (run(&mut m, &public, true), run(&mut m, &private, false));
            if flow_log {
                let spec = FlowLogSpec {
                    traffic_type: TrafficType::All,
                    destination_type: "cloud-watch-logs".into(),
                    destination: "lab".into(),
                    max_aggregation_interval: 60,
                    created_at: 0,
                    tags: Tags::new(),
                };
                let made = m.create_flow_logs("VPC", &[vpc.as_str().to_owned()], &spec).unwrap();
                assert!(made.iter().all(Result::is_ok));
            }
            let mut ports = PortMap::new();
            let (web_port, app_port) = (ports.assign(&web), ports.assign(&app));
            let web = m.instance(&web).unwrap();
            let web_public = web.public_ip.as_ref().unwrap().0;
            let web = (web_port, web.private_ip.unwrap(), web_public);
            let app = (app_port, m.instance(&app).unwrap().private_ip.unwrap());
            let snapshot = compile(&m, &mut ports, 1);
            Lab { snapshot, counters: Counters::default(), tap: Tap::default(), web, app }
        }

        /// An engine with a device at each port, and the service thread's end of its
        /// queue (`slots` messages deep).
        pub(crate) fn engine(
            &self,
            slots: usize,
        ) -> (Engine<'_, Loopback>, Receiver<ServiceMsg<Loopback>>) {
            let (to_services, services) = sync_channel(slots);
            let mut nats = Tracking::new(1024);
            nats.sync(&self.snapshot);
            let mut engine = Engine::new(&self.counters, &self.tap, nats, to_services);
            for port in [self.web.0, self.app.0, INTERNET] {
                assert!(engine.attach(port, Loopback::default()).is_none());
            }
            (engine, services)
        }

        pub(crate) fn tick(&self) -> Tick<'_> {
            Tick { snapshot: &self.snapshot, now: 0, wall: 1_000 }
        }
    }

    /// `packet` behind a plain virtio-net header, in a buffer as large as a worker's.
    pub(crate) fn frame(packet: &[u8]) -> (Vec<u8>, usize) {
        let mut frame = vec![0u8; H + PACKET_BUFFER];
        frame[H..H + packet.len()].copy_from_slice(packet);
        (frame, H + packet.len())
    }

    /// A UDP datagram of `payload` bytes (its checksum left out, as IPv4 allows), DF
    /// as asked.
    fn udp(src: Ipv4Addr, dst: Ipv4Addr, payload: usize, dont_fragment: bool) -> Vec<u8> {
        let mut l4 = vec![0u8; 8 + payload];
        l4[..2].copy_from_slice(&4321u16.to_be_bytes());
        l4[2..4].copy_from_slice(&9999u16.to_be_bytes());
        l4[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
        for (i, byte) in l4[8..].iter_mut().enumerate() {
            *byte = i as u8;
        }
        let mut p = ipv4_packet(src, dst, 64, 17, &l4);
        if dont_fragment {
            p[6] |= 0x40;
            p[10..12].fill(0);
            let c = wire::checksum(&p[..IPV4_HEADER]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        }
        p
    }

    fn device<'e>(engine: &'e Engine<'_, Loopback>, port: Port) -> &'e Loopback {
        engine.devices[port as usize].as_ref().unwrap()
    }

    #[test]
    fn a_packet_forwarded_whole_is_left_to_the_loop_to_write() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let (web, app) = (lab.web, lab.app);
        let (mut f, len) = frame(&probe(web.1, app.1, Probe::Ping));
        let out = engine.forward(lab.tick(), web.0, &mut f, len);
        assert_eq!(out, Some((app.0, len)), "to app, the frame's length unchanged");
        assert_eq!(f[H + 8], 63, "the VPC router took one from the TTL");
        for port in [web.0, app.0, INTERNET] {
            assert!(device(&engine, port).take().is_empty(), "nothing written by the engine");
        }
        // The loop writes it (as the epoll loop does): counted as sent to app.
        engine.send(app.0, &f[..len]);
        assert_eq!(device(&engine, app.0).take(), vec![f[..len].to_vec()]);
        let counted = lab.counters.snapshot();
        assert_eq!((counted.rx_packets, counted.tx_packets), (1, 1));
        assert_eq!(lab.counters.port(web.0).sent, 1);
        assert_eq!(lab.counters.port(app.0).received, 1);
    }

    #[test]
    fn a_datagram_larger_than_the_edge_without_df_leaves_in_fragments() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let web = lab.web;
        let datagram = udp(web.1, INTERNET_HOST, 4000, false);
        let (mut f, len) = frame(&datagram);
        assert_eq!(engine.forward(lab.tick(), web.0, &mut f, len), None, "sent as pieces");
        let pieces = device(&engine, INTERNET).take();
        // Every piece but the last carries a multiple of 8 bytes of the 4008 after the
        // header.
        let per_piece = (EDGE_MTU - IPV4_HEADER) & !7;
        assert_eq!(pieces.len(), (8 + 4000usize).div_ceil(per_piece), "cut to the edge");
        let mut payload = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            assert_eq!(&piece[..H], &vnet::PLAIN, "fragments need nothing finished");
            let ip = &piece[H..];
            assert!(ip.len() <= EDGE_MTU, "fragment {i} is {} bytes", ip.len());
            assert_eq!(wire::checksum(&ip[..IPV4_HEADER]), 0, "fragment {i}'s header checksum");
            assert_eq!(&ip[12..16], &web.2.octets(), "from web's public address");
            let field = u16::from_be_bytes([ip[6], ip[7]]);
            let (more, offset) = (field & 0x2000 != 0, usize::from(field & 0x1fff) * 8);
            assert_eq!(more, i < pieces.len() - 1, "MF on all but the last");
            assert_eq!(offset, payload.len(), "fragment {i} continues where the last ended");
            payload.extend_from_slice(&ip[IPV4_HEADER..]);
        }
        // (The UDP header aside: its checksum is 0, none, and the ports are the same.)
        assert_eq!(&payload[8..], &datagram[IPV4_HEADER + 8..], "the payload, whole and in order");
        let counted = lab.counters.snapshot();
        assert_eq!((counted.rx_packets, counted.tx_packets), (1, 3));
    }

    #[test]
    fn with_df_the_sender_gets_fragmentation_needed_instead() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let web = lab.web;
        let (mut f, len) = frame(&udp(web.1, INTERNET_HOST, 4000, true));
        assert_eq!(engine.forward(lab.tick(), web.0, &mut f, len), None);
        assert!(device(&engine, INTERNET).take().is_empty(), "nothing leaves");
        let back = device(&engine, web.0).take();
        assert_eq!(back.len(), 1, "one ICMP error to the sender");
        let icmp = &back[0][H..];
        assert_eq!((icmp[9], icmp[20], icmp[21]), (1, 3, 4), "fragmentation needed");
        assert_eq!(usize::from(u16::from_be_bytes([icmp[26], icmp[27]])), EDGE_MTU, "next MTU");
        assert_eq!(&icmp[16..20], &web.1.octets(), "to the sender's private address");
        assert_eq!(lab.counters.snapshot().icmp_sent, 1);
        assert_eq!(lab.counters.snapshot().dropped(DropReason::TooBig), 1);
    }

    #[test]
    fn a_partial_checksum_is_finished_before_the_datagram_is_cut() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let web = lab.web;
        let mut datagram = udp(web.1, INTERNET_HOST, 3000, false);
        // As a sender offloading it leaves it: the pseudo-header's sum in the field.
        let udp_len = (datagram.len() - IPV4_HEADER) as u16;
        let pseudo =
            [&web.1.octets()[..], &INTERNET_HOST.octets(), &[0, 17], &udp_len.to_be_bytes()]
                .concat();
        let partial = !wire::checksum(&pseudo);
        datagram[IPV4_HEADER + 6..IPV4_HEADER + 8].copy_from_slice(&partial.to_be_bytes());
        let (mut f, len) = frame(&datagram);
        // NEEDS_CSUM, no GSO, csum_start at the UDP header, csum_offset 6.
        f[0] = vnet::F_NEEDS_CSUM;
        f[6..8].copy_from_slice(&(IPV4_HEADER as u16).to_le_bytes());
        f[8..10].copy_from_slice(&6u16.to_le_bytes());
        assert_eq!(engine.forward(lab.tick(), web.0, &mut f, len), None);
        let pieces = device(&engine, INTERNET).take();
        assert!(pieces.len() > 1);
        let mut segment = Vec::new();
        for piece in &pieces {
            segment.extend_from_slice(&piece[H + IPV4_HEADER..]);
        }
        // The whole datagram as it left (from web's public address) sums to zero.
        let pseudo =
            [&web.2.octets()[..], &INTERNET_HOST.octets(), &[0, 17], &udp_len.to_be_bytes()]
                .concat();
        assert_eq!(wire::checksum(&[&pseudo[..], &segment].concat()), 0, "a finished checksum");
    }

    #[test]
    fn a_super_packet_is_left_whole_for_the_device_to_segment() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let web = lab.web;
        let datagram = udp(web.1, INTERNET_HOST, 2 * 1400, false);
        let (mut f, len) = frame(&datagram);
        // UDP segmentation offload: 1400-byte segments, each under the edge.
        f[1] = vnet::gso::UDP_L4;
        f[4..6].copy_from_slice(&1400u16.to_le_bytes());
        let out = engine.forward(lab.tick(), web.0, &mut f, len);
        assert_eq!(out, Some((INTERNET, len)), "larger than the edge, and still whole");
        assert!(device(&engine, INTERNET).take().is_empty(), "no fragments made");
    }

    #[test]
    fn a_capture_at_the_internet_edge_shows_both_sides_of_the_translation() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let web = lab.web;
        assert!(lab.tap.start(INTERNET, Some(web.2)));
        let request = probe(web.1, INTERNET_HOST, Probe::Ping);
        let (mut f, len) = frame(&request);
        let (out, n) = engine.forward(lab.tick(), web.0, &mut f, len).unwrap();
        assert_eq!(out, INTERNET);
        engine.send(out, &f[..n]);
        let mut seen: Vec<Captured> = Vec::new();
        lab.tap.drain(&mut seen);
        let sources: Vec<_> = seen.iter().map(|c| (c.direction, c.data[12..16].to_vec())).collect();
        assert!(
            sources.contains(&(Direction::Sent, web.1.octets().to_vec())),
            "the packet as web sent it, from its private address: {sources:?}"
        );
        assert!(
            sources.contains(&(Direction::Received, web.2.octets().to_vec())),
            "and as the internet got it, from its public one: {sources:?}"
        );
        // Another address's traffic is not this capture's.
        lab.tap.stop();
        assert!(lab.tap.start(INTERNET, Some(Ipv4Addr::new(203, 0, 113, 99))));
        let (mut f, len) = frame(&request);
        let (out, n) = engine.forward(lab.tick(), web.0, &mut f, len).unwrap();
        engine.send(out, &f[..n]);
        let mut seen = Vec::new();
        lab.tap.drain(&mut seen);
        let kept: Vec<_> = seen.iter().filter(|c| c.direction == Direction::Sent).collect();
        assert!(kept.is_empty(), "nothing of web's, sent: {kept:?}");
    }

    #[test]
    fn a_nat64_translation_carries_the_offload_and_the_next_error_goes_out_plain() {
        // The lab's VPC, dual-stack, with a public NAT gateway in web's subnet that the
        // private subnet routes 64:ff9b::/96 to; `six` is an instance there with IPv6.
        let mut m = Model::new(9);
        let (vpc, public, private) = public_private(&mut m, 0);
        let default = "0.0.0.0/0".parse().unwrap();
        let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
        let six_block = format!("{}/64", block.network()).parse().unwrap();
        m.associate_subnet_ipv6(&private, six_block).unwrap();
        let eip = m.allocate_address(Tags::new()).unwrap();
        let spec = vpclab_model::NatGatewaySpec::public(&public, &eip);
        let nat = m.create_nat_gateway(spec, Tags::new(), 0).unwrap();
        let nat_table = m.create_route_table(&vpc, Tags::new()).unwrap();
        m.associate_route_table(&nat_table, &private).unwrap();
        let nat44 =
            RouteSpec { destination: default, target: RouteTarget::NatGateway(nat.clone()) };
        m.create_route(&nat_table, nat44).unwrap();
        let nat64 = RouteSpec {
            destination: "64:ff9b::/96".parse().unwrap(),
            target: RouteTarget::NatGateway(nat),
        };
        m.create_ipv6_route(&nat_table, nat64).unwrap();
        let six = RunInstance {
            subnet: Some(private.clone()),
            ipv6: vpclab_model::Ipv6Request::Count(1),
            ..Default::default()
        };
        let six = m.run_instance(six).unwrap();
        let (six_v4, six_v6) = {
            let i = m.instance(&six).unwrap();
            (i.private_ip.unwrap(), i.ipv6_addresses[0])
        };
        let mut ports = PortMap::new();
        let six = ports.assign(&six);
        let snapshot = compile(&m, &mut ports, 1);
        let (counters, tap) = (Counters::default(), Tap::default());
        let (to_services, _services) = sync_channel(1);
        let mut nats = Tracking::new(1024);
        nats.sync(&snapshot);
        let mut engine = Engine::new(&counters, &tap, nats, to_services);
        for port in [six, INTERNET] {
            assert!(engine.attach(port, Loopback::default()).is_none());
        }
        let tick = Tick { snapshot: &snapshot, now: 0, wall: 0 };

        // UDP to 198.51.100.1 by its NAT64 address, its checksum left partial.
        let mut l4 = vec![0u8; 8 + 32];
        l4[..2].copy_from_slice(&4321u16.to_be_bytes());
        l4[2..4].copy_from_slice(&9999u16.to_be_bytes());
        l4[4..6].copy_from_slice(&40u16.to_be_bytes());
        let to = crate::nat64::Prefix96::WELL_KNOWN.embed(INTERNET_HOST);
        let packet = crate::wire6::ipv6_packet(six_v6, to, 64, 17, &l4);
        let (mut f, len) = frame(&packet);
        f[0] = vnet::F_NEEDS_CSUM;
        f[6..8].copy_from_slice(&40u16.to_le_bytes()); // csum_start: after the IPv6 header
        f[8..10].copy_from_slice(&6u16.to_le_bytes());
        assert_eq!(engine.forward(tick, six, &mut f, len), None, "sent from the reply buffer");
        let out = device(&engine, INTERNET).take();
        assert_eq!(out.len(), 1, "one translation to the internet");
        let (header, ip) = out[0].split_at(H);
        assert_eq!(ip[0] >> 4, 4, "IPv4 now");
        assert_eq!(&ip[16..20], &INTERNET_HOST.octets(), "to the embedded address");
        assert_eq!(header[0], vnet::F_NEEDS_CSUM, "still partial");
        let start = u16::from_le_bytes([header[6], header[7]]);
        assert_eq!(usize::from(start), IPV4_HEADER, "the UDP header moved up with the header");

        // Then an error the engine builds in the same buffer: a plain header in front.
        let mut expiring = probe(six_v4, INTERNET_HOST, Probe::Ping);
        expiring[8] = 1;
        expiring[10..12].fill(0);
        let c = wire::checksum(&expiring[..IPV4_HEADER]);
        expiring[10..12].copy_from_slice(&c.to_be_bytes());
        let (mut g, len) = frame(&expiring);
        assert_eq!(engine.forward(tick, six, &mut g, len), None);
        let back = device(&engine, six).take();
        assert_eq!(back.len(), 1, "time exceeded");
        assert_eq!(&back[0][..H], &vnet::PLAIN, "nothing of the translation's offload left");
        assert_eq!(back[0][H + 20], 11);
    }

    #[test]
    fn an_expired_packet_gets_time_exceeded_from_the_router() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let (web, app) = (lab.web, lab.app);
        let mut ping = probe(web.1, app.1, Probe::Ping);
        ping[8] = 1;
        ping[10..12].fill(0);
        let c = wire::checksum(&ping[..IPV4_HEADER]);
        ping[10..12].copy_from_slice(&c.to_be_bytes());
        let (mut f, len) = frame(&ping);
        assert_eq!(engine.forward(lab.tick(), web.0, &mut f, len), None);
        assert!(device(&engine, app.0).take().is_empty());
        let back = device(&engine, web.0).take();
        assert_eq!(back.len(), 1);
        let icmp = &back[0][H..];
        assert_eq!((icmp[20], icmp[21]), (11, 0), "time exceeded in transit");
        let router = Ipv4Addr::from(u32::from(web.1) & !0xff | 1);
        assert_eq!(&icmp[12..16], &router.octets(), "from web's subnet router (its /24's .1)");
    }

    #[test]
    fn a_capture_at_a_port_sees_what_it_receives_and_sends() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let (web, app) = (lab.web, lab.app);
        assert!(lab.tap.start(app.0, None));
        let request = probe(web.1, app.1, Probe::Ping);
        let (mut f, len) = frame(&request);
        let (out, n) = engine.forward(lab.tick(), web.0, &mut f, len).unwrap();
        engine.send(out, &f[..n]);
        let delivered = f[H..n].to_vec();
        let answer = crate::trace::answer(&delivered);
        let (mut g, len) = frame(&answer);
        let (out, n) = engine.forward(lab.tick(), app.0, &mut g, len).unwrap();
        assert_eq!(out, web.0, "the answer goes back");
        engine.send(out, &g[..n]);
        let mut seen: Vec<Captured> = Vec::new();
        assert_eq!(lab.tap.drain(&mut seen), 0, "nothing missed");
        let seen: Vec<_> = seen.iter().map(|c| (c.direction, c.data.clone())).collect();
        assert_eq!(
            seen,
            vec![(Direction::Received, delivered), (Direction::Sent, answer)],
            "the request as app got it, then its answer as app sent it"
        );
    }

    #[test]
    fn flow_records_count_both_interfaces_of_an_accepted_flow_and_the_receiver_of_a_rejected_one() {
        let lab = Lab::new(true);
        let (mut engine, _services) = lab.engine(1);
        let (web, app) = (lab.web, lab.app);
        let (mut f, len) = frame(&probe(web.1, app.1, Probe::Ping));
        let _ = engine.forward(lab.tick(), web.0, &mut f, len).unwrap();
        // From the internet to web's public address: the default group keeps it out.
        let (mut g, len) = frame(&probe(INTERNET_HOST, web.2, Probe::Tcp(22)));
        assert_eq!(engine.forward(lab.tick(), INTERNET, &mut g, len), None);
        let mut records = Vec::new();
        engine.records.drain(&mut records);
        let mut seen: Vec<_> = records
            .iter()
            .map(|(key, counts)| (key.port, key.src, key.dst, key.accepted, counts.packets))
            .collect();
        seen.sort_by_key(|r| (r.0, r.3));
        let mut expected = vec![
            (web.0, web.1.into(), app.1.into(), true, 1),
            (app.0, web.1.into(), app.1.into(), true, 1),
            (web.0, INTERNET_HOST.into(), web.1.into(), false, 1),
        ];
        expected.sort_by_key(|r| (r.0, r.3));
        assert_eq!(seen, expected);
        assert!(records.iter().all(|(_, c)| (c.start, c.end) == (1_000, 1_000)), "wall clock");
        assert_eq!(lab.counters.snapshot().dropped(DropReason::SgIngress), 1);
    }

    #[test]
    fn a_packet_for_amazon_dns_goes_to_the_services_and_a_full_queue_drops_it() {
        let lab = Lab::new(false);
        let (mut engine, services) = lab.engine(1);
        let web = lab.web;
        let query = probe(web.1, Ipv4Addr::new(10, 0, 0, 2), Probe::Udp(53));
        for _ in 0..2 {
            let (mut f, len) = frame(&query);
            assert_eq!(engine.forward(lab.tick(), web.0, &mut f, len), None);
        }
        let Ok(ServiceMsg::Packet { port, len, bytes }) = services.try_recv() else {
            panic!("the first query reaches the service thread");
        };
        assert_eq!((port, &bytes[..usize::from(len)]), (web.0, &query[..]));
        assert!(services.try_recv().is_err(), "the queue held one");
        let counted = lab.counters.snapshot();
        assert_eq!(counted.to_services, 1);
        assert_eq!(counted.dropped(DropReason::ServiceBusy), 1, "the second, counted");
        assert_eq!(lab.counters.port(web.0).dropped, 1);
    }

    #[test]
    fn a_port_without_a_device_counts_a_failed_write() {
        let lab = Lab::new(false);
        let (mut engine, _services) = lab.engine(1);
        let (web, app) = (lab.web, lab.app);
        let gone = engine.detach(app.0);
        assert!(gone.is_some() && engine.detach(app.0).is_none());
        let (mut f, len) = frame(&probe(web.1, app.1, Probe::Ping));
        let (out, n) = engine.forward(lab.tick(), web.0, &mut f, len).unwrap();
        engine.send(out, &f[..n]);
        assert_eq!(lab.counters.snapshot().dropped(DropReason::TxFailed), 1);
        assert_eq!(lab.counters.snapshot().tx_packets, 0);
    }

    #[test]
    fn the_loopback_device_reads_back_what_was_pushed_in_order() {
        let device = Loopback::default();
        let mut buf = [0u8; 4];
        assert_eq!(device.recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        device.push(&[1, 2]);
        device.push(&[3, 4, 5, 6, 7]);
        assert_eq!(device.recv(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], &[1, 2]);
        assert_eq!(device.recv(&mut buf).unwrap(), 4, "cut to the buffer, as a read is");
        assert_eq!(buf, [3, 4, 5, 6]);
        device.send(&[9]).unwrap();
        assert_eq!(device.take(), vec![vec![9]]);
        assert!(device.take().is_empty());
    }
}
