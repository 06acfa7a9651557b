//! Elastic IP addresses.

use super::*;

pub(super) fn write_address(x: &mut Xml, m: &Model, e: &ElasticIp) {
    x.leaf("publicIp", e.public_ip).leaf("allocationId", &e.allocation_id).leaf("domain", "vpc");
    if let Some((association, instance)) = &e.association {
        x.leaf("associationId", association).leaf("instanceId", instance);
        if let Ok(i) = m.instance(instance) {
            x.leaf("networkInterfaceId", &i.interface)
                .leaf("networkInterfaceOwnerId", OWNER_ID)
                .opt("privateIpAddress", i.private_ip);
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

pub(super) fn allocate_address(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    if let Some(domain) = p.get("Domain").filter(|d| *d != "vpc" && *d != "standard") {
        return Err(invalid(format!("Invalid value '{domain}' for domain.")));
    }
    let id = ctx.model.allocate_address(p.tag_specifications("elastic-ip")?)?;
    let e = ctx.model.elastic_ip(&id)?;
    x.leaf("publicIp", e.public_ip)
        .leaf("domain", "vpc")
        .leaf("allocationId", &e.allocation_id)
        .leaf("publicIpv4Pool", "amazon")
        .leaf("networkBorderGroup", REGION);
    Ok(())
}

pub(super) fn associate_address(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
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

pub(super) fn disassociate_address(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
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

pub(super) fn release_address(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.release_address(&alloc_id(p.required("AllocationId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_addresses(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "AllocationId", alloc_id)?;
    let ips = p.list("PublicIp");
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.elastic_ip(id).is_ok(),
        "InvalidAllocationID.NotFound",
        "allocation",
    )?;
    let addresses = describe::page(
        ctx.action,
        p,
        m.elastic_ips().filter(|e| {
            (asked.is_empty() || asked.contains(&e.allocation_id))
                && (ips.is_empty() || ips.contains(&e.public_ip.to_string()))
        }),
        |e| e.allocation_id.to_string(),
        |e, name| match name {
            "allocation-id" => one(&e.allocation_id),
            "public-ip" => one(e.public_ip),
            "domain" => one("vpc"),
            "instance-id" => Some(e.association.iter().map(|(_, i)| i.to_string()).collect()),
            "association-id" => Some(e.association.iter().map(|(a, _)| a.to_string()).collect()),
            _ => tag_attr(&e.tags, name),
        },
    )?;
    addresses.write(x, "addressesSet", |x, e| write_address(x, m, e));
    Ok(())
}
