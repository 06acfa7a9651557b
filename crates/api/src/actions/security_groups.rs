//! Security groups and their rules.

use super::*;

pub(super) fn write_group_ref(x: &mut Xml, m: &Model, id: &SecurityGroupId) {
    x.leaf("groupId", id)
        .leaf("groupName", m.security_group(id).map(|g| g.name.clone()).unwrap_or_default());
}

pub(super) fn write_permissions(x: &mut Xml, name: &str, rules: &[SgRule]) {
    x.set(name, rules, |x, r| {
        x.leaf("ipProtocol", r.protocol.api_name());
        if r.protocol != Protocol::All {
            x.leaf("fromPort", r.from_port).leaf("toPort", r.to_port);
        }
        let none = || std::iter::empty::<()>();
        match &r.peer {
            Peer::Group(g) => {
                x.set("groups", [g], |x, g| {
                    x.leaf("groupId", g)
                        .leaf("userId", OWNER_ID)
                        .opt("description", r.description.as_ref());
                });
                x.set("ipRanges", none(), |_, ()| {});
            }
            Peer::Cidr(c) => {
                x.set("groups", none(), |_, ()| {});
                x.set("ipRanges", [c], |x, c| {
                    x.leaf("cidrIp", c).opt("description", r.description.as_ref());
                });
            }
            Peer::Cidr6(_) | Peer::PrefixList(_) => {
                x.set("groups", none(), |_, ()| {}).set("ipRanges", none(), |_, ()| {});
            }
        }
        let list = match &r.peer {
            Peer::PrefixList(list) => Some(list),
            _ => None,
        };
        let v6 = match &r.peer {
            Peer::Cidr6(c) => Some(c),
            _ => None,
        };
        x.set("ipv6Ranges", v6, |x, c| {
            x.leaf("cidrIpv6", c).opt("description", r.description.as_ref());
        })
        .set("prefixListIds", list, |x, list| {
            x.leaf("prefixListId", list).opt("description", r.description.as_ref());
        });
    });
}

pub(super) fn write_security_group(x: &mut Xml, g: &SecurityGroup) {
    x.leaf("ownerId", OWNER_ID)
        .leaf("groupId", &g.id)
        .leaf("groupName", &g.name)
        .leaf("groupDescription", &g.description)
        .leaf("vpcId", &g.vpc)
        .leaf(
            "securityGroupArn",
            format!("arn:aws:ec2:{REGION}:{OWNER_ID}:security-group/{}", g.id),
        );
    write_permissions(x, "ipPermissions", &g.ingress);
    write_permissions(x, "ipPermissionsEgress", &g.egress);
    x.tags(&g.tags);
}

/// One rule as a `SecurityGroupRule` (DescribeSecurityGroupRules, Authorize…'s reply).
pub(super) fn write_rule(x: &mut Xml, group: &SecurityGroupId, egress: bool, r: &SgRule) {
    let id = r.id_in(group, egress);
    x.leaf("securityGroupRuleId", &id)
        .leaf("groupId", group)
        .leaf("groupOwnerId", OWNER_ID)
        .leaf("isEgress", egress)
        .leaf("ipProtocol", r.protocol.api_name())
        .leaf("fromPort", r.from_port)
        .leaf("toPort", r.to_port);
    match &r.peer {
        Peer::Cidr(c) => {
            x.leaf("cidrIpv4", c);
        }
        Peer::Cidr6(c) => {
            x.leaf("cidrIpv6", c);
        }
        Peer::Group(g) => {
            x.node("referencedGroupInfo", |x| {
                x.leaf("groupId", g).leaf("userId", OWNER_ID);
            });
        }
        Peer::PrefixList(list) => {
            x.leaf("prefixListId", list);
        }
    }
    x.opt("description", r.description.as_ref())
        .leaf(
            "securityGroupRuleArn",
            format!("arn:aws:ec2:{REGION}:{OWNER_ID}:security-group-rule/{id}"),
        )
        .tags(r.tags());
}

/// DescribeSecurityGroupRules: every rule of every group, by id, group and tags.
pub(super) fn describe_security_group_rules(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let m = &*ctx.model;
    let asked = p.list("SecurityGroupRuleId");
    for id in &asked {
        m.security_group_rule(id)?;
    }
    let rules: Vec<(&SecurityGroup, bool, &SgRule, String)> = m
        .security_groups()
        .flat_map(|g| {
            let inbound = g.ingress.iter().map(move |r| (g, false, r));
            inbound.chain(g.egress.iter().map(move |r| (g, true, r)))
        })
        .map(|(g, egress, r)| (g, egress, r, r.id_in(&g.id, egress)))
        .filter(|(_, _, _, id)| asked.is_empty() || asked.contains(id))
        .collect();
    let page = describe::page(
        ctx.action,
        p,
        rules.iter(),
        |(_, _, _, id)| id.clone(),
        |(g, _, r, id), name| match name {
            "group-id" => one(&g.id),
            "security-group-rule-id" => one(id),
            _ => tag_attr(r.tags(), name),
        },
    )?;
    page.write(x, "securityGroupRuleSet", |x, (g, egress, r, _)| write_rule(x, &g.id, *egress, r));
    Ok(())
}

