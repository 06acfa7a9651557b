//! The services the VPC answers itself, from inside instances with real tools: the
//! instance metadata service (IMDSv1 and v2, options changed through the aws CLI) and
//! the Amazon DNS server (private and public names, split horizon, DNS support off).

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::{api, require_root};

const TOPOLOGY: &str = include_str!("../../examples/two-tier.yaml");
const IMDS: &str = "http://169.254.169.254/latest";
const T: Duration = Duration::from_secs(10);

/// One value from `aws ec2 <command> <flag> <id> --query <query> --output text`.
fn one(lab: &Lab, command: &str, flag: &str, id: &str, query: &str) -> String {
    lab.aws(&[command, flag, id, "--query", query, "--output", "text"])
}

/// `aws ec2 describe-instances` of instance `name`, one `--query` value.
fn describe(lab: &Lab, name: &str, query: &str) -> String {
    let query = format!("Reservations[0].Instances[0].{query}");
    one(lab, "describe-instances", "--instance-ids", lab.id(name), &query)
}

/// `curl` from `name` with extra arguments: (HTTP status, body).
fn curl(lab: &Lab, name: &str, args: &[&str]) -> (u16, String) {
    let mut command = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}"];
    command.extend_from_slice(args);
    let out = lab.exec(name, &command);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn metadata(lab: &Lab, name: &str, path: &str) -> (u16, String) {
    curl(lab, name, &[&format!("{IMDS}/meta-data/{path}")])
}

