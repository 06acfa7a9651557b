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
    // IPv6 blocks come from Amazon's pool only: a BYOIP pool is refused, and says so.
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=AssociateVpcCidrBlock&VpcId={vpc}&Ipv6Pool=ipv6pool-ec2-0123&Ipv6CidrBlock=2001%3Adb8%3A%3A%2F56"
            )
        ),
        "InvalidParameterValue"
    );
}

#[test]
fn cidr_reservations_keep_automatic_addresses_out() {
    let mut s = Service::new(Model::new(6), None, None, 6);
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let subnet = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").unwrap().to_owned();
    let reserve = |block: &str, kind: &str| {
        format!(
            "Action=CreateSubnetCidrReservation&SubnetId={subnet}&Cidr={block}&ReservationType={kind}&Description=appliances"
        )
    };
    let made = ok(&mut s, &reserve("10.0.1.0%2F28", "explicit"));
    let id = between(&made, "<subnetCidrReservationId>", "</subnetCidrReservationId>")
        .unwrap()
        .to_owned();
    assert!(id.starts_with("scr-"), "{made}");
    assert_eq!(
        code(&mut s, &reserve("10.0.1.8%2F29", "explicit")),
        "InvalidSubnetCidrReservation.Conflict"
    );
    assert_eq!(
        code(&mut s, &reserve("10.0.2.0%2F28", "explicit")),
        "InvalidSubnetCidrReservation.Range"
    );
    assert_eq!(code(&mut s, &reserve("10.0.1.64%2F28", "sometimes")), "InvalidParameterValue");
    // Automatic addresses skip the block; a chosen one may be in it.
    let launch = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}"),
    );
    assert!(launch.contains("<privateIpAddress>10.0.1.16</privateIpAddress>"), "{launch}");
    let chosen = ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&PrivateIpAddress=10.0.1.9"
        ),
    );
    assert!(chosen.contains("<privateIpAddress>10.0.1.9</privateIpAddress>"), "{chosen}");
    // 251 usable: 2 in use, 11 more reserved (the block less AWS's own four and .9).
    let shown = ok(&mut s, &format!("Action=DescribeSubnets&SubnetId.1={subnet}"));
    assert!(shown.contains("<availableIpAddressCount>238</availableIpAddressCount>"), "{shown}");
    let metrics = ok(
        &mut s,
        &format!(
            "Action=DescribeVpcAttribute&VpcId={vpc}&Attribute=enableNetworkAddressUsageMetrics"
        ),
    );
    assert!(
        metrics.contains("<enableNetworkAddressUsageMetrics><value>false</value>"),
        "{metrics}"
    );
    let listed = ok(
        &mut s,
        &format!(
            "Action=GetSubnetCidrReservations&SubnetId={subnet}&Filter.1.Name=reservationType&Filter.1.Value.1=explicit"
        ),
    );
    assert_eq!(
        all(&listed, "<subnetCidrReservationId>", "</subnetCidrReservationId>"),
        vec![id.as_str()]
    );
    ok(&mut s, &format!("Action=DeleteSubnetCidrReservation&SubnetCidrReservationId={id}"));
    let launch = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}"),
    );
    assert!(launch.contains("<privateIpAddress>10.0.1.4</privateIpAddress>"), "{launch}");
    assert_eq!(
        code(&mut s, &format!("Action=DeleteSubnetCidrReservation&SubnetCidrReservationId={id}")),
        "InvalidSubnetCidrReservationID.NotFound"
    );
}
