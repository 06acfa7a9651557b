//! The hosts of the emulated internet: a check-ip server that answers `GET /` with the
//! caller's source address and a newline, as checkip.amazonaws.com does (and, for UDP
//! labs, any datagram to the same address and port the same way). Over IPv6 the answer
//! has the same shape, the address in its canonical text form (RFC 5952:
//! `2001:db8::5`).
//!
//! It runs as its own process inside the `vpclab-internet` namespace (the daemon starts
//! it with `ip netns exec`), so it is an ordinary TCP server on the kernel's stack,
//! seen from instances exactly as a host on the internet would be. With `--tls`, every
//! address also answers HTTPS on 443, as the AWS services it stands for do.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 64;
/// A request's headers must arrive within this time and size.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEADER_BYTES: usize = 8192;

/// The port HTTPS is served on, beside each address's own.
const HTTPS_PORT: u16 = 443;

/// Serves on every address in `listen` until the process is killed: HTTP over TCP (and
/// HTTPS on port 443 of the same address with the certificate in `tls`), and over UDP
/// a datagram with the caller's address and a newline in answer to any datagram.
/// Every address is bound before any is served, so a bad one fails the start. An IPv6
/// address is a specific one (never `::`), so its sockets take IPv6 only whatever
/// `IPV6_V6ONLY` says.
pub(crate) fn serve(
    listen: &[SocketAddr],
    tls: Option<&Path>,
    parent: Option<u32>,
) -> Result<(), String> {
    if let Some(parent) = parent {
        // Never outlive the daemon (a SIGKILLed one included): a stale host would hold
        // the addresses the next daemon's host needs.
        vpclab_sys::process::die_with_parent(parent)
            .map_err(|e| format!("internet host of daemon {parent}: {e}"))?;
    }
    let tls = tls.map(crate::tls::server_config_from).transpose()?;
    let mut bound = Vec::with_capacity(listen.len());
    for &addr in listen {
        let tcp = TcpListener::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        let udp = UdpSocket::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
        let https = match &tls {
            Some(config) => {
                let addr = SocketAddr::new(addr.ip(), HTTPS_PORT);
                let tcp = TcpListener::bind(addr).map_err(|e| format!("{addr}: {e}"))?;
                Some((tcp, Arc::clone(config)))
            }
            None => None,
        };
        bound.push((tcp, udp, https));
    }
    let active = Arc::new(AtomicUsize::new(0));
    let mut servers = Vec::new();
    for (tcp, udp, https) in bound {
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((_, peer)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(format!("{}\n", peer.ip()).as_bytes(), peer);
            }
        });
        let plain = Arc::clone(&active);
        servers.push(std::thread::spawn(move || accept(&tcp, &plain, None)));
        if let Some((tcp, config)) = https {
            let active = Arc::clone(&active);
            servers.push(std::thread::spawn(move || accept(&tcp, &active, Some(&config))));
        }
    }
    for server in servers {
        let _ = server.join();
    }
    Ok(())
}

fn accept(
    listener: &TcpListener,
    active: &Arc<AtomicUsize>,
    tls: Option<&Arc<rustls::ServerConfig>>,
) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            continue; // Dropping the stream closes it.
        }
        let active = Arc::clone(active);
        let tls = tls.cloned();
        std::thread::spawn(move || {
            let _ = match tls {
                Some(config) => answer_tls(stream, config),
                None => answer_plain(stream),
            };
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

fn answer_plain(stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let peer = stream.peer_addr()?;
    answer(stream, peer)
}

/// The same answer over TLS, ended with a close_notify as a careful server does (the
/// handshake happens on the first read, within the same read timeout).
fn answer_tls(stream: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let peer = stream.peer_addr()?;
    let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    answer(&mut tls, peer)?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// Reads one request from `stream` and answers it: `GET /` with the caller's address.
fn answer<S: Read + Write>(stream: S, peer: SocketAddr) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
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
            return respond(reader.get_mut(), "431 Request Header Fields Too Large", "");
        }
    }
    let mut parts = request_line.split_whitespace();
    let stream = reader.get_mut();
    match (parts.next(), parts.next()) {
        (Some("GET" | "HEAD"), Some(_)) => respond(stream, "200 OK", &format!("{}\n", peer.ip())),
        (Some(_), Some(_)) => respond(stream, "405 Method Not Allowed", ""),
        _ => respond(stream, "400 Bad Request", ""),
    }
}

fn respond(stream: &mut impl Write, status: &str, body: &str) -> io::Result<()> {
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

    use rustls_pki_types::pem::PemObject;

    use super::*;

    #[test]
    fn answers_over_tls_with_the_callers_address() {
        let certs = crate::tls::issue().unwrap();
        let config =
            crate::tls::server_config(certs.chain.as_bytes(), certs.key.as_bytes()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            answer_tls(stream, config).unwrap();
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            rustls_pki_types::CertificateDer::pem_slice_iter(certs.ca.as_bytes()).flatten(),
        );
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = "checkip.amazonaws.com".try_into().unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
        tls.write_all(b"GET / HTTP/1.1\r\nHost: checkip.amazonaws.com\r\n\r\n").unwrap();
        let mut response = String::new();
        // Ends cleanly: the server's close_notify, not a bare EOF.
        tls.read_to_string(&mut response).unwrap();
        server.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\n127.0.0.1\n"), "{response}");
    }

    #[test]
    fn answers_with_the_callers_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            answer_plain(stream).unwrap();
        });
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        server.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\n127.0.0.1\n"), "{response}");
    }

    #[test]
    fn answers_over_ipv6_with_the_callers_address_in_canonical_form() {
        // A machine without IPv6 on its loopback has nothing to test here.
        let Ok(listener) = TcpListener::bind("[::1]:0") else { return };
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            answer_plain(stream).unwrap();
        });
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        server.join().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\n::1\n"), "{response}");
        // Canonical text, as the answer prints it: the longest run of zeros compressed,
        // lower case, no leading zeros.
        let peer: std::net::Ipv6Addr = "2001:0DB8:0000:0001:0000:0000:0000:0005".parse().unwrap();
        assert_eq!(peer.to_string(), "2001:db8:0:1::5");
    }
}
