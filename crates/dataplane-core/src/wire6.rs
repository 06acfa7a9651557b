//! IPv6 as the forwarder reads and rewrites it: the fixed header, the extension-header
//! chain up to the upper-layer protocol, and the parts of ICMPv6, TCP and UDP that
//! forwarding and translation touch.
//!
//! [`Ipv6`] is a view over a byte slice checked once by [`Ipv6::new_checked`]: the
//! version, the payload length against the buffer, and a bounded walk of the extension
//! headers (at most [`MAX_EXTENSION_HEADERS`], each length checked against the packet)
//! that records where the upper-layer header starts and what a Fragment header says.
//! After that no accessor panics. The IPv6 header has no checksum of its own, but TCP,
//! UDP and ICMPv6 all sum a pseudo-header with both addresses (RFC 8200 §8.1), so an
//! address rewrite patches the upper-layer checksum incrementally (RFC 1624), as
//! [`crate::wire`] does for IPv4.
//!
//! The builders ([`icmp_error`], [`echo_reply`]) write into a caller's buffer and
//! allocate nothing; [`ipv6_packet`] allocates and is for tests and probes.

use std::net::Ipv6Addr;

use crate::wire::{
    Address, Head, IcmpNumbers, Offload, Side, Upper, fold, patch_l4, patch_partial, ports_of, sum,
    update16,
};

/// Next Header values: the extension headers [`Ipv6::new_checked`] walks, and the
/// upper-layer protocols the forwarder knows.
pub mod proto {
    /// Hop-by-Hop Options (RFC 8200 §4.3): only ever right after the fixed header.
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// Routing header (RFC 8200 §4.4).
    pub const ROUTING: u8 = 43;
    /// Fragment header (RFC 8200 §4.5).
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload (RFC 4303): what follows is encrypted, the walk
    /// stops here.
    pub const ESP: u8 = 50;
    /// Authentication Header (RFC 4302): its length counts 4-octet units, less 2.
    pub const AH: u8 = 51;
    /// ICMPv6 (RFC 4443).
    pub use crate::wire::proto::ICMPV6;
    /// No Next Header: nothing follows.
    pub const NO_NEXT_HEADER: u8 = 59;
    /// Destination Options (RFC 8200 §4.6).
    pub const DESTINATION_OPTIONS: u8 = 60;
}

/// ICMPv6 message types and codes the forwarder sends, answers or translates (RFC 4443).
pub mod icmp6 {
    /// Destination Unreachable.
    pub const UNREACHABLE: u8 = 1;
    /// Packet Too Big: the rest-of-header word is the next hop's MTU.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter Problem: the rest-of-header word points at the octet at fault.
    pub const PARAMETER_PROBLEM: u8 = 4;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Redirect (RFC 4861 §4.5): informational, but never answered with an error either.
    pub const REDIRECT: u8 = 137;

    /// [`UNREACHABLE`] code: no route to destination.
    pub const NO_ROUTE: u8 = 0;
    /// [`UNREACHABLE`] code: communication administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    /// [`UNREACHABLE`] code: beyond the scope of the source address.
    pub const BEYOND_SCOPE: u8 = 2;
    /// [`UNREACHABLE`] code: address unreachable.
    pub const ADDRESS_UNREACHABLE: u8 = 3;
    /// [`UNREACHABLE`] code: port unreachable.
    pub const PORT_UNREACHABLE: u8 = 4;
    /// [`TIME_EXCEEDED`] code: hop limit exceeded in transit.
    pub const HOP_LIMIT_EXCEEDED: u8 = 0;
    /// [`TIME_EXCEEDED`] code: fragment reassembly time exceeded.
    pub const REASSEMBLY_EXCEEDED: u8 = 1;
    /// [`PARAMETER_PROBLEM`] code: erroneous header field.
    pub const ERRONEOUS_HEADER: u8 = 0;
    /// [`PARAMETER_PROBLEM`] code: unrecognized Next Header type.
    pub const UNRECOGNIZED_NEXT_HEADER: u8 = 1;
    /// [`PARAMETER_PROBLEM`] code: unrecognized IPv6 option.
    pub const UNRECOGNIZED_OPTION: u8 = 2;

    /// Whether `kind` is an ICMPv6 error: types 0–127 (RFC 4443 §2.1). An error quotes
    /// the packet it is about, and no error may be sent about it.
    pub fn is_error(kind: u8) -> bool {
        kind < 128
    }
}

/// Why a buffer is not a usable IPv6 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not IP version 6.
    Version(u8),
    /// Shorter than its fixed header, its payload length or an extension header says.
    Truncated,
    /// More than [`MAX_EXTENSION_HEADERS`] extension headers.
    TooManyExtensions,
    /// An extension header where none may be (Hop-by-Hop Options after the first), or
    /// with an impossible length (an Authentication Header shorter than its fixed part).
    /// The offset of the octet at fault: the pointer of the Parameter Problem that
    /// answers it (RFC 8200 §4).
    ExtensionHeader(u32),
}

/// Fixed offsets of IPv6 header fields.
mod field {
    pub(super) const PAYLOAD_LEN: usize = 4;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC: usize = 8;
    pub(super) const DST: usize = 24;
}

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER: usize = 40;
/// The MTU every IPv6 link has (RFC 8200 §5), and so the most an ICMPv6 error may be
/// (RFC 4443 §2.4 (c)).
pub const MIN_MTU: usize = 1280;
/// Most extension headers [`Ipv6::new_checked`] walks before calling a packet
/// malformed. Real chains have two or three; the bound keeps the walk's cost fixed.
pub const MAX_EXTENSION_HEADERS: usize = 8;
/// Hop limit of the packets built here (Linux's default).
const HOP_LIMIT: u8 = 64;

/// What a Fragment header says (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    /// Where this fragment's data goes in the original's fragmentable part, in
    /// 8-octet units.
    pub offset: u16,
    /// The M flag: more fragments follow.
    pub more: bool,
    /// The identification the fragments of one packet share.
    pub id: u32,
}

/// What walking the header chain found.
#[derive(Clone, Copy, Debug, Default)]
struct Chain {
    /// The upper-layer protocol (or ESP, or No Next Header).
    protocol: u8,
    /// Offset of the upper-layer header.
    l4: usize,
    /// The Fragment header, if any.
    fragment: Option<Fragment>,
    /// Offset of the Segments Left field of the first Routing header where it is not 0.
    segments_left_at: Option<usize>,
    /// Whether an Authentication Header was walked.
    authenticated: bool,
}

