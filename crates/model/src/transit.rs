//! Transit Gateway: a regional hub that routes between the VPCs attached to it, by its
//! own route tables.
//!
//! AWS semantics (the project's reference notes, §1 of the gateways reference):
//!
//! * A transit gateway comes with one default route table when default association or
//!   propagation is on; new attachments are associated with it and propagate into it.
//! * A VPC attachment names one subnet per availability zone; each gets a
//!   requester-managed interface holding one address of the subnet. One attachment per
//!   (transit gateway, VPC).
//! * An attachment is associated with at most one route table: the table that routes
//!   the traffic arriving *from* it. It propagates its VPC's CIDRs into any number of
//!   tables.
//! * A table's routes are its static routes (to an attachment, or blackhole) and the
//!   propagated ones; for an identical prefix the static route wins and the propagated one
//!   is not shown; a VPC CIDR that overlaps one already propagated (by an attachment whose
//!   propagation came first) is not propagated.
//!   A static route whose attachment is gone is a blackhole.
//! * Routing is transitive, unlike peering: A → TGW → B → … as the tables say.
//! * Deleted gateways, attachments and tables, and rejected peering attachments, stay
//!   listed for two hours (`deleted`, `rejected`) but are gone for everything else: they
//!   are kept apart from the live ones (see [`Model::deleted_transit_gateways`]).

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::departed::Departed;
use crate::error::ApiError;
use crate::ids::{SubnetId, VpcId};
use crate::{ManagedInterface, Model, Tags};

pub use crate::ids::{TgwAttachmentId, TgwRouteTableId, TransitGatewayId};

/// AWS's default Amazon-side ASN.
pub const DEFAULT_AMAZON_ASN: u32 = 64512;

/// How long a deleted transit gateway, attachment or route table, or a rejected peering
/// attachment, stays listed, in seconds: two hours (the gateways reference, §1.2, after
/// AWS's Transit Gateway guide: deleted, failed and rejected objects stay visible 2 h).
pub const TGW_GONE_LISTED_S: u64 = 2 * 3600;

/// Transit gateway objects gone but still listed, with when they went.
pub(crate) type Gone<K, T> = Departed<K, T, TGW_GONE_LISTED_S>;

/// How many route tables a transit gateway holds (AWS's quota).
pub(crate) const MAX_TGW_ROUTE_TABLES: usize = 20;

/// How many static routes a transit gateway holds, over all its tables (AWS's quota).
pub(crate) const MAX_TGW_STATIC_ROUTES: usize = 10_000;

/// A transit gateway's options (`TransitGatewayOptions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TgwOptions {
    /// `AmazonSideAsn`: 64512–65534 or 4200000000–4294967294.
    pub amazon_side_asn: u32,
    /// `AutoAcceptSharedAttachments` (one account: nothing to accept).
    pub auto_accept_shared_attachments: bool,
    /// `DefaultRouteTableAssociation`: new attachments are associated with
    /// [`TgwOptions::association_default_route_table`].
    pub default_route_table_association: bool,
    /// `DefaultRouteTablePropagation`: new attachments propagate into
    /// [`TgwOptions::propagation_default_route_table`].
    pub default_route_table_propagation: bool,
    /// The table new attachments are associated with.
    pub association_default_route_table: Option<TgwRouteTableId>,
    /// The table new attachments propagate into.
    pub propagation_default_route_table: Option<TgwRouteTableId>,
    /// `DnsSupport` (DNS only).
    pub dns_support: bool,
    /// `VpnEcmpSupport` (VPN attachments only).
    pub vpn_ecmp_support: bool,
    /// `MulticastSupport` (stored; no multicast in a lab).
    pub multicast_support: bool,
    /// `SecurityGroupReferencingSupport`.
    pub security_group_referencing_support: bool,
    /// `TransitGatewayCidrBlocks` (Connect peers' addresses; stored).
    pub cidr_blocks: Vec<String>,
}

impl Default for TgwOptions {
    fn default() -> Self {
        Self {
            amazon_side_asn: DEFAULT_AMAZON_ASN,
            auto_accept_shared_attachments: false,
            default_route_table_association: true,
            default_route_table_propagation: true,
            association_default_route_table: None,
            propagation_default_route_table: None,
            dns_support: true,
            vpn_ecmp_support: true,
            multicast_support: false,
            security_group_referencing_support: false,
            cidr_blocks: Vec::new(),
        }
    }
}

impl TgwOptions {
    /// A default table goes with its option: disabled, the gateway names none (and the
    /// table that was it becomes an ordinary one, deletable).
    fn drop_disabled_defaults(&mut self) {
        if !self.default_route_table_association {
            self.association_default_route_table = None;
        }
        if !self.default_route_table_propagation {
            self.propagation_default_route_table = None;
        }
    }
}

/// Checks an Amazon-side ASN against AWS's two private ranges.
pub fn check_amazon_asn(asn: u64) -> Result<u32, ApiError> {
    if (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn) {
        Ok(asn as u32)
    } else {
        Err(ApiError::invalid_value(format!(
            "The amazon side ASN {asn} is not valid. The ASN must be in the range 64512-65534 \
             or 4200000000-4294967294."
        )))
    }
}

/// A transit gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitGateway {
    /// `tgw-…`
    pub id: TransitGatewayId,
    /// Its description.
    pub description: String,
    /// Its options.
    pub options: TgwOptions,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

/// A VPC attachment's options (`TransitGatewayVpcAttachmentOptions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcAttachmentOptions {
    /// `DnsSupport` (DNS only).
    pub dns_support: bool,
    /// `Ipv6Support` (no IPv6 in a lab yet: stored).
    pub ipv6_support: bool,
    /// `ApplianceModeSupport`: one interface per flow, both directions, whatever the
    /// zone of the sender.
    pub appliance_mode_support: bool,
    /// `SecurityGroupReferencingSupport`.
    pub security_group_referencing_support: bool,
}

