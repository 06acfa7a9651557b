//! The AWS side of Site-to-Site VPN connections, made real: per connection whose
//! virtual private gateway is attached, a namespace (`vpclab-vpn-<id>`) where its two
//! tunnels end — strongSwan and BIRD as `vpclab_vpn` runs them — joined to the emulated
//! internet by its two outside addresses and to the forwarder by a TUN device (`vpc0`),
//! the connection's port. Inside, the kernel routes: the VPC's CIDRs to `vpc0`, what BGP
//! learned (or the static routes) into the tunnel that is up.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;
use vpclab_model::{Model, TunnelLive, VpnConnection, VpnConnectionId};
use vpclab_sys::netns::{self, NetnsError};
use vpclab_sys::tun::Tun;
use vpclab_vpn::{Bgp, End, Role, Running, StaticRoute, Tunnel};

use crate::host::prefix_of;
use crate::snapshot::VPC_MTU;

/// The device toward the forwarder in a connection's namespace.
pub const DEVICE: &str = "vpc0";
/// The outside device in a connection's namespace (its peer is in the internet's).
pub const OUTSIDE: &str = "wan";
/// The tunnels' MTU: AWS's advice for customer gateways (1399), on both sides.
pub const TUNNEL_MTU: u16 = 1399;
/// BGP hold time on AWS's side (its configuration documents say 30 s).
pub const HOLD_TIME: u16 = 30;

/// The namespace of connection `id`'s AWS side, in the lab whose internet is the
/// namespace `internet`.
pub fn netns_of(id: &VpnConnectionId, internet: &str) -> String {
    format!("{}vpn-{}", prefix_of(internet), id.as_str().trim_start_matches("vpn-"))
}

/// Where the daemons of namespace `ns` keep their files.
pub fn dir_of(ns: &str) -> PathBuf {
    PathBuf::from("/run/vpclab").join(ns)
}

/// What AWS's side of connection `c` runs: its two tunnels as responders (AWS's default
/// startup action), BGP with the gateway's ASN advertising the VPC's CIDRs, or its
/// static routes. `None` while it has nowhere to lead (no virtual private gateway, or
/// one not attached).
pub fn aws_end(model: &Model, c: &VpnConnection, internet: &str) -> Option<(End, Vec<Ipv4Net>)> {
    let (asn, cidrs) = match (c.vpn_gateway(), c.transit_gateway()) {
        (Some(vgw), _) => {
            let vgw = model.vpn_gateway(vgw).ok()?;
            let vpc = model.vpc(vgw.attached_to()?).ok()?;
            (vgw.amazon_side_asn, vpc.cidrs().collect::<Vec<_>>())
        }
        (None, Some(tgw)) => {
            let tgw = model.transit_gateway(tgw).ok()?;
            (tgw.options.amazon_side_asn, hub_prefixes(model, c))
        }
        (None, None) => return None,
    };
    let cgw = model.customer_gateway(&c.spec.customer_gateway).ok()?;
    let bgp = !c.spec.static_routes_only;
    let tunnels = (1..)
        .zip(&c.tunnels)
        .map(|(n, t)| Tunnel {
            name: format!("t{n}"),
            local_outside: t.outside_ip,
            remote_outside: cgw.spec.ip_address,
            local_inside: Ipv4Net::new(t.aws_inside_ip(), t.inside_cidr.prefix_len())
                .unwrap_or(t.inside_cidr),
            remote_inside: t.customer_inside_ip(),
            pre_shared_key: t.pre_shared_key.clone(),
            role: Role::Responder,
            remote_asn: bgp.then_some(cgw.spec.bgp_asn),
            mtu: TUNNEL_MTU,
        })
        .collect();
    let end = End {
        netns: netns_of(&c.id, internet),
        tunnels,
        bgp: bgp.then(|| Bgp { local_asn: asn, advertise: cidrs.clone(), hold_time: HOLD_TIME }),
        static_routes: if bgp {
            Vec::new()
        } else {
            c.routes.iter().map(|&prefix| StaticRoute { prefix, tunnels: vec![0, 1] }).collect()
        },
    };
    Some((end, cidrs))
}

/// What a connection to a transit gateway advertises, and routes from its tunnels into
/// the hub: the VPC CIDRs the table associated with its attachment routes to VPC
/// attachments (AWS advertises the associated table's routes; routes learned from VPN
/// connections are left out here, so that one connection's BGP never restarts
/// another's tunnels).
fn hub_prefixes(model: &Model, c: &VpnConnection) -> Vec<Ipv4Net> {
    let Some(attachment) = c.tgw_attachment.as_ref().and_then(|a| model.tgw_attachment(a).ok())
    else {
        return Vec::new();
    };
    let Some(table) = attachment.association_in(&attachment.tgw) else { return Vec::new() };
    let Ok(table) = model.tgw_route_table(table) else { return Vec::new() };
    model
        .tgw_routes(table)
        .into_iter()
        .filter(|r| {
            r.attachment
                .as_ref()
                .and_then(|a| model.tgw_attachment(a).ok())
                .is_some_and(|a| a.vpc().is_some())
        })
        .map(|r| r.destination)
        .collect()
}