/// ModifySecurityGroupRules: rules replaced in place, by id.
pub(super) fn modify_security_group_rules(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let group = sg_id(p.required("GroupId")?)?;
    let mut changes = Vec::new();
    for i in 1.. {
        let prefix = format!("SecurityGroupRule.{i}");
        let Some(rule_id) = p.get(&format!("{prefix}.SecurityGroupRuleId")) else { break };
        let r = format!("{prefix}.SecurityGroupRule");
        let protocol = Protocol::parse(p.required(&format!("{r}.IpProtocol"))?)?;
        let port = |name: &str| port(p, &format!("{r}.{name}"));
        let peer = match (
            p.get(&format!("{r}.CidrIpv4")),
            p.get(&format!("{r}.CidrIpv6")),
            p.get(&format!("{r}.ReferencedGroupId")),
            p.get(&format!("{r}.PrefixListId")),
        ) {
            (Some(c), None, None, None) => Peer::Cidr(cidr_ip(c)?),
            (None, Some(c), None, None) => Peer::Cidr6(cidr_ipv6(c)?),
            (None, None, Some(g), None) => Peer::Group(sg_id(g)?),
            (None, None, None, Some(list)) => Peer::PrefixList(
                vpclab_model::PrefixListId::parse(list)
                    .ok_or_else(|| malformed("InvalidPrefixListID.Malformed", "pl", list))?,
            ),
            _ => {
                return Err(ApiError {
                    code: "InvalidParameterCombination",
                    message: "A rule needs exactly one of CidrIpv4, CidrIpv6, ReferencedGroupId \
                              and PrefixListId."
                        .into(),
                });
            }
        };
        let description = p.get(&format!("{r}.Description")).map(str::to_owned);
        let rule = SgRule::new(protocol, port("FromPort")?, port("ToPort")?, peer, description)?;
        changes.push((rule_id.to_owned(), rule));
    }
    if changes.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter SecurityGroupRule".into(),
        });
    }
    ctx.model.modify_security_group_rules(&group, changes)?;
    x.leaf("return", "true");
    Ok(())
}

/// The group a call names by `GroupId` or (in its VPC, or any) `GroupName`.
pub(super) fn group_of(m: &Model, p: &Params) -> Result<SecurityGroupId, ApiError> {
    if let Some(id) = p.get("GroupId") {
        let id = sg_id(id)?;
        m.security_group(&id)?;
        return Ok(id);
    }
    group_named(m, p.required("GroupName")?, None)
}

/// The group called `name` in `vpc` — or, with none, in the default VPC, as AWS reads a
/// bare `GroupName` (every VPC has a group called `default`).
pub(super) fn group_named(
    m: &Model,
    name: &str,
    vpc: Option<&VpcId>,
) -> Result<SecurityGroupId, ApiError> {
    let vpc = vpc.or(m.default_vpc().map(|v| &v.id));
    let in_vpc = |g: &&SecurityGroup| Some(&g.vpc) == vpc;
    m.security_groups().filter(in_vpc).find(|g| g.name == name).map(|g| g.id.clone()).ok_or_else(
        || ApiError {
            code: "InvalidGroup.NotFound",
            message: match vpc {
                Some(vpc) => format!("The security group '{name}' does not exist in VPC '{vpc}'"),
                None => format!(
                    "The security group '{name}' does not exist in default VPC 'none': name \
                     a group of another VPC by its id"
                ),
            },
        },
    )
}

/// A rule's IPv4 range (`CidrIp`, `CidrIpv4`), canonical.
fn cidr_ip(text: &str) -> Result<ipnet::Ipv4Net, ApiError> {
    let cidr: ipnet::Ipv4Net =
        text.parse().map_err(|_| invalid(format!("CIDR block {text} is malformed")))?;
    Ok(cidr.trunc())
}

/// A rule's IPv6 range (`CidrIpv6`), canonical.
fn cidr_ipv6(text: &str) -> Result<ipnet::Ipv6Net, ApiError> {
    let cidr: ipnet::Ipv6Net =
        text.parse().map_err(|_| invalid(format!("CIDR block {text} is malformed")))?;
    Ok(cidr.trunc())
}

/// A port (or ICMP type or code) parameter; -1 when absent.
fn port(p: &Params, name: &str) -> Result<i32, ApiError> {
    match p.get(name) {
        None => Ok(-1),
        Some(v) => v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for {name}"))),
    }
}

