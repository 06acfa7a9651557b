//! The forwarder's connection tracking: the NAT gateways' tables, the security groups'
//! tracked flows and the gateway endpoints' flows — all `vpclab_conntrack` tables,
//! owned by one forwarder worker each.
//!
//! Tables are the only state the packet path writes. They live beside the snapshot,
//! keyed by the stable slot each NAT gateway has in it; [`Tracking::sync`] runs when a
//! new snapshot arrives (never per packet) and creates or drops tables to match.

use vpclab_conntrack::{
    Config, Fragments, Nat, Stats, Timeouts, Tracker, TrackerStats, random_seed,
};

use crate::counters::GatewayCounters;
use crate::snapshot::{Port, Snapshot};
use crate::trace::{Step, Trace};

/// Flows the security groups track, over all interfaces of the forwarder: about 72 bytes
/// each (18 MiB). Closed TCP connections drain in 10 s, so this holds the flows of
/// about 13,000 new connections a second between two instances (each is tracked at
/// both ends).
pub const SG_FLOWS: usize = 1 << 18;

/// IPv6 flows the security groups track, over all interfaces of the forwarder (about
/// 100 bytes each: 6.5 MiB).
pub const SG6_FLOWS: usize = 1 << 16;

/// IPv6 flows out through egress-only internet gateways, all VPCs together.
pub const EGRESS_ONLY_FLOWS: usize = 1 << 14;

/// Flows through gateway endpoints the forwarder tracks, all VPCs together.
pub const ENDPOINT_FLOWS: usize = 1 << 14;

/// Fragmented datagrams whose first fragment's head each worker remembers.
pub const FRAGMENTED_DATAGRAMS: usize = 1 << 12;

/// Flows each NAT gateway can track at once (AWS: 55,000 per destination; the table is
/// shared by all destinations). About 4.7 MiB per gateway.
pub const FLOWS_PER_GATEWAY: usize = 1 << 16;

/// NAT64 flows (IPv6 inside) each NAT gateway can track at once, beside its IPv4 ones
/// and on the same ports: about 100 bytes each (1.6 MiB per gateway). A quarter of the
/// IPv4 table: enough for a lab's IPv6-only subnets, whose IPv4 traffic all goes here.
pub const NAT64_FLOWS_PER_GATEWAY: usize = 1 << 14;

/// One connection table per NAT gateway slot.
#[derive(Debug)]
pub struct Tracking {
    /// The security groups' tracked flows, all interfaces (the key's zone is the
    /// interface's port).
    pub(crate) sg: Tracker,
    /// The same for IPv6 flows.
    pub(crate) sg6: Tracker<u128>,
    /// IPv6 flows out through egress-only internet gateways (the key's zone is the
    /// VPC's index), whose replies, and nothing else, come back in.
    pub(crate) egress_only: Tracker<u128>,
    /// Flows out through gateway endpoints, seen from the instance (the key's zone is
    /// `INTERNET`: replies arrive there), to the instance's port. Replies come back to
    /// a private address, which only this table can tell apart.
    pub(crate) endpoint: Tracker,
    /// The heads of fragmented datagrams, for their later fragments.
    pub(crate) fragments: Fragments,
    /// The same for IPv6 datagrams.
    pub(crate) fragments6: Fragments<u128>,
    /// The steps of a trace being recorded; `None` (always, for real traffic): none.
    trace: Option<Vec<Step>>,
    /// The interface the last packet was delivered to or refused at (for flow logs).
    pub(crate) receiver: Option<Port>,
    tables: Vec<Option<Nat>>,
    /// Each gateway's NAT64 flows, by the same slot: IPv6 inside, the outside address
    /// and ports shared with its table in `tables`.
    tables64: Vec<Option<Nat<u128>>>,
    /// Stats of tables dropped since, so totals never go backwards.
    retired: Stats,
    capacity: usize,
    /// This tracker's share of every NAT gateway's ports (see [`Tracking::for_worker`]).
    share: (u16, u16),
    /// Packets each transit gateway (by index in the snapshot) routed on and dropped.
    hubs: Vec<GatewayCounters>,
}

