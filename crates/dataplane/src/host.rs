//! Making the model real on this host: a namespace and a TUN `eth0` per instance (and
//! `eth1`, … for the interfaces attached to it), the emulated internet's namespace, and
//! the forwarder that joins them.
//!
//! Everything created here is named `i-…` (an instance's namespace, named after its
//! id) or `vpclab-…`; nothing is created in, or changed in, the root namespace. Devices
//! are persistent: when the forwarder stops, the namespaces, their devices and the
//! processes in them stay, and the next [`Host::start`] re-attaches by name.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use vpclab_model::{
    Instance, InstanceId, Model, NetworkInterface, NetworkInterfaceId, OnpremSite, Part, SubnetId,
};
use vpclab_sys::netns::{self, NetnsError};
use vpclab_sys::rtnl::{LinkChange, Rtnl};
use vpclab_sys::tun::Tun;

use crate::counters::CounterSnapshot;
use crate::snapshot::{EDGE_MTU, INTERNET, PortMap, VPC_MTU};
use crate::worker::Forwarder;

/// The emulated internet's namespace, unless `VPCLAB_INTERNET_NETNS` names another.
pub const INTERNET_NETNS: &str = "vpclab-internet";

/// The emulated internet's namespace: [`INTERNET_NETNS`], or the name
/// `VPCLAB_INTERNET_NETNS` gives (tests use their own, so they never touch a user's lab).
/// A name that does not start with `vpclab-` is not taken: vpclab names nothing else.
pub fn internet_netns() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("VPCLAB_INTERNET_NETNS")
            .ok()
            .filter(|n| n.starts_with("vpclab-") && n.len() <= 64 && !n.contains('/'))
            .unwrap_or_else(|| INTERNET_NETNS.to_owned())
    })
}
/// The prefix of every other namespace the lab makes besides instances' (on-premises
/// sites, VPN connections): the internet namespace's name without its last word —
/// `vpclab-` for a user's lab, `vpclab-test-<pid>-` when a test process's internet is
/// `vpclab-test-<pid>-internet` — so that a test's namespaces never meet a user's, nor
/// another test process's.
pub fn lab_prefix() -> &'static str {
    prefix_of(internet_netns())
}

/// The prefix of the lab's other namespaces when its internet is the namespace
/// `internet` (see [`lab_prefix`]).
pub fn prefix_of(internet: &str) -> &str {
    internet.strip_suffix("internet").filter(|p| p.ends_with('-')).unwrap_or("vpclab-")
}

/// The device name inside every namespace.
pub const DEVICE: &str = "eth0";
/// Addresses the emulated internet holds, with their prefix: the check-ip host network.
pub const INTERNET_HOSTS: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 1), 24);
/// The check-ip server's address.
pub const CHECK_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The IPv6 addresses the emulated internet holds, with their prefix: the IPv6
/// internet hosts' network, inside the Amazon pool's /32 (the longer prefix keeps it
/// on the internet's side).
pub const INTERNET_HOSTS6: Ipv6Net = Ipv6Net::new_assert(CHECK_IP6, 48);
/// The check-ip server's IPv6 address.
pub const CHECK_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
/// The AWS services' hosts in the emulated internet: the prefix lists' range.
pub const SERVICE_HOSTS: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 1), 24);
/// The emulated S3 endpoint (in `com.amazonaws.us-east-1.s3`, 192.0.2.0/25).
pub const S3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// Errors while realising the model.
#[derive(Debug)]
pub enum HostError {
    /// A namespace or device operation failed.
    Netns(NetnsError),
    /// The forwarder thread failed.
    Forwarder(std::io::Error),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Netns(e) => e.fmt(f),
            HostError::Forwarder(e) => write!(f, "forwarder: {e}"),
        }
    }
}

impl std::error::Error for HostError {}

impl From<NetnsError> for HostError {
    fn from(e: NetnsError) -> Self {
        HostError::Netns(e)
    }
}

/// An instance as realised.
#[derive(Debug)]
struct RealisedInstance {
    /// Its private IPv4 address (none in an IPv6-only subnet): a new one makes the instance anew.
    ip: Option<Ipv4Addr>,
    /// Its resolver configuration (from its VPC's DHCP options), rewritten when that
    /// changes.
    resolv: String,
    /// The IPv6 addresses (with the subnet's prefix) its `eth0` holds, changed in place
    /// as they are assigned and unassigned.
    ipv6: Vec<Ipv6Net>,
}

/// An attached interface as realised.
#[derive(Debug)]
struct RealisedInterface {
    /// Its instance, device and private address (see [`realisation`]): a change makes
    /// the device anew.
    at: (InstanceId, String, Option<Ipv4Addr>),
    /// The IPv6 addresses its device holds, changed in place.
    ipv6: Vec<Ipv6Net>,
}

/// The live network: the forwarder plus which instance has which port.
#[derive(Debug)]
pub struct Host {
    forwarder: Forwarder,
    ports: PortMap,
    /// What each realised instance was configured with, to notice changes.
    realised: BTreeMap<InstanceId, RealisedInstance>,
    /// The attached interfaces realised as devices: where (instance, device) and with
    /// which addresses, to notice a detach or a change.
    realised_interfaces: BTreeMap<NetworkInterfaceId, RealisedInterface>,
    generation: u64,
    /// What the VPC's own services answer, compiled change after change.
    services: crate::services::Compiler,
    /// The snapshot, compiled change after change.
    snapshots: crate::snapshot::Compiler,
    /// The internet's namespace.
    internet: String,
    /// The state directory the namespaces are marked with (see [`Host::mark_owner`]).
    owner: Option<std::path::PathBuf>,
    /// The VPN daemons: AWS's side of each connection, sites' customer gateways.
    vpn: std::sync::Arc<std::sync::Mutex<crate::tunnels::Daemons>>,
    /// The on-premises sites realised, as they were then (a site deleted and created
    /// again under its name between two syncs is made again).
    realised_sites: BTreeMap<String, OnpremSite>,
    /// The model of the last sync that realised all of it (none failed), to find what
    /// changed since by pointer ([`Host::delta`]). A copy of the model costs pointers.
    synced: Option<Model>,
}

