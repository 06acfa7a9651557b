//! Transit gateways: the gateways, their VPC and peering attachments, their route tables
//! with associations and propagations, and static routes.
//!
//! A peering attachment joins two transit gateways. It has one id and one association
//! per side; from each side, what it attaches (`resourceId`) is the gateway at the other
//! end. It carries static routes only, once accepted.
//!
//! A deleted gateway, attachment or route table, and a rejected peering attachment, is
//! gone at once for everything but the Describe calls, which list it for two hours (as
//! AWS does): `deleting` (`rejecting`) for the transition time, then `deleted`
//! (`rejected`). Deleting, accepting or rejecting it again is `IncorrectState`.
//!
//! Several of these replies name their lists without the usual `Set` suffix
//! (`transitGatewayVpcAttachments`, `associations`, `subnetIds`, …): the names below are
//! botocore's `locationName`s, not the convention.

use ipnet::{IpNet, Ipv6Net};
use vpclab_model::{
    AttachmentResource, TgwAttachment, TgwOptions, TgwRoute, TgwRouteTable, TgwRouteType,
    TransitGateway, VpcAttachmentOptions, check_amazon_asn,
};

use super::*;

/// How many CIDR blocks a transit gateway takes (AWS's quota).
const MAX_CIDR_BLOCKS: usize = 5;

/// An option as AWS spells it.
fn flag(on: bool) -> &'static str {
    if on { "enable" } else { "disable" }
}

/// An `enable`/`disable` option, if given.
fn toggle(p: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some("enable") => Ok(Some(true)),
        Some("disable") => Ok(Some(false)),
        Some(v) => Err(invalid(format!(
            "Value ({v}) for parameter {name} is invalid. Expected: 'enable' or 'disable'."
        ))),
    }
}

/// Refuses `name=enable` for a feature a lab does not have (`disable` asks for nothing).
fn refuse_enable(p: &Params, name: &str, why: &str) -> Result<(), ApiError> {
    match toggle(p, name)? {
        Some(true) => Err(invalid(format!("{why}: {name} must be disable."))),
        _ => Ok(()),
    }
}

/// Deleting (accepting, rejecting) `what` `id`, gone but still listed in `state`.
fn still_listed(what: &str, id: &dyn std::fmt::Display, state: &str) -> ApiError {
    ApiError { code: "IncorrectState", message: format!("{what} {id} is in state {state}.") }
}

/// A transit gateway as Describe lists it, with when it was deleted if it was.
fn tgw_state(g: &TransitGateway, gone: Option<u64>, clock: Clock) -> &'static str {
    clock.lifecycle(g.created_at, gone)
}

// ---- transit gateways ---------------------------------------------------------------

fn write_tgw(x: &mut Xml, g: &TransitGateway, state: &str) {
    let o = &g.options;
    x.leaf("transitGatewayId", &g.id)
        .leaf(
            "transitGatewayArn",
            format!("arn:aws:ec2:{REGION}:{OWNER_ID}:transit-gateway/{}", g.id),
        )
        .leaf("state", state)
        .leaf("ownerId", OWNER_ID)
        .leaf("description", &g.description)
        .leaf("creationTime", iso8601(g.created_at))
        .node("options", |x| {
            x.leaf("amazonSideAsn", o.amazon_side_asn);
            if !o.cidr_blocks.is_empty() {
                x.values("transitGatewayCidrBlocks", &o.cidr_blocks);
            }
            x.leaf("autoAcceptSharedAttachments", flag(o.auto_accept_shared_attachments))
                .leaf("defaultRouteTableAssociation", flag(o.default_route_table_association))
                .opt("associationDefaultRouteTableId", o.association_default_route_table.as_ref())
                .leaf("defaultRouteTablePropagation", flag(o.default_route_table_propagation))
                .opt("propagationDefaultRouteTableId", o.propagation_default_route_table.as_ref())
                .leaf("vpnEcmpSupport", flag(o.vpn_ecmp_support))
                .leaf("dnsSupport", flag(o.dns_support))
                .leaf("securityGroupReferencingSupport", flag(o.security_group_referencing_support))
                .leaf("multicastSupport", flag(o.multicast_support));
        })
        .tags(&g.tags);
}

/// The options CreateTransitGateway and ModifyTransitGateway share, over `o`.
fn tgw_options(p: &Params, mut o: TgwOptions) -> Result<TgwOptions, ApiError> {
    if let Some(asn) = p.get("Options.AmazonSideAsn") {
        let asn = asn.parse().map_err(|_| {
            invalid(format!("Value ({asn}) for parameter Options.AmazonSideAsn is invalid."))
        })?;
        o.amazon_side_asn = check_amazon_asn(asn)?;
    }
    for (name, field) in [
        ("AutoAcceptSharedAttachments", &mut o.auto_accept_shared_attachments),
        ("DefaultRouteTableAssociation", &mut o.default_route_table_association),
        ("DefaultRouteTablePropagation", &mut o.default_route_table_propagation),
        ("VpnEcmpSupport", &mut o.vpn_ecmp_support),
        ("DnsSupport", &mut o.dns_support),
        ("SecurityGroupReferencingSupport", &mut o.security_group_referencing_support),
    ] {
        if let Some(on) = toggle(p, &format!("Options.{name}"))? {
            *field = on;
        }
    }
    Ok(o)
}

/// The CIDR blocks of the list `name`, canonical: IPv4 /24 or larger outside
/// 169.254.0.0/16, or IPv6 /64 or larger (only stored: they address Connect peers).
fn tgw_cidr_blocks(p: &Params, name: &str) -> Result<Vec<String>, ApiError> {
    p.list(name)
        .iter()
        .map(|text| {
            let block: IpNet = text.parse().map_err(|_| {
                invalid(format!("Value ({text}) for parameter {name} is not a valid CIDR block."))
            })?;
            let link_local = Ipv4Net::new(Ipv4Addr::new(169, 254, 0, 0), 16).expect("a prefix");
            let fits = match block.trunc() {
                IpNet::V4(v4) => {
                    v4.prefix_len() <= 24 && !v4.contains(&link_local) && !link_local.contains(&v4)
                }
                IpNet::V6(v6) => v6.prefix_len() <= 64,
            };
            if !fits {
                return Err(invalid(format!(
                    "The transit gateway CIDR block {text} is invalid: it must be an IPv4 /24 \
                     or larger outside 169.254.0.0/16, or an IPv6 /64 or larger."
                )));
            }
            Ok(block.trunc().to_string())
        })
        .collect()
}

