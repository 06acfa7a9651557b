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
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use vpclab_lpm::{Address, Builder, Lpm};
use vpclab_model::{
    ConnectionTracking, Model, NetworkAcl, Peer, Protocol, SecurityGroupId, SgRule, VpcId,
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
    /// Adds `rule` to a set of family `F`: its ICMP is ICMPv4 for IPv4 and ICMPv6 for
    /// IPv6; a rule of the other ICMP never matches.
    fn add<F: Family>(&mut self, rule: &SgRule) {
        let ports = || (rule.from_port.clamp(0, 65535) as u16, rule.to_port.clamp(0, 65535) as u16);
        match rule.protocol {
            Protocol::All => self.all = true,
            Protocol::Tcp => self.tcp.push(ports()),
            Protocol::Udp => self.udp.push(ports()),
            Protocol::Icmp if !F::IPV6 => {
                self.icmp.push((rule.from_port as i16, rule.to_port as i16))
            }
            Protocol::Icmpv6 if F::IPV6 => {
                self.icmp.push((rule.from_port as i16, rule.to_port as i16))
            }
            Protocol::Icmp | Protocol::Icmpv6 => {}
            Protocol::Other(n) => self.protocols.push(n),
        }
    }

    /// Whether the set allows `protocol` to `port` (TCP, UDP) or with ICMP type `port`
    /// and code `icmp_code`, where `icmp` is the family's ICMP (1 or 58: the other one
    /// is just another protocol).
    fn allows(&self, icmp: u8, protocol: u8, port: u16, icmp_code: u8) -> bool {
        if self.all {
            return true;
        }
        let within =
            |ranges: &[(u16, u16)]| ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi);
        match protocol {
            proto::TCP => within(&self.tcp),
            proto::UDP => within(&self.udp),
            p if p == icmp => self.icmp.iter().any(|&(t, c)| {
                (t == -1 || t == i16::from(port as u8)) && (c == -1 || c == i16::from(icmp_code))
            }),
            other => self.protocols.contains(&other),
        }
    }
}

/// An address family security groups and ACLs compile for: which of a rule's peers
/// and of a group's members' addresses are of it.
pub(crate) trait Family: Address<Net: Eq + std::hash::Hash> {
    /// Whether this is IPv6.
    const IPV6: bool;
    /// The family's ICMP protocol number.
    const ICMP: u8;
    /// `0.0.0.0/0` or `::/0`.
    const ANYWHERE: Self::Net;

    /// The peer's prefix, if it is a range of this family.
    fn range(peer: &Peer) -> Option<Self::Net>;
    /// What a rule resolved to, of this family.
    fn prefixes(resolved: &Resolved) -> &[Self::Net];
    /// Whether `outer` contains `inner`.
    fn contains(outer: &Self::Net, inner: &Self::Net) -> bool;
}

impl Family for Ipv4Addr {
    const IPV6: bool = false;
    const ICMP: u8 = proto::ICMP;
    const ANYWHERE: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::UNSPECIFIED, 0);

    fn range(peer: &Peer) -> Option<Ipv4Net> {
        match peer {
            Peer::Cidr(c) => Some(*c),
            _ => None,
        }
    }
    fn prefixes(resolved: &Resolved) -> &[Ipv4Net] {
        &resolved.v4
    }
    fn contains(outer: &Ipv4Net, inner: &Ipv4Net) -> bool {
        outer.contains(inner)
    }
}

impl Family for Ipv6Addr {
    const IPV6: bool = true;
    const ICMP: u8 = proto::ICMPV6;
    const ANYWHERE: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 0);

    fn range(peer: &Peer) -> Option<Ipv6Net> {
        match peer {
            Peer::Cidr6(c) => Some(*c),
            _ => None,
        }
    }
    fn prefixes(resolved: &Resolved) -> &[Ipv6Net] {
        &resolved.v6
    }
    fn contains(outer: &Ipv6Net, inner: &Ipv6Net) -> bool {
        outer.contains(inner)
    }
}

