//! What every account has: the default VPC and its default subnets.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

#[test]
fn default_subnets_come_back_where_they_were() {
    let mut s = Service::new(Model::new(4), None, None, 4);
    assert_eq!(
        code(&mut s, "Action=CreateDefaultSubnet&AvailabilityZone=us-east-1b"),
        "DefaultVpcDoesNotExist"
    );
    ok(&mut s, "Action=CreateDefaultVpc");
    let listed = ok(
        &mut s,
        "Action=DescribeSubnets&Filter.1.Name=availability-zone&Filter.1.Value.1=us-east-1b",
    );
    assert!(listed.contains("<cidrBlock>172.31.16.0/20</cidrBlock>"), "{listed}");
    let subnet = between(&listed, "<subnetId>", "</subnetId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, "Action=CreateDefaultSubnet&AvailabilityZone=us-east-1b"),
        "DefaultSubnetAlreadyExistsInAvailabilityZone"
    );
    ok(&mut s, &format!("Action=DeleteSubnet&SubnetId={subnet}"));
    let made = ok(&mut s, "Action=CreateDefaultSubnet&AvailabilityZoneId=use1-az2");
    for part in [
        "<cidrBlock>172.31.16.0/20</cidrBlock>",
        "<availabilityZone>us-east-1b</availabilityZone>",
        "<defaultForAz>true</defaultForAz>",
        "<mapPublicIpOnLaunch>true</mapPublicIpOnLaunch>",
    ] {
        assert!(made.contains(part), "{part}: {made}");
    }
    let defaults =
        ok(&mut s, "Action=DescribeSubnets&Filter.1.Name=default-for-az&Filter.1.Value.1=true");
    assert_eq!(all(&defaults, "<subnetId>", "</subnetId>").len(), 6);
    assert_eq!(
        code(&mut s, "Action=CreateDefaultSubnet&AvailabilityZone=eu-west-1a"),
        "InvalidParameterValue"
    );
}

#[test]
fn dhcp_options_sets_through_the_api() {
    let mut s = Service::new(Model::new(4), None, None, 4);
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    // New VPCs use the account's default set.
    let shown = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={vpc}"));
    assert!(shown.contains("<dhcpOptionsId>dopt-00000000000000000</dhcpOptionsId>"), "{shown}");
    let default = ok(&mut s, "Action=DescribeDhcpOptions&DhcpOptionsId.1=dopt-00000000000000000");
    assert!(default.contains("<value>AmazonProvidedDNS</value>"), "{default}");
    assert!(default.contains("<value>ec2.internal</value>"), "{default}");

    let made = ok(
        &mut s,
        "Action=CreateDhcpOptions&DhcpConfiguration.1.Key=domain-name\
         &DhcpConfiguration.1.Value.1=corp.example&DhcpConfiguration.2.Key=domain-name-servers\
         &DhcpConfiguration.2.Value.1=AmazonProvidedDNS&TagSpecification.1.ResourceType=dhcp-options\
         &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=corp",
    );
    let set = between(&made, "<dhcpOptionsId>", "</dhcpOptionsId>").unwrap().to_owned();
    assert!(made.contains("<value>corp</value>"), "{made}");
    ok(&mut s, &format!("Action=AssociateDhcpOptions&DhcpOptionsId={set}&VpcId={vpc}"));
    let by_set = ok(
        &mut s,
        &format!("Action=DescribeVpcs&Filter.1.Name=dhcp-options-id&Filter.1.Value.1={set}"),
    );
    assert_eq!(all(&by_set, "<vpcId>", "</vpcId>"), vec![vpc.as_str()]);
    let by_value =
        ok(&mut s, "Action=DescribeDhcpOptions&Filter.1.Name=value&Filter.1.Value.1=corp.*");
    assert_eq!(all(&by_value, "<dhcpOptionsId>", "</dhcpOptionsId>"), vec![set.as_str()]);
    assert_eq!(
        code(&mut s, &format!("Action=DeleteDhcpOptions&DhcpOptionsId={set}")),
        "DependencyViolation"
    );
    ok(&mut s, &format!("Action=AssociateDhcpOptions&DhcpOptionsId=default&VpcId={vpc}"));
    let shown = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={vpc}"));
    assert!(shown.contains("<dhcpOptionsId>default</dhcpOptionsId>"), "{shown}");
    ok(&mut s, &format!("Action=DeleteDhcpOptions&DhcpOptionsId={set}"));
    assert_eq!(
        code(&mut s, &format!("Action=DescribeDhcpOptions&DhcpOptionsId.1={set}")),
        "InvalidDhcpOptionID.NotFound"
    );
    assert_eq!(
        code(
            &mut s,
            "Action=CreateDhcpOptions&DhcpConfiguration.1.Key=colour&DhcpConfiguration.1.Value.1=red"
        ),
        "InvalidParameterValue"
    );
}
