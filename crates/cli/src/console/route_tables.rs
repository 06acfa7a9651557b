//! Route tables: the list, a table's details (routes, subnet associations, route
//! propagation, tags), "Create route table", "Edit routes", "Edit subnet associations",
//! "Edit route propagation", "Set main route table", "Delete route table".
//!
//! "Edit routes" works without JavaScript: "Add route" and "Remove" post the form, which
//! comes back with one row more or less (nothing saved); with JavaScript they add and drop
//! rows in place (`data-add-row`, `data-remove-row`). "Save changes" compares the rows
//! with the table's routes and calls DeleteRoute, ReplaceRoute and CreateRoute for the
//! differences.

use maud::{Markup, html};

use super::api::{filter, filters};
use super::choices::{self, labelled, option};
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::rows::{self, Press, pressed};
use super::vpcs::name_tag;
use super::vpn_gateways;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "route-tables";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "routes"] => edit_routes(cx, id, req),
        [id, "associations"] => edit_associations(cx, id, req),
        [id, "propagation"] => edit_propagation(cx, id, req),
        [id, "main"] => set_main(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// Whether `t` is its VPC's main route table.
pub(super) fn is_main(t: &El) -> bool {
    t.items("associationSet").any(|a| a.text("main") == "true")
}

/// A table's explicit subnet associations.
fn explicit(t: &El) -> impl Iterator<Item = &El> {
    t.items("associationSet").filter(|a| a.text("main") != "true" && !a.text("subnetId").is_empty())
}

/// A route's destination: its CIDR, or its prefix list.
fn destination(r: &El) -> &str {
    match r.text("destinationCidrBlock") {
        "" => r.text("destinationPrefixListId"),
        cidr => cidr,
    }
}

/// A route's target (a route to an instance names the instance, as the console shows it).
fn target(r: &El) -> &str {
    const TARGETS: &[&str] = &[
        "gatewayId",
        "natGatewayId",
        "vpcPeeringConnectionId",
        "transitGatewayId",
        "instanceId",
        "networkInterfaceId",
        "egressOnlyInternetGatewayId",
        "localGatewayId",
        "carrierGatewayId",
    ];
    TARGETS.iter().map(|name| r.text(name)).find(|v| !v.is_empty()).unwrap_or("")
}

/// Routes the console does not edit: the local route, and those a gateway endpoint adds
/// (to its service's prefix list).
fn read_only(r: &El) -> bool {
    let t = target(r);
    t == "local" || t.starts_with("vpce-") || !r.text("destinationPrefixListId").is_empty()
}

/// A route target, linked to its page when it has one.
fn target_link(target: &str) -> Markup {
    let kind = match target.split_once('-').map_or("", |(prefix, _)| prefix) {
        "igw" => "internet-gateways",
        "nat" => "nat-gateways",
        "pcx" => "peering-connections",
        "i" => "instances",
        "tgw" => "transit-gateways",
        "vpce" => "endpoints",
        _ => return html::or_dash(target),
    };
    html::link(kind, target)
}

/// The API parameter naming a route's target.
fn target_parameter(target: &str) -> &'static str {
    match target.split_once('-').map_or("", |(prefix, _)| prefix) {
        "nat" => "NatGatewayId",
        "pcx" => "VpcPeeringConnectionId",
        "i" => "InstanceId",
        "eni" => "NetworkInterfaceId",
        "tgw" => "TransitGatewayId",
        _ => "GatewayId",
    }
}

/// A route table's routes: Destination, Target, Status, Propagated.
pub(super) fn routes_table(t: &El) -> Markup {
    let routes: Vec<&El> = t.items("routeSet").collect();
    html! {
        table.list aria-label="Routes" {
            thead { tr {
                th scope="col" { "Destination" } th scope="col" { "Target" }
                th scope="col" { "Status" } th scope="col" { "Propagated" }
            } }
            tbody {
                @for r in &routes {
                    tr {
                        td { (destination(r)) }
                        td { (target_link(target(r))) }
                        td { (html::state(r.text("state"))) }
                        td { (propagated(r)) }
                    }
                }
            }
        }
    }
}

fn propagated(r: &El) -> &'static str {
    if r.text("origin") == "EnableVgwRoutePropagation" { "Yes" } else { "No" }
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one("DescribeRouteTables", "RouteTableId.1", id, "routeTableSet", |c| {
        c.starts_with("InvalidRouteTableID")
    })
}

