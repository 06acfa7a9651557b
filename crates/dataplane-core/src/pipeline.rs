//! The per-packet pipeline: a pure function of a packet, the port it came from and the
//! snapshot. No I/O, no clock, no allocation, no locks, no logging — the verdict says
//! what to do, the caller does it and counts it.
//!
//! Order, as AWS's VPC router:
//!
//! * From an instance: IPv4 checks → source/destination check → to the VPC's own
//!   services (instance metadata, Amazon DNS)? hand over → same subnet? deliver
//!   (no route table, no TTL change: that is layer 2 in AWS) → reserved VPC addresses are
//!   not served yet → route lookup in the subnet's table → `local`: the VPC's holder of
//!   the address; internet gateway: the instance's public IP or nothing, 1:1 SNAT, the
//!   1500-byte edge → TTL decrement (ICMP time-exceeded from the subnet router at 1).
//! * Through a NAT gateway (a route to `nat-…`): the router hop, then the gateway's own
//!   hop (TTL, time-exceeded from its private address), its subnet's route table must
//!   lead to the internet gateway, then SNAT to its Elastic IP with a port from its
//!   connection table; TCP that continues a flow it no longer has gets an RST.
//! * From the internet: IPv4 checks → the destination must be a mapped public IP (1:1
//!   DNAT to the private address) or a NAT gateway's Elastic IP with a tracked flow
//!   (reverse translation, ICMP errors included) → TTL.
//!
//! * Through a gateway endpoint (a prefix-list route to `vpce-…`): the router hop, out to
//!   the service untranslated; the flow is remembered so the service's replies, which
//!   come back to the private address, find the instance.
//!
//! Security groups (stateful) and network ACLs (stateless) apply on every path.

use std::net::Ipv4Addr;

use vpclab_conntrack::{
    FlowAddress, FlowKey, Inbound, Nat, Outbound, Outcome, Proto, Timeouts, Tracker,
};

use crate::counters::DropReason;
use crate::nat::Tracking;
use crate::nat64;
use crate::security::{Compiled, CompiledAcl, Family, InterfaceRules};
use crate::snapshot::{
    AttachmentEntry, AttachmentZone, EDGE_ADDRESS, EDGE_MTU, ENDPOINT_TARGET, Hop, INTERNET,
    InstancePort, NAT_TARGET, NO_ACL, NatEntry, Port, PortEntry, Snapshot, TGW_MSS, TGW_MTU,
    TgwHop, VpnPort,
};
use crate::trace::{SgDecision, Step};
use crate::wire::{
    IPV4_HEADER, Ipv4, Malformed, Offload, Side, icmp, icmp_error, proto, tcp_reset,
};
use crate::wire6::Ipv6;

/// What an ICMP error quotes: protocol, source, destination and the two ports (or the
/// echo identifier and 0).
pub(crate) type Quoted<B> = (u8, B, B, u16, u16);

/// What the security groups, the ACLs and the trackers read of a packet, for either
/// family: one set of checks serves IPv4 ([`Ipv4`]) and IPv6 ([`Ipv6`]).
pub(crate) trait Datagram {
    /// The address family the rules are compiled for.
    type Addr: Family;
    /// The address as flow keys hold it.
    type Bits: FlowAddress;
    /// The family's ICMP protocol number.
    const ICMP: u8;

    /// The upper-layer protocol.
    fn protocol(&self) -> u8;
    /// Source and destination ports (ICMP echo: the identifier first).
    fn ports(&self) -> Option<(u16, u16)>;
    /// The TCP flags (0 for anything else).
    fn tcp_flags(&self) -> u8;
    /// The ICMP type, if ICMP of the family with a header.
    fn icmp_type(&self) -> Option<u8>;
    /// The ICMP code (0 when absent).
    fn icmp_code(&self) -> u8;
    /// For an ICMP error: the quoted packet's protocol, source, destination and ports.
    fn icmp_quoted(&self) -> Option<Quoted<Self::Bits>>;
    /// The source address.
    fn src_bits(&self) -> Self::Bits;
    /// The destination address.
    fn dst_bits(&self) -> Self::Bits;
    /// An address of flow keys as the rules take it.
    fn addr(bits: Self::Bits) -> Self::Addr;
    /// The security groups' tracked flows of the family.
    fn sg_flows(tracking: &mut Tracking) -> &mut Tracker<Self::Bits>;
    /// One direction of an interface's rules for the family.
    fn rules(interface: &InterfaceRules, egress: bool) -> &Compiled<Self::Addr>;
    /// Whether a new flow allowed by the rules stays untracked.
    fn untracked(interface: &InterfaceRules, egress: bool, protocol: u8, port: u16) -> bool;
    /// The ACL's verdict and the rule that gave it.
    fn decide(
        acl: &CompiledAcl,
        egress: bool,
        peer: Self::Bits,
        protocol: u8,
        port: u16,
        code: u8,
    ) -> (bool, Option<u16>);
}

/// The methods of a packet view that both families name alike.
macro_rules! datagram_reads {
    ($bits:ty) => {
        #[inline(always)]
        fn protocol(&self) -> u8 {
            Self::protocol(self)
        }
        #[inline(always)]
        fn ports(&self) -> Option<(u16, u16)> {
            Self::ports(self)
        }
        #[inline(always)]
        fn tcp_flags(&self) -> u8 {
            Self::tcp_flags(self)
        }
        #[inline(always)]
        fn icmp_type(&self) -> Option<u8> {
            Self::icmp_type(self)
        }
        #[inline(always)]
        fn icmp_code(&self) -> u8 {
            Self::icmp_code(self)
        }
        #[inline(always)]
        fn icmp_quoted(&self) -> Option<Quoted<$bits>> {
            Self::icmp_quoted(self)
        }
        #[inline(always)]
        fn src_bits(&self) -> $bits {
            Self::src_bits(self)
        }
        #[inline(always)]
        fn dst_bits(&self) -> $bits {
            Self::dst_bits(self)
        }
    };
}

impl Datagram for Ipv4<&mut [u8]> {
    type Addr = Ipv4Addr;
    type Bits = u32;
    const ICMP: u8 = proto::ICMP;
    datagram_reads!(u32);

    #[inline(always)]
    fn addr(bits: u32) -> Ipv4Addr {
        Ipv4Addr::from(bits)
    }
    #[inline(always)]
    fn sg_flows(tracking: &mut Tracking) -> &mut Tracker<u32> {
        &mut tracking.sg
    }
    #[inline(always)]
    fn rules(interface: &InterfaceRules, egress: bool) -> &Compiled<Ipv4Addr> {
        if egress { &interface.egress } else { &interface.ingress }
    }
    #[inline(always)]
    fn untracked(interface: &InterfaceRules, egress: bool, protocol: u8, port: u16) -> bool {
        interface.untracked(egress, protocol, port)
    }
    #[inline(always)]
    fn decide(
        acl: &CompiledAcl,
        egress: bool,
        peer: u32,
        protocol: u8,
        port: u16,
        code: u8,
    ) -> (bool, Option<u16>) {
        acl.decide(egress, peer, protocol, port, code)
    }
}

impl Datagram for Ipv6<&mut [u8]> {
    type Addr = std::net::Ipv6Addr;
    type Bits = u128;
    const ICMP: u8 = proto::ICMPV6;
    datagram_reads!(u128);

    #[inline(always)]
    fn addr(bits: u128) -> std::net::Ipv6Addr {
        std::net::Ipv6Addr::from(bits)
    }
    #[inline(always)]
    fn sg_flows(tracking: &mut Tracking) -> &mut Tracker<u128> {
        &mut tracking.sg6
    }
    #[inline(always)]
    fn rules(interface: &InterfaceRules, egress: bool) -> &Compiled<std::net::Ipv6Addr> {
        if egress { &interface.egress6 } else { &interface.ingress6 }
    }
    #[inline(always)]
    fn untracked(interface: &InterfaceRules, egress: bool, protocol: u8, port: u16) -> bool {
        interface.untracked6(egress, protocol, port)
    }
    #[inline(always)]
    fn decide(
        acl: &CompiledAcl,
        egress: bool,
        peer: u128,
        protocol: u8,
        port: u16,
        code: u8,
    ) -> (bool, Option<u16>) {
        acl.decide6(egress, peer, protocol, port, code)
    }
}

/// The key of a flow seen from interface `port`, for a packet leaving it (`egress`) or
/// arriving: the same key both ways. ICMP flows are keyed by the echo identifier.
#[inline(always)]
pub(crate) fn flow_key<P: Datagram>(port: Port, ip: &P, egress: bool) -> FlowKey<P::Bits> {
    let protocol = ip.protocol();
    let (sport, dport) = ip.ports().unwrap_or((0, 0));
    let (local, remote) =
        if egress { (ip.src_bits(), ip.dst_bits()) } else { (ip.dst_bits(), ip.src_bits()) };
    let (local_port, remote_port) = match (protocol == P::ICMP, egress) {
        (true, _) => (sport, 0),
        (_, true) => (sport, dport),
        (_, false) => (dport, sport),
    };
    FlowKey { zone: port, protocol, local, local_port, remote, remote_port }
}

/// What the rules match a packet's port against: the destination port (TCP, UDP), or
/// the ICMP type and code.
#[inline(always)]
pub(crate) fn rule_port<P: Datagram>(ip: &P) -> (u16, u8) {
    match ip.protocol() {
        p if p == P::ICMP => (u16::from(ip.icmp_type().unwrap_or(0)), ip.icmp_code()),
        proto::TCP | proto::UDP => (ip.ports().map_or(0, |(_, dport)| dport), 0),
        _ => (0, 0),
    }
}

/// Room an ICMP error needs: IPv6's are up to 1280 bytes (RFC 4443); IPv4's up to
/// 576 (a 20-byte header, 8 bytes of ICMP and a 548-byte quote).
pub const REPLY_BUFFER: usize = 1280;

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write the first `len` bytes of the (rewritten) packet to `port`.
    Forward {
        /// Where.
        port: Port,
        /// How many bytes: the IP total length.
        len: usize,
    },
    /// Drop the packet for `reason`, and write the ICMP error built in the reply buffer
    /// (`len` bytes) back to `port`.
    Reply {
        /// Where the error goes: the port the packet came from.
        port: Port,
        /// Its length.
        len: usize,
        /// Why the original was dropped.
        reason: DropReason,
    },
    /// Drop it.
    Drop(DropReason),
    /// For the VPC's own services (instance metadata, Amazon DNS): hand the first `len`
    /// bytes to them (see [`crate::services`]). No security group or ACL applies.
    Service {
        /// How many bytes: the IP total length.
        len: usize,
    },
    /// Forward the packet translated to the other IP version (a NAT gateway's NAT64):
    /// write the first `len` bytes of the reply buffer, where the translation was built,
    /// to `port`. The packet's offloads carry over with its upper-layer header moved by
    /// `shift` bytes ([`crate::vnet::translated`]).
    Translated {
        /// Where.
        port: Port,
        /// How many bytes: the translation's total length.
        len: usize,
        /// The translation's upper-layer offset less the original's.
        shift: i16,
    },
}

impl Snapshot {
    /// Decides the fate of `packet`, read from port `from` at `now` (milliseconds of a
    /// monotonic clock); rewrites it in place when it is forwarded, or builds an ICMP
    /// error or TCP reset into `reply` (at least [`REPLY_BUFFER`] bytes) when one is
    /// owed. A NAT64 translation is built in `reply` too ([`Verdict::Translated`]): it
    /// needs the packet's length and 28 bytes more, and one that does not fit is dropped
    /// (`nat_unsupported`). `tracking` holds the NAT gateways' connection tables (see [`Tracking::sync`]).
    pub fn process(
        &self,
        tracking: &mut Tracking,
        from: Port,
        packet: &mut [u8],
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        self.process_offloaded(tracking, from, packet, Offload::NONE, reply, now)
    }

    /// [`Snapshot::process`] for a packet that leaves its checksum or segmentation
    /// unfinished (`offload`, from its virtio-net header): rewrites keep the partial
    /// checksum meaningful, and size limits apply to the segments it becomes.
    pub fn process_offloaded(
        &self,
        tracking: &mut Tracking,
        from: Port,
        packet: &mut [u8],
        offload: Offload,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        tracking.receiver = None;
        if packet.first().is_some_and(|b| b >> 4 == 6) {
            return self.process6(tracking, from, packet, offload, reply, now);
        }
        let mut ip = match Ipv4::new_checked(&mut *packet) {
            Ok(ip) => ip.with_offload(offload),
            Err(Malformed::Version(_)) => return Verdict::Drop(DropReason::NotIpv4),
            Err(_) => return Verdict::Drop(DropReason::Malformed),
        };
        if ip.is_fragment() {
            if let Some(verdict) = self.fragment(tracking, from, &mut ip, now) {
                return verdict;
            }
        }
        match self.port(from) {
            PortEntry::Instance(me) => self.egress(tracking, from, &me, &mut ip, reply, now),
            PortEntry::Internet => self.ingress(tracking, &mut ip, reply, now),
            PortEntry::Vpn(vpn) => self.out_of_tunnels(tracking, from, &vpn, &mut ip, reply, now),
            PortEntry::Vacant => Verdict::Drop(DropReason::UnknownPort),
        }
    }

    /// A packet out of a VPN connection's tunnels, into the VPC its virtual private
    /// gateway is attached to: only to that VPC's own addresses (a gateway is no transit
    /// to anywhere else), through the destination subnet's ACL inbound and the
    /// receiver's security groups, one TTL for the VPC router, as any routed packet.
    fn out_of_tunnels(
        &self,
        tracking: &mut Tracking,
        from: Port,
        vpn: &VpnPort,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        if vpn.attachment != u32::MAX {
            // A connection to a transit gateway: the hub routes it (it has no zone).
            let Some(table) = self.attachments.get(vpn.attachment as usize).map(|a| a.table) else {
                return Verdict::Drop(DropReason::Blackhole);
            };
            return self.hub(tracking, vpn.attachment, table, u8::MAX, ip, reply, now);
        }
        let dst = ip.dst();
        let Some(vpc) = self.vpcs.get(vpn.vpc as usize).filter(|v| v.contains(dst)) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let Some(port) = vpc.hosts.lookup(dst).filter(|&p| p < ENDPOINT_TARGET) else {
            return Verdict::Drop(DropReason::NoHost);
        };
        let Some(subnet) = self.subnet_of(port) else {
            return Verdict::Drop(DropReason::NoHost);
        };
        let router = Ipv4Addr::from(u32::from(subnet.network()) + 1);
        if let Err(reason) =
            self.acl_in(tracking, port, ip).and_then(|()| self.admit(tracking, port, ip, now))
        {
            return Verdict::Drop(reason);
        }
        if let Some(verdict) = expire(ip, from, router, reply) {
            return verdict;
        }
        ip.decrement_ttl();
        Verdict::Forward { port, len: ip.total_len() }
    }

    /// A fragment: a first one's head is remembered for the later ones, a later one
    /// gets its datagram's head (or is dropped without it), so that every fragment of a
    /// datagram is decided as its first. Off the common path: its own function, cold.
    #[cold]
    #[inline(never)]
    fn fragment(
        &self,
        tracking: &mut Tracking,
        from: Port,
        ip: &mut Ipv4<&mut [u8]>,
        now: u64,
    ) -> Option<Verdict> {
        let datagram = ip.datagram(from);
        if ip.is_later_fragment() {
            return match tracking.fragments.recall(&datagram, now) {
                Some(head) => {
                    ip.set_head(head);
                    None
                }
                None => Some(Verdict::Drop(DropReason::FragmentUntracked)),
            };
        }
        if let Some(head) = ip.head() {
            tracking.fragments.remember(datagram, head, now);
        }
        None
    }

