//! Every timeout and state transition, driven by explicit `now`.

use vpclab_conntrack::{
    Config, Inbound, Nat, Outbound, Outcome, Proto, TcpState, Timeouts, Tuple, flags,
};

const INSIDE: u32 = 0x0A00_0204; // 10.0.2.4
const SERVER: u32 = 0xC633_6401; // 198.51.100.1
const S: u64 = 1000; // one second in ms

fn tcp(sport: u16) -> Tuple {
    Tuple { proto: Proto::Tcp, src: INSIDE, dst: SERVER, sport, dport: 80 }
}

fn nat() -> Nat {
    Nat::new(Config { capacity: 64, ..Config::default() })
}

fn port_of(o: Outbound) -> u16 {
    match o {
        Outbound::Translate { port, .. } => port,
        other => panic!("expected a translation, got {other:?}"),
    }
}

#[test]
fn a_tcp_connection_lives_and_closes() {
    let mut n = nat();
    let t = tcp(40000);
    let out = n.outbound(t, flags::SYN, 0);
    let port = port_of(out);
    assert!(matches!(out, Outbound::Translate { outcome: Outcome::Created, .. }));
    assert!((1024..=65535).contains(&port));
    assert_eq!(n.tcp_state(&t), Some(TcpState::SynSent));

    assert_eq!(
        n.inbound(Proto::Tcp, SERVER, 80, port, flags::SYN | flags::ACK, S),
        Inbound::Translate { addr: INSIDE, port: 40000 }
    );
    assert_eq!(n.tcp_state(&t), Some(TcpState::Established));
    assert_eq!(
        n.outbound(t, flags::ACK, 2 * S),
        Outbound::Translate { port, outcome: Outcome::Matched }
    );

    n.outbound(t, flags::FIN | flags::ACK, 3 * S);
    assert_eq!(n.tcp_state(&t), Some(TcpState::FinOut));
    n.inbound(Proto::Tcp, SERVER, 80, port, flags::FIN | flags::ACK, 3 * S);
    assert_eq!(n.tcp_state(&t), Some(TcpState::TimeWait));
    // Closed flows go after the closed timeout (10 s).
    assert_eq!(n.sweep(3 * S + 9 * S, 100), 0);
    assert_eq!(n.sweep(3 * S + 10 * S, 100), 1);
    assert!(n.is_empty());
}

#[test]
fn idle_established_flows_time_out_at_350_s_and_then_get_an_rst() {
    let mut n = nat();
    let t = tcp(40001);
    let port = port_of(n.outbound(t, flags::SYN, 0));
    n.inbound(Proto::Tcp, SERVER, 80, port, flags::SYN | flags::ACK, 0);
    // Still alive one millisecond before the deadline (traffic refreshes it)...
    assert!(matches!(n.outbound(t, flags::ACK, 350 * S - 1), Outbound::Translate { .. }));
    // ...and gone after 350 s of silence: the inside gets an RST.
    assert_eq!(n.outbound(t, flags::ACK, 350 * S - 1 + 350 * S), Outbound::Reset);
    assert_eq!(n.stats().expired, 1);
    assert_eq!(n.stats().resets, 1);
    assert!(n.is_empty(), "no entry leaked");
    // The outside cannot use the old mapping either.
    assert_eq!(
        n.inbound(Proto::Tcp, SERVER, 80, port, flags::ACK, 701 * S),
        Inbound::Drop(Outcome::NoFlow)
    );
}

#[test]
fn unanswered_syns_and_half_closed_flows_have_shorter_timeouts() {
    let mut n = nat();
    let syn = tcp(40002);
    n.outbound(syn, flags::SYN, 0);
    assert_eq!(n.sweep(119 * S, 10), 0);
    assert_eq!(n.sweep(120 * S, 10), 1);

    let fin = tcp(40003);
    let port = port_of(n.outbound(fin, flags::SYN, 0));
    n.inbound(Proto::Tcp, SERVER, 80, port, flags::SYN | flags::ACK, 0);
    n.inbound(Proto::Tcp, SERVER, 80, port, flags::FIN | flags::ACK, 0);
    assert_eq!(n.tcp_state(&fin), Some(TcpState::FinIn));
    assert_eq!(n.sweep(119 * S, 10), 0);
    assert_eq!(n.sweep(120 * S, 10), 1);
}

