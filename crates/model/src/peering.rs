//! VPC peering: two VPCs routed to each other, never through each other.
//!
//! AWS semantics: a request from one VPC to another is `pending-acceptance` until the
//! accepter accepts it (`active`) or rejects it; overlapping CIDRs make it `failed` at
//! once; only one connection per pair of VPCs; routes name the connection as target and
//! are blackholes until it is active. The data plane delivers over a peering only to
//! addresses inside the peer VPC — no transit, no use of the peer's gateways.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::VpcPeeringConnectionId;
use crate::{Model, Tags, VpcId};

/// Where a peering connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeeringStatus {
    /// Waiting for the accepter.
    PendingAcceptance,
    /// Routable.
    Active,
    /// Refused by the accepter.
    Rejected,
    /// Could not be made (overlapping CIDRs).
    Failed,
    /// Deleted by either side.
    Deleted,
}

impl PeeringStatus {
    /// AWS's `status.code`.
    pub fn code(self) -> &'static str {
        match self {
            PeeringStatus::PendingAcceptance => "pending-acceptance",
            PeeringStatus::Active => "active",
            PeeringStatus::Rejected => "rejected",
            PeeringStatus::Failed => "failed",
            PeeringStatus::Deleted => "deleted",
        }
    }

    /// AWS's `status.message`.
    pub fn message(self) -> &'static str {
        match self {
            PeeringStatus::PendingAcceptance => "Pending Acceptance by 123456789012",
            PeeringStatus::Active => "Active",
            PeeringStatus::Rejected => "Rejected by 123456789012",
            PeeringStatus::Failed => "Overlapping CIDR range",
            PeeringStatus::Deleted => "Deleted by 123456789012",
        }
    }

    fn is_live(self) -> bool {
        matches!(self, PeeringStatus::PendingAcceptance | PeeringStatus::Active)
    }
}

/// A peering connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeeringConnection {
    /// `pcx-…`
    pub id: VpcPeeringConnectionId,
    /// The VPC that asked.
    pub requester: VpcId,
    /// The VPC asked.
    pub accepter: VpcId,
    /// Its status.
    pub status: PeeringStatus,
    /// Tags.
    pub tags: Tags,
    /// The accepter's owner account as the request named it (`PeerOwnerId`): a label,
    /// since every VPC here belongs to one account.
    #[serde(default)]
    pub peer_owner: Option<String>,
    /// The accepter's Region as the request named it (`PeerRegion`): a label.
    #[serde(default)]
    pub peer_region: Option<String>,
}

impl PeeringConnection {
    /// The other side, seen from `vpc` (if `vpc` is a side).
    pub fn peer_of(&self, vpc: &VpcId) -> Option<&VpcId> {
        if &self.requester == vpc {
            Some(&self.accepter)
        } else if &self.accepter == vpc {
            Some(&self.requester)
        } else {
            None
        }
    }
}

impl Model {
    /// All peering connections (deleted ones included, as AWS shows them for a while).
    pub fn peering_connections(&self) -> impl Iterator<Item = &PeeringConnection> {
        self.peerings.values()
    }

    /// Whether `a` and `b` are joined by an active peering connection.
    pub fn peered(&self, a: &VpcId, b: &VpcId) -> bool {
        self.peerings.values().any(|p| p.status == PeeringStatus::Active && p.peer_of(a) == Some(b))
    }

    /// A peering connection by id.
    pub fn peering_connection(
        &self,
        id: &VpcPeeringConnectionId,
    ) -> Result<&PeeringConnection, ApiError> {
        self.peerings.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidVpcPeeringConnectionID.NotFound",
                format!("The vpcPeeringConnection ID '{id}' does not exist"),
            )
        })
    }

    /// CreateVpcPeeringConnection (same account and region).
    pub fn create_vpc_peering_connection(
        &mut self,
        requester: &VpcId,
        accepter: &VpcId,
        tags: Tags,
    ) -> Result<VpcPeeringConnectionId, ApiError> {
        let a: Vec<Ipv4Net> = self.vpc(requester)?.cidrs().collect();
        let b: Vec<Ipv4Net> = self.vpc(accepter)?.cidrs().collect();
        if requester == accepter {
            return Err(ApiError::invalid_value("A VPC cannot be peered with itself."));
        }
        let exists = self
            .peerings
            .values()
            .any(|p| p.status.is_live() && p.peer_of(requester) == Some(accepter));
        if exists {
            return Err(ApiError::new(
                "VpcPeeringConnectionAlreadyExists",
                format!(
                    "A VPC peering connection between {requester} and {accepter} already exists."
                ),
            ));
        }
        let overlap = a
            .iter()
            .any(|x| b.iter().any(|y| x.contains(&y.network()) || y.contains(&x.network())));
        let status = if overlap { PeeringStatus::Failed } else { PeeringStatus::PendingAcceptance };
        let id = VpcPeeringConnectionId::from_raw(self.ids.fresh(VpcPeeringConnectionId::PREFIX));
        self.peerings.insert(
            id.clone(),
            PeeringConnection {
                id: id.clone(),
                requester: requester.clone(),
                accepter: accepter.clone(),
                status,
                tags,
                peer_owner: None,
                peer_region: None,
            },
        );
        Ok(id)
    }

    /// Records the accepter's owner and Region as a request named them (labels only).
    pub fn label_peering(
        &mut self,
        id: &VpcPeeringConnectionId,
        owner: Option<&str>,
        region: Option<&str>,
    ) -> Result<(), ApiError> {
        self.peering_connection(id)?;
        if let Some(p) = self.peerings.get_mut(id) {
            p.peer_owner = owner.map(str::to_owned);
            p.peer_region = region.map(str::to_owned);
        }
        Ok(())
    }

    fn transition(
        &mut self,
        id: &VpcPeeringConnectionId,
        from: &[PeeringStatus],
        to: PeeringStatus,
    ) -> Result<(), ApiError> {
        let current = self.peering_connection(id)?.status;
        if !from.contains(&current) {
            return Err(ApiError::new(
                "InvalidStateTransition",
                format!(
                    "Invalid state transition for pcx {id}, attempted to transition from {} to {}",
                    current.code(),
                    to.code()
                ),
            ));
        }
        if let Some(p) = self.peerings.get_mut(id) {
            p.status = to;
        }
        Ok(())
    }

    /// AcceptVpcPeeringConnection.
    pub fn accept_vpc_peering_connection(
        &mut self,
        id: &VpcPeeringConnectionId,
    ) -> Result<(), ApiError> {
        self.transition(id, &[PeeringStatus::PendingAcceptance], PeeringStatus::Active)
    }

    /// RejectVpcPeeringConnection.
    pub fn reject_vpc_peering_connection(
        &mut self,
        id: &VpcPeeringConnectionId,
    ) -> Result<(), ApiError> {
        self.transition(id, &[PeeringStatus::PendingAcceptance], PeeringStatus::Rejected)
    }

    /// DeleteVpcPeeringConnection: routes to it become blackholes.
    pub fn delete_vpc_peering_connection(
        &mut self,
        id: &VpcPeeringConnectionId,
    ) -> Result<(), ApiError> {
        self.transition(
            id,
            &[PeeringStatus::PendingAcceptance, PeeringStatus::Active],
            PeeringStatus::Deleted,
        )
    }
}
