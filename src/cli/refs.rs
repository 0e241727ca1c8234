//! `flagstone refs --code PATH...`: flag references in source code. Reports references
//! to undefined and removed flags (errors), to expired flags, and flags no code references
//! (warnings). See docs/refs.md.
//!
//! Exit status: 0 no errors, 1 errors found, 2 usage or I/O error.

use std::io::Write;
use std::path::PathBuf;

use crate::model::AliasStyle;

use super::render::{github, human, markdown};
use super::{Error, Exit, Format, RepoArgs, formats};

/// Find flag references in source code: undefined, removed and expired flags, and unused ones.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// Files and directories to scan. .gitignore and .ignore rules apply, and hidden files are
    /// skipped.
    #[arg(long, required = true, num_args = 1..)]
    code: Vec<PathBuf>,
    /// A string that encloses flag keys, on both sides; repeat for several. Replaces
    /// `[refs] delimiters`.
    #[arg(long = "delimiter")]
    delimiters: Vec<String>,
    /// An alias style to search for: camelCase, PascalCase, snake_case, SCREAMING_SNAKE_CASE,
    /// kebab-case, or none; repeat for several. Replaces `[refs] aliases`.
    #[arg(long = "alias", value_parser = parse_alias)]
    aliases: Vec<Option<AliasStyle>>,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = formats(&[Format::Human, Format::Json, Format::Markdown, Format::Github]))]
    format: Format,
}

fn parse_alias(s: &str) -> Result<Option<AliasStyle>, String> {
    if s == "none" {
        return Ok(None);
    }
    AliasStyle::ALL
        .into_iter()
        .find(|style| style.name() == s)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = AliasStyle::ALL.iter().map(|s| s.name()).collect();
            format!("`{s}` is not an alias style: {}, or none", names.join(", "))
        })
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<Exit, Error> {
    let dir = args.repo.dir();
    let repo = crate::load::load(dir)?;
    let config = match &repo.project {
        Some(loaded) => match &loaded.doc {
            Some(project) => project.refs.as_ref(),
            None => {
                let path = dir.join(crate::load::PROJECT_FILE);
                return Err(format!("{} has errors: run `flagstone check`", path.display()).into());
            }
        },
        None => None,
    };
    let mut options = crate::refs::Options::new(config, args.repo.now_millis()?);
    if !args.delimiters.is_empty() {
        options.delimiters = args.delimiters;
    }
    if !args.aliases.is_empty() {
        options.aliases = args.aliases.into_iter().flatten().collect();
    }
    let report = crate::refs::scan(&repo, dir, &args.code, &options)?;
    match args.format {
        Format::Human => human::refs(out, &report, dir)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Markdown => markdown::refs(out, &report, dir)?,
        Format::Github => {
            github::refs(out, &report)?;
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let mut summary = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)?;
                markdown::refs(&mut summary, &report, dir)?;
            }
        }
    }
    Ok(if report.errors() > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}
