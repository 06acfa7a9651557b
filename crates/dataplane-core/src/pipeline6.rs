//! IPv6 through the VPC router: the same pure function of a packet, its port and the
//! snapshot as [`crate::pipeline`], for the other family. No I/O, no clock, no
//! allocation, no locks, no logging.
//!
//! IPv6 addresses in a VPC are global: nothing is translated.
//!
//! * From an instance: the source must be one of the interface's IPv6 addresses
//!   (source/destination check) → its security groups' IPv6 rules → same subnet?
//!   deliver (no route table, no hop-limit change) → the subnet's table's IPv6 routes
//!   (looked up apart from the IPv4 ones, as on AWS): `local` or a peering → the holder
//!   of the address, both subnets' ACLs (IPv6 entries), the receiver's groups;
//!   the internet gateway → out unchanged; the egress-only gateway → out unchanged, the
//!   flow remembered so that its replies may come back; the 1500-byte edge answered with
//!   ICMPv6 Packet Too Big (routers never fragment IPv6); hop limit 1 answered with
//!   Time Exceeded from the subnet router.
//! * From the internet: to an address of a VPC's IPv6 block. With an internet gateway
//!   attached, anything its ACL and groups admit; without one, only what continues a
//!   flow out through its egress-only gateway (AWS: "prevents the internet from
//!   initiating an IPv6 connection with your instances").
//!
//! * To the VPC's own services at `fd00:ec2::254` (metadata) and `fd00:ec2::253` (DNS):
//!   handed to them before any group or ACL, as over IPv4.
//!
//! * To `64:ff9b::/96` routed to a NAT gateway: NAT64, out as IPv4 from the gateway's
//!   address ([`Snapshot::nat64_egress`]) — a public one's to the internet, a private
//!   one's on through its subnet's transit gateway; the IPv4 replies come back through
//!   the gateway's IPv4 path, which hands those of NAT64 flows to
//!   [`Snapshot::nat64_ingress`].
//!
//! Not carried over IPv6 yet (dropped as `ipv6_not_carried`): transit gateways, virtual
//! private gateways, endpoints, and any other IPv6 destination routed to a NAT gateway.
//!
//! Fragments are decided as their first fragment (its ports remembered for the later
//! ones), as for IPv4; the router never fragments IPv6 itself.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use vpclab_conntrack::{FlowKey, Outbound, Outcome, Proto, Timeouts, Tuple};

use crate::counters::DropReason;
use crate::nat::Tracking;
use crate::nat64::{self, Prefix96};
use crate::pipeline::{OutsideTuple, Verdict, expire, flow_key};
use crate::snapshot::{
    EDGE_ADDRESS, EDGE_MTU, ENDPOINT_TARGET, Hop, INTERNET, InstancePort, NatEntry, Port,
    PortEntry, Snapshot,
};
use crate::trace::Step;
use crate::wire::{Head, Ipv4, Offload, Side, proto};
use crate::wire6::{Ipv6, icmp_error, icmp6};

/// How much shorter a packet's IPv4 translation is than the IPv6 original without
/// extension headers (RFC 7915: the IPv6 MTU to report is the IPv4 one plus this).
const NAT64_SHRINK: usize = 20;

/// The instance metadata service's IPv6 address (AWS's Nitro instances).
pub const IMDS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Amazon DNS's IPv6 address (AWS's Nitro instances).
pub const DNS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253);

/// The internet edge's own IPv6 address: the source of the errors it sends the internet.
pub const EDGE_ADDRESS6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0xffff, 0, 0, 0, 1);

/// The zone of the egress-only gateways' flows. One zone for all: IPv6 blocks are
/// handed out once and never overlap, so a flow's inside address already names its VPC
/// (a VPC's index in the snapshot moves when others come and go; the key must not).
const EGRESS_ONLY_ZONE: u32 = 0;

/// Whether a router may forward to or from `addr` at all: not link-local, multicast
/// (a VPC carries none), loopback or unspecified, and not in `fd00:ec2::/32`, the VPC's
/// own services (AWS never forwards those; `::253` and `::254` are answered before).
fn routable(addr: Ipv6Addr) -> bool {
    let nitro = u128::from(addr) >> 96 == 0xfd00_0ec2;
    !(addr.is_multicast()
        || addr.is_unicast_link_local()
        || addr.is_loopback()
        || addr.is_unspecified()
        || nitro)
}

/// The subnet router's address in an IPv6 block: its first address plus one, as in
/// IPv4 (AWS reserves the first four addresses of every IPv6 subnet block).
pub fn router6(subnet: Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()) + 1)
}

/// Whether `addr` is one AWS reserves in `subnet`: its first four and its last.
fn reserved6(subnet: Ipv6Net, addr: Ipv6Addr) -> bool {
    let offset = u128::from(addr) - u128::from(subnet.network());
    offset < 4 || addr == subnet.broadcast()
}

impl Snapshot {
    /// [`Snapshot::process_offloaded`] for an IPv6 packet.
    pub(crate) fn process6(
        &self,
        tracking: &mut Tracking,
        from: Port,
        packet: &mut [u8],
        offload: Offload,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let mut ip = match Ipv6::new_checked(&mut *packet) {
            Ok(ip) => ip.with_offload(offload),
            Err(_) => return Verdict::Drop(DropReason::Malformed),
        };
        if ip.is_fragment() {
            if let Some(verdict) = fragment6(tracking, from, &mut ip, now) {
                return verdict;
            }
        }
        match self.port(from) {
            PortEntry::Instance(me) => self.egress6(tracking, from, &me, &mut ip, reply, now),
            PortEntry::Internet => self.ingress6(tracking, &mut ip, reply, now),
            PortEntry::Vpn(_) => Verdict::Drop(DropReason::Ipv6NotCarried),
            PortEntry::Vacant => Verdict::Drop(DropReason::UnknownPort),
        }
    }

