//! Security groups compiled for the packet path, and the per-interface connection
//! tracking that makes them stateful.
//!
//! An interface's rules (the union of its groups', group references expanded to the
//! members' private addresses) become a route-table trie over the peers' prefixes: each
//! prefix maps to the rules of that prefix *and of every shorter prefix containing it*,
//! so one longest-prefix lookup finds every rule that can apply to an address, and the
//! verdict is that lookup plus a few interval checks — not a scan of the rules.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_lpm::{Builder, Lpm4};
use vpclab_model::{Instance, Model, NetworkAcl, Peer, Protocol, SgRule, VpcId};

use crate::snapshot::Port;
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
                Peer::Group(g) => model
                    .instances()
                    .filter(|i| i.security_groups.contains(g))
                    .filter(|i| &i.vpc == vpc || model.peered(&i.vpc, vpc))
                    .map(|i| Ipv4Net::from(i.private_ip))
                    .collect(),
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

/// An interface's compiled groups, both directions.
///
/// AWS does not track a TCP or UDP flow that a 0.0.0.0/0 rule allows when the other
/// direction allows all traffic to 0.0.0.0/0: its replies pass by rule anyway, and it is
/// cut as soon as the rule goes ([`InterfaceRules::untracked`]).
#[derive(Debug, Default)]
pub(crate) struct InterfaceRules {
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

    pub(crate) fn build(model: &Model, instance: &Instance) -> Self {
        let groups: Vec<_> =
            instance.security_groups.iter().filter_map(|g| model.security_group(g).ok()).collect();
        Self {
            ingress: Compiled::build(model, &instance.vpc, groups.iter().flat_map(|g| &g.ingress)),
            egress: Compiled::build(model, &instance.vpc, groups.iter().flat_map(|g| &g.egress)),
        }
    }
}

/// A tracked flow, seen from one interface: (interface, protocol, local address and
/// port, remote address and port) — the same key for both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlowKey {
    pub(crate) port: Port,
    pub(crate) protocol: u8,
    pub(crate) local: u32,
    pub(crate) local_port: u16,
    pub(crate) remote: u32,
    pub(crate) remote_port: u16,
}

impl Hash for FlowKey {
    /// Three words instead of six fields: what [`FlowHasher`] mixes fastest.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.local) << 32) | u64::from(self.remote));
        state.write_u64(
            (u64::from(self.port) << 32)
                | (u64::from(self.local_port) << 16)
                | u64::from(self.remote_port),
        );
        state.write_u8(self.protocol);
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

/// Idle timeouts of tracked flows (AWS's defaults for interfaces, in milliseconds).
const TCP_IDLE_MS: u64 = 432_000_000; // 5 days
const UDP_IDLE_MS: u64 = 180_000;
const ICMP_IDLE_MS: u64 = 30_000;
const OTHER_IDLE_MS: u64 = 600_000;

/// Tracked flows, each with a value (`()` for the security groups, the instance's port
/// for gateway-endpoint flows), live until idle. Allocated up front: inserting below
/// capacity never allocates, and a table full of live flows refuses new ones.
///
/// Expired flows are dropped when the table is full and a new flow comes, by one pass
/// over the table at most every [`PURGE_EVERY_MS`]: a flood of new flows into a full
/// table costs a lookup each, not a pass each.
#[derive(Debug)]
pub struct Flows<V> {
    flows: HashMap<FlowKey, (u64, V), FlowHashing>,
    capacity: usize,
    /// When expired flows were last dropped (`None`: never).
    purged_at: Option<u64>,
}

/// The least time between two passes that drop expired flows from a full table.
pub const PURGE_EVERY_MS: u64 = 1000;

/// The security groups' connection tracking: flows allowed once, by whichever rule, pass
/// both ways until idle.
pub type SgFlows = Flows<()>;

impl<V: Copy> Flows<V> {
    /// Room for `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        let flows = HashMap::with_capacity_and_hasher(capacity, FlowHashing::random());
        Self { flows, capacity, purged_at: None }
    }

    /// The value of `key` if it is a live tracked flow; refreshes it.
    #[inline]
    pub(crate) fn get(&mut self, key: &FlowKey, now: u64) -> Option<V> {
        match self.flows.get_mut(key) {
            Some((expiry, value)) if *expiry > now => {
                *expiry = now + idle(key.protocol);
                Some(*value)
            }
            _ => None,
        }
    }

