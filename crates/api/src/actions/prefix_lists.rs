//! Managed prefix lists: the account's own, and AWS's listed beside them.

use vpclab_model::{ManagedPrefixList, PrefixListChange, PrefixListEntry, PrefixListId};

use super::*;

fn pl_id(value: &str) -> Result<PrefixListId, ApiError> {
    PrefixListId::parse(value)
        .ok_or_else(|| malformed("InvalidPrefixListID.Malformed", "pl", value))
}

/// The entries `Prefix.N.Cidr` / `Prefix.N.Description`.
fn entries(p: &Params, prefix: &str) -> Result<Vec<PrefixListEntry>, ApiError> {
    let mut out = Vec::new();
    for i in 1.. {
        let Some(text) = p.get(&format!("{prefix}.{i}.Cidr")) else { break };
        let cidr: Ipv4Net = text.parse().map_err(|_| {
            invalid(format!("The CIDR {text} is invalid: vpclab's prefix lists are IPv4."))
        })?;
        let description = p.get(&format!("{prefix}.{i}.Description")).map(str::to_owned);
        out.push(PrefixListEntry { cidr, description });
    }
    if out.len() > 100 {
        return Err(invalid("At most 100 entries can be given in one request."));
    }
    Ok(out)
}

fn arn(id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{OWNER_ID}:prefix-list/{id}")
}

fn write_list(x: &mut Xml, l: &ManagedPrefixList, state: &str) {
    x.leaf("prefixListId", &l.id)
        .leaf("addressFamily", "IPv4")
        .leaf("state", state)
        .leaf("prefixListArn", arn(l.id.as_str()))
        .leaf("prefixListName", &l.name)
        .leaf("maxEntries", l.max_entries)
        .leaf("version", l.version)
        .tags(&l.tags)
        .leaf("ownerId", OWNER_ID);
}

pub(super) fn create_managed_prefix_list(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let name = p.required("PrefixListName")?;
    let family = p.required("AddressFamily")?;
    if family != "IPv4" {
        return Err(invalid(format!(
            "Value ({family}) for parameter AddressFamily is invalid: vpclab has IPv4 only."
        )));
    }
    let max = p.u32("MaxEntries")?.ok_or_else(|| ApiError {
        code: "MissingParameter",
        message: "The request must contain the parameter MaxEntries".into(),
    })?;
    let tags = p.tag_specifications("prefix-list")?;
    let id = ctx.model.create_managed_prefix_list(name, max, entries(p, "Entry")?, tags)?;
    let list = ctx.model.managed_prefix_list(&id)?;
    x.node("prefixList", |x| write_list(x, list, "create-complete"));
    Ok(())
}

pub(super) fn modify_managed_prefix_list(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = pl_id(p.required("PrefixListId")?)?;
    let remove = (1..)
        .map_while(|i| p.get(&format!("RemoveEntry.{i}.Cidr")))
        .map(|c| c.parse::<Ipv4Net>().map_err(|_| invalid(format!("The CIDR {c} is invalid."))))
        .collect::<Result<Vec<_>, _>>()?;
    let change = PrefixListChange {
        current_version: p.get("CurrentVersion").map(|v| v.parse().unwrap_or(0)),
        name: p.get("PrefixListName").map(str::to_owned),
        add: entries(p, "AddEntry")?,
        remove,
        max_entries: p.u32("MaxEntries")?,
    };
    ctx.model.modify_managed_prefix_list(&id, change)?;
    let list = ctx.model.managed_prefix_list(&id)?;
    x.node("prefixList", |x| write_list(x, list, "modify-complete"));
    Ok(())
}

pub(super) fn delete_managed_prefix_list(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = pl_id(p.required("PrefixListId")?)?;
    let list = ctx.model.managed_prefix_list(&id)?.clone();
    ctx.model.delete_managed_prefix_list(&id)?;
    x.node("prefixList", |x| write_list(x, &list, "delete-complete"));
    Ok(())
}

