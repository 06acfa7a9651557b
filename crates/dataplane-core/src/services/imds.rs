//! The instance metadata service's HTTP side: IMDSv1 and IMDSv2 as EC2 answers them.
//!
//! No I/O: a request's bytes in, a response's bytes out. The metadata itself is a flat
//! map of paths under `/latest/meta-data/` compiled from the model
//! ([`super::InstanceService`]); directory listings are derived from it. Behaviour, from
//! the EC2 User Guide: `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds` (1 to 21,600) gives a session token, refused
//! (403) with `X-Forwarded-For`; a request carrying `X-aws-ec2-metadata-token` needs a
//! valid, unexpired token of this instance (401); without one, IMDSv1 is served unless
//! the instance requires tokens (401); a switched-off endpoint answers 403; unknown
//! paths 404; a bad token request 400.

use std::collections::HashMap;

use super::InstanceService;

/// Longest token lifetime AWS allows.
pub const MAX_TOKEN_TTL_S: u64 = 21_600;
/// Largest request the service reads (headers included).
pub const MAX_REQUEST: usize = 8192;

/// Session tokens handed out, with their instance and expiry (milliseconds).
#[derive(Debug, Default)]
pub struct Tokens {
    live: HashMap<String, (u32, u64)>,
    state: u64,
}

impl Tokens {
    /// A store whose tokens are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { live: HashMap::new(), state: seed }
    }

    fn issue(&mut self, port: u32, ttl_s: u64, now_ms: u64) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        self.live.retain(|_, &mut (_, expires)| expires > now_ms);
        let mut token = String::with_capacity(56);
        while token.len() < 56 {
            // SplitMix64: tokens need to be unguessable by the instance's neighbours in
            // a lab, not by an adversary with the seed.
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            for k in 0..10 {
                token.push(char::from(ALPHABET[(z >> (6 * k)) as usize & 63]));
            }
        }
        token.truncate(56);
        token.push_str("==");
        self.live.insert(token.clone(), (port, now_ms + ttl_s * 1000));
        token
    }

    /// The seconds `token` has left for `port`'s instance, if it is valid.
    fn check(&self, token: &str, port: u32, now_ms: u64) -> Option<u64> {
        match self.live.get(token) {
            Some(&(owner, expires)) if owner == port && expires > now_ms => {
                Some((expires - now_ms) / 1000)
            }
            _ => None,
        }
    }
}

/// A parsed request: method, path and the headers the service reads.
#[derive(Debug, PartialEq, Eq)]
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    ttl: Option<&'a str>,
    token: Option<&'a str>,
    forwarded: bool,
}

/// Whether `buf` holds a whole request (headers and any body): how many bytes.
pub fn complete(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let body = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    end.checked_add(body).filter(|&total| buf.len() >= total)
}

fn parse(head: &str) -> Option<Request<'_>> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path, version) = (first.next()?, first.next()?, first.next()?);
    if !version.starts_with("HTTP/1.") || !path.starts_with('/') {
        return None;
    }
    let mut request = Request { method, path, ttl: None, token: None, forwarded: false };
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "x-aws-ec2-metadata-token-ttl-seconds" => request.ttl = Some(value),
            "x-aws-ec2-metadata-token" => request.token = Some(value),
            "x-forwarded-for" => request.forwarded = true,
            _ => {}
        }
    }
    Some(request)
}

/// The response to `request` (a whole request, see [`complete`]) from the instance at
/// `port`, at `now_ms`. The `bool` is true for a token response, which leaves with the
/// instance's hop limit as its IP TTL.
pub fn respond(
    instance: &InstanceService,
    port: u32,
    tokens: &mut Tokens,
    request: &[u8],
    now_ms: u64,
) -> (Vec<u8>, bool) {
    let Some(request) = std::str::from_utf8(request).ok().and_then(parse) else {
        return (error(400, "Bad Request"), false);
    };
    if !instance.options.endpoint_enabled {
        return (error(403, "Forbidden"), false);
    }
    let path = request.path.split(['?', '#']).next().unwrap_or("/");
    if path == "/latest/api/token" {
        if request.method != "PUT" {
            return (error(405, "Method Not Allowed"), false);
        }
        if request.forwarded {
            return (error(403, "Forbidden"), false);
        }
        return match request.ttl.and_then(|t| t.parse::<u64>().ok()) {
            Some(ttl) if (1..=MAX_TOKEN_TTL_S).contains(&ttl) => {
                let token = tokens.issue(port, ttl, now_ms);
                let ttl_header = format!("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: {ttl}\r\n");
                (ok("text/plain", &token, &ttl_header), true)
            }
            _ => (error(400, "Bad Request"), false),
        };
    }
    if request.method != "GET" && request.method != "HEAD" {
        return (error(405, "Method Not Allowed"), false);
    }
    let ttl_header = match request.token {
        Some(token) => match tokens.check(token, port, now_ms) {
            Some(left) => format!("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: {left}\r\n"),
            None => return (error(401, "Unauthorized"), false),
        },
        None if instance.options.tokens_required => return (error(401, "Unauthorized"), false),
        None => String::new(),
    };
    let body = match lookup(instance, path) {
        Some(body) => body,
        None => return (error(404, "Not Found"), false),
    };
    let mut response = ok("text/plain", &body, &ttl_header);
    if request.method == "HEAD" {
        let end = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
        response.truncate(end);
    }
    (response, false)
}

