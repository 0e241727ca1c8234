//! `flagstone check`: validate a flags repository and report every finding.

use std::io::Write;

use super::{DenyArgs, Error, Exit, Format, RepoArgs, formats, render};

/// Validate a flags repository and report every problem found.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    deny: DenyArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown, Format::Github]))]
    format: Format,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let options = args.repo.options()?;
    // Findings about the checkout (attributes, submodules, links) come with the loader's.
    // Texts are read again only for files with findings, to render them.
    let mut repo = crate::load::load_lean(args.repo.dir())?;
    repo.diagnostics
        .extend(crate::provenance::worktree(args.repo.dir()));
    let diagnostics = args.deny.check(&repo, &options).diagnostics;
    render::diagnostics(out, args.format, args.repo.dir(), &repo, &diagnostics)?;
    let failed = diagnostics.iter().any(|d| d.is_error());
    // The process ends next: freeing a large repository's model one value at a time would
    // only delay the exit.
    std::mem::forget(repo);
    Ok(if failed { Exit::Failure } else { Exit::Success })
}