/// One direction of one interface's security groups, for one address family.
#[derive(Debug, PartialEq)]
pub(crate) struct Compiled<A: Address = Ipv4Addr> {
    lpm: Lpm<A>,
    sets: Vec<RuleSet>,
    /// The rules whose peer is 0.0.0.0/0 (::/0) alone (for AWS's untracked flows).
    anywhere: RuleSet,
}

impl<A: Address> Default for Compiled<A> {
    fn default() -> Self {
        Self { lpm: Lpm::default(), sets: Vec::new(), anywhere: RuleSet::default() }
    }
}

impl<A: Family> Compiled<A> {
    /// Whether traffic to or from `peer` is allowed. `port` is the destination port
    /// (TCP/UDP) or the ICMP type.
    #[inline]
    pub(crate) fn allows(&self, peer: A, protocol: u8, port: u16, icmp_code: u8) -> bool {
        self.lpm
            .lookup(peer)
            .and_then(|set| self.sets.get(set as usize))
            .is_some_and(|set| set.allows(A::ICMP, protocol, port, icmp_code))
    }

    /// Compiles the rules of an interface, each with what it resolved to
    /// ([`Resolved::of`]).
    pub(crate) fn build(rules: &[(SgRule, Resolved)]) -> Self {
        let mut by_prefix: HashMap<A::Net, RuleSet, FlowHashing> = HashMap::default();
        let mut anywhere = RuleSet::default();
        for (rule, resolved) in rules {
            if A::range(&rule.peer) == Some(A::ANYWHERE) {
                anywhere.add::<A>(rule);
            }
            for prefix in A::prefixes(resolved) {
                by_prefix.entry(*prefix).or_default().add::<A>(rule);
            }
        }
        if by_prefix.is_empty() {
            // No rule of this family (IPv6 in an IPv4-only VPC): no table to allocate.
            return Self { anywhere, ..Self::default() };
        }
        // In prefix order, so that the same rules always compile to the same tables.
        let mut by_prefix: Vec<(A::Net, RuleSet)> = by_prefix.into_iter().collect();
        by_prefix.sort_unstable_by_key(|(prefix, _)| A::net_parts(prefix));
        // Each prefix also carries the rules of every shorter prefix that contains it.
        let mut builder = Builder::with_capacity(by_prefix.len());
        let mut sets = Vec::with_capacity(by_prefix.len());
        for (prefix, _) in &by_prefix {
            let mut set = RuleSet::default();
            for (other, rules) in &by_prefix {
                if A::contains(other, prefix) {
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

    /// Whether a 0.0.0.0/0 (::/0) rule alone allows this traffic.
    pub(crate) fn allows_from_anywhere(&self, protocol: u8, port: u16) -> bool {
        self.anywhere.allows(A::ICMP, protocol, port, 0)
    }

    /// Whether all traffic to or from 0.0.0.0/0 (::/0) is allowed.
    pub(crate) fn allows_everything(&self) -> bool {
        self.anywhere.all
    }
}

/// Every security group's members — instances' primary interfaces and the interfaces
/// attached to them — with their VPC and address: gathered in one pass over the model,
/// so that compiling every interface's rules does not walk every instance for each one.
#[derive(Debug, Default)]
pub(crate) struct Members<'m> {
    by_group: HashMap<&'m SecurityGroupId, Vec<(&'m VpcId, Ipv4Addr)>, FlowHashing>,
    /// Their IPv6 addresses, for the groups' IPv6 rules.
    by_group6: HashMap<&'m SecurityGroupId, Vec<(&'m VpcId, Ipv6Addr)>, FlowHashing>,
}

impl<'m> Members<'m> {
    /// The members of every group in `model`.
    pub(crate) fn of_model(model: &'m Model) -> Self {
        Self::of_vpcs(model, |_| true)
    }