/// What a `GET` of `path` returns: a value, or a directory's listing.
fn lookup(instance: &InstanceService, path: &str) -> Option<String> {
    match path {
        "/" => return Some("latest".into()),
        "/latest" | "/latest/" => {
            let user_data = if instance.user_data.is_some() { "\nuser-data" } else { "" };
            return Some(format!("dynamic\nmeta-data{user_data}"));
        }
        // Launched without user data, the path is not there (404), as on EC2.
        "/latest/user-data" | "/latest/user-data/" => return instance.user_data.clone(),
        "/latest/dynamic" | "/latest/dynamic/" => return Some("instance-identity/".into()),
        "/latest/dynamic/instance-identity" | "/latest/dynamic/instance-identity/" => {
            return Some("document".into());
        }
        "/latest/dynamic/instance-identity/document" => return Some(instance.identity.clone()),
        _ => {}
    }
    let key = path.strip_prefix("/latest/meta-data")?;
    let key = key.strip_prefix('/').unwrap_or(key);
    if let Some(value) = instance.metadata.get(key) {
        return Some(value.clone());
    }
    // A directory: `key` is empty (the root) or names one, with or without the slash.
    let dir = match key {
        "" => String::new(),
        k if k.ends_with('/') => k.to_owned(),
        k => format!("{k}/"),
    };
    let mut entries: Vec<&str> = Vec::new();
    for full in instance.metadata.keys().filter_map(|k| k.strip_prefix(dir.as_str())) {
        let entry = match full.find('/') {
            Some(at) => &full[..=at],
            None => full,
        };
        if entries.last() != Some(&entry) {
            entries.push(entry);
        }
    }
    (!entries.is_empty()).then(|| entries.join("\n"))
}

fn ok(content_type: &str, body: &str, extra: &str) -> Vec<u8> {
    response(200, "OK", content_type, body, extra)
}

/// An error as IMDS words it: a small XHTML page.
fn error(code: u16, reason: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
         <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
         \t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
         <head>\n  <title>{code} - {reason}</title>\n </head>\n \
         <body>\n  <h1>{code} - {reason}</h1>\n </body>\n</html>\n"
    );
    response(code, reason, "text/html", &body, "")
}

