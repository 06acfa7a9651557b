//! The EC2 actions vpclab answers, each a function from parameters to a reply body over
//! the model, and the table that maps action names to them.
//!
//! The handlers live in one module per resource family (as the VPC console's sections
//! group them); this module holds the table and what the families share. Adding an
//! action is one function in its family's module and one line in [`ACTIONS`].

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_model::names::{mac, private_dns, public_dns};
use vpclab_model::{
    AclEntry, AllocationId, ApiError, AssociationId, ConnectionTracking, DhcpOptionsId,
    DnsNameChange, DnsNameOptions, EgressOnlyInternetGatewayId, ElasticIp, HostnameType, Instance,
    InstanceId, InternetGateway, InternetGatewayId, Ipv6Block, Ipv6Request, KeyPairId,
    MetadataOptions, Model, NatConnectivity, NatGateway, NatGatewayId, NatGatewaySpec, NetworkAcl,
    NetworkAclAssociationId, NetworkAclId, NetworkInterfaceId, PREFIX_LISTS, Peer,
    PeeringConnection, Protocol, RouteSpec, RouteTable, RouteTableAssociationId, RouteTableId,
    RouteTarget, RunInstance, SecurityGroup, SecurityGroupId, SgRule, Subnet, SubnetId, Tags, Vpc,
    VpcEndpoint, VpcEndpointId, VpcId, VpcPeeringConnectionId, ZONES,
};
use vpclab_model::{
    CustomerGatewayId, RouteOrigin, TgwAttachmentId, TgwRouteTableId, TransitGatewayId,
    VpnConnectionId, VpnGatewayId,
};

use crate::params::Params;
use crate::xml::Xml;

mod addresses;
mod describe;
mod dhcp_options;
mod endpoints;
mod flow_logs;
mod gateways;
mod instances;
mod key_pairs;
mod launch_templates;
mod network_acls;
mod network_interfaces;
mod peering;
mod prefix_lists;
mod region;
mod route_tables;
mod security_groups;
mod tags;
mod transit_gateways;
mod vpcs;
mod vpn;

/// The account every resource belongs to.
pub const OWNER_ID: &str = vpclab_model::names::OWNER_ID;
/// The region.
pub const REGION: &str = vpclab_model::REGION;

/// What a handler works on.
#[derive(Debug)]
pub struct Context<'a> {
    /// The action's name, as in `Action=`.
    pub action: &'static str,
    /// The model; a copy for mutating actions, kept only if the action succeeds.
    pub model: &'a mut Model,
    /// Seconds since the Unix epoch (for launch and create times).
    pub now: u64,
    /// How long resources stay in their transitional states (an instance `pending`, a
    /// NAT gateway `pending` or `deleting`) before the settled one, in seconds.
    pub transition_s: u64,
}

impl Context<'_> {
    /// The time, and how long transitions take.
    pub(crate) fn clock(&self) -> Clock {
        Clock { now: self.now, transition_s: self.transition_s }
    }
}

/// The time, and how long transitions take: what a resource's reported state depends on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    now: u64,
    transition_s: u64,
}

/// The states of a resource being made: during the transition, after it.
const CREATED: (&str, &str) = ("pending", "available");

/// The states of a resource gone but still listed: during the transition, after it.
const DELETED: (&str, &str) = ("deleting", "deleted");

impl Clock {
    /// Whether a transition that began at `since` is over.
    fn settled(self, since: u64) -> bool {
        self.now >= since.saturating_add(self.transition_s)
    }

    /// What a resource whose transition began at `since` reports: the first of `states`
    /// for the transition time, then the second (`pending`, `available`; `deleting`,
    /// `deleted`; `attaching`, `attached`).
    fn state(self, since: u64, states: (&'static str, &'static str)) -> &'static str {
        if self.settled(since) { states.1 } else { states.0 }
    }

    /// What a resource made at `created`, and gone at `gone` if it is, reports:
    /// `pending`, then `available`; once gone, `deleting`, then `deleted`.
    fn lifecycle(self, created: u64, gone: Option<u64>) -> &'static str {
        match gone {
            Some(at) => self.state(at, DELETED),
            None => self.state(created, CREATED),
        }
    }
}

