//! The web console at `/console/`: the seed tutorial's console steps, clickable, in the
//! same process as the API. Pages are rendered on the server (maud) with a little
//! progressive JavaScript; the assets are compiled into the binary. Every read and
//! every change goes through the EC2 API (`api.rs`), signed like any client's request,
//! so the console shows AWS's errors and the CLI sees what the console did.
//!
//! With `vpclab serve --credentials`, the console asks for an access key and signs with
//! it; without, it signs with a key of its own, which the API accepts as it accepts any.
//! Forms are protected against cross-site posts (a page elsewhere cannot click for you).

#[cfg(test)]
mod a11y;
mod api;
mod choices;
mod confirm;
mod customer_gateways;
mod elastic_ips;
mod endpoints;
mod html;
mod instances;
mod internet_gateways;
mod map;
mod nat_gateways;
mod network_acls;
mod packets;
mod peering;
mod reachability;
mod route_tables;
mod rows;
mod security_groups;
mod subnets;
mod tgw_attachments;
mod tgw_route_tables;
mod transit_gateways;
mod vpc_attachment;
mod vpcs;
mod vpn_connections;
mod vpn_gateways;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use maud::{Markup, html};
use vpclab_api::Service;
use vpclab_api::server::{PageRequest, PageResponse, Pages};
use vpclab_api::sigv4::Credentials;

pub(crate) use self::api::{Api, El, Failure, Key};
use self::html::{ROOT, href};

/// The console, serving one lab.
#[derive(Debug)]
pub(crate) struct Console {
    service: Arc<Mutex<Service>>,
    credentials: Option<Arc<Credentials>>,
    /// The lab's state directory (flow logs).
    state: PathBuf,
    /// Session token to the key it signs with (with `--credentials` only).
    sessions: Mutex<HashMap<String, Session>>,
    /// How long a session lasts after signing in.
    session_lifetime: Duration,
}

/// A signed-in browser: the key the console signs its requests with, until when.
#[derive(Debug)]
struct Session {
    key: Key,
    expires: Instant,
}

/// How long a session lasts: AWS's console session for an IAM user, 12 hours.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at most; signing in past that ends the one closest to its end.
const MAX_SESSIONS: usize = 256;

/// What a page handler gets.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Form fields of a POST, in order.
    pub form: Vec<(String, String)>,
}

impl Request {
    /// The first query parameter `name`, or "".
    pub(crate) fn param(&self, name: &str) -> &str {
        self.query.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// The first form field `name`, or "".
    pub(crate) fn field(&self, name: &str) -> &str {
        self.form.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// Every form field `name`, in order.
    pub(crate) fn fields<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.form.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.trim())
    }

    /// The form field `name` of a POST, else the query parameter `name` (a form's GET
    /// step, or a link that fills a form in).
    pub(crate) fn value(&self, name: &str) -> &str {
        if self.is_post() { self.field(name) } else { self.param(name) }
    }

    /// Every form field `name` of a POST, else every query parameter `name`, trimmed.
    pub(crate) fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        let pairs = if self.is_post() { &self.form } else { &self.query };
        pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.trim())
    }

    pub(crate) fn is_post(&self) -> bool {
        self.method == "POST"
    }
}

/// What a page handler answers.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A page (200).
    Page(Markup),
    /// A page with a status (a form re-shown after the API refused it: 400).
    Status(u16, Markup),
    /// See other page (after a change: post, redirect, get).
    Redirect(String),
    /// No such page or resource.
    NotFound,
    /// Other content: type and bytes.
    Raw(&'static str, Vec<u8>),
    /// A file to save.
    Download { content_type: &'static str, filename: String, body: Vec<u8> },
}

impl Outcome {
    /// The API's error as the page `title` of sidebar entry `section` (400).
    pub(crate) fn failed(title: &str, section: &str, failure: &Failure) -> Self {
        Outcome::Status(400, html::page(title, section, html::error(failure)))
    }

    /// A form as the page `title` of sidebar entry `section`: 400 when it comes back
    /// `refused` by the API (it then shows the error), 200 otherwise.
    pub(crate) fn form(title: &str, section: &str, body: Markup, refused: bool) -> Self {
        Outcome::Status(if refused { 400 } else { 200 }, html::page(title, section, body))
    }
}

/// A handler's context: the API client of the session.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    pub api: Api<'a>,
    /// The console, for vpclab's own views (the map, traces), which read the lab
    /// rather than change it.
    pub console: &'a Console,
}

