//! The VPN tunnels themselves, without the rest of vpclab: two ends (an AWS side with two
//! outside addresses, a customer gateway with one) joined by an "internet" namespace,
//! each running strongSwan (kernel-libipsec) and BIRD as `vpclab_vpn` configures them.
//! Real IKE, real ESP over UDP, real BGP.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use vpclab_netns_tests::{Netns, require_root, wait_until};
use vpclab_vpn::{Bgp, End, EndStatus, Role, Running, StaticRoute, Tunnel};

const AWS_OUT: [Ipv4Addr; 2] = [Ipv4Addr::new(203, 0, 113, 254), Ipv4Addr::new(203, 0, 113, 253)];
const CGW_OUT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const INSIDE: [&str; 2] = ["169.254.10.0/30", "169.254.11.0/30"];
const VPC: &str = "10.99.0.0/16";
const SITE: &str = "172.16.0.0/16";

/// The three namespaces: `inet` routes between the ends' outside addresses.
struct Wires {
    inet: Netns,
    aws: Netns,
    cgw: Netns,
}

fn wires() -> Wires {
    let (inet, aws, cgw) = (Netns::new("inet"), Netns::new("aws"), Netns::new("cgw"));
    for (peer, name) in [(&aws, "aws"), (&cgw, "cgw")] {
        inet.run_ok(
            "ip",
            &["link", "add", name, "type", "veth", "peer", "name", "wan", "netns", peer.name()],
        );
        inet.run_ok("ip", &["link", "set", name, "up"]);
        peer.run_ok("ip", &["link", "set", "wan", "up"]);
        inet.run_ok("sysctl", &["-qw", &format!("net.ipv4.conf.{name}.proxy_arp=1")]);
        peer.run_ok("ip", &["route", "add", "default", "dev", "wan"]);
    }
    inet.run_ok("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    for a in AWS_OUT {
        aws.run_ok("ip", &["addr", "add", &format!("{a}/32"), "dev", "wan"]);
        inet.run_ok("ip", &["route", "add", &format!("{a}/32"), "dev", "aws"]);
    }
    cgw.run_ok("ip", &["addr", "add", &format!("{CGW_OUT}/32"), "dev", "wan"]);
    inet.run_ok("ip", &["route", "add", &format!("{CGW_OUT}/32"), "dev", "cgw"]);
    // The networks behind each end, as addresses on lo.
    aws.run_ok("ip", &["addr", "add", "10.99.0.1/32", "dev", "lo"]);
    cgw.run_ok("ip", &["addr", "add", "172.16.0.1/32", "dev", "lo"]);
    Wires { inet, aws, cgw }
}

/// `prefix` routed into either tunnel, the first preferred.
fn both(prefix: &str) -> Vec<StaticRoute> {
    vec![StaticRoute { prefix: prefix.parse().unwrap(), tunnels: vec![0, 1] }]
}

/// The two ends of a connection: `keys` are the pre-shared keys each side holds.
fn ends(w: &Wires, aws_keys: [&str; 2], cgw_keys: [&str; 2], hold: u16, bgp: bool) -> (End, End) {
    let mut aws_tunnels = Vec::new();
    let mut cgw_tunnels = Vec::new();
    for i in 0..2 {
        let net: ipnet::Ipv4Net = INSIDE[i].parse().unwrap();
        let hosts: Vec<Ipv4Addr> = net.hosts().collect();
        aws_tunnels.push(Tunnel {
            name: format!("t{}", i + 1),
            local_outside: AWS_OUT[i],
            remote_outside: CGW_OUT,
            local_inside: ipnet::Ipv4Net::new(hosts[0], 30).unwrap(),
            remote_inside: hosts[1],
            pre_shared_key: aws_keys[i].into(),
            role: Role::Responder,
            remote_asn: bgp.then_some(65000),
            mtu: 1399,
        });
        cgw_tunnels.push(Tunnel {
            name: format!("t{}", i + 1),
            local_outside: CGW_OUT,
            remote_outside: AWS_OUT[i],
            local_inside: ipnet::Ipv4Net::new(hosts[1], 30).unwrap(),
            remote_inside: hosts[0],
            pre_shared_key: cgw_keys[i].into(),
            role: Role::Initiator,
            remote_asn: bgp.then_some(64512),
            mtu: 1399,
        });
    }
    let aws = End {
        netns: w.aws.name().into(),
        tunnels: aws_tunnels,
        bgp: bgp.then(|| Bgp {
            local_asn: 64512,
            advertise: vec![VPC.parse().unwrap()],
            hold_time: hold,
        }),
        static_routes: if bgp { vec![] } else { both(SITE) },
    };
    let cgw = End {
        netns: w.cgw.name().into(),
        tunnels: cgw_tunnels,
        bgp: bgp.then(|| Bgp {
            local_asn: 65000,
            advertise: vec![SITE.parse().unwrap()],
            hold_time: hold,
        }),
        static_routes: if bgp { vec![] } else { both(VPC) },
    };
    (aws, cgw)
}

