//! What the naive reference models share: the classes and UDP exchanges as the crate
//! documents them, written out plainly.

#![allow(dead_code)]

use vpclab_conntrack::{Class, TcpState};

/// The timeout class of a flow of `protocol` in TCP state `tcp` or UDP exchange `udp`.
pub(crate) fn class(protocol: u8, tcp: TcpState, udp: u8) -> Class {
    match protocol {
        6 => match tcp {
            TcpState::SynSent => Class::TcpSyn,
            TcpState::Established => Class::TcpEstablished,
            TcpState::FinOut | TcpState::FinIn => Class::TcpFin,
            TcpState::TimeWait | TcpState::Closed => Class::TcpClosed,
        },
        17 if udp >= 3 => Class::UdpStream,
        17 => Class::Udp,
        1 => Class::Icmp,
        _ => Class::Other,
    }
}

/// UDP exchanges (0 sent, 1 answered, 2 asked again, 3 stream) after a datagram from
/// the originator or not.
pub(crate) fn udp_next(udp: u8, from_originator: bool) -> u8 {
    match (udp, from_originator) {
        (0, false) => 1,
        (1, true) => 2,
        (2, false) => 3,
        (u, _) => u,
    }
}