/// A family of pages under `/console/<kind>/…`: `rest` is the path after the kind.
type Route = fn(&Cx<'_>, &[&str], &Request) -> Outcome;

/// Every family, by its first path segment (the sidebar's paths).
const ROUTES: &[(&str, Route)] = &[
    ("vpcs", vpcs::route),
    ("subnets", subnets::route),
    ("route-tables", route_tables::route),
    ("internet-gateways", internet_gateways::route),
    ("elastic-ips", elastic_ips::route),
    ("nat-gateways", nat_gateways::route),
    ("peering-connections", peering::route),
    ("endpoints", endpoints::route),
    ("network-acls", network_acls::route),
    ("security-groups", security_groups::route),
    ("instances", instances::route),
    ("transit-gateways", transit_gateways::route),
    ("transit-gateway-attachments", tgw_attachments::route),
    ("transit-gateway-route-tables", tgw_route_tables::route),
    ("customer-gateways", customer_gateways::route),
    ("vpn-gateways", vpn_gateways::route),
    ("vpn-connections", vpn_connections::route),
    ("map", map::route),
    ("reachability", reachability::route),
];

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

impl Console {
    pub(crate) fn new(
        service: Arc<Mutex<Service>>,
        credentials: Option<Arc<Credentials>>,
        state: PathBuf,
    ) -> Self {
        Console {
            service,
            credentials,
            state,
            sessions: Mutex::new(HashMap::new()),
            session_lifetime: SESSION_LIFETIME,
        }
    }

    fn respond(&self, request: PageRequest) -> PageResponse {
        let Some(path) = request.path.strip_prefix(ROOT) else {
            return redirect(ROOT);
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET" | "HEAD", ["assets", "console.css"]) => {
                return asset("text/css; charset=utf-8", CSS);
            }
            ("GET" | "HEAD", ["assets", "console.js"]) => {
                return asset("text/javascript; charset=utf-8", JS);
            }
            _ => {}
        }
        if !local_host(&request) {
            return PageResponse {
                status: 403,
                headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
                body: b"Forbidden: the console answers at an address or localhost only.\n".to_vec(),
            };
        }
        if request.method == "POST" && vpclab_api::server::cross_site(&request.headers) {
            return PageResponse {
                status: 403,
                headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
                body: b"Forbidden: a form posted from another site.\n".to_vec(),
            };
        }
        let form = if request.method == "POST" {
            form_urlencoded::parse(&request.body).into_owned().collect()
        } else {
            Vec::new()
        };
        let query: Vec<(String, String)> =
            form_urlencoded::parse(request.query.as_bytes()).into_owned().collect();
        let req = Request { method: request.method.clone(), query, form };

        // Signing in, when the API checks signatures.
        let key = match &self.credentials {
            None => Key::anonymous(),
            Some(credentials) => {
                if let ["login"] = segments.as_slice() {
                    return self.login(&req, credentials);
                }
                match self.session_key(&request) {
                    Ok(key) => key,
                    Err(SessionGone::Expired) => return redirect(&href("login?expired=1")),
                    Err(SessionGone::Missing) => return redirect(&href("login")),
                }
            }
        };
        if let ["logout"] = segments.as_slice() {
            // A POST (the header's button): a link elsewhere cannot sign anyone out.
            if request.method != "POST" {
                return redirect(ROOT);
            }
            if let Some(token) = cookie(&request, SESSION_COOKIE) {
                self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(token);
            }
            return redirect(&href("login"));
        }
        let api =
            Api { service: &self.service, credentials: self.credentials.as_deref(), key: &key };
        let cx = Cx { api, console: self };
        // The header names who signs, and offers to sign out (with --credentials only).
        let _signed_in = html::SignedIn::set(self.credentials.is_some().then(|| key.id.clone()));
        let outcome = match segments.split_first() {
            None => dashboard(&cx),
            Some((kind, rest)) => match ROUTES.iter().find(|(k, _)| k == kind) {
                Some((_, route)) => route(&cx, rest, &req),
                None => Outcome::NotFound,
            },
        };
        render(outcome)
    }

    fn login(&self, req: &Request, credentials: &Credentials) -> PageResponse {
        let mut failed = None;
        if req.is_post() {
            let key = Key {
                id: req.field("access_key_id").to_owned(),
                secret: req.field("secret_access_key").to_owned(),
            };
            let api = Api { service: &self.service, credentials: Some(credentials), key: &key };
            // The key is good if the API takes a request signed with it.
            match api.call("DescribeRegions", &[]) {
                Ok(_) => {
                    let Some(token) = new_token() else {
                        let body = html! { h1 { "Sign in" } p { "No secure random source to make a session with." } };
                        return render(Outcome::Status(500, html::page("Sign in", "", body)));
                    };
                    self.start_session(token.clone(), key);
                    let mut response = redirect(ROOT);
                    response.headers.push((
                        "set-cookie".into(),
                        format!(
                            "{SESSION_COOKIE}={token}; Path={ROOT}; Max-Age={}; HttpOnly; \
                             SameSite=Strict",
                            self.session_lifetime.as_secs()
                        ),
                    ));
                    return response;
                }
                Err(failure) => failed = Some(failure),
            }
        }
        let body = html! {
            h1 { "Sign in" }
            p { "This lab's API checks signatures (" code { "vpclab serve --credentials" } "). \
                 The console signs every request with the key you give; it is kept in memory \
                 for this session only." }
            @if let Some(f) = &failed { (html::error(f)) }
            @if failed.is_none() && req.param("expired") == "1" {
                (html::notice("Your session has ended (sessions last 12 hours). Sign in again."))
            }
            form.edit method="post" action=(href("login")) {
                (html::text_field("access_key_id", "Access key ID", req.field("access_key_id"), ""))
                label for="secret_access_key" { "Secret access key" }
                input #secret_access_key type="password" name="secret_access_key" autocomplete="off";
                div.form-actions { button.primary type="submit" { "Sign in" } }
            }
        };
        let status = if failed.is_some() { 401 } else { 200 };
        render(Outcome::Status(status, html::page("Sign in", "", body)))
    }

    /// The lab as it is now (a copy: the lock is not held while a view renders).
    pub(crate) fn model(&self) -> vpclab_model::Model {
        self.service.lock().unwrap_or_else(|e| e.into_inner()).model().clone()
    }

    /// The lab's state directory.
    pub(crate) fn state(&self) -> &std::path::Path {
        &self.state
    }

    /// Each running instance's packets and the internet edge's, when the data plane runs.
    #[allow(clippy::type_complexity)]
    pub(crate) fn port_counters(
        &self,
    ) -> Option<(
        Vec<(vpclab_model::InstanceId, vpclab_dataplane::PortCounters)>,
        vpclab_dataplane::PortCounters,
    )> {
        self.service.lock().unwrap_or_else(|e| e.into_inner()).port_counters()
    }

    /// NAT gateways' and transit gateways' packets, when the data plane runs.
    #[allow(clippy::type_complexity)]
    pub(crate) fn gateway_counters(
        &self,
    ) -> Option<(
        Vec<(vpclab_model::NatGatewayId, vpclab_dataplane::GatewayCounters)>,
        Vec<(vpclab_model::TransitGatewayId, vpclab_dataplane::GatewayCounters)>,
    )> {
        self.service.lock().unwrap_or_else(|e| e.into_inner()).gateway_counters()
    }

    /// One instance's packets, when the data plane runs and it is attached.
    pub(crate) fn instance_counters(&self, id: &str) -> Option<vpclab_dataplane::PortCounters> {
        let id = vpclab_model::InstanceId::parse(id)?;
        self.service.lock().unwrap_or_else(|e| e.into_inner()).instance_counters(&id)
    }

    /// A short capture at `target` (an instance) as pcap. The service's lock is held
    /// only to find the tap, not while it runs.
    pub(crate) fn capture(
        &self,
        target: &str,
        duration: std::time::Duration,
        packets: u64,
    ) -> Result<Vec<u8>, String> {
        let (tap, point) =
            self.service.lock().unwrap_or_else(|e| e.into_inner()).capture_point(target)?;
        match crate::capture::collect(&tap, point, duration, packets) {
            Ok(Some(pcap)) => Ok(pcap),
            Ok(None) => Err("Another capture is running (vpclab capture, or another page): try again when it ends.".into()),
            Err(e) => Err(format!("The capture failed: {e}")),
        }
    }

    /// The forwarder's counters, when the data plane runs.
    pub(crate) fn counters(&self) -> Option<vpclab_dataplane::counters::CounterSnapshot> {
        self.service.lock().unwrap_or_else(|e| e.into_inner()).status().map(|(_, c)| c)
    }

    /// The key of the request's session, while it lasts.
    fn session_key(&self, request: &PageRequest) -> Result<Key, SessionGone> {
        let token = cookie(request, SESSION_COOKIE).ok_or(SessionGone::Missing)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.get(token).ok_or(SessionGone::Missing)?;
        if session.expires <= Instant::now() {
            sessions.remove(token);
            return Err(SessionGone::Expired);
        }
        Ok(session.key.clone())
    }

    /// Remembers a signed-in browser: ended sessions are dropped first, and past
    /// `MAX_SESSIONS` the one closest to its end makes room.
    fn start_session(&self, token: String, key: Key) {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            let soonest = sessions.iter().min_by_key(|(_, s)| s.expires).map(|(t, _)| t.clone());
            if let Some(token) = soonest {
                sessions.remove(&token);
            }
        }
        sessions.insert(token, Session { key, expires: now + self.session_lifetime });
    }
}

