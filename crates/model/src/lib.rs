//! vpclab's VPC resources: what exists, what may be created, and AWS's answer when a
//! request is refused.
//!
//! The [`Model`] is the single source of truth both front-ends drive (the topology file
//! of `vpclab up` and, later, the EC2 API). It is plain data with no I/O: every change
//! is a method that validates first and mutates only when valid, so a refused request
//! leaves the model exactly as it was. The data plane compiles a snapshot from it.
//!
//! Semantics follow AWS (sources in the project's reference notes):
//!
//! * VPC: one primary IPv4 CIDR, /16 to /28, canonicalised (`10.0.0.7/16` is stored as
//!   `10.0.0.0/16`); a main route table with the `local` route comes with it.
//! * Subnet: inside its VPC's CIDR, /16 to /28, no overlap, in a zone of the region; the
//!   first four and the last address are reserved (network, router, DNS, future,
//!   broadcast).
//! * Route tables: the main table serves every subnet without an explicit association;
//!   the `local` route cannot be removed; a destination equal to or inside the VPC CIDR
//!   cannot target a gateway; one route per destination.
//! * Internet gateway: attached to at most one VPC, a VPC has at most one; detaching
//!   is refused while public addresses are mapped in the VPC.
//! * Public IPs and Elastic IPs come from 203.0.113.0/24 (RFC 5737), from its bottom up;
//!   VPN tunnels' outside addresses on AWS's side from the same range, from its top down.

#![forbid(unsafe_code)]

mod acl;
pub mod base64;
mod departed;
mod dhcp;
mod endpoint;
mod error;
mod flowlog;
mod hostnames;
mod ids;
mod ipv6;
mod keypair;
mod launch_template;
mod model;
mod onprem;
mod peering;
mod prefix_list;
mod security;
mod shared;
mod stored;
mod transit;
mod vpn;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub use acl::{
    AclEntry, DEFAULT_IPV6_RULE, IPV6_DENY_RULE, MAX_ACL_ENTRIES, MAX_RULE_NUMBER, NetworkAcl,
    NetworkAclAssociationId, NetworkAclId,
};
pub use dhcp::{
    AMAZON_DNS_IPV6, AMAZON_PROVIDED_DNS, DEFAULT_DHCP_OPTIONS, DhcpOptions, DhcpOptionsId,
};
pub use endpoint::{
    EndpointName, INTERFACE_SERVICES, InterfaceEndpoint, InterfaceService, PREFIX_LISTS,
    VpcEndpoint, VpcEndpointId, interface_service,
};
pub use error::ApiError;
pub use flowlog::{Created, FlowLog, FlowLogId, FlowLogResource, FlowLogSpec, TrafficType};
pub use hostnames::{DnsNameChange, DnsNameOptions, HostnameType};
pub use ids::{
    AllocationId, AssociationId, EgressOnlyInternetGatewayId, InstanceId, InternetGatewayId,
    KeyPairId, NatGatewayId, NetworkInterfaceId, RouteTableAssociationId, RouteTableId, SubnetId,
    VpcId,
};
pub use ipv6::{
    AMAZON_IPV6_POOL, EgressOnlyInternetGateway, Ipv6Block, Ipv6BlockState, Ipv6Request,
    MAX_IPV6_CIDRS_PER_VPC, MAX_IPV6_PER_INTERFACE, RouteFamily,
};
pub use keypair::KeyPair;
pub use launch_template::{
    LAUNCH_TEMPLATE_MEMBERS, LaunchTemplate, LaunchTemplateId, LaunchTemplateVersion,
    MAX_LAUNCH_TEMPLATE_VERSIONS, VersionOutcome, check_launch_template_data, overlay_parameters,
};
pub use model::{MAX_CIDRS_PER_VPC, MAX_INTERFACES_PER_INSTANCE, MAX_ROUTES_PER_TABLE, MAX_TAGS};
pub use model::{Model, NatConnectivity, NatGatewaySpec, PUBLIC_POOL, RouteSpec, RunInstance};
pub use onprem::{
    DEFAULT_SITE_ASN, MAX_HOST_NAME, MAX_SITE_CIDRS, MAX_SITE_HOSTS, MAX_SITE_NAME, OnpremHost,
    OnpremHostSpec, OnpremSite, OnpremSiteSpec, SITE_PREFIXES, SITE_PUBLIC_RANGE, SiteError,
    SiteField, parse_address, parse_site_cidr,
};
pub use peering::{PeeringConnection, PeeringStatus, VpcPeeringConnectionId};
pub use prefix_list::{
    MAX_PREFIX_LIST_ENTRIES, ManagedPrefixList, PrefixListChange, PrefixListEntry, PrefixListId,
};
pub use security::{
    MAX_GROUPS_PER_INTERFACE, MAX_RULES_PER_GROUP, Peer, Protocol, SecurityGroup, SecurityGroupId,
    SgRule,
};
pub use stored::{InstanceChanges, Part, Record, StoredError, WHOLE};
pub use transit::{
    AttachmentResource, DEFAULT_AMAZON_ASN, PeeringAttachmentState, TGW_GONE_LISTED_S,
    TgwAttachment, TgwAttachmentId, TgwOptions, TgwRoute, TgwRouteTable, TgwRouteTableId,
    TgwRouteType, TgwStaticRoute, TransitGateway, TransitGatewayId, VpcAttachmentOptions,
    check_amazon_asn,
};
pub use vpn::{
    CustomerGateway, CustomerGatewayId, CustomerGatewaySpec, DEFAULT_CUSTOMER_ASN,
    MAX_VPN_STATIC_ROUTES, TunnelLive, TunnelSpec, VPN_GONE_LISTED_S, VgwAttachment, VpnConnection,
    VpnConnectionId, VpnConnectionSpec, VpnEnd, VpnGateway, VpnGatewayId, VpnTunnel,
    check_pre_shared_key, check_tunnel_inside_cidr,
};

