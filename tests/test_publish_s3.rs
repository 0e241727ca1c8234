//! `flagstone publish --publish-url s3://…` against a real S3 implementation on loopback: moto's server
//! (pinned in .ci/run), with authentication on, so every request's Signature Version 4 is
//! checked by botocore's own signer, and versioning on, so every write is counted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use crate::support::{copy_dir, root, run};

const MOTO: &str = "the moto Python package is missing: python3 -m pip install 'moto[server]==5.2.1' \
     (.ci/run does; set FLAGSTONE_SKIP_S3=1 to skip these tests)";

/// Starts moto on a free loopback port, makes the bucket `flags` (versioned) and a user with
/// an access key, then prints the endpoint and the key. Each line read afterwards, a JSON
/// object, may ask to `put` [key, text] or `delete` a key (another writer, or what a crash
/// leaves); then the answer is every current object's text and the number of object
/// versions ever written. Authentication starts after the setup's four requests.
const SERVER: &str = r#"
import json, os, sys
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
os.environ["AWS_ACCESS_KEY_ID"] = "setup"
os.environ["AWS_SECRET_ACCESS_KEY"] = "setup"
from moto.server import ThreadedMotoServer
import boto3
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
url = f"http://{host}:{port}"
kw = dict(endpoint_url=url, region_name="us-east-1")
boto3.client("s3", **kw).create_bucket(Bucket="flags")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="publisher")
key = iam.create_access_key(UserName="publisher")["AccessKey"]
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
iam.put_user_policy(UserName="publisher", PolicyName="all", PolicyDocument=json.dumps(policy))
s3 = boto3.client("s3", aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"], **kw)
s3.put_bucket_versioning(Bucket="flags", VersioningConfiguration={"Status": "Enabled"})
print(json.dumps({"endpoint": url, "id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}), flush=True)
for line in sys.stdin:
    command = json.loads(line)
    if "put" in command:
        s3.put_object(Bucket="flags", Key=command["put"][0], Body=command["put"][1].encode())
    if "delete" in command:
        s3.delete_object(Bucket="flags", Key=command["delete"])
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="flags"):
        for o in page.get("Contents", []):
            objects[o["Key"]] = s3.get_object(Bucket="flags", Key=o["Key"])["Body"].read().decode()
    versions = sum(len(p.get("Versions", []))
                   for p in s3.get_paginator("list_object_versions").paginate(Bucket="flags"))
    print(json.dumps({"objects": objects, "versions": versions}), flush=True)
server.stop()
"#;

/// The moto server, stopped when dropped.
struct Moto {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    endpoint: String,
    id: String,
    secret: String,
}

/// What the bucket holds.
struct Bucket {
    objects: BTreeMap<String, String>,
    /// Object versions ever written: one per put.
    versions: u64,
}

impl Moto {
    /// `None` (after saying so, loudly) when moto is missing and FLAGSTONE_SKIP_S3 is set.
    fn start() -> Option<Moto> {
        let installed = Command::new("python3")
            .args(["-c", "import moto.server, boto3, flask"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(std::env::var_os("FLAGSTONE_SKIP_S3").is_some(), "{MOTO}");
            eprintln!("SKIPPED: the S3 publishing tests did not run: {MOTO}");
            return None;
        }
        let mut child = Command::new("python3")
            .args(["-u", "-c", SERVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("moto did not start ({e}): {line:?}"));
        let text = |name: &str| started[name].as_str().unwrap().to_owned();
        Some(Moto {
            endpoint: text("endpoint"),
            id: text("id"),
            secret: text("secret"),
            child,
            stdin,
            stdout,
        })
    }

    fn bucket(&mut self) -> Bucket {
        self.command(serde_json::json!({}))
    }

    /// Runs `command` (`{"put": [key, text]}`, `{"delete": key}`), then lists the bucket.
    fn command(&mut self, command: Value) -> Bucket {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{command}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap();
        Bucket {
            objects: answer["objects"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            versions: answer["versions"].as_u64().unwrap(),
        }
    }

    /// The environment of a publish with the user's key.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", self.id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Ends its loop; then make sure it is gone.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of flags.example (outside git: no commit is recorded) and its build.
struct Site {
    temp: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let temp = crate::support::tempdir();
        copy_dir(&root().join("flags.example"), &temp.path().join("flags"));
        let site = Site { temp };
        site.build();
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// Builds into `out`; returns the (environment, hash) pairs of the manifest.
    fn build(&self) -> Vec<(String, String)> {
        let args = [
            "build",
            "--dir",
            "flags",
            "--out",
            "out",
            "--now",
            "2026-11-26",
        ];
        let (code, stdout, stderr) = run(&args, self.temp.path());
        assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(self.path("out/manifest.json")).unwrap())
                .unwrap();
        manifest["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = |name: &str| e[name].as_str().unwrap().to_owned();
                (text("name"), text("hash"))
            })
            .collect()
    }

    fn kill(&self, flag: &str) {
        let args = [
            "kill",
            flag,
            "--env",
            "production",
            "--dir",
            "flags",
            "--now",
            "2026-11-26",
        ];
        let (code, stdout, stderr) = run(&args, self.temp.path());
        assert_eq!(code, 0, "{stdout}{stderr}");
    }

    /// `publish --publish-url URL` (or `--publish-dir` if `to` is not a URL) with exactly
    /// the AWS variables `env`.
    fn publish(
        &self,
        to: &str,
        now: &str,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> (i32, String, String) {
        let mut command = crate::support::flagstone();
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_PROFILE",
            // Loopback must not go through a proxy the machine may name.
            "ALL_PROXY",
            "all_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
        ] {
            command.env_remove(name);
        }
        let output = command
            .args(["publish", "--bundles", "out", "--now", now])
            .arg(if to.contains("://") {
                "--publish-url"
            } else {
                "--publish-dir"
            })
            .arg(to)
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.temp.path())
            .output()
            .unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }
}

fn pointer(environment: &str, hash: &str, time: &str) -> String {
    format!(
        "{{\n  \"environment\": \"{environment}\",\n  \"hash\": \"{hash}\",\n  \"file\": \
         \"bundles/{hash}.json\",\n  \"published_at\": \"{time}\",\n  \"commit\": null\n}}\n"
    )
}

fn record_key(time: &str, environment: &str, hash: &str) -> String {
    let time: String = time.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    format!("prod/log/{time}-{environment}-{hash}.json")
}

/// Publish, republish, publish a new build: the exact objects, bundles byte for byte,
/// pointers, log records, and no write at all when nothing changed.
#[test]
fn publishing_to_s3_writes_the_layout_and_nothing_when_unchanged() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let site = Site::new();
    let built = site.build();
    let env = moto.env();
    let (code, stdout, stderr) =
        site.publish("s3://flags/prod/", "2026-11-26T12:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let expected: String = built
        .iter()
        .map(|(e, h)| format!("{e:<14} {h}  published\n"))
        .collect();
    assert_eq!(stdout, expected);

    let t1 = "2026-11-26T12:00:00.000Z";
    let bucket = moto.bucket();
    let mut keys = BTreeMap::new();
    for (environment, hash) in &built {
        let bundle = std::fs::read_to_string(site.path(&format!("out/{hash}.json"))).unwrap();
        keys.insert(format!("prod/bundles/{hash}.json"), bundle);
        keys.insert(
            format!("prod/current/{environment}.json"),
            pointer(environment, hash, t1),
        );
        keys.insert(
            record_key(t1, environment, hash),
            format!(
                "{{\"time\":\"{t1}\",\"environment\":\"{environment}\",\"hash\":\"{hash}\",\"commit\":null}}\n"
            ),
        );
    }
    assert_eq!(
        bucket.objects.keys().collect::<Vec<_>>(),
        keys.keys().collect::<Vec<_>>()
    );
    for (key, text) in &keys {
        assert!(
            &bucket.objects[key] == text,
            "{key}: {}",
            bucket.objects[key]
        );
    }
    assert_eq!(bucket.versions, 9);

    // The same build again: every pointer is unchanged and nothing is written.
    let (code, stdout, stderr) = site.publish("s3://flags/prod", "2026-11-26T13:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert_eq!(stdout, expected.replace("published", "unchanged"));
    assert_eq!(moto.bucket().versions, 9);

    // A new production bundle: one bundle, one pointer (replacing the version read) and
    // one record written; the old bundle stays.
    site.kill("billing/payment-service-v2");
    let rebuilt = site.build();
    let (production, new_hash) = &rebuilt[2];
    assert_eq!(production, "production");
    assert_ne!(new_hash, &built[2].1);
    let (code, stdout, stderr) = site.publish("s3://flags/prod", "2026-11-26T15:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(
        stdout.ends_with(&format!("production     {new_hash}  published\n")),
        "{stdout}"
    );
    let bucket = moto.bucket();
    assert_eq!(bucket.versions, 12);
    let t2 = "2026-11-26T15:00:00.000Z";
    assert_eq!(
        bucket.objects["prod/current/production.json"],
        pointer("production", new_hash, t2)
    );
    assert!(
        bucket
            .objects
            .contains_key(&record_key(t2, "production", new_hash))
    );
    assert!(
        bucket
            .objects
            .contains_key(&format!("prod/bundles/{}.json", built[2].1))
    );
    assert_eq!(
        bucket.objects[&format!("prod/bundles/{new_hash}.json")],
        std::fs::read_to_string(site.path(&format!("out/{new_hash}.json"))).unwrap()
    );
    assert_eq!(bucket.objects.len(), 11);
}

/// What a crash or another writer leaves is repaired: a pointer moved whose record was never
/// written gets it from the next publish, even an unchanged one; a damaged bundle object is
/// uploaded again, and verified, before any pointer names it.
#[test]
fn s3_publishes_repair_what_crashes_and_damage_leave() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let site = Site::new();
    let built = site.build();
    let env = moto.env();
    let (code, _, stderr) = site.publish("s3://flags/prod", "2026-11-26T12:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (environment, hash) = &built[1];
    let record = record_key("2026-11-26T12:00:00.000Z", environment, hash);
    let record_text = moto.bucket().objects[&record].clone();
    // Killed after the pointer moved, before its record: the record is missing.
    let before = moto.command(serde_json::json!({"delete": record})).versions;
    let (code, stdout, stderr) = site.publish("s3://flags/prod", "2026-11-26T13:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert!(!stdout.contains("published"), "{stdout}");
    let bucket = moto.bucket();
    assert_eq!(bucket.objects[&record], record_text);
    assert_eq!(bucket.versions, before + 1);

    // A bundle object whose bytes are not its hash's (damaged, or written by another tool)
    // is replaced before the pointer that names it moves.
    site.kill("billing/payment-service-v2");
    let new_hash = site.build()[2].1.clone();
    let key = format!("prod/bundles/{new_hash}.json");
    moto.command(serde_json::json!({"put": [key, "{\"truncated\": "]}));
    let (code, stdout, stderr) = site.publish("s3://flags/prod", "2026-11-26T15:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert!(
        stdout.ends_with(&format!("production     {new_hash}  published\n")),
        "{stdout}"
    );
    assert_eq!(
        moto.bucket().objects[&key],
        std::fs::read_to_string(site.path(&format!("out/{new_hash}.json"))).unwrap()
    );
}

/// Another publish moving the pointer between this publish's read and its write: the
/// conditional put fails, the other's pointer stays, and no record is written for a move
/// that did not happen. A loopback proxy in front of moto holds this publish's pointer write
/// until the other writer has put its pointer.
#[test]
fn a_pointer_moved_meanwhile_is_not_overwritten() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let site = Site::new();
    let built = site.build();
    let env = moto.env();
    let (code, _, stderr) = site.publish("s3://flags/prod", "2026-11-26T12:00:00Z", &[], &env);
    assert_eq!((code, stderr.as_str()), (0, ""));
    site.kill("billing/payment-service-v2");
    site.build();

    let upstream = moto.endpoint.trim_start_matches("http://").to_owned();
    let (seen, wait_seen) = std::sync::mpsc::channel();
    let (go, wait_go) = std::sync::mpsc::channel();
    let proxy = Proxy::start(
        &upstream,
        b"PUT /flags/prod/current/production.json",
        seen,
        wait_go,
    );
    let mut proxied = env.clone();
    proxied[0].1 = format!("http://{}", proxy.address);
    let publishing = std::thread::scope(|scope| {
        let publishing =
            scope.spawn(|| site.publish("s3://flags/prod", "2026-11-26T15:00:00Z", &[], &proxied));
        wait_seen.recv().unwrap();
        let other = pointer("production", &built[0].1, "2026-11-26T14:00:00.000Z");
        moto.command(serde_json::json!({"put": ["prod/current/production.json", other]}));
        go.send(()).unwrap();
        publishing.join().unwrap()
    });
    let (code, stdout, stderr) = publishing;
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(
        stderr,
        "error: s3://flags/prod/current/production.json changed while this publish ran \
         (another publish?): it was left as the other wrote it\n\
         help: publish again: it starts from the pointer as it is now\n"
    );
    let bucket = moto.bucket();
    assert_eq!(
        bucket.objects["prod/current/production.json"],
        pointer("production", &built[0].1, "2026-11-26T14:00:00.000Z")
    );
    assert!(!bucket.objects.keys().any(|k| k.contains("20261126T150000")));
}

/// A TCP proxy on loopback that forwards everything to `upstream`, except that it holds the
/// first request containing `marker` until told to go on.
struct Proxy {
    address: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    fn start(
        upstream: &str,
        marker: &'static [u8],
        seen: std::sync::mpsc::Sender<()>,
        go: std::sync::mpsc::Receiver<()>,
    ) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let upstream = upstream.to_owned();
        let held = std::sync::Arc::new(std::sync::Mutex::new(Some((seen, go))));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let mut client = client.unwrap();
                let mut server = std::net::TcpStream::connect(&upstream).unwrap();
                let (mut back_from, mut back_to) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut back_from, &mut back_to);
                    let _ = back_to.shutdown(std::net::Shutdown::Both);
                });
                let held = held.clone();
                std::thread::spawn(move || {
                    let mut buffer = [0; 64 * 1024];
                    loop {
                        let n = match client.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buffer[..n];
                        if chunk.windows(marker.len()).any(|w| w == marker)
                            && let Some((seen, go)) = held.lock().unwrap().take()
                        {
                            seen.send(()).unwrap();
                            go.recv().unwrap();
                        }
                        if server.write_all(chunk).is_err() {
                            break;
                        }
                    }
                    let _ = server.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Proxy { address, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Wake the accepting thread so that it sees the flag and ends.
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.address);
    }
}

/// Wrong credentials, a missing bucket, and a refused `--keep` each stop the publish with a
/// message naming the object, and write nothing.
#[test]
fn failed_s3_publishes_say_why_and_write_nothing() {
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let site = Site::new();
    let hash = &site.build()[0].1;
    let bundle = format!("flags/p/bundles/{hash}.json");
    let mut wrong_secret = moto.env();
    wrong_secret[2].1 = "not-the-secret".to_owned();
    let (code, _, stderr) =
        site.publish("s3://flags/p", "2026-11-26T12:00:00Z", &[], &wrong_secret);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot GET s3://{bundle}: S3 answered 403 SignatureDoesNotMatch: "
        )),
        "{stderr}"
    );
    let mut wrong_key = moto.env();
    wrong_key[1].1 = "AKIANOTAKEY".to_owned();
    let (code, _, stderr) = site.publish("s3://flags/p", "2026-11-26T12:00:00Z", &[], &wrong_key);
    assert_eq!(code, 2);
    assert!(stderr.contains("403 InvalidAccessKeyId: "), "{stderr}");

    let (code, _, stderr) = site.publish(
        "s3://no-such-bucket/p",
        "2026-11-26T12:00:00Z",
        &[],
        &moto.env(),
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: cannot GET s3://no-such-bucket/p/bundles/{hash}.json: S3 answered 404 NoSuchBucket: The specified bucket does not exist\n"
        )
    );

    let (code, _, stderr) = site.publish(
        "s3://flags/p",
        "2026-11-26T12:00:00Z",
        &["--keep", "2"],
        &moto.env(),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: cannot prune s3://flags/p: "),
        "{stderr}"
    );
    assert!(stderr.contains("help: publish without --keep"), "{stderr}");

    let bucket = moto.bucket();
    assert_eq!((bucket.objects.len(), bucket.versions), (0, 0));
}

