//! `vpclab graph`: the lab as the seed tutorial draws it — the internet, internet
//! gateways, VPCs with their subnets, instances and NAT gateways, route tables,
//! peerings, gateway endpoints, transit gateways with their route tables and
//! attachments, and on-premises sites — as Graphviz DOT, Mermaid, or SVG (through
//! Graphviz's `dot`).
//!
//! The model becomes one [`Picture`] (clusters, nodes, edges); each format is a small
//! printer of it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use vpclab_model::{Model, PeeringStatus, Tags, TgwAttachmentId};

/// How a node looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Internet,
    Gateway,
    Instance,
    Nat,
    Table,
    Endpoint,
    Service,
}

#[derive(Debug)]
struct Node {
    id: String,
    lines: Vec<String>,
    shape: Shape,
}

#[derive(Debug)]
struct Cluster {
    id: String,
    lines: Vec<String>,
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
}

#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    dashed: bool,
    both: bool,
}

/// Everything to draw.
#[derive(Debug, Default)]
struct Picture {
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
    edges: Vec<Edge>,
}

/// An id any format accepts.
fn ident(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

fn named(tags: &Tags, id: &str) -> String {
    match tags.get("Name") {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

fn picture(m: &Model) -> Picture {
    let mut p = Picture::default();
    p.nodes.push(Node {
        id: "internet".into(),
        lines: vec!["Internet".into(), "198.51.100.0/24".into()],
        shape: Shape::Internet,
    });
    if m.vpc_endpoints().next().is_some() {
        for (id, name, cidr) in vpclab_model::PREFIX_LISTS {
            if m.vpc_endpoints().any(|e| e.prefix_list == id) {
                p.nodes.push(Node {
                    id: ident(id),
                    lines: vec![name.to_owned(), format!("{id} {cidr}")],
                    shape: Shape::Service,
                });
            }
        }
    }
    for vpc in m.vpcs() {
        let vid = ident(vpc.id.as_str());
        let mut cluster = Cluster {
            id: vid.clone(),
            lines: vec![
                format!("VPC {}", named(&vpc.tags, vpc.id.as_str())),
                // IPv4 CIDRs, then IPv6 blocks.
                vpc.cidrs()
                    .map(|c| c.to_string())
                    .chain(vpc.ipv6_cidrs().map(|c| c.to_string()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ],
            nodes: Vec::new(),
            clusters: Vec::new(),
        };
        // Its gateways to the internet: both ways, or out only (an egress-only one:
        // replies come back, nothing opens a flow in).
        let igw = m.gateway_of(&vpc.id).map(|g| (g.id.as_str(), "internet gateway", false));
        let eigw = m
            .egress_only_gateway_of(&vpc.id)
            .map(|g| (g.id.as_str(), "egress-only internet gateway", true));
        for (id, kind, out_only) in igw.into_iter().chain(eigw) {
            let gid = ident(id);
            cluster.nodes.push(Node {
                id: gid.clone(),
                lines: vec![kind.into(), id.to_owned()],
                shape: Shape::Gateway,
            });
            let internet = String::from("internet");
            let (from, to) = if out_only { (gid, internet) } else { (internet, gid) };
            let label = out_only.then(|| "IPv6 out".to_owned());
            p.edges.push(Edge { from, to, label, dashed: false, both: !out_only });
        }
        for table in m.route_tables().filter(|t| t.vpc == vpc.id) {
            let main = if vpc.main_route_table == table.id { " (main)" } else { "" };
            let mut lines = vec![format!("route table {}{main}", table.id)];
            // IPv4 routes (those propagated included), then IPv6 ones.
            let v4 = m.routes_in_force(table);
            let v4 = v4.iter().map(|r| (r.destination_name(), &r.target, m.is_blackhole(table, r)));
            let v6 = table.ipv6_routes.iter();
            let v6 = v6.map(|r| (r.destination.to_string(), &r.target, m.is_blackhole(table, r)));
            for (destination, target, blackhole) in v4.chain(v6) {
                let state = if blackhole { " (blackhole)" } else { "" };
                lines.push(format!("{destination} → {target}{state}"));
            }
            cluster.nodes.push(Node { id: ident(table.id.as_str()), lines, shape: Shape::Table });
        }
        for subnet in m.subnets().filter(|s| s.vpc == vpc.id) {
            let sid = ident(subnet.id.as_str());
            let mut inner = Cluster {
                id: sid.clone(),
                lines: vec![
                    format!("subnet {}", named(&subnet.tags, subnet.id.as_str())),
                    [subnet.cidr.map(|c| c.to_string()), subnet.ipv6_cidr().map(|c| c.to_string())]
                        .into_iter()
                        .flatten()
                        .chain([subnet.zone.clone()])
                        .collect::<Vec<_>>()
                        .join(" "),
                ],
                nodes: Vec::new(),
                clusters: Vec::new(),
            };
            for i in m.instances().filter(|i| i.subnet == subnet.id) {
                let mut lines = vec![named(&i.tags, i.id.as_str())];
                lines.extend(i.private_ip.map(|ip| ip.to_string()));
                lines.extend(i.ipv6_addresses.iter().map(ToString::to_string));
                if let Some((ip, _)) = &i.public_ip {
                    lines.push(format!("public {ip}"));
                }
                inner.nodes.push(Node { id: ident(i.id.as_str()), lines, shape: Shape::Instance });
            }
            for nat in m.nat_gateways().filter(|n| n.subnet == subnet.id) {
                inner.nodes.push(Node {
                    id: ident(nat.id.as_str()),
                    lines: vec![
                        match (&nat.public, &nat.failure) {
                            (_, Some(_)) => "NAT gateway (failed)".into(),
                            (Some(_), None) => "NAT gateway".into(),
                            (None, None) => "private NAT gateway".into(),
                        },
                        nat.id.to_string(),
                        match &nat.public {
                            Some(public) => format!("{} / {}", nat.private_ip, public.public_ip),
                            None => nat.private_ip.to_string(),
                        },
                    ],
                    shape: Shape::Nat,
                });
            }
            if let Ok(table) = m.route_table_of(&subnet.id) {
                p.edges.push(Edge {
                    from: sid,
                    to: ident(table.id.as_str()),
                    label: None,
                    dashed: true,
                    both: false,
                });
            }
            cluster.clusters.push(inner);
        }
        for e in m.vpc_endpoints().filter(|e| e.vpc == vpc.id) {
            let eid = ident(e.id.as_str());
            if let Some(interface) = &e.interface {
                let mut lines = vec![format!("interface endpoint {}", e.id), e.service.clone()];
                lines.extend(interface.interfaces.iter().map(|i| i.private_ip.to_string()));
                if interface.private_dns {
                    lines.push("private DNS".into());
                }
                cluster.nodes.push(Node { id: eid.clone(), lines, shape: Shape::Endpoint });
                let service = ident(&e.service);
                if !p.nodes.iter().any(|n| n.id == service) {
                    p.nodes.push(Node {
                        id: service.clone(),
                        lines: vec![e.service.clone(), e.cidr.addr().to_string()],
                        shape: Shape::Service,
                    });
                }
                p.edges.push(Edge {
                    from: eid,
                    to: service,
                    label: None,
                    dashed: false,
                    both: true,
                });
                continue;
            }
            cluster.nodes.push(Node {
                id: eid.clone(),
                lines: vec!["gateway endpoint".into(), e.id.to_string()],
                shape: Shape::Endpoint,
            });
            p.edges.push(Edge {
                from: eid,
                to: ident(&e.prefix_list),
                label: None,
                dashed: false,
                both: true,
            });
        }
        p.clusters.push(cluster);
    }
    transit_gateways(m, &mut p);
    onprem_sites(m, &mut p);
    vpn_connections(m, &mut p);
    for pcx in m.peering_connections() {
        if matches!(pcx.status, PeeringStatus::Deleted | PeeringStatus::Rejected) {
            continue;
        }
        p.edges.push(Edge {
            from: ident(pcx.requester.as_str()),
            to: ident(pcx.accepter.as_str()),
            label: Some(format!("{} {}", pcx.id, pcx.status.code())),
            dashed: pcx.status != PeeringStatus::Active,
            both: true,
        });
    }
    p
}

/// Each transit gateway: a cluster of its route tables (what each routes, and for whom),
/// joined to every VPC attached to it by an edge named after the attachment.
fn transit_gateways(m: &Model, p: &mut Picture) {
    let name = |id: &TgwAttachmentId| match m.tgw_attachment(id) {
        Ok(a) => named(&a.tags, a.id.as_str()),
        Err(_) => id.to_string(),
    };
    for tgw in m.transit_gateways() {
        let tid = ident(tgw.id.as_str());
        let mut cluster = Cluster {
            id: tid.clone(),
            lines: vec![
                format!("transit gateway {}", named(&tgw.tags, tgw.id.as_str())),
                format!("Amazon ASN {}", tgw.options.amazon_side_asn),
            ],
            nodes: Vec::new(),
            clusters: Vec::new(),
        };
        for table in m.tgw_route_tables().filter(|t| t.tgw == tgw.id) {
            let mut lines =
                vec![format!("tgw route table {}", named(&table.tags, table.id.as_str()))];
            let associated: Vec<String> = m
                .tgw_attachments()
                .filter(|a| a.association.as_ref() == Some(&table.id))
                .map(|a| name(&a.id))
                .collect();
            if !associated.is_empty() {
                lines.push(format!("for: {}", associated.join(", ")));
            }
            for route in m.tgw_routes(table) {
                let to = route.attachment.as_ref().map_or("blackhole".to_owned(), name);
                lines.push(format!("{} → {to} ({})", route.destination, route.kind.as_str()));
            }
            cluster.nodes.push(Node { id: ident(table.id.as_str()), lines, shape: Shape::Table });
        }
        p.clusters.push(cluster);
        for a in m.tgw_attachments().filter(|a| a.tgw == tgw.id) {
            if let vpclab_model::AttachmentResource::Peering { peer, state, .. } = &a.resource {
                // Between the two hubs; dashed until the accepter accepts.
                let carries = *state == vpclab_model::PeeringAttachmentState::Available;
                let label = match carries {
                    true => format!("{} (peering)", name(&a.id)),
                    false => format!("{} (peering, {})", name(&a.id), state.as_str()),
                };
                p.edges.push(Edge {
                    from: tid.clone(),
                    to: ident(peer.as_str()),
                    label: Some(label),
                    dashed: !carries,
                    both: true,
                });
                continue;
            }
            let Some(vpc) = a.vpc() else { continue };
            let appliance = a.vpc_options().is_some_and(|o| o.appliance_mode_support);
            let mode = if appliance { " (appliance mode)" } else { "" };
            p.edges.push(Edge {
                from: ident(vpc.as_str()),
                to: tid.clone(),
                label: Some(format!("{}{mode}", name(&a.id))),
                dashed: a.association.is_none(),
                both: true,
            });
        }
    }
}

/// Each on-premises site: a cluster of its router and hosts, the router joined to the
/// internet by its public address. Node ids come from the sites' namespace names, which
/// the model keeps unique.
fn onprem_sites(m: &Model, p: &mut Picture) {
    for site in m.onprem_sites() {
        let ids: Vec<String> = site.namespace_suffixes().iter().map(|s| ident(s)).collect();
        let (router, hosts) = ids.split_first().expect("a site has a router");
        let cidrs: Vec<String> = site.cidrs.iter().map(ToString::to_string).collect();
        let mut cluster = Cluster {
            id: format!("site_{router}"),
            lines: vec![format!("on-premises site {}", site.name), cidrs.join(", ")],
            nodes: Vec::new(),
            clusters: Vec::new(),
        };
        let mut lines = vec!["router".to_owned(), format!("public {}", site.public_ip)];
        lines.extend(site.router_addresses().map(|(_, ip)| ip.to_string()));
        lines.push(format!("ASN {}", site.bgp_asn));
        cluster.nodes.push(Node { id: router.clone(), lines, shape: Shape::Gateway });
        for (host, id) in site.hosts.iter().zip(hosts) {
            let lines = vec![host.name.clone(), host.ip.to_string()];
            cluster.nodes.push(Node { id: id.clone(), lines, shape: Shape::Instance });
            // On the router's LAN: below it.
            p.edges.push(Edge {
                from: router.clone(),
                to: id.clone(),
                label: None,
                dashed: false,
                both: false,
            });
        }
        p.clusters.push(cluster);
        p.edges.push(Edge {
            from: "internet".into(),
            to: router.clone(),
            label: None,
            dashed: false,
            both: true,
        });
    }
}

/// Virtual private gateways beside their VPCs, and each VPN connection from its gateway
/// (virtual private or transit) to its customer gateway: the site whose router has its
/// address, or a node of its own on the internet. Dashed while no tunnel is up; the
/// label counts the tunnels up, as VgwTelemetry reports them.
fn vpn_connections(m: &Model, p: &mut Picture) {
    for vgw in m.vpn_gateways() {
        let id = ident(vgw.id.as_str());
        let lines = vec![
            format!("virtual private gateway {}", named(&vgw.tags, vgw.id.as_str())),
            format!("Amazon ASN {}", vgw.amazon_side_asn),
        ];
        p.nodes.push(Node { id: id.clone(), lines, shape: Shape::Gateway });
        if let Some(vpc) = vgw.attached_to() {
            p.edges.push(Edge {
                from: ident(vpc.as_str()),
                to: id,
                label: None,
                dashed: false,
                both: true,
            });
        }
    }
    for c in m.vpn_connections() {
        let Ok(cgw) = m.customer_gateway(&c.spec.customer_gateway) else { continue };
        let gateway = match (c.vpn_gateway(), c.transit_gateway()) {
            (Some(vgw), _) => ident(vgw.as_str()),
            (None, Some(tgw)) => ident(tgw.as_str()),
            (None, None) => continue,
        };
        let site = m.onprem_sites().find(|s| s.public_ip == cgw.spec.ip_address);
        let end = match site {
            Some(site) => ident(&site.namespace_suffixes()[0]),
            None => {
                let id = ident(cgw.id.as_str());
                let lines = vec![
                    format!("customer gateway {}", named(&cgw.tags, cgw.id.as_str())),
                    format!("{} ASN {}", cgw.spec.ip_address, cgw.spec.bgp_asn),
                ];
                if !p.nodes.iter().any(|n| n.id == id) {
                    p.nodes.push(Node { id: id.clone(), lines, shape: Shape::Gateway });
                    p.edges.push(Edge {
                        from: "internet".into(),
                        to: id.clone(),
                        label: None,
                        dashed: false,
                        both: true,
                    });
                }
                id
            }
        };
        let bgp = !c.spec.static_routes_only;
        let up = c.live.iter().filter(|t| t.up(bgp)).count();
        let kind = if bgp { "BGP" } else { "static" };
        p.edges.push(Edge {
            from: gateway,
            to: end,
            label: Some(format!("{} ({kind}, {up}/2 tunnels up)", named(&c.tags, c.id.as_str()))),
            dashed: up == 0,
            both: true,
        });
    }
}

/// Graphviz DOT.
fn dot(p: &Picture) -> String {
    fn quote(lines: &[String]) -> String {
        let text: Vec<String> =
            lines.iter().map(|l| l.replace('\\', "\\\\").replace('"', "\\\"")).collect();
        format!("\"{}\"", text.join("\\n"))
    }
    fn node(out: &mut String, n: &Node, indent: &str) {
        let style = match n.shape {
            Shape::Internet => "shape=ellipse, style=filled, fillcolor=\"#dde8f8\"",
            Shape::Gateway => "shape=doubleoctagon, style=filled, fillcolor=\"#f8e3c4\"",
            Shape::Instance => "shape=box, style=\"rounded,filled\", fillcolor=white",
            Shape::Nat => "shape=hexagon, style=filled, fillcolor=\"#f8e3c4\"",
            Shape::Table => "shape=note, fontsize=9",
            Shape::Endpoint => "shape=component, style=filled, fillcolor=\"#e2f0d9\"",
            Shape::Service => "shape=cylinder, style=filled, fillcolor=\"#e2f0d9\"",
        };
        let _ = writeln!(out, "{indent}{} [label={}, {style}];", n.id, quote(&n.lines));
    }
    fn cluster(out: &mut String, c: &Cluster, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = writeln!(out, "{indent}subgraph cluster_{} {{", c.id);
        let fill = if depth == 1 { "#f4f7fb" } else { "#ffffff" };
        let _ = writeln!(
            out,
            "{indent}  label={}; style=\"rounded,filled\"; fillcolor=\"{fill}\";",
            quote(&c.lines)
        );
        // An invisible point that edges to the cluster attach to.
        let _ = writeln!(out, "{indent}  {}_anchor [shape=point, style=invis];", c.id);
        for n in &c.nodes {
            node(out, n, &format!("{indent}  "));
        }
        for inner in &c.clusters {
            cluster(out, inner, depth + 1);
        }
        let _ = writeln!(out, "{indent}}}");
    }
    let clusters: Vec<&str> = all_clusters(&p.clusters);
    let end = |id: &str| -> (String, Option<String>) {
        if clusters.contains(&id) {
            (format!("{id}_anchor"), Some(id.to_owned()))
        } else {
            (id.to_owned(), None)
        }
    };
    let mut out = String::from(
        "digraph vpclab {\n  compound=true; rankdir=TB; newrank=true;\n  \
         node [fontname=\"Helvetica\", fontsize=10]; edge [fontname=\"Helvetica\", fontsize=9];\n  \
         graph [fontname=\"Helvetica\", fontsize=11];\n",
    );
    for n in &p.nodes {
        node(&mut out, n, "  ");
    }
    out.push_str("  { rank=min; internet; }\n");
    for c in &p.clusters {
        cluster(&mut out, c, 1);
    }
    for e in &p.edges {
        let (from, tail) = end(&e.from);
        let (to, head) = end(&e.to);
        let mut attrs = Vec::new();
        if let Some(t) = tail {
            attrs.push(format!("ltail=cluster_{t}"));
        }
        if let Some(h) = head {
            attrs.push(format!("lhead=cluster_{h}"));
        }
        if let Some(label) = &e.label {
            attrs.push(format!("label={}", quote(std::slice::from_ref(label))));
        }
        if e.dashed {
            attrs.push("style=dashed".into());
        }
        attrs.push(if e.both { "dir=both".into() } else { "arrowhead=none".into() });
        let _ = writeln!(out, "  {from} -> {to} [{}];", attrs.join(", "));
    }
    out.push_str("}\n");
    out
}

fn all_clusters(clusters: &[Cluster]) -> Vec<&str> {
    let mut ids = Vec::new();
    for c in clusters {
        ids.push(c.id.as_str());
        ids.extend(all_clusters(&c.clusters));
    }
    ids
}

/// Mermaid `flowchart`.
fn mermaid(p: &Picture) -> String {
    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| l.replace('"', "#quot;")).collect::<Vec<_>>().join("<br/>")
    }
    fn node(out: &mut String, n: &Node, indent: &str) {
        let label = text(&n.lines);
        let shaped = match n.shape {
            Shape::Internet => format!("((\"{label}\"))"),
            Shape::Gateway | Shape::Nat => format!("{{{{\"{label}\"}}}}"),
            Shape::Instance => format!("(\"{label}\")"),
            Shape::Table => format!("[/\"{label}\"/]"),
            Shape::Endpoint => format!("[[\"{label}\"]]"),
            Shape::Service => format!("[(\"{label}\")]"),
        };
        let _ = writeln!(out, "{indent}{}{shaped}", n.id);
    }
    fn cluster(out: &mut String, c: &Cluster, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = writeln!(out, "{indent}subgraph {}[\"{}\"]", c.id, text(&c.lines));
        for n in &c.nodes {
            node(out, n, &format!("{indent}  "));
        }
        for inner in &c.clusters {
            cluster(out, inner, depth + 1);
        }
        let _ = writeln!(out, "{indent}end");
    }
    let mut out = String::from("flowchart TB\n");
    for n in &p.nodes {
        node(&mut out, n, "  ");
    }
    for c in &p.clusters {
        cluster(&mut out, c, 1);
    }
    for e in &p.edges {
        let arrow = match (e.dashed, e.both) {
            (true, true) => "<-.->",
            (true, false) => "-.-",
            (false, true) => "<-->",
            (false, false) => "---",
        };
        match &e.label {
            Some(label) => {
                let _ = writeln!(out, "  {} {arrow}|\"{label}\"| {}", e.from, e.to);
            }
            None => {
                let _ = writeln!(out, "  {} {arrow} {}", e.from, e.to);
            }
        }
    }
    out
}

/// The picture of `model` in `format` (`dot`, `mermaid` or `svg`).
pub(crate) fn render(model: &Model, format: &str) -> Result<Vec<u8>, String> {
    let p = picture(model);
    match format {
        "dot" => Ok(dot(&p).into_bytes()),
        "mermaid" | "mmd" => Ok(mermaid(&p).into_bytes()),
        "svg" => svg(&dot(&p)),
        other => Err(format!("--format {other:?}: expected svg, dot or mermaid")),
    }
}

/// The longest `dot` may take to lay a lab out.
const DOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Graphviz's `dot -Tsvg` on `source`.
fn svg(source: &str) -> Result<Vec<u8>, String> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run Graphviz's `dot` ({e}); install it (apt install graphviz) or use \
                 --format dot|mermaid"
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(source.as_bytes()).map_err(|e| format!("dot: {e}"))?;
    }
    // Bounded: its output is read on a thread of its own (a large picture fills the
    // pipe before dot exits), and a layout that takes longer is killed (the console
    // must not hang on it).
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(DOT_TIMEOUT) {
        Ok(out) => out.map_err(|e| format!("dot: {e}"))?,
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            return Err(format!(
                "dot took longer than {} s; use --format dot",
                DOT_TIMEOUT.as_secs()
            ));
        }
    };
    if !out.status.success() {
        return Err(format!("dot failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Model {
        crate::topology::build(&crate::topology::parse(text).unwrap(), 1).unwrap()
    }

    #[test]
    fn the_two_tier_lab_is_drawn_whole() {
        let m = model(include_str!("../../../examples/two-tier.yaml"));
        let dot = String::from_utf8(render(&m, "dot").unwrap()).unwrap();
        for instance in m.instances() {
            assert!(dot.contains(&instance.private_ip.unwrap().to_string()), "{instance:?}");
            assert!(dot.contains(instance.name().unwrap()));
        }
        assert!(dot.contains("203.0.113.10"), "web's Elastic IP");
        for t in m.route_tables() {
            assert!(dot.contains(&format!("route table {}", t.id)));
        }
        assert!(dot.contains("0.0.0.0/0 → igw-"));
        assert!(dot.contains("internet -> igw_"), "the gateway meets the internet");
        assert_eq!(dot.matches("subgraph cluster_").count(), 2 + m.subnets().count());
        assert_eq!(dot.matches('{').count(), dot.matches('}').count());

        let mermaid = String::from_utf8(render(&m, "mermaid").unwrap()).unwrap();
        assert!(mermaid.starts_with("flowchart TB\n"));
        assert_eq!(
            mermaid.matches("subgraph ").count(),
            mermaid.matches("\n  end\n").count() + m.subnets().count()
        );
    }

    #[test]
    fn a_dual_stack_lab_is_drawn_with_its_ipv6_blocks_addresses_routes_and_gateways() {
        let m = model(include_str!("../../../examples/dual-stack.yaml"));
        let dot = String::from_utf8(render(&m, "dot").unwrap()).unwrap();
        let vpc = m.vpcs().next().unwrap();
        let block = vpc.ipv6_cidrs().next().expect("an Amazon-provided /56");
        assert!(dot.contains(&format!("10.0.0.0/16, {block}")), "{dot}");
        for subnet in m.subnets() {
            let block = subnet.ipv6_cidr().expect("a /64 each");
            assert!(dot.contains(&format!("{} {block} ", subnet.cidr.unwrap())), "{dot}");
        }
        for instance in m.instances() {
            let address = instance.ipv6_addresses.first().expect("assigned on creation");
            assert!(dot.contains(&address.to_string()), "{instance:?}");
        }
        assert!(dot.contains("::/0 → eigw-"), "{dot}");
        assert!(dot.contains("::/0 → igw-"), "{dot}");
        assert!(dot.contains("egress-only internet gateway"), "{dot}");
        assert!(dot.contains("-> internet") && dot.contains("IPv6 out"), "{dot}");
        let mermaid = String::from_utf8(render(&m, "mermaid").unwrap()).unwrap();
        assert!(mermaid.contains("egress-only internet gateway"));
    }

    #[test]
    fn peerings_and_endpoints_appear() {
        let m = model(include_str!("../../../examples/peering.yaml"));
        let dot = String::from_utf8(render(&m, "dot").unwrap()).unwrap();
        assert_eq!(dot.matches(" active\"").count(), 2, "a-b and b-c");
        assert!(dot.contains("ltail=cluster_vpc_"));
        let m = model(include_str!("../../../examples/gateway-endpoint.yaml"));
        let mermaid = String::from_utf8(render(&m, "mermaid").unwrap()).unwrap();
        assert!(mermaid.contains("com.amazonaws.us-east-1.s3"), "{mermaid}");
        assert!(mermaid.contains("pl-63a5400a → vpce-"), "{mermaid}");
    }

    #[test]
    fn transit_gateways_show_their_tables_and_attachments() {
        let m = model(include_str!("../../../examples/transit-gateway.yaml"));
        let dot = String::from_utf8(render(&m, "dot").unwrap()).unwrap();
        assert!(dot.contains("transit gateway hub (tgw-"), "{dot}");
        assert!(dot.contains("tgw route table spokes (tgw-rtb-"), "{dot}");
        assert!(dot.contains("for: dev-att (tgw-attach-"), "{dot}");
        assert!(dot.contains("10.3.9.0/24 → blackhole (static)"), "{dot}");
        assert!(dot.contains("10.3.0.0/16 → shared-att (tgw-attach-"), "{dot}");
        assert_eq!(dot.matches("lhead=cluster_tgw_").count(), 3, "three attachments: {dot}");
        let m = model(include_str!("../../../examples/inspection.yaml"));
        let mermaid = String::from_utf8(render(&m, "mermaid").unwrap()).unwrap();
        assert!(mermaid.contains("(appliance mode)"), "{mermaid}");
        // Two hubs peered: one edge between them, dashed while not accepted.
        let peered = include_str!("../../../examples/transit-peering.yaml");
        let dot = String::from_utf8(render(&model(peered), "dot").unwrap()).unwrap();
        let edge = dot.lines().find(|l| l.contains("(peering)")).expect(&dot);
        assert!(edge.contains("cluster_tgw_") && !edge.contains("dashed"), "{edge}");
        let pending = model(&peered.replace("accept: true", "accept: false"));
        let dot = String::from_utf8(render(&pending, "dot").unwrap()).unwrap();
        let edge = dot.lines().find(|l| l.contains("(peering, pendingAcceptance)")).expect(&dot);
        assert!(edge.contains("dashed"), "{edge}");
    }

    /// With Graphviz (CI installs it): an SVG with every instance in it. Without: an
    /// error that says what to install.
    #[test]
    fn svg_goes_through_graphviz_or_says_how_to_get_it() {
        let m = model(include_str!("../../../examples/nat-gateway.yaml"));
        let graphviz = Command::new("dot").arg("-V").output().is_ok_and(|o| o.status.success());
        match render(&m, "svg") {
            Ok(svg) => {
                assert!(graphviz);
                let svg = String::from_utf8(svg).unwrap();
                assert!(svg.contains("<svg"), "{svg}");
                for instance in m.instances() {
                    assert!(svg.contains(&instance.private_ip.unwrap().to_string()));
                }
            }
            Err(e) => {
                assert!(!graphviz, "{e}");
                assert!(e.contains("apt install graphviz"), "{e}");
            }
        }
    }

    #[test]
    fn onprem_sites_hang_off_the_internet() {
        let m = model(include_str!("../../../examples/onprem-site.yaml"));
        let dot = String::from_utf8(render(&m, "dot").unwrap()).unwrap();
        assert!(dot.contains("subgraph cluster_site_onprem_hq {"), "{dot}");
        assert!(dot.contains("on-premises site hq\\n172.16.0.0/16"), "{dot}");
        assert!(dot.contains("public 198.51.100.10\\n172.16.0.1\\nASN 65010"), "{dot}");
        assert!(dot.contains("onprem_hq_server [label=\"server\\n172.16.5.20\""), "{dot}");
        assert!(dot.contains("internet -> onprem_hq [dir=both]"), "{dot}");
        let mermaid = String::from_utf8(render(&m, "mermaid").unwrap()).unwrap();
        assert!(mermaid.contains("internet <--> onprem_hq"), "{mermaid}");
    }

    #[test]
    fn vpn_connections_join_a_gateway_to_the_site_of_their_customer_gateway() {
        let mut m = model(include_str!("../../../examples/onprem-site.yaml"));
        let vpc = m.vpcs().next().unwrap().id.clone();
        let vgw = m.create_vpn_gateway(None, None, Tags::new(), 0).unwrap();
        m.attach_vpn_gateway(&vgw, &vpc, 0).unwrap();
        let at_site = vpclab_model::CustomerGatewaySpec::new(
            std::net::Ipv4Addr::new(198, 51, 100, 10),
            None,
            None,
            None,
        )
        .unwrap();
        let elsewhere = vpclab_model::CustomerGatewaySpec::new(
            std::net::Ipv4Addr::new(198, 51, 100, 99),
            None,
            None,
            None,
        )
        .unwrap();
        for spec in [at_site, elsewhere] {
            let cgw = m.create_customer_gateway(spec, Tags::new(), 0);
            let connection = vpclab_model::VpnConnectionSpec {
                customer_gateway: cgw,
                end: Some(vpclab_model::VpnEnd::VpnGateway(vgw.clone())),
                static_routes_only: false,
                tunnel_bandwidth: None,
                tunnels: Default::default(),
            };
            m.create_vpn_connection(connection, Tags::new(), 0).unwrap();
        }
        let dot = String::from_utf8(render(&m, "dot").unwrap()).unwrap();
        let vgw = ident(vgw.as_str());
        assert!(dot.contains(&format!("{}_anchor -> {vgw}", ident(vpc.as_str()))), "{dot}");
        assert!(dot.contains(&format!("{vgw} -> onprem_hq [label=\"vpn-")), "{dot}");
        assert!(dot.contains("BGP, 0/2 tunnels up"), "{dot}");
        assert!(dot.contains("198.51.100.99 ASN 65000"), "a customer gateway of no site: {dot}");
    }

    #[test]
    fn unknown_formats_are_refused() {
        let m = Model::new(1);
        assert!(render(&m, "png").unwrap_err().contains("expected svg, dot or mermaid"));
    }
}
