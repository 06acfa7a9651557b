//! Transit gateway route tables: the list, a table's details with its associations,
//! propagations and routes, "Create transit gateway route table", "Create association"
//! and "Delete association", "Create propagation" and "Delete propagation", "Create
//! static route" and "Delete static route", and "Delete transit gateway route table".

use maud::{Markup, html};

use super::api::{self, filter, filter_any};
use super::choices::{self, labelled};
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::tgw_attachments::resource_link;
use super::vpcs::name_tag_at;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "transit-gateway-route-tables";
const LABEL: &str = "Transit gateway route tables";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "create-association"] => add(cx, id, req, &ASSOCIATIONS),
        [id, "delete-association"] => remove(cx, id, req, &ASSOCIATIONS),
        [id, "create-propagation"] => add(cx, id, req, &PROPAGATIONS),
        [id, "delete-propagation"] => remove(cx, id, req, &PROPAGATIONS),
        [id, "create-route"] => create_route(cx, id, req),
        [id, "delete-route"] => delete_route(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

fn columns<'a>() -> [html::Column<'a>; 6] {
    [
        column("Name", |t: &El| html::or_dash(t.name_tag())),
        column("Transit gateway route table ID", |t: &El| {
            html::link(SECTION, t.text("transitGatewayRouteTableId"))
        }),
        column("Transit gateway ID", |t: &El| {
            html::link("transit-gateways", t.text("transitGatewayId"))
        }),
        column("State", |t: &El| html::state(t.text("state"))),
        column("Default association route table", |t: &El| {
            html! { (html::yes_no(t.text("defaultAssociationRouteTable"))) }
        }),
        column("Default propagation route table", |t: &El| {
            html! { (html::yes_no(t.text("defaultPropagationRouteTable"))) }
        }),
    ]
}

