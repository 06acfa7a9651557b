//! Transit gateways: the list, a gateway's details (its options, attachments and route
//! tables), "Create transit gateway" and "Delete transit gateway". Attachments and route
//! tables have pages of their own (`tgw_attachments.rs`, `tgw_route_tables.rs`).

use maud::{Markup, html};

use super::api;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request, tgw_attachments, tgw_route_tables};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
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
        Some(("transit-gateways/new", "Create transit gateway")),
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

/// An `enable`/`disable` option as the console shows it.
pub(super) fn on_off(value: &str) -> &str {
    match value {
        "enable" => "Enable",
        "disable" => "Disable",
        other => other,
    }
}

/// A checkbox of a posted form as an option's value: `enable` when ticked.
pub(super) fn toggle(req: &Request, field: &str) -> &'static str {
    if req.field(field) == "on" { "enable" } else { "disable" }
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
        @if req.param("done") == "created" {
            (html::notice(&format!("Transit gateway {title} was created successfully. It is pending until available.")))
        }
        (html::bar(&title, html::actions(&[
            ("Create transit gateway attachment", href(&format!("transit-gateway-attachments/new?transit_gateway={id}"))),
            ("Create transit gateway route table", href(&format!("transit-gateway-route-tables/new?transit_gateway={id}"))),
            ("Delete transit gateway", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Transit gateway ID", html! { (id) }),
            ("State", html::state(g.text("state"))),
            ("Owner ID", html! { (g.text("ownerId")) }),
            ("Amazon side ASN", html! { (option("amazonSideAsn")) }),
            ("Description", html::or_dash(g.text("description"))),
            ("DNS support", html! { (on_off(&option("dnsSupport"))) }),
            ("Security Group Referencing support", html! { (on_off(&option("securityGroupReferencingSupport"))) }),
            ("VPN ECMP support", html! { (on_off(&option("vpnEcmpSupport"))) }),
            ("Auto accept shared attachments", html! { (on_off(&option("autoAcceptSharedAttachments"))) }),
            ("Default association route table", html! { (on_off(&option("defaultRouteTableAssociation"))) }),
            ("Association route table ID", html::link("transit-gateway-route-tables", &option("associationDefaultRouteTableId"))),
            ("Default propagation route table", html! { (on_off(&option("defaultRouteTablePropagation"))) }),
            ("Propagation route table ID", html::link("transit-gateway-route-tables", &option("propagationDefaultRouteTableId"))),
            ("Multicast support", html! { (on_off(&option("multicastSupport"))) }),
        ]))
        (html::tabs(&base, tab, &[("attachments", "Attachments"), ("route-tables", "Route tables"), ("tags", "Tags")]))
        @match tab {
            "route-tables" => (tgw_route_tables::of_gateway(cx, id)),
            "tags" => (html::tags_table(&g)),
            _ => (tgw_attachments::of_gateway(cx, id)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

/// "Create transit gateway"'s checkboxes: (field, option, label, ticked at first, as the
/// API's defaults are).
const OPTIONS: &[(&str, &str, &str, bool)] = &[
    ("dns_support", "DnsSupport", "DNS support", true),
    (
        "security_group_referencing",
        "SecurityGroupReferencingSupport",
        "Security Group Referencing support",
        false,
    ),
    ("vpn_ecmp", "VpnEcmpSupport", "VPN ECMP support", true),
    (
        "default_association",
        "DefaultRouteTableAssociation",
        "Default route table association",
        true,
    ),
    (
        "default_propagation",
        "DefaultRouteTablePropagation",
        "Default route table propagation",
        true,
    ),
    ("auto_accept", "AutoAcceptSharedAttachments", "Auto accept shared attachments", false),
];

fn create_form(req: &Request, failure: Option<&Failure>) -> Markup {
    html! {
        (html::crumbs(SECTION, "Transit gateways", "", "Create transit gateway"))
        h1 { "Create transit gateway" }
        p { "A transit gateway is a network transit hub that interconnects attachments (VPCs and peered transit gateways) within the same account." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("transit-gateways/new")) {
            fieldset {
                legend { "Details - optional" }
                (html::text_field("name", "Name tag", req.field("name"), "Creates a tag with a key of 'Name' and the value that you specify."))
                (html::text_field("description", "Description", req.field("description"), "Set the description of your transit gateway to help you identify it in the future."))
            }
            fieldset {
                legend { "Configure the transit gateway" }
                (html::text_field("asn", "Amazon side Autonomous System Number (ASN)", req.field("asn"),
                    "64512-65534 or 4200000000-4294967294; empty for the default, 64512."))
                @for (field, _, label, default) in OPTIONS {
                    (html::checkbox(field, label, if req.is_post() { req.field(field) == "on" } else { *default }))
                }
                p.hint { "Default route table association and propagation: new attachments are associated with, and propagate to, the transit gateway's default route table." }
            }
            (html::form_actions(&href(SECTION), "Create transit gateway"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create transit gateway";
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, create_form(req, None)));
    }
    let mut params = vec![("Description".to_owned(), req.field("description").to_owned())];
    if !req.field("asn").is_empty() {
        params.push(("Options.AmazonSideAsn".to_owned(), req.field("asn").to_owned()));
    }
    for (field, option, _, _) in OPTIONS {
        params.push((format!("Options.{option}"), toggle(req, field).to_owned()));
    }
    if !req.field("name").is_empty() {
        params.extend(name_tag("transit-gateway", req.field("name")));
    }
    match cx.api.call("CreateTransitGateway", &params) {
        Ok(doc) => {
            let id = doc.at(&["transitGateway", "transitGatewayId"]);
            Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")))
        }
        Err(f) => Outcome::Status(400, html::page(title, SECTION, create_form(req, Some(&f)))),
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
    use crate::console::testing::{api, console, get, post, post_ok};

    #[test]
    fn create_a_gateway_with_its_options_after_a_refused_asn() {
        let c = console();
        let list = get(&c, "/console/transit-gateways");
        assert!(
            list.body
                .contains(r#"href="/console/transit-gateways/new">Create transit gateway</a>"#),
            "{}",
            list.body
        );
        let form = get(&c, "/console/transit-gateways/new");
        for (field, ticked) in [
            ("dns_support", true),
            ("security_group_referencing", false),
            ("vpn_ecmp", true),
            ("default_association", true),
            ("default_propagation", true),
            ("auto_accept", false),
        ] {
            let checked = if ticked { " checked" } else { "" };
            let input = format!(r#"<input type="checkbox" id="{field}" name="{field}"{checked}>"#);
            assert!(form.body.contains(&input), "{input}: {}", form.body);
            assert!(form.body.contains(&format!(r#"<label class="inline" for="{field}">"#)));
        }
        for field in ["name", "description", "asn"] {
            assert!(form.body.contains(&format!(r#"<label for="{field}">"#)), "{field}");
        }

        // The API refuses the ASN: its error, and the form as it was filled.
        let filled = [
            ("name", "lab-hub"),
            ("description", "the hub"),
            ("asn", "42"),
            ("dns_support", "on"),
            ("default_association", "on"),
            ("auto_accept", "on"),
        ];
        let refused = post(&c, "/console/transit-gateways/new", &filled);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>InvalidParameterValue</code>"), "{}", refused.body);
        assert!(refused.body.contains("The amazon side ASN 42 is not valid"), "{}", refused.body);
        for value in [r#"value="lab-hub""#, r#"value="the hub""#, r#"value="42""#] {
            assert!(refused.body.contains(value), "{value}");
        }
        assert!(refused.body.contains(r#"id="auto_accept" name="auto_accept" checked"#));
        assert!(refused.body.contains(r#"id="vpn_ecmp" name="vpn_ecmp">"#), "unticked stays so");
        assert!(
            api(&c, "DescribeTransitGateways", &[]).items("transitGatewaySet").next().is_none()
        );

        let mut fixed = filled.to_vec();
        fixed[2] = ("asn", "64700");
        let page = post_ok(&c, "/console/transit-gateways/new", &fixed);
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        let doc = api(&c, "DescribeTransitGateways", &[]);
        let g = doc.items("transitGatewaySet").next().expect("created");
        let id = g.text("transitGatewayId");
        assert_eq!(g.name_tag(), "lab-hub");
        assert_eq!(g.text("description"), "the hub");
        let option = |name: &str| g.at(&["options", name]).to_owned();
        assert_eq!(option("amazonSideAsn"), "64700");
        assert_eq!(option("dnsSupport"), "enable");
        assert_eq!(option("vpnEcmpSupport"), "disable");
        assert_eq!(option("securityGroupReferencingSupport"), "disable");
        assert_eq!(option("defaultRouteTableAssociation"), "enable");
        assert_eq!(option("defaultRouteTablePropagation"), "disable");
        assert_eq!(option("autoAcceptSharedAttachments"), "enable");
        assert!(option("propagationDefaultRouteTableId").is_empty());
        // The page shows the options, and links the default association table.
        let table = option("associationDefaultRouteTableId");
        assert!(page.body.contains(&format!("/console/transit-gateway-route-tables/{table}")));
        assert!(page.body.contains(id) && page.body.contains("64700"));
        assert!(page.body.contains("VPN ECMP support</dt><dd>Disable"), "{}", page.body);
        assert!(page.body.contains("Auto accept shared attachments</dt><dd>Enable"));
    }

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
