//! `flagstone export --format flagd --out OUTDIR [--env ENV]...`: each environment as an
//! OpenFeature flagd flag-definition file, `OUTDIR/<env>.flagd.json`. A flag that flagd cannot
//! evaluate exactly as flagstone does is refused, and then nothing is written, unless
//! `--skip-unexportable` leaves it out.

use std::io::Write;
use std::path::PathBuf;

use super::{DenyArgs, Error, Exit, Format, RepoArgs, checked, hinted};

/// The formats `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// OpenFeature flagd's flag-definition JSON (https://flagd.dev/schema/v0/flags.json).
    Flagd,
}

/// Export each environment's flags to another flag system's format.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    deny: DenyArgs,
    /// The format to write.
    #[arg(long)]
    format: ExportFormat,
    /// An environment to export (repeatable). Default: every environment.
    #[arg(long = "env", value_name = "ENV")]
    environments: Vec<String>,
    /// The directory to write `<env>.flagd.json` files to (created if missing).
    #[arg(long, value_name = "OUTDIR")]
    out: PathBuf,
    /// Export the flags that can be exported and list the others, instead of writing nothing.
    #[arg(long)]
    skip_unexportable: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let ExportFormat::Flagd = args.format;
    let dir = args.repo.dir();
    let repo = crate::load::load_lean(dir)?;
    let report = args.deny.check(&repo, &args.repo.options()?);
    let Some(checked) = checked(&report, dir, Format::Human, out)? else {
        return Ok(Exit::Failure);
    };
    let export = crate::export::flagd(checked, &args.environments).map_err(|e| match e {
        crate::export::ExportError::UnknownEnvironment { .. } => hinted(
            e,
            "name one of the project's environments with --env, or none for all",
        ),
        e => e.into(),
    })?;
    if !export.refusals.is_empty() && !args.skip_unexportable {
        for refusal in &export.refusals {
            writeln!(out, "error: {refusal}")?;
        }
        writeln!(
            out,
            "{} refused (a flag in an environment): nothing written (--skip-unexportable writes the other flags)",
            export.refusals.len()
        )?;
        return Ok(Exit::Failure);
    }
    let paths = crate::export::write(&args.out, &export.files)?;
    for (file, path) in export.files.iter().zip(&paths) {
        let skipped = export
            .refusals
            .iter()
            .filter(|r| r.environment == file.environment)
            .count();
        write!(out, "{:<14} {} flags", file.environment, file.flags)?;
        if skipped > 0 {
            write!(out, ", {skipped} skipped")?;
        }
        writeln!(out, "  wrote {}", path.display())?;
    }
    for refusal in &export.refusals {
        writeln!(out, "skipped: {refusal}")?;
    }
    std::mem::forget(repo);
    Ok(Exit::Success)
}
