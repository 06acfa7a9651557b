//! Security-group rules as objects of their own: ids from Authorize, DescribeSecurityGroupRules,
//! ModifySecurityGroupRules, revoking and tagging by id, AWS's quota.

use vpclab_api::Service;
use vpclab_model::{MAX_RULES_PER_GROUP, Model};

mod common;
use common::{all, between, code, ok};

/// A service with one VPC and a group `web` in it: (service, vpc, group).
fn lab() -> (Service, String, String) {
    let mut s = Service::new(Model::new(3), None, None, 3);
    let body = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&body, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let body = ok(
        &mut s,
        &format!("Action=CreateSecurityGroup&VpcId={vpc}&GroupName=web&GroupDescription=web"),
    );
    let group = between(&body, "<groupId>", "</groupId>").unwrap().to_owned();
    (s, vpc, group)
}

fn authorize(s: &mut Service, group: &str, port: u32) -> String {
    let body = ok(
        s,
        &format!(
            "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
             &IpPermissions.1.FromPort={port}&IpPermissions.1.ToPort={port}\
             &IpPermissions.1.IpRanges.1.CidrIp=203.0.113.0%2F24\
             &TagSpecification.1.ResourceType=security-group-rule\
             &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=p{port}"
        ),
    );
    assert!(body.contains("<isEgress>false</isEgress>"), "{body}");
    assert!(body.contains("<cidrIpv4>203.0.113.0/24</cidrIpv4>"), "{body}");
    assert!(body.contains(&format!("<value>p{port}</value>")), "tags on the rule: {body}");
    let id = between(&body, "<securityGroupRuleId>", "</securityGroupRuleId>").unwrap();
    assert!(id.starts_with("sgr-"), "{body}");
    id.to_owned()
}

#[test]
fn rules_have_ids_and_are_described_modified_and_revoked_by_them() {
    let (mut s, _, group) = lab();
    let rule = authorize(&mut s, &group, 80);
    let listed = ok(
        &mut s,
        &format!(
            "Action=DescribeSecurityGroupRules&Filter.1.Name=group-id&Filter.1.Value.1={group}"
        ),
    );
    // The new group's own outbound rule, and the one authorized.
    let ids = all(&listed, "<securityGroupRuleId>", "</securityGroupRuleId>");
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&rule.as_str()));
    let by_id =
        ok(&mut s, &format!("Action=DescribeSecurityGroupRules&SecurityGroupRuleId.1={rule}"));
    assert!(by_id.contains("<fromPort>80</fromPort>"), "{by_id}");
    let by_tag = ok(
        &mut s,
        "Action=DescribeSecurityGroupRules&Filter.1.Name=tag%3AName&Filter.1.Value.1=p80",
    );
    assert_eq!(
        all(&by_tag, "<securityGroupRuleId>", "</securityGroupRuleId>"),
        vec![rule.as_str()]
    );
    assert_eq!(
        code(
            &mut s,
            "Action=DescribeSecurityGroupRules&SecurityGroupRuleId.1=sgr-0123456789abcdef0"
        ),
        "InvalidSecurityGroupRuleId.NotFound"
    );

    // Modified in place: same id, new port, tags kept.
    ok(
        &mut s,
        &format!(
            "Action=ModifySecurityGroupRules&GroupId={group}&SecurityGroupRule.1.SecurityGroupRuleId={rule}\
             &SecurityGroupRule.1.SecurityGroupRule.IpProtocol=tcp\
             &SecurityGroupRule.1.SecurityGroupRule.FromPort=443&SecurityGroupRule.1.SecurityGroupRule.ToPort=443\
             &SecurityGroupRule.1.SecurityGroupRule.CidrIpv4=0.0.0.0%2F0"
        ),
    );
    let group_view = ok(&mut s, &format!("Action=DescribeSecurityGroups&GroupId.1={group}"));
    assert!(group_view.contains("<fromPort>443</fromPort>"), "{group_view}");
    assert!(!group_view.contains("<fromPort>80</fromPort>"), "{group_view}");
    let by_id =
        ok(&mut s, &format!("Action=DescribeSecurityGroupRules&SecurityGroupRuleId.1={rule}"));
    assert!(by_id.contains("<value>p80</value>"), "tags kept: {by_id}");
    // A port past 65535 is refused, as everywhere.
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=ModifySecurityGroupRules&GroupId={group}&SecurityGroupRule.1.SecurityGroupRuleId={rule}\
                 &SecurityGroupRule.1.SecurityGroupRule.IpProtocol=tcp\
                 &SecurityGroupRule.1.SecurityGroupRule.FromPort=1&SecurityGroupRule.1.SecurityGroupRule.ToPort=70000\
                 &SecurityGroupRule.1.SecurityGroupRule.CidrIpv4=0.0.0.0%2F0"
            )
        ),
        "InvalidParameterValue"
    );

    // Tagged like any resource; revoked by id.
    ok(&mut s, &format!("Action=CreateTags&ResourceId.1={rule}&Tag.1.Key=team&Tag.1.Value=red"));
    let tags = ok(
        &mut s,
        &format!("Action=DescribeTags&Filter.1.Name=resource-id&Filter.1.Value.1={rule}"),
    );
    assert!(tags.contains("<resourceType>security-group-rule</resourceType>"), "{tags}");
    assert!(tags.contains("<value>red</value>"), "{tags}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=RevokeSecurityGroupIngress&GroupId={group}&SecurityGroupRuleId.1=sgr-0123456789abcdef0"
            )
        ),
        "InvalidSecurityGroupRuleId.NotFound"
    );
    ok(
        &mut s,
        &format!("Action=RevokeSecurityGroupIngress&GroupId={group}&SecurityGroupRuleId.1={rule}"),
    );
    let group_view = ok(&mut s, &format!("Action=DescribeSecurityGroups&GroupId.1={group}"));
    assert!(group_view.contains("<ipPermissions/>"), "{group_view}");
}

