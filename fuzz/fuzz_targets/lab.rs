#![allow(dead_code)] // shared by every target; each uses part of it
//! The lab every target runs against: two VPCs, a public and a private subnet, an
//! internet gateway, a NAT gateway, a gateway endpoint, a peering, and an instance in
//! each subnet — every path a packet can take.

use vpclab_dataplane_core::snapshot::{Port, PortMap, Snapshot, compile};
use vpclab_model::{Model, RouteSpec, RouteTarget, RunInstance, Tags};

pub struct Lab {
    pub model: Model,
    pub ports: PortMap,
    pub instances: Vec<Port>,
    pub snapshot: Snapshot,
}

pub fn lab() -> Lab {
    let mut m = Model::new(7);
    let a = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let b = m.create_vpc("10.1.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let public = m.create_subnet(&a, "10.0.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let private = m.create_subnet(&a, "10.0.2.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let other = m.create_subnet(&b, "10.1.1.0/24".parse().unwrap(), None, Tags::new()).unwrap();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &a).unwrap();
    let route = |destination: &str, target| RouteSpec { destination: destination.parse().unwrap(), target };
    let public_table = m.create_route_table(&a, Tags::new()).unwrap();
    m.associate_route_table(&public_table, &public).unwrap();
    m.create_route(&public_table, route("0.0.0.0/0", RouteTarget::Gateway(igw))).unwrap();
    m.create_vpc_endpoint(&a, "com.amazonaws.us-east-1.s3", &[public_table.clone()], Tags::new(), 0)
        .unwrap();
    let eip = m.allocate_address(Tags::new()).unwrap();
    let nat = m.create_nat_gateway(vpclab_model::NatGatewaySpec::public(&public, &eip), Tags::new(), 0).unwrap();
    let nat_table = m.create_route_table(&a, Tags::new()).unwrap();
    m.associate_route_table(&nat_table, &private).unwrap();
    m.create_route(&nat_table, route("0.0.0.0/0", RouteTarget::NatGateway(nat))).unwrap();
    let pcx = m.create_vpc_peering_connection(&a, &b, Tags::new()).unwrap();
    m.accept_vpc_peering_connection(&pcx).unwrap();
    m.create_route(&public_table, route("10.1.0.0/16", RouteTarget::Peering(pcx))).unwrap();
    let mut ports = PortMap::new();
    let mut instances = Vec::new();
    for (subnet, public) in [(public, true), (private, false), (other, false)] {
        let spec = RunInstance { subnet: Some(subnet), public_ip: Some(public), ..Default::default() };
        let id = m.run_instance(spec).unwrap();
        instances.push(ports.assign(&id));
    }
    let snapshot = compile(&m, &mut ports, 1);
    Lab { model: m, ports, instances, snapshot }
}
