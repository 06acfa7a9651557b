//! A connection-rate client for load tests: `conns <ip:port> <count> <threads>
//! <deadline-seconds>` opens `count` short TCP connections to vpclab's check-ip server,
//! each an HTTP/1.0 `GET /` read to the end (the server closes first), spread over
//! `threads` threads, and prints one line: `ok N failed M seconds S first-error E`.
//!
//! Bounded: every connection has a 5 s connect and read timeout, and no new one starts
//! after the deadline (those not started count as failed).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);

fn one(addr: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::with_capacity(256);
    stream.read_to_end(&mut answer).map_err(|e| format!("read: {e}"))?;
    if answer.starts_with(b"HTTP/1.") && answer.ends_with(b"\n") {
        Ok(())
    } else {
        Err(format!("answer: {:?}", String::from_utf8_lossy(&answer)))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: conns <ip:port> <count> <threads> <deadline-seconds>";
    let (Some(addr), Some(count), Some(threads), Some(deadline)) = (
        args.get(1).and_then(|a| a.parse::<SocketAddr>().ok()),
        args.get(2).and_then(|a| a.parse::<u64>().ok()),
        args.get(3).and_then(|a| a.parse::<u64>().ok()).filter(|&t| (1..=64).contains(&t)),
        args.get(4).and_then(|a| a.parse::<u64>().ok()),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(deadline);
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let first_error = Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let share = count / threads + u64::from(t < count % threads);
            let (ok, failed, first_error) = (&ok, &failed, &first_error);
            scope.spawn(move || {
                for done in 0..share {
                    if Instant::now() >= deadline {
                        failed.fetch_add(share - done, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert_with(|| "deadline".into());
                        return;
                    }
                    match one(addr) {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(e);
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            });
        }
    });
    let error = first_error.into_inner().unwrap().unwrap_or_else(|| "none".into());
    println!(
        "ok {} failed {} seconds {:.1} first-error {error}",
        ok.into_inner(),
        failed.into_inner(),
        started.elapsed().as_secs_f64()
    );
}