impl Default for VpcAttachmentOptions {
    fn default() -> Self {
        Self {
            dns_support: true,
            ipv6_support: false,
            appliance_mode_support: false,
            security_group_referencing_support: true,
        }
    }
}

/// What an attachment attaches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachmentResource {
    /// A VPC, through one subnet per availability zone.
    Vpc {
        /// The VPC.
        vpc: VpcId,
        /// Its subnets, one per zone, in the order given.
        subnets: Vec<ManagedInterface>,
        /// Its options.
        options: VpcAttachmentOptions,
    },
    /// Another transit gateway, through a peering attachment (static routes only). The
    /// attachment's `tgw` is the requester's; each side associates it with a table of its
    /// own.
    Peering {
        /// The accepter's transit gateway.
        peer: TransitGatewayId,
        /// The accepter's account, as the request named it (a label: one account here).
        peer_account: String,
        /// The accepter's Region, as the request named it (a label).
        peer_region: String,
        /// Where it is in its life.
        state: PeeringAttachmentState,
        /// The accepter side's association (the requester's is the attachment's own).
        peer_association: Option<TgwRouteTableId>,
    },
    /// A Site-to-Site VPN connection ending on the transit gateway (CreateVpnConnection
    /// with `TransitGatewayId`): made and deleted with the connection.
    Vpn {
        /// The connection.
        connection: crate::VpnConnectionId,
    },
}

/// A transit gateway peering attachment's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeeringAttachmentState {
    /// Waiting for the accepter.
    PendingAcceptance,
    /// Accepted: it carries traffic.
    Available,
    /// Refused by the accepter.
    Rejected,
}

impl PeeringAttachmentState {
    /// AWS's name (`TransitGatewayAttachmentState`).
    pub fn as_str(self) -> &'static str {
        match self {
            PeeringAttachmentState::PendingAcceptance => "pendingAcceptance",
            PeeringAttachmentState::Available => "available",
            PeeringAttachmentState::Rejected => "rejected",
        }
    }
}

/// A transit gateway attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TgwAttachment {
    /// `tgw-attach-…`
    pub id: TgwAttachmentId,
    /// Its transit gateway.
    pub tgw: TransitGatewayId,
    /// What it attaches.
    pub resource: AttachmentResource,
    /// The route table it is associated with: the one that routes traffic from it.
    pub association: Option<TgwRouteTableId>,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

impl TgwAttachment {
    /// AWS's `resourceType`.
    pub fn resource_type(&self) -> &'static str {
        match self.resource {
            AttachmentResource::Vpc { .. } => "vpc",
            AttachmentResource::Peering { .. } => "peering",
            AttachmentResource::Vpn { .. } => "vpn",
        }
    }

    /// AWS's `resourceId`: the VPC's id for a VPC attachment, the connection's for a VPN
    /// attachment.
    pub fn resource_id(&self) -> String {
        match &self.resource {
            AttachmentResource::Vpc { vpc, .. } => vpc.to_string(),
            AttachmentResource::Peering { peer, .. } => peer.to_string(),
            AttachmentResource::Vpn { connection } => connection.to_string(),
        }
    }

    /// The VPC it attaches, if a VPC attachment.
    pub fn vpc(&self) -> Option<&VpcId> {
        match &self.resource {
            AttachmentResource::Vpc { vpc, .. } => Some(vpc),
            AttachmentResource::Peering { .. } | AttachmentResource::Vpn { .. } => None,
        }
    }

    /// Its subnets (VPC attachments).
    pub fn subnets(&self) -> &[ManagedInterface] {
        match &self.resource {
            AttachmentResource::Vpc { subnets, .. } => subnets,
            AttachmentResource::Peering { .. } | AttachmentResource::Vpn { .. } => &[],
        }
    }

    /// Its VPC options (VPC attachments).
    pub fn vpc_options(&self) -> Option<&VpcAttachmentOptions> {
        match &self.resource {
            AttachmentResource::Vpc { options, .. } => Some(options),
            AttachmentResource::Peering { .. } | AttachmentResource::Vpn { .. } => None,
        }
    }

    /// The VPN connection, for a VPN attachment.
    pub fn vpn_connection(&self) -> Option<&crate::VpnConnectionId> {
        match &self.resource {
            AttachmentResource::Vpn { connection } => Some(connection),
            AttachmentResource::Vpc { .. } | AttachmentResource::Peering { .. } => None,
        }
    }

    /// The other transit gateway, for a peering attachment.
    pub fn peer(&self) -> Option<&TransitGatewayId> {
        match &self.resource {
            AttachmentResource::Peering { peer, .. } => Some(peer),
            AttachmentResource::Vpc { .. } | AttachmentResource::Vpn { .. } => None,
        }
    }

    /// Whether it joins transit gateway `tgw` (its own, or the peer of a peering).
    pub fn joins(&self, tgw: &TransitGatewayId) -> bool {
        &self.tgw == tgw || self.peer() == Some(tgw)
    }

    /// The route table it is associated with on transit gateway `tgw`'s side.
    pub fn association_in(&self, tgw: &TransitGatewayId) -> Option<&TgwRouteTableId> {
        match &self.resource {
            AttachmentResource::Peering { peer, peer_association, .. } if peer == tgw => {
                peer_association.as_ref()
            }
            _ if &self.tgw == tgw => self.association.as_ref(),
            _ => None,
        }
    }

    /// Its associations, on every side it has.
    pub fn associations(&self) -> impl Iterator<Item = &TgwRouteTableId> {
        let peer = match &self.resource {
            AttachmentResource::Peering { peer_association, .. } => peer_association.as_ref(),
            AttachmentResource::Vpc { .. } | AttachmentResource::Vpn { .. } => None,
        };
        self.association.iter().chain(peer)
    }

    /// Whether it carries traffic: a VPC or VPN attachment always (a VPN attachment into
    /// its connection's tunnels), a peering once accepted.
    pub fn carries(&self) -> bool {
        match &self.resource {
            AttachmentResource::Vpc { .. } | AttachmentResource::Vpn { .. } => true,
            AttachmentResource::Peering { state, .. } => {
                *state == PeeringAttachmentState::Available
            }
        }
    }

    /// Whether it is a peering the accepter rejected (rejected, it is gone: listed among
    /// [`Model::deleted_tgw_attachments`]; older state files kept it among the live ones).
    pub fn rejected(&self) -> bool {
        matches!(&self.resource, AttachmentResource::Peering { state, .. }
            if *state == PeeringAttachmentState::Rejected)
    }

    /// AWS's `state` once it is gone, on the way and at the end: a rejected peering
    /// `rejecting`, then `rejected`; a deleted attachment `deleting`, then `deleted`.
    pub fn end_states(&self) -> (&'static str, &'static str) {
        if self.rejected() { ("rejecting", "rejected") } else { ("deleting", "deleted") }
    }

    /// AWS's `state` when it has settled: `available`, or a peering's own.
    pub fn settled_state(&self) -> &'static str {
        match &self.resource {
            AttachmentResource::Vpc { .. } | AttachmentResource::Vpn { .. } => "available",
            AttachmentResource::Peering { state, .. } => state.as_str(),
        }
    }

    fn association_slot(&mut self, tgw: &TransitGatewayId) -> &mut Option<TgwRouteTableId> {
        match &mut self.resource {
            AttachmentResource::Peering { peer, peer_association, .. } if peer == tgw => {
                peer_association
            }
            _ => &mut self.association,
        }
    }
}