    /// The members of every group in `model` that are in a VPC `of` keeps.
    pub(crate) fn of_vpcs(model: &'m Model, of: impl Fn(&VpcId) -> bool) -> Self {
        let mut by_group: HashMap<&SecurityGroupId, Vec<(&VpcId, Ipv4Addr)>, FlowHashing> =
            HashMap::default();
        let mut by_group6: HashMap<&SecurityGroupId, Vec<(&VpcId, Ipv6Addr)>, FlowHashing> =
            HashMap::default();
        let mut add = |groups: &'m [SecurityGroupId],
                       vpc: &'m VpcId,
                       ip: Option<Ipv4Addr>,
                       ipv6: &[Ipv6Addr]| {
            for g in groups {
                if let Some(ip) = ip {
                    by_group.entry(g).or_default().push((vpc, ip));
                }
                if !ipv6.is_empty() {
                    by_group6.entry(g).or_default().extend(ipv6.iter().map(|&a| (vpc, a)));
                }
            }
        };
        for i in model.instances().filter(|i| of(&i.vpc)) {
            add(&i.security_groups, &i.vpc, i.private_ip, &i.ipv6_addresses);
        }
        for n in model.network_interfaces().filter(|n| n.attachment.is_some() && of(&n.vpc)) {
            add(&n.security_groups, &n.vpc, n.private_ip, &n.ipv6_addresses);
        }
        Self { by_group, by_group6 }
    }
}

/// What a security group rule's peer stands for, of each family, as the model is now:
/// a range itself, a group reference its members' addresses (those in the interface's
/// VPC or one peered with it: a reference to a group of a VPC no longer peered is stale
/// and matches nothing, as on AWS), a prefix list its blocks (IPv4 only in vpclab).
/// Compiling rules reads nothing else of the model, so rules resolved alike compile
/// alike.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    v4: Vec<Ipv4Net>,
    v6: Vec<Ipv6Net>,
}

impl Resolved {
    /// What `rule` of an interface in `vpc` stands for.
    pub(crate) fn of(model: &Model, members: &Members<'_>, vpc: &VpcId, rule: &SgRule) -> Self {
        match &rule.peer {
            Peer::Cidr(c) => Self { v4: vec![*c], v6: Vec::new() },
            Peer::Cidr6(c) => Self { v4: Vec::new(), v6: vec![*c] },
            // Every interface in the group: instances' primary ones and the interfaces
            // attached to them.
            Peer::Group(g) => {
                let near = |v: &VpcId| v == vpc || model.peered(v, vpc);
                fn hosts<A: Copy, N>(
                    of: Option<&Vec<(&VpcId, A)>>,
                    near: impl Fn(&VpcId) -> bool,
                    host: impl Fn(A) -> N,
                ) -> Vec<N> {
                    of.into_iter()
                        .flatten()
                        .filter(|(v, _)| near(v))
                        .map(|(_, a)| host(*a))
                        .collect()
                }
                Self {
                    v4: hosts(members.by_group.get(g), near, Ipv4Net::from),
                    v6: hosts(members.by_group6.get(g), near, Ipv6Net::from),
                }
            }
            // The list's blocks as they are now: a change to it recompiles.
            Peer::PrefixList(list) => Self {
                v4: model.prefix_list_cidrs(list.as_str()).unwrap_or_default(),
                v6: Vec::new(),
            },
        }
    }
}

/// Everything an interface's compiled groups are made of but its tracking timeouts:
/// its groups' inbound and outbound rules, in order, each with what it resolved to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RulesInputs {
    ingress: Vec<(SgRule, Resolved)>,
    egress: Vec<(SgRule, Resolved)>,
}

impl RulesInputs {
    /// The inputs of an interface in `vpc` with `groups` (those that exist).
    pub(crate) fn of(
        model: &Model,
        members: &Members<'_>,
        vpc: &VpcId,
        groups: &[SecurityGroupId],
    ) -> Self {
        let groups: Vec<_> = groups.iter().filter_map(|g| model.security_group(g).ok()).collect();
        let resolve = |rules: &mut dyn Iterator<Item = &SgRule>| {
            rules.map(|r| (r.clone(), Resolved::of(model, members, vpc, r))).collect()
        };
        Self {
            ingress: resolve(&mut groups.iter().flat_map(|g| &g.ingress)),
            egress: resolve(&mut groups.iter().flat_map(|g| &g.egress)),
        }
    }
}

