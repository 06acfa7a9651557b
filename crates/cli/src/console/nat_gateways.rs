//! NAT gateways: the list, a gateway's details, "Create NAT gateway" (with its "Allocate
//! Elastic IP" button) and "Delete NAT gateway".

use maud::{Markup, html};

use super::choices::option;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "nat-gateways";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// The gateway's primary address (the first of `natGatewayAddressSet`).
fn primary(n: &El) -> Option<&El> {
    let addresses: Vec<&El> = n.items("natGatewayAddressSet").collect();
    addresses.iter().find(|a| a.text("isPrimary") == "true").or(addresses.first()).copied()
}

fn primary_text<'a>(n: &'a El, name: &str) -> &'a str {
    primary(n).map_or("", |a| a.text(name))
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let nats = match cx.api.call("DescribeNatGateways", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("NAT gateways", SECTION, &f),
    };
    let rows: Vec<&El> = nats.items("natGatewaySet").collect();
    let columns = [
        column("Name", |n: &El| html::or_dash(n.name_tag())),
        column("NAT gateway ID", |n: &El| html::link(SECTION, n.text("natGatewayId"))),
        column("Connectivity type", |n: &El| html! { (n.text("connectivityType")) }),
        column("State", |n: &El| html::state(n.text("state"))),
        column("Primary public IPv4 address", |n: &El| html::or_dash(primary_text(n, "publicIp"))),
        column("Primary private IPv4 address", |n: &El| {
            html::or_dash(primary_text(n, "privateIp"))
        }),
        column("VPC", |n: &El| html::link("vpcs", n.text("vpcId"))),
        column("Subnet", |n: &El| html::link("subnets", n.text("subnetId"))),
    ];
    let body = html::list(
        "NAT gateways",
        Some(("nat-gateways/new", "Create NAT gateway")),
        "NAT gateways",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("NAT gateways", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one("DescribeNatGateways", "NatGatewayId.1", id, "natGatewaySet", |c| {
        c.starts_with("NatGatewayNotFound") || c.starts_with("InvalidNatGatewayID")
    })
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let nat = match describe(cx, id) {
        Ok(Some(n)) => n,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("nat-gateways/{id}"));
    let name = nat.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let tab = match req.param("tab") {
        "" => "addresses",
        t => t,
    };
    let allocation = primary_text(&nat, "allocationId");
    let addresses: Vec<&El> = nat.items("natGatewayAddressSet").collect();
    let columns = [
        column("Allocation ID", |a: &El| html::link("elastic-ips", a.text("allocationId"))),
        column("Public IPv4 address", |a: &El| html::or_dash(a.text("publicIp"))),
        column("Private IPv4 address", |a: &El| html::or_dash(a.text("privateIp"))),
        column("Network interface ID", |a: &El| html::or_dash(a.text("networkInterfaceId"))),
        column("Primary", |a: &El| html! { (html::yes_no(a.text("isPrimary"))) }),
        column("Status", |a: &El| html! { (a.text("status")) }),
    ];
    let body = html! {
        (html::crumbs(SECTION, "NAT gateways", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!("NAT gateway {title} was created successfully."))),
            "deleted" => (html::notice(&format!("NAT gateway {id} is being deleted."))),
            _ => {}
        }
        (html::bar(&title, html::actions(&[("Delete NAT gateway", format!("{base}/delete"))])))
        (html::details(&[
            ("NAT gateway ID", html! { (id) }),
            ("Connectivity type", html! { (nat.text("connectivityType")) }),
            ("State", html::state(nat.text("state"))),
            ("State message", html::or_dash(nat.text("failureMessage"))),
            ("Failure code", html::or_dash(nat.text("failureCode"))),
            ("Primary public IPv4 address", html::or_dash(primary_text(&nat, "publicIp"))),
            ("Primary private IPv4 address", html::or_dash(primary_text(&nat, "privateIp"))),
            ("Primary network interface ID", html::or_dash(primary_text(&nat, "networkInterfaceId"))),
            ("Elastic IP allocation ID", if allocation.is_empty() {
                html::or_dash("")
            } else {
                html::link("elastic-ips", allocation)
            }),
            ("VPC", html::link("vpcs", nat.text("vpcId"))),
            ("Subnet", html::link("subnets", nat.text("subnetId"))),
            ("Created", html! { (nat.text("createTime")) }),
            ("Deleted", html::or_dash(nat.text("deleteTime"))),
        ]))
        (html::tabs(&base, tab, &[("addresses", "Primary and secondary IPv4 addresses"), ("tags", "Tags")]))
        @if tab == "tags" {
            (html::tags_table(&nat))
        } @else {
            (html::table("IPv4 addresses", &columns, &addresses, ""))
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

/// The form's choices: every subnet, and the Elastic IPs not associated with anything.
struct Choices {
    subnets: Vec<(String, String)>,
    addresses: Vec<(String, String)>,
}

fn choices(cx: &Cx<'_>) -> Result<Choices, Failure> {
    let subnets = cx.api.call("DescribeSubnets", &[])?;
    let addresses = cx.api.call("DescribeAddresses", &[])?;
    let mut subnet_options = vec![(String::new(), "Select a subnet".to_owned())];
    for s in subnets.items("subnetSet") {
        let (id, named) = option(s.text("subnetId"), s.name_tag());
        let text = format!("{named} | {} | {}", s.text("vpcId"), s.text("cidrBlock"));
        subnet_options.push((id, text));
    }
    let mut address_options = vec![(String::new(), "Choose an Elastic IP".to_owned())];
    for a in addresses.items("addressesSet").filter(|a| a.text("associationId").is_empty()) {
        let id = a.text("allocationId");
        let name = a.name_tag();
        let text = if name.is_empty() {
            format!("{id} ({})", a.text("publicIp"))
        } else {
            format!("{id} ({}, {name})", a.text("publicIp"))
        };
        address_options.push((id.to_owned(), text));
    }
    Ok(Choices { subnets: subnet_options, addresses: address_options })
}

/// The form, as filled (`allocation` may be the address just allocated).
fn create_form(
    req: &Request,
    choices: &Choices,
    allocation: &str,
    message: Option<Markup>,
) -> Markup {
    let connectivity = if req.value("connectivity") == "private" { "private" } else { "public" };
    html! {
        (html::crumbs(SECTION, "NAT gateways", "", "Create NAT gateway"))
        h1 { "Create NAT gateway" }
        @if let Some(m) = message { (m) }
        form.edit method="post" action=(href("nat-gateways/new")) {
            // Enter in a field creates the gateway: the form's first submit button is
            // its default, and "Allocate Elastic IP" comes before "Create NAT gateway".
            button.skip type="submit" tabindex="-1" aria-hidden="true" {}
            fieldset {
                legend { "NAT gateway settings" }
                (html::text_field("name", "Name - optional", req.value("name"), "Creates a tag with a key of 'Name' and the value you specify."))
                (html::select("subnet", "Subnet", &choices.subnets, req.value("subnet")))
                p.hint { "Select a subnet in which to create the NAT gateway." }
            }
            fieldset {
                legend { "Connectivity type" }
                p {
                    input #connectivity_public type="radio" name="connectivity" value="public" checked[connectivity == "public"];
                    label.inline for="connectivity_public" { "Public" }
                    input #connectivity_private type="radio" name="connectivity" value="private" checked[connectivity == "private"];
                    label.inline for="connectivity_private" { "Private" }
                }
                p.hint { "A public NAT gateway needs an Elastic IP address and gives a private subnet the internet. "
                    "A private one has no address and reaches other VPCs and networks only, never the internet." }
            }
            fieldset {
                legend { "Elastic IP address" }
                (html::select("allocation", "Elastic IP allocation ID", &choices.addresses, allocation))
                p.hint { "Assign an Elastic IP address to the NAT gateway (public connectivity only)." }
                p { button #allocate type="submit" name="allocate" value="1" { "Allocate Elastic IP" } }
            }
            (html::form_actions(&href(SECTION), "Create NAT gateway"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create NAT gateway";
    let page = |status: u16, choices: &Choices, allocation: &str, message: Option<Markup>| {
        Outcome::Status(
            status,
            html::page(title, SECTION, create_form(req, choices, allocation, message)),
        )
    };
    if req.is_post() && req.field("allocate") == "1" {
        // "Allocate Elastic IP": a new address, and the form again as it was with the
        // address chosen — by a redirect, so that reloading allocates nothing more.
        return match cx.api.call1("AllocateAddress", "Domain", "vpc") {
            Ok(doc) => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                for field in ["name", "subnet", "connectivity"] {
                    query.append_pair(field, req.field(field));
                }
                query.append_pair("allocation", doc.text("allocationId"));
                query.append_pair("allocated", doc.text("publicIp"));
                Outcome::Redirect(format!("{}?{}", href("nat-gateways/new"), query.finish()))
            }
            Err(f) => match choices(cx) {
                Ok(choices) => page(400, &choices, req.field("allocation"), Some(html::error(&f))),
                Err(f) => Outcome::failed(title, SECTION, &f),
            },
        };
    }
    if !req.is_post() && !req.param("allocation").is_empty() {
        let allocation = req.param("allocation");
        // Only an address is shown back: the query is the user's to type.
        let notice =
            req.param("allocated").parse::<std::net::Ipv4Addr>().ok().map(|ip| {
                html::notice(&format!("Elastic IP address {ip} ({allocation}) allocated."))
            });
        return match choices(cx) {
            Ok(choices) => page(200, &choices, allocation, notice),
            Err(f) => Outcome::failed(title, SECTION, &f),
        };
    }
    let mut failure = None;
    if req.is_post() {
        let connectivity = req.field("connectivity");
        let mut params = vec![("SubnetId".to_owned(), req.field("subnet").to_owned())];
        if connectivity == "private" {
            params.push(("ConnectivityType".to_owned(), "private".to_owned()));
        } else {
            params.push(("ConnectivityType".to_owned(), "public".to_owned()));
            if !req.field("allocation").is_empty() {
                params.push(("AllocationId".to_owned(), req.field("allocation").to_owned()));
            }
        }
        if !req.field("name").is_empty() {
            params.extend(name_tag("natgateway", req.field("name")));
        }
        match cx.api.call("CreateNatGateway", &params) {
            Ok(doc) => {
                let id = doc.at(&["natGateway", "natGatewayId"]);
                return Outcome::Redirect(href(&format!("nat-gateways/{id}?done=created")));
            }
            Err(f) => failure = Some(f),
        }
    }
    match choices(cx) {
        Ok(choices) => {
            let status = if failure.is_some() { 400 } else { 200 };
            page(status, &choices, req.field("allocation"), failure.as_ref().map(html::error))
        }
        Err(f) => Outcome::failed(title, SECTION, &f),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Delete NAT gateway";
    let nat = match describe(cx, id) {
        Ok(Some(n)) => n,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    Confirm {
        section: SECTION,
        label: "NAT gateways",
        id,
        title,
        question: html! {
            p { "Delete NAT gateway " strong { (id) } @if !nat.name_tag().is_empty() { " (" (nat.name_tag()) ")" } "?" }
            p { "Routes to it become blackholes. Its Elastic IP address stays allocated: release it from "
                a href=(href("elastic-ips")) { "Elastic IPs" } " if you no longer need it." }
        },
        verb: "delete",
        action: "DeleteNatGateway",
        id_param: "NatGatewayId",
        button: "Delete",
        done: href(&format!("nat-gateways/{id}?done=deleted")),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, get, post, post_ok};

    /// A VPC with an internet gateway and a subnet: the subnet's id.
    fn subnet(c: &Console) -> String {
        let vpc =
            api(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
        let igw = api(c, "CreateInternetGateway", &[]);
        let igw = igw.at(&["internetGateway", "internetGatewayId"]);
        api(c, "AttachInternetGateway", &[("InternetGatewayId", igw), ("VpcId", &vpc)]);
        api(c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", "10.0.0.0/24")])
            .at(&["subnet", "subnetId"])
            .to_owned()
    }

    #[test]
    fn allocate_then_create_then_delete() {
        let c = console();
        let subnet = subnet(&c);
        let form = get(&c, "/console/nat-gateways/new");
        assert!(
            form.body.contains(&format!(r#"<option value="{subnet}">{subnet} | vpc-"#)),
            "{}",
            form.body
        );
        assert!(form.body.contains(r#"name="allocate" value="1""#));

        // "Allocate Elastic IP": the form comes back (by a redirect: a reload allocates
        // nothing more) with the new address chosen and the rest as typed.
        let again = post_ok(
            &c,
            "/console/nat-gateways/new",
            &[
                ("name", "lab-nat"),
                ("subnet", &subnet),
                ("connectivity", "public"),
                ("allocation", ""),
                ("allocate", "1"),
            ],
        );
        assert_eq!(again.status, 200, "{}", again.body);
        assert!(again.body.contains("allocated."), "{}", again.body);
        let addresses = api(&c, "DescribeAddresses", &[]);
        let eip = addresses.items("addressesSet").next().unwrap();
        let allocation = eip.text("allocationId");
        assert!(
            again.body.contains(&format!(r#"<option value="{allocation}" selected>"#)),
            "{}",
            again.body
        );
        assert!(again.body.contains(&format!(r#"<option value="{subnet}" selected>"#)));
        assert!(again.body.contains(r#"value="lab-nat""#));
        assert_eq!(
            api(&c, "DescribeNatGateways", &[]).items("natGatewaySet").count(),
            0,
            "nothing created yet"
        );

        let page = post_ok(
            &c,
            "/console/nat-gateways/new",
            &[
                ("name", "lab-nat"),
                ("subnet", &subnet),
                ("connectivity", "public"),
                ("allocation", allocation),
            ],
        );
        let nats = api(&c, "DescribeNatGateways", &[]);
        let nat = nats.items("natGatewaySet").next().unwrap();
        let id = nat.text("natGatewayId");
        assert_eq!(nat.name_tag(), "lab-nat");
        assert_eq!(nat.text("subnetId"), subnet);
        assert_eq!(
            nat.items("natGatewayAddressSet").next().unwrap().text("allocationId"),
            allocation
        );
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        // The seed: "on the Detail, locate the subnet id and click on it".
        assert!(
            page.body.contains(&format!(r#"<a href="/console/subnets/{subnet}">{subnet}</a>"#))
        );
        let list = get(&c, "/console/nat-gateways");
        assert!(list.body.contains(id) && list.body.contains(eip.text("publicIp")));

        // The address is in use now: no longer offered.
        let form = get(&c, "/console/nat-gateways/new");
        assert!(!form.body.contains(&format!(r#"<option value="{allocation}""#)));

        let confirm = get(&c, &format!("/console/nat-gateways/{id}/delete"));
        assert!(confirm.body.contains(">Delete</button>"));
        let page = post_ok(&c, &format!("/console/nat-gateways/{id}/delete"), &[]);
        assert!(page.body.contains("is being deleted"), "{}", page.body);
        let nats = api(&c, "DescribeNatGateways", &[]);
        let state = nats.items("natGatewaySet").next().unwrap().text("state").to_owned();
        assert!(state == "deleted" || state == "deleting", "{state}");
    }

    #[test]
    fn the_apis_errors_are_shown_with_the_form_as_filled() {
        let c = console();
        let subnet = subnet(&c);
        // Public without an Elastic IP.
        let page = post(
            &c,
            "/console/nat-gateways/new",
            &[
                ("name", "no-eip"),
                ("subnet", &subnet),
                ("connectivity", "public"),
                ("allocation", ""),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>MissingParameter</code>"), "{}", page.body);
        assert!(page.body.contains(r#"value="no-eip""#));
        // Private: no Elastic IP is sent, whatever was chosen.
        let eip = api(&c, "AllocateAddress", &[("Domain", "vpc")]).text("allocationId").to_owned();
        let page = post(
            &c,
            "/console/nat-gateways/new",
            &[
                ("name", "private-nat"),
                ("subnet", &subnet),
                ("connectivity", "private"),
                ("allocation", &eip),
            ],
        );
        assert_eq!(page.status, 303, "{}", page.body);
        let nats = api(&c, "DescribeNatGateways", &[]);
        let nat = nats.items("natGatewaySet").next().expect("created");
        assert_eq!(nat.text("connectivityType"), "private");
        assert_eq!(super::primary_text(nat, "allocationId"), "", "no Elastic IP");
        assert!(!super::primary_text(nat, "privateIp").is_empty());
        let eips = api(&c, "DescribeAddresses", &[]);
        assert!(eips.items("addressesSet").all(|a| a.text("networkInterfaceId").is_empty()));
        let page = get(&c, &format!("/console/nat-gateways/{}", nat.text("natGatewayId")));
        assert!(page.body.contains("private"), "{}", page.body);
    }
}