/// A static route of a transit gateway route table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TgwStaticRoute {
    /// The destination, canonical.
    pub destination: Ipv4Net,
    /// The attachment it leads to; `None` for a blackhole route.
    pub attachment: Option<TgwAttachmentId>,
}

/// A transit gateway route table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TgwRouteTable {
    /// `tgw-rtb-…`
    pub id: TgwRouteTableId,
    /// Its transit gateway.
    pub tgw: TransitGatewayId,
    /// Static routes, in the order made.
    pub static_routes: Vec<TgwStaticRoute>,
    /// The attachments propagating into it, in the order enabled.
    pub propagations: Vec<TgwAttachmentId>,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

/// How a route of a transit gateway route table came to be (`type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TgwRouteType {
    /// CreateTransitGatewayRoute.
    Static,
    /// Propagated by an attachment.
    Propagated,
}

impl TgwRouteType {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TgwRouteType::Static => "static",
            TgwRouteType::Propagated => "propagated",
        }
    }
}

/// A route of a transit gateway route table as it is in force (what
/// SearchTransitGatewayRoutes shows and the data plane compiles).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TgwRoute {
    /// The destination.
    pub destination: Ipv4Net,
    /// Static or propagated.
    pub kind: TgwRouteType,
    /// The attachment it leads to; `None`: a blackhole.
    pub attachment: Option<TgwAttachmentId>,
}

impl TgwRoute {
    /// AWS's `state`: `active`, or `blackhole` when it leads nowhere.
    pub fn state(&self) -> &'static str {
        if self.attachment.is_some() { "active" } else { "blackhole" }
    }
}

fn tgw_not_found(id: &TransitGatewayId) -> ApiError {
    ApiError::new(
        "InvalidTransitGatewayID.NotFound",
        format!("Transit Gateway {id} was deleted or does not exist."),
    )
}

fn attachment_not_found(id: &TgwAttachmentId) -> ApiError {
    ApiError::new(
        "InvalidTransitGatewayAttachmentID.NotFound",
        format!("Transit Gateway Attachment {id} was deleted or does not exist."),
    )
}

fn table_not_found(id: &TgwRouteTableId) -> ApiError {
    ApiError::new(
        "InvalidRouteTableID.NotFound",
        format!("Transit Gateway Route Table {id} was deleted or does not exist."),
    )
}

impl Model {
    /// All transit gateways.
    pub fn transit_gateways(&self) -> impl Iterator<Item = &TransitGateway> {
        self.transit_gateways.values()
    }

    /// A transit gateway by id.
    pub fn transit_gateway(&self, id: &TransitGatewayId) -> Result<&TransitGateway, ApiError> {
        self.transit_gateways.get(id).ok_or_else(|| tgw_not_found(id))
    }

    /// All transit gateway attachments.
    pub fn tgw_attachments(&self) -> impl Iterator<Item = &TgwAttachment> {
        self.tgw_attachments.values()
    }

    /// An attachment by id.
    pub fn tgw_attachment(&self, id: &TgwAttachmentId) -> Result<&TgwAttachment, ApiError> {
        self.tgw_attachments.get(id).ok_or_else(|| attachment_not_found(id))
    }

    /// All transit gateway route tables.
    pub fn tgw_route_tables(&self) -> impl Iterator<Item = &TgwRouteTable> {
        self.tgw_route_tables.values()
    }

    /// A transit gateway route table by id.
    pub fn tgw_route_table(&self, id: &TgwRouteTableId) -> Result<&TgwRouteTable, ApiError> {
        self.tgw_route_tables.get(id).ok_or_else(|| table_not_found(id))
    }

    /// Transit gateways deleted less than two hours before `now`, each with when.
    pub fn deleted_transit_gateways(
        &self,
        now: u64,
    ) -> impl Iterator<Item = (&TransitGateway, u64)> {
        self.deleted_transit_gateways.listed(now)
    }

    /// The transit gateway `id`, if it was deleted and is still listed at `now`, with when.
    pub fn deleted_transit_gateway(
        &self,
        id: &TransitGatewayId,
        now: u64,
    ) -> Option<(&TransitGateway, u64)> {
        self.deleted_transit_gateways.get(id, now)
    }

