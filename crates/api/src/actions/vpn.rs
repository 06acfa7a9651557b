//! Site-to-Site VPN: customer gateways, virtual private gateways and their attachments,
//! VPN connections (to a virtual private gateway, to a transit gateway — with its
//! attachment —, or to none) with their static routes, and route propagation from a
//! virtual private gateway into VPC route tables.
//!
//! DescribeVpnConnections reports each tunnel as its daemons last did (`VgwTelemetry`:
//! `DOWN`/`IPSEC IS DOWN` until a customer gateway brings it up). Static routes
//! propagate while one of the connection's tunnels is up; BGP-learned ones while theirs
//! is.
//!
//! Customer gateways and virtual private gateways are `pending` for the transition time
//! after their creation, then `available` (answered as they are: `available` at once by
//! default, as AWS's examples show them); a VPN connection is answered `pending`, then is
//! `available`. Gone, each is listed `deleting`, then `deleted`, for an hour; deleting
//! it again is `…NotFound`, as AWS answers for a deleted VPN connection. An attachment
//! is `attaching`, then `attached`; detached, `detaching`, then `detached`, and stays
//! listed so until the gateway is attached again.

use vpclab_model::{
    CustomerGateway, CustomerGatewaySpec, TunnelSpec, VgwAttachment, VpnConnection,
    VpnConnectionSpec, VpnEnd, VpnGateway,
};

use super::*;

/// The only VPN type AWS has.
const IPSEC: &str = "ipsec.1";

/// Checks the required `Type`: `ipsec.1`.
fn ipsec_type(p: &Params) -> Result<(), ApiError> {
    match p.required("Type")? {
        IPSEC => Ok(()),
        other => Err(invalid(format!(
            "Value ({other}) for parameter type is invalid. Valid values: {IPSEC}"
        ))),
    }
}

/// Refuses any value of `name` but `only`, the one a lab can honour (`why` says what it
/// lacks for the others); absent, the parameter asks for `only`.
fn only_value(p: &Params, name: &str, only: &str, why: &str) -> Result<(), ApiError> {
    match p.get(name) {
        Some(v) if v != only => Err(invalid(format!("{why}: {name} must be {only}, not {v}."))),
        _ => Ok(()),
    }
}

/// The resources a Describe call lists — live ones, and those gone less than an hour
/// before `now`, with when — narrowed to the ids asked for by the list `param`, each of
/// which must be listed (else AWS's `code`, naming the `kind`).
#[allow(clippy::too_many_arguments)]
fn listed<'a, T, I: PartialEq + std::fmt::Display>(
    p: &Params,
    param: &str,
    parse: fn(&str) -> Result<I, ApiError>,
    id: fn(&T) -> &I,
    live: impl Iterator<Item = &'a T>,
    gone: impl Iterator<Item = (&'a T, u64)>,
    code: &'static str,
    kind: &str,
) -> Result<Vec<(&'a T, Option<u64>)>, ApiError> {
    let asked = ids(p, param, parse)?;
    let all: Vec<(&T, Option<u64>)> =
        live.map(|t| (t, None)).chain(gone.map(|(t, at)| (t, Some(at)))).collect();
    require_all(&asked, |wanted| all.iter().any(|(t, _)| id(t) == wanted), code, kind)?;
    Ok(all.into_iter().filter(|(t, _)| asked.is_empty() || asked.contains(id(t))).collect())
}

// ---- customer gateways ----------------------------------------------------------------

fn write_customer_gateway(x: &mut Xml, g: &CustomerGateway, state: &str) {
    let s = &g.spec;
    x.leaf("customerGatewayId", &g.id)
        .leaf("state", state)
        .leaf("type", IPSEC)
        .leaf("ipAddress", s.ip_address)
        .opt("bgpAsn", (!s.asn_extended).then_some(s.bgp_asn))
        .opt("bgpAsnExtended", s.asn_extended.then_some(s.bgp_asn))
        .opt("deviceName", s.device_name.as_ref())
        .tags(&g.tags);
}

