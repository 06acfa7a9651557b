//! What the VPC itself answers, the way AWS answers it in the hypervisor: the instance
//! metadata service at 169.254.169.254 and the Amazon DNS server at 169.254.169.253 and
//! the VPC's base address + 2; over IPv6, at AWS's Nitro addresses `fd00:ec2::254`
//! (metadata, when the instance's `HttpProtocolIpv6` is enabled) and `fd00:ec2::253`
//! (DNS).
//!
//! The workers divert an instance's packets to those addresses here before any security
//! group or network ACL sees them (neither can block them on AWS, and flow logs do not
//! record them). A thread of its own runs a userspace TCP/IP endpoint per instance that
//! has used a service — smoltcp, with the three addresses on one IP-medium interface —
//! and writes the answers straight into the instance's device. No kernel stack, no
//! extra namespace. The protocols themselves are pure functions: [`imds`] (HTTP) and
//! [`dns`].
//!
//! This is not the packet path: it allocates (a few buffers per request) and may be
//! slower than forwarding; AWS, too, limits each interface to 1,024 DNS packets a second.

pub mod dns;
pub mod imds;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant as StdInstant};

use arc_swap::ArcSwap;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpListenEndpoint, Ipv4Address};
use vpclab_model::{
    Instance, InstanceId, MetadataOptions, Model, Part, SecurityGroupId, Subnet, SubnetId, Vpc,
    VpcId, names,
};

use crate::ascending::Ascending;
use crate::engine::{Device, H};
use crate::pipeline6::{DNS6, IMDS6};
use crate::security::FlowHashing;
use crate::snapshot::{Port, PortMap};

/// The instance metadata service's address.
pub const IMDS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The Amazon DNS server's link-local address.
pub const DNS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 253);
/// Largest packet an instance can send a service (larger ones are dropped).
pub const SERVICE_MTU: usize = 1500;
/// Packets waiting for the service thread at most.
pub const SERVICE_QUEUE: usize = 256;

/// TCP connections one instance can have open to the metadata service at once.
const IMDS_SOCKETS: usize = 8;
/// TCP connections one instance can have open to the DNS server at once.
const DNS_TCP_SOCKETS: usize = 2;

/// What the services know about one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceService {
    /// Its VPC (an index private to [`ServiceData`]).
    pub vpc: u32,
    /// Whether its VPC has `enableDnsSupport`.
    pub dns_support: bool,
    /// Whether its subnet has `EnableDns64`: AAAA queries for names with only A records
    /// get `64:ff9b::<IPv4>` answers (RFC 6052), for NAT64 through a NAT gateway.
    pub dns64: bool,
    /// Its VPC's DNS server address: the VPC's base + 2.
    pub resolver: Ipv4Addr,
    /// Its metadata service options.
    pub options: MetadataOptions,
    /// Its metadata: paths under `/latest/meta-data/` to values.
    pub metadata: BTreeMap<String, String>,
    /// The instance identity document (`/latest/dynamic/instance-identity/document`).
    pub identity: String,
    /// Its user data as launched (`/latest/user-data`), decoded; none when launched
    /// without.
    pub user_data: Option<String>,
}

/// The model as the services see it, compiled on every change like the snapshot.
#[derive(Clone, Debug, Default)]
pub struct ServiceData {
    /// By forwarder port: the instance behind it.
    pub instances: Vec<Option<Arc<InstanceService>>>,
    /// Private addresses of instances, by VPC.
    pub(crate) private: HashSet<(u32, Ipv4Addr)>,
    /// Public addresses with public DNS names (their VPC has `enableDnsHostnames`), to
    /// the VPC and private address behind them.
    pub(crate) public: HashMap<Ipv4Addr, (u32, Ipv4Addr)>,
    /// Interface endpoints' own names (regional and zonal), from anywhere, to their
    /// interfaces' addresses.
    pub(crate) endpoint_names: HashMap<String, Vec<Ipv4Addr>>,
    /// Private DNS names of interface endpoints, by VPC (a leading `*.` stands for any
    /// name below), to the endpoint's interfaces' addresses.
    pub(crate) private_names: HashMap<(u32, String), Vec<Ipv4Addr>>,
    /// Instances' resource names (`i-….ec2.internal`, by VPC and instance id) that
    /// answer A or AAAA queries, with what they answer.
    pub(crate) resource_names: HashMap<(u32, String), ResourceRecords>,
}

/// What an instance's resource name answers (`EnableResourceNameDnsARecord`,
/// `…AAAARecord`): its private IPv4 address, its IPv6 addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResourceRecords {
    pub(crate) a: Option<Ipv4Addr>,
    pub(crate) aaaa: Vec<std::net::Ipv6Addr>,
}

impl ServiceData {
    /// Puts `service` at `port`.
    fn place(&mut self, port: Port, service: Arc<InstanceService>) {
        let slot = port as usize;
        if self.instances.len() <= slot {
            self.instances.resize(slot + 1, None);
        }
        self.instances[slot] = Some(service);
    }

    /// The instance at `port`.
    pub fn instance(&self, port: Port) -> Option<&Arc<InstanceService>> {
        self.instances.get(port as usize).and_then(Option::as_ref)
    }
}

/// Compiles what the services answer from `model`, for the ports in `ports`, from
/// scratch (see [`Compiler`] for change after change).
pub fn compile(model: &Model, ports: &PortMap) -> ServiceData {
    Compiler::default().compile(model, ports)
}

