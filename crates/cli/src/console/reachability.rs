//! Reachability: `vpclab trace` between two chosen ends, with AWS Reachability
//! Analyzer's explanation codes, and its hops marked on the map.

use maud::html;

use super::html::{self, href};
use super::{Cx, Outcome, Request};

pub(crate) fn route(cx: &Cx<'_>, rest: &[&str], req: &Request) -> Outcome {
    if !rest.is_empty() {
        return Outcome::NotFound;
    }
    let model = cx.console.model();
    let mut ends: Vec<(String, String)> = model
        .instances()
        .map(|i| {
            let name = i.name().map_or(String::new(), |n| format!(" ({n})"));
            let address = match (i.private_ip, i.ipv6_addresses.first()) {
                (Some(ip), _) => ip.to_string(),
                (None, Some(ip)) => ip.to_string(),
                (None, None) => String::new(),
            };
            (i.id.to_string(), format!("{}{name} – {address}", i.id))
        })
        .collect();
    ends.push(("198.51.100.1".into(), "checkip.amazonaws.com – 198.51.100.1 (internet)".into()));
    let (from, to) = (req.param("from"), req.param("to"));
    let protocol = match req.param("protocol") {
        "" => "icmp",
        p => p,
    };
    let port = req.param("port");
    let traced = (!from.is_empty() && !to.is_empty()).then(|| {
        let port = port.parse::<u16>().ok().filter(|_| protocol != "icmp");
        // Over IPv6 when an end has no IPv4 (an instance of an IPv6-only subnet).
        let ipv4_less =
            |end: &str| model.find_instance(end).is_some_and(|i| i.private_ip.is_none());
        let ipv6 = ipv4_less(from) || ipv4_less(to);
        crate::trace::explain(&model, from, to, Some(protocol), port, ipv6)
    });
    let protocols = [
        ("icmp".to_owned(), "ICMP (ping)".to_owned()),
        ("tcp".to_owned(), "TCP".to_owned()),
        ("udp".to_owned(), "UDP".to_owned()),
    ];
    let body = html! {
        h1 { "Reachability" }
        p { "Traces the first packet of a new flow and its answer through the lab's rules — "
            "route tables, gateways, security groups, network ACLs — as the forwarder would "
            "carry it, without sending anything." }
        form.edit method="get" action=(href("reachability")) {
            fieldset {
                legend { "Path" }
                (html::select("from", "Source", &ends, from))
                label for="to" { "Destination" span.hint { "An instance, or any address (an instance's, an internet host's)" } }
                input #to type="text" name="to" value=(to) list="ends";
                datalist #ends { @for (value, text) in &ends { option value=(value) { (text) } } }
                (html::select("protocol", "Protocol", &protocols, protocol))
                (html::text_field("port", "Destination port", port, "TCP and UDP only"))
            }
            div.form-actions { button.primary type="submit" { "Analyze path" } }
        }
        @match &traced {
            Some(Ok(t)) => {
                h2 { "Result: " (if t.reachable { "Reachable" } else { "Not reachable" }) }
                pre.trace { (t.text) }
                (super::map::map(cx, &super::map::ids_in(&t.text)))
            }
            Some(Err(e)) => div.flash.error role="alert" { (e) },
            None => {}
        }
    };
    Outcome::Page(html::page("Reachability", "reachability", body))
}

#[cfg(test)]
mod tests {
    use crate::console::testing::{api, console, get};

    #[test]
    fn a_path_is_traced_with_its_verdict() {
        let c = console();
        let vpc = api(&c, "CreateVpc", &[("CidrBlock", "10.0.0.0/16")]);
        let vpc = vpc.at(&["vpc", "vpcId"]).to_owned();
        let subnet = api(&c, "CreateSubnet", &[("VpcId", &vpc), ("CidrBlock", "10.0.1.0/24")]);
        let subnet = subnet.at(&["subnet", "subnetId"]).to_owned();
        let image = api(&c, "DescribeImages", &[]);
        let image = image.items("imagesSet").next().unwrap().text("imageId").to_owned();
        let run = |ip: &str| {
            let r = api(
                &c,
                "RunInstances",
                &[
                    ("ImageId", &image),
                    ("MinCount", "1"),
                    ("MaxCount", "1"),
                    ("SubnetId", &subnet),
                    ("PrivateIpAddress", ip),
                ],
            );
            r.items("instancesSet").next().unwrap().text("instanceId").to_owned()
        };
        let (a, _b) = (run("10.0.1.10"), run("10.0.1.11"));
        let page = get(&c, &format!("/console/reachability?from={a}&to=10.0.1.11&protocol=icmp"));
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Result: Reachable"), "{}", page.body);
        let out = get(
            &c,
            &format!("/console/reachability?from={a}&to=198.51.100.1&protocol=tcp&port=80"),
        );
        assert!(out.body.contains("Result: Not reachable"), "no internet gateway: {}", out.body);
    }
}
