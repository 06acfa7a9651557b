//! VPCs, their attributes, and subnets.

use super::*;

pub(super) fn write_vpc(x: &mut Xml, vpc: &Vpc) {
    write_vpc_as(x, vpc, |b| b.state.as_str());
}

/// A VPC, its IPv6 blocks in the states `state` gives them.
fn write_vpc_as(x: &mut Xml, vpc: &Vpc, state: impl Fn(&Ipv6Block) -> &'static str) {
    x.leaf("vpcId", &vpc.id)
        .leaf("ownerId", OWNER_ID)
        .leaf("state", "available")
        .leaf("cidrBlock", vpc.cidr)
        .set("cidrBlockAssociationSet", cidr_associations(vpc), |x, (id, cidr)| {
            x.leaf("cidrBlock", cidr).leaf("associationId", id).node("cidrBlockState", |x| {
                x.leaf("state", "associated");
            });
        })
        .set("ipv6CidrBlockAssociationSet", &vpc.ipv6_blocks, |x, b| {
            write_vpc_ipv6_block(x, b, state(b));
        })
        .leaf("dhcpOptionsId", vpc.dhcp_options.as_ref().map_or("default", |d| d.as_str()))
        .leaf("instanceTenancy", "default")
        .leaf("isDefault", vpc.is_default)
        .tags(&vpc.tags);
}

/// One IPv6 block of a VPC (`VpcIpv6CidrBlockAssociation`), in `state`.
fn write_vpc_ipv6_block(x: &mut Xml, b: &Ipv6Block, state: &str) {
    x.leaf("associationId", &b.id)
        .leaf("ipv6CidrBlock", b.cidr)
        .node("ipv6CidrBlockState", |x| {
            x.leaf("state", state);
        })
        .leaf("networkBorderGroup", REGION)
        .leaf("ipv6Pool", "Amazon")
        .leaf("ipv6AddressAttribute", "public")
        .leaf("ipSource", "amazon");
}

/// One IPv6 block of a subnet (`SubnetIpv6CidrBlockAssociation`), in `state`.
fn write_subnet_ipv6_block(x: &mut Xml, b: &Ipv6Block, state: &str) {
    x.leaf("associationId", &b.id)
        .leaf("ipv6CidrBlock", b.cidr)
        .node("ipv6CidrBlockState", |x| {
            x.leaf("state", state);
        })
        .leaf("ipv6AddressAttribute", "public")
        .leaf("ipSource", "amazon");
}

/// Refuses the IPv6 sources vpclab does not emulate (BYOIP pools, IPAM) and a network
/// border group other than the Region's; `Ok(true)` when an Amazon-provided block is
/// asked for.
fn amazon_ipv6(p: &Params) -> Result<bool, ApiError> {
    for name in ["Ipv6Pool", "Ipv6CidrBlock", "Ipv6IpamPoolId", "Ipv6NetmaskLength"] {
        if p.get(name).is_some() {
            return Err(invalid(format!(
                "vpclab's IPv6 blocks come from Amazon's pool only: {name} (BYOIP, IPAM) is not \
                 available; ask for AmazonProvidedIpv6CidrBlock."
            )));
        }
    }
    if let Some(group) = p.get("Ipv6CidrBlockNetworkBorderGroup").filter(|g| *g != REGION) {
        return Err(invalid(format!(
            "Value ({group}) for parameter ipv6CidrBlockNetworkBorderGroup is invalid: the only \
             network border group is {REGION}."
        )));
    }
    Ok(p.bool("AmazonProvidedIpv6CidrBlock")? == Some(true))
}

/// A VPC's IPv4 CIDRs with their association ids, the primary first.
fn cidr_associations(vpc: &Vpc) -> Vec<(String, Ipv4Net)> {
    std::iter::once((vpc.primary_association(), vpc.cidr))
        .chain(vpc.secondary_cidrs.iter().map(|a| (a.id.clone(), a.cidr)))
        .collect()
}

