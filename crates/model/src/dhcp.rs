//! DHCP options sets: what a VPC's instances are told about names — their domain
//! names and name servers (`domain-name`, `domain-name-servers`, with
//! `AmazonProvidedDNS` for the VPC's own resolver), and NTP and NetBIOS servers.
//!
//! AWS semantics: every account has a default set (`domain-name` `ec2.internal` in
//! us-east-1, `domain-name-servers` `AmazonProvidedDNS`) that new VPCs use; a VPC uses
//! one set, or none (`AssociateDhcpOptions` with `default`); a set is immutable, and
//! cannot be deleted while a VPC uses it. Instances learn a change at their next lease;
//! vpclab rewrites their resolver configuration at once.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
pub use crate::ids::DhcpOptionsId;
use crate::{Instance, Model, Tags, Vpc, VpcId};

/// The id of the account's default set.
pub const DEFAULT_DHCP_OPTIONS: &str = "dopt-00000000000000000";

/// The name-server value meaning the VPC's own resolver (its base + 2).
pub const AMAZON_PROVIDED_DNS: &str = "AmazonProvidedDNS";

/// The Amazon DNS server's IPv6 address, the same in every VPC: what an IPv6-only
/// instance's `AmazonProvidedDNS` is (EC2 User Guide, "Amazon Route 53 Resolver").
pub const AMAZON_DNS_IPV6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x253);

/// The keys a set may hold, with how many values each takes at most.
const KEYS: &[(&str, usize)] = &[
    ("domain-name", 1),
    ("domain-name-servers", 4),
    ("ntp-servers", 8),
    ("netbios-name-servers", 4),
    ("netbios-node-type", 1),
    ("ipv6-address-preferred-lease-time", 1),
];

/// A DHCP options set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpOptions {
    /// `dopt-…`
    pub id: DhcpOptionsId,
    /// Key to values, as created.
    pub config: BTreeMap<String, Vec<String>>,
    /// Tags.
    pub tags: Tags,
}

/// The sets a new state holds: the account's default one.
pub(crate) fn initial_sets() -> BTreeMap<DhcpOptionsId, DhcpOptions> {
    let id = DhcpOptionsId::from_raw(DEFAULT_DHCP_OPTIONS.to_owned());
    let config = BTreeMap::from([
        ("domain-name".to_owned(), vec!["ec2.internal".to_owned()]),
        ("domain-name-servers".to_owned(), vec![AMAZON_PROVIDED_DNS.to_owned()]),
    ]);
    BTreeMap::from([(id.clone(), DhcpOptions { id, config, tags: Tags::new() })])
}

/// The set a VPC made before sets were modelled uses: the default one.
pub(crate) fn default_choice() -> Option<DhcpOptionsId> {
    Some(DhcpOptionsId::from_raw(DEFAULT_DHCP_OPTIONS.to_owned()))
}

impl DhcpOptions {
    /// Checks a configuration as AWS does: known keys, values of the right kind and
    /// number.
    fn check(config: &BTreeMap<String, Vec<String>>) -> Result<(), ApiError> {
        if config.is_empty() {
            return Err(ApiError::new(
                "MissingParameter",
                "The request must contain the parameter dhcpConfiguration",
            ));
        }
        for (key, values) in config {
            let Some(&(_, most)) = KEYS.iter().find(|(k, _)| k == key) else {
                return Err(ApiError::invalid_value(format!(
                    "Value ({key}) for parameter name is invalid. Unknown DHCP option"
                )));
            };
            if values.is_empty() || values.len() > most {
                return Err(ApiError::invalid_value(format!(
                    "Value for parameter {key} is invalid: between 1 and {most} values."
                )));
            }
            if matches!(
                key.as_str(),
                "domain-name-servers" | "ntp-servers" | "netbios-name-servers"
            ) {
                let amazon = |v: &String| key == "domain-name-servers" && v == AMAZON_PROVIDED_DNS;
                if let Some(bad) =
                    values.iter().find(|v| !amazon(v) && v.parse::<Ipv4Addr>().is_err())
                {
                    return Err(ApiError::invalid_value(format!(
                        "Value ({bad}) for parameter {key} is invalid. Expected an IPv4 address{}.",
                        if key == "domain-name-servers" { " or AmazonProvidedDNS" } else { "" }
                    )));
                }
            }
            if key == "netbios-node-type" && !["1", "2", "4", "8"].contains(&values[0].as_str()) {
                return Err(ApiError::invalid_value(format!(
                    "Value ({}) for parameter netbios-node-type is invalid. Valid values: 1, \
                     2, 4, 8.",
                    values[0]
                )));
            }
        }
        Ok(())
    }

