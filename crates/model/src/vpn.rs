//! Site-to-Site VPN: customer gateways (the on-premises device as AWS knows it),
//! virtual private gateways (the VPC's end) and the VPN connections between them, two
//! tunnels each.
//!
//! AWS semantics (§2 of the gateways reference):
//!
//! * CreateCustomerGateway is idempotent: a request identical to a live gateway's
//!   (address, ASN, device name) answers that gateway. A customer gateway cannot be
//!   deleted while a VPN connection uses it.
//! * A virtual private gateway attaches to one VPC, and a VPC has at most one; a detached
//!   gateway keeps its attachment, `detached`, until it is attached again. It cannot be
//!   deleted while attached (or while a VPN connection ends on it).
//! * A VPN connection has two tunnels, each with an outside address of AWS's (from the
//!   emulated internet's 203.0.113.0/24, from its top down: Elastic IPs are handed out
//!   from its bottom up), an inside /30 of 169.254.0.0/16 (AWS's first usable address,
//!   the customer gateway the second) and a pre-shared key; AWS picks what the request
//!   leaves out, here deterministically from the model's seed. An identical request for a
//!   live connection answers that connection.
//! * Static routes of a connection (`StaticRoutesOnly`, on a virtual private gateway)
//!   propagate into the route tables the gateway has propagation enabled for, while it
//!   is attached to their VPC (see [`Model::routes_in_force`]).
//! * A connection to a transit gateway comes with an attachment of type `vpn`
//!   (associated with and propagating into the gateway's default tables as its options
//!   say), deleted with it; its static routes are the transit gateway's
//!   (CreateTransitGatewayRoute). Inside CIDRs may repeat among a transit gateway's
//!   connections.
//! * Deleted customer gateways, virtual private gateways and connections stay listed,
//!   `deleted`, for an hour, and are gone for everything else.
//!
//! The tunnels' daemons (run by the data plane, `vpclab_vpn`) report their state into
//! each connection's `live`: `VgwTelemetry`, and the routes BGP learned, which propagate
//! while their tunnel is up; its static routes propagate while one of its tunnels is up
//! (AWS withdraws a connection's routes while its tunnels are down).

use std::fmt::{Display, Write};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::departed::Departed;
use crate::error::ApiError;
use crate::ids::{RouteTableId, VpcId};
use crate::{
    AttachmentResource, DEFAULT_AMAZON_ASN, Model, RouteTarget, Tags, TgwAttachmentId,
    TransitGatewayId, ZONES, check_amazon_asn,
};

pub use crate::ids::{CustomerGatewayId, VpnConnectionId, VpnGatewayId};

/// A customer gateway's ASN when the request names none (AWS's default).
pub const DEFAULT_CUSTOMER_ASN: u32 = 65000;

/// How long a deleted customer gateway, virtual private gateway or VPN connection stays
/// listed, in seconds (AWS lists them `deleted` "for a while"; vpclab: an hour, as a
/// deleted NAT gateway).
pub const VPN_GONE_LISTED_S: u64 = 3600;

/// VPN objects gone but still listed, with when they went.
pub(crate) type Gone<K, T> = Departed<K, T, VPN_GONE_LISTED_S>;

/// How many static routes a VPN connection holds (AWS's quota).
pub const MAX_VPN_STATIC_ROUTES: usize = 100;

/// Where tunnels' inside addresses come from.
const INSIDE_RANGE: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16);

/// The inside /30s AWS reserves: 169.254.0.0/30 to 169.254.5.0/30, and 169.254.169.252/30.
const RESERVED_INSIDE: [Ipv4Addr; 7] = [
    Ipv4Addr::new(169, 254, 0, 0),
    Ipv4Addr::new(169, 254, 1, 0),
    Ipv4Addr::new(169, 254, 2, 0),
    Ipv4Addr::new(169, 254, 3, 0),
    Ipv4Addr::new(169, 254, 4, 0),
    Ipv4Addr::new(169, 254, 5, 0),
    Ipv4Addr::new(169, 254, 169, 252),
];

/// What CreateCustomerGateway asks for (`Type` is always `ipsec.1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerGatewaySpec {
    /// `IpAddress`: the device's outside address.
    pub ip_address: Ipv4Addr,
    /// Its BGP ASN.
    pub bgp_asn: u32,
    /// Whether the ASN was given as `BgpAsnExtended` (above 2,147,483,647).
    #[serde(default)]
    pub asn_extended: bool,
    /// `DeviceName`: tells apart gateways that are otherwise identical.
    #[serde(default)]
    pub device_name: Option<String>,
}