/// Compiles [`ServiceData`] change after change. An instance's answers (its metadata
/// tree, identity document, user data: a few dozen strings) are built again only when
/// something they are made of changed — the instance, its VPC, its subnet, its groups'
/// names — and shared otherwise: with thousands of instances, building every one on
/// every API call was most of the call.
///
/// Whether a VPC, subnet or group changed is found once per compile, not once per
/// instance behind it ([`Copies`]), and an instance's answers hold the copies they were
/// built from, so telling whether they still stand takes no search by id: with ten
/// thousand instances, comparing each one's VPC and subnet, then finding them by id, was
/// most of what was left.
#[derive(Debug, Default)]
pub struct Compiler {
    /// Every VPC, with its index in [`ServiceData`], kept while the VPC exists (an index
    /// that moved would change every instance's answers behind it).
    vpcs: Copies<VpcId, Vpc>,
    next_vpc: u32,
    subnets: Copies<SubnetId, Subnet>,
    /// Every security group's name (the rest of a group is not in the answers).
    groups: Copies<SecurityGroupId, String>,
    /// What each instance's answers were last built from, in id order (the model's).
    instances: BTreeMap<InstanceId, Built>,
    /// Counts compiles: an entry not seen in the latest is gone from the model.
    round: u64,
    /// The model the last compile read (a copy sharing its collections): VPCs, subnets
    /// or groups the same since, by pointer, are not compared again.
    last: Option<Model>,
}

/// A VPC, subnet or group (what of it the answers use) as a compile saw it.
#[derive(Debug)]
struct Seen<T> {
    value: T,
    /// A VPC's index in [`ServiceData`] (0 for the others).
    index: u32,
    /// Whether `value` is still the model's: cleared, for good, when the model's differs
    /// or is gone (and [`Copies`] holds a new copy, or none). Only the compiling thread
    /// reads or writes it; atomic so that the compiler may move between threads.
    current: AtomicBool,
}

impl<T> Seen<T> {
    fn is_current(&self) -> bool {
        self.current.load(Ordering::Relaxed)
    }
}

/// The compiler's copies of one kind of the model's values, by id, each with the compile
/// that last saw it.
#[derive(Debug)]
struct Copies<K, T> {
    by_id: HashMap<K, (Arc<Seen<T>>, u64), FlowHashing>,
}

impl<K, T> Default for Copies<K, T> {
    fn default() -> Self {
        Self { by_id: HashMap::default() }
    }
}

impl<K: Eq + std::hash::Hash, T> Copies<K, T> {
    /// Records that compile `round` saw `id`: the copy kept stays if `same` says it is
    /// still the model's value, and is otherwise marked out of date and replaced by
    /// `value()` (called only then: nothing unchanged is copied). A new copy keeps the
    /// old one's index, or takes `new_index()` if there was none.
    fn see(
        &mut self,
        round: u64,
        id: K,
        same: impl FnOnce(&T) -> bool,
        value: impl FnOnce() -> T,
        new_index: impl FnOnce() -> u32,
    ) {
        let fresh =
            |value, index| (Arc::new(Seen { value, index, current: AtomicBool::new(true) }), round);
        match self.by_id.entry(id) {
            Entry::Occupied(mut entry) => {
                let (kept, seen_in) = entry.get_mut();
                if same(&kept.value) {
                    *seen_in = round;
                } else {
                    kept.current.store(false, Ordering::Relaxed);
                    let index = kept.index;
                    *entry.get_mut() = fresh(value(), index);
                }
            }
            Entry::Vacant(entry) => {
                entry.insert(fresh(value(), new_index()));
            }
        }
    }

    /// Forgets (and marks out of date) the copies compile `round` did not see: their
    /// values are gone from the model.
    fn forget_unseen(&mut self, round: u64) {
        self.by_id.retain(|_, (kept, seen_in)| {
            let seen = *seen_in == round;
            if !seen {
                kept.current.store(false, Ordering::Relaxed);
            }
            seen
        });
    }

    /// The copy of `id`'s value.
    fn get<Q: Eq + std::hash::Hash + ?Sized>(&self, id: &Q) -> Option<&Arc<Seen<T>>>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.by_id.get(id).map(|(kept, _)| kept)
    }
}

/// An instance's answers and what they were built from.
#[derive(Debug)]
struct Built {
    /// The model's instance, shared: while the model's is this one (by pointer), the
    /// instance has not changed.
    instance: Arc<Instance>,
    vpc: Arc<Seen<Vpc>>,
    subnet: Arc<Seen<Subnet>>,
    /// Its groups, in the instance's order; `None` if one of them did not exist (then
    /// the answers are built again every time: one may have come since).
    groups: Option<Vec<Arc<Seen<String>>>>,
    service: Arc<InstanceService>,
    round: u64,
}

impl Built {
    /// Whether these answers are still the ones `instance` gets: it is the same, and so
    /// are its VPC, its subnet and its groups' names.
    fn current(&self, instance: &Arc<Instance>) -> bool {
        self.vpc.is_current()
            && self.subnet.is_current()
            && self.groups.as_ref().is_some_and(|g| g.iter().all(|g| g.is_current()))
            && (Arc::ptr_eq(&self.instance, instance) || self.instance == *instance)
    }
}