    fn egress(
        &self,
        tracking: &mut Tracking,
        from: Port,
        me: &InstancePort,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        // (An interface without IPv4, in an IPv6-only subnet, sends none whatever its
        // check, and is sent none: see `admit`.)
        if (ip.src() != me.private && me.source_dest_check) || !me.has_ipv4() {
            return Verdict::Drop(DropReason::SourceCheck);
        }
        if crate::services::is_service(ip.dst(), me.resolver) {
            // Answered by the VPC itself, before any security group or ACL (which
            // cannot block it on AWS).
            tracking.note(|| Step::Service);
            return Verdict::Service { len: ip.total_len() };
        }
        if let Err(reason) = self.sg_check(tracking, from, me.rules, ip, true, now) {
            return Verdict::Drop(reason);
        }
        let dst = ip.dst();
        let len = ip.total_len();

        if me.subnet.contains(&dst) {
            tracking.note(|| Step::SameSubnet);
            let offset = u32::from(dst) - u32::from(me.subnet.network());
            if offset < 4 || dst == me.subnet.broadcast() {
                return Verdict::Drop(DropReason::VpcService);
            }
            return match self.host(me.vpc, dst) {
                Some(port) if port >= ENDPOINT_TARGET => self.to_endpoint(tracking, port, ip, now),
                Some(port) => match self.admit(tracking, port, ip, now) {
                    Ok(()) => Verdict::Forward { port, len },
                    Err(reason) => Verdict::Drop(reason),
                },
                None => Verdict::Drop(DropReason::NoHost),
            };
        }

        let Some(table) = self.tables.get(me.table as usize) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let route = table.lpm.lookup(dst);
        let hop = route.and_then(|route| table.hops.get(route as usize).copied());
        tracking.note(|| Step::Route { table: me.table, route, hop, ipv6: false });
        let router = Ipv4Addr::from(u32::from(me.subnet.network()) + 1);
        match hop {
            None => Verdict::Drop(DropReason::NoRoute),
            // (An egress-only gateway is the target of IPv6 routes only.)
            Some(Hop::Blackhole | Hop::EgressOnly) => Verdict::Drop(DropReason::Blackhole),
            Some(Hop::VpnGateway(index)) => {
                // The gateway's own table picks the connection; it knows only the
                // prefixes its connections bring.
                let Some(port) = self.vgws.get(index as usize).and_then(|g| g.lpm.lookup(dst))
                else {
                    return Verdict::Drop(DropReason::VpnDown);
                };
                if let Err(reason) = self.acl_check(tracking, me.acl, true, ip) {
                    return Verdict::Drop(reason);
                }
                if let Some(verdict) = expire(ip, from, router, reply) {
                    return verdict;
                }
                tracking.note(|| Step::VpnGateway { index, port });
                ip.decrement_ttl();
                Verdict::Forward { port, len }
            }
            Some(Hop::Local) => {
                let Some(port) = self.host(me.vpc, dst) else {
                    return Verdict::Drop(DropReason::NoHost);
                };
                self.deliver(tracking, me, port, from, router, ip, reply, now)
            }
            Some(Hop::Peering(peer)) => {
                // Only to addresses of the peer VPC itself: no transit through it, no use
                // of its gateways.
                let Some(vpc) = self.vpcs.get(peer as usize) else {
                    return Verdict::Drop(DropReason::Blackhole);
                };
                if !vpc.contains(dst) {
                    return Verdict::Drop(DropReason::PeeringTransit);
                }
                let Some(port) = vpc.hosts.lookup(dst) else {
                    return Verdict::Drop(DropReason::NoHost);
                };
                self.deliver(tracking, me, port, from, router, ip, reply, now)
            }
            Some(Hop::TransitGateway(attachment)) => {
                self.transit(tracking, me, from, router, attachment, ip, reply, now)
            }
            Some(Hop::Interface(port)) => {
                self.deliver(tracking, me, port, from, router, ip, reply, now)
            }
            Some(Hop::Nat(_)) if self.acl_check(tracking, me.acl, true, ip).is_err() => {
                Verdict::Drop(DropReason::NaclOut)
            }
            Some(Hop::Nat(index)) => match self.nats.get(index as usize) {
                Some(nat) => {
                    tracking.note(|| Step::NatGateway { index });
                    self.nat_egress(tracking, nat, from, router, ip, reply, now)
                }
                None => Verdict::Drop(DropReason::Blackhole),
            },
            Some(Hop::Endpoint) => {
                if let Some(verdict) = self.leave_at_edge(tracking, me, from, router, ip, reply) {
                    return verdict;
                }
                // The service answers the private address: remember whose it is.
                let key = flow_key(INTERNET, ip, true);
                let flags = ip.tcp_flags();
                if !tracking.endpoint.track(key, from, true, flags, &Timeouts::INTERFACE, now) {
                    return Verdict::Drop(DropReason::ConntrackAllowanceExceeded);
                }
                ip.decrement_ttl();
                Verdict::Forward { port: INTERNET, len }
            }
            Some(Hop::Internet) => {
                // Only the interface's own address has a public one: an appliance's
                // forwarded packets do not leave by it untranslated.
                let Some(public) = me.public.filter(|_| ip.src() == me.private) else {
                    return Verdict::Drop(DropReason::NoPublicIp);
                };
                if let Some(verdict) = self.leave_at_edge(tracking, me, from, router, ip, reply) {
                    return verdict;
                }
                ip.decrement_ttl();
                tracking.note(|| Step::Translate { source: true, from: me.private, to: public });
                ip.translate(Side::Src, public);
                Verdict::Forward { port: INTERNET, len }
            }
        }
    }

    /// Leaving the VPC at the edge (internet gateway or gateway endpoint): the subnet's
    /// outbound ACL, the 1500-byte edge, the router's TTL. `Some` is the packet's fate
    /// if it goes no further.
    fn leave_at_edge(
        &self,
        tracking: &mut Tracking,
        me: &InstancePort,
        from: Port,
        router: Ipv4Addr,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
    ) -> Option<Verdict> {
        if let Err(reason) = self.acl_check(tracking, me.acl, true, ip) {
            return Some(Verdict::Drop(reason));
        }
        if ip.wire_len() > EDGE_MTU {
            if let Some(verdict) = too_big(ip, from, router, reply) {
                return Some(verdict);
            }
        }
        expire(ip, from, router, reply)
    }

