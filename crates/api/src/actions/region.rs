//! The region: its zones and the public images it offers.

use super::*;

pub(super) fn describe_availability_zones(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let names = p.list("ZoneName");
    let zones = describe::page(
        ctx.action,
        p,
        ZONES.iter().filter(|z| names.is_empty() || names.iter().any(|n| n == *z)),
        |z| z.to_string(),
        |z, name| match name {
            "zone-name" => one(z),
            "zone-id" => one(zone_id(z)),
            "region-name" => one(REGION),
            "state" => one("available"),
            "zone-type" => one("availability-zone"),
            _ => None,
        },
    )?;
    zones.write(x, "availabilityZoneInfo", |x, z| {
        x.leaf("zoneName", z)
            .leaf("zoneState", "available")
            .leaf("regionName", REGION)
            .leaf("zoneId", zone_id(z))
            .leaf("zoneType", "availability-zone")
            .leaf("optInStatus", "opt-in-not-required")
            .leaf("groupName", REGION)
            .leaf("networkBorderGroup", REGION)
            .set("messageSet", std::iter::empty::<()>(), |_, ()| {});
    });
    Ok(())
}

pub(super) fn describe_regions(
    _: &mut Context<'_>,
    _: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    x.set("regionInfo", [REGION], |x, r| {
        x.leaf("regionName", r)
            .leaf("regionEndpoint", format!("ec2.{r}.amazonaws.com"))
            .leaf("optInStatus", "opt-in-not-required");
    });
    Ok(())
}

/// The images DescribeImages lists: the public AMIs tutorials look up by name. Any image
/// id launches; these are the ones a `describe-images --owners amazon --filters
/// Name=name,Values=al2023-ami-2023*` finds.
pub(super) const IMAGES: &[(&str, &str, &str, &str, &str)] = &[
    // (id, name, owner id, owner alias, architecture)
    (
        "ami-0a3c3a20c09d6f377",
        "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64",
        "137112412989",
        "amazon",
        "x86_64",
    ),
    (
        "ami-0b8d2b8f1a9c3e4d5",
        "al2023-ami-2023.6.20241121.0-kernel-6.1-arm64",
        "137112412989",
        "amazon",
        "arm64",
    ),
    (
        "ami-0c1f2e3d4b5a69788",
        "amzn2-ami-kernel-5.10-hvm-2.0.20241113.1-x86_64-gp2",
        "137112412989",
        "amazon",
        "x86_64",
    ),
    (
        "ami-0e2c8d7f6a5b4c3d2",
        "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241119",
        "099720109477",
        "",
        "x86_64",
    ),
    (
        "ami-0f3d9e8a7b6c5d4e3",
        "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241119",
        "099720109477",
        "",
        "x86_64",
    ),
    ("ami-0d4e0f9b8c7d6e5f4", "debian-12-amd64-20241111-1928", "136693071363", "", "x86_64"),
];

pub(super) fn describe_images(
    ctx: &mut Context<'_>,
    p: &Params,
    x: &mut Xml,
) -> Result<(), ApiError> {
    let asked = p.list("ImageId");
    if let Some(missing) = asked.iter().find(|id| !IMAGES.iter().any(|i| i.0 == id.as_str())) {
        return Err(ApiError {
            code: "InvalidAMIID.NotFound",
            message: format!("The image id '[{missing}]' does not exist"),
        });
    }
    let owners = p.list("Owner");
    let owned = |(_, _, owner, alias, _): &&(&str, &str, &str, &str, &str)| {
        owners.is_empty() || owners.iter().any(|o| o == owner || (!alias.is_empty() && o == alias))
    };
    let images = describe::page(
        ctx.action,
        p,
        IMAGES.iter().filter(|i| asked.is_empty() || asked.iter().any(|a| a == i.0)).filter(owned),
        |i| i.0.to_string(),
        |(id, name, owner, alias, arch), f| match f {
            "image-id" => one(id),
            "name" => one(name),
            "owner-id" => one(owner),
            "owner-alias" => Some(
                Some(alias).filter(|a| !a.is_empty()).map(|a| a.to_string()).into_iter().collect(),
            ),
            "architecture" => one(arch),
            "state" => one("available"),
            "image-type" => one("machine"),
            "is-public" => one(true),
            "root-device-type" => one("ebs"),
            "virtualization-type" => one("hvm"),
            "platform-details" => one("Linux/UNIX"),
            _ => None,
        },
    )?;
    images.write(x, "imagesSet", |x, (id, name, owner, alias, arch)| {
        // The date is the one in the name (YYYYMMDD), as AWS's images carry it.
        let date = name
            .split(|c: char| !c.is_ascii_digit())
            .find(|d| d.len() == 8 && d.starts_with("20"))
            .map_or("2024-11-21".to_owned(), |d| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]));
        x.leaf("imageId", id)
            .leaf("imageLocation", format!("{owner}/{name}"))
            .leaf("imageState", "available")
            .leaf("imageOwnerId", owner)
            .leaf("creationDate", format!("{date}T00:00:00.000Z"))
            .leaf("isPublic", true)
            .leaf("architecture", arch)
            .leaf("imageType", "machine")
            .leaf("platformDetails", "Linux/UNIX")
            .leaf("usageOperation", "RunInstances")
            .opt("imageOwnerAlias", Some(alias).filter(|a| !a.is_empty()))
            .leaf("name", name)
            .leaf("rootDeviceType", "ebs")
            .leaf("rootDeviceName", "/dev/xvda")
            .leaf("virtualizationType", "hvm")
            .leaf("hypervisor", "xen")
            .leaf("enaSupport", true);
    });
    Ok(())
}
