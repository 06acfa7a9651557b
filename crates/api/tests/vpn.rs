//! Site-to-Site VPN through the API: customer gateways, virtual private gateways and
//! their attachments, VPN connections (tunnels, the customer gateway's configuration,
//! static routes, telemetry) and route propagation into VPC route tables.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{NOW, all, between, call, code, ok};

/// The text of the first `<tag>` in `body`.
fn first(body: &str, tag: &str) -> String {
    between(body, &format!("<{tag}>"), &format!("</{tag}>"))
        .unwrap_or_else(|| panic!("no <{tag}> in {body}"))
        .to_owned()
}

/// XML's escapes undone (for text carried inside a reply: messages, the configuration).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The code and message of a refused call.
fn refused(s: &mut Service, body: &str) -> (String, String) {
    let (status, text) = call(s, body);
    assert_eq!(status, 400, "{body} should fail: {text}");
    (first(&text, "Code"), unescape(&first(&text, "Message")))
}

/// The ids (`<{tag}>`, each once) the Describe `action` lists at `NOW + later` for the
/// filter `name` = `value`.
fn filtered(
    s: &mut Service,
    later: u64,
    (action, tag): (&str, &str),
    name: &str,
    value: &str,
) -> Vec<String> {
    let body =
        at(s, later, &format!("Action={action}&Filter.1.Name={name}&Filter.1.Value.1={value}"));
    let mut ids: Vec<String> = all(&body, &format!("<{tag}>"), &format!("</{tag}>"))
        .into_iter()
        .map(str::to_owned)
        .collect();
    ids.dedup();
    ids
}

/// The reply to `body` at `NOW + later`.
fn at(s: &mut Service, later: u64, body: &str) -> String {
    let r = s.handle(body.as_bytes(), NOW + later);
    assert_eq!(r.status, 200, "{body}: {}", r.body);
    r.body
}

fn customer_gateway(s: &mut Service, ip: &str) -> String {
    let made = ok(s, &format!("Action=CreateCustomerGateway&Type=ipsec.1&IpAddress={ip}"));
    first(&made, "customerGatewayId")
}

/// A VPC `10.k.0.0/16` with a virtual private gateway attached: (vpc, main table, vgw).
fn attached_vpc(s: &mut Service, k: u8) -> (String, String, String) {
    let vpc = first(&ok(s, &format!("Action=CreateVpc&CidrBlock=10.{k}.0.0%2F16")), "vpcId");
    let tables =
        ok(s, &format!("Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"));
    let vgw = first(&ok(s, "Action=CreateVpnGateway&Type=ipsec.1"), "vpnGatewayId");
    ok(s, &format!("Action=AttachVpnGateway&VpnGatewayId={vgw}&VpcId={vpc}"));
    (vpc, first(&tables, "routeTableId"), vgw)
}

/// A static VPN connection from `cgw` to `vgw`, with `extra` parameters: its id and the
/// creation's answer.
fn connection(s: &mut Service, cgw: &str, vgw: &str, extra: &str) -> (String, String) {
    let made = ok(
        s,
        &format!(
            "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}&VpnGatewayId={vgw}\
             &Options.StaticRoutesOnly=true{extra}"
        ),
    );
    (first(&made, "vpnConnectionId"), made)
}

#[test]
fn customer_gateways_are_idempotent_filtered_and_held_by_their_connections() {
    let mut s = Service::new(Model::new(31), None, None, 31);
    let made = ok(
        &mut s,
        "Action=CreateCustomerGateway&Type=ipsec.1&IpAddress=198.51.100.2&DeviceName=edge\
         &TagSpecification.1.ResourceType=customer-gateway\
         &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=office",
    );
    let cgw = first(&made, "customerGatewayId");
    assert!(cgw.starts_with("cgw-0"), "{made}");
    for expected in [
        "<state>available</state>",
        "<type>ipsec.1</type>",
        "<ipAddress>198.51.100.2</ipAddress>",
        "<bgpAsn>65000</bgpAsn>",
        "<deviceName>edge</deviceName>",
        "<tagSet><item><key>Name</key><value>office</value></item></tagSet>",
    ] {
        assert!(made.contains(expected), "{expected} in {made}");
    }
    let again = ok(
        &mut s,
        "Action=CreateCustomerGateway&Type=ipsec.1&IpAddress=198.51.100.2&DeviceName=edge",
    );
    assert_eq!(first(&again, "customerGatewayId"), cgw, "an identical request: the same one");
    let other = customer_gateway(&mut s, "198.51.100.2");
    assert_ne!(other, cgw, "without the device name it is another gateway");
    let big = ok(
        &mut s,
        "Action=CreateCustomerGateway&Type=ipsec.1&PublicIp=198.51.100.3&BgpAsnExtended=4200000001",
    );
    assert!(big.contains("<bgpAsnExtended>4200000001</bgpAsnExtended>"), "{big}");
    assert!(!big.contains("<bgpAsn>"), "{big}");

    let matching = |s: &mut Service, name: &str, value: &str| {
        let action = ("DescribeCustomerGateways", "customerGatewayId");
        filtered(s, 0, action, name, value).len()
    };
    assert_eq!(matching(&mut s, "bgp-asn", "65000"), 2);
    assert_eq!(matching(&mut s, "ip-address", "198.51.100.3"), 1);
    assert_eq!(matching(&mut s, "type", "ipsec.1"), 3);
    assert_eq!(matching(&mut s, "state", "available"), 3);
    assert_eq!(matching(&mut s, "tag:Name", "office"), 1);
    assert_eq!(matching(&mut s, "customer-gateway-id", &cgw), 1);
    let unknown = "cgw-0123456789abcdef0";
    let asked = format!("Action=DescribeCustomerGateways&CustomerGatewayId.1={unknown}");
    assert_eq!(
        refused(&mut s, &asked),
        (
            "InvalidCustomerGatewayID.NotFound".to_owned(),
            format!("The customerGateway ID '{unknown}' does not exist")
        )
    );
    for (bad, expected) in [
        ("Type=ipsec.2&IpAddress=198.51.100.9", "InvalidParameterValue"),
        ("Type=ipsec.1", "MissingParameter"),
        ("IpAddress=198.51.100.9", "MissingParameter"),
        ("Type=ipsec.1&IpAddress=2001:db8::1", "InvalidParameterValue"),
        ("Type=ipsec.1&IpAddress=198.51.100.9&BgpAsn=0", "InvalidParameterValue"),
        (
            "Type=ipsec.1&IpAddress=198.51.100.9&BgpAsn=65001&BgpAsnExtended=4200000001",
            "InvalidParameterCombination",
        ),
        ("Type=ipsec.1&IpAddress=198.51.100.9&CertificateArn=arn:aws:acm:x", "InvalidParameter"),
    ] {
        assert_eq!(code(&mut s, &format!("Action=CreateCustomerGateway&{bad}")), expected, "{bad}");
    }

    let vpn = first(
        &ok(&mut s, &format!("Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}")),
        "vpnConnectionId",
    );
    let delete = format!("Action=DeleteCustomerGateway&CustomerGatewayId={cgw}");
    assert_eq!(
        refused(&mut s, &delete),
        ("IncorrectState".to_owned(), "The customer gateway is in use.".to_owned())
    );
    ok(&mut s, &format!("Action=DeleteVpnConnection&VpnConnectionId={vpn}"));
    ok(&mut s, &delete);
    assert_eq!(code(&mut s, &delete), "InvalidCustomerGatewayID.NotFound");
    let listed = ok(&mut s, &format!("Action=DescribeCustomerGateways&CustomerGatewayId.1={cgw}"));
    assert!(listed.contains("<state>deleted</state>"), "listed a while: {listed}");
    assert_eq!(matching(&mut s, "state", "deleted"), 1);
    let later = at(
        &mut s,
        3600,
        &format!(
            "Action=DescribeCustomerGateways&Filter.1.Name=customer-gateway-id&Filter.1.Value.1={cgw}"
        ),
    );
    assert!(later.contains("<customerGatewaySet/>"), "forgotten after an hour: {later}");
}