/// Refuses more CIDR blocks than a transit gateway takes.
fn check_cidr_block_count(blocks: &[String]) -> Result<(), ApiError> {
    if blocks.len() > MAX_CIDR_BLOCKS {
        return Err(invalid(format!(
            "A transit gateway takes at most {MAX_CIDR_BLOCKS} CIDR blocks."
        )));
    }
    Ok(())
}

pub(super) fn create_transit_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let mut options = tgw_options(p, TgwOptions::default())?;
    refuse_enable(p, "Options.MulticastSupport", "vpclab has no multicast")?;
    options.cidr_blocks = tgw_cidr_blocks(p, "Options.TransitGatewayCidrBlocks")?;
    check_cidr_block_count(&options.cidr_blocks)?;
    let description = p.get("Description").unwrap_or_default().to_owned();
    let tags = p.tag_specifications("transit-gateway")?;
    let id = ctx.model.create_transit_gateway(description, options, tags, ctx.now)?;
    let g = ctx.model.transit_gateway(&id)?;
    // AWS answers a creation pending, however soon the gateway is available.
    x.node("transitGateway", |x| write_tgw(x, g, "pending"));
    Ok(())
}

/// ModifyTransitGateway: options for the attachments made from now on.
pub(super) fn modify_transit_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = tgw_id(p.required("TransitGatewayId")?)?;
    let mut options = tgw_options(p, ctx.model.transit_gateway(&id)?.options.clone())?;
    refuse_enable(p, "Options.EncryptionSupport", "vpclab has no VPC Encryption Control")?;
    for block in tgw_cidr_blocks(p, "Options.AddTransitGatewayCidrBlocks")? {
        if !options.cidr_blocks.contains(&block) {
            options.cidr_blocks.push(block);
        }
    }
    for block in tgw_cidr_blocks(p, "Options.RemoveTransitGatewayCidrBlocks")? {
        let before = options.cidr_blocks.len();
        options.cidr_blocks.retain(|b| *b != block);
        if options.cidr_blocks.len() == before {
            return Err(invalid(format!("The CIDR block {block} is not a CIDR block of {id}.")));
        }
    }
    check_cidr_block_count(&options.cidr_blocks)?;
    if let Some(table) = p.get("Options.AssociationDefaultRouteTableId") {
        options.association_default_route_table = Some(tgw_rtb_id(table)?);
    }
    if let Some(table) = p.get("Options.PropagationDefaultRouteTableId") {
        options.propagation_default_route_table = Some(tgw_rtb_id(table)?);
    }
    for (on, table, what) in [
        (
            options.default_route_table_association,
            &options.association_default_route_table,
            "Association",
        ),
        (
            options.default_route_table_propagation,
            &options.propagation_default_route_table,
            "Propagation",
        ),
    ] {
        if on && table.is_none() {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: format!(
                    "enable DefaultRouteTable{what} conflicts with {what}DefaultRouteTableId null"
                ),
            });
        }
        let named = p.get(&format!("Options.{what}DefaultRouteTableId")).is_some();
        if !on && named {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: format!(
                    "disable DefaultRouteTable{what} conflicts with {what}DefaultRouteTableId"
                ),
            });
        }
    }
    let description = p.get("Description").map(str::to_owned);
    ctx.model.modify_transit_gateway(&id, description, |o| *o = options)?;
    let g = ctx.model.transit_gateway(&id)?;
    x.node("transitGateway", |x| write_tgw(x, g, "modifying"));
    Ok(())
}

/// DeleteTransitGateway: refused while it has attachments; answers the gateway as it
/// was, `deleting`.
pub(super) fn delete_transit_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = tgw_id(p.required("TransitGatewayId")?)?;
    if let Some((_, at)) = ctx.model.deleted_transit_gateway(&id, ctx.now) {
        let state = ctx.clock().state(at, DELETED);
        return Err(still_listed("Transit Gateway", &id, state));
    }
    let g = ctx.model.transit_gateway(&id)?.clone();
    ctx.model.delete_transit_gateway(&id, ctx.now)?;
    x.node("transitGateway", |x| write_tgw(x, &g, "deleting"));
    Ok(())
}

pub(super) fn describe_transit_gateways(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "TransitGatewayIds", tgw_id)?;
    let (m, clock) = (&*ctx.model, ctx.clock());
    // The live ones, and those deleted within two hours.
    let all: Vec<(&TransitGateway, Option<u64>)> = m
        .transit_gateways()
        .map(|g| (g, None))
        .chain(m.deleted_transit_gateways(ctx.now).map(|(g, at)| (g, Some(at))))
        .collect();
    asked.iter().try_for_each(|id| match all.iter().any(|(g, _)| &g.id == id) {
        true => Ok(()),
        false => m.transit_gateway(id).map(drop),
    })?;
    let gateways = describe::page(
        ctx.action,
        p,
        all.iter().filter(|(g, _)| asked.is_empty() || asked.contains(&g.id)),
        |(g, _)| g.id.to_string(),
        |(g, gone), name| {
            let o = &g.options;
            match name {
                "transit-gateway-id" => one(&g.id),
                "state" => one(tgw_state(g, *gone, clock)),
                "owner-id" => one(OWNER_ID),
                "options.amazon-side-asn" => one(o.amazon_side_asn),
                "options.association-default-route-table-id" => Some(
                    o.association_default_route_table.iter().map(ToString::to_string).collect(),
                ),
                "options.propagation-default-route-table-id" => Some(
                    o.propagation_default_route_table.iter().map(ToString::to_string).collect(),
                ),
                "options.auto-accept-shared-attachments" => {
                    one(flag(o.auto_accept_shared_attachments))
                }
                "options.default-route-table-association" => {
                    one(flag(o.default_route_table_association))
                }
                "options.default-route-table-propagation" => {
                    one(flag(o.default_route_table_propagation))
                }
                "options.dns-support" => one(flag(o.dns_support)),
                "options.vpn-ecmp-support" => one(flag(o.vpn_ecmp_support)),
                _ => tag_attr(&g.tags, name),
            }
        },
    )?;
    gateways.write(x, "transitGatewaySet", |x, (g, gone)| {
        write_tgw(x, g, tgw_state(g, *gone, clock));
    });
    Ok(())
}