    /// Attachments deleted, and peering attachments rejected, less than two hours before
    /// `now`, each with when ([`TgwAttachment::end_states`] tells which).
    pub fn deleted_tgw_attachments(&self, now: u64) -> impl Iterator<Item = (&TgwAttachment, u64)> {
        self.deleted_tgw_attachments.listed(now)
    }

    /// The attachment `id`, if it was deleted (or rejected) and is still listed at `now`,
    /// with when.
    pub fn deleted_tgw_attachment(
        &self,
        id: &TgwAttachmentId,
        now: u64,
    ) -> Option<(&TgwAttachment, u64)> {
        self.deleted_tgw_attachments.get(id, now)
    }

    /// Route tables deleted (or gone with their gateway) less than two hours before `now`,
    /// each with when.
    pub fn deleted_tgw_route_tables(
        &self,
        now: u64,
    ) -> impl Iterator<Item = (&TgwRouteTable, u64)> {
        self.deleted_tgw_route_tables.listed(now)
    }

    /// The route table `id`, if it was deleted and is still listed at `now`, with when.
    pub fn deleted_tgw_route_table(
        &self,
        id: &TgwRouteTableId,
        now: u64,
    ) -> Option<(&TgwRouteTable, u64)> {
        self.deleted_tgw_route_tables.get(id, now)
    }

    /// The attachment of `vpc` to `tgw`, if there is one.
    pub fn tgw_attachment_of(&self, tgw: &TransitGatewayId, vpc: &VpcId) -> Option<&TgwAttachment> {
        self.tgw_attachments.values().find(|a| &a.tgw == tgw && a.vpc() == Some(vpc))
    }

    /// CreateTransitGateway: with its default route table when default association or
    /// propagation is on.
    pub fn create_transit_gateway(
        &mut self,
        description: String,
        mut options: TgwOptions,
        tags: Tags,
        created_at: u64,
    ) -> Result<TransitGatewayId, ApiError> {
        if self.transit_gateways.len() >= 5 {
            return Err(ApiError::new(
                "TransitGatewayLimitExceeded",
                "You've reached the limit on the number of transit gateways (5).",
            ));
        }
        let id = TransitGatewayId::from_raw(self.ids.fresh(TransitGatewayId::PREFIX));
        if options.default_route_table_association || options.default_route_table_propagation {
            let table = self.new_tgw_route_table(&id, Tags::new(), created_at);
            options.association_default_route_table = Some(table.clone());
            options.propagation_default_route_table = Some(table);
        }
        options.drop_disabled_defaults();
        self.transit_gateways.insert(
            id.clone(),
            TransitGateway { id: id.clone(), description, options, created_at, tags },
        );
        Ok(id)
    }

    /// ModifyTransitGateway: options for attachments made from now on. `change` gets the
    /// options as they are and returns them as they should be; the default tables it
    /// names must be the gateway's own.
    pub fn modify_transit_gateway(
        &mut self,
        id: &TransitGatewayId,
        description: Option<String>,
        change: impl FnOnce(&mut TgwOptions),
    ) -> Result<(), ApiError> {
        let mut options = self.transit_gateway(id)?.options.clone();
        change(&mut options);
        options.drop_disabled_defaults();
        for table in
            [&options.association_default_route_table, &options.propagation_default_route_table]
                .into_iter()
                .flatten()
        {
            if &self.tgw_route_table(table)?.tgw != id {
                return Err(ApiError::invalid_value(format!(
                    "Transit Gateway Route Table {table} does not belong to {id}."
                )));
            }
        }
        let tgw = self.transit_gateways.get_mut(id).expect("checked above");
        tgw.options = options;
        if let Some(d) = description {
            tgw.description = d;
        }
        Ok(())
    }

    /// DeleteTransitGateway at `at` (Unix seconds): refused while it has attachments;
    /// its route tables go with it. They stay listed, deleted, for two hours.
    pub fn delete_transit_gateway(
        &mut self,
        id: &TransitGatewayId,
        at: u64,
    ) -> Result<(), ApiError> {
        self.transit_gateway(id)?;
        let attached: Vec<String> = self
            .tgw_attachments
            .values()
            .filter(|a| a.joins(id) && !a.rejected())
            .map(|a| a.id.to_string())
            .collect();
        if !attached.is_empty() {
            return Err(ApiError::new(
                "IncorrectState",
                format!(
                    "{id} has non-deleted Transit Gateway Attachments: {}.",
                    attached.join(", ")
                ),
            ));
        }
        // Rejected peerings an older state file kept among the live ones go with it.
        self.tgw_attachments.retain(|_, a| !a.joins(id));
        let tables: Vec<TgwRouteTableId> =
            self.tgw_route_tables.values().filter(|t| &t.tgw == id).map(|t| t.id.clone()).collect();
        for table in tables {
            if let Some(t) = self.tgw_route_tables.remove(&table) {
                self.deleted_tgw_route_tables.insert(table, t, at);
            }
        }
        if let Some(g) = self.transit_gateways.remove(id) {
            self.deleted_transit_gateways.insert(id.clone(), g, at);
        }
        Ok(())
    }

    fn new_tgw_route_table(
        &mut self,
        tgw: &TransitGatewayId,
        tags: Tags,
        created_at: u64,
    ) -> TgwRouteTableId {
        let id = TgwRouteTableId::from_raw(self.ids.fresh(TgwRouteTableId::PREFIX));
        self.tgw_route_tables.insert(
            id.clone(),
            TgwRouteTable {
                id: id.clone(),
                tgw: tgw.clone(),
                static_routes: Vec::new(),
                propagations: Vec::new(),
                created_at,
                tags,
            },
        );
        id
    }

