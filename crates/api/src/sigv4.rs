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
    /// The server's clock: seconds since the Unix epoch.
    pub now: u64,
}

/// How far a request's `X-Amz-Date` may be from the server's clock: AWS's 15 minutes.
pub const MAX_SKEW_S: u64 = 15 * 60;

/// Why a request failed the check (the message AWS gives is generic on purpose).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No or malformed `Authorization` header.
    Missing,
    /// An access key id we do not have.
    UnknownKey,
    /// The signature does not match (or the body is not the one whose hash the
    /// request carries in `x-amz-content-sha256`).
    Mismatch,
    /// `X-Amz-Date` is more than [`MAX_SKEW_S`] away from the server's clock (AWS's
    /// `RequestExpired`).
    Expired,
}

/// `YYYYMMDDTHHMMSSZ` as seconds since the Unix epoch.
fn amz_time(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        digits.bytes().all(|c| c.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = crate::date::days_from_civil(y, m, d);
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
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

/// The credential scope: `<date>/<region>/<service>`.
struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

/// The SigV4 signature of `request`: its canonical request (method, path, sorted
/// query, the `signed_headers` with their values by `header`, the payload hash) hashed
/// into the string to sign, signed with the key derived from `secret` and `scope`.
fn signature<'h>(
    secret: &str,
    amz_date: &str,
    scope: &Scope<'_>,
    request: &Signed<'_>,
    header: &dyn Fn(&str) -> Option<&'h str>,
    signed_headers: &str,
    payload: &str,
) -> String {
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
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path,
        query.join("&"),
        canonical_headers,
        signed_headers,
        payload
    );
    let Scope { date, region, service } = scope;
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, to_sign.as_bytes()))
}

