//! The EC2 actions vpclab answers, each a function from parameters to a reply body over
//! the model, and the table that maps action names to them.
//!
//! Adding an action is one function here and one line in [`ACTIONS`].

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_model::names::{mac, private_dns, public_dns};
use vpclab_model::{
    AclEntry, AllocationId, ApiError, AssociationId, ElasticIp, Instance, InstanceId,
    InternetGateway, InternetGatewayId, KeyPairId, MetadataOptions, Model, NatGateway,
    NatGatewayId, NetworkAcl, NetworkAclAssociationId, NetworkAclId, PREFIX_LISTS, Peer,
    PeeringConnection, Protocol, RouteSpec, RouteTable, RouteTableAssociationId, RouteTableId,
    RouteTarget, RunInstance, SecurityGroup, SecurityGroupId, SgRule, Subnet, SubnetId, Tags, Vpc,
    VpcEndpoint, VpcEndpointId, VpcId, VpcPeeringConnectionId, ZONES,
};

use crate::params::{Filter, Params, wildcard};
use crate::xml::Xml;

/// The account every resource belongs to.
pub const OWNER_ID: &str = vpclab_model::names::OWNER_ID;
/// The region.
pub const REGION: &str = vpclab_model::REGION;

/// What a handler works on.
#[derive(Debug)]
pub struct Context<'a> {
    /// The model; a copy for mutating actions, kept only if the action succeeds.
    pub model: &'a mut Model,
    /// Seconds since the Unix epoch (for launch and create times).
    pub now: u64,
}

type Handler = fn(&mut Context<'_>, &Params, &mut Xml) -> Result<(), ApiError>;

/// One action.
#[derive(Debug)]
pub struct Action {
    /// Its name, as in `Action=`.
    pub name: &'static str,
    /// Whether it changes the model (and so must be stored and applied).
    pub mutates: bool,
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
    ($($name:literal => $handler:ident, $mutates:literal;)*) => {
        /// Every action, by name.
        pub static ACTIONS: &[Action] = &[$(Action { name: $name, mutates: $mutates, handler: $handler },)*];
    };
}

actions! {
    "CreateVpc" => create_vpc, true;
    "CreateDefaultVpc" => create_default_vpc, true;
    "DescribeVpcs" => describe_vpcs, false;
    "DeleteVpc" => delete_vpc, true;
    "CreateSubnet" => create_subnet, true;
    "DescribeSubnets" => describe_subnets, false;
    "DeleteSubnet" => delete_subnet, true;
    "ModifySubnetAttribute" => modify_subnet_attribute, true;
    "CreateInternetGateway" => create_internet_gateway, true;
    "AttachInternetGateway" => attach_internet_gateway, true;
    "DetachInternetGateway" => detach_internet_gateway, true;
    "DeleteInternetGateway" => delete_internet_gateway, true;
    "DescribeInternetGateways" => describe_internet_gateways, false;
    "AllocateAddress" => allocate_address, true;
    "AssociateAddress" => associate_address, true;
    "DisassociateAddress" => disassociate_address, true;
    "ReleaseAddress" => release_address, true;
    "DescribeAddresses" => describe_addresses, false;
    "CreateNatGateway" => create_nat_gateway, true;
    "DeleteNatGateway" => delete_nat_gateway, true;
    "DescribeNatGateways" => describe_nat_gateways, false;
    "CreateRouteTable" => create_route_table, true;
    "DeleteRouteTable" => delete_route_table, true;
    "DescribeRouteTables" => describe_route_tables, false;
    "AssociateRouteTable" => associate_route_table, true;
    "DisassociateRouteTable" => disassociate_route_table, true;
    "ReplaceRouteTableAssociation" => replace_route_table_association, true;
    "CreateRoute" => create_route, true;
    "ReplaceRoute" => replace_route, true;
    "DeleteRoute" => delete_route, true;
    "RunInstances" => run_instances, true;
    "TerminateInstances" => terminate_instances, true;
    "StopInstances" => stop_instances, true;
    "StartInstances" => start_instances, true;
    "RebootInstances" => reboot_instances, true;
    "DescribeInstances" => describe_instances, false;
    "DescribeNetworkInterfaces" => describe_network_interfaces, false;
    "CreateTags" => create_tags, true;
    "DeleteTags" => delete_tags, true;
    "DescribeTags" => describe_tags, false;
    "DescribeAvailabilityZones" => describe_availability_zones, false;
    "DescribeRegions" => describe_regions, false;
    "DescribePrefixLists" => describe_prefix_lists, false;
    "DescribeVpcEndpointServices" => describe_vpc_endpoint_services, false;
    "DescribeImages" => describe_images, false;
    "CreateSecurityGroup" => create_security_group, true;
    "DeleteSecurityGroup" => delete_security_group, true;
    "DescribeSecurityGroups" => describe_security_groups, false;
    "AuthorizeSecurityGroupIngress" => authorize_ingress, true;
    "AuthorizeSecurityGroupEgress" => authorize_egress, true;
    "RevokeSecurityGroupIngress" => revoke_ingress, true;
    "RevokeSecurityGroupEgress" => revoke_egress, true;
    "ModifyInstanceAttribute" => modify_instance_attribute, true;
    "ModifyInstanceMetadataOptions" => modify_instance_metadata_options, true;
    "ModifyVpcAttribute" => modify_vpc_attribute, true;
    "DescribeVpcAttribute" => describe_vpc_attribute, false;
    "CreateKeyPair" => create_key_pair, true;
    "ImportKeyPair" => import_key_pair, true;
    "DescribeKeyPairs" => describe_key_pairs, false;
    "DeleteKeyPair" => delete_key_pair, true;
    "DescribeInstanceStatus" => describe_instance_status, false;
    "CreateNetworkAcl" => create_network_acl, true;
    "DeleteNetworkAcl" => delete_network_acl, true;
    "DescribeNetworkAcls" => describe_network_acls, false;
    "CreateNetworkAclEntry" => create_network_acl_entry, true;
    "ReplaceNetworkAclEntry" => replace_network_acl_entry, true;
    "DeleteNetworkAclEntry" => delete_network_acl_entry, true;
    "ReplaceNetworkAclAssociation" => replace_network_acl_association, true;
    "CreateVpcPeeringConnection" => create_vpc_peering_connection, true;
    "AcceptVpcPeeringConnection" => accept_vpc_peering_connection, true;
    "RejectVpcPeeringConnection" => reject_vpc_peering_connection, true;
    "DeleteVpcPeeringConnection" => delete_vpc_peering_connection, true;
    "DescribeVpcPeeringConnections" => describe_vpc_peering_connections, false;
    "CreateVpcEndpoint" => create_vpc_endpoint, true;
    "ModifyVpcEndpoint" => modify_vpc_endpoint, true;
    "DeleteVpcEndpoints" => delete_vpc_endpoints, true;
    "DescribeVpcEndpoints" => describe_vpc_endpoints, false;
    "CreateFlowLogs" => create_flow_logs, true;
    "DeleteFlowLogs" => delete_flow_logs, true;
    "DescribeFlowLogs" => describe_flow_logs, false;
}

/// The action called `name`.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

// ---- helpers -----------------------------------------------------------------------

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError { code: "InvalidParameterValue", message: message.into() }
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

macro_rules! parse_id {
    ($fn:ident, $ty:ident, $code:literal, $kind:literal) => {
        fn $fn(value: &str) -> Result<$ty, ApiError> {
            $ty::parse(value).ok_or_else(|| malformed($code, $kind, value))
        }
    };
}

parse_id!(vpc_id, VpcId, "InvalidVpcID.Malformed", "vpc");
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

fn ids<T>(
    params: &Params,
    name: &str,
    parse: fn(&str) -> Result<T, ApiError>,
) -> Result<Vec<T>, ApiError> {
    params.list(name).iter().map(|s| parse(s)).collect()
}

/// Keeps the resources whose attributes match every filter. `attr` gives a resource's
/// values for a filter name, or `None` for a name it does not know (an error).
fn filtered<'a, T>(
    items: impl Iterator<Item = &'a T>,
    filters: &[Filter],
    attr: impl Fn(&T, &str) -> Option<Vec<String>>,
) -> Result<Vec<&'a T>, ApiError>
where
    T: 'a,
{
    let mut out = Vec::new();
    for item in items {
        let mut keep = true;
        for f in filters {
            let values = attr(item, &f.name)
                .ok_or_else(|| invalid(format!("The filter '{}' is invalid", f.name)))?;
            if !f.values.iter().any(|p| values.iter().any(|v| wildcard(p, v))) {
                keep = false;
            }
        }
        if keep {
            out.push(item);
        }
    }
    Ok(out)
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

/// ISO 8601 UTC for seconds since the epoch (Howard Hinnant's civil-from-days).
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z", rem / 3600, rem / 60 % 60, rem % 60)
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

// ---- VPCs --------------------------------------------------------------------------

fn write_vpc(x: &mut Xml, vpc: &Vpc) {
    x.leaf("vpcId", &vpc.id)
        .leaf("ownerId", OWNER_ID)
        .leaf("state", "available")
        .leaf("cidrBlock", vpc.cidr)
        .set("cidrBlockAssociationSet", [vpc], |x, vpc| {
            x.leaf("cidrBlock", vpc.cidr)
                .leaf("associationId", derived("vpc-cidr-assoc", vpc.id.as_str()))
                .node("cidrBlockState", |x| {
                    x.leaf("state", "associated");
                });
        })
        .set("ipv6CidrBlockAssociationSet", std::iter::empty::<()>(), |_, ()| {})
        .leaf("dhcpOptionsId", "dopt-00000000000000000")
        .leaf("instanceTenancy", "default")
        .leaf("isDefault", vpc.is_default)
        .tags(&vpc.tags);
}

fn create_default_vpc(ctx: &mut Context<'_>, _: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = ctx.model.create_default_vpc()?;
    let vpc = ctx.model.vpc(&id)?;
    x.node("vpc", |x| write_vpc(x, vpc));
    Ok(())
}

fn create_vpc(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = ctx.model.create_vpc(cidr(p, "CidrBlock")?, p.tag_specifications("vpc"))?;
    let vpc = ctx.model.vpc(&id)?;
    x.node("vpc", |x| write_vpc(x, vpc));
    Ok(())
}

fn describe_vpcs(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "VpcId", vpc_id)?;
    let m = &*ctx.model;
    require_all(&asked, |id| m.vpc(id).is_ok(), "InvalidVpcID.NotFound", "vpc")?;
    let vpcs = filtered(
        m.vpcs().filter(|v| asked.is_empty() || asked.contains(&v.id)),
        &p.filters(),
        |v, name| match name {
            "vpc-id" => one(&v.id),
            "cidr" | "cidr-block-association.cidr-block" => one(v.cidr),
            "state" => one("available"),
            "is-default" | "isDefault" => one(v.is_default),
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&v.tags, name),
        },
    )?;
    x.set("vpcSet", vpcs, write_vpc);
    Ok(())
}