#[test]
fn a_virtual_private_gateway_attaches_to_one_vpc_and_stays_listed_detached() {
    let mut s = Service::new(Model::new(32), None, None, 32).with_transition_seconds(30);
    let made = ok(
        &mut s,
        "Action=CreateVpnGateway&Type=ipsec.1&AmazonSideAsn=65010&AvailabilityZone=us-east-1b\
         &TagSpecification.1.ResourceType=vpn-gateway\
         &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=edge",
    );
    let vgw = first(&made, "vpnGatewayId");
    for expected in [
        "<state>pending</state>",
        "<type>ipsec.1</type>",
        "<availabilityZone>us-east-1b</availabilityZone>",
        "<attachments/>",
        "<amazonSideAsn>65010</amazonSideAsn>",
        "<value>edge</value>",
    ] {
        assert!(made.contains(expected), "{expected} in {made}");
    }
    let plain = ok(&mut s, "Action=CreateVpnGateway&Type=ipsec.1");
    let other = first(&plain, "vpnGatewayId");
    assert!(plain.contains("<amazonSideAsn>64512</amazonSideAsn>"), "{plain}");
    for bad in ["AmazonSideAsn=65535", "AmazonSideAsn=x", "AvailabilityZone=eu-west-1a"] {
        let body = format!("Action=CreateVpnGateway&Type=ipsec.1&{bad}");
        assert_eq!(code(&mut s, &body), "InvalidParameterValue", "{bad}");
    }

    let vpc = first(&ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16"), "vpcId");
    let attached = ok(&mut s, &format!("Action=AttachVpnGateway&VpnGatewayId={vgw}&VpcId={vpc}"));
    assert!(
        attached.contains(&format!(
            "<attachment><vpcId>{vpc}</vpcId><state>attaching</state></attachment>"
        )),
        "{attached}"
    );
    let describe = format!("Action=DescribeVpnGateways&VpnGatewayId.1={vgw}");
    let soon = at(&mut s, 10, &describe);
    assert!(soon.contains("<state>attaching</state>") && soon.contains("<state>pending</state>"));
    let later = at(&mut s, 30, &describe);
    assert!(
        later.contains(&format!(
            "<attachments><item><vpcId>{vpc}</vpcId><state>attached</state></item></attachments>"
        )),
        "{later}"
    );
    assert!(later.contains("<state>available</state>"), "{later}");
    assert_eq!(
        refused(&mut s, &format!("Action=AttachVpnGateway&VpnGatewayId={other}&VpcId={vpc}")),
        (
            "InvalidVpcState".to_owned(),
            format!("VPC {vpc} is currently attached to the Virtual Private Gateway.")
        )
    );
    assert_eq!(code(&mut s, &format!("Action=DeleteVpc&VpcId={vpc}")), "DependencyViolation");
    let delete = format!("Action=DeleteVpnGateway&VpnGatewayId={vgw}");
    assert_eq!(
        refused(&mut s, &delete),
        ("IncorrectState".to_owned(), "The VPN gateway is in use.".to_owned())
    );
    let matching = |s: &mut Service, name: &str, value: &str| {
        filtered(s, 30, ("DescribeVpnGateways", "vpnGatewayId"), name, value)
    };
    assert_eq!(matching(&mut s, "attachment.vpc-id", &vpc), [vgw.as_str()]);
    assert_eq!(matching(&mut s, "attachment.state", "attached"), [vgw.as_str()]);
    assert_eq!(matching(&mut s, "amazon-side-asn", "64512"), [other.as_str()]);
    assert_eq!(matching(&mut s, "availability-zone", "us-east-1b"), [vgw.as_str()]);
    assert_eq!(matching(&mut s, "tag:Name", "edge"), [vgw.as_str()]);
    assert_eq!(matching(&mut s, "type", "ipsec.1").len(), 2);

    let detach = format!("Action=DetachVpnGateway&VpnGatewayId={vgw}&VpcId={vpc}");
    ok(&mut s, &detach);
    assert!(at(&mut s, 10, &describe).contains("<state>detaching</state>"));
    let detached = at(&mut s, 40, &describe);
    assert!(
        detached.contains(&format!("<vpcId>{vpc}</vpcId><state>detached</state>")),
        "a detached entry stays listed: {detached}"
    );
    assert_eq!(
        refused(&mut s, &detach),
        (
            "InvalidVpnGatewayAttachment.NotFound".to_owned(),
            format!("The attachment with vpn gateway ID '{vgw}' and vpc ID '{vpc}' does not exist")
        )
    );
    ok(&mut s, &delete);
    assert!(at(&mut s, 10, &describe).contains("<state>deleting</state>"));
    assert!(at(&mut s, 40, &describe).contains("<state>deleted</state>"));
    assert_eq!(code(&mut s, &delete), "InvalidVpnGatewayID.NotFound");
    let unknown = "vgw-0123456789abcdef0";
    assert_eq!(
        refused(&mut s, &format!("Action=DescribeVpnGateways&VpnGatewayId.1={unknown}")),
        (
            "InvalidVpnGatewayID.NotFound".to_owned(),
            format!("The vpnGateway ID '{unknown}' does not exist")
        )
    );
    assert_eq!(
        code(&mut s, "Action=DescribeVpnGateways&VpnGatewayId.1=igw-0123"),
        "InvalidVpnGatewayID.Malformed"
    );
}

#[test]
fn a_connection_has_two_tunnels_down_settles_and_stays_listed_once_deleted() {
    let mut s = Service::new(Model::new(33), None, None, 33).with_transition_seconds(30);
    let (_, _, vgw) = attached_vpc(&mut s, 0);
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    let (vpn, made) = connection(
        &mut s,
        &cgw,
        &vgw,
        "&Options.TunnelOptions.1.TunnelInsideCidr=169.254.10.0%2F30\
         &Options.TunnelOptions.2.PreSharedKey=my_key.2&Options.TunnelBandwidth=large\
         &Options.EnableAcceleration=false&Options.TunnelInsideIpVersion=ipv4\
         &Options.LocalIpv4NetworkCidr=0.0.0.0%2F0&PreSharedKeyStorage=Standard\
         &TagSpecification.1.ResourceType=vpn-connection\
         &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=office",
    );
    assert!(vpn.starts_with("vpn-0"), "{made}");
    for expected in [
        "<customerGatewayConfiguration>&lt;?xml".to_owned(),
        format!("<customerGatewayId>{cgw}</customerGatewayId>"),
        "<category>VPN</category>".to_owned(),
        "<state>pending</state>".to_owned(),
        "<type>ipsec.1</type>".to_owned(),
        format!("<vpnGatewayId>{vgw}</vpnGatewayId>"),
        "<gatewayAssociationState>associated</gatewayAssociationState>".to_owned(),
        "<staticRoutesOnly>true</staticRoutesOnly>".to_owned(),
        "<enableAcceleration>false</enableAcceleration>".to_owned(),
        "<outsideIpAddressType>PublicIpv4</outsideIpAddressType>".to_owned(),
        "<tunnelOptionSet><item><outsideIpAddress>203.0.113.254</outsideIpAddress>\
         <tunnelInsideCidr>169.254.10.0/30</tunnelInsideCidr>"
            .to_owned(),
        "<preSharedKey>my_key.2</preSharedKey>".to_owned(),
        "<tunnelBandwidth>large</tunnelBandwidth>".to_owned(),
        "<routes/>".to_owned(),
        "<value>office</value>".to_owned(),
    ] {
        assert!(made.contains(&expected), "{expected} in {made}");
    }
    let telemetry = first(&made, "vgwTelemetry");
    assert_eq!(all(&telemetry, "<status>", "</status>"), ["DOWN", "DOWN"]);
    assert_eq!(all(&telemetry, "<statusMessage>", "<"), ["IPSEC IS DOWN", "IPSEC IS DOWN"]);
    assert_eq!(all(&telemetry, "<acceptedRouteCount>", "<"), ["0", "0"]);
    assert_eq!(
        all(&telemetry, "<outsideIpAddress>", "<"),
        ["203.0.113.254", "203.0.113.253"],
        "AWS's outside addresses, from the top of the public range"
    );
    let keys = all(&made, "<preSharedKey>", "</preSharedKey>");
    assert_eq!(keys[0].len(), 32, "AWS's own key: {}", keys[0]);
    assert!(keys[0].bytes().all(|b| b.is_ascii_alphanumeric()) && !keys[0].starts_with('0'));

    let same = ok(
        &mut s,
        &format!(
            "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}&VpnGatewayId={vgw}\
             &Options.StaticRoutesOnly=true&Options.TunnelBandwidth=large\
             &Options.TunnelOptions.1.TunnelInsideCidr=169.254.10.0%2F30\
             &Options.TunnelOptions.2.PreSharedKey=my_key.2"
        ),
    );
    assert_eq!(first(&same, "vpnConnectionId"), vpn, "an identical request: the same one");
    assert_eq!(all(&same, "<preSharedKey>", "<"), keys, "and the same tunnels");

    let describe = format!("Action=DescribeVpnConnections&VpnConnectionId.1={vpn}");
    assert!(at(&mut s, 10, &describe).contains("<state>pending</state>"));
    let settled = at(&mut s, 30, &describe);
    assert!(settled.contains("<state>available</state>"), "{settled}");
    assert!(settled.contains("<customerGatewayConfiguration>"), "given while available");
    let eip = ok(&mut s, "Action=AllocateAddress&Domain=vpc");
    assert!(
        eip.contains("<publicIp>203.0.113.10</publicIp>"),
        "Elastic IPs from the bottom: {eip}"
    );

    ok(&mut s, &format!("Action=DeleteVpnConnection&VpnConnectionId={vpn}"));
    let deleting = at(&mut s, 10, &describe);
    assert!(deleting.contains("<state>deleting</state>"), "{deleting}");
    assert!(!deleting.contains("customerGatewayConfiguration"), "not once deleting: {deleting}");
    assert!(at(&mut s, 40, &describe).contains("<state>deleted</state>"));
    let delete = format!("Action=DeleteVpnConnection&VpnConnectionId={vpn}");
    assert_eq!(
        refused(&mut s, &delete),
        (
            "InvalidVpnConnectionID.NotFound".to_owned(),
            format!("The vpnConnection ID '{vpn}' does not exist")
        ),
        "as AWS answers for a deleted connection"
    );
    let gone = s.handle(describe.as_bytes(), NOW + 3600);
    assert_eq!(gone.status, 400, "forgotten after an hour: {}", gone.body);
}

#[test]
fn the_customer_gateway_configuration_is_shaped_as_awss() {
    let mut s = Service::new(Model::new(34), None, None, 34);
    let (_, _, vgw) = attached_vpc(&mut s, 0);
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    let (_, made) = connection(&mut s, &cgw, &vgw, "");
    let xml = unescape(&first(&made, "customerGatewayConfiguration"));
    let vpn = first(&made, "vpnConnectionId");
    assert!(
        xml.starts_with(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vpn_connection id=\"{vpn}\">\n  \
             <customer_gateway_id>{cgw}</customer_gateway_id>\n  \
             <vpn_gateway_id>{vgw}</vpn_gateway_id>\n  \
             <vpn_connection_type>ipsec.1</vpn_connection_type>\n  \
             <vpn_connection_attributes>NoBGPVPNConnection</vpn_connection_attributes>\n  \
             <ipsec_tunnel>\n    <customer_gateway>\n      <tunnel_outside_address>\n        \
             <ip_address>198.51.100.2</ip_address>"
        )),
        "{xml}"
    );
    assert!(xml.ends_with("  </ipsec_tunnel>\n</vpn_connection>"), "{xml}");
    let tunnels = all(&xml, "<ipsec_tunnel>", "</ipsec_tunnel>");
    assert_eq!(tunnels.len(), 2);
    let cidrs = all(&made, "<tunnelInsideCidr>", "</tunnelInsideCidr>");
    let keys = all(&made, "<preSharedKey>", "</preSharedKey>");
    let outside = ["203.0.113.254", "203.0.113.253"];
    for (i, tunnel) in tunnels.iter().enumerate() {
        let cidr: ipnet::Ipv4Net = cidrs[i].parse().unwrap();
        let base = u32::from(cidr.network());
        let customer = first(tunnel, "customer_gateway");
        let aws = first(tunnel, "vpn_gateway");
        let inside = |side: &str| first(&first(side, "tunnel_inside_address"), "ip_address");
        let outside_of = |side: &str| first(&first(side, "tunnel_outside_address"), "ip_address");
        assert_eq!(inside(&aws), std::net::Ipv4Addr::from(base + 1).to_string(), "AWS: first");
        assert_eq!(inside(&customer), std::net::Ipv4Addr::from(base + 2).to_string());
        assert_eq!(outside_of(&customer), "198.51.100.2");
        assert_eq!(outside_of(&aws), outside[i]);
        for side in [&customer, &aws] {
            assert_eq!(first(side, "network_mask"), "255.255.255.252");
            assert_eq!(first(side, "network_cidr"), "30");
            assert!(!side.contains("<bgp>"), "no BGP on a static connection");
        }
        let ike = first(tunnel, "ike");
        for (tag, value) in [
            ("authentication_protocol", "sha1"),
            ("encryption_protocol", "aes-128-cbc"),
            ("lifetime", "28800"),
            ("perfect_forward_secrecy", "group2"),
            ("mode", "main"),
            ("pre_shared_key", keys[i]),
        ] {
            assert_eq!(first(&ike, tag), value, "ike {tag}");
        }
        let ipsec = first(tunnel, "ipsec");
        for (tag, value) in [
            ("protocol", "esp"),
            ("authentication_protocol", "hmac-sha1-96"),
            ("encryption_protocol", "aes-128-cbc"),
            ("lifetime", "3600"),
            ("perfect_forward_secrecy", "group2"),
            ("mode", "tunnel"),
            ("clear_df_bit", "true"),
            ("fragmentation_before_encryption", "true"),
            ("tcp_mss_adjustment", "1379"),
            ("interval", "10"),
            ("retries", "3"),
        ] {
            assert_eq!(first(&ipsec, tag), value, "ipsec {tag}");
        }
    }

    // Dynamic (BGP): each side's ASN and the hold time, no static attribute.
    let bgp = ok(
        &mut s,
        &format!(
            "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}&VpnGatewayId={vgw}"
        ),
    );
    let xml = unescape(&first(&bgp, "customerGatewayConfiguration"));
    assert!(!xml.contains("vpn_connection_attributes"), "{xml}");
    let tunnel = first(&xml, "ipsec_tunnel");
    assert_eq!(
        first(&first(&tunnel, "customer_gateway"), "bgp"),
        "\n        <asn>65000</asn>\n        <hold_time>30</hold_time>\n      "
    );
    assert_eq!(first(&first(&tunnel, "vpn_gateway"), "asn"), "64512");
    // Without a gateway: the element is there, empty.
    let alone =
        ok(&mut s, &format!("Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}"));
    assert!(unescape(&alone).contains("<vpn_gateway_id />"), "{alone}");
    assert!(alone.contains("<gatewayAssociationState>not-associated</gatewayAssociationState>"));
}

