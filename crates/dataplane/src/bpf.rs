//! The queue-steering program of instance devices: [`crate::steer`]'s flow hash, in
//! eBPF, so that the kernel puts each packet an instance sends on the queue of the
//! worker that owns its flow and no worker has to hand it over.
//!
//! It covers what instances send almost always — TCP, UDP and ICMP echo, over IPv4 and
//! over IPv6 without extension headers — exactly as [`crate::steer::owner`] does. Every fragment of a datagram, the first included, goes
//! by its addresses alone, as the kernel's own hash does: all of them land on one queue
//! and are read in order by one worker, which notes where the first went before a later
//! one asks (steering by ports for the first fragment and by addresses for the rest put
//! them on two workers, and a later fragment could overtake its first). For the rest
//! (fragments, ICMP errors, which go by the flow they quote; flows to a private NAT
//! gateway or an interface endpoint) it may pick another worker than the owner, and the
//! worker that reads such a packet hands it over as before. Correctness never depends
//! on it. A property test runs the program in a small interpreter against
//! `steer::owner` on random packets.
//!
//! The program is assembled here by hand — a couple of dozen instructions, like the
//! seccomp filters firecracker builds in Rust — rather than compiled from C, which would
//! bring clang into the build for one hash.

use vpclab_sys::bpf::Insn;

use crate::steer::{MIX_1, MIX_2, MIX_KEY};

// Instruction classes, sizes, modes, operations and sources (linux/bpf.h).
const LD: u8 = 0x00;
const LDX: u8 = 0x01;
const STX: u8 = 0x03;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
const W: u8 = 0x00;
const H: u8 = 0x08;
const B: u8 = 0x10;
const DW: u8 = 0x18;
const IMM: u8 = 0x00;
const ABS: u8 = 0x20;
const IND: u8 = 0x40;
const MEM: u8 = 0x60;
const K: u8 = 0x00;
const X: u8 = 0x08;
const MUL: u8 = 0x20;
const OR: u8 = 0x40;
const AND: u8 = 0x50;
const LSH: u8 = 0x60;
const RSH: u8 = 0x70;
const XOR: u8 = 0xa0;
const MOV: u8 = 0xb0;
const JA: u8 = 0x00;
const JEQ: u8 = 0x10;
const JGT: u8 = 0x20;
const JSET: u8 = 0x40;
const JNE: u8 = 0x50;
const JLT: u8 = 0xa0;
const JLE: u8 = 0xb0;
const EXIT: u8 = 0x90;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: dst | src << 4, off, imm }
}

/// `dst op= imm`
const fn alu(op: u8, dst: u8, imm: i32) -> Insn {
    insn(ALU64 | op | K, dst, 0, 0, imm)
}

/// `dst op= src`
const fn alu_x(op: u8, dst: u8, src: u8) -> Insn {
    insn(ALU64 | op | X, dst, src, 0, 0)
}

/// `if dst op imm goto +off`
const fn jmp(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
    insn(JMP | op | K, dst, 0, off, imm)
}

/// `if dst op src goto +off`
const fn jmp_x(op: u8, dst: u8, src: u8, off: i16) -> Insn {
    insn(JMP | op | X, dst, src, off, 0)
}

/// `r0 = packet[imm]` (network order read, host order value; the program ends with 0
/// if it lies beyond the packet).
const fn load_abs(size: u8, imm: i32) -> Insn {
    insn(LD | ABS | size, 0, 0, 0, imm)
}

/// `r0 = packet[src + imm]`
const fn load_ind(size: u8, src: u8, imm: i32) -> Insn {
    insn(LD | IND | size, 0, src, 0, imm)
}

/// `dst = imm` for a 64-bit immediate: two instruction slots.
fn load_imm64(dst: u8, imm: u64) -> [Insn; 2] {
    [insn(LD | DW | IMM, dst, 0, 0, imm as u32 as i32), insn(0, 0, 0, 0, (imm >> 32) as u32 as i32)]
}

const FP: u8 = 10;

/// `r9 = source port << 16 | destination port`, the two 16-bit words `load(0)` and
/// `load(2)` read (the upper-layer header's first four bytes).
fn load_ports(load: impl Fn(i32) -> Insn) -> [Insn; 5] {
    [load(0), alu_x(MOV, 9, 0), alu(LSH, 9, 16), load(2), alu_x(OR, 9, 0)]
}

