//! Transit gateways through the API: gateways and their default tables, VPC attachments,
//! associations, propagations, static routes and the route search, and how they hold
//! on to the VPCs they attach.

use vpclab_api::Service;
use vpclab_model::Model;

mod common;
use common::{NOW, all, between, code, ok};

/// The text of the first `<tag>` in `body`.
fn first(body: &str, tag: &str) -> String {
    between(body, &format!("<{tag}>"), &format!("</{tag}>"))
        .unwrap_or_else(|| panic!("no <{tag}> in {body}"))
        .to_owned()
}

/// A transit gateway with default options: its id and its default route table's.
fn gateway(s: &mut Service) -> (String, String) {
    let made = ok(s, "Action=CreateTransitGateway");
    (first(&made, "transitGatewayId"), first(&made, "associationDefaultRouteTableId"))
}

/// A VPC `10.k.0.0/16` with a subnet `10.k.z.0/24` in each of `zones`.
fn new_vpc(s: &mut Service, k: u8, zones: &[&str]) -> (String, Vec<String>) {
    let vpc = first(&ok(s, &format!("Action=CreateVpc&CidrBlock=10.{k}.0.0%2F16")), "vpcId");
    let subnets = zones
        .iter()
        .enumerate()
        .map(|(z, zone)| {
            let made = ok(
                s,
                &format!(
                    "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.{k}.{z}.0%2F24\
                     &AvailabilityZone={zone}"
                ),
            );
            first(&made, "subnetId")
        })
        .collect();
    (vpc, subnets)
}

/// Attaches `vpc` through `subnets`: the attachment's id.
fn attach(s: &mut Service, tgw: &str, vpc: &str, subnets: &[String]) -> String {
    let list: String =
        subnets.iter().enumerate().map(|(i, s)| format!("&SubnetIds.{}={s}", i + 1)).collect();
    let made = ok(
        s,
        &format!(
            "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={vpc}{list}"
        ),
    );
    first(&made, "transitGatewayAttachmentId")
}

fn search(s: &mut Service, table: &str, filters: &str) -> String {
    ok(s, &format!("Action=SearchTransitGatewayRoutes&TransitGatewayRouteTableId={table}{filters}"))
}

/// The destinations of a route search's answer.
fn destinations(body: &str) -> Vec<&str> {
    all(body, "<destinationCidrBlock>", "</destinationCidrBlock>")
}

#[test]
fn a_gateway_has_its_default_table_echoes_its_options_and_settles() {
    let mut s = Service::new(Model::new(11), None, None, 11).with_transition_seconds(30);
    let made = ok(
        &mut s,
        "Action=CreateTransitGateway&Description=hub&Options.AmazonSideAsn=64600\
         &Options.DnsSupport=disable&Options.MulticastSupport=disable\
         &Options.TransitGatewayCidrBlocks.1=192.0.2.0%2F24\
         &TagSpecification.1.ResourceType=transit-gateway\
         &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=hub",
    );
    let tgw = first(&made, "transitGatewayId");
    let table = first(&made, "associationDefaultRouteTableId");
    assert!(tgw.starts_with("tgw-") && table.starts_with("tgw-rtb-"), "{made}");
    for expected in [
        "<state>pending</state>".to_owned(),
        format!("<transitGatewayArn>arn:aws:ec2:us-east-1:123456789012:transit-gateway/{tgw}"),
        "<description>hub</description>".to_owned(),
        "<amazonSideAsn>64600</amazonSideAsn>".to_owned(),
        "<transitGatewayCidrBlocks><item>192.0.2.0/24</item></transitGatewayCidrBlocks>".to_owned(),
        "<dnsSupport>disable</dnsSupport>".to_owned(),
        "<vpnEcmpSupport>enable</vpnEcmpSupport>".to_owned(),
        "<defaultRouteTableAssociation>enable</defaultRouteTableAssociation>".to_owned(),
        format!("<propagationDefaultRouteTableId>{table}</propagationDefaultRouteTableId>"),
        "<securityGroupReferencingSupport>disable</securityGroupReferencingSupport>".to_owned(),
        "<tagSet><item><key>Name</key><value>hub</value></item></tagSet>".to_owned(),
    ] {
        assert!(made.contains(&expected), "{expected} in {made}");
    }
    let describe = format!("Action=DescribeTransitGateways&TransitGatewayIds.1={tgw}");
    let soon = s.handle(describe.as_bytes(), NOW + 10).body;
    assert!(soon.contains("<transitGatewaySet><item>") && soon.contains("<state>pending</state>"));
    let later = s.handle(describe.as_bytes(), NOW + 30).body;
    assert!(later.contains("<state>available</state>"), "{later}");
    let by_asn = s.handle(
        b"Action=DescribeTransitGateways&Filter.1.Name=options.amazon-side-asn&Filter.1.Value.1=64600",
        NOW + 30,
    );
    assert_eq!(all(&by_asn.body, "<transitGatewayId>", "</transitGatewayId>"), vec![tgw.as_str()]);

    let tables = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayRouteTables&Filter.1.Name=transit-gateway-id\
             &Filter.1.Value.1={tgw}"
        ),
    );
    assert_eq!(all(&tables, "<transitGatewayRouteTableId>", "<"), vec![table.as_str()]);
    assert!(tables.contains("<transitGatewayRouteTables><item>"), "{tables}");
    assert!(tables.contains("<defaultAssociationRouteTable>true</defaultAssociationRouteTable>"));
    assert!(tables.contains("<state>available</state>"), "{tables}");

    for bad in [
        "Options.DnsSupport=maybe",
        "Options.MulticastSupport=enable",
        "Options.AmazonSideAsn=100",
        "Options.TransitGatewayCidrBlocks.1=10.0.0.0%2F28",
    ] {
        assert_eq!(
            code(&mut s, &format!("Action=CreateTransitGateway&{bad}")),
            "InvalidParameterValue",
            "{bad}"
        );
    }
    assert_eq!(
        code(&mut s, "Action=DescribeTransitGateways&TransitGatewayIds.1=tgw-0123456789abcdef0"),
        "InvalidTransitGatewayID.NotFound"
    );

    // Changes apply to the attachments made from now on: this one is not associated.
    let changed = ok(
        &mut s,
        &format!(
            "Action=ModifyTransitGateway&TransitGatewayId={tgw}&Description=core\
             &Options.DefaultRouteTableAssociation=disable\
             &Options.RemoveTransitGatewayCidrBlocks.1=192.0.2.0%2F24"
        ),
    );
    assert!(changed.contains("<state>modifying</state>"), "{changed}");
    assert!(changed.contains("<description>core</description>"), "{changed}");
    assert!(!changed.contains("transitGatewayCidrBlocks"), "{changed}");
    let (vpc, subnets) = new_vpc(&mut s, 1, &["us-east-1a"]);
    let attachment = attach(&mut s, &tgw, &vpc, &subnets);
    let associated = ok(
        &mut s,
        &format!(
            "Action=GetTransitGatewayRouteTableAssociations&TransitGatewayRouteTableId={table}"
        ),
    );
    assert!(associated.contains("<associations/>"), "{associated}");
    let propagating = ok(
        &mut s,
        &format!(
            "Action=GetTransitGatewayAttachmentPropagations&TransitGatewayAttachmentId={attachment}"
        ),
    );
    assert!(
        propagating.contains(&format!(
            "<transitGatewayAttachmentPropagations><item><transitGatewayRouteTableId>{table}\
             </transitGatewayRouteTableId><state>enabled</state>"
        )),
        "{propagating}"
    );
}

