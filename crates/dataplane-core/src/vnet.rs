//! The virtio-net header in front of every packet on a TUN device opened with
//! `IFF_VNET_HDR` (`struct virtio_net_hdr`, 10 bytes, little-endian on the hosts vpclab
//! runs on).
//!
//! With offloads on, the kernel hands the forwarder TCP and UDP packets whose checksum
//! is only the pseudo-header sum (`NEEDS_CSUM`), and whole GSO super-packets of up to
//! 64 KiB that the receiver's stack takes as they are — the reason a userspace forwarder
//! can keep up with the kernel's own. The forwarder reads the header, keeps what it
//! means in an [`Offload`] while the pipeline rewrites the packet, and writes the header
//! back unchanged in front of it: nothing the pipeline does moves the L4 header.
//! Packets the forwarder makes itself (ICMP errors, resets) go out behind [`PLAIN`].

use crate::wire::Offload;

/// Length of `struct virtio_net_hdr` (no mergeable-buffer count).
pub const HEADER_LEN: usize = 10;

/// The header of a packet with nothing left to finish.
pub const PLAIN: [u8; HEADER_LEN] = [0; HEADER_LEN];

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` is partial.
pub const F_NEEDS_CSUM: u8 = 1;

/// `gso_type` values.
pub mod gso {
    /// Not a super-packet.
    pub const NONE: u8 = 0;
    /// TCP over IPv4.
    pub const TCPV4: u8 = 1;
    /// UDP fragmentation offload (obsolete).
    pub const UDP: u8 = 3;
    /// TCP over IPv6.
    pub const TCPV6: u8 = 4;
    /// UDP segmentation offload.
    pub const UDP_L4: u8 = 5;
    /// Flag: the super-packet carries ECN's CWR.
    pub const ECN: u8 = 0x80;
}

/// What a packet's virtio-net header leaves unfinished. A header too short to be one
/// means nothing is.
pub fn offload(header: &[u8]) -> Offload {
    let Some(header) = header.get(..HEADER_LEN) else {
        return Offload::NONE;
    };
    let gso_type = header[1] & !gso::ECN;
    let gso_size = u16::from_le_bytes([header[4], header[5]]);
    Offload {
        partial_checksum: header[0] & F_NEEDS_CSUM != 0,
        gso_size: if gso_type == gso::NONE { 0 } else { gso_size },
    }
}

/// The header for a packet translated to the other IP version (NAT64): `header`, the
/// original's, with its offsets moved by `shift` bytes (the new L4 start less the old)
/// and a TCP super-packet's type made the new version's (`to_ipv4`). Segment size,
/// checksum offset and ECN carry over; a header too short to be one stays [`PLAIN`].
pub fn translated(header: &[u8], shift: i16, to_ipv4: bool) -> [u8; HEADER_LEN] {
    let Some(&old) = header.first_chunk::<HEADER_LEN>() else {
        return PLAIN;
    };
    let mut new = old;
    let ecn = old[1] & gso::ECN;
    new[1] = match (old[1] & !gso::ECN, to_ipv4) {
        (gso::TCPV6, true) => gso::TCPV4 | ecn,
        (gso::TCPV4, false) => gso::TCPV6 | ecn,
        _ => old[1],
    };
    let moved = |at: usize| {
        let value = u16::from_le_bytes([old[at], old[at + 1]]);
        match value {
            0 => 0,
            value => value.saturating_add_signed(shift),
        }
    };
    new[2..4].copy_from_slice(&moved(2).to_le_bytes());
    new[6..8].copy_from_slice(&moved(6).to_le_bytes());
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_translated_super_packet_changes_version_and_moves_its_offsets() {
        // TCP over IPv6: hdr_len 72, gso_size 1428, csum_start 40, csum_offset 16.
        let six = [1, gso::TCPV6 | gso::ECN, 72, 0, 0x94, 0x05, 40, 0, 16, 0];
        let four = translated(&six, -20, true);
        assert_eq!(four, [1, gso::TCPV4 | gso::ECN, 52, 0, 0x94, 0x05, 20, 0, 16, 0]);
        assert_eq!(translated(&four, 20, false), six);
        // UDP segmentation is either version's; a plain packet stays plain.
        let udp = [1, gso::UDP_L4, 28, 0, 0xc8, 0x05, 20, 0, 6, 0];
        assert_eq!(translated(&udp, 20, false), [1, gso::UDP_L4, 48, 0, 0xc8, 0x05, 40, 0, 6, 0]);
        assert_eq!(translated(&PLAIN, -20, true), PLAIN);
        assert_eq!(translated(&[1, 4], -20, true), PLAIN);
    }

    #[test]
    fn reads_what_the_kernel_writes() {
        assert_eq!(offload(&PLAIN), Offload::NONE);
        // A TSO super-packet: NEEDS_CSUM, TCPV4 with ECN, hdr_len 52, gso_size 1448,
        // csum_start 20, csum_offset 16.
        let tso = [1, 0x81, 52, 0, 0xa8, 0x05, 20, 0, 16, 0];
        assert_eq!(offload(&tso), Offload { partial_checksum: true, gso_size: 1448 });
        // Checksum offload alone: a gso_size with GSO_NONE means nothing.
        let csum = [1, 0, 0, 0, 0xa8, 0x05, 20, 0, 6, 0];
        assert_eq!(offload(&csum), Offload { partial_checksum: true, gso_size: 0 });
        assert_eq!(offload(&[1, 1]), Offload::NONE);
    }
}
