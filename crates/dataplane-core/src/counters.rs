//! What the forwarder did, counted: packets in and out, and drops by reason.
//!
//! Counters are relaxed atomics bumped on the hot path; nothing is formatted or logged
//! per packet. Readers take a [`CounterSnapshot`].

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident => $text:literal,)*) => {
        /// Why a packet was dropped.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum DropReason {
            $($(#[$doc])* $name,)*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];

            /// A stable snake_case name for output and scripts.
            pub fn name(self) -> &'static str {
                match self {
                    $(DropReason::$name => $text,)*
                }
            }
        }
    };
}

reasons! {
    /// Not a well-formed IPv4 or IPv6 packet (truncated, bad header length or checksum,
    /// an IPv6 extension header chain cut short or too long).
    Malformed => "malformed",
    /// Neither IPv4 nor IPv6 (the version field says something else).
    NotIpv4 => "not_ipv4",
    /// The source address is not the sending interface's (AWS's source/destination check),
    /// or an IPv4 packet from an interface without IPv4 (in an IPv6-only subnet).
    SourceCheck => "source_check",
    /// Routed to an interface that is not its destination while the interface's
    /// source/destination check is on, or IPv4 routed to an interface without IPv4.
    DestinationCheck => "destination_check",
    /// The TTL ran out; an ICMP time-exceeded was sent back (except at a transit
    /// gateway, which sends none, as AWS's does not).
    TtlExceeded => "ttl_exceeded",
    /// No route in the subnet's route table covers the destination.
    NoRoute => "no_route",
    /// The matching route's target is gone (for example a detached internet gateway).
    Blackhole => "blackhole",
    /// A `local` destination no interface in the VPC holds.
    NoHost => "no_host",
    /// Routed to the internet gateway, but the instance has no public IP.
    NoPublicIp => "no_public_ip",
    /// From the internet to an address no instance is mapped to (and no reply of a flow
    /// out through a gateway endpoint).
    NoPublicMapping => "no_public_mapping",
    /// To an address the VPC reserves (router, DNS): not answered yet.
    VpcService => "vpc_service",
    /// Larger than the 1500-byte internet edge; an ICMP fragmentation-needed was sent
    /// back when DF was set.
    TooBig => "too_big",
    /// From or to a port the snapshot does not know (a device being removed).
    UnknownPort => "unknown_port",
    /// The receiving device's queue was full or the write failed.
    TxFailed => "tx_failed",
    /// Through a NAT gateway: not TCP, UDP or ICMP echo, or a cut-short header.
    NatUnsupported => "nat_unsupported",
    /// To a NAT gateway's address: no flow it tracks (unsolicited inbound).
    NatNoFlow => "nat_no_flow",
    /// No source port left for the destination (AWS's `ErrorPortAllocation`).
    NatPortExhausted => "nat_port_exhausted",
    /// The NAT gateway's connection table is full of live flows.
    NatTableFull => "nat_table_full",
    /// TCP continuing a flow the NAT gateway no longer has (idle timeout): an RST was
    /// sent back.
    NatReset => "nat_reset",
    /// From a private NAT gateway to an internet gateway, which drops it, as AWS's does
    /// (a private gateway's flows go on through a transit gateway).
    NatPrivateToInternet => "nat_private_to_internet",
    /// Not allowed out by the sending interface's security groups.
    SgEgress => "sg_egress",
    /// Not allowed in by the receiving interface's security groups.
    SgIngress => "sg_ingress",
    /// A new flow needed tracking (by an interface's security groups, or through a
    /// gateway endpoint) and the connection table was full of live flows: AWS's
    /// `conntrack_allowance_exceeded`.
    ConntrackAllowanceExceeded => "conntrack_allowance_exceeded",
    /// Denied by the network ACL of the subnet it was leaving.
    NaclOut => "nacl_out",
    /// Denied by the network ACL of the subnet it was entering.
    NaclIn => "nacl_in",
    /// Routed to a peering but not for an address inside the peer VPC (no transit, no
    /// edge-to-edge routing).
    PeeringTransit => "peering_transit",
    /// To an interface endpoint, but not TCP (AWS's interface endpoints carry TCP only).
    EndpointNotTcp => "endpoint_not_tcp",
    /// Routed to a transit gateway from a zone where the VPC's attachment has no subnet.
    TgwZoneNotAttached => "tgw_zone_not_attached",
    /// No route in the transit gateway route table associated with the attachment it
    /// came from (or the attachment is associated with none): AWS's
    /// `packets-lost-no-route`.
    TgwNoRoute => "tgw_no_route",
    /// A blackhole route in the transit gateway route table (AWS's
    /// `packets-lost-blackhole`).
    TgwBlackhole => "tgw_blackhole",
    /// Larger than the transit gateway's 8,500-byte MTU: dropped without an ICMP error
    /// (AWS's `packets-lost-mtu-exceeded`).
    TgwMtuExceeded => "tgw_mtu_exceeded",
    /// Out of a transit gateway into a VPC whose attachment subnet routes it on to
    /// something other than an address in the VPC (a gateway, a peering, the transit
    /// gateway again): not carried yet.
    TgwOnwardUnsupported => "tgw_onward_unsupported",
    /// Routed to a virtual private gateway for an address none of its connections
    /// brings, or by a transit gateway to a VPN attachment whose tunnels have no device.
    VpnDown => "vpn_down",
    /// Read by a worker that does not own its flow, and the owner's hand-off channel
    /// (or the reader's spare frames) were full.
    HandoffFull => "handoff_full",
    /// A fragment other than the first, of a datagram whose first fragment was not seen
    /// (lost, reordered behind it, or more than 30 s ago): nothing tells its ports.
    FragmentUntracked => "fragment_untracked",
    /// For the VPC's own services (metadata, DNS), but their queue was full or the
    /// packet larger than they take.
    ServiceBusy => "service_busy",
    /// IPv6 on a path vpclab carries over IPv4 only yet: through a transit gateway, a
    /// VPN or an endpoint, or to a NAT gateway outside `64:ff9b::/96` (no NAT66).
    Ipv6NotCarried => "ipv6_not_carried",
    /// From the internet to an IPv6 address whose VPC has no internet gateway (only an
    /// egress-only one, or none), and no flow out through an egress-only gateway expects
    /// it: AWS's egress-only gateways let nothing unsolicited in.
    EgressOnlyInbound => "egress_only_inbound",
    /// An IPv6 packet no router forwards: to or from a link-local, multicast, loopback
    /// or unspecified address, or the VPC's `fd00:ec2::/32` (besides its DNS and
    /// metadata addresses); or from the internet with one of a VPC's own addresses.
    NotRoutable => "not_routable",
}

