//! Peering connections: the list, a connection's details, "Create peering connection",
//! "Accept request", "Reject request" and "Delete peering connection". ("Edit DNS
//! settings" needs ModifyVpcPeeringConnectionOptions, which vpclab does not have: the DNS
//! tab shows the settings only.)

use maud::{Markup, html};

use super::api::filter;
use super::choices;
use super::html::{self, column, href};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "peering-connections";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "accept"] => change(cx, id, req, &ACCEPT),
        [id, "reject"] => change(cx, id, req, &REJECT),
        [id, "delete"] => change(cx, id, req, &DELETE),
        _ => Outcome::NotFound,
    }
}

/// A side's CIDRs (`cidrBlockSet`, or its one `cidrBlock`), comma separated.
fn cidrs(info: Option<&El>) -> String {
    let Some(info) = info else { return String::new() };
    let all: Vec<&str> = info.items("cidrBlockSet").map(|c| c.text("cidrBlock")).collect();
    if all.is_empty() { info.text("cidrBlock").to_owned() } else { all.join(", ") }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let peerings = match cx.api.call("DescribeVpcPeeringConnections", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Peering connections", SECTION, &f),
    };
    let rows: Vec<&El> = peerings.items("vpcPeeringConnectionSet").collect();
    let columns = [
        column("Name", |p: &El| html::or_dash(p.name_tag())),
        column("Peering connection ID", |p: &El| {
            html::link(SECTION, p.text("vpcPeeringConnectionId"))
        }),
        column("Status", |p: &El| html::state(p.at(&["status", "code"]))),
        column("Requester VPC", |p: &El| html::link("vpcs", p.at(&["requesterVpcInfo", "vpcId"]))),
        column("Accepter VPC", |p: &El| html::link("vpcs", p.at(&["accepterVpcInfo", "vpcId"]))),
        column("Requester CIDRs", |p: &El| html::or_dash(&cidrs(p.child("requesterVpcInfo")))),
        column("Accepter CIDRs", |p: &El| html::or_dash(&cidrs(p.child("accepterVpcInfo")))),
    ];
    let body = html::list(
        "Peering connections",
        Some(("peering-connections/new", "Create peering connection")),
        "peering connections",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("Peering connections", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one(
        "DescribeVpcPeeringConnections",
        "VpcPeeringConnectionId.1",
        id,
        "vpcPeeringConnectionSet",
        |c| c.starts_with("InvalidVpcPeeringConnectionID"),
    )
}

/// The main route table of each VPC, by VPC.
fn main_tables(cx: &Cx<'_>) -> Vec<(String, String)> {
    cx.api.call("DescribeRouteTables", &filter("association.main", "true")).map_or_else(
        |_| Vec::new(),
        |doc| {
            doc.items("routeTableSet")
                .map(|t| (t.text("vpcId").to_owned(), t.text("routeTableId").to_owned()))
                .collect()
        },
    )
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let pcx = match describe(cx, id) {
        Ok(Some(p)) => p,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("peering-connections/{id}"));
    let name = pcx.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let (requester, accepter) = (pcx.child("requesterVpcInfo"), pcx.child("accepterVpcInfo"));
    let side = |info: Option<&El>, what: &str| info.map_or("", |i| i.text(what)).to_owned();
    let (requester_vpc, accepter_vpc) = (side(requester, "vpcId"), side(accepter, "vpcId"));
    let tab = match req.param("tab") {
        "" => "dns",
        t => t,
    };
    let body = html! {
        (html::crumbs(SECTION, "Peering connections", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!("A VPC peering connection {title} has been requested."))),
            "accepted" => (accepted_notice(cx, id, &requester_vpc, &accepter_vpc)),
            "rejected" => (html::notice(&format!("The VPC peering connection request {id} was rejected."))),
            "deleted" => (html::notice(&format!("The VPC peering connection {id} was deleted."))),
            _ => {}
        }
        (html::bar(&title, html::actions(&[
            ("Accept request", format!("{base}/accept")),
            ("Reject request", format!("{base}/reject")),
            ("Delete peering connection", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Peering connection ID", html! { (id) }),
            ("Status", html! { (html::state(pcx.at(&["status", "code"]))) " " (pcx.at(&["status", "message"])) }),
            ("Requester owner ID", html! { (side(requester, "ownerId")) }),
            ("Accepter owner ID", html! { (side(accepter, "ownerId")) }),
            ("Requester VPC", html::link("vpcs", &requester_vpc)),
            ("Accepter VPC", html::link("vpcs", &accepter_vpc)),
            ("Requester CIDRs", html::or_dash(&cidrs(requester))),
            ("Accepter CIDRs", html::or_dash(&cidrs(accepter))),
            ("Requester Region", html! { (side(requester, "region")) }),
            ("Accepter Region", html! { (side(accepter, "region")) }),
        ]))
        (html::tabs(&base, tab, &[("dns", "DNS"), ("route-tables", "Route tables"), ("tags", "Tags")]))
        @match tab {
            "route-tables" => (routes_to(cx, id)),
            "tags" => (html::tags_table(&pcx)),
            _ => (dns(requester, accepter)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

/// After "Accept request", as the console says it: add routes, in the two VPCs' main
/// route tables for instance.
fn accepted_notice(cx: &Cx<'_>, id: &str, requester: &str, accepter: &str) -> Markup {
    let tables = main_tables(cx);
    let main_of = |vpc: &str| tables.iter().find(|(v, _)| v == vpc).map_or("", |(_, t)| t.as_str());
    html! {
        div.flash.ok role="status" {
            p { "Your VPC peering connection (" (id) ") has been established." }
            p { "To send and receive traffic across this VPC peering connection, you must add a route \
                 to the peered VPC in one or more of your VPC route tables." }
            ul {
                @for (label, vpc) in [("Requester", requester), ("Accepter", accepter)] {
                    li {
                        (label) " VPC " (vpc) ": main route table "
                        @match main_of(vpc) {
                            "" => "–",
                            table => a href=(href(&format!("route-tables/{table}"))) { (table) },
                        }
                    }
                }
            }
        }
    }
}

fn dns(requester: Option<&El>, accepter: Option<&El>) -> Markup {
    let allowed = |info: Option<&El>| {
        let on = info.map_or("", |i| i.at(&["peeringOptions", "allowDnsResolutionFromRemoteVpc"]));
        if on == "true" { "Enabled" } else { "Disabled" }
    };
    html! {
        (html::details(&[
            ("Requester DNS resolution", html! { (allowed(requester)) }),
            ("Accepter DNS resolution", html! { (allowed(accepter)) }),
        ]))
        p.hint { "Allows the VPC to resolve public DNS hostnames of the peer VPC's instances to private \
                  addresses. vpclab cannot change these settings (no ModifyVpcPeeringConnectionOptions)." }
    }
}

/// The routes that send traffic over the connection, by route table.
fn routes_to(cx: &Cx<'_>, id: &str) -> Markup {
    let doc =
        match cx.api.call("DescribeRouteTables", &filter("route.vpc-peering-connection-id", id)) {
            Ok(doc) => doc,
            Err(f) => return html::error(&f),
        };
    let rows: Vec<(&El, &El)> = doc
        .items("routeTableSet")
        .flat_map(|t| {
            t.items("routeSet")
                .filter(|r| r.text("vpcPeeringConnectionId") == id)
                .map(move |r| (t, r))
        })
        .collect();
    html! {
        @if rows.is_empty() {
            p.empty { "No route tables route to this peering connection yet." }
        } @else {
            table.list aria-label="Route tables" {
                thead { tr {
                    th scope="col" { "Route table ID" } th scope="col" { "VPC" }
                    th scope="col" { "Destination" } th scope="col" { "Status" }
                } }
                tbody {
                    @for (t, r) in &rows {
                        tr {
                            td { (html::link("route-tables", t.text("routeTableId"))) }
                            td { (html::link("vpcs", t.text("vpcId"))) }
                            td { (r.text("destinationCidrBlock")) }
                            td { (html::state(r.text("state"))) }
                        }
                    }
                }
            }
        }
    }
}

fn create_form(req: &Request, vpcs: &[(String, String)], failure: Option<&Failure>) -> Markup {
    html! {
        (html::crumbs(SECTION, "Peering connections", "", "Create peering connection"))
        h1 { "Create peering connection" }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("peering-connections/new")) {
            fieldset {
                legend { "Peering connection settings" }
                (html::text_field("name", "Name - optional", req.field("name"), "Creates a tag with a key of 'Name' and the value you specify."))
                (html::select("requester", "VPC ID (Requester)", vpcs, req.field("requester")))
                p.hint { "Select the local VPC to peer with." }
            }
            fieldset {
                legend { "Select another VPC to peer with" }
                fieldset {
                    legend { "Account" }
                    input #account_mine type="radio" name="account" value="mine" checked;
                    label.inline for="account_mine" { "My account" }
                    input #account_other type="radio" name="account" value="other" disabled;
                    label.inline for="account_other" { "Another account" }
                }
                fieldset {
                    legend { "Region" }
                    input #region_this type="radio" name="region" value="this" checked;
                    label.inline for="region_this" { "This Region (us-east-1)" }
                    input #region_other type="radio" name="region" value="other" disabled;
                    label.inline for="region_other" { "Another Region" }
                }
                p.hint { "A lab is one account in one Region." }
                (html::select("accepter", "VPC ID (Accepter)", vpcs, req.field("accepter")))
            }
            (html::form_actions(&href(SECTION), "Create peering connection"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create peering connection";
    let mut failure = None;
    if req.is_post() {
        let mut params = Vec::new();
        for (field, param) in [("requester", "VpcId"), ("accepter", "PeerVpcId")] {
            if !req.field(field).is_empty() {
                params.push((param.to_owned(), req.field(field).to_owned()));
            }
        }
        if !req.field("name").is_empty() {
            params.extend(name_tag("vpc-peering-connection", req.field("name")));
        }
        match cx.api.call("CreateVpcPeeringConnection", &params) {
            Ok(doc) => {
                let id = doc.at(&["vpcPeeringConnection", "vpcPeeringConnectionId"]);
                return Outcome::Redirect(href(&format!("peering-connections/{id}?done=created")));
            }
            Err(f) => failure = Some(f),
        }
    }
    let vpcs = match choices::vpcs_with_cidr(cx) {
        Ok(v) => v,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    Outcome::form(title, SECTION, create_form(req, &vpcs, failure.as_ref()), failure.is_some())
}

/// A change of a connection's state, behind its confirmation.
struct Change {
    verb: &'static str,
    title: &'static str,
    button: &'static str,
    action: &'static str,
    done: &'static str,
    question: &'static str,
}

const ACCEPT: Change = Change {
    verb: "accept",
    title: "Accept VPC peering connection request",
    button: "Accept request",
    action: "AcceptVpcPeeringConnection",
    done: "accepted",
    question: "Accept the request? Once active, each VPC can route to the other's CIDRs through it.",
};

const REJECT: Change = Change {
    verb: "reject",
    title: "Reject VPC peering connection request",
    button: "Reject request",
    action: "RejectVpcPeeringConnection",
    done: "rejected",
    question: "Reject the request? A rejected request cannot be accepted later.",
};

const DELETE: Change = Change {
    verb: "delete",
    title: "Delete VPC peering connection",
    button: "Delete",
    action: "DeleteVpcPeeringConnection",
    done: "deleted",
    question: "Delete the connection? Routes to it become blackholes.",
};

fn change(cx: &Cx<'_>, id: &str, req: &Request, change: &Change) -> Outcome {
    let pcx = match describe(cx, id) {
        Ok(Some(p)) => p,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(change.title, SECTION, &f),
    };
    let base = href(&format!("peering-connections/{id}"));
    let mut failure = None;
    if req.is_post() {
        // The routes first (while the connection still exists to retry on), then it.
        let routes = if change.verb == "delete" && req.field("delete_routes") == "on" {
            delete_routes(cx, id)
        } else {
            Ok(())
        };
        let result = routes
            .and_then(|()| cx.api.call1(change.action, "VpcPeeringConnectionId", id).map(|_| ()));
        match result {
            Ok(()) => return Outcome::Redirect(format!("{base}?done={}", change.done)),
            Err(f) => failure = Some(f),
        }
    }
    let requester = pcx.at(&["requesterVpcInfo", "vpcId"]);
    let accepter = pcx.at(&["accepterVpcInfo", "vpcId"]);
    let body = html! {
        (html::crumbs(SECTION, "Peering connections", id, change.title))
        h1 { (change.title) }
        @if let Some(f) = &failure { (html::error(f)) }
        (html::confirm(
            html! {
                (html::details(&[
                    ("Peering connection ID", html! { (id) }),
                    ("Status", html::state(pcx.at(&["status", "code"]))),
                    ("Requester VPC", html! { (requester) " (" (cidrs(pcx.child("requesterVpcInfo"))) ")" }),
                    ("Accepter VPC", html! { (accepter) " (" (cidrs(pcx.child("accepterVpcInfo"))) ")" }),
                ]))
                p { (change.question) }
                @if change.verb == "delete" {
                    p {
                        input #delete_routes type="checkbox" name="delete_routes";
                        label.inline for="delete_routes" { "Delete related route table entries" }
                    }
                }
            },
            &format!("{base}/{}", change.verb),
            change.button,
            &base,
        ))
    };
    Outcome::form(change.title, SECTION, body, failure.is_some())
}

/// Deletes the routes to connection `id`, in every route table.
fn delete_routes(cx: &Cx<'_>, id: &str) -> Result<(), Failure> {
    let doc = cx.api.call("DescribeRouteTables", &filter("route.vpc-peering-connection-id", id))?;
    for t in doc.items("routeTableSet") {
        for r in t.items("routeSet").filter(|r| r.text("vpcPeeringConnectionId") == id) {
            // A route to a prefix list is named by the list.
            let destination = match r.text("destinationPrefixListId") {
                "" => ("DestinationCidrBlock", r.text("destinationCidrBlock")),
                list => ("DestinationPrefixListId", list),
            };
            let params = [
                ("RouteTableId".to_owned(), t.text("routeTableId").to_owned()),
                (destination.0.to_owned(), destination.1.to_owned()),
            ];
            cx.api.call("DeleteRoute", &params)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, get, post, post_ok};

    fn vpc(c: &Console, cidr: &str, name: &str) -> String {
        let doc = api(
            c,
            "CreateVpc",
            &[
                ("CidrBlock", cidr),
                ("TagSpecification.1.ResourceType", "vpc"),
                ("TagSpecification.1.Tag.1.Key", "Name"),
                ("TagSpecification.1.Tag.1.Value", name),
            ],
        );
        doc.at(&["vpc", "vpcId"]).to_owned()
    }

    fn status(c: &Console, id: &str) -> String {
        let doc = api(c, "DescribeVpcPeeringConnections", &[("VpcPeeringConnectionId.1", id)]);
        doc.items("vpcPeeringConnectionSet").next().unwrap().at(&["status", "code"]).to_owned()
    }

    fn main_table(c: &Console, vpc: &str) -> String {
        let doc = api(
            c,
            "DescribeRouteTables",
            &[
                ("Filter.1.Name", "vpc-id"),
                ("Filter.1.Value.1", vpc),
                ("Filter.2.Name", "association.main"),
                ("Filter.2.Value.1", "true"),
            ],
        );
        doc.items("routeTableSet").next().unwrap().text("routeTableId").to_owned()
    }

    #[test]
    fn the_seeds_part_6_create_then_accept() {
        let c = console();
        let requester = vpc(&c, "10.1.0.0/16", "requester");
        let accepter = vpc(&c, "10.2.0.0/16", "accepter");
        let form = get(&c, "/console/peering-connections/new");
        assert!(
            form.body.contains("VPC ID (Requester)") && form.body.contains("VPC ID (Accepter)")
        );
        assert!(form.body.contains("My account") && form.body.contains("This Region (us-east-1)"));
        assert!(form.body.contains(&format!(
            r#"<option value="{accepter}">{accepter} (accepter) | 10.2.0.0/16</option>"#
        )));

        let page = post_ok(
            &c,
            "/console/peering-connections/new",
            &[
                ("name", "lab-peering"),
                ("requester", &requester),
                ("account", "mine"),
                ("region", "this"),
                ("accepter", &accepter),
            ],
        );
        let doc = api(&c, "DescribeVpcPeeringConnections", &[]);
        let pcx = doc.items("vpcPeeringConnectionSet").next().unwrap();
        let id = pcx.text("vpcPeeringConnectionId").to_owned();
        assert_eq!(pcx.name_tag(), "lab-peering");
        assert_eq!(pcx.at(&["requesterVpcInfo", "vpcId"]), requester);
        assert_eq!(pcx.at(&["accepterVpcInfo", "vpcId"]), accepter);
        assert_eq!(status(&c, &id), "pending-acceptance");
        assert!(page.body.contains("has been requested"), "{}", page.body);
        assert!(page.body.contains("Accept request"));
        let list = get(&c, "/console/peering-connections");
        assert!(
            list.body.contains(&id)
                && list.body.contains("10.1.0.0/16")
                && list.body.contains("10.2.0.0/16")
        );

        // Actions › Accept request, then "Accept request" on the popup.
        let confirm = get(&c, &format!("/console/peering-connections/{id}/accept"));
        assert!(confirm.body.contains(">Accept request</button>"), "{}", confirm.body);
        let page = post_ok(&c, &format!("/console/peering-connections/{id}/accept"), &[]);
        assert_eq!(status(&c, &id), "active");
        assert!(page.body.contains("has been established"), "{}", page.body);
        for vpc in [&requester, &accepter] {
            let table = main_table(&c, vpc);
            assert!(
                page.body.contains(&format!(r#"<a href="/console/route-tables/{table}">"#)),
                "{table}"
            );
        }

        // The seed's routes, then the Route tables tab shows them.
        let table = main_table(&c, &accepter);
        api(
            &c,
            "CreateRoute",
            &[
                ("RouteTableId", &table),
                ("DestinationCidrBlock", "10.1.0.0/16"),
                ("VpcPeeringConnectionId", &id),
            ],
        );
        let tab = get(&c, &format!("/console/peering-connections/{id}?tab=route-tables"));
        assert!(tab.body.contains(&table) && tab.body.contains("10.1.0.0/16"), "{}", tab.body);

        // Accepting twice: the API's error, on the confirmation.
        let again = post(&c, &format!("/console/peering-connections/{id}/accept"), &[]);
        assert_eq!(again.status, 400);
        assert!(again.body.contains("<code>InvalidStateTransition</code>"), "{}", again.body);

        // Delete, with the routes to it.
        post_ok(
            &c,
            &format!("/console/peering-connections/{id}/delete"),
            &[("delete_routes", "on")],
        );
        assert_eq!(status(&c, &id), "deleted");
        let routes = api(&c, "DescribeRouteTables", &[("RouteTableId.1", &table)]);
        let t = routes.items("routeTableSet").next().unwrap();
        assert!(t.items("routeSet").all(|r| r.text("vpcPeeringConnectionId").is_empty()));
    }

    #[test]
    fn reject_and_the_apis_errors_on_the_form() {
        let c = console();
        let a = vpc(&c, "10.1.0.0/16", "a");
        let b = vpc(&c, "10.2.0.0/16", "b");
        let same = post(
            &c,
            "/console/peering-connections/new",
            &[("name", "self"), ("requester", &a), ("accepter", &a)],
        );
        assert_eq!(same.status, 400);
        assert!(same.body.contains("<code>InvalidParameterValue</code>"), "{}", same.body);
        assert!(
            same.body.contains(&format!(r#"<option value="{a}" selected>"#))
                && same.body.contains(r#"value="self""#)
        );
        let missing =
            post(&c, "/console/peering-connections/new", &[("requester", &a), ("accepter", "")]);
        assert_eq!(missing.status, 400);
        assert!(missing.body.contains("<code>MissingParameter</code>"), "{}", missing.body);

        let page =
            post_ok(&c, "/console/peering-connections/new", &[("requester", &a), ("accepter", &b)]);
        let doc = api(&c, "DescribeVpcPeeringConnections", &[]);
        let id = doc
            .items("vpcPeeringConnectionSet")
            .next()
            .unwrap()
            .text("vpcPeeringConnectionId")
            .to_owned();
        assert!(page.body.contains(&id));
        let confirm = get(&c, &format!("/console/peering-connections/{id}/reject"));
        assert!(confirm.body.contains(">Reject request</button>"));
        let page = post_ok(&c, &format!("/console/peering-connections/{id}/reject"), &[]);
        assert!(page.body.contains("was rejected"));
        assert_eq!(status(&c, &id), "rejected");
        assert_eq!(get(&c, "/console/peering-connections/pcx-00000000000000000").status, 404);
    }
}
