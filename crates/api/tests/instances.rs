//! Instances as clients see them: launches and reservations, attributes, termination
//! protection.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

fn lab() -> (Service, String) {
    let mut s = Service::new(Model::new(9), None, None, 9);
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let body = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    (s, between(&body, "<subnetId>", "</subnetId>").unwrap().to_owned())
}

#[test]
fn a_launch_is_one_reservation_and_answers_pending() {
    let (mut s, subnet) = lab();
    let launch = |s: &mut Service, n: u32| {
        ok(
            s,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount={n}&MaxCount={n}&SubnetId={subnet}"
            ),
        )
    };
    let three = launch(&mut s, 3);
    assert_eq!(all(&three, "<name>", "</name>"), ["pending"; 3]);
    assert_eq!(all(&three, "<code>", "</code>"), ["0"; 3]);
    let reservation = between(&three, "<reservationId>", "</reservationId>").unwrap().to_owned();
    launch(&mut s, 1);
    let listed = ok(&mut s, "Action=DescribeInstances");
    let reservations = all(&listed, "<reservationId>", "</reservationId>");
    assert_eq!(reservations.len(), 2, "{listed}");
    assert!(reservations.contains(&reservation.as_str()));
    // With no transition time, Describe already sees them running.
    assert_eq!(listed.matches("<name>running</name>").count(), 4);
    let by_reservation = ok(
        &mut s,
        &format!(
            "Action=DescribeInstances&Filter.1.Name=reservation-id&Filter.1.Value.1={reservation}"
        ),
    );
    assert_eq!(all(&by_reservation, "<instanceId>", "</instanceId>").len(), 3);
}

#[test]
fn pending_lasts_the_transition_time() {
    let mut s = Service::new(Model::new(9), None, None, 9).with_transition_seconds(30);
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let body = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    let subnet = between(&body, "<subnetId>", "</subnetId>").unwrap().to_owned();
    ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}"),
    );
    let at = |s: &mut Service, dt: u64| {
        let r = s.handle(b"Action=DescribeInstances", common::NOW + dt);
        between(&r.body, "<instanceState><code>", "</code>").unwrap().to_owned()
    };
    assert_eq!(at(&mut s, 0), "0");
    assert_eq!(at(&mut s, 29), "0");
    assert_eq!(at(&mut s, 30), "16");
    // Terminated: shutting-down for as long, then terminated.
    let listed = s.handle(b"Action=DescribeInstances", common::NOW + 40).body;
    let id = between(&listed, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let body = format!("Action=TerminateInstances&InstanceId.1={id}");
    let gone = s.handle(body.as_bytes(), common::NOW + 40).body;
    assert!(gone.contains("<currentState><code>32</code><name>shutting-down</name>"), "{gone}");
    assert_eq!(at(&mut s, 50), "32");
    assert_eq!(at(&mut s, 70), "48");
    let again = s.handle(body.as_bytes(), common::NOW + 80).body;
    assert!(again.contains("<currentState><code>48</code><name>terminated</name>"), "{again}");
}

#[test]
fn attributes_are_described_and_termination_protection_holds() {
    let (mut s, subnet) = lab();
    let body = ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}\
             &InstanceType=t3.micro&DisableApiTermination=true"
        ),
    );
    let id = between(&body, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let attribute = |s: &mut Service, name: &str| {
        ok(s, &format!("Action=DescribeInstanceAttribute&InstanceId={id}&Attribute={name}"))
    };
    assert!(attribute(&mut s, "instanceType").contains("<instanceType><value>t3.micro</value>"));
    assert!(attribute(&mut s, "groupSet").contains("<groupSet><item><groupId>sg-"));
    assert!(
        attribute(&mut s, "disableApiTermination")
            .contains("<disableApiTermination><value>true</value>")
    );
    assert_eq!(
        code(&mut s, &format!("Action=DescribeInstanceAttribute&InstanceId={id}&Attribute=colour")),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(&mut s, &format!("Action=TerminateInstances&InstanceId.1={id}")),
        "OperationNotPermitted"
    );
    ok(
        &mut s,
        &format!(
            "Action=ModifyInstanceAttribute&InstanceId={id}&DisableApiTermination.Value=false"
        ),
    );
    // The type changes only while stopped.
    let retype =
        format!("Action=ModifyInstanceAttribute&InstanceId={id}&InstanceType.Value=m5.large");
    assert_eq!(code(&mut s, &retype), "IncorrectInstanceState");
    ok(&mut s, &format!("Action=StopInstances&InstanceId.1={id}"));
    ok(&mut s, &retype);
    assert!(attribute(&mut s, "instanceType").contains("<value>m5.large</value>"));
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=ModifyInstanceAttribute&InstanceId={id}&InstanceType.Value=m5.large\
                 &DisableApiTermination.Value=true"
            )
        ),
        "InvalidParameterCombination"
    );
    ok(&mut s, &format!("Action=TerminateInstances&InstanceId.1={id}"));
}