// ---- attachments --------------------------------------------------------------------

/// The kinds of attachment, as the actions named for one kind know them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `…VpcAttachment…`.
    Vpc,
    /// `…PeeringAttachment…`.
    Peering,
    /// A VPN connection's (no action is named for it: the connection's own make and
    /// delete it).
    Vpn,
}

impl Kind {
    /// The kind `a` is.
    fn of(a: &TgwAttachment) -> Self {
        match a.resource {
            AttachmentResource::Vpc { .. } => Self::Vpc,
            AttachmentResource::Peering { .. } => Self::Peering,
            AttachmentResource::Vpn { .. } => Self::Vpn,
        }
    }

    /// Its name in AWS's messages.
    fn name(self) -> &'static str {
        match self {
            Self::Vpc => "VPC",
            Self::Peering => "Peering",
            Self::Vpn => "VPN",
        }
    }
}

/// The attachment `id`, which must be of `kind`: the actions named for one kind do not
/// find the others.
fn attachment_of<'a>(
    m: &'a Model,
    id: &TgwAttachmentId,
    kind: Kind,
) -> Result<&'a TgwAttachment, ApiError> {
    let a = m.tgw_attachment(id)?;
    if Kind::of(a) == kind {
        return Ok(a);
    }
    Err(not_of_kind(id, kind))
}

/// An attachment of another kind than the action's: to the action, none.
fn not_of_kind(id: &TgwAttachmentId, kind: Kind) -> ApiError {
    ApiError {
        code: "InvalidTransitGatewayAttachmentID.NotFound",
        message: format!(
            "Transit Gateway {} Attachment {id} was deleted or does not exist.",
            kind.name()
        ),
    }
}

/// The attachment `id` as Describe lists it at `now` — live, or gone (deleted or
/// rejected) within two hours, with when — which must be of `kind`, if given.
fn listed_attachment<'a>(
    m: &'a Model,
    id: &TgwAttachmentId,
    kind: Option<Kind>,
    now: u64,
) -> Result<(&'a TgwAttachment, Option<u64>), ApiError> {
    match (m.deleted_tgw_attachment(id, now), kind) {
        (Some((a, _)), Some(kind)) if Kind::of(a) != kind => Err(not_of_kind(id, kind)),
        (Some((a, at)), _) => Ok((a, Some(at))),
        (None, Some(kind)) => Ok((attachment_of(m, id, kind)?, None)),
        (None, None) => Ok((m.tgw_attachment(id)?, None)),
    }
}

/// Refuses to act on attachment `a` when it is gone (`gone`: when) but still listed.
fn refuse_gone_attachment(
    a: &TgwAttachment,
    gone: Option<u64>,
    clock: Clock,
) -> Result<(), ApiError> {
    match gone {
        Some(at) => {
            Err(still_listed("Transit Gateway Attachment", &a.id, clock.state(at, a.end_states())))
        }
        None => Ok(()),
    }
}

/// What an attachment reports: a VPC or VPN attachment `pending` for the transition time
/// after its creation, then `available`; a peering attachment where its accepter left it;
/// one gone at `gone`, `deleting` then `deleted` (`rejecting` then `rejected`).
fn attachment_state(a: &TgwAttachment, gone: Option<u64>, clock: Clock) -> &'static str {
    match (gone, Kind::of(a)) {
        (Some(at), _) => clock.state(at, a.end_states()),
        (None, Kind::Vpc | Kind::Vpn) => clock.state(a.created_at, CREATED),
        (None, Kind::Peering) => a.settled_state(),
    }
}

/// What `a` attaches as transit gateway `tgw` sees it: for a peering attachment, the
/// gateway at the other end.
fn resource_from(a: &TgwAttachment, tgw: &TransitGatewayId) -> String {
    if a.peer() == Some(tgw) { a.tgw.to_string() } else { a.resource_id() }
}

fn write_vpc_attachment(x: &mut Xml, a: &TgwAttachment, state: &str) {
    let options = a.vpc_options().copied().unwrap_or_default();
    x.leaf("transitGatewayAttachmentId", &a.id)
        .leaf("transitGatewayId", &a.tgw)
        .leaf("vpcId", a.resource_id())
        .leaf("vpcOwnerId", OWNER_ID)
        .leaf("state", state)
        .values("subnetIds", a.subnets().iter().map(|s| &s.subnet))
        .leaf("creationTime", iso8601(a.created_at))
        .node("options", |x| {
            x.leaf("dnsSupport", flag(options.dns_support))
                .leaf(
                    "securityGroupReferencingSupport",
                    flag(options.security_group_referencing_support),
                )
                .leaf("ipv6Support", flag(options.ipv6_support))
                .leaf("applianceModeSupport", flag(options.appliance_mode_support));
        })
        .tags(&a.tags);
}

