//! The one flow identity: what every table in vpclab keys a flow by.

/// A flow seen from one end: the `local` end (an instance's interface, or the inside of
/// a NAT gateway) and the `remote` end, with the table-specific `zone` it is seen in
/// (the interface's port for security groups, the NAT gateway's slot). The same key
/// names both directions of the flow: a packet leaving the local end and its reply
/// arriving there are looked up under one key. For ICMP echo, `local_port` is the echo
/// identifier and `remote_port` is 0; for protocols without ports both are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Where the flow is seen: an interface, a gateway.
    pub zone: u32,
    /// IP protocol number.
    pub protocol: u8,
    /// The local end's address, host order.
    pub local: u32,
    /// The local end's port (or ICMP identifier).
    pub local_port: u16,
    /// The remote end's address, host order.
    pub remote: u32,
    /// The remote end's port (0 for ICMP).
    pub remote_port: u16,
}

/// A 64×64→128-bit multiply folded to 64 bits: a fast, well-mixing step.
#[inline(always)]
pub(crate) fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl FlowKey {
    /// The key's hash under `seed`: two words folded by one multiply. The zone and the
    /// protocol share a word (zones are far below 2^24); equal keys hash equally, and
    /// the rare inputs that collide only cost a longer probe.
    #[inline(always)]
    pub(crate) fn hash(&self, seed: u64) -> u32 {
        let a = (u64::from(self.local) << 32) | u64::from(self.remote);
        let b = (u64::from(self.zone ^ u32::from(self.protocol) << 24) << 32)
            | (u64::from(self.local_port) << 16)
            | u64::from(self.remote_port);
        mum(a ^ seed, b ^ 0x9E37_79B9_7F4A_7C15) as u32
    }
}

/// A random hash seed: a table keyed by what remote senders choose should not let them
/// precompute colliding keys.
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x666c_6f77u32)
}
