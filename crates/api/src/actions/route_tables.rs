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
        | RouteTarget::NetworkInterface(_)
        | RouteTarget::EgressOnlyGateway(_) => None,
    }
}

/// Where a listed route leads.
enum Destination {
    Cidr(Ipv4Net),
    Ipv6(ipnet::Ipv6Net),
    PrefixList(String),
}

/// A route of either family as DescribeRouteTables shows it and its filters read it.
struct Shown {
    destination: Destination,
    target: RouteTarget,
    origin: RouteOrigin,
    /// `blackhole` when its target no longer leads anywhere, else `active`.
    state: &'static str,
}

/// The routes of `t` in force, IPv4 (its own and propagated) then IPv6.
fn shown_routes(m: &Model, t: &RouteTable) -> Vec<Shown> {
    let state = |blackhole: bool| if blackhole { "blackhole" } else { "active" };
    let in_force = m.routes_in_force(t);
    let v4 = in_force.iter().map(|r| Shown {
        destination: match &r.prefix_list {
            Some(pl) => Destination::PrefixList(pl.clone()),
            None => Destination::Cidr(r.destination),
        },
        target: r.target.clone(),
        origin: r.origin,
        state: state(m.is_blackhole(t, r)),
    });
    let v6 = t.ipv6_routes.iter().map(|r| Shown {
        destination: Destination::Ipv6(r.destination),
        target: r.target.clone(),
        origin: r.origin,
        state: state(m.is_blackhole(t, r)),
    });
    v4.chain(v6).collect::<Vec<_>>()
}

pub(super) fn write_route_table(x: &mut Xml, m: &Model, t: &RouteTable) {
    x.leaf("routeTableId", &t.id).leaf("vpcId", &t.vpc).leaf("ownerId", OWNER_ID);
    x.set("routeSet", shown_routes(m, t), |x, r| {
        match &r.destination {
            Destination::PrefixList(pl) => x.leaf("destinationPrefixListId", pl),
            Destination::Cidr(c) => x.leaf("destinationCidrBlock", c),
            Destination::Ipv6(c) => x.leaf("destinationIpv6CidrBlock", c),
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
            RouteTarget::EgressOnlyGateway(eigw) => {
                x.leaf("egressOnlyInternetGatewayId", eigw);
            }
            RouteTarget::Local
            | RouteTarget::Gateway(_)
            | RouteTarget::Endpoint(_)
            | RouteTarget::VpnGateway(_) => {}
        }
        x.leaf("state", r.state).leaf("origin", r.origin.as_str());
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
            let routes = shown_routes(m, t);
            let of = |pick: &dyn Fn(&Shown) -> Option<String>| {
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
                "route.destination-cidr-block" => of(&|r| match &r.destination {
                    Destination::Cidr(c) => Some(c.to_string()),
                    _ => None,
                }),
                "route.destination-ipv6-cidr-block" => of(&|r| match &r.destination {
                    Destination::Ipv6(c) => Some(c.to_string()),
                    _ => None,
                }),
                "route.destination-prefix-list-id" => of(&|r| match &r.destination {
                    Destination::PrefixList(pl) => Some(pl.clone()),
                    _ => None,
                }),
                "route.egress-only-internet-gateway-id" => of(&|r| match &r.target {
                    RouteTarget::EgressOnlyGateway(g) => Some(g.to_string()),
                    _ => None,
                }),
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
                "route.state" => of(&|r| Some(r.state.to_owned())),
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
    let alone =
        ["TransitGatewayId", "InstanceId", "NetworkInterfaceId", "EgressOnlyInternetGatewayId"];
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
            "EgressOnlyInternetGatewayId" => Ok(RouteTarget::EgressOnlyGateway(eigw_id(value)?)),
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
            let other =
                ["VpcPeeringConnectionId", "VpcEndpointId", "LocalGatewayId", "CarrierGatewayId"];
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

/// Where a route to add, change or remove leads: an IPv4 or IPv6 CIDR, or one of the
/// account's prefix lists.
enum Asked {
    Cidr(Ipv4Net),
    Ipv6(ipnet::Ipv6Net),
    PrefixList(vpclab_model::PrefixListId),
}

fn route_destination(p: &Params) -> Result<Asked, ApiError> {
    let given = ["DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"]
        .iter()
        .filter(|name| p.get(name).is_some())
        .count();
    if given > 1 {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "Only one of destinationCidrBlock, destinationIpv6CidrBlock and \
                      destinationPrefixListId may be given"
                .into(),
        });
    }
    if let Some(block) = cidr6(p, "DestinationIpv6CidrBlock")? {
        return Ok(Asked::Ipv6(block));
    }
    match p.get("DestinationPrefixListId") {
        Some(list) => vpclab_model::PrefixListId::parse(list)
            .map(Asked::PrefixList)
            .ok_or_else(|| malformed("InvalidPrefixListID.Malformed", "pl", list)),
        None => Ok(Asked::Cidr(cidr(p, "DestinationCidrBlock")?)),
    }
}

pub(super) fn create_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    ctx.model.route_table(&table)?;
    let target = route_target(p, ctx.model)?;
    match route_destination(p)? {
        Asked::Cidr(destination) => {
            ctx.model.create_route(&table, RouteSpec { destination, target })?
        }
        Asked::Ipv6(destination) => {
            ctx.model.create_ipv6_route(&table, RouteSpec { destination, target })?
        }
        Asked::PrefixList(list) => ctx.model.create_prefix_list_route(&table, &list, target)?,
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
        Asked::Cidr(destination) => {
            ctx.model.replace_route(&table, RouteSpec { destination, target })?
        }
        Asked::Ipv6(destination) => {
            ctx.model.replace_ipv6_route(&table, RouteSpec { destination, target })?
        }
        Asked::PrefixList(list) => {
            ctx.model.change_prefix_list_route(&table, &list, Some(target))?
        }
    }
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = rtb_id(p.required("RouteTableId")?)?;
    match route_destination(p)? {
        Asked::Cidr(destination) => ctx.model.delete_route(&table, destination)?,
        Asked::Ipv6(destination) => ctx.model.delete_ipv6_route(&table, destination)?,
        Asked::PrefixList(list) => ctx.model.change_prefix_list_route(&table, &list, None)?,
    }
    x.leaf("return", "true");
    Ok(())
}
