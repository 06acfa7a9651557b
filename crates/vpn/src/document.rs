//! AWS's `CustomerGatewayConfiguration`: the document a VPN connection hands out for
//! configuring the customer's device. A customer gateway in vpclab is configured from it
//! alone, as a user's router would be, so the document is proven to be enough.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// What the document says about one tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelDocument {
    /// The customer gateway's outside address.
    pub customer_outside: Ipv4Addr,
    /// The customer gateway's inside address, with the inside prefix.
    pub customer_inside: Ipv4Net,
    /// AWS's outside address.
    pub aws_outside: Ipv4Addr,
    /// AWS's inside address.
    pub aws_inside: Ipv4Addr,
    /// BGP (the customer's ASN, AWS's, and the hold time), absent for static routing.
    pub bgp: Option<BgpDocument>,
    /// The pre-shared key.
    pub pre_shared_key: String,
}

/// A tunnel's BGP parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BgpDocument {
    /// The customer gateway's ASN.
    pub customer_asn: u32,
    /// AWS's ASN.
    pub aws_asn: u32,
    /// Hold time, seconds.
    pub hold_time: u16,
}

/// A whole document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The VPN connection's id.
    pub vpn_connection_id: String,
    /// Its tunnels, in order.
    pub tunnels: Vec<TunnelDocument>,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError(pub String);

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "customer gateway configuration: {}", self.0)
    }
}

impl std::error::Error for DocumentError {}

fn error(message: impl Into<String>) -> DocumentError {
    DocumentError(message.into())
}

/// The customer gateway's end of the connections `documents` describe, in namespace
/// `netns`: each tunnel as its document gives it, started from this side (a customer
/// gateway initiates; AWS's default startup action waits for it), BGP where the
/// documents have it — advertising `advertise` — and, beside each document, the
/// prefixes routed into that connection's tunnels without BGP (a static connection's
/// VPC CIDRs).
pub fn customer_end(
    netns: &str,
    documents: &[(Document, Vec<Ipv4Net>)],
    advertise: Vec<Ipv4Net>,
) -> crate::End {
    let mut tunnels = Vec::new();
    let mut local_asn = None;
    let mut static_routes = Vec::new();
    for (doc, statics) in documents {
        let first = tunnels.len();
        let own: Vec<usize> = (first..first + doc.tunnels.len()).collect();
        static_routes.extend(
            statics.iter().map(|p| crate::StaticRoute { prefix: *p, tunnels: own.clone() }),
        );
        for (n, t) in (1..).zip(&doc.tunnels) {
            if let Some(bgp) = t.bgp {
                local_asn.get_or_insert(bgp.customer_asn);
            }
            tunnels.push(crate::Tunnel {
                name: format!("{}-t{n}", doc.vpn_connection_id),
                local_outside: t.customer_outside,
                remote_outside: t.aws_outside,
                local_inside: t.customer_inside,
                remote_inside: t.aws_inside,
                pre_shared_key: t.pre_shared_key.clone(),
                role: crate::Role::Initiator,
                remote_asn: t.bgp.map(|b| b.aws_asn),
                mtu: 1399,
            });
        }
    }
    let hold_time = documents
        .iter()
        .flat_map(|(d, _)| &d.tunnels)
        .find_map(|t| t.bgp.map(|b| b.hold_time))
        .unwrap_or(30);
    crate::End {
        netns: netns.to_owned(),
        tunnels,
        bgp: local_asn.map(|local_asn| crate::Bgp { local_asn, advertise, hold_time }),
        static_routes,
    }
}

/// Reads a `CustomerGatewayConfiguration` document.
pub fn parse(xml: &str) -> Result<Document, DocumentError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| error(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "vpn_connection" {
        return Err(error(format!(
            "the root is <{}>, not <vpn_connection>",
            root.tag_name().name()
        )));
    }
    let vpn_connection_id = root.attribute("id").unwrap_or_default().to_owned();
    let tunnels = root
        .children()
        .filter(|n| n.has_tag_name("ipsec_tunnel"))
        .map(tunnel)
        .collect::<Result<Vec<_>, _>>()?;
    if tunnels.is_empty() {
        return Err(error("no <ipsec_tunnel>"));
    }
    Ok(Document { vpn_connection_id, tunnels })
}

