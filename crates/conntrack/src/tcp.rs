//! TCP as far as a NAT needs it: which state a flow is in, and how long it may idle.

/// TCP header flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Where a TCP flow is, seen from the NAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TcpState {
    /// The inside sent a SYN; no answer yet.
    SynSent = 1,
    /// The outside answered with SYN-ACK.
    Established = 2,
    /// The inside sent FIN.
    FinOut = 3,
    /// The outside sent FIN.
    FinIn = 4,
    /// Both sent FIN: waiting for the last ACKs.
    TimeWait = 5,
    /// Reset by either side.
    Closed = 6,
}

impl TcpState {
    pub(crate) fn from_u8(v: u8) -> TcpState {
        match v {
            1 => TcpState::SynSent,
            2 => TcpState::Established,
            3 => TcpState::FinOut,
            4 => TcpState::FinIn,
            5 => TcpState::TimeWait,
            _ => TcpState::Closed,
        }
    }

    /// The state after a segment with `flags` passed, `outbound` from the inside.
    pub fn next(self, flags: u8, outbound: bool) -> TcpState {
        use TcpState::*;
        if flags & flags::RST != 0 {
            return Closed;
        }
        if flags & flags::FIN != 0 {
            return match (self, outbound) {
                (FinIn | TimeWait, true) | (FinOut | TimeWait, false) => TimeWait,
                (Closed, _) => Closed,
                (_, true) => FinOut,
                (_, false) => FinIn,
            };
        }
        match self {
            SynSent
                if !outbound && flags & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK =>
            {
                Established
            }
            // A new SYN from the inside on a closed flow starts it again.
            Closed | TimeWait if outbound && flags & flags::SYN != 0 => SynSent,
            state => state,
        }
    }
}

/// How long a flow may idle, by protocol and TCP state, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// AWS's NAT gateway idle timeout: 350 s. Established TCP, UDP and ICMP flows idle
    /// this long are gone; every other timeout is capped by it.
    pub idle_ms: u64,
    /// A SYN without an answer.
    pub tcp_syn_ms: u64,
    /// One side has sent FIN.
    pub tcp_fin_ms: u64,
    /// Both sides sent FIN, or one sent RST: the port is reusable soon after.
    pub tcp_closed_ms: u64,
    /// ICMP echo.
    pub icmp_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::with_idle(350_000)
    }
}

impl Timeouts {
    /// AWS's defaults with a different idle timeout (labs shorten it to watch it happen).
    pub fn with_idle(idle_ms: u64) -> Self {
        Self {
            idle_ms,
            tcp_syn_ms: 120_000,
            tcp_fin_ms: 120_000,
            tcp_closed_ms: 10_000,
            icmp_ms: 60_000,
        }
    }

    /// The idle timeout of a TCP flow in `state`.
    pub fn tcp(&self, state: TcpState) -> u64 {
        let ms = match state {
            TcpState::SynSent => self.tcp_syn_ms,
            TcpState::Established => self.idle_ms,
            TcpState::FinOut | TcpState::FinIn => self.tcp_fin_ms,
            TcpState::TimeWait | TcpState::Closed => self.tcp_closed_ms,
        };
        ms.min(self.idle_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::TcpState::*;
    use super::flags::*;
    use super::*;

    #[test]
    fn handshake_and_close() {
        assert_eq!(SynSent.next(SYN | ACK, false), Established);
        assert_eq!(SynSent.next(SYN | ACK, true), SynSent, "only the outside answers");
        assert_eq!(SynSent.next(ACK, false), SynSent);
        assert_eq!(Established.next(ACK, true), Established);
        assert_eq!(Established.next(FIN | ACK, true), FinOut);
        assert_eq!(FinOut.next(ACK, false), FinOut);
        assert_eq!(FinOut.next(FIN | ACK, false), TimeWait);
        assert_eq!(Established.next(FIN | ACK, false), FinIn);
        assert_eq!(FinIn.next(FIN | ACK, true), TimeWait);
        assert_eq!(FinIn.next(FIN, false), FinIn, "a repeated FIN changes nothing");
    }

    #[test]
    fn resets_close_from_any_state() {
        for state in [SynSent, Established, FinOut, FinIn, TimeWait, Closed] {
            assert_eq!(state.next(RST, true), Closed);
            assert_eq!(state.next(RST | ACK, false), Closed);
        }
        assert_eq!(Closed.next(SYN, true), SynSent);
        assert_eq!(Closed.next(ACK, true), Closed);
    }

    #[test]
    fn timeouts_follow_the_state_and_never_exceed_idle() {
        let t = Timeouts::default();
        assert_eq!(t.tcp(Established), 350_000);
        assert_eq!(t.tcp(SynSent), 120_000);
        assert_eq!(t.tcp(FinIn), 120_000);
        assert_eq!(t.tcp(Closed), 10_000);
        let short = Timeouts::with_idle(2_000);
        for state in [SynSent, Established, FinOut, FinIn, TimeWait, Closed] {
            assert!(short.tcp(state) <= 2_000);
        }
    }
}
