//! VPC endpoints: private paths to AWS services that stay inside AWS.
//!
//! *Gateway* endpoints (`com.amazonaws.<region>.s3`, `…dynamodb`): CreateVpcEndpoint adds,
//! to each route table given, a route whose destination is the service's prefix list and
//! whose target is the endpoint; ModifyVpcEndpoint adds and removes tables; deleting the
//! endpoint removes its routes. Traffic through it keeps the instance's private source
//! address. A CIDR route beats a prefix-list route of the same length; a longer prefix
//! beats both.
//!
//! *Interface* endpoints (PrivateLink: ssm, sts, ec2, … — [`INTERFACE_SERVICES`]): one
//! requester-managed network interface per subnet given (one subnet per zone), holding an
//! address of it, guarded by the endpoint's security groups; DNS names of its own
//! (`vpce-<id>-<suffix>.<service>.<region>.vpce.amazonaws.com`, and one per zone) and,
//! with private DNS, the service's own name inside the VPC. Private DNS needs the VPC's
//! `enableDnsSupport` and `enableDnsHostnames`, and one endpoint per service and VPC.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::VpcEndpointId;
use std::net::Ipv4Addr;

use crate::{
    ManagedInterface, Model, Route, RouteOrigin, RouteTableId, RouteTarget, SecurityGroupId,
    SubnetId, Tags, VpcId,
};

/// An AWS service vpclab emulates behind interface endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceService {
    /// Its service name's last part (`ssm` in `com.amazonaws.us-east-1.ssm`), which is
    /// also the label of its endpoint DNS names.
    pub short: &'static str,
    /// The names private DNS gives it inside a VPC, the primary first (`{region}`
    /// stands for the region).
    pub private_dns: &'static [&'static str],
    /// Where vpclab's emulation of it answers on the emulated internet (its public
    /// endpoint, 198.51.100.128/25; S3's is the gateway services' 192.0.2.1).
    pub address: Ipv4Addr,
}

impl InterfaceService {
    /// Its full service name, `com.amazonaws.<region>.<short>`.
    pub fn name(&self) -> String {
        format!("com.amazonaws.{}.{}", crate::REGION, self.short)
    }

    /// Its private DNS names in this region.
    pub fn private_names(&self) -> impl Iterator<Item = String> + '_ {
        self.private_dns.iter().map(|n| n.replace("{region}", crate::REGION))
    }
}

const fn service(
    short: &'static str,
    private_dns: &'static [&'static str],
    last: u8,
) -> InterfaceService {
    InterfaceService { short, private_dns, address: Ipv4Addr::new(198, 51, 100, last) }
}

/// The interface-endpoint services vpclab emulates, with AWS's private DNS names.
pub const INTERFACE_SERVICES: [InterfaceService; 10] = [
    service("ec2", &["ec2.{region}.amazonaws.com"], 130),
    service("ec2messages", &["ec2messages.{region}.amazonaws.com"], 131),
    service(
        "logs",
        &[
            "logs.{region}.amazonaws.com",
            "logs.{region}.api.aws",
            "streaming-logs.{region}.api.aws",
            "streaming-logs.{region}.amazonaws.com",
        ],
        132,
    ),
    service("kms", &["kms.{region}.amazonaws.com"], 133),
    InterfaceService {
        short: "s3",
        private_dns: &["*.s3.{region}.amazonaws.com"],
        address: Ipv4Addr::new(192, 0, 2, 1),
    },
    service("secretsmanager", &["secretsmanager.{region}.amazonaws.com"], 134),
    service("sqs", &["sqs.{region}.amazonaws.com"], 135),
    service("ssm", &["ssm.{region}.amazonaws.com", "ssm.{region}.api.aws"], 136),
    service(
        "ssmmessages",
        &["ssmmessages.{region}.amazonaws.com", "ssmmessages.{region}.api.aws"],
        137,
    ),
    service("sts", &["sts.{region}.amazonaws.com"], 138),
];

/// The interface service named `name`, if vpclab emulates it.
pub fn interface_service(name: &str) -> Option<&'static InterfaceService> {
    INTERFACE_SERVICES.iter().find(|s| s.name() == name)
}

/// One DNS name of an interface endpoint and the addresses it resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointName {
    /// The name (`*.` first for S3's wildcard names).
    pub name: String,
    /// Its interfaces' addresses (the zone's one for a zonal name).
    pub addresses: Vec<Ipv4Addr>,
    /// A private DNS name: it resolves to these addresses inside the endpoint's VPC only.
    pub private: bool,
}