fn delete_vpc(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.delete_vpc(&vpc_id(p.required("VpcId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

// ---- subnets -----------------------------------------------------------------------

fn write_subnet(x: &mut Xml, m: &Model, s: &Subnet) {
    let used = m.instances().filter(|i| i.subnet == s.id).count()
        + m.nat_gateways().filter(|n| n.subnet == s.id).count();
    x.leaf("subnetId", &s.id)
        .leaf("subnetArn", format!("arn:aws:ec2:{REGION}:{OWNER_ID}:subnet/{}", s.id))
        .leaf("state", "available")
        .leaf("vpcId", &s.vpc)
        .leaf("cidrBlock", s.cidr)
        .leaf("availableIpAddressCount", s.usable_addresses() as usize - used)
        .leaf("availabilityZone", &s.zone)
        .leaf("availabilityZoneId", zone_id(&s.zone))
        .leaf("defaultForAz", s.default_for_az)
        .leaf("mapPublicIpOnLaunch", s.map_public_ip_on_launch)
        .leaf("assignIpv6AddressOnCreation", "false")
        .set("ipv6CidrBlockAssociationSet", std::iter::empty::<()>(), |_, ()| {})
        .leaf("ownerId", OWNER_ID)
        .tags(&s.tags);
}

fn create_subnet(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    let zone = match (p.get("AvailabilityZone"), p.get("AvailabilityZoneId")) {
        (Some(zone), _) => Some(zone.to_owned()),
        (None, Some(id)) => {
            let index: usize = id.strip_prefix("use1-az").and_then(|n| n.parse().ok()).unwrap_or(0);
            Some(ZONES.get(index.wrapping_sub(1)).map_or(id.to_owned(), |z| (*z).to_owned()))
        }
        (None, None) => None,
    };
    let id = ctx.model.create_subnet(
        &vpc,
        cidr(p, "CidrBlock")?,
        zone.as_deref(),
        p.tag_specifications("subnet"),
    )?;
    let m = &*ctx.model;
    x.node("subnet", |x| write_subnet(x, m, m.subnet(&id).expect("just created")));
    Ok(())
}

fn describe_subnets(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "SubnetId", subnet_id)?;
    let m = &*ctx.model;
    require_all(&asked, |id| m.subnet(id).is_ok(), "InvalidSubnetID.NotFound", "subnet")?;
    let subnets = filtered(
        m.subnets().filter(|s| asked.is_empty() || asked.contains(&s.id)),
        &p.filters(),
        |s, name| match name {
            "subnet-id" => one(&s.id),
            "vpc-id" => one(&s.vpc),
            "cidr-block" | "cidr" | "cidrBlock" => one(s.cidr),
            "availability-zone" | "availabilityZone" => one(&s.zone),
            "availability-zone-id" => one(zone_id(&s.zone)),
            "state" => one("available"),
            "map-public-ip-on-launch" => one(s.map_public_ip_on_launch),
            "default-for-az" | "defaultForAz" => one(s.default_for_az),
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&s.tags, name),
        },
    )?;
    x.set("subnetSet", subnets, |x, s| write_subnet(x, m, s));
    Ok(())
}

fn delete_subnet(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.delete_subnet(&subnet_id(p.required("SubnetId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn modify_subnet_attribute(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    match p.bool("MapPublicIpOnLaunch.Value")? {
        Some(on) => ctx.model.set_map_public_ip_on_launch(&subnet, on)?,
        None => {
            ctx.model.subnet(&subnet)?;
        }
    }
    x.leaf("return", "true");
    Ok(())
}

// ---- internet gateways -------------------------------------------------------------

fn write_igw(x: &mut Xml, g: &InternetGateway) {
    x.leaf("internetGatewayId", &g.id)
        .set("attachmentSet", &g.attached_to, |x, vpc| {
            x.leaf("vpcId", vpc).leaf("state", "available");
        })
        .leaf("ownerId", OWNER_ID)
        .tags(&g.tags);
}

fn create_internet_gateway(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = ctx.model.create_internet_gateway(p.tag_specifications("internet-gateway"));
    let g = ctx.model.internet_gateway(&id)?;
    x.node("internetGateway", |x| write_igw(x, g));
    Ok(())
}

fn attach_internet_gateway(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let igw = igw_id(p.required("InternetGatewayId")?)?;
    ctx.model.attach_internet_gateway(&igw, &vpc_id(p.required("VpcId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn detach_internet_gateway(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let igw = igw_id(p.required("InternetGatewayId")?)?;
    ctx.model.detach_internet_gateway(&igw, &vpc_id(p.required("VpcId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn delete_internet_gateway(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.delete_internet_gateway(&igw_id(p.required("InternetGatewayId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_internet_gateways(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "InternetGatewayId", igw_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.internet_gateway(id).is_ok(),
        "InvalidInternetGatewayID.NotFound",
        "internetGateway",
    )?;
    let gateways = filtered(
        m.internet_gateways().filter(|g| asked.is_empty() || asked.contains(&g.id)),
        &p.filters(),
        |g, name| match name {
            "internet-gateway-id" => one(&g.id),
            "attachment.vpc-id" => Some(g.attached_to.iter().map(ToString::to_string).collect()),
            "attachment.state" => {
                Some(g.attached_to.iter().map(|_| "available".to_owned()).collect())
            }
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&g.tags, name),
        },
    )?;
    x.set("internetGatewaySet", gateways, write_igw);
    Ok(())
}

// ---- Elastic IPs -------------------------------------------------------------------

fn write_address(x: &mut Xml, m: &Model, e: &ElasticIp) {
    x.leaf("publicIp", e.public_ip).leaf("allocationId", &e.allocation_id).leaf("domain", "vpc");
    if let Some((association, instance)) = &e.association {
        x.leaf("associationId", association).leaf("instanceId", instance);
        if let Ok(i) = m.instance(instance) {
            x.leaf("networkInterfaceId", &i.interface)
                .leaf("networkInterfaceOwnerId", OWNER_ID)
                .leaf("privateIpAddress", i.private_ip);
        }
    }
    if let Some(nat) = e.nat_gateway.as_ref().and_then(|n| m.nat_gateway(n).ok()) {
        x.leaf("associationId", derived("eipassoc", nat.id.as_str()))
            .leaf("networkInterfaceId", derived("eni", nat.id.as_str()))
            .leaf("networkInterfaceOwnerId", OWNER_ID)
            .leaf("privateIpAddress", nat.private_ip);
    }
    x.leaf("publicIpv4Pool", "amazon").leaf("networkBorderGroup", REGION).tags(&e.tags);
}

fn allocate_address(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    if let Some(domain) = p.get("Domain").filter(|d| *d != "vpc" && *d != "standard") {
        return Err(invalid(format!("Invalid value '{domain}' for domain.")));
    }
    let id = ctx.model.allocate_address(p.tag_specifications("elastic-ip"))?;
    let e = ctx.model.elastic_ip(&id)?;
    x.leaf("publicIp", e.public_ip)
        .leaf("domain", "vpc")
        .leaf("allocationId", &e.allocation_id)
        .leaf("publicIpv4Pool", "amazon")
        .leaf("networkBorderGroup", REGION);
    Ok(())
}

fn associate_address(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let allocation = match (p.get("AllocationId"), p.get("PublicIp")) {
        (Some(a), _) => alloc_id(a)?,
        (None, Some(ip)) => ctx
            .model
            .elastic_ips()
            .find(|e| e.public_ip.to_string() == ip)
            .map(|e| e.allocation_id.clone())
            .ok_or_else(|| ApiError {
                code: "InvalidAddress.NotFound",
                message: format!("Address '{ip}' not found."),
            })?,
        (None, None) => {
            return Err(ApiError {
                code: "MissingParameter",
                message: "Either public IP or allocation id must be specified".into(),
            });
        }
    };
    let instance = match (p.get("InstanceId"), p.get("NetworkInterfaceId")) {
        (Some(i), _) => instance_id(i)?,
        (None, Some(eni)) => ctx
            .model
            .instances()
            .find(|i| i.interface.as_str() == eni)
            .map(|i| i.id.clone())
            .ok_or_else(|| ApiError {
                code: "InvalidNetworkInterfaceID.NotFound",
                message: format!("The networkInterface ID '{eni}' does not exist"),
            })?,
        (None, None) => {
            return Err(ApiError {
                code: "MissingParameter",
                message: "Either instance ID or network interface id must be specified".into(),
            });
        }
    };
    let association = ctx.model.associate_address(
        &allocation,
        &instance,
        p.bool("AllowReassociation")?.unwrap_or(false),
    )?;
    x.leaf("return", "true").leaf("associationId", association);
    Ok(())
}

fn disassociate_address(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let association = match (p.get("AssociationId"), p.get("PublicIp")) {
        (Some(a), _) => AssociationId::parse(a)
            .ok_or_else(|| malformed("InvalidAssociationID.NotFound", "eipassoc", a))?,
        (None, Some(ip)) => ctx
            .model
            .elastic_ips()
            .find(|e| e.public_ip.to_string() == ip)
            .and_then(|e| e.association.as_ref().map(|(a, _)| a.clone()))
            .ok_or_else(|| ApiError {
                code: "InvalidAddress.NotFound",
                message: format!("Address '{ip}' not found."),
            })?,
        (None, None) => {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain the parameter AssociationId".into(),
            });
        }
    };
    ctx.model.disassociate_address(&association)?;
    x.leaf("return", "true");
    Ok(())
}

fn release_address(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.release_address(&alloc_id(p.required("AllocationId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_addresses(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "AllocationId", alloc_id)?;
    let ips = p.list("PublicIp");
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.elastic_ip(id).is_ok(),
        "InvalidAllocationID.NotFound",
        "allocation",
    )?;
    let addresses = filtered(
        m.elastic_ips().filter(|e| {
            (asked.is_empty() || asked.contains(&e.allocation_id))
                && (ips.is_empty() || ips.contains(&e.public_ip.to_string()))
        }),
        &p.filters(),
        |e, name| match name {
            "allocation-id" => one(&e.allocation_id),
            "public-ip" => one(e.public_ip),
            "domain" => one("vpc"),
            "instance-id" => Some(e.association.iter().map(|(_, i)| i.to_string()).collect()),
            "association-id" => Some(e.association.iter().map(|(a, _)| a.to_string()).collect()),
            _ => tag_attr(&e.tags, name),
        },
    )?;
    x.set("addressesSet", addresses, |x, e| write_address(x, m, e));
    Ok(())
}

// ---- NAT gateways ------------------------------------------------------------------

fn write_nat(x: &mut Xml, n: &NatGateway, now: u64) {
    x.leaf("natGatewayId", &n.id)
        .leaf("subnetId", &n.subnet)
        .leaf("vpcId", &n.vpc)
        .leaf("state", "available")
        .leaf("connectivityType", "public")
        .leaf("createTime", iso8601(now))
        .set("natGatewayAddressSet", [n], |x, n| {
            x.leaf("allocationId", &n.allocation)
                .leaf("networkInterfaceId", derived("eni", n.id.as_str()))
                .leaf("privateIp", n.private_ip)
                .leaf("publicIp", n.public_ip)
                .leaf("associationId", derived("eipassoc", n.id.as_str()))
                .leaf("isPrimary", "true")
                .leaf("status", "succeeded");
        })
        .tags(&n.tags);
}

fn create_nat_gateway(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    if p.get("ConnectivityType").is_some_and(|c| c != "public") {
        return Err(invalid("vpclab supports public NAT gateways only (ConnectivityType=public)."));
    }
    let allocation = alloc_id(p.required("AllocationId")?)?;
    let id = ctx.model.create_nat_gateway(
        &subnet,
        &allocation,
        None,
        p.tag_specifications("natgateway"),
    )?;
    let n = ctx.model.nat_gateway(&id)?;
    let now = ctx.now;
    x.opt("clientToken", p.get("ClientToken")).node("natGateway", |x| write_nat(x, n, now));
    Ok(())
}

fn delete_nat_gateway(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = nat_id(p.required("NatGatewayId")?)?;
    ctx.model.delete_nat_gateway(&id)?;
    x.leaf("natGatewayId", id);
    Ok(())
}

fn describe_nat_gateways(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "NatGatewayId", nat_id)?;
    let m = &*ctx.model;
    require_all(&asked, |id| m.nat_gateway(id).is_ok(), "NatGatewayNotFound", "natGateway")?;
    let filters = p.filters();
    let nats = filtered(
        m.nat_gateways().filter(|n| asked.is_empty() || asked.contains(&n.id)),
        &filters,
        |n, name| match name {
            "nat-gateway-id" => one(&n.id),
            "subnet-id" => one(&n.subnet),
            "vpc-id" => one(&n.vpc),
            "state" => one("available"),
            _ => tag_attr(&n.tags, name),
        },
    )?;
    let now = ctx.now;
    x.set("natGatewaySet", nats, |x, n| write_nat(x, n, now));
    Ok(())
}

// ---- route tables ------------------------------------------------------------------

fn is_main(m: &Model, t: &RouteTable) -> bool {
    m.vpc(&t.vpc).is_ok_and(|v| v.main_route_table == t.id)
}

fn write_route_table(x: &mut Xml, m: &Model, t: &RouteTable) {
    x.leaf("routeTableId", &t.id).leaf("vpcId", &t.vpc).leaf("ownerId", OWNER_ID);
    x.set("routeSet", &t.routes, |x, r| {
        match &r.prefix_list {
            Some(pl) => x.leaf("destinationPrefixListId", pl),
            None => x.leaf("destinationCidrBlock", r.destination),
        };
        match &r.target {
            RouteTarget::Local => x.leaf("gatewayId", "local"),
            RouteTarget::Gateway(igw) => x.leaf("gatewayId", igw),
            RouteTarget::Endpoint(vpce) => x.leaf("gatewayId", vpce),
            RouteTarget::NatGateway(nat) => x.leaf("natGatewayId", nat),
            RouteTarget::Peering(pcx) => x.leaf("vpcPeeringConnectionId", pcx),
        };
        x.leaf("state", if m.is_blackhole(t, r) { "blackhole" } else { "active" }).leaf(
            "origin",
            match r.origin {
                vpclab_model::RouteOrigin::CreateRouteTable => "CreateRouteTable",
                vpclab_model::RouteOrigin::CreateRoute => "CreateRoute",
            },
        );
    });
    let main = is_main(m, t).then_some(());
    x.node("associationSet", |x| {
        if main.is_some() {
            x.node("item", |x| {
                x.leaf("routeTableAssociationId", derived("rtbassoc", t.id.as_str()))
                    .leaf("routeTableId", &t.id)
                    .leaf("main", "true")
                    .node("associationState", |x| {
                        x.leaf("state", "associated");
                    });
            });
        }
        for a in &t.associations {
            x.node("item", |x| {
                x.leaf("routeTableAssociationId", &a.id)
                    .leaf("routeTableId", &t.id)
                    .leaf("subnetId", &a.subnet)
                    .leaf("main", "false")
                    .node("associationState", |x| {
                        x.leaf("state", "associated");
                    });
            });
        }
    });
    x.set("propagatingVgwSet", std::iter::empty::<()>(), |_, ()| {}).tags(&t.tags);
}

fn create_route_table(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = ctx
        .model
        .create_route_table(&vpc_id(p.required("VpcId")?)?, p.tag_specifications("route-table"))?;
    let m = &*ctx.model;
    x.node("routeTable", |x| write_route_table(x, m, m.route_table(&id).expect("just created")));
    Ok(())
}

fn delete_route_table(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.delete_route_table(&rtb_id(p.required("RouteTableId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_route_tables(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "RouteTableId", rtb_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.route_table(id).is_ok(),
        "InvalidRouteTableID.NotFound",
        "routeTable",
    )?;
    let tables = filtered(
        m.route_tables().filter(|t| asked.is_empty() || asked.contains(&t.id)),
        &p.filters(),
        |t, name| match name {
            "route-table-id" => one(&t.id),
            "vpc-id" => one(&t.vpc),
            "association.main" => one(is_main(m, t)),
            "association.subnet-id" => {
                Some(t.associations.iter().map(|a| a.subnet.to_string()).collect())
            }
            "association.route-table-association-id" => {
                Some(t.associations.iter().map(|a| a.id.to_string()).collect())
            }
            "route.destination-cidr-block" => Some(
                t.routes
                    .iter()
                    .filter(|r| r.prefix_list.is_none())
                    .map(|r| r.destination.to_string())
                    .collect(),
            ),
            "route.destination-prefix-list-id" => {
                Some(t.routes.iter().filter_map(|r| r.prefix_list.clone()).collect())
            }
            "route.gateway-id" => Some(
                t.routes
                    .iter()
                    .filter_map(|r| match &r.target {
                        RouteTarget::Local => Some("local".to_owned()),
                        RouteTarget::Gateway(g) => Some(g.to_string()),
                        RouteTarget::Endpoint(e) => Some(e.to_string()),
                        RouteTarget::NatGateway(_) | RouteTarget::Peering(_) => None,
                    })
                    .collect(),
            ),
            "route.nat-gateway-id" => Some(
                t.routes
                    .iter()
                    .filter_map(|r| match &r.target {
                        RouteTarget::NatGateway(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            "route.vpc-peering-connection-id" => Some(
                t.routes
                    .iter()
                    .filter_map(|r| match &r.target {
                        RouteTarget::Peering(p) => Some(p.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&t.tags, name),
        },
    )?;
    x.set("routeTableSet", tables, |x, t| write_route_table(x, m, t));
    Ok(())
}

fn associate_route_table(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    let id = ctx.model.associate_route_table(&table, &subnet_id(p.required("SubnetId")?)?)?;
    x.leaf("associationId", id).node("associationState", |x| {
        x.leaf("state", "associated");
    });
    Ok(())
}

fn disassociate_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let raw = p.required("AssociationId")?;
    let id = RouteTableAssociationId::parse(raw)
        .ok_or_else(|| malformed("InvalidAssociationID.NotFound", "rtbassoc", raw))?;
    ctx.model.disassociate_route_table(&id)?;
    x.leaf("return", "true");
    Ok(())
}

fn replace_route_table_association(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let raw = p.required("AssociationId")?;
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.route_table(&table)?;
    // The main association's id is derived from the main table's (the model keeps the
    // main table per VPC, not an association object).
    let main = ctx
        .model
        .vpcs()
        .find(|v| derived("rtbassoc", v.main_route_table.as_str()) == raw)
        .map(|v| v.id.clone());
    let new_id = match main {
        Some(vpc) => {
            if ctx.model.route_table(&table)?.vpc != vpc {
                return Err(invalid(format!(
                    "Route table {table} does not belong to the network {vpc}"
                )));
            }
            ctx.model.set_main_route_table(&table)?;
            derived("rtbassoc", table.as_str())
        }
        None => {
            let id = RouteTableAssociationId::parse(raw)
                .ok_or_else(|| malformed("InvalidAssociationID.NotFound", "rtbassoc", raw))?;
            ctx.model.replace_route_table_association(&id, &table)?.to_string()
        }
    };
    x.leaf("newAssociationId", new_id).node("associationState", |x| {
        x.leaf("state", "associated");
    });
    Ok(())
}

fn route_spec(p: &Params) -> Result<RouteSpec, ApiError> {
    if p.get("DestinationIpv6CidrBlock").is_some() || p.get("DestinationPrefixListId").is_some() {
        return Err(invalid(
            "vpclab routes IPv4 CIDR destinations only (DestinationCidrBlock); prefix-list \
             routes come with gateway endpoints (CreateVpcEndpoint).",
        ));
    }
    let destination = cidr(p, "DestinationCidrBlock")?;
    if let Some(pcx) = p.get("VpcPeeringConnectionId") {
        if p.get("GatewayId").is_some() || p.get("NatGatewayId").is_some() {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "More than one target specified".into(),
            });
        }
        return Ok(RouteSpec { destination, target: RouteTarget::Peering(pcx_id(pcx)?) });
    }
    let target = match (p.get("GatewayId"), p.get("NatGatewayId")) {
        (Some("local"), None) => RouteTarget::Local,
        (Some(g), None) if g.starts_with("vpce-") => RouteTarget::Endpoint(vpce_id(g)?),
        (Some(g), None) => RouteTarget::Gateway(igw_id(g)?),
        (None, Some(n)) => RouteTarget::NatGateway(nat_id(n)?),
        (None, None) => {
            let other = [
                "InstanceId",
                "NetworkInterfaceId",
                "VpcPeeringConnectionId",
                "TransitGatewayId",
                "VpcEndpointId",
                "EgressOnlyInternetGatewayId",
                "LocalGatewayId",
                "CarrierGatewayId",
            ];
            return Err(match other.iter().find(|o| p.get(o).is_some()) {
                Some(o) => invalid(format!("vpclab does not support the route target {o} yet.")),
                None => ApiError { code: "MissingParameter", message: "The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, vpcPeeringConnectionId, egressOnlyInternetGatewayId, transitGatewayId, localGatewayId, carrierGatewayId or instanceId".into() },
            });
        }
        (Some(_), Some(_)) => {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "More than one target specified".into(),
            });
        }
    };
    Ok(RouteSpec { destination, target })
}

fn create_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.route_table(&table)?;
    ctx.model.create_route(&table, route_spec(p)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn replace_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.route_table(&table)?;
    ctx.model.replace_route(&table, route_spec(p)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn delete_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.delete_route(&table, cidr(p, "DestinationCidrBlock")?)?;
    x.leaf("return", "true");
    Ok(())
}

// ---- instances ---------------------------------------------------------------------

fn write_instance(x: &mut Xml, m: &Model, i: &Instance) {
    if m.instance(&i.id).is_err() {
        return write_terminated(x, i);
    }
    let zone = m.subnet(&i.subnet).map(|s| s.zone.clone()).unwrap_or_default();
    let public = i.public_ip.as_ref().map(|(ip, _)| *ip);
    // Public DNS names exist only in VPCs with enableDnsHostnames.
    let hostnames = m.vpc(&i.vpc).is_ok_and(|v| v.dns_hostnames);
    x.leaf("instanceId", &i.id)
        .leaf("imageId", &i.image_id)
        .node("instanceState", |x| {
            let (code, name) = if i.stopped { (80, "stopped") } else { (16, "running") };
            x.leaf("code", code).leaf("name", name);
        })
        .leaf("privateDnsName", private_dns(i.private_ip))
        .leaf("dnsName", public.filter(|_| hostnames).map(public_dns).unwrap_or_default())
        .leaf("reason", "")
        .leaf("amiLaunchIndex", 0)
        .set("productCodes", std::iter::empty::<()>(), |_, ()| {})
        .opt("keyName", i.key_name.as_deref())
        .leaf("instanceType", &i.instance_type)
        .leaf("launchTime", iso8601(i.launched_at))
        .node("placement", |x| {
            x.leaf("availabilityZone", &zone).leaf("groupName", "").leaf("tenancy", "default");
        })
        .node("monitoring", |x| {
            x.leaf("state", "disabled");
        })
        .leaf("subnetId", &i.subnet)
        .leaf("vpcId", &i.vpc)
        .leaf("privateIpAddress", i.private_ip)
        .opt("ipAddress", public)
        .leaf("sourceDestCheck", "true")
        .set("groupSet", &i.security_groups, |x, g| write_group_ref(x, m, g));
    write_machine(x);
    x.node("metadataOptions", |x| write_metadata_options(x, &i.metadata))
        .set("networkInterfaceSet", [i], |x, i| {
            x.leaf("networkInterfaceId", &i.interface)
                .leaf("subnetId", &i.subnet)
                .leaf("vpcId", &i.vpc)
                .leaf("description", "")
                .leaf("ownerId", OWNER_ID)
                .leaf("status", "in-use")
                .leaf("macAddress", mac(i.interface.as_str()))
                .leaf("privateIpAddress", i.private_ip)
                .leaf("privateDnsName", private_dns(i.private_ip))
                .leaf("sourceDestCheck", "true")
                .set("groupSet", &i.security_groups, |x, g| write_group_ref(x, m, g))
                .node("attachment", |x| {
                    x.leaf("attachmentId", derived("eni-attach", i.interface.as_str()))
                        .leaf("deviceIndex", 0)
                        .leaf("status", "attached")
                        .leaf("attachTime", iso8601(i.launched_at))
                        .leaf("deleteOnTermination", "true");
                });
            if let Some(ip) = public {
                x.node("association", |x| {
                    x.leaf("publicIp", ip)
                        .leaf("publicDnsName", public_dns(ip))
                        .leaf("ipOwnerId", "amazon");
                });
            }
            x.set("privateIpAddressesSet", [i], |x, i| {
                x.leaf("privateIpAddress", i.private_ip)
                    .leaf("privateDnsName", private_dns(i.private_ip))
                    .leaf("primary", "true");
            })
            .leaf("interfaceType", "interface");
        })
        .tags(&i.tags);
}

/// A terminated instance as AWS lists it for its last hour: its identity and state,
/// no addresses, interfaces or groups any more.
fn write_terminated(x: &mut Xml, i: &Instance) {
    x.leaf("instanceId", &i.id)
        .leaf("imageId", &i.image_id)
        .node("instanceState", |x| {
            x.leaf("code", 48).leaf("name", "terminated");
        })
        .leaf("privateDnsName", "")
        .leaf("dnsName", "")
        .leaf("reason", "User initiated")
        .leaf("amiLaunchIndex", 0)
        .set("productCodes", std::iter::empty::<()>(), |_, ()| {})
        .leaf("instanceType", &i.instance_type)
        .leaf("launchTime", iso8601(i.launched_at))
        .node("placement", |x| {
            x.leaf("groupName", "").leaf("tenancy", "default");
        })
        .node("monitoring", |x| {
            x.leaf("state", "disabled");
        })
        .set("groupSet", std::iter::empty::<()>(), |_, ()| {})
        .node("stateReason", |x| {
            x.leaf("code", "Client.UserInitiatedShutdown")
                .leaf("message", "Client.UserInitiatedShutdown: User initiated shutdown");
        })
        .set("networkInterfaceSet", std::iter::empty::<()>(), |_, ()| {})
        .tags(&i.tags);
    write_machine(x);
}

/// What machine an instance is: the same for every one (nothing boots in a lab).
fn write_machine(x: &mut Xml) {
    x.leaf("architecture", "x86_64")
        .leaf("rootDeviceType", "ebs")
        .leaf("rootDeviceName", "/dev/xvda")
        .set("blockDeviceMapping", std::iter::empty::<()>(), |_, ()| {})
        .leaf("virtualizationType", "hvm")
        .leaf("hypervisor", "xen");
}

fn write_reservation(x: &mut Xml, m: &Model, instances: &[&Instance]) {
    let first = instances.first().map_or("r-0", |i| i.id.as_str());
    x.leaf("reservationId", derived("r", first))
        .leaf("ownerId", OWNER_ID)
        .set("groupSet", std::iter::empty::<()>(), |_, ()| {})
        .set("instancesSet", instances, |x, i| write_instance(x, m, i));
}

fn run_instances(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let image = p.required("ImageId")?.to_owned();
    let min = p.u32("MinCount")?.unwrap_or(1);
    let max = p.u32("MaxCount")?.unwrap_or(min);
    if min == 0 || max < min {
        return Err(invalid(format!("Invalid counts: MinCount ({min}) and MaxCount ({max}).")));
    }
    if max > 64 {
        return Err(ApiError {
            code: "InstanceLimitExceeded",
            message:
                "You have requested more instances (64+) than your current instance limit allows."
                    .into(),
        });
    }
    let subnet = p.get("SubnetId").or_else(|| p.get("NetworkInterface.1.SubnetId"));
    let subnet = match subnet.map(subnet_id).transpose()? {
        Some(subnet) => subnet,
        // No subnet: the default VPC's, as on AWS (an error without one).
        None => ctx.model.default_subnet(p.get("Placement.AvailabilityZone"))?,
    };
    let subnet = Some(subnet);
    let private_ip =
        p.get("PrivateIpAddress").or_else(|| p.get("NetworkInterface.1.PrivateIpAddress"));
    let private_ip = private_ip
        .map(|ip| {
            ip.parse::<Ipv4Addr>().map_err(|_| {
                invalid(format!("Value ({ip}) for parameter privateIpAddress is invalid."))
            })
        })
        .transpose()?;
    if private_ip.is_some() && max > 1 {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "Cannot specify a private IP address when launching more than one instance."
                .into(),
        });
    }
    let public_ip = p.bool("NetworkInterface.1.AssociatePublicIpAddress")?;
    let tags = p.tag_specifications("instance");
    let mut security_groups = ids(p, "SecurityGroupId", sg_id)?;
    security_groups.extend(ids(p, "NetworkInterface.1.SecurityGroupId", sg_id)?);
    for name in p.list("SecurityGroup") {
        let vpc = subnet.as_ref().and_then(|s| ctx.model.subnet(s).ok()).map(|s| s.vpc.clone());
        let group = ctx
            .model
            .security_groups()
            .find(|g| g.name == name && Some(&g.vpc) == vpc.as_ref())
            .ok_or_else(|| ApiError {
                code: "InvalidGroup.NotFound",
                message: format!("The security group '{name}' does not exist in VPC"),
            })?;
        security_groups.push(group.id.clone());
    }
    let metadata = metadata_options(p, "MetadataOptions.", MetadataOptions::default())?;
    let mut launched = Vec::new();
    for _ in 0..max {
        let spec = RunInstance {
            subnet: subnet.clone(),
            private_ip,
            public_ip,
            image_id: image.clone(),
            instance_type: p.get("InstanceType").unwrap_or("m1.small").to_owned(),
            launched_at: ctx.now,
            security_groups: security_groups.clone(),
            metadata,
            key_name: p.get("KeyName").map(str::to_owned),
            tags: tags.clone(),
        };
        match ctx.model.run_instance(spec) {
            Ok(id) => launched.push(id),
            Err(e) if launched.len() as u32 >= min => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let m = &*ctx.model;
    let instances: Vec<&Instance> = launched.iter().filter_map(|id| m.instance(id).ok()).collect();
    write_reservation(x, m, &instances);
    Ok(())
}

fn terminate_instances(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let (m, now) = (&*ctx.model, ctx.now);
    let asked = listed_instance_ids(m, p, now)?;
    if asked.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter InstanceId".into(),
        });
    }
    let previous: Vec<(u16, &str)> = asked
        .iter()
        .map(|id| match m.instance(id) {
            Ok(i) if i.stopped => (80, "stopped"),
            Ok(_) => (16, "running"),
            Err(_) => (48, "terminated"),
        })
        .collect();
    for id in &asked {
        ctx.model.terminate_instance(id, now)?;
    }
    let states = asked.iter().zip(previous);
    x.set("instancesSet", states, |x, (id, (code, name))| {
        x.leaf("instanceId", id)
            .node("currentState", |x| {
                x.leaf("code", 48).leaf("name", "terminated");
            })
            .node("previousState", |x| {
                x.leaf("code", code).leaf("name", name);
            });
    });
    Ok(())
}

/// StopInstances / StartInstances: the state change of each, as AWS reports it (the
/// transition state now; DescribeInstances shows where it ends at once).
fn change_states(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    start: bool,
) -> Result<(), ApiError> {
    let asked = live_instance_ids(ctx.model, p)?;
    if asked.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter InstanceId".into(),
        });
    }
    let mut changed = Vec::new();
    for id in &asked {
        let moved =
            if start { ctx.model.start_instance(id)? } else { ctx.model.stop_instance(id)? };
        changed.push((id, moved));
    }
    x.set("instancesSet", changed, |x, (id, moved)| {
        let (now, before) = match (start, moved) {
            (true, true) => ((0, "pending"), (80, "stopped")),
            (true, false) => ((16, "running"), (16, "running")),
            (false, true) => ((64, "stopping"), (16, "running")),
            (false, false) => ((80, "stopped"), (80, "stopped")),
        };
        x.leaf("instanceId", id)
            .node("currentState", |x| {
                x.leaf("code", now.0).leaf("name", now.1);
            })
            .node("previousState", |x| {
                x.leaf("code", before.0).leaf("name", before.1);
            });
    });
    Ok(())
}

fn stop_instances(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    change_states(ctx, p, x, false)
}

fn start_instances(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    change_states(ctx, p, x, true)
}

/// RebootInstances: nothing boots in a lab, so there is nothing to restart.
fn reboot_instances(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    live_instance_ids(ctx.model, p)?;
    x.leaf("return", "true");
    Ok(())
}

/// The `InstanceId.N` asked for; each must be a live instance or one terminated within
/// the hour (`InvalidInstanceID.NotFound` otherwise).
fn listed_instance_ids(m: &Model, p: &Params, now: u64) -> Result<Vec<InstanceId>, ApiError> {
    instance_ids(p, |id| m.instance(id).is_ok() || m.is_terminated(id, now))
}

/// The `InstanceId.N` asked for; each must be a live (running or stopped) instance.
fn live_instance_ids(m: &Model, p: &Params) -> Result<Vec<InstanceId>, ApiError> {
    instance_ids(p, |id| m.instance(id).is_ok())
}

fn instance_ids(
    p: &Params,
    found: impl Fn(&InstanceId) -> bool,
) -> Result<Vec<InstanceId>, ApiError> {
    let asked = ids(p, "InstanceId", instance_id)?;
    require_all(&asked, found, "InvalidInstanceID.NotFound", "instance")?;
    Ok(asked)
}

fn instance_attr(m: &Model, i: &Instance, name: &str) -> Option<Vec<String>> {
    let public = i.public_ip.as_ref().map(|(ip, _)| ip.to_string());
    let terminated = m.instance(&i.id).is_err();
    match name {
        "instance-state-name" if terminated => one("terminated"),
        "instance-state-code" if terminated => one(48),
        "instance-state-name" if i.stopped => one("stopped"),
        "instance-state-code" if i.stopped => one(80),
        "instance-id" => one(&i.id),
        "subnet-id" | "network-interface.subnet-id" => one(&i.subnet),
        "vpc-id" | "network-interface.vpc-id" => one(&i.vpc),
        "private-ip-address" | "network-interface.addresses.private-ip-address" => {
            one(i.private_ip)
        }
        "ip-address" | "network-interface.association.public-ip" => {
            Some(public.into_iter().collect())
        }
        "instance-state-name" => one("running"),
        "instance-state-code" => one(16),
        "image-id" => one(&i.image_id),
        "instance-type" => one(&i.instance_type),
        "availability-zone" => {
            Some(m.subnet(&i.subnet).map(|s| s.zone.clone()).into_iter().collect())
        }
        "network-interface.network-interface-id" => one(&i.interface),
        "private-dns-name" => one(private_dns(i.private_ip)),
        "owner-id" => one(OWNER_ID),
        _ => tag_attr(&i.tags, name),
    }
}

fn describe_instances(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let (m, now) = (&*ctx.model, ctx.now);
    let asked = listed_instance_ids(m, p, now)?;
    let instances = filtered(
        m.instances()
            .chain(m.terminated_instances(now))
            .filter(|i| asked.is_empty() || asked.contains(&i.id)),
        &p.filters(),
        |i, name| instance_attr(m, i, name),
    )?;
    x.set("reservationSet", instances, |x, i| write_reservation(x, m, &[i]));
    Ok(())
}

fn describe_network_interfaces(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("NetworkInterfaceId");
    let m = &*ctx.model;
    let known = |id: &str| {
        m.instances().any(|i| i.interface.as_str() == id)
            || m.nat_gateways().any(|n| derived("eni", n.id.as_str()) == id)
    };
    if let Some(missing) = asked.iter().find(|id| !known(id)) {
        return Err(ApiError {
            code: "InvalidNetworkInterfaceID.NotFound",
            message: format!("The networkInterface ID '{missing}' does not exist"),
        });
    }
    let instances = filtered(
        m.instances().filter(|i| asked.is_empty() || asked.contains(&i.interface.to_string())),
        &p.filters(),
        |i, name| match name {
            "network-interface-id" => one(&i.interface),
            "attachment.instance-id" => one(&i.id),
            "addresses.private-ip-address" | "private-ip-address" => one(i.private_ip),
            "association.public-ip" => {
                Some(i.public_ip.iter().map(|(ip, _)| ip.to_string()).collect())
            }
            "subnet-id" => one(&i.subnet),
            "vpc-id" => one(&i.vpc),
            "status" => one("in-use"),
            "interface-type" => one("interface"),
            _ => tag_attr(&Tags::new(), name),
        },
    )?;
    let nats = filtered(
        m.nat_gateways()
            .filter(|n| asked.is_empty() || asked.contains(&derived("eni", n.id.as_str()))),
        &p.filters(),
        |n, name| match name {
            "network-interface-id" => one(derived("eni", n.id.as_str())),
            "addresses.private-ip-address" | "private-ip-address" => one(n.private_ip),
            "association.public-ip" => one(n.public_ip),
            "subnet-id" => one(&n.subnet),
            "vpc-id" => one(&n.vpc),
            "status" => one("in-use"),
            "interface-type" => one("nat_gateway"),
            "attachment.instance-id" => Some(Vec::new()),
            _ => tag_attr(&Tags::new(), name),
        },
    )?;
    enum Eni<'a> {
        Instance(&'a Instance),
        Nat(&'a NatGateway),
    }
    let all = instances.into_iter().map(Eni::Instance).chain(nats.into_iter().map(Eni::Nat));
    x.set("networkInterfaceSet", all, |x, eni| {
        let (id, subnet, vpc, private, public, kind, managed) = match eni {
            Eni::Instance(i) => (
                i.interface.to_string(),
                &i.subnet,
                &i.vpc,
                i.private_ip,
                i.public_ip.as_ref().map(|(ip, _)| *ip),
                "interface",
                false,
            ),
            Eni::Nat(n) => (
                derived("eni", n.id.as_str()),
                &n.subnet,
                &n.vpc,
                n.private_ip,
                Some(n.public_ip),
                "nat_gateway",
                true,
            ),
        };
        let zone = m.subnet(subnet).map(|s| s.zone.clone()).unwrap_or_default();
        x.leaf("networkInterfaceId", &id)
            .leaf("subnetId", subnet)
            .leaf("vpcId", vpc)
            .leaf("availabilityZone", zone)
            .leaf("description", if managed { "Interface for NAT Gateway" } else { "" })
            .leaf("ownerId", OWNER_ID)
            .leaf("requesterManaged", managed)
            .leaf("status", "in-use")
            .leaf("macAddress", mac(&id))
            .leaf("privateIpAddress", private)
            .leaf("privateDnsName", private_dns(private))
            .leaf("sourceDestCheck", !managed)
            .leaf("interfaceType", kind)
            .set("groupSet", std::iter::empty::<()>(), |_, ()| {});
        if let Eni::Instance(i) = eni {
            x.node("attachment", |x| {
                x.leaf("attachmentId", derived("eni-attach", i.interface.as_str()))
                    .leaf("instanceId", &i.id)
                    .leaf("instanceOwnerId", OWNER_ID)
                    .leaf("deviceIndex", 0)
                    .leaf("status", "attached")
                    .leaf("deleteOnTermination", "true");
            });
        }
        if let Some(ip) = public {
            x.node("association", |x| {
                x.leaf("publicIp", ip)
                    .leaf("publicDnsName", public_dns(ip))
                    .leaf("ipOwnerId", "amazon");
            });
        }
        x.set("privateIpAddressesSet", [private], |x, ip| {
            x.leaf("privateIpAddress", ip)
                .leaf("privateDnsName", private_dns(ip))
                .leaf("primary", "true");
        })
        .set("tagSet", std::iter::empty::<()>(), |_, ()| {});
    });
    Ok(())
}

// ---- security groups ---------------------------------------------------------------

fn write_group_ref(x: &mut Xml, m: &Model, id: &SecurityGroupId) {
    x.leaf("groupId", id)
        .leaf("groupName", m.security_group(id).map(|g| g.name.clone()).unwrap_or_default());
}

fn write_permissions(x: &mut Xml, name: &str, rules: &[SgRule]) {
    x.set(name, rules, |x, r| {
        x.leaf("ipProtocol", r.protocol.api_name());
        if r.protocol != Protocol::All {
            x.leaf("fromPort", r.from_port).leaf("toPort", r.to_port);
        }
        match &r.peer {
            Peer::Group(g) => {
                x.set("groups", [g], |x, g| {
                    x.leaf("groupId", g)
                        .leaf("userId", OWNER_ID)
                        .opt("description", r.description.as_ref());
                });
                x.set("ipRanges", std::iter::empty::<()>(), |_, ()| {});
            }
            Peer::Cidr(c) => {
                x.set("groups", std::iter::empty::<()>(), |_, ()| {});
                x.set("ipRanges", [c], |x, c| {
                    x.leaf("cidrIp", c).opt("description", r.description.as_ref());
                });
            }
        }
        x.set("ipv6Ranges", std::iter::empty::<()>(), |_, ()| {}).set(
            "prefixListIds",
            std::iter::empty::<()>(),
            |_, ()| {},
        );
    });
}

fn write_security_group(x: &mut Xml, g: &SecurityGroup) {
    x.leaf("ownerId", OWNER_ID)
        .leaf("groupId", &g.id)
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description)
        .leaf("vpcId", &g.vpc)
        .leaf(
            "securityGroupArn",
            format!("arn:aws:ec2:{REGION}:{OWNER_ID}:security-group/{}", g.id),
        );
    write_permissions(x, "ipPermissions", &g.ingress);
    write_permissions(x, "ipPermissionsEgress", &g.egress);
    x.tags(&g.tags);
}

/// The group a call names by `GroupId` or (in its VPC, or any) `GroupName`.
fn group_of(m: &Model, p: &Params) -> Result<SecurityGroupId, ApiError> {
    if let Some(id) = p.get("GroupId") {
        let id = sg_id(id)?;
        m.security_group(&id)?;
        return Ok(id);
    }
    let name = p.required("GroupName")?;
    m.security_groups().find(|g| g.name == name).map(|g| g.id.clone()).ok_or_else(|| ApiError {
        code: "InvalidGroup.NotFound",
        message: format!("The security group '{name}' does not exist"),
    })
}

fn create_security_group(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let name = p.required("GroupName")?;
    let description = p.required("GroupDescription")?;
    let vpc = match p.get("VpcId") {
        Some(v) => vpc_id(v)?,
        None => {
            return Err(ApiError {
                code: "VPCIdNotSpecified",
                message: "No default VPC for this user".into(),
            });
        }
    };
    let id = ctx.model.create_security_group(
        &vpc,
        name,
        description,
        p.tag_specifications("security-group"),
    )?;
    let g = ctx.model.security_group(&id)?;
    x.leaf("return", "true")
        .leaf("groupId", &id)
        .leaf("securityGroupArn", format!("arn:aws:ec2:{REGION}:{OWNER_ID}:security-group/{id}"))
        .tags(&g.tags);
    Ok(())
}

fn delete_security_group(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = group_of(ctx.model, p)?;
    ctx.model.delete_security_group(&id)?;
    x.leaf("return", "true").leaf("groupId", id);
    Ok(())
}

fn describe_security_groups(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "GroupId", sg_id)?;
    let names = p.list("GroupName");
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.security_group(id).is_ok(),
        "InvalidGroup.NotFound",
        "security group",
    )?;
    if let Some(missing) = names.iter().find(|n| !m.security_groups().any(|g| &g.name == *n)) {
        return Err(ApiError {
            code: "InvalidGroup.NotFound",
            message: format!("The security group '{missing}' does not exist"),
        });
    }
    let groups = filtered(
        m.security_groups().filter(|g| {
            (asked.is_empty() || asked.contains(&g.id))
                && (names.is_empty() || names.contains(&g.name))
        }),
        &p.filters(),
        |g, name| match name {
            "group-id" => one(&g.id),
            "group-name" => one(&g.name),
            "vpc-id" => one(&g.vpc),
            "description" => one(&g.description),
            "owner-id" => one(OWNER_ID),
            "ip-permission.protocol" => {
                Some(g.ingress.iter().map(|r| r.protocol.api_name()).collect())
            }
            "ip-permission.cidr" => Some(
                g.ingress
                    .iter()
                    .filter_map(|r| match &r.peer {
                        Peer::Cidr(c) => Some(c.to_string()),
                        Peer::Group(_) => None,
                    })
                    .collect(),
            ),
            _ => tag_attr(&g.tags, name),
        },
    )?;
    x.set("securityGroupInfo", groups, write_security_group);
    Ok(())
}

/// The rules of an Authorize/Revoke call: `IpPermissions.N.*`, or the older top-level
/// shorthand (`IpProtocol`, `FromPort`, `ToPort`, `CidrIp`, `SourceSecurityGroup…`).
fn rules_of(m: &Model, p: &Params) -> Result<Vec<SgRule>, ApiError> {
    let port = |name: &str| -> Result<i32, ApiError> {
        match p.get(name) {
            None => Ok(-1),
            Some(v) => v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for {name}"))),
        }
    };
    let mut rules = Vec::new();
    for i in 1.. {
        let prefix = format!("IpPermissions.{i}");
        let Some(protocol) = p.get(&format!("{prefix}.IpProtocol")) else { break };
        let protocol = Protocol::parse(protocol)?;
        let from = port(&format!("{prefix}.FromPort"))?;
        let to = port(&format!("{prefix}.ToPort"))?;
        let mut peers = Vec::new();
        for j in 1.. {
            let Some(cidr) = p.get(&format!("{prefix}.IpRanges.{j}.CidrIp")) else { break };
            let cidr: ipnet::Ipv4Net =
                cidr.parse().map_err(|_| invalid(format!("CIDR block {cidr} is malformed")))?;
            peers.push((
                Peer::Cidr(cidr.trunc()),
                p.get(&format!("{prefix}.IpRanges.{j}.Description")).map(str::to_owned),
            ));
        }
        for list in ["Groups", "UserIdGroupPairs"] {
            for j in 1.. {
                let id = p.get(&format!("{prefix}.{list}.{j}.GroupId"));
                let name = p.get(&format!("{prefix}.{list}.{j}.GroupName"));
                let group = match (id, name) {
                    (Some(id), _) => sg_id(id)?,
                    (None, Some(name)) => m
                        .security_groups()
                        .find(|g| g.name == name)
                        .map(|g| g.id.clone())
                        .ok_or_else(|| ApiError {
                            code: "InvalidGroup.NotFound",
                            message: format!("The security group '{name}' does not exist"),
                        })?,
                    (None, None) => break,
                };
                peers.push((
                    Peer::Group(group),
                    p.get(&format!("{prefix}.{list}.{j}.Description")).map(str::to_owned),
                ));
            }
        }
        if peers.is_empty() {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain a CIDR or a source security group".into(),
            });
        }
        for (peer, description) in peers {
            rules.push(SgRule { protocol, from_port: from, to_port: to, peer, description });
        }
    }
    if rules.is_empty() {
        let Some(protocol) = p.get("IpProtocol") else {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain the parameter ipPermissions".into(),
            });
        };
        let protocol = Protocol::parse(protocol)?;
        let peer = match (
            p.get("CidrIp"),
            p.get("SourceSecurityGroupId"),
            p.get("SourceSecurityGroupName"),
        ) {
            (Some(c), _, _) => Peer::Cidr(
                c.parse::<ipnet::Ipv4Net>()
                    .map_err(|_| invalid(format!("CIDR block {c} is malformed")))?
                    .trunc(),
            ),
            (None, Some(id), _) => Peer::Group(sg_id(id)?),
            (None, None, Some(name)) => Peer::Group(
                m.security_groups().find(|g| g.name == name).map(|g| g.id.clone()).ok_or_else(
                    || ApiError {
                        code: "InvalidGroup.NotFound",
                        message: format!("The security group '{name}' does not exist"),
                    },
                )?,
            ),
            (None, None, None) => {
                return Err(ApiError {
                    code: "MissingParameter",
                    message: "The request must contain a CIDR or a source security group".into(),
                });
            }
        };
        rules.push(SgRule {
            protocol,
            from_port: port("FromPort")?,
            to_port: port("ToPort")?,
            peer,
            description: None,
        });
    }
    // AWS stores "all ports" for protocol -1.
    for r in &mut rules {
        if r.protocol == Protocol::All {
            r.from_port = -1;
            r.to_port = -1;
        }
    }
    Ok(rules)
}

fn change_rules(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    egress: bool,
    authorize: bool,
) -> Result<(), ApiError> {
    let id = group_of(ctx.model, p)?;
    let rules = rules_of(ctx.model, p)?;
    if authorize {
        ctx.model.authorize(&id, egress, rules)?;
    } else {
        ctx.model.revoke(&id, egress, &rules)?;
    }
    x.leaf("return", "true");
    Ok(())
}

fn authorize_ingress(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    change_rules(ctx, p, x, false, true)
}

fn authorize_egress(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    change_rules(ctx, p, x, true, true)
}

fn revoke_ingress(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    change_rules(ctx, p, x, false, false)
}

fn revoke_egress(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    change_rules(ctx, p, x, true, false)
}

fn modify_instance_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let instance = instance_id(p.required("InstanceId")?)?;
    let groups = ids(p, "GroupId", sg_id)?;
    if groups.is_empty() {
        ctx.model.instance(&instance)?;
        return Err(invalid(
            "vpclab supports ModifyInstanceAttribute for security groups (--groups) only.",
        ));
    }
    ctx.model.set_instance_security_groups(&instance, &groups)?;
    x.leaf("return", "true");
    Ok(())
}

