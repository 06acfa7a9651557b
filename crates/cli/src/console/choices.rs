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

/// Whether a state is one of a resource on its way out or gone (still listed a while).
pub(crate) fn gone(state: &str) -> bool {
    matches!(state, "deleting" | "deleted" | "rejecting" | "rejected" | "failing" | "failed")
}

/// "Select a transit gateway", then every transit gateway not deleted, shown as
/// `id (name)`.
pub(crate) fn transit_gateways(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeTransitGateways", &[])?;
    let mut options = vec![(String::new(), "Select a transit gateway".to_owned())];
    options.extend(
        doc.items("transitGatewaySet")
            .filter(|g| !gone(g.text("state")))
            .map(|g| option(g.text("transitGatewayId"), g.name_tag())),
    );
    Ok(options)
}

/// "Select a virtual private gateway", then every one not deleted, shown as `id (name)`.
pub(crate) fn vpn_gateways(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeVpnGateways", &[])?;
    let mut options = vec![(String::new(), "Select a virtual private gateway".to_owned())];
    options.extend(
        doc.items("vpnGatewaySet")
            .filter(|g| !gone(g.text("state")))
            .map(|g| option(g.text("vpnGatewayId"), g.name_tag())),
    );
    Ok(options)
}

/// "Select a customer gateway", then every one not deleted, shown as
/// `id (name) | address`.
pub(crate) fn customer_gateways(cx: &Cx<'_>) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeCustomerGateways", &[])?;
    let mut options = vec![(String::new(), "Select a customer gateway".to_owned())];
    options.extend(doc.items("customerGatewaySet").filter(|g| !gone(g.text("state"))).map(|g| {
        let (id, text) = option(g.text("customerGatewayId"), g.name_tag());
        (id, format!("{text} | {}", g.text("ipAddress")))
    }));
    Ok(options)
}

/// Whether attachment `a` (as DescribeTransitGatewayAttachments lists it, from its
/// requester's side) is one of transit gateway `tgw`'s: its own, or a peering
/// attachment that `tgw` is the other end of.
pub(crate) fn attaches(a: &El, tgw: &str) -> bool {
    a.text("transitGatewayId") == tgw
        || (a.text("resourceType") == "peering" && a.text("resourceId") == tgw)
}

/// What attachment `a` attaches, as transit gateway `tgw` sees it: for a peering
/// attachment, the gateway at the other end.
pub(crate) fn attached_from<'a>(a: &'a El, tgw: &str) -> &'a str {
    if a.text("transitGatewayId") == tgw {
        a.text("resourceId")
    } else {
        a.text("transitGatewayId")
    }
}

/// "Choose attachment", then the attachments of transit gateway `tgw` not deleted that
/// `keep` takes, shown as `id (name) | type | resource`.
pub(crate) fn tgw_attachments(
    cx: &Cx<'_>,
    tgw: &str,
    keep: impl Fn(&El) -> bool,
) -> Result<Vec<(String, String)>, Failure> {
    let doc = cx.api.call("DescribeTransitGatewayAttachments", &[])?;
    let mut options = vec![(String::new(), "Choose attachment".to_owned())];
    options.extend(
        doc.items("transitGatewayAttachments")
            .filter(|a| attaches(a, tgw) && !gone(a.text("state")) && keep(a))
            .map(|a| {
                let (id, text) = option(a.text("transitGatewayAttachmentId"), a.name_tag());
                (id, format!("{text} | {} | {}", a.text("resourceType"), attached_from(a, tgw)))
            }),
    );
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