    /// A routed hop to interface `port` inside a VPC (this one's or a peer's): leaving
    /// one subnet and entering another, so both ACLs (none when a route sends it to an
    /// appliance in the sender's own subnet: ACLs apply between subnets); the router's
    /// TTL; the receiver's security groups.
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &self,
        tracking: &mut Tracking,
        me: &InstancePort,
        port: Port,
        from: Port,
        router: Ipv4Addr,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let within = self.subnet_of(port) == Some(me.subnet);
        if !within {
            if let Err(reason) = self
                .acl_check(tracking, me.acl, true, ip)
                .and_then(|()| self.acl_in(tracking, port, ip))
            {
                return Verdict::Drop(reason);
            }
        }
        if let Some(verdict) = expire(ip, from, router, reply) {
            return verdict;
        }
        if port >= ENDPOINT_TARGET {
            ip.decrement_ttl();
            return self.to_endpoint(tracking, port, ip, now);
        }
        if let Err(reason) = self.admit(tracking, port, ip, now) {
            return Verdict::Drop(reason);
        }
        let len = ip.total_len();
        ip.decrement_ttl();
        Verdict::Forward { port, len }
    }

    /// The subnet of the interface behind `port`: an instance's or an interface
    /// endpoint's.
    fn subnet_of(&self, port: Port) -> Option<ipnet::Ipv4Net> {
        if port >= ENDPOINT_TARGET {
            return self.endpoint(port).map(|e| e.subnet);
        }
        match self.port(port) {
            PortEntry::Instance(i) => Some(i.subnet),
            _ => None,
        }
    }

    /// Into an interface endpoint's interface (`port`, `ENDPOINT_TARGET + index`): its
    /// security groups admit the flow, which goes on to the service it stands for with the
    /// caller's address as its source; the flow is remembered, so that the service's
    /// answers come back from the interface's address. The caller may be in the
    /// endpoint's VPC, a peered one or one behind a transit gateway, as on AWS: the
    /// answers are routed back from the interface's subnet.
    fn to_endpoint(
        &self,
        tracking: &mut Tracking,
        port: Port,
        ip: &mut Ipv4<&mut [u8]>,
        now: u64,
    ) -> Verdict {
        let Some(endpoint) = self.endpoint(port) else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        if ip.protocol() != proto::TCP {
            return Verdict::Drop(DropReason::EndpointNotTcp);
        }
        if let Err(reason) = self.sg_check(tracking, port, endpoint.rules, ip, false, now) {
            return Verdict::Drop(reason);
        }
        let len = ip.total_len();
        tracking.note(|| Step::Translate {
            source: false,
            from: endpoint.address,
            to: endpoint.service,
        });
        ip.translate(Side::Dst, endpoint.service);
        let key = flow_key(INTERNET, ip, true);
        let flags = ip.tcp_flags();
        if !tracking.endpoint.track(key, port, true, flags, &Timeouts::INTERFACE, now) {
            return Verdict::Drop(DropReason::ConntrackAllowanceExceeded);
        }
        Verdict::Forward { port: INTERNET, len }
    }

    /// A service's answer through interface endpoint `index`: from the interface's
    /// address again, through its security groups (the flow is tracked), then as any
    /// packet the interface sends: to a caller in its subnet directly, otherwise by its
    /// subnet's route table — in the VPC, to a peer, or through a transit gateway — with
    /// the ACLs between the subnets and the caller's security groups.
    fn endpoint_answer(
        &self,
        tracking: &mut Tracking,
        zone: Port,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let Some(endpoint) = self.endpoint(zone) else {
            return Verdict::Drop(DropReason::NoPublicMapping);
        };
        if ip.src() != endpoint.service {
            return Verdict::Drop(DropReason::NoPublicMapping);
        }
        tracking.note(|| Step::Translate {
            source: true,
            from: endpoint.service,
            to: endpoint.address,
        });
        ip.translate(Side::Src, endpoint.address);
        if let Err(reason) = self.sg_check(tracking, zone, endpoint.rules, ip, true, now) {
            return Verdict::Drop(reason);
        }
        let me = endpoint.as_sender();
        let dst = ip.dst();
        let instance = |port: Option<Port>| port.filter(|&p| p < ENDPOINT_TARGET);
        if me.subnet.contains(&dst) {
            let Some(caller) = instance(self.host(me.vpc, dst)) else {
                return Verdict::Drop(DropReason::NoHost);
            };
            tracking.receiver = Some(caller);
            return match self.admit(tracking, caller, ip, now) {
                Ok(()) => Verdict::Forward { port: caller, len: ip.total_len() },
                Err(reason) => Verdict::Drop(reason),
            };
        }
        let Some(table) = self.tables.get(me.table as usize) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let route = table.lpm.lookup(dst);
        let hop = route.and_then(|route| table.hops.get(route as usize).copied());
        tracking.note(|| Step::Route { table: me.table, route, hop, ipv6: false });
        let router = Ipv4Addr::from(u32::from(me.subnet.network()) + 1);
        let caller = match hop {
            Some(Hop::Local) => self.host(me.vpc, dst),
            Some(Hop::Peering(peer)) => self
                .vpcs
                .get(peer as usize)
                .filter(|v| v.contains(dst))
                .and_then(|v| v.hosts.lookup(dst)),
            Some(Hop::TransitGateway(attachment)) => {
                return self.transit(tracking, &me, INTERNET, router, attachment, ip, reply, now);
            }
            Some(Hop::Blackhole) => return Verdict::Drop(DropReason::Blackhole),
            // Callers are private addresses: nothing reaches an endpoint from beyond a
            // gateway, so no answer goes back through one.
            _ => return Verdict::Drop(DropReason::NoRoute),
        };
        match instance(caller) {
            Some(caller) => self.deliver(tracking, &me, caller, INTERNET, router, ip, reply, now),
            None => Verdict::Drop(DropReason::NoHost),
        }
    }

    /// Through a transit gateway: in by the sender VPC's attachment `index` (its
    /// interface in the sender's zone), routed by the transit gateway route table
    /// associated with that attachment, out by the attachment that table picks, and on
    /// by the route table of that attachment's subnet. NACLs as on AWS: the sender's
    /// subnet outbound and the attachment subnet inbound going in; coming out, the
    /// attachment subnet outbound and the receiver's inbound, or none when they share a
    /// subnet. Each router (the VPC's, the transit gateway) takes one from the TTL.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn transit(
        &self,
        tracking: &mut Tracking,
        me: &InstancePort,
        from: Port,
        router: Ipv4Addr,
        index: u32,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let Some(ingress) = self.attachments.get(index as usize) else {
            return Verdict::Drop(DropReason::Blackhole);
        };
        let Some(entry) = ingress.zones.get(usize::from(me.zone)).copied().flatten() else {
            return Verdict::Drop(DropReason::TgwZoneNotAttached);
        };
        if let Err(reason) = self
            .acl_check(tracking, me.acl, true, ip)
            .and_then(|()| self.acl_check(tracking, entry.acl, false, ip))
        {
            return Verdict::Drop(reason);
        }
        if let Some(verdict) = expire(ip, from, router, reply) {
            return verdict;
        }
        ip.decrement_ttl();
        self.hub(tracking, index, ingress.table, me.zone, ip, reply, now)
    }

    /// Through the transit gateway a packet entered by attachment `index` (and, over a
    /// peering attachment, the other one, once): `table`, the one associated with it,
    /// decides;
    /// out into a VPC by the interface in the sender's `zone` (or the first; or the
    /// flow's, in appliance mode), or into a VPN connection's tunnels.
    #[allow(clippy::too_many_arguments)]
    fn hub(
        &self,
        tracking: &mut Tracking,
        index: u32,
        table: u32,
        zone: u8,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        // The transit gateway; over a peering attachment, the other one (once).
        let (mut arrived, mut table_index, mut crossed) = (index, table, false);
        let (out, egress) = loop {
            let Some(table) = self.tgw_tables.get(table_index as usize) else {
                tracking.note(|| Step::TransitGateway {
                    attachment: arrived,
                    table: None,
                    route: None,
                    hop: None,
                });
                return Verdict::Drop(DropReason::TgwNoRoute);
            };
            let route = table.lpm.lookup(ip.dst());
            let hop = route.and_then(|r| table.hops.get(r as usize).copied());
            tracking.note(|| Step::TransitGateway {
                attachment: arrived,
                table: Some(table_index),
                route,
                hop,
            });
            let out = match hop {
                None => Err(DropReason::TgwNoRoute),
                Some(TgwHop::Blackhole) => Err(DropReason::TgwBlackhole),
                Some(TgwHop::Attachment(_)) if ip.wire_len() > TGW_MTU => {
                    Err(DropReason::TgwMtuExceeded)
                }
                // AWS counts it (`packets-lost-ttl-expired`); no error comes back.
                Some(TgwHop::Attachment(_)) if ip.ttl() <= 1 => Err(DropReason::TtlExceeded),
                Some(TgwHop::Attachment(out)) => Ok(out),
            };
            // What the hub did, for its node on the console's map.
            tracking.through_hub(table.tgw, out.is_ok());
            let out = match out {
                Ok(out) => out,
                Err(reason) => return Verdict::Drop(reason),
            };
            // Both ends of a connection learn the hub's segment size from its SYNs.
            ip.clamp_mss(TGW_MSS);
            ip.decrement_ttl();
            let Some(next) = self.attachments.get(out as usize) else {
                return Verdict::Drop(DropReason::TgwBlackhole);
            };
            if next.vpn {
                // Into a VPN connection's tunnels (none yet: down).
                return match next.vpn_port {
                    Some(port) => Verdict::Forward { port, len: ip.total_len() },
                    None => Verdict::Drop(DropReason::VpnDown),
                };
            }
            match next.peering {
                None => break (out, next),
                Some(sides) if !crossed => {
                    crossed = true;
                    arrived = out;
                    table_index = sides.table_beyond(table.tgw);
                }
                // A second peering on one path: not carried.
                Some(_) => return Verdict::Drop(DropReason::TgwOnwardUnsupported),
            }
        };
        let Some((zone, exit)) = egress_zone(egress, zone, ip) else {
            return Verdict::Drop(DropReason::TgwBlackhole);
        };
        tracking.note(|| Step::TgwAttachment { attachment: out, zone });

        let dst = ip.dst();
        let table = self.tables.get(exit.table as usize);
        let route = table.and_then(|t| t.lpm.lookup(dst));
        let hop = route.and_then(|r| table?.hops.get(r as usize).copied());
        tracking.note(|| Step::Route { table: exit.table, route, hop, ipv6: false });
        let port = match hop {
            None => return Verdict::Drop(DropReason::NoRoute),
            Some(Hop::Blackhole) => return Verdict::Drop(DropReason::Blackhole),
            Some(Hop::Local) => match self.host(egress.vpc, dst) {
                // An interface endpoint in the attached VPC, as on AWS.
                Some(port) if port >= ENDPOINT_TARGET => {
                    if self.subnet_of(port) != Some(exit.subnet) {
                        if let Err(reason) = self
                            .acl_check(tracking, exit.acl, true, ip)
                            .and_then(|()| self.acl_in(tracking, port, ip))
                        {
                            return Verdict::Drop(reason);
                        }
                    }
                    return self.to_endpoint(tracking, port, ip, now);
                }
                Some(port) => port,
                // A private NAT gateway's own address: an answer to one of its flows.
                None => {
                    let nat = self.vpcs.get(egress.vpc as usize).and_then(|v| v.private_nat(dst));
                    let Some(nat) = nat.and_then(|n| self.nats.get(n as usize)) else {
                        return Verdict::Drop(DropReason::NoHost);
                    };
                    if nat.subnet != exit.subnet {
                        if let Err(reason) = self
                            .acl_check(tracking, exit.acl, true, ip)
                            .and_then(|()| self.acl_check(tracking, nat.acl, false, ip))
                        {
                            return Verdict::Drop(reason);
                        }
                    }
                    return self.nat_ingress::<false>(tracking, nat, ip, reply, now);
                }
            },
            // An appliance (an inspection VPC's firewall).
            Some(Hop::Interface(port)) => port,
            Some(_) => return Verdict::Drop(DropReason::TgwOnwardUnsupported),
        };
        {
            {
                let PortEntry::Instance(dest) = self.port(port) else {
                    return Verdict::Drop(DropReason::UnknownPort);
                };
                if dest.subnet != exit.subnet {
                    if let Err(reason) = self
                        .acl_check(tracking, exit.acl, true, ip)
                        .and_then(|()| self.acl_in(tracking, port, ip))
                    {
                        return Verdict::Drop(reason);
                    }
                }
                if let Err(reason) = self.admit(tracking, port, ip, now) {
                    return Verdict::Drop(reason);
                }
                Verdict::Forward { port, len: ip.total_len() }
            }
        }
    }

    fn ingress(
        &self,
        tracking: &mut Tracking,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let Some(target) = self.public.lookup(ip.dst()) else {
            return self.endpoint_ingress(tracking, ip, reply, now);
        };
        if target >= NAT_TARGET {
            return match self.nats.get((target - NAT_TARGET) as usize) {
                Some(nat) => self.nat_ingress::<true>(tracking, nat, ip, reply, now),
                None => Verdict::Drop(DropReason::NoPublicMapping),
            };
        }
        let PortEntry::Instance(instance) = self.port(target) else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        self.enter_from_edge::<true>(tracking, target, &instance, ip, reply, now)
    }

    /// From the edge into an instance: the edge's TTL, 1:1 DNAT (`DNAT`; replies through
    /// an endpoint already carry the private address), the subnet's inbound ACL, the
    /// instance's security groups.
    fn enter_from_edge<const DNAT: bool>(
        &self,
        tracking: &mut Tracking,
        port: Port,
        instance: &InstancePort,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        if let Some(verdict) = expire(ip, INTERNET, EDGE_ADDRESS, reply) {
            return verdict;
        }
        tracking.receiver = Some(port);
        let len = ip.total_len();
        ip.decrement_ttl();
        if DNAT {
            let public = ip.dst();
            tracking.note(|| Step::Translate { source: false, from: public, to: instance.private });
            ip.translate(Side::Dst, instance.private);
        }
        if let Err(reason) = self.acl_check(tracking, instance.acl, false, ip) {
            return Verdict::Drop(reason);
        }
        if let Err(reason) = self.sg_check(tracking, port, instance.rules, ip, false, now) {
            return Verdict::Drop(reason);
        }
        Verdict::Forward { port, len }
    }

    /// From an AWS service back through an endpoint (gateway or interface): only to a
    /// caller with a flow out through one — its answers, and ICMP errors about it.
    fn endpoint_ingress(
        &self,
        tracking: &mut Tracking,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        // (An empty tracker answers without hashing: no special case needed here.)
        let port = match ip.icmp_quoted() {
            // An error about a packet of the flow as it went out (the caller's address
            // and port; an echo's identifier): it refreshes nothing.
            Some((protocol, src, dst, sport, dport)) => {
                let remote_port = if protocol == proto::ICMP { 0 } else { dport };
                let key = FlowKey {
                    zone: INTERNET,
                    protocol,
                    local: src,
                    local_port: sport,
                    remote: dst,
                    remote_port,
                };
                tracking.endpoint.peek(&key, now)
            }
            None => {
                let key = flow_key(INTERNET, ip, false);
                let flags = ip.tcp_flags();
                tracking.endpoint.hit(&key, false, flags, &Timeouts::INTERFACE, now)
            }
        };
        let Some(port) = port else {
            return Verdict::Drop(DropReason::NoPublicMapping);
        };
        if port >= ENDPOINT_TARGET {
            tracking.note(|| Step::EndpointFlow { port });
            return self.endpoint_answer(tracking, port, ip, reply, now);
        }
        let PortEntry::Instance(instance) = self.port(port) else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        if instance.private != ip.dst() {
            // The port went to another instance since.
            return Verdict::Drop(DropReason::NoPublicMapping);
        }
        tracking.note(|| Step::EndpointFlow { port });
        self.enter_from_edge::<false>(tracking, port, &instance, ip, reply, now)
    }

    /// From an instance through a NAT gateway: the VPC router, then the gateway (which
    /// is a hop of its own: it decrements the TTL and answers traceroute from its private
    /// address), then its subnet's route table. A public gateway's must lead to the
    /// internet gateway, and its flows leave with its Elastic IP; a private one's to a
    /// transit gateway, and they go on with its own address (the internet gateway drops
    /// what a private gateway sends it).
    #[allow(clippy::too_many_arguments)]
    fn nat_egress(
        &self,
        tracking: &mut Tracking,
        nat: &NatEntry,
        from: Port,
        router: Ipv4Addr,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        let onward = self
            .tables
            .get(nat.table as usize)
            .and_then(|t| t.lpm.lookup(ip.dst()).and_then(|r| t.hops.get(r as usize).copied()));
        let attachment = match (nat.public, onward) {
            (true, Some(Hop::Internet)) => None,
            (false, Some(Hop::TransitGateway(attachment))) => Some(attachment),
            (false, Some(Hop::Internet)) => return Verdict::Drop(DropReason::NatPrivateToInternet),
            // A NAT gateway in a subnet without a route onward.
            _ => return Verdict::Drop(DropReason::NoRoute),
        };
        let len = ip.total_len();
        if nat.public && ip.wire_len() > EDGE_MTU {
            if let Some(verdict) = too_big(ip, from, router, reply) {
                return verdict;
            }
        }
        if let Some(verdict) = expire(ip, from, router, reply) {
            return verdict;
        }
        if ip.ttl() <= 2 {
            return error_reply(
                ip,
                from,
                nat.private,
                reply,
                icmp::TIME_EXCEEDED,
                0,
                0,
                DropReason::TtlExceeded,
            );
        }
        let proto = match (ip.protocol(), ip.icmp_type()) {
            (proto::TCP, _) => Proto::Tcp,
            (proto::UDP, _) => Proto::Udp,
            (proto::ICMP, Some(icmp::ECHO_REQUEST)) => Proto::Icmp,
            _ => return Verdict::Drop(DropReason::NatUnsupported),
        };
        // Cut-short headers are not translated (a later fragment has its first's ports).
        let Some((sport, dport)) = ip.ports() else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        // Into the NAT gateway's subnet and out of it again (a private gateway's packet
        // leaves it through the hub, which checks the way out once it is translated).
        if let Err(reason) = self.acl_check(tracking, nat.acl, false, ip) {
            return Verdict::Drop(reason);
        }
        if attachment.is_none() {
            if let Err(reason) = self.acl_check(tracking, nat.acl, true, ip) {
                return Verdict::Drop(reason);
            }
        }
        let Some((table, table64)) = tracking.both_mut(nat.slot) else {
            return Verdict::Drop(DropReason::NatUnsupported);
        };
        let (src, dst) = (ip.src_bits(), ip.dst_bits());
        let tuple = vpclab_conntrack::Tuple { proto, src, dst, sport, dport };
        // A new flow's port must be free of the gateway's NAT64 flows too (asked, and
        // the destination's 64:ff9b:: form made, only when a flow is created).
        let taken = |proto, port| {
            let dst6 = nat64::Prefix96::WELL_KNOWN.bits() | u128::from(dst);
            table64.holds_outside(proto, dst6, dport, port, now)
        };
        match table.outbound_beside(tuple, ip.tcp_flags(), now, taken) {
            Outbound::Translate { port, .. } => {
                ip.decrement_ttl();
                let inside = ip.src();
                tracking.note(|| Step::Translate { source: true, from: inside, to: nat.outside });
                ip.translate(Side::Src, nat.outside);
                ip.set_port(Side::Src, port);
                match attachment {
                    None => {
                        ip.decrement_ttl();
                        Verdict::Forward { port: INTERNET, len }
                    }
                    // On as the gateway's own packet: its subnet's router, the hub.
                    Some(attachment) => {
                        let me = nat.as_sender();
                        let router = Ipv4Addr::from(u32::from(nat.subnet.network()) + 1);
                        self.transit(tracking, &me, from, router, attachment, ip, reply, now)
                    }
                }
            }
            Outbound::Reset => match tcp_reset(reply, &ip.reborrow()) {
                Some(len) => Verdict::Reply { port: from, len, reason: DropReason::NatReset },
                None => Verdict::Drop(DropReason::NatReset),
            },
            Outbound::Drop(Outcome::PortExhausted) => Verdict::Drop(DropReason::NatPortExhausted),
            Outbound::Drop(Outcome::TableFull) => Verdict::Drop(DropReason::NatTableFull),
            Outbound::Drop(_) => Verdict::Drop(DropReason::NatNoFlow),
        }
    }

    /// To a NAT gateway's outside address — from the internet to a public one's Elastic
    /// IP (`EDGE`), or through a transit gateway to a private one's own address: only
    /// replies of flows it tracks, and ICMP errors about them, get in. The subnet ACL
    /// the packet crossed to reach the gateway was checked on the way.
    fn nat_ingress<const EDGE: bool>(
        &self,
        tracking: &mut Tracking,
        nat: &NatEntry,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
        now: u64,
    ) -> Verdict {
        if EDGE {
            if let Err(reason) = self.acl_check(tracking, nat.acl, false, ip) {
                return Verdict::Drop(reason);
            }
        }
        let outside = match OutsideTuple::of(ip, nat.outside) {
            Ok(outside) => outside,
            Err(reason) => return Verdict::Drop(reason),
        };
        let Some((table, _)) = tracking.both_mut(nat.slot) else {
            return Verdict::Drop(DropReason::NatNoFlow);
        };
        let Some((inside, inside_port)) = outside.find(table, outside.remote, false, now) else {
            // Not one of its IPv4 flows: one of its NAT64 flows, or nothing.
            return self.nat64_ingress::<EDGE>(tracking, nat, &outside, ip, reply, now);
        };
        let quoted = outside.quoted;
        let inside = Ipv4Addr::from(inside);
        let Some(port) = self.host(nat.vpc, inside) else {
            return Verdict::Drop(DropReason::NoHost);
        };
        if EDGE {
            if let Some(verdict) = expire(ip, INTERNET, EDGE_ADDRESS, reply) {
                return verdict;
            }
        } else if ip.ttl() <= 1 {
            return Verdict::Drop(DropReason::TtlExceeded);
        }
        let len = ip.total_len();
        ip.decrement_ttl();
        let outside = ip.dst();
        tracking.note(|| Step::Translate { source: false, from: outside, to: inside });
        ip.translate(Side::Dst, inside);
        if quoted {
            ip.set_quoted_src_port(inside_port);
        } else if ip.protocol() == proto::ICMP {
            ip.set_port(Side::Src, inside_port);
        } else {
            ip.set_port(Side::Dst, inside_port);
        }
        if let Err(reason) = self
            .acl_check(tracking, nat.acl, true, ip)
            .and_then(|()| self.acl_in(tracking, port, ip))
        {
            return Verdict::Drop(reason);
        }
        if let Err(reason) = self.admit(tracking, port, ip, now) {
            return Verdict::Drop(reason);
        }
        Verdict::Forward { port, len }
    }

    /// The security groups of interface `port` (its compiled `rules`) on a packet leaving it (`egress`)
    /// or arriving at it: a tracked flow passes; otherwise the rules decide, and an
    /// allowed flow is tracked so its replies pass both ways.
    pub(crate) fn sg_check<P: Datagram>(
        &self,
        tracking: &mut Tracking,
        port: Port,
        rules: u32,
        ip: &P,
        egress: bool,
        now: u64,
    ) -> Result<(), DropReason> {
        let denied = if egress { DropReason::SgEgress } else { DropReason::SgIngress };
        if !egress {
            tracking.receiver = Some(port);
        }
        if let Some((quoted_protocol, qsrc, qdst, qa, qb)) = ip.icmp_quoted() {
            // An ICMP error passes if the flow it is about is tracked here. That packet
            // went the other way: received by this interface if it now sends the error.
            let (l, lp, r, rp) = if egress { (qdst, qb, qsrc, qa) } else { (qsrc, qa, qdst, qb) };
            let (lp, rp) = if quoted_protocol == P::ICMP { (qa, 0) } else { (lp, rp) };
            let key = FlowKey {
                zone: port,
                protocol: quoted_protocol,
                local: l,
                local_port: lp,
                remote: r,
                remote_port: rp,
            };
            let hit = P::sg_flows(tracking).peek(&key, now).is_some();
            let decision = if hit { SgDecision::Tracked } else { SgDecision::Denied };
            tracking.note(|| Step::SecurityGroups { port, egress, decision });
            return if hit { Ok(()) } else { Err(denied) };
        }
        let interface = self.rules.get(rules as usize);
        let timeouts = interface.map_or(&Timeouts::INTERFACE, |i| &i.timeouts);
        let key = flow_key(port, ip, egress);
        let flags = ip.tcp_flags();
        if P::sg_flows(tracking).hit(&key, egress, flags, timeouts, now).is_some() {
            tracking.note(|| Step::SecurityGroups { port, egress, decision: SgDecision::Tracked });
            return Ok(());
        }
        let deny = |tracking: &mut Tracking, decision| {
            tracking.note(|| Step::SecurityGroups { port, egress, decision });
            Err(if decision == SgDecision::Denied {
                denied
            } else {
                DropReason::ConntrackAllowanceExceeded
            })
        };
        let Some(interface) = interface else {
            return deny(tracking, SgDecision::Denied);
        };
        let rules = P::rules(interface, egress);
        let protocol = key.protocol;
        let (match_port, code) = rule_port(ip);
        if !rules.allows(P::addr(key.remote), protocol, match_port, code) {
            return deny(tracking, SgDecision::Denied);
        }
        if P::untracked(interface, egress, protocol, match_port) {
            let decision = SgDecision::AllowedUntracked;
            tracking.note(|| Step::SecurityGroups { port, egress, decision });
            return Ok(());
        }
        if !P::sg_flows(tracking).track(key, 0, egress, flags, timeouts, now) {
            return deny(tracking, SgDecision::TableFull);
        }
        tracking.note(|| Step::SecurityGroups { port, egress, decision: SgDecision::Allowed });
        Ok(())
    }

    /// The network ACL `acl` on a packet leaving (`egress`) or entering its subnet.
    pub(crate) fn acl_check<P: Datagram>(
        &self,
        tracking: &mut Tracking,
        acl: u32,
        egress: bool,
        ip: &P,
    ) -> Result<(), DropReason> {
        let denied = if egress { DropReason::NaclOut } else { DropReason::NaclIn };
        if acl == NO_ACL {
            return Ok(());
        }
        // An ACL the snapshot does not hold denies, as a security group it lacks does.
        let Some(compiled) = self.acls.get(acl as usize) else { return Err(denied) };
        let peer = if egress { ip.dst_bits() } else { ip.src_bits() };
        let protocol = ip.protocol();
        let (port, code) = rule_port(ip);
        let (allowed, rule) = P::decide(compiled, egress, peer, protocol, port, code);
        tracking.note(|| Step::NetworkAcl { acl, egress, rule, allowed });
        if allowed { Ok(()) } else { Err(denied) }
    }

    /// The network ACL of the subnet behind `port`, for a packet entering it.
    pub(crate) fn acl_in<P: Datagram>(
        &self,
        tracking: &mut Tracking,
        port: Port,
        ip: &P,
    ) -> Result<(), DropReason> {
        tracking.receiver = Some(port);
        if port >= ENDPOINT_TARGET {
            let acl = self.endpoint(port).map_or(NO_ACL, |e| e.acl);
            return self.acl_check(tracking, acl, false, ip);
        }
        match self.port(port) {
            PortEntry::Instance(dest) => self.acl_check(tracking, dest.acl, false, ip),
            _ => Ok(()),
        }
    }

    /// [`Snapshot::sg_check`] for arrival at `port`, whatever is behind it.
    fn admit(
        &self,
        tracking: &mut Tracking,
        port: Port,
        ip: &Ipv4<&mut [u8]>,
        now: u64,
    ) -> Result<(), DropReason> {
        match self.port(port) {
            // (One without IPv4, in an IPv6-only subnet, takes none, whatever its check:
            // a route may name its interface for IPv4 too.)
            PortEntry::Instance(dest)
                if (dest.source_dest_check && ip.dst() != dest.private) || !dest.has_ipv4() =>
            {
                Err(DropReason::DestinationCheck)
            }
            PortEntry::Instance(dest) => self.sg_check(tracking, port, dest.rules, ip, false, now),
            // Nothing else is delivered to (an endpoint's interface has its own path).
            _ => Err(DropReason::UnknownPort),
        }
    }

    fn host(&self, vpc: u32, addr: Ipv4Addr) -> Option<Port> {
        self.vpcs.get(vpc as usize)?.hosts.lookup(addr)
    }
}

/// The interface a transit gateway leaves attachment `entry` by, for a packet from zone
/// `zone`: in appliance mode the one a hash of the flow picks (the same both ways),
/// otherwise the one in the same zone, or the first zone's when it has none there.
fn egress_zone(
    entry: &AttachmentEntry,
    zone: u8,
    ip: &Ipv4<&mut [u8]>,
) -> Option<(u8, AttachmentZone)> {
    let present = || (0u8..).zip(entry.zones).filter_map(|(z, a)| Some((z, a?)));
    if entry.appliance_mode {
        let count = present().count() as u64;
        let pick = crate::steer::flow_hash(&ip.reborrow()).checked_rem(count)?;
        return present().nth(pick as usize);
    }
    match entry.zones.get(usize::from(zone)).copied().flatten() {
        Some(exit) => Some((zone, exit)),
        None => present().next(),
    }
}

/// If the packet's TTL would run out at this hop: the drop, with an ICMP time-exceeded
/// from `router` back to `from` when one may be sent.
pub(crate) fn expire(
    ip: &Ipv4<&mut [u8]>,
    from: Port,
    router: Ipv4Addr,
    reply: &mut [u8],
) -> Option<Verdict> {
    if ip.ttl() > 1 {
        return None;
    }
    Some(error_reply(ip, from, router, reply, icmp::TIME_EXCEEDED, 0, 0, DropReason::TtlExceeded))
}

