//! Elastic IPs: the list, an address's details, "Allocate Elastic IP address",
//! "Associate Elastic IP address", "Disassociate Elastic IP address" and "Release Elastic
//! IP addresses".

use maud::{Markup, html};

use super::choices::{labelled, option};
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "elastic-ips";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => allocate(cx, req),
        [id] => detail(cx, id, req),
        [id, "associate"] => associate(cx, id, req),
        [id, "disassociate"] => disassociate(cx, id, req),
        [id, "release"] => release(cx, id, req),
        _ => Outcome::NotFound,
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let addresses = match cx.api.call("DescribeAddresses", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Elastic IP addresses", SECTION, &f),
    };
    let rows: Vec<&El> = addresses.items("addressesSet").collect();
    // The notice after "Allocate": the new address, found by its allocation id.
    let allocated = (req.param("done") == "allocated")
        .then(|| rows.iter().find(|a| a.text("allocationId") == req.param("id")))
        .flatten();
    let columns = [
        column("Name", |a: &El| html::or_dash(a.name_tag())),
        column("Allocated IPv4 address", |a: &El| {
            html! { a href=(href(&format!("elastic-ips/{}", a.text("allocationId")))) { (a.text("publicIp")) } }
        }),
        column("Allocation ID", |a: &El| html::link(SECTION, a.text("allocationId"))),
        column("Associated instance ID", |a: &El| html::link("instances", a.text("instanceId"))),
        column("Private IP address", |a: &El| html::or_dash(a.text("privateIpAddress"))),
        column("Association ID", |a: &El| html::or_dash(a.text("associationId"))),
        column("Network interface ID", |a: &El| html::or_dash(a.text("networkInterfaceId"))),
    ];
    let body = html! {
        @if let Some(a) = allocated {
            div.flash.ok role="status" {
                "Elastic IP address allocated successfully. Elastic IP address "
                a href=(href(&format!("elastic-ips/{}", a.text("allocationId")))) { (a.text("publicIp")) }
                " — "
                a href=(href(&format!("elastic-ips/{}/associate", a.text("allocationId")))) {
                    "Associate this Elastic IP address"
                }
            }
        }
        @if req.param("done") == "released" {
            (html::notice(&format!("Elastic IP address {} released.", req.param("ip"))))
        }
        (html::list("Elastic IP addresses", Some(("elastic-ips/new", "Allocate Elastic IP address")), "Elastic IP addresses", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Elastic IP addresses", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one("DescribeAddresses", "AllocationId.1", id, "addressesSet", |c| {
        c.starts_with("InvalidAllocationID")
    })
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let address = match describe(cx, id) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("elastic-ips/{id}"));
    let ip = address.text("publicIp");
    let done = match req.param("done") {
        "associated" => "Elastic IP address associated successfully.",
        "disassociated" => "Elastic IP address disassociated successfully.",
        _ => "",
    };
    let title = labelled(ip, address.name_tag());
    let body = html! {
        (html::crumbs(SECTION, "Elastic IP addresses", id, ""))
        @if !done.is_empty() { (html::notice(done)) }
        (html::bar(&title, html::actions(&[
            ("Associate Elastic IP address", format!("{base}/associate")),
            ("Disassociate Elastic IP address", format!("{base}/disassociate")),
            ("Release Elastic IP addresses", format!("{base}/release")),
        ])))
        (html::details(&[
            ("Allocated IPv4 address", html! { (ip) }),
            ("Type", html! { "Public IP" }),
            ("Allocation ID", html! { (id) }),
            ("Association ID", html::or_dash(address.text("associationId"))),
            ("Scope", html! { (address.text("domain")) }),
            ("Associated instance ID", html::link("instances", address.text("instanceId"))),
            ("Private IP address", html::or_dash(address.text("privateIpAddress"))),
            ("Network interface ID", html::or_dash(address.text("networkInterfaceId"))),
            ("Network interface owner account ID", html::or_dash(address.text("networkInterfaceOwnerId"))),
            ("Public IPv4 pool", html! { (address.text("publicIpv4Pool")) }),
            ("Network border group", html! { (address.text("networkBorderGroup")) }),
        ]))
        (html::tabs(&base, "tags", &[("tags", "Tags")]))
        (html::tags_table(&address))
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn allocate_form(req: &Request, failure: Option<&Failure>) -> Markup {
    html! {
        (html::crumbs(SECTION, "Elastic IP addresses", "", "Allocate Elastic IP address"))
        h1 { "Allocate Elastic IP address" }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("elastic-ips/new")) {
            fieldset {
                legend { "Elastic IP address settings" }
                p { "Public IPv4 address pool: " strong { "Amazon's pool of IPv4 addresses" } }
                p { "Network border group: " strong { "us-east-1" } }
            }
            fieldset {
                legend { "Tags - optional" }
                (html::text_field("name", "Name", req.field("name"), "Creates a tag with a key of 'Name' and the value you specify."))
            }
            (html::form_actions(&href(SECTION), "Allocate"))
        }
    }
}

