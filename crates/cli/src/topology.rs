//! Topology files: a lab described in YAML, turned into a [`Model`] by the same
//! operations (and the same AWS validation) the EC2 API uses.
//!
//! Building is pure: the whole file is checked, and the host is touched only when it
//! is all valid — a bad file creates nothing. Every error names the file, line and
//! column of the value that caused it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;
use serde_saphyr::Spanned;
use vpclab_model::{
    AllocationId, ApiError, InternetGatewayId, MetadataOptions, Model, NatGatewayId,
    OnpremHostSpec, OnpremSiteSpec, Peer, Protocol, REGION, RouteSpec, RouteTableId, RouteTarget,
    RunInstance, SecurityGroupId, SgRule, SiteField, SubnetId, Tags, TgwAttachmentId, TgwOptions,
    TransitGatewayId, VpcAttachmentOptions, VpcId,
};

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Topology {
    /// VPCs with their subnets, route tables and gateway.
    #[serde(default)]
    pub(crate) vpcs: Vec<VpcSpec>,
    /// Elastic IPs to allocate, by name.
    #[serde(default)]
    pub(crate) elastic_ips: Vec<ElasticIpSpec>,
    /// VPC peering connections (accepted unless `accept: false`).
    #[serde(default)]
    pub(crate) peerings: Vec<PeeringSpec>,
    /// Transit gateways, with their attachments and route tables.
    #[serde(default)]
    pub(crate) transit_gateways: Vec<TransitGatewaySpec>,
    /// Instances.
    #[serde(default)]
    pub(crate) instances: Vec<InstanceSpec>,
    /// On-premises sites: a router on the emulated internet and hosts, beside the VPCs.
    #[serde(default)]
    pub(crate) onprem_sites: Vec<SiteSpec>,
}

/// An on-premises site, as the model's [`OnpremSiteSpec`] (which checks it) with places.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteSpec {
    /// Name, unique in the file: `[a-z0-9][a-z0-9-]*`, at most 20 characters.
    pub(crate) name: Spanned<String>,
    /// Its one CIDR...
    pub(crate) cidr: Option<Spanned<String>>,
    /// ...or several.
    #[serde(default)]
    pub(crate) cidrs: Vec<Spanned<String>>,
    /// The router's public address, 198.51.100.2 to .127 (the lowest free from .10 by
    /// default).
    pub(crate) public_ip: Option<Spanned<String>>,
    /// The router's BGP ASN (default 65000).
    pub(crate) asn: Option<Spanned<u64>>,
    /// Hosts on the site's networks.
    #[serde(default)]
    pub(crate) hosts: Vec<SiteHostSpec>,
}

/// A host of a site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteHostSpec {
    /// Name, unique in the site (not `router`): `vpclab exec <site>/<name>`.
    pub(crate) name: Spanned<String>,
    /// Its address (the first free from the tenth of the site's first CIDR by default).
    pub(crate) ip: Option<Spanned<String>>,
}

impl SiteSpec {
    /// The CIDRs as given, `cidr` or `cidrs` (not both).
    fn cidr_values(&self) -> Result<Vec<&Spanned<String>>, TopologyError> {
        match (&self.cidr, self.cidrs.as_slice()) {
            (Some(cidr), []) => Ok(vec![cidr]),
            (Some(cidr), _) => Err(at(cidr, "give `cidr` or `cidrs`, not both")),
            (None, cidrs) => Ok(cidrs.iter().collect()),
        }
    }

    /// The model's spec: text parsed, nothing checked (the model does that).
    fn spec(&self) -> Result<OnpremSiteSpec, TopologyError> {
        let cidrs = self.cidr_values()?;
        let cidrs = cidrs
            .iter()
            .map(|c| vpclab_model::parse_site_cidr(&c.value).map_err(api(c)))
            .collect::<Result<_, _>>()?;
        let public_ip = self
            .public_ip
            .as_ref()
            .map(|ip| vpclab_model::parse_address(&ip.value, "public address").map_err(api(ip)));
        let mut hosts = Vec::with_capacity(self.hosts.len());
        for host in &self.hosts {
            let ip = host
                .ip
                .as_ref()
                .map(|ip| vpclab_model::parse_address(&ip.value, "host address").map_err(api(ip)));
            hosts.push(OnpremHostSpec { name: host.name.value.clone(), ip: ip.transpose()? });
        }
        Ok(OnpremSiteSpec {
            name: self.name.value.clone(),
            cidrs,
            public_ip: public_ip.transpose()?,
            bgp_asn: self.asn.as_ref().map(|a| a.value),
            hosts,
        })
    }

    /// Where in the file the model's complaint about `field` points.
    fn place(&self, field: SiteField) -> (u64, u64) {
        let of = |s: &Spanned<String>| (s.referenced.line(), s.referenced.column());
        let name = of(&self.name);
        let cidrs = self.cidr_values().unwrap_or_default();
        let host = |i: usize| self.hosts.get(i);
        match field {
            SiteField::Name | SiteField::Cidrs | SiteField::Hosts => name,
            SiteField::Cidr(i) => cidrs.get(i).map_or(name, |c| of(c)),
            SiteField::PublicIp => self.public_ip.as_ref().map_or(name, of),
            SiteField::Asn => {
                self.asn.as_ref().map_or(name, |a| (a.referenced.line(), a.referenced.column()))
            }
            SiteField::HostName(i) => host(i).map_or(name, |h| of(&h.name)),
            SiteField::HostIp(i) => host(i).map_or(name, |h| h.ip.as_ref().map_or(of(&h.name), of)),
        }
    }
}

/// Creates the file's on-premises sites, each checked by the model as `vpclab onprem
/// create` is, the error pointing at the value it is about.
fn onprem_sites(m: &mut Model, topology: &Topology) -> Result<(), TopologyError> {
    for site in &topology.onprem_sites {
        let spec = site.spec()?;
        m.plan_onprem_site(&spec).map_err(|e| {
            let (line, column) = site.place(e.field);
            TopologyError { line, column, message: e.error.to_string() }
        })?;
        m.create_onprem_site(&spec).map_err(api(&site.name))?;
    }
    Ok(())
}

/// A transit gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitGatewaySpec {
    /// Name, unique in the file; VPC routes name it as their target.
    pub(crate) name: Spanned<String>,
    /// `DefaultRouteTableAssociation`: attachments are associated with the default route
    /// table (default true).
    #[serde(default = "yes")]
    pub(crate) default_association: bool,
    /// `DefaultRouteTablePropagation`: attachments propagate into the default route
    /// table (default true).
    #[serde(default = "yes")]
    pub(crate) default_propagation: bool,
    /// `AmazonSideAsn` (default 64512).
    pub(crate) amazon_side_asn: Option<Spanned<u64>>,
    /// VPC attachments.
    #[serde(default)]
    pub(crate) attachments: Vec<AttachmentSpec>,
    /// Peering attachments to other transit gateways of the file (this one requests).
    #[serde(default)]
    pub(crate) peerings: Vec<TgwPeeringSpec>,
    /// Route tables; one named `default` is the default route table.
    #[serde(default)]
    pub(crate) route_tables: Vec<TgwRouteTableSpec>,
}

/// A transit gateway VPC attachment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttachmentSpec {
    /// Name, unique in the file.
    pub(crate) name: Spanned<String>,
    /// The VPC (by name).
    pub(crate) vpc: Spanned<String>,
    /// Its subnets (by name), one per availability zone.
    pub(crate) subnets: Vec<Spanned<String>>,
    /// `ApplianceModeSupport` (default false).
    #[serde(default)]
    pub(crate) appliance_mode: bool,
}

/// A transit gateway peering attachment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TgwPeeringSpec {
    /// Name, unique among the file's attachments; route tables of both transit gateways
    /// name it as a route target.
    pub(crate) name: Spanned<String>,
    /// The other transit gateway (by name).
    pub(crate) peer: Spanned<String>,
    /// Whether the peer accepts (default true); false leaves it `pendingAcceptance`.
    #[serde(default = "yes")]
    pub(crate) accept: bool,
}

/// A transit gateway route table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TgwRouteTableSpec {
    /// Name, unique within the transit gateway; `default` is its default table.
    pub(crate) name: Spanned<String>,
    /// Attachments (by name) whose traffic it routes; one associated with the default
    /// table moves here.
    #[serde(default)]
    pub(crate) associations: Vec<Spanned<String>>,
    /// Attachments (by name) that propagate their VPC's CIDRs into it.
    #[serde(default)]
    pub(crate) propagations: Vec<Spanned<String>>,
    /// Static routes.
    #[serde(default)]
    pub(crate) routes: Vec<RouteEntry>,
}

