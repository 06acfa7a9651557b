//! The compiled, read-only form of the model that the per-packet path reads.
//!
//! The control plane compiles a new [`Snapshot`] after every change and publishes it
//! with one atomic pointer swap; workers load the current one once per batch and never
//! lock. Everything a packet needs is an array index or an [`Lpm4`] lookup away.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{Ipv4Net, Ipv6Net};
use vpclab_lpm::{Builder, Lpm4, Lpm6};
use vpclab_model::{
    ConnectionTracking, InstanceId, Model, NatGatewayId, NetworkInterfaceId, Part, PeeringStatus,
    RouteFamily, RouteTable, RouteTableId, RouteTarget, SecurityGroupId, VpcId, VpnConnectionId,
    ZONES,
};

use crate::ascending::Ascending;
use crate::kept::Tries;
use crate::security::{CompiledAcl, FlowHashing, InterfaceRules, Members, RulesInputs};

/// A device the forwarder reads and writes: an index into the snapshot's port table.
pub type Port = u32;

/// The port of the emulated internet (`vpclab-internet`'s `eth0`).
pub const INTERNET: Port = 0;

/// The internet edge's own address: the source of ICMP errors it generates.
pub const EDGE_ADDRESS: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

/// Largest packet the internet gateway forwards (AWS: 1500 bytes at the IGW): the MTU
/// of the internet's device.
pub const EDGE_MTU: usize = 1500;

/// The MTU inside a VPC (AWS's jumbo frames): the MTU of every instance's device.
pub const VPC_MTU: usize = 9001;

/// Largest packet a transit gateway carries between VPC attachments; larger ones are
/// dropped without an ICMP error (AWS: no path MTU discovery through a transit gateway).
pub const TGW_MTU: usize = 8500;

/// The largest TCP segment a transit gateway lets connections through it announce: its
/// MTU less 40 bytes of IPv4 and TCP headers (AWS clamps the MSS of all TCP through a
/// transit gateway, so that full-sized segments of 9001-byte VPCs are not dropped).
pub const TGW_MSS: u16 = (TGW_MTU - 40) as u16;

/// What a route table's matching route tells the forwarder to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hop {
    /// Deliver inside the VPC.
    Local,
    /// Out through the VPC's internet gateway.
    Internet,
    /// Through the NAT gateway with this index in the snapshot.
    Nat(u32),
    /// Over a peering connection into the VPC with this index.
    Peering(u32),
    /// Through a gateway endpoint to an AWS service, keeping the private source.
    Endpoint,
    /// Into a transit gateway through the VPC's attachment with this index.
    TransitGateway(u32),
    /// To the instance interface behind this port (a NAT instance, an appliance).
    Interface(Port),
    /// To the VPC's virtual private gateway with this index, which picks one of its VPN
    /// connections by the prefixes each brings (`vpn_down` when none brings this one).
    VpnGateway(u32),
    /// Out through the VPC's egress-only internet gateway (IPv6 routes only): the flow
    /// is remembered, so that its replies, and nothing else, come back in.
    EgressOnly,
    /// The target is gone: drop.
    Blackhole,
}

/// What a transit gateway route table's matching route leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TgwHop {
    /// Out of the transit gateway through the attachment with this index.
    Attachment(u32),
    /// A blackhole route (or one whose attachment is gone): drop.
    Blackhole,
}

/// A compiled transit gateway route table.
#[derive(Debug, PartialEq)]
pub(crate) struct TgwTable {
    /// Index of its transit gateway (the model's, in id order).
    pub(crate) tgw: u32,
    pub(crate) lpm: Lpm4,
    pub(crate) hops: Vec<TgwHop>,
}

/// A peering attachment's two sides: each transit gateway (by index) and the route table
/// the attachment is associated with there (`NO_TABLE`: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeeringSides {
    /// The two transit gateways.
    pub tgws: [u32; 2],
    /// The table of each side.
    pub tables: [u32; 2],
}

impl PeeringSides {
    /// The table a packet meets crossing from transit gateway `from` to the other side.
    pub fn table_beyond(&self, from: u32) -> u32 {
        if self.tgws[0] == from { self.tables[1] } else { self.tables[0] }
    }
}

/// A transit gateway's interface in one zone of an attached VPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentZone {
    /// The interface's subnet.
    pub subnet: Ipv4Net,
    /// Index of that subnet's route table: where traffic leaving the transit gateway
    /// here is routed on.
    pub table: u32,
    /// Index of that subnet's network ACL (`NO_ACL`: none).
    pub acl: u32,
}

/// A VPC attachment as the forwarder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentEntry {
    /// Index of the attached VPC.
    pub vpc: u32,
    /// Index of the transit gateway route table it is associated with (`NO_TABLE`:
    /// none): the table that routes what arrives from it.
    pub table: u32,
    /// Appliance mode: one interface per flow, both ways, whatever the sender's zone.
    pub appliance_mode: bool,
    /// Its interface in each zone (by index in the region's zones), if it has one there.
    pub zones: [Option<AttachmentZone>; ZONES.len()],
    /// For a peering attachment (which has no VPC and no zones): its two sides.
    pub peering: Option<PeeringSides>,
    /// A VPN connection's attachment (no VPC, no zones): what a route sends to it goes
    /// into the connection's tunnels, or is dropped as `vpn_down` while they have no
    /// device (`vpn_port`).
    pub vpn: bool,
    /// The port of its VPN connection's tunnels.
    pub vpn_port: Option<Port>,
}

/// An interface endpoint's network interface as the forwarder sees it: an address of a
/// subnet that leads to an AWS service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointEntry {
    /// Index of its VPC.
    pub vpc: u32,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Index of its subnet's route table: where the service's answers to callers
    /// outside the VPC (peered, or through a transit gateway) are routed.
    pub table: u32,
    /// Its subnet's availability zone, by index in the region's zones.
    pub zone: u8,
    /// Index of its subnet's network ACL (`NO_ACL`: none).
    pub acl: u32,
    /// Index of its security groups' compiled rules.
    pub rules: u32,
    /// Its address in the subnet.
    pub address: Ipv4Addr,
    /// Where the service answers (its public endpoint on the emulated internet).
    pub service: Ipv4Addr,
}

impl EndpointEntry {
    /// The interface as a sender of the service's answers: an interface of its subnet
    /// with its address, which routes by its subnet's table and is checked by its
    /// groups and ACL as any sender is.
    pub fn as_sender(&self) -> InstancePort {
        InstancePort::managed(
            self.vpc,
            self.table,
            self.subnet,
            self.zone,
            self.address,
            self.rules,
            self.acl,
        )
    }
}

/// Values of a VPC's host map at or above this are interface endpoints' interfaces
/// (`ENDPOINT_TARGET + index`); below, instance ports. The same numbers are the
/// connection-tracking zones of those interfaces.
pub const ENDPOINT_TARGET: u32 = 1 << 29;

/// `table` of an attachment associated with no route table.
pub const NO_TABLE: u32 = u32::MAX;

/// A compiled route table: its IPv4 and its IPv6 routes, looked up independently (a
/// route of one family never answers for the other, as on AWS).
#[derive(Debug, PartialEq)]
pub(crate) struct Table {
    pub(crate) lpm: Lpm4,
    pub(crate) hops: Vec<Hop>,
    pub(crate) lpm6: Lpm6,
    pub(crate) hops6: Vec<Hop>,
}

/// A compiled VPC: who holds which private address.
#[derive(Debug, PartialEq)]
pub(crate) struct VpcEntry {
    pub(crate) hosts: Lpm4,
    /// Its IPv4 CIDRs, the primary first.
    pub(crate) cidrs: Vec<Ipv4Net>,
    /// Its private NAT gateways: their addresses and indexes (few, read only for an
    /// address no interface holds).
    pub(crate) private_nats: Vec<(Ipv4Addr, u32)>,
    /// Who holds which IPv6 address, as `hosts` (exact addresses: a hash lookup, not
    /// a walk of 128 bits of trie).
    pub(crate) hosts6: HashMap<Ipv6Addr, Port, FlowHashing>,
    /// Its associated IPv6 blocks.
    pub(crate) cidrs6: Vec<Ipv6Net>,
    /// Whether an internet gateway is attached: the internet may open flows to its
    /// IPv6 addresses (IPv6 is public by routing, without translation).
    pub(crate) internet: bool,
}

impl VpcEntry {
    /// The private NAT gateway at `addr`, by index.
    pub(crate) fn private_nat(&self, addr: Ipv4Addr) -> Option<u32> {
        self.private_nats.iter().find(|(a, _)| *a == addr).map(|&(_, i)| i)
    }

    /// Whether `addr` is one of the VPC's own addresses.
    pub(crate) fn contains(&self, addr: Ipv4Addr) -> bool {
        self.cidrs.iter().any(|c| c.contains(&addr))
    }

    /// Whether `addr` lies in one of the VPC's IPv6 blocks.
    pub(crate) fn contains6(&self, addr: Ipv6Addr) -> bool {
        self.cidrs6.iter().any(|c| c.contains(&addr))
    }
}