#[test]
fn launch_templates_are_versioned_and_launch_instances() {
    let (mut s, subnet) = lab();
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateLaunchTemplate&LaunchTemplateName=web&VersionDescription=first\
             &LaunchTemplateData.ImageId=ami-1&LaunchTemplateData.InstanceType=t3.micro\
             &LaunchTemplateData.NetworkInterface.1.DeviceIndex=0\
             &LaunchTemplateData.NetworkInterface.1.SubnetId={subnet}\
             &LaunchTemplateData.TagSpecification.1.ResourceType=instance\
             &LaunchTemplateData.TagSpecification.1.Tag.1.Key=Name\
             &LaunchTemplateData.TagSpecification.1.Tag.1.Value=from-template"
        ),
    );
    let id = between(&made, "<launchTemplateId>", "</launchTemplateId>").unwrap().to_owned();
    assert!(made.contains("<defaultVersionNumber>1</defaultVersionNumber>"), "{made}");
    assert_eq!(
        code(
            &mut s,
            "Action=CreateLaunchTemplate&LaunchTemplateName=web&LaunchTemplateData.ImageId=ami-1"
        ),
        "InvalidLaunchTemplateName.AlreadyExistsException"
    );
    // The data reads back in AWS's shape.
    let versions =
        ok(&mut s, &format!("Action=DescribeLaunchTemplateVersions&LaunchTemplateId={id}"));
    for part in [
        "<instanceType>t3.micro</instanceType>",
        &format!(
            "<networkInterfaceSet><item><deviceIndex>0</deviceIndex><subnetId>{subnet}</subnetId></item></networkInterfaceSet>"
        ),
        "<tagSpecificationSet><item><resourceType>instance</resourceType><tagSet><item><key>Name</key><value>from-template</value></item></tagSet></item></tagSpecificationSet>",
    ] {
        assert!(versions.contains(part), "{part}: {versions}");
    }
    // A launch from it, the request's own parameters winning.
    let launched = ok(
        &mut s,
        "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateName=web",
    );
    assert!(launched.contains("<instanceType>t3.micro</instanceType>"), "{launched}");
    assert!(launched.contains("<value>from-template</value>"), "{launched}");
    assert!(launched.contains(&format!("<subnetId>{subnet}</subnetId>")), "{launched}");
    let launched = ok(
        &mut s,
        "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateName=web&InstanceType=m5.large",
    );
    assert!(launched.contains("<instanceType>m5.large</instanceType>"), "{launched}");
    // A second version; the default stays until moved.
    let v2 = ok(
        &mut s,
        &format!(
            "Action=CreateLaunchTemplateVersion&LaunchTemplateId={id}&SourceVersion=1\
             &LaunchTemplateData.InstanceType=c5.large"
        ),
    );
    assert!(v2.contains("<versionNumber>2</versionNumber>"), "{v2}");
    assert!(v2.contains("<imageId>ami-1</imageId>"), "from its source: {v2}");
    let latest = ok(
        &mut s,
        &format!(
            "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateId={id}&LaunchTemplate.Version=$Latest"
        ),
    );
    assert!(latest.contains("<instanceType>c5.large</instanceType>"), "{latest}");
    let default = ok(
        &mut s,
        &format!("Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateId={id}"),
    );
    assert!(default.contains("<instanceType>t3.micro</instanceType>"), "{default}");
    ok(&mut s, &format!("Action=ModifyLaunchTemplate&LaunchTemplateId={id}&SetDefaultVersion=2"));
    let deleted = ok(
        &mut s,
        &format!(
            "Action=DeleteLaunchTemplateVersions&LaunchTemplateId={id}&LaunchTemplateVersion.1=1&LaunchTemplateVersion.2=2"
        ),
    );
    assert!(deleted.contains("<successfullyDeletedLaunchTemplateVersionSet><item>"), "{deleted}");
    assert!(deleted.contains("InvalidLaunchTemplateVersion.DefaultVersion"), "{deleted}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateId={id}&LaunchTemplate.Version=1"
            )
        ),
        "InvalidLaunchTemplateId.VersionNotFound"
    );
    // A template parameter vpclab cannot honour is refused at launch.
    ok(
        &mut s,
        &format!(
            "Action=CreateLaunchTemplateVersion&LaunchTemplateId={id}&SourceVersion=2\
             &LaunchTemplateData.IamInstanceProfile.Name=admin"
        ),
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateId={id}&LaunchTemplate.Version=3"
            )
        ),
        "InvalidParameter"
    );
    let listed = ok(
        &mut s,
        "Action=DescribeLaunchTemplates&Filter.1.Name=launch-template-name&Filter.1.Value.1=we*",
    );
    assert_eq!(all(&listed, "<launchTemplateId>", "</launchTemplateId>"), vec![id.as_str()]);
    ok(&mut s, &format!("Action=DeleteLaunchTemplate&LaunchTemplateId={id}"));
    assert_eq!(
        code(&mut s, "Action=DescribeLaunchTemplates&LaunchTemplateName.1=web"),
        "InvalidLaunchTemplateName.NotFoundException"
    );
}

