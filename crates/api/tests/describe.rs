//! The one Describe path, through the service as a client calls it: filter names,
//! wildcards, pages and tokens.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

/// A service with `n` VPCs 10.k.0.0/16, each named `lab-k`.
fn with_vpcs(n: u8) -> (Service, Vec<String>) {
    let mut s = Service::new(Model::new(7), None, None, 7);
    let mut ids = Vec::new();
    for k in 0..n {
        let body = ok(
            &mut s,
            &format!(
                "Action=CreateVpc&CidrBlock=10.{k}.0.0%2F16&TagSpecification.1.ResourceType=vpc\
                 &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=lab-{k}"
            ),
        );
        ids.push(between(&body, "<vpcId>", "</vpcId>").unwrap().to_owned());
    }
    ids.sort();
    (s, ids)
}

#[test]
fn unknown_filter_names_are_refused_whether_or_not_anything_exists() {
    let (mut s, _) = with_vpcs(0);
    assert_eq!(
        code(&mut s, "Action=DescribeVpcs&Filter.1.Name=colour&Filter.1.Value.1=red"),
        "InvalidParameterValue"
    );
    let (mut s, _) = with_vpcs(2);
    assert_eq!(
        code(&mut s, "Action=DescribeVpcs&Filter.1.Name=colour&Filter.1.Value.1=red"),
        "InvalidParameterValue"
    );
    // Another action's filter is unknown here too.
    assert_eq!(
        code(&mut s, "Action=DescribeVpcs&Filter.1.Name=subnet-id&Filter.1.Value.1=x"),
        "InvalidParameterValue"
    );
}

#[test]
fn documented_filters_and_aliases_answer() {
    let (mut s, ids) = with_vpcs(3);
    for filter in ["cidr", "cidr-block", "cidr-block-association.cidr-block"] {
        let body = ok(
            &mut s,
            &format!("Action=DescribeVpcs&Filter.1.Name={filter}&Filter.1.Value.1=10.1.0.0%2F16"),
        );
        assert_eq!(all(&body, "<cidrBlock>", "</cidrBlock>").len(), 2, "{filter}: {body}");
        assert!(body.contains("10.1.0.0/16"), "{filter}");
    }
    // A documented filter vpclab has no value for matches nothing, and is no error.
    let body = ok(
        &mut s,
        "Action=DescribeVpcs&Filter.1.Name=ipv6-cidr-block-association.ipv6-pool&Filter.1.Value.1=*",
    );
    assert!(body.contains("<vpcSet/>"), "{body}");
    // Tags, with wildcards, and several filters (all must match).
    let body = ok(&mut s, "Action=DescribeVpcs&Filter.1.Name=tag%3AName&Filter.1.Value.1=lab-*");
    assert_eq!(all(&body, "<vpcId>", "</vpcId>").len(), 3);
    let body = ok(
        &mut s,
        "Action=DescribeVpcs&Filter.1.Name=tag%3AName&Filter.1.Value.1=lab-?\
         &Filter.2.Name=cidr&Filter.2.Value.1=10.2.*&Filter.2.Value.2=10.0.*",
    );
    assert_eq!(all(&body, "<vpcId>", "</vpcId>").len(), 2, "{body}");
    let body = ok(&mut s, "Action=DescribeVpcs&Filter.1.Name=tag-key&Filter.1.Value.1=Name");
    assert_eq!(all(&body, "<vpcId>", "</vpcId>").len(), 3);
    // Ids narrow, all or nothing.
    let body = ok(&mut s, &format!("Action=DescribeVpcs&VpcId.1={}", ids[1]));
    assert_eq!(all(&body, "<vpcId>", "</vpcId>"), vec![ids[1].as_str()]);
    assert_eq!(
        code(
            &mut s,
            &format!("Action=DescribeVpcs&VpcId.1={}&VpcId.2=vpc-0000000000000000f", ids[1])
        ),
        "InvalidVpcID.NotFound"
    );
}

