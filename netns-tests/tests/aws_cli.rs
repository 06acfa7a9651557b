//! The real `aws` CLI and boto3 against `vpclab serve`: the seed's CLI examples, AWS's
//! error codes, restarts, concurrency. API only: no test here makes a namespace (the
//! data plane is off), so scripts/test.sh runs this file beside the namespace tests.
//! The labs built through the CLI that carry packets are in `aws_cli_lab.rs`.

use vpclab_netns_tests::api::Api;

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn the_seed_cli_examples_replay_with_aws_replies_and_errors() {
    let api = Api::start(false);
    let vpc = api.text(&["create-vpc", "--cidr-block", "10.0.0.0/16"], "Vpc.VpcId");
    assert!(vpc.starts_with("vpc-"), "{vpc}");
    assert_eq!(api.text(&["describe-vpcs", "--vpc-ids", &vpc], "Vpcs[0].CidrBlock"), "10.0.0.0/16");
    api.fails_with(&["create-vpc", "--cidr-block", "10.0.0.0/8"], "InvalidVpc.Range");

    let subnet = api.text(
        &[
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.1.0/24",
            "--availability-zone",
            "us-east-1a",
        ],
        "Subnet.[SubnetId,AvailabilityZone,AvailableIpAddressCount]",
    );
    let fields: Vec<&str> = subnet.split_whitespace().collect();
    assert_eq!(&fields[1..], &["us-east-1a", "251"]);
    let public = fields[0].to_owned();
    let private = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.2.0/24"],
        "Subnet.SubnetId",
    );
    api.fails_with(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.1.0.0/24"],
        "InvalidSubnet.Range",
    );
    api.fails_with(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.1.128/25"],
        "InvalidSubnet.Conflict",
    );
    api.fails_with(
        &["create-subnet", "--vpc-id", "vpc-0123456789abcdef0", "--cidr-block", "10.0.3.0/24"],
        "InvalidVpcID.NotFound",
    );

    let igw = api.text(&["create-internet-gateway"], "InternetGateway.InternetGatewayId");
    assert!(
        api.aws(&["attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc])
            .status
            .success()
    );
    api.fails_with(
        &["attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc],
        "Resource.AlreadyAssociated",
    );

    let rtb = api.text(&["create-route-table", "--vpc-id", &vpc], "RouteTable.RouteTableId");
    let route = [
        "create-route",
        "--route-table-id",
        &rtb,
        "--destination-cidr-block",
        "0.0.0.0/0",
        "--gateway-id",
        &igw,
    ];
    assert_eq!(api.text(&route, "Return"), "True");
    api.fails_with(&route, "RouteAlreadyExists");
    api.fails_with(
        &["delete-route", "--route-table-id", &rtb, "--destination-cidr-block", "10.0.0.0/16"],
        "InvalidParameterValue",
    );
    let assoc = api.text(
        &["associate-route-table", "--route-table-id", &rtb, "--subnet-id", &public],
        "AssociationId",
    );
    assert!(assoc.starts_with("rtbassoc-"));
    api.fails_with(
        &["associate-route-table", "--route-table-id", &rtb, "--subnet-id", &public],
        "Resource.AlreadyAssociated",
    );
    assert!(
        api.aws(&["modify-subnet-attribute", "--subnet-id", &public, "--map-public-ip-on-launch"])
            .status
            .success()
    );

    let eip = api.text(&["allocate-address", "--domain", "vpc"], "[AllocationId,PublicIp]");
    let (allocation, public_ip) = eip.split_once('\t').expect("two fields");
    assert!(public_ip.starts_with("203.0.113."), "{public_ip}");
    let nat = api.text(
        &["create-nat-gateway", "--subnet-id", &public, "--allocation-id", allocation],
        "NatGateway.NatGatewayId",
    );
    assert!(nat.starts_with("nat-"));
    let private_rtb =
        api.text(&["create-route-table", "--vpc-id", &vpc], "RouteTable.RouteTableId");
    let via_nat = [
        "create-route",
        "--route-table-id",
        &private_rtb,
        "--destination-cidr-block",
        "0.0.0.0/0",
        "--nat-gateway-id",
        &nat,
    ];
    assert_eq!(api.text(&via_nat, "Return"), "True");

    let launched = api.text(
        &[
            "run-instances",
            "--image-id",
            "ami-0abcdef1234567890",
            "--count",
            "1",
            "--instance-type",
            "t2.micro",
            "--subnet-id",
            &public,
        ],
        "Instances[0].[InstanceId,State.Name,PublicIpAddress]",
    );
    let fields: Vec<&str> = launched.split_whitespace().collect();
    assert!(fields[0].starts_with("i-"));
    assert_eq!(fields[1], "pending", "a launch answers pending, as on AWS");
    assert!(fields[2].starts_with("203.0.113."), "MapPublicIpOnLaunch gave a public IP");
    let instance = fields[0].to_owned();
    let eni = api.text(
        &["describe-instances", "--instance-ids", &instance],
        "Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId",
    );
    assert!(eni.starts_with("eni-"));
    assert_eq!(
        api.text(
            &["describe-network-interfaces", "--network-interface-ids", &eni],
            "NetworkInterfaces[0].Attachment.InstanceId"
        ),
        instance
    );

    api.fails_with(&["delete-vpc", "--vpc-id", &vpc], "DependencyViolation");
    api.fails_with(
        &["detach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc],
        "DependencyViolation",
    );
    api.fails_with(
        &["describe-instances", "--instance-ids", "i-0123456789abcdef0"],
        "InvalidInstanceID.NotFound",
    );
    assert_eq!(
        api.text(
            &["terminate-instances", "--instance-ids", &instance],
            "TerminatingInstances[0].CurrentState.Name"
        ),
        "shutting-down",
        "a termination answers shutting-down, as on AWS"
    );
    // As on AWS, it stays listed as terminated (for an hour), so the CLI's waiter works,
    // and terminating it again is no error.
    let waited = api.aws(&["wait", "instance-terminated", "--instance-ids", &instance]);
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    let state_filter = "Name=instance-state-name,Values=terminated";
    assert_eq!(
        api.text(
            &["describe-instances", "--filters", state_filter],
            "Reservations[0].Instances[0].InstanceId"
        ),
        instance
    );
    assert_eq!(
        api.text(
            &["terminate-instances", "--instance-ids", &instance],
            "TerminatingInstances[0].PreviousState.Name"
        ),
        "terminated"
    );
    assert_eq!(
        api.text(
            &[
                "describe-prefix-lists",
                "--filters",
                "Name=prefix-list-name,Values=com.amazonaws.us-east-1.s3"
            ],
            "PrefixLists[0].Cidrs[0]"
        ),
        "192.0.2.0/25"
    );
    assert_eq!(api.text(&["describe-availability-zones"], "length(AvailabilityZones)"), "6");

    // Security groups: the default one exists and cannot go; rules are checked.
    let default_group = api.text(
        &[
            "describe-security-groups",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
            "Name=group-name,Values=default",
        ],
        "SecurityGroups[0].GroupId",
    );
    assert!(default_group.starts_with("sg-"));
    api.fails_with(&["delete-security-group", "--group-id", &default_group], "CannotDelete");
    let web = api.text(
        &["create-security-group", "--group-name", "web", "--description", "web", "--vpc-id", &vpc],
        "GroupId",
    );
    api.fails_with(
        &[
            "create-security-group",
            "--group-name",
            "web",
            "--description",
            "again",
            "--vpc-id",
            &vpc,
        ],
        "InvalidGroup.Duplicate",
    );
    let ssh = [
        "authorize-security-group-ingress",
        "--group-id",
        &web,
        "--protocol",
        "tcp",
        "--port",
        "22",
        "--cidr",
        "0.0.0.0/0",
    ];
    assert!(api.aws(&ssh).status.success());
    api.fails_with(&ssh, "InvalidPermission.Duplicate");
    api.fails_with(
        &[
            "revoke-security-group-ingress",
            "--group-id",
            &web,
            "--protocol",
            "tcp",
            "--port",
            "80",
            "--cidr",
            "0.0.0.0/0",
        ],
        "InvalidPermission.NotFound",
    );
    let grouped = api.text(
        &[
            "run-instances",
            "--image-id",
            "ami-1",
            "--subnet-id",
            &private,
            "--security-group-ids",
            &web,
        ],
        "Instances[0].SecurityGroups[0].GroupName",
    );
    assert_eq!(grouped, "web");
    api.fails_with(&["delete-security-group", "--group-id", &web], "DependencyViolation");

    // Network ACLs: the default one allows all; a custom one starts empty.
    let default_acl = api.text(
        &[
            "describe-network-acls",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
            "Name=default,Values=true",
        ],
        "NetworkAcls[0].NetworkAclId",
    );
    assert!(default_acl.starts_with("acl-"));
    let acl = api.text(&["create-network-acl", "--vpc-id", &vpc], "NetworkAcl.NetworkAclId");
    let entry = [
        "create-network-acl-entry",
        "--network-acl-id",
        &acl,
        "--ingress",
        "--rule-number",
        "100",
        "--protocol",
        "tcp",
        "--port-range",
        "From=22,To=22",
        "--cidr-block",
        "0.0.0.0/0",
        "--rule-action",
        "allow",
    ];
    assert!(api.aws(&entry).status.success());
    api.fails_with(&entry, "NetworkAclEntryAlreadyExists");
    let association = api.text(
        &[
            "describe-network-acls",
            "--filters",
            &format!("Name=association.subnet-id,Values={private}"),
        ],
        &format!(
            "NetworkAcls[0].Associations[?SubnetId=='{private}'].NetworkAclAssociationId | [0]"
        ),
    );
    assert!(
        api.text(
            &[
                "replace-network-acl-association",
                "--association-id",
                &association,
                "--network-acl-id",
                &acl
            ],
            "NewAssociationId"
        )
        .starts_with("aclassoc-")
    );
    api.fails_with(&["delete-network-acl", "--network-acl-id", &acl], "DependencyViolation");
}

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn boto3_works_unchanged_and_fifty_clients_at_once() {
    let api = Api::start(false);
    let out = api.boto3(
        r#"
import concurrent.futures, os, boto3, botocore
ec2 = boto3.client("ec2", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "boto"}]}])["Vpc"]
found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["bo*"]}])["Vpcs"]
assert [v["VpcId"] for v in found] == [vpc["VpcId"]], found
try:
    ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.8.0.0/24")
    raise SystemExit("no error")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidSubnet.Range", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