#[test]
fn network_interfaces_of_ones_own() {
    let (mut s, subnet) = lab();
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateNetworkInterface&SubnetId={subnet}&Description=spare\
             &TagSpecification.1.ResourceType=network-interface\
             &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=spare"
        ),
    );
    let eni = between(&made, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned();
    assert!(made.contains("<status>available</status>"), "{made}");
    assert!(made.contains("<privateIpAddress>10.0.1.4</privateIpAddress>"), "{made}");
    // Its address is taken: the next launch gets the one after.
    let launched = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}"),
    );
    assert!(launched.contains("<privateIpAddress>10.0.1.5</privateIpAddress>"), "{launched}");
    let instance = between(&launched, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let listed = ok(
        &mut s,
        "Action=DescribeNetworkInterfaces&Filter.1.Name=status&Filter.1.Value.1=available",
    );
    assert_eq!(all(&listed, "<networkInterfaceId>", "</networkInterfaceId>"), vec![eni.as_str()]);
    assert!(listed.contains("<value>spare</value>"), "{listed}");
    let all_enis = ok(&mut s, "Action=DescribeNetworkInterfaces");
    assert!(
        all_enis.contains("<groupSet><item><groupId>sg-"),
        "instances' groups shown: {all_enis}"
    );
    ok(
        &mut s,
        &format!(
            "Action=ModifyNetworkInterfaceAttribute&NetworkInterfaceId={eni}&Description.Value=renamed"
        ),
    );
    assert!(
        ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}"))
            .contains("<description>renamed</description>")
    );
    ok(
        &mut s,
        &format!(
            "Action=ModifyNetworkInterfaceAttribute&NetworkInterfaceId={eni}&SourceDestCheck.Value=false"
        ),
    );
    assert!(
        ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}"))
            .contains("<sourceDestCheck>false</sourceDestCheck>")
    );
    // Attached, it is the instance's eth1: in use, listed in the instance, not deletable;
    // the primary interface does not come off.
    let attach = format!(
        "Action=AttachNetworkInterface&NetworkInterfaceId={eni}&InstanceId={instance}&DeviceIndex=1"
    );
    let attached = ok(&mut s, &attach);
    let eni_attachment =
        between(&attached, "<attachmentId>", "</attachmentId>").unwrap().to_owned();
    assert!(eni_attachment.starts_with("eni-attach-"), "{attached}");
    assert_eq!(code(&mut s, &attach), "InvalidNetworkInterface.InUse");
    let listed =
        ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}"));
    assert!(listed.contains("<status>in-use</status>"), "{listed}");
    assert!(listed.contains("<deviceIndex>1</deviceIndex>"), "{listed}");
    assert!(listed.contains(&format!("<instanceId>{instance}</instanceId>")), "{listed}");
    let described = ok(&mut s, &format!("Action=DescribeInstances&InstanceId.1={instance}"));
    assert_eq!(
        all(&described, "<deviceIndex>", "</deviceIndex>"),
        ["0", "1"],
        "both interfaces inside the instance: {described}"
    );
    let by_index =
        "Action=DescribeNetworkInterfaces&Filter.1.Name=attachment.device-index&Filter.1.Value.1=1";
    assert_eq!(
        all(&ok(&mut s, by_index), "<networkInterfaceId>", "</networkInterfaceId>"),
        [eni.as_str()]
    );
    assert_eq!(
        code(&mut s, &format!("Action=DeleteNetworkInterface&NetworkInterfaceId={eni}")),
        "InvalidParameterValue",
        "in use"
    );
    let attachment = between(&launched, "<attachmentId>", "</attachmentId>").unwrap().to_owned();
    assert_eq!(
        code(&mut s, &format!("Action=DetachNetworkInterface&AttachmentId={attachment}")),
        "OperationNotPermitted"
    );
    ok(&mut s, &format!("Action=DetachNetworkInterface&AttachmentId={eni_attachment}"));
    assert_eq!(
        code(&mut s, &format!("Action=DetachNetworkInterface&AttachmentId={eni_attachment}")),
        "InvalidAttachmentID.NotFound"
    );
    assert_eq!(
        code(&mut s, &format!("Action=DeleteSubnet&SubnetId={subnet}")),
        "DependencyViolation"
    );
    ok(&mut s, &format!("Action=DeleteNetworkInterface&NetworkInterfaceId={eni}"));
    assert_eq!(
        code(&mut s, &format!("Action=DeleteNetworkInterface&NetworkInterfaceId={eni}")),
        "InvalidNetworkInterfaceID.NotFound"
    );
}

