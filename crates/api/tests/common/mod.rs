//! What the API's integration tests share: calls through the service as a client makes
//! them, and reading the XML that comes back.

#![allow(dead_code)]

use vpclab_api::Service;

pub(crate) const NOW: u64 = 1_790_000_000;

pub(crate) fn call(s: &mut Service, body: &str) -> (u16, String) {
    let r = s.handle(body.as_bytes(), NOW);
    (r.status, r.body)
}

pub(crate) fn ok(s: &mut Service, body: &str) -> String {
    let (status, text) = call(s, body);
    assert_eq!(status, 200, "{body}: {text}");
    text
}

pub(crate) fn code(s: &mut Service, body: &str) -> String {
    let (status, text) = call(s, body);
    assert_eq!(status, 400, "{body} should fail: {text}");
    between(&text, "<Code>", "</Code>").unwrap_or_default().to_owned()
}

pub(crate) fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

pub(crate) fn all<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(v) = between(rest, open, close) {
        out.push(v);
        let at = rest.find(open).unwrap() + open.len() + v.len();
        rest = &rest[at..];
    }
    out
}
