//! Internet gateways: the list, a gateway's details, "Create internet gateway",
//! "Attach to VPC", "Detach from VPC", "Delete internet gateway".

use maud::{Markup, html};

use super::choices::labelled;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::vpc_attachment::Attachable;
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "internet-gateways";

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

/// The VPC a gateway is attached to, or "".
fn attached_vpc(g: &El) -> &str {
    g.items("attachmentSet")
        .find(|a| matches!(a.text("state"), "available" | "attached" | "attaching"))
        .map_or("", |a| a.text("vpcId"))
}

/// The gateway's state as the console shows it: Attached or Detached.
fn state(g: &El) -> Markup {
    if attached_vpc(g).is_empty() {
        html! { span class="state detached" { "Detached" } }
    } else {
        html! { span class="state attached" { "Attached" } }
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let gateways = match cx.api.call("DescribeInternetGateways", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Internet gateways", SECTION, &f),
    };
    let rows: Vec<&El> = gateways.items("internetGatewaySet").collect();
    let columns = [
        column("Name", |g: &El| html::or_dash(g.name_tag())),
        column("Internet gateway ID", |g: &El| html::link(SECTION, g.text("internetGatewayId"))),
        column("State", state),
        column("VPC ID", |g: &El| html::link("vpcs", attached_vpc(g))),
        column("Owner", |g: &El| html! { (g.text("ownerId")) }),
    ];
    let deleted = req.param("deleted");
    let body = html! {
        @if !deleted.is_empty() { (html::notice(&format!("Internet gateway {deleted} was deleted."))) }
        (html::list("Internet gateways", Some(("internet-gateways/new", "Create internet gateway")), "internet gateways", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Internet gateways", SECTION, body))
}

/// What "Attach to VPC" and "Detach from VPC" need to know.
const GATEWAY: Attachable = Attachable {
    section: SECTION,
    label: "Internet gateways",
    noun: ("an", "internet gateway"),
    describe: (
        "DescribeInternetGateways",
        "InternetGatewayId.1",
        "internetGatewaySet",
        "InvalidInternetGatewayID",
    ),
    id_param: "InternetGatewayId",
    attach: "AttachInternetGateway",
    detach: "DetachInternetGateway",
    attached_vpc,
    purpose: "to enable the VPC to communicate with the internet",
    consequence: "Instances of the VPC lose their connection to the internet.",
    not_attached,
};

fn not_attached(id: &str) -> Failure {
    Failure::new("Gateway.NotAttached", format!("resource {id} is not attached to any network"))
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
        (html::crumbs(SECTION, "Internet gateways", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!(
                "The following internet gateway was created: {}. You can now attach to a VPC to enable the VPC to communicate with the internet.",
                labelled(id, name)))),
            "attached" => (html::notice(&format!("Internet gateway {id} successfully attached to {vpc}"))),
            "detached" => (html::notice(&format!("Internet gateway {id} successfully detached."))),
            _ => {}
        }
        (html::bar(&title, html! {
            @if vpc.is_empty() {
                a.button href=(format!("{base}/attach")) { "Attach to a VPC" }
            }
            (html::actions(&[
                ("Attach to VPC", format!("{base}/attach")),
                ("Detach from VPC", format!("{base}/detach")),
                ("Delete internet gateway", format!("{base}/delete")),
            ]))
        }))
        (html::details(&[
            ("Internet gateway ID", html! { (id) }),
            ("State", state(&g)),
            ("VPC ID", html::link("vpcs", vpc)),
            ("Owner", html! { (g.text("ownerId")) }),
        ]))
        (html::tabs(&base, "tags", &[("tags", "Tags")]))
        (html::tags_table(&g))
    };
    Outcome::Page(html::page(id, SECTION, body))
}

fn create_form(req: &Request, failure: Option<&Failure>) -> Markup {
    html! {
        (html::crumbs(SECTION, "Internet gateways", "", "Create internet gateway"))
        h1 { "Create internet gateway" }
        p { "An internet gateway is a virtual router that connects a VPC to the internet. \
             To create a new internet gateway specify the name for the gateway below." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("internet-gateways/new")) {
            fieldset {
                legend { "Internet gateway settings" }
                (html::text_field("name", "Name tag", req.field("name"),
                    "Creates a tag with a key of 'Name' and the value that you specify."))
            }
            (html::form_actions(&href(SECTION), "Create internet gateway"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create internet gateway";
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, create_form(req, None)));
    }
    let name = req.field("name");
    let params = if name.is_empty() { Vec::new() } else { name_tag("internet-gateway", name) };
    match cx.api.call("CreateInternetGateway", &params) {
        Ok(doc) => {
            let id = doc.at(&["internetGateway", "internetGatewayId"]);
            Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")))
        }
        Err(f) => Outcome::Status(400, html::page(title, SECTION, create_form(req, Some(&f)))),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: SECTION,
        label: "Internet gateways",
        id,
        title: "Delete internet gateway",
        question: html! { p { "Are you sure you want to delete internet gateway " strong { (id) }
            "? An attached gateway must be detached first: the API refuses otherwise (" code { "DependencyViolation" } ")." } },
        verb: "delete",
        action: "DeleteInternetGateway",
        id_param: "InternetGatewayId",
        button: "Delete internet gateway",
        done: href(&format!("{SECTION}?deleted={id}")),
        missing: Some("InvalidInternetGatewayID"),
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get, post, post_ok};

    fn vpc(c: &crate::console::Console, cidr: &str) -> String {
        api(c, "CreateVpc", &[("CidrBlock", cidr)]).at(&["vpc", "vpcId"]).to_owned()
    }

    #[test]
    fn create_attach_detach_delete_as_the_seed_does() {
        let c = console();
        let vpc_id = vpc(&c, "10.0.0.0/16");
        let form = get(&c, "/console/internet-gateways/new");
        assert!(
            form.body.contains(r#"name="name""#) && form.body.contains("Create internet gateway")
        );
        let page = post_ok(&c, "/console/internet-gateways/new", &[("name", "my-igw")]);
        assert!(page.body.contains("The following internet gateway was created"), "{}", page.body);
        assert!(page.body.contains("Detached"), "detached right after creation");
        let igws = api(&c, "DescribeInternetGateways", &[]);
        let igw = igws.items("internetGatewaySet").next().unwrap();
        let id = igw.text("internetGatewayId").to_owned();
        assert_eq!(igw.name_tag(), "my-igw");
        assert_eq!(igw.items("attachmentSet").count(), 0);

        let list = get(&c, "/console/internet-gateways");
        assert!(
            list.body.contains(&id)
                && list.body.contains("my-igw")
                && list.body.contains("Detached")
        );

        let attach = get(&c, &format!("/console/internet-gateways/{id}/attach"));
        assert!(attach.body.contains(&format!(r#"<option value="{vpc_id}""#)), "{}", attach.body);
        assert!(attach.body.contains("Attach internet gateway"));
        let page =
            post_ok(&c, &format!("/console/internet-gateways/{id}/attach"), &[("vpc", &vpc_id)]);
        assert!(
            page.body.contains("Attached") && page.body.contains("successfully attached"),
            "{}",
            page.body
        );
        let filter =
            [("Filter.1.Name", "attachment.vpc-id"), ("Filter.1.Value.1", vpc_id.as_str())];
        assert_eq!(
            api(&c, "DescribeInternetGateways", &filter).items("internetGatewaySet").count(),
            1
        );
        let list = get(&c, "/console/internet-gateways");
        assert!(list.body.contains(&format!("/console/vpcs/{vpc_id}")));

        // The VPC has a gateway now: another gateway's attach page does not offer it.
        let other = api(&c, "CreateInternetGateway", &[]);
        let other = other.at(&["internetGateway", "internetGatewayId"]).to_owned();
        let attach = get(&c, &format!("/console/internet-gateways/{other}/attach"));
        assert!(!attach.body.contains(&format!(r#"<option value="{vpc_id}""#)));

        // An attached gateway cannot be deleted: the API's error, on the confirmation page.
        let refused = post(&c, &format!("/console/internet-gateways/{id}/delete"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>DependencyViolation</code>"), "{}", refused.body);

        let confirm = get(&c, &format!("/console/internet-gateways/{id}/detach"));
        assert!(confirm.body.contains("Detach internet gateway") && confirm.body.contains(&vpc_id));
        let page = post_ok(&c, &format!("/console/internet-gateways/{id}/detach"), &[]);
        assert!(page.body.contains("Detached"));
        assert_eq!(
            api(&c, "DescribeInternetGateways", &filter).items("internetGatewaySet").count(),
            0
        );

        let gone = post(&c, &format!("/console/internet-gateways/{id}/delete"), &[]);
        assert_eq!(gone.status, 303);
        let list = get(&c, &gone.location);
        assert!(list.body.contains(&format!("Internet gateway {id} was deleted.")));
        assert_eq!(api(&c, "DescribeInternetGateways", &[]).items("internetGatewaySet").count(), 1);
        assert_eq!(get(&c, &format!("/console/internet-gateways/{id}")).status, 404);
    }

    #[test]
    fn attaching_to_a_vpc_that_has_a_gateway_shows_the_apis_error() {
        let c = console();
        let vpc_id = vpc(&c, "10.0.0.0/16");
        let first = api(&c, "CreateInternetGateway", &[])
            .at(&["internetGateway", "internetGatewayId"])
            .to_owned();
        api(&c, "AttachInternetGateway", &[("InternetGatewayId", &first), ("VpcId", &vpc_id)]);
        let second = api(&c, "CreateInternetGateway", &[])
            .at(&["internetGateway", "internetGatewayId"])
            .to_owned();
        let page =
            post(&c, &format!("/console/internet-gateways/{second}/attach"), &[("vpc", &vpc_id)]);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>Resource.AlreadyAssociated</code>"), "{}", page.body);
        let filter =
            [("Filter.1.Name", "attachment.vpc-id"), ("Filter.1.Value.1", vpc_id.as_str())];
        let attached = api(&c, "DescribeInternetGateways", &filter);
        let ids: Vec<&str> =
            attached.items("internetGatewaySet").map(|g| g.text("internetGatewayId")).collect();
        assert_eq!(ids, [first.as_str()]);
        // Detaching a detached gateway says so instead of calling the API without a VPC.
        let page = post(&c, &format!("/console/internet-gateways/{second}/detach"), &[]);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("Gateway.NotAttached"));
        assert_eq!(get(&c, "/console/internet-gateways/igw-0000000000000000f").status, 404);
        assert_eq!(get(&c, "/console/internet-gateways/nonsense").status, 404);
    }
}
