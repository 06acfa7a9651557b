//! Customer-managed prefix lists: named sets of CIDRs that routes and security-group
//! rules name instead of the CIDRs themselves.
//!
//! AWS semantics (VPC User Guide, "Managed prefix lists"): a list has one address family,
//! a maximum number of entries fixed at creation (changeable alone), and a version that
//! every change of its entries increments (renaming does not); a change names the
//! version it was made against (`PrefixListVersionMismatch` otherwise). Routes
//! (`DestinationPrefixListId`) and rules (`PrefixListIds`) follow the current version:
//! a change reaches every route table and group at once. A list cannot be deleted while
//! a route or rule refers to it. AWS's own lists (the S3 and DynamoDB ones of
//! [`crate::PREFIX_LISTS`]) are listed beside the account's and cannot be changed.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::PrefixListId;
use crate::{
    Model, PREFIX_LISTS, Peer, Route, RouteOrigin, RouteTableId, RouteTarget, SecurityGroupId, Tags,
};

/// The most entries a list may hold (AWS's limit on MaxEntries).
pub const MAX_PREFIX_LIST_ENTRIES: u32 = 1000;

/// Past versions kept for GetManagedPrefixListEntries `TargetVersion`.
const VERSIONS_KEPT: usize = 100;

/// One entry of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixListEntry {
    /// The block, canonical.
    pub cidr: Ipv4Net,
    /// Its description.
    pub description: Option<String>,
}

/// A customer-managed prefix list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPrefixList {
    /// `pl-…`
    pub id: PrefixListId,
    /// Its name.
    pub name: String,
    /// How many entries it may hold.
    pub max_entries: u32,
    /// The current version (1 at creation).
    pub version: u64,
    /// The current entries.
    pub entries: Vec<PrefixListEntry>,
    /// Earlier versions' entries, oldest first.
    pub history: Vec<(u64, Vec<PrefixListEntry>)>,
    /// Tags.
    pub tags: Tags,
}

/// What ModifyManagedPrefixList asks.
#[derive(Clone, Debug, Default)]
pub struct PrefixListChange {
    /// The version the change was made against.
    pub current_version: Option<u64>,
    /// A new name.
    pub name: Option<String>,
    /// Entries to add (or to describe anew).
    pub add: Vec<PrefixListEntry>,
    /// Blocks to remove.
    pub remove: Vec<Ipv4Net>,
    /// A new maximum.
    pub max_entries: Option<u32>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        "InvalidPrefixListID.NotFound",
        format!("The prefix list ID '{id}' does not exist"),
    )
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 255 || name.to_ascii_lowercase().starts_with("com.amazonaws")
    {
        return Err(ApiError::invalid_value(format!(
            "The prefix list name '{name}' is invalid: 1 to 255 characters, not starting with \
             com.amazonaws."
        )));
    }
    Ok(())
}

fn check_max(max: u32) -> Result<(), ApiError> {
    if !(1..=MAX_PREFIX_LIST_ENTRIES).contains(&max) {
        return Err(ApiError::invalid_value(format!(
            "The maximum number of entries ({max}) is invalid: 1 to {MAX_PREFIX_LIST_ENTRIES}."
        )));
    }
    Ok(())
}

fn check_entries(entries: &[PrefixListEntry], max: u32) -> Result<(), ApiError> {
    for (i, e) in entries.iter().enumerate() {
        if entries[..i].iter().any(|o| o.cidr == e.cidr) {
            return Err(ApiError::invalid_value(format!(
                "The CIDR {} is given more than once.",
                e.cidr
            )));
        }
    }
    if entries.len() > max as usize {
        return Err(ApiError::new(
            "PrefixListMaxEntriesExceeded",
            format!("The prefix list would hold {} entries; its maximum is {max}.", entries.len()),
        ));
    }
    Ok(())
}

impl Model {
    /// The account's prefix lists.
    pub fn managed_prefix_lists(&self) -> impl Iterator<Item = &ManagedPrefixList> {
        self.prefix_lists.values()
    }

    /// One of the account's prefix lists.
    pub fn managed_prefix_list(&self, id: &PrefixListId) -> Result<&ManagedPrefixList, ApiError> {
        self.prefix_lists.get(id).ok_or_else(|| not_found(id.as_str()))
    }

    /// The blocks a prefix list stands for now, the account's or AWS's.
    pub fn prefix_list_cidrs(&self, id: &str) -> Result<Vec<Ipv4Net>, ApiError> {
        if let Some(list) = self.prefix_lists.values().find(|l| l.id.as_str() == id) {
            return Ok(list.entries.iter().map(|e| e.cidr).collect());
        }
        PREFIX_LISTS
            .iter()
            .find(|(pl, _, _)| *pl == id)
            .map(|(_, _, cidr)| vec![cidr.parse().expect("a CIDR")])
            .ok_or_else(|| not_found(id))
    }

    /// What a reference to a list weighs against the route and rule quotas: the
    /// account's lists their maximum entries, AWS's one.
    pub(crate) fn prefix_list_weight(&self, id: &str) -> usize {
        self.prefix_lists
            .values()
            .find(|l| l.id.as_str() == id)
            .map_or(1, |l| l.max_entries as usize)
    }

