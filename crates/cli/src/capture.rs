//! `vpclab capture`: the packets at one point of the forwarder as a pcap stream.
//!
//! The daemon taps the point (an instance's device, or the internet edge) and writes a
//! pcap (link type RAW: IPv4 packets, no link header) to the client over the control
//! socket; the client copies it to a file or standard output, or prints one line per
//! packet. At an instance the packets are as it sent and received them (private
//! addresses); at `igw` as the internet sees them (public addresses): capturing both
//! shows a translation from either side.

use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use vpclab_dataplane::capture::{Captured, SNAP_LEN};
use vpclab_dataplane::worker::Capture;

use crate::lab::{self, Result};

/// How often the daemon drains the tap (and notices that the client left).
const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// Daemon side: streams `capture` (started at `point`) to `stream` as pcap until `count`
/// packets went out (0: no limit) or the client hangs up. The tap is stopped on return.
pub(crate) fn stream(
    capture: &Capture,
    point: vpclab_dataplane::capture::Point,
    stream: UnixStream,
    count: u64,
) {
    if !capture.start(point) {
        let _ = (&stream).write_all(b"error: another capture is running\n");
        return;
    }
    let _ = serve_pcap(capture, &stream, count);
    capture.stop();
}

/// Captures at `point` for at most `duration` or `count` packets, whichever comes
/// first, into a pcap in memory (the console's short captures). `None`: another
/// capture is running.
pub(crate) fn collect(
    capture: &Capture,
    point: vpclab_dataplane::capture::Point,
    duration: Duration,
    count: u64,
) -> io::Result<Option<Vec<u8>>> {
    if !capture.start(point) {
        return Ok(None);
    }
    let result = (|| {
        let header = PcapHeader {
            datalink: DataLink::RAW,
            snaplen: SNAP_LEN as u32,
            ..PcapHeader::default()
        };
        let mut writer = PcapWriter::with_header(Vec::new(), header).map_err(io::Error::other)?;
        let deadline = Instant::now() + duration;
        let mut batch: Vec<Captured> = Vec::new();
        let mut kept = 0u64;
        // Bounded: one pass per DRAIN_EVERY until the deadline.
        let passes = duration.as_millis() / DRAIN_EVERY.as_millis() + 1;
        for _ in 0..passes {
            batch.clear();
            capture.drain(&mut batch);
            for p in &batch {
                let packet = PcapPacket::new(Duration::from_micros(p.at_us), p.len as u32, &p.data);
                writer.write_packet(&packet).map_err(io::Error::other)?;
                kept += 1;
                if kept >= count {
                    return Ok(writer.into_writer());
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(DRAIN_EVERY);
        }
        Ok(writer.into_writer())
    })();
    capture.stop();
    result.map(Some)
}

fn serve_pcap(capture: &Capture, stream: &UnixStream, count: u64) -> io::Result<()> {
    let header =
        PcapHeader { datalink: DataLink::RAW, snaplen: SNAP_LEN as u32, ..PcapHeader::default() };
    let mut writer = PcapWriter::with_header(stream, header).map_err(io::Error::other)?;
    stream.set_read_timeout(Some(DRAIN_EVERY))?;
    let mut batch: Vec<Captured> = Vec::new();
    let mut sent = 0u64;
    let mut probe = [0u8; 1];
    loop {
        batch.clear();
        capture.drain(&mut batch);
        for p in &batch {
            let at = Duration::from_micros(p.at_us);
            let packet = PcapPacket::new(at, p.len as u32, &p.data);
            writer.write_packet(&packet).map_err(io::Error::other)?;
            sent += 1;
            if count != 0 && sent >= count {
                return Ok(());
            }
        }
        // Waits DRAIN_EVERY; a read of 0 bytes means the client hung up.
        match (&*stream).read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
}

/// `vpclab capture`.
pub(crate) fn run(
    state: &Path,
    point: &str,
    write: Option<&Path>,
    count: Option<u64>,
) -> Result<ExitCode> {
    if point.contains(char::is_whitespace) || point.is_empty() {
        return Err(format!("{point:?} is not a capture point"));
    }
    let mut stream = UnixStream::connect(state.join(lab::SOCKET_FILE))
        .map_err(|e| format!("no lab daemon is running ({e})"))?;
    writeln!(stream, "capture {point} {}", count.unwrap_or(0)).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    // The daemon answers with a pcap header, or with a line of error.
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic).map_err(|e| format!("the daemon hung up: {e}"))?;
    if &magic == b"erro" {
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        return Err(format!("capture {point}: erro{}", rest.trim_end()));
    }
    let started = Instant::now();
    let pcap = magic.chain(reader);
    match write {
        Some(path) if path.as_os_str() == "-" => copy(pcap, &mut io::stdout().lock())?,
        Some(path) => {
            let mut file =
                std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            copy(pcap, &mut file)?;
        }
        None => print_packets(pcap)?,
    }
    eprintln!("capture {point}: done after {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Copies the stream as it comes, flushing every read so `| tcpdump -r -` sees packets
/// live.
fn copy(mut from: impl Read, to: &mut impl Write) -> Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n]).and_then(|()| to.flush()).map_err(|e| e.to_string())?;
    }
}

