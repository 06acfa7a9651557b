//! Instances, their network interfaces, attributes, metadata options and status.

use super::security_groups::write_group_ref;
use super::*;

/// The most user data an instance takes, decoded (EC2's limit).
const MAX_USER_DATA: usize = 16 * 1024;

/// An instance's state as AWS reports it (code, name): `shutting-down` for the
/// transition time after its termination, then terminated; stopped; `pending` for the
/// transition time after its launch, then running.
pub(super) fn state_of(m: &Model, i: &Instance, clock: Clock) -> (u16, &'static str) {
    match m.instance(&i.id) {
        Err(_) if m.terminated_at(&i.id).is_some_and(|at| !clock.settled(at)) => {
            (32, "shutting-down")
        }
        Err(_) => (48, "terminated"),
        Ok(i) if i.stopped => (80, "stopped"),
        Ok(i) if !clock.settled(i.launched_at) => (0, "pending"),
        Ok(_) => (16, "running"),
    }
}

/// The reservation an instance was launched in.
fn reservation_of(i: &Instance) -> String {
    if i.reservation.is_empty() { derived("r", i.id.as_str()) } else { i.reservation.clone() }
}

pub(super) fn write_instance(x: &mut Xml, m: &Model, i: &Instance, state: (u16, &str)) {
    if m.instance(&i.id).is_err() {
        return write_terminated(x, i, state);
    }
    let zone = m.subnet(&i.subnet).map(|s| s.zone.clone()).unwrap_or_default();
    let public = i.public_ip.as_ref().map(|(ip, _)| *ip);
    // Public DNS names exist only in VPCs with enableDnsHostnames.
    let hostnames = m.vpc(&i.vpc).is_ok_and(|v| v.dns_hostnames);
    x.leaf("instanceId", &i.id)
        .leaf("imageId", &i.image_id)
        .node("instanceState", |x| {
            x.leaf("code", state.0).leaf("name", state.1);
        })
        .leaf("privateDnsName", i.private_dns_name())
        .leaf("dnsName", public.filter(|_| hostnames).map(public_dns).unwrap_or_default())
        .leaf("reason", "")
        .leaf("amiLaunchIndex", 0)
        .set("productCodes", std::iter::empty::<()>(), |_, ()| {})
        .opt("keyName", i.key_name.as_deref())
        .leaf("instanceType", &i.instance_type)
        .leaf("launchTime", iso8601(i.launched_at))
        .node("placement", |x| {
            x.leaf("availabilityZone", &zone).leaf("groupName", "").leaf("tenancy", "default");
        })
        .node("monitoring", |x| {
            x.leaf("state", "disabled");
        })
        .leaf("subnetId", &i.subnet)
        .leaf("vpcId", &i.vpc)
        .opt("privateIpAddress", i.private_ip)
        .opt("ipAddress", public)
        .opt("ipv6Address", i.ipv6_addresses.first())
        .leaf("sourceDestCheck", i.source_dest_check)
        .set("groupSet", &i.security_groups, |x, g| write_group_ref(x, m, g));
    write_machine(x);
    x.node("metadataOptions", |x| write_metadata_options(x, &i.metadata));
    x.node("privateDnsNameOptions", |x| write_dns_name_options(x, &i.dns_names));
    super::network_interfaces::write_instance_interfaces(x, m, i);
    x.tags(&i.tags);
}

/// A terminated instance as AWS lists it for its last hour: its identity and state,
/// no addresses, interfaces or groups any more.
pub(super) fn write_terminated(x: &mut Xml, i: &Instance, state: (u16, &str)) {
    x.leaf("instanceId", &i.id)
        .leaf("imageId", &i.image_id)
        .node("instanceState", |x| {
            x.leaf("code", state.0).leaf("name", state.1);
        })
        .leaf("privateDnsName", "")
        .leaf("dnsName", "")
        .leaf("reason", "User initiated")
        .leaf("amiLaunchIndex", 0)
        .set("productCodes", std::iter::empty::<()>(), |_, ()| {})
        .leaf("instanceType", &i.instance_type)
        .leaf("launchTime", iso8601(i.launched_at))
        .node("placement", |x| {
            x.leaf("groupName", "").leaf("tenancy", "default");
        })
        .node("monitoring", |x| {
            x.leaf("state", "disabled");
        })
        .set("groupSet", std::iter::empty::<()>(), |_, ()| {})
        .node("stateReason", |x| {
            x.leaf("code", "Client.UserInitiatedShutdown")
                .leaf("message", "Client.UserInitiatedShutdown: User initiated shutdown");
        })
        .set("networkInterfaceSet", std::iter::empty::<()>(), |_, ()| {})
        .tags(&i.tags);
    write_machine(x);
}