/// A packet too large for the internet edge: fragmentation-needed if DF is set; `None`
/// if it may go on to be fragmented by the forwarder on its way out (see
/// [`crate::wire::fragment`]: a plain packet with a 20-byte header).
fn too_big(
    ip: &Ipv4<&mut [u8]>,
    from: Port,
    router: Ipv4Addr,
    reply: &mut [u8],
) -> Option<Verdict> {
    if !ip.dont_fragment() {
        let plain = ip.offload().gso_size == 0 && ip.header_len() == IPV4_HEADER;
        return if plain { None } else { Some(Verdict::Drop(DropReason::TooBig)) };
    }
    let mtu = EDGE_MTU as u32;
    Some(error_reply(
        ip,
        from,
        router,
        reply,
        icmp::UNREACHABLE,
        icmp::FRAG_NEEDED,
        mtu,
        DropReason::TooBig,
    ))
}

#[allow(clippy::too_many_arguments)]
fn error_reply(
    ip: &Ipv4<&mut [u8]>,
    from: Port,
    source: Ipv4Addr,
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

/// What a packet from outside names of a NAT gateway's flow: the outside tuple its
/// tables index the flow by, and whether the packet is an ICMP error quoting one of the
/// flow's packets rather than one of its replies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutsideTuple {
    pub(crate) proto: Proto,
    /// The remote end's IPv4 address.
    pub(crate) remote: u32,
    /// The remote end's port (0 for ICMP).
    pub(crate) rport: u16,
    /// The gateway's port (or ICMP identifier).
    pub(crate) port: u16,
    pub(crate) quoted: bool,
    tcp_flags: u8,
}

impl OutsideTuple {
    /// The tuple of `ip`, sent to the gateway's `outside` address; `None` when it can be
    /// no flow's (an error about a packet the gateway did not send, an ICMP message
    /// other than an echo reply or an error).
    pub(crate) fn of(ip: &Ipv4<&mut [u8]>, outside: Ipv4Addr) -> Result<Self, DropReason> {
        if let Some((protocol, src, dst, sport, dport)) = ip.icmp_quoted() {
            // An error about a packet the gateway sent: src is the gateway, sport its port.
            let proto = match protocol {
                proto::TCP => Proto::Tcp,
                proto::UDP => Proto::Udp,
                _ => Proto::Icmp,
            };
            if src != u32::from(outside) {
                return Err(DropReason::NatNoFlow);
            }
            let (remote, rport, port) = (dst, dport, sport);
            return Ok(Self { proto, remote, rport, port, quoted: true, tcp_flags: 0 });
        }
        let proto = match (ip.protocol(), ip.icmp_type()) {
            (proto::TCP, _) => Proto::Tcp,
            (proto::UDP, _) => Proto::Udp,
            (proto::ICMP, Some(icmp::ECHO_REPLY)) => Proto::Icmp,
            _ => return Err(DropReason::NatNoFlow),
        };
        let Some((sport, dport)) = ip.ports() else {
            return Err(DropReason::NatUnsupported);
        };
        // For ICMP the "ports" are (identifier, 0): the identifier is the gateway's.
        let (rport, port) = if proto == Proto::Icmp { (0, sport) } else { (sport, dport) };
        let (remote, tcp_flags) = (ip.src_bits(), ip.tcp_flags());
        Ok(Self { proto, remote, rport, port, quoted: false, tcp_flags })
    }