/// Walks the extension headers of the packet at the start of `b`, whose bytes end at
/// `end` (`IPV6_HEADER <= end <= b.len()`). Stops at the upper-layer header, at ESP or
/// No Next Header, and at the Fragment header of a fragment other than the first (what
/// follows it is data).
fn walk(b: &[u8], end: usize) -> Result<Chain, Malformed> {
    let mut chain = Chain::default();
    let mut next = b[field::NEXT_HEADER];
    let mut naming = field::NEXT_HEADER;
    let mut at = IPV6_HEADER;
    let mut walked = 0;
    loop {
        let rest = &b[at..end];
        let len = match next {
            proto::HOP_BY_HOP if at != IPV6_HEADER => {
                return Err(Malformed::ExtensionHeader(naming as u32));
            }
            proto::HOP_BY_HOP | proto::ROUTING | proto::DESTINATION_OPTIONS => {
                (usize::from(*rest.get(1).ok_or(Malformed::Truncated)?) + 1) * 8
            }
            proto::FRAGMENT => 8,
            proto::AH => match *rest.get(1).ok_or(Malformed::Truncated)? {
                // 12 octets at least: next header, length, reserved, SPI, sequence.
                0 => return Err(Malformed::ExtensionHeader((at + 1) as u32)),
                n => (usize::from(n) + 2) * 4,
            },
            _ => break,
        };
        if walked == MAX_EXTENSION_HEADERS {
            return Err(Malformed::TooManyExtensions);
        }
        let header = rest.get(..len).ok_or(Malformed::Truncated)?;
        walked += 1;
        match next {
            proto::ROUTING if header[3] != 0 && chain.segments_left_at.is_none() => {
                chain.segments_left_at = Some(at + 3);
            }
            proto::FRAGMENT => {
                let word = u16::from_be_bytes([header[2], header[3]]);
                let fragment = Fragment {
                    offset: word >> 3,
                    more: word & 1 != 0,
                    id: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
                };
                chain.fragment = Some(fragment);
                if fragment.offset != 0 {
                    chain.protocol = header[0];
                    chain.l4 = at + len;
                    return Ok(chain);
                }
            }
            proto::AH => chain.authenticated = true,
            _ => {}
        }
        next = header[0];
        naming = at;
        at += len;
    }
    chain.protocol = next;
    chain.l4 = at;
    Ok(chain)
}

/// The one's-complement sum (unfolded, as [`crate::wire::sum`] gives it) of the IPv6
/// pseudo-header that TCP, UDP and ICMPv6 checksums cover (RFC 8200 §8.1): both
/// addresses, the upper-layer length and the upper-layer protocol.
pub fn pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, upper_len: u32, next_header: u8) -> u32 {
    let acc = sum(&src.octets(), sum(&dst.octets(), 0));
    acc + (upper_len >> 16) + (upper_len & 0xffff) + u32::from(next_header)
}

/// [`crate::wire::update16`] for a 128-bit field (an IPv6 address in a pseudo-header).
pub fn update128(check: u16, old: u128, new: u128) -> u16 {
    update16(check, fold(sum(&old.to_be_bytes(), 0)), fold(sum(&new.to_be_bytes(), 0)))
}

/// An IPv6 packet of a fixed header (traffic class and flow label 0) and `payload`
/// (extension headers included, checksums left as given). For probes, tests and
/// benchmarks: the packet path rewrites packets in place and never builds one.
pub fn ipv6_packet(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    next_header: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0u8; IPV6_HEADER + payload.len()];
    put_header(&mut p, 0, payload.len() as u16, next_header, hop_limit, src, dst);
    p[IPV6_HEADER..].copy_from_slice(payload);
    p
}

/// Builds into `out` the TCP RST that answers `original` (a TCP segment, not a
/// fragment) as if from its destination, as [`crate::wire::tcp_reset`] does for IPv4.
/// Returns the length, or `None` when `original` is an RST itself, not TCP, or too
/// short.
pub fn tcp_reset(out: &mut [u8], original: &Ipv6<&[u8]>) -> Option<usize> {
    if original.protocol() != proto::TCP || original.is_fragment() {
        return None;
    }
    let segment = crate::wire::reset_segment(original.l4())?;
    let total = IPV6_HEADER + segment.len();
    let out = out.get_mut(..total)?;
    let (src, dst) = (original.dst(), original.src());
    put_header(out, 0, segment.len() as u16, proto::TCP, 64, src, dst);
    let tcp = &mut out[IPV6_HEADER..];
    tcp.copy_from_slice(&segment);
    let pseudo = pseudo_header(src, dst, segment.len() as u32, proto::TCP);
    let check = !fold(sum(tcp, pseudo));
    tcp[16..18].copy_from_slice(&check.to_be_bytes());
    Some(total)
}

/// Writes a fixed IPv6 header (flow label 0) into the first 40 bytes of `out`.
pub(crate) fn put_header(
    out: &mut [u8],
    traffic_class: u8,
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) {
    let h = &mut out[..IPV6_HEADER];
    h[0] = 0x60 | (traffic_class >> 4);
    h[1] = traffic_class << 4;
    h[2..4].fill(0);
    h[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2].copy_from_slice(&payload_len.to_be_bytes());
    h[field::NEXT_HEADER] = next_header;
    h[field::HOP_LIMIT] = hop_limit;
    h[field::SRC..field::SRC + 16].copy_from_slice(&src.octets());
    h[field::DST..field::DST + 16].copy_from_slice(&dst.octets());
}

/// Whether `addr` can be the source of a packet that is answered: not the unspecified
/// address, not multicast (RFC 4443 §2.4 (e.3)).
fn answerable(addr: Ipv6Addr) -> bool {
    !addr.is_unspecified() && !addr.is_multicast()
}

/// A checked view of an IPv6 packet and its extension-header chain.
///
/// Extension headers are Hop-by-Hop Options (first only), Routing, Fragment,
/// Destination Options and AH; the walk stops at ESP, No Next Header, any other value
/// (the upper-layer protocol, [`Ipv6::protocol`]) and the Fragment header of a later
/// fragment. Jumbograms (payload length 0 with a Jumbo Payload option) are not
/// supported: they count as empty.
///
/// A fragment other than the first has no upper-layer header; given its packet's
/// [`Head`] ([`Ipv6::with_head`], from the first fragment), it answers
/// [`Ipv6::ports`], [`Ipv6::icmp_type`] and [`Ipv6::icmp_code`] as its first fragment
/// does, as [`crate::wire::Ipv4`] does.
#[derive(Debug)]
pub struct Ipv6<T> {
    buf: T,
    /// Where the packet's bytes end in `buf`: the total length, or for a quoted packet
    /// what is left of it.
    end: usize,
    chain: Chain,
    head: Option<Head>,
    offload: Offload,
}