    /// The `resolv.conf` an instance of `vpc` gets from this set: its name servers
    /// (`AmazonProvidedDNS` is the VPC's resolver: its IPv4 address, or
    /// [`AMAZON_DNS_IPV6`] for an instance without IPv4) and search domains.
    pub fn resolv_conf(&self, vpc: &Vpc, ipv6_only: bool) -> String {
        let mut out =
            format!("# Written by vpclab from the DHCP options {} of {}.\n", self.id, vpc.id);
        for server in self.config.get("domain-name-servers").into_iter().flatten() {
            let address = if server == AMAZON_PROVIDED_DNS && ipv6_only {
                AMAZON_DNS_IPV6.to_string()
            } else if server == AMAZON_PROVIDED_DNS {
                vpc.dns_server().to_string()
            } else {
                server.clone()
            };
            out.push_str(&format!("nameserver {address}\n"));
        }
        if let Some(domain) = self.config.get("domain-name").and_then(|d| d.first()) {
            out.push_str(&format!("search {domain}\n"));
        }
        out.push_str("options timeout:2 attempts:2\n");
        out
    }
}

impl Model {
    /// Every DHCP options set, the default one among them.
    pub fn dhcp_options_sets(&self) -> impl Iterator<Item = &DhcpOptions> {
        self.dhcp_options.values()
    }

    /// A set by id.
    pub fn dhcp_options(&self, id: &DhcpOptionsId) -> Result<&DhcpOptions, ApiError> {
        self.dhcp_options.get(id).ok_or_else(|| {
            ApiError::new(
                "InvalidDhcpOptionID.NotFound",
                format!("The dhcpOption ID '{id}' does not exist"),
            )
        })
    }

    /// CreateDhcpOptions.
    pub fn create_dhcp_options(
        &mut self,
        config: BTreeMap<String, Vec<String>>,
        tags: Tags,
    ) -> Result<DhcpOptionsId, ApiError> {
        DhcpOptions::check(&config)?;
        let id = DhcpOptionsId::from_raw(self.ids.fresh(DhcpOptionsId::PREFIX));
        self.dhcp_options.insert(id.clone(), DhcpOptions { id: id.clone(), config, tags });
        Ok(id)
    }

    /// DeleteDhcpOptions: not while a VPC uses the set.
    pub fn delete_dhcp_options(&mut self, id: &DhcpOptionsId) -> Result<(), ApiError> {
        self.dhcp_options(id)?;
        if self.vpcs.values().any(|v| v.dhcp_options.as_ref() == Some(id)) {
            return Err(ApiError::new(
                "DependencyViolation",
                format!("The dhcpOptions '{id}' has dependencies and cannot be deleted."),
            ));
        }
        self.dhcp_options.remove(id);
        Ok(())
    }

    /// AssociateDhcpOptions: `Some(set)` for a set, `None` for none (`default`).
    pub fn associate_dhcp_options(
        &mut self,
        vpc: &VpcId,
        set: Option<DhcpOptionsId>,
    ) -> Result<(), ApiError> {
        self.vpc(vpc)?;
        if let Some(id) = &set {
            self.dhcp_options(id)?;
        }
        if let Some(v) = self.vpcs.get_mut(vpc) {
            v.dhcp_options = set;
        }
        Ok(())
    }

    /// The tags of a set, to change.
    pub(crate) fn dhcp_options_tags_mut(&mut self, id: &str) -> Option<&mut Tags> {
        self.dhcp_options.values_mut().find(|d| d.id.as_str() == id).map(|d| &mut d.tags)
    }

    /// What an instance's `/etc/resolv.conf` says: from its VPC's DHCP options, or no
    /// name server at all when the VPC has none. (The same for every instance of a VPC
    /// with IPv4, and for every one without.)
    pub fn resolv_conf(&self, instance: &Instance) -> String {
        self.resolv_conf_in(&instance.vpc, instance.private_ip.is_none())
    }

    /// What the `resolv.conf` of an instance of `vpc` says, with or without IPv4
    /// (`ipv6_only`): all [`Model::resolv_conf`] depends on.
    pub fn resolv_conf_in(&self, vpc: &crate::VpcId, ipv6_only: bool) -> String {
        let Ok(vpc) = self.vpc(vpc) else { return String::new() };
        match vpc.dhcp_options.as_ref().and_then(|id| self.dhcp_options.get(id)) {
            Some(set) => set.resolv_conf(vpc, ipv6_only),
            None => format!(
                "# Written by vpclab: {} has no DHCP options, so no name servers.\n",
                vpc.id
            ),
        }
    }
}
