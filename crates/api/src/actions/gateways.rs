//! Internet gateways and NAT gateways.

use super::*;

pub(super) fn write_igw(x: &mut Xml, g: &InternetGateway) {
    x.leaf("internetGatewayId", &g.id)
        .set("attachmentSet", &g.attached_to, |x, vpc| {
            x.leaf("vpcId", vpc).leaf("state", "available");
        })
        .leaf("ownerId", OWNER_ID)
        .tags(&g.tags);
}

pub(super) fn create_internet_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = ctx.model.create_internet_gateway(p.tag_specifications("internet-gateway")?);
    let g = ctx.model.internet_gateway(&id)?;
    x.node("internetGateway", |x| write_igw(x, g));
    Ok(())
}

pub(super) fn write_eigw(x: &mut Xml, g: &vpclab_model::EgressOnlyInternetGateway) {
    x.node("attachmentSet", |x| {
        x.node("item", |x| {
            x.leaf("state", "attached").leaf("vpcId", &g.vpc);
        });
    })
    .leaf("egressOnlyInternetGatewayId", &g.id)
    .tags(&g.tags);
}

/// CreateEgressOnlyInternetGateway: attached to its VPC from the start.
pub(super) fn create_egress_only_internet_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    let tags = p.tag_specifications("egress-only-internet-gateway")?;
    let id = ctx.model.create_egress_only_gateway(&vpc, tags)?;
    let g = ctx.model.egress_only_gateway(&id)?;
    x.opt("clientToken", p.get("ClientToken")).node("egressOnlyInternetGateway", |x| {
        write_eigw(x, g);
    });
    Ok(())
}

pub(super) fn delete_egress_only_internet_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = eigw_id(p.required("EgressOnlyInternetGatewayId")?)?;
    ctx.model.delete_egress_only_gateway(&id)?;
    x.leaf("returnCode", "true");
    Ok(())
}

pub(super) fn describe_egress_only_internet_gateways(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "EgressOnlyInternetGatewayId", eigw_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.egress_only_gateway(id).is_ok(),
        "InvalidEgressOnlyInternetGatewayId.NotFound",
        "egressOnlyInternetGateway",
    )?;
    let gateways = describe::page(
        ctx.action,
        p,
        m.egress_only_gateways().filter(|g| asked.is_empty() || asked.contains(&g.id)),
        |g| g.id.to_string(),
        // AWS documents only the tag filters here.
        |g, name| tag_attr(&g.tags, name),
    )?;
    gateways.write(x, "egressOnlyInternetGatewaySet", write_eigw);
    Ok(())
}

