//! The console's EC2 client. Every page reads, and every form writes, through the EC2
//! Query API: a request built as any SDK builds it, signed with SigV4, and answered by
//! the same code path as requests over HTTP (the signature check included). So what the
//! console does, the CLI sees, and its errors are AWS's codes and messages.

use std::sync::{Arc, Mutex};

use vpclab_api::Service;
use vpclab_api::server::{self, ApiRequest};
use vpclab_api::sigv4::{self, Credentials};

/// The key a console session signs with.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub id: String,
    pub secret: String,
}

impl Key {
    /// What the console signs with when the API takes any credentials.
    pub(crate) fn anonymous() -> Self {
        Key { id: "console".to_owned(), secret: "console".to_owned() }
    }
}

/// An API error as the API gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        Failure { code: code.to_owned(), message: message.into() }
    }
}

/// A client of one service, for one session's key.
#[derive(Debug)]
pub(crate) struct Api<'a> {
    pub service: &'a Arc<Mutex<Service>>,
    pub credentials: Option<&'a Credentials>,
    pub key: &'a Key,
}

impl Api<'_> {
    /// Calls `action` with `params`: the reply's document, or the API's error.
    pub(crate) fn call(&self, action: &str, params: &[(String, String)]) -> Result<El, Failure> {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("Action", action).append_pair("Version", "2016-11-15");
        for (k, v) in params {
            body.append_pair(k, v);
        }
        let body = body.finish().into_bytes();
        let now = unix_now();
        let mut headers = vec![
            ("host".to_owned(), "vpclab-console".to_owned()),
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
        ];
        sigv4::sign(&self.key.id, &self.key.secret, "POST", "/", "", &mut headers, &body, now);
        let request =
            ApiRequest { method: "POST", path: "/", query: "", headers: &headers, body: &body };
        let reply = server::call(self.service, self.credentials, &request, now);
        let doc = parse(&reply.body).map_err(|e| Failure::new("InternalError", e))?;
        if reply.status >= 300 {
            let error = doc.find("Error");
            return Err(Failure {
                code: error.map_or("InternalError", |e| e.text("Code")).to_owned(),
                message: error.map_or("", |e| e.text("Message")).to_owned(),
            });
        }
        Ok(doc)
    }

    /// Calls `action` with one parameter.
    pub(crate) fn call1(&self, action: &str, name: &str, value: &str) -> Result<El, Failure> {
        self.call(action, &[(name.to_owned(), value.to_owned())])
    }

    /// Calls Describe `action` for one resource (`id_param` = `id`): the reply, or
    /// `None` when the API's error code says the id names nothing (`missing`).
    pub(crate) fn lookup(
        &self,
        action: &str,
        id_param: &str,
        id: &str,
        missing: impl Fn(&str) -> bool,
    ) -> Result<Option<El>, Failure> {
        match self.call1(action, id_param, id) {
            Ok(doc) => Ok(Some(doc)),
            Err(f) if missing(&f.code) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// One resource by its id: the first item of the reply's `set` (see [`Api::lookup`]).
    pub(crate) fn describe_one(
        &self,
        action: &str,
        id_param: &str,
        id: &str,
        set: &str,
        missing: impl Fn(&str) -> bool,
    ) -> Result<Option<El>, Failure> {
        Ok(self
            .lookup(action, id_param, id, missing)?
            .and_then(|doc| doc.items(set).next().cloned()))
    }
}

/// Whether an error code says an id names nothing: `<Thing>.NotFound`, or `<Thing>.Malformed`.
pub(crate) fn not_found(code: &str) -> bool {
    code.ends_with(".NotFound") || code.ends_with(".Malformed")
}

/// `Filter.N` parameters of a Describe call: the `N`th `(name, value)` a filter of one
/// value (filters all match).
pub(crate) fn filters(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .enumerate()
        .flat_map(|(i, (name, value))| {
            [
                (format!("Filter.{}.Name", i + 1), (*name).to_owned()),
                (format!("Filter.{}.Value.1", i + 1), (*value).to_owned()),
            ]
        })
        .collect()
}

/// One filter of one value: `Filter.1.Name` and `Filter.1.Value.1`.
pub(crate) fn filter(name: &str, value: &str) -> Vec<(String, String)> {
    filters(&[(name, value)])
}

/// One filter of any of `values`: `Filter.1.Name` and `Filter.1.Value.N`.
pub(crate) fn filter_any(name: &str, values: &[&str]) -> Vec<(String, String)> {
    let values = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("Filter.1.Value.{}", i + 1), (*v).to_owned()));
    std::iter::once(("Filter.1.Name".to_owned(), name.to_owned())).chain(values).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An element of a reply, owned: its name, its own text and its child elements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct El {
    pub name: String,
    pub value: String,
    pub children: Vec<El>,
}

