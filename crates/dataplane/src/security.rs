//! Security groups and network ACLs compiled for the packet path. What makes security
//! groups stateful — tracked flows — is `vpclab_conntrack`'s [`Tracker`], keyed by the
//! interface (see [`crate::Tracking`]).
//!
//! [`Tracker`]: vpclab_conntrack::Tracker
//!
//! An interface's rules (the union of its groups', group references expanded to the
//! members' private addresses) become a route-table trie over the peers' prefixes: each
//! prefix maps to the rules of that prefix *and of every shorter prefix containing it*,
//! so one longest-prefix lookup finds every rule that can apply to an address, and the
//! verdict is that lookup plus a few interval checks — not a scan of the rules.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_lpm::{Builder, Lpm4};
use vpclab_model::{
    ConnectionTracking, Instance, Model, NetworkAcl, Peer, Protocol, SecurityGroupId, SgRule, VpcId,
};

use vpclab_conntrack::Timeouts;

use crate::wire::proto;

/// What an address's applicable rules allow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RuleSet {
    all: bool,
    tcp: Vec<(u16, u16)>,
    udp: Vec<(u16, u16)>,
    /// ICMP (type, code), -1 meaning any.
    icmp: Vec<(i16, i16)>,
    protocols: Vec<u8>,
}

impl RuleSet {
    fn add(&mut self, rule: &SgRule) {
        let ports = || (rule.from_port.clamp(0, 65535) as u16, rule.to_port.clamp(0, 65535) as u16);
        match rule.protocol {
            Protocol::All => self.all = true,
            Protocol::Tcp => self.tcp.push(ports()),
            Protocol::Udp => self.udp.push(ports()),
            Protocol::Icmp => self.icmp.push((rule.from_port as i16, rule.to_port as i16)),
            // ICMPv6 rides only on IPv6, which these IPv4 sets never see.
            Protocol::Icmpv6 => {}
            Protocol::Other(n) => self.protocols.push(n),
        }
    }

    fn allows(&self, protocol: u8, port: u16, icmp_code: u8) -> bool {
        if self.all {
            return true;
        }
        let within =
            |ranges: &[(u16, u16)]| ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi);
        match protocol {
            proto::TCP => within(&self.tcp),
            proto::UDP => within(&self.udp),
            proto::ICMP => self.icmp.iter().any(|&(t, c)| {
                (t == -1 || t == i16::from(port as u8)) && (c == -1 || c == i16::from(icmp_code))
            }),
            other => self.protocols.contains(&other),
        }
    }
}

/// One direction of one interface's security groups.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    lpm: Lpm4,
    sets: Vec<RuleSet>,
    /// The rules whose peer is 0.0.0.0/0 alone (for AWS's untracked flows).
    anywhere: RuleSet,
}

impl Compiled {
    /// Whether traffic to or from `peer` is allowed. `port` is the destination port
    /// (TCP/UDP) or the ICMP type.
    #[inline]
    pub(crate) fn allows(&self, peer: Ipv4Addr, protocol: u8, port: u16, icmp_code: u8) -> bool {
        self.lpm
            .lookup(peer)
            .and_then(|set| self.sets.get(set as usize))
            .is_some_and(|set| set.allows(protocol, port, icmp_code))
    }

    /// Compiles the rules of an interface in `vpc`, group references resolved to the
    /// addresses of members in `vpc` or a VPC peered with it (a reference to a group of
    /// a VPC no longer peered is stale and matches nothing, as on AWS).
    pub(crate) fn build<'a>(
        model: &Model,
        members: &Members<'_>,
        vpc: &VpcId,
        rules: impl Iterator<Item = &'a SgRule>,
    ) -> Self {
        let mut by_prefix: HashMap<Ipv4Net, RuleSet> = HashMap::new();
        let mut anywhere = RuleSet::default();
        for rule in rules {
            if rule.peer == Peer::Cidr(Ipv4Net::default()) {
                anywhere.add(rule);
            }
            let prefixes: Vec<Ipv4Net> = match &rule.peer {
                Peer::Cidr(c) => vec![*c],
                // IPv6 ranges match no IPv4 peer.
                Peer::Cidr6(_) => Vec::new(),
                // Every interface in the group: instances' primary ones and the
                // interfaces attached to them.
                Peer::Group(g) => {
                    let near = |v: &VpcId| v == vpc || model.peered(v, vpc);
                    members
                        .of(g)
                        .iter()
                        .filter(|(v, _)| near(v))
                        .map(|(_, ip)| Ipv4Net::from(*ip))
                        .collect()
                }
                // The list's blocks as they are now: a change to it recompiles.
                Peer::PrefixList(list) => {
                    model.prefix_list_cidrs(list.as_str()).unwrap_or_default()
                }
            };
            for prefix in prefixes {
                by_prefix.entry(prefix).or_default().add(rule);
            }
        }
        // Each prefix also carries the rules of every shorter prefix that contains it.
        let prefixes: Vec<Ipv4Net> = by_prefix.keys().copied().collect();
        let mut builder = Builder::with_capacity(prefixes.len());
        let mut sets = Vec::with_capacity(prefixes.len());
        for prefix in &prefixes {
            let mut set = RuleSet::default();
            for (other, rules) in &by_prefix {
                if other.contains(prefix) {
                    set.all |= rules.all;
                    set.tcp.extend(&rules.tcp);
                    set.udp.extend(&rules.udp);
                    set.icmp.extend(&rules.icmp);
                    set.protocols.extend(&rules.protocols);
                }
            }
            builder.insert(*prefix, sets.len() as u32).expect("few rule sets");
            sets.push(set);
        }
        Self { lpm: builder.build(), sets, anywhere }
    }

    /// Whether a 0.0.0.0/0 rule alone allows this traffic.
    pub(crate) fn allows_from_anywhere(&self, protocol: u8, port: u16) -> bool {
        self.anywhere.allows(protocol, port, 0)
    }

    /// Whether all traffic to or from 0.0.0.0/0 is allowed.
    pub(crate) fn allows_everything(&self) -> bool {
        self.anywhere.all
    }
}

