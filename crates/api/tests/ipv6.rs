//! Dual-stack VPCs through the API: Amazon-provided /56s, subnets' /64s, IPv6 routes and
//! egress-only internet gateways, IPv6 rules in security groups and network ACLs, and
//! instances' IPv6 addresses — shapes, states and errors as AWS answers them.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

fn service() -> Service {
    Service::new(Model::new(22), None, None, 22)
}

/// A dual-stack VPC: its id and its /56.
fn dual_stack_vpc(s: &mut Service) -> (String, ipnet::Ipv6Net) {
    let made = ok(s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&AmazonProvidedIpv6CidrBlock=true");
    let vpc = between(&made, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let block = between(&made, "<ipv6CidrBlock>", "</ipv6CidrBlock>").unwrap().parse().unwrap();
    (vpc, block)
}

/// The `n`th /64 of `block`, URL-encoded.
fn slash64(block: ipnet::Ipv6Net, n: u128) -> String {
    let net = u128::from(block.network()) | n << 64;
    let net = ipnet::Ipv6Net::new(net.into(), 64).unwrap();
    net.to_string().replace(':', "%3A").replace('/', "%2F")
}

#[test]
fn a_vpc_gets_a_56_from_the_documentation_pool_with_local_routes() {
    let mut s = service();
    let made =
        ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&AmazonProvidedIpv6CidrBlock=true");
    assert!(made.contains("<state>associating</state>"), "{made}");
    assert!(made.contains("<ipv6Pool>Amazon</ipv6Pool>"), "{made}");
    assert!(made.contains("<networkBorderGroup>us-east-1</networkBorderGroup>"), "{made}");
    let vpc = between(&made, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let block: ipnet::Ipv6Net =
        between(&made, "<ipv6CidrBlock>", "</ipv6CidrBlock>").unwrap().parse().unwrap();
    assert_eq!(block.prefix_len(), 56);
    assert!("2001:db8::/32".parse::<ipnet::Ipv6Net>().unwrap().contains(&block), "{block}");
    // Described later, it is associated; a second VPC gets another block.
    let shown = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={vpc}"));
    assert!(shown.contains("<state>associated</state>"), "{shown}");
    let (_, other) = dual_stack_vpc(&mut s);
    assert_ne!(block, other);
    // Every table of the VPC routes its block locally, the new ones too.
    let table = ok(&mut s, &format!("Action=CreateRouteTable&VpcId={vpc}"));
    let local = format!(
        "<destinationIpv6CidrBlock>{block}</destinationIpv6CidrBlock><gatewayId>local</gatewayId>"
    );
    assert!(table.contains(&local), "{table}");
    let tables = ok(
        &mut s,
        &format!("Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    assert_eq!(tables.matches(&local).count(), 2, "{tables}");
    let by_filter = ok(
        &mut s,
        &format!(
            "Action=DescribeVpcs&Filter.1.Name=ipv6-cidr-block-association.ipv6-cidr-block&Filter.1.Value.1={}",
            block.to_string().replace(':', "%3A").replace('/', "%2F")
        ),
    );
    assert_eq!(all(&by_filter, "<vpcId>", "</vpcId>"), vec![vpc.as_str()]);
    // One Amazon block per network border group.
    assert_eq!(
        code(
            &mut s,
            &format!("Action=AssociateVpcCidrBlock&VpcId={vpc}&AmazonProvidedIpv6CidrBlock=true")
        ),
        "CidrLimitExceeded"
    );
}

#[test]
fn an_ipv6_block_is_associated_later_and_disassociated_once_unused() {
    let mut s = service();
    let made = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&made, "<vpcId>", "</vpcId>").unwrap().to_owned();
    assert!(made.contains("<ipv6CidrBlockAssociationSet/>"), "{made}");
    let assoc = ok(
        &mut s,
        &format!("Action=AssociateVpcCidrBlock&VpcId={vpc}&AmazonProvidedIpv6CidrBlock=true"),
    );
    assert!(assoc.contains("<ipv6CidrBlockAssociation>"), "{assoc}");
    let id = between(&assoc, "<associationId>", "</associationId>").unwrap().to_owned();
    let block: ipnet::Ipv6Net =
        between(&assoc, "<ipv6CidrBlock>", "</ipv6CidrBlock>").unwrap().parse().unwrap();
    let subnet = ok(
        &mut s,
        &format!(
            "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24&Ipv6CidrBlock={}",
            slash64(block, 1)
        ),
    );
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, &format!("Action=DisassociateVpcCidrBlock&AssociationId={id}")),
        "DependencyViolation"
    );
    ok(&mut s, &format!("Action=DeleteSubnet&SubnetId={subnet}"));
    let gone = ok(&mut s, &format!("Action=DisassociateVpcCidrBlock&AssociationId={id}"));
    assert!(gone.contains("<state>disassociating</state>"), "{gone}");
    // Listed as disassociated for a while, its local routes gone.
    let shown = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={vpc}"));
    assert!(shown.contains("<state>disassociated</state>"), "{shown}");
    let tables = ok(
        &mut s,
        &format!("Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    assert!(!tables.contains("destinationIpv6CidrBlock"), "{tables}");
    assert_eq!(
        code(&mut s, "Action=DisassociateVpcCidrBlock&AssociationId=vpc-cidr-assoc-0123456789"),
        "InvalidVpcCidrBlockAssociationID.NotFound"
    );
    // A new block is a new one: released blocks are not handed out again.
    let again = ok(
        &mut s,
        &format!("Action=AssociateVpcCidrBlock&VpcId={vpc}&AmazonProvidedIpv6CidrBlock=true"),
    );
    let second: ipnet::Ipv6Net =
        between(&again, "<ipv6CidrBlock>", "</ipv6CidrBlock>").unwrap().parse().unwrap();
    assert_ne!(block, second);
}

#[test]
fn subnet_blocks_are_checked_and_their_attributes_kept() {
    let mut s = service();
    let (vpc, block) = dual_stack_vpc(&mut s);
    let create = |cidr4: &str, v6: &str| {
        format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock={cidr4}&Ipv6CidrBlock={v6}")
    };
    // Outside the VPC's block; not a size AWS takes; overlapping another subnet's.
    assert_eq!(
        code(&mut s, &create("10.0.1.0%2F24", "2001%3Adb8%3Affff%3A1%3A%3A%2F64")),
        "InvalidSubnet.Range"
    );
    let odd = ipnet::Ipv6Net::new(block.network(), 62).unwrap().to_string();
    assert_eq!(
        code(&mut s, &create("10.0.1.0%2F24", &odd.replace(':', "%3A").replace('/', "%2F"))),
        "InvalidParameterValue"
    );
    let made = ok(&mut s, &create("10.0.1.0%2F24", &slash64(block, 1)));
    assert!(
        made.contains("<assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation>"),
        "{made}"
    );
    assert!(made.contains("<ipv6Native>false</ipv6Native>"), "{made}");
    let subnet = between(&made, "<subnetId>", "</subnetId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, &create("10.0.2.0%2F24", &slash64(block, 1))),
        "InvalidSubnet.Conflict"
    );
    assert_eq!(s.model().subnets().count(), 1, "refused calls change nothing");
    // IPv6-only subnets: AWS's parameter errors.
    assert_eq!(
        code(
            &mut s,
            &format!("Action=CreateSubnet&VpcId={vpc}&Ipv6Native=true&CidrBlock=10.0.3.0%2F24")
        ),
        "MissingParameter"
    );
    assert_eq!(
        code(&mut s, &format!("{}&Ipv6Native=true", create("10.0.3.0%2F24", &slash64(block, 3)))),
        "InvalidParameterCombination"
    );
    // Attributes.
    let modify =
        |attr: &str| format!("Action=ModifySubnetAttribute&SubnetId={subnet}&{attr}.Value=true");
    ok(&mut s, &modify("AssignIpv6AddressOnCreation"));
    ok(&mut s, &modify("EnableDns64"));
    let shown = ok(&mut s, &format!("Action=DescribeSubnets&SubnetId.1={subnet}"));
    assert!(
        shown.contains("<assignIpv6AddressOnCreation>true</assignIpv6AddressOnCreation>"),
        "{shown}"
    );
    assert!(shown.contains("<enableDns64>true</enableDns64>"), "{shown}");
    let filtered =
        ok(&mut s, "Action=DescribeSubnets&Filter.1.Name=enable-dns64&Filter.1.Value.1=true");
    assert_eq!(all(&filtered, "<subnetId>", "</subnetId>"), vec![subnet.as_str()]);
    // A subnet without IPv6 cannot assign it; associating a block later makes it able to.
    let plain = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.4.0%2F24"));
    let plain = between(&plain, "<subnetId>", "</subnetId>").unwrap().to_owned();
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=ModifySubnetAttribute&SubnetId={plain}&AssignIpv6AddressOnCreation.Value=true"
            )
        ),
        "InvalidParameterValue"
    );
    let assoc = ok(
        &mut s,
        &format!(
            "Action=AssociateSubnetCidrBlock&SubnetId={plain}&Ipv6CidrBlock={}",
            slash64(block, 4)
        ),
    );
    assert!(assoc.contains("<state>associating</state>"), "{assoc}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=AssociateSubnetCidrBlock&SubnetId={plain}&Ipv6CidrBlock={}",
                slash64(block, 5)
            )
        ),
        "InvalidParameterValue",
        "one block per subnet"
    );
    let id = between(&assoc, "<associationId>", "</associationId>").unwrap().to_owned();
    assert!(id.starts_with("subnet-cidr-assoc-"), "{assoc}");
    let gone = ok(&mut s, &format!("Action=DisassociateSubnetCidrBlock&AssociationId={id}"));
    assert!(gone.contains("<state>disassociating</state>"), "{gone}");
    // Ansible waits for the disassociated block to be listed so.
    let listed = ok(
        &mut s,
        &format!(
            "Action=DescribeSubnets&SubnetId.1={plain}&Filter.1.Name=ipv6-cidr-block-association.state&Filter.1.Value.1=disassociated"
        ),
    );
    assert_eq!(all(&listed, "<subnetId>", "</subnetId>"), vec![plain.as_str()]);
    assert_eq!(
        code(&mut s, &format!("Action=DisassociateSubnetCidrBlock&AssociationId={id}")),
        "IncorrectState"
    );
}