/// A VPC.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VpcSpec {
    /// Name (the `Name` tag), unique in the file.
    pub(crate) name: Spanned<String>,
    /// Primary IPv4 CIDR.
    pub(crate) cidr: Spanned<String>,
    /// Whether to create and attach an internet gateway.
    #[serde(default)]
    pub(crate) internet_gateway: bool,
    /// Whether to associate an Amazon-provided IPv6 /56 (dual-stack).
    #[serde(default)]
    pub(crate) ipv6: bool,
    /// Whether to create an egress-only internet gateway (IPv6, outbound only).
    #[serde(default)]
    pub(crate) egress_only_internet_gateway: bool,
    /// `enableDnsSupport`: the Amazon DNS server answers (default true).
    #[serde(default = "yes")]
    pub(crate) dns_support: bool,
    /// `enableDnsHostnames`: public DNS names for public instances (default false).
    #[serde(default)]
    pub(crate) dns_hostnames: bool,
    /// Subnets.
    #[serde(default)]
    pub(crate) subnets: Vec<SubnetSpec>,
    /// Route tables; one named `main` adds routes to the VPC's main table.
    #[serde(default)]
    pub(crate) route_tables: Vec<RouteTableSpec>,
    /// NAT gateways.
    #[serde(default)]
    pub(crate) nat_gateways: Vec<NatGatewaySpec>,
    /// Security groups besides the VPC's `default` one.
    #[serde(default)]
    pub(crate) security_groups: Vec<SecurityGroupSpec>,
    /// Custom network ACLs (subnets not named by one keep the default ACL).
    #[serde(default)]
    pub(crate) network_acls: Vec<NetworkAclSpec>,
    /// Gateway endpoints.
    #[serde(default)]
    pub(crate) endpoints: Vec<EndpointSpec>,
}

/// A VPC endpoint: a gateway endpoint (route tables) or an interface endpoint (subnets).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointSpec {
    /// `s3`, `dynamodb`, `ssm`, … or the full service name (`com.amazonaws.us-east-1.s3`).
    pub(crate) service: Spanned<String>,
    /// `gateway` (the default) or `interface`.
    #[serde(rename = "type")]
    pub(crate) kind: Option<Spanned<String>>,
    /// A gateway endpoint's route tables (by name, in this VPC) that get its prefix-list
    /// route.
    #[serde(default)]
    pub(crate) route_tables: Vec<Spanned<String>>,
    /// An interface endpoint's subnets (by name, one per zone).
    #[serde(default)]
    pub(crate) subnets: Vec<Spanned<String>>,
    /// An interface endpoint's security groups (by name, in this VPC); the VPC's
    /// `default` if omitted.
    #[serde(default)]
    pub(crate) security_groups: Vec<Spanned<String>>,
    /// An interface endpoint's private DNS (default: on, as AWS's).
    pub(crate) private_dns: Option<bool>,
}

/// A custom network ACL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkAclSpec {
    /// Name (the `Name` tag).
    pub(crate) name: Spanned<String>,
    /// The subnets that use it.
    #[serde(default)]
    pub(crate) subnets: Vec<Spanned<String>>,
    /// Its rules; none means it denies everything.
    #[serde(default)]
    pub(crate) entries: Vec<AclEntrySpec>,
}

/// A network ACL rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AclEntrySpec {
    /// 1 to 32766; lower numbers are evaluated first.
    pub(crate) rule: Spanned<u16>,
    /// `inbound` or `outbound`.
    pub(crate) direction: Spanned<String>,
    /// `tcp`, `udp`, `icmp`, `all` or a number.
    pub(crate) protocol: Spanned<String>,
    /// Destination port or range (TCP/UDP; all when omitted), ICMP type for ICMP.
    pub(crate) ports: Option<PortsSpec>,
    /// The range: sources inbound, destinations outbound.
    pub(crate) cidr: Spanned<String>,
    /// `allow` or `deny`.
    pub(crate) action: Spanned<String>,
}

/// A security group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecurityGroupSpec {
    /// Name, unique in the VPC (not `default`).
    pub(crate) name: Spanned<String>,
    /// Description.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Inbound rules (none by default).
    #[serde(default)]
    pub(crate) ingress: Vec<RuleSpec>,
    /// Outbound rules; when given they replace the default allow-all.
    pub(crate) egress: Option<Vec<RuleSpec>>,
}

/// A security group rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    /// `tcp`, `udp`, `icmp`, `all` or a protocol number.
    pub(crate) protocol: Spanned<String>,
    /// A port (`22`) or range (`"8000-8080"`) for TCP/UDP; an ICMP type for ICMP.
    pub(crate) ports: Option<PortsSpec>,
    /// The peer range, IPv4 or IPv6...
    pub(crate) cidr: Option<Spanned<String>>,
    /// ...or the peer group, by name in this VPC (`default` included).
    pub(crate) group: Option<Spanned<String>>,
}

/// A port, or a range as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PortsSpec {
    /// One port.
    One(i32),
    /// `from-to`.
    Range(String),
}

/// A NAT gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NatGatewaySpec {
    /// Name, unique in the file; routes name it as their target.
    pub(crate) name: Spanned<String>,
    /// The subnet it lives in (a public one, for a public gateway).
    pub(crate) subnet: Spanned<String>,
    /// `public` (the default) or `private`, as CreateNatGateway's `ConnectivityType`.
    pub(crate) connectivity: Option<Spanned<String>>,
    /// A public gateway's Elastic IP (by name): its flows leave with it.
    pub(crate) elastic_ip: Option<Spanned<String>>,
    /// Its interface's address in the subnet (the lowest free one by default): a
    /// private gateway's flows leave with it.
    pub(crate) private_ip: Option<Spanned<String>>,
    /// Idle timeout in seconds (AWS: 350).
    pub(crate) idle_timeout: Option<u32>,
}

/// A subnet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubnetSpec {
    /// Name, unique in the file.
    pub(crate) name: Spanned<String>,
    /// IPv4 CIDR inside the VPC's; none for an IPv6-only subnet (`ipv6_block` alone).
    pub(crate) cidr: Option<Spanned<String>>,
    /// Availability zone; `us-east-1a` by default.
    pub(crate) zone: Option<Spanned<String>>,
    /// Route table to associate explicitly; the main table otherwise.
    pub(crate) route_table: Option<Spanned<String>>,
    /// MapPublicIpOnLaunch.
    #[serde(default)]
    pub(crate) map_public_ip_on_launch: bool,
    /// Its IPv6 block: which /64 of the VPC's /56, 0 to 255 (the VPC needs `ipv6: true`).
    pub(crate) ipv6_block: Option<Spanned<u16>>,
    /// AssignIpv6AddressOnCreation: every instance launched here gets an IPv6 address.
    #[serde(default)]
    pub(crate) assign_ipv6_address_on_creation: bool,
}

/// A route table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteTableSpec {
    /// Name, unique within the VPC; `main` is the VPC's main table.
    pub(crate) name: Spanned<String>,
    /// Routes besides `local`.
    #[serde(default)]
    pub(crate) routes: Vec<RouteEntry>,
}

/// A route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteEntry {
    /// Destination CIDR, IPv4 or IPv6 (`::/0`).
    pub(crate) destination: Spanned<String>,
    /// In a VPC route table: `internet-gateway` (the VPC's own),
    /// `egress-only-internet-gateway` (IPv6 routes), or the name of a NAT gateway, a
    /// peering, a transit gateway or an instance (its interface: a NAT instance, a
    /// firewall). In a transit gateway route table: an attachment's name, or
    /// `blackhole`.
    pub(crate) target: Spanned<String>,
}

/// A VPC peering connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeeringSpec {
    /// Name, unique in the file; routes name it as their target.
    pub(crate) name: Spanned<String>,
    /// The requesting VPC (by name).
    pub(crate) requester: Spanned<String>,
    /// The accepting VPC (by name).
    pub(crate) accepter: Spanned<String>,
    /// Whether the accepter accepts (default true).
    #[serde(default = "yes")]
    pub(crate) accept: bool,
}

fn yes() -> bool {
    true
}

/// An Elastic IP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElasticIpSpec {
    /// Name, unique in the file.
    pub(crate) name: Spanned<String>,
}

/// An instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstanceSpec {
    /// Name (the `Name` tag), unique in the file: `vpclab exec <name>` finds it.
    pub(crate) name: Spanned<String>,
    /// Subnet name.
    pub(crate) subnet: Spanned<String>,
    /// A chosen private address; the lowest free one otherwise.
    pub(crate) private_ip: Option<Spanned<String>>,
    /// Map a public IP at launch (default: the subnet's `map_public_ip_on_launch`).
    pub(crate) public_ip: Option<bool>,
    /// An Elastic IP (by name) to associate.
    pub(crate) elastic_ip: Option<Spanned<String>>,
    /// Security groups by name (in the instance's VPC); the VPC's `default` if omitted.
    pub(crate) security_groups: Option<Vec<Spanned<String>>>,
    /// Instance metadata service options.
    pub(crate) metadata: Option<MetadataSpec>,
    /// AWS's source/destination check (default true); false for a NAT instance or an
    /// appliance that forwards others' packets.
    #[serde(default = "yes")]
    pub(crate) source_dest_check: bool,
    /// How many IPv6 addresses it gets from its subnet's block (`Ipv6AddressCount`).
    pub(crate) ipv6_address_count: Option<Spanned<u32>>,
}

