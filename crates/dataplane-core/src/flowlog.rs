//! Flow-log records: per interface and 5-tuple and action, packets and bytes between a
//! first and a last second — counted by the forwarder, written out by the daemon.
//!
//! The table is allocated once and counting into it never allocates; when it is full,
//! new flows are counted as skipped (AWS's `SKIPDATA`) until the next flush empties it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::security::FlowHashing;
use crate::snapshot::Port;

/// Distinct records the forwarder holds between two flushes.
pub const RECORDS: usize = 1 << 14;

/// What a record is about: one interface's view of one flow, and its fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordKey {
    /// The interface's port.
    pub port: Port,
    /// Source address (for the interface's own side, its private address), IPv4 or
    /// IPv6 (AWS's flow logs record both in the same fields).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 for ICMP).
    pub sport: u16,
    /// Destination port (0 for ICMP).
    pub dport: u16,
    /// IANA protocol number.
    pub protocol: u8,
    /// Accepted (true) or rejected by security groups or network ACLs.
    pub accepted: bool,
}

/// Its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordCounts {
    /// Packets.
    pub packets: u64,
    /// Bytes (IP total lengths).
    pub bytes: u64,
    /// Unix seconds of the first packet.
    pub start: u64,
    /// Unix seconds of the last packet.
    pub end: u64,
}

/// A record ready to be written.
pub type FlowRecord = (RecordKey, RecordCounts);

/// The forwarder's record table.
#[derive(Debug)]
pub struct FlowRecords {
    records: HashMap<RecordKey, RecordCounts, FlowHashing>,
    skipped: u64,
}

impl Default for FlowRecords {
    fn default() -> Self {
        Self {
            records: HashMap::with_capacity_and_hasher(RECORDS, FlowHashing::random()),
            skipped: 0,
        }
    }
}

impl FlowRecords {
    /// Counts `packets` packets of `bytes` bytes in all (a GSO super-packet is several;
    /// see [`crate::wire::on_the_wire`]) at `now` (Unix seconds).
    #[inline]
    pub fn count(&mut self, key: RecordKey, (packets, bytes): (u32, usize), now: u64) {
        let full = self.records.len() >= RECORDS;
        let (packets, bytes) = (u64::from(packets), bytes as u64);
        match self.records.get_mut(&key) {
            Some(c) => {
                c.packets += packets;
                c.bytes += bytes;
                c.end = now;
            }
            None if full => self.skipped += 1,
            None => {
                let c = RecordCounts { packets, bytes, start: now, end: now };
                self.records.insert(key, c);
            }
        }
    }

    /// Moves every record into `out`; returns how many packets were skipped since the
    /// last drain because the table was full.
    pub fn drain(&mut self, out: &mut Vec<FlowRecord>) -> u64 {
        out.extend(self.records.drain());
        std::mem::take(&mut self.skipped)
    }

    /// Whether nothing is counted.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The 5-tuple of an IPv4 packet (ports 0 where there are none), if it is one.
pub fn five_tuple(packet: &[u8]) -> Option<(IpAddr, IpAddr, u16, u16, u8)> {
    if packet.first().is_some_and(|b| b >> 4 == 6) {
        // The extension headers walked to the upper layer; a later fragment has no ports.
        let ip = crate::wire6::Ipv6::new_checked(packet).ok()?;
        let ports = match ip.protocol() {
            6 | 17 if !ip.is_later_fragment() => ip.ports().unwrap_or((0, 0)),
            _ => (0, 0),
        };
        return Some((ip.src().into(), ip.dst().into(), ports.0, ports.1, ip.protocol()));
    }
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return None;
    }
    let header = usize::from(packet[0] & 0x0f) * 4;
    let addr =
        |at: usize| Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3]);
    let protocol = packet[9];
    let first_fragment = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff == 0;
    let ports = match protocol {
        6 | 17 if first_fragment && packet.len() >= header + 4 => (
            u16::from_be_bytes([packet[header], packet[header + 1]]),
            u16::from_be_bytes([packet[header + 2], packet[header + 3]]),
        ),
        _ => (0, 0),
    };
    Some((addr(12).into(), addr(16).into(), ports.0, ports.1, protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sport: u16, accepted: bool) -> RecordKey {
        RecordKey {
            port: 1,
            src: Ipv4Addr::new(10, 0, 1, 10).into(),
            dst: Ipv4Addr::new(198, 51, 100, 1).into(),
            sport,
            dport: 80,
            protocol: 6,
            accepted,
        }
    }

    #[test]
    fn packets_of_one_flow_and_fate_add_up_and_a_full_table_skips() {
        let mut r = FlowRecords::default();
        r.count(key(1000, true), (1, 60), 100);
        r.count(key(1000, true), (1, 40), 103);
        r.count(key(1000, false), (1, 60), 104);
        let mut out = Vec::new();
        assert_eq!(r.drain(&mut out), 0);
        out.sort_by_key(|(k, _)| !k.accepted);
        assert_eq!(out[0].1, RecordCounts { packets: 2, bytes: 100, start: 100, end: 103 });
        assert_eq!(out[1].1.packets, 1);
        assert!(r.is_empty());
        for sport in 0..=RECORDS as u16 {
            r.count(key(sport, true), (1, 1), 1);
        }
        out.clear();
        assert_eq!(r.drain(&mut out), 1, "one flow too many");
        assert_eq!(out.len(), RECORDS);
    }

    #[test]
    fn five_tuples_come_from_the_headers() {
        let p = crate::trace::probe(
            Ipv4Addr::new(10, 0, 1, 10),
            Ipv4Addr::new(198, 51, 100, 1),
            crate::trace::Probe::Tcp(80),
        );
        let t = five_tuple(&p).unwrap();
        let (src, dst) = (Ipv4Addr::new(10, 0, 1, 10), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(t, (src.into(), dst.into(), 43210, 80, 6));
        assert_eq!(five_tuple(&p[..10]), None);
    }

    #[test]
    fn ipv6_five_tuples_come_from_past_the_extension_headers() {
        use std::net::Ipv6Addr;
        let (src, dst) =
            ("2001:db8::10".parse::<Ipv6Addr>().unwrap(), "2001:db8:ffff::1".parse().unwrap());
        // A hop-by-hop header (8 bytes of padding) before UDP 5353 -> 53.
        let mut payload = vec![17, 0, 1, 4, 0, 0, 0, 0];
        payload.extend([0x14, 0xe9, 0, 53, 0, 9, 0, 0, b'x']);
        let p = crate::wire6::ipv6_packet(src, dst, 64, 0, &payload);
        assert_eq!(five_tuple(&p), Some((src.into(), dst.into(), 5353, 53, 17)));
        assert_eq!(five_tuple(&p[..30]), None, "cut short");
    }
}
