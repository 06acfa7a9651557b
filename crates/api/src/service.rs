//! One API call, start to end: parameters, the action, the store, the data plane.
//!
//! Calls are served one at a time (the server holds the service behind a mutex), as a
//! region serialises an account's control-plane writes. A mutating action runs on a copy
//! of the model; only if it succeeds is the copy stored (committed before the reply),
//! applied to the data plane and kept — a refused call changes nothing anywhere.

use std::path::PathBuf;

use vpclab_dataplane::CounterSnapshot;
use vpclab_dataplane::host::Host;
use vpclab_model::{ApiError, Model};

use crate::actions::{self, Context};
use crate::known_params;
use crate::mirror::Mirror;
use crate::params::Params;
use crate::store::Store;
use crate::sts;
use crate::xml::{self, Xml};

/// The reply to one call.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status: 200, 400 for client errors, 500 for ours.
    pub status: u16,
    /// The XML document.
    pub body: String,
    /// The request's id, also in the document (SDKs read it from the
    /// `x-amzn-RequestId` header).
    pub request_id: String,
}

/// The API's state: the model, where it is stored, and the data plane it drives.
#[derive(Debug)]
pub struct Service {
    model: Model,
    store: Option<Store>,
    host: Option<Host>,
    requests: u64,
    seed: u64,
    mirror: Option<Mirror>,
    transition_s: u64,
    idempotent: Idempotent,
}

/// The answers to calls made with a `ClientToken`, so that a retry gets the first call's
/// answer instead of a second resource (AWS's idempotency). Bounded: the oldest go first.
/// Kept in memory: a retry across a restart of the daemon makes a second resource.
#[derive(Debug, Default)]
struct Idempotent {
    /// (action, token) → (the other parameters, the reply's body).
    answers: std::collections::HashMap<(String, String), (String, Xml)>,
    order: std::collections::VecDeque<(String, String)>,
}

impl Idempotent {
    /// How many answers are kept.
    const CAPACITY: usize = 4096;

    /// What identifies a call besides its token: every other parameter, in order.
    fn fingerprint(params: &Params) -> String {
        let mut text = String::new();
        for name in params.names().filter(|n| !matches!(*n, "ClientToken" | "DryRun")) {
            text.push_str(name);
            text.push('=');
            text.push_str(params.raw(name).unwrap_or_default());
            text.push('&');
        }
        text
    }

    /// The answer given to this call before, if any; AWS's error for the token reused
    /// with other parameters.
    fn lookup(&self, action: &str, params: &Params) -> Result<Option<Xml>, ApiError> {
        let Some(token) = params.get("ClientToken") else { return Ok(None) };
        match self.answers.get(&(action.to_owned(), token.to_owned())) {
            None => Ok(None),
            Some((fingerprint, out)) if *fingerprint == Self::fingerprint(params) => {
                Ok(Some(out.clone()))
            }
            Some(_) => Err(ApiError {
                code: "IdempotentParameterMismatch",
                message: format!(
                    "The client token '{token}' was used before with different parameters."
                ),
            }),
        }
    }

    fn remember(&mut self, action: &str, params: &Params, out: &Xml) {
        let Some(token) = params.get("ClientToken") else { return };
        let key = (action.to_owned(), token.to_owned());
        if self.order.len() >= Self::CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.answers.remove(&oldest);
            }
        }
        self.order.push_back(key.clone());
        self.answers.insert(key, (Self::fingerprint(params), out.clone()));
    }
}

impl Service {
    /// A service over `model`, persisting to `store` and driving `host` when given.
    pub fn new(model: Model, store: Option<Store>, host: Option<Host>, seed: u64) -> Self {
        Self {
            model,
            store,
            host,
            requests: 0,
            seed,
            mirror: None,
            transition_s: 0,
            idempotent: Idempotent::default(),
        }
    }

    /// Reports new instances, NAT gateways, transit gateways and VPN resources `pending`
    /// (deleted ones `deleting`, rejected transit gateway peering attachments
    /// `rejecting`, virtual private gateway attachments `attaching`) for `seconds` before their settled state, as AWS does for a while,
    /// so that clients' waiters poll more than once. The data plane does not wait: a
    /// pending instance already forwards. Default 0: the create reply says `pending`,
    /// the first Describe the settled state.
    pub fn with_transition_seconds(mut self, seconds: u64) -> Self {
        self.transition_s = seconds;
        self
    }

    /// Also keeps the model as JSON at `path`, written now and soon after every change
    /// (see [`Mirror`]): a read-only copy for the commands that find no daemon to ask.
    pub fn mirror_to(&mut self, path: PathBuf) -> std::io::Result<()> {
        self.mirror = Some(Mirror::start(path, &self.model)?);
        Ok(())
    }

    /// Returns once the mirror has every change made so far.
    pub fn flush_mirror(&self) {
        if let Some(mirror) = &self.mirror {
            mirror.flush();
        }
    }

