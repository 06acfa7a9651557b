// The seed tutorial's network built with the AWS SDK for JavaScript v3, as a user would
// against real AWS: a VPC, a public and a private subnet in two zones (and five more, to
// page through), an internet gateway, a NAT gateway with an Elastic IP, two route tables,
// a security group and an instance in each subnet; the SDK's paginators, waiters and
// typed errors; then everything torn down again.
//
//   npm ci && VPCLAB_ENDPOINT=http://127.0.0.1:<port> AWS_ACCESS_KEY_ID=x \
//     AWS_SECRET_ACCESS_KEY=x node vpc.cjs
//
// (scripts/clients.sh runs `npm ci` into target/clients/js instead; the test then sets
// NODE_PATH=target/clients/js/node_modules.)
//
// Prints one `ok - …` or `not ok - …` line per check and carries on after a failed
// check; an API call that fails ends the run with `not ok - <step>: <error>`. Exits 1 if
// anything failed.
// netns-tests/tests/clients.rs runs it against a `vpclab serve` of its own.
"use strict";

const ec2 = require("@aws-sdk/client-ec2");

// VPCLAB_ENDPOINT must name the vpclab to use: no default, so a run never lands on a
// lab it was not meant for.
if (!process.env.VPCLAB_ENDPOINT) {
  console.error("not ok - set VPCLAB_ENDPOINT to the vpclab API to use");
  process.exit(1);
}
const client = new ec2.EC2Client({
  endpoint: process.env.VPCLAB_ENDPOINT,
  region: "us-east-1",
  maxAttempts: 1, // a failing request should show, not be retried
});
const send = (Command, input) => client.send(new Command(input));
const LAB = "vpclab-js";
// Waiters poll every 1-2 s (their defaults are 15 s) and give up after two minutes.
const WAIT = { client, maxWaitTime: 120, minDelay: 1, maxDelay: 2 };

let step = "start";
let failed = 0;
function ok(what) {
  console.log(`ok - ${what}`);
}
function check(cond, what) {
  if (cond) {
    ok(what);
  } else {
    console.log(`not ok - ${what}`);
    failed++;
  }
}
function tags(type, name) {
  return [{ ResourceType: type, Tags: [{ Key: "Name", Value: name }, { Key: "Lab", Value: LAB }] }];
}
async function all(paginator) {
  const pages = [];
  for await (const page of paginator) pages.push(page);
  return pages;
}