/// CreateCustomerGateway: an identical request answers the existing gateway.
pub(super) fn create_customer_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ipsec_type(p)?;
    // `PublicIp` is the deprecated name of `IpAddress`.
    let address = match (p.get("IpAddress"), p.get("PublicIp")) {
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => p.required("IpAddress")?,
    };
    let ip = address.parse().map_err(|_| {
        invalid(format!(
            "Value ({address}) for parameter ipAddress is invalid: vpclab takes an IPv4 \
             address."
        ))
    })?;
    let device_name = p.get("DeviceName").map(str::to_owned);
    let spec =
        CustomerGatewaySpec::new(ip, p.u64("BgpAsn")?, p.u64("BgpAsnExtended")?, device_name)?;
    let tags = p.tag_specifications("customer-gateway")?;
    let id = ctx.model.create_customer_gateway(spec, tags, ctx.now);
    let g = ctx.model.customer_gateway(&id)?;
    let state = ctx.clock().lifecycle(g.created_at, None);
    x.node("customerGateway", |x| write_customer_gateway(x, g, state));
    Ok(())
}

pub(super) fn delete_customer_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_customer_gateway(&cgw_id(p.required("CustomerGatewayId")?)?, ctx.now)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_customer_gateways(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, clock) = (&*ctx.model, ctx.clock());
    let all = listed(
        p,
        "CustomerGatewayId",
        cgw_id,
        |g: &CustomerGateway| &g.id,
        m.customer_gateways(),
        m.deleted_customer_gateways(ctx.now),
        "InvalidCustomerGatewayID.NotFound",
        "customerGateway",
    )?;
    let gateways = describe::page(
        ctx.action,
        p,
        all.iter(),
        |(g, _)| g.id.to_string(),
        |(g, gone), name| match name {
            "customer-gateway-id" => one(&g.id),
            "bgp-asn" => one(g.spec.bgp_asn),
            "ip-address" => one(g.spec.ip_address),
            "state" => one(clock.lifecycle(g.created_at, *gone)),
            "type" => one(IPSEC),
            _ => tag_attr(&g.tags, name),
        },
    )?;
    gateways.write(x, "customerGatewaySet", |x, (g, gone)| {
        write_customer_gateway(x, g, clock.lifecycle(g.created_at, *gone));
    });
    Ok(())
}

// ---- virtual private gateways -------------------------------------------------------------

/// An attachment's state: `attaching` then `attached`, or `detaching` then `detached`.
fn attachment_state(a: &VgwAttachment, clock: Clock) -> &'static str {
    let states = if a.attached { ("attaching", "attached") } else { ("detaching", "detached") };
    clock.state(a.since, states)
}

fn write_vpn_gateway(x: &mut Xml, g: &VpnGateway, state: &str, clock: Clock) {
    x.leaf("vpnGatewayId", &g.id)
        .leaf("state", state)
        .leaf("type", IPSEC)
        .opt("availabilityZone", g.zone.as_ref())
        .set("attachments", &g.attachment, |x, a| {
            x.leaf("vpcId", &a.vpc).leaf("state", attachment_state(a, clock));
        })
        .leaf("amazonSideAsn", g.amazon_side_asn)
        .tags(&g.tags);
}

pub(super) fn create_vpn_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ipsec_type(p)?;
    let asn = p.u64("AmazonSideAsn")?;
    let tags = p.tag_specifications("vpn-gateway")?;
    let id = ctx.model.create_vpn_gateway(asn, p.get("AvailabilityZone"), tags, ctx.now)?;
    let (g, clock) = (ctx.model.vpn_gateway(&id)?, ctx.clock());
    x.node("vpnGateway", |x| write_vpn_gateway(x, g, clock.lifecycle(g.created_at, None), clock));
    Ok(())
}

/// The gateway and VPC AttachVpnGateway and DetachVpnGateway name.
fn gateway_and_vpc(p: &Params) -> Result<(VpnGatewayId, VpcId), ApiError> {
    Ok((vgw_id(p.required("VpnGatewayId")?)?, vpc_id(p.required("VpcId")?)?))
}

/// AttachVpnGateway: answered `attaching`.
pub(super) fn attach_vpn_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (vgw, vpc) = gateway_and_vpc(p)?;
    ctx.model.attach_vpn_gateway(&vgw, &vpc, ctx.now)?;
    x.node("attachment", |x| {
        x.leaf("vpcId", &vpc).leaf("state", "attaching");
    });
    Ok(())
}

