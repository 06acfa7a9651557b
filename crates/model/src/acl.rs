//! Network ACLs: stateless, numbered, allow-or-deny rules on a subnet's edge.
//!
//! AWS semantics: every VPC has a default ACL allowing everything both ways (rule 100,
//! then the implicit `*` deny); every subnet is associated with exactly one ACL — the
//! default until ReplaceNetworkAclAssociation moves it; a custom ACL starts with no
//! rules, so it denies everything. Rules are evaluated lowest number first, first match
//! wins, per direction. Numbers run 1 to 32766.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::{NetworkAclAssociationId, NetworkAclId};
use crate::{Model, Protocol, SubnetId, Tags, VpcId};

/// How many entries an ACL holds per direction, besides the final deny (AWS's default
/// quota).
pub const MAX_ACL_ENTRIES: usize = 20;

/// The last rule number a user may use; `*` is 32767.
pub const MAX_RULE_NUMBER: u16 = 32766;

/// One numbered rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    /// 1 to 32766; lower first.
    pub rule_number: u16,
    /// Outbound (`true`) or inbound.
    pub egress: bool,
    /// Protocol.
    pub protocol: Protocol,
    /// Allow or deny.
    pub allow: bool,
    /// The range it applies to: sources inbound, destinations outbound; IPv4
    /// (`CidrBlock`) or IPv6 (`Ipv6CidrBlock`), each rule of one family.
    pub cidr: IpNet,
    /// Destination port range (TCP/UDP); `None` is all ports.
    pub ports: Option<(u16, u16)>,
    /// ICMP type and code (-1 any); `None` is all.
    pub icmp: Option<(i16, i16)>,
}

impl AclEntry {
    /// An entry, checked, for the API and topology files alike: rule number 1 to 32766,
    /// ports 0 to 65535 in order (TCP and UDP need them), ICMP type and code -1 to 255
    /// (-1: any; ICMP without them matches all; ICMPv6 with an IPv6 CIDR needs them, as
    /// AWS requires). The CIDR is kept as its network.
    pub fn new(
        rule_number: i64,
        egress: bool,
        protocol: Protocol,
        allow: bool,
        cidr: impl Into<IpNet>,
        ports: Option<(i64, i64)>,
        icmp: Option<(i64, i64)>,
    ) -> Result<Self, ApiError> {
        let rule_number = u16::try_from(rule_number)
            .ok()
            .filter(|n| (1..=MAX_RULE_NUMBER).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_value(format!(
                    "Value ({rule_number}) for parameter ruleNumber is invalid. Must be between \
                     1 and 32766."
                ))
            })?;
        let ports = match (protocol, ports) {
            (Protocol::Tcp | Protocol::Udp, None) => {
                return Err(ApiError::new(
                    "MissingParameter",
                    "The request must contain the parameter portRange",
                ));
            }
            (_, Some((from, to))) => {
                let port = |p: i64| u16::try_from(p).ok();
                match (port(from), port(to)) {
                    (Some(from), Some(to)) if from <= to => Some((from, to)),
                    _ => {
                        return Err(ApiError::invalid_value(format!(
                            "Invalid port range: from {from} to {to}"
                        )));
                    }
                }
            }
            (_, None) => None,
        };
        let cidr: IpNet = cidr.into();
        let icmp = match (protocol, icmp) {
            (Protocol::Icmpv6, None) if matches!(cidr, IpNet::V6(_)) => {
                return Err(ApiError::new(
                    "MissingParameter",
                    "The request must contain the parameter icmpTypeCode.type",
                ));
            }
            (Protocol::Icmp | Protocol::Icmpv6, icmp) => {
                let (kind, code) = icmp.unwrap_or((-1, -1));
                let part = |v: i64| i16::try_from(v).ok().filter(|v| (-1..=255).contains(v));
                match (part(kind), part(code)) {
                    (Some(kind), Some(code)) => Some((kind, code)),
                    _ => {
                        return Err(ApiError::invalid_value(format!(
                            "Invalid ICMP type or code: {kind} / {code}"
                        )));
                    }
                }
            }
            _ => None,
        };
        Ok(Self { rule_number, egress, protocol, allow, cidr: cidr.trunc(), ports, icmp })
    }

    /// Everything, allowed or denied, to or from `cidr`.
    pub(crate) fn all(rule_number: u16, egress: bool, allow: bool, cidr: IpNet) -> Self {
        Self { rule_number, egress, protocol: Protocol::All, allow, cidr, ports: None, icmp: None }
    }

    /// Whether it is an IPv6 rule.
    pub fn is_ipv6(&self) -> bool {
        matches!(self.cidr, IpNet::V6(_))
    }

    /// The IPv4 range it applies to, if it is an IPv4 rule.
    pub fn cidr4(&self) -> Option<Ipv4Net> {
        match self.cidr {
            IpNet::V4(c) => Some(c),
            IpNet::V6(_) => None,
        }
    }

    /// The IPv6 range it applies to, if it is an IPv6 rule.
    pub fn cidr6(&self) -> Option<Ipv6Net> {
        match self.cidr {
            IpNet::V4(_) => None,
            IpNet::V6(c) => Some(c),
        }
    }
}

