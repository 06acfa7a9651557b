//! The resource store and every operation on it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::acl::{NetworkAcl, NetworkAclId};
use crate::endpoint::{VpcEndpoint, VpcEndpointId};
use crate::error::ApiError;
use crate::flowlog::{FlowLog, FlowLogId};
use crate::ids::IdGen;
use crate::peering::{PeeringConnection, PeeringStatus, VpcPeeringConnectionId};
use crate::security::{SecurityGroup, SecurityGroupId};
use crate::shared::Shared;
use crate::{
    AllocationId, AssociationId, ConnectionTracking, EgressOnlyInternetGateway,
    EgressOnlyInternetGatewayId, ElasticIp, Instance, InstanceId, InternetGateway,
    InternetGatewayId, MetadataOptions, NAT_IDLE_TIMEOUT_S, NatGateway, NatGatewayId,
    NetworkInterfaceId, PublicIpSource, Route, RouteFamily, RouteOrigin, RouteTable,
    RouteTableAssociation, RouteTableAssociationId, RouteTableId, RouteTarget, Subnet, SubnetId,
    Tags, Vpc, VpcId, ZONES,
};

/// For serde: whether a counter is still at its start (then it is not written).
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How long a terminated instance stays listed, seconds (AWS: about an hour).
pub(crate) const TERMINATED_LISTED_S: u64 = 3600;

/// Where public and Elastic IPs come from (RFC 5737 TEST-NET-3).
pub const PUBLIC_POOL: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24);
/// The first address handed out: .1 to .9 stay free for the emulated internet's edge.
const PUBLIC_FIRST: u32 = 10;

/// How many routes a table holds besides its `local` ones (AWS's default quota).
pub const MAX_ROUTES_PER_TABLE: usize = 50;

/// How many tags a resource holds at most.
pub const MAX_TAGS: usize = 50;

/// Device indexes an instance's interfaces may take (0, the primary, to 7): vpclab's
/// limit whatever the instance type (AWS's depends on it).
pub const MAX_INTERFACES_PER_INSTANCE: u32 = 8;

/// How many IPv4 CIDRs a VPC holds at most, the primary among them (AWS's default quota).
pub const MAX_CIDRS_PER_VPC: usize = 5;

/// Smallest and largest VPC and subnet prefixes AWS accepts.
const MIN_PREFIX: u8 = 16;
const MAX_PREFIX: u8 = 28;

/// A route to add: destination (IPv4, or IPv6 with `N` = [`Ipv6Net`]) and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec<N = Ipv4Net> {
    /// Destination CIDR; host bits are cleared.
    pub destination: N,
    /// Target.
    pub target: RouteTarget,
}

/// What CreateNatGateway asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatGatewaySpec {
    /// The subnet it goes in.
    pub subnet: SubnetId,
    /// Public with an Elastic IP, or private.
    pub connectivity: NatConnectivity,
    /// Its interface's address (`PrivateIpAddress`); the lowest free one if `None`.
    pub private_ip: Option<Ipv4Addr>,
    /// Idle timeout in seconds; AWS's 350 if `None`.
    pub idle_timeout_s: Option<u32>,
}

/// A NAT gateway's `ConnectivityType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatConnectivity {
    /// `public`, with the Elastic IP of this allocation.
    Public(AllocationId),
    /// `private`: translates to its own private address.
    Private,
}

impl NatConnectivity {
    /// From CreateNatGateway's `ConnectivityType` (`public` when absent) and
    /// `AllocationId`: a public gateway needs an Elastic IP, a private one takes none.
    pub fn new(kind: Option<&str>, allocation: Option<AllocationId>) -> Result<Self, ApiError> {
        match (kind.unwrap_or("public"), allocation) {
            ("public", Some(allocation)) => Ok(Self::Public(allocation)),
            ("public", None) => Err(ApiError::new(
                "MissingParameter",
                "The request must contain the parameter AllocationId for a public NAT gateway",
            )),
            ("private", None) => Ok(Self::Private),
            ("private", Some(_)) => Err(ApiError::new(
                "InvalidParameterCombination",
                "AllocationId cannot be specified for a private NAT gateway",
            )),
            (other, _) => Err(ApiError::invalid_value(format!(
                "Value ({other}) for parameter connectivityType is invalid. \
                 Valid values: public, private"
            ))),
        }
    }
}

impl NatGatewaySpec {
    /// A public gateway in `subnet` with the Elastic IP `allocation`.
    pub fn public(subnet: &SubnetId, allocation: &AllocationId) -> Self {
        Self {
            subnet: subnet.clone(),
            connectivity: NatConnectivity::Public(allocation.clone()),
            private_ip: None,
            idle_timeout_s: None,
        }
    }

    /// A private gateway in `subnet`.
    pub fn private(subnet: &SubnetId) -> Self {
        Self {
            subnet: subnet.clone(),
            connectivity: NatConnectivity::Private,
            private_ip: None,
            idle_timeout_s: None,
        }
    }
}

/// What to launch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInstance {
    /// The subnet.
    pub subnet: Option<SubnetId>,
    /// A chosen private address; the lowest free one otherwise.
    pub private_ip: Option<Ipv4Addr>,
    /// Whether to map a public IP; the subnet's `MapPublicIpOnLaunch` otherwise.
    pub public_ip: Option<bool>,
    /// Image id (reported only).
    pub image_id: String,
    /// Instance type (reported only).
    pub instance_type: String,
    /// Launch time, seconds since the Unix epoch (the model has no clock).
    pub launched_at: u64,
    /// Security groups (of the subnet's VPC); the VPC's default group when empty.
    pub security_groups: Vec<SecurityGroupId>,
    /// Instance metadata service options.
    pub metadata: MetadataOptions,
    /// A key pair, by name (it must exist).
    pub key_name: Option<String>,
    /// The reservation (one launch) it belongs to, from [`Model::new_reservation`]; a
    /// reservation of its own when `None`.
    pub reservation: Option<String>,
    /// `DisableApiTermination`: protected from TerminateInstances.
    pub termination_protected: bool,
    /// User data, in base64.
    pub user_data: Option<String>,
    /// Its interface's connection-tracking timeouts (AWS's defaults when `None`).
    pub connection_tracking: Option<ConnectionTracking>,
    /// Its IPv6 addresses (`Ipv6AddressCount`, `Ipv6Addresses`, or the subnet's
    /// `AssignIpv6AddressOnCreation`).
    pub ipv6: crate::Ipv6Request,
    /// Its hostname options (`PrivateDnsNameOptions`), each the subnet's
    /// `…OnLaunch` one where not named.
    pub dns_names: crate::DnsNameChange,
    /// Tags, `Name` among them.
    pub tags: Tags,
}

/// Every resource, keyed by id. Iteration order is the ids' order, so everything
/// derived from a model (snapshots, listings) is deterministic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    pub(crate) ids: IdGen,
    pub(crate) vpcs: Shared<BTreeMap<VpcId, Vpc>>,
    pub(crate) subnets: Shared<BTreeMap<SubnetId, Subnet>>,
    pub(crate) route_tables: Shared<BTreeMap<RouteTableId, RouteTable>>,
    pub(crate) internet_gateways: Shared<BTreeMap<InternetGatewayId, InternetGateway>>,
    pub(crate) elastic_ips: Shared<BTreeMap<AllocationId, ElasticIp>>,
    pub(crate) instances: Shared<BTreeMap<InstanceId, Shared<Instance>>>,
    /// Terminated instances, with when (Unix seconds): AWS lists them, as `terminated`,
    /// for about an hour. They hold no address and block nothing.
    #[serde(default)]
    pub(crate) terminated: Shared<BTreeMap<InstanceId, (Instance, u64)>>,
    #[serde(default)]
    pub(crate) nat_gateways: Shared<BTreeMap<NatGatewayId, NatGateway>>,
    /// Deleted NAT gateways, with when (Unix seconds): AWS lists them, as `deleted`, for
    /// about an hour. They hold no address and route nothing.
    #[serde(default)]
    pub(crate) deleted_nat_gateways:
        Shared<crate::departed::Departed<NatGatewayId, NatGateway, TERMINATED_LISTED_S>>,
    #[serde(default)]
    pub(crate) security_groups: Shared<BTreeMap<SecurityGroupId, SecurityGroup>>,
    #[serde(default)]
    pub(crate) network_acls: Shared<BTreeMap<NetworkAclId, NetworkAcl>>,
    #[serde(default)]
    pub(crate) peerings: Shared<BTreeMap<VpcPeeringConnectionId, PeeringConnection>>,
    #[serde(default)]
    pub(crate) endpoints: Shared<BTreeMap<VpcEndpointId, VpcEndpoint>>,
    #[serde(default)]
    pub(crate) flow_logs: Shared<BTreeMap<FlowLogId, FlowLog>>,
    /// Key pairs, by name.
    #[serde(default)]
    pub(crate) key_pairs: Shared<BTreeMap<String, crate::KeyPair>>,
    /// The quotas in force.
    #[serde(default)]
    pub(crate) quotas: crate::Quotas,
    /// Network interfaces of one's own, not attached.
    #[serde(default)]
    pub(crate) network_interfaces: Shared<BTreeMap<NetworkInterfaceId, crate::NetworkInterface>>,
    /// Launch templates.
    #[serde(default)]
    pub(crate) launch_templates: Shared<BTreeMap<crate::LaunchTemplateId, crate::LaunchTemplate>>,
    /// Customer-managed prefix lists.
    #[serde(default)]
    pub(crate) prefix_lists: Shared<BTreeMap<crate::PrefixListId, crate::ManagedPrefixList>>,
    /// DHCP options sets, the account's default one among them.
    #[serde(default = "initial_dhcp_sets")]
    pub(crate) dhcp_options: Shared<BTreeMap<crate::DhcpOptionsId, crate::DhcpOptions>>,
    /// Transit gateways.
    #[serde(default)]
    pub(crate) transit_gateways: Shared<BTreeMap<crate::TransitGatewayId, crate::TransitGateway>>,
    /// Transit gateway attachments.
    #[serde(default)]
    pub(crate) tgw_attachments: Shared<BTreeMap<crate::TgwAttachmentId, crate::TgwAttachment>>,
    /// Transit gateway route tables.
    #[serde(default)]
    pub(crate) tgw_route_tables: Shared<BTreeMap<crate::TgwRouteTableId, crate::TgwRouteTable>>,
    /// Deleted transit gateways, with when: AWS lists them, as `deleted`, for two hours.
    #[serde(default)]
    pub(crate) deleted_transit_gateways:
        Shared<crate::transit::Gone<crate::TransitGatewayId, crate::TransitGateway>>,
    /// Deleted transit gateway attachments and rejected peering attachments, with when:
    /// AWS lists them, as `deleted` or `rejected`, for two hours.
    #[serde(default)]
    pub(crate) deleted_tgw_attachments:
        Shared<crate::transit::Gone<crate::TgwAttachmentId, crate::TgwAttachment>>,
    /// Deleted transit gateway route tables, with when (listed `deleted` for two hours).
    #[serde(default)]
    pub(crate) deleted_tgw_route_tables:
        Shared<crate::transit::Gone<crate::TgwRouteTableId, crate::TgwRouteTable>>,
    /// Customer gateways.
    #[serde(default)]
    pub(crate) customer_gateways:
        Shared<BTreeMap<crate::CustomerGatewayId, crate::CustomerGateway>>,
    /// Deleted customer gateways, with when (listed `deleted` for an hour).
    #[serde(default)]
    pub(crate) deleted_customer_gateways:
        Shared<crate::vpn::Gone<crate::CustomerGatewayId, crate::CustomerGateway>>,
    /// Virtual private gateways.
    #[serde(default)]
    pub(crate) vpn_gateways: Shared<BTreeMap<crate::VpnGatewayId, crate::VpnGateway>>,
    /// Deleted virtual private gateways, with when (listed `deleted` for an hour).
    #[serde(default)]
    pub(crate) deleted_vpn_gateways:
        Shared<crate::vpn::Gone<crate::VpnGatewayId, crate::VpnGateway>>,
    /// VPN connections.
    #[serde(default)]
    pub(crate) vpn_connections: Shared<BTreeMap<crate::VpnConnectionId, crate::VpnConnection>>,
    /// Deleted VPN connections, with when (listed `deleted` for an hour).
    #[serde(default)]
    pub(crate) deleted_vpn_connections:
        Shared<crate::vpn::Gone<crate::VpnConnectionId, crate::VpnConnection>>,
    /// On-premises sites, by name (states from before sites load with none).
    #[serde(default)]
    pub(crate) onprem_sites: Shared<BTreeMap<String, crate::OnpremSite>>,
    /// How many /56s the Amazon IPv6 pool has handed out (none is handed out twice).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) ipv6_blocks_issued: u64,
    /// Egress-only internet gateways.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) egress_only_gateways:
        Shared<BTreeMap<EgressOnlyInternetGatewayId, EgressOnlyInternetGateway>>,
}

