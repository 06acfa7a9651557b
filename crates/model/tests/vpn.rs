//! Site-to-Site VPN rules of the model: customer gateways, virtual private gateways and
//! their attachments, VPN connections with their tunnels and static routes, and the
//! routes a virtual private gateway propagates into VPC route tables.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vpclab_model::{
    ApiError, CustomerGatewayId, CustomerGatewaySpec, Model, PrefixListEntry, RouteOrigin,
    RouteSpec, RouteTableId, RouteTarget, Tags, TunnelSpec, VpcId, VpnConnectionId,
    VpnConnectionSpec, VpnEnd, VpnGatewayId,
};

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> &'static str {
    r.unwrap_err().code
}

fn vpc(m: &mut Model, cidr: &str) -> (VpcId, RouteTableId) {
    let vpc = m.create_vpc(net(cidr), Tags::new()).unwrap();
    let main = m.vpc(&vpc).unwrap().main_route_table.clone();
    (vpc, main)
}

fn cgw(m: &mut Model, last: u8) -> CustomerGatewayId {
    let spec = CustomerGatewaySpec::new(Ipv4Addr::new(198, 51, 100, last), None, None, None);
    m.create_customer_gateway(spec.unwrap(), Tags::new(), 0)
}

fn spec(cgw: &CustomerGatewayId, vgw: Option<&VpnGatewayId>) -> VpnConnectionSpec {
    VpnConnectionSpec {
        customer_gateway: cgw.clone(),
        end: vgw.map(|v| VpnEnd::VpnGateway(v.clone())),
        static_routes_only: true,
        tunnel_bandwidth: None,
        tunnels: Default::default(),
    }
}

fn with_inside(mut s: VpnConnectionSpec, first: &str, second: &str) -> VpnConnectionSpec {
    s.tunnels[0].inside_cidr = Some(net(first));
    s.tunnels[1].inside_cidr = Some(net(second));
    s
}

/// A VPC 10.0.0.0/16 with a virtual private gateway attached, and a static connection
/// to a customer gateway on it.
fn attached_lab() -> (Model, VpcId, RouteTableId, VpnGatewayId, VpnConnectionId) {
    let mut m = Model::new(20);
    let (vpc, main) = vpc(&mut m, "10.0.0.0/16");
    let vgw = m.create_vpn_gateway(None, None, Tags::new(), 0).unwrap();
    m.attach_vpn_gateway(&vgw, &vpc, 0).unwrap();
    let cgw = cgw(&mut m, 2);
    let vpn = m.create_vpn_connection(spec(&cgw, Some(&vgw)), Tags::new(), 0).unwrap();
    (m, vpc, main, vgw, vpn)
}

#[test]
fn a_customer_gateway_is_idempotent_and_held_by_its_connections() {
    let mut m = Model::new(1);
    let a = cgw(&mut m, 2);
    assert_eq!(cgw(&mut m, 2), a, "an identical request answers the existing gateway");
    assert_ne!(cgw(&mut m, 3), a);
    let named =
        CustomerGatewaySpec::new(Ipv4Addr::new(198, 51, 100, 2), None, None, Some("b".into()));
    assert_ne!(m.create_customer_gateway(named.unwrap(), Tags::new(), 0), a, "a device name tells");
    let vpn = m.create_vpn_connection(spec(&a, None), Tags::new(), 0).unwrap();
    let e = m.delete_customer_gateway(&a, 10).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("IncorrectState", "The customer gateway is in use."));
    m.delete_vpn_connection(&vpn, 10).unwrap();
    assert_eq!(code(m.delete_vpn_connection(&vpn, 11)), "InvalidVpnConnectionID.NotFound");
    m.delete_customer_gateway(&a, 10).unwrap();
    assert_eq!(m.deleted_customer_gateways(10 + 3599).count(), 1, "listed for an hour");
    assert_eq!(m.deleted_customer_gateways(10 + 3600).count(), 0);
    assert_ne!(cgw(&mut m, 2), a, "a deleted gateway is not answered again");
}

