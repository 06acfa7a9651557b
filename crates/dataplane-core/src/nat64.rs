//! NAT64 header translation: IPv6 ↔ IPv4 per RFC 7915 (SIIT), and the IPv4-embedded
//! IPv6 addresses of RFC 6052.
//!
//! An AWS NAT gateway does NAT64 for IPv6-only subnets: a packet to
//! `64:ff9b::a.b.c.d` (the well-known prefix, which the Route 53 Resolver's DNS64
//! synthesizes) leaves as IPv4 to `a.b.c.d` from the gateway's private IPv4 address,
//! and the answer comes back translated the other way. The stateful part — which port
//! of the gateway's address a flow gets — is the connection tracker's; this module only
//! rewrites headers, given the addresses the packet leaves with:
//!
//! * [`six_to_four`] and [`four_to_six`] read a checked packet and write its
//!   translation into the caller's buffer: no allocation, no panic, a typed
//!   [`Untranslatable`] for everything RFC 7915 drops or this translator cannot do.
//! * TCP and UDP checksums are patched for the pseudo-header change only (RFC 1624),
//!   which is right for the first fragment of a datagram too; ICMP ↔ ICMPv6 echo
//!   checksums are patched for the type change and the pseudo-header ICMPv6 has and
//!   ICMP has not; ICMP errors are verified, rebuilt with their quoted packet
//!   translated too, and summed afresh.
//! * Like AWS, and unlike RFC 6052 §3.1, the well-known prefix may embed any IPv4
//!   address, private ones included: a NAT gateway's NAT64 reaches private IPv4
//!   networks too.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{self, IPV4_HEADER, Ipv4, Offload, checksum, fold, icmp, sum, update16};
use crate::wire6::{self, Fragment, IPV6_HEADER, Ipv6, MIN_MTU, icmp6, pseudo_header};

/// Don't-fragment, more-fragments and offset bits of the IPv4 flags/offset word.
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;
/// The Fragment header a translation to IPv6 adds to an IPv4 fragment.
const FRAGMENT_HEADER: usize = 8;
/// The smallest MTU an IPv4 link has (RFC 791).
const MIN_MTU4: u32 = 68;

/// An IPv6 prefix of 96 bits that embeds IPv4 addresses in its last 32 (RFC 6052 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix96(u128);

impl Prefix96 {
    /// `64:ff9b::/96`, the well-known prefix (RFC 6052 §2.1): what DNS64 synthesizes
    /// and what a NAT gateway translates.
    pub const WELL_KNOWN: Prefix96 = Prefix96(0x0064_ff9b << 96);

    /// The prefix's bits (its last 32 zero): an embedded address is these `|` the IPv4
    /// address's.
    pub const fn bits(self) -> u128 {
        self.0
    }

    /// A network-specific prefix: `None` unless its last 32 bits are zero and so are
    /// bits 64 to 71, which RFC 6052 §2.2 reserves (the "u" octet).
    pub fn new(prefix: Ipv6Addr) -> Option<Prefix96> {
        let bits = prefix.to_bits();
        if bits & 0xffff_ffff != 0 || (bits >> 56) & 0xff != 0 {
            return None;
        }
        Some(Prefix96(bits))
    }

    /// The prefix as an address (its last 32 bits zero).
    pub fn addr(self) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.0)
    }

    /// Whether `addr` is in the prefix.
    pub fn contains(self, addr: Ipv6Addr) -> bool {
        addr.to_bits() >> 32 == self.0 >> 32
    }

    /// The IPv6 address that stands for `v4`.
    pub fn embed(self, v4: Ipv4Addr) -> Ipv6Addr {
        Ipv6Addr::from_bits(self.0 | u128::from(v4.to_bits()))
    }

    /// The IPv4 address `addr` stands for, if it is in the prefix.
    pub fn extract(self, addr: Ipv6Addr) -> Option<Ipv4Addr> {
        self.contains(addr).then(|| Ipv4Addr::from_bits(addr.to_bits() as u32))
    }
}

/// The IPv6 address that stands for `v4` under `prefix` (RFC 6052 §2.2, /96).
pub fn embed(prefix: Prefix96, v4: Ipv4Addr) -> Ipv6Addr {
    prefix.embed(v4)
}

/// The IPv4 address `addr` embeds under the well-known prefix `64:ff9b::/96`; `None`
/// for any other address. [`Prefix96::extract`] for a network-specific prefix.
pub fn extract(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    Prefix96::WELL_KNOWN.extract(addr)
}

/// Why a packet is not translated. Each is a drop the caller counts; only
/// [`Untranslatable::SegmentsLeft`] and [`Untranslatable::SourceRoute`] call for an
/// error back to the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Untranslatable {
    /// Not a checked packet of its version, an upper-layer header cut short, an ICMP
    /// error with a wrong checksum or an unreadable quote.
    Malformed,
    /// Not TCP, UDP or ICMP — all a NAT gateway carries — or protected by an
    /// Authentication Header, whose integrity check covers the addresses.
    Protocol(u8),
    /// An ICMP message RFC 7915 §4.2 and §5.2 drop: neighbour discovery, MLD,
    /// timestamps, redirects, unknown types, codes with no counterpart, a Parameter
    /// Problem whose pointer has none, an error quoting an error.
    IcmpType {
        /// The type.
        kind: u8,
        /// The code.
        code: u8,
    },
    /// A Routing header with segments left (RFC 7915 §5.1): the packet is not at its
    /// last hop. The caller should answer with an ICMPv6 Parameter Problem, code 0,
    /// pointing at `pointer`.
    SegmentsLeft {
        /// Offset of the Segments Left field in the packet.
        pointer: u32,
    },
    /// An IPv4 source-route option not yet used up (RFC 7915 §4.1). The caller should
    /// answer with ICMP Destination Unreachable, code 5 (source route failed).
    SourceRoute,
    /// A fragment whose checksum needs the whole datagram: ICMP (ICMPv6's checksum
    /// covers a pseudo-header with the whole message's length), or UDP without a
    /// checksum from IPv4 (RFC 7915 §4.5: it must be computed, over every fragment).
    NeedsReassembly,
    /// The translation does not fit in `out`, or in a packet. (An ICMP error's quote
    /// is cut to fit instead, as long as the headers do.)
    TooBig,
}

/// The sum of two IPv4 addresses: the part of a pseudo-header translation changes.
fn sum4(src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
    sum(&src.octets(), sum(&dst.octets(), 0))
}

/// The sum of two IPv6 addresses.
fn sum6(src: Ipv6Addr, dst: Ipv6Addr) -> u32 {
    sum(&src.octets(), sum(&dst.octets(), 0))
}

/// RFC 1624 for a pseudo-header: `check` with the words summing to `old` taken out and
/// those summing to `new` put in.
fn reseat(check: u16, old: u32, new: u32) -> u16 {
    update16(check, fold(old), fold(new))
}

/// Patches the TCP or UDP checksum at the start of `l4` for a pseudo-header whose
/// addresses summed to `old` and now sum to `new` (the protocol and length count the
/// same in both versions). A zero UDP checksum stays zero; a computed zero is sent as
/// 0xffff. `false` when the checksum field is cut off.
fn adjust_transport(l4: &mut [u8], protocol: u8, old: u32, new: u32) -> bool {
    adjust_checksum(l4, protocol, old, new, false)
}

