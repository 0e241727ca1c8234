//! `flagstone stale`: flags past their expiry date or their kind's lifetime, and flags
//! that serve one variant to everyone in every environment, with since when, from git history;
//! and experiments decided or past their end whose flag still splits units.
//!
//! Exit status: 0 (stale flags are information), or 1 with `--fail-on-stale` when there are
//! some; 1 when the repository has errors; 2 on usage or I/O errors.

use std::io::Write;

use super::render::{human, markdown};
use super::{Error, Exit, Format, RepoArgs, checked, formats};

/// List stale flags: expired, over their kind's lifetime, fully launched or dead.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
    /// Exit with status 1 when some flag is stale, or some experiment decided or past its end
    /// still splits.
    #[arg(long)]
    fail_on_stale: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let now = args.repo.now_millis()?;
    let dir = args.repo.dir();
    let repo = crate::load::load(dir)?;
    let mut report = crate::check::check(&repo, &crate::check::Options { now_millis: now });
    // Expired flags are what this command reports: once is enough.
    report
        .diagnostics
        .retain(|d| d.code != crate::diag::Code::Expired);
    let Some(checked) = checked(&report, dir, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    // Reading history reads many objects: trust the object store, as git does.
    crate::git::trust_object_store();
    let stale = crate::stale::stale(checked, dir, now)?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &stale)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => human::stale(out, &stale)?,
        Format::Markdown => markdown::stale(out, &stale)?,
    }
    std::mem::forget(repo);
    let found = !stale.flags.is_empty() || !stale.experiments.is_empty();
    Ok(if args.fail_on_stale && found {
        Exit::Failure
    } else {
        Exit::Success
    })
}