/// Tags as AWS keeps them: key to value, `Name` among them.
pub type Tags = BTreeMap<String, String>;

/// AWS's adjustable quotas (Service Quotas) a lab can reach, at AWS's defaults; a lab
/// may raise them as an account can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quotas {
    /// Inbound (and, apart, outbound) rules per security group.
    pub rules_per_group: usize,
    /// Security groups per network interface.
    pub groups_per_interface: usize,
    /// Routes per route table besides the `local` ones.
    pub routes_per_table: usize,
    /// Entries per network ACL and direction.
    pub acl_entries: usize,
    /// IPv4 CIDRs per VPC, the primary among them.
    pub cidrs_per_vpc: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            rules_per_group: MAX_RULES_PER_GROUP,
            groups_per_interface: MAX_GROUPS_PER_INTERFACE,
            routes_per_table: MAX_ROUTES_PER_TABLE,
            acl_entries: MAX_ACL_ENTRIES,
            cidrs_per_vpc: MAX_CIDRS_PER_VPC,
        }
    }
}

/// The region vpclab pretends to be.
pub const REGION: &str = "us-east-1";

/// The region's availability zones.
pub const ZONES: [&str; 6] =
    ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"];

/// A VPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    /// `vpc-…`
    pub id: VpcId,
    /// The primary IPv4 CIDR, canonical.
    pub cidr: Ipv4Net,
    /// The table subnets use unless explicitly associated with another.
    pub main_route_table: RouteTableId,
    /// The group named `default` every VPC has.
    #[serde(default)]
    pub default_security_group: Option<SecurityGroupId>,
    /// `enableDnsSupport`: the Amazon DNS server (VPC base + 2, 169.254.169.253) answers
    /// the VPC's instances. AWS's default: true.
    #[serde(default = "yes")]
    pub dns_support: bool,
    /// `enableDnsHostnames`: instances with public IPs get public DNS names
    /// (`ec2-…compute-1.amazonaws.com`). AWS's default outside the default VPC: false.
    #[serde(default)]
    pub dns_hostnames: bool,
    /// The Region's default VPC (CreateDefaultVpc): instances launched without a
    /// subnet go into its default subnets.
    #[serde(default)]
    pub is_default: bool,
    /// The DHCP options set its instances get, or none (`default` in
    /// AssociateDhcpOptions). New VPCs, and VPCs from state before sets existed, use the
    /// account's default set.
    #[serde(default = "dhcp::default_choice")]
    pub dhcp_options: Option<DhcpOptionsId>,
    /// Secondary IPv4 CIDRs (AssociateVpcCidrBlock), in the order they came.
    #[serde(default)]
    pub secondary_cidrs: Vec<CidrAssociation>,
    /// IPv6 CIDRs (Amazon-provided /56s), in the order they came; a disassociated one
    /// stays listed, as AWS lists it for a while (see [`Ipv6Block`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_blocks: Vec<Ipv6Block>,
    /// Tags.
    pub tags: Tags,
}