/// An interface's compiled groups, both directions.
///
/// AWS does not track a TCP or UDP flow that a 0.0.0.0/0 rule allows when the other
/// direction allows all traffic to 0.0.0.0/0: its replies pass by rule anyway, and it is
/// cut as soon as the rule goes ([`InterfaceRules::untracked`]).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct InterfaceRules {
    /// Its connection tracking's idle timeouts (`ConnectionTrackingSpecification`).
    pub(crate) timeouts: Timeouts,
    pub(crate) ingress: Compiled,
    pub(crate) egress: Compiled,
    /// The same groups' IPv6 rules.
    pub(crate) ingress6: Compiled<Ipv6Addr>,
    pub(crate) egress6: Compiled<Ipv6Addr>,
}

impl InterfaceRules {
    /// Whether a new TCP/UDP flow allowed in `egress` direction stays untracked.
    pub(crate) fn untracked(&self, egress: bool, protocol: u8, port: u16) -> bool {
        let (this, other) =
            if egress { (&self.egress, &self.ingress) } else { (&self.ingress, &self.egress) };
        untracked(this, other, protocol, port)
    }

    /// [`InterfaceRules::untracked`] for an IPv6 flow, by the ::/0 rules.
    pub(crate) fn untracked6(&self, egress: bool, protocol: u8, port: u16) -> bool {
        let (this, other) =
            if egress { (&self.egress6, &self.ingress6) } else { (&self.ingress6, &self.egress6) };
        untracked(this, other, protocol, port)
    }

    /// The rules compiled from `inputs`, with these connection-tracking timeouts.
    pub(crate) fn from_inputs(inputs: &RulesInputs, tracking: Option<ConnectionTracking>) -> Self {
        let timeouts = tracking.map_or(Timeouts::INTERFACE, |c| {
            Timeouts::interface(c.tcp_established_timeout, c.udp_stream_timeout, c.udp_timeout)
        });
        Self {
            timeouts,
            ingress: Compiled::build(&inputs.ingress),
            egress: Compiled::build(&inputs.egress),
            ingress6: Compiled::build(&inputs.ingress),
            egress6: Compiled::build(&inputs.egress),
        }
    }
}