/// The `MetadataOptions`-shaped parameters under `prefix`, applied to `options`.
fn metadata_options(
    p: &Params,
    prefix: &str,
    mut options: MetadataOptions,
) -> Result<MetadataOptions, ApiError> {
    let choice = |name: &str, yes: &str, no: &str| -> Result<Option<bool>, ApiError> {
        match p.get(&format!("{prefix}{name}")) {
            None => Ok(None),
            Some(v) if v == yes => Ok(Some(true)),
            Some(v) if v == no => Ok(Some(false)),
            Some(v) => Err(invalid(format!(
                "Value ({v}) for parameter {name} is invalid. Valid values: {no}, {yes}."
            ))),
        }
    };
    if let Some(required) = choice("HttpTokens", "required", "optional")? {
        options.tokens_required = required;
    }
    if let Some(enabled) = choice("HttpEndpoint", "enabled", "disabled")? {
        options.endpoint_enabled = enabled;
    }
    if let Some(enabled) = choice("InstanceMetadataTags", "enabled", "disabled")? {
        options.tags_enabled = enabled;
    }
    if choice("HttpProtocolIpv6", "enabled", "disabled")? == Some(true) {
        return Err(invalid("vpclab has no IPv6: HttpProtocolIpv6 can only be disabled."));
    }
    if let Some(limit) = p.u32(&format!("{prefix}HttpPutResponseHopLimit"))? {
        if !(1..=64).contains(&limit) {
            return Err(invalid(format!(
                "Value ({limit}) for parameter HttpPutResponseHopLimit is invalid. \
                 Valid values: 1 to 64."
            )));
        }
        options.hop_limit = limit as u8;
    }
    Ok(options)
}