/// What machine an instance is: the same for every one (nothing boots in a lab).
pub(super) fn write_machine(x: &mut Xml) {
    x.leaf("architecture", "x86_64")
        .leaf("rootDeviceType", "ebs")
        .leaf("rootDeviceName", "/dev/xvda")
        .set("blockDeviceMapping", std::iter::empty::<()>(), |_, ()| {})
        .leaf("virtualizationType", "hvm")
        .leaf("hypervisor", "xen");
}

/// One reservation: `instances`, launched together, each in the state `state` gives.
pub(super) fn write_reservation(
    x: &mut Xml,
    m: &Model,
    instances: &[&Instance],
    state: impl Fn(&Instance) -> (u16, &'static str),
) {
    let id = instances.first().map_or_else(|| "r-0".to_owned(), |i| reservation_of(i));
    x.leaf("reservationId", id)
        .leaf("ownerId", OWNER_ID)
        .set("groupSet", std::iter::empty::<()>(), |_, ()| {})
        .set("instancesSet", instances, |x, i| write_instance(x, m, i, state(i)));
}

pub(super) fn run_instances(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    if p.has("LaunchTemplate.LaunchTemplateId") || p.has("LaunchTemplate.LaunchTemplateName") {
        return super::launch_templates::run_from_template(ctx, p, x, launch);
    }
    launch(ctx, p, x)
}

/// RunInstances from its parameters (a template's already under them).
fn launch(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let image = p.required("ImageId")?.to_owned();
    let min = p.u32("MinCount")?.unwrap_or(1);
    let max = p.u32("MaxCount")?.unwrap_or(min);
    if min == 0 || max < min {
        return Err(invalid(format!("Invalid counts: MinCount ({min}) and MaxCount ({max}).")));
    }
    if max > 64 {
        return Err(ApiError {
            code: "InstanceLimitExceeded",
            message:
                "You have requested more instances (64+) than your current instance limit allows."
                    .into(),
        });
    }
    let subnet = p.get("SubnetId").or_else(|| p.get("NetworkInterface.1.SubnetId"));
    let zone = p.get("Placement.AvailabilityZone");
    let subnet = match subnet.map(subnet_id).transpose()? {
        Some(subnet) => {
            let in_zone = &ctx.model.subnet(&subnet)?.zone;
            if let Some(zone) = zone.filter(|z| z != in_zone) {
                return Err(invalid(format!(
                    "The subnet {subnet} is in {in_zone}, not in the availability zone {zone} \
                     asked for."
                )));
            }
            subnet
        }
        // No subnet: the default VPC's, as on AWS (an error without one).
        None => ctx.model.default_subnet(zone)?,
    };
    let subnet = Some(subnet);
    // The aws CLI sends `--private-ip-address` with `--associate-public-ip-address` as the
    // interface's primary address in the list.
    let primary_in_list = (1..)
        .map_while(|n| {
            let at = format!("NetworkInterface.1.PrivateIpAddresses.{n}");
            p.get(&format!("{at}.PrivateIpAddress")).map(|ip| (at, ip))
        })
        .map(|(at, ip)| match p.bool(&format!("{at}.Primary")) {
            Ok(Some(false)) => {
                Err(invalid("vpclab instances have one private address: no secondary ones yet."))
            }
            Ok(_) => Ok(ip),
            Err(e) => Err(e),
        })
        .collect::<Result<Vec<&str>, ApiError>>()?;
    let private_ip = p
        .get("PrivateIpAddress")
        .or_else(|| p.get("NetworkInterface.1.PrivateIpAddress"))
        .or_else(|| primary_in_list.first().copied());
    let private_ip = private_ip.map(super::private_ip).transpose()?;
    if private_ip.is_some() && max > 1 {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "Cannot specify a private IP address when launching more than one instance."
                .into(),
        });
    }
    let public_ip = p.bool("NetworkInterface.1.AssociatePublicIpAddress")?;
    let ipv6 = match ipv6_request(p, "", "Ipv6Address", Some("Ipv6Address"))? {
        Ipv6Request::SubnetDefault => {
            ipv6_request(p, "NetworkInterface.1.", "Ipv6Addresses", Some("Ipv6Address"))?
        }
        asked => asked,
    };
    if matches!(ipv6, Ipv6Request::Addresses(_)) && max > 1 {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "Cannot specify IPv6 addresses when launching more than one instance.".into(),
        });
    }
    // A lab has no volumes, elastic GPUs or spot requests: their tags go nowhere.
    let tags = p.tag_specifications_among(
        "instance",
        &["volume", "network-interface", "spot-instances-request", "elastic-gpu"],
    )?;
    let mut security_groups = ids(p, "SecurityGroupId", sg_id)?;
    security_groups.extend(ids(p, "NetworkInterface.1.SecurityGroupId", sg_id)?);
    for name in p.list("SecurityGroup") {
        let vpc = subnet.as_ref().and_then(|s| ctx.model.subnet(s).ok()).map(|s| s.vpc.clone());
        let vpc = vpc.ok_or_else(|| invalid("The launch's subnet is not there"))?;
        security_groups.push(super::security_groups::group_named(ctx.model, &name, Some(&vpc))?);
    }
    let metadata = metadata_options(p, "MetadataOptions.", MetadataOptions::default())?;
    let dns_names =
        dns_name_change(p, "PrivateDnsNameOptions.HostnameType", "PrivateDnsNameOptions.", "")?;
    let user_data = match p.get("UserData") {
        None => None,
        Some(text) => {
            let bytes = vpclab_model::base64::decode(text)
                .ok_or_else(|| invalid("Invalid BASE64 encoding of user data."))?;
            if bytes.len() > MAX_USER_DATA {
                return Err(invalid(format!(
                    "User data is limited to {MAX_USER_DATA} bytes; this is {}.",
                    bytes.len()
                )));
            }
            Some(text.to_owned())
        }
    };
    let connection_tracking = super::network_interfaces::connection_tracking(
        p,
        "NetworkInterface.1.ConnectionTrackingSpecification.",
        ConnectionTracking::default(),
    )?;
    let reservation = ctx.model.new_reservation();
    let mut launched = Vec::new();
    for _ in 0..max {
        let spec = RunInstance {
            subnet: subnet.clone(),
            private_ip,
            public_ip,
            image_id: image.clone(),
            instance_type: p.get("InstanceType").unwrap_or("m1.small").to_owned(),
            launched_at: ctx.now,
            security_groups: security_groups.clone(),
            metadata,
            key_name: p.get("KeyName").map(str::to_owned),
            reservation: Some(reservation.clone()),
            termination_protected: p.bool("DisableApiTermination")?.unwrap_or(false),
            user_data: user_data.clone(),
            connection_tracking,
            ipv6: ipv6.clone(),
            dns_names,
            tags: tags.clone(),
        };
        match ctx.model.run_instance(spec) {
            Ok(id) => launched.push(id),
            Err(e) if launched.len() as u32 >= min => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let m = &*ctx.model;
    let instances: Vec<&Instance> = launched.iter().filter_map(|id| m.instance(id).ok()).collect();
    // AWS answers a launch with its instances pending, however soon they run.
    write_reservation(x, m, &instances, |_| (0, "pending"));
    Ok(())
}

pub(super) fn terminate_instances(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, now) = (&*ctx.model, ctx.now);
    let asked = named_instances(listed_instance_ids(m, p, now)?)?;
    let clock = ctx.clock();
    let previous: Vec<(u16, &str)> = asked
        .iter()
        .filter_map(|id| {
            m.instance(id).ok().or_else(|| m.terminated_instances(now).find(|i| &i.id == id))
        })
        .map(|i| state_of(m, i, clock))
        .collect();
    for id in &asked {
        ctx.model.terminate_instance(id, now)?;
    }
    let states = asked.iter().zip(previous).map(|(id, previous)| {
        // AWS answers a termination shutting down, however soon it is over; one already
        // over stays as it is.
        let current = if previous.0 == 48 { previous } else { (32, "shutting-down") };
        (id, current, previous)
    });
    write_state_changes(x, states);
    Ok(())
}

