//! NAT gateways through the API: public and private connectivity, and the failures AWS
//! reports after accepting a creation.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

/// A VPC (10.0.0.0/16) with one subnet: the service, the VPC's and the subnet's ids.
fn lab() -> (Service, String, String) {
    let mut s = Service::new(Model::new(12), None, None, 12);
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let subnet = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").unwrap().to_owned();
    (s, vpc, subnet)
}

fn allocate(s: &mut Service) -> String {
    let eip = ok(s, "Action=AllocateAddress&Domain=vpc");
    between(&eip, "<allocationId>", "</allocationId>").unwrap().to_owned()
}

fn describe(s: &mut Service, nat: &str) -> String {
    ok(s, &format!("Action=DescribeNatGateways&NatGatewayId.1={nat}"))
}

#[test]
fn a_private_gateway_has_its_own_address_and_nothing_public() {
    let (mut s, _, subnet) = lab();
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateNatGateway&SubnetId={subnet}&ConnectivityType=private\
             &PrivateIpAddress=10.0.1.77"
        ),
    );
    assert!(made.contains("<connectivityType>private</connectivityType>"), "{made}");
    assert!(made.contains("<state>pending</state>"), "{made}");
    let nat = between(&made, "<natGatewayId>", "</natGatewayId>").unwrap().to_owned();
    let shown = describe(&mut s, &nat);
    assert!(shown.contains("<state>available</state>"), "{shown}");
    assert!(shown.contains("<privateIp>10.0.1.77</privateIp>"), "{shown}");
    assert!(shown.contains("<isPrimary>true</isPrimary>"), "{shown}");
    assert!(shown.contains("<status>succeeded</status>"), "{shown}");
    // Ansible and Terraform tell a private gateway by what its address lacks.
    for absent in ["<allocationId>", "<publicIp>", "<associationId>", "<failureCode>"] {
        assert!(!shown.contains(absent), "{absent} in {shown}");
    }
    // Its interface is listed, with no association.
    let eni = between(&shown, "<networkInterfaceId>", "</networkInterfaceId>").unwrap();
    let interface =
        ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}"));
    assert!(interface.contains("<interfaceType>nat_gateway</interfaceType>"), "{interface}");
    assert!(!interface.contains("<association>"), "{interface}");
    // The address is taken.
    let again = format!(
        "Action=CreateNatGateway&SubnetId={subnet}&ConnectivityType=private\
         &PrivateIpAddress=10.0.1.77"
    );
    assert_eq!(code(&mut s, &again), "InvalidIPAddress.InUse");
}

#[test]
fn connectivity_and_elastic_ips_go_together() {
    let (mut s, _, subnet) = lab();
    let eip = allocate(&mut s);
    let cases = [
        (format!("ConnectivityType=private&AllocationId={eip}"), "InvalidParameterCombination"),
        ("ConnectivityType=public".to_owned(), "MissingParameter"),
        (String::new(), "MissingParameter"),
        ("ConnectivityType=protected".to_owned(), "InvalidParameterValue"),
        ("ConnectivityType=private&PrivateIpAddress=10.0.2.9".to_owned(), "InvalidParameterValue"),
        ("ConnectivityType=private&PrivateIpAddress=10.0.1.1".to_owned(), "InvalidParameterValue"),
        ("ConnectivityType=private&PrivateIpAddress=ten".to_owned(), "InvalidParameterValue"),
        (
            "ConnectivityType=private&SecondaryPrivateIpAddressCount=2".to_owned(),
            "InvalidParameter",
        ),
    ];
    for (params, expected) in cases {
        let call = format!("Action=CreateNatGateway&SubnetId={subnet}&{params}");
        assert_eq!(code(&mut s, &call), expected, "{params}");
    }
    let none = ok(&mut s, "Action=DescribeNatGateways");
    assert!(all(&none, "<natGatewayId>", "</natGatewayId>").is_empty(), "{none}");
}

#[test]
fn a_public_gateway_fails_as_aws_fails_it() {
    let (mut s, vpc, subnet) = lab();
    let eip = allocate(&mut s);
    // No internet gateway in the VPC: accepted, then failed.
    let made = ok(&mut s, &format!("Action=CreateNatGateway&SubnetId={subnet}&AllocationId={eip}"));
    assert!(made.contains("<state>pending</state>"), "{made}");
    let failed = between(&made, "<natGatewayId>", "</natGatewayId>").unwrap().to_owned();
    let shown = describe(&mut s, &failed);
    assert!(shown.contains("<state>failed</state>"), "{shown}");
    assert!(shown.contains("<failureCode>Gateway.NotAttached</failureCode>"), "{shown}");
    let message = format!("<failureMessage>Network {vpc} has no Internet gateway attached");
    assert!(shown.contains(&message), "{shown}");
    let by_state =
        ok(&mut s, "Action=DescribeNatGateways&Filter.1.Name=state&Filter.1.Value.1=failed");
    assert_eq!(all(&by_state, "<natGatewayId>", "</natGatewayId>"), vec![failed.as_str()]);
    // Its Elastic IP stays free: a working gateway takes it once the VPC has a gateway.
    let igw = ok(&mut s, "Action=CreateInternetGateway");
    let igw = between(&igw, "<internetGatewayId>", "</internetGatewayId>").unwrap().to_owned();
    ok(&mut s, &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"));
    let made = ok(&mut s, &format!("Action=CreateNatGateway&SubnetId={subnet}&AllocationId={eip}"));
    let working = between(&made, "<natGatewayId>", "</natGatewayId>").unwrap().to_owned();
    assert!(describe(&mut s, &working).contains("<state>available</state>"));
    // The same Elastic IP again: accepted, then failed as already associated.
    let made = ok(&mut s, &format!("Action=CreateNatGateway&SubnetId={subnet}&AllocationId={eip}"));
    let second = between(&made, "<natGatewayId>", "</natGatewayId>").unwrap().to_owned();
    let shown = describe(&mut s, &second);
    assert!(shown.contains("<failureCode>Resource.AlreadyAssociated</failureCode>"), "{shown}");
    let message = format!("<failureMessage>Elastic IP address {eip} is already associated");
    assert!(shown.contains(&message), "{shown}");
    // A failed gateway's routes are blackholes; deleting it leaves the working one be.
    let rtb = ok(&mut s, &format!("Action=CreateRouteTable&VpcId={vpc}"));
    let rtb = between(&rtb, "<routeTableId>", "</routeTableId>").unwrap().to_owned();
    ok(
        &mut s,
        &format!(
            "Action=CreateRoute&RouteTableId={rtb}&DestinationCidrBlock=0.0.0.0%2F0\
             &NatGatewayId={second}"
        ),
    );
    let routes = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={rtb}"));
    assert!(routes.contains("<state>blackhole</state>"), "{routes}");
    ok(&mut s, &format!("Action=DeleteNatGateway&NatGatewayId={second}"));
    ok(&mut s, &format!("Action=DeleteNatGateway&NatGatewayId={failed}"));
    let address = ok(&mut s, &format!("Action=DescribeAddresses&AllocationId.1={eip}"));
    assert_eq!(
        code(&mut s, &format!("Action=ReleaseAddress&AllocationId={eip}")),
        "InvalidIPAddress.InUse",
        "{address}"
    );
}