/// What an interface endpoint has besides what every endpoint has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceEndpoint {
    /// Its interfaces, one per subnet (one subnet per zone).
    pub interfaces: Vec<ManagedInterface>,
    /// The security groups of its interfaces.
    pub security_groups: Vec<SecurityGroupId>,
    /// Private DNS: the service's own names resolve to its interfaces inside the VPC.
    pub private_dns: bool,
    /// The eight characters after its id in its DNS names (`vpce-<id>-<suffix>.…`).
    pub dns_suffix: String,
    /// Seconds since the Unix epoch at its last change (ModifyVpcEndpoint): AWS shows it
    /// `pending` again until the change is done.
    #[serde(default)]
    pub changed_at: u64,
}

/// The AWS-managed prefix lists: id, service name, CIDR (the design contract's ranges).
pub const PREFIX_LISTS: [(&str, &str, &str); 2] = [
    ("pl-63a5400a", "com.amazonaws.us-east-1.s3", "192.0.2.0/25"),
    ("pl-02cd2c6b", "com.amazonaws.us-east-1.dynamodb", "192.0.2.128/25"),
];

/// A VPC endpoint, gateway or interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcEndpoint {
    /// `vpce-…`
    pub id: VpcEndpointId,
    /// Its VPC.
    pub vpc: VpcId,
    /// The service, e.g. `com.amazonaws.us-east-1.s3`.
    pub service: String,
    /// The service's prefix list id.
    pub prefix_list: String,
    /// The prefix list's CIDR.
    pub cidr: Ipv4Net,
    /// The route tables it adds its route to (gateway endpoints).
    pub route_tables: Vec<RouteTableId>,
    /// An interface endpoint's interfaces, groups and DNS (`None`: a gateway endpoint,
    /// whose `prefix_list` and `cidr` are its service's).
    #[serde(default)]
    pub interface: Option<InterfaceEndpoint>,
    /// Its endpoint policy, exactly as given (CreateVpcEndpoint or ModifyVpcEndpoint
    /// `PolicyDocument`): stored and shown, never evaluated. `None`: the default policy
    /// AWS shows for its type (full access), as after ModifyVpcEndpoint `ResetPolicy`.
    #[serde(default)]
    pub policy: Option<String>,
    /// Tags.
    pub tags: Tags,
    /// Seconds since the Unix epoch at creation.
    #[serde(default)]
    pub created_at: u64,
}

impl Model {
    /// The DNS names of interface endpoint `e`, as AWS lists them: its regional name,
    /// one per zone it has an interface in, then (with private DNS) the service's own
    /// names. None without interfaces (or for a gateway endpoint).
    pub fn endpoint_names(&self, e: &VpcEndpoint) -> Vec<EndpointName> {
        let Some(interface) = &e.interface else { return Vec::new() };
        if interface.interfaces.is_empty() {
            return Vec::new();
        }
        let service = interface_service(&e.service);
        let short = service.map_or("", |s| s.short);
        let wildcard = if short == "s3" { "*." } else { "" };
        let base = format!("{}-{}", e.id, interface.dns_suffix);
        let tail = format!("{short}.{}.vpce.amazonaws.com", crate::REGION);
        let all: Vec<Ipv4Addr> = interface.interfaces.iter().map(|i| i.private_ip).collect();
        let mut names = vec![EndpointName {
            name: format!("{wildcard}{base}.{tail}"),
            addresses: all.clone(),
            private: false,
        }];
        for i in &interface.interfaces {
            if let Ok(subnet) = self.subnet(&i.subnet) {
                names.push(EndpointName {
                    name: format!("{wildcard}{base}-{}.{tail}", subnet.zone),
                    addresses: vec![i.private_ip],
                    private: false,
                });
            }
        }
        if interface.private_dns {
            for name in service.into_iter().flat_map(|s| s.private_names()) {
                names.push(EndpointName { name, addresses: all.clone(), private: true });
            }
        }
        names
    }

    /// All endpoints.
    pub fn vpc_endpoints(&self) -> impl Iterator<Item = &VpcEndpoint> {
        self.endpoints.values()
    }