#[test]
fn an_attachment_is_associated_with_and_propagates_into_the_default_table() {
    let mut s = Service::new(Model::new(12), None, None, 12);
    let (tgw, table) = gateway(&mut s);
    let (vpc, subnets) = new_vpc(&mut s, 1, &["us-east-1a", "us-east-1b"]);
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={vpc}\
             &SubnetIds.1={}&SubnetIds.2={}&Options.ApplianceModeSupport=enable\
             &TagSpecifications.1.ResourceType=transit-gateway-attachment\
             &TagSpecifications.1.Tag.1.Key=Name&TagSpecifications.1.Tag.1.Value=spoke",
            subnets[0], subnets[1]
        ),
    );
    let attachment = first(&made, "transitGatewayAttachmentId");
    assert!(attachment.starts_with("tgw-attach-"), "{made}");
    for expected in [
        format!("<subnetIds><item>{}</item><item>{}</item></subnetIds>", subnets[0], subnets[1]),
        "<state>pending</state>".to_owned(),
        "<vpcOwnerId>123456789012</vpcOwnerId>".to_owned(),
        "<applianceModeSupport>enable</applianceModeSupport>".to_owned(),
        "<ipv6Support>disable</ipv6Support>".to_owned(),
        "<value>spoke</value>".to_owned(),
    ] {
        assert!(made.contains(&expected), "{expected} in {made}");
    }

    let associations = ok(
        &mut s,
        &format!(
            "Action=GetTransitGatewayRouteTableAssociations&TransitGatewayRouteTableId={table}\
             &Filter.1.Name=resource-type&Filter.1.Value.1=vpc"
        ),
    );
    assert!(
        associations.contains(&format!(
            "<associations><item><transitGatewayAttachmentId>{attachment}\
             </transitGatewayAttachmentId><resourceId>{vpc}</resourceId>\
             <resourceType>vpc</resourceType><state>associated</state></item></associations>"
        )),
        "{associations}"
    );
    let propagations = ok(
        &mut s,
        &format!(
            "Action=GetTransitGatewayRouteTablePropagations&TransitGatewayRouteTableId={table}"
        ),
    );
    assert!(propagations.contains("<transitGatewayRouteTablePropagations><item>"));
    assert!(propagations.contains("<state>enabled</state>"), "{propagations}");
    let attachments = ok(&mut s, "Action=DescribeTransitGatewayAttachments");
    assert!(
        attachments.contains(&format!(
            "<association><transitGatewayRouteTableId>{table}</transitGatewayRouteTableId>\
             <state>associated</state></association>"
        )),
        "{attachments}"
    );
    let vpc_attachments = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayVpcAttachments&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"
        ),
    );
    assert!(vpc_attachments.contains("<transitGatewayVpcAttachments><item>"), "{vpc_attachments}");
    assert!(vpc_attachments.contains("<state>available</state>"), "{vpc_attachments}");

    let routes = search(&mut s, &table, "&Filter.1.Name=type&Filter.1.Value.1=propagated");
    assert!(
        routes.contains(&format!(
            "<routeSet><item><destinationCidrBlock>10.1.0.0/16</destinationCidrBlock>\
             <transitGatewayAttachments><item><transitGatewayAttachmentId>{attachment}\
             </transitGatewayAttachmentId><resourceId>{vpc}</resourceId>\
             <resourceType>vpc</resourceType></item></transitGatewayAttachments>\
             <type>propagated</type><state>active</state></item></routeSet>\
             <additionalRoutesAvailable>false</additionalRoutesAvailable>"
        )),
        "{routes}"
    );
    assert_eq!(
        code(
            &mut s,
            &format!("Action=SearchTransitGatewayRoutes&TransitGatewayRouteTableId={table}")
        ),
        "MissingParameter"
    );

    // The gateway's interfaces hold an address of each attachment subnet.
    let interfaces = ok(
        &mut s,
        "Action=DescribeNetworkInterfaces&Filter.1.Name=interface-type\
         &Filter.1.Value.1=transit_gateway",
    );
    assert_eq!(all(&interfaces, "<networkInterfaceId>", "<").len(), 2, "{interfaces}");
    assert!(interfaces.contains(&format!(
        "<description>Network Interface for Transit Gateway Attachment {attachment}</description>"
    )));
    assert!(interfaces.contains("<requesterManaged>true</requesterManaged>"), "{interfaces}");
    assert!(interfaces.contains("<status>in-use</status><macAddress>"), "{interfaces}");
    assert!(interfaces.contains("<groupSet/>"), "{interfaces}");

    // One attachment per gateway and VPC, one subnet per zone.
    let again = format!(
        "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={vpc}&SubnetIds.1={}",
        subnets[0]
    );
    assert_eq!(code(&mut s, &again), "DuplicateTransitGatewayAttachment");
    let (other, same_zone) = new_vpc(&mut s, 2, &["us-east-1a", "us-east-1a"]);
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={other}\
                 &SubnetIds.1={}&SubnetIds.2={}",
                same_zone[0], same_zone[1]
            )
        ),
        "DuplicateSubnetsInSameZone"
    );
    // The singular spelling is not this action's, and IPv6 is not there yet.
    assert_eq!(
        code(
            &mut s,
            &format!("{again}&TagSpecification.1.ResourceType=transit-gateway-attachment")
        ),
        "UnknownParameter"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={other}\
                 &SubnetIds.1={}&Options.Ipv6Support=enable",
                same_zone[0]
            )
        ),
        "InvalidParameterValue"
    );

    // Subnets come and go; the options change.
    let changed = ok(
        &mut s,
        &format!(
            "Action=ModifyTransitGatewayVpcAttachment&TransitGatewayAttachmentId={attachment}\
             &RemoveSubnetIds.1={}&Options.DnsSupport=disable",
            subnets[1]
        ),
    );
    assert!(changed.contains(&format!("<subnetIds><item>{}</item></subnetIds>", subnets[0])));
    assert!(
        changed.contains("<state>modifying</state>") && changed.contains("<dnsSupport>disable")
    );
    let interfaces = ok(
        &mut s,
        "Action=DescribeNetworkInterfaces&Filter.1.Name=interface-type\
         &Filter.1.Value.1=transit_gateway",
    );
    assert_eq!(all(&interfaces, "<networkInterfaceId>", "<").len(), 1, "{interfaces}");
}