/// AssociateVpcCidrBlock: a secondary IPv4 CIDR, or an Amazon-provided IPv6 /56, routed
/// by a new `local` route in every table of the VPC.
pub(super) fn associate_vpc_cidr_block(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    if amazon_ipv6(p)? {
        if p.get("CidrBlock").is_some() {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "The parameters 'cidrBlock' and 'amazonProvidedIpv6CidrBlock' cannot \
                          be given together."
                    .into(),
            });
        }
        let (id, _) = ctx.model.associate_vpc_ipv6(&vpc)?;
        let v = ctx.model.vpc(&vpc)?;
        let block = v.ipv6_blocks.iter().find(|b| b.id == id).expect("just associated");
        x.leaf("vpcId", &vpc).node("ipv6CidrBlockAssociation", |x| {
            write_vpc_ipv6_block(x, block, "associating");
        });
        return Ok(());
    }
    let cidr = cidr(p, "CidrBlock")?;
    let id = ctx.model.associate_vpc_cidr(&vpc, cidr)?;
    x.leaf("vpcId", &vpc).node("cidrBlockAssociation", |x| {
        x.leaf("associationId", &id).leaf("cidrBlock", cidr.trunc()).node("cidrBlockState", |x| {
            x.leaf("state", "associating");
        });
    });
    Ok(())
}

/// DisassociateVpcCidrBlock: a secondary IPv4 CIDR, or an IPv6 block, without subnets.
pub(super) fn disassociate_vpc_cidr_block(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = p.required("AssociationId")?;
    if ctx.model.vpc_of_ipv6_association(id).is_some() {
        let (vpc, _) = ctx.model.disassociate_vpc_ipv6(id)?;
        let v = ctx.model.vpc(&vpc)?;
        let block = v.ipv6_blocks.iter().find(|b| b.id == id).expect("still listed");
        x.leaf("vpcId", &vpc).node("ipv6CidrBlockAssociation", |x| {
            write_vpc_ipv6_block(x, block, "disassociating");
        });
        return Ok(());
    }
    let (vpc, cidr) = ctx.model.disassociate_vpc_cidr(id)?;
    x.leaf("vpcId", &vpc).node("cidrBlockAssociation", |x| {
        x.leaf("associationId", id).leaf("cidrBlock", cidr).node("cidrBlockState", |x| {
            x.leaf("state", "disassociating");
        });
    });
    Ok(())
}

pub(super) fn create_default_vpc(
    ctx: &mut Context<'_>,
    _: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = ctx.model.create_default_vpc()?;
    let vpc = ctx.model.vpc(&id)?;
    x.node("vpc", |x| write_vpc(x, vpc));
    Ok(())
}

pub(super) fn create_vpc(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    if let Some(tenancy) = p.get("InstanceTenancy").filter(|t| *t != "default") {
        return Err(invalid(format!(
            "vpclab has default tenancy only: InstanceTenancy {tenancy} is not available."
        )));
    }
    let ipv6 = amazon_ipv6(p)?;
    let id = ctx.model.create_vpc(cidr(p, "CidrBlock")?, p.tag_specifications("vpc")?)?;
    if ipv6 {
        ctx.model.associate_vpc_ipv6(&id)?;
    }
    let vpc = ctx.model.vpc(&id)?;
    // The IPv6 block is still being associated as the call answers, on AWS.
    x.node("vpc", |x| write_vpc_as(x, vpc, |_| "associating"));
    Ok(())
}

pub(super) fn describe_vpcs(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "VpcId", vpc_id)?;
    let m = &*ctx.model;
    require_all(&asked, |id| m.vpc(id).is_ok(), "InvalidVpcID.NotFound", "vpc")?;
    let vpcs = describe::page(
        ctx.action,
        p,
        m.vpcs().filter(|v| asked.is_empty() || asked.contains(&v.id)),
        |v| v.id.to_string(),
        |v, name| match name {
            "vpc-id" => one(&v.id),
            "cidr" | "cidr-block" => one(v.cidr),
            "cidr-block-association.cidr-block" => Some(v.cidrs().map(|c| c.to_string()).collect()),
            "cidr-block-association.association-id" => {
                Some(cidr_associations(v).into_iter().map(|(id, _)| id).collect())
            }
            "cidr-block-association.state" => one("associated"),
            "ipv6-cidr-block-association.ipv6-cidr-block" => {
                Some(v.ipv6_blocks.iter().map(|b| b.cidr.to_string()).collect())
            }
            "ipv6-cidr-block-association.association-id" => {
                Some(v.ipv6_blocks.iter().map(|b| b.id.clone()).collect())
            }
            "ipv6-cidr-block-association.state" => {
                Some(v.ipv6_blocks.iter().map(|b| b.state.as_str().to_owned()).collect())
            }
            "ipv6-cidr-block-association.ipv6-pool" => {
                Some(v.ipv6_blocks.iter().map(|_| "Amazon".to_owned()).collect())
            }
            "dhcp-options-id" => one(v.dhcp_options.as_ref().map_or("default", |d| d.as_str())),
            "state" => one("available"),
            "is-default" | "isDefault" => one(v.is_default),
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&v.tags, name),
        },
    )?;
    vpcs.write(x, "vpcSet", write_vpc);
    Ok(())
}

