//! Route netlink: setting a device's MTU, addresses (IPv4 and IPv6), default routes and
//! root qdisc in the calling thread's namespace, as `ip` and `tc` do, without starting
//! them.
//!
//! An instance's `eth0` takes five requests (link, address, up, route, qdisc), and for
//! IPv6 a list of its addresses, one request per address and one for the default
//! route. With iproute2 that was an `ip -batch` and a `tc -batch` process per instance
//! — a fork, an exec and a dynamic link each, most of the cost of bringing up thousands
//! of instances. The messages are the ones `ip` and `tc` send (the unit tests hold bytes
//! recorded from iproute2 6.1 with `strace -xx`; a new IPv6 address also carries an
//! `IFA_FLAGS` attribute); each is acknowledged before the next goes (a dump ends with
//! its `NLMSG_DONE`), and a refusal comes back as the kernel's errno.
//!
//! Only what vpclab configures is here: it is not a netlink library. Call it from a
//! thread inside the namespace (see [`crate::netns::run_in`]): a netlink socket talks
//! to the namespace it was opened in.

use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// Message types, flags and attributes (linux/rtnetlink.h, linux/if_link.h,
// linux/if_addr.h, linux/pkt_sched.h); each as `ip` and `tc` use it.
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWQDISC: u16 = 36;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_MTU: u16 = 4;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u8 = 0x02;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_UNSPEC: u8 = 0;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNSPEC: u8 = 0;
const RTN_UNICAST: u8 = 1;
/// The metric the kernel gives an IPv6 route added without one (`IP6_RT_PRIO_USER`).
/// Named in the request because IPv6 matches a route to replace or delete by it.
const IPV6_ROUTE_METRIC: u32 = 1024;
const TCA_KIND: u16 = 1;
const TC_H_ROOT: u32 = 0xFFFF_FFFF;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u16 = 10;
const IFF_UP: u32 = 0x1;
/// Bytes of a netlink message header.
const HEADER: usize = 16;
/// Bytes read per datagram: the kernel never builds a dump's datagram larger than
/// 32 KiB (less its own overhead), so none is cut short.
const RECEIVE: usize = 32 * 1024;
/// Datagrams of answers read at most for one request before giving up: the addresses of
/// a namespace's devices fit in a few.
const MAX_DATAGRAMS: usize = 1000;

/// What to change about a link; what is `None` (or `false`) is left as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkChange {
    /// Bring it up or down.
    pub up: Option<bool>,
    /// Its MTU.
    pub mtu: Option<u32>,
    /// Make no IPv6 addresses for it (`addrgenmode none`): no link-local address, so
    /// the kernel sends no router solicitation or MLD report through it.
    pub no_ipv6_addresses: bool,
}

/// A route-netlink socket of the namespace it was opened in.
#[derive(Debug)]
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
    /// The message being built, then the answer read.
    buf: Vec<u8>,
}

