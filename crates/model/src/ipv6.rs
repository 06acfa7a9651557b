//! IPv6 in a VPC: the Amazon-provided /56 blocks of VPCs and the blocks of their
//! subnets, egress-only internet gateways, and what IPv4 and IPv6 routes share
//! ([`RouteFamily`]).
//!
//! AWS's behaviour (`shared/reference/aws-gateways-ipv6-semantics.md` §4): a VPC asks
//! Amazon for a /56 (`AmazonProvidedIpv6CidrBlock`), which it cannot choose; every route
//! table of the VPC gains a `local` route for it; a subnet takes one block from inside
//! it; a released block is never handed out again. vpclab's Amazon pool is the
//! documentation prefix `2001:db8::/32`, carved into /56s in order.

use std::fmt;
use std::net::Ipv6Addr;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::model::{Model, subnet_zone};
use crate::{
    ApiError, EgressOnlyInternetGatewayId, NetworkInterfaceId, Route, RouteOrigin, RouteTable,
    RouteTarget, Subnet, SubnetId, Tags, Vpc, VpcId,
};

/// Where Amazon-provided IPv6 blocks come from in vpclab: the documentation prefix
/// (RFC 3849), so that no lab address is anyone's real one.
pub const AMAZON_IPV6_POOL: Ipv6Net =
    match Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32) {
        Ok(net) => net,
        Err(_) => panic!("a /32"),
    };

/// IPv6 CIDRs a VPC may have (AWS's quota, not adjustable).
pub const MAX_IPV6_CIDRS_PER_VPC: usize = 5;

/// The prefix length of an Amazon-provided VPC block.
const VPC_BLOCK_LEN: u8 = 56;

/// Subnet block lengths AWS accepts: /44 to /64 in steps of 4, inside the VPC's block.
const SUBNET_BLOCK_LENS: [u8; 6] = [44, 48, 52, 56, 60, 64];

/// IPv6 addresses an interface holds at most. AWS's limit is the instance type's
/// IPv4 address limit per interface (2 for a `t3.micro`, 30 for the largest);
/// vpclab has no per-type table and allows 10 whatever the type.
pub const MAX_IPV6_PER_INTERFACE: usize = 10;

/// The IPv6 addresses a launch or AssignIpv6Addresses asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Ipv6Request {
    /// None asked: a launch takes one when its subnet's `AssignIpv6AddressOnCreation`
    /// is on.
    #[default]
    SubnetDefault,
    /// `Ipv6AddressCount`: so many, chosen from the subnet's block.
    Count(u32),
    /// `Ipv6Addresses`: these.
    Addresses(Vec<Ipv6Addr>),
}

/// Where an IPv6 block's association stands. AWS lists a disassociated block for a
/// while after DisassociateVpcCidrBlock / DisassociateSubnetCidrBlock, and clients wait
/// for it (Ansible filters on `ipv6-cidr-block-association.state=disassociated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ipv6BlockState {
    /// In use.
    Associated,
    /// Given back; listed, routes nothing.
    Disassociated,
}

impl Ipv6BlockState {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Ipv6BlockState::Associated => "associated",
            Ipv6BlockState::Disassociated => "disassociated",
        }
    }
}

/// An IPv6 block of a VPC (`vpc-cidr-assoc-…`) or a subnet (`subnet-cidr-assoc-…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Block {
    /// The association id.
    pub id: String,
    /// The block, canonical.
    pub cidr: Ipv6Net,
    /// Associated or (still listed) disassociated.
    pub state: Ipv6BlockState,
}

impl Ipv6Block {
    fn associated(id: String, cidr: Ipv6Net) -> Self {
        Self { id, cidr, state: Ipv6BlockState::Associated }
    }

    /// Whether it is in use.
    pub fn is_associated(&self) -> bool {
        self.state == Ipv6BlockState::Associated
    }
}

/// Marks the block `id` of `blocks` disassociated and forgets the ones disassociated
/// before it: one given-back block stays listed, so the list stays short.
fn give_back(blocks: &mut Vec<Ipv6Block>, id: &str) {
    blocks.retain(|b| b.is_associated() || b.id == id);
    if let Some(b) = blocks.iter_mut().find(|b| b.id == id) {
        b.state = Ipv6BlockState::Disassociated;
    }
}

