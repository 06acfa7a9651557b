//! The options of the forms' selects, `(value, text)`, as the pages share them: a
//! resource is offered by its id and shown as `id (name)`.

use super::Cx;
use super::api::{El, Failure};

/// `id (name)`, or the id alone.
pub(crate) fn labelled(id: &str, name: &str) -> String {
    if name.is_empty() { id.to_owned() } else { format!("{id} ({name})") }
}

/// A resource as an option: its id, shown as `id (name)`.
pub(crate) fn option(id: &str, name: &str) -> (String, String) {
    (id.to_owned(), labelled(id, name))
}

/// A VPC as an option, shown as `id (name)`.
pub(crate) fn vpc(v: &El) -> (String, String) {
    option(v.text("vpcId"), v.name_tag())
}

/// Every VPC, shown as `id (name)`.
pub(crate) fn vpcs(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    Ok(cx.api.call("DescribeVpcs", &[])?.items("vpcSet").map(vpc).collect())
}

/// "Select a VPC", then every VPC shown as `id (name) | cidr`.
pub(crate) fn vpcs_with_cidr(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeVpcs", &[])?;
    let mut options = vec![(String::new(), "Select a VPC".to_owned())];
    options.extend(doc.items("vpcSet").map(|v| {
        let (id, text) = vpc(v);
        (id, format!("{text} | {}", v.text("cidrBlock")))
    }));
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(name: &str, value: &str) -> El {
        El { name: name.into(), value: value.into(), children: vec![] }
    }

    #[test]
    fn a_vpc_is_offered_by_id_and_shown_with_its_name() {
        let tags = |name: &str| El {
            name: "tagSet".into(),
            value: String::new(),
            children: vec![El {
                name: "item".into(),
                value: String::new(),
                children: vec![leaf("key", "Name"), leaf("value", name)],
            }],
        };
        let named = El {
            name: "item".into(),
            value: String::new(),
            children: vec![leaf("vpcId", "vpc-1"), tags("lab")],
        };
        let unnamed = El {
            name: "item".into(),
            value: String::new(),
            children: vec![leaf("vpcId", "vpc-2")],
        };
        assert_eq!(vpc(&named), ("vpc-1".to_owned(), "vpc-1 (lab)".to_owned()));
        assert_eq!(vpc(&unnamed), ("vpc-2".to_owned(), "vpc-2".to_owned()));
        assert_eq!(labelled("igw-1", ""), "igw-1");
    }
}
