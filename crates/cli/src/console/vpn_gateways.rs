//! Virtual private gateways (Site-to-Site VPN): the list, a gateway's details, "Create
//! virtual private gateway", "Attach to VPC", "Detach from VPC", "Delete virtual private
//! gateway".

use maud::{Markup, html};

use super::choices::labelled;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::vpc_attachment::Attachable;
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "vpn-gateways";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "attach"] => GATEWAY.attach(cx, id, req),
        [id, "detach"] => GATEWAY.detach(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// The VPC a gateway is attached to (or attaching to), or "".
pub(crate) fn attached_vpc(g: &El) -> &str {
    g.items("attachments")
        .find(|a| matches!(a.text("state"), "attached" | "attaching"))
        .map_or("", |a| a.text("vpcId"))
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let gateways = match cx.api.call("DescribeVpnGateways", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Virtual private gateways", SECTION, &f),
    };
    let rows: Vec<&El> = gateways.items("vpnGatewaySet").collect();
    let columns = [
        column("Name", |g: &El| html::or_dash(g.name_tag())),
        column("Virtual private gateway ID", |g: &El| html::link(SECTION, g.text("vpnGatewayId"))),
        column("State", |g: &El| html::state(g.text("state"))),
        column("Type", |g: &El| html! { (g.text("type")) }),
        column("VPC", |g: &El| html::link("vpcs", attached_vpc(g))),
        column("Amazon side ASN", |g: &El| html! { (g.text("amazonSideAsn")) }),
    ];
    let deleted = req.param("deleted");
    let body = html! {
        @if !deleted.is_empty() { (html::notice(&format!("Virtual private gateway {deleted} was deleted."))) }
        (html::list("Virtual private gateways", Some(("vpn-gateways/new", "Create virtual private gateway")), "virtual private gateways", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Virtual private gateways", SECTION, body))
}

/// What "Attach to VPC" and "Detach from VPC" need to know.
const GATEWAY: Attachable = Attachable {
    section: SECTION,
    label: "Virtual private gateways",
    noun: ("a", "virtual private gateway"),
    describe: ("DescribeVpnGateways", "VpnGatewayId.1", "vpnGatewaySet", "InvalidVpnGatewayID"),
    id_param: "VpnGatewayId",
    attach: "AttachVpnGateway",
    detach: "DetachVpnGateway",
    attached_vpc,
    purpose: "to let its VPN connections reach the VPC",
    consequence: "Its VPN connections no longer reach the VPC.",
    not_attached,
};

fn not_attached(id: &str) -> Failure {
    Failure::new(
        "InvalidVpnGatewayAttachment.NotFound",
        format!("The attachment with vpn gateway ID '{id}' does not exist"),
    )
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let g = match GATEWAY.describe(cx, id) {
        Ok(Some(g)) => g,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("{SECTION}/{id}"));
    let name = g.name_tag();
    let vpc = attached_vpc(&g);
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let body = html! {
        (html::crumbs(SECTION, "Virtual private gateways", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!(
                "The virtual private gateway {} was created successfully. You can now attach it to a VPC.",
                labelled(id, name)))),
            "attached" => (html::notice(&format!("Virtual private gateway {id} is attaching to {vpc}."))),
            "detached" => (html::notice(&format!("Virtual private gateway {id} is detaching."))),
            _ => {}
        }
        (html::bar(&title, html::actions(&[
            ("Attach to VPC", format!("{base}/attach")),
            ("Detach from VPC", format!("{base}/detach")),
            ("Delete virtual private gateway", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Virtual private gateway ID", html! { (id) }),
            ("State", html::state(g.text("state"))),
            ("Type", html! { (g.text("type")) }),
            ("VPC", html::link("vpcs", vpc)),
            ("Amazon side ASN", html! { (g.text("amazonSideAsn")) }),
        ]))
        (html::tabs(&base, "tags", &[("tags", "Tags")]))
        (html::tags_table(&g))
    };
    Outcome::Page(html::page(id, SECTION, body))
}

fn create_form(req: &Request, failure: Option<&Failure>) -> Markup {
    let custom = req.field("asn_kind") == "custom";
    html! {
        (html::crumbs(SECTION, "Virtual private gateways", "", "Create virtual private gateway"))
        h1 { "Create virtual private gateway" }
        p { "A virtual private gateway is the VPN concentrator on the Amazon side of a \
             Site-to-Site VPN connection. Attach it to the VPC the connection reaches." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("vpn-gateways/new")) {
            fieldset {
                legend { "Virtual private gateway settings" }
                (html::text_field("name", "Name tag - optional", req.field("name"),
                    "Creates a tag with a key of 'Name' and the value that you specify."))
            }
            fieldset {
                legend { "Autonomous system number (ASN)" }
                p {
                    input #asn_amazon type="radio" name="asn_kind" value="amazon" checked[!custom];
                    label.inline for="asn_amazon" { "Amazon default ASN" }
                    input #asn_custom type="radio" name="asn_kind" value="custom" checked[custom];
                    label.inline for="asn_custom" { "Custom ASN" }
                }
                (html::text_field("asn", "Custom ASN", req.field("asn"),
                    "64512 to 65534, or 4200000000 to 4294967294 (custom ASN only). Amazon's default is 64512."))
            }
            (html::form_actions(&href(SECTION), "Create virtual private gateway"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create virtual private gateway";
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, create_form(req, None)));
    }
    let mut params = vec![("Type".to_owned(), "ipsec.1".to_owned())];
    if req.field("asn_kind") == "custom" {
        params.push(("AmazonSideAsn".to_owned(), req.field("asn").to_owned()));
    }
    if !req.field("name").is_empty() {
        params.extend(name_tag("vpn-gateway", req.field("name")));
    }
    match cx.api.call("CreateVpnGateway", &params) {
        Ok(doc) => {
            let id = doc.at(&["vpnGateway", "vpnGatewayId"]);
            Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")))
        }
        Err(f) => Outcome::Status(400, html::page(title, SECTION, create_form(req, Some(&f)))),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: SECTION,
        label: "Virtual private gateways",
        id,
        title: "Delete virtual private gateway",
        question: html! { p { "Are you sure you want to delete virtual private gateway " strong { (id) }
            "? An attached gateway, or one a VPN connection ends on, cannot be deleted (" code { "IncorrectState" } ")." } },
        verb: "delete",
        action: "DeleteVpnGateway",
        id_param: "VpnGatewayId",
        button: "Delete virtual private gateway",
        done: href(&format!("{SECTION}?deleted={id}")),
        missing: Some("InvalidVpnGatewayID"),
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, created, get, post, post_ok};

    #[test]
    fn create_attach_detach_delete() {
        let c = console();
        let vpc = created(&c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")], &["vpc", "vpcId"]);
        let page = post_ok(
            &c,
            "/console/vpn-gateways/new",
            &[("name", "vgw-a"), ("asn_kind", "custom"), ("asn", "65100")],
        );
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        let doc = api(&c, "DescribeVpnGateways", &[]);
        let g = doc.items("vpnGatewaySet").next().unwrap();
        let id = g.text("vpnGatewayId").to_owned();
        assert_eq!((g.name_tag(), g.text("amazonSideAsn")), ("vgw-a", "65100"));

        post_ok(&c, "/console/vpn-gateways/new", &[("asn_kind", "amazon"), ("asn", "65100")]);
        let list = get(&c, "/console/vpn-gateways");
        assert!(list.body.contains(&id) && list.body.contains("vgw-a"));
        assert!(list.body.contains("64512"), "Amazon's default ASN: {}", list.body);

        let attach = get(&c, &format!("/console/vpn-gateways/{id}/attach"));
        assert!(attach.body.contains(&format!(r#"<option value="{vpc}""#)), "{}", attach.body);
        let page = post_ok(&c, &format!("/console/vpn-gateways/{id}/attach"), &[("vpc", &vpc)]);
        assert!(page.body.contains(&format!("/console/vpcs/{vpc}")), "{}", page.body);
        let list = get(&c, "/console/vpn-gateways");
        assert!(list.body.contains(&format!("/console/vpcs/{vpc}")));

        // Attached: the API refuses the delete, on the confirmation page.
        let refused = post(&c, &format!("/console/vpn-gateways/{id}/delete"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>IncorrectState</code>"), "{}", refused.body);

        let confirm = get(&c, &format!("/console/vpn-gateways/{id}/detach"));
        assert!(
            confirm.body.contains("Detach virtual private gateway") && confirm.body.contains(&vpc)
        );
        post_ok(&c, &format!("/console/vpn-gateways/{id}/detach"), &[]);
        let doc = api(&c, "DescribeVpnGateways", &[("VpnGatewayId.1", &id)]);
        let g = doc.items("vpnGatewaySet").next().unwrap();
        assert!(g.items("attachments").all(|a| a.text("state") != "attached"));
        let again = post(&c, &format!("/console/vpn-gateways/{id}/detach"), &[]);
        assert_eq!(again.status, 400);

        let gone = post(&c, &format!("/console/vpn-gateways/{id}/delete"), &[]);
        assert_eq!(gone.status, 303, "{}", gone.body);
        assert!(
            get(&c, &gone.location)
                .body
                .contains(&format!("Virtual private gateway {id} was deleted."))
        );
        assert_eq!(get(&c, "/console/vpn-gateways/nonsense").status, 404);
    }

    #[test]
    fn a_refused_asn_answers_400_with_the_apis_message() {
        let c = console();
        let page = post(&c, "/console/vpn-gateways/new", &[("asn_kind", "custom"), ("asn", "100")]);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("flash error"), "{}", page.body);
        assert!(page.body.contains(r#"value="100""#));
        assert_eq!(api(&c, "DescribeVpnGateways", &[]).items("vpnGatewaySet").count(), 0);
    }
}