/// An egress-only internet gateway: IPv6 out of the VPC and the replies back in,
/// nothing unsolicited in (VPC-UG `egress-only-internet-gateway.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressOnlyInternetGateway {
    /// `eigw-…`
    pub id: EgressOnlyInternetGatewayId,
    /// The VPC it is attached to (from creation on; it cannot be detached).
    pub vpc: VpcId,
    /// Tags.
    pub tags: Tags,
}

impl Vpc {
    /// Its associated IPv6 CIDRs.
    pub fn ipv6_cidrs(&self) -> impl Iterator<Item = Ipv6Net> + '_ {
        self.ipv6_blocks.iter().filter(|b| b.is_associated()).map(|b| b.cidr)
    }

    /// Whether it has an IPv6 CIDR.
    pub fn has_ipv6(&self) -> bool {
        self.ipv6_cidrs().next().is_some()
    }
}

impl Subnet {
    /// Its IPv6 CIDR, if it has one.
    pub fn ipv6_cidr(&self) -> Option<Ipv6Net> {
        self.ipv6_blocks.iter().find(|b| b.is_associated()).map(|b| b.cidr)
    }
}

/// What IPv4 and IPv6 routes share: a route table keeps one list per family, looked up
/// apart, and CreateRoute / ReplaceRoute / DeleteRoute check and change either the same
/// way ([`Model::create_route`] and its kin are generic over this).
pub trait RouteFamily: Copy + Eq + fmt::Display + fmt::Debug + Sized {
    /// Whether this is IPv6.
    const IPV6: bool;
    /// How AWS's messages name a destination of this family.
    const PARAMETER: &'static str;
    /// The block with its host bits cleared.
    fn canonical(self) -> Self;
    /// Whether `other` lies inside this block.
    fn covers(&self, other: &Self) -> bool;
    /// The VPC's blocks of this family.
    fn vpc_blocks(vpc: &Vpc) -> Vec<Self>;
    /// The subnet's block of this family, if it has one.
    fn subnet_block(subnet: &Subnet) -> Option<Self>;
    /// The table's routes of this family.
    fn routes(table: &RouteTable) -> &[Route<Self>];
    /// The table's routes of this family, to change.
    fn routes_mut(table: &mut RouteTable) -> &mut Vec<Route<Self>>;
}

impl RouteFamily for Ipv4Net {
    const IPV6: bool = false;
    const PARAMETER: &'static str = "destination-cidr-block";
    fn canonical(self) -> Self {
        self.trunc()
    }
    fn covers(&self, other: &Self) -> bool {
        self.contains(other)
    }
    fn vpc_blocks(vpc: &Vpc) -> Vec<Self> {
        vpc.cidrs().collect()
    }
    fn subnet_block(subnet: &Subnet) -> Option<Self> {
        subnet.cidr
    }
    fn routes(table: &RouteTable) -> &[Route<Self>] {
        &table.routes
    }
    fn routes_mut(table: &mut RouteTable) -> &mut Vec<Route<Self>> {
        &mut table.routes
    }
}

impl RouteFamily for Ipv6Net {
    const IPV6: bool = true;
    const PARAMETER: &'static str = "destination-ipv6-cidr-block";
    fn canonical(self) -> Self {
        self.trunc()
    }
    fn covers(&self, other: &Self) -> bool {
        self.contains(other)
    }
    fn vpc_blocks(vpc: &Vpc) -> Vec<Self> {
        vpc.ipv6_cidrs().collect()
    }
    fn subnet_block(subnet: &Subnet) -> Option<Self> {
        subnet.ipv6_cidr()
    }
    fn routes(table: &RouteTable) -> &[Route<Self>] {
        &table.ipv6_routes
    }
    fn routes_mut(table: &mut RouteTable) -> &mut Vec<Route<Self>> {
        &mut table.ipv6_routes
    }
}

/// The `local` route of a VPC block.
pub(crate) fn local_route<N>(destination: N) -> Route<N> {
    Route {
        destination,
        target: RouteTarget::Local,
        origin: RouteOrigin::CreateRouteTable,
        prefix_list: None,
    }
}

impl Model {
    // ---- VPC blocks ----------------------------------------------------------------

