//! Transit gateways (read-only for now): the list, a gateway's details with its
//! attachments and route tables, and "Delete transit gateway".

use maud::{Markup, html};

use super::api::{self, filter};
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::{Cx, El, Failure, Outcome, Request};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        [id] => detail(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

const SECTION: &str = "transit-gateways";

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let doc = match cx.api.call("DescribeTransitGateways", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Transit gateways", SECTION, &f),
    };
    let rows: Vec<&El> = doc.items("transitGatewaySet").collect();
    let columns = [
        column("Name", |g: &El| html::or_dash(g.name_tag())),
        column("Transit gateway ID", |g: &El| html::link(SECTION, g.text("transitGatewayId"))),
        column("Owner ID", |g: &El| html! { (g.text("ownerId")) }),
        column("State", |g: &El| html::state(g.text("state"))),
        column("Amazon side ASN", |g: &El| html! { (g.at(&["options", "amazonSideAsn"])) }),
    ];
    let body = html::list(
        "Transit gateways",
        None,
        "transit gateways",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("Transit gateways", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one(
        "DescribeTransitGateways",
        "TransitGatewayIds.1",
        id,
        "transitGatewaySet",
        api::not_found,
    )
}

fn load(cx: &Cx<'_>, id: &str) -> Result<El, Outcome> {
    match describe(cx, id) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(Outcome::NotFound),
        Err(f) => Err(Outcome::failed(id, SECTION, &f)),
    }
}

fn on_off(value: &str) -> &str {
    match value {
        "enable" => "Enable",
        "disable" => "Disable",
        other => other,
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let g = match load(cx, id) {
        Ok(g) => g,
        Err(outcome) => return outcome,
    };
    let tab = match req.param("tab") {
        "" => "attachments",
        t => t,
    };
    let base = href(&format!("transit-gateways/{id}"));
    let name = g.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let option = |name: &str| g.at(&["options", name]).to_owned();
    let body = html! {
        (html::crumbs(SECTION, "Transit gateways", id, ""))
        (html::bar(&title, html::actions(&[("Delete transit gateway", format!("{base}/delete"))])))
        (html::details(&[
            ("Transit gateway ID", html! { (id) }),
            ("State", html::state(g.text("state"))),
            ("Owner ID", html! { (g.text("ownerId")) }),
            ("Amazon side ASN", html! { (option("amazonSideAsn")) }),
            ("Description", html::or_dash(g.text("description"))),
            ("DNS support", html! { (on_off(&option("dnsSupport"))) }),
            ("VPN ECMP support", html! { (on_off(&option("vpnEcmpSupport"))) }),
            ("Auto accept shared attachments", html! { (on_off(&option("autoAcceptSharedAttachments"))) }),
            ("Default association route table", html! { (on_off(&option("defaultRouteTableAssociation"))) }),
            ("Association route table ID", html::or_dash(&option("associationDefaultRouteTableId"))),
            ("Default propagation route table", html! { (on_off(&option("defaultRouteTablePropagation"))) }),
            ("Propagation route table ID", html::or_dash(&option("propagationDefaultRouteTableId"))),
        ]))
        (html::tabs(&base, tab, &[("attachments", "Attachments"), ("route-tables", "Route tables"), ("tags", "Tags")]))
        @match tab {
            "route-tables" => (route_tables(cx, id)),
            "tags" => (html::tags_table(&g)),
            _ => (attachments(cx, id)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn attachments(cx: &Cx<'_>, id: &str) -> Markup {
    let doc =
        match cx.api.call("DescribeTransitGatewayAttachments", &filter("transit-gateway-id", id)) {
            Ok(doc) => doc,
            Err(f) => return html::error(&f),
        };
    let rows: Vec<&El> = doc.items("transitGatewayAttachments").collect();
    let columns = [
        column("Name", |a: &El| html::or_dash(a.name_tag())),
        column(
            "Transit gateway attachment ID",
            |a: &El| html! { (a.text("transitGatewayAttachmentId")) },
        ),
        column("Resource type", |a: &El| html! { (a.text("resourceType")) }),
        column("Resource ID", |a: &El| {
            let resource = a.text("resourceId");
            match a.text("resourceType") {
                "vpc" => html::link("vpcs", resource),
                "peering" => html::link(SECTION, resource),
                _ => html::or_dash(resource),
            }
        }),
        column("State", |a: &El| html::state(a.text("state"))),
        column("Association route table ID", |a: &El| {
            html::or_dash(a.at(&["association", "transitGatewayRouteTableId"]))
        }),
    ];
    html! {
        h2 { "Attachments (" (rows.len()) ")" }
        (html::table("attachments", &columns, &rows, ""))
    }
}

fn route_tables(cx: &Cx<'_>, id: &str) -> Markup {
    let doc =
        match cx.api.call("DescribeTransitGatewayRouteTables", &filter("transit-gateway-id", id)) {
            Ok(doc) => doc,
            Err(f) => return html::error(&f),
        };
    let rows: Vec<&El> = doc.items("transitGatewayRouteTables").collect();
    let yes_no = |v: &str| if v == "true" { "Yes" } else { "No" };
    let columns = [
        column("Name", |t: &El| html::or_dash(t.name_tag())),
        column(
            "Transit gateway route table ID",
            |t: &El| html! { (t.text("transitGatewayRouteTableId")) },
        ),
        column("State", |t: &El| html::state(t.text("state"))),
        column(
            "Default association route table",
            move |t: &El| html! { (yes_no(t.text("defaultAssociationRouteTable"))) },
        ),
        column(
            "Default propagation route table",
            move |t: &El| html! { (yes_no(t.text("defaultPropagationRouteTable"))) },
        ),
    ];
    html! {
        h2 { "Route tables (" (rows.len()) ")" }
        (html::table("route tables", &columns, &rows, ""))
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    if let Err(outcome) = load(cx, id) {
        return outcome;
    }
    Confirm {
        section: SECTION,
        label: "Transit gateways",
        id,
        title: "Delete transit gateway",
        question: html! {
            p { "Delete the transit gateway " strong { (id) } "?" }
            p.hint { "Its attachments must be deleted first: the API refuses otherwise (" code { "IncorrectState" } ")." }
        },
        verb: "delete",
        action: "DeleteTransitGateway",
        id_param: "TransitGatewayId",
        button: "Delete",
        done: href(SECTION),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get, post};

    #[test]
    fn a_gateway_its_attachments_and_route_tables_and_delete() {
        let c = console();
        let tgw = api(
            &c,
            "CreateTransitGateway",
            &[
                ("Description", "hub"),
                ("Options.AmazonSideAsn", "64600"),
                ("TagSpecification.1.ResourceType", "transit-gateway"),
                ("TagSpecification.1.Tag.1.Key", "Name"),
                ("TagSpecification.1.Tag.1.Value", "lab-hub"),
            ],
        );
        let id = tgw.at(&["transitGateway", "transitGatewayId"]).to_owned();
        let vpc =
            api(&c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
        let subnet = api(&c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", "10.0.1.0/24")])
            .at(&["subnet", "subnetId"])
            .to_owned();
        let attachment = api(
            &c,
            "CreateTransitGatewayVpcAttachment",
            &[("TransitGatewayId", &id), ("VpcId", &vpc), ("SubnetIds.1", &subnet)],
        )
        .at(&["transitGatewayVpcAttachment", "transitGatewayAttachmentId"])
        .to_owned();

        let list = get(&c, "/console/transit-gateways");
        assert!(
            list.body.contains(&id) && list.body.contains("lab-hub") && list.body.contains("64600"),
            "{}",
            list.body
        );
        assert!(
            get(&c, "/console/transit-gateways?search=nothing-like-it")
                .body
                .contains("No transit gateways match.")
        );

        let page = get(&c, &format!("/console/transit-gateways/{id}"));
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains(&attachment) && page.body.contains(&format!("/console/vpcs/{vpc}")),
            "{}",
            page.body
        );
        let tables = api(
            &c,
            "DescribeTransitGatewayRouteTables",
            &[("Filter.1.Name", "transit-gateway-id"), ("Filter.1.Value.1", &id)],
        );
        let table = tables
            .items("transitGatewayRouteTables")
            .next()
            .expect("the default route table")
            .text("transitGatewayRouteTableId")
            .to_owned();
        let page = get(&c, &format!("/console/transit-gateways/{id}?tab=route-tables"));
        assert!(page.body.contains(&table) && page.body.contains("Yes"), "{}", page.body);

        // Delete asks first; with an attachment the API refuses, and the page says why.
        let confirm = get(&c, &format!("/console/transit-gateways/{id}/delete"));
        assert!(
            confirm.body.contains("Delete transit gateway")
                && confirm.body.contains(">Delete</button>")
        );
        let refused = post(&c, &format!("/console/transit-gateways/{id}/delete"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>IncorrectState</code>"), "{}", refused.body);
        api(
            &c,
            "DeleteTransitGatewayVpcAttachment",
            &[("TransitGatewayAttachmentId", &attachment)],
        );
        let gone = post(&c, &format!("/console/transit-gateways/{id}/delete"), &[]);
        assert_eq!(gone.status, 303, "{}", gone.body);
        // Listed as deleted for a while, as AWS lists it.
        let listed = api(&c, "DescribeTransitGateways", &[]);
        let states: Vec<&str> =
            listed.items("transitGatewaySet").map(|g| g.text("state")).collect();
        assert!(states == ["deleting"] || states == ["deleted"], "{states:?}");
        let page = get(&c, &format!("/console/transit-gateways/{id}"));
        assert_eq!(page.status, 200);
        assert!(page.body.contains("delet"), "{}", page.body);
    }
}