pub(super) fn delete_vpc(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    ctx.model.delete_vpc(&vpc_id(p.required("VpcId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn write_subnet(x: &mut Xml, m: &Model, s: &Subnet) {
    x.leaf("subnetId", &s.id)
        .leaf("subnetArn", format!("arn:aws:ec2:{REGION}:{OWNER_ID}:subnet/{}", s.id))
        .leaf("state", "available")
        .leaf("vpcId", &s.vpc)
        .opt("cidrBlock", s.cidr)
        .leaf("availableIpAddressCount", m.available_addresses(s))
        .leaf("availabilityZone", &s.zone)
        .leaf("availabilityZoneId", zone_id(&s.zone))
        .leaf("defaultForAz", s.default_for_az)
        .leaf("mapPublicIpOnLaunch", s.map_public_ip_on_launch)
        .leaf("assignIpv6AddressOnCreation", s.assign_ipv6_on_creation)
        .set("ipv6CidrBlockAssociationSet", &s.ipv6_blocks, |x, b| {
            write_subnet_ipv6_block(x, b, b.state.as_str());
        })
        .leaf("ownerId", OWNER_ID)
        .leaf("enableDns64", s.enable_dns64)
        .leaf("ipv6Native", s.ipv6_native())
        .node("privateDnsNameOptionsOnLaunch", |x| {
            super::instances::write_dns_name_options(x, &s.dns_names_on_launch);
        })
        .tags(&s.tags);
}

pub(super) fn create_subnet(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    let zone = match (p.get("AvailabilityZone"), p.get("AvailabilityZoneId")) {
        (Some(zone), _) => Some(zone.to_owned()),
        (None, Some(id)) => {
            let index: usize = id.strip_prefix("use1-az").and_then(|n| n.parse().ok()).unwrap_or(0);
            Some(ZONES.get(index.wrapping_sub(1)).map_or(id.to_owned(), |z| (*z).to_owned()))
        }
        (None, None) => None,
    };
    let ipv6 = cidr6(p, "Ipv6CidrBlock")?;
    let tags = p.tag_specifications("subnet")?;
    let id = if p.bool("Ipv6Native")? == Some(true) {
        match (p.get("CidrBlock"), ipv6) {
            (_, None) => {
                return Err(ApiError {
                    code: "MissingParameter",
                    message: "Either 'ipv6CidrBlock' or 'ipv6IpamPoolId' should be provided."
                        .into(),
                });
            }
            (Some(_), Some(_)) => {
                return Err(ApiError {
                    code: "InvalidParameterCombination",
                    message: "When specifying ipv4 parameters, cidrBlock or ipv4IpamPoolId, you \
                              cannot set ipv6Native to true."
                        .into(),
                });
            }
            (None, Some(block)) => {
                ctx.model.create_ipv6_native_subnet(&vpc, block, zone.as_deref(), tags)?
            }
        }
    } else {
        let id = ctx.model.create_subnet(&vpc, cidr(p, "CidrBlock")?, zone.as_deref(), tags)?;
        if let Some(block) = ipv6 {
            ctx.model.associate_subnet_ipv6(&id, block)?;
        }
        id
    };
    let m = &*ctx.model;
    x.node("subnet", |x| write_subnet(x, m, m.subnet(&id).expect("just created")));
    Ok(())
}

pub(super) fn describe_subnets(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "SubnetId", subnet_id)?;
    let m = &*ctx.model;
    require_all(&asked, |id| m.subnet(id).is_ok(), "InvalidSubnetID.NotFound", "subnet")?;
    let subnets = describe::page(
        ctx.action,
        p,
        m.subnets().filter(|s| asked.is_empty() || asked.contains(&s.id)),
        |s| s.id.to_string(),
        |s, name| match name {
            "subnet-id" => one(&s.id),
            "vpc-id" => one(&s.vpc),
            "cidr-block" | "cidr" | "cidrBlock" => maybe(s.cidr),
            "availability-zone" | "availabilityZone" => one(&s.zone),
            "availability-zone-id" => one(zone_id(&s.zone)),
            "state" => one("available"),
            "map-public-ip-on-launch" => one(s.map_public_ip_on_launch),
            "default-for-az" | "defaultForAz" => one(s.default_for_az),
            "owner-id" => one(OWNER_ID),
            "ipv6-cidr-block-association.ipv6-cidr-block" => {
                Some(s.ipv6_blocks.iter().map(|b| b.cidr.to_string()).collect())
            }
            "ipv6-cidr-block-association.association-id" => {
                Some(s.ipv6_blocks.iter().map(|b| b.id.clone()).collect())
            }
            "ipv6-cidr-block-association.state" => {
                Some(s.ipv6_blocks.iter().map(|b| b.state.as_str().to_owned()).collect())
            }
            "ipv6-native" => one(s.ipv6_native()),
            "enable-dns64" => one(s.enable_dns64),
            _ => tag_attr(&s.tags, name),
        },
    )?;
    subnets.write(x, "subnetSet", |x, s| write_subnet(x, m, s));
    Ok(())
}

pub(super) fn delete_subnet(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_subnet(&subnet_id(p.required("SubnetId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn modify_subnet_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    ctx.model.subnet(&subnet)?;
    let names = super::instances::dns_name_change(
        p,
        "PrivateDnsHostnameTypeOnLaunch",
        "",
        "OnLaunch.Value",
    )?;
    if !names.is_empty() {
        ctx.model.set_subnet_dns_names(&subnet, &names)?;
    }
    if let Some(on) = p.bool("MapPublicIpOnLaunch.Value")? {
        ctx.model.set_map_public_ip_on_launch(&subnet, on)?;
    }
    if let Some(on) = p.bool("AssignIpv6AddressOnCreation.Value")? {
        ctx.model.set_assign_ipv6_on_creation(&subnet, on)?;
    }
    if let Some(on) = p.bool("EnableDns64.Value")? {
        ctx.model.set_enable_dns64(&subnet, on)?;
    }
    x.leaf("return", "true");
    Ok(())
}

/// AssociateSubnetCidrBlock: the subnet's IPv6 block, from inside its VPC's.
pub(super) fn associate_subnet_cidr_block(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    if p.get("Ipv6IpamPoolId").is_some() || p.get("Ipv6NetmaskLength").is_some() {
        return Err(invalid("vpclab has no IPAM: give the subnet's block as Ipv6CidrBlock."));
    }
    let block = cidr6(p, "Ipv6CidrBlock")?.ok_or_else(|| ApiError {
        code: "MissingParameter",
        message: "The request must contain the parameter ipv6CidrBlock".into(),
    })?;
    let id = ctx.model.associate_subnet_ipv6(&subnet, block)?;
    let s = ctx.model.subnet(&subnet)?;
    let b = s.ipv6_blocks.iter().find(|b| b.id == id).expect("just associated");
    x.leaf("subnetId", &subnet).node("ipv6CidrBlockAssociation", |x| {
        write_subnet_ipv6_block(x, b, "associating");
    });
    Ok(())
}

/// DisassociateSubnetCidrBlock: the subnet's IPv6 block, while no address of it is held.
pub(super) fn disassociate_subnet_cidr_block(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = p.required("AssociationId")?;
    let (subnet, _) = ctx.model.disassociate_subnet_ipv6(id)?;
    let s = ctx.model.subnet(&subnet)?;
    let b = s.ipv6_blocks.iter().find(|b| b.id == id).expect("still listed");
    x.leaf("subnetId", &subnet).node("ipv6CidrBlockAssociation", |x| {
        write_subnet_ipv6_block(x, b, "disassociating");
    });
    Ok(())
}

pub(super) fn modify_vpc_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let vpc = vpc_id(p.required("VpcId")?)?;
    let support = p.bool("EnableDnsSupport.Value")?;
    let hostnames = p.bool("EnableDnsHostnames.Value")?;
    ctx.model.set_vpc_dns(&vpc, support, hostnames)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_vpc_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let vpc = ctx.model.vpc(&vpc_id(p.required("VpcId")?)?)?;
    let (element, value) = match p.required("Attribute")? {
        "enableDnsSupport" => ("enableDnsSupport", vpc.dns_support),
        "enableDnsHostnames" => ("enableDnsHostnames", vpc.dns_hostnames),
        // No CloudWatch: the metrics are off (ModifyVpcAttribute may keep them so).
        "enableNetworkAddressUsageMetrics" => ("enableNetworkAddressUsageMetrics", false),
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

/// CreateDefaultSubnet: the default VPC's subnet in a zone that lost (or never had) one.
pub(super) fn create_default_subnet(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let by_id = p.get("AvailabilityZoneId").map(|id| {
        ZONES.iter().copied().find(|z| zone_id(z) == id).ok_or_else(|| {
            invalid(format!("Value ({id}) for parameter availabilityZoneId is invalid."))
        })
    });
    let zone = match by_id {
        Some(zone) => zone?,
        None => p.required("AvailabilityZone")?,
    };
    if !ZONES.contains(&zone) {
        return Err(invalid(format!(
            "Value ({zone}) for parameter availabilityZone is invalid. Subnets can currently \
             only be created in the following availability zones: {}.",
            ZONES.join(", ")
        )));
    }
    if p.bool("Ipv6Native")? == Some(true) {
        return Err(invalid(
            "vpclab's default subnets are IPv4 ones: CreateDefaultSubnet does not take \
             Ipv6Native (CreateSubnet makes IPv6-only subnets).",
        ));
    }
    let id = ctx.model.create_default_subnet(zone)?;
    let m = &*ctx.model;
    x.node("subnet", |x| write_subnet(x, m, m.subnet(&id).expect("just made")));
    Ok(())
}

fn write_reservation(x: &mut Xml, subnet: &SubnetId, r: &vpclab_model::CidrReservation) {
    x.leaf("subnetCidrReservationId", &r.id)
        .leaf("subnetId", subnet)
        .leaf("cidr", r.cidr)
        .leaf("reservationType", &r.kind)
        .leaf("ownerId", OWNER_ID)
        .opt("description", r.description.as_ref())
        .tags(&r.tags);
}

/// CreateSubnetCidrReservation (IPv4): addresses automatic assignment leaves alone.
pub(super) fn create_subnet_cidr_reservation(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    let text = p.required("Cidr")?;
    let block: Ipv4Net = text.parse().map_err(|_| {
        invalid(format!("Value ({text}) for parameter cidr is invalid: vpclab's are IPv4 CIDRs."))
    })?;
    let id = ctx.model.create_subnet_cidr_reservation(
        &subnet,
        block,
        p.required("ReservationType")?,
        p.get("Description").map(str::to_owned),
        p.tag_specifications("subnet-cidr-reservation")?,
    )?;
    let s = ctx.model.subnet(&subnet)?;
    let r = s.reservations.iter().find(|r| r.id == id).expect("just made");
    x.node("subnetCidrReservation", |x| write_reservation(x, &subnet, r));
    Ok(())
}

pub(super) fn delete_subnet_cidr_reservation(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (subnet, r) =
        ctx.model.delete_subnet_cidr_reservation(p.required("SubnetCidrReservationId")?)?;
    x.node("deletedSubnetCidrReservation", |x| write_reservation(x, &subnet, &r));
    Ok(())
}

pub(super) fn get_subnet_cidr_reservations(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    let s = ctx.model.subnet(&subnet)?;
    let page = describe::page(
        ctx.action,
        p,
        s.reservations.iter(),
        |r| r.id.clone(),
        |r, name| match name {
            "reservationType" => one(&r.kind),
            "subnet-id" => one(&subnet),
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&r.tags, name),
        },
    )?;
    page.write(x, "subnetIpv4CidrReservationSet", |x, r| write_reservation(x, &subnet, r));
    x.set("subnetIpv6CidrReservationSet", std::iter::empty::<()>(), |_, ()| {});
    Ok(())
}