#[test]
#[ignore = "needs root"]
fn the_metadata_service_answers_each_instance_with_its_own_values() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    // The first request may meet the service thread cold: wait for it.
    assert!(
        lab.curl("web", &format!("{IMDS}/meta-data/instance-id"), T).is_some(),
        "the metadata service answers"
    );

    for name in ["web", "app"] {
        let mac = describe(&lab, name, "NetworkInterfaces[0].MacAddress");
        let nic = format!("network/interfaces/macs/{mac}");
        let expected = [
            ("instance-id", lab.id(name).to_owned()),
            ("ami-id", describe(&lab, name, "ImageId")),
            ("instance-type", describe(&lab, name, "InstanceType")),
            ("local-ipv4", describe(&lab, name, "PrivateIpAddress")),
            ("mac", mac.clone()),
            ("hostname", describe(&lab, name, "PrivateDnsName")),
            ("local-hostname", describe(&lab, name, "PrivateDnsName")),
            ("placement/availability-zone", describe(&lab, name, "Placement.AvailabilityZone")),
            ("placement/region", "us-east-1".to_owned()),
            (&format!("{nic}/subnet-id"), describe(&lab, name, "SubnetId")),
            (&format!("{nic}/vpc-id"), describe(&lab, name, "VpcId")),
            (&format!("{nic}/local-ipv4s"), describe(&lab, name, "PrivateIpAddress")),
            (&format!("{nic}/security-group-ids"), {
                describe(&lab, name, "SecurityGroups[].GroupId")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            (&format!("{nic}/subnet-ipv4-cidr-block"), {
                let subnet = describe(&lab, name, "SubnetId");
                one(&lab, "describe-subnets", "--subnet-ids", &subnet, "Subnets[0].CidrBlock")
            }),
            (&format!("{nic}/vpc-ipv4-cidr-block"), {
                let vpc = describe(&lab, name, "VpcId");
                one(&lab, "describe-vpcs", "--vpc-ids", &vpc, "Vpcs[0].CidrBlock")
            }),
        ];
        for (path, value) in &expected {
            assert_eq!(metadata(&lab, name, path), (200, value.clone()), "{name}: {path}");
        }
    }
    // Public addresses: web has one (its Elastic IP), app none.
    let web_public = describe(&lab, "web", "PublicIpAddress");
    assert_eq!(metadata(&lab, "web", "public-ipv4"), (200, web_public.clone()));
    let web_mac = describe(&lab, "web", "NetworkInterfaces[0].MacAddress");
    let public_ipv4s = format!("network/interfaces/macs/{web_mac}/public-ipv4s");
    assert_eq!(metadata(&lab, "web", &public_ipv4s), (200, web_public));
    assert_eq!(metadata(&lab, "app", "public-ipv4").0, 404);
    let (code, listing) = metadata(&lab, "web", "");
    assert_eq!(code, 200);
    for entry in ["instance-id", "local-ipv4", "network/", "placement/"] {
        assert!(listing.lines().any(|l| l == entry), "{entry} in the listing:\n{listing}");
    }
    assert_eq!(metadata(&lab, "web", "no/such/path").0, 404);
    assert_eq!(metadata(&lab, "web", "tags/instance/Name").0, 404, "tags off by default");

    // IMDSv2: a token, then requests with it.
    let token_request = |lab: &Lab| {
        curl(
            lab,
            "web",
            &[
                "-X",
                "PUT",
                "-H",
                "X-aws-ec2-metadata-token-ttl-seconds: 300",
                &format!("{IMDS}/api/token"),
            ],
        )
    };
    let (code, token) = token_request(&lab);
    assert_eq!(code, 200);
    let with_token = format!("X-aws-ec2-metadata-token: {token}");
    let instance_id = format!("{IMDS}/meta-data/instance-id");
    assert_eq!(
        curl(&lab, "web", &["-H", &with_token, &instance_id]),
        (200, lab.id("web").to_owned())
    );
    assert_eq!(curl(&lab, "web", &["-H", "X-aws-ec2-metadata-token: forged", &instance_id]).0, 401);
    assert_eq!(
        curl(&lab, "app", &["-H", &with_token, &instance_id]).0,
        401,
        "web's token, not app's"
    );

    // Tokens required: IMDSv1 gets 401, v2 still works; the API shows the option.
    let web = lab.id("web").to_owned();
    lab.aws(&[
        "modify-instance-metadata-options",
        "--instance-id",
        &web,
        "--http-tokens",
        "required",
    ]);
    assert_eq!(describe(&lab, "web", "MetadataOptions.HttpTokens"), "required");
    assert_eq!(curl(&lab, "web", &[&instance_id]).0, 401);
    assert_eq!(curl(&lab, "web", &["-H", &with_token, &instance_id]).0, 200);
    assert_eq!(curl(&lab, "app", &[&instance_id]).0, 200, "app still takes IMDSv1");

    // Instance tags in the metadata, when enabled.
    lab.aws(&[
        "modify-instance-metadata-options",
        "--instance-id",
        &web,
        "--instance-metadata-tags",
        "enabled",
    ]);
    let tag =
        curl(&lab, "web", &["-H", &with_token, &format!("{IMDS}/meta-data/tags/instance/Name")]);
    assert_eq!(tag, (200, "web".to_owned()));

    // The endpoint switched off: 403.
    lab.aws(&[
        "modify-instance-metadata-options",
        "--instance-id",
        &web,
        "--http-endpoint",
        "disabled",
    ]);
    assert_eq!(curl(&lab, "web", &["-H", &with_token, &instance_id]).0, 403);
    assert_eq!(token_request(&lab).0, 403);
    lab.down();
}

/// Resolves `host` from `name` with the system resolver (`getent`, through the
/// namespace's /etc/resolv.conf); `None` when it does not resolve.
fn resolve(lab: &Lab, name: &str, host: &str) -> Option<String> {
    let out = lab.exec(name, &["getent", "ahostsv4", host]);
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success().then(|| text.split_whitespace().next().unwrap_or_default().to_owned())
}

/// One DNS query from `name` to `server` over UDP or TCP with Python's sockets: the
/// first A record's address, "NXDOMAIN", or "no answer" (nothing within 2 s).
fn query(lab: &Lab, name: &str, server: &str, host: &str, tcp: bool) -> String {
    let program = format!(
        r#"
import socket, struct
q = struct.pack(">HHHHHH", 0x2a2a, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "{host}".split(".")) + b"\0" + struct.pack(">HH", 1, 1)
try:
    if {tcp}:
        s = socket.create_connection(("{server}", 53), timeout=2)
        s.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", s.recv(2))[0]
        r = b""
        while len(r) < n:
            r += s.recv(n - len(r))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(q, ("{server}", 53))
        r = s.recv(512)
except OSError:
    print("no answer"); raise SystemExit
assert r[:2] == b"\x2a\x2a"
if r[3] & 15 == 3:
    print("NXDOMAIN")
elif struct.unpack(">H", r[6:8])[0] == 0:
    print("no data")
else:
    print(".".join(str(b) for b in r[-4:]))
"#,
        tcp = if tcp { "True" } else { "False" },
    );
    let out = lab.exec(name, &["python3", "-c", &program]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
#[ignore = "needs root"]
fn amazon_dns_resolves_private_and_public_names_with_a_split_horizon() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let app_ip = describe(&lab, "app", "PrivateIpAddress");
    let app_name = describe(&lab, "app", "PrivateDnsName");
    let web_public = describe(&lab, "web", "PublicIpAddress");
    let lab_vpc = describe(&lab, "web", "VpcId");

    // The namespace's resolv.conf names the VPC's base + 2.
    let conf = lab.exec("web", &["cat", "/etc/resolv.conf"]);
    assert!(String::from_utf8_lossy(&conf.stdout).contains("nameserver 10.0.0.2"));

    // Private names: inside the VPC only.
    assert_eq!(resolve(&lab, "web", &app_name).as_deref(), Some(app_ip.as_str()));
    assert_eq!(
        query(&lab, "web", "169.254.169.253", &app_name, false),
        app_ip,
        "the link-local address too"
    );
    assert_eq!(query(&lab, "web", "10.0.0.2", &app_name, true), app_ip, "and over TCP");
    assert_eq!(query(&lab, "loner", "10.1.0.2", &app_name, false), "NXDOMAIN", "another VPC");

    // Public names exist once the VPC has DNS hostnames, with a split horizon.
    let public_name = format!("ec2-{}.compute-1.amazonaws.com", web_public.replace('.', "-"));
    assert_eq!(query(&lab, "web", "10.0.0.2", &public_name, false), "NXDOMAIN");
    assert_eq!(describe(&lab, "web", "PublicDnsName"), "");
    lab.aws(&[
        "modify-vpc-attribute",
        "--vpc-id",
        &lab_vpc,
        "--enable-dns-hostnames",
        "{\"Value\":true}",
    ]);
    let attribute = lab.aws(&[
        "describe-vpc-attribute",
        "--vpc-id",
        &lab_vpc,
        "--attribute",
        "enableDnsHostnames",
        "--query",
        "EnableDnsHostnames.Value",
        "--output",
        "text",
    ]);
    assert_eq!(attribute, "True");
    assert_eq!(describe(&lab, "web", "PublicDnsName"), public_name);
    assert_eq!(resolve(&lab, "app", &public_name).as_deref(), Some("10.0.1.10"), "inside: private");
    assert_eq!(resolve(&lab, "loner", &public_name), Some(web_public.clone()), "outside: public");

    // The emulated internet's names, end to end: check-ip by name sees web's address.
    assert_eq!(resolve(&lab, "web", "checkip.amazonaws.com").as_deref(), Some("198.51.100.1"));
    assert_eq!(
        lab.curl("web", "http://checkip.amazonaws.com/", T),
        Some(format!("{web_public}\n"))
    );
    assert_eq!(query(&lab, "web", "10.0.0.2", "s3.us-east-1.amazonaws.com", false), "192.0.2.1");
    assert_eq!(query(&lab, "web", "10.0.0.2", "example.com", false), "NXDOMAIN", "nothing else");
    assert_eq!(resolve(&lab, "web", "example.com"), None);

    // DHCP options: a domain of one's own reaches the instances' resolver at once, and
    // short names resolve in it through Amazon DNS; without options, no name server.
    let set = lab.aws(&[
        "create-dhcp-options",
        "--dhcp-configurations",
        "Key=domain-name,Values=ec2.internal",
        "Key=domain-name-servers,Values=AmazonProvidedDNS,169.254.169.253",
        "--query",
        "DhcpOptions.DhcpOptionsId",
        "--output",
        "text",
    ]);
    lab.aws(&["associate-dhcp-options", "--dhcp-options-id", &set, "--vpc-id", &lab_vpc]);
    let resolv = |name: &str| {
        String::from_utf8_lossy(&lab.exec(name, &["cat", "/etc/resolv.conf"]).stdout).into_owned()
    };
    let conf = resolv("web");
    assert!(conf.contains("nameserver 10.0.0.2\nnameserver 169.254.169.253\n"), "{conf}");
    assert!(resolv("loner").contains("from the DHCP options dopt-00000000000000000"), "other VPC");
    let short = app_name.trim_end_matches(".ec2.internal").to_owned();
    assert!(resolve(&lab, "web", &short).is_some(), "{short} in the search domain");
    lab.aws(&["associate-dhcp-options", "--dhcp-options-id", "default", "--vpc-id", &lab_vpc]);
    assert!(!resolv("web").contains("nameserver"), "no options, no name servers");
    assert_eq!(resolve(&lab, "web", &app_name), None);
    lab.aws(&[
        "associate-dhcp-options",
        "--dhcp-options-id",
        "dopt-00000000000000000",
        "--vpc-id",
        &lab_vpc,
    ]);
    assert!(resolv("web").contains("search ec2.internal"));

    // Both attributes at once: refused, as AWS does.
    let both = api::aws(
        lab.endpoint(),
        &[
            "modify-vpc-attribute",
            "--vpc-id",
            &lab_vpc,
            "--enable-dns-support",
            "{\"Value\":true}",
            "--enable-dns-hostnames",
            "{\"Value\":true}",
        ],
    );
    assert!(String::from_utf8_lossy(&both.stderr).contains("InvalidParameterCombination"));

    // DNS support off: no answers at all, on either address.
    lab.aws(&["modify-vpc-attribute", "--vpc-id", &lab_vpc, "--no-enable-dns-support"]);
    assert_eq!(query(&lab, "web", "10.0.0.2", &app_name, false), "no answer");
    assert_eq!(query(&lab, "web", "169.254.169.253", "checkip.amazonaws.com", false), "no answer");
    assert_eq!(
        query(&lab, "loner", "10.1.0.2", "checkip.amazonaws.com", false),
        "198.51.100.1",
        "other VPCs unaffected"
    );
    lab.down();
}
