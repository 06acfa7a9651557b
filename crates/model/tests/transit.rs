//! Transit gateway rules of the model that no packet test shows: what a table holds,
//! and the lives of default tables and peering attachments.

use vpclab_model::{Model, Tags, TgwOptions, TgwRouteType, VpcAttachmentOptions};

fn vpc_attached(m: &mut Model, tgw: &vpclab_model::TransitGatewayId, cidr: &str) {
    let vpc = m.create_vpc(cidr.parse().unwrap(), Tags::new()).unwrap();
    let block: ipnet::Ipv4Net = cidr.parse().unwrap();
    let subnet = m.create_subnet(&vpc, block, Some("us-east-1a"), Tags::new()).unwrap();
    let options = VpcAttachmentOptions::default();
    m.create_tgw_vpc_attachment(tgw, &vpc, &[subnet], options, Tags::new(), 0).unwrap();
}

#[test]
fn an_overlapping_vpc_cidr_is_not_propagated_after_the_first() {
    let mut m = Model::new(1);
    let tgw =
        m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0).unwrap();
    vpc_attached(&mut m, &tgw, "10.0.0.0/16");
    vpc_attached(&mut m, &tgw, "10.0.0.0/24");
    vpc_attached(&mut m, &tgw, "10.1.0.0/16");
    let table = m.transit_gateway(&tgw).unwrap().options.propagation_default_route_table.clone();
    let table = m.tgw_route_table(&table.unwrap()).unwrap();
    let routes: Vec<String> =
        m.tgw_routes(table).iter().map(|r| r.destination.to_string()).collect();
    assert_eq!(routes, ["10.0.0.0/16", "10.1.0.0/16"], "the /24 inside the first /16 is left out");
    assert!(m.tgw_routes(table).iter().all(|r| r.kind == TgwRouteType::Propagated));
}

#[test]
fn defaults_follow_their_options_and_peerings_answer_once() {
    let mut m = Model::new(2);
    let options = TgwOptions { default_route_table_association: false, ..TgwOptions::default() };
    let east = m.create_transit_gateway(String::new(), options, Tags::new(), 0).unwrap();
    let o = &m.transit_gateway(&east).unwrap().options;
    assert!(
        o.association_default_route_table.is_none() && o.propagation_default_route_table.is_some()
    );
    let west =
        m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0).unwrap();
    let label = || ("123456789012".to_owned(), "us-east-1".to_owned());
    let (account, region) = label();
    let peering =
        m.create_tgw_peering_attachment(&east, &west, account, region, Tags::new(), 0).unwrap();
    let (account, region) = label();
    let twice = m.create_tgw_peering_attachment(&west, &east, account, region, Tags::new(), 0);
    assert_eq!(twice.unwrap_err().code, "DuplicateTransitGatewayAttachment", "either way round");
    m.answer_tgw_peering(&peering, true).unwrap();
    assert_eq!(m.answer_tgw_peering(&peering, false).unwrap_err().code, "IncorrectState");
    let a = m.tgw_attachment(&peering).unwrap();
    assert_eq!(a.association_in(&east), None, "east associates nothing by default");
    let west_default =
        m.transit_gateway(&west).unwrap().options.association_default_route_table.clone();
    assert_eq!(a.association_in(&west), west_default.as_ref(), "west does");
    assert_eq!(m.delete_transit_gateway(&west, 0).unwrap_err().code, "IncorrectState");
    m.delete_tgw_attachment(&peering).unwrap();
    m.delete_transit_gateway(&west, 0).unwrap();
}

#[test]
fn a_rejected_peering_does_not_hold_its_gateways_back() {
    let mut m = Model::new(3);
    let new = |m: &mut Model| {
        m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0).unwrap()
    };
    let (east, west) = (new(&mut m), new(&mut m));
    let (account, region) = ("123456789012".to_owned(), "us-east-1".to_owned());
    let peering =
        m.create_tgw_peering_attachment(&east, &west, account, region, Tags::new(), 0).unwrap();
    m.answer_tgw_peering_at(&peering, false, 100).unwrap();
    assert!(m.tgw_attachment(&peering).is_err(), "rejected, it is gone");
    let (rejected, at) = m.deleted_tgw_attachment(&peering, 100).unwrap();
    assert_eq!((rejected.end_states(), at), (("rejecting", "rejected"), 100));
    m.delete_transit_gateway(&east, 200).unwrap();
    m.delete_transit_gateway(&west, 200).unwrap();
    assert!(m.deleted_tgw_attachment(&peering, 200).is_some(), "listed still");
}