/// [`adjust_transport`], or with `partial` for a checksum left to the device
/// ([`Offload::partial_checksum`]): the field holds the pseudo-header's uninverted sum,
/// which takes the change with the opposite sign, and no zero is special.
fn adjust_checksum(l4: &mut [u8], protocol: u8, old: u32, new: u32, partial: bool) -> bool {
    let udp = protocol == wire::proto::UDP;
    let at = if udp { 6 } else { 16 };
    let Some(field) = l4.get_mut(at..at + 2) else {
        return false;
    };
    let check = u16::from_be_bytes([field[0], field[1]]);
    if partial {
        field.copy_from_slice(&reseat(check, new, old).to_be_bytes());
        return true;
    }
    if udp && check == 0 {
        return true;
    }
    let mut check = reseat(check, old, new);
    if udp && check == 0 {
        check = 0xffff;
    }
    field.copy_from_slice(&check.to_be_bytes());
    true
}

/// Turns the echo request or reply at the start of `msg` into the other version's, in
/// place: the type, and the checksum for it and for the pseudo-header sum `old` taken
/// out and `new` put in (one of them 0: ICMP has none). A checksum cut off is left.
fn convert_echo(msg: &mut [u8], kind: u8, old: u32, new: u32) {
    let Some(&[old_kind, code]) = msg.first_chunk::<2>() else {
        return;
    };
    msg[0] = kind;
    if let Some(field) = msg.get_mut(2..4) {
        let check = u16::from_be_bytes([field[0], field[1]]);
        let check = update16(
            reseat(check, old, new),
            u16::from_be_bytes([old_kind, code]),
            u16::from_be_bytes([kind, code]),
        );
        field.copy_from_slice(&check.to_be_bytes());
    }
}

/// Writes a 20-byte IPv4 header with its checksum into `out`: identification and
/// flags from `fragment` (RFC 7915 §5.1.1), else identification 0 and DF (§5.1: IPv6
/// routers do not fragment, so neither may IPv4 ones).
#[allow(clippy::too_many_arguments)]
fn put_ipv4(
    out: &mut [u8],
    tos: u8,
    total: u16,
    fragment: Option<Fragment>,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) {
    let (id, flags) = match fragment {
        Some(f) => (f.id as u16, (f.offset & OFFSET_MASK) | if f.more { MF } else { 0 }),
        None => (0, DF),
    };
    let h = &mut out[..IPV4_HEADER];
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&flags.to_be_bytes());
    h[8] = ttl;
    h[9] = protocol;
    h[10..12].fill(0);
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let check = checksum(h);
    h[10..12].copy_from_slice(&check.to_be_bytes());
}

/// Writes an IPv6 header into `out`, and after it the Fragment header of `fragment`
/// if any (RFC 7915 §4.1: the IPv4 identification in its low 16 bits).
#[allow(clippy::too_many_arguments)]
fn put_ipv6(
    out: &mut [u8],
    tos: u8,
    payload_len: u16,
    next: u8,
    fragment: Option<Fragment>,
    ttl: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) {
    let Some(f) = fragment else {
        wire6::put_header(out, tos, payload_len, next, ttl, src, dst);
        return;
    };
    wire6::put_header(out, tos, payload_len, wire6::proto::FRAGMENT, ttl, src, dst);
    let h = &mut out[IPV6_HEADER..IPV6_HEADER + FRAGMENT_HEADER];
    h[0] = next;
    h[1] = 0;
    h[2..4].copy_from_slice(&((f.offset << 3) | u16::from(f.more)).to_be_bytes());
    h[4..8].copy_from_slice(&f.id.to_be_bytes());
}

/// The IPv4 protocol for an IPv6 packet's upper layer.
fn protocol_6to4(ip: &Ipv6<&[u8]>) -> Result<u8, Untranslatable> {
    if ip.authenticated() {
        return Err(Untranslatable::Protocol(wire6::proto::AH));
    }
    match ip.protocol() {
        wire6::proto::TCP => Ok(wire::proto::TCP),
        wire6::proto::UDP => Ok(wire::proto::UDP),
        wire6::proto::ICMPV6 => Ok(wire::proto::ICMP),
        other => Err(Untranslatable::Protocol(other)),
    }
}

/// The IPv6 Next Header for an IPv4 protocol.
fn protocol_4to6(protocol: u8) -> Result<u8, Untranslatable> {
    match protocol {
        wire::proto::TCP => Ok(wire6::proto::TCP),
        wire::proto::UDP => Ok(wire6::proto::UDP),
        wire::proto::ICMP => Ok(wire6::proto::ICMPV6),
        other => Err(Untranslatable::Protocol(other)),
    }
}

/// Translates `packet`, a whole IPv6 packet (RFC 7915 §5), into an IPv4 packet from
/// `src4` to `dst4` written into `out`, and returns its length.
///
/// TOS is the traffic class, TTL the hop limit (the caller decrements it first);
/// without a Fragment header the identification is 0 and DF is set, with one its
/// identification's low 16 bits, offset and M flag carry over. Hop-by-Hop, Destination
/// Options and spent Routing headers are dropped. TCP and UDP checksums are patched;
/// echo requests and replies become ICMP's; ICMPv6 errors become ICMP errors with the
/// quoted packet translated too — as the reverse flow, from `dst4` to `src4` — and the
/// Packet Too Big MTU less 20 (28 if the packet in error had a Fragment header).
pub fn six_to_four(
    packet: &[u8],
    src4: Ipv4Addr,
    dst4: Ipv4Addr,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    six_to_four_offloaded(packet, src4, dst4, Offload::NONE, out)
}

/// [`six_to_four`] for a packet whose TCP or UDP checksum, or segmentation, is left to
/// the device (`offload`, from its virtio-net header): a partial checksum is moved to
/// the IPv4 pseudo-header; a GSO super-packet stays one, its segments' size unchanged
/// (its virtio-net header is [`crate::vnet::translated`]).
pub fn six_to_four_offloaded(
    packet: &[u8],
    src4: Ipv4Addr,
    dst4: Ipv4Addr,
    offload: Offload,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    let ip = Ipv6::new_checked(packet).map_err(|_| Untranslatable::Malformed)?;
    if let Some(at) = ip.segments_left_at() {
        return Err(Untranslatable::SegmentsLeft { pointer: at as u32 });
    }
    let protocol = protocol_6to4(&ip)?;
    let (header, body) = out.split_at_mut_checked(IPV4_HEADER).ok_or(Untranslatable::TooBig)?;
    let len = if protocol == wire::proto::ICMP {
        if ip.is_fragment() {
            return Err(Untranslatable::NeedsReassembly);
        }
        icmp_6to4(&ip, src4, dst4, body)?
    } else {
        let l4 = ip.l4();
        let body = body.get_mut(..l4.len()).ok_or(Untranslatable::TooBig)?;
        body.copy_from_slice(l4);
        if !ip.is_later_fragment()
            && !adjust_checksum(
                body,
                protocol,
                sum6(ip.src(), ip.dst()),
                sum4(src4, dst4),
                offload.partial_checksum,
            )
        {
            return Err(Untranslatable::Malformed);
        }
        l4.len()
    };
    let total = u16::try_from(IPV4_HEADER + len).map_err(|_| Untranslatable::TooBig)?;
    put_ipv4(
        header,
        ip.traffic_class(),
        total,
        ip.fragment(),
        ip.hop_limit(),
        protocol,
        src4,
        dst4,
    );
    Ok(usize::from(total))
}