/// Without credentials, with a bad location or endpoint, or against a server that never
/// answers: a clear error (no panic), exit status 2.
#[test]
fn s3_configuration_errors_and_timeouts_are_clear() {
    let site = Site::new();
    let now = "2026-11-26T12:00:00Z";
    let (code, _, stderr) = site.publish("s3://flags/p", now, &[], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: no S3 credentials: the environment variable AWS_ACCESS_KEY_ID is not set\n"
        ),
        "{stderr}"
    );
    let keys = [
        ("AWS_ACCESS_KEY_ID", "id".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "secret".to_owned()),
    ];
    let (code, _, stderr) = site.publish("s3://Flags/p", now, &[], &keys);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: `s3://Flags/p` is not an S3 location"),
        "{stderr}"
    );
    let mut bad_endpoint = keys.to_vec();
    bad_endpoint.push(("AWS_ENDPOINT_URL_S3", "localhost:9000".to_owned()));
    let (code, _, stderr) = site.publish("s3://flags/p", now, &[], &bad_endpoint);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: AWS_ENDPOINT_URL_S3=`localhost:9000` is not an S3 endpoint"),
        "{stderr}"
    );

    // A server that accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let silent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Hold the connection until the client gives up.
        let _ = stream.read_to_end(&mut Vec::new());
    });
    let mut silent_env = keys.to_vec();
    silent_env.push(("AWS_ENDPOINT_URL", format!("http://{address}")));
    let (code, _, stderr) = site.publish("s3://flags/p", now, &["--timeout", "1"], &silent_env);
    assert_eq!(code, 2);
    let hash = &site.build()[0].1;
    assert!(
        stderr.starts_with(&format!(
            "error: cannot GET s3://flags/p/bundles/{hash}.json: no answer within 1 s\n"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("help: give each request longer with --timeout SECONDS"));
    silent.join().unwrap();
}

/// `--publish-url` takes only `s3://`; `--publish-dir` and `--publish-url` exclude each other.
#[test]
fn publish_url_is_an_s3_url() {
    let site = Site::new();
    let (code, _, stderr) = site.publish("gs://flags/p", "2026-11-26T12:00:00Z", &[], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: `gs://flags/p` is not an S3 location (s3://BUCKET/PREFIX): it does not start with `s3://`"
        ),
        "{stderr}"
    );
    let args = [
        "publish",
        "--bundles",
        "out",
        "--publish-dir",
        "d",
        "--publish-url",
        "s3://flags",
        "--now",
        "2026-11-26T12:00:00Z",
    ];
    let (code, _, stderr) = run(&args, site.temp.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