#[test]
fn static_routes_win_blackholes_drop_and_the_search_finds_by_prefix() {
    let mut s = Service::new(Model::new(13), None, None, 13);
    let (tgw, table) = gateway(&mut s);
    let (vpc_a, subnets_a) = new_vpc(&mut s, 1, &["us-east-1a"]);
    let (vpc_b, subnets_b) = new_vpc(&mut s, 2, &["us-east-1a"]);
    let a = attach(&mut s, &tgw, &vpc_a, &subnets_a);
    let b = attach(&mut s, &tgw, &vpc_b, &subnets_b);
    let route = |destination: &str, target: &str| {
        format!(
            "Action=CreateTransitGatewayRoute&TransitGatewayRouteTableId={table}\
             &DestinationCidrBlock={}{target}",
            destination.replace('/', "%2F")
        )
    };
    // A static route for B's own prefix wins over B's propagated one, which is not shown.
    let made = ok(&mut s, &route("10.2.0.0/16", &format!("&TransitGatewayAttachmentId={a}")));
    assert!(made.contains("<type>static</type><state>active</state>"), "{made}");
    let exact = search(
        &mut s,
        &table,
        "&Filter.1.Name=route-search.exact-match&Filter.1.Value.1=10.2.0.0%2F16",
    );
    assert_eq!(destinations(&exact), vec!["10.2.0.0/16"], "{exact}");
    assert!(exact.contains(&format!("<transitGatewayAttachmentId>{a}<")), "{exact}");
    assert!(exact.contains("<type>static</type>"), "{exact}");
    assert_eq!(code(&mut s, &route("10.2.0.0/16", "&Blackhole=true")), "RouteAlreadyExists");

    let hole = ok(&mut s, &route("10.2.5.0/24", "&Blackhole=true"));
    assert!(hole.contains("<state>blackhole</state>"), "{hole}");
    assert!(!hole.contains("transitGatewayAttachments"), "{hole}");
    assert_eq!(
        code(
            &mut s,
            &route("10.3.0.0/16", &format!("&TransitGatewayAttachmentId={a}&Blackhole=true"))
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(code(&mut s, &route("10.3.0.0/16", "")), "MissingParameter");

    // The route a packet would take, and routes by how they nest.
    let lpm = |s: &mut Service, address: &str| {
        let body = search(
            s,
            &table,
            &format!("&Filter.1.Name=route-search.longest-prefix-match&Filter.1.Value.1={address}"),
        );
        destinations(&body).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(lpm(&mut s, "10.2.5.9"), vec!["10.2.5.0/24"]);
    assert_eq!(lpm(&mut s, "10.2.6.1%2F32"), vec!["10.2.0.0/16"]);
    assert_eq!(lpm(&mut s, "10.9.0.1"), Vec::<String>::new());
    let inside = search(
        &mut s,
        &table,
        "&Filter.1.Name=route-search.subnet-of-match&Filter.1.Value.1=10.2.0.0%2F16",
    );
    assert_eq!(destinations(&inside), vec!["10.2.0.0/16", "10.2.5.0/24"], "{inside}");
    let around = search(
        &mut s,
        &table,
        "&Filter.1.Name=route-search.supernet-of-match&Filter.1.Value.1=10.2.5.128%2F25",
    );
    assert_eq!(destinations(&around), vec!["10.2.0.0/16", "10.2.5.0/24"], "{around}");
    let holes = search(&mut s, &table, "&Filter.1.Name=state&Filter.1.Value.1=blackhole");
    assert_eq!(destinations(&holes), vec!["10.2.5.0/24"], "{holes}");
    let by_b = search(
        &mut s,
        &table,
        &format!("&Filter.1.Name=attachment.resource-id&Filter.1.Value.1={vpc_b}"),
    );
    assert!(destinations(&by_b).is_empty(), "B's prefix is A's now: {by_b}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=SearchTransitGatewayRoutes&TransitGatewayRouteTableId={table}\
                 &Filter.1.Name=route-search.exact-match&Filter.1.Value.1=nonsense"
            )
        ),
        "InvalidParameterValue"
    );

    // Pages: more routes than asked for.
    for k in 0..4 {
        ok(&mut s, &route(&format!("172.16.{k}.0/24"), "&Blackhole=true"));
    }
    let every = "&Filter.1.Name=type&Filter.1.Value.1=static&Filter.1.Value.2=propagated";
    let page = search(&mut s, &table, &format!("{every}&MaxResults=5"));
    assert_eq!(destinations(&page).len(), 5, "{page}");
    assert!(page.contains("<additionalRoutesAvailable>true</additionalRoutesAvailable>"));
    let token = first(&page, "nextToken");
    let rest = search(&mut s, &table, &format!("{every}&MaxResults=5&NextToken={token}"));
    assert_eq!(destinations(&rest).len(), 2, "{rest}");
    assert!(rest.contains("<additionalRoutesAvailable>false</additionalRoutesAvailable>"));

    // Without the static route, B's propagated one shows again.
    let deleted = ok(
        &mut s,
        &format!(
            "Action=DeleteTransitGatewayRoute&TransitGatewayRouteTableId={table}\
             &DestinationCidrBlock=10.2.0.0%2F16"
        ),
    );
    assert!(deleted.contains("<type>static</type><state>deleted</state>"), "{deleted}");
    let exact = search(
        &mut s,
        &table,
        "&Filter.1.Name=route-search.exact-match&Filter.1.Value.1=10.2.0.0%2F16",
    );
    assert!(exact.contains(&format!("<transitGatewayAttachmentId>{b}<")), "{exact}");
    assert!(exact.contains("<type>propagated</type>"), "{exact}");
    let replaced = ok(
        &mut s,
        &format!(
            "Action=ReplaceTransitGatewayRoute&TransitGatewayRouteTableId={table}\
             &DestinationCidrBlock=10.2.5.0%2F24&TransitGatewayAttachmentId={b}"
        ),
    );
    assert!(replaced.contains("<type>static</type><state>active</state>"), "{replaced}");

    // A static route to an attachment that is gone leads nowhere.
    ok(&mut s, &format!("Action=DeleteTransitGatewayVpcAttachment&TransitGatewayAttachmentId={b}"));
    let orphan = search(
        &mut s,
        &table,
        "&Filter.1.Name=route-search.exact-match&Filter.1.Value.1=10.2.5.0%2F24",
    );
    assert!(orphan.contains("<state>blackhole</state>"), "{orphan}");
}

#[test]
fn associations_and_propagations_move_between_tables() {
    let mut s = Service::new(Model::new(14), None, None, 14);
    let (tgw, default) = gateway(&mut s);
    let (vpc, subnets) = new_vpc(&mut s, 1, &["us-east-1a"]);
    let attachment = attach(&mut s, &tgw, &vpc, &subnets);
    let made = ok(
        &mut s,
        &format!(
            "Action=CreateTransitGatewayRouteTable&TransitGatewayId={tgw}\
             &TagSpecifications.1.ResourceType=transit-gateway-route-table\
             &TagSpecifications.1.Tag.1.Key=Name&TagSpecifications.1.Tag.1.Value=inspection"
        ),
    );
    let table = first(&made, "transitGatewayRouteTableId");
    assert!(made.contains("<defaultAssociationRouteTable>false</defaultAssociationRouteTable>"));
    assert!(made.contains("<value>inspection</value>"), "{made}");
    let call = |action: &str, table: &str| {
        format!(
            "Action={action}&TransitGatewayRouteTableId={table}\
             &TransitGatewayAttachmentId={attachment}"
        )
    };

    assert_eq!(
        code(&mut s, &call("AssociateTransitGatewayRouteTable", &table)),
        "Resource.AlreadyAssociated"
    );
    let gone = ok(&mut s, &call("DisassociateTransitGatewayRouteTable", &default));
    assert!(gone.contains("<state>disassociating</state>"), "{gone}");
    assert!(gone.contains(&format!("<resourceId>{vpc}</resourceId>")), "{gone}");
    let moved = ok(&mut s, &call("AssociateTransitGatewayRouteTable", &table));
    assert!(
        moved.contains(&format!(
            "<association><transitGatewayRouteTableId>{table}</transitGatewayRouteTableId>\
             <transitGatewayAttachmentId>{attachment}</transitGatewayAttachmentId>"
        )),
        "{moved}"
    );
    assert!(moved.contains("<state>associating</state>"), "{moved}");
    let filtered = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayAttachments\
             &Filter.1.Name=association.transit-gateway-route-table-id&Filter.1.Value.1={table}"
        ),
    );
    assert_eq!(all(&filtered, "<transitGatewayAttachmentId>", "<"), vec![attachment.as_str()]);

    let enabled = ok(&mut s, &call("EnableTransitGatewayRouteTablePropagation", &table));
    assert!(enabled.contains("<propagation><transitGatewayAttachmentId>"), "{enabled}");
    assert!(enabled.contains("<state>enabling</state>"), "{enabled}");
    assert_eq!(
        code(&mut s, &call("EnableTransitGatewayRouteTablePropagation", &table)),
        "TransitGatewayRouteTablePropagation.Duplicate"
    );
    let disabled = ok(&mut s, &call("DisableTransitGatewayRouteTablePropagation", &default));
    assert!(disabled.contains("<state>disabling</state>"), "{disabled}");
    assert_eq!(
        code(&mut s, &call("DisableTransitGatewayRouteTablePropagation", &default)),
        "TransitGatewayRouteTablePropagation.NotFound"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "{}&TransitGatewayRouteTableAnnouncementId=tgw-rtb-ann-0123",
                call("EnableTransitGatewayRouteTablePropagation", &default)
            )
        ),
        "InvalidParameterValue"
    );

    // Neither the default table nor one with associations can go.
    let delete = |table: &str| {
        format!("Action=DeleteTransitGatewayRouteTable&TransitGatewayRouteTableId={table}")
    };
    assert_eq!(code(&mut s, &delete(&default)), "IncorrectState");
    assert_eq!(code(&mut s, &delete(&table)), "IncorrectState");
    ok(&mut s, &call("DisassociateTransitGatewayRouteTable", &table));
    let deleted = ok(&mut s, &delete(&table));
    assert!(deleted.contains("<state>deleting</state>"), "{deleted}");
    let listed = ok(
        &mut s,
        &format!("Action=DescribeTransitGatewayRouteTables&TransitGatewayRouteTableIds.1={table}"),
    );
    assert!(listed.contains("<state>deleted</state>"), "{listed}");
    assert_eq!(code(&mut s, &delete(&table)), "IncorrectState");
    assert_eq!(
        code(&mut s, &call("AssociateTransitGatewayRouteTable", &table)),
        "InvalidRouteTableID.NotFound"
    );
    assert_eq!(
        code(&mut s, &call("AssociateTransitGatewayRouteTable", "tgw-rtb-nothex")),
        "InvalidRouteTableId.Malformed"
    );
}