/// The table `id`, or the page to answer instead.
fn load(cx: &Cx<'_>, id: &str, title: &str) -> Result<El, Outcome> {
    match describe(cx, id) {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(Outcome::NotFound),
        Err(f) => Err(Outcome::failed(title, SECTION, &f)),
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let (tables, vpcs) =
        match (cx.api.call("DescribeRouteTables", &[]), cx.api.call("DescribeVpcs", &[])) {
            (Ok(t), Ok(v)) => (t, v),
            (Err(f), _) | (_, Err(f)) => return Outcome::failed("Route tables", SECTION, &f),
        };
    let vpc_name = |id: &str| {
        vpcs.items("vpcSet").find(|v| v.text("vpcId") == id).map_or("", El::name_tag).to_owned()
    };
    let rows: Vec<&El> = tables.items("routeTableSet").collect();
    let columns = [
        column("Name", |t: &El| html::or_dash(t.name_tag())),
        column("Route table ID", |t: &El| html::link(SECTION, t.text("routeTableId"))),
        column("Explicit subnet associations", |t: &El| {
            let subnets: Vec<&str> = explicit(t).map(|a| a.text("subnetId")).collect();
            html::links("subnets", &subnets)
        }),
        column("Main", |t: &El| html! { (if is_main(t) { "Yes" } else { "No" }) }),
        column("VPC", |t: &El| {
            let (vpc, name) = (t.text("vpcId"), vpc_name(t.text("vpcId")));
            html! { (html::link("vpcs", vpc)) @if !name.is_empty() { " | " (name) } }
        }),
        column("Owner ID", |t: &El| html! { (t.text("ownerId")) }),
    ];
    let deleted = req.param("deleted");
    let body = html! {
        @if !deleted.is_empty() { (html::notice(&format!("Route table {deleted} was deleted."))) }
        (html::list("Route tables", Some(("route-tables/new", "Create route table")), "route tables", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Route tables", SECTION, body))
}

fn create_form(req: &Request, vpcs: &[(String, String)], failure: Option<&Failure>) -> Markup {
    html! {
        (html::crumbs(SECTION, "Route tables", "", "Create route table"))
        h1 { "Create route table" }
        p { "A route table specifies how packets are forwarded between the subnets within your VPC, \
             the internet, and your VPN connection." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("route-tables/new")) {
            fieldset {
                legend { "Route table settings" }
                (html::text_field("name", "Name - optional", req.field("name"),
                    "Create a tag with a key of 'Name' and a value that you specify."))
                (html::select("vpc", "VPC", vpcs, req.value("vpc")))
                @if vpcs.is_empty() {
                    p.hint { "There is no VPC yet. " a href=(href("vpcs/new")) { "Create VPC" } }
                } @else {
                    p.hint { "The VPC to use for this route table." }
                }
            }
            (html::form_actions(&href(SECTION), "Create route table"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create route table";
    let vpcs = match choices::vpcs(cx) {
        Ok(vpcs) => vpcs,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, create_form(req, &vpcs, None)));
    }
    let mut params = vec![("VpcId".to_owned(), req.field("vpc").to_owned())];
    let name = req.field("name");
    if !name.is_empty() {
        params.extend(name_tag("route-table", name));
    }
    match cx.api.call("CreateRouteTable", &params) {
        Ok(doc) => {
            let id = doc.at(&["routeTable", "routeTableId"]);
            Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")))
        }
        Err(f) => {
            Outcome::Status(400, html::page(title, SECTION, create_form(req, &vpcs, Some(&f))))
        }
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let t = match load(cx, id, id) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let name = t.name_tag();
    let vpc = t.text("vpcId");
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let tab = match req.param("tab") {
        "" => "routes",
        tab => tab,
    };
    let associated: Vec<&str> = explicit(&t).map(|a| a.text("subnetId")).collect();
    let body = html! {
        (html::crumbs(SECTION, "Route tables", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!("Route table {} was created successfully.", labelled(id, name)))),
            "routes" => (html::notice(&format!("Updated routes for {id} successfully."))),
            "associations" => (html::notice(&format!("You have successfully updated subnet associations for {id}."))),
            "main" => (html::notice(&format!("{id} is now the main route table of {vpc}."))),
            "propagation" => (html::notice(&format!("You have successfully updated route propagation for {id}."))),
            _ => {}
        }
        (html::bar(&title, html::actions(&[
            ("Edit routes", format!("{base}/routes")),
            ("Edit subnet associations", format!("{base}/associations")),
            ("Edit route propagation", format!("{base}/propagation")),
            ("Set main route table", format!("{base}/main")),
            ("Delete route table", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Route table ID", html! { (id) }),
            ("Main", html! { (if is_main(&t) { "Yes" } else { "No" }) }),
            ("Explicit subnet associations", html::links("subnets", &associated)),
            ("Edge associations", html! { "–" }),
            ("VPC", html::link("vpcs", vpc)),
            ("Owner ID", html! { (t.text("ownerId")) }),
        ]))
        (html::tabs(&base, tab, &[("routes", "Routes"), ("subnet-associations", "Subnet associations"), ("route-propagation", "Route propagation"), ("tags", "Tags")]))
        @match tab {
            "subnet-associations" => (associations_tab(cx, &t, &base)),
            "route-propagation" => (propagation_tab(cx, &t, &base)),
            "tags" => (html::tags_table(&t)),
            _ => {
                div.bar {
                    h2 { "Routes (" (t.items("routeSet").count()) ")" }
                    a.button href=(format!("{base}/routes")) { "Edit routes" }
                }
                (routes_table(&t))
            }
        }
    };
    Outcome::Page(html::page(id, SECTION, body))
}

/// The VPC's subnets and route tables.
fn vpc_subnets_and_tables(cx: &Cx<'_>, vpc: &str) -> Result<(El, El), Failure> {
    let in_vpc = filter("vpc-id", vpc);
    Ok((cx.api.call("DescribeSubnets", &in_vpc)?, cx.api.call("DescribeRouteTables", &in_vpc)?))
}

/// The explicit association of subnet `subnet` among `tables`: (table, association).
fn association_of<'a>(tables: &'a El, subnet: &str) -> Option<(&'a str, &'a str)> {
    tables.items("routeTableSet").find_map(|t| {
        explicit(t)
            .find(|a| a.text("subnetId") == subnet)
            .map(|a| (t.text("routeTableId"), a.text("routeTableAssociationId")))
    })
}

fn subnet_columns<'a>() -> [html::Column<'a>; 3] {
    [
        column("Name", |s: &El| html::or_dash(s.name_tag())),
        column("Subnet ID", |s: &El| html::link("subnets", s.text("subnetId"))),
        column("IPv4 CIDR", |s: &El| html! { (s.text("cidrBlock")) }),
    ]
}

fn associations_tab(cx: &Cx<'_>, t: &El, base: &str) -> Markup {
    let (subnets, tables) = match vpc_subnets_and_tables(cx, t.text("vpcId")) {
        Ok(both) => both,
        Err(f) => return html::error(&f),
    };
    let mine: Vec<&str> = explicit(t).map(|a| a.text("subnetId")).collect();
    let associated: Vec<&El> =
        subnets.items("subnetSet").filter(|s| mine.contains(&s.text("subnetId"))).collect();
    let without: Vec<&El> = subnets
        .items("subnetSet")
        .filter(|s| association_of(&tables, s.text("subnetId")).is_none())
        .collect();
    html! {
        div.bar {
            h2 { "Explicit subnet associations (" (associated.len()) ")" }
            a.button href=(format!("{base}/associations")) { "Edit subnet associations" }
        }
        (html::table("explicit subnet associations", &subnet_columns(), &associated, ""))
        h2 { "Subnets without explicit associations (" (without.len()) ")" }
        p { "The following subnets have not been explicitly associated with any route tables \
             and are therefore associated with the main route table:" }
        (html::table("subnets without explicit associations", &subnet_columns(), &without, ""))
    }
}

/// The virtual private gateways attached to the table's VPC, and whether the table
/// takes each one's routes.
fn propagations(cx: &Cx<'_>, t: &El) -> Result<Vec<(String, String, bool)>, Failure> {
    let vpc = t.text("vpcId");
    let gateways = cx.api.call("DescribeVpnGateways", &filter("attachment.vpc-id", vpc))?;
    let on: Vec<&str> = t.items("propagatingVgwSet").map(|p| p.text("gatewayId")).collect();
    Ok(gateways
        .items("vpnGatewaySet")
        .filter(|g| vpn_gateways::attached_vpc(g) == vpc)
        .map(|g| {
            let id = g.text("vpnGatewayId");
            (id.to_owned(), labelled(id, g.name_tag()), on.contains(&id))
        })
        .collect())
}

fn propagation_tab(cx: &Cx<'_>, t: &El, base: &str) -> Markup {
    let gateways = match propagations(cx, t) {
        Ok(gateways) => gateways,
        Err(f) => return html::error(&f),
    };
    html! {
        div.bar {
            h2 { "Route propagation (" (gateways.len()) ")" }
            a.button href=(format!("{base}/propagation")) { "Edit route propagation" }
        }
        @if gateways.is_empty() {
            p.empty { "No virtual private gateway is attached to this table's VPC." }
        } @else {
            table.list aria-label="Route propagation" {
                thead { tr { th scope="col" { "Virtual private gateway" } th scope="col" { "Propagation" } } }
                tbody {
                    @for (id, _, on) in &gateways {
                        tr { td { (html::link("vpn-gateways", id)) } td { (if *on { "Yes" } else { "No" }) } }
                    }
                }
            }
        }
    }
}

/// "Edit route propagation": a box per virtual private gateway attached to the VPC;
/// saving enables or disables what changed.
fn edit_propagation(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Edit route propagation";
    let t = match load(cx, id, title) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let gateways = match propagations(cx, &t) {
        Ok(gateways) => gateways,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let base = href(&format!("{SECTION}/{id}"));
    let field = |vgw: &str| format!("propagate-{vgw}");
    let mut failure = None;
    if req.is_post() {
        for (vgw, _, on) in &gateways {
            let wanted = req.field(&field(vgw)) == "on";
            if wanted == *on {
                continue;
            }
            let action =
                if wanted { "EnableVgwRoutePropagation" } else { "DisableVgwRoutePropagation" };
            let params =
                [("GatewayId".to_owned(), vgw.clone()), ("RouteTableId".to_owned(), id.to_owned())];
            if let Err(f) = cx.api.call(action, &params) {
                failure = Some(f);
                break;
            }
        }
        if failure.is_none() {
            return Outcome::Redirect(format!("{base}?tab=route-propagation&done=propagation"));
        }
    }
    let body = html! {
        (html::crumbs(SECTION, "Route tables", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/propagation")) {
            fieldset {
                legend { "Route propagation" }
                p { "A virtual private gateway's routes (its VPN connections' static routes and \
                     the routes BGP learns) are propagated into the table while enabled." }
                @if gateways.is_empty() {
                    p.empty { "No virtual private gateway is attached to this table's VPC. "
                        a href=(href("vpn-gateways")) { "Virtual private gateways" } }
                }
                @for (vgw, label, on) in &gateways {
                    (html::checkbox(&field(vgw), &format!("Enable propagation from {label}"),
                        if req.is_post() { req.field(&field(vgw)) == "on" } else { *on }))
                }
            }
            (html::form_actions(&format!("{base}?tab=route-propagation"), "Save"))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

/// One row of "Edit routes".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Row {
    destination: String,
    target: String,
}

impl Row {
    fn is_blank(&self) -> bool {
        self.destination.is_empty() && self.target.is_empty()
    }
}

/// The rows as posted: `destination` and `target`, repeated per row, in order.
fn posted_rows(req: &Request) -> Vec<Row> {
    let posted = rows::posted(req, ["destination", "target"]);
    posted.into_iter().map(|[destination, target]| Row { destination, target }).collect()
}

/// What a route may lead to in VPC `vpc`, grouped as the console's target list:
/// (group, [(id, text)]).
fn targets(cx: &Cx<'_>, vpc: &str) -> Vec<(&'static str, Vec<(String, String)>)> {
    let call =
        |action: &str, params: &[(String, String)]| cx.api.call(action, params).unwrap_or_default();
    let in_vpc = filter("vpc-id", vpc);

    let igws = call("DescribeInternetGateways", &filter("attachment.vpc-id", vpc));
    let igws = igws
        .items("internetGatewaySet")
        .map(|g| option(g.text("internetGatewayId"), g.name_tag()))
        .collect();

    let nats = call("DescribeNatGateways", &in_vpc);
    let nats = nats
        .items("natGatewaySet")
        .filter(|n| matches!(n.text("state"), "pending" | "available"))
        .map(|n| option(n.text("natGatewayId"), n.name_tag()))
        .collect();

    let peerings = call("DescribeVpcPeeringConnections", &[]);
    let peerings = peerings
        .items("vpcPeeringConnectionSet")
        .filter(|p| matches!(p.at(&["status", "code"]), "active" | "pending-acceptance"))
        .filter(|p| {
            p.at(&["requesterVpcInfo", "vpcId"]) == vpc
                || p.at(&["accepterVpcInfo", "vpcId"]) == vpc
        })
        .map(|p| option(p.text("vpcPeeringConnectionId"), p.name_tag()))
        .collect();

    let reservations = call("DescribeInstances", &in_vpc);
    let instances = reservations
        .items("reservationSet")
        .flat_map(|r| r.items("instancesSet"))
        .filter(|i| !matches!(i.at(&["instanceState", "name"]), "terminated" | "shutting-down"))
        .map(|i| option(i.text("instanceId"), i.name_tag()))
        .collect();

    let enis = call("DescribeNetworkInterfaces", &in_vpc);
    let enis = enis
        .items("networkInterfaceSet")
        .map(|e| {
            let name = match e.name_tag() {
                "" => e.text("description"),
                name => name,
            };
            option(e.text("networkInterfaceId"), name)
        })
        .collect();

    let attachments = call("DescribeTransitGatewayVpcAttachments", &in_vpc);
    let gateways = call("DescribeTransitGateways", &[]);
    let mut tgws: Vec<(String, String)> = Vec::new();
    for a in attachments.items("transitGatewayVpcAttachments") {
        let tgw = a.text("transitGatewayId");
        if matches!(a.text("state"), "deleting" | "deleted" | "failed" | "rejected")
            || tgws.iter().any(|(id, _)| id == tgw)
        {
            continue;
        }
        let name = gateways
            .items("transitGatewaySet")
            .find(|g| g.text("transitGatewayId") == tgw)
            .map_or("", El::name_tag);
        tgws.push(option(tgw, name));
    }

    vec![
        ("local", vec![("local".to_owned(), "local".to_owned())]),
        ("Internet Gateway", igws),
        ("NAT Gateway", nats),
        ("Peering Connection", peerings),
        ("Instance", instances),
        ("Network Interface", enis),
        ("Transit Gateway", tgws),
    ]
}

/// A row's target type, as the console asks first ("select Internet Gateway, then the
/// gateway"): the groups that have targets. The id select alone is what is saved; with
/// JavaScript, choosing a type narrows the id select to that group.
fn target_type_select(
    id: Option<&str>,
    groups: &[(&str, Vec<(String, String)>)],
    chosen: &str,
) -> Markup {
    let group_of = groups
        .iter()
        .find(|(_, options)| options.iter().any(|(v, _)| v == chosen))
        .map_or("", |(group, _)| *group);
    html! {
        select id=[id] name="target_type" data-target-type="" {
            option value="" selected[group_of.is_empty()] { "Target type" }
            @for (group, options) in groups {
                @if !options.is_empty() {
                    option value=(group) selected[*group == group_of] { (group) }
                }
            }
        }
    }
}

/// A row's target list; `id` is None in the template row (cloned, so without ids).
fn target_select(
    id: Option<&str>,
    groups: &[(&str, Vec<(String, String)>)],
    chosen: &str,
) -> Markup {
    let known = chosen.is_empty()
        || groups.iter().any(|(_, options)| options.iter().any(|(v, _)| v == chosen));
    html! {
        select id=[id] name="target" {
            option value="" selected[chosen.is_empty()] { "Select a target" }
            @for (group, options) in groups {
                @if !options.is_empty() {
                    optgroup label=(group) {
                        @for (value, text) in options {
                            option value=(value) selected[value == chosen] { (text) }
                        }
                    }
                }
            }
            @if !known {
                optgroup label="Current target" { option value=(chosen) selected { (chosen) } }
            }
        }
    }
}

/// The route parameters: the table, the destination and the target.
fn route_params(table: &str, row: &Row) -> Vec<(String, String)> {
    let mut params = vec![("RouteTableId".to_owned(), table.to_owned())];
    if !row.destination.is_empty() {
        params.push(("DestinationCidrBlock".to_owned(), row.destination.clone()));
    }
    if !row.target.is_empty() {
        params.push((target_parameter(&row.target).to_owned(), row.target.clone()));
    }
    params
}

/// Makes the table's editable routes `rows`: creates the new ones, replaces those whose
/// target changed, deletes those no row keeps — after checking every row.
fn save_routes(cx: &Cx<'_>, table: &str, current: &[Row], rows: &[Row]) -> Result<(), Failure> {
    let wanted: Vec<&Row> = rows.iter().filter(|r| !r.is_blank()).collect();
    if wanted.len() > MAX_ROWS {
        return Err(Failure::new(
            "RouteLimitExceeded",
            format!("A route table takes at most {MAX_ROWS} routes here."),
        ));
    }
    // Every row is checked before anything changes: a half-saved table would have lost
    // the routes a failed row was meant to replace.
    for (i, row) in wanted.iter().enumerate() {
        if row.destination.parse::<ipnet::Ipv4Net>().is_err() {
            return Err(Failure::new(
                "InvalidParameterValue",
                format!(
                    "Route {}: {:?} is not an IPv4 CIDR block (such as 0.0.0.0/0).",
                    i + 1,
                    row.destination
                ),
            ));
        }
        if row.target.is_empty() {
            return Err(Failure::new(
                "MissingParameter",
                format!("Route {} ({}): choose a target.", i + 1, row.destination),
            ));
        }
        if wanted[..i].iter().any(|other| other.destination == row.destination) {
            return Err(Failure::new(
                "InvalidParameterValue",
                format!(
                    "Destination {} is given more than once: a route table has one route per destination.",
                    row.destination
                ),
            ));
        }
    }
    // New routes first, then changed ones, and only then the ones no row keeps: if the
    // API refuses one, nothing the learner had is gone.
    for row in &wanted {
        if !current.iter().any(|c| c.destination == row.destination) {
            cx.api.call("CreateRoute", &route_params(table, row))?;
        }
    }
    for row in &wanted {
        if current.iter().any(|c| c.destination == row.destination && c.target != row.target) {
            cx.api.call("ReplaceRoute", &route_params(table, row))?;
        }
    }
    for route in current {
        if !wanted.iter().any(|w| w.destination == route.destination) {
            let params = [
                ("RouteTableId".to_owned(), table.to_owned()),
                ("DestinationCidrBlock".to_owned(), route.destination.clone()),
            ];
            cx.api.call("DeleteRoute", &params)?;
        }
    }
    Ok(())
}

/// The most routes one save takes (AWS's default quota is 50 per table; more rows than
/// this are not a learner's).
const MAX_ROWS: usize = 200;

fn edit_routes(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Edit routes";
    let t = match load(cx, id, title) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let current: Vec<Row> = t
        .items("routeSet")
        .filter(|r| !read_only(r))
        .map(|r| Row { destination: destination(r).to_owned(), target: target(r).to_owned() })
        .collect();
    let mut failure = None;
    let rows = if req.is_post() {
        let mut rows = posted_rows(req);
        match pressed(req) {
            Press::Add => rows.push(Row::default()),
            Press::Remove(i) => {
                if i < rows.len() {
                    rows.remove(i);
                }
            }
            Press::Save => match save_routes(cx, id, &current, &rows) {
                Ok(()) => return Outcome::Redirect(format!("{base}?done=routes")),
                Err(f) => failure = Some(f),
            },
        }
        rows
    } else {
        let mut rows = current.clone();
        rows.push(Row::default());
        rows
    };
    // After a failure some changes may have been made: show the routes as they are now.
    let t = if failure.is_some() { describe(cx, id).ok().flatten().unwrap_or(t) } else { t };
    let routes: Vec<&El> = t.items("routeSet").collect();
    let status_of = |dest: &str| {
        t.items("routeSet")
            .find(|r| destination(r) == dest && !dest.is_empty())
            .map(|r| r.text("state").to_owned())
    };
    let groups = targets(cx, t.text("vpcId"));
    let body = html! {
        (html::crumbs(SECTION, "Route tables", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form method="post" action=(format!("{base}/routes")) {
            // The form's default button (Enter in a field): save, not the first "Remove".
            button type="submit" hidden tabindex="-1" {}
            div.scroll {
                table.list #routes aria-label="Routes" {
                    thead { tr {
                        th scope="col" { "Destination" } th scope="col" { "Target" }
                        th scope="col" { "Status" } th scope="col" { "Propagated" }
                        th scope="col" { span.skip { "Remove" } }
                    } }
                    tbody {
                        @for r in routes.iter().filter(|r| read_only(r)) {
                            tr {
                                td { (destination(r)) }
                                td { (target(r)) }
                                td { (html::state(r.text("state"))) }
                                td { (propagated(r)) }
                                td { span.hint { "Read only" } }
                            }
                        }
                        @for (i, row) in rows.iter().enumerate() {
                            tr {
                                td {
                                    label.skip for=(format!("destination-{i}")) { "Destination of route " (i + 1) }
                                    input type="text" id=(format!("destination-{i}")) name="destination"
                                        value=(row.destination) placeholder="0.0.0.0/0";
                                }
                                td {
                                    label.skip for=(format!("target-type-{i}")) { "Target type of route " (i + 1) }
                                    (target_type_select(Some(&format!("target-type-{i}")), &groups, &row.target))
                                    label.skip for=(format!("target-{i}")) { "Target of route " (i + 1) }
                                    (target_select(Some(&format!("target-{i}")), &groups, &row.target))
                                }
                                td { @match status_of(&row.destination) { Some(s) => (html::state(&s)), None => "–" } }
                                td { "No" }
                                td {
                                    button type="submit" name="remove" value=(i) data-remove-row=""
                                        aria-label=(format!("Remove route {}", i + 1)) { "Remove" }
                                }
                            }
                        }
                    }
                    template {
                        tr {
                            td { label { span.skip { "Destination" } input type="text" name="destination" placeholder="0.0.0.0/0"; } }
                            td {
                                label { span.skip { "Target type" } (target_type_select(None, &groups, "")) }
                                label { span.skip { "Target" } (target_select(None, &groups, "")) }
                            }
                            td { "–" }
                            td { "No" }
                            td { button type="button" data-remove-row="" { "Remove" } }
                        }
                    }
                }
            }
            p { button type="submit" name="add" value="1" data-add-row="routes" { "Add route" } }
            (html::form_actions(&base, "Save changes"))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

/// Makes the subnets `chosen` the ones explicitly associated with table `t`: a subnet
/// associated elsewhere moves (ReplaceRouteTableAssociation, as AssociateRouteTable
/// refuses it), a new one is associated, one no longer chosen is disassociated.
fn save_associations(cx: &Cx<'_>, t: &El, tables: &El, chosen: &[&str]) -> Result<(), Failure> {
    let id = t.text("routeTableId");
    for a in explicit(t) {
        if !chosen.contains(&a.text("subnetId")) {
            cx.api.call1(
                "DisassociateRouteTable",
                "AssociationId",
                a.text("routeTableAssociationId"),
            )?;
        }
    }
    for subnet in chosen {
        match association_of(tables, subnet) {
            Some((table, _)) if table == id => {}
            Some((_, association)) => {
                let params = [
                    ("AssociationId".to_owned(), association.to_owned()),
                    ("RouteTableId".to_owned(), id.to_owned()),
                ];
                cx.api.call("ReplaceRouteTableAssociation", &params)?;
            }
            None => {
                let params = [
                    ("RouteTableId".to_owned(), id.to_owned()),
                    ("SubnetId".to_owned(), (*subnet).to_owned()),
                ];
                cx.api.call("AssociateRouteTable", &params)?;
            }
        }
    }
    Ok(())
}

fn edit_associations(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Edit subnet associations";
    let t = match load(cx, id, title) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let (subnets, tables) = match vpc_subnets_and_tables(cx, t.text("vpcId")) {
        Ok(both) => both,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let chosen: Vec<&str> = req.fields("subnet").filter(|s| !s.is_empty()).collect();
    let mut failure = None;
    if req.is_post() {
        match save_associations(cx, &t, &tables, &chosen) {
            Ok(()) => return Outcome::Redirect(format!("{base}?done=associations")),
            Err(f) => failure = Some(f),
        }
    }
    let main =
        tables.items("routeTableSet").find(|t| is_main(t)).map_or("", |t| t.text("routeTableId"));
    let mine: Vec<&str> = explicit(&t).map(|a| a.text("subnetId")).collect();
    let checked = |subnet: &str| {
        if req.is_post() { chosen.contains(&subnet) } else { mine.contains(&subnet) }
    };
    let rows: Vec<&El> = subnets.items("subnetSet").collect();
    let body = html! {
        (html::crumbs(SECTION, "Route tables", id, title))
        h1 { (title) }
        p { "Change which subnets are associated with this route table." }
        @if let Some(f) = &failure { (html::error(f)) }
        form method="post" action=(format!("{base}/associations")) {
            fieldset {
                legend { "Available subnets (" (rows.len()) ")" }
                @if rows.is_empty() {
                    p.empty { "No subnets in " (t.text("vpcId")) " yet. "
                        a href=(href(&format!("subnets/new?vpc={}", t.text("vpcId")))) { "Create subnet" } }
                } @else {
                    div.scroll {
                        table.list aria-label="Available subnets" {
                            thead { tr {
                                th scope="col" { span.skip { "Associate" } }
                                th scope="col" { "Subnet ID" } th scope="col" { "Name" }
                                th scope="col" { "IPv4 CIDR" } th scope="col" { "Route table ID" }
                            } }
                            tbody {
                                @for s in &rows {
                                    @let subnet = s.text("subnetId");
                                    @let box_id = format!("assoc-{subnet}");
                                    tr {
                                        td { input type="checkbox" id=(box_id) name="subnet" value=(subnet) checked[checked(subnet)]; }
                                        td { label.inline for=(box_id) { (subnet) } }
                                        td {
                                            @if s.name_tag().is_empty() { "–" }
                                            @else { label.inline for=(box_id) { (s.name_tag()) } }
                                        }
                                        td { (s.text("cidrBlock")) }
                                        td {
                                            @match association_of(&tables, subnet) {
                                                Some((table, _)) => (table),
                                                None => { "Main (" (main) ")" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (html::form_actions(&format!("{base}?tab=subnet-associations"), "Save associations"))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn set_main(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Set main route table";
    let t = match load(cx, id, title) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let vpc = t.text("vpcId");
    let mut failure = None;
    if req.is_post() {
        let result = cx
            .api
            .call("DescribeRouteTables", &filters(&[("vpc-id", vpc), ("association.main", "true")]))
            .and_then(|doc| {
                let association = doc
                    .items("routeTableSet")
                    .flat_map(|t| t.items("associationSet"))
                    .find(|a| a.text("main") == "true")
                    .map(|a| a.text("routeTableAssociationId").to_owned())
                    .ok_or_else(|| {
                        Failure::new(
                            "InvalidAssociationID.NotFound",
                            format!("{vpc} has no main route table association"),
                        )
                    })?;
                let params = [
                    ("AssociationId".to_owned(), association),
                    ("RouteTableId".to_owned(), id.to_owned()),
                ];
                cx.api.call("ReplaceRouteTableAssociation", &params)
            });
        match result {
            Ok(_) => return Outcome::Redirect(format!("{base}?done=main")),
            Err(f) => failure = Some(f),
        }
    }
    let body = html! {
        (html::crumbs(SECTION, "Route tables", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        @if is_main(&t) { p { strong { (id) } " is already the main route table of " (vpc) "." } }
        (html::confirm(
            html! { p { "Are you sure you want to set " strong { (id) } " as the main route table of " strong { (vpc) }
                "? Subnets without an explicit association will use its routes." } },
            &format!("{base}/main"),
            "OK",
            &base,
        ))
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: SECTION,
        label: "Route tables",
        id,
        title: "Delete route table",
        question: html! { p { "Are you sure you want to delete route table " strong { (id) }
        "? The main route table, and a table with subnet associations, cannot be deleted: \
         the API refuses (" code { "DependencyViolation" } ")." } },
        verb: "delete",
        action: "DeleteRouteTable",
        id_param: "RouteTableId",
        button: "Delete",
        done: href(&format!("{SECTION}?deleted={id}")),
        missing: Some("InvalidRouteTableID"),
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, created, get, post, post_ok};
    use crate::console::{Console, El};

    /// A VPC with a subnet and an attached internet gateway: (vpc, subnet, igw).
    fn lab(c: &Console) -> (String, String, String) {
        let vpc = created(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")], &["vpc", "vpcId"]);
        let subnet = created(
            c,
            "CreateSubnet",
            &[("VpcId", &vpc), ("CidrBlock", "10.0.1.0/24"), ("AvailabilityZone", "us-east-1a")],
            &["subnet", "subnetId"],
        );
        let igw =
            created(c, "CreateInternetGateway", &[], &["internetGateway", "internetGatewayId"]);
        api(c, "AttachInternetGateway", &[("InternetGatewayId", &igw), ("VpcId", &vpc)]);
        (vpc, subnet, igw)
    }

    fn table(c: &Console, id: &str) -> El {
        api(c, "DescribeRouteTables", &[("RouteTableId.1", id)])
            .items("routeTableSet")
            .next()
            .unwrap()
            .clone()
    }

    fn routes(c: &Console, id: &str) -> Vec<(String, String)> {
        table(c, id)
            .items("routeSet")
            .map(|r| (r.text("destinationCidrBlock").to_owned(), super::target(r).to_owned()))
            .collect()
    }

    fn main_table(c: &Console, vpc: &str) -> String {
        let doc = api(
            c,
            "DescribeRouteTables",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc)],
        );
        doc.items("routeTableSet")
            .find(|t| super::is_main(t))
            .unwrap()
            .text("routeTableId")
            .to_owned()
    }

    /// Creates a route table through the form, as the seed's Part 4 does: its id.
    fn create_in_console(c: &Console, name: &str, vpc: &str) -> String {
        let form = get(c, &format!("/console/route-tables/new?vpc={vpc}"));
        assert!(
            form.body.contains(&format!(r#"<option value="{vpc}" selected>"#)),
            "{}",
            form.body
        );
        let answer = post(c, "/console/route-tables/new", &[("name", name), ("vpc", vpc)]);
        assert_eq!(answer.status, 303, "{}", answer.body);
        let id = answer
            .location
            .trim_start_matches("/console/route-tables/")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let page = get(c, &answer.location);
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        id
    }

    #[test]
    fn a_route_shows_its_target_type_first_as_the_console_asks() {
        let c = console();
        let (vpc, _, igw) = lab(&c);
        let id = create_in_console(&c, "typed", &vpc);
        let path = format!("/console/route-tables/{id}/routes");
        post_ok(
            &c,
            &path,
            &[("destination", "0.0.0.0/0"), ("target_type", "Internet Gateway"), ("target", &igw)],
        );
        let form = get(&c, &path);
        assert!(
            form.body
                .contains(r#"<option value="Internet Gateway" selected>Internet Gateway</option>"#),
            "{}",
            form.body
        );
        assert!(
            routes(&c, &id).contains(&("0.0.0.0/0".to_owned(), igw)),
            "the type is not saved, the target is"
        );
    }

    #[test]
    fn a_save_the_api_refuses_loses_no_route() {
        let c = console();
        let (vpc, _, igw) = lab(&c);
        let id = create_in_console(&c, "keep", &vpc);
        let path = format!("/console/route-tables/{id}/routes");
        post_ok(&c, &path, &[("destination", "0.0.0.0/0"), ("target", &igw)]);
        // The default route moved to a gateway that does not exist: refused by the API
        // when it is created, before the old one could be deleted.
        let refused =
            post(&c, &path, &[("destination", "0.0.0.0/1"), ("target", "igw-0000000000000000f")]);
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(routes(&c, &id).contains(&("0.0.0.0/0".to_owned(), igw.clone())), "still there");
        // A typo or a row without a target: refused before any call.
        for (destination, target) in [("0.0.0.0/33", igw.as_str()), ("10.9.0.0/16", "")] {
            let page = post(&c, &path, &[("destination", destination), ("target", target)]);
            assert_eq!(page.status, 400, "{destination}: {}", page.body);
            assert!(routes(&c, &id).contains(&("0.0.0.0/0".to_owned(), igw.clone())));
        }
    }

    #[test]
    fn the_seeds_part_4_public_route_table() {
        let c = console();
        let (vpc, subnet, igw) = lab(&c);
        let id = create_in_console(&c, "my-public-rt", &vpc);
        let t = table(&c, &id);
        assert_eq!(t.name_tag(), "my-public-rt");
        assert_eq!(t.text("vpcId"), vpc);
        let list = get(&c, "/console/route-tables");
        assert!(list.body.contains(&id) && list.body.contains("my-public-rt"));

        // Subnet associations tab → Edit subnet associations → Save associations.
        let tab = get(&c, &format!("/console/route-tables/{id}?tab=subnet-associations"));
        assert!(tab.body.contains("Subnets without explicit associations (1)"), "{}", tab.body);
        assert!(tab.body.contains("Edit subnet associations"));
        let form = get(&c, &format!("/console/route-tables/{id}/associations"));
        assert!(form.body.contains(&format!(r#"name="subnet" value="{subnet}""#)), "{}", form.body);
        assert!(form.body.contains("Save associations"));
        let page = post_ok(
            &c,
            &format!("/console/route-tables/{id}/associations"),
            &[("subnet", &subnet)],
        );
        assert!(page.body.contains("You have successfully updated subnet associations"));
        let assoc: Vec<String> =
            super::explicit(&table(&c, &id)).map(|a| a.text("subnetId").to_owned()).collect();
        assert_eq!(assoc, [subnet.as_str()]);

        // Routes tab → Edit routes → Add route (without JavaScript) → 0.0.0.0/0 to the gateway.
        let form = get(&c, &format!("/console/route-tables/{id}/routes"));
        assert_eq!(
            form.body.matches(r#"name="destination""#).count(),
            2,
            "a blank row and the template's"
        );
        assert!(form.body.contains(r#"<optgroup label="Internet Gateway">"#), "{}", form.body);
        assert!(form.body.contains(&format!(r#"<option value="{igw}">{igw}</option>"#)));
        assert!(form.body.contains(r#"data-add-row="routes""#) && form.body.contains("<template>"));
        let added = post(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[("destination", ""), ("target", ""), ("add", "1")],
        );
        assert_eq!(added.status, 200);
        assert!(added.body.contains(r#"id="destination-1""#), "one more row");
        let page = post_ok(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[("destination", ""), ("target", ""), ("destination", "0.0.0.0/0"), ("target", &igw)],
        );
        assert!(page.body.contains("Updated routes for"), "{}", page.body);
        assert!(page.body.contains(&format!("/console/internet-gateways/{igw}")));
        assert_eq!(
            routes(&c, &id),
            [("10.0.0.0/16".to_owned(), "local".to_owned()), ("0.0.0.0/0".to_owned(), igw.clone())]
        );

        // Saving the form as shown changes nothing.
        post_ok(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[("destination", "0.0.0.0/0"), ("target", &igw), ("destination", ""), ("target", "")],
        );
        assert_eq!(routes(&c, &id).len(), 2);
    }

    #[test]
    fn saving_routes_deletes_replaces_and_creates_the_differences() {
        let c = console();
        let (vpc, subnet, igw) = lab(&c);
        let peer = created(&c, "CreateVpc", &[("CidrBlock", "10.1.0.0/16")], &["vpc", "vpcId"]);
        let pcx = created(
            &c,
            "CreateVpcPeeringConnection",
            &[("VpcId", &vpc), ("PeerVpcId", &peer)],
            &["vpcPeeringConnection", "vpcPeeringConnectionId"],
        );
        api(&c, "AcceptVpcPeeringConnection", &[("VpcPeeringConnectionId", &pcx)]);
        let eip = created(&c, "AllocateAddress", &[("Domain", "vpc")], &["allocationId"]);
        let nat = created(
            &c,
            "CreateNatGateway",
            &[("SubnetId", &subnet), ("AllocationId", &eip)],
            &["natGateway", "natGatewayId"],
        );
        let id = main_table(&c, &vpc);
        api(
            &c,
            "CreateRoute",
            &[("RouteTableId", &id), ("DestinationCidrBlock", "0.0.0.0/0"), ("GatewayId", &igw)],
        );
        api(
            &c,
            "CreateRoute",
            &[
                ("RouteTableId", &id),
                ("DestinationCidrBlock", "192.168.0.0/16"),
                ("GatewayId", &igw),
            ],
        );

        let form = get(&c, &format!("/console/route-tables/{id}/routes"));
        for group in ["local", "Internet Gateway", "NAT Gateway", "Peering Connection"] {
            assert!(form.body.contains(&format!(r#"<optgroup label="{group}">"#)), "{group}");
        }
        assert!(
            form.body.contains(&format!(r#"<option value="{pcx}">"#))
                && form.body.contains(&format!(r#"<option value="{nat}">"#))
        );
        assert!(
            form.body.contains(&format!(r#"<option value="{igw}" selected>"#)),
            "current targets chosen"
        );
        assert!(!form.body.contains(r#"value="10.0.0.0/16""#), "the local route is read-only");

        // Without JavaScript, "Remove" drops a row from the form, and saves nothing.
        let removed = post(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[
                ("destination", "0.0.0.0/0"),
                ("target", &igw),
                ("destination", "192.168.0.0/16"),
                ("target", &igw),
                ("remove", "1"),
            ],
        );
        assert_eq!(removed.status, 200);
        assert!(!removed.body.contains("192.168.0.0/16"));
        assert_eq!(routes(&c, &id).len(), 3);

        // 0.0.0.0/0 to the NAT gateway (replaced), 192.168.0.0/16 gone (deleted), the
        // peer's CIDR to the peering connection (created).
        post_ok(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[
                ("destination", "0.0.0.0/0"),
                ("target", &nat),
                ("destination", "10.1.0.0/16"),
                ("target", &pcx),
            ],
        );
        let mut now = routes(&c, &id);
        now.sort();
        assert_eq!(
            now,
            [
                ("0.0.0.0/0".to_owned(), nat.clone()),
                ("10.0.0.0/16".to_owned(), "local".to_owned()),
                ("10.1.0.0/16".to_owned(), pcx.clone()),
            ]
        );
    }

    #[test]
    fn the_apis_errors_are_shown_with_the_rows_as_typed() {
        let c = console();
        let (vpc, _, igw) = lab(&c);
        let id = main_table(&c, &vpc);
        let page = post(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[("destination", "0.0.0.0/33"), ("target", &igw)],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>InvalidParameterValue</code>"), "{}", page.body);
        assert!(page.body.contains(r#"value="0.0.0.0/33""#), "the row keeps what was typed");
        let page = post(
            &c,
            &format!("/console/route-tables/{id}/routes"),
            &[("destination", "0.0.0.0/0"), ("target", "")],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>MissingParameter</code>"), "{}", page.body);
        assert_eq!(routes(&c, &id).len(), 1);

        let page = post(
            &c,
            "/console/route-tables/new",
            &[("name", "kept"), ("vpc", "vpc-0123456789abcdef0")],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>InvalidVpcID.NotFound</code>"), "{}", page.body);
        assert!(page.body.contains(r#"value="kept""#));
        assert_eq!(api(&c, "DescribeRouteTables", &[]).items("routeTableSet").count(), 1);
        assert_eq!(get(&c, "/console/route-tables/rtb-0123456789abcdef0").status, 404);
    }

    #[test]
    fn a_subnet_associated_elsewhere_moves_and_can_be_let_go() {
        let c = console();
        let (vpc, subnet, _) = lab(&c);
        let first = create_in_console(&c, "first", &vpc);
        let second = create_in_console(&c, "second", &vpc);
        post_ok(&c, &format!("/console/route-tables/{first}/associations"), &[("subnet", &subnet)]);
        let form = get(&c, &format!("/console/route-tables/{second}/associations"));
        assert!(form.body.contains(&format!("<td>{first}</td>")), "shows where the subnet is now");
        post_ok(
            &c,
            &format!("/console/route-tables/{second}/associations"),
            &[("subnet", &subnet)],
        );
        assert_eq!(super::explicit(&table(&c, &first)).count(), 0);
        let moved: Vec<String> =
            super::explicit(&table(&c, &second)).map(|a| a.text("subnetId").to_owned()).collect();
        assert_eq!(moved, [subnet.as_str()]);
        let list = get(&c, "/console/route-tables");
        assert!(list.body.contains(&format!("/console/subnets/{subnet}")));
        // Nothing checked: the subnet goes back to the main table.
        post_ok(&c, &format!("/console/route-tables/{second}/associations"), &[]);
        assert_eq!(super::explicit(&table(&c, &second)).count(), 0);
        // A subnet of another VPC: the API's error.
        let other = created(&c, "CreateVpc", &[("CidrBlock", "10.9.0.0/16")], &["vpc", "vpcId"]);
        let stranger = created(
            &c,
            "CreateSubnet",
            &[("VpcId", &other), ("CidrBlock", "10.9.0.0/24")],
            &["subnet", "subnetId"],
        );
        let page = post(
            &c,
            &format!("/console/route-tables/{second}/associations"),
            &[("subnet", &stranger)],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>InvalidParameterValue</code>"), "{}", page.body);
    }

    #[test]
    fn set_main_and_delete() {
        let c = console();
        let (vpc, _, _) = lab(&c);
        let old_main = main_table(&c, &vpc);
        let id = create_in_console(&c, "next-main", &vpc);
        let confirm = get(&c, &format!("/console/route-tables/{id}/main"));
        assert!(confirm.body.contains("Set main route table") && confirm.body.contains(&vpc));
        let page = post_ok(&c, &format!("/console/route-tables/{id}/main"), &[]);
        assert!(page.body.contains("is now the main route table"));
        assert_eq!(main_table(&c, &vpc), id);

        // The main table cannot go: the API says why.
        let refused = post(&c, &format!("/console/route-tables/{id}/delete"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>DependencyViolation</code>"), "{}", refused.body);

        let confirm = get(&c, &format!("/console/route-tables/{old_main}/delete"));
        assert!(confirm.body.contains("Delete route table"));
        let gone = post(&c, &format!("/console/route-tables/{old_main}/delete"), &[]);
        assert_eq!(gone.status, 303);
        assert!(
            get(&c, &gone.location).body.contains(&format!("Route table {old_main} was deleted."))
        );
        let left: Vec<String> = api(&c, "DescribeRouteTables", &[])
            .items("routeTableSet")
            .map(|t| t.text("routeTableId").to_owned())
            .collect();
        assert_eq!(left, [id]);
    }

    #[test]
    fn route_propagation_from_an_attached_virtual_private_gateway() {
        let c = console();
        let (vpc, _, _) = lab(&c);
        let rtb = main_table(&c, &vpc);
        let tab = get(&c, &format!("/console/route-tables/{rtb}?tab=route-propagation"));
        assert!(tab.body.contains("No virtual private gateway is attached"), "{}", tab.body);
        let vgw = created(
            &c,
            "CreateVpnGateway",
            &[("Type", "ipsec.1")],
            &["vpnGateway", "vpnGatewayId"],
        );
        api(&c, "AttachVpnGateway", &[("VpnGatewayId", &vgw), ("VpcId", &vpc)]);
        let form = get(&c, &format!("/console/route-tables/{rtb}/propagation"));
        let field = format!("propagate-{vgw}");
        assert!(form.body.contains(&format!(r#"name="{field}""#)), "{}", form.body);
        let page =
            post_ok(&c, &format!("/console/route-tables/{rtb}/propagation"), &[(&field, "on")]);
        assert!(page.body.contains("successfully updated route propagation"), "{}", page.body);
        assert!(page.body.contains("<td>Yes</td>"), "{}", page.body);
        let on: Vec<String> = table(&c, &rtb)
            .items("propagatingVgwSet")
            .map(|p| p.text("gatewayId").to_owned())
            .collect();
        assert_eq!(on, [vgw]);
        let page = post_ok(&c, &format!("/console/route-tables/{rtb}/propagation"), &[]);
        assert!(page.body.contains("<td>No</td>"), "{}", page.body);
        assert_eq!(table(&c, &rtb).items("propagatingVgwSet").count(), 0);
    }
}
