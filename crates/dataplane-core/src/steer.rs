//! Which forwarder worker owns a packet's flow.
//!
//! With several workers, each keeps its own connection state (NAT tables, security-group
//! flows, endpoint flows) and reads its own queue of every multiqueue TUN device. A
//! flow's packets, both ways, must meet the same state, so every packet has an owner,
//! computed from the packet alone and the snapshot:
//!
//! * the flow as the *instance* sees it — private address and port, remote address and
//!   port, protocol — hashed symmetrically, so a packet and its reply agree. Packets from
//!   the internet to an instance's public address are first mapped back to its private
//!   one (1:1 NAT is stateless); ICMP errors are owned by the flow they quote.
//! * for a NAT gateway's Elastic IP (or a private one's own address), the port itself:
//!   the owner of an outbound flow hands out only ports `p` with `p % workers == owner`
//!   ([`crate::Tracking::for_worker`]), so the reply's port names it.
//!
//! * a fragment other than the first has no ports: it goes where its first fragment went,
//!   which [`FragmentOwners`] remembers by the datagram's identity (addresses, protocol,
//!   IP identification) — by addresses alone if the first was not seen.
//!
//! The kernel helps without being relied on: a multiqueue TUN sends a flow's packets to
//! the queue that last wrote packets of that flow, which after the first exchange is
//! the owner's. A packet read by another worker is handed over, never processed there.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::snapshot::{INTERNET, NAT_TARGET, Port, PortEntry, Snapshot};
use crate::wire::{DatagramKey, Ipv4, icmp, proto};
use crate::wire6::{Ipv6, icmp6};

/// The worker (of `workers`) that owns the flow of `packet`, read from port `from`.
/// Unparsable packets belong to worker 0, which drops them like any other. A first
/// fragment's owner is noted in `fragments` for the later ones.
pub fn owner(
    snapshot: &Snapshot,
    from: Port,
    packet: &[u8],
    workers: usize,
    fragments: &FragmentOwners,
) -> usize {
    if workers <= 1 {
        return 0;
    }
    if packet.first().is_some_and(|b| b >> 4 == 6) {
        return owner6(packet, from, workers, fragments);
    }
    // Lengths checked, not the header checksum: the owner's pipeline verifies it (and
    // drops the packet) anyway; the owner of a corrupt header does not matter.
    let Ok(ip) = Ipv4::new_unverified(packet) else {
        return 0;
    };
    if ip.is_later_fragment() {
        let datagram = ip.datagram(from);
        return fragments.owner(&datagram).filter(|&w| w < workers).unwrap_or_else(|| {
            let flow =
                Flow { protocol: datagram.protocol, a: (datagram.src, 0), b: (datagram.dst, 0) };
            scale(flow.hash(), workers)
        });
    }
    let Some(flow) = flow_of(&ip) else {
        return 0;
    };
    let flow = if from == INTERNET {
        inside_view(snapshot, flow, workers)
    } else {
        private_nat_view(snapshot, flow, workers).map(|()| service_view(snapshot, from, flow))
    };
    let owner = match flow {
        Ok(flow) => scale(flow.hash(), workers),
        Err(worker) => worker,
    };
    if ip.is_fragment() {
        fragments.note(&ip.datagram(from), owner);
    }
    owner
}

/// Which worker each recent fragmented datagram went to: a fixed, direct-mapped table
/// of atomics that every reader writes (first fragments) and reads (later ones), with
/// no lock. A slot holds a tag of the datagram's identity and the worker; a newer
/// datagram that maps to the same slot replaces it, and its earlier fragments still to
/// come then go by addresses (and, not finding their head there, are counted as
/// untracked).
#[derive(Debug)]
pub struct FragmentOwners {
    slots: Box<[AtomicU64]>,
}

impl Default for FragmentOwners {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl FragmentOwners {
    /// Room for `slots` datagrams (a power of two, at least 1).
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        Self { slots: (0..slots).map(|_| AtomicU64::new(0)).collect() }
    }

