//! Site-to-Site VPN connections: the list, a connection's details (its tunnels, as
//! `vgwTelemetry` reports them, and its static routes), "Create VPN connection",
//! "Edit static routes", "Download configuration", "Delete VPN connection".

use maud::{Markup, html};

use super::choices::{self, labelled};
use super::confirm::Confirm;
use super::html::{self, column, href};
use super::rows::{self, Press, pressed};
use super::vpcs::name_tag;
use super::{Cx, El, Failure, Outcome, Request};

const SECTION: &str = "vpn-connections";

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    match rest {
        [] => list(cx, req),
        ["new"] => create(cx, req),
        [id] => detail(cx, id, req),
        [id, "configuration"] => configuration(cx, id),
        [id, "routes"] => edit_routes(cx, id, req),
        [id, "delete"] => delete(cx, id, req),
        _ => Outcome::NotFound,
    }
}

/// Static or Dynamic (BGP), as the console's Routing column says.
fn routing(c: &El) -> &'static str {
    if c.at(&["options", "staticRoutesOnly"]) == "true" { "Static" } else { "Dynamic" }
}

/// The gateway the connection ends on: a link to the virtual private or transit gateway.
fn target(c: &El) -> Markup {
    match c.text("transitGatewayId") {
        "" => html::link("vpn-gateways", c.text("vpnGatewayId")),
        tgw => html::link("transit-gateways", tgw),
    }
}

fn list(cx: &Cx<'_>, req: &Request) -> Outcome {
    let connections = match cx.api.call("DescribeVpnConnections", &[]) {
        Ok(doc) => doc,
        Err(f) => return Outcome::failed("VPN connections", SECTION, &f),
    };
    let rows: Vec<&El> = connections.items("vpnConnectionSet").collect();
    let columns = [
        column("Name", |c: &El| html::or_dash(c.name_tag())),
        column("VPN ID", |c: &El| html::link(SECTION, c.text("vpnConnectionId"))),
        column("State", |c: &El| html::state(c.text("state"))),
        column("Virtual private gateway / Transit gateway", target),
        column("Customer gateway", |c: &El| {
            html::link("customer-gateways", c.text("customerGatewayId"))
        }),
        column("Routing", |c: &El| html! { (routing(c)) }),
    ];
    let deleted = req.param("deleted");
    let body = html! {
        @if !deleted.is_empty() { (html::notice(&format!("VPN connection {deleted} is being deleted."))) }
        (html::list("VPN connections", Some(("vpn-connections/new", "Create VPN connection")), "VPN connections", &columns, &rows, req.param("search")))
    };
    Outcome::Page(html::page("VPN connections", SECTION, body))
}

fn describe(cx: &Cx<'_>, id: &str) -> Result<Option<El>, Failure> {
    cx.api.describe_one(
        "DescribeVpnConnections",
        "VpnConnectionId.1",
        id,
        "vpnConnectionSet",
        |c| c.starts_with("InvalidVpnConnectionID"),
    )
}

