//! Amazon S3 (and S3-compatible stores), through its REST API: get, head and put one object,
//! each request signed with AWS Signature Version 4 and bounded by a timeout. Only what
//! publishing needs; the rest of the crate names no HTTP client.
//!
//! Configuration comes from the standard environment variables: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional), `AWS_REGION` or
//! `AWS_DEFAULT_REGION` (default `us-east-1`), and `AWS_ENDPOINT_URL_S3` or
//! `AWS_ENDPOINT_URL` for an S3-compatible store, addressed path-style
//! (`ENDPOINT/BUCKET/KEY`); without one, `https://BUCKET.s3.REGION.amazonaws.com/KEY`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::literal::format_timestamp;

/// `s3://BUCKET[/PREFIX]`: a bucket, and the key prefix under which objects are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// Without a leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl Location {
    /// Parses `s3://BUCKET[/PREFIX]`. The prefix's segments must be non-empty and neither `.`
    /// nor `..`, and it holds no control characters: keys must mean the same to every reader.
    pub fn parse(url: &str) -> Result<Location, S3Error> {
        let bad = |reason: &str| S3Error::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it does not start with `s3://`"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // The rules of S3's bucket names: 3 to 63 lowercase letters, digits, `-` and `.`,
        // starting and ending with a letter or digit.
        let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || !edge(bucket.bytes().next())
            || !edge(bucket.bytes().last())
        {
            return Err(bad(
                "the bucket name must be 3 to 63 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.chars().any(char::is_control) {
            return Err(bad("the prefix contains a control character"));
        }
        if !prefix.is_empty() && prefix.split('/').any(|s| matches!(s, "" | "." | "..")) {
            return Err(bad("the prefix has an empty, `.` or `..` segment"));
        }
        Ok(Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The key of `name` (a path relative to the prefix).
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// Why an S3 request could not be made or did not succeed.
#[derive(Debug)]
pub enum S3Error {
    /// The target is not `s3://BUCKET[/PREFIX]`.
    BadUrl { url: String, reason: String },
    /// A credential's environment variable is unset or empty.
    MissingCredential(&'static str),
    /// An environment variable's value cannot be used: an endpoint that is not an `http://`
    /// or `https://` URL without a path, a region that cannot be part of a host name.
    BadVariable {
        variable: &'static str,
        value: String,
        reason: String,
    },
    /// S3 answered with an error status; `code` and `message` come from its XML body.
    Status {
        method: &'static str,
        object: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// No complete answer within the timeout.
    Timeout {
        method: &'static str,
        object: String,
        timeout: Duration,
    },
    /// The request failed before S3 answered: name resolution, connection, TLS, a body cut.
    Transport {
        method: &'static str,
        object: String,
        reason: String,
    },
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            S3Error::BadUrl { url, reason } => {
                write!(
                    f,
                    "`{url}` is not an S3 location (s3://BUCKET/PREFIX): {reason}"
                )
            }
            S3Error::MissingCredential(variable) => write!(
                f,
                "no S3 credentials: the environment variable {variable} is not set"
            ),
            S3Error::BadVariable {
                variable,
                value,
                reason,
            } => write!(f, "{variable}=`{value}` {reason}"),
            S3Error::Status {
                method,
                object,
                status,
                code,
                message,
            } => {
                write!(f, "cannot {method} {object}: S3 answered {status}")?;
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            S3Error::Timeout {
                method,
                object,
                timeout,
            } => write!(
                f,
                "cannot {method} {object}: no answer within {} s",
                timeout.as_secs_f64()
            ),
            S3Error::Transport {
                method,
                object,
                reason,
            } => write!(f, "cannot {method} {object}: {reason}"),
        }
    }
}

impl std::error::Error for S3Error {}

/// An object read: its bytes and its ETag (the version a conditional put can require).
#[derive(Clone, Debug)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
}

/// What a put requires of the object it replaces.
#[derive(Clone, Debug)]
pub enum Condition {
    /// Nothing: the put replaces whatever is there.
    Any,
    /// That there is no object (`If-None-Match: *`).
    Absent,
    /// That the object is the version with this ETag (`If-Match`).
    Matches(String),
}

/// Whether a conditional put happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    Written,
    /// The object was not as the condition required (412, or 409 for a concurrent write).
    ConditionFailed,
}

/// The largest object read: far above any bundle, a bound against a misbehaving server.
const MAX_OBJECT: u64 = 1 << 30;

#[derive(Clone)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// A signing client for one bucket.
pub struct Client {
    agent: ureq::Agent,
    credentials: Credentials,
    region: String,
    bucket: String,
    /// `http` or `https`.
    scheme: String,
    /// The `Host` header: `host[:port]`.
    host: String,
    /// Path-style addressing: the bucket is the path's first segment, not part of the host.
    path_style: bool,
    timeout: Duration,
}

impl Client {
    /// A client for `location`'s bucket, configured by the environment (see the module's
    /// documentation). Every request gives up after `timeout`.
    pub fn from_env(location: &Location, timeout: Duration) -> Result<Client, S3Error> {
        Client::new(location, timeout, |name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    fn new(
        location: &Location,
        timeout: Duration,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Client, S3Error> {
        let required = |name: &'static str| var(name).ok_or(S3Error::MissingCredential(name));
        let credentials = Credentials {
            access_key_id: required("AWS_ACCESS_KEY_ID")?,
            secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
            session_token: var("AWS_SESSION_TOKEN"),
        };
        let region = match ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find_map(|name| var(name).map(|value| (name, value)))
        {
            // It becomes part of a host name and of the signature's scope.
            Some((variable, value))
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                return Err(S3Error::BadVariable {
                    variable,
                    value,
                    reason: "is not a region: lowercase letters, digits and `-`".to_owned(),
                });
            }
            Some((_, value)) => value,
            None => "us-east-1".to_owned(),
        };
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|name| var(name).map(|value| (name, value)));
        let (scheme, host, path_style) = match endpoint {
            Some((variable, value)) => {
                let bad = |reason: &str| S3Error::BadVariable {
                    variable,
                    value: value.clone(),
                    reason: format!("is not an S3 endpoint: {reason}"),
                };
                let (scheme, rest) = value
                    .split_once("://")
                    .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
                    .ok_or_else(|| bad("it must start with http:// or https://"))?;
                let host = rest.strip_suffix('/').unwrap_or(rest);
                if host.is_empty()
                    || !host.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    })
                {
                    return Err(bad("it must be a scheme and a host[:port], without a path"));
                }
                (scheme.to_owned(), host.to_owned(), true)
            }
            // A bucket name with dots does not match the wildcard certificate of
            // `*.s3.REGION.amazonaws.com`: address it path-style.
            None if location.bucket.contains('.') => (
                "https".to_owned(),
                format!("s3.{region}.amazonaws.com"),
                true,
            ),
            None => (
                "https".to_owned(),
                format!("{}.s3.{region}.amazonaws.com", location.bucket),
                false,
            ),
        };
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // Error statuses are answers to read (S3's XML names the error), not failures.
            .http_status_as_error(false)
            // A redirect (a bucket in another region) would need a new signature: report it.
            .max_redirects(0)
            .build()
            .new_agent();
        Ok(Client {
            agent,
            credentials,
            region,
            bucket: location.bucket.clone(),
            scheme,
            host,
            path_style,
            timeout,
        })
    }

    /// Reads the object `key`; `None` when there is none (but an error when the bucket does
    /// not exist).
    pub fn get(&self, key: &str) -> Result<Option<Object>, S3Error> {
        let mut response = self.request("GET", key, &[], None)?;
        let status = response.status().as_u16();
        if status == 404 {
            let body = self.body("GET", key, &mut response).unwrap_or_default();
            let (code, message) = error_fields(&body);
            if code.as_deref().is_none_or(|c| c == "NoSuchKey") {
                return Ok(None);
            }
            return Err(self.status_error("GET", key, status, code, message));
        }
        let bytes = self.body("GET", key, &mut response)?;
        if !(200..300).contains(&status) {
            let (code, message) = error_fields(&bytes);
            return Err(self.status_error("GET", key, status, code, message));
        }
        let etag = header(&response, "etag");
        Ok(Some(Object { bytes, etag }))
    }

    /// Whether the object `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, S3Error> {
        let response = self.request("HEAD", key, &[], None)?;
        match response.status().as_u16() {
            404 => Ok(false),
            200..300 => Ok(true),
            // A HEAD answer has no body to name the error.
            status => Err(self.status_error("HEAD", key, status, None, None)),
        }
    }

    /// Writes `bytes` as the object `key` if `condition` holds. S3 checks the body against
    /// its signed SHA-256, so a body altered on the way is refused, never stored.
    pub fn put(
        &self,
        key: &str,
        bytes: &[u8],
        headers: &[(&str, &str)],
        condition: &Condition,
    ) -> Result<Put, S3Error> {
        let mut all = headers.to_vec();
        match condition {
            Condition::Any => {}
            Condition::Absent => all.push(("if-none-match", "*")),
            Condition::Matches(etag) => all.push(("if-match", etag)),
        }
        let mut response = self.request("PUT", key, &all, Some(bytes))?;
        let status = response.status().as_u16();
        match status {
            200..300 => Ok(Put::Written),
            409 | 412 if !matches!(condition, Condition::Any) => Ok(Put::ConditionFailed),
            _ => {
                let body = self.body("PUT", key, &mut response).unwrap_or_default();
                let (code, message) = error_fields(&body);
                Err(self.status_error("PUT", key, status, code, message))
            }
        }
    }

    /// `s3://BUCKET/KEY`, as messages name an object.
    pub fn object(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Sends one signed request. `extra` headers are sent unsigned (S3 requires only `host`
    /// and the `x-amz-*` headers it reads to be signed).
    fn request(
        &self,
        method: &'static str,
        key: &str,
        extra: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<ureq::http::Response<ureq::Body>, S3Error> {
        let path = if self.path_style {
            format!("/{}/{}", self.bucket, uri_encode(key))
        } else {
            format!("/{}", uri_encode(key))
        };
        let payload_hash = hex(&Sha256::digest(body.unwrap_or_default()));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let amz_date = amz_date(now);
        let mut signed = vec![
            ("host", self.host.clone()),
            ("x-amz-content-sha256", payload_hash.clone()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(token) = &self.credentials.session_token {
            signed.push(("x-amz-security-token", token.clone()));
        }
        let authorization = authorization(
            &self.credentials,
            &self.region,
            &Signing {
                method,
                path: &path,
                query: "",
                headers: &signed,
                payload_hash: &payload_hash,
                amz_date: &amz_date,
            },
        );
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}://{}{path}", self.scheme, self.host))
            .header("authorization", authorization);
        for (name, value) in &signed {
            request = request.header(*name, value.as_str());
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let sent = request
            .body(body.unwrap_or_default())
            .map_err(|e| self.transport(method, key, e.to_string()))
            .and_then(|request| {
                self.agent
                    .run(request)
                    .map_err(|e| self.failure(method, key, e))
            })?;
        Ok(sent)
    }

    fn body(
        &self,
        method: &'static str,
        key: &str,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> Result<Vec<u8>, S3Error> {
        response
            .body_mut()
            .with_config()
            .limit(MAX_OBJECT)
            .read_to_vec()
            .map_err(|e| self.failure(method, key, e))
    }

    fn failure(&self, method: &'static str, key: &str, error: ureq::Error) -> S3Error {
        match error {
            ureq::Error::Timeout(_) => S3Error::Timeout {
                method,
                object: self.object(key),
                timeout: self.timeout,
            },
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => S3Error::Timeout {
                method,
                object: self.object(key),
                timeout: self.timeout,
            },
            e => self.transport(method, key, e.to_string()),
        }
    }

    fn transport(&self, method: &'static str, key: &str, reason: String) -> S3Error {
        S3Error::Transport {
            method,
            object: self.object(key),
            reason: format!("{reason} (endpoint {}://{})", self.scheme, self.host),
        }
    }

    fn status_error(
        &self,
        method: &'static str,
        key: &str,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    ) -> S3Error {
        S3Error::Status {
            method,
            object: self.object(key),
            status,
            code,
            message,
        }
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `Code` and `Message` of S3's XML error body, when it has them.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let field = |name: &str| {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = start + text[start..].find(&format!("</{name}>"))?;
        let value = text[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        Some(value.trim().to_owned()).filter(|v| !v.is_empty())
    };
    (field("Code"), field("Message"))
}

/// One request as Signature Version 4 sees it.
struct Signing<'a> {
    method: &'a str,
    /// The URI-encoded path.
    path: &'a str,
    /// The canonical query string: encoded `name=value` pairs sorted by name, joined by `&`.
    query: &'a str,
    /// The signed headers, names in lowercase.
    headers: &'a [(&'a str, String)],
    /// The hex SHA-256 of the body (S3 also takes it as `x-amz-content-sha256`).
    payload_hash: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    amz_date: &'a str,
}

/// The `Authorization` header of AWS Signature Version 4 for the service `s3`: an
/// HMAC-SHA256, by a key derived from the secret, the date, the region and the service, of
/// a digest of the canonical request.
fn authorization(credentials: &Credentials, region: &str, request: &Signing<'_>) -> String {
    let mut headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(name, value)| (*name, value.trim()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method, request.path, request.query, request.payload_hash
    );
    let date = request.amz_date.get(..8).unwrap_or(request.amz_date);
    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        request.amz_date,
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
        credentials.access_key_id
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDDTHHMMSSZ`, the time format of Signature Version 4.
fn amz_date(millis: i64) -> String {
    let rfc3339 = format_timestamp(millis);
    rfc3339
        .get(..19)
        .unwrap_or(&rfc3339)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .chain(['Z'])
        .collect()
}

/// S3's URI encoding of a path: every byte but `/` and the unreserved ones
/// (`A-Z a-z 0-9 - _ . ~`) as `%XX`. The same text is sent and signed.
fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn example_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
            session_token: None,
        }
    }

    fn sign(
        method: &str,
        path: &str,
        query: &str,
        extra: &[(&str, &str)],
        payload: &str,
    ) -> String {
        let mut headers = vec![
            ("host", "examplebucket.s3.amazonaws.com".to_owned()),
            ("x-amz-content-sha256", payload.to_owned()),
            ("x-amz-date", "20130524T000000Z".to_owned()),
        ];
        headers.extend(extra.iter().map(|(n, v)| (*n, (*v).to_owned())));
        authorization(
            &example_credentials(),
            "us-east-1",
            &Signing {
                method,
                path,
                query,
                headers: &headers,
                payload_hash: payload,
                amz_date: "20130524T000000Z",
            },
        )
    }

    /// The signature examples of the Amazon S3 API reference ("Signature Calculations for
    /// the Authorization Header: Transferring Payload in a Single Chunk").
    #[test]
    fn signatures_match_the_published_s3_examples() {
        // GET Object, the first ten bytes of test.txt.
        assert_eq!(
            sign(
                "GET",
                "/test.txt",
                "",
                &[("range", "bytes=0-9")],
                EMPTY_SHA256
            ),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        // PUT Object `test$file.text` holding "Welcome to Amazon S3.".
        let body = hex(&Sha256::digest(b"Welcome to Amazon S3."));
        assert_eq!(
            body,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        assert_eq!(
            sign(
                "PUT",
                &format!("/{}", uri_encode("test$file.text")),
                "",
                &[
                    ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                    ("x-amz-storage-class", "REDUCED_REDUNDANCY")
                ],
                &body
            ),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,\
             Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
        // GET Bucket (List Objects), with a query.
        assert!(
            sign("GET", "/", "max-keys=2&prefix=J", &[], EMPTY_SHA256).ends_with(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            )
        );
    }

    #[test]
    fn keys_are_encoded_as_s3_expects() {
        assert_eq!(
            uri_encode("p/log/2026-11-26T12:00:00.000Z-prod_1.json"),
            "p/log/2026-11-26T12%3A00%3A00.000Z-prod_1.json"
        );
        assert_eq!(uri_encode("a b/ü~"), "a%20b/%C3%BC~");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_764_158_400_123), "20251126T120000Z");
    }

    #[test]
    fn locations_parse_or_say_why_not() {
        let location = Location::parse("s3://my-bucket/flags/prod/").unwrap();
        assert_eq!(location.bucket, "my-bucket");
        assert_eq!(location.key("current/x.json"), "flags/prod/current/x.json");
        assert_eq!(location.to_string(), "s3://my-bucket/flags/prod");
        let root = Location::parse("s3://my-bucket").unwrap();
        assert_eq!(root.key("bundles/h.json"), "bundles/h.json");
        assert_eq!(root.to_string(), "s3://my-bucket");
        for bad in [
            "my-bucket/x",
            "s3://",
            "s3://ab",
            "s3://My-Bucket",
            "s3://-bucket",
            "s3://bucket/a//b",
            "s3://bucket/../b",
            "s3://bucket/a\nb",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_environment_configures_the_client() {
        let location = Location::parse("s3://bucket/p").unwrap();
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        const KEYS: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let missing = Client::new(&location, Duration::from_secs(1), vars(&KEYS[..1]));
        assert_eq!(
            missing.err().unwrap().to_string(),
            "no S3 credentials: the environment variable AWS_SECRET_ACCESS_KEY is not set"
        );
        let aws = Client::new(&location, Duration::from_secs(1), vars(KEYS)).unwrap();
        assert_eq!(
            (aws.scheme.as_str(), aws.host.as_str(), aws.path_style),
            ("https", "bucket.s3.us-east-1.amazonaws.com", false)
        );
        const LOCAL: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
        ];
        let local = Client::new(&location, Duration::from_secs(1), vars(LOCAL)).unwrap();
        assert_eq!(
            (local.host.as_str(), local.path_style, local.region.as_str()),
            ("127.0.0.1:9000", true, "eu-west-3")
        );
        const PATH: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL_S3", "ftp://host/x"),
        ];
        let bad = Client::new(&location, Duration::from_secs(1), vars(PATH));
        assert!(
            bad.err()
                .unwrap()
                .to_string()
                .starts_with("AWS_ENDPOINT_URL_S3=`ftp://host/x` is not an S3 endpoint")
        );
        const REGION: &[(&str, &str)] = &[
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "evil.example/x"),
        ];
        let bad = Client::new(&location, Duration::from_secs(1), vars(REGION));
        assert_eq!(
            bad.err().unwrap().to_string(),
            "AWS_REGION=`evil.example/x` is not a region: lowercase letters, digits and `-`"
        );
    }

    #[test]
    fn error_bodies_give_their_code_and_message() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>\
            <Message>The specified bucket does not exist &amp; never did</Message></Error>";
        assert_eq!(
            error_fields(body),
            (
                Some("NoSuchBucket".to_owned()),
                Some("The specified bucket does not exist & never did".to_owned())
            )
        );
        assert_eq!(error_fields(b"<html>"), (None, None));
    }
}