    fn egress6(
        &self,
        tracking: &mut Tracking,
        from: Port,
        me: &InstancePort,
        ip: &mut Ipv6<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let Some(vpc) = self.vpcs.get(me.vpc as usize) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let (src, dst) = (ip.src(), ip.dst());
        if me.source_dest_check && vpc.hosts6.get(&src) != Some(&from) {
            return Verdict::Drop(DropReason::SourceCheck);
        }
        if dst == IMDS6 || dst == DNS6 {
            // Answered by the VPC itself, before any security group or ACL.
            tracking.note(|| Step::Service);
            return Verdict::Service { len: ip.total_len() };
        }
        if !routable(dst) {
            return Verdict::Drop(DropReason::NotRoutable);
        }
        if let Err(reason) = self.sg_check(tracking, from, me.rules, ip, true, now) {
            return Verdict::Drop(reason);
        }
        let len = ip.total_len();
        // An interface sending IPv6 from its own address has a subnet with a block.
        let Some(subnet) = me.subnet6 else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        if subnet.contains(&dst) {
            tracking.note(|| Step::SameSubnet);
            if reserved6(subnet, dst) {
                return Verdict::Drop(DropReason::VpcService);
            }
            return match vpc.hosts6.get(&dst) {
                Some(&port) if port >= ENDPOINT_TARGET => Verdict::Drop(DropReason::Ipv6NotCarried),
                Some(&port) => match self.admit_at(tracking, port, ip, now) {
                    Ok(()) => Verdict::Forward { port, len },
                    Err(reason) => Verdict::Drop(reason),
                },
                None => Verdict::Drop(DropReason::NoHost),
            };
        }

        let Some(table) = self.tables.get(me.table as usize) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let route = table.lpm6.lookup(dst);
        let hop = route.and_then(|route| table.hops6.get(route as usize).copied());
        tracking.note(|| Step::Route { table: me.table, route, hop, ipv6: true });
        let router = router6(subnet);
        match hop {
            None => Verdict::Drop(DropReason::NoRoute),
            Some(Hop::Blackhole) => Verdict::Drop(DropReason::Blackhole),
            Some(Hop::Local) => match vpc.hosts6.get(&dst) {
                Some(&port) => {
                    self.deliver6(tracking, me, port, true, from, router, ip, reply, now)
                }
                None => Verdict::Drop(DropReason::NoHost),
            },
            Some(Hop::Peering(peer)) => {
                // Only to the peer VPC's own addresses: no transit through it.
                let Some(peer) = self.vpcs.get(peer as usize) else {
                    return Verdict::Drop(DropReason::Blackhole);
                };
                if !peer.contains6(dst) {
                    return Verdict::Drop(DropReason::PeeringTransit);
                }
                match peer.hosts6.get(&dst) {
                    Some(&port) => {
                        self.deliver6(tracking, me, port, true, from, router, ip, reply, now)
                    }
                    None => Verdict::Drop(DropReason::NoHost),
                }
            }
            Some(Hop::Interface(port)) => {
                self.deliver6(tracking, me, port, false, from, router, ip, reply, now)
            }
            Some(Hop::Internet) => {
                // The gateway carries the VPC's own addresses out, untranslated.
                if !vpc.contains6(src) {
                    return Verdict::Drop(DropReason::NoPublicIp);
                }
                if let Some(verdict) = self.leave_at_edge6(tracking, me, from, router, ip, reply) {
                    return verdict;
                }
                ip.decrement_hop_limit();
                Verdict::Forward { port: INTERNET, len }
            }
            Some(Hop::EgressOnly) => {
                if !vpc.contains6(src) {
                    return Verdict::Drop(DropReason::NoPublicIp);
                }
                if let Some(verdict) = self.leave_at_edge6(tracking, me, from, router, ip, reply) {
                    return verdict;
                }
                // Its replies, and nothing else, may come back in. (An ICMPv6 error the
                // instance sends opens nothing: it belongs to a flow from outside.)
                if ip.icmp_quoted().is_none() {
                    let key = flow_key(EGRESS_ONLY_ZONE, ip, true);
                    let flags = ip.tcp_flags();
                    let timeouts = &Timeouts::INTERFACE;
                    if !tracking.egress_only.track(key, 0, true, flags, timeouts, now) {
                        return Verdict::Drop(DropReason::ConntrackAllowanceExceeded);
                    }
                }
                ip.decrement_hop_limit();
                Verdict::Forward { port: INTERNET, len }
            }
            Some(Hop::Nat(index)) => {
                let Some(nat) = self.nats.get(index as usize) else {
                    return Verdict::Drop(DropReason::Blackhole);
                };
                tracking.note(|| Step::NatGateway { index });
                self.nat64_egress(tracking, me, nat, from, router, ip, reply, now)
            }
            Some(Hop::TransitGateway(_) | Hop::VpnGateway(_) | Hop::Endpoint) => {
                Verdict::Drop(DropReason::Ipv6NotCarried)
            }
        }
    }

    /// Out through a NAT gateway's NAT64 (AWS: always on): a packet to
    /// `64:ff9b::a.b.c.d` leaves as IPv4 to `a.b.c.d` from the gateway's address and a
    /// port of its own, shared with its IPv4 flows. On the way: the sender's subnet's
    /// outbound ACL and the router's hop (IPv6), the gateway's subnet's inbound ACL
    /// (IPv6) and outbound ACL (IPv4, translated), the gateway's hop, the 1500-byte edge
    /// (Packet Too Big with 1520: the translation is 20 bytes shorter). A public
    /// gateway's flows leave by the internet gateway its subnet routes to, with its
    /// Elastic IP; a private gateway's go on with its own address through the transit
    /// gateway its subnet routes to, as its IPv4 flows do (no error comes back from
    /// there: one the hub would owe about the translation is not built).
    #[allow(clippy::too_many_arguments)]
    fn nat64_egress(
        &self,
        tracking: &mut Tracking,
        me: &InstancePort,
        nat: &NatEntry,
        from: Port,
        router: Ipv6Addr,
        ip: &mut Ipv6<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let Some(dst4) = Prefix96::WELL_KNOWN.extract(ip.dst()) else {
            return Verdict::Drop(DropReason::Ipv6NotCarried);
        };
        let onward = self
            .tables
            .get(nat.table as usize)
            .and_then(|t| t.lpm.lookup(dst4).and_then(|r| t.hops.get(r as usize).copied()));
        let attachment = match (nat.public, onward) {
            (true, Some(Hop::Internet)) => None,
            (false, Some(Hop::TransitGateway(attachment))) => Some(attachment),
            (false, Some(Hop::Internet)) => return Verdict::Drop(DropReason::NatPrivateToInternet),
            _ => return Verdict::Drop(DropReason::NoRoute),
        };
        if let Err(reason) = self.acl_check(tracking, me.acl, true, ip) {
            return Verdict::Drop(reason);
        }
        if nat.public && wire_len6(ip) > EDGE_MTU + NAT64_SHRINK {
            let mtu = (EDGE_MTU + NAT64_SHRINK) as u32;
            let reason = DropReason::TooBig;
            return error6(ip, from, router, reply, icmp6::PACKET_TOO_BIG, 0, mtu, reason);
        }
        // The router's hop, then the gateway's.
        if ip.hop_limit() <= 2 {
            let (kind, code) = (icmp6::TIME_EXCEEDED, icmp6::HOP_LIMIT_EXCEEDED);
            return error6(ip, from, router, reply, kind, code, 0, DropReason::TtlExceeded);
        }
        let proto = match (ip.protocol(), ip.icmp_type()) {
            (proto::TCP, _) => Proto::Tcp,
            (proto::UDP, _) => Proto::Udp,
            (proto::ICMPV6, Some(icmp6::ECHO_REQUEST)) => Proto::Icmp,
            _ => return Verdict::Drop(DropReason::NatUnsupported),
        };
        let Some((sport, dport)) = ip.ports() else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        if let Err(reason) = self.acl_check(tracking, nat.acl, false, ip) {
            return Verdict::Drop(reason);
        }
        // Translated before a port is taken: what cannot be translated, or what a public
        // gateway's subnet does not let out, holds none. (So the outbound ACL sees the
        // instance's source port; the gateway's goes in after it. A private gateway's
        // way out is checked in the hub, after the port is taken, as for its IPv4 flows.)
        ip.decrement_hop_limit();
        let offload = ip.offload();
        let Ok(len) = nat64::six_to_four_offloaded(ip.bytes(), nat.outside, dst4, offload, reply)
        else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        let Ok(out) = Ipv4::new_checked(&mut reply[..len]) else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        let mut out = out.with_offload(offload);
        if out.is_later_fragment() {
            // No ports of its own: its first fragment's, as the IPv6 one had.
            out.set_head(Head { sport, dport, icmp_type: 0, icmp_code: 0 });
        }
        // (A private gateway's packet leaves its subnet through the hub, which checks the
        // way out.)
        if attachment.is_none() {
            if let Err(reason) = self.acl_check(tracking, nat.acl, true, &out) {
                return Verdict::Drop(reason);
            }
        }
        let Some((table, table64)) = tracking.both_mut(nat.slot) else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        let (src, dst) = (ip.src_bits(), ip.dst_bits());
        let tuple = Tuple { proto, src, dst, sport, dport };
        // Its port must be free of the gateway's IPv4 flows to the same end too.
        let dst_bits = u32::from(dst4);
        let taken = |proto, port| table.holds_outside(proto, dst_bits, dport, port, now);
        let port = match table64.outbound_beside(tuple, ip.tcp_flags(), now, taken) {
            Outbound::Translate { port, .. } => port,
            // A segment of a flow the gateway no longer has: a reset tells the instance
            // (from the host's 64:ff9b:: address), as for NAT44.
            Outbound::Reset => {
                return match crate::wire6::tcp_reset(reply, &ip.reborrow()) {
                    Some(len) => Verdict::Reply { port: from, len, reason: DropReason::NatReset },
                    None => Verdict::Drop(DropReason::NatReset),
                };
            }
            Outbound::Drop(Outcome::PortExhausted) => {
                return Verdict::Drop(DropReason::NatPortExhausted);
            }
            Outbound::Drop(Outcome::TableFull) => return Verdict::Drop(DropReason::NatTableFull),
            Outbound::Drop(_) => return Verdict::Drop(DropReason::NatNoFlow),
        };
        out.set_port(Side::Src, port);
        let inside = ip.src();
        tracking.note(|| Step::Translate6 { inside, outside: nat.outside, port });
        let shift = out.header_len() as i16 - ip.header_len() as i16;
        let Some(attachment) = attachment else {
            out.decrement_ttl();
            return Verdict::Translated { port: INTERNET, len, shift };
        };
        // On as the gateway's own IPv4 packet: its subnet's router, the hub (the hops a
        // private gateway's IPv4 flows take too). The translation fills the reply
        // buffer, so the hub gets none to build errors in.
        let me = nat.as_sender();
        let router = std::net::Ipv4Addr::from(u32::from(nat.subnet.network()) + 1);
        match self.transit(tracking, &me, from, router, attachment, &mut out, &mut [], now) {
            // (Through the hub to an interface endpoint and on to its service: the edge's
            // 1500 bytes, with no error to build the IPv6 sender one in.)
            Verdict::Forward { port: INTERNET, len } if len > EDGE_MTU => {
                Verdict::Drop(DropReason::TooBig)
            }
            Verdict::Forward { port, len } => Verdict::Translated { port, len, shift },
            Verdict::Drop(reason) | Verdict::Reply { reason, .. } => Verdict::Drop(reason),
            // (Another gateway's translation, or the VPC's services: none is reached
            // through a hub by a NAT gateway's own packet.)
            Verdict::Translated { .. } | Verdict::Service { .. } => {
                Verdict::Drop(DropReason::NatUnsupported)
            }
        }
    }

