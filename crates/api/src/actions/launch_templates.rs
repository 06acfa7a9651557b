//! Launch templates, and RunInstances from one.

use std::collections::BTreeMap;

use vpclab_model::{LaunchTemplate, LaunchTemplateId, LaunchTemplateVersion};

use super::*;

fn lt_id(value: &str) -> Result<LaunchTemplateId, ApiError> {
    LaunchTemplateId::parse(value)
        .ok_or_else(|| malformed("InvalidLaunchTemplateId.Malformed", "lt", value))
}

/// The template a call names by `LaunchTemplateId` or `LaunchTemplateName`.
fn named<'m>(m: &'m Model, p: &Params, prefix: &str) -> Result<&'m LaunchTemplate, ApiError> {
    let id = p.get(&format!("{prefix}LaunchTemplateId"));
    if let Some(id) = id {
        lt_id(id)?;
    }
    m.launch_template(id, p.get(&format!("{prefix}LaunchTemplateName")))
}

fn write_template(x: &mut Xml, t: &LaunchTemplate) {
    x.leaf("launchTemplateId", &t.id)
        .leaf("launchTemplateName", &t.name)
        .leaf("createTime", iso8601(t.created_at))
        .leaf("createdBy", format!("arn:aws:iam::{OWNER_ID}:root"))
        .leaf("defaultVersionNumber", t.default_version)
        .leaf("latestVersionNumber", t.latest_version())
        .tags(&t.tags);
}

fn write_version(x: &mut Xml, t: &LaunchTemplate, v: &LaunchTemplateVersion) {
    x.leaf("launchTemplateId", &t.id)
        .leaf("launchTemplateName", &t.name)
        .leaf("versionNumber", v.number)
        .opt("versionDescription", v.description.as_ref())
        .leaf("createTime", iso8601(v.created_at))
        .leaf("createdBy", format!("arn:aws:iam::{OWNER_ID}:root"))
        .leaf("defaultVersion", v.number == t.default_version)
        .node("launchTemplateData", |x| write_data(x, &v.data));
}

/// A template's data in `ResponseLaunchTemplateData`'s shape, from the Query names it was
/// given: `InstanceType` → `<instanceType>`, `NetworkInterface.1.SubnetId` →
/// `<networkInterfaceSet><item><subnetId>`, `SecurityGroupId.1` →
/// `<securityGroupIdSet><item>`.
fn write_data(x: &mut Xml, data: &BTreeMap<String, String>) {
    #[derive(Default)]
    struct Node {
        value: Option<String>,
        children: BTreeMap<String, Node>,
    }
    let mut root = Node::default();
    for (key, value) in data {
        let mut node = &mut root;
        for part in key.split('.') {
            node = node.children.entry(part.to_owned()).or_default();
        }
        node.value = Some(value.clone());
    }
    fn is_list(node: &Node) -> bool {
        !node.children.is_empty() && node.children.keys().all(|k| k.parse::<u32>().is_ok())
    }
    fn element(parent: &str, name: &str, list: bool) -> String {
        let set = match (parent, name) {
            ("NetworkInterface", "SecurityGroupId") => "groupSet",
            (_, "LicenseSpecification") => "licenseSet",
            (_, "Tag") => "tagSet",
            _ => "",
        };
        if !set.is_empty() {
            return set.to_owned();
        }
        let mut chars = name.chars();
        let mut out: String = chars.next().map(|c| c.to_ascii_lowercase()).into_iter().collect();
        out.extend(chars);
        if list {
            out.push_str("Set");
        }
        out
    }
    fn write(x: &mut Xml, parent: &str, node: &Node) {
        for (name, child) in &node.children {
            if is_list(child) {
                let mut items: Vec<(u32, &Node)> =
                    child.children.iter().map(|(k, n)| (k.parse().unwrap_or(0), n)).collect();
                items.sort_by_key(|(k, _)| *k);
                x.set(&element(parent, name, true), items, |x, (_, item)| match &item.value {
                    Some(value) if item.children.is_empty() => {
                        x.text(value);
                    }
                    _ => write(x, name, item),
                });
            } else if child.children.is_empty() {
                x.leaf(&element(parent, name, false), child.value.as_deref().unwrap_or_default());
            } else {
                x.node(&element(parent, name, false), |x| write(x, name, child));
            }
        }
    }
    write(x, "", &root);
}

pub(super) fn create_launch_template(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let name = p.required("LaunchTemplateName")?;
    let data = p.prefixed("LaunchTemplateData");
    let description = p.get("VersionDescription").map(str::to_owned);
    let tags = p.tag_specifications("launch-template")?;
    let id = ctx.model.create_launch_template(name, description, data, tags, ctx.now)?;
    let t = ctx.model.launch_template(Some(id.as_str()), None)?;
    x.node("launchTemplate", |x| write_template(x, t));
    Ok(())
}

pub(super) fn create_launch_template_version(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = named(ctx.model, p, "")?.id.clone();
    let data = p.prefixed("LaunchTemplateData");
    let description = p.get("VersionDescription").map(str::to_owned);
    let number = ctx.model.create_launch_template_version(
        &id,
        p.get("SourceVersion"),
        description,
        data,
        ctx.now,
    )?;
    let t = ctx.model.launch_template(Some(id.as_str()), None)?;
    let v = t.version(Some(&number.to_string()))?;
    x.node("launchTemplateVersion", |x| write_version(x, t, v));
    Ok(())
}

