//! Every refusal carries AWS's code, and a refused request changes nothing.

use std::net::Ipv4Addr;

use vpclab_model::{
    ApiError, InstanceId, Model, NatGatewaySpec, PublicIpSource, RouteSpec, RouteTarget,
    RunInstance, Tags,
};

fn net(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> &'static str {
    r.expect_err("the request must be refused").code
}

fn lab() -> (Model, vpclab_model::VpcId, vpclab_model::SubnetId) {
    let mut m = Model::new(7);
    let vpc = m.create_vpc(net("10.0.0.0/16"), Tags::new()).unwrap();
    let subnet =
        m.create_subnet(&vpc, net("10.0.1.0/24"), Some("us-east-1a"), Tags::new()).unwrap();
    (m, vpc, subnet)
}

#[test]
fn vpc_cidr_must_be_16_to_28_and_is_canonicalised() {
    let mut m = Model::new(1);
    let err = m.create_vpc(net("10.0.0.0/8"), Tags::new()).unwrap_err();
    assert_eq!(err.code, "InvalidVpc.Range");
    assert_eq!(err.message, "The CIDR '10.0.0.0/8' is invalid.");
    assert_eq!(code(m.create_vpc(net("10.0.0.0/29"), Tags::new())), "InvalidVpc.Range");
    assert_eq!(m.vpcs().count(), 0);

    let id = m.create_vpc(net("100.68.0.18/18"), Tags::new()).unwrap();
    assert_eq!(m.vpc(&id).unwrap().cidr, net("100.68.0.0/18"));
    m.create_vpc(net("10.1.0.0/28"), Tags::new()).unwrap();
}

#[test]
fn a_new_vpc_has_a_main_table_with_the_local_route() {
    let (m, vpc, subnet) = lab();
    let main = &m.vpc(&vpc).unwrap().main_route_table;
    let table = m.route_table(main).unwrap();
    assert_eq!(table.routes.len(), 1);
    assert_eq!(table.routes[0].destination, net("10.0.0.0/16"));
    assert_eq!(table.routes[0].target, RouteTarget::Local);
    // Subnets without an explicit association use it.
    assert_eq!(&m.route_table_of(&subnet).unwrap().id, main);
}

#[test]
fn subnets_stay_inside_and_do_not_overlap() {
    let (mut m, vpc, _) = lab();
    let err = m.create_subnet(&vpc, net("10.10.1.0/24"), None, Tags::new()).unwrap_err();
    assert_eq!(err.code, "InvalidSubnet.Range");
    assert_eq!(err.message, "The CIDR '10.10.1.0/24' is invalid.");
    assert_eq!(
        code(m.create_subnet(&vpc, net("10.0.0.0/29"), None, Tags::new())),
        "InvalidSubnet.Range"
    );
    assert_eq!(
        code(m.create_subnet(&vpc, net("10.0.0.0/15"), None, Tags::new())),
        "InvalidSubnet.Range"
    );
    let err = m.create_subnet(&vpc, net("10.0.1.0/24"), None, Tags::new()).unwrap_err();
    assert_eq!(err.code, "InvalidSubnet.Conflict");
    assert_eq!(err.message, "The CIDR '10.0.1.0/24' conflicts with another subnet");
    // Overlap either way round.
    assert_eq!(
        code(m.create_subnet(&vpc, net("10.0.0.0/20"), None, Tags::new())),
        "InvalidSubnet.Conflict"
    );
    assert_eq!(
        code(m.create_subnet(&vpc, net("10.0.1.128/25"), None, Tags::new())),
        "InvalidSubnet.Conflict"
    );
    assert_eq!(
        code(m.create_subnet(&vpc, net("10.0.2.0/24"), Some("us-east-1z"), Tags::new())),
        "InvalidParameterValue"
    );
    assert_eq!(m.subnets().count(), 1);
    // The same CIDR in another VPC is fine.
    let other = m.create_vpc(net("10.0.0.0/16"), Tags::new()).unwrap();
    m.create_subnet(&other, net("10.0.1.0/24"), None, Tags::new()).unwrap();
}

#[test]
fn reserved_addresses_are_the_first_four_and_the_last() {
    let (m, _, subnet) = lab();
    let s = m.subnet(&subnet).unwrap();
    for last in [0, 1, 2, 3, 255] {
        assert!(s.is_reserved(Ipv4Addr::new(10, 0, 1, last)), ".{last}");
    }
    for free in [4, 100, 254] {
        assert!(!s.is_reserved(Ipv4Addr::new(10, 0, 1, free)), ".{free}");
    }
    assert_eq!(s.usable_addresses(), 251);
    assert_eq!(s.router(), Some(Ipv4Addr::new(10, 0, 1, 1)));
}

#[test]
fn instances_get_free_unreserved_addresses() {
    let (mut m, _, subnet) = lab();
    let run = |m: &mut Model, ip: Option<Ipv4Addr>| {
        m.run_instance(RunInstance {
            subnet: Some(subnet.clone()),
            private_ip: ip,
            ..Default::default()
        })
    };
    let a = run(&mut m, None).unwrap();
    assert_eq!(m.instance(&a).unwrap().private_ip, Some(Ipv4Addr::new(10, 0, 1, 4)));
    let b = run(&mut m, Some(Ipv4Addr::new(10, 0, 1, 5))).unwrap();
    let c = run(&mut m, None).unwrap();
    assert_eq!(m.instance(&c).unwrap().private_ip, Some(Ipv4Addr::new(10, 0, 1, 6)));
    assert_eq!(code(run(&mut m, Some(Ipv4Addr::new(10, 0, 1, 5)))), "InvalidIPAddress.InUse");
    assert_eq!(code(run(&mut m, Some(Ipv4Addr::new(10, 0, 1, 1)))), "InvalidParameterValue");
    assert_eq!(code(run(&mut m, Some(Ipv4Addr::new(10, 0, 1, 255)))), "InvalidParameterValue");
    assert_eq!(code(run(&mut m, Some(Ipv4Addr::new(10, 0, 2, 9)))), "InvalidParameterValue");
    assert_eq!(code(m.run_instance(RunInstance::default())), "MissingParameter");
    m.terminate_instance(&b, 0).unwrap();
    let d = run(&mut m, None).unwrap();
    assert_eq!(m.instance(&d).unwrap().private_ip, Some(Ipv4Addr::new(10, 0, 1, 5)));
    assert_eq!(code(m.delete_subnet(&subnet)), "DependencyViolation");
}

