//! The table against a naive tracker — a Vec of flows in last-use order, scanned for
//! everything — over random operation sequences with a small port range and a small
//! table, so exhaustion, reclamation and expiry all happen. The table's per-class LRU
//! lists are the naive order filtered by class.
//!
//! Ports are the one thing the two choose differently, so the model adopts the port the
//! table hands out and checks everything about it: in range, unique per destination
//! among live flows, stable for the flow's life, and the key of the reverse mapping.

mod common;

use proptest::prelude::*;
use vpclab_conntrack::{
    CLASSES, Class, Config, Inbound, Nat, Outbound, Outcome, Proto, TcpState, Timeouts, Tuple,
    flags,
};

const PORTS: std::ops::RangeInclusive<u16> = 3000..=3005;
const CAPACITY: usize = 10;
const RECLAIM_SCAN: usize = 8;

#[derive(Clone, Debug)]
struct Flow {
    t: Tuple,
    port: u16,
    state: TcpState,
    /// UDP: request-response exchanges seen (0 sent, 1 answered, 2 asked again, 3 stream).
    udp: u8,
    last_seen: u64,
    linked_at: u64,
}

struct Naive {
    flows: Vec<Flow>, // oldest first
    timeouts: Timeouts,
}

impl Naive {
    fn class(f: &Flow) -> Class {
        common::class(f.t.proto as u8, f.state, f.udp)
    }

    fn timeout(&self, f: &Flow) -> u64 {
        self.timeouts.get(Self::class(f))
    }

    fn expired(&self, f: &Flow, now: u64) -> bool {
        now.saturating_sub(f.last_seen) >= self.timeout(f)
    }

    /// A packet of flow `i`: its state moves on; it moves to the newest end when its
    /// class changes, or at most once per second of `now`.
    fn advance(&mut self, i: usize, fl: u8, outbound: bool, now: u64) {
        let before = Self::class(&self.flows[i]);
        let f = &mut self.flows[i];
        match f.t.proto {
            Proto::Tcp => f.state = f.state.next(fl, outbound),
            Proto::Udp => f.udp = common::udp_next(f.udp, outbound),
            Proto::Icmp => {}
        }
        f.last_seen = now;
        if Self::class(f) != before || f.linked_at != now / 1000 {
            let mut f = self.flows.remove(i);
            f.linked_at = now / 1000;
            self.flows.push(f);
        }
    }

    /// Positions of the flows of `class`, oldest first.
    fn of_class(&self, class: usize) -> Vec<usize> {
        (0..self.flows.len()).filter(|&i| Self::class(&self.flows[i]) as usize == class).collect()
    }

    /// The expected verdict; `port` is what the real table handed out when it created a
    /// flow (the model checks it and adopts it).
    fn outbound(
        &mut self,
        t: Tuple,
        fl: u8,
        now: u64,
        real: Outbound,
    ) -> Result<Outbound, TestCaseError> {
        if let Some(i) = self.flows.iter().position(|f| f.t == t) {
            if !self.expired(&self.flows[i], now) {
                let port = self.flows[i].port;
                self.advance(i, fl, true, now);
                return Ok(Outbound::Translate { port, outcome: Outcome::Matched });
            }
            self.flows.remove(i);
        }
        if t.proto == Proto::Tcp && fl & (flags::SYN | flags::ACK | flags::RST) != flags::SYN {
            return Ok(if fl & flags::RST != 0 {
                Outbound::Drop(Outcome::NoFlow)
            } else {
                Outbound::Reset
            });
        }
        if self.flows.len() == CAPACITY {
            let oldest = (0..CLASSES).find_map(|class| {
                let scan = self.of_class(class);
                scan.into_iter().take(RECLAIM_SCAN).find(|&i| self.expired(&self.flows[i], now))
            });
            match oldest {
                Some(i) => {
                    self.flows.remove(i);
                }
                None => return Ok(Outbound::Drop(Outcome::TableFull)),
            }
        }
        let same_dest = |f: &Flow| f.t.proto == t.proto && f.t.dst == t.dst && f.t.dport == t.dport;
        let live = self.flows.iter().filter(|f| same_dest(f) && !self.expired(f, now)).count();
        if live == PORTS.len() {
            return Ok(Outbound::Drop(Outcome::PortExhausted));
        }
        let Outbound::Translate { port, .. } = real else {
            return Err(TestCaseError::fail(format!("expected a new flow, table said {real:?}")));
        };
        prop_assert!(PORTS.contains(&port), "port {} out of range", port);
        if let Some(holder) = self.flows.iter().position(|f| same_dest(f) && f.port == port) {
            prop_assert!(self.expired(&self.flows[holder], now), "port {} given twice", port);
            self.flows.remove(holder);
        }
        let state = if t.proto == Proto::Tcp { TcpState::SynSent } else { TcpState::Closed };
        self.flows.push(Flow { t, port, state, udp: 0, last_seen: now, linked_at: now / 1000 });
        Ok(Outbound::Translate { port, outcome: Outcome::Created })
    }