/// Translates the ICMPv6 message of `ip` (not a fragment) into an ICMP one in `out`.
fn icmp_6to4(
    ip: &Ipv6<&[u8]>,
    src4: Ipv4Addr,
    dst4: Ipv4Addr,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    let msg = ip.l4();
    let Some(&[kind, code, _, _, a, b, c, d]) = msg.first_chunk::<8>() else {
        return Err(Untranslatable::Malformed);
    };
    let pseudo = pseudo_header(ip.src(), ip.dst(), msg.len() as u32, wire6::proto::ICMPV6);
    let echo = match kind {
        icmp6::ECHO_REQUEST => Some(icmp::ECHO_REQUEST),
        icmp6::ECHO_REPLY => Some(icmp::ECHO_REPLY),
        _ => None,
    };
    if let Some(echo) = echo {
        let out = out.get_mut(..msg.len()).ok_or(Untranslatable::TooBig)?;
        out.copy_from_slice(msg);
        convert_echo(out, echo, pseudo, 0);
        return Ok(msg.len());
    }
    let drop = Untranslatable::IcmpType { kind, code };
    if !icmp6::is_error(kind) {
        return Err(drop);
    }
    if fold(sum(msg, pseudo)) != 0xffff {
        return Err(Untranslatable::Malformed);
    }
    let inner = Ipv6::new_quoted(&msg[8..]).map_err(|_| Untranslatable::Malformed)?;
    let rest = u32::from_be_bytes([a, b, c, d]);
    let (kind4, code4, rest4) = match (kind, code) {
        (
            icmp6::UNREACHABLE,
            icmp6::NO_ROUTE | icmp6::BEYOND_SCOPE | icmp6::ADDRESS_UNREACHABLE,
        ) => (icmp::UNREACHABLE, 1, 0),
        (icmp6::UNREACHABLE, icmp6::ADMIN_PROHIBITED) => (icmp::UNREACHABLE, 10, 0),
        (icmp6::UNREACHABLE, icmp6::PORT_UNREACHABLE) => (icmp::UNREACHABLE, 3, 0),
        (icmp6::PACKET_TOO_BIG, _) => {
            let overhead = if inner.fragment().is_some() { 28 } else { 20 };
            let mtu = rest.saturating_sub(overhead).clamp(MIN_MTU4, 0xffff);
            (icmp::UNREACHABLE, icmp::FRAG_NEEDED, mtu)
        }
        (icmp6::TIME_EXCEEDED, _) => (icmp::TIME_EXCEEDED, code, 0),
        (icmp6::PARAMETER_PROBLEM, icmp6::ERRONEOUS_HEADER) => {
            let pointer = pointer_6to4(rest).ok_or(drop)?;
            (icmp::PARAMETER_PROBLEM, 0, u32::from(pointer) << 24)
        }
        (icmp6::PARAMETER_PROBLEM, icmp6::UNRECOGNIZED_NEXT_HEADER) => (icmp::UNREACHABLE, 2, 0),
        _ => return Err(drop),
    };
    let (head, body) = out.split_at_mut_checked(8).ok_or(Untranslatable::TooBig)?;
    let quoted = quote_6to4(&inner, dst4, src4, body)?;
    head[0] = kind4;
    head[1] = code4;
    head[2..4].fill(0);
    head[4..8].copy_from_slice(&rest4.to_be_bytes());
    let len = 8 + quoted;
    let check = checksum(&out[..len]);
    out[2..4].copy_from_slice(&check.to_be_bytes());
    Ok(len)
}

/// Translates the IPv6 packet quoted in an ICMPv6 error (perhaps cut short) into an
/// IPv4 one from `src4` to `dst4` in `out`; lengths stay those of the packet it was.
fn quote_6to4(
    inner: &Ipv6<&[u8]>,
    src4: Ipv4Addr,
    dst4: Ipv4Addr,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    let protocol = protocol_6to4(inner)?;
    let l4 = inner.l4();
    let out = out.get_mut(..IPV4_HEADER + l4.len()).ok_or(Untranslatable::TooBig)?;
    let (header, body) = out.split_at_mut(IPV4_HEADER);
    body.copy_from_slice(l4);
    // What the packet's upper layer was, whole; headers never run past it.
    let upper_len = inner.total_len() - inner.header_len();
    if !inner.is_later_fragment() {
        match body.first().copied() {
            _ if protocol != wire::proto::ICMP => {
                adjust_transport(body, protocol, sum6(inner.src(), inner.dst()), sum4(src4, dst4));
            }
            Some(kind @ (icmp6::ECHO_REQUEST | icmp6::ECHO_REPLY)) => {
                let echo =
                    if kind == icmp6::ECHO_REQUEST { icmp::ECHO_REQUEST } else { icmp::ECHO_REPLY };
                let pseudo =
                    pseudo_header(inner.src(), inner.dst(), upper_len as u32, wire6::proto::ICMPV6);
                convert_echo(body, echo, pseudo, 0);
            }
            Some(kind) => return Err(Untranslatable::IcmpType { kind, code: inner.icmp_code() }),
            None => {}
        }
    }
    let total = (IPV4_HEADER + upper_len).min(usize::from(u16::MAX)) as u16;
    let (tos, ttl, fragment) = (inner.traffic_class(), inner.hop_limit(), inner.fragment());
    put_ipv4(header, tos, total, fragment, ttl, protocol, src4, dst4);
    Ok(out.len())
}

/// RFC 7915 §5.2, Figure 6: the IPv4 header octet for an IPv6 header octet a
/// Parameter Problem points at (`None`: the flow label, or past the fixed header).
fn pointer_6to4(pointer: u32) -> Option<u8> {
    Some(match pointer {
        0 => 0,
        1 => 1,
        4 | 5 => 2,
        6 => 9,
        7 => 8,
        8..=23 => 12,
        24..=39 => 16,
        _ => return None,
    })
}

/// RFC 7915 §4.2, Figure 3: the IPv6 header octet for an IPv4 header octet a
/// Parameter Problem points at (`None`: identification, flags, checksum, options).
fn pointer_4to6(pointer: u8) -> Option<u32> {
    Some(match pointer {
        0 => 0,
        1 => 1,
        2 | 3 => 4,
        8 => 7,
        9 => 6,
        12..=15 => 8,
        16..=19 => 24,
        _ => return None,
    })
}

/// The fragment fields of an IPv4 header at the start of `header`, if it is a fragment.
fn fragment4(header: &[u8]) -> Option<Fragment> {
    let word = u16::from_be_bytes([header[6], header[7]]);
    (word & (MF | OFFSET_MASK) != 0).then(|| Fragment {
        offset: word & OFFSET_MASK,
        more: word & MF != 0,
        id: u32::from(u16::from_be_bytes([header[4], header[5]])),
    })
}

/// Whether IPv4 `options` hold a loose or strict source route not yet used up (its
/// pointer within the option). Options that do not parse end the walk: RFC 7915 §4.1
/// ignores options.
fn source_routed(options: &[u8]) -> bool {
    const LSRR: u8 = 131;
    const SSRR: u8 = 137;
    let mut at = 0;
    while at < options.len() {
        match options[at] {
            0 => return false,
            1 => at += 1,
            kind => {
                let Some(&len) = options.get(at + 1) else {
                    return false;
                };
                let len = usize::from(len);
                if len < 2 || at + len > options.len() {
                    return false;
                }
                if matches!(kind, LSRR | SSRR) && len >= 3 && usize::from(options[at + 2]) <= len {
                    return true;
                }
                at += len;
            }
        }
    }
    false
}

/// Translates `packet`, a whole IPv4 packet (RFC 7915 §4), into an IPv6 packet from
/// `src6` to `dst6` written into `out`, and returns its length.
///
/// The traffic class is the TOS, the hop limit the TTL (the caller decrements it
/// first), the flow label 0; a fragment gets a Fragment header with its offset, MF and
/// identification. Options are dropped (a source route not used up refuses the
/// packet). TCP and UDP checksums are patched, a zero UDP checksum is computed; echo
/// requests and replies become ICMPv6's; ICMP errors become ICMPv6 errors of at most
/// 1280 bytes with the quoted packet translated too — as the reverse flow, from `dst6`
/// to the address under `src6`'s /96 prefix that embeds the quoted destination — and
/// a Fragmentation Needed MTU plus 20 (28 for a fragment, RFC 1191's plateau below the
/// quoted length if it is 0), at least 1280.
pub fn four_to_six(
    packet: &[u8],
    src6: Ipv6Addr,
    dst6: Ipv6Addr,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    four_to_six_offloaded(packet, src6, dst6, Offload::NONE, out)
}

