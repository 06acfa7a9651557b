//! The packet formats the forwarder reads and rewrites: IPv4, and the parts of ICMP,
//! TCP and UDP that address translation touches.
//!
//! Packets are edited in place through [`Ipv4`], a view over a byte slice checked once
//! by [`Ipv4::new_checked`]; after that no accessor panics. Fields are read with
//! `from_be_bytes`, never by casting bytes to structs. Checksums are patched
//! incrementally (RFC 1624) when addresses change; [`checksum`] is the full RFC 1071 sum
//! the tests compare against.

use std::net::Ipv4Addr;

pub use vpclab_conntrack::{DatagramKey, Head};

/// IP protocol numbers.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6 (IPv6's ICMP).
    pub const ICMPV6: u8 = 58;
}

/// The SYN bit of the TCP flags.
const TCP_SYN: u8 = 0x02;

/// ICMP message types the forwarder sends or translates.
pub mod icmp {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const UNREACHABLE: u8 = 3;
    /// Source quench (obsolete, but still an error message).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAMETER_PROBLEM: u8 = 12;
    /// Code of "fragmentation needed and DF set" under [`UNREACHABLE`].
    pub const FRAG_NEEDED: u8 = 4;

    /// Whether `kind` is an ICMP error (which carries the header of the packet it is
    /// about, and about which no further error may be sent).
    pub fn is_error(kind: u8) -> bool {
        matches!(kind, UNREACHABLE | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAMETER_PROBLEM)
    }
}

/// Why a buffer is not a usable IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not IP version 4.
    Version(u8),
    /// Shorter than its headers say.
    Truncated,
    /// Header checksum wrong.
    Checksum,
}

/// Fixed offsets of IPv4 header fields.
mod field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOTAL_LEN: usize = 2;
    pub(super) const ID: usize = 4;
    pub(super) const FLAGS_FRAG: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: usize = 10;
    pub(super) const SRC: usize = 12;
    pub(super) const DST: usize = 16;
}

/// Minimum IPv4 header length.
pub const IPV4_HEADER: usize = 20;
/// Don't-fragment flag in the flags/fragment-offset word.
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// The one's-complement sum of `data` (RFC 1071), folded, not inverted.
pub fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        acc += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds a 32-bit one's-complement accumulator to 16 bits.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// A 20-byte IPv4 header (valid checksum, no options, not fragmented) followed by `l4`,
/// whose own checksum is left as given. For probes, tests and benchmarks: the packet
/// path rewrites packets in place and never builds one.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, protocol: u8, l4: &[u8]) -> Vec<u8> {
    let total = IPV4_HEADER + l4.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = ttl;
    p[9] = protocol;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&p[..IPV4_HEADER]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[IPV4_HEADER..].copy_from_slice(l4);
    p
}

/// The Internet checksum of `data`: the inverted folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// RFC 1624 eqn. 3: the checksum `check` after a 16-bit field changed from `old` to `new`.
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!check) + u32::from(!old) + u32::from(new))
}

/// [`update16`] for a 32-bit field (an IPv4 address).
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let check = update16(check, (old >> 16) as u16, (new >> 16) as u16);
    update16(check, old as u16, new as u16)
}

/// What the sending kernel left unfinished in a packet read through a TUN device with
/// offloads (see [`crate::vnet`]): the L4 checksum, and for a GSO super-packet, the
/// cutting into segments. Whoever finally delivers or transmits the packet finishes
/// both; the forwarder only has to keep them meaningful.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offload {
    /// The TCP or UDP checksum field holds only the folded, uninverted sum of the
    /// pseudo-header (Linux's `CHECKSUM_PARTIAL`): an address change is patched into it
    /// with the opposite sign of a finished checksum, a port change not at all.
    pub partial_checksum: bool,
    /// For a GSO super-packet, the L4 payload bytes of each segment; 0 otherwise.
    pub gso_size: u16,
}

impl Offload {
    /// An ordinary packet: finished checksums, one segment.
    pub const NONE: Offload = Offload { partial_checksum: false, gso_size: 0 };
}

/// The size of the largest packet a packet of `total` bytes becomes on a link: itself,
/// or for a GSO super-packet (segments of `gso_size`) its IP headers (`ip_header`), its
/// `protocol`'s header (read from `l4`) and one segment. Either family.
#[inline]
pub(crate) fn largest_segment(
    total: usize,
    ip_header: usize,
    protocol: u8,
    l4: &[u8],
    gso_size: u16,
) -> usize {
    let segment = usize::from(gso_size);
    if segment == 0 {
        return total;
    }
    let l4_header = match protocol {
        proto::TCP => l4.get(12).map_or(20, |&b| usize::from(b >> 4) * 4),
        _ => 8,
    };
    total.min(ip_header + l4_header + segment)
}

/// How an address family numbers ICMP and its echo messages: all that differs between
/// IPv4 and IPv6 in reading an upper-layer header ([`Upper`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IcmpNumbers {
    /// The protocol number (1, or 58 for ICMPv6).
    pub(crate) protocol: u8,
    /// Echo request's type.
    pub(crate) echo_request: u8,
    /// Echo reply's type.
    pub(crate) echo_reply: u8,
}

/// IPv4's ICMP.
pub(crate) const ICMP4: IcmpNumbers = IcmpNumbers {
    protocol: proto::ICMP,
    echo_request: icmp::ECHO_REQUEST,
    echo_reply: icmp::ECHO_REPLY,
};

/// A packet's upper layer as both families read it: the flow identity, TCP flags and
/// ICMP type and code, from the header or, for a later fragment, from its datagram's
/// [`Head`]. [`Ipv4`] and [`crate::wire6::Ipv6`] answer through it, so the two read
/// alike by construction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Upper<'a> {
    /// The upper-layer protocol.
    pub(crate) protocol: u8,
    /// Its bytes (for a later fragment, not a header).
    pub(crate) l4: &'a [u8],
    /// Whether this is a fragment other than the first.
    pub(crate) later: bool,
    /// A later fragment's datagram head, when known.
    pub(crate) head: Option<Head>,
    /// The family's ICMP numbers.
    pub(crate) icmp: IcmpNumbers,
}