#[test]
fn tunnel_options_are_checked_and_what_cannot_be_honoured_is_refused() {
    let mut s = Service::new(Model::new(35), None, None, 35);
    let (_, _, vgw) = attached_vpc(&mut s, 0);
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    connection(&mut s, &cgw, &vgw, "&Options.TunnelOptions.1.TunnelInsideCidr=169.254.20.0%2F30");
    let base = format!(
        "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}&VpnGatewayId={vgw}"
    );
    for (bad, expected, says) in [
        (
            "Options.TunnelOptions.1.PreSharedKey=0abcdefgh",
            "InvalidParameterValue",
            "Value for parameter PreSharedKey is invalid.",
        ),
        (
            "Options.TunnelOptions.2.PreSharedKey=short",
            "InvalidParameterValue",
            "Value for parameter PreSharedKey is invalid.",
        ),
        (
            "Options.TunnelOptions.1.PreSharedKey=with-dash1",
            "InvalidParameterValue",
            "Value for parameter PreSharedKey is invalid.",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=169.254.20.0%2F30",
            "InvalidParameterValue",
            "already used",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=169.254.169.252%2F30",
            "InvalidParameterValue",
            "reserved",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=169.254.3.0%2F30",
            "InvalidParameterValue",
            "reserved",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=169.254.30.0%2F29",
            "InvalidParameterValue",
            "/30",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=10.0.0.0%2F30",
            "InvalidParameterValue",
            "169.254.0.0/16",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=nope",
            "InvalidParameterValue",
            "TunnelInsideCidr",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideCidr=169.254.31.0%2F30&Options.TunnelOptions.2.TunnelInsideCidr=169.254.31.0%2F30",
            "InvalidParameterValue",
            "different inside CIDRs",
        ),
        (
            "Options.TunnelOptions.1.TunnelInsideIpv6Cidr=fd00::%2F126",
            "InvalidParameterCombination",
            "An ipv6 inside cidr is not allowed for VPNs using an ipv4 inside ip version",
        ),
        ("Options.TunnelInsideIpVersion=ipv6", "InvalidParameterValue", "IPv6"),
        ("Options.OutsideIpAddressType=PrivateIpv4", "InvalidParameterValue", "emulated internet"),
        ("Options.RemoteIpv4NetworkCidr=10.0.0.0%2F16", "InvalidParameterValue", "any to any"),
        ("PreSharedKeyStorage=SecretsManager", "InvalidParameterValue", "Secrets Manager"),
        ("Options.TunnelBandwidth=huge", "InvalidParameterValue", "TunnelBandwidth"),
        ("Options.EnableAcceleration=true", "InvalidParameter", "Options.EnableAcceleration"),
        (
            "Options.TunnelOptions.1.Phase1LifetimeSeconds=900",
            "InvalidParameter",
            "Phase1LifetimeSeconds",
        ),
        ("Options.TunnelOptions.3.PreSharedKey=abcdefgh", "InvalidParameter", "TunnelOptions.3"),
        ("VpnConcentratorId=vcn-0123", "InvalidParameter", "VpnConcentratorId"),
    ] {
        let (got, message) = refused(&mut s, &format!("{base}&{bad}"));
        assert_eq!(got, expected, "{bad}: {message}");
        assert!(message.contains(says), "{bad}: {message}");
    }
    let unknown = "cgw-0123456789abcdef0";
    assert_eq!(
        code(
            &mut s,
            &format!("Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={unknown}")
        ),
        "InvalidCustomerGatewayID.NotFound"
    );
    assert_eq!(
        code(&mut s, &format!("Action=CreateVpnConnection&CustomerGatewayId={cgw}")),
        "MissingParameter"
    );
    // The same inside CIDR on another gateway, or on none, is fine.
    let taken = "&Options.TunnelOptions.1.TunnelInsideCidr=169.254.20.0%2F30";
    ok(&mut s, &format!("Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}{taken}"));
}

