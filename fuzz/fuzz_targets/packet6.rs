//! Arbitrary bytes as an IPv6 packet, and as either side of the NAT gateway's NAT64:
//! the checked view, its accessors, builders and mutators, and both translations must
//! decide, never panic, and never claim more bytes than the buffer they were given.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vpclab_dataplane_core::nat64::{self, Prefix96};
use vpclab_dataplane_core::wire::{Head, Offload, Side};
use vpclab_dataplane_core::wire6::{self, Ipv6};

const ROUTER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const NAT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 5);
const REMOTE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else { return };
    // Output buffers from nothing to more than any packet needs.
    let room = usize::from(control) * 260;
    let mut out = vec![0u8; room];

    if let Ok(ip) = Ipv6::new_checked(bytes) {
        assert!(ip.total_len() <= bytes.len() && ip.header_len() <= ip.total_len());
        let _ = (ip.src(), ip.dst_bits(), ip.traffic_class(), ip.flow_label(), ip.hop_limit());
        let _ = (ip.protocol(), ip.l4(), ip.ports(), ip.tcp_flags(), ip.head());
        let _ = (ip.icmp_type(), ip.icmp_code(), ip.icmp_quoted(), ip.fragment());
        let _ = (ip.is_later_fragment(), ip.segments_left_at(), ip.authenticated());
        let head = Head { sport: 1, dport: 2, icmp_type: control, icmp_code: 0 };
        let with = ip.reborrow().with_head(head);
        let _ = (with.ports(), with.icmp_type(), with.icmp_code());
        if let Some(len) = wire6::echo_reply(&mut out, &ip) {
            assert!(len <= room);
        }
        if let Some(len) = wire6::icmp_error(&mut out, ROUTER, &ip, control & 3, 0, 1280) {
            assert!(len <= room.min(wire6::MIN_MTU));
        }
        let mut copy = bytes.to_vec();
        let mut view = Ipv6::new_checked(&mut copy[..]).unwrap();
        let side = if control & 1 == 0 { Side::Src } else { Side::Dst };
        view.translate(side, CLIENT);
        view.decrement_hop_limit();
    }

    let prefix = Prefix96::WELL_KNOWN;
    if let Ok(len) = nat64::six_to_four(bytes, NAT, REMOTE, &mut out) {
        assert!(len <= room);
    }
    if let Ok(len) = nat64::four_to_six(bytes, prefix.embed(REMOTE), CLIENT, &mut out) {
        assert!(len <= room);
    }
    // As a TUN with offloads hands packets over: a partial checksum, maybe a
    // super-packet.
    let offload = Offload { partial_checksum: true, gso_size: u16::from(control) * 8 };
    if let Ok(len) = nat64::six_to_four_offloaded(bytes, NAT, REMOTE, offload, &mut out) {
        assert!(len <= room);
    }
    let from = prefix.embed(REMOTE);
    if let Ok(len) = nat64::four_to_six_offloaded(bytes, from, CLIENT, offload, &mut out) {
        assert!(len <= room);
    }
});
