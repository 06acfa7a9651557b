//! `vpclab check <expectations.yaml>`: declared reachability, tested with real packets.
//!
//! Each expectation names a source (an instance, or an internet host by address), a
//! destination, ICMP or a TCP port, whether it must get through, and optionally the
//! source address the far end must see (the check-ip host and the emulated S3 answer
//! with it). Each is probed for real from inside the source's namespace; a failure is
//! followed by the `trace` of that path, which shows the rule or route at fault.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use serde::Deserialize;

use crate::lab::{self, Result};
use crate::trace::{self, End};

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectations {
    expect: Vec<Expectation>,
}

/// One expectation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    from: String,
    to: String,
    /// A TCP port (probed with an HTTP GET, HTTPS on 443); none: ICMP echo.
    port: Option<u16>,
    reachable: bool,
    /// The source address the destination must see (TCP to an echoing host).
    seen_as: Option<String>,
    /// Over IPv6: instances named by Name or id are probed at their IPv6 addresses (an
    /// IPv6 address at either end implies it).
    #[serde(default)]
    ipv6: bool,
}

/// Attempts of a probe expected to get through (a reply ends them early).
const TRIES: usize = 3;

/// `vpclab check`.
pub(crate) fn run(state: &Path, file: &Path, json: bool) -> Result<ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let expectations: Expectations =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let model = lab::running_model(state)?;
    lab::require_root()?;
    if !json {
        println!("{:<40} {:<9} {:<9} RESULT", "CHECK", "EXPECTED", "GOT");
    }
    let mut failed = Vec::new();
    let mut results = Vec::new();
    for e in &expectations.expect {
        let ipv6 =
            e.ipv6 || [&e.from, &e.to].iter().any(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
        let source = trace::resolve(&model, &e.from, None, ipv6)?;
        let target = trace::resolve(&model, &e.to, Some(&source), ipv6)?;
        let namespace = match &source {
            End::Instance(id, _) => id.to_string(),
            End::Internet(_) => vpclab_dataplane::host::internet_netns().to_owned(),
        };
        let dst = trace::address(&target);
        let what = match e.port {
            Some(port) => format!("{} -> {dst}:{port}", e.from),
            None => format!("{} -> {dst} (ping)", e.from),
        };
        let tries = if e.reachable { TRIES } else { 1 };
        let answer = (0..tries).find_map(|_| probe(&namespace, dst, e.port));
        let got = answer.is_some();
        let seen_ok = match (&e.seen_as, &answer) {
            (Some(expected), Some(body)) => body.trim() == expected,
            _ => true,
        };
        let pass = got == e.reachable && seen_ok;
        let mut result = if pass { "ok".to_owned() } else { "FAIL".to_owned() };
        if let (Some(expected), Some(body)) = (&e.seen_as, &answer) {
            result.push_str(&format!("  (seen as {}, expected {expected})", body.trim()));
        }
        let yes = |b: bool| if b { "yes" } else { "no" };
        if !json {
            println!("{what:<40} {:<9} {:<9} {result}", yes(e.reachable), yes(got));
        }
        let why = if pass {
            None
        } else {
            Some(trace::explain(&model, &e.from, &e.to, None, e.port, e.ipv6)?)
        };
        results.push(serde_json::json!({
            "from": e.from,
            "to": e.to,
            "destination": dst.to_string(),
            "port": e.port,
            "expected_reachable": e.reachable,
            "reachable": got,
            "expected_seen_as": e.seen_as,
            "seen_as": answer.as_ref().filter(|_| e.port.is_some()).map(|b| b.trim().to_owned()),
            "pass": pass,
            "trace": why.as_ref().map(|t| t.json.clone()),
        }));
        if let Some(why) = why {
            failed.push((e, why));
        }
    }
    let total = expectations.expect.len();
    if json {
        let report = serde_json::json!({
            "passed": total - failed.len(),
            "total": total,
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        println!("\n{} of {total} as expected", total - failed.len());
        for (e, why) in &failed {
            println!(
                "\n---- why: vpclab trace{} --from {} --to {}{}",
                if e.ipv6 { " -6" } else { "" },
                e.from,
                e.to,
                e.port.map_or(String::new(), |p| format!(" --port {p}"))
            );
            print!("{}", why.text);
        }
    }
    Ok(if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The port probed with HTTPS rather than HTTP.
const HTTPS_PORT: u16 = 443;

/// One real probe from `namespace`: a ping, or an HTTP GET whose body is returned
/// (HTTPS on 443, as the emulated AWS services speak it there).
fn probe(namespace: &str, dst: std::net::IpAddr, port: Option<u16>) -> Option<String> {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", namespace]);
    let url;
    let address = dst.to_string();
    // An IPv6 address goes in brackets in a URL.
    let host = match dst {
        std::net::IpAddr::V4(_) => address.clone(),
        std::net::IpAddr::V6(_) => format!("[{address}]"),
    };
    match port {
        None => command.args(["ping", "-c", "1", "-W", "1", &address]),
        Some(HTTPS_PORT) => {
            url = format!("https://{host}/");
            // What is checked is the path, to an address: no certificate names one (a
            // name would be checked by `vpclab exec … curl https://<name>/`).
            command.args(["curl", "-s", "-k", "-m", "2", &url])
        }
        Some(port) => {
            url = format!("http://{host}:{port}/");
            command.args(["curl", "-s", "-m", "2", &url])
        }
    };
    let out = command.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_typos_are_refused() {
        let e: Expectations =
            serde_saphyr::from_str(include_str!("../../../examples/two-tier.expect.yaml")).unwrap();
        assert_eq!(e.expect.len(), 6);
        assert_eq!(e.expect[2].port, Some(80));
        assert_eq!(e.expect[2].seen_as.as_deref(), Some("203.0.113.10"));
        assert!(!e.expect[3].reachable);
        let typo = "expect:\n  - { from: a, to: b, reachabel: true }\n";
        assert!(serde_saphyr::from_str::<Expectations>(typo).is_err());
    }
}