    /// The flow-log lines (AWS's default version-2 format) for `records`, each with the
    /// flow log it belongs to: one line per record and flow log that covers the
    /// record's interface and keeps its action.
    pub fn flow_log_lines(
        &self,
        records: &[vpclab_dataplane::flowlog::FlowRecord],
    ) -> Vec<(vpclab_model::FlowLogId, String)> {
        let Some(host) = self.host.as_ref() else { return Vec::new() };
        let mut lines = Vec::new();
        for (key, counts) in records {
            let Some(instance) =
                host.instance_at(key.port).and_then(|id| self.model.instance(id).ok())
            else {
                continue;
            };
            for log in self.model.flow_logs_of(instance) {
                if !log.spec.traffic_type.keeps(key.accepted) {
                    continue;
                }
                let line = format!(
                    "2 {} {} {} {} {} {} {} {} {} {} {} {} OK",
                    crate::actions::OWNER_ID,
                    instance.interface,
                    key.src,
                    key.dst,
                    key.sport,
                    key.dport,
                    key.protocol,
                    counts.packets,
                    counts.bytes,
                    counts.start,
                    counts.end,
                    if key.accepted { "ACCEPT" } else { "REJECT" },
                );
                lines.push((log.id.clone(), line));
            }
        }
        lines
    }

    /// The flow records the forwarder counted so far (empty without a data plane).
    pub fn flush_flows(&self) -> Vec<vpclab_dataplane::flowlog::FlowRecord> {
        self.host.as_ref().and_then(|h| h.flush_flows().ok()).unwrap_or_default()
    }

    /// Where `vpclab capture` taps: `igw` (or `internet`) is the internet edge, a NAT
    /// gateway (id or Name) the edge for its Elastic IP, a peering connection (id or
    /// Name) what crosses it, anything else an instance by Name, id or ENI id.
    pub fn capture_point(
        &self,
        target: &str,
    ) -> Result<(vpclab_dataplane::worker::Capture, vpclab_dataplane::capture::Point), String> {
        use vpclab_dataplane::capture::Point;
        let host = self.host.as_ref().ok_or("the data plane is off (--no-dataplane)")?;
        let named = |id: &str, tags: &vpclab_model::Tags| {
            id == target || tags.get("Name").is_some_and(|name| name == target)
        };
        if matches!(target, "igw" | "internet") {
            return Ok((host.capture(), Point::Port(vpclab_dataplane::INTERNET, None)));
        }
        if let Some(nat) = self.model.nat_gateways().find(|n| named(n.id.as_str(), &n.tags)) {
            let Some(public) = &nat.public else {
                return Err(format!(
                    "{target} is a private NAT gateway: it never reaches the internet edge; \
                     capture at an instance behind it or beyond its transit gateway"
                ));
            };
            let point = Point::Port(vpclab_dataplane::INTERNET, Some(public.public_ip));
            return Ok((host.capture(), point));
        }
        if let Some(pcx) = self.model.peering_connections().find(|p| named(p.id.as_str(), &p.tags))
        {
            let index = |vpc: &vpclab_model::VpcId| {
                self.model.vpcs().position(|v| &v.id == vpc).map(|i| i as u32)
            };
            let (Some(a), Some(b)) = (index(&pcx.requester), index(&pcx.accepter)) else {
                return Err(format!("{target}: one of its VPCs is gone"));
            };
            return Ok((host.capture(), Point::Peering(a, b)));
        }
        let instance = self
            .model
            .find_instance(target)
            .or_else(|| self.model.instances().find(|i| i.interface.as_str() == target))
            .ok_or_else(|| {
                format!("no instance, ENI, NAT gateway or peering {target:?} (or say igw)")
            })?;
        let port = host
            .port_of(&instance.id)
            .ok_or_else(|| format!("{target}: its device is not attached"))?;
        Ok((host.capture(), Point::Port(port, None)))
    }

    /// The data plane's snapshot generation and counters, when it runs.
    pub fn status(&self) -> Option<(u64, CounterSnapshot)> {
        self.host.as_ref().map(|h| (h.generation(), h.counters()))
    }

    /// Each running instance's packets (its primary interface's), and the internet
    /// edge's; `None` without a data plane.
    pub fn port_counters(
        &self,
    ) -> Option<(
        Vec<(vpclab_model::InstanceId, vpclab_dataplane::PortCounters)>,
        vpclab_dataplane::PortCounters,
    )> {
        let host = self.host.as_ref()?;
        let instances = self
            .model
            .running_instances()
            .filter_map(|i| Some((i.id.clone(), host.instance_counters(&i.id)?)))
            .collect();
        Some((instances, host.edge_counters()))
    }

    /// Each working NAT gateway's packets and each transit gateway's (carried,
    /// dropped); `None` without a data plane.
    #[allow(clippy::type_complexity)]
    pub fn gateway_counters(
        &self,
    ) -> Option<(
        Vec<(vpclab_model::NatGatewayId, vpclab_dataplane::GatewayCounters)>,
        Vec<(vpclab_model::TransitGatewayId, vpclab_dataplane::GatewayCounters)>,
    )> {
        let host = self.host.as_ref()?;
        let nats = self
            .model
            .nat_gateways()
            .filter_map(|n| Some((n.id.clone(), host.nat_gateway_counters(&n.id)?)))
            .collect();
        let hubs = (0u32..)
            .zip(self.model.transit_gateways())
            .map(|(i, t)| (t.id.clone(), host.transit_gateway_counters(i)))
            .collect();
        Some((nats, hubs))
    }