/// The `instancesSet` of a state change: each instance with its current and previous
/// state (code, name).
fn write_state_changes<'a>(
    x: &mut Xml,
    changes: impl IntoIterator<Item = (&'a InstanceId, (u16, &'a str), (u16, &'a str))>,
) {
    x.set("instancesSet", changes, |x, (id, current, previous)| {
        x.leaf("instanceId", id)
            .node("currentState", |x| {
                x.leaf("code", current.0).leaf("name", current.1);
            })
            .node("previousState", |x| {
                x.leaf("code", previous.0).leaf("name", previous.1);
            });
    });
}

/// The instances a state change names: at least one.
fn named_instances(asked: Vec<InstanceId>) -> Result<Vec<InstanceId>, ApiError> {
    if asked.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter InstanceId".into(),
        });
    }
    Ok(asked)
}

/// StopInstances / StartInstances: the state change of each, as AWS reports it (the
/// transition state now; DescribeInstances shows where it ends at once).
pub(super) fn change_states(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    start: bool,
) -> Result<(), ApiError> {
    // A terminated instance (still listed for an hour) is there, in no state to change.
    for id in listed_instance_ids(ctx.model, p, ctx.now)? {
        if ctx.model.instance(&id).is_err() {
            let verb = if start { "started" } else { "stopped" };
            return Err(ApiError {
                code: "IncorrectInstanceState",
                message: format!(
                    "The instance '{id}' is not in a state from which it can be {verb}."
                ),
            });
        }
    }
    let asked = named_instances(live_instance_ids(ctx.model, p)?)?;
    let mut changed = Vec::new();
    for id in &asked {
        let moved =
            if start { ctx.model.start_instance(id)? } else { ctx.model.stop_instance(id)? };
        changed.push((id, moved));
    }
    let states = changed.into_iter().map(|(id, moved)| {
        let (now, before) = match (start, moved) {
            (true, true) => ((0, "pending"), (80, "stopped")),
            (true, false) => ((16, "running"), (16, "running")),
            (false, true) => ((64, "stopping"), (16, "running")),
            (false, false) => ((80, "stopped"), (80, "stopped")),
        };
        (id, now, before)
    });
    write_state_changes(x, states);
    Ok(())
}