#[test]
fn what_real_clients_send_for_a_launch() {
    let (mut s, subnet) = lab();
    // Terraform sends an empty zone beside the subnet; a zone of another subnet is refused.
    ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&Placement.AvailabilityZone="
        ),
    );
    ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&Placement.AvailabilityZone=us-east-1a"
        ),
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&Placement.AvailabilityZone=us-east-1c"
            )
        ),
        "InvalidParameterValue"
    );
    // The aws CLI's --private-ip-address with --associate-public-ip-address.
    let body = ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1\
             &NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.SubnetId={subnet}\
             &NetworkInterface.1.AssociatePublicIpAddress=false\
             &NetworkInterface.1.PrivateIpAddresses.1.PrivateIpAddress=10.0.1.50\
             &NetworkInterface.1.PrivateIpAddresses.1.Primary=true"
        ),
    );
    assert!(body.contains("<privateIpAddress>10.0.1.50</privateIpAddress>"), "{body}");
    // Its status checks agree with its state.
    let id = between(&body, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let status = ok(&mut s, &format!("Action=DescribeInstanceStatus&InstanceId.1={id}"));
    assert!(
        status.contains("<name>running</name>") && status.contains("<status>ok</status>"),
        "{status}"
    );
    // A group named in the launch is the one of the subnet's VPC, not another `default`.
    let other = ok(&mut s, "Action=CreateVpc&CidrBlock=10.9.0.0%2F16");
    assert!(other.contains("<vpcId>"));
    let named = ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&SecurityGroup.1=default"
        ),
    );
    let group = between(&named, "<groupId>", "</groupId>").unwrap().to_owned();
    let groups = ok(&mut s, &format!("Action=DescribeSecurityGroups&GroupId.1={group}"));
    let vpc_of_subnet = ok(&mut s, &format!("Action=DescribeSubnets&SubnetId.1={subnet}"));
    assert_eq!(
        between(&groups, "<vpcId>", "</vpcId>"),
        between(&vpc_of_subnet, "<vpcId>", "</vpcId>")
    );
}