/// The rule number of the default ACL's IPv6 allow-all rules (rule 100 is IPv4's).
pub const DEFAULT_IPV6_RULE: u16 = 101;

/// The number AWS lists the implicit IPv6 deny under (the IPv4 one is 32767, `*`).
pub const IPV6_DENY_RULE: u16 = 32768;

/// A network ACL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAcl {
    /// `acl-…`
    pub id: NetworkAclId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Whether it is the VPC's default ACL.
    pub is_default: bool,
    /// Rules, both directions.
    pub entries: Vec<AclEntry>,
    /// Whether its rules were ever changed: a default ACL whose rules were not gains
    /// the IPv6 allow-all rules when its VPC gains IPv6 (VPC-UG `vpc-network-acls.md`).
    #[serde(default)]
    pub modified: bool,
    /// The subnets using it.
    pub associations: Vec<(NetworkAclAssociationId, SubnetId)>,
    /// Tags.
    pub tags: Tags,
}

impl NetworkAcl {
    /// The rules of one direction, lowest number first.
    pub fn rules(&self, egress: bool) -> Vec<&AclEntry> {
        let mut rules: Vec<&AclEntry> =
            self.entries.iter().filter(|e| e.egress == egress).collect();
        rules.sort_by_key(|e| e.rule_number);
        rules
    }
}

impl Model {
    pub(crate) fn fresh_acl_assoc(&mut self) -> NetworkAclAssociationId {
        NetworkAclAssociationId::from_raw(self.ids.fresh(NetworkAclAssociationId::PREFIX))
    }

    /// The default ACL a new VPC gets: rule 100 allows everything both ways.
    pub(crate) fn new_default_acl(&mut self, vpc: &VpcId) -> NetworkAclId {
        let id = NetworkAclId::from_raw(self.ids.fresh(NetworkAclId::PREFIX));
        let anywhere = IpNet::V4(Ipv4Net::default());
        let all = |egress| AclEntry::all(100, egress, true, anywhere);
        self.network_acls.insert(
            id.clone(),
            NetworkAcl {
                id: id.clone(),
                vpc: vpc.clone(),
                is_default: true,
                entries: vec![all(false), all(true)],
                modified: false,
                associations: Vec::new(),
                tags: Tags::new(),
            },
        );
        id
    }

    /// When `vpc` gains IPv6: its default ACL, if its rules were never changed, gains
    /// rule 101 allowing all IPv6 both ways, as AWS's does.
    pub(crate) fn add_default_acl_ipv6_rules(&mut self, vpc: &VpcId) {
        let anywhere = IpNet::V6(Ipv6Net::default());
        let all = |egress| AclEntry::all(DEFAULT_IPV6_RULE, egress, true, anywhere);
        let default = self.network_acls.values_mut().find(|a| &a.vpc == vpc && a.is_default);
        if let Some(acl) = default.filter(|a| !a.modified) {
            if !acl.entries.iter().any(|e| e.rule_number == DEFAULT_IPV6_RULE) {
                acl.entries.extend([all(false), all(true)]);
            }
        }
    }

    /// All network ACLs.
    pub fn network_acls(&self) -> impl Iterator<Item = &NetworkAcl> {
        self.network_acls.values()
    }