fn write_metadata_options(x: &mut Xml, o: &MetadataOptions) {
    let word = |on: bool, yes: &'static str, no: &'static str| if on { yes } else { no };
    x.leaf("state", "applied")
        .leaf("httpTokens", word(o.tokens_required, "required", "optional"))
        .leaf("httpPutResponseHopLimit", o.hop_limit)
        .leaf("httpEndpoint", word(o.endpoint_enabled, "enabled", "disabled"))
        .leaf("httpProtocolIpv6", "disabled")
        .leaf("instanceMetadataTags", word(o.tags_enabled, "enabled", "disabled"));
}

fn modify_instance_metadata_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let instance = instance_id(p.required("InstanceId")?)?;
    let current = ctx.model.instance(&instance)?.metadata;
    let wanted = metadata_options(p, "", current)?;
    let options = ctx.model.set_metadata_options(&instance, |o| *o = wanted)?;
    x.leaf("instanceId", &instance).node("instanceMetadataOptions", |x| {
        write_metadata_options(x, &options);
    });
    Ok(())
}

fn modify_vpc_attribute(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    let support = p.bool("EnableDnsSupport.Value")?;
    let hostnames = p.bool("EnableDnsHostnames.Value")?;
    ctx.model.set_vpc_dns(&vpc, support, hostnames)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_vpc_attribute(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let vpc = ctx.model.vpc(&vpc_id(p.required("VpcId")?)?)?;
    let (element, value) = match p.required("Attribute")? {
        "enableDnsSupport" => ("enableDnsSupport", vpc.dns_support),
        "enableDnsHostnames" => ("enableDnsHostnames", vpc.dns_hostnames),
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )));
        }
    };
    x.leaf("vpcId", &vpc.id).node(element, |x| {
        x.leaf("value", value);
    });
    Ok(())
}