/// An attachment in DescribeTransitGatewayAttachments' shape (any kind; a peering
/// attachment as its requester sees it).
fn write_attachment(x: &mut Xml, a: &TgwAttachment, state: &str) {
    x.leaf("transitGatewayAttachmentId", &a.id)
        .leaf("transitGatewayId", &a.tgw)
        .leaf("transitGatewayOwnerId", OWNER_ID)
        .leaf("resourceOwnerId", OWNER_ID)
        .leaf("resourceType", a.resource_type())
        .leaf("resourceId", a.resource_id())
        .leaf("state", state);
    if let Some(table) = &a.association {
        x.node("association", |x| {
            x.leaf("transitGatewayRouteTableId", table).leaf("state", "associated");
        });
    }
    x.leaf("creationTime", iso8601(a.created_at)).tags(&a.tags);
}

/// An attachment as associations, propagations and routes of transit gateway `tgw` name
/// it.
fn write_attachment_ref(x: &mut Xml, a: &TgwAttachment, tgw: &TransitGatewayId) {
    x.leaf("transitGatewayAttachmentId", &a.id)
        .leaf("resourceId", resource_from(a, tgw))
        .leaf("resourceType", a.resource_type());
}

/// Values of the filters that name an attachment by what it attaches, as transit gateway
/// `tgw` sees it.
fn attachment_ref_attr(
    a: &TgwAttachment,
    tgw: &TransitGatewayId,
    name: &str,
) -> Option<Vec<String>> {
    match name {
        "transit-gateway-attachment-id" => one(&a.id),
        "resource-id" => one(resource_from(a, tgw)),
        "resource-type" => one(a.resource_type()),
        _ => None,
    }
}

/// A VPC attachment's `Options.*`, over `o`.
fn vpc_attachment_options(
    p: &Params,
    mut o: VpcAttachmentOptions,
) -> Result<VpcAttachmentOptions, ApiError> {
    refuse_enable(p, "Options.Ipv6Support", "vpclab's transit gateways carry no IPv6 yet")?;
    for (name, field) in [
        ("DnsSupport", &mut o.dns_support),
        ("SecurityGroupReferencingSupport", &mut o.security_group_referencing_support),
        ("ApplianceModeSupport", &mut o.appliance_mode_support),
    ] {
        if let Some(on) = toggle(p, &format!("Options.{name}"))? {
            *field = on;
        }
    }
    Ok(o)
}

pub(super) fn create_vpc_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let tgw = tgw_id(p.required("TransitGatewayId")?)?;
    let vpc = vpc_id(p.required("VpcId")?)?;
    let subnets = ids(p, "SubnetIds", subnet_id)?;
    let options = vpc_attachment_options(p, VpcAttachmentOptions::default())?;
    let tags = p.tag_specifications_at("TagSpecifications", "transit-gateway-attachment")?;
    let id = ctx.model.create_tgw_vpc_attachment(&tgw, &vpc, &subnets, options, tags, ctx.now)?;
    let a = ctx.model.tgw_attachment(&id)?;
    x.node("transitGatewayVpcAttachment", |x| write_vpc_attachment(x, a, "pending"));
    Ok(())
}

/// ModifyTransitGatewayVpcAttachment: subnets added and removed, options changed.
pub(super) fn modify_vpc_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = tgw_attach_id(p.required("TransitGatewayAttachmentId")?)?;
    let current =
        attachment_of(ctx.model, &id, Kind::Vpc)?.vpc_options().copied().unwrap_or_default();
    let options = vpc_attachment_options(p, current)?;
    let add = ids(p, "AddSubnetIds", subnet_id)?;
    let remove = ids(p, "RemoveSubnetIds", subnet_id)?;
    ctx.model.modify_tgw_vpc_attachment(&id, &add, &remove, |o| *o = options)?;
    let a = ctx.model.tgw_attachment(&id)?;
    x.node("transitGatewayVpcAttachment", |x| write_vpc_attachment(x, a, "modifying"));
    Ok(())
}

/// Delete…Attachment of an attachment of `kind`: the attachment as it was. Its
/// associations and propagations go with it; static routes to it become blackholes. It
/// stays listed, `deleted`, for two hours; deleting it again is `IncorrectState`.
fn delete_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    kind: Kind,
) -> Result<TgwAttachment, ApiError> {
    let id = tgw_attach_id(p.required("TransitGatewayAttachmentId")?)?;
    let (a, gone) = listed_attachment(ctx.model, &id, Some(kind), ctx.now)?;
    refuse_gone_attachment(a, gone, ctx.clock())?;
    let a = a.clone();
    ctx.model.delete_tgw_attachment_at(&id, ctx.now)?;
    Ok(a)
}

/// DeleteTransitGatewayVpcAttachment: answers the attachment as it was, `deleting`.
pub(super) fn delete_vpc_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let a = delete_attachment(ctx, p, Kind::Vpc)?;
    x.node("transitGatewayVpcAttachment", |x| write_vpc_attachment(x, &a, "deleting"));
    Ok(())
}

/// The attachments (of `kind`, if given) asked for by `TransitGatewayAttachmentIds.N`
/// (all, when none is), each of which must be listed at `now`: live, or gone within two
/// hours, with when.
fn asked_attachments<'a>(
    m: &'a Model,
    p: &Params,
    kind: Option<Kind>,
    now: u64,
) -> Result<Vec<(&'a TgwAttachment, Option<u64>)>, ApiError> {
    let asked = ids(p, "TransitGatewayAttachmentIds", tgw_attach_id)?;
    asked.iter().try_for_each(|id| listed_attachment(m, id, kind, now).map(drop))?;
    Ok(m.tgw_attachments()
        .map(|a| (a, None))
        .chain(m.deleted_tgw_attachments(now).map(|(a, at)| (a, Some(at))))
        .filter(|(a, _)| {
            kind.is_none_or(|kind| Kind::of(a) == kind)
                && (asked.is_empty() || asked.contains(&a.id))
        })
        .collect())
}