/// A secondary IPv4 CIDR of a VPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidrAssociation {
    /// `vpc-cidr-assoc-…`
    pub id: String,
    /// The block, canonical.
    pub cidr: Ipv4Net,
}

fn yes() -> bool {
    true
}

/// A subnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// `subnet-…`
    pub id: SubnetId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Its IPv4 CIDR, canonical, inside the VPC's; none in an IPv6-only (`Ipv6Native`)
    /// subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Ipv4Net>,
    /// Availability zone, e.g. `us-east-1a`.
    pub zone: String,
    /// Whether instances launched here get a public IP by default.
    pub map_public_ip_on_launch: bool,
    /// A default subnet of the default VPC: where a launch without a subnet goes.
    #[serde(default)]
    pub default_for_az: bool,
    /// CIDR reservations: blocks automatic assignment leaves alone.
    #[serde(default)]
    pub reservations: Vec<CidrReservation>,
    /// Its IPv6 CIDR (at most one associated), and the last one disassociated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_blocks: Vec<Ipv6Block>,
    /// `AssignIpv6AddressOnCreation`: instances launched here get an IPv6 address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assign_ipv6_on_creation: bool,
    /// `EnableDns64`: the Amazon DNS server synthesises `64:ff9b::/96` AAAA records
    /// for names with only A records, for queries from this subnet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_dns64: bool,
    /// `PrivateDnsNameOptionsOnLaunch`: the hostname options instances launched here
    /// get unless their launch names its own.
    #[serde(default, skip_serializing_if = "DnsNameOptions::is_default")]
    pub dns_names_on_launch: DnsNameOptions,
    /// Tags.
    pub tags: Tags,
}

/// A network interface of one's own (CreateNetworkInterface), free or attached to an
/// instance as a secondary interface (`eth1`, …); an instance's primary interface is
/// held by the [`Instance`] itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterface {
    /// `eni-…`
    pub id: NetworkInterfaceId,
    /// Its subnet.
    pub subnet: SubnetId,
    /// The subnet's VPC.
    pub vpc: VpcId,
    /// Its primary private address; none in an IPv6-only subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<Ipv4Addr>,
    /// Its IPv6 addresses, from the subnet's IPv6 block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<Ipv6Addr>,
    /// Its security groups.
    pub security_groups: Vec<SecurityGroupId>,
    /// Its description.
    pub description: String,
    /// Its connection-tracking timeouts, if set (`ConnectionTrackingSpecification`).
    #[serde(default)]
    pub connection_tracking: Option<ConnectionTracking>,
    /// `sourceDestCheck` (on by default).
    #[serde(default = "yes")]
    pub source_dest_check: bool,
    /// Its attachment to an instance, if attached.
    #[serde(default)]
    pub attachment: Option<InterfaceAttachment>,
    /// Tags.
    pub tags: Tags,
}

/// A network interface's attachment to an instance (AttachNetworkInterface).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAttachment {
    /// `eni-attach-…`
    pub id: String,
    /// The instance.
    pub instance: InstanceId,
    /// Its device index: 1 is `eth1` in the instance, and so on.
    pub device_index: u32,
    /// Seconds since the Unix epoch at attachment.
    pub attached_at: u64,
}

