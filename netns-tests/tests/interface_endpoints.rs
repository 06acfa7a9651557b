//! Interface endpoints with real packets: a private subnet with no way out reaches an
//! AWS service through an endpoint's interface, over HTTPS that the instance's own
//! clients verify, the service sees the caller's private address, and the endpoint's
//! security group decides.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    dns_hostnames: true
    internet_gateway: true
    subnets:
      - { name: public, cidr: 10.0.1.0/24, route_table: public, map_public_ip_on_launch: true }
      - { name: private, cidr: 10.0.2.0/24 }
      - { name: endpoints, cidr: 10.0.3.0/24 }
    route_tables:
      - name: public
        routes: [{ destination: 0.0.0.0/0, target: internet-gateway }]
    security_groups:
      - name: endpoints
        ingress: [{ protocol: tcp, ports: 443, cidr: 10.0.0.0/16 }]
instances:
  - { name: web, subnet: public, private_ip: 10.0.1.10 }
  - { name: app, subnet: private, private_ip: 10.0.2.10 }
";
const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(4);
/// ssm's public endpoint on the emulated internet (its certificate names the address).
const SSM: &str = "https://198.51.100.136/";

#[test]
#[ignore = "needs root"]
fn a_private_subnet_reaches_ssm_through_an_interface_endpoint_as_itself() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let query = |args: &[&str]| lab.aws(args);
    let web_public = query(&[
        "describe-instances",
        "--instance-ids",
        lab.id("web"),
        "--query",
        "Reservations[0].Instances[0].PublicIpAddress",
        "--output",
        "text",
    ]);
    assert_eq!(lab.curl("web", SSM, T), Some(format!("{web_public}\n")), "ssm's public endpoint");
    assert_eq!(lab.curl("app", SSM, NEGATIVE), None, "the private subnet has no way out");

    let id_of = |what: &str, filter: &str, query_path: &str| {
        query(&[what, "--filters", filter, "--query", query_path, "--output", "text"])
    };
    let vpc = id_of("describe-vpcs", "Name=tag:Name,Values=lab", "Vpcs[0].VpcId");
    let subnet = id_of("describe-subnets", "Name=tag:Name,Values=endpoints", "Subnets[0].SubnetId");
    let group = id_of(
        "describe-security-groups",
        "Name=group-name,Values=endpoints",
        "SecurityGroups[0].GroupId",
    );
    let endpoint = query(&[
        "create-vpc-endpoint",
        "--vpc-endpoint-type",
        "Interface",
        "--vpc-id",
        &vpc,
        "--service-name",
        "com.amazonaws.us-east-1.ssm",
        "--subnet-ids",
        &subnet,
        "--security-group-ids",
        &group,
        "--query",
        "VpcEndpoint.VpcEndpointId",
        "--output",
        "text",
    ]);
    let address = id_of(
        "describe-network-interfaces",
        &format!("Name=description,Values=VPC Endpoint Interface {endpoint}"),
        "NetworkInterfaces[0].PrivateIpAddress",
    );
    assert!(address.starts_with("10.0.3."), "{address}");
    // The endpoint's group lets HTTPS in and nothing else.
    assert_eq!(lab.curl("app", &format!("http://{address}/"), NEGATIVE), None, "443 only");

    // DNS: the endpoint's own name from anywhere; with private DNS (on by default), the
    // service's name leads to the endpoint inside the VPC.
    let regional = query(&[
        "describe-vpc-endpoints",
        "--vpc-endpoint-ids",
        &endpoint,
        "--query",
        "VpcEndpoints[0].DnsEntries[0].DnsName",
        "--output",
        "text",
    ]);
    let resolved = lab.exec("web", &["getent", "hosts", &regional]);
    let resolved = String::from_utf8_lossy(&resolved.stdout);
    assert!(resolved.starts_with(&format!("{address} ")), "{regional}: {resolved}");
    let through = format!("https://{regional}/");
    assert_eq!(
        lab.curl("app", &through, T).as_deref(),
        Some("10.0.2.10\n"),
        "the service sees app's private address (and app trusts its certificate)"
    );
    let by_name = "https://ssm.us-east-1.amazonaws.com/";
    assert_eq!(lab.curl("app", by_name, T).as_deref(), Some("10.0.2.10\n"), "private DNS");
    assert_eq!(lab.curl("web", by_name, T).as_deref(), Some("10.0.1.10\n"), "the whole VPC");
    query(&["modify-vpc-endpoint", "--vpc-endpoint-id", &endpoint, "--no-private-dns-enabled"]);
    assert_eq!(lab.curl("app", by_name, NEGATIVE), None, "the public name: no way out");
    assert_eq!(lab.curl("web", by_name, T), Some(format!("{web_public}\n")), "through the IGW");

    // Without 443 in the endpoint's group, nothing gets in.
    query(&[
        "revoke-security-group-ingress",
        "--group-id",
        &group,
        "--protocol",
        "tcp",
        "--port",
        "443",
        "--cidr",
        "10.0.0.0/16",
    ]);
    assert_eq!(lab.curl("app", &through, NEGATIVE), None, "the endpoint's group decides");
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("sg_ingress"));
    lab.down();
}