/// An instance's interface as the forwarder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstancePort {
    /// Index of its VPC in the snapshot.
    pub vpc: u32,
    /// Index of its subnet's route table in the snapshot.
    pub table: u32,
    /// Its subnet's IPv4 block ([`NO_IPV4`] in an IPv6-only subnet).
    pub subnet: Ipv4Net,
    /// Its subnet's IPv6 block, if it has one.
    pub subnet6: Option<Ipv6Net>,
    /// Its subnet's availability zone, by index in the region's zones.
    pub zone: u8,
    /// Its private address (unspecified for an interface without IPv4, in an IPv6-only
    /// subnet: no host table holds it, and its IPv4 packets are dropped as they leave).
    pub private: Ipv4Addr,
    /// Its public address, if it has one *and* its VPC has an internet gateway.
    pub public: Option<Ipv4Addr>,
    /// Its VPC's DNS server: the VPC's base address + 2.
    pub resolver: Ipv4Addr,
    /// Index of its compiled security groups in the snapshot.
    pub rules: u32,
    /// Index of its subnet's compiled network ACL (`NO_ACL`: none).
    pub acl: u32,
    /// Whether a flow log records its interface.
    pub flow_log: bool,
    /// AWS's source/destination check: it may only send from, and receive to, its own
    /// address.
    pub source_dest_check: bool,
}

/// The IPv4 block of an IPv6-only subnet's interfaces: none, standing as `0.0.0.0/32`,
/// which holds no interface.
pub const NO_IPV4: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::UNSPECIFIED, 32);

impl InstancePort {
    /// Whether it has an IPv4 address (not in an IPv6-only subnet).
    #[inline]
    pub fn has_ipv4(&self) -> bool {
        !self.private.is_unspecified()
    }

    /// An interface AWS manages (an interface endpoint's, a NAT gateway's) as the
    /// sender of what it passes on: no public address, no flow log, asking the VPC's
    /// services nothing.
    fn managed(
        vpc: u32,
        table: u32,
        subnet: Ipv4Net,
        zone: u8,
        private: Ipv4Addr,
        rules: u32,
        acl: u32,
    ) -> Self {
        InstancePort {
            vpc,
            table,
            subnet,
            subnet6: None,
            zone,
            private,
            public: None,
            resolver: Ipv4Addr::UNSPECIFIED,
            rules,
            acl,
            flow_log: false,
            source_dest_check: true,
        }
    }
}

/// `acl` of a subnet without a network ACL (allow all).
pub const NO_ACL: u32 = u32::MAX;

/// A NAT gateway as the forwarder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatEntry {
    /// Its connection table's stable slot (the worker keeps tables by slot).
    pub slot: u32,
    /// Index of its VPC in the snapshot.
    pub vpc: u32,
    /// Index of its subnet's route table: where its traffic goes next.
    pub table: u32,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Its subnet's availability zone, by index in the region's zones.
    pub zone: u8,
    /// Whether it is public: flows leave with its Elastic IP through the internet
    /// gateway. A private one's leave with its own address, through a transit gateway.
    pub public: bool,
    /// The address its flows leave with: its Elastic IP, or its private address.
    pub outside: Ipv4Addr,
    /// Its interface's private address (the source of its ICMP errors).
    pub private: Ipv4Addr,
    /// Its idle timeout.
    pub idle_timeout_ms: u64,
    /// Its subnet's compiled network ACL.
    pub acl: u32,
}

impl NatEntry {
    /// A private gateway as the sender of its translated packets: an interface of its
    /// subnet with its address, routed by its subnet's table and checked by its ACL.
    /// It has no security groups.
    pub fn as_sender(&self) -> InstancePort {
        InstancePort::managed(
            self.vpc,
            self.table,
            self.subnet,
            self.zone,
            self.private,
            NO_RULES,
            self.acl,
        )
    }
}

/// A virtual private gateway as the forwarder sees it: which VPN connection's port each
/// prefix it knows leads to (its connections' static routes, and the routes BGP learned
/// over their tunnels that are up; on equal prefixes a static route wins, as on AWS).
#[derive(Debug, PartialEq)]
pub(crate) struct VgwEntry {
    pub(crate) lpm: Lpm4,
}

/// A VPN connection's port: the device into the namespace where its tunnels end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpnPort {
    /// Index of the VPC its virtual private gateway is attached to (`u32::MAX`: none):
    /// what arrives from the tunnels may go to that VPC's addresses only.
    pub vpc: u32,
    /// For a connection to a transit gateway, the index of its attachment (`u32::MAX`:
    /// none): what arrives from the tunnels is routed by the hub.
    pub attachment: u32,
}

/// `rules` of a sender without security groups (a NAT gateway).
pub const NO_RULES: u32 = u32::MAX;

/// Values of the public map at or above this are NAT gateways (`NAT_TARGET + index`);
/// below, instance ports.
pub(crate) const NAT_TARGET: u32 = 1 << 30;

/// What sits behind a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortEntry {
    /// Nothing (a removed instance's slot).
    Vacant,
    /// The emulated internet.
    Internet,
    /// An instance.
    Instance(InstancePort),
    /// A VPN connection's tunnels.
    Vpn(VpnPort),
}

/// The compiled network. (Equal snapshots forward alike: compiled from the same model
/// and ports, with or without a [`Compiler`], they are equal.)
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// Increases with every compile.
    pub generation: u64,
    pub(crate) ports: Vec<PortEntry>,
    pub(crate) tables: Vec<Table>,
    pub(crate) vpcs: Vec<VpcEntry>,
    /// Public address (/32) to the port of the instance it maps to, or to
    /// `NAT_TARGET + index` of a NAT gateway.
    pub(crate) public: Lpm4,
    /// NAT gateways.
    pub(crate) nats: Vec<NatEntry>,
    /// Virtual private gateways (the model's, in id order).
    pub(crate) vgws: Vec<VgwEntry>,
    /// Private NAT gateways' own addresses (any VPC) to their indexes: how steering
    /// knows a reply to one.
    pub(crate) private_nats: Lpm4,
    /// Every VPC's IPv6 blocks to the VPC's index: where a packet from the internet to
    /// an IPv6 address goes (the blocks come from one pool and never overlap).
    pub(crate) blocks6: Lpm6,
    /// Compiled security groups, per instance port (`InstancePort::rules`).
    /// (Shared with the snapshots before it while they are the same: see [`Compiler`].)
    pub(crate) rules: Vec<Arc<InterfaceRules>>,
    /// Compiled network ACLs (shared with the snapshots before while the model's are
    /// the same).
    pub(crate) acls: Arc<[CompiledAcl]>,
    /// Transit gateway route tables (the model's, in id order).
    pub(crate) tgw_tables: Vec<TgwTable>,
    /// How many transit gateways there are (`TgwTable::tgw` indexes them, in the
    /// model's id order).
    pub transit_gateways: u32,
    /// Transit gateway VPC attachments (the model's, in id order).
    pub(crate) attachments: Vec<AttachmentEntry>,
    /// Interface endpoints' interfaces, by their stable numbers (`ENDPOINT_TARGET +
    /// number` in the host maps).
    pub(crate) endpoints: Vec<Option<EndpointEntry>>,
    /// Every interface endpoint interface's address, in any VPC: whether a destination
    /// can be one at all, before a route is walked to find out.
    pub(crate) endpoint_addresses: Lpm4,
    /// How often flow records are written out (the shortest aggregation interval of the
    /// flow logs), in milliseconds; 0: no flow logs.
    pub flow_interval_ms: u64,
}

impl Snapshot {
    /// A snapshot with no instances: only the internet port.
    pub fn empty() -> Self {
        Self {
            generation: 0,
            ports: vec![PortEntry::Internet],
            tables: Vec::new(),
            vpcs: Vec::new(),
            public: Lpm4::default(),
            nats: Vec::new(),
            vgws: Vec::new(),
            private_nats: Lpm4::default(),
            blocks6: Lpm6::default(),
            rules: Vec::new(),
            acls: Arc::from([]),
            tgw_tables: Vec::new(),
            transit_gateways: 0,
            attachments: Vec::new(),
            endpoints: Vec::new(),
            endpoint_addresses: Lpm4::default(),
            flow_interval_ms: 0,
        }
    }

