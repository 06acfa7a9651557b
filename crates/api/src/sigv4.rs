//! Optional AWS Signature Version 4 checking of requests.
//!
//! By default vpclab accepts any credentials: it listens on loopback for one user, and
//! the aws CLI and boto3 always sign with *something*. With `vpclab serve --credentials
//! FILE` every request must be signed with one of the keys in the file, as AWS checks
//! them: the canonical request (method, path, sorted query, signed headers, payload
//! hash) hashed into the string to sign, signed with the key derived from the secret,
//! the date, the region and the service.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Access key id to secret.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    keys: BTreeMap<String, String>,
}

/// What a request carries for checking.
#[derive(Debug)]
pub struct Signed<'a> {
    /// `POST`, `GET`, …
    pub method: &'a str,
    /// The path, e.g. `/`.
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    /// Headers, any case.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// Why a request failed the check (the message AWS gives is generic on purpose).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No or malformed `Authorization` header.
    Missing,
    /// An access key id we do not have.
    UnknownKey,
    /// The signature does not match.
    Mismatch,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it (unreserved characters kept).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Credentials {
    /// Parses `access_key_id:secret` lines (blank lines and `#` comments ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, secret) = line.split_once(':').ok_or_else(|| {
                format!("line {}: expected access_key_id:secret_access_key", n + 1)
            })?;
            keys.insert(id.trim().to_owned(), secret.trim().to_owned());
        }
        if keys.is_empty() {
            return Err("no credentials in the file".into());
        }
        Ok(Self { keys })
    }

    /// Checks a request's SigV4 signature.
    pub fn check(&self, request: &Signed<'_>) -> Result<(), Refusal> {
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        };
        let auth = header("authorization").ok_or(Refusal::Missing)?;
        let fields = auth.strip_prefix("AWS4-HMAC-SHA256").ok_or(Refusal::Missing)?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in fields.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed_headers = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let (credential, signed_headers, signature) = (
            credential.ok_or(Refusal::Missing)?,
            signed_headers.ok_or(Refusal::Missing)?,
            signature.ok_or(Refusal::Missing)?,
        );
        let mut scope = credential.splitn(5, '/');
        let (key_id, date, region, service, terminal) =
            (scope.next(), scope.next(), scope.next(), scope.next(), scope.next());
        let (Some(key_id), Some(date), Some(region), Some(service), Some("aws4_request")) =
            (key_id, date, region, service, terminal)
        else {
            return Err(Refusal::Missing);
        };
        let secret = self.keys.get(key_id).ok_or(Refusal::UnknownKey)?;
        let amz_date = header("x-amz-date").ok_or(Refusal::Missing)?;

        let mut query: Vec<(String, String)> = form_urlencoded::parse(request.query.as_bytes())
            .map(|(k, v)| (encode(&k), encode(&v)))
            .collect();
        query.sort();
        let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut canonical_headers = String::new();
        for name in signed_headers.split(';') {
            let value = header(name).unwrap_or("");
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            canonical_headers.push_str(&format!("{}:{}\n", name.to_ascii_lowercase(), value));
        }
        let payload = match header("x-amz-content-sha256") {
            Some(hash) => hash.to_owned(),
            None => hex(&Sha256::digest(request.body)),
        };
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            request.method,
            request.path,
            query.join("&"),
            canonical_headers,
            signed_headers,
            payload
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        for part in [region, service, "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let expected = hex(&hmac(&key, to_sign.as_bytes()));
        // Compare in constant time: the position of the first difference must not leak.
        let same = expected.len() == signature.len()
            && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same { Ok(()) } else { Err(Refusal::Mismatch) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example (IAM ListUsers, 2015-08-30, the documentation's example key).
    #[test]
    fn the_documented_example_verifies() {
        let credentials =
            Credentials::parse("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n").unwrap();
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
            ("Host".to_owned(), "iam.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
            (
                "Authorization".to_owned(),
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
                    .to_owned(),
            ),
        ];
        let mut request = Signed {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            body: b"",
        };
        assert_eq!(credentials.check(&request), Ok(()));
        request.query = "Action=ListUsers&Version=2010-05-09";
        assert_eq!(credentials.check(&request), Err(Refusal::Mismatch));
        let other = Credentials::parse("OTHER:secret").unwrap();
        request.query = "Action=ListUsers&Version=2010-05-08";
        assert_eq!(other.check(&request), Err(Refusal::UnknownKey));
        let none = Signed { headers: &[], ..request };
        assert_eq!(credentials.check(&none), Err(Refusal::Missing));
    }

    #[test]
    fn credential_files() {
        assert!(Credentials::parse("# nothing\n\n").is_err());
        assert!(Credentials::parse("no-colon").is_err());
        assert!(Credentials::parse("a:b\n# c\nd:e").is_ok());
    }
}