/// The instances a sync must look at ([`Host::delta`]).
struct Delta<'m> {
    /// New and changed, as the model has them now.
    changed: Vec<&'m Instance>,
    /// Gone from the model.
    gone: Vec<InstanceId>,
}

impl Host {
    /// Starts the forwarder with `workers` worker threads and attaches the emulated
    /// internet (creating its namespace and device if needed).
    pub fn start(workers: usize) -> Result<Self, HostError> {
        Self::start_with_internet(workers, internet_netns())
    }

    /// [`Host::start`] with the emulated internet in the namespace `internet` (a test's
    /// own, never a user's lab's).
    pub fn start_with_internet(workers: usize, internet: &str) -> Result<Self, HostError> {
        Self::start_with(crate::worker::Options::new(workers), internet)
    }

    /// Starts the forwarder as `options` say, with the emulated internet in the
    /// namespace `internet`.
    pub fn start_with(options: crate::worker::Options, internet: &str) -> Result<Self, HostError> {
        let workers = options.workers;
        let forwarder = Forwarder::start_with(options).map_err(HostError::Forwarder)?;
        let queues = setup_internet(internet, workers)?;
        forwarder.attach(INTERNET, queues).map_err(HostError::Forwarder)?;
        Ok(Self {
            forwarder,
            ports: PortMap::new(),
            realised: BTreeMap::new(),
            realised_interfaces: BTreeMap::new(),
            generation: 0,
            services: crate::services::Compiler::default(),
            snapshots: crate::snapshot::Compiler::default(),
            internet: internet.to_owned(),
            owner: None,
            vpn: Default::default(),
            realised_sites: BTreeMap::new(),
            synced: None,
        })
    }

    /// The packet I/O the forwarder's workers use.
    pub fn packet_io(&self) -> crate::worker::PacketIo {
        self.forwarder.io()
    }

    /// Marks every namespace this host has made, and will make, as belonging to the lab
    /// whose state directory is `owner` (see `vpclab_sys::netns::mark`): if that state is
    /// ever lost, `vpclab gc` finds them by it.
    pub fn mark_owner(&mut self, owner: &std::path::Path) -> Result<(), HostError> {
        netns::mark(&self.internet, owner)?;
        for id in self.realised.keys() {
            netns::mark(id.as_str(), owner)?;
        }
        for realised in self.daemons().fleet.values() {
            netns::mark(&realised.end.netns, owner)?;
        }
        for site in self.realised_sites.values() {
            for ns in crate::onprem::namespaces(site, &self.internet) {
                netns::mark(&ns, owner)?;
            }
        }
        self.owner = Some(owner.to_path_buf());
        Ok(())
    }

    /// Instances (gone, stopped or re-addressed) and attached interfaces (attachment or
    /// instance gone or changed) realised here that `model` no longer has as they are:
    /// among `delta`'s instances only, when there is one (see [`Host::delta`]).
    fn stale(
        &self,
        model: &Model,
        delta: Option<&Delta<'_>>,
    ) -> (Vec<InstanceId>, Vec<NetworkInterfaceId>) {
        let stale: Vec<InstanceId> = match delta {
            Some(delta) => delta
                .gone
                .iter()
                .filter(|id| self.realised.contains_key(*id))
                .cloned()
                .chain(delta.changed.iter().filter_map(|i| {
                    let realised = self.realised.get(&i.id)?;
                    gone(model, &i.id, realised.ip).then(|| i.id.clone())
                }))
                .collect(),
            None => self
                .realised
                .iter()
                .filter(|(id, realised)| gone(model, id, realised.ip))
                .map(|(id, _)| id.clone())
                .collect(),
        };
        // Few, and their realisation depends on their instance's state: all of them.
        let stale_interfaces: Vec<NetworkInterfaceId> = self
            .realised_interfaces
            .iter()
            .filter(|(id, realised)| {
                stale.contains(&realised.at.0)
                    || realisation(model, id).as_ref() != Some(&realised.at)
            })
            .map(|(id, _)| id.clone())
            .collect();
        (stale, stale_interfaces)
    }