    /// The interface endpoint interface a packet from `me` to `dst` is routed to, if it
    /// is one: in `me`'s VPC, a peer's, or one behind a transit gateway (across at most
    /// one peering of gateways), by the route tables the pipeline reads (the ACLs,
    /// groups and TTLs along the way are the pipeline's to apply). Steering asks, so
    /// that a flow to an endpoint and the service's answers meet one worker.
    pub(crate) fn endpoint_behind(
        &self,
        me: &InstancePort,
        dst: Ipv4Addr,
    ) -> Option<&EndpointEntry> {
        self.endpoint_addresses.lookup(dst)?;
        let endpoint_in = |vpc: u32| self.endpoint(self.vpcs.get(vpc as usize)?.hosts.lookup(dst)?);
        if me.subnet.contains(&dst) {
            return endpoint_in(me.vpc);
        }
        let table = self.tables.get(me.table as usize)?;
        match table.lpm.lookup(dst).and_then(|r| table.hops.get(r as usize).copied())? {
            Hop::Local => endpoint_in(me.vpc),
            Hop::Peering(peer) => endpoint_in(peer),
            Hop::TransitGateway(index) => {
                let mut table = self.attachments.get(index as usize)?.table;
                // A gateway, and perhaps the one peered with it.
                for _ in 0..2 {
                    let t = self.tgw_tables.get(table as usize)?;
                    let hop = t.lpm.lookup(dst).and_then(|r| t.hops.get(r as usize).copied())?;
                    let TgwHop::Attachment(out) = hop else { return None };
                    let next = self.attachments.get(out as usize)?;
                    match next.peering {
                        None => return endpoint_in(next.vpc),
                        Some(sides) => table = sides.table_beyond(t.tgw),
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// The interface endpoint interface behind host-map value (and port) `value`, if it
    /// is one.
    pub(crate) fn endpoint(&self, value: Port) -> Option<&EndpointEntry> {
        let slot = value.checked_sub(ENDPOINT_TARGET)?;
        self.endpoints.get(slot as usize)?.as_ref()
    }

    /// The NAT gateways.
    pub fn nats(&self) -> &[NatEntry] {
        &self.nats
    }

    /// The MTU of the device behind `port`.
    pub fn mtu(&self, port: Port) -> usize {
        if port == INTERNET { EDGE_MTU } else { VPC_MTU }
    }

    /// What is behind `port`.
    pub fn port(&self, port: Port) -> PortEntry {
        self.ports.get(port as usize).copied().unwrap_or(PortEntry::Vacant)
    }

    /// Number of port slots (vacant ones included).
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }
}

/// Which port each device has: an instance's `eth0` (by the instance), and each
/// interface attached to an instance besides (`eth1`, …, by the interface). Ports are
/// stable for a device's life, and slots of removed devices are reused.
#[derive(Clone, Debug, Default)]
pub struct PortMap {
    by_instance: BTreeMap<InstanceId, Port>,
    by_interface: BTreeMap<NetworkInterfaceId, Port>,
    by_vpn: BTreeMap<VpnConnectionId, Port>,
    nat_slots: BTreeMap<NatGatewayId, u32>,
    /// Interface endpoints' interfaces: a stable number each, for its life (its index in
    /// the snapshot's endpoints, its host-map value and tracking zone less
    /// `ENDPOINT_TARGET`), so that flows keep meeting the interface they began at.
    endpoint_slots: BTreeMap<NetworkInterfaceId, u32>,
    /// Ports released below `next`, to hand out again lowest first.
    released: std::collections::BTreeSet<Port>,
    /// Every port from here up is free (0: none handed out yet).
    next: Port,
}

impl PortMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The port of `instance`, assigning the lowest free one if it has none.
    pub fn assign(&mut self, instance: &InstanceId) -> Port {
        if let Some(&port) = self.by_instance.get(instance) {
            return port;
        }
        let port = self.lowest_free();
        self.by_instance.insert(instance.clone(), port);
        port
    }

    /// The port of attached interface `eni`'s device, assigning the lowest free one if
    /// it has none.
    pub fn assign_interface(&mut self, eni: &NetworkInterfaceId) -> Port {
        if let Some(&port) = self.by_interface.get(eni) {
            return port;
        }
        let port = self.lowest_free();
        self.by_interface.insert(eni.clone(), port);
        port
    }

    /// The port of attached interface `eni`'s device, if it has one.
    pub fn interface(&self, eni: &NetworkInterfaceId) -> Option<Port> {
        self.by_interface.get(eni).copied()
    }

    /// The port of VPN connection `id`'s device, assigning the lowest free one if it
    /// has none.
    pub fn assign_vpn(&mut self, id: &VpnConnectionId) -> Port {
        if let Some(&port) = self.by_vpn.get(id) {
            return port;
        }
        let port = self.lowest_free();
        self.by_vpn.insert(id.clone(), port);
        port
    }

    /// The port of VPN connection `id`'s device, if it has one.
    pub fn vpn(&self, id: &VpnConnectionId) -> Option<Port> {
        self.by_vpn.get(id).copied()
    }

    /// The VPN connection whose device is `port`, if one is.
    pub fn vpn_at(&self, port: Port) -> Option<&VpnConnectionId> {
        self.by_vpn.iter().find(|(_, p)| **p == port).map(|(id, _)| id)
    }

    /// Forgets VPN connection `id`, returning its port.
    pub fn release_vpn(&mut self, id: &VpnConnectionId) -> Option<Port> {
        let port = self.by_vpn.remove(id);
        self.free(port)
    }

    /// Forgets interface `eni`, returning its port.
    pub fn release_interface(&mut self, eni: &NetworkInterfaceId) -> Option<Port> {
        let port = self.by_interface.remove(eni);
        self.free(port)
    }

    /// Takes the lowest free port: the lowest released one, or the next never used.
    /// (Not by searching the ports in use: a port is assigned per new instance, and with
    /// thousands that search was a sort of them all each time.)
    fn lowest_free(&mut self) -> Port {
        if let Some(port) = self.released.pop_first() {
            return port;
        }
        let port = self.next.max(INTERNET + 1);
        self.next = port + 1;
        port
    }

    /// Gives `port` back (a device's, when it goes).
    fn free(&mut self, port: Option<Port>) -> Option<Port> {
        if let Some(port) = port {
            self.released.insert(port);
        }
        port
    }

    /// The port of `instance`, if it has one.
    pub fn get(&self, instance: &InstanceId) -> Option<Port> {
        self.by_instance.get(instance).copied()
    }

    /// Forgets `instance`, returning its port.
    pub fn release(&mut self, instance: &InstanceId) -> Option<Port> {
        let port = self.by_instance.remove(instance);
        self.free(port)
    }

    /// The connection-table slot of NAT gateway `id`, assigning the lowest free one.
    /// The connection-table slot of NAT gateway `id`, if it has one.
    pub fn nat_slot_of(&self, id: &NatGatewayId) -> Option<u32> {
        self.nat_slots.get(id).copied()
    }

    fn nat_slot(&mut self, id: &NatGatewayId) -> u32 {
        if let Some(&slot) = self.nat_slots.get(id) {
            return slot;
        }
        let slot = (0..).find(|s| !self.nat_slots.values().any(|v| v == s)).unwrap_or(0);
        self.nat_slots.insert(id.clone(), slot);
        slot
    }

    /// The stable number of interface endpoint interface `eni`, assigning the lowest free
    /// one.
    fn endpoint_slot(&mut self, eni: &NetworkInterfaceId) -> u32 {
        if let Some(&slot) = self.endpoint_slots.get(eni) {
            return slot;
        }
        let slot = (0..).find(|s| !self.endpoint_slots.values().any(|v| v == s)).unwrap_or(0);
        self.endpoint_slots.insert(eni.clone(), slot);
        slot
    }

    /// The interface endpoint interface with number `slot` (`port - ENDPOINT_TARGET`).
    pub fn endpoint_interface(&self, slot: u32) -> Option<&NetworkInterfaceId> {
        self.endpoint_slots.iter().find(|(_, s)| **s == slot).map(|(id, _)| id)
    }

    /// Every (instance, port).
    pub fn iter(&self) -> impl Iterator<Item = (&InstanceId, Port)> {
        self.by_instance.iter().map(|(i, &p)| (i, p))
    }

    /// The ports of instances asked in id order (the model's), found by one walk of the
    /// map rather than a search each; see [`InstancePorts::get`].
    pub(crate) fn instance_ports(&self) -> InstancePorts<'_> {
        InstancePorts { map: self, walk: Ascending::new(&self.by_instance) }
    }
}

/// See [`PortMap::instance_ports`].
pub(crate) struct InstancePorts<'a> {
    map: &'a PortMap,
    walk: Ascending<std::collections::btree_map::Iter<'a, InstanceId, Port>>,
}

impl InstancePorts<'_> {
    /// The port of `instance`, if it has one, as [`PortMap::get`] (found on the walk when
    /// asked in id order, searched for otherwise).
    pub(crate) fn get(&mut self, instance: &InstanceId) -> Option<Port> {
        match self.walk.find(instance) {
            Some(&port) => Some(port),
            None => self.map.get(instance),
        }
    }
}

/// The port of the device behind network interface `eni`: an attached interface's own,
/// or the instance's `eth0` for its primary interface; none while the instance is
/// stopped or the device is not attached.
fn interface_port(model: &Model, ports: &PortMap, eni: &NetworkInterfaceId) -> Option<Port> {
    let instance = model.interface_holder(eni)?;
    if instance.interface == *eni { ports.get(&instance.id) } else { ports.interface(eni) }
}

/// Each of a kind of the model's resources, by id, to its index in the snapshot.
type IndexById<'m, K> = HashMap<&'m K, u32, FlowHashing>;