#[test]
fn static_routes_filters_and_tags() {
    let mut s = Service::new(Model::new(36), None, None, 36);
    let (_, _, vgw) = attached_vpc(&mut s, 0);
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    let (vpn, _) = connection(&mut s, &cgw, &vgw, "");
    let route = |action: &str, cidr: &str| {
        format!(
            "Action={action}VpnConnectionRoute&VpnConnectionId={vpn}&DestinationCidrBlock={cidr}"
        )
    };
    ok(&mut s, &route("Create", "192.168.0.0%2F16"));
    ok(&mut s, &route("Create", "172.16.5.9%2F24"));
    let listed = ok(&mut s, &format!("Action=DescribeVpnConnections&VpnConnectionId.1={vpn}"));
    assert!(
        listed.contains(
            "<routes><item><destinationCidrBlock>192.168.0.0/16</destinationCidrBlock>\
             <source>Static</source><state>available</state></item><item>\
             <destinationCidrBlock>172.16.5.0/24</destinationCidrBlock>"
        ),
        "{listed}"
    );
    assert_eq!(code(&mut s, &route("Create", "192.168.0.0%2F16")), "RouteAlreadyExists");
    assert_eq!(code(&mut s, &route("Delete", "10.9.0.0%2F16")), "InvalidRoute.NotFound");
    assert_eq!(code(&mut s, &route("Create", "nope")), "InvalidParameterValue");
    ok(&mut s, &route("Delete", "172.16.5.0%2F24"));

    let bgp = first(
        &ok(
            &mut s,
            &format!(
                "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}&VpnGatewayId={vgw}"
            ),
        ),
        "vpnConnectionId",
    );
    let on_bgp = format!(
        "Action=CreateVpnConnectionRoute&VpnConnectionId={bgp}&DestinationCidrBlock=10.9.0.0%2F16"
    );
    assert_eq!(code(&mut s, &on_bgp), "InvalidVpnConnection.InvalidType");

    let matching = |s: &mut Service, name: &str, value: &str| {
        filtered(s, 0, ("DescribeVpnConnections", "vpnConnectionId"), name, value).len()
    };
    assert_eq!(matching(&mut s, "option.static-routes-only", "true"), 1);
    assert_eq!(matching(&mut s, "option.static-routes-only", "false"), 1);
    assert_eq!(matching(&mut s, "route.destination-cidr-block", "192.168.0.0/16"), 1);
    assert_eq!(matching(&mut s, "vpn-gateway-id", &vgw), 2);
    assert_eq!(matching(&mut s, "customer-gateway-id", &cgw), 2);
    assert_eq!(matching(&mut s, "bgp-asn", "65000"), 2);
    assert_eq!(matching(&mut s, "state", "available"), 2);
    assert_eq!(matching(&mut s, "type", "ipsec.1"), 2);
    assert_eq!(matching(&mut s, "vpn-connection-id", &vpn), 1);
    assert_eq!(matching(&mut s, "transit-gateway-id", "tgw-0123"), 0);
    assert_eq!(
        code(&mut s, "Action=DescribeVpnConnections&Filter.1.Name=colour&Filter.1.Value.1=x"),
        "InvalidParameterValue"
    );

    ok(
        &mut s,
        &format!(
            "Action=CreateTags&ResourceId.1={vpn}&ResourceId.2={vgw}&ResourceId.3={cgw}&Tag.1.Key=site&Tag.1.Value=lab"
        ),
    );
    let tags = ok(&mut s, "Action=DescribeTags&Filter.1.Name=key&Filter.1.Value.1=site");
    let kinds = all(&tags, "<resourceType>", "</resourceType>");
    for kind in ["customer-gateway", "vpn-gateway", "vpn-connection"] {
        assert!(kinds.contains(&kind), "{kind} in {tags}");
    }
    assert_eq!(matching(&mut s, "tag:site", "lab"), 1);
    assert_eq!(
        code(&mut s, "Action=CreateTags&ResourceId.1=vpn-0123456789abcdef0&Tag.1.Key=a"),
        "InvalidVpnConnectionID.NotFound"
    );
}

