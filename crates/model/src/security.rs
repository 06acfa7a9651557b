//! Security groups: stateful, allow-only rule sets on instances' interfaces.
//!
//! AWS semantics: a new group allows all outbound and no inbound; every VPC has a group
//! named `default` that admits its own members and cannot be deleted; rules name a CIDR
//! or another group (whose members' private addresses they then match); an interface's
//! groups are unioned; a rule given twice is `InvalidPermission.Duplicate`.

use std::fmt;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::IdGen;
pub use crate::ids::SecurityGroupId;
use crate::{InstanceId, Model, Tags, VpcId};

/// A rule's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// Everything (`-1`).
    All,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1): the ports are type and code.
    Icmp,
    /// ICMPv6 (58): the ports are type and code, as for ICMP.
    Icmpv6,
    /// Any other IP protocol number.
    Other(u8),
}

impl Protocol {
    /// Parses AWS's spellings: `-1`/`all`, `tcp`/`6`, `udp`/`17`, `icmp`/`1`, a number.
    pub fn parse(s: &str) -> Result<Protocol, ApiError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            "icmpv6" | "58" => Protocol::Icmpv6,
            other => match other.parse::<u8>() {
                Ok(n) => Protocol::Other(n),
                Err(_) => {
                    return Err(ApiError::invalid_value(format!(
                        "Invalid value '{s}' for IP protocol. Unknown protocol."
                    )));
                }
            },
        })
    }

    /// The IP protocol number (`None` for all).
    pub fn number(self) -> Option<u8> {
        match self {
            Protocol::All => None,
            Protocol::Tcp => Some(6),
            Protocol::Udp => Some(17),
            Protocol::Icmp => Some(1),
            Protocol::Icmpv6 => Some(58),
            Protocol::Other(n) => Some(n),
        }
    }

    /// AWS's `ipProtocol` value: `-1`, `tcp`, `udp`, `icmp` or the number.
    pub fn api_name(self) -> String {
        match self {
            Protocol::All => "-1".into(),
            Protocol::Tcp => "tcp".into(),
            Protocol::Udp => "udp".into(),
            Protocol::Icmp => "icmp".into(),
            Protocol::Icmpv6 => "icmpv6".into(),
            Protocol::Other(n) => n.to_string(),
        }
    }
}

/// Who a rule admits (inbound) or lets reach (outbound).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Peer {
    /// An IPv4 range.
    Cidr(Ipv4Net),
    /// An IPv6 range (`Ipv6Ranges`; a host is a /128).
    Cidr6(Ipv6Net),
    /// The members of a group (their private addresses).
    Group(SecurityGroupId),
    /// The blocks of a prefix list, the account's or AWS's, as they are now.
    PrefixList(crate::PrefixListId),
}

/// One rule. Made by [`SgRule::new`], which checks it, for the API and topology files
/// alike; the model names it (`sgr-…`) when a group takes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SgRule {
    /// Protocol.
    pub protocol: Protocol,
    /// First port (TCP/UDP) or ICMP type (-1: any); ignored for all protocols.
    pub from_port: i32,
    /// Last port (TCP/UDP) or ICMP code (-1: any).
    pub to_port: i32,
    /// The peer.
    pub peer: Peer,
    /// A description (not part of the rule's identity).
    pub description: Option<String>,
    /// `sgr-…`, given by the group that holds it; empty in state from before rules had
    /// ids (see [`SgRule::id_in`]).
    #[serde(default)]
    id: String,
    /// Tags (not part of the rule's identity).
    #[serde(default)]
    tags: Tags,
}

/// How many security groups an interface has at most (AWS's default quota).
pub const MAX_GROUPS_PER_INTERFACE: usize = 5;

/// How many inbound (and, apart, outbound) rules a group holds at most: AWS's default
/// quota.
pub const MAX_RULES_PER_GROUP: usize = 60;

impl PartialEq for SgRule {
    fn eq(&self, other: &Self) -> bool {
        self.protocol == other.protocol
            && self.peer == other.peer
            && (self.protocol == Protocol::All
                || (self.from_port == other.from_port && self.to_port == other.to_port))
    }
}

impl Eq for SgRule {}

