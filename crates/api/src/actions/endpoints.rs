//! VPC endpoints (gateway and interface), the prefix lists gateway endpoints route, and
//! the services behind them.

use super::security_groups::write_group_ref;
use super::*;

/// An endpoint as AWS shows it: a gateway endpoint with its route tables, an interface
/// endpoint with its subnets, interfaces, groups and DNS names (`pending` until it has
/// settled, as AWS's take a while).
pub(super) fn write_endpoint(x: &mut Xml, m: &Model, clock: Clock, e: &VpcEndpoint) {
    let Some(interface) = &e.interface else {
        x.leaf("vpcEndpointId", &e.id)
            .leaf("vpcEndpointType", "Gateway")
            .leaf("vpcId", &e.vpc)
            .leaf("serviceName", &e.service)
            .leaf("state", "available")
            .leaf("policyDocument", e.policy.as_deref().unwrap_or(FULL_ACCESS_POLICY))
            .values("routeTableIdSet", &e.route_tables)
            .values("subnetIdSet", std::iter::empty::<&str>())
            .set("groupSet", std::iter::empty::<()>(), |_, ()| {})
            .leaf("ipAddressType", "ipv4")
            .node("dnsOptions", |x| {
                x.leaf("dnsRecordIpType", "service-defined");
            })
            .leaf("privateDnsEnabled", "false")
            .leaf("requesterManaged", "false")
            .values("networkInterfaceIdSet", std::iter::empty::<&str>())
            .set("dnsEntrySet", std::iter::empty::<()>(), |_, ()| {})
            .leaf("creationTimestamp", iso8601(e.created_at))
            .tags(&e.tags)
            .leaf("ownerId", OWNER_ID);
        return;
    };
    let settled = clock.settled(interface.changed_at.max(e.created_at));
    let mut subnets: Vec<&SubnetId> = interface.interfaces.iter().map(|i| &i.subnet).collect();
    subnets.sort();
    x.leaf("vpcEndpointId", &e.id)
        .leaf("vpcEndpointType", "Interface")
        .leaf("vpcId", &e.vpc)
        .leaf("serviceName", &e.service)
        .leaf("state", if settled { "available" } else { "pending" })
        .leaf("policyDocument", e.policy.as_deref().unwrap_or(INTERFACE_POLICY))
        .values("routeTableIdSet", std::iter::empty::<&str>())
        .values("subnetIdSet", subnets)
        .set("groupSet", &interface.security_groups, |x, g| write_group_ref(x, m, g))
        .leaf("ipAddressType", "ipv4")
        .node("dnsOptions", |x| {
            x.leaf("dnsRecordIpType", "ipv4");
        })
        .leaf("privateDnsEnabled", interface.private_dns)
        .leaf("requesterManaged", "false")
        .values("networkInterfaceIdSet", interface.interfaces.iter().map(|i| &i.interface))
        .set("dnsEntrySet", dns_entries(m, e, settled), |x, (name, zone)| {
            x.leaf("dnsName", name).leaf("hostedZoneId", zone);
        })
        .leaf("creationTimestamp", iso8601(e.created_at))
        .tags(&e.tags)
        .leaf("ownerId", OWNER_ID);
}

/// An interface endpoint's DNS names with their hosted zones (the model's names): the
/// service's own private names are in a private zone AWS shows as `ZONEIDPENDING` until
/// the endpoint is available.
fn dns_entries(m: &Model, e: &VpcEndpoint, settled: bool) -> Vec<(String, String)> {
    let hex = e.id.as_str().rsplit('-').next().unwrap_or_default();
    let private_zone =
        if settled { format!("Z0{}", hex.to_uppercase()) } else { "ZONEIDPENDING".to_owned() };
    m.endpoint_names(e)
        .into_iter()
        .map(|n| {
            let zone = if n.private { private_zone.clone() } else { VPCE_HOSTED_ZONE.to_owned() };
            (n.name, zone)
        })
        .collect()
}

/// The hosted zone of `vpce.amazonaws.com` names in us-east-1.
const VPCE_HOSTED_ZONE: &str = "Z7HUB22UULQXV";

/// The policy AWS shows for a gateway endpoint without one. vpclab keeps and shows the
/// policies it is given but does not evaluate them.
pub(super) const FULL_ACCESS_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// The policy AWS shows for an interface endpoint without one (not evaluated either).
const INTERFACE_POLICY: &str = "{\n  \"Statement\": [\n    {\n      \"Action\": \"*\", \n      \"Effect\": \"Allow\", \n      \"Principal\": \"*\", \n      \"Resource\": \"*\"\n    }\n  ]\n}";