    fn inbound(
        &mut self,
        proto: Proto,
        remote: u32,
        rport: u16,
        port: u16,
        fl: u8,
        now: u64,
    ) -> Inbound {
        let Some(i) = self.flows.iter().position(|f| {
            f.t.proto == proto && f.t.dst == remote && f.t.dport == rport && f.port == port
        }) else {
            return Inbound::Drop(Outcome::NoFlow);
        };
        if self.expired(&self.flows[i], now) {
            self.flows.remove(i);
            return Inbound::Drop(Outcome::Expired);
        }
        let (addr, p) = (self.flows[i].t.src, self.flows[i].t.sport);
        self.advance(i, fl, false, now);
        Inbound::Translate { addr, port: p }
    }

    fn sweep(&mut self, now: u64, budget: usize) -> usize {
        let mut gone: Vec<usize> = (0..CLASSES)
            .flat_map(|class| self.of_class(class).into_iter().take(budget))
            .filter(|&i| self.expired(&self.flows[i], now))
            .collect();
        gone.sort_unstable();
        for &i in gone.iter().rev() {
            self.flows.remove(i);
        }
        gone.len()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Out { inside: u8, remote: u8, proto: u8, fl: u8 },
    In { flow: u8, fl: u8, wrong_port: bool },
    Sweep { budget: u8 },
    Wait { ms: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    let fl = prop::sample::select(vec![
        flags::SYN,
        flags::SYN | flags::ACK,
        flags::ACK,
        flags::FIN | flags::ACK,
        flags::RST,
        flags::RST | flags::ACK,
        0,
    ]);
    prop_oneof![
        4 => (0u8..6, 0u8..3, 0u8..3, fl.clone()).prop_map(|(inside, remote, proto, fl)| Op::Out { inside, remote, proto, fl }),
        3 => (any::<u8>(), fl, any::<bool>()).prop_map(|(flow, fl, wrong_port)| Op::In { flow, fl, wrong_port }),
        1 => (0u8..12).prop_map(|budget| Op::Sweep { budget }),
        2 => prop::sample::select(vec![1u32, 500, 5_000, 30_000, 61_000, 121_000]).prop_map(|ms| Op::Wait { ms }),
    ]
}

fn tuple(inside: u8, remote: u8, proto: u8) -> Tuple {
    let proto = [Proto::Tcp, Proto::Udp, Proto::Icmp][usize::from(proto)];
    Tuple {
        proto,
        src: 0x0A00_0200 + u32::from(inside % 2),
        dst: 0xC633_6400 + u32::from(remote),
        sport: 40_000 + u16::from(inside),
        dport: if proto == Proto::Icmp { 0 } else { 80 },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_the_naive_tracker(ops in prop::collection::vec(op(), 1..120)) {
        let timeouts = Timeouts::nat_gateway(150_000);
        let mut nat = Nat::new(Config { capacity: CAPACITY, timeouts, ports: PORTS, seed: 7, ..Config::default() });
        let mut naive = Naive { flows: Vec::new(), timeouts };
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Out { inside, remote, proto, fl } => {
                    let t = tuple(inside, remote, proto);
                    let got = nat.outbound(t, fl, now);
                    let want = naive.outbound(t, fl, now, got)?;
                    prop_assert_eq!(got, want, "outbound {:?} flags {:#x} at {}", t, fl, now);
                }
                Op::In { flow, fl, wrong_port } => {
                    let Some(f) = naive.flows.get(usize::from(flow) % naive.flows.len().max(1)).cloned() else { continue };
                    let port = if wrong_port { f.port.wrapping_add(1) } else { f.port };
                    let got = nat.inbound(f.t.proto, f.t.dst, f.t.dport, port, fl, now);
                    let want = naive.inbound(f.t.proto, f.t.dst, f.t.dport, port, fl, now);
                    prop_assert_eq!(got, want, "inbound to port {} at {}", port, now);
                }
                Op::Sweep { budget } => {
                    let budget = usize::from(budget);
                    prop_assert_eq!(nat.sweep(now, budget), naive.sweep(now, budget));
                }
                Op::Wait { ms } => now += u64::from(ms),
            }
            prop_assert_eq!(nat.len(), naive.flows.len(), "table size");
            for f in &naive.flows {
                if f.t.proto == Proto::Tcp {
                    prop_assert_eq!(nat.tcp_state(&f.t), Some(f.state));
                }
            }
        }
    }
}