#[test]
fn a_group_holds_sixty_inbound_rules() {
    let (mut s, _, group) = lab();
    for port in 0..MAX_RULES_PER_GROUP as u32 {
        authorize(&mut s, &group, 1000 + port);
    }
    let body = format!(
        "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpProtocol=tcp&FromPort=9&ToPort=9&CidrIp=10.0.0.0%2F8"
    );
    assert_eq!(code(&mut s, &body), "RulesPerSecurityGroupLimitExceeded");
}

#[test]
fn a_group_without_a_vpc_goes_to_the_default_vpc() {
    let mut s = Service::new(Model::new(3), None, None, 3);
    let body = "Action=CreateSecurityGroup&GroupName=web&GroupDescription=web";
    assert_eq!(code(&mut s, body), "VPCIdNotSpecified");
    let made = ok(&mut s, "Action=CreateDefaultVpc");
    let vpc = between(&made, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let created = ok(&mut s, body);
    let group = between(&created, "<groupId>", "</groupId>").unwrap();
    let shown = ok(&mut s, &format!("Action=DescribeSecurityGroups&GroupId.1={group}"));
    assert!(shown.contains(&format!("<vpcId>{vpc}</vpcId>")), "{shown}");
}

#[test]
fn key_pairs_and_nat_gateways_take_tags() {
    let (mut s, vpc, _) = lab();
    let key = ok(&mut s, "Action=CreateKeyPair&KeyName=lab");
    let key = between(&key, "<keyPairId>", "</keyPairId>").unwrap().to_owned();
    ok(&mut s, &format!("Action=CreateTags&ResourceId.1={key}&Tag.1.Key=Name&Tag.1.Value=lab-key"));
    let listed =
        ok(&mut s, "Action=DescribeKeyPairs&Filter.1.Name=tag%3AName&Filter.1.Value.1=lab-key");
    assert!(listed.contains(&key), "{listed}");

    let subnet = ok(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").unwrap().to_owned();
    let eip = ok(&mut s, "Action=AllocateAddress&Domain=vpc");
    let eip = between(&eip, "<allocationId>", "</allocationId>").unwrap().to_owned();
    let nat = ok(
        &mut s,
        &format!(
            "Action=CreateNatGateway&SubnetId={subnet}&AllocationId={eip}\
             &TagSpecification.1.ResourceType=natgateway&TagSpecification.1.Tag.1.Key=Name\
             &TagSpecification.1.Tag.1.Value=egress"
        ),
    );
    assert!(nat.contains("<state>pending</state>"), "{nat}");
    assert!(nat.contains("<value>egress</value>"), "{nat}");
}

#[test]
fn peer_groups_name_this_account_or_none() {
    let (mut s, _, group) = lab();
    let pair = |owner: &str| {
        format!(
            "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
             &IpPermissions.1.FromPort=8080&IpPermissions.1.ToPort=8080\
             &IpPermissions.1.Groups.1.GroupId={group}&IpPermissions.1.Groups.1.UserId={owner}"
        )
    };
    assert_eq!(code(&mut s, &pair("999999999999")), "InvalidGroup.NotFound");
    let body = ok(&mut s, &pair("123456789012"));
    assert!(body.contains("<referencedGroupInfo>"), "{body}");
}
