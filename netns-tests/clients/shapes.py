"""Checks vpclab's replies against botocore's EC2 model: every XML element of every reply
must be a member of the operation's output shape (at its place in the tree), so that no
field a client reads is misspelt or misplaced. botocore's parser skips what it does not
know without a word; this does not.

    ENDPOINT=http://127.0.0.1:PORT python shapes.py

Builds a small network touching every resource family, calls every action on the way and
every Describe after, and prints one line per element the model does not have; exits 1
if there is any.
"""
import os
import sys
import xml.etree.ElementTree as ET

import boto3
import botocore

endpoint = os.environ["ENDPOINT"]
ec2 = boto3.client(
    "ec2",
    endpoint_url=endpoint,
    region_name="us-east-1",
    config=botocore.config.Config(retries={"max_attempts": 1}),
)
model = ec2.meta.service_model
problems = []
checked = []


def local(tag):
    return tag.split("}", 1)[-1]


def walk(element, shape, path):
    """Checks `element` against `shape`."""
    if shape is None:
        return
    if shape.type_name == "structure":
        names = {}
        for name, member in shape.members.items():
            names[member.serialization.get("name", name)] = member
        for child in element:
            tag = local(child.tag)
            member = names.get(tag)
            if member is None:
                problems.append(f"{path}/{tag}: not in {shape.name}")
                continue
            walk(child, member, f"{path}/{tag}")
    elif shape.type_name == "list":
        item = shape.member.serialization.get("name", "item")
        for child in element:
            tag = local(child.tag)
            if tag != item:
                problems.append(f"{path}/{tag}: a list of {shape.name} holds <{item}>")
                continue
            walk(child, shape.member, f"{path}/{item}")
    elif len(element):
        problems.append(f"{path}: {shape.name} is a {shape.type_name}, not a structure")


def check(http_response, model, **_):
    name = model.name
    root = ET.fromstring(http_response.content)
    if local(root.tag) != f"{name}Response":
        return  # an error document: its shape is the protocol's
    checked.append(name)
    output = model.output_shape
    for child in root:
        tag = local(child.tag)
        # Every reply has its request id; an action without output answers
        # <return>true</return>, as EC2 does beside what botocore's model lists.
        if tag in ("requestId", "return"):
            continue
        member = None
        if output is not None:
            for mname, m in output.members.items():
                if m.serialization.get("name", mname) == tag:
                    member = m
        if member is None:
            problems.append(f"{name}/{tag}: not in {output.name if output else 'no output'}")
            continue
        walk(child, member, f"{name}/{tag}")


ec2.meta.events.register("after-call.ec2", check)


def call(action, **kwargs):
    return getattr(ec2, action)(**kwargs)


tag = lambda kind, name: [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]

