//! Customer gateways (Site-to-Site VPN): the list, a gateway's details, "Create
//! customer gateway", "Delete customer gateway".

use maud::{Markup, html};

use super::choices::labelled;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "customer-gateways";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// The gateway's ASN, given as `bgpAsn` or (above 2,147,483,647) `bgpAsnExtended`.
pub(crate) fn asn(g: &El) -> &str {
    match g.text("bgpAsn") {
        "" => g.text("bgpAsnExtended"),
        asn => asn,
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let gateways = match cx.api.call("DescribeCustomerGateways", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Customer gateways", SECTION, &f),
    };
    let rows: Vec<&El> = gateways.items("customerGatewaySet").collect();
    let columns = [
        column("Name", |g: &El| html::or_dash(g.name_tag())),
        column("Customer gateway ID", |g: &El| html::link(SECTION, g.text("customerGatewayId"))),
        column("State", |g: &El| html::state(g.text("state"))),
        column("Type", |g: &El| html! { (g.text("type")) }),
        column("IP address", |g: &El| html! { (g.text("ipAddress")) }),
        column("BGP ASN", |g: &El| html! { (asn(g)) }),
        column("Device name", |g: &El| html::or_dash(g.text("deviceName"))),
    ];
    let deleted = req.param("deleted");
    let body = html! {
        @if !deleted.is_empty() { (html::notice(&format!("Customer gateway {deleted} was deleted."))) }
        (html::list("Customer gateways", Some(("customer-gateways/new", "Create customer gateway")), "customer gateways", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Customer gateways", SECTION, body))
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let g = match cx.api.describe_one(
        "DescribeCustomerGateways",
        "CustomerGatewayId.1",
        id,
        "customerGatewaySet",
        |c| c.starts_with("InvalidCustomerGatewayID"),
    ) {
        Ok(Some(g)) => g,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("{SECTION}/{id}"));
    let name = g.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let body = html! {
        (html::crumbs(SECTION, "Customer gateways", id, ""))
        @if req.param("done") == "created" {
            (html::notice(&format!("The customer gateway {} was created successfully.", labelled(id, name))))
        }
        (html::bar(&title, html::actions(&[("Delete customer gateway", format!("{base}/delete"))])))
        (html::details(&[
            ("Customer gateway ID", html! { (id) }),
            ("State", html::state(g.text("state"))),
            ("Type", html! { (g.text("type")) }),
            ("IP address", html! { (g.text("ipAddress")) }),
            ("BGP ASN", html! { (asn(&g)) }),
            ("Device name", html::or_dash(g.text("deviceName"))),
        ]))
        (html::tabs(&base, "tags", &[("tags", "Tags")]))
        (html::tags_table(&g))
    };
    Outcome::Page(html::page(id, SECTION, body))
}

fn create_form(req: &Request, failure: Option<&Failure>) -> Markup {
    let asn = if req.is_post() { req.field("asn") } else { "65000" };
    html! {
        (html::crumbs(SECTION, "Customer gateways", "", "Create customer gateway"))
        h1 { "Create customer gateway" }
        p { "A customer gateway is a resource that you create in AWS that represents the \
             customer gateway device in your on-premises network." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("customer-gateways/new")) {
            fieldset {
                legend { "Details" }
                (html::text_field("name", "Name tag - optional", req.field("name"),
                    "Creates a tag with a key of 'Name' and the value that you specify."))
                (html::text_field("asn", "BGP ASN", asn,
                    "The ASN of your customer gateway device (1 to 4,294,967,295)."))
                (html::text_field("ip", "IP address", req.field("ip"),
                    "The IP address of your customer gateway device's external interface."))
                (html::text_field("device", "Device - optional", req.field("device"),
                    "A name for the customer gateway device."))
            }
            (html::form_actions(&href(SECTION), "Create customer gateway"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create customer gateway";
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, create_form(req, None)));
    }
    let asn = req.field("asn");
    // Above 2,147,483,647 the API takes the ASN as `BgpAsnExtended`, as AWS's console sends it.
    let asn_param = if asn.parse::<u64>().is_ok_and(|a| a > 2_147_483_647) {
        "BgpAsnExtended"
    } else {
        "BgpAsn"
    };
    let mut params = vec![
        ("Type".to_owned(), "ipsec.1".to_owned()),
        (asn_param.to_owned(), asn.to_owned()),
        ("IpAddress".to_owned(), req.field("ip").to_owned()),
    ];
    if !req.field("device").is_empty() {
        params.push(("DeviceName".to_owned(), req.field("device").to_owned()));
    }
    if !req.field("name").is_empty() {
        params.extend(name_tag("customer-gateway", req.field("name")));
    }
    match cx.api.call("CreateCustomerGateway", &params) {
        Ok(doc) => {
            let id = doc.at(&["customerGateway", "customerGatewayId"]);
            Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")))
        }
        Err(f) => Outcome::Status(400, html::page(title, SECTION, create_form(req, Some(&f)))),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: SECTION,
        label: "Customer gateways",
        id,
        title: "Delete customer gateway",
        question: html! { p { "Are you sure you want to delete customer gateway " strong { (id) }
        "? A gateway a VPN connection uses cannot be deleted: delete the connection first." } },
        verb: "delete",
        action: "DeleteCustomerGateway",
        id_param: "CustomerGatewayId",
        button: "Delete customer gateway",
        done: href(&format!("{SECTION}?deleted={id}")),
        missing: Some("InvalidCustomerGatewayID"),
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get, post, post_ok};

    #[test]
    fn create_list_detail_delete() {
        let c = console();
        let form = get(&c, "/console/customer-gateways/new");
        assert!(form.body.contains(r#"value="65000""#), "the default ASN: {}", form.body);
        let page = post_ok(
            &c,
            "/console/customer-gateways/new",
            &[("name", "office"), ("asn", "65010"), ("ip", "198.51.100.7"), ("device", "edge-1")],
        );
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        let doc = api(&c, "DescribeCustomerGateways", &[]);
        let g = doc.items("customerGatewaySet").next().unwrap();
        let id = g.text("customerGatewayId").to_owned();
        assert_eq!(
            (g.name_tag(), g.text("bgpAsn"), g.text("ipAddress"), g.text("deviceName")),
            ("office", "65010", "198.51.100.7", "edge-1")
        );
        assert!(page.body.contains("edge-1") && page.body.contains("ipsec.1"));

        let list = get(&c, "/console/customer-gateways");
        for text in [id.as_str(), "office", "198.51.100.7", "65010", "edge-1", "available"] {
            assert!(list.body.contains(text), "{text}: {}", list.body);
        }

        // An extended ASN goes as BgpAsnExtended.
        post_ok(
            &c,
            "/console/customer-gateways/new",
            &[("asn", "4200000000"), ("ip", "198.51.100.8")],
        );
        let list = get(&c, "/console/customer-gateways");
        assert!(list.body.contains("4200000000"));

        let confirm = get(&c, &format!("/console/customer-gateways/{id}/delete"));
        assert!(confirm.body.contains("Delete customer gateway"));
        let gone = post(&c, &format!("/console/customer-gateways/{id}/delete"), &[]);
        assert_eq!(gone.status, 303);
        let list = get(&c, &gone.location);
        assert!(list.body.contains(&format!("Customer gateway {id} was deleted.")));
        assert_eq!(get(&c, "/console/customer-gateways/cgw-0000000000000000f").status, 404);
        assert_eq!(get(&c, "/console/customer-gateways/nonsense").status, 404);
    }

    #[test]
    fn a_refused_create_shows_the_apis_error_on_the_form() {
        let c = console();
        let page = post(
            &c,
            "/console/customer-gateways/new",
            &[("name", "office"), ("asn", "0"), ("ip", "198.51.100.7")],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("BgpAsn"), "AWS's message: {}", page.body);
        assert!(page.body.contains(r#"value="office""#), "what was typed stays");
        assert_eq!(api(&c, "DescribeCustomerGateways", &[]).items("customerGatewaySet").count(), 0);
    }
}