#[test]
fn a_gateway_holds_on_to_the_vpcs_it_attaches() {
    let mut s = Service::new(Model::new(15), None, None, 15);
    let (tgw, _) = gateway(&mut s);
    let (vpc, subnets) = new_vpc(&mut s, 1, &["us-east-1a"]);
    let main = ok(
        &mut s,
        &format!("Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    let rtb = first(&main, "routeTableId");
    let to_tgw = format!(
        "Action=CreateRoute&RouteTableId={rtb}&DestinationCidrBlock=10.0.0.0%2F8\
         &TransitGatewayId={tgw}"
    );
    // Not attached yet: the gateway is not there for this VPC.
    assert_eq!(code(&mut s, &to_tgw), "InvalidTransitGatewayID.NotFound");
    let attachment = attach(&mut s, &tgw, &vpc, &subnets);
    ok(&mut s, &to_tgw);
    let routes = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={rtb}"));
    assert!(
        routes.contains(&format!(
            "<destinationCidrBlock>10.0.0.0/8</destinationCidrBlock>\
             <transitGatewayId>{tgw}</transitGatewayId><state>active</state>"
        )),
        "{routes}"
    );

    let delete_tgw = format!("Action=DeleteTransitGateway&TransitGatewayId={tgw}");
    assert_eq!(code(&mut s, &delete_tgw), "IncorrectState");
    assert_eq!(code(&mut s, &format!("Action=DeleteVpc&VpcId={vpc}")), "DependencyViolation");
    assert_eq!(
        code(&mut s, &format!("Action=DeleteSubnet&SubnetId={}", subnets[0])),
        "DependencyViolation"
    );

    let detached = ok(
        &mut s,
        &format!(
            "Action=DeleteTransitGatewayVpcAttachment&TransitGatewayAttachmentId={attachment}"
        ),
    );
    assert!(detached.contains("<state>deleting</state>"), "{detached}");
    let listed = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayVpcAttachments&TransitGatewayAttachmentIds.1={attachment}"
        ),
    );
    assert!(listed.contains("<state>deleted</state>"), "listed, deleted: {listed}");
    let routes = ok(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={rtb}"));
    assert!(
        routes.contains(&format!("<transitGatewayId>{tgw}</transitGatewayId><state>blackhole")),
        "{routes}"
    );
    let gone = ok(&mut s, &delete_tgw);
    assert!(gone.contains("<state>deleting</state>"), "{gone}");
    let listed = ok(&mut s, &format!("Action=DescribeTransitGateways&TransitGatewayIds.1={tgw}"));
    assert!(listed.contains("<state>deleted</state>"), "{listed}");
    let tables = ok(&mut s, "Action=DescribeTransitGatewayRouteTables");
    assert_eq!(all(&tables, "<state>", "<"), vec!["deleted"], "its default table went: {tables}");
    assert_eq!(
        code(
            &mut s,
            "Action=DeleteTransitGatewayVpcAttachment&TransitGatewayAttachmentId=tgw-attach-xyz"
        ),
        "InvalidTransitGatewayAttachmentID.Malformed"
    );
}

/// Asks for a peering between `tgw` and `peer` (this account and Region): the reply.
fn request_peering(s: &mut Service, tgw: &str, peer: &str, extra: &str) -> String {
    ok(
        s,
        &format!(
            "Action=CreateTransitGatewayPeeringAttachment&TransitGatewayId={tgw}\
             &PeerTransitGatewayId={peer}&PeerAccountId=123456789012&PeerRegion=us-east-1{extra}"
        ),
    )
}

/// The ids of the attachments a reply lists.
fn attachment_ids(body: &str) -> Vec<&str> {
    all(body, "<transitGatewayAttachmentId>", "</transitGatewayAttachmentId>")
}

#[test]
fn a_peering_joins_two_gateways_once_accepted() {
    let mut s = Service::new(Model::new(16), None, None, 16);
    let (a, table_a) = gateway(&mut s);
    let (b, table_b) = gateway(&mut s);
    let made = request_peering(
        &mut s,
        &a,
        &b,
        "&Options.DynamicRouting=disable\
         &TagSpecification.1.ResourceType=transit-gateway-attachment\
         &TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=east-west",
    );
    let peering = first(&made, "transitGatewayAttachmentId");
    assert!(peering.starts_with("tgw-attach-"), "{made}");
    for expected in [
        format!(
            "<requesterTgwInfo><transitGatewayId>{a}</transitGatewayId>\
             <ownerId>123456789012</ownerId><region>us-east-1</region></requesterTgwInfo>"
        ),
        format!(
            "<accepterTgwInfo><transitGatewayId>{b}</transitGatewayId>\
             <ownerId>123456789012</ownerId><region>us-east-1</region></accepterTgwInfo>"
        ),
        "<options><dynamicRouting>disable</dynamicRouting></options>".to_owned(),
        "<status><code>initiatingRequest</code>".to_owned(),
        "<state>initiatingRequest</state>".to_owned(),
        "<tagSet><item><key>Name</key><value>east-west</value></item></tagSet>".to_owned(),
    ] {
        assert!(made.contains(&expected), "{expected} in {made}");
    }
    let described = ok(&mut s, "Action=DescribeTransitGatewayPeeringAttachments");
    assert!(described.contains("<transitGatewayPeeringAttachments><item>"), "{described}");
    assert!(
        described.contains(
            "<status><code>pendingAcceptance</code>\
             <message>Pending Acceptance by 123456789012</message></status>\
             <state>pendingAcceptance</state>"
        ),
        "{described}"
    );
    let any_kind = ok(&mut s, "Action=DescribeTransitGatewayAttachments");
    assert!(
        any_kind.contains(&format!(
            "<transitGatewayId>{a}</transitGatewayId>\
             <transitGatewayOwnerId>123456789012</transitGatewayOwnerId>\
             <resourceOwnerId>123456789012</resourceOwnerId><resourceType>peering</resourceType>\
             <resourceId>{b}</resourceId><state>pendingAcceptance</state>"
        )),
        "{any_kind}"
    );
    let vpc_ones = ok(&mut s, "Action=DescribeTransitGatewayVpcAttachments");
    assert!(vpc_ones.contains("<transitGatewayVpcAttachments/>"), "{vpc_ones}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=DescribeTransitGatewayVpcAttachments&TransitGatewayAttachmentIds.1={peering}"
            )
        ),
        "InvalidTransitGatewayAttachmentID.NotFound"
    );

    // Nothing goes through it before the accepter answers.
    let associate = |table: &str| {
        format!(
            "Action=AssociateTransitGatewayRouteTable&TransitGatewayRouteTableId={table}\
             &TransitGatewayAttachmentId={peering}"
        )
    };
    assert_eq!(code(&mut s, &associate(&table_b)), "IncorrectState");
    let accepted = ok(
        &mut s,
        &format!(
            "Action=AcceptTransitGatewayPeeringAttachment&TransitGatewayAttachmentId={peering}"
        ),
    );
    assert!(accepted.contains("<state>pending</state>"), "{accepted}");
    assert!(accepted.contains("<transitGatewayPeeringAttachment>"), "{accepted}");
    let described = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayPeeringAttachments&TransitGatewayAttachmentIds.1={peering}"
        ),
    );
    assert!(described.contains("<state>available</state>"), "{described}");
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=AcceptTransitGatewayPeeringAttachment&TransitGatewayAttachmentId={peering}"
            )
        ),
        "IncorrectState"
    );

    // Each side is associated with its own default table, and sees the other gateway.
    for (table, other) in [(&table_a, &b), (&table_b, &a)] {
        let associations = ok(
            &mut s,
            &format!(
                "Action=GetTransitGatewayRouteTableAssociations\
                 &TransitGatewayRouteTableId={table}"
            ),
        );
        assert!(
            associations.contains(&format!(
                "<associations><item><transitGatewayAttachmentId>{peering}\
                 </transitGatewayAttachmentId><resourceId>{other}</resourceId>\
                 <resourceType>peering</resourceType><state>associated</state></item>\
                 </associations>"
            )),
            "{associations}"
        );
    }
    assert_eq!(code(&mut s, &associate(&table_b)), "Resource.AlreadyAssociated");
    let any_kind = ok(&mut s, "Action=DescribeTransitGatewayAttachments");
    assert!(
        any_kind.contains(&format!(
            "<state>available</state><association><transitGatewayRouteTableId>{table_a}\
             </transitGatewayRouteTableId><state>associated</state></association>"
        )),
        "{any_kind}"
    );

    // Static routes lead through it, each way; nothing propagates through it.
    for (table, destination) in [(&table_a, "10.2.0.0%2F16"), (&table_b, "10.1.0.0%2F16")] {
        let route = ok(
            &mut s,
            &format!(
                "Action=CreateTransitGatewayRoute&TransitGatewayRouteTableId={table}\
                 &DestinationCidrBlock={destination}&TransitGatewayAttachmentId={peering}"
            ),
        );
        assert!(route.contains("<type>static</type><state>active</state>"), "{route}");
        assert!(route.contains("<resourceType>peering</resourceType>"), "{route}");
    }
    let found = search(
        &mut s,
        &table_b,
        "&Filter.1.Name=attachment.resource-type&Filter.1.Value.1=peering",
    );
    assert!(
        found.contains(&format!(
            "<destinationCidrBlock>10.1.0.0/16</destinationCidrBlock><transitGatewayAttachments>\
             <item><transitGatewayAttachmentId>{peering}</transitGatewayAttachmentId>\
             <resourceId>{a}</resourceId><resourceType>peering</resourceType></item>\
             </transitGatewayAttachments><type>static</type><state>active</state>"
        )),
        "{found}"
    );
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=EnableTransitGatewayRouteTablePropagation\
                 &TransitGatewayRouteTableId={table_a}&TransitGatewayAttachmentId={peering}"
            )
        ),
        "InvalidParameterValue"
    );

    // One peering per pair of gateways, either way round; none with itself; static only.
    for (from, to) in [(&a, &b), (&b, &a)] {
        assert_eq!(
            code(
                &mut s,
                &format!(
                    "Action=CreateTransitGatewayPeeringAttachment&TransitGatewayId={from}\
                     &PeerTransitGatewayId={to}&PeerAccountId=123456789012&PeerRegion=us-east-1"
                )
            ),
            "DuplicateTransitGatewayAttachment"
        );
    }
    let (c, _) = gateway(&mut s);
    for bad in [
        format!("TransitGatewayId={c}&PeerTransitGatewayId={c}"),
        format!("TransitGatewayId={c}&PeerTransitGatewayId={a}&Options.DynamicRouting=enable"),
    ] {
        assert_eq!(
            code(
                &mut s,
                &format!(
                    "Action=CreateTransitGatewayPeeringAttachment&{bad}\
                     &PeerAccountId=123456789012&PeerRegion=us-east-1"
                )
            ),
            "InvalidParameterValue",
            "{bad}"
        );
    }

    // Found from either side, by owner, state and tag.
    for filter in [
        format!("transit-gateway-id&Filter.1.Value.1={a}"),
        format!("transit-gateway-id&Filter.1.Value.1={b}"),
        "remote-owner-id&Filter.1.Value.1=123456789012".to_owned(),
        "state&Filter.1.Value.1=available".to_owned(),
        "tag:Name&Filter.1.Value.1=east-west".to_owned(),
    ] {
        let found = ok(
            &mut s,
            &format!("Action=DescribeTransitGatewayPeeringAttachments&Filter.1.Name={filter}"),
        );
        assert_eq!(attachment_ids(&found), vec![peering.as_str()], "{filter}: {found}");
    }
    let none = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayPeeringAttachments&Filter.1.Name=transit-gateway-id\
             &Filter.1.Value.1={c}"
        ),
    );
    assert!(none.contains("<transitGatewayPeeringAttachments/>"), "{none}");

    // The VPC attachment actions do not know it; its gateways cannot go while it is there.
    for action in ["ModifyTransitGatewayVpcAttachment", "DeleteTransitGatewayVpcAttachment"] {
        assert_eq!(
            code(&mut s, &format!("Action={action}&TransitGatewayAttachmentId={peering}")),
            "InvalidTransitGatewayAttachmentID.NotFound",
            "{action}"
        );
    }
    for gone in [&a, &b] {
        assert_eq!(
            code(&mut s, &format!("Action=DeleteTransitGateway&TransitGatewayId={gone}")),
            "IncorrectState"
        );
    }

    // Deleted, its routes lead nowhere and its associations go; then so can the gateways.
    let deleted = ok(
        &mut s,
        &format!(
            "Action=DeleteTransitGatewayPeeringAttachment&TransitGatewayAttachmentId={peering}"
        ),
    );
    assert!(deleted.contains("<state>deleting</state>"), "{deleted}");
    for table in [&table_a, &table_b] {
        let holes = search(&mut s, table, "&Filter.1.Name=state&Filter.1.Value.1=blackhole");
        assert_eq!(destinations(&holes).len(), 1, "{holes}");
        assert!(!holes.contains("transitGatewayAttachments"), "{holes}");
        let associations = ok(
            &mut s,
            &format!(
                "Action=GetTransitGatewayRouteTableAssociations\
                 &TransitGatewayRouteTableId={table}"
            ),
        );
        assert!(associations.contains("<associations/>"), "{associations}");
    }
    // Listed, deleted, from either side.
    let listed = ok(
        &mut s,
        &format!(
            "Action=DescribeTransitGatewayPeeringAttachments\
             &TransitGatewayAttachmentIds.1={peering}"
        ),
    );
    assert!(
        listed.contains(
            "<status><code>deleted</code><message>Deleted</message></status>\
             <state>deleted</state>"
        ),
        "{listed}"
    );
    ok(&mut s, &format!("Action=DeleteTransitGateway&TransitGatewayId={b}"));
}

