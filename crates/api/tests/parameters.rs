//! Nothing a client asks for is ignored in silence: a parameter an action does not
//! implement is refused, one a lab has nothing to apply to is accepted as docs/api.md
//! lists it, and a ClientToken makes a retry return the first call's answer.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

fn subnet(s: &mut Service) -> String {
    let vpc = ok(s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let body = ok(s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    between(&body, "<subnetId>", "</subnetId>").unwrap().to_owned()
}

#[test]
fn unimplemented_parameters_are_refused_and_change_nothing() {
    let mut s = Service::new(Model::new(5), None, None, 5);
    let body = "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&Ipv4IpamPoolId=ipam-pool-0123";
    assert_eq!(code(&mut s, body), "InvalidParameter");
    let (_, text) = common::call(&mut s, body);
    assert!(text.contains("Ipv4IpamPoolId"), "the message names it: {text}");
    assert_eq!(s.model().vpcs().count(), 0, "refused calls change nothing");
    // Asking for a feature to be off is asking for what vpclab does.
    ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&AmazonProvidedIpv6CidrBlock=false");
    ok(&mut s, "Action=CreateVpc&CidrBlock=10.1.0.0%2F16&InstanceTenancy=default");
    assert_eq!(
        code(&mut s, "Action=CreateVpc&CidrBlock=10.2.0.0%2F16&InstanceTenancy=dedicated"),
        "InvalidParameterValue"
    );
    // A tag specification for a kind the action does not make.
    assert_eq!(
        code(
            &mut s,
            "Action=CreateVpc&CidrBlock=10.3.0.0%2F16&TagSpecification.1.ResourceType=subnet\
             &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=x"
        ),
        "InvalidParameterValue"
    );
    assert_eq!(s.model().vpcs().count(), 2);
    // A hostname type is one of AWS's two.
    let vpc = s.model().vpcs().next().unwrap().id.to_string();
    let subnet = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").unwrap().to_owned();
    let modify = |kind: &str| {
        format!(
            "Action=ModifySubnetAttribute&SubnetId={subnet}&PrivateDnsHostnameTypeOnLaunch={kind}"
        )
    };
    ok(&mut s, &modify("ip-name"));
    ok(&mut s, &modify("resource-name"));
    assert_eq!(code(&mut s, &modify("instance-name")), "InvalidParameterValue");
    // Read-only actions too.
    assert_eq!(code(&mut s, "Action=DescribeKeyPairs&IncludePublicKey=true"), "InvalidParameter");
}

#[test]
fn parameters_a_lab_cannot_apply_are_accepted_as_documented() {
    let mut s = Service::new(Model::new(5), None, None, 5);
    let subnet = subnet(&mut s);
    assert!(vpclab_api::actions::is_inert("RunInstances", "Monitoring.Enabled"));
    assert!(!vpclab_api::actions::is_inert("RunInstances", "MonitoringX"));
    let body = ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}\
             &Monitoring.Enabled=true&EbsOptimized=true&BlockDeviceMapping.1.DeviceName=%2Fdev%2Fxvda\
             &BlockDeviceMapping.1.Ebs.VolumeSize=8&TagSpecification.1.ResourceType=volume\
             &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=disk"
        ),
    );
    assert_eq!(all(&body, "<instanceId>", "</instanceId>").len(), 1);
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}\
                 &IamInstanceProfile.Name=admin"
            )
        ),
        "InvalidParameter"
    );
}

#[test]
fn a_client_token_makes_a_retry_return_the_first_answer() {
    let mut s = Service::new(Model::new(5), None, None, 5);
    let subnet = subnet(&mut s);
    let launch = format!(
        "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&ClientToken=abc"
    );
    let first = ok(&mut s, &launch);
    let again = ok(&mut s, &launch);
    let id = between(&first, "<instanceId>", "</instanceId>").unwrap();
    assert_eq!(between(&again, "<instanceId>", "</instanceId>"), Some(id));
    assert_eq!(s.model().instances().count(), 1, "one instance for two calls");
    assert_eq!(
        code(&mut s, &format!("{launch}&InstanceType=t3.large")),
        "IdempotentParameterMismatch"
    );
    // Another token, another instance.
    ok(&mut s, &launch.replace("abc", "def"));
    assert_eq!(s.model().instances().count(), 2);
}
