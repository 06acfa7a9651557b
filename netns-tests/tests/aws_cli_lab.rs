//! Labs built with the real `aws` CLI that carry real packets: the seed lab made only
//! through the API, and a topology file's lab as the API sees it. (They make
//! namespaces, so they run with the other namespace tests, one at a time.)

use std::time::Duration;

use vpclab_netns_tests::api::Api;
use vpclab_netns_tests::{require_root, run, wait_until};

const T: Duration = Duration::from_secs(10);

#[test]
#[ignore = "needs root and the test Python environment"]
fn the_seed_lab_built_with_the_aws_cli_carries_packets_and_survives_a_restart() {
    require_root();
    let mut api = Api::start(true);
    let vpc = api.text(&["create-vpc", "--cidr-block", "10.0.0.0/16"], "Vpc.VpcId");
    let public = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.1.0/24"],
        "Subnet.SubnetId",
    );
    let private = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.2.0/24"],
        "Subnet.SubnetId",
    );
    let igw = api.text(&["create-internet-gateway"], "InternetGateway.InternetGatewayId");
    api.text(&["attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc], "@");
    let rtb = api.text(&["create-route-table", "--vpc-id", &vpc], "RouteTable.RouteTableId");
    api.text(
        &[
            "create-route",
            "--route-table-id",
            &rtb,
            "--destination-cidr-block",
            "0.0.0.0/0",
            "--gateway-id",
            &igw,
        ],
        "Return",
    );
    api.text(
        &["associate-route-table", "--route-table-id", &rtb, "--subnet-id", &public],
        "AssociationId",
    );
    let allocation = api.text(&["allocate-address", "--domain", "vpc"], "AllocationId");
    let nat = api.text(
        &["create-nat-gateway", "--subnet-id", &public, "--allocation-id", &allocation],
        "NatGateway.NatGatewayId",
    );
    let nat_ip = api.text(
        &["describe-nat-gateways", "--nat-gateway-ids", &nat],
        "NatGateways[0].NatGatewayAddresses[0].PublicIp",
    );
    let private_rtb =
        api.text(&["create-route-table", "--vpc-id", &vpc], "RouteTable.RouteTableId");
    api.text(
        &[
            "create-route",
            "--route-table-id",
            &private_rtb,
            "--destination-cidr-block",
            "0.0.0.0/0",
            "--nat-gateway-id",
            &nat,
        ],
        "Return",
    );
    api.text(
        &["associate-route-table", "--route-table-id", &private_rtb, "--subnet-id", &private],
        "AssociationId",
    );
    let launch = |subnet: &str, public_ip: bool| {
        let mut args = vec![
            "run-instances",
            "--image-id",
            "ami-12345678",
            "--count",
            "1",
            "--subnet-id",
            subnet,
            "--user-data",
            "#!/bin/sh\necho from user data\n",
        ];
        if public_ip {
            args.push("--associate-public-ip-address");
        }
        api.text(&args, "Instances[0].[InstanceId,PrivateIpAddress,PublicIpAddress]")
    };
    let web = launch(&public, true);
    let app = launch(&private, false);
    let web: Vec<&str> = web.split_whitespace().collect();
    let app: Vec<&str> = app.split_whitespace().collect();
    let (web_id, web_ip, web_public) = (web[0].to_owned(), web[1].to_owned(), web[2].to_owned());
    let app_id = app[0].to_owned();

    let in_ns = |ns: &str, args: &[&str]| {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        run("ip", &full)
    };
    let curl = |ns: &str| {
        wait_until("check-ip to answer", T, Duration::from_millis(200), || {
            let out = in_ns(ns, &["curl", "-s", "-m", "2", "http://198.51.100.1/"]);
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
    };
    assert_eq!(curl(&web_id), web_public, "web is seen by its public IP");
    assert_eq!(curl(&app_id), nat_ip, "app is seen by the NAT's Elastic IP");
    assert!(
        in_ns(&app_id, &["ping", "-c", "1", "-W", "2", &web_ip]).status.success(),
        "private -> public"
    );
    // The user data the CLI sent (in base64) comes back whole from the metadata service.
    let user_data =
        in_ns(&app_id, &["curl", "-s", "-m", "5", "http://169.254.169.254/latest/user-data"]);
    assert_eq!(String::from_utf8_lossy(&user_data.stdout), "#!/bin/sh\necho from user data\n");

    // A process inside web, then a restart of the API and its data plane.
    let mut sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &web_id, "sleep", "600"])
        .spawn()
        .expect("a process in web");
    api.restart();
    assert!(
        sleeper.try_wait().expect("status").is_none(),
        "the process in web survived the restart"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_eq!(
        api.text(
            &["describe-instances", "--instance-ids", &app_id],
            "Reservations[0].Instances[0].PrivateIpAddress"
        ),
        app[1]
    );
    assert_eq!(curl(&app_id), nat_ip, "packets flow again after the restart");

    // Terminating removes the namespace.
    api.text(
        &["terminate-instances", "--instance-ids", &app_id],
        "TerminatingInstances[0].InstanceId",
    );
    assert!(!vpclab_netns_tests::namespaces().contains(&app_id));
}

#[test]
#[ignore = "needs root and the test Python environment"]
fn a_lab_from_a_topology_file_is_the_same_lab_the_api_sees() {
    require_root();
    let lab = vpclab_netns_tests::lab::Lab::up(include_str!("../../examples/two-tier.yaml"));
    let endpoint = lab.endpoint();
    let text = |args: &[&str], query: &str| {
        let mut full = args.to_vec();
        full.extend_from_slice(&["--output", "text", "--query", query]);
        let out = vpclab_netns_tests::api::aws(endpoint, &full);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let web = text(
        &["describe-instances", "--filters", "Name=tag:Name,Values=web"],
        "Reservations[0].Instances[0].InstanceId",
    );
    assert_eq!(web, lab.id("web"));
    let subnet = text(
        &["describe-subnets", "--filters", "Name=tag:Name,Values=private"],
        "Subnets[0].SubnetId",
    );
    // An instance launched through the API joins the lab for real.
    let launched = text(
        &["run-instances", "--image-id", "ami-1", "--count", "1", "--subnet-id", &subnet],
        "Instances[0].InstanceId",
    );
    assert!(vpclab_netns_tests::namespaces().contains(&launched));
    let ping = run("ip", &["netns", "exec", &launched, "ping", "-c", "1", "-W", "2", "10.0.1.10"]);
    assert!(ping.status.success(), "the new instance reaches web");
    // And `vpclab status` knows it.
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains(&launched));
    let ids = {
        let mut ids = lab.ids();
        ids.push(launched);
        ids
    };
    let state = lab.state().to_owned();
    lab.down();
    vpclab_netns_tests::lab::assert_nothing_left(&ids, &state);
}