type Handler = fn(&mut Context<'_>, &Params, &mut Xml) -> Result<(), ApiError>;

/// One action.
#[derive(Debug)]
pub struct Action {
    /// Its name, as in `Action=`.
    pub name: &'static str,
    /// Whether it changes the model (and so must be stored and applied).
    pub mutates: bool,
    /// The resource family (module) it belongs to.
    pub family: &'static str,
    handler: Handler,
}

impl Action {
    /// Runs the action.
    pub fn run(
        &self,
        ctx: &mut Context<'_>,
        params: &Params,
        out: &mut Xml,
    ) -> Result<(), ApiError> {
        (self.handler)(ctx, params, out)
    }
}

macro_rules! actions {
    ($($name:literal => $family:ident::$handler:ident, $mutates:literal;)*) => {
        /// Every action, by name.
        pub static ACTIONS: &[Action] = &[$(Action {
            name: $name,
            mutates: $mutates,
            family: stringify!($family),
            handler: $family::$handler,
        },)*];
    };
}

actions! {
    "CreateVpc" => vpcs::create_vpc, true;
    "CreateDefaultVpc" => vpcs::create_default_vpc, true;
    "DescribeVpcs" => vpcs::describe_vpcs, false;
    "DeleteVpc" => vpcs::delete_vpc, true;
    "AssociateVpcCidrBlock" => vpcs::associate_vpc_cidr_block, true;
    "DisassociateVpcCidrBlock" => vpcs::disassociate_vpc_cidr_block, true;
    "AssociateSubnetCidrBlock" => vpcs::associate_subnet_cidr_block, true;
    "DisassociateSubnetCidrBlock" => vpcs::disassociate_subnet_cidr_block, true;
    "CreateSubnet" => vpcs::create_subnet, true;
    "DescribeSubnets" => vpcs::describe_subnets, false;
    "DeleteSubnet" => vpcs::delete_subnet, true;
    "CreateDefaultSubnet" => vpcs::create_default_subnet, true;
    "CreateSubnetCidrReservation" => vpcs::create_subnet_cidr_reservation, true;
    "GetSubnetCidrReservations" => vpcs::get_subnet_cidr_reservations, false;
    "DeleteSubnetCidrReservation" => vpcs::delete_subnet_cidr_reservation, true;
    "ModifySubnetAttribute" => vpcs::modify_subnet_attribute, true;
    "CreateInternetGateway" => gateways::create_internet_gateway, true;
    "CreateEgressOnlyInternetGateway" => gateways::create_egress_only_internet_gateway, true;
    "DescribeEgressOnlyInternetGateways" => gateways::describe_egress_only_internet_gateways, false;
    "DeleteEgressOnlyInternetGateway" => gateways::delete_egress_only_internet_gateway, true;
    "AttachInternetGateway" => gateways::attach_internet_gateway, true;
    "DetachInternetGateway" => gateways::detach_internet_gateway, true;
    "DeleteInternetGateway" => gateways::delete_internet_gateway, true;
    "DescribeInternetGateways" => gateways::describe_internet_gateways, false;
    "AllocateAddress" => addresses::allocate_address, true;
    "AssociateAddress" => addresses::associate_address, true;
    "DisassociateAddress" => addresses::disassociate_address, true;
    "ReleaseAddress" => addresses::release_address, true;
    "DescribeAddresses" => addresses::describe_addresses, false;
    "CreateNatGateway" => gateways::create_nat_gateway, true;
    "DeleteNatGateway" => gateways::delete_nat_gateway, true;
    "DescribeNatGateways" => gateways::describe_nat_gateways, false;
    "CreateRouteTable" => route_tables::create_route_table, true;
    "DeleteRouteTable" => route_tables::delete_route_table, true;
    "DescribeRouteTables" => route_tables::describe_route_tables, false;
    "AssociateRouteTable" => route_tables::associate_route_table, true;
    "DisassociateRouteTable" => route_tables::disassociate_route_table, true;
    "ReplaceRouteTableAssociation" => route_tables::replace_route_table_association, true;
    "CreateRoute" => route_tables::create_route, true;
    "ReplaceRoute" => route_tables::replace_route, true;
    "DeleteRoute" => route_tables::delete_route, true;
    "RunInstances" => instances::run_instances, true;
    "TerminateInstances" => instances::terminate_instances, true;
    "StopInstances" => instances::stop_instances, true;
    "StartInstances" => instances::start_instances, true;
    "RebootInstances" => instances::reboot_instances, true;
    "DescribeInstances" => instances::describe_instances, false;
    "DescribeNetworkInterfaces" => network_interfaces::describe_network_interfaces, false;
    "CreateNetworkInterface" => network_interfaces::create_network_interface, true;
    "AssignIpv6Addresses" => network_interfaces::assign_ipv6_addresses, true;
    "UnassignIpv6Addresses" => network_interfaces::unassign_ipv6_addresses, true;
    "DeleteNetworkInterface" => network_interfaces::delete_network_interface, true;
    "ModifyNetworkInterfaceAttribute" => network_interfaces::modify_network_interface_attribute, true;
    "AttachNetworkInterface" => network_interfaces::attach_network_interface, true;
    "DetachNetworkInterface" => network_interfaces::detach_network_interface, true;
    "CreateTags" => tags::create_tags, true;
    "DeleteTags" => tags::delete_tags, true;
    "DescribeTags" => tags::describe_tags, false;
    "DescribeAvailabilityZones" => region::describe_availability_zones, false;
    "DescribeRegions" => region::describe_regions, false;
    "DescribePrefixLists" => endpoints::describe_prefix_lists, false;
    "CreateManagedPrefixList" => prefix_lists::create_managed_prefix_list, true;
    "DescribeManagedPrefixLists" => prefix_lists::describe_managed_prefix_lists, false;
    "GetManagedPrefixListEntries" => prefix_lists::get_managed_prefix_list_entries, false;
    "GetManagedPrefixListAssociations" => prefix_lists::get_managed_prefix_list_associations, false;
    "ModifyManagedPrefixList" => prefix_lists::modify_managed_prefix_list, true;
    "DeleteManagedPrefixList" => prefix_lists::delete_managed_prefix_list, true;
    "DescribeVpcEndpointServices" => endpoints::describe_vpc_endpoint_services, false;
    "DescribeImages" => region::describe_images, false;
    "CreateSecurityGroup" => security_groups::create_security_group, true;
    "DeleteSecurityGroup" => security_groups::delete_security_group, true;
    "DescribeSecurityGroups" => security_groups::describe_security_groups, false;
    "AuthorizeSecurityGroupIngress" => security_groups::authorize_ingress, true;
    "AuthorizeSecurityGroupEgress" => security_groups::authorize_egress, true;
    "RevokeSecurityGroupIngress" => security_groups::revoke_ingress, true;
    "RevokeSecurityGroupEgress" => security_groups::revoke_egress, true;
    "DescribeSecurityGroupRules" => security_groups::describe_security_group_rules, false;
    "ModifySecurityGroupRules" => security_groups::modify_security_group_rules, true;
    "ModifyInstanceAttribute" => instances::modify_instance_attribute, true;
    "DescribeInstanceAttribute" => instances::describe_instance_attribute, false;
    "ModifyInstanceMetadataOptions" => instances::modify_instance_metadata_options, true;
    "ModifyPrivateDnsNameOptions" => instances::modify_private_dns_name_options, true;
    "ModifyVpcAttribute" => vpcs::modify_vpc_attribute, true;
    "DescribeVpcAttribute" => vpcs::describe_vpc_attribute, false;
    "CreateDhcpOptions" => dhcp_options::create_dhcp_options, true;
    "DescribeDhcpOptions" => dhcp_options::describe_dhcp_options, false;
    "DeleteDhcpOptions" => dhcp_options::delete_dhcp_options, true;
    "AssociateDhcpOptions" => dhcp_options::associate_dhcp_options, true;
    "CreateKeyPair" => key_pairs::create_key_pair, true;
    "ImportKeyPair" => key_pairs::import_key_pair, true;
    "DescribeKeyPairs" => key_pairs::describe_key_pairs, false;
    "DeleteKeyPair" => key_pairs::delete_key_pair, true;
    "DescribeInstanceStatus" => instances::describe_instance_status, false;
    "CreateLaunchTemplate" => launch_templates::create_launch_template, true;
    "CreateLaunchTemplateVersion" => launch_templates::create_launch_template_version, true;
    "ModifyLaunchTemplate" => launch_templates::modify_launch_template, true;
    "DeleteLaunchTemplate" => launch_templates::delete_launch_template, true;
    "DeleteLaunchTemplateVersions" => launch_templates::delete_launch_template_versions, true;
    "DescribeLaunchTemplates" => launch_templates::describe_launch_templates, false;
    "DescribeLaunchTemplateVersions" => launch_templates::describe_launch_template_versions, false;
    "CreateNetworkAcl" => network_acls::create_network_acl, true;
    "DeleteNetworkAcl" => network_acls::delete_network_acl, true;
    "DescribeNetworkAcls" => network_acls::describe_network_acls, false;
    "CreateNetworkAclEntry" => network_acls::create_network_acl_entry, true;
    "ReplaceNetworkAclEntry" => network_acls::replace_network_acl_entry, true;
    "DeleteNetworkAclEntry" => network_acls::delete_network_acl_entry, true;
    "ReplaceNetworkAclAssociation" => network_acls::replace_network_acl_association, true;
    "CreateVpcPeeringConnection" => peering::create_vpc_peering_connection, true;
    "AcceptVpcPeeringConnection" => peering::accept_vpc_peering_connection, true;
    "RejectVpcPeeringConnection" => peering::reject_vpc_peering_connection, true;
    "DeleteVpcPeeringConnection" => peering::delete_vpc_peering_connection, true;
    "DescribeVpcPeeringConnections" => peering::describe_vpc_peering_connections, false;
    "CreateVpcEndpoint" => endpoints::create_vpc_endpoint, true;
    "ModifyVpcEndpoint" => endpoints::modify_vpc_endpoint, true;
    "DeleteVpcEndpoints" => endpoints::delete_vpc_endpoints, true;
    "DescribeVpcEndpoints" => endpoints::describe_vpc_endpoints, false;
    "CreateFlowLogs" => flow_logs::create_flow_logs, true;
    "DeleteFlowLogs" => flow_logs::delete_flow_logs, true;
    "DescribeFlowLogs" => flow_logs::describe_flow_logs, false;
    "CreateTransitGateway" => transit_gateways::create_transit_gateway, true;
    "DescribeTransitGateways" => transit_gateways::describe_transit_gateways, false;
    "ModifyTransitGateway" => transit_gateways::modify_transit_gateway, true;
    "DeleteTransitGateway" => transit_gateways::delete_transit_gateway, true;
    "CreateTransitGatewayVpcAttachment" => transit_gateways::create_vpc_attachment, true;
    "DescribeTransitGatewayVpcAttachments" => transit_gateways::describe_vpc_attachments, false;
    "ModifyTransitGatewayVpcAttachment" => transit_gateways::modify_vpc_attachment, true;
    "DeleteTransitGatewayVpcAttachment" => transit_gateways::delete_vpc_attachment, true;
    "DescribeTransitGatewayAttachments" => transit_gateways::describe_attachments, false;
    "CreateTransitGatewayPeeringAttachment" => transit_gateways::create_peering_attachment, true;
    "AcceptTransitGatewayPeeringAttachment" => transit_gateways::accept_peering_attachment, true;
    "RejectTransitGatewayPeeringAttachment" => transit_gateways::reject_peering_attachment, true;
    "DeleteTransitGatewayPeeringAttachment" => transit_gateways::delete_peering_attachment, true;
    "DescribeTransitGatewayPeeringAttachments" => transit_gateways::describe_peering_attachments, false;
    "CreateTransitGatewayRouteTable" => transit_gateways::create_route_table, true;
    "DescribeTransitGatewayRouteTables" => transit_gateways::describe_route_tables, false;
    "DeleteTransitGatewayRouteTable" => transit_gateways::delete_route_table, true;
    "AssociateTransitGatewayRouteTable" => transit_gateways::associate_route_table, true;
    "DisassociateTransitGatewayRouteTable" => transit_gateways::disassociate_route_table, true;
    "EnableTransitGatewayRouteTablePropagation" => transit_gateways::enable_propagation, true;
    "DisableTransitGatewayRouteTablePropagation" => transit_gateways::disable_propagation, true;
    "GetTransitGatewayRouteTableAssociations" => transit_gateways::get_associations, false;
    "GetTransitGatewayRouteTablePropagations" => transit_gateways::get_table_propagations, false;
    "GetTransitGatewayAttachmentPropagations" => transit_gateways::get_attachment_propagations, false;
    "CreateTransitGatewayRoute" => transit_gateways::create_route, true;
    "ReplaceTransitGatewayRoute" => transit_gateways::replace_route, true;
    "DeleteTransitGatewayRoute" => transit_gateways::delete_route, true;
    "SearchTransitGatewayRoutes" => transit_gateways::search_routes, false;
    "CreateCustomerGateway" => vpn::create_customer_gateway, true;
    "DescribeCustomerGateways" => vpn::describe_customer_gateways, false;
    "DeleteCustomerGateway" => vpn::delete_customer_gateway, true;
    "CreateVpnGateway" => vpn::create_vpn_gateway, true;
    "AttachVpnGateway" => vpn::attach_vpn_gateway, true;
    "DetachVpnGateway" => vpn::detach_vpn_gateway, true;
    "DescribeVpnGateways" => vpn::describe_vpn_gateways, false;
    "DeleteVpnGateway" => vpn::delete_vpn_gateway, true;
    "CreateVpnConnection" => vpn::create_vpn_connection, true;
    "DescribeVpnConnections" => vpn::describe_vpn_connections, false;
    "DeleteVpnConnection" => vpn::delete_vpn_connection, true;
    "CreateVpnConnectionRoute" => vpn::create_vpn_connection_route, true;
    "DeleteVpnConnectionRoute" => vpn::delete_vpn_connection_route, true;
    "ModifyVpnTunnelOptions" => vpn::modify_vpn_tunnel_options, true;
    "EnableVgwRoutePropagation" => vpn::enable_vgw_route_propagation, true;
    "DisableVgwRoutePropagation" => vpn::disable_vgw_route_propagation, true;
}

/// Parameters an action takes and a lab has nothing to apply to: accepted, without
/// effect, and listed in docs/api.md so that nothing is ignored in silence. Each is
/// `(action, parameter or parameter prefix, why)`. Any other parameter an action does not
/// read is refused (`InvalidParameter`).
pub static INERT: &[(&str, &str, &str)] = &[
    ("RunInstances", "BlockDeviceMapping", "no disks: nothing boots in a lab"),
    ("RunInstances", "EbsOptimized", "no disks"),
    ("RunInstances", "Monitoring", "no CloudWatch"),
    ("RunInstances", "CreditSpecification", "no CPU credits: every instance is a namespace"),
    ("RunInstances", "CpuOptions", "every instance is a namespace"),
    ("RunInstances", "CapacityReservationSpecification", "no capacity to reserve"),
    ("RunInstances", "HibernationOptions", "a stopped instance has no processes to keep"),
    ("RunInstances", "MaintenanceOptions", "no hardware to maintain"),
    ("RunInstances", "InstanceInitiatedShutdownBehavior", "nothing inside shuts the instance down"),
    ("RunInstances", "NetworkInterface.1.DeviceIndex", "the one interface is eth0"),
    (
        "RunInstances",
        "NetworkInterface.1.DeleteOnTermination",
        "the interface goes with the instance",
    ),
    ("RunInstances", "Placement.Tenancy", "one tenancy"),
    ("RunInstances", "Placement.GroupName", "no placement groups"),
    ("DescribeInstances", "IncludeManagedResources", "no managed instances"),
    ("DescribeInstanceStatus", "IncludeManagedResources", "no managed instances"),
    ("DescribeNetworkInterfaces", "IncludeManagedResources", "no managed interfaces"),
    ("DescribeImages", "IncludeDeprecated", "no deprecated images"),
    ("DescribeImages", "IncludeDisabled", "no disabled images"),
    ("DescribeImages", "ExecutableBy", "every image is public"),
    ("StopInstances", "Force", "a namespace stops at once"),
    ("StopInstances", "SkipOsShutdown", "a namespace stops at once"),
    ("TerminateInstances", "Force", "a namespace goes at once"),
    ("TerminateInstances", "SkipOsShutdown", "a namespace goes at once"),
    ("StartInstances", "AdditionalInfo", "reserved by AWS"),
    ("RunInstances", "AdditionalInfo", "reserved by AWS"),
    (
        "CreateTransitGateway",
        "Options.DnsSupport",
        "stored and shown; Amazon DNS does not resolve other attached VPCs' public names to private addresses yet",
    ),
    (
        "CreateTransitGateway",
        "Options.VpnEcmpSupport",
        "stored and shown; a VPN attachment sends each prefix through one tunnel at a time (no ECMP across tunnels yet)",
    ),
    (
        "CreateTransitGateway",
        "Options.SecurityGroupReferencingSupport",
        "stored and shown; security-group rules cannot reference groups across a transit gateway yet (use CIDRs)",
    ),
    (
        "CreateTransitGateway",
        "Options.AutoAcceptSharedAttachments",
        "stored and shown; one account: nothing is shared to accept",
    ),
    (
        "ModifyTransitGateway",
        "Options.DnsSupport",
        "stored and shown; Amazon DNS does not resolve other attached VPCs' public names to private addresses yet",
    ),
    (
        "ModifyTransitGateway",
        "Options.VpnEcmpSupport",
        "stored and shown; a VPN attachment sends each prefix through one tunnel at a time (no ECMP across tunnels yet)",
    ),
    (
        "ModifyTransitGateway",
        "Options.SecurityGroupReferencingSupport",
        "stored and shown; security-group rules cannot reference groups across a transit gateway yet (use CIDRs)",
    ),
    (
        "ModifyTransitGateway",
        "Options.AutoAcceptSharedAttachments",
        "stored and shown; one account: nothing is shared to accept",
    ),
    (
        "CreateTransitGateway",
        "Options.TransitGatewayCidrBlocks",
        "stored and shown; no Connect attachments",
    ),
    (
        "ModifyTransitGateway",
        "Options.AddTransitGatewayCidrBlocks",
        "stored and shown; no Connect attachments",
    ),
    (
        "ModifyTransitGateway",
        "Options.RemoveTransitGatewayCidrBlocks",
        "stored and shown; no Connect attachments",
    ),
    (
        "CreateTransitGatewayVpcAttachment",
        "Options.DnsSupport",
        "stored and shown; Amazon DNS does not resolve other attached VPCs' public names to private addresses yet",
    ),
    (
        "CreateTransitGatewayVpcAttachment",
        "Options.SecurityGroupReferencingSupport",
        "stored and shown; security-group rules cannot reference groups across a transit gateway yet (use CIDRs)",
    ),
    (
        "ModifyTransitGatewayVpcAttachment",
        "Options.DnsSupport",
        "stored and shown; Amazon DNS does not resolve other attached VPCs' public names to private addresses yet",
    ),
    (
        "ModifyTransitGatewayVpcAttachment",
        "Options.SecurityGroupReferencingSupport",
        "stored and shown; security-group rules cannot reference groups across a transit gateway yet (use CIDRs)",
    ),
    (
        "CreateVpnConnection",
        "Options.TunnelBandwidth",
        "stored and shown; a lab does not limit a tunnel's bandwidth",
    ),
];

/// The coverage table of docs/api.md: every action, what it pages, the filter names it
/// answers (beyond those AWS documents and vpclab matches against nothing), and what it
/// accepts without effect. Generated, so it cannot drift from the table above.
pub fn coverage_markdown() -> String {
    let mut out = String::from(
        "| action | family | changes state | pages (MaxResults) | accepted without effect |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    let mut actions: Vec<&Action> = ACTIONS.iter().collect();
    actions.sort_by_key(|a| (a.family, a.name));
    for a in actions {
        let pages = match crate::known_params::max_results(a.name) {
            Some((min, max, true)) => format!("{min}–{max}"),
            Some((min, max, false)) => format!("{min}–, at most {max} a page"),
            None => "no".to_owned(),
        };
        let inert: Vec<String> = INERT
            .iter()
            .filter(|(action, _, _)| *action == a.name)
            .map(|(_, param, why)| format!("`{param}` ({why})"))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            a.name,
            a.family.replace('_', " "),
            if a.mutates { "yes" } else { "no" },
            pages,
            if inert.is_empty() { "—".to_owned() } else { inert.join("; ") },
        ));
    }
    out
}