    /// Checks that a route table of `vpc` can lead to `entries`: none equal to or inside
    /// one of the VPC's CIDRs (those are `local`).
    fn check_prefix_list_blocks(
        &self,
        vpc: &crate::VpcId,
        entries: &[PrefixListEntry],
    ) -> Result<(), ApiError> {
        let v = self.vpc(vpc)?;
        if let Some(e) = entries.iter().find(|e| v.cidrs().any(|c| c.contains(&e.cidr))) {
            return Err(ApiError::invalid_value(format!(
                "The prefix list entry {} is equal to or more specific than one of the CIDR \
                 blocks of {vpc}, which route locally.",
                e.cidr
            )));
        }
        Ok(())
    }

    /// The blocks a route leads to: its prefix list's current ones for a route to the
    /// account's list, its destination otherwise.
    pub fn route_destinations(&self, route: &Route) -> Vec<Ipv4Net> {
        match &route.prefix_list {
            Some(id) if self.prefix_lists.values().any(|l| l.id.as_str() == id) => {
                self.prefix_list_cidrs(id).unwrap_or_default()
            }
            _ => vec![route.destination],
        }
    }

    /// CreateManagedPrefixList (IPv4).
    pub fn create_managed_prefix_list(
        &mut self,
        name: &str,
        max_entries: u32,
        entries: Vec<PrefixListEntry>,
        tags: Tags,
    ) -> Result<PrefixListId, ApiError> {
        check_name(name)?;
        check_max(max_entries)?;
        let entries: Vec<PrefixListEntry> =
            entries.into_iter().map(|e| PrefixListEntry { cidr: e.cidr.trunc(), ..e }).collect();
        check_entries(&entries, max_entries)?;
        let id = PrefixListId::from_raw(self.ids.fresh(PrefixListId::PREFIX));
        self.prefix_lists.insert(
            id.clone(),
            ManagedPrefixList {
                id: id.clone(),
                name: name.to_owned(),
                max_entries,
                version: 1,
                entries,
                history: Vec::new(),
                tags,
            },
        );
        Ok(id)
    }