fn response(code: u16, reason: &str, content_type: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         {extra}Server: EC2ws\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use vpclab_model::MetadataOptions;

    use super::*;

    fn instance(options: MetadataOptions) -> InstanceService {
        let metadata: BTreeMap<String, String> = [
            ("instance-id", "i-0abc"),
            ("local-ipv4", "10.0.1.10"),
            ("placement/availability-zone", "us-east-1a"),
            ("placement/region", "us-east-1"),
            ("network/interfaces/macs/0e:01:02:03:04:05/subnet-id", "subnet-1"),
            ("network/interfaces/macs/0e:01:02:03:04:05/vpc-id", "vpc-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        InstanceService {
            vpc: 0,
            dns_support: true,
            dns64: false,
            resolver: "10.0.0.2".parse().unwrap(),
            options,
            metadata,
            identity: "{}".into(),
            user_data: None,
        }
    }

    fn get(i: &InstanceService, tokens: &mut Tokens, request: &str) -> (u16, String) {
        let (bytes, _) = respond(i, 7, tokens, request.as_bytes(), 1_000);
        let text = String::from_utf8(bytes).unwrap();
        let code = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
        (code, body)
    }

    #[test]
    fn user_data_is_there_only_when_launched_with_some() {
        let mut t = Tokens::new(1);
        let req = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n");
        let mut i = instance(MetadataOptions::default());
        assert_eq!(get(&i, &mut t, &req("/latest/user-data")).0, 404);
        assert_eq!(get(&i, &mut t, &req("/latest/")).1, "dynamic\nmeta-data");
        i.user_data = Some("#!/bin/sh\necho hi\n".into());
        assert_eq!(
            get(&i, &mut t, &req("/latest/user-data")),
            (200, "#!/bin/sh\necho hi\n".into())
        );
        assert_eq!(get(&i, &mut t, &req("/latest/")).1, "dynamic\nmeta-data\nuser-data");
    }

    #[test]
    fn imdsv1_values_listings_and_404() {
        let i = instance(MetadataOptions::default());
        let mut t = Tokens::new(1);
        let req = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n");
        assert_eq!(get(&i, &mut t, &req("/latest/meta-data/instance-id")), (200, "i-0abc".into()));
        assert_eq!(get(&i, &mut t, &req("/latest/meta-data/placement/region")).1, "us-east-1");
        assert_eq!(
            get(&i, &mut t, &req("/latest/meta-data/")).1,
            "instance-id\nlocal-ipv4\nnetwork/\nplacement/"
        );
        assert_eq!(
            get(&i, &mut t, &req("/latest/meta-data/placement")).1,
            "availability-zone\nregion"
        );
        assert_eq!(
            get(&i, &mut t, &req("/latest/meta-data/network/interfaces/macs/")).1,
            "0e:01:02:03:04:05/"
        );
        let (code, body) = get(&i, &mut t, &req("/latest/meta-data/nothing-here"));
        assert_eq!(code, 404);
        assert!(body.contains("<title>404 - Not Found</title>"));
        assert_eq!(get(&i, &mut t, "garbage\r\n\r\n").0, 400);
    }

    #[test]
    fn imdsv2_tokens() {
        let required = MetadataOptions { tokens_required: true, ..MetadataOptions::default() };
        let i = instance(required);
        let mut t = Tokens::new(1);
        let path = "/latest/meta-data/local-ipv4";
        assert_eq!(get(&i, &mut t, &format!("GET {path} HTTP/1.1\r\n\r\n")).0, 401);
        let put =
            "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
        let (bytes, hop_limited) = respond(&i, 7, &mut t, put.as_bytes(), 1_000);
        assert!(hop_limited);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK"));
        assert!(text.contains("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 60"));
        let token = text.split_once("\r\n\r\n").unwrap().1.to_owned();
        assert_eq!(token.len(), 58);
        let with = |token: &str| {
            format!("GET {path} HTTP/1.1\r\nx-aws-ec2-metadata-token: {token}\r\n\r\n")
        };
        assert_eq!(get(&i, &mut t, &with(&token)), (200, "10.0.1.10".into()));
        assert_eq!(get(&i, &mut t, &with("forged")).0, 401);
        // Another instance's token, and an expired one, are no good.
        let (bytes, _) = respond(&i, 8, &mut t, with(&token).as_bytes(), 1_000);
        assert!(bytes.starts_with(b"HTTP/1.1 401"));
        let (bytes, _) = respond(&i, 7, &mut t, with(&token).as_bytes(), 61_001);
        assert!(bytes.starts_with(b"HTTP/1.1 401"));
        // Bad TTLs, the wrong method, a forwarded request.
        for bad in ["0", "21601", "x"] {
            let put = format!(
                "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: {bad}\r\n\r\n"
            );
            assert_eq!(get(&i, &mut t, &put).0, 400, "ttl {bad}");
        }
        assert_eq!(get(&i, &mut t, "PUT /latest/api/token HTTP/1.1\r\n\r\n").0, 400);
        assert_eq!(get(&i, &mut t, "GET /latest/api/token HTTP/1.1\r\n\r\n").0, 405);
        let forwarded = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n";
        assert_eq!(get(&i, &mut t, forwarded).0, 403);
    }

    #[test]
    fn a_switched_off_endpoint_answers_403() {
        let off = MetadataOptions { endpoint_enabled: false, ..MetadataOptions::default() };
        let i = instance(off);
        let mut t = Tokens::new(1);
        assert_eq!(get(&i, &mut t, "GET /latest/meta-data/ HTTP/1.1\r\n\r\n").0, 403);
    }

    proptest::proptest! {
        /// Whatever an instance sends, the service answers with an HTTP/1.1 status line
        /// and never panics; `complete` never claims more than it was given.
        #[test]
        fn any_bytes_get_an_http_answer(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            head in proptest::sample::select(vec!["", "GET / HTTP/1.1\r\n", "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: "]),
        ) {
            let mut request = head.as_bytes().to_vec();
            request.extend_from_slice(&bytes);
            if let Some(end) = complete(&request) {
                proptest::prop_assert!(end <= request.len());
            }
            let mut tokens = Tokens::new(3);
            let (response, _) = respond(&instance(MetadataOptions::default()), 1, &mut tokens, &request, 0);
            proptest::prop_assert!(response.starts_with(b"HTTP/1.1 "));
        }
    }

    #[test]
    fn requests_are_complete_with_their_body() {
        let huge = format!("PUT /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", usize::MAX);
        assert_eq!(complete(huge.as_bytes()), None, "no overflow");
        assert_eq!(complete(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(complete(b"GET / HTTP/1.1\r\n\r\n"), Some(18));
        let put = b"PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nab";
        assert_eq!(complete(put), None);
        assert_eq!(complete(b"PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), Some(41));
    }
}