    /// A reply (or an ICMP error) from the IPv4 world to one of a NAT gateway's NAT64
    /// flows, which its IPv4 flows did not claim: translated to IPv6 from
    /// `64:ff9b::<source>` to the inside address and port, then the gateway's subnet's
    /// outbound ACL, the receiver's subnet's inbound ACL and groups (IPv6). The caller
    /// checked the ACL the IPv4 packet crossed to reach the gateway.
    pub(crate) fn nat64_ingress<const EDGE: bool>(
        &self,
        tracking: &mut Tracking,
        nat: &NatEntry,
        outside: &OutsideTuple,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let Some((_, table64)) = tracking.both_mut(nat.slot) else {
            return Verdict::Drop(DropReason::NatNoFlow);
        };
        let remote = Prefix96::WELL_KNOWN.bits() | u128::from(outside.remote);
        let Some((inside, inside_port)) = outside.find(table64, remote, true, now) else {
            return Verdict::Drop(DropReason::NatNoFlow);
        };
        let inside = Ipv6Addr::from(inside);
        let Some(&port) = self.vpcs.get(nat.vpc as usize).and_then(|v| v.hosts6.get(&inside))
        else {
            return Verdict::Drop(DropReason::NoHost);
        };
        let PortEntry::Instance(dest) = self.port(port) else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        if EDGE {
            if let Some(verdict) = expire(ip, INTERNET, EDGE_ADDRESS, reply) {
                return verdict;
            }
        } else if ip.ttl() <= 1 {
            return Verdict::Drop(DropReason::TtlExceeded);
        }
        ip.decrement_ttl();
        // The inside port first, on the IPv4 packet; then the translation.
        if outside.quoted {
            ip.set_quoted_src_port(inside_port);
        } else if ip.protocol() == proto::ICMP {
            ip.set_port(Side::Src, inside_port);
        } else {
            ip.set_port(Side::Dst, inside_port);
        }
        let source = nat64::embed(Prefix96::WELL_KNOWN, ip.src());
        let offload = ip.offload();
        let Ok(len) = nat64::four_to_six_offloaded(ip.bytes(), source, inside, offload, reply)
        else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        let Ok(out) = Ipv6::new_checked(&mut reply[..len]) else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        let mut out = out.with_offload(offload);
        if out.is_later_fragment() {
            // No ports of its own: its first fragment's, as the IPv4 one had.
            let (sport, dport) = ip.ports().unwrap_or((0, 0));
            out.set_head(Head { sport, dport, icmp_type: 0, icmp_code: 0 });
        }
        tracking.note(|| Step::Translate6 { inside, outside: nat.outside, port: inside_port });
        if let Err(reason) = self
            .acl_check(tracking, nat.acl, true, &out)
            .and_then(|()| self.acl_in(tracking, port, &out))
        {
            return Verdict::Drop(reason);
        }
        if let Err(reason) = self.admit6(tracking, port, &dest, true, &out, now) {
            return Verdict::Drop(reason);
        }
        let shift = out.header_len() as i16 - ip.header_len() as i16;
        Verdict::Translated { port, len, shift }
    }

    /// Leaving the VPC at the edge: the subnet's outbound ACL, the 1500-byte edge
    /// (ICMPv6 Packet Too Big: no router fragments IPv6), the router's hop.
    fn leave_at_edge6(
        &self,
        tracking: &mut Tracking,
        me: &InstancePort,
        from: Port,
        router: Ipv6Addr,
        ip: &mut Ipv6<&mut [u8]>,
        reply: &mut [u8],
    ) -> Option<Verdict> {
        if let Err(reason) = self.acl_check(tracking, me.acl, true, ip) {
            return Some(Verdict::Drop(reason));
        }
        if wire_len6(ip) > EDGE_MTU {
            let mtu = EDGE_MTU as u32;
            return Some(error6(
                ip,
                from,
                router,
                reply,
                icmp6::PACKET_TOO_BIG,
                0,
                mtu,
                DropReason::TooBig,
            ));
        }
        expire6(ip, from, router, reply)
    }

    /// A routed hop to interface `port` in a VPC: both subnets' ACLs (none between two
    /// interfaces of one subnet), the router's hop, the receiver's groups. `addressed`:
    /// the port was found by the destination address, so it holds it (no second lookup
    /// for the destination check).
    #[allow(clippy::too_many_arguments)]
    fn deliver6(
        &self,
        tracking: &mut Tracking,
        me: &InstancePort,
        port: Port,
        addressed: bool,
        from: Port,
        router: Ipv6Addr,
        ip: &mut Ipv6<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        if port >= ENDPOINT_TARGET {
            return Verdict::Drop(DropReason::Ipv6NotCarried);
        }
        let dest = match self.port(port) {
            PortEntry::Instance(dest) => Some(dest),
            _ => None,
        };
        // (By IPv6 block: every IPv6-only subnet's IPv4 block is the same `NO_IPV4`.)
        let within = dest.is_some_and(|d| d.subnet6 == me.subnet6 && d.vpc == me.vpc);
        if !within {
            if let Err(reason) = self
                .acl_check(tracking, me.acl, true, ip)
                .and_then(|()| self.acl_in(tracking, port, ip))
            {
                return Verdict::Drop(reason);
            }
        }
        if let Some(verdict) = expire6(ip, from, router, reply) {
            return verdict;
        }
        let Some(dest) = dest else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        if let Err(reason) = self.admit6(tracking, port, &dest, addressed, ip, now) {
            return Verdict::Drop(reason);
        }
        let len = ip.total_len();
        ip.decrement_hop_limit();
        Verdict::Forward { port, len }
    }

    /// From the internet to an address of a VPC's IPv6 block: in through its internet
    /// gateway, or, without one, only as the reply of a flow out through its egress-only
    /// gateway; then the edge's hop, the subnet's inbound ACL and the instance's groups.
    fn ingress6(
        &self,
        tracking: &mut Tracking,
        ip: &mut Ipv6<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let (src, dst) = (ip.src(), ip.dst());
        // Nothing from the internet claims an address no router forwards, or one of a
        // VPC's own (which would pass for a member of a group).
        if !routable(src) || self.blocks6.lookup(src).is_some() {
            return Verdict::Drop(DropReason::NotRoutable);
        }
        let Some(index) = self.blocks6.lookup(dst) else {
            return Verdict::Drop(DropReason::NoPublicMapping);
        };
        let Some(vpc) = self.vpcs.get(index as usize) else {
            return Verdict::Drop(DropReason::NoPublicMapping);
        };
        if !vpc.internet && !self.expected_by_egress_only(tracking, ip, now) {
            return Verdict::Drop(DropReason::EgressOnlyInbound);
        }
        let Some(&port) = vpc.hosts6.get(&dst) else {
            return Verdict::Drop(DropReason::NoHost);
        };
        let PortEntry::Instance(instance) = self.port(port) else {
            return Verdict::Drop(DropReason::Ipv6NotCarried);
        };
        if let Some(verdict) = expire6(ip, INTERNET, EDGE_ADDRESS6, reply) {
            return verdict;
        }
        tracking.receiver = Some(port);
        let len = ip.total_len();
        ip.decrement_hop_limit();
        if let Err(reason) = self.acl_check(tracking, instance.acl, false, ip) {
            return Verdict::Drop(reason);
        }
        if let Err(reason) = self.sg_check(tracking, port, instance.rules, ip, false, now) {
            return Verdict::Drop(reason);
        }
        Verdict::Forward { port, len }
    }