/// The most characters a VPC endpoint policy may have, white space included (AWS
/// PrivateLink quota "Characters per VPC endpoint policy", not adjustable).
const MAX_POLICY_CHARS: usize = 20_480;

/// The `PolicyDocument` given, checked as AWS checks it before storing it: JSON (AWS
/// answers `InvalidPolicyDocument` with the syntax error's position) of a JSON object,
/// at most [`MAX_POLICY_CHARS`] characters. Kept as given, not re-serialized: AWS
/// returns the document as stored. Nothing else of it is checked, and nothing evaluates
/// it.
fn policy_document(p: &Params) -> Result<Option<String>, ApiError> {
    let Some(doc) = p.get("PolicyDocument") else { return Ok(None) };
    let chars = doc.chars().count();
    if chars > MAX_POLICY_CHARS {
        return Err(invalid(format!(
            "The policy document has {chars} characters; a VPC endpoint policy may have at \
             most {MAX_POLICY_CHARS}, white space included."
        )));
    }
    let not_valid = |detail: String| ApiError {
        code: "InvalidPolicyDocument",
        message: format!("The Policy Document is not valid.{detail}"),
    };
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(serde_json::Value::Object(_)) => Ok(Some(doc.to_owned())),
        Ok(_) => Err(not_valid(String::new())),
        Err(e) => {
            Err(not_valid(format!(" Syntax error at position ({},{})", e.line(), e.column())))
        }
    }
}

/// Refuses what vpclab's endpoints do not do yet: IPv6 addressing, and the S3 resolver
/// option.
fn ipv4_only(p: &Params, prefix: &str) -> Result<(), ApiError> {
    for name in ["IpAddressType", "DnsOptions.DnsRecordIpType"] {
        match p.get(&format!("{prefix}{name}")) {
            None | Some("ipv4") => {}
            Some("service-defined") if name != "IpAddressType" => {}
            Some(other) => {
                return Err(invalid(format!(
                    "{name}={other}: vpclab's endpoints carry no IPv6 yet; they are ipv4."
                )));
            }
        }
    }
    if p.bool("DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint")? == Some(true) {
        return Err(invalid(
            "PrivateDnsOnlyForInboundResolverEndpoint: vpclab has no Route 53 Resolver endpoints.",
        ));
    }
    Ok(())
}

pub(super) fn create_vpc_endpoint(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    let service = p.required("ServiceName")?;
    let tables = ids(p, "RouteTableId", rtb_id)?;
    let subnets = ids(p, "SubnetId", subnet_id)?;
    let groups = ids(p, "SecurityGroupId", sg_id)?;
    let tags = p.tag_specifications("vpc-endpoint")?;
    ipv4_only(p, "")?;
    let policy = policy_document(p)?;
    let id = match p.get("VpcEndpointType").unwrap_or("Gateway") {
        "Gateway" => {
            if !subnets.is_empty() || !groups.is_empty() {
                return Err(ApiError {
                    code: "InvalidParameter",
                    message: "Subnet IDs are only supported for Interface and \
                              GatewayLoadBalancer type VPC Endpoints."
                        .into(),
                });
            }
            if p.bool("PrivateDnsEnabled")? == Some(true) {
                return Err(invalid("Private DNS can only be enabled for Interface endpoints."));
            }
            ctx.model.create_vpc_endpoint(&vpc, service, &tables, tags, ctx.now)?
        }
        "Interface" => {
            if !tables.is_empty() {
                return Err(ApiError {
                    code: "InvalidParameter",
                    message: "Route table IDs are only supported for Gateway type VPC Endpoint."
                        .into(),
                });
            }
            let private_dns = p.bool("PrivateDnsEnabled")?;
            ctx.model.create_interface_endpoint(
                &vpc,
                service,
                &subnets,
                &groups,
                private_dns,
                tags,
                ctx.now,
            )?
        }
        "GatewayLoadBalancer" | "Resource" | "ServiceNetwork" => {
            return Err(invalid(
                "vpclab supports Gateway and Interface endpoints (VpcEndpointType=Gateway or \
                 Interface).",
            ));
        }
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter vpcEndpointType is invalid."
            )));
        }
    };
    if policy.is_some() {
        ctx.model.set_vpc_endpoint_policy(&id, policy)?;
    }
    let (m, clock) = (&*ctx.model, ctx.clock());
    let e = m.vpc_endpoint(&id)?;
    x.node("vpcEndpoint", |x| write_endpoint(x, m, clock, e));
    if let Some(token) = p.get("ClientToken") {
        x.leaf("clientToken", token);
    }
    Ok(())
}