#[test]
fn one_virtual_private_gateway_per_vpc_and_one_vpc_per_gateway() {
    let mut m = Model::new(2);
    let (a, _) = vpc(&mut m, "10.0.0.0/16");
    let (b, _) = vpc(&mut m, "10.1.0.0/16");
    let one = m.create_vpn_gateway(Some(65000), Some("us-east-1b"), Tags::new(), 0).unwrap();
    let two = m.create_vpn_gateway(None, None, Tags::new(), 0).unwrap();
    assert_eq!(m.vpn_gateway(&two).unwrap().amazon_side_asn, 64512);
    assert_eq!(
        code(m.create_vpn_gateway(Some(64511), None, Tags::new(), 0)),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(m.create_vpn_gateway(None, Some("eu-west-1a"), Tags::new(), 0)),
        "InvalidParameterValue"
    );
    m.attach_vpn_gateway(&one, &a, 5).unwrap();
    let e = m.attach_vpn_gateway(&two, &a, 5).unwrap_err();
    assert_eq!(e.code, "InvalidVpcState");
    assert_eq!(e.message, format!("VPC {a} is currently attached to the Virtual Private Gateway."));
    assert_eq!(code(m.attach_vpn_gateway(&one, &b, 5)), "VpnGatewayAttachmentLimitExceeded");
    assert_eq!(code(m.delete_vpc(&a)), "DependencyViolation");
    let e = m.delete_vpn_gateway(&one, 6).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), ("IncorrectState", "The VPN gateway is in use."));
    let e = m.detach_vpn_gateway(&one, &b, 6).unwrap_err();
    assert_eq!(e.code, "InvalidVpnGatewayAttachment.NotFound");
    assert_eq!(
        e.message,
        format!("The attachment with vpn gateway ID '{one}' and vpc ID '{b}' does not exist")
    );
    m.detach_vpn_gateway(&one, &a, 7).unwrap();
    let kept = m.vpn_gateway(&one).unwrap().attachment.clone().unwrap();
    assert!(!kept.attached && kept.vpc == a && kept.since == 7, "a detached entry stays");
    assert_eq!(code(m.detach_vpn_gateway(&one, &a, 8)), "InvalidVpnGatewayAttachment.NotFound");
    m.attach_vpn_gateway(&two, &a, 8).unwrap();
    m.attach_vpn_gateway(&one, &b, 8).unwrap();
    m.detach_vpn_gateway(&one, &b, 9).unwrap();
    m.delete_vpn_gateway(&one, 9).unwrap();
    assert_eq!(code(m.vpn_gateway(&one)), "InvalidVpnGatewayID.NotFound");
    assert_eq!(m.deleted_vpn_gateways(9).count(), 1);
}