/// `now` (seconds since the Unix epoch) as `YYYYMMDDTHHMMSSZ`.
fn amz_date(now: u64) -> String {
    let c = crate::date::civil(now);
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// Signs a request for EC2 in us-east-1 as an SDK does, at `now`: adds `x-amz-date`,
/// `x-amz-content-sha256` and `authorization` to `headers` (which should hold `host`),
/// signing every header it then has.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    key_id: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    now: u64,
) {
    let stamp = amz_date(now);
    let payload = hex(&Sha256::digest(body));
    headers.retain(|(k, _)| {
        !["authorization", "x-amz-date", "x-amz-content-sha256"]
            .contains(&k.to_ascii_lowercase().as_str())
    });
    headers.push(("x-amz-date".to_owned(), stamp.clone()));
    headers.push(("x-amz-content-sha256".to_owned(), payload.clone()));
    let mut names: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let signed_headers = names.join(";");
    let snapshot = headers.clone();
    let header = |name: &str| {
        snapshot.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    };
    let request = Signed { method, path, query, headers: &snapshot, body, now };
    let scope = Scope { date: &stamp[..8], region: "us-east-1", service: "ec2" };
    let signature =
        self::signature(secret, &stamp, &scope, &request, &header, &signed_headers, &payload);
    headers.push((
        "authorization".to_owned(),
        format!(
            "AWS4-HMAC-SHA256 Credential={key_id}/{}/us-east-1/ec2/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}",
            &stamp[..8]
        ),
    ));
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
        let signed_at = amz_time(amz_date).ok_or(Refusal::Missing)?;
        if signed_at.abs_diff(request.now) > MAX_SKEW_S {
            return Err(Refusal::Expired);
        }

        // The body's own hash, never the one the request claims: a claim that differs is
        // a body changed after signing.
        let payload = hex(&Sha256::digest(request.body));
        if header("x-amz-content-sha256").is_some_and(|claimed| claimed != payload) {
            return Err(Refusal::Mismatch);
        }
        let scope = Scope { date, region, service };
        let expected =
            self::signature(secret, amz_date, &scope, request, &header, signed_headers, &payload);
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
            now: amz_time("20150830T123600Z").unwrap(),
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
    fn a_signature_holds_for_its_body_and_fifteen_minutes() {
        let credentials =
            Credentials::parse("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n").unwrap();
        let signed_at = amz_time("20150830T123600Z").unwrap();
        assert_eq!(signed_at, 1_440_938_160, "2015-08-30 12:36:00 UTC");
        let mut headers = vec![
            ("Host".to_owned(), "ec2.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let body = b"Action=DescribeVpcs&Version=2016-11-15";
        let sign = |headers: &[(String, String)], body: &[u8]| {
            // The signature a client computes: the check's own arithmetic, with the
            // body's hash as the payload.
            let names = "host;x-amz-date";
            let canonical = format!(
                "POST\n/\n\nhost:ec2.amazonaws.com\nx-amz-date:20150830T123600Z\n\n{names}\n{}",
                hex(&Sha256::digest(body))
            );
            let to_sign = format!(
                "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/ec2/aws4_request\n{}",
                hex(&Sha256::digest(canonical.as_bytes()))
            );
            let mut key = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
            for part in ["us-east-1", "ec2", "aws4_request"] {
                key = hmac(&key, part.as_bytes());
            }
            let mut all = headers.to_vec();
            all.push((
                "Authorization".to_owned(),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, \
                     SignedHeaders={names}, Signature={}",
                    hex(&hmac(&key, to_sign.as_bytes()))
                ),
            ));
            all
        };
        let signed = sign(&headers, body);
        fn request<'a>(headers: &'a [(String, String)], body: &'a [u8], now: u64) -> Signed<'a> {
            Signed { method: "POST", path: "/", query: "", headers, body, now }
        }
        assert_eq!(credentials.check(&request(&signed, body, signed_at)), Ok(()));
        // Another body under the same signature.
        let other = b"Action=DeleteVpc&VpcId=vpc-1&Version=2016-11-15";
        assert_eq!(credentials.check(&request(&signed, other, signed_at)), Err(Refusal::Mismatch));
        // A claimed payload hash that is not the body's, even one the signature covers.
        headers.push(("x-amz-content-sha256".to_owned(), hex(&Sha256::digest(other))));
        let claimed = sign(&headers, body);
        assert_eq!(credentials.check(&request(&claimed, other, signed_at)), Err(Refusal::Mismatch));
        // Fifteen minutes either way, and not a second more.
        for (now, verdict) in [
            (signed_at + MAX_SKEW_S, Ok(())),
            (signed_at - MAX_SKEW_S, Ok(())),
            (signed_at + MAX_SKEW_S + 1, Err(Refusal::Expired)),
            (signed_at - MAX_SKEW_S - 1, Err(Refusal::Expired)),
        ] {
            assert_eq!(credentials.check(&request(&signed, body, now)), verdict, "at {now}");
        }
        assert_eq!(amz_time("2015-08-30T12:36:00Z"), None);
        assert_eq!(amz_time("20151330T123600Z"), None);
        assert_eq!(amz_time("20150830T12360xZ"), None);
    }

    #[test]
    fn credential_files() {
        assert!(Credentials::parse("# nothing\n\n").is_err());
        assert!(Credentials::parse("no-colon").is_err());
        assert!(Credentials::parse("a:b\n# c\nd:e").is_ok());
    }

    #[test]
    fn a_request_signed_here_is_one_the_check_takes() {
        let keys = Credentials::parse("AKIDLAB:lab-secret\n").unwrap();
        let now = 1_764_547_200; // 2025-12-01T00:00:00Z
        let body = b"Action=DescribeVpcs&Version=2016-11-15";
        let mut headers = vec![("host".to_owned(), "vpclab-console".to_owned())];
        sign("AKIDLAB", "lab-secret", "POST", "/", "", &mut headers, body, now);
        let request = |headers: &[(String, String)], body: &[u8], now| {
            let signed = Signed { method: "POST", path: "/", query: "", headers, body, now };
            keys.check(&signed)
        };
        assert_eq!(request(&headers, body, now), Ok(()));
        assert_eq!(request(&headers, b"Action=DeleteVpc", now), Err(Refusal::Mismatch));
        assert_eq!(request(&headers, body, now + MAX_SKEW_S + 1), Err(Refusal::Expired));
        let mut wrong = vec![("host".to_owned(), "vpclab-console".to_owned())];
        sign("AKIDLAB", "not-the-secret", "POST", "/", "", &mut wrong, body, now);
        assert_eq!(request(&wrong, body, now), Err(Refusal::Mismatch));
    }

    #[test]
    fn dates_are_written_as_they_are_read() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        // Every day across four centuries' leap rules, at a varying time of day.
        for day in (0..200_000u64).step_by(7) {
            let t = day * 86_400 + day % 86_400;
            assert_eq!(amz_time(&amz_date(t)), Some(t), "day {day}");
        }
    }
}
