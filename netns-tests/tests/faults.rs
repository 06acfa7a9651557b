//! Faults: the API server killed mid-write, and what survives it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::{require_root, run, wait_until};

/// One unsigned Query API call over raw HTTP; the status and body, or `None` if the
/// server did not answer (it was killed mid-call).
fn call(endpoint: &str, body: &str) -> Option<(u16, String)> {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let status = reply.get(9..12)?.parse().ok()?;
    Some((status, reply))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    Some(&text[start..start + text[start..].find(close)?])
}

fn ok(endpoint: &str, body: &str) -> String {
    match call(endpoint, body) {
        Some((200, reply)) => reply,
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
#[ignore = "needs root"]
fn a_killed_server_loses_no_acknowledged_write_and_packets_flow_after_restart() {
    require_root();
    let mut api = Api::start(true);
    let endpoint = api.endpoint.clone();
    let vpc = ok(&endpoint, "Action=CreateVpc&CidrBlock=10.7.0.0%2F16");
    let vpc = between(&vpc, "<vpcId>", "</vpcId>").expect("a VPC").to_owned();
    let subnet = ok(&endpoint, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.7.1.0%2F24"));
    let subnet = between(&subnet, "<subnetId>", "</subnetId>").expect("a subnet").to_owned();
    let run_one = |ip: &str| {
        let reply = ok(
            &endpoint,
            &format!(
                "Action=RunInstances&ImageId=ami-1&MinCount=1&MaxCount=1&SubnetId={subnet}\
                 &PrivateIpAddress={ip}"
            ),
        );
        between(&reply, "<instanceId>", "</instanceId>").expect("an instance").to_owned()
    };
    let (a, _b) = (run_one("10.7.1.10"), run_one("10.7.1.11"));
    let pings = |namespace: &str| {
        wait_until(
            "a ping between the instances",
            Duration::from_secs(15),
            Duration::from_millis(200),
            || {
                let out = run(
                    "ip",
                    &["netns", "exec", namespace, "ping", "-c", "1", "-W", "1", "10.7.1.11"],
                );
                out.status.success().then_some(())
            },
        )
    };
    pings(&a);

    // Four writers create security groups as fast as they are answered, noting each one
    // acknowledged; the server is killed while they write.
    let acknowledged = Mutex::new(Vec::<String>::new());
    let (stop, written) = (AtomicBool::new(false), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (acknowledged, stop, written, endpoint, vpc) =
                (&acknowledged, &stop, &written, &endpoint, &vpc);
            scope.spawn(move || {
                for n in 0..10_000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let name = format!("w{writer}-{n}");
                    let body = format!(
                        "Action=CreateSecurityGroup&VpcId={vpc}&GroupName={name}&GroupDescription=d"
                    );
                    match call(endpoint, &body) {
                        Some((200, _)) => {
                            acknowledged.lock().unwrap().push(name);
                            written.fetch_add(1, Ordering::Relaxed);
                        }
                        // Killed: nothing more will be acknowledged.
                        _ => return,
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while written.load(Ordering::Relaxed) < 40 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        api.kill();
        stop.store(true, Ordering::Relaxed);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() >= 40, "writes went on before the kill: {}", acknowledged.len());

    api.restart();
    let listed = ok(
        &api.endpoint,
        &format!("Action=DescribeSecurityGroups&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
    );
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !listed.contains(&format!("<groupName>{name}</groupName>")))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    // The data plane is back: the instances' namespaces survived, the forwarder re-attached.
    pings(&a);
    // Dropping the API runs `vpclab down`: the instances' namespaces go.
    drop(api);
}

/// A process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `vpclab serve --no-dataplane` on `state`, run inside the mount namespace of `holder`
/// (where the state directory is a small tmpfs); its endpoint, once it listens.
fn serve_in(holder: u32, state: &std::path::Path) -> (Killed, String) {
    let port = vpclab_netns_tests::free_port();
    let child = std::process::Command::new("nsenter")
        .args(["--target", &holder.to_string(), "--mount", "--"])
        .arg(vpclab_netns_tests::lab::binary())
        .arg("--state-dir")
        .arg(state)
        .args(["serve", "--no-dataplane", "--listen", &format!("127.0.0.1:{port}")])
        .env("VPCLAB_INTERNET_NETNS", vpclab_netns_tests::internet())
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("start vpclab serve");
    let child = Killed(child);
    wait_until(
        "vpclab serve to listen",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ()),
    );
    (child, format!("http://127.0.0.1:{port}"))
}

#[test]
#[ignore = "needs root"]
fn a_full_state_directory_refuses_writes_with_aws_errors_and_keeps_the_store() {
    require_root();
    // A mount namespace of the test's own, kept by a sleeping process, where the state
    // directory is a 2 MiB tmpfs: the host's mounts are never touched.
    let holder = Killed(
        std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "300"])
            .spawn()
            .expect("unshare"),
    );
    let pid = holder.0.id();
    let own = std::fs::read_link("/proc/self/ns/mnt").expect("my mount namespace");
    wait_until(
        "the private mount namespace",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let theirs = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()?;
            (theirs != own).then_some(())
        },
    );
    let state = std::env::temp_dir().join(format!("vpclab-test-fullfs-{}", std::process::id()));
    std::fs::create_dir_all(&state).expect("mount point");
    // Removed when the test ends, also when it fails. Seen from here it is an empty
    // directory: the tmpfs exists only in the holder's mount namespace and goes with it.
    struct Gone(std::path::PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(state.clone());
    let state_arg = state.to_str().expect("utf-8 path").to_owned();
    let inside = |args: &[&str]| {
        let mut all = vec!["--target".to_owned(), pid.to_string(), "--mount".into(), "--".into()];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        std::process::Command::new("nsenter").args(&all).output().expect("nsenter")
    };
    assert!(
        inside(&["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", &state_arg]).status.success()
    );

    let (server, endpoint) = serve_in(pid, &state);
    let vpcs = |endpoint: &str| {
        let listed = ok(endpoint, "Action=DescribeVpcs");
        listed.matches("<vpcId>").count()
    };
    let mut acknowledged = vpcs(&endpoint);
    // Fill the filesystem, then write until the store cannot commit.
    let filler = format!("{state_arg}/filler");
    inside(&["dd", "if=/dev/zero", &format!("of={filler}"), "bs=4k"]);
    let mut refusal = None;
    for n in 0..200 {
        match call(&endpoint, &format!("Action=CreateVpc&CidrBlock=10.{n}.0.0%2F16")) {
            Some((200, _)) => acknowledged += 1,
            Some((status, reply)) => {
                refusal =
                    Some((status, between(&reply, "<Code>", "</Code>").unwrap_or("").to_owned()));
                break;
            }
            None => panic!("no answer on a full disk"),
        }
    }
    let (status, code) = refusal.expect("a full filesystem refuses a write");
    assert!(
        matches!((status, code.as_str()), (500, "InternalError") | (503, "ServiceUnavailable")),
        "{status} {code}"
    );
    // Nothing half-done: reads answer, with the acknowledged state only.
    assert_eq!(vpcs(&endpoint), acknowledged);
    // Room again: writes work again, without a restart.
    inside(&["rm", "-f", &filler]);
    ok(&endpoint, "Action=CreateVpc&CidrBlock=10.250.0.0%2F16");
    acknowledged += 1;
    // And the store on disk holds exactly what was acknowledged.
    drop(server);
    let (_server, endpoint) = serve_in(pid, &state);
    assert_eq!(vpcs(&endpoint), acknowledged);
    drop(_server);
    drop(holder);
}

const TWO: &str = r#"
vpcs:
  - name: restart
    cidr: 10.5.0.0/16
    subnets:
      - name: one
        cidr: 10.5.1.0/24
      - name: two
        cidr: 10.5.2.0/24
instances:
  - name: a
    subnet: one
    private_ip: 10.5.1.10
  - name: b
    subnet: two
    private_ip: 10.5.2.10
"#;

#[test]
#[ignore = "needs root"]
fn a_restart_under_iperf3_traffic_resumes_it() {
    require_root();
    let lab = vpclab_netns_tests::lab::Lab::up(TWO);
    let in_ns = |name: &str, args: &[&str]| {
        let mut command = std::process::Command::new("ip");
        command.args(["netns", "exec", lab.id(name)]).args(args);
        command
    };
    let _server = Killed(
        in_ns("b", &["iperf3", "-s", "-1", "-B", "10.5.2.10"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("iperf3 server"),
    );
    wait_until("iperf3 listening", Duration::from_secs(10), Duration::from_millis(100), || {
        let out = lab.exec("b", &["ss", "-ltn"]);
        String::from_utf8_lossy(&out.stdout).contains("10.5.2.10:5201").then_some(())
    });
    let client = in_ns("a", &["iperf3", "-c", "10.5.2.10", "-t", "8", "-J"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("iperf3 client");
    let mut client = Killed(client);
    // Once data flows, restart the forwarder under it.
    wait_until("the transfer", Duration::from_secs(10), Duration::from_millis(100), || {
        let out = lab.exec("a", &["ss", "-tn", "state", "established", "dst", "10.5.2.10"]);
        (String::from_utf8_lossy(&out.stdout).lines().count() > 2).then_some(())
    });
    let restarted = lab.vpclab(&["restart"]);
    assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    let status = wait_until(
        "the transfer's end",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || client.0.try_wait().ok().flatten(),
    );
    let mut report = String::new();
    use std::io::Read as _;
    client.0.stdout.take().expect("stdout").read_to_string(&mut report).expect("iperf3's report");
    assert!(status.success(), "iperf3 failed: {report}");
    let json: serde_json::Value = serde_json::from_str(&report).expect("iperf3 JSON");
    let intervals = json["intervals"].as_array().expect("intervals");
    let last = intervals.last().expect("an interval")["sum"]["bytes"].as_u64().unwrap_or(0);
    assert!(last > 0, "nothing moved in the last second: the transfer did not resume");
    let received = json["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(received > 0, "{report}");
    lab.down();
}