/// Whether a parameter an action did not read may pass: the protocol's own (`Action`,
/// `Version`), one that is empty (SDKs send unset strings so; a handler reads it as
/// absent) or `false` (it asks for a feature to be off, which it is), and those
/// accepted without effect ([`INERT`]).
pub fn asks_nothing(action: &str, param: &str, value: &str) -> bool {
    matches!(param, "Action" | "Version")
        || value.is_empty()
        || value == "false"
        || is_inert(action, param)
}

/// Whether `param` of `action` is accepted without effect (see [`INERT`]).
pub fn is_inert(action: &str, param: &str) -> bool {
    INERT.iter().any(|(a, prefix, _)| {
        *a == action
            && (param == *prefix
                || param.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')))
    })
}

/// The action called `name`.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

// ---- helpers -----------------------------------------------------------------------

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError { code: "InvalidParameterValue", message: message.into() }
}

/// A private IPv4 address given as a parameter (`PrivateIpAddress`), worded as EC2
/// refuses a malformed one.
fn private_ip(ip: &str) -> Result<Ipv4Addr, ApiError> {
    ip.parse()
        .map_err(|_| invalid(format!("Value ({ip}) for parameter privateIpAddress is invalid.")))
}

/// Checks the account id a request names in `name` (`PeerOwnerId`, `PeerAccountId`):
/// twelve digits.
fn account_id<'a>(name: &str, value: &'a str) -> Result<&'a str, ApiError> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value)
    } else {
        Err(invalid(format!("Invalid value '{value}' for {name}.")))
    }
}

