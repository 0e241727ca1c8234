//! `flagstone serve`, end to end on loopback: OpenFeature's own OFREP clients (the Python SDK
//! with openfeature-provider-ofrep, the Node server SDK with @openfeature/ofrep-provider) get
//! exactly what flagstone's evaluator serves; the protocol's answers, entity tags, errors and
//! limits byte for byte; hot reload; and a graceful shutdown that loses no exposure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flagstone::eval::Evaluator;
use flagstone::eval::watch::{Pointer, load_bundle};
use serde_json::{Value, json};

use crate::support::contexts::{contexts, to_openfeature};
use crate::support::{root, tempdir};
use crate::test_publish::Site;

const NODE_INSTALL: &str = "npm ci --prefix tests/ofrep (.ci/run does)";
const PYTHON_INSTALL: &str = "python3 -m pip install 'openfeature-sdk==0.10.0' \
     'openfeature-provider-ofrep==0.3.0' (.ci/run does)";
/// A context `ai/assistant` serves "on" in production, by its `staff` rule.
const STAFF: &str =
    r#"{"context":{"targetingKey":"usr_7001","email":"grace@acme.com","plan":"free"}}"#;

/// A running `flagstone serve`, stopped (SIGKILL) when dropped unless [`Serve::stop`]ped.
struct Serve {
    child: Child,
    stdout: BufReader<ChildStdout>,
    address: String,
}

