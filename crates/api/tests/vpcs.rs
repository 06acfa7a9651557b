//! VPCs with more than one IPv4 CIDR, through the API.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

#[test]
fn secondary_cidrs_are_associated_shown_used_and_disassociated() {
    let mut s = Service::new(Model::new(6), None, None, 6);
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let made =
        ok(&mut s, &format!("Action=AssociateVpcCidrBlock&VpcId={vpc}&CidrBlock=100.64.0.0%2F16"));
    let assoc = between(&made, "<associationId>", "</associationId>").unwrap().to_owned();
    assert!(assoc.starts_with("vpc-cidr-assoc-"), "{made}");
    assert!(made.contains("<state>associating</state>"), "{made}");
    let shown = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={vpc}"));
    assert_eq!(all(&shown, "<associationId>", "</associationId>").len(), 2, "{shown}");
    assert!(shown.contains("<cidrBlock>100.64.0.0/16</cidrBlock>"), "{shown}");
    let by_block = ok(
        &mut s,
        "Action=DescribeVpcs&Filter.1.Name=cidr-block-association.cidr-block&Filter.1.Value.1=100.64.0.0%2F16",
    );
    assert_eq!(all(&by_block, "<vpcId>", "</vpcId>"), vec![vpc.as_str()]);
    let routes = ok(
        &mut s,
        &format!("Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    assert!(
        routes.contains(
            "<destinationCidrBlock>100.64.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId>"
        ),
        "{routes}"
    );
    let subnet = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=100.64.3.0%2F24"));
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, &format!("Action=DisassociateVpcCidrBlock&AssociationId={assoc}")),
        "DependencyViolation"
    );
    ok(&mut s, &format!("Action=DeleteSubnet&SubnetId={subnet}"));
    let gone = ok(&mut s, &format!("Action=DisassociateVpcCidrBlock&AssociationId={assoc}"));
    assert!(gone.contains("<state>disassociating</state>"), "{gone}");
    let shown = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={vpc}"));
    assert_eq!(all(&shown, "<associationId>", "</associationId>").len(), 1, "{shown}");
    // IPv6 is not there yet, and says so.
    assert_eq!(
        code(
            &mut s,
            &format!("Action=AssociateVpcCidrBlock&VpcId={vpc}&AmazonProvidedIpv6CidrBlock=true")
        ),
        "InvalidParameterValue"
    );
}