/// `ids` to their indexes, in the order given. (Hashed: with thousands of them, the
/// B-tree searches of maps keyed by ids were much of a compile.)
fn index_by_id<'m, K: Eq + std::hash::Hash>(ids: impl Iterator<Item = &'m K>) -> IndexById<'m, K> {
    ids.zip(0..).collect()
}

/// Root bits of a VPC's hosts table (see [`compile_prepared`]).
const HOST_DIRECT_BITS: u32 = 8;

/// Compiles the model into a snapshot. Instances without a port in `ports` (their
/// device is not attached yet) are left out; NAT gateways get stable connection-table
/// slots in `ports` (new ones assigned, gone ones released), interface endpoints'
/// interfaces stable numbers likewise. [`PortMap::prepare`] then [`compile_prepared`].
pub fn compile(model: &Model, ports: &mut PortMap, generation: u64) -> Snapshot {
    ports.prepare(model);
    compile_prepared(model, ports, generation)
}

impl PortMap {
    /// Gives every working NAT gateway a connection-table slot and every interface
    /// endpoint's interface a number (new ones the lowest free, gone ones released),
    /// so that compiling only reads the map.
    pub fn prepare(&mut self, model: &Model) {
        self.nat_slots.retain(|id, _| model.nat_gateway(id).is_ok());
        let live: std::collections::BTreeSet<&NetworkInterfaceId> = model
            .vpc_endpoints()
            .filter_map(|e| e.interface.as_ref())
            .flat_map(|i| i.interfaces.iter().map(|m| &m.interface))
            .collect();
        self.endpoint_slots.retain(|id, _| live.contains(id));
        for nat in model.working_nat_gateways() {
            self.nat_slot(&nat.id);
        }
        let interfaces = model.vpc_endpoints().filter_map(|e| e.interface.as_ref());
        for member in interfaces.flat_map(|i| &i.interfaces) {
            self.endpoint_slot(&member.interface);
        }
    }
}

/// [`compile`] with `ports` already prepared for `model` ([`PortMap::prepare`]): it
/// only reads them, so it can run beside other readers (the services' compile). From
/// scratch: a [`Compiler`] of its own, with nothing kept.
pub fn compile_prepared(model: &Model, ports: &PortMap, generation: u64) -> Snapshot {
    Compiler::default().compile_prepared(model, ports, generation)
}

/// Compiles snapshot after snapshot, as [`compile_prepared`] does, sharing with the last
/// one what the change between their models cannot have changed: each interface's
/// compiled security groups (a VPC's instances share one set; rebuilt when what they
/// are made of changed, and checked only in the VPCs the change could reach), the route
/// tables' and the VPCs' hosts' tries (rebuilt when their routes changed) and the
/// network ACLs (rebuilt when any changed). With a thousand VPCs, building them all
/// again was most of every compile, though a call changes one VPC's at most.
#[derive(Debug)]
pub struct Compiler {
    rules: RuleSets,
    tries: KeptTries,
    /// The compiled ACLs of the last compile.
    acls: Option<Arc<[CompiledAcl]>>,
    /// The model the last compile read: a copy that shares its collections, to tell
    /// by pointer what changed since.
    last: Option<Model>,
    /// Counts compiles: what the latest did not use is dropped.
    round: u64,
}

impl Default for Compiler {
    fn default() -> Self {
        Self {
            rules: RuleSets::default(),
            tries: KeptTries {
                tables: Tries::new(None),
                tables6: Tries::new(None),
                hosts: Tries::new(Some(HOST_DIRECT_BITS)),
            },
            acls: None,
            last: None,
            round: 0,
        }
    }
}

/// Compiled security groups, by the interfaces' VPC, groups and tracking timeouts
/// (those that decide which rules apply).
#[derive(Debug, Default)]
struct RuleSets {
    kept: HashMap<RulesKey, KeptRules, FlowHashing>,
    /// What the change since the last compile can have touched (`None`: anything).
    dirty: Option<Dirty>,
}

/// The tries of the last compile, by route table and by VPC.
#[derive(Debug)]
struct KeptTries {
    tables: Tries<RouteTableId, Ipv4Addr>,
    tables6: Tries<RouteTableId, Ipv6Addr>,
    hosts: Tries<VpcId, Ipv4Addr>,
}

/// An interface's VPC, its groups, and its tracking timeouts.
type RulesKey = (VpcId, Vec<SecurityGroupId>, Option<ConnectionTracking>);

/// Compiled rules, what they were compiled from, and the last compile that used them.
#[derive(Debug)]
struct KeptRules {
    inputs: RulesInputs,
    rules: Arc<InterfaceRules>,
    round: u64,
}

/// The VPCs whose compiled security groups a change can have touched, when it changed
/// instances only (their groups, addresses, coming and going): their own VPCs and those
/// peered with them, as a group's rules resolve references to members in both.
#[derive(Debug)]
struct Dirty {
    vpcs: VpcSet,
    /// `vpcs` and the VPCs peered with them: the members a dirty VPC's rules can name.
    near: VpcSet,
}

impl Dirty {
    /// What changed from `old` to `model`; `None` when more than instances did (groups,
    /// peerings, prefix lists, network interfaces: any VPC's rules may read them).
    fn since(old: &Model, model: &Model) -> Option<Self> {
        let parts =
            [Part::SecurityGroups, Part::Peerings, Part::PrefixLists, Part::NetworkInterfaces];
        if parts.iter().any(|&part| model.changed_since(old, part)) {
            return None;
        }
        let changes = model.instance_changes(old);
        let mut changed: VpcSet = changes.changed.iter().map(|i| i.vpc.clone()).collect();
        changed
            .extend(changes.gone.iter().filter_map(|id| Some(old.instance(id).ok()?.vpc.clone())));
        let vpcs = with_peers(model, changed);
        let near = with_peers(model, vpcs.clone());
        Some(Self { vpcs, near })
    }
}

/// A few VPCs, asked about once per instance (hashed as the flow tables are).
type VpcSet = HashSet<VpcId, FlowHashing>;

/// `vpcs` and every VPC peered with one of them (by an active peering connection).
fn with_peers(model: &Model, mut vpcs: VpcSet) -> VpcSet {
    if vpcs.is_empty() {
        return vpcs;
    }
    let active = model.peering_connections().filter(|p| p.status == PeeringStatus::Active);
    let peers: Vec<VpcId> = active
        .flat_map(|p| [(&p.requester, &p.accepter), (&p.accepter, &p.requester)])
        .filter(|(side, _)| vpcs.contains(*side))
        .map(|(_, peer)| peer.clone())
        .collect();
    vpcs.extend(peers);
    vpcs
}

/// The groups' members, found once per compile and only if some rules are compiled:
/// of every VPC, or only of those near the dirty ones.
struct LazyMembers<'m> {
    model: &'m Model,
    all: Option<Members<'m>>,
    near: Option<Members<'m>>,
}

impl<'m> LazyMembers<'m> {
    fn new(model: &'m Model) -> Self {
        Self { model, all: None, near: None }
    }

    /// Every group's members.
    fn all(&mut self) -> &Members<'m> {
        self.all.get_or_insert_with(|| Members::of_model(self.model))
    }

    /// The members in `dirty`'s near VPCs: all that the rules of a dirty VPC can name.
    fn near(&mut self, dirty: &Dirty) -> &Members<'m> {
        let model = self.model;
        self.near.get_or_insert_with(|| Members::of_vpcs(model, |vpc| dirty.near.contains(vpc)))
    }
}

impl Compiler {
    /// [`compile_prepared`], sharing what did not change with the snapshots before.
    pub fn compile_prepared(
        &mut self,
        model: &Model,
        ports: &PortMap,
        generation: u64,
    ) -> Snapshot {
        self.round += 1;
        let round = self.round;
        let old = self.last.take();
        self.rules.dirty = old.as_ref().and_then(|old| Dirty::since(old, model));
        if old.is_none_or(|old| model.changed_since(&old, Part::NetworkAcls)) {
            self.acls = None;
        }
        let snapshot = compile_with(model, ports, generation, self);
        self.rules.kept.retain(|_, kept| kept.round == round);
        self.tries.tables.retain(round);
        self.tries.tables6.retain(round);
        self.tries.hosts.retain(round);
        self.acls = Some(Arc::clone(&snapshot.acls));
        self.last = Some(model.clone());
        snapshot
    }
}