    /// One instance's packets (its primary interface's); `None` without a data plane or
    /// when it is not running.
    pub fn instance_counters(
        &self,
        instance: &vpclab_model::InstanceId,
    ) -> Option<vpclab_dataplane::PortCounters> {
        self.host.as_ref()?.instance_counters(instance)
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Takes the data plane out (to stop it on shutdown).
    pub fn take_host(&mut self) -> Option<Host> {
        self.host.take()
    }

    fn request_id(&mut self) -> String {
        self.requests += 1;
        let mut z = self.seed.wrapping_add(self.requests.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let a = z ^ (z >> 31);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            self.requests & 0xfff,
            (a.rotate_left(17) ^ self.requests) & 0xffff_ffff_ffff
        )
    }

    /// Answers one call whose form-encoded parameters are `body`, at `now` (seconds
    /// since the Unix epoch).
    pub fn handle(&mut self, body: &[u8], now: u64) -> Reply {
        let request_id = self.request_id();
        let params = match Params::parse(body) {
            Ok(params) => params,
            Err(e) => return Reply { status: 400, body: xml::error(&e, &request_id), request_id },
        };
        if sts::is_sts(&params) {
            return match sts::answer(&params, &request_id) {
                Ok(body) => Reply { status: 200, body, request_id },
                Err(e) => Reply { status: 400, body: sts::error(&e, &request_id), request_id },
            };
        }
        match self.dispatch(&params, now) {
            Ok((action, out)) => {
                Reply { status: 200, body: out.finish(action, &request_id), request_id }
            }
            Err((status, e)) => Reply { status, body: xml::error(&e, &request_id), request_id },
        }
    }

    fn dispatch(
        &mut self,
        params: &Params,
        now: u64,
    ) -> Result<(&'static str, Xml), (u16, ApiError)> {
        let client = |e| (400, e);
        let name = params.required("Action").map_err(client)?;
        let action = actions::find(name).ok_or_else(|| {
            client(ApiError {
                code: "InvalidAction",
                message: format!("The action {name} is not valid for this web service."),
            })
        })?;
        let known = known_params::known(action.name);
        for name in params.names() {
            let root = name.split('.').next().unwrap_or(name);
            if root != "Action" && root != "Version" && !known.contains(&root) {
                return Err(client(ApiError {
                    code: "UnknownParameter",
                    message: format!("The parameter {root} is not recognized"),
                }));
            }
        }
        let dry_run = params.bool("DryRun").map_err(client)? == Some(true);
        // A ClientToken is the service's to honour (below), whatever the action reads.
        let _ = params.get("ClientToken");
        if dry_run || action.mutates {
            if !dry_run {
                if let Some(out) = self.idempotent.lookup(action.name, params).map_err(client)? {
                    return Ok((action.name, out));
                }
            }
            // On a copy: kept only if the action succeeds and it is no dry run.
            let mut model = self.model.clone();
            let out = run(action, &mut model, params, now, self.transition_s).map_err(client)?;
            if dry_run {
                return Err((
                    412,
                    ApiError {
                        code: "DryRunOperation",
                        message: "Request would have succeeded, but DryRun flag is set.".into(),
                    },
                ));
            }
            self.keep(model)?;
            self.idempotent.remember(action.name, params, &out);
            return Ok((action.name, out));
        }
        let out = run(action, &mut self.model, params, now, self.transition_s).map_err(client)?;
        Ok((action.name, out))
    }

    /// Records what the VPN tunnels' daemons said (`reports`, from
    /// `vpclab_dataplane::tunnels::Daemons::poll`; `now`: seconds since the Unix epoch):
    /// telemetry, and the routes BGP learned, which propagate. Kept like a change made
    /// through the API — stored, applied to the data plane — but only when something
    /// changed.
    pub fn record_tunnels(
        &mut self,
        reports: Vec<(vpclab_model::VpnConnectionId, [vpclab_model::TunnelLive; 2])>,
        now: u64,
    ) {
        let differs = |a: &vpclab_model::TunnelLive, b: &vpclab_model::TunnelLive| {
            (a.ipsec_up, a.bgp_up, &a.routes) != (b.ipsec_up, b.bgp_up, &b.routes)
        };
        let changed: Vec<_> = reports
            .into_iter()
            .filter(|(id, live)| {
                self.model
                    .vpn_connection(id)
                    .is_ok_and(|c| c.live.iter().zip(live).any(|(a, b)| differs(a, b)))
            })
            .collect();
        if changed.is_empty() {
            return;
        }
        let mut model = self.model.clone();
        for (id, live) in changed {
            model.report_vpn_tunnels(&id, live, now);
        }
        if let Err((_, e)) = self.keep(model) {
            eprintln!("vpclab serve: tunnel state: {}", e.message);
        }
    }

    /// Applies a change made outside the EC2 API (`vpclab onprem`) as an API call's: on a
    /// copy of the model, kept — stored, applied to the data plane, mirrored — only if
    /// `change` succeeds. A refused change changes nothing anywhere.
    pub fn apply<T>(
        &mut self,
        change: impl FnOnce(&mut Model) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut model = self.model.clone();
        let out = change(&mut model)?;
        self.keep(model).map_err(|(_, e)| e)?;
        Ok(out)
    }

    /// Makes `model` the state: stored (committed before the reply), applied to the data
    /// plane, mirrored.
    ///
    /// The commit and the data plane only read the model, so when the data plane only
    /// gains (new instances, routes, rules: what a failed commit can undo by syncing
    /// back), they take it side by side: committing what changed on a thread of its
    /// own while this one brings the data plane in line. The mirror is given the model
    /// once it is kept, and writes it off this path. When the change removes anything
    /// ([`Host::removes`]: namespaces and what runs in them, VPN daemons, sites), the
    /// commit comes first, as a failed one must leave all of that untouched. A model
    /// that could not be stored is not kept, and the call fails.
    fn keep(&mut self, model: Model) -> Result<(), (u16, ApiError)> {
        let unsaved =
            |e| (500, ApiError { code: "InternalError", message: format!("state not saved: {e}") });
        let side_by_side = self.host.as_ref().is_some_and(|host| !host.removes(&model));
        let (store, host, old) = (&mut self.store, &mut self.host, &self.model);
        let sync = |host: &mut Option<Host>| {
            if let Some(Err(e)) = host.as_mut().map(|host| host.sync(&model)) {
                // The call succeeded and is stored; the data plane catches up at the
                // next change or restart. Say so where the operator looks.
                eprintln!("vpclab serve: data plane: {e}");
            }
        };
        let saved = if side_by_side {
            let saved = std::thread::scope(|scope| {
                let writer = std::thread::Builder::new()
                    .name("vpclab-commit".into())
                    .spawn_scoped(scope, || commit(store, old, &model));
                sync(host);
                writer.ok().map(|w| w.join().unwrap_or_else(|_| Err("the commit panicked".into())))
            });
            // No thread to be had: the commit after the data plane, on this one.
            saved.unwrap_or_else(|| commit(store, old, &model))
        } else {
            let saved = commit(store, old, &model);
            if saved.is_ok() {
                sync(host);
            }
            saved
        };
        if let Err(e) = saved {
            if side_by_side {
                // Only gains to undo: the data plane goes back to the model in force.
                if let Some(Err(e)) = self.host.as_mut().map(|host| host.sync(&self.model)) {
                    eprintln!("vpclab serve: data plane: {e}");
                }
            }
            return Err(unsaved(e));
        }
        self.model = model;
        if let Some(mirror) = &self.mirror {
            mirror.update(&self.model);
        }
        Ok(())
    }
}

/// Commits `model`, which follows `old`, to `store`: what changed between them.
fn commit(store: &mut Option<Store>, old: &Model, model: &Model) -> Result<(), String> {
    if let Some(store) = store {
        store.save_change(old, model)?;
    }
    Ok(())
}

/// Runs `action` on `model`, then refuses the call if it carried a parameter the action
/// did not read: vpclab never ignores what a client asked for in silence (see
/// [`actions::asks_nothing`] for what passes).
fn run(
    action: &actions::Action,
    model: &mut Model,
    params: &Params,
    now: u64,
    transition_s: u64,
) -> Result<Xml, ApiError> {
    let mut out = Xml::new();
    let mut ctx = Context { action: action.name, model, now, transition_s };
    action.run(&mut ctx, params, &mut out)?;
    let ignored = params
        .unread()
        .into_iter()
        .find(|(name, value)| !actions::asks_nothing(action.name, name, value));
    if let Some((name, value)) = ignored {
        return Err(ApiError {
            code: "InvalidParameter",
            message: format!(
                "vpclab does not implement the parameter {name} ({value}) of {}; leave it \
                 out (docs/api.md lists what each action takes)",
                action.name
            ),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &mut Service, body: &str) -> Reply {
        s.handle(body.as_bytes(), 1_790_000_000)
    }

    fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
        let start = text.find(open).map(|i| i + open.len()).unwrap_or(0);
        let end = text[start..].find(close).map_or(text.len(), |i| start + i);
        &text[start..end]
    }

    #[test]
    fn a_vpc_round_trip() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(
            &mut s,
            "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=lab",
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let vpc = between(&r.body, "<vpcId>", "</vpcId>").to_owned();
        assert!(vpc.starts_with("vpc-0"));
        assert!(r.body.contains("<key>Name</key><value>lab</value>"));
        let r = call(&mut s, "Action=DescribeVpcs&Filter.1.Name=tag%3AName&Filter.1.Value.1=lab");
        assert!(r.body.contains(&vpc), "{}", r.body);
        let r = call(&mut s, "Action=DescribeVpcs&Filter.1.Name=tag%3AName&Filter.1.Value.1=other");
        assert!(r.body.contains("<vpcSet/>"), "{}", r.body);
        // The main route table came with it.
        let r = call(
            &mut s,
            &format!(
                "Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}&Filter.2.Name=association.main&Filter.2.Value.1=true"
            ),
        );
        assert!(r.body.contains("<gatewayId>local</gatewayId>"), "{}", r.body);
        assert!(r.body.contains("<main>true</main>"));
    }

    #[test]
    fn a_change_from_outside_the_api_is_kept_only_when_it_succeeds() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let spec = |cidr: &str| vpclab_model::OnpremSiteSpec {
            name: "hq".to_owned(),
            cidrs: vec![cidr.parse().unwrap()],
            ..Default::default()
        };
        let refused = s.apply(|m| m.create_onprem_site(&spec("198.51.100.0/24")));
        assert_eq!(refused.unwrap_err().code, "InvalidParameterValue");
        let partial = s.apply(|m| {
            m.create_onprem_site(&spec("10.0.0.0/16"))?;
            m.delete_onprem_site("nope")
        });
        assert!(partial.is_err());
        assert_eq!(s.model().onprem_sites().count(), 0, "a refused change changes nothing");
        s.apply(|m| m.create_onprem_site(&spec("10.0.0.0/16"))).unwrap();
        assert_eq!(s.model().onprem_site("hq").unwrap().cidrs[0].to_string(), "10.0.0.0/16");
    }

    #[test]
    fn errors_have_aws_codes_and_change_nothing() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F8");
        assert_eq!(r.status, 400);
        assert!(r.body.contains("<Code>InvalidVpc.Range</Code>"), "{}", r.body);
        assert!(r.body.contains("<RequestID>"));
        assert_eq!(s.model().vpcs().count(), 0);
        for (body, code) in [
            ("Action=Frobnicate", "InvalidAction"),
            ("Version=2016-11-15", "MissingParameter"),
            ("Action=CreateVpc", "MissingParameter"),
            ("Action=CreateVpc&CidrBlock=banana", "InvalidParameterValue"),
            ("Action=DescribeVpcs&VpcId.1=vpc-0123456789abcdef0", "InvalidVpcID.NotFound"),
            ("Action=DescribeVpcs&VpcId.1=nonsense", "InvalidVpcID.Malformed"),
            (
                "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&CidrBlock=10.1.0.0%2F16",
                "InvalidParameterCombination",
            ),
            ("Action=RunInstances&MinCount=1&MaxCount=1", "MissingParameter"),
            ("Action=CreateVpc&CidrBlock=10.0.0.0%2F16&Colour=red", "UnknownParameter"),
        ] {
            let r = call(&mut s, body);
            assert_eq!(r.status, 400, "{body}");
            assert!(r.body.contains(&format!("<Code>{code}</Code>")), "{body}: {}", r.body);
        }
        assert_eq!(s.model().vpcs().count(), 0);
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&DryRun=true");
        assert_eq!(r.status, 412);
        assert!(r.body.contains("<Code>DryRunOperation</Code>"), "{}", r.body);
        assert_eq!(s.model().vpcs().count(), 0, "a dry run changes nothing");
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F8&DryRun=true");
        assert!(r.body.contains("<Code>InvalidVpc.Range</Code>"), "a dry run still validates");
        call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
        let r = call(&mut s, "Action=DescribeVpcs&Filter.1.Name=colour&Filter.1.Value.1=red");
        assert!(r.body.contains("<Code>InvalidParameterValue</Code>"), "{}", r.body);
    }