/// Every security group's members — instances' primary interfaces and the interfaces
/// attached to them — with their VPC and address: gathered in one pass over the model,
/// so that compiling every interface's rules does not walk every instance for each one.
#[derive(Debug, Default)]
pub(crate) struct Members<'m> {
    by_group: HashMap<&'m SecurityGroupId, Vec<(&'m VpcId, Ipv4Addr)>>,
}

impl<'m> Members<'m> {
    /// The members of every group in `model`.
    pub(crate) fn of_model(model: &'m Model) -> Self {
        let mut by_group: HashMap<&SecurityGroupId, Vec<(&VpcId, Ipv4Addr)>> = HashMap::new();
        for i in model.instances() {
            for g in &i.security_groups {
                by_group.entry(g).or_default().push((&i.vpc, i.private_ip));
            }
        }
        for n in model.network_interfaces().filter(|n| n.attachment.is_some()) {
            for g in &n.security_groups {
                by_group.entry(g).or_default().push((&n.vpc, n.private_ip));
            }
        }
        Self { by_group }
    }

    /// The members of `group`, with their VPCs.
    fn of(&self, group: &SecurityGroupId) -> &[(&'m VpcId, Ipv4Addr)] {
        self.by_group.get(group).map_or(&[], Vec::as_slice)
    }
}

/// An interface's compiled groups, both directions.
///
/// AWS does not track a TCP or UDP flow that a 0.0.0.0/0 rule allows when the other
/// direction allows all traffic to 0.0.0.0/0: its replies pass by rule anyway, and it is
/// cut as soon as the rule goes ([`InterfaceRules::untracked`]).
#[derive(Debug, Default)]
pub(crate) struct InterfaceRules {
    /// Its connection tracking's idle timeouts (`ConnectionTrackingSpecification`).
    pub(crate) timeouts: Timeouts,
    pub(crate) ingress: Compiled,
    pub(crate) egress: Compiled,
}

impl InterfaceRules {
    /// Whether a new TCP/UDP flow allowed in `egress` direction stays untracked.
    pub(crate) fn untracked(&self, egress: bool, protocol: u8, port: u16) -> bool {
        let (this, other) =
            if egress { (&self.egress, &self.ingress) } else { (&self.ingress, &self.egress) };
        matches!(protocol, proto::TCP | proto::UDP)
            && this.allows_from_anywhere(protocol, port)
            && other.allows_everything()
    }

    pub(crate) fn build(model: &Model, members: &Members<'_>, instance: &Instance) -> Self {
        Self::of(
            model,
            members,
            &instance.vpc,
            &instance.security_groups,
            instance.connection_tracking,
        )
    }

    /// The rules of an interface in `vpc` with `groups` and its connection-tracking
    /// timeouts (AWS's defaults when `None`).
    pub(crate) fn of(
        model: &Model,
        members: &Members<'_>,
        vpc: &VpcId,
        groups: &[SecurityGroupId],
        tracking: Option<ConnectionTracking>,
    ) -> Self {
        let groups: Vec<_> = groups.iter().filter_map(|g| model.security_group(g).ok()).collect();
        let timeouts = tracking.map_or(Timeouts::INTERFACE, |c| {
            Timeouts::interface(c.tcp_established_timeout, c.udp_stream_timeout, c.udp_timeout)
        });
        Self {
            timeouts,
            ingress: Compiled::build(model, members, vpc, groups.iter().flat_map(|g| &g.ingress)),
            egress: Compiled::build(model, members, vpc, groups.iter().flat_map(|g| &g.egress)),
        }
    }
}

/// The flow tables' hash: a seeded folded multiply per word, several times cheaper than
/// the standard SipHash on the per-packet path. Remote addresses and ports are chosen by
/// whoever sends, so the seed is random per table: colliding keys cannot be precomputed.
#[derive(Clone, Copy, Debug)]
pub struct FlowHashing {
    seed: u64,
}

impl FlowHashing {
    /// A fresh random seed.
    pub fn random() -> Self {
        Self { seed: std::collections::hash_map::RandomState::new().hash_one(0x666c_6f77u32) }
    }
}

impl BuildHasher for FlowHashing {
    type Hasher = FlowHasher;