#[test]
fn overlapping_vpcs_each_have_their_own_addresses() {
    let (mut m, _, subnet) = lab();
    let other = m.create_vpc(net("10.0.0.0/16"), Tags::new()).unwrap();
    let twin = m.create_subnet(&other, net("10.0.1.0/24"), None, Tags::new()).unwrap();
    let ip = Ipv4Addr::new(10, 0, 1, 4);
    let run = |m: &mut Model, subnet: &vpclab_model::SubnetId, ip| {
        m.run_instance(RunInstance {
            subnet: Some(subnet.clone()),
            private_ip: ip,
            ..Default::default()
        })
    };
    run(&mut m, &subnet, Some(ip)).unwrap();
    let b = run(&mut m, &twin, Some(ip)).expect("the same address in another VPC");
    assert_eq!(m.instance(&b).unwrap().private_ip, Some(ip));
    let c = run(&mut m, &twin, None).unwrap();
    assert_eq!(m.instance(&c).unwrap().private_ip, Some(Ipv4Addr::new(10, 0, 1, 5)));
    assert_eq!(code(run(&mut m, &twin, Some(ip))), "InvalidIPAddress.InUse");
}

#[test]
fn a_28_fills_up_after_eleven_instances() {
    let mut m = Model::new(3);
    let vpc = m.create_vpc(net("10.0.0.0/16"), Tags::new()).unwrap();
    let subnet = m.create_subnet(&vpc, net("10.0.0.16/28"), None, Tags::new()).unwrap();
    for _ in 0..11 {
        m.run_instance(RunInstance { subnet: Some(subnet.clone()), ..Default::default() }).unwrap();
    }
    let err = m.run_instance(RunInstance { subnet: Some(subnet.clone()), ..Default::default() });
    assert_eq!(code(err), "InsufficientFreeAddressesInSubnet");
}

#[test]
fn routes_follow_aws_rules() {
    let (mut m, vpc, subnet) = lab();
    let table = m.create_route_table(&vpc, Tags::new()).unwrap();
    let igw = m.create_internet_gateway(Tags::new());
    let default =
        RouteSpec { destination: net("0.0.0.0/0"), target: RouteTarget::Gateway(igw.clone()) };

    // Not attached yet: a different network.
    assert_eq!(code(m.create_route(&table, default.clone())), "InvalidParameterValue");
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    m.create_route(&table, default.clone()).unwrap();
    let err = m.create_route(&table, default.clone()).unwrap_err();
    assert_eq!(err.code, "RouteAlreadyExists");
    assert_eq!(err.message, "The route identified by 0.0.0.0/0 already exists.");

    // Inside the VPC CIDR a gateway is not a valid target; `local` cannot be added.
    let inside =
        RouteSpec { destination: net("10.0.1.0/24"), target: RouteTarget::Gateway(igw.clone()) };
    assert_eq!(code(m.create_route(&table, inside)), "InvalidParameterValue");
    let local = RouteSpec { destination: net("172.16.0.0/12"), target: RouteTarget::Local };
    assert_eq!(code(m.create_route(&table, local)), "InvalidParameterValue");

    // The local route stays.
    let err = m.delete_route(&table, net("10.0.0.0/16")).unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue");
    assert!(err.message.contains("local route"), "{}", err.message);
    assert_eq!(code(m.delete_route(&table, net("192.168.0.0/16"))), "InvalidRoute.NotFound");
    let missing =
        RouteSpec { destination: net("192.168.0.0/16"), target: RouteTarget::Gateway(igw.clone()) };
    assert_eq!(code(m.replace_route(&table, missing)), "InvalidParameterValue");
    m.replace_route(&table, default).unwrap();
    m.delete_route(&table, net("0.0.0.0/0")).unwrap();
    assert_eq!(m.route_table(&table).unwrap().routes.len(), 1);

    // Associations.
    let assoc = m.associate_route_table(&table, &subnet).unwrap();
    assert_eq!(m.route_table_of(&subnet).unwrap().id, table);
    assert_eq!(code(m.associate_route_table(&table, &subnet)), "Resource.AlreadyAssociated");
    assert_eq!(code(m.delete_route_table(&table)), "DependencyViolation");
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    assert_eq!(code(m.delete_route_table(&main)), "DependencyViolation");
    m.disassociate_route_table(&assoc).unwrap();
    assert_eq!(m.route_table_of(&subnet).unwrap().id, main);
    m.delete_route_table(&table).unwrap();
    assert_eq!(code(m.route_table(&table)), "InvalidRouteTableID.NotFound");
}

#[test]
fn a_route_to_a_detached_gateway_is_a_blackhole() {
    let (mut m, vpc, _) = lab();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    m.create_route(
        &main,
        RouteSpec { destination: net("0.0.0.0/0"), target: RouteTarget::Gateway(igw.clone()) },
    )
    .unwrap();
    let table = m.route_table(&main).unwrap().clone();
    assert!(!m.is_blackhole(&table, &table.routes[1]));
    m.detach_internet_gateway(&igw, &vpc).unwrap();
    assert!(m.is_blackhole(&table, &table.routes[1]));
}

