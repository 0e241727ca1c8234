//! `flagstone publish --bundles OUT --publish-dir DIR` (or `--publish-url
//! s3://BUCKET/PREFIX`): copy built bundles into a directory that applications watch, or into
//! object storage, move each environment's pointer atomically, and log the publish.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::publish::PublishError;
use crate::s3::{Client, Location, S3Error};

use super::{Error, Exit, NowArg, hinted};

/// A publishing error, with the advice that names commands and options.
pub(super) fn error(e: PublishError) -> Error {
    match e {
        PublishError::Manifest { ref path, .. } => {
            let out = path.parent().unwrap_or(path).display().to_string();
            hinted(e, format!("run `flagstone build --out {out}` first"))
        }
        PublishError::Busy { .. } => hinted(e, "give it longer with --wait SECONDS"),
        PublishError::NoPruning(_) => hinted(
            e,
            "publish without --keep; delete unused bundles/ objects only while no publish runs",
        ),
        PublishError::Raced(_) => {
            hinted(e, "publish again: it starts from the pointer as it is now")
        }
        PublishError::Partly { ref error, .. } if matches!(**error, PublishError::Raced(_)) => {
            hinted(
                e,
                "publish again: it starts from the pointers as they are now",
            )
        }
        PublishError::S3(S3Error::MissingCredential(_)) => hinted(
            e,
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)",
        ),
        PublishError::S3(S3Error::Timeout { .. }) => {
            hinted(e, "give each request longer with --timeout SECONDS")
        }
        PublishError::Pruned { ref pointer, .. } => {
            let hint = format!(
                "to evaluate it, build that commit and copy its {}.json there",
                pointer.hash
            );
            hinted(format!("{e} by `publish --keep`"), hint)
        }
        e => e.into(),
    }
}

/// Publish built bundles: content-addressed copies, an atomic pointer per environment, and
/// an append-only log, in a directory or in S3 object storage (see docs/publishing.md).
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("target").required(true))]
pub struct Args {
    /// The directory `flagstone build --out` wrote (with manifest.json).
    #[arg(long, value_name = "DIR")]
    bundles: PathBuf,
    /// The published directory applications read (created if missing).
    #[arg(long, value_name = "DIR", group = "target")]
    publish_dir: Option<PathBuf>,
    /// Publish to object storage instead: s3://BUCKET[/PREFIX] in S3 or an S3-compatible
    /// store, with credentials, region and endpoint from the AWS_* environment variables
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
    /// AWS_ENDPOINT_URL_S3).
    #[arg(long, value_name = "s3://BUCKET/PREFIX", group = "target")]
    publish_url: Option<String>,
    /// Publish only this environment (repeatable). Default: every environment built.
    #[arg(long)]
    env: Vec<String>,
    /// Afterwards, keep only the bundles of each environment's N most recent publishes (and
    /// every current one); delete the rest.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    keep: Option<u64>,
    /// While another publish to the same directory runs, wait up to this many seconds for it
    /// to finish, then give up.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    wait: u64,
    /// With --publish-url, give up on any one request after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The publish time recorded in publish.log.
    #[command(flatten)]
    now: NowArg,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let options = crate::publish::Options {
        environments: args.env,
        keep: args.keep.map(usize::try_from).transpose()?,
        now_millis: args.now.millis()?,
        wait: Duration::from_secs(args.wait),
        waiting: Some(|lock| {
            eprintln!(
                "waiting for another publish to finish (it holds {})",
                lock.display()
            );
        }),
    };
    let report = match (args.publish_url, args.publish_dir) {
        (Some(url), _) => {
            let location = Location::parse(&url)?;
            let client = Client::from_env(&location, Duration::from_secs(args.timeout))
                .map_err(|e| error(e.into()))?;
            crate::publish::publish_to_bucket(&args.bundles, &client, &location, &options)
        }
        // clap requires one of the two.
        (None, dir) => crate::publish::publish(&args.bundles, &dir.unwrap_or_default(), &options),
    }
    .map_err(error)?;
    for file in &report.removed {
        writeln!(
            out,
            "{:<14} {file}  (left by an interrupted publish)",
            "removed"
        )?;
    }
    for published in &report.environments {
        let what = if published.changed {
            "published"
        } else {
            "unchanged"
        };
        writeln!(
            out,
            "{:<14} {}  {what}",
            published.environment, published.hash
        )?;
    }
    for hash in &report.pruned {
        writeln!(out, "{:<14} {hash}", "pruned")?;
    }
    Ok(Exit::Success)
}
