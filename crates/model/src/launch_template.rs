//! Launch templates: named, versioned sets of RunInstances parameters.
//!
//! AWS semantics (EC2 User Guide, "Launch templates"): a template has versions numbered
//! from 1, a default version (1 until changed) and a latest one; versions are immutable;
//! RunInstances with a template launches with its version's parameters, those of the
//! request taking precedence. A template's data is kept as the Query parameters it was
//! given (`LaunchTemplateData.` stripped), which is what RunInstances reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::LaunchTemplateId;
use crate::{Model, Tags};

/// The members of `RequestLaunchTemplateData`, by their Query names: what a template's
/// data may hold.
pub const LAUNCH_TEMPLATE_MEMBERS: &[&str] = &[
    "BlockDeviceMapping",
    "CapacityReservationSpecification",
    "CpuOptions",
    "CreditSpecification",
    "DisableApiStop",
    "DisableApiTermination",
    "EbsOptimized",
    "ElasticGpuSpecification",
    "ElasticInferenceAccelerator",
    "EnclaveOptions",
    "HibernationOptions",
    "IamInstanceProfile",
    "ImageId",
    "InstanceInitiatedShutdownBehavior",
    "InstanceMarketOptions",
    "InstanceRequirements",
    "InstanceType",
    "KernelId",
    "KeyName",
    "LicenseSpecification",
    "MaintenanceOptions",
    "MetadataOptions",
    "Monitoring",
    "NetworkInterface",
    "NetworkPerformanceOptions",
    "Operator",
    "Placement",
    "PrivateDnsNameOptions",
    "RamDiskId",
    "SecondaryInterface",
    "SecurityGroup",
    "SecurityGroupId",
    "TagSpecification",
    "UserData",
];

/// Checks a template's data: every name a member of `RequestLaunchTemplateData` with
/// its parts (`NetworkInterface.1.SubnetId`) made of letters and digits.
pub fn check_launch_template_data(data: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for key in data.keys() {
        let wellformed = key
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        let top = key.split('.').next().unwrap_or_default();
        if !wellformed || !LAUNCH_TEMPLATE_MEMBERS.contains(&top) {
            return Err(ApiError::new(
                "UnknownParameter",
                format!("The parameter LaunchTemplateData.{key} is not recognized"),
            ));
        }
    }
    Ok(())
}