impl<T: AsRef<[u8]>> Ipv6<T> {
    /// Checks the version, the payload length against the buffer and the extension
    /// headers. The view covers the whole buffer; [`Ipv6::total_len`] may be shorter.
    pub fn new_checked(buf: T) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        check_fixed(b)?;
        let total = IPV6_HEADER + usize::from(payload_len(b));
        if total > b.len() {
            return Err(Malformed::Truncated);
        }
        let chain = walk(b, total)?;
        Ok(Self { buf, end: total, chain, head: None, offload: Offload::NONE })
    }

    /// A view of a packet quoted in an ICMPv6 error: the same checks, except that the
    /// packet may end early, after its extension headers. [`Ipv6::l4`] is then what is
    /// left of the upper-layer part; lengths are still the header's.
    pub fn new_quoted(buf: T) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        check_fixed(b)?;
        let end = b.len().min(IPV6_HEADER + usize::from(payload_len(b)));
        let chain = walk(b, end)?;
        Ok(Self { buf, end, chain, head: None, offload: Offload::NONE })
    }

    /// The same view of a later fragment, with its packet's head.
    #[must_use]
    pub fn with_head(mut self, head: Head) -> Self {
        self.head = Some(head);
        self
    }

    /// Gives a later fragment its packet's head (see [`Ipv6::with_head`]).
    pub fn set_head(&mut self, head: Head) {
        self.head = Some(head);
    }

    /// For a first fragment (or a whole packet): what its upper-layer header says, as
    /// later fragments need it. `None` for a later fragment or a cut-short header.
    pub fn head(&self) -> Option<Head> {
        self.upper().head()
    }

    /// Its upper layer, as both families read it ([`crate::wire::Upper`]).
    #[inline]
    fn upper(&self) -> Upper<'_> {
        Upper {
            protocol: self.protocol(),
            l4: self.l4(),
            later: self.is_later_fragment(),
            head: self.head,
            icmp: ICMP6,
        }
    }

    /// The same view, for a packet whose TCP or UDP checksum the sender left partial
    /// (see [`Offload::partial_checksum`]).
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

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// A read-only view of the same, already checked, packet.
    pub fn reborrow(&self) -> Ipv6<&[u8]> {
        Ipv6 {
            buf: self.buf.as_ref(),
            end: self.end,
            chain: self.chain,
            head: self.head,
            offload: self.offload,
        }
    }

    fn address(&self, at: usize) -> u128 {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.b()[at..at + 16]);
        u128::from_be_bytes(octets)
    }

    /// Traffic class (the IPv4 TOS octet's counterpart: DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        let b = self.b();
        (b[0] << 4) | (b[1] >> 4)
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        let b = self.b();
        u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]])
    }

    /// Payload length from the header: everything after the fixed header.
    pub fn payload_len(&self) -> u16 {
        payload_len(self.b())
    }

    /// Total length: the fixed header and the payload length.
    pub fn total_len(&self) -> usize {
        IPV6_HEADER + usize::from(self.payload_len())
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.b()[field::HOP_LIMIT]
    }

    /// The fixed header's Next Header field (an extension header, or the protocol).
    pub fn next_header(&self) -> u8 {
        self.b()[field::NEXT_HEADER]
    }

    /// The upper-layer protocol after the extension headers (or [`proto::ESP`], or
    /// [`proto::NO_NEXT_HEADER`]).
    pub fn protocol(&self) -> u8 {
        self.chain.protocol
    }

    /// The packet's bytes, up to its payload length (for a quoted packet, what is
    /// quoted).
    pub fn bytes(&self) -> &[u8] {
        &self.b()[..self.end]
    }

    /// Length of the fixed header and the extension headers: the offset of the
    /// upper-layer header (for a later fragment, of its data).
    pub fn header_len(&self) -> usize {
        self.chain.l4
    }

    /// The upper-layer header and data, up to the payload length (for a quoted packet,
    /// up to what is quoted).
    pub fn l4(&self) -> &[u8] {
        &self.b()[self.chain.l4..self.end]
    }

    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src_bits())
    }

    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst_bits())
    }

    /// Source address as an integer.
    pub fn src_bits(&self) -> u128 {
        self.address(field::SRC)
    }

    /// Destination address as an integer.
    pub fn dst_bits(&self) -> u128 {
        self.address(field::DST)
    }

    /// The Fragment header, if the packet has one (an atomic fragment, offset 0 and no
    /// more, included: RFC 6946 processes it as a whole packet, so does
    /// [`Ipv6::is_fragment`]).
    pub fn fragment(&self) -> Option<Fragment> {
        self.chain.fragment
    }

    /// The identity its fragments share when they come in on `zone` (`None` when it
    /// is no fragment): the addresses and the Fragment header's identification (RFC
    /// 8200 §4.5: not the protocol, which a first fragment may carry behind extension
    /// headers the later ones lack; the key's protocol is the Fragment header's, 44).
    pub fn datagram(&self, zone: u32) -> Option<crate::wire::DatagramKey<u128>> {
        let fragment = self.chain.fragment?;
        Some(crate::wire::DatagramKey {
            zone,
            src: self.src_bits(),
            dst: self.dst_bits(),
            protocol: proto::FRAGMENT,
            id: fragment.id,
        })
    }

    /// Whether this is a fragment of a larger packet (offset or M flag set).
    pub fn is_fragment(&self) -> bool {
        self.chain.fragment.is_some_and(|f| f.offset != 0 || f.more)
    }

    /// Whether this is a fragment other than the first (it has no upper-layer header).
    pub fn is_later_fragment(&self) -> bool {
        self.chain.fragment.is_some_and(|f| f.offset != 0)
    }

    /// Offset of the Segments Left field of the first Routing header where it is not
    /// zero: such a packet is not at its last hop, and a translator refuses it with a
    /// Parameter Problem pointing there (RFC 7915 §5.1).
    pub fn segments_left_at(&self) -> Option<usize> {
        self.chain.segments_left_at
    }

    /// Whether an Authentication Header is in the chain: its integrity check covers the
    /// addresses, so no translation can keep it valid.
    pub fn authenticated(&self) -> bool {
        self.chain.authenticated
    }

    /// The flow identity a firewall or NAT keys on: for TCP and UDP (`sport`, `dport`);
    /// for an ICMPv6 echo request or reply (`identifier`, 0). `None` for anything else,
    /// for a later fragment without its head, and when the header is cut short.
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.upper().ports()
    }

    /// The TCP flags byte (0 for other protocols, a short header or a later fragment).
    pub fn tcp_flags(&self) -> u8 {
        self.upper().tcp_flags()
    }

    /// The ICMPv6 type, if this is ICMPv6 with a header (a later fragment's from its
    /// head).
    pub fn icmp_type(&self) -> Option<u8> {
        self.upper().icmp_type()
    }

    /// The ICMPv6 code (0 when absent).
    pub fn icmp_code(&self) -> u8 {
        self.upper().icmp_code()
    }

    /// Whether this is an ICMPv6 error, or a later fragment of ICMPv6 whose type is not
    /// known: either way, no error may be sent about it.
    fn is_icmp_error(&self) -> bool {
        self.protocol() == proto::ICMPV6 && self.icmp_type().is_none_or(icmp6::is_error)
    }

    /// For an ICMPv6 error: protocol, source, destination and ports (or echo identifier
    /// and 0) of the packet it quotes, if enough of it is quoted — what
    /// [`crate::wire::Ipv4::icmp_quoted`] gives for IPv4.
    pub fn icmp_quoted(&self) -> Option<(u8, u128, u128, u16, u16)> {
        let icmp = self.l4();
        if self.protocol() != proto::ICMPV6
            || self.is_fragment()
            || icmp.len() < 8
            || !icmp6::is_error(icmp[0])
        {
            return None;
        }
        let inner = Ipv6::new_quoted(&icmp[8..]).ok()?;
        if inner.is_later_fragment() || inner.l4().len() < 8 {
            return None;
        }
        let (a, b) = ports_of(inner.protocol(), ICMP6, inner.l4())?;
        Some((inner.protocol(), inner.src_bits(), inner.dst_bits(), a, b))
    }
}

/// The version and the fixed header's length.
fn check_fixed(b: &[u8]) -> Result<(), Malformed> {
    let Some(&first) = b.first() else {
        return Err(Malformed::Truncated);
    };
    if first >> 4 != 6 {
        return Err(Malformed::Version(first >> 4));
    }
    if b.len() < IPV6_HEADER {
        return Err(Malformed::Truncated);
    }
    Ok(())
}