#[test]
fn tunnels_get_addresses_keys_and_inside_cidrs() {
    let (mut m, _, _, vgw, vpn) = attached_lab();
    let eip = m.allocate_address(Tags::new()).unwrap();
    assert_eq!(m.elastic_ip(&eip).unwrap().public_ip, Ipv4Addr::new(203, 0, 113, 10));
    let c = m.vpn_connection(&vpn).unwrap().clone();
    let outside: Vec<Ipv4Addr> = c.tunnels.iter().map(|t| t.outside_ip).collect();
    assert_eq!(outside, [Ipv4Addr::new(203, 0, 113, 254), Ipv4Addr::new(203, 0, 113, 253)]);
    for t in &c.tunnels {
        assert_eq!(t.inside_cidr.prefix_len(), 30);
        assert!(vpclab_model::check_tunnel_inside_cidr(t.inside_cidr).is_ok(), "{}", t.inside_cidr);
        assert_eq!(t.aws_inside_ip(), Ipv4Addr::from(u32::from(t.inside_cidr.network()) + 1));
        assert_eq!(t.customer_inside_ip(), Ipv4Addr::from(u32::from(t.inside_cidr.network()) + 2));
        assert_eq!(t.pre_shared_key.len(), 32);
        assert!(t.pre_shared_key.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(vpclab_model::check_pre_shared_key(&t.pre_shared_key).is_ok());
    }
    assert_ne!(c.tunnels[0].inside_cidr, c.tunnels[1].inside_cidr);
    assert_ne!(c.tunnels[0].pre_shared_key, c.tunnels[1].pre_shared_key);
    // The same calls on the same seed make the same tunnels; another seed others.
    let (again, ..) = attached_lab();
    assert_eq!(again.vpn_connection(&vpn).unwrap().tunnels, c.tunnels);
    let mut other = Model::new(21);
    let (v, _) = vpc(&mut other, "10.0.0.0/16");
    let g = other.create_vpn_gateway(None, None, Tags::new(), 0).unwrap();
    other.attach_vpn_gateway(&g, &v, 0).unwrap();
    let customer = cgw(&mut other, 2);
    let id = other.create_vpn_connection(spec(&customer, Some(&g)), Tags::new(), 0).unwrap();
    assert_ne!(
        other.vpn_connection(&id).unwrap().tunnels[0].pre_shared_key,
        c.tunnels[0].pre_shared_key
    );
    // An identical request answers the live connection.
    let customer = c.spec.customer_gateway.clone();
    assert_eq!(m.create_vpn_connection(spec(&customer, Some(&vgw)), Tags::new(), 0).unwrap(), vpn);
    let second = {
        let mut s = spec(&customer, Some(&vgw));
        s.static_routes_only = false;
        m.create_vpn_connection(s, Tags::new(), 0).unwrap()
    };
    assert_ne!(second, vpn);
    let taken: Vec<Ipv4Addr> =
        m.vpn_connection(&second).unwrap().tunnels.iter().map(|t| t.outside_ip).collect();
    assert_eq!(taken, [Ipv4Addr::new(203, 0, 113, 252), Ipv4Addr::new(203, 0, 113, 251)]);
}

#[test]
fn inside_cidrs_and_keys_asked_for_are_checked() {
    let (mut m, _, _, vgw, vpn) = attached_lab();
    let customer = m.vpn_connection(&vpn).unwrap().spec.customer_gateway.clone();
    let used = m.vpn_connection(&vpn).unwrap().tunnels[0].inside_cidr.to_string();
    let asked = with_inside(spec(&customer, Some(&vgw)), "169.254.100.0/30", "169.254.100.4/30");
    let made = m.create_vpn_connection(asked.clone(), Tags::new(), 0).unwrap();
    let c = m.vpn_connection(&made).unwrap();
    assert_eq!(c.tunnels[0].inside_cidr, net("169.254.100.0/30"));
    assert_eq!(c.tunnels[1].inside_cidr, net("169.254.100.4/30"));
    assert_eq!(m.create_vpn_connection(asked, Tags::new(), 0).unwrap(), made, "identical");
    let mut reuse = with_inside(spec(&customer, Some(&vgw)), &used, "169.254.101.0/30");
    reuse.static_routes_only = false;
    let e = m.create_vpn_connection(reuse.clone(), Tags::new(), 0).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    assert!(e.message.contains("already used"), "{}", e.message);
    reuse.end = None;
    m.create_vpn_connection(reuse, Tags::new(), 0).expect("unique per gateway only");
    let twice = with_inside(spec(&customer, None), "169.254.102.0/30", "169.254.102.0/30");
    assert_eq!(code(m.create_vpn_connection(twice, Tags::new(), 0)), "InvalidParameterValue");
    let reserved = with_inside(spec(&customer, None), "169.254.169.252/30", "169.254.102.0/30");
    assert_eq!(code(m.create_vpn_connection(reserved, Tags::new(), 0)), "InvalidParameterValue");
    let mut keyed = spec(&customer, None);
    keyed.tunnels[1] = TunnelSpec { inside_cidr: None, pre_shared_key: Some("0secret.key".into()) };
    let e = m.create_vpn_connection(keyed.clone(), Tags::new(), 0).unwrap_err();
    assert_eq!(e.message, "Value for parameter PreSharedKey is invalid.");
    keyed.tunnels[1].pre_shared_key = Some("my_secret.key".into());
    let made = m.create_vpn_connection(keyed, Tags::new(), 0).unwrap();
    assert_eq!(m.vpn_connection(&made).unwrap().tunnels[1].pre_shared_key, "my_secret.key");
    let unknown = VpnGatewayId::parse("vgw-0123456789abcdef0").unwrap();
    let e = m.create_vpn_connection(spec(&customer, Some(&unknown)), Tags::new(), 0).unwrap_err();
    assert_eq!(e.code, "InvalidVpnGatewayID.NotFound");
    assert_eq!(e.message, "The vpnGateway ID 'vgw-0123456789abcdef0' does not exist");
}

#[test]
fn static_routes_need_a_static_connection_on_a_gateway() {
    let (mut m, _, _, vgw, vpn) = attached_lab();
    m.create_vpn_connection_route(&vpn, net("192.168.1.7/24")).unwrap();
    assert_eq!(m.vpn_connection(&vpn).unwrap().routes, [net("192.168.1.0/24")], "canonical");
    assert_eq!(
        code(m.create_vpn_connection_route(&vpn, net("192.168.1.0/24"))),
        "RouteAlreadyExists"
    );
    assert_eq!(
        code(m.delete_vpn_connection_route(&vpn, net("192.168.9.0/24"))),
        "InvalidRoute.NotFound"
    );
    m.delete_vpn_connection_route(&vpn, net("192.168.1.0/24")).unwrap();
    for i in 0..100 {
        m.create_vpn_connection_route(&vpn, net(&format!("192.168.{i}.0/24"))).unwrap();
    }
    assert_eq!(
        code(m.create_vpn_connection_route(&vpn, net("172.16.0.0/12"))),
        "RouteLimitExceeded"
    );
    let customer = m.vpn_connection(&vpn).unwrap().spec.customer_gateway.clone();
    let mut bgp = spec(&customer, Some(&vgw));
    bgp.static_routes_only = false;
    let bgp = m.create_vpn_connection(bgp, Tags::new(), 0).unwrap();
    assert_eq!(
        code(m.create_vpn_connection_route(&bgp, net("10.9.0.0/16"))),
        "InvalidVpnConnection.InvalidType"
    );
    let nowhere = m.create_vpn_connection(spec(&customer, None), Tags::new(), 0).unwrap();
    assert_eq!(
        code(m.create_vpn_connection_route(&nowhere, net("10.9.0.0/16"))),
        "InvalidVpnConnection.InvalidType"
    );
}

/// The table's routes as `destination → target (origin)`.
fn routes(m: &Model, table: &RouteTableId) -> Vec<String> {
    let t = m.route_table(table).unwrap();
    m.routes_in_force(t)
        .iter()
        .map(|r| format!("{} → {} ({})", r.destination_name(), r.target, r.origin.as_str()))
        .collect()
}

#[test]
fn propagated_routes_yield_to_local_static_and_prefix_list_routes() {
    let (mut m, vpc, main, vgw, vpn) = attached_lab();
    let igw = m.create_internet_gateway(Tags::new());
    m.attach_internet_gateway(&igw, &vpc).unwrap();
    for route in [
        "10.0.5.0/24",
        "10.0.0.0/8",
        "172.16.0.0/16",
        "172.16.1.0/24",
        "192.168.0.0/16",
        "192.0.2.0/25",
    ] {
        m.create_vpn_connection_route(&vpn, net(route)).unwrap();
    }
    // A second connection knows one of the same prefixes: it is propagated once.
    let customer = cgw(&mut m, 3);
    let other = m.create_vpn_connection(spec(&customer, Some(&vgw)), Tags::new(), 0).unwrap();
    m.create_vpn_connection_route(&other, net("172.16.1.0/24")).unwrap();
    let static_route =
        RouteSpec { destination: net("172.16.0.0/16"), target: RouteTarget::Gateway(igw.clone()) };
    m.create_route(&main, static_route).unwrap();
    let list = m
        .create_managed_prefix_list(
            "onprem",
            5,
            vec![PrefixListEntry { cidr: net("192.0.2.0/25"), description: None }],
            Tags::new(),
        )
        .unwrap();
    m.create_prefix_list_route(&main, &list, RouteTarget::Gateway(igw.clone())).unwrap();
    assert_eq!(routes(&m, &main).len(), 3, "nothing propagates before it is enabled");

    m.enable_vgw_route_propagation(&main, &vgw).unwrap();
    m.enable_vgw_route_propagation(&main, &vgw).unwrap();
    assert_eq!(m.route_table(&main).unwrap().propagating_vgws, std::slice::from_ref(&vgw), "once");
    assert_eq!(routes(&m, &main).len(), 3, "withdrawn while the tunnels are down");
    let up = vpclab_model::TunnelLive { ipsec_up: true, ..Default::default() };
    for connection in [&vpn, &other] {
        assert!(m.report_vpn_tunnels(connection, [Default::default(), up.clone()], 1));
    }
    let list_route = format!("{list} → {igw} (CreateRoute)");
    assert_eq!(
        routes(&m, &main),
        [
            "10.0.0.0/16 → local (CreateRouteTable)".to_owned(),
            format!("172.16.0.0/16 → {igw} (CreateRoute)"),
            list_route,
            // 10.0.5.0/24 is inside the VPC: `local` wins, however specific.
            format!("10.0.0.0/8 → {vgw} (EnableVgwRoutePropagation)"),
            // 172.16.0.0/16 has a static route, 192.0.2.0/25 a prefix-list route.
            format!("172.16.1.0/24 → {vgw} (EnableVgwRoutePropagation)"),
            format!("192.168.0.0/16 → {vgw} (EnableVgwRoutePropagation)"),
        ]
    );
    let t = m.route_table(&main).unwrap();
    let propagated = m.routes_in_force(t).into_owned();
    assert!(propagated[3..].iter().all(|r| r.origin == RouteOrigin::EnableVgwRoutePropagation));
    assert!(propagated.iter().all(|r| !m.is_blackhole(t, r)), "all active");

    m.delete_vpn_connection(&vpn, 1).unwrap();
    assert_eq!(routes(&m, &main).len(), 4, "a deleted connection's routes leave");
    m.detach_vpn_gateway(&vgw, &vpc, 2).unwrap();
    assert_eq!(routes(&m, &main).len(), 3, "a detached gateway propagates nothing");
    assert_eq!(
        m.route_table(&main).unwrap().propagating_vgws,
        std::slice::from_ref(&vgw),
        "still enabled"
    );
    m.disable_vgw_route_propagation(&main, &vgw).unwrap();
    m.disable_vgw_route_propagation(&main, &vgw).unwrap();
    assert!(m.route_table(&main).unwrap().propagating_vgws.is_empty());
}

#[test]
fn routes_to_a_gateway_need_it_attached_to_the_tables_vpc() {
    let (mut m, vpc, main, vgw, _) = attached_lab();
    let (_, elsewhere) = self::vpc(&mut m, "10.1.0.0/16");
    let to = |destination: &str| RouteSpec {
        destination: net(destination),
        target: RouteTarget::VpnGateway(vgw.clone()),
    };
    m.create_route(&main, to("192.168.0.0/16")).unwrap();
    assert_eq!(
        code(m.create_route(&main, to("10.0.1.0/24"))),
        "InvalidParameterValue",
        "inside the VPC"
    );
    let e = m.create_route(&elsewhere, to("192.168.0.0/16")).unwrap_err();
    assert_eq!(
        e.message,
        format!("route table {elsewhere} and network gateway {vgw} belong to different networks")
    );
    let e = m.enable_vgw_route_propagation(&elsewhere, &vgw).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    m.enable_vgw_route_propagation(&main, &vgw).unwrap();
    m.detach_vpn_gateway(&vgw, &vpc, 1).unwrap();
    let t = m.route_table(&main).unwrap();
    assert!(m.is_blackhole(t, &t.routes[1]), "a detached gateway's route is a blackhole");
    // Deleting the gateway ends the table's propagation from it (connections first).
    let connections: Vec<VpnConnectionId> = m.vpn_connections().map(|c| c.id.clone()).collect();
    assert_eq!(code(m.delete_vpn_gateway(&vgw, 2)), "IncorrectState", "a connection ends on it");
    for c in connections {
        m.delete_vpn_connection(&c, 2).unwrap();
    }
    m.delete_vpn_gateway(&vgw, 2).unwrap();
    assert!(m.route_table(&main).unwrap().propagating_vgws.is_empty());
}

#[test]
fn state_without_vpn_resources_still_loads_and_vpn_state_round_trips() {
    let (mut m, _, main, vgw, vpn) = attached_lab();
    m.create_vpn_connection_route(&vpn, net("192.168.0.0/16")).unwrap();
    m.enable_vgw_route_propagation(&main, &vgw).unwrap();
    let text = serde_json::to_string(&m).unwrap();
    let back: Model = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);

    let mut old: serde_json::Value = serde_json::to_value(Model::new(3)).unwrap();
    let map = old.as_object_mut().unwrap();
    for key in [
        "customer_gateways",
        "deleted_customer_gateways",
        "vpn_gateways",
        "deleted_vpn_gateways",
        "vpn_connections",
        "deleted_vpn_connections",
    ] {
        assert!(map.remove(key).is_some(), "{key}");
    }
    let mut m: Model = serde_json::from_value(old).unwrap();
    let (_, table) = vpc(&mut m, "10.0.0.0/16");
    let mut table_json = serde_json::to_value(m.route_table(&table).unwrap()).unwrap();
    table_json.as_object_mut().unwrap().remove("propagating_vgws");
    let t: vpclab_model::RouteTable = serde_json::from_value(table_json).unwrap();
    assert!(t.propagating_vgws.is_empty());
}
