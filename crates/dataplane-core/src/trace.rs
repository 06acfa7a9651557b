//! What the pipeline decided for one packet, step by step — for `vpclab trace`.
//!
//! The pipeline notes each decision in [`Tracking`](crate::Tracking) when a trace is
//! being recorded (never otherwise: one untaken branch per decision). The steps come
//! from the code that forwards real packets, so a trace and the forwarder cannot
//! disagree.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::counters::DropReason;
use crate::snapshot::{Hop, Port, TgwHop};

/// How security groups judged a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgDecision {
    /// A tracked flow (or an ICMP error about one): passes without looking at rules.
    Tracked,
    /// Allowed by a rule; the flow is now tracked.
    Allowed,
    /// Allowed by a rule, not tracked (AWS: 0.0.0.0/0 both ways for TCP/UDP).
    AllowedUntracked,
    /// No rule allows it.
    Denied,
    /// Allowed, but the connection table is full.
    TableFull,
}

/// One decision on a packet's way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The security groups of the interface behind `port`, on leaving it (`egress`) or
    /// arriving at it.
    SecurityGroups {
        /// The interface's port.
        port: Port,
        /// Leaving (true) or arriving.
        egress: bool,
        /// What they decided.
        decision: SgDecision,
    },
    /// A network ACL (by its index in the snapshot: the model's ACLs in id order).
    NetworkAcl {
        /// The ACL.
        acl: u32,
        /// Outbound (true) or inbound.
        egress: bool,
        /// The rule that decided; `None` is the implicit `*` deny.
        rule: Option<u16>,
        /// Its action.
        allowed: bool,
    },
    /// Source and destination share a subnet: delivered without routing.
    SameSubnet,
    /// To the instance metadata service or the Amazon DNS server: answered by the VPC.
    Service,
    /// A route table lookup (the table's index in the snapshot: the model's tables in
    /// id order; the route's index in that table's routes). `route: None`: no route.
    Route {
        /// The table.
        table: u32,
        /// The route that matched: an index into the table's IPv4 routes in force, or
        /// into its IPv6 routes (`ipv6`).
        route: Option<u32>,
        /// Where it leads.
        hop: Option<Hop>,
        /// Whether the IPv6 routes were looked up.
        ipv6: bool,
    },
    /// An address rewritten: the source (true) or the destination.
    Translate {
        /// Source (true) or destination.
        source: bool,
        /// Before.
        from: Ipv4Addr,
        /// After.
        to: Ipv4Addr,
    },
    /// NAT64 at a NAT gateway: the IPv6 `inside` end of a flow given, or found by, the
    /// gateway's IPv4 `outside` address and `port`.
    Translate6 {
        /// The instance's IPv6 address.
        inside: std::net::Ipv6Addr,
        /// The gateway's address.
        outside: Ipv4Addr,
        /// The gateway's port for the flow (outbound), or the instance's (inbound).
        port: u16,
    },
    /// Through the NAT gateway with this index (the model's NAT gateways in id order).
    NatGateway {
        /// The gateway.
        index: u32,
    },
    /// A reply through a gateway endpoint matched the flow of the instance at `port`.
    EndpointFlow {
        /// The instance's port.
        port: Port,
    },
    /// Into a transit gateway through attachment `attachment` (indexes: the model's
    /// attachments and transit gateway route tables in id order): the lookup in the route
    /// table associated with it (`table: None`: it has none).
    TransitGateway {
        /// The attachment it came in through.
        attachment: u32,
        /// The route table associated with that attachment.
        table: Option<u32>,
        /// The route that matched (its index among the table's routes in force).
        route: Option<u32>,
        /// Where it leads.
        hop: Option<TgwHop>,
    },
    /// Out of a transit gateway through attachment `attachment`'s interface in zone
    /// `zone` (by index in the region's zones).
    TgwAttachment {
        /// The attachment.
        attachment: u32,
        /// The zone of the interface it leaves through.
        zone: u8,
    },
    /// Through the virtual private gateway with this index (the model's, in id order),
    /// into the VPN connection whose tunnels end behind `port`.
    VpnGateway {
        /// The gateway.
        index: u32,
        /// The connection's port.
        port: Port,
    },
}

/// A recorded trace: the steps and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The decisions, in order.
    pub steps: Vec<Step>,
}