impl fmt::Display for SgRule {
    /// AWS's rendering in `InvalidPermission.Duplicate`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = match &self.peer {
            Peer::Cidr(c) => c.to_string(),
            Peer::Cidr6(c) => c.to_string(),
            Peer::Group(g) => g.to_string(),
            Peer::PrefixList(p) => p.to_string(),
        };
        match self.protocol {
            Protocol::All => write!(f, "peer: {peer}, ALL, ALLOW"),
            p => {
                let name = match p {
                    Protocol::Tcp => "TCP".to_owned(),
                    Protocol::Udp => "UDP".to_owned(),
                    Protocol::Icmp => "ICMP".to_owned(),
                    Protocol::Icmpv6 => "ICMPV6".to_owned(),
                    other => other.api_name(),
                };
                write!(
                    f,
                    "peer: {peer}, {name}, from port: {}, to port: {}, ALLOW",
                    self.from_port, self.to_port
                )
            }
        }
    }
}

impl SgRule {
    /// A rule, checked: TCP and UDP ports 0–65535 in order, ICMP type and code -1–255;
    /// a rule for all protocols covers all ports whatever it was given (as AWS stores
    /// it). The CIDR is kept as its network.
    pub fn new(
        protocol: Protocol,
        from_port: i32,
        to_port: i32,
        peer: Peer,
        description: Option<String>,
    ) -> Result<Self, ApiError> {
        let (from_port, to_port) =
            if protocol == Protocol::All { (-1, -1) } else { (from_port, to_port) };
        let peer = match peer {
            Peer::Cidr(c) => Peer::Cidr(c.trunc()),
            Peer::Cidr6(c) => Peer::Cidr6(c.trunc()),
            group => group,
        };
        let rule = Self {
            protocol,
            from_port,
            to_port,
            peer,
            description,
            id: String::new(),
            tags: Tags::new(),
        };
        rule.validate()?;
        Ok(rule)
    }

    /// All traffic to or from `cidr`.
    pub fn all_to(cidr: Ipv4Net) -> Self {
        Self::all_with(Peer::Cidr(cidr))
    }

    /// All traffic to or from `peer`.
    pub fn all_with(peer: Peer) -> Self {
        Self {
            protocol: Protocol::All,
            from_port: -1,
            to_port: -1,
            peer,
            description: None,
            id: String::new(),
            tags: Tags::new(),
        }
    }

    /// Its id (`sgr-…`) in `group` (`egress` or inbound). A rule from before rules had
    /// ids gets one derived from what it is, the same every time.
    pub fn id_in(&self, group: &SecurityGroupId, egress: bool) -> String {
        if !self.id.is_empty() {
            return self.id.clone();
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let text = format!("{group}/{egress}/{self}");
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("sgr-0{h:016x}")
    }

    /// Its tags.
    pub fn tags(&self) -> &Tags {
        &self.tags
    }

    /// The rule with `tags` (a group's rule is tagged when it is authorized).
    pub fn with_tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// Checks ports against the protocol.
    fn validate(&self) -> Result<(), ApiError> {
        match self.protocol {
            Protocol::Tcp | Protocol::Udp => {
                if !(0..=65535).contains(&self.from_port)
                    || !(0..=65535).contains(&self.to_port)
                    || self.from_port > self.to_port
                {
                    return Err(ApiError::invalid_value(format!(
                        "Invalid port range: from {} to {}",
                        self.from_port, self.to_port
                    )));
                }
            }
            Protocol::Icmp | Protocol::Icmpv6 => {
                if !(-1..=255).contains(&self.from_port) || !(-1..=255).contains(&self.to_port) {
                    return Err(ApiError::invalid_value(format!(
                        "Invalid ICMP type or code: {} / {}",
                        self.from_port, self.to_port
                    )));
                }
            }
            Protocol::All | Protocol::Other(_) => {}
        }
        Ok(())
    }
}

/// A security group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// `sg-…`
    pub id: SecurityGroupId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Its name, unique in the VPC.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Inbound rules.
    pub ingress: Vec<SgRule>,
    /// Outbound rules.
    pub egress: Vec<SgRule>,
    /// Tags.
    pub tags: Tags,
}

fn anywhere() -> Ipv4Net {
    Ipv4Net::new_assert(std::net::Ipv4Addr::UNSPECIFIED, 0)
}

/// `::/0`.
fn anywhere6() -> Ipv6Net {
    Ipv6Net::new_assert(std::net::Ipv6Addr::UNSPECIFIED, 0)
}

fn fresh(ids: &mut IdGen) -> SecurityGroupId {
    SecurityGroupId::from_raw(ids.fresh(SecurityGroupId::PREFIX))
}

