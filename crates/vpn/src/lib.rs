//! Site-to-Site VPN tunnels, run by the implementations people run: strongSwan for IKE
//! and IPsec, BIRD for BGP.
//!
//! An [`End`] describes one end of a set of tunnels — the AWS side of a VPN connection,
//! or an on-premises customer gateway — as data: its namespace, its tunnels (outside and
//! inside addresses, pre-shared key, who initiates) and how routes cross them (BGP, or
//! static routes that follow the tunnel that is up). [`render`] turns an end into the
//! daemons' configuration files (pure, tested without root); [`Running`] starts the
//! daemons inside the end's namespace, reads their state ([`EndStatus`]) and stops them.
//! [`document`] reads AWS's `CustomerGatewayConfiguration`, so a customer gateway is
//! configured from what the API hands out, as a user's router would be.
//!
//! The kernel's IPsec (XFRM with ESP) is not available on every machine vpclab runs on,
//! so ESP runs in userspace: strongSwan's `kernel-libipsec` gives each charon a TUN
//! device (`ipsecN`) that is the tunnel's interface, and sends ESP inside UDP on port
//! 4500. One charon runs per tunnel (each owns one TUN); the second and later charons
//! of a namespace listen on other ports, and nftables maps them to 500/4500 on the wire.
//! See `docs/design/vpn.md` for the measurements behind these choices.

#![forbid(unsafe_code)]

pub mod document;
mod end;
pub mod render;
mod run;
pub mod status;

pub use end::{Bgp, End, Role, StaticRoute, Tunnel};
pub use run::{Running, VpnError, outside_addresses};
pub use status::{EndStatus, TunnelStatus};

/// The programs this crate runs, as Debian installs them (`scripts/deps.sh`).
pub const CHARON: &str = "/usr/sbin/charon-systemd";
/// strongSwan's control tool, which loads connections and lists SAs over vici.
pub const SWANCTL: &str = "/usr/sbin/swanctl";
/// The BGP daemon.
pub const BIRD: &str = "/usr/sbin/bird";
/// BIRD's control tool.
pub const BIRDC: &str = "/usr/sbin/birdc";

/// Whether the daemons are installed (a lab without them still serves the API, and
/// reports its tunnels down with the reason).
pub fn installed() -> bool {
    [CHARON, SWANCTL, BIRD, BIRDC].iter().all(|p| std::path::Path::new(p).exists())
}
