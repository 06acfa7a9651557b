//! The running forwarder allocates nothing per packet: a real `Host` — namespaces,
//! multiqueue TUN devices with offloads, two workers — forwards a ping flood and a TCP
//! transfer (GSO super-packets) while a counting allocator watches the whole process.
//! (Its own binary: no other test allocates meanwhile.)

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use vpclab_dataplane::host::{self, Host};
use vpclab_dataplane::worker::{Options, PacketIo};
use vpclab_model::{Model, RunInstance, Tags};
use vpclab_netns_tests::{require_root, run, run_ok, wait_until};
use vpclab_sys::alloc::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// Stops the forwarder and removes every namespace the model put on the host, also
/// when the test fails.
struct Running {
    host: Option<Host>,
    model: Model,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(host) = self.host.take() {
            let _ = host.stop();
        }
        let _ = host::teardown_with_internet(&self.model, vpclab_netns_tests::internet());
    }
}

#[test]
#[ignore = "needs root"]
fn the_running_forwarder_allocates_nothing_per_packet() {
    require_root();
    // Both packet I/O paths, and io_uring busy-polling, one after the other (each lab
    // is gone before the next).
    forwards_without_allocating(PacketIo::Uring, None);
    forwards_without_allocating(PacketIo::Uring, Some(Duration::from_micros(200)));
    forwards_without_allocating(PacketIo::Epoll, None);
}

fn forwards_without_allocating(io: PacketIo, busy_poll: Option<Duration>) {
    let mut model = Model::new(77);
    let vpc = model.create_vpc("10.77.0.0/16".parse().unwrap(), Tags::new()).unwrap();
    let mut instance = |cidr: &str, ip: &str| {
        let subnet = model.create_subnet(&vpc, cidr.parse().unwrap(), None, Tags::new()).unwrap();
        let run = RunInstance {
            subnet: Some(subnet),
            private_ip: Some(ip.parse::<Ipv4Addr>().unwrap()),
            ..Default::default()
        };
        model.run_instance(run).unwrap()
    };
    let a = instance("10.77.1.0/24", "10.77.1.10");
    let b = instance("10.77.2.0/24", "10.77.2.10");
    let (a, b) = (a.as_str().to_owned(), b.as_str().to_owned());
    let mut lab = Running {
        host: Some(
            Host::start_with(
                Options { io, busy_poll, ..Options::new(2) },
                vpclab_netns_tests::internet(),
            )
            .expect("forwarder starts"),
        ),
        model,
    };
    let host = lab.host.as_mut().unwrap();
    assert_eq!(host.packet_io(), io);
    host.sync(&lab.model).expect("instances set up");

    // Warm up: every path and lazily made thing (per-thread state, the hand-off
    // channels) gets used once before anything is counted.
    run_ok("ip", &["netns", "exec", &a, "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.77.2.10"]);
    let mut server = Command::new("ip")
        .args(["netns", "exec", &b, "iperf3", "-s", "-B", "10.77.2.10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    wait_until("iperf3 listening", Duration::from_secs(10), Duration::from_millis(100), || {
        let probe = "exec 3<>/dev/tcp/10.77.2.10/5201";
        run("ip", &["netns", "exec", &a, "bash", "-c", probe]).status.success().then_some(())
    });
    let before_counters = host.counters();

    // Spawned before the count starts (spawning allocates in this process); only
    // waited for while counting.
    let spawn = |args: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec", &a])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("traffic generator")
    };
    let mut flood = spawn(&["ping", "-f", "-q", "-c", "20000", "-W", "1", "10.77.2.10"]);
    let mut transfer = spawn(&["iperf3", "-c", "10.77.2.10", "-t", "2", "-P", "2"]);
    let before = ALLOC.snapshot();
    let flooded = flood.wait().expect("ping ran");
    let transferred = transfer.wait().expect("iperf3 ran");
    let delta = ALLOC.snapshot().since(&before);

    let after = host.counters();
    let _ = server.kill();
    let _ = server.wait();
    assert!(flooded.success(), "the flood got its replies");
    assert!(transferred.success(), "the transfer ran");
    let forwarded = after.tx_packets - before_counters.tx_packets;
    assert!(forwarded >= 40_000, "{io}: only {forwarded} packets forwarded");
    // The devices put every packet on the queue of the worker owning its flow (the
    // steering program): none had to be handed over.
    let handed = after.handed_off - before_counters.handed_off;
    assert_eq!(handed, 0, "{io}: {handed} packets read by a worker not owning them");
    assert_eq!(
        delta.allocations, 0,
        "{io}: {} allocations while forwarding {forwarded} packets",
        delta.allocations
    );
}