/// Ports counted one by one (instances' interfaces and the internet edge); packets of
/// higher ports are in the totals only.
pub const PORTS_COUNTED: usize = 1 << 15;

/// One port's counters (written by its forwarder alone; read by anyone).
#[derive(Debug, Default)]
struct PortCount {
    sent: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    /// Why the last of its dropped packets was dropped: `DropReason as u8 + 1`, 0 for none.
    last_drop: AtomicU8,
}

/// A port's packets at one moment: what its device sent into the forwarder, what the
/// forwarder wrote to it, and how many of what it sent were dropped (for any reason).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounters {
    pub sent: u64,
    pub received: u64,
    pub dropped: u64,
    /// Why its last dropped packet was dropped (one worker's last, with several).
    #[serde(skip)]
    pub last_drop: Option<DropReason>,
}

impl PortCounters {
    /// Both forwarders' (or workers') counts together.
    pub fn add(&mut self, other: PortCounters) {
        self.sent += other.sent;
        self.received += other.received;
        self.dropped += other.dropped;
        self.last_drop = other.last_drop.or(self.last_drop);
    }
}

/// NAT gateways (by connection-table slot) and transit gateways (by index in the
/// snapshot) counted one by one.
pub const GATEWAYS_COUNTED: usize = 1024;

/// A gateway's packets at one moment: those it carried on, and those it dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCounters {
    pub carried: u64,
    pub dropped: u64,
}

impl GatewayCounters {
    /// Both workers' counts together.
    pub fn add(&mut self, other: GatewayCounters) {
        self.carried += other.carried;
        self.dropped += other.dropped;
    }
}

/// One gateway's counters, as its worker last published them.
#[derive(Debug, Default)]
struct GatewayCount {
    carried: AtomicU64,
    dropped: AtomicU64,
}

impl GatewayCount {
    fn store(&self, c: GatewayCounters) {
        self.carried.store(c.carried, Ordering::Relaxed);
        self.dropped.store(c.dropped, Ordering::Relaxed);
    }