    /// The next /56 of the Amazon pool: blocks are handed out in order and never twice.
    fn take_ipv6_block(&mut self) -> Result<Ipv6Net, ApiError> {
        let blocks = 1u64 << (VPC_BLOCK_LEN - AMAZON_IPV6_POOL.prefix_len());
        let index = self.ipv6_blocks_issued + 1;
        if index >= blocks {
            return Err(ApiError::new(
                "InsufficientCidrBlocks",
                "There are not enough free IPv6 CIDR blocks in the Amazon pool.",
            ));
        }
        self.ipv6_blocks_issued = index;
        let base = u128::from(AMAZON_IPV6_POOL.network());
        let network = base | u128::from(index) << (128 - VPC_BLOCK_LEN);
        Ok(Ipv6Net::new(Ipv6Addr::from(network), VPC_BLOCK_LEN).expect("a /56"))
    }

    /// AssociateVpcCidrBlock `AmazonProvidedIpv6CidrBlock` (and CreateVpc with it): a /56
    /// from Amazon's pool, with its `local` route in every route table of the VPC and,
    /// when the default network ACL's rules were never changed, its IPv6 rules. One
    /// Amazon block per network border group, and vpclab's Region has one. Returns the
    /// association id and the block.
    pub fn associate_vpc_ipv6(&mut self, vpc: &VpcId) -> Result<(String, Ipv6Net), ApiError> {
        let v = self.vpc(vpc)?;
        if v.has_ipv6() {
            return Err(ApiError::new(
                "CidrLimitExceeded",
                format!(
                    "This network '{vpc}' has met its maximum number of allowed Amazon-provided \
                     IPv6 CIDRs: 1 per network border group ({}).",
                    crate::REGION
                ),
            ));
        }
        if v.ipv6_cidrs().count() >= MAX_IPV6_CIDRS_PER_VPC {
            return Err(ApiError::new(
                "CidrLimitExceeded",
                format!(
                    "This network '{vpc}' has met its maximum number of allowed IPv6 CIDRs: \
                     {MAX_IPV6_CIDRS_PER_VPC}"
                ),
            ));
        }
        let cidr = self.take_ipv6_block()?;
        let id = format!("vpc-cidr-assoc-{}", &self.ids.fresh("x")[2..]);
        for table in self.route_tables.values_mut().filter(|t| &t.vpc == vpc) {
            table.ipv6_routes.push(local_route(cidr));
        }
        self.add_default_acl_ipv6_rules(vpc);
        self.add_default_group_ipv6_egress(vpc);
        if let Some(v) = self.vpcs.get_mut(vpc) {
            v.ipv6_blocks.push(Ipv6Block::associated(id.clone(), cidr));
        }
        Ok((id, cidr))
    }

    /// The VPC holding the IPv6 association `id`, associated or still listed.
    pub fn vpc_of_ipv6_association(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.values().find(|v| v.ipv6_blocks.iter().any(|b| b.id == id))
    }

    /// DisassociateVpcCidrBlock of an IPv6 block: refused while a subnet has a block
    /// inside it; its `local` routes go. Returns the VPC and the block.
    pub fn disassociate_vpc_ipv6(&mut self, id: &str) -> Result<(VpcId, Ipv6Net), ApiError> {
        let not_found = || {
            ApiError::new(
                "InvalidVpcCidrBlockAssociationID.NotFound",
                format!("The vpc CIDR block association ID '{id}' does not exist"),
            )
        };
        let v = self.vpc_of_ipv6_association(id).ok_or_else(not_found)?;
        let block = v.ipv6_blocks.iter().find(|b| b.id == id).ok_or_else(not_found)?;
        if !block.is_associated() {
            return Err(ApiError::new(
                "IncorrectState",
                format!("The vpc CIDR block association '{id}' is disassociated."),
            ));
        }
        let (vpc, cidr) = (v.id.clone(), block.cidr);
        let used = self
            .subnets
            .values()
            .any(|s| s.vpc == vpc && s.ipv6_cidr().is_some_and(|c| cidr.contains(&c)));
        if used {
            return Err(ApiError::new(
                "DependencyViolation",
                format!("The CIDR '{cidr}' has dependencies and cannot be disassociated."),
            ));
        }
        for table in self.route_tables.values_mut().filter(|t| t.vpc == vpc) {
            table
                .ipv6_routes
                .retain(|r| !(r.target == RouteTarget::Local && r.destination == cidr));
        }
        if let Some(v) = self.vpcs.get_mut(&vpc) {
            give_back(&mut v.ipv6_blocks, id);
        }
        Ok((vpc, cidr))
    }