    #[test]
    fn vpc_dns_attributes_and_metadata_options() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
        let vpc = between(&r.body, "<vpcId>", "</vpcId>").to_owned();
        let attribute = |s: &mut Service, name: &str| {
            call(s, &format!("Action=DescribeVpcAttribute&VpcId={vpc}&Attribute={name}")).body
        };
        assert!(
            attribute(&mut s, "enableDnsSupport")
                .contains("<enableDnsSupport><value>true</value></enableDnsSupport>")
        );
        assert!(
            attribute(&mut s, "enableDnsHostnames")
                .contains("<enableDnsHostnames><value>false</value></enableDnsHostnames>")
        );
        let r = call(
            &mut s,
            &format!("Action=ModifyVpcAttribute&VpcId={vpc}&EnableDnsHostnames.Value=true"),
        );
        assert!(r.body.contains("<return>true</return>"), "{}", r.body);
        assert!(attribute(&mut s, "enableDnsHostnames").contains("<value>true</value>"));
        for (body, code) in [
            (format!("Action=ModifyVpcAttribute&VpcId={vpc}&EnableDnsHostnames.Value=true&EnableDnsSupport.Value=true"), "InvalidParameterCombination"),
            (format!("Action=ModifyVpcAttribute&VpcId={vpc}"), "MissingParameter"),
            (format!("Action=DescribeVpcAttribute&VpcId={vpc}&Attribute=colour"), "InvalidParameterValue"),
            ("Action=ModifyVpcAttribute&VpcId=vpc-0123456789abcdef0&EnableDnsSupport.Value=false".into(), "InvalidVpcID.NotFound"),
        ] {
            let r = call(&mut s, &body);
            assert!(r.body.contains(&format!("<Code>{code}</Code>")), "{body}: {}", r.body);
        }
        assert!(
            s.model().vpc(&vpclab_model::VpcId::parse(&vpc).unwrap()).unwrap().dns_support,
            "refusals change nothing"
        );

