//! Transit gateway attachments: the list (VPC and peering attachments), an attachment's
//! details, "Create transit gateway attachment" (a VPC's), "Modify transit gateway
//! attachment" (its subnets and options), "Delete transit gateway attachment", and a
//! peering attachment's "Accept" and "Reject" while it waits for them.
//!
//! A VPC attachment takes one subnet per Availability Zone: the forms show a row per
//! zone of the VPC, a checkbox and the subnet in that zone. The VPC comes first: as
//! "Create endpoint" does, "Continue" sends the form as a GET to the same page, which
//! comes back with the VPC's zones and everything kept.

use maud::{Markup, html};

use super::api::{self, filter};
use super::choices::{self, attached_from, attaches, option};
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::transit_gateways::{on_off, toggle};
use super::vpcs::name_tag_at;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "transit-gateway-attachments";
const LABEL: &str = "Transit gateway attachments";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "modify"] => modify(cx, id, req),
        [id, "accept"] => answer(cx, id, req, true),
        [id, "reject"] => answer(cx, id, req, false),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// What an attachment of type `kind` attaches, linked to its page: a VPC, or the
/// transit gateway at a peering attachment's other end.
pub(super) fn resource_link(kind: &str, resource: &str) -> Markup {
    match kind {
        "vpc" => html::link("vpcs", resource),
        "peering" => html::link("transit-gateways", resource),
        _ => html::or_dash(resource),
    }
}

/// The attachments' columns; `tgw`: as that transit gateway sees them (a peering
/// attachment attaches the gateway at its other end), else as their requesters do.
fn columns(tgw: Option<&str>) -> [html::Column<'_>; 8] {
    [
        column("Name", |a: &El| html::or_dash(a.name_tag())),
        column("Transit gateway attachment ID", |a: &El| {
            html::link(SECTION, a.text("transitGatewayAttachmentId"))
        }),
        column("Transit gateway ID", |a: &El| {
            html::link("transit-gateways", a.text("transitGatewayId"))
        }),
        column("Resource type", |a: &El| html! { (a.text("resourceType")) }),
        column("Resource ID", move |a: &El| {
            let resource = tgw.map_or(a.text("resourceId"), |t| attached_from(a, t));
            resource_link(a.text("resourceType"), resource)
        }),
        column("State", |a: &El| {
            let base = href(&format!("{SECTION}/{}", a.text("transitGatewayAttachmentId")));
            html! {
                (html::state(a.text("state")))
                @if a.text("state") == "pendingAcceptance" {
                    " " a href=(format!("{base}/accept")) { "Accept" }
                    " · " a href=(format!("{base}/reject")) { "Reject" }
                }
            }
        }),
        column("Association route table ID", |a: &El| {
            html::link(
                "transit-gateway-route-tables",
                a.at(&["association", "transitGatewayRouteTableId"]),
            )
        }),
        column("Association state", |a: &El| html::or_dash(a.at(&["association", "state"]))),
    ]
}

