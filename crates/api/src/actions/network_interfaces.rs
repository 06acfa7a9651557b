//! Network interfaces: instances' primary ones, NAT gateways', transit gateways', and
//! one's own.

use super::security_groups::write_group_ref;
use super::*;

/// An interface DescribeNetworkInterfaces lists.
#[derive(Clone, Copy)]
enum Eni<'a> {
    /// An instance's primary interface.
    Instance(&'a Instance),
    /// A NAT gateway's (requester-managed).
    Nat(&'a NatGateway),
    /// A transit gateway's in one subnet of a VPC attachment (requester-managed).
    Tgw(&'a vpclab_model::TgwAttachment, &'a VpcId, &'a vpclab_model::ManagedInterface),
    /// An interface endpoint's in one of its subnets (requester-managed).
    Endpoint(&'a VpcEndpoint, &'a vpclab_model::ManagedInterface),
    /// One of one's own, free or attached to the instance given.
    Own(&'a vpclab_model::NetworkInterface, Option<&'a Instance>),
}

/// The `requesterId` of an interface endpoint's interfaces: the one AWS shows in its
/// EC2 User Guide's example of one ("Requester-managed network interfaces"): the
/// service's account, not the owner's.
const ENDPOINT_REQUESTER_ID: &str = "727180483921";

/// The `requesterId` vpclab shows for a transit gateway attachment's interfaces: a
/// placeholder of its own (AWS's is a principal of its transit gateway service that its
/// documentation does not give).
const TGW_REQUESTER_ID: &str = "amazon-transit-gateway";

/// What any interface is, whichever kind: what its description and filters read.
struct View<'a> {
    id: String,
    subnet: &'a SubnetId,
    vpc: &'a VpcId,
    private: Option<Ipv4Addr>,
    ipv6: &'a [std::net::Ipv6Addr],
    public: Option<Ipv4Addr>,
    kind: &'static str,
    managed: bool,
    /// Who made a requester-managed interface, as AWS's `requesterId` names it.
    requester: Option<&'static str>,
    groups: &'a [SecurityGroupId],
    description: String,
    tags: Option<&'a Tags>,
    status: &'static str,
    attachment: Option<Attached<'a>>,
    tracking: Option<ConnectionTracking>,
    source_dest_check: bool,
}

/// An interface's attachment to an instance.
struct Attached<'a> {
    id: String,
    instance: &'a Instance,
    device_index: u32,
    attached_at: u64,
    /// Only the interface launched with the instance goes with it.
    delete_on_termination: bool,
}

impl<'a> Eni<'a> {
    fn id(&self) -> String {
        self.view().id
    }

