//! The hosts of the emulated internet: a check-ip server that answers `GET /` with the
//! caller's source address and a newline, as checkip.amazonaws.com does (and, for UDP
//! labs, any datagram to the same address and port the same way).
//!
//! It runs as its own process inside the `vpclab-internet` namespace (the daemon starts
//! it with `ip netns exec`), so it is an ordinary TCP server on the kernel's stack,
//! seen from instances exactly as a host on the internet would be.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 64;
/// A request's headers must arrive within this time and size.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEADER_BYTES: usize = 8192;

/// Serves on every address in `listen` until the process is killed: HTTP over TCP, and
/// over UDP a datagram with the caller's address and a newline in answer to any datagram.
/// Every address is bound before any is served, so a bad one fails the start.
pub(crate) fn serve(listen: &[SocketAddr], parent: Option<u32>) -> Result<(), String> {
    if let Some(parent) = parent {
        // Never outlive the daemon (a SIGKILLed one included): a stale host would hold
        // the addresses the next daemon's host needs.
        vpclab_sys::process::die_with_parent(parent)
            .map_err(|e| format!("internet host of daemon {parent}: {e}"))?;
    }
    let mut bound = Vec::with_capacity(listen.len());
    for &addr in listen {
        let tcp = TcpListener::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        let udp = UdpSocket::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        bound.push((tcp, udp));
    }
    let active = Arc::new(AtomicUsize::new(0));
    let servers: Vec<_> = bound
        .into_iter()
        .map(|(tcp, udp)| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while let Ok((_, peer)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(format!("{}\n", peer.ip()).as_bytes(), peer);
                }
            });
            let active = Arc::clone(&active);
            std::thread::spawn(move || accept(&tcp, &active))
        })
        .collect();
    for server in servers {
        let _ = server.join();
    }
    Ok(())
}

fn accept(listener: &TcpListener, active: &Arc<AtomicUsize>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            continue; // Dropping the stream closes it.
        }
        let active = Arc::clone(active);
        std::thread::spawn(move || {
            let _ = answer(stream);
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

fn answer(stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let peer = stream.peer_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read and discard the headers, bounded.
    let mut seen = request_line.len();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        seen += line.len();
        if seen > MAX_HEADER_BYTES {
            return respond(stream, "431 Request Header Fields Too Large", "");
        }
    }
    let mut parts = request_line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET" | "HEAD"), Some(_)) => respond(stream, "200 OK", &format!("{}\n", peer.ip())),
        (Some(_), Some(_)) => respond(stream, "405 Method Not Allowed", ""),
        _ => respond(stream, "400 Bad Request", ""),
    }
}

fn respond(mut stream: TcpStream, status: &str, body: &str) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn answers_with_the_callers_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            answer(stream).unwrap();
        });
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        server.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\n127.0.0.1\n"), "{response}");
    }
}
