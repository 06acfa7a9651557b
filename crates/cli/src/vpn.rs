//! `vpclab vpn`: the lab's VPN tunnels — their state as the data plane reports it, and
//! faults to practise failover with: a tunnel's outside traffic dropped in the emulated
//! internet (`cut`) and let through again (`restore`), as a broken path between a data
//! centre and AWS would.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use vpclab_model::{Model, VpnConnection};

use crate::lab::{self, Result};

/// The internet namespace's nftables table of tunnel faults: a set of cut outside
/// addresses, dropped both ways before anything else forwards them.
const TABLE: &str = "vpclab_faults";

/// `vpclab vpn status`: each connection's tunnels.
pub(crate) fn status(state: &Path) -> Result<()> {
    let model = lab::running_model(state)?;
    print!("{}", table(&model));
    Ok(())
}

/// The tunnels of every VPN connection, one line each.
pub(crate) fn table(model: &Model) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if model.vpn_connections().next().is_none() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<22} {:<2} {:<15} {:<20} {:<5} {:<16} ROUTES",
        "VPN CONNECTION", "#", "OUTSIDE IP", "GATEWAY", "STATE", "DETAIL"
    );
    for c in model.vpn_connections() {
        let gateway = match (c.vpn_gateway(), c.transit_gateway()) {
            (Some(vgw), _) => vgw.to_string(),
            (None, Some(tgw)) => tgw.to_string(),
            (None, None) => "-".into(),
        };
        let bgp = !c.spec.static_routes_only;
        for (n, (t, live)) in (1..).zip(c.tunnels.iter().zip(&c.live)) {
            let routes: Vec<String> = live.routes.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "{:<22} {n:<2} {:<15} {gateway:<20} {:<5} {:<16} {}",
                c.id.as_str(),
                t.outside_ip,
                if live.up(bgp) { "UP" } else { "DOWN" },
                live.message(bgp),
                if routes.is_empty() { "-".into() } else { routes.join(",") },
            );
        }
    }
    out
}

/// `vpclab vpn cut|restore <connection> <tunnel>`.
pub(crate) fn fault(state: &Path, connection: &str, tunnel: u8, cut: bool) -> Result<()> {
    let model = lab::running_model(state)?;
    let address = outside_address(&model, connection, tunnel)?;
    lab::require_root()?;
    let internet = vpclab_dataplane::host::internet_netns();
    // Declaring the table and set again is harmless; the chain drops by the set, ahead
    // of the internet's own forwarding filter.
    let mut script = format!(
        "table ip {TABLE} {{\n\
         \tset cut {{ type ipv4_addr; }}\n\
         \tchain forward {{ type filter hook forward priority -10; policy accept; }}\n\
         }}\n\
         flush chain ip {TABLE} forward\n\
         add rule ip {TABLE} forward ip daddr @cut drop\n\
         add rule ip {TABLE} forward ip saddr @cut drop\n"
    );
    let verb = if cut { "add" } else { "delete" };
    let present = cut_addresses(&nft_list_set(internet)?).contains(&address);
    if cut != present {
        script.push_str(&format!("{verb} element ip {TABLE} cut {{ {address} }}\n"));
    }
    let mut child = Command::new("ip")
        .args(["netns", "exec", internet, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|e| format!("nft: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    if !out.status.success() {
        return Err(format!("nft failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let what = if cut {
        "cut: its IKE, ESP and BGP are dropped in the internet; BGP moves the routes to the \
         other tunnel within the hold time (30 s)"
    } else {
        "restored: the customer gateway brings it up again"
    };
    println!("{connection} tunnel {tunnel} ({address}) {what}");
    Ok(())
}

/// The cut set's contents (empty when the table is not there yet).
fn nft_list_set(internet: &str) -> Result<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", internet, "nft", "list", "set", "ip", TABLE, "cut"])
        .output()
        .map_err(|e| format!("cannot run nft: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The addresses in `nft list set` output (`elements = { 203.0.113.254, … }`).
fn cut_addresses(listing: &str) -> Vec<Ipv4Addr> {
    let Some((_, rest)) = listing.split_once("elements = {") else { return Vec::new() };
    let inside = rest.split('}').next().unwrap_or_default();
    inside.split(',').filter_map(|a| a.trim().parse().ok()).collect()
}

/// Tunnel `tunnel` (1 or 2)'s AWS outside address of connection `id`.
fn outside_address(model: &Model, id: &str, tunnel: u8) -> Result<Ipv4Addr> {
    let c: &VpnConnection = model
        .vpn_connections()
        .find(|c| c.id.as_str() == id)
        .ok_or_else(|| format!("no VPN connection {id} in this lab"))?;
    match tunnel {
        1 | 2 => Ok(c.tunnels[usize::from(tunnel) - 1].outside_ip),
        _ => Err(format!("a VPN connection has tunnels 1 and 2, not {tunnel}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_addresses_are_whole_elements() {
        let listing = "table ip vpclab_faults {\n\tset cut {\n\t\ttype ipv4_addr\n\t\telements = { 203.0.113.10, 203.0.113.254 }\n\t}\n}\n";
        let cut = cut_addresses(listing);
        assert_eq!(cut, [Ipv4Addr::new(203, 0, 113, 10), Ipv4Addr::new(203, 0, 113, 254)]);
        assert!(!cut.contains(&Ipv4Addr::new(203, 0, 113, 1)), "not a substring match");
        assert!(
            cut_addresses("table ip vpclab_faults {\n\tset cut {\n\t\ttype ipv4_addr\n\t}\n}\n")
                .is_empty()
        );
    }
}
