//! Managed prefix lists through the API: versions, routes and rules that name them.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{all, between, code, ok};

#[test]
fn lists_are_versioned_routed_to_and_referenced_by_rules() {
    let mut s = Service::new(Model::new(12), None, None, 12);
    let made = ok(
        &mut s,
        "Action=CreateManagedPrefixList&PrefixListName=office&AddressFamily=IPv4&MaxEntries=3\
         &Entry.1.Cidr=198.51.100.0%2F28&Entry.1.Description=hq&Entry.2.Cidr=198.51.100.64%2F28",
    );
    let list = between(&made, "<prefixListId>", "</prefixListId>").unwrap().to_owned();
    assert!(made.contains("<version>1</version>"), "{made}");
    for (bad, code_) in [
        (
            "PrefixListName=com.amazonaws.mine&AddressFamily=IPv4&MaxEntries=3",
            "InvalidParameterValue",
        ),
        ("PrefixListName=v6&AddressFamily=IPv6&MaxEntries=3", "InvalidParameterValue"),
        (
            "PrefixListName=big&AddressFamily=IPv4&MaxEntries=1&Entry.1.Cidr=10.0.0.0%2F8&Entry.2.Cidr=11.0.0.0%2F8",
            "PrefixListMaxEntriesExceeded",
        ),
    ] {
        assert_eq!(code(&mut s, &format!("Action=CreateManagedPrefixList&{bad}")), code_, "{bad}");
    }
    // Listed beside AWS's own.
    let listed = ok(&mut s, "Action=DescribeManagedPrefixLists");
    let ids = all(&listed, "<prefixListId>", "</prefixListId>");
    assert!(ids.contains(&list.as_str()) && ids.contains(&"pl-63a5400a"), "{listed}");
    let aws =
        ok(&mut s, "Action=DescribeManagedPrefixLists&Filter.1.Name=owner-id&Filter.1.Value.1=AWS");
    assert_eq!(all(&aws, "<prefixListId>", "</prefixListId>").len(), 2);

    // A change names the version it was made against.
    let modify = |version: u32| {
        format!(
            "Action=ModifyManagedPrefixList&PrefixListId={list}&CurrentVersion={version}\
             &AddEntry.1.Cidr=203.0.113.0%2F28&RemoveEntry.1.Cidr=198.51.100.64%2F28"
        )
    };
    assert_eq!(code(&mut s, &modify(7)), "PrefixListVersionMismatch");
    let changed = ok(&mut s, &modify(1));
    assert!(changed.contains("<version>2</version>"), "{changed}");
    let entries = |s: &mut Service, version: Option<u32>| {
        let extra = version.map(|v| format!("&TargetVersion={v}")).unwrap_or_default();
        let body = ok(s, &format!("Action=GetManagedPrefixListEntries&PrefixListId={list}{extra}"));
        all(&body, "<cidr>", "</cidr>").into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(entries(&mut s, None), ["198.51.100.0/28", "203.0.113.0/28"]);
    assert_eq!(entries(&mut s, Some(1)), ["198.51.100.0/28", "198.51.100.64/28"]);
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=ModifyManagedPrefixList&PrefixListId={list}&CurrentVersion=2&MaxEntries=9&AddEntry.1.Cidr=10.0.0.0%2F8"
            )
        ),
        "InvalidParameterCombination"
    );

    // A route and a rule name it; it is in use until they go.
    let vpc = ok(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").unwrap().to_owned();
    let igw = ok(&mut s, "Action=CreateInternetGateway");
    let igw = between(&igw, "<internetGatewayId>", "</internetGatewayId>").unwrap().to_owned();
    ok(&mut s, &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"));
    let table = ok(&mut s, &format!("Action=CreateRouteTable&VpcId={vpc}"));
    let table = between(&table, "<routeTableId>", "</routeTableId>").unwrap().to_owned();
    let route = format!(
        "Action=CreateRoute&RouteTableId={table}&DestinationPrefixListId={list}&GatewayId={igw}"
    );
    ok(&mut s, &route);
    assert_eq!(code(&mut s, &route), "RouteAlreadyExists");
    let shown = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={table}"));
    assert!(
        shown.contains(&format!(
            "<destinationPrefixListId>{list}</destinationPrefixListId><gatewayId>{igw}</gatewayId>"
        )),
        "{shown}"
    );
    let group = ok(
        &mut s,
        &format!("Action=CreateSecurityGroup&VpcId={vpc}&GroupName=g&GroupDescription=g"),
    );
    let group = between(&group, "<groupId>", "</groupId>").unwrap().to_owned();
    let rule = ok(
        &mut s,
        &format!(
            "Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
             &IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22\
             &IpPermissions.1.PrefixListIds.1.PrefixListId={list}"
        ),
    );
    assert!(rule.contains(&format!("<prefixListId>{list}</prefixListId>")), "{rule}");
    let users = ok(&mut s, &format!("Action=GetManagedPrefixListAssociations&PrefixListId={list}"));
    let users = all(&users, "<resourceId>", "</resourceId>");
    assert!(users.contains(&table.as_str()) && users.contains(&group.as_str()), "{users:?}");
    let delete = format!("Action=DeleteManagedPrefixList&PrefixListId={list}");
    assert_eq!(code(&mut s, &delete), "DependencyViolation");
    ok(&mut s, &format!("Action=DeleteRoute&RouteTableId={table}&DestinationPrefixListId={list}"));
    ok(
        &mut s,
        &format!(
            "Action=RevokeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp\
             &IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22\
             &IpPermissions.1.PrefixListIds.1.PrefixListId={list}"
        ),
    );
    ok(&mut s, &delete);
    assert_eq!(
        code(&mut s, &format!("Action=GetManagedPrefixListEntries&PrefixListId={list}")),
        "InvalidPrefixListID.NotFound"
    );
}
