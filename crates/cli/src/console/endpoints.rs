//! Endpoints: the list, an endpoint's details, "Create endpoint", "Manage route tables"
//! (gateway endpoints), "Manage subnets" and "Manage security groups" (interface
//! endpoints) and "Delete VPC endpoint".
//!
//! What "Create endpoint" offers depends on the service type and the VPC chosen (the
//! VPC's route tables, or its subnets and security groups). Without JavaScript it takes
//! two steps in one form: "Continue" sends the form as a GET to the same page, which
//! comes back with the choices for that VPC and everything kept; "Create endpoint" posts.

use maud::{Markup, html};

use super::api::filter;
use super::choices;
use super::html::{self, column, href};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "endpoints";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "manage-route-tables"] => manage(cx, id, req, &ROUTE_TABLES),
        [id, "manage-subnets"] => manage(cx, id, req, &SUBNETS),
        [id, "manage-security-groups"] => manage(cx, id, req, &SECURITY_GROUPS),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// The values of a `…Set` of plain items (`<routeTableIdSet><item>rtb-…</item>…`).
fn values<'a>(el: &'a El, set: &str) -> Vec<&'a str> {
    el.items(set).map(|i| i.value.as_str()).collect()
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let endpoints = match cx.api.call("DescribeVpcEndpoints", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Endpoints", SECTION, &f),
    };
    let rows: Vec<&El> = endpoints.items("vpcEndpointSet").collect();
    let columns = [
        column("Name", |e: &El| html::or_dash(e.name_tag())),
        column("VPC endpoint ID", |e: &El| html::link(SECTION, e.text("vpcEndpointId"))),
        column("VPC ID", |e: &El| html::link("vpcs", e.text("vpcId"))),
        column("Service name", |e: &El| html! { (e.text("serviceName")) }),
        column("Endpoint type", |e: &El| html! { (e.text("vpcEndpointType")) }),
        column("Status", |e: &El| html::state(e.text("state"))),
        column("Creation time", |e: &El| html! { (e.text("creationTimestamp")) }),
    ];
    let body = html! {
        @if req.param("done") == "deleted" {
            (html::notice(&format!("VPC endpoint {} was deleted.", req.param("id"))))
        }
        (html::list("Endpoints", Some(("endpoints/new", "Create endpoint")), "endpoints", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("Endpoints", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one("DescribeVpcEndpoints", "VpcEndpointId.1", id, "vpcEndpointSet", |c| {
        c.starts_with("InvalidVpcEndpointId")
    })
}

fn is_gateway(e: &El) -> bool {
    e.text("vpcEndpointType") == "Gateway"
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let endpoint = match describe(cx, id) {
        Ok(Some(e)) => e,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("endpoints/{id}"));
    let name = endpoint.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let gateway = is_gateway(&endpoint);
    let tabs: &[(&str, &str)] = if gateway {
        &[("route-tables", "Route tables"), ("policy", "Policy"), ("tags", "Tags")]
    } else {
        &[
            ("subnets", "Subnets"),
            ("security-groups", "Security groups"),
            ("dns-names", "DNS names"),
            ("policy", "Policy"),
            ("tags", "Tags"),
        ]
    };
    let tab = tabs.iter().map(|(t, _)| *t).find(|t| *t == req.param("tab")).unwrap_or(tabs[0].0);
    let mut actions = Vec::new();
    if gateway {
        actions.push(("Manage route tables", format!("{base}/manage-route-tables")));
    } else {
        actions.push(("Manage subnets", format!("{base}/manage-subnets")));
        actions.push(("Manage security groups", format!("{base}/manage-security-groups")));
    }
    actions.push(("Delete VPC endpoint", format!("{base}/delete")));
    let done = match req.param("done") {
        "created" => format!("Successfully created VPC endpoint {title}."),
        "route-tables" => "The endpoint's route tables were saved.".to_owned(),
        "subnets" => "The endpoint's subnets were saved.".to_owned(),
        "security-groups" => "The endpoint's security groups were saved.".to_owned(),
        _ => String::new(),
    };
    let private_dns = html::yes_no(endpoint.text("privateDnsEnabled"));
    let body = html! {
        (html::crumbs(SECTION, "Endpoints", id, ""))
        @if !done.is_empty() { (html::notice(&done)) }
        (html::bar(&title, html::actions(&actions)))
        (html::details(&[
            ("Endpoint ID", html! { (id) }),
            ("Status", html::state(endpoint.text("state"))),
            ("Endpoint type", html! { (endpoint.text("vpcEndpointType")) }),
            ("Service name", html! { (endpoint.text("serviceName")) }),
            ("VPC ID", html::link("vpcs", endpoint.text("vpcId"))),
            ("Creation time", html! { (endpoint.text("creationTimestamp")) }),
            ("Private DNS names enabled", html! { (private_dns) }),
            ("IP address type", html! { (endpoint.text("ipAddressType")) }),
            ("Policy", html! { a href=(format!("{base}?tab=policy")) { "View the policy" } }),
        ]))
        (html::tabs(&base, tab, tabs))
        @match tab {
            "route-tables" => (route_tables_tab(cx, &endpoint)),
            "subnets" => (subnets_tab(cx, &endpoint)),
            "security-groups" => (groups_tab(&endpoint)),
            "dns-names" => (dns_tab(&endpoint)),
            "policy" => { pre.trace { (endpoint.text("policyDocument")) } },
            _ => (html::tags_table(&endpoint)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn route_tables_tab(cx: &Cx<'_>, endpoint: &El) -> Markup {
    let ids = values(endpoint, "routeTableIdSet");
    let tables = match route_table_choices(cx, endpoint.text("vpcId")) {
        Ok(t) => t,
        Err(f) => return html::error(&f),
    };
    let chosen: Vec<&Choice> = tables.iter().filter(|t| ids.contains(&t.id.as_str())).collect();
    html! {
        @if chosen.is_empty() {
            p.empty { "No route tables: no route sends traffic to this endpoint." }
        } @else {
            table.list aria-label="Route tables" {
                thead { tr { @for h in ROUTE_TABLES.headings { th scope="col" { (h) } } } }
                tbody {
                    @for t in &chosen {
                        tr {
                            td { (html::link("route-tables", &t.id)) }
                            @for cell in &t.cells { td { (html::or_dash(cell)) } }
                        }
                    }
                }
            }
        }
    }
}

fn subnets_tab(cx: &Cx<'_>, endpoint: &El) -> Markup {
    let interfaces = cx
        .api
        .call("DescribeNetworkInterfaces", &filter("vpc-id", endpoint.text("vpcId")))
        .unwrap_or_default();
    let ours = values(endpoint, "networkInterfaceIdSet");
    let rows: Vec<&El> = interfaces
        .items("networkInterfaceSet")
        .filter(|n| ours.contains(&n.text("networkInterfaceId")))
        .collect();
    let subnets = values(endpoint, "subnetIdSet");
    html! {
        @if subnets.is_empty() {
            p.empty { "No subnets." }
        } @else {
            table.list aria-label="Subnets" {
                thead { tr {
                    th scope="col" { "Subnet ID" } th scope="col" { "Availability Zone" }
                    th scope="col" { "Network interface ID" } th scope="col" { "IPv4 address" }
                } }
                tbody {
                    @for subnet in &subnets {
                        @let eni = rows.iter().find(|n| n.text("subnetId") == *subnet);
                        tr {
                            td { (html::link("subnets", subnet)) }
                            td { (html::or_dash(eni.map_or("", |n| n.text("availabilityZone")))) }
                            td { (html::or_dash(eni.map_or("", |n| n.text("networkInterfaceId")))) }
                            td { (html::or_dash(eni.map_or("", |n| n.text("privateIpAddress")))) }
                        }
                    }
                }
            }
        }
    }
}

fn groups_tab(endpoint: &El) -> Markup {
    let rows: Vec<&El> = endpoint.items("groupSet").collect();
    let columns = [
        column("Group ID", |g: &El| html::link("security-groups", g.text("groupId"))),
        column("Group name", |g: &El| html! { (g.text("groupName")) }),
    ];
    html::table("security groups", &columns, &rows, "")
}

fn dns_tab(endpoint: &El) -> Markup {
    let rows: Vec<&El> = endpoint.items("dnsEntrySet").collect();
    let columns = [
        column("DNS name", |d: &El| html! { (d.text("dnsName")) }),
        column("Hosted zone ID", |d: &El| html! { (d.text("hostedZoneId")) }),
    ];
    html! {
        p { "Private DNS names enabled: " strong { (html::yes_no(endpoint.text("privateDnsEnabled"))) } }
        (html::table("DNS names", &columns, &rows, ""))
    }
}

/// A row of a checkbox table: the resource's id and its other cells.
#[derive(Debug)]
struct Choice {
    id: String,
    cells: Vec<String>,
}

fn route_table_choices(cx: &Cx<'_>, vpc: &str) -> Result<Vec<Choice>, Failure> {
    let doc = cx.api.call("DescribeRouteTables", &filter("vpc-id", vpc))?;
    Ok(doc
        .items("routeTableSet")
        .map(|t| {
            let associations: Vec<&El> = t.items("associationSet").collect();
            let main = associations.iter().any(|a| a.text("main") == "true");
            let subnets: Vec<&str> =
                associations.iter().map(|a| a.text("subnetId")).filter(|s| !s.is_empty()).collect();
            Choice {
                id: t.text("routeTableId").to_owned(),
                cells: vec![
                    t.name_tag().to_owned(),
                    (if main { "Yes" } else { "No" }).to_owned(),
                    subnets.join(", "),
                ],
            }
        })
        .collect())
}

fn subnet_choices(cx: &Cx<'_>, vpc: &str) -> Result<Vec<Choice>, Failure> {
    let doc = cx.api.call("DescribeSubnets", &filter("vpc-id", vpc))?;
    Ok(doc
        .items("subnetSet")
        .map(|s| Choice {
            id: s.text("subnetId").to_owned(),
            cells: vec![
                s.name_tag().to_owned(),
                s.text("availabilityZone").to_owned(),
                s.text("cidrBlock").to_owned(),
            ],
        })
        .collect())
}

fn group_choices(cx: &Cx<'_>, vpc: &str) -> Result<Vec<Choice>, Failure> {
    let doc = cx.api.call("DescribeSecurityGroups", &filter("vpc-id", vpc))?;
    Ok(doc
        .items("securityGroupInfo")
        .map(|g| Choice {
            id: g.text("groupId").to_owned(),
            cells: vec![g.text("groupName").to_owned(), g.text("groupDescription").to_owned()],
        })
        .collect())
}

/// A table of checkboxes `field`, one per choice, those in `checked` ticked.
fn checkboxes(
    field: &str,
    label: &str,
    headings: &[&str],
    choices: &[Choice],
    checked: &[&str],
) -> Markup {
    html! {
        @if choices.is_empty() {
            p.empty { "No " (label) " in this VPC." }
        } @else {
            table.list aria-label=(label) {
                thead { tr { @for h in headings { th scope="col" { (h) } } } }
                tbody {
                    @for c in choices {
                        @let id = format!("{field}_{}", c.id);
                        tr {
                            td {
                                input type="checkbox" id=(id) name=(field) value=(c.id) checked[checked.contains(&c.id.as_str())];
                                label.inline for=(id) { (c.id) }
                            }
                            @for cell in &c.cells { td { (html::or_dash(cell)) } }
                        }
                    }
                }
            }
        }
    }
}

/// The services endpoints can be made to, each with its types (S3 has both).
fn services(cx: &Cx<'_>) -> Result<Vec<(String, Vec<String>)>, Failure> {
    let doc = cx.api.call("DescribeVpcEndpointServices", &[])?;
    let mut all: Vec<(String, Vec<String>)> = Vec::new();
    for s in doc.items("serviceDetailSet") {
        let name = s.text("serviceName").to_owned();
        let types = s.items("serviceType").map(|t| t.text("serviceType").to_owned());
        match all.iter_mut().find(|(n, _)| *n == name) {
            Some((_, known)) => known.extend(types),
            None => all.push((name, types.collect())),
        }
    }
    Ok(all)
}

/// The create form's values: a POST's fields, or the query of "Continue" (a GET).
struct Values<'a> {
    req: &'a Request,
}

impl<'a> Values<'a> {
    fn one(&self, name: &str) -> &'a str {
        self.req.value(name).trim()
    }

    fn all(&self, name: &str) -> Vec<&'a str> {
        self.req.values(name).collect()
    }
}

/// What the form is for: the service, its type (the one it has, when it has one) and
/// the VPC.
struct Chosen<'a> {
    service: &'a str,
    kind: String,
    vpc: &'a str,
    /// The service's types, when it is one of those offered.
    offered: Option<&'a [String]>,
}

fn chosen<'a>(values: &Values<'a>, services: &'a [(String, Vec<String>)]) -> Chosen<'a> {
    let service = values.one("service");
    let offered = services.iter().find(|(n, _)| n == service).map(|(_, t)| t.as_slice());
    let kind = match (values.one("type"), offered) {
        ("", Some([only])) => only.clone(),
        (kind, _) => kind.to_owned(),
    };
    Chosen { service, kind, vpc: values.one("vpc"), offered }
}

fn create_form(cx: &Cx<'_>, req: &Request, failure: Option<&Failure>) -> Result<Markup, Failure> {
    let values = Values { req };
    let services = services(cx)?;
    let vpc_options = choices::vpcs_with_cidr(cx)?;
    let c = chosen(&values, &services);
    let vpc_known = vpc_options.iter().any(|(id, _)| !id.is_empty() && id == c.vpc);
    let type_offered = c.offered.is_some_and(|types| types.contains(&c.kind));
    let second = vpc_known && type_offered;
    let step2 = if second {
        settings(cx, &values, &c)?
    } else {
        html! {}
    };
    Ok(html! {
        (html::crumbs(SECTION, "Endpoints", "", "Create endpoint"))
        h1 { "Create endpoint" }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("endpoints/new")) {
            @if second {
                // Enter in a field creates the endpoint ("Continue" comes first).
                button.skip type="submit" tabindex="-1" aria-hidden="true" {}
            }
            fieldset {
                legend { "Endpoint settings" }
                (html::text_field("name", "Name tag - optional", values.one("name"), "Creates a tag with a key of 'Name' and the value you specify."))
                p { "Type: " strong { "AWS services" } }
            }
            fieldset {
                legend { "Services" }
                table.list aria-label="Services" {
                    thead { tr { th scope="col" { "Service name" } th scope="col" { "Owner" } th scope="col" { "Types" } } }
                    tbody {
                        @for (name, types) in &services {
                            @let id = format!("service_{name}");
                            tr {
                                td {
                                    input type="radio" id=(id) name="service" value=(name) checked[name == c.service];
                                    label.inline for=(id) { (name) }
                                }
                                td { "amazon" }
                                td { (types.join(", ")) }
                            }
                        }
                    }
                }
                fieldset {
                    legend { "Endpoint type" }
                    input #type_gateway type="radio" name="type" value="Gateway" checked[c.kind == "Gateway"];
                    label.inline for="type_gateway" { "Gateway" }
                    input #type_interface type="radio" name="type" value="Interface" checked[c.kind == "Interface"];
                    label.inline for="type_interface" { "Interface" }
                }
                @if !c.service.is_empty() && !c.kind.is_empty() && !type_offered {
                    p.flash.error role="alert" {
                        (c.service) " has no " (c.kind) " endpoints: it has "
                        (c.offered.map_or("none".to_owned(), |t| t.join(" and "))) "."
                    }
                }
            }
            fieldset {
                legend { "Network settings" }
                (html::select("vpc", "VPC", &vpc_options, c.vpc))
                p.hint { "Select the VPC in which to create the endpoint, then Continue: its route tables, or its subnets and security groups, are offered below." }
                p { button #continue type="submit" formmethod="get" formaction=(href("endpoints/new")) { "Continue" } }
            }
            (step2)
        }
    })
}

/// The second step: what depends on the type and the VPC.
fn settings(cx: &Cx<'_>, values: &Values<'_>, c: &Chosen<'_>) -> Result<Markup, Failure> {
    // Enabled by default; once the step was shown, as the user left it.
    let private_dns = values.one("step") != "2" || values.one("private_dns") == "on";
    let body = if c.kind == "Gateway" {
        let tables = route_table_choices(cx, c.vpc)?;
        html! {
            fieldset {
                legend { "Route tables" }
                p.hint { "A route to the service's prefix list is added to each route table chosen." }
                (checkboxes("route_table", "route tables", ROUTE_TABLES.headings, &tables, &values.all("route_table")))
            }
        }
    } else {
        let subnets = subnet_choices(cx, c.vpc)?;
        let groups = group_choices(cx, c.vpc)?;
        html! {
            fieldset {
                legend { "Additional settings" }
                p {
                    input #private_dns type="checkbox" name="private_dns" checked[private_dns];
                    label.inline for="private_dns" { "Enable DNS name" }
                }
                p.hint { "The service's own name resolves to the endpoint inside the VPC (needs the VPC's DNS resolution and DNS hostnames)." }
            }
            fieldset {
                legend { "Subnets" }
                p.hint { "One subnet per Availability Zone: the endpoint gets a network interface in each." }
                (checkboxes("subnet", "subnets", SUBNETS.headings, &subnets, &values.all("subnet")))
            }
            fieldset {
                legend { "Security groups" }
                (checkboxes("security_group", "security groups", SECURITY_GROUPS.headings, &groups, &values.all("security_group")))
            }
        }
    };
    Ok(html! {
        input type="hidden" name="step" value="2";
        (body)
        fieldset {
            legend { "Policy" }
            label for="policy" { "Policy - optional" span.hint { "A JSON policy document; empty for full access." } }
            textarea #policy name="policy" rows="6" { (values.one("policy")) }
        }
        (html::form_actions(&href(SECTION), "Create endpoint"))
    })
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create endpoint";
    let mut failure = None;
    if req.is_post() {
        let mut params = Vec::new();
        let mut push = |name: String, value: &str| {
            if !value.is_empty() {
                params.push((name, value.to_owned()));
            }
        };
        push("VpcId".to_owned(), req.field("vpc"));
        push("ServiceName".to_owned(), req.field("service"));
        let kind = req.field("type");
        push("VpcEndpointType".to_owned(), kind);
        // Only what the type takes: the form may still hold the other type's choices.
        if kind == "Gateway" {
            for (n, id) in req.fields("route_table").enumerate() {
                push(format!("RouteTableId.{}", n + 1), id);
            }
        } else if kind == "Interface" {
            for (n, id) in req.fields("subnet").enumerate() {
                push(format!("SubnetId.{}", n + 1), id);
            }
            for (n, id) in req.fields("security_group").enumerate() {
                push(format!("SecurityGroupId.{}", n + 1), id);
            }
            let on = if req.field("private_dns") == "on" { "true" } else { "false" };
            push("PrivateDnsEnabled".to_owned(), on);
        }
        push("PolicyDocument".to_owned(), req.field("policy"));
        if !req.field("name").is_empty() {
            params.extend(name_tag("vpc-endpoint", req.field("name")));
        }
        match cx.api.call("CreateVpcEndpoint", &params) {
            Ok(doc) => {
                let id = doc.at(&["vpcEndpoint", "vpcEndpointId"]);
                return Outcome::Redirect(href(&format!("endpoints/{id}?done=created")));
            }
            Err(f) => failure = Some(f),
        }
    }
    match create_form(cx, req, failure.as_ref()) {
        Ok(form) => Outcome::form(title, SECTION, form, failure.is_some()),
        Err(f) => Outcome::failed(title, SECTION, &f),
    }
}

/// A "Manage …" page: which of the VPC's route tables, subnets or security groups the
/// endpoint has.
struct Manage {
    verb: &'static str,
    title: &'static str,
    field: &'static str,
    label: &'static str,
    headings: &'static [&'static str],
    /// The endpoint's, in DescribeVpcEndpoints.
    set: &'static str,
    add: &'static str,
    remove: &'static str,
    choices: fn(&Cx<'_>, &str) -> Result<Vec<Choice>, Failure>,
}

const ROUTE_TABLES: Manage = Manage {
    verb: "route-tables",
    title: "Manage route tables",
    field: "route_table",
    label: "route tables",
    headings: &["Route table ID", "Name", "Main", "Associated with"],
    set: "routeTableIdSet",
    add: "AddRouteTableId",
    remove: "RemoveRouteTableId",
    choices: route_table_choices,
};

const SUBNETS: Manage = Manage {
    verb: "subnets",
    title: "Manage subnets",
    field: "subnet",
    label: "subnets",
    headings: &["Subnet ID", "Name", "Availability Zone", "IPv4 CIDR"],
    set: "subnetIdSet",
    add: "AddSubnetId",
    remove: "RemoveSubnetId",
    choices: subnet_choices,
};

const SECURITY_GROUPS: Manage = Manage {
    verb: "security-groups",
    title: "Manage security groups",
    field: "security_group",
    label: "security groups",
    headings: &["Group ID", "Group name", "Description"],
    set: "groupSet",
    add: "AddSecurityGroupId",
    remove: "RemoveSecurityGroupId",
    choices: group_choices,
};

/// The ids the endpoint has of `manage`'s kind.
fn current<'a>(endpoint: &'a El, manage: &Manage) -> Vec<&'a str> {
    if manage.set == "groupSet" {
        endpoint.items("groupSet").map(|g| g.text("groupId")).collect()
    } else {
        values(endpoint, manage.set)
    }
}

fn manage(cx: &Cx<'_>, id: &str, req: &Request, manage: &Manage) -> Outcome {
    let endpoint = match describe(cx, id) {
        Ok(Some(e)) => e,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(manage.title, SECTION, &f),
    };
    let base = href(&format!("endpoints/{id}"));
    let had = current(&endpoint, manage);
    let mut failure = None;
    if req.is_post() {
        let wanted: Vec<&str> = req.fields(manage.field).filter(|v| !v.is_empty()).collect();
        let mut params = vec![("VpcEndpointId".to_owned(), id.to_owned())];
        let added = wanted.iter().filter(|w| !had.contains(w));
        for (n, w) in added.enumerate() {
            params.push((format!("{}.{}", manage.add, n + 1), (*w).to_owned()));
        }
        let removed = had.iter().filter(|h| !wanted.contains(h));
        for (n, h) in removed.enumerate() {
            params.push((format!("{}.{}", manage.remove, n + 1), (*h).to_owned()));
        }
        match cx.api.call("ModifyVpcEndpoint", &params) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done={0}&tab={0}", manage.verb)),
            Err(f) => failure = Some(f),
        }
    }
    let choices = match (manage.choices)(cx, endpoint.text("vpcId")) {
        Ok(c) => c,
        Err(f) => return Outcome::failed(manage.title, SECTION, &f),
    };
    let checked: Vec<&str> = if req.is_post() { req.fields(manage.field).collect() } else { had };
    let body = html! {
        (html::crumbs(SECTION, "Endpoints", id, manage.title))
        h1 { (manage.title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/manage-{}", manage.verb)) {
            fieldset {
                legend { (manage.title) " of " (id) }
                (checkboxes(manage.field, manage.label, manage.headings, &choices, &checked))
            }
            (html::form_actions(&base, "Save changes"))
        }
    };
    Outcome::form(manage.title, SECTION, body, failure.is_some())
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Delete VPC endpoint";
    let endpoint = match describe(cx, id) {
        Ok(Some(e)) => e,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let base = href(&format!("endpoints/{id}"));
    let mut failure = None;
    if req.is_post() {
        // The API answers every id, naming the ones it could not delete.
        let result = cx.api.call1("DeleteVpcEndpoints", "VpcEndpointId.1", id).and_then(|doc| {
            match doc.items("unsuccessful").next() {
                Some(item) => Err(Failure {
                    code: item.at(&["error", "code"]).to_owned(),
                    message: item.at(&["error", "message"]).to_owned(),
                }),
                None => Ok(()),
            }
        });
        match result {
            Ok(()) => return Outcome::Redirect(href(&format!("endpoints?done=deleted&id={id}"))),
            Err(f) => failure = Some(f),
        }
    }
    let body = html! {
        (html::crumbs(SECTION, "Endpoints", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        (html::confirm(
            html! {
                p { "Delete VPC endpoint " strong { (id) } " (" (endpoint.text("serviceName")) ", "
                    (endpoint.text("vpcEndpointType")) ")?" }
                @if is_gateway(&endpoint) {
                    p { "Its routes in the route tables it has are deleted with it." }
                } @else {
                    p { "Its network interfaces are deleted with it." }
                }
            },
            &format!("{base}/delete"),
            "Delete",
            &base,
        ))
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, get, post, post_ok};

    const S3: &str = "com.amazonaws.us-east-1.s3";

    struct Lab {
        vpc: String,
        main: String,
        table: String,
        subnets: Vec<String>,
        group: String,
    }

    fn lab(c: &Console) -> Lab {
        let vpc =
            api(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
        let filter = [("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc.as_str())];
        let main = api(c, "DescribeRouteTables", &filter)
            .items("routeTableSet")
            .next()
            .unwrap()
            .text("routeTableId")
            .to_owned();
        let table = api(c, "CreateRouteTable", &[("VpcId", &vpc)])
            .at(&["routeTable", "routeTableId"])
            .to_owned();
        let subnets = [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")]
            .iter()
            .map(|(cidr, zone)| {
                api(
                    c,
                    "CreateSubnet",
                    &[("VpcId", &vpc), ("CidrBlock", cidr), ("AvailabilityZone", zone)],
                )
                .at(&["subnet", "subnetId"])
                .to_owned()
            })
            .collect();
        let group = api(c, "DescribeSecurityGroups", &filter)
            .items("securityGroupInfo")
            .next()
            .unwrap()
            .text("groupId")
            .to_owned();
        Lab { vpc, main, table, subnets, group }
    }

    fn endpoint(c: &Console) -> super::El {
        api(c, "DescribeVpcEndpoints", &[])
            .items("vpcEndpointSet")
            .next()
            .cloned()
            .expect("an endpoint")
    }

    fn tables_of(e: &super::El) -> Vec<String> {
        super::values(e, "routeTableIdSet").into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn a_gateway_endpoint_in_two_steps_then_its_route_tables_then_delete() {
        let c = console();
        let lab = lab(&c);
        let first = get(&c, "/console/endpoints/new");
        assert!(
            first.body.contains(&format!(r#"value="{S3}""#))
                && first.body.contains("Gateway, Interface"),
            "{}",
            first.body
        );
        assert!(first.body.contains(r#"formmethod="get""#));
        assert!(!first.body.contains(r#"name="route_table""#), "no VPC chosen yet");

        // "Continue": the VPC's route tables, the rest kept.
        let second = get(
            &c,
            &format!("/console/endpoints/new?name=s3-gw&service={S3}&type=Gateway&vpc={}", lab.vpc),
        );
        assert_eq!(second.status, 200);
        assert!(
            second.body.contains(&format!(r#"name="route_table" value="{}""#, lab.table)),
            "{}",
            second.body
        );
        assert!(second.body.contains(&format!(r#"name="route_table" value="{}""#, lab.main)));
        assert!(
            second.body.contains(r#"value="s3-gw""#)
                && second.body.contains(r#"value="Gateway" checked"#)
        );
        assert!(second.body.contains(&format!(r#"<option value="{}" selected>"#, lab.vpc)));
        assert!(!second.body.contains(r#"name="subnet""#));

        let page = post_ok(
            &c,
            "/console/endpoints/new",
            &[
                ("name", "s3-gw"),
                ("service", S3),
                ("type", "Gateway"),
                ("vpc", &lab.vpc),
                ("step", "2"),
                ("route_table", &lab.table),
                ("policy", ""),
            ],
        );
        let e = endpoint(&c);
        let id = e.text("vpcEndpointId").to_owned();
        assert_eq!(e.text("vpcEndpointType"), "Gateway");
        assert_eq!(e.text("serviceName"), S3);
        assert_eq!(e.name_tag(), "s3-gw");
        assert_eq!(tables_of(&e), vec![lab.table.clone()]);
        assert!(page.body.contains("Successfully created VPC endpoint"), "{}", page.body);
        assert!(
            page.body.contains(&format!(r#"<a href="/console/route-tables/{}">"#, lab.table)),
            "the Route tables tab"
        );
        assert!(page.body.contains("Manage route tables") && !page.body.contains("Manage subnets"));
        let list = get(&c, "/console/endpoints");
        assert!(list.body.contains(&id) && list.body.contains(S3) && list.body.contains("s3-gw"));

        // Manage route tables: the main one instead.
        let form = get(&c, &format!("/console/endpoints/{id}/manage-route-tables"));
        assert!(form.body.contains(&format!(r#"value="{}" checked"#, lab.table)), "{}", form.body);
        let page = post_ok(
            &c,
            &format!("/console/endpoints/{id}/manage-route-tables"),
            &[("route_table", &lab.main)],
        );
        assert!(page.body.contains("route tables were saved"));
        assert_eq!(tables_of(&endpoint(&c)), vec![lab.main.clone()]);

        let confirm = get(&c, &format!("/console/endpoints/{id}/delete"));
        assert!(confirm.body.contains(">Delete</button>"));
        let list = post_ok(&c, &format!("/console/endpoints/{id}/delete"), &[]);
        assert!(list.body.contains(&format!("VPC endpoint {id} was deleted.")), "{}", list.body);
        assert_eq!(api(&c, "DescribeVpcEndpoints", &[]).items("vpcEndpointSet").count(), 0);
        assert_eq!(get(&c, &format!("/console/endpoints/{id}")).status, 404);
    }

    #[test]
    fn an_interface_endpoint_with_subnets_groups_and_dns() {
        let c = console();
        let lab = lab(&c);
        let second =
            get(&c, &format!("/console/endpoints/new?service={S3}&type=Interface&vpc={}", lab.vpc));
        for id in lab.subnets.iter().chain([&lab.group]) {
            assert!(second.body.contains(&format!(r#"value="{id}""#)), "{id}: {}", second.body);
        }
        assert!(second.body.contains(r#"name="private_dns" checked"#), "DNS names are on at first");
        assert!(!second.body.contains(r#"name="route_table""#));

        // Private DNS needs the VPC's DNS hostnames: the API's error, the form as filled.
        let form = [
            ("name", "s3-if"),
            ("service", S3),
            ("type", "Interface"),
            ("vpc", &lab.vpc),
            ("step", "2"),
            ("subnet", &lab.subnets[0]),
            ("subnet", &lab.subnets[1]),
            ("security_group", &lab.group),
            ("private_dns", "on"),
        ];
        let refused = post(&c, "/console/endpoints/new", &form);
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains("<code>InvalidParameter</code>"), "{}", refused.body);
        assert!(refused.body.contains("enableDnsHostnames"));
        assert!(refused.body.contains(&format!(r#"value="{}" checked"#, lab.subnets[1])));
        assert!(refused.body.contains(r#"value="s3-if""#));
        assert_eq!(api(&c, "DescribeVpcEndpoints", &[]).items("vpcEndpointSet").count(), 0);

        let form: Vec<(&str, &str)> =
            form.iter().copied().filter(|(k, _)| *k != "private_dns").collect();
        let page = post_ok(&c, "/console/endpoints/new", &form);
        let e = endpoint(&c);
        let id = e.text("vpcEndpointId").to_owned();
        assert_eq!(e.text("vpcEndpointType"), "Interface");
        assert_eq!(e.text("privateDnsEnabled"), "false");
        let mut subnets: Vec<&str> = super::values(&e, "subnetIdSet");
        subnets.sort_unstable();
        let mut want: Vec<&str> = lab.subnets.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(subnets, want);
        assert!(
            page.body.contains("Manage subnets") && page.body.contains("Manage security groups")
        );
        assert!(
            page.body.contains(&format!(r#"<a href="/console/subnets/{}">"#, lab.subnets[0])),
            "the Subnets tab"
        );
        let dns = get(&c, &format!("/console/endpoints/{id}?tab=dns-names"));
        let name = e.items("dnsEntrySet").next().unwrap().text("dnsName");
        assert!(dns.body.contains(name), "{}", dns.body);
        let groups = get(&c, &format!("/console/endpoints/{id}?tab=security-groups"));
        assert!(groups.body.contains(&lab.group));

        // Manage subnets: one fewer.
        post_ok(
            &c,
            &format!("/console/endpoints/{id}/manage-subnets"),
            &[("subnet", &lab.subnets[0])],
        );
        assert_eq!(super::values(&endpoint(&c), "subnetIdSet"), vec![lab.subnets[0].as_str()]);
    }

    #[test]
    fn a_type_the_service_does_not_have_is_said_and_a_single_one_is_chosen() {
        let c = console();
        let lab = lab(&c);
        let page = get(
            &c,
            &format!(
                "/console/endpoints/new?service=com.amazonaws.us-east-1.ssm&type=Gateway&vpc={}",
                lab.vpc
            ),
        );
        assert!(page.body.contains("has no Gateway endpoints"), "{}", page.body);
        assert!(
            !page.body.contains(r#"name="route_table""#)
                && !page.body.contains("Create endpoint</button>")
        );
        let page = get(
            &c,
            &format!("/console/endpoints/new?service=com.amazonaws.us-east-1.ssm&vpc={}", lab.vpc),
        );
        assert!(
            page.body.contains(r#"value="Interface" checked"#)
                && page.body.contains(r#"name="subnet""#)
        );
    }
}