pub(super) fn describe_vpc_attachments(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, clock) = (&*ctx.model, ctx.clock());
    let listed = asked_attachments(m, p, Some(Kind::Vpc), ctx.now)?;
    let attachments = describe::page(
        ctx.action,
        p,
        listed.iter(),
        |(a, _)| a.id.to_string(),
        |(a, gone), name| match name {
            "transit-gateway-attachment-id" => one(&a.id),
            "transit-gateway-id" => one(&a.tgw),
            "vpc-id" => one(a.resource_id()),
            "state" => one(attachment_state(a, *gone, clock)),
            _ => tag_attr(&a.tags, name),
        },
    )?;
    attachments.write(x, "transitGatewayVpcAttachments", |x, (a, gone)| {
        write_vpc_attachment(x, a, attachment_state(a, *gone, clock));
    });
    Ok(())
}

pub(super) fn describe_attachments(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, clock) = (&*ctx.model, ctx.clock());
    let listed = asked_attachments(m, p, None, ctx.now)?;
    let attachments = describe::page(
        ctx.action,
        p,
        listed.iter(),
        |(a, _)| a.id.to_string(),
        |(a, gone), name| match name {
            "transit-gateway-id" => one(&a.tgw),
            "transit-gateway-owner-id" | "resource-owner-id" => one(OWNER_ID),
            "state" => one(attachment_state(a, *gone, clock)),
            "association.transit-gateway-route-table-id" => {
                Some(a.association.iter().map(ToString::to_string).collect())
            }
            "association.state" => {
                Some(a.association.iter().map(|_| "associated".to_owned()).collect())
            }
            _ => attachment_ref_attr(a, &a.tgw, name).or_else(|| tag_attr(&a.tags, name)),
        },
    )?;
    attachments.write(x, "transitGatewayAttachments", |x, (a, gone)| {
        write_attachment(x, a, attachment_state(a, *gone, clock));
    });
    Ok(())
}

// ---- peering attachments ------------------------------------------------------------

/// A peering attachment's accepter, as the request named it: its transit gateway, account
/// and Region.
fn accepter(a: &TgwAttachment) -> Option<(&TransitGatewayId, &str, &str)> {
    match &a.resource {
        AttachmentResource::Peering { peer, peer_account, peer_region, .. } => {
            Some((peer, peer_account, peer_region))
        }
        AttachmentResource::Vpc { .. } | AttachmentResource::Vpn { .. } => None,
    }
}

/// A peering attachment's `status.message` in `state`, which is its `status.code` (VPC
/// peering's wording: AWS's for transit gateway peering is not on record).
fn peering_status_message(state: &str, accepter_account: &str) -> String {
    match state {
        "initiatingRequest" => format!("Initiating Request to {accepter_account}"),
        "pendingAcceptance" => format!("Pending Acceptance by {accepter_account}"),
        _ => {
            let mut letters = state.chars();
            letters.next().map(|l| l.to_uppercase().chain(letters).collect()).unwrap_or_default()
        }
    }
}

/// A peering attachment (`TransitGatewayPeeringAttachment`) in `state`; nothing for
/// another kind.
fn write_peering_attachment(x: &mut Xml, a: &TgwAttachment, state: &str) {
    let Some((peer, account, region)) = accepter(a) else { return };
    let info = |x: &mut Xml, tgw: &TransitGatewayId, owner: &str, region: &str| {
        x.leaf("transitGatewayId", tgw).leaf("ownerId", owner).leaf("region", region);
    };
    x.leaf("transitGatewayAttachmentId", &a.id)
        .node("requesterTgwInfo", |x| info(x, &a.tgw, OWNER_ID, REGION))
        .node("accepterTgwInfo", |x| info(x, peer, account, region))
        .node("options", |x| {
            x.leaf("dynamicRouting", "disable");
        })
        .node("status", |x| {
            x.leaf("code", state).leaf("message", peering_status_message(state, account));
        })
        .leaf("state", state)
        .leaf("creationTime", iso8601(a.created_at))
        .tags(&a.tags);
}

/// CreateTransitGatewayPeeringAttachment: a request to the accepter, `pendingAcceptance`
/// until it answers (the reply says `initiatingRequest`, as AWS's does). The accepter's
/// account and Region are labels: its gateway is one of this lab's.
pub(super) fn create_peering_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let tgw = tgw_id(p.required("TransitGatewayId")?)?;
    let peer = tgw_id(p.required("PeerTransitGatewayId")?)?;
    let account = account_id("PeerAccountId", p.required("PeerAccountId")?)?;
    let region = p.required("PeerRegion")?;
    refuse_enable(
        p,
        "Options.DynamicRouting",
        "vpclab's transit gateway peering carries static routes only",
    )?;
    let tags = p.tag_specifications("transit-gateway-attachment")?;
    let id = ctx.model.create_tgw_peering_attachment(
        &tgw,
        &peer,
        account.to_owned(),
        region.to_owned(),
        tags,
        ctx.now,
    )?;
    let a = ctx.model.tgw_attachment(&id)?;
    x.node("transitGatewayPeeringAttachment", |x| {
        write_peering_attachment(x, a, "initiatingRequest");
    });
    Ok(())
}

/// Accept… (`accept`) or RejectTransitGatewayPeeringAttachment: answers the attachment
/// `pending` or `rejecting`, on its way to `available` or `rejected`.
fn answer_peering(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    accept: bool,
) -> Result<(), ApiError> {
    let id = tgw_attach_id(p.required("TransitGatewayAttachmentId")?)?;
    let (a, gone) = listed_attachment(ctx.model, &id, Some(Kind::Peering), ctx.now)?;
    refuse_gone_attachment(a, gone, ctx.clock())?;
    ctx.model.answer_tgw_peering_at(&id, accept, ctx.now)?;
    let a = match ctx.model.deleted_tgw_attachment(&id, ctx.now) {
        Some((rejected, _)) => rejected,
        None => ctx.model.tgw_attachment(&id)?,
    };
    let state = if accept { "pending" } else { "rejecting" };
    x.node("transitGatewayPeeringAttachment", |x| write_peering_attachment(x, a, state));
    Ok(())
}

