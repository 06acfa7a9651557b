//! Gateway endpoints, the prefix lists they route, and the services behind them.

use super::*;

pub(super) fn write_endpoint(x: &mut Xml, e: &VpcEndpoint) {
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
pub(super) const FULL_ACCESS_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

pub(super) fn create_vpc_endpoint(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
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
        p.tag_specifications("vpc-endpoint")?,
        ctx.now,
    )?;
    let e = ctx.model.vpc_endpoint(&id)?;
    x.node("vpcEndpoint", |x| write_endpoint(x, e));
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
    ctx.model.modify_vpc_endpoint(&id, &add, &remove)?;
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
            result.err().map(|e| (raw, e))
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
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.vpc_endpoint(id).is_ok(),
        "InvalidVpcEndpointId.NotFound",
        "vpcEndpoint",
    )?;
    let list = describe::page(
        ctx.action,
        p,
        m.vpc_endpoints().filter(|e| asked.is_empty() || asked.contains(&e.id)),
        |e| e.id.to_string(),
        |e, name| match name {
            "vpc-endpoint-id" => one(&e.id),
            "vpc-id" => one(&e.vpc),
            "service-name" => one(&e.service),
            "vpc-endpoint-state" => one("available"),
            "vpc-endpoint-type" => one("Gateway"),
            _ => tag_attr(&e.tags, name),
        },
    )?;
    list.write(x, "vpcEndpointSet", write_endpoint);
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

/// DescribeVpcEndpointServices: the gateway services vpclab emulates.
pub(super) fn describe_vpc_endpoint_services(
    ctx: &mut Context<'_>,
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
    let services = describe::page(
        ctx.action,
        p,
        PREFIX_LISTS
            .iter()
            .filter(|(_, name, _)| asked.is_empty() || asked.iter().any(|a| a == name)),
        |(_, name, _)| name.to_string(),
        |(_, name, _), f| match f {
            "service-name" => one(name),
            "service-type" => one("Gateway"),
            _ => None,
        },
    )?;
    let names: Vec<&str> = services.items.iter().map(|(_, name, _)| *name).collect();
    x.values("serviceNameSet", &names);
    services.write(x, "serviceDetailSet", |x, (_, name, _)| {
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
