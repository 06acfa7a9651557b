//! Instances: the list, an instance's details (networking, security, tags), "Launch
//! instances", "Stop instance", "Start instance", "Terminate (delete) instance" and
//! "Change source/destination check".
//!
//! The launch form works in two steps without JavaScript: the security groups offered
//! are those of the chosen subnet's VPC, and "Show this subnet's security groups"
//! (a GET of the same form, `?subnet=…`) shows them again for another subnet, keeping
//! what was typed.

use maud::{Markup, html};

use super::api::{self, filter, filter_any};
use super::choices::{labelled, option};
use super::html::{self, column, href};
use super::security_groups::{port_range, protocol_name};
use super::{Cx, El, Failure, Outcome, Request};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => launch(cx, req),
        [id] => detail(cx, id, req),
        [id, "stop"] => change_state(cx, id, Change::Stop, req),
        [id, "start"] => change_state(cx, id, Change::Start, req),
        [id, "terminate"] => change_state(cx, id, Change::Terminate, req),
        [id, "source-dest-check"] => source_dest_check(cx, id, req),
        [id, "capture"] => super::packets::capture(cx, id, req),
        _ => Outcome::NotFound,
    }
}

const SECTION: &str = "instances";

/// What an instance is launched as: the lab has one kind of machine.
const INSTANCE_TYPE: &str = "t3.micro";

/// Every instance of a DescribeInstances reply, across its reservations.
fn instances_of(doc: &El) -> Vec<&El> {
    doc.items("reservationSet").flat_map(|r| r.items("instancesSet")).collect()
}

