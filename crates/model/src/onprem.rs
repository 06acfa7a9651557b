//! On-premises sites: the customer's own network beside the VPCs, for the labs of
//! hybrid connectivity (VPN connections end on a site's router).
//!
//! A site is a router with a public address on the emulated internet (198.51.100.2 to
//! 198.51.100.127) and hosts on the site's own CIDRs. Those CIDRs may overlap a VPC's —
//! that is what the lab on CIDR planning shows — but not the emulated internet's ranges,
//! which the site must reach, nor each other. The router's LAN address is the first
//! usable address of each CIDR (`172.16.0.1` for `172.16.0.0/16`), the hosts' default
//! gateway.
//!
//! The data plane makes a site real as network namespaces, whose names end in the
//! [`OnpremSite::namespace_suffixes`] below; sites are created and deleted whole (a
//! topology file's `onprem_sites:` or `vpclab onprem`), never changed in place.
//!
//! One spec ([`OnpremSiteSpec`]) serves both front-ends, and one validator
//! ([`Model::plan_onprem_site`]) checks it: the topology file and the command line never
//! check a site on their own.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::Model;
use crate::error::ApiError;

/// A site's BGP ASN when none is given (AWS's default for a customer gateway).
pub const DEFAULT_SITE_ASN: u32 = 65000;

/// The longest site name: its namespaces (`vpclab-test-onprem-<site>-<host>`) must stay
/// within a namespace name's 64 characters, with room for a host's name.
pub const MAX_SITE_NAME: usize = 20;

/// The longest host name: the router's end of the host's link is `to-<host>`, and an
/// interface name holds at most 15 characters.
pub const MAX_HOST_NAME: usize = 12;

/// How many CIDRs a site holds at most (as a VPC holds five).
pub const MAX_SITE_CIDRS: usize = 5;

/// How many hosts a site holds at most: each is a namespace, and a lab is a lab.
pub const MAX_SITE_HOSTS: usize = 32;

/// The widest and narrowest site CIDRs. A /8 is the largest private block (10.0.0.0/8)
/// and wider would swallow much of the address space the lab uses; a /28 is AWS's
/// smallest subnet and still leaves room for the router and a dozen hosts.
pub const SITE_PREFIXES: std::ops::RangeInclusive<u8> = 8..=28;

/// Where routers' public addresses come from: 198.51.100.2 to 198.51.100.127 of the
/// emulated internet (198.51.100.1 is the check-ip host, the upper half the AWS
/// services' public endpoints).
pub const SITE_PUBLIC_RANGE: std::ops::RangeInclusive<Ipv4Addr> =
    Ipv4Addr::new(198, 51, 100, 2)..=Ipv4Addr::new(198, 51, 100, 127);

/// The first public address handed out when a site names none: the ones below stay
/// free for other internet hosts a lab may add.
const FIRST_DEFAULT_PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

/// A host's address when it names none: the first free from this offset in the site's
/// first CIDR (the low addresses stay for the router and network gear).
const FIRST_HOST_OFFSET: u32 = 10;

/// Ranges a site's CIDRs may not touch, and why: the emulated internet's (which the site
/// reaches through its router), link-local (VPN tunnels' inside addresses), and what is
/// not unicast at all.
const RESERVED: [(Ipv4Net, &str); 8] = [
    (Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24), "the emulated internet's hosts"),
    (Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24), "public and Elastic IPs"),
    (Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24), "the AWS services' addresses"),
    (Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16), "link-local addresses"),
    (Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8), "\"this network\""),
    (Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8), "loopback"),
    (Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4), "multicast"),
    (Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4), "reserved addresses"),
];

/// An on-premises site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnpremSite {
    /// Its name: `[a-z0-9][a-z0-9-]*`, unique.
    pub name: String,
    /// Its networks, canonical, in the order given.
    pub cidrs: Vec<Ipv4Net>,
    /// The router's address on the emulated internet.
    pub public_ip: Ipv4Addr,
    /// The router's BGP ASN (what a customer gateway for it would say).
    pub bgp_asn: u32,
    /// Hosts on the site's networks.
    pub hosts: Vec<OnpremHost>,
}

/// A host of a site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnpremHost {
    /// Its name, unique in the site.
    pub name: String,
    /// Its address, in one of the site's CIDRs.
    pub ip: Ipv4Addr,
}