/// AcceptTransitGatewayPeeringAttachment: each side is associated with its gateway's
/// default association table, when its options say so.
pub(super) fn accept_peering_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    answer_peering(ctx, p, x, true)
}

/// RejectTransitGatewayPeeringAttachment: the attachment is gone, listed `rejected` for
/// two hours.
pub(super) fn reject_peering_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    answer_peering(ctx, p, x, false)
}

/// DeleteTransitGatewayPeeringAttachment (pending acceptance or accepted, from either
/// side; not once rejected): answers the attachment as it was, `deleting`.
pub(super) fn delete_peering_attachment(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let a = delete_attachment(ctx, p, Kind::Peering)?;
    x.node("transitGatewayPeeringAttachment", |x| write_peering_attachment(x, &a, "deleting"));
    Ok(())
}

/// DescribeTransitGatewayPeeringAttachments: `transit-gateway-id` finds an attachment
/// from either of its gateways.
pub(super) fn describe_peering_attachments(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, clock) = (&*ctx.model, ctx.clock());
    let listed = asked_attachments(m, p, Some(Kind::Peering), ctx.now)?;
    let attachments = describe::page(
        ctx.action,
        p,
        listed.iter(),
        |(a, _)| a.id.to_string(),
        |(a, gone), name| {
            let (peer, account, _) = accepter(a)?;
            match name {
                "transit-gateway-attachment-id" => one(&a.id),
                "transit-gateway-id" => Some(vec![a.tgw.to_string(), peer.to_string()]),
                "local-owner-id" => one(OWNER_ID),
                "remote-owner-id" => one(account),
                "state" => one(attachment_state(a, *gone, clock)),
                _ => tag_attr(&a.tags, name),
            }
        },
    )?;
    attachments.write(x, "transitGatewayPeeringAttachments", |x, (a, gone)| {
        write_peering_attachment(x, a, attachment_state(a, *gone, clock));
    });
    Ok(())
}

// ---- route tables, associations, propagations ----------------------------------------

fn write_route_table(x: &mut Xml, m: &Model, t: &TgwRouteTable, state: &str) {
    let (association, propagation) = m.is_default_tgw_table(t);
    x.leaf("transitGatewayRouteTableId", &t.id)
        .leaf("transitGatewayId", &t.tgw)
        .leaf("state", state)
        .leaf("defaultAssociationRouteTable", association)
        .leaf("defaultPropagationRouteTable", propagation)
        .leaf("creationTime", iso8601(t.created_at))
        .tags(&t.tags);
}

pub(super) fn create_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let tgw = tgw_id(p.required("TransitGatewayId")?)?;
    let tags = p.tag_specifications_at("TagSpecifications", "transit-gateway-route-table")?;
    let id = ctx.model.create_tgw_route_table(&tgw, tags, ctx.now)?;
    let m = &*ctx.model;
    x.node("transitGatewayRouteTable", |x| {
        write_route_table(x, m, m.tgw_route_table(&id).expect("just created"), "available");
    });
    Ok(())
}

/// DeleteTransitGatewayRouteTable: refused while attachments are associated with it or
/// while it is a default table; answers the table as it was, `deleting`.
pub(super) fn delete_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?;
    if let Some((_, at)) = ctx.model.deleted_tgw_route_table(&id, ctx.now) {
        let state = ctx.clock().state(at, DELETED);
        return Err(still_listed("Transit Gateway Route Table", &id, state));
    }
    let t = ctx.model.tgw_route_table(&id)?.clone();
    ctx.model.delete_tgw_route_table(&id, ctx.now)?;
    let m = &*ctx.model;
    x.node("transitGatewayRouteTable", |x| write_route_table(x, m, &t, "deleting"));
    Ok(())
}

pub(super) fn describe_route_tables(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "TransitGatewayRouteTableIds", tgw_rtb_id)?;
    let (m, clock) = (&*ctx.model, ctx.clock());
    // The live ones, and those deleted within two hours.
    let all: Vec<(&TgwRouteTable, Option<u64>)> = m
        .tgw_route_tables()
        .map(|t| (t, None))
        .chain(m.deleted_tgw_route_tables(ctx.now).map(|(t, at)| (t, Some(at))))
        .collect();
    asked.iter().try_for_each(|id| match all.iter().any(|(t, _)| &t.id == id) {
        true => Ok(()),
        false => m.tgw_route_table(id).map(drop),
    })?;
    let state = |gone: Option<u64>| match gone {
        Some(at) => clock.state(at, DELETED),
        None => "available",
    };
    let tables = describe::page(
        ctx.action,
        p,
        all.iter().filter(|(t, _)| asked.is_empty() || asked.contains(&t.id)),
        |(t, _)| t.id.to_string(),
        |(t, gone), name| match name {
            "transit-gateway-route-table-id" => one(&t.id),
            "transit-gateway-id" => one(&t.tgw),
            "state" => one(state(*gone)),
            "default-association-route-table" => one(m.is_default_tgw_table(t).0),
            "default-propagation-route-table" => one(m.is_default_tgw_table(t).1),
            _ => tag_attr(&t.tags, name),
        },
    )?;
    tables.write(x, "transitGatewayRouteTables", |x, (t, gone)| {
        write_route_table(x, m, t, state(*gone));
    });
    Ok(())
}

/// The route table and attachment an association or propagation call names.
fn table_and_attachment(p: &Params) -> Result<(TgwRouteTableId, TgwAttachmentId), ApiError> {
    Ok((
        tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?,
        tgw_attach_id(p.required("TransitGatewayAttachmentId")?)?,
    ))
}

/// The reply of Associate… and DisassociateTransitGatewayRouteTable.
fn write_association(
    x: &mut Xml,
    m: &Model,
    table: &TgwRouteTableId,
    attachment: &TgwAttachmentId,
    state: &str,
) -> Result<(), ApiError> {
    let a = m.tgw_attachment(attachment)?;
    let tgw = &m.tgw_route_table(table)?.tgw;
    x.node("association", |x| {
        x.leaf("transitGatewayRouteTableId", table);
        write_attachment_ref(x, a, tgw);
        x.leaf("state", state);
    });
    Ok(())
}