/// Transit gateway `tgw`'s attachments, for its page.
pub(super) fn of_gateway(cx: &Cx<'_>, tgw: &str) -> Markup {
    let doc = match cx.api.call("DescribeTransitGatewayAttachments", &[]) {
        Ok(doc) => doc,
        Err(f) => return html::error(&f),
    };
    let rows: Vec<&El> =
        doc.items("transitGatewayAttachments").filter(|a| attaches(a, tgw)).collect();
    html! {
        div.bar {
            h2 { "Attachments (" (rows.len()) ")" }
            a.button href=(href(&format!("{SECTION}/new?transit_gateway={tgw}"))) { "Create transit gateway attachment" }
        }
        (html::table("attachments", &columns(Some(tgw)), &rows, ""))
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let doc = match cx.api.call("DescribeTransitGatewayAttachments", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed(LABEL, SECTION, &f),
    };
    let rows: Vec<&El> = doc.items("transitGatewayAttachments").collect();
    let body = html::list(
        LABEL,
        Some(("transit-gateway-attachments/new", "Create transit gateway attachment")),
        "transit gateway attachments",
        &columns(None),
        &rows,
        req.param("search"),
    );
    Outcome::Page(html::page(LABEL, SECTION, body))
}

/// The attachment `id` as DescribeTransitGatewayAttachments lists it, and the reply of
/// the Describe call of its kind (VPC or peering) about it.
struct Attachment {
    listed: El,
    /// The VPC or peering attachment's own item.
    own: El,
}

impl Attachment {
    fn is_vpc(&self) -> bool {
        self.listed.text("resourceType") == "vpc"
    }

    /// A VPC attachment's subnets.
    fn subnets(&self) -> Vec<&str> {
        self.own.items("subnetIds").map(|s| s.value.as_str()).collect()
    }

    fn option(&self, name: &str) -> &str {
        self.own.at(&["options", name])
    }
}

fn load(cx: &Cx<'_>, id: &str, title: &str) -> Result<Attachment, Outcome> {
    let describe = |action: &str, set: &str| {
        cx.api.describe_one(action, "TransitGatewayAttachmentIds.1", id, set, api::not_found)
    };
    let listed = match describe("DescribeTransitGatewayAttachments", "transitGatewayAttachments") {
        Ok(Some(a)) => a,
        Ok(None) => return Err(Outcome::NotFound),
        Err(f) => return Err(Outcome::failed(title, SECTION, &f)),
    };
    let own = match listed.text("resourceType") {
        "vpc" => describe("DescribeTransitGatewayVpcAttachments", "transitGatewayVpcAttachments"),
        "peering" => {
            describe("DescribeTransitGatewayPeeringAttachments", "transitGatewayPeeringAttachments")
        }
        _ => Ok(None),
    };
    match own {
        Ok(own) => Ok(Attachment { listed, own: own.unwrap_or_default() }),
        Err(f) => Err(Outcome::failed(title, SECTION, &f)),
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let a = match load(cx, id, id) {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let name = a.listed.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let state = a.listed.text("state");
    let mut actions = Vec::new();
    if a.is_vpc() {
        actions.push(("Modify transit gateway attachment", format!("{base}/modify")));
    }
    if state == "pendingAcceptance" {
        actions.push(("Accept transit gateway attachment", format!("{base}/accept")));
        actions.push(("Reject transit gateway attachment", format!("{base}/reject")));
    }
    actions.push(("Delete transit gateway attachment", format!("{base}/delete")));
    let table = a.listed.at(&["association", "transitGatewayRouteTableId"]);
    let mut details = vec![
        ("Transit gateway attachment ID", html! { (id) }),
        ("Transit gateway ID", html::link("transit-gateways", a.listed.text("transitGatewayId"))),
        ("State", html::state(state)),
        ("Resource type", html! { (a.listed.text("resourceType")) }),
        ("Resource owner ID", html! { (a.listed.text("resourceOwnerId")) }),
        ("Association route table ID", html::link("transit-gateway-route-tables", table)),
        ("Association state", html::or_dash(a.listed.at(&["association", "state"]))),
        ("Creation time", html! { (a.listed.text("creationTime")) }),
    ];
    if a.is_vpc() {
        details.extend([
            ("VPC ID", html::link("vpcs", a.listed.text("resourceId"))),
            ("Subnet IDs", html::links("subnets", &a.subnets())),
            ("DNS support", html! { (on_off(a.option("dnsSupport"))) }),
            (
                "Security Group Referencing support",
                html! { (on_off(a.option("securityGroupReferencingSupport"))) },
            ),
            ("IPv6 support", html! { (on_off(a.option("ipv6Support"))) }),
            ("Appliance Mode support", html! { (on_off(a.option("applianceModeSupport"))) }),
        ]);
    } else {
        let side = |info: &str, what: &str| a.own.at(&[info, what]).to_owned();
        details.extend([
            (
                "Requester transit gateway ID",
                html::link("transit-gateways", &side("requesterTgwInfo", "transitGatewayId")),
            ),
            (
                "Accepter transit gateway ID",
                html::link("transit-gateways", &side("accepterTgwInfo", "transitGatewayId")),
            ),
            ("Accepter owner ID", html::or_dash(&side("accepterTgwInfo", "ownerId"))),
            ("Accepter Region", html::or_dash(&side("accepterTgwInfo", "region"))),
            ("Status message", html::or_dash(a.own.at(&["status", "message"]))),
        ]);
    }
    let body = html! {
        (html::crumbs(SECTION, LABEL, id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!("Transit gateway attachment {title} was created successfully."))),
            "modified" => (html::notice(&format!("Transit gateway attachment {id} was modified successfully."))),
            "accepted" => (html::notice(&format!("Transit gateway attachment {id} was accepted."))),
            "rejected" => (html::notice(&format!("Transit gateway attachment {id} was rejected."))),
            "deleted" => (html::notice(&format!("Transit gateway attachment {id} is being deleted."))),
            _ => {}
        }
        (html::bar(&title, html::actions(&actions)))
        (html::details(&details))
        (html::tabs(&base, "tags", &[("tags", "Tags")]))
        (html::tags_table(&a.listed))
    };
    Outcome::Page(html::page(&title, SECTION, body))
}

/// A VPC's subnets by Availability Zone, zones in order: each zone's subnets as options.
type Zones = Vec<(String, Vec<(String, String)>)>;

fn zones(cx: &Cx<'_>, vpc: &str) -> Result<Zones, Failure> {
    let doc = cx.api.call("DescribeSubnets", &filter("vpc-id", vpc))?;
    let mut zones: Zones = Vec::new();
    for s in doc.items("subnetSet") {
        let (id, named) = option(s.text("subnetId"), s.name_tag());
        let entry = (id, format!("{named} | {}", s.text("cidrBlock")));
        let zone = s.text("availabilityZone");
        match zones.iter_mut().find(|(z, _)| z == zone) {
            Some((_, subnets)) => subnets.push(entry),
            None => zones.push((zone.to_owned(), vec![entry])),
        }
    }
    zones.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(zones)
}

/// Whether the form was shown for VPC `vpc` already (its second step posted, or sent by
/// "Continue"): then its checkboxes say what the user left, not the defaults.
fn filled(req: &Request, vpc: &str) -> bool {
    req.value("step") == vpc
}

/// A checkbox of the VPC attachment's options: `default` until the form was filled.
fn ticked(req: &Request, vpc: &str, name: &str, default: bool) -> bool {
    if filled(req, vpc) { req.value(name) == "on" } else { default }
}

/// "Subnet IDs": a row per zone of the VPC, its checkbox and the subnet in it. Shown the
/// first time, the zones of `current` are ticked with their subnets (every zone, with
/// its first subnet, without `current`); after that, as the user left them.
fn subnet_table(req: &Request, vpc: &str, zones: &Zones, current: Option<&[&str]>) -> Markup {
    let posted: Vec<&str> = req.values("zone").collect();
    html! {
        input type="hidden" name="step" value=(vpc);
        @if zones.is_empty() {
            p.empty { "No subnets in this VPC." }
        } @else {
            table.list aria-label="Subnet IDs" {
                thead { tr { th scope="col" { "Availability Zone" } th scope="col" { "Subnet ID" } } }
                tbody {
                    @for (zone, subnets) in zones {
                        @let field = format!("subnet_{zone}");
                        @let first = subnets.first().map_or("", |(id, _)| id.as_str());
                        @let had = current.and_then(|c| subnets.iter().find(|(id, _)| c.contains(&id.as_str())));
                        @let (on, chosen) = if filled(req, vpc) {
                            (posted.contains(&zone.as_str()), req.value(&field))
                        } else if current.is_some() {
                            (had.is_some(), had.map_or(first, |(id, _)| id.as_str()))
                        } else {
                            (true, first)
                        };
                        @let check = format!("zone_{zone}");
                        tr {
                            td {
                                input type="checkbox" id=(check) name="zone" value=(zone) checked[on];
                                label.inline for=(check) { (zone) }
                            }
                            td { (html::select(&field, &format!("Subnet in {zone}"), subnets, chosen)) }
                        }
                    }
                }
            }
            p.hint { "One subnet per Availability Zone: the transit gateway reaches the VPC's instances in a zone through its subnet there." }
        }
    }
}

/// The subnets a posted form chose: that of each zone ticked.
fn chosen_subnets(req: &Request) -> Vec<&str> {
    req.fields("zone")
        .map(|z| req.field(&format!("subnet_{z}")))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The VPC attachment's options the forms offer, as `Options.*` parameters.
fn option_params(req: &Request) -> Vec<(String, String)> {
    [("DnsSupport", "dns_support"), ("ApplianceModeSupport", "appliance_mode")]
        .iter()
        .map(|(option, field)| (format!("Options.{option}"), toggle(req, field).to_owned()))
        .collect()
}

/// The VPC attachment's options: DNS support on, appliance mode off, until the form was
/// filled (`current`: the attachment's).
fn options_fields(req: &Request, vpc: &str, current: Option<&Attachment>) -> Markup {
    let default = |name: &str, new: bool| current.map_or(new, |a| a.option(name) == "enable");
    html! {
        (html::checkbox("dns_support", "DNS support", ticked(req, vpc, "dns_support", default("dnsSupport", true))))
        (html::checkbox("appliance_mode", "Appliance Mode support", ticked(req, vpc, "appliance_mode", default("applianceModeSupport", false))))
        p.hint { "Appliance mode keeps a flow's two directions in one Availability Zone (for a firewall in an inspection VPC)." }
    }
}

fn create_form(cx: &Cx<'_>, req: &Request, failure: Option<&Failure>) -> Result<Markup, Failure> {
    let gateways = choices::transit_gateways(cx)?;
    let vpcs = choices::vpcs_with_cidr(cx)?;
    let vpc = req.value("vpc");
    let second = !vpc.is_empty() && vpcs.iter().any(|(id, _)| id == vpc);
    let zones = if second { zones(cx, vpc)? } else { Vec::new() };
    let action = href("transit-gateway-attachments/new");
    Ok(html! {
        (html::crumbs(SECTION, LABEL, "", "Create transit gateway attachment"))
        h1 { "Create transit gateway attachment" }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(action) {
            @if second {
                // Enter in a field creates the attachment ("Continue" comes first).
                button.skip type="submit" tabindex="-1" aria-hidden="true" {}
            }
            fieldset {
                legend { "Details" }
                (html::text_field("name", "Name tag - optional", req.value("name"), "Creates a tag with a key of 'Name' and the value you specify."))
                (html::select("transit_gateway", "Transit gateway ID", &gateways, req.value("transit_gateway")))
                p { "Attachment type: " strong { "VPC" } }
            }
            fieldset {
                legend { "VPC attachment" }
                (html::select("vpc", "VPC ID", &vpcs, vpc))
                p.hint { "Select the VPC to attach, then Continue: its Availability Zones and subnets are offered below." }
                p { button #continue type="submit" formmethod="get" formaction=(action) { "Continue" } }
                @if second {
                    (options_fields(req, vpc, None))
                    h2 { "Subnet IDs" }
                    (subnet_table(req, vpc, &zones, None))
                }
            }
            @if second { (html::form_actions(&href(SECTION), "Create transit gateway attachment")) }
        }
    })
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create transit gateway attachment";
    let mut failure = None;
    if req.is_post() {
        let mut params = Vec::new();
        for (field, param) in [("transit_gateway", "TransitGatewayId"), ("vpc", "VpcId")] {
            if !req.field(field).is_empty() {
                params.push((param.to_owned(), req.field(field).to_owned()));
            }
        }
        for (n, subnet) in chosen_subnets(req).into_iter().enumerate() {
            params.push((format!("SubnetIds.{}", n + 1), subnet.to_owned()));
        }
        params.extend(option_params(req));
        if !req.field("name").is_empty() {
            let tag =
                name_tag_at("TagSpecifications", "transit-gateway-attachment", req.field("name"));
            params.extend(tag);
        }
        match cx.api.call("CreateTransitGatewayVpcAttachment", &params) {
            Ok(doc) => {
                let id = doc.at(&["transitGatewayVpcAttachment", "transitGatewayAttachmentId"]);
                return Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created")));
            }
            Err(f) => failure = Some(f),
        }
    }
    match create_form(cx, req, failure.as_ref()) {
        Ok(form) => Outcome::form(title, SECTION, form, failure.is_some()),
        Err(f) => Outcome::failed(title, SECTION, &f),
    }
}

fn modify(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Modify transit gateway attachment";
    let a = match load(cx, id, title) {
        Ok(a) if a.is_vpc() => a,
        Ok(_) => return Outcome::NotFound,
        Err(outcome) => return outcome,
    };
    let base = href(&format!("{SECTION}/{id}"));
    let vpc = a.listed.text("resourceId");
    let had = a.subnets();
    let mut failure = None;
    if req.is_post() {
        let wanted = chosen_subnets(req);
        let mut params = vec![("TransitGatewayAttachmentId".to_owned(), id.to_owned())];
        for (n, s) in wanted.iter().filter(|w| !had.contains(w)).enumerate() {
            params.push((format!("AddSubnetIds.{}", n + 1), (*s).to_owned()));
        }
        for (n, s) in had.iter().filter(|h| !wanted.contains(h)).enumerate() {
            params.push((format!("RemoveSubnetIds.{}", n + 1), (*s).to_owned()));
        }
        params.extend(option_params(req));
        match cx.api.call("ModifyTransitGatewayVpcAttachment", &params) {
            Ok(_) => return Outcome::Redirect(format!("{base}?done=modified")),
            Err(f) => failure = Some(f),
        }
    }
    let zones = match zones(cx, vpc) {
        Ok(z) => z,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let body = html! {
        (html::crumbs(SECTION, LABEL, id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        form.edit method="post" action=(format!("{base}/modify")) {
            fieldset {
                legend { "VPC attachment" }
                p { "VPC ID: " (html::link("vpcs", vpc)) }
                (options_fields(req, vpc, Some(&a)))
                h2 { "Subnet IDs" }
                (subnet_table(req, vpc, &zones, Some(&had)))
            }
            (html::form_actions(&base, "Modify transit gateway attachment"))
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

/// "Accept" (`accept`) or "Reject transit gateway attachment", of a peering attachment.
fn answer(cx: &Cx<'_>, id: &str, req: &Request, accept: bool) -> Outcome {
    let (title, verb, action, done) = if accept {
        (
            "Accept transit gateway attachment",
            "accept",
            "AcceptTransitGatewayPeeringAttachment",
            "accepted",
        )
    } else {
        (
            "Reject transit gateway attachment",
            "reject",
            "RejectTransitGatewayPeeringAttachment",
            "rejected",
        )
    };
    let a = match load(cx, id, title) {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };
    let requester = a.own.at(&["requesterTgwInfo", "transitGatewayId"]);
    let accepter = a.own.at(&["accepterTgwInfo", "transitGatewayId"]);
    Confirm {
        section: SECTION,
        label: LABEL,
        id,
        title,
        question: html! {
            p { @if accept { "Accept" } @else { "Reject" } " the peering attachment " strong { (id) }
                " from transit gateway " strong { (requester) } " to " strong { (accepter) } "?" }
            @if accept {
                p.hint { "Once available, each side routes to the other through static routes in its transit gateway route tables." }
            } @else {
                p.hint { "A rejected attachment cannot be accepted later." }
            }
        },
        verb,
        action,
        id_param: "TransitGatewayAttachmentId",
        button: if accept { "Accept" } else { "Reject" },
        done: href(&format!("{SECTION}/{id}?done={done}")),
        missing: None,
    }
    .run(cx, req)
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Delete transit gateway attachment";
    let a = match load(cx, id, title) {
        Ok(a) => a,
        Err(outcome) => return outcome,
    };
    Confirm {
        section: SECTION,
        label: LABEL,
        id,
        title,
        question: html! {
            p { "Delete the transit gateway attachment " strong { (id) } " (" (a.listed.text("resourceType")) " " (a.listed.text("resourceId")) ")?" }
            p.hint { "Its association and propagations go with it; static routes to it become blackholes." }
        },
        verb: "delete",
        action: if a.is_vpc() {
            "DeleteTransitGatewayVpcAttachment"
        } else {
            "DeleteTransitGatewayPeeringAttachment"
        },
        id_param: "TransitGatewayAttachmentId",
        button: "Delete",
        done: href(&format!("{SECTION}/{id}?done=deleted")),
        missing: None,
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::Console;
    use crate::console::testing::{api, console, created, get, post, post_ok};

    fn gateway(c: &Console) -> String {
        created(c, "CreateTransitGateway", &[], &["transitGateway", "transitGatewayId"])
    }

    fn subnet(c: &Console, vpc: &str, cidr: &str, zone: &str) -> String {
        let params = [("VpcId", vpc), ("CidrBlock", cidr), ("AvailabilityZone", zone)];
        created(c, "CreateSubnet", &params, &["subnet", "subnetId"])
    }

    /// The VPC attachment `id`: its subnets and its appliance mode.
    fn attachment(c: &Console, id: &str) -> (Vec<String>, String) {
        let doc = api(
            c,
            "DescribeTransitGatewayVpcAttachments",
            &[("TransitGatewayAttachmentIds.1", id)],
        );
        let a = doc.items("transitGatewayVpcAttachments").next().expect("the attachment");
        let subnets = a.items("subnetIds").map(|s| s.value.clone()).collect();
        (subnets, a.at(&["options", "applianceModeSupport"]).to_owned())
    }

    #[test]
    fn create_a_vpc_attachment_zone_by_zone_modify_it_and_delete_it() {
        let c = console();
        let tgw = gateway(&c);
        let vpc = created(&c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")], &["vpc", "vpcId"]);
        let a1 = subnet(&c, &vpc, "10.0.1.0/24", "us-east-1a");
        let a2 = subnet(&c, &vpc, "10.0.2.0/24", "us-east-1a");
        let b1 = subnet(&c, &vpc, "10.0.3.0/24", "us-east-1b");
        let new = "/console/transit-gateway-attachments/new";

        // First the gateway and the VPC, then "Continue": a row per zone.
        let form = get(&c, &format!("{new}?transit_gateway={tgw}"));
        assert!(
            form.body.contains(&format!(r#"<option value="{tgw}" selected>"#)),
            "{}",
            form.body
        );
        assert!(form.body.contains("Continue") && !form.body.contains(r#"name="zone""#));
        let step2 = get(&c, &format!("{new}?transit_gateway={tgw}&vpc={vpc}&name=spoke"));
        for zone in ["us-east-1a", "us-east-1b"] {
            let tick = format!(r#"id="zone_{zone}" name="zone" value="{zone}" checked>"#);
            assert!(step2.body.contains(&tick), "every zone at first: {}", step2.body);
            assert!(
                step2.body.contains(&format!(r#"<label for="subnet_{zone}">Subnet in {zone}"#))
            );
        }
        assert!(step2.body.contains(r#"id="dns_support" name="dns_support" checked>"#));
        assert!(step2.body.contains(r#"id="appliance_mode" name="appliance_mode">"#));
        assert!(step2.body.contains(r#"value="spoke""#));

        // The API refuses (no transit gateway chosen): its error, the form as filled.
        let filled = [
            ("name", "spoke"),
            ("transit_gateway", ""),
            ("vpc", vpc.as_str()),
            ("step", vpc.as_str()),
            ("dns_support", "on"),
            ("appliance_mode", "on"),
            ("zone", "us-east-1a"),
            ("subnet_us-east-1a", a2.as_str()),
            ("subnet_us-east-1b", b1.as_str()),
        ];
        let refused = post(&c, new, &filled);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>MissingParameter</code>"), "{}", refused.body);
        assert!(refused.body.contains(r#"value="spoke""#));
        assert!(refused.body.contains(&format!(r#"<option value="{a2}" selected>"#)));
        assert!(refused.body.contains(r#"value="us-east-1a" checked>"#));
        assert!(refused.body.contains(r#"value="us-east-1b">"#), "unticked stays so");
        assert!(refused.body.contains(r#"name="appliance_mode" checked>"#));

        let mut fixed = filled.to_vec();
        fixed[1] = ("transit_gateway", tgw.as_str());
        let page = post_ok(&c, new, &fixed);
        assert!(page.body.contains("was created successfully"), "{}", page.body);
        let listed = api(&c, "DescribeTransitGatewayAttachments", &[]);
        let listed = listed.items("transitGatewayAttachments").next().expect("created");
        let id = listed.text("transitGatewayAttachmentId").to_owned();
        assert_eq!(listed.name_tag(), "spoke");
        assert_eq!(attachment(&c, &id), (vec![a2.clone()], "enable".to_owned()));
        assert!(page.body.contains(&format!("/console/subnets/{a2}")), "{}", page.body);
        assert!(page.body.contains("Appliance Mode support</dt><dd>Enable"), "{}", page.body);

        let list = get(&c, "/console/transit-gateway-attachments");
        assert!(list.body.contains(&id) && list.body.contains("spoke"), "{}", list.body);
        assert!(list.body.contains("Create transit gateway attachment"));
        let hub = get(&c, &format!("/console/transit-gateways/{tgw}"));
        assert!(hub.body.contains(&format!("/console/transit-gateway-attachments/{id}")));

        // Modify: the attachment's zone ticked with its subnet; another zone added, the
        // first zone's subnet changed, appliance mode off.
        let modify = format!("/console/transit-gateway-attachments/{id}/modify");
        let form = get(&c, &modify);
        assert!(form.body.contains(r#"value="us-east-1a" checked>"#), "{}", form.body);
        assert!(form.body.contains(r#"value="us-east-1b">"#));
        assert!(form.body.contains(&format!(r#"<option value="{a2}" selected>"#)));
        assert!(form.body.contains(r#"name="appliance_mode" checked>"#));
        let changed = [
            ("step", vpc.as_str()),
            ("dns_support", "on"),
            ("zone", "us-east-1a"),
            ("subnet_us-east-1a", a1.as_str()),
            ("zone", "us-east-1b"),
            ("subnet_us-east-1b", b1.as_str()),
        ];
        let page = post_ok(&c, &modify, &changed);
        assert!(page.body.contains("was modified successfully"), "{}", page.body);
        let (mut subnets, appliance) = attachment(&c, &id);
        subnets.sort();
        let mut wanted = vec![a1.clone(), b1.clone()];
        wanted.sort();
        assert_eq!((subnets, appliance.as_str()), (wanted, "disable"));

        // No zone at all: the API's error, and the form as left (nothing ticked).
        let refused = post(&c, &modify, &[("step", &vpc), ("subnet_us-east-1a", &a1)]);
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("<code>InsufficientSubnetsException</code>"));
        assert!(!refused.body.contains(r#"name="zone" value="us-east-1a" checked"#));
        assert!(refused.body.contains(r#"id="dns_support" name="dns_support">"#));

        let delete = format!("/console/transit-gateway-attachments/{id}/delete");
        let confirm = get(&c, &delete);
        assert!(
            confirm.body.contains("Delete transit gateway attachment")
                && confirm.body.contains(&vpc)
        );
        let page = post_ok(&c, &delete, &[]);
        assert!(page.body.contains("is being deleted"), "{}", page.body);
        let state = api(&c, "DescribeTransitGatewayAttachments", &[]);
        let state =
            state.items("transitGatewayAttachments").next().unwrap().text("state").to_owned();
        assert!(state == "deleting" || state == "deleted", "{state}");
        assert_eq!(
            get(&c, "/console/transit-gateway-attachments/tgw-attach-0000000000000000f").status,
            404
        );
        assert_eq!(get(&c, "/console/transit-gateway-attachments/nonsense").status, 404);
    }

    #[test]
    fn a_peering_attachment_is_accepted_or_rejected() {
        let c = console();
        let (east, west, south) = (gateway(&c), gateway(&c), gateway(&c));
        let peer = |accepter: &str| {
            let params = [
                ("TransitGatewayId", east.as_str()),
                ("PeerTransitGatewayId", accepter),
                ("PeerAccountId", "123456789012"),
                ("PeerRegion", "us-east-1"),
            ];
            let path = ["transitGatewayPeeringAttachment", "transitGatewayAttachmentId"];
            created(&c, "CreateTransitGatewayPeeringAttachment", &params, &path)
        };
        let (first, second) = (peer(&west), peer(&south));
        let list = get(&c, "/console/transit-gateway-attachments");
        assert!(list.body.contains("peering") && list.body.contains("pendingAcceptance"));
        let accept = format!("/console/transit-gateway-attachments/{first}/accept");
        assert!(list.body.contains(&format!(r#"href="{accept}">Accept</a>"#)), "{}", list.body);
        // The accepter's gateway lists it too, attaching the requester.
        let west_page = get(&c, &format!("/console/transit-gateways/{west}"));
        assert!(west_page.body.contains(&first), "{}", west_page.body);

        let page = get(&c, &format!("/console/transit-gateway-attachments/{first}"));
        assert!(page.body.contains("Accept transit gateway attachment"), "{}", page.body);
        assert!(page.body.contains(&format!("/console/transit-gateways/{west}")));
        let confirm = get(&c, &accept);
        assert!(confirm.body.contains(&east) && confirm.body.contains(">Accept</button>"));
        let page = post_ok(&c, &accept, &[]);
        assert!(page.body.contains("was accepted"), "{}", page.body);
        assert!(!page.body.contains("Accept transit gateway attachment"), "accepted already");

        let page =
            post_ok(&c, &format!("/console/transit-gateway-attachments/{second}/reject"), &[]);
        assert!(page.body.contains("was rejected"), "{}", page.body);
        let doc = api(&c, "DescribeTransitGatewayPeeringAttachments", &[]);
        let states: Vec<(&str, &str)> = doc
            .items("transitGatewayPeeringAttachments")
            .map(|a| (a.text("transitGatewayAttachmentId"), a.text("state")))
            .collect();
        assert!(states.iter().any(|(id, s)| *id == first && ["pending", "available"].contains(s)));
        assert!(
            states.iter().any(|(id, s)| *id == second && s.starts_with("reject")),
            "{states:?}"
        );
        // Rejecting again: the API's error on the confirmation page.
        let again = post(&c, &format!("/console/transit-gateway-attachments/{second}/reject"), &[]);
        assert_eq!(again.status, 400);
        assert!(again.body.contains("<code>IncorrectState</code>"), "{}", again.body);
        // No "Modify" for a peering attachment.
        assert_eq!(
            get(&c, &format!("/console/transit-gateway-attachments/{first}/modify")).status,
            404
        );
    }
}