/// The routes of `table` as `destination gateway origin state`.
fn table_routes(s: &mut Service, table: &str) -> Vec<String> {
    let body = ok(s, &format!("Action=DescribeRouteTables&RouteTableId.1={table}"));
    all(&first(&body, "routeSet"), "<item>", "</item>")
        .iter()
        .map(|r| {
            let target = between(r, "<gatewayId>", "</gatewayId>").unwrap_or("other");
            format!(
                "{} {target} {} {}",
                first(r, "destinationCidrBlock"),
                first(r, "origin"),
                first(r, "state")
            )
        })
        .collect()
}

#[test]
fn a_gateway_propagates_its_static_routes_below_local_and_static_ones() {
    let mut s = Service::new(Model::new(37), None, None, 37);
    let (vpc, main, vgw) = attached_vpc(&mut s, 0);
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    let (vpn, _) = connection(&mut s, &cgw, &vgw, "");
    for cidr in ["192.168.0.0%2F16", "10.0.8.0%2F24", "172.16.0.0%2F16", "10.0.0.0%2F8"] {
        ok(
            &mut s,
            &format!(
                "Action=CreateVpnConnectionRoute&VpnConnectionId={vpn}&DestinationCidrBlock={cidr}"
            ),
        );
    }
    let igw = first(&ok(&mut s, "Action=CreateInternetGateway"), "internetGatewayId");
    ok(&mut s, &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"));
    ok(
        &mut s,
        &format!(
            "Action=CreateRoute&RouteTableId={main}&DestinationCidrBlock=172.16.0.0%2F16&GatewayId={igw}"
        ),
    );
    // A route to the gateway itself, as CreateRoute and ReplaceRoute take it in GatewayId.
    let route = |action: &str, gateway: &str| {
        format!(
            "Action={action}&RouteTableId={main}&DestinationCidrBlock=203.0.113.0%2F24\
             &GatewayId={gateway}"
        )
    };
    ok(&mut s, &route("CreateRoute", &igw));
    ok(&mut s, &route("ReplaceRoute", &vgw));
    let described = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={main}"));
    assert!(described.contains("<propagatingVgwSet/>"), "{described}");

    let enable = format!("Action=EnableVgwRoutePropagation&RouteTableId={main}&GatewayId={vgw}");
    ok(&mut s, &enable);
    ok(&mut s, &enable);
    let described = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={main}"));
    assert!(
        described.contains(&format!(
            "<propagatingVgwSet><item><gatewayId>{vgw}</gatewayId></item></propagatingVgwSet>"
        )),
        "{described}"
    );
    // While both tunnels are down, the connection's routes are withdrawn, as on AWS.
    assert_eq!(table_routes(&mut s, &main).len(), 3, "nothing propagated while down");
    let up = vpclab_model::TunnelLive { ipsec_up: true, ..Default::default() };
    let vpn_id = vpclab_model::VpnConnectionId::parse(&vpn).unwrap();
    s.record_tunnels(vec![(vpn_id, [up, Default::default()])], NOW);
    assert_eq!(
        table_routes(&mut s, &main),
        [
            "10.0.0.0/16 local CreateRouteTable active".to_owned(),
            format!("172.16.0.0/16 {igw} CreateRoute active"),
            format!("203.0.113.0/24 {vgw} CreateRoute active"),
            // 10.0.8.0/24 is inside the VPC, and 172.16.0.0/16 has a static route: the
            // gateway's routes for them are not in force.
            format!("10.0.0.0/8 {vgw} EnableVgwRoutePropagation active"),
            format!("192.168.0.0/16 {vgw} EnableVgwRoutePropagation active"),
        ]
    );
    let found = |s: &mut Service, name: &str, value: &str| {
        filtered(s, 0, ("DescribeRouteTables", "routeTableId"), name, value).len()
    };
    assert_eq!(found(&mut s, "route.origin", "EnableVgwRoutePropagation"), 1);
    assert_eq!(found(&mut s, "route.gateway-id", &vgw), 1);
    assert_eq!(found(&mut s, "route.destination-cidr-block", "192.168.0.0/16"), 1);
    assert_eq!(found(&mut s, "route.state", "blackhole"), 0);

    // Another VPC's table: the gateway is not attached there.
    let (_, other, _) = attached_vpc(&mut s, 1);
    let (code_, message) = refused(
        &mut s,
        &format!("Action=EnableVgwRoutePropagation&RouteTableId={other}&GatewayId={vgw}"),
    );
    assert_eq!(code_, "InvalidParameterValue");
    assert_eq!(
        message,
        format!("route table {other} and network gateway {vgw} belong to different networks")
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateRoute&RouteTableId={other}&DestinationCidrBlock=192.0.2.0%2F24&GatewayId={vgw}"
            )
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateRoute&RouteTableId={main}&DestinationCidrBlock=10.0.1.0%2F24&GatewayId={vgw}"
            )
        ),
        "InvalidParameterValue",
        "inside the VPC"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=EnableVgwRoutePropagation&RouteTableId={main}&GatewayId=vgw-0123456789abcdef0"
            )
        ),
        "InvalidVpnGatewayID.NotFound"
    );

    // Detached, the gateway propagates nothing and routes to it are blackholes.
    ok(&mut s, &format!("Action=DetachVpnGateway&VpnGatewayId={vgw}&VpcId={vpc}"));
    assert_eq!(
        table_routes(&mut s, &main),
        [
            "10.0.0.0/16 local CreateRouteTable active".to_owned(),
            format!("172.16.0.0/16 {igw} CreateRoute active"),
            format!("203.0.113.0/24 {vgw} CreateRoute blackhole"),
        ]
    );
    ok(&mut s, &format!("Action=AttachVpnGateway&VpnGatewayId={vgw}&VpcId={vpc}"));
    assert_eq!(table_routes(&mut s, &main).len(), 5, "attached again, propagating again");
    ok(&mut s, &format!("Action=DeleteVpnConnection&VpnConnectionId={vpn}"));
    assert_eq!(table_routes(&mut s, &main).len(), 3, "a deleted connection's routes leave");
    let disable = format!("Action=DisableVgwRoutePropagation&RouteTableId={main}&GatewayId={vgw}");
    ok(&mut s, &disable);
    ok(&mut s, &disable);
    let described = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={main}"));
    assert!(described.contains("<propagatingVgwSet/>"), "{described}");
}