pub(super) fn associate_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (table, attachment) = table_and_attachment(p)?;
    ctx.model.associate_tgw_route_table(&table, &attachment)?;
    write_association(x, ctx.model, &table, &attachment, "associating")
}

pub(super) fn disassociate_route_table(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (table, attachment) = table_and_attachment(p)?;
    ctx.model.disassociate_tgw_route_table(&table, &attachment)?;
    write_association(x, ctx.model, &table, &attachment, "disassociating")
}

/// The route table and attachment of a propagation call; route table announcements
/// (which come with transit gateway peering) are refused.
fn propagation_of(p: &Params) -> Result<(TgwRouteTableId, TgwAttachmentId), ApiError> {
    if p.get("TransitGatewayRouteTableAnnouncementId").is_some() {
        return Err(invalid(
            "vpclab has no transit gateway route table announcements: name the \
             TransitGatewayAttachmentId.",
        ));
    }
    table_and_attachment(p)
}

/// The reply of Enable… and DisableTransitGatewayRouteTablePropagation.
fn write_propagation(
    x: &mut Xml,
    m: &Model,
    table: &TgwRouteTableId,
    attachment: &TgwAttachmentId,
    state: &str,
) -> Result<(), ApiError> {
    let a = m.tgw_attachment(attachment)?;
    let tgw = &m.tgw_route_table(table)?.tgw;
    x.node("propagation", |x| {
        write_attachment_ref(x, a, tgw);
        x.leaf("transitGatewayRouteTableId", table).leaf("state", state);
    });
    Ok(())
}

pub(super) fn enable_propagation(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (table, attachment) = propagation_of(p)?;
    ctx.model.enable_tgw_propagation(&table, &attachment)?;
    write_propagation(x, ctx.model, &table, &attachment, "enabling")
}

pub(super) fn disable_propagation(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (table, attachment) = propagation_of(p)?;
    ctx.model.disable_tgw_propagation(&table, &attachment)?;
    write_propagation(x, ctx.model, &table, &attachment, "disabling")
}

/// GetTransitGatewayRouteTableAssociations: the attachments associated with a table (a
/// peering attachment on the table's side).
pub(super) fn get_associations(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let table = tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?;
    let m = &*ctx.model;
    let tgw = &m.tgw_route_table(&table)?.tgw;
    let associated = describe::page(
        ctx.action,
        p,
        m.tgw_attachments().filter(|a| a.association_in(tgw) == Some(&table)),
        |a| a.id.to_string(),
        |a, name| attachment_ref_attr(a, tgw, name),
    )?;
    associated.write(x, "associations", |x, a| {
        write_attachment_ref(x, a, tgw);
        x.leaf("state", "associated");
    });
    Ok(())
}

/// GetTransitGatewayRouteTablePropagations: the attachments propagating into a table.
pub(super) fn get_table_propagations(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let table = tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?;
    let m = &*ctx.model;
    let t = m.tgw_route_table(&table)?;
    let propagating = describe::page(
        ctx.action,
        p,
        t.propagations.iter().filter_map(|id| m.tgw_attachment(id).ok()),
        |a| a.id.to_string(),
        |a, name| attachment_ref_attr(a, &t.tgw, name),
    )?;
    propagating.write(x, "transitGatewayRouteTablePropagations", |x, a| {
        write_attachment_ref(x, a, &t.tgw);
        x.leaf("state", "enabled");
    });
    Ok(())
}

/// GetTransitGatewayAttachmentPropagations: the tables an attachment propagates into.
pub(super) fn get_attachment_propagations(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let attachment = tgw_attach_id(p.required("TransitGatewayAttachmentId")?)?;
    let m = &*ctx.model;
    m.tgw_attachment(&attachment)?;
    let tables = describe::page(
        ctx.action,
        p,
        m.tgw_route_tables().filter(|t| t.propagations.contains(&attachment)),
        |t| t.id.to_string(),
        |t, name| match name {
            "transit-gateway-route-table-id" => one(&t.id),
            _ => None,
        },
    )?;
    tables.write(x, "transitGatewayAttachmentPropagations", |x, t| {
        x.leaf("transitGatewayRouteTableId", &t.id).leaf("state", "enabled");
    });
    Ok(())
}

// ---- routes -------------------------------------------------------------------------

/// A route of a table of transit gateway `tgw`.
fn write_tgw_route(x: &mut Xml, m: &Model, tgw: &TransitGatewayId, r: &TgwRoute, state: &str) {
    x.leaf("destinationCidrBlock", r.destination);
    if let Some(a) = r.attachment.as_ref().and_then(|a| m.tgw_attachment(a).ok()) {
        x.set("transitGatewayAttachments", [a], |x, a| write_attachment_ref(x, a, tgw));
    }
    x.leaf("type", r.kind.as_str()).leaf("state", state);
}

/// Where a static route leads: `TransitGatewayAttachmentId`, or nowhere with
/// `Blackhole=true`.
fn static_target(p: &Params) -> Result<Option<TgwAttachmentId>, ApiError> {
    let attachment = p.get("TransitGatewayAttachmentId").map(tgw_attach_id).transpose()?;
    match (attachment, p.bool("Blackhole")?) {
        (Some(_), Some(true)) => Err(ApiError {
            code: "InvalidParameterCombination",
            message: "A route takes either transitGatewayAttachmentId or blackhole, not both."
                .into(),
        }),
        (Some(a), _) => Ok(Some(a)),
        (None, Some(true)) => Ok(None),
        (None, _) => Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter TransitGatewayAttachmentId or \
                      Blackhole=true"
                .into(),
        }),
    }
}