/// `over` on top of `base`, both Query parameters by name: a member `over` gives
/// replaces `base`'s whole (a list or structure is not merged item by item), as a
/// launch's parameters replace its template's and a new version's its source's.
pub fn overlay_parameters(
    base: &BTreeMap<String, String>,
    over: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let top = |key: &str| key.split('.').next().unwrap_or_default().to_owned();
    let replaced: std::collections::BTreeSet<String> = over.keys().map(|k| top(k)).collect();
    let mut out: BTreeMap<String, String> = base
        .iter()
        .filter(|(k, _)| !replaced.contains(&top(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// The most versions a template keeps (AWS's quota).
pub const MAX_LAUNCH_TEMPLATE_VERSIONS: usize = 10_000;

/// What became of one version DeleteLaunchTemplateVersions named: deleted (its number)
/// or why not.
pub type VersionOutcome = (String, Result<u64, ApiError>);

/// One version of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateVersion {
    /// Its number, from 1.
    pub number: u64,
    /// Its description.
    pub description: Option<String>,
    /// RunInstances parameters, by their Query names (`InstanceType`,
    /// `NetworkInterface.1.SubnetId`, …).
    pub data: BTreeMap<String, String>,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
}

/// A launch template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplate {
    /// `lt-…`
    pub id: LaunchTemplateId,
    /// Its name, unique in the Region.
    pub name: String,
    /// The default version.
    pub default_version: u64,
    /// Its versions, oldest first (deleted ones gone).
    pub versions: Vec<LaunchTemplateVersion>,
    /// The highest number ever given: numbers are not given twice, even when versions
    /// are deleted.
    #[serde(default)]
    pub last_number: u64,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
    /// Tags.
    pub tags: Tags,
}

impl LaunchTemplate {
    /// The latest version's number.
    pub fn latest_version(&self) -> u64 {
        self.versions.last().map_or(1, |v| v.number)
    }

    /// A version by AWS's name for it: a number, `$Latest` or `$Default` (the default
    /// without).
    pub fn version(&self, which: Option<&str>) -> Result<&LaunchTemplateVersion, ApiError> {
        let number = match which {
            None | Some("$Default") => self.default_version,
            Some("$Latest") => self.latest_version(),
            Some(n) => n.parse().map_err(|_| {
                ApiError::invalid_value(format!(
                    "The version number '{n}' is invalid: a number, $Latest or $Default."
                ))
            })?,
        };
        self.versions.iter().find(|v| v.number == number).ok_or_else(|| {
            ApiError::new(
                "InvalidLaunchTemplateId.VersionNotFound",
                format!("Could not find launch template version {number} for {}", self.id),
            )
        })
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "().-/_".contains(c);
    if !(3..=128).contains(&name.len()) || !name.chars().all(allowed) {
        return Err(ApiError::new(
            "InvalidLaunchTemplateName.MalformedException",
            format!(
                "The launch template name '{name}' is invalid: 3 to 128 letters, digits and \
                 ( ) . - / _"
            ),
        ));
    }
    Ok(())
}

impl Model {
    /// Every launch template.
    pub fn launch_templates(&self) -> impl Iterator<Item = &LaunchTemplate> {
        self.launch_templates.values()
    }

    /// A template by id or name (exactly one given).
    pub fn launch_template(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<&LaunchTemplate, ApiError> {
        match (id, name) {
            (Some(id), None) => {
                self.launch_templates.values().find(|t| t.id.as_str() == id).ok_or_else(|| {
                    ApiError::new(
                        "InvalidLaunchTemplateId.NotFound",
                        format!(
                            "The specified launch template, with template ID {id}, does not exist."
                        ),
                    )
                })
            }
            (None, Some(name)) => {
                self.launch_templates.values().find(|t| t.name == name).ok_or_else(|| {
                    ApiError::new(
                        "InvalidLaunchTemplateName.NotFoundException",
                        format!(
                            "The specified launch template, with template name {name}, does not \
                             exist."
                        ),
                    )
                })
            }
            _ => Err(ApiError::new(
                "InvalidParameterCombination",
                "Exactly one of LaunchTemplateId and LaunchTemplateName must be given.",
            )),
        }
    }

    /// CreateLaunchTemplate: version 1, the default.
    pub fn create_launch_template(
        &mut self,
        name: &str,
        description: Option<String>,
        data: BTreeMap<String, String>,
        tags: Tags,
        now: u64,
    ) -> Result<LaunchTemplateId, ApiError> {
        check_name(name)?;
        check_launch_template_data(&data)?;
        if self.launch_templates.values().any(|t| t.name == name) {
            return Err(ApiError::new(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                format!("Launch template name already in use: {name}"),
            ));
        }
        let id = LaunchTemplateId::from_raw(self.ids.fresh(LaunchTemplateId::PREFIX));
        let version = LaunchTemplateVersion { number: 1, description, data, created_at: now };
        self.launch_templates.insert(
            id.clone(),
            LaunchTemplate {
                id: id.clone(),
                name: name.to_owned(),
                default_version: 1,
                versions: vec![version],
                last_number: 1,
                created_at: now,
                tags,
            },
        );
        Ok(id)
    }

    /// CreateLaunchTemplateVersion: the next number, from `source`'s data overlaid with
    /// `data` when a source is named. Returns the number.
    pub fn create_launch_template_version(
        &mut self,
        id: &LaunchTemplateId,
        source: Option<&str>,
        description: Option<String>,
        data: BTreeMap<String, String>,
        now: u64,
    ) -> Result<u64, ApiError> {
        let template = self.launch_template(Some(id.as_str()), None)?;
        if template.versions.len() >= MAX_LAUNCH_TEMPLATE_VERSIONS {
            return Err(ApiError::new(
                "LaunchTemplateVersionLimitExceeded",
                format!("{id} has {MAX_LAUNCH_TEMPLATE_VERSIONS} versions, the most it may."),
            ));
        }
        check_launch_template_data(&data)?;
        let merged = match source {
            Some(source) => overlay_parameters(&template.version(Some(source))?.data, &data),
            None => data,
        };
        let number = template.last_number.max(template.latest_version()) + 1;
        if let Some(t) = self.launch_templates.get_mut(id) {
            t.versions.push(LaunchTemplateVersion {
                number,
                description,
                data: merged,
                created_at: now,
            });
            t.last_number = number;
        }
        Ok(number)
    }

    /// ModifyLaunchTemplate `SetDefaultVersion`.
    pub fn set_default_launch_template_version(
        &mut self,
        id: &LaunchTemplateId,
        version: &str,
    ) -> Result<(), ApiError> {
        let number = self.launch_template(Some(id.as_str()), None)?.version(Some(version))?.number;
        if let Some(t) = self.launch_templates.get_mut(id) {
            t.default_version = number;
        }
        Ok(())
    }

    /// DeleteLaunchTemplateVersions: each version's outcome (the default cannot go).
    pub fn delete_launch_template_versions(
        &mut self,
        id: &LaunchTemplateId,
        versions: &[String],
    ) -> Result<Vec<VersionOutcome>, ApiError> {
        let template = self.launch_template(Some(id.as_str()), None)?.clone();
        let mut outcomes = Vec::new();
        let mut keep = template.versions.clone();
        let mut seen = Vec::new();
        for asked in versions {
            if seen.contains(asked) {
                continue;
            }
            seen.push(asked.clone());
            let outcome = template.version(Some(asked)).and_then(|v| {
                if v.number == template.default_version {
                    Err(ApiError::new(
                        "InvalidLaunchTemplateVersion.DefaultVersion",
                        "Cannot delete the default version of a launch template.",
                    ))
                } else {
                    Ok(v.number)
                }
            });
            if let Ok(number) = &outcome {
                keep.retain(|v| v.number != *number);
            }
            outcomes.push((asked.clone(), outcome));
        }
        if let Some(t) = self.launch_templates.get_mut(id) {
            t.versions = keep;
        }
        Ok(outcomes)
    }

    /// DeleteLaunchTemplate, with every version.
    pub fn delete_launch_template(
        &mut self,
        id: &LaunchTemplateId,
    ) -> Result<LaunchTemplate, ApiError> {
        self.launch_template(Some(id.as_str()), None)?;
        Ok(self.launch_templates.remove(id).expect("just found"))
    }

    /// The tags of a template, to change.
    pub(crate) fn launch_template_tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        self.launch_templates.values_mut().find(|t| t.id.as_str() == id).map(|t| &mut t.tags)
    }
}