pub(super) fn detach_vpn_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (vgw, vpc) = gateway_and_vpc(p)?;
    ctx.model.detach_vpn_gateway(&vgw, &vpc, ctx.now)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_vpn_gateway(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_vpn_gateway(&vgw_id(p.required("VpnGatewayId")?)?, ctx.now)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_vpn_gateways(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, clock) = (&*ctx.model, ctx.clock());
    let all = listed(
        p,
        "VpnGatewayId",
        vgw_id,
        |g: &VpnGateway| &g.id,
        m.vpn_gateways(),
        m.deleted_vpn_gateways(ctx.now),
        "InvalidVpnGatewayID.NotFound",
        "vpnGateway",
    )?;
    let gateways = describe::page(
        ctx.action,
        p,
        all.iter(),
        |(g, _)| g.id.to_string(),
        |(g, gone), name| match name {
            "vpn-gateway-id" => one(&g.id),
            "amazon-side-asn" => one(g.amazon_side_asn),
            "attachment.state" => {
                Some(g.attachment.iter().map(|a| attachment_state(a, clock).to_owned()).collect())
            }
            "attachment.vpc-id" => Some(g.attachment.iter().map(|a| a.vpc.to_string()).collect()),
            "availability-zone" => Some(g.zone.iter().cloned().collect()),
            "state" => one(clock.lifecycle(g.created_at, *gone)),
            "type" => one(IPSEC),
            _ => tag_attr(&g.tags, name),
        },
    )?;
    gateways.write(x, "vpnGatewaySet", |x, (g, gone)| {
        write_vpn_gateway(x, g, clock.lifecycle(g.created_at, *gone), clock);
    });
    Ok(())
}

// ---- VPN connections ----------------------------------------------------------------------

/// A VPN connection in `state`, with its customer gateway's configuration when given
/// (AWS gives it in the creation's answer, and in Describe while pending or available).
fn write_vpn_connection(
    x: &mut Xml,
    c: &VpnConnection,
    state: &str,
    configuration: Option<String>,
) {
    // A route's state follows its connection's once the connection is gone.
    let route_state = if matches!(state, "deleting" | "deleted") { state } else { "available" };
    x.opt("customerGatewayConfiguration", configuration)
        .leaf("customerGatewayId", &c.spec.customer_gateway)
        .leaf("category", "VPN")
        .leaf("state", state)
        .leaf("type", IPSEC)
        .leaf("vpnConnectionId", &c.id)
        .opt("vpnGatewayId", c.vpn_gateway())
        .opt("transitGatewayId", c.transit_gateway())
        .leaf(
            "gatewayAssociationState",
            if c.spec.end.is_some() { "associated" } else { "not-associated" },
        )
        .node("options", |x| {
            x.leaf("enableAcceleration", false)
                .leaf("staticRoutesOnly", c.spec.static_routes_only)
                .leaf("localIpv4NetworkCidr", "0.0.0.0/0")
                .leaf("remoteIpv4NetworkCidr", "0.0.0.0/0")
                .leaf("outsideIpAddressType", "PublicIpv4")
                .leaf("tunnelInsideIpVersion", "ipv4")
                .set("tunnelOptionSet", &c.tunnels, |x, t| {
                    x.leaf("outsideIpAddress", t.outside_ip)
                        .leaf("tunnelInsideCidr", t.inside_cidr)
                        .leaf("preSharedKey", &t.pre_shared_key);
                })
                .leaf("tunnelBandwidth", c.spec.tunnel_bandwidth.as_deref().unwrap_or("standard"));
        })
        .set("routes", &c.routes, |x, r| {
            x.leaf("destinationCidrBlock", r).leaf("source", "Static").leaf("state", route_state);
        })
        // What the tunnels' daemons last reported: down until a customer gateway brings
        // them up.
        .set("vgwTelemetry", c.tunnels.iter().zip(&c.live), |x, (t, live)| {
            let bgp = !c.spec.static_routes_only;
            let since = if live.since == 0 { c.created_at } else { live.since };
            x.leaf("acceptedRouteCount", if bgp { live.routes.len() } else { 0 })
                .leaf("lastStatusChange", iso8601(since))
                .leaf("outsideIpAddress", t.outside_ip)
                .leaf("status", if live.up(bgp) { "UP" } else { "DOWN" })
                .leaf("statusMessage", live.message(bgp));
        })
        .tags(&c.tags);
}

