//! Gateway VPC endpoints with real packets: a private subnet reaches the emulated S3
//! only through its endpoint, keeping its private source address.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = include_str!("../../examples/gateway-endpoint.yaml");
const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(3);
const S3: &str = "http://192.0.2.1/";

#[test]
#[ignore = "needs root"]
fn a_private_subnet_reaches_s3_only_through_its_endpoint() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let aws = |args: &[&str]| lab.aws(args);

    assert_eq!(lab.curl("app", S3, T).as_deref(), Some("10.4.2.10\n"), "private source kept");
    assert_eq!(lab.curl("app", "http://198.51.100.1/", NEGATIVE), None, "no internet path");
    let web_public = aws(&[
        "describe-instances",
        "--filters",
        "Name=tag:Name,Values=web",
        "--query",
        "Reservations[0].Instances[0].PublicIpAddress",
        "--output",
        "text",
    ]);
    assert_eq!(
        lab.curl("web", S3, T),
        Some(format!("{web_public}\n")),
        "the public subnet has no endpoint route: through the internet gateway"
    );

    // The route the endpoint added, as the CLI shows it.
    let vpce = aws(&[
        "describe-vpc-endpoints",
        "--query",
        "VpcEndpoints[0].VpcEndpointId",
        "--output",
        "text",
    ]);
    let main = aws(&[
        "describe-route-tables",
        "--filters",
        "Name=association.main,Values=true",
        "--query",
        "RouteTables[0].RouteTableId",
        "--output",
        "text",
    ]);
    let route = aws(&[
        "describe-route-tables",
        "--route-table-ids",
        &main,
        "--query",
        "RouteTables[0].Routes[?DestinationPrefixListId=='pl-63a5400a'].GatewayId",
        "--output",
        "text",
    ]);
    assert_eq!(route, vpce);

    // Deleting the endpoint takes its route, and the path, with it.
    let unsuccessful = aws(&[
        "delete-vpc-endpoints",
        "--vpc-endpoint-ids",
        &vpce,
        "--query",
        "length(Unsuccessful)",
        "--output",
        "text",
    ]);
    assert_eq!(unsuccessful, "0");
    assert_eq!(lab.curl("app", S3, NEGATIVE), None, "no route to S3 without the endpoint");

    // The tutorial's way back: create-vpc-endpoint with the main table.
    let vpc = aws(&["describe-vpcs", "--query", "Vpcs[0].VpcId", "--output", "text"]);
    let state = aws(&[
        "create-vpc-endpoint",
        "--vpc-id",
        &vpc,
        "--service-name",
        "com.amazonaws.us-east-1.s3",
        "--route-table-ids",
        &main,
        "--query",
        "VpcEndpoint.State",
        "--output",
        "text",
    ]);
    assert_eq!(state, "available");
    assert_eq!(lab.curl("app", S3, T).as_deref(), Some("10.4.2.10\n"));
    lab.down();
}
