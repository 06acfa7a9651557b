//! The Amazon DNS server's answers (Route 53 Resolver as an instance sees it).
//!
//! No I/O: a query's bytes in, a response's bytes out; the wire format is `simple-dns`'s.
//! What it knows, and nothing else — it never asks another resolver:
//!
//! * `ip-10-0-1-23.ec2.internal` → 10.0.1.23, for an instance of the asker's VPC;
//! * `i-0123456789abcdef0.ec2.internal` (a resource name), for an instance of the
//!   asker's VPC: its private address (A) and its IPv6 addresses (AAAA), each only if
//!   the instance's `EnableResourceNameDnsARecord` / `…AAAARecord` says so — with
//!   neither, the name does not exist;
//! * `ec2-203-0-113-5.compute-1.amazonaws.com` → the instance's *private* address from
//!   inside its VPC, its public one from anywhere else (split horizon), when its VPC
//!   has `enableDnsHostnames`;
//! * the emulated internet's names: `checkip.amazonaws.com` → 198.51.100.1 (the check-ip
//!   host, which answers with the caller's address as AWS's does), and S3's endpoints
//!   `s3.amazonaws.com`, `s3.us-east-1.amazonaws.com` and their virtual-hosted bucket
//!   names `<bucket>.s3[.us-east-1].amazonaws.com` → 192.0.2.1; the other AWS services'
//!   names (`ssm.us-east-1.amazonaws.com`, …) → their public endpoints;
//! * interface endpoints' own names (`vpce-<id>-<suffix>[-<zone>].<service>.us-east-1.vpce.amazonaws.com`)
//!   → their interfaces' addresses, from anywhere; with private DNS, the service's names
//!   → the endpoint's interfaces inside its VPC (its public endpoint elsewhere);
//! * NXDOMAIN for every other name; no data (NOERROR, no answer) for other record types
//!   of a known name — except AAAA from a subnet with `EnableDns64`: a name with A
//!   records and no AAAA record of its own (every name here but resource names with
//!   AAAA records) gets its synthesised `64:ff9b::<IPv4>` (RFC 6052), which a route
//!   `64:ff9b::/96` to a NAT gateway carries through NAT64.
//!
//! A VPC without `enableDnsSupport` gets no answer at all.

use std::net::Ipv4Addr;

use simple_dns::rdata::{A, AAAA, RData};
use simple_dns::{CLASS, OPCODE, Packet, PacketFlag, QCLASS, QTYPE, RCODE, ResourceRecord, TYPE};
use vpclab_model::names;

use super::{InstanceService, ServiceData};

/// TTL of every answer, seconds.
pub const TTL: u32 = 60;

/// The check-ip host of the emulated internet.
pub const CHECK_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The emulated S3 endpoint.
pub const S3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The names of the emulated internet and AWS services, with their addresses.
pub const SERVICE_NAMES: &[(&str, Ipv4Addr)] = &[
    ("checkip.amazonaws.com", CHECK_IP),
    ("s3.amazonaws.com", S3),
    ("s3.us-east-1.amazonaws.com", S3),
];

/// The addresses `name` resolves to for `asker`; `None`: no such name.
pub fn resolve(name: &str, asker: &InstanceService, data: &ServiceData) -> Option<Vec<Ipv4Addr>> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if let Some((ip, public)) = names::address_in(&name) {
        return if public {
            let &(vpc, private) = data.public.get(&ip)?;
            Some(vec![if vpc == asker.vpc { private } else { ip }])
        } else {
            data.private.contains(&(asker.vpc, ip)).then(|| vec![ip])
        };
    }
    // Private DNS of an interface endpoint in the asker's VPC: the name, or any name
    // below a wildcard (`*.s3.us-east-1.amazonaws.com`).
    let private = |n: &str| data.private_names.get(&(asker.vpc, n.to_owned())).cloned();
    let wildcard =
        || name.match_indices('.').find_map(|(at, _)| private(&format!("*{}", &name[at..])));
    if let Some(addresses) = private(&name).or_else(wildcard) {
        return Some(addresses);
    }
    // An endpoint's own names, and below S3's wildcard ones.
    let below = name
        .match_indices('.')
        .find_map(|(at, _)| data.endpoint_names.get(&format!("*{}", &name[at..])));
    if let Some(addresses) = data.endpoint_names.get(&name).or(below) {
        return Some(addresses.clone());
    }
    if let Some(&(_, ip)) = SERVICE_NAMES.iter().find(|(n, _)| *n == name) {
        return Some(vec![ip]);
    }
    if let Some(service) = vpclab_model::INTERFACE_SERVICES
        .iter()
        .find(|s| s.short != "s3" && s.private_names().any(|n| n == name))
    {
        return Some(vec![service.address]);
    }
    // Virtual-hosted S3 buckets: <bucket>.s3.amazonaws.com, <bucket>.s3.us-east-1….
    let bucket = name
        .strip_suffix(".s3.amazonaws.com")
        .or_else(|| name.strip_suffix(".s3.us-east-1.amazonaws.com"))?;
    (!bucket.is_empty()).then(|| vec![S3])
}

