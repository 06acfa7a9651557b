//! The one flow identity: what every table in vpclab keys a flow by.

/// A flow seen from one end: the `local` end (an instance's interface, or the inside of
/// a NAT gateway) and the `remote` end, with the table-specific `zone` it is seen in
/// (the interface's port for security groups, the NAT gateway's slot). The same key
/// names both directions of the flow: a packet leaving the local end and its reply
/// arriving there are looked up under one key. For ICMP echo, `local_port` is the echo
/// identifier and `remote_port` is 0; for protocols without ports both are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey<A: FlowAddress = u32> {
    /// Where the flow is seen: an interface, a gateway.
    pub zone: u32,
    /// IP protocol number.
    pub protocol: u8,
    /// The local end's address, host order.
    pub local: A,
    /// The local end's port (or ICMP identifier).
    pub local_port: u16,
    /// The remote end's address, host order.
    pub remote: A,
    /// The remote end's port (0 for ICMP).
    pub remote_port: u16,
}

/// A 64×64→128-bit multiply folded to 64 bits: a fast, well-mixing step.
#[inline(always)]
pub(crate) fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// The address of a flow's ends as a key holds it: `u32` for IPv4, `u128` for IPv6
/// (host order). The same tables track both families, each table one of them.
pub trait FlowAddress: Copy + Eq + std::hash::Hash + std::fmt::Debug + 'static {
    /// The address of a free slot.
    const ZERO: Self;

    /// The hash of `key` under `seed` (see [`FlowKey::hash`]).
    fn hash_key(key: &FlowKey<Self>, seed: u64) -> u32;

    /// The address in 64 bits, for a hash to mix further: an IPv4 address as it is.
    fn fold(self) -> u64;
}

/// The word of a key that is not addresses: zone and protocol share half of it (zones
/// are far below 2^24), the ports the other half.
#[inline(always)]
fn rest_word<A: FlowAddress>(key: &FlowKey<A>) -> u64 {
    (u64::from(key.zone ^ u32::from(key.protocol) << 24) << 32)
        | (u64::from(key.local_port) << 16)
        | u64::from(key.remote_port)
}

impl FlowAddress for u32 {
    const ZERO: Self = 0;

    /// Two words folded by one multiply.
    #[inline(always)]
    fn hash_key(key: &FlowKey<u32>, seed: u64) -> u32 {
        let a = (u64::from(key.local) << 32) | u64::from(key.remote);
        mum(a ^ seed, rest_word(key) ^ 0x9E37_79B9_7F4A_7C15) as u32
    }

    #[inline(always)]
    fn fold(self) -> u64 {
        u64::from(self)
    }
}

impl FlowAddress for u128 {
    const ZERO: Self = 0;

    /// Each address folded by one seeded multiply of its halves, then as IPv4's: three
    /// multiplies. A sender picks the low half of its address freely, never the high
    /// half alone, and the seed keeps the fold from being aimed at.
    #[inline(always)]
    fn hash_key(key: &FlowKey<u128>, seed: u64) -> u32 {
        let fold = |a: u128, k: u64| mum((a >> 64) as u64 ^ k, a as u64 ^ seed);
        let a = fold(key.local, 0x243F_6A88_85A3_08D3) ^ fold(key.remote, 0x1319_8A2E_0370_7344);
        mum(a ^ seed, rest_word(key) ^ 0x9E37_79B9_7F4A_7C15) as u32
    }

    /// The halves folded by a multiply (the caller's hash is seeded).
    #[inline(always)]
    fn fold(self) -> u64 {
        mum((self >> 64) as u64 ^ 0xA409_3822_299F_31D0, self as u64 ^ 0x082E_FA98_EC4E_6C89)
    }
}

impl<A: FlowAddress> FlowKey<A> {
    /// The key's hash under `seed`: equal keys hash equally, and the rare inputs that
    /// collide only cost a longer probe.
    #[inline(always)]
    pub(crate) fn hash(&self, seed: u64) -> u32 {
        A::hash_key(self, seed)
    }
}

/// A random hash seed: a table keyed by what remote senders choose should not let them
/// precompute colliding keys.
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x666c_6f77u32)
}
