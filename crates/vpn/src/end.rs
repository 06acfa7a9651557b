//! One end of a set of IPsec tunnels, as data.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// One end of tunnels: the AWS side of a VPN connection (two tunnels, two outside
/// addresses) or a customer gateway (one outside address, two tunnels per VPN
/// connection it serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// The network namespace the daemons run in; it exists, and its outside addresses
    /// are configured, before the end starts.
    pub netns: String,
    /// The tunnels, at most [`End::MAX_TUNNELS`]; names unique within the end.
    pub tunnels: Vec<Tunnel>,
    /// BGP over the tunnels' inside addresses, for the tunnels that name a peer ASN.
    pub bgp: Option<Bgp>,
    /// Prefixes routed into the tunnels without BGP, each into its own tunnels.
    pub static_routes: Vec<StaticRoute>,
}

/// A prefix routed into tunnels without BGP: into the first of `tunnels` (indexes into
/// the end's, in order of preference) whose IPsec SA is up, moving when that one goes
/// down; unreachable while none is up (never out of the outside interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    /// The prefix.
    pub prefix: Ipv4Net,
    /// The tunnels that may carry it: a VPN connection's two.
    pub tunnels: Vec<usize>,
}

impl End {
    /// Tunnels one end runs at most (each is a charon with its own ports).
    pub const MAX_TUNNELS: usize = 64;

    /// Whether `other` has the same tunnels and BGP sessions, differing at most in what
    /// crosses them (static routes, advertised prefixes): a change
    /// [`crate::Running::reroute`] applies without restarting a tunnel.
    pub fn same_tunnels(&self, other: &End) -> bool {
        let sessions = |b: &Option<Bgp>| b.as_ref().map(|b| (b.local_asn, b.hold_time));
        self.netns == other.netns
            && self.tunnels == other.tunnels
            && sessions(&self.bgp) == sessions(&other.bgp)
    }
}

/// Who starts IKE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Starts the tunnel, and starts it again when it goes down: a customer gateway.
    Initiator,
    /// Waits for the peer (AWS's default startup action, `add`); a tunnel whose peer is
    /// silent is closed by dead-peer detection (AWS's default DPD action, `clear`).
    Responder,
}

/// One IPsec tunnel, route-based: any traffic may cross it (0.0.0.0/0 both ways), and
/// routes decide what does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// A short name, `[a-z0-9-]`: the IKE connection's and the log's.
    pub name: String,
    /// This end's outside (public) address.
    pub local_outside: Ipv4Addr,
    /// The peer's outside address.
    pub remote_outside: Ipv4Addr,
    /// This end's inside address (on the tunnel's interface) and the inside prefix.
    pub local_inside: Ipv4Net,
    /// The peer's inside address: the BGP neighbour.
    pub remote_inside: Ipv4Addr,
    /// The pre-shared key.
    pub pre_shared_key: String,
    /// Who starts IKE.
    pub role: Role,
    /// The BGP neighbour's ASN; `None` runs no BGP session on this tunnel.
    pub remote_asn: Option<u32>,
    /// The tunnel interface's MTU.
    pub mtu: u16,
}

/// BGP at one end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bgp {
    /// This end's ASN.
    pub local_asn: u32,
    /// What this end advertises.
    pub advertise: Vec<Ipv4Net>,
    /// Hold time, seconds (AWS: 30; keepalives every third of it).
    pub hold_time: u16,
}