impl Pages for Console {
    fn prefix(&self) -> &'static str {
        "/console"
    }

    fn answer(&self, request: PageRequest) -> PageResponse {
        self.respond(request)
    }
}

const SESSION_COOKIE: &str = "vpclab-console";

/// Why a request has no session.
enum SessionGone {
    /// No cookie, or one no session has (forged, or signed out).
    Missing,
    /// It lasted its time.
    Expired,
}

/// 128 bits from the system's secure random source, hex; `None` if it cannot be read
/// (then no session is made: a guessable token would be anyone's).
fn new_token() -> Option<String> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn header<'a>(request: &'a PageRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn cookie<'a>(request: &'a PageRequest, name: &str) -> Option<&'a str> {
    header(request, "cookie")?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request names this console by an address or `localhost`: a page of
/// another site that made its name resolve to 127.0.0.1 (DNS rebinding) names itself.
fn local_host(request: &PageRequest) -> bool {
    let Some(host) = header(request, "host") else { return true };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn redirect(to: &str) -> PageResponse {
    PageResponse {
        status: 303,
        headers: vec![("location".into(), to.to_owned())],
        body: Vec::new(),
    }
}

fn asset(content_type: &str, text: &str) -> PageResponse {
    PageResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), content_type.to_owned()),
            ("cache-control".into(), "no-cache".into()),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: text.as_bytes().to_vec(),
    }
}