pub(super) fn stop_instances(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    change_states(ctx, p, x, false)
}

pub(super) fn start_instances(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    change_states(ctx, p, x, true)
}

/// RebootInstances: nothing boots in a lab, so there is nothing to restart.
pub(super) fn reboot_instances(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    live_instance_ids(ctx.model, p)?;
    x.leaf("return", "true");
    Ok(())
}

/// The `InstanceId.N` asked for; each must be a live instance or one terminated within
/// the hour (`InvalidInstanceID.NotFound` otherwise).
pub(super) fn listed_instance_ids(
    m: &Model,
    p: &Params,
    now: u64,
) -> Result<Vec<InstanceId>, ApiError> {
    instance_ids(p, |id| m.instance(id).is_ok() || m.is_terminated(id, now))
}

/// The `InstanceId.N` asked for; each must be a live (running or stopped) instance.
pub(super) fn live_instance_ids(m: &Model, p: &Params) -> Result<Vec<InstanceId>, ApiError> {
    instance_ids(p, |id| m.instance(id).is_ok())
}

pub(super) fn instance_ids(
    p: &Params,
    found: impl Fn(&InstanceId) -> bool,
) -> Result<Vec<InstanceId>, ApiError> {
    let asked = ids(p, "InstanceId", instance_id)?;
    require_all(&asked, found, "InvalidInstanceID.NotFound", "instance")?;
    Ok(asked)
}