    /// The inside end of the flow in `table`, whose keys hold the remote end as
    /// `remote`: a reply advances the flow (`count`: a miss is counted as the gateway's
    /// drop), an error only looks at it.
    pub(crate) fn find<A: FlowAddress>(
        &self,
        table: &mut Nat<A>,
        remote: A,
        count: bool,
        now: u64,
    ) -> Option<(A, u16)> {
        if self.quoted {
            return table.peek_outside(self.proto, remote, self.rport, self.port, now);
        }
        let verdict = match count {
            true => table.inbound(self.proto, remote, self.rport, self.port, self.tcp_flags, now),
            false => {
                table.try_inbound(self.proto, remote, self.rport, self.port, self.tcp_flags, now)
            }
        };
        match verdict {
            Inbound::Translate { addr, port } => Some((addr, port)),
            Inbound::Drop(_) => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use vpclab_model::{InstanceId, Model, RouteSpec, RouteTarget, RunInstance, Tags};

    use crate::nat::Tracking;

    use super::*;
    use crate::snapshot::{PortMap, compile};
    use crate::wire::proto;
    use crate::wire::tests::{checksums_ok, echo, packet, split, tcp_syn, udp};

    /// The topology every test uses:
    ///
    /// * VPC A 10.0.0.0/16 with an internet gateway; public subnet 10.0.1.0/24 whose table
    ///   routes 0.0.0.0/0 to it, private subnet 10.0.2.0/24 on the main table.
    ///   `web` 10.0.1.4 (public 203.0.113.10), `bare` 10.0.1.5 (no public IP),
    ///   `app` 10.0.2.4.
    /// * VPC B 10.1.0.0/16, no gateway: `other` 10.1.0.4.
    struct Lab {
        snapshot: Snapshot,
        nats: Tracking,
        now: u64,
        web: Port,
        bare: Port,
        app: Port,
        other: Port,
        /// 10.0.3.4, in a subnet routed through the NAT gateway (Elastic IP 203.0.113.11,
        /// private 10.0.1.6).
        inner: Port,
    }

    /// VPC 10.`n`.0.0/16 with an internet gateway: a public subnet 10.`n`.1.0/24 whose
    /// own table routes 0.0.0.0/0 to it, and a private 10.`n`.2.0/24 on the main table.
    pub(crate) fn public_private(
        m: &mut Model,
        n: u8,
    ) -> (vpclab_model::VpcId, vpclab_model::SubnetId, vpclab_model::SubnetId) {
        let vpc = m.create_vpc(format!("10.{n}.0.0/16").parse().unwrap(), Tags::new()).unwrap();
        let subnet = |m: &mut Model, third: u8| {
            let cidr = format!("10.{n}.{third}.0/24").parse().unwrap();
            m.create_subnet(&vpc, cidr, None, Tags::new()).unwrap()
        };
        let (public, private) = (subnet(m, 1), subnet(m, 2));
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let table = m.create_route_table(&vpc, Tags::new()).unwrap();
        let default = "0.0.0.0/0".parse().unwrap();
        m.create_route(
            &table,
            RouteSpec { destination: default, target: RouteTarget::Gateway(igw) },
        )
        .unwrap();
        m.associate_route_table(&table, &public).unwrap();
        (vpc, public, private)
    }

    /// Attaches an internet gateway to `vpc` and routes 0.0.0.0/0 to it in the main table.
    fn internet_via_main(m: &mut Model, vpc: &vpclab_model::VpcId) {
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, vpc).unwrap();
        let main = m.vpc(vpc).unwrap().main_route_table.clone();
        let default = "0.0.0.0/0".parse().unwrap();
        m.create_route(
            &main,
            RouteSpec { destination: default, target: RouteTarget::Gateway(igw) },
        )
        .unwrap();
    }

    /// Launches an instance in `subnet`, with a public IP or without.
    fn run(m: &mut Model, subnet: &vpclab_model::SubnetId, public_ip: bool) -> InstanceId {
        m.run_instance(RunInstance {
            subnet: Some(subnet.clone()),
            public_ip: Some(public_ip),
            ..Default::default()
        })
        .unwrap()
    }

    fn lab() -> Lab {
        let mut m = Model::new(42);
        let (a, public, private) = public_private(&mut m, 0);
        let natted =
            m.create_subnet(&a, "10.0.3.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let nat_table = m.create_route_table(&a, Tags::new()).unwrap();
        m.associate_route_table(&nat_table, &natted).unwrap();
        let b = m.create_vpc("10.1.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let b_subnet =
            m.create_subnet(&b, "10.1.0.0/24".parse().unwrap(), None, Tags::new()).unwrap();

        let web = run(&mut m, &public, true);
        let bare = run(&mut m, &public, false);
        let app = run(&mut m, &private, false);
        let other = run(&mut m, &b_subnet, false);
        let inner = run(&mut m, &natted, false);
        let eip = m.allocate_address(Tags::new()).unwrap();
        let nat = m
            .create_nat_gateway(
                vpclab_model::NatGatewaySpec {
                    idle_timeout_s: Some(350),
                    ..vpclab_model::NatGatewaySpec::public(&public, &eip)
                },
                Tags::new(),
                0,
            )
            .unwrap();
        m.create_route(
            &nat_table,
            RouteSpec {
                destination: "0.0.0.0/0".parse().unwrap(),
                target: RouteTarget::NatGateway(nat),
            },
        )
        .unwrap();
        let mut ports = PortMap::new();
        let [web, bare, app, other, inner] =
            [web, bare, app, other, inner].map(|i| ports.assign(&i));
        let snapshot = compile(&m, &mut ports, 1);
        let mut nats = Tracking::new(1024);
        nats.sync(&snapshot);
        Lab { snapshot, nats, now: 0, web, bare, app, other, inner }
    }

    impl Lab {
        fn run(&mut self, from: Port, packet: &mut [u8]) -> (Verdict, Vec<u8>) {
            let mut reply = vec![0u8; REPLY_BUFFER];
            let verdict = self.snapshot.process(&mut self.nats, from, packet, &mut reply, self.now);
            if let Verdict::Reply { len, .. } = verdict {
                reply.truncate(len);
            }
            (verdict, reply)
        }
    }

    const WEB: [u8; 4] = [10, 0, 1, 4];
    const BARE: [u8; 4] = [10, 0, 1, 5];
    const APP: [u8; 4] = [10, 0, 2, 4];
    const OTHER: [u8; 4] = [10, 1, 0, 4];
    const CHECK_IP: [u8; 4] = [198, 51, 100, 1];
    const WEB_PUBLIC: [u8; 4] = [203, 0, 113, 10];

    #[test]
    fn a_trace_notes_every_decision_in_order_and_costs_nothing_when_off() {
        use crate::trace::{SgDecision, Step};
        let mut lab = lab();
        lab.nats.start_trace();
        let mut p = packet(WEB, APP, proto::ICMP, 64, &echo(1, 1));
        assert!(
            matches!(lab.run(lab.web, &mut p).0, Verdict::Forward { port, .. } if port == lab.app)
        );
        let trace = lab.nats.finish_trace();
        let (web, app) = (lab.web, lab.app);
        assert!(
            matches!(
                trace.steps.as_slice(),
                [
                    Step::SecurityGroups { port: a, egress: true, decision: SgDecision::Allowed },
                    Step::Route { route: Some(_), hop: Some(Hop::Local), .. },
                    Step::NetworkAcl { egress: true, rule: Some(100), allowed: true, .. },
                    Step::NetworkAcl { egress: false, rule: Some(100), allowed: true, .. },
                    Step::SecurityGroups { port: b, egress: false, decision: SgDecision::Allowed },
                ] if *a == web && *b == app
            ),
            "{:#?}",
            trace.steps
        );
        assert_eq!(trace.denied_by(), None);

        // From the internet to web's public address: DNAT, then web's groups say no.
        lab.nats.start_trace();
        let mut syn = packet(CHECK_IP, WEB_PUBLIC, proto::TCP, 64, &tcp_syn(40000, 22));
        assert_eq!(lab.run(INTERNET, &mut syn).0, Verdict::Drop(DropReason::SgIngress));
        let trace = lab.nats.finish_trace();
        assert!(trace.steps.contains(&Step::Translate {
            source: false,
            from: WEB_PUBLIC.into(),
            to: WEB.into()
        }));
        assert_eq!(trace.denied_by(), Some(DropReason::SgIngress));

        // Not recording: nothing is kept.
        let mut p = packet(WEB, APP, proto::ICMP, 64, &echo(1, 2));
        lab.run(lab.web, &mut p);
        assert!(lab.nats.finish_trace().steps.is_empty());
    }

    #[test]
    fn same_subnet_is_delivered_without_touching_ttl() {
        let mut lab = lab();
        let mut p = packet(WEB, BARE, proto::ICMP, 64, &echo(1, 1));
        let original = p.clone();
        let (verdict, _) = lab.run(lab.web, &mut p);
        assert_eq!(verdict, Verdict::Forward { port: lab.bare, len: p.len() });
        assert_eq!(p, original);
    }

    #[test]
    fn other_subnets_are_routed_by_the_local_route() {
        let mut lab = lab();
        let mut p = packet(WEB, APP, proto::TCP, 64, &tcp_syn(40000, 80));
        let (verdict, _) = lab.run(lab.web, &mut p);
        assert_eq!(verdict, Verdict::Forward { port: lab.app, len: p.len() });
        assert_eq!(p[8], 63, "TTL decremented");
        assert!(checksums_ok(&p));

        // And back, through the private subnet's main table.
        let mut p = packet(APP, WEB, proto::TCP, 64, &tcp_syn(80, 40000));
        let (verdict, _) = lab.run(lab.app, &mut p);
        assert_eq!(verdict, Verdict::Forward { port: lab.web, len: p.len() });
    }

    #[test]
    fn the_gateway_translates_to_the_public_ip_and_back() {
        let mut lab = lab();
        let mut p = packet(WEB, CHECK_IP, proto::TCP, 64, &tcp_syn(40000, 80));
        let (verdict, _) = lab.run(lab.web, &mut p);
        assert_eq!(verdict, Verdict::Forward { port: INTERNET, len: p.len() });
        assert_eq!(&p[12..16], &WEB_PUBLIC, "source is the public IP");
        assert!(checksums_ok(&p));

        let mut back = packet(CHECK_IP, WEB_PUBLIC, proto::TCP, 64, &tcp_syn(80, 40000));
        let (verdict, _) = lab.run(INTERNET, &mut back);
        assert_eq!(verdict, Verdict::Forward { port: lab.web, len: back.len() });
        assert_eq!(&back[16..20], &WEB, "destination is the private IP");
        assert_eq!(back[8], 63);
        assert!(checksums_ok(&back));
    }

    #[test]
    fn no_public_ip_no_internet() {
        let mut lab = lab();
        let mut p = packet(BARE, CHECK_IP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.bare, &mut p).0, Verdict::Drop(DropReason::NoPublicIp));
    }

    #[test]
    fn no_route_no_delivery() {
        let mut lab = lab();
        let mut p = packet(APP, CHECK_IP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.app, &mut p).0, Verdict::Drop(DropReason::NoRoute));
        // Two VPCs do not reach each other.
        let mut p = packet(OTHER, WEB, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.other, &mut p).0, Verdict::Drop(DropReason::NoRoute));
        let mut p = packet(APP, OTHER, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.app, &mut p).0, Verdict::Drop(DropReason::NoRoute));
        // A local address nobody holds.
        let mut p = packet(APP, [10, 0, 9, 9], proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.app, &mut p).0, Verdict::Drop(DropReason::NoHost));
    }

    #[test]
    fn the_internet_reaches_only_mapped_public_ips() {
        let mut lab = lab();
        let mut p = packet(CHECK_IP, [203, 0, 113, 99], proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(INTERNET, &mut p).0, Verdict::Drop(DropReason::NoPublicMapping));
        let mut p = packet(CHECK_IP, WEB, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(INTERNET, &mut p).0, Verdict::Drop(DropReason::NoPublicMapping));
    }

    #[test]
    fn a_secondary_cidr_is_routed_by_its_own_local_route() {
        let mut m = Model::new(42);
        let (a, public, _) = public_private(&mut m, 0);
        m.associate_vpc_cidr(&a, "100.64.0.0/16".parse().unwrap()).unwrap();
        let extra =
            m.create_subnet(&a, "100.64.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let (web, far) = (run(&mut m, &public, false), run(&mut m, &extra, false));
        let mut ports = PortMap::new();
        let [web, far] = [web, far].map(|i| ports.assign(&i));
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(16);
        tracking.sync(&snapshot);
        let mut go = |from, src, dst| {
            let mut p = packet(src, dst, proto::TCP, 64, &tcp_syn(40000, 80));
            let mut reply = vec![0u8; REPLY_BUFFER];
            (snapshot.process(&mut tracking, from, &mut p, &mut reply, 0), p.len())
        };
        let (verdict, len) = go(web, WEB, [100, 64, 1, 4]);
        assert_eq!(verdict, Verdict::Forward { port: far, len });
        let (verdict, len) = go(far, [100, 64, 1, 4], WEB);
        assert_eq!(verdict, Verdict::Forward { port: web, len });
        // An address of the block with nobody there: no host, not the internet.
        let (verdict, _) = go(web, WEB, [100, 64, 7, 7]);
        assert_eq!(verdict, Verdict::Drop(DropReason::NoHost));
    }

    #[test]
    fn ttl_expiry_answers_time_exceeded_from_the_router() {
        let mut lab = lab();
        let mut p = packet(WEB, APP, proto::UDP, 1, &udp(33434, 33434, b"trace"));
        let original = p.clone();
        let (verdict, reply) = lab.run(lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Reply { port: lab.web, len: reply.len(), reason: DropReason::TtlExceeded }
        );
        assert!(checksums_ok(&reply));
        assert_eq!(&reply[12..16], &[10, 0, 1, 1], "from the subnet router");
        assert_eq!(&reply[16..20], &WEB);
        assert_eq!(reply[20], icmp::TIME_EXCEEDED);
        assert_eq!(&reply[28..], &original[..], "quotes the packet");
    }

    #[test]
    fn the_vpcs_own_services_take_their_packets_whatever_the_route() {
        let mut lab = lab();
        for (dst, l4, protocol) in [
            ([169, 254, 169, 254], tcp_syn(40000, 80), proto::TCP),
            ([169, 254, 169, 253], udp(5353, 53, b"q"), proto::UDP),
            ([10, 0, 0, 2], udp(5353, 53, b"q"), proto::UDP),
        ] {
            // From the private subnet too, whose table has no route anywhere but local.
            for (from, src) in [(lab.web, WEB), (lab.app, APP)] {
                let mut p = packet(src, dst, protocol, 64, &l4);
                let len = p.len();
                assert_eq!(lab.run(from, &mut p).0, Verdict::Service { len }, "{dst:?}");
            }
        }
        // Another VPC's DNS server is not this one's: routed like any address.
        let mut p = packet(WEB, [10, 1, 0, 2], proto::UDP, 64, &udp(5353, 53, b"q"));
        assert!(!matches!(lab.run(lab.web, &mut p).0, Verdict::Service { .. }));
        // A spoofed source is still refused first.
        let mut p = packet(BARE, [169, 254, 169, 254], proto::TCP, 64, &tcp_syn(1, 80));
        assert_eq!(lab.run(lab.web, &mut p).0, Verdict::Drop(DropReason::SourceCheck));
    }

    #[test]
    fn the_edge_is_1500_bytes() {
        let mut lab = lab();
        let big = vec![0u8; 2000];
        let mut p = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(1, 2, &big));
        let (verdict, reply) = lab.run(lab.web, &mut p);
        assert!(matches!(verdict, Verdict::Reply { reason: DropReason::TooBig, .. }));
        assert_eq!((reply[20], reply[21]), (icmp::UNREACHABLE, icmp::FRAG_NEEDED));
        assert_eq!(u16::from_be_bytes([reply[26], reply[27]]), 1500, "next-hop MTU");
        assert!(checksums_ok(&reply));

        let mut no_df = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(1, 2, &big));
        no_df[6] = 0;
        let c = crate::wire::checksum(&{
            let mut h = no_df[..20].to_vec();
            h[10..12].fill(0);
            h
        });
        no_df[10..12].copy_from_slice(&c.to_be_bytes());
        // Without DF it goes on, translated, for the forwarder to fragment on the way out.
        let len = no_df.len();
        assert_eq!(lab.run(lab.web, &mut no_df).0, Verdict::Forward { port: INTERNET, len });
        assert_eq!(&no_df[12..16], &WEB_PUBLIC);
    }

    /// A TCP GSO super-packet of `segments` full segments of `mss` bytes with a partial
    /// checksum, as a TUN with offloads hands it over.
    fn super_packet(src: [u8; 4], dst: [u8; 4], mss: u16, segments: usize) -> (Vec<u8>, Offload) {
        let mut tcp = tcp_syn(40000, 80);
        tcp[13] = 0x10; // ACK
        tcp.resize(20 + usize::from(mss) * segments, 0x5a);
        let mut p = packet(src, dst, proto::TCP, 64, &tcp);
        crate::wire::tests::make_partial(&mut p);
        (p, Offload { partial_checksum: true, gso_size: mss })
    }

    impl Lab {
        fn run_offloaded(&mut self, from: Port, p: &mut [u8], offload: Offload) -> Verdict {
            let mut reply = vec![0u8; REPLY_BUFFER];
            let now = self.now;
            self.snapshot.process_offloaded(&mut self.nats, from, p, offload, &mut reply, now)
        }
    }

    #[test]
    fn gso_super_packets_cross_the_edge_whole_with_partial_checksums() {
        let mut lab = lab();
        // Three 1448-byte segments: 1488 bytes each on the wire, under the edge's 1500.
        let (mut p, offload) = super_packet(WEB, CHECK_IP, 1448, 3);
        let len = p.len();
        assert!(len > EDGE_MTU);
        let verdict = lab.run_offloaded(lab.web, &mut p, offload);
        assert_eq!(verdict, Verdict::Forward { port: INTERNET, len });
        assert_eq!(&p[12..16], &WEB_PUBLIC);
        crate::wire::tests::finish_partial(&mut p);
        assert!(checksums_ok(&p), "the partial checksum follows the translation");

        // Through the NAT gateway, on a flow it tracks: address and port change; the
        // finished checksum holds.
        let mut syn = packet(INNER, CHECK_IP, proto::TCP, 64, &tcp_syn(40000, 80));
        assert!(matches!(lab.run(lab.inner, &mut syn).0, Verdict::Forward { .. }));
        let (mut p, offload) = super_packet(INNER, CHECK_IP, 1448, 4);
        let len = p.len();
        let verdict = lab.run_offloaded(lab.inner, &mut p, offload);
        assert_eq!(verdict, Verdict::Forward { port: INTERNET, len });
        assert_eq!(&p[12..16], &NAT_PUBLIC);
        assert_ne!(src_port(&p), 40000);
        crate::wire::tests::finish_partial(&mut p);
        assert!(checksums_ok(&p));

        // Inside the VPC (MTU 9001) nothing is cut: jumbo segments pass too.
        let (mut p, offload) = super_packet(WEB, APP, 8949, 7);
        let len = p.len();
        let verdict = lab.run_offloaded(lab.web, &mut p, offload);
        assert_eq!(verdict, Verdict::Forward { port: lab.app, len });
        crate::wire::tests::finish_partial(&mut p);
        assert!(checksums_ok(&p));
    }

    #[test]
    fn gso_segments_larger_than_the_edge_get_fragmentation_needed() {
        let mut lab = lab();
        // 8949-byte segments (the VPC's MSS) cannot leave through a 1500-byte edge.
        let (mut p, offload) = super_packet(WEB, CHECK_IP, 8949, 2);
        let verdict = lab.run_offloaded(lab.web, &mut p, offload);
        assert!(matches!(verdict, Verdict::Reply { reason: DropReason::TooBig, .. }));
        let mut syn = packet(INNER, CHECK_IP, proto::TCP, 64, &tcp_syn(40000, 80));
        assert!(matches!(lab.run(lab.inner, &mut syn).0, Verdict::Forward { .. }));
        let (mut p, offload) = super_packet(INNER, CHECK_IP, 1461, 2);
        let verdict = lab.run_offloaded(lab.inner, &mut p, offload);
        assert!(matches!(verdict, Verdict::Reply { reason: DropReason::TooBig, .. }));
    }

    #[test]
    fn an_acl_the_snapshot_lacks_denies_like_a_missing_security_group() {
        let mut lab = lab();
        let mut p = packet(WEB, [10, 0, 2, 4], proto::UDP, 64, &udp(1, 2, b"x"));
        assert!(matches!(lab.run(lab.web, &mut p.clone()).0, Verdict::Forward { .. }));
        lab.snapshot.acls = std::sync::Arc::from([]);
        assert_eq!(lab.run(lab.web, &mut p).0, Verdict::Drop(DropReason::NaclOut));
    }

    #[test]
    fn bad_input_is_counted_never_a_panic() {
        let mut lab = lab();
        let good = packet(WEB, APP, proto::ICMP, 64, &echo(1, 1));
        let mut spoofed = packet(BARE, APP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.web, &mut spoofed).0, Verdict::Drop(DropReason::SourceCheck));
        // Version 6 goes to the IPv6 pipeline, where these bytes are no IPv6 packet.
        let mut v6 = good.clone();
        v6[0] = 0x65;
        assert_eq!(lab.run(lab.web, &mut v6).0, Verdict::Drop(DropReason::Malformed));
        let mut v5 = good.clone();
        v5[0] = 0x55;
        assert_eq!(lab.run(lab.web, &mut v5).0, Verdict::Drop(DropReason::NotIpv4));
        let mut corrupt = good.clone();
        corrupt[15] ^= 0xff;
        assert_eq!(lab.run(lab.web, &mut corrupt).0, Verdict::Drop(DropReason::Malformed));
        for cut in 0..good.len() {
            let mut short = good[..cut].to_vec();
            let verdict = lab.run(lab.web, &mut short).0;
            assert!(matches!(verdict, Verdict::Drop(_)), "cut at {cut}: {verdict:?}");
        }
        let mut p = good.clone();
        assert_eq!(lab.run(99, &mut p).0, Verdict::Drop(DropReason::UnknownPort));
        let mut router = packet(WEB, [10, 0, 1, 1], proto::ICMP, 64, &echo(1, 1));
        assert_eq!(lab.run(lab.web, &mut router).0, Verdict::Drop(DropReason::VpcService));
    }

    #[test]
    fn ip_options_are_forwarded() {
        let mut lab = lab();
        // A 24-byte header (one NOP-padded option word).
        let mut p = packet(WEB, APP, proto::ICMP, 64, &echo(1, 1));
        p.splice(20..20, [1u8, 1, 1, 0]);
        p[0] = 0x46;
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[10..12].fill(0);
        let c = crate::wire::checksum(&p[..24]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let (verdict, _) = lab.run(lab.web, &mut p);
        assert_eq!(verdict, Verdict::Forward { port: lab.app, len: p.len() });
        assert_eq!(crate::wire::checksum(&p[..24]), 0);
    }

    #[test]
    fn a_detached_gateway_makes_a_blackhole() {
        let mut m = Model::new(5);
        let vpc = m.create_vpc("10.2.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let subnet =
            m.create_subnet(&vpc, "10.2.0.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let main = m.vpc(&vpc).unwrap().main_route_table.clone();
        let default = RouteSpec {
            destination: "0.0.0.0/0".parse().unwrap(),
            target: RouteTarget::Gateway(igw.clone()),
        };
        m.create_route(&main, default).unwrap();
        let i = m.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
        m.detach_internet_gateway(&igw, &vpc).unwrap();
        let mut ports = PortMap::new();
        let port = ports.assign(&i);
        let snapshot = compile(&m, &mut ports, 1);
        let mut p = packet([10, 2, 0, 4], CHECK_IP, proto::ICMP, 64, &echo(1, 1));
        let mut reply = vec![0u8; REPLY_BUFFER];
        let verdict = snapshot.process(&mut Tracking::new(16), port, &mut p, &mut reply, 0);
        assert_eq!(verdict, Verdict::Drop(DropReason::Blackhole));
    }

    /// A VPC (10.2.0.0/16) with a subnet and a virtual private gateway attached: the
    /// model, the subnet, the gateway, the main route table.
    fn vgw_vpc(
        seed: u64,
    ) -> (Model, vpclab_model::SubnetId, vpclab_model::VpnGatewayId, vpclab_model::RouteTableId)
    {
        let mut m = Model::new(seed);
        let vpc = m.create_vpc("10.2.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let subnet =
            m.create_subnet(&vpc, "10.2.0.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let vgw = m.create_vpn_gateway(None, None, Tags::new(), 0).unwrap();
        m.attach_vpn_gateway(&vgw, &vpc, 0).unwrap();
        let main = m.vpc(&vpc).unwrap().main_route_table.clone();
        (m, subnet, vgw, main)
    }

    /// A VPN connection of `vgw` to a customer gateway at `cgw_ip`.
    fn connect(
        m: &mut Model,
        vgw: &vpclab_model::VpnGatewayId,
        cgw_ip: [u8; 4],
        static_routes_only: bool,
    ) -> vpclab_model::VpnConnectionId {
        let cgw = vpclab_model::CustomerGatewaySpec::new(cgw_ip.into(), None, None, None).unwrap();
        let cgw = m.create_customer_gateway(cgw, Tags::new(), 0);
        let spec = vpclab_model::VpnConnectionSpec {
            customer_gateway: cgw,
            end: Some(vpclab_model::VpnEnd::VpnGateway(vgw.clone())),
            static_routes_only,
            tunnel_bandwidth: None,
            tunnels: Default::default(),
        };
        m.create_vpn_connection(spec, Tags::new(), 0).unwrap()
    }

    #[test]
    fn routes_to_a_virtual_private_gateway_are_dropped_as_vpn_down() {
        let (mut m, subnet, vgw, main) = vgw_vpc(6);
        let to_vgw = RouteSpec {
            destination: "192.168.0.0/16".parse().unwrap(),
            target: RouteTarget::VpnGateway(vgw.clone()),
        };
        m.create_route(&main, to_vgw).unwrap();
        let vpn = connect(&mut m, &vgw, [198, 51, 100, 2], true);
        m.create_vpn_connection_route(&vpn, "172.16.0.0/16".parse().unwrap()).unwrap();
        m.enable_vgw_route_propagation(&main, &vgw).unwrap();
        let i = m.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
        let mut ports = PortMap::new();
        let port = ports.assign(&i);
        let send = |m: &Model, ports: &mut PortMap, to: [u8; 4]| {
            let snapshot = compile(m, ports, 1);
            let mut p = packet([10, 2, 0, 4], to, proto::ICMP, 64, &echo(1, 1));
            let mut reply = vec![0u8; REPLY_BUFFER];
            snapshot.process(&mut Tracking::new(16), port, &mut p, &mut reply, 0)
        };
        // Its static route is withdrawn while its tunnels are down, as AWS does.
        assert_eq!(send(&m, &mut ports, [192, 168, 1, 1]), Verdict::Drop(DropReason::VpnDown));
        assert_eq!(send(&m, &mut ports, [172, 16, 0, 9]), Verdict::Drop(DropReason::NoRoute));
        let up = vpclab_model::TunnelLive { ipsec_up: true, ..Default::default() };
        m.report_vpn_tunnels(&vpn, [up, Default::default()], 1);
        // Propagated now; with no device for the tunnels, the gateway drops it.
        assert_eq!(send(&m, &mut ports, [172, 16, 0, 9]), Verdict::Drop(DropReason::VpnDown));
        let vpc = m.vpn_gateway(&vgw).unwrap().attached_to().unwrap().clone();
        m.detach_vpn_gateway(&vgw, &vpc, 0).unwrap();
        assert_eq!(send(&m, &mut ports, [192, 168, 1, 1]), Verdict::Drop(DropReason::Blackhole));
        assert_eq!(
            send(&m, &mut ports, [172, 16, 0, 9]),
            Verdict::Drop(DropReason::NoRoute),
            "a detached gateway propagates nothing"
        );
    }

    #[test]
    fn a_gateway_sends_each_prefix_into_the_connection_that_brings_it_and_takes_answers_back() {
        let (mut m, subnet, vgw, main) = vgw_vpc(7);
        m.enable_vgw_route_propagation(&main, &vgw).unwrap();
        // One connection learns 172.16.0.0/16 over BGP (tunnel 2 up); the other has a
        // static route to 172.16.5.0/24.
        let bgp = connect(&mut m, &vgw, [198, 51, 100, 2], false);
        let up = vpclab_model::TunnelLive {
            ipsec_up: true,
            bgp_up: true,
            routes: vec!["172.16.0.0/16".parse().unwrap()],
            since: 0,
        };
        assert!(m.report_vpn_tunnels(&bgp, [Default::default(), up], 5));
        let fixed = connect(&mut m, &vgw, [198, 51, 100, 3], true);
        m.create_vpn_connection_route(&fixed, "172.16.5.0/24".parse().unwrap()).unwrap();
        let ipsec = vpclab_model::TunnelLive { ipsec_up: true, ..Default::default() };
        assert!(m.report_vpn_tunnels(&fixed, [ipsec, Default::default()], 5));
        let i = m.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
        let mut ports = PortMap::new();
        let port = ports.assign(&i);
        let (to_bgp, to_fixed) = (ports.assign_vpn(&bgp), ports.assign_vpn(&fixed));
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(16);
        let mut reply = vec![0u8; REPLY_BUFFER];
        let private = m.instance(&i).unwrap().private_ip.unwrap().octets();
        for (to, want) in [([172, 16, 9, 9], to_bgp), ([172, 16, 5, 1], to_fixed)] {
            let mut p = packet(private, to, proto::ICMP, 64, &echo(1, 1));
            let verdict = snapshot.process(&mut tracking, port, &mut p, &mut reply, 0);
            assert!(
                matches!(verdict, Verdict::Forward { port, .. } if port == want),
                "{to:?}: {verdict:?}"
            );
        }
        assert_eq!(
            snapshot.process(
                &mut tracking,
                port,
                &mut packet(private, [192, 168, 0, 1], proto::ICMP, 64, &echo(1, 1)),
                &mut reply,
                0
            ),
            Verdict::Drop(DropReason::NoRoute),
            "nothing brings 192.168.0.0/16: no route propagated"
        );
        // The answer comes back from the tunnels to the instance (its group allows
        // replies of the tracked flow); the VPC is no transit.
        let mut echo_reply = echo(1, 1);
        echo_reply[0] = icmp::ECHO_REPLY;
        let mut answer = packet([172, 16, 9, 9], private, proto::ICMP, 60, &echo_reply);
        let verdict = snapshot.process(&mut tracking, to_bgp, &mut answer, &mut reply, 0);
        assert!(matches!(verdict, Verdict::Forward { port: p, .. } if p == port), "{verdict:?}");
        let mut onward = packet([172, 16, 9, 9], [10, 9, 0, 1], proto::ICMP, 60, &echo(2, 1));
        let verdict = snapshot.process(&mut tracking, to_bgp, &mut onward, &mut reply, 0);
        assert_eq!(verdict, Verdict::Drop(DropReason::NoRoute));
        // Unsolicited, the default group refuses it.
        let mut unsolicited = packet([172, 16, 9, 9], private, proto::ICMP, 60, &echo(3, 1));
        let verdict = snapshot.process(&mut tracking, to_bgp, &mut unsolicited, &mut reply, 0);
        assert_eq!(verdict, Verdict::Drop(DropReason::SgIngress));
    }

    #[test]
    fn icmp_errors_from_the_internet_are_translated_inside() {
        let mut lab = lab();
        // What web sent, as the internet saw it (translated on the way out).
        let mut sent = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(5000, 9, b"x"));
        assert!(matches!(lab.run(lab.web, &mut sent).0, Verdict::Forward { .. }));
        let mut error = vec![0u8; REPLY_BUFFER];
        let len = crate::wire::icmp_error(
            &mut error,
            Ipv4Addr::from(CHECK_IP),
            &crate::wire::Ipv4::new_checked(&sent[..]).unwrap(),
            icmp::UNREACHABLE,
            3,
            0,
        )
        .unwrap();
        let mut error = error[..len].to_vec();
        let (verdict, _) = lab.run(INTERNET, &mut error);
        assert_eq!(verdict, Verdict::Forward { port: lab.web, len });
        assert_eq!(&error[16..20], &WEB);
        assert_eq!(&error[28 + 12..28 + 16], &WEB, "the quoted source is private again");
        assert!(checksums_ok(&error));
    }

    #[test]
    fn fragments_are_forwarded_and_translated_as_their_first() {
        let mut lab = lab();
        let whole = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(5000, 53, &[7; 40]));
        let (mut first, mut later) = split(&whole, 77);
        // The first fragment carries the UDP header: its checksum (over the whole
        // datagram) is patched.
        let (verdict, _) = lab.run(lab.web, &mut first);
        assert_eq!(verdict, Verdict::Forward { port: INTERNET, len: first.len() });
        assert_eq!(&first[12..16], &WEB_PUBLIC);
        // A later one: no L4 header to patch, only IP.
        let payload = later[20..].to_vec();
        let (verdict, _) = lab.run(lab.web, &mut later);
        assert_eq!(verdict, Verdict::Forward { port: INTERNET, len: later.len() });
        assert_eq!(&later[12..16], &WEB_PUBLIC);
        assert_eq!(crate::wire::checksum(&later[..20]), 0);
        assert_eq!(&later[20..], &payload[..], "payload untouched");
        // Put back together, the datagram's checksums hold.
        let mut joined = [&first[..], &later[20..]].concat();
        let total = joined.len() as u16;
        joined[2..4].copy_from_slice(&total.to_be_bytes());
        joined[6..8].fill(0);
        joined[10..12].fill(0);
        let c = crate::wire::checksum(&joined[..20]);
        joined[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(checksums_ok(&joined));
        // A later fragment whose first was never seen: nothing tells its ports.
        let (_, mut orphan) = split(&whole, 78);
        assert_eq!(lab.run(lab.web, &mut orphan).0, Verdict::Drop(DropReason::FragmentUntracked));
    }

    #[test]
    fn a_fragmented_answer_gets_in_by_tracking_and_an_unsolicited_one_does_not() {
        let mut lab = lab();
        // web (default group: nothing from outside) asks; the answer comes back in two
        // fragments, which tracking admits both.
        let mut ask = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(40000, 53, b"q"));
        assert!(matches!(lab.run(lab.web, &mut ask).0, Verdict::Forward { .. }));
        let answer = packet(CHECK_IP, WEB_PUBLIC, proto::UDP, 64, &udp(53, 40000, &[1; 1600]));
        let (mut first, mut later) = split(&answer, 1);
        assert_eq!(lab.run(INTERNET, &mut first).0, Verdict::Forward { port: lab.web, len: 28 });
        let (verdict, _) = lab.run(INTERNET, &mut later);
        assert!(matches!(verdict, Verdict::Forward { port, .. } if port == lab.web), "{verdict:?}");
        assert_eq!(&later[16..20], &WEB, "translated to the private address");
        // The same from a port nothing asked: every fragment is refused alike.
        let unsolicited = packet(CHECK_IP, WEB_PUBLIC, proto::UDP, 64, &udp(53, 40001, &[1; 1600]));
        let (mut first, mut later) = split(&unsolicited, 2);
        assert_eq!(lab.run(INTERNET, &mut first).0, Verdict::Drop(DropReason::SgIngress));
        assert_eq!(lab.run(INTERNET, &mut later).0, Verdict::Drop(DropReason::SgIngress));
    }

    const INNER: [u8; 4] = [10, 0, 3, 4];
    const NAT_PUBLIC: [u8; 4] = [203, 0, 113, 11];

    fn src_port(p: &[u8]) -> u16 {
        u16::from_be_bytes([p[20], p[21]])
    }

    fn dst_port(p: &[u8]) -> u16 {
        u16::from_be_bytes([p[22], p[23]])
    }

    #[test]
    fn the_nat_gateway_translates_tcp_both_ways() {
        let mut lab = lab();
        let mut syn = packet(INNER, CHECK_IP, proto::TCP, 64, &tcp_syn(40000, 80));
        let (verdict, _) = lab.run(lab.inner, &mut syn);
        assert_eq!(verdict, Verdict::Forward { port: INTERNET, len: syn.len() });
        assert_eq!(&syn[12..16], &NAT_PUBLIC, "source is the NAT's Elastic IP");
        let port = src_port(&syn);
        assert!(port >= 1024);
        assert_eq!(syn[8], 62, "two hops: the VPC router and the NAT gateway");
        assert!(checksums_ok(&syn));

        let mut syn_ack = tcp_syn(80, port);
        syn_ack[13] = 0x12;
        let mut back = packet(CHECK_IP, NAT_PUBLIC, proto::TCP, 64, &syn_ack);
        let (verdict, _) = lab.run(INTERNET, &mut back);
        assert_eq!(verdict, Verdict::Forward { port: lab.inner, len: back.len() });
        assert_eq!(&back[16..20], &INNER);
        assert_eq!(dst_port(&back), 40000);
        assert!(checksums_ok(&back));

        // The same flow keeps its port.
        let mut ack = tcp_syn(40000, 80);
        ack[13] = 0x10;
        let mut again = packet(INNER, CHECK_IP, proto::TCP, 64, &ack);
        lab.run(lab.inner, &mut again);
        assert_eq!(src_port(&again), port);
    }

    #[test]
    fn ping_and_udp_go_through_the_nat() {
        let mut lab = lab();
        let mut request = packet(INNER, CHECK_IP, proto::ICMP, 64, &echo(0x4242, 1));
        assert_eq!(
            lab.run(lab.inner, &mut request).0,
            Verdict::Forward { port: INTERNET, len: request.len() }
        );
        let id = u16::from_be_bytes([request[24], request[25]]);
        assert!(checksums_ok(&request));
        let mut reply_msg = echo(id, 1);
        reply_msg[0] = icmp::ECHO_REPLY;
        let mut reply = packet(CHECK_IP, NAT_PUBLIC, proto::ICMP, 64, &reply_msg);
        assert_eq!(
            lab.run(INTERNET, &mut reply).0,
            Verdict::Forward { port: lab.inner, len: reply.len() }
        );
        assert_eq!(u16::from_be_bytes([reply[24], reply[25]]), 0x4242, "identifier restored");
        assert!(checksums_ok(&reply));

        let mut query = packet(INNER, CHECK_IP, proto::UDP, 64, &udp(5353, 53, b"query"));
        lab.run(lab.inner, &mut query);
        let port = src_port(&query);
        assert!(checksums_ok(&query));
        let mut answer = packet(CHECK_IP, NAT_PUBLIC, proto::UDP, 64, &udp(53, port, b"answer"));
        assert_eq!(
            lab.run(INTERNET, &mut answer).0,
            Verdict::Forward { port: lab.inner, len: answer.len() }
        );
        assert_eq!(dst_port(&answer), 5353);
        assert!(checksums_ok(&answer));
    }

    #[test]
    fn nothing_unsolicited_comes_in_through_the_nat() {
        let mut lab = lab();
        for l4 in [
            (proto::TCP, tcp_syn(40000, 8080)),
            (proto::UDP, udp(1, 2, b"x")),
            (proto::ICMP, echo(1, 1)),
        ] {
            let mut p = packet(CHECK_IP, NAT_PUBLIC, l4.0, 64, &l4.1);
            assert_eq!(lab.run(INTERNET, &mut p).0, Verdict::Drop(DropReason::NatNoFlow));
        }
    }

    #[test]
    fn an_idle_flow_times_out_and_the_inside_gets_an_rst() {
        let mut lab = lab();
        let mut syn = packet(INNER, CHECK_IP, proto::TCP, 64, &tcp_syn(40000, 80));
        lab.run(lab.inner, &mut syn);
        let port = src_port(&syn);
        let mut syn_ack = tcp_syn(80, port);
        syn_ack[13] = 0x12;
        lab.run(INTERNET, &mut packet(CHECK_IP, NAT_PUBLIC, proto::TCP, 64, &syn_ack));

        lab.now += 350_000;
        let mut data = tcp_syn(40000, 80);
        data[13] = 0x18; // PSH, ACK
        data[8..12].copy_from_slice(&0x1111_2222u32.to_be_bytes());
        let mut late = packet(INNER, CHECK_IP, proto::TCP, 64, &data);
        let (verdict, rst) = lab.run(lab.inner, &mut late);
        assert_eq!(
            verdict,
            Verdict::Reply { port: lab.inner, len: 40, reason: DropReason::NatReset }
        );
        assert!(checksums_ok(&rst));
        assert_eq!(&rst[12..16], &CHECK_IP, "as if from the server");
        assert_eq!(&rst[16..20], &INNER);
        assert_eq!((src_port(&rst), dst_port(&rst)), (80, 40000));
        assert_eq!(rst[33], 0x04, "RST");
        assert_eq!(&rst[24..28], &0x1111_2222u32.to_be_bytes(), "seq = the segment's ack");
        // And the outside cannot come back on the old mapping.
        let mut stale = packet(CHECK_IP, NAT_PUBLIC, proto::TCP, 64, &syn_ack);
        assert_eq!(lab.run(INTERNET, &mut stale).0, Verdict::Drop(DropReason::NatNoFlow));
    }

    #[test]
    fn a_segment_without_a_flow_gets_an_rst() {
        let mut lab = lab();
        let mut ack = tcp_syn(40001, 80);
        ack[13] = 0x10;
        let mut p = packet(INNER, CHECK_IP, proto::TCP, 64, &ack);
        assert!(matches!(
            lab.run(lab.inner, &mut p).0,
            Verdict::Reply { reason: DropReason::NatReset, .. }
        ));
    }

    #[test]
    fn icmp_errors_about_natted_flows_are_translated_back() {
        let mut lab = lab();
        let mut query = packet(INNER, CHECK_IP, proto::UDP, 64, &udp(5353, 9, b"probe"));
        lab.run(lab.inner, &mut query);
        let mut error = vec![0u8; REPLY_BUFFER];
        let len = crate::wire::icmp_error(
            &mut error,
            Ipv4Addr::from(CHECK_IP),
            &Ipv4::new_checked(&query[..]).unwrap(),
            icmp::UNREACHABLE,
            3,
            0,
        )
        .unwrap();
        let mut error = error[..len].to_vec();
        assert_eq!(lab.run(INTERNET, &mut error).0, Verdict::Forward { port: lab.inner, len });
        assert_eq!(&error[16..20], &INNER);
        let quoted = &error[28..];
        assert_eq!(&quoted[12..16], &INNER, "quoted source restored");
        assert_eq!(u16::from_be_bytes([quoted[20], quoted[21]]), 5353, "quoted port restored");
        assert!(checksums_ok(&error));
        let mut inner = quoted.to_vec();
        crate::wire::tests::fix_l4(&mut inner);
        assert_eq!(inner, quoted, "quoted UDP checksum consistent");
    }

    #[test]
    fn traceroute_sees_the_router_then_the_nat_gateway() {
        let mut lab = lab();
        let mut first = packet(INNER, CHECK_IP, proto::UDP, 1, &udp(33434, 33434, b""));
        let (_, reply) = lab.run(lab.inner, &mut first);
        assert_eq!(&reply[12..16], &[10, 0, 3, 1]);
        let mut second = packet(INNER, CHECK_IP, proto::UDP, 2, &udp(33435, 33435, b""));
        let (verdict, reply) = lab.run(lab.inner, &mut second);
        assert!(matches!(verdict, Verdict::Reply { reason: DropReason::TtlExceeded, .. }));
        assert_eq!(&reply[12..16], &[10, 0, 1, 6], "the NAT gateway's private address");
    }

    #[test]
    fn what_a_nat_gateway_does_not_carry() {
        let mut lab = lab();
        let mut timestamp = echo(1, 1);
        timestamp[0] = 13;
        let mut p = packet(INNER, CHECK_IP, proto::ICMP, 64, &timestamp);
        assert_eq!(lab.run(lab.inner, &mut p).0, Verdict::Drop(DropReason::NatUnsupported));
        let mut gre = packet(INNER, CHECK_IP, 47, 64, b"0123456789");
        assert_eq!(lab.run(lab.inner, &mut gre).0, Verdict::Drop(DropReason::NatUnsupported));
    }

    #[test]
    fn fragments_cross_the_nat_gateway_both_ways_as_their_first() {
        let mut lab = lab();
        let request = packet(INNER, CHECK_IP, proto::UDP, 64, &udp(5353, 53, &[3; 40]));
        let (mut first, mut later) = split(&request, 9);
        assert!(matches!(lab.run(lab.inner, &mut first).0, Verdict::Forward { .. }));
        let port = src_port(&first);
        assert!(matches!(lab.run(lab.inner, &mut later).0, Verdict::Forward { .. }));
        assert_eq!(&later[12..16], &NAT_PUBLIC);
        // The answer, fragmented on its way back: both fragments find the flow.
        let answer = packet(CHECK_IP, NAT_PUBLIC, proto::UDP, 64, &udp(53, port, &[4; 1600]));
        let (mut first, mut later) = split(&answer, 10);
        assert!(matches!(lab.run(INTERNET, &mut first).0, Verdict::Forward { .. }));
        assert_eq!((&first[16..20], dst_port(&first)), (&INNER[..], 5353));
        let (verdict, _) = lab.run(INTERNET, &mut later);
        assert!(
            matches!(verdict, Verdict::Forward { port, .. } if port == lab.inner),
            "{verdict:?}"
        );
        assert_eq!(&later[16..20], &INNER);
        assert_eq!(crate::wire::checksum(&later[..20]), 0);
    }

    #[test]
    fn a_nat_gateway_without_an_internet_route_gives_no_internet() {
        let mut m = Model::new(9);
        let vpc = m.create_vpc("10.3.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let a = m.create_subnet(&vpc, "10.3.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let b = m.create_subnet(&vpc, "10.3.2.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let eip = m.allocate_address(Tags::new()).unwrap();
        // The NAT gateway sits in `a`, which uses the main table: local only.
        let nat = m
            .create_nat_gateway(vpclab_model::NatGatewaySpec::public(&a, &eip), Tags::new(), 0)
            .unwrap();
        let table = m.create_route_table(&vpc, Tags::new()).unwrap();
        m.associate_route_table(&table, &b).unwrap();
        let route = RouteSpec {
            destination: "0.0.0.0/0".parse().unwrap(),
            target: RouteTarget::NatGateway(nat),
        };
        m.create_route(&table, route).unwrap();
        let i = m.run_instance(RunInstance { subnet: Some(b), ..Default::default() }).unwrap();
        let mut ports = PortMap::new();
        let port = ports.assign(&i);
        let snapshot = compile(&m, &mut ports, 1);
        let mut nats = Tracking::new(16);
        nats.sync(&snapshot);
        let mut p = packet([10, 3, 2, 4], CHECK_IP, proto::TCP, 64, &tcp_syn(1, 80));
        let mut reply = vec![0u8; REPLY_BUFFER];
        assert_eq!(
            snapshot.process(&mut nats, port, &mut p, &mut reply, 0),
            Verdict::Drop(DropReason::NoRoute)
        );
    }

    /// A VPC with an internet gateway and one subnet routed to it; `web` (public IP
    /// 203.0.113.10) in group `web`, `app` in group `app`, `other` in the default group.
    struct SgLab {
        model: Model,
        ports: PortMap,
        snapshot: Snapshot,
        tracking: Tracking,
        web: Port,
        app: Port,
        other: Port,
        web_group: vpclab_model::SecurityGroupId,
        app_group: vpclab_model::SecurityGroupId,
    }

    const APP_HOST: [u8; 4] = [10, 5, 0, 5];
    const OTHER_HOST: [u8; 4] = [10, 5, 0, 6];
    const WEB_HOST: [u8; 4] = [10, 5, 0, 4];

    fn rule(
        protocol: vpclab_model::Protocol,
        from: i32,
        to: i32,
        peer: vpclab_model::Peer,
    ) -> vpclab_model::SgRule {
        vpclab_model::SgRule::new(protocol, from, to, peer, None).unwrap()
    }

    fn sg_lab() -> SgLab {
        let mut m = Model::new(11);
        let vpc = m.create_vpc("10.5.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let subnet =
            m.create_subnet(&vpc, "10.5.0.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        internet_via_main(&mut m, &vpc);
        let web_group = m.create_security_group(&vpc, "web", "web", Tags::new()).unwrap();
        let app_group = m.create_security_group(&vpc, "app", "app", Tags::new()).unwrap();
        let launch =
            |m: &mut Model, group: Option<&vpclab_model::SecurityGroupId>, public: bool| {
                m.run_instance(RunInstance {
                    subnet: Some(subnet.clone()),
                    public_ip: Some(public),
                    security_groups: group.into_iter().cloned().collect(),
                    ..Default::default()
                })
                .unwrap()
            };
        let web = launch(&mut m, Some(&web_group), true);
        let app = launch(&mut m, Some(&app_group), false);
        let other = launch(&mut m, None, false);
        let mut ports = PortMap::new();
        let [web, app, other] = [web, app, other].map(|i| ports.assign(&i));
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(16);
        tracking.sync(&snapshot);
        SgLab { model: m, ports, snapshot, tracking, web, app, other, web_group, app_group }
    }

    impl SgLab {
        fn run(&mut self, from: Port, packet: &mut [u8]) -> Verdict {
            let mut reply = vec![0u8; REPLY_BUFFER];
            self.snapshot.process(&mut self.tracking, from, packet, &mut reply, 0)
        }

        fn recompile(&mut self) {
            self.snapshot = compile(&self.model, &mut self.ports, 2);
        }
    }

    #[test]
    fn an_ingress_rule_opens_a_port_and_replies_need_no_egress_rule() {
        use vpclab_model::{Peer, Protocol};
        let mut lab = sg_lab();
        let syn = |port| packet(CHECK_IP, WEB_PUBLIC, proto::TCP, 64, &tcp_syn(40000, port));
        assert_eq!(
            lab.run(INTERNET, &mut syn(8080)),
            Verdict::Drop(DropReason::SgIngress),
            "no rule yet"
        );
        let anywhere = Peer::Cidr("0.0.0.0/0".parse().unwrap());
        lab.model
            .authorize(
                &lab.web_group,
                false,
                vec![rule(Protocol::Tcp, 8080, 8080, anywhere.clone())],
            )
            .unwrap();
        // No egress rules at all: replies must still leave.
        let egress = lab.model.security_group(&lab.web_group).unwrap().egress.clone();
        lab.model.revoke(&lab.web_group, true, &egress).unwrap();
        lab.recompile();
        assert!(matches!(lab.run(INTERNET, &mut syn(8080)), Verdict::Forward { .. }));
        assert_eq!(
            lab.run(INTERNET, &mut syn(22)),
            Verdict::Drop(DropReason::SgIngress),
            "other ports stay shut"
        );
        let mut syn_ack = tcp_syn(8080, 40000);
        syn_ack[13] = 0x12;
        let mut reply = packet(WEB_HOST, CHECK_IP, proto::TCP, 64, &syn_ack);
        assert!(
            matches!(lab.run(lab.web, &mut reply), Verdict::Forward { port: INTERNET, .. }),
            "the reply is tracked"
        );
        // Without egress rules, web cannot start anything itself.
        let mut new = packet(WEB_HOST, CHECK_IP, proto::TCP, 64, &tcp_syn(40001, 80));
        assert_eq!(lab.run(lab.web, &mut new), Verdict::Drop(DropReason::SgEgress));
    }

    #[test]
    fn tracked_connections_end_with_their_tcp_state_and_the_interfaces_timeouts() {
        use vpclab_model::{ConnectionTracking, Peer, Protocol};
        let mut lab = sg_lab();
        let anywhere = Peer::Cidr("0.0.0.0/0".parse().unwrap());
        let open = rule(Protocol::Tcp, 8080, 8080, anywhere);
        lab.model.authorize(&lab.web_group, false, vec![open.clone()]).unwrap();
        // No egress rules: everything web sends must be a tracked reply.
        let egress = lab.model.security_group(&lab.web_group).unwrap().egress.clone();
        lab.model.revoke(&lab.web_group, true, &egress).unwrap();
        lab.recompile();
        let at = |lab: &mut SgLab, from: Port, flags: u8, now: u64| {
            let (src, dst, sport, dport) = if from == INTERNET {
                (CHECK_IP, WEB_PUBLIC, 40000, 8080)
            } else {
                (WEB_HOST, CHECK_IP, 8080, 40000)
            };
            let mut l4 = tcp_syn(sport, dport);
            l4[13] = flags;
            let mut p = packet(src, dst, proto::TCP, 64, &l4);
            let mut reply = vec![0u8; REPLY_BUFFER];
            lab.snapshot.process(&mut lab.tracking, from, &mut p, &mut reply, now)
        };
        let (syn, syn_ack, ack, fin) = (0x02, 0x12, 0x10, 0x11);
        let web = lab.web;
        let passes = |v: Verdict| matches!(v, Verdict::Forward { .. });
        assert!(passes(at(&mut lab, INTERNET, syn, 0)));
        assert!(passes(at(&mut lab, web, syn_ack, 1)));
        assert!(passes(at(&mut lab, INTERNET, ack, 2)));
        // Established: AWS's default keeps an idle connection 5 days.
        assert!(passes(at(&mut lab, web, ack, 100_000)));
        // The interface's TcpEstablishedTimeout, set to 60 s, applies from the next packet.
        let instance = lab.model.instances().find(|i| i.public_ip.is_some()).unwrap();
        let eni = instance.interface.clone();
        let short = ConnectionTracking::default().with(Some(60), None, None).unwrap();
        lab.model.set_connection_tracking(&eni, short).unwrap();
        lab.recompile();
        assert!(passes(at(&mut lab, web, ack, 159_999)));
        assert_eq!(
            at(&mut lab, web, ack, 159_999 + 60_000),
            Verdict::Drop(DropReason::SgEgress),
            "idle 60 s: no longer tracked"
        );
        // A connection closed by FIN both ways drains in 10 s.
        let t = 300_000;
        assert!(passes(at(&mut lab, INTERNET, syn, t)));
        assert!(passes(at(&mut lab, web, syn_ack, t + 1)));
        assert!(passes(at(&mut lab, INTERNET, fin, t + 2)));
        assert!(passes(at(&mut lab, web, fin, t + 3)));
        assert!(passes(at(&mut lab, INTERNET, ack, t + 4)));
        assert_eq!(at(&mut lab, web, ack, t + 4 + 10_000), Verdict::Drop(DropReason::SgEgress));
        // A new SYN on the addresses and ports of a closed connection is a new
        // connection: the rules decide again.
        assert!(passes(at(&mut lab, INTERNET, syn, t + 20_000)));
        assert!(passes(at(&mut lab, web, 0x14, t + 20_001)), "web resets it");
        lab.model.revoke(&lab.web_group, false, &[open]).unwrap();
        lab.recompile();
        assert_eq!(at(&mut lab, INTERNET, syn, t + 20_002), Verdict::Drop(DropReason::SgIngress));
    }

    #[test]
    fn flows_open_to_anywhere_both_ways_are_untracked_and_cut_with_their_rule() {
        use vpclab_model::{Peer, Protocol};
        let mut lab = sg_lab();
        let anywhere = Peer::Cidr("0.0.0.0/0".parse().unwrap());
        let rule = rule(Protocol::Tcp, 8080, 8080, anywhere);
        lab.model.authorize(&lab.web_group, false, vec![rule.clone()]).unwrap();
        lab.recompile();
        let mut syn = packet(CHECK_IP, WEB_PUBLIC, proto::TCP, 64, &tcp_syn(40000, 8080));
        assert!(matches!(lab.run(INTERNET, &mut syn), Verdict::Forward { .. }));
        assert!(lab.tracking.sg.is_empty(), "web's egress allows everything: not tracked");
        lab.model.revoke(&lab.web_group, false, &[rule]).unwrap();
        lab.recompile();
        let mut ack = tcp_syn(40000, 8080);
        ack[13] = 0x10;
        let mut more = packet(CHECK_IP, WEB_PUBLIC, proto::TCP, 64, &ack);
        assert_eq!(
            lab.run(INTERNET, &mut more),
            Verdict::Drop(DropReason::SgIngress),
            "cut at once"
        );
    }

    #[test]
    fn ping_needs_an_icmp_rule() {
        use vpclab_model::{Peer, Protocol};
        let mut lab = sg_lab();
        let ping = || packet(CHECK_IP, WEB_PUBLIC, proto::ICMP, 64, &echo(9, 1));
        assert_eq!(lab.run(INTERNET, &mut ping()), Verdict::Drop(DropReason::SgIngress));
        let anywhere = Peer::Cidr("0.0.0.0/0".parse().unwrap());
        // Echo request only (type 8, any code).
        lab.model
            .authorize(&lab.web_group, false, vec![rule(Protocol::Icmp, 8, -1, anywhere)])
            .unwrap();
        lab.recompile();
        assert!(matches!(lab.run(INTERNET, &mut ping()), Verdict::Forward { .. }));
        let mut timestamp = echo(9, 1);
        timestamp[0] = 13;
        assert_eq!(
            lab.run(INTERNET, &mut packet(CHECK_IP, WEB_PUBLIC, proto::ICMP, 64, &timestamp)),
            Verdict::Drop(DropReason::SgIngress)
        );
    }

    #[test]
    fn a_group_reference_admits_its_members_only_even_in_one_subnet() {
        use vpclab_model::{Peer, Protocol};
        let mut lab = sg_lab();
        let rule = rule(Protocol::Tcp, 5432, 5432, Peer::Group(lab.app_group.clone()));
        lab.model.authorize(&lab.web_group, false, vec![rule.clone()]).unwrap();
        lab.recompile();
        let mut from_app = packet(APP_HOST, WEB_HOST, proto::TCP, 64, &tcp_syn(40000, 5432));
        assert_eq!(
            lab.run(lab.app, &mut from_app),
            Verdict::Forward { port: lab.web, len: from_app.len() }
        );
        let mut from_other = packet(OTHER_HOST, WEB_HOST, proto::TCP, 64, &tcp_syn(40000, 5432));
        assert_eq!(lab.run(lab.other, &mut from_other), Verdict::Drop(DropReason::SgIngress));
        // Removing the rule does not cut the tracked flow.
        lab.model.revoke(&lab.web_group, false, &[rule]).unwrap();
        lab.recompile();
        let mut more = packet(APP_HOST, WEB_HOST, proto::TCP, 64, &{
            let mut a = tcp_syn(40000, 5432);
            a[13] = 0x10;
            a
        });
        assert!(matches!(lab.run(lab.app, &mut more), Verdict::Forward { .. }));
        let mut fresh = packet(APP_HOST, WEB_HOST, proto::TCP, 64, &tcp_syn(40001, 5432));
        assert_eq!(lab.run(lab.app, &mut fresh), Verdict::Drop(DropReason::SgIngress));
    }

    /// Network ACL tests: subnets `a` (10.6.1.0/24, routed to the gateway) and `b`
    /// (10.6.2.0/24); `x` (public 203.0.113.10) and `y` in a, `z` in b; everyone in a group
    /// open to all, so only the ACLs decide.
    struct AclLab {
        model: Model,
        ports: PortMap,
        snapshot: Snapshot,
        tracking: Tracking,
        x: Port,
        y: Port,
        z: Port,
        a: vpclab_model::SubnetId,
        b: vpclab_model::SubnetId,
        vpc: vpclab_model::VpcId,
    }

    const X: [u8; 4] = [10, 6, 1, 4];
    const Y: [u8; 4] = [10, 6, 1, 5];
    const Z: [u8; 4] = [10, 6, 2, 4];

    fn acl_lab() -> AclLab {
        use vpclab_model::{Peer, Protocol};
        let mut m = Model::new(13);
        let vpc = m.create_vpc("10.6.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let a = m.create_subnet(&vpc, "10.6.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        let b = m.create_subnet(&vpc, "10.6.2.0/24".parse().unwrap(), None, Tags::new()).unwrap();
        internet_via_main(&mut m, &vpc);
        let open = m.create_security_group(&vpc, "open", "open", Tags::new()).unwrap();
        m.authorize(
            &open,
            false,
            vec![rule(Protocol::All, -1, -1, Peer::Cidr("0.0.0.0/0".parse().unwrap()))],
        )
        .unwrap();
        let mut launch = |subnet: &vpclab_model::SubnetId, public| {
            m.run_instance(RunInstance {
                subnet: Some(subnet.clone()),
                public_ip: Some(public),
                security_groups: vec![open.clone()],
                ..Default::default()
            })
            .unwrap()
        };
        let (x, y, z) = (launch(&a, true), launch(&a, false), launch(&b, false));
        let mut ports = PortMap::new();
        let [x, y, z] = [x, y, z].map(|i| ports.assign(&i));
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(16);
        tracking.sync(&snapshot);
        AclLab { model: m, ports, snapshot, tracking, x, y, z, a, b, vpc }
    }

    impl AclLab {
        fn run(&mut self, from: Port, packet: &mut [u8]) -> Verdict {
            let mut reply = vec![0u8; REPLY_BUFFER];
            self.snapshot.process(&mut self.tracking, from, packet, &mut reply, 0)
        }

        /// A custom ACL with `entries`, associated with `subnet`.
        fn custom(
            &mut self,
            subnet: &vpclab_model::SubnetId,
            entries: Vec<vpclab_model::AclEntry>,
        ) {
            let acl = self.model.create_network_acl(&self.vpc, Tags::new()).unwrap();
            for e in entries {
                self.model.create_network_acl_entry(&acl, e).unwrap();
            }
            let current = self.model.network_acl_of(subnet).unwrap();
            let association =
                current.associations.iter().find(|(_, s)| s == subnet).unwrap().0.clone();
            self.model.replace_network_acl_association(&association, &acl).unwrap();
            self.snapshot = compile(&self.model, &mut self.ports, 2);
        }
    }

    fn entry(
        number: u16,
        egress: bool,
        protocol: vpclab_model::Protocol,
        allow: bool,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> vpclab_model::AclEntry {
        vpclab_model::AclEntry {
            rule_number: number,
            egress,
            protocol,
            allow,
            cidr: cidr.parse().unwrap(),
            ports,
            icmp: None,
        }
    }

    #[test]
    fn a_custom_acl_without_rules_blocks_both_ways_but_not_inside_the_subnet() {
        let mut lab = acl_lab();
        let mut xz = packet(X, Z, proto::ICMP, 64, &echo(1, 1));
        assert!(
            matches!(lab.run(lab.x, &mut xz), Verdict::Forward { .. }),
            "the default ACL allows"
        );
        let b = lab.b.clone();
        lab.custom(&b, Vec::new());
        let mut xz = packet(X, Z, proto::ICMP, 64, &echo(1, 2));
        assert_eq!(lab.run(lab.x, &mut xz), Verdict::Drop(DropReason::NaclIn));
        let mut zx = packet(Z, X, proto::ICMP, 64, &echo(1, 3));
        assert_eq!(lab.run(lab.z, &mut zx), Verdict::Drop(DropReason::NaclOut));
        let a = lab.a.clone();
        lab.custom(&a, Vec::new());
        let mut xy = packet(X, Y, proto::ICMP, 64, &echo(1, 4));
        assert!(
            matches!(lab.run(lab.x, &mut xy), Verdict::Forward { .. }),
            "ACLs do not apply inside a subnet"
        );
    }

    #[test]
    fn the_lowest_numbered_matching_rule_wins() {
        use vpclab_model::Protocol;
        let mut lab = acl_lab();
        let b = lab.b.clone();
        let all_out = entry(100, true, Protocol::All, true, "0.0.0.0/0", None);
        lab.custom(
            &b,
            vec![
                entry(90, false, Protocol::Tcp, false, "10.6.1.4/32", Some((22, 22))),
                entry(100, false, Protocol::Tcp, true, "10.6.0.0/16", Some((22, 22))),
                entry(110, false, Protocol::Tcp, false, "10.6.1.5/32", Some((22, 22))),
                all_out,
            ],
        );
        let mut from_x = packet(X, Z, proto::TCP, 64, &tcp_syn(40000, 22));
        assert_eq!(
            lab.run(lab.x, &mut from_x),
            Verdict::Drop(DropReason::NaclIn),
            "deny 90 before allow 100"
        );
        let mut from_y = packet(Y, Z, proto::TCP, 64, &tcp_syn(40000, 22));
        assert!(
            matches!(lab.run(lab.y, &mut from_y), Verdict::Forward { .. }),
            "allow 100 before deny 110"
        );
        let mut other_port = packet(Y, Z, proto::TCP, 64, &tcp_syn(40000, 23));
        assert_eq!(
            lab.run(lab.y, &mut other_port),
            Verdict::Drop(DropReason::NaclIn),
            "the implicit * deny"
        );
    }

    #[test]
    fn acls_are_stateless_so_replies_need_ephemeral_ports() {
        use vpclab_model::Protocol;
        let mut lab = acl_lab();
        let a = lab.a.clone();
        // In: 8080 from anywhere. Out: only to port 80 — no ephemeral range for replies.
        lab.custom(
            &a,
            vec![
                entry(100, false, Protocol::Tcp, true, "0.0.0.0/0", Some((8080, 8080))),
                entry(100, true, Protocol::Tcp, true, "0.0.0.0/0", Some((80, 80))),
            ],
        );
        let mut syn = packet(CHECK_IP, [203, 0, 113, 10], proto::TCP, 64, &tcp_syn(40000, 8080));
        assert!(matches!(lab.run(INTERNET, &mut syn), Verdict::Forward { .. }));
        let mut syn_ack = tcp_syn(8080, 40000);
        syn_ack[13] = 0x12;
        let mut reply = packet(X, CHECK_IP, proto::TCP, 64, &syn_ack);
        assert_eq!(
            lab.run(lab.x, &mut reply),
            Verdict::Drop(DropReason::NaclOut),
            "the security group would pass it"
        );
        // With the ephemeral range allowed out, the reply leaves.
        lab.custom(
            &a,
            vec![
                entry(100, false, Protocol::Tcp, true, "0.0.0.0/0", Some((8080, 8080))),
                entry(100, true, Protocol::Tcp, true, "0.0.0.0/0", Some((1024, 65535))),
            ],
        );
        let mut reply = packet(X, CHECK_IP, proto::TCP, 64, &syn_ack);
        assert!(matches!(lab.run(lab.x, &mut reply), Verdict::Forward { port: INTERNET, .. }));
    }

    /// A 172.16.0.0/16 peered with B and C, which both use 10.0.0.0/16 (they overlap
    /// each other, not A). A's main table: 10.0.0.0/16 → B, 10.0.0.77/32 → C,
    /// 0.0.0.0/0 → B. B and C let 172.16.0.0/16 in.
    fn peering_lab() -> (Model, PortMap, [Port; 4], [vpclab_model::VpcPeeringConnectionId; 2]) {
        use vpclab_model::{Peer, Protocol, SgRule};
        let mut m = Model::new(5);
        let cidr = |s: &str| s.parse::<ipnet::Ipv4Net>().unwrap();
        let a = m.create_vpc(cidr("172.16.0.0/16"), Tags::new()).unwrap();
        let b = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
        let c = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
        let ab = m.create_vpc_peering_connection(&a, &b, Tags::new()).unwrap();
        let ac = m.create_vpc_peering_connection(&a, &c, Tags::new()).unwrap();
        m.accept_vpc_peering_connection(&ab).unwrap();
        m.accept_vpc_peering_connection(&ac).unwrap();
        let main_a = m.vpc(&a).unwrap().main_route_table.clone();
        for (destination, pcx) in [("10.0.0.0/16", &ab), ("10.0.0.77/32", &ac), ("0.0.0.0/0", &ab)]
        {
            let spec = RouteSpec {
                destination: cidr(destination),
                target: RouteTarget::Peering(pcx.clone()),
            };
            m.create_route(&main_a, spec).unwrap();
        }
        let mut ports = PortMap::new();
        let mut run = |m: &mut Model, vpc: &vpclab_model::VpcId, subnet: &str, ip: &str| {
            let subnet = m.create_subnet(vpc, cidr(subnet), None, Tags::new()).unwrap();
            if vpc != &a {
                let table = m.vpc(vpc).unwrap().main_route_table.clone();
                let spec = RouteSpec {
                    destination: cidr("172.16.0.0/16"),
                    target: RouteTarget::Peering(if vpc == &b { ab.clone() } else { ac.clone() }),
                };
                if m.route_table(&table).unwrap().routes.len() == 1 {
                    m.create_route(&table, spec).unwrap();
                }
                let sg = m.vpc(vpc).unwrap().default_security_group.clone().unwrap();
                let all =
                    SgRule::new(Protocol::All, -1, -1, Peer::Cidr(cidr("172.16.0.0/16")), None)
                        .unwrap();
                let _ = m.authorize(&sg, false, vec![all]);
            }
            let id = m
                .run_instance(RunInstance {
                    subnet: Some(subnet),
                    private_ip: Some(ip.parse().unwrap()),
                    ..Default::default()
                })
                .unwrap();
            ports.assign(&id)
        };
        let pa = run(&mut m, &a, "172.16.1.0/24", "172.16.1.10");
        let pb = run(&mut m, &b, "10.0.0.0/24", "10.0.0.10");
        let pc = run(&mut m, &c, "10.0.0.0/24", "10.0.0.77");
        let pc2 = run(&mut m, &c, "10.0.1.0/24", "10.0.1.10");
        (m, ports, [pa, pb, pc, pc2], [ab, ac])
    }

    #[test]
    fn prefix_lists_route_and_admit_their_current_blocks() {
        use vpclab_model::{Peer, PrefixListChange, PrefixListEntry, Protocol, SgRule};
        let mut m = Model::new(8);
        let cidr = |s: &str| s.parse::<ipnet::Ipv4Net>().unwrap();
        let a = m.create_vpc(cidr("172.16.0.0/16"), Tags::new()).unwrap();
        let b = m.create_vpc(cidr("10.0.0.0/16"), Tags::new()).unwrap();
        let pcx = m.create_vpc_peering_connection(&a, &b, Tags::new()).unwrap();
        m.accept_vpc_peering_connection(&pcx).unwrap();
        let entry = |c: &str| PrefixListEntry { cidr: cidr(c), description: None };
        // A's table reaches B through the list; B answers A's block by a plain route.
        let list =
            m.create_managed_prefix_list("peers", 5, vec![entry("10.0.1.0/24")], Tags::new());
        let list = list.unwrap();
        let main_a = m.vpc(&a).unwrap().main_route_table.clone();
        let main_b = m.vpc(&b).unwrap().main_route_table.clone();
        m.create_prefix_list_route(&main_a, &list, RouteTarget::Peering(pcx.clone())).unwrap();
        let back =
            RouteSpec { destination: cidr("172.16.0.0/16"), target: RouteTarget::Peering(pcx) };
        m.create_route(&main_b, back).unwrap();
        // B's server admits the members of a second list only.
        let admitted =
            m.create_managed_prefix_list("clients", 5, vec![entry("172.16.1.0/24")], Tags::new());
        let admitted = admitted.unwrap();
        let group = m.create_security_group(&b, "web", "web", Tags::new()).unwrap();
        let rule = SgRule::new(Protocol::Tcp, 80, 80, Peer::PrefixList(admitted.clone()), None);
        m.authorize(&group, false, vec![rule.unwrap()]).unwrap();
        let sa = m.create_subnet(&a, cidr("172.16.1.0/24"), None, Tags::new()).unwrap();
        let sb = m.create_subnet(&b, cidr("10.0.1.0/24"), None, Tags::new()).unwrap();
        let client = run(&mut m, &sa, false);
        let server = m
            .run_instance(RunInstance {
                subnet: Some(sb),
                security_groups: vec![group],
                ..Default::default()
            })
            .unwrap();
        let mut ports = PortMap::new();
        let [client, server] = [client, server].map(|i| ports.assign(&i));
        let mut tracking = Tracking::new(64);
        // Each check a new flow: a tracked one outlives a change of rules, as on AWS.
        let mut send = |m: &Model, generation: u64| {
            let snapshot = compile(m, &mut ports, generation);
            tracking.sync(&snapshot);
            let sport = 40000 + generation as u16;
            let mut p = packet([172, 16, 1, 4], [10, 0, 1, 4], proto::TCP, 64, &tcp_syn(sport, 80));
            let mut reply = vec![0u8; REPLY_BUFFER];
            snapshot.process(&mut tracking, client, &mut p, &mut reply, 0)
        };
        assert!(matches!(send(&m, 1), Verdict::Forward { port, .. } if port == server));

        // The route follows the list: its block gone, no route.
        let change = |add: &[&str], remove: &[&str], version| PrefixListChange {
            current_version: Some(version),
            add: add.iter().map(|c| entry(c)).collect(),
            remove: remove.iter().map(|c| cidr(c)).collect(),
            ..Default::default()
        };
        m.modify_managed_prefix_list(&list, change(&["10.0.9.0/24"], &["10.0.1.0/24"], 1)).unwrap();
        assert_eq!(send(&m, 2), Verdict::Drop(DropReason::NoRoute));
        m.modify_managed_prefix_list(&list, change(&["10.0.0.0/16"], &[], 2)).unwrap();
        assert!(matches!(send(&m, 3), Verdict::Forward { .. }));
        // The rule follows its list too.
        m.modify_managed_prefix_list(&admitted, change(&["172.16.2.0/24"], &["172.16.1.0/24"], 1))
            .unwrap();
        assert_eq!(send(&m, 4), Verdict::Drop(DropReason::SgIngress));
        assert_eq!(
            m.delete_managed_prefix_list(&admitted).unwrap_err().code,
            "DependencyViolation",
            "a rule refers to it"
        );
    }

    #[test]
    fn the_longest_prefix_picks_the_peering_and_nothing_transits() {
        let (mut m, mut ports, [a, b, c, _], [ab, _]) = peering_lab();
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        let mut run = |snapshot: &Snapshot, from: Port, dst: [u8; 4]| {
            let mut p = packet([172, 16, 1, 10], dst, proto::ICMP, 64, &echo(1, 1));
            let mut reply = vec![0u8; REPLY_BUFFER];
            let verdict = snapshot.process(&mut tracking, from, &mut p, &mut reply, 0);
            (verdict, p[8])
        };
        let (verdict, ttl) = run(&snapshot, a, [10, 0, 0, 10]);
        assert!(matches!(verdict, Verdict::Forward { port, .. } if port == b), "{verdict:?}");
        assert_eq!(ttl, 63);
        let (verdict, _) = run(&snapshot, a, [10, 0, 0, 77]);
        assert!(matches!(verdict, Verdict::Forward { port, .. } if port == c), "/32 to C wins");
        let (verdict, _) = run(&snapshot, a, [10, 0, 1, 10]);
        assert_eq!(
            verdict,
            Verdict::Drop(DropReason::NoHost),
            "C holds 10.0.1.10, but the /16 goes to B"
        );
        let (verdict, _) = run(&snapshot, a, [198, 51, 100, 1]);
        assert_eq!(verdict, Verdict::Drop(DropReason::PeeringTransit), "B is no transit");

        m.delete_vpc_peering_connection(&ab).unwrap();
        let snapshot = compile(&m, &mut ports, 2);
        let (verdict, _) = run(&snapshot, a, [10, 0, 0, 10]);
        assert_eq!(verdict, Verdict::Drop(DropReason::Blackhole), "a deleted peering");
    }

    /// VPC 10.8.0.0/16 with an internet gateway: `web` 10.8.1.4 (with a public address) in
    /// a subnet routed to it, `app` 10.8.2.4 in a private subnet on the main table, which
    /// has the S3 gateway endpoint's route.
    struct EndpointLab {
        model: Model,
        ports: PortMap,
        tracking: Tracking,
        snapshot: Snapshot,
        main: vpclab_model::RouteTableId,
        endpoint: vpclab_model::VpcEndpointId,
        web: Port,
        app: Port,
    }

    const S3: [u8; 4] = [192, 0, 2, 1];
    const E_WEB: [u8; 4] = [10, 8, 1, 4];
    const E_APP: [u8; 4] = [10, 8, 2, 4];

    fn endpoint_lab() -> EndpointLab {
        let mut m = Model::new(9);
        let (vpc, public, private) = public_private(&mut m, 8);
        let main = m.route_table_of(&private).unwrap().id.clone();
        let endpoint = m
            .create_vpc_endpoint(
                &vpc,
                "com.amazonaws.us-east-1.s3",
                std::slice::from_ref(&main),
                Tags::new(),
                0,
            )
            .unwrap();
        let web = run(&mut m, &public, true);
        let app = run(&mut m, &private, false);
        let mut ports = PortMap::new();
        let [web, app] = [web, app].map(|i| ports.assign(&i));
        let snapshot = compile(&m, &mut ports, 1);
        let mut tracking = Tracking::new(64);
        tracking.sync(&snapshot);
        EndpointLab { model: m, ports, tracking, snapshot, main, endpoint, web, app }
    }

    impl EndpointLab {
        fn run(&mut self, from: Port, packet: &mut [u8]) -> Verdict {
            let mut reply = vec![0u8; REPLY_BUFFER];
            self.snapshot.process(&mut self.tracking, from, packet, &mut reply, 0)
        }

        fn recompile(&mut self) {
            self.snapshot = compile(&self.model, &mut self.ports, self.snapshot.generation + 1);
            self.tracking.sync(&self.snapshot);
        }
    }

    #[test]
    fn a_gateway_endpoint_keeps_the_private_source_and_lets_replies_back() {
        let mut lab = endpoint_lab();
        let mut syn = packet(E_APP, S3, proto::TCP, 64, &tcp_syn(40000, 80));
        assert_eq!(lab.run(lab.app, &mut syn), Verdict::Forward { port: INTERNET, len: syn.len() });
        assert_eq!(syn[12..16], E_APP, "no translation through an endpoint");
        assert_eq!(syn[8], 63, "the VPC router is a hop");
        assert!(checksums_ok(&syn));

        let mut syn_ack = tcp_syn(80, 40000);
        syn_ack[13] = 0x12;
        let mut back = packet(S3, E_APP, proto::TCP, 64, &syn_ack);
        assert_eq!(
            lab.run(INTERNET, &mut back),
            Verdict::Forward { port: lab.app, len: back.len() }
        );

        let mut unsolicited = packet(S3, E_APP, proto::TCP, 64, &tcp_syn(80, 40001));
        assert_eq!(lab.run(INTERNET, &mut unsolicited), Verdict::Drop(DropReason::NoPublicMapping));
        let mut ping = packet(E_APP, S3, proto::ICMP, 64, &echo(7, 1));
        assert_eq!(
            lab.run(lab.app, &mut ping),
            Verdict::Forward { port: INTERNET, len: ping.len() }
        );
        let mut pong = echo(7, 1);
        pong[0] = icmp::ECHO_REPLY;
        let mut pong = packet(S3, E_APP, proto::ICMP, 64, &pong);
        assert_eq!(
            lab.run(INTERNET, &mut pong),
            Verdict::Forward { port: lab.app, len: pong.len() }
        );
    }

    #[test]
    fn without_the_endpoint_route_the_private_subnet_has_no_path_and_public_ones_use_the_igw() {
        let mut lab = endpoint_lab();
        let mut via_igw = packet(E_WEB, S3, proto::TCP, 64, &tcp_syn(40000, 80));
        assert!(matches!(lab.run(lab.web, &mut via_igw), Verdict::Forward { port: INTERNET, .. }));
        let PortEntry::Instance(web) = lab.snapshot.port(lab.web) else { panic!("web's port") };
        let public = web.public.expect("web has a public address").octets();
        assert_eq!(via_igw[12..16], public, "the web table has no endpoint route");

        let endpoint = lab.endpoint.clone();
        lab.model.delete_vpc_endpoint(&endpoint).unwrap();
        lab.recompile();
        let mut syn = packet(E_APP, S3, proto::TCP, 64, &tcp_syn(40000, 80));
        assert_eq!(lab.run(lab.app, &mut syn), Verdict::Drop(DropReason::NoRoute));
    }

    #[test]
    fn a_cidr_route_of_the_same_length_beats_the_prefix_list_route() {
        let mut lab = endpoint_lab();
        let igw = lab.model.internet_gateways().next().unwrap().id.clone();
        let main = lab.main.clone();
        let s3_cidr = "192.0.2.0/25".parse().unwrap();
        lab.model
            .create_route(
                &main,
                RouteSpec { destination: s3_cidr, target: RouteTarget::Gateway(igw) },
            )
            .unwrap();
        lab.recompile();
        let mut syn = packet(E_APP, S3, proto::TCP, 64, &tcp_syn(40000, 80));
        assert_eq!(
            lab.run(lab.app, &mut syn),
            Verdict::Drop(DropReason::NoPublicIp),
            "routed to the internet gateway, not the endpoint"
        );
    }

    proptest::proptest! {
        /// Whatever arrives, from whichever port: a verdict, never a panic, and never
        /// more bytes out than came in.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            from in 0u32..8,
        ) {
            let mut lab = lab();
            let mut packet = bytes.clone();
            let (verdict, _) = lab.run(from, &mut packet);
            if let Verdict::Forward { len, .. } = verdict {
                proptest::prop_assert!(len <= bytes.len());
            }
        }

        /// Valid packets with random bytes changed, the IP checksum fixed up half the
        /// time so the damage reaches past the header check.
        #[test]
        fn damaged_packets_never_panic(
            kind in 0usize..3,
            flips in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 1..6),
            fix_checksum in proptest::prelude::any::<bool>(),
            direction in 0usize..4,
        ) {
            let mut lab = lab();
            // Through the gateway both ways, and through the NAT gateway both ways.
            let (src, dst, from) = match direction {
                0 => (CHECK_IP, WEB_PUBLIC, INTERNET),
                1 => (WEB, CHECK_IP, lab.web),
                2 => (INNER, CHECK_IP, lab.inner),
                _ => (CHECK_IP, NAT_PUBLIC, INTERNET),
            };
            let l4 = match kind {
                0 => (proto::UDP, udp(1, 2, b"payload")),
                1 => (proto::TCP, tcp_syn(1, 2)),
                _ => (proto::ICMP, echo(1, 2)),
            };
            let mut p = packet(src, dst, l4.0, 64, &l4.1);
            for (at, value) in flips {
                let at = at % p.len();
                p[at] = value;
            }
            if fix_checksum && p.len() >= 20 {
                let header = usize::from(p[0] & 0x0f) * 4;
                if (20..=p.len()).contains(&header) {
                    p[10..12].fill(0);
                    let c = crate::wire::checksum(&p[..header]);
                    p[10..12].copy_from_slice(&c.to_be_bytes());
                }
            }
            let before = p.len();
            let (verdict, reply) = lab.run(from, &mut p);
            match verdict {
                Verdict::Forward { len, .. } | Verdict::Service { len } => {
                    proptest::prop_assert!(len <= before)
                }
                Verdict::Reply { len, .. } => proptest::prop_assert_eq!(len, reply.len()),
                // Built in the reply buffer, which it fits.
                Verdict::Translated { len, .. } => proptest::prop_assert!(len <= reply.len()),
                Verdict::Drop(_) => {}
            }
        }
    }
}