fn malformed(code: &'static str, kind: &str, id: &str) -> ApiError {
    ApiError { code, message: format!("Invalid id: \"{id}\" (expecting \"{kind}-...\")") }
}

fn cidr(params: &Params, name: &str) -> Result<Ipv4Net, ApiError> {
    let value = params.required(name)?;
    value.parse().map_err(|_| {
        invalid(format!(
            "Value ({value}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        ))
    })
}

/// An IPv6 CIDR parameter (`Ipv6CidrBlock`, `DestinationIpv6CidrBlock`), if given.
fn cidr6(params: &Params, name: &str) -> Result<Option<ipnet::Ipv6Net>, ApiError> {
    params
        .get(name)
        .map(|value| {
            value.parse().map_err(|_| {
                invalid(format!(
                    "Value ({value}) for parameter ipv6CidrBlock is invalid. This is not a valid \
                     IPv6 CIDR block."
                ))
            })
        })
        .transpose()
}

/// The IPv6 addresses a call asks for: `{prefix}Ipv6AddressCount`, or a list of
/// addresses `{prefix}{list}.N[.{member}]` (never both).
fn ipv6_request(
    p: &Params,
    prefix: &str,
    list: &str,
    member: Option<&str>,
) -> Result<vpclab_model::Ipv6Request, ApiError> {
    let count = p.u32(&format!("{prefix}Ipv6AddressCount"))?;
    let mut addresses = Vec::new();
    for n in 1.. {
        let name = match member {
            Some(member) => format!("{prefix}{list}.{n}.{member}"),
            None => format!("{prefix}{list}.{n}"),
        };
        let Some(text) = p.get(&name) else { break };
        let address: std::net::Ipv6Addr = text.parse().map_err(|_| {
            invalid(format!("Value ({text}) for parameter {name} is invalid: not an IPv6 address."))
        })?;
        addresses.push(address);
    }
    match (count, addresses.is_empty()) {
        (Some(_), false) => Err(ApiError {
            code: "InvalidParameterCombination",
            message: "The parameters ipv6AddressCount and ipv6Addresses cannot be given together."
                .into(),
        }),
        (Some(n), true) => Ok(Ipv6Request::Count(n)),
        (None, false) => Ok(Ipv6Request::Addresses(addresses)),
        (None, true) => Ok(Ipv6Request::SubnetDefault),
    }
}

macro_rules! parse_id {
    ($fn:ident, $ty:ident, $code:literal, $kind:literal) => {
        fn $fn(value: &str) -> Result<$ty, ApiError> {
            $ty::parse(value).ok_or_else(|| malformed($code, $kind, value))
        }
    };
}

parse_id!(vpc_id, VpcId, "InvalidVpcID.Malformed", "vpc");
parse_id!(
    eigw_id,
    EgressOnlyInternetGatewayId,
    "InvalidEgressOnlyInternetGatewayId.Malformed",
    "eigw"
);
parse_id!(subnet_id, SubnetId, "InvalidSubnetID.Malformed", "subnet");
parse_id!(rtb_id, RouteTableId, "InvalidRouteTableID.Malformed", "rtb");
parse_id!(igw_id, InternetGatewayId, "InvalidInternetGatewayID.Malformed", "igw");
parse_id!(alloc_id, AllocationId, "InvalidAllocationID.Malformed", "eipalloc");
parse_id!(instance_id, InstanceId, "InvalidInstanceID.Malformed", "i");
parse_id!(nat_id, NatGatewayId, "InvalidNatGatewayID.Malformed", "nat");
parse_id!(sg_id, SecurityGroupId, "InvalidGroupId.Malformed", "sg");
parse_id!(acl_id, NetworkAclId, "InvalidNetworkAclID.Malformed", "acl");
parse_id!(pcx_id, VpcPeeringConnectionId, "InvalidVpcPeeringConnectionId.Malformed", "pcx");
parse_id!(vpce_id, VpcEndpointId, "InvalidVpcEndpointId.Malformed", "vpce");
parse_id!(dopt_id, DhcpOptionsId, "InvalidDhcpOptionsId.Malformed", "dopt");
parse_id!(tgw_id, TransitGatewayId, "InvalidTransitGatewayID.Malformed", "tgw");
parse_id!(
    tgw_attach_id,
    TgwAttachmentId,
    "InvalidTransitGatewayAttachmentID.Malformed",
    "tgw-attach"
);
parse_id!(tgw_rtb_id, TgwRouteTableId, "InvalidRouteTableId.Malformed", "tgw-rtb");
parse_id!(cgw_id, CustomerGatewayId, "InvalidCustomerGatewayID.Malformed", "cgw");
parse_id!(vgw_id, VpnGatewayId, "InvalidVpnGatewayID.Malformed", "vgw");
parse_id!(vpn_id, VpnConnectionId, "InvalidVpnConnectionID.Malformed", "vpn");

fn ids<T>(
    params: &Params,
    name: &str,
    parse: fn(&str) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    params.list(name).iter().map(|s| parse(s)).collect()
}

/// Values of the tag filters every resource supports.
fn tag_attr(tags: &Tags, name: &str) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(tags.get(key).cloned().into_iter().collect());
    }
    match name {
        "tag-key" => Some(tags.keys().cloned().collect()),
        "tag-value" => Some(tags.values().cloned().collect()),
        _ => None,
    }
}