    /// The slot and the tag of `datagram`.
    fn place(&self, d: &DatagramKey) -> (usize, u64) {
        let a = u64::from(d.src) << 32 | u64::from(d.dst);
        let b = u64::from(d.zone) << 32 | u64::from(d.protocol) << 16 | u64::from(d.id);
        let m = u128::from(a ^ 0x243F_6A88_85A3_08D3) * u128::from(b ^ 0x1319_8A2E_0370_7344);
        let hash = (m as u64) ^ (m >> 64) as u64;
        ((hash as usize) & (self.slots.len() - 1), hash >> 32)
    }

    /// Notes that `datagram`'s fragments belong to `worker`.
    pub fn note(&self, datagram: &DatagramKey, worker: usize) {
        let (slot, tag) = self.place(datagram);
        self.slots[slot].store(tag << 32 | (worker as u64 + 1), Ordering::Relaxed);
    }

    /// The worker `datagram`'s first fragment went to, if still noted.
    pub fn owner(&self, datagram: &DatagramKey) -> Option<usize> {
        let (slot, tag) = self.place(datagram);
        let value = self.slots[slot].load(Ordering::Relaxed);
        let worker = value & 0xffff_ffff;
        (value >> 32 == tag && worker != 0).then(|| (worker - 1) as usize)
    }
}

/// A flow's identity: two (address, port) ends and a protocol. For ICMP echo both
/// "ports" are the identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flow {
    protocol: u8,
    a: (u32, u16),
    b: (u32, u16),
}

impl Flow {
    /// The same for both directions: the ends in a fixed order. Plain 64-bit
    /// arithmetic, so that the kernel can compute it too (`vpclab_dataplane::bpf`).
    fn hash(self) -> u64 {
        let (x, y) = if self.a <= self.b { (self.a, self.b) } else { (self.b, self.a) };
        let addresses = u64::from(x.0) << 32 | u64::from(y.0);
        let ports = u64::from(x.1) << 24 | u64::from(y.1) << 8 | u64::from(self.protocol);
        mix(addresses, ports)
    }
}

/// The mixing constants of [`mix`] (the 64-bit golden ratio, and two odd multipliers
/// from splitmix64).
pub const MIX_KEY: u64 = 0x9E37_79B9_7F4A_7C15;
pub const MIX_1: u64 = 0xBF58_476D_1CE4_E5B9;
pub const MIX_2: u64 = 0x94D0_49BB_1331_11EB;

/// A flow's hash from its ordered addresses and ports: two multiply-xor rounds.
pub(crate) fn mix(addresses: u64, ports: u64) -> u64 {
    let h = (addresses ^ MIX_KEY).wrapping_mul(MIX_1);
    let h = (h ^ ports).wrapping_mul(MIX_2);
    // The fold leaves the top half (all `scale` uses) as it is and mixes it into the
    // bottom half, for users of the whole hash (a transit gateway's appliance mode).
    h ^ (h >> 32)
}

/// A hash of the flow of `ip`, the same for both directions (0 for a packet without
/// one): how a transit gateway in appliance mode keeps a flow on one interface.
pub(crate) fn flow_hash(ip: &Ipv4<&[u8]>) -> u64 {
    flow_of(ip).map_or(0, Flow::hash)
}

/// The flow of a packet as sent (`a` is the source end): for an ICMP error, the flow of
/// the packet it quotes, seen in the same direction as the error.
fn flow_of(ip: &Ipv4<&[u8]>) -> Option<Flow> {
    if let Some((protocol, src, dst, sport, dport)) = ip.icmp_quoted() {
        // The quoted packet went the other way: its destination is the error's sender.
        let (sport, dport) = if protocol == proto::ICMP { (sport, sport) } else { (sport, dport) };
        return Some(Flow { protocol, a: (dst, dport), b: (src, sport) });
    }
    let (sport, dport) = match (ip.protocol(), ip.icmp_type()) {
        (proto::ICMP, Some(icmp::ECHO_REQUEST | icmp::ECHO_REPLY)) => {
            let (id, _) = ip.ports()?;
            (id, id)
        }
        _ => ip.ports().unwrap_or((0, 0)),
    };
    Some(Flow { protocol: ip.protocol(), a: (ip.src_bits(), sport), b: (ip.dst_bits(), dport) })
}