impl Compiler {
    /// What the services answer from `model`, for the ports in `ports`.
    pub fn compile(&mut self, model: &Model, ports: &PortMap) -> ServiceData {
        self.round += 1;
        let round = self.round;
        let last = self.last.take();
        let changed = |part| last.as_ref().is_none_or(|old| model.changed_since(old, part));
        let next_vpc = &mut self.next_vpc;
        if changed(Part::Vpcs) {
            for vpc in model.vpcs() {
                let new_index = || {
                    *next_vpc += 1;
                    *next_vpc - 1
                };
                self.vpcs.see(round, vpc.id.clone(), |v| v == vpc, || vpc.clone(), new_index);
            }
            self.vpcs.forget_unseen(round);
        }
        if changed(Part::Subnets) {
            for subnet in model.subnets() {
                let same = |s: &Subnet| s == subnet;
                self.subnets.see(round, subnet.id.clone(), same, || subnet.clone(), || 0);
            }
            self.subnets.forget_unseen(round);
        }
        if changed(Part::SecurityGroups) {
            for group in model.security_groups() {
                let same = |name: &String| *name == group.name;
                self.groups.see(round, group.id.clone(), same, || group.name.clone(), || 0);
            }
            self.groups.forget_unseen(round);
        }
        self.last = Some(model.clone());

        let mut data = ServiceData::default();
        for endpoint in model.vpc_endpoints() {
            let Some(vpc) = self.vpcs.get(&endpoint.vpc) else { continue };
            for name in model.endpoint_names(endpoint) {
                if name.private {
                    data.private_names.insert((vpc.index, name.name), name.addresses);
                } else {
                    data.endpoint_names.insert(name.name, name.addresses);
                }
            }
        }
        // The instances come in id order, as the answers built for them are kept: one
        // walk finds each one's. Those not found on the walk (new, changed, or out of
        // order) are looked up and built after it.
        // As many instances as last time, give or take a few: room for their addresses.
        data.private.reserve(self.instances.len());
        let mut ports = ports.instance_ports();
        let mut walk = Ascending::new(self.instances.iter_mut());
        let (mut missed, mut kept) = (Vec::new(), 0);
        for instance in model.shared_instances() {
            let port = ports.get(&instance.id).filter(|_| !instance.stopped);
            let built = port.and_then(|port| Some((port, walk.find(&instance.id)?)));
            let vpc = match built {
                Some((port, built)) if built.current(instance) => {
                    built.round = round;
                    kept += 1;
                    data.place(port, Arc::clone(&built.service));
                    Arc::clone(&built.vpc)
                }
                _ => {
                    let Some(vpc) = self.vpcs.get(&instance.vpc) else { continue };
                    if self.subnets.get(&instance.subnet).is_none() {
                        continue;
                    }
                    if let Some(port) = port {
                        missed.push((instance, port));
                    }
                    Arc::clone(vpc)
                }
            };
            if let Some(ip) = instance.private_ip {
                data.private.insert((vpc.index, ip));
            }
            let names = &instance.dns_names;
            if names.a_record || names.aaaa_record {
                let records = ResourceRecords {
                    a: instance.private_ip.filter(|_| names.a_record),
                    aaaa: if names.aaaa_record {
                        instance.ipv6_addresses.clone()
                    } else {
                        Vec::new()
                    },
                };
                data.resource_names.insert((vpc.index, instance.id.to_string()), records);
            }
            let public = instance.public_ip.as_ref().map(|(ip, _)| *ip);
            if let (Some(ip), Some(private), true) =
                (public, instance.private_ip, vpc.value.dns_hostnames)
            {
                data.public.insert(ip, (vpc.index, private));
            }
        }
        for (instance, port) in missed {
            if let Some(built) = self.instances.get_mut(&instance.id) {
                if built.current(instance) {
                    built.round = round;
                    kept += 1;
                    data.place(port, Arc::clone(&built.service));
                    continue;
                }
            }
            let (Some(vpc), Some(subnet)) =
                (self.vpcs.get(&instance.vpc), self.subnets.get(&instance.subnet))
            else {
                continue;
            };
            let groups: Option<Vec<_>> =
                instance.security_groups.iter().map(|g| self.groups.get(g).cloned()).collect();
            let names: Vec<(String, String)> = instance
                .security_groups
                .iter()
                .filter_map(|g| Some((g.to_string(), self.groups.get(g)?.value.clone())))
                .collect();
            let service =
                Arc::new(instance_service(instance, &vpc.value, &subnet.value, &names, vpc.index));
            self.instances.insert(
                instance.id.clone(),
                Built {
                    instance: Arc::clone(instance),
                    vpc: Arc::clone(vpc),
                    subnet: Arc::clone(subnet),
                    groups,
                    service: Arc::clone(&service),
                    round,
                },
            );
            kept += 1;
            data.place(port, service);
        }
        // Every entry this compile kept or made was counted once: if that is all of
        // them, none is left over to drop.
        if kept != self.instances.len() {
            self.instances.retain(|_, built| built.round == round);
        }
        data
    }
}

