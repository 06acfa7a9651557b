//! Security groups: the list, a group's details with its inbound and outbound rules,
//! "Create security group", "Edit inbound rules" / "Edit outbound rules", "Delete
//! security groups".
//!
//! The rule editors hold one row per rule, with "Add rule" and "Delete" buttons that
//! work without JavaScript (they post the form back and re-show it) and with it (they
//! clone the `<template>` row or drop a row in place). "Save rules" compares the rows
//! with the group's rules as they are now, by rule id: new rows are authorized
//! (`Authorize…` by `IpPermissions`), rows that changed are modified in place
//! (`ModifySecurityGroupRules`), rules whose row went are revoked (`Revoke…` by
//! `SecurityGroupRuleId`).
//!
//! The port-range and protocol helpers are shared with the network ACL pages.

use maud::{Markup, html};

use super::api::{self, filter};
use super::choices;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::rows::{self, Press, pressed};
use super::{Cx, El, Failure, Outcome, Request};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "inbound-rules"] => edit_rules(cx, id, Direction::Inbound, req),
        [id, "outbound-rules"] => edit_rules(cx, id, Direction::Outbound, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

const SECTION: &str = "security-groups";

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let groups = match cx.api.call("DescribeSecurityGroups", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Security groups", SECTION, &f),
    };
    let rows: Vec<&El> = groups.items("securityGroupInfo").collect();
    let columns = [
        column("Name", |g: &El| html::or_dash(g.name_tag())),
        column("Security group ID", |g: &El| html::link(SECTION, g.text("groupId"))),
        column("Security group name", |g: &El| html! { (g.text("groupName")) }),
        column("VPC ID", |g: &El| html::link("vpcs", g.text("vpcId"))),
        column("Description", |g: &El| html::or_dash(g.text("groupDescription"))),
        column(
            "Inbound rules count",
            |g: &El| html! { (count(g.items("ipPermissions").count(), "Permission entry", "Permission entries")) },
        ),
        column(
            "Outbound rules count",
            |g: &El| html! { (count(g.items("ipPermissionsEgress").count(), "Permission entry", "Permission entries")) },
        ),
    ];
    let body = html::list(
        "Security groups",
        Some(("security-groups/new", "Create security group")),
        "security groups",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("Security groups", SECTION, body))
}

/// "1 Permission entry", "3 Permission entries".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one(
        "DescribeSecurityGroups",
        "GroupId.1",
        id,
        "securityGroupInfo",
        api::not_found,
    )
}

/// Inbound or outbound: which rules a page shows or edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    fn egress(self) -> bool {
        self == Direction::Outbound
    }

    /// "Inbound", "Outbound".
    fn word(self) -> &'static str {
        if self.egress() { "Outbound" } else { "Inbound" }
    }

    /// The page under a group's path.
    fn verb(self) -> &'static str {
        if self.egress() { "outbound-rules" } else { "inbound-rules" }
    }

    /// The tab on the detail page.
    fn tab(self) -> &'static str {
        if self.egress() { "outbound" } else { "inbound" }
    }

    /// "Source" (inbound) or "Destination" (outbound).
    fn peer(self) -> &'static str {
        if self.egress() { "Destination" } else { "Source" }
    }

    /// The action suffix: `Ingress` or `Egress`.
    fn api(self) -> &'static str {
        if self.egress() { "Egress" } else { "Ingress" }
    }
}

/// The group's rules of one direction, as `DescribeSecurityGroupRules` gives them.
fn rules_of(cx: &Cx<'_>, id: &str, direction: Direction) -> Result<Vec<El>, Failure> {
    let doc = cx.api.call("DescribeSecurityGroupRules", &filter("group-id", id))?;
    let egress = if direction.egress() { "true" } else { "false" };
    Ok(doc
        .items("securityGroupRuleSet")
        .filter(|r| r.text("isEgress") == egress)
        .cloned()
        .collect())
}

/// A rule's peer: its CIDR, referenced group or prefix list.
fn peer_of(rule: &El) -> &str {
    [rule.text("cidrIpv4"), rule.at(&["referencedGroupInfo", "groupId"]), rule.text("prefixListId")]
        .into_iter()
        .find(|p| !p.is_empty())
        .unwrap_or("")
}

/// A peer as a link where it is a console resource.
fn peer_link(peer: &str) -> Markup {
    if peer.starts_with("sg-") { html::link(SECTION, peer) } else { html::or_dash(peer) }
}