/// One connection's realised AWS side.
#[derive(Debug)]
pub(crate) struct Realised {
    /// The end and the VPC CIDRs routed to the forwarder, as set up.
    pub(crate) end: End,
    pub(crate) cidrs: Vec<Ipv4Net>,
    /// The daemons, or why they are not running.
    pub(crate) running: Result<Running, String>,
}

/// The connections realised on this host.
pub(crate) type Fleet = BTreeMap<VpnConnectionId, Realised>;

/// The internet-side name of a connection's outside link: by its first outside
/// address, unique among live connections (at most 15 characters).
fn internet_link(end: &End) -> String {
    let first = end.tunnels.first().map_or(Ipv4Addr::UNSPECIFIED, |t| t.local_outside);
    format!("vpn{}", first.octets()[3])
}

/// Makes connection `end`'s namespace: the outside link into `internet` with both
/// outside addresses, and the TUN toward the forwarder with `queues` queues, the VPC's
/// `cidrs` routed to it. Idempotent.
pub(crate) fn setup(
    end: &End,
    cidrs: &[Ipv4Net],
    internet: &str,
    queues: usize,
) -> Result<Vec<Tun>, NetnsError> {
    let ns = end.netns.as_str();
    netns::create(ns)?;
    crate::host::disable_ipv6(ns)?;
    let link = internet_link(end);
    if netns::ip(&["-n", ns, "link", "show", OUTSIDE]).is_err() {
        netns::configure(
            internet,
            &[&["link", "add", &link, "type", "veth", "peer", "name", OUTSIDE, "netns", ns]],
        )?;
    }
    // The internet answers ARP for everything it routes elsewhere (proxy ARP), so the
    // connection's namespace needs no next hop, and forwards between its links.
    crate::host::internet_forwards(internet)?;
    netns::sysctls(internet, &[(&format!("net.ipv4.conf.{link}.proxy_arp"), "1")])?;
    let outside: Vec<String> =
        vpclab_vpn::outside_addresses(end).iter().map(|a| format!("{a}/32")).collect();
    let mut internet_side: Vec<Vec<&str>> = vec![vec!["link", "set", &link, "up"]];
    let mut inside: Vec<Vec<&str>> = vec![vec!["link", "set", "lo", "up"]];
    for address in &outside {
        internet_side.push(vec!["route", "replace", address, "dev", &link]);
        inside.push(vec!["addr", "replace", address, "dev", OUTSIDE]);
    }
    let tun = Tun::open_queues_in(ns, DEVICE, queues)?;
    let mtu = VPC_MTU.to_string();
    let cidrs: Vec<String> = cidrs.iter().map(Ipv4Net::to_string).collect();
    inside.push(vec!["link", "set", OUTSIDE, "up"]);
    // Out of `wan` go only the tunnels' own packets, to the customer gateways: nothing
    // in cleartext leaks onto the internet (a prefix no tunnel carries is unreachable,
    // as AWS drops what its gateway has no route for).
    let peers: Vec<String> = {
        let mut peers: Vec<Ipv4Addr> = end.tunnels.iter().map(|t| t.remote_outside).collect();
        peers.sort_unstable();
        peers.dedup();
        peers.iter().map(|p| format!("{p}/32")).collect()
    };
    for peer in &peers {
        inside.push(vec!["route", "replace", peer, "dev", OUTSIDE]);
    }
    inside.push(vec!["route", "replace", "unreachable", "default"]);
    inside.push(vec!["link", "set", DEVICE, "mtu", &mtu, "up"]);
    for cidr in &cidrs {
        inside.push(vec!["route", "replace", cidr, "dev", DEVICE]);
    }
    let internet_side: Vec<&[&str]> = internet_side.iter().map(Vec::as_slice).collect();
    let inside: Vec<&[&str]> = inside.iter().map(Vec::as_slice).collect();
    netns::configure(internet, &internet_side)?;
    netns::configure(ns, &inside)?;
    Ok(tun)
}

/// Routes `to` (the VPC's CIDRs, or the hub's) to the forwarder in place of `from`.
pub(crate) fn reroute(ns: &str, from: &[Ipv4Net], to: &[Ipv4Net]) -> Result<(), NetnsError> {
    let (gone, new): (Vec<String>, Vec<String>) = (
        from.iter().filter(|c| !to.contains(c)).map(Ipv4Net::to_string).collect(),
        to.iter().filter(|c| !from.contains(c)).map(Ipv4Net::to_string).collect(),
    );
    let mut commands: Vec<Vec<&str>> =
        gone.iter().map(|c| vec!["route", "del", c.as_str(), "dev", DEVICE]).collect();
    commands.extend(new.iter().map(|c| vec!["route", "replace", c.as_str(), "dev", DEVICE]));
    let commands: Vec<&[&str]> = commands.iter().map(Vec::as_slice).collect();
    if commands.is_empty() { Ok(()) } else { netns::configure(ns, &commands) }
}