const NONE: &El = &El { name: String::new(), value: String::new(), children: Vec::new() };

impl El {
    /// The first child named `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child named `name` ("" without one).
    pub(crate) fn text(&self, name: &str) -> &str {
        self.child(name).map_or("", |c| c.value.as_str())
    }

    /// The text at a path of child names, e.g. `["state", "name"]`.
    pub(crate) fn at(&self, path: &[&str]) -> &str {
        let mut el = self;
        for name in path {
            match el.child(name) {
                Some(c) => el = c,
                None => return "",
            }
        }
        &el.value
    }

    /// The `item`s of the child list `set` (AWS's `<fooSet><item>…</item></fooSet>`).
    pub(crate) fn items(&self, set: &str) -> impl Iterator<Item = &El> {
        self.child(set).unwrap_or(NONE).children.iter().filter(|c| c.name == "item")
    }

    /// The value of tag `key` in the element's `tagSet`.
    pub(crate) fn tag(&self, key: &str) -> Option<&str> {
        self.items("tagSet").find(|t| t.text("key") == key).map(|t| t.text("value"))
    }

    /// The `Name` tag, or "".
    pub(crate) fn name_tag(&self) -> &str {
        self.tag("Name").unwrap_or("")
    }

    /// The first element named `name` anywhere below (depth first).
    pub(crate) fn find(&self, name: &str) -> Option<&El> {
        self.children.iter().find_map(|c| if c.name == name { Some(c) } else { c.find(name) })
    }
}

/// Parses a reply into its root element.
pub(crate) fn parse(text: &str) -> Result<El, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("the API's reply: {e}"))?;
    Ok(own(doc.root_element()))
}

fn own(node: roxmltree::Node<'_, '_>) -> El {
    let children: Vec<El> = node.children().filter(|c| c.is_element()).map(own).collect();
    let value = if children.is_empty() {
        node.children().filter_map(|c| c.text()).collect::<String>()
    } else {
        String::new()
    };
    El { name: node.tag_name().name().to_owned(), value, children }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_by_name_set_and_tag() {
        let doc = parse(
            r#"<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
                 <requestId>r</requestId>
                 <vpcSet><item><vpcId>vpc-1</vpcId><state>available</state>
                   <tagSet><item><key>Name</key><value>lab &amp; co</value></item></tagSet>
                 </item></vpcSet>
               </DescribeVpcsResponse>"#,
        )
        .unwrap();
        let vpcs: Vec<&El> = doc.items("vpcSet").collect();
        assert_eq!(vpcs.len(), 1);
        assert_eq!(vpcs[0].text("vpcId"), "vpc-1");
        assert_eq!(vpcs[0].name_tag(), "lab & co");
        assert_eq!(vpcs[0].tag("Owner"), None);
        assert_eq!(doc.items("subnetSet").count(), 0);
        assert_eq!(doc.find("state").map(|s| s.value.as_str()), Some("available"));
    }

    #[test]
    fn filters_are_numbered_as_the_query_api_wants() {
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        assert_eq!(
            filter("vpc-id", "vpc-1"),
            pairs(&[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", "vpc-1")])
        );
        assert_eq!(
            filters(&[("vpc-id", "vpc-1"), ("association.main", "true")]),
            pairs(&[
                ("Filter.1.Name", "vpc-id"),
                ("Filter.1.Value.1", "vpc-1"),
                ("Filter.2.Name", "association.main"),
                ("Filter.2.Value.1", "true"),
            ])
        );
        assert_eq!(
            filter_any("group-id", &["sg-1", "sg-2"]),
            pairs(&[
                ("Filter.1.Name", "group-id"),
                ("Filter.1.Value.1", "sg-1"),
                ("Filter.1.Value.2", "sg-2"),
            ])
        );
    }

    #[test]
    fn not_found_is_a_missing_or_malformed_id() {
        assert!(not_found("InvalidGroup.NotFound"));
        assert!(not_found("InvalidNetworkAclID.Malformed"));
        assert!(!not_found("DependencyViolation"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("<unclosed>").is_err());
        assert!(parse("").is_err());
    }
}