#[test]
fn a_reset_closes_the_flow_quickly() {
    let mut n = nat();
    let t = tcp(40004);
    let port = port_of(n.outbound(t, flags::SYN, 0));
    assert!(matches!(
        n.inbound(Proto::Tcp, SERVER, 80, port, flags::RST | flags::ACK, S),
        Inbound::Translate { .. }
    ));
    assert_eq!(n.tcp_state(&t), Some(TcpState::Closed));
    assert_eq!(n.sweep(11 * S, 10), 1);
}

#[test]
fn tcp_without_a_syn_gets_an_rst_and_no_entry() {
    let mut n = nat();
    assert_eq!(n.outbound(tcp(1), flags::ACK, 0), Outbound::Reset);
    assert_eq!(n.outbound(tcp(2), flags::SYN | flags::ACK, 0), Outbound::Reset);
    assert_eq!(n.outbound(tcp(3), flags::FIN, 0), Outbound::Reset);
    // Never an RST for an RST.
    assert_eq!(n.outbound(tcp(4), flags::RST, 0), Outbound::Drop(Outcome::NoFlow));
    assert!(n.is_empty());
}

#[test]
fn udp_and_icmp_timeouts() {
    let mut n = nat();
    let udp = Tuple { proto: Proto::Udp, src: INSIDE, dst: SERVER, sport: 5353, dport: 53 };
    let port = port_of(n.outbound(udp, 0, 0));
    assert_eq!(
        n.inbound(Proto::Udp, SERVER, 53, port, 0, 349 * S),
        Inbound::Translate { addr: INSIDE, port: 5353 }
    );
    assert_eq!(
        n.inbound(Proto::Udp, SERVER, 53, port, 0, 699 * S),
        Inbound::Drop(Outcome::Expired)
    );

    let echo = Tuple { proto: Proto::Icmp, src: INSIDE, dst: SERVER, sport: 0x1234, dport: 0 };
    let id = port_of(n.outbound(echo, 0, 0));
    assert_eq!(
        n.inbound(Proto::Icmp, SERVER, 0, id, 0, 59 * S),
        Inbound::Translate { addr: INSIDE, port: 0x1234 }
    );
    assert_eq!(n.sweep(59 * S + 60 * S, 10), 1);
    // A new echo after expiry is a new flow.
    assert!(matches!(
        n.outbound(echo, 0, 200 * S),
        Outbound::Translate { outcome: Outcome::Created, .. }
    ));
}

#[test]
fn a_shortened_idle_timeout_applies_to_everything() {
    let mut n = Nat::new(Config {
        capacity: 8,
        timeouts: Timeouts::nat_gateway(2 * S),
        ..Config::default()
    });
    let t = tcp(40005);
    let port = port_of(n.outbound(t, flags::SYN, 0));
    n.inbound(Proto::Tcp, SERVER, 80, port, flags::SYN | flags::ACK, 0);
    assert_eq!(n.outbound(t, flags::ACK, 2 * S), Outbound::Reset);
}

#[test]
fn ports_are_per_destination_and_exhaust() {
    let mut n = Nat::new(Config { capacity: 64, ports: 2000..=2003, ..Config::default() });
    let mut ports = Vec::new();
    for sport in 0..4 {
        ports.push(port_of(n.outbound(tcp(10_000 + sport), flags::SYN, 0)));
    }
    ports.sort_unstable();
    assert_eq!(ports, vec![2000, 2001, 2002, 2003]);
    assert_eq!(n.outbound(tcp(10_004), flags::SYN, 0), Outbound::Drop(Outcome::PortExhausted));
    assert_eq!(n.stats().port_exhausted, 1);
    // Another destination port has its own four.
    let other = Tuple { dport: 443, ..tcp(10_005) };
    assert!(matches!(n.outbound(other, flags::SYN, 0), Outbound::Translate { .. }));
    // An expired holder gives its port up.
    assert!(matches!(
        n.outbound(tcp(10_006), flags::SYN, 121 * S),
        Outbound::Translate { outcome: Outcome::Created, .. }
    ));
    // Only the holder of the chosen port was reclaimed; the sweep takes the other four
    // (three to port 80, one to 443: all past the 120 s SYN timeout).
    assert_eq!(n.len(), 5);
    assert_eq!(n.sweep(121 * S, 100), 4);
    assert_eq!(n.len(), 1);
}