impl Model {
    /// The `default` group a new VPC gets: inbound from its own members, outbound all.
    pub(crate) fn new_default_security_group(&mut self, vpc: &VpcId) -> SecurityGroupId {
        let id = fresh(&mut self.ids);
        let mut own = SgRule::all_to(anywhere());
        own.peer = Peer::Group(id.clone());
        own.id = self.ids.fresh("sgr");
        let mut out = SgRule::all_to(anywhere());
        out.id = self.ids.fresh("sgr");
        self.security_groups.insert(
            id.clone(),
            SecurityGroup {
                id: id.clone(),
                vpc: vpc.clone(),
                name: "default".into(),
                description: "default VPC security group".into(),
                ingress: vec![own],
                egress: vec![out],
                tags: Tags::new(),
            },
        );
        id
    }

    /// When `vpc` gains IPv6, its default group lets all IPv6 out, as AWS's does
    /// (nothing is added when the group has that rule already).
    pub(crate) fn add_default_group_ipv6_egress(&mut self, vpc: &VpcId) {
        let Some(id) = self.vpcs.get(vpc).and_then(|v| v.default_security_group.clone()) else {
            return;
        };
        let mut out6 = SgRule::all_with(Peer::Cidr6(anywhere6()));
        if self.security_groups.get(&id).is_none_or(|g| g.egress.contains(&out6)) {
            return;
        }
        out6.id = self.ids.fresh("sgr");
        if let Some(group) = self.security_groups.get_mut(&id) {
            group.egress.push(out6);
        }
    }

    /// All security groups.
    pub fn security_groups(&self) -> impl Iterator<Item = &SecurityGroup> {
        self.security_groups.values()
    }