impl NetworkInterface {
    /// The device it is inside its instance (`eth1`, …), if attached.
    pub fn device(&self) -> Option<String> {
        self.attachment.as_ref().map(|a| format!("eth{}", a.device_index))
    }
}

/// A requester-managed network interface in a subnet — a transit gateway's in an
/// attachment subnet, an interface endpoint's — holding one of its addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedInterface {
    /// The subnet.
    pub subnet: SubnetId,
    /// The interface.
    pub interface: NetworkInterfaceId,
    /// Its address in the subnet.
    pub private_ip: Ipv4Addr,
}

/// A subnet CIDR reservation (CreateSubnetCidrReservation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CidrReservation {
    /// `scr-…`
    pub id: String,
    /// The block, canonical, inside the subnet.
    pub cidr: Ipv4Net,
    /// `explicit` (addresses assigned by hand) or `prefix` (delegated as prefixes).
    pub kind: String,
    /// Its description.
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

impl Vpc {
    /// Its IPv4 CIDRs, the primary first.
    pub fn cidrs(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        std::iter::once(self.cidr).chain(self.secondary_cidrs.iter().map(|a| a.cidr))
    }

    /// Whether `addr` is in one of its CIDRs.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.cidrs().any(|c| c.contains(&addr))
    }

    /// The association id of its primary CIDR.
    pub fn primary_association(&self) -> String {
        let hex = self.id.as_str().rsplit('-').next().unwrap_or_default();
        format!("vpc-cidr-assoc-{hex}")
    }

    /// The Amazon DNS server's address in this VPC: its base address plus two.
    pub fn dns_server(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.cidr.network()) + 2)
    }
}

impl Subnet {
    /// Whether it is IPv6-only (`Ipv6Native`): no IPv4 block, so no IPv4 addresses.
    pub fn ipv6_native(&self) -> bool {
        self.cidr.is_none()
    }

    /// Its IPv4 CIDR, for `what` needs one; an IPv6-only subnet refuses.
    pub fn ipv4(&self, what: &str) -> Result<Ipv4Net, ApiError> {
        self.cidr.ok_or_else(|| {
            ApiError::invalid_value(format!(
                "The subnet '{}' is IPv6-only (Ipv6Native): it has no IPv4 block for {what}.",
                self.id
            ))
        })
    }

    /// The VPC router's address in this subnet: the network address plus one.
    pub fn router(&self) -> Option<Ipv4Addr> {
        self.cidr.map(|c| Ipv4Addr::from(u32::from(c.network()) + 1))
    }

    /// Whether `addr` is one of the five addresses AWS reserves in every subnet.
    pub fn is_reserved(&self, addr: Ipv4Addr) -> bool {
        self.cidr.is_some_and(|c| {
            let offset = u32::from(addr).wrapping_sub(u32::from(c.network()));
            offset < 4 || addr == c.broadcast()
        })
    }

    /// Number of addresses instances can use: the size minus the five reserved (none in
    /// an IPv6-only subnet, as AWS's `availableIpAddressCount` says).
    pub fn usable_addresses(&self) -> u32 {
        self.cidr.map_or(0, |c| (1u32 << (32 - c.prefix_len())) - 5)
    }
}

/// Where a route sends traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteTarget {
    /// Within the VPC.
    Local,
    /// An internet gateway.
    Gateway(InternetGatewayId),
    /// A NAT gateway.
    NatGateway(NatGatewayId),
    /// A VPC peering connection.
    Peering(VpcPeeringConnectionId),
    /// A gateway VPC endpoint.
    Endpoint(VpcEndpointId),
    /// A transit gateway the VPC is attached to.
    TransitGateway(TransitGatewayId),
    /// A network interface (an instance's, for a NAT instance or an appliance).
    NetworkInterface(NetworkInterfaceId),
    /// A virtual private gateway attached to the VPC (`GatewayId=vgw-…`).
    VpnGateway(VpnGatewayId),
    /// An egress-only internet gateway (IPv6 routes only).
    EgressOnlyGateway(EgressOnlyInternetGatewayId),
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteTarget::Local => f.write_str("local"),
            RouteTarget::Gateway(id) => write!(f, "{id}"),
            RouteTarget::NatGateway(id) => write!(f, "{id}"),
            RouteTarget::Peering(id) => write!(f, "{id}"),
            RouteTarget::Endpoint(id) => write!(f, "{id}"),
            RouteTarget::TransitGateway(id) => write!(f, "{id}"),
            RouteTarget::NetworkInterface(id) => write!(f, "{id}"),
            RouteTarget::VpnGateway(id) => write!(f, "{id}"),
            RouteTarget::EgressOnlyGateway(id) => write!(f, "{id}"),
        }
    }
}