// ---- key pairs ---------------------------------------------------------------------

/// `len` bytes derived from `seed` (SHA-256 in counter mode): stable for one key.
fn derive_bytes(seed: &str, len: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u32;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update(counter.to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn api_error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { code, message: message.into() }
}

fn write_key_pair(x: &mut Xml, k: &vpclab_model::KeyPair) {
    x.leaf("keyPairId", &k.id)
        .leaf("keyFingerprint", &k.fingerprint)
        .leaf("keyName", &k.name)
        .leaf("keyType", &k.key_type)
        .leaf("createTime", iso8601(k.created_at))
        .tags(&k.tags);
}

fn create_key_pair(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let name = p.required("KeyName")?;
    let key_type = p.get("KeyType").unwrap_or("rsa");
    match p.get("KeyFormat") {
        None | Some("pem") => {}
        Some(other) => {
            return Err(invalid(format!(
                "Value ({other}) for parameter keyFormat is invalid. vpclab hands out pem only."
            )));
        }
    }
    // Well-formed PEM, not a usable key: no instance runs an SSH server.
    let (label, size) = if key_type == "ed25519" { ("OPENSSH", 387) } else { ("RSA", 1190) };
    let body = base64(&derive_bytes(&format!("{name}/{}", ctx.now), size));
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let material = format!(
        "-----BEGIN {label} PRIVATE KEY-----\n{}\n-----END {label} PRIVATE KEY-----",
        lines.join("\n")
    );
    let fingerprint = colon_hex(&derive_bytes(&material, 20));
    let tags = p.tag_specifications("key-pair");
    let key = ctx.model.create_key_pair(name, key_type, fingerprint, ctx.now, tags)?;
    x.leaf("keyName", &key.name)
        .leaf("keyFingerprint", &key.fingerprint)
        .leaf("keyMaterial", &material)
        .leaf("keyPairId", &key.id)
        .tags(&key.tags);
    Ok(())
}

fn import_key_pair(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let name = p.required("KeyName")?;
    let public = p.required("PublicKeyMaterial")?;
    let bad = || api_error("InvalidKey.Format", "Key is not in valid OpenSSH public key format");
    let text = unbase64(public).and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
    let key_type = match text.split_whitespace().next() {
        Some("ssh-rsa") => "rsa",
        Some("ssh-ed25519") => "ed25519",
        _ => return Err(bad()),
    };
    let blob = text.split_whitespace().nth(1).and_then(unbase64).ok_or_else(bad)?;
    let fingerprint = colon_hex(&derive_bytes(&String::from_utf8_lossy(&blob), 16));
    let tags = p.tag_specifications("key-pair");
    let key = ctx.model.create_key_pair(name, key_type, fingerprint, ctx.now, tags)?;
    x.leaf("keyFingerprint", &key.fingerprint)
        .leaf("keyName", &key.name)
        .leaf("keyPairId", &key.id)
        .tags(&key.tags);
    Ok(())
}

fn describe_key_pairs(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let names = p.list("KeyName");
    let ids = p.list("KeyPairId");
    let m = &*ctx.model;
    for name in &names {
        m.key_pair(name)?;
    }
    if let Some(missing) =
        ids.iter().find(|id| !m.key_pairs().any(|k| k.id.as_str() == id.as_str()))
    {
        return Err(api_error(
            "InvalidKeyPair.NotFound",
            format!("The key pair '{missing}' does not exist"),
        ));
    }
    let keys = filtered(
        m.key_pairs().filter(|k| {
            (names.is_empty() || names.contains(&k.name))
                && (ids.is_empty() || ids.iter().any(|id| id == k.id.as_str()))
        }),
        &p.filters(),
        |k, name| match name {
            "key-name" => one(&k.name),
            "key-pair-id" => one(&k.id),
            "fingerprint" => one(&k.fingerprint),
            "key-type" => one(&k.key_type),
            _ => tag_attr(&k.tags, name),
        },
    )?;
    x.set("keySet", keys, write_key_pair);
    Ok(())
}

fn delete_key_pair(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = p.get("KeyPairId").map(|id| {
        KeyPairId::parse(id).ok_or_else(|| malformed("InvalidKeyPair.Malformed", "key", id))
    });
    let id = id.transpose()?;
    let name = p.get("KeyName");
    if name.is_none() && id.is_none() {
        return Err(api_error(
            "MissingParameter",
            "The request must contain the parameter KeyName or KeyPairId",
        ));
    }
    let deleted = ctx.model.delete_key_pair(name, id.as_ref());
    x.leaf("return", "true").opt("keyPairId", deleted.map(|k| k.id));
    Ok(())
}

// ---- instance status ---------------------------------------------------------------

/// DescribeInstanceStatus: every running instance passes its checks at once (nothing
/// boots); stopped and terminated ones only with `IncludeAllInstances`.
fn describe_instance_status(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, now) = (&*ctx.model, ctx.now);
    let asked = listed_instance_ids(m, p, now)?;
    let all = p.bool("IncludeAllInstances")?.unwrap_or(false);
    let terminated = m.terminated_instances(now).filter(|_| all);
    let instances = filtered(
        m.instances()
            .filter(|i| all || !i.stopped)
            .chain(terminated)
            .filter(|i| asked.is_empty() || asked.contains(&i.id)),
        &p.filters(),
        |i, name| match name {
            "instance-status.status" | "system-status.status" => {
                let running = m.instance(&i.id).is_ok_and(|i| !i.stopped);
                one(if running { "ok" } else { "not-applicable" })
            }
            other => instance_attr(m, i, other),
        },
    )?;
    x.set("instanceStatusSet", instances, |x, i| {
        let live = m.instance(&i.id).is_ok_and(|i| !i.stopped);
        let zone = m.subnet(&i.subnet).map(|s| s.zone.clone()).unwrap_or_default();
        let (code, state, status) = match m.instance(&i.id) {
            Ok(i) if i.stopped => (80, "stopped", "not-applicable"),
            Ok(_) => (16, "running", "ok"),
            Err(_) => (48, "terminated", "not-applicable"),
        };
        let check = |x: &mut Xml| {
            x.leaf("status", status).set("details", [()], |x, ()| {
                x.leaf("name", "reachability")
                    .leaf("status", if live { "passed" } else { "not-applicable" });
            });
        };
        x.leaf("instanceId", &i.id)
            .leaf("availabilityZone", &zone)
            .node("instanceState", |x| {
                x.leaf("code", code).leaf("name", state);
            })
            .node("systemStatus", check)
            .node("instanceStatus", check)
            .set("eventsSet", std::iter::empty::<()>(), |_, ()| {});
    });
    Ok(())
}

