//! `flagstone serve --publish-dir DIR --env ENV`: an OFREP server over the environment's
//! published bundle, reloaded as new ones are published (docs/openfeature.md).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::eval::watch::{self, Watcher};
use crate::exposure::{self, Files, Recorder};
use crate::server::{Config, Server};

use super::{Error, Exit, hinted};

/// The longest time an option accepts: an hour.
const MAX_MS: u64 = 3_600_000;
/// The largest request body an option accepts: 64 MiB.
const MAX_BODY: u64 = 64 << 20;

/// Serve flags over OFREP (OpenFeature's remote evaluation protocol) from a published
/// directory, reloading as new bundles are published.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory `flagstone publish` writes.
    #[arg(long, value_name = "DIR")]
    publish_dir: PathBuf,
    /// The environment to serve.
    #[arg(long)]
    env: String,
    /// The address to listen on. Port 0: one the system picks (printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8016")]
    listen: SocketAddr,
    /// Require a token (`Authorization: Bearer TOKEN` or `X-API-Key: TOKEN`): one per line of
    /// FILE, blank lines and lines starting with `#` ignored. The health endpoint stays open.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Let browser pages from ORIGIN (`https://app.example.com`) call the server: CORS
    /// headers and preflights. Repeatable; `*` allows any origin.
    #[arg(long, value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// Record exposures (docs/exposures.md) as JSON Lines files in DIR.
    #[arg(long, value_name = "DIR")]
    exposures: Option<PathBuf>,
    /// Refuse contexts without a targeting key (TARGETING_KEY_MISSING) instead of evaluating
    /// them as the evaluator does.
    #[arg(long)]
    require_targeting_key: bool,
    /// The largest request body accepted.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 10, value_parser = clap::value_parser!(u64).range(1..=MAX_BODY))]
    max_body_bytes: u64,
    /// How long a request's body may take to arrive.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    body_timeout_ms: u64,
    /// How long a request's headers may take to arrive; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    header_timeout_ms: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// At SIGINT or SIGTERM, how long requests in progress may take to finish.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=MAX_MS))]
    shutdown_grace_ms: u64,
    /// How often the published pointer is read for a new bundle (SIGHUP reads it at once).
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=MAX_MS))]
    poll_ms: u64,
    /// Worker threads. Default: one per core.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    threads: u16,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let poll = Duration::from_millis(args.poll_ms);
    let watcher = Watcher::open(&args.publish_dir, &args.env, watch::Options { interval: poll })
        .map_err(|e| {
            let hint = format!(
                "publish the environment first: `flagstone publish --bundles OUT --publish-dir {} --env {}`",
                args.publish_dir.display(),
                args.env
            );
            hinted(e, hint)
        })?;
    let watcher = Arc::new(watcher);
    let recorder = match &args.exposures {
        Some(dir) => Some(Recorder::to_files(
            Files::new(dir),
            exposure::Config::default(),
        )?),
        None => None,
    };
    let mut config = Config::new(args.listen);
    config.tokens = match &args.token_file {
        Some(path) => read_tokens(path)?,
        None => Vec::new(),
    };
    config.max_body_bytes = usize::try_from(args.max_body_bytes)?;
    config.body_timeout = Duration::from_millis(args.body_timeout_ms);
    config.header_timeout = Duration::from_millis(args.header_timeout_ms);
    config.max_connections = usize::try_from(args.max_connections)?;
    config.shutdown_grace = Duration::from_millis(args.shutdown_grace_ms);
    config.threads = usize::from(args.threads);
    config.ofrep.require_targeting_key = args.require_targeting_key;
    config.cors_origins = args.cors_origin;
    let server = Server::bind(Arc::clone(&watcher), recorder, config)?;
    let serving = watcher.status().serving;
    writeln!(
        out,
        "serving `{}` (bundle {}) on http://{}",
        args.env,
        serving.hash,
        server.local_addr()
    )?;
    out.flush()?;

    let (done, finished) = mpsc::channel::<()>();
    let reporter = std::thread::spawn(move || report_reloads(&watcher, poll, &finished));
    let report = server.run();
    drop(done);
    let _ = reporter.join();

    write!(out, "stopped after {} requests", report.requests)?;
    if report.cut > 0 {
        write!(out, "; {} connections cut at the deadline", report.cut)?;
    }
    if let Some(stats) = report.exposures {
        write!(
            out,
            "; exposures: {} recorded, {} written, {} dropped, {} failed to write",
            stats.recorded, stats.written, stats.dropped, stats.write_errors
        )?;
    }
    writeln!(out)?;
    Ok(Exit::Success)
}

/// Prints each bundle swapped in and each one refused, until `finished` closes.
fn report_reloads(watcher: &Watcher, poll: Duration, finished: &mpsc::Receiver<()>) {
    let mut last = watcher.status();
    let mut last_error = None::<String>;
    while let Err(RecvTimeoutError::Timeout) =
        finished.recv_timeout(poll.max(Duration::from_millis(50)))
    {
        let status = watcher.status();
        if status.serving.hash != last.serving.hash {
            eprintln!("now serving bundle {}", status.serving.hash);
        }
        let error = status.error.as_ref().map(ToString::to_string);
        if error != last_error
            && let Some(error) = &error
        {
            eprintln!("not serving the bundle just published: {error}");
        }
        last_error = error;
        last = status;
    }
}

/// The tokens a file lists, one per line.
fn read_tokens(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err(format!("{} lists no token", path.display()).into());
    }
    Ok(tokens)
}