    /// ModifyManagedPrefixList: entries (a new version), name or maximum; all or none.
    pub fn modify_managed_prefix_list(
        &mut self,
        id: &PrefixListId,
        change: PrefixListChange,
    ) -> Result<(), ApiError> {
        let mut list = self.managed_prefix_list(id)?.clone();
        let touches_entries = !change.add.is_empty() || !change.remove.is_empty();
        if touches_entries && change.max_entries.is_some() {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "You cannot modify the entries and the maximum entries for the prefix list in \
                 the same request.",
            ));
        }
        if let Some(version) = change.current_version {
            if version < 1 {
                return Err(ApiError::invalid_value(
                    "The specified value for version is not valid. The value must be greater \
                     than (1).",
                ));
            }
            if version != list.version {
                return Err(ApiError::new(
                    "PrefixListVersionMismatch",
                    "The prefix list has the incorrect version number.",
                ));
            }
        } else if touches_entries {
            return Err(ApiError::new(
                "MissingParameter",
                "The request must contain the parameter CurrentVersion",
            ));
        }
        if let Some(name) = &change.name {
            check_name(name)?;
            list.name = name.clone();
        }
        if let Some(max) = change.max_entries {
            check_max(max)?;
            if (max as usize) < list.entries.len() {
                return Err(ApiError::new(
                    "PrefixListMaxEntriesExceeded",
                    format!(
                        "The prefix list holds {} entries, more than {max}.",
                        list.entries.len()
                    ),
                ));
            }
            list.max_entries = max;
        }
        if touches_entries {
            let mut entries = list.entries.clone();
            for cidr in &change.remove {
                let cidr = cidr.trunc();
                let before = entries.len();
                entries.retain(|e| e.cidr != cidr);
                if entries.len() == before {
                    return Err(ApiError::invalid_value(format!(
                        "The CIDR {cidr} is not an entry of the prefix list {id}."
                    )));
                }
            }
            for add in change.add {
                let add = PrefixListEntry { cidr: add.cidr.trunc(), ..add };
                match entries.iter_mut().find(|e| e.cidr == add.cidr) {
                    // Given again: its description changes.
                    Some(e) => e.description = add.description,
                    None => entries.push(add),
                }
            }
            check_entries(&entries, list.max_entries)?;
            list.history.push((list.version, std::mem::replace(&mut list.entries, entries)));
            if list.history.len() > VERSIONS_KEPT {
                list.history.remove(0);
            }
            list.version += 1;
        }
        // What refers to the list must take it as it becomes: its blocks, its weight.
        let (tables, groups) = self.prefix_list_associations(id);
        let before = self.managed_prefix_list(id)?.max_entries as usize;
        let growth = (list.max_entries as usize).saturating_sub(before);
        for table in &tables {
            let t = self.route_table(table)?;
            self.check_prefix_list_blocks(&t.vpc, &list.entries)?;
            self.check_route_weight(t, growth)?;
        }
        for group in &groups {
            let g = self.security_group(group)?;
            for rules in [&g.ingress, &g.egress] {
                let held = self.rules_weight(rules);
                let uses = rules.iter().filter(|r| r.peer == Peer::PrefixList(id.clone())).count();
                if held + growth * uses > self.quotas.rules_per_group {
                    return Err(ApiError::new(
                        "RulesPerSecurityGroupLimitExceeded",
                        format!(
                            "{group} could not take {id} with {} entries: the maximum number \
                             of rules per security group would be passed.",
                            list.max_entries
                        ),
                    ));
                }
            }
        }
        self.prefix_lists.insert(id.clone(), list);
        Ok(())
    }

    /// The entries of a list at `version` (the current one without).
    pub fn prefix_list_entries(
        &self,
        id: &PrefixListId,
        version: Option<u64>,
    ) -> Result<Vec<PrefixListEntry>, ApiError> {
        let list = self.managed_prefix_list(id)?;
        match version {
            None => Ok(list.entries.clone()),
            Some(v) if v == list.version => Ok(list.entries.clone()),
            Some(v) => {
                list.history.iter().find(|(n, _)| *n == v).map(|(_, e)| e.clone()).ok_or_else(
                    || ApiError::invalid_value(format!("The version {v} of {id} does not exist.")),
                )
            }
        }
    }

    /// What refers to a list: route tables and security groups.
    pub fn prefix_list_associations(
        &self,
        id: &PrefixListId,
    ) -> (Vec<RouteTableId>, Vec<SecurityGroupId>) {
        let tables = self
            .route_tables
            .values()
            .filter(|t| t.routes.iter().any(|r| r.prefix_list.as_deref() == Some(id.as_str())))
            .map(|t| t.id.clone())
            .collect();
        let groups = self
            .security_groups
            .values()
            .filter(|g| {
                g.ingress.iter().chain(&g.egress).any(|r| r.peer == Peer::PrefixList(id.clone()))
            })
            .map(|g| g.id.clone())
            .collect();
        (tables, groups)
    }

    /// DeleteManagedPrefixList: not while a route or rule refers to it.
    pub fn delete_managed_prefix_list(&mut self, id: &PrefixListId) -> Result<(), ApiError> {
        self.managed_prefix_list(id)?;
        let (tables, groups) = self.prefix_list_associations(id);
        if let Some(user) = tables
            .first()
            .map(ToString::to_string)
            .or_else(|| groups.first().map(ToString::to_string))
        {
            return Err(ApiError::new(
                "DependencyViolation",
                format!("The prefix list {id} is in use by {user} and cannot be deleted."),
            ));
        }
        self.prefix_lists.remove(id);
        Ok(())
    }

    /// The tags of a list, to change.
    pub(crate) fn prefix_list_tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        self.prefix_lists.values_mut().find(|l| l.id.as_str() == id).map(|l| &mut l.tags)
    }

    /// CreateRoute with `DestinationPrefixListId`: one route to every block of the list,
    /// now and after it changes.
    pub fn create_prefix_list_route(
        &mut self,
        table: &RouteTableId,
        list: &PrefixListId,
        target: RouteTarget,
    ) -> Result<(), ApiError> {
        let entries = self.managed_prefix_list(list)?.entries.clone();
        let max = self.managed_prefix_list(list)?.max_entries as usize;
        self.check_target(table, &target)?;
        let t = self.route_table(table)?;
        self.check_prefix_list_blocks(&t.vpc, &entries)?;
        if t.routes.iter().any(|r| r.prefix_list.as_deref() == Some(list.as_str())) {
            return Err(ApiError::new(
                "RouteAlreadyExists",
                format!("The route identified by {list} already exists."),
            ));
        }
        self.check_route_weight(t, max)?;
        if let Some(t) = self.route_tables.get_mut(table) {
            t.routes.push(Route {
                destination: Ipv4Net::default(),
                target,
                origin: RouteOrigin::CreateRoute,
                prefix_list: Some(list.to_string()),
            });
        }
        Ok(())
    }

    /// ReplaceRoute / DeleteRoute with `DestinationPrefixListId`: the route to `list`
    /// gets `target`, or goes when `None`.
    pub fn change_prefix_list_route(
        &mut self,
        table: &RouteTableId,
        list: &PrefixListId,
        target: Option<RouteTarget>,
    ) -> Result<(), ApiError> {
        if let Some(target) = &target {
            self.check_target(table, target)?;
        }
        let t = self.route_table(table)?;
        let Some(at) = t.routes.iter().position(|r| {
            r.prefix_list.as_deref() == Some(list.as_str())
                && !matches!(r.target, RouteTarget::Endpoint(_))
        }) else {
            return Err(ApiError::new(
                "InvalidRoute.NotFound",
                format!("no route with destination-prefix-list-id {list} in route table {table}"),
            ));
        };
        if let Some(t) = self.route_tables.get_mut(table) {
            match target {
                Some(target) => t.routes[at].target = target,
                None => {
                    t.routes.remove(at);
                }
            }
        }
        Ok(())
    }
}
