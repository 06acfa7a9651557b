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