/// `r9 = id << 16 | id` for an ICMP echo, whose identifier `load(4)` reads: both "ports"
/// are the identifier.
fn load_echo_id(load: impl Fn(i32) -> Insn) -> [Insn; 4] {
    [load(4), alu_x(MOV, 9, 0), alu(LSH, 9, 16), alu_x(OR, 9, 0)]
}

/// The IPv6 part of the program, entered with the version nibble in r0 (`0x60` for
/// IPv6): [`crate::steer`]'s `Flow6` hash inputs, addresses in r1 and ports in r3, ending
/// where the mix begins. Its first instruction leaves for queue 0 what is not IPv6; the
/// caller points it there. The upper-layer header is the one right after the fixed header (an
/// extension header makes the protocol its type and the ports 0: the owner may differ
/// then, and the worker that reads the packet hands it over; a fragment's datagram goes
/// to one queue whatever its offset, as over IPv4).
fn steering_ipv6() -> Vec<Insn> {
    // Registers: r8 the next header, r9 the ports (source << 16 | destination); the four
    // halves of the addresses are read into r7 and kept on the stack.
    let mut p = vec![
        jmp(JNE, 0, 0x60, 0), // → not IPv6: queue 0 (patched by the caller)
        load_abs(B, 6),
        alu_x(MOV, 8, 0),
        jmp(JEQ, 8, 6, 0),  // → TCP (patched below)
        jmp(JEQ, 8, 17, 0), // → UDP (patched below)
        jmp(JNE, 8, 58, 0), // → not ICMPv6: no ports (patched below)
        load_abs(B, 40),
        jmp(JEQ, 0, 128, 1),
        jmp(JNE, 0, 129, 0), // → not an echo: no ports (patched below)
    ];
    // The upper-layer header follows the fixed 40 bytes.
    let l4 = |at: i32| load_abs(H, 40 + at);
    p.extend(load_echo_id(l4));
    p.push(insn(JMP | JA, 0, 0, 0, 0)); // → addresses (patched below)
    let ports = p.len();
    p.extend(load_ports(l4));
    let addresses = p.len();
    // Source high and low, destination high and low: at 8, 16, 24 and 32.
    for (half, at) in [(0, 8), (1, 16), (2, 24), (3, 32)] {
        p.extend([
            load_abs(W, at),
            alu_x(MOV, 7, 0),
            alu(LSH, 7, 32),
            load_abs(W, at + 4),
            alu_x(OR, 7, 0),
            insn(STX | MEM | DW, FP, 7, -8 * (half + 1), 0),
        ]);
    }
    p.extend([
        // No more loads: r0–r5 are free. x = (r1 high, r2 low, r5 port), y = (r3, r4,
        // r0), in order: the smaller (address, port) first.
        insn(LDX | MEM | DW, 1, FP, -8, 0),
        insn(LDX | MEM | DW, 2, FP, -16, 0),
        insn(LDX | MEM | DW, 3, FP, -24, 0),
        insn(LDX | MEM | DW, 4, FP, -32, 0),
        alu_x(MOV, 5, 9),
        alu(RSH, 5, 16),
        alu_x(MOV, 0, 9),
        alu(AND, 0, 0xffff),
        jmp_x(JLT, 1, 3, 13),
        jmp_x(JGT, 1, 3, 3),
        jmp_x(JLT, 2, 4, 11),
        jmp_x(JGT, 2, 4, 1),
        jmp_x(JLE, 5, 0, 9),
        // Swap x and y.
        alu_x(MOV, 7, 1),
        alu_x(MOV, 1, 3),
        alu_x(MOV, 3, 7),
        alu_x(MOV, 7, 2),
        alu_x(MOV, 2, 4),
        alu_x(MOV, 4, 7),
        alu_x(MOV, 7, 5),
        alu_x(MOV, 5, 0),
        alu_x(MOV, 0, 7),
    ]);
    // addresses = fold(x) * MIX_2 ^ fold(y), fold(a) = high * MIX_1 ^ low;
    // ports = x.port << 24 | y.port << 8 | protocol.
    p.extend(load_imm64(7, MIX_1));
    p.extend([alu_x(MUL, 1, 7), alu_x(XOR, 1, 2), alu_x(MUL, 3, 7), alu_x(XOR, 3, 4)]);
    p.extend(load_imm64(7, MIX_2));
    p.extend([
        alu_x(MUL, 1, 7),
        alu_x(XOR, 1, 3),
        alu_x(MOV, 3, 5),
        alu(LSH, 3, 24),
        alu(LSH, 0, 8),
        alu_x(OR, 3, 0),
        alu_x(OR, 3, 8),
    ]);
    let to = |p: &mut Vec<Insn>, at: usize, target: usize| {
        p[at].off = (target - at - 1) as i16;
    };
    to(&mut p, 3, ports);
    to(&mut p, 4, ports);
    to(&mut p, 5, addresses);
    to(&mut p, 8, addresses);
    to(&mut p, ports - 1, addresses);
    p
}