pub(super) fn instance_attr(
    m: &Model,
    i: &Instance,
    name: &str,
    clock: Clock,
) -> Option<Vec<String>> {
    let public = i.public_ip.as_ref().map(|(ip, _)| ip.to_string());
    match name {
        "instance-state-name" => one(state_of(m, i, clock).1),
        "instance-state-code" => one(state_of(m, i, clock).0),
        "reservation-id" => one(reservation_of(i)),
        "instance-id" => one(&i.id),
        "subnet-id" | "network-interface.subnet-id" => one(&i.subnet),
        "vpc-id" | "network-interface.vpc-id" => one(&i.vpc),
        "private-ip-address" | "network-interface.addresses.private-ip-address" => {
            maybe(i.private_ip)
        }
        "ip-address" | "network-interface.association.public-ip" => {
            Some(public.into_iter().collect())
        }
        "image-id" => one(&i.image_id),
        "instance-type" => one(&i.instance_type),
        "availability-zone" => {
            Some(m.subnet(&i.subnet).map(|s| s.zone.clone()).into_iter().collect())
        }
        "network-interface.network-interface-id" => one(&i.interface),
        "private-dns-name" => one(i.private_dns_name()),
        "owner-id" => one(OWNER_ID),
        _ => tag_attr(&i.tags, name),
    }
}

pub(super) fn describe_instances(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, now) = (&*ctx.model, ctx.now);
    let asked = listed_instance_ids(m, p, now)?;
    if !asked.is_empty() && p.get("MaxResults").is_some() {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "The parameter instancesSet cannot be used with the parameter maxResults"
                .into(),
        });
    }
    let clock = ctx.clock();
    // Ordered by reservation, so a page holds a launch's instances together.
    let page = describe::page(
        ctx.action,
        p,
        m.instances()
            .chain(m.terminated_instances(now))
            .filter(|i| asked.is_empty() || asked.contains(&i.id)),
        |i| format!("{}/{}", reservation_of(i), i.id),
        |i, name| instance_attr(m, i, name, clock),
    )?;
    let reservations = page.items.chunk_by(|a, b| reservation_of(a) == reservation_of(b));
    x.set("reservationSet", reservations, |x, launch| {
        write_reservation(x, m, launch, |i| state_of(m, i, clock));
    })
    .opt("nextToken", page.next_token);
    Ok(())
}

/// ModifyInstanceAttribute: security groups, termination protection, the type of a
/// stopped instance; one attribute per call, as AWS (`Attribute` + `Value`, or the
/// attribute's own parameter).
pub(super) fn modify_instance_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let instance = instance_id(p.required("InstanceId")?)?;
    ctx.model.instance(&instance)?;
    let groups = ids(p, "GroupId", sg_id)?;
    // Which parameter carries an attribute's new value, if the call changes it.
    let value = |own: &'static str, attribute: &str| -> Option<&'static str> {
        if p.get(own).is_some() {
            Some(own)
        } else {
            p.get("Attribute").filter(|a| *a == attribute).and(p.get("Value")).map(|_| "Value")
        }
    };
    let protection = value("DisableApiTermination.Value", "disableApiTermination");
    let kind = value("InstanceType.Value", "instanceType");
    let source_dest = value("SourceDestCheck.Value", "sourceDestCheck");
    let asked = usize::from(!groups.is_empty())
        + usize::from(protection.is_some())
        + usize::from(kind.is_some())
        + usize::from(source_dest.is_some());
    if asked > 1 {
        return Err(ApiError {
            code: "InvalidParameterCombination",
            message: "Fields for multiple attribute types specified".into(),
        });
    }
    if !groups.is_empty() {
        ctx.model.set_instance_security_groups(&instance, &groups)?;
    } else if let Some(name) = protection {
        let on = p.bool(name)?.unwrap_or(false);
        ctx.model.set_termination_protection(&instance, on)?;
    } else if let Some(name) = kind {
        ctx.model.set_instance_type(&instance, p.required(name)?)?;
    } else if let Some(name) = source_dest {
        let on = p.bool(name)?.ok_or_else(|| invalid("SourceDestCheck needs a value."))?;
        ctx.model.set_source_dest_check(&instance, on)?;
    } else {
        return Err(invalid(
            "vpclab changes these instance attributes: groupSet (--groups), \
             disableApiTermination, instanceType (stopped instances), sourceDestCheck.",
        ));
    }
    x.leaf("return", "true");
    Ok(())
}