impl CustomerGatewaySpec {
    /// From `BgpAsn` (1 to 2,147,483,647) or `BgpAsnExtended` (2,147,483,648 to
    /// 4,294,967,295), at most one of them (65000 when neither), and `DeviceName` (up to
    /// 255 characters).
    pub fn new(
        ip_address: Ipv4Addr,
        bgp_asn: Option<u64>,
        extended: Option<u64>,
        device_name: Option<String>,
    ) -> Result<Self, ApiError> {
        let out_of = |name: &str, asn: u64, low: u64, high: u64| {
            ApiError::invalid_value(format!(
                "Value ({asn}) for parameter {name} is invalid. Valid values: {low} to {high}."
            ))
        };
        let (bgp_asn, asn_extended) = match (bgp_asn, extended) {
            (Some(_), Some(_)) => {
                return Err(ApiError::new(
                    "InvalidParameterCombination",
                    "Specify either BgpAsn or BgpAsnExtended, not both.",
                ));
            }
            (None, None) => (DEFAULT_CUSTOMER_ASN, false),
            (Some(asn), None) if (1..=2_147_483_647).contains(&asn) => (asn as u32, false),
            (Some(asn), None) => return Err(out_of("BgpAsn", asn, 1, 2_147_483_647)),
            (None, Some(asn)) if (2_147_483_648..=4_294_967_295).contains(&asn) => {
                (asn as u32, true)
            }
            (None, Some(asn)) => {
                return Err(out_of("BgpAsnExtended", asn, 2_147_483_648, 4_294_967_295));
            }
        };
        if device_name.as_ref().is_some_and(|n| n.chars().count() > 255) {
            return Err(ApiError::invalid_value("DeviceName takes up to 255 characters."));
        }
        Ok(Self { ip_address, bgp_asn, asn_extended, device_name })
    }
}

/// A customer gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerGateway {
    /// `cgw-…`
    pub id: CustomerGatewayId,
    /// What it was created with.
    #[serde(flatten)]
    pub spec: CustomerGatewaySpec,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

/// A virtual private gateway's attachment to a VPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VgwAttachment {
    /// The VPC.
    pub vpc: VpcId,
    /// Attached (`attaching`, then `attached`), or detached (`detaching`, then
    /// `detached`).
    pub attached: bool,
    /// Seconds since the Unix epoch at the last attach or detach.
    pub since: u64,
}

/// A virtual private gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnGateway {
    /// `vgw-…`
    pub id: VpnGatewayId,
    /// `AmazonSideAsn`: 64512–65534 or 4200000000–4294967294 (default 64512).
    pub amazon_side_asn: u32,
    /// `AvailabilityZone`, if the request named one (reported only).
    #[serde(default)]
    pub zone: Option<String>,
    /// Its attachment, current or last (a detached one stays listed).
    #[serde(default)]
    pub attachment: Option<VgwAttachment>,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

impl VpnGateway {
    /// The VPC it is attached to (attaching or attached), if any.
    pub fn attached_to(&self) -> Option<&VpcId> {
        self.attachment.as_ref().filter(|a| a.attached).map(|a| &a.vpc)
    }
}

/// The AWS end of a VPN connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VpnEnd {
    /// A virtual private gateway.
    VpnGateway(VpnGatewayId),
    /// A transit gateway.
    TransitGateway(TransitGatewayId),
}

/// What a request asks of one tunnel (`Options.TunnelOptions.N`); AWS picks the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelSpec {
    /// `TunnelInsideCidr`.
    #[serde(default)]
    pub inside_cidr: Option<Ipv4Net>,
    /// `PreSharedKey`.
    #[serde(default)]
    pub pre_shared_key: Option<String>,
}

/// What CreateVpnConnection asks for (`Type` is always `ipsec.1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnConnectionSpec {
    /// `CustomerGatewayId`.
    pub customer_gateway: CustomerGatewayId,
    /// `VpnGatewayId` or `TransitGatewayId`, or none (a connection without a gateway,
    /// attached later on AWS).
    pub end: Option<VpnEnd>,
    /// `Options.StaticRoutesOnly`: no BGP; routes by CreateVpnConnectionRoute.
    pub static_routes_only: bool,
    /// `Options.TunnelBandwidth`: `standard` or `large` (stored and shown).
    #[serde(default)]
    pub tunnel_bandwidth: Option<String>,
    /// The two tunnels' options.
    pub tunnels: [TunnelSpec; 2],
}

/// One tunnel of a VPN connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnTunnel {
    /// AWS's outside address.
    pub outside_ip: Ipv4Addr,
    /// Its inside /30.
    pub inside_cidr: Ipv4Net,
    /// Its pre-shared key.
    pub pre_shared_key: String,
}

impl VpnTunnel {
    /// AWS's inside address: the /30's first usable one.
    pub fn aws_inside_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.inside_cidr.network()) + 1)
    }

    /// The customer gateway's inside address: the /30's second usable one.
    pub fn customer_inside_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.inside_cidr.network()) + 2)
    }
}

/// A VPN connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnConnection {
    /// `vpn-…`
    pub id: VpnConnectionId,
    /// What it was created with.
    pub spec: VpnConnectionSpec,
    /// Its two tunnels.
    pub tunnels: [VpnTunnel; 2],
    /// Its static routes (CreateVpnConnectionRoute), canonical, in the order made.
    #[serde(default)]
    pub routes: Vec<Ipv4Net>,
    /// Its attachment, when it ends on a transit gateway.
    #[serde(default)]
    pub tgw_attachment: Option<TgwAttachmentId>,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
    /// What its tunnels' daemons last reported (down until they report).
    #[serde(default)]
    pub live: [TunnelLive; 2],
}

/// A tunnel's state as its daemons report it: what `VgwTelemetry` shows, and the routes
/// BGP learned over it, which the gateway propagates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelLive {
    /// An IPsec SA is installed: packets cross the tunnel.
    pub ipsec_up: bool,
    /// Its BGP session is established.
    pub bgp_up: bool,
    /// The prefixes the customer gateway advertised over it and AWS accepted.
    #[serde(default)]
    pub routes: Vec<Ipv4Net>,
    /// Seconds since the Unix epoch of the last change of its status (0: never up).
    #[serde(default)]
    pub since: u64,
}