// ---- network ACLs ------------------------------------------------------------------

fn write_acl(x: &mut Xml, a: &NetworkAcl) {
    x.leaf("networkAclId", &a.id)
        .leaf("vpcId", &a.vpc)
        .leaf("default", a.is_default)
        .leaf("ownerId", OWNER_ID);
    let star = |egress| AclEntry {
        rule_number: 32767,
        egress,
        protocol: Protocol::All,
        allow: false,
        cidr: "0.0.0.0/0".parse().expect("a CIDR"),
        ports: None,
        icmp: None,
    };
    let mut entries: Vec<AclEntry> = a.rules(true).into_iter().cloned().collect();
    entries.push(star(true));
    entries.extend(a.rules(false).into_iter().cloned());
    entries.push(star(false));
    x.set("entrySet", &entries, |x, e| {
        let protocol = e.protocol.number().map_or("-1".to_owned(), |n| n.to_string());
        x.leaf("ruleNumber", e.rule_number)
            .leaf("protocol", protocol)
            .leaf("ruleAction", if e.allow { "allow" } else { "deny" })
            .leaf("egress", e.egress)
            .leaf("cidrBlock", e.cidr);
        if let Some((from, to)) = e.ports {
            x.node("portRange", |x| {
                x.leaf("from", from).leaf("to", to);
            });
        }
        if let Some((t, c)) = e.icmp {
            x.node("icmpTypeCode", |x| {
                x.leaf("code", c).leaf("type", t);
            });
        }
    });
    x.set("associationSet", &a.associations, |x, (id, subnet)| {
        x.leaf("networkAclAssociationId", id).leaf("networkAclId", &a.id).leaf("subnetId", subnet);
    });
    x.tags(&a.tags);
}

fn create_network_acl(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = ctx
        .model
        .create_network_acl(&vpc_id(p.required("VpcId")?)?, p.tag_specifications("network-acl"))?;
    let a = ctx.model.network_acl(&id)?;
    x.node("networkAcl", |x| write_acl(x, a));
    Ok(())
}