/// How a route came to be, as AWS's `origin` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteOrigin {
    /// Made with the table (the `local` route).
    CreateRouteTable,
    /// Added by the user.
    CreateRoute,
    /// Propagated by a virtual private gateway (never stored: see
    /// [`Model::routes_in_force`]).
    EnableVgwRoutePropagation,
}

impl RouteOrigin {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteOrigin::CreateRouteTable => "CreateRouteTable",
            RouteOrigin::CreateRoute => "CreateRoute",
            RouteOrigin::EnableVgwRoutePropagation => "EnableVgwRoutePropagation",
        }
    }
}

/// One route of a table: IPv4 (`N` = [`Ipv4Net`]) or IPv6 ([`Ipv6Net`]); AWS looks the
/// two families up apart (`0.0.0.0/0` does not cover IPv6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route<N = Ipv4Net> {
    /// The destination, canonical.
    pub destination: N,
    /// The target.
    pub target: RouteTarget,
    /// Its origin.
    pub origin: RouteOrigin,
    /// For a gateway endpoint's route: the prefix list it stands for (its destination
    /// is then the list's CIDR).
    #[serde(default)]
    pub prefix_list: Option<String>,
}

impl<N: std::fmt::Display> Route<N> {
    /// Its destination as AWS names it: the prefix list for a gateway endpoint's route,
    /// the CIDR otherwise.
    pub fn destination_name(&self) -> String {
        self.prefix_list.clone().unwrap_or_else(|| self.destination.to_string())
    }
}

/// A subnet's explicit association with a route table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTableAssociation {
    /// `rtbassoc-…`
    pub id: RouteTableAssociationId,
    /// The subnet.
    pub subnet: SubnetId,
}

/// A route table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    /// `rtb-…`
    pub id: RouteTableId,
    /// Its VPC.
    pub vpc: VpcId,
    /// IPv4 routes, the `local` route first.
    pub routes: Vec<Route>,
    /// IPv6 routes: a `local` one per IPv6 CIDR of the VPC, and those added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_routes: Vec<Route<Ipv6Net>>,
    /// Explicit subnet associations.
    pub associations: Vec<RouteTableAssociation>,
    /// The virtual private gateways whose routes it takes (EnableVgwRoutePropagation),
    /// in the order enabled.
    #[serde(default)]
    pub propagating_vgws: Vec<VpnGatewayId>,
    /// Tags.
    pub tags: Tags,
}

/// An internet gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    /// `igw-…`
    pub id: InternetGatewayId,
    /// The VPC it is attached to.
    pub attached_to: Option<VpcId>,
    /// Tags.
    pub tags: Tags,
}

/// An Elastic IP address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElasticIp {
    /// `eipalloc-…`
    pub allocation_id: AllocationId,
    /// The address, from [`PUBLIC_POOL`].
    pub public_ip: Ipv4Addr,
    /// The instance it is associated with, and the association's id.
    pub association: Option<(AssociationId, InstanceId)>,
    /// The NAT gateway using it, if any.
    #[serde(default)]
    pub nat_gateway: Option<NatGatewayId>,
    /// Tags.
    pub tags: Tags,
}