/// An instance's metadata service options (`InstanceMetadataOptionsRequest`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetadataSpec {
    /// `required` (IMDSv2 only) or `optional` (default).
    pub(crate) http_tokens: Option<Spanned<String>>,
    /// `enabled` (default) or `disabled`.
    pub(crate) http_endpoint: Option<Spanned<String>>,
    /// The token response's IP TTL, 1 to 64 (default 1).
    pub(crate) hop_limit: Option<Spanned<u8>>,
    /// `enabled` or `disabled` (default): the instance's tags in its metadata.
    pub(crate) instance_metadata_tags: Option<Spanned<String>>,
    /// `enabled` or `disabled` (default): the service also at `[fd00:ec2::254]`.
    pub(crate) http_protocol_ipv6: Option<Spanned<String>>,
}

impl MetadataSpec {
    fn options(&self) -> Result<MetadataOptions, TopologyError> {
        let choice =
            |value: &Option<Spanned<String>>, on: &str, off: &str, default: bool| match value {
                None => Ok(default),
                Some(v) if v.value == on => Ok(true),
                Some(v) if v.value == off => Ok(false),
                Some(v) => Err(at(v, format!("expected `{on}` or `{off}`, not {:?}", v.value))),
            };
        let defaults = MetadataOptions::default();
        let hop_limit = match &self.hop_limit {
            Some(h) if !(1..=64).contains(&h.value) => {
                return Err(at(h, "hop_limit must be 1 to 64"));
            }
            Some(h) => h.value,
            None => defaults.hop_limit,
        };
        Ok(MetadataOptions {
            tokens_required: choice(&self.http_tokens, "required", "optional", false)?,
            endpoint_enabled: choice(&self.http_endpoint, "enabled", "disabled", true)?,
            hop_limit,
            tags_enabled: choice(&self.instance_metadata_tags, "enabled", "disabled", false)?,
            protocol_ipv6: choice(&self.http_protocol_ipv6, "enabled", "disabled", false)?,
        })
    }
}

/// An error at a place in the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TopologyError {
    /// 1-based line, 0 when unknown.
    pub(crate) line: u64,
    /// 1-based column, 0 when unknown.
    pub(crate) column: u64,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The YAML parser's own messages already carry the location and a snippet.
        if self.line > 0 && !self.message.starts_with("error: line") {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for TopologyError {}

/// Creates the file's transit gateways, their attachments and route tables (with
/// associations, propagations and static routes). Returns the gateways by name.
fn transit_gateways<'t>(
    m: &mut Model,
    topology: &'t Topology,
    subnets: &BTreeMap<&str, (SubnetId, VpcId)>,
    vpc_by_name: &dyn Fn(&Spanned<String>) -> Result<VpcId, TopologyError>,
) -> Result<BTreeMap<&'t str, TransitGatewayId>, TopologyError> {
    let mut gateways: BTreeMap<&str, TransitGatewayId> = BTreeMap::new();
    let mut attachments: BTreeMap<&str, TgwAttachmentId> = BTreeMap::new();
    for spec in &topology.transit_gateways {
        let name = spec.name.value.as_str();
        if gateways.contains_key(name) {
            return Err(at(&spec.name, format!("a transit gateway named {name:?} already exists")));
        }
        let mut options = TgwOptions {
            default_route_table_association: spec.default_association,
            default_route_table_propagation: spec.default_propagation,
            ..TgwOptions::default()
        };
        if let Some(asn) = &spec.amazon_side_asn {
            options.amazon_side_asn =
                vpclab_model::check_amazon_asn(asn.value).map_err(api(asn))?;
        }
        let tgw = m
            .create_transit_gateway(String::new(), options, name_tag(name), 0)
            .map_err(api(&spec.name))?;
        gateways.insert(name, tgw);
    }
    // Attachments and peerings, before the route tables (of either side) that name them.
    for spec in &topology.transit_gateways {
        let tgw = gateways[spec.name.value.as_str()].clone();
        for attachment in &spec.attachments {
            let attachment_name = attachment.name.value.as_str();
            if attachments.contains_key(attachment_name) {
                return Err(at(
                    &attachment.name,
                    format!("an attachment named {attachment_name:?} already exists"),
                ));
            }
            let vpc = vpc_by_name(&attachment.vpc)?;
            let mut ids = Vec::new();
            for subnet in &attachment.subnets {
                let (id, subnet_vpc) = subnets
                    .get(subnet.value.as_str())
                    .ok_or_else(|| at(subnet, format!("no subnet named {:?}", subnet.value)))?;
                if subnet_vpc != &vpc {
                    return Err(at(subnet, format!("subnet {:?} is in another VPC", subnet.value)));
                }
                ids.push(id.clone());
            }
            let options = VpcAttachmentOptions {
                appliance_mode_support: attachment.appliance_mode,
                ..VpcAttachmentOptions::default()
            };
            let id = m
                .create_tgw_vpc_attachment(&tgw, &vpc, &ids, options, name_tag(attachment_name), 0)
                .map_err(api(&attachment.name))?;
            attachments.insert(attachment_name, id);
        }
        for peering in &spec.peerings {
            let peering_name = peering.name.value.as_str();
            if attachments.contains_key(peering_name) {
                return Err(at(
                    &peering.name,
                    format!("an attachment named {peering_name:?} already exists"),
                ));
            }
            let peer = gateways.get(peering.peer.value.as_str()).ok_or_else(|| {
                at(&peering.peer, format!("no transit gateway named {:?}", peering.peer.value))
            })?;
            let (owner, region) = (vpclab_model::names::OWNER_ID.to_owned(), REGION.to_owned());
            let id = m
                .create_tgw_peering_attachment(&tgw, peer, owner, region, name_tag(peering_name), 0)
                .map_err(api(&peering.name))?;
            if peering.accept {
                m.answer_tgw_peering(&id, true).map_err(api(&peering.name))?;
            }
            attachments.insert(peering_name, id);
        }
    }
    // Route tables, with their associations, propagations and static routes.
    for spec in &topology.transit_gateways {
        let (name, tgw) = (spec.name.value.as_str(), gateways[spec.name.value.as_str()].clone());
        let default = m.transit_gateway(&tgw).map_err(api(&spec.name))?.options.clone();
        let mut tables: BTreeMap<&str, ()> = BTreeMap::new();
        for table in &spec.route_tables {
            let table_name = table.name.value.as_str();
            if tables.insert(table_name, ()).is_some() {
                return Err(at(
                    &table.name,
                    format!("a route table named {table_name:?} already exists in {name:?}"),
                ));
            }
            let id = if table_name == "default" {
                default.association_default_route_table.clone().ok_or_else(|| {
                    at(&table.name, "this transit gateway has no default route table")
                })?
            } else {
                m.create_tgw_route_table(&tgw, name_tag(table_name), 0).map_err(api(&table.name))?
            };
            let attachment = |name: &Spanned<String>| {
                attachments
                    .get(name.value.as_str())
                    .cloned()
                    .ok_or_else(|| at(name, format!("no attachment named {:?}", name.value)))
            };
            for association in &table.associations {
                let a = attachment(association)?;
                // On this gateway's side (a peering has one association per side).
                let current = |m: &Model| {
                    m.tgw_attachment(&a).ok().and_then(|a| a.association_in(&tgw).cloned())
                };
                if let Some(old) = current(m).filter(|c| c != &id) {
                    m.disassociate_tgw_route_table(&old, &a).map_err(api(association))?;
                }
                if current(m).is_none() {
                    m.associate_tgw_route_table(&id, &a).map_err(api(association))?;
                }
            }
            for propagation in &table.propagations {
                let a = attachment(propagation)?;
                let already = m.tgw_route_table(&id).is_ok_and(|t| t.propagations.contains(&a));
                if !already {
                    m.enable_tgw_propagation(&id, &a).map_err(api(propagation))?;
                }
            }
            for route in &table.routes {
                let target = match route.target.value.trim() {
                    "blackhole" => None,
                    _ => Some(attachment(&route.target)?),
                };
                m.put_tgw_route(&id, cidr(&route.destination)?, target.as_ref(), false)
                    .map_err(api(&route.target))?;
            }
        }
    }
    Ok(gateways)
}

fn at<T>(spanned: &Spanned<T>, message: impl Into<String>) -> TopologyError {
    TopologyError {
        line: spanned.referenced.line(),
        column: spanned.referenced.column(),
        message: message.into(),
    }
}

fn api<T>(spanned: &Spanned<T>) -> impl FnOnce(ApiError) -> TopologyError + '_ {
    move |e| at(spanned, e.to_string())
}

