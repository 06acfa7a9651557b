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
    assert_eq!(m.delete_transit_gateway(&west).unwrap_err().code, "IncorrectState");
    m.delete_tgw_attachment(&peering).unwrap();
    m.delete_transit_gateway(&west).unwrap();
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
    m.answer_tgw_peering(&peering, false).unwrap();
    assert!(m.tgw_attachment(&peering).unwrap().rejected());
    m.delete_transit_gateway(&east).unwrap();
    assert!(m.tgw_attachment(&peering).is_err(), "gone with its gateway");
    m.delete_transit_gateway(&west).unwrap();
}