pub(super) fn modify_vpc_endpoint(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = vpce_id(p.required("VpcEndpointId")?)?;
    let add = ids(p, "AddRouteTableId", rtb_id)?;
    let remove = ids(p, "RemoveRouteTableId", rtb_id)?;
    let add_subnets = ids(p, "AddSubnetId", subnet_id)?;
    let remove_subnets = ids(p, "RemoveSubnetId", subnet_id)?;
    let add_groups = ids(p, "AddSecurityGroupId", sg_id)?;
    let remove_groups = ids(p, "RemoveSecurityGroupId", sg_id)?;
    let private_dns = p.bool("PrivateDnsEnabled")?;
    ipv4_only(p, "")?;
    let policy = policy_document(p)?;
    let reset = p.bool("ResetPolicy")? == Some(true);
    if reset && policy.is_some() {
        return Err(invalid(
            "ResetPolicy=true resets the policy to the default; it cannot be given with \
             PolicyDocument.",
        ));
    }
    let interface_change = !add_subnets.is_empty()
        || !remove_subnets.is_empty()
        || !add_groups.is_empty()
        || !remove_groups.is_empty()
        || private_dns.is_some();
    if interface_change && ctx.model.vpc_endpoint(&id)?.interface.is_none() {
        let (what, types) = if !add_subnets.is_empty() || !remove_subnets.is_empty() {
            ("Subnet IDs are", "Interface and GatewayLoadBalancer type")
        } else if private_dns.is_some() {
            ("Private DNS is", "Interface type")
        } else {
            ("Security group IDs are", "Interface type")
        };
        return Err(ApiError {
            code: "InvalidParameter",
            message: format!("{what} only supported for {types} VPC Endpoints."),
        });
    }
    ctx.model.modify_vpc_endpoint(&id, &add, &remove)?;
    if interface_change {
        ctx.model.modify_interface_endpoint(
            &id,
            &add_subnets,
            &remove_subnets,
            &add_groups,
            &remove_groups,
            private_dns,
            ctx.now,
        )?;
    }
    if reset || policy.is_some() {
        ctx.model.set_vpc_endpoint_policy(&id, policy)?;
    }
    x.leaf("return", "true");
    Ok(())
}

/// DeleteVpcEndpoints: AWS answers every id, listing the ones it could not delete.
pub(super) fn delete_vpc_endpoints(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
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
            // In this list AWS names a missing endpoint without the "Id".
            result.err().map(|e| match e.code {
                "InvalidVpcEndpointId.NotFound" => {
                    let message = format!("The VPC endpoint '{raw}' does not exist");
                    (raw, ApiError { code: "InvalidVpcEndpoint.NotFound", message })
                }
                _ => (raw, e),
            })
        })
        .collect();
    unsuccessful(x, failed);
    Ok(())
}

pub(super) fn describe_vpc_endpoints(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "VpcEndpointId", vpce_id)?;
    let (m, clock) = (&*ctx.model, ctx.clock());
    require_all(
        &asked,
        |id| m.vpc_endpoint(id).is_ok(),
        "InvalidVpcEndpointId.NotFound",
        "vpcEndpoint",
    )?;
    let kind = |e: &VpcEndpoint| if e.interface.is_some() { "Interface" } else { "Gateway" };
    let state = |e: &VpcEndpoint| {
        let since = e.interface.as_ref().map_or(0, |i| i.changed_at.max(e.created_at));
        if clock.settled(since) { "available" } else { "pending" }
    };
    let list = describe::page(
        ctx.action,
        p,
        m.vpc_endpoints().filter(|e| asked.is_empty() || asked.contains(&e.id)),
        |e| e.id.to_string(),
        |e, name| match name {
            "vpc-endpoint-id" => one(&e.id),
            "vpc-id" => one(&e.vpc),
            "service-name" => one(&e.service),
            "service-region" => one(REGION),
            "ip-address-type" => one("ipv4"),
            "vpc-endpoint-state" => one(state(e)),
            "vpc-endpoint-type" => one(kind(e)),
            _ => tag_attr(&e.tags, name),
        },
    )?;
    list.write(x, "vpcEndpointSet", |x, e| write_endpoint(x, m, clock, e));
    Ok(())
}