    /// CreateTransitGatewayRouteTable.
    pub fn create_tgw_route_table(
        &mut self,
        tgw: &TransitGatewayId,
        tags: Tags,
        created_at: u64,
    ) -> Result<TgwRouteTableId, ApiError> {
        self.transit_gateway(tgw)?;
        if self.tgw_route_tables.values().filter(|t| &t.tgw == tgw).count() >= MAX_TGW_ROUTE_TABLES
        {
            return Err(ApiError::new(
                "TransitGatewayRouteTableLimitExceeded",
                format!(
                    "You've reached the limit on the number of route tables ({MAX_TGW_ROUTE_TABLES}) \
                     for {tgw}."
                ),
            ));
        }
        Ok(self.new_tgw_route_table(tgw, tags, created_at))
    }

    /// Whether `table` is one of its gateway's default tables.
    pub fn is_default_tgw_table(&self, table: &TgwRouteTable) -> (bool, bool) {
        let options = self.transit_gateways.get(&table.tgw).map(|t| &t.options);
        (
            options.is_some_and(|o| o.association_default_route_table.as_ref() == Some(&table.id)),
            options.is_some_and(|o| o.propagation_default_route_table.as_ref() == Some(&table.id)),
        )
    }

    /// DeleteTransitGatewayRouteTable at `at` (Unix seconds): refused while attachments
    /// are associated with it or while it is a default table. It stays listed, deleted,
    /// for two hours.
    pub fn delete_tgw_route_table(
        &mut self,
        id: &TgwRouteTableId,
        at: u64,
    ) -> Result<(), ApiError> {
        let table = self.tgw_route_table(id)?;
        if self.is_default_tgw_table(table) != (false, false) {
            return Err(ApiError::new(
                "IncorrectState",
                format!(
                    "{id} is the default association or propagation route table of {} and \
                     cannot be deleted.",
                    table.tgw
                ),
            ));
        }
        if self.tgw_attachments.values().any(|a| a.associations().any(|t| t == id)) {
            return Err(ApiError::new(
                "IncorrectState",
                format!("{id} has associated attachments and cannot be deleted."),
            ));
        }
        if let Some(t) = self.tgw_route_tables.remove(id) {
            self.deleted_tgw_route_tables.insert(id.clone(), t, at);
        }
        Ok(())
    }

    /// Checks `subnets` for a VPC attachment of `vpc`: each exists, is in the VPC, and no
    /// two share a zone (with `keep`, the subnets the attachment already has).
    fn check_attachment_subnets(
        &self,
        vpc: &VpcId,
        keep: &[SubnetId],
        subnets: &[SubnetId],
    ) -> Result<(), ApiError> {
        let mut zones: Vec<&str> = Vec::new();
        for id in keep.iter().chain(subnets) {
            let subnet = self.subnet(id)?;
            if &subnet.vpc != vpc {
                // AWS looks the subnet up in the VPC.
                return Err(ApiError::new(
                    "InvalidSubnetID.NotFound",
                    format!("Subnet {id} was deleted or does not exist."),
                ));
            }
            if zones.contains(&subnet.zone.as_str()) {
                return Err(ApiError::new(
                    "DuplicateSubnetsInSameZone",
                    "Duplicate Subnets for same AZ",
                ));
            }
            zones.push(&subnet.zone);
        }
        Ok(())
    }

    /// CreateTransitGatewayVpcAttachment: associated with and propagating into the
    /// gateway's default tables when its options say so.
    pub fn create_tgw_vpc_attachment(
        &mut self,
        tgw: &TransitGatewayId,
        vpc: &VpcId,
        subnets: &[SubnetId],
        options: VpcAttachmentOptions,
        tags: Tags,
        created_at: u64,
    ) -> Result<TgwAttachmentId, ApiError> {
        let gateway = self.transit_gateway(tgw)?.clone();
        self.vpc(vpc)?;
        if subnets.is_empty() {
            return Err(ApiError::new(
                "MissingParameter",
                "The request must contain the parameter SubnetIds",
            ));
        }
        self.check_attachment_subnets(vpc, &[], subnets)?;
        if self.tgw_attachment_of(tgw, vpc).is_some() {
            return Err(ApiError::new(
                "DuplicateTransitGatewayAttachment",
                format!("{tgw} has non-deleted Transit Gateway Attachments with same VPC ID."),
            ));
        }
        if self.tgw_attachments.values().filter(|a| a.vpc() == Some(vpc)).count() >= 5 {
            return Err(ApiError::new(
                "TransitGatewayAttachmentLimitExceeded",
                format!("{vpc} is attached to the most transit gateways a VPC may have (5)."),
            ));
        }
        let mut made = Vec::with_capacity(subnets.len());
        for subnet in subnets {
            // One subnet per zone: the interfaces never compete for an address.
            made.push(self.managed_interface(subnet)?);
        }
        let resource = AttachmentResource::Vpc { vpc: vpc.clone(), subnets: made, options };
        Ok(self.insert_tgw_attachment(&gateway, resource, tags, created_at))
    }

    /// A new attachment of `gateway` for `resource`, associated with and propagating into
    /// the gateway's default tables when its options say so.
    pub(crate) fn insert_tgw_attachment(
        &mut self,
        gateway: &TransitGateway,
        resource: AttachmentResource,
        tags: Tags,
        created_at: u64,
    ) -> TgwAttachmentId {
        let id = TgwAttachmentId::from_raw(self.ids.fresh(TgwAttachmentId::PREFIX));
        let options_of = &gateway.options;
        let association = options_of
            .default_route_table_association
            .then(|| options_of.association_default_route_table.clone())
            .flatten();
        if options_of.default_route_table_propagation {
            if let Some(table) = options_of
                .propagation_default_route_table
                .as_ref()
                .and_then(|t| self.tgw_route_tables.get_mut(t))
            {
                table.propagations.push(id.clone());
            }
        }
        let attachment = TgwAttachment {
            id: id.clone(),
            tgw: gateway.id.clone(),
            resource,
            association,
            created_at,
            tags,
        };
        self.tgw_attachments.insert(id.clone(), attachment);
        id
    }