#[test]
#[ignore = "needs root"]
fn an_instance_without_internet_calls_the_ec2_api_through_its_endpoint() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let aws_bin = vpclab_netns_tests::api::python_env().join("bin/aws");
    let aws_bin = aws_bin.to_str().expect("a UTF-8 path");
    let in_app = |args: &[&str]| {
        // The aws CLI as an instance has it: AWS's own endpoints, over HTTPS.
        let mut command = vec![
            "env",
            "-u",
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID=lab",
            "AWS_SECRET_ACCESS_KEY=lab",
            "AWS_DEFAULT_REGION=us-east-1",
            aws_bin,
            "--cli-connect-timeout",
            "3",
            "--cli-read-timeout",
            "5",
        ];
        command.extend_from_slice(args);
        lab.exec("app", &command)
    };
    let describe = ["ec2", "describe-instances", "--query", "length(Reservations)"];
    assert!(!in_app(&describe).status.success(), "no path to EC2 yet");

    let id_of = |what: &str, filter: &str, path: &str| {
        lab.aws(&[what, "--filters", filter, "--query", path, "--output", "text"])
    };
    let vpc = id_of("describe-vpcs", "Name=tag:Name,Values=lab", "Vpcs[0].VpcId");
    let subnet = id_of("describe-subnets", "Name=tag:Name,Values=endpoints", "Subnets[0].SubnetId");
    let group = id_of(
        "describe-security-groups",
        "Name=group-name,Values=endpoints",
        "SecurityGroups[0].GroupId",
    );
    for service in ["ec2", "sts"] {
        lab.aws(&[
            "create-vpc-endpoint",
            "--vpc-endpoint-type",
            "Interface",
            "--vpc-id",
            &vpc,
            "--service-name",
            &format!("com.amazonaws.us-east-1.{service}"),
            "--subnet-ids",
            &subnet,
            "--security-group-ids",
            &group,
        ]);
    }
    let out = in_app(&describe);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2", "web and app, seen from app");
    let out = in_app(&["sts", "get-caller-identity", "--query", "Account", "--output", "text"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "123456789012");
    lab.down();
}

/// An endpoint serves a peered VPC as on AWS: by the endpoint's own name (private DNS
/// is its VPC's only), and only while the endpoint's subnet has a route back.
const PEERED: &str = "
vpcs:
  - name: services
    cidr: 10.0.0.0/16
    dns_hostnames: true
    subnets: [{ name: endpoints, cidr: 10.0.3.0/24 }]
    route_tables:
      - name: main
        routes: [{ destination: 10.9.0.0/16, target: link }]
    security_groups:
      - name: endpoints
        ingress: [{ protocol: tcp, ports: 443, cidr: 10.0.0.0/8 }]
    endpoints:
      - { service: ssm, type: interface, subnets: [endpoints], security_groups: [endpoints] }
  - name: app
    cidr: 10.9.0.0/16
    subnets: [{ name: app, cidr: 10.9.1.0/24 }]
    route_tables:
      - name: main
        routes: [{ destination: 10.0.0.0/16, target: link }]
peerings:
  - { name: link, requester: app, accepter: services }
instances:
  - { name: caller, subnet: app, private_ip: 10.9.1.10 }
";

#[test]
#[ignore = "needs root"]
fn a_peered_vpc_reaches_an_endpoint_by_its_own_name_while_a_route_leads_back() {
    require_root();
    let lab = Lab::up(PEERED);
    let regional = lab.aws(&[
        "describe-vpc-endpoints",
        "--query",
        "VpcEndpoints[0].DnsEntries[0].DnsName",
        "--output",
        "text",
    ]);
    let url = format!("https://{regional}/");
    assert_eq!(
        lab.curl("caller", &url, T).as_deref(),
        Some("10.9.1.10\n"),
        "the service sees the peered caller's own address"
    );
    let public = lab.exec("caller", &["getent", "hosts", "ssm.us-east-1.amazonaws.com"]);
    let public = String::from_utf8_lossy(&public.stdout);
    assert!(public.starts_with("198.51.100.136 "), "private DNS is the endpoint VPC's: {public}");

    let vpc = lab.aws(&[
        "describe-vpcs",
        "--filters",
        "Name=tag:Name,Values=services",
        "--query",
        "Vpcs[0].VpcId",
        "--output",
        "text",
    ]);
    let table = lab.aws(&[
        "describe-route-tables",
        "--filters",
        &format!("Name=vpc-id,Values={vpc}"),
        "--query",
        "RouteTables[0].RouteTableId",
        "--output",
        "text",
    ]);
    lab.aws(&[
        "delete-route",
        "--route-table-id",
        &table,
        "--destination-cidr-block",
        "10.9.0.0/16",
    ]);
    assert_eq!(lab.curl("caller", &url, NEGATIVE), None, "no route back from the endpoint");
    lab.down();
}