fn allocate(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Allocate Elastic IP address";
    if !req.is_post() {
        return Outcome::Page(html::page(title, SECTION, allocate_form(req, None)));
    }
    let mut p = params(&[("Domain", "vpc")]);
    if !req.field("name").is_empty() {
        p.extend(name_tag("elastic-ip", req.field("name")));
    }
    match cx.api.call("AllocateAddress", &p) {
        Ok(doc) => {
            let id = doc.text("allocationId");
            Outcome::Redirect(href(&format!("elastic-ips?done=allocated&id={id}")))
        }
        Err(f) => Outcome::Status(400, html::page(title, SECTION, allocate_form(req, Some(&f)))),
    }
}

/// `(value, text)` options of the instances an address may be associated with.
fn instance_options(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeInstances", &[])?;
    let mut options = vec![(String::new(), "Choose an instance".to_owned())];
    for i in doc.items("reservationSet").flat_map(|r| r.items("instancesSet")) {
        let state = i.at(&["instanceState", "name"]);
        if matches!(state, "terminated" | "shutting-down") {
            continue;
        }
        let (id, named) = option(i.text("instanceId"), i.name_tag());
        options.push((id, format!("{named} | {state}")));
    }
    Ok(options)
}

fn interface_options(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeNetworkInterfaces", &[])?;
    let mut options = vec![(String::new(), "Choose a network interface".to_owned())];
    // Those AWS manages (NAT gateways', endpoints') take no Elastic IP from you.
    for n in doc.items("networkInterfaceSet").filter(|n| n.text("requesterManaged") != "true") {
        let id = n.text("networkInterfaceId");
        let mut text = format!("{id} | {}", n.text("privateIpAddress"));
        let instance = n.at(&["attachment", "instanceId"]);
        if !instance.is_empty() {
            text.push_str(&format!(" | {instance}"));
        }
        options.push((id.to_owned(), text));
    }
    Ok(options)
}