    /// Whether a packet from the internet continues a flow out through an egress-only
    /// gateway (refreshing it), or is an ICMPv6 error about one.
    fn expected_by_egress_only(
        &self,
        tracking: &mut Tracking,
        ip: &Ipv6<&mut [u8]>,
        now: u64,
    ) -> bool {
        if let Some((protocol, src, dst, a, b)) = ip.icmp_quoted() {
            // The quoted packet went out: its source is the inside end.
            let (local_port, remote_port) = if protocol == proto::ICMPV6 { (a, 0) } else { (a, b) };
            let zone = EGRESS_ONLY_ZONE;
            let key = FlowKey { zone, protocol, local: src, local_port, remote: dst, remote_port };
            return tracking.egress_only.peek(&key, now).is_some();
        }
        let key = flow_key(EGRESS_ONLY_ZONE, ip, false);
        let flags = ip.tcp_flags();
        tracking.egress_only.hit(&key, false, flags, &Timeouts::INTERFACE, now).is_some()
    }

    /// [`Snapshot::admit6`] at the port that holds the destination address.
    fn admit_at(
        &self,
        tracking: &mut Tracking,
        port: Port,
        ip: &Ipv6<&mut [u8]>,
        now: u64,
    ) -> Result<(), DropReason> {
        match self.port(port) {
            PortEntry::Instance(dest) => self.admit6(tracking, port, &dest, true, ip, now),
            _ => Err(DropReason::UnknownPort),
        }
    }

    /// [`Snapshot::sg_check`] for arrival at `port` (the interface `dest`), with AWS's
    /// destination check: an interface that keeps it receives only what is addressed
    /// to it — known already when the port was found by the destination (`addressed`).
    fn admit6(
        &self,
        tracking: &mut Tracking,
        port: Port,
        dest: &InstancePort,
        addressed: bool,
        ip: &Ipv6<&mut [u8]>,
        now: u64,
    ) -> Result<(), DropReason> {
        if dest.source_dest_check && !addressed {
            let holder = self.vpcs.get(dest.vpc as usize).and_then(|v| v.hosts6.get(&ip.dst()));
            if holder != Some(&port) {
                return Err(DropReason::DestinationCheck);
            }
        }
        self.sg_check(tracking, port, dest.rules, ip, false, now)
    }
}

/// A fragment: a first one's head is remembered for the later ones, a later one gets
/// its datagram's head (or is dropped without it), so that every fragment is decided as
/// its first — as [`crate::pipeline`] does for IPv4. Off the common path.
#[cold]
#[inline(never)]
fn fragment6(
    tracking: &mut Tracking,
    from: Port,
    ip: &mut Ipv6<&mut [u8]>,
    now: u64,
) -> Option<Verdict> {
    let datagram = ip.datagram(from)?;
    if ip.is_later_fragment() {
        return match tracking.fragments6.recall(&datagram, now) {
            Some(head) => {
                ip.set_head(head);
                None
            }
            None => Some(Verdict::Drop(DropReason::FragmentUntracked)),
        };
    }
    if let Some(head) = ip.head() {
        tracking.fragments6.remember(datagram, head, now);
    }
    None
}

/// The size of the largest packet this becomes on a link (see
/// [`crate::wire::Ipv4::wire_len`]).
fn wire_len6(ip: &Ipv6<&mut [u8]>) -> usize {
    crate::wire::largest_segment(
        ip.total_len(),
        ip.header_len(),
        ip.protocol(),
        ip.l4(),
        ip.offload().gso_size,
    )
}

/// If the hop limit would run out at this hop: the drop, with an ICMPv6 Time Exceeded
/// from `router` back to `from` when one may be sent.
fn expire6(
    ip: &Ipv6<&mut [u8]>,
    from: Port,
    router: Ipv6Addr,
    reply: &mut [u8],
) -> Option<Verdict> {
    if ip.hop_limit() > 1 {
        return None;
    }
    let (kind, code) = (icmp6::TIME_EXCEEDED, icmp6::HOP_LIMIT_EXCEEDED);
    Some(error6(ip, from, router, reply, kind, code, 0, DropReason::TtlExceeded))
}

#[allow(clippy::too_many_arguments)]
fn error6(
    ip: &Ipv6<&mut [u8]>,
    from: Port,
    source: Ipv6Addr,
    reply: &mut [u8],
    kind: u8,
    code: u8,
    rest: u32,
    reason: DropReason,
) -> Verdict {
    match icmp_error(reply, source, &ip.reborrow(), kind, code, rest) {
        Some(len) => Verdict::Reply { port: from, len, reason },
        None => Verdict::Drop(reason),
    }
}

#[cfg(test)]
mod tests {
    use vpclab_model::{
        InstanceId, Ipv6Request, Model, Peer, Protocol, RouteSpec, RouteTarget, RunInstance,
        SecurityGroupId, SgRule, SubnetId, Tags, VpcId,
    };

    use super::*;
    use crate::pipeline::REPLY_BUFFER;
    use crate::snapshot::{PortMap, compile};
    use crate::wire6::ipv6_packet;

    /// Two dual-stack VPCs: `open` with an internet gateway (`::/0` to it from subnet
    /// one; subnet two without an IPv6 default route), `closed` with an egress-only
    /// gateway (`::/0` to it).
    struct Lab {
        model: Model,
        ports: PortMap,
        snapshot: Snapshot,
        tracking: Tracking,
        now: u64,
        /// Instances: two in subnet one, one in subnet two of `open`; one in `closed`.
        a: (Port, Ipv6Addr),
        b: (Port, Ipv6Addr),
        c: (Port, Ipv6Addr),
        d: (Port, Ipv6Addr),
        open_group: SecurityGroupId,
        one: SubnetId,
    }

