//! What the pipeline decided for one packet, step by step — for `vpclab trace`.
//!
//! The pipeline notes each decision in [`Tracking`](crate::Tracking) when a trace is
//! being recorded (never otherwise: one untaken branch per decision). The steps come
//! from the code that forwards real packets, so a trace and the forwarder cannot
//! disagree.

use std::net::Ipv4Addr;

use crate::counters::DropReason;
use crate::snapshot::{Hop, Port};

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
    /// A route table lookup (the table's index in the snapshot: the model's tables in
    /// id order; the route's index in that table's routes). `route: None`: no route.
    Route {
        /// The table.
        table: u32,
        /// The route that matched.
        route: Option<u32>,
        /// Where it leads.
        hop: Option<Hop>,
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