#[test]
fn egress_only_gateways_take_ipv6_routes_and_leave_blackholes() {
    let mut s = service();
    let (vpc, _) = dual_stack_vpc(&mut s);
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateEgressOnlyInternetGateway&VpcId={vpc}&ClientToken=abc\
             &TagSpecification.1.ResourceType=egress-only-internet-gateway&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=out"
        ),
    );
    assert!(made.contains("<clientToken>abc</clientToken>"), "{made}");
    assert!(made.contains(&format!("<state>attached</state><vpcId>{vpc}</vpcId>")), "{made}");
    let eigw = between(&made, "<egressOnlyInternetGatewayId>", "</egressOnlyInternetGatewayId>")
        .unwrap()
        .to_owned();
    assert!(eigw.starts_with("eigw-"), "{made}");
    let main = s.model().vpcs().next().unwrap().main_route_table.to_string();
    let route = |dest: &str| {
        format!("Action=CreateRoute&RouteTableId={main}&{dest}&EgressOnlyInternetGatewayId={eigw}")
    };
    // IPv6 only.
    assert_eq!(code(&mut s, &route("DestinationCidrBlock=0.0.0.0%2F0")), "InvalidParameterValue");
    ok(&mut s, &route("DestinationIpv6CidrBlock=%3A%3A%2F0"));
    assert_eq!(code(&mut s, &route("DestinationIpv6CidrBlock=%3A%3A%2F0")), "RouteAlreadyExists");
    let tables = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={main}"));
    assert!(
        tables.contains(&format!(
            "<destinationIpv6CidrBlock>::/0</destinationIpv6CidrBlock><egressOnlyInternetGatewayId>{eigw}</egressOnlyInternetGatewayId><state>active</state>"
        )),
        "{tables}"
    );
    // The VPC cannot go while it has one; deleting it leaves its route a blackhole.
    assert_eq!(code(&mut s, &format!("Action=DeleteVpc&VpcId={vpc}")), "DependencyViolation");
    let listed = ok(
        &mut s,
        "Action=DescribeEgressOnlyInternetGateways&Filter.1.Name=tag%3AName&Filter.1.Value.1=out",
    );
    assert_eq!(
        all(&listed, "<egressOnlyInternetGatewayId>", "</egressOnlyInternetGatewayId>"),
        vec![eigw.as_str()]
    );
    let deleted = ok(
        &mut s,
        &format!("Action=DeleteEgressOnlyInternetGateway&EgressOnlyInternetGatewayId={eigw}"),
    );
    assert!(deleted.contains("<returnCode>true</returnCode>"), "{deleted}");
    let tables = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={main}"));
    assert!(tables.contains("<state>blackhole</state>"), "{tables}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=DescribeEgressOnlyInternetGateways&EgressOnlyInternetGatewayId.1={eigw}"
            )
        ),
        "InvalidEgressOnlyInternetGatewayId.NotFound"
    );
    // IPv6 routes are replaced and deleted by their IPv6 destination.
    let igw = ok(&mut s, "Action=CreateInternetGateway");
    let igw = between(&igw, "<internetGatewayId>", "</internetGatewayId>").unwrap().to_owned();
    ok(&mut s, &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"));
    ok(
        &mut s,
        &format!(
            "Action=ReplaceRoute&RouteTableId={main}&DestinationIpv6CidrBlock=%3A%3A%2F0&GatewayId={igw}"
        ),
    );
    let filtered = ok(
        &mut s,
        "Action=DescribeRouteTables&Filter.1.Name=route.destination-ipv6-cidr-block&Filter.1.Value.1=%3A%3A%2F0",
    );
    assert!(filtered.contains(&format!("<gatewayId>{igw}</gatewayId>")), "{filtered}");
    ok(
        &mut s,
        &format!("Action=DeleteRoute&RouteTableId={main}&DestinationIpv6CidrBlock=%3A%3A%2F0"),
    );
    assert_eq!(
        code(
            &mut s,
            &format!("Action=DeleteRoute&RouteTableId={main}&DestinationIpv6CidrBlock=%3A%3A%2F0")
        ),
        "InvalidRoute.NotFound"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateRoute&RouteTableId={main}&DestinationIpv6CidrBlock=%3A%3A%2F0&DestinationCidrBlock=0.0.0.0%2F0&GatewayId={igw}"
            )
        ),
        "InvalidParameterCombination"
    );
}

