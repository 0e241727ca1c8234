//! `flagstone check [DIR]`: validate a flags repository and report every finding.

use std::io::Write;
use std::path::PathBuf;

use crate::check::Options;
use crate::literal::{parse_date, parse_timestamp};

use super::{Error, Format, Outcome, render};

/// Validate a flags repository and report every problem found.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The flags repository (the directory holding flagstone.toml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// The current time, for expiry and schedule checks: an RFC 3339 date-time or a date.
    /// Default: the system clock.
    #[arg(long, value_parser = parse_now)]
    now: Option<i64>,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let now_millis = match args.now {
        Some(now) => now,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
            .try_into()?,
    };
    let options = Options { now_millis };
    let repo = crate::load::load(&args.dir)?;

    let diagnostics = crate::check::check(&repo, &options);
    render::diagnostics(out, args.format, &args.dir, &repo, &diagnostics)?;
    let failed = diagnostics.iter().any(|d| d.is_error());
    // The process ends next: freeing a large repository's model one value at a time would
    // only delay the exit.
    std::mem::forget(repo);
    Ok(if failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// Parses `--now`: an RFC 3339 date-time, or a date meaning its midnight UTC.
fn parse_now(s: &str) -> Result<i64, String> {
    parse_timestamp(s)
        .or_else(|| parse_date(s).map(|days| days * 86_400_000))
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 date-time or a YYYY-MM-DD date"))
}