/// DescribeInstanceAttribute: one attribute of one instance, in AWS's shape.
pub(super) fn describe_instance_attribute(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let m = &*ctx.model;
    let id = instance_id(p.required("InstanceId")?)?;
    let i = m.instance(&id)?;
    let attribute = p.required("Attribute")?;
    let value = |x: &mut Xml, name: &str, v: &dyn std::fmt::Display| {
        x.node(name, |x| {
            x.leaf("value", v);
        });
    };
    x.leaf("instanceId", &i.id);
    match attribute {
        "instanceType" => value(x, "instanceType", &i.instance_type),
        "disableApiTermination" => value(x, "disableApiTermination", &i.termination_protected),
        "disableApiStop" => value(x, "disableApiStop", &false),
        "instanceInitiatedShutdownBehavior" => {
            value(x, "instanceInitiatedShutdownBehavior", &"stop")
        }
        "rootDeviceName" => value(x, "rootDeviceName", &"/dev/xvda"),
        "sourceDestCheck" => value(x, "sourceDestCheck", &i.source_dest_check),
        "ebsOptimized" => value(x, "ebsOptimized", &false),
        "enaSupport" => value(x, "enaSupport", &true),
        "sriovNetSupport" => value(x, "sriovNetSupport", &"simple"),
        "userData" => match &i.user_data {
            Some(data) => value(x, "userData", data),
            None => {
                x.node("userData", |_| {});
            }
        },
        "kernel" | "ramdisk" => {
            x.node(attribute, |_| {});
        }
        "blockDeviceMapping" => {
            x.set("blockDeviceMapping", std::iter::empty::<()>(), |_, ()| {});
        }
        "productCodes" => {
            x.set("productCodes", std::iter::empty::<()>(), |_, ()| {});
        }
        "groupSet" => {
            x.set("groupSet", &i.security_groups, |x, g| {
                x.leaf("groupId", g);
            });
        }
        "enclaveOptions" => {
            x.node("enclaveOptions", |x| {
                x.leaf("enabled", false);
            });
        }
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )));
        }
    }
    Ok(())
}

/// The `MetadataOptions`-shaped parameters under `prefix`, applied to `options`.
pub(super) fn metadata_options(
    p: &Params,
    prefix: &str,
    mut options: MetadataOptions,
) -> Result<MetadataOptions, ApiError> {
    let choice = |name: &str, yes: &str, no: &str| -> Result<Option<bool>, ApiError> {
        match p.get(&format!("{prefix}{name}")) {
            None => Ok(None),
            Some(v) if v == yes => Ok(Some(true)),
            Some(v) if v == no => Ok(Some(false)),
            Some(v) => Err(invalid(format!(
                "Value ({v}) for parameter {name} is invalid. Valid values: {no}, {yes}."
            ))),
        }
    };
    if let Some(required) = choice("HttpTokens", "required", "optional")? {
        options.tokens_required = required;
    }
    if let Some(enabled) = choice("HttpEndpoint", "enabled", "disabled")? {
        options.endpoint_enabled = enabled;
    }
    if let Some(enabled) = choice("InstanceMetadataTags", "enabled", "disabled")? {
        options.tags_enabled = enabled;
    }
    if let Some(enabled) = choice("HttpProtocolIpv6", "enabled", "disabled")? {
        options.protocol_ipv6 = enabled;
    }
    if let Some(limit) = p.u32(&format!("{prefix}HttpPutResponseHopLimit"))? {
        if !(1..=64).contains(&limit) {
            return Err(invalid(format!(
                "Value ({limit}) for parameter HttpPutResponseHopLimit is invalid. \
                 Valid values: 1 to 64."
            )));
        }
        options.hop_limit = limit as u8;
    }
    Ok(options)
}

pub(super) fn write_metadata_options(x: &mut Xml, o: &MetadataOptions) {
    let word = |on: bool, yes: &'static str, no: &'static str| if on { yes } else { no };
    x.leaf("state", "applied")
        .leaf("httpTokens", word(o.tokens_required, "required", "optional"))
        .leaf("httpPutResponseHopLimit", o.hop_limit)
        .leaf("httpEndpoint", word(o.endpoint_enabled, "enabled", "disabled"))
        .leaf("httpProtocolIpv6", word(o.protocol_ipv6, "enabled", "disabled"))
        .leaf("instanceMetadataTags", word(o.tags_enabled, "enabled", "disabled"));
}