/// A refused subnet, pointed at its zone when the zone is what was invalid, else at
/// `block` (its IPv4 CIDR, or the IPv6 block of an IPv6-only one).
fn subnet_error<'a, T>(
    zone: &'a Option<Spanned<String>>,
    block: &'a Spanned<T>,
) -> impl FnOnce(ApiError) -> TopologyError + 'a {
    move |e| match (zone, e.code) {
        (Some(z), "InvalidParameterValue") => at(z, e.to_string()),
        _ => at(block, e.to_string()),
    }
}

/// An IPv4 address a file gives (an instance's or a NAT gateway's).
fn address(ip: &Spanned<String>) -> Result<Ipv4Addr, TopologyError> {
    ip.value.trim().parse().map_err(|_| {
        at(ip, format!("InvalidParameterValue: {:?} is not an IPv4 address", ip.value))
    })
}

fn name_tag(name: &str) -> Tags {
    let mut tags = Tags::new();
    tags.insert("Name".to_owned(), name.to_owned());
    tags
}

fn cidr(spanned: &Spanned<String>) -> Result<Ipv4Net, TopologyError> {
    spanned.value.trim().parse().map_err(|_| not_a_cidr(spanned))
}

/// An IPv4 or IPv6 CIDR (its host bits cleared).
fn any_cidr(spanned: &Spanned<String>) -> Result<IpNet, TopologyError> {
    spanned.value.trim().parse::<IpNet>().map(|c| c.trunc()).map_err(|_| not_a_cidr(spanned))
}

/// AWS's error for a value that is not a CIDR block, at the value.
fn not_a_cidr(spanned: &Spanned<String>) -> TopologyError {
    at(
        spanned,
        format!(
            "InvalidParameterValue: Value ({}) for parameter cidrBlock is invalid. This is not a \
             valid CIDR block.",
            spanned.value
        ),
    )
}

/// Adds `route`'s destination to `table`, the IPv4 or the IPv6 list by its family.
fn add_route(
    m: &mut Model,
    table: &RouteTableId,
    route: &RouteEntry,
    target: RouteTarget,
) -> Result<(), TopologyError> {
    match any_cidr(&route.destination)? {
        IpNet::V4(destination) => m.create_route(table, RouteSpec { destination, target }),
        IpNet::V6(destination) => m.create_ipv6_route(table, RouteSpec { destination, target }),
    }
    .map_err(api(&route.target))
}

/// A rule of the file as the model's.
fn sg_rule(
    rule: &RuleSpec,
    vpc: &VpcId,
    groups: &BTreeMap<(VpcId, String), SecurityGroupId>,
) -> Result<SgRule, TopologyError> {
    let protocol = Protocol::parse(&rule.protocol.value).map_err(api(&rule.protocol))?;
    let (from_port, to_port) = match (&rule.ports, protocol) {
        (_, Protocol::All) => (-1, -1),
        (None, Protocol::Icmp | Protocol::Icmpv6) => (-1, -1),
        (Some(PortsSpec::One(icmp_type)), Protocol::Icmp | Protocol::Icmpv6) => (*icmp_type, -1),
        (None, Protocol::Tcp | Protocol::Udp) => (0, 65535),
        (None, _) => (-1, -1),
        (Some(PortsSpec::One(port)), _) => (*port, *port),
        (Some(PortsSpec::Range(text)), _) => {
            let parsed = text
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
            parsed.ok_or_else(|| {
                at(
                    &rule.protocol,
                    format!("ports {text:?}: expected a port or a range like \"8000-8080\""),
                )
            })?
        }
    };
    let peer = match (&rule.cidr, &rule.group) {
        (Some(cidr_text), None) => match any_cidr(cidr_text)? {
            IpNet::V4(c) => Peer::Cidr(c),
            IpNet::V6(c) => Peer::Cidr6(c),
        },
        (None, Some(group)) => Peer::Group(
            groups
                .get(&(vpc.clone(), group.value.clone()))
                .ok_or_else(|| {
                    at(group, format!("no security group named {:?} in this VPC", group.value))
                })?
                .clone(),
        ),
        _ => return Err(at(&rule.protocol, "a rule needs exactly one of `cidr` and `group`")),
    };
    // The model's own constructor checks the rule, as it does for the API.
    SgRule::new(protocol, from_port, to_port, peer, None).map_err(api(&rule.protocol))
}

/// An ACL rule of the file as the model's.
fn acl_entry(e: &AclEntrySpec) -> Result<vpclab_model::AclEntry, TopologyError> {
    let protocol = Protocol::parse(&e.protocol.value).map_err(api(&e.protocol))?;
    let egress = match e.direction.value.as_str() {
        "inbound" | "ingress" => false,
        "outbound" | "egress" => true,
        other => {
            return Err(at(
                &e.direction,
                format!("direction {other:?}: expected `inbound` or `outbound`"),
            ));
        }
    };
    let allow = match e.action.value.as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(at(&e.action, format!("action {other:?}: expected `allow` or `deny`")));
        }
    };
    let (ports, icmp) = match (&e.ports, protocol) {
        // A file's TCP or UDP entry without ports covers them all.
        (None, Protocol::Tcp | Protocol::Udp) => (Some((0, 65535)), None),
        (None, _) => (None, None),
        (Some(PortsSpec::One(t)), Protocol::Icmp | Protocol::Icmpv6) => {
            (None, Some((i64::from(*t), -1)))
        }
        (Some(PortsSpec::One(p)), _) => (Some((i64::from(*p), i64::from(*p))), None),
        (Some(PortsSpec::Range(text)), _) => {
            let parsed = text
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
            (
                Some(parsed.ok_or_else(|| {
                    at(&e.protocol, format!("ports {text:?}: expected a port or a range"))
                })?),
                None,
            )
        }
    };
    // The model's own constructor checks the entry, as it does for the API.
    let rule = i64::from(e.rule.value);
    vpclab_model::AclEntry::new(rule, egress, protocol, allow, any_cidr(&e.cidr)?, ports, icmp)
        .map_err(api(&e.rule))
}

/// Parses a topology file's text.
pub(crate) fn parse(text: &str) -> Result<Topology, TopologyError> {
    serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        TopologyError { line, column, message: e.to_string() }
    })
}