    #[inline]
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher(self.seed)
    }
}

/// See [`FlowHashing`].
#[derive(Debug)]
pub struct FlowHasher(u64);

impl FlowHasher {
    #[inline(always)]
    fn mix(&mut self, word: u64) {
        let r = u128::from(self.0 ^ word) * u128::from(0x9E37_79B9_7F4A_7C15u64);
        self.0 = (r as u64) ^ ((r >> 64) as u64);
    }
}

impl Hasher for FlowHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
}

/// One network ACL rule, flattened for the packet path.
#[derive(Clone, Copy, Debug)]
struct AclRule {
    network: u32,
    mask: u32,
    protocol: Option<u8>,
    ports: Option<(u16, u16)>,
    icmp: Option<(i16, i16)>,
    allow: bool,
    number: u16,
}

/// A network ACL compiled: each direction's rules in evaluation order.
#[derive(Debug, Default)]
pub(crate) struct CompiledAcl {
    inbound: Vec<AclRule>,
    outbound: Vec<AclRule>,
}

impl CompiledAcl {
    pub(crate) fn build(acl: &NetworkAcl) -> Self {
        let flatten = |egress| {
            // The IPv4 rules: an IPv6 one never matches an IPv4 packet.
            acl.rules(egress)
                .into_iter()
                .filter_map(|e| Some((e, e.cidr4()?)))
                .map(|(e, cidr)| AclRule {
                    network: u32::from(cidr.network()),
                    mask: u32::from(cidr.netmask()),
                    protocol: e.protocol.number(),
                    ports: e.ports,
                    icmp: e.icmp,
                    allow: e.allow,
                    number: e.rule_number,
                })
                .collect()
        };
        Self { inbound: flatten(false), outbound: flatten(true) }
    }

    /// The verdict of the first rule matching `peer` (the source inbound, the
    /// destination outbound), the protocol and the destination port (or ICMP type and
    /// code), with that rule's number; deny, with no number, when none does (AWS's `*`).
    #[inline]
    pub(crate) fn decide(
        &self,
        egress: bool,
        peer: u32,
        protocol: u8,
        port: u16,
        icmp_code: u8,
    ) -> (bool, Option<u16>) {
        let rules = if egress { &self.outbound } else { &self.inbound };
        for r in rules {
            if peer & r.mask != r.network || r.protocol.is_some_and(|p| p != protocol) {
                continue;
            }
            let ports_match = match protocol {
                proto::TCP | proto::UDP => r.ports.is_none_or(|(lo, hi)| lo <= port && port <= hi),
                proto::ICMP => r.icmp.is_none_or(|(t, c)| {
                    (t == -1 || t == i16::from(port as u8))
                        && (c == -1 || c == i16::from(icmp_code))
                }),
                _ => true,
            };
            if ports_match {
                return (r.allow, Some(r.number));
            }
        }
        (false, None)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{Hash, Hasher};

    use super::*;

    /// Keys that differ in one field only (what a scan or a flood varies) still spread
    /// over the low bits hashbrown indexes with.
    #[test]
    fn flow_hashes_spread_over_the_low_bits() {
        #[derive(Clone, Copy)]
        struct Key(u64, u64, u8);
        impl Hash for Key {
            fn hash<H: Hasher>(&self, state: &mut H) {
                state.write_u64(self.0);
                state.write_u64(self.1);
                state.write_u8(self.2);
            }
        }
        let hashing = FlowHashing::random();
        let base = Key(0x0a00_0104 << 32, 1 << 32 | 80 << 16, 6);
        let variants: [&dyn Fn(u64) -> Key; 3] =
            [&|i| Key(base.0, base.1 | i, base.2), &|i| Key(base.0 | i, base.1, base.2), &|i| {
                Key(base.0, i << 32 | 443 << 16, base.2)
            }];
        for variant in variants {
            let mut buckets = vec![0u32; 1 << 12];
            for i in 0..1u64 << 16 {
                buckets[(hashing.hash_one(variant(i)) & 0xfff) as usize] += 1;
            }
            // 16 keys per bucket on average; a poor mix piles hundreds into a few.
            let fullest = buckets.iter().max().copied().unwrap_or(0);
            assert!(fullest < 48, "fullest bucket holds {fullest}");
        }
    }
}