impl OnpremSite {
    /// The router's address on `cidr`: the first usable one.
    pub fn router_lan(cidr: Ipv4Net) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(cidr.network()) + 1)
    }

    /// The router's LAN addresses, one per CIDR, with their CIDRs.
    pub fn router_addresses(&self) -> impl Iterator<Item = (Ipv4Net, Ipv4Addr)> + '_ {
        self.cidrs.iter().map(|&c| (c, Self::router_lan(c)))
    }

    /// The CIDR a host's address is in (its first, if CIDRs nest: they never do).
    pub fn cidr_of(&self, ip: Ipv4Addr) -> Option<Ipv4Net> {
        self.cidrs.iter().copied().find(|c| c.contains(&ip))
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&OnpremHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// What its namespaces' names end in, after the lab's prefix: the router's
    /// `onprem-<site>`, then each host's `onprem-<site>-<host>`, in host order.
    pub fn namespace_suffixes(&self) -> Vec<String> {
        let router = format!("onprem-{}", self.name);
        let hosts = self.hosts.iter().map(|h| format!("{router}-{}", h.name));
        std::iter::once(router.clone()).chain(hosts).collect()
    }
}

/// What a site is created from: a topology file's `onprem_sites:` entry, or `vpclab
/// onprem create`'s options. What it leaves out, [`Model::plan_onprem_site`] picks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnpremSiteSpec {
    /// The name.
    pub name: String,
    /// Its CIDRs (host bits are cleared).
    pub cidrs: Vec<Ipv4Net>,
    /// The router's public address; the lowest free from 198.51.100.10 if `None`.
    pub public_ip: Option<Ipv4Addr>,
    /// The BGP ASN; 65000 if `None`. Wide, so that a value out of range is refused
    /// rather than cut.
    pub bgp_asn: Option<u64>,
    /// Its hosts.
    pub hosts: Vec<OnpremHostSpec>,
}

/// A host to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnpremHostSpec {
    /// The name.
    pub name: String,
    /// Its address; the first free from the tenth of the site's first CIDR if `None`.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
}

impl FromStr for OnpremHostSpec {
    type Err = ApiError;

    /// `NAME` or `NAME=IP` (the command line's `--host`).
    fn from_str(text: &str) -> Result<Self, ApiError> {
        let (name, ip) = match text.split_once('=') {
            None => (text, None),
            Some((name, ip)) => (name, Some(parse_address(ip, "host address")?)),
        };
        Ok(Self { name: name.trim().to_owned(), ip })
    }
}

/// `text` as a site CIDR (`172.16.0.0/16`), refused with the model's error when it is none.
pub fn parse_site_cidr(text: &str) -> Result<Ipv4Net, ApiError> {
    text.trim().parse().map_err(|_| {
        ApiError::invalid_value(format!("{text:?} is not an IPv4 CIDR block (like 172.16.0.0/16)"))
    })
}

/// `text` as an IPv4 address, refused with the model's error (naming `what`) when it is
/// none.
pub fn parse_address(text: &str, what: &str) -> Result<Ipv4Addr, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::invalid_value(format!("{text:?} is not an IPv4 {what}")))
}

/// Which part of a spec an error is about, so that a topology file's error can point at
/// its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteField {
    /// The site's name.
    Name,
    /// The CIDRs as a whole (none given, too many).
    Cidrs,
    /// The CIDR at this index.
    Cidr(usize),
    /// The public address.
    PublicIp,
    /// The ASN.
    Asn,
    /// The hosts as a whole (too many).
    Hosts,
    /// The name of the host at this index.
    HostName(usize),
    /// The address of the host at this index.
    HostIp(usize),
}

/// A refused site: what was wrong, and where in the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteError {
    /// The offending part.
    pub field: SiteField,
    /// The error, as both front-ends show it.
    pub error: ApiError,
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for SiteError {}

impl From<SiteError> for ApiError {
    fn from(e: SiteError) -> Self {
        e.error
    }
}

fn refuse(field: SiteField, message: impl Into<String>) -> SiteError {
    SiteError { field, error: ApiError::invalid_value(message) }
}

/// Checks a site or host name: `[a-z0-9][a-z0-9-]*`, at most `max` characters. Names
/// become parts of namespace and interface names, so nothing else is let through.
fn check_name(field: SiteField, kind: &str, name: &str, max: usize) -> Result<(), SiteError> {
    let first_ok =
        name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if first_ok && rest_ok && name.len() <= max {
        return Ok(());
    }
    Err(refuse(
        field,
        format!(
            "{kind} name {name:?} is invalid: use 1 to {max} lowercase letters, digits and \
             hyphens, starting with a letter or digit"
        ),
    ))
}

impl Model {
    /// Every on-premises site, by name.
    pub fn onprem_sites(&self) -> impl Iterator<Item = &OnpremSite> {
        self.onprem_sites.values()
    }