#[test]
fn a_rejected_peering_carries_nothing_and_can_be_asked_again() {
    let mut s = Service::new(Model::new(17), None, None, 17);
    let (a, _) = gateway(&mut s);
    let (b, table_b) = gateway(&mut s);
    let peering = first(&request_peering(&mut s, &a, &b, ""), "transitGatewayAttachmentId");
    let answer = |action: &str, id: &str| {
        format!("Action={action}TransitGatewayPeeringAttachment&TransitGatewayAttachmentId={id}")
    };
    let rejected = ok(&mut s, &answer("Reject", &peering));
    assert!(rejected.contains("<state>rejecting</state>"), "{rejected}");
    let described = ok(
        &mut s,
        "Action=DescribeTransitGatewayPeeringAttachments&Filter.1.Name=state\
         &Filter.1.Value.1=rejected",
    );
    assert_eq!(attachment_ids(&described), vec![peering.as_str()], "{described}");
    assert!(described.contains("<status><code>rejected</code>"), "{described}");
    // Rejected, it is listed and nothing else: no answer, no deletion, no association,
    // no route leads to it.
    for action in ["Accept", "Reject", "Delete"] {
        assert_eq!(code(&mut s, &answer(action, &peering)), "IncorrectState", "{action}");
    }
    for call in [
        format!(
            "Action=AssociateTransitGatewayRouteTable&TransitGatewayRouteTableId={table_b}\
             &TransitGatewayAttachmentId={peering}"
        ),
        format!(
            "Action=CreateTransitGatewayRoute&TransitGatewayRouteTableId={table_b}\
             &DestinationCidrBlock=10.1.0.0%2F16&TransitGatewayAttachmentId={peering}"
        ),
    ] {
        assert_eq!(code(&mut s, &call), "InvalidTransitGatewayAttachmentID.NotFound", "{call}");
    }
    let any_kind = ok(&mut s, "Action=DescribeTransitGatewayAttachments");
    assert!(any_kind.contains("<state>rejected</state>"), "{any_kind}");

    // A rejected request does not stand in the way of another.
    let again = first(&request_peering(&mut s, &b, &a, ""), "transitGatewayAttachmentId");
    assert_ne!(again, peering);

    // The peering actions do not know VPC attachments.
    let (vpc, subnets) = new_vpc(&mut s, 1, &["us-east-1a"]);
    let attachment = attach(&mut s, &a, &vpc, &subnets);
    for action in ["Accept", "Reject", "Delete"] {
        assert_eq!(
            code(&mut s, &answer(action, &attachment)),
            "InvalidTransitGatewayAttachmentID.NotFound",
            "{action}"
        );
    }
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=DescribeTransitGatewayPeeringAttachments\
                 &TransitGatewayAttachmentIds.1={attachment}"
            )
        ),
        "InvalidTransitGatewayAttachmentID.NotFound"
    );
    // This action spells its tag list in the singular.
    assert_eq!(
        code(
            &mut s,
            &format!(
                "Action=CreateTransitGatewayPeeringAttachment&TransitGatewayId={a}\
                 &PeerTransitGatewayId={b}&PeerAccountId=123456789012&PeerRegion=us-east-1\
                 &TagSpecifications.1.ResourceType=transit-gateway-attachment"
            )
        ),
        "UnknownParameter"
    );
    let deleted = ok(&mut s, &answer("Delete", &again));
    assert!(deleted.contains("<state>deleting</state>"), "{deleted}");
    let left = ok(&mut s, "Action=DescribeTransitGatewayPeeringAttachments");
    let mut both = vec![peering.as_str(), again.as_str()];
    both.sort();
    assert_eq!(attachment_ids(&left), both, "{left}");
    assert!(left.contains("<state>deleted</state>"), "{left}");
    assert!(left.contains("<state>rejected</state>"), "{left}");
}