    /// The instances a sync to `model` must look at, when not all of them: after a
    /// complete sync, and with the interfaces as they were then and every VPC, subnet
    /// and DHCP options set there then unchanged (new ones aside: see
    /// [`Model::modified_since`]), only the instances new, changed or gone since (found
    /// by pointer, see [`Model::instance_changes`]) can differ from what is realised.
    fn delta<'m>(&self, model: &'m Model) -> Option<Delta<'m>> {
        let old = self.synced.as_ref()?;
        // New VPCs, subnets and DHCP options sets touch no instance realised before (its
        // own are new too); a changed one may (its resolver, its IPv6 blocks).
        let parts = [Part::Vpcs, Part::Subnets, Part::DhcpOptions];
        if model.changed_since(old, Part::NetworkInterfaces)
            || parts.iter().any(|&part| model.modified_since(old, part))
        {
            return None;
        }
        let changes = model.instance_changes(old);
        Some(Delta { changed: changes.changed, gone: changes.gone.into_iter().cloned().collect() })
    }

    /// Whether [`Host::sync`] to `model` could remove something that syncing back
    /// would not restore as it was: an instance's namespace (and what runs in it), an
    /// interface's device, a VPN connection's daemons, a site. Conservative: any VPN
    /// connection or site counts. A caller that may still refuse the change (its commit
    /// failing) syncs only after the commit when this holds.
    pub fn removes(&self, model: &Model) -> bool {
        let vpn = self.vpn.lock().unwrap_or_else(|e| e.into_inner());
        let (stale, stale_interfaces) = self.stale(model, self.delta(model).as_ref());
        !stale.is_empty()
            || !stale_interfaces.is_empty()
            || !self.realised_sites.is_empty()
            || !vpn.fleet.is_empty()
            || !vpn.customers.is_empty()
            || model.onprem_sites().next().is_some()
            || model.vpn_connections().next().is_some()
    }

    /// Brings the host in line with `model`: namespaces and devices for new instances,
    /// none for terminated ones, and a freshly compiled snapshot. Carries on past what
    /// fails (one broken instance does not keep the rest of the change from the data
    /// plane) and returns the first failure. After a sync with no failure, the next
    /// looks only at the instances changed since, unless their VPCs, subnets, DHCP
    /// options or interfaces changed too ([`Host::delta`]).
    pub fn sync(&mut self, model: &Model) -> Result<(), HostError> {
        let mut first_error = None;
        let delta = self.delta(model);
        // Only a sync that returns with nothing failed is one to look at less after.
        self.synced = None;
        // Gone (or re-addressed) instances first: publish a snapshot without them, then
        // take their devices back and remove their namespaces.
        let (stale, stale_interfaces) = self.stale(model, delta.as_ref());
        if !stale.is_empty() || !stale_interfaces.is_empty() {
            let ports: Vec<_> = stale.iter().map(|id| self.ports.release(id)).collect();
            let interface_ports: Vec<_> =
                stale_interfaces.iter().map(|id| self.ports.release_interface(id)).collect();
            self.publish(model);
            for (id, port) in stale_interfaces.iter().zip(interface_ports) {
                self.realised_interfaces.remove(id);
                let Some(port) = port else { continue };
                match self.forwarder.detach(port) {
                    Ok(queues) => {
                        if let Some(queue) = queues.first() {
                            // The device goes with its last queue, at the end of this block.
                            let _ = queue.set_persist(false);
                        }
                    }
                    Err(e) => {
                        first_error.get_or_insert(HostError::Forwarder(e));
                    }
                }
            }
            for (id, port) in stale.iter().zip(ports) {
                self.realised.remove(id);
                if let Some(port) = port {
                    // The queues close here; the device, still persistent, goes with its
                    // namespace below, which the kernel destroys in batches (one device
                    // at a time, each unregistered on its own, is far slower).
                    if let Err(e) = self.forwarder.detach(port) {
                        first_error.get_or_insert(HostError::Forwarder(e));
                    }
                }
            }
            // All the names at once: one pass over the processes for all of them.
            let names: Vec<&str> = stale.iter().map(InstanceId::as_str).collect();
            if let Err(e) = netns::delete_all(&names) {
                first_error.get_or_insert(e.into());
            }
        }
        // Resolver configurations are per VPC (and IPv4 or not): made once for each.
        let mut resolvs: BTreeMap<(&vpclab_model::VpcId, bool), String> = BTreeMap::new();
        let running: Vec<&Instance> = match &delta {
            Some(delta) => delta.changed.iter().copied().filter(|i| !i.stopped).collect(),
            None => model.running_instances().collect(),
        };
        // What an instance's resolver configuration depends on.
        fn key(i: &Instance) -> (&vpclab_model::VpcId, bool) {
            (&i.vpc, i.private_ip.is_none())
        }
        for &instance in &running {
            let (vpc, ipv6_only) = key(instance);
            resolvs.entry((vpc, ipv6_only)).or_insert_with(|| model.resolv_conf_in(vpc, ipv6_only));
        }
        let mut new = Vec::new();
        for &instance in &running {
            let resolv = &resolvs[&key(instance)];
            let Some(realised) = self.realised.get_mut(&instance.id) else {
                new.push((instance, resolv.as_str()));
                continue;
            };
            // Its VPC's DHCP options changed: the next lease would tell it.
            if &realised.resolv != resolv {
                netns::write_etc(instance.id.as_str(), "resolv.conf", resolv)?;
                realised.resolv.clone_from(resolv);
            }
            // IPv6 addresses assigned or unassigned since.
            let ipv6 = ipv6_of(model, &instance.subnet, &instance.ipv6_addresses);
            if realised.ipv6 != ipv6 {
                match update_ipv6(instance.id.as_str(), DEVICE, &realised.ipv6, &ipv6, true) {
                    Ok(()) => realised.ipv6 = ipv6,
                    Err(e) => {
                        first_error.get_or_insert(e.into());
                    }
                }
            }
        }
        // New instances are set up side by side (most of it is waiting on the kernel and
        // on `ip`), then attached in order; one that fails does not stop the others.
        let made = setup_instances(model, &new, self.forwarder.workers(), self.owner.as_deref());
        for ((instance, resolv), made) in new.into_iter().zip(made) {
            let queues = match made {
                Ok(queues) => queues,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let port = self.ports.assign(&instance.id);
            match self.forwarder.attach(port, queues) {
                Ok(()) => {
                    let realised = RealisedInstance {
                        ip: instance.private_ip,
                        resolv: resolv.to_owned(),
                        ipv6: ipv6_of(model, &instance.subnet, &instance.ipv6_addresses),
                    };
                    self.realised.insert(instance.id.clone(), realised);
                }
                Err(e) => {
                    self.ports.release(&instance.id);
                    first_error.get_or_insert(HostError::Forwarder(e));
                }
            }
        }
        let attached = model.attached_interfaces_by_instance();
        for instance in &running {
            for eni in attached.get(&instance.id).into_iter().flatten().copied() {
                let ipv6 = ipv6_of(model, &eni.subnet, &eni.ipv6_addresses);
                if let Some(realised) = self.realised_interfaces.get_mut(&eni.id) {
                    if realised.ipv6 != ipv6 {
                        let (ns, device) = (realised.at.0.as_str(), &realised.at.1);
                        match update_ipv6(ns, device, &realised.ipv6, &ipv6, false) {
                            Ok(()) => realised.ipv6 = ipv6,
                            Err(e) => {
                                first_error.get_or_insert(e.into());
                            }
                        }
                    }
                    continue;
                }
                let Some(at) = realisation(model, &eni.id) else { continue };
                let queues = match setup_interface(model, eni, &at.1, self.forwarder.workers()) {
                    Ok(queues) => queues,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        continue;
                    }
                };
                let port = self.ports.assign_interface(&eni.id);
                match self.forwarder.attach(port, queues) {
                    Ok(()) => {
                        self.realised_interfaces
                            .insert(eni.id.clone(), RealisedInterface { at, ipv6 });
                    }
                    Err(e) => {
                        self.ports.release_interface(&eni.id);
                        first_error.get_or_insert(HostError::Forwarder(e));
                    }
                }
            }
        }
        if let Err(e) = self.sync_tunnels(model) {
            first_error.get_or_insert(e);
        }
        self.publish(model);
        if let Err(e) = self.sync_sites(model) {
            first_error.get_or_insert(e);
        }
        self.sync_customers(model);
        match first_error {
            Some(e) => Err(e),
            None => {
                self.synced = Some(model.clone());
                Ok(())
            }
        }
    }

    /// Sites' routers as customer gateways, in line with `model`: a router runs the
    /// customer's end of every connection to its public address (see
    /// [`crate::tunnels::customer_end`]), restarted when that changes.
    fn sync_customers(&mut self, model: &Model) {
        let desired: BTreeMap<String, vpclab_vpn::End> = model
            .onprem_sites()
            .filter_map(|site| {
                Some((
                    site.name.clone(),
                    crate::tunnels::customer_end(model, site, &self.internet)?,
                ))
            })
            .collect();
        let vpn = std::sync::Arc::clone(&self.vpn);
        let mut daemons = vpn.lock().unwrap_or_else(|e| e.into_inner());
        let customers = &mut daemons.customers;
        // What crosses the tunnels changes in place; different tunnels restart them.
        customers.retain(|site, (end, running)| match desired.get(site) {
            Some(new) if new == end => true,
            Some(new) if end.same_tunnels(new) => {
                let rerouted = running.as_mut().is_ok_and(|r| r.reroute(new.clone()).is_ok());
                if rerouted {
                    *end = new.clone();
                }
                rerouted
            }
            _ => false,
        });
        for (site, end) in desired {
            if customers.contains_key(&site) {
                continue;
            }
            let running = crate::tunnels::start(&end);
            if let Err(e) = &running {
                eprintln!("vpclab serve: site {site}: customer gateway not started: {e}");
            }
            customers.insert(site, (end, running));
        }
    }

    /// On-premises sites: plain namespaces beside the forwarder (see [`crate::onprem`]),
    /// so they follow the model after the snapshot is published.
    fn sync_sites(&mut self, model: &Model) -> Result<(), HostError> {
        let stale: Vec<String> = self
            .realised_sites
            .iter()
            .filter(|(name, site)| model.onprem_site(name).ok() != Some(*site))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            // Its router's daemons go with its namespace.
            self.daemons().customers.remove(&name);
            if let Some(site) = self.realised_sites.remove(&name) {
                crate::onprem::remove(&site, &self.internet)?;
            }
        }
        for site in model.onprem_sites() {
            if self.realised_sites.contains_key(&site.name) {
                continue;
            }
            crate::onprem::setup(site, &self.internet, self.owner.as_deref())?;
            self.realised_sites.insert(site.name.clone(), site.clone());
        }
        Ok(())
    }

    /// The VPN connections' AWS sides in line with `model`: gone or changed ones stopped
    /// and removed (after a snapshot without them), new ones set up and started. A
    /// connection whose daemons cannot start still gets its namespace and port; it
    /// reports its tunnels down, and why (see [`Host::tunnel_errors`]).
    fn sync_tunnels(&mut self, model: &Model) -> Result<(), HostError> {
        let desired: BTreeMap<vpclab_model::VpnConnectionId, (vpclab_vpn::End, Vec<Ipv4Net>)> =
            model
                .vpn_connections()
                .filter_map(|c| {
                    Some((c.id.clone(), crate::tunnels::aws_end(model, c, &self.internet)?))
                })
                .collect();
        let vpn = std::sync::Arc::clone(&self.vpn);
        let mut daemons = vpn.lock().unwrap_or_else(|e| e.into_inner());
        // What crosses a connection's tunnels (static routes, the prefixes it advertises
        // and routes to the forwarder) changes in place; anything else restarts it.
        let mut stale = Vec::new();
        for (id, realised) in daemons.fleet.iter_mut() {
            let Some((end, cidrs)) = desired.get(id) else {
                stale.push(id.clone());
                continue;
            };
            if (end, cidrs) == (&realised.end, &realised.cidrs) {
                continue;
            }
            let rerouted = end.same_tunnels(&realised.end)
                && crate::tunnels::reroute(&end.netns, &realised.cidrs, cidrs).is_ok()
                && match &mut realised.running {
                    Ok(running) => running.reroute(end.clone()).is_ok(),
                    Err(_) => true,
                };
            if rerouted {
                realised.end = end.clone();
                realised.cidrs = cidrs.clone();
            } else {
                stale.push(id.clone());
            }
        }
        if !stale.is_empty() {
            let ports: Vec<_> = stale.iter().map(|id| self.ports.release_vpn(id)).collect();
            self.publish(model);
            for (id, port) in stale.iter().zip(ports) {
                let Some(mut realised) = daemons.fleet.remove(id) else { continue };
                if let Ok(running) = &mut realised.running {
                    running.stop();
                }
                if let Some(port) = port {
                    let queues = self.forwarder.detach(port).map_err(HostError::Forwarder)?;
                    if let Some(queue) = queues.first() {
                        let _ = queue.set_persist(false);
                    }
                }
                crate::tunnels::unroute(&realised.end, &self.internet);
                netns::delete(&realised.end.netns)?;
                let _ = std::fs::remove_dir_all(crate::tunnels::dir_of(&realised.end.netns));
            }
        }
        for (id, (end, cidrs)) in desired {
            if daemons.fleet.contains_key(&id) {
                continue;
            }
            // Marked first, so that `vpclab gc` finds it whatever happens next.
            if let Some(owner) = &self.owner {
                netns::create(&end.netns)?;
                netns::mark(&end.netns, owner)?;
            }
            // A connection that cannot be set up is reported down, with why; the rest of
            // the lab carries on (its snapshot is still published).
            let queues =
                match crate::tunnels::setup(&end, &cidrs, &self.internet, self.forwarder.workers())
                {
                    Ok(queues) => Some(queues),
                    Err(e) => {
                        eprintln!("vpclab serve: {id}: {e}");
                        let running = Err(format!("its namespace could not be set up: {e}"));
                        daemons.fleet.insert(id, crate::tunnels::Realised { end, cidrs, running });
                        continue;
                    }
                };
            if let Some(queues) = queues {
                let port = self.ports.assign_vpn(&id);
                self.forwarder.attach(port, queues).map_err(HostError::Forwarder)?;
            }
            let running = crate::tunnels::start(&end);
            if let Err(e) = &running {
                eprintln!("vpclab serve: {id}: tunnels not started: {e}");
            }
            daemons.fleet.insert(id, crate::tunnels::Realised { end, cidrs, running });
        }
        Ok(())
    }

    /// The VPN daemons, shared: `vpclab serve` polls them on a thread of its own, without
    /// holding up the API (see [`crate::tunnels::Daemons::poll`]).
    pub fn tunnel_daemons(&self) -> std::sync::Arc<std::sync::Mutex<crate::tunnels::Daemons>> {
        std::sync::Arc::clone(&self.vpn)
    }

    fn daemons(&self) -> std::sync::MutexGuard<'_, crate::tunnels::Daemons> {
        self.vpn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connections whose daemons could not start, and why.
    pub fn tunnel_errors(&self) -> Vec<(vpclab_model::VpnConnectionId, String)> {
        let daemons = self.daemons();
        daemons
            .fleet
            .iter()
            .filter_map(|(id, r)| Some((id.clone(), r.running.as_ref().err()?.clone())))
            .collect()
    }

    fn publish(&mut self, model: &Model) {
        self.generation += 1;
        self.ports.prepare(model);
        // The snapshot and the services' data are compiled side by side: both only read
        // the model and the ports, and with thousands of instances each takes tens of
        // milliseconds.
        let (ports, services, generation) = (&self.ports, &mut self.services, self.generation);
        let snapshots = &mut self.snapshots;
        let (snapshot, data) = std::thread::scope(|scope| {
            let data = std::thread::Builder::new()
                .name("vpclab-services".into())
                .spawn_scoped(scope, || services.compile(model, ports))
                .ok();
            let snapshot = snapshots.compile_prepared(model, ports, generation);
            (
                snapshot,
                data.map(|d| d.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))),
            )
        });
        // No thread to be had: the services' data after the snapshot, on this one.
        let data = data.unwrap_or_else(|| self.services.compile(model, &self.ports));
        self.forwarder.publish(snapshot);
        self.forwarder.publish_services(data);
    }

    /// Flow records as the forwarder writes them out (see [`Forwarder::flow_records`]).
    pub fn flow_records(&self) -> std::sync::mpsc::Receiver<Vec<crate::flowlog::FlowRecord>> {
        self.forwarder.flow_records()
    }

    /// The flow records counted so far.
    pub fn flush_flows(&self) -> Result<Vec<crate::flowlog::FlowRecord>, HostError> {
        self.forwarder.flush_flows().map_err(HostError::Forwarder)
    }

    /// The instance whose device is at `port`.
    pub fn instance_at(&self, port: crate::Port) -> Option<&vpclab_model::InstanceId> {
        self.ports.iter().find(|(_, p)| *p == port).map(|(id, _)| id)
    }

    /// A packet-capture handle on the forwarder.
    pub fn capture(&self) -> crate::worker::Capture {
        self.forwarder.capture()
    }

    /// The forwarder port of `instance`'s device, if it is attached.
    pub fn port_of(&self, instance: &vpclab_model::InstanceId) -> Option<crate::Port> {
        self.ports.get(instance)
    }

    /// Packet and drop counters.
    pub fn counters(&self) -> CounterSnapshot {
        self.forwarder.counters()
    }

    /// `instance`'s own packets (its primary interface's), if it is attached.
    pub fn instance_counters(
        &self,
        instance: &vpclab_model::InstanceId,
    ) -> Option<crate::PortCounters> {
        self.port_of(instance).map(|port| self.forwarder.port_counters(port))
    }

    /// NAT gateway `id`'s packets (translated, dropped), if it carries traffic.
    pub fn nat_gateway_counters(
        &self,
        id: &vpclab_model::NatGatewayId,
    ) -> Option<crate::GatewayCounters> {
        self.ports.nat_slot_of(id).map(|slot| self.forwarder.nat_gateway_counters(slot))
    }

    /// The packets of the transit gateway that is `index`th in the model's order
    /// (routed on, dropped).
    pub fn transit_gateway_counters(&self, index: u32) -> crate::GatewayCounters {
        self.forwarder.transit_gateway_counters(index)
    }

    /// The internet edge's packets: what came in from the emulated internet, what went
    /// out to it.
    pub fn edge_counters(&self) -> crate::PortCounters {
        self.forwarder.port_counters(crate::INTERNET)
    }

    /// The forwarder's worker threads.
    pub fn workers(&self) -> usize {
        self.forwarder.workers()
    }

    /// The generation of the published snapshot.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Stops the forwarder and the VPN daemons (the tunnels go down; the next start brings
    /// them up again). Namespaces, devices and the processes users started in them stay.
    pub fn stop(self) -> Result<(), HostError> {
        // The VPN daemons stop with the forwarder (a poller may still hold the shared
        // list; emptying it stops them).
        {
            let mut daemons = self.daemons();
            daemons.fleet.clear();
            daemons.customers.clear();
        }
        self.forwarder.stop().map_err(HostError::Forwarder)
    }
}