fn render(outcome: Outcome) -> PageResponse {
    let html_page = |status: u16, markup: Markup| PageResponse {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            (
                "content-security-policy".into(),
                "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                 frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
                    .into(),
            ),
            ("x-content-type-options".into(), "nosniff".into()),
        ],
        body: markup.into_string().into_bytes(),
    };
    match outcome {
        Outcome::Page(markup) => html_page(200, markup),
        Outcome::Status(status, markup) => html_page(status, markup),
        Outcome::Redirect(to) => redirect(&to),
        Outcome::NotFound => html_page(
            404,
            html::page(
                "Not found",
                "",
                html! { h1 { "Not found" } p { "No such page or resource. " a href=(ROOT) { "Back to the dashboard" } } },
            ),
        ),
        Outcome::Raw(content_type, body) => PageResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), content_type.to_owned()),
                ("cache-control".into(), "no-store".into()),
            ],
            body,
        },
        Outcome::Download { content_type, filename, body } => PageResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), content_type.to_owned()),
                // Ids only: nothing to escape in the name.
                ("content-disposition".into(), format!("attachment; filename=\"{filename}\"")),
                ("cache-control".into(), "no-store".into()),
            ],
            body,
        },
    }
}

/// The dashboard: how many of each resource, as the VPC console's "Resources by Region".
fn dashboard(cx: &Cx<'_>) -> Outcome {
    let counts = [
        ("vpcs", "VPCs", "DescribeVpcs", "vpcSet"),
        ("subnets", "Subnets", "DescribeSubnets", "subnetSet"),
        ("route-tables", "Route tables", "DescribeRouteTables", "routeTableSet"),
        (
            "internet-gateways",
            "Internet gateways",
            "DescribeInternetGateways",
            "internetGatewaySet",
        ),
        ("elastic-ips", "Elastic IPs", "DescribeAddresses", "addressesSet"),
        ("nat-gateways", "NAT gateways", "DescribeNatGateways", "natGatewaySet"),
        (
            "peering-connections",
            "Peering connections",
            "DescribeVpcPeeringConnections",
            "vpcPeeringConnectionSet",
        ),
        ("endpoints", "Endpoints", "DescribeVpcEndpoints", "vpcEndpointSet"),
        ("network-acls", "Network ACLs", "DescribeNetworkAcls", "networkAclSet"),
        ("security-groups", "Security groups", "DescribeSecurityGroups", "securityGroupInfo"),
        ("instances", "Running instances", "DescribeInstances", "reservationSet"),
        (
            "customer-gateways",
            "Customer gateways",
            "DescribeCustomerGateways",
            "customerGatewaySet",
        ),
        ("vpn-gateways", "Virtual private gateways", "DescribeVpnGateways", "vpnGatewaySet"),
        (
            "vpn-connections",
            "Site-to-Site VPN connections",
            "DescribeVpnConnections",
            "vpnConnectionSet",
        ),
    ];
    let mut cards = Vec::new();
    for (path, label, action, set) in counts {
        let n = match cx.api.call(action, &[]) {
            Ok(doc) if action == "DescribeInstances" => doc
                .items(set)
                .flat_map(|r| r.items("instancesSet"))
                .filter(|i| i.at(&["instanceState", "name"]) == "running")
                .count(),
            Ok(doc) => doc.items(set).count(),
            Err(failure) => {
                return Outcome::Page(html::page("VPC dashboard", "", html::error(&failure)));
            }
        };
        cards.push((path, label, n));
    }
    let body = html! {
        (html::bar("VPC dashboard", html! {
            a.button.primary href=(href("vpcs/new")) { "Create VPC" }
        }))
        h2 { "Resources by Region" }
        div.cards {
            @for (path, label, n) in &cards {
                a href=(href(path)) { strong { (n) } (label) }
            }
        }
    };
    Outcome::Page(html::page("VPC dashboard", "", body))
}