#[test]
fn launch_template_data_is_checked_overlaid_whole_and_numbered_once() {
    let (mut s, subnet) = lab();
    for bad in [
        "LaunchTemplateData.Foo..Bar=1",
        "LaunchTemplateData.%C3%9Cber=1",
        "LaunchTemplateData.Colour=red",
    ] {
        assert_eq!(
            code(&mut s, &format!("Action=CreateLaunchTemplate&LaunchTemplateName=bad&{bad}")),
            "UnknownParameter",
            "{bad}"
        );
    }
    let g = |s: &mut Service, name: &str| {
        let vpc = ok(s, &format!("Action=DescribeSubnets&SubnetId.1={subnet}"));
        let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
        let made = ok(
            s,
            &format!("Action=CreateSecurityGroup&VpcId={vpc}&GroupName={name}&GroupDescription=x"),
        );
        between(&made, "<groupId>", "</groupId>").unwrap().to_owned()
    };
    let (a, b, c) = (g(&mut s, "a"), g(&mut s, "b"), g(&mut s, "c"));
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateLaunchTemplate&LaunchTemplateName=two-groups&LaunchTemplateData.ImageId=ami-1\
             &LaunchTemplateData.SecurityGroupId.1={a}&LaunchTemplateData.SecurityGroupId.2={b}"
        ),
    );
    let id = between(&made, "<launchTemplateId>", "</launchTemplateId>").unwrap().to_owned();
    let launched = ok(
        &mut s,
        &format!(
            "Action=RunInstances&MinCount=1&MaxCount=1&SubnetId={subnet}&LaunchTemplate.LaunchTemplateId={id}&SecurityGroupId.1={c}"
        ),
    );
    let groups: Vec<&str> = all(&launched, "<groupId>", "</groupId>");
    assert!(
        groups.contains(&c.as_str()) && !groups.contains(&b.as_str()),
        "the call's list whole: {launched}"
    );
    // Versions are numbered once: 2 deleted, the next is 3.
    for _ in 0..2 {
        ok(
            &mut s,
            &format!(
                "Action=CreateLaunchTemplateVersion&LaunchTemplateId={id}&SourceVersion=1&LaunchTemplateData.InstanceType=t3.nano"
            ),
        );
    }
    ok(
        &mut s,
        &format!(
            "Action=DeleteLaunchTemplateVersions&LaunchTemplateId={id}&LaunchTemplateVersion.1=3&LaunchTemplateVersion.2=3"
        ),
    );
    let next = ok(
        &mut s,
        &format!(
            "Action=CreateLaunchTemplateVersion&LaunchTemplateId={id}&SourceVersion=1&LaunchTemplateData.InstanceType=t3.nano"
        ),
    );
    assert!(next.contains("<versionNumber>4</versionNumber>"), "{next}");
}

#[test]
fn user_data_is_kept_in_base64_and_checked() {
    let (mut s, subnet) = lab();
    let launch = |data: &str| {
        format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&UserData={data}"
        )
    };
    // "#!/bin/sh\necho hi\n"
    let body = ok(&mut s, &launch("IyEvYmluL3NoCmVjaG8gaGkK"));
    let id = between(&body, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let attribute =
        ok(&mut s, &format!("Action=DescribeInstanceAttribute&InstanceId={id}&Attribute=userData"));
    assert!(
        attribute.contains("<userData><value>IyEvYmluL3NoCmVjaG8gaGkK</value></userData>"),
        "{attribute}"
    );
    assert_eq!(code(&mut s, &launch("not%20base64%21")), "InvalidParameterValue");
    let big = vpclab_model::base64::encode(&vec![b'x'; 16 * 1024 + 1]);
    assert_eq!(code(&mut s, &launch(&big)), "InvalidParameterValue");
}