    /// The site named `name`.
    pub fn onprem_site(&self, name: &str) -> Result<&OnpremSite, ApiError> {
        self.onprem_sites.get(name).ok_or_else(|| site_not_found(name))
    }

    /// The site `spec` describes, with what it leaves out picked, if it may be created
    /// beside the sites there are; otherwise what is wrong, and where.
    pub fn plan_onprem_site(&self, spec: &OnpremSiteSpec) -> Result<OnpremSite, SiteError> {
        use SiteField as F;
        check_name(F::Name, "site", &spec.name, MAX_SITE_NAME)?;
        if self.onprem_sites.contains_key(&spec.name) {
            return Err(refuse(F::Name, format!("a site named {:?} already exists", spec.name)));
        }
        let cidrs = check_cidrs(&spec.cidrs)?;
        let public_ip = match spec.public_ip {
            Some(ip) => self.check_public_ip(ip)?,
            None => self.free_router_ip()?,
        };
        let bgp_asn = match spec.bgp_asn {
            None => DEFAULT_SITE_ASN,
            Some(asn) => u32::try_from(asn).ok().filter(|&a| a > 0).ok_or_else(|| {
                refuse(F::Asn, format!("ASN {asn} is invalid: use 1 to 4294967295"))
            })?,
        };
        let mut site =
            OnpremSite { name: spec.name.clone(), cidrs, public_ip, bgp_asn, hosts: vec![] };
        if spec.hosts.len() > MAX_SITE_HOSTS {
            return Err(refuse(F::Hosts, format!("a site holds at most {MAX_SITE_HOSTS} hosts")));
        }
        // Hosts with an address first, so that picked ones step around them all.
        for (i, host) in spec.hosts.iter().enumerate() {
            check_name(F::HostName(i), "host", &host.name, MAX_HOST_NAME)?;
            if host.name == "router" {
                return Err(refuse(
                    F::HostName(i),
                    "a host cannot be named \"router\": `vpclab exec <site>/router` is the router",
                ));
            }
            if spec.hosts[..i].iter().any(|h| h.name == host.name) {
                return Err(refuse(
                    F::HostName(i),
                    format!("site {:?} already has a host named {:?}", spec.name, host.name),
                ));
            }
            if let Some(ip) = host.ip {
                check_host_ip(&site, ip).map_err(|m| refuse(F::HostIp(i), m))?;
                site.hosts.push(OnpremHost { name: host.name.clone(), ip });
            }
        }
        let mut hosts = Vec::with_capacity(spec.hosts.len());
        for (i, host) in spec.hosts.iter().enumerate() {
            let ip = match host.ip {
                Some(ip) => ip,
                None => {
                    let ip = free_host_ip(&site).ok_or_else(|| {
                        refuse(
                            F::HostIp(i),
                            format!(
                                "no free address left for host {:?} from .{FIRST_HOST_OFFSET} \
                                 of {}: give it one",
                                host.name, site.cidrs[0]
                            ),
                        )
                    })?;
                    site.hosts.push(OnpremHost { name: host.name.clone(), ip });
                    ip
                }
            };
            hosts.push(OnpremHost { name: host.name.clone(), ip });
        }
        site.hosts = hosts;
        self.check_namespaces(&site)?;
        Ok(site)
    }

    /// Creates the site `spec` describes (see [`Model::plan_onprem_site`]); a refused
    /// spec changes nothing.
    pub fn create_onprem_site(&mut self, spec: &OnpremSiteSpec) -> Result<(), ApiError> {
        let site = self.plan_onprem_site(spec)?;
        self.onprem_sites.insert(site.name.clone(), site);
        Ok(())
    }

    /// Deletes the site named `name`, and answers it.
    pub fn delete_onprem_site(&mut self, name: &str) -> Result<OnpremSite, ApiError> {
        self.onprem_sites.remove(name).ok_or_else(|| site_not_found(name))
    }

    fn check_public_ip(&self, ip: Ipv4Addr) -> Result<Ipv4Addr, SiteError> {
        if !SITE_PUBLIC_RANGE.contains(&ip) {
            return Err(refuse(
                SiteField::PublicIp,
                format!(
                    "public address {ip} is outside the routers' range {} to {}",
                    SITE_PUBLIC_RANGE.start(),
                    SITE_PUBLIC_RANGE.end()
                ),
            ));
        }
        if let Some(other) = self.onprem_sites().find(|s| s.public_ip == ip) {
            return Err(refuse(
                SiteField::PublicIp,
                format!("public address {ip} is site {:?}'s router's", other.name),
            ));
        }
        Ok(ip)
    }