fn associate(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Associate Elastic IP address";
    let address = match describe(cx, id) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let base = href(&format!("elastic-ips/{id}"));
    let mut failure = None;
    if req.is_post() {
        let mut p = params(&[("AllocationId", id)]);
        let (param, field) = match req.field("resource_type") {
            "network-interface" => ("NetworkInterfaceId", "network_interface"),
            _ => ("InstanceId", "instance"),
        };
        if !req.field(field).is_empty() {
            p.push((param.to_owned(), req.field(field).to_owned()));
        }
        if req.field("reassociate") == "on" {
            p.push(("AllowReassociation".to_owned(), "true".to_owned()));
        }
        match cx.api.call("AssociateAddress", &p) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done=associated")),
            Err(f) => failure = Some(f),
        }
    }
    let (instances, interfaces) = match (instance_options(cx), interface_options(cx)) {
        (Ok(i), Ok(n)) => (i, n),
        (Err(f), _) | (_, Err(f)) => return Outcome::failed(title, SECTION, &f),
    };
    let kind = if req.field("resource_type") == "network-interface" {
        "network-interface"
    } else {
        "instance"
    };
    let body = html! {
        (html::crumbs(SECTION, "Elastic IP addresses", id, title))
        h1 { (title) }
        p { "Choose the instance or network interface to associate with this Elastic IP address ("
            strong { (address.text("publicIp")) } ")." }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/associate")) {
            fieldset {
                legend { "Resource type" }
                p {
                    input #resource_type_instance type="radio" name="resource_type" value="instance" checked[kind == "instance"];
                    label.inline for="resource_type_instance" { "Instance" }
                    input #resource_type_interface type="radio" name="resource_type" value="network-interface" checked[kind == "network-interface"];
                    label.inline for="resource_type_interface" { "Network interface" }
                }
                (html::select("instance", "Instance", &instances, req.field("instance")))
                (html::select("network_interface", "Network interface", &interfaces, req.field("network_interface")))
                p.hint { "The one of the resource type chosen above is used." }
            }
            fieldset {
                legend { "Reassociation" }
                p {
                    input #reassociate type="checkbox" name="reassociate" checked[req.field("reassociate") == "on"];
                    label.inline for="reassociate" { "Allow this Elastic IP address to be reassociated" }
                }
            }
            (html::form_actions(&base, "Associate"))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn disassociate(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Disassociate Elastic IP address";
    let address = match describe(cx, id) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let base = href(&format!("elastic-ips/{id}"));
    let association = address.text("associationId");
    let mut failure = None;
    if req.is_post() {
        // Without an association the API says what is missing.
        let p = if association.is_empty() {
            Vec::new()
        } else {
            params(&[("AssociationId", association)])
        };
        match cx.api.call("DisassociateAddress", &p) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done=disassociated")),
            Err(f) => failure = Some(f),
        }
    }
    let with = match (address.text("instanceId"), address.text("networkInterfaceId")) {
        ("", "") => String::new(),
        ("", eni) => eni.to_owned(),
        (instance, _) => instance.to_owned(),
    };
    let body = html! {
        (html::crumbs(SECTION, "Elastic IP addresses", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        (html::confirm(
            html! {
                @if with.is_empty() {
                    p { "Elastic IP address " strong { (address.text("publicIp")) } " is not associated with anything." }
                } @else {
                    p { "Disassociate Elastic IP address " strong { (address.text("publicIp")) }
                        " from " strong { (with) } " (association " code { (association) } ")?" }
                }
            },
            &format!("{base}/disassociate"),
            "Disassociate",
            &base,
        ))
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn release(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Release Elastic IP addresses";
    let address = match describe(cx, id) {
        Ok(Some(a)) => a,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let ip = address.text("publicIp");
    Confirm {
        section: SECTION,
        label: "Elastic IP addresses",
        id,
        title,
        question: html! {
            p { "Release Elastic IP address " strong { (ip) } " (" (id) ")? "
                "A released address goes back to Amazon's pool; an address still associated cannot be released." }
        },
        verb: "release",
        action: "ReleaseAddress",
        id_param: "AllocationId",
        button: "Release",
        done: href(&format!("elastic-ips?done=released&ip={ip}")),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get, post, post_ok};

    fn allocation(c: &super::super::Console) -> String {
        api(c, "AllocateAddress", &[("Domain", "vpc")]).text("allocationId").to_owned()
    }

    /// A VPC with an internet gateway and a running instance: (instance, its interface).
    fn instance(c: &super::super::Console) -> (String, String) {
        let vpc =
            api(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
        let subnet = api(c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", "10.0.1.0/24")])
            .at(&["subnet", "subnetId"])
            .to_owned();
        let igw = api(c, "CreateInternetGateway", &[])
            .at(&["internetGateway", "internetGatewayId"])
            .to_owned();
        api(c, "AttachInternetGateway", &[("InternetGatewayId", &igw), ("VpcId", &vpc)]);
        let run = api(
            c,
            "RunInstances",
            &[
                ("ImageId", "ami-0abcdef1234567890"),
                ("SubnetId", &subnet),
                ("MinCount", "1"),
                ("MaxCount", "1"),
            ],
        );
        let i = run.items("instancesSet").next().unwrap();
        let eni =
            i.items("networkInterfaceSet").next().unwrap().text("networkInterfaceId").to_owned();
        (i.text("instanceId").to_owned(), eni)
    }

    #[test]
    fn an_address_allocated_in_the_console_is_named_on_the_list() {
        let c = console();
        let form = get(&c, "/console/elastic-ips/new");
        assert!(form.body.contains(r#"name="name""#) && form.body.contains("Allocate"));
        let list = post_ok(&c, "/console/elastic-ips/new", &[("name", "web-eip")]);
        let doc = api(&c, "DescribeAddresses", &[]);
        let a = doc.items("addressesSet").next().unwrap();
        assert_eq!(a.name_tag(), "web-eip");
        assert_eq!(a.text("domain"), "vpc");
        let ip = a.text("publicIp");
        assert!(list.body.contains("Elastic IP address allocated successfully"), "{}", list.body);
        assert!(list.body.contains(&format!(">{ip}</a>")), "the notice names the address");
        assert!(list.body.contains("web-eip") && list.body.contains(a.text("allocationId")));
        let page = get(&c, &format!("/console/elastic-ips/{}", a.text("allocationId")));
        assert_eq!(page.status, 200);
        assert!(page.body.contains(ip) && page.body.contains("Release Elastic IP addresses"));
        assert_eq!(get(&c, "/console/elastic-ips/eipalloc-00000000000000000").status, 404);
    }

    #[test]
    fn associate_disassociate_and_release() {
        let c = console();
        let id = allocation(&c);
        let (instance, eni) = instance(&c);
        let form = get(&c, &format!("/console/elastic-ips/{id}/associate"));
        assert!(form.body.contains(&format!(r#"<option value="{instance}">"#)), "{}", form.body);
        let page = post_ok(
            &c,
            &format!("/console/elastic-ips/{id}/associate"),
            &[("resource_type", "instance"), ("instance", &instance), ("network_interface", "")],
        );
        assert!(page.body.contains("associated successfully"), "{}", page.body);
        let a = api(&c, "DescribeAddresses", &[("AllocationId.1", &id)]);
        let a = a.items("addressesSet").next().unwrap();
        assert_eq!(a.text("instanceId"), instance);
        assert!(page.body.contains(a.text("associationId")));

        // Release is refused while associated: the API's error, on the confirmation.
        let refused = post(&c, &format!("/console/elastic-ips/{id}/release"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>InvalidIPAddress.InUse</code>"), "{}", refused.body);

        let confirm = get(&c, &format!("/console/elastic-ips/{id}/disassociate"));
        assert!(
            confirm.body.contains(&instance) && confirm.body.contains(">Disassociate</button>")
        );
        post_ok(&c, &format!("/console/elastic-ips/{id}/disassociate"), &[]);
        let a = api(&c, "DescribeAddresses", &[("AllocationId.1", &id)]);
        assert_eq!(a.items("addressesSet").next().unwrap().text("associationId"), "");

        // By network interface this time.
        post_ok(
            &c,
            &format!("/console/elastic-ips/{id}/associate"),
            &[
                ("resource_type", "network-interface"),
                ("instance", ""),
                ("network_interface", &eni),
            ],
        );
        let a = api(&c, "DescribeAddresses", &[("AllocationId.1", &id)]);
        assert_eq!(a.items("addressesSet").next().unwrap().text("networkInterfaceId"), eni);
        post_ok(&c, &format!("/console/elastic-ips/{id}/disassociate"), &[]);

        let ip = api(&c, "DescribeAddresses", &[])
            .items("addressesSet")
            .next()
            .unwrap()
            .text("publicIp")
            .to_owned();
        let list = post_ok(&c, &format!("/console/elastic-ips/{id}/release"), &[]);
        assert!(list.body.contains(&format!("Elastic IP address {ip} released.")), "{}", list.body);
        assert_eq!(api(&c, "DescribeAddresses", &[]).items("addressesSet").count(), 0);
    }

    #[test]
    fn associating_without_a_resource_shows_the_apis_error() {
        let c = console();
        let id = allocation(&c);
        let page = post(
            &c,
            &format!("/console/elastic-ips/{id}/associate"),
            &[("resource_type", "instance"), ("instance", ""), ("reassociate", "on")],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>MissingParameter</code>"), "{}", page.body);
        assert!(
            page.body.contains(r#"name="reassociate" checked"#),
            "the form keeps what was chosen"
        );
        let unassociated = post(&c, &format!("/console/elastic-ips/{id}/disassociate"), &[]);
        assert_eq!(unassociated.status, 400);
        assert!(unassociated.body.contains("<code>MissingParameter</code>"));
    }
}