impl TunnelLive {
    /// `VgwTelemetry`'s `status`: a BGP tunnel is `UP` when its session is, a static one
    /// when its IPsec SA is.
    pub fn up(&self, bgp: bool) -> bool {
        self.ipsec_up && (!bgp || self.bgp_up)
    }

    /// `VgwTelemetry`'s `statusMessage`, as AWS words it: the number of BGP routes of a
    /// BGP tunnel that is up, else whether IPsec is.
    pub fn message(&self, bgp: bool) -> String {
        if bgp && self.up(bgp) {
            format!("{} BGP ROUTES", self.routes.len())
        } else if self.ipsec_up {
            "IPSEC IS UP".to_owned()
        } else {
            "IPSEC IS DOWN".to_owned()
        }
    }
}

impl VpnConnection {
    /// Its static routes (CreateVpnConnectionRoute) while one of its tunnels is up.
    pub fn static_routes_in_force(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        let up = self.live.iter().any(|t| t.ipsec_up);
        self.routes.iter().copied().filter(move |_| up)
    }

    /// The routes BGP learned over its tunnels that are up (a tunnel's first), each once.
    pub fn learned_routes(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        let bgp = !self.spec.static_routes_only;
        let mut seen: Vec<Ipv4Net> = Vec::new();
        self.live
            .iter()
            .filter(move |t| bgp && t.up(true))
            .flat_map(|t| t.routes.iter().copied())
            .filter(move |r| {
                if seen.contains(r) {
                    false
                } else {
                    seen.push(*r);
                    true
                }
            })
    }

    /// The virtual private gateway it ends on, if it does.
    pub fn vpn_gateway(&self) -> Option<&VpnGatewayId> {
        match &self.spec.end {
            Some(VpnEnd::VpnGateway(vgw)) => Some(vgw),
            Some(VpnEnd::TransitGateway(_)) | None => None,
        }
    }

    /// The transit gateway it ends on, if it does.
    pub fn transit_gateway(&self) -> Option<&TransitGatewayId> {
        match &self.spec.end {
            Some(VpnEnd::TransitGateway(tgw)) => Some(tgw),
            Some(VpnEnd::VpnGateway(_)) | None => None,
        }
    }
}

/// Checks a `TunnelInsideCidr`: a /30 of 169.254.0.0/16 other than the reserved ones.
pub fn check_tunnel_inside_cidr(cidr: Ipv4Net) -> Result<Ipv4Net, ApiError> {
    if cidr.prefix_len() != 30 || cidr.trunc() != cidr || !INSIDE_RANGE.contains(&cidr) {
        return Err(ApiError::invalid_value(format!(
            "The tunnel inside CIDR {cidr} is invalid: it must be a /30 CIDR block of \
             169.254.0.0/16."
        )));
    }
    if RESERVED_INSIDE.contains(&cidr.network()) {
        return Err(ApiError::invalid_value(format!(
            "The tunnel inside CIDR {cidr} is reserved and cannot be used. Reserved: \
             169.254.0.0/30 to 169.254.5.0/30 and 169.254.169.252/30."
        )));
    }
    Ok(cidr)
}

/// Checks a `PreSharedKey`: 8 to 64 of letters, digits, `.` and `_`, not starting with
/// `0` (AWS's message names none of this).
pub fn check_pre_shared_key(key: &str) -> Result<(), ApiError> {
    let fits = (8..=64).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        && !key.starts_with('0');
    if fits {
        Ok(())
    } else {
        Err(ApiError::invalid_value("Value for parameter PreSharedKey is invalid."))
    }
}

fn customer_gateway_not_found(id: &CustomerGatewayId) -> ApiError {
    ApiError::not_found("InvalidCustomerGatewayID.NotFound", "customerGateway", id.as_str())
}

fn vpn_gateway_not_found(id: &VpnGatewayId) -> ApiError {
    ApiError::not_found("InvalidVpnGatewayID.NotFound", "vpnGateway", id.as_str())
}

fn vpn_connection_not_found(id: &VpnConnectionId) -> ApiError {
    ApiError::not_found("InvalidVpnConnectionID.NotFound", "vpnConnection", id.as_str())
}

impl Model {
    // ---- customer gateways -----------------------------------------------------------

    /// All customer gateways.
    pub fn customer_gateways(&self) -> impl Iterator<Item = &CustomerGateway> {
        self.customer_gateways.values()
    }

    /// A customer gateway by id.
    pub fn customer_gateway(&self, id: &CustomerGatewayId) -> Result<&CustomerGateway, ApiError> {
        self.customer_gateways.get(id).ok_or_else(|| customer_gateway_not_found(id))
    }

    /// Customer gateways deleted less than an hour before `now`, each with when.
    pub fn deleted_customer_gateways(
        &self,
        now: u64,
    ) -> impl Iterator<Item = (&CustomerGateway, u64)> {
        self.deleted_customer_gateways.listed(now)
    }

    /// CreateCustomerGateway at `at` (Unix seconds): a gateway identical to a live one
    /// (same address, ASN and device name) is that one.
    pub fn create_customer_gateway(
        &mut self,
        spec: CustomerGatewaySpec,
        tags: Tags,
        at: u64,
    ) -> CustomerGatewayId {
        if let Some(same) = self.customer_gateways.values().find(|g| g.spec == spec) {
            return same.id.clone();
        }
        let id = CustomerGatewayId::from_raw(self.ids.fresh(CustomerGatewayId::PREFIX));
        let gateway = CustomerGateway { id: id.clone(), spec, created_at: at, tags };
        self.customer_gateways.insert(id.clone(), gateway);
        id
    }

