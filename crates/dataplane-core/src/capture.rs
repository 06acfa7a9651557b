//! Packet capture at one port of the forwarder, for `vpclab capture`.
//!
//! Off, it costs one relaxed atomic load per packet. On, the forwarder copies each
//! packet read from or written to the watched port into a ring of slots allocated when
//! the capture started (never on the packet path); a reader drains the ring off the
//! packet path. When the reader falls behind, packets are counted as missed rather
//! than waited for: the forwarder never blocks on a capture.

use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::snapshot::Port;

/// Bytes kept of each packet (what `tcpdump -s` calls the snap length).
pub const SNAP_LEN: usize = 2048;
/// Packets the ring holds between two drains.
pub const RING_SLOTS: usize = 1024;

/// Which way a captured packet went, seen from the watched port's device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Read from the device: what the instance (or the internet) sent, untranslated.
    Sent,
    /// Written to the device: what it receives, after translation.
    Received,
}

/// Where a capture taps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A port, both ways; with an address, only packets with that address on the far
    /// side (a NAT gateway's Elastic IP at the internet edge).
    Port(Port, Option<Ipv4Addr>),
    /// What crosses the peering between two VPCs (snapshot indexes: the model's VPCs in
    /// id order).
    Peering(u32, u32),
}

/// A captured packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// When, in microseconds since the Unix epoch.
    pub at_us: u64,
    /// Which way it went.
    pub direction: Direction,
    /// Its full length.
    pub len: usize,
    /// Its first [`SNAP_LEN`] bytes.
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
struct Ring {
    slots: Vec<Captured>,
    head: usize,
    len: usize,
}

/// The forwarder's tap.
#[derive(Debug, Default)]
pub struct Tap {
    /// The watched port plus one; 0: off.
    watch: AtomicU32,
    /// Keep only packets whose address on the watched port's far side is this one
    /// (IPv4 bits; 0: all): a NAT gateway's Elastic IP at the internet edge.
    address: AtomicU32,
    /// A peering being watched instead of a port: `(a + 1) << 32 | (b + 1)` of the two
    /// VPCs' snapshot indexes; 0: none.
    peering: AtomicU64,
    ring: Mutex<Ring>,
    missed: AtomicU64,
}

impl Tap {
    /// Starts watching `port` with a fresh ring; false if a capture is running.
    pub fn start(&self, port: Port, address: Option<Ipv4Addr>) -> bool {
        self.start_with(port, address, 0)
    }

    /// Starts watching the packets between VPCs `a` and `b` (snapshot indexes): what
    /// crosses their peering. False if a capture is running.
    pub fn start_peering(&self, a: u32, b: u32) -> bool {
        let pair = (u64::from(a) + 1) << 32 | (u64::from(b) + 1);
        // No port is `Port::MAX`: only the peering check below captures.
        self.start_with(Port::MAX, None, pair)
    }

    fn start_with(&self, port: Port, address: Option<Ipv4Addr>, peering: u64) -> bool {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if self.watch.load(Ordering::Acquire) != 0 {
            return false;
        }
        let slot = Captured {
            at_us: 0,
            direction: Direction::Sent,
            len: 0,
            data: Vec::with_capacity(SNAP_LEN),
        };
        *ring = Ring { slots: vec![slot; RING_SLOTS], head: 0, len: 0 };
        self.missed.store(0, Ordering::Relaxed);
        self.address.store(address.map_or(0, u32::from), Ordering::Relaxed);
        self.peering.store(peering, Ordering::Relaxed);
        self.watch.store(port.saturating_add(1), Ordering::Release);
        true
    }

    /// Stops watching and frees the ring.
    pub fn stop(&self) {
        self.watch.store(0, Ordering::Release);
        self.peering.store(0, Ordering::Relaxed);
        *self.ring.lock().unwrap_or_else(|e| e.into_inner()) = Ring::default();
    }

    /// Offers a packet going `direction` at `port`; copied if that port is watched.
    /// The clock is read only for a packet that is kept.
    #[inline]
    pub fn offer(&self, port: Port, direction: Direction, packet: &[u8]) {
        if self.watch.load(Ordering::Relaxed) != port.wrapping_add(1) {
            return;
        }
        // Read from the port: arriving from its far side, addressed to it (dst);
        // written to it: leaving towards the far side (src).
        if !self.wants(packet, direction == Direction::Received) {
            return;
        }
        self.copy(direction, packet, packet.len());
    }

    /// Whether `port` is watched.
    #[inline]
    pub fn watches(&self, port: Port) -> bool {
        self.watch.load(Ordering::Relaxed) == port.wrapping_add(1)
    }