impl Rtnl {
    /// Opens a socket in the calling thread's namespace.
    pub fn open() -> io::Result<Self> {
        // SAFETY: socket(2) takes plain integers and touches no memory of ours.
        let fd = unsafe {
            libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2), is open and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd, seq: 0, buf: Vec::with_capacity(256) })
    }

    /// The index of the link named `name` in the calling thread's namespace.
    pub fn index(name: &str) -> io::Result<u32> {
        let c = CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a link name"))?;
        // SAFETY: `c` is a NUL-terminated string that outlives the call, which only
        // reads it; 0 means there is no such link.
        match unsafe { libc::if_nametoindex(c.as_ptr()) } {
            0 => Err(io::Error::last_os_error()),
            index => Ok(index),
        }
    }

    /// `ip link set <index> [mtu M] [addrgenmode none] [up|down]`.
    pub fn set_link(&mut self, index: u32, change: LinkChange) -> io::Result<()> {
        let seq = self.next_seq();
        link_message(&mut self.buf, seq, index, change);
        self.request()
    }

    /// `ip addr replace <address>/<prefix> dev <index>`.
    pub fn replace_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let seq = self.next_seq();
        address_message(&mut self.buf, seq, index, address, prefix);
        self.request()
    }

    /// `ip route replace default via <router> dev <index>`.
    pub fn replace_default_route(&mut self, index: u32, router: Ipv4Addr) -> io::Result<()> {
        let seq = self.next_seq();
        default_route_message(&mut self.buf, seq, index, router);
        self.request()
    }

    /// `ip -6 addr replace <address>/<prefix> dev <index> nodad`: no duplicate address
    /// detection, so the address is usable at once (a tentative one cannot be bound to
    /// or sent from).
    pub fn replace_address6(
        &mut self,
        index: u32,
        address: Ipv6Addr,
        prefix: u8,
    ) -> io::Result<()> {
        let seq = self.next_seq();
        address6_message(&mut self.buf, RTM_NEWADDR, seq, index, address, prefix);
        self.request()
    }

    /// `ip -6 addr del <address>/<prefix> dev <index>`. An address the device does not
    /// hold (`EADDRNOTAVAIL`, the kernel's answer; `ENOENT` too) is already gone: `Ok`.
    pub fn remove_address6(&mut self, index: u32, address: Ipv6Addr, prefix: u8) -> io::Result<()> {
        let seq = self.next_seq();
        address6_message(&mut self.buf, RTM_DELADDR, seq, index, address, prefix);
        match self.request() {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL | libc::ENOENT)) => {
                Ok(())
            }
            answer => answer,
        }
    }

    /// The global IPv6 addresses of link `index`, with their prefix lengths (what
    /// `ip -6 addr show dev <index> scope global` lists).
    pub fn addresses6(&mut self, index: u32) -> io::Result<Vec<(Ipv6Addr, u8)>> {
        let seq = self.next_seq();
        address_dump_message(&mut self.buf, seq, index);
        self.send()?;
        let mut found = Vec::new();
        for _ in 0..MAX_DATAGRAMS {
            self.receive()?;
            if let Some(done) = global_addresses6(&self.buf, seq, index, &mut found) {
                return done.map(|()| found);
            }
        }
        Err(io::Error::other("no end to the kernel's list of addresses"))
    }

    /// `ip -6 route replace default dev <index> metric 1024`: no gateway, as the device
    /// is layer 3 (a TUN) and needs no neighbour.
    pub fn replace_default_route6(&mut self, index: u32) -> io::Result<()> {
        let seq = self.next_seq();
        default_route6_message(&mut self.buf, RTM_NEWROUTE, seq, index);
        self.request()
    }

    /// `ip -6 route del default dev <index> metric 1024`. A route that is not there
    /// (`ESRCH`) is already gone: `Ok`.
    pub fn remove_default_route6(&mut self, index: u32) -> io::Result<()> {
        let seq = self.next_seq();
        default_route6_message(&mut self.buf, RTM_DELROUTE, seq, index);
        match self.request() {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            answer => answer,
        }
    }

    /// `tc qdisc replace dev <index> root <kind>` (a qdisc without options, such as
    /// `noqueue`).
    pub fn replace_root_qdisc(&mut self, index: u32, kind: &str) -> io::Result<()> {
        let seq = self.next_seq();
        root_qdisc_message(&mut self.buf, seq, index, kind);
        self.request()
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends the message in `buf` and waits for its acknowledgement.
    fn request(&mut self) -> io::Result<()> {
        let seq = self.seq;
        self.send()?;
        // Bounded: answers to other sequence numbers are skipped (there are none: one
        // request is in flight at a time).
        for _ in 0..MAX_DATAGRAMS {
            self.receive()?;
            if let Some(answer) = acknowledgement(&self.buf, seq) {
                return answer;
            }
        }
        Err(io::Error::other("no acknowledgement from the kernel"))
    }

    /// Sends the message in `buf`.
    fn send(&mut self) -> io::Result<()> {
        // SAFETY: the pointer and length describe `buf`'s initialized bytes, which
        // send(2) only reads during the call.
        let sent =
            unsafe { libc::send(self.fd.as_raw_fd(), self.buf.as_ptr().cast(), self.buf.len(), 0) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads the next datagram into `buf` (only its bytes are left there; none when
    /// interrupted, which the callers' bounded loops read past).
    fn receive(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.buf.resize(RECEIVE, 0);
        // SAFETY: the pointer and length describe `buf`'s bytes, all initialized, which
        // recv(2) writes at most `len` of.
        let n = unsafe {
            libc::recv(self.fd.as_raw_fd(), self.buf.as_mut_ptr().cast(), self.buf.len(), 0)
        };
        if n < 0 {
            self.buf.clear();
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
        }
        self.buf.truncate(usize::try_from(n).unwrap_or(0));
        Ok(())
    }
}

/// The answer to request `seq` in `datagram`: `Some(Ok)` for an acknowledgement,
/// `Some(Err)` for a refusal (the kernel's errno) or a malformed answer, `None` when
/// the datagram answers another request.
fn acknowledgement(datagram: &[u8], seq: u32) -> Option<io::Result<()>> {
    let malformed =
        || Some(Err(io::Error::new(io::ErrorKind::InvalidData, "malformed netlink answer")));
    let mut rest = datagram;
    while rest.len() >= HEADER {
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().ok()?);
        let got = u32::from_ne_bytes(rest[8..12].try_into().ok()?);
        if len < HEADER || len > rest.len() {
            return malformed();
        }
        if got == seq && kind == NLMSG_ERROR {
            let Some(code) = rest[..len].get(HEADER..HEADER + 4) else { return malformed() };
            let code = i32::from_ne_bytes(code.try_into().ok()?);
            return Some(match code {
                0 => Ok(()),
                e => Err(io::Error::from_raw_os_error(e.saturating_neg())),
            });
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    None
}

const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Starts a message of `kind` in `buf` (its length is set by [`finish`]).
fn start(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) {
    buf.clear();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // To the kernel.
}

/// Appends an attribute; `data` is padded to four bytes.
fn attribute(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = u16::try_from(4 + data.len()).expect("a short attribute");
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align(buf.len()), 0);
}

/// Opens a nested attribute; close it with [`close_nest`] at the returned offset.
fn open_nest(buf: &mut Vec<u8>, kind: u16) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&0u16.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    at
}

fn close_nest(buf: &mut [u8], at: usize) {
    let len = u16::try_from(buf.len() - at).expect("a short nest");
    buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

/// Sets the message's length.
fn finish(buf: &mut [u8]) {
    let len = u32::try_from(buf.len()).expect("a short message");
    buf[0..4].copy_from_slice(&len.to_ne_bytes());
}

fn link_message(buf: &mut Vec<u8>, seq: u32, index: u32, change: LinkChange) {
    start(buf, RTM_NEWLINK, 0, seq);
    let (flags, mask) = match change.up {
        Some(true) => (IFF_UP, IFF_UP),
        Some(false) => (0, IFF_UP),
        None => (0, 0),
    };
    buf.extend_from_slice(&[AF_UNSPEC, 0, 0, 0]); // Family, padding, device type.
    buf.extend_from_slice(&index.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&mask.to_ne_bytes());
    if let Some(mtu) = change.mtu {
        attribute(buf, IFLA_MTU, &mtu.to_ne_bytes());
    }
    if change.no_ipv6_addresses {
        let spec = open_nest(buf, IFLA_AF_SPEC);
        let inet6 = open_nest(buf, AF_INET6);
        attribute(buf, IFLA_INET6_ADDR_GEN_MODE, &[IN6_ADDR_GEN_MODE_NONE]);
        close_nest(buf, inet6);
        close_nest(buf, spec);
    }
    finish(buf);
}

fn address_message(buf: &mut Vec<u8>, seq: u32, index: u32, address: Ipv4Addr, prefix: u8) {
    start(buf, RTM_NEWADDR, NLM_F_REPLACE | NLM_F_CREATE, seq);
    buf.extend_from_slice(&[AF_INET, prefix, 0, RT_SCOPE_UNIVERSE]);
    buf.extend_from_slice(&index.to_ne_bytes());
    attribute(buf, IFA_LOCAL, &address.octets());
    attribute(buf, IFA_ADDRESS, &address.octets());
    finish(buf);
}

fn default_route_message(buf: &mut Vec<u8>, seq: u32, index: u32, router: Ipv4Addr) {
    start(buf, RTM_NEWROUTE, NLM_F_REPLACE | NLM_F_CREATE, seq);
    // Family, destination and source lengths, TOS, table, protocol, scope, type.
    buf.extend_from_slice(&[
        AF_INET,
        0,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
    ]);
    buf.extend_from_slice(&0u32.to_ne_bytes()); // Flags.
    attribute(buf, RTA_GATEWAY, &router.octets());
    attribute(buf, RTA_OIF, &index.to_ne_bytes());
    finish(buf);
}

/// `ip -6 addr replace <address>/<prefix> dev <index> nodad` (`RTM_NEWADDR`) or
/// `ip -6 addr del <address>/<prefix> dev <index>` (`RTM_DELADDR`). A new address
/// carries `IFA_F_NODAD` both in the header, as `ip` sends it, and in an `IFA_FLAGS`
/// attribute, which the kernel reads instead when present.
fn address6_message(
    buf: &mut Vec<u8>,
    kind: u16,
    seq: u32,
    index: u32,
    address: Ipv6Addr,
    prefix: u8,
) {
    let (flags, address_flags) =
        if kind == RTM_NEWADDR { (NLM_F_REPLACE | NLM_F_CREATE, IFA_F_NODAD) } else { (0, 0) };
    start(buf, kind, flags, seq);
    buf.extend_from_slice(&[AF_INET6 as u8, prefix, address_flags, RT_SCOPE_UNIVERSE]);
    buf.extend_from_slice(&index.to_ne_bytes());
    attribute(buf, IFA_LOCAL, &address.octets());
    attribute(buf, IFA_ADDRESS, &address.octets());
    if address_flags != 0 {
        attribute(buf, IFA_FLAGS, &u32::from(address_flags).to_ne_bytes());
    }
    finish(buf);
}

/// A dump of the IPv6 addresses, as `ip -6 addr flush dev <index>` asks for it. The
/// kernel filters by the link only on a socket with strict checking, so
/// [`global_addresses6`] filters too.
fn address_dump_message(buf: &mut Vec<u8>, seq: u32, index: u32) {
    start(buf, RTM_GETADDR, 0, seq);
    // A dump ends with `NLMSG_DONE`, not an acknowledgement.
    buf[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    buf.extend_from_slice(&[AF_INET6 as u8, 0, 0, RT_SCOPE_UNIVERSE]);
    buf.extend_from_slice(&index.to_ne_bytes());
    finish(buf);
}

/// Reads one datagram of the answer to dump `seq` into `found`: the global addresses of
/// link `index` with their prefixes. `Some(Ok)` at the dump's end, `Some(Err)` for a
/// refusal or a malformed answer, `None` when more is to come.
fn global_addresses6(
    datagram: &[u8],
    seq: u32,
    index: u32,
    found: &mut Vec<(Ipv6Addr, u8)>,
) -> Option<io::Result<()>> {
    let malformed =
        || Some(Err(io::Error::new(io::ErrorKind::InvalidData, "malformed netlink answer")));
    let mut rest = datagram;
    while rest.len() >= HEADER {
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().ok()?);
        let got = u32::from_ne_bytes(rest[8..12].try_into().ok()?);
        if len < HEADER || len > rest.len() {
            return malformed();
        }
        let body = &rest[HEADER..len];
        match kind {
            _ if got != seq => {}
            // Both carry an errno (0 for none) first; the dump's end may report one too.
            NLMSG_DONE | NLMSG_ERROR => {
                let Some(code) = body.get(..4) else { return malformed() };
                return Some(match i32::from_ne_bytes(code.try_into().ok()?) {
                    0 => Ok(()),
                    e => Err(io::Error::from_raw_os_error(e.saturating_neg())),
                });
            }
            RTM_NEWADDR => {
                let Some(header) = body.get(..8) else { return malformed() };
                let link = u32::from_ne_bytes(header[4..8].try_into().ok()?);
                let wanted = u16::from(header[0]) == AF_INET6
                    && header[3] == RT_SCOPE_UNIVERSE
                    && link == index;
                let mut attributes = &body[8..];
                while wanted && attributes.len() >= 4 {
                    let at = u16::from_ne_bytes(attributes[0..2].try_into().ok()?) as usize;
                    let what = u16::from_ne_bytes(attributes[2..4].try_into().ok()?);
                    if at < 4 || at > attributes.len() {
                        return malformed();
                    }
                    if what == IFA_ADDRESS {
                        let Ok(octets) = <[u8; 16]>::try_from(&attributes[4..at]) else {
                            return malformed();
                        };
                        found.push((Ipv6Addr::from(octets), header[1]));
                    }
                    attributes = &attributes[align(at).min(attributes.len())..];
                }
            }
            _ => {}
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    None
}

/// `ip -6 route replace default dev <index> metric 1024` (`RTM_NEWROUTE`) or
/// `ip -6 route del default dev <index> metric 1024` (`RTM_DELROUTE`).
fn default_route6_message(buf: &mut Vec<u8>, kind: u16, seq: u32, index: u32) {
    let (flags, protocol, route_type) = if kind == RTM_NEWROUTE {
        (NLM_F_REPLACE | NLM_F_CREATE, RTPROT_BOOT, RTN_UNICAST)
    } else {
        (0, RTPROT_UNSPEC, RTN_UNSPEC)
    };
    start(buf, kind, flags, seq);
    // Family, destination and source lengths, TOS, table, protocol, scope, type.
    buf.extend_from_slice(&[
        AF_INET6 as u8,
        0,
        0,
        0,
        RT_TABLE_MAIN,
        protocol,
        RT_SCOPE_UNIVERSE,
        route_type,
    ]);
    buf.extend_from_slice(&0u32.to_ne_bytes()); // Flags.
    attribute(buf, RTA_DST, &Ipv6Addr::UNSPECIFIED.octets());
    attribute(buf, RTA_PRIORITY, &IPV6_ROUTE_METRIC.to_ne_bytes());
    attribute(buf, RTA_OIF, &index.to_ne_bytes());
    finish(buf);
}

fn root_qdisc_message(buf: &mut Vec<u8>, seq: u32, index: u32, kind: &str) {
    start(buf, RTM_NEWQDISC, NLM_F_REPLACE | NLM_F_CREATE, seq);
    buf.extend_from_slice(&[AF_UNSPEC, 0, 0, 0]); // Family, padding.
    buf.extend_from_slice(&index.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // Handle: the kernel picks one.
    buf.extend_from_slice(&TC_H_ROOT.to_ne_bytes()); // Parent.
    buf.extend_from_slice(&0u32.to_ne_bytes()); // Info.
    let mut name = kind.as_bytes().to_vec();
    name.push(0);
    attribute(buf, TCA_KIND, &name);
    finish(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of a message as iproute2 sends it: `header` then `body`, with the length,
    /// sequence number and link index filled in (little-endian, as on every machine
    /// vpclab runs on; the tests skip elsewhere).
    fn iproute2(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
        m.extend_from_slice(&kind.to_le_bytes());
        m.extend_from_slice(&flags.to_le_bytes());
        m.extend_from_slice(&seq.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(body);
        m
    }

    // Recorded from iproute2 6.1 (`strace -xx -e sendmsg`), link index 2, lengths
    // 56, 32, 40, 44 and 48 bytes.
    #[test]
    fn messages_are_the_ones_iproute2_sends() {
        if cfg!(target_endian = "big") {
            return;
        }
        let mut buf = Vec::new();
        // ip link set d0 mtu 9001 addrgenmode none
        let change = LinkChange { up: None, mtu: Some(9001), no_ipv6_addresses: true };
        link_message(&mut buf, 7, 2, change);
        #[rustfmt::skip]
        let body = [
            0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ifinfomsg
            8, 0, 4, 0, 0x29, 0x23, 0, 0,                     // IFLA_MTU 9001
            16, 0, 26, 0,                                     // IFLA_AF_SPEC
            12, 0, 10, 0,                                     //   AF_INET6
            5, 0, 8, 0, 1, 0, 0, 0,                           //     ADDR_GEN_MODE none
        ];
        assert_eq!(buf, iproute2(RTM_NEWLINK, 0x5, 7, &body));
        assert_eq!(buf.len(), 56);

        // ip link set d0 up
        link_message(&mut buf, 8, 2, LinkChange { up: Some(true), ..LinkChange::default() });
        let body = [0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0];
        assert_eq!(buf, iproute2(RTM_NEWLINK, 0x5, 8, &body));
        assert_eq!(buf.len(), 32);

        // ip addr replace 10.9.1.10/24 dev d0
        address_message(&mut buf, 9, 2, Ipv4Addr::new(10, 9, 1, 10), 24);
        #[rustfmt::skip]
        let body = [
            2, 24, 0, 0, 2, 0, 0, 0,    // ifaddrmsg
            8, 0, 2, 0, 10, 9, 1, 10,   // IFA_LOCAL
            8, 0, 1, 0, 10, 9, 1, 10,   // IFA_ADDRESS
        ];
        assert_eq!(buf, iproute2(RTM_NEWADDR, 0x505, 9, &body));
        assert_eq!(buf.len(), 40);

        // ip route replace default via 10.9.1.1 dev d0
        default_route_message(&mut buf, 10, 2, Ipv4Addr::new(10, 9, 1, 1));
        #[rustfmt::skip]
        let body = [
            2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0, // rtmsg
            8, 0, 5, 0, 10, 9, 1, 1,              // RTA_GATEWAY
            8, 0, 4, 0, 2, 0, 0, 0,               // RTA_OIF
        ];
        assert_eq!(buf, iproute2(RTM_NEWROUTE, 0x505, 10, &body));
        assert_eq!(buf.len(), 44);

        // tc qdisc replace dev d0 root noqueue
        root_qdisc_message(&mut buf, 11, 2, "noqueue");
        #[rustfmt::skip]
        let body = [
            0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, // tcmsg
            12, 0, 1, 0, b'n', b'o', b'q', b'u', b'e', b'u', b'e', 0,               // TCA_KIND
        ];
        assert_eq!(buf, iproute2(RTM_NEWQDISC, 0x505, 11, &body));
        assert_eq!(buf.len(), 48);
    }

    // Recorded from iproute2 6.1 (`strace -xx -e sendmsg`), link index 2, lengths 64
    // bytes each (the new address 72: `ip` sends `nodad` in the header only, vpclab
    // adds the `IFA_FLAGS` attribute after the two addresses), and the dump 24.
    #[test]
    fn ipv6_messages_are_the_ones_iproute2_sends() {
        if cfg!(target_endian = "big") {
            return;
        }
        let mut buf = Vec::new();
        let address: Ipv6Addr = "2001:db8:0:1::5".parse().unwrap();
        #[rustfmt::skip]
        let octets = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5];
        assert_eq!(address.octets(), octets);
        let with = |head: &[u8], tail: &[&[u8]]| {
            let mut body = head.to_vec();
            for part in tail {
                body.extend_from_slice(part);
            }
            body
        };

        // ip -6 addr replace 2001:db8:0:1::5/64 dev d0 nodad
        address6_message(&mut buf, RTM_NEWADDR, 12, 2, address, 64);
        let body = with(
            &[10, 64, 2, 0, 2, 0, 0, 0], // ifaddrmsg: AF_INET6, /64, IFA_F_NODAD
            &[
                &[20, 0, 2, 0], // IFA_LOCAL
                &octets,
                &[20, 0, 1, 0], // IFA_ADDRESS
                &octets,
                &[8, 0, 8, 0, 2, 0, 0, 0], // IFA_FLAGS nodad (vpclab's addition)
            ],
        );
        assert_eq!(buf, iproute2(RTM_NEWADDR, 0x505, 12, &body));
        assert_eq!(buf.len(), 72);

        // ip -6 addr del 2001:db8:0:1::5/64 dev d0
        address6_message(&mut buf, RTM_DELADDR, 13, 2, address, 64);
        let body =
            with(&[10, 64, 0, 0, 2, 0, 0, 0], &[&[20, 0, 2, 0], &octets, &[20, 0, 1, 0], &octets]);
        assert_eq!(buf, iproute2(RTM_DELADDR, 0x5, 13, &body));
        assert_eq!(buf.len(), 64);

        // ip -6 route replace default dev d0 metric 1024
        default_route6_message(&mut buf, RTM_NEWROUTE, 14, 2);
        #[rustfmt::skip]
        let tail = [
            20, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // RTA_DST ::
            8, 0, 6, 0, 0, 4, 0, 0,                                      // RTA_PRIORITY 1024
            8, 0, 4, 0, 2, 0, 0, 0,                                      // RTA_OIF
        ];
        let body = with(&[10, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0], &[&tail]);
        assert_eq!(buf, iproute2(RTM_NEWROUTE, 0x505, 14, &body));
        assert_eq!(buf.len(), 64);

        // ip -6 route del default dev d0 metric 1024: no protocol, no type.
        default_route6_message(&mut buf, RTM_DELROUTE, 15, 2);
        let body = with(&[10, 0, 0, 0, 254, 0, 0, 0, 0, 0, 0, 0], &[&tail]);
        assert_eq!(buf, iproute2(RTM_DELROUTE, 0x5, 15, &body));
        assert_eq!(buf.len(), 64);

        // The dump `ip -6 addr flush dev d0` asks for (NLM_F_REQUEST | NLM_F_DUMP).
        address_dump_message(&mut buf, 16, 2);
        assert_eq!(buf, iproute2(RTM_GETADDR, 0x301, 16, &[10, 0, 0, 0, 2, 0, 0, 0]));
        assert_eq!(buf.len(), 24);
    }

    /// An `RTM_NEWADDR` of a dump answering `seq`: `address`/`prefix` on `link` with
    /// `scope`, and the attributes the kernel sends besides.
    fn dumped_address(seq: u32, link: u32, address: Ipv6Addr, prefix: u8, scope: u8) -> Vec<u8> {
        let mut body = vec![10, prefix, 0x80, scope];
        body.extend_from_slice(&link.to_ne_bytes());
        let mut attributes = Vec::new();
        attribute(&mut attributes, IFA_ADDRESS, &address.octets());
        attribute(&mut attributes, 6, &[0xff; 16]); // IFA_CACHEINFO
        attribute(&mut attributes, IFA_FLAGS, &0x82u32.to_ne_bytes());
        body.extend(attributes);
        iproute2(RTM_NEWADDR, 0x2, seq, &body)
    }

    #[test]
    fn a_dump_yields_the_links_global_addresses() {
        if cfg!(target_endian = "big") {
            return;
        }
        let a: Ipv6Addr = "2001:db8:0:1::5".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:0:1::6".parse().unwrap();
        let mut datagram = dumped_address(4, 1, Ipv6Addr::LOCALHOST, 128, 254); // lo
        datagram.extend(dumped_address(4, 2, a, 64, RT_SCOPE_UNIVERSE));
        datagram.extend(dumped_address(4, 2, "fe80::1".parse().unwrap(), 64, 253)); // link
        datagram.extend(dumped_address(4, 3, b, 64, RT_SCOPE_UNIVERSE)); // another link
        let mut found = Vec::new();
        assert!(global_addresses6(&datagram, 4, 2, &mut found).is_none(), "more to come");
        assert_eq!(found, [(a, 64)]);
        // The next datagram: one more, then the end.
        let mut datagram = dumped_address(4, 2, b, 60, RT_SCOPE_UNIVERSE);
        datagram.extend(iproute2(NLMSG_DONE, 0x2, 4, &0i32.to_ne_bytes()));
        assert!(matches!(global_addresses6(&datagram, 4, 2, &mut found), Some(Ok(()))));
        assert_eq!(found, [(a, 64), (b, 60)]);
        // Another request's answers are skipped; a refusal is the kernel's errno.
        let mut found = Vec::new();
        let mut datagram = dumped_address(3, 2, a, 64, RT_SCOPE_UNIVERSE);
        datagram.extend(error_answer(4, -libc::EINVAL));
        let refused = global_addresses6(&datagram, 4, 2, &mut found).unwrap().unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::EINVAL));
        assert!(found.is_empty());
        // An attribute lying about its length: refused, never read past the end.
        let mut lying = dumped_address(4, 2, a, 64, RT_SCOPE_UNIVERSE);
        lying[HEADER + 8] = 200;
        assert!(matches!(global_addresses6(&lying, 4, 2, &mut found), Some(Err(_))));
    }

    fn error_answer(seq: u32, code: i32) -> Vec<u8> {
        let mut m = iproute2(NLMSG_ERROR, 0, seq, &code.to_ne_bytes());
        m.extend_from_slice(&[0; 16]); // The request's header, echoed.
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn answers_are_read_by_sequence_number() {
        if cfg!(target_endian = "big") {
            return;
        }
        assert!(matches!(acknowledgement(&error_answer(3, 0), 3), Some(Ok(()))));
        let refused = acknowledgement(&error_answer(3, -libc::ENODEV), 3);
        assert_eq!(refused.unwrap().unwrap_err().raw_os_error(), Some(libc::ENODEV));
        // Another request's answer, then this one's, in one datagram.
        let mut two = error_answer(2, -libc::EEXIST);
        two.extend(error_answer(3, 0));
        assert!(matches!(acknowledgement(&two, 3), Some(Ok(()))));
        assert!(acknowledgement(&error_answer(2, 0), 3).is_none());
        // Truncated or lying about its length: refused, never read past the end.
        let whole = error_answer(3, 0);
        assert!(acknowledgement(&whole[..10], 3).is_none());
        assert!(matches!(acknowledgement(&whole[..18], 3), Some(Err(_))));
        let mut long = whole.clone();
        long[0] = 200;
        assert!(matches!(acknowledgement(&long, 3), Some(Err(_))));
    }

    proptest::proptest! {
        /// Any bytes: an answer or none, never a panic.
        #[test]
        fn any_datagram_is_read_safely(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128), seq: u32) {
            let _ = acknowledgement(&bytes, seq);
            let _ = global_addresses6(&bytes, seq, 2, &mut Vec::new());
        }
    }
}