/// The owner of an IPv6 packet's flow: its symmetric hash decides (IPv6 is not
/// translated to IPv6 anywhere; a NAT64 flow's IPv6 side is its own flow here, and the
/// worker that owns it gives the flow a port of its own share, which steers the IPv4
/// replies back to it).
/// Unparsable packets belong to worker 0; a fragment other than the first goes where
/// its first went.
fn owner6(packet: &[u8], from: Port, workers: usize, fragments: &FragmentOwners) -> usize {
    let Ok(ip) = Ipv6::new_checked(packet) else {
        return 0;
    };
    // Fragments are noted as IPv4's are, by their datagram folded to IPv4's width (a
    // fold that collides costs a later fragment its owner, never a wrong decision).
    let folded = ip.datagram(from).map(|d| {
        let fold = |a: u128| (a >> 96) as u32 ^ (a >> 64) as u32 ^ (a >> 32) as u32 ^ a as u32;
        DatagramKey {
            zone: d.zone,
            src: fold(d.src),
            dst: fold(d.dst),
            protocol: d.protocol,
            id: d.id,
        }
    });
    if ip.is_later_fragment() {
        let datagram = folded.unwrap_or_default();
        return fragments.owner(&datagram).filter(|&w| w < workers).unwrap_or(0);
    }
    let flow = match ip.icmp_quoted() {
        // The quoted packet went the other way: its destination sent the error.
        Some((protocol, src, dst, sport, dport)) => {
            let (sport, dport) =
                if protocol == proto::ICMPV6 { (sport, sport) } else { (sport, dport) };
            Flow6 { protocol, a: (dst, dport), b: (src, sport) }
        }
        None => {
            let (sport, dport) = match (ip.protocol(), ip.icmp_type()) {
                (proto::ICMPV6, Some(icmp6::ECHO_REQUEST | icmp6::ECHO_REPLY)) => {
                    let id = ip.ports().map_or(0, |(id, _)| id);
                    (id, id)
                }
                _ => ip.ports().unwrap_or((0, 0)),
            };
            Flow6 { protocol: ip.protocol(), a: (ip.src_bits(), sport), b: (ip.dst_bits(), dport) }
        }
    };
    let owner = scale(flow.hash(), workers);
    if let Some(datagram) = folded {
        fragments.note(&datagram, owner);
    }
    owner
}

/// An IPv6 flow's identity, as [`Flow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flow6 {
    protocol: u8,
    a: (u128, u16),
    b: (u128, u16),
}

impl Flow6 {
    /// The same for both directions: the ends in a fixed order, each address folded to
    /// 64 bits before [`mix`].
    fn hash(self) -> u64 {
        let (x, y) = if self.a <= self.b { (self.a, self.b) } else { (self.b, self.a) };
        let fold = |a: u128| ((a >> 64) as u64).wrapping_mul(MIX_1) ^ a as u64;
        let addresses = fold(x.0).wrapping_mul(MIX_2) ^ fold(y.0);
        let ports = u64::from(x.1) << 24 | u64::from(y.1) << 8 | u64::from(self.protocol);
        mix(addresses, ports)
    }
}

/// A flow arriving from the internet, as its instance sees it; `Err(worker)` when a NAT
/// gateway's port decides outright.
fn inside_view(snapshot: &Snapshot, flow: Flow, workers: usize) -> Result<Flow, usize> {
    let (address, port) = flow.b;
    match snapshot.public.lookup(address.into()) {
        Some(target) if target >= NAT_TARGET => Err(usize::from(port) % workers),
        Some(target) => match snapshot.port(target) {
            PortEntry::Instance(instance) => {
                Ok(Flow { b: (u32::from(instance.private), port), ..flow })
            }
            _ => Ok(flow),
        },
        // Replies through a gateway endpoint come to the private address itself.
        None => Ok(flow),
    }
}

