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