impl Tracking {
    /// No tables yet; each will hold `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        Self::for_worker(capacity, 0, 1)
    }

    /// The tracker of forwarder worker `worker` of `workers`: a `1/workers` share of the
    /// flow tables' room (`capacity` per NAT gateway is the total), and of every NAT
    /// gateway's ports — those with `port % workers == worker` — so that a reply's
    /// port names the worker whose tables hold its flow (see [`crate::steer`]).
    ///
    /// # Panics
    /// If `worker >= workers` or `workers` is 0 or above 1,024.
    pub fn for_worker(capacity: usize, worker: usize, workers: usize) -> Self {
        assert!(worker < workers && workers <= 1024, "worker {worker} of {workers}");
        let part = |total: usize| (total / workers).max(1);
        Self {
            sg: Tracker::new(part(SG_FLOWS), random_seed()),
            sg6: Tracker::new(part(SG6_FLOWS), random_seed()),
            egress_only: Tracker::new(part(EGRESS_ONLY_FLOWS), random_seed()),
            endpoint: Tracker::new(part(ENDPOINT_FLOWS), random_seed()),
            fragments: Fragments::new(FRAGMENTED_DATAGRAMS, random_seed()),
            fragments6: Fragments::new(FRAGMENTED_DATAGRAMS, random_seed()),
            trace: None,
            receiver: None,
            tables: Vec::new(),
            tables64: Vec::new(),
            retired: Stats::default(),
            capacity: part(capacity),
            share: (worker as u16, workers as u16),
            hubs: Vec::new(),
        }
    }

    /// Makes the tables match the snapshot's NAT gateways: a table for every slot in use
    /// (with the gateway's idle timeout), none for slots no longer in use.
    pub fn sync(&mut self, snapshot: &Snapshot) {
        self.hubs.resize(snapshot.transit_gateways as usize, GatewayCounters::default());
        let mut used = vec![false; self.tables.len()];
        for nat in snapshot.nats() {
            let slot = nat.slot as usize;
            if self.tables.len() <= slot {
                self.tables.resize_with(slot + 1, || None);
                self.tables64.resize_with(slot + 1, || None);
                used.resize(slot + 1, false);
            }
            used[slot] = true;
            let timeouts = Timeouts::nat_gateway(nat.idle_timeout_ms);
            let current = self.tables[slot].as_ref().map(|t| t.config().timeouts);
            if current != Some(timeouts) {
                self.retire(slot);
                let seed =
                    0x6e61_7467_7700_0000 ^ slot as u64 ^ (nat.outside.to_bits() as u64) << 20;
                let config = Config {
                    capacity: self.capacity,
                    timeouts,
                    seed,
                    share: self.share,
                    ..Config::default()
                };
                let capacity =
                    (self.capacity / (FLOWS_PER_GATEWAY / NAT64_FLOWS_PER_GATEWAY)).max(1);
                self.tables64[slot] =
                    Some(Nat::new(Config { capacity, seed: !seed, ..config.clone() }));
                self.tables[slot] = Some(Nat::new(config));
            }
        }
        for (slot, used) in used.into_iter().enumerate() {
            if !used {
                self.retire(slot);
            }
        }
    }

    /// Drops the tables of `slot`, keeping their counts.
    fn retire(&mut self, slot: usize) {
        if let Some(old) = self.tables[slot].take() {
            add(&mut self.retired, &old.stats());
        }
        if let Some(old) = self.tables64[slot].take() {
            add(&mut self.retired, &old.stats());
        }
    }

    /// The interface the last packet processed was delivered to, or refused at by its
    /// subnet's ACL or its security groups.
    pub fn receiver(&self) -> Option<Port> {
        self.receiver
    }

    /// Starts recording the pipeline's decisions (see [`Tracking::finish_trace`]).
    pub fn start_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// Stops recording; what was recorded since [`Tracking::start_trace`].
    pub fn finish_trace(&mut self) -> Trace {
        Trace { steps: self.trace.take().unwrap_or_default() }
    }

    /// Notes a decision if a trace is being recorded.
    #[inline(always)]
    pub(crate) fn note(&mut self, step: impl FnOnce() -> Step) {
        if let Some(steps) = &mut self.trace {
            steps.push(step());
        }
    }

    /// The table of `slot`.
    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Nat> {
        self.tables.get_mut(slot as usize)?.as_mut()
    }

    /// Both tables of `slot`: its IPv4 flows and its NAT64 flows, which share its
    /// outside ports.
    #[inline]
    pub fn both_mut(&mut self, slot: u32) -> Option<(&mut Nat, &mut Nat<u128>)> {
        let four = self.tables.get_mut(slot as usize)?.as_mut()?;
        let six = self.tables64.get_mut(slot as usize)?.as_mut()?;
        Some((four, six))
    }

    /// Removes expired flows, up to `budget` looked at per list of each table.
    pub fn sweep(&mut self, now: u64, budget: usize) {
        self.sg.sweep(now, budget);
        self.sg6.sweep(now, budget);
        self.egress_only.sweep(now, budget);
        self.endpoint.sweep(now, budget);
        for table in self.tables.iter_mut().flatten() {
            table.sweep(now, budget);
        }
        for table in self.tables64.iter_mut().flatten() {
            table.sweep(now, budget);
        }
    }

    /// Flows the security groups, the gateway endpoints and the egress-only gateways
    /// track now.
    pub fn tracked_flows(&self) -> usize {
        self.sg.len() + self.sg6.len() + self.endpoint.len() + self.egress_only.len()
    }

    /// The security groups', the gateway endpoints' and the egress-only gateways'
    /// counters together.
    pub fn tracker_stats(&self) -> TrackerStats {
        let all =
            [self.sg.stats(), self.sg6.stats(), self.endpoint.stats(), self.egress_only.stats()];
        all.iter().fold(TrackerStats::default(), |t, s| TrackerStats {
            created: t.created + s.created,
            expired: t.expired + s.expired,
            full: t.full + s.full,
        })
    }

    /// A packet transit gateway `index` routed on (`carried`) or dropped.
    #[inline]
    pub(crate) fn through_hub(&mut self, index: u32, carried: bool) {
        if let Some(hub) = self.hubs.get_mut(index as usize) {
            match carried {
                true => hub.carried += 1,
                false => hub.dropped += 1,
            }
        }
    }

    /// Each transit gateway's packets so far, by index in the snapshot.
    pub fn transit_gateways(&self) -> &[GatewayCounters] {
        &self.hubs
    }

    /// Each NAT gateway's packets so far, by connection-table slot: those it
    /// translated (new flows and matches) and those it dropped (no flow, no port, a
    /// full table, a reset owed).
    pub fn nat_gateways(&self) -> impl Iterator<Item = (u32, GatewayCounters)> + '_ {
        (0u32..).zip(self.tables.iter().zip(&self.tables64)).filter_map(|(slot, (four, six))| {
            let mut s = four.as_ref()?.stats();
            if let Some(six) = six {
                add(&mut s, &six.stats());
            }
            let carried = s.created + s.matched;
            let dropped = s.no_flow + s.port_exhausted + s.table_full + s.resets;
            Some((slot, GatewayCounters { carried, dropped }))
        })
    }

    /// Flows tracked now, over all gateways.
    pub fn flows(&self) -> usize {
        self.tables.iter().flatten().map(Nat::len).sum::<usize>()
            + self.tables64.iter().flatten().map(Nat::len).sum::<usize>()
    }

    /// Outcome counters over all gateways, past and present.
    pub fn stats(&self) -> Stats {
        let mut total = self.retired;
        for table in self.tables.iter().flatten() {
            add(&mut total, &table.stats());
        }
        for table in self.tables64.iter().flatten() {
            add(&mut total, &table.stats());
        }
        total
    }
}

fn add(total: &mut Stats, s: &Stats) {
    total.created += s.created;
    total.matched += s.matched;
    total.expired += s.expired;
    total.port_exhausted += s.port_exhausted;
    total.table_full += s.table_full;
    total.no_flow += s.no_flow;
    total.resets += s.resets;
}