/// `Options.TunnelOptions.N` (N = 1, 2): the inside CIDR and pre-shared key; an IPv6
/// inside CIDR is refused as AWS refuses it on an IPv4 connection.
fn tunnel_spec(p: &Params, n: usize) -> Result<TunnelSpec, ApiError> {
    let prefix = format!("Options.TunnelOptions.{n}");
    if p.get(&format!("{prefix}.TunnelInsideIpv6Cidr")).is_some() {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "An ipv6 inside cidr is not allowed for VPNs using an ipv4 inside ip version"
                .into(),
        });
    }
    let inside_cidr = match p.get(&format!("{prefix}.TunnelInsideCidr")) {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            invalid(format!("Value ({text}) for parameter TunnelInsideCidr is invalid."))
        })?),
    };
    let pre_shared_key = p.get(&format!("{prefix}.PreSharedKey")).map(str::to_owned);
    Ok(TunnelSpec { inside_cidr, pre_shared_key })
}

/// What CreateVpnConnection asks for. Options a lab cannot honour are refused with the
/// reason; those it stores and shows are read; any other one is left unread, and so
/// refused by the service, never ignored.
fn vpn_connection_spec(p: &Params) -> Result<VpnConnectionSpec, ApiError> {
    ipsec_type(p)?;
    let customer_gateway = cgw_id(p.required("CustomerGatewayId")?)?;
    let end = match (p.get("VpnGatewayId"), p.get("TransitGatewayId")) {
        (Some(_), Some(_)) => {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "Specify either VpnGatewayId or TransitGatewayId, not both.".into(),
            });
        }
        (Some(vgw), None) => Some(VpnEnd::VpnGateway(vgw_id(vgw)?)),
        (None, Some(tgw)) => Some(VpnEnd::TransitGateway(tgw_id(tgw)?)),
        (None, None) => None,
    };
    only_value(
        p,
        "Options.TunnelInsideIpVersion",
        "ipv4",
        "vpclab's VPN tunnels carry no IPv6 yet",
    )?;
    only_value(
        p,
        "Options.OutsideIpAddressType",
        "PublicIpv4",
        "vpclab's tunnels run over the emulated internet",
    )?;
    for name in ["Options.LocalIpv4NetworkCidr", "Options.RemoteIpv4NetworkCidr"] {
        only_value(p, name, "0.0.0.0/0", "vpclab's tunnels will be route-based, any to any")?;
    }
    only_value(p, "PreSharedKeyStorage", "Standard", "vpclab has no Secrets Manager")?;
    let tunnel_bandwidth = match p.get("Options.TunnelBandwidth") {
        None => None,
        Some(b @ ("standard" | "large")) => Some(b.to_owned()),
        Some(other) => {
            return Err(invalid(format!(
                "Value ({other}) for parameter TunnelBandwidth is invalid. Valid values: \
                 standard, large"
            )));
        }
    };
    Ok(VpnConnectionSpec {
        customer_gateway,
        end,
        static_routes_only: p.bool("Options.StaticRoutesOnly")?.unwrap_or(false),
        tunnel_bandwidth,
        tunnels: [tunnel_spec(p, 1)?, tunnel_spec(p, 2)?],
    })
}

/// CreateVpnConnection: answered `pending`, with the customer gateway's configuration.
/// An identical request answers the live connection it made.
pub(super) fn create_vpn_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let spec = vpn_connection_spec(p)?;
    let tags = p.tag_specifications("vpn-connection")?;
    let id = ctx.model.create_vpn_connection(spec, tags, ctx.now)?;
    let m = &*ctx.model;
    let c = m.vpn_connection(&id)?;
    let configuration = m.customer_gateway_configuration(c)?;
    x.node("vpnConnection", |x| write_vpn_connection(x, c, "pending", Some(configuration)));
    Ok(())
}