/// Turns IPv6 off inside a namespace: no link-local addresses or router solicitations
/// (on-premises sites and VPN connections are IPv4-only).
pub(crate) fn disable_ipv6(ns: &str) -> Result<(), NetnsError> {
    netns::sysctls(
        ns,
        &[("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv6.conf.default.disable_ipv6", "1")],
    )
}

/// How many instances [`setup_instances`] sets up at once.
const SETUP_THREADS: usize = 8;

/// [`setup_instance`] of each of `new` (instance, resolver configuration), up to
/// [`SETUP_THREADS`] at a time; the results in `new`'s order.
fn setup_instances(
    model: &Model,
    new: &[(&Instance, &str)],
    queues: usize,
    owner: Option<&std::path::Path>,
) -> Vec<Result<Vec<Tun>, HostError>> {
    if let [(instance, resolv)] = new {
        return vec![setup_instance(model, instance, queues, resolv, owner)];
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Made = Result<Vec<Tun>, HostError>;
    let results: Vec<std::sync::Mutex<Option<Made>>> =
        new.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((instance, resolv)) = new.get(i) else { break };
            let made = setup_instance(model, instance, queues, resolv, owner);
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(made);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..SETUP_THREADS.min(new.len()) {
            // A thread that cannot be had leaves its share to the others.
            let _ =
                std::thread::Builder::new().name("vpclab-setup".into()).spawn_scoped(scope, work);
        }
    });
    // No thread at all: what is left, on this one.
    work();
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(|| {
                Err(HostError::Forwarder(std::io::Error::other("an instance was not set up")))
            })
        })
        .collect()
}