/// One line per packet: time, addresses, protocol, length.
fn print_packets(from: impl Read) -> Result<()> {
    let mut reader = PcapReader::new(from).map_err(|e| e.to_string())?;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| e.to_string())?;
        println!("{}", describe(packet.timestamp, &packet.data, packet.orig_len));
    }
    Ok(())
}

fn describe(at: Duration, data: &[u8], len: u32) -> String {
    let secs = at.as_secs();
    let time = format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        at.subsec_micros()
    );
    if data.first().is_some_and(|b| b >> 4 == 6) {
        return describe6(&time, data, len);
    }
    if data.len() < 20 || data[0] >> 4 != 4 {
        return format!("{time} neither IPv4 nor IPv6, {len} bytes");
    }
    let addr =
        |at: usize| std::net::Ipv4Addr::new(data[at], data[at + 1], data[at + 2], data[at + 3]);
    let l4 = &data[usize::from(data[0] & 0x0f) * 4..];
    let port = |at: usize| l4.get(at..at + 2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let (src, dst) = (addr(12), addr(16));
    match data[9] {
        6 => format!("{time} TCP {src}:{} > {dst}:{}, {len} bytes", port(0), port(2)),
        17 => format!("{time} UDP {src}:{} > {dst}:{}, {len} bytes", port(0), port(2)),
        1 => {
            let kind = match l4.first() {
                Some(8) => "echo request",
                Some(0) => "echo reply",
                Some(11) => "time exceeded",
                Some(3) => "unreachable",
                _ => "other",
            };
            format!("{time} ICMP {src} > {dst}: {kind}, {len} bytes")
        }
        other => format!("{time} IP proto {other} {src} > {dst}, {len} bytes"),
    }
}

/// [`describe`] for IPv6: the extension headers walked to the upper layer (the capture
/// may have cut the packet short: what is there is read).
fn describe6(time: &str, data: &[u8], len: u32) -> String {
    let Ok(ip) = vpclab_dataplane::wire6::Ipv6::new_quoted(data) else {
        return format!("{time} IPv6, malformed, {len} bytes");
    };
    let (src, dst) = (ip.src(), ip.dst());
    let (sport, dport) = ip.ports().unwrap_or((0, 0));
    match ip.protocol() {
        6 => format!("{time} TCP [{src}]:{sport} > [{dst}]:{dport}, {len} bytes"),
        17 => format!("{time} UDP [{src}]:{sport} > [{dst}]:{dport}, {len} bytes"),
        58 => {
            let kind = match ip.icmp_type() {
                Some(128) => "echo request",
                Some(129) => "echo reply",
                Some(1) => "unreachable",
                Some(2) => "packet too big",
                Some(3) => "time exceeded",
                _ => "other",
            };
            format!("{time} ICMP6 {src} > {dst}: {kind}, {len} bytes")
        }
        other => format!("{time} IPv6 next header {other} {src} > {dst}, {len} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_described_like_tcpdump_would() {
        let p = vpclab_dataplane::trace::probe(
            "10.0.1.10".parse().unwrap(),
            "198.51.100.1".parse().unwrap(),
            vpclab_dataplane::trace::Probe::Tcp(80),
        );
        let line = describe(Duration::from_micros(3_600_000_123), &p, p.len() as u32);
        assert_eq!(line, "01:00:00.000123 TCP 10.0.1.10:43210 > 198.51.100.1:80, 40 bytes");
        let ping = vpclab_dataplane::trace::probe(
            "10.0.1.10".parse().unwrap(),
            "10.0.2.4".parse().unwrap(),
            vpclab_dataplane::trace::Probe::Ping,
        );
        assert!(
            describe(Duration::ZERO, &ping, 36)
                .ends_with("ICMP 10.0.1.10 > 10.0.2.4: echo request, 36 bytes")
        );
        assert!(describe(Duration::ZERO, &[0x50; 40], 40).contains("neither IPv4 nor IPv6"));
        let six = vpclab_dataplane::trace::probe6(
            "2001:db8:0:101::10".parse().unwrap(),
            "2001:db8:ffff::1".parse().unwrap(),
            vpclab_dataplane::trace::Probe::Tcp(80),
        );
        assert_eq!(
            describe(Duration::ZERO, &six, six.len() as u32),
            "00:00:00.000000 TCP [2001:db8:0:101::10]:43210 > [2001:db8:ffff::1]:80, 60 bytes"
        );
        let ping6 = vpclab_dataplane::trace::probe6(
            "2001:db8:0:101::10".parse().unwrap(),
            "2001:db8:0:102::4".parse().unwrap(),
            vpclab_dataplane::trace::Probe::Ping,
        );
        assert!(
            describe(Duration::ZERO, &ping6[..44], 56)
                .ends_with("ICMP6 2001:db8:0:101::10 > 2001:db8:0:102::4: echo request, 56 bytes"),
            "a capture cut short is read as far as it goes"
        );
    }
}