    fn view(&self) -> View<'a> {
        match *self {
            Eni::Instance(i) => View {
                id: i.interface.to_string(),
                subnet: &i.subnet,
                vpc: &i.vpc,
                private: i.private_ip,
                ipv6: &i.ipv6_addresses,
                public: i.public_ip.as_ref().map(|(ip, _)| *ip),
                kind: "interface",
                managed: false,
                requester: None,
                groups: &i.security_groups,
                description: String::new(),
                tags: None,
                status: "in-use",
                attachment: Some(Attached {
                    id: derived("eni-attach", i.interface.as_str()),
                    instance: i,
                    device_index: 0,
                    attached_at: i.launched_at,
                    delete_on_termination: true,
                }),
                tracking: i.connection_tracking,
                source_dest_check: i.source_dest_check,
            },
            Eni::Nat(n) => View {
                id: derived("eni", n.id.as_str()),
                subnet: &n.subnet,
                vpc: &n.vpc,
                private: Some(n.private_ip),
                ipv6: &[],
                public: n.public.as_ref().map(|p| p.public_ip),
                kind: "nat_gateway",
                managed: true,
                requester: None,
                groups: &[],
                description: "Interface for NAT Gateway".to_owned(),
                tags: None,
                status: "in-use",
                attachment: None,
                tracking: None,
                source_dest_check: false,
            },
            Eni::Tgw(a, vpc, s) => View {
                id: s.interface.to_string(),
                subnet: &s.subnet,
                vpc,
                private: Some(s.private_ip),
                ipv6: &[],
                public: None,
                kind: "transit_gateway",
                managed: true,
                requester: Some(TGW_REQUESTER_ID),
                groups: &[],
                description: format!("Network Interface for Transit Gateway Attachment {}", a.id),
                tags: None,
                status: "in-use",
                attachment: None,
                tracking: None,
                source_dest_check: false,
            },
            Eni::Endpoint(e, i) => View {
                id: i.interface.to_string(),
                subnet: &i.subnet,
                vpc: &e.vpc,
                private: Some(i.private_ip),
                ipv6: &[],
                public: None,
                kind: "vpc_endpoint",
                managed: true,
                requester: Some(ENDPOINT_REQUESTER_ID),
                groups: e.interface.as_ref().map_or(&[], |x| x.security_groups.as_slice()),
                description: format!("VPC Endpoint Interface {}", e.id),
                tags: None,
                status: "in-use",
                attachment: None,
                tracking: None,
                source_dest_check: true,
            },
            Eni::Own(n, holder) => View {
                id: n.id.to_string(),
                subnet: &n.subnet,
                vpc: &n.vpc,
                private: n.private_ip,
                ipv6: &n.ipv6_addresses,
                public: None,
                kind: "interface",
                managed: false,
                requester: None,
                groups: &n.security_groups,
                description: n.description.clone(),
                tags: Some(&n.tags),
                status: if n.attachment.is_some() { "in-use" } else { "available" },
                attachment: n.attachment.as_ref().zip(holder).map(|(a, instance)| Attached {
                    id: a.id.clone(),
                    instance,
                    device_index: a.device_index,
                    attached_at: a.attached_at,
                    delete_on_termination: false,
                }),
                tracking: n.connection_tracking,
                source_dest_check: n.source_dest_check,
            },
        }
    }
}

/// Every interface endpoint's interfaces.
fn endpoint_interfaces(
    m: &Model,
) -> impl Iterator<Item = (&VpcEndpoint, &vpclab_model::ManagedInterface)> {
    m.vpc_endpoints()
        .filter_map(|e| Some((e, e.interface.as_ref()?)))
        .flat_map(|(e, x)| x.interfaces.iter().map(move |i| (e, i)))
}

/// An instance's interfaces — its primary one, then those attached to it — as
/// DescribeInstances shows them inside the instance.
pub(super) fn write_instance_interfaces(x: &mut Xml, m: &Model, i: &Instance) {
    let attached = m.attached_interfaces(&i.id).map(|n| Eni::Own(n, Some(i)));
    let all: Vec<Eni<'_>> = std::iter::once(Eni::Instance(i)).chain(attached).collect();
    x.set("networkInterfaceSet", all, |x, eni| write_interface(x, m, &eni, true));
}

