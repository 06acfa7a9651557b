//! The resource map: what AWS's console cannot show. The lab drawn as `vpclab graph`
//! draws it (VPCs, subnets, route tables, gateways, peerings, endpoints, instances),
//! with the forwarder's counters beside it, refreshed live; and, from the reachability
//! page, the hops of a traced path marked on it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use maud::{Markup, html};

use super::html::{self, href};
use super::{Cx, Outcome, Request};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], _req: &Request) -> Outcome {
    match rest {
        [] => {
            let body = html! {
                (html::bar("Resource map", html! {
                    a.button href=(href("reachability")) { "Trace a path" }
                }))
                p { "The lab as the forwarder carries it, refreshed every few seconds: an instance "
                    "or the internet outlined " strong.legend-hot { "green" } " carried packets since the "
                    "last look, " strong.legend-drop { "red" } " dropped some (the line below says why). "
                    "Trace a path to see its hops outlined " strong.legend-hop { "orange" } "." }
                (traffic_panel(cx))
                (map(cx, &BTreeSet::new()))
            };
            Outcome::Page(html::page("Resource map", "map", body))
        }
        ["traffic"] => Outcome::Raw("application/json", traffic_json(cx).into_bytes()),
        _ => Outcome::NotFound,
    }
}

/// The map as SVG, with the nodes named in `hops` (map ids) marked.
pub(crate) fn map(cx: &Cx<'_>, hops: &BTreeSet<String>) -> Markup {
    let model = cx.console.model();
    match crate::graph::render(&model, "svg") {
        Ok(svg) => {
            let svg = String::from_utf8_lossy(&svg);
            // From the <svg> element on (no XML prolog or doctype inside HTML).
            let svg = svg.find("<svg").map_or(&svg[..], |at| &svg[at..]);
            html! {
                div.map data-traffic=(href("map/traffic")) role="img" aria-label="Resource map of the lab" {
                    (html::trusted(mark(svg, hops)))
                }
            }
        }
        Err(e) => html! { div.flash.error role="alert" { "The map needs Graphviz: " (e) } },
    }
}

/// Graphviz writes each node as `<g id="nodeN" class="node">` followed by
/// `<title>its id</title>`: marks the ones in `hops`.
fn mark(svg: &str, hops: &BTreeSet<String>) -> String {
    if hops.is_empty() {
        return svg.to_owned();
    }
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(at) = rest.find(r#"class="node">"#) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let title = after
            .find("<title>")
            .and_then(|t| after[t + 7..].find("</title>").map(|e| &after[t + 7..t + 7 + e]));
        if title.is_some_and(|t| hops.contains(t)) {
            out.push_str(r#"class="node hop">"#);
        } else {
            out.push_str(r#"class="node">"#);
        }
        rest = &after[r#"class="node">"#.len()..];
    }
    out.push_str(rest);
    out
}

fn traffic_panel(cx: &Cx<'_>) -> Markup {
    html! {
        p #traffic-status role="status" aria-live="polite" { (summary(cx)) }
    }
}

/// One line of what the forwarder did so far.
fn summary(cx: &Cx<'_>) -> String {
    let Some(c) = cx.console.counters() else {
        return "The data plane is off: nothing carries packets (vpclab serve --no-dataplane)."
            .into();
    };
    let dropped: u64 = c.drops.iter().map(|(_, n)| n).sum();
    let mut line = format!("{} packets in, {} out, {dropped} dropped", c.rx_packets, c.tx_packets);
    let mut reasons: Vec<&(String, u64)> = c.drops.iter().filter(|(_, n)| *n > 0).collect();
    reasons.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    if !reasons.is_empty() {
        line.push_str(" (");
        for (i, (reason, n)) in reasons.iter().take(5).enumerate() {
            let _ = write!(line, "{}{reason} {n}", if i > 0 { ", " } else { "" });
        }
        line.push(')');
    }
    line
}

/// The counters the map's script colours nodes by, keyed by the map's node ids: per
/// instance (and the internet edge) packets sent, received and dropped so far; per NAT
/// gateway and transit gateway (a cluster on the map) packets carried and dropped. The
/// script compares each poll with the last: a node whose counts grew carries traffic
/// now, one whose drops grew is dropping.
fn traffic_json(cx: &Cx<'_>) -> String {
    let mut nodes = serde_json::Map::new();
    if let Some((instances, edge)) = cx.console.port_counters() {
        let entry = |c: vpclab_dataplane::PortCounters| {
            let why = c.last_drop.map(|r| r.name());
            serde_json::json!({ "sent": c.sent, "received": c.received, "dropped": c.dropped, "why": why })
        };
        for (id, c) in instances {
            nodes.insert(node_id(id.as_str()), entry(c));
        }
        nodes.insert("internet".into(), entry(edge));
    }
    if let Some((nats, hubs)) = cx.console.gateway_counters() {
        let entry = |c: vpclab_dataplane::GatewayCounters| serde_json::json!({ "carried": c.carried, "dropped": c.dropped });
        for (id, c) in nats {
            nodes.insert(node_id(id.as_str()), entry(c));
        }
        for (id, c) in hubs {
            nodes.insert(format!("cluster_{}", node_id(id.as_str())), entry(c));
        }
    }
    serde_json::json!({ "summary": summary(cx), "nodes": nodes }).to_string()
}

/// A resource's node id on the map (as `vpclab graph` names nodes).
fn node_id(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// The map ids of the resources named in `text` (a trace): every word that is a
/// resource id, as `vpclab graph` names its nodes.
pub(crate) fn ids_in(text: &str) -> BTreeSet<String> {
    const PREFIXES: &[&str] =
        &["i-", "igw-", "nat-", "rtb-", "pcx-", "vpce-", "tgw-", "subnet-", "eni-", "vpc-"];
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| PREFIXES.iter().any(|p| w.starts_with(p) && w.len() > p.len()))
        .map(node_id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_of_a_trace_are_marked_and_no_others() {
        let svg = r#"<svg><g id="node1" class="node"><title>igw_0a</title></g><g id="node2" class="node"><title>i_0b</title></g></svg>"#;
        let hops = ids_in("route 0.0.0.0/0 -> igw-0a (internet gateway)");
        assert_eq!(hops.iter().map(String::as_str).collect::<Vec<_>>(), ["igw_0a"]);
        let marked = mark(svg, &hops);
        assert!(marked.contains(r#"<g id="node1" class="node hop"><title>igw_0a</title>"#));
        assert!(marked.contains(r#"<g id="node2" class="node"><title>i_0b</title>"#));
        assert_eq!(mark(svg, &BTreeSet::new()), svg);
    }

    #[test]
    fn without_a_data_plane_the_map_says_so() {
        let c = crate::console::testing::console();
        let json = crate::console::testing::get(&c, "/console/map/traffic");
        assert!(json.body.contains("data plane is off"), "{}", json.body);
    }
}
