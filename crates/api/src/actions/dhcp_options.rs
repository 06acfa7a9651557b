//! DHCP options sets.

use std::collections::BTreeMap;

use vpclab_model::DhcpOptions;

use super::*;

pub(super) fn write_dhcp_options(x: &mut Xml, d: &DhcpOptions) {
    x.leaf("dhcpOptionsId", &d.id)
        .leaf("ownerId", OWNER_ID)
        .set("dhcpConfigurationSet", &d.config, |x, (key, values)| {
            x.leaf("key", key).set("valueSet", values, |x, v| {
                x.leaf("value", v);
            });
        })
        .tags(&d.tags);
}

pub(super) fn create_dhcp_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let mut config: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 1.. {
        let Some(key) = p.get(&format!("DhcpConfiguration.{i}.Key")) else { break };
        // One value may carry several, space-separated (as the console and CLI send
        // domain names).
        let values = p.list(&format!("DhcpConfiguration.{i}.Value"));
        if config.insert(key.to_owned(), values).is_some() {
            return Err(invalid(format!("The DHCP option {key} is given more than once.")));
        }
    }
    let id = ctx.model.create_dhcp_options(config, p.tag_specifications("dhcp-options")?)?;
    let d = ctx.model.dhcp_options(&id)?;
    x.node("dhcpOptions", |x| write_dhcp_options(x, d));
    Ok(())
}

pub(super) fn delete_dhcp_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = dopt_id(p.required("DhcpOptionsId")?)?;
    ctx.model.delete_dhcp_options(&id)?;
    x.leaf("return", "true");
    Ok(())
}

/// AssociateDhcpOptions: a set, or `default` for none.
pub(super) fn associate_dhcp_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let set = match p.required("DhcpOptionsId")? {
        "default" => None,
        id => Some(dopt_id(id)?),
    };
    let vpc = vpc_id(p.required("VpcId")?)?;
    ctx.model.associate_dhcp_options(&vpc, set)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_dhcp_options(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = ids(p, "DhcpOptionsId", dopt_id)?;
    let m = &*ctx.model;
    require_all(
        &asked,
        |id| m.dhcp_options(id).is_ok(),
        "InvalidDhcpOptionID.NotFound",
        "dhcpOption",
    )?;
    let page = describe::page(
        ctx.action,
        p,
        m.dhcp_options_sets().filter(|d| asked.is_empty() || asked.contains(&d.id)),
        |d| d.id.to_string(),
        |d, name| match name {
            "dhcp-options-id" => one(&d.id),
            "key" => Some(d.config.keys().cloned().collect()),
            "value" => Some(d.config.values().flatten().cloned().collect()),
            "owner-id" => one(OWNER_ID),
            _ => tag_attr(&d.tags, name),
        },
    )?;
    page.write(x, "dhcpOptionsSet", write_dhcp_options);
    Ok(())
}
