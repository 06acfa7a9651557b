//! The per-packet pipeline: a pure function of a packet, the port it came from and the
//! snapshot. No I/O, no clock, no allocation, no locks, no logging — the verdict says
//! what to do, the caller does it and counts it.
//!
//! Order, as AWS's VPC router:
//!
//! * From an instance: IPv4 checks → source/destination check → same subnet? deliver
//!   (no route table, no TTL change: that is layer 2 in AWS) → reserved VPC addresses are
//!   not served yet → route lookup in the subnet's table → `local`: the VPC's holder of
//!   the address; internet gateway: the instance's public IP or nothing, 1:1 SNAT, the
//!   1500-byte edge → TTL decrement (ICMP time-exceeded from the subnet router at 1).
//! * From the internet: IPv4 checks → the destination must be a mapped public IP → TTL →
//!   1:1 DNAT to the private address.
//!
//! Security groups and network ACLs come in a later change.

use std::net::Ipv4Addr;

use crate::counters::DropReason;
use crate::snapshot::{
    EDGE_ADDRESS, EDGE_MTU, Hop, INTERNET, InstancePort, Port, PortEntry, Snapshot,
};
use crate::wire::{Ipv4, Malformed, Side, icmp, icmp_error};

/// Room an ICMP error needs: a 20-byte header, 8 bytes of ICMP and a 548-byte quote.
pub const REPLY_BUFFER: usize = 576;

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write the first `len` bytes of the (rewritten) packet to `port`.
    Forward {
        /// Where.
        port: Port,
        /// How many bytes: the IP total length.
        len: usize,
    },
    /// Drop the packet for `reason`, and write the ICMP error built in the reply buffer
    /// (`len` bytes) back to `port`.
    Reply {
        /// Where the error goes: the port the packet came from.
        port: Port,
        /// Its length.
        len: usize,
        /// Why the original was dropped.
        reason: DropReason,
    },
    /// Drop it.
    Drop(DropReason),
}

impl Snapshot {
    /// Decides the fate of `packet`, read from port `from`; rewrites it in place when it
    /// is forwarded, or builds an ICMP error into `reply` (at least [`REPLY_BUFFER`]
    /// bytes) when one is owed.
    pub fn process(&self, from: Port, packet: &mut [u8], reply: &mut [u8]) -> Verdict {
        let mut ip = match Ipv4::new_checked(&mut *packet) {
            Ok(ip) => ip,
            Err(Malformed::Version(_)) => return Verdict::Drop(DropReason::NotIpv4),
            Err(_) => return Verdict::Drop(DropReason::Malformed),
        };
        match self.port(from) {
            PortEntry::Instance(me) => self.egress(from, &me, &mut ip, reply),
            PortEntry::Internet => self.ingress(&mut ip, reply),
            PortEntry::Vacant => Verdict::Drop(DropReason::UnknownPort),
        }
    }

    fn egress(
        &self,
        from: Port,
        me: &InstancePort,
        ip: &mut Ipv4<&mut [u8]>,
        reply: &mut [u8],
    ) -> Verdict {
        if ip.src() != me.private {
            return Verdict::Drop(DropReason::SourceCheck);
        }
        let dst = ip.dst();
        let len = ip.total_len();

        if me.subnet.contains(&dst) {
            let offset = u32::from(dst) - u32::from(me.subnet.network());
            if offset < 4 || dst == me.subnet.broadcast() {
                return Verdict::Drop(DropReason::VpcService);
            }
            return match self.host(me.vpc, dst) {
                Some(port) => Verdict::Forward { port, len },
                None => Verdict::Drop(DropReason::NoHost),
            };
        }

        let Some(table) = self.tables.get(me.table as usize) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let hop = table
            .lpm
            .lookup(dst)
            .and_then(|route| table.hops.get(route as usize).copied());
        let router = Ipv4Addr::from(u32::from(me.subnet.network()) + 1);
        match hop {
            None => Verdict::Drop(DropReason::NoRoute),
            Some(Hop::Blackhole) => Verdict::Drop(DropReason::Blackhole),
            Some(Hop::Local) => {
                let Some(port) = self.host(me.vpc, dst) else {
                    return Verdict::Drop(DropReason::NoHost);
                };
                if let Some(verdict) = expire(ip, from, router, reply) {
                    return verdict;
                }
                ip.decrement_ttl();
                Verdict::Forward { port, len }
            }
            Some(Hop::Internet) => {
                let Some(public) = me.public else {
                    return Verdict::Drop(DropReason::NoPublicIp);
                };
                if len > EDGE_MTU {
                    return too_big(ip, from, router, reply);
                }
                if let Some(verdict) = expire(ip, from, router, reply) {
                    return verdict;
                }
                ip.decrement_ttl();
                ip.translate(Side::Src, public);
                Verdict::Forward {
                    port: INTERNET,
                    len,
                }
            }
        }
    }