impl Model {
    /// An empty model whose ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            ids: IdGen::new(seed),
            vpcs: Default::default(),
            subnets: Default::default(),
            route_tables: Default::default(),
            internet_gateways: Default::default(),
            elastic_ips: Default::default(),
            instances: Default::default(),
            terminated: Default::default(),
            nat_gateways: Default::default(),
            deleted_nat_gateways: Default::default(),
            dhcp_options: crate::dhcp::initial_sets().into(),
            prefix_lists: Default::default(),
            launch_templates: Default::default(),
            quotas: crate::Quotas::default(),
            network_interfaces: Default::default(),
            security_groups: Default::default(),
            network_acls: Default::default(),
            peerings: Default::default(),
            endpoints: Default::default(),
            flow_logs: Default::default(),
            key_pairs: Default::default(),
            transit_gateways: Default::default(),
            tgw_attachments: Default::default(),
            tgw_route_tables: Default::default(),
            deleted_transit_gateways: Default::default(),
            deleted_tgw_attachments: Default::default(),
            deleted_tgw_route_tables: Default::default(),
            customer_gateways: Default::default(),
            deleted_customer_gateways: Default::default(),
            vpn_gateways: Default::default(),
            deleted_vpn_gateways: Default::default(),
            vpn_connections: Default::default(),
            deleted_vpn_connections: Default::default(),
            onprem_sites: Default::default(),
            ipv6_blocks_issued: 0,
            egress_only_gateways: Default::default(),
        }
    }

    // ---- reading -------------------------------------------------------------------

    /// All VPCs.
    pub fn vpcs(&self) -> impl Iterator<Item = &Vpc> {
        self.vpcs.values()
    }

    /// All subnets.
    pub fn subnets(&self) -> impl Iterator<Item = &Subnet> {
        self.subnets.values()
    }

    /// All route tables.
    pub fn route_tables(&self) -> impl Iterator<Item = &RouteTable> {
        self.route_tables.values()
    }

    /// All internet gateways.
    pub fn internet_gateways(&self) -> impl Iterator<Item = &InternetGateway> {
        self.internet_gateways.values()
    }

    /// All Elastic IPs.
    pub fn elastic_ips(&self) -> impl Iterator<Item = &ElasticIp> {
        self.elastic_ips.values()
    }

    /// All instances.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values().map(|i| &**i)
    }

    /// The same, each as the `Arc` the model holds it in: never changed in place (a
    /// change to an instance makes a new one), so whoever keeps one can tell by pointer
    /// ([`Arc::ptr_eq`]) that the instance is still the same, without comparing it.
    pub fn shared_instances(&self) -> impl Iterator<Item = &std::sync::Arc<Instance>> {
        self.instances.values().map(Shared::arc)
    }

    /// All NAT gateways.
    pub fn nat_gateways(&self) -> impl Iterator<Item = &NatGateway> {
        self.nat_gateways.values()
    }

    /// The NAT gateways that carry traffic (not failed), in id order: the ones the data
    /// plane numbers, that hold an interface and an address.
    pub fn working_nat_gateways(&self) -> impl Iterator<Item = &NatGateway> {
        self.nat_gateways.values().filter(|n| n.is_working())
    }

    /// A NAT gateway by id.
    pub fn nat_gateway(&self, id: &NatGatewayId) -> Result<&NatGateway, ApiError> {
        self.nat_gateways.get(id).ok_or_else(|| {
            ApiError::new("NatGatewayNotFound", format!("NAT gateway {id} was not found"))
        })
    }

    /// A VPC by id.
    pub fn vpc(&self, id: &VpcId) -> Result<&Vpc, ApiError> {
        self.vpcs
            .get(id)
            .ok_or_else(|| ApiError::not_found("InvalidVpcID.NotFound", "vpc", id.as_str()))
    }

    /// A subnet by id.
    pub fn subnet(&self, id: &SubnetId) -> Result<&Subnet, ApiError> {
        self.subnets
            .get(id)
            .ok_or_else(|| ApiError::not_found("InvalidSubnetID.NotFound", "subnet", id.as_str()))
    }

    /// A route table by id.
    pub fn route_table(&self, id: &RouteTableId) -> Result<&RouteTable, ApiError> {
        self.route_tables.get(id).ok_or_else(|| {
            ApiError::not_found("InvalidRouteTableID.NotFound", "routeTable", id.as_str())
        })
    }

    /// An internet gateway by id.
    pub fn internet_gateway(&self, id: &InternetGatewayId) -> Result<&InternetGateway, ApiError> {
        self.internet_gateways.get(id).ok_or_else(|| {
            ApiError::not_found("InvalidInternetGatewayID.NotFound", "internetGateway", id.as_str())
        })
    }

    /// An Elastic IP by allocation id.
    pub fn elastic_ip(&self, id: &AllocationId) -> Result<&ElasticIp, ApiError> {
        self.elastic_ips.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidAllocationID.NotFound",
                format!("The allocation ID '{id}' does not exist"),
            )
        })
    }

    /// An instance by id.
    pub fn instance(&self, id: &InstanceId) -> Result<&Instance, ApiError> {
        self.instances.get(id).map(|i| &**i).ok_or_else(|| {
            ApiError::not_found("InvalidInstanceID.NotFound", "instance", id.as_str())
        })
    }

    /// An instance by id or by its `Name` tag (unique names only).
    pub fn find_instance(&self, id_or_name: &str) -> Option<&Instance> {
        if let Some(instance) = InstanceId::parse(id_or_name).and_then(|id| self.instances.get(&id))
        {
            return Some(instance);
        }
        let mut named = self.instances.values().filter(|i| i.name() == Some(id_or_name));
        match (named.next(), named.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }

    /// The route table that governs `subnet`: its explicit association, or its VPC's main
    /// table.
    pub fn route_table_of(&self, subnet: &SubnetId) -> Result<&RouteTable, ApiError> {
        let subnet = self.subnet(subnet)?;
        let explicit = self
            .route_tables
            .values()
            .find(|t| t.associations.iter().any(|a| a.subnet == subnet.id));
        match explicit {
            Some(table) => Ok(table),
            None => self.route_table(&self.vpc(&subnet.vpc)?.main_route_table),
        }
    }

    /// Every subnet's route table, as [`Model::route_table_of`] finds it, in one pass
    /// over the tables: for compiling the whole model, where a search per subnet would
    /// make it quadratic.
    pub fn route_tables_by_subnet(&self) -> BTreeMap<&SubnetId, &RouteTable> {
        let mut tables = BTreeMap::new();
        for table in self.route_tables.values() {
            for association in &table.associations {
                tables.entry(&association.subnet).or_insert(table);
            }
        }
        for subnet in self.subnets.values() {
            if tables.contains_key(&subnet.id) {
                continue;
            }
            let main =
                self.vpcs.get(&subnet.vpc).and_then(|v| self.route_tables.get(&v.main_route_table));
            if let Some(main) = main {
                tables.insert(&subnet.id, main);
            }
        }
        tables
    }

    /// The internet gateway attached to `vpc`, if any.
    pub fn gateway_of(&self, vpc: &VpcId) -> Option<&InternetGateway> {
        self.internet_gateways.values().find(|g| g.attached_to.as_ref() == Some(vpc))
    }

    /// Whether a route is `blackhole`: its target no longer leads anywhere (an internet
    /// gateway detached from, or never attached to, the table's VPC).
    pub fn is_blackhole<N>(&self, table: &RouteTable, route: &Route<N>) -> bool {
        match &route.target {
            RouteTarget::Local => false,
            RouteTarget::Gateway(igw) => self
                .internet_gateways
                .get(igw)
                .is_none_or(|g| g.attached_to.as_ref() != Some(&table.vpc)),
            RouteTarget::NatGateway(nat) => {
                self.nat_gateways.get(nat).is_none_or(|n| !n.is_working())
            }
            RouteTarget::Endpoint(id) => !self.endpoints.contains_key(id),
            RouteTarget::Peering(pcx) => self.peerings.get(pcx).is_none_or(|p| {
                p.status != PeeringStatus::Active || p.peer_of(&table.vpc).is_none()
            }),
            RouteTarget::TransitGateway(tgw) => self.tgw_attachment_of(tgw, &table.vpc).is_none(),
            RouteTarget::NetworkInterface(eni) => self.interface_holder(eni).is_none(),
            RouteTarget::VpnGateway(vgw) => {
                self.vpn_gateways.get(vgw).is_none_or(|g| g.attached_to() != Some(&table.vpc))
            }
            RouteTarget::EgressOnlyGateway(eigw) => {
                self.egress_only_gateways.get(eigw).is_none_or(|g| g.vpc != table.vpc)
            }
        }
    }

    /// The routes in force in `table`: its own, then one for each prefix known to a
    /// virtual private gateway it takes propagation from, while that gateway is attached
    /// to the table's VPC (origin `EnableVgwRoutePropagation`). AWS's priorities decide
    /// which propagated prefixes are in force: never one equal to or inside a CIDR of the
    /// VPC (`local` wins over a propagated route even when the propagated one is more
    /// specific), nor one a route of the table's own already has (on equal prefixes a
    /// static route and a prefix-list route win over a propagated one), nor one twice.
    /// The table's own routes keep their indexes; the propagated ones follow, by
    /// destination.
    pub fn routes_in_force<'a>(&self, table: &'a RouteTable) -> std::borrow::Cow<'a, [Route]> {
        let mut routes = std::borrow::Cow::Borrowed(table.routes.as_slice());
        let Some(vpc) = self.vpcs.get(&table.vpc) else { return routes };
        for vgw in &table.propagating_vgws {
            if self.vpn_gateways.get(vgw).and_then(crate::VpnGateway::attached_to) != Some(&vpc.id)
            {
                continue;
            }
            let mut known: Vec<Ipv4Net> = self.vgw_prefixes(vgw).collect();
            known.sort_by_key(|n| (n.network(), n.prefix_len()));
            for destination in known {
                let local = vpc.cidrs().any(|c| c.contains(&destination));
                let taken =
                    routes.iter().any(|r| self.route_destinations(r).contains(&destination));
                if local || taken {
                    continue;
                }
                routes.to_mut().push(Route {
                    destination,
                    target: RouteTarget::VpnGateway(vgw.clone()),
                    origin: RouteOrigin::EnableVgwRoutePropagation,
                    prefix_list: None,
                });
            }
        }
        routes
    }

    // ---- VPCs ----------------------------------------------------------------------

    /// CreateVpc: a VPC with its main route table.
    pub fn create_vpc(&mut self, cidr: Ipv4Net, tags: Tags) -> Result<VpcId, ApiError> {
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&cidr.prefix_len()) {
            return Err(ApiError::new(
                "InvalidVpc.Range",
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        let cidr = cidr.trunc();
        let id = VpcId::from_raw(self.ids.fresh(VpcId::PREFIX));
        let main = self.new_route_table(&id, &[cidr]);
        let default_group = self.new_default_security_group(&id);
        self.new_default_acl(&id);
        self.vpcs.insert(
            id.clone(),
            Vpc {
                id: id.clone(),
                cidr,
                main_route_table: main,
                default_security_group: Some(default_group),
                dns_support: true,
                dns_hostnames: false,
                is_default: false,
                dhcp_options: crate::dhcp::default_choice(),
                secondary_cidrs: Vec::new(),
                ipv6_blocks: Vec::new(),
                tags,
            },
        );
        Ok(id)
    }

    /// ModifyVpcAttribute for `enableDnsSupport` or `enableDnsHostnames`: one attribute
    /// per call, as AWS requires.
    pub fn set_vpc_dns(
        &mut self,
        id: &VpcId,
        support: Option<bool>,
        hostnames: Option<bool>,
    ) -> Result<(), ApiError> {
        self.vpc(id)?;
        let vpc = self.vpcs.get_mut(id).expect("checked");
        match (support, hostnames) {
            (Some(support), None) => vpc.dns_support = support,
            (None, Some(hostnames)) => vpc.dns_hostnames = hostnames,
            (Some(_), Some(_)) => {
                return Err(ApiError::new(
                    "InvalidParameterCombination",
                    "Fields for multiple attribute types specified: enableDnsSupport, enableDnsHostnames",
                ));
            }
            (None, None) => {
                return Err(ApiError::new(
                    "MissingParameter",
                    "The request must contain exactly one attribute to modify.",
                ));
            }
        }
        Ok(())
    }

    /// ModifyInstanceMetadataOptions: `change` applied to the instance's options, which
    /// it returns.
    pub fn set_metadata_options(
        &mut self,
        id: &InstanceId,
        change: impl FnOnce(&mut MetadataOptions),
    ) -> Result<MetadataOptions, ApiError> {
        self.instance(id)?;
        let instance = self.instances.get_mut(id).expect("checked");
        change(&mut instance.metadata);
        Ok(instance.metadata)
    }

    /// The default VPC, if the Region has one.
    pub fn default_vpc(&self) -> Option<&Vpc> {
        self.vpcs.values().find(|v| v.is_default)
    }

    /// CreateDefaultVpc, as AWS builds one: 172.31.0.0/16 with DNS hostnames, a default
    /// subnet (/20, public IPs on launch) in every Availability Zone, an internet gateway
    /// and a main route table that leads to it.
    pub fn create_default_vpc(&mut self) -> Result<VpcId, ApiError> {
        if let Some(existing) = self.default_vpc() {
            return Err(ApiError::new(
                "DefaultVpcAlreadyExists",
                format!(
                    "A Default VPC already exists for this account in this region: {}.",
                    existing.id
                ),
            ));
        }
        let cidr: Ipv4Net = "172.31.0.0/16".parse().expect("a CIDR");
        let id = self.create_vpc(cidr, Tags::new())?;
        let vpc = self.vpcs.get_mut(&id).expect("just made");
        vpc.is_default = true;
        vpc.dns_hostnames = true;
        for zone in ZONES {
            self.create_default_subnet(zone)?;
        }
        let igw = self.create_internet_gateway(Tags::new());
        self.attach_internet_gateway(&igw, &id)?;
        let main = self.vpcs[&id].main_route_table.clone();
        let default =
            RouteSpec { destination: Ipv4Net::default(), target: RouteTarget::Gateway(igw) };
        self.create_route(&main, default)?;
        Ok(id)
    }

    /// CreateDefaultSubnet: a /20 of the default VPC in `zone`, with public IPs on launch
    /// (the zone's own /20 when free, else the first free one), as AWS makes them.
    pub fn create_default_subnet(&mut self, zone: &str) -> Result<SubnetId, ApiError> {
        let vpc = self.default_vpc().cloned().ok_or_else(|| {
            ApiError::new(
                "DefaultVpcDoesNotExist",
                "No default VPC exists for this account in this region.",
            )
        })?;
        if let Some(existing) =
            self.subnets.values().find(|s| s.vpc == vpc.id && s.default_for_az && s.zone == zone)
        {
            return Err(ApiError::new(
                "DefaultSubnetAlreadyExistsInAvailabilityZone",
                format!(
                    "{} is already the default subnet in availability zone {zone}.",
                    existing.id
                ),
            ));
        }
        let index = ZONES.iter().position(|z| *z == zone).unwrap_or(0) as u32;
        let slots = 1u32 << (20 - u32::from(vpc.cidr.prefix_len()).min(20));
        let base = u32::from(vpc.cidr.network());
        let free = (0..slots)
            .map(|k| (index + k) % slots)
            .filter_map(|k| Ipv4Net::new(Ipv4Addr::from(base + (k << 12)), 20).ok())
            .find(|net| {
                !self.subnets.values().any(|s| {
                    s.vpc == vpc.id
                        && s.cidr.is_some_and(|c| c.contains(&net.network()) || net.contains(&c))
                })
            })
            .ok_or_else(|| {
                ApiError::new(
                    "InsufficientFreeAddressesInSubnet",
                    "The default VPC has no free /20 left for a default subnet.",
                )
            })?;
        let subnet = self.create_subnet(&vpc.id, free, Some(zone), Tags::new())?;
        self.set_map_public_ip_on_launch(&subnet, true)?;
        self.subnets.get_mut(&subnet).expect("just made").default_for_az = true;
        Ok(subnet)
    }

    /// The default subnet of `zone` (or of the first zone that has one), for a launch
    /// that names no subnet; AWS's error when the Region has no default VPC.
    pub fn default_subnet(&self, zone: Option<&str>) -> Result<SubnetId, ApiError> {
        let vpc = self.default_vpc().ok_or_else(|| {
            ApiError::new(
                "VPCIdNotSpecified",
                "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.",
            )
        })?;
        let mut subnets = self.subnets.values().filter(|s| s.vpc == vpc.id && s.default_for_az);
        let subnet = match zone {
            Some(zone) => subnets.find(|s| s.zone == zone),
            None => subnets.min_by(|a, b| a.zone.cmp(&b.zone)),
        };
        subnet.map(|s| s.id.clone()).ok_or_else(|| {
            ApiError::new(
                "InvalidSubnetID.NotFound",
                "The default VPC has no default subnet in that Availability Zone.",
            )
        })
    }

    /// DeleteVpc: refused while subnets, an attached gateway or custom route tables remain.
    pub fn delete_vpc(&mut self, id: &VpcId) -> Result<(), ApiError> {
        let vpc = self.vpc(id)?;
        let main = vpc.main_route_table.clone();
        let busy = self.subnets.values().any(|s| &s.vpc == id)
            || self.gateway_of(id).is_some()
            || self.vpn_gateway_of(id).is_some()
            || self.route_tables.values().any(|t| &t.vpc == id && t.id != main);
        if busy || self.egress_only_gateway_of(id).is_some() {
            return Err(ApiError::dependency("vpc", id.as_str()));
        }
        let default_group = self.vpcs[id].default_security_group.clone();
        if self
            .security_groups
            .values()
            .any(|g| &g.vpc == id && Some(&g.id) != default_group.as_ref())
        {
            return Err(ApiError::dependency("vpc", id.as_str()));
        }
        if self.network_acls.values().any(|a| &a.vpc == id && !a.is_default)
            || self.endpoints.values().any(|e| &e.vpc == id)
            || self.tgw_attachments.values().any(|a| a.vpc() == Some(id))
        {
            return Err(ApiError::dependency("vpc", id.as_str()));
        }
        self.route_tables.remove(&main);
        self.security_groups.retain(|_, g| &g.vpc != id);
        self.network_acls.retain(|_, a| &a.vpc != id);
        self.vpcs.remove(id);
        Ok(())
    }

    // ---- subnets -------------------------------------------------------------------

    /// CreateSubnet.
    pub fn create_subnet(
        &mut self,
        vpc: &VpcId,
        cidr: Ipv4Net,
        zone: Option<&str>,
        tags: Tags,
    ) -> Result<SubnetId, ApiError> {
        let vpc_cidrs: Vec<Ipv4Net> = self.vpc(vpc)?.cidrs().collect();
        let zone = subnet_zone(zone)?;
        let canonical = cidr.trunc();
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&cidr.prefix_len())
            || !vpc_cidrs.iter().any(|c| c.contains(&canonical))
        {
            return Err(ApiError::new(
                "InvalidSubnet.Range",
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        if self
            .subnets
            .values()
            .filter(|s| &s.vpc == vpc)
            .filter_map(|s| s.cidr)
            .any(|c| c.contains(&canonical) || canonical.contains(&c))
        {
            return Err(ApiError::new(
                "InvalidSubnet.Conflict",
                format!("The CIDR '{cidr}' conflicts with another subnet"),
            ));
        }
        Ok(self.insert_subnet(vpc, Some(canonical), zone, tags))
    }

    /// A new subnet of `vpc` with the IPv4 block `cidr` (none: IPv6-only), associated
    /// with the VPC's default network ACL; its attributes as AWS gives a new subnet.
    pub(crate) fn insert_subnet(
        &mut self,
        vpc: &VpcId,
        cidr: Option<Ipv4Net>,
        zone: &str,
        tags: Tags,
    ) -> SubnetId {
        let id = SubnetId::from_raw(self.ids.fresh(SubnetId::PREFIX));
        let association = self.fresh_acl_assoc();
        if let Some(acl) = self.network_acls.values_mut().find(|a| &a.vpc == vpc && a.is_default) {
            acl.associations.push((association, id.clone()));
        }
        self.subnets.insert(
            id.clone(),
            Subnet {
                id: id.clone(),
                vpc: vpc.clone(),
                cidr,
                zone: zone.to_owned(),
                map_public_ip_on_launch: false,
                default_for_az: false,
                reservations: Vec::new(),
                ipv6_blocks: Vec::new(),
                assign_ipv6_on_creation: false,
                enable_dns64: false,
                dns_names_on_launch: crate::DnsNameOptions::default(),
                tags,
            },
        );
        id
    }

    /// CreateSubnetCidrReservation: a block of the subnet that automatic assignment
    /// leaves alone. Returns its id.
    pub fn create_subnet_cidr_reservation(
        &mut self,
        subnet: &SubnetId,
        cidr: Ipv4Net,
        kind: &str,
        description: Option<String>,
        tags: Tags,
    ) -> Result<String, ApiError> {
        let s = self.subnet(subnet)?;
        if !matches!(kind, "explicit" | "prefix") {
            return Err(ApiError::invalid_value(format!(
                "Value ({kind}) for parameter reservationType is invalid. Valid values: \
                 prefix, explicit."
            )));
        }
        let cidr = cidr.trunc();
        let block = s.ipv4("a CIDR reservation")?;
        if !block.contains(&cidr) {
            return Err(ApiError::new(
                "InvalidSubnetCidrReservation.Range",
                format!("The CIDR {cidr} is not within the subnet {subnet}'s CIDR {block}."),
            ));
        }
        if let Some(other) = s
            .reservations
            .iter()
            .find(|r| r.cidr.contains(&cidr.network()) || cidr.contains(&r.cidr.network()))
        {
            return Err(ApiError::new(
                "InvalidSubnetCidrReservation.Conflict",
                format!(
                    "The CIDR {cidr} conflicts with the reservation {} ({}).",
                    other.id, other.cidr
                ),
            ));
        }
        let id = format!("scr-{}", &self.ids.fresh("x")[2..]);
        if let Some(s) = self.subnets.get_mut(subnet) {
            s.reservations.push(crate::CidrReservation {
                id: id.clone(),
                cidr,
                kind: kind.to_owned(),
                description,
                tags,
            });
        }
        Ok(id)
    }

    /// DeleteSubnetCidrReservation: the reservation, as it was.
    pub fn delete_subnet_cidr_reservation(
        &mut self,
        id: &str,
    ) -> Result<(SubnetId, crate::CidrReservation), ApiError> {
        for s in self.subnets.values_mut() {
            if let Some(at) = s.reservations.iter().position(|r| r.id == id) {
                return Ok((s.id.clone(), s.reservations.remove(at)));
            }
        }
        Err(ApiError::new(
            "InvalidSubnetCidrReservationID.NotFound",
            format!("The subnet CIDR reservation ID '{id}' does not exist"),
        ))
    }

    /// ModifySubnetAttribute MapPublicIpOnLaunch.
    pub fn set_map_public_ip_on_launch(&mut self, id: &SubnetId, on: bool) -> Result<(), ApiError> {
        let subnet = self.subnet_mut(id)?;
        if on {
            subnet.ipv4("public IPv4 addresses")?;
        }
        subnet.map_public_ip_on_launch = on;
        Ok(())
    }

    /// DeleteSubnet: refused while instances are in it. Removes its explicit association.
    pub fn delete_subnet(&mut self, id: &SubnetId) -> Result<(), ApiError> {
        self.subnet(id)?;
        if self.instances.values().any(|i| &i.subnet == id)
            || self.nat_gateways.values().any(|n| &n.subnet == id)
            || self.network_interfaces.values().any(|n| &n.subnet == id)
            || self.managed_interfaces().any(|m| &m.subnet == id)
        {
            return Err(ApiError::dependency("subnet", id.as_str()));
        }
        for table in self.route_tables.values_mut() {
            table.associations.retain(|a| &a.subnet != id);
        }
        for acl in self.network_acls.values_mut() {
            acl.associations.retain(|(_, s)| s != id);
        }
        self.subnets.remove(id);
        Ok(())
    }

    // ---- route tables --------------------------------------------------------------

    /// A table of `vpc` with the `local` routes of its CIDRs (`vpc_cidrs`, which a VPC
    /// being made passes before it is stored) and of its IPv6 CIDRs.
    fn new_route_table(&mut self, vpc: &VpcId, vpc_cidrs: &[Ipv4Net]) -> RouteTableId {
        let id = RouteTableId::from_raw(self.ids.fresh(RouteTableId::PREFIX));
        let local = vpc_cidrs.iter().copied().map(crate::ipv6::local_route).collect();
        let local6 = self
            .vpcs
            .get(vpc)
            .map(|v| v.ipv6_cidrs().map(crate::ipv6::local_route).collect())
            .unwrap_or_default();
        self.route_tables.insert(
            id.clone(),
            RouteTable {
                id: id.clone(),
                vpc: vpc.clone(),
                routes: local,
                ipv6_routes: local6,
                associations: Vec::new(),
                propagating_vgws: Vec::new(),
                tags: Tags::new(),
            },
        );
        id
    }

    /// AssociateVpcCidrBlock: a secondary IPv4 CIDR, with its `local` route in every
    /// route table of the VPC. Returns the association id.
    pub fn associate_vpc_cidr(&mut self, vpc: &VpcId, cidr: Ipv4Net) -> Result<String, ApiError> {
        let v = self.vpc(vpc)?;
        if !(MIN_PREFIX..=MAX_PREFIX).contains(&cidr.prefix_len()) {
            return Err(ApiError::new(
                "InvalidVpc.Range",
                format!("The CIDR '{cidr}' is invalid."),
            ));
        }
        let cidr = cidr.trunc();
        let link_local: Ipv4Net = "169.254.0.0/16".parse().expect("a CIDR");
        if link_local.contains(&cidr.network()) || cidr.contains(&link_local.network()) {
            return Err(ApiError::new(
                "InvalidVpc.Range",
                format!("The CIDR '{cidr}' is restricted: 169.254.0.0/16 is link-local."),
            ));
        }
        let most = self.quotas.cidrs_per_vpc;
        if v.cidrs().count() >= most {
            return Err(ApiError::new(
                "CidrLimitExceeded",
                format!("This network '{vpc}' has met its maximum number of allowed CIDRs: {most}"),
            ));
        }
        if let Some(existing) =
            v.cidrs().find(|c| c.contains(&cidr.network()) || cidr.contains(&c.network()))
        {
            return Err(ApiError::new(
                "InvalidVpc.Range",
                format!("The CIDR '{cidr}' conflicts with the CIDR '{existing}' of {vpc}."),
            ));
        }
        // Not equal to or larger than a route's destination in the VPC's tables.
        let clash = self.route_tables.values().filter(|t| &t.vpc == vpc).find_map(|t| {
            t.routes
                .iter()
                .filter(|r| r.prefix_list.is_none())
                .find(|r| cidr.contains(&r.destination))
                .map(|r| r.destination)
        });
        if let Some(destination) = clash {
            return Err(ApiError::new(
                "InvalidVpc.Range",
                format!(
                    "The CIDR '{cidr}' is equal to or larger than the destination {destination} \
                     of a route in this VPC."
                ),
            ));
        }
        let id = format!("vpc-cidr-assoc-{}", &self.ids.fresh("x")[2..]);
        for table in self.route_tables.values_mut().filter(|t| &t.vpc == vpc) {
            table.routes.push(Route {
                destination: cidr,
                target: RouteTarget::Local,
                origin: RouteOrigin::CreateRouteTable,
                prefix_list: None,
            });
        }
        if let Some(v) = self.vpcs.get_mut(vpc) {
            v.secondary_cidrs.push(crate::CidrAssociation { id: id.clone(), cidr });
        }
        Ok(id)
    }

    /// DisassociateVpcCidrBlock: a secondary CIDR without subnets goes, and its `local`
    /// routes. Returns the VPC and the block.
    pub fn disassociate_vpc_cidr(
        &mut self,
        association: &str,
    ) -> Result<(VpcId, Ipv4Net), ApiError> {
        if let Some(v) = self.vpcs.values().find(|v| v.primary_association() == association) {
            return Err(ApiError::new(
                "OperationNotPermitted",
                format!(
                    "The vpc CIDR block with association ID {association} may not be \
                     disassociated. It is the primary IPv4 CIDR block of the VPC {}",
                    v.id
                ),
            ));
        }
        let (vpc, cidr) = self
            .vpcs
            .values()
            .find_map(|v| {
                v.secondary_cidrs
                    .iter()
                    .find(|a| a.id == association)
                    .map(|a| (v.id.clone(), a.cidr))
            })
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidVpcCidrBlockAssociationID.NotFound",
                    format!("The vpc CIDR block association ID '{association}' does not exist"),
                )
            })?;
        if self
            .subnets
            .values()
            .any(|s| s.vpc == vpc && s.cidr.is_some_and(|c| cidr.contains(&c.network())))
        {
            return Err(ApiError::new(
                "DependencyViolation",
                format!("The CIDR '{cidr}' has dependencies and cannot be disassociated."),
            ));
        }
        for table in self.route_tables.values_mut().filter(|t| t.vpc == vpc) {
            table.routes.retain(|r| !(r.target == RouteTarget::Local && r.destination == cidr));
        }
        if let Some(v) = self.vpcs.get_mut(&vpc) {
            v.secondary_cidrs.retain(|a| a.id != association);
        }
        Ok((vpc, cidr))
    }

    /// CreateRouteTable: a custom table with only the `local` route.
    pub fn create_route_table(
        &mut self,
        vpc: &VpcId,
        tags: Tags,
    ) -> Result<RouteTableId, ApiError> {
        let cidrs: Vec<Ipv4Net> = self.vpc(vpc)?.cidrs().collect();
        let id = self.new_route_table(vpc, &cidrs);
        if let Some(table) = self.route_tables.get_mut(&id) {
            table.tags = tags;
        }
        Ok(id)
    }

    /// DeleteRouteTable: refused for the main table and while subnets are associated.
    pub fn delete_route_table(&mut self, id: &RouteTableId) -> Result<(), ApiError> {
        let table = self.route_table(id)?;
        let is_main = self.vpcs.get(&table.vpc).is_some_and(|v| &v.main_route_table == id);
        if is_main || !table.associations.is_empty() {
            return Err(ApiError::dependency("routeTable", id.as_str()));
        }
        self.route_tables.remove(id);
        Ok(())
    }

    /// AssociateRouteTable: `subnet` explicitly uses `table`.
    pub fn associate_route_table(
        &mut self,
        table: &RouteTableId,
        subnet: &SubnetId,
    ) -> Result<RouteTableAssociationId, ApiError> {
        let table_vpc = self.route_table(table)?.vpc.clone();
        let subnet_vpc = self.subnet(subnet)?.vpc.clone();
        if table_vpc != subnet_vpc {
            return Err(ApiError::invalid_value(format!(
                "Route table {table} and subnet {subnet} belong to different networks"
            )));
        }
        if self.route_tables.values().any(|t| t.associations.iter().any(|a| &a.subnet == subnet)) {
            return Err(ApiError::new(
                "Resource.AlreadyAssociated",
                format!(
                    "the specified association for route table {table} conflicts with an \
                     existing association"
                ),
            ));
        }
        let id = RouteTableAssociationId::from_raw(self.ids.fresh(RouteTableAssociationId::PREFIX));
        if let Some(t) = self.route_tables.get_mut(table) {
            t.associations.push(RouteTableAssociation { id: id.clone(), subnet: subnet.clone() });
        }
        Ok(id)
    }

    /// ReplaceRouteTableAssociation for an explicit association: the subnet moves to
    /// `table` under a new association id.
    pub fn replace_route_table_association(
        &mut self,
        id: &RouteTableAssociationId,
        table: &RouteTableId,
    ) -> Result<RouteTableAssociationId, ApiError> {
        let subnet = self
            .route_tables
            .values()
            .flat_map(|t| &t.associations)
            .find(|a| &a.id == id)
            .map(|a| a.subnet.clone())
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{id}' does not exist"),
                )
            })?;
        let table_vpc = self.route_table(table)?.vpc.clone();
        if self.subnet(&subnet)?.vpc != table_vpc {
            return Err(ApiError::invalid_value(format!(
                "Route table {table} and subnet {subnet} belong to different networks"
            )));
        }
        self.disassociate_route_table(id)?;
        self.associate_route_table(table, &subnet)
    }

    /// Makes `table` its VPC's main route table (ReplaceRouteTableAssociation on the
    /// main association).
    pub fn set_main_route_table(&mut self, table: &RouteTableId) -> Result<(), ApiError> {
        let vpc = self.route_table(table)?.vpc.clone();
        if let Some(v) = self.vpcs.get_mut(&vpc) {
            v.main_route_table = table.clone();
        }
        Ok(())
    }

    /// DisassociateRouteTable: the subnet falls back to the main table.
    pub fn disassociate_route_table(
        &mut self,
        id: &RouteTableAssociationId,
    ) -> Result<(), ApiError> {
        for table in self.route_tables.values_mut() {
            if let Some(at) = table.associations.iter().position(|a| &a.id == id) {
                table.associations.remove(at);
                return Ok(());
            }
        }
        Err(ApiError::new(
            "InvalidAssociationID.NotFound",
            format!("The association ID '{id}' does not exist"),
        ))
    }

    /// CreateRoute with an IPv4 destination.
    pub fn create_route(&mut self, table: &RouteTableId, spec: RouteSpec) -> Result<(), ApiError> {
        self.add_route(table, spec)
    }

    /// CreateRoute with an IPv6 destination (`DestinationIpv6CidrBlock`).
    pub fn create_ipv6_route(
        &mut self,
        table: &RouteTableId,
        spec: RouteSpec<Ipv6Net>,
    ) -> Result<(), ApiError> {
        self.add_route(table, spec)
    }

    /// CreateRoute, either family.
    fn add_route<N: RouteFamily>(
        &mut self,
        table: &RouteTableId,
        spec: RouteSpec<N>,
    ) -> Result<(), ApiError> {
        let route = self.check_route(table, &spec)?;
        let t = self.route_table(table)?;
        let routes = N::routes(t);
        if routes.iter().any(|r| r.destination == route.destination && r.prefix_list.is_none()) {
            return Err(ApiError::new(
                "RouteAlreadyExists",
                format!("The route identified by {} already exists.", route.destination),
            ));
        }
        self.check_routes_weight(t, routes, 1)?;
        if let Some(t) = self.route_tables.get_mut(table) {
            N::routes_mut(t).push(route);
        }
        Ok(())
    }

    /// Whether `t` can take routes weighing `adding` more: a route to one of the
    /// account's prefix lists weighs the list's maximum entries, as on AWS.
    pub(crate) fn check_route_weight(&self, t: &RouteTable, adding: usize) -> Result<(), ApiError> {
        self.check_routes_weight(t, &t.routes, adding)
    }

    /// [`Model::check_route_weight`] for `routes`, one family of `t`'s: AWS counts IPv4
    /// and IPv6 routes apart.
    fn check_routes_weight<N>(
        &self,
        t: &RouteTable,
        routes: &[Route<N>],
        adding: usize,
    ) -> Result<(), ApiError> {
        let routes: usize = routes
            .iter()
            .filter(|r| r.target != RouteTarget::Local)
            .map(|r| r.prefix_list.as_deref().map_or(1, |id| self.prefix_list_weight(id)))
            .sum();
        let most = self.quotas.routes_per_table;
        if routes + adding > most {
            return Err(ApiError::new(
                "RouteLimitExceeded",
                format!("The maximum number of routes ({most}) has been reached for {}.", t.id),
            ));
        }
        Ok(())
    }

    /// The quotas in force.
    pub fn quotas(&self) -> crate::Quotas {
        self.quotas
    }

    /// Raises (or lowers) quotas, as Service Quotas does for an account.
    pub fn set_quotas(&mut self, quotas: crate::Quotas) {
        self.quotas = quotas;
    }

    /// ReplaceRoute: a new target for an existing IPv4 destination.
    pub fn replace_route(&mut self, table: &RouteTableId, spec: RouteSpec) -> Result<(), ApiError> {
        self.change_route(table, spec)
    }

    /// ReplaceRoute: a new target for an existing IPv6 destination.
    pub fn replace_ipv6_route(
        &mut self,
        table: &RouteTableId,
        spec: RouteSpec<Ipv6Net>,
    ) -> Result<(), ApiError> {
        self.change_route(table, spec)
    }

    /// ReplaceRoute, either family.
    fn change_route<N: RouteFamily>(
        &mut self,
        table: &RouteTableId,
        spec: RouteSpec<N>,
    ) -> Result<(), ApiError> {
        let route = self.check_route(table, &spec)?;
        let t = self.route_table(table)?;
        let routes = N::routes(t);
        let at = routes
            .iter()
            .position(|r| r.destination == route.destination && r.prefix_list.is_none())
            .ok_or_else(|| {
            ApiError::invalid_value(format!(
                "There is no route defined for '{}' in the route table. Use CreateRoute instead.",
                route.destination
            ))
        })?;
        if routes[at].target == RouteTarget::Local {
            return Err(Self::local_route_error(&route.destination, table));
        }
        if let Some(t) = self.route_tables.get_mut(table) {
            N::routes_mut(t)[at] = route;
        }
        Ok(())
    }

    /// DeleteRoute: any IPv4 route but `local`.
    pub fn delete_route(
        &mut self,
        table: &RouteTableId,
        destination: Ipv4Net,
    ) -> Result<(), ApiError> {
        self.remove_route(table, destination)
    }

    /// DeleteRoute: any IPv6 route but `local`.
    pub fn delete_ipv6_route(
        &mut self,
        table: &RouteTableId,
        destination: Ipv6Net,
    ) -> Result<(), ApiError> {
        self.remove_route(table, destination)
    }

    /// DeleteRoute, either family.
    fn remove_route<N: RouteFamily>(
        &mut self,
        table: &RouteTableId,
        destination: N,
    ) -> Result<(), ApiError> {
        let destination = destination.canonical();
        let t = self.route_table(table)?;
        let routes = N::routes(t);
        let at = routes
            .iter()
            .position(|r| r.destination == destination && r.prefix_list.is_none())
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidRoute.NotFound",
                    format!("no route with {} {destination} in route table {table}", N::PARAMETER),
                )
            })?;
        if routes[at].target == RouteTarget::Local {
            return Err(Self::local_route_error(&destination, table));
        }
        if let Some(t) = self.route_tables.get_mut(table) {
            N::routes_mut(t).remove(at);
        }
        Ok(())
    }

    fn local_route_error(destination: &impl std::fmt::Display, table: &RouteTableId) -> ApiError {
        ApiError::invalid_value(format!(
            "cannot remove local route {destination} in route table {table}"
        ))
    }

    /// Validates a route for `table` and returns it in canonical form.
    fn check_route<N: RouteFamily>(
        &self,
        table: &RouteTableId,
        spec: &RouteSpec<N>,
    ) -> Result<Route<N>, ApiError> {
        self.check_target(table, &spec.target)?;
        Self::check_family::<N>(&spec.target)?;
        let t = self.route_table(table)?;
        let vpc_cidrs = N::vpc_blocks(self.vpc(&t.vpc)?);
        let destination = spec.destination.canonical();
        if vpc_cidrs.iter().any(|c| c.covers(&destination)) {
            // Middlebox routing: a whole subnet of the VPC, through an appliance's
            // interface or a NAT gateway, is more specific than `local` and wins.
            let middlebox = matches!(
                spec.target,
                RouteTarget::NetworkInterface(_) | RouteTarget::NatGateway(_)
            );
            if !middlebox {
                return Err(ApiError::invalid_value(format!(
                    "The destination CIDR block {destination} is equal to or more specific than \
                     one of this VPC's CIDR blocks. This route can target only an interface or \
                     an instance."
                )));
            }
            let subnet = self
                .subnets
                .values()
                .any(|s| s.vpc == t.vpc && N::subnet_block(s) == Some(destination));
            if !subnet {
                return Err(ApiError::invalid_value(format!(
                    "Route destination {destination} doesn't match any subnet CIDR blocks: a \
                     route more specific than the VPC's local route must name a whole subnet."
                )));
            }
        }
        Ok(Route {
            destination,
            target: spec.target.clone(),
            origin: RouteOrigin::CreateRoute,
            prefix_list: None,
        })
    }

    /// Refuses a target that cannot take routes of family `N`: an egress-only internet
    /// gateway takes only IPv6 routes, a virtual private gateway only IPv4 ones (a VGW
    /// carries no IPv6).
    fn check_family<N: RouteFamily>(target: &RouteTarget) -> Result<(), ApiError> {
        match target {
            RouteTarget::EgressOnlyGateway(id) if !N::IPV6 => {
                Err(ApiError::invalid_value(format!(
                    "The egress-only internet gateway '{id}' routes IPv6 only: give \
                     DestinationIpv6CidrBlock."
                )))
            }
            RouteTarget::VpnGateway(id) if N::IPV6 => Err(ApiError::invalid_value(format!(
                "The virtual private gateway '{id}' does not route IPv6: give DestinationCidrBlock."
            ))),
            _ => Ok(()),
        }
    }

    /// Checks that `target` can take routes of `table`: a gateway attached to its VPC, a
    /// NAT gateway in it, a peering of it; never `local` or an endpoint.
    pub(crate) fn check_target(
        &self,
        table: &RouteTableId,
        target: &RouteTarget,
    ) -> Result<(), ApiError> {
        let t = self.route_table(table)?;
        match target {
            RouteTarget::Local => {
                return Err(ApiError::invalid_value(
                    "The local route is created with the route table and cannot be added.",
                ));
            }
            RouteTarget::Gateway(igw) => {
                let attached = self.internet_gateway(igw)?.attached_to.as_ref();
                Self::check_same_network(table, &t.vpc, attached, igw.as_str())?;
            }
            RouteTarget::VpnGateway(vgw) => {
                let attached = self.vpn_gateway(vgw)?.attached_to();
                Self::check_same_network(table, &t.vpc, attached, vgw.as_str())?;
            }
            RouteTarget::Endpoint(id) => {
                return Err(ApiError::new(
                    "RouteNotSupported",
                    format!(
                        "The target '{id}' is not supported: a gateway endpoint adds its own routes"
                    ),
                ));
            }
            RouteTarget::Peering(pcx) => {
                if self.peering_connection(pcx)?.peer_of(&t.vpc).is_none() {
                    return Err(ApiError::invalid_value(format!(
                        "route table {table} and peering connection {pcx} belong to different \
                         networks"
                    )));
                }
            }
            RouteTarget::NetworkInterface(eni) => {
                let vpc = match self.interface_owner(eni) {
                    Some(instance) => &instance.vpc,
                    None => &self.network_interface(eni)?.vpc,
                };
                if vpc != &t.vpc {
                    return Err(ApiError::invalid_value(format!(
                        "route table {table} and network interface {eni} belong to different \
                         networks"
                    )));
                }
            }
            RouteTarget::TransitGateway(tgw) => {
                if self.tgw_attachment_of(tgw, &t.vpc).is_none() {
                    return Err(ApiError::new(
                        "InvalidTransitGatewayID.NotFound",
                        format!("The transitGateway ID '{tgw}' does not exist."),
                    ));
                }
            }
            RouteTarget::NatGateway(nat) => {
                if self.nat_gateway(nat)?.vpc != t.vpc {
                    return Err(ApiError::invalid_value(format!(
                        "route table {table} and NAT gateway {nat} belong to different networks"
                    )));
                }
            }
            RouteTarget::EgressOnlyGateway(eigw) => {
                let vpc = &self.egress_only_gateway(eigw)?.vpc;
                Self::check_same_network(table, &t.vpc, Some(vpc), eigw.as_str())?;
            }
        }
        Ok(())
    }

    /// Refuses a gateway (`gateway`, attached to `attached`) for routes of `table` (of
    /// `vpc`) unless it is attached to the table's VPC.
    fn check_same_network(
        table: &RouteTableId,
        vpc: &VpcId,
        attached: Option<&VpcId>,
        gateway: &str,
    ) -> Result<(), ApiError> {
        if attached == Some(vpc) {
            return Ok(());
        }
        Err(ApiError::invalid_value(format!(
            "route table {table} and network gateway {gateway} belong to different networks"
        )))
    }

    // ---- internet gateways ---------------------------------------------------------

    /// CreateInternetGateway.
    pub fn create_internet_gateway(&mut self, tags: Tags) -> InternetGatewayId {
        let id = InternetGatewayId::from_raw(self.ids.fresh(InternetGatewayId::PREFIX));
        self.internet_gateways
            .insert(id.clone(), InternetGateway { id: id.clone(), attached_to: None, tags });
        id
    }

    /// AttachInternetGateway.
    pub fn attach_internet_gateway(
        &mut self,
        igw: &InternetGatewayId,
        vpc: &VpcId,
    ) -> Result<(), ApiError> {
        self.vpc(vpc)?;
        if let Some(other) = &self.internet_gateway(igw)?.attached_to {
            return Err(ApiError::new(
                "Resource.AlreadyAssociated",
                format!("resource {igw} is already attached to network {other}"),
            ));
        }
        if let Some(other) = self.gateway_of(vpc) {
            return Err(ApiError::new(
                "Resource.AlreadyAssociated",
                format!("resource {vpc} is already associated with {}", other.id),
            ));
        }
        if let Some(g) = self.internet_gateways.get_mut(igw) {
            g.attached_to = Some(vpc.clone());
        }
        Ok(())
    }

    /// DetachInternetGateway: refused while public addresses are mapped in the VPC.
    pub fn detach_internet_gateway(
        &mut self,
        igw: &InternetGatewayId,
        vpc: &VpcId,
    ) -> Result<(), ApiError> {
        self.vpc(vpc)?;
        if self.internet_gateway(igw)?.attached_to.as_ref() != Some(vpc) {
            return Err(ApiError::new(
                "Gateway.NotAttached",
                format!("resource {igw} is not attached to network {vpc}"),
            ));
        }
        if self.instances.values().any(|i| &i.vpc == vpc && i.public_ip.is_some())
            || self.nat_gateways.values().any(|n| &n.vpc == vpc)
        {
            return Err(ApiError::new(
                "DependencyViolation",
                format!(
                    "Network {vpc} has some mapped public address(es). Please unmap those public \
                     address(es) before detaching the gateway."
                ),
            ));
        }
        if let Some(g) = self.internet_gateways.get_mut(igw) {
            g.attached_to = None;
        }
        Ok(())
    }

    /// DeleteInternetGateway: refused while attached.
    pub fn delete_internet_gateway(&mut self, igw: &InternetGatewayId) -> Result<(), ApiError> {
        if self.internet_gateway(igw)?.attached_to.is_some() {
            return Err(ApiError::dependency("internetGateway", igw.as_str()));
        }
        self.internet_gateways.remove(igw);
        Ok(())
    }

    // ---- public addresses ----------------------------------------------------------

    fn public_ips_in_use(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let elastic = self.elastic_ips.values().map(|e| e.public_ip);
        let auto = self.instances.values().filter_map(|i| match i.public_ip {
            Some((ip, PublicIpSource::Auto)) => Some(ip),
            _ => None,
        });
        let tunnels =
            self.vpn_connections.values().flat_map(|c| c.tunnels.iter().map(|t| t.outside_ip));
        elastic.chain(auto).chain(tunnels)
    }

    fn take_public_ip(&self) -> Result<Ipv4Addr, ApiError> {
        self.free_public_ip(false, &[])
    }

    /// A free address of the public pool, not among `also_taken`: the lowest for public
    /// and Elastic IPs, the highest (`from_top`) for VPN tunnels' outside addresses, so
    /// the two kinds meet only when the pool is full.
    pub(crate) fn free_public_ip(
        &self,
        from_top: bool,
        also_taken: &[Ipv4Addr],
    ) -> Result<Ipv4Addr, ApiError> {
        let base = u32::from(PUBLIC_POOL.network());
        let last = u32::from(PUBLIC_POOL.broadcast()) - 1;
        let used: Vec<Ipv4Addr> =
            self.public_ips_in_use().chain(also_taken.iter().copied()).collect();
        let free = |ip: &Ipv4Addr| !used.contains(ip);
        let mut pool = (base + PUBLIC_FIRST..=last).map(Ipv4Addr::from);
        let found = if from_top { pool.rfind(free) } else { pool.find(free) };
        found.ok_or_else(|| {
            ApiError::new(
                "AddressLimitExceeded",
                format!("The public address pool {PUBLIC_POOL} is exhausted."),
            )
        })
    }

    /// AllocateAddress (domain `vpc`).
    pub fn allocate_address(&mut self, tags: Tags) -> Result<AllocationId, ApiError> {
        let public_ip = self.take_public_ip()?;
        let id = AllocationId::from_raw(self.ids.fresh(AllocationId::PREFIX));
        self.elastic_ips.insert(
            id.clone(),
            ElasticIp {
                allocation_id: id.clone(),
                public_ip,
                association: None,
                nat_gateway: None,
                tags,
            },
        );
        Ok(id)
    }

    /// AssociateAddress: maps the Elastic IP to the instance's private address, replacing
    /// an auto-assigned public IP. Refused if the VPC has no internet gateway, and if the
    /// address is associated elsewhere unless `allow_reassociation`.
    pub fn associate_address(
        &mut self,
        allocation: &AllocationId,
        instance: &InstanceId,
        allow_reassociation: bool,
    ) -> Result<AssociationId, ApiError> {
        let eip = self.elastic_ip(allocation)?.clone();
        let i = self.instance(instance)?;
        let vpc = i.vpc.clone();
        if i.private_ip.is_none() {
            return Err(ApiError::invalid_value(format!(
                "The instance '{instance}' is in an IPv6-only subnet and has no private IPv4 \
                 address to map an Elastic IP to."
            )));
        }
        if let Some(nat) = &eip.nat_gateway {
            return Err(ApiError::new(
                "Resource.AlreadyAssociated",
                format!("resource {allocation} is already associated with {nat}"),
            ));
        }
        if self.gateway_of(&vpc).is_none() {
            return Err(ApiError::new(
                "Gateway.NotAttached",
                format!("Network {vpc} is not attached to any internet gateway"),
            ));
        }
        if let Some((_, current)) = &eip.association {
            if current != instance && !allow_reassociation {
                return Err(ApiError::new(
                    "Resource.AlreadyAssociated",
                    format!("resource {allocation} is already associated with {current}"),
                ));
            }
            if let Some(i) = self.instances.get_mut(current) {
                i.public_ip = None;
            }
        }
        // An Elastic IP the instance already had goes back to unassociated.
        if let Some((_, PublicIpSource::Elastic(old))) = &self.instance(instance)?.public_ip {
            let old = old.clone();
            if let Some(e) = self.elastic_ips.get_mut(&old) {
                e.association = None;
            }
        }
        let id = AssociationId::from_raw(self.ids.fresh(AssociationId::PREFIX));
        if let Some(e) = self.elastic_ips.get_mut(allocation) {
            e.association = Some((id.clone(), instance.clone()));
        }
        if let Some(i) = self.instances.get_mut(instance) {
            i.public_ip = Some((eip.public_ip, PublicIpSource::Elastic(allocation.clone())));
        }
        Ok(id)
    }

    /// DisassociateAddress: the instance is left without a public address.
    pub fn disassociate_address(&mut self, association: &AssociationId) -> Result<(), ApiError> {
        let eip = self
            .elastic_ips
            .values_mut()
            .find(|e| e.association.as_ref().is_some_and(|(id, _)| id == association))
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{association}' does not exist"),
                )
            })?;
        if let Some((_, instance)) = eip.association.take() {
            if let Some(i) = self.instances.get_mut(&instance) {
                i.public_ip = None;
            }
        }
        Ok(())
    }

    /// ReleaseAddress: refused while associated.
    pub fn release_address(&mut self, allocation: &AllocationId) -> Result<(), ApiError> {
        let eip = self.elastic_ip(allocation)?;
        if eip.association.is_some() || eip.nat_gateway.is_some() {
            return Err(ApiError::new(
                "InvalidIPAddress.InUse",
                format!("Address {} is in use.", self.elastic_ip(allocation)?.public_ip),
            ));
        }
        self.elastic_ips.remove(allocation);
        Ok(())
    }

    // ---- tags ----------------------------------------------------------------------

    /// The tags of the resource `id` (any kind), for CreateTags/DeleteTags.
    fn tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        let kind = id.split('-').next()?;
        let id = id.to_owned();
        match kind {
            "vpc" => self.vpcs.get_mut(&VpcId::from_raw(id)).map(|r| &mut r.tags),
            "subnet" => self.subnets.get_mut(&SubnetId::from_raw(id)).map(|r| &mut r.tags),
            "rtb" => self.route_tables.get_mut(&RouteTableId::from_raw(id)).map(|r| &mut r.tags),
            "igw" => self
                .internet_gateways
                .get_mut(&InternetGatewayId::from_raw(id))
                .map(|r| &mut r.tags),
            "eipalloc" => {
                self.elastic_ips.get_mut(&AllocationId::from_raw(id)).map(|r| &mut r.tags)
            }
            "i" => self.instances.get_mut(&InstanceId::from_raw(id)).map(|r| &mut r.tags),
            "nat" => self.nat_gateways.get_mut(&NatGatewayId::from_raw(id)).map(|r| &mut r.tags),
            "sg" => {
                self.security_groups.get_mut(&SecurityGroupId::from_raw(id)).map(|r| &mut r.tags)
            }
            "acl" => {
                self.network_acls.values_mut().find(|a| a.id.as_str() == id).map(|r| &mut r.tags)
            }
            "pcx" => self.peerings.values_mut().find(|p| p.id.as_str() == id).map(|r| &mut r.tags),
            "vpce" => {
                self.endpoints.values_mut().find(|e| e.id.as_str() == id).map(|r| &mut r.tags)
            }
            "key" => self.key_pairs.values_mut().find(|k| k.id.as_str() == id).map(|r| &mut r.tags),
            "sgr" => self.security_group_rule_tags_mut(&id),
            "dopt" => self.dhcp_options_tags_mut(&id),
            "pl" => self.prefix_list_tags_mut(&id),
            "lt" => self.launch_template_tags_mut(&id),
            "eni" => self
                .network_interfaces
                .get_mut(&NetworkInterfaceId::from_raw(id))
                .map(|e| &mut e.tags),
            "scr" => self
                .subnets
                .values_mut()
                .flat_map(|s| s.reservations.iter_mut())
                .find(|r| r.id == id)
                .map(|r| &mut r.tags),
            "fl" => {
                self.flow_logs.values_mut().find(|f| f.id.as_str() == id).map(|r| &mut r.spec.tags)
            }
            "tgw" => self.tgw_tags_mut(&id),
            "cgw" | "vgw" | "vpn" => self.vpn_tags_mut(&id),
            "eigw" => self
                .egress_only_gateways
                .get_mut(&EgressOnlyInternetGatewayId::from_raw(id))
                .map(|g| &mut g.tags),
            _ => None,
        }
    }

    fn tag_error(id: &str) -> ApiError {
        let kind = id.split('-').next().unwrap_or(id);
        let code = match kind {
            "vpc" => "InvalidVpcID.NotFound",
            "subnet" => "InvalidSubnetID.NotFound",
            "rtb" => "InvalidRouteTableID.NotFound",
            "igw" => "InvalidInternetGatewayID.NotFound",
            "eipalloc" => "InvalidAllocationID.NotFound",
            "i" => "InvalidInstanceID.NotFound",
            "nat" => "NatGatewayNotFound",
            "sg" => "InvalidGroup.NotFound",
            "acl" => "InvalidNetworkAclID.NotFound",
            "pcx" => "InvalidVpcPeeringConnectionID.NotFound",
            "vpce" => "InvalidVpcEndpointId.NotFound",
            "key" => "InvalidKeyPair.NotFound",
            "sgr" => "InvalidSecurityGroupRuleId.NotFound",
            "dopt" => "InvalidDhcpOptionID.NotFound",
            "pl" => "InvalidPrefixListID.NotFound",
            "lt" => "InvalidLaunchTemplateId.NotFound",
            "eni" => "InvalidNetworkInterfaceID.NotFound",
            "scr" => "InvalidSubnetCidrReservationID.NotFound",
            "fl" => "InvalidFlowLogId.NotFound",
            "tgw" if id.starts_with("tgw-attach-") => "InvalidTransitGatewayAttachmentID.NotFound",
            "tgw" if id.starts_with("tgw-rtb-") => "InvalidRouteTableID.NotFound",
            "tgw" => "InvalidTransitGatewayID.NotFound",
            "cgw" => "InvalidCustomerGatewayID.NotFound",
            "vgw" => "InvalidVpnGatewayID.NotFound",
            "vpn" => "InvalidVpnConnectionID.NotFound",
            "eigw" => "InvalidEgressOnlyInternetGatewayId.NotFound",
            _ => return ApiError::new("InvalidID", format!("The ID '{id}' is not valid")),
        };
        ApiError::new(code, format!("The ID '{id}' does not exist"))
    }

    /// CreateTags: adds (or overwrites) `tags` on every resource in `ids`; all or none.
    pub fn create_tags(&mut self, ids: &[String], tags: &Tags) -> Result<(), ApiError> {
        if let Some(missing) = ids.iter().find(|id| self.tags_mut(id).is_none()) {
            return Err(Self::tag_error(missing));
        }
        for id in ids {
            let held = self.tags_mut(id).expect("checked above");
            let after = held.keys().chain(tags.keys()).collect::<std::collections::BTreeSet<_>>();
            if after.len() > MAX_TAGS {
                return Err(ApiError::new(
                    "TagLimitExceeded",
                    format!("The maximum number of tags ({MAX_TAGS}) for {id} has been reached."),
                ));
            }
        }
        for id in ids {
            if let Some(t) = self.tags_mut(id) {
                t.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Ok(())
    }

    /// DeleteTags: removes the keys (only where the value matches, when one is given).
    pub fn delete_tags(
        &mut self,
        ids: &[String],
        tags: &[(String, Option<String>)],
    ) -> Result<(), ApiError> {
        if let Some(missing) = ids.iter().find(|id| self.tags_mut(id).is_none()) {
            return Err(Self::tag_error(missing));
        }
        for id in ids {
            if let Some(t) = self.tags_mut(id) {
                for (key, value) in tags {
                    if value.as_ref().is_none_or(|v| t.get(key) == Some(v)) {
                        t.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    /// Every tag of every resource: (resource id, resource type, key, value).
    pub fn all_tags(&self) -> Vec<(String, &'static str, String, String)> {
        let mut out = Vec::new();
        let mut add = |id: String, kind: &'static str, tags: &Tags| {
            for (k, v) in tags {
                out.push((id.clone(), kind, k.clone(), v.clone()));
            }
        };
        self.vpcs.values().for_each(|r| add(r.id.to_string(), "vpc", &r.tags));
        self.subnets.values().for_each(|r| add(r.id.to_string(), "subnet", &r.tags));
        self.route_tables.values().for_each(|r| add(r.id.to_string(), "route-table", &r.tags));
        self.internet_gateways
            .values()
            .for_each(|r| add(r.id.to_string(), "internet-gateway", &r.tags));
        self.elastic_ips
            .values()
            .for_each(|r| add(r.allocation_id.to_string(), "elastic-ip", &r.tags));
        self.instances.values().for_each(|r| add(r.id.to_string(), "instance", &r.tags));
        self.nat_gateways.values().for_each(|r| add(r.id.to_string(), "natgateway", &r.tags));
        self.security_groups
            .values()
            .for_each(|r| add(r.id.to_string(), "security-group", &r.tags));
        self.network_acls.values().for_each(|r| add(r.id.to_string(), "network-acl", &r.tags));
        self.peerings
            .values()
            .for_each(|r| add(r.id.to_string(), "vpc-peering-connection", &r.tags));
        self.endpoints.values().for_each(|r| add(r.id.to_string(), "vpc-endpoint", &r.tags));
        self.key_pairs.values().for_each(|r| add(r.id.to_string(), "key-pair", &r.tags));
        self.dhcp_options.values().for_each(|r| add(r.id.to_string(), "dhcp-options", &r.tags));
        self.prefix_lists.values().for_each(|r| add(r.id.to_string(), "prefix-list", &r.tags));
        self.network_interfaces
            .values()
            .for_each(|r| add(r.id.to_string(), "network-interface", &r.tags));
        self.launch_templates
            .values()
            .for_each(|r| add(r.id.to_string(), "launch-template", &r.tags));
        for g in self.security_groups.values() {
            let rules = g.ingress.iter().map(|r| (false, r));
            for (egress, r) in rules.chain(g.egress.iter().map(|r| (true, r))) {
                add(r.id_in(&g.id, egress), "security-group-rule", r.tags());
            }
        }
        self.flow_logs.values().for_each(|r| add(r.id.to_string(), "vpc-flow-log", &r.spec.tags));
        self.transit_gateways
            .values()
            .for_each(|r| add(r.id.to_string(), "transit-gateway", &r.tags));
        self.tgw_attachments
            .values()
            .for_each(|r| add(r.id.to_string(), "transit-gateway-attachment", &r.tags));
        self.tgw_route_tables
            .values()
            .for_each(|r| add(r.id.to_string(), "transit-gateway-route-table", &r.tags));
        self.customer_gateways
            .values()
            .for_each(|r| add(r.id.to_string(), "customer-gateway", &r.tags));
        self.vpn_gateways.values().for_each(|r| add(r.id.to_string(), "vpn-gateway", &r.tags));
        self.vpn_connections
            .values()
            .for_each(|r| add(r.id.to_string(), "vpn-connection", &r.tags));
        self.egress_only_gateways
            .values()
            .for_each(|r| add(r.id.to_string(), "egress-only-internet-gateway", &r.tags));
        out
    }

    // ---- NAT gateways --------------------------------------------------------------

    /// Whether `ip` is held by an interface in `subnet`. Only the subnet's own
    /// interfaces count: VPCs may overlap, and each has its own addresses.
    fn private_ip_in_use(&self, subnet: &SubnetId, ip: Ipv4Addr) -> bool {
        self.addresses_in_use(subnet).any(|held| held == ip)
    }

    /// The addresses held by interfaces in `subnet` (instances', NAT gateways',
    /// network interfaces', managed interfaces').
    fn addresses_in_use<'a>(&'a self, subnet: &'a SubnetId) -> impl Iterator<Item = Ipv4Addr> + 'a {
        let instances = self.instances.values().filter_map(|i| Some((&i.subnet, i.private_ip?)));
        let nats = self.working_nat_gateways().map(|n| (&n.subnet, n.private_ip));
        let interfaces =
            self.network_interfaces.values().filter_map(|n| Some((&n.subnet, n.private_ip?)));
        let managed = self.managed_interfaces().map(|m| (&m.subnet, m.private_ip));
        instances
            .chain(nats)
            .chain(interfaces)
            .chain(managed)
            .filter(move |(held_in, _)| *held_in == subnet)
            .map(|(_, ip)| ip)
    }

    /// The network interfaces of one's own.
    pub fn network_interfaces(&self) -> impl Iterator<Item = &crate::NetworkInterface> {
        self.network_interfaces.values()
    }

    /// One of them.
    pub fn network_interface(
        &self,
        id: &NetworkInterfaceId,
    ) -> Result<&crate::NetworkInterface, ApiError> {
        self.network_interfaces.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidNetworkInterfaceID.NotFound",
                format!("The networkInterface ID '{id}' does not exist"),
            )
        })
    }

    /// CreateNetworkInterface: an interface in `subnet` with `private_ip` (the lowest free
    /// address without), `groups` (the VPC's default group without).
    pub fn create_network_interface(
        &mut self,
        subnet: &SubnetId,
        private_ip: Option<Ipv4Addr>,
        ipv6: &crate::Ipv6Request,
        groups: &[SecurityGroupId],
        description: String,
        tags: Tags,
    ) -> Result<NetworkInterfaceId, ApiError> {
        let s = self.subnet(subnet)?.clone();
        let security_groups = self.groups_for_launch(&s.vpc, groups)?;
        let private_ip = match private_ip {
            // An IPv6-only subnet's interfaces have no IPv4 address.
            None if s.ipv6_native() => None,
            asked => Some(self.interface_address(&s, asked)?),
        };
        let ipv6_addresses = self.new_ipv6_addresses(subnet, 0, ipv6)?;
        let id = NetworkInterfaceId::from_raw(self.ids.fresh(NetworkInterfaceId::PREFIX));
        self.network_interfaces.insert(
            id.clone(),
            crate::NetworkInterface {
                id: id.clone(),
                subnet: subnet.clone(),
                vpc: s.vpc,
                private_ip,
                ipv6_addresses,
                security_groups,
                description,
                connection_tracking: None,
                source_dest_check: true,
                attachment: None,
                tags,
            },
        );
        Ok(id)
    }

    /// ModifyNetworkInterfaceAttribute for an interface of one's own: its groups or
    /// description.
    pub fn modify_network_interface(
        &mut self,
        id: &NetworkInterfaceId,
        groups: Option<&[SecurityGroupId]>,
        description: Option<String>,
    ) -> Result<(), ApiError> {
        let eni = self.network_interface(id)?.clone();
        let groups = match groups {
            Some(groups) => Some(self.groups_for_launch(&eni.vpc, groups)?),
            None => None,
        };
        if let Some(e) = self.network_interfaces.get_mut(id) {
            if let Some(groups) = groups {
                e.security_groups = groups;
            }
            if let Some(description) = description {
                e.description = description;
            }
        }
        Ok(())
    }

    /// The connection-tracking timeouts of interface `id` (an instance's primary one or
    /// one of one's own), AWS's defaults if never set.
    pub fn connection_tracking(
        &self,
        id: &NetworkInterfaceId,
    ) -> Result<ConnectionTracking, ApiError> {
        let set = match self.instances.values().find(|i| &i.interface == id) {
            Some(instance) => instance.connection_tracking,
            None => self.network_interface(id)?.connection_tracking,
        };
        Ok(set.unwrap_or_default())
    }

    /// Sets the connection-tracking timeouts of interface `id` (an instance's primary
    /// one or one of one's own). Flows tracked already keep the timeouts they had until
    /// their next packet.
    pub fn set_connection_tracking(
        &mut self,
        id: &NetworkInterfaceId,
        tracking: ConnectionTracking,
    ) -> Result<(), ApiError> {
        if let Some(instance) = self.instances.values_mut().find(|i| &i.interface == id) {
            instance.connection_tracking = Some(tracking);
            return Ok(());
        }
        self.network_interface(id)?;
        if let Some(eni) = self.network_interfaces.get_mut(id) {
            eni.connection_tracking = Some(tracking);
        }
        Ok(())
    }

    /// DeleteNetworkInterface: one of one's own (an instance's goes with the instance).
    pub fn delete_network_interface(&mut self, id: &NetworkInterfaceId) -> Result<(), ApiError> {
        let attached = self.network_interfaces.get(id).is_some_and(|n| n.attachment.is_some());
        if attached || self.instances.values().any(|i| &i.interface == id) {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("Network interface '{id}' is currently in use."),
            ));
        }
        self.network_interface(id)?;
        self.network_interfaces.remove(id);
        Ok(())
    }

    /// How many addresses of `subnet` are left to hand out automatically
    /// (`availableIpAddressCount`): the usable ones, less those in use and those in CIDR
    /// reservations.
    pub fn available_addresses(&self, subnet: &Subnet) -> u32 {
        let used: std::collections::BTreeSet<Ipv4Addr> = self
            .instances
            .values()
            .filter(|i| i.subnet == subnet.id)
            .filter_map(|i| i.private_ip)
            .chain(
                self.nat_gateways.values().filter(|n| n.subnet == subnet.id).map(|n| n.private_ip),
            )
            .chain(
                self.network_interfaces
                    .values()
                    .filter(|n| n.subnet == subnet.id)
                    .filter_map(|n| n.private_ip),
            )
            .chain(
                self.managed_interfaces().filter(|m| m.subnet == subnet.id).map(|m| m.private_ip),
            )
            .collect();
        let reserved = subnet
            .reservations
            .iter()
            .flat_map(|r| r.cidr.hosts().chain([r.cidr.network(), r.cidr.broadcast()]))
            .filter(|ip| !subnet.is_reserved(*ip) && !used.contains(ip))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        subnet.usable_addresses().saturating_sub(used.len() as u32).saturating_sub(reserved as u32)
    }

    /// Every requester-managed interface: the transit gateways' and the interface
    /// endpoints'.
    pub(crate) fn managed_interfaces(&self) -> impl Iterator<Item = &crate::ManagedInterface> {
        let tgw = self.tgw_attachments.values().flat_map(|a| a.subnets());
        let endpoints = self
            .endpoints
            .values()
            .filter_map(|e| e.interface.as_ref())
            .flat_map(|i| &i.interfaces);
        tgw.chain(endpoints)
    }

    /// A requester-managed interface in `subnet` (a transit gateway's, an interface
    /// endpoint's): a fresh id and the lowest free address.
    pub(crate) fn managed_interface(
        &mut self,
        subnet: &SubnetId,
    ) -> Result<crate::ManagedInterface, ApiError> {
        let s = self.subnet(subnet)?.clone();
        let private_ip = self.interface_address(&s, None)?;
        let interface = NetworkInterfaceId::from_raw(self.ids.fresh(NetworkInterfaceId::PREFIX));
        Ok(crate::ManagedInterface { subnet: subnet.clone(), interface, private_ip })
    }

    /// The address a new interface in `subnet` takes: `asked`, if it is one of the
    /// subnet's usable addresses and free, else the lowest free one.
    fn interface_address(
        &self,
        subnet: &Subnet,
        asked: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, ApiError> {
        let block = subnet.ipv4("an interface's IPv4 address")?;
        let Some(ip) = asked else {
            return self.free_address(subnet).ok_or_else(|| {
                ApiError::new(
                    "InsufficientFreeAddressesInSubnet",
                    format!("There are not enough free addresses in subnet '{}'.", subnet.id),
                )
            });
        };
        if !block.contains(&ip) || subnet.is_reserved(ip) {
            return Err(ApiError::invalid_value(format!(
                "Address {ip} does not fall within the subnet's usable address range"
            )));
        }
        if self.private_ip_in_use(&subnet.id, ip) {
            return Err(ApiError::new(
                "InvalidIPAddress.InUse",
                format!("The specified address {ip} is already in use."),
            ));
        }
        Ok(ip)
    }

    /// The lowest address of `subnet` AWS would hand out: not one of the five reserved,
    /// not in use, not in a CIDR reservation (those are assigned by hand).
    pub(crate) fn free_address(&self, subnet: &Subnet) -> Option<Ipv4Addr> {
        let block = subnet.cidr?;
        let first = u32::from(block.network()) + 4;
        let last = u32::from(block.broadcast()) - 1;
        // One pass over the holders, not one per address tried: with thousands of
        // instances, launching each searched them all for every address it tried.
        let in_use: std::collections::HashSet<Ipv4Addr> =
            self.addresses_in_use(&subnet.id).collect();
        (first..=last).map(Ipv4Addr::from).find(|ip| {
            !in_use.contains(ip) && !subnet.reservations.iter().any(|r| r.cidr.contains(ip))
        })
    }

    /// CreateNatGateway. Its interface takes `spec.private_ip` or the lowest free
    /// address of the subnet. A public gateway whose Elastic IP is in use, or in a VPC
    /// without an internet gateway, is created failed, as AWS fails it after accepting
    /// the request (`Resource.AlreadyAssociated`, `Gateway.NotAttached`): it carries
    /// nothing, holds no address and takes no Elastic IP.
    pub fn create_nat_gateway(
        &mut self,
        spec: NatGatewaySpec,
        tags: Tags,
        created_at: u64,
    ) -> Result<NatGatewayId, ApiError> {
        let subnet = self.subnet(&spec.subnet)?.clone();
        // What AWS accepts and then fails the gateway for (`failureCode`, `failureMessage`).
        let mut failure = None;
        let public = match &spec.connectivity {
            NatConnectivity::Public(allocation) => {
                let eip = self.elastic_ip(allocation)?;
                if eip.association.is_some() || eip.nat_gateway.is_some() {
                    failure = Some(crate::NatFailure {
                        code: "Resource.AlreadyAssociated".into(),
                        message: format!("Elastic IP address {allocation} is already associated"),
                    });
                } else if self.gateway_of(&subnet.vpc).is_none() {
                    failure = Some(crate::NatFailure {
                        code: "Gateway.NotAttached".into(),
                        message: format!("Network {} has no Internet gateway attached", subnet.vpc),
                    });
                }
                Some(crate::NatPublic { allocation: allocation.clone(), public_ip: eip.public_ip })
            }
            NatConnectivity::Private => None,
        };
        let idle_timeout_s = spec.idle_timeout_s.unwrap_or(NAT_IDLE_TIMEOUT_S);
        if idle_timeout_s == 0 {
            return Err(ApiError::invalid_value("The idle timeout must be at least one second."));
        }
        let private_ip = self.interface_address(&subnet, spec.private_ip)?;
        let id = NatGatewayId::from_raw(self.ids.fresh(NatGatewayId::PREFIX));
        if let (Some(public), None) = (&public, &failure) {
            if let Some(e) = self.elastic_ips.get_mut(&public.allocation) {
                e.nat_gateway = Some(id.clone());
            }
        }
        self.nat_gateways.insert(
            id.clone(),
            NatGateway {
                id: id.clone(),
                vpc: subnet.vpc.clone(),
                subnet: subnet.id.clone(),
                public,
                private_ip,
                failure,
                idle_timeout_s,
                created_at,
                tags,
            },
        );
        Ok(id)
    }

    /// DeleteNatGateway: routes to it become blackholes; its Elastic IP stays allocated.
    pub fn delete_nat_gateway(&mut self, id: &NatGatewayId, at: u64) -> Result<(), ApiError> {
        if self.deleted_nat_gateways.get(id, at).is_some() && !self.nat_gateways.contains_key(id) {
            return Ok(());
        }
        let nat = self.nat_gateway(id)?.clone();
        if let Some(e) = nat.public.as_ref().and_then(|p| self.elastic_ips.get_mut(&p.allocation)) {
            if e.nat_gateway.as_ref() == Some(id) {
                e.nat_gateway = None;
            }
        }
        self.nat_gateways.remove(id);
        self.deleted_nat_gateways.insert(id.clone(), nat, at);
        Ok(())
    }

    /// NAT gateways deleted within the hour before `now`, with when.
    pub fn deleted_nat_gateways(&self, now: u64) -> impl Iterator<Item = (&NatGateway, u64)> {
        self.deleted_nat_gateways.listed(now)
    }

    // ---- instances -----------------------------------------------------------------

    /// A new reservation id (`r-…`): the instances of one RunInstances call share it.
    pub fn new_reservation(&mut self) -> String {
        self.ids.fresh("r")
    }

    /// RunInstances for one instance.
    pub fn run_instance(&mut self, spec: RunInstance) -> Result<InstanceId, ApiError> {
        if let Some(key) = &spec.key_name {
            self.key_pair(key)?;
        }
        let subnet_id = spec.subnet.ok_or_else(|| {
            ApiError::new("MissingParameter", "The request must contain the parameter SubnetId")
        })?;
        let subnet = self.subnet(&subnet_id)?.clone();
        let security_groups = self.groups_for_launch(&subnet.vpc, &spec.security_groups)?;
        let in_use = |ip: Ipv4Addr| self.private_ip_in_use(&subnet_id, ip);
        let private_ip = match spec.private_ip {
            // An IPv6-only subnet's instances have no IPv4 address.
            None if subnet.ipv6_native() => None,
            Some(ip) => {
                if !subnet.ipv4("a private IPv4 address")?.contains(&ip) {
                    return Err(ApiError::invalid_value(format!(
                        "Address {ip} does not fall within the subnet's address range"
                    )));
                }
                if subnet.is_reserved(ip) {
                    return Err(ApiError::invalid_value(format!(
                        "Address {ip} is in subnet's reserved address range"
                    )));
                }
                if in_use(ip) {
                    return Err(ApiError::new(
                        "InvalidIPAddress.InUse",
                        format!("Address {ip} is in use."),
                    ));
                }
                Some(ip)
            }
            None => Some(self.free_address(&subnet).ok_or_else(|| {
                ApiError::new(
                    "InsufficientFreeAddressesInSubnet",
                    format!(
                        "There are not enough free addresses in subnet '{subnet_id}' to \
                             satisfy the requested number of instances."
                    ),
                )
            })?),
        };
        let ipv6_addresses = self.new_ipv6_addresses(&subnet_id, 0, &spec.ipv6)?;
        let dns_names = subnet.dns_names_on_launch.with(&spec.dns_names).allowed_in(&subnet)?;
        let public_ip = match spec.public_ip.unwrap_or(subnet.map_public_ip_on_launch) {
            true => {
                subnet.ipv4("a public IPv4 address")?;
                Some((self.take_public_ip()?, PublicIpSource::Auto))
            }
            false => None,
        };
        let id = InstanceId::from_raw(self.ids.fresh(InstanceId::PREFIX));
        let interface = NetworkInterfaceId::from_raw(self.ids.fresh(NetworkInterfaceId::PREFIX));
        let reservation = spec.reservation.unwrap_or_else(|| self.new_reservation());
        self.instances.insert(
            id.clone(),
            Instance {
                id: id.clone(),
                interface,
                subnet: subnet_id,
                vpc: subnet.vpc,
                private_ip,
                ipv6_addresses,
                public_ip,
                security_groups,
                image_id: spec.image_id,
                instance_type: spec.instance_type,
                launched_at: spec.launched_at,
                metadata: spec.metadata,
                key_name: spec.key_name,
                stopped: false,
                public_ip_on_start: false,
                reservation,
                termination_protected: spec.termination_protected,
                user_data: spec.user_data,
                connection_tracking: spec.connection_tracking,
                source_dest_check: true,
                dns_names,
                tags: spec.tags,
            }
            .into(),
        );
        Ok(id)
    }

    /// TerminateInstances for one instance: its auto-assigned public IP is released, an
    /// Elastic IP is disassociated but stays allocated.
    ///
    /// The instance stays listed as terminated (see [`Model::terminated_instances`]);
    /// terminating it again changes nothing. `at` is the time, in Unix seconds.
    pub fn terminate_instance(&mut self, id: &InstanceId, at: u64) -> Result<(), ApiError> {
        if self.terminated.contains_key(id) && !self.instances.contains_key(id) {
            return Ok(());
        }
        if self.instance(id)?.termination_protected {
            return Err(ApiError::new(
                "OperationNotPermitted",
                format!(
                    "The instance '{id}' may not be terminated. Modify its \
                     'disableApiTermination' instance attribute and try again."
                ),
            ));
        }
        for eip in self.elastic_ips.values_mut() {
            if eip.association.as_ref().is_some_and(|(_, i)| i == id) {
                eip.association = None;
            }
        }
        // Interfaces attached after launch stay, detached (AWS: DeleteOnTermination is
        // false for them).
        for eni in self.network_interfaces.values_mut() {
            if eni.attachment.as_ref().is_some_and(|a| &a.instance == id) {
                eni.attachment = None;
            }
        }
        if let Some(instance) = self.instances.remove(id) {
            self.terminated.retain(|_, (_, when)| at.saturating_sub(*when) < TERMINATED_LISTED_S);
            self.terminated.insert(id.clone(), (instance.into_inner(), at));
        }
        Ok(())
    }

    /// Instances that are running (not stopped): the ones the data plane realises.
    pub fn running_instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances().filter(|i| !i.stopped)
    }

    /// The running instance whose interface `eni` is (its primary one, or one attached
    /// to it), if any: where a route to the interface leads.
    pub fn interface_holder(&self, eni: &NetworkInterfaceId) -> Option<&Instance> {
        self.interface_owner(eni).filter(|i| !i.stopped)
    }

    /// The instance whose interface `eni` is (primary or attached), running or stopped.
    pub fn interface_owner(&self, eni: &NetworkInterfaceId) -> Option<&Instance> {
        let attached = self.network_interfaces.get(eni).and_then(|n| n.attachment.as_ref());
        match attached {
            Some(a) => self.instances.get(&a.instance).map(|i| &**i),
            None => self.instances().find(|i| &i.interface == eni),
        }
    }

    /// [`Model::attached_interfaces`] of every instance that has any, in one pass over
    /// the interfaces.
    pub fn attached_interfaces_by_instance(
        &self,
    ) -> BTreeMap<&InstanceId, Vec<&crate::NetworkInterface>> {
        let mut by_instance: BTreeMap<&InstanceId, Vec<&crate::NetworkInterface>> = BTreeMap::new();
        for n in self.network_interfaces.values() {
            if let Some(a) = &n.attachment {
                by_instance.entry(&a.instance).or_default().push(n);
            }
        }
        for attached in by_instance.values_mut() {
            attached.sort_by_key(|n| n.attachment.as_ref().map(|a| a.device_index));
        }
        by_instance
    }

    /// The interfaces attached to `instance` besides its primary one, by device index.
    pub fn attached_interfaces(
        &self,
        instance: &InstanceId,
    ) -> impl Iterator<Item = &crate::NetworkInterface> {
        let mut attached: Vec<_> = self
            .network_interfaces
            .values()
            .filter(|n| n.attachment.as_ref().is_some_and(|a| &a.instance == instance))
            .collect();
        attached.sort_by_key(|n| n.attachment.as_ref().map(|a| a.device_index));
        attached.into_iter()
    }

    /// AttachNetworkInterface: a free interface of the instance's VPC and zone, at a free
    /// device index (1 and up; 0 is the primary interface). Returns the attachment id.
    pub fn attach_network_interface(
        &mut self,
        eni: &NetworkInterfaceId,
        instance: &InstanceId,
        device_index: u32,
        at: u64,
    ) -> Result<String, ApiError> {
        let n = self.network_interface(eni)?;
        let i = self.instance(instance)?;
        if n.attachment.is_some() {
            return Err(ApiError::new(
                "InvalidNetworkInterface.InUse",
                format!("Interface: [{eni}] in use."),
            ));
        }
        let zone = |s: &SubnetId| self.subnets.get(s).map(|s| s.zone.clone());
        if zone(&n.subnet) != zone(&i.subnet) {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "You may not attach a network interface to an instance if they are not in the                  same availability zone",
            ));
        }
        if n.vpc != i.vpc {
            return Err(ApiError::invalid_value(format!(
                "{eni} is in {} and {instance} in {}: vpclab attaches interfaces of the                  instance's own VPC.",
                n.vpc, i.vpc
            )));
        }
        if device_index == 0
            || self
                .attached_interfaces(instance)
                .any(|o| o.attachment.as_ref().is_some_and(|a| a.device_index == device_index))
        {
            return Err(ApiError::invalid_value(format!(
                "Instance '{instance}' already has an interface attached at device index                  '{device_index}'."
            )));
        }
        if device_index >= MAX_INTERFACES_PER_INSTANCE {
            return Err(ApiError::new(
                "AttachmentLimitExceeded",
                format!(
                    "Interface count {} exceeds the limit for {}",
                    device_index + 1,
                    i.instance_type
                ),
            ));
        }
        let id = format!("eni-attach-{}", &self.ids.fresh("x")[2..]);
        if let Some(n) = self.network_interfaces.get_mut(eni) {
            n.attachment = Some(crate::InterfaceAttachment {
                id: id.clone(),
                instance: instance.clone(),
                device_index,
                attached_at: at,
            });
        }
        Ok(id)
    }

    /// DetachNetworkInterface, by attachment id: the interface is free again.
    pub fn detach_network_interface(&mut self, attachment: &str) -> Result<(), ApiError> {
        let n = self
            .network_interfaces
            .values_mut()
            .find(|n| n.attachment.as_ref().is_some_and(|a| a.id == attachment));
        match n {
            Some(n) => {
                n.attachment = None;
                Ok(())
            }
            None => Err(ApiError::new(
                "InvalidAttachmentID.NotFound",
                format!("The attachment ID '{attachment}' does not exist"),
            )),
        }
    }

    /// The primary interface of `instance`, as a route target (CreateRoute
    /// `--instance-id`).
    pub fn instance_interface(
        &self,
        instance: &InstanceId,
    ) -> Result<NetworkInterfaceId, ApiError> {
        Ok(self.instance(instance)?.interface.clone())
    }

    /// ModifyInstanceAttribute / ModifyNetworkInterfaceAttribute `sourceDestCheck`.
    pub fn set_source_dest_check(&mut self, id: &InstanceId, on: bool) -> Result<(), ApiError> {
        self.instance(id)?;
        if let Some(i) = self.instances.get_mut(id) {
            i.source_dest_check = on;
        }
        Ok(())
    }

    /// ModifyNetworkInterfaceAttribute `sourceDestCheck`: an instance's interface's, or
    /// one of one's own.
    pub fn set_interface_source_dest_check(
        &mut self,
        eni: &NetworkInterfaceId,
        on: bool,
    ) -> Result<(), ApiError> {
        if let Some(instance) = self.instances.values_mut().find(|i| &i.interface == eni) {
            instance.source_dest_check = on;
            return Ok(());
        }
        self.network_interface(eni)?;
        if let Some(n) = self.network_interfaces.get_mut(eni) {
            n.source_dest_check = on;
        }
        Ok(())
    }

    /// ModifyInstanceAttribute `disableApiTermination`.
    pub fn set_termination_protection(
        &mut self,
        id: &InstanceId,
        on: bool,
    ) -> Result<(), ApiError> {
        self.instance(id)?;
        if let Some(i) = self.instances.get_mut(id) {
            i.termination_protected = on;
        }
        Ok(())
    }

    /// ModifyInstanceAttribute `instanceType`: only while the instance is stopped, as on
    /// AWS.
    pub fn set_instance_type(&mut self, id: &InstanceId, kind: &str) -> Result<(), ApiError> {
        if !self.instance(id)?.stopped {
            return Err(ApiError::new(
                "IncorrectInstanceState",
                format!(
                    "The instance '{id}' is not in the 'stopped' state; its type can change \
                     only while it is stopped."
                ),
            ));
        }
        if let Some(i) = self.instances.get_mut(id) {
            i.instance_type = kind.to_owned();
        }
        Ok(())
    }

    /// StopInstances for one instance: an auto-assigned public IP goes back to the pool
    /// (an Elastic IP stays associated). Whether it was running before.
    pub fn stop_instance(&mut self, id: &InstanceId) -> Result<bool, ApiError> {
        self.instance(id)?;
        let instance = self.instances.get_mut(id).expect("checked");
        if instance.stopped {
            return Ok(false);
        }
        instance.stopped = true;
        if matches!(instance.public_ip, Some((_, PublicIpSource::Auto))) {
            instance.public_ip = None;
            instance.public_ip_on_start = true;
        }
        Ok(true)
    }

    /// StartInstances for one instance: a new auto-assigned public IP if it had one.
    /// Whether it was stopped before.
    pub fn start_instance(&mut self, id: &InstanceId) -> Result<bool, ApiError> {
        let instance = self.instance(id)?;
        if !instance.stopped {
            return Ok(false);
        }
        let public = if instance.public_ip_on_start && instance.public_ip.is_none() {
            Some((self.take_public_ip()?, PublicIpSource::Auto))
        } else {
            None
        };
        let instance = self.instances.get_mut(id).expect("checked");
        instance.stopped = false;
        instance.public_ip_on_start = false;
        if public.is_some() {
            instance.public_ip = public;
        }
        Ok(true)
    }

    /// Instances terminated less than an hour before `now` (Unix seconds), as they were.
    pub fn terminated_instances(&self, now: u64) -> impl Iterator<Item = &Instance> {
        self.terminated
            .values()
            .filter(move |(_, at)| now.saturating_sub(*at) < TERMINATED_LISTED_S)
            .map(|(instance, _)| instance)
    }

    /// When `id` was terminated, if it was (and is still remembered).
    pub fn terminated_at(&self, id: &InstanceId) -> Option<u64> {
        self.terminated.get(id).map(|(_, at)| *at)
    }

    /// Whether `id` is a terminated instance still listed at `now`.
    pub fn is_terminated(&self, id: &InstanceId, now: u64) -> bool {
        self.terminated.get(id).is_some_and(|(_, at)| now.saturating_sub(*at) < TERMINATED_LISTED_S)
    }
}

/// The availability zone a new subnet is asked for (the region's first when none is),
/// refusing one the region does not have as AWS does.
pub(crate) fn subnet_zone(zone: Option<&str>) -> Result<&'static str, ApiError> {
    let Some(zone) = zone else { return Ok(ZONES[0]) };
    ZONES.iter().copied().find(|z| *z == zone).ok_or_else(|| {
        ApiError::invalid_value(format!(
            "Value ({zone}) for parameter availabilityZone is invalid. Subnets can currently \
             only be created in the following availability zones: {}.",
            ZONES.join(", ")
        ))
    })
}

/// The DHCP options sets of a model stored before they were (serde's default).
fn initial_dhcp_sets() -> Shared<BTreeMap<crate::DhcpOptionsId, crate::DhcpOptions>> {
    crate::dhcp::initial_sets().into()
}
