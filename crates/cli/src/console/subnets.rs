//! Subnets: the list, a subnet's details (its route table, network ACL and tags),
//! "Create subnet", "Edit subnet settings", "Delete subnet".

use maud::{Markup, html};

use super::api::filter;
use super::choices::labelled;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::route_tables::{is_main, routes_table};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "subnets";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "settings"] => settings(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// The route table subnet `s` uses: the one it is explicitly associated with, or else
/// its VPC's main table.
fn route_table_of<'a>(tables: &'a El, s: &El) -> Option<&'a El> {
    let id = s.text("subnetId");
    tables
        .items("routeTableSet")
        .find(|t| t.items("associationSet").any(|a| a.text("subnetId") == id))
        .or_else(|| {
            tables.items("routeTableSet").find(|t| t.text("vpcId") == s.text("vpcId") && is_main(t))
        })
}

/// The network ACL subnet `id` is associated with (every subnet has one).
fn acl_of<'a>(acls: &'a El, id: &str) -> Option<&'a El> {
    acls.items("networkAclSet")
        .find(|a| a.items("associationSet").any(|x| x.text("subnetId") == id))
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let calls = (
        cx.api.call("DescribeSubnets", &[]),
        cx.api.call("DescribeRouteTables", &[]),
        cx.api.call("DescribeNetworkAcls", &[]),
        cx.api.call("DescribeVpcs", &[]),
    );
    let (subnets, tables, acls, vpcs) = match calls {
        (Ok(s), Ok(t), Ok(a), Ok(v)) => (s, t, a, v),
        (Err(f), ..) | (_, Err(f), ..) | (_, _, Err(f), _) | (.., Err(f)) => {
            return Outcome::failed("Subnets", SECTION, &f);
        }
    };
    let vpc_name = |id: &str| {
        vpcs.items("vpcSet").find(|v| v.text("vpcId") == id).map_or("", El::name_tag).to_owned()
    };
    let rows: Vec<&El> = subnets.items("subnetSet").collect();
    let columns = [
        column("Name", |s: &El| html::or_dash(s.name_tag())),
        column("Subnet ID", |s: &El| html::link(SECTION, s.text("subnetId"))),
        column("State", |s: &El| html::state(s.text("state"))),
        column("VPC", |s: &El| {
            let (vpc, name) = (s.text("vpcId"), vpc_name(s.text("vpcId")));
            html! { (html::link("vpcs", vpc)) @if !name.is_empty() { " | " (name) } }
        }),
        column("IPv4 CIDR", |s: &El| html! { (s.text("cidrBlock")) }),
        column("Available IPv4 addresses", |s: &El| html! { (s.text("availableIpAddressCount")) }),
        column("Availability Zone", |s: &El| html! { (s.text("availabilityZone")) }),
        column("Route table", |s: &El| {
            html::link(
                "route-tables",
                route_table_of(&tables, s).map_or("", |t| t.text("routeTableId")),
            )
        }),
        column("Network ACL", |s: &El| {
            html::link(
                "network-acls",
                acl_of(&acls, s.text("subnetId")).map_or("", |a| a.text("networkAclId")),
            )
        }),
        column(
            "Auto-assign public IPv4 address",
            |s: &El| html! { (html::yes_no(s.text("mapPublicIpOnLaunch"))) },
        ),
    ];
    let deleted = req.param("deleted");
    let body = html! {
        @if !deleted.is_empty() { (html::notice(&format!("Subnet {deleted} was deleted."))) }
        (html::list("Subnets", Some(("subnets/new", "Create subnet")), "subnets", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Subnets", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one("DescribeSubnets", "SubnetId.1", id, "subnetSet", |c| {
        c.starts_with("InvalidSubnetID")
    })
}