/// An instance's answers: its metadata, identity document and user data. `groups` are
/// its security groups' ids and names; `index` its VPC's.
fn instance_service(
    instance: &Instance,
    vpc: &Vpc,
    subnet: &Subnet,
    groups: &[(String, String)],
    index: u32,
) -> InstanceService {
    let public = instance.public_ip.as_ref().map(|(ip, _)| *ip);
    let mac = instance.mac();
    // Its private DNS name by its hostname type: `ip-…` or `i-….ec2.internal`.
    let private_name = instance.private_dns_name();
    let public_name = public.filter(|_| vpc.dns_hostnames).map(names::public_dns);
    let mut m = BTreeMap::new();
    let mut put = |key: String, value: String| {
        m.insert(key, value);
    };
    let image = if instance.image_id.is_empty() { "ami-00000000" } else { &instance.image_id };
    put("ami-id".into(), image.to_owned());
    put("hostname".into(), private_name.clone());
    put("instance-id".into(), instance.id.to_string());
    let kind = if instance.instance_type.is_empty() { "t3.micro" } else { &instance.instance_type };
    put("instance-type".into(), kind.to_owned());
    put("local-hostname".into(), private_name.clone());
    // (An IPv6-only instance has no IPv4 address and no `local-ipv4` keys.)
    if let Some(ip) = instance.private_ip {
        put("local-ipv4".into(), ip.to_string());
    }
    put("mac".into(), mac.clone());
    put("placement/availability-zone".into(), subnet.zone.clone());
    put("placement/region".into(), names::REGION.to_owned());
    let group_names = groups.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("\n");
    let group_ids = groups.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join("\n");
    put("security-groups".into(), group_names.clone());
    if let Some(ip) = public {
        put("public-ipv4".into(), ip.to_string());
    }
    if let Some(name) = &public_name {
        put("public-hostname".into(), name.clone());
    }
    let nic = format!("network/interfaces/macs/{mac}/");
    put(format!("{nic}device-number"), "0".into());
    put(format!("{nic}interface-id"), instance.interface.to_string());
    put(format!("{nic}local-hostname"), private_name.clone());
    if let Some(ip) = instance.private_ip {
        put(format!("{nic}local-ipv4s"), ip.to_string());
    }
    put(format!("{nic}mac"), mac.clone());
    put(format!("{nic}owner-id"), names::OWNER_ID.into());
    if let Some(ip) = public {
        put(format!("{nic}public-ipv4s"), ip.to_string());
    }
    if let Some(name) = &public_name {
        put(format!("{nic}public-hostname"), name.clone());
    }
    put(format!("{nic}security-group-ids"), group_ids);
    put(format!("{nic}security-groups"), group_names);
    put(format!("{nic}subnet-id"), subnet.id.to_string());
    if let Some(block) = subnet.cidr {
        put(format!("{nic}subnet-ipv4-cidr-block"), block.to_string());
    }
    // IPv6 (AWS: present only when the interface, subnet or VPC has IPv6).
    let joined = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join("\n");
    if let Some(first) = instance.ipv6_addresses.first() {
        put("ipv6".into(), first.to_string());
        put(
            format!("{nic}ipv6s"),
            joined(&mut instance.ipv6_addresses.iter().map(|a| a.to_string())),
        );
    }
    if let Some(block) = subnet.ipv6_cidr() {
        put(format!("{nic}subnet-ipv6-cidr-blocks"), block.to_string());
    }
    if vpc.has_ipv6() {
        put(
            format!("{nic}vpc-ipv6-cidr-blocks"),
            joined(&mut vpc.ipv6_cidrs().map(|c| c.to_string())),
        );
    }
    put(format!("{nic}vpc-id"), vpc.id.to_string());
    put(format!("{nic}vpc-ipv4-cidr-block"), vpc.cidr.to_string());
    let blocks: Vec<String> = vpc.cidrs().map(|c| c.to_string()).collect();
    put(format!("{nic}vpc-ipv4-cidr-blocks"), blocks.join("\n"));
    if instance.metadata.tags_enabled {
        // Keys that cannot be a path segment are left out, as AWS leaves out keys
        // with characters IMDS does not allow.
        for (key, value) in &instance.tags {
            if !key.is_empty() && !key.contains(['/', ' ']) && key != "." && key != ".." {
                put(format!("tags/instance/{key}"), value.clone());
            }
        }
    }
    let identity = format!(
        "{{\n  \"accountId\" : \"{}\",\n  \"architecture\" : \"x86_64\",\n  \
         \"availabilityZone\" : \"{}\",\n  \"imageId\" : \"{image}\",\n  \
         \"instanceId\" : \"{}\",\n  \"instanceType\" : \"{kind}\",\n  \
         \"privateIp\" : {},\n  \"region\" : \"{}\",\n  \"version\" : \"2017-09-30\"\n}}",
        names::OWNER_ID,
        subnet.zone,
        instance.id,
        instance.private_ip.map_or_else(|| "null".to_owned(), |ip| format!("\"{ip}\"")),
        names::REGION,
    );
    InstanceService {
        vpc: index,
        dns_support: vpc.dns_support,
        dns64: subnet.enable_dns64,
        resolver: vpc.dns_server(),
        options: instance.metadata,
        metadata: m,
        identity,
        user_data: instance
            .user_data
            .as_deref()
            .and_then(vpclab_model::base64::decode)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// Whether `dst` is answered by the services for an instance whose VPC's DNS server
/// is `resolver`.
#[inline]
pub fn is_service(dst: Ipv4Addr, resolver: Ipv4Addr) -> bool {
    dst == IMDS || dst == DNS || dst == resolver
}

/// What reaches the service thread. A packet travels inside the message: the queue's
/// slots are allocated once, so a worker hands one over without allocating.
#[allow(clippy::large_enum_variant)]
pub enum ServiceMsg<D> {
    /// A packet from the instance at `port` to a service address (its first `len`
    /// bytes; no virtio-net header, checksums possibly partial).
    Packet { port: Port, len: u16, bytes: [u8; SERVICE_MTU] },
    /// The device of `port`, to write answers to.
    Attach(Port, D),
    /// `port`'s device is going; answered once its fd here is closed.
    Detach(Port, std::sync::mpsc::Sender<()>),
}

impl<D> std::fmt::Debug for ServiceMsg<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Packet { port, len, .. } => write!(f, "Packet {{ port: {port}, len: {len} }}"),
            Self::Attach(port, _) => write!(f, "Attach({port})"),
            Self::Detach(port, _) => write!(f, "Detach({port})"),
        }
    }
}