    /// A group by id.
    pub fn security_group(&self, id: &SecurityGroupId) -> Result<&SecurityGroup, ApiError> {
        self.security_groups.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidGroup.NotFound",
                format!("The security group '{id}' does not exist"),
            )
        })
    }

    /// CreateSecurityGroup: no inbound rules, all outbound.
    pub fn create_security_group(
        &mut self,
        vpc: &VpcId,
        name: &str,
        description: &str,
        tags: Tags,
    ) -> Result<SecurityGroupId, ApiError> {
        self.vpc(vpc)?;
        if name.eq_ignore_ascii_case("default") {
            return Err(ApiError::new(
                "InvalidGroup.Reserved",
                "The security group 'default' is reserved",
            ));
        }
        if name.is_empty() || name.len() > 255 || name.starts_with("sg-") {
            return Err(ApiError::invalid_value(format!("Invalid security group name '{name}'")));
        }
        if self.security_groups.values().any(|g| &g.vpc == vpc && g.name == name) {
            return Err(ApiError::new(
                "InvalidGroup.Duplicate",
                format!("The security group '{name}' already exists for VPC '{vpc}'"),
            ));
        }
        let id = fresh(&mut self.ids);
        let mut out = SgRule::all_to(anywhere());
        out.id = self.ids.fresh("sgr");
        let mut egress = vec![out];
        // All IPv6 out as well when the VPC has IPv6 (VPC-UG `security-group-rules.md`).
        if self.vpc(vpc)?.has_ipv6() {
            let mut out6 = SgRule::all_with(Peer::Cidr6(anywhere6()));
            out6.id = self.ids.fresh("sgr");
            egress.push(out6);
        }
        self.security_groups.insert(
            id.clone(),
            SecurityGroup {
                id: id.clone(),
                vpc: vpc.clone(),
                name: name.to_owned(),
                description: description.to_owned(),
                ingress: Vec::new(),
                egress,
                tags,
            },
        );
        Ok(id)
    }

    /// DeleteSecurityGroup: not the default group, not while used or referenced.
    pub fn delete_security_group(&mut self, id: &SecurityGroupId) -> Result<(), ApiError> {
        let group = self.security_group(id)?;
        if group.name == "default" {
            return Err(ApiError::new(
                "CannotDelete",
                format!(
                    "the specified group: \"{id}\" name: \"default\" cannot be deleted by a user"
                ),
            ));
        }
        let used = self.instances.values().any(|i| i.security_groups.contains(id))
            || self.network_interfaces.values().any(|n| n.security_groups.contains(id))
            || self
                .endpoints
                .values()
                .filter_map(|e| e.interface.as_ref())
                .any(|i| i.security_groups.contains(id));
        let referenced = self.security_groups.values().any(|g| {
            &g.id != id
                && g.ingress.iter().chain(&g.egress).any(|r| r.peer == Peer::Group(id.clone()))
        });
        if used || referenced {
            return Err(ApiError::new(
                "DependencyViolation",
                format!("resource {id} has a dependent object"),
            ));
        }
        self.security_groups.remove(id);
        Ok(())
    }

    /// AuthorizeSecurityGroupIngress/Egress: all rules or none. Returns the rules as the
    /// group now holds them, ids given.
    pub fn authorize(
        &mut self,
        id: &SecurityGroupId,
        egress: bool,
        rules: Vec<SgRule>,
    ) -> Result<Vec<SgRule>, ApiError> {
        let group = self.security_group(id)?;
        let existing = if egress { &group.egress } else { &group.ingress };
        for (i, rule) in rules.iter().enumerate() {
            self.check_rule(group, rule)?;
            if existing.contains(rule) || rules[..i].contains(rule) {
                return Err(ApiError::new(
                    "InvalidPermission.Duplicate",
                    format!("the specified rule \"{rule}\" already exists"),
                ));
            }
        }
        if self.rules_weight(existing) + self.rules_weight(&rules) > self.quotas.rules_per_group {
            return Err(ApiError::new(
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.",
            ));
        }
        let mut added = Vec::with_capacity(rules.len());
        for mut rule in rules {
            rule.id = self.ids.fresh("sgr");
            added.push(rule);
        }
        if let Some(group) = self.security_groups.get_mut(id) {
            let list = if egress { &mut group.egress } else { &mut group.ingress };
            list.extend(added.iter().cloned());
        }
        Ok(added)
    }

    /// What `rules` weigh against the rules-per-group quota: one each, and a rule naming
    /// one of the account's prefix lists the list's maximum entries, as on AWS.
    pub(crate) fn rules_weight(&self, rules: &[SgRule]) -> usize {
        rules
            .iter()
            .map(|r| match &r.peer {
                Peer::PrefixList(list) => self.prefix_list_weight(list.as_str()),
                _ => 1,
            })
            .sum()
    }

    /// What a rule must be to go in `group`: valid, and a peer group of the same VPC or
    /// of a VPC peered with it.
    fn check_rule(&self, group: &SecurityGroup, rule: &SgRule) -> Result<(), ApiError> {
        rule.validate()?;
        if let Peer::PrefixList(list) = &rule.peer {
            self.prefix_list_cidrs(list.as_str())?;
        }
        if let Peer::Group(peer) = &rule.peer {
            let peer_vpc = &self.security_group(peer)?.vpc;
            if peer_vpc != &group.vpc && !self.peered(peer_vpc, &group.vpc) {
                return Err(ApiError::new(
                    "InvalidGroup.NotFound",
                    "You have specified two resources that belong to different networks.",
                ));
            }
        }
        Ok(())
    }

    /// The rule `rule_id` of any group: the group, whether it is outbound, and the rule.
    pub fn security_group_rule(
        &self,
        rule_id: &str,
    ) -> Result<(&SecurityGroup, bool, &SgRule), ApiError> {
        self.security_groups
            .values()
            .find_map(|g| {
                let inbound = g.ingress.iter().map(|r| (false, r));
                inbound
                    .chain(g.egress.iter().map(|r| (true, r)))
                    .find(|(egress, r)| r.id_in(&g.id, *egress) == rule_id)
                    .map(|(egress, r)| (g, egress, r))
            })
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidSecurityGroupRuleId.NotFound",
                    format!("The security group rule ID '{rule_id}' does not exist"),
                )
            })
    }

    /// ModifySecurityGroupRules: each rule of `group` named by id becomes the rule given
    /// (same id, same tags); all or none.
    pub fn modify_security_group_rules(
        &mut self,
        group_id: &SecurityGroupId,
        changes: Vec<(String, SgRule)>,
    ) -> Result<(), ApiError> {
        let group = self.security_group(group_id)?.clone();
        let mut updated = group.clone();
        for (rule_id, rule) in changes {
            let (owner, egress, old) = self.security_group_rule(&rule_id)?;
            if owner.id != group.id {
                return Err(ApiError::new(
                    "InvalidSecurityGroupRuleId.NotFound",
                    format!(
                        "The security group rule ID '{rule_id}' does not exist in group \
                         '{group_id}'"
                    ),
                ));
            }
            self.check_rule(&group, &rule)?;
            let list = if egress { &mut updated.egress } else { &mut updated.ingress };
            if list.iter().any(|r| r.id_in(&group.id, egress) != rule_id && *r == rule) {
                return Err(ApiError::new(
                    "InvalidPermission.Duplicate",
                    format!("the specified rule \"{rule}\" already exists"),
                ));
            }
            let tags = old.tags.clone();
            if let Some(slot) = list.iter_mut().find(|r| r.id_in(&group.id, egress) == rule_id) {
                *slot = SgRule { id: rule_id.clone(), tags, ..rule };
            }
        }
        self.security_groups.insert(group_id.clone(), updated);
        Ok(())
    }

    /// The tags of the rule `rule_id`, to change (CreateTags, DeleteTags).
    pub(crate) fn security_group_rule_tags_mut(&mut self, rule_id: &str) -> Option<&mut Tags> {
        self.security_groups.values_mut().find_map(|g| {
            let gid = g.id.clone();
            g.ingress
                .iter_mut()
                .map(|r| (false, r))
                .chain(g.egress.iter_mut().map(|r| (true, r)))
                .find(|(egress, r)| r.id_in(&gid, *egress) == rule_id)
                .map(|(_, r)| {
                    if r.id.is_empty() {
                        r.id = rule_id.to_owned();
                    }
                    &mut r.tags
                })
        })
    }

    /// RevokeSecurityGroupIngress/Egress: all rules or none.
    pub fn revoke(
        &mut self,
        id: &SecurityGroupId,
        egress: bool,
        rules: &[SgRule],
    ) -> Result<(), ApiError> {
        let group = self.security_group(id)?;
        let existing = if egress { &group.egress } else { &group.ingress };
        if rules.iter().any(|r| !existing.contains(r)) {
            return Err(ApiError::new(
                "InvalidPermission.NotFound",
                "The specified rule does not exist in this security group.",
            ));
        }
        if let Some(group) = self.security_groups.get_mut(id) {
            let list = if egress { &mut group.egress } else { &mut group.ingress };
            list.retain(|r| !rules.contains(r));
        }
        Ok(())
    }

    /// RevokeSecurityGroupIngress/Egress by `SecurityGroupRuleId`: all or none.
    pub fn revoke_by_ids(
        &mut self,
        id: &SecurityGroupId,
        egress: bool,
        rule_ids: &[String],
    ) -> Result<(), ApiError> {
        let group = self.security_group(id)?;
        let existing = if egress { &group.egress } else { &group.ingress };
        if let Some(missing) =
            rule_ids.iter().find(|rid| !existing.iter().any(|r| &r.id_in(id, egress) == *rid))
        {
            return Err(ApiError::new(
                "InvalidSecurityGroupRuleId.NotFound",
                format!("The security group rule ID '{missing}' does not exist"),
            ));
        }
        if let Some(group) = self.security_groups.get_mut(id) {
            let list = if egress { &mut group.egress } else { &mut group.ingress };
            list.retain(|r| !rule_ids.contains(&r.id_in(id, egress)));
        }
        Ok(())
    }

    /// The groups an instance in `vpc` launches with: `asked`, checked, or the VPC's
    /// default group.
    pub(crate) fn groups_for_launch(
        &self,
        vpc: &VpcId,
        asked: &[SecurityGroupId],
    ) -> Result<Vec<SecurityGroupId>, ApiError> {
        if asked.is_empty() {
            return Ok(self.vpc(vpc)?.default_security_group.clone().into_iter().collect());
        }
        let most = self.quotas.groups_per_interface;
        if asked.len() > most {
            return Err(ApiError::new(
                "SecurityGroupsPerInterfaceLimitExceeded",
                format!(
                    "The maximum number of security groups per interface ({most}) has been reached."
                ),
            ));
        }
        for id in asked {
            if &self.security_group(id)?.vpc != vpc {
                return Err(ApiError::invalid_value(format!(
                    "Security group {id} and subnet belong to different networks."
                )));
            }
        }
        Ok(asked.to_vec())
    }

    /// ModifyInstanceAttribute `--groups`: replaces the interface's groups.
    pub fn set_instance_security_groups(
        &mut self,
        instance: &InstanceId,
        groups: &[SecurityGroupId],
    ) -> Result<(), ApiError> {
        if groups.is_empty() {
            return Err(ApiError::new(
                "MissingParameter",
                "The request must contain the parameter groupId",
            ));
        }
        let vpc = self.instance(instance)?.vpc.clone();
        let groups = self.groups_for_launch(&vpc, groups)?;
        if let Some(i) = self.instances.get_mut(instance) {
            i.security_groups = groups;
        }
        Ok(())
    }
}