/// The subnet `id`, or the page to answer instead.
fn load(cx: &Cx<'_>, id: &str, title: &str) -> Result<El, Outcome> {
    match describe(cx, id) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Outcome::NotFound),
        Err(f) => Err(Outcome::failed(title, SECTION, &f)),
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let s = match load(cx, id, id) {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let in_vpc = filter("vpc-id", s.text("vpcId"));
    let (tables, acls) = match (
        cx.api.call("DescribeRouteTables", &in_vpc),
        cx.api.call("DescribeNetworkAcls", &in_vpc),
    ) {
        (Ok(t), Ok(a)) => (t, a),
        (Err(f), _) | (_, Err(f)) => return Outcome::failed(id, SECTION, &f),
    };
    let table = route_table_of(&tables, &s);
    let table_id = table.map_or("", |t| t.text("routeTableId"));
    let acl = acl_of(&acls, id);
    let acl_id = acl.map_or("", |a| a.text("networkAclId"));
    let base = href(&format!("{SECTION}/{id}"));
    let name = s.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let tab = match req.param("tab") {
        "" => "route-table",
        tab => tab,
    };
    let body = html! {
        (html::crumbs(SECTION, "Subnets", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!("You have successfully created 1 subnet: {}", labelled(id, name)))),
            "settings" => (html::notice(&format!("You have successfully changed subnet settings of {id}."))),
            _ => {}
        }
        (html::bar(&title, html::actions(&[
            ("Edit subnet settings", format!("{base}/settings")),
            ("Delete subnet", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Subnet ID", html! { (id) }),
            ("Subnet ARN", html! { (s.text("subnetArn")) }),
            ("State", html::state(s.text("state"))),
            ("IPv4 CIDR", html! { (s.text("cidrBlock")) }),
            ("Available IPv4 addresses", html! { (s.text("availableIpAddressCount")) }),
            ("Availability Zone", html! { (s.text("availabilityZone")) }),
            ("Availability Zone ID", html! { (s.text("availabilityZoneId")) }),
            ("VPC", html::link("vpcs", s.text("vpcId"))),
            ("Route table", html::link("route-tables", table_id)),
            ("Network ACL", html::link("network-acls", acl_id)),
            ("Default subnet", html! { (html::yes_no(s.text("defaultForAz"))) }),
            ("Auto-assign public IPv4 address", html! { (html::yes_no(s.text("mapPublicIpOnLaunch"))) }),
            ("Owner", html! { (s.text("ownerId")) }),
        ]))
        (html::tabs(&base, tab, &[("route-table", "Route table"), ("network-acl", "Network ACL"), ("tags", "Tags")]))
        @match tab {
            "network-acl" => (acl_tab(acl)),
            "tags" => (html::tags_table(&s)),
            _ => (route_table_tab(table, id)),
        }
    };
    Outcome::Page(html::page(id, SECTION, body))
}

fn route_table_tab(table: Option<&El>, subnet: &str) -> Markup {
    let Some(t) = table else {
        return html! { p.empty { "No route table." } };
    };
    let explicit = t.items("associationSet").any(|a| a.text("subnetId") == subnet);
    html! {
        h2 { "Route table: " (html::link("route-tables", t.text("routeTableId"))) }
        p.hint {
            @if explicit { "The subnet is explicitly associated with this route table." }
            @else { "The VPC's main route table: the subnet has no explicit association." }
        }
        (routes_table(t))
    }
}

/// A network ACL rule's protocol, as the console names it.
fn protocol(number: &str) -> &str {
    match number {
        "-1" => "All",
        "6" => "TCP",
        "17" => "UDP",
        "1" => "ICMP",
        other => other,
    }
}

fn ports(rule: &El) -> String {
    match (rule.at(&["portRange", "from"]), rule.at(&["portRange", "to"])) {
        ("", _) => "All".to_owned(),
        (from, to) if from == to => from.to_owned(),
        (from, to) => format!("{from} - {to}"),
    }
}

fn acl_tab(acl: Option<&El>) -> Markup {
    let Some(a) = acl else {
        return html! { p.empty { "No network ACL." } };
    };
    let rules = |egress: &str| -> Vec<&El> {
        a.items("entrySet").filter(|e| e.text("egress") == egress).collect()
    };
    let section = |heading: &str, peer: &str, rules: Vec<&El>| {
        html! {
            h3 { (heading) " (" (rules.len()) ")" }
            table.list aria-label=(heading) {
                thead { tr {
                    th scope="col" { "Rule number" } th scope="col" { "Protocol" }
                    th scope="col" { "Port range" } th scope="col" { (peer) } th scope="col" { "Allow/Deny" }
                } }
                tbody {
                    @for r in &rules {
                        tr {
                            td { @if r.text("ruleNumber") == "32767" { "*" } @else { (r.text("ruleNumber")) } }
                            td { (protocol(r.text("protocol"))) }
                            td { (ports(r)) }
                            td { (r.text("cidrBlock")) }
                            td { (if r.text("ruleAction") == "allow" { "Allow" } else { "Deny" }) }
                        }
                    }
                }
            }
        }
    };
    html! {
        h2 { "Network ACL: " (html::link("network-acls", a.text("networkAclId"))) }
        (section("Inbound rules", "Source", rules("false")))
        (section("Outbound rules", "Destination", rules("true")))
    }
}

/// What the create form offers: the VPCs (id, text, CIDRs) and the zones.
struct Choices {
    vpcs: Vec<(String, String, Vec<String>)>,
    zones: Vec<String>,
}

fn choices(cx: &Cx<'_>) -> Result<Choices, Failure> {
    let vpcs = cx.api.call("DescribeVpcs", &[])?;
    let zones = cx.api.call("DescribeAvailabilityZones", &[])?;
    Ok(Choices {
        vpcs: vpcs
            .items("vpcSet")
            .map(|v| {
                let mut cidrs: Vec<String> = v
                    .items("cidrBlockAssociationSet")
                    .map(|c| c.text("cidrBlock").to_owned())
                    .collect();
                if cidrs.is_empty() {
                    cidrs.push(v.text("cidrBlock").to_owned());
                }
                (v.text("vpcId").to_owned(), labelled(v.text("vpcId"), v.name_tag()), cidrs)
            })
            .collect(),
        zones: zones.items("availabilityZoneInfo").map(|z| z.text("zoneName").to_owned()).collect(),
    })
}

fn create_form(req: &Request, choices: &Choices, failure: Option<&Failure>) -> Markup {
    let vpc_options: Vec<(String, String)> =
        choices.vpcs.iter().map(|(id, text, _)| (id.clone(), text.clone())).collect();
    let mut zone_options = vec![(String::new(), "No preference".to_owned())];
    zone_options.extend(choices.zones.iter().map(|z| (z.clone(), z.clone())));
    html! {
        (html::crumbs(SECTION, "Subnets", "", "Create subnet"))
        h1 { "Create subnet" }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("subnets/new")) {
            fieldset {
                legend { "VPC" }
                (html::select("vpc", "VPC ID", &vpc_options, req.value("vpc")))
                @if choices.vpcs.is_empty() {
                    p.hint { "There is no VPC yet. " a href=(href("vpcs/new")) { "Create VPC" } }
                } @else {
                    p.hint { "Create subnets in this VPC." }
                }
                @if !choices.vpcs.is_empty() {
                    p {
                        "IPv4 VPC CIDR blocks: "
                        @for (i, (_, text, cidrs)) in choices.vpcs.iter().enumerate() {
                            @if i > 0 { "; " }
                            (text) " " strong { (cidrs.join(", ")) }
                        }
                    }
                }
            }
            fieldset {
                legend { "Subnet settings" }
                p.hint { "Specify the CIDR blocks and Availability Zone for the subnet." }
                h3 { "Subnet 1 of 1" }
                (html::text_field("name", "Subnet name", req.value("name"),
                    "Create a tag with a key of 'Name' and a value that you specify."))
                (html::select("zone", "Availability Zone", &zone_options, req.value("zone")))
                (html::text_field("cidr", "IPv4 subnet CIDR block", req.value("cidr"),
                    "Within the VPC's CIDR block, e.g. 10.0.1.0/24 (a /16 to /28)."))
            }
            (html::form_actions(&href(SECTION), "Create subnet"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create subnet";
    let choices = match choices(cx) {
        Ok(choices) => choices,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, create_form(req, &choices, None)));
    }
    let mut params = vec![
        ("VpcId".to_owned(), req.field("vpc").to_owned()),
        ("CidrBlock".to_owned(), req.field("cidr").to_owned()),
    ];
    if !req.field("zone").is_empty() {
        params.push(("AvailabilityZone".to_owned(), req.field("zone").to_owned()));
    }
    if !req.field("name").is_empty() {
        params.extend(name_tag("subnet", req.field("name")));
    }
    match cx.api.call("CreateSubnet", &params) {
        Ok(doc) => {
            let id = doc.at(&["subnet", "subnetId"]);
            Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")))
        }
        Err(f) => {
            Outcome::Status(400, html::page(title, SECTION, create_form(req, &choices, Some(&f))))
        }
    }
}

fn settings(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Edit subnet settings";
    let base = href(&format!("{SECTION}/{id}"));
    let mut failure = None;
    if req.is_post() {
        let on = if req.field("map_public_ip") == "on" { "true" } else { "false" };
        let params = [
            ("SubnetId".to_owned(), id.to_owned()),
            ("MapPublicIpOnLaunch.Value".to_owned(), on.to_owned()),
        ];
        match cx.api.call("ModifySubnetAttribute", &params) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done=settings")),
            Err(f) if f.code.starts_with("InvalidSubnetID") => return Outcome::NotFound,
            Err(f) => failure = Some(f),
        }
    }
    let s = match load(cx, id, title) {
        Ok(s) => s,
        Err(outcome) => return outcome,
    };
    let on = if req.is_post() {
        req.field("map_public_ip") == "on"
    } else {
        s.text("mapPublicIpOnLaunch") == "true"
    };
    let body = html! {
        (html::crumbs(SECTION, "Subnets", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/settings")) {
            fieldset {
                legend { "Auto-assign IP settings" }
                p.hint { "Enable the auto-assign IP address setting to automatically request a public IPv4 \
                          address for a new network interface in this subnet." }
                p {
                    input #map_public_ip type="checkbox" name="map_public_ip" checked[on];
                    label.inline for="map_public_ip" { "Enable auto-assign public IPv4 address" }
                }
            }
            (html::form_actions(&base, "Save"))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: SECTION,
        label: "Subnets",
        id,
        title: "Delete subnet",
        question: html! { p { "Are you sure you want to delete subnet " strong { (id) }
            "? Its instances, network interfaces and NAT gateways must go first: the API refuses otherwise ("
            code { "DependencyViolation" } ")." } },
        verb: "delete",
        action: "DeleteSubnet",
        id_param: "SubnetId",
        button: "Delete",
        done: href(&format!("{SECTION}?deleted={id}")),
        missing: Some("InvalidSubnetID"),
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get, post, post_ok};
    use crate::console::{Console, El};

    fn vpc(c: &Console, cidr: &str) -> String {
        api(c, "CreateVpc", &[("CidrBlock", cidr)]).at(&["vpc", "vpcId"]).to_owned()
    }

    fn subnet(c: &Console, id: &str) -> El {
        api(c, "DescribeSubnets", &[("SubnetId.1", id)]).items("subnetSet").next().unwrap().clone()
    }

    #[test]
    fn the_seeds_part_2_create_subnet() {
        let c = console();
        let vpc_id = vpc(&c, "10.0.0.0/16");
        let list = get(&c, "/console/subnets");
        assert!(list.body.contains("Create subnet") && list.body.contains("No subnets yet."));
        let form = get(&c, "/console/subnets/new");
        assert!(form.body.contains(&format!(r#"<option value="{vpc_id}">"#)), "{}", form.body);
        for zone in ["us-east-1a", "us-east-1f"] {
            assert!(
                form.body.contains(&format!(r#"<option value="{zone}">{zone}</option>"#)),
                "{zone}"
            );
        }
        assert!(form.body.contains("10.0.0.0/16"), "the VPC's CIDR is shown");
        let page = post_ok(
            &c,
            "/console/subnets/new",
            &[
                ("vpc", &vpc_id),
                ("name", "my-public-subnet"),
                ("zone", "us-east-1b"),
                ("cidr", "10.0.1.0/24"),
            ],
        );
        assert!(page.body.contains("You have successfully created 1 subnet"), "{}", page.body);
        let subnets = api(&c, "DescribeSubnets", &[]);
        let s = subnets.items("subnetSet").next().unwrap();
        let id = s.text("subnetId");
        assert_eq!(s.name_tag(), "my-public-subnet");
        assert_eq!(
            (s.text("vpcId"), s.text("cidrBlock"), s.text("availabilityZone")),
            (vpc_id.as_str(), "10.0.1.0/24", "us-east-1b")
        );

        let list = get(&c, "/console/subnets");
        for text in [
            id,
            "my-public-subnet",
            "10.0.1.0/24",
            "us-east-1b",
            "251",
            "/console/route-tables/rtb-",
            "/console/network-acls/acl-",
        ] {
            assert!(list.body.contains(text), "{text}: {}", list.body);
        }
        assert!(
            get(&c, "/console/subnets?search=nothing-like-it").body.contains("No subnets match.")
        );
    }

    #[test]
    fn the_apis_errors_are_shown_with_the_form_as_filled() {
        let c = console();
        let vpc_id = vpc(&c, "10.0.0.0/16");
        let page = post(
            &c,
            "/console/subnets/new",
            &[
                ("vpc", &vpc_id),
                ("name", "outside"),
                ("zone", "us-east-1c"),
                ("cidr", "10.9.0.0/24"),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>InvalidSubnet.Range</code>"), "{}", page.body);
        assert!(
            page.body.contains(r#"value="10.9.0.0/24""#)
                && page.body.contains(r#"value="outside""#)
        );
        assert!(page.body.contains(r#"<option value="us-east-1c" selected>"#));
        assert_eq!(api(&c, "DescribeSubnets", &[]).items("subnetSet").count(), 0);
        assert_eq!(get(&c, "/console/subnets/subnet-0123456789abcdef0").status, 404);
    }

    #[test]
    fn the_route_table_tab_follows_the_subnets_association() {
        let c = console();
        let vpc_id = vpc(&c, "10.0.0.0/16");
        let id = api(&c, "CreateSubnet", &[("VpcId", &vpc_id), ("CidrBlock", "10.0.2.0/24")])
            .at(&["subnet", "subnetId"])
            .to_owned();
        let tables = api(&c, "DescribeRouteTables", &[]);
        let main = tables.items("routeTableSet").next().unwrap().text("routeTableId").to_owned();
        let page = get(&c, &format!("/console/subnets/{id}?tab=route-table"));
        assert!(
            page.body.contains(&format!(r#"<a href="/console/route-tables/{main}">"#)),
            "{}",
            page.body
        );
        assert!(page.body.contains("main route table"));

        let private = api(&c, "CreateRouteTable", &[("VpcId", &vpc_id)])
            .at(&["routeTable", "routeTableId"])
            .to_owned();
        let igw = api(&c, "CreateInternetGateway", &[])
            .at(&["internetGateway", "internetGatewayId"])
            .to_owned();
        api(&c, "AttachInternetGateway", &[("InternetGatewayId", &igw), ("VpcId", &vpc_id)]);
        api(
            &c,
            "CreateRoute",
            &[
                ("RouteTableId", &private),
                ("DestinationCidrBlock", "0.0.0.0/0"),
                ("GatewayId", &igw),
            ],
        );
        api(&c, "AssociateRouteTable", &[("RouteTableId", &private), ("SubnetId", &id)]);
        let page = get(&c, &format!("/console/subnets/{id}?tab=route-table"));
        assert!(
            page.body.contains(&format!(r#"<a href="/console/route-tables/{private}">"#)),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("0.0.0.0/0")
                && page.body.contains(&format!("/console/internet-gateways/{igw}"))
        );
        assert!(page.body.contains("explicitly associated"));

        let acl = get(&c, &format!("/console/subnets/{id}?tab=network-acl"));
        assert!(
            acl.body.contains("Inbound rules (2)") && acl.body.contains("Outbound rules (2)"),
            "{}",
            acl.body
        );
        assert!(acl.body.contains("/console/network-acls/acl-"));
    }

    #[test]
    fn settings_and_delete_go_through_the_api() {
        let c = console();
        let vpc_id = vpc(&c, "10.0.0.0/16");
        let id = api(&c, "CreateSubnet", &[("VpcId", &vpc_id), ("CidrBlock", "10.0.3.0/24")])
            .at(&["subnet", "subnetId"])
            .to_owned();
        let form = get(&c, &format!("/console/subnets/{id}/settings"));
        assert!(form.body.contains(r#"name="map_public_ip""#) && !form.body.contains("checked"));
        let page =
            post_ok(&c, &format!("/console/subnets/{id}/settings"), &[("map_public_ip", "on")]);
        assert!(page.body.contains("You have successfully changed subnet settings"));
        assert_eq!(subnet(&c, &id).text("mapPublicIpOnLaunch"), "true");
        assert!(get(&c, &format!("/console/subnets/{id}/settings")).body.contains("checked"));
        post_ok(&c, &format!("/console/subnets/{id}/settings"), &[]);
        assert_eq!(subnet(&c, &id).text("mapPublicIpOnLaunch"), "false");

        let confirm = get(&c, &format!("/console/subnets/{id}/delete"));
        assert!(confirm.body.contains("Delete subnet") && confirm.body.contains(&id));
        let gone = post(&c, &format!("/console/subnets/{id}/delete"), &[]);
        assert_eq!(gone.status, 303);
        assert!(get(&c, &gone.location).body.contains(&format!("Subnet {id} was deleted.")));
        assert_eq!(api(&c, "DescribeSubnets", &[]).items("subnetSet").count(), 0);
        assert_eq!(get(&c, &format!("/console/subnets/{id}")).status, 404);
    }
}