    /// DeleteCustomerGateway at `at`: refused while a VPN connection uses it.
    pub fn delete_customer_gateway(
        &mut self,
        id: &CustomerGatewayId,
        at: u64,
    ) -> Result<(), ApiError> {
        self.customer_gateway(id)?;
        if self.vpn_connections.values().any(|c| &c.spec.customer_gateway == id) {
            return Err(ApiError::new("IncorrectState", "The customer gateway is in use."));
        }
        if let Some(g) = self.customer_gateways.remove(id) {
            self.deleted_customer_gateways.insert(id.clone(), g, at);
        }
        Ok(())
    }

    // ---- virtual private gateways ----------------------------------------------------

    /// All virtual private gateways.
    pub fn vpn_gateways(&self) -> impl Iterator<Item = &VpnGateway> {
        self.vpn_gateways.values()
    }

    /// A virtual private gateway by id.
    pub fn vpn_gateway(&self, id: &VpnGatewayId) -> Result<&VpnGateway, ApiError> {
        self.vpn_gateways.get(id).ok_or_else(|| vpn_gateway_not_found(id))
    }

    /// Virtual private gateways deleted less than an hour before `now`, each with when.
    pub fn deleted_vpn_gateways(&self, now: u64) -> impl Iterator<Item = (&VpnGateway, u64)> {
        self.deleted_vpn_gateways.listed(now)
    }

    /// The virtual private gateway attached to `vpc`, if any.
    pub fn vpn_gateway_of(&self, vpc: &VpcId) -> Option<&VpnGateway> {
        self.vpn_gateways.values().find(|g| g.attached_to() == Some(vpc))
    }

    /// CreateVpnGateway at `at`: `AmazonSideAsn` (64512 when `None`) and the zone, if
    /// named.
    pub fn create_vpn_gateway(
        &mut self,
        amazon_side_asn: Option<u64>,
        zone: Option<&str>,
        tags: Tags,
        at: u64,
    ) -> Result<VpnGatewayId, ApiError> {
        let amazon_side_asn = amazon_side_asn.map_or(Ok(DEFAULT_AMAZON_ASN), check_amazon_asn)?;
        if let Some(zone) = zone.filter(|z| !ZONES.contains(z)) {
            return Err(ApiError::invalid_value(format!(
                "Value ({zone}) for parameter availabilityZone is invalid. Valid zones: {}.",
                ZONES.join(", ")
            )));
        }
        let id = VpnGatewayId::from_raw(self.ids.fresh(VpnGatewayId::PREFIX));
        let gateway = VpnGateway {
            id: id.clone(),
            amazon_side_asn,
            zone: zone.map(str::to_owned),
            attachment: None,
            created_at: at,
            tags,
        };
        self.vpn_gateways.insert(id.clone(), gateway);
        Ok(id)
    }

    /// AttachVpnGateway at `at`: one virtual private gateway per VPC, one VPC per gateway.
    pub fn attach_vpn_gateway(
        &mut self,
        vgw: &VpnGatewayId,
        vpc: &VpcId,
        at: u64,
    ) -> Result<(), ApiError> {
        let gateway = self.vpn_gateway(vgw)?;
        self.vpc(vpc)?;
        if self.vpn_gateway_of(vpc).is_some() {
            return Err(ApiError::new(
                "InvalidVpcState",
                format!("VPC {vpc} is currently attached to the Virtual Private Gateway."),
            ));
        }
        if let Some(other) = gateway.attached_to() {
            return Err(ApiError::new(
                "VpnGatewayAttachmentLimitExceeded",
                format!(
                    "{vgw} is attached to {other}: a virtual private gateway attaches to one \
                     VPC at a time."
                ),
            ));
        }
        let attachment = VgwAttachment { vpc: vpc.clone(), attached: true, since: at };
        if let Some(g) = self.vpn_gateways.get_mut(vgw) {
            g.attachment = Some(attachment);
        }
        Ok(())
    }

    /// DetachVpnGateway at `at`: routes to it in the VPC become blackholes and its
    /// propagated routes leave the VPC's tables.
    pub fn detach_vpn_gateway(
        &mut self,
        vgw: &VpnGatewayId,
        vpc: &VpcId,
        at: u64,
    ) -> Result<(), ApiError> {
        if self.vpn_gateway(vgw)?.attached_to() != Some(vpc) {
            return Err(ApiError::new(
                "InvalidVpnGatewayAttachment.NotFound",
                format!(
                    "The attachment with vpn gateway ID '{vgw}' and vpc ID '{vpc}' does not exist"
                ),
            ));
        }
        if let Some(a) = self.vpn_gateways.get_mut(vgw).and_then(|g| g.attachment.as_mut()) {
            a.attached = false;
            a.since = at;
        }
        Ok(())
    }

    /// DeleteVpnGateway at `at`: refused while attached or while a VPN connection ends on
    /// it. Route tables stop taking propagation from it.
    pub fn delete_vpn_gateway(&mut self, id: &VpnGatewayId, at: u64) -> Result<(), ApiError> {
        let in_use = self.vpn_gateway(id)?.attached_to().is_some()
            || self.vpn_connections.values().any(|c| c.vpn_gateway() == Some(id));
        if in_use {
            return Err(ApiError::new("IncorrectState", "The VPN gateway is in use."));
        }
        for table in self.route_tables.values_mut() {
            table.propagating_vgws.retain(|g| g != id);
        }
        if let Some(g) = self.vpn_gateways.remove(id) {
            self.deleted_vpn_gateways.insert(id.clone(), g, at);
        }
        Ok(())
    }