    /// An endpoint by id.
    pub fn vpc_endpoint(&self, id: &VpcEndpointId) -> Result<&VpcEndpoint, ApiError> {
        self.endpoints.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidVpcEndpointId.NotFound",
                format!("The Vpc Endpoint Id '{id}' does not exist"),
            )
        })
    }

    fn endpoint_route(endpoint: &VpcEndpoint) -> Route {
        Route {
            destination: endpoint.cidr,
            target: RouteTarget::Endpoint(endpoint.id.clone()),
            origin: RouteOrigin::CreateRoute,
            prefix_list: Some(endpoint.prefix_list.clone()),
        }
    }

    fn check_endpoint_tables(&self, vpc: &VpcId, tables: &[RouteTableId]) -> Result<(), ApiError> {
        for table in tables {
            if &self.route_table(table)?.vpc != vpc {
                return Err(ApiError::invalid_value(format!(
                    "The route table {table} does not belong to the VPC {vpc}"
                )));
            }
        }
        Ok(())
    }

    /// CreateVpcEndpoint (Gateway).
    pub fn create_vpc_endpoint(
        &mut self,
        vpc: &VpcId,
        service: &str,
        route_tables: &[RouteTableId],
        tags: Tags,
        created_at: u64,
    ) -> Result<VpcEndpointId, ApiError> {
        self.vpc(vpc)?;
        let (prefix_list, _, cidr) =
            PREFIX_LISTS.iter().find(|(_, name, _)| *name == service).ok_or_else(|| {
                if interface_service(service).is_some() {
                    ApiError::new(
                        "InvalidParameter",
                        "Endpoint type (Gateway) does not match available service types \
                         ([Interface]).",
                    )
                } else {
                    ApiError::new(
                        "InvalidServiceName",
                        format!("The Vpc Endpoint Service '{service}' does not exist"),
                    )
                }
            })?;
        self.check_endpoint_tables(vpc, route_tables)?;
        if self.endpoints.values().any(|e| {
            &e.vpc == vpc
                && e.service == service
                && e.route_tables.iter().any(|t| route_tables.contains(t))
        }) {
            return Err(ApiError::new(
                "RouteAlreadyExists",
                format!(
                    "route table already has a route with destination-prefix-list-id {prefix_list}"
                ),
            ));
        }
        let id = VpcEndpointId::from_raw(self.ids.fresh(VpcEndpointId::PREFIX));
        let endpoint = VpcEndpoint {
            id: id.clone(),
            vpc: vpc.clone(),
            service: service.to_owned(),
            prefix_list: (*prefix_list).to_owned(),
            cidr: cidr.parse().expect("a CIDR"),
            route_tables: Vec::new(),
            interface: None,
            policy: None,
            tags,
            created_at,
        };
        self.endpoints.insert(id.clone(), endpoint);
        self.modify_vpc_endpoint(&id, route_tables, &[])?;
        Ok(id)
    }

    /// CreateVpcEndpoint (Interface): an interface in each of `subnets` (one per zone)
    /// with `groups` (the VPC's default group without), private DNS as asked — on by
    /// default for a service that has private names.
    #[allow(clippy::too_many_arguments)]
    pub fn create_interface_endpoint(
        &mut self,
        vpc: &VpcId,
        service: &str,
        subnets: &[SubnetId],
        groups: &[SecurityGroupId],
        private_dns: Option<bool>,
        tags: Tags,
        created_at: u64,
    ) -> Result<VpcEndpointId, ApiError> {
        self.vpc(vpc)?;
        let known = interface_service(service).ok_or_else(|| {
            let gateway = PREFIX_LISTS.iter().any(|(_, name, _)| *name == service);
            if gateway {
                ApiError::new(
                    "InvalidParameter",
                    "Endpoint type (Interface) does not match available service types ([Gateway]).",
                )
            } else {
                ApiError::new(
                    "InvalidServiceName",
                    format!("The Vpc Endpoint Service '{service}' does not exist"),
                )
            }
        })?;
        self.check_endpoint_subnets(vpc, &[], subnets)?;
        let security_groups = self.groups_for_launch(vpc, groups)?;
        let private_dns = private_dns.unwrap_or(!known.private_dns.is_empty());
        if private_dns {
            self.check_private_dns(vpc, known, None)?;
        }
        let id = VpcEndpointId::from_raw(self.ids.fresh(VpcEndpointId::PREFIX));
        let dns_suffix: String = {
            // Eight letters and digits, fixed by the id (the ids are random already).
            let hex = self.ids.fresh("x");
            let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
            hex.bytes()
                .rev()
                .take(8)
                .map(|b| alphabet[usize::from(b) % alphabet.len()] as char)
                .collect()
        };
        let mut interfaces = Vec::with_capacity(subnets.len());
        for subnet in subnets {
            interfaces.push(self.managed_interface(subnet)?);
        }
        let endpoint = VpcEndpoint {
            id: id.clone(),
            vpc: vpc.clone(),
            service: service.to_owned(),
            prefix_list: String::new(),
            cidr: Ipv4Net::from(known.address),
            route_tables: Vec::new(),
            interface: Some(InterfaceEndpoint {
                interfaces,
                security_groups,
                private_dns,
                dns_suffix,
                changed_at: created_at,
            }),
            policy: None,
            tags,
            created_at,
        };
        self.endpoints.insert(id.clone(), endpoint);
        Ok(id)
    }

    /// ModifyVpcEndpoint for an interface endpoint: subnets and groups added and removed,
    /// private DNS turned on or off.
    #[allow(clippy::too_many_arguments)]
    pub fn modify_interface_endpoint(
        &mut self,
        id: &VpcEndpointId,
        add_subnets: &[SubnetId],
        remove_subnets: &[SubnetId],
        add_groups: &[SecurityGroupId],
        remove_groups: &[SecurityGroupId],
        private_dns: Option<bool>,
        at: u64,
    ) -> Result<(), ApiError> {
        let endpoint = self.vpc_endpoint(id)?.clone();
        let Some(mut interface) = endpoint.interface.clone() else {
            return Err(ApiError::new(
                "InvalidParameter",
                "Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC \
                 Endpoints.",
            ));
        };
        if let Some(missing) =
            remove_subnets.iter().find(|s| !interface.interfaces.iter().any(|i| &i.subnet == *s))
        {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("The subnet {missing} is not associated with VPC endpoint {id}"),
            ));
        }
        interface.interfaces.retain(|i| !remove_subnets.contains(&i.subnet));
        let kept: Vec<SubnetId> = interface.interfaces.iter().map(|i| i.subnet.clone()).collect();
        let adding: Vec<SubnetId> =
            add_subnets.iter().filter(|s| !kept.contains(s)).cloned().collect();
        self.check_endpoint_subnets(&endpoint.vpc, &kept, &adding)?;
        for subnet in &adding {
            let made = self.managed_interface(subnet)?;
            interface.interfaces.push(made);
        }
        for group in add_groups {
            if self.security_group(group)?.vpc != endpoint.vpc {
                return Err(ApiError::invalid_value(format!(
                    "Security group {group} and VPC {} belong to different networks.",
                    endpoint.vpc
                )));
            }
            if !interface.security_groups.contains(group) {
                interface.security_groups.push(group.clone());
            }
        }
        interface.security_groups.retain(|g| !remove_groups.contains(g));
        if interface.security_groups.is_empty() {
            return Err(ApiError::invalid_value(format!(
                "{id} must keep at least one security group."
            )));
        }
        if let Some(on) = private_dns {
            if on && !interface.private_dns {
                let known = interface_service(&endpoint.service).expect("created for a known one");
                self.check_private_dns(&endpoint.vpc, known, Some(id))?;
            }
            interface.private_dns = on;
        }
        interface.changed_at = at;
        if let Some(e) = self.endpoints.get_mut(id) {
            e.interface = Some(interface);
        }
        Ok(())
    }

    /// Subnets for an interface endpoint of `vpc`: each in the VPC, no two in one zone
    /// (with `keep`, those it has).
    fn check_endpoint_subnets(
        &self,
        vpc: &VpcId,
        keep: &[SubnetId],
        subnets: &[SubnetId],
    ) -> Result<(), ApiError> {
        let mut zones: Vec<(&str, &SubnetId)> = Vec::new();
        for id in keep.iter().chain(subnets) {
            let subnet = self.subnet(id)?;
            if &subnet.vpc != vpc {
                return Err(ApiError::new(
                    "InvalidParameter",
                    format!("The subnet ID '{id}' does not belong to VPC '{vpc}'"),
                ));
            }
            if let Some((_, other)) = zones.iter().find(|(z, _)| *z == subnet.zone) {
                return Err(ApiError::new(
                    "DuplicateSubnetsInSameZone",
                    format!(
                        "Found another VPC endpoint subnet in the availability zone of {other}. \
                         VPC endpoint subnets should be in different availability zones \
                         supported by the VPC endpoint service."
                    ),
                ));
            }
            zones.push((&subnet.zone, id));
        }
        Ok(())
    }

    /// Private DNS for `service` in `vpc`: the service must have private names, the VPC
    /// both DNS attributes, and no other endpoint (than `except`) the same names.
    fn check_private_dns(
        &self,
        vpc: &VpcId,
        service: &InterfaceService,
        except: Option<&VpcEndpointId>,
    ) -> Result<(), ApiError> {
        let name = service.name();
        let Some(domain) = service.private_names().next() else {
            return Err(ApiError::new(
                "InvalidParameter",
                format!(
                    "Private DNS can't be enabled because the service {name} does not provide a \
                     private DNS name."
                ),
            ));
        };
        let v = self.vpc(vpc)?;
        if !(v.dns_support && v.dns_hostnames) {
            return Err(ApiError::new(
                "InvalidParameter",
                format!(
                    "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames \
                     VPC attributes set to true for {vpc}"
                ),
            ));
        }
        let conflict = self.endpoints.values().any(|e| {
            &e.vpc == vpc
                && e.service == name
                && Some(&e.id) != except
                && e.interface.as_ref().is_some_and(|i| i.private_dns)
        });
        if conflict {
            return Err(ApiError::new(
                "InvalidParameter",
                format!(
                    "private-dns-enabled cannot be set because there is already a conflicting DNS \
                     domain for {domain} in the VPC {vpc}"
                ),
            ));
        }
        Ok(())
    }

    /// ModifyVpcEndpoint: its route goes into `add` tables and out of `remove` tables.
    pub fn modify_vpc_endpoint(
        &mut self,
        id: &VpcEndpointId,
        add: &[RouteTableId],
        remove: &[RouteTableId],
    ) -> Result<(), ApiError> {
        let endpoint = self.vpc_endpoint(id)?.clone();
        if endpoint.interface.is_some() {
            if add.is_empty() && remove.is_empty() {
                return Ok(());
            }
            return Err(ApiError::new(
                "InvalidParameter",
                "Route table IDs are only supported for Gateway type VPC Endpoint.",
            ));
        }
        self.check_endpoint_tables(&endpoint.vpc, add)?;
        self.check_endpoint_tables(&endpoint.vpc, remove)?;
        let route = Self::endpoint_route(&endpoint);
        for table in remove {
            if let Some(t) = self.route_tables.get_mut(table) {
                t.routes.retain(|r| r.target != route.target);
            }
        }
        for table in add {
            if let Some(t) = self.route_tables.get_mut(table) {
                if !t.routes.contains(&route) {
                    t.routes.push(route.clone());
                }
            }
        }
        if let Some(e) = self.endpoints.get_mut(id) {
            e.route_tables.retain(|t| !remove.contains(t));
            for t in add {
                if !e.route_tables.contains(t) {
                    e.route_tables.push(t.clone());
                }
            }
        }
        Ok(())
    }

    /// Sets endpoint `id`'s policy document (`None`: back to its type's default). The
    /// document is kept as given; checking it is the caller's (vpclab does not evaluate
    /// endpoint policies).
    pub fn set_vpc_endpoint_policy(
        &mut self,
        id: &VpcEndpointId,
        policy: Option<String>,
    ) -> Result<(), ApiError> {
        self.vpc_endpoint(id)?;
        if let Some(e) = self.endpoints.get_mut(id) {
            e.policy = policy;
        }
        Ok(())
    }

    /// DeleteVpcEndpoints for one endpoint: its routes go with it.
    pub fn delete_vpc_endpoint(&mut self, id: &VpcEndpointId) -> Result<(), ApiError> {
        let tables = self.vpc_endpoint(id)?.route_tables.clone();
        self.modify_vpc_endpoint(id, &[], &tables)?;
        self.endpoints.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_saved_before_policies_were_kept_loads_with_the_default() {
        let mut m = Model::new(1);
        let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let id = m.create_vpc_endpoint(&vpc, "com.amazonaws.us-east-1.s3", &[], Tags::new(), 0);
        let id = id.unwrap();
        m.set_vpc_endpoint_policy(&id, Some("{}".into())).unwrap();
        let mut saved = serde_json::to_value(m.vpc_endpoint(&id).unwrap()).unwrap();
        assert_eq!(saved["policy"], "{}");
        saved.as_object_mut().unwrap().remove("policy");
        let loaded: VpcEndpoint = serde_json::from_value(saved).unwrap();
        assert_eq!(loaded.policy, None);
    }
}