/// `Err(worker)` for a flow with one end at a private NAT gateway's own address: that
/// end's port decides, as for a public gateway's Elastic IP. Both directions agree: the
/// gateway's translated packets go on in the worker that translated them, and answers
/// come back to its address and port. (An instance of an overlapping VPC that holds
/// the same address is steered the same way both ways, by its own port.)
fn private_nat_view(snapshot: &Snapshot, flow: Flow, workers: usize) -> Result<(), usize> {
    if snapshot.private_nats.is_empty() {
        return Ok(());
    }
    let at_nat = |(address, _): (u32, u16)| snapshot.private_nats.lookup(address.into()).is_some();
    match (at_nat(flow.a), at_nat(flow.b)) {
        (false, false) => Ok(()),
        (true, false) => Err(usize::from(flow.a.1) % workers),
        (false, true) => Err(usize::from(flow.b.1) % workers),
        (true, true) => Err(usize::from(flow.a.min(flow.b).1) % workers),
    }
}

/// A flow to an interface endpoint's address as its service's answers will show it: to
/// the service's own address (the endpoint translates the destination on the way out,
/// and the answers come from the service).
fn service_view(snapshot: &Snapshot, from: Port, flow: Flow) -> Flow {
    if snapshot.endpoints.is_empty() {
        return flow;
    }
    let PortEntry::Instance(me) = snapshot.port(from) else { return flow };
    let (address, port) = flow.b;
    match snapshot.endpoint_behind(&me, address.into()) {
        Some(e) => Flow { b: (u32::from(e.service), port), ..flow },
        None => flow,
    }
}

