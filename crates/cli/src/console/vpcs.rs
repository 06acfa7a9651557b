//! Your VPCs: the list, a VPC's details, "Create VPC", "Edit VPC settings", "Delete VPC".

use maud::html;

use super::api::filter;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::{Cx, El, Failure, Outcome, Request};

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

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let (vpcs, tables) = match (
        cx.api.call("DescribeVpcs", &[]),
        cx.api.call("DescribeRouteTables", &filter("association.main", "true")),
    ) {
        (Ok(v), Ok(t)) => (v, t),
        (Err(f), _) | (_, Err(f)) => return Outcome::failed("Your VPCs", "vpcs", &f),
    };
    let main_table = |vpc: &str| {
        tables
            .items("routeTableSet")
            .find(|t| t.text("vpcId") == vpc)
            .map_or("", |t| t.text("routeTableId"))
            .to_owned()
    };
    let rows: Vec<&El> = vpcs.items("vpcSet").collect();
    let columns = [
        column("Name", |v: &El| html::or_dash(v.name_tag())),
        column("VPC ID", |v: &El| html::link("vpcs", v.text("vpcId"))),
        column("State", |v: &El| html::state(v.text("state"))),
        column("IPv4 CIDR", |v: &El| html! { (v.text("cidrBlock")) }),
        column("Main route table", |v: &El| {
            html::link("route-tables", &main_table(v.text("vpcId")))
        }),
        column("Default VPC", |v: &El| html! { (html::yes_no(v.text("isDefault"))) }),
    ];
    let body = html::list(
        "Your VPCs",
        Some(("vpcs/new", "Create VPC")),
        "VPCs",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("Your VPCs", "vpcs", body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one("DescribeVpcs", "VpcId.1", id, "vpcSet", |c| c.starts_with("InvalidVpcID"))
}

fn attribute(cx: &Cx<'_>, id: &str, name: &str) -> String {
    let params = [("VpcId".to_owned(), id.to_owned()), ("Attribute".to_owned(), name.to_owned())];
    cx.api.call("DescribeVpcAttribute", &params).map_or_else(
        |_| String::new(),
        |doc| {
            doc.children
                .iter()
                .find(|c| c.name != "requestId" && c.name != "vpcId")
                .map_or(String::new(), |c| c.text("value").to_owned())
        },
    )
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let vpc = match describe(cx, id) {
        Ok(Some(vpc)) => vpc,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, "vpcs", &f),
    };
    let in_vpc = filter("vpc-id", id);
    let tables = cx.api.call("DescribeRouteTables", &in_vpc).unwrap_or_default();
    let main_table = tables
        .items("routeTableSet")
        .find(|t| t.items("associationSet").any(|a| a.text("main") == "true"))
        .map_or("", |t| t.text("routeTableId"))
        .to_owned();
    let acls = cx.api.call("DescribeNetworkAcls", &in_vpc).unwrap_or_default();
    let main_acl = acls
        .items("networkAclSet")
        .find(|a| a.text("default") == "true")
        .map_or("", |a| a.text("networkAclId"))
        .to_owned();
    let (hostnames, support) =
        (attribute(cx, id, "enableDnsHostnames"), attribute(cx, id, "enableDnsSupport"));
    let enabled = |v: &str| if v == "true" { "Enabled" } else { "Disabled" };
    let tab = match req.param("tab") {
        "" => "cidrs",
        t => t,
    };
    let base = href(&format!("vpcs/{id}"));
    let name = vpc.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let body = html! {
        (html::crumbs("vpcs", "Your VPCs", id, ""))
        @if req.param("done") == "created" { (html::notice(&format!("You successfully created {id} / {name}"))) }
        @if req.param("done") == "settings" { (html::notice("The VPC's settings were saved.")) }
        (html::bar(&title, html::actions(&[
            ("Edit VPC settings", format!("{base}/settings")),
            ("Delete VPC", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("VPC ID", html! { (id) }),
            ("State", html::state(vpc.text("state"))),
            ("DNS hostnames", html! { (enabled(&hostnames)) }),
            ("DNS resolution", html! { (enabled(&support)) }),
            ("Tenancy", html! { (vpc.text("instanceTenancy")) }),
            ("Main route table", html::link("route-tables", &main_table)),
            ("Main network ACL", html::link("network-acls", &main_acl)),
            ("Default VPC", html! { (html::yes_no(vpc.text("isDefault"))) }),
            ("IPv4 CIDR", html! { (vpc.text("cidrBlock")) }),
            ("Owner ID", html! { (vpc.text("ownerId")) }),
        ]))
        (html::tabs(&base, tab, &[("cidrs", "CIDRs"), ("subnets", "Subnets"), ("tags", "Tags")]))
        @match tab {
            "subnets" => (subnets_of(cx, id)),
            "tags" => (html::tags_table(&vpc)),
            _ => {
                table.list aria-label="CIDRs" {
                    thead { tr { th scope="col" { "IPv4 CIDR" } th scope="col" { "Status" } } }
                    tbody {
                        @for c in vpc.items("cidrBlockAssociationSet") {
                            tr { td { (c.text("cidrBlock")) } td { (html::state(c.at(&["cidrBlockState", "state"]))) } }
                        }
                    }
                }
            }
        }
    };
    Outcome::Page(html::page(id, "vpcs", body))
}

fn subnets_of(cx: &Cx<'_>, id: &str) -> maud::Markup {
    match cx.api.call("DescribeSubnets", &filter("vpc-id", id)) {
        Ok(doc) => {
            let rows: Vec<&El> = doc.items("subnetSet").collect();
            let columns = [
                column("Name", |s: &El| html::or_dash(s.name_tag())),
                column("Subnet ID", |s: &El| html::link("subnets", s.text("subnetId"))),
                column("IPv4 CIDR", |s: &El| html! { (s.text("cidrBlock")) }),
                column("Availability Zone", |s: &El| html! { (s.text("availabilityZone")) }),
            ];
            html::table("subnets", &columns, &rows, "")
        }
        Err(f) => html::error(&f),
    }
}

/// The form's values, kept when the API refuses them.
fn create_form(req: &Request, failure: Option<&Failure>) -> maud::Markup {
    let value = |name: &str, default: &str| {
        if req.is_post() { req.field(name).to_owned() } else { default.to_owned() }
    };
    let tenancy = value("tenancy", "default");
    html! {
        (html::crumbs("vpcs", "Your VPCs", "", "Create VPC"))
        h1 { "Create VPC" }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("vpcs/new")) {
            fieldset {
                legend { "VPC settings" }
                p { "Resources to create: " strong { "VPC only" } " — or "
                    a href=(href("vpcs/new?wizard=more")) { "VPC and more" } "." }
                (html::text_field("name", "Name tag - optional", &value("name", ""), "Creates a tag with a key of 'Name' and the value you specify."))
                (html::text_field("cidr", "IPv4 CIDR", &value("cidr", "10.0.0.0/16"), "The CIDR block size must be between /16 and /28."))
                (html::select("tenancy", "Tenancy", &[("default".into(), "Default".into()), ("dedicated".into(), "Dedicated".into())], &tenancy))
            }
            (html::form_actions(&href("vpcs"), "Create VPC"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    if req.param("wizard") == "more" || req.field("wizard") == "more" {
        return wizard(cx, req);
    }
    if !req.is_post() {
        return Outcome::Page(html::page("Create VPC", "vpcs", create_form(req, None)));
    }
    let mut params = vec![
        ("CidrBlock".to_owned(), req.field("cidr").to_owned()),
        ("InstanceTenancy".to_owned(), req.field("tenancy").to_owned()),
    ];
    let name = req.field("name");
    if !name.is_empty() {
        params.extend(name_tag("vpc", name));
    }
    match cx.api.call("CreateVpc", &params) {
        Ok(doc) => {
            let id = doc.at(&["vpc", "vpcId"]);
            Outcome::Redirect(href(&format!("vpcs/{id}?done=created")))
        }
        Err(f) => {
            Outcome::Status(400, html::page("Create VPC", "vpcs", create_form(req, Some(&f))))
        }
    }
}

/// "VPC and more": the wizard's choices.
#[derive(Debug)]
struct Plan {
    prefix: String,
    cidr: ipnet::Ipv4Net,
    zones: Vec<String>,
    public: bool,
    private: bool,
    /// "none", "one" (in the first zone) or "per-az".
    nat: String,
    s3: bool,
    dns_hostnames: bool,
    dns_support: bool,
}

/// The form of "VPC and more", with the choices as made so far.
fn wizard_form(
    req: &Request,
    failure: Option<&Failure>,
    done: &[(String, String)],
) -> maud::Markup {
    let value = |name: &str, default: &str| {
        if req.is_post() { req.field(name).to_owned() } else { default.to_owned() }
    };
    let checked = |name: &str| !req.is_post() || req.field(name) == "on";
    let options = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(v, t)| ((*v).to_owned(), (*t).to_owned())).collect()
    };
    html! {
        (html::crumbs("vpcs", "Your VPCs", "", "Create VPC"))
        h1 { "Create VPC" }
        @if let Some(f) = failure { (html::error(f)) }
        @if !done.is_empty() {
            h2 { "What was created before the error" }
            ul { @for (what, id) in done { li { (what) ": " (id) } } }
        }
        form.edit method="post" action=(href("vpcs/new")) {
            input type="hidden" name="wizard" value="more";
            fieldset {
                legend { "VPC settings" }
                p { "Resources to create: " a href=(href("vpcs/new")) { "VPC only" } " — or "
                    strong { "VPC and more" } "." }
                (html::text_field("name_prefix", "Name tag auto-generation", &value("name_prefix", "project"), "Names every resource: project-vpc, project-subnet-public1-us-east-1a, …"))
                (html::text_field("cidr", "IPv4 CIDR block", &value("cidr", "10.0.0.0/16"), "Subnets are /20s of a /16 (four bits more than the VPC's prefix)."))
                (html::select("azs", "Number of Availability Zones (AZs)", &options(&[("1", "1"), ("2", "2"), ("3", "3")]), &value("azs", "2")))
                (html::select("public_subnets", "Number of public subnets", &options(&[("0", "0"), ("1", "One per AZ")]), &value("public_subnets", "1")))
                (html::select("private_subnets", "Number of private subnets", &options(&[("0", "0"), ("1", "One per AZ")]), &value("private_subnets", "1")))
                (html::select("nat", "NAT gateways ($)", &options(&[("none", "None"), ("one", "In 1 AZ"), ("per-az", "1 per AZ")]), &value("nat", "none")))
                (html::select("s3_endpoint", "VPC endpoints", &options(&[("none", "None"), ("gateway", "S3 Gateway")]), &value("s3_endpoint", "gateway")))
                p {
                    input #dns_hostnames type="checkbox" name="dns_hostnames" checked[checked("dns_hostnames")];
                    label.inline for="dns_hostnames" { "Enable DNS hostnames" }
                    input #dns_support type="checkbox" name="dns_support" checked[checked("dns_support")];
                    label.inline for="dns_support" { "Enable DNS resolution" }
                }
            }
            (html::form_actions(&href("vpcs"), "Create VPC"))
        }
    }
}

fn plan(req: &Request) -> Result<Plan, Failure> {
    let invalid = |m: String| Failure::new("InvalidParameterValue", m);
    let cidr: ipnet::Ipv4Net = req.field("cidr").parse().map_err(|_| {
        invalid(format!(
            "Value ({}) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
            req.field("cidr")
        ))
    })?;
    let azs: usize = req
        .field("azs")
        .parse()
        .ok()
        .filter(|n| (1..=3).contains(n))
        .ok_or_else(|| invalid("Choose 1, 2 or 3 Availability Zones.".into()))?;
    let prefix = match req.field("name_prefix") {
        "" => "project",
        p => p,
    }
    .to_owned();
    let zones =
        ["us-east-1a", "us-east-1b", "us-east-1c"][..azs].iter().map(|z| (*z).to_owned()).collect();
    Ok(Plan {
        prefix,
        cidr,
        zones,
        public: req.field("public_subnets") != "0",
        private: req.field("private_subnets") != "0",
        nat: req.field("nat").to_owned(),
        s3: req.field("s3_endpoint") == "gateway",
        dns_hostnames: req.field("dns_hostnames") == "on",
        dns_support: req.field("dns_support") == "on",
    })
}

/// The `n`th /(vpc + 4) of the VPC: public subnets from the bottom, private ones from
/// the middle, as AWS's wizard lays them out (10.0.0.0/20, 10.0.16.0/20 | 10.0.128.0/20…).
fn nth_subnet(vpc: ipnet::Ipv4Net, n: u32) -> Option<ipnet::Ipv4Net> {
    let prefix = vpc.prefix_len().checked_add(4).filter(|p| *p <= 28)?;
    vpc.subnets(prefix).ok()?.nth(n as usize)
}

fn wizard(cx: &Cx<'_>, req: &Request) -> Outcome {
    if !req.is_post() {
        return Outcome::Page(html::page("Create VPC", "vpcs", wizard_form(req, None, &[])));
    }
    let mut done: Vec<(String, String)> = Vec::new();
    match build(cx, req, &mut done) {
        Ok(vpc) => Outcome::Redirect(href(&format!("vpcs/{vpc}?done=created"))),
        Err(f) => Outcome::Status(
            400,
            html::page("Create VPC", "vpcs", wizard_form(req, Some(&f), &done)),
        ),
    }
}

/// Creates what the plan asks for, in AWS's wizard's order, noting each resource in
/// `done` (so that an error shows what exists already).
fn build(cx: &Cx<'_>, req: &Request, done: &mut Vec<(String, String)>) -> Result<String, Failure> {
    let p = plan(req)?;
    let call = |action: &str, params: Vec<(String, String)>| cx.api.call(action, &params);
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let named = |kind: &str, name: String, mut params: Vec<(String, String)>| {
        params.extend(name_tag(kind, &name));
        (name, params)
    };

    let (name, params) =
        named("vpc", format!("{}-vpc", p.prefix), vec![pair("CidrBlock", &p.cidr.to_string())]);
    let vpc = call("CreateVpc", params)?.at(&["vpc", "vpcId"]).to_owned();
    done.push((format!("VPC {name}"), vpc.clone()));
    for (on, attribute) in
        [(p.dns_support, "EnableDnsSupport"), (p.dns_hostnames, "EnableDnsHostnames")]
    {
        let value = if on { "true" } else { "false" };
        call(
            "ModifyVpcAttribute",
            vec![pair("VpcId", &vpc), pair(&format!("{attribute}.Value"), value)],
        )?;
    }
    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    for (i, zone) in p.zones.iter().enumerate() {
        let n = i as u32;
        let half = 1u32 << 3;
        for (public, index, list) in
            [(true, n, &mut public_subnets), (false, half + n, &mut private_subnets)]
        {
            if (public && !p.public) || (!public && !p.private) {
                continue;
            }
            let cidr = nth_subnet(p.cidr, index).ok_or_else(|| {
                Failure::new(
                    "InvalidParameterValue",
                    "The VPC's CIDR is too small for the wizard's /20 subnets (use a /16 to /24).",
                )
            })?;
            let kind = if public { "public" } else { "private" };
            let (name, params) = named(
                "subnet",
                format!("{}-subnet-{kind}{}-{zone}", p.prefix, i + 1),
                vec![
                    pair("VpcId", &vpc),
                    pair("CidrBlock", &cidr.to_string()),
                    pair("AvailabilityZone", zone),
                ],
            );
            let id = call("CreateSubnet", params)?.at(&["subnet", "subnetId"]).to_owned();
            done.push((format!("Subnet {name}"), id.clone()));
            list.push((zone.clone(), id));
        }
    }
    if p.public {
        let (name, params) = named("internet-gateway", format!("{}-igw", p.prefix), vec![]);
        let igw = call("CreateInternetGateway", params)?
            .at(&["internetGateway", "internetGatewayId"])
            .to_owned();
        done.push((format!("Internet gateway {name}"), igw.clone()));
        call("AttachInternetGateway", vec![pair("InternetGatewayId", &igw), pair("VpcId", &vpc)])?;
        let (name, params) =
            named("route-table", format!("{}-rtb-public", p.prefix), vec![pair("VpcId", &vpc)]);
        let table =
            call("CreateRouteTable", params)?.at(&["routeTable", "routeTableId"]).to_owned();
        done.push((format!("Route table {name}"), table.clone()));
        call(
            "CreateRoute",
            vec![
                pair("RouteTableId", &table),
                pair("DestinationCidrBlock", "0.0.0.0/0"),
                pair("GatewayId", &igw),
            ],
        )?;
        for (_, subnet) in &public_subnets {
            call(
                "AssociateRouteTable",
                vec![pair("RouteTableId", &table), pair("SubnetId", subnet)],
            )?;
        }
    }
    let mut nats: Vec<(String, String)> = Vec::new();
    if p.public && p.private && p.nat != "none" {
        let zones = if p.nat == "per-az" { public_subnets.len() } else { 1 };
        for (i, (zone, subnet)) in public_subnets.iter().take(zones).enumerate() {
            let (name, params) = named(
                "elastic-ip",
                format!("{}-eip-{zone}", p.prefix),
                vec![pair("Domain", "vpc")],
            );
            let eip = call("AllocateAddress", params)?.text("allocationId").to_owned();
            done.push((format!("Elastic IP {name}"), eip.clone()));
            let (name, params) = named(
                "natgateway",
                format!("{}-nat-public{}-{zone}", p.prefix, i + 1),
                vec![pair("SubnetId", subnet), pair("AllocationId", &eip)],
            );
            let nat =
                call("CreateNatGateway", params)?.at(&["natGateway", "natGatewayId"]).to_owned();
            done.push((format!("NAT gateway {name}"), nat.clone()));
            nats.push((zone.clone(), nat));
        }
    }
    let mut private_tables = Vec::new();
    for (i, (zone, subnet)) in private_subnets.iter().enumerate() {
        let (name, params) = named(
            "route-table",
            format!("{}-rtb-private{}-{zone}", p.prefix, i + 1),
            vec![pair("VpcId", &vpc)],
        );
        let table =
            call("CreateRouteTable", params)?.at(&["routeTable", "routeTableId"]).to_owned();
        done.push((format!("Route table {name}"), table.clone()));
        call("AssociateRouteTable", vec![pair("RouteTableId", &table), pair("SubnetId", subnet)])?;
        // The zone's own NAT gateway, or the one there is.
        if let Some((_, nat)) = nats.iter().find(|(z, _)| z == zone).or(nats.first()) {
            call(
                "CreateRoute",
                vec![
                    pair("RouteTableId", &table),
                    pair("DestinationCidrBlock", "0.0.0.0/0"),
                    pair("NatGatewayId", nat),
                ],
            )?;
        }
        private_tables.push(table);
    }
    if p.s3 && !private_tables.is_empty() {
        let mut params = vec![
            pair("VpcId", &vpc),
            pair("ServiceName", "com.amazonaws.us-east-1.s3"),
            pair("VpcEndpointType", "Gateway"),
        ];
        for (i, table) in private_tables.iter().enumerate() {
            params.push(pair(&format!("RouteTableId.{}", i + 1), table));
        }
        let (name, params) = named("vpc-endpoint", format!("{}-vpce-s3", p.prefix), params);
        let endpoint =
            call("CreateVpcEndpoint", params)?.at(&["vpcEndpoint", "vpcEndpointId"]).to_owned();
        done.push((format!("Endpoint {name}"), endpoint));
    }
    Ok(vpc)
}

/// `TagSpecification` parameters giving a new resource of `kind` the Name `name`.
pub(crate) fn name_tag(kind: &str, name: &str) -> Vec<(String, String)> {
    name_tag_at("TagSpecification", kind, name)
}

/// [`name_tag`] for the actions whose list is named otherwise (`list`: the transit
/// gateway attachments' and route tables' `TagSpecifications`).
pub(crate) fn name_tag_at(list: &str, kind: &str, name: &str) -> Vec<(String, String)> {
    vec![
        (format!("{list}.1.ResourceType"), kind.to_owned()),
        (format!("{list}.1.Tag.1.Key"), "Name".to_owned()),
        (format!("{list}.1.Tag.1.Value"), name.to_owned()),
    ]
}

fn settings(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let base = href(&format!("vpcs/{id}"));
    let mut failure = None;
    if req.is_post() {
        // One attribute per call, as the API requires.
        for (field, attribute) in
            [("dns_support", "EnableDnsSupport"), ("dns_hostnames", "EnableDnsHostnames")]
        {
            let on = if req.field(field) == "on" { "true" } else { "false" };
            let params = [
                ("VpcId".to_owned(), id.to_owned()),
                (format!("{attribute}.Value"), on.to_owned()),
            ];
            if let Err(f) = cx.api.call("ModifyVpcAttribute", &params) {
                failure = Some(f);
                break;
            }
        }
        if failure.is_none() {
            return Outcome::Redirect(format!("{base}?done=settings"));
        }
    }
    let (hostnames, support) =
        (attribute(cx, id, "enableDnsHostnames"), attribute(cx, id, "enableDnsSupport"));
    let body = html! {
        (html::crumbs("vpcs", "Your VPCs", id, "Edit VPC settings"))
        h1 { "Edit VPC settings" }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/settings")) {
            fieldset {
                legend { "DNS settings" }
                p {
                    input #dns_support type="checkbox" name="dns_support" checked[support == "true"];
                    label.inline for="dns_support" { "Enable DNS resolution" }
                }
                p {
                    input #dns_hostnames type="checkbox" name="dns_hostnames" checked[hostnames == "true"];
                    label.inline for="dns_hostnames" { "Enable DNS hostnames" }
                }
            }
            (html::form_actions(&base, "Save"))
        }
    };
    Outcome::form("Edit VPC settings", "vpcs", body, failure.is_some())
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: "vpcs",
        label: "Your VPCs",
        id,
        title: "Delete VPC",
        question: html! { p { "Delete " strong { (id) } "? Its subnets, gateways and instances must go first: the API refuses otherwise (" code { "DependencyViolation" } ")." } },
        verb: "delete",
        action: "DeleteVpc",
        id_param: "VpcId",
        button: "Delete",
        done: href("vpcs"),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get, post, post_ok};

    #[test]
    fn a_vpc_made_in_the_console_is_the_apis() {
        let c = console();
        let page = post_ok(
            &c,
            "/console/vpcs/new",
            &[("name", "lab-vpc"), ("cidr", "10.0.0.0/16"), ("tenancy", "default")],
        );
        assert_eq!(page.status, 200);
        assert!(page.body.contains("You successfully created vpc-"), "{}", page.body);
        let vpcs = api(&c, "DescribeVpcs", &[]);
        let vpc = vpcs.items("vpcSet").next().unwrap();
        assert_eq!(vpc.name_tag(), "lab-vpc");
        assert_eq!(vpc.text("cidrBlock"), "10.0.0.0/16");
        let list = get(&c, "/console/vpcs");
        assert!(list.body.contains(vpc.text("vpcId")) && list.body.contains("lab-vpc"));
        let none = get(&c, "/console/vpcs?search=no-such-thing");
        assert!(none.body.contains("No VPCs match."));
    }

    #[test]
    fn the_apis_errors_are_shown_with_the_form_as_filled() {
        let c = console();
        let page = post(
            &c,
            "/console/vpcs/new",
            &[("name", "x"), ("cidr", "10.0.0.0/8"), ("tenancy", "default")],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>InvalidVpc.Range</code>"), "{}", page.body);
        assert!(page.body.contains(r#"value="10.0.0.0/8""#), "the form keeps what was typed");
        assert_eq!(api(&c, "DescribeVpcs", &[]).items("vpcSet").count(), 0);
    }

    #[test]
    fn vpc_and_more_builds_the_wizards_network() {
        let c = console();
        let form = get(&c, "/console/vpcs/new?wizard=more");
        assert!(form.body.contains("Number of Availability Zones"));
        let page = post_ok(
            &c,
            "/console/vpcs/new",
            &[
                ("wizard", "more"),
                ("name_prefix", "lab"),
                ("cidr", "10.0.0.0/16"),
                ("azs", "2"),
                ("public_subnets", "1"),
                ("private_subnets", "1"),
                ("nat", "one"),
                ("s3_endpoint", "gateway"),
                ("dns_hostnames", "on"),
                ("dns_support", "on"),
            ],
        );
        assert!(page.body.contains("You successfully created vpc-"), "{}", page.body);
        let subnets = api(&c, "DescribeSubnets", &[]);
        let mut cidrs: Vec<(String, String)> = subnets
            .items("subnetSet")
            .map(|s| (s.name_tag().to_owned(), s.text("cidrBlock").to_owned()))
            .collect();
        cidrs.sort();
        assert_eq!(
            cidrs,
            [
                ("lab-subnet-private1-us-east-1a".to_owned(), "10.0.128.0/20".to_owned()),
                ("lab-subnet-private2-us-east-1b".to_owned(), "10.0.144.0/20".to_owned()),
                ("lab-subnet-public1-us-east-1a".to_owned(), "10.0.0.0/20".to_owned()),
                ("lab-subnet-public2-us-east-1b".to_owned(), "10.0.16.0/20".to_owned()),
            ]
        );
        let nats = api(&c, "DescribeNatGateways", &[]);
        let nat = nats.items("natGatewaySet").next().unwrap().text("natGatewayId").to_owned();
        let tables = api(&c, "DescribeRouteTables", &[]);
        let routes_to = |target: &str| {
            tables
                .items("routeTableSet")
                .filter(|t| {
                    t.items("routeSet")
                        .any(|r| r.text("natGatewayId") == target || r.text("gatewayId") == target)
                })
                .count()
        };
        assert_eq!(routes_to(&nat), 2, "both private tables through the one NAT gateway");
        let igw = api(&c, "DescribeInternetGateways", &[]);
        let igw =
            igw.items("internetGatewaySet").next().unwrap().text("internetGatewayId").to_owned();
        assert_eq!(routes_to(&igw), 1);
        let endpoints = api(&c, "DescribeVpcEndpoints", &[]);
        let s3 = endpoints.items("vpcEndpointSet").next().unwrap();
        assert_eq!(s3.items("routeTableIdSet").count(), 2);
    }

    #[test]
    fn a_wizard_error_shows_what_exists_already() {
        let c = console();
        let page = post(
            &c,
            "/console/vpcs/new",
            &[
                ("wizard", "more"),
                ("name_prefix", "x"),
                ("cidr", "10.0.0.0/26"),
                ("azs", "1"),
                ("public_subnets", "1"),
                ("private_subnets", "0"),
                ("nat", "none"),
                ("s3_endpoint", "none"),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("too small"), "{}", page.body);
        assert!(page.body.contains("VPC x-vpc"), "the VPC was made before: {}", page.body);
    }

    #[test]
    fn settings_and_delete_go_through_the_api() {
        let c = console();
        let vpc = api(&c, "CreateVpc", &[("CidrBlock", "10.1.0.0/16")]);
        let id = vpc.at(&["vpc", "vpcId"]).to_owned();
        post_ok(
            &c,
            &format!("/console/vpcs/{id}/settings"),
            &[("dns_support", "on"), ("dns_hostnames", "on")],
        );
        let attr =
            api(&c, "DescribeVpcAttribute", &[("VpcId", &id), ("Attribute", "enableDnsHostnames")]);
        assert_eq!(attr.at(&["enableDnsHostnames", "value"]), "true");
        let confirm = get(&c, &format!("/console/vpcs/{id}/delete"));
        assert!(confirm.body.contains("Delete") && confirm.body.contains(&id));
        let gone = post(&c, &format!("/console/vpcs/{id}/delete"), &[]);
        assert_eq!(gone.status, 303);
        assert_eq!(api(&c, "DescribeVpcs", &[]).items("vpcSet").count(), 0);
        assert_eq!(get(&c, &format!("/console/vpcs/{id}")).status, 404);
    }
}