impl RuleSets {
    /// The compiled rules of an interface in `vpc` with `groups` and `tracking`: those
    /// kept, if nothing they are made of changed (the change did not reach `vpc`, or
    /// the model still gives them the same inputs), or new ones.
    /// (`round`: the compile under way.)
    fn rules(
        &mut self,
        model: &Model,
        members: &mut LazyMembers<'_>,
        round: u64,
        vpc: &VpcId,
        groups: &[SecurityGroupId],
        tracking: Option<ConnectionTracking>,
    ) -> Arc<InterfaceRules> {
        let key = (vpc.clone(), groups.to_vec(), tracking);
        let dirty = self.dirty.as_ref();
        if let Some(kept) = self.kept.get_mut(&key) {
            // Already checked in this compile, or out of the change's reach.
            if kept.round == round || dirty.is_some_and(|d| !d.vpcs.contains(vpc)) {
                kept.round = round;
                return Arc::clone(&kept.rules);
            }
        }
        let members = match dirty {
            Some(dirty) if dirty.vpcs.contains(vpc) => members.near(dirty),
            _ => members.all(),
        };
        let inputs = RulesInputs::of(model, members, vpc, groups);
        match self.kept.get_mut(&key) {
            Some(kept) if kept.inputs == inputs => {
                kept.round = round;
                Arc::clone(&kept.rules)
            }
            _ => {
                let rules = Arc::new(InterfaceRules::from_inputs(&inputs, tracking));
                let kept = KeptRules { inputs, rules: Arc::clone(&rules), round };
                self.kept.insert(key, kept);
                rules
            }
        }
    }
}