    /// An ACL by id.
    pub fn network_acl(&self, id: &NetworkAclId) -> Result<&NetworkAcl, ApiError> {
        self.network_acls.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidNetworkAclID.NotFound",
                format!("The networkAcl ID '{id}' does not exist"),
            )
        })
    }

    /// The ACL a subnet uses.
    pub fn network_acl_of(&self, subnet: &SubnetId) -> Option<&NetworkAcl> {
        self.network_acls.values().find(|a| a.associations.iter().any(|(_, s)| s == subnet))
    }

    /// Every associated subnet's network ACL, as [`Model::network_acl_of`] finds it, in
    /// one pass (for compiling the whole model).
    pub fn network_acls_by_subnet(&self) -> std::collections::BTreeMap<&SubnetId, &NetworkAcl> {
        let mut acls = std::collections::BTreeMap::new();
        for acl in self.network_acls.values() {
            for (_, subnet) in &acl.associations {
                acls.entry(subnet).or_insert(acl);
            }
        }
        acls
    }

    /// CreateNetworkAcl: no rules, so it denies everything.
    pub fn create_network_acl(
        &mut self,
        vpc: &VpcId,
        tags: Tags,
    ) -> Result<NetworkAclId, ApiError> {
        self.vpc(vpc)?;
        let id = NetworkAclId::from_raw(self.ids.fresh(NetworkAclId::PREFIX));
        self.network_acls.insert(
            id.clone(),
            NetworkAcl {
                id: id.clone(),
                vpc: vpc.clone(),
                is_default: false,
                entries: Vec::new(),
                modified: false,
                associations: Vec::new(),
                tags,
            },
        );
        Ok(id)
    }

    /// DeleteNetworkAcl: not the default, not while subnets use it.
    pub fn delete_network_acl(&mut self, id: &NetworkAclId) -> Result<(), ApiError> {
        let acl = self.network_acl(id)?;
        if acl.is_default {
            return Err(ApiError::invalid_value(format!("cannot delete default network ACL {id}")));
        }
        if !acl.associations.is_empty() {
            return Err(ApiError::dependency("networkAcl", id.as_str()));
        }
        self.network_acls.remove(id);
        Ok(())
    }

    fn check_entry(entry: &AclEntry) -> Result<(), ApiError> {
        if !(1..=MAX_RULE_NUMBER).contains(&entry.rule_number) {
            return Err(ApiError::invalid_value(format!(
                "Value ({}) for parameter ruleNumber is invalid. Must be between 1 and 32766.",
                entry.rule_number
            )));
        }
        if let Some((from, to)) = entry.ports {
            if from > to {
                return Err(ApiError::invalid_value(format!(
                    "Invalid port range: from {from} to {to}"
                )));
            }
        }
        Ok(())
    }

    /// CreateNetworkAclEntry.
    pub fn create_network_acl_entry(
        &mut self,
        id: &NetworkAclId,
        entry: AclEntry,
    ) -> Result<(), ApiError> {
        Self::check_entry(&entry)?;
        let acl = self.network_acl(id)?;
        if acl
            .entries
            .iter()
            .any(|e| e.egress == entry.egress && e.rule_number == entry.rule_number)
        {
            return Err(ApiError::new(
                "NetworkAclEntryAlreadyExists",
                format!(
                    "The network acl entry identified by {} already exists.",
                    entry.rule_number
                ),
            ));
        }
        // The quota counts each direction and each address family apart.
        let held = acl
            .entries
            .iter()
            .filter(|e| e.egress == entry.egress && e.is_ipv6() == entry.is_ipv6())
            .count();
        let most = self.quotas.acl_entries;
        if held >= most {
            return Err(ApiError::new(
                "NetworkAclEntryLimitExceeded",
                format!(
                    "The maximum number of network ACL entries ({most} per direction and \
                     address family) has been reached for {id}."
                ),
            ));
        }
        if let Some(acl) = self.network_acls.get_mut(id) {
            acl.entries.push(entry);
            acl.modified = true;
        }
        Ok(())
    }

    /// ReplaceNetworkAclEntry.
    pub fn replace_network_acl_entry(
        &mut self,
        id: &NetworkAclId,
        entry: AclEntry,
    ) -> Result<(), ApiError> {
        Self::check_entry(&entry)?;
        self.network_acl(id)?;
        let acl = self.network_acls.get_mut(id).expect("checked above");
        match acl
            .entries
            .iter_mut()
            .find(|e| e.egress == entry.egress && e.rule_number == entry.rule_number)
        {
            Some(e) => {
                *e = entry;
                acl.modified = true;
                Ok(())
            }
            None => Err(ApiError::new(
                "InvalidNetworkAclEntry.NotFound",
                format!(
                    "The network acl entry identified by {} does not exist.",
                    entry.rule_number
                ),
            )),
        }
    }

    /// DeleteNetworkAclEntry.
    pub fn delete_network_acl_entry(
        &mut self,
        id: &NetworkAclId,
        rule_number: u16,
        egress: bool,
    ) -> Result<(), ApiError> {
        self.network_acl(id)?;
        let acl = self.network_acls.get_mut(id).expect("checked above");
        let before = acl.entries.len();
        acl.entries.retain(|e| !(e.egress == egress && e.rule_number == rule_number));
        if acl.entries.len() == before {
            return Err(ApiError::new(
                "InvalidNetworkAclEntry.NotFound",
                format!("The network acl entry identified by {rule_number} does not exist."),
            ));
        }
        acl.modified = true;
        Ok(())
    }

    /// ReplaceNetworkAclAssociation: the subnet of `association` moves to `acl`.
    pub fn replace_network_acl_association(
        &mut self,
        association: &NetworkAclAssociationId,
        acl: &NetworkAclId,
    ) -> Result<NetworkAclAssociationId, ApiError> {
        let target_vpc = self.network_acl(acl)?.vpc.clone();
        let subnet = self
            .network_acls
            .values()
            .flat_map(|a| &a.associations)
            .find(|(id, _)| id == association)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{association}' does not exist"),
                )
            })?;
        if self.subnet(&subnet)?.vpc != target_vpc {
            return Err(ApiError::invalid_value(format!(
                "Network ACL {acl} and subnet {subnet} belong to different networks"
            )));
        }
        for a in self.network_acls.values_mut() {
            a.associations.retain(|(id, _)| id != association);
        }
        let new_id = self.fresh_acl_assoc();
        if let Some(a) = self.network_acls.get_mut(acl) {
            a.associations.push((new_id.clone(), subnet));
        }
        Ok(new_id)
    }
}