fn one(value: impl ToString) -> Option<Vec<String>> {
    Some(vec![value.to_string()])
}

/// A filter's value when the resource may have none (an IPv6-only subnet's IPv4 block).
fn maybe(value: Option<impl ToString>) -> Option<Vec<String>> {
    Some(value.iter().map(ToString::to_string).collect())
}

/// Checks that every id asked for exists; AWS fails the whole call otherwise.
fn require_all<T: std::fmt::Display>(
    asked: &[T],
    found: impl Fn(&T) -> bool,
    code: &'static str,
    kind: &str,
) -> Result<(), ApiError> {
    match asked.iter().find(|id| !found(id)) {
        Some(id) => Err(ApiError { code, message: format!("The {kind} ID '{id}' does not exist") }),
        None => Ok(()),
    }
}

/// The `unsuccessful` set of a call that acts on several resources and reports the
/// ones it could not act on.
fn unsuccessful(x: &mut Xml, failed: Vec<(String, ApiError)>) {
    x.set("unsuccessful", failed, |x, (id, e)| {
        x.node("error", |x| {
            x.leaf("code", e.code).leaf("message", &e.message);
        })
        .leaf("resourceId", id);
    });
}

/// ISO 8601 UTC for seconds since the epoch.
pub fn iso8601(secs: u64) -> String {
    let c = crate::date::civil(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A derived id: `prefix-` plus the hex of `id` (for things the model does not name).
fn derived(prefix: &str, id: &str) -> String {
    let hex = id.rsplit('-').next().unwrap_or(id);
    format!("{prefix}-{hex}")
}

fn zone_id(zone: &str) -> String {
    let index = ZONES.iter().position(|z| *z == zone).map_or(1, |i| i + 1);
    format!("use1-az{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
    }

    /// docs/api.md carries [`coverage_markdown`] between its markers; run with
    /// `VPCLAB_BLESS=1` to write it there after changing the table.
    #[test]
    fn the_coverage_table_in_docs_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (begin, end) = ("<!-- coverage: generated -->\n", "<!-- coverage: end -->");
        let start = doc.find(begin).expect("the begin marker") + begin.len();
        let stop = doc.find(end).expect("the end marker");
        let table = coverage_markdown();
        if std::env::var_os("VPCLAB_BLESS").is_some() {
            std::fs::write(path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
            return;
        }
        assert!(
            doc[start..stop] == table,
            "docs/api.md's coverage table is stale: run VPCLAB_BLESS=1 cargo test -p vpclab-api"
        );
    }

    #[test]
    fn every_action_is_listed_once() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
        assert!(find("CreateVpc").is_some_and(|a| a.mutates));
        assert!(find("DescribeVpcs").is_some_and(|a| !a.mutates));
        assert!(find("Nope").is_none());
    }
}
