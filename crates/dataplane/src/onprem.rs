//! On-premises sites made real: plain Linux networking in namespaces, beside the
//! forwarder rather than through it — a site is the customer's network, not AWS's.
//!
//! ```text
//!  host ns  <prefix>onprem-<site>-<host>       router ns  <prefix>onprem-<site>
//!  eth0 10.9.0.10/16 ──veth── to-<host> ─┐     ip_forward, nft masquerade out of wan
//!   default via 10.9.0.1                 lan (bridge) 10.9.0.1/16, one address per CIDR
//!                                              wan 198.51.100.10/32
//!                                               default via 198.51.100.1 onlink
//!                                                │ veth
//!  internet ns (eth0: TUN to the forwarder, 198.51.100.1/24)
//!  onprem10 ── route 198.51.100.10/32 src 198.51.100.1; ip_forward to and from onprem*
//! ```
//!
//! The router's `wan` holds only its public address, as a /32: the internet namespace
//! answers ARP for 198.51.100.1 on the veth (it is one of its own addresses), and routes
//! the router's /32 to the veth, ahead of the /24 on its TUN. The internet namespace
//! forwards between the two, so a site reaches check-ip (198.51.100.1), other sites'
//! routers, and instances' public addresses (203.0.113.0/24, routed to the forwarder),
//! and the forwarder's answers to a router's address come back to it. Site traffic leaves
//! `wan` masqueraded as the router's public address; a VPN tunnel's traffic leaves by its
//! tunnel's interface (`ipsecN`, userspace ESP) and keeps its site address.
//!
//! Everything is idempotent: a daemon restart runs it again over what is there.

use std::net::Ipv4Addr;
use std::path::Path;

use vpclab_model::OnpremSite;
use vpclab_sys::netns::{self, NetnsError};

use crate::host::{CHECK_IP, DEVICE, disable_ipv6, prefix_of};

/// The router's interface on the emulated internet.
pub const WAN: &str = "wan";
/// The router's bridge of the site's hosts.
pub const LAN: &str = "lan";
/// The nftables table of vpclab's in a router (its NAT) and in the internet namespace
/// (what it forwards).
const NFT_TABLE: &str = "vpclab-onprem";

/// The namespaces of `site`, router first, in a lab whose internet is `internet`.
pub fn namespaces(site: &OnpremSite, internet: &str) -> Vec<String> {
    let prefix = prefix_of(internet);
    site.namespace_suffixes().into_iter().map(|s| format!("{prefix}{s}")).collect()
}

/// The router's namespace of the site named `site`.
pub fn router_namespace(site: &str, internet: &str) -> String {
    format!("{}onprem-{site}", prefix_of(internet))
}

/// The namespace of host `host` of site `site`.
pub fn host_namespace(site: &str, host: &str, internet: &str) -> String {
    format!("{}-{host}", router_namespace(site, internet))
}

/// The internet namespace's end of a router's link: named after the router's public
/// address's last octet (unique, since public addresses are), within 15 characters.
fn internet_link(site: &OnpremSite) -> String {
    format!("onprem{}", site.public_ip.octets()[3])
}

/// The router's end of a host's link (host names have at most 12 characters).
fn host_link(host: &str) -> String {
    format!("to-{host}")
}

/// Makes `site` real (or checks that it is, after a restart): its router joined to the
/// internet namespace `internet`, its bridge, its hosts. Every namespace is marked as
/// `owner`'s, when given, before anything is put in it.
pub fn setup(site: &OnpremSite, internet: &str, owner: Option<&Path>) -> Result<(), NetnsError> {
    let names = namespaces(site, internet);
    let (router, hosts) = names.split_first().expect("a site has a router namespace");
    let new_namespace = |ns: &str| -> Result<(), NetnsError> {
        netns::create(ns)?;
        if let Some(owner) = owner {
            netns::mark(ns, owner)?;
        }
        disable_ipv6(ns)?;
        netns::configure(ns, &[&["link", "set", "lo", "up"]])
    };
    new_namespace(router)?;
    netns::sysctls(router, &[("net.ipv4.ip_forward", "1")])?;
    setup_wan(site, router, internet)?;
    setup_lan(site, router)?;
    masquerade(site, router)?;
    for (host, ns) in site.hosts.iter().zip(hosts) {
        new_namespace(ns)?;
        setup_host(site, host, router, ns)?;
    }
    Ok(())
}