/// Create… and ReplaceTransitGatewayRoute: answers the static route as it is now.
fn put_route(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    replace: bool,
) -> Result<(), ApiError> {
    let table = tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?;
    let destination = cidr(p, "DestinationCidrBlock")?.trunc();
    let target = static_target(p)?;
    ctx.model.put_tgw_route(&table, destination, target.as_ref(), replace)?;
    let m = &*ctx.model;
    let t = m.tgw_route_table(&table)?;
    let route = m
        .tgw_routes(t)
        .into_iter()
        .find(|r| r.destination == destination)
        .expect("the static route just put");
    x.node("route", |x| write_tgw_route(x, m, &t.tgw, &route, route.state()));
    Ok(())
}

pub(super) fn create_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    put_route(ctx, p, x, false)
}

pub(super) fn replace_route(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    put_route(ctx, p, x, true)
}

/// DeleteTransitGatewayRoute (static routes only): answers the route, `deleted`.
pub(super) fn delete_route(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let table = tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?;
    let removed = ctx.model.delete_tgw_route(&table, cidr(p, "DestinationCidrBlock")?)?;
    let route = TgwRoute {
        destination: removed.destination,
        kind: TgwRouteType::Static,
        attachment: removed.attachment,
    };
    let m = &*ctx.model;
    let tgw = &m.tgw_route_table(&table)?.tgw;
    x.node("route", |x| write_tgw_route(x, m, tgw, &route, "deleted"));
    Ok(())
}

/// A `route-search.*` filter: its values are CIDR blocks (an address is its /32), which
/// match a route by how the blocks nest rather than as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouteSearch {
    /// `route-search.exact-match`: the route for the block itself.
    Exact,
    /// `route-search.longest-prefix-match`: the route a packet to the block would take,
    /// the most specific one containing it.
    LongestPrefix,
    /// `route-search.subnet-of-match`: the routes inside the block.
    SubnetOf,
    /// `route-search.supernet-of-match`: the routes containing the block.
    SupernetOf,
}

impl RouteSearch {
    /// The search a filter name asks for, if a route search.
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "route-search.exact-match" => Self::Exact,
            "route-search.longest-prefix-match" => Self::LongestPrefix,
            "route-search.subnet-of-match" => Self::SubnetOf,
            "route-search.supernet-of-match" => Self::SupernetOf,
            _ => return None,
        })
    }

    /// What a route's destination must equal, lie in or hold to answer the search for
    /// `value` (of the filter `name`) among `routes`; `None` when no route can (an IPv6
    /// block, an address no route covers).
    fn target(
        self,
        name: &str,
        value: &str,
        routes: &[TgwRoute],
    ) -> Result<Option<Ipv4Net>, ApiError> {
        let block = match (value.parse::<Ipv4Net>(), value.parse::<Ipv4Addr>()) {
            (Ok(block), _) => block.trunc(),
            (_, Ok(address)) => address.into(),
            _ if value.parse::<Ipv6Net>().is_ok() => return Ok(None),
            _ => {
                return Err(invalid(format!(
                    "Value ({value}) for filter {name} is invalid. This is not a valid CIDR block."
                )));
            }
        };
        Ok(match self {
            Self::LongestPrefix => routes
                .iter()
                .map(|r| r.destination)
                .filter(|d| d.contains(&block))
                .max_by_key(Ipv4Net::prefix_len),
            _ => Some(block),
        })
    }

    /// Whether the route to `destination` answers the search with `target`.
    fn finds(self, destination: &Ipv4Net, target: &Ipv4Net) -> bool {
        match self {
            Self::Exact | Self::LongestPrefix => destination == target,
            Self::SubnetOf => target.contains(destination),
            Self::SupernetOf => destination.contains(target),
        }
    }
}

/// SearchTransitGatewayRoutes: the routes in force in a table that match the filters
/// (at least one is required), at most `MaxResults` (1000 by default) of them.
pub(super) fn search_routes(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let table = tgw_rtb_id(p.required("TransitGatewayRouteTableId")?)?;
    let m = &*ctx.model;
    let t = m.tgw_route_table(&table)?;
    let routes = m.tgw_routes(t);
    let filters = p.filters();
    if filters.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter Filters".into(),
        });
    }
    // Each route-search value as given (what a route that answers it matches as) and
    // what it asks of a route's destination.
    let mut searches: Vec<(RouteSearch, &str, Ipv4Net)> = Vec::new();
    for f in &filters {
        let Some(search) = RouteSearch::named(&f.name) else { continue };
        for value in &f.values {
            if let Some(target) = search.target(&f.name, value, &routes)? {
                searches.push((search, value, target));
            }
        }
    }
    let found = describe::page(
        ctx.action,
        p,
        routes.iter(),
        |r| format!("{:08x}/{:02}", u32::from(r.destination.network()), r.destination.prefix_len()),
        |r, name| {
            let attachment = r.attachment.as_ref().and_then(|a| m.tgw_attachment(a).ok());
            match name {
                "attachment.transit-gateway-attachment-id" => {
                    Some(attachment.map(|a| a.id.to_string()).into_iter().collect())
                }
                "attachment.resource-id" => {
                    Some(attachment.map(|a| resource_from(a, &t.tgw)).into_iter().collect())
                }
                "attachment.resource-type" => {
                    Some(attachment.map(|a| a.resource_type().to_owned()).into_iter().collect())
                }
                "state" => one(r.state()),
                "type" => one(r.kind.as_str()),
                // The values of the route search asked for that this route answers
                // (`prefix-list-id`: none, no route here comes from a prefix list).
                name => RouteSearch::named(name).map(|asked| {
                    searches
                        .iter()
                        .filter(|(search, _, target)| {
                            *search == asked && search.finds(&r.destination, target)
                        })
                        .map(|(_, value, _)| value.to_string())
                        .collect()
                }),
            }
        },
    )?;
    let more = found.next_token.is_some();
    x.set("routeSet", found.items, |x, r| write_tgw_route(x, m, &t.tgw, r, r.state()))
        .leaf("additionalRoutesAvailable", more)
        .opt("nextToken", found.next_token);
    Ok(())
}