/// [`Compiler::compile_prepared`]'s compile, taking from `compiler` what it kept that
/// still holds (its ACLs: those of the model's unless cleared).
fn compile_with(
    model: &Model,
    ports: &PortMap,
    generation: u64,
    compiler: &mut Compiler,
) -> Snapshot {
    let Compiler { rules: rule_sets, tries, acls, round, .. } = compiler;
    let round = *round;
    let vpc_index = index_by_id(model.vpcs().map(|v| &v.id));
    let table_index = index_by_id(model.route_tables().map(|t| &t.id));
    let acls =
        acls.take().unwrap_or_else(|| model.network_acls().map(CompiledAcl::build).collect());
    let acl_index = index_by_id(model.network_acls().map(|a| &a.id));
    // What the model finds by searching, looked up once per subnet and instance: with
    // thousands of them, a search each would make compiling quadratic.
    let subnet_acls = model.network_acls_by_subnet();
    let acl_of = |subnet: &vpclab_model::SubnetId| {
        subnet_acls.get(subnet).map_or(NO_ACL, |a| acl_index[&a.id])
    };
    let subnet_tables = model.route_tables_by_subnet();
    let table_of = |subnet: &vpclab_model::SubnetId| subnet_tables.get(subnet).copied();
    let attached = model.attached_interfaces_by_instance();
    let mut members = LazyMembers::new(model);
    let mut rules_of = |vpc: &VpcId, groups: &[SecurityGroupId], tracking| {
        rule_sets.rules(model, &mut members, round, vpc, groups, tracking)
    };
    // By VPC index: whether an internet gateway is attached (`Model::gateway_of` of
    // each, found in one pass over the gateways rather than one per VPC).
    let mut with_gateway = vec![false; vpc_index.len()];
    for vpc in model.internet_gateways().filter_map(|g| g.attached_to.as_ref()) {
        if let Some(&index) = vpc_index.get(vpc) {
            with_gateway[index as usize] = true;
        }
    }
    let zone_of = |zone: &str| ZONES.iter().position(|z| *z == zone).unwrap_or(0);

    // The NAT gateways that carry traffic, numbered as routes name them.
    let mut nat_gateways: Vec<(NatGatewayId, NatEntry)> = Vec::new();
    for nat in model.working_nat_gateways() {
        // (A NAT gateway's subnet has IPv4: the model puts none in an IPv6-only one, nor
        // an interface endpoint's or a transit gateway attachment's interfaces below.)
        let (Some(&vpc), Some(table), Ok(subnet)) =
            (vpc_index.get(&nat.vpc), table_of(&nat.subnet), model.subnet(&nat.subnet))
        else {
            continue;
        };
        let Some(cidr) = subnet.cidr else { continue };
        let Some(slot) = ports.nat_slot_of(&nat.id) else { continue };
        let entry = NatEntry {
            slot,
            vpc,
            table: table_index[&table.id],
            subnet: cidr,
            zone: zone_of(&subnet.zone) as u8,
            public: nat.public.is_some(),
            outside: nat.outside_ip(),
            private: nat.private_ip,
            idle_timeout_ms: u64::from(nat.idle_timeout_s) * 1000,
            acl: acl_of(&nat.subnet),
        };
        nat_gateways.push((nat.id.clone(), entry));
    }
    let nat_index = index_by_id(nat_gateways.iter().map(|(id, _)| id));
    let attachment_index = index_by_id(model.tgw_attachments().map(|a| &a.id));
    let tgw_table_index = index_by_id(model.tgw_route_tables().map(|t| &t.id));
    let tgw_index = index_by_id(model.transit_gateways().map(|t| &t.id));
    let vgw_index = index_by_id(model.vpn_gateways().map(|g| &g.id));

    // What a route's target is to the forwarder, for either family.
    let hop_of = |table: &RouteTable, target: &RouteTarget| -> Hop {
        match target {
            RouteTarget::Local => Hop::Local,
            RouteTarget::Gateway(_) => Hop::Internet,
            RouteTarget::NatGateway(id) => {
                nat_index.get(id).map_or(Hop::Blackhole, |&i| Hop::Nat(i))
            }
            RouteTarget::Endpoint(_) => Hop::Endpoint,
            RouteTarget::TransitGateway(tgw) => model
                .tgw_attachment_of(tgw, &table.vpc)
                .map_or(Hop::Blackhole, |a| Hop::TransitGateway(attachment_index[&a.id])),
            RouteTarget::NetworkInterface(eni) => {
                interface_port(model, ports, eni).map_or(Hop::Blackhole, Hop::Interface)
            }
            RouteTarget::VpnGateway(vgw) => {
                vgw_index.get(vgw).map_or(Hop::Blackhole, |&i| Hop::VpnGateway(i))
            }
            // IPv6 routes only: the model refuses it for an IPv4 one.
            RouteTarget::EgressOnlyGateway(_) => Hop::EgressOnly,
            RouteTarget::Peering(pcx) => model
                .peering_connection(pcx)
                .ok()
                .and_then(|p| p.peer_of(&table.vpc))
                .and_then(|peer| vpc_index.get(peer))
                .map_or(Hop::Blackhole, |&i| Hop::Peering(i)),
        }
    };
    let tables = model
        .route_tables()
        .map(|table| {
            // The table's own routes and those propagated into it, as the model resolves
            // them (a propagated prefix never shares one with another route).
            let routes = model.routes_in_force(table);
            let mut prefixes = Vec::with_capacity(routes.len());
            let mut hops = vec![Hop::Blackhole; routes.len()];
            // Among equal prefixes the one inserted last wins, and a CIDR route beats a
            // gateway endpoint's prefix-list route: endpoint routes go in first.
            let mut order: Vec<(u32, &vpclab_model::Route)> = (0u32..).zip(routes.iter()).collect();
            order.sort_by_key(|(_, route)| route.prefix_list.is_none());
            for (value, route) in order {
                let hop = if model.is_blackhole(table, route) {
                    Hop::Blackhole
                } else {
                    hop_of(table, &route.target)
                };
                // A route to one of the account's prefix lists leads to each of its
                // blocks as they are now.
                prefixes.extend(model.route_destinations(route).into_iter().map(|d| (d, value)));
                hops[value as usize] = hop;
            }
            // IPv6 routes: no propagation (virtual private gateways carry no IPv6) and
            // no prefix lists of IPv6 blocks.
            let routes6 = <Ipv6Net as RouteFamily>::routes(table);
            let mut prefixes6 = Vec::with_capacity(routes6.len());
            let hops6 = (0u32..)
                .zip(routes6)
                .map(|(value, route)| {
                    prefixes6.push((route.destination, value));
                    if model.is_blackhole(table, route) {
                        Hop::Blackhole
                    } else {
                        hop_of(table, &route.target)
                    }
                })
                .collect();
            let lpm = tries.tables.trie(&table.id, prefixes, round);
            let lpm6 = tries.tables6.trie(&table.id, prefixes6, round);
            Table { lpm, hops, lpm6, hops6 }
        })
        .collect();

    let tgw_tables = model
        .tgw_route_tables()
        .map(|table| {
            let routes = model.tgw_routes(table);
            let mut builder = Builder::with_capacity(routes.len());
            let hops = (0u32..)
                .zip(&routes)
                .map(|(value, route)| {
                    builder.insert(route.destination, value).expect("route indexes fit in 31 bits");
                    route
                        .attachment
                        .as_ref()
                        .and_then(|a| attachment_index.get(a))
                        .map_or(TgwHop::Blackhole, |&i| TgwHop::Attachment(i))
                })
                .collect();
            let tgw = tgw_index.get(&table.tgw).copied().unwrap_or(u32::MAX);
            TgwTable { tgw, lpm: builder.build(), hops }
        })
        .collect();
    let attachments: Vec<AttachmentEntry> = model
        .tgw_attachments()
        .map(|a| {
            let mut zones = [None; ZONES.len()];
            for s in a.subnets() {
                let (Ok(subnet), Some(table)) = (model.subnet(&s.subnet), table_of(&s.subnet))
                else {
                    continue;
                };
                let Some(cidr) = subnet.cidr else { continue };
                zones[zone_of(&subnet.zone)] = Some(AttachmentZone {
                    subnet: cidr,
                    table: table_index[&table.id],
                    acl: acl_of(&subnet.id),
                });
            }
            let table_in = |tgw| a.association_in(tgw).map_or(NO_TABLE, |t| tgw_table_index[t]);
            let peering = a.peer().filter(|_| a.carries()).map(|peer| PeeringSides {
                tgws: [a.tgw.clone(), peer.clone()].map(|t| tgw_index[&t]),
                tables: [table_in(&a.tgw), table_in(peer)],
            });
            AttachmentEntry {
                vpc: a.vpc().and_then(|v| vpc_index.get(v)).copied().unwrap_or(u32::MAX),
                table: table_in(&a.tgw),
                appliance_mode: a.vpc_options().is_some_and(|o| o.appliance_mode_support),
                zones,
                peering,
                vpn: a.vpn_connection().is_some(),
                vpn_port: a.vpn_connection().and_then(|c| ports.vpn(c)),
            }
        })
        .collect();

    // A VPC's hosts are /32s: with a root of 8 bits a lookup takes the same four
    // node loads as with the default 12 (strides of 6 from 8 end at 32), and the root
    // is 1 KiB instead of 16 (a thousand VPCs' roots were rewritten on every change).
    // Each VPC's hosts, as (address, port) in the order found, made a trie at the end.
    let mut hosts: Vec<Vec<(Ipv4Net, Port)>> = model.vpcs().map(|_| Vec::new()).collect();
    let hashing = FlowHashing::random();
    let mut hosts6: Vec<HashMap<Ipv6Addr, Port, FlowHashing>> =
        model.vpcs().map(|_| HashMap::with_hasher(hashing)).collect();
    let mut public = Builder::new();
    let max_port = ports
        .iter()
        .map(|(_, p)| p)
        .chain(ports.by_interface.values().copied())
        .chain(ports.by_vpn.values().copied())
        .max()
        .unwrap_or(INTERNET);
    let mut port_table = vec![PortEntry::Vacant; max_port as usize + 1];
    let mut rules = Vec::new();
    port_table[INTERNET as usize] = PortEntry::Internet;
    let vgws = compile_vgws(model, ports, &vpc_index, &mut port_table);
    // Connections to a transit gateway: their tunnels lead into the hub.
    for (index, a) in (0u32..).zip(attachments.iter()) {
        if let Some(slot) = a.vpn_port.and_then(|p| port_table.get_mut(p as usize)) {
            *slot = PortEntry::Vpn(VpnPort { vpc: u32::MAX, attachment: index });
        }
    }

    // What place alone decides of an instance interface's entry — its VPC, table, ACL,
    // zone, DNS server — found once per subnet, not per interface; the caller sets the
    // rest. (`None`: a subnet without a route table, whose interfaces get no entry.)
    // (With the subnet's VPC's id: an interface's own is that one.)
    let placements: HashMap<
        &vpclab_model::SubnetId,
        (InstancePort, &vpclab_model::VpcId),
        FlowHashing,
    > = model
        .subnets()
        .filter_map(|subnet| {
            let (Some(&vpc), Some(table)) = (vpc_index.get(&subnet.vpc), table_of(&subnet.id))
            else {
                return None;
            };
            let place = InstancePort {
                vpc,
                table: table_index[&table.id],
                subnet: subnet.cidr.unwrap_or(NO_IPV4),
                subnet6: <Ipv6Net as RouteFamily>::subnet_block(subnet),
                zone: zone_of(&subnet.zone) as u8,
                private: Ipv4Addr::UNSPECIFIED,
                public: None,
                resolver: model.vpc(&subnet.vpc).map_or(Ipv4Addr::UNSPECIFIED, |v| v.dns_server()),
                rules: 0,
                acl: acl_of(&subnet.id),
                flow_log: false,
                source_dest_check: true,
            };
            Some((&subnet.id, (place, &subnet.vpc)))
        })
        .collect();
    // Instances with the same groups (and default tracking) share their rules: by VPC
    // index and group list, the rules' index.
    let mut same_rules: HashMap<(u32, &[SecurityGroupId]), u32, FlowHashing> =
        HashMap::with_hasher(hashing);
    // The model lists its instances in id order: their ports are found on one walk.
    let mut instance_ports = ports.instance_ports();
    for instance in model.running_instances() {
        let Some(port) = instance_ports.get(&instance.id) else {
            continue;
        };
        let Some(&(place, subnet_vpc)) = placements.get(&instance.subnet) else {
            continue;
        };
        let vpc = place.vpc;
        // The index of the instance's own VPC (its subnet's, unless the model says not).
        let own_vpc = if instance.vpc == *subnet_vpc {
            Some(vpc)
        } else {
            vpc_index.get(&instance.vpc).copied()
        };
        let public_ip = instance
            .public_ip
            .as_ref()
            .map(|(ip, _)| *ip)
            .filter(|_| own_vpc.is_some_and(|v| with_gateway[v as usize]));
        if let Some(ip) = instance.private_ip {
            hosts[vpc as usize].push((Ipv4Net::from(ip), port));
        }
        for &ip in &instance.ipv6_addresses {
            hosts6[vpc as usize].insert(ip, port);
        }
        if let Some(ip) = public_ip {
            public.insert(Ipv4Net::from(ip), port).expect("ports fit in 31 bits");
        }
        let groups = instance.security_groups.as_slice();
        let shared = own_vpc.filter(|_| instance.connection_tracking.is_none());
        let rules_index = match shared {
            Some(vpc) => *same_rules.entry((vpc, groups)).or_insert_with(|| {
                rules.push(rules_of(&instance.vpc, groups, None));
                rules.len() as u32 - 1
            }),
            None => {
                rules.push(rules_of(&instance.vpc, groups, instance.connection_tracking));
                rules.len() as u32 - 1
            }
        };
        port_table[port as usize] = PortEntry::Instance(InstancePort {
            private: instance.private_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            public: public_ip,
            rules: rules_index,
            flow_log: model.flow_logs_of(instance).next().is_some(),
            source_dest_check: instance.source_dest_check,
            ..place
        });
        // Its other interfaces (`eth1`, …): each a port of its own, in its own subnet.
        for eni in attached.get(&instance.id).into_iter().flatten() {
            let (Some(port), Some(&(place, _))) =
                (ports.interface(&eni.id), placements.get(&eni.subnet))
            else {
                continue;
            };
            if let Some(ip) = eni.private_ip {
                hosts[vpc as usize].push((Ipv4Net::from(ip), port));
            }
            for &ip in &eni.ipv6_addresses {
                hosts6[vpc as usize].insert(ip, port);
            }
            let rules_index = rules.len() as u32;
            port_table[port as usize] = PortEntry::Instance(InstancePort {
                private: eni.private_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                rules: rules_index,
                flow_log: model.flow_logs().any(|f| f.resource.covers_interface(eni)),
                source_dest_check: eni.source_dest_check,
                ..place
            });
            rules.push(rules_of(&eni.vpc, &eni.security_groups, eni.connection_tracking));
        }
    }

    let mut endpoints = Vec::new();
    let mut endpoint_addresses = Builder::new();
    for endpoint in model.vpc_endpoints() {
        let (Some(interface), Some(&vpc)) = (&endpoint.interface, vpc_index.get(&endpoint.vpc))
        else {
            continue;
        };
        let rules_index = rules.len() as u32;
        rules.push(rules_of(&endpoint.vpc, &interface.security_groups, None));
        for i in &interface.interfaces {
            let (Ok(subnet), Ok(table)) =
                (model.subnet(&i.subnet), model.route_table_of(&i.subnet))
            else {
                continue;
            };
            let Some(cidr) = subnet.cidr else { continue };
            let Some(&slot) = ports.endpoint_slots.get(&i.interface) else { continue };
            hosts[vpc as usize].push((Ipv4Net::from(i.private_ip), ENDPOINT_TARGET + slot));
            endpoint_addresses
                .insert(Ipv4Net::from(i.private_ip), 1)
                .expect("one value fits in 31 bits");
            if endpoints.len() <= slot as usize {
                endpoints.resize(slot as usize + 1, None);
            }
            endpoints[slot as usize] = Some(EndpointEntry {
                vpc,
                subnet: cidr,
                table: table_index[&table.id],
                zone: zone_of(&subnet.zone) as u8,
                acl: acl_of(&subnet.id),
                rules: rules_index,
                address: i.private_ip,
                service: endpoint.cidr.addr(),
            });
        }
    }

    // Public gateways by their Elastic IPs; private ones by their own addresses, which
    // only steering reads (VPCs may overlap: the pipeline asks the gateway's VPC).
    let nats: Vec<NatEntry> = nat_gateways.into_iter().map(|(_, entry)| entry).collect();
    let mut private_nats = Builder::new();
    for (nat, index) in nats.iter().zip(0..) {
        let at = Ipv4Net::from(nat.outside);
        match nat.public {
            true => public.insert(at, NAT_TARGET + index),
            false => private_nats.insert(at, index),
        }
        .expect("fits in 31 bits");
    }
    let private_nats = private_nats.build();
    let mut blocks6 = Builder::new();
    let mut any6 = false;
    for (vpc, index) in model.vpcs().zip(0u32..) {
        for block in <Ipv6Net as RouteFamily>::vpc_blocks(vpc) {
            blocks6.insert(block, index).expect("VPC indexes fit in 31 bits");
            any6 = true;
        }
    }
    let blocks6 = if any6 { blocks6.build() } else { Lpm6::default() };

    Snapshot {
        generation,
        ports: port_table,
        vgws,
        tables,
        vpcs: hosts
            .into_iter()
            .zip(hosts6)
            .zip(model.vpcs())
            .zip(0..)
            .map(|(((hosts, b6), vpc), index)| VpcEntry {
                hosts: tries.hosts.trie(&vpc.id, hosts, round),
                hosts6: b6,
                cidrs6: <Ipv6Net as RouteFamily>::vpc_blocks(vpc),
                internet: with_gateway[index as usize],
                cidrs: vpc.cidrs().collect(),
                private_nats: (0..)
                    .zip(&nats)
                    .filter(|(_, n)| n.vpc == index && !n.public)
                    .map(|(i, n)| (n.private, i))
                    .collect(),
            })
            .collect(),
        public: public.build(),
        nats,
        private_nats,
        blocks6,
        rules,
        acls,
        tgw_tables,
        transit_gateways: model.transit_gateways().count() as u32,
        attachments,
        endpoints,
        endpoint_addresses: endpoint_addresses.build(),
        flow_interval_ms: model
            .flow_logs()
            .map(|f| u64::from(f.spec.max_aggregation_interval) * 1000)
            .min()
            .unwrap_or(0),
    }
}