/// An interface in `NetworkInterface`'s shape, or, `nested` in an instance, in
/// `InstanceNetworkInterface`'s (whose attachment does not name the instance again).
fn write_interface(x: &mut Xml, m: &Model, eni: &Eni<'_>, nested: bool) {
    let v = eni.view();
    let zone = m.subnet(v.subnet).map(|s| s.zone.clone()).unwrap_or_default();
    x.leaf("networkInterfaceId", &v.id).leaf("subnetId", v.subnet).leaf("vpcId", v.vpc);
    if !nested {
        x.leaf("availabilityZone", zone);
    }
    x.leaf("description", &v.description).leaf("ownerId", OWNER_ID);
    if !nested {
        if let Some(requester) = v.requester {
            x.leaf("requesterId", requester);
        }
        x.leaf("requesterManaged", v.managed)
            .leaf("ipv6Native", m.subnet(v.subnet).is_ok_and(|s| s.ipv6_native()));
    }
    x.leaf("status", v.status)
        .leaf("macAddress", mac(&v.id))
        .opt("privateIpAddress", v.private)
        .opt("privateDnsName", v.private.map(private_dns))
        .leaf("sourceDestCheck", v.source_dest_check)
        .leaf("interfaceType", v.kind)
        .set("groupSet", v.groups, |x, g| write_group_ref(x, m, g));
    if let Some(a) = &v.attachment {
        x.node("attachment", |x| {
            x.leaf("attachmentId", &a.id);
            if !nested {
                x.leaf("instanceId", &a.instance.id).leaf("instanceOwnerId", OWNER_ID);
            }
            x.leaf("deviceIndex", a.device_index)
                .leaf("status", "attached")
                .leaf("attachTime", iso8601(a.attached_at))
                .leaf("deleteOnTermination", a.delete_on_termination);
        });
    }
    if let Some(ip) = v.public {
        x.node("association", |x| {
            x.leaf("publicIp", ip)
                .leaf("publicDnsName", public_dns(ip))
                .leaf("ipOwnerId", "amazon");
        });
    }
    x.set("privateIpAddressesSet", v.private, |x, ip| {
        x.leaf("privateIpAddress", ip)
            .leaf("privateDnsName", private_dns(ip))
            .leaf("primary", "true");
    });
    x.set("ipv6AddressesSet", v.ipv6, |x, ip| {
        x.leaf("ipv6Address", ip).leaf("isPrimaryIpv6", false);
    });
    if let Some(t) = v.tracking {
        x.node("connectionTrackingConfiguration", |x| {
            x.leaf("tcpEstablishedTimeout", t.tcp_established_timeout)
                .leaf("udpStreamTimeout", t.udp_stream_timeout)
                .leaf("udpTimeout", t.udp_timeout);
        });
    }
    if !nested {
        x.tags(v.tags.unwrap_or(&Tags::new()));
    }
}

/// A `ConnectionTrackingSpecification` given under `prefix` (e.g.
/// `ConnectionTrackingSpecification.`), over the interface's current timeouts `base`;
/// `None` when the request gives none.
pub(super) fn connection_tracking(
    p: &Params,
    prefix: &str,
    base: ConnectionTracking,
) -> Result<Option<ConnectionTracking>, ApiError> {
    let tcp = p.u32(&format!("{prefix}TcpEstablishedTimeout"))?;
    let stream = p.u32(&format!("{prefix}UdpStreamTimeout"))?;
    let udp = p.u32(&format!("{prefix}UdpTimeout"))?;
    if tcp.is_none() && stream.is_none() && udp.is_none() {
        return Ok(None);
    }
    base.with(tcp, stream, udp).map(Some)
}

pub(super) fn eni_id(value: &str) -> Result<NetworkInterfaceId, ApiError> {
    NetworkInterfaceId::parse(value)
        .ok_or_else(|| malformed("InvalidNetworkInterfaceID.Malformed", "eni", value))
}

pub(super) fn create_network_interface(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let subnet = subnet_id(p.required("SubnetId")?)?;
    let private_ip = p.get("PrivateIpAddress").map(private_ip).transpose()?;
    let groups = ids(p, "SecurityGroupId", sg_id)?;
    let description = p.get("Description").unwrap_or_default().to_owned();
    let tags = p.tag_specifications("network-interface")?;
    let tracking =
        connection_tracking(p, "ConnectionTrackingSpecification.", ConnectionTracking::default())?;
    let ipv6 = ipv6_request(p, "", "Ipv6Addresses", Some("Ipv6Address"))?;
    let id = ctx.model.create_network_interface(
        &subnet,
        private_ip,
        &ipv6,
        &groups,
        description,
        tags,
    )?;
    if let Some(tracking) = tracking {
        ctx.model.set_connection_tracking(&id, tracking)?;
    }
    let m = &*ctx.model;
    let eni = m.network_interface(&id)?;
    x.node("networkInterface", |x| write_interface(x, m, &Eni::Own(eni, None), false));
    Ok(())
}