    // ---- VPN connections -------------------------------------------------------------

    /// All VPN connections.
    pub fn vpn_connections(&self) -> impl Iterator<Item = &VpnConnection> {
        self.vpn_connections.values()
    }

    /// A VPN connection by id.
    pub fn vpn_connection(&self, id: &VpnConnectionId) -> Result<&VpnConnection, ApiError> {
        self.vpn_connections.get(id).ok_or_else(|| vpn_connection_not_found(id))
    }

    /// VPN connections deleted less than an hour before `now`, each with when.
    pub fn deleted_vpn_connections(&self, now: u64) -> impl Iterator<Item = (&VpnConnection, u64)> {
        self.deleted_vpn_connections.listed(now)
    }

    /// The inside CIDRs the tunnels of live connections ending on `end` hold: unique per
    /// virtual private gateway, they may repeat on a transit gateway (and nowhere).
    fn inside_cidrs_taken(&self, end: Option<&VpnEnd>) -> Vec<Ipv4Net> {
        let Some(end @ VpnEnd::VpnGateway(_)) = end else { return Vec::new() };
        self.vpn_connections
            .values()
            .filter(|c| c.spec.end.as_ref() == Some(end))
            .flat_map(|c| c.tunnels.iter().map(|t| t.inside_cidr))
            .collect()
    }

    /// CreateVpnConnection at `at`. A request identical to a live connection's answers
    /// that connection.
    pub fn create_vpn_connection(
        &mut self,
        spec: VpnConnectionSpec,
        tags: Tags,
        at: u64,
    ) -> Result<VpnConnectionId, ApiError> {
        self.customer_gateway(&spec.customer_gateway)?;
        let hub = match &spec.end {
            Some(VpnEnd::VpnGateway(vgw)) => {
                self.vpn_gateway(vgw)?;
                None
            }
            Some(VpnEnd::TransitGateway(tgw)) => Some(self.transit_gateway(tgw)?.clone()),
            None => None,
        };
        let mut given = Vec::new();
        for t in &spec.tunnels {
            if let Some(key) = &t.pre_shared_key {
                check_pre_shared_key(key)?;
            }
            if let Some(cidr) = t.inside_cidr {
                given.push(check_tunnel_inside_cidr(cidr)?);
            }
        }
        if given.len() == 2 && given[0] == given[1] {
            return Err(ApiError::invalid_value(format!(
                "The two tunnels of a VPN connection need different inside CIDRs, not \
                 {} twice.",
                given[0]
            )));
        }
        if let Some(same) = self.vpn_connections.values().find(|c| c.spec == spec) {
            return Ok(same.id.clone());
        }
        let mut taken = self.inside_cidrs_taken(spec.end.as_ref());
        if let Some(cidr) = given.iter().find(|c| taken.contains(c)) {
            return Err(ApiError::invalid_value(format!(
                "The tunnel inside CIDR {cidr} is already used by another VPN connection of \
                 the same virtual private gateway."
            )));
        }
        taken.extend(&given);
        let mut outside = Vec::with_capacity(2);
        for _ in 0..2 {
            outside.push(self.free_public_ip(true, &outside)?);
        }
        let mut tunnels = Vec::with_capacity(2);
        for (t, outside_ip) in spec.tunnels.iter().zip(outside) {
            let inside_cidr = match t.inside_cidr {
                Some(cidr) => cidr,
                None => self.random_inside_cidr(&taken)?,
            };
            taken.push(inside_cidr);
            let pre_shared_key = match &t.pre_shared_key {
                Some(key) => key.clone(),
                None => self.random_pre_shared_key(),
            };
            tunnels.push(VpnTunnel { outside_ip, inside_cidr, pre_shared_key });
        }
        let tunnels: [VpnTunnel; 2] = tunnels.try_into().expect("two tunnels");
        let id = VpnConnectionId::from_raw(self.ids.fresh(VpnConnectionId::PREFIX));
        let tgw_attachment = hub.map(|gateway| {
            let resource = AttachmentResource::Vpn { connection: id.clone() };
            self.insert_tgw_attachment(&gateway, resource, Tags::new(), at)
        });
        let connection = VpnConnection {
            id: id.clone(),
            spec,
            tunnels,
            routes: Vec::new(),
            tgw_attachment,
            created_at: at,
            tags,
            live: Default::default(),
        };
        self.vpn_connections.insert(id.clone(), connection);
        Ok(id)
    }

