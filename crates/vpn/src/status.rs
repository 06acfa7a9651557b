//! What the daemons say, read from their control tools' output: pure parsers, tested
//! on recorded output.

use ipnet::Ipv4Net;

/// One tunnel's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TunnelStatus {
    /// Some IPsec SA of the tunnel is installed: packets cross it.
    pub ipsec_up: bool,
    /// Its BGP session is established (`false` on a tunnel without BGP).
    pub bgp_established: bool,
    /// The prefixes its BGP peer advertised and this end accepted.
    pub routes: Vec<Ipv4Net>,
}

/// Every tunnel's state, in the end's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndStatus {
    /// One per tunnel.
    pub tunnels: Vec<TunnelStatus>,
}

/// Whether `swanctl --list-sas --raw` output shows an installed CHILD_SA. IKE SAs have
/// states such as `ESTABLISHED` or `CONNECTING`; only CHILD_SAs are ever `INSTALLED`, and
/// one installed is a tunnel that carries packets.
pub fn child_sa_installed(list_sas: &str) -> bool {
    list_sas
        .split(|c: char| c.is_whitespace() || c == '{' || c == '}')
        .any(|w| w == "state=INSTALLED")
}

/// Whether `birdc show protocols <name>` output shows the session established: the
/// protocol's line (`name  BGP  ---  up  <since>  Established`) ends in `Established`.
pub fn bgp_established(show_protocols: &str, protocol: &str) -> bool {
    show_protocols.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some(protocol) && line.split_whitespace().last() == Some("Established")
    })
}

/// The prefixes in `birdc show route protocol <name>` output: every line that starts
/// with a prefix (the others are BIRD's banner, the table's name and next hops).
pub fn routes(show_route: &str) -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = show_route
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // In the shape strongSwan 5.9.8 (Debian 12) prints them, abridged; the netns tests
    // (netns-tests/tests/vpn_tunnels.rs) read the real thing.
    const INSTALLED: &str = "list-sa event {t1 {uniqueid=1 version=2 state=ESTABLISHED local-host=203.0.113.254 local-port=4500 local-id=203.0.113.254 remote-host=198.51.100.10 remote-port=4500 remote-id=198.51.100.10 initiator-spi=8e5f1c2b3a4d5e6f responder-spi=1a2b3c4d5e6f7a8b nat-remote=yes encr-alg=AES_CBC encr-keysize=128 integ-alg=HMAC_SHA2_256_128 prf-alg=PRF_HMAC_SHA2_256 dh-group=MODP_2048 established=3 rekey-time=28512 child-sas {t1-1 {name=t1 uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes spi-in=c1d2e3f4 spi-out=c5d6e7f8 encr-alg=AES_CBC encr-keysize=128 integ-alg=HMAC_SHA2_256_128 bytes-in=840 packets-in=10 bytes-out=840 packets-out=10 rekey-time=3300 life-time=3597 install-time=3 local-ts=[0.0.0.0/0] remote-ts=[0.0.0.0/0]}}}}\nlist-sas reply {}\n";
    const CONNECTING: &str = "list-sa event {t1 {uniqueid=2 version=2 state=CONNECTING local-host=198.51.100.10 local-port=500 remote-host=203.0.113.254 remote-port=500 initiator-spi=1122334455667788 responder-spi=0000000000000000 initiator=yes tasks-queued=[] tasks-active=[IKE_VENDOR IKE_INIT IKE_NATD IKE_CERT_PRE IKE_AUTH IKE_CERT_POST IKE_CONFIG CHILD_CREATE IKE_AUTH_LIFETIME IKE_MOBIKE] child-sas {}}}\nlist-sas reply {}\n";

    #[test]
    fn a_tunnel_is_up_when_a_child_sa_is_installed() {
        assert!(child_sa_installed(INSTALLED));
        assert!(!child_sa_installed(CONNECTING));
        assert!(!child_sa_installed("list-sas reply {}\n"));
        assert!(!child_sa_installed(""));
    }

    #[test]
    fn bgp_state_and_routes_from_birdc() {
        let protocols = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\nt_t1       BGP        ---        up     2026-12-01 06:50:01.123  Established   \nt_t2       BGP        ---        start  2026-12-01 06:50:01.123  Active        Socket: Connection refused\n";
        assert!(bgp_established(protocols, "t_t1"));
        assert!(!bgp_established(protocols, "t_t2"));
        assert!(!bgp_established(protocols, "t_t3"));
        let route = "BIRD 2.0.12 ready.\nTable master4:\n172.16.0.0/16        unicast [t_t1 2026-12-01 06:50:02.123] * (100) [AS65000i]\n\tvia 169.254.10.2 on ipsec0\n172.17.0.0/24        unicast [t_t1 2026-12-01 06:50:02.123] * (100) [AS65000i]\n\tvia 169.254.10.2 on ipsec0\n";
        let want: Vec<Ipv4Net> =
            vec!["172.16.0.0/16".parse().unwrap(), "172.17.0.0/24".parse().unwrap()];
        assert_eq!(routes(route), want);
        assert!(routes("BIRD 2.0.12 ready.\nTable master4:\n").is_empty());
    }
}
