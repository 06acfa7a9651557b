//! An instance's packets, what AWS's console cannot show: what its interface sent and
//! received through the forwarder and how much of it was dropped, its flow-log records,
//! and a short capture to download as pcap (Wireshark, tcpdump -r).

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use maud::{Markup, html};

use super::html::{self, href};
use super::{Cx, El, Outcome, Request};

/// The most flow-log lines shown.
const FLOW_LINES: usize = 50;
/// How much of the end of each flow-log file is read for them.
const FLOW_TAIL_BYTES: u64 = 256 * 1024;
/// The longest capture, and the most packets one keeps.
const MAX_SECONDS: u64 = 10;
const MAX_PACKETS: u64 = 1000;

/// The "Packets" tab of `instance`.
pub(crate) fn tab(cx: &Cx<'_>, instance: &El) -> Markup {
    let id = instance.text("instanceId");
    let eni = instance
        .items("networkInterfaceSet")
        .find(|n| n.at(&["attachment", "deviceIndex"]) == "0")
        .map_or("", |n| n.text("networkInterfaceId"));
    let counts = cx.console.instance_counters(id);
    let lines = flow_lines(cx, eni);
    html! {
        h2 { "Packets through the forwarder" }
        @match counts {
            Some(c) => (html::details(&[
                ("Sent", html! { (c.sent) }),
                ("Received", html! { (c.received) }),
                ("Dropped (of those sent)", html! { (c.dropped) }),
                ("Last dropped because", match c.last_drop {
                    Some(reason) => html! { code { (reason.name()) } },
                    None => html::or_dash(""),
                }),
            ])),
            None => p.empty { "Not counted: the data plane is off, or the instance is not running." },
        }
        p.hint { "Why packets drop: " a href=(href("map")) { "the map's counters" } " list every reason; "
            a href=(href(&format!("reachability?from={id}"))) { "trace a path" } " to see where one stops." }
        h2 { "Flow log records" }
        @if lines.is_empty() {
            p.empty { "No records. Flow logs record an interface once one covers it (its VPC, subnet or interface: "
                code { "aws ec2 create-flow-logs" } "), at the end of each aggregation interval." }
        } @else {
            pre.trace aria-label="Flow log records" { @for l in &lines { (l) "\n" } }
        }
        h2 { "Capture" }
        form.edit method="post" action=(href(&format!("instances/{id}/capture"))) {
            p { "Packets at " (id) "'s interface, as it sends and receives them, as a pcap file." }
            (html::text_field("seconds", "Seconds", "5", "At most 10"))
            (html::text_field("packets", "Packets", "200", "At most 1000; the capture stops at whichever comes first"))
            div.form-actions { button.primary type="submit" { "Capture and download" } }
        }
    }
}

/// The last flow-log lines about interface `eni`, oldest first.
fn flow_lines(cx: &Cx<'_>, eni: &str) -> Vec<String> {
    if eni.is_empty() {
        return Vec::new();
    }
    let Ok(files) = std::fs::read_dir(crate::flows::dir(cx.console.state())) else {
        return Vec::new();
    };
    let needle = format!(" {eni} ");
    let mut lines = Vec::new();
    for file in files.flatten().take(64) {
        let Ok(mut f) = std::fs::File::open(file.path()) else { continue };
        let len = f.metadata().map_or(0, |m| m.len());
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(FLOW_TAIL_BYTES)));
        let mut text = String::new();
        if f.take(FLOW_TAIL_BYTES).read_to_string(&mut text).is_err() {
            continue;
        }
        lines.extend(text.lines().filter(|l| l.contains(&needle)).map(str::to_owned));
    }
    // Records begin with "2 <account> <eni> …" and carry their start time: by time.
    lines.sort_by_key(|l| l.split_whitespace().nth(10).and_then(|t| t.parse::<u64>().ok()));
    let skip = lines.len().saturating_sub(FLOW_LINES);
    lines.split_off(skip)
}

/// `POST /console/instances/<id>/capture`: a short capture, downloaded.
pub(crate) fn capture(cx: &Cx<'_>, id: &str, req: &Request) -> Outcome {
    if !req.is_post() {
        return Outcome::Redirect(href(&format!("instances/{id}?tab=packets")));
    }
    let bounded = |field: &str, default: u64, max: u64| {
        req.field(field).parse::<u64>().unwrap_or(default).clamp(1, max)
    };
    let (seconds, packets) =
        (bounded("seconds", 5, MAX_SECONDS), bounded("packets", 200, MAX_PACKETS));
    match cx.console.capture(id, Duration::from_secs(seconds), packets) {
        Ok(pcap) => Outcome::Download {
            content_type: "application/vnd.tcpdump.pcap",
            filename: format!("{id}.pcap"),
            body: pcap,
        },
        Err(message) => Outcome::Status(
            400,
            html::page(
                "Capture",
                "instances",
                html! {
                    p.crumbs { a href=(href("instances")) { "Instances" } " › " a href=(href(&format!("instances/{id}?tab=packets"))) { (id) } " › Capture" }
                    h1 { "Capture" }
                    div.flash.error role="alert" { (message) }
                },
            ),
        ),
    }
}