fn delete_network_acl(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.delete_network_acl(&acl_id(p.required("NetworkAclId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_network_acls(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "NetworkAclId", acl_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.network_acl(id).is_ok(),
        "InvalidNetworkAclID.NotFound",
        "networkAcl",
    )?;
    let acls = filtered(
        m.network_acls().filter(|a| asked.is_empty() || asked.contains(&a.id)),
        &p.filters(),
        |a, name| match name {
            "network-acl-id" => one(&a.id),
            "vpc-id" => one(&a.vpc),
            "default" => one(a.is_default),
            "association.subnet-id" => {
                Some(a.associations.iter().map(|(_, s)| s.to_string()).collect())
            }
            "association.association-id" => {
                Some(a.associations.iter().map(|(id, _)| id.to_string()).collect())
            }
            "association.network-acl-id" => one(&a.id),
            "entry.rule-number" => {
                Some(a.entries.iter().map(|e| e.rule_number.to_string()).collect())
            }
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&a.tags, name),
        },
    )?;
    x.set("networkAclSet", acls, write_acl);
    Ok(())
}

fn acl_entry(p: &Params) -> Result<AclEntry, ApiError> {
    let rule_number: u16 = p.required("RuleNumber")?.parse().map_err(|_| {
        invalid("Value for parameter ruleNumber is invalid. Must be between 1 and 32766.")
    })?;
    let protocol = Protocol::parse(p.required("Protocol")?)?;
    let allow = match p.required("RuleAction")?.to_ascii_lowercase().as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(invalid(format!("Value ({other}) for parameter ruleAction is invalid.")));
        }
    };
    let port = |name| -> Result<Option<u16>, ApiError> {
        p.get(name)
            .map(|v| v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for {name}"))))
            .transpose()
    };
    let ports = match (port("PortRange.From")?, port("PortRange.To")?) {
        (Some(from), Some(to)) => Some((from, to)),
        (None, None) => None,
        _ => {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain both PortRange.From and PortRange.To".into(),
            });
        }
    };
    if matches!(protocol, Protocol::Tcp | Protocol::Udp) && ports.is_none() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter portRange".into(),
        });
    }
    let icmp_part = |name| -> Result<i16, ApiError> {
        p.get(name).map_or(Ok(-1), |v| {
            v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for {name}")))
        })
    };
    let icmp = (protocol == Protocol::Icmp)
        .then(|| Ok::<_, ApiError>((icmp_part("Icmp.Type")?, icmp_part("Icmp.Code")?)))
        .transpose()?;
    Ok(AclEntry {
        rule_number,
        egress: p.bool("Egress")?.unwrap_or(false),
        protocol,
        allow,
        cidr: cidr(p, "CidrBlock")?.trunc(),
        ports,
        icmp,
    })
}

fn create_network_acl_entry(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let acl = acl_id(p.required("NetworkAclId")?)?;
    ctx.model.network_acl(&acl)?;
    ctx.model.create_network_acl_entry(&acl, acl_entry(p)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn replace_network_acl_entry(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let acl = acl_id(p.required("NetworkAclId")?)?;
    ctx.model.network_acl(&acl)?;
    ctx.model.replace_network_acl_entry(&acl, acl_entry(p)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn delete_network_acl_entry(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let acl = acl_id(p.required("NetworkAclId")?)?;
    let number = p
        .required("RuleNumber")?
        .parse()
        .map_err(|_| invalid("Value for parameter ruleNumber is invalid."))?;
    ctx.model.delete_network_acl_entry(&acl, number, p.bool("Egress")?.unwrap_or(false))?;
    x.leaf("return", "true");
    Ok(())
}

fn replace_network_acl_association(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let raw = p.required("AssociationId")?;
    let association = NetworkAclAssociationId::parse(raw)
        .ok_or_else(|| malformed("InvalidAssociationID.NotFound", "aclassoc", raw))?;
    let acl = acl_id(p.required("NetworkAclId")?)?;
    let id = ctx.model.replace_network_acl_association(&association, &acl)?;
    x.leaf("newAssociationId", id);
    Ok(())
}

// ---- VPC peering -------------------------------------------------------------------

fn write_peering(x: &mut Xml, m: &Model, pc: &PeeringConnection) {
    let info = |x: &mut Xml, vpc: &VpcId, owner: Option<&str>, region: Option<&str>| {
        x.leaf("ownerId", owner.unwrap_or(OWNER_ID))
            .leaf("vpcId", vpc)
            .leaf("region", region.unwrap_or(REGION));
        if let Ok(v) = m.vpc(vpc) {
            x.leaf("cidrBlock", v.cidr).set("cidrBlockSet", [v.cidr], |x, c| {
                x.leaf("cidrBlock", c);
            });
        }
        x.node("peeringOptions", |x| {
            x.leaf("allowDnsResolutionFromRemoteVpc", "false")
                .leaf("allowEgressFromLocalClassicLinkToRemoteVpc", "false")
                .leaf("allowEgressFromLocalVpcToRemoteClassicLink", "false");
        });
    };
    x.leaf("vpcPeeringConnectionId", &pc.id)
        .node("requesterVpcInfo", |x| info(x, &pc.requester, None, None))
        .node("accepterVpcInfo", |x| {
            info(x, &pc.accepter, pc.peer_owner.as_deref(), pc.peer_region.as_deref());
        })
        .node("status", |x| {
            x.leaf("code", pc.status.code()).leaf("message", pc.status.message());
        })
        .tags(&pc.tags);
}

fn create_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let requester = vpc_id(p.required("VpcId")?)?;
    let accepter = vpc_id(p.required("PeerVpcId")?)?;
    if let Some(owner) = p.get("PeerOwnerId") {
        if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("Invalid value '{owner}' for PeerOwnerId.")));
        }
    }
    let id = ctx.model.create_vpc_peering_connection(
        &requester,
        &accepter,
        p.tag_specifications("vpc-peering-connection"),
    )?;
    ctx.model.label_peering(&id, p.get("PeerOwnerId"), p.get("PeerRegion"))?;
    let m = &*ctx.model;
    let pc = m.peering_connection(&id)?;
    x.node("vpcPeeringConnection", |x| write_peering(x, m, pc));
    Ok(())
}

fn accept_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = pcx_id(p.required("VpcPeeringConnectionId")?)?;
    ctx.model.accept_vpc_peering_connection(&id)?;
    let m = &*ctx.model;
    let pc = m.peering_connection(&id)?;
    x.node("vpcPeeringConnection", |x| write_peering(x, m, pc));
    Ok(())
}

fn reject_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.reject_vpc_peering_connection(&pcx_id(p.required("VpcPeeringConnectionId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn delete_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_vpc_peering_connection(&pcx_id(p.required("VpcPeeringConnectionId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_vpc_peering_connections(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "VpcPeeringConnectionId", pcx_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.peering_connection(id).is_ok(),
        "InvalidVpcPeeringConnectionID.NotFound",
        "vpcPeeringConnection",
    )?;
    let list = filtered(
        m.peering_connections().filter(|c| asked.is_empty() || asked.contains(&c.id)),
        &p.filters(),
        |c, name| match name {
            "vpc-peering-connection-id" => one(&c.id),
            "status-code" => one(c.status.code()),
            "requester-vpc-info.vpc-id" => one(&c.requester),
            "accepter-vpc-info.vpc-id" => one(&c.accepter),
            "requester-vpc-info.cidr-block" => {
                Some(m.vpc(&c.requester).map(|v| v.cidr.to_string()).into_iter().collect())
            }
            "accepter-vpc-info.cidr-block" => {
                Some(m.vpc(&c.accepter).map(|v| v.cidr.to_string()).into_iter().collect())
            }
            _ => tag_attr(&c.tags, name),
        },
    )?;
    x.set("vpcPeeringConnectionSet", list, |x, c| write_peering(x, m, c));
    Ok(())
}

// ---- gateway endpoints -------------------------------------------------------------

fn write_endpoint(x: &mut Xml, e: &VpcEndpoint) {
    x.leaf("vpcEndpointId", &e.id)
        .leaf("vpcEndpointType", "Gateway")
        .leaf("vpcId", &e.vpc)
        .leaf("serviceName", &e.service)
        .leaf("state", "available")
        .leaf("policyDocument", FULL_ACCESS_POLICY)
        .values("routeTableIdSet", &e.route_tables)
        .values("subnetIdSet", std::iter::empty::<&str>())
        .set("groupSet", std::iter::empty::<()>(), |_, ()| {})
        .leaf("privateDnsEnabled", "false")
        .leaf("requesterManaged", "false")
        .values("networkInterfaceIdSet", std::iter::empty::<&str>())
        .set("dnsEntrySet", std::iter::empty::<()>(), |_, ()| {})
        .leaf("creationTimestamp", iso8601(e.created_at))
        .tags(&e.tags)
        .leaf("ownerId", OWNER_ID);
}

/// The policy of every endpoint: vpclab does not evaluate endpoint policies.
const FULL_ACCESS_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

fn create_vpc_endpoint(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    match p.get("VpcEndpointType").unwrap_or("Gateway") {
        "Gateway" => {}
        "Interface" | "GatewayLoadBalancer" | "Resource" | "ServiceNetwork" => {
            return Err(invalid(
                "vpclab supports Gateway endpoints only (VpcEndpointType=Gateway).",
            ));
        }
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter vpcEndpointType is invalid."
            )));
        }
    }
    let vpc = vpc_id(p.required("VpcId")?)?;
    let service = p.required("ServiceName")?;
    let tables = ids(p, "RouteTableId", rtb_id)?;
    let id = ctx.model.create_vpc_endpoint(
        &vpc,
        service,
        &tables,
        p.tag_specifications("vpc-endpoint"),
        ctx.now,
    )?;
    let e = ctx.model.vpc_endpoint(&id)?;
    x.node("vpcEndpoint", |x| write_endpoint(x, e));
    if let Some(token) = p.get("ClientToken") {
        x.leaf("clientToken", token);
    }
    Ok(())
}

fn modify_vpc_endpoint(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let id = vpce_id(p.required("VpcEndpointId")?)?;
    let add = ids(p, "AddRouteTableId", rtb_id)?;
    let remove = ids(p, "RemoveRouteTableId", rtb_id)?;
    ctx.model.modify_vpc_endpoint(&id, &add, &remove)?;
    x.leaf("return", "true");
    Ok(())
}

/// DeleteVpcEndpoints: AWS answers every id, listing the ones it could not delete.
fn delete_vpc_endpoints(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = p.list("VpcEndpointId");
    if asked.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter VpcEndpointId".into(),
        });
    }
    let failed: Vec<(String, ApiError)> = asked
        .into_iter()
        .filter_map(|raw| {
            let result = vpce_id(&raw).and_then(|id| ctx.model.delete_vpc_endpoint(&id));
            result.err().map(|e| (raw, e))
        })
        .collect();
    unsuccessful(x, failed);
    Ok(())
}

fn describe_vpc_endpoints(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = ids(p, "VpcEndpointId", vpce_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.vpc_endpoint(id).is_ok(),
        "InvalidVpcEndpointId.NotFound",
        "vpcEndpoint",
    )?;
    let list = filtered(
        m.vpc_endpoints().filter(|e| asked.is_empty() || asked.contains(&e.id)),
        &p.filters(),
        |e, name| match name {
            "vpc-endpoint-id" => one(&e.id),
            "vpc-id" => one(&e.vpc),
            "service-name" => one(&e.service),
            "vpc-endpoint-state" => one("available"),
            "vpc-endpoint-type" => one("Gateway"),
            _ => tag_attr(&e.tags, name),
        },
    )?;
    x.set("vpcEndpointSet", list, write_endpoint);
    Ok(())
}

// ---- flow logs ---------------------------------------------------------------------

/// AWS's default record format, the only one vpclab writes.
const DEFAULT_LOG_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

fn write_flow_log(x: &mut Xml, f: &vpclab_model::FlowLog) {
    x.leaf("creationTime", iso8601(f.spec.created_at))
        .leaf("deliverLogsStatus", "SUCCESS")
        .leaf("flowLogId", &f.id)
        .leaf("flowLogStatus", "ACTIVE");
    if f.spec.destination_type == "cloud-watch-logs" {
        x.leaf("logGroupName", &f.spec.destination);
    }
    x.leaf("resourceId", f.resource.id())
        .leaf("trafficType", f.spec.traffic_type.as_str())
        .leaf("logDestinationType", &f.spec.destination_type)
        .leaf("logDestination", &f.spec.destination)
        .leaf("logFormat", DEFAULT_LOG_FORMAT)
        .leaf("maxAggregationInterval", f.spec.max_aggregation_interval)
        .tags(&f.spec.tags);
}

fn unsuccessful(x: &mut Xml, failed: Vec<(String, ApiError)>) {
    x.set("unsuccessful", failed, |x, (id, e)| {
        x.node("error", |x| {
            x.leaf("code", e.code).leaf("message", &e.message);
        })
        .leaf("resourceId", id);
    });
}