/// The tunnels as the Tunnel details tab shows them: one row per `vgwTelemetry` item,
/// with the inside CIDR of the tunnel option of the same outside address.
fn tunnels_table(c: &El) -> Markup {
    let inside = |outside: &str| {
        c.child("options")
            .into_iter()
            .flat_map(|o| o.items("tunnelOptionSet"))
            .find(|t| t.text("outsideIpAddress") == outside)
            .map_or("", |t| t.text("tunnelInsideCidr"))
    };
    let tunnels: Vec<&El> = c.items("vgwTelemetry").collect();
    html! {
        @if tunnels.is_empty() {
            p.empty { "No tunnels." }
        } @else {
            div.scroll {
                table.list aria-label="Tunnel details" {
                    thead { tr {
                        th scope="col" { "Tunnel number" }
                        th scope="col" { "Outside IP address" }
                        th scope="col" { "Inside IPv4 CIDR" }
                        th scope="col" { "Status" }
                        th scope="col" { "Last status change" }
                        th scope="col" { "Details" }
                        th scope="col" { "Accepted routes" }
                    } }
                    tbody {
                        @for (n, t) in tunnels.iter().enumerate() {
                            tr {
                                td { "Tunnel " (n + 1) }
                                td { (t.text("outsideIpAddress")) }
                                td { (html::or_dash(inside(t.text("outsideIpAddress")))) }
                                td { (html::state(t.text("status"))) }
                                td { (t.text("lastStatusChange")) }
                                td { (html::or_dash(t.text("statusMessage"))) }
                                td { (t.text("acceptedRouteCount")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn routes_table(c: &El) -> Markup {
    let routes: Vec<&El> = c.items("routes").collect();
    html! {
        @if routes.is_empty() {
            p.empty { "No static routes." }
        } @else {
            table.list aria-label="Static routes" {
                thead { tr { th scope="col" { "Prefix" } th scope="col" { "Source" } th scope="col" { "State" } } }
                tbody {
                    @for r in &routes {
                        tr { td { (r.text("destinationCidrBlock")) } td { (r.text("source")) } td { (html::state(r.text("state"))) } }
                    }
                }
            }
        }
    }
}

fn detail(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let c = match describe(cx, id) {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let base = href(&format!("{SECTION}/{id}"));
    let name = c.name_tag();
    let title = if name.is_empty() { id.to_owned() } else { format!("{id} / {name}") };
    let tab = match req.param("tab") {
        "" => "tunnels",
        tab => tab,
    };
    let body = html! {
        (html::crumbs(SECTION, "VPN connections", id, ""))
        @match req.param("done") {
            "created" => (html::notice(&format!(
                "VPN connection {} was created. Download its configuration for your customer gateway device.",
                labelled(id, name)))),
            "routes" => (html::notice(&format!("Updated the static routes of {id} successfully."))),
            _ => {}
        }
        (html::bar(&title, html! {
            @if !c.text("customerGatewayConfiguration").is_empty() {
                a.button href=(format!("{base}/configuration")) { "Download configuration" }
            }
            (html::actions(&[
                ("Download configuration", format!("{base}/configuration")),
                ("Delete VPN connection", format!("{base}/delete")),
            ]))
        }))
        (html::details(&[
            ("VPN ID", html! { (id) }),
            ("State", html::state(c.text("state"))),
            ("Virtual private gateway", html::link("vpn-gateways", c.text("vpnGatewayId"))),
            ("Transit gateway", html::link("transit-gateways", c.text("transitGatewayId"))),
            ("Customer gateway", html::link("customer-gateways", c.text("customerGatewayId"))),
            ("Type", html! { (c.text("type")) }),
            ("Category", html! { (c.text("category")) }),
            ("Routing", html! { (routing(&c)) }),
        ]))
        (html::tabs(&base, tab, &[("tunnels", "Tunnel details"), ("static-routes", "Static routes"), ("tags", "Tags")]))
        @match tab {
            "static-routes" => {
                @if editable(&c) {
                    div.bar {
                        h2 { "Static routes (" (c.items("routes").count()) ")" }
                        a.button href=(format!("{base}/routes")) { "Edit static routes" }
                    }
                }
                (routes_table(&c))
            }
            "tags" => (html::tags_table(&c)),
            _ => (tunnels_table(&c)),
        }
    };
    Outcome::Page(html::page(id, SECTION, body))
}

/// The create form's choices.
struct Choices {
    vpn_gateways: Vec<(String, String)>,
    transit_gateways: Vec<(String, String)>,
    customer_gateways: Vec<(String, String)>,
}

fn create_form(req: &Request, choices: &Choices, failure: Option<&Failure>) -> Markup {
    let tgw = req.value("target") == "tgw";
    let dynamic = req.value("routing") == "dynamic";
    html! {
        (html::crumbs(SECTION, "VPN connections", "", "Create VPN connection"))
        h1 { "Create VPN connection" }
        p { "A Site-to-Site VPN connection joins a virtual private gateway or a transit gateway \
             to your customer gateway device with two IPsec tunnels." }
        @if let Some(f) = failure { (html::error(f)) }
        form.edit method="post" action=(href("vpn-connections/new")) {
            fieldset {
                legend { "Details" }
                (html::text_field("name", "Name tag - optional", req.value("name"),
                    "Creates a tag with a key of 'Name' and the value that you specify."))
            }
            fieldset {
                legend { "Target gateway type" }
                p {
                    input #target_vgw type="radio" name="target" value="vgw" checked[!tgw];
                    label.inline for="target_vgw" { "Virtual private gateway" }
                    input #target_tgw type="radio" name="target" value="tgw" checked[tgw];
                    label.inline for="target_tgw" { "Transit gateway" }
                }
                (html::select("vgw", "Virtual private gateway", &choices.vpn_gateways, req.value("vgw")))
                (html::select("tgw", "Transit gateway", &choices.transit_gateways, req.value("tgw")))
                p.hint { "The gateway of the type chosen above is used." }
            }
            fieldset {
                legend { "Customer gateway" }
                (html::select("cgw", "Customer gateway ID", &choices.customer_gateways, req.value("cgw")))
                @if choices.customer_gateways.len() < 2 {
                    p.hint { "No customer gateway yet. " a href=(href("customer-gateways/new")) { "Create customer gateway" } }
                }
            }
            fieldset {
                legend { "Routing options" }
                p {
                    input #routing_dynamic type="radio" name="routing" value="dynamic" checked[dynamic];
                    label.inline for="routing_dynamic" { "Dynamic (requires BGP)" }
                    input #routing_static type="radio" name="routing" value="static" checked[!dynamic];
                    label.inline for="routing_static" { "Static" }
                }
                (html::text_field("prefixes", "Static IP prefixes", req.value("prefixes"),
                    "Static routing with a virtual private gateway only: the on-premises prefixes, separated by commas (e.g. 192.168.0.0/24)."))
            }
            (html::form_actions(&href(SECTION), "Create VPN connection"))
        }
    }
}

/// The static prefixes typed in, separated by commas or spaces.
fn prefixes(req: &Request) -> Vec<&str> {
    req.field("prefixes").split([',', ' ']).filter(|p| !p.is_empty()).collect()
}

/// Creates the connection, then its static routes: its id, or the API's error. An
/// identical request answers the same connection, so a form posted again after a route
/// was refused makes no second one.
fn create_connection(cx: &Cx<'_>, req: &Request) -> Result<String, Failure> {
    let tgw = req.field("target") == "tgw";
    let is_static = req.field("routing") != "dynamic";
    let mut params = vec![
        ("Type".to_owned(), "ipsec.1".to_owned()),
        ("CustomerGatewayId".to_owned(), req.field("cgw").to_owned()),
    ];
    if tgw {
        params.push(("TransitGatewayId".to_owned(), req.field("tgw").to_owned()));
    } else {
        params.push(("VpnGatewayId".to_owned(), req.field("vgw").to_owned()));
    }
    if is_static {
        params.push(("Options.StaticRoutesOnly".to_owned(), "true".to_owned()));
    }
    if !req.field("name").is_empty() {
        params.extend(name_tag("vpn-connection", req.field("name")));
    }
    let doc = cx.api.call("CreateVpnConnection", &params)?;
    let id = doc.at(&["vpnConnection", "vpnConnectionId"]).to_owned();
    if is_static && !tgw {
        for prefix in prefixes(req) {
            let params = [
                ("VpnConnectionId".to_owned(), id.clone()),
                ("DestinationCidrBlock".to_owned(), prefix.to_owned()),
            ];
            cx.api.call("CreateVpnConnectionRoute", &params)?;
        }
    }
    Ok(id)
}

fn create(cx: &Cx<'_>, req: &Request) -> Outcome {
    let title = "Create VPN connection";
    let mut failure = None;
    if req.is_post() {
        match create_connection(cx, req) {
            Ok(id) => return Outcome::Redirect(href(&format!("{SECTION}/{id}?done=created"))),
            Err(f) => failure = Some(f),
        }
    }
    let loaded = (|| {
        Ok::<_, Failure>(Choices {
            vpn_gateways: choices::vpn_gateways(cx)?,
            transit_gateways: choices::transit_gateways(cx)?,
            customer_gateways: choices::customer_gateways(cx)?,
        })
    })();
    let choices = match loaded {
        Ok(choices) => choices,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    Outcome::form(title, SECTION, create_form(req, &choices, failure.as_ref()), failure.is_some())
}

/// Whether the connection's static routes are its own to edit: static routing, to a
/// virtual private gateway (a transit gateway's are its route tables'), not deleted.
fn editable(c: &El) -> bool {
    routing(c) == "Static" && !c.text("vpnGatewayId").is_empty() && !choices::gone(c.text("state"))
}

/// Makes the connection's static routes `wanted`: new prefixes first, then the ones no
/// row keeps (a prefix the API refuses loses no route).
fn save_routes(
    cx: &Cx<'_>,
    id: &str,
    current: &[String],
    wanted: &[String],
) -> Result<(), Failure> {
    let call = |action: &str, prefix: &str| {
        let params = [
            ("VpnConnectionId".to_owned(), id.to_owned()),
            ("DestinationCidrBlock".to_owned(), prefix.to_owned()),
        ];
        cx.api.call(action, &params).map(drop)
    };
    for prefix in wanted.iter().filter(|p| !current.contains(p)) {
        call("CreateVpnConnectionRoute", prefix)?;
    }
    for prefix in current.iter().filter(|p| !wanted.contains(p)) {
        call("DeleteVpnConnectionRoute", prefix)?;
    }
    Ok(())
}

/// "Edit static routes": a row per prefix, "Add route", a row's "Remove", "Save changes".
fn edit_routes(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    let title = "Edit static routes";
    let c = match describe(cx, id) {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(title, SECTION, &f),
    };
    let base = href(&format!("{SECTION}/{id}"));
    let current: Vec<String> =
        c.items("routes").map(|r| r.text("destinationCidrBlock").to_owned()).collect();
    let mut failure = None;
    let rows = if req.is_post() {
        let mut rows: Vec<String> =
            rows::posted(req, ["prefix"]).into_iter().map(|[p]| p).collect();
        match pressed(req) {
            Press::Add => rows.push(String::new()),
            Press::Remove(i) => {
                if i < rows.len() {
                    rows.remove(i);
                }
            }
            Press::Save => {
                let mut wanted: Vec<String> = Vec::new();
                for p in rows.iter().filter(|p| !p.is_empty()) {
                    if !wanted.contains(p) {
                        wanted.push(p.clone());
                    }
                }
                match save_routes(cx, id, &current, &wanted) {
                    Ok(()) => {
                        return Outcome::Redirect(format!("{base}?tab=static-routes&done=routes"));
                    }
                    Err(f) => failure = Some(f),
                }
            }
        }
        rows
    } else {
        let mut rows = current.clone();
        rows.push(String::new());
        rows
    };
    let body = html! {
        (html::crumbs(SECTION, "VPN connections", id, title))
        h1 { (title) }
        @if let Some(f) = &failure { (html::error(f)) }
        @if !editable(&c) {
            p { "VPN connection " strong { (id) } " has no static routes of its own to edit: \
                 they belong to a connection with static routing to a virtual private gateway \
                 (a transit gateway's static routes are its route tables')." }
            p { a.button href=(base) { "Back" } }
        } @else {
            form method="post" action=(format!("{base}/routes")) {
                // The form's default button (Enter in a field): save, not the first "Remove".
                button type="submit" hidden tabindex="-1" {}
                table.list #prefixes aria-label="Static routes" {
                    thead { tr { th scope="col" { "IP prefix" } th scope="col" { span.skip { "Remove" } } } }
                    tbody {
                        @for (i, prefix) in rows.iter().enumerate() {
                            tr {
                                td {
                                    label.skip for=(format!("prefix-{i}")) { "IP prefix " (i + 1) }
                                    input type="text" id=(format!("prefix-{i}")) name="prefix" value=(prefix) placeholder="192.168.0.0/24";
                                }
                                td {
                                    button type="submit" name="remove" value=(i) data-remove-row=""
                                        aria-label=(format!("Remove prefix {}", i + 1)) { "Remove" }
                                }
                            }
                        }
                    }
                    template {
                        tr {
                            td { label { span.skip { "IP prefix" } input type="text" name="prefix" placeholder="192.168.0.0/24"; } }
                            td { button type="button" data-remove-row="" { "Remove" } }
                        }
                    }
                }
                p { button type="submit" name="add" value="1" data-add-row="prefixes" { "Add route" } }
                (html::form_actions(&format!("{base}?tab=static-routes"), "Save changes"))
            }
        }
    };
    Outcome::form(title, SECTION, body, failure.is_some())
}

/// The connection's `customerGatewayConfiguration`, as a file to save (AWS's console's
/// "Download configuration", in its generic layout).
fn configuration(cx: &Cx<'_>, id: &str) -> Outcome {
    let c = match describe(cx, id) {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::NotFound,
        Err(f) => return Outcome::failed(id, SECTION, &f),
    };
    let document = c.text("customerGatewayConfiguration");
    if document.is_empty() {
        let body = html! {
            (html::crumbs(SECTION, "VPN connections", id, "Download configuration"))
            h1 { "Download configuration" }
            p { "VPN connection " strong { (id) } " has no configuration: it is "
                (c.text("state")) " (a configuration is given while a connection is pending or available)." }
            p { a.button href=(href(&format!("{SECTION}/{id}"))) { "Back" } }
        };
        return Outcome::form("Download configuration", SECTION, body, true);
    }
    Outcome::Download {
        content_type: "application/xml; charset=utf-8",
        filename: format!("{id}.xml"),
        body: document.as_bytes().to_vec(),
    }
}

fn delete(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    Confirm {
        section: SECTION,
        label: "VPN connections",
        id,
        title: "Delete VPN connection",
        question: html! { p { "Are you sure you want to delete VPN connection " strong { (id) }
            "? Both tunnels go down, and the configuration of your customer gateway device no longer works." } },
        verb: "delete",
        action: "DeleteVpnConnection",
        id_param: "VpnConnectionId",
        button: "Delete VPN connection",
        done: href(&format!("{SECTION}?deleted={id}")),
        missing: Some("InvalidVpnConnectionID"),
    }
    .run(cx, req)
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, created, get, post, post_ok};

    /// A customer gateway and a virtual private gateway attached to a VPC.
    fn gateways(c: &crate::console::Console) -> (String, String) {
        let vpc = created(c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")], &["vpc", "vpcId"]);
        let cgw = created(
            c,
            "CreateCustomerGateway",
            &[("Type", "ipsec.1"), ("BgpAsn", "65000"), ("IpAddress", "198.51.100.7")],
            &["customerGateway", "customerGatewayId"],
        );
        let vgw =
            created(c, "CreateVpnGateway", &[("Type", "ipsec.1")], &["vpnGateway", "vpnGatewayId"]);
        api(c, "AttachVpnGateway", &[("VpnGatewayId", &vgw), ("VpcId", &vpc)]);
        (cgw, vgw)
    }

    #[test]
    fn create_a_static_connection_see_its_tunnels_download_its_configuration_delete_it() {
        let c = console();
        let (cgw, vgw) = gateways(&c);
        let form = get(&c, "/console/vpn-connections/new");
        assert!(form.body.contains(&format!(r#"<option value="{cgw}""#)), "{}", form.body);
        assert!(form.body.contains(&format!(r#"<option value="{vgw}""#)));
        let page = post_ok(
            &c,
            "/console/vpn-connections/new",
            &[
                ("name", "office-vpn"),
                ("target", "vgw"),
                ("vgw", &vgw),
                ("tgw", ""),
                ("cgw", &cgw),
                ("routing", "static"),
                ("prefixes", "192.168.0.0/24, 192.168.1.0/24"),
            ],
        );
        assert!(page.body.contains("was created"), "{}", page.body);
        let doc = api(&c, "DescribeVpnConnections", &[]);
        let conn = doc.items("vpnConnectionSet").next().unwrap();
        let id = conn.text("vpnConnectionId").to_owned();
        assert_eq!(conn.name_tag(), "office-vpn");
        assert_eq!(conn.at(&["options", "staticRoutesOnly"]), "true");
        assert_eq!(conn.items("routes").count(), 2);

        // Tunnel details: both tunnels down, with their addresses and inside CIDRs.
        assert_eq!(
            page.body.matches(r#"<span class="state DOWN">DOWN</span>"#).count(),
            2,
            "{}",
            page.body
        );
        assert_eq!(page.body.matches("IPSEC IS DOWN").count(), 2);
        let options = conn.child("options").unwrap();
        for t in options.items("tunnelOptionSet") {
            assert!(page.body.contains(t.text("outsideIpAddress")));
            assert!(
                page.body.contains(t.text("tunnelInsideCidr")),
                "{}",
                t.text("tunnelInsideCidr")
            );
        }
        assert!(page.body.contains("Tunnel 1") && page.body.contains("Tunnel 2"));
        let routes = get(&c, &format!("/console/vpn-connections/{id}?tab=static-routes"));
        assert!(routes.body.contains("192.168.0.0/24") && routes.body.contains("192.168.1.0/24"));

        let list = get(&c, "/console/vpn-connections");
        for text in [id.as_str(), "office-vpn", vgw.as_str(), cgw.as_str(), "Static"] {
            assert!(list.body.contains(text), "{text}: {}", list.body);
        }

        let file = get(&c, &format!("/console/vpn-connections/{id}/configuration"));
        assert_eq!(file.status, 200);
        assert!(file.header("content-type").starts_with("application/xml"));
        assert_eq!(
            file.header("content-disposition"),
            format!("attachment; filename=\"{id}.xml\"")
        );
        assert!(file.body.contains(&format!("<vpn_connection id=\"{id}\"")), "{}", file.body);

        // The customer gateway is in use.
        let refused = post(&c, &format!("/console/customer-gateways/{cgw}/delete"), &[]);
        assert_eq!(refused.status, 400);

        let confirm = get(&c, &format!("/console/vpn-connections/{id}/delete"));
        assert!(confirm.body.contains("Delete VPN connection"));
        let gone = post(&c, &format!("/console/vpn-connections/{id}/delete"), &[]);
        assert_eq!(gone.status, 303, "{}", gone.body);
        assert!(
            get(&c, &gone.location)
                .body
                .contains(&format!("VPN connection {id} is being deleted."))
        );
        let state = api(&c, "DescribeVpnConnections", &[("VpnConnectionId.1", &id)]);
        let state = state.items("vpnConnectionSet").next().unwrap().text("state").to_owned();
        assert!(matches!(state.as_str(), "deleting" | "deleted"), "{state}");
        // A deleted connection has no configuration to download.
        let none = get(&c, &format!("/console/vpn-connections/{id}/configuration"));
        assert_ne!(none.status, 200);
        assert_eq!(get(&c, "/console/vpn-connections/nonsense").status, 404);
    }

    #[test]
    fn edit_static_routes_adds_and_removes_prefixes() {
        let c = console();
        let (cgw, vgw) = gateways(&c);
        let id = created(
            &c,
            "CreateVpnConnection",
            &[
                ("Type", "ipsec.1"),
                ("CustomerGatewayId", &cgw),
                ("VpnGatewayId", &vgw),
                ("Options.StaticRoutesOnly", "true"),
            ],
            &["vpnConnection", "vpnConnectionId"],
        );
        let prefixes = |c: &crate::console::Console| -> Vec<String> {
            let doc = api(c, "DescribeVpnConnections", &[("VpnConnectionId.1", &id)]);
            let conn = doc.items("vpnConnectionSet").next().unwrap();
            let mut all: Vec<String> =
                conn.items("routes").map(|r| r.text("destinationCidrBlock").to_owned()).collect();
            all.sort();
            all
        };
        let path = format!("/console/vpn-connections/{id}/routes");
        let form = get(&c, &path);
        assert!(form.body.contains(r#"name="prefix""#), "{}", form.body);
        // "Add route" posts the form back with one row more, saving nothing.
        let more = post(&c, &path, &[("prefix", "192.168.0.0/24"), ("add", "1")]);
        assert_eq!(more.status, 200);
        assert_eq!(more.body.matches(r#"id="prefix-"#).count(), 2);
        assert!(prefixes(&c).is_empty());
        let page =
            post_ok(&c, &path, &[("prefix", "192.168.0.0/24"), ("prefix", "192.168.1.0/24")]);
        assert!(page.body.contains("Updated the static routes"), "{}", page.body);
        assert_eq!(prefixes(&c), ["192.168.0.0/24", "192.168.1.0/24"]);
        post_ok(&c, &path, &[("prefix", "192.168.1.0/24"), ("prefix", "10.9.0.0/16")]);
        assert_eq!(prefixes(&c), ["10.9.0.0/16", "192.168.1.0/24"]);
        // A prefix the API refuses: its error, and no route lost.
        let refused = post(&c, &path, &[("prefix", "192.168.1.0/24"), ("prefix", "not-a-cidr")]);
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains("flash error"));
        assert_eq!(prefixes(&c), ["10.9.0.0/16", "192.168.1.0/24"]);
    }

    #[test]
    fn a_dynamic_connection_to_a_transit_gateway() {
        let c = console();
        let (cgw, _) = gateways(&c);
        let tgw = created(&c, "CreateTransitGateway", &[], &["transitGateway", "transitGatewayId"]);
        let page = post_ok(
            &c,
            "/console/vpn-connections/new",
            &[("target", "tgw"), ("vgw", ""), ("tgw", &tgw), ("cgw", &cgw), ("routing", "dynamic")],
        );
        assert!(page.body.contains(&format!("/console/transit-gateways/{tgw}")), "{}", page.body);
        let list = get(&c, "/console/vpn-connections");
        assert!(list.body.contains("Dynamic"));
        let id = api(&c, "DescribeVpnConnections", &[]);
        let id = id.items("vpnConnectionSet").next().unwrap().text("vpnConnectionId").to_owned();
        let routes = get(&c, &format!("/console/vpn-connections/{id}/routes"));
        assert!(
            routes.body.contains("no static routes of its own")
                && !routes.body.contains(r#"name="prefix""#)
        );
        let doc = api(&c, "DescribeVpnConnections", &[]);
        let conn = doc.items("vpnConnectionSet").next().unwrap();
        assert_eq!(conn.text("transitGatewayId"), tgw);
        assert_eq!(conn.at(&["options", "staticRoutesOnly"]), "false");
    }

    #[test]
    fn a_refused_create_shows_the_apis_error_with_the_choices_kept() {
        let c = console();
        let (_, vgw) = gateways(&c);
        let page = post(
            &c,
            "/console/vpn-connections/new",
            &[("name", "x"), ("target", "vgw"), ("vgw", &vgw), ("cgw", ""), ("routing", "static")],
        );
        assert_eq!(page.status, 400);
        assert!(page.body.contains("flash error"), "{}", page.body);
        assert!(page.body.contains(&format!(r#"<option value="{vgw}" selected"#)), "{}", page.body);
        assert_eq!(api(&c, "DescribeVpnConnections", &[]).items("vpnConnectionSet").count(), 0);
    }
}