pub(super) fn delete_vpn_connection(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_vpn_connection(&vpn_id(p.required("VpnConnectionId")?)?, ctx.now)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_vpn_connections(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, clock) = (&*ctx.model, ctx.clock());
    let all = listed(
        p,
        "VpnConnectionId",
        vpn_id,
        |c: &VpnConnection| &c.id,
        m.vpn_connections(),
        m.deleted_vpn_connections(ctx.now),
        "InvalidVpnConnectionID.NotFound",
        "vpnConnection",
    )?;
    // The configuration is given while the connection is pending or available.
    let configuration = |c: &VpnConnection, gone: Option<u64>| match gone {
        None => m.customer_gateway_configuration(c).ok(),
        Some(_) => None,
    };
    let connections = describe::page(
        ctx.action,
        p,
        all.iter(),
        |(c, _)| c.id.to_string(),
        |(c, gone), name| match name {
            "vpn-connection-id" => one(&c.id),
            "customer-gateway-id" => one(&c.spec.customer_gateway),
            "customer-gateway-configuration" => Some(configuration(c, *gone).into_iter().collect()),
            "vpn-gateway-id" => Some(c.vpn_gateway().iter().map(ToString::to_string).collect()),
            "transit-gateway-id" => {
                Some(c.transit_gateway().iter().map(ToString::to_string).collect())
            }
            "state" => one(clock.lifecycle(c.created_at, *gone)),
            "type" => one(IPSEC),
            "option.static-routes-only" => one(c.spec.static_routes_only),
            "route.destination-cidr-block" => {
                Some(c.routes.iter().map(ToString::to_string).collect())
            }
            "bgp-asn" => Some(
                m.customer_gateway(&c.spec.customer_gateway)
                    .map(|g| g.spec.bgp_asn.to_string())
                    .into_iter()
                    .collect(),
            ),
            _ => tag_attr(&c.tags, name),
        },
    )?;
    connections.write(x, "vpnConnectionSet", |x, (c, gone)| {
        write_vpn_connection(x, c, clock.lifecycle(c.created_at, *gone), configuration(c, *gone));
    });
    Ok(())
}

/// The connection and destination CreateVpnConnectionRoute and DeleteVpnConnectionRoute
/// name.
fn connection_route(p: &Params) -> Result<(VpnConnectionId, Ipv4Net), ApiError> {
    Ok((vpn_id(p.required("VpnConnectionId")?)?, cidr(p, "DestinationCidrBlock")?))
}

pub(super) fn create_vpn_connection_route(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (id, destination) = connection_route(p)?;
    ctx.model.create_vpn_connection_route(&id, destination)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_vpn_connection_route(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (id, destination) = connection_route(p)?;
    ctx.model.delete_vpn_connection_route(&id, destination)?;
    x.leaf("return", "true");
    Ok(())
}

// ---- route propagation -------------------------------------------------------------------

/// The table and gateway Enable/DisableVgwRoutePropagation name.
fn table_and_gateway(p: &Params) -> Result<(RouteTableId, VpnGatewayId), ApiError> {
    Ok((rtb_id(p.required("RouteTableId")?)?, vgw_id(p.required("GatewayId")?)?))
}

pub(super) fn enable_vgw_route_propagation(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (table, vgw) = table_and_gateway(p)?;
    ctx.model.enable_vgw_route_propagation(&table, &vgw)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn disable_vgw_route_propagation(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (table, vgw) = table_and_gateway(p)?;
    ctx.model.disable_vgw_route_propagation(&table, &vgw)?;
    x.leaf("return", "true");
    Ok(())
}

/// ModifyVpnTunnelOptions: a tunnel's inside CIDR and pre-shared key (the options vpclab
/// honours; any other `TunnelOptions.*` is left unread, and so refused, never ignored).
/// Answers the connection as it now is.
pub(super) fn modify_vpn_tunnel_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = vpn_id(p.required("VpnConnectionId")?)?;
    let outside = p.required("VpnTunnelOutsideIpAddress")?;
    let outside: std::net::Ipv4Addr = outside.parse().map_err(|_| {
        invalid(format!("Value ({outside}) for parameter VpnTunnelOutsideIpAddress is invalid."))
    })?;
    let inside_cidr = match p.get("TunnelOptions.TunnelInsideCidr") {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            invalid(format!("Value ({text}) for parameter TunnelInsideCidr is invalid."))
        })?),
    };
    let key = p.get("TunnelOptions.PreSharedKey").map(str::to_owned);
    // AWS replaces the tunnel either way; skipping the replacement changes nothing here.
    let _ = p.get("SkipTunnelReplacement");
    ctx.model.modify_vpn_tunnel(&id, outside, inside_cidr, key)?;
    let m = &*ctx.model;
    let c = m.vpn_connection(&id)?;
    let configuration = m.customer_gateway_configuration(c)?;
    x.node("vpnConnection", |x| write_vpn_connection(x, c, "available", Some(configuration)));
    Ok(())
}
