//! On-premises sites: what the model picks, what it refuses, and that a refusal changes
//! nothing.

use std::net::Ipv4Addr;

use vpclab_model::{Model, OnpremHostSpec, OnpremSiteSpec, SiteField, Tags};

fn spec(name: &str, cidrs: &[&str], hosts: &[&str]) -> OnpremSiteSpec {
    OnpremSiteSpec {
        name: name.to_owned(),
        cidrs: cidrs.iter().map(|c| vpclab_model::parse_site_cidr(c).unwrap()).collect(),
        hosts: hosts.iter().map(|h| h.parse().unwrap()).collect(),
        ..OnpremSiteSpec::default()
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// The field and code of a refused spec.
fn refused(m: &Model, spec: &OnpremSiteSpec) -> (SiteField, &'static str, String) {
    let e = m.plan_onprem_site(spec).unwrap_err();
    (e.field, e.error.code, e.error.message)
}

#[test]
fn defaults_are_picked_in_order() {
    let mut m = Model::new(1);
    m.create_onprem_site(&spec("hq", &["172.16.0.7/16"], &["db", "app=172.16.0.11", "web"]))
        .unwrap();
    let hq = m.onprem_site("hq").unwrap();
    assert_eq!(hq.cidrs[0].to_string(), "172.16.0.0/16", "canonical");
    assert_eq!(hq.public_ip, ip("198.51.100.10"));
    assert_eq!(hq.bgp_asn, 65000);
    let hosts: Vec<(&str, String)> =
        hq.hosts.iter().map(|h| (h.name.as_str(), h.ip.to_string())).collect();
    assert_eq!(
        hosts,
        [
            ("db", "172.16.0.10".into()),
            ("app", "172.16.0.11".into()),
            ("web", "172.16.0.12".into())
        ],
        "picked ones step around given ones, in the spec's order"
    );
    let routers: Vec<Ipv4Addr> = hq.router_addresses().map(|(_, a)| a).collect();
    assert_eq!(routers, [ip("172.16.0.1")]);
    assert_eq!(
        hq.namespace_suffixes(),
        ["onprem-hq", "onprem-hq-db", "onprem-hq-app", "onprem-hq-web"]
    );

    m.create_onprem_site(&spec("branch", &["10.20.0.0/24", "10.21.0.0/24"], &[])).unwrap();
    let branch = m.onprem_site("branch").unwrap();
    assert_eq!(branch.public_ip, ip("198.51.100.11"), "the next free one");
    assert_eq!(m.onprem_sites().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["branch", "hq"]);

    let deleted = m.delete_onprem_site("hq").unwrap();
    assert_eq!(deleted.name, "hq");
    assert_eq!(m.delete_onprem_site("hq").unwrap_err().code, "InvalidOnpremSite.NotFound");
    assert_eq!(m.onprem_site("hq").unwrap_err().code, "InvalidOnpremSite.NotFound");
    m.create_onprem_site(&spec("again", &["172.16.0.0/16"], &[])).unwrap();
    assert_eq!(m.onprem_site("again").unwrap().public_ip, ip("198.51.100.10"), "freed");
}

#[test]
fn a_site_may_overlap_a_vpc_but_not_the_labs_ranges_or_itself() {
    let mut m = Model::new(2);
    m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    m.create_onprem_site(&spec("same", &["10.0.0.0/16"], &["h"])).unwrap();
    for (cidr, said) in [
        ("198.51.100.0/25", "emulated internet"),
        ("203.0.113.64/26", "public and Elastic IPs"),
        ("192.0.0.0/8", "AWS services"),
        ("169.254.10.0/24", "link-local"),
        ("127.0.0.0/8", "loopback"),
        ("224.0.0.0/8", "multicast"),
    ] {
        let (field, code, message) = refused(&m, &spec("x", &[cidr], &[]));
        assert_eq!((field, code), (SiteField::Cidr(0), "InvalidParameterValue"), "{cidr}");
        assert!(message.contains(said), "{cidr}: {message}");
    }
    for cidr in ["10.0.0.0/7", "10.0.0.0/29"] {
        let (field, _, message) = refused(&m, &spec("x", &[cidr], &[]));
        assert_eq!(field, SiteField::Cidr(0));
        assert!(message.contains("/8 to /28"), "{message}");
    }
    let (field, _, message) = refused(&m, &spec("x", &["172.16.0.0/16", "172.16.5.0/24"], &[]));
    assert_eq!(field, SiteField::Cidr(1));
    assert!(message.contains("overlaps the site's 172.16.0.0/16"), "{message}");
    assert_eq!(refused(&m, &spec("x", &[], &[])).0, SiteField::Cidrs);
    let six =
        ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16", "10.6.0.0/16"];
    assert_eq!(refused(&m, &spec("x", &six, &[])).0, SiteField::Cidrs);
}

#[test]
fn names_addresses_and_asns_are_checked() {
    let mut m = Model::new(3);
    m.create_onprem_site(&spec("hq", &["172.16.0.0/16"], &[])).unwrap();
    for name in ["", "HQ", "-hq", "h_q", "a-very-long-site-name-x", "hq"] {
        assert_eq!(refused(&m, &spec(name, &["10.9.0.0/16"], &[])).0, SiteField::Name, "{name:?}");
    }
    let with = |public: Option<&str>, asn: Option<u64>| OnpremSiteSpec {
        public_ip: public.map(ip),
        bgp_asn: asn,
        ..spec("x", &["10.9.0.0/16"], &[])
    };
    for public in ["198.51.100.1", "198.51.100.128", "203.0.113.5", "198.51.100.10"] {
        assert_eq!(refused(&m, &with(Some(public), None)).0, SiteField::PublicIp, "{public}");
    }
    for asn in [0, 4_294_967_296] {
        assert_eq!(refused(&m, &with(None, Some(asn))).0, SiteField::Asn, "{asn}");
    }
    let plan = m.plan_onprem_site(&with(Some("198.51.100.2"), Some(4_294_967_295))).unwrap();
    assert_eq!((plan.public_ip, plan.bgp_asn), (ip("198.51.100.2"), 4_294_967_295));

    for (hosts, field, said) in [
        (&["a", "a"][..], SiteField::HostName(1), "already has a host"),
        (&["router"][..], SiteField::HostName(0), "router"),
        (&["thirteen-long"][..], SiteField::HostName(0), "1 to 12"),
        (&["a=10.8.0.5"][..], SiteField::HostIp(0), "not in the site's CIDRs"),
        (&["a=10.9.0.0"][..], SiteField::HostIp(0), "network or broadcast"),
        (&["a=10.9.255.255"][..], SiteField::HostIp(0), "network or broadcast"),
        (&["a=10.9.0.1"][..], SiteField::HostIp(0), "the router's address"),
        (&["a=10.9.0.10", "b=10.9.0.10"][..], SiteField::HostIp(1), "host \"a\"'s"),
    ] {
        let (got, _, message) = refused(&m, &spec("x", &["10.9.0.0/16"], hosts));
        assert_eq!(got, field, "{hosts:?}");
        assert!(message.contains(said), "{hosts:?}: {message}");
    }
    assert!("a=banana".parse::<OnpremHostSpec>().is_err());
    assert!(vpclab_model::parse_site_cidr("10.0.0.0/33").is_err());
}

#[test]
fn a_small_cidr_runs_out_of_picked_addresses_and_says_so() {
    let m = Model::new(4);
    // A /28 has .10 to .14 to pick from.
    let five = ["a", "b", "c", "d", "e"];
    assert!(m.plan_onprem_site(&spec("x", &["10.9.0.0/28"], &five)).is_ok());
    let six = ["a", "b", "c", "d", "e", "f"];
    let (field, _, message) = refused(&m, &spec("x", &["10.9.0.0/28"], &six));
    assert_eq!(field, SiteField::HostIp(5));
    assert!(message.contains("give it one"), "{message}");
    // Given addresses may be anywhere in any CIDR.
    let plan = m.plan_onprem_site(&spec(
        "x",
        &["10.9.0.0/28", "10.10.0.0/24"],
        &["a=10.10.0.200", "b=10.9.0.2"],
    ));
    assert!(plan.is_ok(), "{plan:?}");
}

#[test]
fn namespace_names_never_collide_and_refusals_change_nothing() {
    let mut m = Model::new(5);
    m.create_onprem_site(&spec("a", &["10.9.0.0/16"], &["b-c"])).unwrap();
    let before = serde_json::to_value(&m).unwrap();
    let (field, _, message) = refused(&m, &spec("a-b", &["10.8.0.0/16"], &["c"]));
    assert_eq!(field, SiteField::Name);
    assert!(message.contains("onprem-a-b-c"), "{message}");
    assert!(m.create_onprem_site(&spec("a-b", &["10.8.0.0/16"], &["c"])).is_err());
    assert_eq!(serde_json::to_value(&m).unwrap(), before, "a refused site changes nothing");
    m.create_onprem_site(&spec("a-b", &["10.8.0.0/16"], &["d"])).unwrap();
}

#[test]
fn old_states_without_sites_still_load() {
    let m = Model::new(6);
    let mut json: serde_json::Value = serde_json::to_value(&m).unwrap();
    json.as_object_mut().unwrap().remove("onprem_sites");
    let back: Model = serde_json::from_value(json).unwrap();
    assert_eq!(back.onprem_sites().count(), 0);
}