    /// ModifyTransitGatewayVpcAttachment: subnets added and removed (one per zone, at
    /// least one left), options changed.
    pub fn modify_tgw_vpc_attachment(
        &mut self,
        id: &TgwAttachmentId,
        add: &[SubnetId],
        remove: &[SubnetId],
        change: impl FnOnce(&mut VpcAttachmentOptions),
    ) -> Result<(), ApiError> {
        let attachment = self.tgw_attachment(id)?.clone();
        let AttachmentResource::Vpc { vpc, subnets, mut options } = attachment.resource else {
            return Err(not_a_vpc_attachment(id));
        };
        if let Some(missing) = remove.iter().find(|r| !subnets.iter().any(|s| &s.subnet == *r)) {
            self.subnet(missing)?;
            return Err(ApiError::invalid_value(format!(
                "The subnet {missing} is not part of {id}."
            )));
        }
        let keep: Vec<ManagedInterface> =
            subnets.into_iter().filter(|s| !remove.contains(&s.subnet)).collect();
        let kept_ids: Vec<SubnetId> = keep.iter().map(|s| s.subnet.clone()).collect();
        let add: Vec<SubnetId> = add.iter().filter(|s| !kept_ids.contains(s)).cloned().collect();
        self.check_attachment_subnets(&vpc, &kept_ids, &add)?;
        if keep.is_empty() && add.is_empty() {
            return Err(ApiError::new("InsufficientSubnetsException", "Insufficient Subnets"));
        }
        let mut all = keep;
        for subnet in &add {
            all.push(self.managed_interface(subnet)?);
        }
        change(&mut options);
        let stored = self.tgw_attachments.get_mut(id).expect("checked above");
        stored.resource = AttachmentResource::Vpc { vpc, subnets: all, options };
        Ok(())
    }

    /// Delete…Attachment at `at` (Unix seconds): its associations and propagations go;
    /// static routes to it become blackholes. It stays listed, deleted, for two hours.
    pub fn delete_tgw_attachment_at(
        &mut self,
        id: &TgwAttachmentId,
        at: u64,
    ) -> Result<(), ApiError> {
        self.tgw_attachment(id)?;
        self.retire_tgw_attachment(id, at);
        Ok(())
    }

    /// [`Model::delete_tgw_attachment_at`] for callers without a clock (the data plane's
    /// tests): deleted at the epoch, where topology files make things, so never listed.
    pub fn delete_tgw_attachment(&mut self, id: &TgwAttachmentId) -> Result<(), ApiError> {
        self.delete_tgw_attachment_at(id, 0)
    }

    /// Moves attachment `id` among the gone ones, as gone at `at`, without its
    /// associations and propagations.
    pub(crate) fn retire_tgw_attachment(&mut self, id: &TgwAttachmentId, at: u64) {
        for table in self.tgw_route_tables.values_mut() {
            table.propagations.retain(|a| a != id);
        }
        if let Some(mut a) = self.tgw_attachments.remove(id) {
            a.association = None;
            if let AttachmentResource::Peering { peer_association, .. } = &mut a.resource {
                *peer_association = None;
            }
            self.deleted_tgw_attachments.insert(id.clone(), a, at);
        }
    }

    /// Checks that `table` and `attachment` meet on one transit gateway, and returns that
    /// gateway (the table's).
    fn check_same_tgw(
        &self,
        table: &TgwRouteTableId,
        attachment: &TgwAttachmentId,
    ) -> Result<TransitGatewayId, ApiError> {
        let t = self.tgw_route_table(table)?;
        let a = self.tgw_attachment(attachment)?;
        if !a.joins(&t.tgw) {
            return Err(ApiError::invalid_value(format!(
                "Transit Gateway Attachment {attachment} and Transit Gateway Route Table \
                 {table} belong to different transit gateways."
            )));
        }
        Ok(t.tgw.clone())
    }

    /// AssociateTransitGatewayRouteTable: on the table's side (a peering attachment has
    /// one association per side, and must be accepted first).
    pub fn associate_tgw_route_table(
        &mut self,
        table: &TgwRouteTableId,
        attachment: &TgwAttachmentId,
    ) -> Result<(), ApiError> {
        let tgw = self.check_same_tgw(table, attachment)?;
        let a = &self.tgw_attachments[attachment];
        if !a.carries() {
            return Err(incorrect_state(a));
        }
        if a.association_in(&tgw).is_some() {
            return Err(ApiError::new(
                "Resource.AlreadyAssociated",
                format!(
                    "Transit Gateway Attachment {attachment} is already associated to a route \
                     table."
                ),
            ));
        }
        if let Some(a) = self.tgw_attachments.get_mut(attachment) {
            *a.association_slot(&tgw) = Some(table.clone());
        }
        Ok(())
    }

    /// DisassociateTransitGatewayRouteTable.
    pub fn disassociate_tgw_route_table(
        &mut self,
        table: &TgwRouteTableId,
        attachment: &TgwAttachmentId,
    ) -> Result<(), ApiError> {
        let tgw = self.check_same_tgw(table, attachment)?;
        if self.tgw_attachments[attachment].association_in(&tgw) != Some(table) {
            return Err(ApiError::new(
                "InvalidAssociation.NotFound",
                format!("Transit Gateway Attachment {attachment} is not associated with {table}."),
            ));
        }
        if let Some(a) = self.tgw_attachments.get_mut(attachment) {
            *a.association_slot(&tgw) = None;
        }
        Ok(())
    }

    /// EnableTransitGatewayRouteTablePropagation (VPC attachments: a peering carries
    /// static routes only).
    pub fn enable_tgw_propagation(
        &mut self,
        table: &TgwRouteTableId,
        attachment: &TgwAttachmentId,
    ) -> Result<(), ApiError> {
        self.check_same_tgw(table, attachment)?;
        if self.tgw_attachments[attachment].peer().is_some() {
            return Err(ApiError::invalid_value(format!(
                "{attachment} is a peering attachment: peering attachments take static routes \
                 only and propagate nothing."
            )));
        }
        let t = self.tgw_route_tables.get_mut(table).expect("checked above");
        if t.propagations.contains(attachment) {
            return Err(ApiError::new(
                "TransitGatewayRouteTablePropagation.Duplicate",
                format!(
                    "Propagation {attachment} already exists in Transit Gateway Route Table \
                     {table}."
                ),
            ));
        }
        t.propagations.push(attachment.clone());
        Ok(())
    }

