//! Network ACLs: the list, an ACL's details with its numbered rules and subnets,
//! "Create network ACL", "Edit inbound rules" / "Edit outbound rules", "Edit subnet
//! associations", "Delete network ACL".
//!
//! The rule editors show one row per numbered rule (the final `*` deny is shown, not
//! editable), with "Add new rule" and "Remove" buttons that work without JavaScript.
//! "Save changes" compares the rows with the ACL's entries by rule number: new numbers
//! are created (`CreateNetworkAclEntry`), changed ones replaced
//! (`ReplaceNetworkAclEntry`), numbers no row holds any more deleted
//! (`DeleteNetworkAclEntry`), in that order.

use maud::{Markup, html};

use super::api::{self, filter};
use super::choices;
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::rows::{self, Press, pressed};
use super::security_groups::{
    parse_ports, port_range, protocol_name, protocol_options, protocol_value, row_label, type_name,
};
use super::{Cx, El, Failure, Outcome, Request};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "inbound-rules"] => edit_rules(cx, id, false, req),
        [id, "outbound-rules"] => edit_rules(cx, id, true, req),
        [id, "subnet-associations"] => associations(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

const SECTION: &str = "network-acls";

/// The rule number AWS shows as `*`: the final deny.
const STAR: &str = "32767";

/// An ACL's entries of one direction, lowest number first (the `*` last).
fn entries(acl: &El, egress: bool) -> Vec<&El> {
    let flag = if egress { "true" } else { "false" };
    let mut entries: Vec<&El> =
        acl.items("entrySet").filter(|e| e.text("egress") == flag).collect();
    entries.sort_by_key(|e| e.text("ruleNumber").parse::<u32>().unwrap_or(u32::MAX));
    entries
}

fn subnets_of(acl: &El) -> Vec<&str> {
    acl.items("associationSet").map(|a| a.text("subnetId")).collect()
}

fn associated_with(acl: &El) -> Markup {
    let subnets = subnets_of(acl);
    match subnets.as_slice() {
        [] => html! { "–" },
        [one] => html::link("subnets", one),
        many => html! { (many.len()) " Subnets" },
    }
}

fn rules_count(n: usize, word: &str) -> String {
    format!("{n} {word} rule{}", if n == 1 { "" } else { "s" })
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let acls = match cx.api.call("DescribeNetworkAcls", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("Network ACLs", SECTION, &f),
    };
    let rows: Vec<&El> = acls.items("networkAclSet").collect();
    let columns = [
        column("Name", |a: &El| html::or_dash(a.name_tag())),
        column("Network ACL ID", |a: &El| html::link(SECTION, a.text("networkAclId"))),
        column("Associated with", associated_with),
        column("Default", |a: &El| html! { (html::yes_no(a.text("default"))) }),
        column("VPC ID", |a: &El| html::link("vpcs", a.text("vpcId"))),
        column(
            "Inbound rules count",
            |a: &El| html! { (rules_count(entries(a, false).len(), "Inbound")) },
        ),
        column(
            "Outbound rules count",
            |a: &El| html! { (rules_count(entries(a, true).len(), "Outbound")) },
        ),
    ];
    let body = html::list(
        "Network ACLs",
        Some(("network-acls/new", "Create network ACL")),
        "network ACLs",
        &columns,
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page("Network ACLs", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one(
        "DescribeNetworkAcls",
        "NetworkAclId.1",
        id,
        "networkAclSet",
        api::not_found,
    )
}

fn load(cx: &Cx<'_>, id: &str) -> Result<El, Outcome> {
    match describe(cx, id) {
        Ok(Some(acl)) => Ok(acl),
        Ok(None) => Err(Outcome::NotFound),
        Err(f) => Err(Outcome::failed(id, SECTION, &f)),
    }
}

/// An entry's (from, to) in the shared helpers' terms: its port range, or its ICMP type
/// and code, or -1/-1.
fn entry_ports(e: &El) -> (i32, i32) {
    let n = |path: &[&str]| e.at(path).parse::<i32>().unwrap_or(-1);
    if e.child("portRange").is_some() {
        (n(&["portRange", "from"]), n(&["portRange", "to"]))
    } else if e.child("icmpTypeCode").is_some() {
        (n(&["icmpTypeCode", "type"]), n(&["icmpTypeCode", "code"]))
    } else {
        (-1, -1)
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let acl = match load(cx, id) {
        Ok(acl) => acl,
        Err(outcome) => return outcome,
    };
    let tab = match req.param("tab") {
        "" => "inbound",
        t => t,
    };
    let base = href(&format!("network-acls/{id}"));
    let name = acl.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let done = match req.param("done") {
        "created" => Some(format!("You successfully created {id}")),
        "inbound-rules" => Some(format!("You successfully updated inbound rules for {id}")),
        "outbound-rules" => Some(format!("You successfully updated outbound rules for {id}")),
        "associations" => Some(format!("You successfully updated subnet associations for {id}")),
        _ => None,
    };
    let body = html! {
        (html::crumbs(SECTION, "Network ACLs", id, ""))
        @if let Some(text) = &done { (html::notice(text)) }
        (html::bar(&title, html::actions(&[
            ("Edit inbound rules", format!("{base}/inbound-rules")),
            ("Edit outbound rules", format!("{base}/outbound-rules")),
            ("Edit subnet associations", format!("{base}/subnet-associations")),
            ("Delete network ACL", format!("{base}/delete")),
        ])))
        (html::details(&[
            ("Network ACL ID", html! { (id) }),
            ("Associated with", associated_with(&acl)),
            ("Default", html! { (html::yes_no(acl.text("default"))) }),
            ("VPC ID", html::link("vpcs", acl.text("vpcId"))),
            ("Owner", html! { (acl.text("ownerId")) }),
        ]))
        (html::tabs(&base, tab, &[
            ("inbound", "Inbound rules"),
            ("outbound", "Outbound rules"),
            ("subnets", "Subnet associations"),
            ("tags", "Tags"),
        ]))
        @match tab {
            "outbound" => (rules_tab(&acl, true, &base)),
            "subnets" => (subnets_tab(cx, &acl, &base)),
            "tags" => (html::tags_table(&acl)),
            _ => (rules_tab(&acl, false, &base)),
        }
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

fn direction(egress: bool) -> (&'static str, &'static str, &'static str) {
    // (word, peer column, page)
    if egress {
        ("Outbound", "Destination", "outbound-rules")
    } else {
        ("Inbound", "Source", "inbound-rules")
    }
}

fn rules_tab(acl: &El, egress: bool, base: &str) -> Markup {
    let (word, peer, page) = direction(egress);
    let rules = entries(acl, egress);
    html! {
        div.bar {
            h2 { (word) " rules (" (rules.len()) ")" }
            a.button href=(format!("{base}/{page}")) { "Edit " (word.to_lowercase()) " rules" }
        }
        div.scroll {
            table.list aria-label=(format!("{word} rules")) {
                thead { tr {
                    th scope="col" { "Rule number" }
                    th scope="col" { "Type" }
                    th scope="col" { "Protocol" }
                    th scope="col" { "Port range" }
                    th scope="col" { (peer) }
                    th scope="col" { "Allow/Deny" }
                } }
                tbody {
                    @for e in &rules {
                        @let protocol = e.text("protocol");
                        @let (from, to) = entry_ports(e);
                        @let number = e.text("ruleNumber");
                        tr {
                            td { (if number == STAR { "*" } else { number }) }
                            td { (type_name(protocol, from, to)) }
                            td { (protocol_name(protocol)) }
                            td { (port_range(protocol, from, to)) }
                            td { (e.text("cidrBlock")) }
                            td { (if e.text("ruleAction") == "allow" { "Allow" } else { "Deny" }) }
                        }
                    }
                }
            }
        }
    }
}

fn subnets_tab(cx: &Cx<'_>, acl: &El, base: &str) -> Markup {
    let associated = subnets_of(acl);
    let subnets =
        cx.api.call("DescribeSubnets", &filter("vpc-id", acl.text("vpcId"))).unwrap_or_default();
    let rows: Vec<&El> =
        subnets.items("subnetSet").filter(|s| associated.contains(&s.text("subnetId"))).collect();
    let columns = [
        column("Name", |s: &El| html::or_dash(s.name_tag())),
        column("Subnet ID", |s: &El| html::link("subnets", s.text("subnetId"))),
        column("IPv4 CIDR", |s: &El| html! { (s.text("cidrBlock")) }),
        column("Availability Zone", |s: &El| html! { (s.text("availabilityZone")) }),
    ];
    html! {
        div.bar {
            h2 { "Subnet associations (" (rows.len()) ")" }
            a.button href=(format!("{base}/subnet-associations")) { "Edit subnet associations" }
        }
        (html::table("associated subnets", &columns, &rows, ""))
    }
}

// ---- the rule editors ------------------------------------------------------------------

/// One row of a rule editor, as shown or posted.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AclRow {
    number: String,
    protocol: String,
    ports: String,
    cidr: String,
    /// `allow` or `deny`.
    rule_action: String,
}

impl AclRow {
    fn blank(number: u32) -> Self {
        AclRow {
            number: if number == 0 { String::new() } else { number.to_string() },
            protocol: "-1".to_owned(),
            ports: String::new(),
            // No source until one is typed: an untouched new row is refused, never an
            // allow-all rule made by accident.
            cidr: String::new(),
            rule_action: "allow".to_owned(),
        }
    }

    fn of(e: &El) -> Self {
        let protocol = protocol_value(e.text("protocol"));
        let (from, to) = entry_ports(e);
        let ports = match protocol.as_str() {
            "tcp" | "udp" if from == to => from.to_string(),
            "tcp" | "udp" => format!("{from}-{to}"),
            "icmp" if from == -1 => String::new(),
            "icmp" if to == -1 => from.to_string(),
            "icmp" => format!("{from}/{to}"),
            _ => String::new(),
        };
        AclRow {
            number: e.text("ruleNumber").to_owned(),
            protocol,
            ports,
            cidr: e.text("cidrBlock").to_owned(),
            rule_action: e.text("ruleAction").to_owned(),
        }
    }

    fn posted(req: &Request) -> Vec<AclRow> {
        rows::posted(req, ["rule_number", "protocol", "ports", "cidr", "rule_action"])
            .into_iter()
            .map(|[number, protocol, ports, cidr, rule_action]| AclRow {
                number,
                protocol,
                ports,
                cidr,
                rule_action,
            })
            .collect()
    }

    fn wanted(&self) -> Result<Entry, Failure> {
        let number: u32 = self.number.trim().parse().map_err(|_| {
            Failure::new(
                "InvalidParameterValue",
                format!(
                    "Rule number '{}' is not a number: give each rule a number from 1 to 32766.",
                    self.number
                ),
            )
        })?;
        let protocol = protocol_value(&self.protocol);
        let (from, to) = parse_ports(&protocol, &self.ports)?;
        let (ports, icmp) = match protocol.as_str() {
            "tcp" | "udp" => (Some((from, to)), None),
            "icmp" => (None, Some((from, to))),
            _ => (None, None),
        };
        Ok(Entry {
            number,
            protocol,
            ports,
            icmp,
            cidr: self.cidr.trim().to_owned(),
            allow: self.rule_action != "deny",
        })
    }
}

/// An entry, compared by what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    number: u32,
    protocol: String,
    ports: Option<(i32, i32)>,
    icmp: Option<(i32, i32)>,
    cidr: String,
    allow: bool,
}

impl Entry {
    fn of(e: &El) -> Self {
        let protocol = protocol_value(e.text("protocol"));
        let n = |path: &[&str]| e.at(path).parse::<i32>().unwrap_or(-1);
        let ports =
            e.child("portRange").map(|_| (n(&["portRange", "from"]), n(&["portRange", "to"])));
        let icmp = e
            .child("icmpTypeCode")
            .map(|_| (n(&["icmpTypeCode", "type"]), n(&["icmpTypeCode", "code"])));
        let (ports, icmp) = match protocol.as_str() {
            "tcp" | "udp" => (ports, None),
            "icmp" => (None, icmp.or(Some((-1, -1)))),
            _ => (None, None),
        };
        Entry {
            number: e.text("ruleNumber").parse().unwrap_or(0),
            protocol,
            ports,
            icmp,
            cidr: e.text("cidrBlock").to_owned(),
            allow: e.text("ruleAction") == "allow",
        }
    }

    /// The parameters of Create/ReplaceNetworkAclEntry.
    fn params(&self, acl: &str, egress: bool) -> Vec<(String, String)> {
        let number = match self.protocol.as_str() {
            "tcp" => "6".to_owned(),
            "udp" => "17".to_owned(),
            "icmp" => "1".to_owned(),
            other => other.to_owned(),
        };
        let mut params = vec![
            ("NetworkAclId".to_owned(), acl.to_owned()),
            ("RuleNumber".to_owned(), self.number.to_string()),
            ("Protocol".to_owned(), number),
            ("RuleAction".to_owned(), if self.allow { "allow" } else { "deny" }.to_owned()),
            ("Egress".to_owned(), egress.to_string()),
            ("CidrBlock".to_owned(), self.cidr.clone()),
        ];
        if let Some((from, to)) = self.ports {
            params.push(("PortRange.From".to_owned(), from.to_string()));
            params.push(("PortRange.To".to_owned(), to.to_string()));
        }
        if let Some((kind, code)) = self.icmp {
            params.push(("Icmp.Type".to_owned(), kind.to_string()));
            params.push(("Icmp.Code".to_owned(), code.to_string()));
        }
        params
    }
}

fn edit_rules(cx: &Cx<'_>, id: &str, egress: bool, req: &Request) -> Outcome {
    let acl = match load(cx, id) {
        Ok(acl) => acl,
        Err(outcome) => return outcome,
    };
    let current: Vec<&El> =
        entries(&acl, egress).into_iter().filter(|e| e.text("ruleNumber") != STAR).collect();
    let (_, _, page) = direction(egress);
    let mut failure = None;
    let rows = if req.is_post() {
        let mut rows = AclRow::posted(req);
        match pressed(req) {
            Press::Add => {
                // The next hundred above the highest number, as the console suggests.
                let top = rows
                    .iter()
                    .filter_map(|r| r.number.trim().parse::<u32>().ok())
                    .max()
                    .unwrap_or(0);
                let next = (top / 100 + 1) * 100;
                rows.push(AclRow::blank(if next <= 32766 { next } else { 0 }));
            }
            Press::Remove(i) => {
                if i < rows.len() {
                    rows.remove(i);
                }
            }
            Press::Save => match save_entries(cx, id, egress, &current, &rows) {
                Ok(()) => {
                    return Outcome::Redirect(href(&format!(
                        "network-acls/{id}?tab={}&done={page}",
                        if egress { "outbound" } else { "inbound" }
                    )));
                }
                Err(f) => failure = Some(f),
            },
        }
        rows
    } else {
        current.iter().map(|e| AclRow::of(e)).collect()
    };
    let (word, _, _) = direction(egress);
    let title = format!("Edit {} rules", word.to_lowercase());
    let body = rules_form(id, egress, &rows, failure.as_ref());
    Outcome::form(&title, SECTION, body, failure.is_some())
}

fn save_entries(
    cx: &Cx<'_>,
    id: &str,
    egress: bool,
    current: &[&El],
    rows: &[AclRow],
) -> Result<(), Failure> {
    let wanted: Vec<Entry> = rows.iter().map(AclRow::wanted).collect::<Result<_, _>>()?;
    for (i, w) in wanted.iter().enumerate() {
        if wanted[..i].iter().any(|o| o.number == w.number) {
            return Err(Failure::new(
                "NetworkAclEntryAlreadyExists",
                format!(
                    "Rule number {} is given twice: each rule needs a number of its own.",
                    w.number
                ),
            ));
        }
    }
    let now: Vec<Entry> = current.iter().map(|e| Entry::of(e)).collect();
    for w in &wanted {
        if !now.iter().any(|e| e.number == w.number) {
            cx.api.call("CreateNetworkAclEntry", &w.params(id, egress))?;
        }
    }
    for w in &wanted {
        if now.iter().any(|e| e.number == w.number && e != w) {
            cx.api.call("ReplaceNetworkAclEntry", &w.params(id, egress))?;
        }
    }
    for e in &now {
        if !wanted.iter().any(|w| w.number == e.number) {
            let params = [
                ("NetworkAclId".to_owned(), id.to_owned()),
                ("RuleNumber".to_owned(), e.number.to_string()),
                ("Egress".to_owned(), egress.to_string()),
            ];
            cx.api.call("DeleteNetworkAclEntry", &params)?;
        }
    }
    Ok(())
}

fn rules_form(id: &str, egress: bool, rows: &[AclRow], failure: Option<&Failure>) -> Markup {
    let base = href(&format!("network-acls/{id}"));
    let (word, peer, page) = direction(egress);
    let title = format!("Edit {} rules", word.to_lowercase());
    html! {
        (html::crumbs(SECTION, "Network ACLs", id, &title))
        h1 { (title) }
        p { "Rules are evaluated lowest number first; the first that matches decides. Traffic no rule matches is denied (the " strong { "*" } " rule)." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/{page}")) {
            // The form's default button (Enter in a field): save, not "Add new rule" or "Remove".
            button type="submit" name="save" value="1" hidden tabindex="-1" { "Save changes" }
            fieldset {
                legend { (word) " rules" }
                p.hint { "Port range: a port (22), a range (1024-65535), or blank for all; for ICMP a type (8) or type/code (8/0)." }
                div.scroll {
                    table.list #rules aria-label=(format!("{word} rules")) {
                        thead { tr {
                            th scope="col" { "Rule number" }
                            th scope="col" { "Protocol" }
                            th scope="col" { "Port range" }
                            th scope="col" { (peer) }
                            th scope="col" { "Allow/Deny" }
                            th scope="col" { span.skip { "Remove" } }
                        } }
                        tbody {
                            @for (i, row) in rows.iter().enumerate() { (acl_row(Some(i), row, peer)) }
                        }
                        tfoot {
                            tr { td { "*" } td { "All traffic" } td { "All" } td { "0.0.0.0/0" } td { "Deny" } td {} }
                        }
                        template { (acl_row(None, &AclRow::blank(0), peer)) }
                    }
                }
                p { button type="submit" name="add" value="1" data-add-row="rules" { "Add new rule" } }
            }
            (html::form_actions(&base, "Save changes"))
        }
    }
}

fn acl_row(index: Option<usize>, row: &AclRow, peer: &str) -> Markup {
    let id = |field: &str| index.map(|i| format!("{field}-{i}"));
    let label = |field: &str, text: &str| match index {
        Some(i) => row_label(&format!("{field}-{i}"), &format!("{text}, row {}", i + 1)),
        None => html! {},
    };
    let aria = |text: &str| index.is_none().then(|| format!("{text}, new rule"));
    html! {
        tr {
            td {
                (label("rule_number", "Rule number"))
                input type="text" inputmode="numeric" id=[id("rule_number")] name="rule_number" value=(row.number) aria-label=[aria("Rule number")];
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
                (label("cidr", peer))
                input type="text" id=[id("cidr")] name="cidr" value=(row.cidr) aria-label=[aria(peer)];
            }
            td {
                (label("rule_action", "Allow/Deny"))
                select id=[id("rule_action")] name="rule_action" aria-label=[aria("Allow/Deny")] {
                    option value="allow" selected[row.rule_action != "deny"] { "Allow" }
                    option value="deny" selected[row.rule_action == "deny"] { "Deny" }
                }
            }
            td {
                @match index {
                    Some(i) => {
                        button.danger type="submit" name="remove" value=(i) data-remove-row aria-label=(format!("Remove row {}", i + 1)) { "Remove" }
                    }
                    None => {
                        button.danger type="button" data-remove-row aria-label="Remove this rule" { "Remove" }
                    }
                }
            }
        }
    }
}

// ---- subnet associations ---------------------------------------------------------------

fn associations(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let acl = match load(cx, id) {
        Ok(acl) => acl,
        Err(outcome) => return outcome,
    };
    let vpc = acl.text("vpcId");
    let base = href(&format!("network-acls/{id}"));
    let (acls, subnets) = match (
        cx.api.call("DescribeNetworkAcls", &filter("vpc-id", vpc)),
        cx.api.call("DescribeSubnets", &filter("vpc-id", vpc)),
    ) {
        (Ok(a), Ok(s)) => (a, s),
        (Err(f), _) | (_, Err(f)) => return Outcome::failed(id, SECTION, &f),
    };
    // Each subnet's ACL and association.
    let now = |subnet: &str| -> (String, String) {
        acls.items("networkAclSet")
            .find_map(|a| {
                a.items("associationSet").find(|x| x.text("subnetId") == subnet).map(|x| {
                    (
                        a.text("networkAclId").to_owned(),
                        x.text("networkAclAssociationId").to_owned(),
                    )
                })
            })
            .unwrap_or_default()
    };
    let default = acls
        .items("networkAclSet")
        .find(|a| a.text("default") == "true")
        .map_or("", |a| a.text("networkAclId"));
    let subnet_rows: Vec<&El> = subnets.items("subnetSet").collect();
    let mut failure = None;
    let chosen: Vec<String> = if req.is_post() {
        req.fields("subnet").map(str::to_owned).collect()
    } else {
        subnet_rows
            .iter()
            .filter(|s| now(s.text("subnetId")).0 == id)
            .map(|s| s.text("subnetId").to_owned())
            .collect()
    };
    if req.is_post() {
        // The moves: (association, to ACL).
        let mut moves = Vec::new();
        for s in &subnet_rows {
            let subnet = s.text("subnetId");
            let (acl_now, association) = now(subnet);
            let wanted = chosen.iter().any(|c| c == subnet);
            if wanted && acl_now != id {
                moves.push((association, id.to_owned()));
            } else if !wanted && acl_now == id {
                if id == default {
                    failure = Some(Failure::new(
                        "InvalidParameterValue",
                        format!(
                            "{subnet} uses the VPC's default network ACL: a subnet always has a network ACL, so \
                             associate it with another ACL to take it from the default one."
                        ),
                    ));
                    break;
                }
                moves.push((association, default.to_owned()));
            }
        }
        if failure.is_none() {
            for (association, to) in moves {
                let params =
                    [("AssociationId".to_owned(), association), ("NetworkAclId".to_owned(), to)];
                if let Err(f) = cx.api.call("ReplaceNetworkAclAssociation", &params) {
                    failure = Some(f);
                    break;
                }
            }
        }
        if failure.is_none() {
            return Outcome::Redirect(format!("{base}?tab=subnets&done=associations"));
        }
    }
    let body = html! {
        (html::crumbs(SECTION, "Network ACLs", id, "Edit subnet associations"))
        h1 { "Edit subnet associations" }
        p { "Change which subnets are associated with this network ACL. A subnet taken from this ACL goes back to the VPC's default network ACL." }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/subnet-associations")) {
            fieldset {
                legend { "Available subnets" }
                @if subnet_rows.is_empty() {
                    p.empty { "This VPC has no subnets yet." }
                } @else {
                    table.list aria-label="Available subnets" {
                        thead { tr {
                            th scope="col" { "Associate" }
                            th scope="col" { "Name" }
                            th scope="col" { "Subnet ID" }
                            th scope="col" { "IPv4 CIDR" }
                            th scope="col" { "Associated with" }
                        } }
                        tbody {
                            @for s in &subnet_rows {
                                @let subnet = s.text("subnetId");
                                @let box_id = format!("subnet-{subnet}");
                                tr {
                                    td {
                                        input type="checkbox" id=(box_id) name="subnet" value=(subnet) checked[chosen.iter().any(|c| c == subnet)];
                                        label.inline for=(box_id) { (subnet) }
                                    }
                                    td { (html::or_dash(s.name_tag())) }
                                    td { (html::link("subnets", subnet)) }
                                    td { (s.text("cidrBlock")) }
                                    td { (html::link(SECTION, &now(subnet).0)) }
                                }
                            }
                        }
                    }
                }
            }
            (html::form_actions(&base, "Save changes"))
        }
    };
    Outcome::form("Edit subnet associations", SECTION, body, failure.is_some())
}

// ---- create and delete -----------------------------------------------------------------

fn create_form(cx: &Cx<'_>, req: &Request, failure: Option<&Failure>) -> Markup {
    let options = choices::vpcs(cx).unwrap_or_default();
    html! {
        (html::crumbs(SECTION, "Network ACLs", "", "Create network ACL"))
        h1 { "Create network ACL" }
        p { "A network ACL is an optional layer of security that acts as a firewall for controlling traffic in and out of a subnet. A new one denies everything until you add rules." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("network-acls/new")) {
            fieldset {
                legend { "Network ACL settings" }
                (html::text_field("name", "Name - optional", req.value("name"), "Creates a tag with a key of 'Name' and the value you specify."))
                @if options.is_empty() {
                    p.empty { "No VPCs yet: " a href=(href("vpcs/new")) { "create a VPC" } " first." }
                } @else {
                    (html::select("vpc", "VPC", &options, req.value("vpc")))
                }
            }
            (html::form_actions(&href(SECTION), "Create network ACL"))
        }
    }
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    if !req.is_post() {
        return Outcome::Page(html::page(
            "Create network ACL",
            SECTION,
            create_form(cx, req, None),
        ));
    }
    let mut params = vec![("VpcId".to_owned(), req.field("vpc").to_owned())];
    if !req.field("name").is_empty() {
        params.extend(super::vpcs::name_tag("network-acl", req.field("name")));
    }
    match cx.api.call("CreateNetworkAcl", &params) {
        Ok(doc) => Outcome::Redirect(href(&format!(
            "network-acls/{}?done=created",
            doc.at(&["networkAcl", "networkAclId"])
        ))),
        Err(f) => Outcome::Status(
            400,
            html::page("Create network ACL", SECTION, create_form(cx, req, Some(&f))),
        ),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    if let Err(outcome) = load(cx, id) {
        return outcome;
    }
    Confirm {
        section: SECTION,
        label: "Network ACLs",
        id,
        title: "Delete network ACL",
        question: html! {
            p { "Delete the network ACL " strong { (id) } "?" }
            p.hint { "A VPC's default network ACL cannot be deleted, nor one that subnets are associated with (" code { "DependencyViolation" } ")." }
        },
        verb: "delete",
        action: "DeleteNetworkAcl",
        id_param: "NetworkAclId",
        button: "Delete",
        done: href(SECTION),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, get, post, post_ok};

    /// A VPC with two subnets: (vpc, [subnets]).
    fn lab(c: &Console) -> (String, Vec<String>) {
        let vpc =
            api(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
        let subnets = ["10.0.1.0/24", "10.0.2.0/24"]
            .iter()
            .map(|cidr| {
                api(c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", cidr)])
                    .at(&["subnet", "subnetId"])
                    .to_owned()
            })
            .collect();
        (vpc, subnets)
    }

    fn acl(c: &Console, id: &str) -> crate::console::El {
        api(c, "DescribeNetworkAcls", &[("NetworkAclId.1", id)])
            .items("networkAclSet")
            .next()
            .unwrap()
            .clone()
    }

    /// An ACL's user entries of one direction: (number, protocol, ports or icmp, cidr, action).
    fn entries(
        c: &Console,
        id: &str,
        egress: bool,
    ) -> Vec<(String, String, String, String, String)> {
        let a = acl(c, id);
        super::entries(&a, egress)
            .into_iter()
            .filter(|e| e.text("ruleNumber") != super::STAR)
            .map(|e| {
                let (from, to) = super::entry_ports(e);
                (
                    e.text("ruleNumber").to_owned(),
                    e.text("protocol").to_owned(),
                    format!("{from}:{to}"),
                    e.text("cidrBlock").to_owned(),
                    e.text("ruleAction").to_owned(),
                )
            })
            .collect()
    }

    fn e(v: [&str; 5]) -> (String, String, String, String, String) {
        (v[0].into(), v[1].into(), v[2].into(), v[3].into(), v[4].into())
    }

    #[test]
    fn an_acl_made_and_edited_in_the_console_is_the_apis() {
        let c = console();
        let (vpc, _) = lab(&c);
        let page = post_ok(&c, "/console/network-acls/new", &[("name", "strict"), ("vpc", &vpc)]);
        assert!(page.body.contains("You successfully created acl-"), "{}", page.body);
        let acls = api(
            &c,
            "DescribeNetworkAcls",
            &[("Filter.1.Name", "default"), ("Filter.1.Value.1", "false")],
        );
        let made = acls.items("networkAclSet").next().expect("the new ACL");
        assert_eq!(made.name_tag(), "strict");
        assert_eq!(made.text("vpcId"), vpc);
        let id = made.text("networkAclId").to_owned();
        // The new ACL shows its `*` deny on both tabs.
        assert!(page.body.contains("<td>*</td>") && page.body.contains("Deny"), "{}", page.body);

        let path = format!("/console/network-acls/{id}/inbound-rules");
        // No JavaScript: "Add new rule" posts the rows back, one more, numbered on.
        let one = post(&c, &path, &[("add", "1")]);
        assert!(
            one.body.contains(r#"id="rule_number-0""#) && one.body.contains(r#"value="100""#),
            "{}",
            one.body
        );
        let two = post(
            &c,
            &path,
            &[
                ("rule_number", "100"),
                ("protocol", "-1"),
                ("ports", ""),
                ("cidr", "0.0.0.0/0"),
                ("rule_action", "allow"),
                ("add", "1"),
            ],
        );
        assert!(
            two.body.contains(r#"id="rule_number-1""#) && two.body.contains(r#"value="200""#),
            "{}",
            two.body
        );

        let page = post_ok(
            &c,
            &path,
            &[
                ("rule_number", "100"),
                ("protocol", "tcp"),
                ("ports", "22"),
                ("cidr", "203.0.113.0/24"),
                ("rule_action", "allow"),
                ("rule_number", "110"),
                ("protocol", "tcp"),
                ("ports", "1024-65535"),
                ("cidr", "0.0.0.0/0"),
                ("rule_action", "allow"),
                ("rule_number", "120"),
                ("protocol", "icmp"),
                ("ports", ""),
                ("cidr", "10.0.0.0/16"),
                ("rule_action", "deny"),
            ],
        );
        assert!(page.body.contains("You successfully updated inbound rules"), "{}", page.body);
        assert!(page.body.contains("SSH") && page.body.contains("1024 - 65535"), "{}", page.body);
        assert_eq!(
            entries(&c, &id, false),
            vec![
                e(["100", "6", "22:22", "203.0.113.0/24", "allow"]),
                e(["110", "6", "1024:65535", "0.0.0.0/0", "allow"]),
                e(["120", "1", "-1:-1", "10.0.0.0/16", "deny"]),
            ]
        );
        assert!(entries(&c, &id, true).is_empty(), "outbound untouched");

        // The form shows them as saved; change 100, drop 110 (by its "Remove"), keep 120.
        let form = get(&c, &path);
        assert!(
            form.body.contains(r#"value="1024-65535""#)
                && form.body.contains(r#"<option value="deny" selected>"#),
            "{}",
            form.body
        );
        let rows = [
            ("rule_number", "100"),
            ("protocol", "tcp"),
            ("ports", "443"),
            ("cidr", "0.0.0.0/0"),
            ("rule_action", "allow"),
            ("rule_number", "110"),
            ("protocol", "tcp"),
            ("ports", "1024-65535"),
            ("cidr", "0.0.0.0/0"),
            ("rule_action", "allow"),
            ("rule_number", "120"),
            ("protocol", "icmp"),
            ("ports", ""),
            ("cidr", "10.0.0.0/16"),
            ("rule_action", "deny"),
        ];
        let mut removing = rows.to_vec();
        removing.push(("remove", "1"));
        let shown = post(&c, &path, &removing);
        assert_eq!(shown.status, 200);
        assert!(!shown.body.contains(r#"value="110""#) && shown.body.contains(r#"value="120""#));
        let mut kept = rows[..5].to_vec();
        kept.extend_from_slice(&rows[10..]);
        post_ok(&c, &path, &kept);
        assert_eq!(
            entries(&c, &id, false),
            vec![
                e(["100", "6", "443:443", "0.0.0.0/0", "allow"]),
                e(["120", "1", "-1:-1", "10.0.0.0/16", "deny"])
            ]
        );

        // Outbound, on its own page.
        post_ok(
            &c,
            &format!("/console/network-acls/{id}/outbound-rules"),
            &[
                ("rule_number", "100"),
                ("protocol", "-1"),
                ("ports", ""),
                ("cidr", "0.0.0.0/0"),
                ("rule_action", "allow"),
            ],
        );
        assert_eq!(entries(&c, &id, true), vec![e(["100", "-1", "-1:-1", "0.0.0.0/0", "allow"])]);
        let list = get(&c, "/console/network-acls");
        assert!(
            list.body.contains(&id)
                && list.body.contains("3 Inbound rules")
                && list.body.contains("2 Outbound rules"),
            "{}",
            list.body
        );
    }

    #[test]
    fn the_apis_errors_are_shown_with_the_rows_as_typed() {
        let c = console();
        let (vpc, _) = lab(&c);
        let id = api(&c, "CreateNetworkAcl", &[("VpcId", &vpc)])
            .at(&["networkAcl", "networkAclId"])
            .to_owned();
        let path = format!("/console/network-acls/{id}/inbound-rules");
        let page = post(
            &c,
            &path,
            &[
                ("rule_number", "40000"),
                ("protocol", "udp"),
                ("ports", "53"),
                ("cidr", "10.0.0.0/8"),
                ("rule_action", "allow"),
            ],
        );
        assert_eq!(page.status, 400);
        assert!(
            page.body.contains("<code>InvalidParameterValue</code>") && page.body.contains("32766"),
            "{}",
            page.body
        );
        assert!(page.body.contains(r#"value="40000""#), "the rows as typed");
        assert!(entries(&c, &id, false).is_empty());
        let twice = post(
            &c,
            &path,
            &[
                ("rule_number", "10"),
                ("protocol", "-1"),
                ("ports", ""),
                ("cidr", "0.0.0.0/0"),
                ("rule_action", "allow"),
                ("rule_number", "10"),
                ("protocol", "-1"),
                ("ports", ""),
                ("cidr", "0.0.0.0/0"),
                ("rule_action", "deny"),
            ],
        );
        assert_eq!(twice.status, 400);
        assert!(twice.body.contains("given twice"));
        assert!(entries(&c, &id, false).is_empty());
        // Creating without a VPC: the API's error on the create form.
        let page = post(&c, "/console/network-acls/new", &[("name", "x"), ("vpc", "vpc-00000000")]);
        assert_eq!(page.status, 400);
        assert!(page.body.contains("InvalidVpcID.NotFound"), "{}", page.body);
        assert!(page.body.contains(r#"value="x""#));
    }

    #[test]
    fn subnets_move_between_acls_and_delete_asks_first() {
        let c = console();
        let (vpc, subnets) = lab(&c);
        let id = api(&c, "CreateNetworkAcl", &[("VpcId", &vpc)])
            .at(&["networkAcl", "networkAclId"])
            .to_owned();
        let default = api(
            &c,
            "DescribeNetworkAcls",
            &[("Filter.1.Name", "default"), ("Filter.1.Value.1", "true")],
        )
        .items("networkAclSet")
        .next()
        .unwrap()
        .text("networkAclId")
        .to_owned();
        let path = format!("/console/network-acls/{id}/subnet-associations");
        let form = get(&c, &path);
        assert!(
            form.body.contains(&format!(r#"id="subnet-{}""#, subnets[0]))
                && form.body.contains(&default),
            "{}",
            form.body
        );
        let page = post_ok(&c, &path, &[("subnet", &subnets[0]), ("subnet", &subnets[1])]);
        assert!(
            page.body.contains("You successfully updated subnet associations"),
            "{}",
            page.body
        );
        assert_eq!(super::subnets_of(&acl(&c, &id)).len(), 2);
        // An ACL with subnets cannot be deleted: the API's error on the confirmation page.
        let busy = post(&c, &format!("/console/network-acls/{id}/delete"), &[]);
        assert_eq!(busy.status, 400);
        assert!(busy.body.contains("DependencyViolation"), "{}", busy.body);
        // Back to the default (unchecked here), then delete.
        post_ok(&c, &path, &[("subnet", &subnets[1])]);
        assert_eq!(super::subnets_of(&acl(&c, &id)), vec![subnets[1].as_str()]);
        assert!(super::subnets_of(&acl(&c, &default)).contains(&subnets[0].as_str()));
        // The default ACL cannot let a subnet go: it has nowhere else to be.
        let refused =
            post(&c, &format!("/console/network-acls/{default}/subnet-associations"), &[]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("default network ACL"), "{}", refused.body);
        assert!(
            super::subnets_of(&acl(&c, &default)).contains(&subnets[0].as_str()),
            "nothing moved"
        );
        post_ok(&c, &path, &[]);
        let confirm = get(&c, &format!("/console/network-acls/{id}/delete"));
        assert!(confirm.body.contains("Delete network ACL") && confirm.body.contains(&id));
        let gone = post(&c, &format!("/console/network-acls/{id}/delete"), &[]);
        assert_eq!(gone.status, 303);
        assert_eq!(get(&c, &format!("/console/network-acls/{id}")).status, 404);
    }
}