#[test]
fn a_full_table_reclaims_expired_flows_but_never_live_ones() {
    let mut n = Nat::new(Config { capacity: 4, ..Config::default() });
    for sport in 0..4 {
        n.outbound(tcp(sport), flags::SYN, 0);
    }
    assert_eq!(n.outbound(tcp(9), flags::SYN, S), Outbound::Drop(Outcome::TableFull));
    assert_eq!(n.len(), 4);
    // After the SYN timeout the oldest can be reclaimed.
    assert!(matches!(
        n.outbound(tcp(9), flags::SYN, 120 * S),
        Outbound::Translate { outcome: Outcome::Created, .. }
    ));
    assert_eq!(n.len(), 4);
}

#[test]
fn fifty_five_thousand_connections_to_one_destination() {
    let mut n = Nat::new(Config { capacity: 70_000, ..Config::default() });
    let mut seen = vec![false; 65_536];
    for i in 0..55_000u32 {
        let t = Tuple {
            proto: Proto::Tcp,
            src: INSIDE + (i >> 16),
            dst: SERVER,
            sport: i as u16,
            dport: 443,
        };
        let port = port_of(n.outbound(t, flags::SYN, 0));
        assert!(!seen[usize::from(port)], "port {port} handed out twice");
        seen[usize::from(port)] = true;
    }
    assert_eq!(n.len(), 55_000);
    assert_eq!(n.stats().port_exhausted, 0);
}

#[test]
fn icmp_errors_find_their_flow_without_refreshing_it() {
    let mut n = nat();
    let udp = Tuple { proto: Proto::Udp, src: INSIDE, dst: SERVER, sport: 7000, dport: 9 };
    let port = port_of(n.outbound(udp, 0, 0));
    assert_eq!(n.peek_outside(Proto::Udp, SERVER, 9, port, S), Some((INSIDE, 7000)));
    assert_eq!(n.peek_outside(Proto::Udp, SERVER, 10, port, S), None);
    assert_eq!(
        n.peek_outside(Proto::Udp, SERVER, 9, port, 350 * S),
        None,
        "peeking did not refresh it"
    );
}

#[test]
fn a_batch_gives_the_verdicts_of_single_calls() {
    let mut single = nat();
    let mut batch = nat();
    // Repeats inside one batch: the second packet of a new flow must match the first.
    let packets: Vec<(Tuple, u8)> = (0..40u16)
        .map(|i| (tcp(50_000 + i % 7), if i < 7 { flags::SYN } else { flags::ACK }))
        .collect();
    let want: Vec<Outbound> = packets.iter().map(|&(t, f)| single.outbound(t, f, 5)).collect();
    let mut got = vec![Outbound::Reset; packets.len()];
    batch.outbound_batch(&packets, 5, &mut got);
    assert_eq!(got, want);
    assert_eq!(batch.stats(), single.stats());
}

