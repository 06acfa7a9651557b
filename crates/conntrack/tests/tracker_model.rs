//! The security groups' tracker against a naive one — a `Vec` of flows in last-use
//! order, scanned for everything — over random packets both ways, closes, resets, new
//! SYNs on closed connections and waits, with a tiny table so reclaiming and refusing
//! both happen. The tracker's per-class LRU lists are the naive order filtered by class.

mod common;

use proptest::prelude::*;
use vpclab_conntrack::{CLASSES, Class, FlowKey, TcpState, Timeouts, Tracker, flags};

const CAPACITY: usize = 6;
const RECLAIM_SCAN: usize = 8;

#[derive(Clone, Debug)]
struct Flow {
    key: FlowKey,
    value: u32,
    orig_local: bool,
    tcp: TcpState,
    /// UDP exchanges: 0 sent, 1 answered, 2 asked again, 3 stream.
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
        common::class(f.key.protocol, f.tcp, f.udp)
    }

    fn expired(&self, f: &Flow, now: u64) -> bool {
        now.saturating_sub(f.last_seen) >= self.timeouts.get(Self::class(f))
    }

    fn position(&self, key: &FlowKey) -> Option<usize> {
        self.flows.iter().position(|f| f.key == *key)
    }

    fn advance(&mut self, i: usize, from_local: bool, fl: u8, now: u64) {
        let before = Self::class(&self.flows[i]);
        let f = &mut self.flows[i];
        let from_originator = f.orig_local == from_local;
        match f.key.protocol {
            6 => f.tcp = f.tcp.next(fl, from_originator),
            17 => f.udp = common::udp_next(f.udp, from_originator),
            _ => {}
        }
        f.last_seen = now;
        if Self::class(f) != before || f.linked_at != now / 1000 {
            let mut f = self.flows.remove(i);
            f.linked_at = now / 1000;
            self.flows.push(f);
        }
    }

    fn hit(&mut self, key: &FlowKey, from_local: bool, fl: u8, now: u64) -> Option<u32> {
        let i = self.position(key)?;
        if self.expired(&self.flows[i], now) {
            self.flows.remove(i);
            return None;
        }
        let f = &self.flows[i];
        if key.protocol == 6
            && fl & (flags::SYN | flags::ACK) == flags::SYN
            && matches!(f.tcp, TcpState::TimeWait | TcpState::Closed)
        {
            self.flows.remove(i);
            return None;
        }
        self.advance(i, from_local, fl, now);
        let i = self.position(key).expect("just advanced");
        Some(self.flows[i].value)
    }

    fn track(&mut self, key: FlowKey, value: u32, from_local: bool, fl: u8, now: u64) -> bool {
        if let Some(i) = self.position(&key) {
            if !self.expired(&self.flows[i], now) {
                self.advance(i, from_local, fl, now);
                let i = self.position(&key).expect("just advanced");
                self.flows[i].value = value;
                return true;
            }
            self.flows.remove(i);
        }
        if self.flows.len() == CAPACITY {
            let victim = (0..CLASSES).find_map(|class| {
                let of_class: Vec<usize> = (0..self.flows.len())
                    .filter(|&i| Self::class(&self.flows[i]) as usize == class)
                    .collect();
                of_class.into_iter().take(RECLAIM_SCAN).find(|&i| self.expired(&self.flows[i], now))
            });
            match victim {
                Some(i) => {
                    self.flows.remove(i);
                }
                None => return false,
            }
        }
        let tcp = TcpState::initial(fl);
        self.flows.push(Flow {
            key,
            value,
            orig_local: from_local,
            tcp,
            udp: 0,
            last_seen: now,
            linked_at: now / 1000,
        });
        true
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A packet of flow `flow`: looked up, and tracked when not found (as the security
    /// groups do when a rule allows it).
    Packet {
        flow: u8,
        from_local: bool,
        fl: u8,
        allowed: bool,
    },
    Wait {
        ms: u32,
    },
    Sweep {
        budget: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let fl = prop::sample::select(vec![
        flags::SYN,
        flags::SYN | flags::ACK,
        flags::ACK,
        flags::FIN | flags::ACK,
        flags::RST,
        0,
    ]);
    prop_oneof![
        6 => (0u8..10, any::<bool>(), fl, any::<bool>())
            .prop_map(|(flow, from_local, fl, allowed)| Op::Packet { flow, from_local, fl, allowed }),
        2 => prop::sample::select(vec![1u32, 900, 5_000, 11_000, 31_000, 61_000, 121_000])
            .prop_map(|ms| Op::Wait { ms }),
        1 => (0u8..10).prop_map(|budget| Op::Sweep { budget }),
    ]
}

fn key(flow: u8) -> FlowKey {
    let protocol = [6, 17, 1, 47][usize::from(flow % 4)];
    FlowKey {
        zone: u32::from(flow % 2),
        protocol,
        local: 0x0A00_0001,
        local_port: 1000 + u16::from(flow),
        remote: 0xC633_6401,
        remote_port: 80,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_the_naive_tracker(ops in prop::collection::vec(op(), 1..150)) {
        let timeouts = Timeouts::interface(60, 60, 30);
        let mut tracker = Tracker::new(CAPACITY, 11);
        let mut naive = Naive { flows: Vec::new(), timeouts };
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Packet { flow, from_local, fl, allowed } => {
                    let k = key(flow);
                    let got = tracker.hit(&k, from_local, fl, &timeouts, now);
                    let want = naive.hit(&k, from_local, fl, now);
                    prop_assert_eq!(got, want, "hit {:?} at {}", k, now);
                    if got.is_none() && allowed {
                        let value = u32::from(flow) * 7;
                        let got = tracker.track(k, value, from_local, fl, &timeouts, now);
                        let want = naive.track(k, value, from_local, fl, now);
                        prop_assert_eq!(got, want, "track {:?} at {}", k, now);
                    }
                }
                Op::Wait { ms } => now += u64::from(ms),
                Op::Sweep { budget } => {
                    let budget = usize::from(budget);
                    let mut gone: Vec<usize> = (0..CLASSES)
                        .flat_map(|class| {
                            (0..naive.flows.len())
                                .filter(|&i| Naive::class(&naive.flows[i]) as usize == class)
                                .take(budget)
                                .collect::<Vec<_>>()
                        })
                        .filter(|&i| naive.expired(&naive.flows[i], now))
                        .collect();
                    gone.sort_unstable();
                    for &i in gone.iter().rev() {
                        naive.flows.remove(i);
                    }
                    prop_assert_eq!(tracker.sweep(now, budget), gone.len());
                }
            }
            prop_assert_eq!(tracker.len(), naive.flows.len(), "table size at {}", now);
            for f in &naive.flows {
                prop_assert_eq!(tracker.peek(&f.key, now).is_some(), !naive.expired(f, now));
                if f.key.protocol == 6 {
                    prop_assert_eq!(tracker.tcp_state(&f.key), Some(f.tcp));
                }
            }
        }
    }
}
