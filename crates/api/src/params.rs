//! The EC2 Query protocol's parameters: a form-encoded body of `Name=value` pairs, with
//! lists spelled `Name.1`, `Name.2`, … and structures `Filter.1.Name`,
//! `Filter.1.Value.1`, ….
//!
//! [`Params`] remembers which parameters an action read, so that the service can refuse
//! a call that carried one no handler looked at ([`Params::unread`]): a parameter vpclab
//! does not implement is an error, never silently ignored.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use vpclab_model::{ApiError, Tags};

/// The parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
    /// The names read so far.
    read: RefCell<BTreeSet<String>>,
}

/// A `Filter.N` of a Describe call: a name and the values any of which may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The filter name, e.g. `vpc-id` or `tag:Name`.
    pub name: String,
    /// Values; `*` and `?` are wildcards.
    pub values: Vec<String>,
}

fn error(code: &'static str, message: String) -> ApiError {
    ApiError { code, message }
}

impl Params {
    /// Parses a form-encoded body. A parameter given twice is an error, as with AWS.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            if values.insert(key.to_string(), value.to_string()).is_some() {
                return Err(error(
                    "InvalidParameterCombination",
                    format!("The parameter {key} is specified more than once"),
                ));
            }
        }
        Ok(Self { values, read: RefCell::default() })
    }

    /// The value of `name`, noting that it was read.
    fn value(&self, name: &str) -> Option<&String> {
        let value = self.values.get(name);
        if value.is_some() {
            self.read.borrow_mut().insert(name.to_owned());
        }
        value
    }

    /// A parameter, if given (and not empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.value(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Every parameter under `prefix.`, with the prefix taken off, noted as read.
    pub fn prefixed(&self, prefix: &str) -> BTreeMap<String, String> {
        let start = format!("{prefix}.");
        let found: BTreeMap<String, String> = self
            .values
            .range(start.clone()..)
            .take_while(|(k, _)| k.starts_with(&start))
            .map(|(k, v)| (k[start.len()..].to_owned(), v.clone()))
            .collect();
        let mut read = self.read.borrow_mut();
        for key in found.keys() {
            read.insert(format!("{start}{key}"));
        }
        found
    }

    /// These parameters over `defaults`: what a call made from a template asks (a member
    /// it gives replaces the template's whole). Nothing of it is read yet.
    pub fn over(&self, defaults: &BTreeMap<String, String>) -> Params {
        let values = vpclab_model::overlay_parameters(defaults, &self.values);
        Params { values, read: RefCell::default() }
    }

    /// Notes as read here what was read in `other` (made by [`Params::over`]).
    pub fn note_read_in(&self, other: &Params) {
        let mut read = self.read.borrow_mut();
        for name in other.read.borrow().iter().filter(|n| self.values.contains_key(*n)) {
            read.insert(name.clone());
        }
    }

    /// Whether `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A parameter's value as given, without noting that it was read (for the service's
    /// own bookkeeping).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The parameters given that nothing read, in order.
    pub fn unread(&self) -> Vec<(&str, &str)> {
        let read = self.read.borrow();
        self.values
            .iter()
            .filter(|(name, _)| !read.contains(name.as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }

    /// A parameter that must be given.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| {
            error("MissingParameter", format!("The request must contain the parameter {name}"))
        })
    }

    /// A boolean parameter (`true`/`false`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(error(
                "InvalidParameterValue",
                format!(
                    "Value ({v}) for parameter {name} is invalid. Expected: 'true' or 'false'."
                ),
            )),
        }
    }

    /// An integer parameter.
    pub fn u32(&self, name: &str) -> Result<Option<u32>, ApiError> {
        self.number(name)
    }

    /// A long integer parameter (an ASN).
    pub fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.number(name)
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    error(
                        "InvalidParameterValue",
                        format!("Value ({v}) for parameter {name} is invalid."),
                    )
                })
            })
            .transpose()
    }

    /// The list `Name.1`, `Name.2`, … in order (gaps end it).
    pub fn list(&self, name: &str) -> Vec<String> {
        (1..).map_while(|i| self.value(&format!("{name}.{i}")).cloned()).collect()
    }

    /// The Describe filters `Filter.N.Name` / `Filter.N.Value.M`.
    pub fn filters(&self) -> Vec<Filter> {
        (1..)
            .map_while(|i| {
                let name = self.value(&format!("Filter.{i}.Name"))?.clone();
                Some(Filter { name, values: self.list(&format!("Filter.{i}.Value")) })
            })
            .collect()
    }

    /// The tags of `TagSpecification.N` whose `ResourceType` is `resource_type` (or any,
    /// when none is named). A specification for another type is refused as AWS refuses
    /// it: the action does not create that kind of resource.
    pub fn tag_specifications(&self, resource_type: &str) -> Result<Tags, ApiError> {
        self.tag_specifications_among(resource_type, &[])
    }

    /// [`Params::tag_specifications`] for an action that also takes specifications for
    /// the kinds in `inert`, which a lab does not have (an instance's volumes, say): their
    /// tags are accepted and go nowhere, as docs/api.md says.
    pub fn tag_specifications_among(
        &self,
        resource_type: &str,
        inert: &[&str],
    ) -> Result<Tags, ApiError> {
        self.specified_tags("TagSpecification", resource_type, inert)
    }

    /// [`Params::tag_specifications`] for the actions whose model names the list
    /// `TagSpecifications` (CreateTransitGatewayVpcAttachment,
    /// CreateTransitGatewayRouteTable, …): `list` is the name they send.
    pub fn tag_specifications_at(&self, list: &str, resource_type: &str) -> Result<Tags, ApiError> {
        self.specified_tags(list, resource_type, &[])
    }

    fn specified_tags(
        &self,
        list: &str,
        resource_type: &str,
        inert: &[&str],
    ) -> Result<Tags, ApiError> {
        let mut tags = Tags::new();
        for i in 1.. {
            let prefix = format!("{list}.{i}");
            let kind = self.value(&format!("{prefix}.ResourceType")).cloned();
            let specified = self.tags(&format!("{prefix}.Tag"));
            if kind.is_none() && specified.is_empty() {
                break;
            }
            match kind.as_deref() {
                None => tags.extend(specified),
                Some(k) if k == resource_type => tags.extend(specified),
                Some(k) if inert.contains(&k) => {}
                Some(k) => {
                    return Err(error(
                        "InvalidParameterValue",
                        format!("'{k}' is not a valid taggable resource type for this operation."),
                    ));
                }
            }
        }
        Ok(tags)
    }

    /// The tags `Prefix.N.Key` / `Prefix.N.Value`.
    pub fn tags(&self, prefix: &str) -> Tags {
        (1..)
            .map_while(|i| {
                let key = self.value(&format!("{prefix}.{i}.Key"))?.clone();
                let value = self.value(&format!("{prefix}.{i}.Value")).cloned().unwrap_or_default();
                Some((key, value))
            })
            .collect()
    }

    /// Every parameter name, for checking against what an action knows.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_filters_and_tags() {
        let p = Params::parse(
            b"Action=DescribeVpcs&VpcId.1=vpc-1&VpcId.2=vpc-2&VpcId.4=vpc-4\
              &Filter.1.Name=tag%3AName&Filter.1.Value.1=web*&Filter.2.Name=state&Filter.2.Value.1=available\
              &TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=lab",
        )
        .unwrap();
        assert_eq!(p.list("VpcId"), vec!["vpc-1", "vpc-2"]);
        let filters = p.filters();
        assert_eq!(filters[0], Filter { name: "tag:Name".into(), values: vec!["web*".into()] });
        assert_eq!(filters[1].values, vec!["available"]);
        assert_eq!(
            p.tag_specifications("vpc").unwrap().get("Name").map(String::as_str),
            Some("lab")
        );
        assert_eq!(p.tag_specifications("subnet").unwrap_err().code, "InvalidParameterValue");
        assert!(p.tag_specifications_among("subnet", &["vpc"]).unwrap().is_empty());
        let plural = Params::parse(
            b"TagSpecifications.1.ResourceType=transit-gateway-attachment\
              &TagSpecifications.1.Tag.1.Key=Name&TagSpecifications.1.Tag.1.Value=hub",
        )
        .unwrap();
        assert!(plural.tag_specifications("transit-gateway-attachment").unwrap().is_empty());
        assert_eq!(
            plural
                .tag_specifications_at("TagSpecifications", "transit-gateway-attachment")
                .unwrap()
                .get("Name")
                .map(String::as_str),
            Some("hub")
        );
        assert_eq!(p.required("Nope").unwrap_err().code, "MissingParameter");
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(Params::parse(b"A=1&A=2").unwrap_err().code, "InvalidParameterCombination");
    }
}