pub(super) fn attach_internet_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let igw = igw_id(p.required("InternetGatewayId")?)?;
    ctx.model.attach_internet_gateway(&igw, &vpc_id(p.required("VpcId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn detach_internet_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let igw = igw_id(p.required("InternetGatewayId")?)?;
    ctx.model.detach_internet_gateway(&igw, &vpc_id(p.required("VpcId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_internet_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_internet_gateway(&igw_id(p.required("InternetGatewayId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_internet_gateways(
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
    let gateways = describe::page(
        ctx.action,
        p,
        m.internet_gateways().filter(|g| asked.is_empty() || asked.contains(&g.id)),
        |g| g.id.to_string(),
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
    gateways.write(x, "internetGatewaySet", write_igw);
    Ok(())
}

/// A NAT gateway's state as AWS reports it: `pending` for the transition time after
/// its creation, then `available` (or `failed`, for one AWS would have failed); once
/// deleted, `deleting`, then `deleted`.
fn nat_state(n: &NatGateway, deleted_at: Option<u64>, clock: Clock) -> &'static str {
    match deleted_at {
        Some(at) if clock.settled(at) => "deleted",
        Some(_) => "deleting",
        None if !clock.settled(n.created_at) => "pending",
        None if n.is_working() => "available",
        None => "failed",
    }
}

pub(super) fn write_nat(x: &mut Xml, n: &NatGateway, state: &str, deleted_at: Option<u64>) {
    // A failure shows once the gateway has settled into it, as AWS reports one.
    let failure = n.failure.as_ref().filter(|_| state == "failed");
    x.leaf("natGatewayId", &n.id)
        .leaf("subnetId", &n.subnet)
        .leaf("vpcId", &n.vpc)
        .leaf("state", state)
        .leaf("connectivityType", if n.public.is_some() { "public" } else { "private" })
        .opt("failureCode", failure.map(|f| &f.code))
        .opt("failureMessage", failure.map(|f| &f.message))
        .leaf("createTime", iso8601(n.created_at))
        .opt("deleteTime", deleted_at.map(iso8601))
        .set("natGatewayAddressSet", [n], |x, n| {
            let status = match (deleted_at, n.is_working()) {
                (Some(_), _) => "disassociated",
                (None, true) => "succeeded",
                (None, false) => "failed",
            };
            // A private gateway has an address of its own and nothing else: clients
            // (Ansible, Terraform) read a missing allocation as "private".
            x.opt("allocationId", n.public.as_ref().map(|p| &p.allocation));
            if n.is_working() {
                x.leaf("networkInterfaceId", derived("eni", n.id.as_str()))
                    .leaf("privateIp", n.private_ip)
                    .opt("publicIp", n.public.as_ref().map(|p| p.public_ip))
                    .opt(
                        "associationId",
                        n.public.as_ref().map(|_| derived("eipassoc", n.id.as_str())),
                    );
            }
            x.leaf("isPrimary", "true").leaf("status", status);
        })
        .tags(&n.tags);
}

pub(super) fn create_nat_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    let allocation = p.get("AllocationId").map(alloc_id).transpose()?;
    let connectivity = NatConnectivity::new(p.get("ConnectivityType"), allocation)?;
    let spec = NatGatewaySpec {
        subnet,
        connectivity,
        private_ip: p.get("PrivateIpAddress").map(private_ip).transpose()?,
        idle_timeout_s: None,
    };
    let id = ctx.model.create_nat_gateway(spec, p.tag_specifications("natgateway")?, ctx.now)?;
    let n = ctx.model.nat_gateway(&id)?;
    // AWS answers a creation pending, however soon the gateway is available (or fails).
    x.opt("clientToken", p.get("ClientToken"))
        .node("natGateway", |x| write_nat(x, n, "pending", None));
    Ok(())
}

pub(super) fn delete_nat_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = nat_id(p.required("NatGatewayId")?)?;
    ctx.model.delete_nat_gateway(&id, ctx.now)?;
    x.leaf("natGatewayId", id);
    Ok(())
}

pub(super) fn describe_nat_gateways(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "NatGatewayId", nat_id)?;
    let (m, clock) = (&*ctx.model, ctx.clock());
    // Live ones, and those deleted within the hour (listed `deleted`, as on AWS).
    let all: Vec<(&NatGateway, Option<u64>)> = m
        .nat_gateways()
        .map(|n| (n, None))
        .chain(m.deleted_nat_gateways(ctx.now).map(|(n, at)| (n, Some(at))))
        .collect();
    require_all(
        &asked,
        |id| all.iter().any(|(n, _)| &n.id == id),
        "NatGatewayNotFound",
        "natGateway",
    )?;
    let nats = describe::page(
        ctx.action,
        p,
        all.iter().filter(|(n, _)| asked.is_empty() || asked.contains(&n.id)),
        |(n, _)| n.id.to_string(),
        |(n, deleted), name| match name {
            "nat-gateway-id" => one(&n.id),
            "subnet-id" => one(&n.subnet),
            "vpc-id" => one(&n.vpc),
            "state" => one(nat_state(n, *deleted, clock)),
            _ => tag_attr(&n.tags, name),
        },
    )?;
    nats.write(x, "natGatewaySet", |x, (n, deleted)| {
        write_nat(x, n, nat_state(n, *deleted, clock), *deleted);
    });
    Ok(())
}