#[test]
fn connection_tracking_timeouts_are_set_shown_and_checked() {
    let (mut s, subnet) = lab();
    let spec = "NetworkInterface.1.ConnectionTrackingSpecification";
    let run = ok(
        &mut s,
        &format!(
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1\
             &NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.SubnetId={subnet}\
             &{spec}.TcpEstablishedTimeout=120&{spec}.UdpTimeout=60"
        ),
    );
    let eni = between(&run, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned();
    let shown = |s: &mut Service, action: &str| {
        let body = ok(s, action);
        let config = between(
            &body,
            "<connectionTrackingConfiguration>",
            "</connectionTrackingConfiguration>",
        )
        .map(str::to_owned);
        config.map(|c| {
            ["tcpEstablishedTimeout", "udpStreamTimeout", "udpTimeout"].map(|f| {
                between(&c, &format!("<{f}>"), &format!("</{f}>")).unwrap().parse::<u32>().unwrap()
            })
        })
    };
    assert_eq!(shown(&mut s, "Action=DescribeInstances"), Some([120, 180, 60]));
    // Modify changes what it names and keeps the rest.
    let modify = format!(
        "Action=ModifyNetworkInterfaceAttribute&NetworkInterfaceId={eni}\
         &ConnectionTrackingSpecification.UdpStreamTimeout=90"
    );
    ok(&mut s, &modify);
    let describe = format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={eni}");
    assert_eq!(shown(&mut s, &describe), Some([120, 90, 60]));
    // AWS's ranges: TCP 60–432000, UDP stream 60–180, UDP 30–60.
    for bad in ["TcpEstablishedTimeout=59", "UdpStreamTimeout=181", "UdpTimeout=29", "UdpTimeout=x"]
    {
        let body = format!(
            "Action=ModifyNetworkInterfaceAttribute&NetworkInterfaceId={eni}\
             &ConnectionTrackingSpecification.{bad}"
        );
        assert_eq!(code(&mut s, &body), "InvalidParameterValue", "{bad}");
    }
    assert_eq!(shown(&mut s, &describe), Some([120, 90, 60]), "refusals change nothing");
    // An interface of one's own, and one without a specification (nothing shown).
    let own = ok(
        &mut s,
        &format!(
            "Action=CreateNetworkInterface&SubnetId={subnet}\
             &ConnectionTrackingSpecification.TcpEstablishedTimeout=432000"
        ),
    );
    assert!(own.contains("<tcpEstablishedTimeout>432000</tcpEstablishedTimeout>"), "{own}");
    let plain = ok(&mut s, &format!("Action=CreateNetworkInterface&SubnetId={subnet}"));
    assert!(!plain.contains("connectionTrackingConfiguration"), "{plain}");
}

#[test]
fn the_source_dest_check_turns_off_and_routes_target_instances() {
    let (mut s, subnet) = lab();
    let launched = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}"),
    );
    let instance = between(&launched, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let eni =
        between(&launched, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned();
    assert!(launched.contains("<sourceDestCheck>true</sourceDestCheck>"), "{launched}");
    ok(
        &mut s,
        &format!(
            "Action=ModifyInstanceAttribute&InstanceId={instance}&SourceDestCheck.Value=false"
        ),
    );
    let attribute = ok(
        &mut s,
        &format!(
            "Action=DescribeInstanceAttribute&InstanceId={instance}&Attribute=sourceDestCheck"
        ),
    );
    assert!(attribute.contains("<sourceDestCheck><value>false</value>"), "{attribute}");
    let described = ok(&mut s, &format!("Action=DescribeInstances&InstanceId.1={instance}"));
    assert_eq!(all(&described, "<sourceDestCheck>", "</sourceDestCheck>"), ["false", "false"]);
    // The same switch, by the interface.
    ok(
        &mut s,
        &format!(
            "Action=ModifyNetworkInterfaceAttribute&NetworkInterfaceId={eni}&SourceDestCheck.Value=true"
        ),
    );
    let described = ok(&mut s, &format!("Action=DescribeInstances&InstanceId.1={instance}"));
    assert_eq!(all(&described, "<sourceDestCheck>", "</sourceDestCheck>"), ["true", "true"]);

    // A route to the instance names it and its interface; to the interface, the same.
    let tables = ok(&mut s, "Action=DescribeRouteTables");
    let table = between(&tables, "<routeTableId>", "</routeTableId>").unwrap().to_owned();
    ok(
        &mut s,
        &format!(
            "Action=CreateRoute&RouteTableId={table}&DestinationCidrBlock=0.0.0.0%2F0&InstanceId={instance}"
        ),
    );
    ok(
        &mut s,
        &format!(
            "Action=CreateRoute&RouteTableId={table}&DestinationCidrBlock=192.168.0.0%2F16&NetworkInterfaceId={eni}"
        ),
    );
    let tables = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={table}"));
    assert_eq!(all(&tables, "<instanceId>", "</instanceId>"), [instance.as_str(); 2], "{tables}");
    assert_eq!(all(&tables, "<networkInterfaceId>", "</networkInterfaceId>"), [eni.as_str(); 2]);
    assert_eq!(tables.matches("<state>active</state>").count(), 3, "{tables}");
    let filtered = ok(
        &mut s,
        &format!(
            "Action=DescribeRouteTables&Filter.1.Name=route.instance-id&Filter.1.Value.1={instance}"
        ),
    );
    assert!(filtered.contains(&table), "{filtered}");
    // One target per route.
    let both = format!(
        "Action=CreateRoute&RouteTableId={table}&DestinationCidrBlock=10.9.0.0%2F16&InstanceId={instance}&NetworkInterfaceId={eni}"
    );
    assert_eq!(code(&mut s, &both), "InvalidParameterCombination");
    let unknown = format!(
        "Action=CreateRoute&RouteTableId={table}&DestinationCidrBlock=10.9.0.0%2F16&InstanceId=i-0123456789abcdef0"
    );
    assert_eq!(code(&mut s, &unknown), "InvalidInstanceID.NotFound");
    // Stopped, the instance routes nothing: its routes are blackholes.
    ok(&mut s, &format!("Action=StopInstances&InstanceId.1={instance}"));
    let tables = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={table}"));
    assert_eq!(tables.matches("<state>blackhole</state>").count(), 2, "{tables}");
    assert_eq!(all(&tables, "<instanceId>", "</instanceId>").len(), 2, "still named: {tables}");
}

#[test]
fn interfaces_attach_in_the_instances_zone_at_a_free_index_and_outlive_it() {
    let (mut s, subnet) = lab();
    let launched = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}"),
    );
    let instance = between(&launched, "<instanceId>", "</instanceId>").unwrap().to_owned();
    let vpc = between(&launched, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let eni_in = |s: &mut Service, subnet: &str| {
        let body = ok(s, &format!("Action=CreateNetworkInterface&SubnetId={subnet}"));
        between(&body, "<networkInterfaceId>", "</networkInterfaceId>").unwrap().to_owned()
    };
    let far = ok(
        &mut s,
        &format!(
            "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.9.0%2F24&AvailabilityZone=us-east-1f"
        ),
    );
    let far = between(&far, "<subnetId>", "</subnetId>").unwrap().to_owned();
    let (near, away) = (eni_in(&mut s, &subnet), eni_in(&mut s, &far));
    let attach = |eni: &str, index: u32| {
        format!(
            "Action=AttachNetworkInterface&NetworkInterfaceId={eni}&InstanceId={instance}&DeviceIndex={index}"
        )
    };
    assert_eq!(code(&mut s, &attach(&away, 1)), "InvalidParameterCombination", "another zone");
    assert_eq!(code(&mut s, &attach(&near, 0)), "InvalidParameterValue", "index 0 is eth0");
    assert_eq!(code(&mut s, &attach(&near, 8)), "AttachmentLimitExceeded");
    ok(&mut s, &attach(&near, 2));
    let second = eni_in(&mut s, &subnet);
    assert_eq!(code(&mut s, &attach(&second, 2)), "InvalidParameterValue", "index taken");
    // Terminated, the instance leaves the interface it did not launch with, free.
    ok(&mut s, &format!("Action=TerminateInstances&InstanceId.1={instance}"));
    let listed =
        ok(&mut s, &format!("Action=DescribeNetworkInterfaces&NetworkInterfaceId.1={near}"));
    assert!(listed.contains("<status>available</status>"), "{listed}");
    ok(&mut s, &format!("Action=DeleteNetworkInterface&NetworkInterfaceId={near}"));
}