    /// DisableTransitGatewayRouteTablePropagation.
    pub fn disable_tgw_propagation(
        &mut self,
        table: &TgwRouteTableId,
        attachment: &TgwAttachmentId,
    ) -> Result<(), ApiError> {
        self.check_same_tgw(table, attachment)?;
        let t = self.tgw_route_tables.get_mut(table).expect("checked above");
        let before = t.propagations.len();
        t.propagations.retain(|a| a != attachment);
        if t.propagations.len() == before {
            return Err(ApiError::new(
                "TransitGatewayRouteTablePropagation.NotFound",
                format!(
                    "Propagation {attachment} does not exist in Transit Gateway Route Table \
                     {table}."
                ),
            ));
        }
        Ok(())
    }

    /// CreateTransitGatewayRoute (`attachment` `None`: a blackhole route). With
    /// `replace`, ReplaceTransitGatewayRoute: the route must exist.
    pub fn put_tgw_route(
        &mut self,
        table: &TgwRouteTableId,
        destination: Ipv4Net,
        attachment: Option<&TgwAttachmentId>,
        replace: bool,
    ) -> Result<(), ApiError> {
        let destination = destination.trunc();
        if let Some(a) = attachment {
            self.check_same_tgw(table, a)?;
        }
        let t = self.tgw_route_table(table)?;
        let at = t.static_routes.iter().position(|r| r.destination == destination);
        match (at, replace) {
            (Some(_), false) => {
                return Err(ApiError::new(
                    "RouteAlreadyExists",
                    format!(
                        "Route {destination} already exists in Transit Gateway Route Table \
                         {table}."
                    ),
                ));
            }
            (None, true) => return Err(tgw_route_not_found(table, destination)),
            _ => {}
        }
        let tgw = t.tgw.clone();
        let count: usize = self
            .tgw_route_tables
            .values()
            .filter(|t| t.tgw == tgw)
            .map(|t| t.static_routes.len())
            .sum();
        if at.is_none() && count >= MAX_TGW_STATIC_ROUTES {
            return Err(ApiError::new(
                "RouteLimitExceeded",
                format!(
                    "The maximum number of static routes ({MAX_TGW_STATIC_ROUTES}) has been \
                     reached for {tgw}."
                ),
            ));
        }
        let route = TgwStaticRoute { destination, attachment: attachment.cloned() };
        let t = self.tgw_route_tables.get_mut(table).expect("checked above");
        match at {
            Some(i) => t.static_routes[i] = route,
            None => t.static_routes.push(route),
        }
        Ok(())
    }

    /// DeleteTransitGatewayRoute (static routes only).
    pub fn delete_tgw_route(
        &mut self,
        table: &TgwRouteTableId,
        destination: Ipv4Net,
    ) -> Result<TgwStaticRoute, ApiError> {
        let destination = destination.trunc();
        self.tgw_route_table(table)?;
        let t = self.tgw_route_tables.get_mut(table).expect("checked above");
        match t.static_routes.iter().position(|r| r.destination == destination) {
            Some(i) => Ok(t.static_routes.remove(i)),
            None => Err(tgw_route_not_found(table, destination)),
        }
    }

    /// CreateTransitGatewayPeeringAttachment: `pendingAcceptance` until the accepter
    /// accepts. One live peering per pair of transit gateways.
    pub fn create_tgw_peering_attachment(
        &mut self,
        tgw: &TransitGatewayId,
        peer: &TransitGatewayId,
        peer_account: String,
        peer_region: String,
        tags: Tags,
        created_at: u64,
    ) -> Result<TgwAttachmentId, ApiError> {
        self.transit_gateway(tgw)?;
        self.transit_gateway(peer)?;
        if tgw == peer {
            return Err(ApiError::invalid_value(format!(
                "A transit gateway cannot be peered with itself ({tgw})."
            )));
        }
        // (Rejected peerings are gone; an older state file may still hold some.)
        let live = |a: &&TgwAttachment| {
            matches!(&a.resource, AttachmentResource::Peering { state, .. }
                if *state != PeeringAttachmentState::Rejected)
        };
        if self.tgw_attachments.values().filter(live).any(|a| a.joins(tgw) && a.joins(peer)) {
            return Err(ApiError::new(
                "DuplicateTransitGatewayAttachment",
                format!(
                    "{tgw} has non-deleted Transit Gateway Cross Region Peering Attachments with \
                     {peer}."
                ),
            ));
        }
        let id = TgwAttachmentId::from_raw(self.ids.fresh(TgwAttachmentId::PREFIX));
        self.tgw_attachments.insert(
            id.clone(),
            TgwAttachment {
                id: id.clone(),
                tgw: tgw.clone(),
                resource: AttachmentResource::Peering {
                    peer: peer.clone(),
                    peer_account,
                    peer_region,
                    state: PeeringAttachmentState::PendingAcceptance,
                    peer_association: None,
                },
                association: None,
                created_at,
                tags,
            },
        );
        Ok(id)
    }

    /// [`Model::answer_tgw_peering_at`] for callers without a clock (tests, topology
    /// files): a rejection at the epoch is never listed.
    pub fn answer_tgw_peering(
        &mut self,
        id: &TgwAttachmentId,
        accept: bool,
    ) -> Result<(), ApiError> {
        self.answer_tgw_peering_at(id, accept, 0)
    }