#[test]
fn pages_cover_everything_once_in_order() {
    let (mut s, ids) = with_vpcs(12);
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = "Action=DescribeVpcs&MaxResults=5".to_owned();
        if let Some(t) = &token {
            body.push_str(&format!("&NextToken={t}"));
        }
        let reply = ok(&mut s, &body);
        let page: Vec<String> =
            all(&reply, "<vpcId>", "</vpcId>").into_iter().map(str::to_owned).collect();
        assert!(page.len() <= 5);
        seen.extend(page);
        pages += 1;
        token = between(&reply, "<nextToken>", "</nextToken>").map(str::to_owned);
        if token.is_none() || pages > 10 {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "every VPC once, in id order");
    // Filters apply before the page is cut: 12 VPCs, 2 match, one page, no token.
    let reply = ok(
        &mut s,
        "Action=DescribeVpcs&MaxResults=5&Filter.1.Name=tag%3AName&Filter.1.Value.1=lab-1*",
    );
    assert_eq!(all(&reply, "<vpcId>", "</vpcId>").len(), 3, "lab-1, lab-10, lab-11");
    assert!(!reply.contains("<nextToken>"));
    // Without MaxResults, everything at once.
    let reply = ok(&mut s, "Action=DescribeVpcs");
    assert_eq!(all(&reply, "<vpcId>", "</vpcId>").len(), 12);
    assert!(!reply.contains("<nextToken>"));
}

#[test]
fn max_results_and_tokens_are_checked() {
    let (mut s, _) = with_vpcs(6);
    for bad in ["4", "1001", "-1", "many"] {
        assert_eq!(
            code(&mut s, &format!("Action=DescribeVpcs&MaxResults={bad}")),
            "InvalidParameterValue",
            "MaxResults={bad}"
        );
    }
    // Route tables page by at most 100, as botocore's model says.
    assert_eq!(code(&mut s, "Action=DescribeRouteTables&MaxResults=101"), "InvalidParameterValue");
    ok(&mut s, "Action=DescribeRouteTables&MaxResults=100");
    for bad in ["garbage", "00", "0123456789abcdef0123456789abcdef"] {
        assert_eq!(
            code(&mut s, &format!("Action=DescribeVpcs&MaxResults=5&NextToken={bad}")),
            "InvalidParameterValue",
            "NextToken={bad}"
        );
    }
    // A token is good for the action that gave it, not another.
    let reply = ok(&mut s, "Action=DescribeVpcs&MaxResults=5");
    let token = between(&reply, "<nextToken>", "</nextToken>").expect("a second page").to_owned();
    ok(&mut s, &format!("Action=DescribeVpcs&MaxResults=5&NextToken={token}"));
    assert_eq!(
        code(&mut s, &format!("Action=DescribeSubnets&MaxResults=5&NextToken={token}")),
        "InvalidParameterValue"
    );
    // Actions AWS does not paginate do not take MaxResults at all.
    assert_eq!(code(&mut s, "Action=DescribeAddresses&MaxResults=5"), "UnknownParameter");
}

#[test]
fn instances_page_and_refuse_ids_with_max_results() {
    let (mut s, ids) = with_vpcs(1);
    let body = ok(&mut s, &format!("Action=CreateSubnet&VpcId={}&CidrBlock=10.0.1.0%2F24", ids[0]));
    let subnet = between(&body, "<subnetId>", "</subnetId>").unwrap().to_owned();
    let body = ok(
        &mut s,
        &format!("Action=RunInstances&ImageId=ami-1&MinCount=7&MaxCount=7&SubnetId={subnet}"),
    );
    let launched = all(&body, "<instanceId>", "</instanceId>");
    assert_eq!(launched.len(), 7);
    let first = launched[0].to_owned();
    assert_eq!(
        code(&mut s, &format!("Action=DescribeInstances&InstanceId.1={first}&MaxResults=5")),
        "InvalidParameterCombination"
    );
    let reply = ok(&mut s, "Action=DescribeInstances&MaxResults=5");
    assert_eq!(all(&reply, "<instanceId>", "</instanceId>").len(), 5);
    let token = between(&reply, "<nextToken>", "</nextToken>").unwrap().to_owned();
    let reply = ok(&mut s, &format!("Action=DescribeInstances&MaxResults=5&NextToken={token}"));
    assert_eq!(all(&reply, "<instanceId>", "</instanceId>").len(), 2);
    assert!(!reply.contains("<nextToken>"));
}