pub(super) fn modify_launch_template(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = named(ctx.model, p, "")?.id.clone();
    let version = p.get("SetDefaultVersion").ok_or_else(|| ApiError {
        code: "MissingParameter",
        message: "The request must contain the parameter SetDefaultVersion".into(),
    })?;
    ctx.model.set_default_launch_template_version(&id, version)?;
    let t = ctx.model.launch_template(Some(id.as_str()), None)?;
    x.node("launchTemplate", |x| write_template(x, t));
    Ok(())
}

pub(super) fn delete_launch_template(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let id = named(ctx.model, p, "")?.id.clone();
    let t = ctx.model.delete_launch_template(&id)?;
    x.node("launchTemplate", |x| write_template(x, &t));
    Ok(())
}

pub(super) fn delete_launch_template_versions(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let t = named(ctx.model, p, "")?;
    let (id, name) = (t.id.clone(), t.name.clone());
    let asked = p.list("LaunchTemplateVersion");
    if asked.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter LaunchTemplateVersion".into(),
        });
    }
    let outcomes = ctx.model.delete_launch_template_versions(&id, &asked)?;
    let done: Vec<u64> = outcomes.iter().filter_map(|(_, r)| r.as_ref().ok().copied()).collect();
    let failed: Vec<(&String, &ApiError)> =
        outcomes.iter().filter_map(|(v, r)| r.as_ref().err().map(|e| (v, e))).collect();
    x.set("successfullyDeletedLaunchTemplateVersionSet", done, |x, number| {
        x.leaf("launchTemplateId", &id)
            .leaf("launchTemplateName", &name)
            .leaf("versionNumber", number);
    })
    .set("unsuccessfullyDeletedLaunchTemplateVersionSet", failed, |x, (version, e)| {
        x.leaf("launchTemplateId", &id)
            .leaf("launchTemplateName", &name)
            .leaf("versionNumber", version)
            .node("responseError", |x| {
                x.leaf("code", e.code).leaf("message", &e.message);
            });
    });
    Ok(())
}

pub(super) fn describe_launch_templates(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let m = &*ctx.model;
    let ids = p.list("LaunchTemplateId");
    let names = p.list("LaunchTemplateName");
    for id in &ids {
        m.launch_template(Some(id), None)?;
    }
    for name in &names {
        m.launch_template(None, Some(name))?;
    }
    let page = describe::page(
        ctx.action,
        p,
        m.launch_templates().filter(|t| {
            (ids.is_empty() || ids.iter().any(|i| i == t.id.as_str()))
                && (names.is_empty() || names.contains(&t.name))
        }),
        |t| t.id.to_string(),
        |t, name| match name {
            "launch-template-name" => one(&t.name),
            "create-time" => one(iso8601(t.created_at)),
            _ => tag_attr(&t.tags, name),
        },
    )?;
    page.write(x, "launchTemplates", write_template);
    Ok(())
}

pub(super) fn describe_launch_template_versions(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let m = &*ctx.model;
    let t = named(m, p, "")?;
    let asked = p.list("LaunchTemplateVersion");
    let mut chosen: Vec<&LaunchTemplateVersion> = Vec::new();
    for which in &asked {
        chosen.push(t.version(Some(which))?);
    }
    let bound = |name: &str| -> Result<Option<u64>, ApiError> {
        p.get(name)
            .map(|v| v.parse().map_err(|_| invalid(format!("Value ({v}) for {name} is invalid."))))
            .transpose()
    };
    let (min, max) = (bound("MinVersion")?, bound("MaxVersion")?);
    let versions = t.versions.iter().filter(|v| {
        (asked.is_empty() || chosen.iter().any(|c| c.number == v.number))
            && min.is_none_or(|min| v.number >= min)
            && max.is_none_or(|max| v.number <= max)
    });
    let page = describe::page(
        ctx.action,
        p,
        versions,
        |v| format!("{:020}", v.number),
        |v, name| match name {
            "is-default-version" => one(v.number == t.default_version),
            "instance-type" => Some(v.data.get("InstanceType").cloned().into_iter().collect()),
            "image-id" => Some(v.data.get("ImageId").cloned().into_iter().collect()),
            "create-time" => one(iso8601(v.created_at)),
            _ => None,
        },
    )?;
    page.write(x, "launchTemplateVersionSet", |x, v| write_version(x, t, v));
    Ok(())
}

/// RunInstances with `LaunchTemplate.*`: the call over the template version's parameters
/// (its own win), launched as any other. A template parameter that the launch does not read is refused as one of the call's own
/// would be.
pub(super) fn run_from_template(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
    launch: fn(&mut Context<'_>, &Params, &mut Xml) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let t = named(ctx.model, p, "LaunchTemplate.")?;
    let version = t.version(p.get("LaunchTemplate.Version"))?;
    let data = version.data.clone();
    let merged = p.over(&data);
    let result = launch(ctx, &merged, x);
    p.note_read_in(&merged);
    result?;
    let ignored = merged
        .unread()
        .into_iter()
        .find(|(name, value)| !p.has(name) && !asks_nothing("RunInstances", name, value));
    if let Some((name, value)) = ignored {
        return Err(ApiError {
            code: "InvalidParameter",
            message: format!(
                "vpclab does not implement the launch template's parameter {name} ({value}); \
                 make a version without it"
            ),
        });
    }
    Ok(())
}