/// [`four_to_six`] for a packet whose TCP or UDP checksum, or segmentation, is left to
/// the device (see [`six_to_four_offloaded`]).
pub fn four_to_six_offloaded(
    packet: &[u8],
    src6: Ipv6Addr,
    dst6: Ipv6Addr,
    offload: Offload,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    let ip = Ipv4::new_checked(packet).map_err(|_| Untranslatable::Malformed)?;
    if source_routed(&packet[IPV4_HEADER..ip.header_len()]) {
        return Err(Untranslatable::SourceRoute);
    }
    let protocol = ip.protocol();
    let next = protocol_4to6(protocol)?;
    let fragment = fragment4(packet);
    let ext = if fragment.is_some() { FRAGMENT_HEADER } else { 0 };
    let (header, body) =
        out.split_at_mut_checked(IPV6_HEADER + ext).ok_or(Untranslatable::TooBig)?;
    let len = if protocol == wire::proto::ICMP {
        if ip.is_fragment() {
            return Err(Untranslatable::NeedsReassembly);
        }
        icmp_4to6(&ip, src6, dst6, body)?
    } else {
        let l4 = ip.payload();
        let body = body.get_mut(..l4.len()).ok_or(Untranslatable::TooBig)?;
        body.copy_from_slice(l4);
        if !ip.is_later_fragment() {
            transport_4to6(&ip, src6, dst6, offload.partial_checksum, body)?;
        }
        l4.len()
    };
    let payload_len = u16::try_from(ext + len).map_err(|_| Untranslatable::TooBig)?;
    put_ipv6(header, packet[1], payload_len, next, fragment, ip.ttl(), src6, dst6);
    Ok(IPV6_HEADER + usize::from(payload_len))
}

/// Fixes the TCP or UDP checksum of `l4` (a copy of `ip`'s, not a later fragment) for
/// the IPv6 pseudo-header; a zero UDP checksum is computed afresh (RFC 7915 §4.5).
fn transport_4to6(
    ip: &Ipv4<&[u8]>,
    src6: Ipv6Addr,
    dst6: Ipv6Addr,
    partial: bool,
    l4: &mut [u8],
) -> Result<(), Untranslatable> {
    let protocol = ip.protocol();
    if !partial && protocol == wire::proto::UDP && l4.get(6..8) == Some(&[0, 0]) {
        if ip.is_fragment() {
            return Err(Untranslatable::NeedsReassembly);
        }
        let pseudo = pseudo_header(src6, dst6, l4.len() as u32, wire6::proto::UDP);
        let check = match !fold(sum(l4, pseudo)) {
            0 => 0xffff,
            check => check,
        };
        l4[6..8].copy_from_slice(&check.to_be_bytes());
        return Ok(());
    }
    if adjust_checksum(l4, protocol, sum4(ip.src(), ip.dst()), sum6(src6, dst6), partial) {
        Ok(())
    } else {
        Err(Untranslatable::Malformed)
    }
}

/// RFC 1191 §7's plateaus: the MTU to assume below a packet that did not fit, when the
/// router that refused it did not say.
fn plateau(total_len: u16) -> u32 {
    const PLATEAUS: [u16; 10] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];
    PLATEAUS.iter().copied().find(|&p| p < total_len).map_or(MIN_MTU4, u32::from)
}

/// Translates the ICMP message of `ip` (not a fragment) into an ICMPv6 one in `out`.
fn icmp_4to6(
    ip: &Ipv4<&[u8]>,
    src6: Ipv6Addr,
    dst6: Ipv6Addr,
    out: &mut [u8],
) -> Result<usize, Untranslatable> {
    let msg = ip.payload();
    let Some(&[kind, code, _, _, pointer, _, mtu_high, mtu_low]) = msg.first_chunk::<8>() else {
        return Err(Untranslatable::Malformed);
    };
    let echo = match kind {
        icmp::ECHO_REQUEST => Some(icmp6::ECHO_REQUEST),
        icmp::ECHO_REPLY => Some(icmp6::ECHO_REPLY),
        _ => None,
    };
    if let Some(echo) = echo {
        let out = out.get_mut(..msg.len()).ok_or(Untranslatable::TooBig)?;
        out.copy_from_slice(msg);
        let pseudo = pseudo_header(src6, dst6, msg.len() as u32, wire6::proto::ICMPV6);
        convert_echo(out, echo, 0, pseudo);
        return Ok(msg.len());
    }
    let drop = Untranslatable::IcmpType { kind, code };
    if !icmp::is_error(kind) {
        return Err(drop);
    }
    if checksum(msg) != 0 {
        return Err(Untranslatable::Malformed);
    }
    let inner = Quoted4::parse(&msg[8..])?;
    let (kind6, code6, rest6) = match (kind, code) {
        (icmp::UNREACHABLE, 0 | 1 | 5..=8 | 11 | 12) => (icmp6::UNREACHABLE, icmp6::NO_ROUTE, 0),
        (icmp::UNREACHABLE, 2) => (icmp6::PARAMETER_PROBLEM, icmp6::UNRECOGNIZED_NEXT_HEADER, 6),
        (icmp::UNREACHABLE, 3) => (icmp6::UNREACHABLE, icmp6::PORT_UNREACHABLE, 0),
        (icmp::UNREACHABLE, icmp::FRAG_NEEDED) => {
            let mtu = match u16::from_be_bytes([mtu_high, mtu_low]) {
                0 => plateau(inner.total_len),
                mtu => u32::from(mtu),
            };
            let overhead = if inner.fragment.is_some() { 28 } else { 20 };
            (icmp6::PACKET_TOO_BIG, 0, (mtu + overhead).max(MIN_MTU as u32))
        }
        (icmp::UNREACHABLE, 9 | 10 | 13 | 15) => (icmp6::UNREACHABLE, icmp6::ADMIN_PROHIBITED, 0),
        (icmp::TIME_EXCEEDED, _) => (icmp6::TIME_EXCEEDED, code, 0),
        (icmp::PARAMETER_PROBLEM, 0 | 2) => {
            (icmp6::PARAMETER_PROBLEM, icmp6::ERRONEOUS_HEADER, pointer_4to6(pointer).ok_or(drop)?)
        }
        _ => return Err(drop),
    };
    // The error stays within the minimum MTU (RFC 4443 §2.4 (c)).
    let room = MIN_MTU - IPV6_HEADER - 8;
    let (head, body) = out.split_at_mut_checked(8).ok_or(Untranslatable::TooBig)?;
    let body_len = body.len().min(room);
    let inner_dst6 = Ipv6Addr::from_bits(
        (src6.to_bits() & !0xffff_ffff) | u128::from(u32::from_be_bytes(inner.dst)),
    );
    let quoted = inner.translate(dst6, inner_dst6, &mut body[..body_len])?;
    head[0] = kind6;
    head[1] = code6;
    head[2..4].fill(0);
    head[4..8].copy_from_slice(&rest6.to_be_bytes());
    let len = 8 + quoted;
    let pseudo = pseudo_header(src6, dst6, len as u32, wire6::proto::ICMPV6);
    let check = !fold(sum(&out[..len], pseudo));
    out[2..4].copy_from_slice(&check.to_be_bytes());
    Ok(len)
}

/// An IPv4 packet quoted in an ICMP error: a whole header, and what is left of the
/// rest.
#[derive(Debug)]
struct Quoted4<'a> {
    header: &'a [u8],
    /// The upper-layer bytes quoted, within the total length.
    l4: &'a [u8],
    total_len: u16,
    fragment: Option<Fragment>,
    dst: [u8; 4],
}