/// A NAT gateway. Public (`connectivityType` `public`): in a public subnet, with an
/// Elastic IP, translating flows from private subnets to that address on their way to
/// the internet gateway. Private: no Elastic IP; it translates to its own private
/// address, toward a transit gateway (the internet gateway drops what it sends).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGateway {
    /// `nat-…`
    pub id: NatGatewayId,
    /// Its VPC.
    pub vpc: VpcId,
    /// The subnet it lives in; that subnet's route table carries its traffic on.
    pub subnet: SubnetId,
    /// A public gateway's Elastic IP; `None` for a private one.
    #[serde(flatten)]
    pub public: Option<NatPublic>,
    /// Its interface's private address in the subnet: a private gateway's flows leave
    /// with this source.
    pub private_ip: Ipv4Addr,
    /// Why AWS would have failed it (a public gateway in a VPC without an internet
    /// gateway): it then carries nothing, and its routes are blackholes.
    #[serde(default)]
    pub failure: Option<NatFailure>,
    /// Idle timeout in seconds (AWS: 350; vpclab lets labs shorten it).
    pub idle_timeout_s: u32,
    /// Seconds since the Unix epoch at creation (reported as `createTime`).
    #[serde(default)]
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

/// A public NAT gateway's Elastic IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatPublic {
    /// The Elastic IP's allocation.
    pub allocation: AllocationId,
    /// Its address: flows leave with this source.
    pub public_ip: Ipv4Addr,
}

/// Why a NAT gateway failed, as DescribeNatGateways reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatFailure {
    /// `failureCode`, e.g. `Gateway.NotAttached`.
    pub code: String,
    /// `failureMessage`.
    pub message: String,
}

impl NatGateway {
    /// The address its flows leave with: the Elastic IP's for a public gateway, its
    /// own private address for a private one.
    pub fn outside_ip(&self) -> Ipv4Addr {
        self.public.as_ref().map_or(self.private_ip, |p| p.public_ip)
    }

    /// Whether it carries traffic (it did not fail).
    pub fn is_working(&self) -> bool {
        self.failure.is_none()
    }
}

/// AWS's NAT gateway idle timeout, in seconds.
pub const NAT_IDLE_TIMEOUT_S: u32 = 350;

/// Where an instance's public address comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublicIpSource {
    /// Assigned at launch from the pool; released when the instance goes.
    Auto,
    /// An Elastic IP.
    Elastic(AllocationId),
}

/// An instance: on the host, a network namespace named after its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `i-…`
    pub id: InstanceId,
    /// Its primary network interface.
    pub interface: NetworkInterfaceId,
    /// Its subnet.
    pub subnet: SubnetId,
    /// Its subnet's VPC.
    pub vpc: VpcId,
    /// Primary private IPv4 address; none in an IPv6-only subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<Ipv4Addr>,
    /// Its primary interface's IPv6 addresses, from the subnet's IPv6 block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<Ipv6Addr>,
    /// Public IPv4 address mapped to the private one by the internet gateway, if any.
    pub public_ip: Option<(Ipv4Addr, PublicIpSource)>,
    /// Its interface's security groups.
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupId>,
    /// The image it was launched from (any id is accepted; nothing boots).
    #[serde(default)]
    pub image_id: String,
    /// The instance type it was launched as (reported, not enforced).
    #[serde(default)]
    pub instance_type: String,
    /// Seconds since the Unix epoch at launch (reported as `launchTime`).
    #[serde(default)]
    pub launched_at: u64,
    /// How its instance metadata service answers.
    #[serde(default)]
    pub metadata: MetadataOptions,
    /// The key pair it was launched with.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Stopped (StopInstances): it keeps its private address and Elastic IP, loses an
    /// auto-assigned public IP, and has no namespace, device or processes until started.
    #[serde(default)]
    pub stopped: bool,
    /// Whether it had an auto-assigned public IP when stopped (it gets a new one at
    /// start, as on AWS).
    #[serde(default)]
    pub public_ip_on_start: bool,
    /// The reservation (`r-…`) of the launch that made it: the instances of one
    /// RunInstances call share one. Empty in state from before reservations were kept.
    #[serde(default)]
    pub reservation: String,
    /// `disableApiTermination`: TerminateInstances refuses it until this is turned off.
    #[serde(default)]
    pub termination_protected: bool,
    /// Its user data as launched, in base64 (the metadata service serves it decoded).
    #[serde(default)]
    pub user_data: Option<String>,
    /// Its primary interface's connection-tracking timeouts, if set
    /// (`ConnectionTrackingSpecification`); AWS's defaults otherwise.
    #[serde(default)]
    pub connection_tracking: Option<ConnectionTracking>,
    /// `sourceDestCheck` of its primary interface: it may only send from, and receive
    /// to, its own address. On by default; off for NAT instances and appliances.
    #[serde(default = "yes")]
    pub source_dest_check: bool,
    /// `PrivateDnsNameOptions`: its hostname type and which records its resource name
    /// answers.
    #[serde(default, skip_serializing_if = "DnsNameOptions::is_default")]
    pub dns_names: DnsNameOptions,
    /// Tags.
    pub tags: Tags,
}

