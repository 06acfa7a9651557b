//! Route tables, their associations and routes.

use super::*;

pub(super) fn is_main(m: &Model, t: &RouteTable) -> bool {
    m.vpc(&t.vpc).is_ok_and(|v| v.main_route_table == t.id)
}

/// What a route names in `gatewayId`: `local`, an internet gateway, a gateway endpoint or
/// a virtual private gateway; other targets have their own element.
fn gateway_id(target: &RouteTarget) -> Option<String> {
    match target {
        RouteTarget::Local => Some("local".to_owned()),
        RouteTarget::Gateway(igw) => Some(igw.to_string()),
        RouteTarget::Endpoint(vpce) => Some(vpce.to_string()),
        RouteTarget::VpnGateway(vgw) => Some(vgw.to_string()),
        RouteTarget::NatGateway(_)
        | RouteTarget::Peering(_)
        | RouteTarget::TransitGateway(_)
        | RouteTarget::NetworkInterface(_) => None,
    }
}

/// A route's `state`: `blackhole` when its target no longer leads anywhere.
fn route_state(m: &Model, t: &RouteTable, r: &Route) -> &'static str {
    if m.is_blackhole(t, r) { "blackhole" } else { "active" }
}

pub(super) fn write_route_table(x: &mut Xml, m: &Model, t: &RouteTable) {
    x.leaf("routeTableId", &t.id).leaf("vpcId", &t.vpc).leaf("ownerId", OWNER_ID);
    x.set("routeSet", m.routes_in_force(t).iter(), |x, r| {
        match &r.prefix_list {
            Some(pl) => x.leaf("destinationPrefixListId", pl),
            None => x.leaf("destinationCidrBlock", r.destination),
        };
        x.opt("gatewayId", gateway_id(&r.target));
        match &r.target {
            RouteTarget::NatGateway(nat) => {
                x.leaf("natGatewayId", nat);
            }
            RouteTarget::Peering(pcx) => {
                x.leaf("vpcPeeringConnectionId", pcx);
            }
            RouteTarget::TransitGateway(tgw) => {
                x.leaf("transitGatewayId", tgw);
            }
            RouteTarget::NetworkInterface(eni) => {
                if let Some(instance) = m.interface_owner(eni) {
                    x.leaf("instanceId", &instance.id).leaf("instanceOwnerId", OWNER_ID);
                }
                x.leaf("networkInterfaceId", eni);
            }
            RouteTarget::Local
            | RouteTarget::Gateway(_)
            | RouteTarget::Endpoint(_)
            | RouteTarget::VpnGateway(_) => {}
        }
        x.leaf("state", route_state(m, t, r)).leaf("origin", r.origin.as_str());
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
    x.set("propagatingVgwSet", &t.propagating_vgws, |x, vgw| {
        x.leaf("gatewayId", vgw);
    })
    .tags(&t.tags);
}

pub(super) fn create_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = ctx
        .model
        .create_route_table(&vpc_id(p.required("VpcId")?)?, p.tag_specifications("route-table")?)?;
    let m = &*ctx.model;
    x.node("routeTable", |x| write_route_table(x, m, m.route_table(&id).expect("just created")));
    Ok(())
}

pub(super) fn delete_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_route_table(&rtb_id(p.required("RouteTableId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_route_tables(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "RouteTableId", rtb_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.route_table(id).is_ok(),
        "InvalidRouteTableID.NotFound",
        "routeTable",
    )?;
    let tables = describe::page(
        ctx.action,
        p,
        m.route_tables().filter(|t| asked.is_empty() || asked.contains(&t.id)),
        |t| t.id.to_string(),
        |t, name| {
            let routes = m.routes_in_force(t);
            let of = |pick: &dyn Fn(&Route) -> Option<String>| {
                Some(routes.iter().filter_map(pick).collect::<Vec<String>>())
            };
            match name {
                "route-table-id" => one(&t.id),
                "vpc-id" => one(&t.vpc),
                "association.main" => one(is_main(m, t)),
                "association.subnet-id" => {
                    Some(t.associations.iter().map(|a| a.subnet.to_string()).collect())
                }
                "association.route-table-association-id" => {
                    Some(t.associations.iter().map(|a| a.id.to_string()).collect())
                }
                "route.destination-cidr-block" => {
                    of(&|r| r.prefix_list.is_none().then(|| r.destination.to_string()))
                }
                "route.destination-prefix-list-id" => of(&|r| r.prefix_list.clone()),
                "route.gateway-id" => of(&|r| gateway_id(&r.target)),
                "route.nat-gateway-id" => of(&|r| match &r.target {
                    RouteTarget::NatGateway(n) => Some(n.to_string()),
                    _ => None,
                }),
                "route.vpc-peering-connection-id" => of(&|r| match &r.target {
                    RouteTarget::Peering(p) => Some(p.to_string()),
                    _ => None,
                }),
                "route.transit-gateway-id" => of(&|r| match &r.target {
                    RouteTarget::TransitGateway(g) => Some(g.to_string()),
                    _ => None,
                }),
                "route.instance-id" => of(&|r| match &r.target {
                    RouteTarget::NetworkInterface(eni) => {
                        m.interface_owner(eni).map(|i| i.id.to_string())
                    }
                    _ => None,
                }),
                "route.origin" => of(&|r| Some(r.origin.as_str().to_owned())),
                "route.state" => of(&|r| Some(route_state(m, t, r).to_owned())),
                "owner-id" => one(OWNER_ID),
                _ => tag_attr(&t.tags, name),
            }
        },
    )?;
    tables.write(x, "routeTableSet", |x, t| write_route_table(x, m, t));
    Ok(())
}

pub(super) fn associate_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    let id = ctx.model.associate_route_table(&table, &subnet_id(p.required("SubnetId")?)?)?;
    x.leaf("associationId", id).node("associationState", |x| {
        x.leaf("state", "associated");
    });
    Ok(())
}

pub(super) fn disassociate_route_table(
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

pub(super) fn replace_route_table_association(
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

/// A route's target, from whichever target parameter the call gives (an instance's
/// stands for its primary network interface).
fn route_target(p: &Params, m: &Model) -> Result<RouteTarget, ApiError> {
    let alone = ["TransitGatewayId", "InstanceId", "NetworkInterfaceId"];
    if let Some(first) = alone.iter().find(|o| p.get(o).is_some()) {
        let others = ["GatewayId", "NatGatewayId", "VpcPeeringConnectionId"];
        if others.iter().chain(&alone).filter(|o| p.get(o).is_some()).count() > 1 {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "More than one target specified".into(),
            });
        }
        let value = p.required(first)?;
        return match *first {
            "TransitGatewayId" => Ok(RouteTarget::TransitGateway(tgw_id(value)?)),
            "InstanceId" => {
                Ok(RouteTarget::NetworkInterface(m.instance_interface(&instance_id(value)?)?))
            }
            _ => {
                let eni = super::network_interfaces::eni_id(value)?;
                if m.interface_owner(&eni).is_none() {
                    m.network_interface(&eni)?;
                }
                Ok(RouteTarget::NetworkInterface(eni))
            }
        };
    }
    if let Some(pcx) = p.get("VpcPeeringConnectionId") {
        if p.get("GatewayId").is_some() || p.get("NatGatewayId").is_some() {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "More than one target specified".into(),
            });
        }
        return Ok(RouteTarget::Peering(pcx_id(pcx)?));
    }
    let target = match (p.get("GatewayId"), p.get("NatGatewayId")) {
        (Some("local"), None) => RouteTarget::Local,
        (Some(g), None) if g.starts_with("vpce-") => RouteTarget::Endpoint(vpce_id(g)?),
        (Some(g), None) if g.starts_with("vgw-") => RouteTarget::VpnGateway(vgw_id(g)?),
        (Some(g), None) => RouteTarget::Gateway(igw_id(g)?),
        (None, Some(n)) => RouteTarget::NatGateway(nat_id(n)?),
        (None, None) => {
            let other = [
                "VpcPeeringConnectionId",
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
    Ok(target)
}

/// Where a route leads: a CIDR, or one of the account's prefix lists.
enum Destination {
    Cidr(Ipv4Net),
    PrefixList(vpclab_model::PrefixListId),
}

fn route_destination(p: &Params) -> Result<Destination, ApiError> {
    if p.get("DestinationIpv6CidrBlock").is_some() {
        return Err(invalid("vpclab has no IPv6 yet: routes take IPv4 destinations."));
    }
    match (p.get("DestinationCidrBlock"), p.get("DestinationPrefixListId")) {
        (Some(_), Some(_)) => Err(ApiError {
            code: "InvalidParameterCombination",
            message: "Only one of destinationCidrBlock and destinationPrefixListId may be given"
                .into(),
        }),
        (None, Some(list)) => vpclab_model::PrefixListId::parse(list)
            .map(Destination::PrefixList)
            .ok_or_else(|| malformed("InvalidPrefixListID.Malformed", "pl", list)),
        _ => Ok(Destination::Cidr(cidr(p, "DestinationCidrBlock")?)),
    }
}

pub(super) fn create_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.route_table(&table)?;
    let target = route_target(p, ctx.model)?;
    match route_destination(p)? {
        Destination::Cidr(destination) => {
            ctx.model.create_route(&table, RouteSpec { destination, target })?
        }
        Destination::PrefixList(list) => {
            ctx.model.create_prefix_list_route(&table, &list, target)?
        }
    }
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn replace_route(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.route_table(&table)?;
    let target = route_target(p, ctx.model)?;
    match route_destination(p)? {
        Destination::Cidr(destination) => {
            ctx.model.replace_route(&table, RouteSpec { destination, target })?
        }
        Destination::PrefixList(list) => {
            ctx.model.change_prefix_list_route(&table, &list, Some(target))?
        }
    }
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    match route_destination(p)? {
        Destination::Cidr(destination) => ctx.model.delete_route(&table, destination)?,
        Destination::PrefixList(list) => ctx.model.change_prefix_list_route(&table, &list, None)?,
    }
    x.leaf("return", "true");
    Ok(())
}