    /// AcceptTransitGatewayPeeringAttachment (`accept`) or
    /// RejectTransitGatewayPeeringAttachment at `at` (Unix seconds): from
    /// `pendingAcceptance` only. Accepted, each side is associated with its gateway's
    /// default association table when that gateway's options say so. Rejected, it is
    /// gone, listed `rejected` for two hours.
    pub fn answer_tgw_peering_at(
        &mut self,
        id: &TgwAttachmentId,
        accept: bool,
        at: u64,
    ) -> Result<(), ApiError> {
        let a = self.tgw_attachment(id)?;
        let AttachmentResource::Peering { peer, state, .. } = &a.resource else {
            return Err(not_a_peering_attachment(id));
        };
        if *state != PeeringAttachmentState::PendingAcceptance {
            return Err(incorrect_state(a));
        }
        let default_of = |tgw: &TransitGatewayId| {
            self.transit_gateways.get(tgw).and_then(|g| {
                let o = &g.options;
                o.default_route_table_association
                    .then(|| o.association_default_route_table.clone())
                    .flatten()
            })
        };
        let (mine, theirs) = (default_of(&a.tgw), default_of(peer));
        let stored = self.tgw_attachments.get_mut(id).expect("checked above");
        if let AttachmentResource::Peering { state, peer_association, .. } = &mut stored.resource {
            if accept {
                *state = PeeringAttachmentState::Available;
                *peer_association = theirs;
                stored.association = mine;
            } else {
                *state = PeeringAttachmentState::Rejected;
            }
        }
        if !accept {
            self.retire_tgw_attachment(id, at);
        }
        Ok(())
    }

    /// The routes in force in `table`, by destination: static routes, then the
    /// propagated ones whose prefix no static route has and that overlap no CIDR an
    /// earlier propagation brought. A static route to an attachment that is gone, or not
    /// (yet) carrying traffic, leads nowhere (blackhole).
    pub fn tgw_routes(&self, table: &TgwRouteTable) -> Vec<TgwRoute> {
        let mut routes: Vec<TgwRoute> = table
            .static_routes
            .iter()
            .map(|r| TgwRoute {
                destination: r.destination,
                kind: TgwRouteType::Static,
                attachment: r
                    .attachment
                    .clone()
                    .filter(|a| self.tgw_attachments.get(a).is_some_and(TgwAttachment::carries)),
            })
            .collect();
        // VPC attachments' CIDRs first, then the routes VPN attachments learned over BGP
        // (their tunnels that are up): AWS prefers a VPC's routes to a VPN's, so a
        // learned route never takes a VPC CIDR's place, whatever the order propagation
        // was enabled in.
        let mut vpc_cidrs: Vec<Ipv4Net> = Vec::new();
        for id in &table.propagations {
            let Some(vpc) = self.tgw_attachments.get(id).and_then(|a| a.vpc()) else { continue };
            let Some(vpc) = self.vpcs.get(vpc) else { continue };
            for cidr in vpc.cidrs() {
                // A static route of the same prefix wins; a VPC CIDR overlapping one
                // another VPC attachment already propagated is not propagated (AWS:
                // overlapping VPC CIDRs are not routable through one table).
                let overlaps = vpc_cidrs.iter().any(|c| c.contains(&cidr) || cidr.contains(c));
                if overlaps || routes.iter().any(|r| r.destination == cidr) {
                    continue;
                }
                vpc_cidrs.push(cidr);
                routes.push(TgwRoute {
                    destination: cidr,
                    kind: TgwRouteType::Propagated,
                    attachment: Some(id.clone()),
                });
            }
        }
        for id in &table.propagations {
            let Some(c) = self.tgw_attachments.get(id).and_then(|a| a.vpn_connection()) else {
                continue;
            };
            let Some(c) = self.vpn_connections.get(c) else { continue };
            // Learned routes may nest (a site's /16 and another's /24); an equal prefix
            // already in the table (static, a VPC's, an earlier connection's) wins.
            for prefix in c.learned_routes() {
                if routes.iter().any(|r| r.destination == prefix) {
                    continue;
                }
                routes.push(TgwRoute {
                    destination: prefix,
                    kind: TgwRouteType::Propagated,
                    attachment: Some(id.clone()),
                });
            }
        }
        routes.sort_by_key(|r| (r.destination.network(), r.destination.prefix_len()));
        routes
    }

    /// The tags of a transit gateway, attachment or route table `id`.
    pub(crate) fn tgw_tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        if let Some(a) = TgwAttachmentId::parse(id) {
            return self.tgw_attachments.get_mut(&a).map(|a| &mut a.tags);
        }
        if let Some(t) = TgwRouteTableId::parse(id) {
            return self.tgw_route_tables.get_mut(&t).map(|t| &mut t.tags);
        }
        let t = TransitGatewayId::parse(id)?;
        self.transit_gateways.get_mut(&t).map(|t| &mut t.tags)
    }
}

fn incorrect_state(a: &TgwAttachment) -> ApiError {
    let state = a.settled_state();
    ApiError::new(
        "IncorrectState",
        format!("Transit Gateway Attachment {} is in state {state}.", a.id),
    )
}

fn not_a_vpc_attachment(id: &TgwAttachmentId) -> ApiError {
    ApiError::new(
        "InvalidTransitGatewayAttachmentID.NotFound",
        format!("Transit Gateway VPC Attachment {id} was deleted or does not exist."),
    )
}

fn not_a_peering_attachment(id: &TgwAttachmentId) -> ApiError {
    ApiError::new(
        "InvalidTransitGatewayAttachmentID.NotFound",
        format!("Transit Gateway Peering Attachment {id} was deleted or does not exist."),
    )
}

fn tgw_route_not_found(table: &TgwRouteTableId, destination: Ipv4Net) -> ApiError {
    ApiError::new(
        "InvalidRoute.NotFound",
        // AWS's own wording, "does not exists" included.
        format!("Route {destination} does not exists in Transit Gateway Route Table {table}."),
    )
}