    fn ingress(&self, ip: &mut Ipv4<&mut [u8]>, reply: &mut [u8]) -> Verdict {
        let Some(port) = self.public.lookup(ip.dst()) else {
            return Verdict::Drop(DropReason::NoPublicMapping);
        };
        let PortEntry::Instance(instance) = self.port(port) else {
            return Verdict::Drop(DropReason::UnknownPort);
        };
        if let Some(verdict) = expire(ip, INTERNET, EDGE_ADDRESS, reply) {
            return verdict;
        }
        let len = ip.total_len();
        ip.decrement_ttl();
        ip.translate(Side::Dst, instance.private);
        Verdict::Forward { port, len }
    }

    fn host(&self, vpc: u32, addr: Ipv4Addr) -> Option<Port> {
        self.vpcs.get(vpc as usize)?.hosts.lookup(addr)
    }
}

/// If the packet's TTL would run out at this hop: the drop, with an ICMP time-exceeded
/// from `router` back to `from` when one may be sent.
fn expire(ip: &Ipv4<&mut [u8]>, from: Port, router: Ipv4Addr, reply: &mut [u8]) -> Option<Verdict> {
    if ip.ttl() > 1 {
        return None;
    }
    Some(error_reply(
        ip,
        from,
        router,
        reply,
        icmp::TIME_EXCEEDED,
        0,
        0,
        DropReason::TtlExceeded,
    ))
}

/// A packet too large for the internet edge: fragmentation-needed if DF is set.
fn too_big(ip: &Ipv4<&mut [u8]>, from: Port, router: Ipv4Addr, reply: &mut [u8]) -> Verdict {
    if !ip.dont_fragment() {
        // Software fragmentation comes with the offload work; until then, counted.
        return Verdict::Drop(DropReason::TooBig);
    }
    let mtu = EDGE_MTU as u32;
    error_reply(
        ip,
        from,
        router,
        reply,
        icmp::UNREACHABLE,
        icmp::FRAG_NEEDED,
        mtu,
        DropReason::TooBig,
    )
}

