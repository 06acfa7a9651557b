//! Instance hostnames: named by address (`ip-10-0-1-23.ec2.internal`) or by resource
//! (`i-0123456789abcdef0.ec2.internal`), and which records the resource name answers.
//!
//! AWS (EC2 User Guide, "Amazon EC2 instance hostname types"): an IP name always
//! answers A queries with the private IPv4 address, whatever the options; a resource
//! name answers A and AAAA queries as the instance's options say
//! (`EnableResourceNameDnsARecord`, `EnableResourceNameDnsAAAARecord`). An instance
//! takes its options at launch from its subnet's `…OnLaunch` settings unless the launch
//! names its own (`PrivateDnsNameOptions`), and `ModifyPrivateDnsNameOptions` changes
//! them afterwards. Either type may be chosen in IPv4-only and dual-stack subnets; in an
//! IPv6-only subnet an instance has no IPv4 address to be named by, so its name is the
//! resource name, answering AAAA queries and no A queries.

use serde::{Deserialize, Serialize};

use crate::{ApiError, Instance, InstanceId, Model, Subnet, SubnetId, names};

/// What an instance's private DNS name is made of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostnameType {
    /// Its private IPv4 address: `ip-10-0-1-23.ec2.internal`.
    #[default]
    IpName,
    /// Its instance id: `i-0123456789abcdef0.ec2.internal`.
    ResourceName,
}

impl HostnameType {
    /// As the API writes it: `ip-name`, `resource-name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IpName => "ip-name",
            Self::ResourceName => "resource-name",
        }
    }

    /// From the API's form, refusing anything else as AWS does.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "ip-name" => Ok(Self::IpName),
            "resource-name" => Ok(Self::ResourceName),
            _ => Err(ApiError::invalid_value(format!(
                "Value ({s}) for parameter hostnameType is invalid. Valid values are: ip-name, \
                 resource-name."
            ))),
        }
    }
}

/// An instance's hostname options (`PrivateDnsNameOptions`), or a subnet's for the
/// instances launched into it (`PrivateDnsNameOptionsOnLaunch`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DnsNameOptions {
    /// What its private DNS name is made of.
    #[serde(default)]
    pub hostname_type: HostnameType,
    /// Whether its resource name answers A queries (its private IPv4 address).
    #[serde(default)]
    pub a_record: bool,
    /// Whether its resource name answers AAAA queries (its IPv6 addresses).
    #[serde(default)]
    pub aaaa_record: bool,
}

impl DnsNameOptions {
    /// What an IPv6-only subnet and its instances have: the resource name, with AAAA
    /// records and no A records.
    pub const IPV6_NATIVE: Self =
        Self { hostname_type: HostnameType::ResourceName, a_record: false, aaaa_record: true };

    /// These options, if instances of `subnet` may have them: in an IPv6-only subnet, no
    /// name made of an IPv4 address and no A records of one.
    pub fn allowed_in(self, subnet: &Subnet) -> Result<Self, ApiError> {
        if subnet.ipv6_native() && (self.hostname_type == HostnameType::IpName || self.a_record) {
            return Err(ApiError::invalid_value(format!(
                "The subnet '{}' is IPv6-only: its instances' hostname type must be \
                 resource-name, without A records.",
                subnet.id
            )));
        }
        Ok(self)
    }

    /// The options AWS gives a new subnet: `ip-name`, no resource-name records.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// These options with what `change` sets in place of theirs.
    pub fn with(self, change: &DnsNameChange) -> Self {
        Self {
            hostname_type: change.hostname_type.unwrap_or(self.hostname_type),
            a_record: change.a_record.unwrap_or(self.a_record),
            aaaa_record: change.aaaa_record.unwrap_or(self.aaaa_record),
        }
    }
}

/// Options a call sets, each only if it names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsNameChange {
    /// `HostnameType` / `PrivateDnsHostnameType[OnLaunch]`.
    pub hostname_type: Option<HostnameType>,
    /// `EnableResourceNameDnsARecord[OnLaunch]`.
    pub a_record: Option<bool>,
    /// `EnableResourceNameDnsAAAARecord[OnLaunch]`.
    pub aaaa_record: Option<bool>,
}

