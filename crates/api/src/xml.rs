//! Replies in the EC2 Query protocol's XML: `<{Action}Response xmlns=…>` with a
//! `requestId` first, lists as `<xxxSet><item>…</item></xxxSet>`, and errors in the
//! `<Response><Errors><Error>` envelope.

use std::fmt::{Display, Write};

use vpclab_model::{ApiError, Tags};

/// The EC2 namespace every reply uses.
pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// A reply being written.
#[derive(Clone, Debug)]
pub struct Xml {
    buf: String,
}

/// Appends `text` to `out` with XML's five special characters escaped.
pub(crate) fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

impl Xml {
    /// A reply body without the envelope, to be wrapped by [`Xml::finish`].
    pub fn new() -> Self {
        Self { buf: String::with_capacity(512) }
    }

    /// `<name>value</name>`, escaped.
    pub fn leaf(&mut self, name: &str, value: impl Display) -> &mut Self {
        let _ = write!(self.buf, "<{name}>");
        let mut text = String::new();
        let _ = write!(text, "{value}");
        escape(&mut self.buf, &text);
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// Text, escaped, where the writer is (a list item's value).
    pub fn text(&mut self, value: impl Display) -> &mut Self {
        let mut text = String::new();
        let _ = write!(text, "{value}");
        escape(&mut self.buf, &text);
        self
    }

    /// `<name>value</name>` when there is a value.
    pub fn opt(&mut self, name: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(value) = value {
            self.leaf(name, value);
        }
        self
    }

    /// `<name>`, then whatever `body` writes, then `</name>`.
    pub fn node(&mut self, name: &str, body: impl FnOnce(&mut Xml)) -> &mut Self {
        let _ = write!(self.buf, "<{name}>");
        body(self);
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// `<name><item>…</item>…</name>`, or `<name/>` for no items.
    pub fn set<I: IntoIterator>(
        &mut self,
        name: &str,
        items: I,
        mut item: impl FnMut(&mut Xml, I::Item),
    ) -> &mut Self {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            let _ = write!(self.buf, "<{name}/>");
            return self;
        }
        let _ = write!(self.buf, "<{name}>");
        for i in items {
            self.buf.push_str("<item>");
            item(self, i);
            self.buf.push_str("</item>");
        }
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// `<name><item>text</item>…</name>`: a list of plain values.
    pub fn values<I: IntoIterator>(&mut self, name: &str, items: I) -> &mut Self
    where
        I::Item: Display,
    {
        self.set(name, items, |x, i| {
            let mut text = String::new();
            let _ = write!(text, "{i}");
            escape(&mut x.buf, &text);
        })
    }

    /// `<tagSet>` of `key`/`value` items.
    pub fn tags(&mut self, tags: &Tags) -> &mut Self {
        self.set("tagSet", tags, |x, (k, v)| {
            x.leaf("key", k).leaf("value", v);
        })
    }

    /// The whole reply document.
    pub fn finish(self, action: &str, request_id: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\"><requestId>{request_id}</requestId>{}</{action}Response>",
            self.buf
        )
    }
}

impl Default for Xml {
    fn default() -> Self {
        Self::new()
    }
}

/// AWS's error document (no namespace; `RequestID` spelled so).
pub fn error(err: &ApiError, request_id: &str) -> String {
    let mut code = String::new();
    escape(&mut code, err.code);
    let mut message = String::new();
    escape(&mut message, &err.message);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_errors_have_aws_shapes() {
        let mut x = Xml::new();
        x.node("vpc", |x| {
            x.leaf("vpcId", "vpc-1").leaf("cidrBlock", "10.0.0.0/16").tags(&Tags::new());
        });
        let doc = x.finish("CreateVpc", "req-1");
        assert!(doc.contains("<CreateVpcResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>req-1</requestId><vpc><vpcId>vpc-1</vpcId>"));
        assert!(doc.contains("<tagSet/>"));
        let e = error(
            &ApiError {
                code: "InvalidVpc.Range",
                message: "The CIDR '10.0.0.0/8' is invalid.".into(),
            },
            "r",
        );
        assert_eq!(
            e,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidVpc.Range</Code><Message>The CIDR &apos;10.0.0.0/8&apos; is invalid.</Message></Error></Errors><RequestID>r</RequestID></Response>"
        );
    }

    #[test]
    fn text_is_escaped() {
        let mut x = Xml::new();
        x.leaf("value", "<a & 'b'>");
        assert!(x.finish("T", "r").contains("<value>&lt;a &amp; &apos;b&apos;&gt;</value>"));
    }
}