#[test]
fn groups_and_acls_take_ipv6_rules_and_defaults_gain_them() {
    let mut s = service();
    let plain = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&plain, "<vpcId>", "</vpcId>").unwrap().to_owned();
    ok(
        &mut s,
        &format!("Action=AssociateVpcCidrBlock&VpcId={vpc}&AmazonProvidedIpv6CidrBlock=true"),
    );
    // The default group now lets all IPv6 out; a new group does from the start.
    let default = ok(
        &mut s,
        &format!("Action=DescribeSecurityGroups&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    assert!(default.contains("<cidrIpv6>::/0</cidrIpv6>"), "{default}");
    let made = ok(
        &mut s,
        &format!("Action=CreateSecurityGroup&VpcId={vpc}&GroupName=web&GroupDescription=web"),
    );
    let group = between(&made, "<groupId>", "</groupId>").unwrap().to_owned();
    ok(
        &mut s,
        &format!(
            "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
             &IpPermissions.1.FromPort=443&IpPermissions.1.ToPort=443\
             &IpPermissions.1.Ipv6Ranges.1.CidrIpv6=2001%3Adb8%3A%3A%2F32&IpPermissions.1.Ipv6Ranges.1.Description=doc\
             &IpPermissions.2.IpProtocol=icmpv6&IpPermissions.2.FromPort=128&IpPermissions.2.ToPort=-1\
             &IpPermissions.2.Ipv6Ranges.1.CidrIpv6=%3A%3A%2F0"
        ),
    );
    let shown = ok(&mut s, &format!("Action=DescribeSecurityGroups&GroupId.1={group}"));
    assert!(
        shown.contains("<ipv6Ranges><item><cidrIpv6>2001:db8::/32</cidrIpv6><description>doc</description></item></ipv6Ranges>"),
        "{shown}"
    );
    assert!(shown.contains("<ipProtocol>icmpv6</ipProtocol>"), "{shown}");
    assert_eq!(
        all(&shown, "<cidrIpv6>::/0</cidrIpv6>", "").len(),
        2,
        "icmpv6 in, all out: {shown}"
    );
    let rules = ok(
        &mut s,
        &format!(
            "Action=DescribeSecurityGroupRules&Filter.1.Name=group-id&Filter.1.Value.1={group}"
        ),
    );
    assert!(rules.contains("<cidrIpv6>2001:db8::/32</cidrIpv6>"), "{rules}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
                 &IpPermissions.1.FromPort=443&IpPermissions.1.ToPort=443\
                 &IpPermissions.1.Ipv6Ranges.1.CidrIpv6=2001%3Adb8%3A%3A%2F32"
            )
        ),
        "InvalidPermission.Duplicate"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
                 &IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=10.0.0.0%2F8"
            )
        ),
        "InvalidParameterValue"
    );
    // The default ACL, never changed, gained rule 101 both ways; every ACL of the VPC
    // lists the IPv6 `*` deny.
    let acls = ok(
        &mut s,
        &format!("Action=DescribeNetworkAcls&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    assert_eq!(acls.matches("<ruleNumber>101</ruleNumber>").count(), 2, "{acls}");
    assert_eq!(acls.matches("<ruleNumber>32768</ruleNumber>").count(), 2, "{acls}");
    assert!(acls.contains("<ipv6CidrBlock>::/0</ipv6CidrBlock>"), "{acls}");
    let acl = between(&acls, "<networkAclId>", "</networkAclId>").unwrap().to_owned();
    let entry = |rest: &str| {
        format!(
            "Action=CreateNetworkAclEntry&NetworkAclId={acl}&RuleNumber=120&RuleAction=deny&Egress=false&{rest}"
        )
    };
    // ICMPv6 with an IPv6 block needs its type and code, as on AWS.
    assert_eq!(code(&mut s, &entry("Protocol=58&Ipv6CidrBlock=%3A%3A%2F0")), "MissingParameter");
    ok(&mut s, &entry("Protocol=58&Ipv6CidrBlock=2001%3Adb8%3A%3A%2F32&Icmp.Type=-1&Icmp.Code=-1"));
    assert_eq!(
        code(&mut s, &entry("Protocol=-1&Ipv6CidrBlock=%3A%3A%2F0&CidrBlock=0.0.0.0%2F0")),
        "InvalidParameterCombination"
    );
    let shown = ok(
        &mut s,
        "Action=DescribeNetworkAcls&Filter.1.Name=entry.ipv6-cidr&Filter.1.Value.1=2001%3Adb8%3A%3A%2F32",
    );
    assert_eq!(all(&shown, "<networkAclId>", "</networkAclId>"), vec![acl.as_str()]);
    // A VPC without IPv6 lists no IPv6 deny.
    let other = ok(&mut s, "Action=CreateVpc&CidrBlock=10.1.0.0%2F16");
    let other = between(&other, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let acls = ok(
        &mut s,
        &format!("Action=DescribeNetworkAcls&Filter.1.Name=vpc-id&Filter.1.Value.1={other}"),
    );
    assert!(!acls.contains("32768"), "{acls}");
}

#[test]
fn instances_and_interfaces_get_ipv6_addresses_from_their_subnet() {
    let mut s = service();
    let (vpc, block) = dual_stack_vpc(&mut s);
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24&Ipv6CidrBlock={}",
            slash64(block, 1)
        ),
    );
    let subnet = between(&made, "<subnetId>", "</subnetId>").unwrap().to_owned();
    let block64: ipnet::Ipv6Net =
        between(&made, "<ipv6CidrBlock>", "</ipv6CidrBlock>").unwrap().parse().unwrap();
    let run = |extra: &str| {
        format!(
            "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&SubnetId={subnet}{extra}"
        )
    };
    // None asked, the subnet does not assign: none.
    let plain = ok(&mut s, &run(""));
    assert!(!plain.contains("<ipv6Address>"), "{plain}");
    let two = ok(&mut s, &run("&Ipv6AddressCount=2"));
    let addresses: Vec<std::net::Ipv6Addr> =
        all(&two, "<ipv6Address>", "</ipv6Address>").iter().map(|a| a.parse().unwrap()).collect();
    // The instance's first, then the interface's two.
    assert_eq!(addresses.len(), 3, "{two}");
    assert!(addresses.iter().all(|a| block64.contains(a)), "{two}");
    assert_ne!(addresses[1], addresses[2]);
    let chosen = format!("{}", block64.network()).replace("::", "::abcd");
    let one =
        ok(&mut s, &run(&format!("&Ipv6Address.1.Ipv6Address={}", chosen.replace(':', "%3A"))));
    assert!(one.contains(&format!("<ipv6Address>{chosen}</ipv6Address>")), "{one}");
    assert_eq!(
        code(&mut s, &run(&format!("&Ipv6Address.1.Ipv6Address={}", chosen.replace(':', "%3A")))),
        "InvalidIPAddress.InUse"
    );
    assert_eq!(
        code(&mut s, &run("&Ipv6AddressCount=1&Ipv6Address.1.Ipv6Address=2001%3Adb8%3A%3A1")),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(&mut s, &run("&Ipv6Address.1.Ipv6Address=2001%3Adb8%3Affff%3A%3A1")),
        "InvalidParameterValue"
    );
    // The subnet assigning on creation: one each.
    ok(
        &mut s,
        &format!(
            "Action=ModifySubnetAttribute&SubnetId={subnet}&AssignIpv6AddressOnCreation.Value=true"
        ),
    );
    let auto = ok(&mut s, &run(""));
    assert_eq!(all(&auto, "<ipv6Address>", "</ipv6Address>").len(), 2, "{auto}");
    // AssignIpv6Addresses / UnassignIpv6Addresses on the instance's interface.
    let eni = between(&auto, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned();
    let added = ok(
        &mut s,
        &format!("Action=AssignIpv6Addresses&NetworkInterfaceId={eni}&Ipv6AddressCount=1"),
    );
    let new = between(&added, "<assignedIpv6Addresses><item>", "</item>").unwrap().to_owned();
    assert!(block64.contains(&new.parse::<std::net::Ipv6Addr>().unwrap()), "{added}");
    let shown = ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}"));
    assert_eq!(all(&shown, "<ipv6Address>", "</ipv6Address>").len(), 2, "{shown}");
    let removed = ok(
        &mut s,
        &format!(
            "Action=UnassignIpv6Addresses&NetworkInterfaceId={eni}&Ipv6Addresses.1={}",
            new.replace(':', "%3A")
        ),
    );
    assert!(removed.contains(&format!("<unassignedIpv6Addresses><item>{new}</item>")), "{removed}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=UnassignIpv6Addresses&NetworkInterfaceId={eni}&Ipv6Addresses.1={}",
                new.replace(':', "%3A")
            )
        ),
        "InvalidParameterValue"
    );
    // A subnet's block holding addresses stays.
    let assoc = s.model().subnets().next().unwrap().ipv6_blocks[0].id.clone();
    assert_eq!(
        code(&mut s, &format!("Action=DisassociateSubnetCidrBlock&AssociationId={assoc}")),
        "DependencyViolation"
    );
    // A subnet without IPv6 gives none.
    let bare = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.2.0%2F24"));
    let bare = between(&bare, "<subnetId>", "</subnetId>").unwrap().to_owned();
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={bare}&Ipv6AddressCount=1"
            )
        ),
        "InvalidParameterValue"
    );
}