impl Upper<'_> {
    fn is_echo(&self, kind: u8) -> bool {
        kind == self.icmp.echo_request || kind == self.icmp.echo_reply
    }

    /// See [`Ipv4::ports`].
    #[inline]
    pub(crate) fn ports(&self) -> Option<(u16, u16)> {
        if self.later {
            let head = self.head?;
            return match self.protocol {
                proto::TCP | proto::UDP => Some((head.sport, head.dport)),
                p if p == self.icmp.protocol && self.is_echo(head.icmp_type) => {
                    Some((head.sport, 0))
                }
                _ => None,
            };
        }
        ports_of(self.protocol, self.icmp, self.l4)
    }

    /// See [`Ipv4::tcp_flags`].
    #[inline]
    pub(crate) fn tcp_flags(&self) -> u8 {
        match self.protocol {
            proto::TCP if !self.later => self.l4.get(13).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// See [`Ipv4::icmp_type`].
    #[inline]
    pub(crate) fn icmp_type(&self) -> Option<u8> {
        if self.protocol != self.icmp.protocol {
            return None;
        }
        if self.later {
            return self.head.map(|h| h.icmp_type);
        }
        self.l4.first().copied()
    }

    /// See [`Ipv4::icmp_code`].
    #[inline]
    pub(crate) fn icmp_code(&self) -> u8 {
        match self.protocol {
            p if p != self.icmp.protocol => 0,
            _ if self.later => self.head.map_or(0, |h| h.icmp_code),
            _ => self.l4.get(1).copied().unwrap_or(0),
        }
    }

    /// See [`Ipv4::head`].
    pub(crate) fn head(&self) -> Option<Head> {
        if self.later {
            return None;
        }
        match self.protocol {
            proto::TCP | proto::UDP => {
                let (sport, dport) = self.ports()?;
                Some(Head { sport, dport, ..Head::default() })
            }
            p if p == self.icmp.protocol && self.l4.len() >= 8 => Some(Head {
                sport: self.ports().map_or(0, |(id, _)| id),
                dport: 0,
                icmp_type: self.l4[0],
                icmp_code: self.l4[1],
            }),
            p if p == self.icmp.protocol => None,
            _ => Some(Head::default()),
        }
    }
}

/// The ports of a TCP or UDP header, or the identifier of an ICMP echo (`icmp`'s
/// numbers), at the start of `l4`; `None` for anything else or a header cut short.
#[inline]
pub(crate) fn ports_of(protocol: u8, icmp: IcmpNumbers, l4: &[u8]) -> Option<(u16, u16)> {
    match protocol {
        proto::TCP | proto::UDP if l4.len() >= 8 => {
            Some((u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]])))
        }
        p if p == icmp.protocol
            && l4.len() >= 8
            && (l4[0] == icmp.echo_request || l4[0] == icmp.echo_reply) =>
        {
            Some((u16::from_be_bytes([l4[4], l4[5]]), 0))
        }
        _ => None,
    }
}

/// A checked view of an IPv4 packet.
///
/// A fragment other than the first has no L4 header; given its datagram's [`Head`]
/// ([`Ipv4::with_head`], from the first fragment), it answers [`Ipv4::ports`],
/// [`Ipv4::icmp_type`] and [`Ipv4::icmp_code`] as its first fragment does.
#[derive(Debug)]
pub struct Ipv4<T> {
    buf: T,
    offload: Offload,
    head: Option<Head>,
}

impl<T: AsRef<[u8]>> Ipv4<T> {
    /// Checks version, header and total lengths against the buffer, and the header
    /// checksum. The view covers the whole buffer; [`Ipv4::total_len`] may be shorter.
    pub fn new_checked(buf: T) -> Result<Self, Malformed> {
        let ip = Self::new_unverified(buf)?;
        if checksum(&ip.b()[..ip.header_len()]) != 0 {
            return Err(Malformed::Checksum);
        }
        Ok(ip)
    }

    /// [`Ipv4::new_checked`] without the header checksum: for a look at a packet that the
    /// pipeline checks fully afterwards (no accessor panics either way).
    pub fn new_unverified(buf: T) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        let Some(&ver_ihl) = b.first() else {
            return Err(Malformed::Truncated);
        };
        if ver_ihl >> 4 != 4 {
            return Err(Malformed::Version(ver_ihl >> 4));
        }
        let header = usize::from(ver_ihl & 0x0f) * 4;
        if header < IPV4_HEADER || b.len() < header {
            return Err(Malformed::Truncated);
        }
        let total = usize::from(u16::from_be_bytes([b[field::TOTAL_LEN], b[field::TOTAL_LEN + 1]]));
        if total < header || total > b.len() {
            return Err(Malformed::Truncated);
        }
        Ok(Self { buf, offload: Offload::NONE, head: None })
    }

    /// The same view of a later fragment, with its datagram's head.
    #[must_use]
    pub fn with_head(mut self, head: Head) -> Self {
        self.head = Some(head);
        self
    }

    /// Gives a later fragment its datagram's head (see [`Ipv4::with_head`]).
    pub fn set_head(&mut self, head: Head) {
        self.head = Some(head);
    }

    /// The identity its fragments share when they come in on `zone`: that, the
    /// addresses, the protocol and the identification.
    pub fn datagram(&self, zone: u32) -> DatagramKey {
        DatagramKey {
            zone,
            src: self.src_bits(),
            dst: self.dst_bits(),
            protocol: self.protocol(),
            id: self.u16_at(field::ID).into(),
        }
    }

    /// For a first fragment (or a whole datagram): what its L4 header says, as later
    /// fragments need it. `None` for a later fragment or a cut-short header.
    pub fn head(&self) -> Option<Head> {
        self.upper().head()
    }

    /// Its upper layer, as both families read it.
    #[inline]
    fn upper(&self) -> Upper<'_> {
        Upper {
            protocol: self.protocol(),
            l4: self.payload(),
            later: self.is_later_fragment(),
            head: self.head,
            icmp: ICMP4,
        }
    }

    /// The same view, for a packet whose checksum or segmentation the sender left to be
    /// finished later. A partial checksum only counts for TCP and UDP.
    #[must_use]
    pub fn with_offload(mut self, offload: Offload) -> Self {
        self.offload = offload;
        self
    }

    /// What the packet leaves unfinished.
    pub fn offload(&self) -> Offload {
        self.offload
    }

    /// Whether the TCP or UDP checksum is a partial (pseudo-header) sum.
    fn partial_l4(&self) -> bool {
        self.offload.partial_checksum && matches!(self.protocol(), proto::TCP | proto::UDP)
    }

    /// The size of the largest packet this becomes on a link: the total length, or for a
    /// GSO super-packet its headers plus one segment's payload.
    pub fn wire_len(&self) -> usize {
        let (total, header) = (self.total_len(), self.header_len());
        largest_segment(total, header, self.protocol(), self.payload(), self.offload.gso_size)
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// A read-only view of the same, already checked, packet.
    pub fn reborrow(&self) -> Ipv4<&[u8]> {
        Ipv4 { buf: self.buf.as_ref(), offload: self.offload, head: self.head }
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::VER_IHL] & 0x0f) * 4
    }

    /// Total length from the header.
    pub fn total_len(&self) -> usize {
        usize::from(self.u16_at(field::TOTAL_LEN))
    }

    /// The packet's bytes, up to its total length.
    pub fn bytes(&self) -> &[u8] {
        &self.b()[..self.total_len()]
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.b()[field::TTL]
    }

    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        self.b()[field::PROTOCOL]
    }

    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src_bits())
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst_bits())
    }

    /// Source address as an integer.
    pub fn src_bits(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[field::SRC], b[field::SRC + 1], b[field::SRC + 2], b[field::SRC + 3]])
    }

    /// Destination address as an integer.
    pub fn dst_bits(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[field::DST], b[field::DST + 1], b[field::DST + 2], b[field::DST + 3]])
    }

    /// Whether the don't-fragment flag is set.
    pub fn dont_fragment(&self) -> bool {
        self.u16_at(field::FLAGS_FRAG) & DF != 0
    }

    /// Whether this is a fragment other than the first (its payload has no L4 header).
    pub fn is_later_fragment(&self) -> bool {
        self.u16_at(field::FLAGS_FRAG) & OFFSET_MASK != 0
    }

    /// Whether this is any fragment.
    pub fn is_fragment(&self) -> bool {
        self.u16_at(field::FLAGS_FRAG) & (OFFSET_MASK | MF) != 0
    }

    /// The payload after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..self.total_len()]
    }

    /// The flow identity a NAT keys on: for TCP and UDP (`sport`, `dport`); for an ICMP
    /// echo request or reply (`identifier`, 0). `None` for anything else, for a later
    /// fragment without its head, and when the L4 header is cut short.
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.upper().ports()
    }

    /// The TCP flags byte (0 for other protocols, a short header or a later fragment).
    pub fn tcp_flags(&self) -> u8 {
        self.upper().tcp_flags()
    }

    /// The ICMP code (0 when absent).
    pub fn icmp_code(&self) -> u8 {
        self.upper().icmp_code()
    }

    /// The ICMP type, if this is ICMP with a header (a later fragment's from its head).
    pub fn icmp_type(&self) -> Option<u8> {
        self.upper().icmp_type()
    }

    /// For an ICMP error: protocol, source, destination and ports (or echo identifier and
    /// 0) of the packet it quotes, if enough of it is quoted.
    pub fn icmp_quoted(&self) -> Option<(u8, u32, u32, u16, u16)> {
        let icmp = self.payload();
        if self.protocol() != proto::ICMP
            || self.is_fragment()
            || icmp.len() < 8
            || !icmp::is_error(icmp[0])
        {
            return None;
        }
        let inner = &icmp[8..];
        let header = usize::from(*inner.first()? & 0x0f) * 4;
        if inner[0] >> 4 != 4 || header < IPV4_HEADER || inner.len() < header + 8 {
            return None;
        }
        let word = |at: usize| {
            u32::from_be_bytes([inner[at], inner[at + 1], inner[at + 2], inner[at + 3]])
        };
        let l4 = &inner[header..];
        let (a, b) = match inner[9] {
            proto::TCP | proto::UDP => {
                (u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]]))
            }
            proto::ICMP => (u16::from_be_bytes([l4[4], l4[5]]), 0),
            _ => return None,
        };
        Some((inner[9], word(12), word(16), a, b))
    }
}