impl<'a> Quoted4<'a> {
    fn parse(inner: &'a [u8]) -> Result<Self, Untranslatable> {
        let &ver_ihl = inner.first().ok_or(Untranslatable::Malformed)?;
        let ihl = usize::from(ver_ihl & 0x0f) * 4;
        if ver_ihl >> 4 != 4 || ihl < IPV4_HEADER || inner.len() < ihl {
            return Err(Untranslatable::Malformed);
        }
        let total_len = u16::from_be_bytes([inner[2], inner[3]]);
        let end = usize::from(total_len).min(inner.len());
        let l4 = inner.get(ihl..end).ok_or(Untranslatable::Malformed)?;
        Ok(Self {
            header: &inner[..ihl],
            l4,
            total_len,
            fragment: fragment4(inner),
            dst: [inner[16], inner[17], inner[18], inner[19]],
        })
    }

    /// Writes the quote as an IPv6 packet from `src6` to `dst6` into `out`, cut to
    /// `out`'s length if longer, and returns its length.
    fn translate(
        &self,
        src6: Ipv6Addr,
        dst6: Ipv6Addr,
        out: &mut [u8],
    ) -> Result<usize, Untranslatable> {
        let h = self.header;
        let protocol = h[9];
        let next = protocol_4to6(protocol)?;
        let ext = if self.fragment.is_some() { FRAGMENT_HEADER } else { 0 };
        let len = (IPV6_HEADER + ext + self.l4.len()).min(out.len());
        let out = &mut out[..len];
        let (header, body) =
            out.split_at_mut_checked(IPV6_HEADER + ext).ok_or(Untranslatable::TooBig)?;
        body.copy_from_slice(&self.l4[..body.len()]);
        let upper_len = usize::from(self.total_len) - h.len();
        if self.fragment.is_none_or(|f| f.offset == 0) {
            let src4 = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            let dst4 = Ipv4Addr::from(self.dst);
            match body.first().copied() {
                _ if protocol != wire::proto::ICMP => {
                    adjust_transport(body, protocol, sum4(src4, dst4), sum6(src6, dst6));
                }
                Some(kind @ (icmp::ECHO_REQUEST | icmp::ECHO_REPLY)) => {
                    let echo = if kind == icmp::ECHO_REQUEST {
                        icmp6::ECHO_REQUEST
                    } else {
                        icmp6::ECHO_REPLY
                    };
                    let pseudo = pseudo_header(src6, dst6, upper_len as u32, wire6::proto::ICMPV6);
                    convert_echo(body, echo, 0, pseudo);
                }
                Some(kind) => {
                    let code = body.get(1).copied().unwrap_or(0);
                    return Err(Untranslatable::IcmpType { kind, code });
                }
                None => {}
            }
        }
        let payload_len = (ext + upper_len).min(usize::from(u16::MAX)) as u16;
        put_ipv6(header, h[1], payload_len, next, self.fragment, h[8], src6, dst6);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{any, prop_assert, prop_assert_eq};
    use proptest::{collection, proptest};

    use super::*;
    use crate::wire::tests::{checksums_ok, echo, packet as packet4, tcp_syn, udp};
    use crate::wire6::tests::{addr, hex, l4_ok, packet as packet6};

    const CLIENT: &str = "2001:db8:1::10";
    const NAT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 5);
    const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

    fn client() -> Ipv6Addr {
        addr(CLIENT)
    }

    fn remote6() -> Ipv6Addr {
        embed(Prefix96::WELL_KNOWN, REMOTE)
    }

