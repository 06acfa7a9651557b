//! Network ACLs, their entries and associations.

use super::*;

/// The entries DescribeNetworkAcls lists for `a`: its rules, then the implicit denies
/// (`*`: 32767 for IPv4, and 32768 for IPv6 once the VPC has IPv6), outbound first.
fn listed_entries(m: &Model, a: &NetworkAcl) -> Vec<AclEntry> {
    let ipv6 = m.vpc(&a.vpc).is_ok_and(|v| v.has_ipv6());
    let star = |egress, rule_number, cidr| AclEntry {
        rule_number,
        egress,
        protocol: Protocol::All,
        allow: false,
        cidr,
        ports: None,
        icmp: None,
    };
    let mut entries = Vec::new();
    for egress in [true, false] {
        entries.extend(a.rules(egress).into_iter().cloned());
        entries.push(star(egress, 32767, ipnet::IpNet::V4(Ipv4Net::default())));
        if ipv6 {
            entries.push(star(
                egress,
                vpclab_model::IPV6_DENY_RULE,
                ipnet::IpNet::V6(Default::default()),
            ));
        }
    }
    entries
}

pub(super) fn write_acl(x: &mut Xml, m: &Model, a: &NetworkAcl) {
    x.leaf("networkAclId", &a.id)
        .leaf("vpcId", &a.vpc)
        .leaf("default", a.is_default)
        .leaf("ownerId", OWNER_ID);
    x.set("entrySet", listed_entries(m, a), |x, e| {
        let protocol = e.protocol.number().map_or("-1".to_owned(), |n| n.to_string());
        x.leaf("ruleNumber", e.rule_number)
            .leaf("protocol", protocol)
            .leaf("ruleAction", if e.allow { "allow" } else { "deny" })
            .leaf("egress", e.egress);
        match e.cidr {
            ipnet::IpNet::V4(c) => x.leaf("cidrBlock", c),
            ipnet::IpNet::V6(c) => x.leaf("ipv6CidrBlock", c),
        };
        if let Some((from, to)) = e.ports {
            x.node("portRange", |x| {
                x.leaf("from", from).leaf("to", to);
            });
        }
        if let Some((t, c)) = e.icmp {
            x.node("icmpTypeCode", |x| {
                x.leaf("code", c).leaf("type", t);
            });
        }
    });
    x.set("associationSet", &a.associations, |x, (id, subnet)| {
        x.leaf("networkAclAssociationId", id).leaf("networkAclId", &a.id).leaf("subnetId", subnet);
    });
    x.tags(&a.tags);
}

pub(super) fn create_network_acl(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = ctx
        .model
        .create_network_acl(&vpc_id(p.required("VpcId")?)?, p.tag_specifications("network-acl")?)?;
    let a = ctx.model.network_acl(&id)?;
    let m = &*ctx.model;
    x.node("networkAcl", |x| write_acl(x, m, a));
    Ok(())
}

pub(super) fn delete_network_acl(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    ctx.model.delete_network_acl(&acl_id(p.required("NetworkAclId")?)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_network_acls(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "NetworkAclId", acl_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.network_acl(id).is_ok(),
        "InvalidNetworkAclID.NotFound",
        "networkAcl",
    )?;
    let acls = describe::page(
        ctx.action,
        p,
        m.network_acls().filter(|a| asked.is_empty() || asked.contains(&a.id)),
        |a| a.id.to_string(),
        |a, name| match name {
            "network-acl-id" => one(&a.id),
            "vpc-id" => one(&a.vpc),
            "default" => one(a.is_default),
            "association.subnet-id" => {
                Some(a.associations.iter().map(|(_, s)| s.to_string()).collect())
            }
            "association.association-id" => {
                Some(a.associations.iter().map(|(id, _)| id.to_string()).collect())
            }
            "association.network-acl-id" => one(&a.id),
            "entry.rule-number" => {
                Some(a.entries.iter().map(|e| e.rule_number.to_string()).collect())
            }
            "entry.cidr" => {
                Some(a.entries.iter().filter_map(|e| e.cidr4()).map(|c| c.to_string()).collect())
            }
            "entry.ipv6-cidr" => {
                Some(a.entries.iter().filter_map(|e| e.cidr6()).map(|c| c.to_string()).collect())
            }
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&a.tags, name),
        },
    )?;
    acls.write(x, "networkAclSet", |x, a| write_acl(x, m, a));
    Ok(())
}

pub(super) fn acl_entry(p: &Params) -> Result<AclEntry, ApiError> {
    let number = |name: &str| -> Result<Option<i64>, ApiError> {
        p.get(name)
            .map(|v| v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for {name}"))))
            .transpose()
    };
    let rule_number = number("RuleNumber")?.ok_or_else(|| ApiError {
        code: "MissingParameter",
        message: "The request must contain the parameter ruleNumber".into(),
    })?;
    let protocol = Protocol::parse(p.required("Protocol")?)?;
    let allow = match p.required("RuleAction")?.to_ascii_lowercase().as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(invalid(format!("Value ({other}) for parameter ruleAction is invalid.")));
        }
    };
    let ports = match (number("PortRange.From")?, number("PortRange.To")?) {
        (Some(from), Some(to)) => Some((from, to)),
        (None, None) => None,
        _ => {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain both PortRange.From and PortRange.To".into(),
            });
        }
    };
    let icmp = match (number("Icmp.Type")?, number("Icmp.Code")?) {
        (None, None) => None,
        (kind, code) => Some((kind.unwrap_or(-1), code.unwrap_or(-1))),
    };
    let egress = p.bool("Egress")?.unwrap_or(false);
    let block: ipnet::IpNet = match (p.get("CidrBlock"), cidr6(p, "Ipv6CidrBlock")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError {
                code: "InvalidParameterCombination",
                message: "Only one of cidrBlock and ipv6CidrBlock may be given.".into(),
            });
        }
        (None, Some(v6)) => v6.into(),
        _ => cidr(p, "CidrBlock")?.into(),
    };
    AclEntry::new(rule_number, egress, protocol, allow, block, ports, icmp)
}

pub(super) fn create_network_acl_entry(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let acl = acl_id(p.required("NetworkAclId")?)?;
    ctx.model.network_acl(&acl)?;
    ctx.model.create_network_acl_entry(&acl, acl_entry(p)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn replace_network_acl_entry(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let acl = acl_id(p.required("NetworkAclId")?)?;
    ctx.model.network_acl(&acl)?;
    ctx.model.replace_network_acl_entry(&acl, acl_entry(p)?)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_network_acl_entry(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let acl = acl_id(p.required("NetworkAclId")?)?;
    let number = p
        .required("RuleNumber")?
        .parse()
        .map_err(|_| invalid("Value for parameter ruleNumber is invalid."))?;
    ctx.model.delete_network_acl_entry(&acl, number, p.bool("Egress")?.unwrap_or(false))?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn replace_network_acl_association(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let raw = p.required("AssociationId")?;
    let association = NetworkAclAssociationId::parse(raw)
        .ok_or_else(|| malformed("InvalidAssociationID.NotFound", "aclassoc", raw))?;
    let acl = acl_id(p.required("NetworkAclId")?)?;
    let id = ctx.model.replace_network_acl_association(&association, &acl)?;
    x.leaf("newAssociationId", id);
    Ok(())
}