#[test]
fn a_connection_to_a_transit_gateway_comes_and_goes_with_its_attachment() {
    let mut s = Service::new(Model::new(38), None, None, 38);
    let made = ok(&mut s, "Action=CreateTransitGateway&Options.AmazonSideAsn=64600");
    let (tgw, table) =
        (first(&made, "transitGatewayId"), first(&made, "associationDefaultRouteTableId"));
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    let create = format!(
        "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}&TransitGatewayId={tgw}\
         &Options.TunnelOptions.1.TunnelInsideCidr=169.254.10.0%2F30"
    );
    let made = ok(&mut s, &create);
    let vpn = first(&made, "vpnConnectionId");
    assert!(made.contains(&format!("<transitGatewayId>{tgw}</transitGatewayId>")), "{made}");
    assert!(!made.contains("<vpnGatewayId>"), "{made}");
    let xml = unescape(&first(&made, "customerGatewayConfiguration"));
    assert!(xml.contains("<vpn_gateway_id />"), "as AWS's documents for a transit gateway: {xml}");
    let tunnel = first(&xml, "ipsec_tunnel");
    assert_eq!(first(&first(&tunnel, "vpn_gateway"), "asn"), "64600", "the hub's ASN");
    let other = ok(&mut s, &format!("{create}&Options.StaticRoutesOnly=true"));
    assert_ne!(first(&other, "vpnConnectionId"), vpn, "inside CIDRs may repeat on a hub");

    let attachments = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayAttachments&Filter.1.Name=resource-id\
             &Filter.1.Value.1={vpn}"
        ),
    );
    let attachment = first(&attachments, "transitGatewayAttachmentId");
    for expected in [
        "<resourceType>vpn</resourceType>".to_owned(),
        format!("<resourceId>{vpn}</resourceId>"),
        "<state>available</state>".to_owned(),
        format!("<association><transitGatewayRouteTableId>{table}</transitGatewayRouteTableId>"),
    ] {
        assert!(attachments.contains(&expected), "{expected} in {attachments}");
    }
    let vpc_kind = ok(&mut s, "Action=DescribeTransitGatewayVpcAttachments");
    assert!(vpc_kind.contains("<transitGatewayVpcAttachments/>"), "{vpc_kind}");
    ok(
        &mut s,
        &format!(
            "Action=CreateTransitGatewayRoute&TransitGatewayRouteTableId={table}\
             &DestinationCidrBlock=192.168.0.0%2F16&TransitGatewayAttachmentId={attachment}"
        ),
    );
    let found = ok(
        &mut s,
        &format!(
            "Action=SearchTransitGatewayRoutes&TransitGatewayRouteTableId={table}\
             &Filter.1.Name=type&Filter.1.Value.1=static"
        ),
    );
    assert!(found.contains("<resourceType>vpn</resourceType>"), "{found}");
    let (got, message) = refused(
        &mut s,
        &format!(
            "Action=CreateVpnConnectionRoute&VpnConnectionId={vpn}\
             &DestinationCidrBlock=10.9.0.0%2F16"
        ),
    );
    assert_eq!(got, "InvalidVpnConnection.InvalidType");
    assert!(message.contains("CreateTransitGatewayRoute"), "{message}");
    let (got, message) =
        refused(&mut s, &format!("Action=DeleteTransitGateway&TransitGatewayId={tgw}"));
    assert_eq!(got, "IncorrectState");
    assert!(message.contains(&attachment), "{message}");
    let connections = ("DescribeVpnConnections", "vpnConnectionId");
    assert_eq!(filtered(&mut s, 0, connections, "transit-gateway-id", &tgw).len(), 2);

    let vgw = first(&ok(&mut s, "Action=CreateVpnGateway&Type=ipsec.1"), "vpnGatewayId");
    assert_eq!(
        code(&mut s, &format!("{create}&VpnGatewayId={vgw}")),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateVpnConnection&Type=ipsec.1&CustomerGatewayId={cgw}\
                 &TransitGatewayId=tgw-0123456789abcdef0"
            )
        ),
        "InvalidTransitGatewayID.NotFound"
    );

    ok(&mut s, &format!("Action=DeleteVpnConnection&VpnConnectionId={vpn}"));
    let gone = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayAttachments&TransitGatewayAttachmentIds.1={attachment}"
        ),
    );
    assert!(gone.contains("<state>deleted</state>"), "deleted with its connection: {gone}");
    let found = ok(
        &mut s,
        &format!(
            "Action=SearchTransitGatewayRoutes&TransitGatewayRouteTableId={table}\
             &Filter.1.Name=state&Filter.1.Value.1=blackhole"
        ),
    );
    assert!(
        found.contains("<destinationCidrBlock>192.168.0.0/16</destinationCidrBlock>"),
        "{found}"
    );
}

