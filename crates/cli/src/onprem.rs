//! `vpclab onprem`: on-premises sites of the running lab, and the daemon's side of it.
//!
//! `create` and `delete` change the daemon's model through its control socket, so that
//! a site is stored, made real and mirrored as an API call's change is (and a refused
//! one changes nothing); `list` reads the mirror. The spec travels as JSON and is
//! checked by the model alone, as a topology file's `onprem_sites:` is.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vpclab_api::Service;
use vpclab_dataplane::host::internet_netns;
use vpclab_dataplane::onprem::{host_namespace, router_namespace};
use vpclab_model::{Model, OnpremHostSpec, OnpremSite, OnpremSiteSpec};

use crate::lab::{self, Result};

/// The control socket's commands (each followed by a space and its argument).
const CREATE: &str = "onprem-create";
const DELETE: &str = "onprem-delete";

/// How long the daemon may take to answer: making a site is a few process starts per
/// host.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The daemon's answer to an `onprem-…` command.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    /// The site as created, or as it was when deleted.
    Done(OnpremSite),
    /// Why not, as the model said it (`Code: message`) or the command was malformed.
    Error(String),
}

/// `vpclab onprem create`.
pub(crate) fn create(
    state: &Path,
    name: &str,
    cidrs: &[String],
    public_ip: Option<&str>,
    asn: Option<u64>,
    hosts: &[String],
) -> Result<()> {
    let spec = OnpremSiteSpec {
        name: name.to_owned(),
        cidrs: cidrs
            .iter()
            .map(|c| vpclab_model::parse_site_cidr(c))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| e.to_string())?,
        public_ip: public_ip
            .map(|ip| vpclab_model::parse_address(ip, "public address"))
            .transpose()
            .map_err(|e| e.to_string())?,
        bgp_asn: asn,
        hosts: hosts
            .iter()
            .map(|h| h.parse::<OnpremHostSpec>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| e.to_string())?,
    };
    let json = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let site = ask(state, &format!("{CREATE} {json}"))?;
    let router = router_namespace(&site.name, internet_netns());
    println!("site {} is up: its router is {} in namespace {router}", site.name, site.public_ip);
    for host in &site.hosts {
        println!("  {}/{}: {}", site.name, host.name, host.ip);
    }
    if !vpclab_sys::netns::exists(&router) {
        eprintln!(
            "warning: the site is stored, but its namespaces are not there: see daemon.log in \
             {}",
            state.display()
        );
    }
    Ok(())
}

/// `vpclab onprem delete`.
pub(crate) fn delete(state: &Path, name: &str) -> Result<()> {
    let site = ask(state, &format!("{DELETE} {name}"))?;
    println!("site {} deleted, with its {} hosts", site.name, site.hosts.len());
    Ok(())
}

/// `vpclab onprem list`.
pub(crate) fn list(state: &Path, json: bool) -> Result<()> {
    let model = lab::running_model(state)?;
    if json {
        let sites = sites_json(&model);
        println!("{}", serde_json::to_string_pretty(&sites).map_err(|e| e.to_string())?);
        return Ok(());
    }
    if model.onprem_sites().next().is_none() {
        println!("no on-premises sites (create one: `vpclab onprem create NAME --cidr CIDR`)");
        return Ok(());
    }
    print_sites(&model);
    Ok(())
}

/// The sites as a table: name, router's public address and ASN, CIDRs, hosts.
pub(crate) fn print_sites(model: &Model) {
    println!("{:<20} {:<15} {:<10} {:<20} HOSTS", "SITE", "PUBLIC IP", "ASN", "CIDRS");
    for site in model.onprem_sites() {
        let cidrs: Vec<String> = site.cidrs.iter().map(ToString::to_string).collect();
        let hosts: Vec<String> =
            site.hosts.iter().map(|h| format!("{} {}", h.name, h.ip)).collect();
        println!(
            "{:<20} {:<15} {:<10} {:<20} {}",
            site.name,
            site.public_ip,
            site.bgp_asn,
            cidrs.join(","),
            if hosts.is_empty() { "-".to_owned() } else { hosts.join(", ") }
        );
    }
}