    /// ModifyVpnTunnelOptions: the tunnel of connection `id` whose AWS outside address is
    /// `outside_ip` takes a new inside CIDR and/or pre-shared key, checked as at
    /// creation (the inside CIDR unique among the gateway's connections and different
    /// from the other tunnel's). The tunnel is replaced: it goes down and comes back with
    /// them (a customer gateway configured with the old ones stays down).
    pub fn modify_vpn_tunnel(
        &mut self,
        id: &VpnConnectionId,
        outside_ip: Ipv4Addr,
        inside_cidr: Option<Ipv4Net>,
        pre_shared_key: Option<String>,
    ) -> Result<(), ApiError> {
        let c = self.vpn_connection(id)?;
        let Some(index) = c.tunnels.iter().position(|t| t.outside_ip == outside_ip) else {
            return Err(ApiError::invalid_value(format!(
                "The VPN tunnel outside IP address {outside_ip} does not belong to VPN \
                 connection {id}."
            )));
        };
        if let Some(key) = &pre_shared_key {
            check_pre_shared_key(key)?;
        }
        if let Some(cidr) = inside_cidr {
            let cidr = check_tunnel_inside_cidr(cidr)?;
            let other = &c.tunnels[1 - index];
            let taken = self
                .inside_cidrs_taken(c.spec.end.as_ref())
                .into_iter()
                .filter(|t| *t != c.tunnels[index].inside_cidr);
            if other.inside_cidr == cidr || taken.into_iter().any(|t| t == cidr) {
                return Err(ApiError::invalid_value(format!(
                    "The tunnel inside CIDR {cidr} is already used by another tunnel of the \
                     same virtual private gateway."
                )));
            }
        }
        let Some(c) = self.vpn_connections.get_mut(id) else { return Ok(()) };
        let tunnel = &mut c.tunnels[index];
        if let Some(cidr) = inside_cidr {
            tunnel.inside_cidr = cidr.trunc();
        }
        if let Some(key) = pre_shared_key {
            tunnel.pre_shared_key = key;
        }
        // Replaced: down until its daemons report it again.
        c.live[index] = TunnelLive::default();
        Ok(())
    }

    /// A free inside /30 for a tunnel, not among `taken`, picked from the seed.
    fn random_inside_cidr(&mut self, taken: &[Ipv4Net]) -> Result<Ipv4Net, ApiError> {
        const BLOCKS: u32 = 1 << 14;
        let base = u32::from(INSIDE_RANGE.network());
        let start = (self.ids.draw() % u64::from(BLOCKS)) as u32;
        (0..BLOCKS)
            .map(|i| {
                let block = base + ((start + i) % BLOCKS) * 4;
                Ipv4Net::new(Ipv4Addr::from(block), 30).expect("a /30")
            })
            .find(|c| !RESERVED_INSIDE.contains(&c.network()) && !taken.contains(c))
            .ok_or_else(|| {
                ApiError::invalid_value("No tunnel inside CIDR is left in 169.254.0.0/16.")
            })
    }

    /// A pre-shared key as AWS makes one: 32 letters and digits (not starting with `0`),
    /// from the seed.
    fn random_pre_shared_key(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut key = String::with_capacity(32);
        while key.len() < 32 {
            let mut bits = self.ids.draw();
            // Ten characters from each draw: 62^10 < 2^64.
            for _ in 0..10 {
                let c = ALPHABET[(bits % 62) as usize] as char;
                bits /= 62;
                if key.len() < 32 && !(key.is_empty() && c == '0') {
                    key.push(c);
                }
            }
        }
        key
    }

    /// DeleteVpnConnection at `at`: its routes leave the route tables, its transit gateway
    /// attachment goes with it. It stays listed, deleted, for an hour; deleting it again
    /// is `…NotFound`, as on AWS.
    pub fn delete_vpn_connection(&mut self, id: &VpnConnectionId, at: u64) -> Result<(), ApiError> {
        let connection =
            self.vpn_connections.remove(id).ok_or_else(|| vpn_connection_not_found(id))?;
        if let Some(attachment) = &connection.tgw_attachment {
            self.retire_tgw_attachment(attachment, at);
        }
        self.deleted_vpn_connections.insert(id.clone(), connection, at);
        Ok(())
    }

    /// The connection `id` for CreateVpnConnectionRoute and DeleteVpnConnectionRoute: one
    /// with static routes only, on a virtual private gateway.
    fn static_vpn_connection(&self, id: &VpnConnectionId) -> Result<&VpnConnection, ApiError> {
        let c = self.vpn_connection(id)?;
        if c.vpn_gateway().is_none() {
            return Err(ApiError::new(
                "InvalidVpnConnection.InvalidType",
                format!(
                    "{id} has no virtual private gateway: static VPN routes need one (on a \
                     transit gateway, static routes are the gateway's: \
                     CreateTransitGatewayRoute to the connection's attachment)."
                ),
            ));
        }
        if !c.spec.static_routes_only {
            return Err(ApiError::new(
                "InvalidVpnConnection.InvalidType",
                format!(
                    "{id} routes by BGP (StaticRoutesOnly is false): it takes no static routes."
                ),
            ));
        }
        Ok(c)
    }

    /// CreateVpnConnectionRoute.
    pub fn create_vpn_connection_route(
        &mut self,
        id: &VpnConnectionId,
        destination: Ipv4Net,
    ) -> Result<(), ApiError> {
        let destination = destination.trunc();
        let c = self.static_vpn_connection(id)?;
        if c.routes.contains(&destination) {
            return Err(ApiError::new(
                "RouteAlreadyExists",
                format!("The route {destination} already exists in {id}."),
            ));
        }
        if c.routes.len() >= MAX_VPN_STATIC_ROUTES {
            return Err(ApiError::new(
                "RouteLimitExceeded",
                format!(
                    "The maximum number of static routes ({MAX_VPN_STATIC_ROUTES}) has been \
                     reached for {id}."
                ),
            ));
        }
        if let Some(c) = self.vpn_connections.get_mut(id) {
            c.routes.push(destination);
        }
        Ok(())
    }