fn port(rule: &El, name: &str) -> i32 {
    rule.text(name).parse().unwrap_or(-1)
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let group = match describe(cx, id) {
        Ok(Some(g)) => g,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let tab = match req.param("tab") {
        "" => "inbound",
        t => t,
    };
    let base = href(&format!("security-groups/{id}"));
    let name = group.text("groupName");
    let title = format!("{id} - {name}");
    let inbound = group.items("ipPermissions").count();
    let outbound = group.items("ipPermissionsEgress").count();
    let done = match req.param("done") {
        "created" => Some(format!("Security group ({id} | {name}) was created successfully")),
        "inbound-rules" => Some(format!(
            "Inbound security group rules successfully modified on security group ({id} | {name})"
        )),
        "outbound-rules" => Some(format!(
            "Outbound security group rules successfully modified on security group ({id} | {name})"
        )),
        _ => None,
    };
    let body = html! {
        (html::crumbs(SECTION, "Security groups", id, ""))
        @if let Some(text) = &done { (html::notice(text)) }
        (html::bar(&title, html::actions(&[
            ("Edit inbound rules", format!("{base}/inbound-rules")),
            ("Edit outbound rules", format!("{base}/outbound-rules")),
            ("Delete security groups", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Security group name", html! { (name) }),
            ("Security group ID", html! { (id) }),
            ("Description", html::or_dash(group.text("groupDescription"))),
            ("VPC ID", html::link("vpcs", group.text("vpcId"))),
            ("Owner", html! { (group.text("ownerId")) }),
            ("Inbound rules count", html! { (count(inbound, "Permission entry", "Permission entries")) }),
            ("Outbound rules count", html! { (count(outbound, "Permission entry", "Permission entries")) }),
        ]))
        (html::tabs(&base, tab, &[("inbound", "Inbound rules"), ("outbound", "Outbound rules"), ("tags", "Tags")]))
        @match tab {
            "tags" => (html::tags_table(&group)),
            "outbound" => (rules_tab(cx, id, Direction::Outbound, &base)),
            _ => (rules_tab(cx, id, Direction::Inbound, &base)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn rules_tab(cx: &Cx<'_>, id: &str, direction: Direction, base: &str) -> Markup {
    let rules = match rules_of(cx, id, direction) {
        Ok(rules) => rules,
        Err(f) => return html::error(&f),
    };
    let word = direction.word();
    html! {
        div.bar {
            h2 { (word) " rules (" (rules.len()) ")" }
            a.button href=(format!("{base}/{}", direction.verb())) { "Edit " (word.to_lowercase()) " rules" }
        }
        @if rules.is_empty() {
            p.empty { "No " (word.to_lowercase()) " rules: this group admits nothing " (if direction.egress() { "out" } else { "in" }) "." }
        } @else {
            div.scroll {
                table.list aria-label=(format!("{word} rules")) {
                    thead { tr {
                        th scope="col" { "Security group rule ID" }
                        th scope="col" { "Type" }
                        th scope="col" { "Protocol" }
                        th scope="col" { "Port range" }
                        th scope="col" { (direction.peer()) }
                        th scope="col" { "Description" }
                    } }
                    tbody {
                        @for r in &rules {
                            @let protocol = r.text("ipProtocol");
                            @let (from, to) = (port(r, "fromPort"), port(r, "toPort"));
                            tr {
                                td { (r.text("securityGroupRuleId")) }
                                td { (type_name(protocol, from, to)) }
                                td { (protocol_name(protocol)) }
                                td { (port_range(protocol, from, to)) }
                                td { (peer_link(peer_of(r))) }
                                td { (html::or_dash(r.text("description"))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---- protocols and ports (shared with the network ACL pages) -------------------------

/// The protocols a rule row offers: (value the API takes, label).
pub(super) const PROTOCOLS: &[(&str, &str)] =
    &[("-1", "All traffic"), ("tcp", "TCP"), ("udp", "UDP"), ("icmp", "ICMP")];

/// A protocol as the rule editors name it: `-1`, `tcp`, `udp`, `icmp` or a number, from
/// any of the API's spellings (security groups say `tcp`, network ACLs `6`).
pub(super) fn protocol_value(api: &str) -> String {
    match api.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" | "" => "-1".to_owned(),
        "tcp" | "6" => "tcp".to_owned(),
        "udp" | "17" => "udp".to_owned(),
        "icmp" | "1" => "icmp".to_owned(),
        other => other.to_owned(),
    }
}

/// The console's name of a protocol: "All", "TCP", "UDP", "ICMP", or its number.
pub(super) fn protocol_name(api: &str) -> String {
    match protocol_value(api).as_str() {
        "-1" => "All".to_owned(),
        "tcp" => "TCP".to_owned(),
        "udp" => "UDP".to_owned(),
        "icmp" => "ICMP".to_owned(),
        other => other.to_owned(),
    }
}

/// The protocol options of a row's select, with the row's own if it is not a usual one.
pub(super) fn protocol_options(chosen: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> =
        PROTOCOLS.iter().map(|(v, l)| ((*v).to_owned(), (*l).to_owned())).collect();
    if !chosen.is_empty() && !PROTOCOLS.iter().any(|(v, _)| *v == chosen) {
        options.push((chosen.to_owned(), format!("Protocol {chosen}")));
    }
    options
}

/// What the AWS console calls a rule: "All traffic", "SSH", "Custom TCP", ….
pub(super) fn type_name(protocol: &str, from: i32, to: i32) -> String {
    let known = match (protocol_value(protocol).as_str(), from, to) {
        ("-1", _, _) => "All traffic",
        ("tcp", 22, 22) => "SSH",
        ("tcp", 80, 80) => "HTTP",
        ("tcp", 443, 443) => "HTTPS",
        ("tcp", 3389, 3389) => "RDP",
        ("tcp", 53, 53) => "DNS (TCP)",
        ("udp", 53, 53) => "DNS (UDP)",
        ("tcp", 0, 65535) => "All TCP",
        ("udp", 0, 65535) => "All UDP",
        ("icmp", -1, _) => "All ICMP - IPv4",
        ("tcp", _, _) => "Custom TCP",
        ("udp", _, _) => "Custom UDP",
        ("icmp", _, _) => "Custom ICMP - IPv4",
        _ => "Custom protocol",
    };
    known.to_owned()
}

/// A rule's port range as a list shows it: "All", "22", "80 - 443"; for ICMP its type
/// and code ("8", "8/0").
pub(super) fn port_range(protocol: &str, from: i32, to: i32) -> String {
    match protocol_value(protocol).as_str() {
        "-1" => "All".to_owned(),
        "icmp" if from == -1 => "All".to_owned(),
        "icmp" if to == -1 => from.to_string(),
        "icmp" => format!("{from}/{to}"),
        _ if from == -1 => "All".to_owned(),
        _ if from == to => from.to_string(),
        _ => format!("{from} - {to}"),
    }
}

/// A rule's port range as a row's text field holds it: "" for all, "22", "80-443";
/// for ICMP "8" or "8/0".
pub(super) fn ports_text(protocol: &str, from: i32, to: i32) -> String {
    match protocol_value(protocol).as_str() {
        "-1" => String::new(),
        "icmp" if from == -1 => String::new(),
        "icmp" if to == -1 => from.to_string(),
        "icmp" => format!("{from}/{to}"),
        _ if from == -1 => String::new(),
        _ if from == to => from.to_string(),
        _ => format!("{from}-{to}"),
    }
}

/// A row's port range: (from, to). Blank (or "All") is every port — 0 to 65535 for TCP
/// and UDP, -1/-1 (any type and code) for ICMP and all traffic. "22" is one port,
/// "80-443" a range; for ICMP "8" is a type (any code) and "8/0" a type and code.
pub(super) fn parse_ports(protocol: &str, text: &str) -> Result<(i32, i32), Failure> {
    let text = text.trim();
    let protocol = protocol_value(protocol);
    let all = text.is_empty() || text.eq_ignore_ascii_case("all");
    let bad = || {
        Failure::new(
            "InvalidParameterValue",
            format!(
                "Invalid port range '{text}': give a port (22), a range (80-443), or nothing for all."
            ),
        )
    };
    let number = |s: &str| s.trim().parse::<i32>().map_err(|_| bad());
    match protocol.as_str() {
        "-1" => Ok((-1, -1)),
        "icmp" if all => Ok((-1, -1)),
        "icmp" => match text.split_once(['/', '-']) {
            Some((kind, code)) => Ok((number(kind)?, number(code)?)),
            None => Ok((number(text)?, -1)),
        },
        "tcp" | "udp" if all => Ok((0, 65535)),
        _ if all => Ok((-1, -1)),
        _ => match text.split_once('-') {
            Some((from, to)) => Ok((number(from)?, number(to)?)),
            None => number(text).map(|p| (p, p)),
        },
    }
}

/// A label for a control in a table row: the column heading says what it is on the
/// screen; this says it (with the row) to a screen reader, off-screen.
pub(super) fn row_label(id: &str, text: &str) -> Markup {
    html! { label.skip for=(id) { (text) } }
}

// ---- the rule editors ------------------------------------------------------------------

/// The types a row offers: presets fix the protocol and port range; "Custom" takes them
/// from the row.
const TYPES: &[(&str, &str, &str, &str)] = &[
    // (value, label, protocol, ports)
    ("custom", "Custom (protocol and port range)", "", ""),
    ("all-traffic", "All traffic", "-1", ""),
    ("ssh", "SSH (TCP 22)", "tcp", "22"),
    ("http", "HTTP (TCP 80)", "tcp", "80"),
    ("https", "HTTPS (TCP 443)", "tcp", "443"),
    ("rdp", "RDP (TCP 3389)", "tcp", "3389"),
    ("all-icmp", "All ICMP - IPv4", "icmp", ""),
];

/// One row of a rule editor, as shown or posted.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RuleRow {
    /// The rule it edits (`sgr-…`), or "" for a new one.
    rule_id: String,
    kind: String,
    protocol: String,
    ports: String,
    source: String,
    description: String,
}

impl RuleRow {
    fn blank() -> Self {
        RuleRow {
            rule_id: String::new(),
            kind: "custom".to_owned(),
            protocol: "tcp".to_owned(),
            ports: String::new(),
            source: String::new(),
            description: String::new(),
        }
    }

    fn of(rule: &El) -> Self {
        let protocol = protocol_value(rule.text("ipProtocol"));
        RuleRow {
            rule_id: rule.text("securityGroupRuleId").to_owned(),
            kind: "custom".to_owned(),
            ports: ports_text(&protocol, port(rule, "fromPort"), port(rule, "toPort")),
            protocol,
            source: peer_of(rule).to_owned(),
            description: rule.text("description").to_owned(),
        }
    }

    /// The rows of a post, in order.
    fn posted(req: &Request) -> Vec<RuleRow> {
        let names = ["rule_id", "type", "protocol", "ports", "source", "description"];
        rows::posted(req, names)
            .into_iter()
            .map(|[rule_id, kind, protocol, ports, source, description]| RuleRow {
                rule_id,
                kind: if kind.is_empty() { "custom".to_owned() } else { kind },
                protocol,
                ports,
                source,
                description,
            })
            .collect()
    }

    /// The rule the row asks for (its type's protocol and ports, or its own).
    fn wanted(&self) -> Result<Wanted, Failure> {
        let (protocol, ports) = match TYPES.iter().find(|t| t.0 == self.kind) {
            Some((_, _, protocol, ports)) if !protocol.is_empty() => {
                ((*protocol).to_owned(), (*ports).to_owned())
            }
            _ => (protocol_value(&self.protocol), self.ports.clone()),
        };
        let (from, to) = parse_ports(&protocol, &ports)?;
        Ok(Wanted {
            protocol,
            from,
            to,
            peer: self.source.trim().to_owned(),
            description: self.description.clone(),
        })
    }
}

/// A rule, compared by what it is and says.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wanted {
    protocol: String,
    from: i32,
    to: i32,
    peer: String,
    description: String,
}

impl Wanted {
    /// The same rule, whatever the descriptions say (as the API compares them).
    fn same_rule(&self, other: &Wanted) -> bool {
        self.protocol == other.protocol
            && self.peer == other.peer
            && (self.protocol == "-1" || (self.from, self.to) == (other.from, other.to))
    }

    fn of(rule: &El) -> Self {
        Wanted {
            protocol: protocol_value(rule.text("ipProtocol")),
            from: port(rule, "fromPort"),
            to: port(rule, "toPort"),
            peer: peer_of(rule).to_owned(),
            description: rule.text("description").to_owned(),
        }
    }

    /// As `IpPermissions.{n}` of Authorize….
    fn permission(&self, n: usize, params: &mut Vec<(String, String)>) {
        let at = format!("IpPermissions.{n}");
        params.push((format!("{at}.IpProtocol"), self.protocol.clone()));
        params.push((format!("{at}.FromPort"), self.from.to_string()));
        params.push((format!("{at}.ToPort"), self.to.to_string()));
        let (list, field) = if self.peer.starts_with("sg-") {
            ("Groups", "GroupId")
        } else if self.peer.starts_with("pl-") {
            ("PrefixListIds", "PrefixListId")
        } else {
            ("IpRanges", "CidrIp")
        };
        // No peer at all: the API says what is missing.
        if !self.peer.is_empty() {
            params.push((format!("{at}.{list}.1.{field}"), self.peer.clone()));
            if !self.description.is_empty() {
                params.push((format!("{at}.{list}.1.Description"), self.description.clone()));
            }
        }
    }

    /// As `SecurityGroupRule.{n}` of ModifySecurityGroupRules.
    fn modification(&self, n: usize, rule_id: &str, params: &mut Vec<(String, String)>) {
        let at = format!("SecurityGroupRule.{n}");
        params.push((format!("{at}.SecurityGroupRuleId"), rule_id.to_owned()));
        let r = format!("{at}.SecurityGroupRule");
        params.push((format!("{r}.IpProtocol"), self.protocol.clone()));
        params.push((format!("{r}.FromPort"), self.from.to_string()));
        params.push((format!("{r}.ToPort"), self.to.to_string()));
        let field = if self.peer.starts_with("sg-") {
            "ReferencedGroupId"
        } else if self.peer.starts_with("pl-") {
            "PrefixListId"
        } else {
            "CidrIpv4"
        };
        if !self.peer.is_empty() {
            params.push((format!("{r}.{field}"), self.peer.clone()));
        }
        if !self.description.is_empty() {
            params.push((format!("{r}.Description"), self.description.clone()));
        }
    }
}

fn edit_rules(cx: &Cx<'_>, id: &str, direction: Direction, req: &Request) -> Outcome {
    let group = match describe(cx, id) {
        Ok(Some(g)) => g,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let current = match rules_of(cx, id, direction) {
        Ok(rules) => rules,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let mut failure = None;
    let rows = if req.is_post() {
        let mut rows = RuleRow::posted(req);
        match pressed(req) {
            Press::Add => rows.push(RuleRow::blank()),
            Press::Remove(i) => {
                if i < rows.len() {
                    rows.remove(i);
                }
            }
            Press::Save => match save_rules(cx, id, direction, &current, &mut rows) {
                Ok(()) => {
                    return Outcome::Redirect(href(&format!(
                        "security-groups/{id}?tab={}&done={}",
                        direction.tab(),
                        direction.verb()
                    )));
                }
                Err(f) => failure = Some(f),
            },
        }
        rows
    } else {
        current.iter().map(RuleRow::of).collect()
    };
    let body = rules_form(id, group.text("groupName"), direction, &rows, failure.as_ref());
    let title = format!("Edit {} rules", direction.word().to_lowercase());
    Outcome::form(&title, SECTION, body, failure.is_some())
}

/// Brings the group's rules of `direction` from `current` to `rows`: new rules first
/// (one call: all or none), then changed ones (one call), then the removed ones go — so
/// that the likeliest refusal, a new row the API will not take, changes nothing. A new
/// row that is a removed rule again keeps that rule. Rows that were authorized before a
/// later step failed get their rule ids, so that the form shown again is what is there.
fn save_rules(
    cx: &Cx<'_>,
    id: &str,
    direction: Direction,
    current: &[El],
    rows: &mut [RuleRow],
) -> Result<(), Failure> {
    // Every row read first, so that a row the console cannot read changes nothing.
    let wanted: Vec<Wanted> = rows.iter().map(RuleRow::wanted).collect::<Result<_, _>>()?;
    let rule_id = |r: &El| r.text("securityGroupRuleId").to_owned();
    let find = |rid: &str| {
        current.iter().find(|r| !rid.is_empty() && r.text("securityGroupRuleId") == rid)
    };
    for row in rows.iter_mut() {
        if find(&row.rule_id).is_none() {
            row.rule_id.clear();
        }
    }
    for i in 0..rows.len() {
        if rows[i].rule_id.is_empty() {
            let held: Vec<String> = rows.iter().map(|r| r.rule_id.clone()).collect();
            if let Some(r) = current
                .iter()
                .find(|r| !held.contains(&rule_id(r)) && Wanted::of(r).same_rule(&wanted[i]))
            {
                rows[i].rule_id = rule_id(r);
            }
        }
    }
    let group = [("GroupId".to_owned(), id.to_owned())];

    let new: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].rule_id.is_empty()).collect();
    if !new.is_empty() {
        let mut params = group.to_vec();
        for (n, &i) in new.iter().enumerate() {
            wanted[i].permission(n + 1, &mut params);
        }
        let reply = cx.api.call(&format!("AuthorizeSecurityGroup{}", direction.api()), &params)?;
        for (&i, added) in new.iter().zip(reply.items("securityGroupRuleSet")) {
            rows[i].rule_id = rule_id(added);
        }
    }

    let changed: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            !new.contains(&i) && find(&rows[i].rule_id).is_some_and(|r| Wanted::of(r) != wanted[i])
        })
        .collect();
    if !changed.is_empty() {
        let mut params = group.to_vec();
        for (n, &i) in changed.iter().enumerate() {
            wanted[i].modification(n + 1, &rows[i].rule_id, &mut params);
        }
        cx.api.call("ModifySecurityGroupRules", &params)?;
    }

    let gone: Vec<String> =
        current.iter().map(rule_id).filter(|rid| !rows.iter().any(|r| &r.rule_id == rid)).collect();
    if !gone.is_empty() {
        let mut params = group.to_vec();
        params.extend(
            gone.into_iter()
                .enumerate()
                .map(|(n, rid)| (format!("SecurityGroupRuleId.{}", n + 1), rid)),
        );
        cx.api.call(&format!("RevokeSecurityGroup{}", direction.api()), &params)?;
    }
    Ok(())
}

fn rules_form(
    id: &str,
    name: &str,
    direction: Direction,
    rows: &[RuleRow],
    failure: Option<&Failure>,
) -> Markup {
    let base = href(&format!("security-groups/{id}"));
    let word = direction.word();
    let title = format!("Edit {} rules", word.to_lowercase());
    let peer = direction.peer();
    html! {
        p.crumbs {
            a href=(href(SECTION)) { "Security groups" } " › "
            a href=(base) { (id) " - " (name) } " › " (title)
        }
        h1 { (title) }
        p { (word) " rules control the " (if direction.egress() { "outgoing traffic that is allowed to leave" } else { "incoming traffic that is allowed to reach" }) " the instances associated with the security group." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/{}", direction.verb())) {
            // The form's default button (Enter in a field): save, not "Add rule" or a row's "Delete".
            button type="submit" name="save" value="1" hidden tabindex="-1" { "Save rules" }
            fieldset {
                legend { (word) " rules" }
                p.hint {
                    "Type: a preset, or Custom to use the protocol and port range. Port range: a port (22), a range (80-443), "
                    "or blank for all; for ICMP a type (8) or type/code (8/0). " (peer) ": a CIDR (0.0.0.0/0), a security group (sg-…) or a prefix list (pl-…)."
                }
                div.scroll {
                    table.list #rules aria-label=(format!("{word} rules")) {
                        thead { tr {
                            th scope="col" { "Security group rule ID" }
                            th scope="col" { "Type" }
                            th scope="col" { "Protocol" }
                            th scope="col" { "Port range" }
                            th scope="col" { (peer) }
                            th scope="col" { "Description - optional" }
                            th scope="col" { span.skip { "Delete" } }
                        } }
                        tbody {
                            @for (i, row) in rows.iter().enumerate() { (rule_row(Some(i), row, peer)) }
                        }
                        template { (rule_row(None, &RuleRow::blank(), peer)) }
                    }
                }
                @if rows.is_empty() { p.empty { "No " (word.to_lowercase()) " rules: add one, or save to remove them all." } }
                p { button type="submit" name="add" value="1" data-add-row="rules" { "Add rule" } }
            }
            (html::form_actions(&base, "Save rules"))
        }
    }
}

/// A rule editor's row: numbered (ids and labels, a no-JavaScript "Delete"), or the
/// blank template that "Add rule" clones (no ids: the clones would share them).
fn rule_row(index: Option<usize>, row: &RuleRow, peer: &str) -> Markup {
    let id = |field: &str| index.map(|i| format!("{field}-{i}"));
    let label = |field: &str, text: &str| match index {
        Some(i) => row_label(&format!("{field}-{i}"), &format!("{text}, rule {}", i + 1)),
        None => html! {},
    };
    let aria = |text: &str| index.is_none().then(|| format!("{text}, new rule"));
    let types: Vec<(String, String)> =
        TYPES.iter().map(|t| (t.0.to_owned(), t.1.to_owned())).collect();
    html! {
        tr {
            td {
                input type="hidden" name="rule_id" value=(row.rule_id);
                @if row.rule_id.is_empty() { "–" } @else { (row.rule_id) }
            }
            td {
                (label("type", "Type"))
                select id=[id("type")] name="type" aria-label=[aria("Type")] {
                    @for (value, text) in &types { option value=(value) selected[*value == row.kind] { (text) } }
                }
            }
            td {
                (label("protocol", "Protocol"))
                select id=[id("protocol")] name="protocol" aria-label=[aria("Protocol")] {
                    @for (value, text) in protocol_options(&row.protocol) { option value=(value) selected[value == row.protocol] { (text) } }
                }
            }
            td {
                (label("ports", "Port range"))
                input type="text" id=[id("ports")] name="ports" value=(row.ports) placeholder="All" aria-label=[aria("Port range")];
            }
            td {
                (label("source", peer))
                input type="text" id=[id("source")] name="source" value=(row.source) placeholder="0.0.0.0/0, sg-…, pl-…" aria-label=[aria(peer)];
            }
            td {
                (label("description", "Description"))
                input type="text" id=[id("description")] name="description" value=(row.description) aria-label=[aria("Description")];
            }
            td {
                @match index {
                    Some(i) => {
                        button.danger type="submit" name="remove" value=(i) data-remove-row aria-label=(format!("Delete rule {}", i + 1)) { "Delete" }
                    }
                    None => {
                        button.danger type="button" data-remove-row aria-label="Delete this rule" { "Delete" }
                    }
                }
            }
        }
    }
}

// ---- create and delete -----------------------------------------------------------------

fn create_form(cx: &Cx<'_>, req: &Request, failure: Option<&Failure>) -> Markup {
    let vpcs = choices::vpcs(cx).unwrap_or_default();
    html! {
        (html::crumbs(SECTION, "Security groups", "", "Create security group"))
        h1 { "Create security group" }
        p { "A security group acts as a virtual firewall for your instance to control inbound and outbound traffic. \
             A new group allows all outbound traffic and no inbound: add rules after creating it." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("security-groups/new")) {
            fieldset {
                legend { "Basic details" }
                (html::text_field("group_name", "Security group name", req.value("group_name"), "Up to 255 characters. Cannot be edited after creation."))
                (html::text_field("description", "Description", req.value("description"), "Up to 255 characters."))
                @if vpcs.is_empty() {
                    p.empty { "No VPCs yet: " a href=(href("vpcs/new")) { "create a VPC" } " first." }
                } @else {
                    (html::select("vpc", "VPC", &vpcs, req.value("vpc")))
                }
            }
            (html::form_actions(&href(SECTION), "Create security group"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    if !req.is_post() {
        return Outcome::Page(html::page(
            "Create security group",
            SECTION,
            create_form(cx, req, None),
        ));
    }
    let mut params = vec![
        ("GroupName".to_owned(), req.field("group_name").to_owned()),
        ("GroupDescription".to_owned(), req.field("description").to_owned()),
    ];
    if !req.field("vpc").is_empty() {
        params.push(("VpcId".to_owned(), req.field("vpc").to_owned()));
    }
    match cx.api.call("CreateSecurityGroup", &params) {
        Ok(doc) => Outcome::Redirect(href(&format!(
            "security-groups/{}?done=created",
            doc.text("groupId")
        ))),
        Err(f) => Outcome::Status(
            400,
            html::page("Create security group", SECTION, create_form(cx, req, Some(&f))),
        ),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let group = match describe(cx, id) {
        Ok(Some(g)) => g,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    Confirm {
        section: SECTION,
        label: "Security groups",
        id,
        title: "Delete security groups",
        question: html! {
            p { "Delete the security group " strong { (id) " - " (group.text("groupName")) } "?" }
            p.hint { "A group that instances or interfaces use, or that another group's rules refer to, cannot be deleted (" code { "DependencyViolation" } "); nor can a VPC's default group." }
        },
        verb: "delete",
        action: "DeleteSecurityGroup",
        id_param: "GroupId",
        button: "Delete",
        done: href(SECTION),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::El;
    use crate::console::testing::{api, console, get, post, post_ok};

    fn vpc(c: &crate::console::Console) -> String {
        api(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned()
    }

    fn group(c: &crate::console::Console, id: &str) -> El {
        api(c, "DescribeSecurityGroups", &[("GroupId.1", id)])
            .items("securityGroupInfo")
            .next()
            .unwrap()
            .clone()
    }

    /// The group's rules of one direction as (protocol, from, to, peer, description).
    fn rules(
        c: &crate::console::Console,
        id: &str,
        egress: bool,
    ) -> Vec<(String, String, String, String, String)> {
        let doc = api(
            c,
            "DescribeSecurityGroupRules",
            &[("Filter.1.Name", "group-id"), ("Filter.1.Value.1", id)],
        );
        let mut rules: Vec<_> = doc
            .items("securityGroupRuleSet")
            .filter(|r| r.text("isEgress") == egress.to_string())
            .map(|r| {
                (
                    r.text("ipProtocol").to_owned(),
                    r.text("fromPort").to_owned(),
                    r.text("toPort").to_owned(),
                    super::peer_of(r).to_owned(),
                    r.text("description").to_owned(),
                )
            })
            .collect();
        rules.sort();
        rules
    }

    fn rule_ids(c: &crate::console::Console, id: &str, egress: bool) -> Vec<String> {
        let doc = api(
            c,
            "DescribeSecurityGroupRules",
            &[("Filter.1.Name", "group-id"), ("Filter.1.Value.1", id)],
        );
        doc.items("securityGroupRuleSet")
            .filter(|r| r.text("isEgress") == egress.to_string())
            .map(|r| r.text("securityGroupRuleId").to_owned())
            .collect()
    }

    fn t(v: &[&str; 5]) -> (String, String, String, String, String) {
        (v[0].into(), v[1].into(), v[2].into(), v[3].into(), v[4].into())
    }

    #[test]
    fn a_group_created_in_the_console_is_the_apis() {
        let c = console();
        let vpc = vpc(&c);
        let form = get(&c, "/console/security-groups/new");
        assert!(
            form.body.contains(r#"name="group_name""#) && form.body.contains(&vpc),
            "{}",
            form.body
        );
        let page = post_ok(
            &c,
            "/console/security-groups/new",
            &[("group_name", "web"), ("description", "Web servers"), ("vpc", &vpc)],
        );
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        let groups = api(
            &c,
            "DescribeSecurityGroups",
            &[("Filter.1.Name", "group-name"), ("Filter.1.Value.1", "web")],
        );
        let g = groups.items("securityGroupInfo").next().expect("the group");
        assert_eq!(g.text("vpcId"), vpc);
        assert_eq!(g.text("groupDescription"), "Web servers");
        let id = g.text("groupId");
        // The new group allows all outbound: its one rule is on the outbound tab.
        let outbound = get(&c, &format!("/console/security-groups/{id}?tab=outbound"));
        assert!(
            outbound.body.contains("All traffic") && outbound.body.contains("0.0.0.0/0"),
            "{}",
            outbound.body
        );
        let list = get(&c, "/console/security-groups");
        assert!(
            list.body.contains(id)
                && list.body.contains("Web servers")
                && list.body.contains("1 Permission entry")
        );
        let filtered = get(&c, "/console/security-groups?search=Web%20servers");
        assert!(
            filtered.body.contains(id) && !filtered.body.contains(">default<"),
            "{}",
            filtered.body
        );
    }

    #[test]
    fn the_apis_error_is_shown_with_the_form_as_filled() {
        let c = console();
        let vpc = vpc(&c);
        let page = post(
            &c,
            "/console/security-groups/new",
            &[("group_name", "default"), ("description", "mine"), ("vpc", &vpc)],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("<code>InvalidGroup.Reserved</code>"), "{}", page.body);
        assert!(page.body.contains(r#"value="mine""#), "the form keeps what was typed");
        assert_eq!(
            api(&c, "DescribeSecurityGroups", &[]).items("securityGroupInfo").count(),
            1,
            "only the VPC's default"
        );
    }

    #[test]
    fn inbound_rules_are_added_changed_and_removed_as_the_rows_say() {
        let c = console();
        let vpc = vpc(&c);
        let id = api(
            &c,
            "CreateSecurityGroup",
            &[("GroupName", "web"), ("GroupDescription", "w"), ("VpcId", &vpc)],
        )
        .text("groupId")
        .to_owned();
        let other = api(
            &c,
            "CreateSecurityGroup",
            &[("GroupName", "lb"), ("GroupDescription", "l"), ("VpcId", &vpc)],
        )
        .text("groupId")
        .to_owned();
        let path = format!("/console/security-groups/{id}/inbound-rules");

        // No JavaScript: "Add rule" posts the rows back and gets one more.
        let form = get(&c, &path);
        assert_eq!(form.status, 200);
        assert!(
            form.body.contains(r#"id="rules""#)
                && form.body.contains("<template>")
                && form.body.contains(r#"data-add-row="rules""#)
        );
        let added = post(&c, &path, &[("add", "1")]);
        assert_eq!(added.status, 200);
        assert!(
            added.body.contains(r#"id="ports-0""#) && !added.body.contains(r#"id="ports-1""#),
            "{}",
            added.body
        );

        // Save three new rules: SSH by preset, HTTP-HTTPS from a group, all ICMP.
        let rows: &[(&str, &str)] = &[
            ("rule_id", ""),
            ("type", "ssh"),
            ("protocol", "tcp"),
            ("ports", ""),
            ("source", "203.0.113.0/24"),
            ("description", "admins"),
            ("rule_id", ""),
            ("type", "custom"),
            ("protocol", "tcp"),
            ("ports", "80-443"),
            ("source", &other),
            ("description", ""),
            ("rule_id", ""),
            ("type", "custom"),
            ("protocol", "icmp"),
            ("ports", ""),
            ("source", "10.0.0.0/16"),
            ("description", ""),
        ];
        let page = post_ok(&c, &path, rows);
        assert!(
            page.body.contains("Inbound security group rules successfully modified"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("SSH")
                && page.body.contains("80 - 443")
                && page.body.contains(&other),
            "{}",
            page.body
        );
        assert_eq!(
            rules(&c, &id, false),
            vec![
                t(&["icmp", "-1", "-1", "10.0.0.0/16", ""]),
                t(&["tcp", "22", "22", "203.0.113.0/24", "admins"]),
                t(&["tcp", "80", "443", &other, ""]),
            ]
        );

        // The form shows them; change one, drop one (no JavaScript: "Delete" posts its index), keep one.
        let form = get(&c, &path);
        let ids = rule_ids(&c, &id, false);
        for rid in &ids {
            assert!(form.body.contains(rid.as_str()));
        }
        let current: Vec<El> = api(
            &c,
            "DescribeSecurityGroupRules",
            &[("Filter.1.Name", "group-id"), ("Filter.1.Value.1", &id)],
        )
        .items("securityGroupRuleSet")
        .filter(|r| r.text("isEgress") == "false")
        .cloned()
        .collect();
        let ssh = current
            .iter()
            .find(|r| r.text("fromPort") == "22")
            .unwrap()
            .text("securityGroupRuleId")
            .to_owned();
        let web = current
            .iter()
            .find(|r| r.text("fromPort") == "80")
            .unwrap()
            .text("securityGroupRuleId")
            .to_owned();
        let icmp = current
            .iter()
            .find(|r| r.text("ipProtocol") == "icmp")
            .unwrap()
            .text("securityGroupRuleId")
            .to_owned();
        let mut rows: Vec<(&str, &str)> = vec![
            ("rule_id", &ssh),
            ("type", "custom"),
            ("protocol", "tcp"),
            ("ports", "2222"),
            ("source", "203.0.113.0/24"),
            ("description", "admins"),
            ("rule_id", &web),
            ("type", "custom"),
            ("protocol", "tcp"),
            ("ports", "80-443"),
            ("source", &other),
            ("description", ""),
            ("rule_id", &icmp),
            ("type", "custom"),
            ("protocol", "icmp"),
            ("ports", ""),
            ("source", "10.0.0.0/16"),
            ("description", ""),
        ];
        rows.push(("remove", "2"));
        let shown = post(&c, &path, &rows);
        assert_eq!(shown.status, 200);
        assert!(
            !shown.body.contains(&icmp) && shown.body.contains(&web),
            "the row went, nothing saved yet"
        );
        assert_eq!(rules(&c, &id, false).len(), 3);
        rows.truncate(12);
        post_ok(&c, &path, &rows);
        assert_eq!(
            rules(&c, &id, false),
            vec![
                t(&["tcp", "2222", "2222", "203.0.113.0/24", "admins"]),
                t(&["tcp", "80", "443", &other, ""])
            ]
        );
        let after = rule_ids(&c, &id, false);
        assert!(
            after.contains(&ssh) && after.contains(&web),
            "changed in place, by rule id: {after:?}"
        );
    }

    #[test]
    fn outbound_rules_and_an_error_on_save() {
        let c = console();
        let vpc = vpc(&c);
        let id = api(
            &c,
            "CreateSecurityGroup",
            &[("GroupName", "db"), ("GroupDescription", "d"), ("VpcId", &vpc)],
        )
        .text("groupId")
        .to_owned();
        let path = format!("/console/security-groups/{id}/outbound-rules");
        let all = rule_ids(&c, &id, true);
        assert_eq!(all.len(), 1);
        // Replace "all traffic anywhere" with HTTPS anywhere (the preset sets the port).
        post_ok(
            &c,
            &path,
            &[
                ("rule_id", ""),
                ("type", "https"),
                ("protocol", "tcp"),
                ("ports", ""),
                ("source", "0.0.0.0/0"),
                ("description", ""),
            ],
        );
        assert_eq!(rules(&c, &id, true), vec![t(&["tcp", "443", "443", "0.0.0.0/0", ""])]);

        // A bad CIDR: the API's error, the rows as typed, nothing changed.
        let page = post(
            &c,
            &path,
            &[
                ("rule_id", ""),
                ("type", "custom"),
                ("protocol", "udp"),
                ("ports", "53"),
                ("source", "10.0.0.0/33"),
                ("description", "dns"),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(
            page.body.contains("InvalidParameterValue") && page.body.contains("10.0.0.0/33"),
            "{}",
            page.body
        );
        assert!(page.body.contains(r#"value="dns""#));
        assert_eq!(rules(&c, &id, true), vec![t(&["tcp", "443", "443", "0.0.0.0/0", ""])]);

        // A port range the console cannot read: refused before any call.
        let page = post(
            &c,
            &path,
            &[
                ("rule_id", ""),
                ("type", "custom"),
                ("protocol", "tcp"),
                ("ports", "eighty"),
                ("source", "10.0.0.0/8"),
                ("description", ""),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("Invalid port range"), "{}", page.body);
        assert_eq!(rules(&c, &id, true), vec![t(&["tcp", "443", "443", "0.0.0.0/0", ""])]);

        // A prefix list as the destination, kept with the HTTPS rule.
        let list = api(
            &c,
            "CreateManagedPrefixList",
            &[
                ("PrefixListName", "offices"),
                ("AddressFamily", "IPv4"),
                ("MaxEntries", "2"),
                ("Entry.1.Cidr", "198.51.100.0/24"),
            ],
        );
        let list = list.at(&["prefixList", "prefixListId"]).to_owned();
        let https = rule_ids(&c, &id, true).remove(0);
        post_ok(
            &c,
            &path,
            &[
                ("rule_id", &https),
                ("type", "custom"),
                ("protocol", "tcp"),
                ("ports", "443"),
                ("source", "0.0.0.0/0"),
                ("description", ""),
                ("rule_id", ""),
                ("type", "custom"),
                ("protocol", "tcp"),
                ("ports", "5432"),
                ("source", &list),
                ("description", "offices"),
            ],
        );
        assert_eq!(
            rules(&c, &id, true),
            vec![
                t(&["tcp", "443", "443", "0.0.0.0/0", ""]),
                t(&["tcp", "5432", "5432", &list, "offices"])
            ]
        );
        let tab = get(&c, &format!("/console/security-groups/{id}?tab=outbound"));
        assert!(tab.body.contains(&list) && tab.body.contains("Custom TCP"), "{}", tab.body);

        // Saving no rows revokes them all.
        post_ok(&c, &path, &[]);
        assert!(rules(&c, &id, true).is_empty());
        assert_eq!(group(&c, &id).items("ipPermissionsEgress").count(), 0);
    }

    #[test]
    fn a_save_that_fails_half_way_shows_what_was_done() {
        let c = console();
        let vpc = vpc(&c);
        let id = api(
            &c,
            "CreateSecurityGroup",
            &[("GroupName", "app"), ("GroupDescription", "a"), ("VpcId", &vpc)],
        )
        .text("groupId")
        .to_owned();
        api(
            &c,
            "AuthorizeSecurityGroupIngress",
            &[
                ("GroupId", &id),
                ("IpProtocol", "tcp"),
                ("FromPort", "22"),
                ("ToPort", "22"),
                ("CidrIp", "10.0.0.0/8"),
            ],
        );
        let ssh = rule_ids(&c, &id, false).remove(0);
        let path = format!("/console/security-groups/{id}/inbound-rules");
        // A new HTTP rule (taken) and the SSH rule changed to a CIDR the API refuses.
        let mut rows = vec![
            ("rule_id", ssh.as_str()),
            ("type", "custom"),
            ("protocol", "tcp"),
            ("ports", "22"),
            ("source", "10.0.0.0/40"),
            ("description", ""),
            ("rule_id", ""),
            ("type", "http"),
            ("protocol", "tcp"),
            ("ports", ""),
            ("source", "0.0.0.0/0"),
            ("description", "web"),
        ];
        let page = post(&c, &path, &rows);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("InvalidParameterValue"), "{}", page.body);
        let http = rule_ids(&c, &id, false)
            .into_iter()
            .find(|r| *r != ssh)
            .expect("the HTTP rule was authorized");
        assert!(
            page.body.contains(&format!(r#"name="rule_id" value="{http}""#)),
            "the form knows the new rule: {}",
            page.body
        );
        // Fixed and saved again: no duplicate, the SSH rule changed.
        rows[4] = ("source", "10.1.0.0/16");
        rows[6] = ("rule_id", &http);
        post_ok(&c, &path, &rows);
        assert_eq!(
            rules(&c, &id, false),
            vec![
                t(&["tcp", "22", "22", "10.1.0.0/16", ""]),
                t(&["tcp", "80", "80", "0.0.0.0/0", "web"])
            ]
        );
        // A rule deleted and added again in one save stays (no InvalidPermission.Duplicate).
        post_ok(
            &c,
            &path,
            &[
                ("rule_id", ""),
                ("type", "custom"),
                ("protocol", "tcp"),
                ("ports", "22"),
                ("source", "10.1.0.0/16"),
                ("description", "again"),
            ],
        );
        assert_eq!(rules(&c, &id, false), vec![t(&["tcp", "22", "22", "10.1.0.0/16", "again"])]);
        assert_eq!(rule_ids(&c, &id, false), vec![ssh]);
    }

    #[test]
    fn delete_asks_then_goes_through_the_api() {
        let c = console();
        let vpc = vpc(&c);
        let id = api(
            &c,
            "CreateSecurityGroup",
            &[("GroupName", "tmp"), ("GroupDescription", "t"), ("VpcId", &vpc)],
        )
        .text("groupId")
        .to_owned();
        let detail = get(&c, &format!("/console/security-groups/{id}"));
        assert!(
            detail.body.contains("Delete security groups")
                && detail.body.contains("Edit inbound rules")
        );
        let confirm = get(&c, &format!("/console/security-groups/{id}/delete"));
        assert!(confirm.body.contains("Delete") && confirm.body.contains(&id));
        // The VPC's default group cannot go: the API says so on the page.
        let default = api(
            &c,
            "DescribeSecurityGroups",
            &[("Filter.1.Name", "group-name"), ("Filter.1.Value.1", "default")],
        );
        let default = default.items("securityGroupInfo").next().unwrap().text("groupId").to_owned();
        let refused = post(&c, &format!("/console/security-groups/{default}/delete"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("CannotDelete"), "{}", refused.body);
        let gone = post(&c, &format!("/console/security-groups/{id}/delete"), &[]);
        assert_eq!(gone.status, 303);
        assert_eq!(get(&c, &format!("/console/security-groups/{id}")).status, 404);
        assert_eq!(get(&c, "/console/security-groups/sg-nonsense").status, 404);
    }

    #[test]
    fn ports_are_read_as_typed() {
        use super::parse_ports;
        assert_eq!(parse_ports("tcp", "").unwrap(), (0, 65535));
        assert_eq!(parse_ports("tcp", "22").unwrap(), (22, 22));
        assert_eq!(parse_ports("6", "80-443").unwrap(), (80, 443));
        assert_eq!(parse_ports("-1", "22").unwrap(), (-1, -1));
        assert_eq!(parse_ports("icmp", "").unwrap(), (-1, -1));
        assert_eq!(parse_ports("icmp", "8").unwrap(), (8, -1));
        assert_eq!(parse_ports("icmp", "8/0").unwrap(), (8, 0));
        assert!(parse_ports("udp", "x-1").is_err());
        assert_eq!(super::ports_text("tcp", 80, 443), "80-443");
        assert_eq!(super::port_range("icmp", -1, -1), "All");
    }
}