/// AssignIpv6Addresses: more IPv6 addresses from the subnet's block on an interface.
pub(super) fn assign_ipv6_addresses(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = eni_id(p.required("NetworkInterfaceId")?)?;
    if p.get("Ipv6PrefixCount").is_some() || p.get("Ipv6Prefix.1").is_some() {
        return Err(invalid("vpclab has no IPv6 prefix delegation: assign addresses."));
    }
    let request = ipv6_request(p, "", "Ipv6Addresses", None)?;
    let added = ctx.model.assign_ipv6_addresses(&id, &request)?;
    x.values("assignedIpv6Addresses", &added).leaf("networkInterfaceId", &id);
    Ok(())
}

/// UnassignIpv6Addresses: IPv6 addresses given back to the subnet.
pub(super) fn unassign_ipv6_addresses(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = eni_id(p.required("NetworkInterfaceId")?)?;
    if p.get("Ipv6Prefix.1").is_some() {
        return Err(invalid("vpclab has no IPv6 prefix delegation: unassign addresses."));
    }
    let Ipv6Request::Addresses(addresses) = ipv6_request(p, "", "Ipv6Addresses", None)? else {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ipv6Addresses".into(),
        });
    };
    ctx.model.unassign_ipv6_addresses(&id, &addresses)?;
    x.leaf("networkInterfaceId", &id).values("unassignedIpv6Addresses", &addresses);
    Ok(())
}

pub(super) fn delete_network_interface(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = eni_id(p.required("NetworkInterfaceId")?)?;
    ctx.model.delete_network_interface(&id)?;
    x.leaf("return", "true");
    Ok(())
}

/// ModifyNetworkInterfaceAttribute: an interface's connection-tracking timeouts and
/// source/destination check, an own interface's groups or description.
pub(super) fn modify_network_interface_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = eni_id(p.required("NetworkInterfaceId")?)?;
    if let Some(check) = p.bool("SourceDestCheck.Value")? {
        ctx.model.set_interface_source_dest_check(&id, check)?;
    }
    let groups = ids(p, "SecurityGroupId", sg_id)?;
    let description = p.get("Description.Value").map(str::to_owned);
    let tracking = connection_tracking(
        p,
        "ConnectionTrackingSpecification.",
        ctx.model.connection_tracking(&id)?,
    )?;
    if let Some(tracking) = tracking {
        ctx.model.set_connection_tracking(&id, tracking)?;
    }
    if ctx.model.instances().any(|i| i.interface == id) {
        // An instance's interface: its groups are the instance's.
        let instance = ctx.model.instances().find(|i| i.interface == id).expect("found").id.clone();
        if !groups.is_empty() {
            ctx.model.set_instance_security_groups(&instance, &groups)?;
        }
        if description.is_some() {
            return Err(invalid("vpclab keeps no description for an instance's interface."));
        }
    } else {
        let groups = (!groups.is_empty()).then_some(groups.as_slice());
        ctx.model.modify_network_interface(&id, groups, description)?;
    }
    x.leaf("return", "true");
    Ok(())
}

/// AttachNetworkInterface: a free interface of the instance's VPC and zone becomes
/// `eth<DeviceIndex>` inside the instance.
pub(super) fn attach_network_interface(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = eni_id(p.required("NetworkInterfaceId")?)?;
    let instance = instance_id(p.required("InstanceId")?)?;
    let index = p.u32("DeviceIndex")?.ok_or_else(|| ApiError {
        code: "MissingParameter",
        message: "The request must contain the parameter deviceIndex".into(),
    })?;
    if p.u32("NetworkCardIndex")?.is_some_and(|card| card != 0) {
        return Err(invalid("vpclab instances have one network card (index 0)."));
    }
    let attachment = ctx.model.attach_network_interface(&id, &instance, index, ctx.now)?;
    x.leaf("attachmentId", attachment).leaf("networkCardIndex", 0);
    Ok(())
}

