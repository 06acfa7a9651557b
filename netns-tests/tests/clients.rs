//! Real clients against `vpclab serve`, unmodified, as users run them against AWS: an
//! Ansible playbook on the amazon.aws collection (netns-tests/clients/ansible) and a
//! script on the AWS SDK for JavaScript v3 (netns-tests/clients/js). Both build the seed
//! tutorial's network and tear it down; each test has its own server, port and state.
//!
//! `scripts/clients.sh` (run by `scripts/test.sh`) installs both: ansible into
//! `target/pyenv`, the SDK into `target/clients/js`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vpclab_netns_tests::api::{Api, python_env};

/// Every client run is bounded: `timeout` stops it (and kills it 10 s later).
const LIMIT_SECS: &str = "300";

/// `vpclab serve` for one client: new instances and NAT gateways stay `pending` (and
/// deleted NAT gateways `deleting`) for a few seconds, as on AWS, so that the clients'
/// waiters really wait.
fn serve() -> Api {
    Api::start_with(false, &["--pending-seconds", "3"])
}

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs `program args…` under `timeout`, with `env`, from `dir`; its output.
fn bounded(program: &Path, args: &[&str], dir: &Path, env: &[(&str, String)]) -> Output {
    let mut command = Command::new("timeout");
    command.args(["--kill-after=10", LIMIT_SECS]).arg(program).args(args).current_dir(dir);
    // AWS's documented example keys: Ansible masks the secret (no_log) wherever it occurs
    // in a module's result, so a short one such as "vpclab" would garble the lab's names.
    command
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_EC2");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `ansible-playbook <playbook>` against `api`; its output, which must show success.
fn playbook(api: &Api, playbook: &str) -> String {
    let ansible = python_env().join("bin/ansible-playbook");
    assert!(ansible.exists(), "{} is missing: run scripts/clients.sh", ansible.display());
    let dir = clients_dir().join("ansible");
    let home = api.state.with_extension("ansible");
    let path = format!(
        "{}:{}",
        python_env().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = bounded(
        &ansible,
        &[playbook],
        &dir,
        &[
            ("VPCLAB_ENDPOINT", api.endpoint.clone()),
            ("ANSIBLE_CONFIG", dir.join("ansible.cfg").display().to_string()),
            ("ANSIBLE_HOME", home.display().to_string()),
            ("ANSIBLE_LOCAL_TEMP", home.join("tmp").display().to_string()),
            ("ANSIBLE_NOCOLOR", "1".to_owned()),
            ("PATH", path),
        ],
    );
    let _ = std::fs::remove_dir_all(&home);
    let log = text(&out);
    assert!(out.status.success(), "ansible-playbook {playbook} failed ({}):\n{log}", out.status);
    log
}

/// The `changed=` count of the play recap's localhost line.
fn changed(log: &str) -> u32 {
    let recap = log
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .find(|l| l.starts_with("localhost"))
        .unwrap_or_else(|| panic!("no play recap in:\n{log}"));
    assert!(recap.contains(" failed=0 "), "{recap}");
    recap
        .split_whitespace()
        .find_map(|f| f.strip_prefix("changed="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no changed= in {recap}"))
}

/// Asserts that only what a fresh account holds is left: the default VPC (if any) and
/// its subnets, gateway, main route table, default security group and network ACL; no
/// Elastic IP, key pair, NAT gateway or running instance.
fn assert_only_defaults(api: &Api) {
    let checks: [(&[&str], &str); 9] = [
        (&["describe-vpcs"], "Vpcs[?!IsDefault].VpcId"),
        (&["describe-subnets"], "Subnets[?!DefaultForAz].SubnetId"),
        (&["describe-internet-gateways"], "InternetGateways[?!Attachments[0]].InternetGatewayId"),
        (
            &["describe-nat-gateways"],
            "NatGateways[?State != 'deleted' && State != 'deleting'].NatGatewayId",
        ),
        (&["describe-addresses"], "Addresses[].AllocationId"),
        (&["describe-key-pairs"], "KeyPairs[].KeyName"),
        (&["describe-security-groups"], "SecurityGroups[?GroupName != 'default'].GroupId"),
        (&["describe-route-tables"], "RouteTables[?!(Associations[?Main])].RouteTableId"),
        (
            &["describe-instances"],
            "Reservations[].Instances[?State.Name != 'terminated'][].InstanceId",
        ),
    ];
    for (args, query) in checks {
        assert_eq!(api.text(args, query), "", "left after the teardown: aws ec2 {}", args[0]);
    }
    // Nothing of the lab is left attached to a VPC that is gone either.
    let vpcs = api.text(&["describe-vpcs"], "Vpcs[].VpcId");
    let attached =
        api.text(&["describe-internet-gateways"], "InternetGateways[].Attachments[].VpcId");
    for vpc in attached.split_whitespace() {
        assert!(vpcs.split_whitespace().any(|v| v == vpc), "a gateway attached to {vpc}");
    }
}

#[test]
#[ignore = "needs ansible in the test Python environment (scripts/clients.sh)"]
fn ansible_builds_the_tutorial_network_idempotently_and_tears_it_down() {
    let api = serve();

    let first = playbook(&api, "site.yml");
    assert!(changed(&first) >= 10, "the first run creates everything:\n{first}");
    let second = playbook(&api, "site.yml");
    assert_eq!(changed(&second), 0, "the second run changes nothing:\n{second}");

    // What the playbook built, seen through the aws CLI.
    let vpc = api.text(
        &["describe-vpcs", "--filters", "Name=tag:Name,Values=vpclab-tutorial"],
        "Vpcs[].[VpcId,CidrBlock]",
    );
    let (vpc, cidr) = vpc.split_once('\t').unwrap_or_else(|| panic!("one VPC: {vpc}"));
    assert_eq!(cidr, "10.0.0.0/16");
    let in_vpc = format!("Name=vpc-id,Values={vpc}");
    assert_eq!(
        api.text(
            &["describe-subnets", "--filters", &in_vpc],
            "sort_by(Subnets, &CidrBlock)[].[CidrBlock,AvailabilityZone,MapPublicIpOnLaunch]"
        ),
        "10.0.1.0/24\tus-east-1a\tTrue\n10.0.2.0/24\tus-east-1b\tFalse"
    );
    let nat = api.text(
        &["describe-nat-gateways", "--filter", &in_vpc],
        "NatGateways[].[NatGatewayId,State]",
    );
    let (nat, state) = nat.split_once('\t').unwrap_or_else(|| panic!("one NAT gateway: {nat}"));
    assert_eq!(state, "available");
    let default_routes = api.text(
        &["describe-route-tables", "--filters", &in_vpc],
        "RouteTables[].Routes[?DestinationCidrBlock == '0.0.0.0/0'][].[GatewayId || NatGatewayId]",
    );
    let mut targets: Vec<&str> = default_routes.split_whitespace().collect();
    targets.sort_unstable();
    assert_eq!(targets.len(), 2, "{default_routes}");
    assert!(targets[0].starts_with("igw-") && targets[1] == nat, "{default_routes}");
    let group = |name: &str, query: &str| {
        api.text(
            &[
                "describe-security-groups",
                "--filters",
                &in_vpc,
                &format!("Name=group-name,Values={name}"),
            ],
            query,
        )
    };
    let ports =
        group("vpclab-tutorial-web", "SecurityGroups[0].IpPermissions[].[IpProtocol,FromPort]");
    assert_eq!(ports.lines().filter(|l| l.starts_with("tcp")).count(), 2, "ssh and http: {ports}");
    let web_group = group("vpclab-tutorial-web", "SecurityGroups[0].GroupId");
    assert_eq!(
        group(
            "vpclab-tutorial-app",
            "SecurityGroups[0].IpPermissions[].[FromPort,UserIdGroupPairs[0].GroupId]"
        ),
        format!("8080\t{web_group}"),
        "the app's group admits the web's"
    );
    let instances = api.text(
        &["describe-instances", "--filters", &in_vpc, "Name=instance-state-name,Values=running"],
        "Reservations[].Instances[].[Tags[?Key=='Name'].Value | [0], PublicIpAddress]",
    );
    let mut instances: Vec<&str> = instances.lines().collect();
    instances.sort_unstable();
    assert_eq!(instances.len(), 2, "{instances:?}");
    assert!(instances[0].starts_with("vpclab-tutorial-app\tNone"), "{instances:?}");
    assert!(instances[1].starts_with("vpclab-tutorial-web\t203.0.113."), "{instances:?}");

    let teardown = playbook(&api, "teardown.yml");
    assert!(changed(&teardown) >= 8, "{teardown}");
    assert_eq!(changed(&playbook(&api, "teardown.yml")), 0, "a second teardown changes nothing");
    assert_only_defaults(&api);
}

#[test]
#[ignore = "needs the AWS SDK for JavaScript in target/clients/js (scripts/clients.sh)"]
fn the_javascript_sdk_pages_waits_and_gets_typed_errors() {
    let modules =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/clients/js/node_modules");
    assert!(
        modules.join("@aws-sdk/client-ec2").exists(),
        "{} is missing: run scripts/clients.sh",
        modules.display()
    );
    let api = serve();
    let dir = clients_dir().join("js");
    let out = bounded(
        Path::new("node"),
        &["vpc.cjs"],
        &dir,
        &[("VPCLAB_ENDPOINT", api.endpoint.clone()), ("NODE_PATH", modules.display().to_string())],
    );
    let log = text(&out);
    assert!(out.status.success(), "node vpc.cjs failed ({}):\n{log}", out.status);
    assert!(!log.contains("not ok"), "{log}");
    for expected in [
        "ok - DescribeVpcs of a missing VPC throws InvalidVpcID.NotFound",
        "ok - its $metadata.requestId is set",
        "ok - paginateDescribeSubnets with pageSize 5: 2 pages of 5+2",
        "ok - the pages hold the VPC's 7 subnets, each once",
        "ok - DescribeVpcs filtered by cidr-block and tag:Lab finds it",
        "ok - waitUntilNatGatewayAvailable: SUCCESS",
        "ok - AuthorizeSecurityGroupIngress returns the two new rules with sgr- ids",
        "ok - waitUntilInstanceRunning",
        "ok - waitUntilInstanceTerminated: SUCCESS",
        "ok - waitUntilNatGatewayDeleted: SUCCESS",
        "ok - no VPC, Elastic IP or internet gateway of the lab is left",
        "all checks passed",
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }
    assert_only_defaults(&api);
}
