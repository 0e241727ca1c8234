//! `flagstone diff [--base REV] [--head REV]`: what a change does, flag by flag and
//! environment by environment, with its blast radius. Both sides are read from git objects
//! (the head defaults to the work tree).

use std::io::Write;

use crate::compare::{Compared, Comparison, Revisions};

use super::render::{human, markdown};
use super::{Error, Exit, Format, GithubOutput, RepoArgs, findings, formats};

/// Show the semantic changes between two revisions of a flags repository.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// The base revision.
    #[arg(long, default_value = "HEAD")]
    base: String,
    /// The head revision. Default: the work tree as it is.
    #[arg(long)]
    head: Option<String>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown]))]
    format: Format,
    /// Outputs: changed-flags (a JSON array of the keys of the flags the change adds,
    /// removes or changes).
    #[command(flatten)]
    github_output: GithubOutput,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let now = args.repo.now_millis()?;
    let revisions = Revisions {
        dir: args.repo.dir(),
        base: &args.base,
        head: args.head.as_deref(),
    };
    let Some(compared) = compared(&revisions, now, args.format, out)? else {
        return Ok(Exit::Failure);
    };
    let changed: Vec<&str> = compared
        .diff
        .flags
        .iter()
        .map(|f| f.flag.as_str())
        .collect();
    args.github_output
        .write(&[("changed-flags", serde_json::to_string(&changed)?)])?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &compared.diff)?;
            writeln!(out)?;
        }
        Format::Human | Format::Github => human::diff(out, &compared.diff)?,
        Format::Markdown => markdown::diff(out, &compared.diff)?,
    }
    // The process ends next: freeing both versions value by value would only delay it.
    std::mem::forget(compared);
    Ok(Exit::Success)
}

/// Compares two versions, rendering the findings of their checks: `None` when the head has
/// errors or the change touches expired flags, after rendering them in `format`; errors in
/// the base are an error: there is nothing to compare with.
pub(super) fn compared(
    revisions: &Revisions<'_>,
    now: i64,
    format: Format,
    out: &mut dyn Write,
) -> Result<Option<Compared>, Error> {
    let dir = revisions.dir;
    match crate::compare::compare(revisions, now)? {
        Comparison::Compared(compared) => {
            findings(
                &compared.base.repo,
                &compared.base.diagnostics,
                dir,
                format,
                out,
            )?;
            findings(
                &compared.head.repo,
                &compared.head.diagnostics,
                dir,
                format,
                out,
            )?;
            Ok(Some(compared))
        }
        Comparison::BaseErrors(base) => {
            findings(&base.repo, &base.diagnostics, dir, format, out)?;
            let base = revisions.base;
            Err(format!("the base revision `{base}` has errors (above)").into())
        }
        Comparison::HeadErrors { base, head } => {
            findings(&base.repo, &base.diagnostics, dir, format, out)?;
            findings(&head.repo, &head.diagnostics, dir, format, out)?;
            Ok(None)
        }
        Comparison::TouchesExpired {
            base,
            head,
            expired,
        } => {
            findings(&base.repo, &base.diagnostics, dir, format, out)?;
            findings(&head.repo, &head.diagnostics, dir, format, out)?;
            super::render::diagnostics(out, format, dir, &head.repo, &expired)?;
            Ok(None)
        }
    }
}