vpc = call("create_vpc", CidrBlock="10.0.0.0/16", TagSpecifications=tag("vpc", "shapes"))["Vpc"]["VpcId"]
call("modify_vpc_attribute", VpcId=vpc, EnableDnsHostnames={"Value": True})
call("associate_vpc_cidr_block", VpcId=vpc, CidrBlock="100.64.0.0/16")
public = call("create_subnet", VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
private = call("create_subnet", VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
call("modify_subnet_attribute", SubnetId=public, MapPublicIpOnLaunch={"Value": True})
call("create_subnet_cidr_reservation", SubnetId=private, Cidr="10.0.2.0/28", ReservationType="explicit")
igw = call("create_internet_gateway")["InternetGateway"]["InternetGatewayId"]
call("attach_internet_gateway", InternetGatewayId=igw, VpcId=vpc)
rtb = call("create_route_table", VpcId=vpc)["RouteTable"]["RouteTableId"]
call("create_route", RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
call("associate_route_table", RouteTableId=rtb, SubnetId=public)
eip = call("allocate_address", Domain="vpc")["AllocationId"]
nat = call("create_nat_gateway", SubnetId=public, AllocationId=eip, TagSpecifications=tag("natgateway", "nat"))["NatGateway"]["NatGatewayId"]
pl = call("create_managed_prefix_list", PrefixListName="office", AddressFamily="IPv4", MaxEntries=5,
          Entries=[{"Cidr": "198.51.100.0/28", "Description": "hq"}])["PrefixList"]["PrefixListId"]
call("create_route", RouteTableId=rtb, DestinationPrefixListId=pl, GatewayId=igw)
sg = call("create_security_group", VpcId=vpc, GroupName="web", Description="web")["GroupId"]
call("authorize_security_group_ingress", GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": pl}]},
    {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": sg}]},
])
acl = call("create_network_acl", VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
call("create_network_acl_entry", NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow",
     Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 80, "To": 80})
dopt = call("create_dhcp_options", DhcpConfigurations=[{"Key": "domain-name", "Values": ["corp.example"]}])["DhcpOptions"]["DhcpOptionsId"]
call("associate_dhcp_options", DhcpOptionsId=dopt, VpcId=vpc)
call("create_key_pair", KeyName="shapes")
lt = call("create_launch_template", LaunchTemplateName="shapes", LaunchTemplateData={
    "ImageId": "ami-1", "InstanceType": "t3.micro", "SecurityGroupIds": [sg],
    "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "lt"}]}],
    "MetadataOptions": {"HttpTokens": "required"},
})["LaunchTemplate"]["LaunchTemplateId"]
call("create_launch_template_version", LaunchTemplateId=lt, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.small"})
instances = call("run_instances", ImageId="ami-1", MinCount=2, MaxCount=2, SubnetId=public, KeyName="shapes",
                 SecurityGroupIds=[sg], TagSpecifications=tag("instance", "web"))["Instances"]
call("run_instances", MinCount=1, MaxCount=1, SubnetId=private, LaunchTemplate={"LaunchTemplateId": lt})
instance = instances[0]["InstanceId"]
call("associate_address", AllocationId=call("allocate_address", Domain="vpc")["AllocationId"], InstanceId=instance)
eni = call("create_network_interface", SubnetId=private, Description="spare")["NetworkInterface"]["NetworkInterfaceId"]
other = call("create_vpc", CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
pcx = call("create_vpc_peering_connection", VpcId=vpc, PeerVpcId=other)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
call("accept_vpc_peering_connection", VpcPeeringConnectionId=pcx)
vpce = call("create_vpc_endpoint", VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rtb])["VpcEndpoint"]["VpcEndpointId"]
call("create_flow_logs", ResourceIds=[vpc], ResourceType="VPC", TrafficType="ALL",
     LogDestinationType="cloud-watch-logs", LogGroupName="shapes")
call("create_tags", Resources=[vpc], Tags=[{"Key": "team", "Value": "net"}])
# IPv6: a dual-stack VPC, its subnet, an egress-only gateway, IPv6 rules and addresses.
v6 = call("create_vpc", CidrBlock="10.2.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
v6_block = v6["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
v6_sub64 = v6_block.replace("00::/56", "01::/64")
v6_subnet = call("create_subnet", VpcId=v6["VpcId"], CidrBlock="10.2.1.0/24", Ipv6CidrBlock=v6_sub64)["Subnet"]["SubnetId"]
call("modify_subnet_attribute", SubnetId=v6_subnet, AssignIpv6AddressOnCreation={"Value": True})
v6_spare = call("create_subnet", VpcId=v6["VpcId"], CidrBlock="10.2.2.0/24")["Subnet"]["SubnetId"]
v6_assoc = call("associate_subnet_cidr_block", SubnetId=v6_spare,
                Ipv6CidrBlock=v6_block.replace("00::/56", "02::/64"))["Ipv6CidrBlockAssociation"]["AssociationId"]
call("disassociate_subnet_cidr_block", AssociationId=v6_assoc)
eigw = call("create_egress_only_internet_gateway", VpcId=v6["VpcId"])["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
v6_main = call("describe_route_tables", Filters=[{"Name": "vpc-id", "Values": [v6["VpcId"]]}])["RouteTables"][0]["RouteTableId"]
call("create_route", RouteTableId=v6_main, DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId=eigw)
v6_sg = call("create_security_group", VpcId=v6["VpcId"], GroupName="v6", Description="v6")["GroupId"]
call("authorize_security_group_ingress", GroupId=v6_sg, IpPermissions=[
    {"IpProtocol": "icmpv6", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "ping"}]}])
v6_acl = call("create_network_acl", VpcId=v6["VpcId"])["NetworkAcl"]["NetworkAclId"]
call("create_network_acl_entry", NetworkAclId=v6_acl, RuleNumber=100, Protocol="6", RuleAction="allow",
     Egress=False, Ipv6CidrBlock="::/0", PortRange={"From": 443, "To": 443})
v6_instance = call("run_instances", ImageId="ami-1", MinCount=1, MaxCount=1, SubnetId=v6_subnet,
                   Ipv6AddressCount=1)["Instances"][0]
v6_eni = v6_instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
added = call("assign_ipv6_addresses", NetworkInterfaceId=v6_eni, Ipv6AddressCount=1)["AssignedIpv6Addresses"]
call("unassign_ipv6_addresses", NetworkInterfaceId=v6_eni, Ipv6Addresses=added)

for action, kwargs in [
    ("describe_vpcs", {}), ("describe_subnets", {}), ("describe_internet_gateways", {}),
    ("describe_route_tables", {}), ("describe_nat_gateways", {}), ("describe_addresses", {}),
    ("describe_security_groups", {}), ("describe_security_group_rules", {}),
    ("describe_network_acls", {}), ("describe_instances", {}), ("describe_instance_status", {"IncludeAllInstances": True}),
    ("describe_network_interfaces", {}), ("describe_key_pairs", {}), ("describe_tags", {}),
    ("describe_vpc_peering_connections", {}), ("describe_vpc_endpoints", {}), ("describe_flow_logs", {}),
    ("describe_dhcp_options", {}), ("describe_managed_prefix_lists", {}), ("describe_prefix_lists", {}),
    ("get_managed_prefix_list_entries", {"PrefixListId": pl}),
    ("get_managed_prefix_list_associations", {"PrefixListId": pl}),
    ("describe_launch_templates", {}), ("describe_launch_template_versions", {"LaunchTemplateId": lt}),
    ("get_subnet_cidr_reservations", {"SubnetId": private}),
    ("describe_availability_zones", {}), ("describe_regions", {}), ("describe_images", {"Owners": ["amazon"]}),
    ("describe_vpc_endpoint_services", {}),
    ("describe_vpc_attribute", {"VpcId": vpc, "Attribute": "enableDnsHostnames"}),
    ("describe_instance_attribute", {"InstanceId": instance, "Attribute": "groupSet"}),
    ("describe_egress_only_internet_gateways", {}),
]:
    call(action, **kwargs)

call("terminate_instances", InstanceIds=[instance])
call("delete_nat_gateway", NatGatewayId=nat)
call("delete_vpc_endpoints", VpcEndpointIds=[vpce])
call("delete_network_interface", NetworkInterfaceId=eni)
call("delete_egress_only_internet_gateway", EgressOnlyInternetGatewayId=eigw)

for p in problems:
    print(p)
print(f"{len(set(checked))} actions, {len(checked)} replies checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