fn create_flow_logs(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let kind = p.required("ResourceType")?;
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ResourceId".into(),
        });
    }
    let traffic = p.required("TrafficType")?;
    let traffic_type = vpclab_model::TrafficType::parse(traffic).ok_or_else(|| {
        invalid(format!("Value ({traffic}) for parameter trafficType is invalid."))
    })?;
    let destination_type = p.get("LogDestinationType").unwrap_or("cloud-watch-logs");
    let destination = match destination_type {
        "cloud-watch-logs" => {
            p.get("LogGroupName").or(p.get("LogDestination")).ok_or(ApiError {
                code: "InvalidParameter",
                message: "LogGroupName or LogDestination must be specified".into(),
            })?
        }
        "s3" => {
            let arn = p.required("LogDestination")?;
            if !arn.starts_with("arn:aws:s3:::") || arn.len() == "arn:aws:s3:::".len() {
                return Err(ApiError {
                    code: "InvalidParameter",
                    message: format!("LogDestination: {arn} is not a valid S3 bucket ARN"),
                });
            }
            arn
        }
        "kinesis-data-firehose" => p.required("LogDestination")?,
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter logDestinationType is invalid."
            )));
        }
    };
    if let Some(format) = p.get("LogFormat") {
        if format.trim() != DEFAULT_LOG_FORMAT {
            return Err(ApiError {
                code: "InvalidParameter",
                message: "vpclab writes the default flow log format only (omit LogFormat)".into(),
            });
        }
    }
    let interval = match p.get("MaxAggregationInterval") {
        Some(v) => v.parse().map_err(|_| {
            invalid(format!("Value ({v}) for parameter maxAggregationInterval is invalid."))
        })?,
        None => 600,
    };
    let spec = vpclab_model::FlowLogSpec {
        traffic_type,
        destination_type: destination_type.to_owned(),
        destination: destination.to_owned(),
        max_aggregation_interval: interval,
        created_at: ctx.now,
        tags: p.tag_specifications("vpc-flow-log"),
    };
    let results = ctx.model.create_flow_logs(kind, &ids, &spec)?;
    let mut created = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(id) => created.push(id),
            Err(f) => failed.push(f),
        }
    }
    if let Some(token) = p.get("ClientToken") {
        x.leaf("clientToken", token);
    }
    x.values("flowLogIdSet", &created);
    unsuccessful(x, failed);
    Ok(())
}

fn delete_flow_logs(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let ids = p.list("FlowLogId");
    if ids.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter FlowLogId".into(),
        });
    }
    let failed: Vec<(String, ApiError)> = ids
        .into_iter()
        .filter_map(|id| ctx.model.delete_flow_log(&id).err().map(|e| (id, e)))
        .collect();
    unsuccessful(x, failed);
    Ok(())
}

fn describe_flow_logs(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = p.list("FlowLogId");
    let m = &*ctx.model;
    let list = filtered(
        m.flow_logs().filter(|f| asked.is_empty() || asked.iter().any(|a| a == f.id.as_str())),
        &p.filters(),
        |f, name| match name {
            "flow-log-id" => one(&f.id),
            "resource-id" => one(f.resource.id()),
            "traffic-type" => one(f.spec.traffic_type.as_str()),
            "log-destination-type" => one(&f.spec.destination_type),
            "deliver-log-status" => one("SUCCESS"),
            "log-group-name" => Some(
                (f.spec.destination_type == "cloud-watch-logs")
                    .then(|| f.spec.destination.clone())
                    .into_iter()
                    .collect(),
            ),
            _ => tag_attr(&f.spec.tags, name),
        },
    )?;
    x.set("flowLogSet", list, write_flow_log);
    Ok(())
}

// ---- tags --------------------------------------------------------------------------

fn create_tags(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let resources = p.list("ResourceId");
    if resources.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ResourceId".into(),
        });
    }
    ctx.model.create_tags(&resources, &p.tags("Tag"))?;
    x.leaf("return", "true");
    Ok(())
}

fn delete_tags(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let resources = p.list("ResourceId");
    if resources.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ResourceId".into(),
        });
    }
    let keys: Vec<(String, Option<String>)> = (1..)
        .map_while(|i| {
            let key = p.get(&format!("Tag.{i}.Key"))?.to_owned();
            Some((key, p.get(&format!("Tag.{i}.Value")).map(str::to_owned)))
        })
        .collect();
    ctx.model.delete_tags(&resources, &keys)?;
    x.leaf("return", "true");
    Ok(())
}

fn describe_tags(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let all = ctx.model.all_tags();
    let tags = filtered(all.iter(), &p.filters(), |(id, kind, key, value), name| match name {
        "resource-id" => one(id),
        "resource-type" => one(kind),
        "key" => one(key),
        "value" => one(value),
        _ => None,
    })?;
    x.set("tagSet", tags, |x, (id, kind, key, value)| {
        x.leaf("resourceId", id).leaf("resourceType", kind).leaf("key", key).leaf("value", value);
    });
    Ok(())
}

// ---- the region --------------------------------------------------------------------

fn describe_availability_zones(
    _: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let names = p.list("ZoneName");
    let zones = filtered(
        ZONES.iter().filter(|z| names.is_empty() || names.iter().any(|n| n == *z)),
        &p.filters(),
        |z, name| match name {
            "zone-name" => one(z),
            "zone-id" => one(zone_id(z)),
            "region-name" => one(REGION),
            "state" => one("available"),
            "zone-type" => one("availability-zone"),
            _ => None,
        },
    )?;
    x.set("availabilityZoneInfo", zones, |x, z| {
        x.leaf("zoneName", z)
            .leaf("zoneState", "available")
            .leaf("regionName", REGION)
            .leaf("zoneId", zone_id(z))
            .leaf("zoneType", "availability-zone")
            .leaf("optInStatus", "opt-in-not-required")
            .leaf("groupName", REGION)
            .leaf("networkBorderGroup", REGION)
            .set("messageSet", std::iter::empty::<()>(), |_, ()| {});
    });
    Ok(())
}

fn describe_regions(_: &mut Context<'_>, _: &Params, x: &mut Xml) -> Result<(), ApiError> {
    x.set("regionInfo", [REGION], |x, r| {
        x.leaf("regionName", r)
            .leaf("regionEndpoint", format!("ec2.{r}.amazonaws.com"))
            .leaf("optInStatus", "opt-in-not-required");
    });
    Ok(())
}

fn describe_prefix_lists(_: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = p.list("PrefixListId");
    if let Some(missing) = asked.iter().find(|id| !PREFIX_LISTS.iter().any(|(pl, _, _)| pl == id)) {
        return Err(ApiError {
            code: "InvalidPrefixListID.NotFound",
            message: format!("The prefix list ID '{missing}' does not exist"),
        });
    }
    let lists = filtered(
        PREFIX_LISTS.iter().filter(|(pl, _, _)| asked.is_empty() || asked.iter().any(|a| a == pl)),
        &p.filters(),
        |(id, name, _), f| match f {
            "prefix-list-id" => one(id),
            "prefix-list-name" => one(name),
            _ => None,
        },
    )?;
    x.set("prefixListSet", lists, |x, (id, name, cidr)| {
        x.leaf("prefixListId", id).leaf("prefixListName", name).values("cidrSet", [cidr]);
    });
    Ok(())
}

/// DescribeVpcEndpointServices: the gateway services vpclab emulates.
fn describe_vpc_endpoint_services(
    _: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("ServiceName");
    if let Some(missing) = asked.iter().find(|n| !PREFIX_LISTS.iter().any(|(_, name, _)| name == n))
    {
        return Err(ApiError {
            code: "InvalidServiceName",
            message: format!("The Vpc Endpoint Service '{missing}' does not exist"),
        });
    }
    let services = filtered(
        PREFIX_LISTS
            .iter()
            .filter(|(_, name, _)| asked.is_empty() || asked.iter().any(|a| a == name)),
        &p.filters(),
        |(_, name, _), f| match f {
            "service-name" => one(name),
            "service-type" => one("Gateway"),
            _ => None,
        },
    )?;
    let names: Vec<&str> = services.iter().map(|(_, name, _)| *name).collect();
    x.values("serviceNameSet", &names).set("serviceDetailSet", services, |x, (_, name, _)| {
        x.leaf("serviceName", name)
            .leaf("serviceId", derived("vpce-svc", name))
            .set("serviceType", [()], |x, ()| {
                x.leaf("serviceType", "Gateway");
            })
            .values("availabilityZoneSet", ZONES)
            .leaf("owner", "amazon")
            .values(
                "baseEndpointDnsNameSet",
                [name.rsplit('.').next().unwrap_or(name).to_owned() + ".us-east-1.amazonaws.com"],
            )
            .leaf("vpcEndpointPolicySupported", true)
            .leaf("acceptanceRequired", false)
            .leaf("managesVpcEndpoints", false)
            .leaf("serviceRegion", REGION);
    });
    Ok(())
}

/// The images DescribeImages lists: the public AMIs tutorials look up by name. Any image
/// id launches; these are the ones a `describe-images --owners amazon --filters
/// Name=name,Values=al2023-ami-2023*` finds.
const IMAGES: &[(&str, &str, &str, &str, &str)] = &[
    // (id, name, owner id, owner alias, architecture)
    (
        "ami-0a3c3a20c09d6f377",
        "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64",
        "137112412989",
        "amazon",
        "x86_64",
    ),
    (
        "ami-0b8d2b8f1a9c3e4d5",
        "al2023-ami-2023.6.20241121.0-kernel-6.1-arm64",
        "137112412989",
        "amazon",
        "arm64",
    ),
    (
        "ami-0c1f2e3d4b5a69788",
        "amzn2-ami-kernel-5.10-hvm-2.0.20241113.1-x86_64-gp2",
        "137112412989",
        "amazon",
        "x86_64",
    ),
    (
        "ami-0e2c8d7f6a5b4c3d2",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241119",
        "099720109477",
        "",
        "x86_64",
    ),
    (
        "ami-0f3d9e8a7b6c5d4e3",
        "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241119",
        "099720109477",
        "",
        "x86_64",
    ),
    ("ami-0d4e0f9b8c7d6e5f4", "debian-12-amd64-20241111-1928", "136693071363", "", "x86_64"),
];

fn describe_images(_: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let asked = p.list("ImageId");
    if let Some(missing) = asked.iter().find(|id| !IMAGES.iter().any(|i| i.0 == id.as_str())) {
        return Err(ApiError {
            code: "InvalidAMIID.NotFound",
            message: format!("The image id '[{missing}]' does not exist"),
        });
    }
    let owners = p.list("Owner");
    let owned = |(_, _, owner, alias, _): &&(&str, &str, &str, &str, &str)| {
        owners.is_empty() || owners.iter().any(|o| o == owner || (!alias.is_empty() && o == alias))
    };
    let images = filtered(
        IMAGES.iter().filter(|i| asked.is_empty() || asked.iter().any(|a| a == i.0)).filter(owned),
        &p.filters(),
        |(id, name, owner, alias, arch), f| match f {
            "image-id" => one(id),
            "name" => one(name),
            "owner-id" => one(owner),
            "owner-alias" => Some(
                Some(alias).filter(|a| !a.is_empty()).map(|a| a.to_string()).into_iter().collect(),
            ),
            "architecture" => one(arch),
            "state" => one("available"),
            "image-type" => one("machine"),
            "is-public" => one(true),
            "root-device-type" => one("ebs"),
            "virtualization-type" => one("hvm"),
            "platform-details" => one("Linux/UNIX"),
            _ => None,
        },
    )?;
    x.set("imagesSet", images, |x, (id, name, owner, alias, arch)| {
        // The date is the one in the name (YYYYMMDD), as AWS's images carry it.
        let date = name
            .split(|c: char| !c.is_ascii_digit())
            .find(|d| d.len() == 8 && d.starts_with("20"))
            .map_or("2024-11-21".to_owned(), |d| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]));
        x.leaf("imageId", id)
            .leaf("imageLocation", format!("{owner}/{name}"))
            .leaf("imageState", "available")
            .leaf("imageOwnerId", owner)
            .leaf("creationDate", format!("{date}T00:00:00.000Z"))
            .leaf("isPublic", true)
            .leaf("architecture", arch)
            .leaf("imageType", "machine")
            .leaf("platformDetails", "Linux/UNIX")
            .leaf("usageOperation", "RunInstances")
            .opt("imageOwnerAlias", Some(alias).filter(|a| !a.is_empty()))
            .leaf("name", name)
            .leaf("rootDeviceType", "ebs")
            .leaf("rootDeviceName", "/dev/xvda")
            .leaf("virtualizationType", "hvm")
            .leaf("hypervisor", "xen")
            .leaf("enaSupport", true);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            proptest::prop_assert_eq!(unbase64(&base64(&bytes)), Some(bytes));
        }
    }

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(plain.as_bytes()), encoded);
            assert_eq!(unbase64(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(unbase64("not base64!"), None);
    }

    #[test]
    fn dates_are_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
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
