//! Resource identifiers in AWS's format: a type prefix, a dash and 17 hex digits.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes an id keeps inline: every id vpclab makes fits (the longest prefix,
/// `tgw-attach`, with a dash and 17 hex digits is 28 bytes).
const INLINE: usize = 30;

/// An id's text, inline when it fits, so that copying one allocates nothing and
/// comparing one reads no other memory. With thousands of instances, ids compared in
/// the model's B-tree lookups and copied with the model were much of the control
/// plane's work. A longer one (an id a client made up) is kept on the heap.
#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(s.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(s) => s.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Whole `&str`s go in, so the bytes are UTF-8.
            Self::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Self::Heap(s) => s,
        }
    }
}

// By the bytes, as `str` compares and hashes: one text has one representation (by its
// length), so equal texts are equal bytes.
impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Text {
    // As `str` hashes (its bytes, then 0xff), without checking again that the bytes
    // are UTF-8: ids are hashed by the thousand on every compile of the data plane.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::new(&s))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Text);

        impl $name {
            /// The prefix ids of this kind start with (without the dash).
            pub const PREFIX: &'static str = $prefix;

            /// Accepts `s` if it has this kind's prefix, a dash and hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?.strip_prefix('-')?;
                (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| Self(Text::new(s)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            pub(crate) fn from_raw(raw: String) -> Self {
                Self(Text::new(&raw))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.0.as_str())
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
    /// `eigw-…`
    EgressOnlyInternetGatewayId, "eigw"
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

    #[test]
    fn ids_of_any_length_are_kept_whole() {
        let long = format!("vpc-{}", "a".repeat(100));
        let id = VpcId::parse(&long).unwrap();
        assert_eq!(id.as_str(), long);
        assert_eq!(id.to_string(), long);
        let mut ids = IdGen::new(1);
        let made = ids.fresh(TgwAttachmentId::PREFIX);
        assert!(matches!(Text::new(&made), Text::Inline { .. }), "{made} is kept inline");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{long}\""));
        assert_eq!(serde_json::from_str::<VpcId>(&json).unwrap(), id);
        assert_eq!(format!("{:?}", VpcId::parse("vpc-0a").unwrap()), "VpcId(\"vpc-0a\")");
    }

    proptest::proptest! {
        /// Inline or not, ids compare, equal and order as their text does.
        #[test]
        fn ids_order_as_their_text(a in "[0-9a-f]{1,40}", b in "[0-9a-f]{1,40}") {
            let (x, y) = (format!("i-{a}"), format!("i-{b}"));
            let (ix, iy) = (InstanceId::parse(&x).unwrap(), InstanceId::parse(&y).unwrap());
            proptest::prop_assert_eq!(ix.cmp(&iy), x.cmp(&y));
            proptest::prop_assert_eq!(ix == iy, x == y);
            proptest::prop_assert_eq!(ix.as_str(), x.as_str());
            let hash = |h: &dyn Fn(&mut std::hash::DefaultHasher)| {
                let mut state = std::hash::DefaultHasher::new();
                h(&mut state);
                std::hash::Hasher::finish(&state)
            };
            proptest::prop_assert_eq!(hash(&|s| ix.0.hash(s)), hash(&|s| x.as_str().hash(s)));
        }
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
