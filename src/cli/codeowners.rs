//! `flagstone codeowners [--file PATH] [--check]`: write, or verify, the CODEOWNERS block
//! made from flag owners and teams.
//!
//! Exit status: 0 written or up to date, 1 out of date (`--check`) or the repository has
//! errors, 2 error.

use std::io::Write;
use std::path::PathBuf;

use crate::codeowners;

use super::{DirArg, Error, Exit, Format, checked, write_atomic};

/// Write the CODEOWNERS block for flag owners and teams, or check that it is up to date.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dir: DirArg,
    /// The CODEOWNERS file. Default: .github/CODEOWNERS at the root of the git repository
    /// holding the flags repository (the flags repository itself outside git).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Change nothing; exit 1 and show the difference when the block is out of date.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let dir = args.dir.path();
    let repo = crate::load::load(dir)?;
    // Owners only make sense for a repository whose teams and flags check.
    let options = crate::check::Options {
        now_millis: i64::MIN,
    };
    let report = crate::check::check(&repo, &options);
    if checked(&report, dir, Format::Human, out)?.is_none() {
        return Ok(Exit::Failure);
    }
    let (root, prefix) = codeowners::root_and_prefix(dir)?;
    let file = args
        .file
        .unwrap_or_else(|| root.join(".github").join("CODEOWNERS"));
    let existing = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display()).into()),
    };
    let block = codeowners::block(&repo, &prefix);
    let updated =
        codeowners::splice(&existing, &block).map_err(|e| format!("{}: {e}", file.display()))?;
    if updated == existing {
        writeln!(out, "{} is up to date", file.display())?;
        return Ok(Exit::Success);
    }
    if args.check {
        let diff = similar::TextDiff::from_lines(&existing, &updated);
        write!(
            out,
            "{}",
            diff.unified_diff()
                .header(&file.display().to_string(), "expected")
        )?;
        writeln!(
            out,
            "{} is out of date: run `flagstone codeowners`",
            file.display()
        )?;
        return Ok(Exit::Failure);
    }
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    write_atomic(&file, updated.as_bytes())?;
    writeln!(out, "wrote {}", file.display())?;
    Ok(Exit::Success)
}