/// The service thread: one smoltcp endpoint per instance that used a service.
pub fn run<D: Device>(rx: &Receiver<ServiceMsg<D>>, data: &ArcSwap<ServiceData>) {
    let started = StdInstant::now();
    let mut host =
        Host { devices: Vec::new(), stacks: HashMap::new(), tokens: imds::Tokens::new(seed()) };
    // Stacks to serve this round, reused: the ones packets arrived for or a timer is due.
    let mut ready: Vec<Port> = Vec::new();
    loop {
        let now = Instant::from_micros(started.elapsed().as_micros() as i64);
        let wait = host.stacks.values().filter_map(|s| s.due).min().map_or(
            Duration::from_secs(1),
            |due| {
                let left = if due > now { (due - now).total_micros() } else { 0 };
                Duration::from_micros(left).min(Duration::from_secs(1))
            },
        );
        let first = match rx.recv_timeout(wait) {
            Ok(msg) => Some(msg),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let data = data.load();
        let now = Instant::from_micros(started.elapsed().as_micros() as i64);
        for msg in first.into_iter().chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match msg {
                ServiceMsg::Packet { port, len, bytes } => {
                    // The metadata service's IPv6 address answers only instances that
                    // enabled it (`HttpProtocolIpv6`); otherwise nothing is there.
                    let to_imds6 = bytes[0] >> 4 == 6 && bytes[24..40] == IMDS6.octets();
                    if let Some(instance) =
                        data.instance(port).filter(|i| !to_imds6 || i.options.protocol_ipv6)
                    {
                        let stack = host
                            .stacks
                            .entry(port)
                            .or_insert_with(|| Stack::new(instance.resolver, now));
                        stack.device.rx.push_back(bytes[..usize::from(len)].to_vec());
                        stack.due = Some(now);
                    }
                }
                ServiceMsg::Attach(port, tun) => {
                    let slot = port as usize;
                    if host.devices.len() <= slot {
                        host.devices.resize_with(slot + 1, || None);
                    }
                    host.devices[slot] = Some(tun);
                }
                ServiceMsg::Detach(port, done) => {
                    if let Some(slot) = host.devices.get_mut(port as usize) {
                        *slot = None;
                    }
                    host.stacks.remove(&port);
                    let _ = done.send(());
                }
            }
        }
        let now_ms = started.elapsed().as_millis() as u64;
        ready.extend(
            host.stacks.iter().filter(|(_, s)| s.due.is_some_and(|d| d <= now)).map(|(p, _)| *p),
        );
        for port in ready.drain(..) {
            host.serve(port, &data, now, now_ms);
        }
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
}

struct Host<D> {
    devices: Vec<Option<D>>,
    stacks: HashMap<Port, Stack>,
    tokens: imds::Tokens,
}

impl<D: Device> Host<D> {
    /// Lets `port`'s endpoint take in what arrived, answers what is complete, and writes
    /// what it sends to the instance's device.
    fn serve(&mut self, port: Port, data: &ServiceData, now: Instant, now_ms: u64) {
        let Some(instance) = data.instance(port).cloned() else {
            self.stacks.remove(&port);
            return;
        };
        let Some(stack) = self.stacks.get_mut(&port) else {
            return;
        };
        stack.iface.poll(now, &mut stack.device, &mut stack.sockets);
        stack.answer(&instance, port, &mut self.tokens, data, now_ms);
        stack.iface.poll(now, &mut stack.device, &mut stack.sockets);
        stack.due = stack.iface.poll_at(now, &stack.sockets);
        let device = self.devices.get(port as usize).and_then(Option::as_ref);
        let mut frame = [0u8; H + SERVICE_MTU];
        for packet in stack.device.tx.drain(..) {
            let Some(device) = device else { continue };
            let len = packet.len().min(SERVICE_MTU);
            // A plain virtio-net header: smoltcp finished every checksum.
            frame[..H].fill(0);
            frame[H..H + len].copy_from_slice(&packet[..len]);
            let _ = device.send(&frame[..H + len]);
        }
    }
}

/// A socket of an instance's endpoint and what it serves.
enum Role {
    /// TCP, port 80: the metadata service; the request read so far.
    Imds(Vec<u8>),
    /// TCP, port 53: DNS over TCP; the bytes read so far.
    DnsTcp(Vec<u8>),
    /// UDP, port 53.
    DnsUdp,
}

/// One instance's userspace TCP/IP endpoint.
struct Stack {
    iface: Interface,
    sockets: SocketSet<'static>,
    roles: Vec<(SocketHandle, Role)>,
    device: Pipe,
    /// When it next needs serving: packets arrived, or one of its timers (smoltcp's
    /// `poll_at`); `None`: not until a packet comes.
    due: Option<Instant>,
}

impl Stack {
    fn new(resolver: Ipv4Addr, now: Instant) -> Self {
        let mut device = Pipe::default();
        let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
        iface.update_ip_addrs(|addrs| {
            // The link-local pair shares a /16 so the default route below has an
            // on-link gateway; replies go to the instance wherever it is. The IPv6
            // pair likewise shares fd00:ec2::/64.
            for (ip, prefix) in [(IMDS, 16), (DNS, 16), (resolver, 32)] {
                let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(v4(ip)), prefix));
            }
            for ip in [IMDS6, DNS6] {
                let _ = addrs.push(IpCidr::new(IpAddress::Ipv6(ip), 64));
            }
        });
        let _ = iface.routes_mut().add_default_ipv4_route(Ipv4Address::new(169, 254, 0, 1));
        let gateway6 = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 1);
        let _ = iface.routes_mut().add_default_ipv6_route(gateway6);
        let mut sockets = SocketSet::new(Vec::new());
        let mut roles = Vec::new();
        for _ in 0..IMDS_SOCKETS {
            roles.push((sockets.add(tcp_socket(80)), Role::Imds(Vec::new())));
        }
        for _ in 0..DNS_TCP_SOCKETS {
            roles.push((sockets.add(tcp_socket(53)), Role::DnsTcp(Vec::new())));
        }
        let mut udp = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 8192]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 16], vec![0; 8192]),
        );
        let _ = udp.bind(IpListenEndpoint { addr: None, port: 53 });
        roles.push((sockets.add(udp), Role::DnsUdp));
        Stack { iface, sockets, roles, device, due: None }
    }

    /// Serves every socket that has something to serve.
    fn answer(
        &mut self,
        instance: &InstanceService,
        port: Port,
        tokens: &mut imds::Tokens,
        data: &ServiceData,
        now_ms: u64,
    ) {
        for (handle, role) in &mut self.roles {
            match role {
                Role::Imds(request) => {
                    let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
                    relisten(socket, 80, request);
                    read_into(socket, request, imds::MAX_REQUEST);
                    if let Some(end) = imds::complete(request) {
                        let (response, token) =
                            imds::respond(instance, port, tokens, &request[..end], now_ms);
                        if token {
                            socket.set_hop_limit(Some(instance.options.hop_limit.max(1)));
                        }
                        let _ = socket.send_slice(&response);
                        socket.close();
                        request.clear();
                    } else if request.len() >= imds::MAX_REQUEST {
                        socket.abort();
                        request.clear();
                    }
                }
                Role::DnsTcp(buffer) => {
                    let socket = self.sockets.get_mut::<tcp::Socket>(*handle);
                    relisten(socket, 53, buffer);
                    read_into(socket, buffer, 2 + 65_535);
                    // RFC 1035 §4.2.2: each message behind a two-byte length.
                    while buffer.len() >= 2 {
                        let len = usize::from(u16::from_be_bytes([buffer[0], buffer[1]]));
                        if buffer.len() < 2 + len {
                            break;
                        }
                        let query: Vec<u8> = buffer.drain(..2 + len).skip(2).collect();
                        if let Some(reply) = dns::answer(&query, instance, data) {
                            let _ = socket.send_slice(&(reply.len() as u16).to_be_bytes());
                            let _ = socket.send_slice(&reply);
                        }
                    }
                }
                Role::DnsUdp => {
                    let socket = self.sockets.get_mut::<udp::Socket>(*handle);
                    let mut query = [0u8; 1500];
                    while let Ok((len, meta)) = socket.recv_slice(&mut query) {
                        if let Some(reply) = dns::answer(&query[..len], instance, data) {
                            let mut back = udp::UdpMetadata::from(meta.endpoint);
                            back.local_address = meta.local_address;
                            let _ = socket.send_slice(&reply, back);
                        }
                    }
                }
            }
        }
    }
}