impl DnsNameChange {
    /// Whether the call named none of the options.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Instance {
    /// Its private DNS name, by its hostname type.
    pub fn private_dns_name(&self) -> String {
        match (self.dns_names.hostname_type, self.private_ip) {
            (HostnameType::IpName, Some(ip)) => names::private_dns(ip),
            // An IPv6-only instance has no address to be named by (and its options say
            // `resource-name`; the model refuses anything else).
            _ => names::resource_dns(self.id.as_str()),
        }
    }
}

impl Model {
    /// ModifySubnetAttribute's hostname options: what instances launched into `subnet`
    /// from now on get unless their launch says otherwise.
    pub fn set_subnet_dns_names(
        &mut self,
        subnet: &SubnetId,
        change: &DnsNameChange,
    ) -> Result<(), ApiError> {
        let s = self.subnet_mut(subnet)?;
        s.dns_names_on_launch = s.dns_names_on_launch.with(change).allowed_in(s)?;
        Ok(())
    }

    /// ModifyPrivateDnsNameOptions: `instance`'s hostname options, those `change` names.
    pub fn modify_private_dns_name_options(
        &mut self,
        instance: &InstanceId,
        change: &DnsNameChange,
    ) -> Result<(), ApiError> {
        let i = self.instance(instance)?;
        let options = i.dns_names.with(change).allowed_in(self.subnet(&i.subnet)?)?;
        if let Some(i) = self.instances.get_mut(instance) {
            if i.dns_names != options {
                i.dns_names = options;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunInstance, Tags};

    #[test]
    fn instances_take_their_subnets_options_unless_launched_or_modified_with_their_own() {
        let mut m = Model::new(3);
        let vpc = m.create_vpc("10.0.0.0/16".parse().unwrap(), Tags::new()).unwrap();
        let subnet = m.create_subnet(&vpc, "10.0.1.0/24".parse().unwrap(), None, Tags::new());
        let subnet = subnet.unwrap();
        let run = |m: &mut Model, own: DnsNameChange| {
            let spec =
                RunInstance { subnet: Some(subnet.clone()), dns_names: own, ..Default::default() };
            m.run_instance(spec).unwrap()
        };
        let plain = run(&mut m, DnsNameChange::default());
        let i = m.instance(&plain).unwrap();
        assert_eq!(i.dns_names, DnsNameOptions::default());
        assert_eq!(i.private_dns_name(), names::private_dns(i.private_ip.unwrap()));

        let resource = DnsNameChange {
            hostname_type: Some(HostnameType::ResourceName),
            aaaa_record: Some(true),
            ..Default::default()
        };
        m.set_subnet_dns_names(&subnet, &resource).unwrap();
        let named = run(&mut m, DnsNameChange::default());
        let i = m.instance(&named).unwrap();
        assert_eq!(
            i.dns_names,
            DnsNameOptions {
                hostname_type: HostnameType::ResourceName,
                a_record: false,
                aaaa_record: true
            }
        );
        assert_eq!(i.private_dns_name(), format!("{named}.ec2.internal"));
        // The launch's own options win over the subnet's, option by option.
        let own = DnsNameChange { a_record: Some(true), ..Default::default() };
        let mixed = run(&mut m, own);
        assert!(m.instance(&mixed).unwrap().dns_names.a_record);
        assert!(m.instance(&mixed).unwrap().dns_names.aaaa_record);

        // Modified afterwards; the earlier instance keeps the options it launched with.
        let back =
            DnsNameChange { hostname_type: Some(HostnameType::IpName), ..Default::default() };
        m.modify_private_dns_name_options(&named, &back).unwrap();
        let i = m.instance(&named).unwrap();
        assert_eq!(i.private_dns_name(), names::private_dns(i.private_ip.unwrap()));
        assert!(i.dns_names.aaaa_record);
        assert_eq!(m.instance(&plain).unwrap().dns_names, DnsNameOptions::default());
        assert!(HostnameType::parse("resource").is_err());
    }
}
