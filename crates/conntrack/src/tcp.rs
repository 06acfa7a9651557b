//! The states a tracked flow goes through: TCP's as far as a tracker needs them, and
//! UDP's exchanges (AWS gives a UDP "stream" a longer timeout than a single exchange).

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

/// Where a TCP flow is, seen from a tracker. "Out" is the originator's direction (the
/// inside, for a NAT gateway).
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
    /// The state stored as `v` (unknown values read as closed).
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

    /// The state of a flow first seen with a segment carrying `flags`: a SYN opens
    /// one; anything else is a connection picked up midway (a tracker that restarted, a
    /// flow older than the table), taken as established.
    pub fn initial(flags: u8) -> TcpState {
        if flags & (flags::SYN | flags::ACK | flags::RST) == flags::SYN {
            TcpState::SynSent
        } else if flags & flags::RST != 0 {
            TcpState::Closed
        } else {
            TcpState::Established
        }
    }

    /// Whether the flow has ended, so that a new SYN starts a new connection on the
    /// same addresses and ports.
    pub fn is_closed(self) -> bool {
        matches!(self, TcpState::TimeWait | TcpState::Closed)
    }

    /// The state after a segment with `flags` passed, `outbound` from the originator.
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
            Closed | TimeWait if outbound && flags & (flags::SYN | flags::ACK) == flags::SYN => {
                SynSent
            }
            state => state,
        }
    }
}

/// UDP: the originator's first packets, no answer yet.
pub(crate) const UDP_SENT: u8 = 0;
/// UDP: answered once, and no new request since.
const UDP_ANSWERED: u8 = 1;
/// UDP: asked again after an answer.
const UDP_ASKED_AGAIN: u8 = 2;
/// UDP: more than one request-response exchange.
pub(crate) const UDP_STREAM: u8 = 3;

/// The UDP state after a datagram `from_originator` (or from the other end).
#[inline(always)]
pub(crate) fn udp_next(state: u8, from_originator: bool) -> u8 {
    match (state, from_originator) {
        (UDP_SENT, false) => UDP_ANSWERED,
        (UDP_ANSWERED, true) => UDP_ASKED_AGAIN,
        (UDP_ASKED_AGAIN, false) => UDP_STREAM,
        (state, _) => state,
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
        assert_eq!(Closed.next(SYN | ACK, true), Closed, "only a bare SYN opens one again");
        assert_eq!(TimeWait.next(SYN | ACK, true), TimeWait);
        assert_eq!(Closed.next(ACK, true), Closed);
    }

    #[test]
    fn a_flow_first_seen_midway_counts_as_established() {
        assert_eq!(TcpState::initial(SYN), SynSent);
        assert_eq!(TcpState::initial(SYN | ACK), Established);
        assert_eq!(TcpState::initial(ACK), Established);
        assert_eq!(TcpState::initial(RST | ACK), Closed);
    }

    #[test]
    fn udp_becomes_a_stream_after_a_second_exchange() {
        let mut s = UDP_SENT;
        for from_originator in [true, true, false, false] {
            s = udp_next(s, from_originator);
        }
        assert_eq!(s, UDP_ANSWERED, "one request, one answer (repeats included)");
        s = udp_next(s, true);
        assert_ne!(s, UDP_STREAM);
        assert_eq!(udp_next(s, false), UDP_STREAM);
    }
}