    /// Starts (or refreshes) tracking `key` with `value`; false when the table is full
    /// of live flows.
    pub(crate) fn insert(&mut self, key: FlowKey, value: V, now: u64) -> bool {
        let entry = (now + idle(key.protocol), value);
        if let Some(slot) = self.flows.get_mut(&key) {
            *slot = entry;
            return true;
        }
        if self.flows.len() >= self.capacity {
            if self.purged_at.is_some_and(|at| now < at + PURGE_EVERY_MS) {
                return false;
            }
            self.purged_at = Some(now);
            self.flows.retain(|_, (expiry, _)| *expiry > now);
            if self.flows.len() >= self.capacity {
                return false;
            }
        }
        self.flows.insert(key, entry);
        true
    }

    /// Flows tracked now.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether none is tracked.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

impl Flows<()> {
    /// Whether `key` is a live tracked flow; refreshes it.
    #[inline]
    pub(crate) fn hit(&mut self, key: &FlowKey, now: u64) -> bool {
        self.get(key, now).is_some()
    }

    /// Starts tracking `key`; false when the table is full of live flows.
    pub(crate) fn track(&mut self, key: FlowKey, now: u64) -> bool {
        self.insert(key, (), now)
    }
}

fn idle(protocol: u8) -> u64 {
    match protocol {
        proto::TCP => TCP_IDLE_MS,
        proto::UDP => UDP_IDLE_MS,
        proto::ICMP => ICMP_IDLE_MS,
        _ => OTHER_IDLE_MS,
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
            acl.rules(egress)
                .into_iter()
                .map(|e| AclRule {
                    network: u32::from(e.cidr.network()),
                    mask: u32::from(e.cidr.netmask()),
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
    use super::*;

    /// Keys that differ in one field only (what a scan or a flood varies) still spread
    /// over the low bits hashbrown indexes with.
    #[test]
    fn flow_hashes_spread_over_the_low_bits() {
        let hashing = FlowHashing::random();
        let base = FlowKey {
            port: 1,
            protocol: 6,
            local: 0x0a00_0104,
            local_port: 80,
            remote: 0,
            remote_port: 0,
        };
        let variants: [&dyn Fn(u32) -> FlowKey; 3] = [
            &|i| FlowKey { remote_port: i as u16, ..base },
            &|i| FlowKey { remote: i, ..base },
            &|i| FlowKey { port: i, local_port: 443, ..base },
        ];
        for variant in variants {
            let mut buckets = vec![0u32; 1 << 12];
            for i in 0..1u32 << 16 {
                buckets[(hashing.hash_one(variant(i)) & 0xfff) as usize] += 1;
            }
            // 16 keys per bucket on average; a poor mix piles hundreds into a few.
            let fullest = buckets.iter().max().copied().unwrap_or(0);
            assert!(fullest < 48, "fullest bucket holds {fullest}");
        }
    }

    #[test]
    fn a_full_table_is_purged_at_most_once_per_interval() {
        let mut flows: Flows<()> = Flows::new(1);
        let key =
            FlowKey { port: 3, protocol: 17, local: 1, local_port: 2, remote: 3, remote_port: 4 };
        let other = FlowKey { remote_port: 5, ..key };
        assert!(flows.insert(key, (), 0));
        // Full of a live flow: refused, and that refusal was a purge.
        assert!(!flows.insert(other, (), UDP_IDLE_MS - 1));
        // `key` expires now, but the next pass waits PURGE_EVERY_MS.
        assert!(!flows.insert(other, (), UDP_IDLE_MS + 1));
        assert!(flows.insert(other, (), UDP_IDLE_MS - 1 + PURGE_EVERY_MS));
        assert_eq!(flows.len(), 1);
    }

    #[test]
    fn tracked_flows_are_found_both_ways_until_idle() {
        let mut flows: Flows<u32> = Flows::new(2);
        let key =
            FlowKey { port: 3, protocol: 17, local: 1, local_port: 2, remote: 3, remote_port: 4 };
        assert!(flows.insert(key, 7, 0));
        assert_eq!(flows.get(&key, UDP_IDLE_MS - 1), Some(7));
        assert_eq!(flows.get(&key, 2 * UDP_IDLE_MS), None, "idle past its timeout");
        let other = FlowKey { remote_port: 5, ..key };
        assert!(flows.insert(other, 8, 0));
        let third = FlowKey { remote_port: 6, ..key };
        assert!(!flows.insert(third, 9, 1), "full of live flows");
        assert!(flows.insert(third, 9, 3 * UDP_IDLE_MS), "expired ones make room");
    }
}