/// Drives a console without HTTP or root, for the page families' tests: a lab with the
/// API only (no data plane), and requests as a browser sends them.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use vpclab_api::Service;
    use vpclab_api::server::{PageRequest, Pages};
    use vpclab_model::Model;

    use super::Console;

    /// A console over a fresh account (no default VPC) whose new resources are
    /// `available` at once.
    pub(crate) fn console() -> Console {
        let service = Service::new(Model::new(7), None, None, 7).with_transition_seconds(0);
        Console::new(Arc::new(Mutex::new(service)), None, std::env::temp_dir())
    }

    /// What a page answered: status, `location` (redirects), headers, body.
    #[derive(Debug)]
    pub(crate) struct Answer {
        pub status: u16,
        pub location: String,
        pub headers: Vec<(String, String)>,
        pub body: String,
    }

    impl Answer {
        /// The header `name` (lowercase), or "".
        pub(crate) fn header(&self, name: &str) -> &str {
            self.headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
        }
    }

    fn send(
        console: &Console,
        method: &str,
        path_and_query: &str,
        form: &[(&str, &str)],
    ) -> Answer {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        let response = console.answer(PageRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: vec![("sec-fetch-site".to_owned(), "same-origin".to_owned())],
            body: body.finish().into_bytes(),
        });
        let location = response
            .headers
            .iter()
            .find(|(k, _)| k == "location")
            .map_or(String::new(), |(_, v)| v.clone());
        Answer {
            status: response.status,
            location,
            body: String::from_utf8_lossy(&response.body).into_owned(),
            headers: response.headers,
        }
    }

    /// The id (at `path` in the answer) of what `action` made.
    pub(crate) fn created(
        c: &Console,
        action: &str,
        params: &[(&str, &str)],
        path: &[&str],
    ) -> String {
        api(c, action, params).at(path).to_owned()
    }

    pub(crate) fn get(console: &Console, path: &str) -> Answer {
        send(console, "GET", path, &[])
    }

    pub(crate) fn post(console: &Console, path: &str, form: &[(&str, &str)]) -> Answer {
        send(console, "POST", path, form)
    }

    /// Posts `form` and follows the redirect it must answer with.
    pub(crate) fn post_ok(console: &Console, path: &str, form: &[(&str, &str)]) -> Answer {
        let answer = post(console, path, form);
        assert_eq!(answer.status, 303, "POST {path}: {}", answer.body);
        get(console, &answer.location)
    }

    /// Calls the API directly (as the CLI would), to set a lab up or check on it.
    pub(crate) fn api(console: &Console, action: &str, params: &[(&str, &str)]) -> super::El {
        let key = super::Key::anonymous();
        let api = super::Api { service: &console.service, credentials: None, key: &key };
        let params: Vec<(String, String)> =
            params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        api.call(action, &params).unwrap_or_else(|f| panic!("{action}: {f:?}"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use vpclab_api::Service;
    use vpclab_api::server::{PageRequest, Pages};
    use vpclab_api::sigv4::Credentials;
    use vpclab_model::Model;

    use super::Console;
    use super::testing::{console, get};

    fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> PageRequest {
        PageRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_dashboard_assets_and_unknown_pages() {
        let c = console();
        let home = get(&c, "/console/");
        assert_eq!(home.status, 200);
        assert!(home.body.contains("Resources by Region"));
        assert!(home.body.contains(r#"href="/console/vpn-connections"><strong>0</strong>"#));
        assert_eq!(get(&c, "/console/assets/console.css").status, 200);
        assert_eq!(get(&c, "/console/no-such-page").status, 404);
        assert_eq!(get(&c, "/console").status, 303, "to the slash");
    }

    #[test]
    fn a_form_posted_from_another_site_is_refused() {
        let c = console();
        let body = "cidr=10.0.0.0%2F16&tenancy=default";
        let refused = |headers: &[(&str, &str)]| {
            c.answer(request("POST", "/console/vpcs/new", headers, body)).status == 403
        };
        assert!(refused(&[("sec-fetch-site", "cross-site")]));
        assert!(refused(&[("origin", "http://evil.example"), ("host", "127.0.0.1:4566")]));
        assert!(!refused(&[("origin", "http://127.0.0.1:4566"), ("host", "127.0.0.1:4566")]));
        assert!(!refused(&[("sec-fetch-site", "same-origin")]));
    }

    #[test]
    fn a_console_asked_for_by_another_sites_name_is_refused() {
        let c = console();
        let status =
            |host: &str| c.answer(request("GET", "/console/vpcs", &[("host", host)], "")).status;
        assert_eq!(status("127.0.0.1:4566"), 200);
        assert_eq!(status("localhost:4566"), 200);
        assert_eq!(status("[::1]:4566"), 200);
        assert_eq!(status("rebound.example:4566"), 403, "DNS rebinding");
    }

    #[test]
    fn with_credentials_the_console_signs_with_the_key_it_is_given() {
        let service = Arc::new(Mutex::new(Service::new(Model::new(3), None, None, 3)));
        let keys = Arc::new(Credentials::parse("AKIDLAB:s3cret\n").unwrap());
        let c = Console::new(service, Some(keys), std::env::temp_dir());
        let page = c.answer(request("GET", "/console/vpcs", &[], ""));
        assert_eq!(page.status, 303, "asked to sign in first");
        let login = |secret: &str| {
            let body = format!("access_key_id=AKIDLAB&secret_access_key={secret}");
            c.answer(request("POST", "/console/login", &[("sec-fetch-site", "same-origin")], &body))
        };
        let wrong = login("guess");
        assert_eq!(wrong.status, 401);
        assert!(String::from_utf8_lossy(&wrong.body).contains("AuthFailure"));
        let right = login("s3cret");
        assert_eq!(right.status, 303);
        let cookie = right.headers.iter().find(|(k, _)| k == "set-cookie").unwrap().1.clone();
        let token = cookie.split(';').next().unwrap().to_owned();
        let page = c.answer(request("GET", "/console/vpcs", &[("cookie", &token)], ""));
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        let forged =
            c.answer(request("GET", "/console/vpcs", &[("cookie", "vpclab-console=00")], ""));
        assert_eq!(forged.status, 303);
        assert!(String::from_utf8_lossy(&page.body).contains("Sign out"), "the header offers it");
        // Signing out is a POST; a link cannot do it.
        let get_out = c.answer(request("GET", "/console/logout", &[("cookie", &token)], ""));
        assert_eq!(get_out.status, 303);
        let still = c.answer(request("GET", "/console/vpcs", &[("cookie", &token)], ""));
        assert_eq!(still.status, 200);
        let same_site = [("cookie", token.as_str()), ("sec-fetch-site", "same-origin")];
        c.answer(request("POST", "/console/logout", &same_site, ""));
        let gone = c.answer(request("GET", "/console/vpcs", &[("cookie", &token)], ""));
        assert_eq!(gone.status, 303, "the session is over");
    }

    #[test]
    fn a_session_ends_after_its_lifetime_and_their_number_is_bounded() {
        let service = Arc::new(Mutex::new(Service::new(Model::new(3), None, None, 3)));
        let keys = Arc::new(Credentials::parse("AKIDLAB:s3cret\n").unwrap());
        let mut c = Console::new(service, Some(keys), std::env::temp_dir());
        use std::time::Duration;
        assert_eq!(c.session_lifetime, Duration::from_secs(43_200), "AWS's 12 hours");
        let sign_in = |c: &Console| {
            let body = "access_key_id=AKIDLAB&secret_access_key=s3cret";
            let at = [("sec-fetch-site", "same-origin")];
            let right = c.answer(request("POST", "/console/login", &at, body));
            let cookie = right.headers.iter().find(|(k, _)| k == "set-cookie").unwrap().1.clone();
            assert!(cookie.contains("Max-Age="), "{cookie}");
            cookie.split(';').next().unwrap().to_owned()
        };
        c.session_lifetime = Duration::ZERO;
        let token = sign_in(&c);
        let page = c.answer(request("GET", "/console/vpcs", &[("cookie", &token)], ""));
        assert_eq!(page.status, 303);
        let to = page.headers.iter().find(|(k, _)| k == "location").unwrap().1.clone();
        assert!(to.ends_with("/console/login?expired=1"), "{to}");
        let (path, query) = to.split_once('?').unwrap();
        let login =
            c.answer(PageRequest { query: query.to_owned(), ..request("GET", path, &[], "") });
        assert!(String::from_utf8_lossy(&login.body).contains("Your session has ended"));
        assert_eq!(c.sessions.lock().unwrap().len(), 0, "an ended session is forgotten");

        c.session_lifetime = Duration::from_secs(60);
        let tokens: Vec<String> = (0..super::MAX_SESSIONS + 5).map(|_| sign_in(&c)).collect();
        assert_eq!(c.sessions.lock().unwrap().len(), super::MAX_SESSIONS);
        let first = c.answer(request("GET", "/console/vpcs", &[("cookie", &tokens[0])], ""));
        assert_eq!(first.status, 303, "the oldest made room");
        let last = tokens.last().unwrap();
        let page = c.answer(request("GET", "/console/vpcs", &[("cookie", last)], ""));
        assert_eq!(page.status, 200);
    }
}