#[allow(clippy::too_many_arguments)]
fn error_reply(
    ip: &Ipv4<&mut [u8]>,
    from: Port,
    source: Ipv4Addr,
    reply: &mut [u8],
    kind: u8,
    code: u8,
    rest: u32,
    reason: DropReason,
) -> Verdict {
    match icmp_error(reply, source, &ip.reborrow(), kind, code, rest) {
        Some(len) => Verdict::Reply {
            port: from,
            len,
            reason,
        },
        None => Verdict::Drop(reason),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use vpclab_model::{InstanceId, Model, RouteSpec, RouteTarget, RunInstance, Tags};

    use super::*;
    use crate::snapshot::{PortMap, compile};
    use crate::wire::proto;
    use crate::wire::tests::{checksums_ok, echo, packet, tcp_syn, udp};

    /// The topology every test uses:
    ///
    /// * VPC A 10.0.0.0/16 with an internet gateway; public subnet 10.0.1.0/24 whose table
    ///   routes 0.0.0.0/0 to it, private subnet 10.0.2.0/24 on the main table.
    ///   `web` 10.0.1.4 (public 203.0.113.10), `bare` 10.0.1.5 (no public IP),
    ///   `app` 10.0.2.4.
    /// * VPC B 10.1.0.0/16, no gateway: `other` 10.1.0.4.
    struct Lab {
        snapshot: Snapshot,
        web: Port,
        bare: Port,
        app: Port,
        other: Port,
    }

    fn lab() -> Lab {
        let mut m = Model::new(42);
        let a = m
            .create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new())
            .unwrap();
        let public = m
            .create_subnet(&a, "10.0.1.0/24".parse().unwrap(), None, Tags::new())
            .unwrap();
        let private = m
            .create_subnet(&a, "10.0.2.0/24".parse().unwrap(), None, Tags::new())
            .unwrap();
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &a).unwrap();
        let table = m.create_route_table(&a, Tags::new()).unwrap();
        m.create_route(
            &table,
            RouteSpec {
                destination: "0.0.0.0/0".parse().unwrap(),
                target: RouteTarget::Gateway(igw),
            },
        )
        .unwrap();
        m.associate_route_table(&table, &public).unwrap();
        let b = m
            .create_vpc("10.1.0.0/16".parse().unwrap(), Tags::new())
            .unwrap();
        let b_subnet = m
            .create_subnet(&b, "10.1.0.0/24".parse().unwrap(), None, Tags::new())
            .unwrap();

        let run = |m: &mut Model, subnet: &vpclab_model::SubnetId, public_ip: bool| -> InstanceId {
            m.run_instance(RunInstance {
                subnet: Some(subnet.clone()),
                public_ip: Some(public_ip),
                ..Default::default()
            })
            .unwrap()
        };
        let web = run(&mut m, &public, true);
        let bare = run(&mut m, &public, false);
        let app = run(&mut m, &private, false);
        let other = run(&mut m, &b_subnet, false);
        let mut ports = PortMap::new();
        let [web, bare, app, other] = [web, bare, app, other].map(|i| ports.assign(&i));
        Lab {
            snapshot: compile(&m, &ports, 1),
            web,
            bare,
            app,
            other,
        }
    }

    fn run(snapshot: &Snapshot, from: Port, packet: &mut [u8]) -> (Verdict, Vec<u8>) {
        let mut reply = vec![0u8; REPLY_BUFFER];
        let verdict = snapshot.process(from, packet, &mut reply);
        if let Verdict::Reply { len, .. } = verdict {
            reply.truncate(len);
        }
        (verdict, reply)
    }

    const WEB: [u8; 4] = [10, 0, 1, 4];
    const BARE: [u8; 4] = [10, 0, 1, 5];
    const APP: [u8; 4] = [10, 0, 2, 4];
    const OTHER: [u8; 4] = [10, 1, 0, 4];
    const CHECK_IP: [u8; 4] = [198, 51, 100, 1];
    const WEB_PUBLIC: [u8; 4] = [203, 0, 113, 10];

    #[test]
    fn same_subnet_is_delivered_without_touching_ttl() {
        let lab = lab();
        let mut p = packet(WEB, BARE, proto::ICMP, 64, &echo(1, 1));
        let original = p.clone();
        let (verdict, _) = run(&lab.snapshot, lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: lab.bare,
                len: p.len()
            }
        );
        assert_eq!(p, original);
    }

    #[test]
    fn other_subnets_are_routed_by_the_local_route() {
        let lab = lab();
        let mut p = packet(WEB, APP, proto::TCP, 64, &tcp_syn(40000, 80));
        let (verdict, _) = run(&lab.snapshot, lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: lab.app,
                len: p.len()
            }
        );
        assert_eq!(p[8], 63, "TTL decremented");
        assert!(checksums_ok(&p));

        // And back, through the private subnet's main table.
        let mut p = packet(APP, WEB, proto::TCP, 64, &tcp_syn(80, 40000));
        let (verdict, _) = run(&lab.snapshot, lab.app, &mut p);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: lab.web,
                len: p.len()
            }
        );
    }

    #[test]
    fn the_gateway_translates_to_the_public_ip_and_back() {
        let lab = lab();
        let mut p = packet(WEB, CHECK_IP, proto::TCP, 64, &tcp_syn(40000, 80));
        let (verdict, _) = run(&lab.snapshot, lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: INTERNET,
                len: p.len()
            }
        );
        assert_eq!(&p[12..16], &WEB_PUBLIC, "source is the public IP");
        assert!(checksums_ok(&p));

        let mut back = packet(CHECK_IP, WEB_PUBLIC, proto::TCP, 64, &tcp_syn(80, 40000));
        let (verdict, _) = run(&lab.snapshot, INTERNET, &mut back);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: lab.web,
                len: back.len()
            }
        );
        assert_eq!(&back[16..20], &WEB, "destination is the private IP");
        assert_eq!(back[8], 63);
        assert!(checksums_ok(&back));
    }

    #[test]
    fn no_public_ip_no_internet() {
        let lab = lab();
        let mut p = packet(BARE, CHECK_IP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.bare, &mut p).0,
            Verdict::Drop(DropReason::NoPublicIp)
        );
    }

    #[test]
    fn no_route_no_delivery() {
        let lab = lab();
        let mut p = packet(APP, CHECK_IP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.app, &mut p).0,
            Verdict::Drop(DropReason::NoRoute)
        );
        // Two VPCs do not reach each other.
        let mut p = packet(OTHER, WEB, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.other, &mut p).0,
            Verdict::Drop(DropReason::NoRoute)
        );
        let mut p = packet(APP, OTHER, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.app, &mut p).0,
            Verdict::Drop(DropReason::NoRoute)
        );
        // A local address nobody holds.
        let mut p = packet(APP, [10, 0, 9, 9], proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.app, &mut p).0,
            Verdict::Drop(DropReason::NoHost)
        );
    }

    #[test]
    fn the_internet_reaches_only_mapped_public_ips() {
        let lab = lab();
        let mut p = packet(CHECK_IP, [203, 0, 113, 99], proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, INTERNET, &mut p).0,
            Verdict::Drop(DropReason::NoPublicMapping)
        );
        let mut p = packet(CHECK_IP, WEB, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, INTERNET, &mut p).0,
            Verdict::Drop(DropReason::NoPublicMapping)
        );
    }

    #[test]
    fn ttl_expiry_answers_time_exceeded_from_the_router() {
        let lab = lab();
        let mut p = packet(WEB, APP, proto::UDP, 1, &udp(33434, 33434, b"trace"));
        let original = p.clone();
        let (verdict, reply) = run(&lab.snapshot, lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Reply {
                port: lab.web,
                len: reply.len(),
                reason: DropReason::TtlExceeded
            }
        );
        assert!(checksums_ok(&reply));
        assert_eq!(&reply[12..16], &[10, 0, 1, 1], "from the subnet router");
        assert_eq!(&reply[16..20], &WEB);
        assert_eq!(reply[20], icmp::TIME_EXCEEDED);
        assert_eq!(&reply[28..], &original[..], "quotes the packet");
    }

    #[test]
    fn the_edge_is_1500_bytes() {
        let lab = lab();
        let big = vec![0u8; 2000];
        let mut p = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(1, 2, &big));
        let (verdict, reply) = run(&lab.snapshot, lab.web, &mut p);
        assert!(matches!(
            verdict,
            Verdict::Reply {
                reason: DropReason::TooBig,
                ..
            }
        ));
        assert_eq!(
            (reply[20], reply[21]),
            (icmp::UNREACHABLE, icmp::FRAG_NEEDED)
        );
        assert_eq!(
            u16::from_be_bytes([reply[26], reply[27]]),
            1500,
            "next-hop MTU"
        );
        assert!(checksums_ok(&reply));

        let mut no_df = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(1, 2, &big));
        no_df[6] = 0;
        let c = crate::wire::checksum(&{
            let mut h = no_df[..20].to_vec();
            h[10..12].fill(0);
            h
        });
        no_df[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            run(&lab.snapshot, lab.web, &mut no_df).0,
            Verdict::Drop(DropReason::TooBig)
        );
    }

    #[test]
    fn bad_input_is_counted_never_a_panic() {
        let lab = lab();
        let good = packet(WEB, APP, proto::ICMP, 64, &echo(1, 1));
        let mut spoofed = packet(BARE, APP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.web, &mut spoofed).0,
            Verdict::Drop(DropReason::SourceCheck)
        );
        let mut v6 = good.clone();
        v6[0] = 0x60;
        assert_eq!(
            run(&lab.snapshot, lab.web, &mut v6).0,
            Verdict::Drop(DropReason::NotIpv4)
        );
        let mut corrupt = good.clone();
        corrupt[15] ^= 0xff;
        assert_eq!(
            run(&lab.snapshot, lab.web, &mut corrupt).0,
            Verdict::Drop(DropReason::Malformed)
        );
        for cut in 0..good.len() {
            let mut short = good[..cut].to_vec();
            let verdict = run(&lab.snapshot, lab.web, &mut short).0;
            assert!(
                matches!(verdict, Verdict::Drop(_)),
                "cut at {cut}: {verdict:?}"
            );
        }
        let mut p = good.clone();
        assert_eq!(
            run(&lab.snapshot, 99, &mut p).0,
            Verdict::Drop(DropReason::UnknownPort)
        );
        let mut router = packet(WEB, [10, 0, 1, 1], proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&lab.snapshot, lab.web, &mut router).0,
            Verdict::Drop(DropReason::VpcService)
        );
    }

    #[test]
    fn ip_options_are_forwarded() {
        let lab = lab();
        // A 24-byte header (one NOP-padded option word).
        let mut p = packet(WEB, APP, proto::ICMP, 64, &echo(1, 1));
        p.splice(20..20, [1u8, 1, 1, 0]);
        p[0] = 0x46;
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[10..12].fill(0);
        let c = crate::wire::checksum(&p[..24]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let (verdict, _) = run(&lab.snapshot, lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: lab.app,
                len: p.len()
            }
        );
        assert_eq!(crate::wire::checksum(&p[..24]), 0);
    }

    #[test]
    fn a_detached_gateway_makes_a_blackhole() {
        let mut m = Model::new(5);
        let vpc = m
            .create_vpc("10.2.0.0/16".parse().unwrap(), Tags::new())
            .unwrap();
        let subnet = m
            .create_subnet(&vpc, "10.2.0.0/24".parse().unwrap(), None, Tags::new())
            .unwrap();
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let main = m.vpc(&vpc).unwrap().main_route_table.clone();
        let default = RouteSpec {
            destination: "0.0.0.0/0".parse().unwrap(),
            target: RouteTarget::Gateway(igw.clone()),
        };
        m.create_route(&main, default).unwrap();
        let i = m
            .run_instance(RunInstance {
                subnet: Some(subnet),
                ..Default::default()
            })
            .unwrap();
        m.detach_internet_gateway(&igw, &vpc).unwrap();
        let mut ports = PortMap::new();
        let port = ports.assign(&i);
        let snapshot = compile(&m, &ports, 1);
        let mut p = packet([10, 2, 0, 4], CHECK_IP, proto::ICMP, 64, &echo(1, 1));
        assert_eq!(
            run(&snapshot, port, &mut p).0,
            Verdict::Drop(DropReason::Blackhole)
        );
    }

    #[test]
    fn icmp_errors_from_the_internet_are_translated_inside() {
        let lab = lab();
        // What web sent, as the internet saw it (already translated).
        let sent = packet(WEB_PUBLIC, CHECK_IP, proto::UDP, 63, &udp(5000, 9, b"x"));
        let mut error = vec![0u8; REPLY_BUFFER];
        let len = crate::wire::icmp_error(
            &mut error,
            Ipv4Addr::from(CHECK_IP),
            &crate::wire::Ipv4::new_checked(&sent[..]).unwrap(),
            icmp::UNREACHABLE,
            3,
            0,
        )
        .unwrap();
        let mut error = error[..len].to_vec();
        let (verdict, _) = run(&lab.snapshot, INTERNET, &mut error);
        assert_eq!(verdict, Verdict::Forward { port: lab.web, len });
        assert_eq!(&error[16..20], &WEB);
        assert_eq!(
            &error[28 + 12..28 + 16],
            &WEB,
            "the quoted source is private again"
        );
        assert!(checksums_ok(&error));
    }

    #[test]
    fn fragments_are_forwarded_and_translated() {
        let lab = lab();
        // A later fragment (offset 185 × 8 bytes): no L4 header to patch, only IP.
        let mut p = packet(WEB, CHECK_IP, proto::UDP, 64, b"middle of a datagram....");
        p[6..8].copy_from_slice(&0x00b9u16.to_be_bytes());
        p[10..12].fill(0);
        let c = crate::wire::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let payload = p[20..].to_vec();
        let (verdict, _) = run(&lab.snapshot, lab.web, &mut p);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: INTERNET,
                len: p.len()
            }
        );
        assert_eq!(&p[12..16], &WEB_PUBLIC);
        assert_eq!(crate::wire::checksum(&p[..20]), 0);
        assert_eq!(&p[20..], &payload[..], "payload untouched");

        // A first fragment (MF set) carries the UDP header: its checksum is patched.
        let mut first = packet(WEB, CHECK_IP, proto::UDP, 64, &udp(5000, 53, b"head"));
        first[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
        first[10..12].fill(0);
        let c = crate::wire::checksum(&first[..20]);
        first[10..12].copy_from_slice(&c.to_be_bytes());
        let (verdict, _) = run(&lab.snapshot, lab.web, &mut first);
        assert_eq!(
            verdict,
            Verdict::Forward {
                port: INTERNET,
                len: first.len()
            }
        );
        assert!(checksums_ok(&first));
    }

    proptest::proptest! {
        /// Whatever arrives, from whichever port: a verdict, never a panic, and never
        /// more bytes out than came in.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            from in 0u32..8,
        ) {
            let lab = lab();
            let mut packet = bytes.clone();
            let (verdict, _) = run(&lab.snapshot, from, &mut packet);
            if let Verdict::Forward { len, .. } = verdict {
                proptest::prop_assert!(len <= bytes.len());
            }
        }

        /// Valid packets with random bytes changed, the IP checksum fixed up half the
        /// time so the damage reaches past the header check.
        #[test]
        fn damaged_packets_never_panic(
            kind in 0usize..3,
            flips in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 1..6),
            fix_checksum in proptest::prelude::any::<bool>(),
            from_internet in proptest::prelude::any::<bool>(),
        ) {
            let lab = lab();
            let (src, dst, from) = if from_internet {
                (CHECK_IP, WEB_PUBLIC, INTERNET)
            } else {
                (WEB, CHECK_IP, lab.web)
            };
            let l4 = match kind {
                0 => (proto::UDP, udp(1, 2, b"payload")),
                1 => (proto::TCP, tcp_syn(1, 2)),
                _ => (proto::ICMP, echo(1, 2)),
            };
            let mut p = packet(src, dst, l4.0, 64, &l4.1);
            for (at, value) in flips {
                let at = at % p.len();
                p[at] = value;
            }
            if fix_checksum && p.len() >= 20 {
                let header = usize::from(p[0] & 0x0f) * 4;
                if (20..=p.len()).contains(&header) {
                    p[10..12].fill(0);
                    let c = crate::wire::checksum(&p[..header]);
                    p[10..12].copy_from_slice(&c.to_be_bytes());
                }
            }
            let before = p.len();
            let (verdict, reply) = run(&lab.snapshot, from, &mut p);
            match verdict {
                Verdict::Forward { len, .. } => proptest::prop_assert!(len <= before),
                Verdict::Reply { len, .. } => proptest::prop_assert_eq!(len, reply.len()),
                Verdict::Drop(_) => {}
            }
        }
    }
}