    /// The lowest public address no site has, from 198.51.100.10 up.
    fn free_router_ip(&self) -> Result<Ipv4Addr, SiteError> {
        let (first, last) = (u32::from(FIRST_DEFAULT_PUBLIC), u32::from(*SITE_PUBLIC_RANGE.end()));
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|ip| self.onprem_sites().all(|s| s.public_ip != *ip))
            .ok_or_else(|| {
                refuse(
                    SiteField::PublicIp,
                    format!(
                        "every public address from {FIRST_DEFAULT_PUBLIC} up is taken: give the \
                         site one below it"
                    ),
                )
            })
    }

    /// Site names may hold hyphens, so site `a` with host `b-c` and site `a-b` with host
    /// `c` would both want the namespace `…onprem-a-b-c`: refuse the second.
    fn check_namespaces(&self, site: &OnpremSite) -> Result<(), SiteError> {
        let mine = site.namespace_suffixes();
        for other in self.onprem_sites() {
            if let Some(clash) = other.namespace_suffixes().into_iter().find(|n| mine.contains(n)) {
                return Err(refuse(
                    SiteField::Name,
                    format!(
                        "site {:?} would have a namespace named like one of site {:?} ({clash}): \
                         rename the site or the host",
                        site.name, other.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn site_not_found(name: &str) -> ApiError {
    ApiError::new(
        "InvalidOnpremSite.NotFound",
        format!("The on-premises site '{name}' does not exist"),
    )
}

/// The site's CIDRs, canonical: one to five, each /8 to /28, clear of the lab's reserved
/// ranges and of each other.
fn check_cidrs(cidrs: &[Ipv4Net]) -> Result<Vec<Ipv4Net>, SiteError> {
    if cidrs.is_empty() {
        return Err(refuse(SiteField::Cidrs, "a site needs at least one CIDR"));
    }
    if cidrs.len() > MAX_SITE_CIDRS {
        return Err(refuse(
            SiteField::Cidrs,
            format!("a site holds at most {MAX_SITE_CIDRS} CIDRs"),
        ));
    }
    let mut canonical: Vec<Ipv4Net> = Vec::with_capacity(cidrs.len());
    for (i, cidr) in cidrs.iter().enumerate() {
        let cidr = cidr.trunc();
        if !SITE_PREFIXES.contains(&cidr.prefix_len()) {
            return Err(refuse(
                SiteField::Cidr(i),
                format!(
                    "CIDR {cidr} is invalid: a site's networks are /{} to /{}",
                    SITE_PREFIXES.start(),
                    SITE_PREFIXES.end()
                ),
            ));
        }
        if let Some((range, what)) = RESERVED.iter().find(|(r, _)| overlap(*r, cidr)) {
            return Err(refuse(
                SiteField::Cidr(i),
                format!("CIDR {cidr} overlaps {range}, {what}: choose another range"),
            ));
        }
        if let Some(other) = canonical.iter().find(|c| overlap(**c, cidr)) {
            return Err(refuse(
                SiteField::Cidr(i),
                format!("CIDR {cidr} overlaps the site's {other}"),
            ));
        }
        canonical.push(cidr);
    }
    Ok(canonical)
}

fn overlap(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Why `ip` cannot be a new host's address in `site`, if it cannot.
fn check_host_ip(site: &OnpremSite, ip: Ipv4Addr) -> Result<(), String> {
    let Some(cidr) = site.cidr_of(ip) else {
        let cidrs: Vec<String> = site.cidrs.iter().map(ToString::to_string).collect();
        return Err(format!("host address {ip} is not in the site's CIDRs ({})", cidrs.join(", ")));
    };
    if ip == cidr.network() || ip == cidr.broadcast() {
        return Err(format!("host address {ip} is {cidr}'s network or broadcast address"));
    }
    if ip == OnpremSite::router_lan(cidr) {
        return Err(format!("host address {ip} is the router's address on {cidr}"));
    }
    if let Some(other) = site.hosts.iter().find(|h| h.ip == ip) {
        return Err(format!("host address {ip} is host {:?}'s", other.name));
    }
    Ok(())
}

/// The first address from the tenth of the site's first CIDR that no host has.
fn free_host_ip(site: &OnpremSite) -> Option<Ipv4Addr> {
    let cidr = *site.cidrs.first()?;
    let (first, last) =
        (u32::from(cidr.network()) + FIRST_HOST_OFFSET, u32::from(cidr.broadcast()));
    (first..last).map(Ipv4Addr::from).find(|&ip| check_host_ip(site, ip).is_ok())
}