/// The instance's namespace and `eth0`, configured as AWS does: the private address
/// with the subnet's prefix, default route via the subnet router, MTU 9001, and its
/// IPv6 addresses with the subnet's IPv6 prefix and, when it has any, the IPv6 default
/// route. Idempotent, so a restart re-attaches to what is there. With an `owner` (the
/// lab's state directory), the namespace is marked as the lab's before it is made, so
/// that `vpclab down` and `gc` find it whatever happens next.
fn setup_instance(
    model: &Model,
    instance: &Instance,
    queues: usize,
    resolv: &str,
    owner: Option<&std::path::Path>,
) -> Result<Vec<Tun>, HostError> {
    let ns = instance.id.as_str();
    let subnet = model.subnet(&instance.subnet).map_err(|e| {
        HostError::Netns(NetnsError::Command { command: "setup".into(), stderr: e.to_string() })
    })?;
    if let Some(owner) = owner {
        netns::mark(ns, owner)?;
    }
    netns::create(ns)?;
    let tun = Tun::open_queues_in(ns, DEVICE, queues)?;
    let ipv4 = address_in(subnet, instance.private_ip);
    let ipv6 = ipv6_of(model, &instance.subnet, &instance.ipv6_addresses);
    configure_device(ns, DEVICE, ipv4, subnet.router(), true, ipv6)?;
    // Commands run with `ip netns exec` (as `vpclab exec` does) resolve names as the
    // VPC's DHCP options say: by default through its Amazon DNS server, as on AWS.
    netns::write_etc(ns, "resolv.conf", resolv)?;
    Ok(tun)
}