impl Trace {
    /// The reason of the first step that denied, if one did (for reports).
    pub fn denied_by(&self) -> Option<DropReason> {
        self.steps.iter().find_map(|s| match *s {
            Step::SecurityGroups { egress, decision: SgDecision::Denied, .. } => {
                Some(if egress { DropReason::SgEgress } else { DropReason::SgIngress })
            }
            Step::NetworkAcl { egress, allowed: false, .. } => {
                Some(if egress { DropReason::NaclOut } else { DropReason::NaclIn })
            }
            _ => None,
        })
    }
}

/// What a probe carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// An ICMP echo request (`ping`).
    Ping,
    /// A TCP SYN to this port.
    Tcp(u16),
    /// A UDP datagram to this port.
    Udp(u16),
}

/// The source port of TCP and UDP probes, and the identifier of pings.
pub const PROBE_PORT: u16 = 43_210;

/// A synthetic packet for a trace: IPv4, TTL 64, valid header checksum.
pub fn probe(src: Ipv4Addr, dst: Ipv4Addr, what: Probe) -> Vec<u8> {
    let (protocol, l4) = probe_l4(what, false);
    crate::wire::ipv4_packet(src, dst, 64, protocol, &l4)
}

/// [`probe`] over IPv6: hop limit 64, an ICMPv6 echo request for a ping.
pub fn probe6(src: Ipv6Addr, dst: Ipv6Addr, what: Probe) -> Vec<u8> {
    let (protocol, l4) = probe_l4(what, true);
    crate::wire6::ipv6_packet(src, dst, 64, protocol, &l4)
}

/// The protocol and upper-layer header of a probe (ICMP of the family for a ping).
fn probe_l4(what: Probe, six: bool) -> (u8, Vec<u8>) {
    match what {
        Probe::Ping => {
            let mut e = vec![0u8; 16];
            e[0] = if six {
                crate::wire6::icmp6::ECHO_REQUEST
            } else {
                crate::wire::icmp::ECHO_REQUEST
            };
            e[4..6].copy_from_slice(&PROBE_PORT.to_be_bytes());
            e[6..8].copy_from_slice(&1u16.to_be_bytes());
            (if six { crate::wire::proto::ICMPV6 } else { crate::wire::proto::ICMP }, e)
        }
        Probe::Tcp(port) => {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&PROBE_PORT.to_be_bytes());
            t[2..4].copy_from_slice(&port.to_be_bytes());
            t[12] = 5 << 4;
            t[13] = 0x02;
            (crate::wire::proto::TCP, t)
        }
        Probe::Udp(port) => {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&PROBE_PORT.to_be_bytes());
            u[2..4].copy_from_slice(&port.to_be_bytes());
            u[4..6].copy_from_slice(&8u16.to_be_bytes());
            (crate::wire::proto::UDP, u)
        }
    }
}

/// The answer to a forwarded probe, as its receiver would send it: addresses and ports
/// swapped, a SYN-ACK for a SYN, an echo reply for an echo request.
pub fn answer(forwarded: &[u8]) -> Vec<u8> {
    let six = forwarded.first().is_some_and(|b| b >> 4 == 6);
    // Where the upper layer starts (the probes carry no options or extension headers),
    // and which protocol it is.
    let (l4_at, protocol) = if six { (40, forwarded[6]) } else { (20, forwarded[9]) };
    let l4 = &forwarded[l4_at..];
    let port = |at: usize| u16::from_be_bytes([l4[at], l4[at + 1]]);
    let what = match protocol {
        crate::wire::proto::TCP => Probe::Tcp(port(0)),
        crate::wire::proto::UDP => Probe::Udp(port(0)),
        _ => Probe::Ping,
    };
    let mut reply = if six {
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&forwarded[8..24]).unwrap_or_default());
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&forwarded[24..40]).unwrap_or_default());
        probe6(dst, src, what)
    } else {
        let src = Ipv4Addr::from(<[u8; 4]>::try_from(&forwarded[12..16]).unwrap_or_default());
        let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&forwarded[16..20]).unwrap_or_default());
        probe(dst, src, what)
    };
    let l4 = &mut reply[l4_at..];
    match what {
        Probe::Tcp(_) => {
            l4[0..2].copy_from_slice(&port(2).to_be_bytes());
            l4[13] = 0x12;
        }
        Probe::Udp(_) => l4[0..2].copy_from_slice(&port(2).to_be_bytes()),
        Probe::Ping => {
            l4[0] =
                if six { crate::wire6::icmp6::ECHO_REPLY } else { crate::wire::icmp::ECHO_REPLY };
            l4[4..6].copy_from_slice(&port(4).to_be_bytes());
        }
    }
    reply
}