#[test]
fn a_default_table_goes_with_its_option() {
    let mut s = Service::new(Model::new(11), None, None, 11);
    // Association off at creation: only the propagation default is named.
    let made =
        ok(&mut s, "Action=CreateTransitGateway&Options.DefaultRouteTableAssociation=disable");
    assert!(!made.contains("<associationDefaultRouteTableId>"), "{made}");
    assert!(made.contains("<propagationDefaultRouteTableId>tgw-rtb-"), "{made}");

    let made = ok(&mut s, "Action=CreateTransitGateway");
    let tgw = first(&made, "transitGatewayId");
    let table = first(&made, "associationDefaultRouteTableId");
    let disable_with_id = format!(
        "Action=ModifyTransitGateway&TransitGatewayId={tgw}\
         &Options.DefaultRouteTableAssociation=disable&Options.AssociationDefaultRouteTableId={table}"
    );
    assert_eq!(code(&mut s, &disable_with_id), "InvalidParameterCombination");
    let delete =
        format!("Action=DeleteTransitGatewayRouteTable&TransitGatewayRouteTableId={table}");
    assert_eq!(code(&mut s, &delete), "IncorrectState", "still the default");
    ok(
        &mut s,
        &format!(
            "Action=ModifyTransitGateway&TransitGatewayId={tgw}\
             &Options.DefaultRouteTableAssociation=disable\
             &Options.DefaultRouteTablePropagation=disable"
        ),
    );
    let described =
        ok(&mut s, &format!("Action=DescribeTransitGateways&TransitGatewayIds.1={tgw}"));
    assert!(!described.contains("DefaultRouteTableId>"), "no default any more: {described}");
    ok(&mut s, &delete);
}

