//! How long a tracked flow may idle: by protocol and state, per table or interface.

use crate::tcp::TcpState;

/// What decides a flow's idle timeout. Each class keeps its own least-recently-used
/// list, so that within a list the oldest flow is the first to expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Class {
    /// TCP: a SYN without an answer yet.
    TcpSyn = 0,
    /// TCP: established.
    TcpEstablished = 1,
    /// TCP: one side has sent FIN.
    TcpFin = 2,
    /// TCP: both sides sent FIN, or one sent RST.
    TcpClosed = 3,
    /// UDP seen one way only, or in a single request and response.
    Udp = 4,
    /// UDP with more than one request-response exchange (AWS's "stream").
    UdpStream = 5,
    /// ICMP.
    Icmp = 6,
    /// Any other protocol.
    Other = 7,
}

/// Number of [`Class`]es.
pub const CLASSES: usize = 8;

impl Class {
    /// Every class, in list order.
    pub const ALL: [Class; CLASSES] = [
        Class::TcpSyn,
        Class::TcpEstablished,
        Class::TcpFin,
        Class::TcpClosed,
        Class::Udp,
        Class::UdpStream,
        Class::Icmp,
        Class::Other,
    ];

    /// The class of a flow of `protocol` in `state` (see [`crate::Table`]'s state byte).
    #[inline(always)]
    pub(crate) fn of(protocol: u8, state: u8) -> Class {
        match protocol {
            6 => match TcpState::from_u8(state) {
                TcpState::SynSent => Class::TcpSyn,
                TcpState::Established => Class::TcpEstablished,
                TcpState::FinOut | TcpState::FinIn => Class::TcpFin,
                TcpState::TimeWait | TcpState::Closed => Class::TcpClosed,
            },
            17 if state >= crate::tcp::UDP_STREAM => Class::UdpStream,
            17 => Class::Udp,
            // ICMP and ICMPv6.
            1 | 58 => Class::Icmp,
            _ => Class::Other,
        }
    }
}

/// Idle timeouts in milliseconds, one per [`Class`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    ms: [u32; CLASSES],
}

/// Seconds to milliseconds, saturating at what a timeout can hold.
const fn ms(seconds: u32) -> u32 {
    seconds.saturating_mul(1000)
}

impl Default for Timeouts {
    /// [`Timeouts::INTERFACE`].
    fn default() -> Self {
        Self::INTERFACE
    }
}

impl Timeouts {
    /// An interface's security-group tracking with AWS's defaults
    /// (`ConnectionTrackingConfiguration`): TCP established 432,000 s (5 days), UDP
    /// stream 180 s, other UDP 30 s. AWS does not document the rest; these follow the
    /// Linux tracker's spirit, short enough that closed connections drain fast: an
    /// unanswered SYN or a half-closed connection 120 s, a closed one 10 s, ICMP 30 s,
    /// other protocols 600 s (AWS's "reverse flow within 600 s").
    pub const INTERFACE: Timeouts = Timeouts::interface(432_000, 180, 30);

    /// An interface's tracking with its `ConnectionTrackingSpecification` (seconds;
    /// the API checks AWS's ranges).
    pub const fn interface(tcp_established_s: u32, udp_stream_s: u32, udp_s: u32) -> Self {
        Self {
            ms: [
                ms(120),
                ms(tcp_established_s),
                ms(120),
                ms(10),
                ms(udp_s),
                ms(udp_stream_s),
                ms(30),
                ms(600),
            ],
        }
    }

    /// A NAT gateway's: AWS's idle timeout (350 s) for established TCP, UDP and ICMP,
    /// every other timeout capped by it (labs shorten it to watch it happen): an
    /// unanswered SYN or a half-closed connection 120 s, a closed one 10 s, ICMP 60 s.
    pub fn nat_gateway(idle_ms: u64) -> Self {
        let idle = u32::try_from(idle_ms).unwrap_or(u32::MAX);
        let cap = |ms: u32| ms.min(idle);
        Self { ms: [cap(120_000), idle, cap(120_000), cap(10_000), idle, idle, cap(60_000), idle] }
    }

    /// The timeout of `class`, in milliseconds.
    #[inline(always)]
    pub fn get(&self, class: Class) -> u64 {
        u64::from(self.ms[class as usize])
    }

    /// The idle timeout of a TCP flow in `state`.
    pub fn tcp(&self, state: TcpState) -> u64 {
        self.get(Class::of(6, state as u8))
    }

    /// Established TCP's timeout, in seconds.
    pub fn tcp_established_s(&self) -> u32 {
        self.ms[Class::TcpEstablished as usize] / 1000
    }

    /// UDP streams' timeout, in seconds.
    pub fn udp_stream_s(&self) -> u32 {
        self.ms[Class::UdpStream as usize] / 1000
    }

    /// Other UDP's timeout, in seconds.
    pub fn udp_s(&self) -> u32 {
        self.ms[Class::Udp as usize] / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpState::*;

    #[test]
    fn nat_timeouts_follow_the_state_and_never_exceed_idle() {
        let t = Timeouts::nat_gateway(350_000);
        assert_eq!(t.tcp(Established), 350_000);
        assert_eq!(t.tcp(SynSent), 120_000);
        assert_eq!(t.tcp(FinIn), 120_000);
        assert_eq!(t.tcp(Closed), 10_000);
        assert_eq!(t.get(Class::Udp), 350_000);
        assert_eq!(t.get(Class::Icmp), 60_000);
        let short = Timeouts::nat_gateway(2_000);
        for class in Class::ALL {
            assert!(short.get(class) <= 2_000);
        }
    }

    #[test]
    fn interface_defaults_are_aws_s() {
        let t = Timeouts::INTERFACE;
        assert_eq!(t.tcp(Established), 432_000_000);
        assert_eq!((t.tcp_established_s(), t.udp_stream_s(), t.udp_s()), (432_000, 180, 30));
        assert_eq!(t.tcp(Closed), 10_000);
        assert_eq!(Timeouts::interface(60, 60, 60).get(Class::UdpStream), 60_000);
    }
}