/// Configures `device` in `ns` as AWS configures an instance's interface: its IPv4
/// address with the subnet's prefix (none in an IPv6-only subnet), its IPv6 addresses
/// `ipv6` (and no other global one), MTU 9001, up and, for the `primary` interface,
/// `lo` up, the default route via the subnet's IPv4 `router` (none in an IPv6-only
/// subnet) and, when it has an IPv6 address, the IPv6 default route. With route
/// netlink from a thread inside the namespace: no `ip` or `tc` process (see
/// [`vpclab_sys::rtnl`]). Idempotent: every step replaces what is there, and IPv6
/// addresses the device holds but should not (unassigned while no daemon ran to take
/// them away) go.
///
/// * The root qdisc is `noqueue`. A multiqueue TUN has 256 transmit queues whatever
///   the number opened, and bringing it up with the default `mq` root makes a
///   `pfifo_fast` for each: three 4 KiB rings apiece, about 3 MiB of kernel memory per
///   device (10,000 instances did not fit in 24 GiB). The TUN never pushes back (a full
///   queue drops in the driver), so those qdiscs never held a packet.
/// * The kernel makes no IPv6 address of its own for it (`addrgenmode none`): no
///   link-local address, so it sends no router solicitation or MLD report into it
///   (both go out only once a link-local address is ready). The global addresses and
///   routes need none: the TUN is layer 3, so the default route names the device, not
///   a router, and no neighbour is ever solicited. IPv6 stays on in the namespace.
///   Per device rather than by the namespace's sysctls: the kernel finds a namespace's
///   `/proc/sys` entries in one hash shared with every other namespace's same-named
///   entries, so each sysctl write costs time in proportion to the namespaces there
///   are.
/// * IPv6 addresses are `nodad`: usable at once (the kernel skips duplicate address
///   detection on a TUN anyway, as on every device without neighbour discovery).
/// * Order matters: MTU and address, up, then the routes (one via a down device is
///   refused). Taking the device down would drop its IPv6 addresses
///   (`keep_addr_on_down` is off); nothing here does.
fn configure_device(
    ns: &str,
    device: &str,
    address: Option<Ipv4Net>,
    router: Option<Ipv4Addr>,
    primary: bool,
    ipv6: Vec<Ipv6Net>,
) -> Result<(), NetnsError> {
    let device = device.to_owned();
    netns::run_in(ns, move || -> Result<(), NetnsError> {
        let step = |what: &'static str| move |e| NetnsError::Sys(what, e);
        let mut rtnl = Rtnl::open().map_err(step("open a route netlink socket"))?;
        let index = Rtnl::index(&device).map_err(step("find the device"))?;
        rtnl.replace_root_qdisc(index, "noqueue").map_err(step("set the device's qdisc"))?;
        let link = LinkChange { mtu: Some(VPC_MTU as u32), no_ipv6_addresses: true, up: None };
        rtnl.set_link(index, link).map_err(step("set the device's MTU"))?;
        if let Some(address) = address {
            rtnl.replace_address(index, address.addr(), address.prefix_len())
                .map_err(step("set the device's address"))?;
        }
        let up = LinkChange { up: Some(true), ..LinkChange::default() };
        rtnl.set_link(index, up).map_err(step("bring the device up"))?;
        if primary {
            let lo = Rtnl::index("lo").map_err(step("find lo"))?;
            rtnl.set_link(lo, up).map_err(step("bring lo up"))?;
            if let Some(router) = router {
                rtnl.replace_default_route(index, router).map_err(step("set the default route"))?;
            }
        }
        // A device of an IPv4-only instance whose IPv6 nobody asked for: a kernel without
        // IPv6 (`ipv6.disable=1`) refuses the listing, and there is nothing to undo.
        let held = match rtnl.addresses6(index) {
            Ok(held) => held,
            Err(_) if ipv6.is_empty() => return Ok(()),
            Err(e) => return Err(step("list the device's IPv6 addresses")(e)),
        };
        let held: Vec<Ipv6Net> =
            held.into_iter().filter_map(|(a, prefix)| Ipv6Net::new(a, prefix).ok()).collect();
        if held.is_empty() && ipv6.is_empty() {
            // Nothing held, nothing wanted: no IPv6 default route to remove either.
            return Ok(());
        }
        set_ipv6(&mut rtnl, index, &held, &ipv6, primary)
    })?
}

