//! Every page of the console, reached the way a keyboard user reaches it — by its
//! links — holds to the rules that make it usable without a mouse or a screen: each
//! form control has a label, nothing jumps the tab order, ids are unique (labels and
//! skip links point at them), images say what they show, every page has a language, a
//! title and a main landmark for the skip link.

use std::collections::{BTreeSet, VecDeque};

use super::testing::{api, console, get};

/// The attributes of each `<name …>` start tag in `page`, in order (names lowercase,
/// values as written; maud escapes `"` and `>` inside values).
fn tags<'a>(page: &'a str, name: &str) -> Vec<Vec<(&'a str, &'a str)>> {
    placed(page, name).into_iter().map(|(_, tag)| tag).collect()
}

/// [`tags`], each with where it starts in `page`.
fn placed<'a>(page: &'a str, name: &str) -> Vec<(usize, Vec<(&'a str, &'a str)>)> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = page[from..].find(&open) {
        let start = from + at;
        let after = &page[start + open.len()..];
        from = start + open.len();
        // `<input` but not `<inputs`: the name ends at a space, `>` or `/`.
        if !after.starts_with([' ', '>', '/', '\n']) {
            continue;
        }
        let Some(end) = after.find('>') else { break };
        found.push((start, attributes(&after[..end])));
    }
    found
}

/// Whether the tag at `at` is inside a `<label>` (which labels what it holds).
fn inside_label(page: &str, at: usize) -> bool {
    let before = &page[..at];
    match (before.rfind("<label"), before.rfind("</label>")) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        _ => false,
    }
}

fn attributes(mut text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    loop {
        text = text.trim_start_matches([' ', '\n', '/']);
        if text.is_empty() {
            return out;
        }
        let name_end = text.find(['=', ' ', '\n', '/']).unwrap_or(text.len());
        let name = &text[..name_end];
        text = &text[name_end..];
        if let Some(value) = text.strip_prefix("=\"") {
            let end = value.find('"').unwrap_or(value.len());
            out.push((name, &value[..end]));
            text = value.get(end + 1..).unwrap_or("");
        } else {
            out.push((name, ""));
        }
    }
}

fn attr<'a>(tag: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    tag.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// What is wrong with `page` (at `path`) for a keyboard or screen-reader user.
fn problems(path: &str, page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut say = |what: String| found.push(format!("{path}: {what}"));
    if !page.contains("<html lang=\"en\">") {
        say("no language".into());
    }
    if page.contains("<title></title>") || !page.contains("<title>") {
        say("no title".into());
    }
    if !page.contains("id=\"main\"") {
        say("no main landmark for the skip link".into());
    }
    let mut ids = BTreeSet::new();
    for name in [
        "a", "button", "div", "form", "input", "label", "main", "nav", "select", "table",
        "textarea", "span", "p", "section", "details", "fieldset", "h1", "h2", "menu", "li", "svg",
        "g",
    ] {
        for tag in tags(page, name) {
            if let Some(id) = attr(&tag, "id") {
                if !ids.insert(id.to_owned()) {
                    say(format!("id {id:?} twice"));
                }
            }
            if let Some(t) = attr(&tag, "tabindex") {
                if t.parse::<i32>().is_ok_and(|t| t > 0) {
                    say(format!("<{name}> jumps the tab order (tabindex={t})"));
                }
            }
        }
    }
    let labelled: BTreeSet<&str> =
        tags(page, "label").iter().filter_map(|t| attr(t, "for")).collect();
    for name in ["input", "select", "textarea"] {
        for (at, tag) in placed(page, name) {
            let kind = attr(&tag, "type").unwrap_or("text");
            if name == "input" && matches!(kind, "hidden" | "submit" | "button" | "reset") {
                continue;
            }
            if attr(&tag, "hidden").is_some()
                || attr(&tag, "aria-label").is_some()
                || inside_label(page, at)
            {
                continue;
            }
            match attr(&tag, "id") {
                Some(id) if labelled.contains(id) => {}
                _ => say(format!(
                    "<{name}> without a label: {}",
                    tag.iter().map(|(n, v)| format!("{n}={v:?}")).collect::<Vec<_>>().join(" ")
                )),
            }
        }
    }
    for tag in tags(page, "img") {
        if attr(&tag, "alt").is_none() {
            say("an image without alt text".into());
        }
    }
    found
}