/// `ip` as DNS64 synthesises it: embedded in the well-known NAT64 prefix
/// `64:ff9b::/96` (RFC 6052), the one AWS's NAT gateways translate.
pub fn dns64(ip: Ipv4Addr) -> std::net::Ipv6Addr {
    crate::nat64::Prefix96::WELL_KNOWN.embed(ip)
}

/// The response to `query` from `asker`, or `None` when none is owed: DNS support off
/// in its VPC, or too little of a query to answer (no header).
pub fn answer(query: &[u8], asker: &InstanceService, data: &ServiceData) -> Option<Vec<u8>> {
    if !asker.dns_support || query.len() < 12 {
        return None;
    }
    let Ok(packet) = Packet::parse(query) else {
        let id = u16::from_be_bytes([query[0], query[1]]);
        let mut reply = Packet::new_reply(id);
        *reply.rcode_mut() = RCODE::FormatError;
        return reply.build_bytes_vec().ok();
    };
    if packet.has_flags(PacketFlag::RESPONSE) {
        return None;
    }
    let mut reply = Packet::new_reply(packet.id());
    reply.set_flags(PacketFlag::RECURSION_AVAILABLE);
    if packet.has_flags(PacketFlag::RECURSION_DESIRED) {
        reply.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    if packet.opcode() != OPCODE::StandardQuery {
        *reply.rcode_mut() = RCODE::NotImplemented;
        return reply.build_bytes_vec().ok();
    }
    let mut missing = false;
    for question in &packet.questions {
        reply.questions.push(question.clone());
        let class_ok = matches!(question.qclass, QCLASS::CLASS(CLASS::IN) | QCLASS::ANY);
        let name = question.qname.to_string();
        let a = matches!(question.qtype, QTYPE::TYPE(TYPE::A) | QTYPE::ANY);
        let aaaa_asked = matches!(question.qtype, QTYPE::TYPE(TYPE::AAAA) | QTYPE::ANY);
        let mut record = |rdata| {
            let name = question.qname.clone();
            reply.answers.push(ResourceRecord::new(name, CLASS::IN, TTL, rdata));
        };
        // A resource name has the records its instance enables (IPv6 ones included);
        // every other name only IPv4 addresses.
        let found = match names::resource_in(&name) {
            Some(id) => data
                .resource_names
                .get(&(asker.vpc, id))
                .map(|records| (records.a.into_iter().collect(), &records.aaaa[..])),
            None => resolve(&name, asker, data).map(|v4| (v4, &[][..])),
        };
        let Some((v4, v6)) = found.filter(|_| class_ok) else {
            missing = true;
            continue;
        };
        // DNS64: only for a name without AAAA records of its own.
        let synthesise = asker.dns64 && aaaa_asked && v6.is_empty();
        for &ip in &v4 {
            if a {
                record(RData::A(A { address: u32::from(ip) }));
            }
            if synthesise {
                record(RData::AAAA(AAAA { address: u128::from(dns64(ip)) }));
            }
        }
        if aaaa_asked {
            for &ip in v6 {
                record(RData::AAAA(AAAA { address: u128::from(ip) }));
            }
        }
    }
    if missing && reply.answers.is_empty() {
        *reply.rcode_mut() = RCODE::NameError;
    }
    reply.build_bytes_vec().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use simple_dns::{Name, Question};
    use vpclab_model::MetadataOptions;

    use super::*;
    use crate::services::ResourceRecords;

    fn asker(vpc: u32) -> InstanceService {
        InstanceService {
            vpc,
            dns_support: true,
            dns64: false,
            resolver: "10.0.0.2".parse().unwrap(),
            options: MetadataOptions::default(),
            metadata: BTreeMap::new(),
            identity: String::new(),
            user_data: None,
        }
    }

    fn data() -> ServiceData {
        let web: Ipv4Addr = "10.0.1.10".parse().unwrap();
        let public: Ipv4Addr = "203.0.113.10".parse().unwrap();
        ServiceData {
            instances: Vec::new(),
            private: HashSet::from([(0, web), (1, "10.1.0.4".parse().unwrap())]),
            public: HashMap::from([(public, (0, web))]),
            endpoint_names: HashMap::from([
                (
                    "vpce-0123-abcdefgh.ssm.us-east-1.vpce.amazonaws.com".to_owned(),
                    vec!["10.0.3.4".parse().unwrap(), "10.0.4.4".parse().unwrap()],
                ),
                (
                    "*.vpce-0456-ijklmnop.s3.us-east-1.vpce.amazonaws.com".to_owned(),
                    vec!["10.0.6.4".parse().unwrap()],
                ),
            ]),
            private_names: HashMap::from([
                ((0, "ssm.us-east-1.amazonaws.com".to_owned()), vec!["10.0.3.4".parse().unwrap()]),
                ((0, "*.s3.us-east-1.amazonaws.com".to_owned()), vec!["10.0.5.4".parse().unwrap()]),
            ]),
            resource_names: HashMap::from([
                // Both records; an A record only; an AAAA record only.
                (
                    (0, "i-0a".to_owned()),
                    ResourceRecords {
                        a: Some(web),
                        aaaa: vec!["2001:db8:0:1::10".parse().unwrap()],
                    },
                ),
                ((0, "i-0b".to_owned()), ResourceRecords { a: Some(web), aaaa: Vec::new() }),
                (
                    (0, "i-0c".to_owned()),
                    ResourceRecords { a: None, aaaa: vec!["2001:db8:0:1::12".parse().unwrap()] },
                ),
            ]),
        }
    }

    /// What `asker` gets for `name`: the code, its A and its AAAA answers.
    fn ask6(
        asker: &InstanceService,
        name: &str,
        qtype: TYPE,
    ) -> (RCODE, Vec<Ipv4Addr>, Vec<std::net::Ipv6Addr>) {
        let bytes = answer(&query(name, qtype), asker, &data()).expect("an answer");
        let reply = Packet::parse(&bytes).unwrap();
        let (mut a, mut aaaa) = (Vec::new(), Vec::new());
        for r in &reply.answers {
            match &r.rdata {
                RData::A(x) => a.push(Ipv4Addr::from(x.address)),
                RData::AAAA(x) => aaaa.push(std::net::Ipv6Addr::from(x.address)),
                _ => {}
            }
        }
        (reply.rcode(), a, aaaa)
    }

    #[test]
    fn resource_names_answer_the_records_their_instance_enables_inside_its_vpc() {
        let web: Ipv4Addr = "10.0.1.10".parse().unwrap();
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap();
        let me = asker(0);
        let both = "i-0a.ec2.internal";
        assert_eq!(ask6(&me, both, TYPE::A), (RCODE::NoError, vec![web], vec![]));
        assert_eq!(ask6(&me, "I-0A.EC2.INTERNAL.", TYPE::AAAA).2, [v6("2001:db8:0:1::10")]);
        // A record only: AAAA is no data; with DNS64, synthesised from the A record.
        assert_eq!(ask6(&me, "i-0b.ec2.internal", TYPE::AAAA), (RCODE::NoError, vec![], vec![]));
        let dns64_asker = InstanceService { dns64: true, ..asker(0) };
        let synthesised = ask6(&dns64_asker, "i-0b.ec2.internal", TYPE::AAAA).2;
        assert_eq!(synthesised, [dns64(web)]);
        // Its own AAAA record: never a synthesised one beside it.
        assert_eq!(ask6(&dns64_asker, both, TYPE::AAAA).2, [v6("2001:db8:0:1::10")]);
        // AAAA record only: A is no data.
        assert_eq!(ask6(&me, "i-0c.ec2.internal", TYPE::A), (RCODE::NoError, vec![], vec![]));
        assert_eq!(ask6(&me, "i-0c.ec2.internal", TYPE::AAAA).2, [v6("2001:db8:0:1::12")]);
        // Neither record, another VPC, no such instance: no such name.
        assert_eq!(ask6(&asker(1), both, TYPE::A).0, RCODE::NameError);
        assert_eq!(ask6(&me, "i-0d.ec2.internal", TYPE::A).0, RCODE::NameError);
    }

    fn query(name: &str, qtype: TYPE) -> Vec<u8> {
        let mut q = Packet::new_query(0x4242);
        q.set_flags(PacketFlag::RECURSION_DESIRED);
        q.questions.push(Question::new(
            Name::new_unchecked(name),
            qtype.into(),
            CLASS::IN.into(),
            false,
        ));
        q.build_bytes_vec().unwrap()
    }

    fn ask(vpc: u32, name: &str, qtype: TYPE) -> (RCODE, Vec<Ipv4Addr>) {
        let bytes = answer(&query(name, qtype), &asker(vpc), &data()).expect("an answer");
        let reply = Packet::parse(&bytes).unwrap();
        assert_eq!(reply.id(), 0x4242);
        assert!(reply.has_flags(PacketFlag::RESPONSE | PacketFlag::RECURSION_AVAILABLE));
        let ips = reply
            .answers
            .iter()
            .filter_map(|r| match &r.rdata {
                RData::A(a) => Some(Ipv4Addr::from(a.address)),
                _ => None,
            })
            .collect();
        (reply.rcode(), ips)
    }

    #[test]
    fn private_names_resolve_inside_their_vpc_only() {
        let web = "10.0.1.10".parse().unwrap();
        assert_eq!(ask(0, "ip-10-0-1-10.ec2.internal", TYPE::A), (RCODE::NoError, vec![web]));
        assert_eq!(ask(0, "IP-10-0-1-10.EC2.INTERNAL.", TYPE::A).1, vec![web]);
        assert_eq!(ask(1, "ip-10-0-1-10.ec2.internal", TYPE::A).0, RCODE::NameError);
        assert_eq!(ask(0, "ip-10-0-1-99.ec2.internal", TYPE::A).0, RCODE::NameError);
    }

    #[test]
    fn public_names_have_a_split_horizon() {
        let name = "ec2-203-0-113-10.compute-1.amazonaws.com";
        assert_eq!(ask(0, name, TYPE::A).1, vec!["10.0.1.10".parse::<Ipv4Addr>().unwrap()]);
        assert_eq!(ask(1, name, TYPE::A).1, vec!["203.0.113.10".parse::<Ipv4Addr>().unwrap()]);
        assert_eq!(ask(0, "ec2-203-0-113-99.compute-1.amazonaws.com", TYPE::A).0, RCODE::NameError);
    }

    #[test]
    fn services_and_nothing_else() {
        assert_eq!(ask(0, "checkip.amazonaws.com", TYPE::A).1, vec![CHECK_IP]);
        assert_eq!(ask(0, "s3.us-east-1.amazonaws.com", TYPE::A).1, vec![S3]);
        assert_eq!(ask(0, "my-bucket.s3.amazonaws.com", TYPE::A).1, vec![S3]);
        assert_eq!(ask(0, "example.com", TYPE::A), (RCODE::NameError, vec![]));
        // A known name, another type: no data, no error.
        assert_eq!(ask(0, "checkip.amazonaws.com", TYPE::AAAA), (RCODE::NoError, vec![]));
    }

    #[test]
    fn endpoint_names_resolve_everywhere_and_private_dns_inside_its_vpc() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let regional = "vpce-0123-abcdefgh.ssm.us-east-1.vpce.amazonaws.com";
        assert_eq!(ask(1, regional, TYPE::A).1, [ip("10.0.3.4"), ip("10.0.4.4")], "both zones");
        assert_eq!(ask(0, "ssm.us-east-1.amazonaws.com", TYPE::A).1, [ip("10.0.3.4")], "inside");
        assert_eq!(
            ask(1, "ssm.us-east-1.amazonaws.com", TYPE::A).1,
            [ip("198.51.100.136")],
            "elsewhere, ssm's public endpoint"
        );
        assert_eq!(ask(0, "my-bucket.s3.us-east-1.amazonaws.com", TYPE::A).1, [ip("10.0.5.4")]);
        assert_eq!(ask(1, "my-bucket.s3.us-east-1.amazonaws.com", TYPE::A).1, [S3]);
        assert_eq!(ask(1, "sts.us-east-1.amazonaws.com", TYPE::A).1, [ip("198.51.100.138")]);
        // Below a wildcard, however deep: S3's endpoint names and private DNS.
        let bucket = "my-bucket.vpce-0456-ijklmnop.s3.us-east-1.vpce.amazonaws.com";
        assert_eq!(ask(1, bucket, TYPE::A).1, [ip("10.0.6.4")]);
        assert_eq!(ask(0, "a.b.s3.us-east-1.amazonaws.com", TYPE::A).1, [ip("10.0.5.4")]);
    }

    #[test]
    fn dns64_synthesises_aaaa_from_a_records_for_its_subnets_only() {
        let aaaa = |asker: &InstanceService, name: &str| {
            let bytes = answer(&query(name, TYPE::AAAA), asker, &data()).expect("an answer");
            let reply = Packet::parse(&bytes).unwrap();
            let six: Vec<std::net::Ipv6Addr> = reply
                .answers
                .iter()
                .filter_map(|r| match &r.rdata {
                    RData::AAAA(a) => Some(std::net::Ipv6Addr::from(a.address)),
                    _ => None,
                })
                .collect();
            (reply.rcode(), six)
        };
        let mut on = asker(0);
        on.dns64 = true;
        let expected: std::net::Ipv6Addr = "64:ff9b::c633:6401".parse().unwrap();
        assert_eq!(aaaa(&on, "checkip.amazonaws.com"), (RCODE::NoError, vec![expected]));
        assert_eq!(dns64(CHECK_IP), expected, "198.51.100.1 in 64:ff9b::/96");
        // Without DNS64: no data. An unknown name stays NXDOMAIN either way. A queries
        // are as they were.
        assert_eq!(aaaa(&asker(0), "checkip.amazonaws.com"), (RCODE::NoError, vec![]));
        assert_eq!(aaaa(&on, "example.com"), (RCODE::NameError, vec![]));
        let bytes = answer(&query("checkip.amazonaws.com", TYPE::A), &on, &data()).unwrap();
        let reply = Packet::parse(&bytes).unwrap();
        assert_eq!(reply.answers.len(), 1);
        assert!(matches!(reply.answers[0].rdata, RData::A(_)));
    }

    #[test]
    fn no_support_no_answer_and_garbage_gets_formerr() {
        let mut off = asker(0);
        off.dns_support = false;
        assert_eq!(answer(&query("checkip.amazonaws.com", TYPE::A), &off, &data()), None);
        assert_eq!(answer(&[1, 2, 3], &asker(0), &data()), None);
        let mut garbage = query("checkip.amazonaws.com", TYPE::A);
        garbage.truncate(20);
        let bytes = answer(&garbage, &asker(0), &data()).unwrap();
        let reply = Packet::parse(&bytes).unwrap();
        assert_eq!(reply.rcode(), RCODE::FormatError);
    }

    proptest::proptest! {
        /// Whatever arrives, the answer is `None` or a well-formed response: no panic.
        #[test]
        fn any_bytes_get_a_parsable_answer_or_none(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            if let Some(reply) = answer(&bytes, &asker(0), &data()) {
                proptest::prop_assert!(Packet::parse(&reply).is_ok());
            }
        }
    }
}