/// An instance's security groups as links, with their names.
fn group_links(el: &El) -> Markup {
    let groups: Vec<&El> = el.items("groupSet").collect();
    html! {
        @if groups.is_empty() { "–" }
        @for (i, g) in groups.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(href(&format!("security-groups/{}", g.text("groupId")))) { (g.text("groupName")) }
        }
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let doc = match cx.api.call("DescribeInstances", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Instances", SECTION, &f),
    };
    let rows = instances_of(&doc);
    let columns = [
        column("Name", |i: &El| html::or_dash(i.name_tag())),
        column("Instance ID", |i: &El| html::link(SECTION, i.text("instanceId"))),
        column("Instance state", |i: &El| html::state(i.at(&["instanceState", "name"]))),
        column("Instance type", |i: &El| html! { (i.text("instanceType")) }),
        column("Availability Zone", |i: &El| {
            html::or_dash(i.at(&["placement", "availabilityZone"]))
        }),
        column("Public IPv4 address", |i: &El| html::or_dash(i.text("ipAddress"))),
        column("Private IPv4 address", |i: &El| html::or_dash(i.text("privateIpAddress"))),
        column("VPC ID", |i: &El| html::link("vpcs", i.text("vpcId"))),
        column("Subnet ID", |i: &El| html::link("subnets", i.text("subnetId"))),
        column("Security groups", group_links),
    ];
    let body = html::list(
        "Instances",
        Some(("instances/new", "Launch instances")),
        "instances",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("Instances", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    let doc = cx.api.lookup("DescribeInstances", "InstanceId.1", id, api::not_found)?;
    Ok(doc.and_then(|doc| instances_of(&doc).first().map(|i| (*i).clone())))
}

fn load(cx: &Cx<'_>, id: &str) -> Result<El, Outcome> {
    match describe(cx, id) {
        Ok(Some(i)) => Ok(i),
        Ok(None) => Err(Outcome::NotFound),
        Err(f) => Err(Outcome::failed(id, SECTION, &f)),
    }
}

fn on_off(value: &str) -> &'static str {
    if value == "true" { "Enabled" } else { "Stopped" }
}

/// The detail page's tabs ("Packets" is vpclab's own: see `packets.rs`).
const TABS: &[(&str, &str)] = &[
    ("networking", "Networking"),
    ("security", "Security"),
    ("packets", "Packets"),
    ("tags", "Tags"),
];

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let instance = match load(cx, id) {
        Ok(i) => i,
        Err(outcome) => return outcome,
    };
    let tab = match req.param("tab") {
        "" => "networking",
        t => t,
    };
    let base = href(&format!("instances/{id}"));
    let title = labelled(id, instance.name_tag());
    let done = match req.param("done") {
        "launched" => Some(format!("Successfully initiated launch of instance ({id})")),
        "stopped" => Some(format!("Successfully stopped {id}")),
        "started" => Some(format!("Successfully started {id}")),
        "terminated" => Some(format!("Successfully terminated {id}")),
        "source-dest-check" => Some(format!("Source / destination check was changed for {id}")),
        _ => None,
    };
    let body = html! {
        (html::crumbs(SECTION, "Instances", id, ""))
        @if let Some(text) = &done { (html::notice(text)) }
        (html::bar(&format!("Instance summary for {title}"), html::actions(&[
            ("Stop instance", format!("{base}/stop")),
            ("Start instance", format!("{base}/start")),
            ("Terminate (delete) instance", format!("{base}/terminate")),
            ("Change source/destination check", format!("{base}/source-dest-check")),
        ])))
        (html::details(&[
            ("Instance ID", html! { (id) }),
            ("Instance state", html::state(instance.at(&["instanceState", "name"]))),
            ("Instance type", html! { (instance.text("instanceType")) }),
            ("Private IPv4 addresses", html::or_dash(instance.text("privateIpAddress"))),
            ("Public IPv4 address", html::or_dash(instance.text("ipAddress"))),
            ("Private IP DNS name", html::or_dash(instance.text("privateDnsName"))),
            ("Subnet ID", html::link("subnets", instance.text("subnetId"))),
            ("VPC ID", html::link("vpcs", instance.text("vpcId"))),
            ("Availability Zone", html::or_dash(instance.at(&["placement", "availabilityZone"]))),
            ("Security groups", group_links(&instance)),
            ("Source / destination check", html::or_dash(if instance.text("sourceDestCheck").is_empty() { "" } else { on_off(instance.text("sourceDestCheck")) })),
            ("AMI ID", html! { (instance.text("imageId")) }),
            ("Launch time", html! { (instance.text("launchTime")) }),
        ]))
        (html::tabs(&base, tab, TABS))
        @match tab {
            "packets" => (super::packets::tab(cx, &instance)),
            "security" => (security_tab(cx, &instance)),
            "tags" => (html::tags_table(&instance)),
            _ => (networking_tab(&instance)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn networking_tab(instance: &El) -> Markup {
    let interfaces: Vec<&El> = instance.items("networkInterfaceSet").collect();
    let columns = [
        column("Interface ID", |n: &El| html! { (n.text("networkInterfaceId")) }),
        column("Description", |n: &El| html::or_dash(n.text("description"))),
        column("Device index", |n: &El| html::or_dash(n.at(&["attachment", "deviceIndex"]))),
        column("Subnet ID", |n: &El| html::link("subnets", n.text("subnetId"))),
        column("VPC ID", |n: &El| html::link("vpcs", n.text("vpcId"))),
        column("Private IPv4 address", |n: &El| html::or_dash(n.text("privateIpAddress"))),
        column("Public IPv4 address", |n: &El| html::or_dash(n.at(&["association", "publicIp"]))),
        column("MAC address", |n: &El| html::or_dash(n.text("macAddress"))),
        column("Security groups", group_links),
        column("Source/dest. check", |n: &El| html! { (on_off(n.text("sourceDestCheck"))) }),
        column("Status", |n: &El| html::state(n.text("status"))),
    ];
    html! {
        h2 { "Network interfaces (" (interfaces.len()) ")" }
        (html::table("network interfaces", &columns, &interfaces, ""))
    }
}

fn security_tab(cx: &Cx<'_>, instance: &El) -> Markup {
    let groups: Vec<&str> = instance.items("groupSet").map(|g| g.text("groupId")).collect();
    let rules = if groups.is_empty() {
        Ok(El::default())
    } else {
        cx.api.call("DescribeSecurityGroupRules", &filter_any("group-id", &groups))
    };
    let rules = match rules {
        Ok(doc) => doc,
        Err(f) => return html::error(&f),
    };
    let rule_table = |egress: &str, label: &str, peer: &str| {
        let rows: Vec<&El> =
            rules.items("securityGroupRuleSet").filter(|r| r.text("isEgress") == egress).collect();
        html! {
            h2 { (label) " (" (rows.len()) ")" }
            @if rows.is_empty() {
                p.empty { "None." }
            } @else {
                div.scroll {
                    table.list aria-label=(label) {
                        thead { tr {
                            th scope="col" { "Security group rule ID" }
                            th scope="col" { "Port range" }
                            th scope="col" { "Protocol" }
                            th scope="col" { (peer) }
                            th scope="col" { "Security groups" }
                        } }
                        tbody {
                            @for r in &rows {
                                @let protocol = r.text("ipProtocol");
                                @let from = r.text("fromPort").parse().unwrap_or(-1);
                                @let to = r.text("toPort").parse().unwrap_or(-1);
                                @let target = [r.text("cidrIpv4"), r.at(&["referencedGroupInfo", "groupId"]), r.text("prefixListId")]
                                    .into_iter().find(|p| !p.is_empty()).unwrap_or("");
                                tr {
                                    td { (r.text("securityGroupRuleId")) }
                                    td { (port_range(protocol, from, to)) }
                                    td { (protocol_name(protocol)) }
                                    td {
                                        @if target.starts_with("sg-") { (html::link("security-groups", target)) } @else { (html::or_dash(target)) }
                                    }
                                    td { (html::link("security-groups", r.text("groupId"))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html! {
        h2 { "Security details" }
        (html::details(&[("Security groups", group_links(instance))]))
        (rule_table("false", "Inbound rules", "Source"))
        (rule_table("true", "Outbound rules", "Destination"))
    }
}

// ---- launch ----------------------------------------------------------------------------

/// The launch form's values: from the query (the form's GET step) or the post.
struct Launch {
    name: String,
    subnet: String,
    private_ip: String,
    public_ip: String,
    groups: Vec<String>,
}

impl Launch {
    fn of(req: &Request) -> Self {
        let value = |name: &str| req.value(name).trim().to_owned();
        Launch {
            name: value("name"),
            subnet: value("subnet"),
            private_ip: value("private_ip"),
            public_ip: match value("public_ip") {
                v if v.is_empty() => "default".to_owned(),
                v => v,
            },
            groups: req.values("security_group").map(str::to_owned).collect(),
        }
    }
}

fn launch_form(cx: &Cx<'_>, form: &Launch, failure: Option<&Failure>) -> Markup {
    let subnets = cx.api.call("DescribeSubnets", &[]).unwrap_or_default();
    let subnet_rows: Vec<&El> = subnets.items("subnetSet").collect();
    // The chosen subnet, or the first: its VPC's groups are offered.
    let chosen =
        subnet_rows.iter().find(|s| s.text("subnetId") == form.subnet).or(subnet_rows.first());
    let vpc = chosen.map_or("", |s| s.text("vpcId"));
    let groups = if vpc.is_empty() {
        El::default()
    } else {
        cx.api.call("DescribeSecurityGroups", &filter("vpc-id", vpc)).unwrap_or_default()
    };
    let group_rows: Vec<&El> = groups.items("securityGroupInfo").collect();
    let options: Vec<(String, String)> = subnet_rows
        .iter()
        .map(|s| {
            let (id, named) = option(s.text("subnetId"), s.name_tag());
            let (vpc, zone) = (s.text("vpcId"), s.text("availabilityZone"));
            (id, format!("{named} — {vpc} — {zone} — {}", s.text("cidrBlock")))
        })
        .collect();
    let public_ip = [
        ("default".to_owned(), "Use subnet setting".to_owned()),
        ("enable".to_owned(), "Enable".to_owned()),
        ("disable".to_owned(), "Disable".to_owned()),
    ];
    let action = href("instances/new");
    html! {
        (html::crumbs(SECTION, "Instances", "", "Launch an instance"))
        h1 { "Launch an instance" }
        @if let Some(f) = failure { (html::error(f)) }
        @if subnet_rows.is_empty() {
            p.empty { "No subnets yet: " a href=(href("subnets/new")) { "create a subnet" } " to launch an instance into." }
        } @else {
            form.edit method="post" action=(action) {
                fieldset {
                    legend { "Name and tags" }
                    (html::text_field("name", "Name", &form.name, "Creates a tag with a key of 'Name' and the value you specify."))
                }
                fieldset {
                    legend { "Application and OS Images (Amazon Machine Image)" }
                    p { "The lab's first image (" code { "DescribeImages" } "), instance type " strong { (INSTANCE_TYPE) } "." }
                }
                fieldset {
                    legend { "Network settings" }
                    (html::select("subnet", "Subnet", &options, chosen.map_or("", |s| s.text("subnetId"))))
                    p {
                        button type="submit" formmethod="get" formaction=(action) {
                            "Show this subnet's security groups"
                        }
                        span.hint { "The security groups below are those of " (html::or_dash(vpc)) "." }
                    }
                    (html::select("public_ip", "Auto-assign public IP", &public_ip, &form.public_ip))
                    (html::text_field("private_ip", "Primary IP - optional", &form.private_ip, "An address of the subnet's range; blank for the next free one."))
                }
                fieldset {
                    legend { "Firewall (security groups)" }
                    p.hint { "None chosen: the VPC's default security group." }
                    @for g in &group_rows {
                        @let gid = g.text("groupId");
                        @let box_id = format!("security_group-{gid}");
                        p {
                            input type="checkbox" id=(box_id) name="security_group" value=(gid) checked[form.groups.iter().any(|c| c == gid)];
                            label.inline for=(box_id) { (g.text("groupName")) " (" (gid) ")" }
                        }
                    }
                }
                (html::form_actions(&href(SECTION), "Launch instance"))
            }
        }
    }
}

fn launch(cx: &Cx<'_>, req: &Request) -> Outcome {
    let form = Launch::of(req);
    if !req.is_post() {
        return Outcome::Page(html::page(
            "Launch an instance",
            SECTION,
            launch_form(cx, &form, None),
        ));
    }
    match run(cx, &form) {
        Ok(id) => Outcome::Redirect(href(&format!("instances/{id}?done=launched"))),
        Err(f) => Outcome::Status(
            400,
            html::page("Launch an instance", SECTION, launch_form(cx, &form, Some(&f))),
        ),
    }
}

/// RunInstances for the form: the new instance's id.
fn run(cx: &Cx<'_>, form: &Launch) -> Result<String, Failure> {
    let images = cx.api.call("DescribeImages", &[])?;
    let image =
        images.items("imagesSet").map(|i| i.text("imageId")).next().ok_or_else(|| {
            Failure::new("InvalidAMIID.NotFound", "The lab has no images to launch.")
        })?;
    let nic = "NetworkInterface.1";
    let mut params: Vec<(String, String)> = vec![
        ("ImageId".to_owned(), image.to_owned()),
        ("InstanceType".to_owned(), INSTANCE_TYPE.to_owned()),
        ("MinCount".to_owned(), "1".to_owned()),
        ("MaxCount".to_owned(), "1".to_owned()),
        (format!("{nic}.DeviceIndex"), "0".to_owned()),
    ];
    if !form.subnet.is_empty() {
        params.push((format!("{nic}.SubnetId"), form.subnet.clone()));
    }
    if !form.private_ip.is_empty() {
        params.push((format!("{nic}.PrivateIpAddress"), form.private_ip.clone()));
    }
    match form.public_ip.as_str() {
        "enable" => params.push((format!("{nic}.AssociatePublicIpAddress"), "true".to_owned())),
        "disable" => params.push((format!("{nic}.AssociatePublicIpAddress"), "false".to_owned())),
        _ => {}
    }
    for (i, g) in form.groups.iter().enumerate() {
        params.push((format!("{nic}.SecurityGroupId.{}", i + 1), g.clone()));
    }
    if !form.name.is_empty() {
        params.extend(super::vpcs::name_tag("instance", &form.name));
    }
    let reply = cx.api.call("RunInstances", &params)?;
    Ok(reply.items("instancesSet").next().map_or("", |i| i.text("instanceId")).to_owned())
}

// ---- state changes and attributes ------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Stop,
    Start,
    Terminate,
}

impl Change {
    /// (page title, API action, button, done, question)
    fn words(self) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        match self {
            Change::Stop => (
                "Stop instance",
                "StopInstances",
                "Stop",
                "stopped",
                "A stopped instance keeps its private address; a public address that is not an Elastic IP is released.",
            ),
            Change::Start => (
                "Start instance",
                "StartInstances",
                "Start",
                "started",
                "The instance runs again in its subnet.",
            ),
            Change::Terminate => (
                "Terminate (delete) instance",
                "TerminateInstances",
                "Terminate (delete)",
                "terminated",
                "Terminating an instance deletes it, with its network interface and public address. This cannot be undone.",
            ),
        }
    }
}

fn change_state(cx: &Cx<'_>, id: &str, change: Change, req: &Request) -> Outcome {
    let instance = match load(cx, id) {
        Ok(i) => i,
        Err(outcome) => return outcome,
    };
    let (title, action, button, done, question) = change.words();
    let base = href(&format!("instances/{id}"));
    let mut failure = None;
    if req.is_post() {
        match cx.api.call1(action, "InstanceId.1", id) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done={done}")),
            Err(f) => failure = Some(f),
        }
    }
    let name = instance.name_tag();
    let body = html! {
        (html::crumbs(SECTION, "Instances", id, title))
        h1 { (title) "?" }
        @if let Some(f) = &failure { (html::error(f)) }
        (html::confirm(
            html! {
                p { (title) " " strong { (id) @if !name.is_empty() { " (" (name) ")" } } ", now " (html::state(instance.at(&["instanceState", "name"]))) "?" }
                p.hint { (question) }
            },
            &format!("{base}/{}", req_path(change)),
            button,
            &base,
        ))
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

fn req_path(change: Change) -> &'static str {
    match change {
        Change::Stop => "stop",
        Change::Start => "start",
        Change::Terminate => "terminate",
    }
}

fn source_dest_check(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let instance = match load(cx, id) {
        Ok(i) => i,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("instances/{id}"));
    let mut failure = None;
    if req.is_post() {
        let on = if req.field("stop_source_dest_check") == "on" { "false" } else { "true" };
        let params = [
            ("InstanceId".to_owned(), id.to_owned()),
            ("SourceDestCheck.Value".to_owned(), on.to_owned()),
        ];
        match cx.api.call("ModifyInstanceAttribute", &params) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done=source-dest-check")),
            Err(f) => failure = Some(f),
        }
    }
    let stopped = if req.is_post() {
        req.field("stop_source_dest_check") == "on"
    } else {
        instance.text("sourceDestCheck") == "false"
    };
    let body = html! {
        (html::crumbs(SECTION, "Instances", id, "Change source / destination check"))
        h1 { "Change source / destination check" }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/source-dest-check")) {
            fieldset {
                legend { "Source / destination checking" }
                p { "With the check on, the instance drops traffic not addressed to it or from it. Stop it for an instance that forwards traffic: a NAT instance, a router, a firewall." }
                p { "Instance ID: " strong { (id) } }
                p {
                    input #stop_source_dest_check type="checkbox" name="stop_source_dest_check" checked[stopped];
                    label.inline for="stop_source_dest_check" { "Stop" }
                }
            }
            (html::form_actions(&base, "Save"))
        }
    };
    Outcome::form("Change source / destination check", SECTION, body, failure.is_some())
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, get, post, post_ok};

    /// A VPC with a subnet and a group: (vpc, subnet, group).
    fn lab(c: &Console, cidr: &str) -> (String, String, String) {
        let vpc = api(c, "CreateVpc", &[("CidrBlock", cidr)]).at(&["vpc", "vpcId"]).to_owned();
        let block = cidr.replace(".0.0/16", ".1.0/24");
        let subnet = api(c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", &block)])
            .at(&["subnet", "subnetId"])
            .to_owned();
        let group = api(
            c,
            "CreateSecurityGroup",
            &[("GroupName", "web"), ("GroupDescription", "w"), ("VpcId", &vpc)],
        )
        .text("groupId")
        .to_owned();
        (vpc, subnet, group)
    }

    fn instance(c: &Console, id: &str) -> crate::console::El {
        let doc = api(c, "DescribeInstances", &[("InstanceId.1", id)]);
        super::instances_of(&doc)[0].clone()
    }

    #[test]
    fn an_instance_launched_in_the_console_is_the_apis() {
        let c = console();
        let (vpc_a, subnet_a, group_a) = lab(&c, "10.0.0.0/16");
        let (_, subnet_b, group_b) = lab(&c, "10.1.0.0/16");
        // Step one: the form offers the first subnet's VPC's groups; step two (GET with
        // the subnet) those of the other VPC, keeping the name typed.
        let form = get(&c, "/console/instances/new");
        assert_eq!(form.status, 200);
        assert!(form.body.contains(&format!(r#"id="security_group-{group_a}""#)), "{}", form.body);
        assert!(!form.body.contains(&format!(r#"id="security_group-{group_b}""#)));
        let step = get(
            &c,
            &format!(
                "/console/instances/new?name=web-1&subnet={subnet_b}&public_ip=enable&private_ip="
            ),
        );
        assert!(
            step.body.contains(&format!(r#"id="security_group-{group_b}""#))
                && step.body.contains(r#"value="web-1""#),
            "{}",
            step.body
        );
        assert!(!step.body.contains(&format!(r#"id="security_group-{group_a}""#)));

        let page = post_ok(
            &c,
            "/console/instances/new",
            &[
                ("name", "web-1"),
                ("subnet", &subnet_a),
                ("public_ip", "enable"),
                ("private_ip", "10.0.1.25"),
                ("security_group", &group_a),
            ],
        );
        assert!(page.body.contains("Successfully initiated launch of instance"), "{}", page.body);
        let doc = api(&c, "DescribeInstances", &[]);
        let all = super::instances_of(&doc);
        assert_eq!(all.len(), 1);
        let i = all[0];
        assert_eq!(i.name_tag(), "web-1");
        assert_eq!(i.text("subnetId"), subnet_a);
        assert_eq!(i.text("vpcId"), vpc_a);
        assert_eq!(i.text("privateIpAddress"), "10.0.1.25");
        assert_eq!(i.text("instanceType"), "t3.micro");
        assert!(!i.text("ipAddress").is_empty(), "a public address, as asked");
        assert_eq!(
            i.items("groupSet").map(|g| g.text("groupId")).collect::<Vec<_>>(),
            vec![group_a.as_str()]
        );
        let id = i.text("instanceId").to_owned();
        // The detail page: the groups as links, the interface on the Networking tab.
        assert!(
            page.body.contains(&format!("/console/security-groups/{group_a}"))
                && page.body.contains("10.0.1.25")
        );
        let eni =
            i.items("networkInterfaceSet").next().unwrap().text("networkInterfaceId").to_owned();
        assert!(page.body.contains(&eni), "{}", page.body);
        let security = get(&c, &format!("/console/instances/{id}?tab=security"));
        assert!(
            security.body.contains("Outbound rules (1)") && security.body.contains("0.0.0.0/0"),
            "{}",
            security.body
        );
        let list = get(&c, "/console/instances");
        assert!(
            list.body.contains(&id) && list.body.contains("web-1") && list.body.contains(">web<"),
            "{}",
            list.body
        );
    }

    #[test]
    fn the_apis_error_is_shown_with_the_form_as_filled() {
        let c = console();
        let (_, subnet, group) = lab(&c, "10.0.0.0/16");
        let page = post(
            &c,
            "/console/instances/new",
            &[
                ("name", "stray"),
                ("subnet", &subnet),
                ("public_ip", "default"),
                ("private_ip", "10.9.9.9"),
                ("security_group", &group),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains(r#"<div class="flash error" role="alert">"#), "{}", page.body);
        assert!(
            page.body.contains(r#"value="10.9.9.9""#) && page.body.contains(r#"value="stray""#)
        );
        assert!(
            page.body.contains(&format!(r#"value="{group}" checked"#)),
            "the group stays chosen"
        );
        assert!(super::instances_of(&api(&c, "DescribeInstances", &[])).is_empty());
    }

    #[test]
    fn stop_start_terminate_and_source_dest_check_go_through_the_api() {
        let c = console();
        let (_, subnet, _) = lab(&c, "10.0.0.0/16");
        let image = api(&c, "DescribeImages", &[])
            .items("imagesSet")
            .next()
            .unwrap()
            .text("imageId")
            .to_owned();
        let run = api(
            &c,
            "RunInstances",
            &[("ImageId", &image), ("MinCount", "1"), ("MaxCount", "1"), ("SubnetId", &subnet)],
        );
        let id = run.items("instancesSet").next().unwrap().text("instanceId").to_owned();
        let base = format!("/console/instances/{id}");
        let state = |c: &Console| instance(c, &id).at(&["instanceState", "name"]).to_owned();

        let confirm = get(&c, &format!("{base}/stop"));
        assert!(confirm.body.contains(">Stop</button>"), "{}", confirm.body);
        let page = post_ok(&c, &format!("{base}/stop"), &[]);
        assert!(page.body.contains("Successfully stopped"));
        assert_eq!(state(&c), "stopped");
        post_ok(&c, &format!("{base}/start"), &[]);
        assert_ne!(state(&c), "stopped");

        // Source/destination check: stop it, then start it again.
        let form = get(&c, &format!("{base}/source-dest-check"));
        assert!(
            form.body.contains(r#"id="stop_source_dest_check""#) && !form.body.contains("checked")
        );
        post_ok(&c, &format!("{base}/source-dest-check"), &[("stop_source_dest_check", "on")]);
        assert_eq!(instance(&c, &id).text("sourceDestCheck"), "false");
        let form = get(&c, &format!("{base}/source-dest-check"));
        assert!(form.body.contains("checked"));
        post_ok(&c, &format!("{base}/source-dest-check"), &[]);
        assert_eq!(instance(&c, &id).text("sourceDestCheck"), "true");

        let confirm = get(&c, &format!("{base}/terminate"));
        assert!(confirm.body.contains(">Terminate (delete)</button>"));
        let page = post_ok(&c, &format!("{base}/terminate"), &[]);
        assert!(page.body.contains("Successfully terminated"));
        assert_eq!(state(&c), "terminated");
        // A terminated instance cannot start: the API's error on the confirmation page.
        let refused = post(&c, &format!("{base}/start"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>IncorrectInstanceState</code>"), "{}", refused.body);
        assert_eq!(get(&c, "/console/instances/i-0123456789abcdef0").status, 404);
    }
}