#[test]
fn internet_gateways_attach_once_and_detach_only_without_public_addresses() {
    let (mut m, vpc, subnet) = lab();
    let other_vpc = m.create_vpc(net("10.1.0.0/16"), Tags::new()).unwrap();
    let igw = m.create_internet_gateway(Tags::new());
    let igw2 = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    assert_eq!(code(m.attach_internet_gateway(&igw, &other_vpc)), "Resource.AlreadyAssociated");
    assert_eq!(code(m.attach_internet_gateway(&igw2, &vpc)), "Resource.AlreadyAssociated");
    assert_eq!(code(m.delete_internet_gateway(&igw)), "DependencyViolation");
    assert_eq!(code(m.detach_internet_gateway(&igw2, &vpc)), "Gateway.NotAttached");

    let i = m
        .run_instance(RunInstance {
            subnet: Some(subnet),
            public_ip: Some(true),
            ..Default::default()
        })
        .unwrap();
    let err = m.detach_internet_gateway(&igw, &vpc).unwrap_err();
    assert_eq!(err.code, "DependencyViolation");
    assert!(err.message.contains("mapped public address"), "{}", err.message);
    m.terminate_instance(&i, 0).unwrap();
    m.detach_internet_gateway(&igw, &vpc).unwrap();
    m.delete_internet_gateway(&igw).unwrap();
    assert_eq!(code(m.delete_vpc(&vpc)), "DependencyViolation");
}