fn tcp_socket(port: u16) -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 8192]),
        tcp::SocketBuffer::new(vec![0; 16_384]),
    );
    let _ = socket.listen(port);
    socket
}

/// A TCP socket whose connection ended listens again, with an empty buffer. One in
/// TIME-WAIT is done too: the service closed first and the client has its answer, and
/// a socket held for the whole TIME-WAIT would refuse the next client.
fn relisten(socket: &mut tcp::Socket<'_>, port: u16, buffer: &mut Vec<u8>) {
    if matches!(socket.state(), tcp::State::TimeWait) {
        socket.abort();
    }
    if matches!(socket.state(), tcp::State::Closed) {
        socket.set_hop_limit(None);
        let _ = socket.listen(port);
        buffer.clear();
    } else if matches!(socket.state(), tcp::State::CloseWait) && !socket.may_send() {
        socket.close();
    }
}

fn read_into(socket: &mut tcp::Socket<'_>, buffer: &mut Vec<u8>, limit: usize) {
    let mut chunk = [0u8; 2048];
    while socket.can_recv() && buffer.len() < limit {
        match socket.recv_slice(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

fn v4(ip: Ipv4Addr) -> Ipv4Address {
    let [a, b, c, d] = ip.octets();
    Ipv4Address::new(a, b, c, d)
}

/// smoltcp's device: packets handed in by the workers, packets out to the instance.
#[derive(Default)]
struct Pipe {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}

struct RxToken(Vec<u8>);
struct TxToken<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let result = f(&mut packet);
        self.0.push(packet);
        result
    }
}

impl phy::Device for Pipe {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let packet = self.rx.pop_front()?;
        Some((RxToken(packet), TxToken(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = SERVICE_MTU;
        // What instances send may carry partial checksums (TUN offloads): not checked
        // on the way in; everything smoltcp sends is finished.
        let mut checksum = ChecksumCapabilities::default();
        checksum.tcp = Checksum::Tx;
        checksum.udp = Checksum::Tx;
        checksum.ipv4 = Checksum::Both;
        caps.checksum = checksum;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpclab_model::{RunInstance, Tags};

    fn vpc(m: &mut Model, cidr: &str) -> (VpcId, vpclab_model::SubnetId) {
        let cidr: ipnet::Ipv4Net = cidr.parse().unwrap();
        let vpc = m.create_vpc(cidr, Tags::new()).unwrap();
        let subnet = m.create_subnet(&vpc, cidr, None, Tags::new()).unwrap();
        (vpc, subnet)
    }

    fn run(m: &mut Model, ports: &mut PortMap, subnet: &vpclab_model::SubnetId) -> Port {
        let spec = RunInstance { subnet: Some(subnet.clone()), ..Default::default() };
        ports.assign(&m.run_instance(spec).unwrap())
    }

    /// What a port's answers say, whatever the VPC's (opaque) index.
    fn answers(
        data: &ServiceData,
        port: Port,
    ) -> (BTreeMap<String, String>, String, Option<String>) {
        let s = data.instance(port).expect("an instance at the port");
        (s.metadata.clone(), s.identity.clone(), s.user_data.clone())
    }

    #[test]
    fn resource_names_are_compiled_with_the_records_their_instances_enable() {
        use vpclab_model::{DnsNameChange, HostnameType};
        let mut m = Model::new(8);
        let mut ports = PortMap::new();
        let (_, subnet) = vpc(&mut m, "10.1.0.0/16");
        let (plain, named) = (run(&mut m, &mut ports, &subnet), run(&mut m, &mut ports, &subnet));
        let id = |m: &Model, port| {
            m.instances().find(|i| ports.get(&i.id) == Some(port)).unwrap().id.clone()
        };
        let (plain_id, named_id) = (id(&m, plain), id(&m, named));
        let change = DnsNameChange {
            hostname_type: Some(HostnameType::ResourceName),
            a_record: Some(true),
            ..Default::default()
        };
        m.modify_private_dns_name_options(&named_id, &change).unwrap();
        let mut compiler = Compiler::default();
        let data = compiler.compile(&m, &ports);
        let vpc = data.instance(named).unwrap().vpc;
        let ip = m.instance(&named_id).unwrap().private_ip.unwrap();
        let records = &data.resource_names[&(vpc, named_id.to_string())];
        assert_eq!((records.a, records.aaaa.is_empty()), (Some(ip), true));
        assert!(!data.resource_names.contains_key(&(vpc, plain_id.to_string())));
        // Its metadata names it by its resource name; the other by its address.
        let (meta, _, _) = answers(&data, named);
        assert_eq!(meta["local-hostname"], format!("{named_id}.ec2.internal"));
        assert!(answers(&data, plain).0["hostname"].starts_with("ip-10-1-"));
        // Switched off again, change after change: gone, as from scratch.
        let off = DnsNameChange { a_record: Some(false), ..Default::default() };
        m.modify_private_dns_name_options(&named_id, &off).unwrap();
        let data = compiler.compile(&m, &ports);
        assert!(data.resource_names.is_empty());
        assert_eq!(answers(&data, named), answers(&compile(&m, &ports), named));
    }

    #[test]
    fn a_dual_stack_instance_finds_its_ipv6_addresses_and_blocks_in_its_metadata() {
        let mut m = Model::new(8);
        let mut ports = PortMap::new();
        let (vpc, subnet) = vpc(&mut m, "10.1.0.0/16");
        let plain = run(&mut m, &mut ports, &subnet);
        let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
        let six = ipnet::Ipv6Net::new(block.network(), 64).unwrap();
        m.associate_subnet_ipv6(&subnet, six).unwrap();
        let spec = RunInstance {
            subnet: Some(subnet.clone()),
            ipv6: vpclab_model::Ipv6Request::Count(2),
            ..Default::default()
        };
        let id = m.run_instance(spec).unwrap();
        let port = ports.assign(&id);
        let addresses = m.instance(&id).unwrap().ipv6_addresses.clone();
        let data = compile(&m, &ports);
        let (meta, _, _) = answers(&data, port);
        assert_eq!(meta["ipv6"], addresses[0].to_string());
        let nic = meta.keys().find(|k| k.ends_with("/ipv6s")).expect("ipv6s").clone();
        let listed: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(meta[&nic], listed.join("\n"));
        assert!(meta.values().any(|v| *v == six.to_string()), "the subnet's block");
        assert!(meta.values().any(|v| *v == block.to_string()), "the VPC's block");
        // An instance without IPv6 addresses has no `ipv6` entry (its subnet's and VPC's
        // blocks it does list).
        let (plain_meta, _, _) = answers(&compile(&m, &ports), plain);
        assert!(!plain_meta.contains_key("ipv6"));
    }

    #[test]
    fn change_after_change_gives_what_a_compile_from_scratch_gives_and_shares_the_rest() {
        let mut m = Model::new(5);
        let mut ports = PortMap::new();
        let (vpc_a, subnet_a) = vpc(&mut m, "10.1.0.0/16");
        let (_, subnet_b) = vpc(&mut m, "10.2.0.0/16");
        let a = run(&mut m, &mut ports, &subnet_a);
        let b = run(&mut m, &mut ports, &subnet_b);
        let mut compiler = Compiler::default();
        let first = compiler.compile(&m, &ports);
        let same = |data: &ServiceData, fresh: &ServiceData| {
            for port in [a, b] {
                assert_eq!(answers(data, port), answers(fresh, port), "port {port}");
            }
        };
        same(&first, &compile(&m, &ports));

        // Nothing an instance's answers are made of: both are shared, not rebuilt.
        let (_, subnet_c) = vpc(&mut m, "10.3.0.0/16");
        let c = run(&mut m, &mut ports, &subnet_c);
        let second = compiler.compile(&m, &ports);
        for port in [a, b] {
            assert!(Arc::ptr_eq(first.instance(port).unwrap(), second.instance(port).unwrap()));
        }
        assert!(second.instance(c).is_some());
        same(&second, &compile(&m, &ports));

        // Its VPC's DNS hostnames: `a`'s public hostname entries may change; `b` is kept.
        m.set_vpc_dns(&vpc_a, None, Some(true)).unwrap();
        let a_id = m.instances().find(|i| ports.get(&i.id) == Some(a)).unwrap().id.clone();
        m.create_tags(&[a_id.to_string()], &Tags::from([("Name".into(), "web".into())])).unwrap();
        let third = compiler.compile(&m, &ports);
        assert!(!Arc::ptr_eq(second.instance(a).unwrap(), third.instance(a).unwrap()));
        assert!(Arc::ptr_eq(second.instance(b).unwrap(), third.instance(b).unwrap()));
        same(&third, &compile(&m, &ports));
        // A VPC keeps its index while others come and go.
        assert_eq!(second.instance(b).unwrap().vpc, third.instance(b).unwrap().vpc);

        // Terminated: gone from the answers and from what the compiler keeps.
        m.terminate_instance(&a_id, 0).unwrap();
        let fourth = compiler.compile(&m, &ports);
        assert!(fourth.instance(a).is_none());
        assert!(!compiler.instances.contains_key(&a_id));
        assert!(Arc::ptr_eq(third.instance(b).unwrap(), fourth.instance(b).unwrap()));
    }

    #[test]
    fn a_copy_is_out_of_date_once_its_value_changes_or_goes_and_a_new_one_keeps_its_index() {
        let mut copies: Copies<u8, String> = Copies::default();
        copies.see(1, 7, |_| unreachable!(), || "a".into(), || 3);
        let first = Arc::clone(copies.get(&7).unwrap());
        assert_eq!((first.value.as_str(), first.index, first.is_current()), ("a", 3, true));
        // The same value: the same copy, still current.
        copies.see(2, 7, |v| v == "a", || unreachable!(), || unreachable!());
        copies.forget_unseen(2);
        assert!(Arc::ptr_eq(&first, copies.get(&7).unwrap()) && first.is_current());
        // Changed: the old copy is out of date for good; the new one has its index.
        copies.see(3, 7, |v| v == "b", || "b".into(), || unreachable!());
        let second = Arc::clone(copies.get(&7).unwrap());
        assert!(!first.is_current());
        assert_eq!((second.value.as_str(), second.index, second.is_current()), ("b", 3, true));
        // Not seen in a compile: gone, and out of date.
        copies.forget_unseen(4);
        assert!(copies.get(&7).is_none() && !second.is_current());
    }

    #[test]
    fn a_changed_subnet_rebuilds_the_answers_of_its_instances_only() {
        let mut m = Model::new(6);
        let mut ports = PortMap::new();
        let (_, subnet_a) = vpc(&mut m, "10.1.0.0/16");
        let (_, subnet_b) = vpc(&mut m, "10.2.0.0/16");
        let (a, b) = (run(&mut m, &mut ports, &subnet_a), run(&mut m, &mut ports, &subnet_b));
        let mut compiler = Compiler::default();
        let first = compiler.compile(&m, &ports);
        m.set_map_public_ip_on_launch(&subnet_a, true).unwrap();
        let second = compiler.compile(&m, &ports);
        assert!(!Arc::ptr_eq(first.instance(a).unwrap(), second.instance(a).unwrap()));
        assert!(Arc::ptr_eq(first.instance(b).unwrap(), second.instance(b).unwrap()));
        let fresh = compile(&m, &ports);
        for port in [a, b] {
            assert_eq!(answers(&second, port), answers(&fresh, port), "port {port}");
        }
        // Nothing changed since: every answer kept.
        let third = compiler.compile(&m, &ports);
        for port in [a, b] {
            assert!(Arc::ptr_eq(second.instance(port).unwrap(), third.instance(port).unwrap()));
        }
    }

    /// The service thread without root: a DNS query over UDP from an instance, its
    /// device an in-memory one, answered through the instance's smoltcp endpoint.
    #[test]
    fn the_service_thread_answers_a_query_on_the_instances_device() {
        use simple_dns::{CLASS, Name, Packet, Question, TYPE, rdata::RData};

        use crate::engine::Loopback;

        let mut m = Model::new(8);
        let mut ports = PortMap::new();
        let (_, subnet) = vpc(&mut m, "10.1.0.0/16");
        let port = run(&mut m, &mut ports, &subnet);
        let instance = m.instances().find(|i| ports.get(&i.id) == Some(port)).unwrap();
        let me = instance.private_ip.unwrap();
        let name = format!("ip-{}.ec2.internal", me.to_string().replace('.', "-"));
        let mut query = Packet::new_query(0x5151);
        let qname = Name::new_unchecked(&name);
        query.questions.push(Question::new(qname, TYPE::A.into(), CLASS::IN.into(), false));
        let dns = query.build_bytes_vec().unwrap();
        // UDP 5353 -> 53, its checksum over the pseudo-header, in IPv4 to the resolver.
        let resolver = Ipv4Addr::new(10, 1, 0, 2);
        let mut udp = [&5353u16.to_be_bytes()[..], &53u16.to_be_bytes(), &[0; 4], &dns].concat();
        let udp_len = (udp.len() as u16).to_be_bytes();
        udp[4..6].copy_from_slice(&udp_len);
        let pseudo = [&me.octets()[..], &resolver.octets(), &[0, 17], &udp_len, &udp].concat();
        let sum = crate::wire::checksum(&pseudo);
        udp[6..8].copy_from_slice(&sum.to_be_bytes());
        let packet = crate::wire::ipv4_packet(me, resolver, 64, 17, &udp);
        let mut bytes = [0u8; SERVICE_MTU];
        bytes[..packet.len()].copy_from_slice(&packet);

        let device = Arc::new(Loopback::default());
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        tx.send(ServiceMsg::Attach(port, Arc::clone(&device))).unwrap();
        tx.send(ServiceMsg::Packet { port, len: packet.len() as u16, bytes }).unwrap();
        // Served in one round; then the queue is gone and the thread returns.
        drop(tx);
        super::run(&rx, &ArcSwap::from_pointee(compile(&m, &ports)));

        let written = device.take();
        assert_eq!(written.len(), 1, "one answer");
        let (header, ip) = written[0].split_at(H);
        assert_eq!(header, &[0; H][..], "smoltcp finished every checksum");
        assert_eq!((&ip[12..16], &ip[16..20]), (&resolver.octets()[..], &me.octets()[..]));
        assert_eq!((ip[9], &ip[20..24]), (17, &[0, 53, 0x14, 0xe9][..]), "UDP 53 -> 5353");
        let answer = Packet::parse(&ip[28..]).unwrap();
        assert_eq!(answer.id(), 0x5151);
        let addresses: Vec<_> = answer
            .answers
            .iter()
            .filter_map(|r| match &r.rdata {
                RData::A(a) => Some(Ipv4Addr::from(a.address)),
                _ => None,
            })
            .collect();
        assert_eq!(addresses, vec![me], "its own name, its own address");
    }
}