#[test]
fn hostnames_follow_the_subnets_options_the_launchs_and_later_changes() {
    let (mut s, subnet) = lab();
    let named = |s: &mut Service, id: &str| {
        let body = ok(s, &format!("Action=DescribeInstances&InstanceId.1={id}"));
        let options = between(&body, "<privateDnsNameOptions>", "</privateDnsNameOptions>");
        let options = options.unwrap().to_owned();
        (between(&body, "<privateDnsName>", "</privateDnsName>").unwrap().to_owned(), options)
    };
    let launch = |s: &mut Service, extra: &str| {
        let body = ok(
            s,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}{extra}"
            ),
        );
        between(&body, "<instanceId>", "</instanceId>").unwrap().to_owned()
    };
    // By default: named by address, no resource-name records.
    let plain = launch(&mut s, "");
    let (name, options) = named(&mut s, &plain);
    assert!(name.starts_with("ip-10-0-1-") && name.ends_with(".ec2.internal"), "{name}");
    assert!(options.contains("<hostnameType>ip-name</hostnameType>"), "{options}");
    assert!(options.contains("<enableResourceNameDnsAAAARecord>false<"), "{options}");

    // The subnet's options on launch, as DescribeSubnets shows them.
    let modify = |s: &mut Service, what: &str| {
        ok(s, &format!("Action=ModifySubnetAttribute&SubnetId={subnet}&{what}"));
    };
    modify(&mut s, "PrivateDnsHostnameTypeOnLaunch=resource-name");
    modify(&mut s, "EnableResourceNameDnsARecordOnLaunch.Value=true");
    let described = ok(&mut s, &format!("Action=DescribeSubnets&SubnetId.1={subnet}"));
    let on_launch =
        between(&described, "<privateDnsNameOptionsOnLaunch>", "</privateDnsNameOptionsOnLaunch>");
    let on_launch = on_launch.unwrap();
    assert!(on_launch.contains("<hostnameType>resource-name</hostnameType>"), "{on_launch}");
    assert!(on_launch.contains("<enableResourceNameDnsARecord>true<"), "{on_launch}");
    let by_resource = launch(&mut s, "");
    let (name, options) = named(&mut s, &by_resource);
    assert_eq!(name, format!("{by_resource}.ec2.internal"));
    assert!(options.contains("<enableResourceNameDnsARecord>true<"), "{options}");
    // The launch's own options, over the subnet's.
    let own = launch(
        &mut s,
        "&PrivateDnsNameOptions.HostnameType=ip-name&PrivateDnsNameOptions.EnableResourceNameDnsAAAARecord=true",
    );
    let (name, options) = named(&mut s, &own);
    assert!(name.starts_with("ip-"), "{name}");
    assert!(options.contains("<enableResourceNameDnsARecord>true<"), "{options}");
    assert!(options.contains("<enableResourceNameDnsAAAARecord>true<"), "{options}");
    // The earlier instances keep what they launched with; filters see the names.
    assert!(named(&mut s, &plain).0.starts_with("ip-"));
    let filtered = ok(
        &mut s,
        &format!(
            "Action=DescribeInstances&Filter.1.Name=private-dns-name&Filter.1.Value.1={by_resource}.ec2.internal"
        ),
    );
    assert_eq!(all(&filtered, "<instanceId>", "</instanceId>"), [by_resource.as_str()]);

    // Changed afterwards.
    let body = ok(
        &mut s,
        &format!(
            "Action=ModifyPrivateDnsNameOptions&InstanceId={plain}&PrivateDnsHostnameType=resource-name"
        ),
    );
    assert!(body.contains("<return>true</return>"), "{body}");
    assert_eq!(named(&mut s, &plain).0, format!("{plain}.ec2.internal"));
    let refused = format!(
        "Action=ModifyPrivateDnsNameOptions&InstanceId={plain}&PrivateDnsHostnameType=name"
    );
    assert_eq!(code(&mut s, &refused), "InvalidParameterValue");
    let gone = "Action=ModifyPrivateDnsNameOptions&InstanceId=i-0123456789abcdef0&EnableResourceNameDnsARecord=true";
    assert_eq!(code(&mut s, gone), "InvalidInstanceID.NotFound");
}