    /// DeleteVpnConnectionRoute.
    pub fn delete_vpn_connection_route(
        &mut self,
        id: &VpnConnectionId,
        destination: Ipv4Net,
    ) -> Result<(), ApiError> {
        let destination = destination.trunc();
        if !self.static_vpn_connection(id)?.routes.contains(&destination) {
            return Err(ApiError::new(
                "InvalidRoute.NotFound",
                format!("The route {destination} does not exist in {id}."),
            ));
        }
        if let Some(c) = self.vpn_connections.get_mut(id) {
            c.routes.retain(|r| *r != destination);
        }
        Ok(())
    }

    /// The prefixes virtual private gateway `vgw` knows: its connections' static routes
    /// while one of their tunnels is up (AWS withdraws a connection's routes while its
    /// tunnels are down), then the routes BGP learned over tunnels that are up, in the
    /// order of the connections' ids (duplicates possible; callers keep the first).
    pub fn vgw_prefixes<'a>(&'a self, vgw: &'a VpnGatewayId) -> impl Iterator<Item = Ipv4Net> + 'a {
        self.vpn_connections
            .values()
            .filter(move |c| c.vpn_gateway() == Some(vgw))
            .flat_map(|c| c.static_routes_in_force().chain(c.learned_routes()))
    }

    /// Records what connection `id`'s tunnels' daemons report, stamping a changed status
    /// with `now`. Returns whether anything changed (a connection that is gone changes
    /// nothing).
    pub fn report_vpn_tunnels(
        &mut self,
        id: &VpnConnectionId,
        live: [TunnelLive; 2],
        now: u64,
    ) -> bool {
        let Some(c) = self.vpn_connections.get_mut(id) else { return false };
        let bgp = !c.spec.static_routes_only;
        let mut changed = false;
        for (old, mut new) in c.live.iter_mut().zip(live) {
            // `lastStatusChange` is the status's (UP or DOWN), not IPsec's alone.
            new.since = if new.up(bgp) == old.up(bgp) { old.since } else { now };
            if *old != new {
                *old = new;
                changed = true;
            }
        }
        changed
    }

    // ---- propagation -----------------------------------------------------------------

    /// EnableVgwRoutePropagation: the gateway must be attached to the table's VPC.
    /// Enabling it again changes nothing.
    pub fn enable_vgw_route_propagation(
        &mut self,
        table: &RouteTableId,
        vgw: &VpnGatewayId,
    ) -> Result<(), ApiError> {
        self.check_target(table, &RouteTarget::VpnGateway(vgw.clone()))?;
        if let Some(t) = self.route_tables.get_mut(table) {
            if !t.propagating_vgws.contains(vgw) {
                t.propagating_vgws.push(vgw.clone());
            }
        }
        Ok(())
    }

    /// DisableVgwRoutePropagation. Disabling one that is not enabled changes nothing.
    pub fn disable_vgw_route_propagation(
        &mut self,
        table: &RouteTableId,
        vgw: &VpnGatewayId,
    ) -> Result<(), ApiError> {
        self.route_table(table)?;
        self.vpn_gateway(vgw)?;
        if let Some(t) = self.route_tables.get_mut(table) {
            t.propagating_vgws.retain(|g| g != vgw);
        }
        Ok(())
    }

    // ---- the customer gateway's configuration ----------------------------------------

    /// The `CustomerGatewayConfiguration` of live connection `c`: the XML document AWS
    /// gives for configuring the customer gateway device (its structure as in AWS's
    /// replies; the proposal it names is AWS's legacy one, SHA1, AES-128 and DH group 2,
    /// whatever else the tunnels accept, as AWS's does).
    pub fn customer_gateway_configuration(&self, c: &VpnConnection) -> Result<String, ApiError> {
        let cgw = &self.customer_gateway(&c.spec.customer_gateway)?.spec;
        let (gateway, amazon_asn) = match &c.spec.end {
            Some(VpnEnd::VpnGateway(vgw)) => {
                (Some(vgw.to_string()), self.vpn_gateway(vgw)?.amazon_side_asn)
            }
            // AWS's documents for a transit gateway's connection leave the element empty.
            Some(VpnEnd::TransitGateway(tgw)) => {
                (None, self.transit_gateway(tgw)?.options.amazon_side_asn)
            }
            None => (None, DEFAULT_AMAZON_ASN),
        };
        let bgp = !c.spec.static_routes_only;
        let mut doc = Doc::default();
        doc.line(format_args!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        doc.line(format_args!("<vpn_connection id=\"{}\">", c.id));
        doc.depth += 1;
        doc.leaf("customer_gateway_id", &c.spec.customer_gateway);
        match &gateway {
            Some(vgw) => doc.leaf("vpn_gateway_id", vgw),
            None => doc.line(format_args!("<vpn_gateway_id />")),
        }
        doc.leaf("vpn_connection_type", "ipsec.1");
        if !bgp {
            doc.leaf("vpn_connection_attributes", "NoBGPVPNConnection");
        }
        for t in &c.tunnels {
            doc.node("ipsec_tunnel", |doc| {
                let ends = [
                    ("customer_gateway", cgw.ip_address, t.customer_inside_ip(), cgw.bgp_asn),
                    ("vpn_gateway", t.outside_ip, t.aws_inside_ip(), amazon_asn),
                ];
                for (side, outside, inside, asn) in ends {
                    doc.node(side, |doc| {
                        doc.node("tunnel_outside_address", |doc| doc.leaf("ip_address", outside));
                        doc.node("tunnel_inside_address", |doc| {
                            doc.leaf("ip_address", inside);
                            doc.leaf("network_mask", "255.255.255.252");
                            doc.leaf("network_cidr", 30);
                        });
                        if bgp {
                            doc.node("bgp", |doc| {
                                doc.leaf("asn", asn);
                                doc.leaf("hold_time", 30);
                            });
                        }
                    });
                }
                doc.node("ike", |doc| {
                    doc.leaf("authentication_protocol", "sha1");
                    doc.leaf("encryption_protocol", "aes-128-cbc");
                    doc.leaf("lifetime", 28800);
                    doc.leaf("perfect_forward_secrecy", "group2");
                    doc.leaf("mode", "main");
                    doc.leaf("pre_shared_key", &t.pre_shared_key);
                });
                doc.node("ipsec", |doc| {
                    doc.leaf("protocol", "esp");
                    doc.leaf("authentication_protocol", "hmac-sha1-96");
                    doc.leaf("encryption_protocol", "aes-128-cbc");
                    doc.leaf("lifetime", 3600);
                    doc.leaf("perfect_forward_secrecy", "group2");
                    doc.leaf("mode", "tunnel");
                    doc.leaf("clear_df_bit", true);
                    doc.leaf("fragmentation_before_encryption", true);
                    doc.leaf("tcp_mss_adjustment", 1379);
                    doc.node("dead_peer_detection", |doc| {
                        doc.leaf("interval", 10);
                        doc.leaf("retries", 3);
                    });
                });
            });
        }
        doc.depth -= 1;
        doc.line(format_args!("</vpn_connection>"));
        Ok(doc.out)
    }

    /// The tags of a customer gateway, virtual private gateway or VPN connection `id`.
    pub(crate) fn vpn_tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        if let Some(id) = CustomerGatewayId::parse(id) {
            return self.customer_gateways.get_mut(&id).map(|g| &mut g.tags);
        }
        if let Some(id) = VpnGatewayId::parse(id) {
            return self.vpn_gateways.get_mut(&id).map(|g| &mut g.tags);
        }
        let id = VpnConnectionId::parse(id)?;
        self.vpn_connections.get_mut(&id).map(|c| &mut c.tags)
    }
}