/// The model a topology describes, built with `seed` for its ids.
pub(crate) fn build(topology: &Topology, seed: u64) -> Result<Model, TopologyError> {
    let mut m = Model::new(seed);
    let mut subnets: BTreeMap<&str, (SubnetId, VpcId)> = BTreeMap::new();
    let mut vpcs: Vec<(VpcId, Option<InternetGatewayId>)> = Vec::new();
    let mut vpc_names: BTreeMap<&str, ()> = BTreeMap::new();
    let mut egress_only: BTreeMap<VpcId, vpclab_model::EgressOnlyInternetGatewayId> =
        BTreeMap::new();

    // VPCs, their gateways and subnets first: everything else refers to them.
    for vpc in &topology.vpcs {
        if vpc_names.insert(&vpc.name.value, ()).is_some() {
            return Err(at(&vpc.name, format!("a VPC named {:?} already exists", vpc.name.value)));
        }
        let vpc_id =
            m.create_vpc(cidr(&vpc.cidr)?, name_tag(&vpc.name.value)).map_err(api(&vpc.cidr))?;
        if !vpc.dns_support {
            m.set_vpc_dns(&vpc_id, Some(false), None).expect("a new VPC");
        }
        if vpc.dns_hostnames {
            m.set_vpc_dns(&vpc_id, None, Some(true)).expect("a new VPC");
        }
        let igw: Option<InternetGatewayId> = vpc.internet_gateway.then(|| {
            let igw = m.create_internet_gateway(name_tag(&format!("{}-igw", vpc.name.value)));
            m.attach_internet_gateway(&igw, &vpc_id).expect("a new gateway attaches to a new VPC");
            igw
        });
        let block: Option<Ipv6Net> = match vpc.ipv6 {
            true => Some(m.associate_vpc_ipv6(&vpc_id).map_err(api(&vpc.name))?.1),
            false => None,
        };
        if vpc.egress_only_internet_gateway {
            let tags = name_tag(&format!("{}-eigw", vpc.name.value));
            let eigw = m.create_egress_only_gateway(&vpc_id, tags).map_err(api(&vpc.name))?;
            egress_only.insert(vpc_id.clone(), eigw);
        }
        for subnet in &vpc.subnets {
            let name = subnet.name.value.as_str();
            if subnets.contains_key(name) {
                return Err(at(&subnet.name, format!("a subnet named {name:?} already exists")));
            }
            let zone = subnet.zone.as_ref().map(|z| z.value.as_str());
            // Its IPv6 /64, by index in the VPC's /56.
            let six = |index: &Spanned<u16>| {
                let block = block.ok_or_else(|| {
                    at(index, "the VPC has no IPv6 block (set `ipv6: true` on the VPC)")
                })?;
                if index.value > 255 {
                    return Err(at(index, "ipv6_block is a /64 of the VPC's /56: 0 to 255"));
                }
                let network = u128::from(block.network()) | u128::from(index.value) << 64;
                Ok(Ipv6Net::new(Ipv6Addr::from(network), 64).expect("a /64"))
            };
            let id = match (&subnet.cidr, &subnet.ipv6_block) {
                (Some(cidr_text), ipv6) => {
                    let id = m
                        .create_subnet(&vpc_id, cidr(cidr_text)?, zone, name_tag(name))
                        .map_err(subnet_error(&subnet.zone, cidr_text))?;
                    if let Some(index) = ipv6 {
                        m.associate_subnet_ipv6(&id, six(index)?).map_err(api(index))?;
                    }
                    id
                }
                (None, Some(index)) => m
                    .create_ipv6_native_subnet(&vpc_id, six(index)?, zone, name_tag(name))
                    .map_err(subnet_error(&subnet.zone, index))?,
                (None, None) => {
                    return Err(at(
                        &subnet.name,
                        "a subnet needs a `cidr`, or an `ipv6_block` alone for an IPv6-only \
                         subnet",
                    ));
                }
            };
            if subnet.map_public_ip_on_launch {
                m.set_map_public_ip_on_launch(&id, true).map_err(api(&subnet.name))?;
            }
            if subnet.assign_ipv6_address_on_creation {
                m.set_assign_ipv6_on_creation(&id, true).map_err(api(&subnet.name))?;
            }
            subnets.insert(name, (id, vpc_id.clone()));
        }
        vpcs.push((vpc_id, igw));
    }

    // Security groups: all created first, so rules can name any of them.
    let mut groups: BTreeMap<(VpcId, String), SecurityGroupId> = BTreeMap::new();
    for (vpc, (vpc_id, _)) in topology.vpcs.iter().zip(&vpcs) {
        if let Some(default) = m.vpc(vpc_id).ok().and_then(|v| v.default_security_group.clone()) {
            groups.insert((vpc_id.clone(), "default".to_owned()), default);
        }
        for group in &vpc.security_groups {
            let description = group.description.clone().unwrap_or_else(|| group.name.value.clone());
            let id = m
                .create_security_group(
                    vpc_id,
                    &group.name.value,
                    &description,
                    name_tag(&group.name.value),
                )
                .map_err(api(&group.name))?;
            groups.insert((vpc_id.clone(), group.name.value.clone()), id);
        }
    }
    for (vpc, (vpc_id, _)) in topology.vpcs.iter().zip(&vpcs) {
        for group in &vpc.security_groups {
            let id = groups[&(vpc_id.clone(), group.name.value.clone())].clone();
            let ingress = group
                .ingress
                .iter()
                .map(|r| sg_rule(r, vpc_id, &groups))
                .collect::<Result<Vec<_>, _>>()?;
            m.authorize(&id, false, ingress).map_err(api(&group.name))?;
            if let Some(egress) = &group.egress {
                let defaults = m.security_group(&id).map_err(api(&group.name))?.egress.clone();
                m.revoke(&id, true, &defaults).map_err(api(&group.name))?;
                let egress = egress
                    .iter()
                    .map(|r| sg_rule(r, vpc_id, &groups))
                    .collect::<Result<Vec<_>, _>>()?;
                m.authorize(&id, true, egress).map_err(api(&group.name))?;
            }
        }
    }

    // Custom network ACLs and their subnets.
    for (vpc, (vpc_id, _)) in topology.vpcs.iter().zip(&vpcs) {
        for acl in &vpc.network_acls {
            let id =
                m.create_network_acl(vpc_id, name_tag(&acl.name.value)).map_err(api(&acl.name))?;
            for e in &acl.entries {
                let entry = acl_entry(e)?;
                m.create_network_acl_entry(&id, entry).map_err(api(&e.rule))?;
            }
            for subnet in &acl.subnets {
                let (subnet_id, subnet_vpc) = subnets
                    .get(subnet.value.as_str())
                    .ok_or_else(|| at(subnet, format!("no subnet named {:?}", subnet.value)))?;
                if subnet_vpc != vpc_id {
                    return Err(at(subnet, format!("subnet {:?} is in another VPC", subnet.value)));
                }
                let association = m
                    .network_acl_of(subnet_id)
                    .and_then(|a| a.associations.iter().find(|(_, s)| s == subnet_id))
                    .map(|(assoc, _)| assoc.clone())
                    .ok_or_else(|| at(subnet, "the subnet has no network ACL association"))?;
                m.replace_network_acl_association(&association, &id).map_err(api(subnet))?;
            }
        }
    }

    let mut eips: BTreeMap<&str, (AllocationId, bool)> = BTreeMap::new();
    for eip in &topology.elastic_ips {
        if eips.contains_key(eip.name.value.as_str()) {
            return Err(at(
                &eip.name,
                format!("an Elastic IP named {:?} already exists", eip.name.value),
            ));
        }
        let id = m.allocate_address(name_tag(&eip.name.value)).map_err(api(&eip.name))?;
        eips.insert(&eip.name.value, (id, false));
    }
    let mut take_eip = |eip: &Spanned<String>| -> Result<AllocationId, TopologyError> {
        let (allocation, used) = eips
            .get_mut(eip.value.as_str())
            .ok_or_else(|| at(eip, format!("no Elastic IP named {:?}", eip.value)))?;
        if *used {
            return Err(at(eip, format!("Elastic IP {:?} is already associated", eip.value)));
        }
        *used = true;
        Ok(allocation.clone())
    };

    // Peerings, before the route tables that name them.
    let mut peerings: BTreeMap<&str, vpclab_model::VpcPeeringConnectionId> = BTreeMap::new();
    let vpc_by_name = |name: &Spanned<String>| -> Result<VpcId, TopologyError> {
        topology
            .vpcs
            .iter()
            .zip(&vpcs)
            .find(|(v, _)| v.name.value == name.value)
            .map(|(_, (id, _))| id.clone())
            .ok_or_else(|| at(name, format!("no VPC named {:?}", name.value)))
    };
    for peering in &topology.peerings {
        if peerings.contains_key(peering.name.value.as_str()) {
            return Err(at(
                &peering.name,
                format!("a peering named {:?} already exists", peering.name.value),
            ));
        }
        let (requester, accepter) =
            (vpc_by_name(&peering.requester)?, vpc_by_name(&peering.accepter)?);
        let id = m
            .create_vpc_peering_connection(&requester, &accepter, name_tag(&peering.name.value))
            .map_err(api(&peering.name))?;
        if peering.accept
            && m.peering_connection(&id).map_err(api(&peering.name))?.status
                == vpclab_model::PeeringStatus::PendingAcceptance
        {
            m.accept_vpc_peering_connection(&id).map_err(api(&peering.name))?;
        }
        peerings.insert(&peering.name.value, id);
    }

    // Transit gateways and their attachments, before the VPC routes that name them.
    let transit_gateways = transit_gateways(&mut m, topology, &subnets, &vpc_by_name)?;

    // NAT gateways, then the route tables that may send traffic to them.
    let mut nat_names: BTreeMap<&str, (NatGatewayId, VpcId)> = BTreeMap::new();
    for (vpc, (vpc_id, _)) in topology.vpcs.iter().zip(&vpcs) {
        for nat in &vpc.nat_gateways {
            let name = nat.name.value.as_str();
            if nat_names.contains_key(name) {
                return Err(at(&nat.name, format!("a NAT gateway named {name:?} already exists")));
            }
            let (subnet, subnet_vpc) = subnets.get(nat.subnet.value.as_str()).ok_or_else(|| {
                at(&nat.subnet, format!("no subnet named {:?}", nat.subnet.value))
            })?;
            if subnet_vpc != vpc_id {
                return Err(at(
                    &nat.subnet,
                    format!("subnet {:?} is in another VPC", nat.subnet.value),
                ));
            }
            let allocation = nat.elastic_ip.as_ref().map(&mut take_eip).transpose()?;
            let kind = nat.connectivity.as_ref().map(|c| c.value.as_str());
            let spec = vpclab_model::NatGatewaySpec {
                subnet: subnet.clone(),
                connectivity: vpclab_model::NatConnectivity::new(kind, allocation)
                    .map_err(api(&nat.name))?,
                private_ip: nat.private_ip.as_ref().map(address).transpose()?,
                idle_timeout_s: nat.idle_timeout,
            };
            let id = m.create_nat_gateway(spec, name_tag(name), 0).map_err(api(&nat.name))?;
            if let Some(failure) = &m.nat_gateway(&id).map_err(api(&nat.name))?.failure {
                // What AWS would create and fail is a mistake in a file.
                return Err(at(&nat.name, format!("{} ({})", failure.message, failure.code)));
            }
            nat_names.insert(name, (id, vpc_id.clone()));
        }
    }

    // Routes to instances wait for the instances.
    let mut to_instances: Vec<(RouteTableId, &RouteEntry)> = Vec::new();
    let instance_named = |name: &str| topology.instances.iter().any(|i| i.name.value == name);
    for (vpc, (vpc_id, igw)) in topology.vpcs.iter().zip(&vpcs) {
        let mut tables: BTreeMap<&str, RouteTableId> = BTreeMap::new();
        for table in &vpc.route_tables {
            let name = table.name.value.as_str();
            if tables.contains_key(name) {
                return Err(at(
                    &table.name,
                    format!("a route table named {name:?} already exists in this VPC"),
                ));
            }
            let id = if name == "main" {
                m.vpc(vpc_id).map_err(api(&table.name))?.main_route_table.clone()
            } else {
                m.create_route_table(vpc_id, name_tag(name)).map_err(api(&table.name))?
            };
            for route in &table.routes {
                let target = route.target.value.trim();
                if instance_named(target) {
                    let gateway = matches!(target, "internet-gateway" | "igw")
                        || nat_names.contains_key(target)
                        || peerings.contains_key(target)
                        || transit_gateways.contains_key(target);
                    if gateway {
                        return Err(at(
                            &route.target,
                            format!(
                                "route target {target:?} names both an instance and a gateway \
                                 or peering: rename one"
                            ),
                        ));
                    }
                    to_instances.push((id.clone(), route));
                    continue;
                }
                let target = match route.target.value.trim() {
                    "internet-gateway" | "igw" => {
                        RouteTarget::Gateway(igw.clone().ok_or_else(|| {
                            at(
                                &route.target,
                                "this VPC has no internet gateway (set `internet_gateway: true`)",
                            )
                        })?)
                    }
                    "egress-only-internet-gateway" | "eigw" => RouteTarget::EgressOnlyGateway(
                        egress_only.get(vpc_id).cloned().ok_or_else(|| {
                            at(
                                &route.target,
                                "this VPC has no egress-only internet gateway (set \
                                     `egress_only_internet_gateway: true`)",
                            )
                        })?,
                    ),
                    other => match (
                        nat_names.get(other),
                        peerings.get(other),
                        transit_gateways.get(other),
                    ) {
                        (Some((nat, _)), _, _) => RouteTarget::NatGateway(nat.clone()),
                        (None, Some(pcx), _) => RouteTarget::Peering(pcx.clone()),
                        (None, None, Some(tgw)) => RouteTarget::TransitGateway(tgw.clone()),
                        (None, None, None) => {
                            return Err(at(
                                &route.target,
                                format!(
                                    "unknown route target {other:?}: expected `internet-gateway`, \
                                     `egress-only-internet-gateway`, or the name of a NAT \
                                     gateway, a peering, a transit gateway or an instance"
                                ),
                            ));
                        }
                    },
                };
                add_route(&mut m, &id, route, target)?;
            }
            tables.insert(name, id);
        }
        for subnet in &vpc.subnets {
            let Some(table) = &subnet.route_table else { continue };
            let table_id = tables.get(table.value.as_str()).ok_or_else(|| {
                at(table, format!("no route table named {:?} in this VPC", table.value))
            })?;
            if table.value != "main" {
                let (subnet_id, _) = &subnets[subnet.name.value.as_str()];
                m.associate_route_table(table_id, subnet_id).map_err(api(table))?;
            }
        }
        for endpoint in &vpc.endpoints {
            let mut route_tables = Vec::new();
            for table in &endpoint.route_tables {
                let id = match tables.get(table.value.as_str()) {
                    Some(id) => id.clone(),
                    None if table.value == "main" => {
                        m.vpc(vpc_id).map_err(api(table))?.main_route_table.clone()
                    }
                    None => {
                        return Err(at(
                            table,
                            format!("no route table named {:?} in this VPC", table.value),
                        ));
                    }
                };
                route_tables.push(id);
            }
            let service = match endpoint.service.value.trim() {
                full if full.starts_with("com.amazonaws.") => full.to_owned(),
                short => format!("com.amazonaws.{REGION}.{short}"),
            };
            let interface = match endpoint.kind.as_ref().map(|k| k.value.trim()) {
                None | Some("gateway") => false,
                Some("interface") => true,
                Some(other) => {
                    let kind = endpoint.kind.as_ref().expect("given");
                    return Err(at(
                        kind,
                        format!("expected `gateway` or `interface`, not {other:?}"),
                    ));
                }
            };
            if !interface {
                if let Some(extra) = endpoint.subnets.first().or(endpoint.security_groups.first()) {
                    return Err(at(extra, "subnets and security groups are for `type: interface`"));
                }
                m.create_vpc_endpoint(vpc_id, &service, &route_tables, Tags::new(), 0)
                    .map_err(api(&endpoint.service))?;
                continue;
            }
            if let Some(table) = endpoint.route_tables.first() {
                return Err(at(table, "route tables are for gateway endpoints"));
            }
            let mut endpoint_subnets = Vec::new();
            for subnet in &endpoint.subnets {
                let (id, subnet_vpc) = subnets
                    .get(subnet.value.as_str())
                    .ok_or_else(|| at(subnet, format!("no subnet named {:?}", subnet.value)))?;
                if subnet_vpc != vpc_id {
                    return Err(at(subnet, format!("subnet {:?} is in another VPC", subnet.value)));
                }
                endpoint_subnets.push(id.clone());
            }
            let mut endpoint_groups = Vec::new();
            for name in &endpoint.security_groups {
                let id = groups.get(&(vpc_id.clone(), name.value.clone())).ok_or_else(|| {
                    at(name, format!("no security group named {:?} in this VPC", name.value))
                })?;
                endpoint_groups.push(id.clone());
            }
            m.create_interface_endpoint(
                vpc_id,
                &service,
                &endpoint_subnets,
                &endpoint_groups,
                endpoint.private_dns,
                Tags::new(),
                0,
            )
            .map_err(api(&endpoint.service))?;
        }
    }

    let mut instance_names: BTreeMap<&str, ()> = BTreeMap::new();
    for instance in &topology.instances {
        let name = instance.name.value.as_str();
        if instance_names.insert(name, ()).is_some() {
            return Err(at(&instance.name, format!("an instance named {name:?} already exists")));
        }
        let (subnet, subnet_vpc) =
            subnets.get(instance.subnet.value.as_str()).ok_or_else(|| {
                at(&instance.subnet, format!("no subnet named {:?}", instance.subnet.value))
            })?;
        let mut security_groups = Vec::new();
        for name in instance.security_groups.iter().flatten() {
            let id = groups.get(&(subnet_vpc.clone(), name.value.clone())).ok_or_else(|| {
                at(name, format!("no security group named {:?} in the instance's VPC", name.value))
            })?;
            security_groups.push(id.clone());
        }
        let private_ip = instance.private_ip.as_ref().map(address).transpose()?;
        let spec = RunInstance {
            subnet: Some(subnet.clone()),
            private_ip,
            // An Elastic IP replaces any auto-assigned address; don't take one from the pool.
            public_ip: if instance.elastic_ip.is_some() { Some(false) } else { instance.public_ip },
            image_id: "ami-vpclab".to_owned(),
            security_groups,
            instance_type: "t3.micro".to_owned(),
            tags: name_tag(name),
            metadata: match &instance.metadata {
                Some(spec) => spec.options()?,
                None => MetadataOptions::default(),
            },
            ipv6: match &instance.ipv6_address_count {
                Some(count) => vpclab_model::Ipv6Request::Count(count.value),
                None => vpclab_model::Ipv6Request::SubnetDefault,
            },
            ..RunInstance::default()
        };
        let place = instance.private_ip.as_ref().unwrap_or(&instance.subnet);
        let id = m.run_instance(spec).map_err(api(place))?;
        if let Some(eip) = &instance.elastic_ip {
            let allocation = take_eip(eip)?;
            m.associate_address(&allocation, &id, false).map_err(api(eip))?;
        }
        if !instance.source_dest_check {
            m.set_source_dest_check(&id, false).map_err(api(&instance.name))?;
        }
    }
    for (table, route) in to_instances {
        let instance = m.find_instance(route.target.value.trim()).map(|i| i.id.clone());
        let instance = instance.ok_or_else(|| at(&route.target, "no such instance"))?;
        let eni = m.instance_interface(&instance).map_err(api(&route.target))?;
        add_route(&mut m, &table, route, RouteTarget::NetworkInterface(eni))?;
    }
    onprem_sites(&mut m, topology)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_build(text: &str) -> Result<Model, TopologyError> {
        build(&parse(text)?, 1)
    }

    #[test]
    fn the_example_builds() {
        let text = include_str!("../../../examples/two-tier.yaml");
        let m = try_build(text).unwrap();
        assert_eq!(m.vpcs().count(), 2);
        assert_eq!(m.instances().count(), 4);
        let web = m.find_instance("web").unwrap();
        assert!(web.public_ip.is_some());
        assert!(m.find_instance("app").unwrap().public_ip.is_none());
    }

    #[test]
    fn the_dual_stack_example_builds_with_ipv6_everywhere_it_names() {
        let m = try_build(include_str!("../../../examples/dual-stack.yaml")).unwrap();
        let vpc = m.vpcs().next().unwrap();
        let block = vpc.ipv6_cidrs().next().expect("an Amazon-provided block");
        let named = |tags: &Tags, name: &str| tags.get("Name").is_some_and(|n| n == name);
        let subnet = |name: &str| m.subnets().find(|s| named(&s.tags, name)).unwrap();
        let public = subnet("public").ipv6_cidr().expect("the public subnet's /64");
        assert!(block.contains(&public) && public.prefix_len() == 64);
        assert_eq!(u128::from(public.network()) >> 64 & 0xff, 1, "its /64 number 1");
        let web = m.find_instance("web").unwrap();
        assert_eq!(web.ipv6_addresses.len(), 1, "assigned on creation");
        assert!(public.contains(&web.ipv6_addresses[0]));
        let private_table = m.route_tables().find(|t| named(&t.tags, "private")).unwrap();
        assert!(
            private_table
                .ipv6_routes
                .iter()
                .any(|r| matches!(r.target, RouteTarget::EgressOnlyGateway(_)))
        );
        let group = m.security_groups().find(|g| g.name == "web").unwrap();
        assert!(
            group.ingress.iter().any(|r| r.peer == Peer::Cidr6("::/0".parse().unwrap())
                && r.protocol == Protocol::Icmpv6)
        );
    }

    #[test]
    fn ipv6_mistakes_are_pointed_at() {
        let base = "vpcs:\n  - name: v\n    cidr: 10.0.0.0/16\n    subnets:\n      - name: s\n        cidr: 10.0.1.0/24\n        ipv6_block: 3\n";
        let err = try_build(base).unwrap_err().to_string();
        assert!(err.contains("ipv6: true") && err.contains("line 7"), "{err}");
        let big = base
            .replace("    subnets:", "    ipv6: true\n    subnets:")
            .replace("ipv6_block: 3", "ipv6_block: 300");
        let err = try_build(&big).unwrap_err().to_string();
        assert!(err.contains("0 to 255"), "{err}");
        let eigw = "vpcs:\n  - name: v\n    cidr: 10.0.0.0/16\n    ipv6: true\n    route_tables:\n      - name: t\n        routes:\n          - { destination: \"::/0\", target: egress-only-internet-gateway }\n";
        let err = try_build(eigw).unwrap_err().to_string();
        assert!(err.contains("egress_only_internet_gateway: true"), "{err}");
        // An IPv6 route to an IPv4-only target family is the model's to refuse, as the
        // API's: an egress-only gateway takes no IPv4 route.
        let v4 = eigw.replace("::/0", "0.0.0.0/0").replace(
            "    ipv6: true\n",
            "    ipv6: true\n    egress_only_internet_gateway: true\n",
        );
        assert!(try_build(&v4).is_err());
    }

    #[test]
    fn a_subnet_without_a_cidr_is_ipv6_only() {
        let yaml = "vpcs:\n  - name: v\n    cidr: 10.0.0.0/16\n    ipv6: true\n    subnets:\n      - name: only\n        ipv6_block: 3\ninstances:\n  - name: i\n    subnet: only\n";
        let m = try_build(yaml).unwrap();
        let subnet = m.subnets().next().unwrap();
        assert!(subnet.ipv6_native() && subnet.ipv6_cidr().is_some(), "{subnet:?}");
        let i = m.find_instance("i").unwrap();
        assert_eq!((i.private_ip, i.ipv6_addresses.len()), (None, 1));
        // Neither block: pointed at the subnet's name.
        let err = try_build(&yaml.replace("        ipv6_block: 3\n", "")).unwrap_err().to_string();
        assert!(err.contains("an `ipv6_block` alone") && err.contains("line 6"), "{err}");
        // An address an IPv6-only subnet cannot give: the model's error, at the instance.
        let ipv4 = format!("{yaml}    private_ip: 10.0.3.10\n");
        assert!(try_build(&ipv4).unwrap_err().to_string().contains("IPv6-only"));
    }

    #[test]
    fn the_nat_example_builds() {
        let m = try_build(include_str!("../../../examples/nat-gateway.yaml")).unwrap();
        let nat = m.nat_gateways().next().expect("a NAT gateway");
        assert_eq!(nat.idle_timeout_s, 350);
        let app = m.find_instance("app").unwrap();
        assert!(app.public_ip.is_none());
        let table = m.route_table_of(&app.subnet).unwrap();
        assert!(
            table
                .routes
                .iter()
                .any(|r| r.target == vpclab_model::RouteTarget::NatGateway(nat.id.clone()))
        );
    }

    #[test]
    fn transit_gateways_and_middleboxes_build_and_their_mistakes_are_pointed_at() {
        let hub = include_str!("../../../examples/transit-gateway.yaml");
        let m = try_build(hub).unwrap();
        assert_eq!(m.tgw_attachments().count(), 3);
        assert_eq!(m.tgw_route_tables().count(), 2, "no default table when both are off");
        let spokes = m.tgw_route_tables().find(|t| t.tags["Name"] == "spokes").unwrap();
        let routes = m.tgw_routes(spokes);
        let destinations: Vec<String> = routes.iter().map(|r| r.destination.to_string()).collect();
        assert_eq!(destinations, ["10.3.0.0/16", "10.3.9.0/24"], "shared's CIDR, the blackhole");
        for (from, to, said) in [
            ("subnets: [dev-a]", "subnets: [prod-a]", "in another VPC"),
            (
                "associations: [prod-att, dev-att]",
                "associations: [prod-att, nope]",
                "no attachment",
            ),
            ("target: blackhole", "target: nowhere", "no attachment named"),
            ("- { name: dev-att, vpc: dev", "- { name: prod-att, vpc: dev", "already exists"),
        ] {
            let err = try_build(&hub.replace(from, to)).unwrap_err();
            assert!(err.message.contains(said), "{to}: {err}");
        }

        let m = try_build(include_str!("../../../examples/inspection.yaml")).unwrap();
        let firewall = m.find_instance("firewall").unwrap();
        assert!(!firewall.source_dest_check);
        let table =
            m.route_tables().find(|t| t.tags.get("Name").is_some_and(|n| n == "to-firewall"));
        let target = &table.unwrap().routes[1].target;
        assert_eq!(target, &RouteTarget::NetworkInterface(firewall.interface.clone()));
    }

    #[test]
    fn interface_endpoints_take_subnets_and_groups_not_route_tables() {
        let text = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    dns_hostnames: true
    subnets: [{ name: private, cidr: 10.0.2.0/24 }]
    security_groups: [{ name: endpoints }]
    endpoints:
      - { service: ssm, type: interface, subnets: [private], security_groups: [endpoints] }
";
        let m = try_build(text).unwrap();
        let e = m.vpc_endpoints().next().unwrap();
        assert_eq!(e.service, "com.amazonaws.us-east-1.ssm");
        let interface = e.interface.as_ref().unwrap();
        assert!(interface.private_dns, "on by default");
        assert_eq!(interface.interfaces[0].private_ip.to_string(), "10.0.2.4");
        let with_table =
            text.replace("subnets: [private], security", "route_tables: [main], security");
        let err = try_build(&with_table).unwrap_err();
        assert!(err.message.contains("route tables are for gateway endpoints"), "{err}");
        let err = try_build(&text.replace("type: interface", "type: gateway")).unwrap_err();
        assert!(err.message.contains("for `type: interface`"), "{err}");
        let err =
            try_build(&text.replace("dns_hostnames: true", "dns_hostnames: false")).unwrap_err();
        assert!(err.message.contains("enableDnsHostnames"), "{err}");
    }

    #[test]
    fn nat_gateway_mistakes_are_pointed_at() {
        let base = include_str!("../../../examples/nat-gateway.yaml");
        let err = try_build(&base.replace("elastic_ip: nat-ip", "elastic_ip: nope")).unwrap_err();
        assert!(err.message.contains("no Elastic IP named"), "{err}");
        let err =
            try_build(&base.replace("elastic_ip: bastion-ip", "elastic_ip: nat-ip")).unwrap_err();
        assert!(err.message.contains("already associated"), "{err}");
        let err = try_build(&base.replace("target: nat ", "target: natt ")).unwrap_err();
        assert!(err.message.contains("unknown route target"), "{err}");
    }

    #[test]
    fn the_endpoint_example_builds_and_its_mistakes_are_pointed_at() {
        let base = include_str!("../../../examples/gateway-endpoint.yaml");
        let m = try_build(base).unwrap();
        let endpoint = m.vpc_endpoints().next().expect("an endpoint");
        assert_eq!(endpoint.service, "com.amazonaws.us-east-1.s3");
        let vpc = m.vpc(&endpoint.vpc).unwrap();
        assert_eq!(endpoint.route_tables, vec![vpc.main_route_table.clone()]);

        let err = try_build(&base.replace("service: s3", "service: nope")).unwrap_err();
        assert!(err.message.contains("InvalidServiceName"), "{err}");
        let err = try_build(&base.replace("service: s3", "service: sqs")).unwrap_err();
        assert!(err.message.contains("does not match available service types"), "{err}");
        let err =
            try_build(&base.replace("route_tables: [main]", "route_tables: [nope]")).unwrap_err();
        assert!(err.message.contains("no route table named \"nope\""), "{err}");
    }

    #[test]
    fn dns_attributes_and_metadata_options() {
        let text = "vpcs:\n  - name: lab\n    cidr: 10.0.0.0/16\n    dns_hostnames: true\n    subnets:\n      - name: a\n        cidr: 10.0.1.0/24\n  - name: quiet\n    cidr: 10.1.0.0/16\n    dns_support: false\n    subnets:\n      - name: b\n        cidr: 10.1.1.0/24\ninstances:\n  - name: web\n    subnet: a\n    metadata:\n      http_tokens: required\n      hop_limit: 2\n      instance_metadata_tags: enabled\n  - name: plain\n    subnet: b\n";
        let m = try_build(text).unwrap();
        let web = m.find_instance("web").unwrap();
        assert!(web.metadata.tokens_required && web.metadata.tags_enabled);
        assert_eq!(web.metadata.hop_limit, 2);
        assert_eq!(m.find_instance("plain").unwrap().metadata, MetadataOptions::default());
        let lab = m.vpc(&web.vpc).unwrap();
        assert!(lab.dns_support && lab.dns_hostnames);
        let quiet = m.vpcs().find(|v| v.id != web.vpc).unwrap();
        assert!(!quiet.dns_support && !quiet.dns_hostnames);

        let err =
            try_build(&text.replace("http_tokens: required", "http_tokens: always")).unwrap_err();
        assert_eq!(err.line, 18);
        assert!(err.message.contains("`required` or `optional`"), "{err}");
        let err = try_build(&text.replace("hop_limit: 2", "hop_limit: 65")).unwrap_err();
        assert!(err.message.contains("1 to 64"), "{err}");
    }

    #[test]
    fn rules_are_checked_by_the_model_as_the_api_checks_them() {
        let base = include_str!("../../../examples/two-tier.yaml");
        let err = try_build(&base.replace("ports: 8080", "ports: 70000")).unwrap_err();
        let api = vpclab_model::SgRule::new(
            vpclab_model::Protocol::Tcp,
            70000,
            70000,
            vpclab_model::Peer::Cidr("0.0.0.0/0".parse().unwrap()),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains(&api.message), "{err} / {}", api.message);
        let err = try_build(&base.replace("ports: 8080", "ports: \"90-80\"")).unwrap_err();
        assert!(err.to_string().contains("Invalid port range"), "{err}");
    }

    #[test]
    fn acl_entries_are_checked_by_the_model_too() {
        let text = "vpcs:\n  - name: lab\n    cidr: 10.0.0.0/16\n    subnets:\n      - name: a\n        cidr: 10.0.1.0/24\n    network_acls:\n      - name: strict\n        subnets: [a]\n        entries:\n          - rule: 100\n            direction: inbound\n            action: allow\n            protocol: tcp\n            ports: PORTS\n            cidr: 0.0.0.0/0\n";
        assert!(try_build(&text.replace("PORTS", "80")).is_ok());
        for bad in ["70000", "\"90-80\"", "\"1-70000\""] {
            let err = try_build(&text.replace("PORTS", bad)).unwrap_err();
            assert!(err.to_string().contains("Invalid port range"), "{bad}: {err}");
        }
    }

    #[test]
    fn errors_point_at_the_offending_line() {
        let text = "vpcs:\n  - name: lab\n    cidr: 10.0.0.0/16\n    subnets:\n      - name: a\n        cidr: 10.9.0.0/24\n";
        let err = try_build(text).unwrap_err();
        assert_eq!(err.line, 6);
        assert!(err.message.starts_with("InvalidSubnet.Range"), "{}", err.message);

        let err = try_build("vpcs:\n  - name: lab\n    cidr: 10.0.0.0/8\n").unwrap_err();
        assert_eq!(
            (err.line, err.message.as_str()),
            (3, "InvalidVpc.Range: The CIDR '10.0.0.0/8' is invalid.")
        );

        let err = try_build("vpcs:\n  - name: lab\n    cidr: banana\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("not a valid CIDR"), "{}", err.message);
    }

    #[test]
    fn unknown_keys_and_references_are_refused() {
        let err = try_build("vpcs:\n  - name: lab\n    cidr: 10.0.0.0/16\n    colour: red\n")
            .unwrap_err();
        assert!(err.message.contains("colour"), "{}", err.message);
        assert_eq!(err.line, 4);

        let text = "vpcs:\n  - name: lab\n    cidr: 10.0.0.0/16\ninstances:\n  - name: x\n    subnet: nowhere\n";
        let err = try_build(text).unwrap_err();
        assert_eq!(err.line, 6);

        let text = "vpcs:\n  - name: lab\n    cidr: 10.0.0.0/16\n    route_tables:\n      - name: rt\n        routes:\n          - destination: 0.0.0.0/0\n            target: internet-gateway\n";
        let err = try_build(text).unwrap_err();
        assert_eq!(err.line, 8);
        assert!(err.message.contains("no internet gateway"), "{}", err.message);
    }

    #[test]
    fn the_onprem_example_builds_through_the_models_spec() {
        let text = include_str!("../../../examples/onprem-site.yaml");
        let m = try_build(text).unwrap();
        let hq = m.onprem_site("hq").unwrap();
        assert_eq!(hq.public_ip.to_string(), "198.51.100.10");
        assert_eq!(hq.bgp_asn, 65010);
        let hosts: Vec<String> = hq.hosts.iter().map(|h| format!("{}={}", h.name, h.ip)).collect();
        assert_eq!(hosts, ["laptop=172.16.0.10", "server=172.16.5.20"]);
        // Overlapping the VPC is allowed; several CIDRs too.
        let overlapping =
            text.replace("cidr: 172.16.0.0/16        #", "cidrs: [10.0.0.0/16, 172.16.0.0/16] #");
        let m = try_build(&overlapping).unwrap();
        assert_eq!(m.onprem_site("hq").unwrap().cidrs.len(), 2);
    }

    #[test]
    fn onprem_site_errors_point_at_the_value() {
        let text = "onprem_sites:\n  - name: hq\n    cidr: 172.16.0.0/16\n    public_ip: 198.51.100.20\n    asn: 65001\n    hosts:\n      - name: a\n        ip: 172.16.0.10\n      - name: b\n";
        assert!(try_build(text).is_ok());
        for (from, to, line, said) in [
            ("cidr: 172.16.0.0/16", "cidr: 198.51.100.0/24", 3, "emulated internet"),
            ("cidr: 172.16.0.0/16", "cidr: banana", 3, "not an IPv4 CIDR"),
            ("cidr: 172.16.0.0/16", "cidrs: [10.0.0.0/8, 10.1.0.0/16]", 3, "overlaps the site's"),
            ("198.51.100.20", "198.51.100.200", 4, "outside the routers' range"),
            ("asn: 65001", "asn: 0", 5, "ASN 0"),
            ("ip: 172.16.0.10", "ip: 172.16.0.1", 8, "router's address"),
            ("ip: 172.16.0.10", "ip: 10.0.0.1", 8, "not in the site's CIDRs"),
            ("name: b", "name: a", 9, "already has a host"),
            ("name: hq", "name: HQ", 2, "site name \"HQ\" is invalid"),
            ("    asn: 65001", "    colour: red", 5, "colour"),
        ] {
            let err = try_build(&text.replace(from, to)).unwrap_err();
            assert_eq!(err.line, line, "{to}: {err}");
            assert!(err.message.contains(said), "{to}: {err}");
        }
        let both = text.replace("    asn: 65001\n", "    cidrs: [10.0.0.0/16]\n");
        assert!(try_build(&both).unwrap_err().message.contains("not both"));
        let twice = format!("{text}  - name: hq\n    cidr: 10.0.0.0/16\n");
        let err = try_build(&twice).unwrap_err();
        assert_eq!(err.line, 10);
        assert!(err.message.contains("already exists"), "{err}");
    }

    #[test]
    fn yaml_syntax_errors_have_a_location() {
        let err = parse("vpcs:\n  - name: [unclosed\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "",
            "- a\n- b",
            "vpcs: 7",
            "vpcs:\n  - {}",
            "vpcs:\n  - name: a\n    cidr: 10.0.0.0/16\n    subnets: [{name: s, cidr: 10.0.0.0/33}]",
            "instances:\n  - name: x\n    subnet: y\n    private_ip: 999.1.1.1",
            "\u{0}\u{1}{{{{",
            "vpcs: &a [*a]",
        ] {
            let _ = parse(text).and_then(|t| build(&t, 1));
        }
    }
}
