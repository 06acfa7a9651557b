//! Resource identifiers in AWS's format: a type prefix, a dash and 17 hex digits.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix ids of this kind start with (without the dash).
            pub const PREFIX: &'static str = $prefix;

            /// Accepts `s` if it has this kind's prefix, a dash and hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?.strip_prefix('-')?;
                (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| Self(s.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub(crate) fn from_raw(raw: String) -> Self {
                Self(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }
    };
}

id_type!(
    /// `vpc-…`
    VpcId, "vpc"
);
id_type!(
    /// `subnet-…`
    SubnetId, "subnet"
);
id_type!(
    /// `rtb-…`
    RouteTableId, "rtb"
);
id_type!(
    /// `rtbassoc-…`
    RouteTableAssociationId, "rtbassoc"
);
id_type!(
    /// `igw-…`
    InternetGatewayId, "igw"
);
id_type!(
    /// `eipalloc-…`
    AllocationId, "eipalloc"
);
id_type!(
    /// `eipassoc-…`
    AssociationId, "eipassoc"
);
id_type!(
    /// `nat-…`
    NatGatewayId, "nat"
);
id_type!(
    /// `i-…`: also the name of the instance's network namespace.
    InstanceId, "i"
);
id_type!(
    /// `eni-…`
    NetworkInterfaceId, "eni"
);

id_type!(
    /// `tgw-…`
    TransitGatewayId, "tgw"
);
id_type!(
    /// `tgw-attach-…`
    TgwAttachmentId, "tgw-attach"
);
id_type!(
    /// `tgw-rtb-…`
    TgwRouteTableId, "tgw-rtb"
);
id_type!(
    /// `cgw-…`
    CustomerGatewayId, "cgw"
);
id_type!(
    /// `vgw-…`
    VpnGatewayId, "vgw"
);
id_type!(
    /// `vpn-…`
    VpnConnectionId, "vpn"
);

/// Makes fresh ids: `prefix-0` followed by 16 hex digits of a bijective mix of a
/// counter, so ids never repeat within a model and look like AWS's.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct IdGen {
    seed: u64,
    next: u64,
}

impl IdGen {
    pub(crate) fn new(seed: u64) -> Self {
        Self { seed, next: 0 }
    }

    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        format!("{prefix}-0{:016x}", self.draw())
    }

    /// A number that looks random but follows from the seed and how many were drawn
    /// before (for what AWS picks at random: a tunnel's inside CIDR, a pre-shared key),
    /// so a model made by the same calls is the same model.
    pub(crate) fn draw(&mut self) -> u64 {
        self.next += 1;
        // SplitMix64's finaliser: a bijection on u64, so distinct counters give
        // distinct ids.
        let mut z = self.seed.wrapping_add(self.next.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

id_type!(
    /// `dopt-…`
    DhcpOptionsId, "dopt"
);
id_type!(
    /// `pl-…`
    PrefixListId, "pl"
);
id_type!(
    /// `lt-…`
    LaunchTemplateId, "lt"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_aws_and_do_not_repeat() {
        let mut ids = IdGen::new(1);
        let a = ids.fresh("vpc");
        let b = ids.fresh("vpc");
        assert_ne!(a, b);
        assert_eq!(a.len(), "vpc-".len() + 17);
        assert!(VpcId::parse(&a).is_some());
        assert!(VpcId::parse("subnet-0123").is_none());
        assert!(VpcId::parse("vpc-").is_none());
        assert!(VpcId::parse("vpc-xyz").is_none());
        assert!(InstanceId::parse("i-0abc").is_some());
    }
}
id_type!(
    /// `key-…`
    KeyPairId, "key"
);
id_type!(
    /// `sg-…`
    SecurityGroupId, "sg"
);
id_type!(
    /// `acl-…`
    NetworkAclId, "acl"
);
id_type!(
    /// `aclassoc-…`
    NetworkAclAssociationId, "aclassoc"
);
id_type!(
    /// `vpce-…`
    VpcEndpointId, "vpce"
);
id_type!(
    /// `fl-…`
    FlowLogId, "fl"
);
id_type!(
    /// `pcx-…`
    VpcPeeringConnectionId, "pcx"
);