#[test]
fn a_share_hands_out_only_its_own_ports_and_all_of_them() {
    // Share 1 of 3 of 2000..=2010: 2002, 2005, 2008 (2000 % 3 == 2).
    let config = Config { capacity: 64, ports: 2000..=2010, share: (1, 3), ..Config::default() };
    let mut n = Nat::new(config);
    let mut ports: Vec<u16> =
        (0..3).map(|sport| port_of(n.outbound(tcp(10_000 + sport), flags::SYN, 0))).collect();
    ports.sort_unstable();
    assert_eq!(ports, vec![2002, 2005, 2008]);
    assert_eq!(n.outbound(tcp(10_003), flags::SYN, 0), Outbound::Drop(Outcome::PortExhausted));

    // The full range split four ways: every port of 1024..=65535 in exactly one share.
    let mut owner = vec![None; 65_536];
    for index in 0..4u16 {
        let config = Config { capacity: 20_000, share: (index, 4), ..Config::default() };
        let mut n = Nat::new(config);
        for i in 0..16_128u32 {
            let t = Tuple {
                proto: Proto::Udp,
                src: INSIDE + (i >> 16),
                dst: SERVER,
                sport: i as u16,
                dport: 53,
            };
            let port = port_of(n.outbound(t, 0, 0));
            assert_eq!(port % 4, index);
            assert_eq!(owner[usize::from(port)].replace(index), None, "port {port} twice");
        }
        let t = Tuple { proto: Proto::Udp, src: INSIDE + 1, dst: SERVER, sport: 1, dport: 53 };
        assert_eq!(n.outbound(t, 0, 0), Outbound::Drop(Outcome::PortExhausted));
    }
    assert!(owner[1024..].iter().all(Option::is_some));
}

#[test]
#[should_panic(expected = "no ports to allocate")]
fn a_share_without_ports_is_refused() {
    let _: Nat = Nat::new(Config { ports: 2000..=2001, share: (3, 4), ..Config::default() });
}

#[test]
fn a_gateways_ipv4_and_nat64_tables_never_share_an_outside_tuple() {
    // Three ports; one gateway address for both tables (NAT44, and NAT64 whose flows
    // name the remote end by its 64:ff9b::/96 form).
    let config = Config { capacity: 16, ports: 1024..=1026, ..Config::default() };
    let mut four = Nat::new(config.clone());
    let mut six: Nat<u128> = Nat::new(Config { seed: 7, ..config });
    let server6 = 0x0064_ff9b_u128 << 96 | u128::from(SERVER);
    let inside6 = 0x2001_0db8_0001_0000_u128 << 64 | 0x10;
    let tcp6 = |sport| Tuple { proto: Proto::Tcp, src: inside6, dst: server6, sport, dport: 80 };

    let mut taken = Vec::new();
    for i in 0..3u16 {
        // Alternate the families; each asks the other table before taking a port.
        let port = if i % 2 == 0 {
            let beside = |proto, port| six.holds_outside(proto, server6, 80, port, 0);
            port_of(four.outbound_beside(tcp(40000 + i), flags::SYN, 0, beside))
        } else {
            let beside = |proto, port| four.holds_outside(proto, SERVER, 80, port, 0);
            port_of(six.outbound_beside(tcp6(40000 + i), flags::SYN, 0, beside))
        };
        assert!(!taken.contains(&port), "port {port} handed out twice: {taken:?}");
        taken.push(port);
    }
    // Every port is held by one table or the other: a fourth flow finds none.
    let beside = |proto, port| four.holds_outside(proto, SERVER, 80, port, 0);
    assert_eq!(
        six.outbound_beside(tcp6(50000), flags::SYN, 0, beside),
        Outbound::Drop(Outcome::PortExhausted)
    );
    // Another destination's tuples are free again, whatever the port.
    let other = Tuple { dport: 443, ..tcp6(50000) };
    let beside = |proto, port| four.holds_outside(proto, SERVER, 443, port, 0);
    assert!(matches!(
        six.outbound_beside(other, flags::SYN, 0, beside),
        Outbound::Translate { .. }
    ));
    // A reply finds its flow in its own table only; the other does not count a miss
    // with try_inbound.
    let (port6, port4) = (taken[1], taken[0]);
    assert_eq!(
        six.inbound(Proto::Tcp, server6, 80, port6, flags::SYN | flags::ACK, S),
        Inbound::Translate { addr: inside6, port: 40001 }
    );
    let before = four.stats().no_flow;
    assert_eq!(
        four.try_inbound(Proto::Tcp, SERVER, 80, port6, flags::ACK, S),
        Inbound::Drop(Outcome::NoFlow)
    );
    assert_eq!(four.stats().no_flow, before, "try_inbound counts no drop");
    assert_eq!(
        four.inbound(Proto::Tcp, SERVER, 80, port4, flags::SYN | flags::ACK, S),
        Inbound::Translate { addr: INSIDE, port: 40000 }
    );
}
