//! Tags on any resource.

use super::*;

pub(super) fn create_tags(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let resources = p.list("ResourceId");
    if resources.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ResourceId".into(),
        });
    }
    ctx.model.create_tags(&resources, &p.tags("Tag"))?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn delete_tags(ctx: &mut Context<'_>, p: &Params, x: &mut Xml) -> Result<(), ApiError> {
    let resources = p.list("ResourceId");
    if resources.is_empty() {
        return Err(ApiError {
            code: "MissingParameter",
            message: "The request must contain the parameter ResourceId".into(),
        });
    }
    let keys: Vec<(String, Option<String>)> = (1..)
        .map_while(|i| {
            let key = p.get(&format!("Tag.{i}.Key"))?.to_owned();
            Some((key, p.get(&format!("Tag.{i}.Value")).map(str::to_owned)))
        })
        .collect();
    ctx.model.delete_tags(&resources, &keys)?;
    x.leaf("return", "true");
    Ok(())
}

pub(super) fn describe_tags(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let all = ctx.model.all_tags();
    let tags = describe::page(
        ctx.action,
        p,
        all.iter(),
        |(id, _, key, _)| format!("{id}\u{0}{key}"),
        |(id, kind, key, value), name| match name {
            "resource-id" => one(id),
            "resource-type" => one(kind),
            "key" => one(key),
            "value" => one(value),
            _ => None,
        },
    )?;
    tags.write(x, "tagSet", |x, (id, kind, key, value)| {
        x.leaf("resourceId", id).leaf("resourceType", kind).leaf("key", key).leaf("value", value);
    });
    Ok(())
}