pub(super) fn describe_prefix_lists(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("PrefixListId");
    if let Some(missing) = asked.iter().find(|id| !PREFIX_LISTS.iter().any(|(pl, _, _)| pl == id)) {
        return Err(ApiError {
            code: "InvalidPrefixListID.NotFound",
            message: format!("The prefix list ID '{missing}' does not exist"),
        });
    }
    let lists = describe::page(
        ctx.action,
        p,
        PREFIX_LISTS.iter().filter(|(pl, _, _)| asked.is_empty() || asked.iter().any(|a| a == pl)),
        |(id, _, _)| id.to_string(),
        |(id, name, _), f| match f {
            "prefix-list-id" => one(id),
            "prefix-list-name" => one(name),
            _ => None,
        },
    )?;
    lists.write(x, "prefixListSet", |x, (id, name, cidr)| {
        x.leaf("prefixListId", id).leaf("prefixListName", name).values("cidrSet", [cidr]);
    });
    Ok(())
}

/// A service vpclab offers endpoints to: a gateway service (by its prefix list) or an
/// interface service. S3 is both, and listed twice, as AWS lists it.
#[derive(Clone, Copy)]
enum Offered {
    Gateway(&'static str),
    Interface(&'static vpclab_model::InterfaceService),
}

impl Offered {
    fn all() -> Vec<Offered> {
        let gateways = PREFIX_LISTS.iter().map(|(_, name, _)| Offered::Gateway(name));
        let interfaces = vpclab_model::INTERFACE_SERVICES.iter().map(Offered::Interface);
        let mut all: Vec<Offered> = gateways.chain(interfaces).collect();
        all.sort_by_key(|o| (o.name(), o.kind()));
        all
    }

    fn name(&self) -> String {
        match self {
            Offered::Gateway(name) => (*name).to_owned(),
            Offered::Interface(s) => s.name(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Offered::Gateway(_) => "Gateway",
            Offered::Interface(_) => "Interface",
        }
    }

    fn short(&self) -> String {
        self.name().rsplit('.').next().unwrap_or_default().to_owned()
    }

    /// A stable `vpce-svc-…` id of its own (FNV-1a of its name and type).
    fn id(&self) -> String {
        let hash = format!("{} {}", self.name(), self.kind())
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        format!("vpce-svc-0{hash:016x}")
    }
}

/// DescribeVpcEndpointServices: the gateway and interface services vpclab emulates.
pub(super) fn describe_vpc_endpoint_services(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("ServiceName");
    let offered = Offered::all();
    if let Some(missing) = asked.iter().find(|n| !offered.iter().any(|o| &o.name() == *n)) {
        return Err(ApiError {
            code: "InvalidServiceName",
            message: format!("The Vpc Endpoint Service '{missing}' does not exist"),
        });
    }
    let services = describe::page(
        ctx.action,
        p,
        offered.iter().filter(|o| asked.is_empty() || asked.contains(&o.name())),
        |o| format!("{} {}", o.name(), o.kind()),
        |o, f| match f {
            "service-name" => one(o.name()),
            "service-type" => one(o.kind()),
            "owner" => one("amazon"),
            "service-region" => one(REGION),
            "supported-ip-address-types" => one("ipv4"),
            _ => None,
        },
    )?;
    let mut names: Vec<String> = services.items.iter().map(|o| o.name()).collect();
    names.dedup();
    x.values("serviceNameSet", &names);
    services.write(x, "serviceDetailSet", |x, o| {
        let short = o.short();
        let base = match o {
            Offered::Gateway(_) => format!("{short}.{REGION}.amazonaws.com"),
            Offered::Interface(_) => format!("{short}.{REGION}.vpce.amazonaws.com"),
        };
        x.leaf("serviceName", o.name())
            .leaf("serviceId", o.id())
            .set("serviceType", [o.kind()], |x, kind| {
                x.leaf("serviceType", kind);
            })
            .leaf("serviceRegion", REGION)
            .values("availabilityZoneSet", ZONES)
            .leaf("owner", "amazon")
            .values("baseEndpointDnsNameSet", [base]);
        if let Offered::Interface(s) = o {
            let names: Vec<String> = s.private_names().collect();
            if let Some(primary) = names.first() {
                x.leaf("privateDnsName", primary).set("privateDnsNameSet", &names, |x, n| {
                    x.leaf("privateDnsName", n);
                });
            }
        }
        x.leaf("vpcEndpointPolicySupported", true)
            .leaf("acceptanceRequired", false)
            .leaf("managesVpcEndpoints", false)
            .tags(&Tags::new());
        if matches!(o, Offered::Interface(_)) {
            x.leaf("privateDnsNameVerificationState", "verified");
        }
        x.values("supportedIpAddressTypeSet", ["ipv4"]);
    });
    Ok(())
}