/// The virtual private gateways, in the model's order, and their connections' ports in
/// `port_table` (connections without a port — no device yet — are left out).
fn compile_vgws(
    model: &Model,
    ports: &PortMap,
    vpc_index: &IndexById<'_, vpclab_model::VpcId>,
    port_table: &mut [PortEntry],
) -> Vec<VgwEntry> {
    model
        .vpn_gateways()
        .map(|vgw| {
            let vpc = vgw.attached_to().and_then(|v| vpc_index.get(v)).copied().unwrap_or(u32::MAX);
            let connections = model.vpn_connections().filter(|c| c.vpn_gateway() == Some(&vgw.id));
            // On equal prefixes the last inserted wins, and AWS prefers a connection's
            // static route to a BGP one: BGP's routes first, then the static ones. Both
            // only while their tunnels are up (AWS withdraws them otherwise).
            let (mut bgp, mut statics) = (Vec::new(), Vec::new());
            for c in connections {
                let Some(port) = ports.vpn(&c.id) else { continue };
                if let Some(slot) = port_table.get_mut(port as usize) {
                    *slot = PortEntry::Vpn(VpnPort { vpc, attachment: u32::MAX });
                }
                bgp.extend(c.learned_routes().map(|r| (r, port)));
                statics.extend(c.static_routes_in_force().map(|r| (r, port)));
            }
            let mut builder = Builder::new();
            for (prefix, port) in bgp.into_iter().chain(statics) {
                builder.insert(prefix, port).expect("ports fit in 31 bits");
            }
            VgwEntry { lpm: builder.build() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Against the plain definition: a device that comes is given the lowest port
        /// no other device holds, and keeps it until it goes.
        #[test]
        fn ports_are_the_lowest_free(ops in proptest::collection::vec((any::<bool>(), any::<bool>(), 0u8..12), 0..200)) {
            let mut map = PortMap::new();
            let mut held: BTreeMap<(bool, u8), Port> = BTreeMap::new();
            for (interface, assign, key) in ops {
                let (instance, eni) = (
                    InstanceId::parse(&format!("i-{key:x}")).unwrap(),
                    NetworkInterfaceId::parse(&format!("eni-{key:x}")).unwrap(),
                );
                if assign {
                    let in_use: BTreeSet<Port> = held.values().copied().collect();
                    let lowest = (INTERNET + 1..).find(|p| !in_use.contains(p)).unwrap();
                    let expected = held.get(&(interface, key)).copied().unwrap_or(lowest);
                    let got = if interface { map.assign_interface(&eni) } else { map.assign(&instance) };
                    prop_assert_eq!(got, expected);
                    held.insert((interface, key), got);
                } else {
                    let released = if interface { map.release_interface(&eni) } else { map.release(&instance) };
                    prop_assert_eq!(released, held.remove(&(interface, key)));
                }
            }
        }
    }

    /// A change the property below makes to a lab, by index into what exists (modulo).
    #[derive(Clone, Debug)]
    enum Change {
        Vpc,
        /// An instance in a VPC's first subnet.
        Run(usize),
        Terminate(usize),
        StopOrStart(usize),
        /// A rule in a VPC's default group: SSH from a range.
        FromRange(usize, u8),
        /// A rule in a VPC's default group: SSH from another VPC's default group.
        FromGroup(usize, usize),
        Peer(usize, usize),
        Unpeer(usize),
        /// A route over a peering connection, to the peer's block, in a VPC's first table.
        RouteToPeer(usize),
        /// An internet gateway attached to a VPC, and its default route.
        Internet(usize),
        /// A deny entry in a VPC's default network ACL.
        Deny(usize, u8),
    }

    fn change() -> impl Strategy<Value = Change> {
        let i = || 0usize..16;
        prop_oneof![
            1 => Just(Change::Vpc),
            3 => i().prop_map(Change::Run),
            1 => i().prop_map(Change::Terminate),
            1 => i().prop_map(Change::StopOrStart),
            1 => (i(), any::<u8>()).prop_map(|(v, n)| Change::FromRange(v, n)),
            1 => (i(), i()).prop_map(|(v, w)| Change::FromGroup(v, w)),
            1 => (i(), i()).prop_map(|(v, w)| Change::Peer(v, w)),
            1 => i().prop_map(Change::Unpeer),
            1 => i().prop_map(Change::RouteToPeer),
            1 => i().prop_map(Change::Internet),
            1 => (i(), any::<u8>()).prop_map(|(v, n)| Change::Deny(v, n)),
        ]
    }

    /// Makes `change` to `m` (with the ports of instances that come and go), as the API
    /// does: on a copy, kept only if the model accepts it.
    fn apply(m: &mut Model, ports: &mut PortMap, change: &Change) {
        use vpclab_model::{AclEntry, Peer, Protocol, RouteSpec, RunInstance, SgRule, Tags};
        let pick = |n: usize, len: usize| (len > 0).then(|| n % len);
        let vpcs: Vec<VpcId> = m.vpcs().map(|v| v.id.clone()).collect();
        let vpc = |n: usize| pick(n, vpcs.len()).map(|i| vpcs[i].clone());
        let instances: Vec<InstanceId> = m.instances().map(|i| i.id.clone()).collect();
        let instance = |n: usize| pick(n, instances.len()).map(|i| instances[i].clone());
        let group = |m: &Model, v: &VpcId| m.vpc(v).ok()?.default_security_group.clone();
        let ssh = |peer| SgRule::new(Protocol::Tcp, 22, 22, peer, None).unwrap();
        let mut next = m.clone();
        let done: Option<()> = (|| {
            let m = &mut next;
            match change {
                Change::Vpc => {
                    let cidr: Ipv4Net = format!("10.{}.0.0/16", vpcs.len()).parse().unwrap();
                    let vpc = m.create_vpc(cidr, Tags::new()).ok()?;
                    m.create_subnet(&vpc, cidr, None, Tags::new()).ok()?;
                }
                Change::Run(v) => {
                    let vpc = vpc(*v)?;
                    let subnet = m.subnets().find(|s| s.vpc == vpc)?.id.clone();
                    let spec = RunInstance { subnet: Some(subnet), ..Default::default() };
                    ports.assign(&m.run_instance(spec).ok()?);
                }
                Change::Terminate(n) => {
                    let id = instance(*n)?;
                    m.terminate_instance(&id, 0).ok()?;
                    ports.release(&id);
                }
                Change::StopOrStart(n) => {
                    let id = instance(*n)?;
                    if !m.stop_instance(&id).ok()? {
                        m.start_instance(&id).ok()?;
                    }
                }
                Change::FromRange(v, n) => {
                    let g = group(m, &vpc(*v)?)?;
                    let range = Peer::Cidr(format!("192.0.2.{n}/32").parse().unwrap());
                    m.authorize(&g, false, vec![ssh(range)]).ok()?;
                }
                Change::FromGroup(v, w) => {
                    let (g, other) = (group(m, &vpc(*v)?)?, group(m, &vpc(*w)?)?);
                    m.authorize(&g, false, vec![ssh(Peer::Group(other))]).ok()?;
                }
                Change::Peer(v, w) => {
                    let pcx = m.create_vpc_peering_connection(&vpc(*v)?, &vpc(*w)?, Tags::new());
                    m.accept_vpc_peering_connection(&pcx.ok()?).ok()?;
                }
                Change::Unpeer(n) => {
                    let all: Vec<_> = m.peering_connections().map(|p| p.id.clone()).collect();
                    m.delete_vpc_peering_connection(&all[pick(*n, all.len())?]).ok()?;
                }
                Change::RouteToPeer(n) => {
                    let all: Vec<_> = m.peering_connections().cloned().collect();
                    let pcx = &all[pick(*n, all.len())?];
                    let table = m.route_tables().find(|t| t.vpc == pcx.requester)?.id.clone();
                    let destination = m.vpc(&pcx.accepter).ok()?.cidrs().next()?;
                    let target = RouteTarget::Peering(pcx.id.clone());
                    m.create_route(&table, RouteSpec { destination, target }).ok()?;
                }
                Change::Internet(v) => {
                    let vpc = vpc(*v)?;
                    let igw = m.create_internet_gateway(Tags::new());
                    m.attach_internet_gateway(&igw, &vpc).ok()?;
                    let table = m.route_tables().find(|t| t.vpc == vpc)?.id.clone();
                    let spec = RouteSpec {
                        destination: "0.0.0.0/0".parse().unwrap(),
                        target: RouteTarget::Gateway(igw),
                    };
                    m.create_route(&table, spec).ok()?;
                }
                Change::Deny(v, n) => {
                    let vpc = vpc(*v)?;
                    let acl = m.network_acls().find(|a| a.vpc == vpc)?.id.clone();
                    let cidr: Ipv4Net = format!("192.0.2.{n}/32").parse().unwrap();
                    let number = i64::from(*n) + 1;
                    let entry = AclEntry::new(
                        number,
                        false,
                        Protocol::Tcp,
                        false,
                        cidr,
                        Some((22, 22)),
                        None,
                    );
                    m.create_network_acl_entry(&acl, entry.ok()?).ok()?;
                }
            }
            Some(())
        })();
        if done.is_some() {
            *m = next;
        }
    }

    /// Compiles the lab after each of `changes`, with a compiler that keeps what it can
    /// and from scratch, and asserts the two alike.
    fn kept_equals_fresh(changes: &[Change]) -> Result<(), TestCaseError> {
        let mut m = Model::new(5);
        let mut ports = PortMap::new();
        let mut compiler = Compiler::default();
        // Three VPCs to begin with, so that most changes find what they work on.
        let begin = [Change::Vpc, Change::Vpc, Change::Vpc];
        for change in begin.iter().chain(changes) {
            apply(&mut m, &mut ports, change);
            ports.prepare(&m);
            let kept = compiler.compile_prepared(&m, &ports, 1);
            let fresh = compile_prepared(&m, &ports, 1);
            prop_assert!(
                kept == fresh,
                "after {:?}:\nkept {:#?}\nfresh {:#?}",
                change,
                kept,
                fresh
            );
        }
        Ok(())
    }

    #[test]
    fn a_new_member_across_a_peering_recompiles_the_rules_that_name_its_group() {
        use Change::*;
        kept_equals_fresh(&[Run(0), Run(1), Peer(0, 1), FromGroup(0, 1), Run(1), Terminate(1)])
            .unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against compiling from scratch: after every change, a compiler that keeps
        /// what it built before gives the same snapshot.
        #[test]
        fn kept_compiles_equal_compiles_from_scratch(changes in proptest::collection::vec(change(), 1..40)) {
            kept_equals_fresh(&changes)?;
        }
    }

    /// A lab of two VPCs with instances in their default groups (which admit their own
    /// members), and the compiled rules of a port as what they admit on TCP port 22 from
    /// each of some addresses.
    fn admitted(snapshot: &Snapshot, port: Port, from: &[Ipv4Addr]) -> Vec<bool> {
        let PortEntry::Instance(me) = snapshot.port(port) else { panic!("port {port}") };
        let rules = &snapshot.rules[me.rules as usize];
        from.iter().map(|&a| rules.ingress.allows(a, crate::wire::proto::TCP, 22, 0)).collect()
    }

    #[test]
    fn kept_rules_are_shared_until_an_input_changes_and_then_compile_as_from_scratch() {
        use vpclab_model::{Peer, Protocol, RunInstance, SgRule, Tags};
        let mut m = Model::new(9);
        let mut ports = PortMap::new();
        let run = |m: &mut Model, ports: &mut PortMap, subnet: &vpclab_model::SubnetId| {
            let spec = RunInstance { subnet: Some(subnet.clone()), ..Default::default() };
            let id = m.run_instance(spec).unwrap();
            (ports.assign(&id), m.instance(&id).unwrap().private_ip.unwrap())
        };
        let mut subnets = Vec::new();
        for cidr in ["10.1.0.0/16", "10.2.0.0/16"] {
            let cidr: Ipv4Net = cidr.parse().unwrap();
            let vpc = m.create_vpc(cidr, Tags::new()).unwrap();
            subnets.push((vpc.clone(), m.create_subnet(&vpc, cidr, None, Tags::new()).unwrap()));
        }
        let (a, a_ip) = run(&mut m, &mut ports, &subnets[0].1);
        let (b, b_ip) = run(&mut m, &mut ports, &subnets[1].1);
        let mut compiler = Compiler::default();
        let same_as_fresh = |kept: &Snapshot, m: &Model, ports: &mut PortMap, from: &[Ipv4Addr]| {
            let fresh = compile(m, ports, 1);
            for port in [a, b] {
                assert_eq!(admitted(kept, port, from), admitted(&fresh, port, from), "port {port}");
            }
        };
        let rules_of = |s: &Snapshot, port| {
            let PortEntry::Instance(me) = s.port(port) else { panic!("port {port}") };
            Arc::clone(&s.rules[me.rules as usize])
        };
        ports.prepare(&m);
        let first = compiler.compile_prepared(&m, &ports, 1);

        // Nothing changed: both shared.
        let second = compiler.compile_prepared(&m, &ports, 2);
        for port in [a, b] {
            assert!(Arc::ptr_eq(&rules_of(&first, port), &rules_of(&second, port)));
        }

        // A new member of `a`'s group: `a` admits it, `b`'s rules are kept.
        let (_, c_ip) = run(&mut m, &mut ports, &subnets[0].1);
        ports.prepare(&m);
        let from = [a_ip, b_ip, c_ip, Ipv4Addr::new(192, 0, 2, 1)];
        let third = compiler.compile_prepared(&m, &ports, 3);
        assert!(!Arc::ptr_eq(&rules_of(&second, a), &rules_of(&third, a)));
        assert!(Arc::ptr_eq(&rules_of(&second, b), &rules_of(&third, b)));
        assert_eq!(admitted(&third, a, &from), [true, false, true, false]);
        same_as_fresh(&third, &m, &mut ports, &from);

        // A rule more in `b`'s group: SSH from anywhere.
        let group = m.vpc(&subnets[1].0).unwrap().default_security_group.clone().unwrap();
        let ssh =
            SgRule::new(Protocol::Tcp, 22, 22, Peer::Cidr("0.0.0.0/0".parse().unwrap()), None);
        m.authorize(&group, false, vec![ssh.unwrap()]).unwrap();
        let fourth = compiler.compile_prepared(&m, &ports, 4);
        assert!(Arc::ptr_eq(&rules_of(&third, a), &rules_of(&fourth, a)));
        assert!(!Arc::ptr_eq(&rules_of(&third, b), &rules_of(&fourth, b)));
        assert_eq!(admitted(&fourth, b, &from), [true; 4]);
        same_as_fresh(&fourth, &m, &mut ports, &from);

        // Peered: nothing of `a`'s rules refers to `b`'s VPC, so they are kept. A
        // reference in `a`'s group to `b`'s admits `b`'s members; once the peering goes,
        // the reference is stale and admits nothing.
        let pcx = m.create_vpc_peering_connection(&subnets[0].0, &subnets[1].0, Tags::new());
        let pcx = pcx.unwrap();
        m.accept_vpc_peering_connection(&pcx).unwrap();
        let fifth = compiler.compile_prepared(&m, &ports, 5);
        assert!(Arc::ptr_eq(&rules_of(&fourth, a), &rules_of(&fifth, a)));
        let a_group = m.vpc(&subnets[0].0).unwrap().default_security_group.clone().unwrap();
        let from_b = SgRule::new(Protocol::Tcp, 22, 22, Peer::Group(group.clone()), None);
        m.authorize(&a_group, false, vec![from_b.unwrap()]).unwrap();
        let sixth = compiler.compile_prepared(&m, &ports, 6);
        assert_eq!(admitted(&sixth, a, &from), [true, true, true, false]);
        same_as_fresh(&sixth, &m, &mut ports, &from);
        m.delete_vpc_peering_connection(&pcx).unwrap();
        let seventh = compiler.compile_prepared(&m, &ports, 7);
        assert!(!Arc::ptr_eq(&rules_of(&sixth, a), &rules_of(&seventh, a)));
        assert_eq!(admitted(&seventh, a, &from), [true, false, true, false]);
        same_as_fresh(&seventh, &m, &mut ports, &from);
        // What no compile used any more is not kept.
        assert_eq!(compiler.rules.kept.len(), 2);
    }
}