    /// An internet host (the check-ip host of DESIGN.md).
    const HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);

    fn dual_stack(m: &mut Model, n: u8) -> (VpcId, Ipv6Net, [SubnetId; 2]) {
        let vpc = m.create_vpc(format!("10.{n}.0.0/16").parse().unwrap(), Tags::new()).unwrap();
        let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
        let subnet = |m: &mut Model, i: u8| {
            let cidr = format!("10.{n}.{i}.0/24").parse().unwrap();
            let s = m.create_subnet(&vpc, cidr, None, Tags::new()).unwrap();
            let six =
                Ipv6Net::new(Ipv6Addr::from(u128::from(block.network()) | u128::from(i) << 64), 64)
                    .unwrap();
            m.associate_subnet_ipv6(&s, six).unwrap();
            s
        };
        let subnets = [subnet(m, 1), subnet(m, 2)];
        (vpc, block, subnets)
    }

    fn launch(m: &mut Model, subnet: &SubnetId) -> InstanceId {
        m.run_instance(RunInstance {
            subnet: Some(subnet.clone()),
            ipv6: Ipv6Request::Count(1),
            ..Default::default()
        })
        .unwrap()
    }

    fn default_route(m: &mut Model, table: &vpclab_model::RouteTableId, target: RouteTarget) {
        let spec = RouteSpec { destination: "::/0".parse().unwrap(), target };
        m.create_ipv6_route(table, spec).unwrap();
    }

    fn lab() -> Lab {
        let mut m = Model::new(6);
        let (open, _, [one, two]) = dual_stack(&mut m, 0);
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &open).unwrap();
        let table = m.create_route_table(&open, Tags::new()).unwrap();
        default_route(&mut m, &table, RouteTarget::Gateway(igw));
        m.associate_route_table(&table, &one).unwrap();
        let first = one.clone();
        let (closed, _, [three, _]) = dual_stack(&mut m, 1);
        let eigw = m.create_egress_only_gateway(&closed, Tags::new()).unwrap();
        let main = m.vpc(&closed).unwrap().main_route_table.clone();
        default_route(&mut m, &main, RouteTarget::EgressOnlyGateway(eigw));
        let ids = [launch(&mut m, &one), launch(&mut m, &one), launch(&mut m, &two)];
        let d = launch(&mut m, &three);
        // Each group lets ICMPv6 in from anywhere.
        let icmp6 =
            SgRule::new(Protocol::Icmpv6, -1, -1, Peer::Cidr6("::/0".parse().unwrap()), None)
                .unwrap();
        let open_group = m.vpc(&open).unwrap().default_security_group.clone().unwrap();
        let closed_group = m.vpc(&closed).unwrap().default_security_group.clone().unwrap();
        for g in [&open_group, &closed_group] {
            m.authorize(g, false, vec![icmp6.clone()]).unwrap();
        }
        let mut ports = PortMap::new();
        let [a, b, c] = ids.map(|i| (ports.assign(&i), m.instance(&i).unwrap().ipv6_addresses[0]));
        let d = (ports.assign(&d), m.instance(&d).unwrap().ipv6_addresses[0]);
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        Lab { model: m, ports, snapshot, tracking, now: 0, a, b, c, d, open_group, one: first }
    }

    impl Lab {
        fn run(&mut self, from: Port, packet: &mut [u8]) -> (Verdict, Vec<u8>) {
            let mut reply = vec![0u8; REPLY_BUFFER];
            let verdict =
                self.snapshot.process(&mut self.tracking, from, packet, &mut reply, self.now);
            if let Verdict::Reply { len, .. } = verdict {
                reply.truncate(len);
            }
            (verdict, reply)
        }

        fn recompile(&mut self) {
            self.snapshot = compile(&self.model, &mut self.ports, 2);
        }
    }

    /// An ICMPv6 echo request (checksum left 0: the router does not check it).
    fn ping(src: Ipv6Addr, dst: Ipv6Addr, hops: u8, id: u16) -> Vec<u8> {
        let mut icmp = vec![icmp6::ECHO_REQUEST, 0, 0, 0];
        icmp.extend(id.to_be_bytes());
        icmp.extend([0, 1]);
        ipv6_packet(src, dst, hops, proto::ICMPV6, &icmp)
    }

    fn pong(src: Ipv6Addr, dst: Ipv6Addr, id: u16) -> Vec<u8> {
        let mut p = ping(src, dst, 64, id);
        p[40] = icmp6::ECHO_REPLY;
        p
    }

    fn hop_limit(p: &[u8]) -> u8 {
        p[7]
    }

    #[test]
    fn inside_a_subnet_and_between_subnets_by_the_local_route() {
        let mut lab = lab();
        let (a, b, c) = (lab.a, lab.b, lab.c);
        let mut p = ping(a.1, b.1, 64, 1);
        assert_eq!(lab.run(a.0, &mut p).0, Verdict::Forward { port: b.0, len: p.len() });
        assert_eq!(hop_limit(&p), 64, "one subnet: no router hop");
        let mut p = ping(a.1, c.1, 64, 2);
        assert_eq!(lab.run(a.0, &mut p).0, Verdict::Forward { port: c.0, len: p.len() });
        assert_eq!(hop_limit(&p), 63, "the router's hop");
        // The reply of a tracked flow needs no rule of its own.
        let mut back = pong(c.1, a.1, 2);
        assert!(matches!(lab.run(c.0, &mut back).0, Verdict::Forward { .. }));
    }

    #[test]
    fn a_source_that_is_not_the_interfaces_is_dropped() {
        let mut lab = lab();
        let (a, b) = (lab.a, lab.b);
        let mut spoofed = ping(b.1, HOST, 64, 1);
        assert_eq!(lab.run(a.0, &mut spoofed).0, Verdict::Drop(DropReason::SourceCheck));
        let mut v4_only_source = ping(Ipv6Addr::LOCALHOST, b.1, 64, 1);
        assert_eq!(lab.run(a.0, &mut v4_only_source).0, Verdict::Drop(DropReason::SourceCheck));
    }

    #[test]
    fn the_internet_gateway_carries_ipv6_both_ways_untranslated() {
        let mut lab = lab();
        let a = lab.a;
        let mut out = ping(a.1, HOST, 64, 7);
        let sent = out.clone();
        assert_eq!(lab.run(a.0, &mut out).0, Verdict::Forward { port: INTERNET, len: out.len() });
        assert_eq!(&out[8..40], &sent[8..40], "addresses unchanged");
        let mut back = pong(HOST, a.1, 7);
        assert_eq!(lab.run(INTERNET, &mut back).0, Verdict::Forward { port: a.0, len: back.len() });
        // A TCP connection out: its answer needs no rule (the group admits no TCP from
        // outside), being a tracked flow's.
        let mut syn = ipv6_packet(a.1, HOST, 64, proto::TCP, &tcp_syn(40001, 80));
        assert!(matches!(lab.run(a.0, &mut syn).0, Verdict::Forward { .. }));
        let mut syn_ack = tcp_syn(80, 40001);
        syn_ack[13] = 0x12;
        let mut answer = ipv6_packet(HOST, a.1, 64, proto::TCP, &syn_ack);
        assert!(matches!(lab.run(INTERNET, &mut answer).0, Verdict::Forward { .. }));
        // Unsolicited, the groups decide: ICMPv6 is open, TCP is not.
        let mut unsolicited = ping(HOST, a.1, 64, 8);
        assert!(matches!(lab.run(INTERNET, &mut unsolicited).0, Verdict::Forward { .. }));
        let mut syn = ipv6_packet(HOST, a.1, 64, proto::TCP, &tcp_syn(40000, 22));
        assert_eq!(lab.run(INTERNET, &mut syn).0, Verdict::Drop(DropReason::SgIngress));
    }

    #[test]
    fn without_an_ipv6_default_route_there_is_no_internet() {
        let mut lab = lab();
        let c = lab.c;
        let mut out = ping(c.1, HOST, 64, 1);
        assert_eq!(lab.run(c.0, &mut out).0, Verdict::Drop(DropReason::NoRoute));
    }

    #[test]
    fn the_egress_only_gateway_lets_replies_in_and_nothing_unsolicited() {
        let mut lab = lab();
        let d = lab.d;
        let mut unsolicited = ping(HOST, d.1, 64, 3);
        assert_eq!(
            lab.run(INTERNET, &mut unsolicited).0,
            Verdict::Drop(DropReason::EgressOnlyInbound)
        );
        let mut out = ping(d.1, HOST, 64, 3);
        assert_eq!(lab.run(d.0, &mut out).0, Verdict::Forward { port: INTERNET, len: out.len() });
        let mut back = pong(HOST, d.1, 3);
        assert_eq!(lab.run(INTERNET, &mut back).0, Verdict::Forward { port: d.0, len: back.len() });
        // Another identifier is another flow, which nobody opened.
        let mut other = pong(HOST, d.1, 4);
        assert_eq!(lab.run(INTERNET, &mut other).0, Verdict::Drop(DropReason::EgressOnlyInbound));
        // ICMPv6 flows idle out as ICMP's do (30 s), not as other protocols' (600 s).
        lab.now = 29_000;
        let mut still = pong(HOST, d.1, 3);
        assert!(matches!(lab.run(INTERNET, &mut still).0, Verdict::Forward { .. }));
        lab.now = 29_000 + 31_000;
        let mut late = pong(HOST, d.1, 3);
        assert_eq!(lab.run(INTERNET, &mut late).0, Verdict::Drop(DropReason::EgressOnlyInbound));
    }

    #[test]
    fn egress_only_flows_outlive_other_vpcs_coming_and_going() {
        let mut lab = lab();
        let d = lab.d;
        let closed = lab.model.instances().find(|i| i.ipv6_addresses.contains(&d.1)).unwrap();
        let vpc = closed.vpc.clone();
        let index = |m: &Model| m.vpcs().position(|v| v.id == vpc).unwrap();
        let before = index(&lab.model);
        let mut out = ping(d.1, HOST, 64, 5);
        assert!(matches!(lab.run(d.0, &mut out).0, Verdict::Forward { .. }));
        // New VPCs move `closed` in the snapshot's order (ids sort at random).
        for n in 10..30u8 {
            let cidr = format!("10.{n}.0.0/16").parse().unwrap();
            lab.model.create_vpc(cidr, Tags::new()).unwrap();
            if index(&lab.model) != before {
                break;
            }
        }
        assert_ne!(index(&lab.model), before, "the VPC's index moved");
        lab.recompile();
        let mut back = pong(HOST, d.1, 5);
        assert!(matches!(lab.run(INTERNET, &mut back).0, Verdict::Forward { .. }));
    }

    #[test]
    fn addresses_no_router_forwards_are_dropped_both_ways() {
        let mut lab = lab();
        let (a, b) = (lab.a, lab.b);
        for dst in ["ff02::1", "ff0e::1", "fe80::1", "::1", "fd00:ec2::123", "fd00:ec2::1"] {
            let mut p = ping(a.1, dst.parse().unwrap(), 64, 1);
            assert_eq!(lab.run(a.0, &mut p).0, Verdict::Drop(DropReason::NotRoutable), "{dst}");
        }
        // The VPC's own DNS and metadata addresses are answered, not routed.
        for service in [DNS6, IMDS6] {
            let mut p = ping(a.1, service, 64, 1);
            assert!(matches!(lab.run(a.0, &mut p).0, Verdict::Service { .. }));
        }
        // From the internet: no link-local or multicast source, and none of a VPC's own
        // addresses (the default group admits its members: a forged member must not pass).
        for src in ["fe80::1".parse().unwrap(), "ff02::1".parse().unwrap(), b.1] {
            let mut p = ipv6_packet(src, a.1, 64, proto::TCP, &tcp_syn(40000, 22));
            assert_eq!(lab.run(INTERNET, &mut p).0, Verdict::Drop(DropReason::NotRoutable));
        }
    }

    #[test]
    fn the_edge_answers_packet_too_big_and_the_router_time_exceeded() {
        let mut lab = lab();
        let (a, c) = (lab.a, lab.c);
        let mut big = ipv6_packet(a.1, HOST, 64, proto::UDP, &udp(5000, 53, &[0; 1600]));
        let (verdict, reply) = lab.run(a.0, &mut big);
        assert!(
            matches!(verdict, Verdict::Reply { port, reason: DropReason::TooBig, .. } if port == a.0)
        );
        assert_eq!(reply[40], icmp6::PACKET_TOO_BIG);
        assert_eq!(u32::from_be_bytes(reply[44..48].try_into().unwrap()), 1500);
        assert_eq!(&reply[24..40], &a.1.octets(), "to the sender");
        assert!(reply.len() <= 1280);
        let mut last = ping(a.1, c.1, 1, 9);
        let (verdict, reply) = lab.run(a.0, &mut last);
        assert!(matches!(verdict, Verdict::Reply { reason: DropReason::TtlExceeded, .. }));
        assert_eq!(reply[40], icmp6::TIME_EXCEEDED);
        let subnet: Ipv6Net = Ipv6Net::new(a.1, 64).unwrap().trunc();
        assert_eq!(&reply[8..24], &router6(subnet).octets(), "from the subnet router");
    }

    #[test]
    fn groups_and_acls_apply_their_ipv6_rules() {
        let mut lab = lab();
        let (a, c) = (lab.a, lab.c);
        // Without the ::/0 egress rule, nothing new leaves over IPv6 (IPv4 keeps its own).
        let group = lab.open_group.clone();
        let egress = lab.model.security_group(&group).unwrap().egress.clone();
        let six: Vec<SgRule> =
            egress.iter().filter(|r| matches!(r.peer, Peer::Cidr6(_))).cloned().collect();
        assert!(!six.is_empty(), "a dual-stack VPC's default group allows ::/0 out");
        lab.model.revoke(&group, true, &six).unwrap();
        lab.recompile();
        let mut out = ping(a.1, HOST, 64, 1);
        assert_eq!(lab.run(a.0, &mut out).0, Verdict::Drop(DropReason::SgEgress));
        lab.model.authorize(&group, true, six).unwrap();
        lab.recompile();
        let mut p = ping(a.1, c.1, 64, 5);
        assert!(matches!(lab.run(a.0, &mut p).0, Verdict::Forward { .. }));
        // An IPv6 deny ahead of the default ACL's rule 101 stops it between subnets; an
        // IPv4 entry for the same subnets changes nothing.
        let subnet_c = Ipv6Net::new(c.1, 64).unwrap().trunc();
        let acl = lab.model.network_acl_of(&lab.one).unwrap().id.clone();
        let deny = |n, cidr: ipnet::IpNet| {
            vpclab_model::AclEntry::new(n, true, Protocol::All, false, cidr, None, None).unwrap()
        };
        let v4: ipnet::IpNet = "10.0.2.0/24".parse().unwrap();
        lab.model.create_network_acl_entry(&acl, deny(40, v4)).unwrap();
        lab.recompile();
        let mut p = ping(a.1, c.1, 64, 6);
        assert!(matches!(lab.run(a.0, &mut p).0, Verdict::Forward { .. }));
        lab.model.create_network_acl_entry(&acl, deny(50, subnet_c.into())).unwrap();
        lab.recompile();
        let mut p = ping(a.1, c.1, 64, 7);
        assert_eq!(lab.run(a.0, &mut p).0, Verdict::Drop(DropReason::NaclOut));
        // Within subnet one, no ACL applies.
        let b = lab.b;
        let mut p = ping(a.1, b.1, 64, 8);
        assert!(matches!(lab.run(a.0, &mut p).0, Verdict::Forward { .. }));
    }

    #[test]
    fn acls_apply_between_two_ipv6_only_subnets() {
        let mut m = Model::new(7);
        let (vpc, block, _) = dual_stack(&mut m, 0);
        let only = |m: &mut Model, n: u128| {
            let net = Ipv6Net::new(Ipv6Addr::from(u128::from(block.network()) | n << 64), 64);
            m.create_ipv6_native_subnet(&vpc, net.unwrap(), None, Tags::new()).unwrap()
        };
        let (x, y) = (only(&mut m, 8), only(&mut m, 9));
        let launched = [launch(&mut m, &x), launch(&mut m, &y), launch(&mut m, &x)];
        let group = m.vpc(&vpc).unwrap().default_security_group.clone().unwrap();
        let icmp6 = SgRule::new(Protocol::Icmpv6, -1, -1, Peer::Cidr6(block), None).unwrap();
        m.authorize(&group, false, vec![icmp6]).unwrap();
        let mut ports = PortMap::new();
        let [a, b, c] =
            launched.map(|i| (ports.assign(&i), m.instance(&i).unwrap().ipv6_addresses[0]));
        let y_block = m.subnet(&y).unwrap().ipv6_cidr().unwrap();
        let mut run = |m: &Model, from: (Port, Ipv6Addr), to: (Port, Ipv6Addr), id| {
            let snapshot = compile(m, &mut ports, u64::from(id));
            let mut tracking = Tracking::new(64);
            tracking.sync(&snapshot);
            let mut reply = vec![0u8; REPLY_BUFFER];
            let mut p = ping(from.1, to.1, 64, id);
            snapshot.process(&mut tracking, from.0, &mut p, &mut reply, 0)
        };
        assert!(matches!(run(&m, a, b, 1), Verdict::Forward { .. }));
        // A deny of `y`'s block in `x`'s ACL: between the subnets, out of `x` is stopped;
        // inside `x`, no ACL applies.
        let acl = m.network_acl_of(&x).unwrap().id.clone();
        let y_block = ipnet::IpNet::from(y_block);
        let deny = vpclab_model::AclEntry::new(50, true, Protocol::All, false, y_block, None, None);
        m.create_network_acl_entry(&acl, deny.unwrap()).unwrap();
        assert_eq!(run(&m, a, b, 2), Verdict::Drop(DropReason::NaclOut));
        assert!(matches!(run(&m, a, c, 3), Verdict::Forward { .. }));
    }

    /// A fragment of a UDP datagram: a Fragment header (identification `id`, offset in
    /// 8-byte units) and `data`.
    fn udp_fragment(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        id: u32,
        offset: u16,
        more: bool,
        data: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![proto::UDP, 0];
        f.extend((offset << 3 | u16::from(more)).to_be_bytes());
        f.extend(id.to_be_bytes());
        f.extend(data);
        ipv6_packet(src, dst, 64, 44, &f)
    }

    #[test]
    fn fragments_are_decided_as_their_first() {
        let mut lab = lab();
        let (a, c) = (lab.a, lab.c);
        // UDP to c: the default group admits its members, so the first fragment passes,
        // and a later one follows it; one of a datagram never begun does not.
        let first = udp(5000, 53, &[7; 16]);
        let mut p = udp_fragment(a.1, c.1, 9, 0, true, &first[..16]);
        assert!(matches!(lab.run(a.0, &mut p).0, Verdict::Forward { .. }));
        let mut later = udp_fragment(a.1, c.1, 9, 2, false, &first[16..]);
        assert!(matches!(lab.run(a.0, &mut later).0, Verdict::Forward { port, .. } if port == c.0));
        let mut stray = udp_fragment(a.1, c.1, 10, 2, false, &first[16..]);
        assert_eq!(lab.run(a.0, &mut stray).0, Verdict::Drop(DropReason::FragmentUntracked));
        // From the internet to `a` over UDP 53: no rule admits the first fragment, and the
        // later one, decided as its first, is refused by the group too.
        let mut first_in = udp_fragment(HOST, a.1, 11, 0, true, &udp(53, 5000, &[1; 16])[..16]);
        assert_eq!(lab.run(INTERNET, &mut first_in).0, Verdict::Drop(DropReason::SgIngress));
        let mut later_in = udp_fragment(HOST, a.1, 11, 2, false, &[1; 8]);
        assert_eq!(lab.run(INTERNET, &mut later_in).0, Verdict::Drop(DropReason::SgIngress));
    }

    /// A dual-stack subnet `app` whose `64:ff9b::/96` leads to a public NAT gateway in
    /// an IPv4 subnet routed to an internet gateway: the instance's port and IPv6
    /// address, and the gateway's Elastic IP.
    fn nat64_lab() -> (Model, PortMap, Snapshot, Tracking, (Port, Ipv6Addr), std::net::Ipv4Addr) {
        let mut m = Model::new(64);
        let (vpc, _, [public, app]) = dual_stack(&mut m, 0);
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let main = m.vpc(&vpc).unwrap().main_route_table.clone();
        let default = RouteSpec {
            destination: "0.0.0.0/0".parse().unwrap(),
            target: RouteTarget::Gateway(igw),
        };
        m.create_route(&main, default).unwrap();
        let eip = m.allocate_address(Tags::new()).unwrap();
        let spec = vpclab_model::NatGatewaySpec::public(&public, &eip);
        let nat = m.create_nat_gateway(spec, Tags::new(), 0).unwrap();
        let table = m.create_route_table(&vpc, Tags::new()).unwrap();
        let nat64 = RouteSpec {
            destination: "64:ff9b::/96".parse().unwrap(),
            target: RouteTarget::NatGateway(nat),
        };
        m.create_ipv6_route(&table, nat64).unwrap();
        m.associate_route_table(&table, &app).unwrap();
        let id = launch(&mut m, &app);
        // The default group admits nothing from outside; replies pass as tracked.
        let mut ports = PortMap::new();
        let port = ports.assign(&id);
        let address = m.instance(&id).unwrap().ipv6_addresses[0];
        let public_ip = m.elastic_ips().next().unwrap().public_ip;
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        (m, ports, snapshot, tracking, (port, address), public_ip)
    }

    #[test]
    fn an_ipv6_only_instance_reaches_its_vpc_and_ipv4_hosts_by_nat64_and_sends_no_ipv4() {
        let (mut m, _, _, _, _, eip) = nat64_lab();
        let vpc = m.vpcs().next().unwrap().id.clone();
        let block = m.vpc(&vpc).unwrap().ipv6_cidrs().next().unwrap();
        let only = Ipv6Net::new(Ipv6Addr::from(u128::from(block.network()) | 9 << 64), 64);
        let only = m.create_ipv6_native_subnet(&vpc, only.unwrap(), None, Tags::new()).unwrap();
        // Its table as AWS's guide has it: NAT64 to the gateway, nothing else out.
        let (nat, _) = m.nat_gateways().next().map(|n| (n.id.clone(), ())).unwrap();
        let table = m.create_route_table(&vpc, Tags::new()).unwrap();
        let nat64 = RouteSpec {
            destination: "64:ff9b::/96".parse().unwrap(),
            target: RouteTarget::NatGateway(nat),
        };
        m.create_ipv6_route(&table, nat64).unwrap();
        m.associate_route_table(&table, &only).unwrap();
        let spec = RunInstance { subnet: Some(only.clone()), ..Default::default() };
        let id = m.run_instance(spec).unwrap();
        let instance = m.instance(&id).unwrap();
        assert_eq!((instance.private_ip, instance.ipv6_addresses.len()), (None, 1));
        let me = instance.ipv6_addresses[0];
        let dual = m.instances().find(|i| i.id != id).unwrap();
        let (dual, dual_ip) = (dual.id.clone(), dual.ipv6_addresses[0]);
        // Its group lets ICMPv6 in from the VPC.
        let group = m.vpc(&vpc).unwrap().default_security_group.clone().unwrap();
        let rule = SgRule::new(Protocol::Icmpv6, -1, -1, Peer::Cidr6(block), None).unwrap();
        m.authorize(&group, false, vec![rule]).unwrap();
        let mut ports = PortMap::new();
        let (port, dual_port) = (ports.assign(&id), ports.assign(&dual));
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        let mut run = |from: Port, packet: &mut [u8]| {
            let mut built = vec![0u8; 1 << 16];
            snapshot.process(&mut tracking, from, packet, &mut built, 0)
        };

        // In its VPC, by IPv6, both ways.
        let mut p = ping(dual_ip, me, 64, 1);
        assert_eq!(run(dual_port, &mut p), Verdict::Forward { port, len: p.len() });
        let mut p = pong(me, dual_ip, 1);
        assert_eq!(run(port, &mut p), Verdict::Forward { port: dual_port, len: p.len() });
        // To an IPv4 host, through NAT64: out with the gateway's Elastic IP.
        let host6 = nat64::embed(Prefix96::WELL_KNOWN, std::net::Ipv4Addr::new(198, 51, 100, 1));
        let mut out = ipv6_packet(me, host6, 64, proto::UDP, &udp(5000, 53, b"q?"));
        crate::wire6::tests::fix_l4(&mut out);
        let verdict = run(port, &mut out);
        assert!(matches!(verdict, Verdict::Translated { port: INTERNET, .. }), "{verdict:?}");
        // IPv4 of its own it has none: whatever the source, and with the check off too.
        let four = |source: std::net::Ipv4Addr| {
            let payload = udp(5000, 53, b"q?");
            let mut p = crate::wire::tests::packet(
                source.octets(),
                [198, 51, 100, 1],
                proto::UDP,
                64,
                &payload,
            );
            crate::wire::tests::fix_l4(&mut p);
            p
        };
        let any = std::net::Ipv4Addr::UNSPECIFIED;
        for source in [any, std::net::Ipv4Addr::new(10, 0, 1, 4), eip] {
            let verdict = run(port, &mut four(source));
            assert_eq!(verdict, Verdict::Drop(DropReason::SourceCheck), "{source}");
        }
        m.set_source_dest_check(&id, false).unwrap();
        // Nor does it take IPv4 a route sends its interface (the model lets a route name
        // any interface of the VPC).
        let eni = m.instance(&id).unwrap().interface.clone();
        let dual_table = m.route_table_of(&m.instance(&dual).unwrap().subnet).unwrap().id.clone();
        let to_it = RouteSpec {
            destination: "10.9.0.0/16".parse::<ipnet::Ipv4Net>().unwrap(),
            target: RouteTarget::NetworkInterface(eni),
        };
        m.create_route(&dual_table, to_it).unwrap();
        let snapshot = compile(&m, &mut ports, 2);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        let mut built = vec![0u8; 1 << 16];
        let verdict = snapshot.process(&mut tracking, port, &mut four(any), &mut built, 0);
        assert_eq!(verdict, Verdict::Drop(DropReason::SourceCheck));
        let dual_v4 = m.instance(&dual).unwrap().private_ip.unwrap();
        let mut routed = crate::wire::tests::packet(
            dual_v4.octets(),
            [10, 9, 0, 1],
            proto::UDP,
            64,
            &udp(5000, 53, b"q?"),
        );
        crate::wire::tests::fix_l4(&mut routed);
        let verdict = snapshot.process(&mut tracking, dual_port, &mut routed, &mut built, 0);
        assert_eq!(verdict, Verdict::Drop(DropReason::DestinationCheck));
    }

    #[test]
    fn nat64_carries_a_flow_out_as_ipv4_and_its_replies_back_as_ipv6() {
        let (_m, _ports, snapshot, mut tracking, (port, me), eip) = nat64_lab();
        let host = std::net::Ipv4Addr::new(198, 51, 100, 1);
        let host6 = nat64::embed(Prefix96::WELL_KNOWN, host);
        let mut run = |from: Port, packet: &mut [u8], now: u64| {
            let mut built = vec![0u8; 1 << 16];
            let verdict = snapshot.process(&mut tracking, from, packet, &mut built, now);
            let len = match verdict {
                Verdict::Translated { len, .. } | Verdict::Reply { len, .. } => len,
                _ => 0,
            };
            built.truncate(len);
            (verdict, built)
        };

        // Out: UDP to the check-ip host's 64:ff9b:: form, from port 5000.
        let mut out = ipv6_packet(me, host6, 64, proto::UDP, &udp(5000, 53, b"q?"));
        crate::wire6::tests::fix_l4(&mut out);
        let (verdict, four) = run(port, &mut out, 0);
        assert!(
            matches!(verdict, Verdict::Translated { port: INTERNET, shift: -20, .. }),
            "{verdict:?}"
        );
        let ip = Ipv4::new_checked(&four[..]).unwrap();
        assert_eq!((ip.src(), ip.dst(), ip.protocol()), (eip, host, proto::UDP));
        assert_eq!(ip.ttl(), 62, "the router's hop and the gateway's");
        assert!(crate::wire::tests::checksums_ok(&four), "IPv4 header and UDP checksums");
        let (outside_port, dport) = ip.ports().unwrap();
        assert_eq!(dport, 53);
        assert!(outside_port >= 1024);

        // Back: the host's answer to the gateway's port arrives as IPv6 from
        // 64:ff9b::c633:6401 to the instance's port 5000.
        let answer = udp(53, outside_port, b"198.51.100.1");
        let mut back =
            crate::wire::tests::packet(host.octets(), eip.octets(), proto::UDP, 60, &answer);
        crate::wire::tests::fix_l4(&mut back);
        let (verdict, six) = run(INTERNET, &mut back, 1);
        assert!(
            matches!(verdict, Verdict::Translated { port: p, shift: 20, .. } if p == port),
            "{verdict:?}"
        );
        let ip = Ipv6::new_checked(&six[..]).unwrap();
        assert_eq!((ip.src(), ip.dst()), (host6, me));
        assert_eq!(ip.ports(), Some((53, 5000)));
        assert_eq!(ip.hop_limit(), 59, "the edge's hop");
        assert!(crate::wire6::tests::l4_ok(&six), "the UDP checksum over IPv6's pseudo-header");

        // Nothing else gets in: another remote port, or a port of no flow.
        let mut stray = crate::wire::tests::packet(
            host.octets(),
            eip.octets(),
            proto::UDP,
            60,
            &udp(54, outside_port, b"x"),
        );
        crate::wire::tests::fix_l4(&mut stray);
        assert_eq!(run(INTERNET, &mut stray, 2).0, Verdict::Drop(DropReason::NatNoFlow));

        // Ping: the echo identifier is the gateway's on the way out and the instance's
        // on the way back.
        let mut ping = ipv6_packet(
            me,
            host6,
            64,
            proto::ICMPV6,
            &crate::wire6::tests::echo(icmp6::ECHO_REQUEST, 77, 1, b"hi"),
        );
        crate::wire6::tests::fix_l4(&mut ping);
        let (verdict, four) = run(port, &mut ping, 3);
        assert!(matches!(verdict, Verdict::Translated { port: INTERNET, .. }), "{verdict:?}");
        assert!(crate::wire::tests::checksums_ok(&four));
        let ip = Ipv4::new_checked(&four[..]).unwrap();
        assert_eq!(ip.icmp_type(), Some(crate::wire::icmp::ECHO_REQUEST));
        let (id, _) = ip.ports().unwrap();
        let mut pong = four.clone();
        pong[12..16].copy_from_slice(&host.octets());
        pong[16..20].copy_from_slice(&eip.octets());
        pong[20] = crate::wire::icmp::ECHO_REPLY;
        let mut pong =
            crate::wire::tests::packet(host.octets(), eip.octets(), proto::ICMP, 60, &pong[20..]);
        crate::wire::tests::fix_l4(&mut pong);
        let (verdict, six) = run(INTERNET, &mut pong, 4);
        assert!(matches!(verdict, Verdict::Translated { .. }), "{verdict:?}, id {id}");
        let ip = Ipv6::new_checked(&six[..]).unwrap();
        assert_eq!(ip.icmp_type(), Some(icmp6::ECHO_REPLY));
        assert_eq!(ip.ports(), Some((77, 0)));
        assert!(crate::wire6::tests::l4_ok(&six));

        // A reply cut in fragments: the later one has no ports of its own, and gets in
        // as its first does (by the flow's tracked ports, not port 0).
        let answer = udp(53, outside_port, &[7; 2000]);
        let mut whole =
            crate::wire::tests::packet(host.octets(), eip.octets(), proto::UDP, 60, &answer);
        crate::wire::tests::fix_l4(&mut whole);
        whole[6..8].fill(0); // DF off, so that it may be cut
        whole[10..12].fill(0);
        let check = crate::wire::checksum(&whole[..20]);
        whole[10..12].copy_from_slice(&check.to_be_bytes());
        let mut pieces = Vec::new();
        let mut piece = vec![0u8; 1500];
        while let Some(n) = crate::wire::fragment(&whole, 1500, pieces.len(), &mut piece) {
            pieces.push(piece[..n].to_vec());
        }
        assert_eq!(pieces.len(), 2);
        for (i, piece) in pieces.iter_mut().enumerate() {
            let (verdict, six) = run(INTERNET, piece, 2);
            assert!(
                matches!(verdict, Verdict::Translated { port: p, .. } if p == port),
                "{i}: {verdict:?}"
            );
            let ip = Ipv6::new_checked(&six[..]).unwrap();
            assert!(ip.is_fragment() && ip.dst() == me, "fragment {i} as IPv6");
        }

        // A TCP segment of a flow the gateway does not have: a reset from the host's
        // 64:ff9b:: address, ports swapped, acknowledging what the segment sent.
        let mut ack = crate::wire::tests::tcp_syn(41000, 80);
        ack[4..8].copy_from_slice(&1000u32.to_be_bytes());
        ack[13] = 0x18; // ACK, PSH
        ack.extend(b"late");
        let mut late = ipv6_packet(me, host6, 64, proto::TCP, &ack);
        crate::wire6::tests::fix_l4(&mut late);
        let (verdict, reset) = run(port, &mut late, 5);
        assert!(
            matches!(verdict, Verdict::Reply { reason: DropReason::NatReset, .. }),
            "{verdict:?}"
        );
        let ip = Ipv6::new_checked(&reset[..]).unwrap();
        assert_eq!((ip.src(), ip.dst(), ip.ports()), (host6, me, Some((80, 41000))));
        assert_eq!(ip.tcp_flags(), 0x04, "RST");
        assert!(crate::wire6::tests::l4_ok(&reset));

        // Only the well-known prefix is translated; the edge is 1520 bytes of IPv6.
        let mut big = ipv6_packet(me, host6, 64, proto::UDP, &udp(5000, 53, &[0; 1500]));
        crate::wire6::tests::fix_l4(&mut big);
        let (verdict, error) = run(port, &mut big, 5);
        assert!(
            matches!(verdict, Verdict::Reply { reason: DropReason::TooBig, .. }),
            "{verdict:?}"
        );
        assert_eq!(error[40], icmp6::PACKET_TOO_BIG);
        assert_eq!(u32::from_be_bytes(error[44..48].try_into().unwrap()), 1520);
    }

    fn udp(src: u16, dst: u16, data: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend(src.to_be_bytes());
        u.extend(dst.to_be_bytes());
        u.extend(((8 + data.len()) as u16).to_be_bytes());
        u.extend([0, 0]);
        u.extend(data);
        u
    }

    fn tcp_syn(src: u16, dst: u16) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&src.to_be_bytes());
        t[2..4].copy_from_slice(&dst.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x02;
        t
    }
}
