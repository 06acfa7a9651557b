//! Network ACLs: stateless, numbered, allow-or-deny rules on a subnet's edge.
//!
//! AWS semantics: every VPC has a default ACL allowing everything both ways (rule 100,
//! then the implicit `*` deny); every subnet is associated with exactly one ACL — the
//! default until ReplaceNetworkAclAssociation moves it; a custom ACL starts with no
//! rules, so it denies everything. Rules are evaluated lowest number first, first match
//! wins, per direction. Numbers run 1 to 32766.

use ipnet::Ipv4Net;
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
    /// The range it applies to: sources inbound, destinations outbound.
    pub cidr: Ipv4Net,
    /// Destination port range (TCP/UDP); `None` is all ports.
    pub ports: Option<(u16, u16)>,
    /// ICMP type and code (-1 any); `None` is all.
    pub icmp: Option<(i16, i16)>,
}

impl AclEntry {
    /// An entry, checked, for the API and topology files alike: rule number 1 to 32766,
    /// ports 0 to 65535 in order (TCP and UDP need them), ICMP type and code -1 to 255
    /// (-1: any; ICMP without them matches all). The CIDR is kept as its network.
    pub fn new(
        rule_number: i64,
        egress: bool,
        protocol: Protocol,
        allow: bool,
        cidr: Ipv4Net,
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
        let icmp = match (protocol, icmp) {
            (Protocol::Icmp, icmp) => {
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
}

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
        let all = |egress| AclEntry {
            rule_number: 100,
            egress,
            protocol: Protocol::All,
            allow: true,
            cidr: "0.0.0.0/0".parse().expect("a CIDR"),
            ports: None,
            icmp: None,
        };
        self.network_acls.insert(
            id.clone(),
            NetworkAcl {
                id: id.clone(),
                vpc: vpc.clone(),
                is_default: true,
                entries: vec![all(false), all(true)],
                associations: Vec::new(),
                tags: Tags::new(),
            },
        );
        id
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
        let held = acl.entries.iter().filter(|e| e.egress == entry.egress).count();
        let most = self.quotas.acl_entries;
        if held >= most {
            return Err(ApiError::new(
                "NetworkAclEntryLimitExceeded",
                format!(
                    "The maximum number of network ACL entries ({most} per direction) has been \
                     reached for {id}."
                ),
            ));
        }
        if let Some(acl) = self.network_acls.get_mut(id) {
            acl.entries.push(entry);
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