/// One list as DescribeManagedPrefixLists shows it: the account's, or AWS's.
enum Listed<'a> {
    Mine(&'a ManagedPrefixList),
    Aws(&'static str, &'static str),
}

impl Listed<'_> {
    fn id(&self) -> &str {
        match self {
            Listed::Mine(l) => l.id.as_str(),
            Listed::Aws(id, _) => id,
        }
    }

    fn name(&self) -> &str {
        match self {
            Listed::Mine(l) => &l.name,
            Listed::Aws(_, name) => name,
        }
    }
}

pub(super) fn describe_managed_prefix_lists(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let m = &*ctx.model;
    let all: Vec<Listed<'_>> = m
        .managed_prefix_lists()
        .map(Listed::Mine)
        .chain(PREFIX_LISTS.iter().map(|(id, name, _)| Listed::Aws(id, name)))
        .collect();
    let asked = p.list("PrefixListId");
    if let Some(missing) = asked.iter().find(|a| !all.iter().any(|l| l.id() == a.as_str())) {
        return Err(ApiError {
            code: "InvalidPrefixListID.NotFound",
            message: format!("The prefix list ID '{missing}' does not exist"),
        });
    }
    let page = describe::page(
        ctx.action,
        p,
        all.iter().filter(|l| asked.is_empty() || asked.iter().any(|a| a == l.id())),
        |l| l.id().to_owned(),
        |l, name| match name {
            "prefix-list-id" => one(l.id()),
            "prefix-list-name" => one(l.name()),
            "owner-id" => one(if matches!(l, Listed::Mine(_)) { OWNER_ID } else { "AWS" }),
            _ => match l {
                Listed::Mine(list) => tag_attr(&list.tags, name),
                Listed::Aws(..) => tag_attr(&Tags::new(), name),
            },
        },
    )?;
    page.write(x, "prefixListSet", |x, l| match l {
        Listed::Mine(list) => write_list(x, list, "create-complete"),
        Listed::Aws(id, name) => {
            x.leaf("prefixListId", id)
                .leaf("addressFamily", "IPv4")
                .leaf("state", "create-complete")
                .leaf("prefixListArn", format!("arn:aws:ec2:{REGION}:aws:prefix-list/{id}"))
                .leaf("prefixListName", name)
                .tags(&Tags::new())
                .leaf("ownerId", "AWS");
        }
    });
    Ok(())
}

pub(super) fn get_managed_prefix_list_entries(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = p.required("PrefixListId")?;
    let version = p.get("TargetVersion").map(|v| v.parse::<u64>().unwrap_or(0));
    // AWS's own lists have their one block.
    let entries = match PREFIX_LISTS.iter().find(|(pl, _, _)| *pl == id) {
        Some((_, _, cidr)) => {
            vec![PrefixListEntry { cidr: cidr.parse().expect("a CIDR"), description: None }]
        }
        None => ctx.model.prefix_list_entries(&pl_id(id)?, version)?,
    };
    let page = describe::page(ctx.action, p, entries.iter(), |e| e.cidr.to_string(), |_, _| None)?;
    page.write(x, "entrySet", |x, e| {
        x.leaf("cidr", e.cidr).opt("description", e.description.as_ref());
    });
    Ok(())
}

pub(super) fn get_managed_prefix_list_associations(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = pl_id(p.required("PrefixListId")?)?;
    ctx.model.managed_prefix_list(&id)?;
    let (tables, groups) = ctx.model.prefix_list_associations(&id);
    let users: Vec<String> = tables
        .iter()
        .map(ToString::to_string)
        .chain(groups.iter().map(ToString::to_string))
        .collect();
    let page = describe::page(ctx.action, p, users.iter(), Clone::clone, |_, _| None)?;
    page.write(x, "prefixListAssociationSet", |x, user| {
        x.leaf("resourceId", user).leaf("resourceOwner", OWNER_ID);
    });
    Ok(())
}