/// An indented XML document, one element a line, two spaces a level (as AWS's
/// configuration documents are laid out). Values are addresses, ids, numbers and keys of
/// letters, digits, `.` and `_`: nothing to escape.
#[derive(Default)]
struct Doc {
    out: String,
    depth: usize,
}

impl Doc {
    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        let _ = self.out.write_fmt(text);
    }

    fn leaf(&mut self, name: &str, value: impl Display) {
        self.line(format_args!("<{name}>{value}</{name}>"));
    }

    fn node(&mut self, name: &str, body: impl FnOnce(&mut Self)) {
        self.line(format_args!("<{name}>"));
        self.depth += 1;
        body(self);
        self.depth -= 1;
        self.line(format_args!("</{name}>"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn inside_cidrs_are_free_30s_of_link_local() {
        assert!(check_tunnel_inside_cidr(net("169.254.10.0/30")).is_ok());
        assert!(check_tunnel_inside_cidr(net("169.254.169.248/30")).is_ok());
        for bad in ["169.254.10.0/29", "169.254.10.1/30", "10.0.0.0/30", "169.254.10.0/31"] {
            let e = check_tunnel_inside_cidr(net(bad)).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue", "{bad}");
            assert!(e.message.contains("must be a /30"), "{bad}: {}", e.message);
        }
        for reserved in ["169.254.0.0/30", "169.254.5.0/30", "169.254.169.252/30"] {
            let e = check_tunnel_inside_cidr(net(reserved)).unwrap_err();
            assert!(e.message.contains("reserved"), "{reserved}: {}", e.message);
        }
    }

    #[test]
    fn pre_shared_keys_follow_aws_rules() {
        for good in ["abcdefgh", "A.b_c.d_1234", &"k".repeat(64)] {
            assert!(check_pre_shared_key(good).is_ok(), "{good}");
        }
        for bad in ["short", "0abcdefgh", "abc-defgh", "abc+defgh", &"k".repeat(65), "abcdéfgh"] {
            let e = check_pre_shared_key(bad).unwrap_err();
            assert_eq!(e.message, "Value for parameter PreSharedKey is invalid.", "{bad}");
        }
    }

    #[test]
    fn customer_gateway_asns() {
        let ip = Ipv4Addr::new(198, 51, 100, 2);
        let spec = CustomerGatewaySpec::new(ip, None, None, None).unwrap();
        assert_eq!((spec.bgp_asn, spec.asn_extended), (65000, false));
        let spec = CustomerGatewaySpec::new(ip, None, Some(4_000_000_000), None).unwrap();
        assert_eq!((spec.bgp_asn, spec.asn_extended), (4_000_000_000, true));
        let code = |a, e| CustomerGatewaySpec::new(ip, a, e, None).unwrap_err().code;
        assert_eq!(code(Some(0), None), "InvalidParameterValue");
        assert_eq!(code(Some(2_147_483_648), None), "InvalidParameterValue");
        assert_eq!(code(None, Some(65000)), "InvalidParameterValue");
        assert_eq!(code(Some(65000), Some(4_000_000_000)), "InvalidParameterCombination");
        let long = Some("d".repeat(256));
        assert!(CustomerGatewaySpec::new(ip, None, None, long).is_err());
    }
}