/// The IPv4 address `ip` of an interface in `subnet`, with the subnet's prefix (none
/// in an IPv6-only subnet).
fn address_in(subnet: &vpclab_model::Subnet, ip: Option<Ipv4Addr>) -> Option<Ipv4Net> {
    let (ip, block) = ip.zip(subnet.cidr)?;
    Ipv4Net::new(ip, block.prefix_len()).ok()
}

/// The IPv6 addresses of an interface in `subnet` holding `addresses`, with the subnet
/// block's prefix (usually /64), as the device should hold them. (A subnet holding
/// addresses always has its block: it cannot be disassociated while they are there;
/// without one an address would be a /128.)
fn ipv6_of(model: &Model, subnet: &SubnetId, addresses: &[Ipv6Addr]) -> Vec<Ipv6Net> {
    if addresses.is_empty() {
        return Vec::new();
    }
    let prefix =
        model.subnet(subnet).ok().and_then(|s| s.ipv6_cidr()).map_or(128, |b| b.prefix_len());
    addresses.iter().filter_map(|&a| Ipv6Net::new(a, prefix).ok()).collect()
}

/// Makes `device` in `ns`, which holds the IPv6 addresses `held`, hold `wanted`
/// instead (see [`set_ipv6`]).
fn update_ipv6(
    ns: &str,
    device: &str,
    held: &[Ipv6Net],
    wanted: &[Ipv6Net],
    primary: bool,
) -> Result<(), NetnsError> {
    let (device, held, wanted) = (device.to_owned(), held.to_vec(), wanted.to_vec());
    netns::run_in(ns, move || -> Result<(), NetnsError> {
        let step = |what: &'static str| move |e| NetnsError::Sys(what, e);
        let mut rtnl = Rtnl::open().map_err(step("open a route netlink socket"))?;
        let index = Rtnl::index(&device).map_err(step("find the device"))?;
        set_ipv6(&mut rtnl, index, &held, &wanted, primary)
    })?
}

/// Makes link `index`, which holds the global IPv6 addresses `held`, hold `wanted`:
/// the others removed first (a prefix change is a removal and an addition), then the
/// wanted ones replaced (`nodad`). The primary interface has the IPv6 default route
/// while it has an address, and none without, as an instance without IPv6 on AWS.
fn set_ipv6(
    rtnl: &mut Rtnl,
    index: u32,
    held: &[Ipv6Net],
    wanted: &[Ipv6Net],
    primary: bool,
) -> Result<(), NetnsError> {
    let step = |what: &'static str| move |e| NetnsError::Sys(what, e);
    for gone in held.iter().filter(|a| !wanted.contains(a)) {
        rtnl.remove_address6(index, gone.addr(), gone.prefix_len())
            .map_err(step("remove an IPv6 address"))?;
    }
    for address in wanted {
        // EACCES here: IPv6 is disabled in the namespace (a host whose new namespaces
        // inherit its `disable_ipv6`, `net.core.devconf_inherit_init_net`).
        rtnl.replace_address6(index, address.addr(), address.prefix_len())
            .map_err(step("set an IPv6 address"))?;
    }
    if primary {
        if wanted.is_empty() {
            rtnl.remove_default_route6(index).map_err(step("remove the IPv6 default route"))?;
        } else {
            rtnl.replace_default_route6(index).map_err(step("set the IPv6 default route"))?;
        }
    }
    Ok(())
}

/// Whether instance `id`, realised with address `ip`, is gone from `model` as it was:
/// terminated, stopped or re-addressed.
fn gone(model: &Model, id: &InstanceId, ip: Option<Ipv4Addr>) -> bool {
    model.instance(id).map_or(true, |i| i.stopped || i.private_ip != ip)
}

/// Where and how attached interface `eni` should be realised: its running instance, its
/// device there, its address. `None` when it is not attached to a running instance.
fn realisation(
    model: &Model,
    eni: &NetworkInterfaceId,
) -> Option<(InstanceId, String, Option<Ipv4Addr>)> {
    let interface = model.network_interface(eni).ok()?;
    let instance = model.interface_holder(eni)?;
    Some((instance.id.clone(), interface.device()?, interface.private_ip))
}

/// An attached interface's device in its instance's namespace (`eth1`, …): its address
/// with its subnet's prefix, its IPv6 addresses, MTU 9001, up; no default route of
/// either family (`eth0` keeps them, as an instance without policy routing does on
/// AWS). Idempotent, as [`setup_instance`].
fn setup_interface(
    model: &Model,
    eni: &NetworkInterface,
    device: &str,
    queues: usize,
) -> Result<Vec<Tun>, HostError> {
    let ns = model.interface_holder(&eni.id).map(|i| i.id.to_string()).unwrap_or_default();
    let subnet = model.subnet(&eni.subnet).map_err(|e| {
        HostError::Netns(NetnsError::Command { command: "setup".into(), stderr: e.to_string() })
    })?;
    let tun = Tun::open_queues_in(&ns, device, queues)?;
    let ipv6 = ipv6_of(model, &eni.subnet, &eni.ipv6_addresses);
    configure_device(&ns, device, address_in(subnet, eni.private_ip), None, false, ipv6)?;
    Ok(tun)
}