    fn to4(p: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> Result<Vec<u8>, Untranslatable> {
        let mut out = [0u8; 1 << 16];
        six_to_four(p, src, dst, &mut out).map(|n| out[..n].to_vec())
    }

    fn to6(p: &[u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<Vec<u8>, Untranslatable> {
        let mut out = [0u8; 1 << 16];
        four_to_six(p, src, dst, &mut out).map(|n| out[..n].to_vec())
    }

    // Golden packets, built and summed separately from this code (every checksum over
    // its pseudo-header from scratch). Client 2001:db8:1::10, gateway 10.0.1.5, remote
    // 198.51.100.1 = 64:ff9b::c633:6401.

    /// Echo request, id 0x1234, seq 1, "vpclab!!", and its IPv4 translation.
    const ECHO6: &str = "6000000000103a40 20010db8000100000000000000000010
        0064ff9b0000000000000000c6336401 8000b92012340001 7670636c61622121";
    const ECHO4: &str = "4500002400004000400105a0 0a000105 c6336401
        0800896a12340001 7670636c61622121";
    /// A DNS answer 53 → 40000, "answer", TTL 60, id 0x1234, DF; and as IPv6.
    const UDP4: &str = "45000022123440003c11f75d c6336401 0a000105
        00359c40000ef3ca 616e73776572";
    const UDP6: &str = "60000000000e113c 0064ff9b0000000000000000c6336401
        20010db8000100000000000000000010 00359c40000ed105 616e73776572";
    /// A TCP SYN 40000 → 80, traffic class 0x20; and as IPv4.
    const SYN6: &str = "6200000000140640 20010db8000100000000000000000010
        0064ff9b0000000000000000c6336401 9c40005000000001000000005002faf0c0610000";
    const SYN4: &str = "4520002800004000400605770a000105c6336401
        9c40005000000001000000005002faf0e3260000";
    /// Fragmentation needed (MTU 1400) from 198.51.100.254, TTL 250, quoting UDP
    /// 40000 → 53 "ping" sent by the gateway (TTL 63); and as ICMPv6 Packet Too Big
    /// (MTU 1420) from 64:ff9b::c633:64fe.
    const FRAG_NEEDED4: &str = "4500003c00004000fa014a8a c63364fe 0a000105
        03042cdb00000578
        45000020123440003f11f45f 0a000105 c6336401 9c400035000c4f56 70696e67";
    const TOO_BIG6: &str = "60000000003c3afa 0064ff9b0000000000000000c63364fe
        20010db8000100000000000000000010 02002dd30000058c
        60000000000c113f 20010db8000100000000000000000010
        0064ff9b0000000000000000c6336401 9c400035000c2c91 70696e67";

    #[test]
    fn addresses_embed_and_extract() {
        assert_eq!(remote6(), addr("64:ff9b::c633:6401"));
        assert_eq!(extract(remote6()), Some(REMOTE));
        assert_eq!(extract(addr("64:ff9b:1::c633:6401")), None);
        assert_eq!(extract(client()), None);
        // Private addresses too, as AWS's NAT64 does.
        let private = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(extract(embed(Prefix96::WELL_KNOWN, private)), Some(private));
        // A network-specific prefix; bad ones refused.
        let nsp = Prefix96::new(addr("2001:db8:64::")).unwrap();
        assert_eq!(nsp.embed(REMOTE), addr("2001:db8:64::c633:6401"));
        assert_eq!(nsp.extract(addr("2001:db8:64::c633:6401")), Some(REMOTE));
        assert_eq!(nsp.extract(remote6()), None);
        assert!(nsp.contains(addr("2001:db8:64::1")));
        assert_eq!(nsp.addr(), addr("2001:db8:64::"));
        assert_eq!(Prefix96::new(addr("2001:db8:64::1")), None);
        assert_eq!(Prefix96::new(addr("2001:db8:64:0:ff00::")), None, "the u octet");
        assert_eq!(Prefix96::new(addr("64:ff9b::")), Some(Prefix96::WELL_KNOWN));
    }

    #[test]
    fn golden_echo_both_ways() {
        let (v6, v4) = (hex(ECHO6), hex(ECHO4));
        assert!(l4_ok(&v6) && checksums_ok(&v4));
        assert_eq!(to4(&v6, NAT, REMOTE).unwrap(), v4);
        assert_eq!(to6(&v4, client(), remote6()).unwrap(), v6);
    }

    #[test]
    fn golden_udp_and_tcp() {
        let (udp4, udp6) = (hex(UDP4), hex(UDP6));
        assert!(checksums_ok(&udp4) && l4_ok(&udp6));
        assert_eq!(to6(&udp4, remote6(), client()).unwrap(), udp6);
        let (syn6, syn4) = (hex(SYN6), hex(SYN4));
        assert!(l4_ok(&syn6) && checksums_ok(&syn4));
        assert_eq!(to4(&syn6, NAT, REMOTE).unwrap(), syn4);
    }

    /// Sets the TCP checksum of the packet whose TCP header is at `l4`.
    fn set_tcp_check(p: &mut [u8], l4: usize, check: u16) {
        p[l4 + 16..l4 + 18].copy_from_slice(&check.to_be_bytes());
    }

    #[test]
    fn partial_checksums_move_to_the_other_pseudo_header() {
        // As the kernel hands them over with checksum offload: the field holds only the
        // pseudo-header's sum. Translated and then finished as a device would, each is
        // the golden translation of the finished packet.
        let (syn6, syn4) = (hex(SYN6), hex(SYN4));
        let len = (syn6.len() - IPV6_HEADER) as u32;
        let offload = Offload { partial_checksum: true, gso_size: 0 };
        let mut out = [0u8; 1 << 16];

        let mut partial6 = syn6.clone();
        let pseudo6 = pseudo_header(client(), remote6(), len, wire6::proto::TCP);
        set_tcp_check(&mut partial6, IPV6_HEADER, fold(pseudo6));
        let n = six_to_four_offloaded(&partial6, NAT, REMOTE, offload, &mut out).unwrap();
        let mut got = out[..n].to_vec();
        let pseudo4 = sum4(NAT, REMOTE) + u32::from(wire::proto::TCP) + len;
        assert_eq!(got[36..38], fold(pseudo4).to_be_bytes(), "the IPv4 pseudo-header's sum");
        wire::finish_checksum(&mut got);
        assert_eq!(got, syn4);

        let mut partial4 = syn4.clone();
        set_tcp_check(&mut partial4, IPV4_HEADER, fold(pseudo4));
        let n = four_to_six_offloaded(&partial4, client(), remote6(), offload, &mut out).unwrap();
        let mut got = out[..n].to_vec();
        assert_eq!(got[56..58], fold(pseudo6).to_be_bytes(), "the IPv6 pseudo-header's sum");
        let finished = !fold(sum(&got[IPV6_HEADER..], 0));
        set_tcp_check(&mut got, IPV6_HEADER, finished);
        assert_eq!(got, syn6);
    }

    #[test]
    fn golden_fragmentation_needed_becomes_packet_too_big() {
        let (v4, v6) = (hex(FRAG_NEEDED4), hex(TOO_BIG6));
        assert!(checksums_ok(&v4) && l4_ok(&v6));
        let router = embed(Prefix96::WELL_KNOWN, Ipv4Addr::new(198, 51, 100, 254));
        let got = to6(&v4, router, client()).unwrap();
        assert_eq!(got, v6);
        let error = Ipv6::new_checked(&got[..]).unwrap();
        let quoted = error.icmp_quoted().unwrap();
        assert_eq!(quoted, (17, client().to_bits(), remote6().to_bits(), 40000, 53));
        // The quoted UDP checksum is right for the quoted addresses.
        assert!(l4_ok(&got[48..]));
    }

    #[test]
    fn mtus_follow_rfc_7915() {
        let udp_packet = packet4(NAT.octets(), REMOTE.octets(), 17, 63, &udp(40000, 53, b"x"));
        let frag_needed = |mtu: u16, quote: &[u8]| {
            let mut msg = vec![3, 4, 0, 0, 0, 0];
            msg.extend_from_slice(&mtu.to_be_bytes());
            msg.extend_from_slice(quote);
            let c = checksum(&msg);
            msg[2..4].copy_from_slice(&c.to_be_bytes());
            wire::ipv4_packet(REMOTE, NAT, 64, 1, &msg)
        };
        let mtu6 = |p: &[u8]| u32::from_be_bytes([p[44], p[45], p[46], p[47]]);
        let v6 = to6(&frag_needed(1400, &udp_packet), remote6(), client()).unwrap();
        assert_eq!(mtu6(&v6), 1420);
        // Below 1280: 1280. None given: the plateau under the quoted length, + 20.
        let v6 = to6(&frag_needed(576, &udp_packet), remote6(), client()).unwrap();
        assert_eq!(mtu6(&v6), 1280);
        let mut long = udp_packet.clone();
        long[2..4].copy_from_slice(&4000u16.to_be_bytes());
        let v6 = to6(&frag_needed(0, &long[..28]), remote6(), client()).unwrap();
        assert_eq!(mtu6(&v6), 2002 + 20);
        // A quoted fragment: + 28 (its IPv6 form had a Fragment header).
        let (first, _) = crate::wire::tests::split(&udp_packet, 9);
        let v6 = to6(&frag_needed(1400, &first), remote6(), client()).unwrap();
        assert_eq!(mtu6(&v6), 1428);
        assert!(l4_ok(&v6));

        // The other way: Packet Too Big 1500 from the client's side → 1480.
        let sent = packet6(remote6(), client(), &[], 17, &udp(53, 40000, b"answer"));
        let too_big = |mtu: u32, quote: &[u8]| {
            let mut out = [0u8; MIN_MTU];
            let view = Ipv6::new_checked(quote).unwrap();
            let n = wire6::icmp_error(&mut out, client(), &view, icmp6::PACKET_TOO_BIG, 0, mtu);
            out[..n.unwrap()].to_vec()
        };
        let v4 = to4(&too_big(1500, &sent), NAT, REMOTE).unwrap();
        assert!(checksums_ok(&v4));
        assert_eq!((v4[20], v4[21], u16::from_be_bytes([v4[26], v4[27]])), (3, 4, 1480));
        let fragmented = packet6(remote6(), client(), &[(44, 8)], 17, &udp(53, 40000, b"a"));
        let v4 = to4(&too_big(1500, &fragmented), NAT, REMOTE).unwrap();
        assert_eq!(u16::from_be_bytes([v4[26], v4[27]]), 1472);
    }

    #[test]
    fn errors_from_the_ipv6_side_quote_the_reverse_flow() {
        // The remote's answer reached the client as IPv6, which found no socket.
        let answer = packet6(remote6(), client(), &[], 17, &udp(53, 40000, b"answer"));
        let mut out = [0u8; MIN_MTU];
        let view = Ipv6::new_checked(&answer[..]).unwrap();
        let n = wire6::icmp_error(&mut out, client(), &view, icmp6::UNREACHABLE, 4, 0).unwrap();
        let v4 = to4(&out[..n], NAT, REMOTE).unwrap();
        assert!(checksums_ok(&v4));
        let ip = Ipv4::new_checked(&v4[..]).unwrap();
        assert_eq!((ip.src(), ip.dst(), ip.icmp_type(), ip.icmp_code()), (NAT, REMOTE, Some(3), 3));
        let quoted = &v4[28..];
        assert!(checksums_ok(quoted), "the quoted packet is whole and valid IPv4");
        assert_eq!(&quoted[12..20], &[REMOTE.octets(), NAT.octets()].concat()[..]);
        assert_eq!(&quoted[28..], b"answer");
    }

    #[test]
    fn icmp_codes_and_pointers_map() {
        let sent = packet4(NAT.octets(), REMOTE.octets(), 17, 63, &udp(40000, 53, b"x"));
        let error4 = |kind: u8, code: u8, pointer: u8| {
            let mut msg = vec![kind, code, 0, 0, pointer, 0, 0, 0];
            msg.extend_from_slice(&sent);
            let c = checksum(&msg);
            msg[2..4].copy_from_slice(&c.to_be_bytes());
            let p = wire::ipv4_packet(REMOTE, NAT, 64, 1, &msg);
            to6(&p, remote6(), client()).map(|v6| {
                assert!(l4_ok(&v6));
                (v6[40], v6[41], u32::from_be_bytes([v6[44], v6[45], v6[46], v6[47]]))
            })
        };
        assert_eq!(error4(3, 1, 0), Ok((1, 0, 0)));
        assert_eq!(error4(3, 2, 0), Ok((4, 1, 6)), "protocol unreachable → next header");
        assert_eq!(error4(3, 3, 0), Ok((1, 4, 0)));
        assert_eq!(error4(3, 13, 0), Ok((1, 1, 0)));
        assert_eq!(error4(3, 14, 0), Err(Untranslatable::IcmpType { kind: 3, code: 14 }));
        assert_eq!(error4(11, 0, 0), Ok((3, 0, 0)));
        assert_eq!(error4(12, 0, 9), Ok((4, 0, 6)));
        assert_eq!(error4(12, 2, 16), Ok((4, 0, 24)));
        assert_eq!(error4(12, 0, 4), Err(Untranslatable::IcmpType { kind: 12, code: 0 }));
        assert_eq!(error4(5, 1, 0), Err(Untranslatable::IcmpType { kind: 5, code: 1 }));

        let answer = packet6(remote6(), client(), &[], 17, &udp(53, 40000, b"answer"));
        let error6 = |kind: u8, code: u8, rest: u32| {
            let mut out = [0u8; MIN_MTU];
            let view = Ipv6::new_checked(&answer[..]).unwrap();
            let n = wire6::icmp_error(&mut out, client(), &view, kind, code, rest).unwrap();
            to4(&out[..n], NAT, REMOTE).map(|v4| {
                assert!(checksums_ok(&v4));
                (v4[20], v4[21], u32::from_be_bytes([v4[24], v4[25], v4[26], v4[27]]))
            })
        };
        assert_eq!(error6(1, 0, 0), Ok((3, 1, 0)));
        assert_eq!(error6(1, 1, 0), Ok((3, 10, 0)));
        assert_eq!(error6(1, 4, 0), Ok((3, 3, 0)));
        assert_eq!(error6(3, 1, 0), Ok((11, 1, 0)));
        assert_eq!(error6(4, 0, 7), Ok((12, 0, 8 << 24)));
        assert_eq!(error6(4, 0, 30), Ok((12, 0, 16 << 24)));
        assert_eq!(error6(4, 0, 2), Err(Untranslatable::IcmpType { kind: 4, code: 0 }));
        assert_eq!(error6(4, 1, 40), Ok((3, 2, 0)));
        assert_eq!(error6(4, 2, 40), Err(Untranslatable::IcmpType { kind: 4, code: 2 }));
        assert_eq!(error6(1, 5, 0), Err(Untranslatable::IcmpType { kind: 1, code: 5 }));
    }

    #[test]
    fn what_cannot_be_translated_says_why() {
        let (c, r) = (client(), remote6());
        // Neighbour discovery, MLD, timestamps: dropped.
        let ns = packet6(c, r, &[], 58, &[135, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(to4(&ns, NAT, REMOTE), Err(Untranslatable::IcmpType { kind: 135, code: 0 }));
        let mut ts = vec![13, 0, 0, 0, 0, 0, 0, 0];
        let cs = checksum(&ts);
        ts[2..4].copy_from_slice(&cs.to_be_bytes());
        let ts = packet4(REMOTE.octets(), NAT.octets(), 1, 64, &ts);
        assert_eq!(to6(&ts, r, c), Err(Untranslatable::IcmpType { kind: 13, code: 0 }));
        // Other protocols, AH, ESP.
        let gre = packet6(c, r, &[], 47, &[0; 8]);
        assert_eq!(to4(&gre, NAT, REMOTE), Err(Untranslatable::Protocol(47)));
        let ah = packet6(c, r, &[(51, 16)], 17, &udp(1, 2, b""));
        assert_eq!(to4(&ah, NAT, REMOTE), Err(Untranslatable::Protocol(51)));
        let esp = packet6(c, r, &[], 50, &[0; 16]);
        assert_eq!(to4(&esp, NAT, REMOTE), Err(Untranslatable::Protocol(50)));
        let gre4 = packet4(NAT.octets(), REMOTE.octets(), 47, 64, &[0; 8]);
        assert_eq!(to6(&gre4, c, r), Err(Untranslatable::Protocol(47)));
        // A routing header with segments left: the pointer for the Parameter Problem.
        let mut routed = packet6(c, r, &[(0, 8), (43, 24)], 17, &udp(1, 2, b""));
        assert!(to4(&routed, NAT, REMOTE).is_ok(), "no segments left: skipped");
        routed[48 + 3] = 1;
        assert_eq!(to4(&routed, NAT, REMOTE), Err(Untranslatable::SegmentsLeft { pointer: 51 }));
        // Fragmented ICMP needs its whole message.
        let mut big = packet6(c, r, &[(44, 8)], 58, &echo(1, 1)[..]);
        big[43] = 1; // M
        assert_eq!(to4(&big, NAT, REMOTE), Err(Untranslatable::NeedsReassembly));
        let (first, _) = crate::wire::tests::split(&hex(ECHO4), 7);
        assert_eq!(to6(&first, c, r), Err(Untranslatable::NeedsReassembly));
        // Malformed: a bad IPv4 header checksum, an ICMP error with a bad checksum, a
        // TCP header cut short.
        let mut bad = hex(SYN4);
        bad[8] ^= 1;
        assert_eq!(to6(&bad, c, r), Err(Untranslatable::Malformed));
        let mut bad = hex(FRAG_NEEDED4);
        bad[30] ^= 1;
        assert_eq!(to6(&bad, r, c), Err(Untranslatable::Malformed));
        let short = packet6(c, r, &[], 6, &[0; 10]);
        assert_eq!(to4(&short, NAT, REMOTE), Err(Untranslatable::Malformed));
        // No room.
        let mut small = [0u8; 39];
        assert_eq!(six_to_four(&hex(SYN6), NAT, REMOTE, &mut small), Err(Untranslatable::TooBig));
        assert_eq!(four_to_six(&hex(SYN4), c, r, &mut small), Err(Untranslatable::TooBig));
    }

    #[test]
    fn source_routes_not_used_up_are_refused() {
        let with_options = |options: &[u8]| {
            let plain = hex(UDP4);
            let ihl = 20 + options.len();
            let mut p = plain[..20].to_vec();
            p.extend_from_slice(options);
            p.extend_from_slice(&plain[20..]);
            p[0] = 0x40 | (ihl / 4) as u8;
            let total = p.len() as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            p[10..12].fill(0);
            let c = checksum(&p[..ihl]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            to6(&p, remote6(), client())
        };
        // Loose source route, one address, pointer 4: not used up.
        let lsrr = [1, 131, 7, 4, 192, 0, 2, 1];
        assert_eq!(with_options(&lsrr), Err(Untranslatable::SourceRoute));
        // Used up (pointer past the option), or only a record-route: translated, and
        // without the options.
        let spent = [1, 131, 7, 8, 192, 0, 2, 1];
        assert_eq!(with_options(&spent), Ok(hex(UDP6)));
        let record = [7, 7, 4, 0, 0, 0, 0, 0];
        assert_eq!(with_options(&record), Ok(hex(UDP6)));
    }

    #[test]
    fn fragments_carry_their_fields() {
        // An IPv4 first fragment (MF, id 0xbeef) of UDP: a Fragment header, the
        // checksum adjusted for the whole datagram's pseudo-header.
        let body: Vec<u8> = (0..40u8).collect();
        let whole = packet4(REMOTE.octets(), NAT.octets(), 17, 60, &udp(53, 40000, &body));
        let (first, later) = crate::wire::tests::split(&whole, 0xbeef);
        let v6 = to6(&first, remote6(), client()).unwrap();
        let ip = Ipv6::new_checked(&v6[..]).unwrap();
        assert_eq!(ip.fragment(), Some(Fragment { offset: 0, more: true, id: 0xbeef }));
        assert_eq!((ip.protocol(), ip.ports()), (17, Some((53, 40000))));
        let v6_later = to6(&later, remote6(), client()).unwrap();
        let ip = Ipv6::new_checked(&v6_later[..]).unwrap();
        assert_eq!(ip.fragment(), Some(Fragment { offset: 1, more: false, id: 0xbeef }));
        // Reassembled, the datagram's checksum holds.
        let mut joined = wire6::ipv6_packet(remote6(), client(), 60, 17, &v6[48..]);
        joined.extend_from_slice(&v6_later[48..]);
        let len = (joined.len() - 40) as u16;
        joined[4..6].copy_from_slice(&len.to_be_bytes());
        assert!(l4_ok(&joined));

        // And back: the IPv4 fields return, DF clear.
        let v4 = to4(&v6, REMOTE, NAT).unwrap();
        assert_eq!(&v4[4..8], &[0xbe, 0xef, 0x20, 0x00]);
        assert_eq!(&v4[20..], &first[20..]);
        let v4 = to4(&v6_later, REMOTE, NAT).unwrap();
        assert_eq!(&v4[4..8], &[0xbe, 0xef, 0x00, 0x01]);
        assert_eq!(v4, later);

        // A zero UDP checksum from IPv4 is computed, unless the datagram is cut up.
        let mut zero = packet4(REMOTE.octets(), NAT.octets(), 17, 60, &udp(53, 40000, b"z"));
        zero[26..28].fill(0);
        let v6 = to6(&zero, remote6(), client()).unwrap();
        assert!(l4_ok(&v6));
        let (first, _) = crate::wire::tests::split(&zero, 1);
        assert_eq!(to6(&first, remote6(), client()), Err(Untranslatable::NeedsReassembly));
    }

    proptest! {
        /// IPv6 → IPv4 → IPv6 (and the other way), addresses mapped back, gives back
        /// the upper layer with a valid checksum, for TCP, UDP and echo, with and
        /// without extension headers.
        #[test]
        fn round_trips_keep_the_upper_layer(
            kind in 0usize..4,
            client_bits in any::<u128>(),
            remote in any::<u32>(),
            nat in any::<u32>(),
            options in any::<bool>(),
            traffic_class in any::<u8>(),
            payload in collection::vec(any::<u8>(), 0..80),
        ) {
            let (client, remote, nat) =
                (Ipv6Addr::from_bits(client_bits), Ipv4Addr::from_bits(remote), Ipv4Addr::from_bits(nat));
            let remote6 = embed(Prefix96::WELL_KNOWN, remote);
            let (protocol, l4) = match kind {
                0 => (17, udp(40000, 53, &payload)),
                1 => (6, [tcp_syn(40000, 443), payload.clone()].concat()),
                2 => (58, [&[128, 0, 0, 0, 0, 9, 0, 1][..], &payload].concat()),
                _ => (58, [&[129, 0, 0, 0, 0, 9, 0, 1][..], &payload].concat()),
            };
            let extensions: &[(u8, usize)] = if options { &[(0, 8), (60, 16)] } else { &[] };
            let mut v6 = packet6(client, remote6, extensions, protocol, &l4);
            v6[0] = 0x60 | (traffic_class >> 4);
            v6[1] = traffic_class << 4;
            let v4 = to4(&v6, nat, remote).unwrap();
            prop_assert!(checksums_ok(&v4));
            prop_assert_eq!(v4[1], traffic_class);
            let back = to6(&v4, client, remote6).unwrap();
            prop_assert!(l4_ok(&back));
            let start = 40 + extensions.iter().map(|&(_, n)| n).sum::<usize>();
            let check = match protocol { 6 => 16, 17 => 6, _ => 2 };
            prop_assert_eq!(&back[40..40 + check], &v6[start..start + check]);
            prop_assert_eq!(&back[40 + check + 2..], &v6[start + check + 2..]);

            // IPv4 → IPv6 → IPv4: the remote answering.
            let protocol4 = if protocol == 58 { 1 } else { protocol };
            let mut l4 = Ipv4::new_checked(&v4[..]).unwrap().payload().to_vec();
            if protocol4 == 1 {
                l4[0] = 0;
            }
            let answer = packet4(remote.octets(), nat.octets(), protocol4, 50, &l4);
            let v6 = to6(&answer, remote6, client).unwrap();
            prop_assert!(l4_ok(&v6));
            let back = to4(&v6, remote, nat).unwrap();
            prop_assert!(checksums_ok(&back));
            prop_assert_eq!(&back[8..10], &answer[8..10], "TTL and protocol");
            prop_assert_eq!(&back[12..], &answer[12..], "addresses and upper layer");
        }

        /// Any ICMPv4 error about a UDP packet translates to a valid ICMPv6 error
        /// within 1280 bytes, or is refused, never half-done.
        #[test]
        fn translated_errors_are_valid(
            kind in proptest::sample::select(vec![3u8, 4, 5, 11, 12]),
            code in 0u8..16,
            rest in any::<u32>(),
            payload in collection::vec(any::<u8>(), 0..1600),
        ) {
            let sent = packet4(NAT.octets(), REMOTE.octets(), 17, 63, &udp(1, 2, &payload));
            let mut msg = vec![kind, code, 0, 0];
            msg.extend_from_slice(&rest.to_be_bytes());
            msg.extend_from_slice(&sent[..sent.len().min(548)]);
            let c = checksum(&msg);
            msg[2..4].copy_from_slice(&c.to_be_bytes());
            let p = wire::ipv4_packet(REMOTE, NAT, 64, 1, &msg);
            if let Ok(v6) = to6(&p, remote6(), client()) {
                prop_assert!(v6.len() <= MIN_MTU);
                prop_assert!(l4_ok(&v6));
                let ip = Ipv6::new_checked(&v6[..]).unwrap();
                prop_assert_eq!(ip.icmp_quoted().map(|q| (q.3, q.4)), Some((1, 2)));
            }
        }

        /// Any bytes: no panic, and whatever comes out is a packet of the other version
        /// that fits the buffer.
        #[test]
        fn any_bytes_never_panic(
            bytes in collection::vec(any::<u8>(), 0..160),
            shape in any::<bool>(),
            next in any::<usize>(),
            room in 0usize..300,
        ) {
            let mut out = vec![0u8; room];
            let six = crate::wire6::tests::looks_like_ipv6(bytes.clone(), shape, next);
            if let Ok(n) = six_to_four(&six, NAT, REMOTE, &mut out) {
                prop_assert!(n <= room);
                prop_assert!(Ipv4::new_checked(&out[..n]).is_ok());
            }
            let mut four = bytes;
            if shape && four.len() >= 20 {
                four[0] = 0x45;
                let len = four.len() as u16;
                four[2..4].copy_from_slice(&len.to_be_bytes());
                four[9] = [1, 6, 17][next % 3];
                four[10..12].fill(0);
                let c = checksum(&four[..20]);
                four[10..12].copy_from_slice(&c.to_be_bytes());
            }
            if let Ok(n) = four_to_six(&four, remote6(), client(), &mut out) {
                prop_assert!(n <= room);
                prop_assert!(Ipv6::new_checked(&out[..n]).is_ok());
            }
        }
    }
}
