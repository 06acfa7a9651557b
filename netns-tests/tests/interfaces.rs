//! Secondary network interfaces with real packets: CreateNetworkInterface and
//! AttachNetworkInterface give an instance an `eth1` in another subnet, which answers
//! there; DetachNetworkInterface takes it away again.

use std::time::Duration;

use vpclab_netns_tests::lab::Lab;
use vpclab_netns_tests::require_root;

const TOPOLOGY: &str = "
vpcs:
  - name: lab
    cidr: 10.0.0.0/16
    subnets:
      - { name: front, cidr: 10.0.1.0/24, zone: us-east-1a }
      - { name: back, cidr: 10.0.2.0/24, zone: us-east-1a }
instances:
  - { name: one, subnet: front, private_ip: 10.0.1.10 }
  - { name: two, subnet: back, private_ip: 10.0.2.10 }
";
const T: Duration = Duration::from_secs(10);
const NEGATIVE: Duration = Duration::from_secs(3);

#[test]
#[ignore = "needs root"]
fn an_attached_interface_is_an_eth1_that_answers_in_its_own_subnet() {
    require_root();
    let lab = Lab::up(TOPOLOGY);
    let back = lab.aws(&[
        "describe-subnets",
        "--filters",
        "Name=tag:Name,Values=back",
        "--query",
        "Subnets[0].SubnetId",
        "--output",
        "text",
    ]);
    let eni = lab.aws(&[
        "create-network-interface",
        "--subnet-id",
        &back,
        "--private-ip-address",
        "10.0.2.50",
        "--query",
        "NetworkInterface.NetworkInterfaceId",
        "--output",
        "text",
    ]);
    assert!(!lab.pings("two", "10.0.2.50", NEGATIVE), "a free interface answers nothing");
    let attachment = lab.aws(&[
        "attach-network-interface",
        "--network-interface-id",
        &eni,
        "--instance-id",
        lab.id("one"),
        "--device-index",
        "1",
        "--query",
        "AttachmentId",
        "--output",
        "text",
    ]);
    let addresses = lab.exec("one", &["ip", "-o", "-4", "addr", "show", "dev", "eth1"]);
    let addresses = String::from_utf8_lossy(&addresses.stdout);
    assert!(addresses.contains("10.0.2.50/24"), "eth1 holds the address: {addresses}");
    assert!(lab.pings("two", "10.0.2.50", T), "two reaches one's eth1 in its own subnet");
    // The classic multi-interface pitfall, as on AWS: one answers two's ping to its eth0
    // address by its connected route through eth1, from eth0's address — and the source/
    // destination check of eth1's interface drops it (policy routing would fix it).
    assert!(!lab.pings("two", "10.0.1.10", NEGATIVE), "asymmetric: the answer is dropped");
    let status = lab.vpclab(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("source_check"));

    lab.aws(&["detach-network-interface", "--attachment-id", &attachment]);
    let link = lab.exec("one", &["ip", "link", "show", "dev", "eth1"]);
    assert!(!link.status.success(), "eth1 left the instance");
    assert!(!lab.pings("two", "10.0.2.50", NEGATIVE), "nothing answers there any more");
    lab.down();
}