/// An interface's security-group connection-tracking idle timeouts, in seconds
/// (`ConnectionTrackingSpecification`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnectionTracking {
    /// `TcpEstablishedTimeout`: 60–432,000 s, default 432,000 (5 days).
    pub tcp_established_timeout: u32,
    /// `UdpStreamTimeout`: 60–180 s, default 180.
    pub udp_stream_timeout: u32,
    /// `UdpTimeout`: 30–60 s, default 30.
    pub udp_timeout: u32,
}

impl Default for ConnectionTracking {
    fn default() -> Self {
        Self { tcp_established_timeout: 432_000, udp_stream_timeout: 180, udp_timeout: 30 }
    }
}

impl ConnectionTracking {
    /// These timeouts with those given changed, each checked against AWS's range.
    pub fn with(
        self,
        tcp_established: Option<u32>,
        udp_stream: Option<u32>,
        udp: Option<u32>,
    ) -> Result<Self, ApiError> {
        let check = |name: &str, value: Option<u32>, range: std::ops::RangeInclusive<u32>, now| {
            let Some(value) = value else { return Ok(now) };
            Some(value).filter(|v| range.contains(v)).ok_or_else(|| {
                ApiError::invalid_value(format!(
                    "{name} must be between {} and {} seconds, not {value}",
                    range.start(),
                    range.end()
                ))
            })
        };
        Ok(Self {
            tcp_established_timeout: check(
                "TcpEstablishedTimeout",
                tcp_established,
                60..=432_000,
                self.tcp_established_timeout,
            )?,
            udp_stream_timeout: check(
                "UdpStreamTimeout",
                udp_stream,
                60..=180,
                self.udp_stream_timeout,
            )?,
            udp_timeout: check("UdpTimeout", udp, 30..=60, self.udp_timeout)?,
        })
    }
}

impl Instance {
    /// The `Name` tag, if any.
    pub fn name(&self) -> Option<&str> {
        self.tags.get("Name").map(String::as_str)
    }

    /// Its primary interface's MAC address, derived from the interface id (stable, and
    /// locally administered: the first octet is `0e`, as AWS's are `0a`–`0e`).
    pub fn mac(&self) -> String {
        names::mac(self.interface.as_str())
    }
}

/// The instance metadata service's options for one instance
/// (`InstanceMetadataOptionsRequest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataOptions {
    /// `HttpTokens`: IMDSv2 session tokens required (IMDSv1 refused). Default optional.
    pub tokens_required: bool,
    /// `HttpEndpoint`: the service answers at all. Default enabled.
    pub endpoint_enabled: bool,
    /// `HttpPutResponseHopLimit`: the IP TTL of the token's response, 1 to 64. Default 1.
    pub hop_limit: u8,
    /// `InstanceMetadataTags`: the instance's tags under `meta-data/tags/instance`.
    /// Default disabled.
    pub tags_enabled: bool,
    /// `HttpProtocolIpv6`: the service also answers at its IPv6 address,
    /// `[fd00:ec2::254]`. Default disabled. (Left out of the stored JSON while off.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protocol_ipv6: bool,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        Self {
            tokens_required: false,
            endpoint_enabled: true,
            hop_limit: 1,
            tags_enabled: false,
            protocol_ipv6: false,
        }
    }
}