/// The emulated internet: `vpclab-internet` with `eth0` holding the internet hosts' and
/// the AWS services' addresses, the public range behind the gateway and, for replies
/// through gateway endpoints, the default route to the forwarder; for IPv6, the IPv6
/// internet hosts' /48 (`nodad`, usable at once, so the check-ip host can bind it) and
/// the Amazon pool behind the forwarder.
///
/// IPv6 is on for `eth0` and `lo` only (local delivery goes through `lo`), and `eth0`
/// makes no link-local address (`addrgenmode none`, set before IPv6 is turned on for
/// it), so nothing solicits routers or reports multicast listening into the forwarder.
/// Devices made here later — the links to sites and VPN connections, IPv4-only — start
/// with IPv6 off, as before (and are torn down as quickly when their namespaces go).
/// Per device, not by `all`: a write of `all` would reach those links too.
fn setup_internet(ns: &str, queues: usize) -> Result<Vec<Tun>, HostError> {
    netns::create(ns)?;
    netns::sysctls(ns, &[("net.ipv6.conf.default.disable_ipv6", "1")])?;
    let tun = Tun::open_queues_in(ns, DEVICE, queues)?;
    netns::configure(ns, &[&["link", "set", DEVICE, "addrgenmode", "none"]])?;
    let device_ipv6 = format!("net.ipv6.conf.{DEVICE}.disable_ipv6");
    netns::sysctls(ns, &[("net.ipv6.conf.lo.disable_ipv6", "0"), (&device_ipv6, "0")])?;
    let mtu = EDGE_MTU.to_string();
    let (hosts, services) = (INTERNET_HOSTS.to_string(), SERVICE_HOSTS.to_string());
    let hosts6 = INTERNET_HOSTS6.to_string();
    let public = vpclab_model::PUBLIC_POOL.to_string();
    let amazon6 = vpclab_model::AMAZON_IPV6_POOL.to_string();
    netns::configure(
        ns,
        &[
            &["link", "set", "lo", "up"],
            &["link", "set", DEVICE, "mtu", &mtu],
            &["addr", "replace", &hosts, "dev", DEVICE],
            &["addr", "replace", &services, "dev", DEVICE],
            &["addr", "replace", &hosts6, "dev", DEVICE, "nodad"],
            &["link", "set", DEVICE, "up"],
            &["route", "replace", &public, "dev", DEVICE],
            // Instances' IPv6 addresses: the forwarder takes it from there.
            &["route", "replace", &amazon6, "dev", DEVICE],
            // Replies of the services to private addresses (flows through gateway
            // endpoints): everything else this namespace sends goes to the forwarder
            // too, which drops what no flow expects.
            &["route", "replace", "default", "dev", DEVICE],
        ],
    )?;
    // The public endpoints of the AWS services interface endpoints lead to.
    for service in vpclab_model::INTERFACE_SERVICES {
        if !INTERNET_HOSTS.contains(&service.address) {
            continue;
        }
        let address = format!("{}/32", service.address);
        netns::configure(ns, &[&["addr", "replace", &address, "dev", DEVICE]])?;
    }
    Ok(tun)
}

/// The internet namespace's ends of the links it forwards between, as nftables
/// wildcards: on-premises sites' routers (`onprem<octet>`, [`crate::onprem`]) and VPN
/// connections' outside links (`vpn<octet>`, [`crate::tunnels`]).
const FORWARDED_LINKS: [&str; 2] = ["onprem*", "vpn*"];

/// Makes the nftables table `ip <table>` in the namespace `netns` hold `chains`, and
/// nothing else: declaring, deleting and declaring it again replaces it in one
/// transaction, whether or not it was there.
pub(crate) fn replace_nft_table(netns: &str, table: &str, chains: &str) -> Result<(), NetnsError> {
    let script =
        format!("table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n{chains}}}\n");
    netns::exec(netns, "nft", &["-f", "-"], &script)
}

/// Lets the internet namespace forward between the forwarder's TUN, the sites' routers
/// and the VPN connections' outside links, and only there: what it did not forward
/// before (a packet from the forwarder for an internet address nobody has) it still
/// drops, and it never sends redirects. Idempotent (the table is replaced whole).
pub(crate) fn internet_forwards(internet: &str) -> Result<(), NetnsError> {
    const TABLE: &str = "vpclab-forward";
    let accepts: String = FORWARDED_LINKS
        .iter()
        .map(|l| format!("\t\tiifname \"{l}\" accept\n\t\toifname \"{l}\" accept\n"))
        .collect();
    let chain = format!(
        "\tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy drop;\n\
         {accepts}\
         \t}}\n"
    );
    replace_nft_table(internet, TABLE, &chain)?;
    let device_redirects = format!("net.ipv4.conf.{DEVICE}.send_redirects");
    netns::sysctls(
        internet,
        &[
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
            (&device_redirects, "0"),
            ("net.ipv4.ip_forward", "1"),
        ],
    )
}

/// Removes everything `model` put on the host: every instance namespace and the
/// internet's. Stop the forwarder first, or the namespaces outlive their names.
pub fn teardown(model: &Model) -> Result<(), NetnsError> {
    teardown_with_internet(model, internet_netns())
}

/// [`teardown`] of a host started with its internet in `internet`.
pub fn teardown_with_internet(model: &Model, internet: &str) -> Result<(), NetnsError> {
    let mut first_error = None;
    let instances: Vec<&str> = model.instances().map(|i| i.id.as_str()).collect();
    if let Err(e) = netns::delete_all(&instances) {
        first_error.get_or_insert(e);
    }
    // VPN connections' namespaces (their daemons are killed with them).
    for connection in model.vpn_connections() {
        let ns = crate::tunnels::netns_of(&connection.id, internet);
        if let Err(e) = netns::delete(&ns) {
            first_error.get_or_insert(e);
        }
        let _ = std::fs::remove_dir_all(crate::tunnels::dir_of(&ns));
    }
    for site in model.onprem_sites() {
        if let Err(e) = crate::onprem::remove(site, internet) {
            first_error.get_or_insert(e);
        }
        let router = crate::onprem::router_namespace(&site.name, internet);
        let _ = std::fs::remove_dir_all(crate::tunnels::dir_of(&router));
    }
    if let Err(e) = netns::delete(internet) {
        first_error.get_or_insert(e);
    }
    first_error.map_or(Ok(()), Err)
}
