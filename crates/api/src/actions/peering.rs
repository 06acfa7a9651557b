//! VPC peering connections.

use super::*;

pub(super) fn write_peering(x: &mut Xml, m: &Model, pc: &PeeringConnection) {
    let info = |x: &mut Xml, vpc: &VpcId, owner: Option<&str>, region: Option<&str>| {
        x.leaf("ownerId", owner.unwrap_or(OWNER_ID))
            .leaf("vpcId", vpc)
            .leaf("region", region.unwrap_or(REGION));
        if let Ok(v) = m.vpc(vpc) {
            x.leaf("cidrBlock", v.cidr).set("cidrBlockSet", v.cidrs(), |x, c| {
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

pub(super) fn create_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let requester = vpc_id(p.required("VpcId")?)?;
    let accepter = vpc_id(p.required("PeerVpcId")?)?;
    if let Some(owner) = p.get("PeerOwnerId") {
        account_id("PeerOwnerId", owner)?;
    }
    let id = ctx.model.create_vpc_peering_connection(
        &requester,
        &accepter,
        p.tag_specifications("vpc-peering-connection")?,
    )?;
    ctx.model.label_peering(&id, p.get("PeerOwnerId"), p.get("PeerRegion"))?;
    let m = &*ctx.model;
    let pc = m.peering_connection(&id)?;
    x.node("vpcPeeringConnection", |x| write_peering(x, m, pc));
    Ok(())
}

pub(super) fn accept_vpc_peering_connection(
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

pub(super) fn reject_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.reject_vpc_peering_connection(&pcx_id(p.required("VpcPeeringConnectionId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_vpc_peering_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_vpc_peering_connection(&pcx_id(p.required("VpcPeeringConnectionId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_vpc_peering_connections(
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
    let list = describe::page(
        ctx.action,
        p,
        m.peering_connections().filter(|c| asked.is_empty() || asked.contains(&c.id)),
        |c| c.id.to_string(),
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
    list.write(x, "vpcPeeringConnectionSet", |x, c| write_peering(x, m, c));
    Ok(())
}