/// The names AWS gives instances, interfaces and services (us-east-1 forms).
pub mod names {
    use std::net::Ipv4Addr;

    pub use crate::REGION;

    /// The account that owns everything in a lab.
    pub const OWNER_ID: &str = "123456789012";

    /// An instance's private DNS name: `ip-10-0-1-23.ec2.internal`.
    pub fn private_dns(ip: Ipv4Addr) -> String {
        let [a, b, c, d] = ip.octets();
        format!("ip-{a}-{b}-{c}-{d}.ec2.internal")
    }

    /// An instance's resource name: `i-0123456789abcdef0.ec2.internal`.
    pub fn resource_dns(instance: &str) -> String {
        format!("{instance}.ec2.internal")
    }

    /// The instance id a resource name stands for (`i-` and hex digits), if it is one.
    pub fn resource_in(name: &str) -> Option<String> {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let id = name.strip_suffix(".ec2.internal")?;
        let hex = id.strip_prefix("i-")?;
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
    }

    /// An instance's public DNS name: `ec2-203-0-113-5.compute-1.amazonaws.com`.
    pub fn public_dns(ip: Ipv4Addr) -> String {
        let [a, b, c, d] = ip.octets();
        format!("ec2-{a}-{b}-{c}-{d}.compute-1.amazonaws.com")
    }

    /// The address a name of either form stands for, if it is one.
    pub fn address_in(name: &str) -> Option<(Ipv4Addr, bool)> {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let (dashed, public) = if let Some(rest) = name.strip_prefix("ip-") {
            (rest.strip_suffix(".ec2.internal")?.to_owned(), false)
        } else {
            let rest = name.strip_prefix("ec2-")?;
            (rest.strip_suffix(".compute-1.amazonaws.com")?.to_owned(), true)
        };
        let parts: Vec<&str> = dashed.split('-').collect();
        if parts.len() != 4
            || parts.iter().any(|p| p.is_empty() || (p.len() > 1 && p.starts_with('0')))
        {
            return None;
        }
        let octets: Vec<u8> = parts.iter().map(|p| p.parse().ok()).collect::<Option<_>>()?;
        Some((Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]), public))
    }

    /// The MAC address of interface `eni-…`: `0e:` and the id's last ten hex digits.
    pub fn mac(interface: &str) -> String {
        let hex = interface.rsplit('-').next().unwrap_or("0");
        let pair = |i: usize| {
            hex.get(hex.len().saturating_sub(10) + 2 * i..).and_then(|s| s.get(..2)).unwrap_or("00")
        };
        format!("0e:{}:{}:{}:{}:{}", pair(0), pair(1), pair(2), pair(3), pair(4))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_round_trip() {
            let ip = Ipv4Addr::new(10, 0, 1, 23);
            assert_eq!(private_dns(ip), "ip-10-0-1-23.ec2.internal");
            assert_eq!(address_in(&private_dns(ip)), Some((ip, false)));
            let id = "i-0123456789abcdef0";
            assert_eq!(resource_dns(id), "i-0123456789abcdef0.ec2.internal");
            assert_eq!(resource_in("I-0123456789ABCDEF0.ec2.internal.").as_deref(), Some(id));
            assert_eq!(resource_in(&private_dns(ip)), None);
            assert_eq!(resource_in("i-.ec2.internal"), None);
            let public = Ipv4Addr::new(203, 0, 113, 5);
            assert_eq!(public_dns(public), "ec2-203-0-113-5.compute-1.amazonaws.com");
            assert_eq!(
                address_in("EC2-203-0-113-5.compute-1.amazonaws.com."),
                Some((public, true))
            );
            for bad in [
                "ip-10-0-1.ec2.internal",
                "ip-10-0-1-256.ec2.internal",
                "ip-10-00-1-2.ec2.internal",
                "ip-10-0-1-2.example.com",
                "ec2-1-2-3-4.amazonaws.com",
            ] {
                assert_eq!(address_in(bad), None, "{bad}");
            }
            assert_eq!(mac("eni-0123456789abcdef0"), "0e:78:9a:bc:de:f0", "the last ten digits");
        }
    }
}