    fn load(&self) -> GatewayCounters {
        GatewayCounters {
            carried: self.carried.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The counters of one forwarder.
#[derive(Debug)]
pub struct Counters {
    rx_packets: AtomicU64,
    tx_packets: AtomicU64,
    icmp_sent: AtomicU64,
    handed_off: AtomicU64,
    to_services: AtomicU64,
    nat_flows: AtomicU64,
    nat_created: AtomicU64,
    nat_expired: AtomicU64,
    tracked_flows: AtomicU64,
    tracked_created: AtomicU64,
    tracked_expired: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
    /// Per port, allocated once: counting never allocates.
    ports: Box<[PortCount]>,
    /// Per NAT gateway slot and per transit gateway, published with the tracking gauges.
    nat_gateways: Box<[GatewayCount]>,
    transit_gateways: Box<[GatewayCount]>,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            rx_packets: AtomicU64::new(0),
            tx_packets: AtomicU64::new(0),
            icmp_sent: AtomicU64::new(0),
            handed_off: AtomicU64::new(0),
            to_services: AtomicU64::new(0),
            nat_flows: AtomicU64::new(0),
            nat_created: AtomicU64::new(0),
            nat_expired: AtomicU64::new(0),
            tracked_flows: AtomicU64::new(0),
            tracked_created: AtomicU64::new(0),
            tracked_expired: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
            ports: (0..PORTS_COUNTED).map(|_| PortCount::default()).collect(),
            nat_gateways: (0..GATEWAYS_COUNTED).map(|_| GatewayCount::default()).collect(),
            transit_gateways: (0..GATEWAYS_COUNTED).map(|_| GatewayCount::default()).collect(),
        }
    }
}

impl Counters {
    /// A packet was read.
    #[inline]
    pub fn rx(&self) {
        self.rx_packets.fetch_add(1, Ordering::Relaxed);
    }

    /// A packet was written.
    #[inline]
    pub fn tx(&self) {
        self.tx_packets.fetch_add(1, Ordering::Relaxed);
    }