/// The payload length field of a header at least 40 bytes long.
fn payload_len(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[field::PAYLOAD_LEN], b[field::PAYLOAD_LEN + 1]])
}

/// ICMPv6's numbers, for the reading both families share.
const ICMP6: IcmpNumbers = IcmpNumbers {
    protocol: proto::ICMPV6,
    echo_request: icmp6::ECHO_REQUEST,
    echo_reply: icmp6::ECHO_REPLY,
};

/// Offset of the checksum in the upper-layer header of `protocol`, if it covers the
/// pseudo-header.
fn checksum_at(protocol: u8) -> Option<usize> {
    match protocol {
        proto::TCP => Some(16),
        proto::UDP => Some(6),
        proto::ICMPV6 => Some(2),
        _ => None,
    }
}

fn address_at(side: Side) -> usize {
    match side {
        Side::Src => field::SRC,
        Side::Dst => field::DST,
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    /// Decrements the hop limit (the IPv6 header has no checksum to patch). Call only
    /// when it is > 1; at 0 it stays 0.
    pub fn decrement_hop_limit(&mut self) {
        let hop_limit = self.hop_limit();
        self.bm()[field::HOP_LIMIT] = hop_limit.saturating_sub(1);
    }

    /// Rewrites one address to `new`, keeping every checksum that covers it correct: the
    /// TCP, UDP or ICMPv6 checksum (each covers the pseudo-header), and for an ICMPv6
    /// error the same address on the other side of the quoted packet, which is the
    /// same flow seen from the other direction, with the quoted upper-layer checksum
    /// where it is quoted. A zero UDP checksum (none, which only tunnels may send over
    /// IPv6, RFC 6935) stays zero; a later fragment has no checksum to patch.
    pub fn translate(&mut self, side: Side, new: Ipv6Addr) {
        let new = new.to_bits();
        let at = address_at(side);
        let old = self.address(at);
        if old == new {
            return;
        }
        self.bm()[at..at + 16].copy_from_slice(&new.to_be_bytes());
        if self.is_later_fragment() {
            return;
        }
        let (start, end) = (self.chain.l4, self.end);
        let protocol = self.protocol();
        let partial = self.partial_l4();
        let l4 = &mut self.bm()[start..end];
        let Some(check_at) = checksum_at(protocol) else {
            return;
        };
        if partial {
            patch_partial(l4, check_at, old, new);
            return;
        }
        let patched = patch_l4(l4, check_at, old, new, protocol == proto::UDP);
        if protocol == proto::ICMPV6 && patched {
            translate_icmp_error(l4, side.flip(), old, new);
        }
    }
}

impl Address for u128 {
    #[inline]
    fn update(check: u16, old: u128, new: u128) -> u16 {
        update128(check, old, new)
    }
}

/// In an ICMPv6 error, rewrites address `old` on `inner_side` of the quoted packet to
/// `new`, with the quoted upper-layer checksum if quoted, patching the ICMPv6 checksum
/// for every word changed. The quoted packet starts at offset 8 and its headers are
/// multiples of 8 octets long, so every field is word-aligned within the message.
fn translate_icmp_error(icmp: &mut [u8], inner_side: Side, old: u128, new: u128) {
    if icmp.len() < 8 || !icmp6::is_error(icmp[0]) {
        return;
    }
    let (head, inner) = icmp.split_at_mut(8);
    let Ok(quoted) = Ipv6::new_quoted(&*inner) else {
        return;
    };
    let (l4_at, end, protocol) = (quoted.header_len(), quoted.end, quoted.protocol());
    let later = quoted.is_later_fragment();
    let at = address_at(inner_side);
    if inner[at..at + 16] != old.to_be_bytes() {
        return;
    }
    inner[at..at + 16].copy_from_slice(&new.to_be_bytes());
    let mut icmp_check = update128(u16::from_be_bytes([head[2], head[3]]), old, new);
    let check_at = if later { None } else { checksum_at(protocol) };
    if let Some(field) = check_at.and_then(|c| inner[l4_at..end].get_mut(c..c + 2)) {
        let old_l4 = u16::from_be_bytes([field[0], field[1]]);
        if !(protocol == proto::UDP && old_l4 == 0) {
            let mut l4 = update128(old_l4, old, new);
            if protocol == proto::UDP && l4 == 0 {
                l4 = 0xffff;
            }
            field.copy_from_slice(&l4.to_be_bytes());
            icmp_check = update16(icmp_check, old_l4, l4);
        }
    }
    head[2..4].copy_from_slice(&icmp_check.to_be_bytes());
}

/// Most bytes of the offending packet an ICMPv6 error quotes: the error stays within
/// the minimum MTU (RFC 4443 §2.4 (c)).
const MAX_QUOTE: usize = MIN_MTU - IPV6_HEADER - 8;

/// Builds an ICMPv6 error (RFC 4443 §3) about `original` from `src` into `out`, and
/// returns its length: Destination Unreachable ([`icmp6::UNREACHABLE`], with a code
/// such as [`icmp6::NO_ROUTE`] or [`icmp6::PORT_UNREACHABLE`], `rest` 0), Packet Too Big
/// (`rest` the MTU), Time Exceeded (`rest` 0), Parameter Problem (`rest` the pointer).
/// It quotes as much of `original` as keeps it within 1280 bytes, and goes to
/// `original`'s source with hop limit 64.
///
/// `None` when no error may be sent (RFC 4443 §2.4 (e)): `original` is an ICMPv6 error
/// or redirect (or a later fragment of ICMPv6, whose type is unknown), comes from the
/// unspecified or a multicast address, or went to a multicast address (except for
/// Packet Too Big, and Parameter Problem code 2); or when `out` is too small. Unlike
/// IPv4 (RFC 1812 §4.3.2.7), a fragment other than the first may be answered.
pub fn icmp_error(
    out: &mut [u8],
    src: Ipv6Addr,
    original: &Ipv6<&[u8]>,
    kind: u8,
    code: u8,
    rest: u32,
) -> Option<usize> {
    if !answerable(original.src())
        || original.is_icmp_error()
        || original.icmp_type() == Some(icmp6::REDIRECT)
    {
        return None;
    }
    let to_group_allowed = kind == icmp6::PACKET_TOO_BIG
        || (kind == icmp6::PARAMETER_PROBLEM && code == icmp6::UNRECOGNIZED_OPTION);
    if original.dst().is_multicast() && !to_group_allowed {
        return None;
    }
    let quote = &original.b()[..original.total_len().min(MAX_QUOTE)];
    let len = 8 + quote.len();
    let out = out.get_mut(..IPV6_HEADER + len)?;
    let dst = original.src();
    put_header(out, 0, len as u16, proto::ICMPV6, HOP_LIMIT, src, dst);
    let message = &mut out[IPV6_HEADER..];
    message[0] = kind;
    message[1] = code;
    message[2..4].fill(0);
    message[4..8].copy_from_slice(&rest.to_be_bytes());
    message[8..].copy_from_slice(quote);
    let check = !fold(sum(message, pseudo_header(src, dst, len as u32, proto::ICMPV6)));
    message[2..4].copy_from_slice(&check.to_be_bytes());
    Some(IPV6_HEADER + len)
}

/// Builds into `out` the Echo Reply to `request`, an ICMPv6 Echo Request (RFC 4443
/// §4.2): from its destination to its source, hop limit 64, with its identifier,
/// sequence number and data, and returns its length. `None` when `request` is not a
/// whole echo request with a valid checksum, either address cannot be answered
/// (unspecified or multicast: the forwarder joins no groups), or `out` is too small.
pub fn echo_reply(out: &mut [u8], request: &Ipv6<&[u8]>) -> Option<usize> {
    let message = request.l4();
    let (src, dst) = (request.dst(), request.src());
    if request.protocol() != proto::ICMPV6
        || request.is_fragment()
        || message.len() < 8
        || message[0] != icmp6::ECHO_REQUEST
        || !answerable(src)
        || !answerable(dst)
    {
        return None;
    }
    let len = message.len();
    if fold(sum(message, pseudo_header(dst, src, len as u32, proto::ICMPV6))) != 0xffff {
        return None;
    }
    let out = out.get_mut(..IPV6_HEADER + len)?;
    put_header(out, 0, len as u16, proto::ICMPV6, HOP_LIMIT, src, dst);
    let reply = &mut out[IPV6_HEADER..];
    reply.copy_from_slice(message);
    reply[0] = icmp6::ECHO_REPLY;
    reply[2..4].fill(0);
    let check = !fold(sum(reply, pseudo_header(src, dst, len as u32, proto::ICMPV6)));
    reply[2..4].copy_from_slice(&check.to_be_bytes());
    Some(IPV6_HEADER + len)
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::{any, prop_assert, prop_assert_eq};
    use proptest::{collection, proptest};

    use super::*;

    /// Bytes from a hex string (whitespace ignored), for golden packets.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    pub(crate) fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// Recomputes from scratch the TCP, UDP or ICMPv6 checksum of the whole packet `p`.
    pub(crate) fn fix_l4(p: &mut [u8]) {
        let ip = Ipv6::new_checked(&*p).unwrap();
        let (start, end, protocol) = (ip.header_len(), ip.total_len(), ip.protocol());
        let pseudo = pseudo_header(ip.src(), ip.dst(), (end - start) as u32, protocol);
        let at = start + checksum_at(protocol).unwrap();
        p[at..at + 2].fill(0);
        let mut check = !fold(sum(&p[start..end], pseudo));
        if protocol == proto::UDP && check == 0 {
            check = 0xffff;
        }
        p[at..at + 2].copy_from_slice(&check.to_be_bytes());
    }

    /// Whether the upper-layer checksum of `p` verifies: the sum over the pseudo-header
    /// and the upper layer, checksum included, is all ones.
    pub(crate) fn l4_ok(p: &[u8]) -> bool {
        let ip = Ipv6::new_checked(p).unwrap();
        let l4 = ip.l4();
        let pseudo = pseudo_header(ip.src(), ip.dst(), l4.len() as u32, ip.protocol());
        fold(sum(l4, pseudo)) == 0xffff
    }

    pub(crate) fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        crate::wire::tests::udp(sport, dport, payload)
    }

    pub(crate) fn tcp_syn(sport: u16, dport: u16) -> Vec<u8> {
        crate::wire::tests::tcp_syn(sport, dport)
    }

    pub(crate) fn echo(kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
        let mut e = vec![kind, 0, 0, 0];
        e.extend_from_slice(&id.to_be_bytes());
        e.extend_from_slice(&seq.to_be_bytes());
        e.extend_from_slice(data);
        e
    }

    /// A packet with `l4` after the extension headers `extensions` (Next Header value,
    /// length in bytes, a multiple of 8 at least 8; AH: a multiple of 4 at least 12),
    /// with its upper-layer checksum computed.
    pub(crate) fn packet(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        extensions: &[(u8, usize)],
        protocol: u8,
        l4: &[u8],
    ) -> Vec<u8> {
        let mut payload = Vec::new();
        for (i, &(kind, len)) in extensions.iter().enumerate() {
            let next = extensions.get(i + 1).map_or(protocol, |&(k, _)| k);
            let mut h = vec![0u8; len];
            h[0] = next;
            match kind {
                proto::FRAGMENT => {}
                proto::AH => h[1] = (len / 4 - 2) as u8,
                _ => {
                    h[1] = (len / 8 - 1) as u8;
                    // Options: one PadN over the rest (routing: type 0, 0 segments left).
                    if kind != proto::ROUTING {
                        h[2] = 1;
                        h[3] = (len - 4) as u8;
                    }
                }
            }
            payload.extend_from_slice(&h);
        }
        payload.extend_from_slice(l4);
        let first = extensions.first().map_or(protocol, |&(k, _)| k);
        let mut p = ipv6_packet(src, dst, 64, first, &payload);
        let checked = Ipv6::new_checked(&p[..]).is_ok();
        if checked && checksum_at(protocol).is_some_and(|at| l4.len() >= (at + 2).max(8)) {
            fix_l4(&mut p);
        }
        p
    }

    fn simple(protocol: u8, l4: &[u8]) -> Vec<u8> {
        packet(addr("2001:db8:1::10"), addr("2001:db8:2::20"), &[], protocol, l4)
    }

    // Golden packets. Checksums were computed separately from this code, over the
    // pseudo-header, and are checked again by `l4_ok`.
    const ECHO_REQUEST: &str = "6000000000103a40 20010db8000100000000000000000010
        20010db8000200000000000000000020 8000b57a12340001 7670636c61622121";
    const ECHO_REPLY: &str = "6000000000103a40 20010db8000200000000000000000020
        20010db8000100000000000000000010 8100b47a12340001 7670636c61622121";
    /// UDP 5000 → 9, "x", hop limit 63.
    const UDP_SENT: &str = "600000000009113f 20010db8000100000000000000000010
        20010db8000200000000000000000020 1388 0009 0009 18a6 78";
    /// Port unreachable about `UDP_SENT` from 2001:db8:2::1.
    const PORT_UNREACHABLE: &str = "6000000000393a40 20010db8000200000000000000000001
        20010db8000100000000000000000010 010431d400000000
        600000000009113f 20010db8000100000000000000000010
        20010db8000200000000000000000020 1388 0009 0009 18a6 78";

    #[test]
    fn golden_echo_request_is_read_and_answered() {
        let request = hex(ECHO_REQUEST);
        assert!(l4_ok(&request));
        let ip = Ipv6::new_checked(&request[..]).unwrap();
        assert_eq!(ip.src(), addr("2001:db8:1::10"));
        assert_eq!(ip.dst_bits(), addr("2001:db8:2::20").to_bits());
        assert_eq!((ip.hop_limit(), ip.traffic_class(), ip.flow_label()), (64, 0, 0));
        assert_eq!((ip.payload_len(), ip.total_len(), ip.header_len()), (16, 56, 40));
        assert_eq!(ip.protocol(), proto::ICMPV6);
        assert_eq!((ip.icmp_type(), ip.icmp_code()), (Some(icmp6::ECHO_REQUEST), 0));
        assert_eq!(ip.ports(), Some((0x1234, 0)));
        let head = ip.head().unwrap();
        assert_eq!((head.sport, head.icmp_type), (0x1234, icmp6::ECHO_REQUEST));
        assert_eq!(ip.icmp_quoted(), None);

        let mut out = [0u8; 200];
        let len = echo_reply(&mut out, &ip).unwrap();
        assert_eq!(&out[..len], &hex(ECHO_REPLY)[..]);
        assert!(l4_ok(&out[..len]));

        // A wrong checksum, or a reply, is not answered.
        let mut corrupt = request.clone();
        corrupt[50] ^= 1;
        assert_eq!(echo_reply(&mut out, &Ipv6::new_checked(&corrupt[..]).unwrap()), None);
        let reply = hex(ECHO_REPLY);
        assert_eq!(echo_reply(&mut out, &Ipv6::new_checked(&reply[..]).unwrap()), None);
        // Nor into a buffer too small.
        assert_eq!(echo_reply(&mut out[..55], &ip), None);
    }

    #[test]
    fn golden_port_unreachable_quotes_the_packet() {
        let sent = hex(UDP_SENT);
        assert!(l4_ok(&sent));
        let view = Ipv6::new_checked(&sent[..]).unwrap();
        assert_eq!(view.ports(), Some((5000, 9)));
        let mut out = [0u8; MIN_MTU];
        let len = icmp_error(
            &mut out,
            addr("2001:db8:2::1"),
            &view,
            icmp6::UNREACHABLE,
            icmp6::PORT_UNREACHABLE,
            0,
        )
        .unwrap();
        assert_eq!(&out[..len], &hex(PORT_UNREACHABLE)[..]);
        let error = Ipv6::new_checked(&out[..len]).unwrap();
        assert!(l4_ok(&out[..len]));
        assert_eq!(
            error.icmp_quoted(),
            Some((
                proto::UDP,
                addr("2001:db8:1::10").to_bits(),
                addr("2001:db8:2::20").to_bits(),
                5000,
                9
            ))
        );
        // No error about an error.
        let again =
            icmp_error(&mut [0u8; MIN_MTU], addr("::1"), &error, icmp6::TIME_EXCEEDED, 0, 0);
        assert_eq!(again, None);
    }

    #[test]
    fn fixed_header_fields() {
        let mut p = hex(UDP_SENT);
        p[0] = 0x6b; // traffic class 0xb8 (EF), flow label 0x12345
        p[1] = 0x81;
        p[2] = 0x23;
        p[3] = 0x45;
        let ip = Ipv6::new_checked(&p[..]).unwrap();
        assert_eq!(ip.traffic_class(), 0xb8);
        assert_eq!(ip.flow_label(), 0x12345);
        assert_eq!(ip.next_header(), proto::UDP);
    }

    /// Hop-by-Hop (PadN), Destination Options (16 bytes), Fragment (first, id
    /// 0xdeadbeef), UDP 1000 → 53 "hi".
    const CHAIN: &str = "6000000000 2a 0040 20010db8000100000000000000000010
        20010db8000200000000000000000020
        3c00 0104 00000000
        2c01 010c 000000000000000000000000
        1100 0001 deadbeef
        03e8 0035 000a 0000 6869";

    #[test]
    fn golden_extension_chain_is_walked() {
        let p = hex(CHAIN);
        let ip = Ipv6::new_checked(&p[..]).unwrap();
        assert_eq!(ip.next_header(), proto::HOP_BY_HOP);
        assert_eq!(ip.protocol(), proto::UDP);
        assert_eq!(ip.header_len(), 40 + 8 + 16 + 8);
        assert_eq!(ip.l4(), &hex("03e8 0035 000a 0000 6869")[..]);
        assert_eq!(ip.fragment(), Some(Fragment { offset: 0, more: true, id: 0xdead_beef }));
        assert!(ip.is_fragment() && !ip.is_later_fragment());
        assert_eq!(ip.ports(), Some((1000, 53)));
        assert_eq!(ip.segments_left_at(), None);
        assert!(!ip.authenticated());
        let head = ip.head().unwrap();

        // A later fragment: offset 185 (1480 bytes), its data right after the header.
        let mut later = p.clone();
        later[66..68].copy_from_slice(&(185u16 << 3).to_be_bytes());
        let ip = Ipv6::new_checked(&later[..]).unwrap();
        assert!(ip.is_later_fragment());
        assert_eq!((ip.protocol(), ip.header_len()), (proto::UDP, 72));
        assert_eq!((ip.ports(), ip.head(), ip.tcp_flags()), (None, None, 0));
        let ip = ip.with_head(head);
        assert_eq!(ip.ports(), Some((1000, 53)));
    }

    #[test]
    fn checked_view_rejects_bad_packets() {
        let good = hex(UDP_SENT);
        assert_eq!(Ipv6::new_checked(&good[..10]).unwrap_err(), Malformed::Truncated);
        assert_eq!(Ipv6::new_checked(&[][..]).unwrap_err(), Malformed::Truncated);
        assert_eq!(Ipv6::new_checked(&good[..good.len() - 1]).unwrap_err(), Malformed::Truncated);
        let mut v4 = good.clone();
        v4[0] = 0x45;
        assert_eq!(Ipv6::new_checked(&v4[..]).unwrap_err(), Malformed::Version(4));
        // Trailing bytes beyond the payload length are allowed (and ignored).
        let mut padded = good.clone();
        padded.extend_from_slice(&[0xee; 3]);
        let view = Ipv6::new_checked(&padded[..]).unwrap();
        assert_eq!((view.total_len(), view.l4().len()), (good.len(), 9));

        let (src, dst) = (addr("2001:db8::1"), addr("2001:db8::2"));
        let l4 = udp(1, 2, b"x");
        // An extension header longer than the packet.
        let mut long = packet(src, dst, &[(proto::DESTINATION_OPTIONS, 8)], proto::UDP, &l4);
        long[41] = 9;
        assert_eq!(Ipv6::new_checked(&long[..]).unwrap_err(), Malformed::Truncated);
        // A header chain that ends where the packet does, with its length byte missing.
        let mut cut = ipv6_packet(src, dst, 64, proto::ROUTING, &[proto::UDP]);
        assert_eq!(Ipv6::new_checked(&cut[..]).unwrap_err(), Malformed::Truncated);
        cut[6] = proto::FRAGMENT;
        assert_eq!(Ipv6::new_checked(&cut[..]).unwrap_err(), Malformed::Truncated);
        // Eight extension headers are walked, nine are too many.
        let eight = [(proto::DESTINATION_OPTIONS, 8); MAX_EXTENSION_HEADERS];
        let p = packet(src, dst, &eight, proto::UDP, &l4);
        assert_eq!(Ipv6::new_checked(&p[..]).unwrap().header_len(), 40 + 64);
        let nine = [(proto::DESTINATION_OPTIONS, 8); MAX_EXTENSION_HEADERS + 1];
        let p = packet(src, dst, &nine, proto::UDP, &l4);
        assert_eq!(Ipv6::new_checked(&p[..]).unwrap_err(), Malformed::TooManyExtensions);
        // Hop-by-Hop second: the pointer is the Next Header field that names it.
        let chain = [(proto::DESTINATION_OPTIONS, 16), (proto::HOP_BY_HOP, 8)];
        let p = packet(src, dst, &chain, proto::UDP, &l4);
        assert_eq!(Ipv6::new_checked(&p[..]).unwrap_err(), Malformed::ExtensionHeader(40));
        // An Authentication Header shorter than its fixed part.
        let mut p = packet(src, dst, &[(proto::AH, 12)], proto::UDP, &l4);
        p[41] = 0;
        assert_eq!(Ipv6::new_checked(&p[..]).unwrap_err(), Malformed::ExtensionHeader(41));
    }

    #[test]
    fn routing_ah_esp_and_no_next_header() {
        let (src, dst) = (addr("2001:db8::1"), addr("2001:db8::2"));
        let l4 = tcp_syn(1, 2);
        let chain = [(proto::HOP_BY_HOP, 8), (proto::ROUTING, 24), (proto::AH, 24)];
        let mut p = packet(src, dst, &chain, proto::TCP, &l4);
        let ip = Ipv6::new_checked(&p[..]).unwrap();
        assert_eq!((ip.protocol(), ip.header_len()), (proto::TCP, 40 + 8 + 24 + 24));
        assert!(ip.authenticated());
        assert_eq!(ip.segments_left_at(), None);
        assert_eq!(ip.tcp_flags(), 0x02);
        p[48 + 3] = 2; // two segments left
        assert_eq!(Ipv6::new_checked(&p[..]).unwrap().segments_left_at(), Some(51));

        let esp = packet(src, dst, &[(proto::DESTINATION_OPTIONS, 8)], proto::ESP, &[7; 24]);
        let ip = Ipv6::new_checked(&esp[..]).unwrap();
        assert_eq!((ip.protocol(), ip.header_len(), ip.ports()), (proto::ESP, 48, None));
        let none = ipv6_packet(src, dst, 64, proto::NO_NEXT_HEADER, &[1, 2, 3]);
        let ip = Ipv6::new_checked(&none[..]).unwrap();
        assert_eq!((ip.protocol(), ip.l4().len(), ip.head()), (59, 3, Some(Head::default())));
    }

    #[test]
    fn translation_keeps_every_checksum_valid() {
        let new = addr("2600:1f18::5");
        for (protocol, l4) in [
            (proto::UDP, udp(5000, 53, b"query")),
            (proto::TCP, tcp_syn(40000, 80)),
            (proto::ICMPV6, echo(icmp6::ECHO_REQUEST, 7, 1, b"odd")),
            (proto::UDP, udp(5000, 53, b"odd")),
        ] {
            for side in [Side::Src, Side::Dst] {
                let mut p = packet(
                    addr("2001:db8:1::10"),
                    addr("2001:db8:2::20"),
                    &[(proto::DESTINATION_OPTIONS, 8)],
                    protocol,
                    &l4,
                );
                let mut view = Ipv6::new_checked(&mut p[..]).unwrap();
                view.translate(side, new);
                view.decrement_hop_limit();
                let got = if side == Side::Src { view.src() } else { view.dst() };
                assert_eq!((got, view.hop_limit()), (new, 63));
                assert!(l4_ok(&p), "protocol {protocol}, {side:?}");
            }
        }
        // Hop limit 0 stays 0; a zero UDP checksum stays zero.
        let mut p = simple(proto::UDP, &udp(1, 2, b"x"));
        p[7] = 0;
        p[46..48].fill(0);
        let mut view = Ipv6::new_checked(&mut p[..]).unwrap();
        view.decrement_hop_limit();
        view.translate(Side::Src, new);
        assert_eq!((p[7], &p[46..48]), (0, &[0u8, 0][..]));
    }

    #[test]
    fn translating_an_error_fixes_the_quote() {
        // 2001:db8:1::10 sent UDP out as 2600:1f18::5 (rewritten); the answer's port
        // unreachable, translated back, must quote the original source.
        let mut sent = hex(UDP_SENT);
        Ipv6::new_checked(&mut sent[..]).unwrap().translate(Side::Src, addr("2600:1f18::5"));
        let view = Ipv6::new_checked(&sent[..]).unwrap();
        let mut out = [0u8; MIN_MTU];
        let len =
            icmp_error(&mut out, addr("2001:db8:2::1"), &view, icmp6::UNREACHABLE, 4, 0).unwrap();
        let mut error = out[..len].to_vec();
        Ipv6::new_checked(&mut error[..]).unwrap().translate(Side::Dst, addr("2001:db8:1::10"));
        assert_eq!(error, hex(PORT_UNREACHABLE));
    }

    #[test]
    fn errors_are_not_sent_where_rfc_4443_forbids() {
        let from = addr("2001:db8::1");
        let mut out = [0u8; 2 * MIN_MTU];
        let udp = udp(1, 2, b"x");
        let error = |out: &mut [u8], p: &[u8], kind, code| {
            icmp_error(out, from, &Ipv6::new_checked(p).unwrap(), kind, code, 1280)
        };
        for (src, dst, kind, code, answered) in [
            ("::", "2001:db8::2", icmp6::UNREACHABLE, 0, false),
            ("ff02::1", "2001:db8::2", icmp6::UNREACHABLE, 0, false),
            ("2001:db8::3", "ff02::1", icmp6::UNREACHABLE, 0, false),
            ("2001:db8::3", "ff02::1", icmp6::TIME_EXCEEDED, 0, false),
            ("2001:db8::3", "ff02::1", icmp6::PACKET_TOO_BIG, 0, true),
            ("2001:db8::3", "ff02::1", icmp6::PARAMETER_PROBLEM, 2, true),
            ("2001:db8::3", "2001:db8::2", icmp6::TIME_EXCEEDED, 0, true),
        ] {
            let p = packet(addr(src), addr(dst), &[], proto::UDP, &udp);
            let got = error(&mut out, &p, kind, code);
            assert_eq!(got.is_some(), answered, "{src} -> {dst}, type {kind}");
        }
        // A redirect, or a later fragment of ICMPv6 (its type unknown): no error. A
        // later fragment of UDP: yes, unlike IPv4.
        let redirect = simple(proto::ICMPV6, &[icmp6::REDIRECT, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(error(&mut out, &redirect, icmp6::TIME_EXCEEDED, 0), None);
        let later = |protocol| {
            let mut p =
                packet(from, addr("2001:db8::9"), &[(proto::FRAGMENT, 8)], protocol, &[0; 16]);
            p[42..44].copy_from_slice(&(8u16 << 3).to_be_bytes());
            p
        };
        assert_eq!(error(&mut out, &later(proto::ICMPV6), icmp6::TIME_EXCEEDED, 0), None);
        assert!(error(&mut out, &later(proto::UDP), icmp6::TIME_EXCEEDED, 0).is_some());

        // A big packet is quoted up to 1280 bytes in all; a small buffer gets nothing.
        let big = simple(proto::UDP, &crate::wire::tests::udp(1, 2, &[0x5a; 3000]));
        let len = error(&mut out, &big, icmp6::PACKET_TOO_BIG, 0).unwrap();
        assert_eq!(len, MIN_MTU);
        assert_eq!(&out[48..len], &big[..MIN_MTU - 48]);
        assert!(l4_ok(&out[..len]));
        assert_eq!(u32::from_be_bytes([out[44], out[45], out[46], out[47]]), 1280);
        assert_eq!(error(&mut out[..MIN_MTU - 1], &big, icmp6::PACKET_TOO_BIG, 0), None);
    }

    #[test]
    fn partial_checksums_survive_rewrites() {
        for protocol in [proto::TCP, proto::UDP] {
            let l4 = if protocol == proto::TCP { tcp_syn(1, 2) } else { udp(1, 2, b"abc") };
            let mut p = simple(protocol, &l4);
            // Make it partial: the folded pseudo-header sum, uninverted.
            let at = 40 + checksum_at(protocol).unwrap();
            let ip = Ipv6::new_checked(&p[..]).unwrap();
            let partial = fold(pseudo_header(ip.src(), ip.dst(), l4.len() as u32, protocol));
            p[at..at + 2].copy_from_slice(&partial.to_be_bytes());
            let offload = Offload { partial_checksum: true, gso_size: 0 };
            let mut view = Ipv6::new_checked(&mut p[..]).unwrap().with_offload(offload);
            assert_eq!(view.offload(), offload);
            view.translate(Side::Src, addr("2600::1"));
            view.translate(Side::Dst, addr("2600::2"));
            // What the kernel does before sending: sum from the L4 header on, inverted.
            let mut check = !fold(sum(&p[40..], 0));
            if protocol == proto::UDP && check == 0 {
                check = 0xffff;
            }
            p[at..at + 2].copy_from_slice(&check.to_be_bytes());
            assert!(l4_ok(&p), "protocol {protocol}");
        }
    }

    /// Any bytes, made more often to look like IPv6 (version, payload length, a first
    /// Next Header from those the walk knows).
    pub(crate) fn looks_like_ipv6(mut bytes: Vec<u8>, shape: bool, next: usize) -> Vec<u8> {
        const NEXT: [u8; 11] = [0, 6, 17, 43, 44, 50, 51, 58, 59, 60, 99];
        if shape && bytes.len() >= IPV6_HEADER {
            bytes[0] = 0x60 | (bytes[0] & 0x0f);
            let len = (bytes.len() - IPV6_HEADER) as u16;
            bytes[4..6].copy_from_slice(&len.to_be_bytes());
            bytes[6] = NEXT[next % NEXT.len()];
        }
        bytes
    }

    /// Every accessor, builder and mutator of an accepted packet, for panics.
    fn exercise(bytes: &[u8]) {
        let Ok(ip) = Ipv6::new_checked(bytes) else {
            return;
        };
        let _ = (ip.src(), ip.dst(), ip.traffic_class(), ip.flow_label(), ip.next_header());
        let _ = (ip.hop_limit(), ip.protocol(), ip.l4(), ip.ports(), ip.tcp_flags());
        let _ = (ip.icmp_type(), ip.icmp_code(), ip.icmp_quoted(), ip.head());
        let _ = (ip.fragment(), ip.is_fragment(), ip.segments_left_at(), ip.authenticated());
        let with =
            ip.reborrow().with_head(Head { sport: 1, dport: 2, icmp_type: 128, icmp_code: 0 });
        let _ = (with.ports(), with.icmp_type(), with.icmp_code());
        let mut out = [0u8; MIN_MTU];
        let _ = echo_reply(&mut out, &ip);
        if let Some(len) = icmp_error(&mut out, addr("2001:db8::1"), &ip, 3, 0, 0) {
            assert!(len <= MIN_MTU && l4_ok(&out[..len]));
        }
        let mut copy = bytes.to_vec();
        let mut view = Ipv6::new_checked(&mut copy[..]).unwrap();
        view.translate(Side::Src, addr("2001:db8::7"));
        view.translate(Side::Dst, addr("2001:db8::8"));
        view.decrement_hop_limit();
        let quoted = bytes.get(48..).unwrap_or_default();
        if let Ok(q) = Ipv6::new_quoted(quoted) {
            let _ = (q.l4(), q.ports(), q.head(), q.total_len());
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(
            bytes in collection::vec(any::<u8>(), 0..200),
            shape in any::<bool>(),
            next in any::<usize>(),
        ) {
            exercise(&looks_like_ipv6(bytes, shape, next));
        }

        /// Chains of random valid headers and lengths are walked to the upper layer.
        #[test]
        fn extension_chains_are_walked_to_the_upper_layer(
            headers in collection::vec((0usize..4, 1usize..6), 0..=MAX_EXTENSION_HEADERS),
            hop_by_hop in any::<bool>(),
            payload in collection::vec(any::<u8>(), 0..40),
        ) {
            let mut chain: Vec<(u8, usize)> = headers
                .iter()
                .map(|&(kind, units)| match kind {
                    0 => (proto::DESTINATION_OPTIONS, units * 8),
                    1 => (proto::ROUTING, units * 8),
                    2 => (proto::AH, 8 + units * 4),
                    _ => (proto::FRAGMENT, 8),
                })
                .collect();
            if hop_by_hop && !chain.is_empty() {
                chain[0] = (proto::HOP_BY_HOP, chain[0].1.max(8) / 8 * 8);
            }
            let l4 = udp(7, 9, &payload);
            let p = packet(addr("2001:db8::1"), addr("2001:db8::2"), &chain, proto::UDP, &l4);
            let ip = Ipv6::new_checked(&p[..]).unwrap();
            let headers: usize = chain.iter().map(|&(_, len)| len).sum();
            prop_assert_eq!(ip.header_len(), IPV6_HEADER + headers);
            prop_assert_eq!(ip.protocol(), proto::UDP);
            prop_assert_eq!(ip.l4().len(), l4.len());
            prop_assert_eq!(&ip.l4()[8..], &payload[..]);
            prop_assert_eq!(ip.ports(), Some((7, 9)));
            prop_assert!(l4_ok(&p));
        }

        /// RFC 1624 updates give what recomputing from scratch gives, for every
        /// protocol, side, address and payload (odd lengths included).
        #[test]
        fn incremental_checksums_equal_full_recomputation(
            src in any::<u128>(),
            dst in any::<u128>(),
            new in any::<u128>(),
            kind in 0usize..3,
            options in any::<bool>(),
            side_src in any::<bool>(),
            payload in collection::vec(any::<u8>(), 0..64),
        ) {
            let (protocol, l4) = match kind {
                0 => (proto::UDP, udp(1234, 80, &payload)),
                1 => (proto::TCP, [tcp_syn(1234, 80), payload.clone()].concat()),
                _ => (proto::ICMPV6, echo(icmp6::ECHO_REPLY, 1, 2, &payload)),
            };
            let extensions: &[(u8, usize)] =
                if options { &[(proto::HOP_BY_HOP, 8), (proto::DESTINATION_OPTIONS, 16)] } else { &[] };
            let (src, dst) = (Ipv6Addr::from_bits(src), Ipv6Addr::from_bits(dst));
            let mut p = packet(src, dst, extensions, protocol, &l4);
            let side = if side_src { Side::Src } else { Side::Dst };
            Ipv6::new_checked(&mut p[..]).unwrap().translate(side, Ipv6Addr::from_bits(new));
            let mut full = p.clone();
            fix_l4(&mut full);
            let at = Ipv6::new_checked(&p[..]).unwrap().header_len() + checksum_at(protocol).unwrap();
            let (got, want) = (&p[at..at + 2], &full[at..at + 2]);
            // Equal as one's-complement numbers (0x0000 and 0xffff are both zero).
            let zero = |c: &[u8]| c == [0, 0] || c == [0xff, 0xff];
            prop_assert!(got == want || (zero(got) && zero(want)));
            prop_assert!(l4_ok(&p));
            let at = if side_src { 8 } else { 24 };
            prop_assert_eq!(&p[at..at + 16], &new.to_be_bytes()[..]);
        }
    }
}