#[test]
fn deleted_objects_are_listed_two_hours_and_nothing_else() {
    let mut m = Model::new(4);
    let tgw =
        m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0).unwrap();
    let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let subnet =
        m.create_subnet(&vpc, "10.0.0.0/24".parse().unwrap(), Some("us-east-1a"), Tags::new());
    let subnets = [subnet.unwrap()];
    let options = VpcAttachmentOptions::default();
    let attach = |m: &mut Model| {
        m.create_tgw_vpc_attachment(&tgw, &vpc, &subnets, options, Tags::new(), 0).unwrap()
    };
    let first = attach(&mut m);
    let table = m.create_tgw_route_table(&tgw, Tags::new(), 0).unwrap();
    m.delete_tgw_attachment_at(&first, 1000).unwrap();
    m.delete_tgw_route_table(&table, 1000).unwrap();

    // Gone for everything but the listing: not found, propagating nothing, blocking
    // neither a new attachment of the VPC nor the VPC's deletion.
    assert!(m.tgw_attachment(&first).is_err() && m.tgw_route_table(&table).is_err());
    assert_eq!(
        m.delete_tgw_attachment_at(&first, 1001).unwrap_err().code,
        "InvalidTransitGatewayAttachmentID.NotFound"
    );
    let default = m.transit_gateway(&tgw).unwrap().options.propagation_default_route_table.clone();
    assert!(m.tgw_routes(m.tgw_route_table(&default.unwrap()).unwrap()).is_empty());
    let (gone, at) = m.deleted_tgw_attachment(&first, 1000 + 7199).unwrap();
    assert_eq!((gone.end_states().1, at, gone.association.as_ref()), ("deleted", 1000, None));
    assert!(m.deleted_tgw_route_table(&table, 1000 + 7199).is_some());
    assert!(m.deleted_tgw_attachment(&first, 1000 + 7200).is_none(), "two hours, no more");
    assert_eq!(m.deleted_tgw_route_tables(1000 + 7200).count(), 0);
    let second = attach(&mut m);
    assert_ne!(second, first, "ids are not handed out again");

    // The gateway takes its default table with it; both are listed.
    m.delete_tgw_attachment_at(&second, 2000).unwrap();
    m.delete_subnet(&subnets[0]).unwrap();
    m.delete_vpc(&vpc).unwrap();
    m.delete_transit_gateway(&tgw, 3000).unwrap();
    assert_eq!(m.transit_gateways().count() + m.tgw_route_tables().count(), 0);
    assert_eq!(m.deleted_transit_gateways(3000).map(|(g, _)| &g.id).collect::<Vec<_>>(), [&tgw]);
    assert_eq!(m.deleted_tgw_route_tables(3000).count(), 2, "the default and the other one");
    assert_eq!(m.deleted_tgw_attachments(3000).count(), 2);
    // Once past their two hours, those deleted since forget them.
    assert_eq!(m.deleted_tgw_attachments(9300).count(), 0);
}

#[test]
fn a_state_file_from_before_deleted_objects_were_listed_loads() {
    let mut m = Model::new(5);
    m.create_transit_gateway(String::new(), TgwOptions::default(), Tags::new(), 0).unwrap();
    let mut json: serde_json::Value = serde_json::to_value(&m).unwrap();
    let fields = json.as_object_mut().unwrap();
    for name in ["deleted_transit_gateways", "deleted_tgw_attachments", "deleted_tgw_route_tables"]
    {
        assert!(fields.remove(name).is_some(), "{name} is stored");
    }
    let old: Model = serde_json::from_value(json).unwrap();
    assert_eq!(old.transit_gateways().count(), 1);
    assert_eq!(old.deleted_transit_gateways(0).count(), 0);
}
