//! The daemons' configuration files for an [`End`]: pure functions, tested without
//! root. Values come from vpclab's model (addresses, ASNs, keys of `[A-Za-z0-9._]`), so
//! nothing in them needs quoting beyond what is written here.

use std::fmt::Write as _;
use std::path::Path;

use crate::end::{End, Role, Tunnel};

/// The UDP ports (IKE, NAT-T) the `index`th charon of a namespace listens on. Two
/// charons cannot share a port, and charon binds all addresses; the first takes the
/// standard ones and the others are mapped to them on the wire by [`nftables`].
pub fn ports(index: usize) -> (u16, u16) {
    if index == 0 {
        return (500, 4500);
    }
    // At most End::MAX_TUNNELS, so this stays far below 65535.
    let base = 20_000 + 2 * index as u16;
    (base, base + 1)
}

/// The routing table the `index`th charon's libipsec routes go to. kernel-libipsec always
/// installs `0.0.0.0/0 dev ipsecN` in charon's table, whatever `install_routes` says; a
/// table per charon, consulted after `main` (which holds a default route), is never used.
pub fn routing_table(index: usize) -> u32 {
    200 + index as u32
}

/// `strongswan.conf` for the `index`th charon, whose files live in `dir`.
pub fn strongswan_conf(dir: &Path, index: usize) -> String {
    let (ike, natt) = ports(index);
    let table = routing_table(index);
    let dir = dir.display();
    // One setting per line: strongswan.conf does not take `;`-separated settings.
    format!(
        "# Written by vpclab; one charon per tunnel (kernel-libipsec owns one TUN each).
charon-systemd {{
  port = {ike}
  port_nat_t = {natt}
  install_routes = no
  install_virtual_ip = no
  routing_table = {table}
  routing_table_prio = {prio}
  retransmit_timeout = 2.0
  retransmit_tries = 3
  retransmit_base = 1.4
  load_modular = no
  load = random nonce openssl pem pkcs1 x509 pubkey hmac sha1 sha2 aes kdf kernel-libipsec kernel-netlink socket-default vici
  plugins {{
    vici {{
      socket = unix://{dir}/charon.vici
    }}
  }}
  filelog {{
    log {{
      path = {dir}/charon.log
      time_format = %Y-%m-%dT%H:%M:%S
      default = 1
      append = yes
      flush_line = yes
    }}
  }}
  journal {{
    default = -1
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
swanctl {{
  load = random nonce openssl pem pkcs1 x509 pubkey kdf
}}
",
        prio = 40_000 + table,
    )
}

/// The IKE proposals each side offers. A customer gateway proposes what AWS's
/// configuration document names (AES-128, SHA-1, DH group 2) and stronger choices first;
/// the AWS side accepts any of the combinations AWS accepts that strongSwan builds.
const IKE_PROPOSALS: &str = "aes128-sha256-modp2048,aes256-sha256-modp2048,aes128-sha1-modp2048,aes128-sha1-modp1024,aes256-sha1-modp1024,aes128gcm16-prfsha256-modp2048";
const ESP_PROPOSALS: &str = "aes128-sha256-modp2048,aes256-sha256-modp2048,aes128-sha1-modp2048,aes128-sha1-modp1024,aes256-sha1-modp1024,aes128gcm16-modp2048";

/// `swanctl.conf` for one tunnel: a route-based connection (any traffic, both ways), PSK authentication by outside addresses, AWS's lifetimes (IKE 8 h, IPsec 1 h)
/// and dead-peer detection every 10 s.
pub fn swanctl_conf(tunnel: &Tunnel) -> String {
    let Tunnel { name, local_outside, remote_outside, pre_shared_key, role, .. } = tunnel;
    // The customer gateway starts the tunnel, restarts it when DPD finds the peer gone,
    // and starts it again when the peer closes it; the AWS side waits, and clears.
    // AWS accepts IKEv1 and IKEv2 (`version = 0`: whichever the peer starts); the
    // customer gateway starts IKEv2.
    let (start, dpd, close, version) = match role {
        Role::Initiator => ("start", "restart", "start", 2),
        Role::Responder => ("none", "clear", "none", 0),
    };
    format!(
        "# Written by vpclab: tunnel {name}.
connections {{
  {name} {{
    version = {version}
    local_addrs = {local_outside}
    remote_addrs = {remote_outside}
    proposals = {IKE_PROPOSALS}
    encap = yes
    dpd_delay = 10s
    rekey_time = 28800s
    keyingtries = 0
    local {{
      auth = psk
      id = {local_outside}
    }}
    remote {{
      auth = psk
      id = {remote_outside}
    }}
    children {{
      {name} {{
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = {ESP_PROPOSALS}
        rekey_time = 3600s
        start_action = {start}
        dpd_action = {dpd}
        close_action = {close}
      }}
    }}
  }}
}}
secrets {{
  ike-{name} {{
    id-a = {local_outside}
    id-b = {remote_outside}
    secret = \"{pre_shared_key}\"
  }}
}}
"
    )
}

/// The nftables table of an end: the second and later charons' ports mapped to 500 and
/// 4500 on the wire (by the tunnel's two outside addresses, so one rule is one tunnel),
/// and TCP's MSS clamped to what the tunnels carry (AWS's advice for customer gateways:
/// 1379 for a 1399-byte tunnel MTU), both ways. Loaded with `nft -f`, replacing the
/// table whole.
pub fn nftables(end: &End) -> String {
    let mut pre = String::new();
    let mut post = String::new();
    for (index, t) in end.tunnels.iter().enumerate().skip(1) {
        let (ike, natt) = ports(index);
        let (local, remote) = (t.local_outside, t.remote_outside);
        for (wire, own) in [(500, ike), (4500, natt)] {
            let _ = writeln!(
                pre,
                "    ip saddr {remote} ip daddr {local} udp dport {wire} dnat to {local}:{own}"
            );
            let _ = writeln!(
                post,
                "    ip saddr {local} ip daddr {remote} udp sport {own} snat to {local}:{wire}"
            );
        }
    }
    let mss = end.tunnels.iter().map(|t| t.mtu.saturating_sub(40)).min().unwrap_or(1379);
    format!(
        "# Written by vpclab.
table ip vpclab_vpn
delete table ip vpclab_vpn
table ip vpclab_vpn {{
  chain ike_in {{
    type nat hook prerouting priority dstnat; policy accept;
{pre}  }}
  chain ike_out {{
    type nat hook postrouting priority srcnat; policy accept;
{post}  }}
  chain mss {{
    type filter hook forward priority mangle; policy accept;
    oifname \"ipsec*\" tcp flags syn tcp option maxseg size > {mss} tcp option maxseg size set {mss}
    iifname \"ipsec*\" tcp flags syn tcp option maxseg size > {mss} tcp option maxseg size set {mss}
  }}
}}
"
    )
}

/// `bird.conf` of an end with BGP, logging into `dir`: one BGP session per tunnel that
/// names a peer ASN, from the tunnel's inside address; what this end advertises, as
/// static routes in BIRD's own table only; learned routes into the kernel, where they
/// steer traffic into the tunnels. Hold time as AWS's (30 s, keepalive 10 s); BIRD picks
/// one best path per prefix, as a virtual private gateway does (no ECMP).
pub fn bird_conf(end: &End, dir: &Path) -> Option<String> {
    let bgp = end.bgp.as_ref()?;
    let router_id = end.tunnels.first()?.local_inside.addr();
    let mut out = format!(
        "# Written by vpclab.
router id {router_id};
log \"{dir}/bird.log\" all;
timeformat protocol iso long;
protocol device {{ scan time 2; }}
protocol kernel {{
  ipv4 {{ import none; export where source = RTS_BGP; }};
  learn off;
}}
protocol static advertised {{
  ipv4;
",
        dir = dir.display()
    );
    for prefix in &bgp.advertise {
        let _ = writeln!(out, "  route {prefix} blackhole;");
    }
    let keepalive = (bgp.hold_time / 3).max(1);
    let _ = write!(
        out,
        "}}
template bgp tunnel {{
  local as {asn};
  hold time {hold};
  keepalive time {keepalive};
  connect delay time 1;
  connect retry time 5;
  error wait time 1, 10;
  ipv4 {{ import all; export where proto = \"advertised\"; }};
}}
",
        asn = bgp.local_asn,
        hold = bgp.hold_time,
    );
    for t in &end.tunnels {
        let Some(asn) = t.remote_asn else { continue };
        let _ = writeln!(
            out,
            "protocol bgp {proto} from tunnel {{ neighbor {peer} as {asn}; source address {local}; }}",
            proto = bird_protocol(&t.name),
            peer = t.remote_inside,
            local = t.local_inside.addr(),
        );
    }
    Some(out)
}

/// BIRD's protocol name for a tunnel: its name with `-` as `_` (BIRD's symbols), with a
/// prefix so it can never be one of BIRD's keywords.
pub fn bird_protocol(tunnel: &str) -> String {
    format!("t_{}", tunnel.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::end::Bgp;

    fn tunnel(name: &str, local: [u8; 4], remote: [u8; 4], inside: &str) -> Tunnel {
        Tunnel {
            name: name.into(),
            local_outside: local.into(),
            remote_outside: remote.into(),
            local_inside: inside.parse().unwrap(),
            remote_inside: Ipv4Addr::new(169, 254, 10, 2),
            pre_shared_key: "key_one.2345".into(),
            role: Role::Responder,
            remote_asn: Some(65000),
            mtu: 1399,
        }
    }

    fn end() -> End {
        End {
            netns: "vpclab-test-vpn".into(),
            tunnels: vec![
                tunnel("t1", [203, 0, 113, 254], [198, 51, 100, 10], "169.254.10.1/30"),
                tunnel("t2", [203, 0, 113, 253], [198, 51, 100, 10], "169.254.11.1/30"),
            ],
            bgp: Some(Bgp {
                local_asn: 64512,
                advertise: vec!["10.0.0.0/16".parse().unwrap()],
                hold_time: 30,
            }),
            static_routes: vec![],
        }
    }

    #[test]
    fn charons_get_distinct_ports_and_tables() {
        let all: Vec<_> = (0..crate::End::MAX_TUNNELS).map(ports).collect();
        assert_eq!(all[0], (500, 4500));
        let mut flat: Vec<u16> = all.iter().flat_map(|(a, b)| [*a, *b]).collect();
        flat.sort_unstable();
        flat.dedup();
        assert_eq!(flat.len(), 2 * crate::End::MAX_TUNNELS);
        assert!(strongswan_conf(Path::new("/run/x"), 1).contains("port = 20002\n"));
        assert!(strongswan_conf(Path::new("/run/x"), 1).contains("routing_table = 201\n"));
    }

    #[test]
    fn the_second_tunnel_is_mapped_to_the_standard_ports_on_the_wire() {
        let nft = nftables(&end());
        assert!(nft.contains(
            "ip saddr 198.51.100.10 ip daddr 203.0.113.253 udp dport 4500 dnat to 203.0.113.253:20003"
        ));
        assert!(nft.contains(
            "ip saddr 203.0.113.253 ip daddr 198.51.100.10 udp sport 20002 snat to 203.0.113.253:500"
        ));
        // The first charon listens on the standard ports: no rule names its address.
        assert!(!nft.contains("203.0.113.254"));
        assert!(nft.contains("maxseg size set 1359"));
    }

    #[test]
    fn roles_decide_who_starts_and_what_dpd_does() {
        let mut t = end().tunnels[0].clone();
        let responder = swanctl_conf(&t);
        assert!(
            responder.contains("start_action = none") && responder.contains("dpd_action = clear")
        );
        assert!(responder.contains("version = 0"), "AWS takes IKEv1 and IKEv2");
        t.role = Role::Initiator;
        let initiator = swanctl_conf(&t);
        assert!(initiator.contains("start_action = start") && initiator.contains("version = 2"));
        assert!(initiator.contains("dpd_action = restart"));
        assert!(initiator.contains("secret = \"key_one.2345\""));
    }

    #[test]
    fn bird_peers_each_tunnel_and_advertises_the_prefixes() {
        let conf = bird_conf(&end(), Path::new("/run/x")).unwrap();
        assert!(conf.contains("router id 169.254.10.1;"));
        assert!(conf.contains("route 10.0.0.0/16 blackhole;"));
        assert!(conf.contains(
            "protocol bgp t_t2 from tunnel { neighbor 169.254.10.2 as 65000; source address 169.254.11.1; }"
        ));
        assert!(conf.contains("keepalive time 10;"));
        let mut static_end = end();
        static_end.bgp = None;
        assert_eq!(bird_conf(&static_end, Path::new("/run/x")), None);
    }
}