pub(super) fn create_security_group(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let name = p.required("GroupName")?;
    let description = p.required("GroupDescription")?;
    let vpc = match p.get("VpcId") {
        Some(v) => vpc_id(v)?,
        // No VPC named: the default VPC's, as on AWS.
        None => match ctx.model.default_vpc() {
            Some(vpc) => vpc.id.clone(),
            None => {
                return Err(ApiError {
                    code: "VPCIdNotSpecified",
                    message: "No default VPC for this user".into(),
                });
            }
        },
    };
    let id = ctx.model.create_security_group(
        &vpc,
        name,
        description,
        p.tag_specifications("security-group")?,
    )?;
    let g = ctx.model.security_group(&id)?;
    x.leaf("return", "true")
        .leaf("groupId", &id)
        .leaf("securityGroupArn", format!("arn:aws:ec2:{REGION}:{OWNER_ID}:security-group/{id}"))
        .tags(&g.tags);
    Ok(())
}

pub(super) fn delete_security_group(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = group_of(ctx.model, p)?;
    ctx.model.delete_security_group(&id)?;
    x.leaf("return", "true").leaf("groupId", id);
    Ok(())
}

pub(super) fn describe_security_groups(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "GroupId", sg_id)?;
    let names = p.list("GroupName");
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.security_group(id).is_ok(),
        "InvalidGroup.NotFound",
        "security group",
    )?;
    if let Some(missing) = names.iter().find(|n| !m.security_groups().any(|g| &g.name == *n)) {
        return Err(ApiError {
            code: "InvalidGroup.NotFound",
            message: format!("The security group '{missing}' does not exist"),
        });
    }
    let groups = describe::page(
        ctx.action,
        p,
        m.security_groups().filter(|g| {
            (asked.is_empty() || asked.contains(&g.id))
                && (names.is_empty() || names.contains(&g.name))
        }),
        |g| g.id.to_string(),
        |g, name| match name {
            "group-id" => one(&g.id),
            "group-name" => one(&g.name),
            "vpc-id" => one(&g.vpc),
            "description" => one(&g.description),
            "owner-id" => one(OWNER_ID),
            "ip-permission.protocol" => {
                Some(g.ingress.iter().map(|r| r.protocol.api_name()).collect())
            }
            "ip-permission.cidr" => Some(
                g.ingress
                    .iter()
                    .filter_map(|r| match &r.peer {
                        Peer::Cidr(c) => Some(c.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            "ip-permission.ipv6-cidr" | "egress.ip-permission.ipv6-cidr" => {
                let rules = if name.starts_with("egress") { &g.egress } else { &g.ingress };
                Some(
                    rules
                        .iter()
                        .filter_map(|r| match &r.peer {
                            Peer::Cidr6(c) => Some(c.to_string()),
                            _ => None,
                        })
                        .collect(),
                )
            }
            "ip-permission.prefix-list-id" | "egress.ip-permission.prefix-list-id" => {
                let rules = if name.starts_with("egress") { &g.egress } else { &g.ingress };
                Some(
                    rules
                        .iter()
                        .filter_map(|r| match &r.peer {
                            Peer::PrefixList(p) => Some(p.to_string()),
                            _ => None,
                        })
                        .collect(),
                )
            }
            _ => tag_attr(&g.tags, name),
        },
    )?;
    groups.write(x, "securityGroupInfo", write_security_group);
    Ok(())
}

/// A rule's peer group must be of this account: there is only one.
fn same_account(owner: Option<&str>) -> Result<(), ApiError> {
    match owner {
        Some(owner) if owner != OWNER_ID => Err(ApiError {
            code: "InvalidGroup.NotFound",
            message: format!(
                "vpclab has one account ({OWNER_ID}): no security groups of {owner} to refer to"
            ),
        }),
        _ => Ok(()),
    }
}

/// The rules of an Authorize/Revoke call: `IpPermissions.N.*`, or the older top-level
/// shorthand (`IpProtocol`, `FromPort`, `ToPort`, `CidrIp`, `SourceSecurityGroup…`).
pub(super) fn rules_of(m: &Model, p: &Params, vpc: &VpcId) -> Result<Vec<SgRule>, ApiError> {
    let port = |name: &str| port(p, name);
    let mut rules = Vec::new();
    for i in 1.. {
        let prefix = format!("IpPermissions.{i}");
        let Some(protocol) = p.get(&format!("{prefix}.IpProtocol")) else { break };
        let protocol = Protocol::parse(protocol)?;
        let from = port(&format!("{prefix}.FromPort"))?;
        let to = port(&format!("{prefix}.ToPort"))?;
        let mut peers = Vec::new();
        for j in 1.. {
            let Some(cidr) = p.get(&format!("{prefix}.IpRanges.{j}.CidrIp")) else { break };
            peers.push((
                Peer::Cidr(cidr_ip(cidr)?),
                p.get(&format!("{prefix}.IpRanges.{j}.Description")).map(str::to_owned),
            ));
        }
        for j in 1.. {
            let Some(cidr) = p.get(&format!("{prefix}.Ipv6Ranges.{j}.CidrIpv6")) else { break };
            peers.push((
                Peer::Cidr6(cidr_ipv6(cidr)?),
                p.get(&format!("{prefix}.Ipv6Ranges.{j}.Description")).map(str::to_owned),
            ));
        }
        for j in 1.. {
            let Some(list) = p.get(&format!("{prefix}.PrefixListIds.{j}.PrefixListId")) else {
                break;
            };
            let list = vpclab_model::PrefixListId::parse(list)
                .ok_or_else(|| malformed("InvalidPrefixListID.Malformed", "pl", list))?;
            peers.push((
                Peer::PrefixList(list),
                p.get(&format!("{prefix}.PrefixListIds.{j}.Description")).map(str::to_owned),
            ));
        }
        for list in ["Groups", "UserIdGroupPairs"] {
            for j in 1.. {
                let id = p.get(&format!("{prefix}.{list}.{j}.GroupId"));
                let name = p.get(&format!("{prefix}.{list}.{j}.GroupName"));
                same_account(p.get(&format!("{prefix}.{list}.{j}.UserId")))?;
                let group = match (id, name) {
                    (Some(id), _) => sg_id(id)?,
                    (None, Some(name)) => group_named(m, name, Some(vpc))?,
                    (None, None) => break,
                };
                peers.push((
                    Peer::Group(group),
                    p.get(&format!("{prefix}.{list}.{j}.Description")).map(str::to_owned),
                ));
            }
        }
        if peers.is_empty() {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain a CIDR or a source security group".into(),
            });
        }
        for (peer, description) in peers {
            rules.push(SgRule::new(protocol, from, to, peer, description)?);
        }
    }
    if rules.is_empty() {
        let Some(protocol) = p.get("IpProtocol") else {
            return Err(ApiError {
                code: "MissingParameter",
                message: "The request must contain the parameter ipPermissions".into(),
            });
        };
        let protocol = Protocol::parse(protocol)?;
        same_account(p.get("SourceSecurityGroupOwnerId"))?;
        let peer = match (
            p.get("CidrIp"),
            p.get("SourceSecurityGroupId"),
            p.get("SourceSecurityGroupName"),
        ) {
            (Some(c), _, _) => Peer::Cidr(cidr_ip(c)?),
            (None, Some(id), _) => Peer::Group(sg_id(id)?),
            (None, None, Some(name)) => Peer::Group(group_named(m, name, Some(vpc))?),
            (None, None, None) => {
                return Err(ApiError {
                    code: "MissingParameter",
                    message: "The request must contain a CIDR or a source security group".into(),
                });
            }
        };
        rules.push(SgRule::new(protocol, port("FromPort")?, port("ToPort")?, peer, None)?);
    }
    Ok(rules)
}

pub(super) fn change_rules(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    egress: bool,
    authorize: bool,
) -> Result<(), ApiError> {
    let id = group_of(ctx.model, p)?;
    if !authorize {
        // By rule id (`SecurityGroupRuleId.N`), or by what the rules are.
        let rule_ids = p.list("SecurityGroupRuleId");
        if rule_ids.is_empty() {
            let vpc = ctx.model.security_group(&id)?.vpc.clone();
            ctx.model.revoke(&id, egress, &rules_of(ctx.model, p, &vpc)?)?;
        } else {
            ctx.model.revoke_by_ids(&id, egress, &rule_ids)?;
        }
        x.leaf("return", "true");
        return Ok(());
    }
    let tags = p.tag_specifications("security-group-rule")?;
    let vpc = ctx.model.security_group(&id)?.vpc.clone();
    let rules = rules_of(ctx.model, p, &vpc)?;
    let rules = rules.into_iter().map(|r| r.with_tags(tags.clone())).collect();
    let added = ctx.model.authorize(&id, egress, rules)?;
    x.leaf("return", "true").set("securityGroupRuleSet", &added, |x, r| {
        write_rule(x, &id, egress, r);
    });
    Ok(())
}

pub(super) fn authorize_ingress(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    change_rules(ctx, p, x, false, true)
}

pub(super) fn authorize_egress(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    change_rules(ctx, p, x, true, true)
}

pub(super) fn revoke_ingress(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    change_rules(ctx, p, x, false, false)
}

pub(super) fn revoke_egress(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    change_rules(ctx, p, x, true, false)
}