def make(i):
    c = boto3.client("ec2", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
    return c.create_subnet(VpcId=vpc["VpcId"], CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"]
with concurrent.futures.ThreadPoolExecutor(50) as pool:
    subnets = list(pool.map(make, range(50)))
listed = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
print(len(set(subnets)), len(listed))
"#,
    );
    assert_eq!(out.trim(), "50 50");
}

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn with_credentials_configured_signatures_are_checked() {
    let file = std::env::temp_dir().join(format!("vpclab-test-credentials-{}", std::process::id()));
    std::fs::write(&file, "# key:secret\nAKIDVPCLAB:s3cr3t\n").unwrap();
    let api = Api::start_with(false, &["--credentials", file.to_str().unwrap()]);
    let out = api.boto3(
        r#"
import os, boto3, botocore
def client(key, secret):
    return boto3.client("ec2", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
print(len(client("AKIDVPCLAB", "s3cr3t").describe_vpcs()["Vpcs"]))
for key, secret in [("AKIDVPCLAB", "wrong"), ("SOMEONE", "s3cr3t")]:
    try:
        client(key, secret).describe_vpcs()
        print("accepted")
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
"#,
    );
    let _ = std::fs::remove_file(&file);
    // One VPC: the default one a fresh account has.
    assert_eq!(out.trim(), "1\nAuthFailure 401\nAuthFailure 401");
}

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn key_pairs_images_default_vpc_and_status_as_tutorials_use_them() {
    // An empty region, as a lab may want it: no default VPC until one is made.
    let api = Api::start_with(false, &["--no-default-vpc"]);
    // The tutorials' `create-key-pair --query KeyMaterial --output text > key.pem`.
    let material = api.text(&["create-key-pair", "--key-name", "MyKeyPair"], "KeyMaterial");
    assert!(material.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{material}");
    assert!(material.trim_end().ends_with("-----END RSA PRIVATE KEY-----"));
    api.fails_with(&["create-key-pair", "--key-name", "MyKeyPair"], "InvalidKeyPair.Duplicate");
    let id = api.text(&["describe-key-pairs", "--key-names", "MyKeyPair"], "KeyPairs[0].KeyPairId");
    assert!(id.starts_with("key-"), "{id}");
    api.fails_with(&["describe-key-pairs", "--key-names", "nope"], "InvalidKeyPair.NotFound");

    let vpc = api.text(&["create-vpc", "--cidr-block", "10.6.0.0/16"], "Vpc.VpcId");
    let subnet = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.6.1.0/24"],
        "Subnet.SubnetId",
    );
    let launch = |key: &str| {
        vec![
            "run-instances",
            "--image-id",
            "ami-12345678",
            "--count",
            "1",
            "--instance-type",
            "t2.micro",
            "--key-name",
            key,
            "--subnet-id",
            subnet.as_str(),
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    api.fails_with(
        &launch("nope").iter().map(String::as_str).collect::<Vec<_>>(),
        "InvalidKeyPair.NotFound",
    );
    let instance = api.text(
        &launch("MyKeyPair").iter().map(String::as_str).collect::<Vec<_>>(),
        "Instances[0].InstanceId",
    );
    let key = api.text(
        &["describe-instances", "--instance-ids", &instance],
        "Reservations[0].Instances[0].KeyName",
    );
    assert_eq!(key, "MyKeyPair");

    // `aws ec2 wait instance-status-ok`: nothing boots, so the checks pass at once.
    let waited = api.aws(&["wait", "instance-status-ok", "--instance-ids", &instance]);
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    let status = api.text(
        &["describe-instance-status", "--instance-ids", &instance],
        "InstanceStatuses[0].[InstanceState.Name,InstanceStatus.Status,SystemStatus.Status]",
    );
    assert_eq!(status.split_whitespace().collect::<Vec<_>>(), ["running", "ok", "ok"]);

    // Deleting is idempotent, as on AWS.
    for _ in 0..2 {
        assert_eq!(api.text(&["delete-key-pair", "--key-name", "MyKeyPair"], "Return"), "True");
    }
    assert_eq!(api.text(&["describe-key-pairs"], "length(KeyPairs)"), "0");

    // The latest Amazon Linux 2023 image, the way tutorials look it up.
    let image = api.text(
        &[
            "describe-images",
            "--owners",
            "amazon",
            "--filters",
            "Name=name,Values=al2023-ami-2023*",
            "Name=architecture,Values=x86_64",
        ],
        "sort_by(Images, &CreationDate)[-1].ImageId",
    );
    assert!(image.starts_with("ami-"), "{image}");
    let gateways = api.text(
        &["describe-vpc-endpoint-services", "--filters", "Name=service-type,Values=Gateway"],
        "ServiceNames",
    );
    assert!(gateways.contains("com.amazonaws.us-east-1.s3"), "{gateways}");

    // No subnet named: the default VPC's, once there is one.
    let no_subnet = ["run-instances", "--image-id", image.as_str(), "--instance-type", "t2.micro"];
    api.fails_with(&no_subnet, "VPCIdNotSpecified");
    let default_vpc = api.text(&["create-default-vpc"], "Vpc.VpcId");
    let launched = api.text(&no_subnet, "Instances[0].VpcId");
    assert_eq!(launched, default_vpc);
}

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn a_fresh_account_its_identity_default_vpc_pages_and_lifecycle_states() {
    let mut api = Api::start_with(false, &["--pending-seconds", "2"]);
    // STS on the same endpoint names the account that owns everything.
    let out = std::process::Command::new(vpclab_netns_tests::api::python_env().join("bin/aws"))
        .args(["--endpoint-url", &api.endpoint, "--region", "us-east-1", "sts"])
        .args(["get-caller-identity", "--query", "Account", "--output", "text"])
        .env("AWS_ACCESS_KEY_ID", "vpclab")
        .env("AWS_SECRET_ACCESS_KEY", "vpclab")
        .output()
        .expect("run aws sts");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let account = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // A fresh state holds the default VPC: a /20 per zone, an internet gateway, the route.
    let default = api.text(
        &["describe-vpcs", "--filters", "Name=is-default,Values=true"],
        "Vpcs[0].[VpcId,CidrBlock,OwnerId]",
    );
    let default: Vec<&str> = default.split_whitespace().collect();
    assert_eq!(default[1..], ["172.31.0.0/16", account.as_str()]);
    let vpc = default[0].to_owned();
    let subnets = api.text(
        &[
            "describe-subnets",
            "--filters",
            &format!("Name=vpc-id,Values={vpc}"),
            "Name=default-for-az,Values=true",
        ],
        "length(Subnets)",
    );
    assert_eq!(subnets, "6");
    let igw = api.text(
        &[
            "describe-internet-gateways",
            "--filters",
            &format!("Name=attachment.vpc-id,Values={vpc}"),
        ],
        "InternetGateways[0].InternetGatewayId",
    );
    assert!(igw.starts_with("igw-"), "{igw}");

    // The CLI pages by itself: 3 pages of 5 give every subnet once.
    let mine = api.text(&["create-vpc", "--cidr-block", "10.7.0.0/16"], "Vpc.VpcId");
    for i in 0..9 {
        api.text(
            &["create-subnet", "--vpc-id", &mine, "--cidr-block", &format!("10.7.{i}.0/24")],
            "Subnet.SubnetId",
        );
    }
    // (The CLI applies --query to each page: one count per page.)
    let pages = api.text(&["describe-subnets", "--page-size", "5"], "length(Subnets)");
    assert_eq!(pages.split_whitespace().collect::<Vec<_>>(), ["5", "5", "5"]);
    let paged = api.text(&["describe-subnets", "--page-size", "5"], "Subnets[].SubnetId");
    let mut paged: Vec<&str> = paged.split_whitespace().collect();
    paged.sort_unstable();
    paged.dedup();
    assert_eq!(paged.len(), 15, "6 default subnets and 9 of mine, each once");
    // boto3's own paginator agrees, and a token vpclab did not give is refused.
    let out = api.boto3(
        r#"
import os, boto3, botocore
ec2 = boto3.client("ec2", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
pages = list(ec2.get_paginator("describe_subnets").paginate(PaginationConfig={"PageSize": 5}))
print(len(pages), sum(len(p["Subnets"]) for p in pages))
try:
    ec2.describe_subnets(MaxResults=5, NextToken="not-a-token")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
"#,
    );
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["3", "15", "InvalidParameterValue"]);

    // Launches answer `pending`; the waiters poll until `running`. One launch of two is
    // one reservation.
    let subnet = api.text(
        &["describe-subnets", "--filters", &format!("Name=vpc-id,Values={mine}")],
        "Subnets[0].SubnetId",
    );
    let launched = api.text(
        &["run-instances", "--image-id", "ami-1", "--count", "2", "--subnet-id", &subnet],
        "Instances[].State.Name",
    );
    assert_eq!(launched.split_whitespace().collect::<Vec<_>>(), ["pending", "pending"]);
    let reservations = api.text(&["describe-instances"], "Reservations[].length(Instances)");
    assert_eq!(reservations, "2");
    let ids = api.text(&["describe-instances"], "Reservations[0].Instances[].InstanceId");
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut wait = vec!["wait", "instance-running", "--instance-ids"];
    wait.extend(&ids);
    let waited = api.aws(&wait);
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    let states = api.text(&["describe-instances"], "Reservations[].Instances[].State.Name");
    assert_eq!(states.split_whitespace().collect::<Vec<_>>(), ["running", "running"]);

    // A NAT gateway: pending, then available; deleted, it stays listed as deleted.
    let public = api.text(
        &["describe-subnets", "--filters", &format!("Name=vpc-id,Values={vpc}")],
        "Subnets[0].SubnetId",
    );
    let eip = api.text(&["allocate-address", "--domain", "vpc"], "AllocationId");
    let created = api.text(
        &[
            "create-nat-gateway",
            "--subnet-id",
            &public,
            "--allocation-id",
            &eip,
            "--tag-specifications",
            "ResourceType=natgateway,Tags=[{Key=Name,Value=egress}]",
        ],
        "NatGateway.[NatGatewayId,State]",
    );
    let created: Vec<&str> = created.split_whitespace().collect();
    assert_eq!(created[1], "pending");
    let nat = created[0].to_owned();
    let waited = api.aws(&["wait", "nat-gateway-available", "--nat-gateway-ids", &nat]);
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    let tagged = api.text(
        &["describe-nat-gateways", "--filter", "Name=tag:Name,Values=egress"],
        "NatGateways[0].[NatGatewayId,State]",
    );
    assert_eq!(tagged.split_whitespace().collect::<Vec<_>>(), [nat.as_str(), "available"]);
    api.text(&["delete-nat-gateway", "--nat-gateway-id", &nat], "NatGatewayId");
    let waited = api.aws(&["wait", "nat-gateway-deleted", "--nat-gateway-ids", &nat]);
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    // Its Elastic IP is free again, and the gateway is still listed after a restart.
    api.text(&["release-address", "--allocation-id", &eip], "@");
    api.restart();
    let state =
        api.text(&["describe-nat-gateways", "--nat-gateway-ids", &nat], "NatGateways[0].State");
    assert_eq!(state, "deleted");
}

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn state_survives_a_restart() {
    let mut api = Api::start(false);
    let vpc = api.text(&["create-vpc", "--cidr-block", "10.4.0.0/16"], "Vpc.VpcId");
    let subnet = api.text(
        &["create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.4.1.0/24"],
        "Subnet.SubnetId",
    );
    api.restart();
    assert_eq!(api.text(&["describe-subnets", "--subnet-ids", &subnet], "Subnets[0].VpcId"), vpc);
    // Ids keep coming fresh after the restart.
    let again = api.text(&["create-vpc", "--cidr-block", "10.5.0.0/16"], "Vpc.VpcId");
    assert_ne!(again, vpc);
}

#[test]
#[ignore = "needs the test Python environment (scripts/test.sh)"]
fn replies_have_the_shapes_of_botocores_model() {
    // Every element of every reply is a member of the operation's output shape at its
    // place (netns-tests/clients/shapes.py walks a network touching every family).
    let api = Api::start(false);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/shapes.py");
    let out = std::process::Command::new(vpclab_netns_tests::api::python_env().join("bin/python"))
        .arg(script)
        .env("ENDPOINT", &api.endpoint)
        .env("AWS_ACCESS_KEY_ID", "vpclab")
        .env("AWS_SECRET_ACCESS_KEY", "vpclab")
        .output()
        .expect("run shapes.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(", 0 problems"), "{stdout}");
    let actions: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(actions >= 60, "the walk reached {actions} actions: {stdout}");
}