    /// An ICMP error was generated.
    #[inline]
    pub fn icmp(&self) {
        self.icmp_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A packet was handed to the worker that owns its flow.
    #[inline]
    pub fn handed_off(&self) {
        self.handed_off.fetch_add(1, Ordering::Relaxed);
    }

    /// A packet went to the VPC's own services.
    #[inline]
    pub fn to_services(&self) {
        self.to_services.fetch_add(1, Ordering::Relaxed);
    }

    /// Connection-tracking gauges, published once per wake-up by the forwarder: the NAT
    /// gateways' tables and the others (security groups, gateway endpoints).
    pub fn set_tracking(&self, tracking: &crate::Tracking) {
        for (slot, c) in tracking.nat_gateways() {
            if let Some(count) = self.nat_gateways.get(slot as usize) {
                count.store(c);
            }
        }
        for (count, &c) in self.transit_gateways.iter().zip(tracking.transit_gateways()) {
            count.store(c);
        }
        let nat = tracking.stats();
        self.nat_flows.store(tracking.flows() as u64, Ordering::Relaxed);
        self.nat_created.store(nat.created, Ordering::Relaxed);
        self.nat_expired.store(nat.expired, Ordering::Relaxed);
        let tracked = tracking.tracker_stats();
        self.tracked_flows.store(tracking.tracked_flows() as u64, Ordering::Relaxed);
        self.tracked_created.store(tracked.created, Ordering::Relaxed);
        self.tracked_expired.store(tracked.expired, Ordering::Relaxed);
    }

    /// A packet was dropped.
    #[inline]
    pub fn drop(&self, reason: DropReason) {
        self.drops[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Port `port`'s device sent a packet into the forwarder.
    #[inline]
    pub fn port_sent(&self, port: crate::Port) {
        if let Some(c) = self.ports.get(port as usize) {
            c.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A packet was written to port `port`'s device.
    #[inline]
    pub fn port_received(&self, port: crate::Port) {
        if let Some(c) = self.ports.get(port as usize) {
            c.received.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A packet port `port` sent was dropped, for `reason`.
    #[inline]
    pub fn port_dropped(&self, port: crate::Port, reason: DropReason) {
        if let Some(c) = self.ports.get(port as usize) {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            c.last_drop.store(reason as u8 + 1, Ordering::Relaxed);
        }
    }

    /// Port `port`'s counters now (zero for a port not counted one by one).
    pub fn port(&self, port: crate::Port) -> PortCounters {
        self.ports.get(port as usize).map_or_else(PortCounters::default, |c| PortCounters {
            sent: c.sent.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            last_drop: match c.last_drop.load(Ordering::Relaxed) {
                0 => None,
                n => DropReason::ALL.get(usize::from(n) - 1).copied(),
            },
        })
    }

    /// The NAT gateway with connection-table slot `slot`: packets it translated and
    /// dropped, as last published (zero past `GATEWAYS_COUNTED`).
    pub fn nat_gateway(&self, slot: u32) -> GatewayCounters {
        self.nat_gateways
            .get(slot as usize)
            .map_or_else(GatewayCounters::default, GatewayCount::load)
    }

    /// The transit gateway with index `index` in the snapshot: packets it routed on and
    /// dropped, as last published.
    pub fn transit_gateway(&self, index: u32) -> GatewayCounters {
        self.transit_gateways
            .get(index as usize)
            .map_or_else(GatewayCounters::default, GatewayCount::load)
    }

    /// The counters now.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            icmp_sent: self.icmp_sent.load(Ordering::Relaxed),
            handed_off: self.handed_off.load(Ordering::Relaxed),
            to_services: self.to_services.load(Ordering::Relaxed),
            nat_flows: self.nat_flows.load(Ordering::Relaxed),
            nat_created: self.nat_created.load(Ordering::Relaxed),
            nat_expired: self.nat_expired.load(Ordering::Relaxed),
            tracked_flows: self.tracked_flows.load(Ordering::Relaxed),
            tracked_created: self.tracked_created.load(Ordering::Relaxed),
            tracked_expired: self.tracked_expired.load(Ordering::Relaxed),
            drops: DropReason::ALL
                .iter()
                .map(|&d| (d.name().to_owned(), self.drops[d as usize].load(Ordering::Relaxed)))
                .collect(),
        }
    }
}

/// Counter values at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterSnapshot {
    /// Packets read from devices.
    pub rx_packets: u64,
    /// Packets written to devices (ICMP errors included).
    pub tx_packets: u64,
    /// ICMP errors generated.
    pub icmp_sent: u64,
    /// Packets read by a worker that did not own their flow and passed to the owner
    /// (counted in `rx_packets` once, by the owner).
    #[serde(default)]
    pub handed_off: u64,
    /// Packets to the instance metadata service and the Amazon DNS server.
    #[serde(default)]
    pub to_services: u64,
    /// Flows the NAT gateways track now.
    #[serde(default)]
    pub nat_flows: u64,
    /// NAT flows created so far.
    #[serde(default)]
    pub nat_created: u64,
    /// NAT flows that timed out so far.
    #[serde(default)]
    pub nat_expired: u64,
    /// Flows the security groups and gateway endpoints track now.
    #[serde(default)]
    pub tracked_flows: u64,
    /// Such flows tracked so far.
    #[serde(default)]
    pub tracked_created: u64,
    /// Such flows that ended or idled out so far.
    #[serde(default)]
    pub tracked_expired: u64,
    /// Drops by reason name, every reason listed.
    pub drops: Vec<(String, u64)>,
}

impl CounterSnapshot {
    /// Adds `other`'s counts (another worker's) to these.
    pub fn add(&mut self, other: &CounterSnapshot) {
        self.rx_packets += other.rx_packets;
        self.tx_packets += other.tx_packets;
        self.icmp_sent += other.icmp_sent;
        self.handed_off += other.handed_off;
        self.to_services += other.to_services;
        self.nat_flows += other.nat_flows;
        self.nat_created += other.nat_created;
        self.nat_expired += other.nat_expired;
        self.tracked_flows += other.tracked_flows;
        self.tracked_created += other.tracked_created;
        self.tracked_expired += other.tracked_expired;
        for (name, count) in &other.drops {
            match self.drops.iter_mut().find(|(n, _)| n == name) {
                Some((_, total)) => *total += count,
                None => self.drops.push((name.clone(), *count)),
            }
        }
    }

    /// The count for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.iter().find(|(n, _)| n == reason.name()).map_or(0, |(_, c)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_remembers_why_its_last_packet_was_dropped() {
        let c = Counters::default();
        assert_eq!(c.port(7).last_drop, None);
        c.port_sent(7);
        c.port_dropped(7, DropReason::SgEgress);
        c.port_sent(7);
        c.port_dropped(7, DropReason::NoRoute);
        let seen = c.port(7);
        assert_eq!((seen.sent, seen.dropped, seen.last_drop), (2, 2, Some(DropReason::NoRoute)));
        // Past the ports counted one by one: nothing, and no panic.
        c.port_dropped(PORTS_COUNTED as crate::Port, DropReason::NoRoute);
        assert_eq!(c.port(PORTS_COUNTED as crate::Port), PortCounters::default());
        // Workers together: one that saw a drop names it.
        let mut total = PortCounters::default();
        total.add(seen);
        total.add(Counters::default().port(7));
        assert_eq!(total.last_drop, Some(DropReason::NoRoute));
        // Every reason survives the byte it is kept in.
        for &reason in DropReason::ALL {
            c.port_dropped(9, reason);
            assert_eq!(c.port(9).last_drop, Some(reason));
        }
    }

    #[test]
    fn gateways_keep_what_their_worker_last_published() {
        let c = Counters::default();
        assert_eq!(c.nat_gateway(3), GatewayCounters::default());
        c.nat_gateways[3].store(GatewayCounters { carried: 5, dropped: 1 });
        assert_eq!(c.nat_gateway(3), GatewayCounters { carried: 5, dropped: 1 });
        assert_eq!(c.transit_gateway(GATEWAYS_COUNTED as u32), GatewayCounters::default());
    }
}