/// Hostname options as AWS writes them (`privateDnsNameOptions`,
/// `privateDnsNameOptionsOnLaunch`).
pub(super) fn write_dns_name_options(x: &mut Xml, o: &DnsNameOptions) {
    x.leaf("hostnameType", o.hostname_type.as_str())
        .leaf("enableResourceNameDnsARecord", o.a_record)
        .leaf("enableResourceNameDnsAAAARecord", o.aaaa_record);
}

/// The hostname options a call names: its hostname type under `hostname_type`, the
/// record switches as `{prefix}EnableResourceNameDnsARecord{suffix}` and `…AAAARecord…`.
pub(super) fn dns_name_change(
    p: &Params,
    hostname_type: &str,
    prefix: &str,
    suffix: &str,
) -> Result<DnsNameChange, ApiError> {
    Ok(DnsNameChange {
        hostname_type: p.get(hostname_type).map(HostnameType::parse).transpose()?,
        a_record: p.bool(&format!("{prefix}EnableResourceNameDnsARecord{suffix}"))?,
        aaaa_record: p.bool(&format!("{prefix}EnableResourceNameDnsAAAARecord{suffix}"))?,
    })
}

/// ModifyPrivateDnsNameOptions: an instance's hostname type and the records its resource
/// name answers, those the call names.
pub(super) fn modify_private_dns_name_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let instance = instance_id(p.required("InstanceId")?)?;
    let change = dns_name_change(p, "PrivateDnsHostnameType", "", "")?;
    ctx.model.modify_private_dns_name_options(&instance, &change)?;
    x.leaf("return", true);
    Ok(())
}

pub(super) fn modify_instance_metadata_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let instance = instance_id(p.required("InstanceId")?)?;
    let current = ctx.model.instance(&instance)?.metadata;
    let wanted = metadata_options(p, "", current)?;
    let options = ctx.model.set_metadata_options(&instance, |o| *o = wanted)?;
    x.leaf("instanceId", &instance).node("instanceMetadataOptions", |x| {
        write_metadata_options(x, &options);
    });
    Ok(())
}

/// DescribeInstanceStatus: every running instance passes its checks at once (nothing
/// boots); stopped and terminated ones only with `IncludeAllInstances`.
pub(super) fn describe_instance_status(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let (m, now) = (&*ctx.model, ctx.now);
    let asked = listed_instance_ids(m, p, now)?;
    let all = p.bool("IncludeAllInstances")?.unwrap_or(false);
    let clock = ctx.clock();
    // The checks pass once it runs; while it starts, they are initializing.
    let checks = |i: &Instance| match state_of(m, i, clock).0 {
        16 => "ok",
        0 => "initializing",
        _ => "not-applicable",
    };
    let terminated = m.terminated_instances(now).filter(|_| all);
    let instances = describe::page(
        ctx.action,
        p,
        m.instances()
            .filter(|i| all || !i.stopped)
            .chain(terminated)
            .filter(|i| asked.is_empty() || asked.contains(&i.id)),
        |i| i.id.to_string(),
        |i, name| match name {
            "instance-status.status" | "system-status.status" => one(checks(i)),
            other => instance_attr(m, i, other, clock),
        },
    )?;
    instances.write(x, "instanceStatusSet", |x, i| {
        let zone = m.subnet(&i.subnet).map(|s| s.zone.clone()).unwrap_or_default();
        let (code, state) = state_of(m, i, clock);
        let status = checks(i);
        let live = status == "ok";
        let check = |x: &mut Xml| {
            x.leaf("status", status).set("details", [()], |x, ()| {
                x.leaf("name", "reachability")
                    .leaf("status", if live { "passed" } else { "not-applicable" });
            });
        };
        x.leaf("instanceId", &i.id)
            .leaf("availabilityZone", &zone)
            .node("instanceState", |x| {
                x.leaf("code", code).leaf("name", state);
            })
            .node("systemStatus", check)
            .node("instanceStatus", check)
            .set("eventsSet", std::iter::empty::<()>(), |_, ()| {});
    });
    Ok(())
}