#[test]
fn every_page_reached_by_its_links_is_usable_from_the_keyboard() {
    let c = console();
    // Something of every kind, so that detail pages and their forms exist.
    let vpc =
        api(&c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
    let other =
        api(&c, "CreateVpc", &[("CidrBlock", "10.1.0.0/16")]).at(&["vpc", "vpcId"]).to_owned();
    let igw = api(&c, "CreateInternetGateway", &[]);
    let igw = igw.at(&["internetGateway", "internetGatewayId"]).to_owned();
    api(&c, "AttachInternetGateway", &[("InternetGatewayId", &igw), ("VpcId", &vpc)]);
    let subnet = api(&c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", "10.0.1.0/24")]);
    let subnet = subnet.at(&["subnet", "subnetId"]).to_owned();
    let rtb = api(&c, "CreateRouteTable", &[("VpcId", &vpc)])
        .at(&["routeTable", "routeTableId"])
        .to_owned();
    api(&c, "AssociateRouteTable", &[("RouteTableId", &rtb), ("SubnetId", &subnet)]);
    let eip = api(&c, "AllocateAddress", &[("Domain", "vpc")]).text("allocationId").to_owned();
    api(&c, "CreateNatGateway", &[("SubnetId", &subnet), ("AllocationId", &eip)]);
    api(
        &c,
        "CreateSecurityGroup",
        &[("VpcId", &vpc), ("GroupName", "web"), ("GroupDescription", "web")],
    );
    api(&c, "CreateNetworkAcl", &[("VpcId", &vpc)]);
    api(&c, "CreateVpcPeeringConnection", &[("VpcId", &vpc), ("PeerVpcId", &other)]);
    api(
        &c,
        "CreateVpcEndpoint",
        &[("VpcId", &vpc), ("ServiceName", "com.amazonaws.us-east-1.s3"), ("RouteTableId.1", &rtb)],
    );
    api(
        &c,
        "RunInstances",
        &[
            ("ImageId", "ami-0abcdef1234567890"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("SubnetId", &subnet),
        ],
    );
    let tgw = api(&c, "CreateTransitGateway", &[]);
    let tgw = tgw.at(&["transitGateway", "transitGatewayId"]).to_owned();
    api(
        &c,
        "CreateTransitGatewayVpcAttachment",
        &[("TransitGatewayId", &tgw), ("VpcId", &vpc), ("SubnetIds.1", &subnet)],
    );
    let cgw = api(
        &c,
        "CreateCustomerGateway",
        &[("Type", "ipsec.1"), ("BgpAsn", "65000"), ("IpAddress", "198.51.100.7")],
    );
    let cgw = cgw.at(&["customerGateway", "customerGatewayId"]).to_owned();
    let vgw = api(&c, "CreateVpnGateway", &[("Type", "ipsec.1")]);
    let vgw = vgw.at(&["vpnGateway", "vpnGatewayId"]).to_owned();
    api(&c, "AttachVpnGateway", &[("VpnGatewayId", &vgw), ("VpcId", &vpc)]);
    api(
        &c,
        "CreateVpnConnection",
        &[
            ("Type", "ipsec.1"),
            ("CustomerGatewayId", &cgw),
            ("VpnGatewayId", &vgw),
            ("Options.StaticRoutesOnly", "true"),
        ],
    );

    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/console/".to_owned()]);
    let mut found = Vec::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) || seen.len() > 400 {
            continue;
        }
        let page = get(&c, &path);
        if page.status != 200 || !page.body.starts_with("<!DOCTYPE html>") {
            continue;
        }
        found.extend(problems(&path, &page.body));
        for tag in tags(&page.body, "a") {
            let Some(href) = attr(&tag, "href") else { continue };
            let href = href.replace("&amp;", "&");
            let href = href.split('#').next().unwrap_or_default();
            if href.starts_with("/console/")
                && !href.contains("/assets/")
                && !href.ends_with("/traffic")
            {
                queue.push_back(href.to_owned());
            }
        }
    }
    assert!(seen.len() > 60, "the crawl reached {} pages: {seen:?}", seen.len());
    for kind in [
        "transit-gateway-attachments/tgw-attach-",
        "transit-gateway-route-tables/tgw-rtb-",
        "customer-gateways/cgw-",
        "vpn-gateways/vgw-",
        "vpn-connections/vpn-",
        "vpn-connections/new",
    ] {
        assert!(seen.iter().any(|p| p.contains(kind)), "{kind} pages crawled: {seen:?}");
    }
    assert!(found.is_empty(), "{} problems:\n{}", found.len(), found.join("\n"));
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    let page = r#"<!DOCTYPE html><html lang="en"><title>t</title><main id="main">
        <label for="a">A</label><input id="a" name="a"><input name="b" type="text">
        <select id="s"></select><input type="hidden" name="h"><a href="/" tabindex="2">x</a>
        <div id="a"></div><img src="x"><label>C <input name="c"></label></main>"#;
    let found = problems("/p", page);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(found.iter().any(|p| p.contains("<input> without a label: name=\"b\"")));
    assert!(found.iter().any(|p| p.contains("<select> without a label")));
    assert!(found.iter().any(|p| p.contains("tabindex=2")));
    assert!(found.iter().any(|p| p.contains("id \"a\" twice")));
    assert!(found.iter().any(|p| p.contains("image without alt")));
}