    // ---- subnet blocks -------------------------------------------------------------

    /// AssociateSubnetCidrBlock (and CreateSubnet with `Ipv6CidrBlock`): one block per
    /// subnet, /44 to /64 in steps of 4, inside one of the VPC's IPv6 blocks, overlapping
    /// no other subnet's. Returns the association id.
    pub fn associate_subnet_ipv6(
        &mut self,
        subnet: &SubnetId,
        cidr: Ipv6Net,
    ) -> Result<String, ApiError> {
        let s = self.subnet(subnet)?;
        if let Some(existing) = s.ipv6_cidr() {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!(
                    "The subnet '{subnet}' already has the IPv6 CIDR block '{existing}': a subnet \
                     has one."
                ),
            ));
        }
        let canonical = self.free_subnet_ipv6(&s.vpc, cidr)?;
        let id = format!("subnet-cidr-assoc-{}", &self.ids.fresh("x")[2..]);
        if let Some(s) = self.subnets.get_mut(subnet) {
            s.ipv6_blocks.retain(Ipv6Block::is_associated);
            s.ipv6_blocks.push(Ipv6Block::associated(id.clone(), canonical));
        }
        Ok(id)
    }

    /// `cidr`, canonical, if a subnet of `vpc` may take it: /44 to /64 in steps of 4,
    /// inside one of the VPC's IPv6 blocks, overlapping no other subnet's (the subnet
    /// asking has none yet).
    fn free_subnet_ipv6(&self, vpc: &VpcId, cidr: Ipv6Net) -> Result<Ipv6Net, ApiError> {
        if !SUBNET_BLOCK_LENS.contains(&cidr.prefix_len()) {
            return Err(ApiError::invalid_value(format!(
                "invalid value for parameter ipv6-cidr-block: {cidr} (a subnet's IPv6 block is \
                 a /44 to a /64, in steps of 4)"
            )));
        }
        let canonical = cidr.trunc();
        if !self.vpc(vpc)?.ipv6_cidrs().any(|c| c.contains(&canonical)) {
            return Err(ApiError::new(
                "InvalidSubnet.Range",
                format!("The IPv6 CIDR '{cidr}' is invalid."),
            ));
        }
        let clash = self.subnets.values().filter(|o| &o.vpc == vpc).any(|o| {
            o.ipv6_cidr().is_some_and(|c| c.contains(&canonical) || canonical.contains(&c))
        });
        if clash {
            return Err(ApiError::new(
                "InvalidSubnet.Conflict",
                format!("The CIDR '{cidr}' conflicts with another subnet"),
            ));
        }
        Ok(canonical)
    }

    /// CreateSubnet with `Ipv6Native`: an IPv6-only subnet, its one block `cidr` and no
    /// IPv4 block. Its instances get an IPv6 address at launch and resource names with
    /// AAAA records (`AssignIpv6AddressOnCreation` and the hostname options are set so,
    /// as AWS reports them).
    pub fn create_ipv6_native_subnet(
        &mut self,
        vpc: &VpcId,
        cidr: Ipv6Net,
        zone: Option<&str>,
        tags: Tags,
    ) -> Result<SubnetId, ApiError> {
        let zone = subnet_zone(zone)?;
        let canonical = self.free_subnet_ipv6(vpc, cidr)?;
        let association = format!("subnet-cidr-assoc-{}", &self.ids.fresh("x")[2..]);
        let id = self.insert_subnet(vpc, None, zone, tags);
        let s = self.subnet_mut(&id)?;
        s.ipv6_blocks.push(Ipv6Block::associated(association, canonical));
        s.assign_ipv6_on_creation = true;
        s.dns_names_on_launch = crate::DnsNameOptions::IPV6_NATIVE;
        Ok(id)
    }

    /// The subnet holding the IPv6 association `id`, associated or still listed.
    pub fn subnet_of_ipv6_association(&self, id: &str) -> Option<&Subnet> {
        self.subnets.values().find(|s| s.ipv6_blocks.iter().any(|b| b.id == id))
    }

    /// DisassociateSubnetCidrBlock: refused while an instance or interface of the
    /// subnet holds an address of the block. Returns the subnet and the block.
    pub fn disassociate_subnet_ipv6(&mut self, id: &str) -> Result<(SubnetId, Ipv6Net), ApiError> {
        let not_found = || {
            ApiError::new(
                "InvalidSubnetCidrBlockAssociationID.NotFound",
                format!("The subnet CIDR block association ID '{id}' does not exist"),
            )
        };
        let s = self.subnet_of_ipv6_association(id).ok_or_else(not_found)?;
        let block = s.ipv6_blocks.iter().find(|b| b.id == id).ok_or_else(not_found)?;
        if !block.is_associated() {
            return Err(ApiError::new(
                "IncorrectState",
                format!("The subnet CIDR block association '{id}' is disassociated."),
            ));
        }
        let (subnet, cidr) = (s.id.clone(), block.cidr);
        if s.ipv6_native() {
            return Err(ApiError::invalid_value(format!(
                "The IPv6 CIDR '{cidr}' is the only block of the IPv6-only subnet '{subnet}' and \
                 cannot be disassociated."
            )));
        }
        if self.ipv6_addresses_in(&subnet).next().is_some() {
            return Err(ApiError::new(
                "DependencyViolation",
                format!(
                    "The IPv6 CIDR '{cidr}' of '{subnet}' has addresses in use and cannot be \
                     disassociated."
                ),
            ));
        }
        if let Some(s) = self.subnets.get_mut(&subnet) {
            give_back(&mut s.ipv6_blocks, id);
            s.assign_ipv6_on_creation = false;
        }
        Ok((subnet, cidr))
    }

    /// ModifySubnetAttribute `AssignIpv6AddressOnCreation`: needs an IPv6 block to
    /// turn on.
    pub fn set_assign_ipv6_on_creation(&mut self, id: &SubnetId, on: bool) -> Result<(), ApiError> {
        if !on && self.subnet(id)?.ipv6_native() {
            return Err(ApiError::invalid_value(format!(
                "Invalid value 'false' for AssignIpv6AddressOnCreation: the subnet '{id}' is \
                 IPv6-only and its instances always get an IPv6 address."
            )));
        }
        if on && self.subnet(id)?.ipv6_cidr().is_none() {
            return Err(ApiError::invalid_value(format!(
                "Invalid value 'true' for AssignIpv6AddressOnCreation: the subnet '{id}' has no \
                 IPv6 CIDR block."
            )));
        }
        self.subnet_mut(id)?.assign_ipv6_on_creation = on;
        Ok(())
    }

    /// ModifySubnetAttribute `EnableDns64`.
    pub fn set_enable_dns64(&mut self, id: &SubnetId, on: bool) -> Result<(), ApiError> {
        self.subnet_mut(id)?.enable_dns64 = on;
        Ok(())
    }

    /// Subnet `id`, to change (the subnets this model shares with copies made its own).
    pub(crate) fn subnet_mut(&mut self, id: &SubnetId) -> Result<&mut Subnet, ApiError> {
        self.subnet(id)?;
        Ok(self.subnets.get_mut(id).expect("checked"))
    }

    /// IPv6 addresses held in `subnet` by instances (their primary interfaces) and
    /// network interfaces.
    pub fn ipv6_addresses_in<'a>(
        &'a self,
        subnet: &'a SubnetId,
    ) -> impl Iterator<Item = Ipv6Addr> + 'a {
        let instances = self
            .instances
            .values()
            .filter(move |i| &i.subnet == subnet)
            .flat_map(|i| i.ipv6_addresses.iter().copied());
        let interfaces = self
            .network_interfaces
            .values()
            .filter(move |n| &n.subnet == subnet)
            .flat_map(|n| n.ipv6_addresses.iter().copied());
        instances.chain(interfaces)
    }

    // ---- interface addresses -------------------------------------------------------

    /// Whether `addr` is held by an instance or interface of `subnet`.
    fn ipv6_in_use(&self, subnet: &SubnetId, addr: Ipv6Addr) -> bool {
        self.ipv6_addresses_in(subnet).any(|a| a == addr)
    }

    /// The addresses `request` gives an interface of `subnet` that already holds
    /// `held`: chosen ones checked (in the subnet's block, not reserved, free), counted
    /// ones picked at random-looking interface ids (as AWS picks them), all within
    /// [`MAX_IPV6_PER_INTERFACE`]. A launch's `SubnetDefault` is one address when the
    /// subnet assigns on creation, else none.
    pub(crate) fn new_ipv6_addresses(
        &mut self,
        subnet: &SubnetId,
        held: usize,
        request: &Ipv6Request,
    ) -> Result<Vec<Ipv6Addr>, ApiError> {
        let s = self.subnet(subnet)?;
        let wanted = match request {
            Ipv6Request::SubnetDefault => usize::from(s.assign_ipv6_on_creation),
            Ipv6Request::Count(n) => *n as usize,
            Ipv6Request::Addresses(list) => list.len(),
        };
        if wanted == 0 && held == 0 && s.ipv6_native() {
            return Err(ApiError::invalid_value(format!(
                "The subnet '{subnet}' is IPv6-only: an interface in it needs an IPv6 address \
                 (Ipv6AddressCount of at least 1)."
            )));
        }
        if wanted == 0 {
            return Ok(Vec::new());
        }
        let Some(block) = s.ipv6_cidr() else {
            return Err(ApiError::invalid_value(format!(
                "The subnet '{subnet}' has no IPv6 CIDR block: associate one \
                 (AssociateSubnetCidrBlock) before asking for IPv6 addresses."
            )));
        };
        if held + wanted > MAX_IPV6_PER_INTERFACE {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!(
                    "An interface holds at most {MAX_IPV6_PER_INTERFACE} IPv6 addresses; it \
                     has {held} and {wanted} more were asked for."
                ),
            ));
        }
        let reserved = |a: Ipv6Addr| {
            let offset = u128::from(a) - u128::from(block.network());
            offset < 4 || a == block.broadcast()
        };
        let mut out: Vec<Ipv6Addr> = Vec::with_capacity(wanted);
        match request {
            Ipv6Request::Addresses(list) => {
                for &a in list {
                    if !block.contains(&a) {
                        return Err(ApiError::invalid_value(format!(
                            "Address {a} does not fall within the subnet's IPv6 range {block}"
                        )));
                    }
                    if reserved(a) {
                        return Err(ApiError::invalid_value(format!(
                            "Address {a} is in subnet's reserved address range"
                        )));
                    }
                    if self.ipv6_in_use(subnet, a) || out.contains(&a) {
                        return Err(ApiError::new(
                            "InvalidIPAddress.InUse",
                            format!("Address {a} is in use."),
                        ));
                    }
                    out.push(a);
                }
            }
            Ipv6Request::SubnetDefault | Ipv6Request::Count(_) => {
                let host_bits = 128 - u32::from(block.prefix_len());
                let host_mask = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
                let base = u128::from(block.network());
                // Bounded: a draw collides with a held or reserved address with odds
                // of about one in 2^64, so a few draws always do.
                for _ in 0..wanted * 8 {
                    if out.len() == wanted {
                        break;
                    }
                    let a = Ipv6Addr::from(base | (u128::from(self.ids.draw()) & host_mask));
                    if !reserved(a) && !self.ipv6_in_use(subnet, a) && !out.contains(&a) {
                        out.push(a);
                    }
                }
                if out.len() < wanted {
                    return Err(ApiError::new(
                        "InsufficientFreeAddressesInSubnet",
                        format!("There are not enough free IPv6 addresses in subnet '{subnet}'."),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The IPv6 addresses of the interface `eni` (an instance's primary or one of
    /// one's own), with its subnet.
    pub fn interface_ipv6(
        &self,
        eni: &NetworkInterfaceId,
    ) -> Result<(SubnetId, &[Ipv6Addr]), ApiError> {
        if let Some(i) = self.instances.values().find(|i| &i.interface == eni) {
            return Ok((i.subnet.clone(), &i.ipv6_addresses));
        }
        let n = self.network_interface(eni)?;
        Ok((n.subnet.clone(), &n.ipv6_addresses))
    }

    fn interface_ipv6_mut(&mut self, eni: &NetworkInterfaceId) -> Option<&mut Vec<Ipv6Addr>> {
        if let Some(i) = self.instances.values_mut().find(|i| &i.interface == eni) {
            return Some(&mut i.ipv6_addresses);
        }
        self.network_interfaces.get_mut(eni).map(|n| &mut n.ipv6_addresses)
    }

    /// AssignIpv6Addresses: more IPv6 addresses on `eni`. Returns the new ones.
    pub fn assign_ipv6_addresses(
        &mut self,
        eni: &NetworkInterfaceId,
        request: &Ipv6Request,
    ) -> Result<Vec<Ipv6Addr>, ApiError> {
        if matches!(request, Ipv6Request::SubnetDefault | Ipv6Request::Count(0)) {
            return Err(ApiError::new(
                "MissingParameter",
                "The request must contain the parameter ipv6AddressCount or ipv6Addresses",
            ));
        }
        self.add_ipv6_addresses(eni, request)
    }

    /// The addresses `request` asks for, given to `eni` (for a new interface, the
    /// subnet's `AssignIpv6AddressOnCreation` decides what no request means). Returns
    /// the new ones.
    pub fn add_ipv6_addresses(
        &mut self,
        eni: &NetworkInterfaceId,
        request: &Ipv6Request,
    ) -> Result<Vec<Ipv6Addr>, ApiError> {
        let (subnet, held) = self.interface_ipv6(eni)?;
        let held = held.len();
        let added = self.new_ipv6_addresses(&subnet, held, request)?;
        if let Some(list) = self.interface_ipv6_mut(eni) {
            list.extend(&added);
        }
        Ok(added)
    }

    /// UnassignIpv6Addresses: the addresses go back to the subnet. All must be held.
    pub fn unassign_ipv6_addresses(
        &mut self,
        eni: &NetworkInterfaceId,
        addresses: &[Ipv6Addr],
    ) -> Result<(), ApiError> {
        let (subnet, held) = self.interface_ipv6(eni)?;
        if let Some(a) = addresses.iter().find(|a| !held.contains(a)) {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("The address {a} is not assigned to the network interface {eni}."),
            ));
        }
        if held.iter().all(|a| addresses.contains(a)) && self.subnet(&subnet)?.ipv6_native() {
            return Err(ApiError::invalid_value(format!(
                "The network interface {eni} is in the IPv6-only subnet {subnet}: it keeps at \
                 least one IPv6 address."
            )));
        }
        if let Some(list) = self.interface_ipv6_mut(eni) {
            list.retain(|a| !addresses.contains(a));
        }
        Ok(())
    }

    // ---- egress-only internet gateways ---------------------------------------------

    /// All egress-only internet gateways.
    pub fn egress_only_gateways(&self) -> impl Iterator<Item = &EgressOnlyInternetGateway> {
        self.egress_only_gateways.values()
    }

    /// One egress-only internet gateway.
    pub fn egress_only_gateway(
        &self,
        id: &EgressOnlyInternetGatewayId,
    ) -> Result<&EgressOnlyInternetGateway, ApiError> {
        self.egress_only_gateways.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidEgressOnlyInternetGatewayId.NotFound",
                format!("The egressOnlyInternetGateway ID '{id}' does not exist"),
            )
        })
    }

    /// CreateEgressOnlyInternetGateway: made attached to `vpc`.
    pub fn create_egress_only_gateway(
        &mut self,
        vpc: &VpcId,
        tags: Tags,
    ) -> Result<EgressOnlyInternetGatewayId, ApiError> {
        self.vpc(vpc)?;
        let id = EgressOnlyInternetGatewayId::from_raw(
            self.ids.fresh(EgressOnlyInternetGatewayId::PREFIX),
        );
        let gateway = EgressOnlyInternetGateway { id: id.clone(), vpc: vpc.clone(), tags };
        self.egress_only_gateways.insert(id.clone(), gateway);
        Ok(id)
    }

    /// DeleteEgressOnlyInternetGateway: its routes stay, as blackholes.
    pub fn delete_egress_only_gateway(
        &mut self,
        id: &EgressOnlyInternetGatewayId,
    ) -> Result<(), ApiError> {
        self.egress_only_gateway(id)?;
        self.egress_only_gateways.remove(id);
        Ok(())
    }

    /// The egress-only internet gateway of `vpc`, if any.
    pub fn egress_only_gateway_of(&self, vpc: &VpcId) -> Option<&EgressOnlyInternetGateway> {
        self.egress_only_gateways.values().find(|g| &g.vpc == vpc)
    }
}