/// The program for a device read by `workers` workers: returns the owner's queue.
pub fn steering_program(workers: usize) -> Vec<Insn> {
    let n = workers.clamp(1, crate::worker::MAX_WORKERS) as i32;
    // Registers: r6 the packet (for the loads), r7 the IP header's length, r8 the
    // protocol, r9 the ports (source << 16 | destination). Loads clobber r0–r5.
    let mut p = vec![
        alu_x(MOV, 6, 1),
        alu(MOV, 9, 0),
        alu(MOV, 8, 0),
        load_abs(B, 0),
        alu_x(MOV, 7, 0),
        alu(AND, 0, 0xf0),
        jmp(JNE, 0, 0x40, 0), // → not IPv4: IPv6 or queue 0 (patched below)
        alu(AND, 7, 0x0f),
        alu(LSH, 7, 2),
        load_abs(B, 9),
        alu_x(MOV, 8, 0),
        load_abs(H, 6),
        jmp(JSET, 0, 0x3fff, 0), // → any fragment: no ports (patched)
        jmp(JEQ, 8, 6, 0),       // → TCP (patched)
        jmp(JEQ, 8, 17, 0),      // → UDP (patched)
        jmp(JNE, 8, 1, 0),       // → neither ICMP: no ports (patched)
        load_ind(B, 7, 0),
        jmp(JEQ, 0, 8, 1),
        jmp(JNE, 0, 0, 0), // → not an echo: no ports (patched)
    ];
    // The upper-layer header follows the header's r7 bytes.
    let l4 = |at: i32| load_ind(H, 7, at);
    p.extend(load_echo_id(l4));
    p.push(insn(JMP | JA, 0, 0, 0, 0)); // → addresses (patched)
    let tcp_udp = p.len();
    p.extend(load_ports(l4));
    let addresses = p.len();
    p.extend([
        load_abs(W, 12),
        insn(STX | MEM | DW, FP, 0, -8, 0),
        load_abs(W, 16),
        // No more loads: r1–r5 are free. x = (r1, r3), y = (r2, r4), in order.
        alu_x(MOV, 2, 0),
        insn(LDX | MEM | DW, 1, FP, -8, 0),
        alu_x(MOV, 3, 9),
        alu(RSH, 3, 16),
        alu_x(MOV, 4, 9),
        alu(AND, 4, 0xffff),
        jmp_x(JLT, 1, 2, 9),
        jmp_x(JGT, 1, 2, 1),
        jmp_x(JLE, 3, 4, 7),
        alu_x(MOV, 5, 1),
        alu_x(MOV, 1, 2),
        alu_x(MOV, 2, 5),
        alu_x(MOV, 5, 3),
        alu_x(MOV, 3, 4),
        alu_x(MOV, 4, 5),
        insn(JMP | JA, 0, 0, 0, 0),
        // addresses = x << 32 | y; ports = x.port << 24 | y.port << 8 | protocol
        alu(LSH, 1, 32),
        alu_x(OR, 1, 2),
        alu(LSH, 3, 24),
        alu(LSH, 4, 8),
        alu_x(OR, 3, 4),
        alu_x(OR, 3, 8),
        insn(JMP | JA, 0, 0, 0, 0), // → mix (patched)
    ]);
    let to_mix = p.len() - 1;
    let ipv6 = p.len();
    p.extend(steering_ipv6());
    // steer::mix (addresses in r1, ports in r3; the IPv6 block ends here), then
    // steer::scale.
    let mix = p.len();
    p.extend(load_imm64(2, MIX_KEY));
    p.push(alu_x(XOR, 1, 2));
    p.extend(load_imm64(2, MIX_1));
    p.extend([alu_x(MUL, 1, 2), alu_x(XOR, 1, 3)]);
    p.extend(load_imm64(2, MIX_2));
    p.extend([
        alu_x(MUL, 1, 2),
        alu_x(MOV, 2, 1),
        alu(RSH, 2, 32),
        alu_x(XOR, 1, 2),
        alu(RSH, 1, 32),
        alu(MUL, 1, n),
        alu(RSH, 1, 32),
        alu_x(MOV, 0, 1),
        insn(JMP | EXIT, 0, 0, 0, 0),
    ]);
    let queue_zero = p.len();
    p.extend([alu(MOV, 0, 0), insn(JMP | EXIT, 0, 0, 0, 0)]);

    // The forward jumps, now that their targets are known.
    let to = |p: &mut Vec<Insn>, at: usize, target: usize| {
        p[at].off = (target - at - 1) as i16;
    };
    to(&mut p, 6, ipv6);
    to(&mut p, to_mix, mix);
    to(&mut p, ipv6, queue_zero);
    to(&mut p, 12, addresses);
    to(&mut p, 13, tcp_udp);
    to(&mut p, 14, tcp_udp);
    to(&mut p, 15, addresses);
    to(&mut p, 18, addresses);
    to(&mut p, tcp_udp - 1, addresses);
    p
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;

    use super::*;
    use crate::snapshot::Snapshot;
    use crate::steer::{FragmentOwners, owner};

    /// Runs a steering program on `packet` as the kernel does: the subset of eBPF the
    /// program uses, legacy packet loads ending the program with 0 beyond the packet.
    fn run(program: &[Insn], packet: &[u8]) -> u64 {
        let mut r = [0u64; 11];
        let mut stack = [0u8; 512];
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = program[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            match i.code {
                c if c & 0x07 == ALU64 => {
                    let operand = if c & X != 0 { r[src] } else { imm };
                    r[dst] = match c & 0xf0 {
                        MUL => r[dst].wrapping_mul(operand),
                        OR => r[dst] | operand,
                        AND => r[dst] & operand,
                        LSH => r[dst] << operand,
                        RSH => r[dst] >> operand,
                        XOR => r[dst] ^ operand,
                        MOV => operand,
                        op => panic!("ALU op {op:#x}"),
                    };
                }
                c if c & 0x07 == JMP => {
                    let operand = if c & X != 0 { r[src] } else { imm };
                    let taken = match c & 0xf0 {
                        JA => true,
                        JEQ => r[dst] == operand,
                        JGT => r[dst] > operand,
                        JSET => r[dst] & operand != 0,
                        JNE => r[dst] != operand,
                        JLT => r[dst] < operand,
                        JLE => r[dst] <= operand,
                        EXIT => return r[0],
                        op => panic!("JMP op {op:#x}"),
                    };
                    if taken {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                c if c == LD | DW | IMM => {
                    r[dst] = u64::from(i.imm as u32) | u64::from(program[pc].imm as u32) << 32;
                    pc += 1;
                }
                c if c & 0x07 == LD => {
                    let at = if c & 0xe0 == IND { r[src] + imm } else { imm } as usize;
                    let len = match c & 0x18 {
                        W => 4,
                        H => 2,
                        B => 1,
                        size => panic!("load size {size:#x}"),
                    };
                    let Some(bytes) = packet.get(at..at + len) else { return 0 };
                    r[0] = bytes.iter().fold(0, |v, &b| v << 8 | u64::from(b));
                    (1..=5).for_each(|k| r[k] = 0xdead); // Clobbered, as by a call.
                }
                c if c == STX | MEM | DW => {
                    let at = (512 + i64::from(i.off)) as usize;
                    stack[at..at + 8].copy_from_slice(&r[src].to_le_bytes());
                }
                c if c == LDX | MEM | DW => {
                    let at = (512 + i64::from(i.off)) as usize;
                    r[dst] = u64::from_le_bytes(stack[at..at + 8].try_into().unwrap());
                }
                c => panic!("opcode {c:#x}"),
            }
        }
        panic!("the program did not end");
    }

    /// An IPv4 packet with a valid header (options as asked) and `l4` behind it.
    fn packet(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        options: usize,
        flags: u16,
        l4: &[u8],
    ) -> Vec<u8> {
        let ihl = 20 + options * 4;
        let mut p = vec![0u8; ihl];
        p[0] = 0x40 | (ihl / 4) as u8;
        let total = (ihl + l4.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[6..8].copy_from_slice(&flags.to_be_bytes());
        p[8] = 64;
        p[9] = protocol;
        p[12..16].copy_from_slice(&src.octets());
        p[16..20].copy_from_slice(&dst.octets());
        let sum = crate::wire::checksum(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(l4);
        p
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The kernel's choice is the worker steering would choose, for TCP, UDP and
        /// ICMP echo in both directions, with and without IP options, for every worker
        /// count; the fragments of a datagram, the first and a later one, all go to one
        /// queue.
        #[test]
        fn the_program_picks_the_owner(
            src: u32, dst: u32, sport: u16, dport: u16,
            kind in 0..4usize, options in 0..3usize, first_fragment: bool,
            workers in 2..=8usize,
        ) {
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            let (protocol, l4) = match kind {
                0 => (6, [&sport.to_be_bytes()[..], &dport.to_be_bytes(), &[0; 16]].concat()),
                1 => (17, [&sport.to_be_bytes()[..], &dport.to_be_bytes(), &[0, 8, 0, 0]].concat()),
                2 => (1, [&[8u8, 0, 0, 0][..], &sport.to_be_bytes(), &[0, 1]].concat()),
                _ => (1, [&[0u8, 0, 0, 0][..], &sport.to_be_bytes(), &[0, 1]].concat()),
            };
            let program = steering_program(workers);
            if first_fragment {
                let first = packet(src, dst, protocol, options, 0x2000, &l4);
                let later = packet(src, dst, protocol, options, 0x0003, &l4[..8]);
                prop_assert_eq!(run(&program, &first), run(&program, &later));
            } else {
                let packet = packet(src, dst, protocol, options, 0x4000, &l4);
                let snapshot = Snapshot::empty();
                let expected = owner(&snapshot, 1, &packet, workers, &FragmentOwners::default());
                prop_assert_eq!(run(&program, &packet) as usize % workers, expected);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The same over IPv6 (no extension headers): TCP, UDP and ICMPv6 echo both
        /// ways, between any two addresses, two of one /64 (as in a subnet: the ends
        /// ordered by their low halves) and one address with itself (by the ports),
        /// for every worker count.
        #[test]
        fn the_program_picks_the_owner_of_ipv6_flows(
            src: u128, dst: u128, sport: u16, dport: u16, relation in 0..3usize,
            kind in 0..5usize, workers in 2..=8usize,
        ) {
            let dst = match relation {
                0 => dst,
                1 => src & !u128::from(u64::MAX) | dst & u128::from(u64::MAX),
                _ => src,
            };
            let (src, dst) = (std::net::Ipv6Addr::from(src), std::net::Ipv6Addr::from(dst));
            let (protocol, l4) = match kind {
                0 => (6, [&sport.to_be_bytes()[..], &dport.to_be_bytes(), &[0; 16]].concat()),
                1 => (17, [&sport.to_be_bytes()[..], &dport.to_be_bytes(), &[0, 8, 0, 0]].concat()),
                2 => (58, [&[128u8, 0, 0, 0][..], &sport.to_be_bytes(), &[0, 1]].concat()),
                3 => (58, [&[129u8, 0, 0, 0][..], &sport.to_be_bytes(), &[0, 1]].concat()),
                // Another ICMPv6 message (a neighbour solicitation's type): no ports,
                // whatever its bytes.
                _ => (58, [&[135u8, 0, 0, 0][..], &sport.to_be_bytes(), &dport.to_be_bytes(), &[0; 16]].concat()),
            };
            let packet = crate::wire6::ipv6_packet(src, dst, 64, protocol, &l4);
            let program = steering_program(workers);
            let snapshot = Snapshot::empty();
            let expected = owner(&snapshot, 1, &packet, workers, &FragmentOwners::default());
            prop_assert_eq!(run(&program, &packet) as usize % workers, expected);
        }
    }

    #[test]
    fn anything_but_ipv4_and_ipv6_goes_to_queue_zero() {
        let program = steering_program(4);
        assert_eq!(run(&program, &[0x70; 40]), 0);
        assert_eq!(run(&program, &[0x50; 40]), 0);
        assert_eq!(run(&program, &[]), 0);
        // An IPv6 header cut short ends the program as the kernel's loads do: queue 0.
        assert_eq!(run(&program, &[0x60; 20]), 0);
    }
}