#[test]
fn a_tunnels_key_and_inside_cidr_are_modified_and_checked() {
    let mut s = Service::new(Model::new(41), None, None, 41);
    let (_, _, vgw) = attached_vpc(&mut s, 0);
    let cgw = customer_gateway(&mut s, "198.51.100.2");
    let (vpn, made) = connection(
        &mut s,
        &cgw,
        &vgw,
        "&Options.TunnelOptions.1.TunnelInsideCidr=169.254.10.0%2F30\
         &Options.TunnelOptions.2.TunnelInsideCidr=169.254.11.0%2F30",
    );
    let outside: Vec<String> = made
        .split("<outsideIpAddress>")
        .skip(1)
        .map(|r| r.split('<').next().unwrap().to_owned())
        .collect();
    let modify = |extra: &str, ip: &str| {
        format!(
            "Action=ModifyVpnTunnelOptions&VpnConnectionId={vpn}&VpnTunnelOutsideIpAddress={ip}{extra}"
        )
    };
    let changed = ok(
        &mut s,
        &modify(
            "&TunnelOptions.PreSharedKey=new.key_4567&TunnelOptions.TunnelInsideCidr=169.254.12.0%2F30",
            &outside[0],
        ),
    );
    assert_eq!(first(&changed, "vpnConnectionId"), vpn);
    assert!(changed.contains("<preSharedKey>new.key_4567</preSharedKey>"), "{changed}");
    assert!(changed.contains("<tunnelInsideCidr>169.254.12.0/30</tunnelInsideCidr>"), "{changed}");
    // The configuration document follows: a customer gateway reconfigured from it works.
    let described = ok(&mut s, &format!("Action=DescribeVpnConnections&VpnConnectionId.1={vpn}"));
    let document = unescape(&first(&described, "customerGatewayConfiguration"));
    assert!(document.contains("<pre_shared_key>new.key_4567</pre_shared_key>"), "{document}");
    assert!(document.contains("<ip_address>169.254.12.2</ip_address>"), "{document}");

    // Checked as at creation.
    let (code_, _) =
        refused(&mut s, &modify("&TunnelOptions.PreSharedKey=0starts.with.zero", &outside[0]));
    assert_eq!(code_, "InvalidParameterValue");
    let (code_, message) =
        refused(&mut s, &modify("&TunnelOptions.TunnelInsideCidr=169.254.11.0%2F30", &outside[0]));
    assert_eq!(code_, "InvalidParameterValue");
    assert!(message.contains("already used"), "{message}");
    let (code_, _) = refused(
        &mut s,
        &modify("&TunnelOptions.TunnelInsideCidr=169.254.169.252%2F30", &outside[0]),
    );
    assert_eq!(code_, "InvalidParameterValue", "AWS's reserved /30");
    let (code_, message) =
        refused(&mut s, &modify("&TunnelOptions.PreSharedKey=abcdefgh1", "203.0.113.9"));
    assert_eq!(code_, "InvalidParameterValue");
    assert!(message.contains("does not belong"), "{message}");
    // An option vpclab does not honour is refused, not ignored.
    let (code_, _) = refused(&mut s, &modify("&TunnelOptions.DPDTimeoutSeconds=40", &outside[1]));
    assert_eq!(code_, "InvalidParameter");
    let (code_, _) = refused(
        &mut s,
        &format!(
            "Action=ModifyVpnTunnelOptions&VpnConnectionId=vpn-0123456789abcdef0&VpnTunnelOutsideIpAddress={}",
            outside[1]
        ),
    );
    assert_eq!(code_, "InvalidVpnConnectionID.NotFound");
}