/// Where an end's files go: named after its namespace, so a test's never meet a lab's;
/// removed when the test ends (see [`Wires`]'s drop).
fn dir(ns: &Netns) -> PathBuf {
    PathBuf::from("/run/vpclab").join(ns.name())
}

impl Drop for Wires {
    fn drop(&mut self) {
        for ns in [&self.aws, &self.cgw] {
            let _ = std::fs::remove_dir_all(dir(ns));
        }
    }
}

fn wait_for(
    what: &str,
    end: &mut Running,
    secs: u64,
    check: impl Fn(&EndStatus) -> bool,
) -> EndStatus {
    wait_until(what, Duration::from_secs(secs), Duration::from_millis(200), || {
        let s = end.poll();
        check(&s).then_some(s)
    })
}

fn pings(from: &Netns, source: &str, to: &str) -> bool {
    from.run("ping", &["-c", "1", "-W", "1", "-I", source, to]).status.success()
}

#[test]
#[ignore = "needs root"]
fn both_tunnels_come_up_bgp_carries_the_prefixes_and_packets_cross() {
    require_root();
    let w = wires();
    let (aws, cgw) =
        ends(&w, ["key.one_1234", "key.two_5678"], ["key.one_1234", "key.two_5678"], 30, true);
    let mut aws = Running::start(aws, &dir(&w.aws)).expect("AWS side starts");
    let mut cgw = Running::start(cgw, &dir(&w.cgw)).expect("customer gateway starts");
    let site: ipnet::Ipv4Net = SITE.parse().unwrap();
    let s = wait_for("both tunnels up with BGP routes", &mut aws, 30, |s| {
        s.tunnels.iter().all(|t| t.ipsec_up && t.bgp_established && t.routes == [site])
    });
    assert_eq!(s.tunnels.len(), 2);
    let vpc: ipnet::Ipv4Net = VPC.parse().unwrap();
    wait_for("the customer gateway learns the VPC", &mut cgw, 30, |s| {
        s.tunnels.iter().any(|t| t.routes == [vpc])
    });
    wait_until(
        "a ping across the tunnel",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || pings(&w.cgw, "172.16.0.1", "10.99.0.1").then_some(()),
    );
    // What crossed the internet namespace was ESP in UDP, never the inner addresses.
    let table = String::from_utf8_lossy(&w.inet.run_ok("ip", &["route"]).stdout).into_owned();
    assert!(!table.contains("172.16.") && !table.contains("10.99."), "{table}");
}