/// Starts the daemons of a set-up connection, or says why not.
pub(crate) fn start(end: &End) -> Result<Running, String> {
    if !vpclab_vpn::installed() {
        return Err("strongSwan or BIRD is not installed (scripts/deps.sh)".into());
    }
    Running::start(end.clone(), &dir_of(&end.netns)).map_err(|e| e.to_string())
}

/// Removes connection `end`'s internet-side routes (its link goes with its namespace).
pub(crate) fn unroute(end: &End, internet: &str) {
    for address in vpclab_vpn::outside_addresses(end) {
        let address = format!("{address}/32");
        let _ = netns::configure(internet, &[&["route", "del", &address]]);
    }
}

/// Every VPN daemon the host runs: AWS's sides of the connections and the sites'
/// customer gateways. Shared (`Host::tunnel_daemons`) so that they are polled without
/// holding up the API.
#[derive(Debug, Default)]
pub struct Daemons {
    pub(crate) fleet: Fleet,
    pub(crate) customers: Customers,
}

impl Daemons {
    /// What each realised connection's daemons say now, as the model records it; the
    /// customer gateways are polled too (their static routes follow their tunnels).
    /// Bounded in time: each control tool is killed after a few seconds.
    pub fn poll(&mut self) -> Vec<(VpnConnectionId, [TunnelLive; 2])> {
        // Ends whose charon or BIRD died are started again (once they have run a while:
        // a daemon that dies at once is not restarted in a loop).
        for (id, realised) in &mut self.fleet {
            restart_if_dead(&id.to_string(), &realised.end, &mut realised.running);
        }
        for (site, (end, running)) in &mut self.customers {
            restart_if_dead(&format!("site {site}"), end, running);
        }
        for (_, running) in self.customers.values_mut() {
            if let Ok(running) = running {
                running.poll();
            }
        }
        self.fleet
            .iter_mut()
            .map(|(id, realised)| {
                let mut live: [TunnelLive; 2] = Default::default();
                if let Ok(running) = &mut realised.running {
                    for (slot, t) in live.iter_mut().zip(running.poll().tunnels) {
                        *slot = TunnelLive {
                            ipsec_up: t.ipsec_up,
                            bgp_up: t.bgp_established,
                            routes: t.routes,
                            since: 0,
                        };
                    }
                }
                (id.clone(), live)
            })
            .collect()
    }
}

/// Restarts `end` if one of its daemons has exited (and it has run long enough).
fn restart_if_dead(what: &str, end: &End, running: &mut Result<Running, String>) {
    let Ok(r) = running else { return };
    if !r.may_restart() {
        return;
    }
    let Some(why) = r.exited() else { return };
    eprintln!("vpclab serve: {what}: {why}; restarting its tunnels");
    // The old daemons stop before the new start (they share the files).
    if let Ok(mut old) = std::mem::replace(running, Err(why)) {
        old.stop();
    }
    *running = start(end);
}

/// The customer gateway a site's router runs: the customer's end of every connection
/// whose customer gateway has the router's public address and whose AWS side runs,
/// built from the connections' `CustomerGatewayConfiguration` documents alone (as a
/// user would configure a router), advertising the site's CIDRs over BGP, or routing the
/// connection's VPC CIDRs into its tunnels when it is static. `None` when no connection
/// ends at the site.
pub fn customer_end(model: &Model, site: &vpclab_model::OnpremSite, internet: &str) -> Option<End> {
    let netns = &crate::onprem::router_namespace(&site.name, internet);
    let mut documents = Vec::new();
    for c in model.vpn_connections() {
        let Ok(cgw) = model.customer_gateway(&c.spec.customer_gateway) else { continue };
        if cgw.spec.ip_address != site.public_ip {
            continue;
        }
        let Some((_, cidrs)) = aws_end(model, c, internet) else { continue };
        let Ok(xml) = model.customer_gateway_configuration(c) else { continue };
        let Ok(document) = vpclab_vpn::document::parse(&xml) else { continue };
        // A static connection: the customer routes the VPC's CIDRs into its tunnels.
        let statics = if c.spec.static_routes_only { cidrs } else { Vec::new() };
        documents.push((document, statics));
    }
    if documents.is_empty() {
        return None;
    }
    Some(vpclab_vpn::document::customer_end(netns, &documents, site.cidrs.clone()))
}

/// The customer gateways realised on sites' routers, by site.
pub(crate) type Customers = BTreeMap<String, (End, Result<Running, String>)>;