#[test]
fn deleted_and_rejected_objects_stay_listed_for_two_hours() {
    const TWO_HOURS: u64 = 2 * 3600;
    let mut s = Service::new(Model::new(18), None, None, 18).with_transition_seconds(30);
    // A call at `NOW + dt`: its status and body.
    let at = |s: &mut Service, dt: u64, body: &str| {
        let r = s.handle(body.as_bytes(), NOW + dt);
        (r.status, r.body)
    };
    let state_at = |s: &mut Service, dt: u64, body: &str| {
        let (status, text) = at(s, dt, body);
        assert_eq!(status, 200, "{body}: {text}");
        all(&text, "<state>", "</state>").into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let (tgw, default) = gateway(&mut s);
    let (vpc, subnets) = new_vpc(&mut s, 1, &["us-east-1a"]);
    let attachment = attach(&mut s, &tgw, &vpc, &subnets);
    let made = ok(&mut s, &format!("Action=CreateTransitGatewayRouteTable&TransitGatewayId={tgw}"));
    let table = first(&made, "transitGatewayRouteTableId");

    // An attachment: `deleting` in the reply and for the transition time, then
    // `deleted`, asked for by id or not, found by its state, without its association.
    let delete_attachment =
        format!("Action=DeleteTransitGatewayVpcAttachment&TransitGatewayAttachmentId={attachment}");
    let (status, reply) = at(&mut s, 100, &delete_attachment);
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("<state>deleting</state>"), "{reply}");
    let by_id = format!(
        "Action=DescribeTransitGatewayVpcAttachments&TransitGatewayAttachmentIds.1={attachment}"
    );
    assert_eq!(state_at(&mut s, 129, &by_id), ["deleting"]);
    assert_eq!(state_at(&mut s, 130, &by_id), ["deleted"]);
    let (_, again) = at(&mut s, 110, &delete_attachment);
    assert!(again.contains("<Code>IncorrectState</Code>"), "{again}");
    assert!(again.contains("is in state deleting"), "{again}");
    let every_kind = "Action=DescribeTransitGatewayAttachments";
    let (_, listed) = at(&mut s, 130, every_kind);
    assert!(listed.contains("<state>deleted</state><creationTime>"), "no association: {listed}");
    for (state, found) in [("deleted", vec![attachment.as_str()]), ("available", vec![])] {
        let filtered = format!(
            "Action=DescribeTransitGatewayVpcAttachments&Filter.1.Name=state\
             &Filter.1.Value.1={state}"
        );
        let (_, text) = at(&mut s, 130, &filtered);
        assert_eq!(attachment_ids(&text), found, "{state}: {text}");
    }
    // Gone for everything else: the VPC attaches anew, under a new id.
    let (status, text) = at(
        &mut s,
        140,
        &format!(
            "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={vpc}\
             &SubnetIds.1={}",
            subnets[0]
        ),
    );
    assert_eq!(status, 200, "{text}");
    let anew = first(&text, "transitGatewayAttachmentId");
    assert_ne!(anew, attachment);
    let delete_anew =
        format!("Action=DeleteTransitGatewayVpcAttachment&TransitGatewayAttachmentId={anew}");
    assert_eq!(at(&mut s, 150, &delete_anew).0, 200);

    // A route table likewise.
    let delete_table =
        format!("Action=DeleteTransitGatewayRouteTable&TransitGatewayRouteTableId={table}");
    let (_, reply) = at(&mut s, 100, &delete_table);
    assert!(reply.contains("<state>deleting</state>"), "{reply}");
    let table_by_id =
        format!("Action=DescribeTransitGatewayRouteTables&TransitGatewayRouteTableIds.1={table}");
    assert_eq!(state_at(&mut s, 110, &table_by_id), ["deleting"]);
    assert_eq!(state_at(&mut s, 130, &table_by_id), ["deleted"]);
    let (_, again) = at(&mut s, 130, &delete_table);
    assert!(again.contains("<Code>IncorrectState</Code>"), "{again}");

    // The gateway, and its default table with it.
    let delete_tgw = format!("Action=DeleteTransitGateway&TransitGatewayId={tgw}");
    let (status, reply) = at(&mut s, 200, &delete_tgw);
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("<state>deleting</state>"), "{reply}");
    let tgw_by_id = format!("Action=DescribeTransitGateways&TransitGatewayIds.1={tgw}");
    assert_eq!(state_at(&mut s, 210, &tgw_by_id), ["deleting"]);
    assert_eq!(state_at(&mut s, 230, &tgw_by_id), ["deleted"]);
    let deleted_ones =
        "Action=DescribeTransitGateways&Filter.1.Name=state&Filter.1.Value.1=deleted";
    let (_, text) = at(&mut s, 230, deleted_ones);
    assert_eq!(all(&text, "<transitGatewayId>", "</transitGatewayId>"), [tgw.as_str()]);
    let default_by_id =
        format!("Action=DescribeTransitGatewayRouteTables&TransitGatewayRouteTableIds.1={default}");
    assert_eq!(state_at(&mut s, 230, &default_by_id), ["deleted"]);
    let (_, again) = at(&mut s, 230, &delete_tgw);
    assert!(again.contains("<Code>IncorrectState</Code>"), "{again}");
    let (_, attach_to_it) = at(
        &mut s,
        230,
        &format!(
            "Action=CreateTransitGatewayVpcAttachment&TransitGatewayId={tgw}&VpcId={vpc}\
             &SubnetIds.1={}",
            subnets[0]
        ),
    );
    assert!(attach_to_it.contains("InvalidTransitGatewayID.NotFound"), "{attach_to_it}");

    // A rejected peering: `rejecting`, then `rejected`.
    let (east, _) = gateway(&mut s);
    let (west, _) = gateway(&mut s);
    let peering = first(&request_peering(&mut s, &east, &west, ""), "transitGatewayAttachmentId");
    let (_, reply) = at(
        &mut s,
        300,
        &format!(
            "Action=RejectTransitGatewayPeeringAttachment&TransitGatewayAttachmentId={peering}"
        ),
    );
    assert!(reply.contains("<state>rejecting</state>"), "{reply}");
    let peering_by_id = format!(
        "Action=DescribeTransitGatewayPeeringAttachments&TransitGatewayAttachmentIds.1={peering}"
    );
    assert_eq!(state_at(&mut s, 310, &peering_by_id), ["rejecting"]);
    assert_eq!(state_at(&mut s, 330, &peering_by_id), ["rejected"]);

    // Two hours on, each is forgotten: not found by id, not listed.
    for (gone_at, by_id, code) in [
        (100, &by_id, "InvalidTransitGatewayAttachmentID.NotFound"),
        (100, &table_by_id, "InvalidRouteTableID.NotFound"),
        (200, &tgw_by_id, "InvalidTransitGatewayID.NotFound"),
        (300, &peering_by_id, "InvalidTransitGatewayAttachmentID.NotFound"),
    ] {
        assert_eq!(state_at(&mut s, gone_at + TWO_HOURS - 1, by_id).len(), 1, "{by_id}");
        let (status, text) = at(&mut s, gone_at + TWO_HOURS, by_id);
        assert_eq!(status, 400, "{by_id}: {text}");
        assert!(text.contains(code), "{by_id}: {text}");
    }
    let (_, text) = at(&mut s, 300 + TWO_HOURS, every_kind);
    assert!(text.contains("<transitGatewayAttachments/>"), "{text}");
    let (_, text) = at(&mut s, 300 + TWO_HOURS, "Action=DescribeTransitGateways");
    assert_eq!(all(&text, "<state>", "</state>"), ["available", "available"], "{text}");
}
