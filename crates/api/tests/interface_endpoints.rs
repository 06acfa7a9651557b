//! Interface endpoints (PrivateLink) as clients see them: an interface per subnet, DNS
//! names, private DNS and its conditions, the services offered, and AWS's errors; and
//! the policies of endpoints of both types, kept and shown back but not evaluated.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

fn first(body: &str, tag: &str) -> String {
    between(body, &format!("<{tag}>"), &format!("</{tag}>"))
        .unwrap_or_else(|| panic!("no <{tag}> in {body}"))
        .to_owned()
}

/// A VPC 10.0.0.0/16 with both DNS attributes on and subnets in us-east-1a and -1b (and
/// another in -1a): (vpc, [a, b, a2]).
fn lab(s: &mut Service) -> (String, [String; 3]) {
    let vpc = first(&ok(s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16"), "vpcId");
    ok(s, &format!("Action=ModifyVpcAttribute&VpcId={vpc}&EnableDnsHostnames.Value=true"));
    let subnet = |s: &mut Service, third: u8, zone: &str| {
        let body = ok(
            s,
            &format!(
                "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.{third}.0%2F24&AvailabilityZone={zone}"
            ),
        );
        first(&body, "subnetId")
    };
    let a = subnet(s, 1, "us-east-1a");
    let b = subnet(s, 2, "us-east-1b");
    let a2 = subnet(s, 3, "us-east-1a");
    (vpc, [a, b, a2])
}

fn create(vpc: &str, service: &str, subnets: &[&str], extra: &str) -> String {
    let mut q = format!(
        "Action=CreateVpcEndpoint&VpcEndpointType=Interface&VpcId={vpc}&ServiceName=com.amazonaws.us-east-1.{service}"
    );
    for (i, s) in subnets.iter().enumerate() {
        q.push_str(&format!("&SubnetId.{}={s}", i + 1));
    }
    q + extra
}

#[test]
fn an_interface_endpoint_has_an_interface_per_subnet_and_its_dns_names() {
    let mut s = Service::new(Model::new(21), None, None, 21).with_transition_seconds(30);
    let (vpc, [a, b, _]) = lab(&mut s);
    let made = ok(&mut s, &create(&vpc, "ssm", &[&a, &b], ""));
    let id = first(&made, "vpcEndpointId");
    assert!(made.contains("<vpcEndpointType>Interface</vpcEndpointType>"), "{made}");
    assert!(made.contains("<state>pending</state>"), "{made}");
    assert!(made.contains("<privateDnsEnabled>true</privateDnsEnabled>"), "on by default");
    assert!(made.contains("<groupName>default</groupName>"), "the VPC's default group");
    let names = all(&made, "<dnsName>", "</dnsName>");
    let suffix = names[0].strip_prefix(&format!("{id}-")).unwrap();
    assert!(suffix.ends_with(".ssm.us-east-1.vpce.amazonaws.com"), "{names:?}");
    assert_eq!(suffix.split('.').next().unwrap().len(), 8, "eight characters after the id");
    assert!(names[1].contains("-us-east-1a.ssm.us-east-1.vpce.amazonaws.com"), "{names:?}");
    assert!(names[2].contains("-us-east-1b.ssm.us-east-1.vpce.amazonaws.com"), "{names:?}");
    assert_eq!(names[3..], ["ssm.us-east-1.amazonaws.com", "ssm.us-east-1.api.aws"]);
    assert_eq!(made.matches("<hostedZoneId>ZONEIDPENDING</hostedZoneId>").count(), 2);
    // Available once settled; a change makes it pending again until that is done.
    let id_query = format!("Action=DescribeVpcEndpoints&VpcEndpointId.1={id}");
    let state = |s: &mut Service, body: &str, dt: u64| {
        let r = s.handle(body.as_bytes(), common::NOW + dt);
        between(&r.body, "<state>", "</state>").unwrap_or_default().to_owned()
    };
    assert_eq!(state(&mut s, &id_query, 31), "available");
    let modify = format!("Action=ModifyVpcEndpoint&VpcEndpointId={id}&PrivateDnsEnabled=false");
    assert_eq!(s.handle(modify.as_bytes(), common::NOW + 40).status, 200);
    assert_eq!(state(&mut s, &id_query, 41), "pending", "modifying");
    assert_eq!(state(&mut s, &id_query, 71), "available");

    let enis = all(&made, "<networkInterfaceIdSet><item>", "</item>");
    assert_eq!(enis.len(), 1, "the set opens once");
    let listed = ok(
        &mut s,
        "Action=DescribeNetworkInterfaces&Filter.1.Name=interface-type&Filter.1.Value.1=vpc_endpoint",
    );
    let addresses = all(&listed, "<privateIpAddress>", "</privateIpAddress>");
    assert_eq!(addresses.len(), 4, "two interfaces, each address shown twice: {listed}");
    assert_eq!((addresses[0], addresses[2]), ("10.0.1.4", "10.0.2.4"), "one in each subnet");
    assert!(listed.contains(&format!("<description>VPC Endpoint Interface {id}</description>")));
    assert!(listed.contains("<requesterManaged>true</requesterManaged>"));
    // Their addresses are taken: the next instance in subnet a gets another.
    let launched = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={a}"),
    );
    assert!(launched.contains("<privateIpAddress>10.0.1.5</privateIpAddress>"), "{launched}");
    assert_eq!(
        code(&mut s, &format!("Action=DeleteSubnet&SubnetId={b}")),
        "DependencyViolation",
        "the endpoint's interface is in it"
    );
}

#[test]
fn private_dns_needs_the_vpcs_dns_attributes_and_one_endpoint_per_service() {
    let mut s = Service::new(Model::new(22), None, None, 22);
    let (vpc, [a, b, a2]) = lab(&mut s);
    let err = code(&mut s, &create(&vpc, "sts", &[&a, &a2], ""));
    assert_eq!(err, "DuplicateSubnetsInSameZone");
    assert_eq!(code(&mut s, &create(&vpc, "nope", &[&a], "")), "InvalidServiceName");
    assert_eq!(code(&mut s, &create(&vpc, "dynamodb", &[&a], "")), "InvalidParameter");
    let rtb = first(&ok(&mut s, "Action=DescribeRouteTables"), "routeTableId");
    let with_table = create(&vpc, "sts", &[&a], &format!("&RouteTableId.1={rtb}"));
    assert_eq!(code(&mut s, &with_table), "InvalidParameter", "route tables are for gateways");

    ok(&mut s, &create(&vpc, "sts", &[&a, &b], ""));
    let again = code(&mut s, &create(&vpc, "sts", &[&a], "&PrivateDnsEnabled=true"));
    assert_eq!(again, "InvalidParameter", "a conflicting DNS domain");
    ok(&mut s, &create(&vpc, "sts", &[&a], "&PrivateDnsEnabled=false"));

    ok(&mut s, &format!("Action=ModifyVpcAttribute&VpcId={vpc}&EnableDnsHostnames.Value=false"));
    let (status, body) = common::call(&mut s, &create(&vpc, "kms", &[&a], ""));
    assert_eq!(status, 400);
    assert!(body.contains("requires both enableDnsSupport and enableDnsHostnames"), "{body}");
    ok(&mut s, &create(&vpc, "kms", &[&a], "&PrivateDnsEnabled=false"));
}

#[test]
fn subnets_groups_and_private_dns_change_and_deleting_frees_the_addresses() {
    let mut s = Service::new(Model::new(23), None, None, 23);
    let (vpc, [a, b, a2]) = lab(&mut s);
    let id = first(&ok(&mut s, &create(&vpc, "ec2", &[&a], "")), "vpcEndpointId");
    let modify = |extra: &str| format!("Action=ModifyVpcEndpoint&VpcEndpointId={id}{extra}");
    ok(&mut s, &modify(&format!("&AddSubnetId.1={b}&PrivateDnsEnabled=false")));
    let described = ok(&mut s, &format!("Action=DescribeVpcEndpoints&VpcEndpointId.1={id}"));
    assert_eq!(all(&described, "<subnetIdSet><item>", "</item>").len(), 1);
    assert!(described.contains(&b), "{described}");
    assert!(described.contains("<privateDnsEnabled>false</privateDnsEnabled>"));
    assert_eq!(described.matches("vpce.amazonaws.com</dnsName>").count(), 3, "{described}");
    assert_eq!(
        code(&mut s, &modify(&format!("&AddSubnetId.1={a2}"))),
        "DuplicateSubnetsInSameZone"
    );
    ok(&mut s, &modify(&format!("&RemoveSubnetId.1={a}")));
    assert_eq!(code(&mut s, &modify(&format!("&RemoveSubnetId.1={a}"))), "InvalidParameter");
    let rtb = first(&ok(&mut s, "Action=DescribeRouteTables"), "routeTableId");
    assert_eq!(code(&mut s, &modify(&format!("&AddRouteTableId.1={rtb}"))), "InvalidParameter");
    let group = ok(
        &mut s,
        &format!("Action=CreateSecurityGroup&VpcId={vpc}&GroupName=endpoints&GroupDescription=e"),
    );
    let group = first(&group, "groupId");
    ok(&mut s, &modify(&format!("&AddSecurityGroupId.1={group}")));
    assert_eq!(
        code(&mut s, &format!("Action=DeleteSecurityGroup&GroupId={group}")),
        "DependencyViolation"
    );
    let by_type =
        "Action=DescribeVpcEndpoints&Filter.1.Name=vpc-endpoint-type&Filter.1.Value.1=Interface";
    assert_eq!(all(&ok(&mut s, by_type), "<vpcEndpointId>", "</vpcEndpointId>"), [id.as_str()]);

    let deleted = ok(
        &mut s,
        &format!(
            "Action=DeleteVpcEndpoints&VpcEndpointId.1={id}&VpcEndpointId.2=vpce-0123456789abcdef0"
        ),
    );
    assert_eq!(first(&deleted, "code"), "InvalidVpcEndpoint.NotFound", "{deleted}");
    let listed = ok(
        &mut s,
        "Action=DescribeNetworkInterfaces&Filter.1.Name=interface-type&Filter.1.Value.1=vpc_endpoint",
    );
    assert!(!listed.contains("<networkInterfaceId>"), "its interfaces went with it: {listed}");
    ok(&mut s, &format!("Action=DeleteSubnet&SubnetId={b}"));
    ok(&mut s, &format!("Action=DeleteSecurityGroup&GroupId={group}"));
}

#[test]
fn the_services_offered_include_s3_twice() {
    let mut s = Service::new(Model::new(24), None, None, 24);
    let all_services = ok(&mut s, "Action=DescribeVpcEndpointServices");
    let names = all(&all_services, "<serviceNameSet>", "</serviceNameSet>");
    assert_eq!(names.len(), 1);
    let listed = all(names[0], "<item>", "</item>");
    for short in
        ["ec2", "ec2messages", "kms", "logs", "secretsmanager", "sqs", "ssm", "ssmmessages", "sts"]
    {
        assert!(listed.contains(&format!("com.amazonaws.us-east-1.{short}").as_str()), "{short}");
    }
    assert_eq!(listed.iter().filter(|n| n.ends_with(".s3")).count(), 1, "named once");
    let s3 =
        ok(&mut s, "Action=DescribeVpcEndpointServices&ServiceName.1=com.amazonaws.us-east-1.s3");
    assert_eq!(
        all(&s3, "<serviceType><item><serviceType>", "</serviceType>"),
        ["Gateway", "Interface"],
        "two details"
    );
    let ssm = ok(
        &mut s,
        "Action=DescribeVpcEndpointServices&Filter.1.Name=service-name&Filter.1.Value.1=com.amazonaws.us-east-1.ssm",
    );
    assert!(ssm.contains("<privateDnsName>ssm.us-east-1.amazonaws.com</privateDnsName>"), "{ssm}");
    assert!(ssm.contains("<baseEndpointDnsNameSet><item>ssm.us-east-1.vpce.amazonaws.com</item>"));
    let gateways = ok(
        &mut s,
        "Action=DescribeVpcEndpointServices&Filter.1.Name=service-type&Filter.1.Value.1=Gateway",
    );
    let names = all(&gateways, "<serviceName>", "</serviceName>");
    assert_eq!(names, ["com.amazonaws.us-east-1.dynamodb", "com.amazonaws.us-east-1.s3"]);
}

/// `text` form-encoded, as a client sends a parameter's value.
fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An element's text with XML's escapes undone.
fn unescaped(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The policy document endpoint `id` is described with.
fn policy_of(s: &mut Service, id: &str) -> String {
    let described = ok(s, &format!("Action=DescribeVpcEndpoints&VpcEndpointId.1={id}"));
    unescaped(&first(&described, "policyDocument"))
}

/// A gateway endpoint for S3 in `vpc`, with `extra` parameters.
fn gateway(vpc: &str, extra: &str) -> String {
    format!("Action=CreateVpcEndpoint&VpcId={vpc}&ServiceName=com.amazonaws.us-east-1.s3{extra}")
}

/// A policy as Terraform's `jsonencode` or a hand-written heredoc gives it: odd spacing
/// and key order, and characters XML escapes, all to come back as they went in.
const POLICY: &str = "{\"Statement\": [ {\"Principal\":\"*\",\"Effect\":\"Deny\",\n  \"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::a&b<c>/*\"}]}";

/// The defaults AWS shows for each type of endpoint without a policy of its own.
const GATEWAY_DEFAULT: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
const INTERFACE_DEFAULT_START: &str = "{\n  \"Statement\": [\n    {\n      \"Action\": \"*\"";

#[test]
fn endpoint_policies_are_kept_as_given_modified_and_reset() {
    let mut s = Service::new(Model::new(24), None, None, 24);
    let (vpc, [a, b, _]) = lab(&mut s);
    let with_policy = format!("&PolicyDocument={}", encoded(POLICY));

    // Gateway: the create reply and DescribeVpcEndpoints show the document as given.
    let made = ok(&mut s, &gateway(&vpc, &with_policy));
    assert_eq!(unescaped(&first(&made, "policyDocument")), POLICY, "{made}");
    let gw = first(&made, "vpcEndpointId");
    assert_eq!(policy_of(&mut s, &gw), POLICY);
    // Interface: the same.
    let made = ok(&mut s, &create(&vpc, "sqs", &[&a, &b], &with_policy));
    assert_eq!(unescaped(&first(&made, "policyDocument")), POLICY, "{made}");
    let iface = first(&made, "vpcEndpointId");
    assert_eq!(policy_of(&mut s, &iface), POLICY);
    // Without one, each type shows its default; an empty document is no document.
    let plain = first(&ok(&mut s, &gateway(&vpc, "")), "vpcEndpointId");
    assert_eq!(policy_of(&mut s, &plain), GATEWAY_DEFAULT);
    let bare = ok(&mut s, &create(&vpc, "kms", &[&a], "&PolicyDocument="));
    assert!(unescaped(&first(&bare, "policyDocument")).starts_with(INTERFACE_DEFAULT_START));

    // ModifyVpcEndpoint replaces it, alone or with other changes …
    let modify =
        |id: &str, extra: &str| format!("Action=ModifyVpcEndpoint&VpcEndpointId={id}{extra}");
    let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
    ok(&mut s, &modify(&gw, &format!("&PolicyDocument={}", encoded(other))));
    assert_eq!(policy_of(&mut s, &gw), other);
    let other_iface = format!("&PolicyDocument={}&PrivateDnsEnabled=false", encoded(other));
    ok(&mut s, &modify(&iface, &other_iface));
    assert_eq!(policy_of(&mut s, &iface), other);
    // … ResetPolicy puts each type's default back; ResetPolicy=false changes nothing …
    ok(&mut s, &modify(&gw, "&ResetPolicy=false"));
    assert_eq!(policy_of(&mut s, &gw), other);
    ok(&mut s, &modify(&gw, "&ResetPolicy=true"));
    assert_eq!(policy_of(&mut s, &gw), GATEWAY_DEFAULT);
    ok(&mut s, &modify(&iface, "&ResetPolicy=true"));
    assert!(policy_of(&mut s, &iface).starts_with(INTERFACE_DEFAULT_START));
    // … and both at once are refused, changing nothing.
    ok(&mut s, &modify(&gw, &with_policy));
    let both = modify(&gw, &format!("&PolicyDocument={}&ResetPolicy=true", encoded(other)));
    assert_eq!(code(&mut s, &both), "InvalidParameterValue");
    assert_eq!(policy_of(&mut s, &gw), POLICY);
    // A missing endpoint is missing whatever the policy.
    let missing = modify("vpce-0123456789abcdef0", &with_policy);
    assert_eq!(code(&mut s, &missing), "InvalidVpcEndpointId.NotFound");
}

#[test]
fn malformed_and_oversized_policies_are_refused() {
    let mut s = Service::new(Model::new(25), None, None, 25);
    let (vpc, [a, _, _]) = lab(&mut s);
    let with = |doc: &str| format!("&PolicyDocument={}", encoded(doc));
    let broken = r#"{"Statement": [{"Effect": "Allow",}]}"#;

    // Not JSON: AWS's InvalidPolicyDocument, with where the syntax error is.
    let (status, body) = common::call(&mut s, &gateway(&vpc, &with(broken)));
    assert_eq!(status, 400);
    assert_eq!(first(&body, "Code"), "InvalidPolicyDocument", "{body}");
    let message = first(&body, "Message");
    assert!(message.starts_with("The Policy Document is not valid. Syntax error at position (1,"));
    assert_eq!(code(&mut s, &create(&vpc, "sts", &[&a], &with(broken))), "InvalidPolicyDocument");
    // JSON, but no policy.
    for doc in ["\"Allow\"", "[]", "42"] {
        assert_eq!(code(&mut s, &gateway(&vpc, &with(doc))), "InvalidPolicyDocument", "{doc}");
    }
    // Nothing was made.
    let listed = ok(&mut s, "Action=DescribeVpcEndpoints");
    assert!(!listed.contains("<vpcEndpointId>"), "{listed}");

    // At most 20,480 characters, white space included.
    let sized = |n: usize| {
        let frame = r#"{"Statement":[],"Id":""}"#;
        let padding = "é".repeat(n - frame.chars().count());
        format!(r#"{{"Statement":[],"Id":"{padding}"}}"#)
    };
    assert_eq!(sized(20_480).chars().count(), 20_480);
    let at_limit = ok(&mut s, &gateway(&vpc, &with(&sized(20_480))));
    let id = first(&at_limit, "vpcEndpointId");
    assert_eq!(
        code(&mut s, &create(&vpc, "sts", &[&a], &with(&sized(20_481)))),
        "InvalidParameterValue"
    );

    // ModifyVpcEndpoint refuses them too, keeping the policy it had.
    let modify = |extra: &str| format!("Action=ModifyVpcEndpoint&VpcEndpointId={id}{extra}");
    assert_eq!(code(&mut s, &modify(&with(broken))), "InvalidPolicyDocument");
    assert_eq!(code(&mut s, &modify(&with(&sized(20_481)))), "InvalidParameterValue");
    assert_eq!(policy_of(&mut s, &id), sized(20_480));
}

#[test]
fn endpoint_and_transit_gateway_interfaces_name_their_requester() {
    let mut s = Service::new(Model::new(26), None, None, 26);
    let (vpc, [a, b, _]) = lab(&mut s);
    ok(&mut s, &create(&vpc, "ssm", &[&a], ""));
    let tgw = first(&ok(&mut s, "Action=CreateTransitGateway"), "transitGatewayId");
    ok(
        &mut s,
        &format!(
            "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={vpc}&SubnetIds.1={b}"
        ),
    );
    ok(&mut s, &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={a}"));

    let of_type = |s: &mut Service, kind: &str| {
        ok(
            s,
            &format!(
                "Action=DescribeNetworkInterfaces&Filter.1.Name=interface-type&Filter.1.Value.1={kind}"
            ),
        )
    };
    let endpoint = of_type(&mut s, "vpc_endpoint");
    assert!(
        endpoint.contains(
            "<requesterId>727180483921</requesterId><requesterManaged>true</requesterManaged>"
        ),
        "{endpoint}"
    );
    let attachment = of_type(&mut s, "transit_gateway");
    assert_eq!(first(&attachment, "requesterId"), "amazon-transit-gateway", "{attachment}");
    let instance = of_type(&mut s, "interface");
    assert!(instance.contains("<networkInterfaceId>"), "{instance}");
    assert!(!instance.contains("<requesterId>"), "one's own interfaces have none: {instance}");

    let by_requester = ok(
        &mut s,
        "Action=DescribeNetworkInterfaces&Filter.1.Name=requester-id&Filter.1.Value.1=727180483921",
    );
    assert_eq!(all(&by_requester, "<interfaceType>", "</interfaceType>"), ["vpc_endpoint"]);
}