impl Serve {
    fn start(published: &Path, env: &str, extra: &[&str]) -> Serve {
        let mut child = crate::support::flagstone()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--env",
                env,
                "--publish-dir",
            ])
            .arg(published)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flagstone serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let address = first
            .trim_end()
            .rsplit_once("http://")
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .1
            .to_owned();
        Serve {
            child,
            stdout,
            address,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }

    /// One request on its own connection; the whole response.
    fn request(&self, raw: &str) -> Response {
        let mut stream = self.connect();
        stream.write_all(raw.as_bytes()).unwrap();
        read_response(&mut stream)
    }

    fn post(&self, path: &str, body: &str, headers: &[&str]) -> Response {
        let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        self.request(&format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        ))
    }

    fn health(&self) -> Value {
        let response =
            self.request("GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert_eq!(response.status, 200);
        serde_json::from_str(&response.body).unwrap()
    }

    /// SIGTERM; the exit status and what it printed after its first line.
    fn stop(mut self) -> (i32, String) {
        signal(&self.child, "TERM");
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (status.code().expect("exited, not killed"), rest)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Reads one response (the server sends `Content-Length`, never chunks).
fn read_response(stream: &mut TcpStream) -> Response {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Response {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// Whether the server closed the connection (read returns end of file, or a reset).
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

fn now_millis() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    since.as_millis() as i64
}

/// flags.example built and published, as `Site` does for the publishing tests.
fn published_example() -> Site {
    let site = Site::new();
    site.build();
    let (code, _, stderr) = site.publish("2026-11-26T12:00:00Z", &[]);
    assert_eq!(code, 0, "{stderr}");
    site
}

fn evaluator(site: &Site, env: &str) -> Evaluator {
    let pointer = Pointer::read(&site.dir(), env).unwrap();
    load_bundle(&site.dir(), env, &pointer.hash).unwrap()
}

/// The OpenFeature type a client asks for to get `value`.
fn openfeature_type(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        _ => "object",
    }
}

fn run_client(engine: &str, job: &Value) -> Vec<Value> {
    let dir = root().join("tests/ofrep");
    let mut command = if engine == "node" {
        assert!(
            dir.join("node_modules/@openfeature/ofrep-provider")
                .is_dir(),
            "@openfeature/ofrep-provider is missing: {NODE_INSTALL}"
        );
        let mut command = Command::new("node");
        command.arg(dir.join("evaluate.mjs"));
        command
    } else {
        let installed = Command::new("python3")
            .args(["-c", "import openfeature.contrib.provider.ofrep"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(installed, "the OFREP provider is missing: {PYTHON_INSTALL}");
        let mut command = Command::new("python3");
        command.arg(dir.join("evaluate.py"));
        command
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(job).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "{engine}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every flag of flags.example, for generated contexts, through both OpenFeature SDKs and
/// their OFREP providers, with a token: the value, variant and reason flagstone's evaluator
/// gives in process; an unknown flag and a mismatched type are the SDKs' own errors.
#[test]
fn openfeature_clients_get_what_flagstone_serves() {
    let site = published_example();
    let tokens = site.path("tokens");
    std::fs::write(&tokens, "# rotated monthly\nold-token\n\ns3cret-token\n").unwrap();
    for (n, env) in ["production", "staging"].into_iter().enumerate() {
        let serve = Serve::start(
            &site.dir(),
            env,
            &["--token-file", tokens.to_str().unwrap()],
        );
        let evaluator = evaluator(&site, env);
        let bundle = crate::support::build::build_dir(&site.path("flags"))
            .unwrap()
            .into_iter()
            .find(|b| b.environment == env)
            .unwrap();
        let now = now_millis();
        let mut cases = Vec::new();
        let mut expected = Vec::new();
        for context in contexts(&bundle, 0x0f_e1 + n as u64, 40) {
            for flag in evaluator.flag_keys() {
                let evaluation = evaluator.evaluate(flag, &context, now).unwrap();
                let kind = openfeature_type(evaluation.value);
                cases.push(json!({
                    "flag": flag,
                    "type": kind,
                    "default": default_of(kind),
                    "context": to_openfeature(&context),
                }));
                let reason =
                    flagstone::ofrep::openfeature_reason(&evaluator, flag, &evaluation, now);
                expected.push(json!({
                    "value": evaluation.value,
                    "variant": evaluation.variant,
                    "reason": reason,
                    "error_code": null,
                }));
            }
        }
        // Errors the SDKs report in the details: a flag not in the bundle, and a boolean
        // flag asked for as a string.
        let staff = json!({"targetingKey": "usr_7001", "email": "grace@acme.com"});
        cases.push(
            json!({"flag": "no/such-flag", "type": "boolean", "default": true, "context": staff}),
        );
        expected.push(json!({"value": true, "variant": null, "reason": "ERROR", "error_code": "FLAG_NOT_FOUND"}));
        cases.push(
            json!({"flag": "ai/assistant", "type": "string", "default": "d", "context": staff}),
        );
        expected.push(json!({"value": "d", "variant": null, "reason": "ERROR", "error_code": "TYPE_MISMATCH"}));

        let job = json!({"base_url": serve.url(), "token": "s3cret-token", "cases": cases});
        for engine in ["python", "node"] {
            let answers = run_client(engine, &job);
            assert_eq!(answers.len(), expected.len(), "{engine}");
            for ((case, answer), want) in cases.iter().zip(&answers).zip(&expected) {
                let got = json!({
                    "value": answer["value"],
                    "variant": answer["variant"],
                    "reason": answer["reason"],
                    "error_code": answer["error_code"],
                });
                assert_eq!(&got, want, "{engine}, {env}: {case}");
            }
            // The metadata names the environment and bundle served.
            assert_eq!(answers[0]["metadata"]["environment"], env, "{engine}");
            assert_eq!(
                answers[0]["metadata"]["bundle"],
                evaluator.hash(),
                "{engine}"
            );
        }
        // Without the token, the SDK's call fails as unauthorized.
        let job = json!({"base_url": serve.url(), "token": null, "cases": [cases[0]]});
        for engine in ["python", "node"] {
            let answers = run_client(engine, &job);
            assert_eq!(
                answers[0]["error_code"], "GENERAL",
                "{engine}: {}",
                answers[0]
            );
        }
    }
}

fn default_of(kind: &str) -> Value {
    match kind {
        "boolean" => json!(false),
        "string" => json!(""),
        "integer" => json!(-1),
        "float" => json!(-1.5),
        _ => json!({}),
    }
}

/// One flag and the whole bundle, byte for byte: values, variants, OpenFeature's reason and
/// flagstone's, the rule, the scope; the entity tag of a bulk response and `If-None-Match`.
#[test]
fn single_and_bulk_evaluation_answer_exactly() {
    let site = published_example();
    let serve = Serve::start(&site.dir(), "production", &[]);
    let hash = Pointer::read(&site.dir(), "production").unwrap().hash;

    let one = serve.post("/ofrep/v1/evaluate/flags/ai/assistant", STAFF, &[]);
    assert_eq!(one.status, 200);
    assert_eq!(one.header("content-type"), Some("application/json"));
    assert_eq!(
        one.body,
        format!(
            r#"{{"key":"ai/assistant","value":true,"reason":"TARGETING_MATCH","variant":"on","metadata":{{"environment":"production","bundle":"{hash}","flagstoneReason":"rule","rule":"staff"}}}}"#
        )
    );
    // A key with its slash escaped is the same flag.
    let escaped = serve.post("/ofrep/v1/evaluate/flags/ai%2Fassistant", STAFF, &[]);
    assert_eq!(escaped.body, one.body);

    let all = serve.post("/ofrep/v1/evaluate/flags", STAFF, &[]);
    assert_eq!(all.status, 200);
    let body = all.json();
    let flags = body["flags"].as_array().unwrap();
    let evaluator = evaluator(&site, "production");
    let keys: Vec<&str> = evaluator.flag_keys().collect();
    assert_eq!(
        flags
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect::<Vec<_>>(),
        keys
    );
    let assistant = flags.iter().find(|f| f["key"] == "ai/assistant").unwrap();
    assert_eq!(
        assistant,
        &json!({"key": "ai/assistant", "value": true, "reason": "TARGETING_MATCH",
                "variant": "on", "metadata": {"flagstoneReason": "rule", "rule": "staff"}})
    );
    assert_eq!(
        body["metadata"],
        json!({"environment": "production", "bundle": hash})
    );

    // The entity tag is the body's: the same for the same context, 304 when presented.
    let etag = all.header("etag").unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    let again = serve.post("/ofrep/v1/evaluate/flags", STAFF, &[]);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let unchanged = serve.post(
        "/ofrep/v1/evaluate/flags",
        STAFF,
        &[&format!("If-None-Match: W/{etag}")],
    );
    assert_eq!((unchanged.status, unchanged.body.as_str()), (304, ""));
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));
    let other = serve.post(
        "/ofrep/v1/evaluate/flags",
        r#"{"context":{"targetingKey":"usr_1"}}"#,
        &[&format!("If-None-Match: {etag}")],
    );
    assert_eq!(other.status, 200);
    assert_ne!(other.header("etag"), Some(etag.as_str()));
}

/// Each kind of bad request gets OFREP's error code and status, with details; other paths
/// and methods get HTTP's.
#[test]
fn bad_requests_get_ofrep_errors() {
    let site = published_example();
    let serve = Serve::start(&site.dir(), "production", &["--require-targeting-key"]);
    let flag = "/ofrep/v1/evaluate/flags/ai/assistant";
    let cases: &[(&str, &str, u16, &str)] = &[
        (
            flag,
            r#"{"context":"#,
            400,
            r#"{"key":"ai/assistant","errorCode":"PARSE_ERROR","errorDetails":"the body is not JSON: EOF while parsing a value at line 1 column 11"}"#,
        ),
        (
            flag,
            r#"[1]"#,
            400,
            r#"{"key":"ai/assistant","errorCode":"INVALID_CONTEXT","errorDetails":"the body is not a JSON object"}"#,
        ),
        (
            flag,
            r#"{"context":[]}"#,
            400,
            r#"{"key":"ai/assistant","errorCode":"INVALID_CONTEXT","errorDetails":"`context` is not a JSON object"}"#,
        ),
        (
            flag,
            r#"{"context":{"targetingKey":{"id":1}}}"#,
            400,
            r#"{"key":"ai/assistant","errorCode":"INVALID_CONTEXT","errorDetails":"`targetingKey` is an object, not a string"}"#,
        ),
        (
            flag,
            r#"{"context":{"targetingKey":"a","targeting_key":"b"}}"#,
            400,
            r#"{"key":"ai/assistant","errorCode":"INVALID_CONTEXT","errorDetails":"the context has both `targetingKey` and `targeting_key`, with different values"}"#,
        ),
        (
            flag,
            r#"{"context":{"plan":"pro"}}"#,
            400,
            r#"{"key":"ai/assistant","errorCode":"TARGETING_KEY_MISSING","errorDetails":"the context has no `targetingKey`, which this server requires"}"#,
        ),
        (
            "/ofrep/v1/evaluate/flags",
            r#"{}"#,
            400,
            r#"{"errorCode":"TARGETING_KEY_MISSING","errorDetails":"the context has no `targetingKey`, which this server requires"}"#,
        ),
        (
            "/ofrep/v1/evaluate/flags/no/such",
            STAFF,
            404,
            r#"{"key":"no/such","errorCode":"FLAG_NOT_FOUND","errorDetails":"flag `no/such` is not in the bundle of `production`"}"#,
        ),
        (
            "/ofrep/v1/evaluate/flags/%FF",
            STAFF,
            400,
            r#"{"errorDetails":"the flag key is not UTF-8"}"#,
        ),
        (
            "/ofrep/v2/evaluate/flags",
            STAFF,
            404,
            r#"{"errorDetails":"no such endpoint"}"#,
        ),
        (
            "/ofrep/v1/evaluate/flagsx",
            STAFF,
            404,
            r#"{"errorDetails":"no such endpoint"}"#,
        ),
    ];
    for (path, body, status, answer) in cases {
        let response = serve.post(path, body, &[]);
        assert_eq!(
            (response.status, response.body.as_str()),
            (*status, *answer),
            "{path} {body}"
        );
    }
    let get = serve.request(&format!(
        "GET {flag} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(
        (get.status, get.header("allow")),
        (405, Some("POST, OPTIONS"))
    );
    let delete = serve.request("DELETE /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(
        (delete.status, delete.header("allow")),
        (405, Some("GET, HEAD"))
    );
}

/// A variant OFREP cannot carry (an array) is a GENERAL error for its flag, alone: in bulk,
/// the other flags are answered.
#[test]
fn an_array_variant_is_a_general_error_for_its_flag_only() {
    let repo = crate::support::repo(&[
        ("flagstone.toml", crate::support::PROJECT),
        (
            "flags/regions.toml",
            b"description = \"Regions\"\nowners = [\"ana\"]\nkind = \"config\"\n\
              off_variant = \"few\"\n\
              [variants]\nfew = [\"us\"]\nmany = [\"us\", \"eu\"]\n\
              [env.production]\nserve = \"many\"\n",
        ),
        (
            "flags/banner.toml",
            b"description = \"Banner\"\nowners = [\"ana\"]\nkind = \"ops\"\n\
              [env.production]\nserve = \"on\"\n",
        ),
    ]);
    let (code, stdout, stderr) = crate::support::run(
        &[
            "build",
            "--dir",
            ".",
            "--out",
            "out",
            "--now",
            crate::support::NOW,
        ],
        repo.path(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, stderr) = crate::support::run(
        &[
            "publish",
            "--bundles",
            "out",
            "--publish-dir",
            "pub",
            "--now",
            crate::support::NOW,
        ],
        repo.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let serve = Serve::start(&repo.path().join("pub"), "production", &[]);
    let one = serve.post("/ofrep/v1/evaluate/flags/regions", r#"{"context":{}}"#, &[]);
    assert_eq!(
        (one.status, one.body.as_str()),
        (
            500,
            r#"{"key":"regions","errorCode":"GENERAL","errorDetails":"variant `many` of `regions` is an array, which OFREP cannot carry"}"#
        )
    );
    let all = serve
        .post("/ofrep/v1/evaluate/flags", r#"{"context":{}}"#, &[])
        .json();
    assert_eq!(
        all["flags"],
        json!([
            {"key": "banner", "value": true, "reason": "STATIC", "variant": "on",
             "metadata": {"flagstoneReason": "fallthrough"}},
            {"key": "regions", "errorCode": "GENERAL",
             "errorDetails": "variant `many` of `regions` is an array, which OFREP cannot carry"},
        ])
    );
}

/// Browser pages of the allowed origins get CORS headers and preflights; others do not.
#[test]
fn browser_pages_of_allowed_origins_may_call_it() {
    let site = published_example();
    let serve = Serve::start(
        &site.dir(),
        "production",
        &[
            "--cors-origin",
            "https://app.example.com",
            "--cors-origin",
            "https://admin.example.com",
        ],
    );
    let preflight = |origin: &str| {
        serve.request(&format!(
            "OPTIONS /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
             Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type, authorization\r\n\r\n"
        ))
    };
    let allowed = preflight("https://app.example.com");
    assert_eq!(allowed.status, 204);
    let cors: Vec<(&str, Option<&str>)> = [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
        "vary",
    ]
    .into_iter()
    .map(|name| (name, allowed.header(name)))
    .collect();
    assert_eq!(
        cors,
        [
            (
                "access-control-allow-origin",
                Some("https://app.example.com")
            ),
            ("access-control-allow-methods", Some("POST")),
            (
                "access-control-allow-headers",
                Some("authorization, content-type, if-none-match, x-api-key")
            ),
            ("access-control-max-age", Some("600")),
            ("vary", Some("Origin")),
        ]
    );
    let refused = preflight("https://evil.example");
    assert_eq!(refused.status, 204);
    assert!(
        refused
            .headers
            .iter()
            .all(|(n, _)| !n.starts_with("access-control")),
        "{refused:?}"
    );

    let bulk = serve.post(
        "/ofrep/v1/evaluate/flags",
        STAFF,
        &["Origin: https://admin.example.com"],
    );
    assert_eq!(bulk.status, 200);
    assert_eq!(
        bulk.header("access-control-allow-origin"),
        Some("https://admin.example.com")
    );
    assert_eq!(bulk.header("access-control-expose-headers"), Some("ETag"));
    let other = serve.post(
        "/ofrep/v1/evaluate/flags",
        STAFF,
        &["Origin: https://evil.example"],
    );
    assert_eq!(
        (other.status, other.header("access-control-allow-origin")),
        (200, None)
    );
}

/// A new publish is served without a restart: the next answer, its entity tag and the health
/// report change; a bundle damaged after publishing is not served, and health says why.
#[test]
fn a_new_publish_is_served_without_a_restart() {
    let site = published_example();
    let serve = Serve::start(&site.dir(), "production", &["--poll-ms", "20"]);
    let before = serve.post("/ofrep/v1/evaluate/flags/ai/assistant", STAFF, &[]);
    assert_eq!(before.json()["variant"], "on");
    let bulk_before = serve.post("/ofrep/v1/evaluate/flags", STAFF, &[]);
    let health = serve.health();
    assert_eq!(
        (health["status"].as_str(), health["reloads"].as_u64()),
        (Some("serving"), Some(0))
    );

    site.kill("ai/assistant");
    site.build();
    let (code, _, stderr) = site.publish("2026-11-26T13:00:00Z", &[]);
    assert_eq!(code, 0, "{stderr}");
    let hash = Pointer::read(&site.dir(), "production").unwrap().hash;
    let deadline = Instant::now() + Duration::from_secs(10);
    while serve.health()["bundle"] != hash.as_str() {
        assert!(Instant::now() < deadline, "the new bundle was not served");
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = serve
        .post("/ofrep/v1/evaluate/flags/ai/assistant", STAFF, &[])
        .json();
    assert_eq!(
        (after["variant"].as_str(), after["reason"].as_str()),
        (Some("off"), Some("DISABLED"))
    );
    let etag = bulk_before.header("etag").unwrap();
    let bulk_after = serve.post(
        "/ofrep/v1/evaluate/flags",
        STAFF,
        &[&format!("If-None-Match: {etag}")],
    );
    assert_eq!(bulk_after.status, 200);
    assert_eq!(serve.health()["reloads"], 1);
}

/// Oversized, slow, stalled, malformed and too many requests each get an answer or a closed
/// connection, never a server that stops answering.
#[test]
fn hostile_requests_never_take_the_server_down() {
    let site = published_example();
    let serve = Serve::start(
        &site.dir(),
        "production",
        &[
            "--max-body-bytes",
            "1024",
            "--body-timeout-ms",
            "300",
            "--header-timeout-ms",
            "300",
            "--max-connections",
            "4",
        ],
    );
    let path = "/ofrep/v1/evaluate/flags/ai/assistant";
    // Declared too large: refused before reading.
    let big = format!(r#"{{"context":{{"pad":"{}"}}}}"#, "x".repeat(2000));
    let response = serve.post(path, &big, &[]);
    assert_eq!(
        (response.status, response.body.as_str()),
        (
            413,
            r#"{"errorDetails":"the body is larger than 1024 bytes"}"#
        )
    );
    // Too large without a declared length (chunked): refused once the limit is passed.
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    assert_eq!(serve.request(&chunked).status, 413);
    // A body that stops arriving: 408, and the connection closed.
    let mut slow = serve.connect();
    slow.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{{\"context\"")
            .as_bytes(),
    )
    .unwrap();
    let response = read_response(&mut slow);
    assert_eq!(
        (response.status, response.body.as_str()),
        (
            408,
            r#"{"errorDetails":"the body did not arrive within 300 ms"}"#
        )
    );
    assert!(closed(&mut slow));
    // Headers that stop arriving: the connection is closed.
    let mut stalled = serve.connect();
    stalled
        .write_all(b"POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let started = Instant::now();
    assert!(closed(&mut stalled));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Not HTTP at all.
    let mut garbage = serve.connect();
    garbage
        .write_all(b"\x16\x03\x01\x02\x00 hello\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = garbage.read_to_end(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{answer:?}"
    );
    // More connections than allowed: idle ones hold their slots until the header timeout
    // closes them; then the waiting ones are served.
    let idle: Vec<TcpStream> = (0..6).map(|_| serve.connect()).collect();
    let response = serve.post(path, STAFF, &[]);
    assert_eq!(response.status, 200);
    drop(idle);
    // And it still answers, and says so.
    assert_eq!(serve.health()["status"], "serving");
    assert_eq!(serve.post(path, STAFF, &[]).json()["variant"], "on");
}

/// SIGTERM: requests in progress finish, new connections are refused, every exposure is
/// written, and the process exits 0 with its counts.
#[test]
fn shutdown_finishes_requests_and_writes_every_exposure() {
    let site = published_example();
    let exposures = site.path("exposures");
    let serve = Serve::start(
        &site.dir(),
        "production",
        &["--exposures", exposures.to_str().unwrap()],
    );
    let path = "/ofrep/v1/evaluate/flags/ai/assistant";
    for unit in ["usr_1", "usr_2", "usr_1"] {
        let body = format!(r#"{{"context":{{"targetingKey":"{unit}"}}}}"#);
        assert_eq!(serve.post(path, &body, &[]).status, 200);
    }
    // A request under way when the signal comes: its body arrives after.
    let body = r#"{"context":{"targetingKey":"usr_3"}}"#;
    let mut pending = serve.connect();
    pending
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    signal(&serve.child, "TERM");
    std::thread::sleep(Duration::from_millis(200));
    pending.write_all(body.as_bytes()).unwrap();
    let response = read_response(&mut pending);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["variant"], "off");
    let (code, rest) = serve.stop();
    assert_eq!(code, 0);
    assert_eq!(
        rest,
        "stopped after 4 requests; exposures: 3 recorded, 3 written, 0 dropped, 0 failed to write\n"
    );
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(&exposures).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    let mut units: Vec<&str> = lines.iter().map(|l| l["unit"].as_str().unwrap()).collect();
    units.sort();
    assert_eq!(units, ["usr_1", "usr_2", "usr_3"]);
    assert!(
        lines
            .iter()
            .all(|l| l["flag"] == "ai/assistant" && l["environment"] == "production")
    );
}

/// Bad arguments and a directory without a published environment are clear errors.
#[test]
fn serve_refuses_what_it_cannot_serve() {
    let dir = tempdir();
    let (code, _, stderr) = crate::support::run(
        &[
            "serve",
            "--publish-dir",
            "nothing",
            "--env",
            "production",
            "--listen",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("help: publish the environment first"),
        "{stderr}"
    );

    let site = published_example();
    std::fs::write(site.path("empty-tokens"), "# none yet\n").unwrap();
    let (code, _, stderr) = site.run(&[
        "serve",
        "--publish-dir",
        "published",
        "--env",
        "production",
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        "empty-tokens",
    ]);
    assert_eq!(
        (code, stderr.as_str()),
        (2, "error: empty-tokens lists no token\n")
    );
    let (code, _, stderr) = site.run(&[
        "serve",
        "--publish-dir",
        "published",
        "--env",
        "production",
        "--listen",
        "256.0.0.1:80",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value '256.0.0.1:80' for '--listen <ADDR>'"),
        "{stderr}"
    );
    for (option, value) in [
        ("--body-timeout-ms", "18446744073709551615"),
        ("--max-connections", "0"),
        ("--threads", "100000"),
        ("--max-body-bytes", "0"),
    ] {
        let (code, _, stderr) = site.run(&[
            "serve",
            "--publish-dir",
            "published",
            "--env",
            "production",
            option,
            value,
        ]);
        assert_eq!(code, 2, "{option} {value}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{option}")),
            "{stderr}"
        );
    }
}