/// `hash` scaled to `0..workers` by its top 32 bits (Lemire's multiply-shift: no
/// division, and 64-bit arithmetic only, as the kernel's steering program does it).
pub(crate) fn scale(hash: u64, workers: usize) -> usize {
    (((hash >> 32) * workers as u64) >> 32) as usize
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use vpclab_model::{Model, RouteSpec, RouteTarget, RunInstance, Tags};

    use super::*;
    use crate::REPLY_BUFFER;
    use crate::nat::Tracking;
    use crate::pipeline::Verdict;
    use crate::snapshot::{PortMap, compile};
    use crate::wire::tests::{echo, packet, split, tcp_syn, udp};

    /// VPC 10.0.0.0/16 with an internet gateway and an S3 endpoint; `web` 10.0.1.10
    /// (public) in a public subnet, `app` 10.0.2.4 in a subnet behind a NAT gateway.
    struct Lab {
        snapshot: Snapshot,
        web: Port,
        app: Port,
        web_public: [u8; 4],
    }

    fn lab() -> Lab {
        let mut m = Model::new(5);
        let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let public = m.create_subnet(&vpc, "10.0.1.0/24".parse().unwrap(), None, Tags::new());
        let private = m.create_subnet(&vpc, "10.0.2.0/24".parse().unwrap(), None, Tags::new());
        let (public, private) = (public.unwrap(), private.unwrap());
        let igw = m.create_internet_gateway(Tags::new());
        m.attach_internet_gateway(&igw, &vpc).unwrap();
        let route = |target| RouteSpec { destination: "0.0.0.0/0".parse().unwrap(), target };
        let public_table = m.create_route_table(&vpc, Tags::new()).unwrap();
        m.associate_route_table(&public_table, &public).unwrap();
        m.create_route(&public_table, route(RouteTarget::Gateway(igw))).unwrap();
        m.create_vpc_endpoint(&vpc, "com.amazonaws.us-east-1.s3", &[public_table], Tags::new(), 0)
            .unwrap();
        let eip = m.allocate_address(Tags::new()).unwrap();
        let nat = m
            .create_nat_gateway(vpclab_model::NatGatewaySpec::public(&public, &eip), Tags::new(), 0)
            .unwrap();
        let nat_table = m.create_route_table(&vpc, Tags::new()).unwrap();
        m.associate_route_table(&nat_table, &private).unwrap();
        m.create_route(&nat_table, route(RouteTarget::NatGateway(nat))).unwrap();
        let run = |subnet, ip: &str, public_ip| RunInstance {
            subnet: Some(subnet),
            public_ip: Some(public_ip),
            private_ip: Some(ip.parse().unwrap()),
            ..Default::default()
        };
        let web = m.run_instance(run(public, "10.0.1.10", true)).unwrap();
        let app = m.run_instance(run(private, "10.0.2.4", false)).unwrap();
        let mut ports = PortMap::new();
        let (web, app) = (ports.assign(&web), ports.assign(&app));
        let snapshot = compile(&m, &mut ports, 1);
        let web_public = match snapshot.port(web) {
            PortEntry::Instance(i) => i.public.unwrap().octets(),
            _ => unreachable!(),
        };
        Lab { snapshot, web, app, web_public }
    }

    /// [`super::owner`] with no fragment noted.
    fn owner(snapshot: &Snapshot, from: Port, packet: &[u8], workers: usize) -> usize {
        super::owner(snapshot, from, packet, workers, &FragmentOwners::default())
    }

    const WEB: [u8; 4] = [10, 0, 1, 10];
    const APP: [u8; 4] = [10, 0, 2, 4];
    const FAR: [u8; 4] = [198, 51, 100, 1];
    const S3: [u8; 4] = [192, 0, 2, 1];

    /// Swaps addresses and ports: the reply the far end sends.
    fn reply_to(p: &[u8], protocol: u8) -> Vec<u8> {
        let (src, dst) = (&p[12..16], &p[16..20]);
        let l4 = match protocol {
            proto::TCP => {
                let mut t =
                    tcp_syn(u16::from_be_bytes([p[22], p[23]]), u16::from_be_bytes([p[20], p[21]]));
                t[13] = 0x12;
                t
            }
            proto::UDP => {
                udp(u16::from_be_bytes([p[22], p[23]]), u16::from_be_bytes([p[20], p[21]]), b"r")
            }
            _ => {
                let mut e = echo(u16::from_be_bytes([p[24], p[25]]), 1);
                e[0] = icmp::ECHO_REPLY;
                e
            }
        };
        packet(dst.try_into().unwrap(), src.try_into().unwrap(), protocol, 64, &l4)
    }

    fn l4(protocol: u8, sport: u16, dport: u16) -> Vec<u8> {
        match protocol {
            proto::TCP => tcp_syn(sport, dport),
            proto::UDP => udp(sport, dport, b"q"),
            _ => echo(sport, 1),
        }
    }

    /// Runs `p` from `from` through the pipeline with `tracking`'s state.
    fn forward(lab: &Lab, tracking: &mut Tracking, from: Port, p: &mut [u8]) -> Verdict {
        let mut reply = vec![0u8; REPLY_BUFFER];
        lab.snapshot.process(tracking, from, p, &mut reply, 0)
    }

    proptest::proptest! {
        /// For every path and protocol, the worker that owns a packet also owns the
        /// reply that comes back — after 1:1 NAT, NAT-gateway translation (whose port
        /// the owner chose from its share) and through the gateway endpoint — and an
        /// ICMP error about the packet.
        #[test]
        fn a_flow_and_its_replies_have_one_owner(
            workers in 2usize..6,
            sport in 1024u16..,
            dport in 1u16..,
            kind in 0usize..3,
            path in 0usize..4,
        ) {
            let lab = lab();
            let protocol = [proto::TCP, proto::UDP, proto::ICMP][kind];
            let (from, src, dst) = match path {
                0 => (lab.web, WEB, APP),
                1 => (lab.web, WEB, FAR),
                2 => (lab.app, APP, FAR),
                _ => (lab.web, WEB, S3),
            };
            let mut out = packet(src, dst, protocol, 64, &l4(protocol, sport, dport));
            let mine = owner(&lab.snapshot, from, &out, workers);
            let mut tracking = Tracking::for_worker(1024, mine, workers);
            tracking.sync(&lab.snapshot);
            let verdict = forward(&lab, &mut tracking, from, &mut out);
            let to = match verdict {
                Verdict::Forward { port, .. } => port,
                other => panic!("path {path}: {other:?}"),
            };
            let back = reply_to(&out, protocol);
            proptest::prop_assert_eq!(owner(&lab.snapshot, to, &back, workers), mine);

            // An ICMP error from the far end about the forwarded packet.
            let mut error = [0u8; REPLY_BUFFER];
            let sender = Ipv4Addr::from(<[u8; 4]>::try_from(&out[16..20]).unwrap());
            if protocol != proto::ICMP {
                let len = crate::wire::icmp_error(
                    &mut error,
                    sender,
                    &Ipv4::new_checked(&out[..]).unwrap(),
                    icmp::UNREACHABLE,
                    3,
                    0,
                ).unwrap();
                proptest::prop_assert_eq!(owner(&lab.snapshot, to, &error[..len], workers), mine);
            }
        }
    }

    proptest::proptest! {
        /// An IPv6 packet, its reply and an ICMPv6 error about it have one owner: IPv6
        /// is never translated, so the symmetric hash alone decides, and it spreads.
        #[test]
        fn an_ipv6_flow_its_reply_and_errors_have_one_owner(
            workers in 2usize..6,
            a in proptest::prelude::any::<u128>(),
            b in proptest::prelude::any::<u128>(),
            sport in 1u16..,
            dport in 1u16..,
            kind in 0usize..3,
        ) {
            use std::net::Ipv6Addr;
            use crate::wire6::{icmp_error, ipv6_packet};
            let (src, dst) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
            proptest::prop_assume!(!src.is_multicast() && !src.is_unspecified() && !dst.is_multicast());
            let protocol = [proto::TCP, proto::UDP, proto::ICMPV6][kind];
            let l4 = |sport: u16, dport: u16, echo: u8| match protocol {
                proto::ICMPV6 => {
                    let mut e = echo_of(sport);
                    e[0] = echo;
                    e
                }
                proto::TCP => tcp_syn(sport, dport),
                _ => udp(sport, dport, b"x"),
            };
            let out = ipv6_packet(src, dst, 64, protocol, &l4(sport, dport, icmp6::ECHO_REQUEST));
            // The reply swaps the ports; an echo reply keeps the request's identifier.
            let (rs, rd) = if protocol == proto::ICMPV6 { (sport, dport) } else { (dport, sport) };
            let back = ipv6_packet(dst, src, 64, protocol, &l4(rs, rd, icmp6::ECHO_REPLY));
            let snapshot = Snapshot::empty();
            let none = FragmentOwners::default();
            let mine = super::owner(&snapshot, 1, &out, workers, &none);
            proptest::prop_assert_eq!(super::owner(&snapshot, INTERNET, &back, workers, &none), mine);
            let mut error = [0u8; REPLY_BUFFER];
            let len = icmp_error(&mut error, dst, &Ipv6::new_checked(&out[..]).unwrap(), 1, 3, 0);
            if let Some(len) = len {
                proptest::prop_assert_eq!(
                    super::owner(&snapshot, INTERNET, &error[..len], workers, &none),
                    mine
                );
            }
        }
    }

    /// An ICMPv6 echo request with identifier `id`.
    fn echo_of(id: u16) -> Vec<u8> {
        let mut e = vec![icmp6::ECHO_REQUEST, 0, 0, 0];
        e.extend(id.to_be_bytes());
        e.extend([0, 1]);
        e
    }

    #[test]
    fn a_later_ipv6_fragment_goes_where_its_first_went() {
        use std::net::Ipv6Addr;
        let (src, dst): (Ipv6Addr, Ipv6Addr) =
            ("2001:db8::10".parse().unwrap(), "2001:db8:ffff::1".parse().unwrap());
        let fragment = |id: u32, offset: u16, data: &[u8]| {
            let mut f = vec![proto::UDP, 0];
            f.extend((offset << 3 | u16::from(offset == 0)).to_be_bytes());
            f.extend(id.to_be_bytes());
            f.extend(data);
            crate::wire6::ipv6_packet(src, dst, 64, 44, &f)
        };
        let owners = FragmentOwners::default();
        let snapshot = Snapshot::empty();
        for id in 0..64u32 {
            let first = fragment(id, 0, &udp(1000 + id as u16, 53, &[0; 8]));
            let mine = super::owner(&snapshot, 1, &first, 4, &owners);
            let later = fragment(id, 2, &[0; 8]);
            assert_eq!(super::owner(&snapshot, 1, &later, 4, &owners), mine, "datagram {id}");
        }
    }

    #[test]
    fn ipv6_flows_spread_over_the_workers() {
        use std::net::Ipv6Addr;
        let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0x101, 0, 0, 0, 0x10));
        let far = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
        let mut seen = [0usize; 4];
        for i in 0..4000u16 {
            let p = crate::wire6::ipv6_packet(
                Ipv6Addr::from(base),
                far,
                64,
                proto::UDP,
                &udp(10_000 + i, 53, b"q"),
            );
            seen[super::owner(&Snapshot::empty(), 1, &p, 4, &FragmentOwners::default())] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "4000 flows over 4 workers: {seen:?}");
    }

    #[test]
    fn public_addresses_map_to_their_instance_before_hashing() {
        let lab = lab();
        // Unsolicited from the internet to web's public address, and web's answer.
        let inbound = packet(FAR, lab.web_public, proto::TCP, 64, &tcp_syn(5555, 22));
        let answer = packet(WEB, FAR, proto::TCP, 64, &tcp_syn(22, 5555));
        for workers in 2..8 {
            assert_eq!(
                owner(&lab.snapshot, INTERNET, &inbound, workers),
                owner(&lab.snapshot, lab.web, &answer, workers)
            );
        }
        // One worker: always 0, garbage included.
        assert_eq!(owner(&lab.snapshot, lab.web, &[0x45, 0, 0], 1), 0);
        assert_eq!(owner(&lab.snapshot, lab.web, &[0x45, 0, 0], 4), 0);
    }

    #[test]
    fn flows_spread_over_the_workers() {
        let lab = lab();
        let mut seen = [0usize; 4];
        for sport in 0..4000u16 {
            let p = packet(WEB, APP, proto::TCP, 64, &tcp_syn(10_000 + sport, 80));
            seen[owner(&lab.snapshot, lab.web, &p, 4)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn a_datagrams_later_fragments_follow_its_first() {
        let lab = lab();
        let fragments = FragmentOwners::default();
        for workers in 2..6 {
            for sport in 1000..1064u16 {
                let whole = packet(FAR, lab.web_public, proto::UDP, 64, &udp(53, sport, &[7; 40]));
                let (first, later) = split(&whole, sport);
                let of_flow = super::owner(&lab.snapshot, INTERNET, &whole, workers, &fragments);
                let of_first = super::owner(&lab.snapshot, INTERNET, &first, workers, &fragments);
                let of_later = super::owner(&lab.snapshot, INTERNET, &later, workers, &fragments);
                assert_eq!((of_first, of_later), (of_flow, of_flow), "{workers} workers");
            }
        }
        // A later fragment whose first was never seen goes by addresses: one worker for
        // all such fragments between two hosts.
        let orphans: std::collections::BTreeSet<usize> = (0..64u16)
            .map(|id| {
                let whole = packet(FAR, lab.web_public, proto::UDP, 64, &udp(53, 9, &[7; 40]));
                let (_, later) = split(&whole, 5000 + id);
                super::owner(&lab.snapshot, INTERNET, &later, 4, &fragments)
            })
            .collect();
        assert_eq!(orphans.len(), 1);
    }
}