fn tunnel(node: roxmltree::Node<'_, '_>) -> Result<TunnelDocument, DocumentError> {
    let customer = child(node, "customer_gateway")?;
    let aws = child(node, "vpn_gateway")?;
    let inside_prefix: u8 =
        parse_text(path(customer, &["tunnel_inside_address", "network_cidr"])?)?;
    let customer_inside_ip: Ipv4Addr =
        parse_text(path(customer, &["tunnel_inside_address", "ip_address"])?)?;
    let customer_inside = Ipv4Net::new(customer_inside_ip, inside_prefix)
        .map_err(|_| error(format!("inside prefix /{inside_prefix}")))?;
    let bgp = match (
        customer.children().find(|n| n.has_tag_name("bgp")),
        aws.children().find(|n| n.has_tag_name("bgp")),
    ) {
        (Some(c), Some(a)) => Some(BgpDocument {
            customer_asn: parse_text(child(c, "asn")?)?,
            aws_asn: parse_text(child(a, "asn")?)?,
            hold_time: parse_text(child(c, "hold_time")?)?,
        }),
        _ => None,
    };
    Ok(TunnelDocument {
        customer_outside: parse_text(path(customer, &["tunnel_outside_address", "ip_address"])?)?,
        customer_inside,
        aws_outside: parse_text(path(aws, &["tunnel_outside_address", "ip_address"])?)?,
        aws_inside: parse_text(path(aws, &["tunnel_inside_address", "ip_address"])?)?,
        bgp,
        pre_shared_key: text(path(node, &["ike", "pre_shared_key"])?).to_owned(),
    })
}

fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &str,
) -> Result<roxmltree::Node<'a, 'i>, DocumentError> {
    node.children()
        .find(|n| n.has_tag_name(name))
        .ok_or_else(|| error(format!("<{}> has no <{name}>", node.tag_name().name())))
}

fn path<'a, 'i>(
    mut node: roxmltree::Node<'a, 'i>,
    names: &[&str],
) -> Result<roxmltree::Node<'a, 'i>, DocumentError> {
    for name in names {
        node = child(node, name)?;
    }
    Ok(node)
}

fn text<'a>(node: roxmltree::Node<'a, '_>) -> &'a str {
    node.text().unwrap_or_default().trim()
}

fn parse_text<T: std::str::FromStr>(node: roxmltree::Node<'_, '_>) -> Result<T, DocumentError> {
    let value = text(node);
    value.parse().map_err(|_| error(format!("<{}> holds {value:?}", node.tag_name().name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATIC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<vpn_connection id="vpn-0123456789abcdef0">
  <customer_gateway_id>cgw-0123456789abcdef0</customer_gateway_id>
  <vpn_gateway_id>vgw-0123456789abcdef0</vpn_gateway_id>
  <vpn_connection_type>ipsec.1</vpn_connection_type>
  <vpn_connection_attributes>NoBGPVPNConnection</vpn_connection_attributes>
  <ipsec_tunnel>
    <customer_gateway>
      <tunnel_outside_address><ip_address>198.51.100.10</ip_address></tunnel_outside_address>
      <tunnel_inside_address><ip_address>169.254.12.2</ip_address><network_mask>255.255.255.252</network_mask><network_cidr>30</network_cidr></tunnel_inside_address>
    </customer_gateway>
    <vpn_gateway>
      <tunnel_outside_address><ip_address>203.0.113.254</ip_address></tunnel_outside_address>
      <tunnel_inside_address><ip_address>169.254.12.1</ip_address><network_mask>255.255.255.252</network_mask><network_cidr>30</network_cidr></tunnel_inside_address>
    </vpn_gateway>
    <ike><pre_shared_key>abc.def_123</pre_shared_key></ike>
  </ipsec_tunnel>
</vpn_connection>"#;

    #[test]
    fn a_static_document_reads_without_bgp() {
        let doc = parse(STATIC).unwrap();
        assert_eq!(doc.vpn_connection_id, "vpn-0123456789abcdef0");
        let t = &doc.tunnels[0];
        assert_eq!(t.customer_inside, "169.254.12.2/30".parse().unwrap());
        assert_eq!(t.aws_outside, Ipv4Addr::new(203, 0, 113, 254));
        assert_eq!(t.pre_shared_key, "abc.def_123");
        assert_eq!(t.bgp, None);
    }

    #[test]
    fn bgp_is_read_from_both_sides() {
        let with_bgp = STATIC
            .replace("</tunnel_inside_address>\n    </customer_gateway>", "</tunnel_inside_address><bgp><asn>65010</asn><hold_time>30</hold_time></bgp></customer_gateway>")
            .replace("</tunnel_inside_address>\n    </vpn_gateway>", "</tunnel_inside_address><bgp><asn>64512</asn><hold_time>30</hold_time></bgp></vpn_gateway>");
        let bgp = parse(&with_bgp).unwrap().tunnels[0].bgp.unwrap();
        assert_eq!(bgp, BgpDocument { customer_asn: 65010, aws_asn: 64512, hold_time: 30 });
    }

    #[test]
    fn broken_documents_say_what_is_missing() {
        assert!(parse("<vpn_connection id=\"x\"/>").unwrap_err().0.contains("no <ipsec_tunnel>"));
        let no_key = STATIC.replace("<ike><pre_shared_key>abc.def_123</pre_shared_key></ike>", "");
        assert!(parse(&no_key).unwrap_err().0.contains("<ipsec_tunnel> has no <ike>"));
        assert!(parse("not xml").is_err());
        assert!(parse("<other/>").unwrap_err().0.contains("not <vpn_connection>"));
    }
}