/// Whether a TCP/UDP flow allowed by `this` direction's rules stays untracked: a
/// rule to anywhere allows it and the `other` direction allows everything anywhere.
fn untracked<A: Family>(this: &Compiled<A>, other: &Compiled<A>, protocol: u8, port: u16) -> bool {
    matches!(protocol, proto::TCP | proto::UDP)
        && this.allows_from_anywhere(protocol, port)
        && other.allows_everything()
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

/// A random seed, as the standard `RandomState`'s default: maps keyed by what clients
/// name (ids) hash several times faster with it than with SipHash.
impl Default for FlowHashing {
    fn default() -> Self {
        Self::random()
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

/// One network ACL rule, flattened for the packet path: its range as a network and a
/// mask of the family's width (`u32`, `u128`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct AclRule<K> {
    network: K,
    mask: K,
    protocol: Option<u8>,
    ports: Option<(u16, u16)>,
    icmp: Option<(i16, i16)>,
    allow: bool,
    number: u16,
}

/// A network ACL compiled: each direction's rules of each family in evaluation order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CompiledAcl {
    inbound: Vec<AclRule<u32>>,
    outbound: Vec<AclRule<u32>>,
    inbound6: Vec<AclRule<u128>>,
    outbound6: Vec<AclRule<u128>>,
}

impl CompiledAcl {
    pub(crate) fn build(acl: &NetworkAcl) -> Self {
        let flatten = |egress: bool, v6: bool| {
            acl.rules(egress)
                .into_iter()
                .filter(move |e| e.cidr6().is_some() == v6)
                .map(|e| (e.protocol.number(), e))
        };
        fn rule<K>(
            e: &vpclab_model::AclEntry,
            protocol: Option<u8>,
            network: K,
            mask: K,
        ) -> AclRule<K> {
            AclRule {
                network,
                mask,
                protocol,
                ports: e.ports,
                icmp: e.icmp,
                allow: e.allow,
                number: e.rule_number,
            }
        }
        let v4 = |egress| {
            flatten(egress, false)
                .filter_map(|(p, e)| {
                    let c = e.cidr4()?;
                    Some(rule(e, p, u32::from(c.network()), u32::from(c.netmask())))
                })
                .collect()
        };
        let v6 = |egress| {
            flatten(egress, true)
                .filter_map(|(p, e)| {
                    let c = e.cidr6()?;
                    Some(rule(e, p, u128::from(c.network()), u128::from(c.netmask())))
                })
                .collect()
        };
        Self { inbound: v4(false), outbound: v4(true), inbound6: v6(false), outbound6: v6(true) }
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
        first_match(rules, proto::ICMP, peer, protocol, port, icmp_code)
    }

    /// [`CompiledAcl::decide`] for an IPv6 packet, by the IPv6 rules.
    #[inline]
    pub(crate) fn decide6(
        &self,
        egress: bool,
        peer: u128,
        protocol: u8,
        port: u16,
        icmp_code: u8,
    ) -> (bool, Option<u16>) {
        let rules = if egress { &self.outbound6 } else { &self.inbound6 };
        first_match(rules, proto::ICMPV6, peer, protocol, port, icmp_code)
    }
}

/// See [`CompiledAcl::decide`]; `icmp` is the family's ICMP protocol number.
#[inline]
fn first_match<K>(
    rules: &[AclRule<K>],
    icmp: u8,
    peer: K,
    protocol: u8,
    port: u16,
    icmp_code: u8,
) -> (bool, Option<u16>)
where
    K: Copy + Eq + std::ops::BitAnd<Output = K>,
{
    for r in rules {
        if peer & r.mask != r.network || r.protocol.is_some_and(|p| p != protocol) {
            continue;
        }
        let ports_match = match protocol {
            proto::TCP | proto::UDP => r.ports.is_none_or(|(lo, hi)| lo <= port && port <= hi),
            p if p == icmp => r.icmp.is_none_or(|(t, c)| {
                (t == -1 || t == i16::from(port as u8)) && (c == -1 || c == i16::from(icmp_code))
            }),
            _ => true,
        };
        if ports_match {
            return (r.allow, Some(r.number));
        }
    }
    (false, None)
}

#[cfg(test)]
mod tests {
    use std::hash::{Hash, Hasher};

    use super::*;

    /// An ICMP rule is the family's ICMP: an IPv4 packet of protocol 58 is another
    /// protocol to it, as an IPv6 packet of protocol 1 is to an ICMPv6 rule.
    #[test]
    fn icmp_rules_match_their_own_familys_icmp_only() {
        let mut set = RuleSet::default();
        set.icmp.push((8, -1));
        assert!(set.allows(proto::ICMP, proto::ICMP, 8, 0));
        assert!(!set.allows(proto::ICMP, proto::ICMPV6, 8, 0));
        assert!(set.allows(proto::ICMPV6, proto::ICMPV6, 8, 0));
        assert!(!set.allows(proto::ICMPV6, proto::ICMP, 8, 0));
        let rule = AclRule {
            network: 0u32,
            mask: 0,
            protocol: Some(58),
            ports: None,
            icmp: Some((128, -1)),
            allow: true,
            number: 1,
        };
        // An IPv4 entry for protocol 58 with a type: IPv4 has no ICMPv6, so it matches
        // protocol 58 whatever follows (AWS: "allows all types").
        assert_eq!(first_match(&[rule], proto::ICMP, 0, 58, 3, 0), (true, Some(1)));
        assert_eq!(first_match(&[rule], proto::ICMPV6, 0, 58, 3, 0), (false, None));
    }

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
