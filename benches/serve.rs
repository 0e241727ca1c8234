//! `flagstone serve` under load on loopback: the release binary serves flags.example's
//! production bundle (20 flags), and wrk (the HTTP load generator; `apt install wrk`) sends
//! single-flag and bulk OFREP evaluations, each with another unit, on 32 keep-alive
//! connections. The peer, measured in the same rounds: a bare hyper server on the same
//! runtime answering a fixed body of the single evaluation's size: the HTTP stack's own
//! ceiling, without parsing or evaluating anything. Rounds alternate; the medians are printed.
//!
//! Before the load, the protocol's own cost in process (no HTTP): `ofrep::evaluate_flag` and
//! `ofrep::evaluate_flags` on the same bodies, parsing, evaluating and serializing.
//!
//!   cargo bench --bench serve
//!   FLAGSTONE_BIN=path/to/flagstone THREADS=1 cargo bench --bench serve

#[path = "support/binary.rs"]
mod binary;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use binary::binary;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, service::service_fn};
use hyper_util::rt::TokioIo;

const ROUNDS: usize = 5;
const SECONDS: u32 = 5;
const CONNECTIONS: u32 = 32;
/// The time the build runs at, so that the benchmark does the same work on any day.
const NOW: &str = "2026-11-26T12:00:00Z";
const SINGLE: &str = "/ofrep/v1/evaluate/flags/checkout/one-page";
const BULK: &str = "/ofrep/v1/evaluate/flags";

fn main() {
    let threads: usize = std::env::var("THREADS").map_or(0, |t| t.parse().unwrap());
    let temp = tempfile::tempdir().unwrap();
    let site = temp.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("flags.example");
    flagstone(
        site,
        &[
            "build",
            "--dir",
            repo.to_str().unwrap(),
            "--out",
            "out",
            "--now",
            NOW,
        ],
    );
    flagstone(
        site,
        &[
            "publish",
            "--bundles",
            "out",
            "--publish-dir",
            "pub",
            "--now",
            NOW,
        ],
    );
    in_process(&site.join("pub"));
    let serve = Serve::start(site, threads);
    let peer = peer(threads);
    for (name, path) in [("single", SINGLE), ("bulk", BULK)] {
        let script = site.join(format!("{name}.lua"));
        std::fs::write(&script, lua(path)).unwrap();
    }
    std::fs::write(site.join("peer.lua"), lua(SINGLE)).unwrap();

    let cases = [
        ("serve, one flag", serve.address, "single"),
        ("serve, all 20 flags", serve.address, "bulk"),
        ("bare hyper, fixed body", peer, "peer"),
    ];
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); cases.len()];
    for round in 0..ROUNDS {
        for (i, (name, address, script)) in cases.iter().enumerate() {
            let (rate, p99) = wrk(&site.join(format!("{script}.lua")), *address);
            println!("round {round}  {name:<24} {rate:>9.0} requests/s  p99 {p99:>6.2} ms");
            results[i].push((rate, p99));
        }
    }
    println!("\nmedians over {ROUNDS} rounds of {SECONDS} s, {CONNECTIONS} connections:");
    let mut medians = Vec::new();
    for ((name, _, _), runs) in cases.iter().zip(&mut results) {
        let rate = median(runs.iter().map(|r| r.0).collect());
        let p99 = median(runs.iter().map(|r| r.1).collect());
        println!("{name:<24} {rate:>9.0} requests/s  p99 {p99:>6.2} ms");
        medians.push(rate);
    }
    println!(
        "one flag at {:.0}% of the bare server's rate, all 20 flags at {:.0}%",
        100.0 * medians[0] / medians[2],
        100.0 * medians[1] / medians[2]
    );
}

/// The protocol's cost per request in process: the median of 11 runs of 20,000 requests.
fn in_process(published: &Path) {
    let pointer = flagstone::eval::watch::Pointer::read(published, "production").unwrap();
    let evaluator =
        flagstone::eval::watch::load_bundle(published, "production", &pointer.hash).unwrap();
    let options = flagstone::ofrep::Options::default();
    let bodies: Vec<String> = (0..20_000)
        .map(|n| format!(r#"{{"context":{{"targetingKey":"usr_{n}","email":"u{n}@example.com","plan":"pro","country":"US","platform":"web","app_version":"2.3.0"}}}}"#))
        .collect();
    let now = 1_795_000_000_000;
    let time = |f: &dyn Fn(&[u8]) -> usize| {
        let runs: Vec<f64> = (0..11)
            .map(|_| {
                let start = std::time::Instant::now();
                let bytes: usize = bodies.iter().map(|b| f(b.as_bytes())).sum();
                std::hint::black_box(bytes);
                start.elapsed().as_secs_f64() * 1e9 / bodies.len() as f64
            })
            .collect();
        median(runs)
    };
    let single = time(&|body| {
        let key = SINGLE.rsplit_once("flags/").unwrap().1;
        flagstone::ofrep::evaluate_flag(&evaluator, key, body, options, None, now)
            .body
            .len()
    });
    let bulk = time(&|body| {
        flagstone::ofrep::evaluate_flags(&evaluator, body, options, None, now)
            .body
            .len()
    });
    println!("in process: one flag {single:.0} ns, all 20 flags {bulk:.0} ns per request\n");
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A wrk script: POSTs to `path`, each request for another unit.
fn lua(path: &str) -> String {
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{{"context":{{"targetingKey":"usr_%d","email":"u%d@example.com","plan":"pro","country":"US","platform":"web","app_version":"2.3.0"}}}}', n, n)
  return wrk.format(nil, "{path}", nil, body)
end
"#
    )
}

/// Requests per second and the 99th percentile latency in milliseconds.
fn wrk(script: &Path, address: SocketAddr) -> (f64, f64) {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://{address}"))
        .output()
        .expect("wrk runs (apt install wrk)");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains("Non-2xx"), "{text}");
    let field = |prefix: &str| -> &str {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
            .trim()
    };
    let rate: f64 = field("Requests/sec:").parse().unwrap();
    let p99 = field("99%");
    let p99 = match (
        p99.strip_suffix("ms"),
        p99.strip_suffix("us"),
        p99.strip_suffix('s'),
    ) {
        (Some(ms), _, _) => ms.parse::<f64>().unwrap(),
        (None, Some(us), _) => us.parse::<f64>().unwrap() / 1000.0,
        (None, None, Some(s)) => s.parse::<f64>().unwrap() * 1000.0,
        _ => panic!("p99 {p99}"),
    };
    (rate, p99)
}

struct Serve {
    child: Child,
    address: SocketAddr,
}

impl Serve {
    fn start(site: &Path, threads: usize) -> Serve {
        let mut child = Command::new(binary())
            .current_dir(site)
            .args(["serve", "--publish-dir", "pub", "--env", "production"])
            .args(["--listen", "127.0.0.1:0", "--threads", &threads.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let address = line
            .trim()
            .rsplit_once("http://")
            .unwrap()
            .1
            .parse()
            .unwrap();
        Serve { child, address }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bare server, on a runtime like serve's, in a thread of its own.
fn peer(threads: usize) -> SocketAddr {
    let body = Bytes::from(vec![b' '; 200]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        if threads > 0 {
            runtime.worker_threads(threads);
        }
        runtime.enable_all().build().unwrap().block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                let body = body.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_| {
                        let body = body.clone();
                        async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    std::thread::sleep(Duration::from_millis(100));
    address
}

fn flagstone(dir: &Path, args: &[&str]) {
    let output = Command::new(binary())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