/// Transit gateway `tgw`'s route tables, for its page.
pub(super) fn of_gateway(cx: &Cx<'_>, tgw: &str) -> Markup {
    let doc = match cx
        .api
        .call("DescribeTransitGatewayRouteTables", &filter("transit-gateway-id", tgw))
    {
        Ok(doc) => doc,
        Err(f) => return html::error(&f),
    };
    let rows: Vec<&El> = doc.items("transitGatewayRouteTables").collect();
    html! {
        div.bar {
            h2 { "Route tables (" (rows.len()) ")" }
            a.button href=(href(&format!("{SECTION}/new?transit_gateway={tgw}"))) { "Create transit gateway route table" }
        }
        (html::table("route tables", &columns(), &rows, ""))
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let doc = match cx.api.call("DescribeTransitGatewayRouteTables", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed(LABEL, SECTION, &f),
    };
    let rows: Vec<&El> = doc.items("transitGatewayRouteTables").collect();
    let body = html::list(
        LABEL,
        Some(("transit-gateway-route-tables/new", "Create transit gateway route table")),
        "transit gateway route tables",
        &columns(),
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page(LABEL, SECTION, body))
}

fn load(cx: &Cx<'_>, id: &str, title: &str) -> Result<El, Outcome> {
    let found = cx.api.describe_one(
        "DescribeTransitGatewayRouteTables",
        "TransitGatewayRouteTableIds.1",
        id,
        "transitGatewayRouteTables",
        api::not_found,
    );
    match found {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(Outcome::NotFound),
        Err(f) => Err(Outcome::failed(title, SECTION, &f)),
    }
}

/// A table's attachments of one kind (associations or propagations): the tab, the form
/// that adds one and the confirmation that removes one.
struct Links {
    tab: &'static str,
    heading: &'static str,
    create: &'static str,
    delete: &'static str,
    /// The pages' paths after the table's.
    create_verb: &'static str,
    delete_verb: &'static str,
    /// The Get… call listing them, and its reply's list.
    get: &'static str,
    set: &'static str,
    add_action: &'static str,
    remove_action: &'static str,
    choose: &'static str,
    explain: &'static str,
    /// "the association of attachment … with route table …".
    noun: &'static str,
    preposition: &'static str,
    /// The `done` of the table's page after an addition and a removal.
    added: &'static str,
    removed: &'static str,
}

const ASSOCIATIONS: Links = Links {
    tab: "associations",
    heading: "Associations",
    create: "Create association",
    delete: "Delete association",
    create_verb: "create-association",
    delete_verb: "delete-association",
    get: "GetTransitGatewayRouteTableAssociations",
    set: "associations",
    add_action: "AssociateTransitGatewayRouteTable",
    remove_action: "DisassociateTransitGatewayRouteTable",
    choose: "Choose attachment to associate",
    noun: "association",
    preposition: "with",
    explain: "Traffic that enters the transit gateway from an attachment is routed by the one \
              route table the attachment is associated with.",
    added: "associated",
    removed: "disassociated",
};

const PROPAGATIONS: Links = Links {
    tab: "propagations",
    heading: "Propagations",
    create: "Create propagation",
    delete: "Delete propagation",
    create_verb: "create-propagation",
    delete_verb: "delete-propagation",
    get: "GetTransitGatewayRouteTablePropagations",
    set: "transitGatewayRouteTablePropagations",
    add_action: "EnableTransitGatewayRouteTablePropagation",
    remove_action: "DisableTransitGatewayRouteTablePropagation",
    choose: "Choose attachment to propagate",
    noun: "propagation",
    preposition: "to",
    explain: "An attachment that propagates to the route table adds routes to its CIDRs \
              there (a VPC's CIDRs; peering attachments carry static routes only).",
    added: "propagated",
    removed: "unpropagated",
};

/// `links`' attachments of table `id`.
fn linked(cx: &Cx<'_>, id: &str, links: &Links) -> Result<El, Failure> {
    cx.api.call1(links.get, "TransitGatewayRouteTableId", id)
}

/// `name=value`, escaped for a query.
fn query(name: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair(name, value).finish()
}

/// The columns of an attachment as associations, propagations and routes name it: `of`
/// finds it in a row.
fn attachment_columns<'a>(of: fn(&El) -> Option<&El>) -> Vec<html::Column<'a>> {
    let text = move |r: &El, name: &str| of(r).map_or(String::new(), |a| a.text(name).to_owned());
    vec![
        column("Attachment ID", move |r: &El| {
            html::link("transit-gateway-attachments", &text(r, "transitGatewayAttachmentId"))
        }),
        column("Resource type", move |r: &El| html::or_dash(&text(r, "resourceType"))),
        column("Resource ID", move |r: &El| {
            resource_link(&text(r, "resourceType"), &text(r, "resourceId"))
        }),
    ]
}

fn links_tab(cx: &Cx<'_>, base: &str, id: &str, links: &Links) -> Markup {
    let doc = match linked(cx, id, links) {
        Ok(doc) => doc,
        Err(f) => return html::error(&f),
    };
    let rows: Vec<&El> = doc.items(links.set).collect();
    let mut columns = attachment_columns(|r| Some(r));
    columns.push(column("State", |r: &El| html::state(r.text("state"))));
    columns.push(column("Actions", |r: &El| {
        let attachment = query("attachment", r.text("transitGatewayAttachmentId"));
        html! { a href=(format!("{base}/{}?{attachment}", links.delete_verb)) { (links.delete) } }
    }));
    html! {
        div.bar {
            h2 { (links.heading) " (" (rows.len()) ")" }
            a.button href=(format!("{base}/{}", links.create_verb)) { (links.create) }
        }
        p.hint { (links.explain) }
        (html::table(links.tab, &columns, &rows, ""))
    }
}

fn routes_tab(cx: &Cx<'_>, base: &str, id: &str) -> Markup {
    let mut params = filter_any("type", &["static", "propagated"]);
    params.push(("TransitGatewayRouteTableId".to_owned(), id.to_owned()));
    let doc = match cx.api.call("SearchTransitGatewayRoutes", &params) {
        Ok(doc) => doc,
        Err(f) => return html::error(&f),
    };
    let rows: Vec<&El> = doc.items("routeSet").collect();
    let mut columns = vec![column("CIDR", |r: &El| html! { (r.text("destinationCidrBlock")) })];
    columns.extend(attachment_columns(|r| r.items("transitGatewayAttachments").next()));
    columns.push(column("Route type", |r: &El| html! { (r.text("type")) }));
    columns.push(column("Route state", |r: &El| html::state(r.text("state"))));
    columns.push(column("Actions", |r: &El| {
        let cidr = query("cidr", r.text("destinationCidrBlock"));
        html! {
            @if r.text("type") == "static" {
                a href=(format!("{base}/delete-route?{cidr}")) { "Delete static route" }
            }
        }
    }));
    html! {
        div.bar {
            h2 { "Routes (" (rows.len()) ")" }
            a.button href=(format!("{base}/create-route")) { "Create static route" }
        }
        (html::table("routes", &columns, &rows, ""))
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let t = match load(cx, id, id) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let name = t.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let tab = match req.param("tab") {
        "" => "associations",
        tab => tab,
    };
    let attachment = req.param("attachment");
    let body = html! {
        (html::crumbs(SECTION, LABEL, id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!("Transit gateway route table {} was created successfully.", labelled(id, name)))),
            "associated" => (html::notice(&format!("Attachment {attachment} is now associated with {id}."))),
            "disassociated" => (html::notice(&format!("The association of {attachment} with {id} was deleted."))),
            "propagated" => (html::notice(&format!("Attachment {attachment} now propagates to {id}."))),
            "unpropagated" => (html::notice(&format!("The propagation of {attachment} to {id} was deleted."))),
            "route" => (html::notice(&format!("Static route {} was created.", req.param("cidr")))),
            "route-deleted" => (html::notice(&format!("Static route {} was deleted.", req.param("cidr")))),
            _ => {}
        }
        (html::bar(&title, html::actions(&[
            ("Create association", format!("{base}/create-association")),
            ("Create propagation", format!("{base}/create-propagation")),
            ("Create static route", format!("{base}/create-route")),
            ("Delete transit gateway route table", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Transit gateway route table ID", html! { (id) }),
            ("Transit gateway ID", html::link("transit-gateways", t.text("transitGatewayId"))),
            ("State", html::state(t.text("state"))),
            ("Default association route table", html! { (html::yes_no(t.text("defaultAssociationRouteTable"))) }),
            ("Default propagation route table", html! { (html::yes_no(t.text("defaultPropagationRouteTable"))) }),
            ("Creation time", html! { (t.text("creationTime")) }),
        ]))
        (html::tabs(&base, tab, &[("associations", "Associations"), ("propagations", "Propagations"), ("routes", "Routes"), ("tags", "Tags")]))
        @match tab {
            "propagations" => (links_tab(cx, &base, id, &PROPAGATIONS)),
            "routes" => (routes_tab(cx, &base, id)),
            "tags" => (html::tags_table(&t)),
            _ => (links_tab(cx, &base, id, &ASSOCIATIONS)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create transit gateway route table";
    let mut failure = None;
    if req.is_post() {
        let mut params = Vec::new();
        if !req.field("transit_gateway").is_empty() {
            params.push(("TransitGatewayId".to_owned(), req.field("transit_gateway").to_owned()));
        }
        if !req.field("name").is_empty() {
            let kind = "transit-gateway-route-table";
            params.extend(name_tag_at("TagSpecifications", kind, req.field("name")));
        }
        match cx.api.call("CreateTransitGatewayRouteTable", &params) {
            Ok(doc) => {
                let id = doc.at(&["transitGatewayRouteTable", "transitGatewayRouteTableId"]);
                return Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")));
            }
            Err(f) => failure = Some(f),
        }
    }
    let gateways = match choices::transit_gateways(cx) {
        Ok(g) => g,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let body = html! {
        (html::crumbs(SECTION, LABEL, "", title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(href("transit-gateway-route-tables/new")) {
            fieldset {
                legend { "Details" }
                (html::text_field("name", "Name tag - optional", req.value("name"), "Creates a tag with a key of 'Name' and the value you specify."))
                (html::select("transit_gateway", "Transit gateway ID", &gateways, req.value("transit_gateway")))
            }
            (html::form_actions(&href(SECTION), title))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

/// "Create association" and "Create propagation": an attachment of the table's transit
/// gateway that is not `links`' already.
fn add(cx: &Cx<'_>, id: &str, req: &Request, links: &Links) -> Outcome {
    let t = match load(cx, id, links.create) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let attachment = req.field("attachment");
    let mut failure = None;
    if req.is_post() {
        let params = [
            ("TransitGatewayRouteTableId".to_owned(), id.to_owned()),
            ("TransitGatewayAttachmentId".to_owned(), attachment.to_owned()),
        ];
        match cx.api.call(links.add_action, &params) {
            Ok(_) => {
                let attachment = query("attachment", attachment);
                return Outcome::Redirect(format!(
                    "{base}?tab={}&done={}&{attachment}",
                    links.tab, links.added
                ));
            }
            Err(f) => failure = Some(f),
        }
    }
    let options = linked(cx, id, links).and_then(|doc| {
        let have: Vec<&str> =
            doc.items(links.set).map(|a| a.text("transitGatewayAttachmentId")).collect();
        choices::tgw_attachments(cx, t.text("transitGatewayId"), |a| {
            !have.contains(&a.text("transitGatewayAttachmentId"))
        })
    });
    let options = match options {
        Ok(o) => o,
        Err(f) => return Outcome::failed(links.create, SECTION, &f),
    };
    let body = html! {
        (html::crumbs(SECTION, LABEL, id, links.create))
        h1 { (links.create) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/{}", links.create_verb)) {
            fieldset {
                legend { (links.heading) " of " (id) }
                p.hint { (links.explain) }
                (html::select("attachment", links.choose, &options, attachment))
            }
            (html::form_actions(&format!("{base}?tab={}", links.tab), links.create))
        }
    };
    Outcome::form(links.create, SECTION, body, failure.is_some())
}

/// "Delete association" and "Delete propagation" of the attachment the query names.
fn remove(cx: &Cx<'_>, id: &str, req: &Request, links: &Links) -> Outcome {
    if let Err(outcome) = load(cx, id, links.delete) {
        return outcome;
    }
    let attachment = req.param("attachment");
    let named = query("attachment", attachment);
    let verb = format!("{}?{named}", links.delete_verb);
    let done = format!("{SECTION}/{id}?tab={}&done={}&{named}", links.tab, links.removed);
    Confirm {
        section: SECTION,
        label: LABEL,
        id,
        title: links.delete,
        question: html! {
            p { "Delete the " (links.noun) " of attachment " strong { (attachment) } " "
                (links.preposition) " route table " strong { (id) } "?" }
        },
        verb: &verb,
        action: links.remove_action,
        id_param: "TransitGatewayRouteTableId",
        button: links.delete,
        done: href(&done),
        missing: None,
    }
    .run_with(cx, req, &[("TransitGatewayAttachmentId".to_owned(), attachment.to_owned())])
}

fn create_route(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Create static route";
    let t = match load(cx, id, title) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let blackhole = req.field("type") == "blackhole";
    let mut failure = None;
    if req.is_post() {
        let mut params = vec![
            ("TransitGatewayRouteTableId".to_owned(), id.to_owned()),
            ("DestinationCidrBlock".to_owned(), req.field("cidr").to_owned()),
        ];
        if blackhole {
            params.push(("Blackhole".to_owned(), "true".to_owned()));
        } else if !req.field("attachment").is_empty() {
            params.push((
                "TransitGatewayAttachmentId".to_owned(),
                req.field("attachment").to_owned(),
            ));
        }
        match cx.api.call("CreateTransitGatewayRoute", &params) {
            Ok(_) => {
                let done = format!("{base}?tab=routes&done=route");
                return Outcome::Redirect(format!("{done}&{}", query("cidr", req.field("cidr"))));
            }
            Err(f) => failure = Some(f),
        }
    }
    let options = match choices::tgw_attachments(cx, t.text("transitGatewayId"), |_| true) {
        Ok(o) => o,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let body = html! {
        (html::crumbs(SECTION, LABEL, id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/create-route")) {
            fieldset {
                legend { "Details" }
                (html::text_field("cidr", "CIDR", req.field("cidr"), "The destination, e.g. 10.1.0.0/16."))
                fieldset {
                    legend { "Type" }
                    input #type_active type="radio" name="type" value="active" checked[!blackhole];
                    label.inline for="type_active" { "Active" }
                    input #type_blackhole type="radio" name="type" value="blackhole" checked[blackhole];
                    label.inline for="type_blackhole" { "Blackhole" }
                    p.hint { "Active: traffic to the CIDR goes to the attachment chosen. Blackhole: it is dropped." }
                }
                (html::select("attachment", "Choose attachment", &options, req.field("attachment")))
            }
            (html::form_actions(&format!("{base}?tab=routes"), title))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn delete_route(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    if let Err(outcome) = load(cx, id, "Delete static route") {
        return outcome;
    }
    let cidr = req.param("cidr");
    let verb = format!("delete-route?{}", query("cidr", cidr));
    Confirm {
        section: SECTION,
        label: LABEL,
        id,
        title: "Delete static route",
        question: html! { p { "Delete the static route to " strong { (cidr) } " from " strong { (id) } "?" } },
        verb: &verb,
        action: "DeleteTransitGatewayRoute",
        id_param: "TransitGatewayRouteTableId",
        button: "Delete static route",
        done: href(&format!("{SECTION}/{id}?tab=routes&done=route-deleted&{}", query("cidr", cidr))),
        missing: None,
    }
    .run_with(cx, req, &[("DestinationCidrBlock".to_owned(), cidr.to_owned())])
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    if let Err(outcome) = load(cx, id, "Delete transit gateway route table") {
        return outcome;
    }
    Confirm {
        section: SECTION,
        label: LABEL,
        id,
        title: "Delete transit gateway route table",
        question: html! {
            p { "Delete the transit gateway route table " strong { (id) } "?" }
            p.hint { "A table with associations, or the transit gateway's default table, cannot be deleted: the API refuses." }
        },
        verb: "delete",
        action: "DeleteTransitGatewayRouteTable",
        id_param: "TransitGatewayRouteTableId",
        button: "Delete",
        done: href(SECTION),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, created, get, post, post_ok};

    /// A transit gateway with a VPC (10.0.0.0/16) attached: (gateway, its default route
    /// table, the attachment).
    fn hub(c: &Console) -> (String, String, String) {
        let tgw = created(c, "CreateTransitGateway", &[], &["transitGateway", "transitGatewayId"]);
        let vpc = created(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")], &["vpc", "vpcId"]);
        let subnet = created(
            c,
            "CreateSubnet",
            &[("VpcId", &vpc), ("CidrBlock", "10.0.1.0/24")],
            &["subnet", "subnetId"],
        );
        let attachment = created(
            c,
            "CreateTransitGatewayVpcAttachment",
            &[("TransitGatewayId", &tgw), ("VpcId", &vpc), ("SubnetIds.1", &subnet)],
            &["transitGatewayVpcAttachment", "transitGatewayAttachmentId"],
        );
        let doc = api(c, "DescribeTransitGateways", &[("TransitGatewayIds.1", &tgw)]);
        let g = doc.items("transitGatewaySet").next().unwrap();
        let default = g.at(&["options", "associationDefaultRouteTableId"]).to_owned();
        (tgw, default, attachment)
    }

    /// The attachments `get` lists for `table` (associations or propagations).
    fn listed(c: &Console, get: &str, set: &str, table: &str) -> Vec<String> {
        api(c, get, &[("TransitGatewayRouteTableId", table)])
            .items(set)
            .map(|a| a.text("transitGatewayAttachmentId").to_owned())
            .collect()
    }

    fn associations(c: &Console, table: &str) -> Vec<String> {
        listed(c, "GetTransitGatewayRouteTableAssociations", "associations", table)
    }

    /// The table's routes: (CIDR, type, state).
    fn routes(c: &Console, table: &str) -> Vec<(String, String, String)> {
        let params = [
            ("TransitGatewayRouteTableId", table),
            ("Filter.1.Name", "type"),
            ("Filter.1.Value.1", "static"),
            ("Filter.1.Value.2", "propagated"),
        ];
        api(c, "SearchTransitGatewayRoutes", &params)
            .items("routeSet")
            .map(|r| {
                let text = |n: &str| r.text(n).to_owned();
                (text("destinationCidrBlock"), text("type"), text("state"))
            })
            .collect()
    }

    #[test]
    fn a_route_table_its_associations_propagations_and_static_routes() {
        let c = console();
        let (tgw, default, attachment) = hub(&c);
        let list = get(&c, "/console/transit-gateway-route-tables");
        assert!(
            list.body.contains(&default)
                && list.body.contains("Create transit gateway route table")
        );
        assert!(list.body.contains(r#"aria-current="page">Transit gateway route tables"#));

        // Create: the API's error with the form as filled, then the table.
        let new = "/console/transit-gateway-route-tables/new";
        let form = get(&c, &format!("{new}?transit_gateway={tgw}"));
        assert!(
            form.body.contains(&format!(r#"<option value="{tgw}" selected>"#)),
            "{}",
            form.body
        );
        let refused = post(&c, new, &[("name", "spokes"), ("transit_gateway", "")]);
        assert_eq!(refused.status, 400);
        assert!(
            refused.body.contains("<code>MissingParameter</code>")
                && refused.body.contains(r#"value="spokes""#)
        );
        let page = post_ok(&c, new, &[("name", "spokes"), ("transit_gateway", &tgw)]);
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        assert!(page.body.contains("Associations (0)"), "{}", page.body);
        let doc = api(&c, "DescribeTransitGatewayRouteTables", &[]);
        let table = doc
            .items("transitGatewayRouteTables")
            .find(|t| t.name_tag() == "spokes")
            .expect("created")
            .text("transitGatewayRouteTableId")
            .to_owned();
        let base = format!("/console/transit-gateway-route-tables/{table}");
        let tab = get(&c, &format!("/console/transit-gateways/{tgw}?tab=route-tables"));
        assert!(tab.body.contains(&format!(r#"href="{base}">{table}</a>"#)), "{}", tab.body);
        assert!(tab.body.contains("Route tables (2)"));

        // The attachment is the default table's: associating it elsewhere is refused,
        // and the form keeps the choice.
        let form = get(&c, &format!("{base}/create-association"));
        assert!(form.body.contains(&format!(r#"<option value="{attachment}">"#)), "{}", form.body);
        assert!(form.body.contains(r#"<label for="attachment">Choose attachment to associate"#));
        let refused =
            post(&c, &format!("{base}/create-association"), &[("attachment", &attachment)]);
        assert_eq!(refused.status, 400);
        assert!(
            refused.body.contains("<code>Resource.AlreadyAssociated</code>"),
            "{}",
            refused.body
        );
        assert!(refused.body.contains(&format!(r#"<option value="{attachment}" selected>"#)));

        // "Delete association" on the default table, then "Create association" here.
        let defaults = get(&c, &format!("/console/transit-gateway-route-tables/{default}"));
        let delete = format!(
            "/console/transit-gateway-route-tables/{default}/delete-association?attachment={attachment}"
        );
        assert!(defaults.body.contains(&delete.replace('&', "&amp;")), "{}", defaults.body);
        let confirm = get(&c, &delete);
        assert!(confirm.body.contains(&format!(r#"action="{delete}""#)), "{}", confirm.body);
        let page = post_ok(&c, &delete, &[]);
        assert!(
            page.body
                .contains(&format!("The association of {attachment} with {default} was deleted.")),
            "{}",
            page.body
        );
        assert!(associations(&c, &default).is_empty());
        let page =
            post_ok(&c, &format!("{base}/create-association"), &[("attachment", &attachment)]);
        assert!(
            page.body.contains("is now associated with") && page.body.contains("Associations (1)"),
            "{}",
            page.body
        );
        assert_eq!(associations(&c, &table), [attachment.as_str()]);

        // A propagation: the VPC's CIDR shows among the routes.
        let page =
            post_ok(&c, &format!("{base}/create-propagation"), &[("attachment", &attachment)]);
        assert!(page.body.contains("Propagations (1)"), "{}", page.body);
        let page = get(&c, &format!("{base}?tab=routes"));
        assert!(
            page.body.contains("10.0.0.0/16") && page.body.contains("propagated"),
            "{}",
            page.body
        );

        // Static routes: a CIDR the API refuses (the form as filled), to the attachment,
        // and a blackhole.
        let create = format!("{base}/create-route");
        let form = get(&c, &create);
        assert!(
            form.body.contains(r#"<label for="cidr">CIDR"#)
                && form.body.contains(r#"for="type_blackhole""#)
        );
        let refused = post(
            &c,
            &create,
            &[("cidr", "10.9.0.0/33"), ("type", "active"), ("attachment", &attachment)],
        );
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>InvalidParameterValue</code>"), "{}", refused.body);
        assert!(refused.body.contains(r#"value="10.9.0.0/33""#));
        assert!(refused.body.contains(&format!(r#"<option value="{attachment}" selected>"#)));
        post_ok(
            &c,
            &create,
            &[("cidr", "10.9.0.0/16"), ("type", "active"), ("attachment", &attachment)],
        );
        let page = post_ok(
            &c,
            &create,
            &[("cidr", "10.8.0.0/16"), ("type", "blackhole"), ("attachment", &attachment)],
        );
        assert!(page.body.contains("Static route 10.8.0.0/16 was created."), "{}", page.body);
        let mut found = routes(&c, &table);
        found.sort();
        let route = |cidr: &str, kind: &str, state: &str| {
            (cidr.to_owned(), kind.to_owned(), state.to_owned())
        };
        assert_eq!(
            found,
            [
                route("10.0.0.0/16", "propagated", "active"),
                route("10.8.0.0/16", "static", "blackhole"),
                route("10.9.0.0/16", "static", "active"),
            ]
        );
        assert_eq!(page.body.matches(">Delete static route</a>").count(), 2, "static ones only");
        let delete = format!("{base}/delete-route?cidr=10.9.0.0%2F16");
        assert!(page.body.contains(&delete), "{}", page.body);
        let page = post_ok(&c, &delete, &[]);
        assert!(page.body.contains("Static route 10.9.0.0/16 was deleted."), "{}", page.body);
        assert_eq!(routes(&c, &table).len(), 2);

        // Delete propagation; the table with an association cannot be deleted; then it can.
        let unpropagate = format!("{base}/delete-propagation?attachment={attachment}");
        post_ok(&c, &unpropagate, &[]);
        let propagations = listed(
            &c,
            "GetTransitGatewayRouteTablePropagations",
            "transitGatewayRouteTablePropagations",
            &table,
        );
        assert!(propagations.is_empty());
        let refused = post(&c, &format!("{base}/delete"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>IncorrectState</code>"), "{}", refused.body);
        post_ok(&c, &format!("{base}/delete-association?attachment={attachment}"), &[]);
        let gone = post(&c, &format!("{base}/delete"), &[]);
        assert_eq!(gone.status, 303, "{}", gone.body);
        let doc = api(
            &c,
            "DescribeTransitGatewayRouteTables",
            &[("TransitGatewayRouteTableIds.1", &table)],
        );
        let state = doc.items("transitGatewayRouteTables").next().unwrap().text("state").to_owned();
        assert!(state.starts_with("delet"), "{state}");
        assert_eq!(
            get(&c, "/console/transit-gateway-route-tables/tgw-rtb-0000000000000000f").status,
            404
        );
    }
}