/// The sites as JSON, with the namespaces each part lives in.
pub(crate) fn sites_json(model: &Model) -> serde_json::Value {
    let internet = internet_netns();
    let sites: Vec<serde_json::Value> = model
        .onprem_sites()
        .map(|site| {
            let hosts: Vec<serde_json::Value> = site
                .hosts
                .iter()
                .map(|h| {
                    serde_json::json!({
                        "name": h.name,
                        "ip": h.ip,
                        "namespace": host_namespace(&site.name, &h.name, internet),
                    })
                })
                .collect();
            serde_json::json!({
                "name": site.name,
                "public_ip": site.public_ip,
                "bgp_asn": site.bgp_asn,
                "cidrs": site.cidrs,
                "router_addresses": site.router_addresses().map(|(_, ip)| ip).collect::<Vec<_>>(),
                "namespace": router_namespace(&site.name, internet),
                "hosts": hosts,
            })
        })
        .collect();
    serde_json::Value::Array(sites)
}

/// Sends an `onprem-…` command to the daemon and reads the site it answers.
fn ask(state: &Path, command: &str) -> Result<OnpremSite> {
    let line = lab::ask_within(state, command, ANSWER_TIMEOUT).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "the lab's control socket is root's: run it with sudo".to_owned()
        }
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            format!("{} (its daemon is not running)", lab::NO_LAB)
        }
        _ => format!("the lab's daemon did not answer: {e}"),
    })?;
    match serde_json::from_str::<Answer>(&line) {
        Ok(Answer::Done(site)) => Ok(site),
        Ok(Answer::Error(message)) => Err(message),
        Err(_) => Err(format!(
            "the lab's daemon does not know on-premises sites (it answered {:?}): `vpclab \
             restart` it with this vpclab",
            line.trim()
        )),
    }
}

/// The daemon's side: answers `line` if it is an `onprem-…` command (`None` otherwise),
/// changing the model through [`Service::apply`].
pub(crate) fn answer(service: &mut Service, line: &str) -> Option<String> {
    let (command, argument) = line.split_once(' ').unwrap_or((line, ""));
    let outcome = match command {
        CREATE => match serde_json::from_str::<OnpremSiteSpec>(argument) {
            Ok(spec) => service
                .apply(|m| {
                    m.create_onprem_site(&spec)?;
                    m.onprem_site(&spec.name).cloned()
                })
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("malformed site: {e}")),
        },
        DELETE => {
            service.apply(|m| m.delete_onprem_site(argument.trim())).map_err(|e| e.to_string())
        }
        _ => return None,
    };
    let answer = match outcome {
        Ok(site) => Answer::Done(site),
        Err(message) => Answer::Error(message),
    };
    Some(serde_json::to_string(&answer).unwrap_or_default())
}

/// The namespace `vpclab exec` runs in for `target` when it names a site's part:
/// `SITE/HOST`, `SITE/router` or `SITE` (its router). `None` when it names no site;
/// an error when it names a site but none of its parts.
pub(crate) fn namespace_for(model: &Model, target: &str) -> Result<Option<String>> {
    let (site, part) = target.split_once('/').unwrap_or((target, "router"));
    let Ok(site) = model.onprem_site(site) else { return Ok(None) };
    let internet = internet_netns();
    if part == "router" {
        return Ok(Some(router_namespace(&site.name, internet)));
    }
    match site.host(part) {
        Some(host) => Ok(Some(host_namespace(&site.name, &host.name, internet))),
        None => Err(format!(
            "site {} has no host {part:?}; `vpclab exec` runs in {}",
            site.name,
            parts(site)
        )),
    }
}

/// `hq/router, hq/laptop, …`: what `vpclab exec` can run in at `site`.
fn parts(site: &OnpremSite) -> String {
    let hosts = site.hosts.iter().map(|h| format!("{}/{}", site.name, h.name));
    let all: Vec<String> = std::iter::once(format!("{}/router", site.name)).chain(hosts).collect();
    all.join(", ")
}

/// Every site's parts, for an error message; empty without sites.
pub(crate) fn all_parts(model: &Model) -> String {
    let parts: Vec<String> = model.onprem_sites().map(parts).collect();
    parts.join(", ")
}