#[test]
fn public_and_elastic_ips_come_from_the_documentation_range() {
    let (mut m, vpc, subnet) = lab();
    let i = m
        .run_instance(RunInstance {
            subnet: Some(subnet.clone()),
            public_ip: Some(true),
            ..Default::default()
        })
        .unwrap();
    let (auto, source) = m.instance(&i).unwrap().public_ip.clone().unwrap();
    assert_eq!(auto, Ipv4Addr::new(203, 0, 113, 10));
    assert_eq!(source, PublicIpSource::Auto);

    let eip = m.allocate_address(Tags::new()).unwrap();
    assert_eq!(m.elastic_ip(&eip).unwrap().public_ip, Ipv4Addr::new(203, 0, 113, 11));
    // No internet gateway yet.
    assert_eq!(code(m.associate_address(&eip, &i, false)), "Gateway.NotAttached");
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let assoc = m.associate_address(&eip, &i, false).unwrap();
    // The Elastic IP replaced the auto-assigned one, which went back to the pool.
    assert_eq!(
        m.instance(&i).unwrap().public_ip.as_ref().unwrap().0,
        Ipv4Addr::new(203, 0, 113, 11)
    );
    let j = m
        .run_instance(RunInstance {
            subnet: Some(subnet),
            public_ip: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        m.instance(&j).unwrap().public_ip.as_ref().unwrap().0,
        Ipv4Addr::new(203, 0, 113, 10)
    );
    assert_eq!(code(m.associate_address(&eip, &j, false)), "Resource.AlreadyAssociated");
    assert_eq!(code(m.release_address(&eip)), "InvalidIPAddress.InUse");
    m.disassociate_address(&assoc).unwrap();
    assert_eq!(m.instance(&i).unwrap().public_ip, None);
    m.release_address(&eip).unwrap();
    assert_eq!(code(m.elastic_ip(&eip)), "InvalidAllocationID.NotFound");
}

#[test]
fn instances_are_found_by_id_or_unique_name() {
    let (mut m, _, subnet) = lab();
    let mut tags = Tags::new();
    tags.insert("Name".into(), "web".into());
    let web = m
        .run_instance(RunInstance {
            subnet: Some(subnet.clone()),
            tags: tags.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.find_instance("web").unwrap().id, web);
    assert_eq!(m.find_instance(web.as_str()).unwrap().id, web);
    m.run_instance(RunInstance { subnet: Some(subnet), tags, ..Default::default() }).unwrap();
    assert!(m.find_instance("web").is_none(), "ambiguous names find nothing");
}

#[test]
fn the_model_round_trips_through_json() {
    let (mut m, _, subnet) = lab();
    m.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
    let text = serde_json::to_string(&m).unwrap();
    let back: Model = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
}

#[test]
fn nat_gateways_take_an_elastic_ip_and_an_address_in_their_subnet() {
    let (mut m, vpc, public) = lab();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let eip = m.allocate_address(Tags::new()).unwrap();
    let nat = m.create_nat_gateway(NatGatewaySpec::public(&public, &eip), Tags::new(), 0).unwrap();
    let n = m.nat_gateway(&nat).unwrap().clone();
    assert!(nat.as_str().starts_with("nat-0"));
    assert_eq!(n.outside_ip(), m.elastic_ip(&eip).unwrap().public_ip);
    assert_eq!(n.private_ip, Ipv4Addr::new(10, 0, 1, 4));
    assert_eq!(n.idle_timeout_s, 350);
    // The address is taken: instances get the next one.
    let i =
        m.run_instance(RunInstance { subnet: Some(public.clone()), ..Default::default() }).unwrap();
    assert_eq!(m.instance(&i).unwrap().private_ip, Some(Ipv4Addr::new(10, 0, 1, 5)));
    assert_eq!(
        code(m.run_instance(RunInstance {
            subnet: Some(public.clone()),
            private_ip: Some(Ipv4Addr::new(10, 0, 1, 4)),
            ..Default::default()
        })),
        "InvalidIPAddress.InUse"
    );
    // The Elastic IP is in use: AWS accepts the gateway and fails it.
    let second = m.create_nat_gateway(NatGatewaySpec::public(&public, &eip), Tags::new(), 0);
    let second = m.nat_gateway(&second.unwrap()).unwrap().clone();
    let failure = second.failure.as_ref().expect("failed");
    assert_eq!(failure.code, "Resource.AlreadyAssociated");
    assert_eq!(failure.message, format!("Elastic IP address {eip} is already associated"));
    assert_eq!(m.elastic_ip(&eip).unwrap().nat_gateway.as_ref(), Some(&nat), "still the first's");
    m.delete_nat_gateway(&second.id, 0).unwrap();
    assert_eq!(m.elastic_ip(&eip).unwrap().nat_gateway.as_ref(), Some(&nat), "still the first's");
    assert_eq!(code(m.associate_address(&eip, &i, true)), "Resource.AlreadyAssociated");
    assert_eq!(code(m.release_address(&eip)), "InvalidIPAddress.InUse");
    // Dependencies.
    assert_eq!(code(m.detach_internet_gateway(&igw, &vpc)), "DependencyViolation");
    m.terminate_instance(&i, 0).unwrap();
    assert_eq!(code(m.delete_subnet(&public)), "DependencyViolation");

    // Routes to it, and blackholes after it goes.
    let private = m.create_route_table(&vpc, Tags::new()).unwrap();
    let default =
        RouteSpec { destination: net("0.0.0.0/0"), target: RouteTarget::NatGateway(nat.clone()) };
    m.create_route(&private, default).unwrap();
    let table = m.route_table(&private).unwrap().clone();
    assert!(!m.is_blackhole(&table, &table.routes[1]));
    m.delete_nat_gateway(&nat, 0).unwrap();
    assert!(m.is_blackhole(&table, &table.routes[1]));
    assert_eq!(code(m.nat_gateway(&nat)), "NatGatewayNotFound");
    m.release_address(&eip).unwrap();
    m.detach_internet_gateway(&igw, &vpc).unwrap();
}

#[test]
fn a_public_nat_gateway_without_an_internet_gateway_fails_and_a_private_one_needs_none() {
    let (mut m, vpc, subnet) = lab();
    let eip = m.allocate_address(Tags::new()).unwrap();
    let public = m.create_nat_gateway(NatGatewaySpec::public(&subnet, &eip), Tags::new(), 0);
    let public = m.nat_gateway(&public.unwrap()).unwrap().clone();
    let failure = public.failure.as_ref().expect("failed");
    assert_eq!(failure.code, "Gateway.NotAttached");
    assert_eq!(failure.message, format!("Network {vpc} has no Internet gateway attached"));
    assert!(m.elastic_ip(&eip).unwrap().nat_gateway.is_none(), "the address stays free");
    let table = m.vpc(&vpc).unwrap().main_route_table.clone();
    let route =
        |nat| RouteSpec { destination: net("0.0.0.0/0"), target: RouteTarget::NatGateway(nat) };
    m.create_route(&table, route(public.id.clone())).unwrap();
    let t = m.route_table(&table).unwrap().clone();
    assert!(m.is_blackhole(&t, &t.routes[1]), "a failed gateway carries nothing");

    // A private gateway: no Elastic IP, no internet gateway needed, an address asked for.
    let asked = NatGatewaySpec {
        private_ip: Some(Ipv4Addr::new(10, 0, 1, 4)),
        ..NatGatewaySpec::private(&subnet)
    };
    let private = m.create_nat_gateway(asked.clone(), Tags::new(), 0).unwrap();
    let private = m.nat_gateway(&private).unwrap().clone();
    assert!(private.failure.is_none() && private.public.is_none());
    assert_eq!(private.outside_ip(), Ipv4Addr::new(10, 0, 1, 4), "its own address");
    assert_eq!(code(m.create_nat_gateway(asked, Tags::new(), 0)), "InvalidIPAddress.InUse");
    let outside = NatGatewaySpec {
        private_ip: Some(Ipv4Addr::new(10, 0, 2, 4)),
        ..NatGatewaySpec::private(&subnet)
    };
    assert_eq!(code(m.create_nat_gateway(outside, Tags::new(), 0)), "InvalidParameterValue");
    m.replace_route(&table, route(private.id.clone())).unwrap();
    let t = m.route_table(&table).unwrap().clone();
    assert!(!m.is_blackhole(&t, &t.routes[1]));
}

#[test]
fn a_route_to_another_vpcs_nat_gateway_is_refused() {
    let (mut m, _, public) = lab();
    let eip = m.allocate_address(Tags::new()).unwrap();
    let nat = m
        .create_nat_gateway(
            NatGatewaySpec { idle_timeout_s: Some(5), ..NatGatewaySpec::public(&public, &eip) },
            Tags::new(),
            0,
        )
        .unwrap();
    assert_eq!(m.nat_gateway(&nat).unwrap().idle_timeout_s, 5);
    let other = m.create_vpc(net("10.1.0.0/16"), Tags::new()).unwrap();
    let table = m.vpc(&other).unwrap().main_route_table.clone();
    let route = RouteSpec { destination: net("0.0.0.0/0"), target: RouteTarget::NatGateway(nat) };
    assert_eq!(code(m.create_route(&table, route)), "InvalidParameterValue");
    let eip2 = m.allocate_address(Tags::new()).unwrap();
    assert_eq!(
        code(m.create_nat_gateway(
            NatGatewaySpec { idle_timeout_s: Some(0), ..NatGatewaySpec::public(&public, &eip2) },
            Tags::new(),
            0
        )),
        "InvalidParameterValue"
    );
}

#[test]
fn a_gateway_endpoint_owns_its_prefix_list_routes() {
    let (mut m, vpc, subnet) = lab();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    let s3 = "com.amazonaws.us-east-1.s3";
    assert_eq!(
        code(m.create_vpc_endpoint(&vpc, "com.amazonaws.us-east-1.nope", &[], Tags::new(), 0)),
        "InvalidServiceName"
    );
    assert_eq!(
        code(m.create_vpc_endpoint(&vpc, "com.amazonaws.us-east-1.sqs", &[], Tags::new(), 0)),
        "InvalidParameter",
        "an interface service as a gateway"
    );
    let other = m.create_vpc(net("10.9.0.0/16"), Tags::new()).unwrap();
    let foreign = m.vpc(&other).unwrap().main_route_table.clone();
    assert_eq!(
        code(m.create_vpc_endpoint(&vpc, s3, std::slice::from_ref(&foreign), Tags::new(), 0)),
        "InvalidParameterValue"
    );
    assert_eq!(m.vpc_endpoints().count(), 0, "a refused request changes nothing");

    let endpoint =
        m.create_vpc_endpoint(&vpc, s3, std::slice::from_ref(&main), Tags::new(), 0).unwrap();
    let route = m.route_table(&main).unwrap().routes.last().unwrap().clone();
    assert_eq!(route.prefix_list.as_deref(), Some("pl-63a5400a"));
    assert_eq!(route.destination, net("192.0.2.0/25"));
    assert_eq!(route.target, RouteTarget::Endpoint(endpoint.clone()));
    assert_eq!(
        code(m.create_vpc_endpoint(&vpc, s3, std::slice::from_ref(&main), Tags::new(), 0)),
        "RouteAlreadyExists"
    );

    // A CIDR route for the same range is a different route, and CreateRoute cannot
    // target the endpoint, nor DeleteRoute remove its route.
    let spec = |target| RouteSpec { destination: net("192.0.2.0/25"), target };
    assert_eq!(
        code(m.create_route(&main, spec(RouteTarget::Endpoint(endpoint.clone())))),
        "RouteNotSupported"
    );
    assert_eq!(code(m.delete_route(&main, net("192.0.2.0/25"))), "InvalidRoute.NotFound");
    assert_eq!(code(m.delete_vpc(&vpc)), "DependencyViolation");

    let table = m.create_route_table(&vpc, Tags::new()).unwrap();
    m.associate_route_table(&table, &subnet).unwrap();
    m.modify_vpc_endpoint(&endpoint, std::slice::from_ref(&table), std::slice::from_ref(&main))
        .unwrap();
    assert!(m.route_table(&main).unwrap().routes.iter().all(|r| r.prefix_list.is_none()));
    assert_eq!(m.route_table(&table).unwrap().routes.len(), 2);
    assert_eq!(m.vpc_endpoint(&endpoint).unwrap().route_tables, vec![table.clone()]);

    m.delete_vpc_endpoint(&endpoint).unwrap();
    assert_eq!(m.route_table(&table).unwrap().routes.len(), 1, "only the local route is left");
    assert_eq!(code(m.vpc_endpoint(&endpoint)), "InvalidVpcEndpointId.NotFound");
}

#[test]
fn security_groups_reference_groups_of_their_vpc_or_a_peered_one() {
    use vpclab_model::{Peer, Protocol, SgRule};
    let (mut m, a, _) = lab();
    let b = m.create_vpc(net("10.9.0.0/16"), Tags::new()).unwrap();
    let mine = m.create_security_group(&a, "mine", "in A", Tags::new()).unwrap();
    let theirs = m.create_security_group(&b, "theirs", "in B", Tags::new()).unwrap();
    let from_theirs =
        SgRule::new(Protocol::All, -1, -1, Peer::Group(theirs.clone()), None).unwrap();
    let err = m.authorize(&mine, false, vec![from_theirs.clone()]).unwrap_err();
    assert_eq!(err.code, "InvalidGroup.NotFound");
    assert_eq!(err.message, "You have specified two resources that belong to different networks.");

    let pcx = m.create_vpc_peering_connection(&a, &b, Tags::new()).unwrap();
    assert_eq!(
        code(m.authorize(&mine, false, vec![from_theirs.clone()])),
        "InvalidGroup.NotFound",
        "pending is not peered"
    );
    m.accept_vpc_peering_connection(&pcx).unwrap();
    m.authorize(&mine, false, vec![from_theirs]).unwrap();
}

#[test]
fn acls_peerings_and_endpoints_take_tags() {
    let (mut m, vpc, _) = lab();
    let other = m.create_vpc(net("10.9.0.0/16"), Tags::new()).unwrap();
    let acl = m.create_network_acl(&vpc, Tags::new()).unwrap();
    let pcx = m.create_vpc_peering_connection(&vpc, &other, Tags::new()).unwrap();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    let vpce =
        m.create_vpc_endpoint(&vpc, "com.amazonaws.us-east-1.s3", &[main], Tags::new(), 0).unwrap();
    let ids = [acl.to_string(), pcx.to_string(), vpce.to_string()];
    let tags: Tags = [("Name".to_owned(), "x".to_owned())].into_iter().collect();
    m.create_tags(&ids, &tags).unwrap();
    let kinds: Vec<&str> = m.all_tags().iter().map(|(_, kind, _, _)| *kind).collect();
    for kind in ["network-acl", "vpc-peering-connection", "vpc-endpoint"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
}

#[test]
fn terminated_instances_stay_listed_for_an_hour_and_hold_nothing() {
    let (mut m, _vpc, subnet) = lab();
    let spec = RunInstance {
        subnet: Some(subnet.clone()),
        private_ip: Some("10.0.1.20".parse().unwrap()),
        ..Default::default()
    };
    let i = m.run_instance(spec.clone()).unwrap();
    m.terminate_instance(&i, 1_000).unwrap();
    assert!(m.instance(&i).is_err(), "no longer a live instance");
    assert!(m.is_terminated(&i, 1_000));
    let listed: Vec<&InstanceId> = m.terminated_instances(4_599).map(|t| &t.id).collect();
    assert_eq!(listed, [&i]);
    assert_eq!(m.terminated_instances(4_600).count(), 0, "gone after an hour");
    // Terminating it again is no error; its address is free at once.
    m.terminate_instance(&i, 1_001).unwrap();
    let again = m.run_instance(spec).unwrap();
    assert_ne!(again, i);
    // A subnet with only terminated instances can go.
    m.terminate_instance(&again, 1_002).unwrap();
    m.delete_subnet(&subnet).unwrap();
}

#[test]
fn stopping_gives_back_an_auto_assigned_public_ip_and_starting_takes_a_new_one() {
    let (mut m, vpc, subnet) = lab();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let spec = RunInstance { subnet: Some(subnet), public_ip: Some(true), ..Default::default() };
    let i = m.run_instance(spec).unwrap();
    assert!(m.instance(&i).unwrap().public_ip.is_some());
    assert!(m.stop_instance(&i).unwrap());
    assert!(!m.stop_instance(&i).unwrap(), "already stopped");
    let stopped = m.instance(&i).unwrap();
    assert!(stopped.stopped && stopped.public_ip.is_none());
    assert_eq!(m.running_instances().count(), 0);
    assert!(m.start_instance(&i).unwrap());
    let started = m.instance(&i).unwrap();
    assert!(!started.stopped);
    assert!(matches!(started.public_ip, Some((_, PublicIpSource::Auto))), "a new public IP");
    assert!(!m.start_instance(&i).unwrap(), "already running");
}

#[test]
fn dhcp_options_tell_instances_their_names_and_servers() {
    let (mut m, vpc, subnet) = lab();
    let id = m.run_instance(RunInstance { subnet: Some(subnet), ..Default::default() }).unwrap();
    let instance = m.instance(&id).unwrap().clone();
    // The account's default set: the VPC's resolver, ec2.internal.
    let default = m.resolv_conf(&instance);
    assert!(default.contains("nameserver 10.0.0.2\n"), "{default}");
    assert!(default.contains("search ec2.internal\n"), "{default}");

    let config = |pairs: &[(&str, &[&str])]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect::<std::collections::BTreeMap<String, Vec<String>>>()
    };
    for bad in [
        config(&[("colour", &["red"])]),
        config(&[("domain-name-servers", &["10.0.0.2", "not-an-address"])]),
        config(&[(
            "domain-name-servers",
            &["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"],
        )]),
        config(&[("netbios-node-type", &["3"])]),
        config(&[]),
    ] {
        let before = m.dhcp_options_sets().count();
        assert!(m.create_dhcp_options(bad.clone(), Tags::new()).is_err(), "{bad:?}");
        assert_eq!(m.dhcp_options_sets().count(), before);
    }
    let set = m
        .create_dhcp_options(
            config(&[
                ("domain-name", &["corp.example"]),
                ("domain-name-servers", &["AmazonProvidedDNS", "192.0.2.53"]),
            ]),
            Tags::new(),
        )
        .unwrap();
    m.associate_dhcp_options(&vpc, Some(set.clone())).unwrap();
    let custom = m.resolv_conf(&instance);
    assert!(custom.contains("nameserver 10.0.0.2\nnameserver 192.0.2.53\n"), "{custom}");
    assert!(custom.contains("search corp.example\n"), "{custom}");
    assert_eq!(code(m.delete_dhcp_options(&set)), "DependencyViolation", "in use");
    m.associate_dhcp_options(&vpc, None).unwrap();
    assert!(!m.resolv_conf(&instance).contains("nameserver"), "no options, no servers");
    m.delete_dhcp_options(&set).unwrap();
    assert_eq!(code(m.associate_dhcp_options(&vpc, Some(set))), "InvalidDhcpOptionID.NotFound");
}

#[test]
fn secondary_cidrs_are_routed_locally_and_checked() {
    let (mut m, vpc, _) = lab();
    let other = m.create_route_table(&vpc, Tags::new()).unwrap();
    for (cidr, code_) in [
        ("10.0.128.0/17", "InvalidVpc.Range"),  // inside the primary
        ("10.0.0.0/8", "InvalidVpc.Range"),     // too large, and holds it
        ("100.64.0.0/29", "InvalidVpc.Range"),  // too small
        ("169.254.0.0/16", "InvalidVpc.Range"), // link-local
    ] {
        assert_eq!(code(m.associate_vpc_cidr(&vpc, net(cidr))), code_, "{cidr}");
    }
    let assoc = m.associate_vpc_cidr(&vpc, net("100.64.0.0/16")).unwrap();
    // Every table, new ones too, routes it locally; subnets may live in it.
    let later = m.create_route_table(&vpc, Tags::new()).unwrap();
    for table in [m.vpc(&vpc).unwrap().main_route_table.clone(), other, later] {
        let routes = &m.route_table(&table).unwrap().routes;
        assert!(
            routes
                .iter()
                .any(|r| r.destination == net("100.64.0.0/16") && r.target == RouteTarget::Local),
            "{table}"
        );
    }
    let subnet = m.create_subnet(&vpc, net("100.64.1.0/24"), None, Tags::new()).unwrap();
    assert_eq!(
        code(m.create_subnet(&vpc, net("100.65.1.0/24"), None, Tags::new())),
        "InvalidSubnet.Range"
    );
    assert!(m.vpc(&vpc).unwrap().contains(Ipv4Addr::new(100, 64, 9, 9)));
    // A route into it cannot target a gateway, as for the primary.
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    let spec = RouteSpec { destination: net("100.64.5.0/24"), target: RouteTarget::Gateway(igw) };
    assert_eq!(code(m.create_route(&main, spec)), "InvalidParameterValue");
    // Five at most; the primary never goes; one with subnets waits for them.
    for cidr in ["100.66.0.0/16", "100.67.0.0/16", "100.68.0.0/16"] {
        m.associate_vpc_cidr(&vpc, net(cidr)).unwrap();
    }
    assert_eq!(code(m.associate_vpc_cidr(&vpc, net("100.69.0.0/16"))), "CidrLimitExceeded");
    let primary = m.vpc(&vpc).unwrap().primary_association();
    assert_eq!(code(m.disassociate_vpc_cidr(&primary)), "OperationNotPermitted");
    assert_eq!(code(m.disassociate_vpc_cidr(&assoc)), "DependencyViolation");
    m.delete_subnet(&subnet).unwrap();
    m.disassociate_vpc_cidr(&assoc).unwrap();
    assert!(!m.vpc(&vpc).unwrap().contains(Ipv4Addr::new(100, 64, 9, 9)));
    assert!(
        !m.route_table(&main).unwrap().routes.iter().any(|r| r.destination == net("100.64.0.0/16"))
    );
    assert_eq!(code(m.disassociate_vpc_cidr(&assoc)), "InvalidVpcCidrBlockAssociationID.NotFound");
}

#[test]
fn prefix_list_changes_are_all_or_nothing() {
    use vpclab_model::{PrefixListChange, PrefixListEntry};
    let (mut m, _, _) = lab();
    let entry = |c: &str| PrefixListEntry { cidr: net(c), description: None };
    let list =
        m.create_managed_prefix_list("l", 2, vec![entry("10.9.0.0/24")], Tags::new()).unwrap();
    let before = m.managed_prefix_list(&list).unwrap().clone();
    for change in [
        // Past the maximum.
        PrefixListChange {
            current_version: Some(1),
            add: vec![entry("10.8.0.0/24"), entry("10.7.0.0/24")],
            ..Default::default()
        },
        // Removing what is not there.
        PrefixListChange {
            current_version: Some(1),
            remove: vec![net("10.6.0.0/24")],
            ..Default::default()
        },
        // Entries without the version they were made against.
        PrefixListChange { add: vec![entry("10.8.0.0/24")], ..Default::default() },
        // A maximum below the entries held.
        PrefixListChange { max_entries: Some(0), ..Default::default() },
    ] {
        assert!(m.modify_managed_prefix_list(&list, change.clone()).is_err(), "{change:?}");
        assert_eq!(m.managed_prefix_list(&list).unwrap(), &before, "{change:?} changed nothing");
    }
    // Renaming keeps the version; entries make a new one.
    let rename = PrefixListChange { name: Some("m".into()), ..Default::default() };
    m.modify_managed_prefix_list(&list, rename).unwrap();
    assert_eq!(m.managed_prefix_list(&list).unwrap().version, 1);
}

#[test]
fn aws_quotas_a_lab_can_reach() {
    use vpclab_model::{
        AclEntry, MAX_ACL_ENTRIES, MAX_GROUPS_PER_INTERFACE, MAX_ROUTES_PER_TABLE, MAX_TAGS,
        Protocol,
    };
    let (mut m, vpc, subnet) = lab();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let table = m.create_route_table(&vpc, Tags::new()).unwrap();
    let route = |i: usize| RouteSpec {
        destination: net(&format!("198.18.{i}.0/24")),
        target: RouteTarget::Gateway(igw.clone()),
    };
    for i in 0..MAX_ROUTES_PER_TABLE {
        m.create_route(&table, route(i)).unwrap();
    }
    assert_eq!(code(m.create_route(&table, route(200))), "RouteLimitExceeded");

    let acl = m.create_network_acl(&vpc, Tags::new()).unwrap();
    let entry = |n: u16| AclEntry {
        rule_number: n,
        protocol: Protocol::All,
        allow: true,
        egress: false,
        cidr: net("0.0.0.0/0").into(),
        ports: None,
        icmp: None,
    };
    for n in 1..=MAX_ACL_ENTRIES as u16 {
        m.create_network_acl_entry(&acl, entry(n)).unwrap();
    }
    assert_eq!(code(m.create_network_acl_entry(&acl, entry(999))), "NetworkAclEntryLimitExceeded");
    m.create_network_acl_entry(&acl, AclEntry { egress: true, ..entry(1) }).unwrap();

    let groups: Vec<_> = (0..=MAX_GROUPS_PER_INTERFACE)
        .map(|i| m.create_security_group(&vpc, &format!("g{i}"), "g", Tags::new()).unwrap())
        .collect();
    let launch = |groups: &[vpclab_model::SecurityGroupId]| RunInstance {
        subnet: Some(subnet.clone()),
        security_groups: groups.to_vec(),
        ..Default::default()
    };
    assert_eq!(code(m.run_instance(launch(&groups))), "SecurityGroupsPerInterfaceLimitExceeded");
    m.run_instance(launch(&groups[..MAX_GROUPS_PER_INTERFACE])).unwrap();

    let tags: Tags = (0..MAX_TAGS).map(|i| (format!("k{i}"), String::new())).collect();
    m.create_tags(&[vpc.to_string()], &tags).unwrap();
    let one_more: Tags = [("extra".to_owned(), String::new())].into();
    assert_eq!(code(m.create_tags(&[vpc.to_string()], &one_more)), "TagLimitExceeded");
}

#[test]
fn prefix_lists_weigh_their_maximum_and_never_cover_the_vpc() {
    use vpclab_model::{Peer, PrefixListChange, PrefixListEntry, Protocol, SgRule};
    let (mut m, vpc, _) = lab();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    let table = m.create_route_table(&vpc, Tags::new()).unwrap();
    let entry = |c: &str| PrefixListEntry { cidr: net(c), description: None };
    let inside = m.create_managed_prefix_list("in", 2, vec![entry("10.0.5.0/24")], Tags::new());
    let inside = inside.unwrap();
    assert_eq!(
        code(m.create_prefix_list_route(&table, &inside, RouteTarget::Gateway(igw.clone()))),
        "InvalidParameterValue",
        "a block of the VPC routes locally"
    );
    let heavy =
        m.create_managed_prefix_list("heavy", 45, vec![entry("198.18.0.0/24")], Tags::new());
    let heavy = heavy.unwrap();
    m.create_prefix_list_route(&table, &heavy, RouteTarget::Gateway(igw.clone())).unwrap();
    // 45 of the 50 routes are the list's weight: six more CIDR routes do not fit.
    for i in 0..5 {
        let spec = RouteSpec {
            destination: net(&format!("198.19.{i}.0/24")),
            target: RouteTarget::Gateway(igw.clone()),
        };
        m.create_route(&table, spec).unwrap();
    }
    let spec = RouteSpec { destination: net("198.19.9.0/24"), target: RouteTarget::Gateway(igw) };
    assert_eq!(code(m.create_route(&table, spec)), "RouteLimitExceeded");
    // The list cannot grow past what its users hold, nor take a block of the VPC.
    let grow = PrefixListChange { max_entries: Some(46), ..Default::default() };
    assert_eq!(code(m.modify_managed_prefix_list(&heavy, grow)), "RouteLimitExceeded");
    let into_vpc = PrefixListChange {
        current_version: Some(1),
        add: vec![entry("10.0.9.0/24")],
        ..Default::default()
    };
    assert_eq!(code(m.modify_managed_prefix_list(&heavy, into_vpc)), "InvalidParameterValue");
    // A rule weighs the same against the group's 60.
    let group = m.create_security_group(&vpc, "g", "g", Tags::new()).unwrap();
    let rule = |list| SgRule::new(Protocol::Tcp, 22, 22, Peer::PrefixList(list), None).unwrap();
    m.authorize(&group, false, vec![rule(heavy.clone())]).unwrap();
    let also = m.create_managed_prefix_list("also", 20, vec![], Tags::new()).unwrap();
    assert_eq!(
        code(m.authorize(&group, false, vec![rule(also)])),
        "RulesPerSecurityGroupLimitExceeded"
    );
}

#[test]
fn nat_gateways_saved_before_private_ones_existed_load_as_public() {
    let saved = r#"{"id":"nat-0123456789abcdef0","vpc":"vpc-0123456789abcdef0",
        "subnet":"subnet-0123456789abcdef0","allocation":"eipalloc-0123456789abcdef0",
        "public_ip":"198.51.100.10","private_ip":"10.0.1.4","idle_timeout_s":350,
        "created_at":5,"tags":{}}"#;
    let nat: vpclab_model::NatGateway = serde_json::from_str(saved).unwrap();
    let public = nat.public.as_ref().expect("public");
    assert_eq!(public.allocation.as_str(), "eipalloc-0123456789abcdef0");
    assert_eq!(nat.outside_ip(), Ipv4Addr::new(198, 51, 100, 10));
    assert!(nat.is_working());
    let again: vpclab_model::NatGateway =
        serde_json::from_str(&serde_json::to_string(&nat).unwrap()).unwrap();
    assert_eq!(again, nat);

    let private = serde_json::to_string(&vpclab_model::NatGateway { public: None, ..nat }).unwrap();
    assert!(!private.contains("allocation"), "{private}");
    let back: vpclab_model::NatGateway = serde_json::from_str(&private).unwrap();
    assert!(back.public.is_none());
}

#[test]
fn ipv6_only_instances_ask_the_amazon_dns_server_at_its_ipv6_address() {
    let mut m = Model::new(9);
    let vpc = m.create_vpc(net("10.0.0.0/16"), Tags::new()).unwrap();
    let (_, block) = m.associate_vpc_ipv6(&vpc).unwrap();
    let one = ipnet::Ipv6Net::new(block.network(), 64).unwrap();
    let only = m.create_ipv6_native_subnet(&vpc, one, None, Tags::new()).unwrap();
    let subnet = m.subnet(&only).unwrap();
    assert!(subnet.ipv6_native() && subnet.cidr.is_none() && subnet.router().is_none());
    assert_eq!((subnet.usable_addresses(), m.available_addresses(subnet)), (0, 0));
    let id = m.run_instance(RunInstance { subnet: Some(only), ..Default::default() }).unwrap();
    let instance = m.instance(&id).unwrap().clone();
    assert_eq!(instance.private_ip, None);
    assert_eq!(instance.private_dns_name(), format!("{id}.ec2.internal"));
    let resolv = m.resolv_conf(&instance);
    assert!(resolv.contains("nameserver fd00:ec2::253\n"), "{resolv}");
    assert!(!resolv.contains("10.0.0.2"), "{resolv}");
    // A second IPv6-only subnet cannot overlap the first's block.
    assert_eq!(
        code(m.create_ipv6_native_subnet(&vpc, one, None, Tags::new())),
        "InvalidSubnet.Conflict"
    );
}