/// Which address of a packet a translation rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The source address.
    Src,
    /// The destination address.
    Dst,
}

impl Side {
    fn offset(self) -> usize {
        match self {
            Side::Src => field::SRC,
            Side::Dst => field::DST,
        }
    }

    /// The other side.
    pub fn flip(self) -> Side {
        match self {
            Side::Src => Side::Dst,
            Side::Dst => Side::Src,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    fn patch_header_checksum(&mut self, old: u32, new: u32) {
        let check = self.u16_at(field::CHECKSUM);
        let check = update32(check, old, new);
        self.bm()[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&check.to_be_bytes());
    }

    /// Decrements the TTL, patching the header checksum. Call only when the TTL is > 1;
    /// at 0 it stays 0 (a packet never wraps around to 255).
    pub fn decrement_ttl(&mut self) {
        let ttl = self.ttl();
        if ttl == 0 {
            return;
        }
        // The TTL shares a 16-bit word with the protocol.
        let old = u16::from_be_bytes([ttl, self.protocol()]);
        let new = u16::from_be_bytes([ttl - 1, self.protocol()]);
        let check = update16(self.u16_at(field::CHECKSUM), old, new);
        let b = self.bm();
        b[field::TTL] = ttl - 1;
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&check.to_be_bytes());
    }

    /// Rewrites one address to `new`, keeping every checksum that covers it correct: the
    /// IP header's, the TCP or UDP checksum (which covers a pseudo-header), and for ICMP
    /// errors the addresses of the embedded packet, which refer to the same flow seen
    /// from the other direction.
    pub fn translate(&mut self, side: Side, new: Ipv4Addr) {
        let new = u32::from(new);
        let at = side.offset();
        let old = {
            let b = self.b();
            u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
        };
        if old == new {
            return;
        }
        self.bm()[at..at + 4].copy_from_slice(&new.to_be_bytes());
        self.patch_header_checksum(old, new);
        if self.is_later_fragment() {
            return;
        }
        let header = self.header_len();
        let end = self.total_len();
        let protocol = self.protocol();
        let partial = self.partial_l4();
        let l4 = &mut self.bm()[header..end];
        match protocol {
            proto::TCP | proto::UDP if partial => {
                patch_partial(l4, if protocol == proto::TCP { 16 } else { 6 }, old, new);
            }
            proto::TCP => {
                patch_l4(l4, 16, old, new, false);
            }
            proto::UDP => {
                patch_l4(l4, 6, old, new, true);
            }
            proto::ICMP => translate_icmp_error(l4, side.flip(), old, new),
            _ => {}
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4<T> {
    /// Rewrites the source (`Side::Src`) or destination port — for ICMP echo, the
    /// identifier — keeping the L4 checksum correct. Call only when [`Ipv4::ports`] is
    /// `Some`. A later fragment has no L4 header: only the head this view carries for it
    /// changes (its first fragment carries the port, and the checksum over the whole
    /// datagram), so that what follows sees the port as it now is.
    pub fn set_port(&mut self, side: Side, new: u16) {
        if self.is_later_fragment() {
            let protocol = self.protocol();
            if let Some(head) = &mut self.head {
                match (protocol, side) {
                    (proto::ICMP, _) | (_, Side::Src) => head.sport = new,
                    (_, Side::Dst) => head.dport = new,
                }
            }
            return;
        }
        let header = self.header_len();
        let end = self.total_len();
        let protocol = self.protocol();
        // A partial checksum covers the pseudo-header only; the ports are summed when it
        // is finished, whatever they are by then.
        let partial = self.partial_l4();
        let l4 = &mut self.bm()[header..end];
        let (at, check_at, udp) = match (protocol, side) {
            (proto::TCP, Side::Src) => (0, 16, false),
            (proto::TCP, Side::Dst) => (2, 16, false),
            (proto::UDP, Side::Src) => (0, 6, true),
            (proto::UDP, Side::Dst) => (2, 6, true),
            (proto::ICMP, _) => (4, 2, false),
            _ => return,
        };
        if l4.len() < 8 || l4.len() < check_at + 2 {
            return;
        }
        let old = u16::from_be_bytes([l4[at], l4[at + 1]]);
        l4[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let check = u16::from_be_bytes([l4[check_at], l4[check_at + 1]]);
        if partial || (udp && check == 0) {
            return;
        }
        let mut check = update16(check, old, new);
        if udp && check == 0 {
            check = 0xffff;
        }
        l4[check_at..check_at + 2].copy_from_slice(&check.to_be_bytes());
    }

    /// Lowers the maximum segment size a TCP SYN (or SYN-ACK) announces to `most`, if it
    /// announces more, keeping the checksum correct; anything else is left alone. The
    /// options are walked within the header's data offset, never past the packet.
    pub fn clamp_mss(&mut self, most: u16) {
        if self.protocol() != proto::TCP || self.is_later_fragment() {
            return;
        }
        let header = self.header_len();
        let end = self.total_len();
        let partial = self.partial_l4();
        let l4 = &mut self.bm()[header..end];
        if l4.len() < 20 || l4[13] & TCP_SYN == 0 {
            return;
        }
        let options_end = (usize::from(l4[12] >> 4) * 4).min(l4.len());
        let mut at = 20;
        while at < options_end {
            match l4[at] {
                0 => return,
                1 => at += 1,
                kind => {
                    let Some(&len) = l4.get(at + 1) else { return };
                    let len = usize::from(len);
                    if len < 2 || at + len > options_end {
                        return;
                    }
                    if kind == 2 && len == 4 {
                        let old = u16::from_be_bytes([l4[at + 2], l4[at + 3]]);
                        if old > most {
                            l4[at + 2..at + 4].copy_from_slice(&most.to_be_bytes());
                            // A partial checksum covers the pseudo-header only: the
                            // option is summed when it is finished.
                            if !partial {
                                let check = u16::from_be_bytes([l4[16], l4[17]]);
                                l4[16..18]
                                    .copy_from_slice(&update16(check, old, most).to_be_bytes());
                            }
                        }
                        return;
                    }
                    at += len;
                }
            }
        }
    }

    /// In an ICMP error, rewrites the quoted packet's source port (or echo identifier)
    /// to `new`, patching the quoted L4 checksum where it is quoted, and the ICMP
    /// checksum over all of it.
    pub fn set_quoted_src_port(&mut self, new: u16) {
        let header = self.header_len();
        let end = self.total_len();
        let icmp = &mut self.bm()[header..end];
        if icmp.len() < 8 {
            return;
        }
        let (head, inner) = icmp.split_at_mut(8);
        let Some(&ver_ihl) = inner.first() else {
            return;
        };
        let inner_header = usize::from(ver_ihl & 0x0f) * 4;
        // The quoted header must be a whole IPv4 header with 8 bytes after it, whatever
        // its length field claims.
        if ver_ihl >> 4 != 4 || inner_header < IPV4_HEADER || inner.len() < inner_header + 8 {
            return;
        }
        let protocol = inner[9];
        let l4 = &mut inner[inner_header..];
        let (at, check_at) = match protocol {
            proto::TCP => (0, 16),
            proto::UDP => (0, 6),
            proto::ICMP => (4, 2),
            _ => return,
        };
        let old = u16::from_be_bytes([l4[at], l4[at + 1]]);
        l4[at..at + 2].copy_from_slice(&new.to_be_bytes());
        let mut icmp_check = update16(u16::from_be_bytes([head[2], head[3]]), old, new);
        if let Some(field) = l4.get_mut(check_at..check_at + 2) {
            let old_check = u16::from_be_bytes([field[0], field[1]]);
            if !(protocol == proto::UDP && old_check == 0) {
                let check = update16(old_check, old, new);
                field.copy_from_slice(&check.to_be_bytes());
                icmp_check = update16(icmp_check, old_check, check);
            }
        }
        head[2..4].copy_from_slice(&icmp_check.to_be_bytes());
    }
}

/// An address as a checksum sees it: a rewrite changes its 16-bit words (IPv4's two,
/// IPv6's eight), and [`Address::update`] moves a checksum by that change (RFC 1624).
/// The checksum patches below serve both families through it.
pub(crate) trait Address: Copy {
    /// `check` after the words of `old` became those of `new`.
    fn update(check: u16, old: Self, new: Self) -> u16;
}

impl Address for u32 {
    #[inline]
    fn update(check: u16, old: u32, new: u32) -> u16 {
        update32(check, old, new)
    }
}

/// Patches the upper-layer checksum at `at` for an address change in the
/// pseudo-header, and tells whether there was one to patch. A zero UDP checksum means
/// "none" and stays zero; a computed zero is sent as 0xffff.
pub(crate) fn patch_l4<A: Address>(l4: &mut [u8], at: usize, old: A, new: A, udp: bool) -> bool {
    let Some(field) = l4.get_mut(at..at + 2) else {
        return false;
    };
    let check = u16::from_be_bytes([field[0], field[1]]);
    if udp && check == 0 {
        return true;
    }
    let mut check = A::update(check, old, new);
    if udp && check == 0 {
        check = 0xffff;
    }
    field.copy_from_slice(&check.to_be_bytes());
    true
}

/// Patches a partial TCP or UDP checksum at `at` — the folded pseudo-header sum, not
/// inverted — for an address change: the sum moves by `new - old`, where a finished
/// checksum, being inverted, moves by `old - new`. UDP's "zero means none" does not
/// apply: the field is not a checksum yet.
pub(crate) fn patch_partial<A: Address>(l4: &mut [u8], at: usize, old: A, new: A) {
    let Some(field) = l4.get_mut(at..at + 2) else {
        return;
    };
    let partial = u16::from_be_bytes([field[0], field[1]]);
    let partial = !A::update(!partial, old, new);
    field.copy_from_slice(&partial.to_be_bytes());
}

/// In an ICMP error, rewrites address `old` on `inner_side` of the embedded packet to
/// `new`: the embedded header's checksum, its TCP/UDP checksum if present in the quote,
/// and the ICMP checksum that covers all of it.
fn translate_icmp_error(icmp: &mut [u8], inner_side: Side, old: u32, new: u32) {
    if icmp.len() < 8 || !icmp::is_error(icmp[0]) {
        return;
    }
    let (head, inner) = icmp.split_at_mut(8);
    let Some(&ver_ihl) = inner.first() else {
        return;
    };
    let inner_header = usize::from(ver_ihl & 0x0f) * 4;
    if ver_ihl >> 4 != 4 || inner_header < IPV4_HEADER || inner.len() < inner_header {
        return;
    }
    let at = inner_side.offset();
    if inner[at..at + 4] != old.to_be_bytes() {
        return;
    }
    // Every 16-bit word changed inside the ICMP message is also patched into the ICMP
    // checksum. Words are aligned: the embedded packet starts at offset 8.
    let mut icmp_check = u16::from_be_bytes([head[2], head[3]]);
    inner[at..at + 4].copy_from_slice(&new.to_be_bytes());
    icmp_check = update32(icmp_check, old, new);

    let old_ip_check = u16::from_be_bytes([inner[10], inner[11]]);
    let ip_check = update32(old_ip_check, old, new);
    inner[10..12].copy_from_slice(&ip_check.to_be_bytes());
    icmp_check = update16(icmp_check, old_ip_check, ip_check);

    let protocol = inner[9];
    let (l4_at, udp) = match protocol {
        proto::TCP => (16, false),
        proto::UDP => (6, true),
        _ => (usize::MAX, false),
    };
    if let Some(field) = inner_header.checked_add(l4_at).and_then(|s| inner.get_mut(s..s + 2)) {
        let old_l4 = u16::from_be_bytes([field[0], field[1]]);
        if !(udp && old_l4 == 0) {
            let mut l4 = update32(old_l4, old, new);
            if udp && l4 == 0 {
                l4 = 0xffff;
            }
            field.copy_from_slice(&l4.to_be_bytes());
            icmp_check = update16(icmp_check, old_l4, l4);
        }
    }
    head[2..4].copy_from_slice(&icmp_check.to_be_bytes());
}

/// Most bytes of the offending packet an ICMP error quotes: the reply stays within the
/// 576 bytes every host accepts (RFC 1812 §4.3.2.3).
const MAX_QUOTE: usize = 576 - IPV4_HEADER - 8;

/// Builds an ICMP error about `original` (a checked IPv4 packet) from `src` into `out`,
/// and returns its length, or `None` when no error may be sent about it (it is itself an
/// ICMP error, or a later fragment) or `out` is too small.
pub fn icmp_error(
    out: &mut [u8],
    src: Ipv4Addr,
    original: &Ipv4<&[u8]>,
    kind: u8,
    code: u8,
    rest: u32,
) -> Option<usize> {
    if original.is_later_fragment() {
        return None;
    }
    if original.protocol() == proto::ICMP
        && original.payload().first().is_some_and(|&t| icmp::is_error(t))
    {
        return None;
    }
    let quote = &original.b()[..original.total_len().min(original.header_len() + MAX_QUOTE)];
    let quote = &quote[..quote.len().min(MAX_QUOTE)];
    let total = IPV4_HEADER + 8 + quote.len();
    let out = out.get_mut(..total)?;

    let ip = &mut out[..IPV4_HEADER];
    ip.fill(0);
    ip[field::VER_IHL] = 0x45;
    ip[field::TOTAL_LEN..field::TOTAL_LEN + 2].copy_from_slice(&(total as u16).to_be_bytes());
    ip[field::TTL] = 64;
    ip[field::PROTOCOL] = proto::ICMP;
    ip[field::SRC..field::SRC + 4].copy_from_slice(&src.octets());
    ip[field::DST..field::DST + 4].copy_from_slice(&original.src().octets());
    let check = checksum(ip);
    ip[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&check.to_be_bytes());

    let message = &mut out[IPV4_HEADER..];
    message[0] = kind;
    message[1] = code;
    message[2..4].fill(0);
    message[4..8].copy_from_slice(&rest.to_be_bytes());
    message[8..].copy_from_slice(quote);
    let check = checksum(message);
    message[2..4].copy_from_slice(&check.to_be_bytes());
    Some(total)
}

/// Builds into `out` the TCP RST that answers `original` (a TCP segment) as if from its
/// destination, per RFC 793: with the segment's acknowledgment number as sequence if it
/// carried ACK, else with an ACK of everything it sent. Returns the length, or `None`
/// when `original` is an RST itself, not TCP, or too short.
pub fn tcp_reset(out: &mut [u8], original: &Ipv4<&[u8]>) -> Option<usize> {
    if original.protocol() != proto::TCP || original.is_fragment() {
        return None;
    }
    let segment = reset_segment(original.payload())?;
    let total = IPV4_HEADER + segment.len();
    let out = out.get_mut(..total)?;
    out.fill(0);
    out[field::VER_IHL] = 0x45;
    out[field::TOTAL_LEN..field::TOTAL_LEN + 2].copy_from_slice(&(total as u16).to_be_bytes());
    out[field::FLAGS_FRAG..field::FLAGS_FRAG + 2].copy_from_slice(&DF.to_be_bytes());
    out[field::TTL] = 64;
    out[field::PROTOCOL] = proto::TCP;
    out[field::SRC..field::SRC + 4].copy_from_slice(&original.dst().octets());
    out[field::DST..field::DST + 4].copy_from_slice(&original.src().octets());
    let check = checksum(&out[..IPV4_HEADER]);
    out[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&check.to_be_bytes());
    let tcp = &mut out[IPV4_HEADER..];
    tcp.copy_from_slice(&segment);
    let mut acc = sum(&original.dst().octets(), 0);
    acc = sum(&original.src().octets(), acc);
    acc += u32::from(proto::TCP) + 20;
    let check = !fold(sum(tcp, acc));
    tcp[16..18].copy_from_slice(&check.to_be_bytes());
    Some(total)
}

/// The TCP header of the RST answering the TCP segment `seg` (RFC 793; see
/// [`tcp_reset`]), its checksum left 0 for the caller's pseudo-header. `None` for an
/// RST or a segment too short. Either IP version.
pub(crate) fn reset_segment(seg: &[u8]) -> Option<[u8; 20]> {
    if seg.len() < 20 {
        return None;
    }
    let flags = seg[13];
    if flags & 0x04 != 0 {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([seg[at], seg[at + 1], seg[at + 2], seg[at + 3]]);
    let data_offset = usize::from(seg[12] >> 4) * 4;
    let data = seg.len().saturating_sub(data_offset) as u32;
    let (seq, ack, reply_flags) = if flags & 0x10 != 0 {
        (word(8), 0, 0x04)
    } else {
        let syn_fin = u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
        (0, word(4).wrapping_add(data + syn_fin), 0x14)
    };
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&seg[2..4]);
    tcp[2..4].copy_from_slice(&seg[0..2]);
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = reply_flags;
    Some(tcp)
}

/// Finishes a partial TCP or UDP checksum (see [`Offload::partial_checksum`]) the way
/// the kernel would before sending: the sum of the L4 header and payload, the partial
/// sum in the checksum field included, inverted. For a packet that must leave without
/// offload — fragmented, say. `packet` is a checked IPv4 packet of one segment.
pub fn finish_checksum(packet: &mut [u8]) {
    let Ok(ip) = Ipv4::new_checked(&*packet) else {
        return;
    };
    let (header, end, protocol) = (ip.header_len(), ip.total_len(), ip.protocol());
    let at = match protocol {
        proto::TCP => 16,
        proto::UDP => 6,
        _ => return,
    };
    let l4 = &mut packet[header..end];
    if l4.len() < at + 2 {
        return;
    }
    let mut check = !fold(sum(l4, 0));
    if protocol == proto::UDP && check == 0 {
        check = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&check.to_be_bytes());
}

/// Packets and bytes `packet` becomes on a link: one packet of its total length, or for
/// a GSO super-packet its segments, each with its own copy of the headers.
pub fn on_the_wire(packet: &[u8], offload: Offload) -> (u32, usize) {
    let (total, segment) = if packet.first().is_some_and(|b| b >> 4 == 6) {
        let Ok(ip) = crate::wire6::Ipv6::new_checked(packet) else {
            return (1, packet.len());
        };
        let total = ip.total_len();
        (total, largest_segment(total, ip.header_len(), ip.protocol(), ip.l4(), offload.gso_size))
    } else {
        // Sizes only: the header checksum is the pipeline's to check.
        let Ok(ip) = Ipv4::new_unverified(packet) else {
            return (1, packet.len());
        };
        let ip = ip.with_offload(offload);
        (ip.total_len(), ip.wire_len())
    };
    let gso = usize::from(offload.gso_size);
    if gso == 0 || segment >= total {
        return (1, total);
    }
    let headers = segment - gso;
    let segments = (total - headers).div_ceil(gso);
    (segments as u32, total + (segments - 1) * headers)
}

/// Builds fragment `index` of `packet` — an IPv4 packet with a 20-byte header, finished
/// checksums and DF clear, cut into fragments of at most `mtu` bytes (RFC 791 §3.2) —
/// into `out`, and returns its length; `None` past the last fragment, or when `packet`
/// is not such a packet or `out` is shorter than `mtu`. A packet that is itself a
/// fragment is cut further: offsets add up, and the last piece keeps its MF.
pub fn fragment(packet: &[u8], mtu: usize, index: usize, out: &mut [u8]) -> Option<usize> {
    let ip = Ipv4::new_checked(packet).ok()?;
    if ip.header_len() != IPV4_HEADER || ip.dont_fragment() || out.len() < mtu {
        return None;
    }
    // Payload per fragment: a multiple of 8 bytes.
    let step = mtu.checked_sub(IPV4_HEADER)? & !7;
    let payload = ip.payload();
    let start = index.checked_mul(step).filter(|&s| s < payload.len() && step > 0)?;
    let chunk = &payload[start..payload.len().min(start + step)];
    let last = start + chunk.len() == payload.len();
    let flags = ip.u16_at(field::FLAGS_FRAG);
    let offset = (flags & OFFSET_MASK) + (start / 8) as u16;
    let word = offset | if last { flags & MF } else { MF };
    let total = IPV4_HEADER + chunk.len();
    out[..IPV4_HEADER].copy_from_slice(&packet[..IPV4_HEADER]);
    out[field::TOTAL_LEN..field::TOTAL_LEN + 2].copy_from_slice(&(total as u16).to_be_bytes());
    out[field::FLAGS_FRAG..field::FLAGS_FRAG + 2].copy_from_slice(&word.to_be_bytes());
    out[field::CHECKSUM..field::CHECKSUM + 2].fill(0);
    let check = checksum(&out[..IPV4_HEADER]);
    out[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&check.to_be_bytes());
    out[IPV4_HEADER..total].copy_from_slice(chunk);
    Some(total)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an IPv4 packet with correct checksums: header, then `l4` (whose checksum
    /// field, for TCP/UDP/ICMP, is computed here).
    /// (Identification 0x1234, DF set.)
    pub(crate) fn packet(src: [u8; 4], dst: [u8; 4], protocol: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
        let mut p = ipv4_packet(src.into(), dst.into(), ttl, protocol, l4);
        p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        p[6..8].copy_from_slice(&DF.to_be_bytes());
        p[10..12].fill(0);
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        fix_l4(&mut p);
        p
    }

    /// The L4 checksum offset of a TCP or UDP packet `p` (20-byte header).
    fn check_at(p: &[u8]) -> usize {
        20 + if p[9] == proto::TCP { 16 } else { 6 }
    }

    /// Turns `p`'s finished TCP/UDP checksum into a partial one, as a sender with
    /// checksum offload leaves it: the pseudo-header sum, folded, not inverted.
    pub(crate) fn make_partial(p: &mut [u8]) {
        let mut acc = sum(&p[12..20], 0);
        acc += u32::from(p[9]) + (p.len() as u32 - 20);
        let at = check_at(p);
        p[at..at + 2].copy_from_slice(&fold(acc).to_be_bytes());
    }

    /// What the kernel does with a partial checksum before the packet is sent.
    pub(crate) fn finish_partial(p: &mut [u8]) {
        finish_checksum(p);
    }

    /// Recomputes the L4 checksum of `p` from scratch.
    pub(crate) fn fix_l4(p: &mut [u8]) {
        let total = p.len();
        let protocol = p[9];
        let at = match protocol {
            proto::TCP => 16,
            proto::UDP => 6,
            proto::ICMP => 2,
            _ => return,
        };
        p[20 + at..20 + at + 2].fill(0);
        let mut acc = 0;
        if protocol != proto::ICMP {
            acc = sum(&p[12..20], acc);
            acc += u32::from(protocol) + (total - 20) as u32;
        }
        let mut c = !fold(sum(&p[20..], acc));
        if protocol == proto::UDP && c == 0 {
            // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
            c = 0xffff;
        }
        p[20 + at..20 + at + 2].copy_from_slice(&c.to_be_bytes());
    }

    /// Whether every checksum of `p` verifies from scratch.
    pub(crate) fn checksums_ok(p: &[u8]) -> bool {
        let mut copy = p.to_vec();
        fix_l4(&mut copy);
        checksum(&p[..20]) == 0 && copy == p
    }

    pub(crate) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0u8; 8 + payload.len()];
        u[0..2].copy_from_slice(&sport.to_be_bytes());
        u[2..4].copy_from_slice(&dport.to_be_bytes());
        u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u[8..].copy_from_slice(payload);
        u
    }

    pub(crate) fn tcp_syn(sport: u16, dport: u16) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&sport.to_be_bytes());
        t[2..4].copy_from_slice(&dport.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x02;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        t
    }

    /// Splits `p` (a 20-byte header) into two fragments of datagram `id`, the first
    /// with the first 8 bytes of its payload (the UDP header, or ICMP's).
    pub(crate) fn split(p: &[u8], id: u16) -> (Vec<u8>, Vec<u8>) {
        let mut first = p[..28].to_vec();
        let mut later = [&p[..20], &p[28..]].concat();
        let later_len = later.len() as u16;
        for (f, flags, len) in [(&mut first, 0x2000u16, 28u16), (&mut later, 1, later_len)] {
            f[2..4].copy_from_slice(&len.to_be_bytes());
            f[4..6].copy_from_slice(&id.to_be_bytes());
            f[6..8].copy_from_slice(&flags.to_be_bytes());
            f[10..12].fill(0);
            let c = checksum(&f[..20]);
            f[10..12].copy_from_slice(&c.to_be_bytes());
        }
        (first, later)
    }

    pub(crate) fn echo(id: u16, seq: u16) -> Vec<u8> {
        let mut e = vec![0u8; 16];
        e[0] = icmp::ECHO_REQUEST;
        e[4..6].copy_from_slice(&id.to_be_bytes());
        e[6..8].copy_from_slice(&seq.to_be_bytes());
        e[8..].copy_from_slice(b"vpclab!!");
        e
    }

    /// A SYN whose options are `options` (padded with end-of-list to a multiple of 4).
    fn syn_with(options: &[u8]) -> Vec<u8> {
        let mut t = tcp_syn(40000, 80);
        t.extend_from_slice(options);
        while t.len() % 4 != 0 {
            t.push(0);
        }
        t[12] = ((t.len() / 4) as u8) << 4;
        packet([10, 0, 1, 4], [10, 1, 1, 4], proto::TCP, 64, &t)
    }

    fn mss_of(p: &[u8]) -> Option<u16> {
        let options = &p[40..20 + usize::from(p[32] >> 4) * 4];
        let at = options.windows(2).position(|w| w == [2, 4])?;
        Some(u16::from_be_bytes([options[at + 2], options[at + 3]]))
    }

    #[test]
    fn the_mss_of_a_syn_is_clamped_and_nothing_else_changes() {
        // NOP, window scale, NOP, NOP, MSS 8961, SACK permitted: the MSS comes after others.
        let options = [1, 3, 3, 7, 1, 1, 2, 4, 0x23, 0x01, 4, 2];
        let mut p = syn_with(&options);
        Ipv4::new_checked(&mut p[..]).unwrap().clamp_mss(8460);
        assert_eq!(mss_of(&p), Some(8460));
        assert!(checksums_ok(&p), "the checksum follows the change");
        // Already small enough: untouched.
        let mut small = syn_with(&[2, 4, 0x05, 0xb4]);
        let before = small.clone();
        Ipv4::new_checked(&mut small[..]).unwrap().clamp_mss(8460);
        assert_eq!(small, before);
        // Not a SYN, or options that run past the header: untouched, no panic.
        let mut ack = syn_with(&[2, 4, 0x23, 0x01]);
        ack[33] = 0x10;
        crate::wire::tests::fix_l4(&mut ack);
        let before = ack.clone();
        Ipv4::new_checked(&mut ack[..]).unwrap().clamp_mss(8460);
        assert_eq!(ack, before);
        let mut broken = syn_with(&[3, 9, 7, 2, 4, 0x23, 0x01, 0]);
        let before = broken.clone();
        Ipv4::new_checked(&mut broken[..]).unwrap().clamp_mss(8460);
        assert_eq!(broken, before, "a length running past the options stops the walk");
    }

    proptest::proptest! {
        #[test]
        fn clamping_any_options_keeps_the_checksum_and_never_panics(
            options in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            let mut p = syn_with(&options);
            Ipv4::new_checked(&mut p[..]).unwrap().clamp_mss(1000);
            proptest::prop_assert!(checksums_ok(&p));
            // Clamped once, a second clamp finds nothing to change.
            let before = p.clone();
            Ipv4::new_checked(&mut p[..]).unwrap().clamp_mss(1000);
            proptest::prop_assert_eq!(p, before);
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of these words is ddf2 (folded), checksum its complement.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn checked_view_rejects_bad_packets() {
        let good = packet([10, 0, 1, 4], [10, 0, 2, 4], proto::UDP, 64, &udp(1, 2, b"hi"));
        assert!(Ipv4::new_checked(&good[..]).is_ok());
        assert_eq!(Ipv4::new_checked(&good[..10]).unwrap_err(), Malformed::Truncated);
        assert_eq!(Ipv4::new_checked(&[][..]).unwrap_err(), Malformed::Truncated);
        let mut v6 = good.clone();
        v6[0] = 0x60;
        assert_eq!(Ipv4::new_checked(&v6[..]).unwrap_err(), Malformed::Version(6));
        let mut short_ihl = good.clone();
        short_ihl[0] = 0x44;
        assert_eq!(Ipv4::new_checked(&short_ihl[..]).unwrap_err(), Malformed::Truncated);
        let mut long = good.clone();
        long[3] = long[3].wrapping_add(1);
        assert!(Ipv4::new_checked(&long[..]).is_err());
        let mut corrupt = good.clone();
        corrupt[8] ^= 1;
        assert_eq!(Ipv4::new_checked(&corrupt[..]).unwrap_err(), Malformed::Checksum);
        // Trailing bytes beyond the total length are allowed (and ignored).
        let mut padded = good.clone();
        padded.extend_from_slice(&[0, 0]);
        let view = Ipv4::new_checked(&padded[..]).unwrap();
        assert_eq!(view.total_len(), good.len());
    }

    #[test]
    fn translation_keeps_every_checksum_valid() {
        for l4 in [
            (proto::UDP, udp(5000, 53, b"query")),
            (proto::TCP, tcp_syn(40000, 80)),
            (proto::ICMP, echo(7, 1)),
            (proto::UDP, udp(5000, 53, b"odd")),
        ] {
            let mut p = packet([10, 0, 1, 4], [198, 51, 100, 1], l4.0, 64, &l4.1);
            let mut view = Ipv4::new_checked(&mut p[..]).unwrap();
            view.translate(Side::Src, Ipv4Addr::new(203, 0, 113, 10));
            view.decrement_ttl();
            assert_eq!(view.src(), Ipv4Addr::new(203, 0, 113, 10));
            assert_eq!(view.ttl(), 63);
            assert!(checksums_ok(&p), "protocol {}", l4.0);
        }
    }

    #[test]
    fn a_zero_udp_checksum_stays_zero() {
        let mut p = packet([10, 0, 1, 4], [198, 51, 100, 1], proto::UDP, 64, &udp(1, 2, b"x"));
        p[26..28].fill(0);
        let mut view = Ipv4::new_checked(&mut p[..]).unwrap();
        view.translate(Side::Src, Ipv4Addr::new(203, 0, 113, 10));
        assert_eq!(&p[26..28], &[0, 0]);
    }

    #[test]
    fn icmp_errors_quote_the_packet_and_translate_inside() {
        // An instance sent UDP out through the gateway (source already public); the
        // internet answers port-unreachable. Translating the outer destination back to
        // the private address must also fix the quoted source.
        let sent =
            packet([203, 0, 113, 10], [198, 51, 100, 1], proto::UDP, 63, &udp(5000, 9, b"x"));
        let sent_view = Ipv4::new_checked(&sent[..]).unwrap();
        let mut out = [0u8; 600];
        let len = icmp_error(
            &mut out,
            Ipv4Addr::new(198, 51, 100, 1),
            &sent_view,
            icmp::UNREACHABLE,
            3,
            0,
        )
        .unwrap();
        let mut reply = out[..len].to_vec();
        assert_eq!(len, 20 + 8 + sent.len());
        assert!(checksums_ok(&reply));
        let mut view = Ipv4::new_checked(&mut reply[..]).unwrap();
        view.translate(Side::Dst, Ipv4Addr::new(10, 0, 1, 4));
        assert!(checksums_ok(&reply));
        let quoted = &reply[28..];
        assert_eq!(&quoted[12..16], &[10, 0, 1, 4], "quoted source translated");
        assert_eq!(checksum(&quoted[..20]), 0, "quoted header checksum patched");
        let mut inner = quoted.to_vec();
        fix_l4(&mut inner);
        assert_eq!(inner, quoted, "quoted UDP checksum patched");
    }

    #[test]
    fn mutators_never_panic_on_headers_that_lie() {
        // TTL 0: stays 0, the checksum stays right.
        let mut p = packet([10, 0, 0, 1], [10, 0, 0, 2], proto::UDP, 0, &udp(1, 2, b"x"));
        let mut ip = Ipv4::new_checked(&mut p[..]).unwrap();
        ip.decrement_ttl();
        assert_eq!(ip.ttl(), 0);
        assert_eq!(checksum(&p[..20]), 0);
        // An ICMP error quoting a header whose length field says 0, 4 or 60 bytes.
        for ihl in [0u8, 1, 15] {
            let mut quoted = packet([10, 0, 0, 2], [10, 0, 0, 1], proto::UDP, 9, &udp(7, 8, b""));
            quoted[0] = 0x40 | ihl;
            let mut error = vec![icmp::UNREACHABLE, 3, 0, 0, 0, 0, 0, 0];
            error.extend_from_slice(&quoted[..16]);
            let mut p = packet([10, 0, 0, 3], [10, 0, 0, 1], proto::ICMP, 9, &error);
            let before = p.clone();
            let mut ip = Ipv4::new_checked(&mut p[..]).unwrap();
            ip.set_quoted_src_port(99);
            ip.translate(Side::Dst, Ipv4Addr::new(10, 9, 9, 9));
            assert_eq!(p[20..], before[20..], "IHL {ihl}: the quote is left alone");
        }
    }

    #[test]
    fn no_error_about_an_error() {
        let sent = packet([10, 0, 1, 4], [10, 0, 2, 4], proto::UDP, 1, &udp(1, 2, b"x"));
        let mut out = [0u8; 600];
        let len = icmp_error(
            &mut out,
            Ipv4Addr::new(10, 0, 1, 1),
            &Ipv4::new_checked(&sent[..]).unwrap(),
            icmp::TIME_EXCEEDED,
            0,
            0,
        )
        .unwrap();
        let error = out[..len].to_vec();
        let again = icmp_error(
            &mut out,
            Ipv4Addr::new(10, 0, 1, 1),
            &Ipv4::new_checked(&error[..]).unwrap(),
            icmp::TIME_EXCEEDED,
            0,
            0,
        );
        assert_eq!(again, None);
    }

    /// Reassembles `fragments` (in order) into the payload and checks each one.
    fn reassemble(fragments: &[Vec<u8>], mtu: usize) -> (Vec<u8>, bool) {
        let mut payload = Vec::new();
        let mut more = true;
        for f in fragments {
            assert!(f.len() <= mtu);
            assert_eq!(checksum(&f[..20]), 0, "header checksum");
            let word = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(usize::from(word & OFFSET_MASK) * 8, payload.len(), "offsets line up");
            assert_eq!(usize::from(u16::from_be_bytes([f[2], f[3]])), f.len());
            payload.extend_from_slice(&f[20..]);
            more = word & MF != 0;
        }
        (payload, more)
    }

    #[test]
    fn fragmentation_cuts_at_eight_byte_boundaries_and_reassembles() {
        let body: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
        let mut p = packet([10, 0, 1, 4], [198, 51, 100, 1], proto::UDP, 64, &udp(1, 2, &body));
        p[6..8].fill(0); // DF off
        p[10..12].fill(0);
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());

        let mut out = [0u8; 1500];
        let mut fragments = Vec::new();
        while let Some(n) = fragment(&p, 1500, fragments.len(), &mut out) {
            fragments.push(out[..n].to_vec());
        }
        assert_eq!(fragments.len(), 3);
        assert_eq!(fragments[0].len(), 1500, "1480 bytes of payload: a multiple of 8");
        let (payload, more) = reassemble(&fragments, 1500);
        assert_eq!(payload, &p[20..]);
        assert!(!more, "the last fragment clears MF");
        assert!(
            fragments
                .iter()
                .all(|f| f[4..6] == p[4..6] && f[8..10] == p[8..10] && f[12..20] == p[12..20]),
            "identification, TTL, protocol and addresses kept"
        );

        // A fragment cut further keeps its offset and, at the end, its MF.
        let first = fragments[0].clone();
        let mut pieces = Vec::new();
        while let Some(n) = fragment(&first, 576, pieces.len(), &mut out) {
            pieces.push(out[..n].to_vec());
        }
        assert_eq!(pieces.len(), 3);
        let (payload, more) = reassemble(&pieces, 576);
        assert_eq!(payload, &first[20..]);
        assert!(more, "the original fragment had more after it");

        // DF set (as `packet` makes it): nothing.
        let df = packet([10, 0, 1, 4], [198, 51, 100, 1], proto::UDP, 64, &udp(1, 2, &body));
        assert_eq!(fragment(&df, 1500, 0, &mut out), None);
    }

    #[test]
    fn super_packets_count_their_segments() {
        let mut tcp = tcp_syn(1, 2);
        tcp.resize(20 + 3 * 1448 - 100, 0);
        let p = packet([10, 0, 1, 4], [10, 0, 2, 4], proto::TCP, 64, &tcp);
        let gso = Offload { partial_checksum: true, gso_size: 1448 };
        assert_eq!(on_the_wire(&p, gso), (3, p.len() + 2 * 40));
        // IPv6: 40 bytes of IP header, so 60 of headers per segment.
        let v6 = crate::wire6::ipv6_packet(
            "2001:db8::4".parse().unwrap(),
            "2001:db8::5".parse().unwrap(),
            64,
            proto::TCP,
            &tcp,
        );
        assert_eq!(on_the_wire(&v6, gso), (3, v6.len() + 2 * 60));
        assert_eq!(on_the_wire(&p, Offload::NONE), (1, p.len()));
        let one = Offload { partial_checksum: true, gso_size: 9000 };
        assert_eq!(on_the_wire(&p, one), (1, p.len()));
    }

    proptest::proptest! {
        /// RFC 1624 updates give exactly what recomputing from scratch gives, for every
        /// protocol, address and payload (odd lengths included).
        #[test]
        fn incremental_checksums_equal_full_recomputation(
            src in proptest::prelude::any::<[u8; 4]>(),
            dst in proptest::prelude::any::<[u8; 4]>(),
            new in proptest::prelude::any::<[u8; 4]>(),
            ttl in 2u8..=255,
            kind in 0usize..3,
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            side_src in proptest::prelude::any::<bool>(),
        ) {
            let (protocol, l4) = match kind {
                0 => (proto::UDP, udp(1234, 80, &payload)),
                1 => (proto::TCP, { let mut t = tcp_syn(1234, 80); t.extend_from_slice(&payload); t }),
                _ => (proto::ICMP, { let mut e = echo(1, 2); e.extend_from_slice(&payload); e }),
            };
            let mut p = packet(src, dst, protocol, ttl, &l4);
            let side = if side_src { Side::Src } else { Side::Dst };
            let mut view = Ipv4::new_checked(&mut p[..]).unwrap();
            view.translate(side, Ipv4Addr::from(new));
            view.decrement_ttl();
            proptest::prop_assert!(checksums_ok(&p));
            let at = if side_src { 12 } else { 16 };
            proptest::prop_assert_eq!(&p[at..at + 4], &new[..]);
        }

        /// Port (and ICMP identifier) rewrites keep the L4 checksum equal to a full
        /// recomputation.
        #[test]
        fn port_rewrites_keep_checksums(
            kind in 0usize..3,
            new in proptest::prelude::any::<u16>(),
            side_src in proptest::prelude::any::<bool>(),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
        ) {
            let (protocol, l4) = match kind {
                0 => (proto::UDP, udp(1234, 80, &payload)),
                1 => (proto::TCP, { let mut t = tcp_syn(1234, 80); t.extend_from_slice(&payload); t }),
                _ => (proto::ICMP, { let mut e = echo(7, 2); e.extend_from_slice(&payload); e }),
            };
            let mut p = packet([10, 0, 2, 4], [198, 51, 100, 1], protocol, 64, &l4);
            let side = if side_src { Side::Src } else { Side::Dst };
            let mut view = Ipv4::new_checked(&mut p[..]).unwrap();
            view.set_port(side, new);
            view.translate(Side::Src, Ipv4Addr::new(203, 0, 113, 10));
            proptest::prop_assert!(checksums_ok(&p));
        }

        /// A packet with a partial checksum (what a TUN with offloads gives): address
        /// and port rewrites, then the kernel's finishing (sum from the checksum field's
        /// start with the field as it is, inverted), equal a full recomputation over
        /// the rewritten packet — TCP and UDP, both sides, odd payloads.
        #[test]
        fn partial_checksums_survive_rewrites(
            tcp in proptest::prelude::any::<bool>(),
            src in proptest::prelude::any::<[u8; 4]>(),
            dst in proptest::prelude::any::<[u8; 4]>(),
            new_addr in proptest::prelude::any::<[u8; 4]>(),
            new_port in proptest::prelude::any::<u16>(),
            side_src in proptest::prelude::any::<bool>(),
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let (protocol, l4) = if tcp {
                (proto::TCP, { let mut t = tcp_syn(1234, 80); t.extend_from_slice(&payload); t })
            } else {
                (proto::UDP, udp(1234, 80, &payload))
            };
            let mut p = packet(src, dst, protocol, 64, &l4);
            make_partial(&mut p);
            let side = if side_src { Side::Src } else { Side::Dst };
            let offload = Offload { partial_checksum: true, gso_size: 0 };
            let mut view = Ipv4::new_checked(&mut p[..]).unwrap().with_offload(offload);
            view.translate(side, Ipv4Addr::from(new_addr));
            view.set_port(side.flip(), new_port);
            view.decrement_ttl();
            finish_partial(&mut p);
            proptest::prop_assert!(checksums_ok(&p));
        }

        #[test]
        fn update16_matches_recomputation(
            words in proptest::collection::vec(proptest::prelude::any::<u16>(), 1..32),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            new in proptest::prelude::any::<u16>(),
        ) {
            let bytes = |w: &[u16]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
            let i = at.index(words.len());
            let before = checksum(&bytes(&words));
            let mut changed = words.clone();
            changed[i] = new;
            let after = checksum(&bytes(&changed));
            // Equal as one's-complement numbers (0x0000 and 0xffff are both zero).
            let got = update16(before, words[i], new);
            proptest::prop_assert!(got == after || (got, after) == (0, 0xffff) || (got, after) == (0xffff, 0));
        }
    }
}
