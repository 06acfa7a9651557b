//! The HTTP server with raw requests: what botocore sends, and what it never should.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use vpclab_api::{Service, server};
use vpclab_model::Model;

fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn post(addr: std::net::SocketAddr, body: &[u8]) -> String {
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    exchange(addr, &request)
}

#[test]
fn requests_good_and_bad() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (addr, stop) = serving(&runtime);

    let ok = post(addr, b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.to_ascii_lowercase().contains("content-type: text/xml;charset=utf-8"), "{ok}");
    assert!(ok.contains("<CreateVpcResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"));
    // SDKs read the request id from the header; it is the one in the document.
    let header = ok
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-amzn-requestid: ").map(str::to_owned))
        .expect("an x-amzn-RequestId header");
    assert!(ok.contains(&format!("<requestId>{header}</requestId>")), "{ok}");

    // STS on the same endpoint: the account every OwnerId names.
    let sts = post(addr, b"Action=GetCallerIdentity&Version=2011-06-15");
    assert!(sts.starts_with("HTTP/1.1 200"), "{sts}");
    assert!(sts.contains("<Account>123456789012</Account>"), "{sts}");
    assert!(sts.contains("<Arn>arn:aws:iam::123456789012:root</Arn>"), "{sts}");
    assert!(sts.contains("xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\""), "{sts}");
    let owner = post(addr, b"Action=DescribeVpcs&Version=2016-11-15");
    assert!(owner.contains("<ownerId>123456789012</ownerId>"), "{owner}");
    let aliases = post(addr, b"Action=ListAccountAliases&Version=2010-05-08");
    assert!(
        aliases.starts_with("HTTP/1.1 200") && aliases.contains("<AccountAliases/>"),
        "{aliases}"
    );
    let user = post(addr, b"Action=GetUser&Version=2010-05-08");
    assert!(user.contains("<Arn>arn:aws:iam::123456789012:root</Arn>"), "{user}");
    let other = post(addr, b"Action=AssumeRole&Version=2011-06-15");
    assert!(other.starts_with("HTTP/1.1 400"), "{other}");
    assert!(
        other.contains("<ErrorResponse") && other.contains("<Code>InvalidAction</Code>"),
        "{other}"
    );

    let get = exchange(addr, format!("GET /?Action=DescribeVpcs&Version=2016-11-15 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes());
    assert!(get.starts_with("HTTP/1.1 200") && get.contains("<vpcSet><item>"), "{get}");

    for (body, code) in [
        (&b"Action=NoSuchThing"[..], "InvalidAction"),
        (b"", "MissingParameter"),
        (b"%%%&&&===", "MissingParameter"),
        (b"Action=CreateVpc&CidrBlock=999.0.0.0%2F16", "InvalidParameterValue"),
        (b"Action=CreateSubnet&VpcId=vpc-%00%ff&CidrBlock=10.0.0.0%2F24", "InvalidVpcID.Malformed"),
        (b"Action=DescribeVpcs&Action=DescribeVpcs", "InvalidParameterCombination"),
    ] {
        let reply = post(addr, body);
        assert!(reply.starts_with("HTTP/1.1 400"), "{body:?}: {reply}");
        assert!(reply.contains(&format!("<Code>{code}</Code>")), "{body:?}: {reply}");
    }

    let huge = vec![b'a'; server::MAX_BODY + 1];
    let reply = post(addr, &huge);
    assert!(reply.starts_with("HTTP/1.1 413"), "{}", &reply[..reply.len().min(200)]);

    // Still serving, state intact.
    let again = post(addr, b"Action=DescribeVpcs");
    assert_eq!(again.matches("<vpcId>").count(), 1, "{again}");
    let _ = stop.send(());
}

/// A server on a free port with a fresh service; the sender stops it.
fn serving(
    runtime: &tokio::runtime::Runtime,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let service = Arc::new(Mutex::new(Service::new(Model::new(1), None, None, 1)));
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, server::Site::api(service, None), async {
            let _ = rx.await;
        }));
        (addr, tx)
    })
}

/// Form bodies built from the API's own words, so that requests get past the first
/// checks and into the actions: action names, parameter names, and values of every kind.
fn form_body() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let action = prop::sample::select(vec![
        "CreateVpc",
        "DescribeVpcs",
        "CreateSubnet",
        "RunInstances",
        "AuthorizeSecurityGroupIngress",
        "CreateRoute",
        "DescribeInstances",
        "CreateNetworkAcl",
        "CreateNetworkAclEntry",
        "ModifyNetworkInterfaceAttribute",
        "CreateTags",
        "DeleteVpc",
        "NoSuchAction",
        "",
    ]);
    let name = prop::sample::select(vec![
        "CidrBlock",
        "VpcId",
        "SubnetId",
        "Filter.1.Name",
        "Filter.1.Value.1",
        "MaxResults",
        "NextToken",
        "IpPermissions.1.IpProtocol",
        "IpPermissions.1.FromPort",
        "IpPermissions.1.IpRanges.1.CidrIp",
        "TagSpecification.1.Tags.1.Key",
        "MinCount",
        "MaxCount",
        "ImageId",
        "RuleNumber",
        "Protocol",
        "PortRange.From",
        "ConnectionTrackingSpecification.UdpTimeout",
        "DryRun",
        "Action",
    ]);
    let value = prop_oneof![
        "[ -~]{0,40}",
        prop::sample::select(vec![
            "10.0.0.0/16",
            "0.0.0.0/0",
            "-1",
            "4294967296",
            "vpc-00000000",
            "*",
            "true",
            "%ff%fe",
            "\u{0}",
            "99999999999999999999",
        ])
        .prop_map(str::to_owned),
    ];
    (action, prop::collection::vec((name, value), 0..8), any::<bool>()).prop_map(
        |(action, pairs, raw)| {
            let mut body = form_urlencoded::Serializer::new(String::new());
            body.append_pair("Action", action);
            for (n, v) in &pairs {
                body.append_pair(n, v);
            }
            let mut body = body.finish().into_bytes();
            if raw {
                // Undecoded bytes too: stray percent signs, separators, high bytes.
                body.extend_from_slice(b"&%zz=%&==&\xff\xfe");
            }
            body
        },
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Whatever the body, the whole stack (HTTP, parsing, actions, model) answers with
    /// AWS's shapes and never a 500, and keeps answering.
    #[test]
    fn arbitrary_form_bodies_never_break_the_server(bodies in proptest::collection::vec(form_body(), 1..6)) {
        use proptest::prelude::*;
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (addr, stop) = serving(&runtime);
        for body in &bodies {
            let reply = post(addr, body);
            let status = reply.get(9..12).unwrap_or("");
            // 412 is AWS's answer to a DryRun that would have succeeded (DryRunOperation).
            prop_assert!(matches!(status, "200" | "400" | "412" | "413"), "{:?}: {}", String::from_utf8_lossy(body), reply);
            if status != "200" {
                prop_assert!(reply.contains("<Code>"), "{}", reply);
            }
        }
        let again = post(addr, b"Action=DescribeVpcs");
        prop_assert!(again.starts_with("HTTP/1.1 200"), "{}", again);
        let _ = stop.send(());
    }
}