/// The router's `wan` and its peer in the internet namespace, with their routes.
fn setup_wan(site: &OnpremSite, router: &str, internet: &str) -> Result<(), NetnsError> {
    let peer = internet_link(site);
    if !netns::has_link(router, WAN) {
        // A peer left over (its router's namespace deleted and made again) goes first.
        remove_leftover(internet, &peer)?;
        netns::ip(&[
            "-n", internet, "link", "add", &peer, "type", "veth", "peer", "name", WAN, "netns",
            router,
        ])?;
    }
    crate::host::internet_forwards(internet)?;
    let public = site.public_ip.to_string();
    let host_route = format!("{public}/32");
    let check_ip = CHECK_IP.to_string();
    netns::configure(
        internet,
        &[
            &["link", "set", &peer, "up"],
            &["route", "replace", &host_route, "dev", &peer, "src", &check_ip],
        ],
    )?;
    netns::configure(
        router,
        &[
            &["addr", "replace", &host_route, "dev", WAN],
            &["link", "set", WAN, "up"],
            &[
                "route", "replace", "default", "via", &check_ip, "dev", WAN, "onlink", "src",
                &public,
            ],
        ],
    )
}

/// Deletes `link` in `ns` if it is there: the end of a pair whose other namespace was
/// deleted. The kernel takes such a pair away itself, in the background, so it may go
/// between the look and the delete (`Cannot find device`): gone is what was wanted.
fn remove_leftover(ns: &str, link: &str) -> Result<(), NetnsError> {
    if !netns::has_link(ns, link) {
        return Ok(());
    }
    match netns::ip(&["-n", ns, "link", "del", link]).map(drop) {
        Err(_) if !netns::has_link(ns, link) => Ok(()),
        deleted => deleted,
    }
}

/// The router's bridge, holding its address on each of the site's CIDRs.
fn setup_lan(site: &OnpremSite, router: &str) -> Result<(), NetnsError> {
    if !netns::has_link(router, LAN) {
        netns::ip(&["-n", router, "link", "add", LAN, "type", "bridge"])?;
    }
    let addresses: Vec<String> =
        site.router_addresses().map(|(cidr, ip)| format!("{ip}/{}", cidr.prefix_len())).collect();
    let mut commands: Vec<Vec<&str>> =
        addresses.iter().map(|a| vec!["addr", "replace", a.as_str(), "dev", LAN]).collect();
    commands.push(vec!["link", "set", LAN, "up"]);
    let commands: Vec<&[&str]> = commands.iter().map(Vec::as_slice).collect();
    netns::configure(router, &commands)
}

/// Site traffic leaving `wan` takes the router's public address, as a home or office
/// router's does; what goes into a VPN tunnel leaves by the tunnel's interface and keeps
/// its own (`rt ipsec missing` also spares the kernel's IPsec, where a machine has it).
fn masquerade(site: &OnpremSite, router: &str) -> Result<(), NetnsError> {
    let sources: Vec<String> = site.cidrs.iter().map(ToString::to_string).collect();
    let chain = format!(
        "\tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\toifname \"{WAN}\" ip saddr {{ {} }} rt ipsec missing masquerade\n\
         \t}}\n",
        sources.join(", ")
    );
    crate::host::replace_nft_table(router, NFT_TABLE, &chain)
}

/// A host's namespace: `eth0` on the router's bridge, its address, the default route
/// via the router's address on its CIDR.
fn setup_host(
    site: &OnpremSite,
    host: &vpclab_model::OnpremHost,
    router: &str,
    ns: &str,
) -> Result<(), NetnsError> {
    let link = host_link(&host.name);
    if !netns::has_link(ns, DEVICE) {
        remove_leftover(router, &link)?;
        netns::ip(&[
            "-n", router, "link", "add", &link, "type", "veth", "peer", "name", DEVICE, "netns", ns,
        ])?;
    }
    netns::configure(
        router,
        &[&["link", "set", &link, "master", LAN], &["link", "set", &link, "up"]],
    )?;
    let cidr = site.cidr_of(host.ip).ok_or_else(|| NetnsError::Command {
        command: format!("setup of host {} of site {}", host.name, site.name),
        stderr: format!("{} is in none of the site's CIDRs", host.ip),
    })?;
    let address = format!("{}/{}", host.ip, cidr.prefix_len());
    let gateway: Ipv4Addr = OnpremSite::router_lan(cidr);
    let gateway = gateway.to_string();
    netns::configure(
        ns,
        &[
            &["addr", "replace", &address, "dev", DEVICE],
            &["link", "set", DEVICE, "up"],
            &["route", "replace", "default", "via", &gateway, "dev", DEVICE],
        ],
    )
}

/// Removes `site`'s namespaces, hosts first (their links go with them, and the
/// router's link on the internet side with the router's).
pub fn remove(site: &OnpremSite, internet: &str) -> Result<(), NetnsError> {
    let mut first_error = None;
    for ns in namespaces(site, internet).iter().rev() {
        if let Err(e) = netns::delete(ns) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