        let r = call(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24"));
        let subnet = between(&r.body, "<subnetId>", "</subnetId>").to_owned();
        let r = call(
            &mut s,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}&MetadataOptions.HttpTokens=required"
            ),
        );
        let instance = between(&r.body, "<instanceId>", "</instanceId>").to_owned();
        assert!(r.body.contains("<httpTokens>required</httpTokens>"), "{}", r.body);
        let r = call(
            &mut s,
            &format!(
                "Action=ModifyInstanceMetadataOptions&InstanceId={instance}&HttpEndpoint=disabled&HttpPutResponseHopLimit=3"
            ),
        );
        assert!(r.body.contains(&format!("<instanceId>{instance}</instanceId>")), "{}", r.body);
        for part in [
            "<httpTokens>required</httpTokens>",
            "<httpEndpoint>disabled</httpEndpoint>",
            "<httpPutResponseHopLimit>3</httpPutResponseHopLimit>",
            "<state>applied</state>",
        ] {
            assert!(r.body.contains(part), "{part}: {}", r.body);
        }
        let r = call(&mut s, &format!("Action=DescribeInstances&InstanceId.1={instance}"));
        assert!(
            r.body.contains(
                "<metadataOptions><state>applied</state><httpTokens>required</httpTokens>"
            ),
            "{}",
            r.body
        );
        for bad in ["HttpTokens=sometimes", "HttpPutResponseHopLimit=65", "HttpProtocolIpv6=on"] {
            let r = call(
                &mut s,
                &format!("Action=ModifyInstanceMetadataOptions&InstanceId={instance}&{bad}"),
            );
            assert!(r.body.contains("<Code>InvalidParameterValue</Code>"), "{bad}: {}", r.body);
        }
    }

    #[test]
    fn a_default_vpc_takes_launches_without_a_subnet() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(&mut s, "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1");
        assert!(r.body.contains("<Code>VPCIdNotSpecified</Code>"), "{}", r.body);
        let r = call(&mut s, "Action=CreateDefaultVpc");
        assert!(r.body.contains("<isDefault>true</isDefault>"), "{}", r.body);
        assert!(r.body.contains("<cidrBlock>172.31.0.0/16</cidrBlock>"), "{}", r.body);
        let r = call(&mut s, "Action=CreateDefaultVpc");
        assert!(r.body.contains("<Code>DefaultVpcAlreadyExists</Code>"), "{}", r.body);
        let r = call(
            &mut s,
            "Action=DescribeSubnets&Filter.1.Name=default-for-az&Filter.1.Value.1=true",
        );
        assert_eq!(r.body.matches("<defaultForAz>true</defaultForAz>").count(), 6, "{}", r.body);
        let r = call(
            &mut s,
            "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&Placement.AvailabilityZone=us-east-1c",
        );
        assert!(r.body.contains("<privateIpAddress>172.31.32.4</privateIpAddress>"), "{}", r.body);
        assert!(r.body.contains("<ipAddress>203.0.113."), "public IPs on launch: {}", r.body);
        assert!(r.body.contains("<dnsName>ec2-203-0-113-"), "DNS hostnames on: {}", r.body);
        let r = call(&mut s, "Action=DescribeVpcs&Filter.1.Name=is-default&Filter.1.Value.1=true");
        assert_eq!(r.body.matches("<vpcId>").count(), 1, "{}", r.body);
    }

    #[test]
    fn gateway_endpoints_through_the_api() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
        let vpc = between(&r.body, "<vpcId>", "</vpcId>").to_owned();
        let r = call(&mut s, &format!("Action=CreateRouteTable&VpcId={vpc}"));
        let rtb = between(&r.body, "<routeTableId>", "</routeTableId>").to_owned();
        let create = format!(
            "Action=CreateVpcEndpoint&VpcId={vpc}&ServiceName=com.amazonaws.us-east-1.s3&RouteTableId.1={rtb}"
        );
        let r = call(&mut s, &create);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("<vpcEndpointType>Gateway</vpcEndpointType>"), "{}", r.body);
        assert!(r.body.contains("<state>available</state>"));
        assert!(r.body.contains(&format!("<routeTableIdSet><item>{rtb}</item></routeTableIdSet>")));
        let vpce = between(&r.body, "<vpcEndpointId>", "</vpcEndpointId>").to_owned();
        assert!(vpce.starts_with("vpce-"));

        let r = call(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={rtb}"));
        assert!(
            r.body.contains(&format!(
                "<destinationPrefixListId>pl-63a5400a</destinationPrefixListId><gatewayId>{vpce}</gatewayId>"
            )),
            "{}",
            r.body
        );
        let r = call(
            &mut s,
            "Action=DescribeRouteTables&Filter.1.Name=route.destination-prefix-list-id&Filter.1.Value.1=pl-63a5400a",
        );
        assert!(r.body.contains(&rtb), "{}", r.body);

        for (body, code) in [
            (create.clone(), "RouteAlreadyExists"),
            (create.replace(".s3", ".nope"), "InvalidServiceName"),
            // An interface service as a gateway; route tables for an interface endpoint.
            (create.replace(".s3", ".sqs"), "InvalidParameter"),
            (format!("{create}&VpcEndpointType=Interface"), "InvalidParameter"),
            (
                format!(
                    "Action=CreateRoute&RouteTableId={rtb}&DestinationCidrBlock=192.0.2.0%2F25&GatewayId={vpce}"
                ),
                "RouteNotSupported",
            ),
            (
                "Action=DescribeVpcEndpoints&VpcEndpointId.1=vpce-0123".into(),
                "InvalidVpcEndpointId.NotFound",
            ),
            (
                "Action=DescribeVpcEndpoints&VpcEndpointId.1=nope".into(),
                "InvalidVpcEndpointId.Malformed",
            ),
            (format!("Action=DeleteVpc&VpcId={vpc}"), "DependencyViolation"),
        ] {
            let r = call(&mut s, &body);
            assert_eq!(r.status, 400, "{body}: {}", r.body);
            assert!(r.body.contains(&format!("<Code>{code}</Code>")), "{body}: {}", r.body);
        }

        let r = call(
            &mut s,
            &format!("Action=ModifyVpcEndpoint&VpcEndpointId={vpce}&RemoveRouteTableId.1={rtb}"),
        );
        assert!(r.body.contains("<return>true</return>"), "{}", r.body);
        let r = call(&mut s, &format!("Action=DescribeRouteTables&RouteTableId.1={rtb}"));
        assert!(!r.body.contains("destinationPrefixListId"), "{}", r.body);

        let r = call(
            &mut s,
            &format!("Action=DeleteVpcEndpoints&VpcEndpointId.1={vpce}&VpcEndpointId.2=vpce-0abc"),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body.contains("<resourceId>vpce-0abc</resourceId>")
                && r.body.contains("<code>InvalidVpcEndpoint.NotFound</code>"),
            "{}",
            r.body
        );
        assert!(!r.body.contains(&format!("<resourceId>{vpce}</resourceId>")), "{}", r.body);
        let r = call(&mut s, "Action=DescribeVpcEndpoints");
        assert!(r.body.contains("<vpcEndpointSet/>"), "{}", r.body);
    }

    #[test]
    fn flow_logs_through_the_api() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
        let vpc = between(&r.body, "<vpcId>", "</vpcId>").to_owned();
        let create = format!(
            "Action=CreateFlowLogs&ResourceType=VPC&ResourceId.1={vpc}&ResourceId.2=vpc-0abc&TrafficType=REJECT&LogDestinationType=s3&LogDestination=arn%3Aaws%3As3%3A%3A%3Abucket"
        );
        let r = call(&mut s, &create);
        assert_eq!(r.status, 200, "{}", r.body);
        let id = between(&r.body, "<flowLogIdSet><item>", "</item>").to_owned();
        assert!(id.starts_with("fl-"), "{}", r.body);
        assert!(
            r.body.contains("<resourceId>vpc-0abc</resourceId>"),
            "per-id failures: {}",
            r.body
        );
        let r = call(&mut s, &create);
        assert!(r.body.contains("<code>FlowLogAlreadyExists</code>"), "{}", r.body);

        let r = call(
            &mut s,
            &format!("Action=DescribeFlowLogs&Filter.1.Name=resource-id&Filter.1.Value.1={vpc}"),
        );
        assert!(r.body.contains(&format!("<flowLogId>{id}</flowLogId>")), "{}", r.body);
        assert!(r.body.contains("<trafficType>REJECT</trafficType>"));
        assert!(r.body.contains("<maxAggregationInterval>600</maxAggregationInterval>"));

        for (body, code) in [
            (create.replace("TrafficType=REJECT", "TrafficType=SOME"), "InvalidParameterValue"),
            (format!("{create}&MaxAggregationInterval=30"), "InvalidParameter"),
            (create.replace("arn%3Aaws%3As3%3A%3A%3Abucket", "bucket"), "InvalidParameter"),
            (format!("{create}&LogFormat=%24%7Bsrcaddr%7D"), "InvalidParameter"),
        ] {
            let r = call(&mut s, &body);
            assert_eq!(r.status, 400, "{body}: {}", r.body);
            assert!(r.body.contains(&format!("<Code>{code}</Code>")), "{body}: {}", r.body);
        }
        let r =
            call(&mut s, &format!("Action=DeleteFlowLogs&FlowLogId.1={id}&FlowLogId.2=fl-0123"));
        assert!(r.body.contains("<resourceId>fl-0123</resourceId>"), "{}", r.body);
        let r = call(&mut s, "Action=DescribeFlowLogs");
        assert!(r.body.contains("<flowLogSet/>"), "{}", r.body);
    }

    #[test]
    fn the_seed_public_private_lab_through_the_api() {
        let mut s = Service::new(Model::new(1), None, None, 1);
        let r = call(&mut s, "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
        let vpc = between(&r.body, "<vpcId>", "</vpcId>").to_owned();
        let r = call(
            &mut s,
            &format!(
                "Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.1.0%2F24&AvailabilityZone=us-east-1a"
            ),
        );
        assert!(
            r.body.contains("<availableIpAddressCount>251</availableIpAddressCount>"),
            "{}",
            r.body
        );
        let public = between(&r.body, "<subnetId>", "</subnetId>").to_owned();
        let r = call(&mut s, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.0.2.0%2F24"));
        let private = between(&r.body, "<subnetId>", "</subnetId>").to_owned();
        let r = call(&mut s, "Action=CreateInternetGateway");
        let igw = between(&r.body, "<internetGatewayId>", "</internetGatewayId>").to_owned();
        assert!(
            call(
                &mut s,
                &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}")
            )
            .body
            .contains("<return>true</return>")
        );
        let r = call(&mut s, &format!("Action=CreateRouteTable&VpcId={vpc}"));
        let rtb = between(&r.body, "<routeTableId>", "</routeTableId>").to_owned();
        assert_eq!(call(&mut s, &format!("Action=CreateRoute&RouteTableId={rtb}&DestinationCidrBlock=0.0.0.0%2F0&GatewayId={igw}")).status, 200);
        let r = call(
            &mut s,
            &format!(
                "Action=CreateRoute&RouteTableId={rtb}&DestinationCidrBlock=0.0.0.0%2F0&GatewayId={igw}"
            ),
        );
        assert!(r.body.contains("<Code>RouteAlreadyExists</Code>"), "{}", r.body);
        let r = call(
            &mut s,
            &format!("Action=AssociateRouteTable&RouteTableId={rtb}&SubnetId={public}"),
        );
        assert!(r.body.contains("<associationId>rtbassoc-"), "{}", r.body);
        assert_eq!(
            call(
                &mut s,
                &format!(
                    "Action=ModifySubnetAttribute&SubnetId={public}&MapPublicIpOnLaunch.Value=true"
                )
            )
            .status,
            200
        );
        let r = call(&mut s, "Action=AllocateAddress&Domain=vpc");
        let eip = between(&r.body, "<allocationId>", "</allocationId>").to_owned();
        let r =
            call(&mut s, &format!("Action=CreateNatGateway&SubnetId={public}&AllocationId={eip}"));
        let nat = between(&r.body, "<natGatewayId>", "</natGatewayId>").to_owned();
        assert!(nat.starts_with("nat-"), "{}", r.body);
        let r = call(&mut s, &format!("Action=CreateRouteTable&VpcId={vpc}"));
        let private_rtb = between(&r.body, "<routeTableId>", "</routeTableId>").to_owned();
        assert_eq!(call(&mut s, &format!("Action=CreateRoute&RouteTableId={private_rtb}&DestinationCidrBlock=0.0.0.0%2F0&NatGatewayId={nat}")).status, 200);
        assert_eq!(
            call(
                &mut s,
                &format!(
                    "Action=AssociateRouteTable&RouteTableId={private_rtb}&SubnetId={private}"
                )
            )
            .status,
            200
        );
        let r = call(
            &mut s,
            &format!(
                "Action=RunInstances&ImageId=ami-12345678&InstanceType=t2.micro&MinCount=1&MaxCount=1&SubnetId={public}&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web"
            ),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body.contains("<ipAddress>203.0.113."),
            "public subnet maps a public IP: {}",
            r.body
        );
        let r = call(
            &mut s,
            &format!(
                "Action=RunInstances&ImageId=ami-12345678&MinCount=2&MaxCount=2&SubnetId={private}"
            ),
        );
        assert_eq!(r.body.matches("<instanceId>").count(), 2);
        let r =
            call(&mut s, "Action=DescribeInstances&Filter.1.Name=tag%3AName&Filter.1.Value.1=web");
        assert_eq!(r.body.matches("<instanceId>").count(), 1, "{}", r.body);
        let r = call(
            &mut s,
            &format!(
                "Action=DescribeNetworkInterfaces&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"
            ),
        );
        assert_eq!(
            r.body.matches("<networkInterfaceId>").count(),
            4,
            "three instances and the NAT: {}",
            r.body
        );
        let r = call(
            &mut s,
            &format!("Action=DetachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"),
        );
        assert!(r.body.contains("<Code>DependencyViolation</Code>"), "{}", r.body);
    }
}