#[test]
#[ignore = "needs root"]
fn a_blocked_tunnel_fails_over_to_the_other() {
    require_root();
    let w = wires();
    // A short hold time keeps the test short; the mechanism is AWS's 30 s one.
    let (aws, cgw) =
        ends(&w, ["key.one_1234", "key.two_5678"], ["key.one_1234", "key.two_5678"], 6, true);
    let mut aws = Running::start(aws, &dir(&w.aws)).expect("AWS side starts");
    let cgw = Running::start(cgw, &dir(&w.cgw)).expect("customer gateway starts");
    wait_for("both tunnels up", &mut aws, 30, |s| s.tunnels.iter().all(|t| t.bgp_established));
    wait_until(
        "a ping across the tunnel",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || pings(&w.cgw, "172.16.0.1", "10.99.0.1").then_some(()),
    );
    let first = String::from_utf8_lossy(&w.cgw.run_ok("ip", &["route", "get", "10.99.0.1"]).stdout)
        .into_owned();
    // Cut whichever tunnel carries the traffic, in the internet.
    let used = if first.contains(cgw.device(0).unwrap()) { 0 } else { 1 };
    let cut = AWS_OUT[used].to_string();
    w.inet.run_ok(
        "nft",
        &[&format!(
            "add table ip fault; add chain ip fault block {{ type filter hook forward priority 0; }}; add rule ip fault block ip daddr {cut} drop; add rule ip fault block ip saddr {cut} drop"
        )],
    );
    let other = cgw.device(1 - used).unwrap().to_owned();
    wait_until(
        "the route to move to the other tunnel",
        Duration::from_secs(40),
        Duration::from_millis(200),
        || {
            let route =
                String::from_utf8_lossy(&w.cgw.run_ok("ip", &["route", "get", "10.99.0.1"]).stdout)
                    .into_owned();
            route.contains(&other).then_some(())
        },
    );
    wait_until(
        "a ping over the other tunnel",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || pings(&w.cgw, "172.16.0.1", "10.99.0.1").then_some(()),
    );
    let s = wait_for("the cut tunnel's BGP to drop on the AWS side", &mut aws, 40, |s| {
        !s.tunnels[used].bgp_established && s.tunnels[1 - used].bgp_established
    });
    assert!(s.tunnels[used].routes.is_empty());
    // Healed, it comes back.
    w.inet.run_ok("nft", &["delete table ip fault"]);
    wait_for("the tunnel back after the fault", &mut aws, 60, |s| {
        s.tunnels.iter().all(|t| t.bgp_established)
    });
    drop(cgw);
}

#[test]
#[ignore = "needs root"]
fn a_wrong_pre_shared_key_keeps_its_tunnel_down() {
    require_root();
    let w = wires();
    let (aws, cgw) =
        ends(&w, ["key.one_1234", "key.two_5678"], ["wrong.key_000", "key.two_5678"], 30, true);
    let mut aws = Running::start(aws, &dir(&w.aws)).expect("AWS side starts");
    let _cgw = Running::start(cgw, &dir(&w.cgw)).expect("customer gateway starts");
    wait_for("tunnel 2 up", &mut aws, 30, |s| s.tunnels[1].ipsec_up);
    // Tunnel 1's authentication was refused (a positive sign, not a timeout), and it is
    // down.
    let log = dir(&w.aws).join("t1/charon.log");
    wait_until(
        "the refusal in the AWS side's log",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|l| l.contains("MAC mismatched") || l.contains("AUTHENTICATION_FAILED"))
                .map(|_| ())
        },
    );
    let s = aws.poll();
    assert!(!s.tunnels[0].ipsec_up && !s.tunnels[0].bgp_established, "{s:?}");
}

#[test]
#[ignore = "needs root"]
fn static_routes_follow_the_tunnel_that_is_up() {
    require_root();
    let w = wires();
    let (aws, cgw) =
        ends(&w, ["key.one_1234", "key.two_5678"], ["key.one_1234", "key.two_5678"], 30, false);
    let mut aws = Running::start(aws, &dir(&w.aws)).expect("AWS side starts");
    let mut cgw = Running::start(cgw, &dir(&w.cgw)).expect("customer gateway starts");
    wait_for("both tunnels up", &mut aws, 30, |s| {
        s.tunnels.iter().all(|t| t.ipsec_up && !t.bgp_established)
    });
    wait_for("both tunnels up at the customer", &mut cgw, 30, |s| {
        s.tunnels.iter().all(|t| t.ipsec_up)
    });
    wait_until(
        "a ping across the tunnel",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            aws.poll();
            cgw.poll();
            pings(&w.cgw, "172.16.0.1", "10.99.0.1").then_some(())
        },
    );
    let route =
        String::from_utf8_lossy(&w.aws.run_ok("ip", &["route", "show", SITE]).stdout).into_owned();
    assert!(route.contains(aws.device(0).unwrap()), "{route}");
}