    /// The VPC pair (snapshot indexes) whose peering is watched.
    #[inline]
    pub fn peering(&self) -> Option<(u32, u32)> {
        match self.peering.load(Ordering::Relaxed) {
            0 => None,
            pair => Some(((pair >> 32) as u32 - 1, (pair as u32).wrapping_sub(1))),
        }
    }

    /// Whether the address filter keeps a packet with this far-side view: its source
    /// when it goes out to the far side (`outbound`), else its destination.
    #[inline]
    pub fn wants(&self, far_side: &[u8], outbound: bool) -> bool {
        let address = self.address.load(Ordering::Relaxed);
        let at = if outbound { 12 } else { 16 };
        address == 0
            || far_side.get(at..at + 4).is_some_and(|a| a == address.to_be_bytes().as_slice())
    }

    /// Keeps `packet` (whose full length was `len`) whatever port it is at: the other
    /// side of a translation at the watched point.
    pub fn record(&self, direction: Direction, packet: &[u8], len: usize) {
        self.copy(direction, packet, len);
    }

    /// Keeps the first [`SNAP_LEN`] bytes of a packet `len` bytes long, stamped now.
    #[cold]
    fn copy(&self, direction: Direction, packet: &[u8], len: usize) {
        let at_us =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64;
        let Ok(mut ring) = self.ring.try_lock() else {
            self.missed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let capacity = ring.slots.len();
        if capacity == 0 || ring.len == capacity {
            self.missed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let at = (ring.head + ring.len) % capacity;
        ring.len += 1;
        let slot = &mut ring.slots[at];
        slot.at_us = at_us;
        slot.direction = direction;
        slot.len = len;
        slot.data.clear();
        slot.data.extend_from_slice(&packet[..packet.len().min(SNAP_LEN)]);
    }

    /// Moves what was captured since the last drain into `out` (oldest first); returns
    /// how many packets were missed in total since the capture started.
    pub fn drain(&self, out: &mut Vec<Captured>) -> u64 {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let capacity = ring.slots.len();
        while ring.len > 0 {
            let head = ring.head;
            out.push(ring.slots[head].clone());
            ring.head = (head + 1) % capacity;
            ring.len -= 1;
        }
        self.missed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_watched_port_is_captured_in_order_and_overflow_is_counted() {
        let tap = Tap::default();
        tap.offer(3, Direction::Sent, &[1, 2, 3]);
        let mut out = Vec::new();
        assert_eq!(tap.drain(&mut out), 0);
        assert!(out.is_empty(), "nothing is watched");

        assert!(tap.start(3, None));
        assert!(!tap.start(4, None), "one capture at a time");
        tap.offer(4, Direction::Sent, &[9]);
        tap.offer(3, Direction::Sent, &[1, 2, 3]);
        tap.offer(3, Direction::Received, &vec![7u8; SNAP_LEN + 10]);
        assert_eq!(tap.drain(&mut out), 0);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].direction, &out[0].data[..]), (Direction::Sent, &[1u8, 2, 3][..]));
        assert!(0 < out[0].at_us && out[0].at_us <= out[1].at_us, "wall-clock order");
        assert_eq!((out[1].len, out[1].data.len()), (SNAP_LEN + 10, SNAP_LEN));

        for i in 0..RING_SLOTS as u64 + 5 {
            tap.offer(3, Direction::Sent, &[i as u8]);
        }
        out.clear();
        assert_eq!(tap.drain(&mut out), 5, "a full ring misses, it does not block");
        assert_eq!(out.len(), RING_SLOTS);
        tap.stop();
        tap.offer(3, Direction::Sent, &[0]);
        out.clear();
        tap.drain(&mut out);
        assert!(out.is_empty());

        // With an address: only what goes to it or comes from it on the far side.
        let to_nat = crate::trace::probe(
            Ipv4Addr::new(198, 51, 100, 1),
            Ipv4Addr::new(203, 0, 113, 11),
            crate::trace::Probe::Ping,
        );
        let to_other = crate::trace::probe(
            Ipv4Addr::new(198, 51, 100, 1),
            Ipv4Addr::new(203, 0, 113, 10),
            crate::trace::Probe::Ping,
        );
        assert!(tap.start(0, Some(Ipv4Addr::new(203, 0, 113, 11))));
        tap.offer(0, Direction::Sent, &to_nat);
        tap.offer(0, Direction::Sent, &to_other);
        tap.drain(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, to_nat);
        tap.stop();
        out.clear();
        tap.drain(&mut out);
        assert!(out.is_empty());
    }
}
