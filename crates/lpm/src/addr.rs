//! The two address families a table can be built for.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::net::Ipv4Addr {}
    impl Sealed for std::net::Ipv6Addr {}
    impl Sealed for u32 {}
    impl Sealed for u128 {}
}

/// The integer an address is looked up as: `u32` for IPv4, `u128` for IPv6, most
/// significant bit first (network order), as read with `from_be_bytes`.
pub trait Key:
    sealed::Sealed + Copy + Ord + std::fmt::Debug + std::ops::BitAnd<Output = Self>
{
    /// Width in bits.
    const BITS: u32;

    /// Every bit set.
    const ONES: Self;

    /// Bits `[offset, offset + len)` of the key, counted from the most significant bit,
    /// as a number in `0..1 << len`. Bits past the end of the key read as zero, so the
    /// last stride of a trie may hang over the end of the address.
    ///
    /// Requires `0 < len <= 24` and `offset < Self::BITS`.
    fn chunk(self, offset: u32, len: u32) -> usize;

    /// The key with every bit after the first `len` cleared.
    fn prefix(self, len: u8) -> Self;

    /// Whether this key lies in the prefix `network`/`mask` (`mask` has the prefix's
    /// bits set, `network` its host bits clear).
    #[inline(always)]
    fn within(self, network: Self, mask: Self) -> bool {
        self & mask == network
    }

    /// The mask of a prefix `len` bits long.
    #[inline]
    fn mask(len: u8) -> Self {
        Self::ONES.prefix(len)
    }
}

impl Key for u32 {
    const BITS: u32 = 32;
    const ONES: Self = u32::MAX;

    #[inline(always)]
    fn chunk(self, offset: u32, len: u32) -> usize {
        debug_assert!(len > 0 && len <= 24 && offset < Self::BITS);
        // `<< offset` drops the bits above the chunk and shifts zeros in below it;
        // `>> (BITS - len)` keeps the top `len` bits. Both shifts are in range.
        ((self << offset) >> (Self::BITS - len)) as usize
    }

    #[inline]
    fn prefix(self, len: u8) -> Self {
        match u32::from(len) {
            0 => 0,
            l if l >= Self::BITS => self,
            l => self & !(u32::MAX >> l),
        }
    }
}

impl Key for u128 {
    const BITS: u32 = 128;
    const ONES: Self = u128::MAX;

    #[inline(always)]
    fn chunk(self, offset: u32, len: u32) -> usize {
        debug_assert!(len > 0 && len <= 24 && offset < Self::BITS);
        ((self << offset) >> (Self::BITS - len)) as usize
    }

    #[inline]
    fn prefix(self, len: u8) -> Self {
        match u32::from(len) {
            0 => 0,
            l if l >= Self::BITS => self,
            l => self & !(u128::MAX >> l),
        }
    }
}

/// An address family: [`Ipv4Addr`] or [`Ipv6Addr`].
pub trait Address: sealed::Sealed + Copy + std::fmt::Debug {
    /// Tables of at most this many prefixes are also kept as a list, longest first,
    /// which a lookup scans instead of walking the trie (see [`crate::Lpm`]).
    const SHORT_MAX: usize;

    /// The integer form lookups run on.
    type Key: Key;
    /// The prefix type tables are built from.
    type Net: Copy + std::fmt::Debug;

    /// The address as its integer key.
    fn to_key(self) -> Self::Key;
    /// The key as an address.
    fn from_key(key: Self::Key) -> Self;
    /// The network address (host bits cleared) and the prefix length of `net`.
    fn net_parts(net: &Self::Net) -> (Self::Key, u8);
    /// The prefix with network address `key` and length `len`.
    fn make_net(key: Self::Key, len: u8) -> Self::Net;
}

impl Address for Ipv4Addr {
    type Key = u32;
    type Net = Ipv4Net;
    /// None: a VPC's IPv4 prefixes are short, so its table answers from the root or the
    /// one node below it.
    const SHORT_MAX: usize = 0;

    #[inline(always)]
    fn to_key(self) -> u32 {
        u32::from(self)
    }

    #[inline]
    fn from_key(key: u32) -> Self {
        Ipv4Addr::from(key)
    }

    #[inline]
    fn net_parts(net: &Ipv4Net) -> (u32, u8) {
        let len = net.prefix_len();
        (u32::from(net.addr()).prefix(len), len)
    }

    #[inline]
    fn make_net(key: u32, len: u8) -> Ipv4Net {
        Ipv4Net::new_assert(Ipv4Addr::from(key), len)
    }
}

impl Address for Ipv6Addr {
    type Key = u128;
    type Net = Ipv6Net;
    /// A VPC's IPv6 table (its /56s, `::/0`, `64:ff9b::/96`, a peer's blocks) is a few
    /// prefixes 56 bits and longer: eight trie levels below a 12-bit root, against a
    /// handful of masked compares.
    const SHORT_MAX: usize = 8;

    #[inline(always)]
    fn to_key(self) -> u128 {
        u128::from(self)
    }

    #[inline]
    fn from_key(key: u128) -> Self {
        Ipv6Addr::from(key)
    }

    #[inline]
    fn net_parts(net: &Ipv6Net) -> (u128, u8) {
        let len = net.prefix_len();
        (u128::from(net.addr()).prefix(len), len)
    }

    #[inline]
    fn make_net(key: u128, len: u8) -> Ipv6Net {
        Ipv6Net::new_assert(Ipv6Addr::from(key), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_reads_msb_first_and_pads_with_zeros() {
        let k: u32 = 0xC0A8_0A01; // 192.168.10.1
        assert_eq!(k.chunk(0, 8), 192);
        assert_eq!(k.chunk(8, 8), 168);
        assert_eq!(k.chunk(0, 18), 0xC0A8_0A01 >> 14);
        // Bits 30 and 31 are `01`; the four bits past the end read as zero.
        assert_eq!(k.chunk(30, 6), 0b01_0000);
        let k6: u128 = u128::MAX;
        assert_eq!(k6.chunk(126, 6), 0b11_0000);
        assert_eq!(k6.chunk(0, 16), 0xFFFF);
    }

    #[test]
    fn prefix_clears_host_bits() {
        assert_eq!(0xFFFF_FFFFu32.prefix(0), 0);
        assert_eq!(0xFFFF_FFFFu32.prefix(8), 0xFF00_0000);
        assert_eq!(0xFFFF_FFFFu32.prefix(32), 0xFFFF_FFFF);
        assert_eq!(u128::MAX.prefix(128), u128::MAX);
        assert_eq!(u128::MAX.prefix(1), 1 << 127);
    }
}