async function main() {
  step = "typed error for a VPC that does not exist";
  try {
    await send(ec2.DescribeVpcsCommand, { VpcIds: ["vpc-0123456789abcdef0"] });
    throw new Error("DescribeVpcs of a missing VPC succeeded");
  } catch (e) {
    if (!(e instanceof ec2.EC2ServiceException)) throw e;
    check(e.name === "InvalidVpcID.NotFound", `DescribeVpcs of a missing VPC throws ${e.name}`);
    check(e.$fault === "client" && e.$metadata.httpStatusCode === 400, "it is a client fault, HTTP 400");
    check(
      typeof e.$metadata.requestId === "string" && e.$metadata.requestId.length > 0,
      `its $metadata.requestId is set (${e.$metadata.requestId})`,
    );
    check(e.message.includes("vpc-0123456789abcdef0"), `its message names the VPC: ${e.message}`);
  }

  step = "VPC";
  const vpc = (await send(ec2.CreateVpcCommand, {
    CidrBlock: "10.0.0.0/16",
    TagSpecifications: tags("vpc", LAB),
  })).Vpc;
  check(/^vpc-[0-9a-f]{8,17}$/.test(vpc.VpcId), `created ${vpc.VpcId} (10.0.0.0/16)`);
  const created = await send(ec2.DescribeVpcsCommand, { VpcIds: [vpc.VpcId] });
  check(
    typeof created.$metadata.requestId === "string" && created.$metadata.requestId.length > 0,
    "a successful reply's $metadata.requestId is set",
  );
  await send(ec2.ModifyVpcAttributeCommand, { VpcId: vpc.VpcId, EnableDnsHostnames: { Value: true } });

  step = "availability zones";
  const zones = (await send(ec2.DescribeAvailabilityZonesCommand, {
    Filters: [{ Name: "state", Values: ["available"] }],
  })).AvailabilityZones.map((z) => z.ZoneName);
  check(zones.length >= 5 && zones[0] === "us-east-1a", `DescribeAvailabilityZones: ${zones.join(" ")}`);

  step = "subnets";
  const subnet = async (cidr, zone, name) =>
    (await send(ec2.CreateSubnetCommand, {
      VpcId: vpc.VpcId,
      CidrBlock: cidr,
      AvailabilityZone: zone,
      TagSpecifications: tags("subnet", name),
    })).Subnet.SubnetId;
  const pub = await subnet("10.0.1.0/24", zones[0], `${LAB}-public`);
  const priv = await subnet("10.0.2.0/24", zones[1], `${LAB}-private`);
  const extra = [];
  for (let i = 0; i < 5; i++) {
    extra.push(await subnet(`10.0.${10 + i}.0/24`, zones[i % zones.length], `${LAB}-extra-${i}`));
  }
  ok(`created 7 subnets (public ${pub}, private ${priv})`);
  await send(ec2.ModifySubnetAttributeCommand, { SubnetId: pub, MapPublicIpOnLaunch: { Value: true } });

  step = "typed error for a VPC that still has subnets";
  try {
    await send(ec2.DeleteVpcCommand, { VpcId: vpc.VpcId });
    throw new Error("DeleteVpc of a VPC with subnets succeeded");
  } catch (e) {
    if (!(e instanceof ec2.EC2ServiceException)) throw e;
    check(e.name === "DependencyViolation", `DeleteVpc with subnets in it throws ${e.name}`);
  }

  step = "paginators";
  // MaxResults is 5 at least for both (AWS's minimum), so 7 subnets take two pages.
  const subnetPages = await all(
    ec2.paginateDescribeSubnets(
      { client, pageSize: 5 },
      { Filters: [{ Name: "vpc-id", Values: [vpc.VpcId] }] },
    ),
  );
  const paged = subnetPages.flatMap((p) => p.Subnets);
  check(
    subnetPages.length >= 2 && subnetPages.every((p) => p.Subnets.length <= 5),
    `paginateDescribeSubnets with pageSize 5: ${subnetPages.length} pages of ${subnetPages.map((p) => p.Subnets.length).join("+")}`,
  );
  check(
    paged.length === 7 && new Set(paged.map((s) => s.SubnetId)).size === 7,
    "the pages hold the VPC's 7 subnets, each once",
  );
  const vpcPages = await all(ec2.paginateDescribeVpcs({ client, pageSize: 5 }, {}));
  const vpcs = vpcPages.flatMap((p) => p.Vpcs);
  check(
    vpcs.some((v) => v.VpcId === vpc.VpcId) && new Set(vpcs.map((v) => v.VpcId)).size === vpcs.length,
    `paginateDescribeVpcs with pageSize 5 lists ${vpcs.length} VPCs, ours among them, each once`,
  );
  const byCidr = await send(ec2.DescribeVpcsCommand, {
    Filters: [
      { Name: "cidr-block", Values: ["10.0.0.0/16"] },
      { Name: "tag:Lab", Values: [LAB] },
    ],
  });
  check(
    byCidr.Vpcs.length === 1 && byCidr.Vpcs[0].VpcId === vpc.VpcId,
    "DescribeVpcs filtered by cidr-block and tag:Lab finds it",
  );

  step = "internet gateway and public route table";
  const igw = (await send(ec2.CreateInternetGatewayCommand, {
    TagSpecifications: tags("internet-gateway", `${LAB}-igw`),
  })).InternetGateway.InternetGatewayId;
  await send(ec2.AttachInternetGatewayCommand, { InternetGatewayId: igw, VpcId: vpc.VpcId });
  const publicRtb = (await send(ec2.CreateRouteTableCommand, {
    VpcId: vpc.VpcId,
    TagSpecifications: tags("route-table", `${LAB}-public`),
  })).RouteTable.RouteTableId;
  await send(ec2.CreateRouteCommand, {
    RouteTableId: publicRtb,
    DestinationCidrBlock: "0.0.0.0/0",
    GatewayId: igw,
  });
  const publicAssoc = (await send(ec2.AssociateRouteTableCommand, {
    RouteTableId: publicRtb,
    SubnetId: pub,
  })).AssociationId;
  ok(`internet gateway ${igw} attached, ${publicRtb} routes 0.0.0.0/0 to it for ${pub}`);
  const used = (await send(ec2.DescribeRouteTablesCommand, {
    Filters: [{ Name: "association.subnet-id", Values: [pub] }],
  })).RouteTables;
  check(
    used.length === 1 &&
      used[0].RouteTableId === publicRtb &&
      used[0].Routes.some((r) => r.DestinationCidrBlock === "0.0.0.0/0" && r.GatewayId === igw),
    "DescribeRouteTables by association.subnet-id: the public subnet's table, with its route",
  );

  step = "NAT gateway";
  const eip = await send(ec2.AllocateAddressCommand, {
    Domain: "vpc",
    TagSpecifications: tags("elastic-ip", `${LAB}-nat`),
  });
  const nat = (await send(ec2.CreateNatGatewayCommand, {
    SubnetId: pub,
    AllocationId: eip.AllocationId,
    TagSpecifications: tags("natgateway", `${LAB}-nat`),
  })).NatGateway;
  ok(`created ${nat.NatGatewayId} (state ${nat.State}) with ${eip.PublicIp}`);
  const natWait = await ec2.waitUntilNatGatewayAvailable(WAIT, { NatGatewayIds: [nat.NatGatewayId] });
  check(natWait.state === "SUCCESS", "waitUntilNatGatewayAvailable: SUCCESS");
  const natNow = (await send(ec2.DescribeNatGatewaysCommand, { NatGatewayIds: [nat.NatGatewayId] }))
    .NatGateways[0];
  check(
    natNow.State === "available" && natNow.NatGatewayAddresses[0].PublicIp === eip.PublicIp,
    `it is available with ${eip.PublicIp}`,
  );
  check(
    (natNow.Tags || []).some((t) => t.Key === "Name" && t.Value === `${LAB}-nat`),
    "it carries the tags given at creation",
  );
  const privateRtb = (await send(ec2.CreateRouteTableCommand, {
    VpcId: vpc.VpcId,
    TagSpecifications: tags("route-table", `${LAB}-private`),
  })).RouteTable.RouteTableId;
  await send(ec2.CreateRouteCommand, {
    RouteTableId: privateRtb,
    DestinationCidrBlock: "0.0.0.0/0",
    NatGatewayId: nat.NatGatewayId,
  });
  const privateAssoc = (await send(ec2.AssociateRouteTableCommand, {
    RouteTableId: privateRtb,
    SubnetId: priv,
  })).AssociationId;
  ok(`${privateRtb} routes 0.0.0.0/0 to ${nat.NatGatewayId} for ${priv}`);

  step = "security group";
  const sg = (await send(ec2.CreateSecurityGroupCommand, {
    GroupName: `${LAB}-web`,
    Description: "SSH and HTTP from anywhere",
    VpcId: vpc.VpcId,
    TagSpecifications: tags("security-group", `${LAB}-web`),
  })).GroupId;
  const authorized = await send(ec2.AuthorizeSecurityGroupIngressCommand, {
    GroupId: sg,
    IpPermissions: [
      { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "ssh" }] },
      { IpProtocol: "tcp", FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "http" }] },
    ],
  });
  check(
    authorized.Return === true &&
      (authorized.SecurityGroupRules || []).length === 2 &&
      authorized.SecurityGroupRules.every((r) => /^sgr-/.test(r.SecurityGroupRuleId)),
    "AuthorizeSecurityGroupIngress returns the two new rules with sgr- ids",
  );
  const rules = (await send(ec2.DescribeSecurityGroupRulesCommand, {
    Filters: [{ Name: "group-id", Values: [sg] }],
  })).SecurityGroupRules;
  check(
    rules.filter((r) => !r.IsEgress).length === 2 && rules.filter((r) => r.IsEgress).length === 1,
    `DescribeSecurityGroupRules: ${sg} has 2 ingress rules and the default egress rule`,
  );

  step = "instances";
  const launch = async (subnetId, name) =>
    (await send(ec2.RunInstancesCommand, {
      ImageId: "ami-12345678",
      InstanceType: "t3.micro",
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetId,
      SecurityGroupIds: [sg],
      TagSpecifications: tags("instance", name),
    })).Instances[0].InstanceId;
  const web = await launch(pub, `${LAB}-web`);
  const app = await launch(priv, `${LAB}-app`);
  const running = await ec2.waitUntilInstanceRunning(WAIT, { InstanceIds: [web, app] });
  check(running.state === "SUCCESS", `waitUntilInstanceRunning ${web} ${app}: SUCCESS`);
  const statusOk = await ec2.waitUntilInstanceStatusOk(WAIT, { InstanceIds: [web, app] });
  check(statusOk.state === "SUCCESS", "waitUntilInstanceStatusOk: SUCCESS");
  const reservations = await all(
    ec2.paginateDescribeInstances(
      { client, pageSize: 5 },
      { Filters: [{ Name: "vpc-id", Values: [vpc.VpcId] }] },
    ),
  );
  const instances = reservations.flatMap((p) => p.Reservations.flatMap((r) => r.Instances));
  const webNow = instances.find((i) => i.InstanceId === web);
  const appNow = instances.find((i) => i.InstanceId === app);
  check(
    instances.length === 2 && webNow.State.Name === "running" && appNow.State.Name === "running",
    "paginateDescribeInstances: both running",
  );
  check(
    /^10\.0\.1\./.test(webNow.PrivateIpAddress) && Boolean(webNow.PublicIpAddress),
    `web ${webNow.PrivateIpAddress} has a public address ${webNow.PublicIpAddress}`,
  );
  check(
    /^10\.0\.2\./.test(appNow.PrivateIpAddress) && !appNow.PublicIpAddress,
    `app ${appNow.PrivateIpAddress} has none`,
  );

  step = "tags";
  await send(ec2.CreateTagsCommand, { Resources: [web, app], Tags: [{ Key: "Tier", Value: "lab" }] });
  const tagged = (await all(
    ec2.paginateDescribeTags(
      { client, pageSize: 5 },
      { Filters: [{ Name: "key", Values: ["Tier"] }, { Name: "resource-type", Values: ["instance"] }] },
    ),
  )).flatMap((p) => p.Tags);
  check(
    tagged.length === 2 && tagged.every((t) => [web, app].includes(t.ResourceId) && t.Value === "lab"),
    "CreateTags, then paginateDescribeTags by key and resource-type finds both instances",
  );
  await send(ec2.DeleteTagsCommand, { Resources: [web, app], Tags: [{ Key: "Tier" }] });

  step = "teardown";
  await send(ec2.TerminateInstancesCommand, { InstanceIds: [web, app] });
  const terminated = await ec2.waitUntilInstanceTerminated(WAIT, { InstanceIds: [web, app] });
  check(terminated.state === "SUCCESS", "waitUntilInstanceTerminated: SUCCESS");
  await send(ec2.DeleteSecurityGroupCommand, { GroupId: sg });
  await send(ec2.DisassociateRouteTableCommand, { AssociationId: privateAssoc });
  await send(ec2.DeleteRouteTableCommand, { RouteTableId: privateRtb });
  await send(ec2.DeleteNatGatewayCommand, { NatGatewayId: nat.NatGatewayId });
  const natGone = await ec2.waitUntilNatGatewayDeleted(WAIT, { NatGatewayIds: [nat.NatGatewayId] });
  check(natGone.state === "SUCCESS", "waitUntilNatGatewayDeleted: SUCCESS");
  await send(ec2.ReleaseAddressCommand, { AllocationId: eip.AllocationId });
  await send(ec2.DisassociateRouteTableCommand, { AssociationId: publicAssoc });
  await send(ec2.DeleteRouteTableCommand, { RouteTableId: publicRtb });
  await send(ec2.DetachInternetGatewayCommand, { InternetGatewayId: igw, VpcId: vpc.VpcId });
  await send(ec2.DeleteInternetGatewayCommand, { InternetGatewayId: igw });
  for (const s of [pub, priv, ...extra]) await send(ec2.DeleteSubnetCommand, { SubnetId: s });
  await send(ec2.DeleteVpcCommand, { VpcId: vpc.VpcId });
  ok("deleted everything in reverse order");

  step = "nothing left";
  const left = (await send(ec2.DescribeVpcsCommand, { Filters: [{ Name: "tag:Lab", Values: [LAB] }] })).Vpcs;
  const addresses = (await send(ec2.DescribeAddressesCommand, {})).Addresses;
  const gateways = (await send(ec2.DescribeInternetGatewaysCommand, {
    Filters: [{ Name: "tag:Lab", Values: [LAB] }],
  })).InternetGateways;
  check(
    left.length === 0 && addresses.length === 0 && gateways.length === 0,
    "no VPC, Elastic IP or internet gateway of the lab is left",
  );
  try {
    await send(ec2.DescribeVpcsCommand, { VpcIds: [vpc.VpcId] });
    throw new Error("the deleted VPC is still described");
  } catch (e) {
    if (!(e instanceof ec2.EC2ServiceException)) throw e;
    check(e.name === "InvalidVpcID.NotFound", `the deleted VPC is ${e.name}`);
  }
  if (failed === 0) console.log("all checks passed");
  else process.exitCode = 1;
}

main().catch((e) => {
  const meta = e.$metadata ? ` (HTTP ${e.$metadata.httpStatusCode}, requestId ${e.$metadata.requestId})` : "";
  console.log(`not ok - ${step}: ${e.name}: ${e.message}${meta}`);
  process.exitCode = 1;
});