#[test]
fn ipv6_only_subnets_have_no_ipv4_and_their_instances_are_named_by_resource() {
    let mut s = service();
    let (vpc, block) = dual_stack_vpc(&mut s);
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateSubnet&VpcId={vpc}&Ipv6Native=true&Ipv6CidrBlock={}",
            slash64(block, 7)
        ),
    );
    let subnet = between(&made, "<subnetId>", "</subnetId>").unwrap().to_owned();
    // As AWS reports a new IPv6-only subnet: no IPv4 block, no IPv4 addresses, IPv6 on
    // creation, resource names with AAAA records only.
    for shown in [made.clone(), ok(&mut s, &format!("Action=DescribeSubnets&SubnetId.1={subnet}"))]
    {
        assert!(!shown.contains("<cidrBlock>"), "{shown}");
        assert!(shown.contains("<ipv6Native>true</ipv6Native>"), "{shown}");
        assert!(shown.contains("<availableIpAddressCount>0</availableIpAddressCount>"), "{shown}");
        assert!(
            shown.contains("<assignIpv6AddressOnCreation>true</assignIpv6AddressOnCreation>"),
            "{shown}"
        );
        let options =
            between(&shown, "<privateDnsNameOptionsOnLaunch>", "</privateDnsNameOptionsOnLaunch>")
                .unwrap();
        assert!(options.contains("<hostnameType>resource-name</hostnameType>"), "{options}");
        assert!(
            options.contains("<enableResourceNameDnsARecord>false</enableResourceNameDnsARecord>"),
            "{options}"
        );
        assert!(
            options.contains(
                "<enableResourceNameDnsAAAARecord>true</enableResourceNameDnsAAAARecord>"
            ),
            "{options}"
        );
    }
    let native =
        ok(&mut s, "Action=DescribeSubnets&Filter.1.Name=ipv6-native&Filter.1.Value.1=true");
    assert_eq!(all(&native, "<subnetId>", "</subnetId>"), vec![subnet.as_str()]);

    // An instance there: an IPv6 address, no IPv4 one, named by its id.
    let run = |extra: &str| {
        format!(
            "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&SubnetId={subnet}{extra}"
        )
    };
    let launched = ok(&mut s, &run(""));
    let id = between(&launched, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let shown = ok(&mut s, &format!("Action=DescribeInstances&InstanceId.1={id}"));
    assert!(!shown.contains("<privateIpAddress>"), "{shown}");
    let address: std::net::Ipv6Addr =
        between(&shown, "<ipv6Address>", "</ipv6Address>").unwrap().parse().unwrap();
    assert!(s.model().subnets().any(|n| n.ipv6_cidr().is_some_and(|c| c.contains(&address))));
    assert!(
        shown.contains(&format!("<privateDnsName>{id}.ec2.internal</privateDnsName>")),
        "{shown}"
    );
    let eni = between(&shown, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned();
    let interface =
        ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}"));
    assert!(!interface.contains("<privateIpAddress>"), "{interface}");
    assert!(interface.contains(&format!("<ipv6Address>{address}</ipv6Address>")), "{interface}");

    // What an IPv6-only subnet cannot have, each refused and changing nothing.
    let instances = s.model().instances().count();
    for refused in [
        run("&PrivateIpAddress=10.0.7.10"),
        run("&Ipv6AddressCount=0"),
        run("&NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.AssociatePublicIpAddress=true"),
        run("&PrivateDnsNameOptions.HostnameType=ip-name"),
        run("&PrivateDnsNameOptions.EnableResourceNameDnsARecord=true"),
    ] {
        assert_eq!(code(&mut s, &refused), "InvalidParameterValue", "{refused}");
    }
    assert_eq!(s.model().instances().count(), instances);
    let modify = |attr: &str, value: &str| {
        format!("Action=ModifySubnetAttribute&SubnetId={subnet}&{attr}.Value={value}")
    };
    for refused in [
        modify("MapPublicIpOnLaunch", "true"),
        modify("AssignIpv6AddressOnCreation", "false"),
        modify("EnableResourceNameDnsARecordOnLaunch", "true"),
        format!(
            "Action=ModifySubnetAttribute&SubnetId={subnet}&PrivateDnsHostnameTypeOnLaunch=ip-name"
        ),
        format!(
            "Action=ModifyPrivateDnsNameOptions&InstanceId={id}&PrivateDnsHostnameType=ip-name"
        ),
        format!("Action=CreateNatGateway&SubnetId={subnet}&ConnectivityType=private"),
        format!("Action=CreateNetworkInterface&SubnetId={subnet}&PrivateIpAddress=10.0.7.10"),
        format!("Action=CreateNetworkInterface&SubnetId={subnet}&Ipv6AddressCount=0"),
        format!(
            "Action=CreateSubnetCidrReservation&SubnetId={subnet}&Cidr=10.0.7.0%2F28&ReservationType=explicit"
        ),
    ] {
        assert_eq!(code(&mut s, &refused), "InvalidParameterValue", "{refused}");
    }
    // No Elastic IP maps to an instance without a private IPv4 address.
    let eip = ok(&mut s, "Action=AllocateAddress&Domain=vpc");
    let eip = between(&eip, "<allocationId>", "</allocationId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, &format!("Action=AssociateAddress&AllocationId={eip}&InstanceId={id}")),
        "InvalidParameterValue"
    );
    assert!(interface.contains("<ipv6Native>true</ipv6Native>"), "{interface}");
    // A network interface of one's own there: IPv6 only too.
    let own = ok(&mut s, &format!("Action=CreateNetworkInterface&SubnetId={subnet}"));
    assert!(!own.contains("<privateIpAddress>"), "{own}");
    assert!(own.contains("<ipv6Native>true</ipv6Native>"), "{own}");
    assert_eq!(all(&own, "<ipv6Address>", "</ipv6Address>").len(), 1, "{own}");
    let own = between(&own, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned();
    ok(&mut s, &format!("Action=DeleteNetworkInterface&NetworkInterfaceId={own}"));
    // Its instance keeps an address.
    let last = format!(
        "Action=UnassignIpv6Addresses&NetworkInterfaceId={eni}&Ipv6Addresses.1={}",
        address.to_string().replace(':', "%3A")
    );
    assert_eq!(code(&mut s, &last), "InvalidParameterValue");
    // Its one block stays while the subnet does.
    let assoc = between(&made, "<associationId>", "</associationId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, &format!("Action=DisassociateSubnetCidrBlock&AssociationId={assoc}")),
        "InvalidParameterValue"
    );
    // Turning on DNS64 is what such a subnet is for.
    ok(&mut s, &modify("EnableDns64", "true"));
    // Emptied, it goes like any other.
    ok(&mut s, &format!("Action=TerminateInstances&InstanceId.1={id}"));
    ok(&mut s, &format!("Action=DeleteSubnet&SubnetId={subnet}"));
}