/// DetachNetworkInterface: an attached interface is free again (its device leaves the
/// instance); the primary interface cannot be detached, as on AWS.
pub(super) fn detach_network_interface(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let attachment = p.required("AttachmentId")?;
    let _ = p.bool("Force")?;
    let primary =
        ctx.model.instances().any(|i| derived("eni-attach", i.interface.as_str()) == attachment);
    if primary {
        return Err(ApiError {
            code: "OperationNotPermitted",
            message: "The network interface at device index 0 cannot be detached.".into(),
        });
    }
    ctx.model.detach_network_interface(attachment)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_network_interfaces(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("NetworkInterfaceId");
    let m = &*ctx.model;
    let known = |id: &str| {
        m.instances().any(|i| i.interface.as_str() == id)
            || m.working_nat_gateways().any(|n| derived("eni", n.id.as_str()) == id)
            || m.network_interfaces().any(|n| n.id.as_str() == id)
            || m.tgw_attachments().flat_map(|a| a.subnets()).any(|s| s.interface.as_str() == id)
            || endpoint_interfaces(m).any(|(_, i)| i.interface.as_str() == id)
    };
    if let Some(missing) = asked.iter().find(|id| !known(id)) {
        return Err(ApiError {
            code: "InvalidNetworkInterfaceID.NotFound",
            message: format!("The networkInterface ID '{missing}' does not exist"),
        });
    }
    let id = |eni: &Eni<'_>| eni.id();
    let tgw = m
        .tgw_attachments()
        .flat_map(|a| a.subnets().iter().filter_map(move |s| Some(Eni::Tgw(a, a.vpc()?, s))));
    let enis: Vec<Eni<'_>> = m
        .instances()
        .map(Eni::Instance)
        .chain(m.working_nat_gateways().map(Eni::Nat))
        .chain(tgw)
        .chain(endpoint_interfaces(m).map(|(e, i)| Eni::Endpoint(e, i)))
        .chain(m.network_interfaces().map(|n| {
            let holder = n.attachment.as_ref().and_then(|a| m.instance(&a.instance).ok());
            Eni::Own(n, holder)
        }))
        .filter(|eni| asked.is_empty() || asked.contains(&id(eni)))
        .collect();
    let none = Tags::new();
    let page = describe::page(ctx.action, p, enis.iter(), id, |eni, name| {
        let v = eni.view();
        match name {
            "network-interface-id" => one(&v.id),
            "attachment.instance-id" => {
                Some(v.attachment.iter().map(|a| a.instance.id.to_string()).collect())
            }
            "attachment.attachment-id" => Some(v.attachment.iter().map(|a| a.id.clone()).collect()),
            "attachment.device-index" => {
                Some(v.attachment.iter().map(|a| a.device_index.to_string()).collect())
            }
            "attachment.status" => {
                Some(v.attachment.iter().map(|_| "attached".to_owned()).collect())
            }
            "addresses.private-ip-address" | "private-ip-address" => maybe(v.private),
            "association.public-ip" => {
                Some(v.public.map(|ip| ip.to_string()).into_iter().collect())
            }
            "subnet-id" => one(v.subnet),
            "vpc-id" => one(v.vpc),
            "status" => one(v.status),
            "interface-type" => one(v.kind),
            "requester-managed" => one(v.managed),
            "requester-id" => Some(v.requester.iter().map(ToString::to_string).collect()),
            "description" => one(&v.description),
            "group-id" => Some(v.groups.iter().map(ToString::to_string).collect()),
            _ => tag_attr(v.tags.unwrap_or(&none), name),
        }
    })?;
    page.write(x, "networkInterfaceSet", |x, eni| write_interface(x, m, eni, false));
    Ok(())
}
